//! The kombu Redis transport, read-only: queue discovery from binding sets, depths over every
//! priority list, the `unacked` hash, peeking at list entries, and the remote-control mailbox.
//!
//! Only non-destructive commands touch user data (`SCAN`, `SMEMBERS`, `LLEN`, `LRANGE`,
//! `HLEN`, `HSCAN`, `ZRANGE`). The only writes are the ones `celery inspect` makes for a
//! broadcast: one binding member for our reply list (and the kombu 5.7 binding deadline), the
//! `PUBLISH`, and the `BRPOP`/`DEL` of our own reply list, undone when the broadcast ends.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use serde_json::{Value, json};

use super::deadline;
use super::error::{ProbeError, classify};
use super::mailbox::{Replies, Request, new_id};
use super::message;
use super::options::{FanoutPrefix, Limits, TransportOptions};
use super::url::{BrokerUrl, RedisEndpoint, RedisUrl};

/// A connection to a Redis broker, with the layout options to find kombu's keys.
pub struct RedisProbe {
    conn: MultiplexedConnection,
    pub url: BrokerUrl,
    pub db: i64,
    pub opts: TransportOptions,
    pub limits: Limits,
    /// Redis < 6 accepts only whole seconds as blocking timeouts.
    whole_second_timeouts: bool,
    /// Sentinel: kombu < 5.4 listened on the literal channel `/{db}.<exchange>`.
    sentinel: bool,
}

/// One binding of a queue: the exchange and routing key it was bound with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub exchange: String,
    pub routing_key: String,
    pub queue: String,
}

/// One entry of the `unacked` hash: a message delivered to a worker and not yet acknowledged.
#[derive(Clone, Debug)]
pub struct Unacked {
    pub tag: String,
    /// The queue it came from (resolved through bindings when it was not published to `""`).
    pub queue: Option<String>,
    pub task: Option<String>,
    /// The `eta` header (countdown/ETA tasks wait here until due).
    pub eta: Option<String>,
    /// When it was delivered (epoch seconds, from `unacked_index`).
    pub delivered_at: Option<f64>,
}

/// The `unacked` hash, bounded.
#[derive(Clone, Debug, Default)]
pub struct UnackedSet {
    pub total: u64,
    pub entries: Vec<Unacked>,
    /// True when the hash was larger than the bound and only part of it was read.
    pub truncated: bool,
}

const UNACKED_BOUND: usize = 100_000;
const SCAN_COUNT: usize = 1000;

impl RedisProbe {
    /// Connect, authenticate and select the DB; fails within `limits.connect`.
    pub async fn connect(
        url: &BrokerUrl,
        opts: &TransportOptions,
        limits: Limits,
    ) -> Result<RedisProbe, ProbeError> {
        let r = url.redis.as_ref().ok_or_else(|| ProbeError::Protocol {
            broker: url.to_string(),
            detail: "not a Redis URL".into(),
        })?;
        let host = match &r.endpoint {
            RedisEndpoint::Tcp { host, .. } => host.clone(),
            RedisEndpoint::Unix { path } => path.clone(),
            RedisEndpoint::Sentinel { sentinels } => sentinels
                .first()
                .map(|(h, _)| h.clone())
                .unwrap_or_default(),
        };
        let fail = |e: redis::RedisError| map_error(url, &host, &e, limits.connect);
        let client = match &r.endpoint {
            RedisEndpoint::Sentinel { sentinels } => {
                sentinel_client(url, r, sentinels, opts, limits).await?
            }
            _ => Client::open(connection_info(r).map_err(fail)?).map_err(fail)?,
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(limits.connect))
            .set_response_timeout(None);
        let tls = matches!(r.endpoint, RedisEndpoint::Tcp { tls: true, .. });
        let conn = deadline(
            url,
            "the connection",
            limits.connect,
            client.get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|e| match e {
            // A TLS client talking to a plain-text port waits for a ServerHello forever.
            ProbeError::Timeout { broker, secs, .. } if tls => ProbeError::Tls {
                broker,
                detail: format!("no TLS handshake within {secs:.1} s (is this port TLS-enabled?)"),
            },
            other => other,
        })?
        .map_err(fail)?;
        let mut probe = RedisProbe {
            conn,
            url: url.clone(),
            db: r.db,
            opts: opts.clone(),
            limits,
            whole_second_timeouts: false,
            sentinel: matches!(r.endpoint, RedisEndpoint::Sentinel { .. }),
        };
        // The connection may be lazy about auth; make sure the server answers us.
        let _: String = probe.run(&redis::cmd("PING"), "PING").await?;
        let server: String = probe
            .run(redis::cmd("INFO").arg("server"), "INFO server")
            .await?;
        let major = server
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .and_then(|v| v.trim().split('.').next()?.parse::<u32>().ok());
        probe.whole_second_timeouts = major.is_some_and(|m| m < 6);
        Ok(probe)
    }

