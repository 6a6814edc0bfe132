//! CD602 `dispatch-inside-atomic-block`: a message published before the transaction commits;
//! the worker can run before the data exists, or after a rollback.

use crate::lint::model::facts::{CANVAS_TARGET, DispatchKind};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, call) in project.calls() {
        let Some(atomic) = &call.atomic else { continue };
        if project.modules[m].is_test || !call.kind.publishes() {
            continue;
        }
        let task = project.task_for_call(call).map(|t| &project.tasks[t]);
        match task {
            Some(t) => {
                // A base class that defers publishing (e.g. on commit) handles this.
                let def = project.def(t);
                if project.base_overrides(def, &["apply_async", "delay"])
                    || project.base_unknown(def)
                {
                    continue;
                }
            }
            // `.delay()` alone is not proof of Celery; `apply_async`/`send_task` are.
            None if call.kind == DispatchKind::Delay && call.target != CANVAS_TARGET => continue,
            None => {}
        }
        let text = format!("{}()", call.text);
        let fix = super::on_commit_fix(project, m, call);
        cx.report(m, call.span, &[("call", &text), ("atomic", atomic)])
            .with_task(task.and_then(|t| t.name.as_deref()))
            .with_fix(fix);
    }
}
