//! RabbitMQ over AMQP 0-9-1 (lapin): the remote-control mailbox, passive queue declares, and
//! — only when the user allowed it — reading message bodies with `basic.get` + requeue.

use std::time::{Duration, Instant};

use futures_lite::StreamExt as _;
use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Map, Value};

use super::deadline;
use super::error::{ProbeError, classify};
use super::mailbox::{Replies, Request, new_id};
use super::management::{Management, enc};
use super::message::{self, RawMessage};
use super::options::Limits;
use super::url::BrokerUrl;

/// An open AMQP connection to one vhost.
pub struct AmqpProbe {
    conn: Connection,
    pub url: BrokerUrl,
    pub limits: Limits,
    /// `--management-url`; by default derived from the broker URL.
    pub management_url: Option<String>,
}

/// A queue as `queue.declare(passive=true)` reports it.
#[derive(Clone, Copy, Debug)]
pub struct QueueCounts {
    /// Ready messages (unacknowledged ones are not counted by the broker here).
    pub ready: u64,
    pub consumers: u64,
}

impl AmqpProbe {
    pub async fn connect(url: &BrokerUrl, limits: Limits) -> Result<AmqpProbe, ProbeError> {
        let a = url.amqp.as_ref().ok_or_else(|| ProbeError::Protocol {
            broker: url.to_string(),
            detail: "not an AMQP URL".into(),
        })?;
        let props = ConnectionProperties::default()
            .with_connection_name(format!("celery-doctor {}", env!("CARGO_PKG_VERSION")).into());
        let conn = deadline(
            url,
            "the AMQP handshake",
            limits.connect,
            Connection::connect(&a.lapin_uri(), props),
        )
        .await?
        .map_err(|e| map_error(url, &a.host, &a.vhost, &e, limits.connect))?;
        Ok(AmqpProbe {
            conn,
            url: url.clone(),
            limits,
            management_url: None,
        })
    }

    fn err(&self, e: &lapin::Error) -> ProbeError {
        let a = self.url.amqp.as_ref();
        map_error(
            &self.url,
            a.map(|a| a.host.as_str()).unwrap_or(""),
            a.map(|a| a.vhost.as_str()).unwrap_or(""),
            e,
            self.limits.connect,
        )
    }

