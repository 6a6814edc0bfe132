//! Scan Celery worker log files for known failure signatures.
//!
//! Pure and panic-free: plain, case-sensitive substring matching (no regex), bounded memory per
//! signature, and files are read from the end (at most [`MAX_TAIL_BYTES`] each) so huge logs
//! stay fast.
//!
//! Counting unit: a *log record*. A line carrying Celery's header
//! (`[2026-11-25 14:03:01,123: ERROR/MainProcess] …`, also after a Docker Compose prefix or an
//! ANSI colour code) starts a record; the lines without a header that follow it (traceback,
//! multi-line messages) belong to it. A signature is counted at most once per record, whether
//! the header line or a continuation line matched (a `WorkerLostError` shows up both in the log
//! message and in the last line of its traceback: one hit, not two). Continuation lines count
//! only when they match themselves, and take the record's timestamp. Lines seen before any
//! header, and JSON lines (`{"…": …}`), are records of their own; JSON lines carry no timestamp.
//!
//! `first`/`last` are compared as text across files when they look like `YYYY-…` (Celery's
//! default `asctime`), so rotated files can be scanned in any order.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::Serialize;

/// One known failure signature.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Signature {
    pub id: &'static str,
    pub title: &'static str,
    pub remediation: &'static str,
}

/// Matches of one signature.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SignatureHits {
    pub id: &'static str,
    /// Log records that matched (see the module docs).
    pub count: u64,
    /// Earliest timestamp of a matching record (None when no match carried one).
    pub first: Option<String>,
    /// Latest timestamp of a matching record.
    pub last: Option<String>,
    /// up to 3 example lines, trimmed to 300 chars
    pub examples: Vec<String>,
    /// e.g. task names for unregistered-task, when extractable
    pub subjects: Vec<String>,
}

/// Result of scanning one or more log files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogScan {
    /// Files scanned (unreadable ones are in `unreadable` instead).
    pub files: Vec<String>,
    /// Lines scanned, over all files.
    pub lines: u64,
    /// Only signatures with count > 0, in catalogue order.
    pub hits: Vec<SignatureHits>,
    /// (file, error) for files that could not be read.
    pub unreadable: Vec<(String, String)>,
}

/// At most this many bytes are read from the end of each file.
pub const MAX_TAIL_BYTES: u64 = 64 * 1024 * 1024;

const MAX_EXAMPLES: usize = 3;
const EXAMPLE_CHARS: usize = 300;
const MAX_SUBJECTS: usize = 20;
const SUBJECT_CHARS: usize = 200;
/// The header is searched for in the first bytes of a line only, so that prefixes added by
/// Docker Compose (`worker-1  | [2026-…`), journald or ANSI colour codes are tolerated.
const HEADER_SEARCH_BYTES: usize = 160;
/// Longest accepted timestamp (`2026-11-25 14:03:01,123` is 23).
const MAX_TIMESTAMP_LEN: usize = 40;

// The catalogue. Message texts were checked against the installed celery 5.7.0, kombu 5.7.0 and
// billiard 4.3.2 sources; each entry of RULES below cites where its texts come from.
// SIGNATURES and RULES are parallel arrays (same ids, same order; a unit test checks it).

/// The signature catalogue, in report order.
pub static SIGNATURES: &[Signature] = &[
    Signature {
        id: "broker_connection_lost",
        title: "Broker connection lost or refused",
        remediation: "Check that the broker is up and reachable from the worker host (DNS, \
                      firewall, TLS, credentials, connection limits) and look for broker \
                      restarts or failovers at these times.",
    },
    Signature {
        id: "unrecoverable_error",
        title: "Worker stopped on an unrecoverable error",
        remediation: "Read the traceback under this line (often a MemoryError or a broker \
                      error), fix its cause, and run workers under a supervisor (systemd, \
                      Kubernetes) that restarts them.",
    },
    Signature {
        id: "unregistered_task",
        title: "Unregistered task received",
        remediation: "Deploy the task's module to every worker that consumes its queue, or \
                      route the task to workers that have it (`celery inspect registered`).",
    },
    Signature {
        id: "content_disallowed",
        title: "Message refused by the worker's accept_content",
        remediation: "Make producers and workers agree on a serializer: set the producer's \
                      `task_serializer` to one the worker accepts, or add the content type to \
                      the worker's `accept_content` (never pickle from untrusted producers).",
    },
    Signature {
        id: "worker_lost",
        title: "Pool process died while running a task (WorkerLostError)",
        remediation: "Signal 9 (SIGKILL) is usually the kernel or container OOM killer: check \
                      `dmesg` or the pod's OOMKilled status, lower concurrency or \
                      `worker_max_memory_per_child`, and make such tasks idempotent with \
                      `acks_late` and `task_reject_on_worker_lost`.",
    },
    Signature {
        id: "pool_process_exited",
        title: "Pool process exited abnormally",
        remediation: "A SIGKILL right after a hard time limit is Celery's own kill, otherwise \
                      check the OOM killer (`dmesg`, OOMKilled) and, for 'Timed out waiting for \
                      UP message', slow imports at worker start-up or CPU starvation.",
    },
    Signature {
        id: "memory_error",
        title: "Out of memory",
        remediation: "Find the task that allocates (see its traceback), process its data in \
                      chunks, and cap pool processes with `worker_max_memory_per_child` or give \
                      the worker more memory.",
    },
    Signature {
        id: "hard_time_limit",
        title: "Hard time limit exceeded (pool process killed)",
        remediation: "Find why the task runs so long (blocking I/O without a timeout is the \
                      usual cause), add client timeouts, split the work, or raise the task's \
                      `time_limit`.",
    },
    Signature {
        id: "soft_time_limit",
        title: "Soft time limit exceeded",
        remediation: "Catch `SoftTimeLimitExceeded` in the task to clean up, and speed up or \
                      split the work or raise `soft_time_limit`, since repeated soft limits \
                      announce hard-limit kills.",
    },
    Signature {
        id: "unacked_restored",
        title: "Unacknowledged messages restored to the queue",
        remediation: "Messages reserved at shutdown went back to the queue and will be \
                      redelivered, so make tasks idempotent and, if this repeats, find out why \
                      workers restart (deploys, crashes, OOM kills).",
    },
    Signature {
        id: "missed_heartbeat",
        title: "Missed heartbeat from another worker",
        remediation: "Check whether the named worker is still alive, blocked (a long task \
                      holding the GIL, a stuck event loop) or cut off from the broker.",
    },
    Signature {
        id: "clock_drift",
        title: "Clock drift between workers",
        remediation: "Synchronize clocks with NTP or chrony on every worker and broker host, \
                      since drift breaks ETA and countdown tasks, expiry and heartbeats.",
    },
    Signature {
        id: "task_retry",
        title: "Task retried",
        remediation: "Look at the retry reason: frequent retries of the same task point to a \
                      failing dependency, so add backoff (`retry_backoff`) and cap \
                      `max_retries`.",
    },
    Signature {
        id: "task_failed",
        title: "Task raised an unexpected exception",
        remediation: "Fix the exception shown in the traceback of each listed task, or retry \
                      transient errors with `autoretry_for` and `retry_backoff`.",
    },
];

