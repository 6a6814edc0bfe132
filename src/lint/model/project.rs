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
    /// target, a Django settings module outside the linted tree, `config_from_envvar`,
    /// `app.conf.update(variable)` outside test code): global settings are unknown. The one
    /// answer to "is the configuration known" (catalog §0: unknown never fires).
    pub config_unresolved: bool,
    functions: HashMap<String, (usize, usize)>,
    /// Celery command lines from deployment files (catalog M8).
    pub worker_commands: Vec<WorkerCommand>,
    other_refs: HashSet<String>,
    /// Literal `task_annotations` dicts, resolved once.
    annotations: Vec<Value>,
    /// Per module, the recorded literal spans by `(root, path)`, built on first use so that
    /// looking up every entry of a large schedule stays linear.
    literal_index: std::sync::OnceLock<Vec<LiteralIndex>>,
    /// Some non-test module registers a serializer with kombu (asked per dispatch site).
    registers_serializer: bool,
}

/// Index of one module's `literal_spans`: `(root, path)` → position of the first record.
type LiteralIndex = HashMap<(Span, Vec<String>), usize>;

/// Options hints from the configuration file.
#[derive(Clone, Debug, Default)]
pub struct ModelOptions {
    /// Extra Django settings modules (dotted names).
    pub settings_modules: Vec<String>,
    /// Record every nameable call (`ModuleFacts::any_calls`), for custom rules.
    pub record_calls: bool,
}

impl Project {
    pub fn build(modules: Vec<Module>, options: &ModelOptions) -> Project {
        let mut p = Project {
            modules,
            ..Project::default()
        };
        p.by_name.reserve(p.modules.len());
        p.functions
            .reserve(p.modules.iter().map(|m| m.facts.functions.len()).sum());
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
        // Configuration applied in a way the model cannot read (`config_from_envvar`,
        // `app.conf.update(variable)`, `conf.update(**load())`) leaves every setting as unknown
        // as an unresolvable `config_from_object` target does: one flag answers "is the
        // configuration known" for every rule.
        if p.modules
            .iter()
            .any(|m| !m.is_test && m.facts.opaque_config)
        {
            p.config_unresolved = true;
        }
        p.registers_serializer = p
            .modules
            .iter()
            .any(|m| !m.is_test && m.facts.registers_serializer);
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
        self.tasks_by_qualname.reserve(tasks.len());
        self.tasks_by_name.reserve(tasks.len());
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
        self.resolve(q).into_owned()
    }

    /// [`Project::resolve_symbol`], borrowing `q` when it resolves to itself (the common case
    /// for names outside the project: rules ask for every call in every task body).
    pub fn resolve<'a>(&'a self, q: &'a str) -> std::borrow::Cow<'a, str> {
        let mut current: &'a str = q;
        for _ in 0..6 {
            if self.tasks_by_qualname.contains_key(current) {
                break;
            }
            let Some((module, name)) = current.rsplit_once('.') else {
                break;
            };
            let Some(m) = self.module(module) else {
                break;
            };
            match self.modules[m]
                .facts
                .imports
                .iter()
                .find(|i| i.local == name)
            {
                Some(import) if import.qualified != current => current = &import.qualified,
                _ => break,
            }
        }
        if std::ptr::eq(current, q) {
            std::borrow::Cow::Borrowed(q)
        } else {
            std::borrow::Cow::Owned(current.to_string())
        }
    }

    /// What `q` names through re-exports, when that is another name than `q`.
    fn re_exported(&self, q: &str) -> Option<String> {
        match self.resolve(q) {
            std::borrow::Cow::Owned(resolved) => Some(resolved),
            std::borrow::Cow::Borrowed(_) => None,
        }
    }

    /// A module-level (non-task) function by qualified name, followed through re-exports.
    pub fn function(&self, q: &str) -> Option<(usize, &FunctionFacts)> {
        let found = match self.functions.get(q) {
            Some(found) => *found,
            None => *self.functions.get(&self.re_exported(q)?)?,
        };
        Some((found.0, &self.modules[found.0].facts.functions[found.1]))
    }

    /// The task a dispatch site refers to (resolved once per site).
    pub fn task_for_call(&self, call: &CallSite) -> Option<usize> {
        *call.task.get_or_init(|| self.resolve_call(call))
    }

