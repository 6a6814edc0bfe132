//! Fixture helpers shared by `tests/rules.rs` and `tests/fixes.rs`.

use std::path::PathBuf;

use celery_doctor::lint::LintSettings;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Only rule `id` enabled.
pub fn settings_for(id: &str) -> LintSettings {
    LintSettings {
        select: vec![id.to_string()],
        ..LintSettings::default()
    }
}

/// The `bad*`/`good*` entries (files or project folders) of `fixtures/<id>/`, sorted.
pub fn fixture_entries(id: &str) -> Vec<PathBuf> {
    let dir = root().join("fixtures").join(id);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|_| panic!("fixtures/{id}/ is missing"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name.starts_with("bad") || name.starts_with("good"))
                && (p.is_dir() || name.ends_with(".py"))
        })
        .collect();
    entries.sort();
    entries
}
