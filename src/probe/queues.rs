//! `queues`: one row per queue — ready, unacknowledged, consumers, and a breakdown by task
//! name from a bounded sample — gathered from every source that names queues.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::Broker;
use super::amqp::AmqpProbe;
use super::error::ProbeError;
use super::mailbox::{InspectCommand, Replies, Request};
use super::management::Management;
use super::message;
use super::redis::{RedisProbe, is_internal_queue};

/// What to look at.
#[derive(Clone, Debug)]
pub struct QueueQuery {
    /// `--queue NAME` (always reported, even when empty or missing).
    pub explicit: Vec<String>,
    /// Queues named by the project's configuration (`--app-path`).
    pub from_project: Vec<String>,
    /// Messages sampled per queue for the task breakdown.
    pub sample: usize,
    /// Ask live workers which queues they consume (`active_queues` broadcast).
    pub ask_workers: bool,
    pub worker_timeout: Duration,
    /// RabbitMQ: sampling bodies requeues them; only with the user's `--allow-requeue`.
    pub allow_requeue: bool,
    pub management_url: Option<String>,
    /// RabbitMQ: ask the management API (false when the caller already saw it fail).
    pub use_management: bool,
}

/// One queue.
#[derive(Clone, Debug, Default, Serialize)]
pub struct QueueRow {
    pub name: String,
    /// Messages waiting (all priority lists on Redis). `None`: unknown.
    pub ready: Option<u64>,
    /// Redis: messages per priority step (`"0"`, `"3"`, `"6"`, `"9"`), non-empty steps only.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub priorities: BTreeMap<String, u64>,
    /// Delivered to a worker and not yet acknowledged (includes prefetched and ETA tasks).
    pub unacked: Option<u64>,
    /// Age in seconds of the oldest unacknowledged delivery (Redis `unacked_index`).
    pub oldest_unacked_age_secs: Option<f64>,
    /// Redis: unacknowledged deliveries older than `visibility_timeout`; the next restore
    /// sweep of any worker puts them back in the queue (ETA tasks then run twice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unacked_past_visibility_timeout: Option<u64>,
    /// Consumers: from the broker (RabbitMQ) or from the workers' `active_queues` (Redis).
    pub consumers: Option<u64>,
    /// Worker nodes that said they consume this queue.
    pub consumer_nodes: Vec<String>,
    /// Task name → count in the sample (`<undecodable>` for messages that could not be read).
    pub tasks: BTreeMap<String, u64>,
    /// How many messages the breakdown is based on.
    pub sampled: u64,
    /// Where the queue's name came from: bindings, management, workers, project, option, unacked.
    pub sources: Vec<String>,
    /// False when the broker does not know the queue (RabbitMQ 404 / Redis: no key, no binding).
    pub exists: bool,
}

/// The whole answer.
#[derive(Clone, Debug, Serialize)]
pub struct QueuesReport {
    pub broker: String,
    pub transport: &'static str,
    pub queues: Vec<QueueRow>,
    /// Worker nodes that answered `active_queues` (`None` when not asked).
    pub workers: Option<Vec<String>>,
    /// Unacknowledged messages in total (Redis `unacked` hash / RabbitMQ sum).
    pub unacked_total: Option<u64>,
    /// Things the reader should know (a source that failed, a bound that was hit).
    pub notes: Vec<String>,
    /// Redis: the entries of the `unacked` hash that were read (for `diagnose`).
    #[serde(skip)]
    pub unacked_entries: Vec<super::redis::Unacked>,
}

impl QueuesReport {
    fn row(&mut self, name: &str, source: &str) -> &mut QueueRow {
        let i = match self.queues.iter().position(|r| r.name == name) {
            Some(i) => i,
            None => {
                self.queues.push(QueueRow {
                    name: name.to_string(),
                    ..QueueRow::default()
                });
                self.queues.len() - 1
            }
        };
        let row = &mut self.queues[i];
        if !row.sources.iter().any(|s| s == source) {
            row.sources.push(source.to_string());
        }
        row
    }
}

