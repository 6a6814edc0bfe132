//! Gathering the live state, every step bounded by what is left of the budget. A step that
//! runs out of time (a hung broker, a slow backend) is recorded as skipped with the reason,
//! and the report still comes out on time.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::state::{
    BackendState, ConnectError, LiveState, QueueSample, QueueState, RabbitHealth, RouteRef,
    UnackedState, WorkerInfo,
};
use crate::probe::mailbox::{InspectCommand, Replies, Request};
use crate::probe::management::Management;
use crate::probe::queues::{self, QueueQuery};
use crate::probe::redis::RedisProbe;
use crate::probe::{Broker, BrokerUrl, Limits, ProbeError, TransportOptions, message, now_secs};

/// What to look at and how long it may take.
pub struct Options {
    pub url: BrokerUrl,
    pub opts: TransportOptions,
    pub limits: Limits,
    pub budget: Duration,
    /// Silence that ends the wait for worker replies.
    pub reply_timeout: Duration,
    pub management_url: Option<String>,
    pub backend: Option<String>,
    pub logs: Vec<PathBuf>,
    pub routes: Option<Vec<RouteRef>>,
    pub project_queues: Vec<String>,
    /// Messages sampled per queue.
    pub sample: usize,
}

struct Clock {
    end: Instant,
}

