//! Decoding of Celery task messages as they sit in a broker, for `peek` and `diagnose`.
//!
//! A task message is headers + properties + a serialized, possibly compressed body
//! (`shared/notes/celery-wire-protocols.md` §1). This module turns one into a
//! [`TaskMessage`] summary without ever failing or panicking: whatever cannot be read is
//! reported in [`TaskMessage::body`] with a short reason.
//!
//! - **Protocols.** Protocol 2 carries the task name in the `task` header and a body
//!   `[args, kwargs, embed]`. Protocol 1 has empty headers and a body object with `task`,
//!   `id`, `args`, `kwargs`, … (`taskset` is the old name of `group`). Anything else is
//!   `unknown`, which is what a worker rejects as an "unknown message".
//! - **Serializers.** JSON (kombu's, whose `{"__type__", "__value__"}` tags are made
//!   readable, see [`decode_payload`]), msgpack and YAML are decoded. Pickle
//!   (`application/x-python-serialize`) is **never unpickled**: only its size and the
//!   `argsrepr`/`kwargsrepr` headers are reported. Signed (`application/data`) and
//!   untyped bodies are opaque.
//! - **Compression.** The `compression` header `application/x-gzip` (aliases `gzip`,
//!   `zlib`) is a zlib stream and is inflated, to at most [`MAX_DECOMPRESSED_BYTES`];
//!   bzip2, lzma, brotli and zstd are reported as not supported.
//! - **Redis.** [`parse_redis_envelope`] and [`parse_unacked_entry`] read the JSON that
//!   kombu stores in queue lists and in the `unacked` hash (§2.3, §2.6). AMQP callers
//!   build a [`RawMessage`] themselves.

use std::borrow::Cow;
use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use flate2::read::{GzDecoder, ZlibDecoder};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value, json};

/// The most bytes a compressed body may inflate to before it is called a zip bomb.
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// rmpv counts two levels per nested array or map, so this allows about 128 nested
/// containers: as deep as serde_json and serde_yaml go, and shallow enough for small
/// async-task stacks.
const MSGPACK_MAX_DEPTH: usize = 256;

/// How deep canvas signatures (a chain in a group in a chord…) are summarised.
const SIGNATURE_MAX_DEPTH: usize = 8;

/// Headers that Celery itself writes (protocol 2, §1.1) or kombu adds on restore
/// (`redelivered`). Everything else is reported in [`TaskMessage::headers_extra`].
const STANDARD_HEADERS: &[&str] = &[
    "lang",
    "task",
    "id",
    "shadow",
    "eta",
    "expires",
    "group",
    "group_index",
    "retries",
    "timelimit",
    "root_id",
    "parent_id",
    "argsrepr",
    "kwargsrepr",
    "origin",
    "ignore_result",
    "replaced_task_nesting",
    "stamped_headers",
    "stamps",
    "compression",
    "redelivered",
];

// ---------------------------------------------------------------------------------------
// Raw messages and Redis envelopes
// ---------------------------------------------------------------------------------------

/// One message as read from a broker, before decoding.
#[derive(Debug, Clone, Default)]
pub struct RawMessage {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// Message headers as JSON (AMQP field tables are converted by the caller; AMQP void → null).
    pub headers: Map<String, Value>,
    /// Properties: correlation_id, reply_to, delivery_mode, priority, expiration,
    /// delivery_info, delivery_tag, body_encoding (Redis)…
    pub properties: Map<String, Value>,
    /// The serialized (possibly compressed) body bytes, already base64-decoded for Redis.
    pub body: Vec<u8>,
    /// Whether the broker says it was redelivered (AMQP flag), if known.
    pub redelivered: Option<bool>,
}

impl RawMessage {
    /// The `compression` header, when it names an algorithm (kombu ignores an empty one).
    fn compression(&self) -> Option<&str> {
        self.headers
            .get("compression")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
    }

    /// `properties.delivery_info`, when it is an object.
    fn delivery_info(&self) -> Option<&Map<String, Value>> {
        self.properties
            .get("delivery_info")
            .and_then(Value::as_object)
    }
}

/// Parse a kombu Redis list entry: the JSON envelope of §2.3, whose body is base64 when
/// `properties.body_encoding == "base64"` (kombu's default) and the text itself otherwise.
///
/// Errors are a short human reason, e.g. `"not JSON"` or `"no properties"`.
pub fn parse_redis_envelope(bytes: &[u8]) -> Result<RawMessage, String> {
    let value = serde_json::from_slice(bytes).map_err(|_| "not JSON".to_owned())?;
    envelope_from_json(value)
}

/// Parse a value of the Redis `unacked` hash: a JSON array
/// `[envelope, exchange, routing_key]` (§2.6). Returns the message, the exchange and the
/// routing key; with the anonymous exchange `""` the routing key is the queue.
pub fn parse_unacked_entry(bytes: &[u8]) -> Result<(RawMessage, String, String), String> {
    const SHAPE: &str = "not [envelope, exchange, routing_key]";
    let value = serde_json::from_slice(bytes).map_err(|_| "not JSON".to_owned())?;
    let Value::Array(items) = value else {
        return Err(SHAPE.to_owned());
    };
    match <[Value; 3]>::try_from(items) {
        Ok(
            [
                envelope,
                Value::String(exchange),
                Value::String(routing_key),
            ],
        ) => Ok((envelope_from_json(envelope)?, exchange, routing_key)),
        _ => Err(SHAPE.to_owned()),
    }
}

fn envelope_from_json(value: Value) -> Result<RawMessage, String> {
    let Value::Object(mut envelope) = value else {
        return Err("not a JSON object".to_owned());
    };
    let Some(Value::Object(properties)) = envelope.remove("properties") else {
        return Err("no properties".to_owned());
    };
    let headers = match envelope.remove("headers") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(headers)) => headers,
        Some(_) => return Err("headers is not an object".to_owned()),
    };
    let body = envelope_body(envelope.remove("body"), properties.get("body_encoding"))?;
    let text = |key: &str| envelope.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut raw = RawMessage {
        content_type: text("content-type"),
        content_encoding: text("content-encoding"),
        headers,
        properties,
        body,
        redelivered: None,
    };
    // kombu marks a restored message in both places; absent means a first delivery.
    raw.redelivered = Some(
        is_true(raw.headers.get("redelivered"))
            || is_true(raw.delivery_info().and_then(|d| d.get("redelivered"))),
    );
    Ok(raw)
}

fn envelope_body(body: Option<Value>, encoding: Option<&Value>) -> Result<Vec<u8>, String> {
    let text = match body {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(text)) => text,
        Some(_) => return Err("body is not a string".to_owned()),
    };
    match encoding {
        None | Some(Value::Null) => Ok(text.into_bytes()),
        Some(Value::String(name)) if name == "base64" => BASE64
            .decode(text.trim())
            .map_err(|_| "body is not valid base64".to_owned()),
        Some(other) => Err(format!("body_encoding {other} is not supported")),
    }
}

// ---------------------------------------------------------------------------------------
// The decoded summary
// ---------------------------------------------------------------------------------------

/// Which task protocol a message speaks (§1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The `task` header is present (Celery ≥ 4).
    V2,
    /// Empty headers, body object with `task`.
    V1,
    /// Neither: a worker rejects it as an unknown message (or its body could not be read).
    Unknown,
}

/// What became of the body. Serialized as `{"status": "decoded"}`,
/// `{"status": "pickle", "note": "never unpickled"}`,
/// `{"status": "undecodable", "reason": "…"}` or `{"status": "opaque"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BodyStatus {
    /// Deserialized; `args`/`kwargs` hold it when the message is a task.
    Decoded,
    /// A pickle: left alone on purpose.
    Pickle { note: String },
    /// Could not be read (compression, syntax, shape); the reason says why.
    Undecodable { reason: String },
    /// Signed (`application/data`) or untyped content, not meant to be read.
    Opaque,
}

/// The `timelimit` header: seconds, hard limit first (§1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimit {
    pub hard: Option<Number>,
    pub soft: Option<Number>,
}

