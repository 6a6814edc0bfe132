//! The project model: every module's facts joined into apps, configuration layers, tasks with
//! registered names and effective options, and dispatch sites resolved to tasks.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;

use super::facts::*;
use super::settings::{self, KeyKind, Mode};
use crate::finding::{SourceFile, Span};

/// One parsed module of the project.
#[derive(Debug)]
pub struct Module {
    pub facts: ModuleFacts,
    pub file: Arc<SourceFile>,
    /// Test code (tests/, test_*.py, conftest.py, settings modules named *test*).
    pub is_test: bool,
}

/// Where a configuration entry comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A Django settings module read through `config_from_object("django.conf:settings")`.
    DjangoSettings,
    /// A module passed to `config_from_object("celeryconfig")`.
    ConfigModule,
    /// A class passed to `config_from_object`.
    ConfigClass,
    /// `app.conf.update(...)`, `app.conf.key = ...`.
    ConfWrite,
    /// `Celery(broker=..., backend=...)`.
    CeleryKwarg,
}

/// One configuration key as written, normalised to Celery's lowercase name.
#[derive(Clone, Debug)]
pub struct SettingEntry {
    pub raw: String,
    pub kind: KeyKind,
    pub value: Value,
    pub module: usize,
    pub span: Span,
    pub value_span: Span,
    pub source: SourceKind,
    pub mode: Mode,
    pub is_test: bool,
    pub under_debug: bool,
}

impl SettingEntry {
    /// The lowercase setting name, if Celery reads this key.
    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            KeyKind::New(n) | KeyKind::Old(n) => Some(n),
            KeyKind::Unknown => None,
        }
    }
}

/// A task as registered: its definition and its effective name.
#[derive(Clone, Debug)]
pub struct Task {
    pub module: usize,
    pub index: usize,
    /// Registered name; `None` when unknown (`name=` computed, `gen_task_name` overridden).
    pub name: Option<String>,
    /// Qualified app variable (`None` for shared tasks).
    pub app: Option<String>,
}

#[derive(Debug, Default)]
pub struct Config {
    pub entries: Vec<SettingEntry>,
    /// Modules read as Celery configuration (settings layers, config modules).
    pub settings_modules: Vec<usize>,
    /// Names read by project code as `settings.X` / `getattr(settings, "X")`.
    pub read_by_code: HashSet<String>,
}

#[derive(Debug, Default)]
pub struct Project {
    pub modules: Vec<Module>,
    by_name: HashMap<String, usize>,
    /// Qualified app variables (`proj.celery.app`) and where they are defined.
    pub apps: Vec<(usize, AppFacts)>,
    pub tasks: Vec<Task>,
    tasks_by_qualname: HashMap<String, usize>,
    tasks_by_name: HashMap<String, Vec<usize>>,
    pub config: Config,
    /// A Celery app overrides `gen_task_name`: generated names are unknown.
    pub custom_task_names: bool,
    /// Some configuration source could not be resolved (a computed `config_from_object`
    /// target, a Django settings module outside the linted tree): global settings are unknown.
    pub config_unresolved: bool,
    functions: HashMap<String, (usize, usize)>,
    /// Celery command lines from deployment files (catalog M8).
    pub worker_commands: Vec<WorkerCommand>,
    other_refs: HashSet<String>,
    /// Literal `task_annotations` dicts, resolved once.
    annotations: Vec<Value>,
}

/// Options hints from the configuration file.
#[derive(Clone, Debug, Default)]
pub struct ModelOptions {
    /// Extra Django settings modules (dotted names).
    pub settings_modules: Vec<String>,
}

impl Project {
    pub fn build(modules: Vec<Module>, options: &ModelOptions) -> Project {
        let mut p = Project {
            modules,
            ..Project::default()
        };
        for (i, m) in p.modules.iter().enumerate() {
            if !m.facts.module.is_empty() {
                p.by_name.entry(m.facts.module.clone()).or_insert(i);
            }
        }
        for (i, m) in p.modules.iter().enumerate() {
            for app in &m.facts.apps {
                p.apps.push((i, app.clone()));
            }
            if m.facts.overrides_gen_task_name {
                p.custom_task_names = true;
            }
        }
        for (i, m) in p.modules.iter().enumerate() {
            for (j, f) in m.facts.functions.iter().enumerate() {
                p.functions.entry(f.qualname.clone()).or_insert((i, j));
            }
        }
        p.build_tasks();
        p.build_other_refs();
        p.build_config(options);
        p.annotations = p
            .setting("task_annotations")
            .map(|e| p.resolve_value(&e.value))
            .collect();
        p
    }

