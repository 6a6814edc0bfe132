//! `celery-doctor rules` and `celery-doctor rule ID`.

use std::io::Write;

use anyhow::bail;
use clap::{Args, ValueEnum};
use colored::Colorize;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;

use super::ExitStatus;
use crate::color::{self, ColorChoice};
use crate::lint::rules::catalog;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InfoFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    #[arg(long, value_enum, default_value_t = InfoFormat::Text)]
    pub format: InfoFormat,
    #[arg(long)]
    pub no_color: bool,
    /// Configuration file whose custom rules to include; default: found from the working directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct RuleArgs {
    /// Rule id, e.g. CD201 (or its name, e.g. task-without-time-limit).
    pub id: String,
    #[arg(long, value_enum, default_value_t = InfoFormat::Text)]
    pub format: InfoFormat,
    #[arg(long)]
    pub no_color: bool,
    /// Configuration file whose custom rules to include; default: found from the working directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

/// The custom rules of the configuration (given, or found from the working directory).
pub(crate) fn custom_rules(
    config_file: Option<&std::path::Path>,
) -> anyhow::Result<crate::lint::custom::CustomRules> {
    let cwd = std::env::current_dir()?;
    let loaded = match config_file {
        Some(path) => crate::config::load_file(path)?,
        None => crate::config::discover(&cwd)?,
    };
    Ok(crate::lint::custom::load(
        &crate::config::custom_rule_paths(&loaded, &cwd),
    )?)
}

pub fn run_rules(args: RulesArgs) -> anyhow::Result<ExitStatus> {
    let catalog = catalog()?;
    let custom = custom_rules(args.config.as_deref())?;
    let all: Vec<&crate::lint::catalog::RuleMeta> = catalog
        .rules
        .iter()
        .map(|(_, m)| m)
        .chain(custom.rules.iter().map(|r| r.meta))
        .collect();
    let use_color = color::decide(
        super::color_flag(args.no_color, None),
        args.format == InfoFormat::Json,
        false,
    );
    let mut out = std::io::stdout().lock();
    match args.format {
        InfoFormat::Json => {
            let items: Vec<_> = all
                .iter()
                .map(|m| {
                    let mut v = json!({"code": m.id, "name": m.name, "category": m.category, "severity": m.severity, "default": m.default, "fix": format!("{:?}", m.fix).to_lowercase(), "summary": m.summary()});
                    if let Some(r) = custom.get(&m.id) {
                        v["source"] = json!(format!("{}:{}", r.file, r.line));
                    }
                    v
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &items).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        InfoFormat::Text => {
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED);
            if use_color {
                table.enforce_styling();
            } else {
                table.force_no_tty();
            }
            table.set_header(vec!["id", "name", "severity", "default", "summary"]);
            for m in &all {
                table.add_row(vec![
                    m.id.clone(),
                    m.name.clone(),
                    m.severity.to_string(),
                    if m.default { "on".into() } else { "off".into() },
                    m.summary(),
                ]);
            }
            writeln!(out, "{table}")?;
        }
    }
    Ok(ExitStatus::Success)
}

pub fn run_rule(args: RuleArgs) -> anyhow::Result<ExitStatus> {
    let catalog = catalog()?;
    let custom = custom_rules(args.config.as_deref())?;
    let Some(m) = catalog
        .rules
        .iter()
        .map(|(_, m)| m)
        .chain(custom.rules.iter().map(|r| r.meta))
        .find(|m| m.id.eq_ignore_ascii_case(&args.id) || m.name == args.id)
    else {
        bail!("unknown rule `{}` (see `celery-doctor rules`)", args.id);
    };
    let _ = color::decide(
        if args.no_color {
            ColorChoice::Never
        } else {
            ColorChoice::Auto
        },
        args.format == InfoFormat::Json,
        false,
    );
    let mut out = std::io::stdout().lock();
    match args.format {
        InfoFormat::Json => {
            let v = json!({
                "code": m.id, "name": m.name, "category": m.category, "severity": m.severity,
                "default": m.default, "scope": format!("{:?}", m.scope).to_lowercase(),
                "fix": format!("{:?}", m.fix).to_lowercase(), "message": m.message, "help": m.help,
                "explanation": m.explanation, "references": m.references,
                "examples": {"bad": m.examples.bad, "good": m.examples.good},
            });
            let mut v = v;
            if let Some(r) = custom.get(&m.id) {
                v["source"] = json!(format!("{}:{}", r.file, r.line));
            }
            serde_json::to_writer_pretty(&mut out, &v).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        InfoFormat::Text => {
            writeln!(
                out,
                "{} {} ({}, {}, {})",
                m.id.bold(),
                m.name.bold(),
                m.category,
                m.severity,
                if m.default {
                    "on by default"
                } else {
                    "off by default"
                }
            )?;
            writeln!(out)?;
            writeln!(out, "Message: {}", m.message)?;
            writeln!(out, "Fix:     {}", m.help)?;
            writeln!(out)?;
            writeln!(out, "{}", m.explanation.trim_end())?;
            writeln!(out)?;
            writeln!(out, "## Example")?;
            for bad in &m.examples.bad {
                writeln!(out, "```python\n{}```", bad)?;
            }
            writeln!(out, "\n## Use instead")?;
            for good in &m.examples.good {
                writeln!(out, "```python\n{}```", good)?;
            }
            if !m.references.is_empty() {
                writeln!(out, "\n## References")?;
                for r in &m.references {
                    writeln!(out, "- {r}")?;
                }
            }
        }
    }
    Ok(ExitStatus::Success)
}
