//! Finding codes: the JSON contract (scripts depend on them). Never rename one; add new ones.
//!
//! The weight says how likely a finding explains stuck or lost work; the verdict ranks by it.

pub const HEALTHY: &str = "HEALTHY";
pub const BROKER_UNREACHABLE: &str = "BROKER_UNREACHABLE";
pub const BROKER_AUTH_FAILED: &str = "BROKER_AUTH_FAILED";
pub const BROKER_MEMORY_PRESSURE: &str = "BROKER_MEMORY_PRESSURE";
pub const BROKER_EVICTION_POLICY: &str = "BROKER_EVICTION_POLICY";
pub const BROKER_CONNECTIONS_EXHAUSTED: &str = "BROKER_CONNECTIONS_EXHAUSTED";
pub const BROKER_NODE_UNHEALTHY: &str = "BROKER_NODE_UNHEALTHY";
pub const WORKER_PROCESSES_KILLED: &str = "WORKER_PROCESSES_KILLED";
pub const TIME_LIMIT_EXCEEDED: &str = "TIME_LIMIT_EXCEEDED";
pub const BROKER_CONNECTION_LOST: &str = "BROKER_CONNECTION_LOST";
pub const DIAGNOSIS_INCOMPLETE: &str = "DIAGNOSIS_INCOMPLETE";
pub const NO_WORKERS: &str = "NO_WORKERS";
pub const QUEUE_NO_CONSUMERS: &str = "QUEUE_NO_CONSUMERS";
pub const WORKER_NOT_CONSUMING_QUEUE: &str = "WORKER_NOT_CONSUMING_QUEUE";
pub const UNREGISTERED_TASK: &str = "UNREGISTERED_TASK";
pub const SERIALIZER_MISMATCH: &str = "SERIALIZER_MISMATCH";
pub const PREFETCH_STARVATION: &str = "PREFETCH_STARVATION";
pub const UNACKED_BACKLOG: &str = "UNACKED_BACKLOG";
pub const ETA_BEYOND_VISIBILITY_TIMEOUT: &str = "ETA_BEYOND_VISIBILITY_TIMEOUT";
pub const RESULT_BACKEND_UNREACHABLE: &str = "RESULT_BACKEND_UNREACHABLE";
pub const RESULT_KEYS_WITHOUT_TTL: &str = "RESULT_KEYS_WITHOUT_TTL";
pub const HIGH_RETRY_COUNT: &str = "HIGH_RETRY_COUNT";

/// Every code with its weight (0–100), highest first.
pub const WEIGHTS: &[(&str, u32)] = &[
    (BROKER_UNREACHABLE, 100),
    (BROKER_AUTH_FAILED, 100),
    // A full broker or a broken node also silences the workers' replies: it explains
    // NO_WORKERS, not the other way round.
    (BROKER_MEMORY_PRESSURE, 97),
    (BROKER_NODE_UNHEALTHY, 96),
    (NO_WORKERS, 95),
    (QUEUE_NO_CONSUMERS, 90),
    (UNREGISTERED_TASK, 80),
    (SERIALIZER_MISMATCH, 80),
    (WORKER_PROCESSES_KILLED, 75),
    (PREFETCH_STARVATION, 70),
    (BROKER_CONNECTION_LOST, 65),
    (BROKER_EVICTION_POLICY, 62),
    (ETA_BEYOND_VISIBILITY_TIMEOUT, 60),
    (UNACKED_BACKLOG, 58),
    (TIME_LIMIT_EXCEEDED, 55),
    (WORKER_NOT_CONSUMING_QUEUE, 50),
    (BROKER_CONNECTIONS_EXHAUSTED, 48),
    (HIGH_RETRY_COUNT, 45),
    (RESULT_BACKEND_UNREACHABLE, 40),
    (DIAGNOSIS_INCOMPLETE, 30),
    (RESULT_KEYS_WITHOUT_TTL, 20),
    (HEALTHY, 0),
];

pub fn weight(code: &str) -> u32 {
    WEIGHTS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(10, |(_, w)| *w)
}
