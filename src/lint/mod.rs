//! `celery-doctor lint`: walk, parse and model in parallel, run the selected rules over the
//! project model, then apply suppressions and overrides.

pub mod baseline;
pub mod catalog;
pub mod custom;
pub mod deploy;
pub mod examples;
pub mod fix;
pub mod model;
pub mod rules;
pub mod walk;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::GlobSet;
use rayon::prelude::*;

use crate::finding::{Finding, Severity, SourceFile};
use catalog::RuleMeta;
use model::{ModelOptions, Module, Project};
use rules::{RuleCx, RuleOptions, catalog};

/// Everything that decides what a lint run reports (config file + command line, resolved).
#[derive(Clone, Debug, Default)]
pub struct LintSettings {
    /// Rule selectors (ids, prefixes, `ALL`); empty = the default set.
    pub select: Vec<String>,
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
    /// (glob over the display path, selectors) pairs.
    pub per_file_ignores: Vec<(GlobSet, Vec<String>)>,
    pub severity: HashMap<String, Severity>,
    pub exclude: Option<GlobSet>,
    pub model: ModelOptions,
    pub rule_options: RuleOptions,
    /// Do not free the project model at the end (the process is about to exit; freeing
    /// hundreds of thousands of small allocations costs measurable time).
    pub leak_model: bool,
    /// User-written rules (`.celery-doctor/rules/*.yaml`, `rules = [...]`), selectable like
    /// built-in rules and on by default.
    pub custom: custom::CustomRules,
}

#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("unknown rule selector `{0}` (see `celery-doctor rules`)")]
    UnknownSelector(String),
    #[error("{0}")]
    Catalog(#[from] catalog::CatalogError),
    #[error("{path}: {message}")]
    Path { path: String, message: String },
    #[error("internal error while {what}; please report this with the file that caused it")]
    Internal { what: String },
}

/// The result of a lint run: findings plus what the summary needs.
#[derive(Debug, Default)]
pub struct LintRun {
    pub findings: Vec<Finding>,
    pub files_checked: usize,
    pub files_with_syntax_errors: usize,
    /// Files that could not be read or decoded (a warning each).
    pub files_skipped: usize,
    pub warnings: Vec<String>,
    /// Ids of the rules that ran.
    pub rules_run: Vec<&'static str>,
    /// Set when a baseline filtered the findings.
    pub baseline: Option<baseline::BaselineStats>,
    /// Metadata of every loaded custom rule (SARIF lists them in `tool.extensions`).
    pub custom_rules: Vec<&'static RuleMeta>,
    /// After `--fix`: how many findings were fixed (`findings` holds what remains).
    pub fixed: Option<usize>,
}

/// A Python file to lint, already read.
#[derive(Clone, Debug)]
pub struct InputFile {
    /// Display path (relative to the working directory where possible).
    pub path: PathBuf,
    pub text: String,
    /// Dotted module name (`shop.tasks`), empty when unknown.
    pub module: String,
    pub is_package: bool,
    /// The file on disk the text was read from: its text is dropped after modelling and
    /// reloaded for reporting. `None` keeps the text in memory.
    pub disk: Option<PathBuf>,
}

/// Does `selector` select rule `id`?
fn matches(selector: &str, id: &str) -> bool {
    selector == "ALL" || id.starts_with(selector)
}

/// Validate selectors: each must match at least one rule.
pub fn validate_selectors<'a>(
    selectors: impl IntoIterator<Item = &'a String>,
) -> Result<(), LintError> {
    validate_selectors_with(selectors, &custom::CustomRules::default())
}

/// Validate selectors against the built-in and the custom rules.
pub fn validate_selectors_with<'a>(
    selectors: impl IntoIterator<Item = &'a String>,
    custom: &custom::CustomRules,
) -> Result<(), LintError> {
    let catalog = catalog()?;
    for s in selectors {
        if s.trim().is_empty()
            || !(catalog.rules.iter().any(|(r, _)| matches(s, r.id))
                || custom.ids().any(|id| matches(s, id)))
        {
            return Err(LintError::UnknownSelector(s.clone()));
        }
    }
    Ok(())
}

