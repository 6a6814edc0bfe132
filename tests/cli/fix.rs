//! `lint --fix`, `--unsafe-fixes` and `--diff` through the real binary: what is written, what
//! is not, and the bad input that must leave every file as it was.

use super::{assert_one_line_error, run_in, stderr, stdout, tree};

/// CD401 (safe fix: `bind=True`) and CD903 (unsafe fix: `minute=0`).
const TASKS: &str = "from celery import shared_task
from celery.schedules import crontab

SCHEDULE = {\"nightly\": {\"task\": \"tasks.push\", \"schedule\": crontab(hour=3)}}


@shared_task
def push(self, hook_id):
    return hook_id
";

const SELECT: &[&str] = &["--select", "CD401,CD903", "--no-color"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["lint", "."];
    v.extend_from_slice(SELECT);
    v.extend_from_slice(extra);
    v
}

fn read(dir: &tempfile::TempDir, name: &str) -> String {
    std::fs::read_to_string(dir.path().join(name)).unwrap()
}

#[test]
fn fix_writes_safe_fixes_and_reports_what_remains() {
    let dir = tree(&[("tasks.py", TASKS.as_bytes())]);
    let before = run_in(dir.path(), &args(&[]));
    let out = stdout(&before);
    assert!(out.contains("CD401 [*] Task"), "{out}");
    assert!(out.contains("CD903 `crontab(hour=3)`"), "{out}");
    assert!(
        out.contains(
            "[*] 1 fixable with `--fix` (1 hidden fix can be enabled with `--unsafe-fixes`)."
        ),
        "{out}"
    );

    let o = run_in(dir.path(), &args(&["--fix"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Fixed 1 finding (1 remaining)."), "{out}");
    assert!(!out.contains("CD401"), "{out}");
    assert!(
        out.contains("No fixes available (1 hidden fix can be enabled with `--unsafe-fixes`)."),
        "{out}"
    );
    let fixed = read(&dir, "tasks.py");
    assert_eq!(
        fixed,
        TASKS.replace("@shared_task\n", "@shared_task(bind=True)\n")
    );

    let o = run_in(dir.path(), &args(&["--fix", "--unsafe-fixes"]));
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("Fixed 1 finding (0 remaining)."));
    assert!(read(&dir, "tasks.py").contains("crontab(hour=3, minute=0)"));
    // Nothing left: a second run changes nothing.
    let o = run_in(dir.path(), &args(&["--fix", "--unsafe-fixes"]));
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Fixed 0 findings (0 remaining)."));
}

#[test]
fn diff_prints_a_unified_diff_and_writes_nothing() {
    let dir = tree(&[("tasks.py", TASKS.as_bytes())]);
    let o = run_in(dir.path(), &args(&["--diff"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("--- a/tasks.py\n+++ b/tasks.py\n"), "{out}");
    assert!(
        out.contains("-@shared_task\n+@shared_task(bind=True)\n"),
        "{out}"
    );
    assert!(!out.contains("minute=0"), "{out}");
    assert!(stderr(&o).contains("Would fix 1 finding (1 remaining)."));
    assert_eq!(read(&dir, "tasks.py"), TASKS);

    let o = run_in(dir.path(), &args(&["--diff", "--unsafe-fixes"]));
    assert!(stdout(&o).contains("+SCHEDULE = {\"nightly\": {\"task\": \"tasks.push\", \"schedule\": crontab(hour=3, minute=0)}}"));
    assert_eq!(read(&dir, "tasks.py"), TASKS);

    let clean = tree(&[("tasks.py", b"x = 1\n")]);
    let o = run_in(clean.path(), &args(&["--diff"]));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "");
}

#[test]
fn fix_on_a_read_only_file_exits_2_and_writes_nothing() {
    let dir = tree(&[
        ("a.py", TASKS.as_bytes()),
        ("b.py", TASKS.replace("push", "pull").as_bytes()),
    ]);
    let b = dir.path().join("b.py");
    let mut perms = std::fs::metadata(&b).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&b, perms).unwrap();
    let o = run_in(dir.path(), &args(&["--fix"]));
    assert_one_line_error(&o, "b.py: file is read-only; no file was fixed");
    assert_eq!(read(&dir, "a.py"), TASKS);
    assert_eq!(read(&dir, "b.py"), TASKS.replace("push", "pull"));
}

#[test]
fn fix_whose_target_changed_since_the_lint_exits_2_and_writes_nothing() {
    let dir = tree(&[
        ("a.py", TASKS.as_bytes()),
        ("b.py", TASKS.replace("push", "pull").as_bytes()),
    ]);
    // Debug builds only: the binary appends a line to b.py after linting, before writing.
    let o = super::bin()
        .current_dir(dir.path())
        .env(
            "CELERY_DOCTOR_TEST_MODIFY_BEFORE_WRITE",
            dir.path().join("b.py"),
        )
        .args(args(&["--fix"]))
        .output()
        .unwrap();
    assert_one_line_error(&o, "b.py: changed on disk since it was linted");
    assert_eq!(read(&dir, "a.py"), TASKS);
    assert_eq!(
        read(&dir, "b.py"),
        TASKS.replace("push", "pull") + "# edited meanwhile\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
}

#[test]
fn sarif_and_json_carry_the_fixes() {
    let dir = tree(&[("tasks.py", TASKS.as_bytes())]);
    let o = run_in(dir.path(), &args(&["--format", "sarif"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let cd401 = results.iter().find(|r| r["ruleId"] == "CD401").unwrap();
    let change = &cd401["fixes"][0]["artifactChanges"][0];
    assert_eq!(change["artifactLocation"]["uri"], "tasks.py");
    let replacement = &change["replacements"][0];
    assert_eq!(replacement["insertedContent"]["text"], "(bind=True)");
    assert_eq!(replacement["deletedRegion"]["startLine"], 7);
    assert_eq!(replacement["deletedRegion"]["startColumn"], 13);
    assert_eq!(replacement["deletedRegion"]["endColumn"], 13);
    assert_eq!(
        cd401["fixes"][0]["description"]["text"],
        "Add `bind=True` to the task decorator."
    );
    let cd903 = results.iter().find(|r| r["ruleId"] == "CD903").unwrap();
    assert!(cd903["fixes"].is_array());

    let o = run_in(dir.path(), &args(&["--format", "json"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fix = &doc
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "CD903")
        .unwrap()["fix"];
    assert_eq!(fix["applicability"], "unsafe");
    assert_eq!(fix["edits"][0]["content"], ", minute=0");
    assert_eq!(fix["edits"][0]["start"]["line"], 4);
}

#[test]
fn diff_masks_credentials_like_the_reporters() {
    let dir = tree(&[
        (
            "app.py",
            b"from celery import Celery\n\napp = Celery(\"jobs\")\napp.config_from_object(\"celeryconfig\")\n",
        ),
        (
            "celeryconfig.py",
            b"BROKER_URL = \"redis://:s3cr3t-pw@redis:6379/0\"\n",
        ),
    ]);
    let o = run_in(dir.path(), &["lint", ".", "--select", "CD701", "--diff"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        out.contains("+broker_url = \"redis://:****@redis:6379/0\""),
        "{out}"
    );
    assert!(!out.contains("s3cr3t-pw"), "{out}");
    // --fix writes the real text, of course.
    let o = run_in(dir.path(), &["lint", ".", "--select", "CD701", "--fix"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(!stdout(&o).contains("s3cr3t-pw"));
    assert_eq!(
        read(&dir, "celeryconfig.py"),
        "broker_url = \"redis://:s3cr3t-pw@redis:6379/0\"\n"
    );
}

#[test]
fn diff_shows_the_unsafe_beat_expiry_fix_only_with_unsafe_fixes() {
    const BEAT: &str = "from celery import Celery

app = Celery(\"tasks\")


@app.task
def poll():
    ...


app.conf.beat_schedule = {
    \"poll\": {\"task\": \"tasks.poll\", \"schedule\": 60},
}
";
    let dir = tree(&[("tasks.py", BEAT.as_bytes())]);
    let cd902 = |extra: &[&'static str]| {
        let mut v = vec!["lint", ".", "--select", "CD902", "--no-color", "--diff"];
        v.extend_from_slice(extra);
        run_in(dir.path(), &v)
    };
    // The fix is unsafe: plain `--diff` has nothing to show (and exits 0, like a clean diff).
    let o = cd902(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("Would fix 0 findings (1 remaining)."),
        "{}",
        stderr(&o)
    );

    let o = cd902(&["--unsafe-fixes"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("--- a/tasks.py\n+++ b/tasks.py\n"), "{out}");
    assert!(
        out.contains(
            "-    \"poll\": {\"task\": \"tasks.poll\", \"schedule\": 60},\n\
             +    \"poll\": {\"task\": \"tasks.poll\", \"schedule\": 60, \"options\": {\"expires\": 60}},\n"
        ),
        "{out}"
    );
    assert!(stderr(&o).contains("Would fix 1 finding (0 remaining)."));
    assert_eq!(read(&dir, "tasks.py"), BEAT);
}
