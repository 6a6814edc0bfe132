//! CD004 `task-module-not-imported-by-worker`: a dispatched task whose module the worker never
//! imports is unregistered there; its messages are discarded.
//!
//! ## What it does
//! Per Celery app, builds the worker's import closure: the app module, `Celery(include=)`, the
//! `imports`/`include` settings, `autodiscover_tasks()` packages (`<pkg>.tasks` or the given
//! `related_name`; with the Django fix-up and no packages, every `INSTALLED_APPS` entry),
//! Django's start-up imports (settings, each installed app's package, `apps`, `models`, and
//! `admin` when `django.contrib.admin` is installed),
//! worker `-I/--include`, the module each worker command line names with `-A` (with no worker
//! command line: every non-test module importing the app, since any may be the `-A` target),
//! then every static import of these, transitively. A task outside the closure that project
//! code dispatches (or a beat entry names) is reported.
//!
//! ## Why is this bad?
//! The worker logs "Received unregistered task of type …" and discards the message.
//!
//! ## Known false positives
//! A dynamic import in the closure (`importlib.import_module(expr)`, `__import__`, `pkgutil`,
//! Django's `import_string(expr)`/`autodiscover_modules`), a non-literal
//! `include`/`INSTALLED_APPS`/`autodiscover_tasks` argument, a worker `-I` or `-A` from a
//! variable, a worker command line without `-A`, or unknown configuration makes the app's
//! closure unknown: silent. Tasks never dispatched are not reported.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::lint::model::facts::{AppFacts, CallSite, Value};
use crate::lint::model::{Project, SourceKind};
use crate::lint::rules::RuleCx;

/// Literal module names of a string or a list/tuple of strings; `None` when unknown.
fn names(project: &Project, v: &Value) -> Option<Vec<String>> {
    match project.resolve_value(v) {
        Value::Str(s) => Some(vec![s]),
        v => v
            .elements()?
            .iter()
            .map(|e| project.resolve_value(e).as_str().map(str::to_string))
            .collect(),
    }
}

/// `INSTALLED_APPS` of the Django settings, as project package names, and whether the admin
/// is installed (it imports every app's `admin` module at start-up); `None` when unknown.
fn installed_apps(project: &Project) -> Option<(Vec<String>, bool)> {
    let mut out = Vec::new();
    let mut found = false;
    let mut admin = false;
    for &m in &project.config.settings_modules {
        let facts = &project.modules[m].facts;
        if facts.aug_assigned.iter().any(|n| n == "INSTALLED_APPS") {
            return None;
        }
        for a in facts.assigns.iter().filter(|a| a.name == "INSTALLED_APPS") {
            found = true;
            for entry in names(project, &a.value)? {
                admin |= entry.starts_with("django.contrib.admin");
                if project.module(&entry).is_some() {
                    out.push(entry);
                } else if let Some(class) = project.class(&entry) {
                    // `shop.apps.ShopConfig`: the app is the config's `name`.
                    let name = class.attrs.iter().rev().find(|a| a.name == "name")?;
                    out.push(project.resolve_value(&name.value).as_str()?.to_string());
                } else if let Some((module, _)) = entry.rsplit_once('.')
                    && project.module(module).is_some()
                {
                    // A project module, but a class the model cannot read.
                    return None;
                }
            }
        }
    }
    found.then_some((out, admin))
}

fn uses_django(project: &Project, app: &AppFacts, app_module: usize) -> bool {
    !project.modules[app_module]
        .facts
        .django_settings_module
        .is_empty()
        || project.modules.iter().any(|m| {
            m.facts.config_from_object.iter().any(|c| {
                c.app == app.var
                    && c.target
                        .as_str()
                        .is_some_and(|t| t.starts_with("django.conf"))
            })
        })
}

/// The modules a worker starts from besides the app's own module: the module named by each
/// worker command line's `-A` (and its `celery` submodule, which Celery also tries). Without
/// any worker command line the `-A` target is unknown, and any non-test module that imports
/// the app (a `worker.py` importing the app and the task modules) may be it. `None` when a
/// worker's `-A` is missing, from a variable, or names no project module.
fn entries(project: &Project, module: usize, app: &AppFacts) -> Option<Vec<String>> {
    let workers: Vec<_> = project
        .worker_commands
        .iter()
        .filter(|c| c.is_worker)
        .collect();
    let mut out = Vec::new();
    if workers.is_empty() {
        let app_module = &project.modules[module].facts.module;
        for m in project.modules.iter().filter(|m| !m.is_test) {
            let imports_app = m.facts.imported_modules.iter().any(|n| n == app_module)
                || m.facts
                    .imports
                    .iter()
                    .any(|i| project.resolve(&i.qualified) == app.var.as_str());
            if imports_app {
                out.push(m.facts.module.clone());
            }
        }
        return Some(out);
    }
    for w in workers {
        let target = w.app.as_deref()?;
        if target.contains('$') || target.contains("{{") {
            return None;
        }
        let name = target.split_once(':').map_or(target, |(m, _)| m);
        // `-A proj.celery.app` names an attribute of the module `proj.celery`.
        let module_name = if project.module(name).is_some() {
            name
        } else {
            name.rsplit_once('.')
                .map(|(m, _)| m)
                .filter(|m| project.module(m).is_some())?
        };
        out.push(module_name.to_string());
        out.push(format!("{module_name}.celery"));
    }
    Some(out)
}