impl Clock {
    fn left(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// Run a step with what is left of the budget; `Err(reason)` when it did not finish.
    async fn step<T>(&self, fut: impl Future<Output = T>) -> Result<T, String> {
        let left = self.left();
        if left.is_zero() {
            return Err("the time budget was used up by earlier steps".into());
        }
        tokio::time::timeout(left, fut)
            .await
            .map_err(|_| "did not finish within the time budget (--budget)".to_string())
    }
}

/// Gather everything `diagnose` judges.
pub async fn gather(o: &Options) -> LiveState {
    let clock = Clock {
        end: Instant::now() + o.budget,
    };
    let mut state = LiveState {
        broker: o.url.to_string(),
        transport: match o.url.kind {
            crate::probe::BrokerKind::Redis => "redis".into(),
            crate::probe::BrokerKind::Amqp => "amqp".into(),
        },
        visibility_timeout: o.opts.visibility_timeout,
        routes: o.routes.clone(),
        now: now_secs(),
        ..LiveState::default()
    };
    let t0 = Instant::now();
    let connected = clock
        .step(Broker::connect(&o.url, &o.opts, o.limits))
        .await
        .unwrap_or_else(|_| {
            Err(ProbeError::Timeout {
                broker: o.url.to_string(),
                what: "the connection".into(),
                secs: o.budget.as_secs_f64(),
            })
        });
    let mut broker = match connected {
        Ok(b) => b,
        Err(e) => {
            state.connect_error = Some(ConnectError {
                kind: e.kind().to_string(),
                message: e.to_string(),
            });
            for id in [
                "workers",
                "routing",
                "serializers",
                "task_state",
                "resources",
            ] {
                state
                    .skipped
                    .insert(id.into(), "the broker could not be reached".into());
            }
            backend_step(&mut state, o, &clock).await;
            logs_step(&mut state, o, &clock).await;
            return state;
        }
    };
    state.latency_ms = Some((t0.elapsed().as_secs_f64() * 10_000.0).round() / 10.0);
    broker.set_management_url(o.management_url.clone());

    // 1. Broker health. A management API that failed here is not asked again for queues.
    let mut management_ok = true;
    match &broker {
        Broker::Redis(r) => match clock.step(r.info()).await {
            Ok(Ok(info)) => state.redis_info = Some(info),
            Ok(Err(e)) => note_skip(&mut state, "resources", e.to_string()),
            Err(reason) => note_skip(&mut state, "resources", reason),
        },
        Broker::Amqp(a) => {
            let m = Management::new(
                &a.url,
                o.management_url.as_deref(),
                o.limits.connect.min(Duration::from_secs(3)),
            );
            match m {
                Ok(m) => match clock.step(rabbit_health(&m)).await {
                    Ok(Ok(h)) => state.rabbit = Some(h),
                    Ok(Err(e)) => {
                        management_ok = false;
                        state
                            .notes
                            .push(format!("{e}; broker health limited to what AMQP shows"));
                    }
                    Err(reason) => {
                        management_ok = false;
                        state.notes.push(format!("management API {reason}"));
                    }
                },
                Err(e) => {
                    management_ok = false;
                    state.notes.push(e.to_string());
                }
            }
        }
    }

    // 2. Queue depths first: if the budget runs short, they matter most.
    let query = QueueQuery {
        explicit: Vec::new(),
        from_project: o.project_queues.clone(),
        sample: 0,
        ask_workers: false,
        worker_timeout: o.reply_timeout,
        allow_requeue: false,
        management_url: o.management_url.clone(),
        use_management: management_ok,
    };
    let mut list: Option<Vec<QueueState>> = None;
    let mut unacked_entries = Vec::new();
    match clock
        .step(queues::gather(&broker, &query, &o.opts.control_exchange))
        .await
    {
        Ok(Ok(report)) => {
            list = Some(
                report
                    .queues
                    .iter()
                    .map(|r| QueueState {
                        name: r.name.clone(),
                        ready: r.ready,
                        unacked: r.unacked,
                        consumers: r.consumers,
                        consumer_nodes: Vec::new(),
                        sample: None,
                    })
                    .collect(),
            );
            state.unacked_total = report.unacked_total;
            unacked_entries = report.unacked_entries;
            state.notes.extend(report.notes);
        }
        Ok(Err(e)) => note_skip(&mut state, "routing", e.to_string()),
        Err(reason) => note_skip(&mut state, "routing", reason),
    }

    // 3. Workers.
    match clock.step(workers(&broker, o)).await {
        Ok(Ok((nodes, silent))) => {
            state.workers = Some(nodes);
            state.silent_mailboxes = silent;
        }
        Ok(Err(e)) => note_skip(&mut state, "workers", e.to_string()),
        Err(reason) => note_skip(&mut state, "workers", reason),
    }

    // 4. Who consumes what; samples and the unacked set (Redis).
    if let Some(mut list) = list {
        if let Some(nodes) = &state.workers {
            for q in &mut list {
                q.consumer_nodes = nodes
                    .iter()
                    .filter(|w| w.queues.contains(&q.name))
                    .map(|w| w.name.clone())
                    .collect();
                // Redis knows consumers only from the workers' answers.
                if q.consumers.is_none()
                    && (!q.consumer_nodes.is_empty() || nodes.iter().all(|w| w.queues_known))
                {
                    q.consumers = Some(q.consumer_nodes.len() as u64);
                }
            }
        }
        if let Broker::Redis(r) = &broker {
            match clock
                .step(redis_details(r, &mut list, o.sample, unacked_entries))
                .await
            {
                Ok(Ok(unacked)) => state.unacked = Some(unacked),
                Ok(Err(e)) => note_skip(&mut state, "task_state", e.to_string()),
                Err(reason) => note_skip(&mut state, "task_state", reason),
            }
        } else {
            state.notes.push(
                "RabbitMQ: message bodies are not sampled (that would requeue them); content types and retries are judged from worker answers and logs only"
                    .into(),
            );
        }
        state.queues = Some(list);
    }
    let _ = clock.step(broker.close()).await;
    backend_step(&mut state, o, &clock).await;
    logs_step(&mut state, o, &clock).await;
    state
}

/// The result backend last, and never with more than the connect limit: a hung backend must
/// not eat the broker's share of the budget.
async fn backend_step(state: &mut LiveState, o: &Options, clock: &Clock) {
    let Some(url) = &o.backend else { return };
    let limit = o.limits.connect.min(clock.left());
    if limit.is_zero() {
        state.skipped.insert(
            "result_backend".into(),
            "the time budget was used up by earlier steps".into(),
        );
        return;
    }
    if !is_redis_url(url) {
        state.skipped.insert(
            "result_backend".into(),
            format!(
                "{}: only Redis result backends are inspected so far",
                crate::probe::url::redact_url_text(url)
            ),
        );
        return;
    }
    match tokio::time::timeout(limit, backend(url, o.limits)).await {
        Ok(Ok(b)) => state.backend = Some(b),
        Ok(Err(e)) => state.backend_error = Some(e),
        Err(_) => {
            state.backend_error = Some(format!(
                "result backend {} did not answer within {:.1} s",
                crate::probe::url::redact_url_text(url),
                limit.as_secs_f64()
            ))
        }
    }
}

fn is_redis_url(url: &str) -> bool {
    let scheme = url.split("://").next().unwrap_or("").to_ascii_lowercase();
    matches!(
        scheme.as_str(),
        "redis" | "rediss" | "redis+socket" | "socket" | "unix" | "sentinel"
    )
}

/// Worker logs, off the async thread and bounded: a huge file or a FIFO must not hold up the
/// report.
async fn logs_step(state: &mut LiveState, o: &Options, clock: &Clock) {
    if o.logs.is_empty() {
        return;
    }
    let paths = o.logs.clone();
    let limit = clock.left().max(Duration::from_secs(2));
    match tokio::time::timeout(
        limit,
        tokio::task::spawn_blocking(move || super::logs::scan_files(&paths)),
    )
    .await
    {
        Ok(Ok(scan)) => state.logs = Some(scan),
        Ok(Err(_)) => note_skip(state, "logs", "the log scan failed".into()),
        Err(_) => note_skip(
            state,
            "logs",
            format!(
                "the log scan did not finish within {:.1} s",
                limit.as_secs_f64()
            ),
        ),
    }
}

fn note_skip(state: &mut LiveState, check: &str, reason: String) {
    state.skipped.insert(check.to_string(), reason);
}

async fn broadcast(
    broker: &Broker,
    o: &Options,
    cmd: InspectCommand,
    expect: Option<usize>,
) -> Result<Replies, ProbeError> {
    broker
        .broadcast(&Request {
            method: cmd.method().into(),
            arguments: cmd.arguments(&[], false),
            destination: None,
            timeout: o.reply_timeout,
            expect,
            namespace: o.opts.control_exchange.clone(),
        })
        .await
}

fn answer<'a>(r: &'a Replies, node: &str) -> Option<&'a Value> {
    r.nodes.iter().find(|(n, _)| n == node).map(|(_, v)| v)
}

