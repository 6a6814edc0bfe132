//! Harness for the live integration tests: isolated broker scopes on the local Redis and
//! RabbitMQ, real Celery workers (`tests/live/py/liveapp.py`), real task publishing
//! (`tests/live/py/publish.py`), the `celery` CLI, and the `celery-doctor` binary, each
//! under a timeout.
//!
//! * Isolation. A [`RedisScope`] owns a unique key prefix (kombu's `global_keyprefix`, which
//!   kombu also puts in front of every pub/sub channel, so workers of different scopes never
//!   hear each other's broadcasts) on a shared DB, or a whole DB with no prefix
//!   ([`RedisScope::exclusive_db`]). A [`RabbitScope`] owns a fresh vhost. Tests can run in
//!   parallel processes (nextest) and in any order.
//! * Cleanup happens in `Drop`, so also when a test panics. A [`Worker`] borrows its scope
//!   (through [`CeleryEnv`]), so the compiler makes sure workers stop before their scope is
//!   deleted. If the test process is killed outright (Ctrl-C, a timeout: no unwinding), its
//!   workers notice their parent is gone and shut down by themselves, and its scopes are
//!   deleted by the next test process that starts one ([`sweep_dead_leases`]).
//! * The Python side is configured only through `CDT_*` environment variables, see the
//!   docstring of `liveapp.py`. The interpreter is `$CELERY_DOCTOR_PYTHON`, or else
//!   `<repo>/.venv/bin/python` (`bash scripts/test.sh` creates it).
//!
//! ```ignore
//! let redis = RedisScope::new();
//! let w1 = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
//! let ids = publish(&redis.env(), &["--task", "liveapp.add", "--args", "[1, 2]"]);
//! w1.wait_for_log(&format!("[{}] succeeded", ids[0]), Duration::from_secs(10));
//! ```
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

/// Redis server used by every [`RedisScope`].
pub const REDIS_ADDR: &str = "127.0.0.1:6379";
/// RabbitMQ AMQP listener used by every [`RabbitScope`].
pub const AMQP_ADDR: &str = "127.0.0.1:5672";
/// RabbitMQ management API (plugin `rabbitmq_management`), without credentials.
pub const MANAGEMENT_URL: &str = "http://127.0.0.1:15672";
pub const RABBIT_USER: &str = "guest";
pub const RABBIT_PASSWORD: &str = "guest";

/// How long [`Worker::start`] waits for the worker to log `<hostname> ready.`.
pub const WORKER_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`celery_doctor`] may run before it is killed and the test fails.
pub const CELERY_DOCTOR_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `publish.py` and the `celery` CLI may run.
pub const PYTHON_TIMEOUT: Duration = Duration::from_secs(60);

/// DBs handed out by [`RedisScope::new`] (prefixed, shared between scopes).
const SHARED_DBS: std::ops::RangeInclusive<u8> = 1..=11;
/// DBs handed out by [`RedisScope::exclusive_db`] (one scope at a time, no prefix).
const EXCLUSIVE_DBS: std::ops::RangeInclusive<u8> = 12..=15;
/// Environment variables that would override liveapp's broker or config if inherited.
const CELERY_ENV_OVERRIDES: &[&str] = &[
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
    "CELERY_CONFIG_MODULE",
];

// ---------------------------------------------------------------------------------------
// Paths and processes
// ---------------------------------------------------------------------------------------

/// The repository root (the crate's manifest directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/live/py`: `liveapp.py` and `publish.py`.
pub fn py_dir() -> PathBuf {
    repo_root().join("tests/live/py")
}

/// The Python interpreter with Celery 5.7: `$CELERY_DOCTOR_PYTHON`, else `<repo>/.venv/bin/python`.
pub fn python() -> PathBuf {
    match std::env::var_os("CELERY_DOCTOR_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_root().join(".venv/bin/python"),
    }
}

fn python_command() -> Command {
    let py = python();
    assert!(
        py.exists(),
        "no Python interpreter at {}: set CELERY_DOCTOR_PYTHON, or create the venv with \
         `bash scripts/test.sh` (needs celery[redis,msgpack,yaml]==5.7.*)",
        py.display()
    );
    let mut cmd = Command::new(py);
    cmd.current_dir(std::env::temp_dir());
    cmd
}

/// Polls `probe` every 20 ms until it returns `Ok`, and panics after `timeout`, quoting the
/// last `Err` (a description of the state seen, for the failure message).
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Runs `cmd` (stdin closed, stdout and stderr captured). If it is still running after
/// `timeout`, kills it and panics with everything it printed so far.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let reader = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    match status {
        Some(status) => Output {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{what} did not finish within {timeout:?} and was killed\n--- stdout:\n{}\n--- stderr:\n{}",
            text(&stdout),
            text(&stderr)
        ),
    }
}

/// Lossy UTF-8 text of process output.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn uuid8() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

fn epoch_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ---------------------------------------------------------------------------------------
// The binaries
// ---------------------------------------------------------------------------------------