    fn resolve_call(&self, call: &CallSite) -> Option<usize> {
        match call.kind {
            DispatchKind::SendTask | DispatchKind::SignatureByName => {
                let found = self.tasks_by_name.get(&call.target)?;
                (found.len() == 1).then(|| found[0])
            }
            _ => self.task_by_qualname(&call.target),
        }
    }

    pub fn task_by_qualname(&self, q: &str) -> Option<usize> {
        match self.tasks_by_qualname.get(q) {
            Some(found) => Some(*found),
            None => self.tasks_by_qualname.get(&self.re_exported(q)?).copied(),
        }
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
        let resolved = self.resolve(q);
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
        let resolved: Vec<String> = refs.iter().filter_map(|q| self.re_exported(q)).collect();
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
        // Another configuration source may declare or replace the queues.
        if self.config_unresolved {
            return None;
        }
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

    /// The default queue (`task_default_queue`, else `celery`); `None` when not literal or
    /// when the configuration is unknown.
    pub fn default_queue(&self) -> Option<String> {
        if self.config_unresolved {
            return None;
        }
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

// ----- settings layers, Django models and views (CD601, CD603, CD702, CD704) ------------------

impl Project {
    /// A module and what it star-imports, transitively: itself first, then each star import in
    /// source order (a later star import overrides an earlier one).
    pub fn star_closure(&self, module: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![module];
        while let Some(m) = stack.pop() {
            if out.contains(&m) {
                continue;
            }
            out.push(m);
            for star in self.modules[m].facts.star_imports.iter().rev() {
                if let Some(t) = self.module(star) {
                    stack.push(t);
                }
            }
        }
        out
    }

    /// The module whose assignment gives `module` its effective value for a key, following
    /// star imports (own assignments win, then the last star import that provides it).
    pub fn layer_providing(
        &self,
        module: usize,
        sets: &dyn Fn(usize) -> bool,
        depth: usize,
    ) -> Option<usize> {
        if sets(module) {
            return Some(module);
        }
        if depth > 8 {
            return None;
        }
        self.modules[module]
            .facts
            .star_imports
            .iter()
            .rev()
            .filter_map(|s| self.module(s))
            .find_map(|t| self.layer_providing(t, sets, depth + 1))
    }

    /// Settings modules named by `DJANGO_SETTINGS_MODULE` defaults that are in the linted tree.
    pub fn named_django_settings(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .modules
            .iter()
            .flat_map(|m| m.facts.django_settings_module.iter())
            .filter_map(|n| self.module(n))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Does the (qualified) class derive `django.db.models.Model`? `None` when a base is a
    /// class the model cannot follow.
    pub fn is_django_model(&self, q: &str) -> Option<bool> {
        self.derives(q, &|b: &str| {
            b == "django.db.models.Model" || b == "django.db.models.base.Model"
        })
    }

    /// Is the (qualified) class a Django or DRF class-based view?
    pub fn is_view_class(&self, q: &str) -> bool {
        self.derives(q, &|b: &str| {
            let last = b.rsplit('.').next().unwrap_or(b);
            (b.starts_with("django.") || b.starts_with("rest_framework."))
                && (last.ends_with("View") || last.ends_with("ViewSet"))
        }) == Some(true)
    }

    fn derives(&self, q: &str, target: &dyn Fn(&str) -> bool) -> Option<bool> {
        let mut stack = vec![(q.to_string(), 0usize)];
        let mut unknown = false;
        let mut seen = HashSet::default();
        while let Some((q, depth)) = stack.pop() {
            if target(&q) {
                return Some(true);
            }
            if !seen.insert(q.clone()) || depth > 8 {
                continue;
            }
            match self.class(&q) {
                Some(c) => stack.extend(c.bases.iter().map(|b| (b.clone(), depth + 1))),
                None if q == "object" || q == "builtins.object" => {}
                None => unknown = true,
            }
        }
        if unknown { None } else { Some(false) }
    }

    /// Every function and method of a top-level class, with its module.
    pub fn defs(&self) -> impl Iterator<Item = (usize, &DefInfo)> {
        self.modules
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.facts.defs.iter().map(move |d| (i, d)))
    }

    /// Test code, or a settings module whose name contains `test`.
    pub fn is_test_module(&self, module: usize) -> bool {
        let m = &self.modules[module];
        m.is_test
            || m.facts
                .module
                .rsplit('.')
                .next()
                .is_some_and(|n| n.contains("test"))
    }
}

// ----- beat schedules, routes and worker queues (catalog M6–M8) ------------------------------

/// One entry of a literal `beat_schedule` (any spelling, any configuration source).
#[derive(Clone, Debug)]
pub struct BeatEntry {
    pub module: usize,
    /// The entry's name (its key in the schedule).
    pub key: String,
    /// Span of the key; whole-entry findings point here.
    pub key_span: Span,
    /// The entry, usually a dict with `task`, `schedule`, `args`, `kwargs`, `options`.
    pub value: Value,
    root: Span,
}

/// The beat scheduler class, from `beat_scheduler` and `-S/--scheduler` on beat command lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheduler {
    /// Celery's own `PersistentScheduler` (nothing configured).
    Default,
    /// django-celery-beat's `DatabaseScheduler`.
    Django,
    /// Another class (a project subclass, a third-party scheduler).
    Custom,
    /// Computed, or the sources disagree.
    Unknown,
}

/// How a `task_routes` key matches task names (Celery's `MapRoute`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RoutePattern {
    Exact(String),
    /// Contains `*`: Celery turns it into a regex where `*` is `.+?`, matched at the start.
    Glob(String),
    /// `re.compile(...)`, matched at the start (`re.match`).
    Regex(String),
}

impl RoutePattern {
    pub fn text(&self) -> &str {
        match self {
            RoutePattern::Exact(s) | RoutePattern::Glob(s) | RoutePattern::Regex(s) => s,
        }
    }