/// Ping, then ask the nodes that answered for everything else.
async fn workers(broker: &Broker, o: &Options) -> Result<(Vec<WorkerInfo>, u64), ProbeError> {
    let ping = broadcast(broker, o, InspectCommand::Ping, None).await?;
    // Celery 5.7 beat can join the mailbox (`celerybeat@host`) and answers only ping.
    let names: Vec<String> = ping
        .nodes
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| !n.starts_with("celerybeat@"))
        .collect();
    let silent = ping
        .receivers
        .map(|r| r.saturating_sub(names.len() as u64))
        .unwrap_or(0);
    if names.is_empty() {
        return Ok((Vec::new(), silent));
    }
    let stats = broadcast(broker, o, InspectCommand::Stats, Some(names.len())).await?;
    // A worker is a node that answers `stats` (beat, under any node name, only answers ping).
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| answer(&stats, n).is_some())
        .collect();
    if names.is_empty() {
        return Ok((Vec::new(), silent + ping.nodes.len() as u64));
    }
    let n = Some(names.len());
    let queues = broadcast(broker, o, InspectCommand::ActiveQueues, n).await?;
    let registered = broadcast(broker, o, InspectCommand::Registered, n).await?;
    let conf = broadcast(broker, o, InspectCommand::Conf, n).await?;
    let active = broadcast(broker, o, InspectCommand::Active, n).await?;
    let reserved = broadcast(broker, o, InspectCommand::Reserved, n).await?;
    let scheduled = broadcast(broker, o, InspectCommand::Scheduled, n).await?;
    let now = now_secs();
    let list = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let name_of = |t: &Value| {
        t.get("name")
            .or_else(|| t.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let mut out = Vec::new();
    for node in names {
        let s = answer(&stats, &node);
        let pool = s.and_then(|s| s.get("pool"));
        // `conf` lists only non-default settings, under the name the app uses: new-style,
        // old-style, or Django's `CELERY_` namespace.
        let accept = answer(&conf, &node).filter(|c| c.is_object()).map(|c| {
            ["accept_content", "CELERY_ACCEPT_CONTENT", "ACCEPT_CONTENT"]
                .iter()
                .find_map(|k| c.get(*k))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_else(|| vec!["json".to_string()])
        });
        out.push(WorkerInfo {
            queues_known: answer(&queues, &node).is_some_and(Value::is_array),
            queues: list(answer(&queues, &node))
                .iter()
                .filter_map(|q| q.get("name").and_then(Value::as_str))
                .map(str::to_string)
                .collect(),
            registered: answer(&registered, &node)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        // With taskinfoitems a name is followed by ` [k=v]`.
                        .map(|s| s.split(' ').next().unwrap_or(s).to_string())
                        .collect()
                }),
            accept_content: accept,
            concurrency: pool
                .and_then(|p| p.get("max-concurrency"))
                .and_then(Value::as_u64),
            prefetch_count: s
                .and_then(|s| s.get("prefetch_count"))
                .and_then(Value::as_u64),
            pool: pool
                .and_then(|p| p.get("implementation"))
                .and_then(Value::as_str)
                .map(str::to_string),
            uptime_secs: s.and_then(|s| s.get("uptime")).and_then(Value::as_u64),
            maxrss_kib: s
                .and_then(|s| s.get("rusage"))
                .and_then(|r| r.get("maxrss"))
                .and_then(Value::as_u64),
            total_tasks: s
                .and_then(|s| s.get("total"))
                .and_then(Value::as_object)
                .map(|t| t.values().filter_map(Value::as_u64).sum())
                .unwrap_or(0),
            active: list(answer(&active, &node))
                .iter()
                .map(|t| {
                    let started = t.get("time_start").and_then(Value::as_f64);
                    (name_of(t), started.map(|s| (now - s).max(0.0)))
                })
                .collect(),
            reserved: list(answer(&reserved, &node)).iter().map(name_of).collect(),
            scheduled: list(answer(&scheduled, &node))
                .iter()
                .map(|s| {
                    let req = s.get("request").cloned().unwrap_or(Value::Null);
                    (
                        name_of(&req),
                        s.get("eta").and_then(Value::as_str).map(str::to_string),
                    )
                })
                .collect(),
            name: node,
        });
    }
    Ok((out, silent))
}