/// A `Command` for the built `celery-doctor` binary: `NO_COLOR=1`, colour forcing and
/// Celery's broker environment variables removed. Run it with [`run_with_timeout`].
pub fn celery_doctor_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_celery-doctor"));
    cmd.env("NO_COLOR", "1")
        .env_remove("FORCE_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for var in CELERY_ENV_OVERRIDES {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `celery-doctor <args>`; killed (and the test fails) after [`CELERY_DOCTOR_TIMEOUT`].
pub fn celery_doctor(args: &[&str]) -> Output {
    let mut cmd = celery_doctor_command();
    cmd.args(args);
    run_with_timeout(
        cmd,
        CELERY_DOCTOR_TIMEOUT,
        &format!("celery-doctor {args:?}"),
    )
}

/// Runs `python -m celery -A liveapp <args>` (e.g. `["inspect", "ping", "--json"]`) in the
/// scope of `env`. Returns (exit status, stdout, stderr). `celery inspect` exits 69 when no
/// node replied.
pub fn celery_cli(env: &CeleryEnv<'_>, args: &[&str]) -> (ExitStatus, String, String) {
    let mut cmd = python_command();
    cmd.args(["-m", "celery", "-A", "liveapp"]).args(args);
    env.apply(&mut cmd);
    let out = run_with_timeout(cmd, PYTHON_TIMEOUT, &format!("celery {args:?}"));
    (out.status, text(&out.stdout), text(&out.stderr))
}

/// Publishes real tasks with `publish.py <args>` (Celery's own `send_task`) in the scope of
/// `env` and returns their ids. Options: `--task NAME --args JSON --kwargs JSON --queue Q
/// --exchange X --routing-key RK --serializer json|msgpack|yaml|pickle --priority N
/// --countdown S --expires S --count N --protocol 1|2 --compression gzip --headers JSON
/// --task-id ID` (repeat `--task-id` once per `--count`).
pub fn publish(env: &CeleryEnv<'_>, args: &[&str]) -> Vec<String> {
    let mut cmd = python_command();
    cmd.arg(py_dir().join("publish.py")).args(args);
    env.apply(&mut cmd);
    let out = run_with_timeout(cmd, PYTHON_TIMEOUT, &format!("publish.py {args:?}"));
    assert!(
        out.status.success(),
        "publish.py {args:?} failed ({}):\n{}",
        out.status,
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "publish.py printed no JSON list of ids ({e}): {}",
            text(&out.stdout)
        )
    })
}

// ---------------------------------------------------------------------------------------
// Environment of the Python side
// ---------------------------------------------------------------------------------------

/// The `CDT_*` variables that point liveapp (workers, `publish.py`, the `celery` CLI) at one
/// broker scope. It borrows the scope, and so does every [`Worker`] started with it.
#[derive(Clone, Debug)]
pub struct CeleryEnv<'scope> {
    vars: BTreeMap<String, String>,
    _scope: PhantomData<&'scope ()>,
}

impl<'scope> CeleryEnv<'scope> {
    fn new(broker: String, prefix: &str) -> Self {
        let mut vars = BTreeMap::new();
        vars.insert("CDT_BROKER".to_string(), broker);
        vars.insert("CDT_PREFIX".to_string(), prefix.to_string());
        CeleryEnv {
            vars,
            _scope: PhantomData,
        }
    }

    /// Sets one more variable, e.g. `.with("CDT_SERIALIZER", "msgpack")`,
    /// `.with("CDT_ACCEPT", "json,pickle")` or
    /// `.with("CDT_CONF", r#"{"task_acks_late": true}"#)`. Keep `CDT_BROKER` and `CDT_PREFIX`
    /// as the scope set them.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.vars.insert(key.to_string(), value.to_string());
        self
    }

    /// The value of one variable, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// Puts these variables on `cmd`, after removing inherited `CDT_*` and Celery broker
    /// variables, and sets `PYTHONPATH` to `tests/live/py`.
    pub fn apply(&self, cmd: &mut Command) {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CDT_") {
                cmd.env_remove(key);
            }
        }
        for var in CELERY_ENV_OVERRIDES {
            cmd.env_remove(var);
        }
        cmd.env("PYTHONPATH", py_dir())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .envs(&self.vars);
    }

    /// Where a worker of this environment listens for broadcasts on Redis, if it does and
    /// understands a JSON `ping`: `None` for AMQP (no start-up race there: the worker's
    /// mailbox queue is bound before it logs "ready"), with remote control disabled, without
    /// `json` in `CDT_ACCEPT`, or with a custom `fanout_prefix`.
    fn redis_mailbox(&self) -> Option<RedisMailbox> {
        let url = self.get("CDT_BROKER")?;
        if !url.starts_with("redis://") {
            return None;
        }
        let accept = self.get("CDT_ACCEPT").unwrap_or("json");
        if !accept.is_empty() && !accept.split(',').any(|a| a.trim() == "json") {
            return None;
        }
        let conf: serde_json::Value =
            serde_json::from_str(self.get("CDT_CONF").unwrap_or("{}")).unwrap_or_default();
        if conf["worker_enable_remote_control"] == false {
            return None;
        }
        let namespace = conf["control_exchange"].as_str().unwrap_or("celery");
        let db: u8 = url
            .rsplit_once('/')
            .and_then(|(_, db)| db.parse().ok())
            .unwrap_or(0);
        let options = &conf["broker_transport_options"];
        let prefix = match options["global_keyprefix"].as_str() {
            Some(prefix) => prefix.to_string(),
            None => self.get("CDT_PREFIX").unwrap_or("").to_string(),
        };
        let fanout_prefix = match &options["fanout_prefix"] {
            serde_json::Value::Null | serde_json::Value::Bool(true) => format!("/{db}."),
            serde_json::Value::Bool(false) => String::new(),
            _ => return None,
        };
        Some(RedisMailbox {
            url: url.to_string(),
            channel: format!("{prefix}{fanout_prefix}{namespace}.pidbox"),
            prefix,
        })
    }
}

/// A Redis mailbox broadcast channel (see [`CeleryEnv::redis_mailbox`]).
struct RedisMailbox {
    url: String,
    prefix: String,
    channel: String,
}

/// What tests need from any broker scope, to run the same test on Redis and RabbitMQ.
pub trait Broker {
    /// The broker URL, as Celery and celery-doctor take it.
    fn url(&self) -> String;
    /// The environment for liveapp processes in this scope.
    fn env(&self) -> CeleryEnv<'_>;
    /// celery-doctor arguments for the scope's transport options (empty when there are none).
    fn transport_option_args(&self) -> Vec<String>;
}

// ---------------------------------------------------------------------------------------
// Leases: which process owns which scope, so that the scopes of killed test processes
// (Ctrl-C, a timeout's SIGKILL: no unwinding, no Drop) are deleted later
// ---------------------------------------------------------------------------------------

/// Hash in Redis DB 0: resource id (`redis-prefix <db> <prefix>`, `redis-db <db>`,
/// `rabbit-vhost <vhost>`) → owner (`"<pid> <process start time>"`).
pub const LEASES_KEY: &str = "cdt-harness:leases";

