//! Reporters: render one list of [`Finding`]s as text, JSON, SARIF 2.1.0 or GitHub annotations.
//! They see only findings and the rule catalog, never the model.

mod github;
mod json;
pub(crate) mod sarif;
mod text;

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::finding::Finding;
use crate::lint::LintRun;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Github,
}

impl Format {
    pub fn is_machine(self) -> bool {
        self != Format::Text
    }
}

/// Options that change how text output looks.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    pub statistics: bool,
    pub quiet: bool,
    pub color: bool,
    /// `--unsafe-fixes`: unsafe fixes count as fixable (`[*]`).
    pub unsafe_fixes: bool,
}

pub fn write(
    format: Format,
    out: &mut dyn Write,
    run: &LintRun,
    text: TextOptions,
) -> anyhow::Result<()> {
    match format {
        Format::Text => text::write(out, run, text),
        Format::Json => json::write(out, run),
        Format::Sarif => sarif::write(out, run),
        Format::Github => github::write(out, run),
    }
}

/// Stable fingerprint: rule, path, anchor (task, setting, callee…) and the whitespace-normalised
/// source line — never the line number, so it survives edits that move code.
pub fn fingerprint(f: &Finding) -> String {
    let line = f.file.lines().line_of(f.span.start);
    let source: String = f
        .redact(f.file.lines().line_text(f.file.text(), line))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut h = Sha256::new();
    for part in [f.code, &f.file.display_path(), &f.anchor, &source] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn tool_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