/// The rule ids enabled by these settings, in registry order.
pub fn enabled_rules(settings: &LintSettings) -> Result<Vec<&'static str>, LintError> {
    let catalog = catalog()?;
    validate_selectors_with(
        settings
            .select
            .iter()
            .chain(&settings.extend_select)
            .chain(&settings.ignore),
        &settings.custom,
    )?;
    for (_, sel) in &settings.per_file_ignores {
        validate_selectors_with(sel, &settings.custom)?;
    }
    let mut out = Vec::new();
    let all = catalog
        .rules
        .iter()
        .map(|(_, meta)| meta)
        .chain(settings.custom.rules.iter().map(|r| r.meta));
    for meta in all {
        let id = meta.id.as_str();
        let selected = if settings.select.is_empty() {
            meta.default
        } else {
            settings.select.iter().any(|s| matches(s, id))
        } || settings.extend_select.iter().any(|s| matches(s, id));
        // Specific beats general, like Ruff: `--select CD201 --ignore CD2` keeps CD201.
        let ignored = settings.ignore.iter().any(|i| {
            matches(i, id)
                && !settings
                    .select
                    .iter()
                    .chain(&settings.extend_select)
                    .any(|s| matches(s, id) && s.len() > i.len())
        });
        if selected && !ignored {
            out.push(id);
        }
    }
    Ok(out)
}

/// Test code, excluded where a rule's guards say so.
pub fn is_test_path(path: &Path) -> bool {
    let s = path.to_string_lossy().replace('\\', "/");
    let name = s.rsplit('/').next().unwrap_or(&s);
    let stem = name
        .strip_suffix(".py")
        .or_else(|| name.strip_suffix(".pyi"))
        .unwrap_or(name);
    s.split('/')
        .any(|c| c == "tests" || c == "test" || c == "testing")
        || stem == "conftest"
        || stem
            .split('_')
            .any(|w| matches!(w, "test" | "tests" | "testing"))
}

/// Lint files that are already in memory (the walker and the tests both end here).
pub fn lint_files(inputs: Vec<InputFile>, settings: &LintSettings) -> Result<LintRun, LintError> {
    lint_project(inputs, Vec::new(), settings)
}

/// Parse and model files in parallel and join them into the project model.
pub fn build_project(
    inputs: Vec<InputFile>,
    worker_commands: Vec<model::facts::WorkerCommand>,
    options: &ModelOptions,
) -> Result<Project, LintError> {
    let parsed: Vec<Result<Module, String>> = inputs
        .into_par_iter()
        .map(|input| {
            let text: Box<str> = input.text.into_boxed_str();
            let facts = catch_unwind(AssertUnwindSafe(|| {
                crate::python::extract_with(
                    &text,
                    &input.module,
                    input.is_package,
                    options.record_calls,
                )
            }))
            .map_err(|_| input.path.display().to_string())?;
            let is_test = is_test_path(&input.path);
            let path: Arc<Path> = Arc::from(input.path.as_path());
            let file = Arc::new(match input.disk {
                // Files with Celery facts are where findings land (and where fixes, line
                // numbers and fingerprints read the text): keep those texts rather than read
                // them again. The rest are dropped and reloaded on the rare finding.
                Some(disk) if !likely_reported(&facts) => {
                    SourceFile::from_disk(path, disk, crate::finding::content_hash(&text))
                }
                _ => SourceFile::new(path, text),
            });
            Ok(Module {
                facts,
                file,
                is_test,
            })
        })
        .collect();
    let mut modules = Vec::with_capacity(parsed.len());
    for m in parsed {
        match m {
            Ok(m) => modules.push(m),
            Err(path) => {
                return Err(LintError::Internal {
                    what: format!("modelling {path}"),
                });
            }
        }
    }
    modules.sort_by(|a, b| a.file.path.cmp(&b.file.path));
    let mut project = Project::build(modules, options);
    project.worker_commands = worker_commands;
    Ok(project)
}

/// A module whose facts most rules look at: tasks, dispatch sites, canvases, Celery apps and
/// configuration writes, syntax errors.
fn likely_reported(facts: &model::facts::ModuleFacts) -> bool {
    !(facts.tasks.is_empty()
        && facts.calls.is_empty()
        && facts.canvases.is_empty()
        && facts.apps.is_empty()
        && facts.conf_writes.is_empty()
        && facts.syntax_errors.is_empty())
}