/// What a scope owns, and so what deleting it means.
#[derive(Clone, Debug)]
enum Resource {
    RedisPrefix { db: u8, prefix: String },
    RedisDb(u8),
    Vhost(String),
}

impl Resource {
    fn id(&self) -> String {
        match self {
            Resource::RedisPrefix { db, prefix } => format!("redis-prefix {db} {prefix}"),
            Resource::RedisDb(db) => format!("redis-db {db}"),
            Resource::Vhost(vhost) => format!("rabbit-vhost {vhost}"),
        }
    }

    fn parse(id: &str) -> Option<Self> {
        let mut parts = id.splitn(3, ' ');
        match (parts.next()?, parts.next(), parts.next()) {
            ("redis-prefix", Some(db), Some(prefix)) if !prefix.is_empty() => {
                Some(Resource::RedisPrefix {
                    db: db.parse().ok()?,
                    prefix: prefix.to_string(),
                })
            }
            ("redis-db", Some(db), None) => Some(Resource::RedisDb(db.parse().ok()?)),
            ("rabbit-vhost", Some(vhost), None) => Some(Resource::Vhost(vhost.to_string())),
            _ => None,
        }
    }

    /// Deletes everything in it: the keys under the prefix (`SCAN MATCH`, then `UNLINK`),
    /// every key of the DB, or the vhost.
    fn delete(&self) -> Result<(), String> {
        match self {
            Resource::RedisPrefix { db, prefix } => {
                delete_keys(*db, &format!("{}*", glob_escape(prefix)))
            }
            Resource::RedisDb(db) => delete_keys(*db, "*"),
            Resource::Vhost(vhost) => {
                match management("DELETE", &format!("/api/vhosts/{}", pct(vhost)), None)? {
                    (code, _) if (200..300).contains(&code) || code == 404 => Ok(()),
                    (code, body) => Err(format!("HTTP {code}: {body}")),
                }
            }
        }
    }
}

fn delete_keys(db: u8, pattern: &str) -> Result<(), String> {
    let mut con = redis::Client::open(format!("redis://{REDIS_ADDR}/{db}").as_str())
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    for chunk in scan_keys(&mut con, pattern).chunks(500) {
        redis::cmd("UNLINK")
            .arg(chunk)
            .query::<u64>(&mut con)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A connection to the lease table, or `None` if Redis is down (leases are best effort for
/// RabbitMQ scopes).
fn leases() -> Option<redis::Connection> {
    redis::Client::open(format!("redis://{REDIS_ADDR}/0").as_str())
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .ok()
}

/// This process as a lease owner: pid and start time, so a reused pid is not mistaken for us.
fn owner_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let pid = std::process::id();
        format!(
            "{pid} {}",
            process_start_time(pid).unwrap_or_else(|| "?".to_string())
        )
    })
}

/// Field 22 of `/proc/<pid>/stat` (start time in clock ticks after boot).
fn process_start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)
        .map(str::to_string)
}

/// Whether the owner of a lease still runs. Without `/proc`, everyone counts as alive.
fn owner_alive(owner: &str) -> bool {
    let Some((pid, start)) = owner.split_once(' ') else {
        return true;
    };
    if start == "?" || process_start_time(std::process::id()).is_none() {
        return true;
    }
    pid.parse().ok().and_then(process_start_time).as_deref() == Some(start)
}

/// Atomically changes the lease of `id` from `expected` to `new` (`None`: no lease).
/// Returns whether it did.
fn set_lease(
    con: &mut redis::Connection,
    id: &str,
    expected: Option<&str>,
    new: Option<&str>,
) -> bool {
    const COMPARE_AND_SET: &str = "local cur = redis.call('HGET', KEYS[1], ARGV[1]) or '' \
        if cur ~= ARGV[2] then return 0 end \
        if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) \
        else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end return 1";
    redis::cmd("EVAL")
        .arg(COMPARE_AND_SET)
        .arg(1)
        .arg(LEASES_KEY)
        .arg(id)
        .arg(expected.unwrap_or(""))
        .arg(new.unwrap_or(""))
        .query::<i64>(con)
        .map(|done| done == 1)
        .unwrap_or(false)
}

/// Leases `resource` to this process if it is free, or owned by a dead process (whose
/// leftovers are deleted first). `Ok(false)`: a live process owns it.
fn acquire(con: &mut redis::Connection, resource: &Resource) -> Result<bool, String> {
    let id = resource.id();
    let owner: Option<String> = redis::cmd("HGET")
        .arg(LEASES_KEY)
        .arg(&id)
        .query(con)
        .map_err(|e| e.to_string())?;
    match owner {
        None => Ok(set_lease(con, &id, None, Some(owner_tag()))),
        Some(owner) if owner_alive(&owner) => Ok(false),
        Some(owner) => {
            if !set_lease(con, &id, Some(&owner), Some(owner_tag())) {
                return Ok(false);
            }
            resource.delete()?;
            Ok(true)
        }
    }
}

/// Deletes `resource`, then drops its lease. On failure, warns and keeps the lease, so that
/// a later [`sweep_dead_leases`] retries once this process is gone.
fn release(resource: &Resource) {
    match resource.delete() {
        Ok(()) => {
            if let Some(mut con) = leases() {
                set_lease(&mut con, &resource.id(), Some(owner_tag()), None);
            }
        }
        Err(e) => eprintln!("warning: could not delete {}: {e}", resource.id()),
    }
}

/// Once per process (at the first scope): deletes the scopes whose owning test process died
/// without cleaning up, e.g. after Ctrl-C. Workers of such a process stop by themselves
/// (`CDT_PARENT_PID`); only keys, DBs and vhosts stay behind, and this removes them.
pub fn sweep_dead_leases() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(mut con) = leases() else { return };
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(LEASES_KEY)
            .query(&mut con)
            .unwrap_or_default();
        for (id, owner) in all {
            let Some(resource) = Resource::parse(&id) else {
                continue;
            };
            if owner_alive(&owner) || !set_lease(&mut con, &id, Some(&owner), Some(owner_tag())) {
                continue;
            }
            eprintln!("note: deleting {id}, left behind by dead test process {owner}");
            release(&resource);
        }
    });
}

