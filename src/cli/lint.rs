//! `celery-doctor lint [PATHS]...`

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::ExitStatus;
use super::output::Progress;
use crate::color::{self, ColorChoice};
use crate::config;
use crate::lint::baseline::Baseline;
use crate::lint::{self, walk};
use crate::report::{self, Format, TextOptions};

#[derive(Args, Debug)]
pub struct LintArgs {
    /// Files or folders to lint.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rules to enable (ids or prefixes, comma-separated; `ALL` for every rule). Replaces the default set.
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub select: Option<Vec<String>>,
    /// Rules to enable in addition to the selected ones.
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub extend_select: Option<Vec<String>>,
    /// Rules to disable (ids or prefixes, comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub ignore: Option<Vec<String>>,
    /// Configuration file (pyproject.toml or .celery-doctor.yaml); default: found by walking up from the first path.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Exit 0 even when there are findings.
    #[arg(long)]
    pub exit_zero: bool,
    /// Disable colour (also: NO_COLOR, or stdout not a terminal).
    #[arg(long)]
    pub no_color: bool,
    /// When to use colour.
    #[arg(long, value_enum)]
    pub color: Option<ColorChoice>,
    /// Print a count of findings per rule.
    #[arg(long)]
    pub statistics: bool,
    /// Print findings only, no summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Report only findings that are not recorded in this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record every current finding in FILE (a baseline for --baseline) and exit 0.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["fix", "diff"])]
    pub write_baseline: Option<PathBuf>,
    /// Apply the fixes the catalog marks safe, then report what remains.
    #[arg(long)]
    pub fix: bool,
    /// Also offer (and with --fix or --diff, apply) the fixes marked unsafe.
    #[arg(long)]
    pub unsafe_fixes: bool,
    /// Print the fixes as a unified diff instead of writing them (exit 1 if there are any).
    #[arg(long)]
    pub diff: bool,
}

pub fn run(args: LintArgs) -> anyhow::Result<ExitStatus> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let loaded = match &args.config {
        Some(path) => config::load_file(path)?,
        None => config::discover(args.paths.first().map_or(cwd.as_path(), |p| p.as_path()))?,
    };
    let mut settings = config::to_settings(&loaded)?;
    let start = args.paths.first().map_or(cwd.as_path(), |p| p.as_path());
    config::add_custom_rules(&mut settings, &loaded, start)?;
    if let Some(select) = args.select {
        settings.select = select;
    }
    if let Some(extend) = args.extend_select {
        settings.extend_select.extend(extend);
    }
    if let Some(ignore) = args.ignore {
        settings.ignore.extend(ignore);
    }
    settings.leak_model = true;
    // Validate selectors and read the baseline before doing any work.
    lint::enabled_rules(&settings)?;
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose()?;

    let use_color = color::decide(
        color::ColorChoice::Auto.max_with(super::color_flag(args.no_color, args.color)),
        args.format.is_machine(),
        args.output.is_some(),
    );
    let timings = std::env::var_os("CELERY_DOCTOR_TIMINGS").is_some();
    let t_walk = std::time::Instant::now();
    let collected = walk::collect(&args.paths, settings.exclude.as_ref(), &cwd)?;
    // `lint proj/settings.py orders/views.py`, `lint orders/`: the rest of the project exists
    // but was not read, so names pointing into it are unknown.
    settings.rule_options.partial_tree = args
        .paths
        .iter()
        .any(|p| p.is_file() || p.join("__init__.py").is_file());
    if timings {
        eprintln!(
            "celery-doctor: timings: walk and read {:?} (peak RSS {})",
            t_walk.elapsed(),
            lint::peak_rss()
        );
    }
    let mut stderr = std::io::stderr().lock();
    for w in &collected.warnings {
        writeln!(stderr, "celery-doctor: warning: {w}")?;
    }
    drop(stderr);
    let skipped = collected.warnings.len();
    let progress = Progress::start(format!("checking {} files", collected.inputs.len()));
    if args.fix || args.diff {
        let result = lint::fix::lint_and_fix(
            collected.inputs,
            collected.worker_commands,
            &settings,
            args.unsafe_fixes,
        );
        progress.finish();
        let flags = FixFlags {
            baseline,
            diff: args.diff,
            format: args.format,
            output: args.output,
            exit_zero: args.exit_zero,
            text: TextOptions {
                statistics: args.statistics,
                quiet: args.quiet,
                color: use_color,
                unsafe_fixes: args.unsafe_fixes,
            },
        };
        return fix(flags, result?, skipped, collected.warnings);
    }
    let result = lint::lint_project(collected.inputs, collected.worker_commands, &settings);
    progress.finish();
    let mut run = result?;
    run.files_skipped = skipped;
    run.warnings = collected.warnings;

    if let Some(path) = &args.write_baseline {
        let recorded = Baseline::record(&run.findings, path);
        super::output::write_to(Some(path), |out| {
            out.write_all(recorded.to_json().as_bytes())?;
            Ok(())
        })?;
        eprintln!(
            "celery-doctor: wrote a baseline of {} {} to {}",
            recorded.len(),
            if recorded.len() == 1 {
                "finding"
            } else {
                "findings"
            },
            path.display()
        );
        return Ok(ExitStatus::Success);
    }
    apply_baseline(&mut run, baseline, args.format, args.quiet);

    let t_report = std::time::Instant::now();
    let text = TextOptions {
        statistics: args.statistics,
        quiet: args.quiet,
        color: use_color,
        unsafe_fixes: args.unsafe_fixes,
    };
    super::output::write_to(args.output.as_deref(), |out| {
        report::write(args.format, out, &run, text)
    })?;
    if timings {
        eprintln!(
            "celery-doctor: timings: report {:?} (peak RSS {})",
            t_report.elapsed(),
            lint::peak_rss()
        );
    }
    let clean = run.findings.is_empty();
    // The process exits next (as with `leak_model`): freeing thousands of findings one
    // allocation at a time would only delay the exit.
    std::mem::forget(run);
    if clean || args.exit_zero {
        Ok(ExitStatus::Success)
    } else {
        Ok(ExitStatus::Failure)
    }
}

