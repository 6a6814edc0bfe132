//! `celery-doctor diagnose` against failures created for real: real Celery 5.7 workers on the
//! local Redis and RabbitMQ (and a private redis-server where a scenario needs other server
//! settings), tasks published with Celery's own `send_task`, worker log files as the workers
//! wrote them. Every test builds one situation, runs `diagnose --format json`, and asserts
//! the exit code, the verdict (the expected code ranked first, so no wrong cause outranks
//! it), the shape of the report, that a password never shows, and, on Redis, that diagnose
//! left the queue lists exactly as they were. Where a scenario could be misread, the test
//! also asserts which codes must *not* appear, and runs a control without the fault.
//!
//! Situations that would otherwise resolve themselves while the test looks (a worker takes
//! the message, discards it, runs it) are frozen with a *busy worker*: one thread, late acks,
//! prefetch 1, running `liveapp.slow(60)`; kombu then stops fetching, so what is published
//! next stays in the queue list. Such workers are killed (not warm-stopped) at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support::*;
use super::{rabbit_counts, redis_queue_state};

/// The checklist, one check each.
const CHECK_IDS: &[&str] = &[
    "broker",
    "workers",
    "routing",
    "logs",
    "result_backend",
    "serializers",
    "task_state",
    "resources",
];

/// Flags of every run: the default budget, a short reply wait.
const QUICK: &[&str] = &["--budget", "10", "--timeout", "0.5"];

/// How long a busy worker's task runs; it is killed long before.
const BUSY_TASK_SECS: &str = "60";

// -------------------------------------------------------------------------------------------
// Running diagnose and reading its report
// -------------------------------------------------------------------------------------------

/// One `diagnose --format json` run: exit code, the parsed report, what was printed.
struct Run {
    args: Vec<String>,
    code: Option<i32>,
    report: Value,
    stdout: String,
    stderr: String,
    /// Wall time of the process.
    elapsed: Duration,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "celery-doctor {}\n--- exit {:?} after {:?}\n--- report:\n{:#}\n--- stderr:\n{}",
            self.args.join(" "),
            self.code,
            self.elapsed,
            self.report,
            self.stderr
        )
    }
}

/// `celery-doctor diagnose --broker URL [OPTS] FLAGS --format json`. The report must be
/// printed (also for exit 2: unreachable broker, refused credentials) and well formed.
fn diagnose_url(url: &str, opts: &[String], flags: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["diagnose".into(), "--broker".into(), url.into()];
    args.extend(opts.iter().cloned());
    args.extend(flags.iter().map(|s| s.to_string()));
    args.extend(["--format".into(), "json".into()]);
    let started = Instant::now();
    let out = celery_doctor(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let elapsed = started.elapsed();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "celery-doctor {} printed no JSON report ({e}), exit {:?}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
            args.join(" "),
            out.status.code()
        )
    });
    let run = Run {
        args,
        code: out.status.code(),
        report,
        stdout,
        stderr,
        elapsed,
    };
    check_shape(&run);
    run
}

/// [`diagnose_url`] for a broker scope, with its transport options and [`QUICK`].
fn diagnose(broker: &impl Broker, extra: &[&str]) -> Run {
    let mut flags = QUICK.to_vec();
    flags.extend_from_slice(extra);
    diagnose_url(&broker.url(), &broker.transport_option_args(), &flags)
}

impl Run {
    fn verdict(&self) -> &str {
        self.report["verdict"]["code"].as_str().unwrap()
    }

    fn findings(&self) -> &[Value] {
        self.report["findings"].as_array().unwrap()
    }

    /// Every finding with this code.
    fn all(&self, code: &str) -> Vec<&Value> {
        self.findings()
            .iter()
            .filter(|f| f["code"] == code)
            .collect()
    }

    /// The best-scored finding with this code; panics with the report if there is none.
    fn finding(&self, code: &str) -> &Value {
        self.all(code)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {code} finding\n{self}"))
    }

    fn check(&self, id: &str) -> &Value {
        self.report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check {id}\n{self}"))
    }

    fn check_status(&self, id: &str) -> &str {
        self.check(id)["status"].as_str().unwrap()
    }

    /// Exit code and verdict, exactly.
    fn expect(&self, exit: i32, verdict: &str) {
        assert_eq!(self.code, Some(exit), "exit code\n{self}");
        assert_eq!(self.verdict(), verdict, "verdict\n{self}");
    }

    /// The finding with this code was filed under one of these checks.
    fn expect_check(&self, code: &str, checks: &[&str]) {
        let check = self.finding(code)["check"].as_str().unwrap();
        assert!(
            checks.contains(&check),
            "{code} filed under check {check:?}, expected one of {checks:?}\n{self}"
        );
    }

    fn assert_no_secret(&self, secret: &str) {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "the password {secret:?} was printed\n{self}"
        );
    }
}

/// The document of the contract: every field of the verdict, the eight checks, the findings
/// sorted by score with the verdict on top, no check that passes while holding a problem.
fn check_shape(run: &Run) {
    let r = &run.report;
    let is_str = |v: &Value| v.as_str().is_some_and(|s| !s.trim().is_empty());
    let str_or_null = |v: &Value| v.is_null() || v.is_string();
    let severities = ["error", "warning", "info"];
    assert!(is_str(&r["broker"]), "broker\n{run}");
    assert!(
        ["redis", "amqp"].contains(&r["transport"].as_str().unwrap_or("")),
        "transport\n{run}"
    );
    let v = &r["verdict"];
    assert!(is_str(&v["code"]), "verdict.code\n{run}");
    assert!(
        severities.contains(&v["severity"].as_str().unwrap_or("")),
        "verdict.severity\n{run}"
    );
    assert!(is_str(&v["summary"]), "verdict.summary\n{run}");
    assert!(str_or_null(&v["remediation"]), "verdict.remediation\n{run}");

    let checks = r["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("checks\n{run}"));
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), checks.len(), "check without an id\n{run}");
    assert_eq!(unique.len(), ids.len(), "a check twice\n{run}");
    assert_eq!(
        unique,
        CHECK_IDS.iter().copied().collect::<BTreeSet<_>>(),
        "the checklist\n{run}"
    );
    for c in checks {
        assert!(
            ["pass", "warn", "fail", "skip"].contains(&c["status"].as_str().unwrap_or("")),
            "check status\n{run}"
        );
        assert!(is_str(&c["title"]), "check title\n{run}");
        assert!(
            c["evidence"]
                .as_array()
                .is_some_and(|e| e.iter().all(Value::is_string)),
            "check evidence\n{run}"
        );
        assert!(str_or_null(&c["remediation"]), "check remediation\n{run}");
    }

    let findings = r["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("findings\n{run}"));
    for f in findings {
        assert!(
            f["code"].as_str().is_some_and(
                |c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            ),
            "finding code\n{run}"
        );
        assert!(
            severities.contains(&f["severity"].as_str().unwrap_or("")),
            "finding severity\n{run}"
        );
        assert!(is_str(&f["summary"]), "finding summary\n{run}");
        assert!(f["evidence"].is_object(), "finding evidence\n{run}");
        assert!(is_str(&f["remediation"]), "finding remediation\n{run}");
        let check = f["check"].as_str().unwrap_or("");
        assert!(CHECK_IDS.contains(&check), "finding check\n{run}");
        let loc = &f["location"];
        assert!(is_str(&loc["broker"]), "finding location.broker\n{run}");
        assert!(
            str_or_null(&loc["queue"]) && str_or_null(&loc["worker"]),
            "finding location\n{run}"
        );
        assert!(
            f["score"].is_i64() || f["score"].is_u64(),
            "finding score\n{run}"
        );
        if f["severity"] != "info" {
            let status = run.check_status(check);
            assert!(
                status == "warn" || status == "fail",
                "check {check} says {status} but holds the {} finding {}\n{run}",
                f["severity"],
                f["code"]
            );
        }
    }
    let scores: Vec<i64> = findings
        .iter()
        .map(|f| f["score"].as_i64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "findings not sorted by score\n{run}"
    );
    if v["code"] == "HEALTHY" {
        assert!(
            findings.iter().all(|f| f["severity"] == "info"),
            "HEALTHY with an error or warning finding\n{run}"
        );
    } else {
        assert!(!findings.is_empty(), "a verdict without findings\n{run}");
        assert_eq!(
            findings[0]["code"], v["code"],
            "the verdict is not the top finding\n{run}"
        );
    }
    assert!(r["elapsed_ms"].is_u64(), "elapsed_ms\n{run}");
}

