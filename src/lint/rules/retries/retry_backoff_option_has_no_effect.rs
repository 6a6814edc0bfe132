//! CD405 `retry-backoff-option-has-no-effect`: backoff options that Celery silently ignores or
//! caps, so the retries do not follow the schedule the code describes.
//!
//! ## What it does
//! Reports, for options written on the task decorator: `retry_backoff`, `retry_backoff_max` or
//! `retry_jitter` on a task without `autoretry_for` (only the autoretry wrapper reads them); a
//! numeric `retry_backoff` factor not below the effective `retry_backoff_max` (600 s by default);
//! and `retry_backoff_max` without a truthy `retry_backoff`.
//!
//! ## Why is this bad?
//! Manual `self.retry()` waits `default_retry_delay`; a capped factor makes every delay the cap
//! (then jittered down to a random value below it).
//!
//! ## Known false positives
//! A base class that overrides `retry()`, or a task body that reads `self.retry_backoff`,
//! uses the option itself: case 1 is not reported. Unknown values and bases never fire.

use crate::lint::model::Task;
use crate::lint::model::facts::{TaskDef, Value};
use crate::lint::rules::RuleCx;

const BACKOFF_OPTIONS: &[&str] = &["retry_backoff", "retry_backoff_max", "retry_jitter"];

/// Celery's default `retry_backoff_max` (`celery/app/autoretry.py`).
const DEFAULT_BACKOFF_MAX: i64 = 600;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in &project.tasks {
        let def = project.def(task);
        if project.base_unknown(def) {
            continue;
        }
        let autoretry = project
            .task_option(def, "autoretry_for")
            .map(|v| project.resolve_value(&v));
        match autoretry.as_ref().map(Value::truthy) {
            // Not set, or set to an empty tuple: no autoretry wrapper.
            None | Some(Some(false)) => no_autoretry(cx, task, def),
            Some(Some(true)) => with_autoretry(cx, task, def),
            Some(None) => {}
        }
    }
}

/// Case 1: the options are only read by the autoretry wrapper.
fn no_autoretry(cx: &mut RuleCx<'_>, task: &Task, def: &TaskDef) {
    let project = cx.project;
    if def.body.reads_retry_options || project.base_overrides(def, &["retry"]) {
        return;
    }
    for option in BACKOFF_OPTIONS {
        let (Some(v), Some(span)) = (def.option(option), def.option_span(option)) else {
            continue;
        };
        let shown = format!("{option}={}", project.resolve_value(v).display());
        let name = project.task_label(task);
        cx.report_variant(
            task.module,
            span,
            Some("no_autoretry"),
            &[("option", &shown), ("task", &name)],
        )
        .with_task(task.name.as_deref())
        .with_anchor(format!("{}|{option}", def.qualname));
    }
}

/// Cases 2 and 3: a factor that the cap swallows, or a cap without backoff.
fn with_autoretry(cx: &mut RuleCx<'_>, task: &Task, def: &TaskDef) {
    let project = cx.project;
    let backoff = project
        .task_option(def, "retry_backoff")
        .map(|v| project.resolve_value(&v));
    let max = match project.task_option(def, "retry_backoff_max") {
        None => Some(DEFAULT_BACKOFF_MAX),
        Some(v) => match project.resolve_value(&v) {
            Value::Int(i) => Some(i),
            Value::Float(f) => Some(f as i64),
            _ => None,
        },
    };
    let name = project.task_label(task);
    // Case 2: `retry_backoff=3600` with the default cap of 600 s.
    if let (Some(Value::Int(factor)), Some(max), Some(span)) = (
        backoff.as_ref(),
        max,
        def.option_span("retry_backoff")
            .or_else(|| def.option_span("retry_backoff_max")),
    ) && *factor >= max
        && *factor > 1
    {
        let cap = if project.task_option(def, "retry_backoff_max").is_some() {
            format!("`retry_backoff_max={max}`")
        } else {
            format!("the default `retry_backoff_max` of {max} s")
        };
        cx.report_variant(
            task.module,
            span,
            Some("capped"),
            &[
                ("task", &name),
                ("factor", &factor.to_string()),
                ("cap", &cap),
            ],
        )
        .with_task(task.name.as_deref())
        .with_anchor(format!("{}|retry_backoff", def.qualname));
        return;
    }
    // Case 3: a cap on a backoff that is off.
    if let Some(span) = def.option_span("retry_backoff_max") {
        let off = match &backoff {
            None => true,
            Some(v) => v.truthy() == Some(false),
        };
        if off {
            cx.report(task.module, span, &[("task", &name)])
                .with_task(task.name.as_deref())
                .with_anchor(format!("{}|retry_backoff_max", def.qualname));
        }
    }
}