const N: usize = 14;

/// How one signature is recognised.
struct Rule {
    id: &'static str,
    /// Alternatives; each is a sequence of substrings that must occur in this order.
    patterns: &'static [&'static [&'static str]],
    /// Extracts the subject (task name, signal, host, …) from a matching line.
    subject: fn(&str) -> Option<&str>,
}

static RULES: [Rule; N] = [
    Rule {
        id: "broker_connection_lost",
        patterns: &[
            // celery/worker/consumer/consumer.py CONNECTION_RETRY ("consumer: Connection to
            // broker lost. Trying to re-establish the connection..."), logged by
            // Consumer.on_connection_error_after_connected; kombu/mixins.py ConsumerMixin.run
            // W_CONN_LOST ("Connection to broker lost, trying to re-establish connection...").
            &["Connection to broker lost"],
            // celery/worker/consumer/consumer.py CONNECTION_ERROR ("consumer: Cannot connect to
            // %s: %s."), logged by Consumer.on_connection_error_before_connected and
            // Consumer.ensure_connected._error_handler.
            &["consumer: Cannot connect to "],
        ],
        subject: subject_connect_error,
    },
    Rule {
        id: "unrecoverable_error",
        // celery/worker/worker.py WorkController.start: logger.critical("Unrecoverable error: %r",
        // exc, exc_info=True), then the worker stops.
        patterns: &[&["Unrecoverable error: "]],
        subject: subject_unrecoverable,
    },
    Rule {
        id: "unregistered_task",
        // celery/worker/consumer/consumer.py UNKNOWN_TASK_ERROR ("Received unregistered task of
        // type %s."), logged by Consumer.on_unknown_task.
        patterns: &[&["Received unregistered task of type "]],
        subject: subject_unregistered,
    },
    Rule {
        id: "content_disallowed",
        patterns: &[
            // kombu/exceptions.py ContentDisallowed (class name in tracebacks and reprs).
            &["ContentDisallowed"],
            // kombu/serialization.py SerializerRegistry._for_untrusted_content ("Refusing to
            // deserialize {untrusted|disabled} content of type {name (mime)}"); the worker logs
            // it through Consumer.on_invalid_task (INVALID_TASK_ERROR) or on_decode_error.
            &["Refusing to deserialize ", " content of type "],
        ],
        subject: subject_content_type,
    },
    Rule {
        id: "worker_lost",
        patterns: &[
            // billiard/exceptions.py WorkerLostError.
            &["WorkerLostError"],
            // billiard/pool.py Pool.mark_as_worker_lost ("Worker exited prematurely: {0} Job:
            // {1}.") and celery/worker/request.py Request._worker_lost_info ("Worker exited
            // prematurely: {status}.").
            &["exited prematurely"],
        ],
        subject: subject_worker_lost,
    },
    Rule {
        id: "pool_process_exited",
        patterns: &[
            // billiard/pool.py Pool._join_exited_workers: error("Process %r pid:%r exited with
            // %r", worker.name, worker.pid, human_status(exitcode)).
            &["Process '", "' pid:", " exited with "],
            // celery/concurrency/asynpool.py AsynPool._create_process_handlers
            // .verify_process_alive ("Timed out waiting for UP message from %r"; then kill -9).
            &["Timed out waiting for UP message from"],
        ],
        subject: subject_exit_status,
    },
    Rule {
        id: "memory_error",
        patterns: &[
            // Python's MemoryError; celery/worker/request.py Request.on_failure re-raises it
            // (MemoryError("Process got: …")), which stops the worker.
            &["MemoryError"],
            // strerror(ENOMEM); billiard/pool.py Pool.maintain_pool turns ENOMEM into
            // MemoryError when forking a pool process fails.
            &["Cannot allocate memory"],
        ],
        subject: no_subject,
    },
    Rule {
        id: "hard_time_limit",
        // celery/worker/request.py Request.on_timeout: error("Hard time limit (%ss) exceeded
        // for %s[%s]", timeout, self.name, self.id).
        patterns: &[&["Hard time limit (", ") exceeded for "]],
        subject: subject_time_limit,
    },
    Rule {
        id: "soft_time_limit",
        patterns: &[
            // celery/worker/request.py Request.on_timeout: warn("Soft time limit (%ss) exceeded
            // for %s[%s]", timeout, self.name, self.id).
            &["Soft time limit (", ") exceeded for "],
            // billiard/exceptions.py SoftTimeLimitExceeded, raised in the task by
            // billiard/pool.py soft_timeout_sighandler.
            &["SoftTimeLimitExceeded"],
        ],
        subject: subject_time_limit,
    },
    Rule {
        id: "unacked_restored",
        // kombu/transport/virtual/base.py RESTORING_FMT ("Restoring {0!r} unacknowledged
        // message(s)"), logged by QoS.restore_unacked_once.
        patterns: &[&["Restoring ", " unacknowledged message(s)"]],
        subject: no_subject,
    },
    Rule {
        id: "missed_heartbeat",
        // celery/worker/consumer/gossip.py Gossip.on_node_lost: info("missed heartbeat from
        // %s", worker.hostname).
        patterns: &[&["missed heartbeat from "]],
        subject: subject_missed_heartbeat,
    },
    Rule {
        id: "clock_drift",
        // celery/events/state.py DRIFT_WARNING ("Substantial drift from %s may mean clocks are
        // out of sync. …"), logged by _warn_drift.
        patterns: &[&["Substantial drift from "]],
        subject: subject_drift,
    },
    Rule {
        id: "task_retry",
        // celery/app/trace.py LOG_RETRY ("Task %(name)s[%(id)s] retry: %(exc)s") with
        // celery/exceptions.py Retry.__str__ ("Retry in 5s: …" or "Retry at <eta>: …").
        patterns: &[&["Task ", "] retry: "]],
        subject: task_name,
    },
    Rule {
        id: "task_failed",
        // celery/app/trace.py LOG_FAILURE ("Task %(name)s[%(id)s] %(description)s: %(exc)s")
        // with log_policy_unexpected (description "raised unexpected").
        patterns: &[&["Task ", "] raised unexpected: "]],
        subject: task_name,
    },
];

/// Scan text of one file (already read); `name` is for the report.
pub fn scan_text(name: &str, text: &str, into: &mut LogScan) {
    let mut acc: Vec<SignatureHits> = RULES
        .iter()
        .map(|r| SignatureHits {
            id: r.id,
            ..SignatureHits::default()
        })
        .collect();
    let mut lines: u64 = 0;
    // Timestamp of the current record, and whether a Celery record is open.
    let mut current_ts: Option<&str> = None;
    let mut in_record = false;
    let mut seen = [false; N];

    for line in text.lines() {
        lines = lines.saturating_add(1);
        let mut line_ts = current_ts;
        if let Some(ts) = header_timestamp(line) {
            current_ts = Some(ts);
            line_ts = current_ts;
            in_record = true;
            seen = [false; N];
        } else if is_json(line) {
            // A JSON/structlog line: a record of its own, without a timestamp.
            line_ts = None;
            in_record = false;
            seen = [false; N];
        } else if !in_record {
            seen = [false; N];
        }

        if !candidate(line) {
            continue;
        }
        for ((rule, hits), seen) in RULES.iter().zip(acc.iter_mut()).zip(seen.iter_mut()) {
            if !matches(line, rule.patterns) {
                continue;
            }
            if let Some(subject) = (rule.subject)(line) {
                add_subject(&mut hits.subjects, subject);
            }
            if *seen {
                continue;
            }
            *seen = true;
            hits.count = hits.count.saturating_add(1);
            if let Some(ts) = line_ts {
                note_first(&mut hits.first, ts);
                note_last(&mut hits.last, ts);
            }
            if hits.examples.len() < MAX_EXAMPLES {
                let example = clean(line, EXAMPLE_CHARS);
                if !example.is_empty() {
                    hits.examples.push(example);
                }
            }
        }
    }

    into.files.push(name.to_owned());
    into.lines = into.lines.saturating_add(lines);
    merge_hits(&mut into.hits, acc);
}

/// Read and scan files; unreadable files are recorded, never an error. Bound: read at most the
/// LAST 64 MiB of each file (seek from the end) so huge logs stay fast; non-UTF-8 bytes are
/// replaced lossily.
pub fn scan_files(paths: &[PathBuf]) -> LogScan {
    scan_files_capped(paths, MAX_TAIL_BYTES)
}

fn scan_files_capped(paths: &[PathBuf], cap: u64) -> LogScan {
    let mut scan = LogScan::default();
    for path in paths {
        let name = path.display().to_string();
        match read_tail(path, cap) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                scan_text(&name, &text, &mut scan);
            }
            Err(e) => scan.unreadable.push((name, e.to_string())),
        }
    }
    scan
}