/// A decoded task message: the `peek --format json` contract.
///
/// Every field is always serialized (`null` when unknown), in this order. Values of
/// args and kwargs are JSON; kombu's tagged values are made readable (see
/// [`decode_payload`]). Canvas fields are `null` when the body was not decoded and
/// name the tasks otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMessage {
    pub protocol: Protocol,
    pub id: Option<String>,
    pub task: Option<String>,
    /// The alternative name used in logs (`shadow=`).
    pub shadow: Option<String>,
    /// Positional arguments; `null` when the body was not decoded.
    pub args: Option<Value>,
    /// Keyword arguments; `null` when the body was not decoded.
    pub kwargs: Option<Value>,
    /// Python repr of the arguments, written by the producer (the only view of a pickle).
    pub argsrepr: Option<String>,
    pub kwargsrepr: Option<String>,
    /// ISO-8601 as sent (countdowns become an eta at publish time).
    pub eta: Option<String>,
    pub expires: Option<String>,
    pub retries: Option<i64>,
    /// `null` when neither limit is set.
    pub time_limit: Option<TimeLimit>,
    pub root_id: Option<String>,
    pub parent_id: Option<String>,
    /// Group id (`taskset` in protocol 1).
    pub group: Option<String>,
    pub group_index: Option<i64>,
    /// `gen<pid>@<host>` of the producer.
    pub origin: Option<String>,
    /// From the properties (on Redis 0 runs first, on RabbitMQ the highest).
    pub priority: Option<i64>,
    pub redelivered: Option<bool>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub compression: Option<String>,
    /// Body bytes as stored, before decompression.
    pub size: usize,
    pub body: BodyStatus,
    /// `link=` signatures, as task names.
    pub callbacks: Option<Vec<String>>,
    /// `link_error=` signatures, as task names.
    pub errbacks: Option<Vec<String>>,
    /// The rest of the chain, in the order it will run (the wire order is reversed).
    pub chain: Option<Vec<String>>,
    /// The chord body this task's group feeds.
    pub chord: Option<String>,
    /// Headers that Celery does not write itself, e.g. `x-custom` or RabbitMQ's `x-death`.
    pub headers_extra: Map<String, Value>,
}

impl TaskMessage {
    /// What is known before looking at the protocol: transport facts and headers.
    fn from_transport(raw: &RawMessage) -> Self {
        let headers_extra = raw
            .headers
            .iter()
            .filter(|(key, _)| !STANDARD_HEADERS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let redelivered = raw.redelivered.or_else(|| {
            let flagged = is_true(raw.headers.get("redelivered"))
                || is_true(raw.delivery_info().and_then(|d| d.get("redelivered")));
            flagged.then_some(true)
        });
        Self {
            protocol: Protocol::Unknown,
            id: None,
            task: None,
            shadow: None,
            args: None,
            kwargs: None,
            argsrepr: None,
            kwargsrepr: None,
            eta: None,
            expires: None,
            retries: None,
            time_limit: None,
            root_id: None,
            parent_id: None,
            group: None,
            group_index: None,
            origin: None,
            priority: raw.properties.get("priority").and_then(Value::as_i64),
            redelivered,
            content_type: raw.content_type.clone(),
            content_encoding: raw.content_encoding.clone(),
            compression: raw.compression().map(str::to_owned),
            size: raw.body.len(),
            body: BodyStatus::Decoded,
            callbacks: None,
            errbacks: None,
            chain: None,
            chord: None,
            headers_extra,
        }
    }

    /// Copy the task fields shared by protocol 2 headers and protocol 1 bodies, keeping
    /// any value already set.
    fn fill_fields(&mut self, fields: &Map<String, Value>) {
        let get = |key: &str| fields.get(key);
        fill(&mut self.id, text(get("id")));
        fill(&mut self.task, text(get("task")));
        fill(&mut self.shadow, text(get("shadow")));
        fill(&mut self.argsrepr, text(get("argsrepr")));
        fill(&mut self.kwargsrepr, text(get("kwargsrepr")));
        fill(&mut self.eta, text(get("eta")));
        fill(&mut self.expires, text(get("expires")));
        fill(&mut self.retries, get("retries").and_then(Value::as_i64));
        fill(&mut self.time_limit, get("timelimit").and_then(time_limit));
        fill(&mut self.root_id, text(get("root_id")));
        fill(&mut self.parent_id, text(get("parent_id")));
        fill(
            &mut self.group,
            text(get("group")).or_else(|| text(get("taskset"))),
        );
        fill(
            &mut self.group_index,
            get("group_index").and_then(Value::as_i64),
        );
        fill(&mut self.origin, text(get("origin")));
    }

    /// Read a protocol 2 body `[args, kwargs, embed]` (§1.3), or a protocol 1 body object
    /// under protocol 2 headers, which workers accept too (`hybrid_to_proto2`).
    fn fill_v2_body(&mut self, body: Value) {
        let parts = match body {
            Value::Array(parts) => <[Value; 3]>::try_from(parts).ok(),
            Value::Object(hybrid) if hybrid.contains_key("args") => {
                self.fill_v1_body(hybrid);
                return;
            }
            _ => None,
        };
        let Some([args, kwargs, embed]) = parts else {
            self.body = BodyStatus::Undecodable {
                reason: "protocol 2 body is not [args, kwargs, embed]".to_owned(),
            };
            return;
        };
        self.args = Some(args);
        self.kwargs = Some(kwargs);
        let embed = embed.as_object();
        let get = |key: &str| embed.and_then(|embed| embed.get(key));
        self.callbacks = Some(signature_names(get("callbacks")));
        self.errbacks = Some(signature_names(get("errbacks")));
        // The wire lists the chain's remaining steps last-first: the last element runs next.
        let mut chain = signature_names(get("chain"));
        chain.reverse();
        self.chain = Some(chain);
        self.chord = get("chord").and_then(chord_name);
    }

    /// Read a protocol 1 body object (§1.4); it has links but no `chain` field.
    fn fill_v1_body(&mut self, mut body: Map<String, Value>) {
        self.fill_fields(&body);
        self.callbacks = Some(signature_names(body.get("callbacks")));
        self.errbacks = Some(signature_names(body.get("errbacks")));
        self.chord = body.get("chord").and_then(chord_name);
        self.args = body.remove("args");
        self.kwargs = body.remove("kwargs");
    }
}

/// Decode a task message. Never fails: what cannot be read is described in `body`.
///
/// The protocol is told apart as the worker does: a `task` header means protocol 2
/// (named even when the body cannot be read); otherwise a decoded body object with
/// `task` means protocol 1; anything else is unknown.
pub fn decode(raw: &RawMessage) -> TaskMessage {
    let mut message = TaskMessage::from_transport(raw);
    let body = decode_body(raw.content_type.as_deref(), raw.compression(), &raw.body);
    if raw.headers.contains_key("task") {
        message.protocol = Protocol::V2;
        message.fill_fields(&raw.headers);
        match body {
            Ok(value) => message.fill_v2_body(value),
            Err(undecoded) => message.body = undecoded.into_status(),
        }
    } else {
        match body {
            Ok(Value::Object(fields)) if fields.contains_key("task") => {
                message.protocol = Protocol::V1;
                message.fill_v1_body(fields);
                // Older protocol 1 producers may also send some fields as headers.
                message.fill_fields(&raw.headers);
            }
            Ok(_) => {}
            Err(undecoded) => message.body = undecoded.into_status(),
        }
    }
    fill(&mut message.id, text(raw.properties.get("correlation_id")));
    message
}

/// The task name, cheaply: from the protocol 2 `task` header without touching the body,
/// otherwise by decoding a protocol 1 body. `None` when unknown (pickle included).
pub fn task_name(raw: &RawMessage) -> Option<String> {
    if let Some(task) = raw.headers.get("task") {
        return text(Some(task));
    }
    match decode_body(raw.content_type.as_deref(), raw.compression(), &raw.body) {
        Ok(Value::Object(fields)) => text(fields.get("task")),
        _ => None,
    }
}

/// The task name of a Redis list entry, fastest path: the protocol 2 `task` header read
/// straight from the envelope text, skipping everything else (the body is not even
/// base64-decoded). Falls back to [`parse_redis_envelope`] + [`task_name`] for protocol 1.
pub fn envelope_task_name(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Headers<'a> {
        #[serde(borrow, default)]
        task: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow, default)]
        headers: Option<Headers<'a>>,
    }
    if let Ok(Envelope {
        headers: Some(Headers { task: Some(task) }),
    }) = serde_json::from_slice::<Envelope>(bytes)
    {
        return Some(task.into_owned());
    }
    parse_redis_envelope(bytes)
        .ok()
        .and_then(|raw| task_name(&raw))
}

