//! `celery-doctor peek QUEUE` — decode the next messages of a queue without consuming them.

use std::io::Write;

use clap::Args;
use colored::Colorize;
use serde::Serialize;
use serde_json::Value;

use super::ExitStatus;
use super::output::Progress;
use super::probe::{BrokerArgs, OutputArgs, block_on};
use crate::probe::Broker;
use crate::probe::message::{self, BodyStatus, RawMessage, TaskMessage};

#[derive(Args, Debug)]
pub struct PeekArgs {
    /// The queue to look into.
    pub queue: String,
    /// How many messages (the next ones to be consumed first).
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 10)]
    pub count: usize,
    /// RabbitMQ only: read bodies with basic.get and put them back. NOT read-only: RabbitMQ
    /// marks them redelivered (quorum queues count a delivery). Without this flag, peek on
    /// RabbitMQ refuses. Redis is always read without side effects (LRANGE).
    #[arg(long)]
    pub allow_requeue: bool,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Serialize)]
struct PeekReport {
    broker: String,
    queue: String,
    /// Messages waiting in the queue (all priority lists on Redis).
    ready: Option<u64>,
    messages: Vec<Peeked>,
}

#[derive(Serialize)]
struct Peeked {
    /// 0 = the next to be consumed.
    position: usize,
    /// Redis: the priority list it sits in (step 0, 3, 6, 9 by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    priority_step: Option<u32>,
    #[serde(flatten)]
    message: TaskMessage,
}

pub fn run(args: PeekArgs) -> anyhow::Result<ExitStatus> {
    let color = args.out.use_color();
    let target = args.broker.resolve()?;
    if target.url.amqp.is_some() && !args.allow_requeue {
        anyhow::bail!(
            "peek on RabbitMQ must take messages off the queue and requeue them, which marks them redelivered; pass --allow-requeue if that is acceptable"
        );
    }
    let progress = Progress::start(format!("reading {} on {}", args.queue, target.url));
    let report = block_on(async {
        let mut broker = Broker::connect(&target.url, &target.opts, target.limits).await?;
        broker.set_management_url(args.broker.management_url.clone());
        let result = match &broker {
            Broker::Redis(r) => {
                let depth = r.depths(std::slice::from_ref(&args.queue)).await?;
                let raw = r.peek_raw(&args.queue, args.count).await?;
                let messages = raw
                    .into_iter()
                    .enumerate()
                    .map(|(i, (step, bytes))| Peeked {
                        position: i,
                        priority_step: Some(step),
                        message: match message::parse_redis_envelope(&bytes) {
                            Ok(m) => message::decode(&m),
                            Err(reason) => not_an_envelope(bytes, &reason),
                        },
                    })
                    .collect();
                Ok(PeekReport {
                    broker: target.url.to_string(),
                    queue: args.queue.clone(),
                    ready: depth.first().map(|d| d.iter().map(|(_, n)| n).sum()),
                    messages,
                })
            }
            Broker::Amqp(a) => {
                let counts = a.queue_counts(&args.queue).await?;
                let Some(counts) = counts else {
                    return Err(crate::probe::ProbeError::Protocol {
                        broker: target.url.to_string(),
                        detail: format!("queue `{}` does not exist", args.queue),
                    });
                };
                let raw = a.peek_requeue(&args.queue, args.count).await?;
                Ok(PeekReport {
                    broker: target.url.to_string(),
                    queue: args.queue.clone(),
                    ready: Some(counts.ready),
                    messages: raw
                        .iter()
                        .enumerate()
                        .map(|(i, m)| Peeked {
                            position: i,
                            priority_step: None,
                            message: message::decode(m),
                        })
                        .collect(),
                })
            }
        };
        broker.close().await;
        result
    });
    progress.finish();
    let report = report??;
    args.out
        .emit(&report, |out| write_text(out, &report, color))?;
    Ok(ExitStatus::Success)
}

fn write_text(out: &mut dyn Write, r: &PeekReport, _color: bool) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} queue {} — {} waiting, showing {}",
        r.broker.bold(),
        r.queue.bold(),
        r.ready.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
        r.messages.len()
    )?;
    for p in &r.messages {
        let v = serde_json::to_value(&p.message)?;
        let s = |k: &str| match v.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        writeln!(
            out,
            "\n#{} {} {}",
            p.position,
            s("task").unwrap_or_else(|| "<unknown task>".into()).bold(),
            s("id").unwrap_or_default().dimmed()
        )?;
        let status = v
            .get("body")
            .and_then(|b| b.get("status"))
            .and_then(Value::as_str);
        match status {
            Some("decoded") => {
                writeln!(
                    out,
                    "  args:   {}",
                    s("args").unwrap_or_else(|| "[]".into())
                )?;
                writeln!(
                    out,
                    "  kwargs: {}",
                    s("kwargs").unwrap_or_else(|| "{}".into())
                )?;
            }
            _ => {
                let why = v
                    .get("body")
                    .and_then(|b| b.get("reason").or_else(|| b.get("note")))
                    .and_then(Value::as_str)
                    .unwrap_or("not decoded");
                writeln!(out, "  body:   {} ({why})", status.unwrap_or("?"))?;
                if let Some(a) = s("argsrepr") {
                    writeln!(out, "  argsrepr:   {a}")?;
                }
                if let Some(k) = s("kwargsrepr") {
                    writeln!(out, "  kwargsrepr: {k}")?;
                }
            }
        }
        let mut meta = Vec::new();
        for key in [
            "eta",
            "expires",
            "retries",
            "priority",
            "root_id",
            "parent_id",
            "protocol",
            "content_type",
            "content_encoding",
            "compression",
            "size",
        ] {
            if let Some(val) = s(key) {
                meta.push(format!("{key}={val}"));
            }
        }
        if let Some(step) = p.priority_step {
            meta.push(format!("list=p{step}"));
        }
        writeln!(out, "  {}", meta.join("  "))?;
    }
    Ok(())
}

/// A list entry that is not a kombu envelope: shown as undecodable, with its size.
fn not_an_envelope(bytes: Vec<u8>, reason: &str) -> TaskMessage {
    let mut m = message::decode(&RawMessage {
        body: bytes,
        ..RawMessage::default()
    });
    m.body = BodyStatus::Undecodable {
        reason: format!("not a kombu message envelope: {reason}"),
    };
    m
}