/// Asserts that a report known to describe a healthy system really says so.
fn expect_healthy(run: &Run) {
    run.expect(0, "HEALTHY");
    assert_eq!(run.report["verdict"]["severity"], "info", "{run}");
    for id in CHECK_IDS {
        let status = run.check_status(id);
        assert!(
            status == "pass" || status == "skip",
            "check {id} is {status} on a healthy system\n{run}"
        );
    }
    for id in ["broker", "workers", "routing"] {
        assert_eq!(run.check_status(id), "pass", "check {id}\n{run}");
    }
}

// -------------------------------------------------------------------------------------------
// Building the situations
// -------------------------------------------------------------------------------------------

/// Publishes `liveapp.slow(60)` to `celery`, and waits until the busy worker (see
/// [`busy_worker_env`]) holds it, unacked: kombu then fetches nothing more, so what is
/// published next stays in the list. Returns the task id.
fn occupy(redis: &RedisScope, env: &CeleryEnv<'_>, worker: &Worker<'_>) -> String {
    let id = publish(
        env,
        &[
            "--task",
            "liveapp.slow",
            "--args",
            &format!("[{BUSY_TASK_SECS}]"),
        ],
    )
    .remove(0);
    worker.wait_for_log(&format!("[{id}] received"), Duration::from_secs(15));
    wait_for_redis(redis, "the slow task is unacked, the queue empty", |c| {
        let (unacked, ready) = (
            hlen(c, &redis.key("unacked"))?,
            llen(c, &redis.key("celery"))?,
        );
        if (unacked, ready) == (1, 0) {
            Ok(())
        } else {
            Err(format!("unacked {unacked}, ready {ready}"))
        }
    });
    id
}

/// Late acks and prefetch 1: one running task fills the worker's only prefetch slot.
fn busy_worker_env<'a>(env: CeleryEnv<'a>) -> CeleryEnv<'a> {
    env.with(
        "CDT_CONF",
        &json!({"task_acks_late": true, "worker_prefetch_multiplier": 1}).to_string(),
    )
}

fn wait_for_redis<T>(
    redis: &RedisScope,
    what: &str,
    mut probe: impl FnMut(&mut redis::Connection) -> Result<T, String>,
) -> T {
    let mut con = redis.connection();
    wait_until(what, Duration::from_secs(15), || probe(&mut con))
}

fn llen(con: &mut redis::Connection, key: &str) -> Result<u64, String> {
    redis::cmd("LLEN")
        .arg(key)
        .query(con)
        .map_err(|e| e.to_string())
}

fn hlen(con: &mut redis::Connection, key: &str) -> Result<u64, String> {
    redis::cmd("HLEN")
        .arg(key)
        .query(con)
        .map_err(|e| e.to_string())
}

/// The worker's log as a file of its own (what `--logs` reads).
fn log_file(dir: &Path, worker: &Worker<'_>) -> PathBuf {
    let path = dir.join(format!("{}.log", worker.hostname().replace('@', "_")));
    std::fs::write(&path, worker.log()).unwrap();
    path
}

