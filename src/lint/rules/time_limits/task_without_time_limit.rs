//! CD201 `task-without-time-limit`: no effective hard time limit, so one hung call occupies a
//! worker slot forever.

use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    if project.is_set("task_time_limit")
        || project.workers_all_time_limited()
        || project.config_unresolved
    {
        // A global limit (literal or env-derived) bounds every task without its own limit.
        return;
    }
    let mut unbounded = Vec::new();
    for task in project.production_tasks() {
        let def = project.def(task);
        if project
            .effective_time_limit(def, "time_limit", "task_time_limit")
            .is_none()
        {
            unbounded.push(task);
        }
    }
    let threshold = cx.options.time_limit_aggregate_threshold;
    if unbounded.len() > threshold {
        let names: Vec<String> = unbounded
            .iter()
            .take(3)
            .map(|t| {
                format!(
                    "`{}`",
                    t.name
                        .clone()
                        .unwrap_or_else(|| project.def(t).func_name.clone())
                )
            })
            .collect();
        // One finding at the app (or, without an app in view, at the first task).
        let (module, span) = match project.apps.first() {
            Some((m, app)) => (*m, app.span),
            None => (unbounded[0].module, project.def(unbounded[0]).def_span),
        };
        let count = unbounded.len().to_string();
        cx.report_variant(
            module,
            span,
            Some("aggregate"),
            &[("count", &count), ("examples", &names.join(", "))],
        )
        .with_anchor("aggregate");
        return;
    }
    for task in unbounded {
        let def = project.def(task);
        let name = project.task_label(task);
        cx.report(task.module, def.def_span, &[("task", &name)])
            .with_task(task.name.as_deref());
    }
}
