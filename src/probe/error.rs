//! Why a probe failed, typed so `diagnose` can branch on the kind (`BROKER_UNREACHABLE`,
//! `BROKER_AUTH_FAILED`, …). Every message is one line, names the broker with its password
//! masked, and says what to try.

use crate::text::one_line;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProbeError {
    #[error("bad broker URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },

    #[error("no broker URL: pass --broker URL or set CELERY_BROKER_URL (or BROKER_URL)")]
    NoBroker,

    #[error("bad option: {0}")]
    BadOption(String),

    #[error(
        "cannot connect to {broker}: connection refused; is the broker running and listening on that host and port?"
    )]
    Refused { broker: String },

    #[error("cannot resolve host `{host}` of {broker}: {detail}; check the host name")]
    Dns {
        broker: String,
        host: String,
        detail: String,
    },

    #[error(
        "TLS handshake with {broker} failed: {detail}; check the scheme (rediss:// / amqps://), the port and the server certificate"
    )]
    Tls { broker: String, detail: String },

    #[error("{broker} refused the credentials: {detail}; check the user name and password")]
    Auth { broker: String, detail: String },

    #[error(
        "{broker}: virtual host `{vhost}` does not exist or the user may not access it; check the vhost in the URL and the user's permissions"
    )]
    Vhost { broker: String, vhost: String },

    #[error(
        "{broker}: permission denied: {detail}; the user lacks a command or channel permission"
    )]
    Permission { broker: String, detail: String },

    #[error(
        "{broker} did not answer {what} within {secs:.1} s; is the host right and the broker healthy? (raise --connect-timeout if it is just slow)"
    )]
    Timeout {
        broker: String,
        what: String,
        secs: f64,
    },

    #[error("{broker}: {detail}")]
    Protocol { broker: String, detail: String },

    #[error("management API {url}: {detail}")]
    Management { url: String, detail: String },
}

impl ProbeError {
    /// A short stable name for the kind, used by `diagnose`.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeError::BadUrl { .. } | ProbeError::NoBroker | ProbeError::BadOption(_) => "usage",
            ProbeError::Refused { .. } | ProbeError::Dns { .. } | ProbeError::Timeout { .. } => {
                "unreachable"
            }
            ProbeError::Tls { .. } => "tls",
            ProbeError::Auth { .. } | ProbeError::Vhost { .. } | ProbeError::Permission { .. } => {
                "auth"
            }
            ProbeError::Protocol { .. } | ProbeError::Management { .. } => "protocol",
        }
    }
}

/// Classify an I/O-ish error text from a client library into a [`ProbeError`]. `detail` must
/// already be redacted.
pub(crate) fn classify(broker: &str, host: &str, detail: &str, secs: f64) -> ProbeError {
    let lower = detail.to_ascii_lowercase();
    let broker = broker.to_string();
    let detail = one_line(detail);
    if lower.contains("connection refused") {
        ProbeError::Refused { broker }
    } else if lower.contains("failed to lookup")
        || lower.contains("name or service not known")
        || lower.contains("no such host")
        || lower.contains("nodename nor servname")
        || lower.contains("temporary failure in name resolution")
        || lower.contains("dns")
    {
        ProbeError::Dns {
            broker,
            host: host.to_string(),
            detail,
        }
    } else if lower.contains("tls")
        || lower.contains("ssl")
        || lower.contains("corrupt message")
        || lower.contains("invalidcontenttype")
        || lower.contains("certificate")
        || lower.contains("handshake")
    {
        ProbeError::Tls { broker, detail }
    } else if lower.contains("wrongpass")
        || lower.contains("invalid password")
        || lower.contains("invalid username-password")
        || lower.contains("authentication")
        || lower.contains("access_refused")
        || lower.contains("access refused")
        || lower.contains("noauth")
    {
        ProbeError::Auth { broker, detail }
    } else if lower.contains("noperm") {
        ProbeError::Permission { broker, detail }
    } else if lower.contains("timed out") || lower.contains("timeout") {
        ProbeError::Timeout {
            broker,
            what: "the connection".into(),
            secs,
        }
    } else {
        ProbeError::Protocol { broker, detail }
    }
}
