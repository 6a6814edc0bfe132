//! The catalog can never drift from the code: every registered rule has a valid YAML file,
//! fixtures, executed examples, and snapshot-tested output.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use celery_doctor::lint::rules::{RULES, catalog};
use celery_doctor::lint::{self, LintRun, LintSettings, catalog::RuleMeta, examples, walk};
use celery_doctor::report::{self, Format, TextOptions};

mod common;
use common::{fixture_entries, root, settings_for};

fn lint_entry(entry: &Path, settings: &LintSettings) -> LintRun {
    let (paths, cwd) = if entry.is_dir() {
        (vec![entry.to_path_buf()], entry.to_path_buf())
    } else {
        (
            vec![entry.to_path_buf()],
            entry.parent().unwrap().to_path_buf(),
        )
    };
    let collected = walk::collect(&paths, None, &cwd).expect("collect");
    assert!(collected.warnings.is_empty(), "{:?}", collected.warnings);
    lint::lint_project(collected.inputs, collected.worker_commands, settings).expect("lint")
}

fn render(run: &LintRun) -> String {
    colored::control::set_override(false);
    let mut out = Vec::new();
    report::write(Format::Text, &mut out, run, TextOptions::default()).unwrap();
    String::from_utf8(out).unwrap()
}

/// `(path relative to the entry root, line, code)` of every `# expect: CDxxx` mark.
fn expected_marks(entry: &Path) -> BTreeSet<(String, u32, String)> {
    let mut marks = BTreeSet::new();
    let files: Vec<PathBuf> = if entry.is_dir() {
        walkdir(entry)
    } else {
        vec![entry.to_path_buf()]
    };
    let base = if entry.is_dir() {
        entry.to_path_buf()
    } else {
        entry.parent().unwrap().to_path_buf()
    };
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let rel = f
            .strip_prefix(&base)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        for (i, line) in text.lines().enumerate() {
            if let Some(pos) = line.find("# expect:") {
                for code in line[pos + 9..].split(',') {
                    let code = code.split_whitespace().next().unwrap_or("");
                    if !code.is_empty() {
                        marks.insert((rel.clone(), i as u32 + 1, code.to_string()));
                    }
                }
            }
        }
    }
    marks
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else if p.extension().is_some_and(|x| x == "py") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn actual_marks(run: &LintRun) -> BTreeSet<(String, u32, String)> {
    run.findings
        .iter()
        .map(|f| (f.file.display_path(), f.start().line, f.code.to_string()))
        .collect()
}

