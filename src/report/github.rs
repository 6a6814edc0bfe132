//! GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` per finding.

use std::io::Write;

use crate::finding::Severity;
use crate::lint::LintRun;

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub(super) fn write(out: &mut dyn Write, run: &LintRun) -> anyhow::Result<()> {
    for f in &run.findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let (s, e) = (f.start(), f.end());
        writeln!(
            out,
            "::{level} title={},file={},line={},col={},endLine={},endColumn={}::{}",
            escape_property(&format!("celery-doctor {} ({})", f.code, f.name)),
            escape_property(&f.file.display_path()),
            s.line,
            s.column,
            e.line,
            e.column,
            escape_data(&format!("{} {}", f.code, f.message))
        )?;
    }
    Ok(())
}
