//! Custom rules through the real binary: the documented house rules in `fixtures/custom/`,
//! selection, suppression, listing, SARIF, `test-rules`, and every bad-input case.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{assert_one_line_error, run_in, stderr, stdout, tree};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/custom")
}

fn py_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            py_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "py") {
            out.push(p);
        }
    }
}

/// `(path, line, code)` of every `# expect:` mark under `dir`.
fn marks(dir: &Path) -> BTreeSet<(String, u64, String)> {
    let mut files = Vec::new();
    py_files(dir, &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let rel = f
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            if let Some(pos) = line.find("# expect:") {
                for code in line[pos + 9..].split(',') {
                    out.insert((rel.clone(), i as u64 + 1, code.trim().to_string()));
                }
            }
        }
    }
    out
}

fn json_findings(o: &std::process::Output) -> Vec<serde_json::Value> {
    serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(o), stderr(o)))
}

#[test]
fn documented_house_rules_find_exactly_the_marked_lines() {
    let o = run_in(
        &fixture(),
        &["lint", ".", "--select", "ACME", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let actual: BTreeSet<(String, u64, String)> = json_findings(&o)
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["start"]["line"].as_u64().unwrap(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(actual, marks(&fixture()));
    // Custom findings carry the rule's name, help and a fingerprint like built-in ones.
    let first = &json_findings(&o)[0];
    assert_eq!(first["name"], "billing-task-without-acks-late");
    assert_eq!(first["task"], "billing.tasks.charge");
    assert!(first["fingerprint"].as_str().is_some_and(|s| s.len() == 32));
}

#[test]
fn custom_rules_are_on_by_default_and_selectable() {
    let o = run_in(&fixture(), &["lint", ".", "--format", "json"]);
    let codes: BTreeSet<String> = json_findings(&o)
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    assert!(
        codes.contains("ACME001") && codes.contains("ACME004"),
        "{codes:?}"
    );
    assert!(codes.iter().any(|c| c.starts_with("CD")), "{codes:?}");

    let o = run_in(
        &fixture(),
        &["lint", ".", "--ignore", "ACME", "--format", "json"],
    );
    assert!(
        json_findings(&o)
            .iter()
            .all(|f| f["code"].as_str().unwrap().starts_with("CD"))
    );

    let o = run_in(
        &fixture(),
        &["lint", ".", "--select", "ACME003", "--format", "json"],
    );
    let found = json_findings(&o);
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|f| f["code"] == "ACME003"));

    let o = run_in(&fixture(), &["lint", ".", "--select", "ACME9"]);
    assert_one_line_error(&o, "unknown rule selector `ACME9`");
}

#[test]
fn noqa_and_severity_overrides_apply_to_custom_rules() {
    let dir = tree(&[
        (
            ".celery-doctor.yaml",
            b"select: [ACME]\nseverity:\n  ACME001: info\n",
        ),
        (
            ".celery-doctor/rules/house.yaml",
            &std::fs::read(fixture().join(".celery-doctor/rules/house.yaml")).unwrap(),
        ),
        ("billing/__init__.py", b""),
        (
            "billing/tasks.py",
            b"from celery import shared_task\n\n\n@shared_task\ndef charge(x):\n    return x\n\n\n@shared_task  # noqa: ACME001\ndef refund(x):\n    return x\n",
        ),
    ]);
    let o = run_in(dir.path(), &["lint", ".", "--format", "json"]);
    let found = json_findings(&o);
    assert_eq!(found.len(), 1, "{}", stdout(&o));
    assert_eq!(found[0]["code"], "ACME001");
    assert_eq!(found[0]["severity"], "info");
    assert_eq!(found[0]["start"]["line"], 5);

    // A severity override for a rule id nobody defines is a config error.
    std::fs::write(
        dir.path().join(".celery-doctor.yaml"),
        "severity:\n  ACME999: info\n",
    )
    .unwrap();
    let o = run_in(dir.path(), &["lint", "."]);
    assert_one_line_error(&o, "unknown rule id `ACME999`");
}

#[test]
fn rules_directory_is_found_without_a_config_file() {
    let dir = tree(&[
        (
            ".celery-doctor/rules/limits.yaml",
            &std::fs::read(fixture().join("policies/limits.yaml")).unwrap(),
        ),
        ("proj/__init__.py", b""),
        (
            "proj/celery.py",
            b"from celery import Celery\n\napp = Celery('proj')\napp.conf.task_time_limit = 7200\n",
        ),
    ]);
    let o = run_in(dir.path(), &["lint", "proj", "--select", "ACME"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "proj/celery.py:4:10: ACME004 `task_time_limit` is 7200, above the one-hour ceiling"
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn rules_and_rule_list_custom_rules() {
    let o = run_in(&fixture(), &["rules", "--no-color"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("CD201"), "{text}");
    assert!(
        text.contains("ACME001") && text.contains("billing-task-without-acks-late"),
        "{text}"
    );
    assert!(text.contains("ACME004"), "{text}");

    let o = run_in(&fixture(), &["rules", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let acme = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "ACME003")
        .expect("ACME003 listed");
    assert_eq!(acme["category"], "custom");
    assert_eq!(acme["severity"], "error");
    assert!(
        acme["source"]
            .as_str()
            .is_some_and(|s| s.ends_with(".celery-doctor/rules/house.yaml:89")),
        "{acme}"
    );

    let o = run_in(&fixture(), &["rule", "ACME002", "--no-color"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("ACME002 requests-call-without-timeout (custom, warning"),
        "{text}"
    );
    assert!(
        text.contains("`requests` waits forever by default"),
        "{text}"
    );
    assert!(text.contains("Fix:     Pass `timeout=`"), "{text}");
    let o = run_in(
        &fixture(),
        &["rule", "send-email-without-queue", "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["code"], "ACME003");
}

#[test]
fn sarif_lists_custom_rules_in_a_tool_extension() {
    let o = run_in(&fixture(), &["lint", ".", "--format", "sarif"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tool = &v["runs"][0]["tool"];
    let driver_ids: Vec<&str> = tool["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(driver_ids.iter().all(|id| id.starts_with("CD")));
    let ext = &tool["extensions"][0];
    assert_eq!(ext["name"], "celery-doctor-custom-rules");
    let ids: Vec<&str> = ext["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ACME001", "ACME002", "ACME003", "ACME004"]);
    assert_eq!(
        ext["rules"][0]["fullDescription"]["text"],
        "Billing tasks charge cards and write ledgers."
    );
    let results = v["runs"][0]["results"].as_array().unwrap();
    let custom: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| {
            r["rule"]["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("ACME"))
        })
        .collect();
    assert_eq!(custom.len(), 5);
    for r in custom {
        let idx = r["rule"]["index"].as_u64().unwrap() as usize;
        assert_eq!(r["rule"]["toolComponent"]["index"], 0);
        assert_eq!(ids[idx], r["rule"]["id"].as_str().unwrap());
        assert!(r.get("ruleIndex").is_none() && r.get("ruleId").is_none());
    }
    let builtin = results
        .iter()
        .find(|r| r["ruleId"].as_str().is_some_and(|id| id.starts_with("CD")))
        .expect("a built-in finding");
    assert!(builtin["ruleIndex"].is_u64());
}

#[test]
fn test_rules_runs_builtin_and_custom_examples() {
    let o = run_in(&fixture(), &["test-rules"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.trim_end().ends_with("all passed"), "{text}");
    let rules: usize = text.split_whitespace().next().unwrap().parse().unwrap();
    let builtin = run_in(&fixture(), &["rules", "--format", "json"]);
    let listed: serde_json::Value = serde_json::from_slice(&builtin.stdout).unwrap();
    assert_eq!(rules, listed.as_array().unwrap().len());

    let o = run_in(
        &fixture(),
        &["test-rules", ".celery-doctor/rules/house.yaml"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "3 rules, 9 examples: all passed\n");
}

const FAILING: &str = r#"rules:
  - id: ACME001
    severity: warning
    message: "Task `{task}` has no queue"
    why: Every task needs a queue.
    fix: Set `queue=`
    match:
      task:
        options:
          queue: missing
    examples:
      bad:
        - |
          from celery import shared_task

          @shared_task(queue="a")
          def a(): ...
      good:
        - |
          from celery import shared_task

          @shared_task
          def b(): ...
"#;

#[test]
fn test_rules_reports_failing_examples() {
    let dir = tree(&[("rules.yaml", FAILING.as_bytes())]);
    let o = run_in(dir.path(), &["test-rules", "rules.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "FAIL ACME001 (rules.yaml:2): bad example #1 does not fire\n\
         FAIL ACME001 (rules.yaml:2): good example #1 fires: tasks.py:4: Task `tasks.b` has no queue\n\
         1 rule, 2 examples: 2 failed\n"
    );
}

/// A valid rule to mutate into bad ones.
const VALID: &str = r#"rules:
  - id: ACME001
    severity: warning
    message: "Task `{task}` has no queue"
    why: Every task needs a queue.
    fix: Set `queue=`
    match:
      task:
        options:
          queue: missing
    examples:
      bad: ["from celery import shared_task\n@shared_task\ndef b(): ...\n"]
      good: ["from celery import shared_task\n@shared_task(queue='q')\ndef b(): ...\n"]
"#;

fn bad_rule(yaml: &str, needle: &str) {
    let dir = tree(&[
        ("tasks.py", super::UNBOUNDED),
        (".celery-doctor/rules/house.yaml", yaml.as_bytes()),
    ]);
    for args in [&["lint", "."][..], &["test-rules"], &["rules"]] {
        let o = run_in(dir.path(), args);
        assert_one_line_error(&o, needle);
    }
}

#[test]
fn malformed_custom_rules_name_file_line_and_field() {
    let file = ".celery-doctor/rules/house.yaml";
    // Unknown selector.
    bad_rule(
        &VALID.replace("      task:\n", "      tasks:\n"),
        &format!(
            "{file}:8: field `rules[0].match`: unknown selector `tasks`, expected one of `task`, `call`, `dispatch` or `setting`"
        ),
    );
    // Unknown field inside a selector.
    bad_rule(
        &VALID.replace("        options:", "        option:"),
        &format!("{file}:9: field `rules[0].match.task`: unknown field `option`"),
    );
    // Wrong type.
    bad_rule(
        &VALID.replace("          queue: missing", "          queue: [missing]"),
        &format!("{file}:10: field `rules[0].match.task.options.queue`: invalid type: sequence"),
    );
    bad_rule(
        &VALID.replace("severity: warning", "severity: 3"),
        &format!("{file}:3: field `rules[0].severity`"),
    );
    // A condition that is not one.
    bad_rule(
        &VALID.replace("queue: missing", "queue: \"> fast\""),
        "field `rules[0].match.task.options.queue`: condition `> fast`: `<`, `<=`, `>`, `>=` compare numbers",
    );
    // A message placeholder the rule cannot fill.
    bad_rule(
        &VALID.replace("{task}", "{callee}"),
        &format!("{file}:2: field `rules[0].message`: unknown placeholder `{{callee}}`"),
    );
    // Missing required field.
    bad_rule(
        &VALID.replace("    why: Every task needs a queue.\n", ""),
        "missing field `why`",
    );
    // Setting names are checked against Celery's.
    bad_rule(
        &VALID.replace(
            "      task:\n        options:\n          queue: missing",
            "      setting:\n        name: CELERYD_TASK_TIME_LIMIT\n        value: \"> 10\"",
        ),
        "unknown Celery setting `CELERYD_TASK_TIME_LIMIT`; write its current name `task_time_limit`",
    );
}

#[test]
fn duplicate_rule_ids_are_errors() {
    // Custom vs built-in.
    bad_rule(
        &VALID.replace("ACME001", "CD201"),
        ".celery-doctor/rules/house.yaml:2: field `rules[0].id`: duplicate rule id `CD201`: a built-in rule has this id",
    );
    // Custom vs custom, across files.
    let dir = tree(&[
        ("tasks.py", super::UNBOUNDED),
        (".celery-doctor/rules/a.yaml", VALID.as_bytes()),
        (
            ".celery-doctor/rules/b.yaml",
            VALID
                .replace("ACME001\n", "ACME001\n    name: other-name\n")
                .as_bytes(),
        ),
    ]);
    let o = run_in(dir.path(), &["lint", "."]);
    assert_one_line_error(
        &o,
        ".celery-doctor/rules/b.yaml:2: field `id`: duplicate rule id `ACME001` (first defined at .celery-doctor/rules/a.yaml:2)",
    );
    // Custom vs custom in one file: the error points at the second definition (line 14).
    let twice = format!(
        "{VALID}{}",
        VALID
            .strip_prefix("rules:\n")
            .unwrap()
            .replace("ACME001\n", "ACME001\n    name: other-name\n")
    );
    bad_rule(
        &twice,
        ".celery-doctor/rules/house.yaml:14: field `id`: duplicate rule id `ACME001` (first defined at .celery-doctor/rules/house.yaml:2)",
    );
    // A bad id.
    bad_rule(
        &VALID.replace("ACME001", "acme-1"),
        "field `rules[0].id`: rule id `acme-1` must be upper-case letters followed by digits",
    );
    // A `rules` path that does not exist.
    let dir = tree(&[
        ("tasks.py", super::UNBOUNDED),
        (".celery-doctor.yaml", b"rules: [policies/missing.yaml]\n"),
    ]);
    let o = run_in(dir.path(), &["lint", "."]);
    assert_one_line_error(&o, "missing.yaml: cannot read custom rules");
}

#[test]
fn missing_setting_is_silent_when_the_configuration_is_unknown() {
    let rules = br#"rules:
  - id: ACME010
    severity: warning
    message: "`{setting}` is {value}"
    why: Every app needs a hard time limit.
    fix: Set `task_time_limit`
    match:
      setting:
        name: task_time_limit
        value: missing
    examples:
      bad: ["from celery import Celery\napp = Celery('a')\n"]
      good: ["from celery import Celery\napp = Celery('a')\napp.config_from_envvar('CFG')\n"]
"#;
    let app = "from celery import Celery\n\napp = Celery('proj', broker='amqp://')\n";
    let o = run_in(
        tree(&[
            (".celery-doctor/rules/r.yaml", rules),
            ("proj/__init__.py", b""),
            ("proj/celery.py", app.as_bytes()),
        ])
        .path(),
        &["lint", "proj", "--select", "ACME"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ACME010 `task_time_limit` is missing"),
        "{}",
        stdout(&o)
    );
    for opaque in [
        "app.config_from_envvar('CELERY_CONFIG_MODULE')\n",
        "app.conf.update(load_settings())\n",
    ] {
        let dir = tree(&[
            (".celery-doctor/rules/r.yaml", rules),
            ("proj/__init__.py", b""),
            ("proj/celery.py", format!("{app}{opaque}").as_bytes()),
        ]);
        let o = run_in(dir.path(), &["lint", "proj", "--select", "ACME"]);
        assert_eq!(o.status.code(), Some(0), "{opaque}: {}", stdout(&o));
    }
}
