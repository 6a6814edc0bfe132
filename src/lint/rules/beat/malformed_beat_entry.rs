//! CD904 `malformed-beat-entry`: beat entries that crash beat or call the task wrongly.
//!
//! ## What it does
//! Reports, in literal `beat_schedule` entries and `add_periodic_task(...)` calls: keys the
//! scheduler does not accept (`expires` beside `task` instead of inside `options`), `args`
//! that is a string or a single value instead of a tuple, `kwargs` that is not a dict, a
//! group/chain/chord given to `add_periodic_task`, and unnamed `add_periodic_task` calls with
//! the same signature (the second replaces the first).
//!
//! ## Why is this bad?
//! `ScheduleEntry(**entry)` rejects unknown keys, so beat fails at start-up; beat iterates
//! `args`, so `("weekly")` becomes seven one-letter arguments; beat schedules single tasks.
//!
//! ## Known false positives
//! Custom scheduler classes may accept extra keys: unknown keys are then not reported.
//!
//! ## Fix safety
//! Safe for a single literal `args` (`("weekly")` → `("weekly",)`).

use crate::finding::Span;
use crate::lint::fix::{Edit, Fix};
use crate::lint::model::facts::Value;
use crate::lint::model::{BEAT_ENTRY_KEYS, DJANGO_BEAT_ENTRY_KEYS, Scheduler};
use crate::lint::rules::RuleCx;

/// `apply_async` options that belong under an entry's `options`.
const OPTION_KEYS: &[&str] = &[
    "expires",
    "queue",
    "priority",
    "routing_key",
    "exchange",
    "countdown",
    "eta",
    "time_limit",
    "soft_time_limit",
    "serializer",
    "headers",
];

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    let scheduler = project.beat_scheduler();
    for entry in project.beat_entries() {
        let Value::Dict(items) = &entry.value else {
            continue;
        };
        let name = entry.key.as_str();
        // 1. Keys the scheduler does not accept.
        let allowed = |k: &str| match scheduler {
            Scheduler::Default => Some(BEAT_ENTRY_KEYS.contains(&k)),
            Scheduler::Django => {
                Some(BEAT_ENTRY_KEYS.contains(&k) || DJANGO_BEAT_ENTRY_KEYS.contains(&k))
            }
            Scheduler::Custom | Scheduler::Unknown => None,
        };
        for (k, _) in items {
            let Some(key) = k.as_str() else { continue };
            if allowed(key) != Some(false) {
                continue;
            }
            let Some((key_span, _)) = project.beat_entry_span(&entry, &[key]) else {
                continue;
            };
            let variant = if OPTION_KEYS.contains(&key) {
                "option_key"
            } else {
                "unknown_key"
            };
            cx.report_variant(
                entry.module,
                key_span,
                Some(variant),
                &[("entry", name), ("key", key)],
            );
        }
        // 2. `args` that beat cannot turn into an argument list.
        if let Some(args) = entry.value.dict_get("args")
            && let Some(kind) = bad_args(args)
            && let Some((_, span)) = project.beat_entry_span(&entry, &["args"])
        {
            let text = super::source_text(project, entry.module, span);
            cx.report_variant(
                entry.module,
                span,
                Some(kind),
                &[("entry", name), ("value", &text)],
            )
            .with_fix(one_item_tuple(project.file(entry.module).text(), span));
        }
        // 3. `kwargs` that is not a mapping.
        if let Some(kwargs) = entry.value.dict_get("kwargs")
            && bad_kwargs(kwargs)
            && let Some((_, span)) = project.beat_entry_span(&entry, &["kwargs"])
        {
            let text = super::source_text(project, entry.module, span);
            cx.report_variant(
                entry.module,
                span,
                Some("kwargs"),
                &[("entry", name), ("value", &text)],
            );
        }
    }

    let mut seen: Vec<(usize, Option<&str>, &str, crate::finding::Span)> = Vec::new();
    for (m, p) in project.periodic_tasks() {
        let label = p
            .keyword("name")
            .and_then(|(v, _)| v.as_str().map(str::to_string))
            .unwrap_or_else(|| p.sig_text.clone());
        // 4. Workflows are not schedulable.
        if let Some(kind) = &p.canvas {
            cx.report_variant(m, p.sig_span, Some("canvas"), &[("kind", kind)]);
            continue;
        }
        // 2./3. for `add_periodic_task(..., args=..., kwargs=...)`.
        if let Some((args, span)) = p.keyword("args")
            && let Some(kind) = bad_args(args)
        {
            let text = super::source_text(project, m, span);
            cx.report_variant(m, span, Some(kind), &[("entry", &label), ("value", &text)])
                .with_fix(one_item_tuple(project.file(m).text(), span));
        }
        if let Some((kwargs, span)) = p.keyword("kwargs")
            && bad_kwargs(kwargs)
        {
            let text = super::source_text(project, m, span);
            cx.report_variant(
                m,
                span,
                Some("kwargs"),
                &[("entry", &label), ("value", &text)],
            );
        }
        // 5. Unnamed entries are keyed by the signature's repr.
        if p.keyword("name").is_some() || p.has_star {
            continue;
        }
        let here = (m, p.function.as_deref(), p.sig_text.as_str());
        match seen.iter().find(|(sm, sf, st, _)| (*sm, *sf, *st) == here) {
            Some((_, _, _, first)) => {
                let line = super::line_of(project, m, first.start).to_string();
                let related = cx.related(m, *first, "the entry it replaces");
                cx.report_variant(
                    m,
                    p.span,
                    Some("duplicate"),
                    &[("sig", &p.sig_text), ("line", &line)],
                )
                .with_related(related);
            }
            None => seen.push((here.0, here.1, here.2, p.span)),
        }
    }
}

/// `args` that is a string (`("weekly")` without the comma) or a single non-sequence value.
/// The safe fix for a one-item `args`: `("weekly")` → `("weekly",)` (the parser's span of a
/// parenthesised value leaves the parentheses out), `"weekly"` / `42` → `("weekly",)` / `(42,)`.
/// Beat calls the task with exactly that one argument, which is what the author meant.
fn one_item_tuple(source: &str, span: Span) -> Option<Fix> {
    let value = source.get(span.start as usize..span.end as usize)?;
    let before = source[..span.start as usize].trim_end().chars().last();
    let after = source[span.end as usize..].trim_start().chars().next();
    let edit = if before == Some('(') && after == Some(')') {
        Edit::insertion(",", span.end)
    } else {
        Edit::replacement(format!("({value},)"), span)
    };
    Fix::safe("Make `args` a one-item tuple", [edit])
}

fn bad_args(v: &Value) -> Option<&'static str> {
    match v {
        Value::Str(_) => Some("args_string"),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Seconds(_) => Some("args_scalar"),
        _ => None,
    }
}

fn bad_kwargs(v: &Value) -> bool {
    matches!(
        v,
        Value::Str(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Bool(_)
            | Value::List(_)
            | Value::Tuple(_)
            | Value::Set(_)
    )
}
