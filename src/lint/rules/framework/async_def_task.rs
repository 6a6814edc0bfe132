//! CD001 `async-def-task`: Celery 5 never awaits a coroutine task, so its body never runs.

use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in &project.tasks {
        let def = project.def(task);
        if def.is_async {
            let name = task.name.clone().unwrap_or_else(|| def.func_name.clone());
            cx.report(task.module, def.def_span, &[("task", &name)]).with_task(task.name.as_deref());
        }
    }
}