/// The last `cap` bytes of a regular file, from the first complete line on when the start was
/// cut. Other files (pipes, devices) are read from their start, `cap` bytes at most.
fn read_tail(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    let mut cut = false;
    if meta.is_file() && meta.len() > cap {
        let back = i64::try_from(cap).unwrap_or(i64::MAX);
        file.seek(SeekFrom::End(-back))?;
        cut = true;
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len().min(cap)).unwrap_or(0));
    file.take(cap).read_to_end(&mut buf)?;
    if cut && let Some(nl) = buf.iter().position(|&b| b == b'\n') {
        buf.drain(..=nl);
    }
    Ok(buf)
}

// ---------------------------------------------------------------------------------------------
// Matching

/// A JSON object on one line (structlog, python-json-logger). Python dict reprs inside Celery
/// records (`{'lang': 'py', …}`) start with a single quote and stay continuation lines.
fn is_json(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("{\"") && t.ends_with('}')
}

fn matches(line: &str, alternatives: &[&[&str]]) -> bool {
    alternatives.iter().any(|parts| {
        let mut rest = line;
        for part in parts.iter() {
            match rest.find(part) {
                Some(i) => rest = rest.get(i + part.len()..).unwrap_or(""),
                None => return false,
            }
        }
        true
    })
}