    /// Run one command with the command timeout.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        what: &str,
    ) -> Result<T, ProbeError> {
        let mut conn = self.conn.clone();
        self.bounded(what, cmd.query_async::<T>(&mut conn)).await
    }

    /// Run a pipeline with the command timeout.
    pub async fn run_pipe<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
        what: &str,
    ) -> Result<T, ProbeError> {
        let mut conn = self.conn.clone();
        self.bounded(what, pipe.query_async::<T>(&mut conn)).await
    }

    async fn bounded<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, ProbeError> {
        deadline(&self.url, what, self.limits.connect, fut)
            .await?
            .map_err(|e| map_error(&self.url, "", &e, self.limits.connect))
    }

    /// `INFO` as a map of field → value (all sections).
    pub async fn info(&self) -> Result<BTreeMap<String, String>, ProbeError> {
        let text: String = self
            .run(redis::cmd("INFO").arg("everything"), "INFO")
            .await?;
        Ok(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect())
    }

    // ---------------------------------------------------------------------------------------
    // Remote control
    // ---------------------------------------------------------------------------------------

    /// Broadcast `req` on the mailbox and collect the replies, as `celery inspect` does.
    pub async fn broadcast(&self, req: &Request) -> Result<Replies, ProbeError> {
        let oid = new_id();
        let ticket = new_id();
        let reply_queue = format!("{oid}.reply.{}", req.exchange());
        let sep = &self.opts.sep;
        let member = format!("{oid}{sep}{sep}{reply_queue}");
        let table = self
            .opts
            .key(&format!("_kombu.binding.{}", req.reply_exchange()));
        self.bind_reply(&table, &member, &req.reply_exchange())
            .await?;
        let result = self
            .publish_and_collect(req, &oid, &ticket, &reply_queue)
            .await;
        // Undo our binding member and reply list whatever happened.
        let mut cleanup = redis::pipe();
        cleanup.srem(&table, &member).ignore();
        for key in self.opts.priority_keys(&reply_queue) {
            cleanup.del(key).ignore();
        }
        let cleaned: Result<(), ProbeError> = self.run_pipe(&cleanup, "cleanup").await;
        let replies = result?;
        cleaned?;
        Ok(replies)
    }

    async fn bind_reply(
        &self,
        table: &str,
        member: &str,
        reply_exchange: &str,
    ) -> Result<(), ProbeError> {
        let deadlines = self.opts.key("_kombu.binding_deadlines");
        // kombu 5.7 workers sweep binding tables whose deadline passed; a 5.7 client pushes the
        // deadline of the reply table forward so the sweep cannot drop our member mid-wait.
        let (exists, time): (bool, (u64, u64)) = self
            .run_pipe(redis::pipe().exists(&deadlines).cmd("TIME"), "EXISTS/TIME")
            .await?;
        let mut pipe = redis::pipe();
        pipe.atomic().sadd(table, member).ignore();
        if exists {
            let now_ms = time.0 * 1000 + time.1 / 1000;
            pipe.cmd("ZADD")
                .arg(&deadlines)
                .arg("GT")
                .arg(now_ms + 3_600_000)
                .arg(reply_exchange)
                .ignore();
        }
        self.run_pipe(&pipe, "SADD reply binding").await
    }

    async fn publish_and_collect(
        &self,
        req: &Request,
        oid: &str,
        ticket: &str,
        reply_queue: &str,
    ) -> Result<Replies, ProbeError> {
        let started = Instant::now();
        let body = serde_json::to_vec(&req.body(ticket, oid)).unwrap_or_default();
        let envelope = json!({
            "body": base64::engine::general_purpose::STANDARD.encode(&body),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": req.headers(),
            "properties": {
                "delivery_mode": 2,
                "delivery_info": {"exchange": req.exchange(), "routing_key": ""},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": new_id(),
            },
        });
        let envelope = envelope.to_string();
        let channel = self.opts.fanout_channel(self.db, &req.exchange());
        let mut receivers: u64 = self
            .run(
                redis::cmd("PUBLISH").arg(&channel).arg(&envelope),
                "PUBLISH",
            )
            .await?;
        if self.sentinel && self.opts.fanout_prefix == FanoutPrefix::Db {
            // kombu < 5.4 over Sentinel never filled in the DB: its workers listen on the
            // literal `/{db}.` channel. Reach them too (kombu 5.7's sentinel_fanout_compat).
            let legacy = format!("{}/{{db}}.{}", self.opts.global_keyprefix, req.exchange());
            let more: u64 = self
                .run(redis::cmd("PUBLISH").arg(&legacy).arg(&envelope), "PUBLISH")
                .await?;
            receivers += more;
        }
        let mut replies = Replies {
            receivers: Some(receivers),
            ..Replies::default()
        };
        // Every live mailbox that can answer received the broadcast: stop when that many
        // answered (beat or a debugging PSUBSCRIBE may count but never answer: then the
        // silence timeout ends the wait, as in Celery).
        let limit = req.limit().or(Some(receivers as usize));
        let key = self.opts.key(reply_queue);
        let cap = started + (req.timeout * 10).max(req.timeout + Duration::from_secs(10));
        while receivers > 0 && !replies.enough(limit) && Instant::now() < cap {
            let wait = if self.whole_second_timeouts {
                format!("{}", req.timeout.as_secs_f64().ceil().max(1.0))
            } else {
                format!("{:.3}", req.timeout.as_secs_f64().max(0.01))
            };
            let mut conn = self.conn.clone();
            let popped = deadline(
                &self.url,
                "BRPOP on the reply list",
                req.timeout + self.limits.connect,
                redis::cmd("BRPOP")
                    .arg(&key)
                    .arg(&wait)
                    .query_async::<Option<(String, Vec<u8>)>>(&mut conn),
            )
            .await?
            .map_err(|e| map_error(&self.url, "", &e, self.limits.connect))?;
            let Some((_, raw)) = popped else { break };
            match message::parse_redis_envelope(&raw) {
                Ok(m) => {
                    if m.headers.get("ticket").and_then(Value::as_str) != Some(ticket) {
                        continue;
                    }
                    let compression = m.headers.get("compression").and_then(Value::as_str);
                    match message::decode_payload(m.content_type.as_deref(), compression, &m.body) {
                        Ok(v) => replies.merge(v),
                        Err(reason) => replies.undecodable.push(reason),
                    }
                }
                Err(reason) => replies.undecodable.push(reason),
            }
        }
        replies.elapsed = started.elapsed();
        Ok(replies)
    }

    // ---------------------------------------------------------------------------------------
    // Queues
    // ---------------------------------------------------------------------------------------

    /// Every queue bound to an exchange (`_kombu.binding.*` sets), except the mailbox and event
    /// queues; and how many members did not split into three fields with `sep` (a sign that
    /// the workers use another `sep`).
    pub async fn bindings(&self) -> Result<(Vec<Binding>, usize), ProbeError> {
        let pattern = format!(
            "{}_kombu.binding.*",
            glob_escape(&self.opts.global_keyprefix)
        );
        let keys = self.scan(&pattern).await?;
        let ns = &self.opts.control_exchange;
        let skip_exchange = |x: &str| {
            x == format!("{ns}.pidbox") || x == format!("reply.{ns}.pidbox") || x == "celeryev"
        };
        let prefix_len = self.opts.global_keyprefix.len() + "_kombu.binding.".len();
        let tables: Vec<(String, String)> = keys
            .into_iter()
            .filter_map(|k| {
                let exchange = k.get(prefix_len..)?.to_string();
                (!skip_exchange(&exchange)).then_some((k, exchange))
            })
            .collect();
        if tables.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let mut pipe = redis::pipe();
        for (key, _) in &tables {
            pipe.smembers(key);
        }
        let members: Vec<Vec<String>> = self.run_pipe(&pipe, "SMEMBERS").await?;
        let mut out = Vec::new();
        let mut unparsed = 0;
        for ((_, exchange), members) in tables.iter().zip(members) {
            for m in members {
                let parts: Vec<&str> = m.split(self.opts.sep.as_str()).collect();
                match parts[..] {
                    [rk, _pattern, queue] => {
                        if !is_internal_queue(queue, ns) {
                            out.push(Binding {
                                exchange: exchange.clone(),
                                routing_key: rk.to_string(),
                                queue: queue.to_string(),
                            });
                        }
                    }
                    _ => unparsed += 1,
                }
            }
        }
        out.sort_by(|a, b| (&a.queue, &a.exchange).cmp(&(&b.queue, &b.exchange)));
        out.dedup();
        Ok((out, unparsed))
    }

    async fn scan(&self, pattern: &str) -> Result<Vec<String>, ProbeError> {
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .run(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(SCAN_COUNT),
                    "SCAN",
                )
                .await?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Messages waiting per priority step, for each queue (one pipeline of `LLEN`s).
    pub async fn depths(&self, queues: &[String]) -> Result<Vec<Vec<(u32, u64)>>, ProbeError> {
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for q in queues {
            for key in self.opts.priority_keys(q) {
                pipe.llen(key);
            }
        }
        let lens: Vec<u64> = self.run_pipe(&pipe, "LLEN").await?;
        let steps = &self.opts.priority_steps;
        Ok(lens
            .chunks(steps.len())
            .map(|c| steps.iter().copied().zip(c.iter().copied()).collect())
            .collect())
    }

    /// Up to `n` raw entries of `queue` in the order they will be consumed (priority step 0
    /// first; within a list, from the right end). Read-only (`LRANGE`).
    pub async fn peek_raw(&self, queue: &str, n: usize) -> Result<Vec<(u32, Vec<u8>)>, ProbeError> {
        const CHUNK: usize = 1000;
        let mut out = Vec::new();
        for (step, key) in self
            .opts
            .priority_steps
            .iter()
            .copied()
            .zip(self.opts.priority_keys(queue))
        {
            let mut offset = 0usize;
            while out.len() < n {
                let want = (n - out.len()).min(CHUNK);
                let end = -(offset as i64) - 1;
                let start = end - want as i64 + 1;
                let mut batch: Vec<Vec<u8>> = self
                    .run(redis::cmd("LRANGE").arg(&key).arg(start).arg(end), "LRANGE")
                    .await?;
                let got = batch.len();
                batch.reverse();
                out.extend(batch.into_iter().map(|b| (step, b)));
                offset += got;
                if got < want {
                    break;
                }
            }
            if out.len() >= n {
                break;
            }
        }
        Ok(out)
    }

    /// The `unacked` hash and the delivery times from `unacked_index`, bounded.
    pub async fn unacked(&self, bindings: &[Binding]) -> Result<UnackedSet, ProbeError> {
        let hash = self.opts.key(&self.opts.unacked_key);
        let index = self.opts.key(&self.opts.unacked_index_key);
        let total: u64 = self.run(redis::cmd("HLEN").arg(&hash), "HLEN").await?;
        let mut set = UnackedSet {
            total,
            ..UnackedSet::default()
        };
        if total == 0 {
            return Ok(set);
        }
        let mut times: BTreeMap<String, f64> = BTreeMap::new();
        let scores: Vec<(String, f64)> = self
            .run(
                redis::cmd("ZRANGE")
                    .arg(&index)
                    .arg(0)
                    .arg(UNACKED_BOUND as i64 - 1)
                    .arg("WITHSCORES"),
                "ZRANGE",
            )
            .await?;
        times.extend(scores);
        let mut seen = std::collections::HashSet::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<(String, Vec<u8>)>) = self
                .run(
                    redis::cmd("HSCAN")
                        .arg(&hash)
                        .arg(cursor)
                        .arg("COUNT")
                        .arg(SCAN_COUNT),
                    "HSCAN",
                )
                .await?;
            for (tag, value) in batch {
                // HSCAN may return a field twice while the hash is rehashed.
                if !seen.insert(tag.clone()) {
                    continue;
                }
                let parsed = message::parse_unacked_entry(&value).ok();
                let (queue, task, eta) = match parsed {
                    Some((raw, exchange, rk)) => (
                        resolve_queue(bindings, &exchange, &rk),
                        message::task_name(&raw),
                        raw.headers
                            .get("eta")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    ),
                    None => (None, None, None),
                };
                set.entries.push(Unacked {
                    delivered_at: times.get(&tag).copied(),
                    tag,
                    queue,
                    task,
                    eta,
                });
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
            if set.entries.len() >= UNACKED_BOUND {
                set.truncated = true;
                break;
            }
        }
        Ok(set)
    }
}

