//! The checklist: pure functions from the gathered [`LiveState`] to check results and
//! findings. No I/O here, so every rule is testable from a recorded state.

use std::collections::BTreeSet;

use serde_json::json;

use super::codes::*;
use super::state::LiveState;
use super::{Check, LiveFinding, Location, Status};
use crate::finding::Severity;

/// Run every step of the checklist, in the order an SRE works through a stuck queue.
pub fn run(s: &LiveState) -> (Vec<Check>, Vec<LiveFinding>) {
    let mut out = Out {
        state: s,
        checks: Vec::new(),
        findings: Vec::new(),
    };
    broker(&mut out);
    workers(&mut out);
    routing(&mut out);
    logs(&mut out);
    result_backend(&mut out);
    serializers(&mut out);
    task_state(&mut out);
    resources(&mut out);
    (out.checks, out.findings)
}

/// A step that could not look (a broker that stops answering after connecting, refused
/// permissions) must not end in "no problem found": say so, under that step.
fn incomplete(o: &mut Out, b: &CheckBuilder, check: &'static str) {
    let s = o.state;
    let Some(why) = &b.skipped else { return };
    if s.connect_error.is_some() {
        return;
    }
    let at = o.at(None, None);
    o.finding(
        DIAGNOSIS_INCOMPLETE,
        Severity::Warning,
        check,
        format!("The diagnosis is incomplete: step `{check}` could not look ({why})"),
        json!({"step": check, "reason": why}),
        "Rerun with a larger --budget, and check that this user may use the mailbox (Redis PUBLISH/PSUBSCRIBE and writes, RabbitMQ configure/write on celery.pidbox)".into(),
        at,
    );
}

struct Out<'a> {
    state: &'a LiveState,
    checks: Vec<Check>,
    findings: Vec<LiveFinding>,
}

impl Out<'_> {
    fn check(&mut self, id: &'static str, title: &'static str) -> CheckBuilder {
        CheckBuilder {
            id,
            title,
            evidence: Vec::new(),
            start: self.findings.len(),
            skipped: self.state.skipped.get(id).cloned(),
        }
    }

    #[allow(clippy::too_many_arguments)] // one call per finding; named arguments would not read better
    fn finding(
        &mut self,
        code: &'static str,
        severity: Severity,
        check: &'static str,
        summary: String,
        evidence: serde_json::Value,
        remediation: String,
        location: Location,
    ) {
        self.findings.push(LiveFinding {
            code,
            severity,
            summary,
            evidence,
            remediation,
            check,
            location,
            score: 0,
        });
    }

    fn at(&self, queue: Option<&str>, worker: Option<&str>) -> Location {
        Location {
            broker: self.state.broker.clone(),
            queue: queue.map(str::to_string),
            worker: worker.map(str::to_string),
            file: None,
            line: None,
        }
    }

    fn finish(&mut self, b: CheckBuilder, remediation: Option<String>) {
        let mine = &self.findings[b.start..];
        let status = if let Some(reason) = &b.skipped {
            if mine.is_empty() {
                let mut evidence = b.evidence;
                evidence.push(format!("skipped: {reason}"));
                self.checks.push(Check {
                    id: b.id,
                    title: b.title,
                    status: Status::Skip,
                    evidence,
                    remediation: None,
                });
                return;
            }
            Status::Warn
        } else if mine.iter().any(|f| f.severity == Severity::Error) {
            Status::Fail
        } else if mine.iter().any(|f| f.severity == Severity::Warning) {
            Status::Warn
        } else {
            Status::Pass
        };
        let remediation = remediation.or_else(|| mine.first().map(|f| f.remediation.clone()));
        self.checks.push(Check {
            id: b.id,
            title: b.title,
            status,
            evidence: b.evidence,
            remediation: if status == Status::Pass {
                None
            } else {
                remediation
            },
        });
    }
}

struct CheckBuilder {
    id: &'static str,
    title: &'static str,
    evidence: Vec<String>,
    start: usize,
    skipped: Option<String>,
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}

fn info_u64(s: &LiveState, key: &str) -> Option<u64> {
    s.redis_info.as_ref()?.get(key)?.parse().ok()
}

fn info_str<'a>(s: &'a LiveState, key: &str) -> Option<&'a str> {
    s.redis_info.as_ref()?.get(key).map(String::as_str)
}

// 1. Broker connectivity and health ---------------------------------------------------------