/// Decode an arbitrary payload (remote-control replies, result values): decompress, then
/// deserialize by content type (JSON, msgpack or YAML).
///
/// Values JSON cannot hold are made readable the same way everywhere:
/// - kombu JSON tags: `datetime`, `date`, `time`, `decimal` and `bytes` become their string
///   value, `uuid` the hyphenated UUID string, `base64` (non-UTF-8 bytes)
///   `{"base64": "<base64>"}`; unknown tags are kept as they are;
/// - msgpack binary becomes `{"base64": "<base64>"}`, an extension
///   `{"msgpack_ext": <type>, "base64": "<base64>"}`, and non-string map keys their JSON
///   text (`1` → `"1"`);
/// - non-finite floats (Python's `NaN`, `Infinity`) become the strings `"NaN"`,
///   `"Infinity"` and `"-Infinity"`;
/// - a YAML tagged value becomes `{"yaml_tag": "!tag", "value": …}`.
///
/// `Err(reason)` for pickle (never unpickled), opaque or unknown content, a compression
/// other than zlib, and malformed data.
pub fn decode_payload(
    content_type: Option<&str>,
    compression: Option<&str>,
    body: &[u8],
) -> Result<Value, String> {
    let compression = compression.filter(|name| !name.is_empty());
    decode_body(content_type, compression, body).map_err(|undecoded| undecoded.reason(content_type))
}

// ---------------------------------------------------------------------------------------
// Bodies: serializer, decompression
// ---------------------------------------------------------------------------------------

/// How a content type is read (§1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serializer {
    Json,
    Msgpack,
    Yaml,
    Pickle,
    Opaque,
    Unsupported,
}

impl Serializer {
    fn for_content_type(content_type: Option<&str>) -> Self {
        let Some(content_type) = content_type else {
            // kombu treats a missing content type as `application/data`.
            return Self::Opaque;
        };
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        match essence.to_ascii_lowercase().as_str() {
            "application/json" => Self::Json,
            "application/x-msgpack" | "application/msgpack" => Self::Msgpack,
            "application/x-yaml" | "application/yaml" | "text/yaml" => Self::Yaml,
            "application/x-python-serialize" => Self::Pickle,
            "" | "application/data" | "application/text" => Self::Opaque,
            _ => Self::Unsupported,
        }
    }
}

/// Why a body was not turned into a value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Undecoded {
    Pickle,
    Opaque,
    Failed(String),
}

impl Undecoded {
    fn into_status(self) -> BodyStatus {
        match self {
            Self::Pickle => BodyStatus::Pickle {
                note: "never unpickled".to_owned(),
            },
            Self::Opaque => BodyStatus::Opaque,
            Self::Failed(reason) => BodyStatus::Undecodable { reason },
        }
    }

    fn reason(self, content_type: Option<&str>) -> String {
        match self {
            Self::Pickle => "pickle content is never unpickled".to_owned(),
            Self::Opaque => format!(
                "content type {} is opaque",
                content_type.unwrap_or("(none)")
            ),
            Self::Failed(reason) => reason,
        }
    }
}

fn decode_body(
    content_type: Option<&str>,
    compression: Option<&str>,
    body: &[u8],
) -> Result<Value, Undecoded> {
    let serializer = Serializer::for_content_type(content_type);
    match serializer {
        Serializer::Pickle => return Err(Undecoded::Pickle),
        Serializer::Opaque => return Err(Undecoded::Opaque),
        Serializer::Unsupported => {
            let content_type = content_type.unwrap_or_default();
            return Err(Undecoded::Failed(format!(
                "content type {content_type} is not supported"
            )));
        }
        Serializer::Json | Serializer::Msgpack | Serializer::Yaml => {}
    }
    let bytes = decompress(compression, body).map_err(Undecoded::Failed)?;
    if bytes.is_empty() {
        return Err(Undecoded::Failed("empty body".to_owned()));
    }
    let value = match serializer {
        Serializer::Msgpack => parse_msgpack(&bytes),
        Serializer::Yaml => parse_yaml(&bytes),
        _ => parse_kombu_json(&bytes),
    };
    value.map_err(Undecoded::Failed)
}

/// Undo kombu compression (§1.5); only zlib is built in.
fn decompress<'a>(compression: Option<&str>, body: &'a [u8]) -> Result<Cow<'a, [u8]>, String> {
    let Some(name) = compression else {
        return Ok(Cow::Borrowed(body));
    };
    match name.trim().to_ascii_lowercase().as_str() {
        "application/x-gzip" | "gzip" | "zlib" => {
            inflate(body, MAX_DECOMPRESSED_BYTES).map(Cow::Owned)
        }
        _ => Err(format!("compression {name} is not supported")),
    }
}

/// kombu writes a zlib stream under the gzip name; a real gzip file is accepted too.
fn inflate(body: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
    if body.starts_with(GZIP_MAGIC) {
        read_bounded(GzDecoder::new(body), limit)
    } else {
        read_bounded(ZlibDecoder::new(body), limit)
    }
}

fn read_bounded(reader: impl Read, limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|err| format!("body does not decompress: {err}"))?;
    if out.len() as u64 > limit {
        return Err(format!(
            "body decompresses to more than {} MiB",
            limit >> 20
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Serializers → serde_json::Value
// ---------------------------------------------------------------------------------------

/// kombu JSON: Python's `json` plus type tags. Python writes `NaN` and `Infinity` bare,
/// which strict JSON rejects, so a failed parse is retried with those tokens quoted.
fn parse_kombu_json(bytes: &[u8]) -> Result<Value, String> {
    let value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(err) => quote_non_finite(bytes)
            .and_then(|quoted| serde_json::from_slice(&quoted).ok())
            .ok_or_else(|| format!("invalid JSON: {err}"))?,
    };
    Ok(untag_kombu(value))
}

/// Quote the bare `NaN`, `Infinity` and `-Infinity` tokens outside strings; `None` when
/// there are none.
fn quote_non_finite(json: &[u8]) -> Option<Vec<u8>> {
    const TOKENS: [&[u8]; 3] = [b"-Infinity", b"Infinity", b"NaN"];
    let mut out = Vec::with_capacity(json.len() + 16);
    let (mut in_string, mut escaped, mut changed) = (false, false, false);
    let mut rest = json;
    while let Some((&byte, tail)) = rest.split_first() {
        if !in_string {
            if let Some(token) = TOKENS.iter().find(|token| rest.starts_with(token)) {
                out.push(b'"');
                out.extend_from_slice(token);
                out.push(b'"');
                rest = rest.get(token.len()..).unwrap_or_default();
                changed = true;
                continue;
            }
            in_string = byte == b'"';
        } else if escaped {
            escaped = false;
        } else if byte == b'\\' {
            escaped = true;
        } else if byte == b'"' {
            in_string = false;
        }
        out.push(byte);
        rest = tail;
    }
    changed.then_some(out)
}

/// Replace kombu's `{"__type__": T, "__value__": V}` objects by readable values,
/// bottom-up like kombu's `object_hook`.
fn untag_kombu(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(untag_kombu).collect()),
        Value::Object(map) => {
            let map: Map<String, Value> =
                map.into_iter().map(|(k, v)| (k, untag_kombu(v))).collect();
            readable_tag(&map).unwrap_or(Value::Object(map))
        }
        other => other,
    }
}

fn readable_tag(map: &Map<String, Value>) -> Option<Value> {
    if map.len() != 2 {
        return None;
    }
    let kind = map.get("__type__")?.as_str()?;
    let value = map.get("__value__")?;
    match (kind, value) {
        ("datetime" | "date" | "time" | "decimal" | "bytes", Value::String(text)) => {
            Some(Value::String(text.clone()))
        }
        ("uuid", Value::Object(uuid)) => {
            let hex = uuid.get("hex")?.as_str()?;
            Some(Value::String(hyphenate_uuid(hex)))
        }
        ("base64", Value::String(encoded)) => Some(json!({ "base64": encoded })),
        _ => None,
    }
}

