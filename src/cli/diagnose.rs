//! `celery-doctor diagnose` — the stuck-queue checklist against the live system.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use colored::Colorize;
use serde_json::json;

use super::ExitStatus;
use super::output::{Progress, table};
use super::probe::{BrokerArgs, block_on, positive_secs};
use crate::color::ColorChoice;
use crate::diagnose::gather::{Options, gather};
use crate::diagnose::{Report, Status};
use crate::finding::Severity;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagnoseFormat {
    Text,
    Json,
    Markdown,
    /// Findings that map to a line of the project's code (needs --app-path).
    Sarif,
}

#[derive(Args, Debug)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Result backend URL (default: $CELERY_RESULT_BACKEND, else the project's `result_backend`).
    /// Redis backends are inspected.
    #[arg(long, value_name = "URL")]
    pub backend: Option<String>,
    /// Worker log files to scan for known failure signatures.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub logs: Vec<PathBuf>,
    /// Seconds the whole diagnosis may take; steps that run out of time are skipped with the reason.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub budget: f64,
    /// Seconds of silence that end the wait for worker replies.
    #[arg(long, short = 't', value_name = "SECS", default_value_t = 1.0)]
    pub timeout: f64,
    /// Messages sampled per queue (content types, task names, retries, ETAs). Redis only.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub sample: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiagnoseFormat::Text)]
    pub format: DiagnoseFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Disable colour (also: NO_COLOR, or stdout not a terminal).
    #[arg(long)]
    pub no_color: bool,
    /// When to use colour.
    #[arg(long, value_enum)]
    pub color: Option<ColorChoice>,
}

