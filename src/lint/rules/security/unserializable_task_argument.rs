//! CD804 `unserializable-task-argument`: a dispatch argument the JSON message serializer cannot
//! encode (a file, a request, a set, a lambda, a plain project object…).

use crate::lint::model::facts::{CANVAS_TARGET, ValueKind};
use crate::lint::model::project::{ClassEncoding, Encoding};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, call) in project.calls() {
        if call.target == CANVAS_TARGET || call.arg_kinds.is_empty() {
            continue;
        }
        let Some(ti) = project.task_for_call(call) else {
            continue;
        };
        let task = &project.tasks[ti];
        let def = project.def(task);
        if project.message_encoding(Some(def), Some(call)) != Encoding::Json {
            continue;
        }
        let pydantic_task = project
            .task_option(def, "pydantic")
            .is_some_and(|v| project.resolve_value(&v).truthy() != Some(false));
        let name = project.task_label(task);
        for arg in &call.arg_kinds {
            let reported = match &arg.kind {
                // ORM objects are CD601's finding, results CD503's.
                ValueKind::AsyncResult | ValueKind::ModelInstance | ValueKind::QuerySet => false,
                // Inside a task, a parameter named `request` is whatever the message carried.
                ValueKind::Request => call.in_task.is_none(),
                ValueKind::Instance(q) => match project.class_encoding(q) {
                    Some(ClassEncoding::Plain) => true,
                    Some(ClassEncoding::Pydantic) => !pydantic_task,
                    None => false,
                },
                _ => true,
            };
            if !reported {
                continue;
            }
            let what = arg.kind.describe();
            let related = cx.related(
                task.module,
                def.def_span,
                format!("`{}` is defined here", def.func_name),
            );
            cx.report(
                m,
                arg.span,
                &[("arg", &arg.text), ("what", &what), ("task", &name)],
            )
            .with_task(task.name.as_deref())
            .with_related(related);
        }
    }
}