/// A fresh secret, so that finding it in the output can only mean it leaked.
fn secret() -> String {
    format!(
        "S3cret-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A Redis ACL user with a password (the local Redis has none), deleted when dropped.
struct RedisUser {
    name: String,
    password: String,
}

impl RedisUser {
    fn create() -> RedisUser {
        let user = RedisUser {
            name: format!(
                "cdt-user-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            password: secret(),
        };
        let mut con = redis::Client::open(format!("redis://{REDIS_ADDR}/0").as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(&user.name)
            .arg("on")
            .arg(format!(">{}", user.password))
            .arg("~*")
            .arg("&*")
            .arg("+@all")
            .query(&mut con)
            .unwrap();
        user
    }

    /// `redis://<user>:<password>@127.0.0.1:6379/<db>`.
    fn url(&self, redis: &RedisScope, password: &str) -> String {
        format!(
            "redis://{}:{password}@{REDIS_ADDR}/{}",
            self.name,
            redis.db()
        )
    }
}

impl Drop for RedisUser {
    fn drop(&mut self) {
        if let Ok(mut con) = redis::Client::open(format!("redis://{REDIS_ADDR}/0").as_str())
            .and_then(|c| c.get_connection())
        {
            let _: Result<i64, _> = redis::cmd("ACL")
                .arg("DELUSER")
                .arg(&self.name)
                .query(&mut con);
        }
    }
}

/// A RabbitMQ user with a password, full rights on the scope's vhost and the `monitoring`
/// tag (so the management API answers it); deleted when dropped.
struct RabbitUser<'a> {
    rabbit: &'a RabbitScope,
    name: String,
    password: String,
}

impl<'a> RabbitUser<'a> {
    fn create(rabbit: &'a RabbitScope) -> RabbitUser<'a> {
        let user = RabbitUser {
            rabbit,
            name: format!(
                "cdt-user-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            password: secret(),
        };
        let put = |path: String, body: Value| {
            let (code, text) = rabbit.api("PUT", &path, Some(&body.to_string()));
            assert!(
                (200..300).contains(&code),
                "PUT {path}: HTTP {code}: {text}"
            );
        };
        put(
            format!("/api/users/{}", pct(&user.name)),
            json!({"password": user.password, "tags": "monitoring"}),
        );
        put(
            format!("/api/permissions/{{vhost}}/{}", pct(&user.name)),
            json!({"configure": ".*", "write": ".*", "read": ".*"}),
        );
        user
    }

    fn url(&self) -> String {
        format!(
            "amqp://{}:{}@{AMQP_ADDR}/{}",
            self.name,
            self.password,
            pct(self.rabbit.vhost())
        )
    }
}

impl Drop for RabbitUser<'_> {
    fn drop(&mut self) {
        self.rabbit
            .api("DELETE", &format!("/api/users/{}", pct(&self.name)), None);
    }
}

/// A "broker" that accepts connections and never says a word.
struct HungBroker {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<usize>>,
}

impl HungBroker {
    fn start() -> HungBroker {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => {}
                }
            }
            held.len()
        });
        HungBroker {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops listening; returns how many connections it accepted.
    fn accepted(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for HungBroker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Every key of a [`SpareRedis`] but the `filler:*` ballast and the keys that an idle
/// worker or a broadcast may touch, with its type and contents.
fn spare_state(spare: &SpareRedis) -> BTreeMap<String, String> {
    let mut con = spare.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    let mut state = BTreeMap::new();
    for key in keys {
        if key.starts_with("filler:") || key == "_kombu.binding_deadlines" || key == "unacked_mutex"
        {
            continue;
        }
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con).unwrap();
        let value = match kind.as_str() {
            "list" => format!(
                "{:?}",
                redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query::<Vec<Vec<u8>>>(&mut con)
                    .unwrap()
            ),
            "hash" => format!(
                "{:?}",
                redis::cmd("HGETALL")
                    .arg(&key)
                    .query::<BTreeMap<Vec<u8>, Vec<u8>>>(&mut con)
                    .unwrap()
            ),
            "set" => format!(
                "{:?}",
                redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query::<BTreeSet<Vec<u8>>>(&mut con)
                    .unwrap()
            ),
            "zset" => format!(
                "{:?}",
                redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query::<Vec<Vec<u8>>>(&mut con)
                    .unwrap()
            ),
            "string" => format!(
                "{:?}",
                redis::cmd("GET")
                    .arg(&key)
                    .query::<Vec<u8>>(&mut con)
                    .unwrap()
            ),
            other => other.to_string(),
        };
        state.insert(key, format!("{kind} {value}"));
    }
    state
}

/// [`RabbitScope::wait_queue_counts`] without the mailbox queues, as [`rabbit_counts`] reads.
fn wait_rabbit_counts(
    rabbit: &RabbitScope,
    done: impl Fn(&BTreeMap<String, (u64, u64)>) -> bool,
) -> BTreeMap<String, (u64, u64)> {
    let mut counts = rabbit.wait_queue_counts(done);
    counts.retain(|name, _| !name.ends_with(".pidbox"));
    counts
}

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .to_string()
}

// -------------------------------------------------------------------------------------------
// Healthy
// -------------------------------------------------------------------------------------------

#[test]
fn diagnose_redis_healthy_is_exit_0_without_a_password_in_sight() {
    let redis = RedisScope::new();
    let user = RedisUser::create();
    let w1 = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
    let id = publish(&redis.env(), &["--task", "liveapp.add", "--args", "[2, 3]"]);
    w1.wait_for_log(&format!("[{}] succeeded", id[0]), Duration::from_secs(15));

    let url = user.url(&redis, &user.password);
    let opts = redis.transport_option_args();
    let before = redis_queue_state(&redis);
    let run = diagnose_url(&url, &opts, QUICK);
    assert_unchanged(&before, &redis_queue_state(&redis));
    expect_healthy(&run);
    run.assert_no_secret(&user.password);
    assert_eq!(run.report["transport"], "redis", "{run}");
    assert!(
        run.report["broker"].as_str().unwrap().contains(&user.name),
        "{run}"
    );
    assert!(
        run.elapsed < Duration::from_secs(5),
        "a healthy Redis took {:?}\n{run}",
        run.elapsed
    );

    // The same verdict in the other formats, and to a file with -o.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    for format in ["text", "markdown", "json"] {
        let mut args = vec!["diagnose", "--broker", &url];
        args.extend(opts.iter().map(String::as_str));
        args.extend_from_slice(QUICK);
        args.extend(["--format", format]);
        if format == "json" {
            args.extend(["-o", file.to_str().unwrap()]);
        }
        let out = celery_doctor(&args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{format}: {stdout}{stderr}");
        assert!(!stdout.contains(&user.password) && !stderr.contains(&user.password));
        if format != "json" {
            assert!(
                stdout.to_lowercase().contains("healthy"),
                "{format}:\n{stdout}"
            );
            assert!(!stdout.contains('\x1b'), "colours with NO_COLOR:\n{stdout}");
        }
    }
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(!written.contains(&user.password));
    let written: Value = serde_json::from_str(&written).unwrap();
    assert_eq!(written["verdict"]["code"], "HEALTHY");
}

#[test]
fn diagnose_rabbitmq_healthy_is_exit_0_without_a_password_in_sight() {
    let rabbit = RabbitScope::new();
    let user = RabbitUser::create(&rabbit);
    let r1 = Worker::start(&rabbit.env(), "r1@cdt", &["celery"], &[]);
    let id = publish(
        &rabbit.env(),
        &["--task", "liveapp.add", "--args", "[2, 3]"],
    );
    r1.wait_for_log(&format!("[{}] succeeded", id[0]), Duration::from_secs(15));
    let before = wait_rabbit_counts(&rabbit, |c| c.get("celery") == Some(&(0, 0)));

    let run = diagnose_url(&user.url(), &[], QUICK);
    expect_healthy(&run);
    run.assert_no_secret(&user.password);
    assert_eq!(run.report["transport"], "amqp", "{run}");
    assert_unchanged(&before, &rabbit_counts(&rabbit));
    assert!(
        run.elapsed < Duration::from_secs(5),
        "a healthy RabbitMQ took {:?}\n{run}",
        run.elapsed
    );
}

// -------------------------------------------------------------------------------------------
// Broker: unreachable, hung, refused credentials, memory, eviction
// -------------------------------------------------------------------------------------------

#[test]
fn diagnose_broker_unreachable_refused_unknown_host_and_hung() {
    let only_broker_checked = |run: &Run| {
        run.expect(2, "BROKER_UNREACHABLE");
        run.expect_check("BROKER_UNREACHABLE", &["broker"]);
        assert_eq!(run.check_status("broker"), "fail", "{run}");
        for id in ["workers", "routing", "serializers", "task_state"] {
            assert_eq!(run.check_status(id), "skip", "check {id}\n{run}");
        }
    };

    // Nothing listens: refused at once (for AMQP, the management API is not there either).
    let closed = spare_port();
    let no_management = vec![
        "--management-url".to_string(),
        format!("http://127.0.0.1:{closed}"),
    ];
    for (url, opts) in [
        (format!("redis://127.0.0.1:{closed}/0"), vec![]),
        (
            format!("amqp://guest:guest@127.0.0.1:{closed}//"),
            no_management,
        ),
        (
            "redis://cdt-no-such-host.invalid:6379/0".to_string(),
            vec![],
        ),
    ] {
        let run = diagnose_url(&url, &opts, QUICK);
        only_broker_checked(&run);
        assert!(run.elapsed < Duration::from_secs(5), "{run}");
    }

    // Accepts the connection and never answers: the budget still holds.
    for scheme in ["redis", "amqp"] {
        let hung = HungBroker::start();
        let url = match scheme {
            "redis" => format!("redis://127.0.0.1:{}/0", hung.port),
            _ => format!("amqp://guest:guest@127.0.0.1:{}//", hung.port),
        };
        let management = format!("http://127.0.0.1:{}", hung.port);
        let mut flags = vec!["--budget", "2", "--timeout", "0.5"];
        if scheme == "amqp" {
            flags.extend(["--management-url", management.as_str()]);
        }
        let run = diagnose_url(&url, &[], &flags);
        assert!(
            run.elapsed < Duration::from_secs(3),
            "a hung {scheme} broker kept diagnose --budget 2 busy for {:?}\n{run}",
            run.elapsed
        );
        assert!(
            hung.accepted() >= 1,
            "diagnose never connected to the hung {scheme} broker"
        );
        only_broker_checked(&run);
        assert!(run.report["elapsed_ms"].as_u64().unwrap() <= 3000, "{run}");
    }

    // Bad arguments are exit 2 too.
    let url = format!("redis://127.0.0.1:{closed}/0");
    for bad in [
        &["--format", "yaml"][..],
        &["--budget", "0"],
        &["--timeout", "-1"],
    ] {
        let mut args = vec!["diagnose", "--broker", url.as_str()];
        args.extend_from_slice(bad);
        let out = celery_doctor(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
    }
}

#[test]
fn diagnose_redis_wrong_password_is_auth_failed_without_the_password() {
    let redis = RedisScope::new();
    let user = RedisUser::create();
    let wrong = secret();
    let _w = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
    for url in [
        // A user that exists, the wrong password.
        user.url(&redis, &wrong),
        // The default user, which has no password at all.
        format!("redis://:{wrong}@{REDIS_ADDR}/{}", redis.db()),
    ] {
        let run = diagnose_url(&url, &redis.transport_option_args(), QUICK);
        run.expect(2, "BROKER_AUTH_FAILED");
        run.expect_check("BROKER_AUTH_FAILED", &["broker"]);
        run.assert_no_secret(&wrong);
        run.assert_no_secret(&user.password);
        assert_eq!(run.check_status("broker"), "fail", "{run}");
    }
}

#[test]
fn diagnose_rabbitmq_wrong_password_and_missing_vhost_are_auth_failed() {
    let rabbit = RabbitScope::new();
    let wrong = secret();
    for url in [
        format!("amqp://guest:{wrong}@{AMQP_ADDR}/{}", pct(rabbit.vhost())),
        format!("amqp://guest:{wrong}@{AMQP_ADDR}/cdt-no-such-vhost"),
        format!("amqp://guest:guest@{AMQP_ADDR}/cdt-no-such-vhost"),
    ] {
        let run = diagnose_url(&url, &[], QUICK);
        run.expect(2, "BROKER_AUTH_FAILED");
        run.expect_check("BROKER_AUTH_FAILED", &["broker"]);
        run.assert_no_secret(&wrong);
    }
}

#[test]
fn diagnose_redis_eviction_policy_that_can_drop_queues() {
    let spare = SpareRedis::start(&["--maxmemory-policy", "allkeys-lru", "--maxmemory", "64mb"]);
    let w1 = Worker::start(&spare.env(), "w1@cdt", &["celery"], &[]);
    let id = publish(&spare.env(), &["--task", "liveapp.add", "--args", "[1, 2]"]);
    w1.wait_for_log(&format!("[{}] succeeded", id[0]), Duration::from_secs(15));

    let before = spare_state(&spare);
    let run = diagnose(&spare, &[]);
    assert_unchanged(&before, &spare_state(&spare));
    run.expect(1, "BROKER_EVICTION_POLICY");
    run.expect_check("BROKER_EVICTION_POLICY", &["broker"]);
    assert!(
        run.finding("BROKER_EVICTION_POLICY")
            .to_string()
            .contains("allkeys-lru"),
        "the finding does not name the policy\n{run}"
    );
    // 64 MB with ~1 MB used is no memory pressure.
    assert!(run.all("BROKER_MEMORY_PRESSURE").is_empty(), "{run}");
}

#[test]
fn diagnose_redis_memory_pressure_near_maxmemory() {
    let spare = SpareRedis::start(&[]);
    let w1 = Worker::start(&spare.env(), "w1@cdt", &["celery"], &[]);
    let id = publish(&spare.env(), &["--task", "liveapp.add", "--args", "[1, 2]"]);
    w1.wait_for_log(&format!("[{}] succeeded", id[0]), Duration::from_secs(15));
    // About 50 MB of ballast, then maxmemory so that it is 93 % full (noeviction, the default:
    // writes still succeed, with ~3.5 MB to go before Redis refuses them).
    let mut con = spare.connection();
    for i in 0..48 {
        let _: u64 = redis::cmd("SETRANGE")
            .arg(format!("filler:{i}"))
            .arg(1024 * 1024 - 1)
            .arg("x")
            .query(&mut con)
            .unwrap();
    }
    let used: u64 = info_field(&mut con, "memory", "used_memory")
        .parse()
        .unwrap();
    let max = used * 100 / 93;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(max)
        .query(&mut con)
        .unwrap();
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory_policy"),
        "noeviction"
    );

    let before = spare_state(&spare);
    let run = diagnose(&spare, &[]);
    assert_unchanged(&before, &spare_state(&spare));
    let used: u64 = info_field(&mut con, "memory", "used_memory")
        .parse()
        .unwrap();
    assert!(
        used * 100 >= max * 90 && used < max,
        "the scenario drifted: {used} of {max}"
    );
    run.expect(1, "BROKER_MEMORY_PRESSURE");
    run.expect_check("BROKER_MEMORY_PRESSURE", &["broker", "resources"]);
    assert!(
        run.all("BROKER_EVICTION_POLICY").is_empty(),
        "noeviction is the safe policy\n{run}"
    );
}

// -------------------------------------------------------------------------------------------
// Workers and routing
// -------------------------------------------------------------------------------------------

#[test]
fn diagnose_redis_no_workers_at_all() {
    let redis = RedisScope::new();
    publish(
        &redis.env(),
        &["--task", "liveapp.add", "--args", "[1, 2]", "--count", "2"],
    );
    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &[]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    // The backlog in `celery` is real too, but the cause is that nothing runs at all.
    run.expect(1, "NO_WORKERS");
    run.expect_check("NO_WORKERS", &["workers"]);
    assert_eq!(run.check_status("workers"), "fail", "{run}");
    // Redis says how many mailboxes heard the ping (none): no waiting out the timeout.
    assert!(run.elapsed < Duration::from_secs(5), "{run}");
}

#[test]
fn diagnose_rabbitmq_no_workers_at_all() {
    let rabbit = RabbitScope::new();
    publish(
        &rabbit.env(),
        &["--task", "liveapp.add", "--args", "[1, 2]", "--count", "2"],
    );
    let before = wait_rabbit_counts(&rabbit, |c| c.get("celery") == Some(&(2, 0)));
    let run = diagnose(&rabbit, &[]);
    assert_unchanged(&before, &rabbit_counts(&rabbit));
    run.expect(1, "NO_WORKERS");
    run.expect_check("NO_WORKERS", &["workers"]);
}

#[test]
fn diagnose_redis_queue_without_consumers() {
    let redis = RedisScope::new();
    let _w1 = Worker::start(&redis.env(), "w1@cdt", &["celery", "emails"], &[]);
    publish(
        &redis.env(),
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--queue",
            "parked",
            "--count",
            "3",
        ],
    );
    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &[]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "QUEUE_NO_CONSUMERS");
    let f = run.finding("QUEUE_NO_CONSUMERS");
    assert_eq!(f["location"]["queue"], "parked", "{run}");
    assert_eq!(
        run.all("QUEUE_NO_CONSUMERS").len(),
        1,
        "only parked lacks a consumer\n{run}"
    );
    assert!(
        run.report["verdict"]["summary"]
            .as_str()
            .unwrap()
            .contains("parked"),
        "{run}"
    );
    assert!(
        f["remediation"].as_str().unwrap().contains("parked"),
        "{run}"
    );
    assert!(run.all("NO_WORKERS").is_empty(), "{run}");

    // The text checklist leads with the same verdict.
    let mut args = vec!["diagnose".to_string(), "--broker".into(), redis.url()];
    args.extend(redis.transport_option_args());
    args.extend(QUICK.iter().map(|s| s.to_string()));
    let out = celery_doctor(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{t}{}", text(&out.stderr));
    assert!(t.contains("parked"), "{t}");
    assert_unchanged(&before, &redis_queue_state(&redis));
}

#[test]
fn diagnose_rabbitmq_queue_without_consumers() {
    let rabbit = RabbitScope::new();
    let _r1 = Worker::start(&rabbit.env(), "r1@cdt", &["celery"], &[]);
    publish(
        &rabbit.env(),
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--queue",
            "parked",
            "--count",
            "3",
        ],
    );
    let before = wait_rabbit_counts(&rabbit, |c| c.get("parked") == Some(&(3, 0)));
    let run = diagnose(&rabbit, &[]);
    run.expect(1, "QUEUE_NO_CONSUMERS");
    assert_eq!(
        run.finding("QUEUE_NO_CONSUMERS")["location"]["queue"],
        "parked",
        "{run}"
    );
    assert_eq!(run.all("QUEUE_NO_CONSUMERS").len(), 1, "{run}");
    assert!(run.all("NO_WORKERS").is_empty(), "{run}");
    // Nothing was consumed or requeued.
    rabbit.wait_queue_counts(|c| c.get("parked") == Some(&(3, 0)));
    assert_unchanged(&before, &rabbit_counts(&rabbit));
}

