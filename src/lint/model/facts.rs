//! Facts extracted from one Python module. Owned data: the syntax tree is dropped after
//! extraction, so a whole project fits in memory and rules never walk the tree.

use crate::finding::Span;

/// Target of a dispatch that applies a canvas (`chain(...).delay()`) rather than one task.
pub const CANVAS_TARGET: &str = "<canvas>";

/// A statically evaluated Python expression, as far as the model can tell.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Set(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// `timedelta(...)`, already in seconds.
    Seconds(f64),
    /// A reference to a name, qualified through imports (`proj.settings.BASE_LIMIT`).
    Ref(String),
    /// A call the model knows nothing about; `func` is qualified where possible.
    Call {
        func: String,
        kwargs: Vec<(String, Value)>,
        args: Vec<Value>,
    },
    /// Read from the environment: set, value unknown; `default` is the literal default.
    Env {
        default: Option<Box<Value>>,
    },
    /// Anything else (computed at runtime). "Set, value unknown".
    Unknown,
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A number of seconds, if this value is one.
    pub fn as_seconds(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Seconds(s) => Some(*s),
            _ => None,
        }
    }

    /// Literal truthiness; `None` when unknown.
    pub fn truthy(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::None => Some(false),
            Value::Int(i) => Some(*i != 0),
            Value::Float(f) => Some(*f != 0.0),
            Value::Str(s) => Some(!s.is_empty()),
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => Some(!v.is_empty()),
            Value::Dict(v) => Some(!v.is_empty()),
            Value::Seconds(s) => Some(*s != 0.0),
            _ => None,
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// Elements of a literal list, tuple or set.
    pub fn elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }

    pub fn dict_get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(items) => items
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Short Python-like rendering for messages.
    pub fn display(&self) -> String {
        match self {
            Value::Str(s) => format!("{s:?}"),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => {
                if *b {
                    "True".into()
                } else {
                    "False".into()
                }
            }
            Value::None => "None".into(),
            Value::Seconds(s) => format!("{s} s"),
            Value::Ref(r) => r.rsplit('.').next().unwrap_or(r).to_string(),
            Value::List(v) => format!(
                "[{}]",
                v.iter().map(Value::display).collect::<Vec<_>>().join(", ")
            ),
            Value::Tuple(v) => format!(
                "({})",
                v.iter().map(Value::display).collect::<Vec<_>>().join(", ")
            ),
            _ => "…".into(),
        }
    }
}

/// `import x as y` / `from x import y as z`: a local name bound to a qualified name.
#[derive(Clone, Debug)]
pub struct Import {
    pub local: String,
    pub qualified: String,
}

/// A module-level (or class-level) `NAME = value`.
#[derive(Clone, Debug)]
pub struct Assign {
    pub name: String,
    pub value: Value,
    /// Span of the target name (where settings findings point).
    pub span: Span,
    /// Span of the value expression.
    pub value_span: Span,
    /// Inside an `if`/`try` at module level.
    pub conditional: bool,
    /// Inside `if DEBUG:` (development-only).
    pub under_debug: bool,
}

#[derive(Clone, Debug)]
pub struct ClassFacts {
    pub name: String,
    pub qualname: String,
    /// Base classes, qualified.
    pub bases: Vec<String>,
    pub attrs: Vec<Assign>,
    pub methods: Vec<String>,
    /// `async def` methods: (name, span of the name).
    pub async_methods: Vec<(String, Span)>,
    pub span: Span,
    /// Number of base class expressions as written (some may not be names: `dict[str, int]`).
    pub base_exprs: usize,
}

/// `app = Celery("proj", broker=..., backend=...)`.
#[derive(Clone, Debug)]
pub struct AppFacts {
    /// Qualified name of the variable (`proj.celery.app`).
    pub var: String,
    pub kwargs: Vec<(String, Value, Span)>,
    pub span: Span,
}

/// Where a configuration write happens and which app it targets.
#[derive(Clone, Debug)]
pub struct ConfWrite {
    /// Qualified name of the app variable.
    pub app: String,
    pub key: String,
    pub value: Value,
    pub span: Span,
    pub value_span: Span,
}

