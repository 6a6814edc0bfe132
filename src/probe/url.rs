//! Broker URLs as Celery and kombu write them, parsed once and printed only redacted.
//!
//! Supported: `redis://`, `rediss://`, `redis+socket://` / `socket://` / `unix://`,
//! `sentinel://h:26379;sentinel://h2:26379` (master name from the `master_name` transport
//! option), `amqp://`, `amqps://`, `pyamqp://`, `librabbitmq://`. A `;`-separated failover list
//! of non-Sentinel URLs probes the first one, as kombu connects to the first one first.

use std::fmt;

use percent_encoding::percent_decode_str;

use super::error::ProbeError;

/// Which wire protocol a broker speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerKind {
    Redis,
    Amqp,
}

/// How to reach a Redis server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisEndpoint {
    Tcp {
        host: String,
        port: u16,
        tls: bool,
        /// `ssl_cert_reqs=none` (or `CERT_NONE`): do not verify the server certificate.
        insecure: bool,
    },
    Unix {
        path: String,
    },
    Sentinel {
        sentinels: Vec<(String, u16)>,
    },
}

/// A parsed Redis broker URL.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    pub endpoint: RedisEndpoint,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// A parsed AMQP broker URL.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub username: String,
    pub password: String,
    pub vhost: String,
}

/// A broker URL. `Display` and `Debug` print it with the password masked; the secret parts are
/// reachable only through the typed fields.
#[derive(Clone)]
pub struct BrokerUrl {
    pub kind: BrokerKind,
    pub redis: Option<RedisUrl>,
    pub amqp: Option<AmqpUrl>,
    redacted: String,
    secrets: Vec<String>,
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BrokerUrl({})", self.redacted)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisUrl")
            .field("endpoint", &self.endpoint)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .finish()
    }
}

impl fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &"****")
            .field("vhost", &self.vhost)
            .finish()
    }
}

impl BrokerUrl {
    /// Parse a broker URL. Errors never contain the password.
    pub fn parse(raw: &str) -> Result<BrokerUrl, ProbeError> {
        let raw = raw.trim();
        let bad = |reason: String| ProbeError::BadUrl {
            url: redact_url_text(raw),
            reason,
        };
        if raw.is_empty() {
            return Err(bad("the URL is empty".into()));
        }
        let scheme = raw
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .ok_or_else(|| bad("expected `scheme://…`, e.g. `redis://localhost:6379/0`".into()))?;
        match scheme.as_str() {
            "sentinel" => parse_sentinel(raw).map_err(bad),
            _ => {
                // A failover list: kombu tries the first URL first.
                let first = raw.split(';').next().unwrap_or(raw).trim();
                match scheme.as_str() {
                    "redis" | "rediss" | "redis+socket" | "socket" | "unix" | "redis+unix" => {
                        parse_redis(first).map_err(bad)
                    }
                    "amqp" | "amqps" | "pyamqp" | "librabbitmq" => parse_amqp(first).map_err(bad),
                    "sqs" => Err(bad("SQS brokers are not supported yet".into())),
                    other => Err(bad(format!(
                        "unsupported scheme `{other}`; use redis://, rediss://, redis+socket://, sentinel://, amqp:// or amqps://"
                    ))),
                }
            }
        }
    }

    /// The passwords in this URL, for masking any text that might echo them.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// Mask this URL's password where text from a client library may echo it: in URL
    /// position (`:password@`, as written or percent-encoded), and in any URL in the text.
    pub fn redact(&self, text: &str) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let mut out = redact_url_text(text);
        for s in self.secrets.iter().filter(|s| !s.is_empty()) {
            let encoded = utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
            for form in [s.as_str(), encoded.as_str()] {
                out = out.replace(&format!(":{form}@"), ":****@");
            }
        }
        out
    }
}

/// Mask the password of anything that looks like a URL with credentials, even an unparsable
/// one. The password runs from the first `:` after `://` to the last `@` of the URL (a password
/// may itself hold `/`, `?`, `#` or `@` when it was not percent-encoded); a URL ends at white
/// space, `;` (kombu's failover separator) or a quote.
pub fn redact_url_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == ';' || c == '"' || c == '\'' || c == '`' || c.is_whitespace())
            .unwrap_or(tail.len());
        let url = &tail[..end];
        match (url.find(':'), url.rfind('@')) {
            (Some(colon), Some(at)) if colon < at => {
                out.push_str(&url[..colon]);
                out.push_str(":****");
                out.push_str(&url[at..]);
            }
            _ => out.push_str(url),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn parse_url(raw: &str) -> Result<url::Url, String> {
    url::Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))
}

fn credentials(u: &url::Url) -> (Option<String>, Option<String>) {
    let user = (!u.username().is_empty()).then(|| decode(u.username()));
    let pass = u.password().map(decode);
    (user, pass)
}