/// The queue a message published to (`exchange`, `rk`) lands in.
fn resolve_queue(bindings: &[Binding], exchange: &str, rk: &str) -> Option<String> {
    if exchange.is_empty() {
        return Some(rk.to_string());
    }
    // Direct exchanges (Celery's default): the binding with this routing key. Anything else
    // (topic, fanout, several queues) stays unattributed rather than guessed.
    let mut matches = bindings
        .iter()
        .filter(|b| b.exchange == exchange && b.routing_key == rk);
    match (matches.next(), matches.next()) {
        (Some(b), None) => Some(b.queue.clone()),
        _ => None,
    }
}

/// Mailbox and reply queues (`<node>.<ns>.pidbox`, `<oid>.reply.<ns>.pidbox`) and event
/// queues (`celeryev.<uuid>`) are not task queues.
pub fn is_internal_queue(queue: &str, ns: &str) -> bool {
    queue.ends_with(&format!(".{ns}.pidbox")) || queue.starts_with("celeryev.")
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

fn connection_info(r: &RedisUrl) -> redis::RedisResult<ConnectionInfo> {
    let addr = match &r.endpoint {
        RedisEndpoint::Tcp {
            host,
            port,
            tls: false,
            ..
        } => ConnectionAddr::Tcp(host.clone(), *port),
        RedisEndpoint::Tcp {
            host,
            port,
            insecure,
            ..
        } => ConnectionAddr::TcpTls {
            host: host.clone(),
            port: *port,
            insecure: *insecure,
            tls_params: None,
        },
        RedisEndpoint::Unix { path } => ConnectionAddr::Unix(path.into()),
        // Resolved through the Sentinels before this is called.
        RedisEndpoint::Sentinel { .. } => ConnectionAddr::Tcp("localhost".into(), 6379),
    };
    use redis::IntoConnectionInfo as _;
    addr.into_connection_info()
        .map(|info| info.set_redis_settings(redis_settings(r)))
}

fn redis_settings(r: &RedisUrl) -> RedisConnectionInfo {
    let mut settings = RedisConnectionInfo::default().set_db(r.db);
    if let Some(u) = &r.username {
        settings = settings.set_username(u);
    }
    if let Some(p) = &r.password {
        settings = settings.set_password(p);
    }
    settings
}

async fn sentinel_client(
    url: &BrokerUrl,
    r: &RedisUrl,
    sentinels: &[(String, u16)],
    opts: &TransportOptions,
    limits: Limits,
) -> Result<Client, ProbeError> {
    use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
    let master = opts.master_name.clone().ok_or_else(|| {
        ProbeError::BadOption(
            "a sentinel:// broker needs the master's name: --transport-option master_name=NAME"
                .into(),
        )
    })?;
    let host = sentinels.first().map(|s| s.0.clone()).unwrap_or_default();
    let fail = |e: redis::RedisError| map_error(url, &host, &e, limits.connect);
    let addrs = sentinels
        .iter()
        .map(|(h, p)| ConnectionAddr::Tcp(h.clone(), *p));
    let mut builder =
        SentinelClientBuilder::new(addrs, master, SentinelServerType::Master).map_err(fail)?;
    builder = builder.set_client_to_redis_db(r.db);
    if let Some(u) = &r.username {
        builder = builder.set_client_to_redis_username(u);
    }
    if let Some(p) = &r.password {
        builder = builder.set_client_to_redis_password(p);
    }
    let mut sentinel = builder.build().map_err(fail)?;
    deadline(
        url,
        "the Sentinel master lookup",
        limits.connect,
        sentinel.async_get_client(),
    )
    .await?
    .map_err(fail)
}

fn map_error(url: &BrokerUrl, host: &str, e: &redis::RedisError, limit: Duration) -> ProbeError {
    let broker = url.to_string();
    let detail = url.redact(&e.to_string());
    if e.is_connection_refusal() {
        return ProbeError::Refused { broker };
    }
    if e.is_timeout() {
        return ProbeError::Timeout {
            broker,
            what: "the connection".into(),
            secs: limit.as_secs_f64(),
        };
    }
    match e.kind() {
        redis::ErrorKind::AuthenticationFailed => {
            return ProbeError::Auth { broker, detail };
        }
        redis::ErrorKind::InvalidClientConfig => {
            return ProbeError::BadUrl {
                url: broker,
                reason: detail,
            };
        }
        _ => {}
    }
    classify(&broker, host, &detail, limit.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_resolution_and_internal_queues() {
        let b = vec![Binding {
            exchange: "tasks".into(),
            routing_key: "rk".into(),
            queue: "work".into(),
        }];
        assert_eq!(resolve_queue(&b, "", "celery").as_deref(), Some("celery"));
        assert_eq!(resolve_queue(&b, "tasks", "rk").as_deref(), Some("work"));
        assert_eq!(resolve_queue(&b, "other", "rk"), None);
        assert_eq!(resolve_queue(&b, "tasks", "other"), None);
        assert!(is_internal_queue("w1@h.celery.pidbox", "celery"));
        assert!(is_internal_queue("abc.reply.celery.pidbox", "celery"));
        assert!(!is_internal_queue("w1@h.celery.pidbox", "myapp"));
        assert!(is_internal_queue("celeryev.1234", "celery"));
        assert!(!is_internal_queue("emails", "celery"));
        assert_eq!(glob_escape("a*b[1]"), "a\\*b\\[1\\]");
    }
}