    pub fn module(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn def(&self, task: &Task) -> &TaskDef {
        &self.modules[task.module].facts.tasks[task.index]
    }

    /// The name to show for a task: its registered name, else its function name.
    pub fn task_label(&self, task: &Task) -> String {
        task.name
            .clone()
            .unwrap_or_else(|| self.def(task).func_name.clone())
    }

    /// Tasks outside test code (where the catalog's guards exclude tests).
    pub fn production_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks
            .iter()
            .filter(|t| !self.modules[t.module].is_test)
    }

    pub fn file(&self, module: usize) -> &Arc<SourceFile> {
        &self.modules[module].file
    }

    fn is_app_var(&self, q: &str) -> bool {
        self.apps.iter().any(|(_, a)| a.var == q)
    }

    /// A module-level assignment of a non-Celery object to this name (e.g. `huey = Huey()`).
    fn is_other_object(&self, q: &str) -> bool {
        let Some((module, name)) = q.rsplit_once('.') else {
            return false;
        };
        let Some(m) = self.module(module) else {
            return false;
        };
        self.modules[m].facts.assigns.iter().any(|a| {
            a.name == name
                && matches!(&a.value, Value::Call { func, .. } if !func.ends_with("Celery"))
        })
    }

    fn build_tasks(&mut self) {
        let mut tasks = Vec::new();
        let registered: HashSet<String> = self
            .modules
            .iter()
            .flat_map(|m| m.facts.registered_classes.iter())
            .map(|q| self.resolve_symbol(q))
            .collect();
        for (mi, m) in self.modules.iter().enumerate() {
            for (ti, t) in m.facts.tasks.iter().enumerate() {
                let app = match t.kind {
                    TaskDecoratorKind::Shared | TaskDecoratorKind::Legacy => None,
                    TaskDecoratorKind::Class => {
                        if !registered.contains(&t.qualname) {
                            continue;
                        }
                        None
                    }
                    TaskDecoratorKind::App => {
                        let Some(receiver) = &t.receiver else {
                            continue;
                        };
                        let last = receiver.rsplit('.').next().unwrap_or(receiver);
                        let known = self.is_app_var(receiver);
                        let likely = matches!(
                            last,
                            "app"
                                | "celery"
                                | "celery_app"
                                | "capp"
                                | "application"
                                | "celeryapp"
                                | "worker"
                                | "tasks_app"
                        ) && !self.is_other_object(receiver);
                        if !known && !likely {
                            continue;
                        }
                        Some(receiver.clone())
                    }
                };
                // A decorator below the task decorator without `functools.wraps` renames the
                // function to its inner wrapper (`module.wrapper`).
                let wrapper = t
                    .decorator_targets
                    .get(t.decorator_index + 1)
                    .cloned()
                    .flatten()
                    .and_then(|q| self.function(&q))
                    .and_then(|(_, f)| {
                        let module = f.qualname.rsplit_once('.').map_or("", |(m, _)| m);
                        f.wrapper_name.as_ref().map(|w| {
                            if module.is_empty() {
                                w.clone()
                            } else {
                                format!("{module}.{w}")
                            }
                        })
                    });
                let name = match t.option("name") {
                    Some(Value::Str(s)) => Some(s.clone()),
                    Some(_) => None,
                    None if wrapper.is_some() => wrapper,
                    None if self.custom_task_names => None,
                    None if m.facts.module.is_empty() => Some(t.func_name.clone()),
                    None => Some(t.qualname.clone()),
                };
                tasks.push(Task {
                    module: mi,
                    index: ti,
                    name,
                    app,
                });
            }
        }
        for (i, t) in tasks.iter().enumerate() {
            let def = &self.modules[t.module].facts.tasks[t.index];
            self.tasks_by_qualname
                .entry(def.qualname.clone())
                .or_insert(i);
            if let Some(n) = &t.name {
                self.tasks_by_name.entry(n.clone()).or_default().push(i);
            }
        }
        self.tasks = tasks;
    }