fn broker(o: &mut Out) {
    let s = o.state;
    let mut b = o.check("broker", "Broker connectivity and health");
    if let Some(e) = &s.connect_error {
        let (code, remediation) = if e.kind == "auth" {
            (
                BROKER_AUTH_FAILED,
                "Check the user name, password and virtual host in the broker URL (the same the workers use)",
            )
        } else {
            (
                BROKER_UNREACHABLE,
                "Check that the broker runs and that this host can reach it (host, port, TLS scheme, firewall); workers cannot fetch tasks while it is down",
            )
        };
        b.evidence.push(e.message.clone());
        let at = o.at(None, None);
        o.finding(
            code,
            Severity::Error,
            "broker",
            e.message.clone(),
            json!({"kind": e.kind}),
            remediation.into(),
            at,
        );
        o.finish(b, None);
        return;
    }
    if let Some(ms) = s.latency_ms {
        b.evidence.push(format!("connected in {ms} ms"));
    }
    if s.redis_info.is_some() {
        let version = info_str(s, "redis_version").unwrap_or("?");
        b.evidence.push(format!("Redis {version}"));
        let used = info_u64(s, "used_memory").unwrap_or(0);
        let max = info_u64(s, "maxmemory").unwrap_or(0);
        let policy = info_str(s, "maxmemory_policy").unwrap_or("noeviction");
        b.evidence.push(format!(
            "memory {} used, maxmemory {}, policy {policy}",
            human_bytes(used),
            if max == 0 {
                "unlimited".to_string()
            } else {
                human_bytes(max)
            }
        ));
        for k in ["evicted_keys", "rejected_connections"] {
            if let Some(n) = info_u64(s, k).filter(|n| *n > 0) {
                b.evidence.push(format!("{k}: {n}"));
            }
        }
        if max > 0 && pct(used, max) >= 90.0 {
            let at = o.at(None, None);
            o.finding(
                BROKER_MEMORY_PRESSURE,
                Severity::Error,
                "broker",
                format!(
                    "Redis uses {:.0}% of its maxmemory ({} of {}); at the limit it {}",
                    pct(used, max),
                    human_bytes(used),
                    human_bytes(max),
                    if policy == "noeviction" {
                        "refuses new tasks (OOM errors on publish)"
                    } else {
                        "evicts keys, queued tasks included"
                    }
                ),
                // At the limit writes fail, worker replies included: then it explains the rest.
                json!({"used_memory": used, "maxmemory": max, "maxmemory_policy": policy, "critical": pct(used, max) >= 99.0}),
                "Drain or purge the backlog, raise `maxmemory`, or move results to another Redis"
                    .into(),
                at,
            );
        }
        if policy != "noeviction" {
            let evicted = info_u64(s, "evicted_keys").unwrap_or(0);
            // volatile-* policies only evict keys with a TTL: queue lists and `unacked` have
            // none, stored results do.
            let all_keys = policy.starts_with("allkeys");
            let so_far = if evicted > 0 {
                format!(" ({evicted} keys evicted so far)")
            } else {
                String::new()
            };
            let at = o.at(None, None);
            o.finding(
                BROKER_EVICTION_POLICY,
                if all_keys && max > 0 {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                "broker",
                if all_keys {
                    format!(
                        "Redis `maxmemory-policy` is `{policy}`: under memory pressure it silently deletes any key, queued tasks and the unacked set included{so_far}"
                    )
                } else {
                    format!(
                        "Redis `maxmemory-policy` is `{policy}`: under memory pressure it deletes keys with a TTL (stored results, kombu's expiring bindings), and once none are left writes fail{so_far}"
                    )
                },
                json!({"maxmemory_policy": policy, "maxmemory": max, "evicted_keys": evicted}),
                "Set `maxmemory-policy noeviction` on the broker Redis (`CONFIG SET maxmemory-policy noeviction` and in redis.conf); keep caches on another instance".into(),
                at,
            );
        }
        if let (Some(c), Some(m)) = (info_u64(s, "connected_clients"), info_u64(s, "maxclients")) {
            b.evidence.push(format!("clients {c} of {m}"));
        }
    }
    if let Some(h) = &s.rabbit {
        b.evidence
            .push(format!("RabbitMQ {}", h.version.as_deref().unwrap_or("?")));
        if let (Some(fu), Some(ft)) = (h.fd_used, h.fd_total) {
            b.evidence.push(format!("file descriptors {fu} of {ft}"));
        }
        let (resource, node): (Vec<&String>, Vec<&String>) = h
            .alarms
            .iter()
            .partition(|a| a.starts_with("memory alarm") || a.starts_with("disk alarm"));
        if !resource.is_empty() || h.blocked_connections > 0 {
            let at = o.at(None, None);
            o.finding(
                BROKER_MEMORY_PRESSURE,
                Severity::Error,
                "broker",
                format!(
                    "RabbitMQ raised a resource alarm and blocks publishers: {}{}",
                    if resource.is_empty() { "no alarm listed".to_string() } else { resource.iter().map(|a| a.as_str()).collect::<Vec<_>>().join("; ") },
                    if h.blocked_connections > 0 { format!(" ({} connections blocked)", h.blocked_connections) } else { String::new() }
                ),
                json!({"alarms": resource, "blocked_connections": h.blocked_connections, "critical": true}),
                "Free memory or disk on the RabbitMQ node (drain queues, raise `vm_memory_high_watermark` / `disk_free_limit` only with care); `rabbitmq-diagnostics alarms` shows the cause".into(),
                at,
            );
        }
        if !node.is_empty() {
            let at = o.at(None, None);
            o.finding(
                BROKER_NODE_UNHEALTHY,
                Severity::Error,
                "broker",
                format!(
                    "RabbitMQ cluster is unhealthy: {}",
                    node.iter().map(|a| a.as_str()).collect::<Vec<_>>().join("; ")
                ),
                json!({"problems": node}),
                "Check the cluster with `rabbitmq-diagnostics cluster_status`; heal the partition or restart the stopped node".into(),
                at,
            );
        }
    }
    o.finish(b, None);
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

// 2. Workers running and consuming ----------------------------------------------------------

fn workers(o: &mut Out) {
    let s = o.state;
    let mut b = o.check("workers", "Workers running and consuming");
    let Some(nodes) = &s.workers else {
        incomplete(o, &b, "workers");
        o.finish(b, None);
        return;
    };
    if nodes.is_empty() {
        let waiting: u64 = s
            .queues
            .iter()
            .flatten()
            .map(|q| q.ready.unwrap_or(0))
            .sum();
        b.evidence.push("no worker answered ping".to_string());
        let at = o.at(None, None);
        o.finding(
            NO_WORKERS,
            Severity::Error,
            "workers",
            format!(
                "No worker answers on this broker{}",
                if waiting > 0 { format!(" while {waiting} messages wait") } else { String::new() }
            ),
            json!({"messages_waiting": waiting, "silent_mailboxes": s.silent_mailboxes}),
            "Start workers against this broker URL (same DB/vhost and transport options): `celery -A proj worker -Q <queues>`; check the process supervisor and worker logs".into(),
            at,
        );
        o.finish(b, None);
        return;
    }
    for w in nodes {
        let busy = w.active.len();
        b.evidence.push(format!(
            "{}: {} pool, concurrency {}, prefetch {}, {} active, {} reserved, {} scheduled, queues {}",
            w.name,
            w.pool
                .as_deref()
                .and_then(|p| p.rsplit([':', '.']).nth(1))
                .unwrap_or("?"),
            w.concurrency.map_or("?".into(), |c| c.to_string()),
            w.prefetch_count.map_or("?".into(), |c| c.to_string()),
            busy,
            w.reserved.len(),
            w.scheduled.len(),
            w.queues.join(",")
        ));
    }
    // Prefetch starvation: a full worker holds prefetched tasks that an idle worker of the
    // same queue could run.
    for w in nodes {
        let Some(c) = w.concurrency else { continue };
        if w.reserved.is_empty() || (w.active.len() as u64) < c {
            continue;
        }
        let idle: Vec<&str> = nodes
            .iter()
            .filter(|o| o.name != w.name)
            .filter(|o| o.queues.iter().any(|q| w.queues.contains(q)))
            .filter(|o| {
                o.reserved.is_empty()
                    && o.concurrency.is_some_and(|oc| (o.active.len() as u64) < oc)
            })
            .map(|o| o.name.as_str())
            .collect();
        if idle.is_empty() {
            continue;
        }
        let longest = w
            .active
            .iter()
            .filter_map(|(_, secs)| *secs)
            .fold(0.0_f64, f64::max);
        // Sub-second tasks churn through prefetch buffers all the time: not starvation.
        if longest < 1.0 {
            continue;
        }
        let at = o.at(None, Some(&w.name));
        o.finding(
            PREFETCH_STARVATION,
            Severity::Warning,
            "workers",
            format!(
                "{} holds {} prefetched task(s) while all {c} of its pool slots are busy (longest running {longest:.0} s) and {} sit(s) idle on the same queue",
                w.name,
                w.reserved.len(),
                idle.join(", ")
            ),
            json!({"worker": w.name, "reserved": w.reserved, "active": w.active.len(), "concurrency": c, "idle_workers": idle}),
            "Run long tasks with `acks_late=True` and `worker_prefetch_multiplier=1` (or `-O fair`), or route them to their own queue and workers".into(),
            at,
        );
    }
    o.finish(b, None);
}

// 3. Routing: messages waiting where no worker listens -------------------------------------

fn routing(o: &mut Out) {
    let s = o.state;
    let mut b = o.check(
        "routing",
        "Task routing: queues with messages vs queues consumed",
    );
    if s.queues.is_none() {
        incomplete(o, &b, "routing");
    }
    let consumed: BTreeSet<&str> = s
        .workers
        .iter()
        .flatten()
        .flat_map(|w| w.queues.iter().map(String::as_str))
        .collect();
    if let Some(queues) = &s.queues {
        let no_workers = s.workers.as_ref().is_some_and(Vec::is_empty);
        for q in queues {
            let ready = q.ready.unwrap_or(0);
            b.evidence.push(format!(
                "{}: {} ready, {} unacked, {} consumer(s){}",
                q.name,
                q.ready.map_or("?".into(), |n| n.to_string()),
                q.unacked.map_or("?".into(), |n| n.to_string()),
                q.consumers.map_or("?".into(), |n| n.to_string()),
                if q.consumer_nodes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", q.consumer_nodes.join(", "))
                }
            ));
            // With no worker at all, NO_WORKERS says it better; on Redis the consumers are
            // unknown when workers did not answer: only a known zero counts.
            if ready == 0 || no_workers || q.consumers != Some(0) {
                continue;
            }
            let at = o.at(Some(&q.name), None);
            let consumed_list: Vec<&str> = consumed.iter().copied().collect();
            o.finding(
                QUEUE_NO_CONSUMERS,
                Severity::Error,
                "routing",
                format!(
                    "Queue `{}` holds {} message(s) and no worker consumes it; workers consume {}",
                    q.name,
                    ready,
                    if consumed_list.is_empty() { "nothing".to_string() } else { consumed_list.iter().map(|q| format!("`{q}`")).collect::<Vec<_>>().join(", ") }
                ),
                json!({"queue": q.name, "ready": ready, "consumed_queues": consumed_list}),
                format!(
                    "Start a worker with `-Q {}` (or add it to an existing worker's -Q), or route those tasks to a consumed queue",
                    q.name
                ),
                at,
            );
        }
    }
    if let (Some(routes), Some(nodes)) = (&s.routes, &s.workers)
        && !nodes.is_empty()
    {
        let mut seen = BTreeSet::new();
        for r in routes {
            if consumed.contains(r.queue.as_str()) || !seen.insert(r.queue.clone()) {
                continue;
            }
            // A queue with messages is already QUEUE_NO_CONSUMERS.
            let has_messages = s
                .queues
                .iter()
                .flatten()
                .any(|q| q.name == r.queue && q.ready.unwrap_or(0) > 0);
            if has_messages {
                continue;
            }
            let mut at = o.at(Some(&r.queue), None);
            at.file = r.file.clone();
            at.line = r.line;
            o.finding(
                WORKER_NOT_CONSUMING_QUEUE,
                Severity::Warning,
                "routing",
                format!(
                    "The code routes tasks to queue `{}` ({}) but no live worker consumes it; they will wait there",
                    r.queue, r.via
                ),
                json!({"queue": r.queue, "via": r.via, "file": r.file, "line": r.line}),
                format!(
                    "Add `{}` to a worker's -Q, or change the route",
                    r.queue
                ),
                at,
            );
        }
    }
    o.finish(b, None);
}

// 4. Logs ------------------------------------------------------------------------------------

fn logs(o: &mut Out) {
    let s = o.state;
    let mut b = o.check("logs", "Worker logs: known failure signatures");
    let Some(scan) = &s.logs else {
        b.skipped = Some("no --logs given".into());
        o.finish(b, None);
        return;
    };
    b.evidence.push(format!(
        "{} file(s), {} lines",
        scan.files.len(),
        scan.lines
    ));
    if scan.files.is_empty() && !scan.unreadable.is_empty() {
        // The user asked for these logs: "pass" would claim they were read.
        b.skipped = Some("no log file could be read".into());
    }
    for (file, why) in &scan.unreadable {
        b.evidence.push(format!("unreadable: {file}: {why}"));
    }
    for h in &scan.hits {
        let sig = super::logs::SIGNATURES.iter().find(|s| s.id == h.id);
        b.evidence.push(format!(
            "{}: {} (first {}, last {})",
            sig.map_or(h.id, |s| s.title),
            h.count,
            h.first.as_deref().unwrap_or("?"),
            h.last.as_deref().unwrap_or("?")
        ));
        let code = match h.id {
            "unregistered_task" => Some((UNREGISTERED_TASK, Severity::Error)),
            "content_disallowed" => Some((SERIALIZER_MISMATCH, Severity::Error)),
            "worker_lost" | "unrecoverable_error" | "memory_error" => {
                Some((WORKER_PROCESSES_KILLED, Severity::Error))
            }
            "hard_time_limit" => Some((TIME_LIMIT_EXCEEDED, Severity::Warning)),
            "broker_connection_lost" => Some((BROKER_CONNECTION_LOST, Severity::Warning)),
            _ => None,
        };
        let Some((code, severity)) = code else {
            continue;
        };
        let at = o.at(None, None);
        o.finding(
            code,
            severity,
            "logs",
            format!(
                "Worker logs show {} × \"{}\"{}",
                h.count,
                sig.map_or(h.id, |s| s.title),
                if h.subjects.is_empty() { String::new() } else { format!(": {}", h.subjects.join(", ")) }
            ),
            json!({"signature": h.id, "count": h.count, "first": h.first, "last": h.last, "subjects": h.subjects, "examples": h.examples}),
            sig.map_or(String::new(), |s| s.remediation.to_string()),
            at,
        );
    }
    o.finish(b, None);
}

// 5. Result backend -------------------------------------------------------------------------

fn result_backend(o: &mut Out) {
    let s = o.state;
    let mut b = o.check("result_backend", "Result backend");
    if s.backend.is_none() && s.backend_error.is_none() {
        b.skipped = Some("no --backend given and CELERY_RESULT_BACKEND unset".into());
        o.finish(b, None);
        return;
    }
    if let Some(e) = &s.backend_error {
        b.evidence.push(e.clone());
        let at = o.at(None, None);
        o.finding(
            RESULT_BACKEND_UNREACHABLE,
            Severity::Error,
            "result_backend",
            format!("The result backend cannot be used: {e}"),
            json!({"error": e}),
            "Fix the result backend URL or bring the backend up; tasks that store results fail or block (`AsyncResult.get()` waits forever)".into(),
            at,
        );
    }
    if let Some(bk) = &s.backend {
        b.evidence.push(format!(
            "{}: {}{} result keys, {} sampled, {} without TTL{}",
            bk.url,
            bk.keys,
            if bk.keys_truncated { "+" } else { "" },
            bk.sampled,
            bk.without_ttl,
            bk.avg_bytes
                .map(|a| format!(", ~{} each", human_bytes(a)))
                .unwrap_or_default()
        ));
        if !bk.states.is_empty() {
            b.evidence.push(format!(
                "states: {}",
                bk.states
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if bk.sampled > 0 && pct(bk.without_ttl, bk.sampled) >= 10.0 {
            let at = o.at(None, None);
            o.finding(
                RESULT_KEYS_WITHOUT_TTL,
                Severity::Warning,
                "result_backend",
                format!(
                    "{:.0}% of sampled result keys have no TTL ({} of {}; {} keys in all): they pile up until Redis runs out of memory",
                    pct(bk.without_ttl, bk.sampled),
                    bk.without_ttl,
                    bk.sampled,
                    bk.keys
                ),
                json!({"keys": bk.keys, "sampled": bk.sampled, "without_ttl": bk.without_ttl, "avg_bytes": bk.avg_bytes}),
                "Set `result_expires` (default 1 day; `None`/0 disables expiry), use `ignore_result=True` where nobody reads results, and expire the existing keys".into(),
                at,
            );
        }
        let retry = bk.states.get("RETRY").copied().unwrap_or(0);
        let failure = bk.states.get("FAILURE").copied().unwrap_or(0);
        if bk.sampled >= 10 && pct(retry + failure, bk.sampled) >= 25.0 {
            let at = o.at(None, None);
            o.finding(
                HIGH_RETRY_COUNT,
                Severity::Warning,
                "result_backend",
                format!(
                    "{:.0}% of sampled results are RETRY or FAILURE ({retry} retry, {failure} failure of {})",
                    pct(retry + failure, bk.sampled),
                    bk.sampled
                ),
                json!({"retry": retry, "failure": failure, "sampled": bk.sampled}),
                "Read the tracebacks of the failing tasks (`celery-task-meta-*` keys or worker logs) and fix the cause before retries pile up".into(),
                at,
            );
        }
    }
    o.finish(b, None);
}

// 6. Serializers ----------------------------------------------------------------------------

fn serializers(o: &mut Out) {
    let s = o.state;
    let mut b = o.check(
        "serializers",
        "Serializer match: queued content types vs accept_content",
    );
    let (Some(queues), Some(nodes)) = (&s.queues, &s.workers) else {
        o.finish(b, None);
        return;
    };
    for w in nodes {
        b.evidence.push(match &w.accept_content {
            Some(a) => format!("{} accepts {}", w.name, a.join(", ")),
            None => format!("{}: did not answer `conf`", w.name),
        });
    }
    let mut judged = false;
    for q in queues {
        let Some(sample) = &q.sample else { continue };
        // The workers that will get these messages; with none, every worker.
        let readers: Vec<_> = nodes
            .iter()
            .filter(|w| q.consumer_nodes.is_empty() || q.consumer_nodes.contains(&w.name))
            .filter_map(|w| w.accept_content.as_ref().map(|a| (w.name.as_str(), a)))
            .collect();
        if readers.is_empty() {
            continue;
        }
        judged = true;
        for (ct, n) in &sample.content_types {
            let short = short_content_type(ct);
            let refusing: Vec<&str> = readers
                .iter()
                .filter(|(_, accept)| !accept.iter().any(|a| a == ct || a == short))
                .map(|(name, _)| *name)
                .collect();
            if refusing.is_empty() {
                continue;
            }
            let at = o.at(Some(&q.name), None);
            o.finding(
                SERIALIZER_MISMATCH,
                Severity::Error,
                "serializers",
                format!(
                    "{n} sampled message(s) in `{}` are `{ct}`, which {} refuse(s) (accept_content); they are rejected with ContentDisallowed and lost",
                    q.name,
                    refusing.join(", ")
                ),
                json!({"queue": q.name, "content_type": ct, "count": n, "workers": refusing}),
                format!(
                    "Make producers and workers agree: set `task_serializer` on the producer to one the workers accept, or add `{short}` to the workers' `accept_content` (never pickle from untrusted producers)"
                ),
                at,
            );
        }
        if sample.undecodable > 0 {
            b.evidence.push(format!(
                "{}: {} undecodable message(s) in the sample",
                q.name, sample.undecodable
            ));
        }
    }
    if !judged && b.skipped.is_none() {
        b.skipped = Some(if s.transport == "amqp" {
            "RabbitMQ message bodies are not sampled (reading them would requeue them)".into()
        } else {
            "no queued message to compare".into()
        });
    }
    o.finish(b, None);
}

fn short_content_type(ct: &str) -> &str {
    match ct {
        "application/json" => "json",
        "application/x-msgpack" => "msgpack",
        "application/x-yaml" => "yaml",
        "application/x-python-serialize" => "pickle",
        "application/data" => "auth",
        other => other,
    }
}

// 7. Task state and retries ------------------------------------------------------------------

fn task_state(o: &mut Out) {
    let s = o.state;
    let mut b = o.check("task_state", "Task state, ETAs and retries");
    let vt = s.visibility_timeout;
    let has_samples = s.queues.iter().flatten().any(|q| q.sample.is_some());
    if !has_samples && s.unacked.is_none() && b.skipped.is_none() {
        b.skipped = Some(if s.transport == "amqp" {
            "RabbitMQ message bodies are not sampled (reading them would requeue them)".into()
        } else {
            "no data gathered".into()
        });
    }
    // Unregistered tasks among queued/reserved messages.
    if let (Some(queues), Some(nodes)) = (&s.queues, &s.workers) {
        for q in queues {
            let Some(sample) = &q.sample else { continue };
            let readers: Vec<_> = nodes
                .iter()
                .filter(|w| q.consumer_nodes.contains(&w.name))
                .filter(|w| w.registered.is_some())
                .collect();
            if readers.is_empty() {
                continue;
            }
            for (task, n) in &sample.tasks {
                if task.starts_with('<') {
                    continue;
                }
                let missing: Vec<&str> = readers
                    .iter()
                    .filter(|w| !w.registered.iter().flatten().any(|t| t == task))
                    .map(|w| w.name.as_str())
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                let at = o.at(Some(&q.name), None);
                o.finding(
                    UNREGISTERED_TASK,
                    Severity::Error,
                    "task_state",
                    format!(
                        "{n} message(s) in `{}` are for task `{task}`, which {} do(es) not have registered; they will be rejected and lost",
                        q.name,
                        missing.join(", ")
                    ),
                    json!({"queue": q.name, "task": task, "count": n, "workers": missing}),
                    "Deploy the module that defines the task to those workers (check `imports`/`include` and autodiscovery), or route the task to workers that have it".into(),
                    at,
                );
            }
        }
    }
    if let Some(queues) = &s.queues {
        for q in queues {
            let Some(sample) = &q.sample else { continue };
            if sample.with_eta > 0 {
                b.evidence.push(format!(
                    "{}: {} of {} sampled message(s) have an ETA",
                    q.name, sample.with_eta, sample.sampled
                ));
            }
            // Not one unlucky message: at least 2, and a tenth of the sample.
            if sample.retried >= 2 && sample.retried * 10 >= sample.sampled {
                let at = o.at(Some(&q.name), None);
                o.finding(
                    HIGH_RETRY_COUNT,
                    Severity::Warning,
                    "task_state",
                    format!(
                        "{} sampled message(s) in `{}` have been retried 3 times or more (up to {})",
                        sample.retried, q.name, sample.max_retries
                    ),
                    json!({"queue": q.name, "retried": sample.retried, "max_retries": sample.max_retries, "sampled": sample.sampled}),
                    "Find why these tasks fail (worker logs, result backend tracebacks); cap retries with `max_retries` and back off with `retry_backoff`".into(),
                    at,
                );
            }
            if sample.eta_beyond_visibility > 0 {
                let at = o.at(Some(&q.name), None);
                o.finding(
                    ETA_BEYOND_VISIBILITY_TIMEOUT,
                    Severity::Warning,
                    "task_state",
                    format!(
                        "{} queued message(s) in `{}` have an ETA more than visibility_timeout ({vt:.0} s) away; once a worker reserves them, Redis redelivers them and they run twice",
                        sample.eta_beyond_visibility, q.name
                    ),
                    json!({"queue": q.name, "count": sample.eta_beyond_visibility, "visibility_timeout": vt}),
                    "Raise `broker_transport_options={'visibility_timeout': …}` above the longest countdown/ETA, or schedule far-future work with beat instead of countdown".into(),
                    at,
                );
            }
        }
    }
    if let Some(unacked) = &s.unacked {
        let now_far: Vec<_> = unacked
            .iter()
            .filter(|u| {
                u.eta
                    .as_deref()
                    .and_then(super::gather::parse_iso)
                    .is_some_and(|t| t - s.now > vt)
            })
            .collect();
        let overdue: Vec<_> = unacked
            .iter()
            .filter(|u| u.age_secs.is_some_and(|a| a > vt))
            .collect();
        b.evidence.push(format!(
            "{} unacknowledged message(s) in the unacked set, {} older than visibility_timeout ({vt:.0} s)",
            unacked.len(),
            overdue.len()
        ));
        if !now_far.is_empty() {
            let tasks: BTreeSet<&str> = now_far.iter().filter_map(|u| u.task.as_deref()).collect();
            let at = o.at(now_far[0].queue.as_deref(), None);
            o.finding(
                ETA_BEYOND_VISIBILITY_TIMEOUT,
                Severity::Warning,
                "task_state",
                format!(
                    "{} reserved task(s) ({}) wait for an ETA more than visibility_timeout ({vt:.0} s) away: Redis will redeliver them and they will run twice",
                    now_far.len(),
                    tasks.into_iter().collect::<Vec<_>>().join(", ")
                ),
                json!({"count": now_far.len(), "visibility_timeout": vt}),
                "Raise `broker_transport_options={'visibility_timeout': …}` above the longest countdown/ETA, or schedule far-future work with beat".into(),
                at,
            );
        }
        if !overdue.is_empty() {
            let oldest = overdue
                .iter()
                .filter_map(|u| u.age_secs)
                .fold(0.0_f64, f64::max);
            let at = o.at(overdue[0].queue.as_deref(), None);
            o.finding(
                UNACKED_BACKLOG,
                Severity::Warning,
                "task_state",
                format!(
                    "{} message(s) were delivered more than visibility_timeout ({vt:.0} s) ago and are still unacknowledged (oldest {oldest:.0} s): a worker died holding them, or they run longer than the timeout and will be delivered again",
                    overdue.len()
                ),
                json!({"count": overdue.len(), "oldest_secs": oldest, "visibility_timeout": vt}),
                "Raise `visibility_timeout` above your longest task (with `acks_late`) or ETA; check for killed workers (WorkerLostError, OOM) in the logs".into(),
                at,
            );
        }
    }
    o.finish(b, None);
}

// 8. Resources -------------------------------------------------------------------------------

fn resources(o: &mut Out) {
    let s = o.state;
    let mut b = o.check("resources", "Resource utilisation");
    for w in s.workers.iter().flatten() {
        b.evidence.push(format!(
            "{}: max RSS {}, uptime {}, {} task(s) run",
            w.name,
            w.maxrss_kib
                .map(|k| human_bytes(k.saturating_mul(1024)))
                .unwrap_or_else(|| "?".into()),
            w.uptime_secs
                .map(|u| format!("{u} s"))
                .unwrap_or_else(|| "?".into()),
            w.total_tasks
        ));
    }
    if let (Some(c), Some(m)) = (info_u64(s, "connected_clients"), info_u64(s, "maxclients"))
        && m > 0
        && pct(c, m) >= 80.0
    {
        let at = o.at(None, None);
        o.finding(
            BROKER_CONNECTIONS_EXHAUSTED,
            Severity::Warning,
            "resources",
            format!("Redis has {c} clients of its {m} maximum; new workers and producers will be refused"),
            json!({"connected_clients": c, "maxclients": m}),
            "Raise `maxclients`, or lower `broker_pool_limit` / worker concurrency; look for connection leaks".into(),
            at,
        );
    }
    if let Some(h) = &s.rabbit
        && let (Some(fu), Some(ft)) = (h.fd_used, h.fd_total)
        && ft > 0
        && pct(fu, ft) >= 80.0
    {
        let at = o.at(None, None);
        o.finding(
            BROKER_CONNECTIONS_EXHAUSTED,
            Severity::Warning,
            "resources",
            format!("RabbitMQ uses {fu} of {ft} file descriptors"),
            json!({"fd_used": fu, "fd_total": ft}),
            "Raise the node's file descriptor limit or reduce connections".into(),
            at,
        );
    }
    o.finish(b, None);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::Report;
    use super::super::state::{
        ConnectError, LiveState, QueueSample, QueueState, RouteRef, UnackedState, WorkerInfo,
    };
    use super::*;

    fn worker(name: &str, queues: &[&str]) -> WorkerInfo {
        WorkerInfo {
            name: name.into(),
            queues: queues.iter().map(|q| q.to_string()).collect(),
            registered: Some(vec!["app.add".into()]),
            accept_content: Some(vec!["json".into()]),
            concurrency: Some(2),
            prefetch_count: Some(8),
            ..WorkerInfo::default()
        }
    }

    fn queue(name: &str, ready: u64, consumers: &[&str]) -> QueueState {
        QueueState {
            name: name.into(),
            ready: Some(ready),
            unacked: Some(0),
            consumers: Some(consumers.len() as u64),
            consumer_nodes: consumers.iter().map(|c| c.to_string()).collect(),
            sample: None,
        }
    }

    fn healthy() -> LiveState {
        LiveState {
            broker: "redis://h:6379/0".into(),
            transport: "redis".into(),
            visibility_timeout: 3600.0,
            redis_info: Some(BTreeMap::from([
                ("redis_version".to_string(), "7.0.15".to_string()),
                ("used_memory".into(), "1000000".into()),
                ("maxmemory".into(), "0".into()),
                ("maxmemory_policy".into(), "noeviction".into()),
            ])),
            workers: Some(vec![worker("w1@h", &["celery"])]),
            queues: Some(vec![queue("celery", 3, &["w1@h"])]),
            unacked: Some(Vec::new()),
            ..LiveState::default()
        }
    }

    fn codes(r: &Report) -> Vec<&str> {
        r.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn skipped_steps_are_never_healthy() {
        let mut s = healthy();
        s.workers = None;
        s.queues = None;
        s.skipped.insert(
            "workers".into(),
            "did not finish within the time budget (--budget)".into(),
        );
        let r = Report::judge(&s, 1);
        assert_eq!(r.verdict.code, DIAGNOSIS_INCOMPLETE);
        assert!(r.verdict.summary.contains("time budget"));
    }

    #[test]
    fn volatile_policies_warn_and_unknown_accept_content_is_not_judged() {
        let mut s = healthy();
        let info = s.redis_info.as_mut().unwrap();
        info.insert("maxmemory_policy".into(), "volatile-lru".into());
        info.insert("maxmemory".into(), "100000000".into());
        let mut w = worker("w1@h", &["celery"]);
        w.accept_content = None;
        s.workers = Some(vec![w]);
        let mut q = queue("celery", 3, &["w1@h"]);
        q.sample = Some(QueueSample {
            sampled: 3,
            content_types: BTreeMap::from([("application/x-msgpack".to_string(), 3)]),
            ..QueueSample::default()
        });
        s.queues = Some(vec![q]);
        let r = Report::judge(&s, 1);
        assert_eq!(codes(&r), [BROKER_EVICTION_POLICY]);
        assert_eq!(r.findings[0].severity, Severity::Warning);
        assert!(r.findings[0].summary.contains("with a TTL"));
        let ser = r.checks.iter().find(|c| c.id == "serializers").unwrap();
        assert_eq!(ser.status, Status::Skip);
    }

    #[test]
    fn a_healthy_system_has_no_finding() {
        let r = Report::judge(&healthy(), 1);
        assert_eq!(r.verdict.code, HEALTHY);
        assert!(r.findings.is_empty(), "{:?}", codes(&r));
        assert!(r.checks.iter().all(|c| c.status != Status::Fail));
    }

    #[test]
    fn unreachable_and_auth_skip_everything_else() {
        let mut s = healthy();
        s.workers = None;
        s.queues = None;
        s.connect_error = Some(ConnectError {
            kind: "auth".into(),
            message: "refused the credentials".into(),
        });
        s.skipped
            .insert("workers".into(), "the broker could not be reached".into());
        let r = Report::judge(&s, 1);
        assert_eq!(r.verdict.code, BROKER_AUTH_FAILED);
        assert!(r.unreachable());
        let workers = r.checks.iter().find(|c| c.id == "workers").unwrap();
        assert_eq!(workers.status, Status::Skip);
        s.connect_error.as_mut().unwrap().kind = "unreachable".into();
        assert_eq!(Report::judge(&s, 1).verdict.code, BROKER_UNREACHABLE);
    }

    #[test]
    fn no_workers_outranks_queues_without_consumers() {
        let mut s = healthy();
        s.workers = Some(Vec::new());
        s.queues = Some(vec![queue("celery", 500, &[]), queue("reports", 9, &[])]);
        let r = Report::judge(&s, 1);
        assert_eq!(r.verdict.code, NO_WORKERS);
        assert_eq!(
            codes(&r),
            [NO_WORKERS],
            "no per-queue noise without any worker"
        );
    }

    #[test]
    fn a_queue_nobody_consumes_is_the_verdict_and_names_the_fix() {
        let mut s = healthy();
        s.queues = Some(vec![
            queue("celery", 0, &["w1@h"]),
            queue("reports", 12_408, &[]),
        ]);
        let r = Report::judge(&s, 1);
        assert_eq!(r.verdict.code, QUEUE_NO_CONSUMERS);
        assert!(
            r.verdict.summary.contains("`reports` holds 12408"),
            "{}",
            r.verdict.summary
        );
        assert!(r.verdict.summary.contains("`celery`"));
        assert!(
            r.verdict
                .remediation
                .as_deref()
                .unwrap()
                .contains("-Q reports")
        );
    }

    #[test]
    fn eviction_policy_memory_pressure_and_ranking() {
        let mut s = healthy();
        let info = s.redis_info.as_mut().unwrap();
        info.insert("maxmemory_policy".into(), "allkeys-lru".into());
        info.insert("maxmemory".into(), "1000000".into());
        info.insert("used_memory".into(), "950000".into());
        s.queues = Some(vec![
            queue("celery", 1, &["w1@h"]),
            queue("reports", 2, &[]),
        ]);
        let r = Report::judge(&s, 1);
        assert_eq!(
            codes(&r),
            // 95 % full is not refusing writes yet: the unconsumed queue is the cause.
            [
                QUEUE_NO_CONSUMERS,
                BROKER_MEMORY_PRESSURE,
                BROKER_EVICTION_POLICY
            ]
        );
        assert!(r.findings.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn samples_reveal_serializer_unregistered_retries_and_far_etas() {
        let mut s = healthy();
        let mut q = queue("celery", 10, &["w1@h"]);
        q.sample = Some(QueueSample {
            sampled: 10,
            content_types: BTreeMap::from([
                ("application/json".to_string(), 7),
                ("application/x-python-serialize".to_string(), 3),
            ]),
            tasks: BTreeMap::from([("app.add".to_string(), 6), ("app.ghost".to_string(), 4)]),
            retried: 2,
            max_retries: 5,
            eta_beyond_visibility: 1,
            with_eta: 1,
            ..QueueSample::default()
        });
        s.queues = Some(vec![q]);
        let r = Report::judge(&s, 1);
        let c = codes(&r);
        for code in [
            SERIALIZER_MISMATCH,
            UNREGISTERED_TASK,
            HIGH_RETRY_COUNT,
            ETA_BEYOND_VISIBILITY_TIMEOUT,
        ] {
            assert!(c.contains(&code), "{code} missing from {c:?}");
        }
        let f = r
            .findings
            .iter()
            .find(|f| f.code == UNREGISTERED_TASK)
            .unwrap();
        assert!(f.summary.contains("app.ghost") && !f.summary.contains("app.add"));
        let f = r
            .findings
            .iter()
            .find(|f| f.code == SERIALIZER_MISMATCH)
            .unwrap();
        assert!(f.summary.contains("x-python-serialize"));
    }

    #[test]
    fn unacked_past_the_visibility_timeout() {
        let mut s = healthy();
        s.visibility_timeout = 10.0;
        s.unacked = Some(vec![
            UnackedState {
                queue: Some("celery".into()),
                task: Some("app.add".into()),
                eta: None,
                age_secs: Some(30.0),
            },
            UnackedState {
                age_secs: Some(1.0),
                ..UnackedState::default()
            },
        ]);
        let r = Report::judge(&s, 1);
        assert_eq!(r.verdict.code, UNACKED_BACKLOG);
        assert_eq!(r.findings[0].evidence["count"], 1);
    }

    #[test]
    fn prefetch_starvation_needs_a_full_worker_and_an_idle_one() {
        let mut s = healthy();
        let mut busy = worker("busy@h", &["celery"]);
        busy.concurrency = Some(1);
        busy.active = vec![("app.slow".into(), Some(120.0))];
        busy.reserved = vec!["app.add".into(), "app.add".into()];
        let idle = worker("idle@h", &["celery"]);
        s.workers = Some(vec![busy.clone(), idle]);
        let r = Report::judge(&s, 1);
        assert_eq!(r.verdict.code, PREFETCH_STARVATION);
        assert!(r.verdict.summary.contains("busy@h") && r.verdict.summary.contains("idle@h"));
        // Alone, a busy worker with a prefetch buffer is just busy.
        s.workers = Some(vec![busy]);
        assert_eq!(Report::judge(&s, 1).verdict.code, HEALTHY);
    }

    #[test]
    fn routes_to_queues_no_worker_consumes_carry_their_line() {
        let mut s = healthy();
        s.routes = Some(vec![
            RouteRef {
                queue: "invoices".into(),
                via: "task_routes `billing.*`".into(),
                file: Some("proj/celeryconfig.py".into()),
                line: Some(7),
            },
            RouteRef {
                queue: "celery".into(),
                via: "default".into(),
                file: None,
                line: None,
            },
        ]);
        let r = Report::judge(&s, 1);
        assert_eq!(codes(&r), [WORKER_NOT_CONSUMING_QUEUE]);
        assert_eq!(r.findings[0].location.line, Some(7));
        assert_eq!(r.findings[0].location.queue.as_deref(), Some("invoices"));
    }

    #[test]
    fn result_backend_states() {
        use super::super::state::BackendState;
        let mut s = healthy();
        s.backend_error = Some("cannot connect".into());
        assert_eq!(
            Report::judge(&s, 1).verdict.code,
            RESULT_BACKEND_UNREACHABLE
        );
        s.backend_error = None;
        s.backend = Some(BackendState {
            url: "redis://h/1".into(),
            keys: 5000,
            sampled: 200,
            without_ttl: 150,
            ..BackendState::default()
        });
        assert_eq!(Report::judge(&s, 1).verdict.code, RESULT_KEYS_WITHOUT_TTL);
    }
}

#[cfg(test)]
mod log_tests {
    use super::super::Report;
    use super::super::logs::{LogScan, scan_text};
    use super::super::state::LiveState;
    use super::*;

    #[test]
    fn a_real_worker_log_names_its_failures() {
        let mut scan = LogScan::default();
        scan_text(
            "worker.log",
            include_str!("../../fixtures/logs/worker.log"),
            &mut scan,
        );
        let state = LiveState {
            broker: "redis://h/0".into(),
            transport: "redis".into(),
            visibility_timeout: 3600.0,
            logs: Some(scan),
            ..LiveState::default()
        };
        let r = Report::judge(&state, 1);
        let codes: Vec<&str> = r.findings.iter().map(|f| f.code).collect();
        for code in [
            UNREGISTERED_TASK,
            SERIALIZER_MISMATCH,
            WORKER_PROCESSES_KILLED,
            TIME_LIMIT_EXCEEDED,
        ] {
            assert!(codes.contains(&code), "{code} missing from {codes:?}");
        }
        let logs = r.checks.iter().find(|c| c.id == "logs").unwrap();
        assert_eq!(logs.status, Status::Fail);
    }

    #[test]
    fn a_real_log_of_a_broker_outage() {
        let mut scan = LogScan::default();
        scan_text(
            "broker.log",
            include_str!("../../fixtures/logs/broker.log"),
            &mut scan,
        );
        let state = LiveState {
            broker: "redis://h/0".into(),
            logs: Some(scan),
            ..LiveState::default()
        };
        let r = Report::judge(&state, 1);
        assert_eq!(r.verdict.code, BROKER_CONNECTION_LOST);
    }

    #[test]
    fn rabbitmq_alarms_and_partitions() {
        use super::super::state::RabbitHealth;
        let mut state = LiveState {
            broker: "amqp://h//".into(),
            transport: "amqp".into(),
            workers: Some(Vec::new()),
            rabbit: Some(RabbitHealth {
                alarms: vec!["memory alarm on rabbit@h (9 of 8 bytes)".into()],
                blocked_connections: 3,
                ..RabbitHealth::default()
            }),
            ..LiveState::default()
        };
        // Blocked publishers silence the workers' replies too: the alarm is the cause.
        let r = Report::judge(&state, 1);
        let codes: Vec<&str> = r.findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, [BROKER_MEMORY_PRESSURE, NO_WORKERS]);
        state.rabbit = Some(RabbitHealth {
            alarms: vec!["network partition on rabbit@a (cannot see rabbit@b)".into()],
            ..RabbitHealth::default()
        });
        assert_eq!(Report::judge(&state, 1).verdict.code, BROKER_NODE_UNHEALTHY);
    }

    #[test]
    fn unreadable_logs_are_skipped_not_passed() {
        let state = LiveState {
            broker: "redis://h/0".into(),
            logs: Some(super::super::logs::scan_files(&[std::path::PathBuf::from(
                "/nonexistent/celery-doctor-test.log",
            )])),
            ..LiveState::default()
        };
        let r = Report::judge(&state, 1);
        let logs = r.checks.iter().find(|c| c.id == "logs").unwrap();
        assert_eq!(logs.status, Status::Skip, "{:?}", logs.evidence);
        assert!(logs.evidence.iter().any(|e| e.contains("unreadable")));
    }
}
