//! CD503 `async-result-passed-as-argument`: the value of `.delay()`/`.apply_async()` handed to
//! another dispatch, where it cannot be encoded or can only be used by blocking on it.

use crate::lint::model::facts::{CANVAS_TARGET, ValueKind};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, call) in project.calls() {
        if call.target == CANVAS_TARGET {
            continue;
        }
        // Only dispatches of project tasks: `x.delay()` of an unknown object proves nothing.
        let Some(ti) = project.task_for_call(call) else {
            continue;
        };
        let task = &project.tasks[ti];
        let def = project.def(task);
        let name = project.task_label(task);
        for arg in &call.arg_kinds {
            if arg.kind != ValueKind::AsyncResult {
                continue;
            }
            let related = cx.related(
                task.module,
                def.def_span,
                format!("`{}` is defined here", def.func_name),
            );
            cx.report(m, arg.span, &[("arg", &arg.text), ("task", &name)])
                .with_task(task.name.as_deref())
                .with_related(related);
        }
    }
}
