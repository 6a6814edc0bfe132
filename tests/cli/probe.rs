//! The live commands' bad input, without any broker: bad URLs and options, refused
//! connections, and a server that accepts and then says nothing. Each must be one line on
//! stderr, exit 2, within the timeout, and never show the password.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use super::{assert_one_line_error, bin};

const SECRET: &str = "hunter2-Sekr1t";

fn run(args: &[&str]) -> std::process::Output {
    bin()
        .env_remove("CELERY_BROKER_URL")
        .env_remove("BROKER_URL")
        .args(args)
        .output()
        .unwrap()
}

fn assert_no_secret(o: &std::process::Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!all.contains(SECRET), "password leaked: {all}");
}

/// A port nothing listens on: bind, read the port, close.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn bad_urls_are_usage_errors() {
    for (url, needle) in [
        (
            format!("ftp://u:{SECRET}@host/"),
            "unsupported scheme `ftp`",
        ),
        (
            format!("redis://:{SECRET}@host/abc"),
            "database number `abc`",
        ),
        ("localhost:6379".to_string(), "expected `scheme://…`"),
        ("sqs://".to_string(), "SQS"),
    ] {
        for cmd in [&["inspect", "ping"][..], &["queues"], &["peek", "celery"]] {
            let mut args = cmd.to_vec();
            args.extend(["--broker", url.as_str()]);
            let o = run(&args);
            assert_one_line_error(&o, needle);
            assert_no_secret(&o);
        }
    }
}

#[test]
fn no_broker_names_the_flag_and_the_variables() {
    let o = run(&["queues"]);
    assert_one_line_error(&o, "CELERY_BROKER_URL");
}

#[test]
fn broker_url_comes_from_the_environment() {
    let port = free_port();
    let o = bin()
        .env_remove("CELERY_BROKER_URL")
        .env(
            "BROKER_URL",
            format!("redis://:{SECRET}@127.0.0.1:{port}/0"),
        )
        .args(["inspect", "ping"])
        .output()
        .unwrap();
    assert_one_line_error(&o, "connection refused");
    assert_no_secret(&o);
    // CELERY_BROKER_URL wins over BROKER_URL.
    let o = bin()
        .env(
            "CELERY_BROKER_URL",
            format!("amqp://u:{SECRET}@127.0.0.1:{port}//"),
        )
        .env("BROKER_URL", "redis://127.0.0.1:1/0")
        .args(["queues"])
        .output()
        .unwrap();
    assert_one_line_error(&o, &format!("amqp://u:****@127.0.0.1:{port}//"));
    assert_no_secret(&o);
}

#[test]
fn bad_transport_options_and_flags() {
    let b = ["--broker", "redis://127.0.0.1:1/0"];
    let cases: &[(&[&str], &str)] = &[
        (&["queues", "--transport-option", "nonsense"], "KEY=VALUE"),
        (
            &["queues", "--transport-option", "priority_steps=fast"],
            "priority_steps",
        ),
        (
            &["queues", "--transport-option", "visibility_timeout=-1"],
            "visibility_timeout",
        ),
        (&["queues", "--connect-timeout", "0"], "--connect-timeout"),
        (&["inspect", "ping", "--timeout=-3"], "--timeout"),
        (&["inspect", "query_task"], "task id"),
        (&["inspect", "ping", "--expect", "0"], "--expect"),
        (&["inspect", "ping", "extra"], "takes no arguments"),
    ];
    for (args, needle) in cases {
        let mut all = args.to_vec();
        all.extend(b);
        assert_one_line_error(&run(&all), needle);
    }
    // clap's own usage errors also exit 2.
    assert_eq!(run(&["inspect", "nosuchcmd"]).status.code(), Some(2));
}

