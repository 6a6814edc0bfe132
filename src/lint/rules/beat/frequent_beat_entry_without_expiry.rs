//! CD902 `frequent-beat-entry-without-expiry`: a beat entry that fires at least hourly with no
//! expiry, so a backlog turns into a burst of identical runs.
//!
//! ## What it does
//! Evaluates the schedule of literal `beat_schedule` entries and `add_periodic_task(...)`
//! calls (seconds, `timedelta`, `schedule(run_every=...)`, `crontab(...)`) and reports those
//! firing at least every `beat-expiry-threshold` seconds (default 3600) without an expiry:
//! `options["expires"]` (default scheduler), `options["expire_seconds"]` (django-celery-beat's
//! `DatabaseScheduler`, which drops `expires`), `expires=` on `add_periodic_task`, the
//! signature's own options (`t.signature(expires=N)`, `t.s().set(expires=N)`,
//! `signature("t", options={...})`, which beat merges into the entry's), or `expires` on the
//! task (decorator, base class, `task_annotations`).
//!
//! ## Why is this bad?
//! Beat keeps publishing while workers are down; when they return they run every queued copy
//! at once. An expiry revokes the stale copies instead.
//!
//! ## Known false positives
//! Cheap idempotent entries still get the warning; raise the threshold for them. Tasks the
//! model cannot resolve (other packages, unknown base classes) are skipped.
//!
//! ## Fix safety
//! Unsafe (stale runs are dropped): the entry's period in seconds becomes its expiry, as
//! `"options": {"expires": N}` added to a literal entry dict, `"expires": N` added to its
//! literal `options` dict, or `expires=N` on `add_periodic_task`; `expire_seconds` under
//! `DatabaseScheduler` (reusing a numeric `expires` the entry already has). Withheld when the
//! scheduler is custom or unknown (which key counts is unknown), when the entry or its
//! `options` is not a dict display in the code (a name, `dict(...)`, `**base`), and when the
//! entry has a top-level `expires`/`expire_seconds` (misplaced: CD904's finding).

use crate::lint::fix::{self, Fix};
use crate::lint::model::facts::Value;
use crate::lint::model::{BeatEntry, Project, Scheduler};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    let threshold = cx.options.beat_expiry_threshold;
    let scheduler = project.beat_scheduler();
    let variant = (scheduler == Scheduler::Django).then_some("database");
    for entry in project.beat_entries() {
        let Some(task) = entry.value.dict_get("task").and_then(Value::as_str) else {
            continue;
        };
        let Some(period) = entry
            .value
            .dict_get("schedule")
            .and_then(|s| min_interval(project, s))
        else {
            continue;
        };
        if period > threshold || !tasks_lack_expiry(project, project.tasks_named(task)) {
            continue;
        }
        let options = match entry.value.dict_get("options") {
            None => Value::Dict(Vec::new()),
            Some(v) => project.resolve_value(v),
        };
        let top_level_seconds =
            scheduler == Scheduler::Django && entry.value.dict_get("expire_seconds").is_some();
        if top_level_seconds || has_expiry(&options, scheduler) != Some(false) {
            continue;
        }
        let fix = entry_fix(project, &entry, scheduler, &options, period);
        cx.report_variant(
            entry.module,
            entry.key_span,
            variant,
            &[
                ("entry", &entry.key),
                ("task", task),
                ("period", &human(period)),
            ],
        )
        .with_task(Some(task))
        .with_fix(fix);
    }
    for (m, p) in project.periodic_tasks() {
        if p.has_star || p.canvas.is_some() {
            continue;
        }
        let tasks: Vec<usize> = match (&p.target, &p.task_name) {
            (Some(q), _) => project.task_by_qualname(q).into_iter().collect(),
            (None, Some((name, _))) => project.tasks_named(name).to_vec(),
            (None, None) => continue,
        };
        let Some(first) = tasks.first() else { continue };
        let Some(period) = min_interval(project, &p.schedule) else {
            continue;
        };
        if period > threshold || !tasks_lack_expiry(project, &tasks) {
            continue;
        }
        if p.keyword("expires").is_some()
            || (scheduler != Scheduler::Default && p.keyword("expire_seconds").is_some())
        {
            continue;
        }
        // Options the signature carries are merged into the entry's options by beat.
        if p.sig_options.iter().any(|(k, _)| k == "**") {
            continue;
        }
        let mut options = match p.keyword("options") {
            None => Value::Dict(Vec::new()),
            Some((v, _)) => project.resolve_value(v),
        };
        if let Value::Dict(items) = &mut options {
            items.extend(
                p.sig_options
                    .iter()
                    .map(|(k, v)| (Value::Str(k.clone()), v.clone())),
            );
        }
        if has_expiry(&options, scheduler) != Some(false) {
            continue;
        }
        let task = project.task_label(&project.tasks[*first]);
        let label = p
            .keyword("name")
            .and_then(|(v, _)| v.as_str().map(str::to_string))
            .unwrap_or_else(|| p.sig_text.clone());
        cx.report_variant(
            m,
            p.span,
            variant,
            &[
                ("entry", &label),
                ("task", &task),
                ("period", &human(period)),
            ],
        )
        .with_task(project.tasks[*first].name.as_deref())
        .with_fix(expiry_key(scheduler).and_then(|key| {
            let value = expiry_text(key, period)?;
            let edit = fix::add_keyword(project.file(m).text(), p.span, key, &value)?;
            Fix::unsafe_(format!("Add `{key}={value}`"), [edit])
        }));
    }
}