// ---------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------

fn redis_connect(url: &str) -> redis::Connection {
    let client = redis::Client::open(url).unwrap_or_else(|e| panic!("bad Redis URL {url}: {e}"));
    let con = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to Redis at {url}: {e} (is redis-server running? .ci/run starts it)"
            )
        });
    con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    con
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Bytes that print like `redis-cli` does (`"parked\x06\x166"`), for readable diffs.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// The bytes as UTF-8 text, if they are.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.escape_ascii())
    }
}

impl From<&str> for Bytes {
    fn from(s: &str) -> Self {
        Bytes(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl PartialEq<&str> for Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// The full contents of one Redis key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisValue {
    String(Bytes),
    /// In `LRANGE 0 -1` order: index 0 is the head (kombu LPUSHes there; the next message to
    /// be consumed is the last element).
    List(Vec<Bytes>),
    Hash(BTreeMap<Bytes, Bytes>),
    Set(BTreeSet<Bytes>),
    /// Members in score order, with the score as Redis prints it.
    ZSet(Vec<(Bytes, String)>),
    /// Any other type (streams...): only its type name.
    Other(String),
}

/// One key of a [`RedisSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisEntry {
    pub value: RedisValue,
    /// The key has a TTL (the remaining time is not recorded: it changes).
    pub expires: bool,
}

/// Every key of a scope, by name *without* the scope's prefix.
pub type RedisSnapshot = BTreeMap<Bytes, RedisEntry>;

/// `snapshot` without some keys (names without the prefix). Celery's own `celery inspect`
/// (kombu 5.7) adds or raises the member `reply.celery.pidbox` of `_kombu.binding_deadlines`
/// and leaves it there, and a faithful mailbox client does the same; so a "read-only"
/// comparison after a remote-control command may need to leave that key out.
pub fn without_keys(mut snapshot: RedisSnapshot, keys: &[&str]) -> RedisSnapshot {
    for key in keys {
        snapshot.remove(&Bytes::from(*key));
    }
    snapshot
}

/// An isolated part of the local Redis: a unique key prefix `cdt-<uuid8>:` on a DB in 1..=11
/// ([`RedisScope::new`]), or a whole DB in 12..=15 with no prefix
/// ([`RedisScope::exclusive_db`]). Dropping it deletes every key of the scope.
pub struct RedisScope {
    db: u8,
    prefix: String,
    resource: Resource,
}

impl RedisScope {
    /// A fresh scope: prefix `cdt-<uuid8>:` on a DB picked at random in 1..=11 (so tests also
    /// exercise the `/<db>.` part of pub/sub channel names). Workers of this scope get the
    /// prefix as their `global_keyprefix`, which covers keys and pub/sub channels alike.
    pub fn new() -> Self {
        sweep_dead_leases();
        let id = uuid::Uuid::new_v4();
        let count = (SHARED_DBS.end() - SHARED_DBS.start() + 1) as u128;
        let db = SHARED_DBS.start() + (id.as_u128() % count) as u8;
        let prefix = format!("cdt-{}:", &id.simple().to_string()[..8]);
        let resource = Resource::RedisPrefix {
            db,
            prefix: prefix.clone(),
        };
        if let Some(mut con) = leases() {
            set_lease(&mut con, &resource.id(), None, Some(owner_tag()));
        }
        let scope = RedisScope {
            db,
            prefix,
            resource,
        };
        let _: String = redis::cmd("PING").query(&mut scope.connection()).unwrap();
        scope
    }

    /// A whole DB in 12..=15 with **no** key prefix, the configuration most deployments use.
    /// The DB is leased to this process (see [`sweep_dead_leases`]) and must be empty when
    /// taken; waits up to 60 s for one.
    pub fn exclusive_db() -> Self {
        sweep_dead_leases();
        let mut con0 = redis_connect(&format!("redis://{REDIS_ADDR}/0"));
        let start = uuid::Uuid::new_v4().as_u128() as usize;
        let dbs: Vec<u8> = EXCLUSIVE_DBS.collect();
        let db = wait_until(
            "a free, empty Redis DB in 12..=15",
            Duration::from_secs(60),
            || {
                let mut seen = Vec::new();
                for i in 0..dbs.len() {
                    let db = dbs[(start + i) % dbs.len()];
                    let resource = Resource::RedisDb(db);
                    if !acquire(&mut con0, &resource)? {
                        seen.push(format!("DB {db} leased"));
                        continue;
                    }
                    let size: u64 = redis::cmd("DBSIZE")
                        .query(&mut redis_connect(&format!("redis://{REDIS_ADDR}/{db}")))
                        .unwrap();
                    if size == 0 {
                        return Ok(db);
                    }
                    set_lease(&mut con0, &resource.id(), Some(owner_tag()), None);
                    seen.push(format!(
                        "DB {db} holds {size} keys of someone else (`redis-cli -n {db} flushdb`?)"
                    ));
                }
                Err(seen.join(", "))
            },
        );
        RedisScope {
            db,
            prefix: String::new(),
            resource: Resource::RedisDb(db),
        }
    }

    /// The DB number.
    pub fn db(&self) -> u8 {
        self.db
    }

    /// `redis://127.0.0.1:6379/<db>`.
    pub fn url(&self) -> String {
        format!("redis://{REDIS_ADDR}/{}", self.db)
    }

    /// The key prefix (`global_keyprefix`), e.g. `cdt-1a2b3c4d:`; empty for an exclusive DB.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `["--transport-option", "global_keyprefix=<prefix>"]`, or nothing without a prefix.
    pub fn transport_option_args(&self) -> Vec<String> {
        if self.prefix.is_empty() {
            Vec::new()
        } else {
            vec![
                "--transport-option".to_string(),
                format!("global_keyprefix={}", self.prefix),
            ]
        }
    }

    /// Environment for liveapp processes in this scope (`CDT_BROKER`, `CDT_PREFIX`).
    pub fn env(&self) -> CeleryEnv<'_> {
        CeleryEnv::new(self.url(), &self.prefix)
    }

