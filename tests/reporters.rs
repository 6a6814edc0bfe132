//! One snapshot per output format over the demo project: the output is the contract.

use std::path::PathBuf;
use std::process::Command;

fn lint(format: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_celery-doctor"))
        .current_dir(&root)
        .env_remove("FORCE_COLOR")
        .args([
            "lint",
            "fixtures/projects/shop",
            "--format",
            format,
            "--no-color",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let root_uri = format!("file://{}/", root.display());
    text.replace(&root_uri, "file://[ROOT]/")
        .replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

#[test]
fn text() {
    insta::assert_snapshot!(lint("text"));
}

#[test]
fn json() {
    insta::assert_snapshot!(lint("json"));
}

#[test]
fn github() {
    insta::assert_snapshot!(lint("github"));
}

#[test]
fn sarif() {
    insta::assert_snapshot!(lint("sarif"));
}

/// More findings than the JSON reporter serialises in one batch: still one pretty-printed array
/// (items two spaces in, joined by `,`), with every finding once, in order.
#[test]
fn json_of_many_findings_is_one_pretty_array() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "from celery import shared_task\n\n\n@shared_task(time_limit=10)\ndef t(x):\n    return x\n\n\ndef go():\n",
    );
    let calls = 2_500;
    for i in 0..calls {
        text.push_str(&format!("    t.delay({i}, {i})\n"));
    }
    std::fs::write(dir.path().join("tasks.py"), &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_celery-doctor"))
        .current_dir(dir.path())
        .args(["lint", ".", "--format", "json", "--select", "CD106"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let items = parsed.as_array().unwrap();
    assert_eq!(items.len(), calls);
    // One finding per call line, in line order (line 10 holds the first call).
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["start"]["line"], serde_json::json!(10 + i), "item {i}");
    }
    assert!(stdout.starts_with("[\n  {\n    \"code\": \"CD106\","));
    assert!(stdout.ends_with("\n  }\n]\n"));
    assert_eq!(stdout.matches("\n  },\n  {\n").count(), calls - 1);
}