    async fn step<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = lapin::Result<T>>,
    ) -> Result<T, ProbeError> {
        deadline(&self.url, what, self.limits.connect, fut)
            .await?
            .map_err(|e| self.err(&e))
    }

    async fn channel(&self) -> Result<Channel, ProbeError> {
        self.step("channel.open", self.conn.create_channel()).await
    }

    /// Whether RabbitMQ blocked this connection (a memory or disk alarm stops publishers).
    pub fn blocked(&self) -> bool {
        self.conn.status().blocked()
    }

    /// Close a channel, bounded in time; a failure to close changes nothing for the user.
    async fn close_channel(&self, ch: &Channel) {
        let _ = tokio::time::timeout(self.limits.connect, ch.close(200, "ok".into())).await;
    }

    /// Close politely (exclusive reply queues vanish with the connection).
    pub async fn close(&self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.conn.close(200, "celery-doctor done".into()),
        )
        .await;
    }

    /// `queue.declare(passive=true)`: ready count and consumers, or `None` if it does not exist.
    /// A 404 closes the channel, so every call gets a fresh one.
    pub async fn queue_counts(&self, queue: &str) -> Result<Option<QueueCounts>, ProbeError> {
        let ch = self.channel().await?;
        let declared = deadline(
            &self.url,
            "queue.declare",
            self.limits.connect,
            ch.queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            ),
        )
        .await?;
        match declared {
            Ok(q) => {
                self.close_channel(&ch).await;
                Ok(Some(QueueCounts {
                    ready: u64::from(q.message_count()),
                    consumers: u64::from(q.consumer_count()),
                }))
            }
            Err(e) if e.to_string().contains("NOT_FOUND") => Ok(None),
            Err(e) => Err(self.err(&e)),
        }
    }

    /// Broadcast on the mailbox and collect replies, as `celery inspect` does over AMQP.
    pub async fn broadcast(&self, req: &Request) -> Result<Replies, ProbeError> {
        let started = Instant::now();
        // If no worker ever connected to this vhost, the broadcast exchange does not exist:
        // do not create it (a declare with other flags would break the workers' own).
        let probe_ch = self.channel().await?;
        let exists = deadline(
            &self.url,
            "exchange.declare",
            self.limits.connect,
            probe_ch.exchange_declare(
                req.exchange().into(),
                ExchangeKind::Fanout,
                ExchangeDeclareOptions {
                    passive: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            ),
        )
        .await?;
        match exists {
            Ok(()) => {
                self.close_channel(&probe_ch).await;
            }
            Err(e) if e.to_string().contains("NOT_FOUND") => {
                return Ok(Replies {
                    receivers: Some(0),
                    elapsed: started.elapsed(),
                    ..Replies::default()
                });
            }
            Err(e) => return Err(self.err(&e)),
        }

        let ch = self.channel().await?;
        let oid = new_id();
        let ticket = new_id();
        // Ask the management API how many mailboxes listen while the AMQP side is set up.
        let count = async {
            match req.limit() {
                Some(_) => None,
                None => self.mailbox_count(&req.exchange()).await,
            }
        };
        let setup = async {
            let reply_queue = format!("{oid}.reply.{}", req.exchange());
            // Exactly Celery's flags: a mismatch gets 406 and, worse, breaks the workers' declares.
            self.step(
                "exchange.declare",
                ch.exchange_declare(
                    req.reply_exchange().into(),
                    ExchangeKind::Direct,
                    ExchangeDeclareOptions {
                        durable: false,
                        auto_delete: false,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                ),
            )
            .await?;
            let mut args = FieldTable::default();
            args.insert("x-expires".into(), AMQPValue::LongInt(10_000));
            args.insert("x-message-ttl".into(), AMQPValue::LongInt(300_000));
            self.step(
                "queue.declare",
                ch.queue_declare(
                    reply_queue.as_str().into(),
                    QueueDeclareOptions {
                        durable: false,
                        exclusive: true,
                        auto_delete: true,
                        ..QueueDeclareOptions::default()
                    },
                    args,
                ),
            )
            .await?;
            self.step(
                "queue.bind",
                ch.queue_bind(
                    reply_queue.as_str().into(),
                    req.reply_exchange().into(),
                    oid.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                ),
            )
            .await?;
            let consumer = self
                .step(
                    "basic.consume",
                    ch.basic_consume(
                        reply_queue.as_str().into(),
                        "".into(),
                        BasicConsumeOptions {
                            no_ack: true,
                            ..BasicConsumeOptions::default()
                        },
                        FieldTable::default(),
                    ),
                )
                .await?;
            let body = serde_json::to_vec(&req.body(&ticket, &oid)).unwrap_or_default();
            let props = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_content_encoding("utf-8".into())
                .with_delivery_mode(2)
                .with_priority(0)
                .with_headers(json_to_table(&req.headers()));
            self.step(
                "basic.publish",
                ch.basic_publish(
                    req.exchange().into(),
                    "".into(),
                    BasicPublishOptions::default(),
                    &body,
                    props,
                ),
            )
            .await?;
            Ok::<_, ProbeError>(consumer)
        };
        let (receivers, consumer) = tokio::join!(count, setup);
        let mut consumer = consumer?;

        // Celery waits for a silence of `timeout`; when the management API can tell how many
        // mailboxes are bound to the broadcast exchange, stop once all of them answered.
        let mut replies = Replies {
            receivers,
            ..Replies::default()
        };
        let limit = req.limit().or(receivers.map(|n| n as usize));
        let cap = started + (req.timeout * 10).max(req.timeout + Duration::from_secs(10));
        while !replies.enough(limit) && Instant::now() < cap {
            let next = match tokio::time::timeout(req.timeout, consumer.next()).await {
                Ok(Some(Ok(d))) => d,
                Ok(Some(Err(e))) => return Err(self.err(&e)),
                Ok(None) | Err(_) => break,
            };
            let headers = table_to_json(next.properties.headers().as_ref());
            if headers.get("ticket").and_then(Value::as_str) != Some(ticket.as_str()) {
                continue;
            }
            let ct = next.properties.content_type().as_ref().map(|s| s.as_str());
            let compression = headers.get("compression").and_then(Value::as_str);
            match message::decode_payload(ct, compression, &next.data) {
                Ok(v) => replies.merge(v),
                Err(reason) => replies.undecodable.push(reason),
            }
        }
        self.close_channel(&ch).await;
        replies.elapsed = started.elapsed();
        Ok(replies)
    }

    /// How many worker mailboxes are bound to `exchange`, from the management API (`None` when
    /// it cannot tell quickly).
    async fn mailbox_count(&self, exchange: &str) -> Option<u64> {
        let vhost = self.url.amqp.as_ref()?.vhost.clone();
        let limit = self.limits.connect.min(Duration::from_secs(2));
        let m = Management::new(&self.url, self.management_url.as_deref(), limit).ok()?;
        let bindings = m
            .get(&format!(
                "exchanges/{}/{}/bindings/source",
                enc(&vhost),
                enc(exchange)
            ))
            .await
            .ok()?;
        let suffix = format!(".{exchange}");
        let n = bindings
            .as_array()?
            .iter()
            .filter_map(|b| b.get("destination").and_then(Value::as_str))
            .filter(|d| d.ends_with(&suffix))
            .count();
        u64::try_from(n).ok()
    }

    /// Read up to `n` messages with `basic.get` and put them all back with one
    /// `basic.nack(multiple, requeue)`. Not read-only: RabbitMQ marks them redelivered (and
    /// counts a delivery on quorum queues). Callers must have the user's `--allow-requeue`.
    pub async fn peek_requeue(&self, queue: &str, n: usize) -> Result<Vec<RawMessage>, ProbeError> {
        let ch = self.channel().await?;
        let mut out = Vec::new();
        let mut last_tag = None;
        let read = self.get_into(&ch, queue, n, &mut out, &mut last_tag).await;
        // Put back whatever was taken, also when a later get failed.
        let requeued = match last_tag {
            Some(tag) => {
                self.step(
                    "basic.nack",
                    ch.basic_nack(
                        tag,
                        BasicNackOptions {
                            multiple: true,
                            requeue: true,
                        },
                    ),
                )
                .await
            }
            None => Ok(()),
        };
        self.close_channel(&ch).await;
        read?;
        requeued?;
        Ok(out)
    }

    async fn get_into(
        &self,
        ch: &Channel,
        queue: &str,
        n: usize,
        out: &mut Vec<RawMessage>,
        last_tag: &mut Option<u64>,
    ) -> Result<(), ProbeError> {
        while out.len() < n {
            let got = self
                .step(
                    "basic.get",
                    ch.basic_get(queue.into(), BasicGetOptions { no_ack: false }),
                )
                .await?;
            let Some(msg) = got else { break };
            let d = msg.delivery;
            *last_tag = Some(d.delivery_tag);
            out.push(raw_from_delivery(&d));
        }
        Ok(())
    }
}

fn raw_from_delivery(d: &lapin::message::Delivery) -> RawMessage {
    let p = &d.properties;
    let mut properties = Map::new();
    if let Some(v) = p.correlation_id() {
        properties.insert("correlation_id".into(), Value::from(v.as_str()));
    }
    if let Some(v) = p.reply_to() {
        properties.insert("reply_to".into(), Value::from(v.as_str()));
    }
    if let Some(v) = p.priority() {
        properties.insert("priority".into(), Value::from(*v));
    }
    if let Some(v) = p.delivery_mode() {
        properties.insert("delivery_mode".into(), Value::from(*v));
    }
    if let Some(v) = p.expiration() {
        properties.insert("expiration".into(), Value::from(v.as_str()));
    }
    properties.insert(
        "delivery_info".into(),
        serde_json::json!({"exchange": d.exchange.as_str(), "routing_key": d.routing_key.as_str()}),
    );
    RawMessage {
        content_type: p.content_type().as_ref().map(|s| s.as_str().to_string()),
        content_encoding: p
            .content_encoding()
            .as_ref()
            .map(|s| s.as_str().to_string()),
        headers: table_to_json(p.headers().as_ref()),
        properties,
        body: d.data.clone(),
        redelivered: Some(d.redelivered),
    }
}

/// AMQP field table → JSON (void → null; byte arrays → lossy text).
pub fn table_to_json(t: Option<&FieldTable>) -> Map<String, Value> {
    t.map(|t| {
        t.inner()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), amqp_to_json(v)))
            .collect()
    })
    .unwrap_or_default()
}

