//! CD301 `result-stored-but-never-read`: every dispatch drops the `AsyncResult`, yet each run
//! writes a result to the backend.

use crate::finding::Severity;
use crate::lint::fix::{self, Fix};
use crate::lint::model::facts::{DispatchKind, ResultUse, TaskDecoratorKind, Value};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    if !project.has_result_backend()
        || project.ignores_results_globally()
        || project.config_unresolved
    {
        return;
    }
    // Results kept on purpose for humans (admin, Flower): report as info.
    let extended = matches!(project.setting_value("result_extended"), Some((v, _)) if v.truthy() == Some(true))
        || project
            .setting("result_backend")
            .any(|e| matches!(&e.value, Value::Str(s) if s == "django-db" || s == "django-cache"));
    let mut sites: Vec<Vec<(usize, &crate::lint::model::facts::CallSite)>> =
        vec![Vec::new(); project.tasks.len()];
    for (m, call) in project.calls() {
        if let Some(t) = project.task_for_call(call) {
            sites[t].push((m, call));
        }
    }
    // Beat entries dispatch by name and never read results.
    let mut by_beat = vec![false; project.tasks.len()];
    for name in project.beat_task_names() {
        for &t in project.tasks_named(&name) {
            by_beat[t] = true;
        }
    }
    for (i, task) in project.tasks.iter().enumerate() {
        let def = project.def(task);
        if project.modules[task.module].is_test || (sites[i].is_empty() && !by_beat[i]) {
            continue;
        }
        if project.task_ignores_result(def) != Some(false)
            || def.body.calls_update_state
            || project.referenced_otherwise(i)
        {
            continue;
        }
        let all_discarded = sites[i].iter().all(|(_, c)| {
            (c.periodic
                && matches!(
                    c.kind,
                    DispatchKind::S | DispatchKind::Si | DispatchKind::Signature
                ))
                || c.result_use == ResultUse::Discarded
                    && matches!(
                        c.kind,
                        DispatchKind::Delay | DispatchKind::ApplyAsync | DispatchKind::SendTask
                    )
                    && !c
                        .call_keywords
                        .iter()
                        .any(|(k, _, _)| k == "link" || k == "link_error")
        });
        if !all_discarded {
            continue;
        }
        let name = project.task_label(task);
        let related: Vec<_> = sites[i]
            .iter()
            .take(5)
            .map(|(m, c)| cx.related(*m, c.span, "the result is discarded here"))
            .collect();
        // Unsafe: results might be read from outside the repository.
        let edit = (def.kind != TaskDecoratorKind::Class)
            .then(|| {
                let text = project.file(task.module).text();
                fix::set_keyword(text, def.decorator_span, "ignore_result", "True")
            })
            .flatten();
        let f = cx
            .report(task.module, def.def_span, &[("task", &name)])
            .with_task(task.name.as_deref())
            .with_fix(edit.and_then(|e| Fix::unsafe_("Add `ignore_result=True`", [e])));
        if extended {
            f.with_severity(Severity::Info);
        }
        for r in related {
            f.with_related(r);
        }
    }
}
