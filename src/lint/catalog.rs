//! Rule metadata: one YAML file per rule under `rules/`, embedded at build time, validated
//! strictly (unknown keys are errors naming the file and field).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::finding::Severity;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    File,
    Project,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FixSafety {
    None,
    Safe,
    Unsafe,
}

pub const CATEGORIES: &[&str] = &[
    "framework",
    "reliability",
    "time-limits",
    "results",
    "retries",
    "canvas",
    "django-orm",
    "configuration",
    "security",
    "beat",
    "routing",
];

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    #[serde(default)]
    pub bad: Vec<String>,
    #[serde(default)]
    pub good: Vec<String>,
}

/// The metadata of one rule, as written in `rules/<ID>.yaml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMeta {
    pub id: String,
    pub name: String,
    pub category: String,
    pub severity: Severity,
    pub default: bool,
    pub scope: Scope,
    pub fix: FixSafety,
    pub message: String,
    #[serde(default)]
    pub variants: BTreeMap<String, String>,
    pub help: String,
    pub explanation: String,
    #[serde(default)]
    pub references: Vec<String>,
    pub examples: Examples,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("rules/{file}: {message}")]
    Invalid { file: String, message: String },
}

impl RuleMeta {
    /// Parse and validate one rule file. `file` is used in error messages.
    pub fn parse(file: &str, yaml: &str) -> Result<RuleMeta, CatalogError> {
        let invalid = |message: String| CatalogError::Invalid {
            file: file.to_string(),
            message,
        };
        let meta: RuleMeta = serde_yaml::from_str(yaml).map_err(|e| invalid(e.to_string()))?;
        let stem = file.trim_end_matches(".yaml");
        if meta.id != stem {
            return Err(invalid(format!(
                "field `id`: `{}` does not match the file name",
                meta.id
            )));
        }
        let id_ok = meta.id.len() == 5
            && meta.id.starts_with("CD")
            && meta.id[2..].chars().all(|c| c.is_ascii_digit());
        if !id_ok {
            return Err(invalid(format!(
                "field `id`: `{}` is not `CD` followed by three digits",
                meta.id
            )));
        }
        if !CATEGORIES.contains(&meta.category.as_str()) {
            return Err(invalid(format!(
                "field `category`: unknown category `{}`",
                meta.category
            )));
        }
        let kebab = !meta.name.is_empty()
            && meta
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !kebab {
            return Err(invalid(format!(
                "field `name`: `{}` is not kebab-case",
                meta.name
            )));
        }
        for (field, text) in std::iter::once(("message", &meta.message))
            .chain(meta.variants.values().map(|v| ("variants", v)))
        {
            if text.contains('\n') || text.ends_with('.') || text.is_empty() {
                return Err(invalid(format!(
                    "field `{field}`: must be one line without a final period"
                )));
            }
        }
        for heading in [
            "## What it does",
            "## Why is this bad?",
            "## How to fix",
            "## Known false positives",
        ] {
            if !meta.explanation.contains(heading) {
                return Err(invalid(format!(
                    "field `explanation`: missing heading `{heading}`"
                )));
            }
        }
        if meta.examples.bad.is_empty() || meta.examples.good.is_empty() {
            return Err(invalid(
                "field `examples`: needs at least one `bad` and one `good` example".into(),
            ));
        }
        Ok(meta)
    }

    /// Render the message template (or a variant) with `{name}` placeholders filled.
    pub fn render(&self, variant: Option<&str>, args: &[(&str, &str)]) -> String {
        let template = variant
            .and_then(|v| self.variants.get(v))
            .unwrap_or(&self.message);
        render_template(template, args)
    }

    /// The short description: the first sentence of "What it does".
    pub fn summary(&self) -> String {
        let what = self
            .explanation
            .split("## What it does")
            .nth(1)
            .unwrap_or("")
            .split("##")
            .next()
            .unwrap_or("");
        let text = crate::text::one_line(what);
        match text.find(". ") {
            Some(i) => text[..=i].to_string(),
            None => text,
        }
    }

    pub fn doc_url(&self) -> String {
        format!(
            "https://github.com/celery-doctor/celery-doctor/blob/main/rules/{}.yaml",
            self.id
        )
    }
}

/// Replace `{name}` placeholders; unknown placeholders are left as they are.
pub fn render_template(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Placeholder names used in a template.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(&after[..close]);
        rest = &after[close + 1..];
    }
    out
}
