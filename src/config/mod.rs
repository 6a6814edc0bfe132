//! Configuration: `[tool.celery-doctor]` in `pyproject.toml` or `.celery-doctor.yaml`, found by
//! walking up from the first target. Unknown keys are errors naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::finding::Severity;
use crate::lint::LintSettings;
use crate::text::one_line;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    pub select: Option<Vec<String>>,
    pub extend_select: Option<Vec<String>>,
    pub ignore: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub extend_exclude: Option<Vec<String>>,
    pub per_file_ignores: Option<BTreeMap<String, Vec<String>>>,
    pub severity: Option<BTreeMap<String, Severity>>,
    pub settings_modules: Option<Vec<String>>,
    pub extra_known_settings: Option<Vec<String>>,
    pub time_limit_aggregate_threshold: Option<usize>,
    /// Custom rule files or directories, relative to the configuration file.
    pub rules: Option<Vec<String>>,
    pub external_task_prefixes: Option<Vec<String>>,
    pub beat_expiry_threshold: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {message}")]
    Read { path: String, message: String },
    #[error("invalid config file {path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Deserialize)]
struct Pyproject {
    tool: Option<Tool>,
}

#[derive(Deserialize)]
struct Tool {
    #[serde(rename = "celery-doctor")]
    celery_doctor: Option<toml::Value>,
}

/// A loaded configuration and the file it came from.
#[derive(Debug, Default)]
pub struct Loaded {
    pub options: Options,
    pub path: Option<PathBuf>,
}

/// Parse a configuration file (pyproject.toml or YAML).
pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let invalid = |message: String| ConfigError::Invalid {
        path: shown.clone(),
        message: one_line(&message),
    };
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    let options = if is_toml {
        let doc: Pyproject = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        match doc.tool.and_then(|t| t.celery_doctor) {
            Some(v) => v
                .try_into()
                .map_err(|e: toml::de::Error| invalid(format!("[tool.celery-doctor]: {e}")))?,
            None => Options::default(),
        }
    } else if text.trim().is_empty() {
        Options::default()
    } else {
        serde_yaml::from_str(&text).map_err(|e| invalid(e.to_string()))?
    };
    Ok(Loaded {
        options,
        path: Some(path.to_path_buf()),
    })
}

/// Find the configuration for `start` by walking up: `.celery-doctor.yaml`/`.yml`, or a
/// `pyproject.toml` with a `[tool.celery-doctor]` table.
pub fn discover(start: &Path) -> Result<Loaded, ConfigError> {
    let start = if start.is_file() {
        start.parent().unwrap_or(start)
    } else {
        start
    };
    let mut dir = std::fs::canonicalize(start).ok();
    while let Some(d) = dir {
        for name in [".celery-doctor.yaml", ".celery-doctor.yml"] {
            let p = d.join(name);
            if p.is_file() {
                return load_file(&p);
            }
        }
        let p = d.join("pyproject.toml");
        if p.is_file() {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            if text.contains("[tool.celery-doctor") {
                return load_file(&p);
            }
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    Ok(Loaded::default())
}

fn globset(patterns: &[String], path: &str) -> Result<GlobSet, ConfigError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p).map_err(|e| ConfigError::Invalid {
            path: path.to_string(),
            message: format!("bad glob `{p}`: {e}"),
        })?;
        b.add(glob);
        // `migrations` also matches `a/b/migrations/x.py`.
        if !p.contains('/') {
            if let Ok(g) = Glob::new(&format!("**/{p}")) {
                b.add(g);
            }
            if let Ok(g) = Glob::new(&format!("**/{p}/**")) {
                b.add(g);
            }
        }
    }
    b.build().map_err(|e| ConfigError::Invalid {
        path: path.to_string(),
        message: e.to_string(),
    })
}

/// Turn options into lint settings. Command-line flags are applied on top by the caller.
pub fn to_settings(loaded: &Loaded) -> Result<LintSettings, ConfigError> {
    let o = &loaded.options;
    let path = loaded
        .path
        .as_ref()
        .map_or_else(|| "(defaults)".to_string(), |p| p.display().to_string());
    let mut s = LintSettings {
        select: o.select.clone().unwrap_or_default(),
        extend_select: o.extend_select.clone().unwrap_or_default(),
        ignore: o.ignore.clone().unwrap_or_default(),
        ..LintSettings::default()
    };
    let mut excludes: Vec<String> = o.exclude.clone().unwrap_or_default();
    excludes.extend(o.extend_exclude.clone().unwrap_or_default());
    if !excludes.is_empty() {
        s.exclude = Some(globset(&excludes, &path)?);
    }
    for (glob, codes) in o.per_file_ignores.clone().unwrap_or_default() {
        s.per_file_ignores.push((globset(&[glob], &path)?, codes));
    }
    s.severity = o.severity.clone().unwrap_or_default().into_iter().collect();
    s.model.settings_modules = o.settings_modules.clone().unwrap_or_default();
    s.rule_options.extra_known_settings = o.extra_known_settings.clone().unwrap_or_default();
    if let Some(n) = o.time_limit_aggregate_threshold {
        s.rule_options.time_limit_aggregate_threshold = n;
    }
    s.rule_options.external_task_prefixes = o.external_task_prefixes.clone().unwrap_or_default();
    if let Some(secs) = o.beat_expiry_threshold {
        s.rule_options.beat_expiry_threshold = secs;
    }
    // Severity keys must be rule ids.
    if let Ok(catalog) = crate::lint::rules::catalog() {
        for code in s.severity.keys() {
            // Custom rule ids are checked once the custom rules are loaded.
            if catalog.get(code).is_none() && code.starts_with("CD") {
                return Err(ConfigError::Invalid {
                    path,
                    message: format!("severity: unknown rule id `{code}`"),
                });
            }
        }
    }
    Ok(s)
}

/// Where custom rules come from: `.celery-doctor/rules/` next to the configuration file (or,
/// without one, in the nearest directory above `start` that has it), then the `rules` paths
/// of the configuration, relative to the configuration file.
pub fn custom_rule_paths(loaded: &Loaded, start: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let config_dir = loaded
        .path
        .as_ref()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf);
    let base = config_dir.clone().or_else(|| {
        let start = if start.is_file() {
            start.parent().unwrap_or(start)
        } else {
            start
        };
        let mut dir = std::fs::canonicalize(start).ok();
        while let Some(d) = dir {
            if d.join(".celery-doctor").join("rules").is_dir() {
                return Some(d);
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        None
    });
    if let Some(base) = &base {
        let dir = base.join(".celery-doctor").join("rules");
        if dir.is_dir() {
            out.push(dir);
        }
    }
    for p in loaded.options.rules.iter().flatten() {
        let path = Path::new(p);
        out.push(match &config_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        });
    }
    out
}

/// Load the custom rules for `loaded` into `settings`, and check the configuration's custom
/// rule ids (severity overrides) against them.
pub fn add_custom_rules(
    settings: &mut LintSettings,
    loaded: &Loaded,
    start: &Path,
) -> anyhow::Result<()> {
    let paths = custom_rule_paths(loaded, start);
    settings.custom = crate::lint::custom::load(&paths)?;
    for code in settings.severity.keys() {
        if !code.starts_with("CD") && settings.custom.get(code).is_none() {
            let path = loaded
                .path
                .as_ref()
                .map_or_else(|| "(defaults)".to_string(), |p| p.display().to_string());
            return Err(ConfigError::Invalid {
                path,
                message: format!("severity: unknown rule id `{code}`"),
            }
            .into());
        }
    }
    Ok(())
}