#[test]
fn diagnose_app_path_routes_to_queues_no_worker_consumes_json_and_sarif() {
    let redis = RedisScope::new();
    let _w1 = Worker::start(&redis.env(), "w1@cdt", &["celery", "emails"], &[]);
    let project = tempfile::tempdir().unwrap();
    // The route to `invoices` sits on line 4; `emails` is routed and consumed.
    std::fs::write(
        project.path().join("celeryconfig.py"),
        "# Settings of the billing project.\ntask_default_queue = \"celery\"\ntask_routes = {\n    \"billing.*\": {\"queue\": \"invoices\"},\n    \"mail.*\": {\"queue\": \"emails\"},\n}\n",
    )
    .unwrap();
    std::fs::write(
        project.path().join("app.py"),
        "from celery import Celery\n\napp = Celery(\"billing\")\napp.config_from_object(\"celeryconfig\")\n\n\n@app.task(name=\"reports.build\", queue=\"reports\")\ndef build(report_id):\n    return report_id\n\n\n@app.task(name=\"billing.charge\")\ndef charge(amount):\n    return amount\n",
    )
    .unwrap();
    let dir = project.path().to_str().unwrap();

    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &["--app-path", dir]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "WORKER_NOT_CONSUMING_QUEUE");
    run.expect_check("WORKER_NOT_CONSUMING_QUEUE", &["routing"]);
    let queues: BTreeSet<&str> = run
        .all("WORKER_NOT_CONSUMING_QUEUE")
        .iter()
        .map(|f| f["location"]["queue"].as_str().unwrap_or("<none>"))
        .collect();
    assert_eq!(queues, BTreeSet::from(["invoices", "reports"]), "{run}");
    // Empty queues: nothing is stuck yet, so no queue is reported as holding messages.
    assert!(run.all("QUEUE_NO_CONSUMERS").is_empty(), "{run}");

    // Without the project, nothing is wrong.
    expect_healthy(&diagnose(&redis, &[]));

    // SARIF: the finding points at the route in the project file.
    let mut args = vec!["diagnose".to_string(), "--broker".into(), redis.url()];
    args.extend(redis.transport_option_args());
    args.extend(QUICK.iter().map(|s| s.to_string()));
    args.extend([
        "--app-path".into(),
        dir.into(),
        "--format".into(),
        "sarif".into(),
    ]);
    let out = celery_doctor(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let sarif: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("SARIF is not JSON ({e}): {stdout}"));
    // scripts/test.sh validates this file with the SARIF schema and Sarif.Multitool.
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("diagnose.sarif"),
        &stdout,
    )
    .unwrap();
    assert_eq!(sarif["version"], "2.1.0", "{sarif:#}");
    let results = sarif["runs"][0]["results"]
        .as_array()
        .expect("runs[0].results");
    // Every mismatch at once, so that one failure shows them all.
    let mut wrong = Vec::new();
    let result_in = |file: &str| {
        results.iter().find(|r| {
            r["ruleId"] == "WORKER_NOT_CONSUMING_QUEUE"
                && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .is_some_and(|u| u == file || u.ends_with(&format!("/{file}")))
        })
    };
    let line = |r: &Value| r["locations"][0]["physicalLocation"]["region"]["startLine"].clone();
    match result_in("celeryconfig.py") {
        None => wrong.push("no result in celeryconfig.py".to_string()),
        Some(route) => {
            // The line of the route `"billing.*": {"queue": "invoices"}`.
            if line(route) != 4 {
                wrong.push(format!(
                    "the route to invoices is on line 4, not {}",
                    line(route)
                ));
            }
            if !route["message"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("invoices"))
            {
                wrong.push("the message does not name invoices".to_string());
            }
        }
    }
    match result_in("app.py") {
        None => wrong.push("no result in app.py".to_string()),
        // The decorator with `queue="reports"` (line 7), or the function it decorates.
        Some(option) if line(option) != 7 && line(option) != 8 => wrong.push(format!(
            "the queue=\"reports\" option is on line 7, not {}",
            line(option)
        )),
        Some(_) => {}
    }
    assert!(wrong.is_empty(), "SARIF: {}\n{sarif:#}", wrong.join("; "));
}

