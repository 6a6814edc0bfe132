//! kombu transport options that change where things live on the wire, and the probe's
//! time limits.

use std::time::Duration;

use serde_json::Value;

use super::error::ProbeError;

/// `fanout_prefix`: `true` → `/<db>.`, `false` → nothing, a string → that string (`{db}` filled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FanoutPrefix {
    Db,
    None,
    Custom(String),
}

/// The transport options celery-doctor honours (kombu's names and defaults, kombu 5.7).
#[derive(Clone, Debug)]
pub struct TransportOptions {
    pub global_keyprefix: String,
    pub visibility_timeout: f64,
    pub priority_steps: Vec<u32>,
    pub sep: String,
    pub fanout_prefix: FanoutPrefix,
    /// Only changes channels published with a routing key; mailbox broadcasts have none.
    pub fanout_patterns: bool,
    pub unacked_key: String,
    pub unacked_index_key: String,
    /// Sentinel: the monitored master's name.
    pub master_name: Option<String>,
    /// `control_exchange` (a Celery setting, accepted here too): the mailbox namespace.
    pub control_exchange: String,
    /// Keys given that change nothing celery-doctor reads (reported once on stderr).
    pub ignored: Vec<String>,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            global_keyprefix: String::new(),
            visibility_timeout: 3600.0,
            priority_steps: vec![0, 3, 6, 9],
            sep: "\x06\x16".into(),
            fanout_prefix: FanoutPrefix::Db,
            fanout_patterns: true,
            unacked_key: "unacked".into(),
            unacked_index_key: "unacked_index".into(),
            master_name: None,
            control_exchange: "celery".into(),
            ignored: Vec::new(),
        }
    }
}

impl TransportOptions {
    /// Apply one `KEY=VALUE` from the command line. The value is read as JSON when it parses
    /// (`priority_steps=[0,1,2]`, `fanout_prefix=false`), else as a plain string.
    pub fn set_from_arg(&mut self, arg: &str) -> Result<(), ProbeError> {
        let (key, value) = arg.split_once('=').ok_or_else(|| {
            ProbeError::BadOption(format!(
                "--transport-option `{arg}` is not KEY=VALUE (e.g. global_keyprefix=app:)"
            ))
        })?;
        let value = serde_json::from_str::<Value>(value)
            .ok()
            .filter(|v| !v.is_string() || value.starts_with('"'))
            .unwrap_or_else(|| Value::String(value.to_string()));
        self.set(key.trim(), &value)
    }

    /// Apply one option from a JSON-like value (command line or the project's settings).
    pub fn set(&mut self, key: &str, value: &Value) -> Result<(), ProbeError> {
        let bad = |want: &str| {
            ProbeError::BadOption(format!(
                "transport option `{key}` must be {want}, got {value}"
            ))
        };
        let string = || -> Result<String, ProbeError> {
            match value {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(bad("a string")),
            }
        };
        match key {
            "global_keyprefix" => self.global_keyprefix = string()?,
            "visibility_timeout" => {
                self.visibility_timeout = match value {
                    Value::Number(n) => n.as_f64().ok_or_else(|| bad("a number of seconds"))?,
                    Value::String(s) => s.parse().map_err(|_| bad("a number of seconds"))?,
                    _ => return Err(bad("a number of seconds")),
                };
                if !(self.visibility_timeout.is_finite() && self.visibility_timeout > 0.0) {
                    return Err(bad("a positive number of seconds"));
                }
            }
            "priority_steps" => {
                let steps: Option<Vec<u32>> = value.as_array().and_then(|a| {
                    a.iter()
                        .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
                        .collect()
                });
                let mut steps = steps
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| bad("a list of integers, e.g. [0,3,6,9]"))?;
                steps.sort_unstable();
                steps.dedup();
                self.priority_steps = steps;
            }
            "sep" => self.sep = string()?,
            "fanout_prefix" => {
                self.fanout_prefix = match value {
                    Value::Bool(true) => FanoutPrefix::Db,
                    Value::Bool(false) => FanoutPrefix::None,
                    Value::String(s) if s.eq_ignore_ascii_case("true") => FanoutPrefix::Db,
                    Value::String(s) if s.eq_ignore_ascii_case("false") => FanoutPrefix::None,
                    Value::String(s) => FanoutPrefix::Custom(s.clone()),
                    _ => return Err(bad("true, false or a string")),
                }
            }
            "fanout_patterns" => {
                self.fanout_patterns = match value {
                    Value::Bool(b) => *b,
                    Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                    Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                    _ => return Err(bad("true or false")),
                }
            }
            "unacked_key" => self.unacked_key = string()?,
            "unacked_index_key" => self.unacked_index_key = string()?,
            "master_name" => self.master_name = Some(string()?),
            "control_exchange" => self.control_exchange = string()?,
            other => {
                if !self.ignored.iter().any(|k| k == other) {
                    self.ignored.push(other.to_string());
                }
            }
        }
        Ok(())
    }

    /// A Redis key with the global prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{}", self.global_keyprefix, name)
    }

    /// The list keys of queue `q`, in the order kombu consumes them (step 0 first).
    pub fn priority_keys(&self, q: &str) -> Vec<String> {
        self.priority_steps
            .iter()
            .map(|&step| {
                if step == 0 {
                    self.key(q)
                } else {
                    format!("{}{}{}{}", self.global_keyprefix, q, self.sep, step)
                }
            })
            .collect()
    }

    /// The pub/sub channel a fanout exchange publishes to on DB `db`.
    pub fn fanout_channel(&self, db: i64, exchange: &str) -> String {
        let prefix = match &self.fanout_prefix {
            FanoutPrefix::Db => format!("/{db}."),
            FanoutPrefix::None => String::new(),
            FanoutPrefix::Custom(s) => s.replace("{db}", &db.to_string()),
        };
        format!("{}{prefix}{exchange}", self.global_keyprefix)
    }
}

/// Time limits of one probe run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connecting, and every single broker command.
    pub connect: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_kombu() {
        let mut o = TransportOptions::default();
        assert_eq!(
            o.priority_keys("parked"),
            [
                "parked",
                "parked\x06\x163",
                "parked\x06\x166",
                "parked\x06\x169"
            ]
        );
        assert_eq!(o.fanout_channel(5, "celery.pidbox"), "/5.celery.pidbox");
        o.set_from_arg("global_keyprefix=pfx:").unwrap();
        o.set_from_arg("priority_steps=[0,1,2]").unwrap();
        o.set_from_arg("sep=:").unwrap();
        assert_eq!(o.priority_keys("q"), ["pfx:q", "pfx:q:1", "pfx:q:2"]);
        assert_eq!(o.fanout_channel(0, "celery.pidbox"), "pfx:/0.celery.pidbox");
        o.set_from_arg("fanout_prefix=false").unwrap();
        assert_eq!(o.fanout_channel(3, "celery.pidbox"), "pfx:celery.pidbox");
        o.set_from_arg("global_keyprefix=123").unwrap();
        assert_eq!(o.global_keyprefix, "123");
        assert!(o.set_from_arg("visibility_timeout=soon").is_err());
        assert!(o.set_from_arg("nonsense").is_err());
        o.set_from_arg("max_connections=20").unwrap();
        assert_eq!(o.ignored, ["max_connections"]);
    }
}
