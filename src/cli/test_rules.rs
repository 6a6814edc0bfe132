//! `celery-doctor test-rules [PATHS]`: run the `bad`/`good` examples of every rule, like
//! `semgrep --test`. Exit 0 when all pass, 1 on failures, 2 when a rule file is invalid.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::ExitStatus;
use crate::lint::custom::{self, CustomRules};
use crate::lint::examples::run_examples;
use crate::lint::rules::catalog;

#[derive(Args, Debug)]
pub struct TestRulesArgs {
    /// Custom rule files or directories to test (only these). Default: the built-in rules and
    /// the custom rules of the configuration.
    pub paths: Vec<PathBuf>,
    /// Configuration file whose custom rules to test; default: found from the working directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub fn run(args: TestRulesArgs) -> anyhow::Result<ExitStatus> {
    let (builtin, custom): (bool, CustomRules) = if args.paths.is_empty() {
        (true, super::rules::custom_rules(args.config.as_deref())?)
    } else {
        (false, custom::load(&args.paths)?)
    };
    let catalog = catalog()?;
    let none = CustomRules::default();
    let mut rules = 0;
    let mut examples = 0;
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    let builtin_rules = catalog
        .rules
        .iter()
        .filter(|_| builtin)
        .map(|(_, m)| (m, &none, None));
    let custom_rules = custom
        .rules
        .iter()
        .map(|r| (r.meta, &custom, Some(format!("{}:{}", r.file, r.line))));
    for (meta, set, source) in builtin_rules.chain(custom_rules) {
        let report = run_examples(meta, set)?;
        rules += 1;
        examples += report.examples;
        for failure in &report.failures {
            failed += 1;
            match &source {
                Some(s) => writeln!(out, "FAIL {} ({s}): {failure}", meta.id)?,
                None => writeln!(out, "FAIL {}: {failure}", meta.id)?,
            }
        }
    }
    let rules_word = if rules == 1 { "rule" } else { "rules" };
    let examples_word = if examples == 1 { "example" } else { "examples" };
    if failed == 0 {
        writeln!(
            out,
            "{rules} {rules_word}, {examples} {examples_word}: all passed"
        )?;
        Ok(ExitStatus::Success)
    } else {
        writeln!(
            out,
            "{rules} {rules_word}, {examples} {examples_word}: {failed} failed"
        )?;
        Ok(ExitStatus::Failure)
    }
}