fn amqp_to_json(v: &AMQPValue) -> Value {
    match v {
        AMQPValue::Boolean(b) => Value::from(*b),
        AMQPValue::ShortShortInt(n) => Value::from(*n),
        AMQPValue::ShortShortUInt(n) => Value::from(*n),
        AMQPValue::ShortInt(n) => Value::from(*n),
        AMQPValue::ShortUInt(n) => Value::from(*n),
        AMQPValue::LongInt(n) => Value::from(*n),
        AMQPValue::LongUInt(n) => Value::from(*n),
        AMQPValue::LongLongInt(n) => Value::from(*n),
        AMQPValue::Float(f) => Value::from(*f),
        AMQPValue::Double(f) => Value::from(*f),
        AMQPValue::DecimalValue(d) => {
            Value::from(f64::from(d.value) / 10f64.powi(i32::from(d.scale)))
        }
        AMQPValue::ShortString(s) => Value::from(s.as_str()),
        AMQPValue::LongString(s) => Value::from(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(amqp_to_json).collect()),
        AMQPValue::Timestamp(t) => Value::from(*t),
        AMQPValue::FieldTable(t) => Value::Object(table_to_json(Some(t))),
        AMQPValue::ByteArray(b) => Value::from(String::from_utf8_lossy(b.as_slice()).into_owned()),
        AMQPValue::Void => Value::Null,
    }
}