    /// Does the pattern match `name`? `None` when the regex uses syntax the model does not
    /// evaluate.
    pub fn matches(&self, name: &str) -> Option<bool> {
        match self {
            RoutePattern::Exact(s) => Some(s == name),
            RoutePattern::Glob(g) => {
                let atoms: Vec<(Atom, Quant)> = g
                    .chars()
                    .map(|c| {
                        if c == '*' {
                            (Atom::Any, Quant::OneOrMore)
                        } else {
                            (Atom::Char(c), Quant::One)
                        }
                    })
                    .collect();
                Some(match_atoms(
                    &atoms,
                    &name.chars().collect::<Vec<_>>(),
                    false,
                ))
            }
            RoutePattern::Regex(r) => {
                let (atoms, anchored_end) = parse_regex(r)?;
                Some(match_atoms(
                    &atoms,
                    &name.chars().collect::<Vec<_>>(),
                    anchored_end,
                ))
            }
        }
    }

    /// The literal first segment of the names this pattern can match (`reports` for
    /// `reports.tasks.*` or `^reports\.`), if the pattern spells it out.
    pub fn first_segment(&self) -> Option<String> {
        let literal: String = match self {
            RoutePattern::Exact(s) => return s.split('.').next().map(str::to_string),
            RoutePattern::Glob(g) => g.chars().take_while(|c| *c != '*').collect(),
            RoutePattern::Regex(r) => {
                let (atoms, _) = parse_regex(r)?;
                atoms
                    .iter()
                    .take_while(|(a, q)| matches!(a, Atom::Char(_)) && *q == Quant::One)
                    .map(|(a, _)| match a {
                        Atom::Char(c) => *c,
                        _ => ' ',
                    })
                    .collect()
            }
        };
        literal.split_once('.').map(|(first, _)| first.to_string())
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Atom {
    Char(char),
    Any,
    Class(Vec<(char, char)>, bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quant {
    One,
    ZeroOrOne,
    ZeroOrMore,
    OneOrMore,
}

/// A small subset of Python's regex syntax: literals, escapes, `.`, classes, `* + ?`
/// (greedy or lazy), `^` and `$`. Groups, alternation and counted repeats give `None`.
fn parse_regex(r: &str) -> Option<(Vec<(Atom, Quant)>, bool)> {
    let chars: Vec<char> = r.chars().collect();
    let mut i = 0;
    if chars.first() == Some(&'^') {
        i = 1;
    }
    let mut atoms = Vec::new();
    let mut anchored_end = false;
    while i < chars.len() {
        let c = chars[i];
        let atom = match c {
            '$' if i + 1 == chars.len() => {
                anchored_end = true;
                i += 1;
                continue;
            }
            '(' | ')' | '|' | '{' | '}' | '$' | '^' | '*' | '+' | '?' => return None,
            '.' => Atom::Any,
            '\\' => {
                i += 1;
                match chars.get(i)? {
                    'd' => Atom::Class(vec![('0', '9')], false),
                    'w' => Atom::Class(vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')], false),
                    e if e.is_ascii_alphanumeric() => return None,
                    e => Atom::Char(*e),
                }
            }
            '[' => {
                let mut j = i + 1;
                let negated = chars.get(j) == Some(&'^');
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                while j < chars.len() && (chars[j] != ']' || j == i + 1) {
                    let mut lo = chars[j];
                    if lo == '\\' {
                        j += 1;
                        lo = *chars.get(j)?;
                        if lo.is_ascii_alphanumeric() {
                            return None;
                        }
                    }
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|c| *c != ']')
                    {
                        ranges.push((lo, chars[j + 2]));
                        j += 3;
                    } else {
                        ranges.push((lo, lo));
                        j += 1;
                    }
                }
                if j >= chars.len() {
                    return None;
                }
                i = j;
                Atom::Class(ranges, negated)
            }
            c => Atom::Char(c),
        };
        i += 1;
        let quant = match chars.get(i) {
            Some('*') => Quant::ZeroOrMore,
            Some('+') => Quant::OneOrMore,
            Some('?') => Quant::ZeroOrOne,
            _ => Quant::One,
        };
        if quant != Quant::One {
            i += 1;
            if chars.get(i) == Some(&'?') {
                i += 1; // lazy: the same language for a yes/no match
            }
        }
        atoms.push((atom, quant));
    }
    Some((atoms, anchored_end))
}

fn atom_matches(atom: &Atom, c: char) -> bool {
    match atom {
        Atom::Char(x) => *x == c,
        Atom::Any => c != '\n',
        Atom::Class(ranges, negated) => {
            ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
    }
}

/// Match `atoms` at the start of `text` (the whole text when `to_end`).
fn match_atoms(atoms: &[(Atom, Quant)], text: &[char], to_end: bool) -> bool {
    let Some(((atom, quant), rest)) = atoms.split_first() else {
        return !to_end || text.is_empty();
    };
    let (min, max) = match quant {
        Quant::One => (1, 1),
        Quant::ZeroOrOne => (0, 1),
        Quant::ZeroOrMore => (0, usize::MAX),
        Quant::OneOrMore => (1, usize::MAX),
    };
    let mut n = 0;
    while n < max && n < text.len() && atom_matches(atom, text[n]) {
        n += 1;
    }
    if n < min {
        return false;
    }
    (min..=n)
        .rev()
        .any(|k| match_atoms(rest, &text[k..], to_end))
}

/// A `task_routes` entry with a literal key.
#[derive(Clone, Debug)]
pub struct RouteEntry {
    pub module: usize,
    pub pattern: RoutePattern,
    /// The literal queue; `None` for routes by exchange/routing key only.
    pub queue: Option<String>,
    pub key_span: Span,
    pub queue_span: Span,
}

/// Names of the options of a default-scheduler beat entry (`ScheduleEntry(**entry)`).
pub const BEAT_ENTRY_KEYS: &[&str] = &["task", "schedule", "args", "kwargs", "options", "relative"];

/// Fields of django-celery-beat's `PeriodicTask` model that a settings entry may also set.
pub const DJANGO_BEAT_ENTRY_KEYS: &[&str] = &[
    "name",
    "queue",
    "exchange",
    "routing_key",
    "headers",
    "priority",
    "expires",
    "expire_seconds",
    "one_off",
    "start_time",
    "enabled",
    "description",
];

impl Project {
    /// The recorded span of the literal item at `path` below the value at `root`.
    pub fn literal_span(&self, module: usize, root: Span, path: &[&str]) -> Option<&LiteralSpan> {
        let index = self.literal_index.get_or_init(|| {
            self.modules
                .iter()
                .map(|m| {
                    let mut by_path = LiteralIndex::default();
                    for (i, l) in m.facts.literal_spans.iter().enumerate() {
                        by_path.entry((l.root, l.path.clone())).or_insert(i);
                    }
                    by_path
                })
                .collect()
        });
        let key = (root, path.iter().map(|p| (*p).to_string()).collect());
        let i = *index.get(module)?.get(&key)?;
        self.modules[module].facts.literal_spans.get(i)
    }

    /// Follow a configuration value through module constants to the literal it names:
    /// `(module, span of the literal, literal)`.
    pub fn literal_root(&self, module: usize, value: &Value, span: Span) -> (usize, Span, Value) {
        let mut current = (module, span, value.clone());
        for _ in 0..4 {
            let Value::Ref(q) = &current.2 else { break };
            let resolved = self.resolve_symbol(q);
            let Some((m, name)) = resolved.rsplit_once('.') else {
                return (current.0, current.1, Value::Unknown);
            };
            let Some(mi) = self.module(m) else {
                return (current.0, current.1, Value::Unknown);
            };
            let assigns: Vec<&Assign> = self.modules[mi]
                .facts
                .assigns
                .iter()
                .filter(|a| a.name == name)
                .collect();
            if assigns.len() != 1 {
                return (current.0, current.1, Value::Unknown);
            }
            current = (mi, assigns[0].value_span, assigns[0].value.clone());
        }
        current
    }

    /// Entries of literal `beat_schedule` dicts outside test code. Schedules that are not
    /// literal dicts are skipped (their entries are unknown).
    pub fn beat_entries(&self) -> Vec<BeatEntry> {
        let mut out = Vec::new();
        for e in self.setting("beat_schedule") {
            let (module, root, value) = self.literal_root(e.module, &e.value, e.value_span);
            let Value::Dict(items) = value else { continue };
            for (k, v) in items {
                let Value::Str(key) = k else { continue };
                let key_span = self
                    .literal_span(module, root, &[key.as_str()])
                    .map_or(e.span, |l| l.key_span);
                out.push(BeatEntry {
                    module,
                    key,
                    key_span,
                    value: v,
                    root,
                });
            }
        }
        // One literal reached from two settings (`beat_schedule = BEAT` in two layers).
        let mut seen = HashSet::default();
        out.retain(|e| seen.insert((e.module, e.root, e.key.clone())));
        out
    }

    /// Span of an item inside a beat entry (`["options", "queue"]`), key and value.
    pub fn beat_entry_span(&self, entry: &BeatEntry, path: &[&str]) -> Option<(Span, Span)> {
        let mut full = vec![entry.key.as_str()];
        full.extend_from_slice(path);
        self.literal_span(entry.module, entry.root, &full)
            .map(|l| (l.key_span, l.value_span))
    }

    /// `add_periodic_task(...)` calls outside test code, with their module.
    pub fn periodic_tasks(&self) -> impl Iterator<Item = (usize, &PeriodicTask)> {
        self.modules
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.is_test)
            .flat_map(|(i, m)| m.facts.periodic_tasks.iter().map(move |p| (i, p)))
    }

    /// The beat scheduler class.
    pub fn beat_scheduler(&self) -> Scheduler {
        let mut found: Vec<Scheduler> = Vec::new();
        for e in self.setting("beat_scheduler") {
            found.push(match self.resolve_value(&e.value) {
                Value::Str(s) => classify_scheduler(&s),
                Value::Ref(q) => classify_scheduler(&q),
                _ => Scheduler::Unknown,
            });
        }
        for w in &self.worker_commands {
            if let Some(s) = &w.scheduler {
                found.push(if s.contains('$') || s.contains("{{") {
                    Scheduler::Unknown
                } else {
                    classify_scheduler(s)
                });
            }
        }
        found.dedup();
        match found.as_slice() {
            [] => Scheduler::Default,
            [one] => *one,
            _ => Scheduler::Unknown,
        }
    }

    /// `task_routes` entries with literal keys, in order; `None` when routing is computed
    /// (router functions, dotted router paths, non-literal maps).
    pub fn route_entries(&self) -> Option<Vec<RouteEntry>> {
        let mut out = Vec::new();
        for e in self.setting("task_routes") {
            let (module, root, value) = self.literal_root(e.module, &e.value, e.value_span);
            let maps: Vec<(Option<String>, Value)> = match value {
                Value::Dict(_) => vec![(None, value)],
                Value::List(v) | Value::Tuple(v) => v
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| (Some(format!("#{i}")), m))
                    .collect(),
                Value::None => continue,
                _ => return None,
            };
            for (prefix, map) in maps {
                let Value::Dict(items) = map else { return None };
                for (k, v) in items {
                    let component = literal_path_key(&k)?;
                    let pattern = match component.strip_prefix("re:") {
                        Some(r) if matches!(k, Value::Call { .. }) => RoutePattern::Regex(r.into()),
                        _ if component.contains('*') => RoutePattern::Glob(component.clone()),
                        _ => RoutePattern::Exact(component.clone()),
                    };
                    let (queue, queue_path): (Option<String>, Vec<&str>) = match &v {
                        Value::Str(q) => (Some(q.clone()), vec![]),
                        Value::Dict(_) => match v.dict_get("queue") {
                            Some(Value::Str(q)) => (Some(q.clone()), vec!["queue"]),
                            None => (None, vec![]),
                            Some(_) => return None,
                        },
                        _ => return None,
                    };
                    let mut path: Vec<&str> = prefix.iter().map(String::as_str).collect();
                    path.push(component.as_str());
                    let key = self.literal_span(module, root, &path);
                    let key_span = key.map_or(e.span, |l| l.key_span);
                    path.extend(queue_path);
                    let queue_span = self
                        .literal_span(module, root, &path)
                        .map_or(key_span, |l| l.value_span);
                    out.push(RouteEntry {
                        module,
                        pattern,
                        queue,
                        key_span,
                        queue_span,
                    });
                }
            }
        }
        let mut seen = HashSet::default();
        out.retain(|r| seen.insert((r.module, r.key_span, r.pattern.clone())));
        Some(out)
    }

    /// `first` is the top-level package or module of some project module.
    pub fn is_project_package(&self, first: &str) -> bool {
        self.modules.iter().any(|m| {
            let name = &m.facts.module;
            name == first || name.strip_prefix(first).is_some_and(|r| r.starts_with('.'))
        })
    }

    /// Every registered name is known: no app overrides `gen_task_name` and no `name=` is
    /// computed.
    pub fn task_names_known(&self) -> bool {
        !self.custom_task_names && self.tasks.iter().all(|t| t.name.is_some())
    }

    /// The queues consumed by the workers started in deployment files: `-Q` lists, or for a
    /// worker without `-Q` the declared `task_queues` (else the default queue). `None` when no
    /// worker command line was found or one of them is not resolved.
    pub fn consumed_queues(&self) -> Option<Vec<String>> {
        let workers: Vec<&WorkerCommand> = self
            .worker_commands
            .iter()
            .filter(|w| w.is_worker)
            .collect();
        if workers.is_empty() || workers.iter().any(|w| w.queues_dynamic) {
            return None;
        }
        let mut out: Vec<String> = Vec::new();
        for w in workers {
            match &w.queues {
                Some(q) => out.extend(q.iter().filter(|q| !q.is_empty()).cloned()),
                None if self.is_set("task_queues") => out.extend(self.task_queues()?),
                None => out.push(self.default_queue()?),
            }
        }
        out.sort();
        out.dedup();
        Some(out)
    }
}

fn classify_scheduler(s: &str) -> Scheduler {
    let s = s.trim();
    if s == "django" || s.contains("django_celery_beat") {
        Scheduler::Django
    } else if matches!(
        s,
        "celery.beat:PersistentScheduler"
            | "celery.beat.PersistentScheduler"
            | "celery.beat:Scheduler"
            | "celery.beat.Scheduler"
    ) {
        Scheduler::Default
    } else {
        Scheduler::Custom
    }
}

#[cfg(test)]
mod route_pattern_tests {
    use super::RoutePattern;

    #[test]
    fn celery_route_pattern_semantics() {
        let glob = RoutePattern::Glob("reports.tasks.*".into());
        assert_eq!(glob.matches("reports.tasks.daily"), Some(true));
        assert_eq!(glob.matches("reports.tasks."), Some(false));
        assert_eq!(glob.matches("reports.views.daily"), Some(false));
        assert_eq!(glob.first_segment().as_deref(), Some("reports"));
        let re = RoutePattern::Regex(r"^media\.tasks\.(transcode|thumb)".into());
        assert_eq!(re.matches("media.tasks.transcode"), None);
        let re = RoutePattern::Regex(r"media\.tasks\.[a-z_]+$".into());
        assert_eq!(re.matches("media.tasks.transcode"), Some(true));
        assert_eq!(re.matches("media.tasks.Transcode"), Some(false));
        assert_eq!(re.first_segment().as_deref(), Some("media"));
        // re.match: anchored at the start only.
        assert_eq!(
            RoutePattern::Regex(r"search\.".into()).matches("search.tasks.x"),
            Some(true)
        );
        assert_eq!(
            RoutePattern::Regex(r"tasks".into()).matches("search.tasks"),
            Some(false)
        );
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
        self.registers_serializer
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
