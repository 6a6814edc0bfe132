//! CD701 `deprecated-setting-name`: a pre-4.0 setting name; Celery 6 stops reading them.

use crate::lint::fix::{self, Fix};
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
        let plain_django = e.source == SourceKind::DjangoSettings && mode == Mode::Plain;
        // Safe rename, withheld when code reads the old name, when the new name is already
        // set (CD702), when two old names map to it, and when the namespace must change too.
        let entries = &project.config.entries;
        let withheld = plain_django
            || project.config.read_by_code.contains(&e.raw)
            || entries
                .iter()
                .any(|o| matches!(&o.kind, KeyKind::New(n) if n == new))
            || entries
                .iter()
                .filter(|o| matches!(&o.kind, KeyKind::Old(n) if n == new))
                .count()
                > 1;
        let edit = (!withheld)
            .then(|| {
                let text = project.file(e.module).text();
                fix::rename(text, e.span, &e.raw, &settings::spell(new, &mode))
            })
            .flatten();
        let replacement = if plain_django {
            format!(
                "{}` with `namespace=\"CELERY\"` in `config_from_object",
                settings::spell(new, &Mode::Namespace("CELERY".into()))
            )
        } else {
            settings::spell(new, &mode)
        };
        let title = format!("Rename to `{replacement}`");
        cx.report(e.module, e.span, &[("key", &e.raw), ("new", &replacement)])
            .with_anchor(e.raw.clone())
            .with_fix(edit.and_then(|edit| Fix::safe(title, [edit])));
    }
}