#[test]
fn diagnose_redis_prefetch_starvation_behind_a_long_task() {
    let redis = RedisScope::new();
    // w1: one thread, prefetch 4 (Celery's default multiplier). It runs the first slow task
    // and holds the next four in its prefetch buffer.
    let w1 = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
    let ids = publish(
        &redis.env(),
        &[
            "--task",
            "liveapp.slow",
            "--args",
            &format!("[{BUSY_TASK_SECS}]"),
            "--count",
            "5",
        ],
    );
    w1.wait_for_log(&format!("[{}] received", ids[4]), Duration::from_secs(15));
    wait_for_redis(
        &redis,
        "w1 holds 4 reserved tasks, the queue is empty",
        |c| {
            let (unacked, ready) = (
                hlen(c, &redis.key("unacked"))?,
                llen(c, &redis.key("celery"))?,
            );
            if (unacked, ready) == (4, 0) {
                Ok(())
            } else {
                Err(format!("unacked {unacked}, ready {ready}"))
            }
        },
    );
    // diagnose ignores tasks running under a second (normal prefetch churn): let the first
    // one run that long. The condition is elapsed time itself, so sleep.
    std::thread::sleep(Duration::from_millis(1200));
    // Alone, w1 starves nobody: no other worker has a free slot.
    let alone = diagnose(&redis, &[]);
    assert!(alone.all("PREFETCH_STARVATION").is_empty(), "{alone}");
    // w2 consumes the same queue and has nothing to do.
    let _w2 = Worker::start(&redis.env(), "w2@cdt", &["celery"], &[]);

    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &[]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "PREFETCH_STARVATION");
    run.expect_check("PREFETCH_STARVATION", &["workers", "resources"]);
    let f = run.finding("PREFETCH_STARVATION");
    assert_eq!(f["location"]["worker"], "w1@cdt", "{run}");
    let all = f.to_string();
    assert!(
        all.contains("w2@cdt"),
        "the idle worker is not named\n{run}"
    );
    w1.kill();
}