    /// Resolve a qualified symbol through re-exports (`shop.send` → `shop.tasks.send`).
    pub fn resolve_symbol(&self, q: &str) -> String {
        let mut current = q.to_string();
        for _ in 0..6 {
            if self.tasks_by_qualname.contains_key(&current) {
                return current;
            }
            let Some((module, name)) = current.rsplit_once('.') else {
                return current;
            };
            let Some(m) = self.module(module) else {
                return current;
            };
            match self.modules[m]
                .facts
                .imports
                .iter()
                .find(|i| i.local == name)
            {
                Some(import) if import.qualified != current => current = import.qualified.clone(),
                _ => return current,
            }
        }
        current
    }

    /// A module-level (non-task) function by qualified name, followed through re-exports.
    pub fn function(&self, q: &str) -> Option<(usize, &FunctionFacts)> {
        let found = self
            .functions
            .get(q)
            .copied()
            .or_else(|| self.functions.get(&self.resolve_symbol(q)).copied())?;
        Some((found.0, &self.modules[found.0].facts.functions[found.1]))
    }

    /// The task a dispatch site refers to.
    pub fn task_for_call(&self, call: &CallSite) -> Option<usize> {
        match call.kind {
            DispatchKind::SendTask | DispatchKind::SignatureByName => {
                let found = self.tasks_by_name.get(&call.target)?;
                (found.len() == 1).then(|| found[0])
            }
            _ => self.task_by_qualname(&call.target),
        }
    }

    pub fn task_by_qualname(&self, q: &str) -> Option<usize> {
        self.tasks_by_qualname.get(q).copied().or_else(|| {
            let resolved = self.resolve_symbol(q);
            self.tasks_by_qualname.get(&resolved).copied()
        })
    }

