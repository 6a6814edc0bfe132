//! CD304 `unserializable-task-return-value`: a task returns what the result serializer cannot
//! encode (an ORM object, a response, a file, a set…), or is a generator whose body never runs.

use crate::lint::model::facts::{DispatchKind, Feed, ValueKind};
use crate::lint::model::project::{ClassEncoding, Encoding};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    // Tasks whose return value becomes the next canvas member's argument.
    let mut chained = vec![false; project.tasks.len()];
    for module in &project.modules {
        for canvas in &module.facts.canvases {
            for member in canvas.members.iter().chain(&canvas.body) {
                if member.feeds == Feed::ParentResult
                    && let Some(ti) = project.task_by_qualname(&member.target)
                {
                    chained[ti] = true;
                }
            }
        }
    }
    // `apply_async(..., link=callback)`: the callback receives the return value.
    for (_, call) in project.calls() {
        if matches!(
            call.kind,
            DispatchKind::ApplyAsync | DispatchKind::ApplyAsyncOnCommit
        ) && call.call_keywords.iter().any(|(k, _, _)| k == "link")
            && let Some(ti) = project.task_for_call(call)
        {
            chained[ti] = true;
        }
    }
    for (ti, task) in project.tasks.iter().enumerate() {
        let def = project.def(task);
        // Decorators below the task decorator may wrap the function.
        if def.decorator_index + 1 != def.decorators.len() {
            continue;
        }
        let name = project.task_label(task);
        if def.body.has_yield && !def.is_async {
            cx.report_variant(
                task.module,
                def.def_span,
                Some("generator"),
                &[("task", &name)],
            )
            .with_task(task.name.as_deref());
            continue;
        }
        if def.returns.is_empty() {
            continue;
        }
        // Where the value is encoded: the result backend, and the next message of a chain.
        let stored =
            project.task_ignores_result(def) == Some(false) && project.has_result_backend();
        let mut encodings = Vec::new();
        if stored {
            encodings.push(("result_serializer", project.result_encoding()));
        }
        if chained[ti] {
            encodings.push(("task_serializer", project.message_encoding(None, None)));
        }
        let json = encodings.iter().find(|(_, e)| *e == Encoding::Json);
        let pickle = encodings.iter().find(|(_, e)| *e == Encoding::Pickle);
        for ret in &def.returns {
            let handle = matches!(
                ret.kind,
                ValueKind::OpenFile | ValueKind::Socket | ValueKind::Lock | ValueKind::Generator
            );
            let data = match &ret.kind {
                ValueKind::ModelInstance
                | ValueKind::QuerySet
                | ValueKind::HttpResponse
                | ValueKind::Set => true,
                ValueKind::Instance(q) => project.class_encoding(q) == Some(ClassEncoding::Plain),
                _ => false,
            };
            let serializer = match (json, pickle) {
                (Some((_, _)), _) if handle || data => "json",
                (_, Some(_)) if handle => "pickle",
                _ => continue,
            };
            let what = ret.kind.describe();
            cx.report(
                task.module,
                ret.span,
                &[("task", &name), ("what", &what), ("serializer", serializer)],
            )
            .with_task(task.name.as_deref())
            .with_anchor(format!("{name}|{}", ret.text));
        }
    }
}
