//! Autofix (`lint --fix`, `--unsafe-fixes`, `--diff`), modelled on Ruff: a [`Fix`] is a list
//! of byte-range [`Edit`]s in the finding's file plus an [`Applicability`] and a title.
//!
//! # Attaching a fix in a rule
//!
//! Build the edits from the modelled text with the helpers below (they re-parse just the
//! expression they touch, through `crate::python`, and return `None` when the source is not
//! what they expect), wrap them with [`Fix::safe`] or [`Fix::unsafe_`] (both return `None` for
//! no or overlapping edits) and hand the result to [`Finding::with_fix`], which ignores `None`:
//!
//! ```ignore
//! let text = cx.project.file(module).text();
//! cx.report(module, def.def_span, &[("task", &name)])
//!     .with_fix(fix::add_keyword(text, def.decorator_span, "bind", "True")
//!         .and_then(|edit| Fix::safe("Add `bind=True`", [edit])));
//! ```
//!
//! Edits are offsets into the text the rule saw (the BOM already stripped); they must lie in
//! the finding's own file (`Finding::file`), must not overlap, and the fixed file must parse.
//! Helpers: [`add_keyword`] (append `name=value` to a call or a bare decorator), [`set_keyword`]
//! (replace an existing keyword's value, else add it), [`add_dict_item`] (add `"key": value` to
//! a dict display), [`rename`] (replace a span whose text is known; also inside a plain string
//! literal), [`move_lines_before`] (move whole lines up, e.g. a decorator), and
//! [`Edit::replacement`] / [`Edit::insertion`] / [`Edit::deletion`] for anything else
//! (`crate::python::call_shape` / `function_shape` / `dict_shape` give argument, body and item
//! spans).
//! The catalog's `fix:` field (`rules/<ID>.yaml`) must match what the rule attaches:
//! `tests/fixes.rs` checks that, applies every fix of every fixture, asserts the result parses,
//! that safe fixes remove their findings and that a fixed point is reached, and snapshots the
//! diff as `fixtures/<ID>/<entry>_fix.snap` (`INSTA_UPDATE=always cargo test --test fixes`).
//!
//! # Applying
//!
//! [`lint_and_fix`] lints, takes the applicable fixes in finding order (the first of
//! overlapping fixes in a file wins; the rest stay reported), applies them in memory, refuses a
//! file whose result has more syntax errors than before, and lints again until no fix applies
//! (at most [`MAX_ROUNDS`] rounds, like Ruff's fix loop). Nothing touches the disk until
//! [`write`], which first checks that every target still holds the bytes the fixes were
//! computed from and is writable, and only then replaces each file atomically (a temporary file
//! in the same directory, the original permissions, a rename).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

pub use crate::finding::{Applicability, Edit, Fix};
use crate::finding::{Finding, Span};
use crate::lint::model::facts::WorkerCommand;
use crate::lint::{InputFile, LintError, LintRun, LintSettings};

/// Fix rounds before giving up on a fixed point (Ruff uses 100; our fixes rarely chain).
pub const MAX_ROUNDS: usize = 4;

// ---------------------------------------------------------------------------------------------
// Edit builders for rules.

/// Add `keyword=value` to the call at `call` (a call expression, or a decorator span such as
/// `@app.task` or `@shared_task(max_retries=5)`). `None` when the keyword is already passed or
/// the span is not an expression.
pub fn add_keyword(source: &str, call: Span, keyword: &str, value: &str) -> Option<Edit> {
    let shape = crate::python::call_shape(source, call)?;
    if shape
        .arguments
        .iter()
        .any(|a| a.keyword.as_deref() == Some(keyword))
    {
        return None;
    }
    let kw = format!("{keyword}={value}");
    Some(match (shape.parens, shape.arguments.last()) {
        (None, _) => Edit::insertion(format!("({kw})"), shape.callee.end),
        (Some(parens), None) => Edit::insertion(kw, parens.start + 1),
        (Some(parens), Some(last)) => append_item(source, last.span, parens.end - 1, &kw)?,
    })
}

