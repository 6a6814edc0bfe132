//! The one result type. Rules produce [`Finding`]s; reporters only render them.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered so that `Error > Warning > Info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// SARIF `level` for this severity.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Info => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A byte range in one source file. Line and column are computed only when rendering.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub const fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }
}

/// A source file as the reporters need it: its display path and text.
#[derive(Debug)]
pub struct SourceFile {
    /// Path relative to the working directory (or as given), with `/` separators.
    pub path: Arc<Path>,
    /// The text that was modelled. Files read from disk drop it after modelling (like Ruff,
    /// we do not hold a whole tree in memory) and reload it when a reporter needs it.
    text: std::sync::OnceLock<Box<str>>,
    /// Where to reload the text from, and a hash of the text that was modelled: if the file
    /// changed in between, the reporters get an empty text rather than wrong lines.
    disk: Option<(std::path::PathBuf, u64)>,
    /// Built on first use: most files never need line numbers.
    lines: std::sync::OnceLock<crate::python::LineIndex>,
}

/// Mask every secret in `text`. Secrets are URL passwords and are matched in their URL
/// position (`:password@`), so a password that is also an ordinary word (`celery`) does not
/// mangle the rest of the text.
pub fn redact<'a>(secrets: &[String], text: &'a str) -> std::borrow::Cow<'a, str> {
    let mut out = std::borrow::Cow::Borrowed(text);
    if !text.contains('@') {
        return out; // no `:password@` in it (most messages)
    }
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let needle = format!(":{secret}@");
        if out.contains(needle.as_str()) {
            out = std::borrow::Cow::Owned(out.replace(needle.as_str(), ":****@"));
        }
    }
    out
}

/// A fast, non-cryptographic content hash.
pub fn content_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    text.hash(&mut h);
    h.finish()
}

impl SourceFile {
    /// A file whose text stays in memory.
    pub fn new(path: Arc<Path>, text: Box<str>) -> Self {
        let cell = std::sync::OnceLock::new();
        let _ = cell.set(text);
        SourceFile {
            path,
            text: cell,
            disk: None,
            lines: std::sync::OnceLock::new(),
        }
    }

    /// A file read from `disk`, modelled with text of hash `hash`; the text is reloaded lazily.
    pub fn from_disk(path: Arc<Path>, disk: std::path::PathBuf, hash: u64) -> Self {
        SourceFile {
            path,
            text: std::sync::OnceLock::new(),
            disk: Some((disk, hash)),
            lines: std::sync::OnceLock::new(),
        }
    }

    pub fn text(&self) -> &str {
        self.text.get_or_init(|| {
            let Some((disk, hash)) = &self.disk else {
                return Box::from("");
            };
            match std::fs::read_to_string(disk) {
                Ok(mut t) => {
                    if t.starts_with('\u{feff}') {
                        t.replace_range(..3, "");
                    }
                    if content_hash(&t) == *hash {
                        t.into_boxed_str()
                    } else {
                        Box::from("")
                    }
                }
                Err(_) => Box::from(""),
            }
        })
    }

    pub fn lines(&self) -> &crate::python::LineIndex {
        self.lines
            .get_or_init(|| crate::python::LineIndex::new(self.text()))
    }

    pub fn display_path(&self) -> String {
        self.path.to_string_lossy().replace('\\', "/")
    }
}

/// A related location (SARIF `relatedLocations`): "the first definition is here".
#[derive(Clone, Debug)]
pub struct Related {
    pub file: Arc<SourceFile>,
    pub span: Span,
    pub message: String,
}

/// One finding of one rule at one place.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Rule code, e.g. `CD201`.
    pub code: &'static str,
    /// Rule name, e.g. `task-without-time-limit`.
    pub name: &'static str,
    /// Effective severity (after per-result downgrades and config overrides).
    pub severity: Severity,
    /// The rendered one-line message.
    pub message: String,
    pub file: Arc<SourceFile>,
    pub span: Span,
    /// Imperative one-line fix hint from the catalog.
    pub help: Option<&'static str>,
    /// Registered task name, where the finding is about a task.
    pub task: Option<String>,
    /// A stable anchor for fingerprints (task name, setting key, callee…), never a line number.
    pub anchor: String,
    pub related: Vec<Related>,
    /// The message variant and its template arguments (SARIF `message.id`/`arguments`).
    pub variant: Option<String>,
    pub args: Vec<(String, String)>,
    /// Every credential the model found in URL literals of the project: reporters mask them
    /// wherever they show source text, and messages are masked before they are stored.
    pub secrets: Arc<[String]>,
    /// A machine-applicable fix (`--fix`, `--unsafe-fixes`, `--diff`), if the rule offers one.
    pub fix: Option<Fix>,
}