/// The options key that expires stale runs under `scheduler`; `None` when unknown.
fn expiry_key(scheduler: Scheduler) -> Option<&'static str> {
    match scheduler {
        Scheduler::Default => Some("expires"),
        Scheduler::Django => Some("expire_seconds"),
        Scheduler::Custom | Scheduler::Unknown => None,
    }
}

/// `"options": {"expires": N}` into the entry dict, or `"expires": N` into its `options` dict
/// (`expire_seconds` under `DatabaseScheduler`). `options` is the entry's resolved options.
fn entry_fix(
    project: &Project,
    entry: &BeatEntry,
    scheduler: Scheduler,
    options: &Value,
    period: f64,
) -> Option<Fix> {
    let key = expiry_key(scheduler)?;
    // `expires` beside `task` is misplaced (CD904); moving it is a human decision.
    if ["expires", "expire_seconds"]
        .iter()
        .any(|k| entry.value.dict_get(k).is_some())
    {
        return None;
    }
    // Under DatabaseScheduler, keep the expiry the entry already asks for.
    let value = match options.dict_get("expires") {
        Some(Value::Int(n)) if key == "expire_seconds" && *n > 0 => n.to_string(),
        _ => expiry_text(key, period)?,
    };
    let text = project.file(entry.module).text();
    let (_, entry_span) = project.beat_entry_span(entry, &[])?;
    let shape = crate::python::dict_shape(text, entry_span)?;
    let options_items = shape
        .items
        .iter()
        .filter(|i| i.key.as_deref() == Some("options"))
        .count();
    match options_items {
        0 => {
            let edit = fix::add_dict_item(
                text,
                entry_span,
                "options",
                &format!("{{\"{key}\": {value}}}"),
            )?;
            Fix::unsafe_(format!("Add `\"options\": {{\"{key}\": {value}}}`"), [edit])
        }
        1 => {
            let (_, options_span) = project.beat_entry_span(entry, &["options"])?;
            let edit = fix::add_dict_item(text, options_span, key, &value)?;
            Fix::unsafe_(format!("Add `\"{key}\": {value}` to `options`"), [edit])
        }
        _ => None,
    }
}

/// The period as the expiry's Python source: `60`, `0.5`; whole seconds (at least 1) for
/// `expire_seconds`, an integer field in django-celery-beat. `None` for absurd periods.
fn expiry_text(key: &str, secs: f64) -> Option<String> {
    if !secs.is_finite() || secs <= 0.0 || secs >= 1e15 {
        return None;
    }
    if key == "expire_seconds" {
        return Some(format!("{}", (secs.floor() as u64).max(1)));
    }
    if secs.fract() == 0.0 {
        Some(format!("{}", secs as u64))
    } else {
        Some(format!("{secs}"))
    }
}

/// The named tasks are all in the project and none sets `expires`.
fn tasks_lack_expiry(project: &Project, tasks: &[usize]) -> bool {
    !tasks.is_empty()
        && tasks.iter().all(|&t| {
            let def = project.def(&project.tasks[t]);
            !project.base_unknown(def) && project.task_option(def, "expires").is_none()
        })
}