    /// All dispatch sites with their module index.
    pub fn calls(&self) -> impl Iterator<Item = (usize, &CallSite)> {
        self.modules
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.facts.calls.iter().map(move |c| (i, c)))
    }

    // ----- effective task options ---------------------------------------------------------

    /// A class by qualified name, followed through re-exports.
    pub fn class(&self, q: &str) -> Option<&ClassFacts> {
        self.class_in_module(q).map(|(_, c)| c)
    }

    /// A class and the module that defines it (which may differ from the one named in `q`
    /// when the class is re-exported).
    pub fn class_in_module(&self, q: &str) -> Option<(usize, &ClassFacts)> {
        let resolved = self.resolve_symbol(q);
        let (module, name) = resolved.rsplit_once('.')?;
        let m = self.module(module)?;
        self.modules[m]
            .facts
            .classes
            .iter()
            .find(|c| c.name == name)
            .map(|c| (m, c))
    }

    /// The `base=` class chain of a task (project classes only, nearest first).
    pub fn base_chain(&self, def: &TaskDef) -> Vec<&ClassFacts> {
        let mut out = Vec::new();
        let mut next = match def.option("base") {
            Some(Value::Ref(q)) => Some(q.clone()),
            _ => None,
        };
        let mut seen = HashSet::default();
        while let Some(q) = next.take() {
            if !seen.insert(q.clone()) {
                break;
            }
            let Some(class) = self.class(&q) else { break };
            out.push(class);
            next = class.bases.first().cloned();
        }
        out
    }

    /// `base=` names something the model could not follow (a library class).
    pub fn base_unknown(&self, def: &TaskDef) -> bool {
        match def.option("base") {
            None => false,
            Some(Value::Ref(q)) if self.is_celery_task_class(q) => false,
            Some(Value::Ref(q)) => self.class(q).is_none(),
            Some(_) => true,
        }
    }

    /// Celery's own `Task` (`celery.Task`, `app.Task`): default options, nothing to follow.
    pub fn is_celery_task_class(&self, q: &str) -> bool {
        matches!(
            q,
            "celery.Task" | "celery.app.task.Task" | "celery.task.Task"
        ) || q
            .strip_suffix(".Task")
            .is_some_and(|app| self.is_app_var(app))
    }

    /// Effective task option: the decorator, the `base=` chain, then `task_annotations`
    /// (by task name, then `'*'`). `None` when not set anywhere.
    pub fn task_option(&self, def: &TaskDef, name: &str) -> Option<Value> {
        if let Some(v) = def.option(name) {
            return Some(v.clone());
        }
        for class in self.base_chain(def) {
            if let Some(a) = class.attrs.iter().rev().find(|a| a.name == name) {
                return Some(a.value.clone());
            }
        }
        if self.annotations.is_empty() {
            return None;
        }
        let task_name = match def.option("name") {
            Some(Value::Str(s)) => s.as_str(),
            _ => def.qualname.as_str(),
        };
        for annotations in &self.annotations {
            for key in [task_name, "*"] {
                if let Some(v) = annotations
                    .dict_get(key)
                    .and_then(|opts| opts.dict_get(name))
                {
                    return Some(v.clone());
                }
            }
        }
        None
    }

    /// Worker command lines are known and every worker sets `--time-limit`.
    pub fn workers_all_time_limited(&self) -> bool {
        let workers: Vec<_> = self
            .worker_commands
            .iter()
            .filter(|w| w.is_worker)
            .collect();
        !workers.is_empty() && workers.iter().all(|w| w.time_limit.is_some() && !w.dynamic)
    }

    /// Deployment files start workers, none starts beat, and no flag is dynamic.
    pub fn deployed_without_beat(&self) -> bool {
        let any_worker = self.worker_commands.iter().any(|w| w.is_worker);
        any_worker
            && !self
                .worker_commands
                .iter()
                .any(|w| w.runs_beat || w.dynamic)
    }

    /// Registered task names used by `beat_schedule` entries.
    pub fn beat_task_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.setting("beat_schedule") {
            if let Value::Dict(entries) = self.resolve_value(&e.value) {
                for (_, entry) in entries {
                    if let Some(Value::Str(task)) = entry.dict_get("task") {
                        out.push(task.clone());
                    }
                }
            }
        }
        out
    }

    /// The task object is used other than by dispatching it (`task = send_mail`, passed to a
    /// helper, patched in a test): its results may be read in ways the model cannot see.
    pub fn referenced_otherwise(&self, task: usize) -> bool {
        let def = self.def(&self.tasks[task]);
        self.other_refs.contains(&def.qualname)
    }

    /// Qualified names (resolved through re-exports) used other than as dispatch receivers.
    fn build_other_refs(&mut self) {
        let mut refs = HashSet::default();
        for m in &self.modules {
            let receivers: HashSet<Span> = m.facts.receiver_spans.iter().copied().collect();
            for (q, span) in &m.facts.name_refs {
                if !receivers.contains(span) {
                    refs.insert(q.clone());
                }
            }
        }
        // Only names that may be tasks need resolving through imports.
        let resolved: HashSet<String> = refs.iter().map(|q| self.resolve_symbol(q)).collect();
        refs.extend(resolved);
        self.other_refs = refs;
    }

    // ----- routing (catalog M7) -----------------------------------------------------------

    /// `task_routes` entries `(pattern, queue)`, in order; `None` when a router is computed
    /// (a function, a dotted router path, a non-literal value) and routing is unknown.
    pub fn task_routes(&self) -> Option<Vec<(String, String, &SettingEntry)>> {
        let mut out = Vec::new();
        for e in self.setting("task_routes") {
            let value = self.resolve_value(&e.value);
            let maps: Vec<Value> = match value {
                Value::Dict(_) => vec![value],
                Value::List(v) | Value::Tuple(v) => v,
                Value::None => continue,
                _ => return None,
            };
            for map in maps {
                let Value::Dict(items) = map else { return None };
                for (k, v) in items {
                    let Value::Str(pattern) = k else { return None };
                    let queue = match &v {
                        Value::Str(q) => q.clone(),
                        Value::Dict(_) => match v.dict_get("queue") {
                            Some(Value::Str(q)) => q.clone(),
                            _ => continue, // routed by exchange/routing key only
                        },
                        _ => return None,
                    };
                    out.push((pattern, queue, e));
                }
            }
        }
        Some(out)
    }

    /// Queue names declared in `task_queues` (`Queue("name", ...)` or dict keys); `None` when
    /// not set or not literal.
    pub fn task_queues(&self) -> Option<Vec<String>> {
        let (value, _) = self.setting_value("task_queues")?;
        let items = match &value {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => v.clone(),
            Value::Dict(d) => d.iter().map(|(k, _)| k.clone()).collect(),
            _ => return None,
        };
        items
            .iter()
            .map(|i| match i {
                Value::Str(s) => Some(s.clone()),
                Value::Call { func, args, kwargs } if func.ends_with("Queue") => args
                    .first()
                    .and_then(|a| a.as_str().map(str::to_string))
                    .or_else(|| {
                        kwargs
                            .iter()
                            .find(|(k, _)| k == "name")
                            .and_then(|(_, v)| v.as_str().map(str::to_string))
                    }),
                _ => None,
            })
            .collect()
    }

    /// The default queue (`task_default_queue`, else `celery`); `None` when not literal.
    pub fn default_queue(&self) -> Option<String> {
        if !self.is_set("task_default_queue") {
            return Some("celery".to_string());
        }
        self.setting_value("task_default_queue")
            .and_then(|(v, _)| v.as_str().map(str::to_string))
    }

    /// The queue a task's messages go to when the caller passes no `queue=`: the task's own
    /// `queue` option, else the first matching route, else the default queue.
    pub fn task_queue(&self, task: &Task) -> Option<String> {
        let def = self.def(task);
        if let Some(v) = self.task_option(def, "queue") {
            return self.resolve_value(&v).as_str().map(str::to_string);
        }
        let name = task.name.as_deref()?;
        for (pattern, queue, _) in self.task_routes()? {
            if route_matches(&pattern, name) {
                return Some(queue);
            }
        }
        self.default_queue()
    }

    /// Tasks by registered name.
    pub fn tasks_named(&self, name: &str) -> &[usize] {
        self.tasks_by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// `bind=True` on the decorator (or unknown).
    pub fn is_bound(&self, def: &TaskDef) -> Option<bool> {
        match def.option("bind") {
            None => Some(false),
            Some(v) => v.truthy(),
        }
    }

    /// The task's base class chain overrides one of these methods.
    pub fn base_overrides(&self, def: &TaskDef, methods: &[&str]) -> bool {
        self.base_chain(def)
            .iter()
            .any(|c| c.methods.iter().any(|m| methods.contains(&m.as_str())))
    }

    /// Resolve a value that refers to a module constant, one level deep.
    pub fn resolve_value(&self, v: &Value) -> Value {
        let mut current = v.clone();
        for _ in 0..4 {
            let Value::Ref(q) = &current else {
                return current;
            };
            let resolved = self.resolve_symbol(q);
            let Some((module, name)) = resolved.rsplit_once('.') else {
                return Value::Unknown;
            };
            let Some(m) = self.module(module) else {
                return Value::Unknown;
            };
            let assigns: Vec<&Assign> = self.modules[m]
                .facts
                .assigns
                .iter()
                .filter(|a| a.name == name)
                .collect();
            if assigns.len() != 1 {
                return Value::Unknown;
            }
            current = assigns[0].value.clone();
        }
        current
    }

    // ----- configuration -------------------------------------------------------------------

    fn build_config(&mut self, options: &ModelOptions) {
        let mut entries = Vec::new();
        let mut settings_modules: Vec<(usize, SourceKind, Mode)> = Vec::new();
        let mut django_mode: Option<Mode> = None;
        let mut has_plain_config = false;

        // config_from_object targets.
        let mut cfos = Vec::new();
        for m in &self.modules {
            cfos.extend(m.facts.config_from_object.iter().cloned());
        }
        for cfo in &cfos {
            let mode = match &cfo.namespace {
                Some(ns) => Mode::Namespace(ns.clone()),
                None => Mode::Plain,
            };
            match &cfo.target {
                Value::Str(s) if s == "django.conf:settings" || s == "django.conf.settings" => {
                    django_mode = Some(mode);
                }
                Value::Str(s) => {
                    let (module, obj) = match s.split_once(':') {
                        Some((m, o)) => (m.to_string(), Some(o.to_string())),
                        None => (s.clone(), None),
                    };
                    if let Some(obj) = obj {
                        if let Some((m, class)) = self.class_in_module(&format!("{module}.{obj}")) {
                            class_entries(&mut entries, class, m, &mode, self.modules[m].is_test);
                        }
                        has_plain_config = true;
                    } else if let Some(m) = self.module(&module) {
                        settings_modules.push((m, SourceKind::ConfigModule, mode));
                        has_plain_config = true;
                    } else {
                        // `config_from_object("proj.config.Settings")`: a class by dotted path.
                        let class = module.rsplit_once('.').and_then(|(mod_part, obj)| {
                            self.class_in_module(&format!("{mod_part}.{obj}"))
                        });
                        match class {
                            Some((m, class)) => {
                                class_entries(
                                    &mut entries,
                                    class,
                                    m,
                                    &mode,
                                    self.modules[m].is_test,
                                );
                            }
                            None => self.config_unresolved = true,
                        }
                        has_plain_config = true;
                    }
                }
                Value::Ref(q) => {
                    let resolved = self.resolve_symbol(q);
                    if let Some(m) = self.module(&resolved) {
                        settings_modules.push((m, SourceKind::ConfigModule, mode));
                    } else if let Some((m, class)) = self.class_in_module(&resolved) {
                        class_entries(&mut entries, class, m, &mode, self.modules[m].is_test);
                    } else {
                        self.config_unresolved = true;
                    }
                    has_plain_config = true;
                }
                _ => {
                    self.config_unresolved = true;
                    has_plain_config = true;
                }
            }
        }

        // Django settings modules.
        let mut dsm: Vec<String> = options.settings_modules.clone();
        for m in &self.modules {
            dsm.extend(m.facts.django_settings_module.iter().cloned());
        }
        let mut django: Vec<usize> = Vec::new();
        for name in &dsm {
            if let Some(m) = self.module(name) {
                django.push(m);
                // The other layers of a settings package.
                let pkg = if self.modules[m].facts.is_package {
                    Some(name.clone())
                } else {
                    name.rsplit_once('.').map(|(p, _)| p.to_string())
                };
                if let Some(pkg) = pkg
                    && pkg.rsplit('.').next() == Some("settings")
                {
                    for (i, mm) in self.modules.iter().enumerate() {
                        if mm.facts.module.starts_with(&format!("{pkg}.")) || mm.facts.module == pkg
                        {
                            django.push(i);
                        }
                    }
                }
            }
        }
        // Django settings named by DJANGO_SETTINGS_MODULE but not in the linted tree.
        if django_mode.is_some() && !dsm.is_empty() && django.is_empty() {
            self.config_unresolved = true;
        }
        let fallback = django.is_empty() && (django_mode.is_some() || !has_plain_config);
        if fallback {
            for (i, m) in self.modules.iter().enumerate() {
                let path = m.file.display_path();
                let name = path.rsplit('/').next().unwrap_or(&path);
                let in_settings_pkg = path.split('/').rev().nth(1) == Some("settings");
                if name == "settings.py" || (in_settings_pkg && name.ends_with(".py")) {
                    django.push(i);
                }
            }
        }
        // Star-import closure.
        let mut queue = django.clone();
        let mut seen: HashSet<usize> = HashSet::default();
        let mut ordered = Vec::new();
        while let Some(m) = queue.pop() {
            if !seen.insert(m) {
                continue;
            }
            ordered.push(m);
            for star in &self.modules[m].facts.star_imports {
                if let Some(t) = self.module(star) {
                    queue.push(t);
                }
            }
        }
        ordered.sort_unstable();
        let dj_mode = match (&django_mode, fallback) {
            (Some(mode), _) => mode.clone(),
            (None, true) => Mode::Unknown,
            (None, false) => Mode::Unknown,
        };
        // Django settings are only Celery configuration if an app reads them (or we cannot tell).
        if django_mode.is_some() || !has_plain_config {
            for m in ordered {
                settings_modules.push((m, SourceKind::DjangoSettings, dj_mode.clone()));
            }
        }

        settings_modules.sort_by_key(|(m, _, _)| *m);
        settings_modules.dedup_by_key(|(m, _, _)| *m);
        for (m, kind, mode) in &settings_modules {
            let module = &self.modules[*m];
            let is_test = module.is_test
                || module
                    .facts
                    .module
                    .rsplit('.')
                    .next()
                    .is_some_and(|n| n.contains("test"));
            for a in &module.facts.assigns {
                if a.name.starts_with('_') {
                    continue;
                }
                if *kind == SourceKind::DjangoSettings && a.name != a.name.to_ascii_uppercase() {
                    continue;
                }
                entries.push(SettingEntry {
                    raw: a.name.clone(),
                    kind: settings::classify(&a.name, mode),
                    value: a.value.clone(),
                    module: *m,
                    span: a.span,
                    value_span: a.value_span,
                    source: *kind,
                    mode: mode.clone(),
                    is_test,
                    under_debug: a.under_debug,
                });
            }
        }

        // conf writes and Celery(...) keywords (converted by Celery: old and new both accepted).
        for (i, m) in self.modules.iter().enumerate() {
            for w in &m.facts.conf_writes {
                entries.push(SettingEntry {
                    raw: w.key.clone(),
                    kind: settings::classify(&w.key, &Mode::Plain),
                    value: w.value.clone(),
                    module: i,
                    span: w.span,
                    value_span: w.value_span,
                    source: SourceKind::ConfWrite,
                    mode: Mode::Plain,
                    is_test: m.is_test,
                    under_debug: false,
                });
            }
        }
        for (i, app) in &self.apps {
            for (k, v, span) in &app.kwargs {
                let name = match k.as_str() {
                    "broker" => "broker_url",
                    "backend" => "result_backend",
                    "include" => "include",
                    _ => continue,
                };
                entries.push(SettingEntry {
                    raw: k.clone(),
                    kind: KeyKind::New(name.to_string()),
                    value: v.clone(),
                    module: *i,
                    span: *span,
                    value_span: *span,
                    source: SourceKind::CeleryKwarg,
                    mode: Mode::Plain,
                    is_test: self.modules[*i].is_test,
                    under_debug: false,
                });
            }
        }
        for m in &self.modules {
            self.config
                .read_by_code
                .extend(m.facts.settings_reads.iter().cloned());
        }
        self.config.entries = entries;
        self.config.settings_modules = settings_modules.iter().map(|(m, _, _)| *m).collect();
    }

    /// Entries (outside test code) that set the lowercase setting `name`.
    pub fn setting(&self, name: &str) -> impl Iterator<Item = &SettingEntry> {
        self.config
            .entries
            .iter()
            .filter(move |e| !e.is_test && e.name() == Some(name))
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.setting(name).next().is_some()
    }

    /// The value of a setting when every non-test layer that sets it agrees; otherwise `None`.
    pub fn setting_value(&self, name: &str) -> Option<(Value, &SettingEntry)> {
        let mut found: Option<(Value, &SettingEntry)> = None;
        for e in self.setting(name) {
            let v = self.resolve_value(&e.value);
            match &found {
                None => found = Some((v, e)),
                Some((prev, _)) if *prev == v => {}
                Some(_) => return None,
            }
        }
        found
    }

    /// A result backend is configured (any layer, literal or env-derived).
    pub fn has_result_backend(&self) -> bool {
        self.setting("result_backend")
            .any(|e| match self.resolve_value(&e.value) {
                Value::None => false,
                Value::Str(s) => !s.is_empty() && s != "disabled",
                // Env-derived, computed or a constant from elsewhere: configured.
                _ => true,
            })
    }

    /// Global `task_ignore_result=True`.
    pub fn ignores_results_globally(&self) -> bool {
        matches!(self.setting_value("task_ignore_result"), Some((v, _)) if v.truthy() == Some(true))
    }

    /// Task ignores its results: option, base class, or global default.
    pub fn task_ignores_result(&self, def: &TaskDef) -> Option<bool> {
        match self.task_option(def, "ignore_result") {
            Some(v) => self.resolve_value(&v).truthy(),
            None if self.is_set("task_ignore_result") => self
                .setting_value("task_ignore_result")
                .and_then(|(v, _)| v.truthy()),
            None if self.base_unknown(def) => None,
            None => Some(false),
        }
    }

    /// Effective hard time limit: `Some(Some(secs))` known, `Some(None)` set but unknown or
    /// explicitly `None`, `None` not set anywhere.
    pub fn effective_time_limit(
        &self,
        def: &TaskDef,
        option: &str,
        global: &str,
    ) -> Option<Option<f64>> {
        if let Some(v) = self.task_option(def, option) {
            return Some(self.resolve_value(&v).as_seconds());
        }
        if self.base_unknown(def) {
            return Some(None);
        }
        if self.is_set(global) {
            return Some(self.setting_value(global).and_then(|(v, _)| v.as_seconds()));
        }
        None
    }

    /// Modules grouped by path for deterministic iteration.
    pub fn modules_by_path(&self) -> BTreeMap<String, usize> {
        self.modules
            .iter()
            .enumerate()
            .map(|(i, m)| (m.file.display_path(), i))
            .collect()
    }
}