/// `app.config_from_object(obj, namespace=...)`.
#[derive(Clone, Debug)]
pub struct ConfigFromObject {
    pub app: String,
    pub target: Value,
    pub namespace: Option<String>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskDecoratorKind {
    /// `@shared_task`, binds to every app.
    Shared,
    /// `@app.task` / `@celery.task`: `receiver` names the app.
    App,
    /// `celery.task.task` / `celery.decorators.task` (removed in Celery 5).
    Legacy,
    /// A `Task` subclass with a `run` method; a task only once `app.register_task(Cls())`.
    Class,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub has_default: bool,
    pub kind: ParamKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    PositionalOnly,
    PositionalOrKeyword,
    KeywordOnly,
}

#[derive(Clone, Debug, Default)]
pub struct Signature {
    pub params: Vec<Param>,
    pub varargs: bool,
    pub varkw: bool,
}

/// An HTTP call inside a function body, with what the extractor saw of its timeout.
#[derive(Clone, Debug)]
pub struct HttpCall {
    pub callee: String,
    pub span: Span,
}

/// `.get()`/`.wait()`/`.join()` on something that may be a task result.
#[derive(Clone, Debug)]
pub struct ResultWait {
    pub method: String,
    pub span: Span,
    /// What produced the awaited value.
    pub producer: Producer,
    /// `disable_sync_subtasks=False` passed or inside `allow_join_result()`.
    pub guard_disabled: bool,
    /// A `timeout=` keyword is passed.
    pub timeout: bool,
    /// The awaited name's `.ready()` was called earlier in the function: `if not r.ready():
    /// return ...` or `r.get() if ready else ...` does not block (CD003).
    pub ready_checked: bool,
}

#[derive(Clone, Debug)]
pub enum Producer {
    /// A dispatch of this (qualified) callee: `x.delay(...)`, `x.apply_async(...)`.
    Dispatch(String),
    /// `AsyncResult(...)`, `GroupResult(...)`, `app.AsyncResult(...)`.
    AsyncResult,
    /// Applying a canvas: `group(...)()`, `chord(...)(...)`, `.apply_async()` on a canvas.
    Canvas,
}

#[derive(Clone, Debug)]
pub struct RetryCall {
    pub text: String,
    pub span: Span,
    /// The broad handler that swallows `Retry`, e.g. `Exception`.
    pub swallowed_by: Option<String>,
    /// The `countdown=` keyword, evaluated.
    pub countdown: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct SideEffect {
    pub desc: String,
    pub span: Span,
    /// An idempotency guard appears before this side effect in the body.
    pub guarded: bool,
}

#[derive(Clone, Debug)]
pub struct MutableDefault {
    pub param: String,
    pub span: Span,
}

/// Facts about a function body that task rules need. Nested `def`s and lambdas are not part
/// of the body (they may never run).
#[derive(Clone, Debug, Default)]
pub struct BodyFacts {
    pub http_calls: Vec<HttpCall>,
    pub waits: Vec<ResultWait>,
    pub retry_calls: Vec<RetryCall>,
    /// `self.<attr>` references (attr names), for bind checks.
    pub self_attrs: Vec<(String, Span)>,
    pub side_effects: Vec<SideEffect>,
    /// Qualified names of functions called directly (one-hop helper analysis).
    pub calls: Vec<(String, Span)>,
    pub has_yield: bool,
    pub calls_update_state: bool,
    /// Uses that need a Flask application context: (qualified name, span) (CD002).
    pub context_refs: Vec<(String, Span)>,
    /// Calls entering an application context (`with app.app_context():`).
    pub context_pushes: Vec<Span>,
    /// Broad handlers in loops that swallow `SoftTimeLimitExceeded` (CD205).
    pub loop_swallows: Vec<LoopSwallow>,
    /// `self.retry_backoff` / `self.retry_backoff_max` / `self.retry_jitter` read in the body.
    pub reads_retry_options: bool,
}

/// A module-level function that is not a task (helpers, views…).
#[derive(Clone, Debug)]
pub struct FunctionFacts {
    pub qualname: String,
    pub body: BodyFacts,
    /// The last statement returns the first parameter unchanged (a registering decorator).
    pub returns_param: bool,
    /// Returns an inner function not decorated with `functools.wraps`: its name.
    pub wrapper_name: Option<String>,
    /// The body's last statement is a `raise`: every call that returns at all raises.
    pub always_raises: bool,
}

#[derive(Clone, Debug)]
pub struct TaskDef {
    pub func_name: String,
    /// `module.func` — how other modules refer to it.
    pub qualname: String,
    pub kind: TaskDecoratorKind,
    /// Qualified app variable for `@app.task`.
    pub receiver: Option<String>,
    /// The task decorator's text, e.g. `app.task` or `shared_task`.
    pub decorator_text: String,
    pub decorator_span: Span,
    /// Index of the task decorator in the decorator list (0 = outermost).
    pub decorator_index: usize,
    /// Text of each decorator, outermost first.
    pub decorators: Vec<String>,
    /// Qualified name of each decorator (without its call), outermost first.
    pub decorator_targets: Vec<Option<String>>,
    /// Keyword options of the decorator call.
    pub options: Vec<(String, Value, Span)>,
    pub signature: Signature,
    pub is_async: bool,
    /// Span of the function name (task-level findings point here).
    pub def_span: Span,
    /// Byte offset of the first decorator line, for `# noqa` on the decorator line.
    pub decorator_line_offset: u32,
    pub body: BodyFacts,
    pub mutable_defaults: Vec<MutableDefault>,
    /// Defined at module level (not inside a function or class).
    pub top_level: bool,
    /// Identifier of the exclusive branch (`if`/`else`, `try`/`except`) the definition sits in.
    pub branch: Option<(u32, u32)>,
    /// `return` expressions of the body whose coarse type is known (CD304).
    pub returns: Vec<TypedExpr>,
}

/// Release the slack of a list when it is worth a reallocation (1 KiB or more): a project holds
/// thousands of these lists, most of them a few items long.
fn shrink<T>(v: &mut Vec<T>) {
    if (v.capacity() - v.len()) * std::mem::size_of::<T>() >= 1024 {
        v.shrink_to_fit();
    }
}

impl ModuleFacts {
    /// Release the slack of every growable list: a project holds thousands of these.
    pub fn shrink_to_fit(&mut self) {
        shrink(&mut self.imports);
        shrink(&mut self.assigns);
        shrink(&mut self.classes);
        shrink(&mut self.tasks);
        for t in &mut self.tasks {
            t.body.shrink_to_fit();
        }
        shrink(&mut self.functions);
        for f in &mut self.functions {
            f.body.shrink_to_fit();
        }
        shrink(&mut self.calls);
        shrink(&mut self.canvases);
        shrink(&mut self.crontabs);
        shrink(&mut self.urls);
        shrink(&mut self.noqa);
        shrink(&mut self.settings_reads);
        shrink(&mut self.name_refs);
        shrink(&mut self.receiver_spans);
        shrink(&mut self.conf_writes);
    }
}

impl BodyFacts {
    pub fn shrink_to_fit(&mut self) {
        shrink(&mut self.http_calls);
        shrink(&mut self.waits);
        shrink(&mut self.retry_calls);
        shrink(&mut self.self_attrs);
        shrink(&mut self.side_effects);
        shrink(&mut self.calls);
    }
}

impl TaskDef {
    pub fn option(&self, name: &str) -> Option<&Value> {
        self.options
            .iter()
            .find(|(k, _, _)| k == name)
            .map(|(_, v, _)| v)
    }