/// `1234…` (32 hex digits, Python's `UUID.hex`) → `12345678-1234-…`; other text unchanged.
fn hyphenate_uuid(hex: &str) -> String {
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex.to_owned();
    }
    let lower = hex.to_ascii_lowercase();
    let part = |from: usize, to: usize| lower.get(from..to).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

/// msgpack as kombu packs it (`use_bin_type=True`): exactly one value.
fn parse_msgpack(bytes: &[u8]) -> Result<Value, String> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, MSGPACK_MAX_DEPTH)
        .map_err(|err| format!("invalid msgpack: {err}"))?;
    if !reader.is_empty() {
        return Err("invalid msgpack: extra bytes after the value".to_owned());
    }
    Ok(msgpack_to_json(value))
}

fn msgpack_to_json(value: rmpv::Value) -> Value {
    use rmpv::Value as Mp;
    match value {
        Mp::Nil => Value::Null,
        Mp::Boolean(flag) => Value::Bool(flag),
        Mp::Integer(int) => int
            .as_u64()
            .map(Value::from)
            .or_else(|| int.as_i64().map(Value::from))
            .unwrap_or(Value::Null),
        Mp::F32(float) => float_to_json(f64::from(float)),
        Mp::F64(float) => float_to_json(float),
        Mp::String(text) => Value::String(lossy_utf8(text.into_bytes())),
        Mp::Binary(bytes) => json!({ "base64": BASE64.encode(bytes) }),
        Mp::Array(items) => Value::Array(items.into_iter().map(msgpack_to_json).collect()),
        Mp::Map(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(key, value)| (key_text(msgpack_to_json(key)), msgpack_to_json(value)))
                .collect(),
        ),
        Mp::Ext(kind, bytes) => json!({ "msgpack_ext": kind, "base64": BASE64.encode(bytes) }),
    }
}

/// YAML as kombu writes it (`safe_dump`).
fn parse_yaml(bytes: &[u8]) -> Result<Value, String> {
    let value: serde_yaml::Value =
        serde_yaml::from_slice(bytes).map_err(|err| format!("invalid YAML: {err}"))?;
    Ok(yaml_to_json(value))
}

fn yaml_to_json(value: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Yaml;
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(flag) => Value::Bool(flag),
        Yaml::Number(number) => {
            if let Some(int) = number.as_u64() {
                Value::from(int)
            } else if let Some(int) = number.as_i64() {
                Value::from(int)
            } else {
                float_to_json(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        Yaml::String(text) => Value::String(text),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Yaml::Mapping(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(key, value)| (key_text(yaml_to_json(key)), yaml_to_json(value)))
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tagged = *tagged;
            json!({ "yaml_tag": tagged.tag.to_string(), "value": yaml_to_json(tagged.value) })
        }
    }
}

fn float_to_json(float: f64) -> Value {
    Number::from_f64(float).map_or_else(
        || {
            let name = if float.is_nan() {
                "NaN"
            } else if float > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            Value::String(name.to_owned())
        },
        Value::Number,
    )
}

/// A JSON object key for any value: strings as they are, anything else as JSON text.
fn key_text(key: Value) -> String {
    match key {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

fn lossy_utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

// ---------------------------------------------------------------------------------------
// Field helpers and canvas summaries
// ---------------------------------------------------------------------------------------

/// A text field: strings as they are, numbers as their JSON text, anything else absent.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

fn is_true(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true)))
}

/// `[hard, soft]`, each a number or null; `None` when neither is set.
fn time_limit(value: &Value) -> Option<TimeLimit> {
    let limits = value.as_array()?;
    let number = |index: usize| limits.get(index).and_then(Value::as_number).cloned();
    let limit = TimeLimit {
        hard: number(0),
        soft: number(1),
    };
    (limit.hard.is_some() || limit.soft.is_some()).then_some(limit)
}

/// Task names of a list of signatures (`null` → empty; a lone signature counts as one).
fn signature_names(list: Option<&Value>) -> Vec<String> {
    match list {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(|sig| signature_name(sig, 0)).collect(),
        Some(sig) => vec![signature_name(sig, 0)],
    }
}

fn chord_name(sig: &Value) -> Option<String> {
    (!sig.is_null()).then(|| signature_name(sig, 0))
}

/// A readable name for a signature: the task name, or for canvas primitives their
/// members, e.g. `chain(demo.add, demo.mul)`, `group(…)`, `chord(group(…), demo.tsum)`.
fn signature_name(sig: &Value, depth: usize) -> String {
    let sig = match sig {
        Value::Object(sig) => sig,
        Value::String(name) => return name.clone(),
        _ => return "?".to_owned(),
    };
    let name = sig.get("task").and_then(Value::as_str).unwrap_or("?");
    if depth >= SIGNATURE_MAX_DEPTH {
        return name.to_owned();
    }
    let kwargs = sig.get("kwargs");
    let member = |key: &str| kwargs.and_then(|kwargs| kwargs.get(key));
    match sig.get("subtask_type").and_then(Value::as_str) {
        Some(kind @ ("chain" | "group")) => {
            format!("{kind}({})", member_names(member("tasks"), depth + 1))
        }
        Some("chord") => {
            let header = match member("header") {
                Some(Value::Array(_)) | None => {
                    format!("group({})", member_names(member("header"), depth + 1))
                }
                Some(header) => signature_name(header, depth + 1),
            };
            let body = member("body")
                .map_or_else(|| "?".to_owned(), |body| signature_name(body, depth + 1));
            format!("chord({header}, {body})")
        }
        _ => name.to_owned(),
    }
}

