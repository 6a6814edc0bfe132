//! `celery-doctor queues` — depth, unacknowledged, consumers and task mix of every queue.

use std::io::Write;

use clap::Args;
use colored::Colorize;
use comfy_table::CellAlignment;

use super::ExitStatus;
use super::output::Progress;
use super::probe::{BrokerArgs, OutputArgs, block_on, positive_secs};
use crate::probe::Broker;
use crate::probe::queues::{QueueQuery, QueuesReport, gather};

#[derive(Args, Debug)]
pub struct QueuesArgs {
    /// Also report this queue (repeatable), even if nothing else names it.
    #[arg(long = "queue", short = 'Q', value_name = "NAME")]
    pub queues: Vec<String>,
    /// Messages read per queue for the breakdown by task name (0: none).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub sample: usize,
    /// Do not ask workers which queues they consume (no broadcast at all).
    #[arg(long)]
    pub no_workers: bool,
    /// Seconds of silence that end the wait for workers' `active_queues` replies.
    #[arg(long, short = 't', value_name = "SECS", default_value_t = 1.0)]
    pub timeout: f64,
    /// RabbitMQ only: sample message bodies for the task breakdown with basic.get + requeue.
    /// This is NOT read-only: RabbitMQ marks those messages redelivered (and counts a delivery
    /// on quorum queues). Redis is always read without side effects.
    #[arg(long)]
    pub allow_requeue: bool,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(args: QueuesArgs) -> anyhow::Result<ExitStatus> {
    let color = args.out.use_color();
    let target = args.broker.resolve()?;
    let query = QueueQuery {
        explicit: args.queues.clone(),
        from_project: target.project_queues.clone(),
        sample: args.sample,
        ask_workers: !args.no_workers,
        worker_timeout: positive_secs(args.timeout, "--timeout")?,
        allow_requeue: args.allow_requeue,
        management_url: args.broker.management_url.clone(),
        use_management: true,
    };
    let progress = Progress::start(format!("reading queues on {}", target.url));
    let report = block_on(async {
        let mut broker = Broker::connect(&target.url, &target.opts, target.limits).await?;
        broker.set_management_url(args.broker.management_url.clone());
        let report = gather(&broker, &query, &target.opts.control_exchange).await;
        broker.close().await;
        report
    });
    progress.finish();
    let report = report??;
    for note in &report.notes {
        eprintln!("celery-doctor: note: {note}");
    }
    args.out
        .emit(&report, |out| write_text(out, &report, color))?;
    Ok(ExitStatus::Success)
}

fn num(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "?".into())
}

fn write_text(out: &mut dyn Write, r: &QueuesReport, color: bool) -> anyhow::Result<()> {
    writeln!(out, "{} ({})", r.broker.bold(), r.transport)?;
    if r.queues.is_empty() {
        writeln!(out, "no queues found")?;
        return Ok(());
    }
    let mut t = super::output::table(
        color,
        &[
            "queue",
            "ready",
            "unacked",
            "oldest unacked",
            "consumers",
            "tasks (sample)",
        ],
    );
    for q in &r.queues {
        let consumers = match (q.consumers, q.consumer_nodes.is_empty()) {
            (Some(0), _) if q.ready.unwrap_or(0) > 0 => {
                if color {
                    "0 ⚠".red().bold().to_string()
                } else {
                    "0 (!)".to_string()
                }
            }
            (Some(n), true) => n.to_string(),
            (Some(n), false) => format!("{n} ({})", q.consumer_nodes.join(", ")),
            (None, _) => "?".into(),
        };
        let mut tasks: Vec<(&String, &u64)> = q.tasks.iter().collect();
        tasks.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut mix: Vec<String> = tasks
            .iter()
            .take(5)
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        if tasks.len() > 5 {
            mix.push(format!("+{} more", tasks.len() - 5));
        }
        let mut ready = num(q.ready);
        if q.priorities.len() > 1 || q.priorities.keys().any(|k| k != "0") {
            let steps: Vec<String> = q
                .priorities
                .iter()
                .map(|(k, v)| format!("p{k}:{v}"))
                .collect();
            ready = format!("{ready} ({})", steps.join(" "));
        }
        t.add_row(vec![
            if q.exists {
                q.name.clone()
            } else {
                format!("{} (missing)", q.name)
            },
            ready,
            num(q.unacked),
            q.oldest_unacked_age_secs
                .map(|s| format!("{s:.0} s"))
                .unwrap_or_else(|| "-".into()),
            consumers,
            if mix.is_empty() {
                "-".into()
            } else {
                mix.join(", ")
            },
        ]);
    }
    for i in 1..=3 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(out, "{t}")?;
    if let Some(w) = &r.workers {
        writeln!(
            out,
            "workers answering: {}",
            if w.is_empty() {
                "none".to_string()
            } else {
                w.join(", ")
            }
        )?;
    }
    Ok(())
}
