//! CD101 `acks-late-without-idempotency-guard`: a late-acked task with a side effect that is
//! harmful when the message is redelivered, and no recognised guard before it.

use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    let global_late =
        matches!(project.setting_value("task_acks_late"), Some((v, _)) if v.truthy() == Some(true));
    for task in project.production_tasks() {
        let def = project.def(task);
        let late = match project.task_option(def, "acks_late") {
            Some(v) => project.resolve_value(&v).truthy() == Some(true),
            None => global_late && !project.base_unknown(def),
        };
        // A base class wrapping `__call__`/`apply_async` is assumed to implement a guard.
        if !late || project.base_overrides(def, &["__call__", "apply_async", "delay", "run"]) {
            continue;
        }
        let name = project.task_label(task);
        for effect in def.body.side_effects.iter().filter(|e| !e.guarded) {
            cx.report(
                task.module,
                effect.span,
                &[("task", &name), ("effect", &effect.desc)],
            )
            .with_task(task.name.as_deref());
        }
    }
}
