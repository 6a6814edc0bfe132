//! CD701 `deprecated-setting-name`: a pre-4.0 setting name; Celery 6 stops reading them.

use crate::lint::model::project::SourceKind;
use crate::lint::model::settings::{self, KeyKind, Mode};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for e in &project.config.entries {
        let KeyKind::Old(new) = &e.kind else { continue };
        if e.source == SourceKind::CeleryKwarg {
            continue;
        }
        // In Django settings, upper-case spellings such as `S3_BUCKET` usually belong to other
        // libraries: only Celery-prefixed and `BROKER_*` keys are Celery's.
        let celery_key = e.raw.starts_with("CELERY") || e.raw.starts_with("BROKER_");
        if e.source == SourceKind::DjangoSettings && !celery_key {
            continue;
        }
        let mode = match (&e.source, &e.mode) {
            (SourceKind::ConfWrite, _) => Mode::Plain,
            (_, m) => m.clone(),
        };
        // Django only exposes upper-case settings: without a namespace there is no spelling
        // Celery reads, so the advice is the namespaced name plus the namespace.
        let replacement = if e.source == SourceKind::DjangoSettings && mode == Mode::Plain {
            format!(
                "{}` with `namespace=\"CELERY\"` in `config_from_object",
                settings::spell(new, &Mode::Namespace("CELERY".into()))
            )
        } else {
            settings::spell(new, &mode)
        };
        cx.report(e.module, e.span, &[("key", &e.raw), ("new", &replacement)])
            .with_anchor(e.raw.clone());
    }
}