/// Lint files plus the deployment facts found beside them.
pub fn lint_project(
    inputs: Vec<InputFile>,
    worker_commands: Vec<model::facts::WorkerCommand>,
    settings: &LintSettings,
) -> Result<LintRun, LintError> {
    let enabled = enabled_rules(settings)?;
    let catalog = catalog()?;
    let timings = std::env::var_os("CELERY_DOCTOR_TIMINGS").is_some();
    let t_model = std::time::Instant::now();
    let custom_enabled = enabled.iter().any(|id| settings.custom.get(id).is_some());
    let model_options = ModelOptions {
        record_calls: settings.model.record_calls || custom_enabled,
        ..settings.model.clone()
    };
    let project = build_project(inputs, worker_commands, &model_options)?;
    if timings {
        eprintln!(
            "celery-doctor: timings: parse and model {:?} (peak RSS {}); {}",
            t_model.elapsed(),
            peak_rss(),
            crate::python::phase_timings::summary()
        );
    }
    let mut run = LintRun {
        files_checked: project.modules.len(),
        files_with_syntax_errors: project
            .modules
            .iter()
            .filter(|m| !m.facts.syntax_errors.is_empty())
            .count(),
        ..LintRun::default()
    };

    // Rules only read the model: run them in parallel, keep registry order for determinism.
    let t_rules = std::time::Instant::now();
    let per_rule: Vec<Result<Vec<Finding>, LintError>> = enabled
        .par_iter()
        .map(|id| {
            let Some((rule, meta)) = catalog.rules.iter().find(|(r, _)| r.id == *id) else {
                let Some(custom) = settings.custom.get(id) else {
                    return Ok(Vec::new());
                };
                return catch_unwind(AssertUnwindSafe(|| {
                    custom.check(&project, &settings.rule_options)
                }))
                .map_err(|_| LintError::Internal {
                    what: format!("running custom rule {id}"),
                });
            };
            let mut cx = RuleCx::new(&project, meta, &settings.rule_options);
            let t_rule = std::time::Instant::now();
            catch_unwind(AssertUnwindSafe(|| (rule.check)(&mut cx))).map_err(|_| {
                LintError::Internal {
                    what: format!("running rule {id}"),
                }
            })?;
            if timings && t_rule.elapsed() > std::time::Duration::from_millis(5) {
                eprintln!("celery-doctor: timings: rule {id} {:?}", t_rule.elapsed());
            }
            Ok(cx.into_findings())
        })
        .collect();
    // Sized once: thousands of findings would otherwise be copied as the vector grows.
    let total = per_rule
        .iter()
        .map(|r| r.as_ref().map_or(0, Vec::len))
        .sum();
    let mut findings = Vec::with_capacity(total);
    for r in per_rule {
        findings.extend(r?);
    }
    // Secrets never reach output: mask every credential the model saw, wherever it appears.
    let secrets: Arc<[String]> = Arc::from(project_secrets(&project));
    if !secrets.is_empty() {
        // Rewrite a text only when it held a secret.
        let mask = |text: &mut String| {
            if let std::borrow::Cow::Owned(masked) = crate::finding::redact(&secrets, text) {
                *text = masked;
            }
        };
        for f in &mut findings {
            mask(&mut f.message);
            mask(&mut f.anchor);
            for (_, v) in &mut f.args {
                mask(v);
            }
            for r in &mut f.related {
                mask(&mut r.message);
            }
            f.secrets = secrets.clone();
        }
    }
    run.rules_run = enabled;
    run.custom_rules = settings.custom.metas();
    let t_suppress = std::time::Instant::now();
    run.findings = apply_suppressions(&project, findings, settings);
    if timings {
        eprintln!(
            "celery-doctor: timings: rules {:?}, suppressions and sorting {:?} (peak RSS {})",
            t_suppress - t_rules,
            t_suppress.elapsed(),
            peak_rss()
        );
    }
    if settings.leak_model {
        std::mem::forget(project);
    }
    Ok(run)
}