// -------------------------------------------------------------------------------------------
// Messages nobody can run: unregistered tasks, refused serializers
// -------------------------------------------------------------------------------------------

#[test]
fn diagnose_redis_unregistered_task_waiting_in_the_queue() {
    let redis = RedisScope::new();
    let env = busy_worker_env(redis.env());
    let w1 = Worker::start(&env, "w1@cdt", &["celery"], &[]);
    occupy(&redis, &env, &w1);
    publish(
        &env,
        &["--task", "nosuch.task", "--args", "[1]", "--count", "2"],
    );
    publish(&env, &["--task", "liveapp.add", "--args", "[1, 2]"]);
    assert_eq!(llen(&mut redis.connection(), &redis.key("celery")), Ok(3));

    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &[]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "UNREGISTERED_TASK");
    let f = run.finding("UNREGISTERED_TASK");
    assert_eq!(f["location"]["queue"], "celery", "{run}");
    assert!(
        f.to_string().contains("nosuch.task"),
        "the task is not named\n{run}"
    );
    assert!(run.all("QUEUE_NO_CONSUMERS").is_empty(), "{run}");
    w1.kill();
}

#[test]
fn diagnose_redis_unregistered_task_in_the_worker_log() {
    let redis = RedisScope::new();
    let w1 = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
    publish(&redis.env(), &["--task", "nosuch.task", "--args", "[1]"]);
    w1.wait_for_log(
        "Received unregistered task of type 'nosuch.task'",
        Duration::from_secs(15),
    );
    // The worker discarded the message: only its log remembers.
    assert_eq!(llen(&mut redis.connection(), &redis.key("celery")), Ok(0));
    let dir = tempfile::tempdir().unwrap();
    let log = log_file(dir.path(), &w1);

    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &["--logs", log.to_str().unwrap()]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "UNREGISTERED_TASK");
    run.expect_check("UNREGISTERED_TASK", &["logs"]);
    assert!(
        run.finding("UNREGISTERED_TASK")
            .to_string()
            .contains("nosuch.task"),
        "{run}"
    );
    // Without the log, the broker alone looks fine.
    expect_healthy(&diagnose(&redis, &[]));
}

#[test]
fn diagnose_redis_serializer_mismatch_waiting_in_the_queue() {
    let redis = RedisScope::new();
    // Workers accept JSON only; a publisher sends msgpack.
    let env = busy_worker_env(redis.env()).with("CDT_ACCEPT", "json");
    let w1 = Worker::start(&env, "w1@cdt", &["celery"], &[]);
    occupy(&redis, &env, &w1);
    publish(
        &env,
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--serializer",
            "msgpack",
            "--count",
            "2",
        ],
    );
    assert_eq!(llen(&mut redis.connection(), &redis.key("celery")), Ok(2));

    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &[]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "SERIALIZER_MISMATCH");
    run.expect_check("SERIALIZER_MISMATCH", &["serializers"]);
    let f = run.finding("SERIALIZER_MISMATCH");
    assert_eq!(f["location"]["queue"], "celery", "{run}");
    assert!(
        f.to_string().contains("msgpack"),
        "the content type is not named\n{run}"
    );
    assert!(run.all("UNREGISTERED_TASK").is_empty(), "{run}");
    w1.kill();
}

