//! CD303 `result-read-from-task-that-ignores-results`: reading the state of a result that is
//! never written: it stays `PENDING`, `.get()` blocks forever.

use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, call) in project.calls() {
        if call.result_reads.is_empty() || !call.kind.publishes() {
            continue;
        }
        let Some(ti) = project.task_for_call(call) else {
            continue;
        };
        let task = &project.tasks[ti];
        let def = project.def(task);
        if project.task_ignores_result(def) != Some(true) {
            continue;
        }
        let overridden = call
            .call_keywords
            .iter()
            .any(|(k, v, _)| k == "ignore_result" && v.truthy() != Some(true));
        if overridden {
            continue;
        }
        let name = project.task_label(task);
        for (access, span) in &call.result_reads {
            let related = cx.related(
                task.module,
                def.def_span,
                format!("`{}` ignores its results", def.func_name),
            );
            cx.report(m, *span, &[("task", &name), ("access", access)])
                .with_task(task.name.as_deref())
                .with_related(related);
        }
    }
}
