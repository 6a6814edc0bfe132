//! The real binary, end to end: exit codes, formats, bad input, colour, suppression, config.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod custom;
mod fix;
mod probe;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_celery-doctor"));
    c.env_remove("NO_COLOR")
        .env_remove("FORCE_COLOR")
        .env_remove("CLICOLOR_FORCE");
    c
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin().current_dir(dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

const UNBOUNDED: &[u8] =
    b"from celery import shared_task\n\n\n@shared_task\ndef sync(x):\n    return x\n";
const BOUNDED: &[u8] = b"from celery import shared_task\n\n\n@shared_task(time_limit=60)\ndef sync(x):\n    return x\n";

/// One line on stderr, mentioning `needle`, and no panic or backtrace.
fn assert_one_line_error(o: &Output, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("celery-doctor: error: "), "{err}");
    assert!(err.contains(needle), "expected `{needle}` in {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn exit_codes_follow_ruff() {
    let clean = tree(&[("tasks.py", BOUNDED)]);
    assert_eq!(run_in(clean.path(), &["lint", "."]).status.code(), Some(0));
    let dirty = tree(&[("tasks.py", UNBOUNDED)]);
    let o = run_in(dirty.path(), &["lint", "."]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("tasks.py:5:5: CD201 Task `tasks.sync` has no time limit"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        run_in(dirty.path(), &["lint", ".", "--exit-zero"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn syntax_error_is_a_finding_and_the_rest_is_linted() {
    let dir = tree(&[
        ("broken.py", b"from celery import shared_task\n\ndef broken(:\n    pass\n\n@shared_task\ndef after(x):\n    return x\n"),
        ("tasks.py", UNBOUNDED),
    ]);
    let o = run_in(dir.path(), &["lint", ".", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        codes.contains(&("broken.py".into(), "CD000".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("tasks.py".into(), "CD201".into())),
        "{codes:?}"
    );
    // The recovered part of the broken file is still modelled.
    assert!(
        codes.contains(&("broken.py".into(), "CD201".into())),
        "{codes:?}"
    );
    let text = stdout(&run_in(dir.path(), &["lint", ".", "--no-color"]));
    assert!(
        text.contains("Checked 2 files (1 with syntax errors)."),
        "{text}"
    );
}

#[test]
fn unreadable_files_are_warnings_not_crashes() {
    let dir = tree(&[
        ("latin1.py", b"# caf\xe9\nx = 1\n"),
        ("binary.py", b"\x00\x01\x02\x03"),
        ("empty.py", b""),
        ("tasks.py", UNBOUNDED),
    ]);
    let o = run_in(dir.path(), &["lint", ".", "--no-color"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("latin1.py: not valid UTF-8"), "{err}");
    assert!(err.contains("binary.py: binary file"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        stdout(&o).contains("Checked 2 files (2 skipped)."),
        "{}",
        stdout(&o)
    );
}

#[test]
fn huge_and_deeply_nested_modules() {
    let mut huge = String::from("from celery import shared_task\n\n");
    while huge.len() < 5 * 1024 * 1024 {
        let i = huge.len();
        huge.push_str(&format!(
            "@shared_task(time_limit=10)\ndef t{i}(a, b=1):\n    return a + b\n\n"
        ));
    }
    let deep = format!(
        "x = {}1{}\ny = {}\n",
        "(".repeat(20_000),
        ")".repeat(20_000),
        vec!["a"; 50_000].join(" + ")
    );
    let dir = tree(&[("huge.py", huge.as_bytes()), ("deep.py", deep.as_bytes())]);
    let o = run_in(dir.path(), &["lint", ".", "--no-color"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("Checked 2 files."));
}

#[test]
fn bad_paths_config_and_selectors_exit_2() {
    let dir = tree(&[("tasks.py", BOUNDED)]);
    assert_one_line_error(
        &run_in(dir.path(), &["lint", "missing/"]),
        "missing/: no such file or directory",
    );
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.path().join("nowhere.py"), dir.path().join("link.py"))
            .unwrap();
        assert_one_line_error(
            &run_in(dir.path(), &["lint", "link.py"]),
            "broken symbolic link",
        );
    }
    assert_one_line_error(
        &run_in(dir.path(), &["lint", "tasks.py", "--select", "CD999"]),
        "unknown rule selector `CD999`",
    );
    assert_one_line_error(
        &run_in(
            dir.path(),
            &["lint", "tasks.py", "--output", "no/such/dir/out.json"],
        ),
        "cannot write output file",
    );

    let unknown = tree(&[
        (
            "pyproject.toml",
            b"[tool.celery-doctor]\nselekt = [\"CD2\"]\n",
        ),
        ("tasks.py", BOUNDED),
    ]);
    assert_one_line_error(&run_in(unknown.path(), &["lint", "."]), "selekt");
    let wrong_type = tree(&[
        (".celery-doctor.yaml", b"select: CD2\n"),
        ("tasks.py", BOUNDED),
    ]);
    assert_one_line_error(&run_in(wrong_type.path(), &["lint", "."]), "select");
    let bad_severity = tree(&[
        (".celery-doctor.yaml", b"severity:\n  CD201: fatal\n"),
        ("tasks.py", BOUNDED),
    ]);
    assert_one_line_error(&run_in(bad_severity.path(), &["lint", "."]), "fatal");
    // Usage errors from clap also exit 2.
    assert_eq!(
        run_in(dir.path(), &["lint", "--format", "xml"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn colour_only_on_request_or_terminal() {
    let dir = tree(&[("tasks.py", UNBOUNDED)]);
    // Not a terminal: no escape codes.
    assert!(!stdout(&run_in(dir.path(), &["lint", "."])).contains('\x1b'));
    let forced = bin()
        .current_dir(dir.path())
        .args(["lint", ".", "--color", "always"])
        .output()
        .unwrap();
    assert!(stdout(&forced).contains('\x1b'));
    let no_color = bin()
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "1")
        .args(["lint", "."])
        .output()
        .unwrap();
    assert!(!stdout(&no_color).contains('\x1b'));
    let json = bin()
        .current_dir(dir.path())
        .args(["lint", ".", "--format", "json", "--color", "always"])
        .output()
        .unwrap();
    assert!(!stdout(&json).contains('\x1b'));
}

#[test]
fn noqa_on_def_or_decorator_line() {
    let dir = tree(&[(
        "tasks.py",
        b"from celery import shared_task\n\n\n@shared_task  # noqa: CD201\ndef a(x):\n    return x\n\n\n@shared_task\ndef b(x):  # noqa\n    return x\n\n\n@shared_task\ndef c(x):  # noqa: CD203\n    return x\n",
    )]);
    let o = run_in(dir.path(), &["lint", ".", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tasks: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["task"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, vec!["tasks.c"]);
}

#[test]
fn config_file_select_ignore_and_per_file_ignores() {
    let files: &[(&str, &[u8])] = &[
        ("pyproject.toml", b"[tool.celery-doctor]\nper-file-ignores = { \"legacy/*\" = [\"CD2\"] }\nseverity = { CD201 = \"error\" }\n"),
        ("legacy/old.py", UNBOUNDED),
        ("tasks.py", UNBOUNDED),
    ];
    let dir = tree(files);
    let o = run_in(dir.path(), &["lint", ".", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1, "{v}");
    assert_eq!(arr[0]["path"], "tasks.py");
    assert_eq!(arr[0]["severity"], "error");
    // The command line overrides the file.
    assert_eq!(
        run_in(dir.path(), &["lint", ".", "--ignore", "CD201"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run_in(dir.path(), &["lint", ".", "--select", "CD1"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn machine_formats_are_well_formed() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let o = run_in(
        &root,
        &["lint", "fixtures/projects/shop", "--format", "sarif"],
    );
    assert_eq!(o.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), celery_doctor::lint::rules::RULES.len());
    for r in run["results"].as_array().unwrap() {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert!(
            !loc["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .starts_with('/')
        );
        assert!(r["partialFingerprints"]["celeryDoctorFingerprint/v2"].is_string());
    }
    let gh = stdout(&run_in(
        &root,
        &["lint", "fixtures/projects/shop", "--format", "github"],
    ));
    assert!(
        gh.lines().all(|l| l.starts_with("::error ")
            || l.starts_with("::warning ")
            || l.starts_with("::notice ")),
        "{gh}"
    );
    assert!(gh.contains("file=fixtures/projects/shop/orders/views.py"));
}

#[test]
fn secrets_never_reach_output() {
    let dir = tree(&[("celery_app.py", b"from celery import Celery\napp = Celery('shop', broker='amqp://shop:S3cr3t-pw@rabbit.internal:5672/shop')\n")]);
    for format in ["text", "json", "sarif", "github"] {
        let o = run_in(
            dir.path(),
            &["lint", ".", "--format", format, "--select", "CD803"],
        );
        assert_eq!(o.status.code(), Some(1));
        let out = stdout(&o);
        assert!(out.contains("shop:****@rabbit.internal"), "{format}: {out}");
        assert!(!out.contains("S3cr3t"), "{format}: {out}");
    }
}

#[test]
fn output_file_is_written_whole() {
    let dir = tree(&[("tasks.py", UNBOUNDED)]);
    let o = run_in(
        dir.path(),
        &["lint", ".", "--format", "json", "--output", "report.json"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("tmp")
        })
        .collect();
    assert!(leftovers.is_empty());
}

/// `--output` replaces regular files atomically but writes through devices, FIFOs and links:
/// renaming a temporary file over `/dev/null` as root used to replace the device with a file.
#[test]
fn output_to_a_device_fifo_or_link_writes_through() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tree(&[("tasks.py", UNBOUNDED)]);
    // Lint the tree into `output`; the run finds the one finding.
    let lint_to = |output: &str| {
        let o = run_in(
            dir.path(),
            &["lint", ".", "--format", "json", "--output", output],
        );
        assert_eq!(o.status.code(), Some(1), "{output}: {}", stderr(&o));
    };
    let one_finding = |report: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(report).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1);
    };

    lint_to("/dev/null");
    let null = std::fs::metadata("/dev/null").unwrap();
    assert!(
        null.file_type().is_char_device(),
        "/dev/null is no longer a device"
    );

    // A FIFO: the reader gets the report, the FIFO stays a FIFO.
    let fifo = dir.path().join("report.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    lint_to("report.fifo");
    // Checked before joining: a FIFO replaced by a file would leave the reader blocked.
    let meta = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(meta.file_type().is_fifo(), "the FIFO was replaced");
    one_finding(&reader.join().unwrap());

    // Symbolic links, to an existing file and to one that does not exist yet: the target gets
    // the report, the link stays a link.
    std::fs::create_dir(dir.path().join("reports")).unwrap();
    std::fs::write(dir.path().join("reports/latest.json"), "old").unwrap();
    for (link, target) in [
        ("report.json", "reports/latest.json"),
        ("next.json", "reports/next.json"),
    ] {
        std::os::unix::fs::symlink(target, dir.path().join(link)).unwrap();
        lint_to(link);
        let meta = std::fs::symlink_metadata(dir.path().join(link)).unwrap();
        assert!(meta.file_type().is_symlink(), "{link} is no longer a link");
        one_finding(&std::fs::read(dir.path().join(target)).unwrap());
    }

    // `/dev/stdout` with stdout appended to a log: the log keeps its earlier lines.
    let log = dir.path().join("all.log");
    std::fs::write(&log, "PREVIOUS\n").unwrap();
    let append = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let o = bin()
        .current_dir(dir.path())
        .args(["lint", ".", "--format", "json", "--output", "/dev/stdout"])
        .stdout(append)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    let rest = text
        .strip_prefix("PREVIOUS\n")
        .expect("the log lost its first line");
    one_finding(rest.as_bytes());
}

#[test]
fn rules_and_rule_commands() {
    let o = bin().args(["rules", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v.as_array().unwrap().len(),
        celery_doctor::lint::rules::RULES.len()
    );
    let text = stdout(&bin().args(["rules"]).output().unwrap());
    assert!(text.contains("CD201") && text.contains("task-without-time-limit"));
    let rule = bin().args(["rule", "CD201"]).output().unwrap();
    assert_eq!(rule.status.code(), Some(0));
    let out = stdout(&rule);
    assert!(
        out.contains("## Why is this bad?")
            && out.contains("## Example")
            && out.contains("## Use instead"),
        "{out}"
    );
    let unknown = bin().args(["rule", "CD999"]).output().unwrap();
    assert_one_line_error(&unknown, "unknown rule `CD999`");
}

#[test]
fn excludes_default_directories_and_gitignore() {
    let dir = tree(&[
        (".venv/lib/site.py", UNBOUNDED),
        ("node_modules/x.py", UNBOUNDED),
        ("generated/out.py", UNBOUNDED),
        (".gitignore", b"generated/\n"),
        ("tasks.py", BOUNDED),
    ]);
    let o = run_in(dir.path(), &["lint", ".", "--no-color"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("Checked 1 file."));
}

#[test]
fn secrets_are_masked_in_every_finding_not_only_cd803() {
    // CD701 flags the old `BROKER_URL` name on the line that holds the password; SARIF context
    // regions show neighbouring lines; an escaped spelling differs from the decoded value.
    let dir = tree(&[(
        "settings.py",
        b"BROKER_URL = \"amqp://shop:S3cr3t-pw@rabbit.internal:5672/shop\"\nCELERY_RESULT_BACKEND = \"redis://:Esc\\x61ped-pw@cache.internal:6379/1\"\nCELERYD_TASK_TIME_LIMIT = 60\n",
    )]);
    for format in ["text", "json", "sarif", "github"] {
        let o = run_in(
            dir.path(),
            &["lint", ".", "--format", format, "--select", "ALL"],
        );
        assert_eq!(o.status.code(), Some(1), "{format}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("CD701"), "{format}: {out}");
        for secret in ["S3cr3t-pw", "Escaped-pw", "Esc\\x61ped-pw"] {
            assert!(!out.contains(secret), "{format} leaks {secret}: {out}");
        }
    }
}

#[test]
fn one_file_named_twice_is_linted_once() {
    let dir = tree(&[("shop/tasks.py", UNBOUNDED)]);
    let o = run_in(
        dir.path(),
        &[
            "lint",
            ".",
            "shop/tasks.py",
            "./shop/tasks.py",
            "--format",
            "json",
            "--select",
            "ALL",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["CD201"], "{v}");
}

#[test]
fn empty_selectors_are_errors_not_silence() {
    let dir = tree(&[("tasks.py", UNBOUNDED)]);
    assert_one_line_error(
        &run_in(dir.path(), &["lint", ".", "--ignore", ""]),
        "unknown rule selector",
    );
    let cfg = tree(&[
        (".celery-doctor.yaml", b"ignore: [\"\"]\n"),
        ("tasks.py", UNBOUNDED),
    ]);
    assert_one_line_error(&run_in(cfg.path(), &["lint", "."]), "unknown rule selector");
}

#[test]
fn broken_pipe_on_machine_output_is_not_an_error() {
    use std::io::Read;
    use std::process::Stdio;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut child = bin()
        .current_dir(&root)
        .args(["lint", "fixtures", "--format", "sarif"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read a little, then close the pipe, like `| head -c 100`.
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 100];
    stdout.read_exact(&mut buf).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("error"), "{err}");
    assert_ne!(out.status.code(), Some(2));
}

#[test]
fn a_password_that_is_also_a_word_masks_only_the_url() {
    let dir = tree(&[(
        "celery_app.py",
        b"from celery import Celery, shared_task\napp = Celery('shop', broker='amqp://celery:celery@rabbit.internal:5672//')\n\n@shared_task\ndef sync(x):\n    return x\n",
    )]);
    let out = stdout(&run_in(
        dir.path(),
        &["lint", ".", "--select", "ALL", "--no-color"],
    ));
    assert!(out.contains("amqp://celery:****@rabbit.internal"), "{out}");
    assert!(!out.contains("celery:celery@"), "{out}");
    // The word itself is left alone elsewhere.
    assert!(out.contains("celery_app.py"), "{out}");
}

const LEGACY: &str = "from celery import shared_task\n\nimport requests\n\n\n@shared_task\ndef sync(url):\n    requests.get(url)\n    requests.get(url)\n\n\n@shared_task\ndef export(url):\n    requests.get(url)\n";

fn codes_and_lines(o: &Output) -> Vec<(String, u64)> {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["start"]["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn baseline_hides_known_findings_across_moved_lines() {
    let dir = tree(&[
        ("app/tasks.py", LEGACY.as_bytes()),
        ("ci/README", b"baselines"),
    ]);
    let before = run_in(dir.path(), &["lint", ".", "--format", "json"]);
    assert_eq!(before.status.code(), Some(1));
    let all = codes_and_lines(&before);
    // 3 × CD203 and 2 × CD201 (no time limit) at least; the baseline must hide every one.
    assert!(all.len() >= 3, "{all:?}");

    let w = run_in(
        dir.path(),
        &["lint", ".", "--write-baseline", "ci/baseline.json"],
    );
    assert_eq!(w.status.code(), Some(0), "{}", stderr(&w));
    assert!(stdout(&w).is_empty(), "{}", stdout(&w));
    assert!(
        stderr(&w).contains(&format!("wrote a baseline of {} findings", all.len())),
        "{}",
        stderr(&w)
    );
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("ci/baseline.json")).unwrap())
            .unwrap();
    assert_eq!(file["tool"], "celery-doctor");
    // Paths are relative to the baseline's folder.
    assert!(
        file["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["path"] == "../app/tasks.py"),
        "{file}"
    );
    // The two identical lines in `sync` share a fingerprint, counted twice.
    assert!(
        file["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["count"] == 2),
        "{file}"
    );

    // Unrelated edits move every line: nothing new.
    let moved = format!("\"\"\"Legacy tasks.\"\"\"\n\nimport logging\n\n{LEGACY}");
    std::fs::write(dir.path().join("app/tasks.py"), &moved).unwrap();
    let o = run_in(dir.path(), &["lint", ".", "--baseline", "ci/baseline.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("Baseline: {} known findings hidden.", all.len())),
        "{}",
        stdout(&o)
    );

    // From another working directory, the same baseline still matches.
    let o = run_in(
        &dir.path().join("ci"),
        &["lint", "../app", "--baseline", "baseline.json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // A third copy of the same line in `sync`, and a new call in a new task, are new;
    // deleting `export` makes its entries stale.
    let edited = moved
        .replace(
            "    requests.get(url)\n    requests.get(url)\n",
            "    requests.get(url)\n    requests.get(url)\n    requests.get(url)\n",
        )
        .replace(
            "@shared_task\ndef export(url):\n    requests.get(url)\n",
            "@shared_task(time_limit=60)\ndef fetch(url):\n    requests.post(url)\n",
        );
    std::fs::write(dir.path().join("app/tasks.py"), &edited).unwrap();
    let o = run_in(
        dir.path(),
        &[
            "lint",
            ".",
            "--baseline",
            "ci/baseline.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let new = codes_and_lines(&o);
    let line_of = |needle: &str, nth: usize| {
        edited
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains(needle))
            .nth(nth)
            .unwrap()
            .0 as u64
            + 1
    };
    assert!(
        new.contains(&("CD203".into(), line_of("requests.post", 0))),
        "{new:?}"
    );
    assert_eq!(
        new.iter().filter(|(c, _)| c == "CD203").count(),
        2,
        "the third copy and the new post: {new:?}"
    );
    assert!(
        stderr(&o).contains("stale"),
        "export's entries are stale: {}",
        stderr(&o)
    );
}

#[test]
fn bad_baselines_exit_2() {
    let dir = tree(&[
        ("tasks.py", UNBOUNDED),
        ("corrupt.json", b"{\"tool\": \"celery-doctor\", \"kind\": "),
        (
            "sarif.json",
            b"{\"version\": \"2.1.0\", \"runs\": []}",
        ),
        (
            "future.json",
            b"{\"tool\": \"celery-doctor\", \"kind\": \"baseline\", \"version\": 9, \"findings\": []}",
        ),
        (
            "wrong-type.json",
            b"{\"tool\": \"celery-doctor\", \"kind\": \"baseline\", \"version\": 1, \"findings\": [{\"fingerprint\": 3}]}",
        ),
    ]);
    for (file, needle) in [
        ("corrupt.json", "is not valid JSON"),
        ("sarif.json", "is not a celery-doctor baseline"),
        ("future.json", "format version 9"),
        ("wrong-type.json", "has an invalid entry"),
        ("missing.json", "cannot read baseline missing.json"),
    ] {
        let o = run_in(dir.path(), &["lint", ".", "--baseline", file]);
        assert_one_line_error(&o, needle);
        assert!(stdout(&o).is_empty(), "no report before the error");
    }
    // A baseline that cannot be written leaves nothing behind.
    let o = run_in(
        dir.path(),
        &["lint", ".", "--write-baseline", "no/such/dir/b.json"],
    );
    assert_one_line_error(&o, "no/such/dir/b.json");
    assert!(!dir.path().join("no").exists());
    // An unreadable baseline's error names the cause once.
    let o = run_in(dir.path(), &["lint", ".", "--baseline", "missing.json"]);
    assert_eq!(
        stderr(&o).matches("No such file or directory").count(),
        1,
        "{}",
        stderr(&o)
    );
}

/// Each hook of `.pre-commit-hooks.yaml` runs as pre-commit runs it: the `entry` split on
/// whitespace, no file names (`pass_filenames: false`), in the repository root.
#[test]
fn pre_commit_hooks_run_as_declared() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    let hooks: Vec<serde_yaml::Value> = serde_yaml::from_str(&manifest).unwrap();
    assert!(hooks.len() >= 2, "{manifest}");
    for hook in &hooks {
        assert_eq!(hook["pass_filenames"].as_bool(), Some(false), "{hook:?}");
        assert_eq!(hook["language"].as_str(), Some("rust"), "{hook:?}");
        let entry: Vec<&str> = hook["entry"].as_str().unwrap().split_whitespace().collect();
        assert_eq!(entry[0], "celery-doctor", "{hook:?}");
        let clean = tree(&[("tasks.py", BOUNDED)]);
        let o = run_in(clean.path(), &entry[1..]);
        assert_eq!(o.status.code(), Some(0), "{hook:?}: {}", stderr(&o));
        let dirty = tree(&[("tasks.py", UNBOUNDED)]);
        let o = run_in(dirty.path(), &entry[1..]);
        assert_eq!(o.status.code(), Some(1), "{hook:?}: {}", stderr(&o));
        assert!(stdout(&o).contains("CD201"), "{}", stdout(&o));
    }
}

/// A symlink to a linted file is the same file: linted once, fixed once.
#[cfg(unix)]
#[test]
fn a_symlinked_alias_is_linted_and_fixed_once() {
    let src = b"from celery import shared_task\n\n\n@shared_task(time_limit=60)\ndef push(self, x):\n    raise self.retry()\n";
    let dir = tree(&[("tasks.py", src)]);
    std::os::unix::fs::symlink("tasks.py", dir.path().join("alias.py")).unwrap();
    let o = run_in(dir.path(), &["lint", ".", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(codes_and_lines(&o), vec![("CD401".to_string(), 5)]);
    let o = run_in(dir.path(), &["lint", ".", "--fix"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let fixed = std::fs::read_to_string(dir.path().join("tasks.py")).unwrap();
    assert_eq!(fixed.matches("bind=True").count(), 1, "{fixed}");
    assert!(
        std::fs::symlink_metadata(dir.path().join("alias.py"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// `lint proj/settings.py orders/views.py` reads part of the project: a beat entry or route
/// naming a task in a module that was not linted is unknown, not a finding (CD901, CD952).
/// Linting the whole tree still reports the stale names.
#[test]
fn names_into_unlinted_modules_are_unknown_in_a_partial_lint() {
    let settings: &[u8] = br#"INSTALLED_APPS = ["orders"]
CELERY_TASK_ROUTES = {
    "orders.tasks.*": {"queue": "orders"},
    "orders.tasks.emails.send_confirmaton": {"queue": "mail"},
}
CELERY_BEAT_SCHEDULE = {
    "poll": {"task": "orders.tasks.emails.poll_inbox", "schedule": 300.0},
    "cleanup": {"task": "orders.jobs.cleanup", "schedule": 86400.0},
}
"#;
    let dir = tree(&[
        ("manage.py", b"import os\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"proj.settings\")\n"),
        ("proj/__init__.py", b""),
        ("proj/settings.py", settings),
        ("orders/__init__.py", b""),
        ("orders/views.py", b"def index(request):\n    return None\n"),
        ("orders/tasks/__init__.py", b"from .emails import *  # noqa\n"),
        (
            "orders/tasks/emails.py",
            b"from celery import shared_task\n\n\n@shared_task\ndef send_confirmation(order_id):\n    return None\n\n\n@shared_task\ndef poll_inbox():\n    return None\n",
        ),
    ]);
    let findings = |paths: &[&str]| -> Vec<String> {
        let mut args = vec!["lint", "--format", "json", "--select", "CD901,CD952"];
        args.extend_from_slice(paths);
        let o = run_in(dir.path(), &args);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["code"].as_str().unwrap(),
                    f["start"]["line"].as_u64().unwrap()
                )
            })
            .collect()
    };
    // The whole tree: the misspelt route and the entry naming a module that does not exist.
    assert_eq!(findings(&["."]), vec!["CD952 4", "CD901 8"]);
    // Part of it: `orders` is a project package, but `orders.tasks.emails` (and
    // `orders.jobs`, `orders.tasks`) were not linted.
    assert_eq!(
        findings(&["proj/settings.py", "orders/views.py"]),
        Vec::<String>::new()
    );
    assert_eq!(findings(&["proj", "orders/views.py"]), Vec::<String>::new());
}