    /// A new connection to the scope's DB (keys are *not* prefixed for you: see [`Self::key`]).
    pub fn connection(&self) -> redis::Connection {
        redis_connect(&self.url())
    }

    /// `name` with the scope's prefix, e.g. `key("celery")` is the list of queue `celery`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The broadcast channel of the workers' mailbox: `<prefix>/<db>.celery.pidbox`.
    pub fn mailbox_channel(&self) -> String {
        format!("{}/{}.celery.pidbox", self.prefix, self.db)
    }

    /// Every key of the scope (full names, prefix included), found with `SCAN`.
    pub fn keys(&self) -> BTreeSet<Bytes> {
        scan_keys(
            &mut self.connection(),
            &format!("{}*", glob_escape(&self.prefix)),
        )
        .into_iter()
        .map(Bytes)
        .collect()
    }

    /// A deterministic snapshot of every key of the scope with its type and full contents,
    /// keyed by name without the prefix. Take it while the broker is quiet: it reads key by
    /// key, not atomically. Note that idle workers still touch `unacked_mutex` now and then
    /// (kombu's restore sweep, about every 100 s), and kombu 5.7 consumers refresh scores in
    /// `_kombu.binding_deadlines` every 20 minutes.
    pub fn dump(&self) -> RedisSnapshot {
        let mut con = self.connection();
        let mut snapshot = BTreeMap::new();
        for key in self.keys() {
            let key = key.0;
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con).unwrap();
            let q = |name: &str| {
                let mut c = redis::cmd(name);
                c.arg(&key);
                c
            };
            let value = match kind.as_str() {
                "none" => continue,
                "string" => RedisValue::String(Bytes(q("GET").query(&mut con).unwrap())),
                "list" => {
                    let items: Vec<Vec<u8>> = q("LRANGE").arg(0).arg(-1).query(&mut con).unwrap();
                    RedisValue::List(items.into_iter().map(Bytes).collect())
                }
                "hash" => {
                    let pairs: Vec<(Vec<u8>, Vec<u8>)> = q("HGETALL").query(&mut con).unwrap();
                    RedisValue::Hash(
                        pairs
                            .into_iter()
                            .map(|(k, v)| (Bytes(k), Bytes(v)))
                            .collect(),
                    )
                }
                "set" => {
                    let members: Vec<Vec<u8>> = q("SMEMBERS").query(&mut con).unwrap();
                    RedisValue::Set(members.into_iter().map(Bytes).collect())
                }
                "zset" => {
                    let pairs: Vec<(Vec<u8>, String)> = q("ZRANGE")
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query(&mut con)
                        .unwrap();
                    RedisValue::ZSet(pairs.into_iter().map(|(m, s)| (Bytes(m), s)).collect())
                }
                other => RedisValue::Other(other.to_string()),
            };
            let pttl: i64 = q("PTTL").query(&mut con).unwrap();
            if pttl == -2 {
                continue; // gone meanwhile
            }
            let name = Bytes(key[self.prefix.len()..].to_vec());
            snapshot.insert(
                name,
                RedisEntry {
                    value,
                    expires: pttl >= 0,
                },
            );
        }
        snapshot
    }
}

impl Default for RedisScope {
    fn default() -> Self {
        Self::new()
    }
}

fn scan_keys(con: &mut redis::Connection, pattern: &str) -> Vec<Vec<u8>> {
    let mut keys = BTreeSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .unwrap_or_else(|e| panic!("SCAN MATCH {pattern} failed: {e}"));
        keys.extend(batch);
        if next == 0 {
            return keys.into_iter().collect();
        }
        cursor = next;
    }
}

impl Drop for RedisScope {
    fn drop(&mut self) {
        release(&self.resource);
    }
}

impl Broker for RedisScope {
    fn url(&self) -> String {
        RedisScope::url(self)
    }
    fn env(&self) -> CeleryEnv<'_> {
        RedisScope::env(self)
    }
    fn transport_option_args(&self) -> Vec<String> {
        RedisScope::transport_option_args(self)
    }
}

/// Sends `ping` to `hostname` through the Redis mailbox until it answers. A worker logs
/// "ready" just *before* its first event-loop tick PSUBSCRIBEs the mailbox channel, and a
/// PUBLISH before that is lost; so this is what makes a started worker certain to hear the
/// first broadcast of a test. The reply comes straight to a list under the prefix
/// (`reply_to` with the anonymous exchange: no binding needed), which is deleted afterwards.
fn redis_mailbox_ping(
    mailbox: &RedisMailbox,
    hostname: &str,
    timeout: Duration,
) -> Result<(), String> {
    let mut con = redis_connect(&mailbox.url);
    let (channel, prefix) = (&mailbox.channel, &mailbox.prefix);
    let routing_key = format!("cdt-harness-ready.{}", uuid8());
    let reply_key = format!("{prefix}{routing_key}");
    let deadline = Instant::now() + timeout;
    let mut sent = 0;
    let mut result = Err(format!("no pong from {hostname} on channel {channel}"));
    while Instant::now() < deadline {
        let body = serde_json::json!({
            "method": "ping", "arguments": {}, "destination": [hostname],
            "pattern": null, "matcher": null, "ticket": uuid::Uuid::new_v4().to_string(),
            "reply_to": {"exchange": "", "routing_key": routing_key},
        });
        let envelope = serde_json::json!({
            "body": base64::engine::general_purpose::STANDARD.encode(body.to_string()),
            "content-encoding": "utf-8", "content-type": "application/json",
            "headers": {"clock": 1, "expires": epoch_secs() + 10.0},
            "properties": {
                "delivery_mode": 2, "priority": 0, "body_encoding": "base64",
                "delivery_info": {"exchange": "celery.pidbox", "routing_key": ""},
                "delivery_tag": uuid::Uuid::new_v4().to_string(),
            },
        });
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(envelope.to_string())
            .query(&mut con)
            .unwrap();
        sent += 1;
        let reply: Option<(Vec<u8>, Vec<u8>)> = redis::cmd("BRPOP")
            .arg(&reply_key)
            .arg(0.2)
            .query(&mut con)
            .unwrap();
        if reply.is_some() {
            result = Ok(());
            sent -= 1;
            break;
        }
    }
    // Replies to earlier pings were most likely lost (published before the PSUBSCRIBE), but
    // a slow worker may still answer one: wait briefly for them, then delete the list.
    while sent > 0 {
        let late: Option<(Vec<u8>, Vec<u8>)> = redis::cmd("BRPOP")
            .arg(&reply_key)
            .arg(0.2)
            .query(&mut con)
            .unwrap();
        if late.is_none() {
            break;
        }
        sent -= 1;
    }
    let _: i64 = redis::cmd("DEL").arg(&reply_key).query(&mut con).unwrap();
    result
}