/// Celery's route patterns: exact names, or globs with `*` (fnmatch semantics).
pub fn route_matches(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') && !pattern.contains('?') {
        return pattern == name;
    }
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher().is_match(name))
        .unwrap_or(false)
}

fn class_entries(
    entries: &mut Vec<SettingEntry>,
    class: &ClassFacts,
    module: usize,
    mode: &Mode,
    is_test: bool,
) {
    for a in &class.attrs {
        if a.name.starts_with('_') {
            continue;
        }
        entries.push(SettingEntry {
            raw: a.name.clone(),
            kind: settings::classify(&a.name, mode),
            value: a.value.clone(),
            module,
            span: a.span,
            value_span: a.value_span,
            source: SourceKind::ConfigClass,
            mode: mode.clone(),
            is_test,
            under_debug: false,
        });
    }
}

/// How a serializer treats values that are not plain data (CD304, CD804).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `json`: only dicts, lists, strings, numbers, dates, `Decimal`, `UUID`, `bytes` and
    /// objects with `__json__` encode.
    Json,
    /// `pickle`: most objects encode; handles (files, sockets, locks) and generators do not.
    Pickle,
    /// Another serializer, a custom one, or a value the model cannot see.
    Unknown,
}

impl Encoding {
    fn of(v: &Value) -> Encoding {
        match v.as_str() {
            Some("json" | "application/json") => Encoding::Json,
            Some("pickle" | "application/x-python-serialize") => Encoding::Pickle,
            _ => Encoding::Unknown,
        }
    }
}

