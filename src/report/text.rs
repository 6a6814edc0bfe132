//! `path:line:col: CD101 message`, the source line with carets, a `help:` line; then a summary.

use std::collections::BTreeMap;
use std::io::Write;

use colored::Colorize;
use comfy_table::{Table, presets::NOTHING};

use super::TextOptions;
use crate::finding::{Finding, Severity};
use crate::lint::LintRun;

fn code(f: &Finding) -> colored::ColoredString {
    match f.severity {
        Severity::Error => f.code.red().bold(),
        Severity::Warning => f.code.yellow().bold(),
        Severity::Info => f.code.cyan().bold(),
    }
}

fn write_finding(out: &mut dyn Write, f: &Finding, opts: TextOptions) -> std::io::Result<()> {
    let start = f.start();
    let end = f.end();
    let fixable = if f.fix.as_ref().is_some_and(|x| x.applies(opts.unsafe_fixes)) {
        format!("{} ", "[*]".cyan())
    } else {
        String::new()
    };
    writeln!(
        out,
        "{}:{}:{}: {} {fixable}{}",
        f.file.display_path().bold(),
        start.line,
        start.column,
        code(f),
        f.message
    )?;
    let line_idx = start.line as usize - 1;
    let src = f
        .redact(f.file.lines().line_text(f.file.text(), line_idx))
        .replace('\t', " ");
    let num = start.line.to_string();
    let pad = " ".repeat(num.len());
    let width = src.chars().count() as u32;
    let caret_start = start.column.saturating_sub(1).min(width);
    let caret_end = if end.line == start.line {
        end.column.saturating_sub(1).min(width)
    } else {
        width
    };
    let carets = caret_end.saturating_sub(caret_start).max(1) as usize;
    writeln!(out, "{pad} {}", "|".blue().bold())?;
    writeln!(out, "{} {} {src}", num.blue().bold(), "|".blue().bold())?;
    writeln!(
        out,
        "{pad} {} {}{}",
        "|".blue().bold(),
        " ".repeat(caret_start as usize),
        "^".repeat(carets).red().bold()
    )?;
    if let Some(task) = &f.task {
        writeln!(out, "{pad} {} task: {task}", "=".blue().bold())?;
    }
    if let Some(help) = &f.help {
        writeln!(out, "{pad} {} {} {help}", "=".blue().bold(), "help:".bold())?;
    }
    writeln!(out)
}

pub(super) fn write(out: &mut dyn Write, run: &LintRun, opts: TextOptions) -> anyhow::Result<()> {
    if !opts.quiet || !run.findings.is_empty() {
        for f in &run.findings {
            write_finding(out, f, opts)?;
        }
    }
    if opts.statistics {
        let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for f in &run.findings {
            *counts.entry((f.code, f.name)).or_default() += 1;
        }
        let mut rows: Vec<_> = counts.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut table = Table::new();
        table.load_preset(NOTHING);
        if !opts.color {
            table.force_no_tty();
        }
        for ((c, n), count) in rows {
            table.add_row(vec![count.to_string(), c.to_string(), n.to_string()]);
        }
        if !run.findings.is_empty() {
            writeln!(out, "{table}")?;
        }
    }
    if opts.quiet {
        return Ok(());
    }
    let errors = run
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = run
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    let infos = run
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Info)
        .count();
    let files = run.files_checked;
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            one.to_string()
        } else {
            many.to_string()
        }
    };
    if run.findings.is_empty() {
        writeln!(out, "{} No findings.", "✓".green().bold())?;
    } else {
        writeln!(
            out,
            "Found {} {} ({} {}, {} {}, {} info).",
            run.findings.len(),
            plural(run.findings.len(), "finding", "findings"),
            errors,
            plural(errors, "error", "errors"),
            warnings,
            plural(warnings, "warning", "warnings"),
            infos
        )?;
    }
    if let Some(fixed) = run.fixed {
        writeln!(
            out,
            "Fixed {fixed} {} ({} remaining).",
            plural(fixed, "finding", "findings"),
            run.findings.len()
        )?;
    }
    let fixable = run
        .findings
        .iter()
        .filter(|f| f.fix.as_ref().is_some_and(|x| x.applies(opts.unsafe_fixes)))
        .count();
    let hidden = run
        .findings
        .iter()
        .filter(|f| {
            f.fix
                .as_ref()
                .is_some_and(|x| !x.applies(opts.unsafe_fixes))
        })
        .count();
    let hidden_note = format!(
        "{hidden} hidden {} can be enabled with `--unsafe-fixes`",
        plural(hidden, "fix", "fixes")
    );
    let flags = if opts.unsafe_fixes {
        "`--fix --unsafe-fixes`"
    } else {
        "`--fix`"
    };
    match (fixable, hidden) {
        (0, 0) => {}
        (0, _) => writeln!(out, "No fixes available ({hidden_note}).")?,
        (_, 0) => writeln!(out, "{} {fixable} fixable with {flags}.", "[*]".cyan())?,
        (_, _) => writeln!(
            out,
            "{} {fixable} fixable with {flags} ({hidden_note}).",
            "[*]".cyan()
        )?,
    }
    let mut extra = Vec::new();
    if run.files_with_syntax_errors > 0 {
        extra.push(format!(
            "{} with syntax errors",
            run.files_with_syntax_errors
        ));
    }
    if run.files_skipped > 0 {
        extra.push(format!("{} skipped", run.files_skipped));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join(", "))
    };
    writeln!(
        out,
        "Checked {files} {}{extra}.",
        plural(files, "file", "files")
    )?;
    if let Some(b) = run.baseline {
        writeln!(out, "{}", super::baseline_summary(b))?;
    }
    Ok(())
}