#[test]
fn diagnose_redis_serializer_mismatch_in_the_worker_log() {
    let redis = RedisScope::new();
    let env = redis.env().with("CDT_ACCEPT", "json");
    let w1 = Worker::start(&env, "w1@cdt", &["celery"], &[]);
    publish(
        &env,
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--serializer",
            "pickle",
        ],
    );
    w1.wait_for_log("ContentDisallowed", Duration::from_secs(15));
    assert_eq!(llen(&mut redis.connection(), &redis.key("celery")), Ok(0));
    let dir = tempfile::tempdir().unwrap();
    let log = log_file(dir.path(), &w1);

    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &["--logs", log.to_str().unwrap()]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "SERIALIZER_MISMATCH");
    run.expect_check("SERIALIZER_MISMATCH", &["logs", "serializers"]);
    assert!(run.all("UNREGISTERED_TASK").is_empty(), "{run}");
}

// -------------------------------------------------------------------------------------------
// Task state: unacked backlog, far ETAs, retries
// -------------------------------------------------------------------------------------------

#[test]
fn diagnose_redis_unacked_older_than_the_visibility_timeout() {
    let redis = RedisScope::new();
    // A visibility timeout shorter than the tasks: late acks keep the running task unacked,
    // and it and the reserved one outlive 2 s (kombu would redeliver them: run twice).
    let conf = json!({"task_acks_late": true, "broker_transport_options": {"visibility_timeout": 2, "unacked_restore_interval": 3600}});
    let env = redis.env().with("CDT_CONF", &conf.to_string());
    let w1 = Worker::start(&env, "w1@cdt", &["celery"], &[]);
    let ids = publish(
        &env,
        &[
            "--task",
            "liveapp.slow",
            "--args",
            &format!("[{BUSY_TASK_SECS}]"),
            "--count",
            "2",
        ],
    );
    w1.wait_for_log(&format!("[{}] received", ids[1]), Duration::from_secs(15));
    wait_for_redis(
        &redis,
        "both deliveries older than the visibility timeout",
        |c| {
            let delivered: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(redis.key("unacked_index"))
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(c)
                .map_err(|e| e.to_string())?;
            let (secs, micros): (u64, u64) =
                redis::cmd("TIME").query(c).map_err(|e| e.to_string())?;
            let now = secs as f64 + micros as f64 / 1e6;
            let newest = delivered.iter().map(|(_, t)| *t).fold(0.0, f64::max);
            if delivered.len() == 2 && now - newest > 2.5 {
                Ok(())
            } else {
                Err(format!("{delivered:?} at {now}"))
            }
        },
    );

    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &["--transport-option", "visibility_timeout=2"]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "UNACKED_BACKLOG");
    run.expect_check("UNACKED_BACKLOG", &["task_state"]);

    // With Redis' default visibility timeout (an hour) the same entries are young.
    let relaxed = diagnose(&redis, &[]);
    assert!(relaxed.all("UNACKED_BACKLOG").is_empty(), "{relaxed}");
    w1.kill();
}

#[test]
fn diagnose_redis_eta_beyond_the_visibility_timeout() {
    let redis = RedisScope::new();
    let _w1 = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
    // Two hours ahead with the default visibility timeout of one: redelivered, run twice.
    publish(
        &redis.env(),
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--countdown",
            "7200",
        ],
    );
    wait_for_redis(&redis, "the worker holds the ETA task", |c| {
        let (unacked, ready) = (
            hlen(c, &redis.key("unacked"))?,
            llen(c, &redis.key("celery"))?,
        );
        if (unacked, ready) == (1, 0) {
            Ok(())
        } else {
            Err(format!("unacked {unacked}, ready {ready}"))
        }
    });

    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &[]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "ETA_BEYOND_VISIBILITY_TIMEOUT");
    run.expect_check("ETA_BEYOND_VISIBILITY_TIMEOUT", &["task_state"]);
    assert!(
        run.all("UNACKED_BACKLOG").is_empty(),
        "a fresh delivery\n{run}"
    );

    // A visibility timeout beyond the ETA: nothing to report.
    let long = diagnose(&redis, &["--transport-option", "visibility_timeout=10800"]);
    assert!(
        long.all("ETA_BEYOND_VISIBILITY_TIMEOUT").is_empty(),
        "{long}"
    );
}

#[test]
fn diagnose_redis_high_retry_count_in_queued_messages() {
    let redis = RedisScope::new();
    let env = busy_worker_env(redis.env());
    let w1 = Worker::start(&env, "w1@cdt", &["celery"], &[]);
    occupy(&redis, &env, &w1);
    // One retry is normal: nothing to report.
    publish(
        &env,
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--retries",
            "1",
        ],
    );
    let once = diagnose(&redis, &[]);
    assert!(once.all("HIGH_RETRY_COUNT").is_empty(), "{once}");
    // Three messages that were retried five times each.
    publish(
        &env,
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--retries",
            "5",
            "--count",
            "3",
        ],
    );
    assert_eq!(llen(&mut redis.connection(), &redis.key("celery")), Ok(4));

    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &[]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "HIGH_RETRY_COUNT");
    run.expect_check("HIGH_RETRY_COUNT", &["task_state"]);
    assert_eq!(
        run.finding("HIGH_RETRY_COUNT")["location"]["queue"],
        "celery",
        "{run}"
    );
    w1.kill();
}

// -------------------------------------------------------------------------------------------
// Result backend
// -------------------------------------------------------------------------------------------

#[test]
fn diagnose_result_backend_unreachable_and_hung() {
    let redis = RedisScope::new();
    let _w1 = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
    // Nothing listens there; the URL carries a password that must not be printed.
    let password = secret();
    let closed = format!("redis://:{password}@127.0.0.1:{}/0", spare_port());
    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &["--backend", &closed]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "RESULT_BACKEND_UNREACHABLE");
    run.assert_no_secret(&password);
    run.expect_check("RESULT_BACKEND_UNREACHABLE", &["result_backend"]);
    assert_eq!(run.check_status("result_backend"), "fail", "{run}");
    // The broker side is fine.
    assert_eq!(run.check_status("broker"), "pass", "{run}");

    let hung = HungBroker::start();
    let url = format!("redis://127.0.0.1:{}/0", hung.port);
    let flags = [
        "--budget",
        "2",
        "--timeout",
        "0.5",
        "--backend",
        url.as_str(),
    ];
    let run = diagnose_url(&redis.url(), &redis.transport_option_args(), &flags);
    assert!(
        run.elapsed < Duration::from_secs(3),
        "a hung backend kept diagnose --budget 2 busy for {:?}\n{run}",
        run.elapsed
    );
    assert!(
        hung.accepted() >= 1,
        "diagnose never connected to the hung backend"
    );
    run.expect(1, "RESULT_BACKEND_UNREACHABLE");
    assert_eq!(run.check_status("broker"), "pass", "{run}");
}