/// Redis: sample the queues' messages and read the unacked set.
async fn redis_details(
    r: &RedisProbe,
    queues: &mut [QueueState],
    per_queue: usize,
    entries: Vec<crate::probe::redis::Unacked>,
) -> Result<Vec<UnackedState>, ProbeError> {
    let now = now_secs();
    let vt = r.opts.visibility_timeout;
    for q in queues.iter_mut().filter(|q| q.ready.unwrap_or(0) > 0) {
        let raw = r.peek_raw(&q.name, per_queue).await?;
        let mut sample = QueueSample::default();
        for (_, bytes) in raw {
            sample.sampled += 1;
            let Ok(m) = message::parse_redis_envelope(&bytes) else {
                sample.undecodable += 1;
                continue;
            };
            let ct = m
                .content_type
                .clone()
                .unwrap_or_else(|| "application/data".into());
            *sample.content_types.entry(ct).or_default() += 1;
            let task = message::task_name(&m).unwrap_or_else(|| "<unknown>".into());
            *sample.tasks.entry(task).or_default() += 1;
            let retries = m
                .headers
                .get("retries")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            sample.max_retries = sample.max_retries.max(retries);
            if retries >= 3 {
                sample.retried += 1;
            }
            if let Some(eta) = m.headers.get("eta").and_then(Value::as_str) {
                sample.with_eta += 1;
                if parse_iso(eta).is_some_and(|t| t - now > vt) {
                    sample.eta_beyond_visibility += 1;
                }
            }
        }
        q.sample = Some(sample);
    }
    // The unacked hash was read once already, by the queue step.
    Ok(entries
        .into_iter()
        .map(|u| UnackedState {
            age_secs: u.delivered_at.map(|t| (now - t).max(0.0)),
            queue: u.queue,
            task: u.task,
            eta: u.eta,
        })
        .collect())
}