fn query(u: &url::Url, key: &str) -> Option<String> {
    u.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn db_from(text: &str) -> Result<i64, String> {
    let t = text.trim_matches('/');
    if t.is_empty() {
        return Ok(0);
    }
    t.parse::<i64>()
        .ok()
        .filter(|d| *d >= 0)
        .ok_or_else(|| format!("the database number `{t}` is not a non-negative integer"))
}

fn parse_redis(raw: &str) -> Result<BrokerUrl, String> {
    let u = parse_url(raw)?;
    let scheme = u.scheme().to_ascii_lowercase();
    let (username, password) = credentials(&u);
    let (endpoint, db) = if matches!(
        scheme.as_str(),
        "redis+socket" | "socket" | "unix" | "redis+unix"
    ) {
        let path = decode(u.path());
        if path.is_empty() || path == "/" {
            return Err("a socket URL needs a path, e.g. `redis+socket:///run/redis.sock`".into());
        }
        let db = match query(&u, "virtual_host").or_else(|| query(&u, "db")) {
            Some(v) => db_from(&v)?,
            None => 0,
        };
        (RedisEndpoint::Unix { path }, db)
    } else {
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost")
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let tls = scheme == "rediss";
        let reqs = query(&u, "ssl_cert_reqs").unwrap_or_default();
        let insecure = tls && matches!(reqs.to_ascii_lowercase().as_str(), "none" | "cert_none");
        let db = match query(&u, "virtual_host") {
            Some(v) => db_from(&v)?,
            None => db_from(u.path())?,
        };
        (
            RedisEndpoint::Tcp {
                host,
                port: u.port().unwrap_or(6379),
                tls,
                insecure,
            },
            db,
        )
    };
    let redacted = redacted_string(&u);
    Ok(BrokerUrl {
        kind: BrokerKind::Redis,
        secrets: password.iter().cloned().collect(),
        redis: Some(RedisUrl {
            endpoint,
            db,
            username,
            password,
        }),
        amqp: None,
        redacted,
    })
}

fn parse_sentinel(raw: &str) -> Result<BrokerUrl, String> {
    let mut sentinels = Vec::new();
    let mut db = 0;
    let mut username = None;
    let mut password = None;
    let mut shown = Vec::new();
    for part in raw.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let u = parse_url(part)?;
        if u.scheme() != "sentinel" {
            return Err(format!(
                "every part of a Sentinel URL must start with `sentinel://`, not `{}://`",
                u.scheme()
            ));
        }
        let host = u.host_str().unwrap_or("localhost").to_string();
        sentinels.push((host, u.port().unwrap_or(26379)));
        let (user, pass) = credentials(&u);
        username = username.or(user);
        password = password.or(pass);
        if !u.path().is_empty() && u.path() != "/" {
            db = db_from(u.path())?;
        }
        shown.push(redacted_string(&u));
    }
    if sentinels.is_empty() {
        return Err("no Sentinel address given".into());
    }
    Ok(BrokerUrl {
        kind: BrokerKind::Redis,
        secrets: password.iter().cloned().collect(),
        redis: Some(RedisUrl {
            endpoint: RedisEndpoint::Sentinel { sentinels },
            db,
            username,
            password,
        }),
        amqp: None,
        redacted: shown.join(";"),
    })
}

fn parse_amqp(raw: &str) -> Result<BrokerUrl, String> {
    let u = parse_url(raw)?;
    let tls = u.scheme().eq_ignore_ascii_case("amqps");
    let (username, password) = credentials(&u);
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or("localhost")
        .trim_matches(|c| c == '[' || c == ']')
        .to_string();
    // kombu: the vhost is the path without its leading '/', percent-decoded; none means '/'.
    let path = u.path();
    let vhost = match path.strip_prefix('/') {
        None | Some("") => "/".to_string(),
        Some(v) => decode(v),
    };
    let password = password.unwrap_or_else(|| "guest".into());
    let redacted = redacted_string(&u);
    Ok(BrokerUrl {
        kind: BrokerKind::Amqp,
        secrets: vec![password.clone()],
        redis: None,
        amqp: Some(AmqpUrl {
            host,
            port: u.port().unwrap_or(if tls { 5671 } else { 5672 }),
            tls,
            username: username.unwrap_or_else(|| "guest".into()),
            password,
            vhost,
        }),
        redacted,
    })
}

