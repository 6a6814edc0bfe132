//! Celery's remote-control mailbox ("pidbox"), broker-independent parts: which commands exist,
//! the arguments `celery inspect` sends for each, the broadcast body, and merging replies the
//! way `celery/app/control.py: flatten_reply` does.

use std::time::Duration;

use serde_json::{Value, json};

/// The read-only `inspect` commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum InspectCommand {
    Ping,
    Stats,
    Active,
    Reserved,
    Scheduled,
    Revoked,
    Registered,
    ActiveQueues,
    Conf,
    Report,
    QueryTask,
}

impl InspectCommand {
    /// The mailbox method name.
    pub fn method(self) -> &'static str {
        match self {
            InspectCommand::Ping => "ping",
            InspectCommand::Stats => "stats",
            InspectCommand::Active => "active",
            InspectCommand::Reserved => "reserved",
            InspectCommand::Scheduled => "scheduled",
            InspectCommand::Revoked => "revoked",
            InspectCommand::Registered => "registered",
            InspectCommand::ActiveQueues => "active_queues",
            InspectCommand::Conf => "conf",
            InspectCommand::Report => "report",
            InspectCommand::QueryTask => "query_task",
        }
    }

    /// The keyword arguments `celery inspect` sends (`celery/bin/control.py:
    /// _compile_arguments`). Handlers reject unexpected keywords, so send exactly these.
    pub fn arguments(self, ids: &[String], with_defaults: bool) -> Value {
        match self {
            InspectCommand::Registered => json!({"taskinfoitems": []}),
            InspectCommand::QueryTask => json!({"ids": ids}),
            InspectCommand::Conf if with_defaults => json!({"with_defaults": true}),
            _ => json!({}),
        }
    }
}

/// One broadcast with a reply wanted.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub arguments: Value,
    /// `None`: every node. Always sent as a JSON array (a string would become a substring test).
    pub destination: Option<Vec<String>>,
    /// Silence that ends the wait, as `celery inspect --timeout`.
    pub timeout: Duration,
    /// Stop as soon as this many nodes answered.
    pub expect: Option<usize>,
    /// The mailbox namespace (`control_exchange`).
    pub namespace: String,
}

impl Request {
    pub fn exchange(&self) -> String {
        format!("{}.pidbox", self.namespace)
    }

    pub fn reply_exchange(&self) -> String {
        format!("reply.{}.pidbox", self.namespace)
    }

    /// How many replies end the wait early: `--expect`, else the number of destinations.
    pub fn limit(&self) -> Option<usize> {
        self.expect
            .or_else(|| self.destination.as_ref().map(|d| d.len()))
    }

    /// The broadcast body (`kombu/pidbox.py: Mailbox._publish`).
    pub fn body(&self, ticket: &str, oid: &str) -> Value {
        json!({
            "method": self.method,
            "arguments": self.arguments,
            "destination": self.destination,
            "pattern": null,
            "matcher": null,
            "ticket": ticket,
            "reply_to": {"exchange": self.reply_exchange(), "routing_key": oid},
        })
    }

    /// The broadcast headers: a Lamport clock and the client-side expiry.
    pub fn headers(&self) -> Value {
        json!({"clock": 1, "expires": super::now_secs() + self.timeout.as_secs_f64()})
    }
}

/// Replies in arrival order, merged by node name (a repeated node overwrites, as Celery).
#[derive(Clone, Debug, Default)]
pub struct Replies {
    /// `(node, result)` in order of first arrival.
    pub nodes: Vec<(String, Value)>,
    /// Node names that answered more than once (Celery warns: duplicate node names).
    pub duplicates: Vec<String>,
    /// Replies that could not be decoded (pickle, unknown content type), with the reason.
    pub undecodable: Vec<String>,
    /// How many mailboxes received the broadcast, when the broker tells (Redis PUBLISH).
    pub receivers: Option<u64>,
    pub elapsed: Duration,
}

impl Replies {
    /// Merge one decoded reply body `{node: result}`.
    pub fn merge(&mut self, body: Value) {
        match body {
            Value::Object(map) => {
                for (node, result) in map {
                    match self.nodes.iter_mut().find(|(n, _)| *n == node) {
                        Some(slot) => {
                            self.duplicates.push(node);
                            slot.1 = result;
                        }
                        None => self.nodes.push((node, result)),
                    }
                }
            }
            other => self
                .undecodable
                .push(format!("reply is not a map of node names: {other}")),
        }
    }

    /// The merged map `{node: result}`, as `celery inspect --json` prints it.
    pub fn to_json(&self) -> Value {
        Value::Object(self.nodes.iter().cloned().collect())
    }

    /// Whether enough nodes answered to stop waiting.
    pub fn enough(&self, limit: Option<usize>) -> bool {
        limit.is_some_and(|n| self.nodes.len() >= n)
    }
}

/// A fresh unique id (reply routing id, ticket, delivery tag).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_matches_celery_inspect() {
        let r = Request {
            method: "ping".into(),
            arguments: InspectCommand::Ping.arguments(&[], false),
            destination: Some(vec!["w1@h".into()]),
            timeout: Duration::from_secs(1),
            expect: None,
            namespace: "celery".into(),
        };
        let body = r.body("t", "o");
        assert_eq!(body["destination"], json!(["w1@h"]));
        assert_eq!(
            body["reply_to"],
            json!({"exchange": "reply.celery.pidbox", "routing_key": "o"})
        );
        assert_eq!(r.limit(), Some(1));
        assert_eq!(
            InspectCommand::QueryTask.arguments(&["a".into()], false),
            json!({"ids": ["a"]})
        );
    }

    #[test]
    fn merge_keeps_arrival_order_and_flags_duplicates() {
        let mut r = Replies::default();
        r.merge(json!({"b@h": {"ok": "pong"}}));
        r.merge(json!({"a@h": {"ok": "pong"}}));
        r.merge(json!({"b@h": {"ok": "pong"}}));
        let names: Vec<&str> = r.nodes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b@h", "a@h"]);
        assert_eq!(r.duplicates, ["b@h"]);
        assert!(r.enough(Some(2)));
        assert!(!r.enough(None));
    }
}