/// Insert `item` after the last element `last` of a bracketed list closed at `close` (the
/// offset of `)`, `]` or `}`). One element per line: `item` gets its own line with the same
/// indentation (after the trailing comma, if any); otherwise `, item` follows `last`.
fn append_item(source: &str, last: Span, close: u32, item: &str) -> Option<Edit> {
    let tail = source.get(last.end as usize..close as usize)?;
    let line_start = source[..last.start as usize]
        .rfind(['\n', '\r'])
        .map_or(0, |i| i + 1);
    let indent = &source[line_start..last.start as usize];
    let own_line = indent.chars().all(|c| c == ' ' || c == '\t');
    Some(
        if tail.contains(['\n', '\r']) && own_line && !tail.contains('#') {
            // One argument per line: add ours on its own line, same indentation.
            let newline = if source.contains("\r\n") {
                "\r\n"
            } else {
                "\n"
            };
            match tail.find(',') {
                Some(comma) => Edit::insertion(
                    format!("{newline}{indent}{item},"),
                    last.end + comma as u32 + 1,
                ),
                None => Edit::insertion(format!(",{newline}{indent}{item}"), last.end),
            }
        } else {
            Edit::insertion(format!(", {item}"), last.end)
        },
    )
}

/// Set `keyword=value` on the call at `call`: replace the value if the keyword is passed,
/// add it otherwise.
pub fn set_keyword(source: &str, call: Span, keyword: &str, value: &str) -> Option<Edit> {
    let shape = crate::python::call_shape(source, call)?;
    match shape
        .arguments
        .iter()
        .find(|a| a.keyword.as_deref() == Some(keyword))
    {
        Some(arg) => Some(Edit::replacement(value, arg.value)),
        None => add_keyword(source, call, keyword, value),
    }
}

/// Add `"key": value` to the dict display at `dict`, laid out like [`add_keyword`]. The dict's
/// quote style is kept: with single-quoted keys, `key` and the double quotes in `value` (which
/// must hold no quote of its own, e.g. `{"expires": 60}`) are written with single quotes.
/// `None` when the key is already there, the dict unpacks another mapping (`**base`, whose keys
/// are unknown), or the span is not a dict display.
pub fn add_dict_item(source: &str, dict: Span, key: &str, value: &str) -> Option<Edit> {
    let shape = crate::python::dict_shape(source, dict)?;
    if shape
        .items
        .iter()
        .any(|i| i.key_span.is_none() || i.key.as_deref() == Some(key))
    {
        return None;
    }
    let single = shape
        .items
        .iter()
        .filter_map(|i| i.key_span)
        .filter_map(|k| source.get(k.start as usize..k.end as usize))
        .find(|k| k.starts_with(['"', '\'']))
        .is_some_and(|k| k.starts_with('\''));
    let item = format!("\"{key}\": {value}");
    let item = if single { item.replace('"', "'") } else { item };
    match shape.items.last() {
        None => Some(Edit::insertion(item, shape.braces.start + 1)),
        Some(last) => {
            let start = last.key_span.map_or(last.value.start, |k| k.start);
            append_item(
                source,
                Span::new(start, last.value.end),
                shape.braces.end - 1,
                &item,
            )
        }
    }
}

/// Replace `span` with `new`, only if it currently reads `old` (guards against spans that
/// point into escapes, implicit concatenations or recovered syntax).
/// A plain string literal spelling `old` (`"OLD"` or `'OLD'`) has its contents replaced.
pub fn rename(source: &str, span: Span, old: &str, new: &str) -> Option<Edit> {
    let text = source.get(span.start as usize..span.end as usize)?;
    if text == old {
        return Some(Edit::replacement(new, span));
    }
    let quoted = ['"', '\''].into_iter().any(|q| {
        text.strip_prefix(q)
            .and_then(|t| t.strip_suffix(q))
            .is_some_and(|t| t == old)
    });
    quoted.then(|| Edit::replacement(new, Span::new(span.start + 1, span.end - 1)))
}