fn redacted_string(u: &url::Url) -> String {
    let mut shown = u.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("****"));
    }
    // Query parameters can carry secrets too (e.g. `password=`); mask their values by key.
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let secret = k.to_ascii_lowercase().contains("pass");
                (
                    k.into_owned(),
                    if secret {
                        "****".into()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

impl AmqpUrl {
    /// The URI lapin connects with (vhost percent-encoded).
    pub fn lapin_uri(&self) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        format!(
            "{}://{}:{}@{}:{}/{}",
            if self.tls { "amqps" } else { "amqp" },
            utf8_percent_encode(&self.username, NON_ALPHANUMERIC),
            utf8_percent_encode(&self.password, NON_ALPHANUMERIC),
            if self.host.contains(':') {
                format!("[{}]", self.host)
            } else {
                self.host.clone()
            },
            self.port,
            utf8_percent_encode(&self.vhost, NON_ALPHANUMERIC)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls() {
        let u = BrokerUrl::parse("redis://:s3cret@cache.internal:6380/5").unwrap();
        assert_eq!(u.kind, BrokerKind::Redis);
        let r = u.redis.as_ref().unwrap();
        assert_eq!(r.db, 5);
        assert_eq!(r.password.as_deref(), Some("s3cret"));
        assert_eq!(
            r.endpoint,
            RedisEndpoint::Tcp {
                host: "cache.internal".into(),
                port: 6380,
                tls: false,
                insecure: false
            }
        );
        assert_eq!(u.to_string(), "redis://:****@cache.internal:6380/5");
        assert!(!format!("{u:?}").contains("s3cret"));

        let u = BrokerUrl::parse("redis://localhost").unwrap();
        assert_eq!(u.redis.unwrap().db, 0);
        let u = BrokerUrl::parse("rediss://h:6379/2?ssl_cert_reqs=none").unwrap();
        assert!(matches!(
            u.redis.unwrap().endpoint,
            RedisEndpoint::Tcp {
                tls: true,
                insecure: true,
                ..
            }
        ));
        let u = BrokerUrl::parse("redis+socket:///run/redis.sock?virtual_host=3").unwrap();
        let r = u.redis.unwrap();
        assert_eq!(r.db, 3);
        assert_eq!(
            r.endpoint,
            RedisEndpoint::Unix {
                path: "/run/redis.sock".into()
            }
        );
        assert!(BrokerUrl::parse("redis://h/notanumber").is_err());
    }

    #[test]
    fn sentinel_urls() {
        let u = BrokerUrl::parse("sentinel://:pw@s1:26379/2;sentinel://:pw@s2;sentinel://s3:26380")
            .unwrap();
        let r = u.redis.as_ref().unwrap();
        assert_eq!(r.db, 2);
        assert_eq!(
            r.endpoint,
            RedisEndpoint::Sentinel {
                sentinels: vec![
                    ("s1".into(), 26379),
                    ("s2".into(), 26379),
                    ("s3".into(), 26380)
                ]
            }
        );
        assert!(!u.to_string().contains("pw@"));
    }

    #[test]
    fn amqp_urls_and_vhosts() {
        let vhost = |s: &str| BrokerUrl::parse(s).unwrap().amqp.unwrap().vhost;
        assert_eq!(vhost("amqp://guest:guest@localhost:5672//"), "/");
        assert_eq!(vhost("amqp://guest:guest@localhost:5672/"), "/");
        assert_eq!(vhost("amqp://localhost"), "/");
        assert_eq!(vhost("amqp://localhost/%2F"), "/");
        assert_eq!(vhost("pyamqp://u:p@h/prod"), "prod");
        let u = BrokerUrl::parse("amqps://app:p%40ss@mq:5671/prod;amqp://other").unwrap();
        let a = u.amqp.as_ref().unwrap();
        assert_eq!(a.password, "p@ss");
        assert!(a.tls);
        assert_eq!(u.to_string(), "amqps://app:****@mq:5671/prod");
        assert_eq!(a.lapin_uri(), "amqps://app:p%40ss@mq:5671/prod");
    }

    #[test]
    fn errors_never_show_the_password() {
        for bad in [
            "ftp://u:hunter2@h/",
            "redis://:hunter2@h/abc",
            "redis://:hunter2@[::1/",
            "redis://:hun#ter2@h/0",
            "redis://:hunter2/x@h/0",
            "amqp://u:hun?ter2@h:5672/vh",
            "amqp://u:hu@nter2@h:notaport/vh",
        ] {
            let err = BrokerUrl::parse(bad).unwrap_err().to_string();
            for fragment in ["hunter2", "ter2", "nter2"] {
                assert!(!err.contains(fragment), "{bad} → {err}");
            }
        }
        let u = BrokerUrl::parse("amqp://guest:p@ss@h//").unwrap();
        assert_eq!(
            u.redact("connect amqp://guest:p%40ss@h:5672/%2F failed for guest"),
            "connect amqp://guest:****@h:5672/%2F failed for guest"
        );
        assert_eq!(
            redact_url_text("see amqp://a:b@c/d and redis://:x@y"),
            "see amqp://a:****@c/d and redis://:****@y"
        );
    }
}
