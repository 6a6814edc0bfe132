//! CD107 `execution-option-passed-to-delay`: `delay()`/`.s()` take task arguments only; an
//! option such as `countdown=` crashes the call or silently becomes task data.

use super::EXECUTION_OPTIONS;
use crate::lint::model::facts::DispatchKind;
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, call) in project.calls() {
        if !matches!(
            call.kind,
            DispatchKind::Delay | DispatchKind::S | DispatchKind::Si | DispatchKind::DelayOnCommit
        ) {
            continue;
        }
        let Some(kwargs) = &call.kwargs else { continue };
        let Some(ti) = project.task_for_call(call) else {
            continue;
        };
        let task = &project.tasks[ti];
        let def = project.def(task);
        if def.decorator_index + 1 != def.decorators.len() {
            continue;
        }
        for (kw, span) in kwargs {
            if !EXECUTION_OPTIONS.contains(&kw.as_str())
                || def.signature.params.iter().any(|p| p.name == *kw)
            {
                continue;
            }
            let consequence = if def.signature.varkw {
                "the task receives it in `**kwargs` and the option is not applied"
            } else {
                "Celery's argument check raises `TypeError` at this call"
            };
            let name = project.task_label(task);
            cx.report(
                m,
                *span,
                &[
                    ("method", call.kind.method()),
                    ("option", kw),
                    ("task", &name),
                    ("consequence", consequence),
                ],
            )
            .with_task(task.name.as_deref());
        }
    }
}