/// Move the whole lines holding `span` (with a trailing comment) up to just before `before`,
/// which must start a line after indentation only (e.g. the outermost decorator). `None` when
/// `span` shares a line with other code or `before` is not above it.
pub fn move_lines_before(source: &str, span: Span, before: u32) -> Option<Vec<Edit>> {
    let (start, end, before) = (span.start as usize, span.end as usize, before as usize);
    if before >= start || end > source.len() {
        return None;
    }
    let line_start = |at: usize| source[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let only_indent = |a: usize, b: usize| source[a..b].chars().all(|c| c == ' ' || c == '\t');
    let (from, at) = (line_start(start), line_start(before));
    if !only_indent(from, start) || !only_indent(at, before) {
        return None;
    }
    // The rest of the last line may only hold a comment.
    let eol = source[end..]
        .find(['\n', '\r'])
        .map_or(source.len(), |i| end + i);
    let rest = source[end..eol].trim_start();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return None;
    }
    let newline_len = match source.get(eol..eol + 2) {
        Some("\r\n") => 2,
        _ if eol < source.len() => 1,
        _ => 0,
    };
    let to = eol + newline_len;
    let newline = source
        .get(eol..to)
        .filter(|n| !n.is_empty())
        .unwrap_or("\n");
    let moved = format!("{}{newline}{}", &source[start..eol], &source[at..before]);
    Some(vec![
        Edit::insertion(moved, before as u32),
        Edit::deletion(Span::new(from as u32, to as u32)),
    ])
}

/// Apply sorted, non-overlapping edits to `text`; `None` if an edit is out of bounds, splits a
/// character, or overlaps the previous one.
pub fn apply_edits(text: &str, edits: &[Edit]) -> Option<String> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort();
    let mut out = String::with_capacity(text.len() + 64);
    let mut pos = 0usize;
    for e in sorted {
        let (start, end) = (e.start as usize, e.end as usize);
        if start < pos
            || end < start
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            return None;
        }
        out.push_str(text.get(pos..start)?);
        out.push_str(&e.content);
        pos = end;
    }
    out.push_str(text.get(pos..)?);
    Some(out)
}

/// Do two edits touch the same bytes (two insertions at one point count: their order would be
/// arbitrary)?
fn overlaps(a: &Edit, b: &Edit) -> bool {
    (a.start < b.end && b.start < a.end) || a.start == b.start
}

// ---------------------------------------------------------------------------------------------
// The fix loop.

/// One file the fixes change.
#[derive(Clone, Debug)]
pub struct FileFix {
    /// Display path.
    pub path: PathBuf,
    /// Where to write (the file the text was read from).
    pub disk: PathBuf,
    /// The text as read (without BOM), the fixes were computed from it.
    pub original: String,
    pub fixed: String,
}

/// What [`lint_and_fix`] did: the findings that remain and the files to change.
#[derive(Debug, Default)]
pub struct FixOutcome {
    /// The lint run over the fixed texts: what remains.
    pub run: LintRun,
    /// Findings whose fix was applied (in memory).
    pub fixed: usize,
    pub files: Vec<FileFix>,
    /// Files whose fixes were refused, with the reason (one line each).
    pub warnings: Vec<String>,
    /// Credentials found in the project: [`diff`] masks them like the reporters do.
    pub secrets: std::sync::Arc<[String]>,
}

/// The fixes of `findings` that a run with `unsafe_fixes` applies, grouped by file (display
/// path) in finding order.
fn applicable(findings: &[Finding], unsafe_fixes: bool) -> BTreeMap<PathBuf, Vec<&Fix>> {
    let mut out: BTreeMap<PathBuf, Vec<&Fix>> = BTreeMap::new();
    for f in findings {
        if let Some(fix) = f.fix.as_ref().filter(|x| x.applies(unsafe_fixes)) {
            out.entry(f.file.path.to_path_buf()).or_default().push(fix);
        }
    }
    out
}

