//! Autofix over every fixture of every rule: fixes never leave code that does not parse, safe
//! fixes remove their finding, each rule's fixes stay in the catalog's `fix:` class, and the
//! diff of every rule with fixes is snapshot-tested (`fixtures/<ID>/<entry>_fix.snap`).

use std::path::Path;

use celery_doctor::finding::Applicability;
use celery_doctor::lint::catalog::FixSafety;
use celery_doctor::lint::fix::{self, FixOutcome};
use celery_doctor::lint::rules::{RULES, catalog};
use celery_doctor::lint::{LintSettings, walk};

mod common;
use common::{fixture_entries, root, settings_for};

fn fix_entry(entry: &Path, settings: &LintSettings, unsafe_fixes: bool) -> FixOutcome {
    let cwd = if entry.is_dir() {
        entry.to_path_buf()
    } else {
        entry.parent().unwrap().to_path_buf()
    };
    let collected = walk::collect(&[entry.to_path_buf()], None, &cwd).expect("collect");
    fix::lint_and_fix(
        collected.inputs,
        collected.worker_commands,
        settings,
        unsafe_fixes,
    )
    .expect("lint")
}

#[test]
fn fixes_parse_remove_safe_findings_and_match_the_catalog() {
    let catalog = catalog().unwrap();
    let mut failures = Vec::new();
    for rule in RULES {
        let meta = catalog.get(rule.id).unwrap();
        let settings = settings_for(rule.id);
        for entry in fixture_entries(rule.id) {
            let name = format!(
                "fixtures/{}/{}",
                rule.id,
                entry.file_name().unwrap().to_string_lossy()
            );
            // Before fixing: every fix matches the catalog's class.
            let before = fix_entry(&entry, &settings, false);
            let cwd = if entry.is_dir() {
                entry.clone()
            } else {
                entry.parent().unwrap().to_path_buf()
            };
            let original = walk::collect(std::slice::from_ref(&entry), None, &cwd).unwrap();
            let first = celery_doctor::lint::lint_project(
                original.inputs,
                original.worker_commands,
                &settings,
            )
            .unwrap();
            for f in &first.findings {
                let Some(x) = &f.fix else { continue };
                let allowed = match meta.fix {
                    FixSafety::None => false,
                    FixSafety::Safe => true, // "safe" rules may have unsafe cases (CD107)
                    FixSafety::Unsafe => x.applicability == Applicability::Unsafe,
                };
                if !allowed {
                    failures.push(format!(
                        "{name}: {} fix `{}` but the catalog says {:?}",
                        x.applicability.as_str(),
                        x.title,
                        meta.fix
                    ));
                }
            }
            // Safe fixes: applied, parse, and their findings are gone.
            if !before.warnings.is_empty() {
                failures.push(format!("{name}: {:?}", before.warnings));
            }
            let safe_before = first
                .findings
                .iter()
                .filter(|f| {
                    f.fix
                        .as_ref()
                        .is_some_and(|x| x.applicability == Applicability::Safe)
                })
                .count();
            if before.fixed != safe_before {
                failures.push(format!(
                    "{name}: {safe_before} safe fixes offered, {} applied",
                    before.fixed
                ));
            }
            if before.run.findings.len() + before.fixed != first.findings.len() {
                failures.push(format!(
                    "{name}: safe fixes did not remove their findings ({} before, {} fixed, {} after)",
                    first.findings.len(),
                    before.fixed,
                    before.run.findings.len()
                ));
            }
            // All fixes (safe and unsafe): the result parses.
            let all = fix_entry(&entry, &settings, true);
            if !all.warnings.is_empty() {
                failures.push(format!("{name}: {:?}", all.warnings));
            }
            // A fixed point: no fix is left to apply (a fix that re-creates its finding
            // would loop).
            if let Some(f) = all.run.findings.iter().find(|f| f.fix.is_some()) {
                failures.push(format!(
                    "{name}: a fix is still offered after fixing: {}",
                    f.message
                ));
            }
            for (outcome, label) in [(&before, "safe"), (&all, "all")] {
                for file in &outcome.files {
                    let before = celery_doctor::python::syntax_error_count(&file.original);
                    let after = celery_doctor::python::syntax_error_count(&file.fixed);
                    if after > before || (rule.id != "CD000" && after > 0) {
                        failures.push(format!(
                            "{name}: {label} fixes leave {} with syntax errors:\n{}",
                            file.path.display(),
                            file.fixed
                        ));
                    }
                }
            }
            let entry_name = entry.file_stem().unwrap().to_string_lossy().to_string();
            if !all.files.is_empty() {
                let mut s = insta::Settings::clone_current();
                s.set_snapshot_path(root().join("fixtures").join(rule.id));
                s.set_prepend_module_to_snapshot(false);
                s.set_omit_expression(true);
                s.bind(|| {
                    insta::assert_snapshot!(
                        format!("{entry_name}_fix"),
                        fix::diff(&all.files, &all.secrets)
                    )
                });
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_demo_project_fixes_parse() {
    let entry = root().join("fixtures/projects/shop");
    let outcome = fix_entry(&entry, &LintSettings::default(), true);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    for file in &outcome.files {
        assert_eq!(
            celery_doctor::python::syntax_error_count(&file.fixed),
            0,
            "{}",
            file.fixed
        );
    }
}

#[test]
fn write_refuses_a_changed_or_read_only_target_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.py");
    let b = dir.path().join("b.py");
    std::fs::write(&a, "x = 1\n").unwrap();
    std::fs::write(&b, "\u{feff}y = 1\n").unwrap();
    let file = |p: &Path, original: &str, fixed: &str| fix::FileFix {
        path: p.file_name().unwrap().into(),
        disk: p.to_path_buf(),
        original: original.into(),
        fixed: fixed.into(),
    };
    // b.py changed since it was read: neither file is written.
    let err = fix::write(&[
        file(&a, "x = 1\n", "x = 2\n"),
        file(&b, "y = 0\n", "y = 2\n"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("b.py") && err.contains("changed"), "{err}");
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "x = 1\n");
    // Read-only: refused, unchanged.
    let mut perms = std::fs::metadata(&a).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&a, perms.clone()).unwrap();
    let err = fix::write(&[file(&a, "x = 1\n", "x = 2\n")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "x = 1\n");
    // Success keeps the BOM and the permissions, and leaves no temporary file.
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&a, perms).unwrap();
    fix::write(&[
        file(&a, "x = 1\n", "x = 2\n"),
        file(&b, "y = 1\n", "y = 2\n"),
    ])
    .unwrap();
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "x = 2\n");
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "\u{feff}y = 2\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    // Through a symbolic link, the file it points to is replaced and the link stays a link.
    #[cfg(unix)]
    {
        let link = dir.path().join("link.py");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        fix::write(&[file(&link, "x = 2\n", "x = 3\n")]).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "x = 3\n");
    }
}
