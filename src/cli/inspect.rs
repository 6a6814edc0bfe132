//! `celery-doctor inspect CMD` — Celery's remote-control inspect commands, from Rust.

use std::io::Write;

use clap::Args;
use colored::Colorize;
use comfy_table::Table;

use super::output::{Progress, table};
use serde_json::Value;

use super::ExitStatus;
use super::probe::{BrokerArgs, LiveFormat, OutputArgs, block_on, positive_secs};
use crate::probe::Broker;
use crate::probe::mailbox::{InspectCommand, Replies, Request};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The command, as `celery inspect` names it.
    #[arg(value_enum)]
    pub command: InspectCommand,
    /// Task ids (for `query_task`).
    pub ids: Vec<String>,
    /// Seconds of silence after the last reply that end the wait (as `celery inspect --timeout`).
    #[arg(long, short = 't', value_name = "SECS", default_value_t = 1.0)]
    pub timeout: f64,
    /// Only these worker nodes (comma-separated node names, e.g. `w1@host,w2@host`).
    #[arg(long, short = 'd', value_delimiter = ',', value_name = "NODES")]
    pub destination: Option<Vec<String>>,
    /// Stop waiting as soon as N workers answered.
    #[arg(long, value_name = "N")]
    pub expect: Option<usize>,
    /// `conf`: include settings left at their defaults.
    #[arg(long)]
    pub with_defaults: bool,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitStatus> {
    let color = args.out.use_color();
    let target = args.broker.resolve()?;
    if args.command == InspectCommand::QueryTask && args.ids.is_empty() {
        anyhow::bail!("inspect query_task needs at least one task id");
    }
    if args.command != InspectCommand::QueryTask && !args.ids.is_empty() {
        anyhow::bail!(
            "inspect {} takes no arguments (got `{}`)",
            args.command.method(),
            args.ids.join(" ")
        );
    }
    if args.expect == Some(0) {
        anyhow::bail!("--expect must be at least 1");
    }
    let req = Request {
        method: args.command.method().to_string(),
        arguments: args.command.arguments(&args.ids, args.with_defaults),
        destination: args
            .destination
            .clone()
            .filter(|d| !d.is_empty())
            .map(|d| d.into_iter().map(|s| s.trim().to_string()).collect()),
        timeout: positive_secs(args.timeout, "--timeout")?,
        expect: args.expect,
        namespace: target.opts.control_exchange.clone(),
    };
    let progress = Progress::start(format!("asking workers on {}", target.url));
    let replies = block_on(async {
        let mut broker = Broker::connect(&target.url, &target.opts, target.limits).await?;
        broker.set_management_url(args.broker.management_url.clone());
        let replies = broker.broadcast(&req).await;
        broker.close().await;
        replies
    });
    progress.finish();
    let replies = replies??;
    for reason in &replies.undecodable {
        eprintln!("celery-doctor: warning: a reply could not be decoded: {reason}");
    }
    for node in &replies.duplicates {
        eprintln!(
            "celery-doctor: warning: node name {node} answered more than once (duplicate node names?)"
        );
    }
    super::output::write_to(args.out.output.as_deref(), |out| match args.out.format {
        LiveFormat::Json => {
            serde_json::to_writer(&mut *out, &replies.to_json())?;
            writeln!(out)?;
            Ok(())
        }
        LiveFormat::Text => write_text(out, args.command, &replies, color),
    })?;
    if replies.nodes.is_empty() {
        eprintln!(
            "celery-doctor: no worker replied within {:.1} s{}",
            req.timeout.as_secs_f64(),
            match replies.receivers {
                Some(0) => " (no worker mailbox is listening on this broker)".to_string(),
                Some(n) => format!(
                    " although {n} mailbox(es) received the broadcast; do the workers use other transport options (sep, global_keyprefix) or a serializer they cannot reply in?"
                ),
                None => String::new(),
            }
        );
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}

fn write_text(
    out: &mut dyn Write,
    cmd: InspectCommand,
    replies: &Replies,
    color: bool,
) -> anyhow::Result<()> {
    for (node, answer) in &replies.nodes {
        let status = if answer.get("error").is_some() {
            "ERROR".red().bold().to_string()
        } else {
            "OK".green().bold().to_string()
        };
        writeln!(out, "-> {}: {status}", node.bold())?;
        if let Some(err) = answer.get("error") {
            writeln!(out, "   {}", plain(err))?;
            continue;
        }
        match render(cmd, answer, color) {
            Some(table) => writeln!(out, "{table}")?,
            None => writeln!(out, "   {}", summary(cmd, answer))?,
        }
    }
    let n = replies.nodes.len();
    writeln!(
        out,
        "{} {} replied in {} ms",
        n,
        if n == 1 { "node" } else { "nodes" },
        replies.elapsed.as_millis()
    )?;
    Ok(())
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn summary(cmd: InspectCommand, answer: &Value) -> String {
    match (cmd, answer) {
        (InspectCommand::Ping, v) => v.get("ok").map(plain).unwrap_or_else(|| v.to_string()),
        (_, Value::Array(a)) if a.is_empty() => "- empty -".into(),
        (_, Value::Object(o)) if o.is_empty() => "- empty -".into(),
        (InspectCommand::Report, v) => v
            .get("ok")
            .map(plain)
            .unwrap_or_else(|| v.to_string())
            .replace('\n', "\n   "),
        (_, Value::Array(a)) => a.iter().map(plain).collect::<Vec<_>>().join("\n   "),
        (_, v) => serde_json::to_string_pretty(v).unwrap_or_default(),
    }
}

/// A table for the commands whose answer is a list of tasks or queues, or a map of settings.
fn render(cmd: InspectCommand, answer: &Value, color: bool) -> Option<Table> {
    match cmd {
        InspectCommand::Active | InspectCommand::Reserved => {
            let items = answer.as_array().filter(|a| !a.is_empty())?;
            let mut t = table(color, &["id", "task", "args", "kwargs", "started", "acked"]);
            for r in items {
                t.add_row(vec![
                    field(r, "id"),
                    field(r, "name"),
                    field(r, "args"),
                    field(r, "kwargs"),
                    r.get("time_start")
                        .and_then(Value::as_f64)
                        .map(|t| format!("{t:.0}"))
                        .unwrap_or_else(|| "-".into()),
                    field(r, "acknowledged"),
                ]);
            }
            Some(t)
        }
        InspectCommand::Scheduled => {
            let items = answer.as_array().filter(|a| !a.is_empty())?;
            let mut t = table(color, &["eta", "id", "task", "args", "kwargs"]);
            for s in items {
                let r = s.get("request").cloned().unwrap_or(Value::Null);
                t.add_row(vec![
                    field(s, "eta"),
                    field(&r, "id"),
                    field(&r, "name"),
                    field(&r, "args"),
                    field(&r, "kwargs"),
                ]);
            }
            Some(t)
        }
        InspectCommand::ActiveQueues => {
            let items = answer.as_array().filter(|a| !a.is_empty())?;
            let mut t = table(
                color,
                &["queue", "exchange", "type", "routing key", "durable"],
            );
            for q in items {
                let x = q.get("exchange").cloned().unwrap_or(Value::Null);
                t.add_row(vec![
                    field(q, "name"),
                    field(&x, "name"),
                    field(&x, "type"),
                    field(q, "routing_key"),
                    field(q, "durable"),
                ]);
            }
            Some(t)
        }
        InspectCommand::Stats => {
            let o = answer.as_object()?;
            let pool = answer.get("pool").cloned().unwrap_or(Value::Null);
            let mut t = table(color, &["stat", "value"]);
            let rows: Vec<(&str, String)> = vec![
                ("pid", field(answer, "pid")),
                ("uptime (s)", field(answer, "uptime")),
                ("pool", field(&pool, "implementation")),
                ("concurrency", field(&pool, "max-concurrency")),
                ("processes", field(&pool, "processes")),
                ("prefetch count", field(answer, "prefetch_count")),
                ("max tasks per child", field(&pool, "max-tasks-per-child")),
                (
                    "broker",
                    format!(
                        "{} {}:{}",
                        field(o.get("broker").unwrap_or(&Value::Null), "transport"),
                        field(o.get("broker").unwrap_or(&Value::Null), "hostname"),
                        field(o.get("broker").unwrap_or(&Value::Null), "port")
                    ),
                ),
                ("tasks run", field(answer, "total")),
                (
                    "max RSS (KiB)",
                    field(o.get("rusage").unwrap_or(&Value::Null), "maxrss"),
                ),
            ];
            for (k, v) in rows {
                t.add_row(vec![k.to_string(), v]);
            }
            Some(t)
        }
        InspectCommand::Conf => {
            let o = answer.as_object().filter(|o| !o.is_empty())?;
            let mut t = table(color, &["setting", "value"]);
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            for k in keys {
                t.add_row(vec![k.clone(), plain(&o[k])]);
            }
            Some(t)
        }
        InspectCommand::QueryTask => {
            let o = answer.as_object().filter(|o| !o.is_empty())?;
            let mut t = table(color, &["id", "state", "task", "args"]);
            for (id, v) in o {
                let state = v.get(0).map(plain).unwrap_or_default();
                let info = v.get(1).cloned().unwrap_or(Value::Null);
                t.add_row(vec![
                    id.clone(),
                    state,
                    field(&info, "name"),
                    field(&info, "args"),
                ]);
            }
            Some(t)
        }
        _ => None,
    }
}

fn field(v: &Value, key: &str) -> String {
    v.get(key).map(plain).unwrap_or_else(|| "-".into())
}
