//! CD205 `soft-time-limit-swallowed-in-loop`: a per-item `except Exception` inside a loop catches
//! `SoftTimeLimitExceeded` and moves on, so the soft limit never stops the task.
//!
//! ## What it does
//! Finds tasks with a soft time limit (task option, base class, annotations, global setting or
//! worker `--soft-time-limit`) whose body, or a project helper it calls directly, has a loop
//! containing a `try` whose first broad handler (`except Exception`, `except BaseException`,
//! bare `except`) neither re-raises, returns nor breaks, with no earlier
//! `except SoftTimeLimitExceeded` clause.
//!
//! ## Why is this bad?
//! `SoftTimeLimitExceeded` derives from `Exception`; the handler logs it and continues with
//! the next item until the hard limit kills the process without clean-up.
//!
//! ## Known false positives
//! Handlers that re-raise conditionally (`if isinstance(e, SoftTimeLimitExceeded): raise`)
//! suppress, and so do handlers that call `self.retry(...)` or `<task>.retry(...)`, which
//! always raises, or a project function whose body ends with `raise`. Tasks without a soft limit (or with an unknown one set to `None`) are out of scope.

use crate::lint::model::Project;
use crate::lint::model::facts::{LoopSwallow, TaskDef, Value};
use crate::lint::rules::RuleCx;

/// The task has a soft time limit (a known positive value, or one read from the environment).
fn has_soft_limit(project: &Project, def: &TaskDef) -> bool {
    let positive = |v: &Value| match project.resolve_value(v) {
        Value::Env { .. } => true,
        other => other.as_seconds().is_some_and(|s| s > 0.0),
    };
    if let Some(v) = project.task_option(def, "soft_time_limit") {
        return positive(&v);
    }
    if project.base_unknown(def) {
        return false;
    }
    if project.is_set("task_soft_time_limit") {
        return project
            .setting("task_soft_time_limit")
            .all(|e| positive(&e.value));
    }
    project
        .worker_commands
        .iter()
        .filter(|c| c.is_worker)
        .any(|c| c.soft_time_limit.is_some_and(|s| s > 0.0))
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in project.production_tasks() {
        let def = project.def(task);
        if def.body.loop_swallows.is_empty()
            && def
                .body
                .calls
                .iter()
                .all(|(c, _)| project.function(c).is_none())
        {
            continue;
        }
        if !has_soft_limit(project, def) {
            continue;
        }
        let name = project.task_label(task);
        for swallow in def
            .body
            .loop_swallows
            .iter()
            .filter(|s| !ends_loop(project, s))
        {
            let caught = display(&swallow.caught);
            cx.report(
                task.module,
                swallow.span,
                &[("task", &name), ("caught", &caught)],
            )
            .with_task(task.name.as_deref());
        }
        for (callee, _) in &def.body.calls {
            let Some((fm, function)) = project.function(callee) else {
                continue;
            };
            for swallow in function
                .body
                .loop_swallows
                .iter()
                .filter(|s| !ends_loop(project, s))
            {
                let caught = display(&swallow.caught);
                cx.report(fm, swallow.span, &[("task", &name), ("caught", &caught)])
                    .with_task(task.name.as_deref())
                    .with_anchor(format!("{}|{}", function.qualname, caught));
            }
        }
    }
}

/// The handler calls a project function that ends with `raise` (`fail(pk, exc)`).
fn ends_loop(project: &Project, swallow: &LoopSwallow) -> bool {
    swallow
        .handler_calls
        .iter()
        .any(|c| project.function(c).is_some_and(|(_, f)| f.always_raises))
}

fn display(caught: &str) -> String {
    if caught.is_empty() {
        "except:".to_string()
    } else {
        format!("except {caught}")
    }
}
