//! CD302 `result-expiry-disabled`: `result_expires` of `None`/`0` keeps every result forever.

use crate::lint::model::facts::Value;
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    if !project.has_result_backend() || project.ignores_results_globally() {
        return;
    }
    for e in project.setting("result_expires") {
        let v = project.resolve_value(&e.value);
        let disabled = matches!(v, Value::None) || v.as_seconds() == Some(0.0);
        if disabled {
            cx.report(
                e.module,
                e.span,
                &[("key", &e.raw), ("value", &v.display())],
            )
            .with_anchor(e.raw.clone());
        }
    }
    // Database and file backends only expire through `celery.backend_cleanup`, run by beat.
    if project.deployed_without_beat() {
        for e in project.setting("result_backend") {
            let Value::Str(url) = project.resolve_value(&e.value) else {
                continue;
            };
            if url == "django-db" || url.starts_with("db+") || url.starts_with("file://") {
                // Never show credentials: the URL is masked like CD803 masks it.
                let shown = crate::lint::rules::security::hardcoded_broker_credentials::parse(&url)
                    .map_or(url.clone(), |(_, redacted, _)| redacted);
                cx.report_variant(
                    e.module,
                    e.span,
                    Some("no_beat"),
                    &[("key", &e.raw), ("value", &shown)],
                )
                .with_severity(crate::finding::Severity::Warning)
                .with_anchor(format!("{}|no_beat", e.raw));
            }
        }
    }
}
