//! Celery setting names: the new lowercase names and Celery's old → new map, generated from the
//! pinned Celery by `scripts/gen_settings_table.py`, and the namespace rules Celery applies.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

pub use super::settings_table::CELERY_VERSION;
use super::settings_table::{NEW_SETTINGS, OLD_TO_NEW};

static NEW: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| NEW_SETTINGS.iter().copied().collect());
static OLD: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| OLD_TO_NEW.iter().copied().collect());

/// How a configuration source is read by Celery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `config_from_object(..., namespace="CELERY")`.
    Namespace(String),
    /// A config module/class/dict without namespace, or `conf.update()`.
    Plain,
    /// Not resolved (Django settings found by file name only).
    Unknown,
}

/// What a key means to Celery in a given mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A current name; the value is the normalised lowercase name.
    New(String),
    /// An old (pre-4.0) name; the value is the lowercase name it maps to.
    Old(String),
    /// Not a setting Celery reads in this mode.
    Unknown,
}

pub fn is_new(name: &str) -> bool {
    NEW.contains(name)
}

pub fn old_to_new(name: &str) -> Option<&'static str> {
    OLD.get(name).copied()
}

pub fn new_names() -> impl Iterator<Item = &'static str> {
    NEW_SETTINGS.iter().copied()
}

pub fn old_names() -> impl Iterator<Item = &'static str> {
    OLD_TO_NEW.iter().map(|(o, _)| *o)
}

/// Classify `raw` as Celery would in `mode`.
pub fn classify(raw: &str, mode: &Mode) -> KeyKind {
    match mode {
        Mode::Namespace(ns) => {
            let prefix = format!("{ns}_");
            if let Some(rest) = raw.strip_prefix(&prefix) {
                let lower = rest.to_ascii_lowercase();
                if rest == rest.to_ascii_uppercase() && is_new(&lower) {
                    return KeyKind::New(lower);
                }
            }
            if is_new(raw) {
                return KeyKind::New(raw.to_string());
            }
            match old_to_new(raw) {
                Some(new) => KeyKind::Old(new.to_string()),
                None => KeyKind::Unknown,
            }
        }
        Mode::Plain => {
            if is_new(raw) {
                KeyKind::New(raw.to_string())
            } else if let Some(new) = old_to_new(raw) {
                KeyKind::Old(new.to_string())
            } else {
                KeyKind::Unknown
            }
        }
        Mode::Unknown => match classify(raw, &Mode::Namespace("CELERY".into())) {
            KeyKind::Unknown => classify(raw, &Mode::Plain),
            known => known,
        },
    }
}

/// The spelling of a new setting in a mode: `task_time_limit` or `CELERY_TASK_TIME_LIMIT`.
pub fn spell(new: &str, mode: &Mode) -> String {
    match mode {
        Mode::Namespace(ns) => format!("{ns}_{}", new.to_ascii_uppercase()),
        Mode::Unknown => format!("CELERY_{}", new.to_ascii_uppercase()),
        Mode::Plain => new.to_string(),
    }
}

/// Levenshtein distance, bounded: returns `max + 1` as soon as it is exceeded.
pub fn distance(a: &str, b: &str, max: usize) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            row_min = row_min.min(cur[j]);
        }
        if row_min > max {
            return max + 1;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_rules_match_celery() {
        let ns = Mode::Namespace("CELERY".into());
        assert_eq!(
            classify("CELERY_TASK_TIME_LIMIT", &ns),
            KeyKind::New("task_time_limit".into())
        );
        assert_eq!(
            classify("CELERY_RESULT_BACKEND", &ns),
            KeyKind::New("result_backend".into())
        );
        assert_eq!(
            classify("CELERYD_TASK_TIME_LIMIT", &ns),
            KeyKind::Old("task_time_limit".into())
        );
        assert_eq!(
            classify("BROKER_URL", &ns),
            KeyKind::Old("broker_url".into())
        );
        assert_eq!(
            classify("CELERY_MAX_TASKS_PER_CHILD", &ns),
            KeyKind::Unknown
        );
        // Without a namespace the prefixed new spelling is not read …
        assert_eq!(
            classify("CELERY_TASK_TIME_LIMIT", &Mode::Plain),
            KeyKind::Unknown
        );
        // … but names that are also old names still work.
        assert_eq!(
            classify("CELERY_RESULT_BACKEND", &Mode::Plain),
            KeyKind::Old("result_backend".into())
        );
        assert_eq!(
            classify("task_time_limit", &Mode::Plain),
            KeyKind::New("task_time_limit".into())
        );
    }

    #[test]
    fn bounded_distance() {
        assert_eq!(distance("task_timelimit", "task_time_limit", 2), 1);
        assert_eq!(
            distance("CELERT_TASK_TIME_LIMIT", "CELERY_TASK_TIME_LIMIT", 2),
            1
        );
        assert!(distance("abc", "xyzxyz", 2) > 2);
    }
}