#[test]
fn refused_connections_fail_fast_with_the_broker_named() {
    let port = free_port();
    for (url, shown) in [
        (
            format!("redis://:{SECRET}@127.0.0.1:{port}/3"),
            format!("redis://:****@127.0.0.1:{port}/3"),
        ),
        (
            format!("amqp://app:{SECRET}@127.0.0.1:{port}/prod"),
            format!("amqp://app:****@127.0.0.1:{port}/prod"),
        ),
    ] {
        for cmd in [
            &["inspect", "ping"][..],
            &["queues"],
            &["peek", "q", "--allow-requeue"],
        ] {
            let mut args = cmd.to_vec();
            args.extend(["--broker", url.as_str()]);
            let t = Instant::now();
            let o = run(&args);
            assert!(t.elapsed() < Duration::from_secs(5));
            assert_one_line_error(&o, "connection refused");
            assert_one_line_error(&o, &shown);
            assert_no_secret(&o);
        }
    }
}

#[test]
fn unknown_hosts_are_named() {
    let o = run(&["queues", "--broker", "redis://no-such-host.invalid:6379/0"]);
    assert_one_line_error(&o, "cannot resolve host `no-such-host.invalid`");
    let o = run(&[
        "queues",
        "--broker",
        "amqp://u:p@no-such-host.invalid:5672//",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_silent_server_times_out_within_the_limit() {
    // Accepts connections and never says a word (a hung broker, a firewall that eats packets).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().take(6) {
            held.push(conn);
        }
        std::thread::sleep(Duration::from_secs(3));
    });
    for url in [
        format!("redis://:{SECRET}@127.0.0.1:{port}/0"),
        format!("amqp://guest:{SECRET}@127.0.0.1:{port}//"),
        format!("rediss://:{SECRET}@127.0.0.1:{port}/0"),
    ] {
        let t = Instant::now();
        let o = run(&["queues", "--broker", &url, "--connect-timeout", "0.5"]);
        let took = t.elapsed();
        assert!(took < Duration::from_secs(3), "took {took:?}");
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("within 0.5 s") || err.contains("TLS"), "{err}");
        assert_no_secret(&o);
    }
    drop(accepted);
}

#[test]
fn peek_on_rabbitmq_needs_allow_requeue() {
    let o = run(&[
        "peek",
        "celery",
        "--broker",
        "amqp://guest:guest@127.0.0.1:1//",
    ]);
    assert_one_line_error(&o, "--allow-requeue");
}

#[test]
fn diagnose_an_unreachable_broker_still_reports_then_exits_2() {
    let port = free_port();
    let url = format!("redis://:{SECRET}@127.0.0.1:{port}/0");
    let o = run(&["diagnose", "--broker", &url, "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_no_secret(&o);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["verdict"]["code"], "BROKER_UNREACHABLE");
    assert_eq!(report["findings"][0]["code"], "BROKER_UNREACHABLE");
    let workers = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "workers")
        .unwrap();
    assert_eq!(workers["status"], "skip");
    // Markdown for the incident channel says the same.
    let o = run(&["diagnose", "--broker", &url, "--format", "markdown"]);
    assert_eq!(o.status.code(), Some(2));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("**Verdict: `BROKER_UNREACHABLE`**"), "{md}");
    assert_no_secret(&o);
}

#[test]
fn diagnose_a_silent_broker_within_the_budget() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _held = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().take(2) {
            held.push(conn);
        }
        std::thread::sleep(Duration::from_secs(4));
    });
    let t = Instant::now();
    let o = run(&[
        "diagnose",
        "--broker",
        &format!("redis://127.0.0.1:{port}/0"),
        "--budget",
        "1",
        "--format",
        "json",
    ]);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(o.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["verdict"]["code"], "BROKER_UNREACHABLE");
}

#[test]
fn diagnose_bad_arguments() {
    let b = ["--broker", "redis://127.0.0.1:1/0"];
    let cases: &[(&[&str], &str)] = &[
        (&["diagnose", "--format", "sarif"], "--app-path"),
        (&["diagnose", "--budget", "0"], "--budget"),
        (&["diagnose", "--timeout=-1"], "--timeout"),
    ];
    for (args, needle) in cases {
        let mut all = args.to_vec();
        all.extend(b);
        assert_one_line_error(&run(&all), needle);
    }
}