#[test]
fn every_rule_file_is_registered_and_valid() {
    let catalog = catalog().expect("embedded catalog parses");
    let mut on_disk: Vec<String> = std::fs::read_dir(root().join("rules"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let registered: Vec<String> = RULES.iter().map(|r| format!("{}.yaml", r.id)).collect();
    let mut sorted = registered.clone();
    sorted.sort();
    assert_eq!(on_disk, sorted, "rules/*.yaml and the registry disagree");
    assert_eq!(catalog.rules.len(), RULES.len());
    for file in on_disk {
        let text = std::fs::read_to_string(root().join("rules").join(&file)).unwrap();
        RuleMeta::parse(&file, &text).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn invalid_rule_yaml_names_file_and_field() {
    let good = RULES[1].yaml;
    let unknown = format!("{good}\nsurprise: 1\n");
    let err = RuleMeta::parse("CD001.yaml", &unknown)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CD001.yaml") && err.contains("surprise"),
        "{err}"
    );
    let wrong_type = good.replace("default: true", "default: maybe");
    let err = RuleMeta::parse("CD001.yaml", &wrong_type)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CD001.yaml") && err.contains("default"),
        "{err}"
    );
    let err = RuleMeta::parse("CD002.yaml", good).unwrap_err().to_string();
    assert!(err.contains("`id`"), "{err}");
}

#[test]
fn messages_and_help_follow_conventions() {
    for (_, m) in &catalog().unwrap().rules {
        for text in std::iter::once(&m.message).chain(m.variants.values()) {
            let first = text.chars().next().unwrap();
            assert!(
                first.is_uppercase() || first == '`' || first == '{',
                "{}: message must start in sentence case: {text}",
                m.id
            );
            assert!(!text.ends_with('.'), "{}: message ends with a period", m.id);
            // SARIF appends the period (SARIF2001); a question mark would read `?.`.
            assert!(
                !text.ends_with(['?', '!']),
                "{}: message ends with punctuation",
                m.id
            );
        }
        let first = m.help.chars().next().unwrap();
        assert!(
            first.is_uppercase(),
            "{}: help must be imperative: {}",
            m.id,
            m.help
        );
        assert!(!m.help.ends_with('.'), "{}: help ends with a period", m.id);
        assert!(!m.summary().is_empty(), "{}: empty summary", m.id);
    }
}

#[test]
fn yaml_examples_fire_and_stay_silent() {
    // The same runner as `celery-doctor test-rules`.
    let mut failures = Vec::new();
    for (rule, meta) in &catalog().unwrap().rules {
        let report = examples::run_examples(meta, &Default::default()).unwrap();
        assert_eq!(
            report.examples,
            meta.examples.bad.len() + meta.examples.good.len()
        );
        for f in report.failures {
            failures.push(format!("{} {f}", rule.id));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn fixtures_match_expect_marks_and_snapshots() {
    let mut failures = Vec::new();
    for rule in RULES {
        let entries = fixture_entries(rule.id);
        assert!(
            entries
                .iter()
                .any(|e| e.file_name().unwrap().to_string_lossy().starts_with("bad")),
            "fixtures/{}/ has no bad entry",
            rule.id
        );
        assert!(
            entries
                .iter()
                .any(|e| e.file_name().unwrap().to_string_lossy().starts_with("good")),
            "fixtures/{}/ has no good entry",
            rule.id
        );
        for entry in entries {
            let name = entry.file_stem().unwrap().to_string_lossy().to_string();
            let run = lint_entry(&entry, &settings_for(rule.id));
            let expected = expected_marks(&entry);
            let actual = actual_marks(&run);
            if name.starts_with("good") {
                if !actual.is_empty() {
                    failures.push(format!(
                        "fixtures/{}/{name}: expected no findings, got {actual:?}",
                        rule.id
                    ));
                }
                continue;
            }
            if expected != actual {
                let missing: Vec<_> = expected.difference(&actual).collect();
                let extra: Vec<_> = actual.difference(&expected).collect();
                failures.push(format!(
                    "fixtures/{}/{name}: missing {missing:?}, unexpected {extra:?}",
                    rule.id
                ));
                continue;
            }
            let mut s = insta::Settings::clone_current();
            s.set_snapshot_path(root().join("fixtures").join(rule.id));
            s.set_prepend_module_to_snapshot(false);
            s.set_omit_expression(true);
            s.bind(|| insta::assert_snapshot!(name.clone(), render(&run)));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn demo_project_findings_match_marks() {
    let entry = root().join("fixtures/projects/shop");
    let run = lint_entry(&entry, &LintSettings::default());
    let expected = expected_marks(&entry);
    let actual = actual_marks(&run);
    assert_eq!(expected, actual);
}

#[test]
fn readme_rule_table_is_current() {
    let mut table =
        String::from("| ID | name | severity | default | summary |\n|---|---|---|---|---|\n");
    for (_, m) in &catalog().unwrap().rules {
        table.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            m.id,
            m.name,
            m.severity,
            if m.default { "on" } else { "off" },
            m.summary().replace('|', "\\|")
        ));
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- rules:start -->")
        .expect("README rules marker")
        + "<!-- rules:start -->\n".len();
    let end = readme
        .find("<!-- rules:end -->")
        .expect("README rules end marker");
    if readme[start..end] != table {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{}{}", &readme[..start], table, &readme[end..]);
            std::fs::write(root().join("README.md"), updated).unwrap();
        } else {
            panic!(
                "README rule table is stale; run `UPDATE_README=1 cargo test --test rules readme`"
            );
        }
    }
}

#[test]
fn settings_table_matches_installed_celery() {
    // The table is generated from Celery; re-generate and compare when a Celery venv is present.
    let python = std::env::var("CELERY_DOCTOR_PYTHON").ok().or_else(|| {
        let p = root().join(".venv/bin/python");
        p.exists().then(|| p.display().to_string())
    });
    let Some(python) = python else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide the Celery venv (CELERY_DOCTOR_PYTHON)"
        );
        eprintln!("skipped: no Celery venv");
        return;
    };
    let out = std::process::Command::new(python)
        .arg(root().join("scripts/gen_settings_table.py"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed =
        std::fs::read_to_string(root().join("src/lint/model/settings_table.rs")).unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        committed,
        "regenerate src/lint/model/settings_table.rs"
    );
}