#[test]
fn diagnose_result_keys_without_ttl() {
    // Broker and backend on one DB without prefix, as most deployments have them.
    let redis = RedisScope::exclusive_db();
    let env = redis
        .env()
        .with("CDT_BACKEND", &redis.url())
        .with("CDT_CONF", r#"{"result_expires": null}"#);
    let w1 = Worker::start(&env, "w1@cdt", &["celery"], &[]);
    let ids = publish(
        &env,
        &["--task", "liveapp.add", "--args", "[1, 2]", "--count", "3"],
    );
    for id in &ids {
        w1.wait_for_log(&format!("[{id}] succeeded"), Duration::from_secs(15));
    }
    let mut con = redis.connection();
    for id in &ids {
        let key = format!("celery-task-meta-{id}");
        let ttl = wait_until(
            "the result is stored",
            Duration::from_secs(10),
            || match redis::cmd("TTL").arg(&key).query::<i64>(&mut con) {
                Ok(-2) => Err("no key yet".to_string()),
                Ok(ttl) => Ok(ttl),
                Err(e) => Err(e.to_string()),
            },
        );
        assert_eq!(ttl, -1, "{key} expires: result_expires=None did not apply");
    }

    let before = redis_queue_state(&redis);
    let run = diagnose(&redis, &["--backend", &redis.url()]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    run.expect(1, "RESULT_KEYS_WITHOUT_TTL");
    run.expect_check("RESULT_KEYS_WITHOUT_TTL", &["result_backend"]);
    assert!(run.all("RESULT_BACKEND_UNREACHABLE").is_empty(), "{run}");
}

#[test]
fn diagnose_worker_log_with_a_hard_time_limit() {
    let redis = RedisScope::new();
    // Time limits need the prefork pool; Celery kills the pool process at the hard limit.
    let env = redis.env().with("CDT_CONF", r#"{"task_time_limit": 1}"#);
    let w1 = Worker::start(&env, "w1@cdt", &["celery"], &["-P", "prefork", "-c", "1"]);
    publish(&env, &["--task", "liveapp.slow", "--args", "[30]"]);
    w1.wait_for_log("Hard time limit (1", Duration::from_secs(20));
    w1.wait_for_log("signal 9 (SIGKILL)", Duration::from_secs(20));
    let dir = tempfile::tempdir().unwrap();
    let log = log_file(dir.path(), &w1);

    let run = diagnose(&redis, &["--logs", log.to_str().unwrap()]);
    run.expect(1, "TIME_LIMIT_EXCEEDED");
    run.expect_check("TIME_LIMIT_EXCEEDED", &["logs"]);
    // Celery's own SIGKILL at the hard limit is not an out-of-memory kill.
    assert!(run.all("WORKER_PROCESSES_KILLED").is_empty(), "{run}");
    assert!(
        run.finding("TIME_LIMIT_EXCEEDED")
            .to_string()
            .contains("liveapp.slow"),
        "{run}"
    );
    // Without the log, nothing on the broker shows it.
    expect_healthy(&diagnose(&redis, &[]));
}

#[test]
fn diagnose_redis_connections_nearly_exhausted() {
    let spare = SpareRedis::start(&["--maxclients", "20"]);
    let _w1 = Worker::start(&spare.env(), "w1@cdt", &["celery"], &[]);
    // Idle clients count toward maxclients as soon as they connect.
    let addr = spare.url();
    let hostport = addr
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    // Fill up to 17 of 20 (85 %), leaving room for diagnose's own connection.
    let mut con = redis::Client::open(addr.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut held = Vec::new();
    while info_field(&mut con, "clients", "connected_clients")
        .parse::<u64>()
        .unwrap()
        < 17
    {
        held.push(std::net::TcpStream::connect(&hostport).unwrap());
        assert!(held.len() < 20, "cannot fill the client slots");
    }
    let run = diagnose(&spare, &[]);
    run.expect(1, "BROKER_CONNECTIONS_EXHAUSTED");
    run.expect_check("BROKER_CONNECTIONS_EXHAUSTED", &["resources"]);
    drop(held);
}

#[test]
fn diagnose_worker_log_with_a_pool_process_killed_like_the_oom_killer_does() {
    let redis = RedisScope::new();
    let w1 = Worker::start(
        &redis.env(),
        "w1@cdt",
        &["celery"],
        &["-P", "prefork", "-c", "1"],
    );
    let id = publish(&redis.env(), &["--task", "liveapp.slow", "--args", "[30]"]);
    w1.wait_for_log(&format!("[{}] received", id[0]), Duration::from_secs(15));
    // The pool process that runs the task: the worker's only child.
    let child = wait_until("the pool process", Duration::from_secs(10), || {
        let out = std::process::Command::new("pgrep")
            .args(["-P", &w1.pid().to_string()])
            .output()
            .map_err(|e| e.to_string())?;
        let pids: Vec<String> = text(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        match pids.as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!("children: {other:?}")),
        }
    });
    let killed = std::process::Command::new("kill")
        .args(["-9", &child])
        .status()
        .unwrap();
    assert!(killed.success());
    w1.wait_for_log("WorkerLostError", Duration::from_secs(15));
    let dir = tempfile::tempdir().unwrap();
    let log = log_file(dir.path(), &w1);

    let run = diagnose(&redis, &["--logs", log.to_str().unwrap()]);
    run.expect(1, "WORKER_PROCESSES_KILLED");
    run.expect_check("WORKER_PROCESSES_KILLED", &["logs"]);
    assert!(
        run.finding("WORKER_PROCESSES_KILLED")
            .to_string()
            .contains("SIGKILL"),
        "{run}"
    );
}

#[test]
fn diagnose_a_broker_that_stops_taking_writes_is_incomplete_not_healthy() {
    // A Redis that pauses writes (as during a failover: `CLIENT PAUSE … WRITE`) still answers
    // reads, but the mailbox broadcast (SADD, PUBLISH) blocks: the workers step cannot look.
    let spare = SpareRedis::start(&[]);
    let _w1 = Worker::start(&spare.env(), "w1@cdt", &["celery"], &[]);
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(8000)
        .arg("WRITE")
        .query(&mut spare.connection())
        .unwrap();
    let started = Instant::now();
    let run = diagnose_url(&spare.url(), &[], &["--budget", "2", "--timeout", "0.5"]);
    assert!(started.elapsed() < Duration::from_secs(5), "{run}");
    run.expect(1, "DIAGNOSIS_INCOMPLETE");
    let workers = run.report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "workers")
        .unwrap();
    assert_eq!(workers["status"], "warn", "{run}");
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut spare.connection())
        .unwrap();
}
