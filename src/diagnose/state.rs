//! Everything `diagnose` saw, as plain data: gathered once (bounded in time), then judged by
//! pure checks. Serializable, so a recorded state can be judged in a unit test without a
//! broker.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::logs::LogScan;

/// Why the broker could not be used.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConnectError {
    /// `ProbeError::kind()`: unreachable, tls, auth, protocol, usage.
    pub kind: String,
    pub message: String,
}

/// RabbitMQ node health from the management API.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RabbitHealth {
    pub version: Option<String>,
    /// Human-readable alarms: "memory alarm on rabbit@h (1.2 GiB of 1.0 GiB)".
    pub alarms: Vec<String>,
    pub mem_used: Option<u64>,
    pub mem_limit: Option<u64>,
    pub fd_used: Option<u64>,
    pub fd_total: Option<u64>,
    /// Connections in state `blocked`/`blocking`.
    pub blocked_connections: u64,
}

/// One worker node and what it said.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub name: String,
    /// Queue names from `active_queues`.
    pub queues: Vec<String>,
    /// Task names from `registered`; `None` when the worker did not answer.
    pub registered: Option<Vec<String>>,
    /// `accept_content` from `inspect conf` (Celery's default `["json"]` when the worker
    /// answered without it); `None` when the worker did not answer `conf`.
    pub accept_content: Option<Vec<String>>,
    /// False when the worker did not answer `active_queues` (its queues are unknown).
    #[serde(default = "yes")]
    pub queues_known: bool,
    pub concurrency: Option<u64>,
    pub prefetch_count: Option<u64>,
    pub pool: Option<String>,
    pub uptime_secs: Option<u64>,
    /// Max RSS in KiB (`stats.rusage.maxrss`).
    pub maxrss_kib: Option<u64>,
    pub total_tasks: u64,
    /// `[task name, seconds running]` of the active tasks.
    pub active: Vec<(String, Option<f64>)>,
    pub reserved: Vec<String>,
    /// `(task name, eta)` of the scheduled (ETA/countdown) tasks.
    pub scheduled: Vec<(String, Option<String>)>,
}

fn yes() -> bool {
    true
}

/// A bounded look at the messages of one queue.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct QueueSample {
    pub sampled: u64,
    pub content_types: BTreeMap<String, u64>,
    pub tasks: BTreeMap<String, u64>,
    pub undecodable: u64,
    /// Messages whose `retries` header is 3 or more, and the highest seen.
    pub retried: u64,
    pub max_retries: u64,
    /// Messages with an ETA further away than the visibility timeout.
    pub eta_beyond_visibility: u64,
    pub with_eta: u64,
}

/// One queue.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct QueueState {
    pub name: String,
    pub ready: Option<u64>,
    pub unacked: Option<u64>,
    pub consumers: Option<u64>,
    pub consumer_nodes: Vec<String>,
    pub sample: Option<QueueSample>,
}

/// One entry of the Redis `unacked` hash.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UnackedState {
    pub queue: Option<String>,
    pub task: Option<String>,
    pub eta: Option<String>,
    pub age_secs: Option<f64>,
}

/// The result backend (Redis).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BackendState {
    pub url: String,
    pub keys: u64,
    /// Keys counted before the scan bound was hit.
    pub keys_truncated: bool,
    pub sampled: u64,
    pub without_ttl: u64,
    pub avg_bytes: Option<u64>,
    pub states: BTreeMap<String, u64>,
}

/// Where the project routes tasks (with `--app-path`), with the line that says so.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RouteRef {
    pub queue: String,
    /// What routes there: a route pattern, `task_queues`, or a task's `queue=` option.
    pub via: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// Everything gathered.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LiveState {
    pub broker: String,
    pub transport: String,
    pub connect_error: Option<ConnectError>,
    pub latency_ms: Option<f64>,
    pub redis_info: Option<BTreeMap<String, String>>,
    pub rabbit: Option<RabbitHealth>,
    /// `None` when the step was skipped (see `skipped`).
    pub workers: Option<Vec<WorkerInfo>>,
    /// Mailboxes that received the ping broadcast but are not workers (beat) or did not answer.
    pub silent_mailboxes: u64,
    pub queues: Option<Vec<QueueState>>,
    pub unacked: Option<Vec<UnackedState>>,
    pub unacked_total: Option<u64>,
    pub visibility_timeout: f64,
    pub backend: Option<BackendState>,
    pub backend_error: Option<String>,
    #[serde(skip_deserializing, default)]
    pub logs: Option<LogScan>,
    /// When the state was gathered (seconds since the epoch): "now" for the checks.
    pub now: f64,
    pub routes: Option<Vec<RouteRef>>,
    /// Check id → why its data could not be gathered.
    pub skipped: BTreeMap<String, String>,
    /// Anything else worth showing (raw worker `conf` is not kept).
    pub notes: Vec<String>,
    #[serde(default)]
    pub extra: BTreeMap<String, Value>,
}
