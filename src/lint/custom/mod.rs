//! Custom rules: house policies written in YAML by users (`.celery-doctor/rules/*.yaml`, or
//! paths under `rules` in the configuration), matched against the project model. A custom rule
//! produces the same [`Finding`](crate::finding::Finding)s as a built-in rule, so `# noqa`,
//! `--select`/`--ignore`, severity overrides, reporters and fingerprints work unchanged.
//! The schema is documented in `docs/custom-rules.md`.

mod eval;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::finding::Finding;
use crate::lint::catalog::{FixSafety, RuleMeta, Scope, placeholders};
use crate::lint::model::Project;
use crate::lint::rules::{RuleCx, RuleOptions};
use schema::{RuleFile, RuleSpec, Selector};

/// A loaded custom rule: catalog-like metadata (leaked once per process: findings and
/// reporters hold `&'static` rule metadata) and its compiled selector.
#[derive(Debug)]
pub struct CustomRule {
    pub meta: &'static RuleMeta,
    /// The file it was read from, as given, and the line of its `id`.
    pub file: String,
    pub line: usize,
    selector: Selector,
}

/// Every custom rule of a run, in file order.
#[derive(Clone, Debug, Default)]
pub struct CustomRules {
    pub rules: Vec<Arc<CustomRule>>,
}

impl CustomRules {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Arc<CustomRule>> {
        self.rules.iter().find(|r| r.meta.id == id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.rules.iter().map(|r| r.meta.id.as_str())
    }

    pub fn metas(&self) -> Vec<&'static RuleMeta> {
        self.rules.iter().map(|r| r.meta).collect()
    }

    /// Only the rule `id` (for running its examples alone).
    pub fn only(&self, id: &str) -> CustomRules {
        CustomRules {
            rules: self.get(id).cloned().into_iter().collect(),
        }
    }
}

/// A custom rule file that cannot be used: names the file, line and field.
#[derive(Debug, thiserror::Error)]
pub enum CustomRuleError {
    #[error("{file}: cannot read custom rules: {message}")]
    Read { file: String, message: String },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

impl CustomRule {
    /// Run the rule over the project.
    pub fn check(&self, project: &Project, options: &RuleOptions) -> Vec<Finding> {
        let mut cx = RuleCx::new(project, self.meta, options);
        eval::run(&mut cx, &self.selector);
        cx.into_findings()
    }
}

/// Placeholders a message may use, per kind of match (plus the names of the options,
/// keywords and arguments the selector compares).
fn allowed_placeholders(selector: &Selector) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let task_options = |sel: &schema::TaskSel, out: &mut Vec<String>| {
        out.extend(sel.options.keys().cloned());
    };
    match selector {
        Selector::Task(sel) => {
            out.extend(["task", "module"].map(String::from));
            task_options(sel, &mut out);
        }
        Selector::Call(sel) => {
            out.extend(["callee", "task", "module"].map(String::from));
            out.extend(sel.keywords.keys().cloned());
            out.extend(sel.args.keys().map(|i| format!("arg{i}")));
        }
        Selector::Dispatch(sel) => {
            out.extend(["task", "method", "module"].map(String::from));
            out.extend(sel.options.keys().cloned());
            if let Some(ts) = &sel.task {
                task_options(ts, &mut out);
            }
        }
        Selector::Setting(_) => out.extend(["setting", "value"].map(String::from)),
    }
    out
}

/// The line of `id: <id>` in a rule file (for errors found after parsing).
/// `nth` counts earlier rules of the same file with the same id (a duplicate points at itself).
fn line_of_id(text: &str, id: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let t = line.trim_start().trim_start_matches('-').trim_start();
            t.strip_prefix("id:").is_some_and(|rest| {
                let v = rest.split('#').next().unwrap_or("").trim();
                v.trim_matches(['"', '\'']) == id
            })
        })
        .nth(nth)
        .map_or(1, |(i, _)| i + 1)
}

