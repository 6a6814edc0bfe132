//! CD105 `mutable-default-in-task-signature`: a mutable default that the body mutates, returns
//! or passes on leaks state between executions in one worker process.

use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in &project.tasks {
        let def = project.def(task);
        let name = project.task_label(task);
        for m in &def.mutable_defaults {
            cx.report(task.module, m.span, &[("task", &name), ("param", &m.param)])
                .with_task(task.name.as_deref());
        }
    }
}