/// `# noqa`, per-file ignores and severity overrides, applied after all rules (Ruff's order).
fn apply_suppressions(
    project: &Project,
    findings: Vec<Finding>,
    settings: &LintSettings,
) -> Vec<Finding> {
    // Files with findings: their texts were dropped after modelling; reload them and build
    // their line indexes in parallel rather than one by one in the filter below.
    let mut with_findings: HashMap<*const SourceFile, &Arc<SourceFile>> = HashMap::default();
    for f in &findings {
        with_findings.entry(Arc::as_ptr(&f.file)).or_insert(&f.file);
    }
    let reload: Vec<&Arc<SourceFile>> = with_findings.values().copied().collect();
    reload.par_iter().for_each(|file| {
        file.lines();
    });
    // Output order: display path, offset, code, message. Without a path string per finding:
    // rank the files once, then sort in parallel (stable).
    // Two `SourceFile`s may share a path (a deployment file reported twice): same rank.
    let mut files: Vec<(String, usize)> = with_findings
        .values()
        .map(|f| (f.display_path(), Arc::as_ptr(f).addr()))
        .collect();
    files.sort_unstable();
    let mut rank: HashMap<usize, usize> = HashMap::default();
    let mut r = 0;
    for (i, (path, ptr)) in files.iter().enumerate() {
        if i > 0 && files[i - 1].0 != *path {
            r = i;
        }
        rank.insert(*ptr, r);
    }
    // Per module: zero-based lines with noqa codes; task def offsets → decorator line offsets.
    let mut noqa: HashMap<*const SourceFile, HashMap<usize, Vec<String>>> = HashMap::default();
    let mut task_lines: HashMap<(*const SourceFile, u32), u32> = HashMap::default();
    for m in &project.modules {
        let key = Arc::as_ptr(&m.file);
        if !m.facts.noqa.is_empty() && with_findings.contains_key(&key) {
            let entry = noqa.entry(key).or_default();
            for n in &m.facts.noqa {
                let line = n.line;
                entry
                    .entry(line)
                    .or_default()
                    .extend(n.codes.iter().cloned());
                if n.codes.is_empty() {
                    entry.entry(line).or_default().push("*".into());
                }
            }
            // Only files with a `noqa` ask where a task's decorators start.
            for t in &m.facts.tasks {
                task_lines.insert((key, t.def_span.start), t.decorator_line_offset);
            }
        }
    }
    let mut out: Vec<Finding> = findings
        .into_iter()
        .filter(|f| {
            if !settings.per_file_ignores.is_empty() {
                let path = f.file.display_path();
                for (glob, selectors) in &settings.per_file_ignores {
                    if glob.is_match(&path) && selectors.iter().any(|s| matches(s, f.code)) {
                        return false;
                    }
                }
            }
            if f.code == "CD000" {
                return true; // syntax errors cannot be silenced inline
            }
            let key = Arc::as_ptr(&f.file);
            let Some(lines) = noqa.get(&key) else {
                return true;
            };
            let mut candidates = vec![f.file.lines().line_of(f.span.start)];
            if let Some(&deco) = task_lines.get(&(key, f.span.start)) {
                let first = f.file.lines().line_of(deco);
                candidates.extend(first..candidates[0]);
            }
            let suppressed = candidates.iter().any(|l| {
                lines
                    .get(l)
                    .is_some_and(|codes| codes.iter().any(|c| c == "*" || matches(c, f.code)))
            });
            !suppressed
        })
        .collect();
    for f in &mut out {
        if let Some(s) = settings.severity.get(f.code) {
            f.severity = *s;
        }
    }
    out.par_sort_by(|a, b| {
        rank[&Arc::as_ptr(&a.file).addr()]
            .cmp(&rank[&Arc::as_ptr(&b.file).addr()])
            .then(a.span.start.cmp(&b.span.start))
            .then(a.code.cmp(b.code))
            .then_with(|| a.message.cmp(&b.message))
    });
    out.dedup_by(|a, b| {
        a.code == b.code
            && a.span == b.span
            && Arc::ptr_eq(&a.file, &b.file)
            && a.message == b.message
    });
    out
}

/// Compute dotted module names for in-memory files: a directory is a package when the set
/// contains its `__init__.py`.
pub fn module_names_in_memory(paths: &[PathBuf]) -> Vec<(String, bool)> {
    let inits: HashSet<PathBuf> = paths
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "__init__.py"))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    paths
        .iter()
        .map(|p| walk::module_name(p, &|dir: &Path| inits.contains(dir)))
        .collect()
}

/// Peak resident set size so far (Linux `VmHWM`), for `CELERY_DOCTOR_TIMINGS`.
pub fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l[6..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Passwords of every URL literal with credentials in the project, as decoded and as spelled
/// in the source (escapes), longest first so that overlapping secrets mask completely.
fn project_secrets(project: &Project) -> Vec<String> {
    use rules::security::hardcoded_broker_credentials::parse;
    let mut out: Vec<String> = Vec::new();
    for m in &project.modules {
        for url in &m.facts.urls {
            if let Some((password, _, _)) = parse(&url.value) {
                out.push(password.to_string());
            }
            // The literal as written, when it differs (escapes, implicit concatenation).
            if let Some(raw) = m
                .file
                .text()
                .get(url.span.start as usize..url.span.end as usize)
            {
                for part in raw.split(['"', '\'']) {
                    if let Some((password, _, _)) = parse(part) {
                        out.push(password.to_string());
                    }
                }
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}