// ---------------------------------------------------------------------------------------
// RabbitMQ
// ---------------------------------------------------------------------------------------

/// Percent-encodes a path segment (vhost, queue or exchange name) for the management API.
pub fn pct(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One management API call with `curl`: (HTTP status, body).
fn management(method: &str, path: &str, body: Option<&str>) -> Result<(u16, String), String> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "15",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-X",
        method,
    ])
    .arg("-u")
    .arg(format!("{RABBIT_USER}:{RABBIT_PASSWORD}"));
    if let Some(body) = body {
        cmd.args([
            "-H",
            "content-type: application/json",
            "--data-binary",
            body,
        ]);
    }
    cmd.arg(format!("{MANAGEMENT_URL}{path}"));
    let out = cmd.output().map_err(|e| format!("cannot run curl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "curl {method} {MANAGEMENT_URL}{path} failed ({}): {} (is RabbitMQ running with the \
             management plugin? .ci/run starts it)",
            out.status,
            text(&out.stderr).trim()
        ));
    }
    let all = text(&out.stdout);
    let (body, code) = all.rsplit_once('\n').unwrap_or(("", &all));
    let code = code
        .trim()
        .parse()
        .map_err(|_| format!("no HTTP status from curl: {all}"))?;
    Ok((code, body.to_string()))
}

/// A fresh RabbitMQ vhost `cdt-<uuid8>` where `guest` may do anything. Dropping it deletes
/// the vhost with everything in it.
pub struct RabbitScope {
    vhost: String,
    resource: Resource,
}

impl RabbitScope {
    /// Creates the vhost and grants `guest` configure/write/read `.*` on it.
    pub fn new() -> Self {
        sweep_dead_leases();
        let vhost = format!("cdt-{}", uuid8());
        let resource = Resource::Vhost(vhost.clone());
        if let Some(mut con) = leases() {
            set_lease(&mut con, &resource.id(), None, Some(owner_tag()));
        }
        // Built before the vhost exists, so that Drop deletes it if anything below panics.
        let scope = RabbitScope { vhost, resource };
        scope.api_ok("PUT", "/api/vhosts/{vhost}", None);
        scope.api_ok(
            "PUT",
            &format!("/api/permissions/{{vhost}}/{}", pct(RABBIT_USER)),
            Some(r#"{"configure": ".*", "write": ".*", "read": ".*"}"#),
        );
        scope
    }

    /// The vhost name.
    pub fn vhost(&self) -> &str {
        &self.vhost
    }

    /// `amqp://guest:guest@127.0.0.1:5672/<vhost>`.
    pub fn url(&self) -> String {
        format!(
            "amqp://{RABBIT_USER}:{RABBIT_PASSWORD}@{AMQP_ADDR}/{}",
            pct(&self.vhost)
        )
    }

    /// The management API base URL, `http://127.0.0.1:15672` (basic auth guest/guest).
    pub fn management_url(&self) -> String {
        MANAGEMENT_URL.to_string()
    }

    /// The management API base URL with the credentials in it.
    pub fn management_url_with_credentials(&self) -> String {
        MANAGEMENT_URL.replacen("://", &format!("://{RABBIT_USER}:{RABBIT_PASSWORD}@"), 1)
    }

    /// Environment for liveapp processes in this scope (`CDT_BROKER`, empty `CDT_PREFIX`).
    pub fn env(&self) -> CeleryEnv<'_> {
        CeleryEnv::new(self.url(), "")
    }