/// A quick pre-test: can `line` match any rule at all? Every alternative has an anchor (its
/// longest part), and a bitmap of the anchors' first two bytes rules out most lines with one
/// table look-up per byte instead of ~25 substring searches.
struct Prefilter {
    /// Some alternative cannot be anchored: every line is a candidate.
    always: bool,
    bigrams: Vec<u64>,
    /// (first two bytes as in `bigram`, anchor)
    anchors: Vec<(usize, &'static str)>,
}

static PREFILTER: LazyLock<Prefilter> = LazyLock::new(|| {
    let mut p = Prefilter {
        always: false,
        bigrams: vec![0; 1 << 10],
        anchors: Vec::new(),
    };
    for parts in RULES.iter().flat_map(|r| r.patterns.iter()) {
        let Some(anchor) = parts.iter().copied().max_by_key(|part| part.len()) else {
            p.always = true;
            continue;
        };
        match *anchor.as_bytes() {
            [a, b, ..] => {
                let k = bigram(a, b);
                if let Some(word) = p.bigrams.get_mut(k >> 6) {
                    *word |= 1 << (k & 63);
                }
                p.anchors.push((k, anchor));
            }
            _ => p.always = true,
        }
    }
    p
});

fn bigram(a: u8, b: u8) -> usize {
    (usize::from(a) << 8) | usize::from(b)
}

fn candidate(line: &str) -> bool {
    let p = &*PREFILTER;
    if p.always {
        return true;
    }
    let bytes = line.as_bytes();
    bytes.windows(2).enumerate().any(|(i, w)| {
        let [a, b] = *w else { return false };
        let k = bigram(a, b);
        p.bigrams
            .get(k >> 6)
            .is_some_and(|word| (word >> (k & 63)) & 1 == 1)
            && bytes.get(i..).is_some_and(|rest| {
                p.anchors
                    .iter()
                    .any(|&(ak, a)| ak == k && rest.starts_with(a.as_bytes()))
            })
    })
}

/// The timestamp of Celery's default log header, `[<asctime>: <LEVEL>/<process>] …` (also
/// `[<asctime>: <LEVEL>] …`), searched for in the first bytes of the line.
fn header_timestamp(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let limit = bytes.len().min(HEADER_SEARCH_BYTES);
    let head = bytes.get(..limit)?;
    for (i, &b) in head.iter().enumerate() {
        if b == b'['
            && let Some(ts) = line.get(i + 1..).and_then(timestamp_after_bracket)
        {
            return Some(ts);
        }
    }
    None
}

/// `rest` starts right after a `[`.
fn timestamp_after_bracket(rest: &str) -> Option<&str> {
    let bytes = rest.as_bytes();
    if !bytes.first()?.is_ascii_digit() {
        return None;
    }
    let window = bytes.get(..bytes.len().min(MAX_TIMESTAMP_LEN + 2))?;
    let colon = window.windows(2).position(|w| w == b": ")?;
    let ts = rest.get(..colon)?;
    if !ts
        .bytes()
        .all(|b| (b.is_ascii_graphic() || b == b' ') && b != b'[' && b != b']')
    {
        return None;
    }
    // The level name: upper-case letters followed by `/` (process name) or `]`.
    let level = bytes.get(colon + 2..)?;
    let letters = level.iter().take_while(|b| b.is_ascii_uppercase()).count();
    if letters == 0 || letters > 10 {
        return None;
    }
    match level.get(letters) {
        Some(b'/') | Some(b']') => Some(ts),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Subjects

fn no_subject(_: &str) -> Option<&str> {
    None
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let i = line.find(marker)?;
    line.get(i + marker.len()..)
}

fn non_empty(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

/// `'quoted'` → `quoted`; otherwise the first word without trailing punctuation.
fn quoted_or_word(s: &str) -> Option<&str> {
    let s = s.trim_start();
    match s.chars().next()? {
        q @ ('\'' | '"') => {
            let body = s.get(1..)?;
            non_empty(body.get(..body.find(q)?)?)
        }
        _ => {
            let end = s.find(char::is_whitespace).unwrap_or(s.len());
            non_empty(s.get(..end)?.trim_end_matches(['.', ',', ';', ':']))
        }
    }
}

/// Up to the first of `stops` or whitespace.
fn word_until<'a>(s: &'a str, stops: &[char]) -> Option<&'a str> {
    let end = s
        .find(|c: char| c.is_whitespace() || stops.contains(&c))
        .unwrap_or(s.len());
    non_empty(s.get(..end)?)
}

/// The task name of Celery's `Task <name>[<id>] …` messages.
fn task_name(line: &str) -> Option<&str> {
    let mut rest = line;
    while let Some(i) = rest.find("Task ") {
        rest = rest.get(i + "Task ".len()..)?;
        if let Some(end) = rest.find(|c: char| c == '[' || c.is_whitespace())
            && end > 0
            && rest.get(end..).is_some_and(|r| r.starts_with('['))
        {
            return rest.get(..end);
        }
    }
    None
}

fn subject_connect_error(line: &str) -> Option<&str> {
    // "consumer: Cannot connect to redis://:**@host:6379/0: Error 111 connecting to …
    // Connection refused.." — the URL holds no ": ", the error follows the first one.
    let rest = after(line, "Cannot connect to ")?;
    non_empty(after(rest, ": ")?.trim_end_matches('.'))
}

fn subject_unrecoverable(line: &str) -> Option<&str> {
    // "Unrecoverable error: MemoryError('Process got: ')" → the exception type.
    let rest = after(line, "Unrecoverable error: ")?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    non_empty(rest.get(..end)?)
}

fn subject_unregistered(line: &str) -> Option<&str> {
    quoted_or_word(after(line, "Received unregistered task of type ")?)
}

fn subject_content_type(line: &str) -> Option<&str> {
    // kombu's parenthesize_alias: "pickle (application/x-python-serialize)", or a bare MIME
    // type when it has no registered name.
    let rest = after(line, "content of type ")?;
    let word_end = rest
        .find(|c: char| c.is_whitespace() || c == '\'' || c == '"')
        .unwrap_or(rest.len());
    let tail = rest.get(word_end..)?;
    if let Some(alias) = tail.strip_prefix(" (")
        && let Some(close) = alias.find(')')
        && alias
            .get(..close)
            .is_some_and(|m| !m.is_empty() && !m.contains(char::is_whitespace))
    {
        return non_empty(rest.get(..word_end + 2 + close + 1)?);
    }
    non_empty(rest.get(..word_end)?)
}

fn subject_worker_lost(line: &str) -> Option<&str> {
    // "Worker exited prematurely: signal 9 (SIGKILL) Job: 7." → "signal 9 (SIGKILL)".
    let rest = after(line, "exited prematurely: ")?;
    let mut end = rest.find(['.', '\'', '"']).unwrap_or(rest.len());
    if let Some(job) = rest.find(" Job") {
        end = end.min(job);
    }
    non_empty(rest.get(..end)?)
}

fn subject_exit_status(line: &str) -> Option<&str> {
    // "Process 'ForkPoolWorker-1' pid:42 exited with 'signal 9 (SIGKILL)'".
    quoted_or_word(after(line, " exited with ")?)
}

fn subject_time_limit(line: &str) -> Option<&str> {
    match after(line, ") exceeded for ") {
        Some(rest) => word_until(rest, &['[']),
        None => task_name(line),
    }
}

fn subject_missed_heartbeat(line: &str) -> Option<&str> {
    word_until(after(line, "missed heartbeat from ")?, &[])
}

fn subject_drift(line: &str) -> Option<&str> {
    word_until(after(line, "Substantial drift from ")?, &[])
}

fn add_subject(subjects: &mut Vec<String>, raw: &str) {
    if subjects.len() >= MAX_SUBJECTS {
        return;
    }
    let subject = clean(raw, SUBJECT_CHARS);
    if !subject.is_empty() && !subjects.contains(&subject) {
        subjects.push(subject);
    }
}

// ---------------------------------------------------------------------------------------------
// Accumulation

/// Timestamps that sort as text (`2026-11-25 14:03:01,123`, ISO 8601) are compared across files;
/// others keep the first and last seen.
fn sortable(ts: &str) -> bool {
    let b = ts.as_bytes();
    b.len() >= 10 && b.iter().take(4).all(u8::is_ascii_digit) && b.get(4) == Some(&b'-')
}

fn note_first(first: &mut Option<String>, ts: &str) {
    let replace = match first.as_deref() {
        None => true,
        Some(cur) => sortable(cur) && sortable(ts) && ts < cur,
    };
    if replace {
        *first = Some(ts.to_owned());
    }
}

fn note_last(last: &mut Option<String>, ts: &str) {
    let replace = match last.as_deref() {
        None => true,
        Some(cur) if cur == ts => false,
        Some(cur) => !(sortable(cur) && sortable(ts)) || ts > cur,
    };
    if replace {
        *last = Some(ts.to_owned());
    }
}

/// Merges one file's per-rule hits (in catalogue order) into `hits` (count > 0, catalogue order).
fn merge_hits(hits: &mut Vec<SignatureHits>, new: Vec<SignatureHits>) {
    let mut old = std::mem::take(hits);
    for mut add in new {
        let prior = old
            .iter()
            .position(|h| h.id == add.id)
            .map(|i| old.swap_remove(i));
        if let Some(mut h) = prior {
            h.count = h.count.saturating_add(add.count);
            if let Some(ts) = add.first.as_deref() {
                note_first(&mut h.first, ts);
            }
            if let Some(ts) = add.last.as_deref() {
                note_last(&mut h.last, ts);
            }
            for example in add.examples {
                if h.examples.len() >= MAX_EXAMPLES {
                    break;
                }
                h.examples.push(example);
            }
            for subject in add.subjects {
                if h.subjects.len() >= MAX_SUBJECTS {
                    break;
                }
                if !h.subjects.contains(&subject) {
                    h.subjects.push(subject);
                }
            }
            add = h;
        }
        if add.count > 0 {
            hits.push(add);
        }
    }
    // Entries with ids not in the catalogue (built by hand by a caller) are kept, at the end.
    hits.extend(old.into_iter().filter(|h| h.count > 0));
}

/// Trimmed, ANSI escape sequences dropped, control characters as spaces, at most `max` chars
/// (the last one an ellipsis when cut).
fn clean(s: &str, max: usize) -> String {
    // Log lines can quote URLs with passwords (a broker or database URL in an error).
    let s = &crate::probe::url::redact_url_text(s);
    let mut out = String::new();
    let mut n = 0usize;
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // CSI parameters and intermediates, up to the final byte (@ to ~).
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if n == max {
            out.pop();
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
        n += 1;
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKER_LOG: &str = include_str!("../../fixtures/logs/worker.log");
    const BROKER_LOG: &str = include_str!("../../fixtures/logs/broker.log");

    fn scan(name: &str, text: &str) -> LogScan {
        let mut s = LogScan::default();
        scan_text(name, text, &mut s);
        s
    }

    fn hit<'a>(scan: &'a LogScan, id: &str) -> &'a SignatureHits {
        scan.hits
            .iter()
            .find(|h| h.id == id)
            .unwrap_or_else(|| panic!("no hits for {id}: {:?}", scan.hits))
    }

    fn ids(scan: &LogScan) -> Vec<&'static str> {
        scan.hits.iter().map(|h| h.id).collect()
    }

