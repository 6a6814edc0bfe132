//! CD702 `mixed-old-and-new-setting-names`: old and new setting names in one configuration
//! source. Without a namespace Celery refuses to start; with one, the old spelling of a setting
//! given twice is silently dead.
//!
//! ## What it does
//! Per configuration source (a config module with what it star-imports, a config class, the
//! layers of a Django settings module), classifies keys with Celery's old → new map. Without a
//! namespace, the keys in the minority style are reported as errors (Celery's own rule: the
//! majority decides), except keys given in both spellings. A setting given in both spellings
//! is reported at the old spelling as a warning: the new one wins.
//!
//! ## Known false positives
//! Keys given through `conf.update()` or `Celery(...)` keywords are converted by Celery and
//! never count. Names that are neither old nor new (`DEBUG`) are ignored.

use std::collections::BTreeMap;

use crate::finding::Severity;
use crate::lint::fix::{self, Fix};
use crate::lint::model::project::SourceKind;
use crate::lint::model::settings::{self, KeyKind, Mode};
use crate::lint::model::{Project, SettingEntry};
use crate::lint::rules::RuleCx;

/// One key of a source: raw spelling, its meaning, where it is.
struct Key {
    raw: String,
    kind: KeyKind,
    module: usize,
    span: crate::finding::Span,
}

/// The old spelling Celery suggests for a new name (`_new_key_to_old`).
fn old_spelling(new: &str) -> Option<&'static str> {
    settings::old_names().find(|o| settings::old_to_new(o) == Some(new))
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    let mut reported = std::collections::HashSet::new();
    let all = sources(project);
    // A module star-imported by several sources (settings/base.py): renaming a key there changes
    // every one of them, so its fix is withheld.
    let mut sources_of_module: std::collections::HashMap<usize, usize> = Default::default();
    for (_, _, keys) in &all {
        let modules: std::collections::HashSet<usize> = keys.iter().map(|k| k.module).collect();
        for m in modules {
            *sources_of_module.entry(m).or_default() += 1;
        }
    }
    for (label, mode, keys) in all {
        if matches!(mode, Mode::Unknown) {
            continue;
        }
        let present: std::collections::HashSet<String> = keys
            .iter()
            .filter_map(|k| match &k.kind {
                KeyKind::New(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        // Both spellings of one setting: the new one wins, the old one is dead.
        for k in &keys {
            if let KeyKind::Old(new) = &k.kind
                && present.contains(new)
                && reported.insert((k.module, k.span))
            {
                let Some(winner) = keys.iter().find(|n| n.kind == KeyKind::New(new.clone())) else {
                    continue;
                };
                let place = format!("`{}`", project.file(winner.module).display_path());
                let related = cx.related(winner.module, winner.span, "the spelling Celery reads");
                cx.report_variant(
                    k.module,
                    k.span,
                    Some("duplicate"),
                    &[("key", &k.raw), ("new", &winner.raw), ("source", &place)],
                )
                .with_related(related)
                .with_severity(Severity::Warning)
                .with_anchor(k.raw.clone());
            }
        }
        if mode != Mode::Plain {
            continue;
        }
        // Celery's `detect_settings`: the majority style decides, the rest must be renamed.
        let new: Vec<&Key> = keys
            .iter()
            .filter(|k| matches!(k.kind, KeyKind::New(_)))
            .collect();
        let old: Vec<&Key> = keys
            .iter()
            .filter(|k| matches!(k.kind, KeyKind::Old(_)))
            .collect();
        if new.is_empty() || old.is_empty() {
            continue;
        }
        let raws: std::collections::HashSet<&str> = keys.iter().map(|k| k.raw.as_str()).collect();
        let old_majority = old.len() > new.len();
        let minority = if old_majority { &new } else { &old };
        for k in minority {
            let (variant, rename) = match &k.kind {
                KeyKind::Old(n) => (None, Some(n.to_string())),
                KeyKind::New(n) => (Some("new_among_old"), old_spelling(n).map(str::to_string)),
                KeyKind::Unknown => continue,
            };
            // Given in both spellings: not an error (reported above as a duplicate).
            if rename.as_deref().is_some_and(|r| raws.contains(r)) {
                continue;
            }
            if !reported.insert((k.module, k.span)) {
                continue;
            }
            // Safe fix for an old key among new ones: the new spelling, which Celery reads.
            // (A new key among old ones is left alone: its old spelling is deprecated; CD701's
            // fixes rename the old keys instead.)
            let fix = match &k.kind {
                KeyKind::Old(n)
                    if !project.config.read_by_code.contains(&k.raw)
                        && sources_of_module.get(&k.module).copied() == Some(1) =>
                {
                    let new_name = settings::spell(n, &Mode::Plain);
                    fix::rename(project.file(k.module).text(), k.span, &k.raw, &new_name)
                        .and_then(|e| Fix::safe(format!("Rename to `{new_name}`"), [e]))
                }
                _ => None,
            };
            cx.report_variant(
                k.module,
                k.span,
                variant,
                &[("key", &k.raw), ("source", &label)],
            )
            .with_anchor(k.raw.clone())
            .with_fix(fix);
        }
    }
}

/// Configuration sources as Celery reads them: `(label, mode, keys)`.
fn sources(project: &Project) -> Vec<(String, Mode, Vec<Key>)> {
    let mut out = Vec::new();
    let entries = &project.config.entries;
    let key_of = |e: &SettingEntry| Key {
        raw: e.raw.clone(),
        kind: e.kind.clone(),
        module: e.module,
        span: e.span,
    };
    // Config modules (with their star imports) and Django settings layers.
    let mut roots: BTreeMap<usize, (SourceKind, Mode)> = BTreeMap::new();
    for e in entries {
        if matches!(
            e.source,
            SourceKind::ConfigModule | SourceKind::DjangoSettings
        ) {
            roots.entry(e.module).or_insert((e.source, e.mode.clone()));
        }
    }
    for (&root, (source, mode)) in &roots {
        let mut keys = Vec::new();
        for m in project.star_closure(root) {
            match source {
                SourceKind::ConfigModule => {
                    for a in &project.modules[m].facts.assigns {
                        if a.name.starts_with('_') {
                            continue;
                        }
                        keys.push(Key {
                            raw: a.name.clone(),
                            kind: settings::classify(&a.name, mode),
                            module: m,
                            span: a.span,
                        });
                    }
                }
                _ => keys.extend(
                    entries
                        .iter()
                        .filter(|e| e.module == m && e.source == SourceKind::DjangoSettings)
                        .map(key_of),
                ),
            }
        }
        // A key assigned twice in a source counts once (the last assignment).
        let mut seen = std::collections::HashSet::new();
        keys.reverse();
        keys.retain(|k| seen.insert(k.raw.clone()));
        keys.reverse();
        let label = format!("`{}`", project.file(root).display_path());
        out.push((label, mode.clone(), keys));
    }
    // Config classes, per module.
    let mut classes: BTreeMap<usize, Vec<Key>> = BTreeMap::new();
    for e in entries
        .iter()
        .filter(|e| e.source == SourceKind::ConfigClass)
    {
        classes.entry(e.module).or_default().push(key_of(e));
    }
    for (m, keys) in classes {
        let mode = entries
            .iter()
            .find(|e| e.module == m && e.source == SourceKind::ConfigClass)
            .map_or(Mode::Unknown, |e| e.mode.clone());
        let label = format!("the config class in `{}`", project.file(m).display_path());
        out.push((label, mode, keys));
    }
    out
}