    /// One management API call, e.g. `api("GET", "/api/queues/{vhost}/parked", None)`, where
    /// `{vhost}` stands for the percent-encoded vhost. Returns (HTTP status, body); panics
    /// only if the API cannot be reached.
    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let path = path.replace("{vhost}", &pct(&self.vhost));
        management(method, &path, body).unwrap_or_else(|e| panic!("{e}"))
    }

    fn api_ok(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let (code, text) = self.api(method, path, body);
        assert!(
            (200..300).contains(&code),
            "{method} {path}: HTTP {code}: {text}"
        );
        text
    }

    /// `GET <path>` as JSON, e.g. `get_json("/api/exchanges/{vhost}")`; panics unless the
    /// status is 2xx.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let body = self.api_ok("GET", path, None);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }

    /// Queue name → (messages_ready, messages_unacknowledged), read with
    /// `?disable_stats=true&enable_queue_totals=true`: these counts are current (observed
    /// within ~10 ms of a publish), unlike the full statistics that lag 5–10 s. Counts the
    /// broker does not report yet are 0. To wait for a count, use [`Self::wait_queue_counts`].
    pub fn queue_counts(&self) -> BTreeMap<String, (u64, u64)> {
        let queues =
            self.get_json("/api/queues/{vhost}?disable_stats=true&enable_queue_totals=true");
        let n = |q: &serde_json::Value, field: &str| q[field].as_u64().unwrap_or(0);
        queues
            .as_array()
            .expect("queue list")
            .iter()
            .map(|q| {
                let name = q["name"].as_str().unwrap_or_default().to_string();
                (
                    name,
                    (n(q, "messages_ready"), n(q, "messages_unacknowledged")),
                )
            })
            .collect()
    }

    /// Polls [`Self::queue_counts`] until `done` accepts them (or panics after 15 s), e.g.
    /// `wait_queue_counts(|c| c.get("parked") == Some(&(4, 0)))`.
    pub fn wait_queue_counts(
        &self,
        done: impl Fn(&BTreeMap<String, (u64, u64)>) -> bool,
    ) -> BTreeMap<String, (u64, u64)> {
        wait_until("RabbitMQ queue counts", Duration::from_secs(15), || {
            let counts = self.queue_counts();
            if done(&counts) {
                Ok(counts)
            } else {
                Err(format!("{counts:?}"))
            }
        })
    }

    /// A deterministic snapshot of the vhost's topology and message counts, keyed
    /// `queue <name>`, `exchange <name>`, `binding <source> -> <destination> [<routing key>]`.
    /// Compare two with [`assert_unchanged`] to prove a command left the broker alone.
    pub fn snapshot(&self) -> BTreeMap<String, serde_json::Value> {
        let pick = |v: &serde_json::Value, fields: &[&str]| {
            let map: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|f| (f.to_string(), v[*f].clone()))
                .collect();
            serde_json::Value::Object(map)
        };
        let mut snapshot = BTreeMap::new();
        let queues =
            self.get_json("/api/queues/{vhost}?disable_stats=true&enable_queue_totals=true");
        for q in queues.as_array().unwrap() {
            let fields = [
                "type",
                "durable",
                "auto_delete",
                "exclusive",
                "arguments",
                "messages_ready",
                "messages_unacknowledged",
            ];
            snapshot.insert(
                format!("queue {}", q["name"].as_str().unwrap()),
                pick(q, &fields),
            );
        }
        for x in self.get_json("/api/exchanges/{vhost}").as_array().unwrap() {
            let fields = ["type", "durable", "auto_delete", "internal", "arguments"];
            snapshot.insert(
                format!("exchange {}", x["name"].as_str().unwrap()),
                pick(x, &fields),
            );
        }
        for b in self.get_json("/api/bindings/{vhost}").as_array().unwrap() {
            let key = format!(
                "binding {} -> {} {} [{}]",
                b["source"].as_str().unwrap(),
                b["destination_type"].as_str().unwrap(),
                b["destination"].as_str().unwrap(),
                b["routing_key"].as_str().unwrap()
            );
            snapshot.insert(key, b["arguments"].clone());
        }
        snapshot
    }
}

