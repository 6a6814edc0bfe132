//! The live probe: talks to real brokers (Redis, RabbitMQ) and real Celery workers over
//! Celery's own wire protocol. Read-only by default: it never consumes, acknowledges, purges
//! or reorders a user's message, never unpickles, and bounds every network call in time.
//!
//! `probe` knows nothing about `lint`; the command line passes it plain data (URL, transport
//! options, queue names) however they were found.

pub mod amqp;
pub mod error;
pub mod mailbox;
pub mod management;
pub mod message;
pub mod options;
pub mod queues;
pub mod redis;
pub mod url;

pub use error::ProbeError;
pub use options::{Limits, TransportOptions};
pub use url::{BrokerKind, BrokerUrl};

use std::time::Duration;

/// A connected broker of either kind.
pub enum Broker {
    Redis(redis::RedisProbe),
    Amqp(amqp::AmqpProbe),
}

impl Broker {
    pub async fn connect(
        url: &BrokerUrl,
        opts: &TransportOptions,
        limits: Limits,
    ) -> Result<Broker, ProbeError> {
        install_crypto_provider();
        Ok(match url.kind {
            BrokerKind::Redis => {
                Broker::Redis(redis::RedisProbe::connect(url, opts, limits).await?)
            }
            BrokerKind::Amqp => Broker::Amqp(amqp::AmqpProbe::connect(url, limits).await?),
        })
    }

    pub fn url(&self) -> &BrokerUrl {
        match self {
            Broker::Redis(r) => &r.url,
            Broker::Amqp(a) => &a.url,
        }
    }

    /// Broadcast a remote-control request and collect the replies.
    pub async fn broadcast(&self, req: &mailbox::Request) -> Result<mailbox::Replies, ProbeError> {
        match self {
            Broker::Redis(r) => r.broadcast(req).await,
            Broker::Amqp(a) => a.broadcast(req).await,
        }
    }

    /// Use this management API instead of the one derived from the broker URL (RabbitMQ).
    pub fn set_management_url(&mut self, url: Option<String>) {
        if let Broker::Amqp(a) = self {
            a.management_url = url;
        }
    }

    /// Close connections politely.
    pub async fn close(&self) {
        if let Broker::Amqp(a) = self {
            a.close().await;
        }
    }
}

/// Await `fut`, or fail with a timeout naming `what`.
pub(crate) async fn deadline<F: std::future::Future>(
    url: &BrokerUrl,
    what: &str,
    limit: Duration,
    fut: F,
) -> Result<F::Output, ProbeError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| ProbeError::Timeout {
            broker: url.to_string(),
            what: what.to_string(),
            secs: limit.as_secs_f64(),
        })
}

/// rustls needs one process-wide crypto provider; we build with `ring` only.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