/// Take fixes in order, skipping any that overlaps one already taken; identical fixes (two
/// findings, one repair) count as taken. Returns the edits and how many fixes they cover.
fn select(fixes: &[&Fix]) -> (Vec<Edit>, usize) {
    let mut taken: Vec<&Fix> = Vec::new();
    let mut count = 0;
    for fix in fixes {
        if taken.iter().any(|t| t.edits == fix.edits) {
            count += 1;
            continue;
        }
        let clash = taken.iter().any(|t| {
            t.edits
                .iter()
                .any(|a| fix.edits.iter().any(|b| overlaps(a, b)))
        });
        if !clash {
            taken.push(fix);
            count += 1;
        }
    }
    let mut edits: Vec<Edit> = taken.iter().flat_map(|f| f.edits.iter().cloned()).collect();
    edits.sort();
    (edits, count)
}

/// Lint `inputs`, apply the fixes allowed by `unsafe_fixes` in memory until nothing changes,
/// and return the remaining findings with the changed files. Writes nothing.
pub fn lint_and_fix(
    inputs: Vec<InputFile>,
    worker_commands: Vec<WorkerCommand>,
    settings: &LintSettings,
    unsafe_fixes: bool,
) -> Result<FixOutcome, LintError> {
    // Texts stay in memory: the reports describe the fixed text, not the file on disk.
    let mut current: Vec<InputFile> = inputs
        .into_iter()
        .map(|mut i| {
            i.disk = Some(i.disk.unwrap_or_else(|| i.path.clone()));
            i
        })
        .collect();
    let originals: Vec<String> = current.iter().map(|i| i.text.clone()).collect();
    let mut outcome = FixOutcome::default();
    let mut refused: std::collections::BTreeSet<PathBuf> = Default::default();
    let mut round = 0;
    let run = loop {
        let in_memory = current
            .iter()
            .map(|i| InputFile {
                disk: None,
                ..i.clone()
            })
            .collect();
        let run = super::lint_project(in_memory, worker_commands.clone(), settings)?;
        if let Some(f) = run.findings.iter().find(|f| !f.secrets.is_empty()) {
            outcome.secrets = f.secrets.clone();
        }
        if round == MAX_ROUNDS {
            break run;
        }
        round += 1;
        let mut changed = false;
        for (path, fixes) in applicable(&run.findings, unsafe_fixes) {
            if refused.contains(&path) {
                continue;
            }
            let Some(input) = current.iter_mut().find(|i| i.path == path) else {
                continue;
            };
            let (edits, count) = select(&fixes);
            let fixed = apply_edits(&input.text, &edits).filter(|fixed| {
                crate::python::syntax_error_count(fixed)
                    <= crate::python::syntax_error_count(&input.text)
            });
            match fixed {
                Some(fixed) if fixed != input.text => {
                    input.text = fixed;
                    outcome.fixed += count;
                    changed = true;
                }
                Some(_) => {}
                None => {
                    outcome.warnings.push(format!(
                        "{}: the fixes would not leave valid Python; left unchanged (please report this)",
                        path.display()
                    ));
                    refused.insert(path);
                }
            }
        }
        if !changed {
            break run;
        }
    };
    outcome.run = run;
    for (input, original) in current.into_iter().zip(originals) {
        if input.text != original {
            outcome.files.push(FileFix {
                disk: input.disk.unwrap_or_else(|| input.path.clone()),
                path: input.path,
                original,
                fixed: input.text,
            });
        }
    }
    Ok(outcome)
}

// ---------------------------------------------------------------------------------------------
// Output: diff and write.

/// A unified diff of every changed file (`--- a/path` / `+++ b/path`), in path order, with
/// every credential in `secrets` masked (the diff shows source lines, like the reporters).
pub fn diff(files: &[FileFix], secrets: &[String]) -> String {
    let mut out = String::new();
    for f in files {
        let path = f.path.to_string_lossy().replace('\\', "/");
        let diff = similar::TextDiff::from_lines(f.original.as_str(), f.fixed.as_str());
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .missing_newline_hint(true)
                .header(&format!("a/{path}"), &format!("b/{path}"))
                .to_string(),
        );
    }
    crate::finding::redact(secrets, &out).into_owned()
}