/// Whether `--fix` applies a fix on its own (Ruff's applicability).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    /// Needs `--unsafe-fixes`: behaviour changes (the catalog's `unsafe`).
    Unsafe,
    /// Applied by `--fix`: behaviour-preserving or only removes a crash.
    Safe,
}

impl Applicability {
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::Unsafe => "unsafe",
        }
    }
}

/// Replace the bytes `start..end` of the finding's file with `content` (an insertion when
/// `start == end`, a deletion when `content` is empty). Offsets are into the modelled text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edit {
    pub start: u32,
    pub end: u32,
    pub content: String,
}

impl Edit {
    pub fn replacement(content: impl Into<String>, span: Span) -> Self {
        Edit {
            start: span.start,
            end: span.end,
            content: content.into(),
        }
    }

    pub fn insertion(content: impl Into<String>, at: u32) -> Self {
        Edit {
            start: at,
            end: at,
            content: content.into(),
        }
    }

    pub fn deletion(span: Span) -> Self {
        Edit::replacement(String::new(), span)
    }

    pub fn span(&self) -> Span {
        Span::new(self.start, self.end)
    }
}

/// A fix: non-overlapping edits in the finding's file, sorted by position, a short
/// imperative title ("Add `bind=True`") and its applicability.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub applicability: Applicability,
    pub edits: Vec<Edit>,
}

impl Fix {
    /// A fix `--fix` applies. `None` when `edits` is empty or its edits overlap.
    pub fn safe(title: impl Into<String>, edits: impl IntoIterator<Item = Edit>) -> Option<Self> {
        Fix::new(
            title.into(),
            Applicability::Safe,
            edits.into_iter().collect(),
        )
    }

    /// A fix that needs `--unsafe-fixes`. `None` when `edits` is empty or overlaps.
    pub fn unsafe_(
        title: impl Into<String>,
        edits: impl IntoIterator<Item = Edit>,
    ) -> Option<Self> {
        Fix::new(
            title.into(),
            Applicability::Unsafe,
            edits.into_iter().collect(),
        )
    }

    pub fn new(title: String, applicability: Applicability, mut edits: Vec<Edit>) -> Option<Self> {
        edits.sort();
        let overlapping = edits
            .windows(2)
            .any(|w| w[1].start < w[0].end || (w[1].start == w[0].start && w[0].start == w[0].end));
        if edits.is_empty() || overlapping || edits.iter().any(|e| e.start > e.end) {
            return None;
        }
        Some(Fix {
            title,
            applicability,
            edits,
        })
    }

    /// Smallest start and largest end of the edits.
    pub fn range(&self) -> Span {
        Span::new(
            self.edits.first().map_or(0, |e| e.start),
            self.edits.iter().map(|e| e.end).max().unwrap_or(0),
        )
    }

    /// Applied by a run with these options?
    pub fn applies(&self, unsafe_fixes: bool) -> bool {
        self.applicability == Applicability::Safe || unsafe_fixes
    }
}

impl Finding {
    pub fn start(&self) -> crate::python::LineCol {
        self.file
            .lines()
            .line_col(self.file.text(), self.span.start)
    }

    pub fn end(&self) -> crate::python::LineCol {
        self.file.lines().line_col(self.file.text(), self.span.end)
    }

    /// Source text with every known secret masked.
    pub fn redact<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        redact(&self.secrets, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloads_the_modelled_text_and_never_a_changed_one() {
        let dir = std::env::temp_dir().join(format!("celery-doctor-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tasks.py");
        std::fs::write(&path, "x = 1\n").unwrap();
        let same = SourceFile::from_disk(
            Arc::from(Path::new("tasks.py")),
            path.clone(),
            content_hash("x = 1\n"),
        );
        assert_eq!(same.text(), "x = 1\n");
        let changed = SourceFile::from_disk(
            Arc::from(Path::new("tasks.py")),
            path.clone(),
            content_hash("y = 2\n"),
        );
        assert_eq!(changed.text(), "");
        assert_eq!(changed.lines().line_col(changed.text(), 40).line, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
