//! The live probe against the real thing: the local Redis and RabbitMQ, real Celery 5.7
//! workers (`tests/live/py/liveapp.py`) and tasks published with Celery's own `send_task`.
//! celery-doctor's answers are compared with `celery inspect … --json` for the same workers,
//! and the broker's queue contents are compared before and after every read-only command.
//!
//! Every test owns its broker scope (a Redis key prefix or DB, a RabbitMQ vhost) and cleans up
//! in `Drop`, so tests run in parallel and in any order.

mod diagnose;
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

const SECRET: &str = "Wr0ng-Pa55word";

/// `celery-doctor ARGS --broker URL [transport options] --format json`, which must succeed.
fn doctor_json(broker: &impl Broker, args: &[&str]) -> Value {
    let out = doctor(broker, args, true);
    assert!(
        out.status.success(),
        "celery-doctor {args:?} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

fn doctor(broker: &impl Broker, args: &[&str], json: bool) -> std::process::Output {
    let url = broker.url();
    let opts = broker.transport_option_args();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--broker", url.as_str()]);
    all.extend(opts.iter().map(String::as_str));
    if json {
        all.extend(["--format", "json"]);
    }
    celery_doctor(&all)
}

/// `celery -A liveapp inspect CMD --json` for the same scope.
fn celery_json(broker: &impl Broker, args: &[&str]) -> Value {
    let mut all = vec!["inspect"];
    all.extend(args);
    all.push("--json");
    let (status, out, err) = celery_cli(&broker.env(), &all);
    assert!(status.success(), "celery {all:?}: {out}{err}");
    serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("celery printed non-JSON ({e}): {out}"))
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// Every list and the unacked hash/index: what "the queues did not change" means on Redis.
/// The reply-binding deadline that a broadcast pushes forward (exactly as `celery inspect`
/// does) is the only key left out.
fn redis_queue_state(redis: &RedisScope) -> RedisSnapshot {
    without_keys(redis.dump(), &["_kombu.binding_deadlines", "unacked_mutex"])
}

/// RabbitMQ's counts of the task queues (the exclusive reply queue of a broadcast goes away
/// with its connection, asynchronously: leave it out).
fn rabbit_counts(rabbit: &RabbitScope) -> BTreeMap<String, (u64, u64)> {
    let mut counts = rabbit.queue_counts();
    counts.retain(|name, _| !name.ends_with(".pidbox"));
    counts
}

fn row<'a>(report: &'a Value, queue: &str) -> &'a Value {
    report["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == queue)
        .unwrap_or_else(|| panic!("no row for {queue} in {report:#}"))
}

// -------------------------------------------------------------------------------------------
// Redis
// -------------------------------------------------------------------------------------------

#[test]
fn redis_inspect_answers_exactly_like_celery() {
    let redis = RedisScope::new();
    let w1 = Worker::start(&redis.env(), "w1@cdt", &["celery", "emails"], &[]);
    let _w2 = Worker::start(
        &redis.env().with("CDT_SERIALIZER", "msgpack"),
        "w2@cdt",
        &["reports"],
        &["--include", "reporting"],
    );
    // Something to show: a finished task (stats totals), a countdown task (scheduled).
    let done = publish(&redis.env(), &["--task", "liveapp.add", "--args", "[2, 3]"]);
    w1.wait_for_log(&format!("[{}] succeeded", done[0]), Duration::from_secs(15));
    let later = publish(
        &redis.env(),
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[4, 5]",
            "--countdown",
            "600",
        ],
    );
    wait_until(
        "the countdown task is scheduled",
        Duration::from_secs(10),
        || {
            let s = celery_json(&redis, &["scheduled"]);
            if s["w1@cdt"].as_array().is_some_and(|a| !a.is_empty()) {
                Ok(())
            } else {
                Err(s.to_string())
            }
        },
    );

    for cmd in [
        "ping",
        "registered",
        "active_queues",
        "conf",
        "revoked",
        "active",
        "reserved",
        "scheduled",
    ] {
        let before = redis_queue_state(&redis);
        let ours = doctor_json(&redis, &["inspect", cmd]);
        assert_unchanged(&before, &redis_queue_state(&redis));
        let theirs = celery_json(&redis, &[cmd]);
        assert_eq!(ours, theirs, "inspect {cmd}");
        assert_eq!(keys(&ours), ["w1@cdt", "w2@cdt"], "inspect {cmd}");
    }
    let before = redis_queue_state(&redis);
    // Each node's own answer lands under its own name (w2 alone loads `reporting`).
    let registered = doctor_json(&redis, &["inspect", "registered"]);
    assert!(
        registered["w2@cdt"]
            .as_array()
            .unwrap()
            .contains(&json!("reports.build"))
    );
    assert!(
        !registered["w1@cdt"]
            .as_array()
            .unwrap()
            .contains(&json!("reports.build"))
    );
    let ours = doctor_json(&redis, &["inspect", "query_task", &later[0], &done[0]]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    let theirs = celery_json(&redis, &["query_task", &later[0], &done[0]]);
    assert_eq!(ours, theirs);
    assert_eq!(ours["w1@cdt"][&later[0]][0], "scheduled");

    // stats and report hold clocks and counters that move between two calls: same nodes, same
    // shape, same stable values.
    let before = redis_queue_state(&redis);
    let ours = doctor_json(&redis, &["inspect", "stats"]);
    assert_unchanged(&before, &redis_queue_state(&redis));
    let theirs = celery_json(&redis, &["stats"]);
    assert_eq!(keys(&ours), keys(&theirs));
    for node in ["w1@cdt", "w2@cdt"] {
        assert_eq!(keys(&ours[node]), keys(&theirs[node]), "{node}");
        assert_eq!(keys(&ours[node]["pool"]), keys(&theirs[node]["pool"]));
        for k in ["pid", "prefetch_count", "total", "broker"] {
            assert_eq!(ours[node][k], theirs[node][k], "{node} {k}");
        }
    }
    assert_eq!(ours["w1@cdt"]["total"], json!({"liveapp.add": 1}));
    let ours = doctor_json(&redis, &["inspect", "report"]);
    assert_eq!(keys(&ours), ["w1@cdt", "w2@cdt"]);
    assert!(
        ours["w1@cdt"]["ok"]
            .as_str()
            .unwrap()
            .contains("software -> celery:5.7")
    );

    // The text format: one section per node, tables where the answer is a list.
    for cmd in [
        "ping",
        "stats",
        "active_queues",
        "scheduled",
        "registered",
        "conf",
    ] {
        let out = doctor(&redis, &["inspect", cmd], false);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let t = text(&out.stdout);
        assert!(
            t.contains("-> w1@cdt: OK") && t.contains("-> w2@cdt: OK"),
            "{t}"
        );
        assert!(t.contains("2 nodes replied"), "{t}");
    }
    let t = text(&doctor(&redis, &["inspect", "active_queues"], false).stdout);
    assert!(t.contains("emails") && t.contains("reports"), "{t}");
    let t = text(&doctor(&redis, &["inspect", "scheduled"], false).stdout);
    assert!(t.contains(&later[0]), "{t}");
}

#[test]
fn redis_inspect_destination_expect_and_silence() {
    let redis = RedisScope::new();
    let _w1 = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
    let _w2 = Worker::start(&redis.env(), "w2@cdt", &["celery"], &[]);

    let only = doctor_json(&redis, &["inspect", "ping", "--destination", "w2@cdt"]);
    assert_eq!(only, json!({"w2@cdt": {"ok": "pong"}}));
    assert_eq!(
        celery_json(&redis, &["ping", "--destination", "w2@cdt"]),
        only
    );
    // A destination is an exact node name, never a substring (the wire needs a JSON list).
    let out = doctor(
        &redis,
        &["inspect", "ping", "-d", "w2@cd", "--timeout", "0.3"],
        true,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    let t = Instant::now();
    let one = doctor_json(
        &redis,
        &["inspect", "ping", "--expect", "1", "--timeout", "5"],
    );
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "--expect 1 waited {:?}",
        t.elapsed()
    );
    assert_eq!(one.as_object().unwrap().len(), 1);
    // Without --expect, Redis tells how many mailboxes received the broadcast; the wait ends
    // when they all answered, not after the timeout.
    let t = Instant::now();
    let both = doctor_json(&redis, &["inspect", "ping", "--timeout", "5"]);
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "waited {:?}",
        t.elapsed()
    );
    assert_eq!(keys(&both), ["w1@cdt", "w2@cdt"]);

    // No worker at all: exit 1 at once with an empty map, and a clear word on stderr.
    let empty = RedisScope::new();
    let t = Instant::now();
    let out = doctor(&empty, &["inspect", "ping", "--timeout", "5"], true);
    assert!(t.elapsed() < Duration::from_secs(4));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).trim(), "{}");
    assert!(
        text(&out.stderr).contains("no worker replied"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn redis_queues_counts_every_priority_list_unacked_and_consumers() {
    let redis = RedisScope::new();
    let _w1 = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
    let _w2 = Worker::start(&redis.env(), "w2@cdt", &["celery", "emails"], &[]);
    let p = |args: &[&str]| publish(&redis.env(), args);
    p(&[
        "--task",
        "liveapp.add",
        "--args",
        "[1, 2]",
        "--queue",
        "parked",
        "--count",
        "3",
    ]);
    p(&[
        "--task",
        "liveapp.add",
        "--args",
        "[1, 2]",
        "--queue",
        "parked",
        "--serializer",
        "msgpack",
        "--priority",
        "7",
    ]);
    p(&[
        "--task",
        "liveapp.send_email",
        "--args",
        r#"["a@b.c"]"#,
        "--queue",
        "parked",
        "--serializer",
        "yaml",
        "--priority",
        "4",
    ]);
    p(&[
        "--task",
        "billing.tasks.charge",
        "--args",
        "[10]",
        "--queue",
        "parked",
        "--serializer",
        "pickle",
        "--priority",
        "9",
    ]);
    // Held by a worker until its ETA: an entry of the unacked hash.
    p(&[
        "--task",
        "liveapp.add",
        "--args",
        "[1, 1]",
        "--countdown",
        "600",
    ]);
    wait_until(
        "the countdown task is reserved",
        Duration::from_secs(10),
        || {
            let n: u64 = redis::cmd("HLEN")
                .arg(redis.key("unacked"))
                .query(&mut redis.connection())
                .map_err(|e| e.to_string())?;
            if n == 1 {
                Ok(())
            } else {
                Err(format!("{n} unacked"))
            }
        },
    );

    let before = redis_queue_state(&redis);
    let report = doctor_json(&redis, &["queues", "--queue", "ghost"]);
    assert_unchanged(&before, &redis_queue_state(&redis));

    // Ground truth straight from Redis, every priority list of `parked`.
    let mut con = redis.connection();
    let mut llen = BTreeMap::new();
    for (step, suffix) in [
        ("0", ""),
        ("3", "\x06\x163"),
        ("6", "\x06\x166"),
        ("9", "\x06\x169"),
    ] {
        let n: u64 = redis::cmd("LLEN")
            .arg(redis.key(&format!("parked{suffix}")))
            .query(&mut con)
            .unwrap();
        if n > 0 {
            llen.insert(step.to_string(), n);
        }
    }
    assert_eq!(llen.values().sum::<u64>(), 6);
    let parked = row(&report, "parked");
    assert_eq!(parked["ready"], 6);
    assert_eq!(parked["priorities"], serde_json::to_value(&llen).unwrap());
    assert_eq!(
        parked["priorities"],
        json!({"0": 3, "3": 1, "6": 1, "9": 1})
    );
    assert_eq!(parked["consumers"], 0);
    assert_eq!(parked["unacked"], 0);
    assert_eq!(parked["sampled"], 6);
    assert_eq!(
        parked["tasks"],
        json!({"liveapp.add": 4, "liveapp.send_email": 1, "billing.tasks.charge": 1})
    );
    assert!(
        parked["sources"]
            .as_array()
            .unwrap()
            .contains(&json!("bindings"))
    );

    let celery = row(&report, "celery");
    assert_eq!(celery["ready"], 0);
    assert_eq!(celery["unacked"], 1);
    assert!(celery["oldest_unacked_age_secs"].as_f64().unwrap() >= 0.0);
    assert_eq!(celery["consumers"], 2);
    let mut nodes: Vec<&str> = celery["consumer_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["w1@cdt", "w2@cdt"]);
    assert_eq!(row(&report, "emails")["consumer_nodes"], json!(["w2@cdt"]));
    assert_eq!(report["unacked_total"], 1);
    let ghost = row(&report, "ghost");
    assert_eq!(ghost["exists"], false);
    assert_eq!(ghost["ready"], 0);
    assert_eq!(ghost["sources"], json!(["option"]));

    // --no-workers broadcasts nothing: not a single key changes, deadlines included (idle
    // workers may take the restore-sweep mutex meanwhile; that is theirs).
    let before = without_keys(redis.dump(), &["unacked_mutex"]);
    let quiet = doctor_json(&redis, &["queues", "--no-workers", "--sample", "2"]);
    assert_unchanged(&before, &without_keys(redis.dump(), &["unacked_mutex"]));
    assert_eq!(row(&quiet, "parked")["sampled"], 2);
    assert_eq!(row(&quiet, "celery")["consumers"], Value::Null);
    assert_eq!(quiet["workers"], Value::Null);

    // The text table names the stuck queue and its missing consumers.
    let out = doctor(&redis, &["queues"], false);
    let t = text(&out.stdout);
    assert!(t.contains("parked") && t.contains("0 (!)"), "{t}");
    assert!(t.contains("6 (p0:3 p3:1 p6:1 p9:1)"), "{t}");
}

#[test]
fn redis_peek_decodes_every_serializer_in_consumption_order() {
    let redis = RedisScope::new();
    let p = |args: &[&str]| publish(&redis.env(), args)[0].clone();
    let q = ["--queue", "parked"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["--task", "liveapp.add", "--queue", "parked"];
        v.extend_from_slice(extra);
        v
    };
    let json_id = p(&with(&["--args", "[1, 2]", "--kwargs", r#"{"note": "é"}"#]));
    let msgpack_id = p(&with(&["--args", "[3, 4]", "--serializer", "msgpack"]));
    let yaml_id = p(&with(&["--args", "[5, 6]", "--serializer", "yaml"]));
    let mut pickle_args = vec![
        "--task",
        "liveapp.send_email",
        "--args",
        r#"["x@y.z"]"#,
        "--serializer",
        "pickle",
    ];
    pickle_args.extend(q);
    let pickle_id = p(&pickle_args);
    let v1_id = p(&with(&["--args", "[7, 8]", "--protocol", "1"]));
    let gzip_id = p(&with(&["--args", "[9, 10]", "--compression", "gzip"]));
    let eta_id = p(&with(&[
        "--args",
        "[0, 0]",
        "--countdown",
        "3600",
        "--expires",
        "7200",
    ]));
    let urgent_id = p(&with(&["--args", "[11, 12]", "--priority", "9"]));

    let before = redis.dump();
    let report = doctor_json(&redis, &["peek", "parked", "-n", "20"]);
    assert_unchanged(&before, &redis.dump());

    assert_eq!(report["ready"], 8);
    let msgs = report["messages"].as_array().unwrap();
    let ids: Vec<&str> = msgs.iter().map(|m| m["id"].as_str().unwrap()).collect();
    // Redis consumes priority step 0 first, oldest first; priority 9 last.
    assert_eq!(
        ids,
        [
            &json_id,
            &msgpack_id,
            &yaml_id,
            &pickle_id,
            &v1_id,
            &gzip_id,
            &eta_id,
            &urgent_id
        ]
    );
    let by_id = |id: &str| msgs.iter().find(|m| m["id"] == id).unwrap();
    let m = by_id(&json_id);
    assert_eq!(
        (&m["args"], &m["kwargs"]),
        (&json!([1, 2]), &json!({"note": "é"}))
    );
    assert_eq!(m["protocol"], "v2");
    assert_eq!(m["task"], "liveapp.add");
    assert_eq!(m["content_type"], "application/json");
    assert_eq!(m["root_id"], json_id.as_str());
    assert_eq!(by_id(&msgpack_id)["args"], json!([3, 4]));
    assert_eq!(by_id(&msgpack_id)["content_type"], "application/x-msgpack");
    assert_eq!(by_id(&yaml_id)["args"], json!([5, 6]));
    let m = by_id(&pickle_id);
    assert_eq!(m["body"]["status"], "pickle");
    assert_eq!(m["args"], Value::Null);
    assert_eq!(m["argsrepr"], "['x@y.z']");
    assert_eq!(m["task"], "liveapp.send_email");
    assert!(m["size"].as_u64().unwrap() > 0);
    let m = by_id(&v1_id);
    assert_eq!((&m["protocol"], &m["args"]), (&json!("v1"), &json!([7, 8])));
    let m = by_id(&gzip_id);
    assert_eq!(m["args"], json!([9, 10]));
    assert!(m["compression"].as_str().unwrap().contains("gzip"), "{m}");
    let m = by_id(&eta_id);
    assert!(
        m["eta"].as_str().is_some() && m["expires"].as_str().is_some(),
        "{m}"
    );
    let m = by_id(&urgent_id);
    assert_eq!(
        (&m["priority"], &m["priority_step"]),
        (&json!(9), &json!(9))
    );

    // -n bounds the read; text output never decodes the pickle either.
    let two = doctor_json(&redis, &["peek", "parked", "-n", "2"]);
    assert_eq!(two["messages"].as_array().unwrap().len(), 2);
    let t = text(&doctor(&redis, &["peek", "parked"], false).stdout);
    assert!(
        t.contains("pickle (never unpickled)") && t.contains("['x@y.z']"),
        "{t}"
    );
    assert_unchanged(&before, &redis.dump());

    // Garbage in a queue list is shown as undecodable, never a crash.
    let _: () = redis::cmd("LPUSH")
        .arg(redis.key("junk"))
        .arg(b"\xff\x00not json".as_slice())
        .arg(r#"{"body": "!!!", "properties": {}}"#)
        .query(&mut redis.connection())
        .unwrap();
    let junk = doctor_json(&redis, &["peek", "junk"]);
    let junk = junk["messages"].as_array().unwrap();
    assert_eq!(junk[0]["body"]["status"], "undecodable", "{}", junk[0]);
    assert!(
        junk[0]["body"]["reason"]
            .as_str()
            .unwrap()
            .contains("envelope")
    );
    // No content type: kombu treats it as opaque `application/data`, so do we.
    assert_eq!(junk[1]["body"]["status"], "opaque", "{}", junk[1]);
    assert_eq!(junk[1]["task"], Value::Null);
}

#[test]
fn redis_without_prefix_and_with_custom_priority_steps() {
    // No global_keyprefix on a DB of its own: the mailbox channel is `/<db>.celery.pidbox`.
    let redis = RedisScope::exclusive_db();
    let steps = json!({"broker_transport_options": {"priority_steps": (0..10).collect::<Vec<_>>(), "sep": ":"}});
    let env = redis.env().with("CDT_CONF", &steps.to_string());
    let _w = Worker::start(&env, "w1@cdt", &["celery"], &[]);
    publish(
        &env,
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--queue",
            "parked",
            "--priority",
            "4",
        ],
    );
    publish(
        &env,
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--queue",
            "parked",
        ],
    );
    // Workers parse our reply binding with their `sep`: without the same option they hear the
    // broadcast but cannot route the reply, and celery-doctor says what to check.
    let out = doctor(&redis, &["inspect", "ping", "--timeout", "0.5"], true);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("transport option"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        doctor_json(&redis, &["inspect", "ping", "--transport-option", "sep=:"]),
        json!({"w1@cdt": {"ok": "pong"}})
    );
    let report = doctor_json(
        &redis,
        &[
            "queues",
            "--transport-option",
            "priority_steps=[0,1,2,3,4,5,6,7,8,9]",
            "--transport-option",
            "sep=:",
        ],
    );
    assert_eq!(
        row(&report, "parked")["priorities"],
        json!({"0": 1, "4": 1})
    );
    // With the default layout the bindings do not parse and the `parked:4` list is not seen;
    // celery-doctor says which option to check.
    let out = doctor(
        &redis,
        &["queues", "--no-workers", "--queue", "parked"],
        true,
    );
    assert!(out.status.success());
    let default: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row(&default, "parked")["ready"], 1);
    assert!(text(&out.stderr).contains("sep"), "{}", text(&out.stderr));
}

#[test]
fn redis_app_path_supplies_broker_prefix_and_routed_queues() {
    let redis = RedisScope::new();
    let _w = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
    publish(
        &redis.env(),
        &[
            "--task",
            "billing.tasks.charge",
            "--args",
            "[5]",
            "--queue",
            "invoices",
            "--count",
            "2",
        ],
    );
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("celeryconfig.py"),
        format!(
            "broker_url = {url:?}\nbroker_transport_options = {{\"global_keyprefix\": {prefix:?}, \"visibility_timeout\": 7200}}\ntask_routes = {{\"billing.*\": {{\"queue\": \"invoices\"}}, \"reports.*\": {{\"queue\": \"reports\"}}}}\n",
            url = redis.url(),
            prefix = redis.prefix(),
        ),
    )
    .unwrap();
    std::fs::write(
        project.path().join("app.py"),
        "from celery import Celery\n\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n",
    )
    .unwrap();
    let dir = project.path().to_str().unwrap();
    let out = celery_doctor(&["queues", "--app-path", dir, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let invoices = row(&report, "invoices");
    assert_eq!(invoices["ready"], 2);
    assert_eq!(invoices["consumers"], 0);
    assert!(
        invoices["sources"]
            .as_array()
            .unwrap()
            .contains(&json!("project"))
    );
    let reports = row(&report, "reports");
    assert_eq!(
        (&reports["exists"], &reports["sources"]),
        (&json!(false), &json!(["project"]))
    );
    assert_eq!(row(&report, "celery")["consumer_nodes"], json!(["w1@cdt"]));
}

#[test]
fn redis_wrong_password_is_an_auth_error_without_the_password() {
    let out = celery_doctor(&[
        "queues",
        "--broker",
        &format!("redis://:{SECRET}@{REDIS_ADDR}/1"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("refused the credentials"), "{err}");
    assert!(
        err.contains(&format!("redis://:****@{REDIS_ADDR}/1")),
        "{err}"
    );
    assert!(!err.contains(SECRET) && !text(&out.stdout).contains(SECRET));
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

// -------------------------------------------------------------------------------------------
// RabbitMQ
// -------------------------------------------------------------------------------------------

#[test]
fn rabbitmq_inspect_answers_exactly_like_celery() {
    let rabbit = RabbitScope::new();
    let w1 = Worker::start(&rabbit.env(), "r1@cdt", &["celery", "emails"], &[]);
    let _w2 = Worker::start(
        &rabbit.env().with("CDT_SERIALIZER", "msgpack"),
        "r2@cdt",
        &["reports"],
        &["--include", "reporting"],
    );
    let done = publish(
        &rabbit.env(),
        &["--task", "liveapp.add", "--args", "[2, 3]"],
    );
    w1.wait_for_log(&format!("[{}] succeeded", done[0]), Duration::from_secs(15));
    // Celery's own first broadcast creates the reply exchange; after that, celery-doctor's
    // broadcasts must leave queues, exchanges and bindings exactly as they were.
    celery_json(&rabbit, &["ping"]);
    let topology = |r: &RabbitScope| {
        let mut s = r.snapshot();
        s.retain(|k, _| !k.contains(".reply."));
        s
    };
    for cmd in [
        "ping",
        "registered",
        "active_queues",
        "conf",
        "revoked",
        "active",
        "reserved",
        "scheduled",
    ] {
        let before = topology(&rabbit);
        let ours = doctor_json(&rabbit, &["inspect", cmd]);
        wait_until(
            "the vhost's topology is as before",
            Duration::from_secs(10),
            || {
                let after = topology(&rabbit);
                if after == before {
                    Ok(())
                } else {
                    Err(format!("{after:#?}"))
                }
            },
        );
        assert_eq!(ours, celery_json(&rabbit, &[cmd]), "inspect {cmd}");
        assert_eq!(keys(&ours), ["r1@cdt", "r2@cdt"]);
    }
    let registered = doctor_json(&rabbit, &["inspect", "registered"]);
    assert!(
        registered["r2@cdt"]
            .as_array()
            .unwrap()
            .contains(&json!("reports.build"))
    );
    assert!(
        !registered["r1@cdt"]
            .as_array()
            .unwrap()
            .contains(&json!("reports.build"))
    );
    let ours = doctor_json(&rabbit, &["inspect", "stats"]);
    let theirs = celery_json(&rabbit, &["stats"]);
    for node in ["r1@cdt", "r2@cdt"] {
        assert_eq!(keys(&ours[node]), keys(&theirs[node]));
        assert_eq!(ours[node]["broker"], theirs[node]["broker"]);
    }
    assert_eq!(
        doctor_json(&rabbit, &["inspect", "ping", "-d", "r2@cdt"]),
        json!({"r2@cdt": {"ok": "pong"}})
    );
    // The management API says how many mailboxes listen: no waiting out the timeout.
    let t = Instant::now();
    doctor_json(&rabbit, &["inspect", "ping", "--timeout", "5"]);
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "waited {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let one = doctor_json(
        &rabbit,
        &["inspect", "ping", "--expect", "1", "--timeout", "5"],
    );
    assert!(t.elapsed() < Duration::from_secs(4));
    assert_eq!(one.as_object().unwrap().len(), 1);
}

#[test]
fn rabbitmq_queues_and_peek_leave_the_queues_alone() {
    let rabbit = RabbitScope::new();
    let _w = Worker::start(&rabbit.env(), "r1@cdt", &["celery"], &[]);
    let first = publish(
        &rabbit.env(),
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--queue",
            "parked",
            "--count",
            "3",
        ],
    );
    publish(
        &rabbit.env(),
        &[
            "--task",
            "liveapp.send_email",
            "--args",
            r#"["a@b"]"#,
            "--queue",
            "parked",
            "--serializer",
            "msgpack",
        ],
    );
    publish(
        &rabbit.env(),
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 1]",
            "--countdown",
            "600",
        ],
    );
    let before = rabbit.wait_queue_counts(|c| {
        c.get("parked") == Some(&(4, 0)) && c.get("celery") == Some(&(0, 1))
    });

    let before = {
        let mut b = before;
        b.retain(|name, _| !name.ends_with(".pidbox"));
        b
    };
    let report = doctor_json(&rabbit, &["queues"]);
    assert_unchanged(&before, &rabbit_counts(&rabbit));
    let parked = row(&report, "parked");
    assert_eq!(
        (&parked["ready"], &parked["unacked"], &parked["consumers"]),
        (&json!(4), &json!(0), &json!(0))
    );
    assert_eq!(
        parked["sampled"], 0,
        "bodies are not read without --allow-requeue"
    );
    let celery = row(&report, "celery");
    assert_eq!(
        (&celery["ready"], &celery["unacked"], &celery["consumers"]),
        (&json!(0), &json!(1), &json!(1))
    );
    assert_eq!(celery["consumer_nodes"], json!(["r1@cdt"]));
    assert!(report["queues"].as_array().unwrap().iter().all(|r| {
        let n = r["name"].as_str().unwrap();
        !n.ends_with(".pidbox") && !n.starts_with("celeryev")
    }));

    // peek refuses without the flag.
    let out = doctor(&rabbit, &["peek", "parked"], true);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--allow-requeue"));

    // With the flag: decoded, in queue order, all put back.
    let peeked = doctor_json(&rabbit, &["peek", "parked", "-n", "10", "--allow-requeue"]);
    let msgs = peeked["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4);
    let ids: Vec<&str> = msgs
        .iter()
        .take(3)
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, first.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(msgs[0]["args"], json!([1, 2]));
    assert_eq!(msgs[3]["args"], json!(["a@b"]));
    assert_eq!(msgs[3]["content_type"], "application/x-msgpack");
    rabbit.wait_queue_counts(|c| c.get("parked") == Some(&(4, 0)));
    let again = doctor_json(&rabbit, &["peek", "parked", "-n", "1", "--allow-requeue"]);
    assert_eq!(
        again["messages"][0]["id"],
        first[0].as_str(),
        "order kept after requeue"
    );
    assert_eq!(again["messages"][0]["redelivered"], true);

    let sampled = doctor_json(&rabbit, &["queues", "--allow-requeue"]);
    assert_eq!(
        row(&sampled, "parked")["tasks"],
        json!({"liveapp.add": 3, "liveapp.send_email": 1})
    );
    rabbit.wait_queue_counts(|c| c.get("parked") == Some(&(4, 0)));

    // Without the management API: counts from passive declares, unacked unknown, a note.
    let out = doctor(
        &rabbit,
        &[
            "queues",
            "--queue",
            "parked",
            "--management-url",
            "http://127.0.0.1:1",
        ],
        true,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row(&report, "parked")["ready"], 4);
    assert_eq!(row(&report, "parked")["unacked"], Value::Null);
    assert!(
        text(&out.stderr).contains("management API"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn rabbitmq_bad_credentials_and_vhost_are_one_line_errors() {
    let rabbit = RabbitScope::new();
    for (url, needle) in [
        (
            format!("amqp://guest:{SECRET}@{AMQP_ADDR}/{}", rabbit.vhost()),
            "refused the credentials",
        ),
        (
            format!("amqp://guest:guest@{AMQP_ADDR}/cdt-no-such-vhost"),
            "virtual host `cdt-no-such-vhost`",
        ),
    ] {
        for cmd in [&["inspect", "ping"][..], &["queues"]] {
            let mut args = cmd.to_vec();
            args.extend(["--broker", url.as_str()]);
            let out = celery_doctor(&args);
            assert_eq!(out.status.code(), Some(2));
            let err = text(&out.stderr);
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains(SECRET), "{err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        }
    }
}

// -------------------------------------------------------------------------------------------
// Redis Sentinel
// -------------------------------------------------------------------------------------------

/// A `redis-server --sentinel` on a free port, monitoring the local Redis as `cdtmaster`.
struct Sentinel {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    fn start() -> Sentinel {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("sentinel.conf");
        let (host, redis_port) = REDIS_ADDR.split_once(':').unwrap();
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\nsentinel monitor cdtmaster {host} {redis_port} 1\n"
            ),
        )
        .unwrap();
        let child = std::process::Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (for --sentinel) is installed with Redis");
        let s = Sentinel {
            child,
            port,
            _dir: dir,
        };
        wait_until(
            "the sentinel knows its master",
            Duration::from_secs(10),
            || {
                let client = redis::Client::open(format!("redis://127.0.0.1:{}", s.port).as_str())
                    .map_err(|e| e.to_string())?;
                let mut con = client.get_connection().map_err(|e| e.to_string())?;
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg("cdtmaster")
                    .query::<Vec<String>>(&mut con)
                    .map_err(|e| e.to_string())
            },
        );
        s
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn redis_sentinel_urls_resolve_the_master_and_keep_db_and_prefix() {
    let redis = RedisScope::new();
    let sentinel = Sentinel::start();
    let _w = Worker::start(&redis.env(), "w1@cdt", &["celery"], &[]);
    publish(
        &redis.env(),
        &[
            "--task",
            "liveapp.add",
            "--args",
            "[1, 2]",
            "--queue",
            "parked",
        ],
    );
    // Celery's form: several sentinels separated by `;`, the first one down.
    let url = format!(
        "sentinel://127.0.0.1:1/{db};sentinel://127.0.0.1:{port}/{db}",
        db = redis.db(),
        port = sentinel.port
    );
    let opts = redis.transport_option_args();
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend([
            "--broker",
            url.as_str(),
            "--transport-option",
            "master_name=cdtmaster",
            "--format",
            "json",
        ]);
        args.extend(opts.iter().map(String::as_str));
        let out = celery_doctor(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(run(&["inspect", "ping"]), json!({"w1@cdt": {"ok": "pong"}}));
    assert_eq!(row(&run(&["queues"]), "parked")["ready"], 1);
    // Without the master's name: a usage error that says which option is missing.
    let out = celery_doctor(&["queues", "--broker", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("master_name"),
        "{}",
        text(&out.stderr)
    );
}