    pub fn option_span(&self, name: &str) -> Option<Span> {
        self.options
            .iter()
            .find(|(k, _, _)| k == name)
            .map(|(_, _, s)| *s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DispatchKind {
    Delay,
    ApplyAsync,
    DelayOnCommit,
    ApplyAsyncOnCommit,
    S,
    Si,
    Signature,
    /// `send_task("name", ...)`.
    SendTask,
    /// `signature("name", ...)`.
    SignatureByName,
}

impl DispatchKind {
    pub fn method(self) -> &'static str {
        match self {
            DispatchKind::Delay => "delay",
            DispatchKind::ApplyAsync => "apply_async",
            DispatchKind::DelayOnCommit => "delay_on_commit",
            DispatchKind::ApplyAsyncOnCommit => "apply_async_on_commit",
            DispatchKind::S => "s",
            DispatchKind::Si => "si",
            DispatchKind::Signature => "signature",
            DispatchKind::SendTask => "send_task",
            DispatchKind::SignatureByName => "signature",
        }
    }

    /// Publishes now with execution options written at the call (`countdown=`, `queue=`…).
    pub fn publishes_with_options(self) -> bool {
        matches!(
            self,
            DispatchKind::ApplyAsync | DispatchKind::ApplyAsyncOnCommit | DispatchKind::SendTask
        )
    }

    /// Publishes a message right now (as opposed to building a signature).
    pub fn publishes(self) -> bool {
        matches!(
            self,
            DispatchKind::Delay | DispatchKind::ApplyAsync | DispatchKind::SendTask
        )
    }
}

/// What the caller does with the returned `AsyncResult`.
#[derive(Clone, Debug, PartialEq)]
pub enum ResultUse {
    /// Expression statement: the result is dropped.
    Discarded,
    /// Stored, returned, passed on, or otherwise used.
    Used,
}

/// Positional arguments of a dispatch as far as they are known.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgCount {
    Known(usize),
    Unknown,
}

#[derive(Clone, Debug)]
pub struct CallSite {
    pub kind: DispatchKind,
    /// Qualified receiver (`shop.tasks.send_welcome`) or, for by-name dispatch, the literal name.
    pub target: String,
    pub span: Span,
    pub text: String,
    /// Positional task arguments (`delay(a, b)`, `apply_async((a, b))`).
    pub args: ArgCount,
    /// Keyword task arguments: names and spans; `None` when unknown (`**kw`, non-literal).
    pub kwargs: Option<Vec<(String, Span)>>,
    /// Keywords of the call itself (execution options for `apply_async`).
    pub call_keywords: Vec<(String, Value, Span)>,
    pub result_use: ResultUse,
    /// Reads of the result in the same function: (`.ready()`, span).
    pub result_reads: Vec<(String, Span)>,
    pub in_task: Option<String>,
    /// Text of the enclosing `transaction.atomic` (with-block or decorator), if the call runs inside it.
    pub atomic: Option<String>,
    pub in_function: bool,
    /// Passed to `add_periodic_task(...)`: run by beat, nobody reads the result.
    pub periodic: bool,
    /// Inside a `transaction.on_commit(...)` callback: runs after the commit.
    pub deferred: bool,
    /// `eta=now() + timedelta(...)`: the delay in seconds (CD102).
    pub eta_delay: Option<f64>,
    /// Arguments traced to ORM objects (model instances, querysets, `request.user`).
    pub orm_args: Vec<OrmArg>,
    /// Qualified name of the function or method the call is directly in (not a nested
    /// `def` or `lambda`).
    pub enclosing_def: Option<String>,
    /// Task arguments (positional and keyword) whose coarse type is known (CD503, CD804).
    pub arg_kinds: Vec<TypedExpr>,
    /// The project task this site dispatches, resolved on first use by
    /// `Project::task_for_call` (most rules ask for every site).
    pub task: std::sync::OnceLock<Option<usize>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanvasKind {
    Chain,
    Group,
    Chord,
}

/// One signature in a canvas: `task.s(...)` (receives the parent's result) or `task.si(...)`.
#[derive(Clone, Debug)]
pub struct CanvasMember {
    /// Qualified receiver of `.s()`/`.si()`.
    pub target: String,
    pub immutable: bool,
    pub args: ArgCount,
    pub span: Span,
    /// What the canvas prepends to this signature's arguments (if it is mutable).
    pub receives: Feed,
    /// How its result is passed on: `Nothing` (it is not), `ParentResult` (in the next
    /// message of a chain), `HeaderResults` (collected by the result backend for a chord body).
    pub feeds: Feed,
    /// Options given with `.set(...)` on the signature (`task.s(x).set(ignore_result=False)`)
    /// or to `task.signature(args, kwargs, options, **options)`; `("**", Unknown)` when some
    /// cannot be read.
    pub set_options: Vec<(String, Value)>,
}

/// A canvas construction (catalog M5): `chain`, `group`, `chord`, or `a.s() | b.s()`.
#[derive(Clone, Debug)]
pub struct CanvasFacts {
    pub kind: CanvasKind,
    /// Chain links in order, group members, or a chord's header.
    pub members: Vec<CanvasMember>,
    /// A chord's body (callback).
    pub body: Vec<CanvasMember>,
    /// Every member was understood (no computed signatures).
    pub complete: bool,
    pub span: Span,
    pub in_task: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CrontabCall {
    pub span: Span,
    pub text: String,
    pub keywords: Vec<String>,
    pub positional: usize,
}

/// A string literal that looks like a URL with credentials, and the key it is assigned to.
#[derive(Clone, Debug)]
pub struct UrlLiteral {
    pub value: String,
    pub span: Span,
    pub context: String,
}

#[derive(Clone, Debug)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

/// `# noqa` / `# noqa: CD101, CD2` on a line.
#[derive(Clone, Debug)]
pub struct Noqa {
    /// Zero-based line of the comment, computed when the file is modelled.
    pub line: usize,
    /// Empty = all codes.
    pub codes: Vec<String>,
}

/// Everything extracted from one module.
#[derive(Clone, Debug, Default)]
pub struct ModuleFacts {
    pub module: String,
    pub is_package: bool,
    pub imports: Vec<Import>,
    /// Absolute module names of `from x import *`.
    pub star_imports: Vec<String>,
    pub assigns: Vec<Assign>,
    pub classes: Vec<ClassFacts>,
    pub apps: Vec<AppFacts>,
    pub conf_writes: Vec<ConfWrite>,
    pub config_from_object: Vec<ConfigFromObject>,
    /// `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...")` values.
    pub django_settings_module: Vec<String>,
    /// Tasks registered with `app.register_task(Cls())`: class names (qualified).
    pub registered_classes: Vec<String>,
    pub tasks: Vec<TaskDef>,
    pub functions: Vec<FunctionFacts>,
    pub calls: Vec<CallSite>,
    pub canvases: Vec<CanvasFacts>,
    pub crontabs: Vec<CrontabCall>,
    pub urls: Vec<UrlLiteral>,
    pub syntax_errors: Vec<SyntaxError>,
    pub noqa: Vec<Noqa>,
    /// Names read as `settings.X` / `getattr(settings, "X")` anywhere in the module.
    pub settings_reads: Vec<String>,
    /// `app.conf.X` / `app.conf["X"]` reads? not tracked; `gen_task_name` override seen.
    pub overrides_gen_task_name: bool,
    /// Qualified names read anywhere (`Name` loads), with their spans.
    pub name_refs: Vec<(String, Span)>,
    /// Spans of the base names of dispatch receivers (`send` in `send.delay()`).
    pub receiver_spans: Vec<Span>,
    /// `socket.setdefaulttimeout(...)` is called.
    pub sets_default_socket_timeout: bool,
    /// `app.setup_security(allowed_serializers=...)` values.
    pub security_serializers: Vec<(Value, Span)>,
    /// Deployment command lines (Procfile, compose, systemd, shell) found in non-Python files.
    pub worker_commands: Vec<WorkerCommand>,
    /// Request-handler candidates that wait on results (CD003).
    pub handlers: Vec<HandlerFacts>,
    /// `app_context()` / `test_request_context()` calls (CD002).
    pub context_calls: Vec<ContextCall>,
    /// Every module named by an import statement (full dotted names, also `from x import y`
    /// as `x` and `x.y`) and literal `importlib.import_module(...)` (CD004).
    pub imported_modules: Vec<String>,
    /// A dynamic import (`importlib.import_module(expr)`, `__import__`, `pkgutil`, Django's
    /// `import_string(expr)` and `autodiscover_modules(...)`) (CD004).
    pub dynamic_import: Option<Span>,
    /// `autodiscover_tasks(...)` calls (CD004).
    pub autodiscover: Vec<Autodiscover>,
    /// Module-level names changed with an augmented assignment (`INSTALLED_APPS += [...]`).
    pub aug_assigned: Vec<String>,
    /// Names of serializers registered with kombu (`kombu.serialization.register("x", ...)`).
    pub registered_serializers: Vec<String>,
    /// `app.setup_security(...)` is called (it rewrites the serializer settings at runtime).
    pub calls_setup_security: bool,
    /// Functions and methods of top-level classes.
    pub defs: Vec<DefInfo>,
    /// Top-level classes' decorators: (qualified class, decorator texts).
    pub class_decorators: Vec<(String, Vec<String>)>,
    /// `NAME[...][...] = value` at module level.
    pub subscript_assigns: Vec<SubscriptAssign>,
    /// Every call with a nameable callee, for custom rules (only when recording calls).
    pub any_calls: Vec<AnyCall>,
    /// Spans inside literal beat schedules and routing tables.
    pub literal_spans: Vec<LiteralSpan>,
    /// `add_periodic_task(...)` calls.
    pub periodic_tasks: Vec<PeriodicTask>,
    /// A kombu serializer or JSON type is registered here (`kombu.serialization.register`,
    /// `kombu.utils.json.register_type`): custom encoding is in play (CD304, CD804).
    pub registers_serializer: bool,
    /// Configuration the model cannot read is applied here: `app.conf.update(variable)`,
    /// `config_from_envvar(...)`, `conf.setdefault(...)`/`add_defaults(...)` (CD501).
    pub opaque_config: bool,
    /// Containers changed in place anywhere in the module, by the name they go by: `X` for
    /// `X[k] = v`, `X[k] += v` and `X.update(...)` (also `pop`, `setdefault`, `clear`), the
    /// attribute for `app.conf.X[k] = v` / `settings.X.update(...)`, and the key for
    /// `app.conf["X"][k] = v`. A setting whose dict is changed after assignment has a value
    /// the model does not know (CD102).
    pub mutated: Vec<String>,
}

/// A `celery worker`/`celery beat` command line from a deployment file (catalog M8).
#[derive(Clone, Debug, Default)]
pub struct WorkerCommand {
    pub is_worker: bool,
    pub runs_beat: bool,
    pub time_limit: Option<f64>,
    pub soft_time_limit: Option<f64>,
    pub queues: Option<Vec<String>>,
    /// A flag value came from a variable (`$QUEUES`): facts are unknown.
    pub dynamic: bool,
    /// `-I/--include` modules.
    pub includes: Vec<String>,
    /// The file sets `CELERY_BROKER_URL` (or the read/write variants) for the process.
    pub broker_env: bool,
    /// `-S/--scheduler` of a beat command line.
    pub scheduler: Option<String>,
    /// The `-Q` list came from a variable or a template: the queues this worker consumes are
    /// unknown.
    pub queues_dynamic: bool,
    /// The `-A/--app` target as written (`proj`, `proj.celery:app`, `$APP`); `None` when the
    /// command line names no app (it then comes from `CELERY_APP`).
    pub app: Option<String>,
}

/// A broad `except` inside a loop of a function body that neither re-raises, returns nor
/// breaks, with no earlier `except SoftTimeLimitExceeded` (CD205).
#[derive(Clone, Debug)]
pub struct LoopSwallow {
    /// `Exception`, `BaseException`, or empty for a bare `except:`.
    pub caught: String,
    /// The `except ...` clause header.
    pub span: Span,
    /// Qualified callees of the handler's call statements (`fail(pk, exc)`): a project
    /// function that always raises ends the loop.
    pub handler_calls: Vec<String>,
}

/// A module-level function or a method of a top-level class that waits on a result (CD003).
#[derive(Clone, Debug)]
pub struct HandlerFacts {
    /// `module.func` or `module.Class.method`.
    pub qualname: String,
    /// Qualified name of the enclosing top-level class, for methods.
    pub class: Option<String>,
    pub name: String,
    pub is_async: bool,
    /// Qualified name of each decorator (without its call), outermost first.
    pub decorator_targets: Vec<Option<String>>,
    pub first_param: Option<String>,
    pub waits: Vec<ResultWait>,
    pub def_span: Span,
}

/// A call of `*.app_context()` / `*.test_request_context()` (CD002).
#[derive(Clone, Debug)]
pub struct ContextCall {
    pub span: Span,
    /// Inside a method named `__call__` (a task class entering the context).
    pub in_dunder_call: bool,
    /// `.app_context().push()`.
    pub pushed: bool,
}

/// `app.autodiscover_tasks(packages, related_name)` (CD004).
#[derive(Clone, Debug)]
pub struct Autodiscover {
    pub app: Option<String>,
    /// The packages argument; `None` when not given.
    pub packages: Option<Value>,
    /// The packages argument mentions `INSTALLED_APPS` (`lambda: settings.INSTALLED_APPS`).
    pub installed_apps: bool,
    pub related_name: Option<Value>,
    pub span: Span,
}

/// What makes a dispatch argument an ORM object (catalog CD601, M4 argument types).
#[derive(Clone, Debug, PartialEq)]
pub enum OrmKind {
    /// A Django model instance (`Model.objects.get(...)`, `get_object_or_404`, a `post_save`
    /// receiver's `instance`, `form.save()`, ...).
    Instance,
    /// A Django `QuerySet` (`Model.objects.filter(...)`).
    QuerySet,
    /// `request.user`.
    RequestUser,
    /// `Cls(...)`: an instance when the project model says `Cls` derives `models.Model`.
    Constructed(String),
    /// `self` in a method of this (qualified) class: an instance when it is a Django model.
    SelfOf(String),
    /// An SQLAlchemy mapped instance (`session.get(Model, pk)`, `query(...).first()`).
    SqlAlchemy,
}

/// A dispatch argument that the extractor traced to an ORM object.
#[derive(Clone, Debug)]
pub struct OrmArg {
    pub kind: OrmKind,
    /// The argument as written (`order`, `request.user`).
    pub text: String,
    /// Where the value comes from, for the message (`Order.objects.get(...)`).
    pub origin: String,
    pub span: Span,
}

/// A function or a method of a top-level class (catalog M9 views, CD603).
#[derive(Clone, Debug)]
pub struct DefInfo {
    /// `module.func` or `module.Class.method`.
    pub qualname: String,
    /// Qualified class for methods.
    pub class: Option<String>,
    pub is_async: bool,
    /// Text of each decorator.
    pub decorators: Vec<String>,
    /// Qualified name of each decorator (without its call).
    pub decorator_targets: Vec<Option<String>>,
    /// Qualified names of module-level or imported functions called directly (one hop):
    /// read them with [`ModuleFacts::def_calls`].
    pub calls: DefCalls,
    pub span: Span,
}

/// Where a def's calls are recorded: in the body facts of the task or module-level function it
/// also is (shared, not copied: most defs are one of those), or its own list.
#[derive(Clone, Debug)]
pub enum DefCalls {
    Own(Vec<(String, Span)>),
    /// Index into `ModuleFacts::tasks`.
    Task(usize),
    /// Index into `ModuleFacts::functions`.
    Function(usize),
}

impl ModuleFacts {
    /// The calls of a def of this module.
    pub fn def_calls<'a>(&'a self, def: &'a DefInfo) -> &'a [(String, Span)] {
        match &def.calls {
            DefCalls::Own(calls) => calls,
            DefCalls::Task(i) => &self.tasks[*i].body.calls,
            DefCalls::Function(i) => &self.functions[*i].body.calls,
        }
    }
}

/// `NAME["a"]["b"] = value` at module level (e.g. `DATABASES["default"]["ATOMIC_REQUESTS"]`).
#[derive(Clone, Debug)]
pub struct SubscriptAssign {
    pub name: String,
    pub keys: Vec<String>,
    pub value: Value,
    pub span: Span,
}

/// Any call with a callee the model can name (imported, module-level or a bare builtin), for
/// custom rules. Recorded only when [`ModelOptions::record_calls`](super::ModelOptions) is set.
#[derive(Clone, Debug)]
pub struct AnyCall {
    /// Qualified through imports (`requests.get`, `boto3.client`).
    pub callee: String,
    pub span: Span,
    /// Positional arguments: literals, references (`Ref`) or `Unknown`.
    pub args: Vec<Value>,
    /// Keyword arguments: literals, references (`Ref`) or `Unknown`.
    pub keywords: Vec<(String, Value)>,
    /// `*args` among the positional arguments: positions after it are unknown.
    pub star_args: bool,
    /// `**kwargs` among the keywords: any keyword may be passed.
    pub star_kwargs: bool,
    /// Qualified name of the task whose body directly contains the call.
    pub in_task: Option<String>,
}

/// Where one item of a literal configuration value sits: `root` is the span of the whole value
/// (an assignment's or conf write's `value_span`), `path` the keys (and `#i` list indices) from
/// the root down to the item. Recorded for beat schedules and routes, whose findings point
/// inside the literal.
#[derive(Clone, Debug)]
pub struct LiteralSpan {
    pub root: Span,
    pub path: Vec<String>,
    /// The key (for dict items) or the element itself (for list items).
    pub key_span: Span,
    pub value_span: Span,
}

/// An `add_periodic_task(schedule, sig, ...)` call (catalog M6).
#[derive(Clone, Debug)]
pub struct PeriodicTask {
    pub span: Span,
    /// The first argument (or `schedule=`).
    pub schedule: Value,
    /// Qualified receiver of `task.s(...)` / `.si(...)` / `.signature(...)`.
    pub target: Option<String>,
    /// `signature("name", ...)` / `app.signature("name")`: the literal task name and its span.
    pub task_name: Option<(String, Span)>,
    /// The signature is a canvas: `group`, `chain`, `chord` or `a.s() | b.s()`.
    pub canvas: Option<String>,
    /// Source text of the signature, whitespace-normalised (Celery keys unnamed entries by it).
    pub sig_text: String,
    pub sig_span: Span,
    /// Keyword arguments of the call (`name=`, `expires=`, `options=`, `queue=`, `args=`…).
    pub keywords: Vec<(String, Value, Span)>,
    /// `*args` / `**kwargs` in the call: some arguments are unknown.
    pub has_star: bool,
    /// Qualified name of the enclosing module-level function (`None` at module level or in
    /// a nested or task function).
    pub function: Option<String>,
    /// Options carried by the signature (`t.signature(expires=5)`, `t.s().set(expires=5)`,
    /// `signature("t", options={...})`); `("**", Unknown)` when some cannot be read.
    pub sig_options: Vec<(String, Value)>,
}

impl PeriodicTask {
    pub fn keyword(&self, name: &str) -> Option<(&Value, Span)> {
        self.keywords
            .iter()
            .find(|(k, _, _)| k == name)
            .map(|(_, v, s)| (v, *s))
    }
}

/// The path component for a dict key in [`LiteralSpan::path`]: the string itself, or
/// `re:<pattern>` for `re.compile("<pattern>")`.
pub fn literal_path_key(key: &Value) -> Option<String> {
    match key {
        Value::Str(s) => Some(s.clone()),
        Value::Call { func, args, .. } if func == "re.compile" => args
            .first()
            .and_then(Value::as_str)
            .map(|p| format!("re:{p}")),
        _ => None,
    }
}

/// What a canvas member receives from the canvas before its own arguments (catalog M5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Feed {
    /// First member of a chain, a group member, a chord header member: nothing.
    Nothing,
    /// A later member of a chain, or a `link=` callback: the parent's return value.
    ParentResult,
    /// A chord body (or what follows a group in a chain): the list of header results.
    HeaderResults,
    /// Comes after something the model did not understand.
    #[default]
    Unknown,
}

/// Coarse type of an argument or returned value (catalog M4), when the extractor knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// The value of `.delay()`/`.apply_async()`, `AsyncResult(...)`.
    AsyncResult,
    /// `Model.objects.get/create/first/...`, `get_object_or_404(...)`.
    ModelInstance,
    /// `Model.objects.filter/all/exclude/values/...`.
    QuerySet,
    /// `requests.get/post/...(...)`.
    HttpResponse,
    /// `open(...)`.
    OpenFile,
    /// `request.FILES[...]`, Flask `request.files[...]`.
    UploadedFile,
    /// A web request object (`request` parameter of a view, `flask.request`).
    Request,
    /// A generator expression.
    Generator,
    /// A set or frozenset.
    Set,
    Lambda,
    /// A function defined in the enclosing function.
    LocalFunction,
    Socket,
    Lock,
    /// A DB-API connection or cursor, a SQLAlchemy session.
    DbConnection,
    /// `requests.Session()`.
    HttpSession,
    Logger,
    /// `Cls(...)`: an instance of this qualified class (the rule decides whether it is a
    /// project class that JSON cannot encode).
    Instance(String),
}

/// An expression with a known coarse type.
#[derive(Clone, Debug)]
pub struct TypedExpr {
    pub kind: ValueKind,
    pub span: Span,
    /// One-line source text.
    pub text: String,
    /// Keyword name when passed as a keyword argument.
    pub keyword: Option<String>,
}

impl ValueKind {
    /// A short description for messages ("an open file").
    pub fn describe(&self) -> String {
        match self {
            ValueKind::AsyncResult => "an `AsyncResult`".into(),
            ValueKind::ModelInstance => "a model instance".into(),
            ValueKind::QuerySet => "a queryset".into(),
            ValueKind::HttpResponse => "an HTTP response".into(),
            ValueKind::OpenFile => "an open file".into(),
            ValueKind::UploadedFile => "an uploaded file".into(),
            ValueKind::Request => "the request object".into(),
            ValueKind::Generator => "a generator".into(),
            ValueKind::Set => "a set".into(),
            ValueKind::Lambda => "a lambda".into(),
            ValueKind::LocalFunction => "a local function".into(),
            ValueKind::Socket => "a socket".into(),
            ValueKind::Lock => "a lock".into(),
            ValueKind::DbConnection => "a database connection".into(),
            ValueKind::HttpSession => "an HTTP session".into(),
            ValueKind::Logger => "a logger".into(),
            ValueKind::Instance(q) => {
                format!("an instance of `{}`", q.rsplit('.').next().unwrap_or(q))
            }
        }
    }
}