fn member_names(list: Option<&Value>, depth: usize) -> String {
    match list {
        Some(Value::Array(items)) => items
            .iter()
            .map(|sig| signature_name(sig, depth))
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Samples from shared/notes/celery-wire-protocols.md §1.7 (placeholders kept).
    const NOTES_ENVELOPE: &str = r#"{"body": "W1swLCAwXSwge30sIHsiY2FsbGJhY2tzIjogbnVsbCwgImVycmJhY2tzIjogbnVsbCwgImNoYWluIjogbnVsbCwgImNob3JkIjogbnVsbH1d",
 "content-encoding": "utf-8", "content-type": "application/json",
 "headers": {"lang": "py", "task": "demo.add", "id": "<task-id>", "shadow": null, "eta": null,
   "expires": null, "group": null, "group_index": null, "retries": 0,
   "timelimit": [null, null], "root_id": "<task-id>", "parent_id": null,
   "argsrepr": "(0, 0)", "kwargsrepr": "{}", "origin": "<origin>", "ignore_result": false,
   "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}},
 "properties": {"correlation_id": "<task-id>", "reply_to": "<oid>", "delivery_mode": 2,
   "delivery_info": {"exchange": "", "routing_key": "parked"}, "priority": 0,
   "body_encoding": "base64", "delivery_tag": "<tag>"}}"#;
    const NOTES_MSGPACK_BODY: &str = "k5IBAoCEqWNhbGxiYWNrc8CoZXJyYmFja3PApWNoYWluwKVjaG9yZMA=";
    const NOTES_ZLIB_BODY: &str =
        "eJyLjjbUUTCK1VGorgVipeTEnJykxOTsYiUrhbzSnBwdBaXUoiI0keSMxMw8ZG5+UQqUWxsLAAnRGfA=";
    const NOTES_V1_BODY: &str = r#"{"task": "demo.add", "id": "<task-id>", "args": [7, 8], "kwargs": {}, "group": null,
 "group_index": null, "retries": 0, "eta": null, "expires": null, "utc": true,
 "callbacks": null, "errbacks": null, "timelimit": [null, null], "taskset": null,
 "chord": null}"#;

    // Real kombu 5.7 / celery 5.7 entries captured from Redis (fixtures/messages/README.md).
    const V2_JSON: &[u8] = include_bytes!("../../fixtures/messages/v2-json.json");
    const V2_JSON_TAGS: &[u8] = include_bytes!("../../fixtures/messages/v2-json-tags.json");
    const V2_MSGPACK: &[u8] = include_bytes!("../../fixtures/messages/v2-msgpack.json");
    const V2_YAML: &[u8] = include_bytes!("../../fixtures/messages/v2-yaml.json");
    const V2_PICKLE: &[u8] = include_bytes!("../../fixtures/messages/v2-pickle.json");
    const V2_GZIP: &[u8] = include_bytes!("../../fixtures/messages/v2-gzip.json");
    const V2_BZ2: &[u8] = include_bytes!("../../fixtures/messages/v2-bz2.json");
    const V2_CHAIN: &[u8] = include_bytes!("../../fixtures/messages/v2-chain.json");
    const V2_CHORD_HEADER: &[u8] = include_bytes!("../../fixtures/messages/v2-chord-header.json");
    const V2_CANVAS_LINKS: &[u8] = include_bytes!("../../fixtures/messages/v2-canvas-links.json");
    const V2_PRIORITY5: &[u8] = include_bytes!("../../fixtures/messages/v2-priority5.json");
    const V1_JSON: &[u8] = include_bytes!("../../fixtures/messages/v1-json.json");
    const V1_JSON_ETA: &[u8] = include_bytes!("../../fixtures/messages/v1-json-eta.json");
    const V1_MSGPACK: &[u8] = include_bytes!("../../fixtures/messages/v1-msgpack.json");
    const UNACKED_ENTRY: &[u8] = include_bytes!("../../fixtures/messages/unacked-entry.json");

    const ALL_FIXTURES: &[&[u8]] = &[
        V2_JSON,
        V2_JSON_TAGS,
        V2_MSGPACK,
        V2_YAML,
        V2_PICKLE,
        V2_GZIP,
        V2_BZ2,
        V2_CHAIN,
        V2_CHORD_HEADER,
        V2_CANVAS_LINKS,
        V2_PRIORITY5,
        V1_JSON,
        V1_JSON_ETA,
        V1_MSGPACK,
    ];

    fn b64(text: &str) -> Vec<u8> {
        BASE64.decode(text).expect("test base64")
    }

    fn fixture(bytes: &[u8]) -> TaskMessage {
        decode(&parse_redis_envelope(bytes).expect("fixture envelope"))
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("JSON object")
    }

    fn message_with(content_type: &str, headers_json: Value, body: Vec<u8>) -> RawMessage {
        RawMessage {
            content_type: Some(content_type.to_owned()),
            headers: object(headers_json),
            body,
            ..RawMessage::default()
        }
    }

    /// Tiny deterministic xorshift, so the fuzz cases are the same on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
        }
    }

    #[test]
    fn notes_redis_envelope_decodes_as_protocol_2() {
        let raw = parse_redis_envelope(NOTES_ENVELOPE.as_bytes()).unwrap();
        assert_eq!(raw.content_type.as_deref(), Some("application/json"));
        assert_eq!(raw.content_encoding.as_deref(), Some("utf-8"));
        assert_eq!(raw.redelivered, Some(false));
        assert_eq!(
            raw.body,
            br#"[[0, 0], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#
        );
        assert_eq!(task_name(&raw).as_deref(), Some("demo.add"));

        let msg = decode(&raw);
        assert_eq!(msg.protocol, Protocol::V2);
        assert_eq!(msg.task.as_deref(), Some("demo.add"));
        assert_eq!(msg.id.as_deref(), Some("<task-id>"));
        assert_eq!(msg.root_id.as_deref(), Some("<task-id>"));
        assert_eq!(msg.args, Some(json!([0, 0])));
        assert_eq!(msg.kwargs, Some(json!({})));
        assert_eq!(msg.argsrepr.as_deref(), Some("(0, 0)"));
        assert_eq!(msg.retries, Some(0));
        assert_eq!(msg.priority, Some(0));
        assert_eq!(msg.time_limit, None);
        assert_eq!(msg.body, BodyStatus::Decoded);
        assert_eq!(msg.size, 81);
        assert_eq!(msg.callbacks, Some(vec![]));
        assert_eq!(msg.chain, Some(vec![]));
        assert_eq!(msg.chord, None);
        assert!(msg.headers_extra.is_empty());
    }

    #[test]
    fn notes_msgpack_body() {
        let value = decode_payload(
            Some("application/x-msgpack"),
            None,
            &b64(NOTES_MSGPACK_BODY),
        )
        .unwrap();
        assert_eq!(
            value,
            json!([[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}])
        );
    }

    #[test]
    fn notes_compressed_body() {
        let message = message_with(
            "application/json",
            json!({"task": "demo.add", "id": "t", "compression": "application/x-gzip"}),
            b64(NOTES_ZLIB_BODY),
        );
        let msg = decode(&message);
        assert_eq!(msg.body, BodyStatus::Decoded);
        assert_eq!(msg.compression.as_deref(), Some("application/x-gzip"));
        assert_eq!(msg.size, b64(NOTES_ZLIB_BODY).len());
        assert!(msg.args.is_some_and(|args| args.is_array()));
        assert!(
            msg.headers_extra.is_empty(),
            "compression is a standard header"
        );
        for alias in ["gzip", "zlib", "application/x-gzip"] {
            assert!(
                decode_payload(Some("application/json"), Some(alias), &b64(NOTES_ZLIB_BODY))
                    .is_ok()
            );
        }
    }

    #[test]
    fn notes_protocol_1_body() {
        let message = RawMessage {
            content_type: Some("application/json".to_owned()),
            body: NOTES_V1_BODY.as_bytes().to_vec(),
            ..RawMessage::default()
        };
        assert_eq!(task_name(&message).as_deref(), Some("demo.add"));
        let msg = decode(&message);
        assert_eq!(msg.protocol, Protocol::V1);
        assert_eq!(msg.task.as_deref(), Some("demo.add"));
        assert_eq!(msg.id.as_deref(), Some("<task-id>"));
        assert_eq!(msg.args, Some(json!([7, 8])));
        assert_eq!(msg.kwargs, Some(json!({})));
        assert_eq!(msg.retries, Some(0));
        assert_eq!(msg.callbacks, Some(vec![]));
        assert_eq!(msg.chain, None, "protocol 1 has no chain field");
    }

    #[test]
    fn real_protocol_2_json() {
        let msg = fixture(V2_JSON);
        assert_eq!(msg.protocol, Protocol::V2);
        assert_eq!(
            msg.id.as_deref(),
            Some("11111111-1111-4111-8111-111111111111")
        );
        assert_eq!(msg.args, Some(json!([2, 3])));
        assert_eq!(msg.origin.as_deref(), Some("gen17057@vm"));
        assert_eq!(msg.redelivered, Some(false));
    }

    #[test]
    fn peek_json_contract() {
        let msg = fixture(V2_JSON_TAGS);
        let shape = serde_json::to_value(&msg).unwrap();
        assert_eq!(
            shape,
            json!({
                "protocol": "v2",
                "id": "22222222-2222-4222-8222-222222222222",
                "task": "demo.send_email",
                "shadow": null,
                "args": ["b@example.com"],
                "kwargs": {
                    "subject": "x",
                    "when": "2026-11-24T05:15:28.027303+00:00",
                    "day": "2026-11-24",
                    "at": "05:15:00",
                    "amount": "12.50",
                    "ref": "12345678-1234-5678-1234-567812345678",
                    "blob": "hello",
                    "raw": {"base64": "/wAB"}
                },
                "argsrepr": "('b@example.com',)",
                "kwargsrepr": "{'subject': 'x', 'when': datetime.datetime(2026, 11, 24, 5, 15, 28, 27303, tzinfo=datetime.timezone.utc), 'day': datetime.date(2026, 11, 24), 'at': datetime.time(5, 15), 'amount': Decimal('12.50'), 'ref': UUID('12345678-1234-5678-1234-567812345678'), 'blob': b'hello', 'raw': b'ff0001'}",
                "eta": "2026-11-25T14:34:53.102459+00:00",
                "expires": "2026-11-25T15:24:53.102459+00:00",
                "retries": 0,
                "time_limit": {"hard": 30, "soft": 20},
                "root_id": "22222222-2222-4222-8222-222222222222",
                "parent_id": null,
                "group": null,
                "group_index": null,
                "origin": "gen17057@vm",
                "priority": 0,
                "redelivered": false,
                "content_type": "application/json",
                "content_encoding": "utf-8",
                "compression": null,
                "size": msg.size,
                "body": {"status": "decoded"},
                "callbacks": ["demo.add"],
                "errbacks": ["demo.boom"],
                "chain": [],
                "chord": null,
                "headers_extra": {"x-custom": "yes"}
            })
        );
        // The contract round-trips (recorded states can be read back).
        let back: TaskMessage = serde_json::from_value(shape).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn real_msgpack_binary_and_integer_keys() {
        let msg = fixture(V2_MSGPACK);
        assert_eq!(msg.body, BodyStatus::Decoded);
        assert_eq!(msg.task.as_deref(), Some("demo.echo"));
        assert_eq!(
            msg.args,
            Some(json!([{"base64": "AAFiaW5hcnk="}, {"1": "one", "k": [1.5, null, true]}]))
        );
        assert_eq!(msg.kwargs, Some(json!({"n": -7})));
        assert_eq!(msg.content_encoding.as_deref(), Some("binary"));
    }

    #[test]
    fn real_yaml() {
        let msg = fixture(V2_YAML);
        assert_eq!(msg.body, BodyStatus::Decoded);
        assert_eq!(msg.args, Some(json!([4])));
        assert_eq!(msg.kwargs, Some(json!({"y": 1})));
        assert_eq!(msg.callbacks, Some(vec![]));
    }

    #[test]
    fn pickle_is_never_decoded() {
        let raw = parse_redis_envelope(V2_PICKLE).unwrap();
        let msg = decode(&raw);
        assert_eq!(msg.protocol, Protocol::V2);
        assert_eq!(msg.task.as_deref(), Some("demo.add"));
        assert_eq!(
            msg.body,
            BodyStatus::Pickle {
                note: "never unpickled".to_owned()
            }
        );
        assert_eq!(msg.args, None);
        assert_eq!(msg.kwargs, None);
        assert_eq!(msg.callbacks, None);
        assert_eq!(msg.argsrepr.as_deref(), Some("(6, 7)"));
        assert_eq!(msg.kwargsrepr.as_deref(), Some("{}"));
        assert_eq!(msg.size, raw.body.len());
        assert_eq!(
            serde_json::to_value(&msg.body).unwrap(),
            json!({"status": "pickle", "note": "never unpickled"})
        );
        let err =
            decode_payload(Some("application/x-python-serialize"), None, &raw.body).unwrap_err();
        assert!(err.contains("never unpickled"), "{err}");

        // Protocol 1 pickle: the name lives inside the pickle, so it stays unknown.
        let v1 = RawMessage {
            content_type: raw.content_type.clone(),
            body: raw.body.clone(),
            ..RawMessage::default()
        };
        assert_eq!(task_name(&v1), None);
        assert_eq!(decode(&v1).protocol, Protocol::Unknown);
    }

    #[test]
    fn real_gzip() {
        let msg = fixture(V2_GZIP);
        assert_eq!(msg.body, BodyStatus::Decoded);
        assert_eq!(msg.compression.as_deref(), Some("application/x-gzip"));
        assert_eq!(msg.args, Some(json!([[1, 2, 3], 4])));
    }

    #[test]
    fn unsupported_compression_is_undecodable() {
        let msg = fixture(V2_BZ2);
        assert_eq!(msg.task.as_deref(), Some("demo.add"));
        assert_eq!(
            msg.body,
            BodyStatus::Undecodable {
                reason: "compression application/x-bz2 is not supported".to_owned()
            }
        );
        assert_eq!(msg.args, None);
        for name in [
            "application/x-lzma",
            "application/x-brotli",
            "application/zstd",
            "xz",
        ] {
            let err = decode_payload(Some("application/json"), Some(name), b"x").unwrap_err();
            assert_eq!(err, format!("compression {name} is not supported"));
        }
    }

    #[test]
    fn decompression_is_bounded() {
        use flate2::Compression;
        use flate2::write::ZlibEncoder;
        use std::io::Write;
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&[b' '; 4096]).unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(inflate(&bomb, 4096).is_ok());
        let err = inflate(&bomb, 4095).unwrap_err();
        assert!(err.contains("more than"), "{err}");
        // Corrupt streams are reasons, not panics.
        let err = decode_payload(Some("application/json"), Some("gzip"), b"not zlib").unwrap_err();
        assert!(err.starts_with("body does not decompress"), "{err}");
    }

    #[test]
    fn gzip_container_is_accepted_too() {
        use flate2::Compression;
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder
            .write_all(br#"{"w1@probe": {"ok": "pong"}}"#)
            .unwrap();
        let body = encoder.finish().unwrap();
        let value = decode_payload(Some("application/json"), Some("gzip"), &body).unwrap();
        assert_eq!(value, json!({"w1@probe": {"ok": "pong"}}));
    }

    #[test]
    fn chain_runs_in_reverse_wire_order() {
        // Sent as chain(add.s(1, 2), add.s(3), echo.s(), tsum.s()); the wire list is
        // [tsum, echo, add(3)].
        let msg = fixture(V2_CHAIN);
        assert_eq!(msg.args, Some(json!([1, 2])));
        assert_eq!(
            msg.chain,
            Some(vec![
                "demo.add".to_owned(),
                "demo.echo".to_owned(),
                "demo.tsum".to_owned()
            ])
        );
    }

    #[test]
    fn chord_header_member() {
        let msg = fixture(V2_CHORD_HEADER);
        assert_eq!(msg.chord.as_deref(), Some("demo.tsum"));
        assert_eq!(
            msg.group.as_deref(),
            Some("9f74da2d-b993-42c9-9c02-ea21f91ff94d")
        );
        assert_eq!(msg.group_index, Some(0));
    }

    #[test]
    fn canvas_links_are_summarised() {
        let msg = fixture(V2_CANVAS_LINKS);
        assert_eq!(
            msg.callbacks,
            Some(vec!["chain(demo.add, demo.echo)".to_owned()])
        );
        assert_eq!(
            msg.errbacks,
            Some(vec!["group(demo.boom, demo.send_email)".to_owned()])
        );
        let chord = json!({"task": "celery.chord", "subtask_type": "chord", "kwargs": {
            "header": {"task": "celery.group", "subtask_type": "group",
                       "kwargs": {"tasks": [{"task": "a"}, {"task": "b"}]}},
            "body": {"task": "c"}}});
        assert_eq!(signature_name(&chord, 0), "chord(group(a, b), c)");
        let listed = json!({"subtask_type": "chord", "kwargs": {"header": [{"task": "a"}], "body": {"task": "c"}}});
        assert_eq!(signature_name(&listed, 0), "chord(group(a), c)");
        // Deep nesting stops at the limit instead of recursing forever.
        let mut deep = json!({"task": "leaf"});
        for _ in 0..100 {
            deep = json!({"task": "celery.chain", "subtask_type": "chain", "kwargs": {"tasks": [deep]}});
        }
        assert!(signature_name(&deep, 0).starts_with("chain(chain("));
    }

    #[test]
    fn priority_comes_from_properties() {
        assert_eq!(fixture(V2_PRIORITY5).priority, Some(5));
    }

    #[test]
    fn real_protocol_1() {
        let raw = parse_redis_envelope(V1_JSON).unwrap();
        assert!(raw.headers.is_empty());
        let msg = decode(&raw);
        assert_eq!(msg.protocol, Protocol::V1);
        assert_eq!(msg.task.as_deref(), Some("demo.add"));
        assert_eq!(
            msg.id.as_deref(),
            Some("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
        );
        assert_eq!(msg.args, Some(json!([7, 8])));
        assert_eq!(msg.argsrepr, None);

        let msg = fixture(V1_JSON_ETA);
        assert_eq!(msg.protocol, Protocol::V1);
        assert_eq!(msg.eta.as_deref(), Some("2026-11-25T14:34:53.421163+00:00"));
        assert_eq!(
            msg.expires.as_deref(),
            Some("2026-11-25T15:24:53.421163+00:00")
        );
        assert_eq!(msg.callbacks, Some(vec!["demo.add".to_owned()]));
        assert_eq!(msg.kwargs, Some(json!({"subject": "x"})));

        let msg = fixture(V1_MSGPACK);
        assert_eq!(msg.protocol, Protocol::V1);
        assert_eq!(msg.args, Some(json!([1, 2])));
    }

    #[test]
    fn protocol_1_taskset_is_the_group() {
        let message = RawMessage {
            content_type: Some("application/json".to_owned()),
            body: br#"{"task": "t", "id": "i", "args": [], "kwargs": {}, "taskset": "g1"}"#
                .to_vec(),
            ..RawMessage::default()
        };
        assert_eq!(decode(&message).group.as_deref(), Some("g1"));
    }

    #[test]
    fn unacked_entry() {
        let (raw, exchange, routing_key) = parse_unacked_entry(UNACKED_ENTRY).unwrap();
        assert_eq!(exchange, "");
        assert_eq!(routing_key, "q");
        assert_eq!(task_name(&raw).as_deref(), Some("demo.add"));
        assert_eq!(decode(&raw).args, Some(json!([8, 9])));

        assert_eq!(parse_unacked_entry(b"[").unwrap_err(), "not JSON");
        assert_eq!(
            parse_unacked_entry(b"[{}, \"\"]").unwrap_err(),
            "not [envelope, exchange, routing_key]"
        );
        assert_eq!(
            parse_unacked_entry(b"[{}, \"\", \"q\"]").unwrap_err(),
            "no properties"
        );
    }

    #[test]
    fn envelope_errors_are_reasons() {
        assert_eq!(parse_redis_envelope(b"\xff").unwrap_err(), "not JSON");
        assert_eq!(
            parse_redis_envelope(b"[]").unwrap_err(),
            "not a JSON object"
        );
        assert_eq!(parse_redis_envelope(b"{}").unwrap_err(), "no properties");
        assert_eq!(
            parse_redis_envelope(br#"{"properties": {"body_encoding": "base64"}, "body": "!!"}"#)
                .unwrap_err(),
            "body is not valid base64"
        );
        assert_eq!(
            parse_redis_envelope(br#"{"properties": {}, "body": 1}"#).unwrap_err(),
            "body is not a string"
        );
        assert_eq!(
            parse_redis_envelope(br#"{"properties": {}, "headers": []}"#).unwrap_err(),
            "headers is not an object"
        );
        // Minimal envelope: no headers, plain-text body, kombu's defaults.
        let raw = parse_redis_envelope(br#"{"properties": {"delivery_tag": "t"}, "body": "hi"}"#)
            .unwrap();
        assert_eq!(raw.body, b"hi");
        assert_eq!(decode(&raw).body, BodyStatus::Opaque);
    }

    #[test]
    fn restored_message_is_redelivered() {
        let mut envelope: Value = serde_json::from_slice(V2_JSON).unwrap();
        envelope["headers"]["redelivered"] = json!(true);
        let raw = parse_redis_envelope(envelope.to_string().as_bytes()).unwrap();
        let msg = decode(&raw);
        assert_eq!(msg.redelivered, Some(true));
        assert!(msg.headers_extra.is_empty());

        // An AMQP caller that did not say still gets kombu's marks.
        let amqp = RawMessage {
            redelivered: None,
            ..raw
        };
        assert_eq!(decode(&amqp).redelivered, Some(true));
    }

    #[test]
    fn amqp_message_from_the_management_api() {
        // §1.7 RabbitMQ sample: void headers arrive as null, the payload is plain text.
        let message = RawMessage {
            content_type: Some("application/json".to_owned()),
            content_encoding: Some("utf-8".to_owned()),
            headers: object(json!({"argsrepr": "(1, 2)", "eta": null, "expires": null,
                "group": null, "group_index": null, "id": "<task-id>", "ignore_result": false,
                "kwargsrepr": "{}", "lang": "py", "origin": "<origin>", "parent_id": null,
                "replaced_task_nesting": 0, "retries": 0, "root_id": "<task-id>", "shadow": null,
                "stamped_headers": null, "stamps": {}, "task": "demo.add", "timelimit": [null, null],
                "x-death": [{"count": 1, "queue": "parked"}]})),
            properties: object(json!({"reply_to": "<oid>", "correlation_id": "<task-id>", "delivery_mode": 2})),
            body: br#"[[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#.to_vec(),
            redelivered: Some(false),
        };
        let msg = decode(&message);
        assert_eq!(msg.protocol, Protocol::V2);
        assert_eq!(msg.args, Some(json!([1, 2])));
        assert_eq!(msg.priority, None);
        assert_eq!(msg.redelivered, Some(false));
        assert_eq!(msg.size, 81);
        assert_eq!(msg.headers_extra.keys().collect::<Vec<_>>(), ["x-death"]);
    }

    #[test]
    fn missing_id_falls_back_to_correlation_id() {
        let mut message = message_with(
            "application/json",
            json!({"task": "t"}),
            b"[[], {}, {}]".to_vec(),
        );
        message.properties = object(json!({"correlation_id": "c-1"}));
        assert_eq!(decode(&message).id.as_deref(), Some("c-1"));
    }

    #[test]
    fn content_types() {
        let body = b"[[], {}, null]".to_vec();
        let with = |ct: Option<&str>| {
            decode(&RawMessage {
                content_type: ct.map(str::to_owned),
                headers: object(json!({"task": "t"})),
                body: body.clone(),
                ..RawMessage::default()
            })
            .body
        };
        assert_eq!(
            with(Some("application/json; charset=utf-8")),
            BodyStatus::Decoded
        );
        assert_eq!(with(Some("Application/JSON")), BodyStatus::Decoded);
        assert_eq!(with(Some("application/data")), BodyStatus::Opaque);
        assert_eq!(with(None), BodyStatus::Opaque);
        assert_eq!(
            with(Some("application/x-protobuf")),
            BodyStatus::Undecodable {
                reason: "content type application/x-protobuf is not supported".to_owned()
            }
        );
        assert!(
            decode_payload(Some("application/data"), None, b"x")
                .unwrap_err()
                .contains("opaque")
        );
        assert!(decode_payload(None, None, b"x").is_err());
    }

    #[test]
    fn protocol_2_body_shape_is_checked() {
        for body in [&b"{}"[..], b"[[], {}]", b"[1, 2, 3, 4]", b"\"x\""] {
            let msg = decode(&message_with(
                "application/json",
                json!({"task": "t"}),
                body.to_vec(),
            ));
            assert_eq!(msg.protocol, Protocol::V2);
            assert_eq!(msg.task.as_deref(), Some("t"));
            assert!(
                matches!(msg.body, BodyStatus::Undecodable { .. }),
                "{body:?}"
            );
            assert_eq!(msg.args, None);
        }
        let msg = decode(&message_with(
            "application/json",
            json!({"task": "t"}),
            b"[[1], {}, null]".to_vec(),
        ));
        assert_eq!(msg.body, BodyStatus::Decoded);
        assert_eq!(msg.callbacks, Some(vec![]));
    }

    #[test]
    fn hybrid_protocol_1_body_under_protocol_2_headers() {
        let body = br#"{"args": [1], "kwargs": {"k": 2}, "callbacks": [{"task": "demo.add"}], "eta": "2026-01-01T00:00:00"}"#;
        let msg = decode(&message_with(
            "application/json",
            json!({"task": "t", "id": "i"}),
            body.to_vec(),
        ));
        assert_eq!(msg.protocol, Protocol::V2);
        assert_eq!(msg.body, BodyStatus::Decoded);
        assert_eq!(msg.args, Some(json!([1])));
        assert_eq!(msg.kwargs, Some(json!({"k": 2})));
        assert_eq!(msg.callbacks, Some(vec!["demo.add".to_owned()]));
        assert_eq!(msg.eta.as_deref(), Some("2026-01-01T00:00:00"));
        assert_eq!(msg.id.as_deref(), Some("i"));
    }

    #[test]
    fn unknown_messages() {
        let msg = decode(&message_with(
            "application/json",
            json!({}),
            br#"{"method": "ping"}"#.to_vec(),
        ));
        assert_eq!(msg.protocol, Protocol::Unknown);
        assert_eq!(msg.body, BodyStatus::Decoded);
        assert_eq!(msg.args, None);
        let msg = decode(&message_with("application/json", json!({}), b"{".to_vec()));
        assert_eq!(msg.protocol, Protocol::Unknown);
        assert!(
            matches!(msg.body, BodyStatus::Undecodable { ref reason } if reason.starts_with("invalid JSON"))
        );
        let msg = decode(&message_with("application/json", json!({}), Vec::new()));
        assert_eq!(
            msg.body,
            BodyStatus::Undecodable {
                reason: "empty body".to_owned()
            }
        );
    }

    #[test]
    fn task_name_uses_the_header_without_decoding() {
        let message = message_with(
            "application/json",
            json!({"task": "demo.add"}),
            b"garbage".to_vec(),
        );
        assert_eq!(task_name(&message).as_deref(), Some("demo.add"));
        let message = message_with("application/json", json!({"task": null}), Vec::new());
        assert_eq!(task_name(&message), None);
        let message = message_with("application/json", json!({}), b"[1]".to_vec());
        assert_eq!(task_name(&message), None);
    }

    #[test]
    fn python_non_finite_floats() {
        let body = br#"[[NaN, Infinity, -Infinity, "NaN \" Infinity"], {}, null]"#;
        let value = decode_payload(Some("application/json"), None, body).unwrap();
        assert_eq!(
            value,
            json!([
                ["NaN", "Infinity", "-Infinity", "NaN \" Infinity"],
                {},
                null
            ])
        );
        assert_eq!(quote_non_finite(b"[1]"), None);
        assert_eq!(float_to_json(f64::NEG_INFINITY), json!("-Infinity"));
    }

    #[test]
    fn kombu_tags() {
        let body = br#"{"u": {"__type__": "uuid", "__value__": {"hex": "ABCDEF0123456789ABCDEF0123456789"}},
            "odd": {"__type__": "uuid", "__value__": {"hex": "xyz"}},
            "unknown": {"__type__": "set", "__value__": [1]},
            "three": {"__type__": "date", "__value__": "2026-01-01", "extra": 1},
            "nested": [{"__type__": "decimal", "__value__": "1.5"}]}"#;
        let value = decode_payload(Some("application/json"), None, body).unwrap();
        assert_eq!(value["u"], json!("abcdef01-2345-6789-abcd-ef0123456789"));
        assert_eq!(value["odd"], json!("xyz"));
        assert_eq!(
            value["unknown"],
            json!({"__type__": "set", "__value__": [1]})
        );
        assert_eq!(value["three"]["extra"], json!(1));
        assert_eq!(value["nested"], json!(["1.5"]));
    }

    #[test]
    fn msgpack_edge_cases() {
        let msgpack = |body: &[u8]| decode_payload(Some("application/x-msgpack"), None, body);
        // {nil: 1, true: bin8 [0xff]}
        let map = [0x82, 0xc0, 0x01, 0xc3, 0xc4, 0x01, 0xff];
        assert_eq!(
            msgpack(&map).unwrap(),
            json!({"null": 1, "true": {"base64": "/w=="}})
        );
        // [NaN, fixext1(type 5, "x"), str with invalid UTF-8]
        let mut array = vec![0x93, 0xcb];
        array.extend(f64::NAN.to_be_bytes());
        array.extend([0xd4, 0x05, b'x', 0xa2, 0xff, 0xfe]);
        assert_eq!(
            msgpack(&array).unwrap(),
            json!(["NaN", {"msgpack_ext": 5, "base64": "eA=="}, "\u{fffd}\u{fffd}"])
        );
        // Two values back to back are not one message.
        let err = msgpack(&[map.as_slice(), array.as_slice()].concat()).unwrap_err();
        assert!(err.contains("extra bytes"), "{err}");
    }

    #[test]
    fn yaml_edge_cases() {
        let value = decode_payload(
            Some("application/x-yaml"),
            None,
            b"1: one\n? [a]\n: x\nt: !Thing 3\nf: .nan\n",
        )
        .unwrap();
        assert_eq!(
            value,
            json!({"1": "one", "[\"a\"]": "x", "t": {"yaml_tag": "!Thing", "value": 3}, "f": "NaN"})
        );
        let laughs =
            b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
        assert!(decode_payload(Some("application/x-yaml"), None, laughs).is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep_json = vec![b'['; 100_000];
        assert!(decode_payload(Some("application/json"), None, &deep_json).is_err());
        let deep_msgpack = vec![0x91; 100_000];
        assert!(decode_payload(Some("application/x-msgpack"), None, &deep_msgpack).is_err());
        let deep_yaml = vec![b'['; 100_000];
        assert!(decode_payload(Some("application/x-yaml"), None, &deep_yaml).is_err());
    }

    #[test]
    fn fuzz_never_panics() {
        const CONTENT_TYPES: [Option<&str>; 6] = [
            Some("application/json"),
            Some("application/x-msgpack"),
            Some("application/x-yaml"),
            Some("application/x-python-serialize"),
            Some("application/data"),
            None,
        ];
        const COMPRESSIONS: [Option<&str>; 3] =
            [None, Some("application/x-gzip"), Some("application/x-bz2")];
        let check = |body: &[u8]| {
            for content_type in CONTENT_TYPES {
                for compression in COMPRESSIONS {
                    let _ = decode_payload(content_type, compression, body);
                    for task_header in [json!({"task": "t"}), json!({})] {
                        let mut headers = object(task_header);
                        if let Some(name) = compression {
                            headers.insert("compression".to_owned(), json!(name));
                        }
                        let message = RawMessage {
                            content_type: content_type.map(str::to_owned),
                            headers,
                            body: body.to_vec(),
                            ..RawMessage::default()
                        };
                        let msg = decode(&message);
                        let _ = task_name(&message);
                        assert!(serde_json::to_string(&msg).is_ok());
                    }
                }
            }
        };

        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for len in (0..64).chain([256, 1024]) {
            check(&rng.bytes(len));
        }
        let mut bodies: Vec<Vec<u8>> = vec![
            b64(NOTES_MSGPACK_BODY),
            b64(NOTES_ZLIB_BODY),
            NOTES_V1_BODY.into(),
        ];
        for entry in ALL_FIXTURES.iter().chain([&UNACKED_ENTRY]) {
            for cut in 0..entry.len() {
                let prefix = entry.get(..cut).unwrap_or_default();
                let _ = parse_redis_envelope(prefix);
                let _ = parse_unacked_entry(prefix);
            }
            if let Ok(raw) = parse_redis_envelope(entry) {
                bodies.push(raw.body);
            }
        }
        for body in &bodies {
            let step = (body.len() / 150).max(1);
            for cut in (0..body.len()).step_by(step) {
                check(body.get(..cut).unwrap_or_default());
            }
            // Flip bytes in place as well.
            let mut flipped = body.clone();
            for _ in 0..8 {
                if let Some(byte) = flipped.get_mut(rng.next() as usize % body.len().max(1)) {
                    *byte ^= rng.next().to_le_bytes()[0] | 1;
                }
                check(&flipped);
            }
        }
    }

    #[test]
    fn every_fixture_decodes() {
        for entry in ALL_FIXTURES {
            let raw = parse_redis_envelope(entry).unwrap();
            let msg = decode(&raw);
            assert!(msg.task.is_some(), "{msg:?}");
            assert!(msg.id.is_some());
            assert_eq!(task_name(&raw), msg.task);
        }
    }

    #[test]
    fn envelope_task_name_matches_the_full_decode() {
        for sample in [
            &include_bytes!("../../fixtures/messages/v2-json.json")[..],
            include_bytes!("../../fixtures/messages/v2-msgpack.json"),
            include_bytes!("../../fixtures/messages/v2-pickle.json"),
            include_bytes!("../../fixtures/messages/v1-json.json"),
            include_bytes!("../../fixtures/messages/v1-msgpack.json"),
            b"not json",
            br#"{"headers": null, "properties": {}}"#,
        ] {
            let full = parse_redis_envelope(sample)
                .ok()
                .and_then(|raw| task_name(&raw));
            assert_eq!(envelope_task_name(sample), full);
        }
        assert_eq!(
            envelope_task_name(include_bytes!("../../fixtures/messages/v1-json.json")),
            Some("demo.add".into())
        );
    }
}