impl Default for RabbitScope {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for RabbitScope {
    fn drop(&mut self) {
        release(&self.resource);
    }
}

impl Broker for RabbitScope {
    fn url(&self) -> String {
        RabbitScope::url(self)
    }
    fn env(&self) -> CeleryEnv<'_> {
        RabbitScope::env(self)
    }
    fn transport_option_args(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Panics with a readable diff (added, removed, changed entries) unless the two snapshots
/// ([`RedisScope::dump`], [`RabbitScope::snapshot`]) are equal.
pub fn assert_unchanged<K: Ord + fmt::Debug, V: PartialEq + fmt::Debug>(
    before: &BTreeMap<K, V>,
    after: &BTreeMap<K, V>,
) {
    let mut diff = Vec::new();
    for (key, old) in before {
        match after.get(key) {
            None => diff.push(format!("- removed {key:?}: {old:?}")),
            Some(new) if new != old => diff.push(format!(
                "~ changed {key:?}\n    before: {old:?}\n    after:  {new:?}"
            )),
            Some(_) => {}
        }
    }
    for (key, new) in after {
        if !before.contains_key(key) {
            diff.push(format!("+ added {key:?}: {new:?}"));
        }
    }
    assert!(diff.is_empty(), "the broker changed:\n{}", diff.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------------------

/// A real Celery worker (`celery -A liveapp worker`) in one scope. Stopped (SIGTERM, then
/// SIGKILL after 10 s) when dropped; if the test is panicking, its log tail is printed.
pub struct Worker<'scope> {
    child: RefCell<Option<Child>>,
    hostname: String,
    log_path: PathBuf,
    /// The log tail is already in a panic message.
    log_shown: Cell<bool>,
    _dir: tempfile::TempDir,
    _scope: PhantomData<&'scope ()>,
}

impl<'scope> Worker<'scope> {
    /// Starts `python -m celery -A liveapp worker --hostname <hostname> --queues <queues>
    /// --pool threads --concurrency 1 --without-mingle --without-gossip --loglevel INFO
    /// <extra_args>` and returns once it is ready: it logged `<hostname> ready.`, and on
    /// Redis it answered a `ping` through the mailbox. `extra_args` come last, so they can
    /// override the defaults (`-P solo`, `-c 2`, `-E`...). The threads pool keeps answering
    /// remote control while a task runs (`liveapp.slow`), which `solo` does not.
    ///
    /// `hostname` must be a full node name (`w1@cdt`). Output goes to a log file, see
    /// [`Self::log`]. Panics (with the log tail) if the worker exits or is not ready within
    /// [`WORKER_READY_TIMEOUT`].
    pub fn start(
        env: &CeleryEnv<'scope>,
        hostname: &str,
        queues: &[&str],
        extra_args: &[&str],
    ) -> Self {
        assert!(
            hostname.contains('@'),
            "worker hostname {hostname:?} must be name@host"
        );
        assert!(!queues.is_empty(), "a worker needs at least one queue");
        let dir = tempfile::Builder::new()
            .prefix("cdt-worker-")
            .tempdir()
            .unwrap();
        let log_path = dir.path().join("worker.log");
        let log = File::create(&log_path).unwrap();
        let mut cmd = python_command();
        cmd.args([
            "-m",
            "celery",
            "-A",
            "liveapp",
            "worker",
            "--hostname",
            hostname,
        ])
        .args(["--queues", &queues.join(",")])
        .args(["--pool", "threads", "--concurrency", "1"])
        .args(["--without-mingle", "--without-gossip", "--loglevel", "INFO"])
        .args(extra_args);
        env.apply(&mut cmd);
        cmd.env("CDT_PARENT_PID", std::process::id().to_string())
            // Celery refuses to run as root with pickle in accept_content otherwise.
            .env("C_FORCE_ROOT", "1")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start worker {hostname}: {e}"));
        let worker = Worker {
            child: RefCell::new(Some(child)),
            hostname: hostname.to_string(),
            log_path,
            log_shown: Cell::new(false),
            _dir: dir,
            _scope: PhantomData,
        };
        let started = Instant::now();
        worker.wait_for_log(&format!("{hostname} ready."), WORKER_READY_TIMEOUT);
        if let Some(mailbox) = env.redis_mailbox() {
            let left = WORKER_READY_TIMEOUT.saturating_sub(started.elapsed());
            if let Err(e) = redis_mailbox_ping(&mailbox, hostname, left) {
                worker.fail(&format!(
                    "worker {hostname} logged ready but its mailbox is deaf: {e}"
                ));
            }
        }
        worker
    }

    /// The node name, e.g. `w1@cdt`.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The worker's (main) process id.
    pub fn pid(&self) -> u32 {
        let child = self.child.borrow();
        child.as_ref().expect("worker already stopped").id()
    }

    /// Everything the worker printed so far (banner, log lines, warnings).
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| text(&b))
            .unwrap_or_default()
    }

    /// Waits until the log contains `needle` (e.g. `"[<task id>] succeeded"`), and returns the
    /// log. Panics with the log tail if the worker exits first or after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            let exited = self
                .child
                .borrow_mut()
                .as_mut()
                .and_then(|c| c.try_wait().expect("try_wait"));
            if let Some(status) = exited {
                self.fail(&format!(
                    "worker {} exited ({status}) before logging {needle:?}",
                    self.hostname
                ));
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "worker {} did not log {needle:?} within {timeout:?}",
                    self.hostname
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Warm shutdown (SIGTERM, as a deployment would stop it): waits for running tasks,
    /// requeues reserved ones, removes its mailbox binding. Returns the whole log.
    /// Panics if it takes more than 30 s.
    pub fn stop(self) -> String {
        let mut child = self.child.take().expect("worker already stopped");
        signal(&child, "TERM");
        if wait_exit(&mut child, Duration::from_secs(30)).is_none() {
            let _ = child.kill();
            let _ = child.wait();
            self.fail(&format!(
                "worker {} ignored SIGTERM for 30 s",
                self.hostname
            ));
        }
        self.log()
    }

    /// SIGKILL, like a crash or the OOM killer: nothing is cleaned up, so its `unacked`
    /// entries and its mailbox binding member stay on Redis (RabbitMQ requeues and deletes
    /// by itself when the connection drops). Returns the whole log.
    pub fn kill(self) -> String {
        let mut child = self.child.take().expect("worker already stopped");
        let _ = child.kill();
        let _ = child.wait();
        self.log()
    }

    fn fail(&self, message: &str) -> ! {
        self.log_shown.set(true);
        panic!(
            "{message}\n--- log tail ({}):\n{}",
            self.log_path.display(),
            tail(&self.log(), 40)
        );
    }
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "TERM");
            if wait_exit(&mut child, Duration::from_secs(10)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if thread::panicking() && !self.log_shown.get() {
            eprintln!(
                "--- log tail of worker {}:\n{}",
                self.hostname,
                tail(&self.log(), 40)
            );
        }
    }
}

/// Sends a signal with `kill(1)` (the crate forbids `unsafe`, so no libc). The child has not
/// been reaped, so its pid cannot have been reused.
fn signal(child: &Child, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// A private redis-server, for scenarios that need other server settings (diagnose tests)
// ---------------------------------------------------------------------------------------

/// A free TCP port on the loopback interface (bound once, then released: nothing listens
/// on it when this returns, so connecting to it is refused until someone takes it).
pub fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A `redis-server` of its own on a spare loopback port (no persistence, `extra_args` such
/// as `--maxmemory-policy allkeys-lru --maxmemory 64mb`), for scenarios whose server
/// settings must not touch the shared Redis. Its DB 0 belongs to one test, so there is no
/// key prefix. Killed when dropped (like the Sentinel of the probe tests, it outlives a test
/// process that is killed outright; it holds nothing but that test's keys).
pub struct SpareRedis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl SpareRedis {
    /// Starts the server and returns once it answers `PING`. Panics if it exits first (the
    /// port was taken meanwhile, a bad argument) or is not up within 10 s.
    pub fn start(extra_args: &[&str]) -> SpareRedis {
        let port = spare_port();
        let dir = tempfile::Builder::new()
            .prefix("cdt-redis-")
            .tempdir()
            .unwrap();
        let log = File::create(dir.path().join("redis.log")).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("redis-server is installed with Redis");
        let mut spare = SpareRedis {
            child,
            port,
            _dir: dir,
        };
        wait_until(
            &format!("redis-server {extra_args:?} on port {port} answers PING"),
            Duration::from_secs(10),
            || {
                if let Some(status) = spare.child.try_wait().map_err(|e| e.to_string())? {
                    let log = std::fs::read_to_string(spare._dir.path().join("redis.log"))
                        .unwrap_or_default();
                    panic!("redis-server on port {port} exited ({status}):\n{log}");
                }
                let client =
                    redis::Client::open(spare.url().as_str()).map_err(|e| e.to_string())?;
                let mut con = client
                    .get_connection_with_timeout(Duration::from_secs(1))
                    .map_err(|e| e.to_string())?;
                redis::cmd("PING")
                    .query::<String>(&mut con)
                    .map_err(|e| e.to_string())
            },
        );
        spare
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A new connection to DB 0.
    pub fn connection(&self) -> redis::Connection {
        redis_connect(&self.url())
    }

    /// Environment for liveapp processes on this server (no key prefix).
    pub fn env(&self) -> CeleryEnv<'_> {
        CeleryEnv::new(self.url(), "")
    }
}

impl Drop for SpareRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker for SpareRedis {
    fn url(&self) -> String {
        SpareRedis::url(self)
    }
    fn env(&self) -> CeleryEnv<'_> {
        SpareRedis::env(self)
    }
    fn transport_option_args(&self) -> Vec<String> {
        Vec::new()
    }
}