fn json_to_table(v: &Value) -> FieldTable {
    let mut t = FieldTable::default();
    if let Value::Object(map) = v {
        for (k, v) in map {
            t.insert(ShortString::from(k.as_str()), json_to_amqp(v));
        }
    }
    t
}

fn json_to_amqp(v: &Value) -> AMQPValue {
    match v {
        Value::Null => AMQPValue::Void,
        Value::Bool(b) => AMQPValue::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AMQPValue::LongLongInt(i),
            None => AMQPValue::Double(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => AMQPValue::LongString(s.as_str().into()),
        Value::Array(a) => {
            AMQPValue::FieldArray(a.iter().map(json_to_amqp).collect::<Vec<_>>().into())
        }
        Value::Object(_) => AMQPValue::FieldTable(json_to_table(v)),
    }
}

fn map_error(
    url: &BrokerUrl,
    host: &str,
    vhost: &str,
    e: &lapin::Error,
    limit: Duration,
) -> ProbeError {
    let broker = url.to_string();
    let detail = url.redact(&e.to_string());
    // Channel-level refusals name a resource ("access to queue 'x' in vhost 'y' refused");
    // a login refusal does not.
    if detail.contains("ACCESS_REFUSED") && detail.contains("access to") {
        return ProbeError::Permission { broker, detail };
    }
    // Connection-level 530 NOT_ALLOWED: the vhost is missing or the user may not open it.
    if detail.contains("NOT_ALLOWED") {
        return ProbeError::Vhost {
            broker,
            vhost: vhost.to_string(),
        };
    }
    if detail.contains("RESOURCE_LOCKED") {
        return ProbeError::Protocol {
            broker,
            detail: format!("{detail} (the queue is exclusive to another connection)"),
        };
    }
    if detail.contains("PRECONDITION_FAILED") {
        return ProbeError::Protocol {
            broker,
            detail: format!("{detail} (declared elsewhere with other flags)"),
        };
    }
    classify(&broker, host, &detail, limit.as_secs_f64())
}