/// Gather the report.
pub async fn gather(broker: &Broker, q: &QueueQuery, ns: &str) -> Result<QueuesReport, ProbeError> {
    let mut report = QueuesReport {
        broker: broker.url().to_string(),
        transport: match broker {
            Broker::Redis(_) => "redis",
            Broker::Amqp(_) => "amqp",
        },
        queues: Vec::new(),
        workers: None,
        unacked_total: None,
        notes: Vec::new(),
        unacked_entries: Vec::new(),
    };
    if q.ask_workers {
        let req = Request {
            method: InspectCommand::ActiveQueues.method().into(),
            arguments: InspectCommand::ActiveQueues.arguments(&[], false),
            destination: None,
            timeout: q.worker_timeout,
            expect: None,
            namespace: ns.to_string(),
        };
        let replies = broker.broadcast(&req).await?;
        apply_active_queues(&mut report, &replies);
    }
    for name in &q.from_project {
        report.row(name, "project");
    }
    for name in &q.explicit {
        report.row(name, "option");
    }
    match broker {
        Broker::Redis(r) => gather_redis(r, q, &mut report).await?,
        Broker::Amqp(a) => gather_amqp(a, q, ns, &mut report).await?,
    }
    report
        .queues
        .retain(|r| !is_internal_queue(&r.name, ns) || q.explicit.contains(&r.name));
    report.queues.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(report)
}

fn apply_active_queues(report: &mut QueuesReport, replies: &Replies) {
    let mut nodes = Vec::new();
    for (node, answer) in &replies.nodes {
        nodes.push(node.clone());
        let Some(list) = answer.as_array() else {
            report.notes.push(format!(
                "worker {node} answered active_queues with {answer}"
            ));
            continue;
        };
        for queue in list {
            if let Some(name) = queue.get("name").and_then(Value::as_str) {
                let row = report.row(name, "workers");
                if !row.consumer_nodes.contains(node) {
                    row.consumer_nodes.push(node.clone());
                }
            }
        }
    }
    for reason in &replies.undecodable {
        report
            .notes
            .push(format!("a worker's reply could not be decoded: {reason}"));
    }
    report.workers = Some(nodes);
}

async fn gather_redis(
    r: &RedisProbe,
    q: &QueueQuery,
    report: &mut QueuesReport,
) -> Result<(), ProbeError> {
    let (bindings, unparsed) = r.bindings().await?;
    if unparsed > 0 {
        report.notes.push(format!(
            "{unparsed} binding member(s) do not split into routing key, pattern and queue with sep {:?}; do the workers set another `sep` transport option? (--transport-option sep=…)",
            r.opts.sep
        ));
    }
    for b in &bindings {
        report.row(&b.queue, "bindings");
    }
    let unacked = r.unacked(&bindings).await?;
    report.unacked_total = Some(unacked.total);
    if unacked.truncated {
        report.notes.push(format!(
            "the unacked hash holds {} entries; only the first {} were read",
            unacked.total,
            unacked.entries.len()
        ));
    }
    let now = super::now_secs();
    // queue → (count, oldest delivery, past the visibility timeout)
    let mut per_queue: BTreeMap<String, (u64, Option<f64>, u64)> = BTreeMap::new();
    for u in &unacked.entries {
        let name = u.queue.clone().unwrap_or_else(|| "<unknown>".into());
        let slot = per_queue.entry(name).or_insert((0, None, 0));
        slot.0 += 1;
        if let Some(t) = u.delivered_at {
            slot.1 = Some(slot.1.map_or(t, |o: f64| o.min(t)));
            if now - t > r.opts.visibility_timeout {
                slot.2 += 1;
            }
        }
    }
    for name in per_queue.keys() {
        report.row(name, "unacked");
    }
    let names: Vec<String> = report.queues.iter().map(|r| r.name.clone()).collect();
    let depths = r.depths(&names).await?;
    let workers_known = report.workers.is_some();
    for (row, steps) in report.queues.iter_mut().zip(depths) {
        let total: u64 = steps.iter().map(|(_, n)| n).sum();
        row.ready = Some(total);
        row.priorities = steps
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        let (count, oldest, overdue) = per_queue.get(&row.name).copied().unwrap_or((0, None, 0));
        row.unacked = Some(count);
        row.unacked_past_visibility_timeout = Some(overdue);
        row.oldest_unacked_age_secs = oldest.map(|t| ((now - t) * 10.0).round() / 10.0);
        if workers_known {
            row.consumers = Some(row.consumer_nodes.len() as u64);
        }
        row.exists = total > 0 || count > 0 || bindings.iter().any(|b| b.queue == row.name);
    }
    if q.sample > 0 {
        for row in report
            .queues
            .iter_mut()
            .filter(|r| r.ready.unwrap_or(0) > 0)
        {
            let raw = r.peek_raw(&row.name, q.sample).await?;
            row.sampled = raw.len() as u64;
            for (_, bytes) in raw {
                let name =
                    message::envelope_task_name(&bytes).unwrap_or_else(|| "<undecodable>".into());
                *row.tasks.entry(name).or_default() += 1;
            }
        }
    }
    report.unacked_entries = unacked.entries;
    Ok(())
}

