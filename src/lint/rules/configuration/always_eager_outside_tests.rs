//! CD704 `always-eager-outside-tests`: `task_always_eager=True` in a settings layer that
//! production uses: every task runs inline in the calling process.
//!
//! ## What it does
//! Reports `task_always_eager` (any spelling) set to `True`, or read from the environment with
//! a `True` default, in a non-test, non-development settings layer, unless every
//! production-like layer that star-imports it overrides the key.
//!
//! ## Known false positives
//! Test settings, development layers (`local`, `dev` in the file name, `if DEBUG:`) and
//! conditional assignments are skipped. Without a resolved `DJANGO_SETTINGS_MODULE`, only
//! environment defaults and `prod*.py` files are checked.

use crate::finding::{Related, Span};
use crate::lint::model::facts::Value;
use crate::lint::model::project::SourceKind;
use crate::lint::model::{Project, SettingEntry};
use crate::lint::rules::RuleCx;

const NAME: &str = "task_always_eager";

/// `env.bool(...)` on a local `env = environ.Env()`, `config(...)` of python-decouple.
fn is_env_reader(func: &str) -> bool {
    func.split('.')
        .any(|seg| matches!(seg, "env" | "environ" | "Env" | "config" | "decouple"))
}

/// A development layer: `local.py`, `dev.py`, `settings_development.py`, ...
fn is_dev_layer(project: &Project, module: usize) -> bool {
    let name = &project.modules[module].facts.module;
    let stem = name.rsplit('.').next().unwrap_or(name);
    stem.contains("local") || stem.contains("dev")
}

fn stem(project: &Project, module: usize) -> String {
    let name = &project.modules[module].facts.module;
    name.rsplit('.').next().unwrap_or(name).to_string()
}

/// The statement starts in column 0 (not inside an `if`, a `def` or a multi-line call).
fn top_level_statement(project: &Project, e: &SettingEntry) -> bool {
    let text = project.file(e.module).text();
    let Some(before) = text.get(..e.span.start as usize) else {
        return false;
    };
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    text.get(line_start..)
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| !c.is_whitespace())
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    let named = project.named_django_settings();
    let settings_modules = &project.config.settings_modules;
    let sets_eager = |m: usize| {
        project.config.entries.iter().any(|x| {
            x.module == m
                && x.name() == Some(NAME)
                && matches!(
                    x.source,
                    SourceKind::DjangoSettings | SourceKind::ConfigModule
                )
        })
    };
    for e in &project.config.entries {
        if e.name() != Some(NAME) || e.is_test || e.under_debug {
            continue;
        }
        if project.is_test_module(e.module) || is_dev_layer(project, e.module) {
            continue;
        }
        // Inside a module-level `if`/`try` (`if HAS_BROKER: … else: EAGER = True`): whether
        // production takes that branch is unknown.
        let conditional = project.modules[e.module]
            .facts
            .assigns
            .iter()
            .any(|a| a.span == e.span && a.conditional);
        if conditional {
            continue;
        }
        let env = match project.resolve_value(&e.value) {
            Value::Env { default: Some(d) } if d.truthy() == Some(true) => true,
            Value::Call { func, kwargs, .. } if is_env_reader(&func) => {
                match kwargs.iter().find(|(k, _)| k == "default") {
                    Some((_, d)) if d.truthy() == Some(true) => true,
                    _ => continue,
                }
            }
            v if v.truthy() == Some(true) => false,
            _ => continue,
        };
        match e.source {
            SourceKind::DjangoSettings | SourceKind::ConfigModule => {
                let hierarchy_known = e.source == SourceKind::ConfigModule || !named.is_empty();
                if !hierarchy_known && !env && !stem(project, e.module).starts_with("prod") {
                    continue;
                }
                // Layers built on this one (`production.py` doing `from .base import *`).
                let importers: Vec<usize> = settings_modules
                    .iter()
                    .copied()
                    .filter(|&c| c != e.module && project.star_closure(c).contains(&e.module))
                    .collect();
                let used_directly = importers.is_empty() || named.contains(&e.module);
                let production: Vec<usize> = importers
                    .iter()
                    .copied()
                    .filter(|&c| !project.is_test_module(c) && !is_dev_layer(project, c))
                    .collect();
                let inherited_by = production
                    .iter()
                    .copied()
                    .find(|&c| project.layer_providing(c, &sets_eager, 0) == Some(e.module));
                if !used_directly && inherited_by.is_none() {
                    continue;
                }
                let variant = env.then_some("env");
                let layer = match inherited_by {
                    Some(c) => format!("; `{}` inherits it", project.file(c).display_path()),
                    None => String::new(),
                };
                let f = cx
                    .report_variant(
                        e.module,
                        e.span,
                        variant,
                        &[("key", &e.raw), ("layer", &layer)],
                    )
                    .with_anchor(e.raw.clone());
                if let Some(c) = inherited_by {
                    let related = Related {
                        file: project.file(c).clone(),
                        span: Span::new(0, 0),
                        message: "production layer without an override".to_string(),
                    };
                    f.with_related(related);
                }
            }
            SourceKind::ConfWrite | SourceKind::ConfigClass => {
                if e.source == SourceKind::ConfWrite && !top_level_statement(project, e) {
                    continue;
                }
                let variant = env.then_some("env");
                cx.report_variant(e.module, e.span, variant, &[("key", &e.raw), ("layer", "")])
                    .with_anchor(e.raw.clone());
            }
            SourceKind::CeleryKwarg => {}
        }
    }
}