/// Keep only findings the baseline does not know; machine formats get the summary on stderr.
fn apply_baseline(
    run: &mut lint::LintRun,
    baseline: Option<Baseline>,
    format: Format,
    quiet: bool,
) {
    if let Some(baseline) = baseline {
        let (kept, stats) = baseline.filter(std::mem::take(&mut run.findings));
        run.findings = kept;
        run.baseline = Some(stats);
        if format.is_machine() && !quiet {
            eprintln!("celery-doctor: {}", report::baseline_summary(stats));
        }
    }
}

struct FixFlags {
    baseline: Option<Baseline>,
    diff: bool,
    format: Format,
    output: Option<PathBuf>,
    exit_zero: bool,
    text: TextOptions,
}

/// `--diff`: print what would change; `--fix`: write it, then report what remains.
fn fix(
    args: FixFlags,
    outcome: lint::fix::FixOutcome,
    skipped: usize,
    warnings: Vec<String>,
) -> anyhow::Result<ExitStatus> {
    let mut stderr = std::io::stderr().lock();
    for w in &outcome.warnings {
        writeln!(stderr, "celery-doctor: warning: {w}")?;
    }
    drop(stderr);
    let plural = |n: usize| if n == 1 { "finding" } else { "findings" };
    let remaining = outcome.run.findings.len();
    if args.diff {
        let diff = lint::fix::diff(&outcome.files, &outcome.secrets);
        super::output::write_to(args.output.as_deref(), |out| {
            out.write_all(diff.as_bytes())?;
            Ok(())
        })?;
        if !args.text.quiet {
            eprintln!(
                "Would fix {} {} ({remaining} remaining).",
                outcome.fixed,
                plural(outcome.fixed)
            );
        }
        return Ok(if outcome.files.is_empty() {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        });
    }
    lint::fix::write(&outcome.files)?;
    let mut run = outcome.run;
    run.files_skipped = skipped;
    run.warnings = warnings;
    run.fixed = Some(outcome.fixed);
    // What remains is judged against the baseline like a plain run (fixes apply to every
    // finding: fixing a known one is never wrong).
    apply_baseline(&mut run, args.baseline, args.format, args.text.quiet);
    super::output::write_to(args.output.as_deref(), |out| {
        report::write(args.format, out, &run, args.text)
    })?;
    if !args.text.quiet && (args.format.is_machine() || args.output.is_some()) {
        eprintln!(
            "Fixed {} {} ({remaining} remaining).",
            outcome.fixed,
            plural(outcome.fixed)
        );
    }
    if run.findings.is_empty() || args.exit_zero {
        Ok(ExitStatus::Success)
    } else {
        Ok(ExitStatus::Failure)
    }
}

trait MaxWith {
    fn max_with(self, other: ColorChoice) -> ColorChoice;
}

impl MaxWith for ColorChoice {
    /// The explicit choice wins over `auto`.
    fn max_with(self, other: ColorChoice) -> ColorChoice {
        if other == ColorChoice::Auto {
            self
        } else {
            other
        }
    }
}