/// The `status` of a stored result from the head of its JSON (`{"status": "SUCCESS", …`).
fn result_status(head: &[u8]) -> String {
    let text = String::from_utf8_lossy(head);
    text.split_once("\"status\":")
        .and_then(|(_, rest)| rest.trim_start().strip_prefix('"'))
        .and_then(|rest| rest.split_once('"'))
        .map(|(status, _)| status.to_string())
        .unwrap_or_else(|| "<unreadable>".into())
}

/// Seconds since the epoch of an ISO-8601 timestamp as Celery writes it
/// (`2026-11-24T05:15:28.027303+00:00`). `None` when it does not parse.
pub fn parse_iso(s: &str) -> Option<f64> {
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    // Time and offset: HH:MM:SS[.frac][Z|±HH:MM]
    let (time, offset) = match rest.find(['+', '-', 'Z']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut t = time.split(':');
    let hh: f64 = t.next()?.parse().ok()?;
    let mm: f64 = t.next()?.parse().ok()?;
    let ss: f64 = t.next().unwrap_or("0").parse().ok()?;
    let off_secs = match offset {
        "" | "Z" => 0.0,
        o => {
            let sign = if o.starts_with('-') { -1.0 } else { 1.0 };
            let mut p = o[1..].split(':');
            let oh: f64 = p.next()?.parse().ok()?;
            let om: f64 = p.next().unwrap_or("0").parse().ok()?;
            sign * (oh * 3600.0 + om * 60.0)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + hh * 3600.0 + mm * 60.0 + ss - off_secs)
}

/// RabbitMQ node health: alarms, memory, file descriptors, blocked connections.
async fn rabbit_health(m: &Management) -> Result<RabbitHealth, ProbeError> {
    let mut h = RabbitHealth::default();
    let overview = m.get("overview").await?;
    h.version = overview
        .get("rabbitmq_version")
        .and_then(Value::as_str)
        .map(str::to_string);
    let nodes = m.get("nodes").await?;
    for n in nodes.as_array().into_iter().flatten() {
        let name = n.get("name").and_then(Value::as_str).unwrap_or("?");
        let num = |k: &str| n.get(k).and_then(Value::as_u64);
        if n.get("mem_alarm").and_then(Value::as_bool) == Some(true) {
            h.alarms.push(format!(
                "memory alarm on {name} ({} of {} bytes)",
                num("mem_used").unwrap_or(0),
                num("mem_limit").unwrap_or(0)
            ));
        }
        if n.get("disk_free_alarm").and_then(Value::as_bool) == Some(true) {
            h.alarms.push(format!(
                "disk alarm on {name} ({} bytes free, limit {})",
                num("disk_free").unwrap_or(0),
                num("disk_free_limit").unwrap_or(0)
            ));
        }
        if n.get("running").and_then(Value::as_bool) == Some(false) {
            h.alarms.push(format!("node {name} is not running"));
        }
        if let Some(p) = n
            .get("partitions")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
        {
            h.alarms.push(format!(
                "network partition on {name} (cannot see {})",
                p.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        h.mem_used = num("mem_used");
        h.mem_limit = num("mem_limit");
        h.fd_used = num("fd_used");
        h.fd_total = num("fd_total");
    }
    if let Ok(conns) = m.get("connections?columns=state").await {
        h.blocked_connections = conns
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                matches!(
                    c.get("state").and_then(Value::as_str),
                    Some("blocked" | "blocking")
                )
            })
            .count() as u64;
    }
    Ok(h)
}

/// The Redis result backend: key count, TTLs and states of a bounded sample.
async fn backend(url: &str, limits: Limits) -> Result<BackendState, String> {
    const SCAN_BOUND: u64 = 100_000;
    const SAMPLE: usize = 200;
    let parsed = BrokerUrl::parse(url).map_err(|e| format!("result backend: {e}"))?;
    if parsed.redis.is_none() {
        return Err(format!(
            "result backend {parsed}: only Redis result backends are inspected so far"
        ));
    }
    let r = RedisProbe::connect(&parsed, &TransportOptions::default(), limits)
        .await
        .map_err(|e| match e {
            ProbeError::Timeout { secs, .. } => {
                format!("result backend {parsed} did not answer within {secs:.1} s")
            }
            other => format!("result backend: {other}"),
        })?;
    let mut state = BackendState {
        url: parsed.to_string(),
        ..BackendState::default()
    };
    let mut cursor: u64 = 0;
    let mut sample: Vec<String> = Vec::new();
    let mut calls = 0;
    loop {
        calls += 1;
        let (next, batch): (u64, Vec<String>) = r
            .run(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg("*celery-task-meta-*")
                    .arg("COUNT")
                    .arg(1000),
                "SCAN",
            )
            .await
            .map_err(|e| e.to_string())?;
        state.keys += batch.len() as u64;
        for k in batch {
            if sample.len() < SAMPLE {
                sample.push(k);
            }
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
        // Bounded in keys found and in calls made (a big shared Redis has few matches per call).
        if state.keys >= SCAN_BOUND || calls >= 500 {
            state.keys_truncated = true;
            break;
        }
    }
    if sample.is_empty() {
        return Ok(state);
    }
    let mut pipe = redis::pipe();
    for k in &sample {
        pipe.cmd("TTL").arg(k);
        // `status` is the first field Celery writes: the head of the value is enough.
        pipe.cmd("GETRANGE").arg(k).arg(0).arg(255);
        pipe.cmd("MEMORY").arg("USAGE").arg(k);
    }
    let values: Vec<redis::Value> = r
        .run_pipe(&pipe, "TTL/GET")
        .await
        .map_err(|e| e.to_string())?;
    let mut bytes = 0u64;
    for chunk in values.chunks(3) {
        state.sampled += 1;
        if let Some(redis::Value::Int(-1)) = chunk.first() {
            state.without_ttl += 1;
        }
        if let Some(redis::Value::BulkString(v)) = chunk.get(1) {
            *state.states.entry(result_status(v)).or_default() += 1;
        }
        if let Some(redis::Value::Int(n)) = chunk.get(2) {
            bytes += u64::try_from(*n).unwrap_or(0);
        }
    }
    state.avg_bytes = Some(bytes / state.sampled.max(1));
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps() {
        assert_eq!(parse_iso("1970-01-01T00:00:00+00:00"), Some(0.0));
        assert_eq!(parse_iso("1970-01-02T00:00:00Z"), Some(86_400.0));
        let t = parse_iso("2026-11-24T05:15:28.5+01:00").unwrap();
        assert!((t - 1_795_493_728.5).abs() < 1e-6, "{t}");
        assert_eq!(parse_iso("not a date"), None);
    }
}