    /// (count, first, last, subjects)
    fn summary(h: &SignatureHits) -> (u64, Option<&str>, Option<&str>, Vec<&str>) {
        (
            h.count,
            h.first.as_deref(),
            h.last.as_deref(),
            h.subjects.iter().map(String::as_str).collect(),
        )
    }

    /// A unique scratch path (no tempfile crate here).
    fn scratch(tag: &str) -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!(
            "celery-doctor-logs-{}-{tag}-{n}",
            std::process::id()
        ))
    }

    #[test]
    fn catalogue_is_consistent() {
        assert!(SIGNATURES.len() <= 14);
        assert_eq!(SIGNATURES.len(), RULES.len());
        for (s, r) in SIGNATURES.iter().zip(RULES.iter()) {
            assert_eq!(s.id, r.id);
            assert!(!r.patterns.is_empty() && r.patterns.iter().all(|p| !p.is_empty()));
            assert!(
                s.title.chars().next().is_some_and(char::is_uppercase),
                "{}",
                s.id
            );
            assert!(!s.title.ends_with('.'), "{}", s.id);
            assert!(s.remediation.ends_with('.'), "{}", s.id);
            assert!(!s.remediation.contains("  "), "{}: double space", s.id);
        }
        for (i, s) in SIGNATURES.iter().enumerate() {
            assert!(
                SIGNATURES.iter().skip(i + 1).all(|o| o.id != s.id),
                "duplicate {}",
                s.id
            );
        }
    }

    #[test]
    fn worker_log_fixture() {
        let s = scan("worker.log", WORKER_LOG);
        assert_eq!(s.files, ["worker.log"]);
        assert_eq!(s.lines, 187);
        assert!(s.unreadable.is_empty());
        assert_eq!(
            ids(&s),
            [
                "unrecoverable_error",
                "unregistered_task",
                "content_disallowed",
                "worker_lost",
                "pool_process_exited",
                "memory_error",
                "hard_time_limit",
                "soft_time_limit",
                "unacked_restored",
                "missed_heartbeat",
                "clock_drift",
                "task_retry",
                "task_failed",
            ]
        );
        let ts = |t: &'static str| Some(t);
        assert_eq!(
            summary(hit(&s, "unrecoverable_error")),
            (
                1,
                ts("2026-11-25 15:32:03,480"),
                ts("2026-11-25 15:32:03,480"),
                vec!["MemoryError"]
            )
        );
        assert_eq!(
            summary(hit(&s, "unregistered_task")),
            (
                1,
                ts("2026-11-25 15:31:26,605"),
                ts("2026-11-25 15:31:26,605"),
                vec!["proj.tasks.missing"]
            )
        );
        // The log line and the last traceback line of the same record: one hit.
        assert_eq!(
            summary(hit(&s, "content_disallowed")),
            (
                1,
                ts("2026-11-25 15:31:27,932"),
                ts("2026-11-25 15:31:27,932"),
                vec!["pickle (application/x-python-serialize)"]
            )
        );
        assert_eq!(
            summary(hit(&s, "worker_lost")),
            (
                1,
                ts("2026-11-25 15:31:46,520"),
                ts("2026-11-25 15:31:46,520"),
                vec!["signal 9 (SIGKILL)"]
            )
        );
        // One after the hard time limit (Celery's own kill), one from `kill -9`.
        assert_eq!(
            summary(hit(&s, "pool_process_exited")),
            (
                2,
                ts("2026-11-25 15:31:40,568"),
                ts("2026-11-25 15:31:46,500"),
                vec!["signal 9 (SIGKILL)"]
            )
        );
        assert_eq!(
            summary(hit(&s, "memory_error")),
            (
                2,
                ts("2026-11-25 15:32:03,473"),
                ts("2026-11-25 15:32:03,480"),
                vec![]
            )
        );
        assert_eq!(
            summary(hit(&s, "hard_time_limit")),
            (
                1,
                ts("2026-11-25 15:31:37,996"),
                ts("2026-11-25 15:31:37,996"),
                vec!["proj.tasks.slow_hard"]
            )
        );
        // Two warnings, and the task that let SoftTimeLimitExceeded propagate.
        assert_eq!(
            summary(hit(&s, "soft_time_limit")),
            (
                3,
                ts("2026-11-25 15:31:36,991"),
                ts("2026-11-25 15:31:36,998"),
                vec!["proj.tasks.slow_hard", "proj.tasks.slow_soft"]
            )
        );
        assert_eq!(
            summary(hit(&s, "unacked_restored")),
            (
                1,
                ts("2026-11-25 15:32:04,504"),
                ts("2026-11-25 15:32:04,504"),
                vec![]
            )
        );
        assert_eq!(
            summary(hit(&s, "missed_heartbeat")),
            (
                1,
                ts("2026-11-25 15:31:55,574"),
                ts("2026-11-25 15:31:55,574"),
                vec!["ghost@elsewhere"]
            )
        );
        assert_eq!(
            summary(hit(&s, "clock_drift")),
            (
                1,
                ts("2026-11-25 15:31:49,768"),
                ts("2026-11-25 15:31:49,768"),
                vec!["ghost@elsewhere"]
            )
        );
        assert_eq!(
            summary(hit(&s, "task_retry")),
            (
                2,
                ts("2026-11-25 15:31:30,644"),
                ts("2026-11-25 15:31:31,655"),
                vec!["proj.tasks.flaky"]
            )
        );
        assert_eq!(
            summary(hit(&s, "task_failed")),
            (
                4,
                ts("2026-11-25 15:31:29,288"),
                ts("2026-11-25 15:32:03,473"),
                vec![
                    "proj.tasks.boom",
                    "proj.tasks.flaky",
                    "proj.tasks.slow_soft",
                    "proj.tasks.hog"
                ]
            )
        );

        let lost = hit(&s, "worker_lost");
        assert_eq!(
            lost.examples,
            [
                "[2026-11-25 15:31:46,520: ERROR/MainProcess] Task handler raised error: \
              WorkerLostError('Worker exited prematurely: signal 9 (SIGKILL) Job: 7.')"
            ]
        );
        let failed = hit(&s, "task_failed");
        assert_eq!(failed.examples.len(), 3);
        assert!(
            failed.examples[0]
                .ends_with("raised unexpected: ZeroDivisionError('division by zero')")
        );
        for h in &s.hits {
            assert!(h.examples.len() <= MAX_EXAMPLES);
            assert!(
                h.examples
                    .iter()
                    .all(|e| e.chars().count() <= EXAMPLE_CHARS)
            );
        }
    }

    #[test]
    fn broker_log_fixture() {
        let s = scan("broker.log", BROKER_LOG);
        assert_eq!(s.lines, 33);
        assert_eq!(ids(&s), ["broker_connection_lost", "unacked_restored"]);
        // "Connection to broker lost" and three "Cannot connect to" retries.
        assert_eq!(
            summary(hit(&s, "broker_connection_lost")),
            (
                4,
                Some("2026-11-25 15:27:15,370"),
                Some("2026-11-25 15:27:21,418"),
                vec!["Error 111 connecting to 127.0.0.1:6391. Connection refused"]
            )
        );
        assert_eq!(hit(&s, "unacked_restored").count, 1);
        assert_eq!(
            hit(&s, "unacked_restored").examples,
            ["[2026-11-25 15:27:34,773: INFO/MainProcess] Restoring 3 unacknowledged message(s)"]
        );
    }

    #[test]
    fn several_files_merge_in_catalogue_order_with_min_and_max_timestamps() {
        let mut a = LogScan::default();
        scan_text("worker.log", WORKER_LOG, &mut a);
        scan_text("broker.log", BROKER_LOG, &mut a);
        let mut b = LogScan::default();
        scan_text("broker.log", BROKER_LOG, &mut b);
        scan_text("worker.log", WORKER_LOG, &mut b);
        assert_eq!(a.files, ["worker.log", "broker.log"]);
        assert_eq!(a.lines, 220);
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(
            ids(&a)[..2],
            ["broker_connection_lost", "unrecoverable_error"]
        );
        let (ra, rb) = (hit(&a, "unacked_restored"), hit(&b, "unacked_restored"));
        assert_eq!(ra.count, 2);
        assert_eq!(summary(ra), summary(rb));
        assert_eq!(ra.first.as_deref(), Some("2026-11-25 15:27:34,773"));
        assert_eq!(ra.last.as_deref(), Some("2026-11-25 15:32:04,504"));
        // Scanning the same text twice doubles counts, keeps subjects unique.
        scan_text("worker.log", WORKER_LOG, &mut a);
        assert_eq!(hit(&a, "task_failed").count, 8);
        assert_eq!(hit(&a, "task_failed").subjects.len(), 4);
        assert_eq!(hit(&a, "task_failed").examples.len(), 3);
    }

    #[test]
    fn json_prefixed_and_coloured_lines() {
        let text = "\
{\"level\": \"error\", \"event\": \"Received unregistered task of type 'billing.charge'.\"}\n\
worker-1  | [2026-11-25 14:03:01,123: ERROR/MainProcess] Received unregistered task of type 'a.b'.\n\
\u{1b}[1;31m[2026-11-25 14:04:01,000: ERROR/ForkPoolWorker-3] Task a.c[1-2] raised unexpected: KeyError('x')\u{1b}[0m\n\
{\"event\": \"Task a.d[9] retry: Retry at 2026-11-25T14:05:00: boom\"}\n";
        let s = scan("mixed.log", text);
        let unreg = hit(&s, "unregistered_task");
        assert_eq!(
            summary(unreg),
            (
                2,
                Some("2026-11-25 14:03:01,123"),
                Some("2026-11-25 14:03:01,123"),
                vec!["billing.charge", "a.b"]
            )
        );
        let failed = hit(&s, "task_failed");
        assert_eq!(failed.first.as_deref(), Some("2026-11-25 14:04:01,000"));
        assert_eq!(
            failed.examples,
            [
                "[2026-11-25 14:04:01,000: ERROR/ForkPoolWorker-3] Task a.c[1-2] raised unexpected: KeyError('x')"
            ]
        );
        // A JSON line has no timestamp, even after a Celery header.
        assert_eq!(summary(hit(&s, "task_retry")), (1, None, None, vec!["a.d"]));
    }

    #[test]
    fn continuation_lines_count_only_when_they_match() {
        let text = "\
billiard.exceptions.WorkerLostError: Worker exited prematurely: exitcode 1 Job: 3.\n\
[2026-01-02 03:04:05,006: ERROR/MainProcess] something else\n\
Traceback (most recent call last):\n\
MemoryError\n\
MemoryError: second mention, same record\n\
[2026-01-02 03:04:06,000: INFO/MainProcess] fine\n\
  more text\n\
OSError: [Errno 12] Cannot allocate memory\n";
        let s = scan("t.log", text);
        // Before any header: a record of its own, without a timestamp.
        assert_eq!(
            summary(hit(&s, "worker_lost")),
            (1, None, None, vec!["exitcode 1"])
        );
        // Continuations take their record's timestamp; one hit per record.
        assert_eq!(
            summary(hit(&s, "memory_error")),
            (
                2,
                Some("2026-01-02 03:04:05,006"),
                Some("2026-01-02 03:04:06,000"),
                vec![]
            )
        );
        assert_eq!(
            hit(&s, "memory_error").examples,
            ["MemoryError", "OSError: [Errno 12] Cannot allocate memory"]
        );
    }

    #[test]
    fn dict_reprs_stay_in_their_record() {
        let text = "\
[2026-11-25 15:31:27,932: ERROR/MainProcess] Received invalid task message: Refusing to deserialize untrusted content of type pickle (application/x-python-serialize)
{'lang': 'py', 'task': 'proj.tasks.add'}
kombu.exceptions.ContentDisallowed: Refusing to deserialize untrusted content of type pickle (application/x-python-serialize)
{\"event\": \"ContentDisallowed\"}
";
        let s = scan("t.log", text);
        let h = hit(&s, "content_disallowed");
        assert_eq!(
            summary(h),
            (
                2,
                Some("2026-11-25 15:31:27,932"),
                Some("2026-11-25 15:31:27,932"),
                vec!["pickle (application/x-python-serialize)"]
            )
        );
        assert_eq!(h.examples[1], "{\"event\": \"ContentDisallowed\"}");
        assert!(is_json(" {\"a\": 1} "));
        assert!(!is_json("{'a': 1}"));
        assert!(!is_json("{\"a\": 1"));
    }

    #[test]
    fn header_parsing() {
        assert_eq!(
            header_timestamp("[2026-11-25 14:03:01,123: ERROR/MainProcess] x"),
            Some("2026-11-25 14:03:01,123")
        );
        assert_eq!(
            header_timestamp("[2026-11-25 14:03:01,123: WARNING] x"),
            Some("2026-11-25 14:03:01,123")
        );
        assert_eq!(
            header_timestamp("\u{1b}[1;31m[2026-11-25 14:03:01: ERROR/X] x"),
            Some("2026-11-25 14:03:01")
        );
        assert_eq!(
            header_timestamp("b'[[1, 2], {}, {\"callbacks\": null}]' (81b)"),
            None
        );
        assert_eq!(header_timestamp("  File \"x.py\", line 3, in f"), None);
        assert_eq!(header_timestamp("[1, 2]: ERROR/"), None);
        assert_eq!(header_timestamp("[12:00:01: ERROR/x] y"), Some("12:00:01"));
        assert_eq!(header_timestamp("[12:00:01: error/x] y"), None);
        assert_eq!(header_timestamp("[2026-11-25 14:03:01,123: ERROR"), None);
        assert_eq!(header_timestamp("["), None);
        assert_eq!(header_timestamp(""), None);
        let late = format!(
            "{}[2026-11-25 14:03:01,123: ERROR/MainProcess] x",
            "x".repeat(200)
        );
        assert_eq!(header_timestamp(&late), None);
    }

    #[test]
    fn subjects() {
        assert_eq!(
            subject_content_type(
                "Can't decode message body: ContentDisallowed('Refusing to deserialize disabled content of type application/x-yaml') [type:'application/x-yaml'"
            ),
            Some("application/x-yaml")
        );
        assert_eq!(
            subject_content_type(
                "ContentDisallowed('Refusing to deserialize untrusted content of type pickle (application/x-python-serialize)') [type:"
            ),
            Some("pickle (application/x-python-serialize)")
        );
        assert_eq!(
            subject_content_type("kombu.exceptions.ContentDisallowed: boom"),
            None
        );
        assert_eq!(
            subject_worker_lost(
                "WorkerLostError('Worker exited prematurely: signal 15 (SIGTERM).')"
            ),
            Some("signal 15 (SIGTERM)")
        );
        assert_eq!(
            subject_exit_status("Process 'ForkPoolWorker-9' pid:7 exited with 'exitcode 70'"),
            Some("exitcode 70")
        );
        assert_eq!(
            subject_unregistered("Received unregistered task of type proj.x."),
            Some("proj.x")
        );
        assert_eq!(
            subject_unregistered("Received unregistered task of type '"),
            None
        );
        assert_eq!(
            task_name("Task handler raised error: Task x[1] retry: y"),
            Some("x")
        );
        assert_eq!(task_name("Task [1] raised unexpected: "), None);
        assert_eq!(
            subject_connect_error(
                "consumer: Cannot connect to amqp://guest:**@rabbit:5672//: [Errno 111] Connection refused."
            ),
            Some("[Errno 111] Connection refused")
        );
        assert_eq!(
            subject_unrecoverable("Unrecoverable error: OperationalError(\"x\")"),
            Some("OperationalError")
        );
        assert_eq!(
            subject_time_limit("Hard time limit (300s) exceeded for a.b[c]"),
            Some("a.b")
        );
    }

    #[test]
    fn retry_at_eta_and_crlf() {
        let text = "[2026-11-25 14:03:01,123: INFO/ForkPoolWorker-1] Task p.t[1] retry: Retry at 2026-11-25 14:13:01+00:00: err\r\n\
                    [2026-11-25 14:03:02,000: INFO/ForkPoolWorker-1] Task p.t[1] retry: Retry in 10s\r\n";
        let s = scan("crlf.log", text);
        assert_eq!(s.lines, 2);
        let r = hit(&s, "task_retry");
        assert_eq!(
            summary(r),
            (
                2,
                Some("2026-11-25 14:03:01,123"),
                Some("2026-11-25 14:03:02,000"),
                vec!["p.t"]
            )
        );
        assert!(r.examples.iter().all(|e| !e.ends_with('\r')));
    }

    #[test]
    fn examples_and_subjects_are_bounded() {
        let mut text = String::new();
        for i in 0..50 {
            text.push_str(&format!(
                "[2026-11-25 14:03:{:02},000: ERROR/MainProcess] Received unregistered task of type 't{i}'.\n",
                i % 60
            ));
        }
        let s = scan("many.log", &text);
        let h = hit(&s, "unregistered_task");
        assert_eq!(h.count, 50);
        assert_eq!(h.examples.len(), MAX_EXAMPLES);
        assert_eq!(h.subjects.len(), MAX_SUBJECTS);
        assert_eq!(h.subjects[0], "t0");
        assert_eq!(h.last.as_deref(), Some("2026-11-25 14:03:49,000"));
    }

    #[test]
    fn huge_line() {
        let filler = "é".repeat(4 * 1024 * 1024); // 8 MiB of two-byte characters
        let task = "x".repeat(10_000);
        let text = format!(
            "[2026-11-25 14:03:01,123: ERROR/MainProcess] {filler} Received unregistered task of type '{task}'. {filler} MemoryError\nnext line\n"
        );
        let s = scan("huge.log", &text);
        assert_eq!(s.lines, 2);
        assert_eq!(ids(&s), ["unregistered_task", "memory_error"]);
        let h = hit(&s, "unregistered_task");
        assert_eq!(h.count, 1);
        assert_eq!(h.examples[0].chars().count(), EXAMPLE_CHARS);
        assert!(h.examples[0].ends_with('…'));
        assert_eq!(h.subjects[0].chars().count(), SUBJECT_CHARS);
        assert_eq!(h.first.as_deref(), Some("2026-11-25 14:03:01,123"));
        // A huge line without a newline, only control characters, and an empty text.
        let s = scan("nl.log", &"\u{0}\u{7}".repeat(1 << 20));
        assert_eq!((s.lines, s.hits.len()), (1, 0));
        let s = scan("empty.log", "");
        assert_eq!((s.lines, s.hits.len(), s.files.len()), (0, 0, 1));
    }

    #[test]
    fn random_and_binary_junk_never_panics() {
        // Fragments that steer the junk into the parser's edge cases.
        const PIECES: &[&str] = &[
            "[",
            "]",
            ": ",
            "ERROR/",
            "2026-11-25 14:03:01,123",
            "\n",
            "\r\n",
            "{",
            "'",
            "\"",
            " (",
            ")",
            "Task ",
            "[",
            "] raised unexpected: ",
            "] retry: ",
            "Received unregistered task of type ",
            "content of type ",
            "Refusing to deserialize ",
            "exited prematurely: ",
            " Job",
            "Process '",
            "' pid:",
            " exited with ",
            ") exceeded for ",
            "Hard time limit (",
            "Soft time limit (",
            "Cannot connect to ",
            "Unrecoverable error: ",
            "missed heartbeat from ",
            "\u{1b}[",
            "\u{1b}",
            "é",
            "\u{fffd}",
            "\0",
            "Substantial drift from ",
            "MemoryError",
            "Restoring ",
            " unacknowledged message(s)",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut total = LogScan::default();
        for round in 0..400 {
            let mut bytes = Vec::new();
            let len = (next() % 2000) as usize;
            while bytes.len() < len {
                let r = next();
                if r % 3 == 0 {
                    bytes.push((r >> 8) as u8);
                } else {
                    let piece = PIECES[(r >> 8) as usize % PIECES.len()];
                    bytes.extend_from_slice(piece.as_bytes());
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            scan_text(&format!("junk-{round}"), &text, &mut total);
            // The pre-test never hides a match.
            for line in text.lines() {
                let any = RULES.iter().any(|r| matches(line, r.patterns));
                assert!(!any || candidate(line), "{line:?}");
            }
            // Cut at every char boundary of a short prefix, too.
            if round % 40 == 0 {
                for (i, _) in text.char_indices().take(300) {
                    let mut s = LogScan::default();
                    scan_text("cut", &text[..i], &mut s);
                    scan_text("cut", &text[i..], &mut s);
                }
            }
        }
        assert_eq!(total.files.len(), 400);
        let order: Vec<usize> = total
            .hits
            .iter()
            .map(|h| {
                SIGNATURES
                    .iter()
                    .position(|s| s.id == h.id)
                    .unwrap_or(usize::MAX)
            })
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "catalogue order: {order:?}"
        );
        for h in &total.hits {
            assert!(
                h.count > 0 && h.examples.len() <= MAX_EXAMPLES && h.subjects.len() <= MAX_SUBJECTS
            );
            assert!(
                h.examples
                    .iter()
                    .all(|e| e.chars().count() <= EXAMPLE_CHARS)
            );
            assert!(
                h.subjects
                    .iter()
                    .all(|e| e.chars().count() <= SUBJECT_CHARS && !e.is_empty())
            );
            assert!(
                h.examples
                    .iter()
                    .chain(&h.subjects)
                    .all(|e| !e.chars().any(char::is_control))
            );
        }

        // Raw binary through the file path (lossy UTF-8).
        let path = scratch("junk");
        let junk: Vec<u8> = (0..200_000).map(|_| (next() >> 24) as u8).collect();
        std::fs::write(&path, &junk).unwrap();
        let s = scan_files(std::slice::from_ref(&path));
        std::fs::remove_file(&path).ok();
        assert_eq!(s.files.len(), 1);
        assert!(s.unreadable.is_empty());
    }

    #[test]
    fn files_are_read_from_the_end_and_unreadable_ones_recorded() {
        let path = scratch("tail");
        let head = "[2026-11-25 10:00:00,000: ERROR/MainProcess] Received unregistered task of type 'old.task'.\n";
        let mut text = String::from(head);
        for i in 0..100 {
            text.push_str(&format!(
                "[2026-11-25 11:00:00,{i:03}: INFO/MainProcess] filler {i}\n"
            ));
        }
        text.push_str("[2026-11-25 12:00:00,000: ERROR/MainProcess] Received unregistered task of type 'new.task'.\n");
        std::fs::write(&path, &text).unwrap();

        let missing = scratch("missing");
        let dir = std::env::temp_dir();
        let paths = [path.clone(), missing.clone(), dir.clone()];

        let whole = scan_files(&paths);
        assert_eq!(whole.files, [path.display().to_string()]);
        assert_eq!(whole.lines, 102);
        assert_eq!(
            hit(&whole, "unregistered_task").subjects,
            ["old.task", "new.task"]
        );
        let unreadable: Vec<&str> = whole.unreadable.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            unreadable,
            [missing.display().to_string(), dir.display().to_string()]
        );
        assert!(whole.unreadable.iter().all(|(_, e)| !e.is_empty()));

        // A cap that starts inside the first line: that partial line is dropped.
        let cap = (text.len() - head.len() + 10) as u64;
        let tail = scan_files_capped(std::slice::from_ref(&path), cap);
        std::fs::remove_file(&path).ok();
        assert_eq!(tail.lines, 101);
        let h = hit(&tail, "unregistered_task");
        assert_eq!(
            summary(h),
            (
                1,
                Some("2026-11-25 12:00:00,000"),
                Some("2026-11-25 12:00:00,000"),
                vec!["new.task"]
            )
        );
    }

    #[test]
    fn serializes_as_documented() {
        let s = scan("broker.log", BROKER_LOG);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["files"], serde_json::json!(["broker.log"]));
        assert_eq!(v["lines"], 33);
        assert_eq!(v["hits"][0]["id"], "broker_connection_lost");
        assert_eq!(v["hits"][0]["count"], 4);
        assert_eq!(v["hits"][0]["first"], "2026-11-25 15:27:15,370");
        assert_eq!(v["unreadable"], serde_json::json!([]));
        let sig = serde_json::to_value(&SIGNATURES[0]).unwrap();
        assert_eq!(sig["id"], "broker_connection_lost");
        assert!(
            sig["remediation"]
                .as_str()
                .is_some_and(|r| r.starts_with("Check that"))
        );
    }

    #[test]
    fn clean_strips_escapes_and_controls() {
        assert_eq!(
            clean("  \u{1b}[1;31mred\u{1b}[0m\ttab\u{7} ", 300),
            "red tab"
        );
        assert_eq!(clean("abcdef", 3), "ab…");
        assert_eq!(clean("abc", 3), "abc");
        assert_eq!(clean("\u{1b}[", 3), "");
        assert_eq!(clean("ééééé", 4), "ééé…");
    }
}
