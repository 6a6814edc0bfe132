//! Running a rule's YAML examples (`bad` must produce at least one finding of the rule, `good`
//! none), shared by the test suite (`tests/rules.rs`) and `celery-doctor test-rules`.

use std::path::PathBuf;

use super::catalog::RuleMeta;
use super::custom::CustomRules;
use super::{InputFile, LintError, LintSettings, lint_files, module_names_in_memory};

/// Split an example into files at `# file: path` lines; the default file is `tasks.py`.
pub fn example_files(snippet: &str) -> Vec<InputFile> {
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for line in snippet.lines() {
        if let Some(path) = line.trim().strip_prefix("# file:") {
            files.push((PathBuf::from(path.trim()), String::new()));
            continue;
        }
        if files.is_empty() {
            files.push((PathBuf::from("tasks.py"), String::new()));
        }
        if let Some((_, text)) = files.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let names = module_names_in_memory(&paths);
    files
        .into_iter()
        .zip(names)
        .map(|((path, text), (module, is_package))| InputFile {
            path,
            text,
            module,
            is_package,
            disk: None,
        })
        .collect()
}

/// The outcome of one rule's examples.
#[derive(Debug, Default)]
pub struct ExampleReport {
    /// Examples run.
    pub examples: usize,
    /// One line per failing example: `bad example #1 does not fire`.
    pub failures: Vec<String>,
}

/// Run the examples of rule `meta`, with only that rule enabled. `custom` holds the rule when
/// it is a custom rule (empty for built-in rules).
pub fn run_examples(meta: &RuleMeta, custom: &CustomRules) -> Result<ExampleReport, LintError> {
    let settings = LintSettings {
        // CD000 too: an example that does not parse proves nothing (CD000's own examples are
        // the exception, selected once).
        select: if meta.id == "CD000" {
            vec![meta.id.clone()]
        } else {
            vec![meta.id.clone(), "CD000".to_string()]
        },
        custom: custom.only(&meta.id),
        ..LintSettings::default()
    };
    let mut report = ExampleReport::default();
    for (i, bad) in meta.examples.bad.iter().enumerate() {
        report.examples += 1;
        let run = lint_files(example_files(bad), &settings)?;
        if meta.id != "CD000"
            && let Some(f) = run.findings.iter().find(|f| f.code == "CD000")
        {
            report.failures.push(format!(
                "bad example #{} does not parse: {}:{}: {}",
                i + 1,
                f.file.display_path(),
                f.start().line,
                f.message
            ));
        } else if !run.findings.iter().any(|f| f.code == meta.id) {
            report
                .failures
                .push(format!("bad example #{} does not fire", i + 1));
        }
    }
    for (i, good) in meta.examples.good.iter().enumerate() {
        report.examples += 1;
        let run = lint_files(example_files(good), &settings)?;
        if let Some(f) = run
            .findings
            .iter()
            .find(|f| f.code == meta.id || f.code == "CD000")
        {
            report.failures.push(format!(
                "good example #{} fires: {}:{}: {}",
                i + 1,
                f.file.display_path(),
                f.start().line,
                f.message
            ));
        }
    }
    Ok(report)
}
