//! Baselines: adopt celery-doctor on a legacy codebase without fixing everything first.
//!
//! `--write-baseline FILE` records every current finding by fingerprint; `--baseline FILE`
//! reports only findings that are not in it. A fingerprint is the rule, the path (relative to the
//! baseline file's folder, so the run may start anywhere), the finding's anchor (task, setting,
//! callee…), the enclosing `def`/`class` chain and the whitespace-normalised flagged line — never a
//! line number, so edits that only move code keep matching. Identical fingerprints (the same line
//! twice in one function) are counted, so a third copy is new.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use crate::finding::Finding;

const TOOL: &str = "celery-doctor";
const KIND: &str = "baseline";
const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    // The I/O error is part of the message, not a `source`: anyhow would print it twice.
    #[error("cannot read baseline {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("baseline {path} is not valid JSON ({message}); write a new one with --write-baseline")]
    Corrupt { path: String, message: String },
    #[error(
        "baseline {path} has an invalid entry ({message}); write a new one with --write-baseline"
    )]
    Invalid { path: String, message: String },
    #[error("{path} is not a celery-doctor baseline (write one with --write-baseline)")]
    Foreign { path: String },
    #[error(
        "baseline {path} has format version {found}; this celery-doctor reads version {VERSION}"
    )]
    Version { path: String, found: u32 },
}

/// One recorded finding. `code`, `path` and `message` are for the humans who review the file
/// in a pull request; only `fingerprint` and `count` are used for matching.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub fingerprint: String,
    pub code: String,
    pub path: String,
    pub message: String,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    tool: String,
    kind: String,
    version: u32,
    findings: Vec<Entry>,
}

/// A loaded baseline and the folder its paths are relative to.
#[derive(Debug)]
pub struct Baseline {
    root: PathBuf,
    entries: Vec<Entry>,
}

/// What applying a baseline did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BaselineStats {
    /// Findings hidden because the baseline knows them.
    pub matched: usize,
    /// Baseline entries (counted) that no current finding matched: fixed or changed code.
    pub stale: usize,
}

/// The folder baseline paths are relative to: the baseline file's folder, made absolute.
fn root_of(file: &Path) -> PathBuf {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::canonicalize(&parent).unwrap_or(parent)
}

/// The finding's path relative to `root` (with `..` where it lies outside), `/`-separated; the
/// display path if it cannot be resolved.
fn relative_path(f: &Finding, root: &Path) -> String {
    let Ok(abs) = std::fs::canonicalize(&f.file.path) else {
        return f.file.display_path();
    };
    let (a, r): (Vec<_>, Vec<_>) = (abs.components().collect(), root.components().collect());
    let common = a.iter().zip(&r).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return abs.to_string_lossy().replace('\\', "/");
    }
    let mut parts: Vec<String> = vec!["..".into(); r.len() - common];
    parts.extend(
        a[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// Fingerprints and relative paths of findings, resolving each file's path once (findings of
/// one file share its `SourceFile`).
struct Keys<'r> {
    root: &'r Path,
    paths: HashMap<*const crate::finding::SourceFile, String>,
}

impl<'r> Keys<'r> {
    fn new(root: &'r Path) -> Self {
        Keys {
            root,
            paths: HashMap::default(),
        }
    }

    fn of(&mut self, f: &Finding) -> (String, String) {
        let root = self.root;
        let path = self
            .paths
            .entry(std::sync::Arc::as_ptr(&f.file))
            .or_insert_with(|| relative_path(f, root))
            .clone();
        (crate::report::fingerprint_at(f, &path), path)
    }
}

impl Baseline {
    /// Record `findings` for a baseline file to be written at `file`.
    pub fn record(findings: &[Finding], file: &Path) -> Baseline {
        let root = root_of(file);
        let mut by_print: BTreeMap<String, Entry> = BTreeMap::new();
        let mut keys = Keys::new(&root);
        for f in findings {
            let (fingerprint, path) = keys.of(f);
            by_print
                .entry(fingerprint.clone())
                .and_modify(|e| e.count += 1)
                .or_insert_with(|| Entry {
                    fingerprint,
                    code: f.code.to_string(),
                    path,
                    message: f.message.clone(),
                    count: 1,
                });
        }
        let mut entries: Vec<Entry> = by_print.into_values().collect();
        entries.sort_by(|a, b| {
            (&a.path, &a.code, &a.message, &a.fingerprint).cmp(&(
                &b.path,
                &b.code,
                &b.message,
                &b.fingerprint,
            ))
        });
        Baseline { root, entries }
    }

    /// The file's text: stable order, one entry per fingerprint, reviewable in a diff.
    pub fn to_json(&self) -> String {
        let file = File {
            tool: TOOL.into(),
            kind: KIND.into(),
            version: VERSION,
            findings: self.entries.clone(),
        };
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    pub fn len(&self) -> usize {
        self.entries.iter().map(|e| e.count as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| BaselineError::Read {
            path: shown.clone(),
            error,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| BaselineError::Corrupt {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        let ours = value.get("tool").and_then(|t| t.as_str()) == Some(TOOL)
            && value.get("kind").and_then(|k| k.as_str()) == Some(KIND);
        if !ours {
            return Err(BaselineError::Foreign { path: shown });
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => {
                return Err(BaselineError::Version {
                    path: shown,
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                });
            }
            None => {
                return Err(BaselineError::Corrupt {
                    path: shown,
                    message: "no `version`".into(),
                });
            }
        }
        let file: File = serde_json::from_value(value).map_err(|e| BaselineError::Invalid {
            path: shown,
            message: e.to_string(),
        })?;
        Ok(Baseline {
            root: root_of(path),
            entries: file.findings,
        })
    }

    /// Keep only the findings the baseline does not know; count what it hid and what is stale.
    pub fn filter(&self, findings: Vec<Finding>) -> (Vec<Finding>, BaselineStats) {
        let mut left: HashMap<&str, u32> = HashMap::default();
        for e in &self.entries {
            *left.entry(e.fingerprint.as_str()).or_default() += e.count;
        }
        let mut stats = BaselineStats::default();
        let mut kept = Vec::with_capacity(findings.len());
        let mut keys = Keys::new(&self.root);
        for f in findings {
            let (fingerprint, _) = keys.of(&f);
            match left.get_mut(fingerprint.as_str()) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    stats.matched += 1;
                }
                _ => kept.push(f),
            }
        }
        stats.stale = left.values().map(|&n| n as usize).sum();
        (kept, stats)
    }
}