async fn gather_amqp(
    a: &AmqpProbe,
    q: &QueueQuery,
    ns: &str,
    report: &mut QueuesReport,
) -> Result<(), ProbeError> {
    let vhost = a
        .url
        .amqp
        .as_ref()
        .map(|u| u.vhost.clone())
        .unwrap_or_else(|| "/".into());
    let mut from_api: BTreeMap<String, Value> = BTreeMap::new();
    let management = if q.use_management {
        Management::new(&a.url, q.management_url.as_deref(), a.limits.connect)
            .map_err(|e| e.to_string())
    } else {
        Err("management API skipped (it failed earlier)".to_string())
    };
    let listed = match &management {
        Ok(m) => m.queues(&vhost).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    match listed {
        Ok(list) => {
            for item in list {
                if let Some(name) = item.get("name").and_then(Value::as_str) {
                    from_api.insert(name.to_string(), item.clone());
                }
            }
        }
        Err(e) => report.notes.push(format!(
            "{e}; unacknowledged counts unknown, queues found only from other sources"
        )),
    }
    for (name, item) in &from_api {
        // Exclusive queues belong to one connection (reply queues, `amq.gen-*`): not task
        // queues, and a passive declare of one is refused with 405 RESOURCE_LOCKED.
        let exclusive = item.get("exclusive").and_then(Value::as_bool) == Some(true);
        if !exclusive && !is_internal_queue(name, ns) {
            report.row(name, "management");
        }
    }
    let mut unacked_total = (!from_api.is_empty()).then_some(0u64);
    let names: Vec<String> = report.queues.iter().map(|r| r.name.clone()).collect();
    for name in names {
        let api = from_api.get(&name);
        let num = |k: &str| api.and_then(|v| v.get(k)).and_then(Value::as_u64);
        // The management API's full statistics lag; a passive declare is exact now, so it wins
        // for ready and consumers. One queue failing does not end the report.
        let counts = match a.queue_counts(&name).await {
            Ok(c) => c,
            Err(e) if e.kind() == "protocol" || e.kind() == "auth" => {
                report.notes.push(format!("queue `{name}`: {e}"));
                None
            }
            Err(e) => return Err(e),
        };
        let row = report.row(&name, "broker");
        row.sources.retain(|s| s != "broker");
        match counts {
            Some(c) => {
                row.exists = true;
                row.ready = Some(c.ready);
                row.consumers = Some(c.consumers);
            }
            None => {
                row.exists = api.is_some();
                row.ready = num("messages_ready").or(api.map(|_| 0));
                row.consumers = num("consumers");
            }
        }
        row.unacked = num("messages_unacknowledged").or(api.map(|_| 0));
        if let (Some(t), Some(u)) = (unacked_total.as_mut(), row.unacked) {
            *t += u;
        }
    }
    report.unacked_total = unacked_total;
    if q.sample > 0 {
        if q.allow_requeue {
            for row in report
                .queues
                .iter_mut()
                .filter(|r| r.ready.unwrap_or(0) > 0)
            {
                // Each requeue counts a delivery on a quorum queue; past its delivery limit
                // RabbitMQ dead-letters or drops the message. Never risk that for a histogram.
                let quorum = from_api
                    .get(&row.name)
                    .and_then(|v| v.get("type"))
                    .and_then(Value::as_str)
                    == Some("quorum");
                if quorum {
                    report.notes.push(format!(
                        "queue `{}` is a quorum queue: not sampled (requeues count toward its delivery limit)",
                        row.name
                    ));
                    continue;
                }
                let msgs = a.peek_requeue(&row.name, q.sample).await?;
                row.sampled = msgs.len() as u64;
                for m in msgs {
                    let name = message::task_name(&m).unwrap_or_else(|| "<undecodable>".into());
                    *row.tasks.entry(name).or_default() += 1;
                }
            }
        } else if report.queues.iter().any(|r| r.ready.unwrap_or(0) > 0) {
            report.notes.push(
                "task breakdown skipped: reading message bodies on RabbitMQ requeues them and marks them redelivered; pass --allow-requeue to sample"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Names sorted and unique (helper for callers merging sources).
pub fn unique(names: impl IntoIterator<Item = String>) -> Vec<String> {
    names
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
