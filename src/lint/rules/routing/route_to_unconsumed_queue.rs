//! CD951 `route-to-unconsumed-queue`: work sent to a queue nothing will consume.
//!
//! ## What it does
//! Collects the queues named by `task_routes`, task `queue=` options, `apply_async(queue=...)`
//! / `send_task(queue=...)` calls and beat entries (`options.queue`), and reports:
//! 1. a queue missing from `task_queues` while `task_create_missing_queues=False` (error:
//!    publishing raises `QueueNotFound`);
//! 2. a queue missing from `task_queues` (when declared) and from every worker `-Q` list in
//!    the deployment files (warning);
//! 3. tasks without a route going to the default queue that no deployed worker consumes
//!    (warning).
//!
//! ## Why is this bad?
//! Celery creates missing queues on demand, so a message routed to a queue no worker listens
//! on is accepted and then waits forever: no error anywhere, the queue only grows.
//!
//! ## Known false positives
//! Cases 2 and 3 need every worker command line resolved: a `-Q $QUEUES`, pass-through
//! arguments (`celery -A app worker "$@"`), a Helm template or no worker command line in the
//! repository at all makes them silent. Routing computed by
//! router functions is unknown. Configuration the model cannot read (`config_from_envvar`,
//! `app.conf.update(variable)`) may declare queues or change the default: all cases silent.

use crate::finding::{Severity, Span};
use crate::lint::model::facts::Value;
use crate::lint::model::settings::distance;
use crate::lint::rules::RuleCx;

/// A place that sends work to a queue.
struct QueueUse {
    module: usize,
    span: Span,
    queue: String,
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    let uses = queue_uses(cx);
    let create_missing = match project.setting_value("task_create_missing_queues") {
        Some((v, _)) => v.truthy(),
        None if project.is_set("task_create_missing_queues") || project.config_unresolved => None,
        None => Some(true),
    };
    // With unknown configuration `task_queues` may be declared where the model cannot see.
    let declared_set = project.is_set("task_queues") || project.config_unresolved;
    let declared = project.task_queues();
    // The queues Celery knows about: `task_queues`, else only the default queue.
    let known: Option<Vec<String>> = if declared_set {
        declared.clone()
    } else {
        project.default_queue().map(|q| vec![q])
    };
    let consumed = project.consumed_queues();
    for u in &uses {
        // 1. Publishing raises QueueNotFound.
        if create_missing == Some(false)
            && let Some(known) = &known
            && !known.contains(&u.queue)
        {
            let setting = project
                .setting("task_create_missing_queues")
                .next()
                .map(|e| cx.related(e.module, e.span, "missing queues are not created"));
            let f = cx.report(u.module, u.span, &[("queue", &u.queue)]);
            if let Some(r) = setting {
                f.with_related(r);
            }
            continue;
        }
        // 2. Nothing deployed consumes it.
        let Some(consumed) = &consumed else { continue };
        let undeclared = match (&declared, declared_set) {
            (_, false) => true,
            (Some(d), true) => !d.contains(&u.queue),
            (None, true) => false,
        };
        if undeclared && !consumed.contains(&u.queue) {
            // Near-miss names: one edit for short names, up to three for longer ones.
            let max_typo = match u.queue.chars().count() {
                0..=3 => 1,
                4 => 2,
                _ => 3,
            };
            let mut candidates: Vec<&String> = consumed.iter().collect();
            if let Some(d) = &declared {
                candidates.extend(d.iter());
            }
            let hint = candidates
                .iter()
                .filter(|c| **c != &u.queue)
                .map(|c| (distance(&u.queue, c, max_typo), c.as_str()))
                .filter(|(d, _)| *d <= max_typo)
                .min()
                .map(|(_, c)| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            cx.report_variant(
                u.module,
                u.span,
                Some("unconsumed"),
                &[("queue", &u.queue), ("hint", &hint)],
            )
            .with_severity(Severity::Warning);
        }
    }
    default_queue_unconsumed(cx, consumed.as_deref());
}

/// Every literal queue named by routes, task options, calls and beat entries (outside tests).
fn queue_uses(cx: &RuleCx<'_>) -> Vec<QueueUse> {
    let project = cx.project;
    let mut uses = Vec::new();
    for route in project.route_entries().unwrap_or_default() {
        if let Some(queue) = route.queue {
            uses.push(QueueUse {
                module: route.module,
                span: route.queue_span,
                queue,
            });
        }
    }
    for task in project.production_tasks() {
        let def = project.def(task);
        if let (Some(Value::Str(q)), Some(span)) = (def.option("queue"), def.option_span("queue")) {
            uses.push(QueueUse {
                module: task.module,
                span,
                queue: q.clone(),
            });
        }
    }
    for (m, call) in project.calls() {
        if project.modules[m].is_test || !call.kind.publishes_with_options() {
            continue;
        }
        for (k, v, span) in &call.call_keywords {
            if k == "queue"
                && let Value::Str(q) = v
            {
                uses.push(QueueUse {
                    module: m,
                    span: *span,
                    queue: q.clone(),
                });
            }
        }
    }
    for entry in project.beat_entries() {
        if let Some(Value::Str(q)) = entry
            .value
            .dict_get("options")
            .and_then(|o| o.dict_get("queue"))
            && let Some((_, span)) = project.beat_entry_span(&entry, &["options", "queue"])
        {
            uses.push(QueueUse {
                module: entry.module,
                span,
                queue: q.clone(),
            });
        }
    }
    for (m, p) in project.periodic_tasks() {
        if let Some((Value::Str(q), span)) = p.keyword("queue") {
            uses.push(QueueUse {
                module: m,
                span,
                queue: q.clone(),
            });
        }
    }
    uses
}

/// 3. Tasks without a route go to the default queue, which no deployed worker consumes.
fn default_queue_unconsumed(cx: &mut RuleCx<'_>, consumed: Option<&[String]>) {
    let project = cx.project;
    let (Some(consumed), Some(default)) = (consumed, project.default_queue()) else {
        return;
    };
    if consumed.contains(&default) {
        return;
    }
    let Some(routes) = project.route_entries() else {
        return;
    };
    let mut unrouted = Vec::new();
    for task in project.production_tasks() {
        let def = project.def(task);
        if def.option("queue").is_some() || project.base_unknown(def) {
            continue;
        }
        if project.task_option(def, "queue").is_some() {
            continue;
        }
        let Some(name) = task.name.as_deref() else {
            return;
        };
        let mut routed = false;
        for r in &routes {
            match r.pattern.matches(name) {
                Some(true) => routed = true,
                Some(false) => {}
                None => return, // a regex the model cannot evaluate
            }
        }
        if !routed {
            unrouted.push(task);
        }
    }
    let Some(first) = unrouted.first() else {
        return;
    };
    let count = if unrouted.len() == 1 {
        "1 task".to_string()
    } else {
        format!("{} tasks", unrouted.len())
    };
    let example = project.task_label(first);
    let setting = project.setting("task_default_queue").next();
    let (module, span) = match setting {
        Some(e) => (e.module, e.span),
        None => (first.module, project.def(first).def_span),
    };
    cx.report_variant(
        module,
        span,
        Some("default_queue"),
        &[("queue", &default), ("count", &count), ("task", &example)],
    )
    .with_severity(Severity::Warning)
    .with_task(first.name.as_deref());
}