/// The modules a worker of this app imports; `None` when that cannot be known.
fn closure(project: &Project, module: usize, app: &AppFacts) -> Option<HashSet<usize>> {
    let mut roots: Vec<String> = vec![project.modules[module].facts.module.clone()];
    for (k, v, _) in &app.kwargs {
        if k == "include" {
            roots.extend(names(project, v)?);
        }
    }
    // `Celery(include=...)` of other apps is not this app's configuration.
    for key in ["imports", "include"] {
        for e in project
            .setting(key)
            .filter(|e| e.source != SourceKind::CeleryKwarg)
        {
            roots.extend(names(project, &e.value)?);
        }
    }
    for cmd in project.worker_commands.iter().filter(|c| c.is_worker) {
        roots.extend(cmd.includes.iter().cloned());
    }
    roots.extend(entries(project, module, app)?);
    let django = uses_django(project, app, module);
    let mut apps: Option<Vec<String>> = None;
    if django {
        let (installed, admin) = installed_apps(project)?;
        for pkg in &installed {
            roots.push(pkg.clone());
            roots.push(format!("{pkg}.apps"));
            roots.push(format!("{pkg}.models"));
            if admin {
                roots.push(format!("{pkg}.admin"));
            }
        }
        roots.extend(
            project
                .config
                .settings_modules
                .iter()
                .map(|&m| project.modules[m].facts.module.clone()),
        );
        apps = Some(installed);
    }
    for m in &project.modules {
        for auto in m.facts.autodiscover.iter() {
            if auto
                .app
                .as_deref()
                .is_some_and(|a| a != app.var && project.apps.iter().any(|(_, x)| x.var == a))
            {
                continue;
            }
            let related = match &auto.related_name {
                None => "tasks".to_string(),
                Some(v) => project.resolve_value(v).as_str()?.to_string(),
            };
            let packages = match &auto.packages {
                _ if auto.installed_apps => apps.clone()?,
                None if django => apps.clone()?,
                None => Vec::new(),
                Some(v) => names(project, v)?,
            };
            roots.extend(packages.iter().map(|p| format!("{p}.{related}")));
        }
    }
    let mut seen: HashSet<usize> = HashSet::default();
    let mut queue: Vec<usize> = Vec::new();
    let push = |name: &str, queue: &mut Vec<usize>| {
        // Importing `a.b.c` runs `a` and `a.b` first.
        let mut prefix = String::new();
        for part in name.split('.') {
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(part);
            if let Some(i) = project.module(&prefix) {
                queue.push(i);
            }
        }
    };
    for r in &roots {
        if r.contains('$') || r.contains("{{") {
            return None;
        }
        push(r, &mut queue);
    }
    while let Some(i) = queue.pop() {
        if !seen.insert(i) {
            continue;
        }
        let facts = &project.modules[i].facts;
        if facts.dynamic_import.is_some() {
            return None;
        }
        for name in facts
            .imported_modules
            .iter()
            .chain(facts.star_imports.iter())
        {
            push(name, &mut queue);
        }
        push(&facts.module, &mut queue);
    }
    Some(seen)
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    // Unknown configuration may list the module in `imports`/`include`.
    if project.config_unresolved {
        return;
    }
    let apps: Vec<(&AppFacts, Option<HashSet<usize>>)> = project
        .apps
        .iter()
        .filter(|(m, _)| !project.modules[*m].is_test)
        .map(|(m, app)| (app, closure(project, *m, app)))
        .collect();
    if apps.is_empty() {
        return;
    }
    let beat_names: Vec<String> = match project.setting_value("beat_schedule") {
        Some((Value::Dict(entries), _)) => entries
            .iter()
            .filter_map(|(_, e)| {
                e.dict_get("task")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect(),
        _ => Vec::new(),
    };
    // The first non-test dispatch of each task, found in one pass over the calls.
    let mut first_dispatch: HashMap<usize, (usize, &CallSite)> = HashMap::default();
    for (m, c) in project.calls() {
        if project.modules[m].is_test {
            continue;
        }
        if let Some(ti) = project.task_for_call(c) {
            first_dispatch.entry(ti).or_insert((m, c));
        }
    }
    for (ti, task) in project.tasks.iter().enumerate() {
        if project.modules[task.module].is_test {
            continue;
        }
        let imported = match &task.app {
            Some(var) => match apps.iter().find(|(a, _)| a.var == *var) {
                Some((_, Some(c))) => c.contains(&task.module),
                _ => continue,
            },
            None => {
                if apps.iter().any(|(_, c)| c.is_none()) {
                    continue;
                }
                apps.iter()
                    .any(|(_, c)| c.as_ref().is_some_and(|c| c.contains(&task.module)))
            }
        };
        if imported {
            continue;
        }
        let dispatch = first_dispatch.get(&ti).copied();
        let by_beat = task
            .name
            .as_ref()
            .is_some_and(|n| beat_names.iter().any(|b| b == n));
        if dispatch.is_none() && !by_beat {
            continue;
        }
        let def = project.def(task);
        let name = project.task_label(task);
        let module = project.modules[task.module].facts.module.clone();
        let related = dispatch.map(|(m, c)| cx.related(m, c.span, "dispatched here"));
        let finding = cx
            .report(
                task.module,
                def.def_span,
                &[("task", &name), ("module", &module)],
            )
            .with_task(task.name.as_deref());
        if let Some(r) = related {
            finding.with_related(r);
        }
    }
}
