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