/// Write the fixed files. Every target is checked first — it must still hold exactly the text
/// the fixes were computed from, and be writable — so that either all files are replaced or
/// none is; each replacement is a temporary file in the same directory renamed over the
/// original, with the original's permissions and byte-order mark.
pub fn write(files: &[FileFix]) -> Result<(), LintError> {
    let err = |f: &FileFix, message: String| LintError::Path {
        path: f.path.display().to_string(),
        message,
    };
    #[cfg(debug_assertions)]
    if let Some(p) = std::env::var_os("CELERY_DOCTOR_TEST_MODIFY_BEFORE_WRITE") {
        // Test hook (debug builds only): another process edits a file after the lint run.
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .open(p)
            .and_then(|mut f| f.write_all(b"# edited meanwhile\n"));
    }
    let mut checked = Vec::with_capacity(files.len());
    for f in files {
        let meta = std::fs::metadata(&f.disk)
            .map_err(|e| err(f, format!("cannot read file: {e}; no file was fixed")))?;
        let bytes = std::fs::read(&f.disk)
            .map_err(|e| err(f, format!("cannot read file: {e}; no file was fixed")))?;
        let (bom, rest) = match bytes.strip_prefix("\u{feff}".as_bytes()) {
            Some(rest) => (true, rest),
            None => (false, &bytes[..]),
        };
        if rest != f.original.as_bytes() {
            return Err(err(
                f,
                "changed on disk since it was linted; no file was fixed (run again)".into(),
            ));
        }
        if meta.permissions().readonly() {
            return Err(err(f, "file is read-only; no file was fixed".into()));
        }
        // Through a symbolic link, replace the file it points to, not the link.
        let target = std::fs::canonicalize(&f.disk).unwrap_or_else(|_| f.disk.clone());
        checked.push((f, target, bom, meta.permissions()));
    }
    // Stage every file before replacing any.
    let mut staged: Vec<(PathBuf, PathBuf, &FileFix)> = Vec::with_capacity(files.len());
    let cleanup = |staged: &[(PathBuf, PathBuf, &FileFix)]| {
        for (tmp, _, _) in staged {
            let _ = std::fs::remove_file(tmp);
        }
    };
    for (f, target, bom, perms) in checked {
        match stage(&target, &f.fixed, bom, perms) {
            Ok(tmp) => staged.push((tmp, target, f)),
            Err(e) => {
                cleanup(&staged);
                return Err(err(f, format!("cannot write: {e}; no file was fixed")));
            }
        }
    }
    for (i, (tmp, target, f)) in staged.iter().enumerate() {
        if let Err(e) = std::fs::rename(tmp, target) {
            cleanup(&staged[i..]);
            return Err(err(
                f,
                format!(
                    "cannot replace file: {e}; {i} of {} files were fixed",
                    staged.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Write `text` to a temporary file beside `target`.
fn stage(
    target: &Path,
    text: &str,
    bom: bool,
    perms: std::fs::Permissions,
) -> std::io::Result<PathBuf> {
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty());
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir
        .unwrap_or(Path::new("."))
        .join(format!(".{name}.{}.celery-doctor-fix", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        if bom {
            file.write_all("\u{feff}".as_bytes())?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::set_permissions(&tmp, perms)
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_is_added_to_calls_and_bare_decorators() {
        let src = "@app.task\ndef a(): ...\n@shared_task(max_retries=5)\ndef b(): ...\n@app.task()\ndef c(): ...\n";
        let span = |needle: &str| {
            let start = src.find(needle).unwrap() as u32;
            Span::new(start, start + needle.len() as u32)
        };
        let fixed = |needle: &str| {
            let e = add_keyword(src, span(needle), "bind", "True").unwrap();
            apply_edits(src, &[e]).unwrap()
        };
        assert!(fixed("@app.task\n".trim_end()).starts_with("@app.task(bind=True)\n"));
        assert!(
            fixed("@shared_task(max_retries=5)").contains("@shared_task(max_retries=5, bind=True)")
        );
        assert!(fixed("@app.task()").contains("@app.task(bind=True)\ndef c"));
        assert_eq!(
            add_keyword("f(bind=False)", Span::new(0, 13), "bind", "True"),
            None
        );
        let e = set_keyword("f(bind=False)", Span::new(0, 13), "bind", "True").unwrap();
        assert_eq!(apply_edits("f(bind=False)", &[e]).unwrap(), "f(bind=True)");
        let multi = "f(\n    a=1,\n)\ng(\n    a=1\n)\n";
        let e1 = add_keyword(multi, Span::new(0, 13), "b", "2").unwrap();
        let e2 = add_keyword(multi, Span::new(14, 26), "b", "2").unwrap();
        assert_eq!(
            apply_edits(multi, &[e1, e2]).unwrap(),
            "f(\n    a=1,\n    b=2,\n)\ng(\n    a=1,\n    b=2\n)\n"
        );
        let deco = "@outer(1)\n@app.task(  # x\n    bind=True,\n)  # note\ndef f(): ...\n";
        let start = deco.find("@app").unwrap() as u32;
        let end = deco.find(")  # note").unwrap() as u32 + 1;
        let edits = move_lines_before(deco, Span::new(start, end), 0).unwrap();
        assert_eq!(
            apply_edits(deco, &edits).unwrap(),
            "@app.task(  # x\n    bind=True,\n)  # note\n@outer(1)\ndef f(): ...\n"
        );
        let crlf = "@app.task(\r\n    name=\"x\",\r\n)\r\ndef f(self): ...\r\n";
        let e = add_keyword(crlf, Span::new(0, 28), "bind", "True").unwrap();
        assert_eq!(
            apply_edits(crlf, &[e]).unwrap(),
            "@app.task(\r\n    name=\"x\",\r\n    bind=True,\r\n)\r\ndef f(self): ...\r\n"
        );
        let e = rename("x['OLD']", Span::new(2, 7), "OLD", "new").unwrap();
        assert_eq!(apply_edits("x['OLD']", &[e]).unwrap(), "x['new']");
    }

    #[test]
    fn dict_item_is_added_in_the_dict_layout_and_quote_style() {
        let add = |src: &str, key: &str, value: &str| {
            let span = Span::new(0, src.len() as u32);
            add_dict_item(src, span, key, value).map(|e| apply_edits(src, &[e]).unwrap())
        };
        assert_eq!(add("{}", "a", "1").unwrap(), "{\"a\": 1}");
        assert_eq!(
            add("{'x': 1}", "o", "{\"e\": 2}").unwrap(),
            "{'x': 1, 'o': {'e': 2}}"
        );
        assert_eq!(
            add("{\n    \"x\": 1,\n}", "e", "2").unwrap(),
            "{\n    \"x\": 1,\n    \"e\": 2,\n}"
        );
        assert_eq!(
            add("{\n    \"x\": 1  # why\n}", "e", "2").unwrap(),
            "{\n    \"x\": 1, \"e\": 2  # why\n}"
        );
        // Already there, another mapping unpacked, not a dict display.
        assert_eq!(add("{\"e\": 1}", "e", "2"), None);
        assert_eq!(add("{**base, \"x\": 1}", "e", "2"), None);
        assert_eq!(add("dict(x=1)", "e", "2"), None);
        assert_eq!(add("OPTIONS", "e", "2"), None);
    }

    #[test]
    fn overlapping_fixes_first_wins_and_identical_ones_count_once() {
        let a = Fix::safe("a", [Edit::insertion("x", 3)]).unwrap();
        let b = Fix::safe("b", [Edit::replacement("y", Span::new(2, 5))]).unwrap();
        let c = Fix::safe("c", [Edit::insertion("x", 3)]).unwrap();
        let d = Fix::safe("d", [Edit::insertion("z", 7)]).unwrap();
        let (edits, count) = select(&[&a, &b, &c, &d]);
        assert_eq!(count, 3);
        assert_eq!(apply_edits("0123456789", &edits).unwrap(), "012x3456z789");
        assert!(Fix::safe("e", [Edit::insertion("1", 2), Edit::insertion("2", 2)]).is_none());
        assert!(apply_edits("abc", &[Edit::insertion("x", 9)]).is_none());
    }
}