impl Project {
    /// The project registers a kombu serializer or a JSON type of its own.
    pub fn registers_serializer(&self) -> bool {
        self.modules
            .iter()
            .any(|m| !m.is_test && m.facts.registers_serializer)
    }

    /// A global serializer setting: json when unset, unknown when layers disagree or the
    /// configuration could not be resolved.
    fn setting_encoding(&self, name: &str) -> Encoding {
        if self.config_unresolved || self.registers_serializer() {
            return Encoding::Unknown;
        }
        if !self.is_set(name) {
            return Encoding::Json;
        }
        self.setting_value(name)
            .map_or(Encoding::Unknown, |(v, _)| Encoding::of(&v))
    }

    /// The serializer of a task's messages: the call's `serializer=`, the task option (decorator,
    /// base class, annotations), then `task_serializer` (json by default).
    pub fn message_encoding(&self, def: Option<&TaskDef>, call: Option<&CallSite>) -> Encoding {
        if let Some(call) = call
            && let Some((_, v, _)) = call
                .call_keywords
                .iter()
                .find(|(k, _, _)| k == "serializer")
        {
            return match call.kind {
                DispatchKind::Delay
                | DispatchKind::DelayOnCommit
                | DispatchKind::S
                | DispatchKind::Si => self.message_encoding(def, None),
                _ => {
                    if self.registers_serializer() {
                        Encoding::Unknown
                    } else {
                        Encoding::of(&self.resolve_value(v))
                    }
                }
            };
        }
        if let Some(def) = def {
            if let Some(v) = self.task_option(def, "serializer") {
                if self.registers_serializer() {
                    return Encoding::Unknown;
                }
                return Encoding::of(&self.resolve_value(&v));
            }
            if self.base_unknown(def) {
                return Encoding::Unknown;
            }
        }
        self.setting_encoding("task_serializer")
    }