/// `rules[0].match.task: unknown field ... at line 7 column 9` → (7, "field `rules[0].match.task`: unknown field ...").
fn yaml_error(file: &str, e: &serde_yaml::Error) -> CustomRuleError {
    let line = e.location().map_or(1, |l| l.line());
    let mut message = e.to_string();
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    // serde_yaml prefixes the path of the value: `rules[0].match.task.options.x: …`.
    if let Some((path, rest)) = message.split_once(": ")
        && path.starts_with("rules")
        && !path.contains(' ')
    {
        message = format!("field `{path}`: {rest}");
    }
    CustomRuleError::Invalid {
        file: file.to_string(),
        line,
        message: crate::text::one_line(&message),
    }
}

/// Parse one rule file. `file` is how errors name it.
pub fn parse(file: &str, text: &str) -> Result<Vec<CustomRule>, CustomRuleError> {
    let parsed: RuleFile = serde_yaml::from_str(text).map_err(|e| yaml_error(file, &e))?;
    let builtin = crate::lint::rules::catalog().map_err(|e| CustomRuleError::Invalid {
        file: file.to_string(),
        line: 1,
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    let mut seen_ids: Vec<String> = Vec::new();
    for (i, spec) in parsed.rules.into_iter().enumerate() {
        let nth = seen_ids.iter().filter(|x| **x == spec.id.0).count();
        seen_ids.push(spec.id.0.clone());
        let line = line_of_id(text, &spec.id.0, nth);
        let invalid = |field: &str, message: String| CustomRuleError::Invalid {
            file: file.to_string(),
            line,
            message: format!("field `rules[{i}].{field}`: {message}"),
        };
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| spec.id.0.to_ascii_lowercase());
        let kebab = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !kebab {
            return Err(invalid("name", format!("`{name}` is not kebab-case")));
        }
        if builtin.rules.iter().any(|(_, m)| m.name == name) {
            return Err(invalid(
                "name",
                format!("`{name}` is the name of a built-in rule"),
            ));
        }
        for (field, text) in [("message", &spec.message), ("fix", &spec.fix)] {
            if text.trim().is_empty() || text.trim().contains('\n') {
                return Err(invalid(field, "must be one non-empty line".into()));
            }
        }
        if spec.why.trim().is_empty() {
            return Err(invalid("why", "must not be empty".into()));
        }
        let allowed = allowed_placeholders(&spec.selector);
        for p in placeholders(&spec.message) {
            if !allowed.iter().any(|a| a == p) {
                return Err(invalid(
                    "message",
                    format!(
                        "unknown placeholder `{{{p}}}`; this rule can use {}",
                        allowed
                            .iter()
                            .map(|a| format!("`{{{a}}}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        if spec.examples.bad.is_empty() || spec.examples.good.is_empty() {
            return Err(invalid(
                "examples",
                "needs at least one `bad` and one `good` example".into(),
            ));
        }
        out.push(compile(spec, name, file, line));
    }
    Ok(out)
}

fn compile(spec: RuleSpec, name: String, file: &str, line: usize) -> CustomRule {
    let fix = spec.fix.trim().trim_end_matches('.').to_string();
    let explanation = format!(
        "## What it does\n{}\n\n## How to fix\n{}.\n\nCustom rule from `{file}`.\n",
        spec.why.trim(),
        fix
    );
    let meta = RuleMeta {
        id: spec.id.0,
        name,
        category: "custom".to_string(),
        severity: spec.severity,
        default: true,
        scope: Scope::Project,
        fix: FixSafety::None,
        message: spec.message.trim().trim_end_matches('.').to_string(),
        variants: Default::default(),
        help: fix,
        explanation,
        references: spec.references,
        examples: spec.examples,
    };
    CustomRule {
        meta: Box::leak(Box::new(meta)),
        file: file.to_string(),
        line,
        selector: spec.selector,
    }
}

/// Rule files under `path`: the file itself, or the `*.yaml`/`*.yml` files of a directory.
fn rule_files(path: &Path) -> Result<Vec<PathBuf>, CustomRuleError> {
    let read_err = |e: std::io::Error| CustomRuleError::Read {
        file: path.display().to_string(),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Load every rule file under `paths` (files or directories). Rule ids must be unique.
pub fn load(paths: &[PathBuf]) -> Result<CustomRules, CustomRuleError> {
    let mut rules: Vec<Arc<CustomRule>> = Vec::new();
    for path in paths {
        for file in rule_files(path)? {
            let shown = std::env::current_dir()
                .ok()
                .and_then(|cwd| file.strip_prefix(cwd).ok().map(Path::to_path_buf))
                .unwrap_or_else(|| file.clone())
                .display()
                .to_string();
            let text = std::fs::read_to_string(&file).map_err(|e| CustomRuleError::Read {
                file: shown.clone(),
                message: e.to_string(),
            })?;
            for rule in parse(&shown, &text)? {
                if let Some(first) = rules.iter().find(|r| r.meta.id == rule.meta.id) {
                    return Err(CustomRuleError::Invalid {
                        file: shown,
                        line: rule.line,
                        message: format!(
                            "field `id`: duplicate rule id `{}` (first defined at {}:{})",
                            rule.meta.id, first.file, first.line
                        ),
                    });
                }
                if let Some(first) = rules.iter().find(|r| r.meta.name == rule.meta.name) {
                    return Err(CustomRuleError::Invalid {
                        file: shown,
                        line: rule.line,
                        message: format!(
                            "field `name`: duplicate rule name `{}` (first used by {})",
                            rule.meta.name, first.meta.id
                        ),
                    });
                }
                rules.push(Arc::new(rule));
            }
        }
    }
    Ok(CustomRules { rules })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::examples::example_files;
    use crate::lint::{LintSettings, lint_files};

    /// Lines (1-based, `path:line`) where a one-rule file with `selector` fires on `code`.
    fn hits(selector: &str, message: &str, code: &str) -> Vec<String> {
        let yaml = format!(
            "rules:\n  - id: T1\n    severity: info\n    message: \"{message}\"\n    why: W.\n    fix: F\n    match:\n{selector}\n    examples:\n      bad: [x]\n      good: [y]\n"
        );
        let rules = parse("t.yaml", &yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let settings = LintSettings {
            select: vec!["T1".into()],
            custom: CustomRules {
                rules: rules.into_iter().map(Arc::new).collect(),
            },
            ..LintSettings::default()
        };
        let run = lint_files(example_files(code), &settings).unwrap();
        run.findings
            .iter()
            .map(|f| format!("{}:{} {}", f.file.display_path(), f.start().line, f.message))
            .collect()
    }

    const TASKS: &str = "# file: shop/__init__.py
# file: shop/celery.py
import os
from celery import Celery, Task
app = Celery('shop')
app.conf.task_routes = {'shop.tasks.report': {'queue': 'reports'}}
app.conf.worker_prefetch_multiplier = int(os.environ['PREFETCH'])
class Base(Task):
    acks_late = True
# file: shop/tasks.py
import os
from shop.celery import app, Base
from vendor import VendorTask
from django.db import transaction

@app.task(base=Base)
def a(): ...

@app.task(time_limit=900, queue='slow')
def b(): ...

@app.task(time_limit=int(os.environ['T']))
def c(): ...

@app.task(base=VendorTask)
def d(): ...

@app.task
def report(): ...

def view():
    with transaction.atomic():
        a.delay()
    b.apply_async(countdown=5, queue='x')
    report.s().delay()
";

    #[test]
    fn task_selectors() {
        let sel = |s: &str| hits(s, "{task} {time_limit}", TASKS);
        // Compared options: unknown (env) never matches, not even `!=`.
        assert_eq!(
            sel("      task:\n        options:\n          time_limit: \"> 600\""),
            ["shop/tasks.py:10 shop.tasks.b 900"]
        );
        assert_eq!(
            sel("      task:\n        options:\n          time_limit: \"!= 900\""),
            Vec::<String>::new()
        );
        // Missing: not when a library base class could set it.
        let missing = hits(
            "      task:\n        options:\n          acks_late: missing",
            "{task}",
            TASKS,
        );
        assert_eq!(
            missing,
            [
                "shop/tasks.py:10 shop.tasks.b",
                "shop/tasks.py:13 shop.tasks.c",
                "shop/tasks.py:19 shop.tasks.report"
            ]
        );
        let by = |s: &str| hits(s, "{task}", TASKS);
        assert_eq!(
            by("      task:\n        base: shop.celery.Base"),
            ["shop/tasks.py:7 shop.tasks.a"]
        );
        assert_eq!(
            by("      task:\n        queue: reports"),
            ["shop/tasks.py:19 shop.tasks.report"]
        );
        assert_eq!(
            by("      task:\n        queue: slow"),
            ["shop/tasks.py:10 shop.tasks.b"]
        );
        assert_eq!(
            by("      task:\n        name: [shop.tasks.d, '*.c']").len(),
            2
        );
        assert_eq!(by("      task:\n        module: billing.*").len(), 0);
    }

    #[test]
    fn dispatch_selectors() {
        let d = |s: &str| hits(s, "{task} {method}", TASKS);
        assert_eq!(
            d("      dispatch:\n        atomic: true"),
            ["shop/tasks.py:23 shop.tasks.a delay"]
        );
        let q = |s: &str| hits(s, "{task} {method} {queue}", TASKS);
        assert_eq!(
            q("      dispatch:\n        options:\n          queue: \"== x\""),
            ["shop/tasks.py:24 shop.tasks.b apply_async \"x\""]
        );
        // `.s()` options are set later: never "missing".
        assert_eq!(
            q(
                "      dispatch:\n        task:\n          name: shop.tasks.report\n        options:\n          queue: missing"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            d("      dispatch:\n        method: delay\n        atomic: false"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn setting_selectors() {
        let s = |sel: &str| hits(sel, "{setting}={value}", TASKS);
        assert_eq!(
            s("      setting:\n        name: task_time_limit\n        value: missing"),
            ["shop/celery.py:3 task_time_limit=missing"]
        );
        assert_eq!(
            s("      setting:\n        name: task_routes\n        value: present").len(),
            1
        );
        // Env-derived: unknown, never compared.
        assert_eq!(
            s("      setting:\n        name: worker_prefetch_multiplier\n        value: \"!= 1\""),
            Vec::<String>::new()
        );
    }

    #[test]
    fn call_selectors() {
        let code = "import boto3
from celery import shared_task

@shared_task
def sync():
    boto3.client('s3', region_name='eu-west-1')
    boto3.client('sqs')

def helper():
    boto3.client('s3')
";
        let c = |s: &str| hits(s, "{callee} {arg0} in {task}", code);
        assert_eq!(
            c("      call:\n        callee: boto3.client\n        args:\n          0: \"== s3\""),
            [
                "tasks.py:6 boto3.client \"s3\" in tasks.sync",
                "tasks.py:10 boto3.client \"s3\" in "
            ]
        );
        assert_eq!(
            c(
                "      call:\n        callee: boto3.client\n        in_task: false\n        args:\n          0: present"
            ),
            ["tasks.py:10 boto3.client \"s3\" in "]
        );
        let k = |s: &str| hits(s, "{callee} {region_name}", code);
        assert_eq!(
            k(
                "      call:\n        callee: boto3.*\n        in_task:\n          name: tasks.sync\n        keywords:\n          region_name: missing"
            ),
            ["tasks.py:7 boto3.client missing"]
        );
    }
}