pub fn run(args: DiagnoseArgs) -> anyhow::Result<ExitStatus> {
    let color = crate::color::decide(
        super::color_flag(args.no_color, args.color),
        args.format != DiagnoseFormat::Text,
        args.output.is_some(),
    );
    if args.format == DiagnoseFormat::Sarif && args.broker.app_path.is_none() {
        anyhow::bail!(
            "--format sarif needs --app-path: only findings that map to a line of code go to SARIF"
        );
    }
    let budget = positive_secs(args.budget, "--budget")?;
    let reply_timeout = positive_secs(args.timeout, "--timeout")?;
    let target = args.broker.resolve()?;
    let backend = args
        .backend
        .clone()
        .or_else(|| {
            std::env::var("CELERY_RESULT_BACKEND")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .or(target.project_backend.clone());
    let options = Options {
        url: target.url.clone(),
        opts: target.opts.clone(),
        limits: crate::probe::Limits {
            connect: target.limits.connect.min(budget),
        },
        budget,
        reply_timeout,
        management_url: args.broker.management_url.clone(),
        backend,
        logs: args.logs.clone(),
        routes: target.routes.clone(),
        project_queues: target.project_queues.clone(),
        sample: args.sample,
    };
    let started = std::time::Instant::now();
    let progress = Progress::start(format!("diagnosing {}", target.url));
    let state = block_on(gather(&options));
    progress.finish();
    let state = state?;
    let report = Report::judge(&state, started.elapsed().as_millis() as u64);
    for note in &report.notes {
        eprintln!("celery-doctor: note: {note}");
    }
    super::output::write_to(args.output.as_deref(), |out| match args.format {
        DiagnoseFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
            Ok(())
        }
        DiagnoseFormat::Text => write_text(out, &report, color),
        DiagnoseFormat::Markdown => write_markdown(out, &report),
        DiagnoseFormat::Sarif => write_sarif(out, &report),
    })?;
    if report.unreachable() {
        return Ok(ExitStatus::Error);
    }
    if report
        .findings
        .iter()
        .any(|f| f.severity >= Severity::Warning)
    {
        Ok(ExitStatus::Failure)
    } else {
        Ok(ExitStatus::Success)
    }
}

fn status_label(s: Status, color: bool) -> String {
    let label = s.as_str();
    if !color {
        return label.to_string();
    }
    match s {
        Status::Pass => label.green().bold().to_string(),
        Status::Warn => label.yellow().bold().to_string(),
        Status::Fail => label.red().bold().to_string(),
        Status::Skip => label.dimmed().to_string(),
    }
}

fn write_text(out: &mut dyn Write, r: &Report, color: bool) -> anyhow::Result<()> {
    let head = match r.verdict.severity {
        Severity::Error => r.verdict.code.red().bold(),
        Severity::Warning => r.verdict.code.yellow().bold(),
        Severity::Info => r.verdict.code.green().bold(),
    };
    writeln!(out, "Verdict: {head}")?;
    writeln!(out, "  {}", r.verdict.summary)?;
    if let Some(fix) = &r.verdict.remediation {
        writeln!(out, "  fix: {fix}")?;
    }
    writeln!(out)?;
    let mut t = table(color, &["step", "status", "evidence"]);
    for c in &r.checks {
        t.add_row(vec![
            c.title.to_string(),
            status_label(c.status, color),
            if c.evidence.is_empty() {
                "-".into()
            } else {
                c.evidence.join("\n")
            },
        ]);
    }
    writeln!(out, "{t}")?;
    if r.findings.len() > 1 || (r.findings.len() == 1 && r.verdict.code == "HEALTHY") {
        writeln!(out, "\nFindings, most likely cause first:")?;
        for (i, f) in r.findings.iter().enumerate() {
            writeln!(
                out,
                "{}. {} [{}] {}",
                i + 1,
                f.code.bold(),
                f.severity,
                f.summary
            )?;
            writeln!(out, "   fix: {}", f.remediation)?;
        }
    }
    writeln!(
        out,
        "\n{} on {} in {} ms",
        r.transport, r.broker, r.elapsed_ms
    )?;
    Ok(())
}

fn write_markdown(out: &mut dyn Write, r: &Report) -> anyhow::Result<()> {
    let esc = |s: &str| s.replace('|', "\\|").replace('\n', "<br>");
    writeln!(out, "### celery-doctor diagnose: `{}`\n", r.broker)?;
    writeln!(
        out,
        "**Verdict: `{}`** — {}",
        r.verdict.code, r.verdict.summary
    )?;
    if let Some(fix) = &r.verdict.remediation {
        writeln!(out, "\n**Fix:** {fix}")?;
    }
    writeln!(out, "\n| Step | Status | Evidence |\n|---|---|---|")?;
    for c in &r.checks {
        writeln!(
            out,
            "| {} | {} | {} |",
            c.title,
            c.status.as_str(),
            esc(&c.evidence.join("\n"))
        )?;
    }
    if !r.findings.is_empty() {
        writeln!(out, "\n**Findings** (most likely cause first)\n")?;
        for f in &r.findings {
            writeln!(
                out,
                "- `{}` ({}) {} — *fix:* {}",
                f.code,
                f.severity,
                esc(&f.summary),
                esc(&f.remediation)
            )?;
        }
    }
    writeln!(out, "\n_{} ms, {}_", r.elapsed_ms, r.transport)?;
    Ok(())
}

/// SARIF 2.1.0 with the findings whose cause is a line of the project's code. Paths under the
/// working directory are relative to `%SRCROOT%`, as in `lint`'s SARIF; others are `file://`.
fn write_sarif(out: &mut dyn Write, r: &Report) -> anyhow::Result<()> {
    use crate::report::sarif::uri;
    let located: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.location.file.is_some())
        .collect();
    let mut codes: Vec<&str> = located.iter().map(|f| f.code).collect();
    codes.sort_unstable();
    codes.dedup();
    let rules: Vec<_> = codes
        .iter()
        .map(|c| {
            let level = located
                .iter()
                .find(|f| f.code == *c)
                .map_or("warning", |f| f.severity.sarif_level());
            let (short, full, help) = rule_text(c);
            json!({
                "id": c,
                "name": c.to_ascii_lowercase().replace('_', "-"),
                "shortDescription": {"text": short},
                "fullDescription": {"text": full},
                "help": {"text": help, "markdown": help},
                "defaultConfiguration": {"level": level},
            })
        })
        .collect();
    let results: Vec<_> = located
        .iter()
        .map(|f| {
            let path = f.location.file.clone().unwrap_or_default();
            let artifact = if path.starts_with('/') {
                json!({"uri": format!("file://{}", uri(&path))})
            } else {
                json!({"uri": uri(&path), "uriBaseId": "%SRCROOT%"})
            };
            json!({
                "ruleId": f.code,
                "ruleIndex": codes.iter().position(|c| *c == f.code).unwrap_or(0),
                "level": f.severity.sarif_level(),
                "message": {"text": format!("{}. Fix: {}.", f.summary.trim_end_matches('.'), f.remediation.trim_end_matches('.'))},
                "locations": [{"physicalLocation": {
                    "artifactLocation": artifact,
                    "region": {"startLine": f.location.line.unwrap_or(1)},
                }}],
            })
        })
        .collect();
    let root = crate::report::sarif::srcroot()?;
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "celery-doctor",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/celery-doctor/celery-doctor",
                "rules": rules,
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root}},
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

/// Short description, full description and help of a code, for SARIF rule descriptors.
fn rule_text(code: &str) -> (&'static str, &'static str, &'static str) {
    use crate::diagnose::codes::*;
    match code {
        WORKER_NOT_CONSUMING_QUEUE => (
            "The code routes tasks to a queue that no live worker consumes",
            "A route (`task_routes`, `task_queues` or a task's `queue=` option) sends tasks to a queue that none of the workers answering on the broker consumes: those tasks wait there until a worker with `-Q <queue>` starts.",
            "Add the queue to a worker's `-Q` list, or change the route to a queue that workers consume.",
        ),
        _ => (
            "A problem of the live Celery system that a line of code explains",
            "celery-doctor diagnose found a problem in the running system whose cause is written at this line.",
            "See the finding's message for the evidence and the fix.",
        ),
    }
}
