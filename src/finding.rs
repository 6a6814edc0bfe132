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
    pub text: Box<str>,
    /// Built on first use: most files never need line numbers.
    lines: std::sync::OnceLock<crate::python::LineIndex>,
}

impl SourceFile {
    pub fn new(path: Arc<Path>, text: Box<str>) -> Self {
        SourceFile {
            path,
            text,
            lines: std::sync::OnceLock::new(),
        }
    }

    pub fn lines(&self) -> &crate::python::LineIndex {
        self.lines
            .get_or_init(|| crate::python::LineIndex::new(&self.text))
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
    /// A secret in the flagged source (CD803): reporters mask it wherever they show source.
    pub secret: Option<String>,
}

impl Finding {
    pub fn start(&self) -> crate::python::LineCol {
        self.file.lines().line_col(&self.file.text, self.span.start)
    }

    pub fn end(&self) -> crate::python::LineCol {
        self.file.lines().line_col(&self.file.text, self.span.end)
    }

    /// Source text with the finding's secret (if any) masked.
    pub fn redact<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.secret {
            Some(secret) if !secret.is_empty() && text.contains(secret.as_str()) => {
                text.replace(secret.as_str(), "****").into()
            }
            _ => text.into(),
        }
    }

    /// Sort key: path, line, column, code.
    pub fn sort_key(&self) -> (String, u32, &'static str) {
        (self.file.display_path(), self.span.start, self.code)
    }
}