/// Do the entry's options expire stale copies? `None` when the options are not literal.
fn has_expiry(options: &Value, scheduler: Scheduler) -> Option<bool> {
    let Value::Dict(_) = options else { return None };
    let expires = options.dict_get("expires").is_some();
    let seconds = options.dict_get("expire_seconds").is_some();
    Some(match scheduler {
        Scheduler::Default => expires,
        Scheduler::Django => seconds,
        Scheduler::Custom | Scheduler::Unknown => expires || seconds,
    })
}

/// The shortest time between two runs of a schedule, in seconds.
pub(crate) fn min_interval(project: &Project, schedule: &Value) -> Option<f64> {
    match project.resolve_value(schedule) {
        Value::Int(_) | Value::Float(_) | Value::Seconds(_) => {
            let secs = project.resolve_value(schedule).as_seconds()?;
            (secs > 0.0).then_some(secs)
        }
        Value::Call { func, kwargs, args } => {
            let last = func.rsplit('.').next().unwrap_or(&func);
            let arg = |name: &str, pos: usize| {
                kwargs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .or_else(|| args.get(pos).cloned())
            };
            match last {
                "schedule" => min_interval(project, &arg("run_every", 0)?),
                // `crontab(hour=3)` fires every minute of that hour by mistake: CD903's
                // finding, and an expiry is not the fix.
                "crontab"
                    if arg("minute", 0).is_none()
                        && ["hour", "day_of_week", "day_of_month", "month_of_year"]
                            .iter()
                            .enumerate()
                            .any(|(i, f)| arg(f, i + 1).is_some()) =>
                {
                    None
                }
                "crontab" if !func.ends_with("from_string") => {
                    let field = |name: &str, pos: usize, max: u32| match arg(name, pos) {
                        None => Some((0..max).collect::<Vec<u32>>()),
                        Some(v) => cron_field(&project.resolve_value(&v), max),
                    };
                    let minutes = field("minute", 0, 60)?;
                    let hours = field("hour", 1, 24)?;
                    Some(crontab_interval(&minutes, &hours))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Shortest gap between two firings given the minute and hour sets (day fields only remove
/// whole days, so they do not shorten the gap within a day).
fn crontab_interval(minutes: &[u32], hours: &[u32]) -> f64 {
    let gap = |set: &[u32], period: u32| -> u32 {
        if set.len() < 2 {
            return period;
        }
        let mut min = period - set[set.len() - 1] + set[0];
        for w in set.windows(2) {
            min = min.min(w[1] - w[0]);
        }
        min
    };
    if minutes.len() >= 2 {
        return f64::from(gap(minutes, 60) * 60);
    }
    f64::from(gap(hours, 24) * 3600)
}

/// The values of one crontab field (`"*/15"`, `"0,30"`, `"9-17"`, `5`, `[0, 30]`), sorted.
fn cron_field(v: &Value, max: u32) -> Option<Vec<u32>> {
    let mut out: Vec<u32> = match v {
        Value::Int(i) => vec![u32::try_from(*i).ok()?],
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => items
            .iter()
            .map(|i| match i {
                Value::Int(n) => u32::try_from(*n).ok(),
                _ => None,
            })
            .collect::<Option<Vec<u32>>>()?,
        Value::Str(s) => {
            let mut out = Vec::new();
            for part in s.split(',') {
                let part = part.trim();
                let (range, step) = match part.split_once('/') {
                    Some((r, st)) => (r, st.parse::<u32>().ok().filter(|n| *n > 0)?),
                    None => (part, 1),
                };
                let (lo, hi) = if range == "*" {
                    (0, max - 1)
                } else if let Some((a, b)) = range.split_once('-') {
                    (a.parse().ok()?, b.parse().ok()?)
                } else {
                    let n: u32 = range.parse().ok()?;
                    (n, if step > 1 { max - 1 } else { n })
                };
                if lo > hi || hi >= max {
                    return None;
                }
                out.extend((lo..=hi).step_by(step as usize));
            }
            out
        }
        _ => return None,
    };
    if out.is_empty() || out.iter().any(|n| *n >= max) {
        return None;
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// `30 s`, `5 min`, `2 h`.
fn human(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else if (secs - secs.round()).abs() < 1e-9 {
        format!("{s} s")
    } else {
        format!("{secs} s")
    }
}
