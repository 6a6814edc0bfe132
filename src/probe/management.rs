//! The RabbitMQ management HTTP API (read-only GETs only; never `/api/aliveness-test`, which
//! writes, and never the `get` endpoint unless the user allowed requeueing).

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::error::ProbeError;
use super::url::{BrokerUrl, redact_url_text};

/// A management API endpoint with credentials.
pub struct Management {
    client: reqwest::Client,
    base: String,
    /// The base URL as printed (password masked).
    pub shown: String,
    user: String,
    password: String,
}

impl Management {
    /// `explicit` (`--management-url`), else `http://<amqp host>:15672` with the broker's
    /// credentials. Credentials inside `explicit` win over the broker's.
    pub fn new(
        broker: &BrokerUrl,
        explicit: Option<&str>,
        timeout: Duration,
    ) -> Result<Management, ProbeError> {
        let a = broker.amqp.as_ref();
        let (mut user, mut password) = a
            .map(|a| (a.username.clone(), a.password.clone()))
            .unwrap_or_else(|| ("guest".into(), "guest".into()));
        let base = match explicit {
            Some(raw) => {
                let mut u = url::Url::parse(raw).map_err(|e| ProbeError::BadUrl {
                    url: redact_url_text(raw),
                    reason: format!("not a valid management URL ({e})"),
                })?;
                if !matches!(u.scheme(), "http" | "https") {
                    return Err(ProbeError::BadUrl {
                        url: redact_url_text(raw),
                        reason: "the management URL must be http:// or https://".into(),
                    });
                }
                if !u.username().is_empty() {
                    user = percent_encoding::percent_decode_str(u.username())
                        .decode_utf8_lossy()
                        .into_owned();
                    password = u
                        .password()
                        .map(|p| {
                            percent_encoding::percent_decode_str(p)
                                .decode_utf8_lossy()
                                .into_owned()
                        })
                        .unwrap_or_default();
                }
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string().trim_end_matches('/').to_string()
            }
            None => {
                let host = a.map(|a| a.host.as_str()).unwrap_or("localhost");
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.to_string()
                };
                // Never send a TLS broker's credentials in clear text.
                if a.is_some_and(|a| a.tls) {
                    format!("https://{host}:15671")
                } else {
                    format!("http://{host}:15672")
                }
            }
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| ProbeError::Management {
                url: base.clone(),
                detail: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(Management {
            client,
            shown: base.clone(),
            base,
            user,
            password,
        })
    }

    /// `GET /api/<path>` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, ProbeError> {
        let url = format!("{}/api/{path}", self.base);
        let fail = |detail: String| ProbeError::Management {
            url: self.shown.clone(),
            detail: if self.password.is_empty() {
                detail
            } else {
                detail.replace(&self.password, "****")
            },
        };
        let resp = self
            .client
            .get(&url)
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| {
                fail(if e.is_timeout() {
                    "no answer in time".into()
                } else if e.is_connect() {
                    "cannot connect (is the rabbitmq_management plugin enabled?)".into()
                } else {
                    format!("request failed: {}", without_url(&e))
                })
            })?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(fail(
                "401 Unauthorized: check the user name and password".into(),
            ));
        }
        if !status.is_success() {
            return Err(fail(format!("HTTP {status} for /api/{path}")));
        }
        resp.json::<Value>()
            .await
            .map_err(|e| fail(format!("not JSON: {}", without_url(&e))))
    }

    /// Every queue of `vhost` with its message counts. `disable_stats` + `enable_queue_totals`
    /// gives counts as of now; the full listing lags by the stats interval (seen > 7 s). It
    /// carries no consumer count: that comes from a passive declare.
    pub async fn queues(&self, vhost: &str) -> Result<Vec<Value>, ProbeError> {
        let v = self
            .get(&format!(
                "queues/{}?disable_stats=true&enable_queue_totals=true",
                enc(vhost)
            ))
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }
}

/// Percent-encode a path segment (`/` → `%2F`).
pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "");
    }
    s
}
