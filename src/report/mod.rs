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

/// One line about what a baseline hid and what in it is stale.
pub fn baseline_summary(b: crate::lint::baseline::BaselineStats) -> String {
    let mut line = format!(
        "Baseline: {} known {} hidden",
        b.matched,
        if b.matched == 1 {
            "finding"
        } else {
            "findings"
        }
    );
    if b.stale > 0 {
        line.push_str(&format!(
            "; {} stale {} no longer {} (fixed or changed; refresh with --write-baseline)",
            b.stale,
            if b.stale == 1 { "entry" } else { "entries" },
            if b.stale == 1 { "occurs" } else { "occur" }
        ));
    }
    line.push('.');
    line
}

/// Stable fingerprint: rule, path, anchor (task, setting, callee…), the enclosing `def`/`class`
/// chain and the whitespace-normalised source line — never the line number, so it survives edits
/// that move code.
pub fn fingerprint(f: &Finding) -> String {
    fingerprint_at(f, &f.file.display_path())
}

/// [`fingerprint`] with the path spelled by the caller (baselines use paths relative to the
/// baseline file).
pub fn fingerprint_at(f: &Finding, path: &str) -> String {
    let text = f.file.text();
    let lines = f.file.lines();
    let line = lines.line_of(f.span.start);
    let source = crate::text::one_line(&f.redact(lines.line_text(text, line)));
    let scope = enclosing_scope(text, f.span.start as usize);
    let mut h = Sha256::new();
    for part in [f.code, path, &f.anchor, &scope, &source] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for b in digest.iter().take(16) {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// The `def`/`class` names enclosing `offset`, outermost first (`Importer.run`), read from
/// indentation: each earlier `def`/`class` line indented less than everything seen so far opens
/// a scope around the offset. Blank lines and comments do not count; text inside multi-line
/// strings can only add a name, which is harmless for a fingerprint.
fn enclosing_scope(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let mut head = &text[..offset];
    // Start at the flagged line's indentation.
    let line_start = head.rfind('\n').map_or(0, |i| i + 1);
    let first = &text[line_start..];
    let mut indent = first.len() - first.trim_start_matches([' ', '\t']).len();
    if first.trim_start().starts_with("def ")
        || first.trim_start().starts_with("async def ")
        || first.trim_start().starts_with("class ")
    {
        // A finding on a `def` line names that function.
        indent += 1;
        head = &text[..text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i)];
    } else {
        head = &text[..line_start];
    }
    let mut names = Vec::new();
    for raw in head.lines().rev() {
        if indent == 0 {
            break;
        }
        let body = raw.trim_start_matches([' ', '\t']);
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let here = raw.len() - body.len();
        if here >= indent {
            continue;
        }
        indent = here;
        let rest = body
            .strip_prefix("async ")
            .unwrap_or(body)
            .strip_prefix("def ")
            .or_else(|| body.strip_prefix("class "));
        if let Some(rest) = rest {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names.reverse();
    names.join(".")
}

pub(crate) fn tool_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[cfg(test)]
mod tests {
    use super::enclosing_scope;

    #[test]
    fn scope_follows_indentation() {
        let text = "import x\n\nclass Importer:\n    def run(self):\n        # note\n\n        if x:\n            go()\n\n    def other(self):\n        go()\n\ngo()\n";
        let at = |needle: &str, nth: usize| text.match_indices(needle).nth(nth).unwrap().0;
        assert_eq!(enclosing_scope(text, at("go()", 0)), "Importer.run");
        assert_eq!(enclosing_scope(text, at("go()", 1)), "Importer.other");
        assert_eq!(enclosing_scope(text, at("go()", 2)), "");
        assert_eq!(enclosing_scope(text, at("def run", 0) + 4), "Importer.run");
        assert_eq!(enclosing_scope(text, at("import", 0)), "");
    }
}
