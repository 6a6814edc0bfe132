//! JSON: a stable array of findings, sorted by path, line, column and code.
//! Schema (documented in the README): code, name, severity, message, path, start{line,column},
//! end{line,column}, task, help, url, fingerprint, and `fix` where the rule offers one:
//! {applicability: safe|unsafe, title, edits: [{start{line,column}, end{line,column}, content}]}.

use std::io::Write;

use serde::Serialize;

use crate::lint::LintRun;

#[derive(Serialize)]
struct Pos {
    line: u32,
    column: u32,
}

#[derive(Serialize)]
struct Item<'a> {
    code: &'a str,
    name: &'a str,
    severity: &'a str,
    message: &'a str,
    path: String,
    start: Pos,
    end: Pos,
    task: Option<&'a str>,
    help: Option<&'a str>,
    url: String,
    fingerprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<FixItem<'a>>,
}

#[derive(Serialize)]
struct FixItem<'a> {
    applicability: &'a str,
    title: &'a str,
    edits: Vec<EditItem<'a>>,
}

#[derive(Serialize)]
struct EditItem<'a> {
    start: Pos,
    end: Pos,
    content: std::borrow::Cow<'a, str>,
}

fn pos(f: &crate::finding::Finding, offset: u32) -> Pos {
    let lc = f.file.lines().line_col(f.file.text(), offset);
    Pos {
        line: lc.line,
        column: lc.column,
    }
}

/// A buffer that indents every line after the first by two spaces as it is written (JSON text
/// has no raw newlines inside strings, so every newline is the pretty printer's).
struct Indented(Vec<u8>);

impl Write for Indented {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            self.0.extend_from_slice(&rest[..=i]);
            self.0.extend_from_slice(b"  ");
            rest = &rest[i + 1..];
        }
        self.0.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(super) fn write(out: &mut dyn Write, run: &LintRun) -> anyhow::Result<()> {
    let catalog = crate::lint::rules::catalog()?;
    use rayon::prelude::*;
    // Build and serialise the items in parallel (a large tree has thousands), in batches so that
    // their text is never all in memory at once, and lay them out exactly as
    // `serde_json::to_writer_pretty` lays out the array: two more spaces a line.
    let serialize = |f: &crate::finding::Finding| -> std::io::Result<Vec<u8>> {
        let (s, e) = (f.start(), f.end());
        let item = Item {
            code: f.code,
            name: f.name,
            severity: f.severity.as_str(),
            message: &f.message,
            path: f.file.display_path(),
            start: Pos {
                line: s.line,
                column: s.column,
            },
            end: Pos {
                line: e.line,
                column: e.column,
            },
            task: f.task.as_deref(),
            help: f.help,
            url: catalog.get(f.code).map(|m| m.doc_url()).unwrap_or_default(),
            fingerprint: super::fingerprint(f),
            fix: f.fix.as_ref().map(|x| FixItem {
                applicability: x.applicability.as_str(),
                title: &x.title,
                edits: x
                    .edits
                    .iter()
                    .map(|e| EditItem {
                        start: pos(f, e.start),
                        end: pos(f, e.end),
                        content: f.redact(&e.content),
                    })
                    .collect(),
            }),
        };
        let mut indented = Indented(Vec::with_capacity(768));
        indented.0.extend_from_slice(b"  ");
        serde_json::to_writer_pretty(&mut indented, &item).map_err(std::io::Error::from)?;
        Ok(indented.0)
    };
    if run.findings.is_empty() {
        out.write_all(b"[]")?;
    } else {
        out.write_all(b"[\n")?;
        for (b, batch) in run.findings.chunks(1024).enumerate() {
            let items: Vec<Vec<u8>> = batch.par_iter().map(serialize).collect::<Result<_, _>>()?;
            for (i, item) in items.iter().enumerate() {
                if b > 0 || i > 0 {
                    out.write_all(b",\n")?;
                }
                out.write_all(item)?;
            }
        }
        out.write_all(b"\n]")?;
    }
    writeln!(out)?;
    Ok(())
}
