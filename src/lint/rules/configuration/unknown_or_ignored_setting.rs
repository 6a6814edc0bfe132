//! CD703 `unknown-or-ignored-setting`: a key meant for Celery that Celery never reads: a typo,
//! an invented setting, a per-task option written as a global, or a namespace mismatch.

use crate::lint::fix::{self, Fix};
use crate::lint::model::project::{SettingEntry, SourceKind};
use crate::lint::model::settings::{self, KeyKind, Mode};
use crate::lint::rules::RuleCx;

/// Prefixes that third-party packages use for their own settings.
const THIRD_PARTY_PREFIXES: &[&str] = &[
    "CELERY_EMAIL_",
    "CELERY_HAYSTACK_",
    "CELERY_FLOWER_",
    "CELERY_ONCE",
    "CELERY_SINGLETON",
    "CELERY_PROGRESS",
    "CELERY_MONITOR",
    "CELERY_SLACK",
    "CELERY_LOGGER",
    "CELERY_APP",
];

/// Per-task options that have no global setting.
const TASK_OPTIONS: &[&str] = &[
    "max_retries",
    "default_retry_delay",
    "autoretry_for",
    "retry_backoff",
    "retry_backoff_max",
    "retry_jitter",
    "retry_kwargs",
    "dont_autoretry_for",
    "throws",
];

fn suggestion(raw: &str, mode: &Mode) -> Option<String> {
    let spelled_mode = match mode {
        Mode::Unknown => Mode::Namespace("CELERY".into()),
        m => m.clone(),
    };
    let candidates: Vec<String> = settings::new_names()
        .map(|n| settings::spell(n, &spelled_mode))
        .collect();
    // `CELERY_MAX_TASKS_PER_CHILD` → `CELERY_WORKER_MAX_TASKS_PER_CHILD`.
    if let Some(rest) = raw.strip_prefix("CELERY_") {
        let lower = rest.to_ascii_lowercase();
        for group in ["worker_", "task_", "result_", "beat_", "broker_"] {
            let full = format!("{group}{lower}");
            if settings::is_new(&full) {
                return Some(settings::spell(&full, &spelled_mode));
            }
        }
    }
    let mut best: Vec<&String> = Vec::new();
    let mut best_d = 3;
    for c in &candidates {
        let d = settings::distance(raw, c, 2);
        if d < best_d {
            best_d = d;
            best = vec![c];
        } else if d == best_d && d <= 2 {
            best.push(c);
        }
    }
    (best_d <= 2 && best.len() == 1).then(|| best[0].clone())
}

/// Report at the key, anchored on the key's spelling (stable across edits).
fn report(cx: &mut RuleCx<'_>, e: &SettingEntry, variant: Option<&str>, args: &[(&str, &str)]) {
    cx.report_variant(e.module, e.span, variant, args)
        .with_anchor(e.raw.clone());
}

/// Report with the unsafe fix "rename to `new`" (the suggestion may be wrong, and the setting
/// starts to take effect), withheld when `new` is already set.
fn report_rename(
    cx: &mut RuleCx<'_>,
    e: &SettingEntry,
    args: &[(&str, &str)],
    new: Option<String>,
) {
    let project = cx.project;
    let edit = new
        .filter(|n| !project.config.entries.iter().any(|o| &o.raw == n))
        .and_then(|n| {
            let edit = fix::rename(project.file(e.module).text(), e.span, &e.raw, &n)?;
            Fix::unsafe_(format!("Rename to `{n}`"), [edit])
        });
    cx.report_variant(e.module, e.span, None, args)
        .with_anchor(e.raw.clone())
        .with_fix(edit);
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for e in &project.config.entries {
        if e.kind != KeyKind::Unknown || e.source == SourceKind::CeleryKwarg {
            continue;
        }
        let raw = e.raw.as_str();
        if project.config.read_by_code.contains(raw)
            || cx.options.extra_known_settings.iter().any(|k| k == raw)
            || THIRD_PARTY_PREFIXES.iter().any(|p| raw.starts_with(p))
        {
            continue;
        }
        let upper = raw == raw.to_ascii_uppercase();
        let celery_prefixed = upper
            && (raw.starts_with("CELERY")
                || settings::distance(raw.split('_').next().unwrap_or(""), "CELERY", 1) <= 1
                    && raw.contains('_'));
        let render_suggestion = |s: Option<String>| {
            s.map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default()
        };
        match (&e.source, &e.mode) {
            (SourceKind::DjangoSettings, Mode::Plain) if celery_prefixed => {
                // Case 4: namespaced spellings in settings read without a namespace.
                let rest = raw
                    .strip_prefix("CELERY_")
                    .unwrap_or(raw)
                    .to_ascii_lowercase();
                if settings::is_new(&rest) {
                    let hint = "; pass `namespace=\"CELERY\"` to `config_from_object`".to_string();
                    report(
                        cx,
                        e,
                        Some("namespace"),
                        &[("key", raw), ("suggestion", &hint)],
                    );
                    continue;
                }
                let s = render_suggestion(suggestion(raw, &Mode::Plain));
                report(cx, e, None, &[("key", raw), ("suggestion", &s)]);
            }
            (SourceKind::DjangoSettings, mode) if celery_prefixed => {
                let rest = raw
                    .strip_prefix("CELERY_")
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let option = rest.strip_prefix("task_").unwrap_or(&rest);
                if raw.starts_with("CELERY_") && TASK_OPTIONS.contains(&option) {
                    report(
                        cx,
                        e,
                        Some("task_option"),
                        &[("key", raw), ("option", option)],
                    );
                    continue;
                }
                let new = suggestion(raw, mode);
                let s = render_suggestion(new.clone());
                report_rename(cx, e, &[("key", raw), ("suggestion", &s)], new);
            }
            (SourceKind::ConfigModule | SourceKind::ConfigClass | SourceKind::ConfWrite, _) => {
                if upper {
                    // `CELERY_TASK_TIME_LIMIT` in a plain config module: read only with a namespace.
                    if let Some(rest) = raw.strip_prefix("CELERY_")
                        && settings::is_new(&rest.to_ascii_lowercase())
                    {
                        let new = rest.to_ascii_lowercase();
                        let hint = format!("; use `{new}`");
                        let project = cx.project;
                        let edit = (!project.config.entries.iter().any(|o| o.raw == new))
                            .then(|| {
                                let text = project.file(e.module).text();
                                fix::rename(text, e.span, raw, &new)
                            })
                            .flatten();
                        cx.report_variant(
                            e.module,
                            e.span,
                            Some("namespace"),
                            &[("key", raw), ("suggestion", &hint)],
                        )
                        .with_anchor(e.raw.clone())
                        .with_fix(
                            edit.and_then(|x| Fix::unsafe_(format!("Rename to `{new}`"), [x])),
                        );
                    }
                    continue;
                }
                // Lower-case near-misses of a known name in the same group (`task_timelimit`).
                if !raw.contains('_') || raw.len() < 8 {
                    continue;
                }
                let Some(s) = suggestion(raw, &Mode::Plain) else {
                    continue;
                };
                let same_group = s.split('_').next() == raw.split('_').next();
                if same_group {
                    let hint = render_suggestion(Some(s.clone()));
                    report_rename(cx, e, &[("key", raw), ("suggestion", &hint)], Some(s));
                }
            }
            _ => {}
        }
    }
}
