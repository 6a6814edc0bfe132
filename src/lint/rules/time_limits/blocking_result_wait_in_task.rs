//! CD204 `blocking-result-wait-in-task`: a task waiting for another task's result holds a worker
//! slot the other task may need (and Celery raises `RuntimeError` under most pools).

use crate::lint::model::Project;
use crate::lint::model::facts::{Producer, ResultWait};
use crate::lint::rules::RuleCx;

fn is_result(project: &Project, wait: &ResultWait) -> bool {
    match &wait.producer {
        Producer::Dispatch(target) => project.task_by_qualname(target).is_some(),
        Producer::AsyncResult | Producer::Canvas => true,
    }
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in project.production_tasks() {
        let def = project.def(task);
        let name = project.task_label(task);
        for wait in def.body.waits.iter().filter(|w| is_result(project, w)) {
            cx.report(
                task.module,
                wait.span,
                &[("task", &name), ("method", &wait.method)],
            )
            .with_task(task.name.as_deref());
        }
        for (callee, _) in &def.body.calls {
            let Some((fm, function)) = project.function(callee) else {
                continue;
            };
            for wait in function.body.waits.iter().filter(|w| is_result(project, w)) {
                cx.report(fm, wait.span, &[("task", &name), ("method", &wait.method)])
                    .with_task(task.name.as_deref())
                    .with_anchor(format!("{}|{}", function.qualname, wait.method));
            }
        }
    }
}