    /// The serializer of stored results (`result_serializer`, json by default).
    pub fn result_encoding(&self) -> Encoding {
        self.setting_encoding("result_serializer")
    }
}

/// What JSON makes of an instance of a class (CD304, CD804).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassEncoding {
    /// A project class (or dataclass) whose bases are all plain project classes, with no
    /// `__json__`: JSON cannot encode it.
    Plain,
    /// A Pydantic model: JSON cannot encode it unless the task sets `pydantic=True`.
    Pydantic,
}

impl Project {
    /// How JSON treats instances of the class `q`; `None` when unknown or encodable (a library
    /// base class, `__json__`, a `dict`/`str`/`NamedTuple`/`Enum` subclass…).
    pub fn class_encoding(&self, q: &str) -> Option<ClassEncoding> {
        let mut current = self.class(q)?;
        for _ in 0..8 {
            if current.methods.iter().any(|m| m == "__json__")
                || current.bases.len() != current.base_exprs
            {
                return None;
            }
            match current.bases.as_slice() {
                [] => return Some(ClassEncoding::Plain),
                [b] if b == "object" => return Some(ClassEncoding::Plain),
                [b] if matches!(b.as_str(), "pydantic.BaseModel" | "pydantic.main.BaseModel") => {
                    return Some(ClassEncoding::Pydantic);
                }
                [b] => current = self.class(b)?,
                _ => return None,
            }
        }
        None
    }
}
