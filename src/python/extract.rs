//! One traversal of a module's syntax tree that records the Celery facts of §2 of the rule
//! catalog: imports, apps, configuration writes, tasks with body facts, dispatch sites, crontabs.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, ExceptHandler, Expr, Number, Operator, Stmt, UnaryOp};
use ruff_text_size::{Ranged, TextRange};

use crate::finding::Span;
use crate::lint::model::facts::*;

const DISPATCH_METHODS: &[(&str, DispatchKind)] = &[
    ("delay", DispatchKind::Delay),
    ("apply_async", DispatchKind::ApplyAsync),
    ("delay_on_commit", DispatchKind::DelayOnCommit),
    ("apply_async_on_commit", DispatchKind::ApplyAsyncOnCommit),
    ("s", DispatchKind::S),
    ("si", DispatchKind::Si),
    ("signature", DispatchKind::Signature),
];

/// Deeply nested generated code must not overflow the stack (an overflow aborts the process):
/// recursive walks grow it on the heap when less than `RED_ZONE` bytes are left. Asking for
/// the stack pointer costs as much as visiting a small node, so the visitor asks only every
/// `STACK_CHECK_EVERY` levels; the red zone covers that many frames of the largest visitor
/// function (a few KiB each) with room to spare.
const RED_ZONE: usize = 256 * 1024;
const STACK_GROWTH: usize = 4 * 1024 * 1024;
const STACK_CHECK_EVERY: u32 = 8;

const WAIT_METHODS: &[&str] = &["get", "wait", "join", "join_native", "collect"];
const RESULT_READ_METHODS: &[&str] = &[
    "get",
    "wait",
    "ready",
    "successful",
    "failed",
    "join",
    "forget",
];
const RESULT_READ_ATTRS: &[&str] = &["state", "status", "result", "info", "traceback"];
const SELF_TASK_ATTRS: &[&str] = &[
    "retry",
    "request",
    "max_retries",
    "update_state",
    "default_retry_delay",
    "name",
    "backend",
    "app",
    "AsyncResult",
    "send_event",
    "replace",
    "add_to_chord",
];
const BROAD_EXCEPTIONS: &[&str] = &[
    "Exception",
    "BaseException",
    "CeleryError",
    "TaskPredicate",
    "Retry",
];
const REQUESTS_FUNCS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "head", "options", "request",
];
const SESSION_METHODS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "head", "options", "request",
];

#[derive(Clone, Debug)]
enum Binding {
    /// The result of a dispatch: index into `facts.calls`.
    Dispatch(usize),
    AsyncResult,
    Canvas,
    /// A `requests.Session()`; `true` once an adapter was mounted.
    Session(bool),
}

#[derive(Default)]
struct Scope<'s> {
    is_function: bool,
    /// Index of the task this scope is the body of.
    task: Option<usize>,
    /// Qualified name of a module-level non-task function.
    function: Option<String>,
    body: BodyFacts,
    bindings: HashMap<&'s str, Binding>,
    first_param: Option<String>,
    guard_seen: bool,
    except_depth: usize,
    allow_join: usize,
    mutable_params: Vec<(String, Span)>,
    rebound: HashSet<&'s str>,
    used_mutable: HashSet<&'s str>,
    /// Enclosing `for`/`while` loops in this scope.
    loops: usize,
    /// Name of the `def` this scope is the body of.
    def_short_name: String,
    /// Names bound to ORM objects (`None`: shadowed by a local that is not one).
    orm: HashMap<&'s str, Option<(OrmKind, String)>>,
    /// Qualified name of this scope's `def` (module-level function or method of a top-level
    /// class); `None` for nested defs and lambdas.
    def_name: Option<String>,
    /// Coarse types of local names bound once (`f = open(...)`), for CD304/CD503/CD804.
    kinds: HashMap<&'s str, ValueKind>,
    /// How often each local name is bound; a name bound twice has no known type.
    bind_counts: HashMap<&'s str, u32>,
    /// Functions defined in this function's body.
    local_defs: HashSet<&'s str>,
    /// This function has a parameter named `request`.
    request_param: bool,
    /// Local names whose `.ready()` was called earlier in this scope (CD003).
    ready_checked: HashSet<&'s str>,
}

struct TryFrame {
    scope_depth: usize,
    /// Handler classes in order: (display, catches Retry, re-raises).
    handlers: Vec<(String, bool, bool)>,
}

pub(crate) struct Extractor<'s> {
    facts: ModuleFacts,
    source: &'s str,
    /// Top-level names defined in this module (functions, classes, assignments).
    local_names: HashSet<&'s str>,
    imports: HashMap<String, String>,
    scopes: Vec<Scope<'s>>,
    /// Enclosing `transaction.atomic` contexts: (text, scope depth where entered).
    atomic: Vec<(String, usize)>,
    on_commit: usize,
    /// Inside a callee or an attribute chain: names there are not references to record.
    no_refs: u32,
    /// Inside a canvas construction already recorded.
    canvas_depth: u32,
    /// Inside the arguments of `add_periodic_task(...)`.
    periodic: usize,
    tries: Vec<TryFrame>,
    class_depth: usize,
    /// Visiting the body of a top-level `Task` subclass with a `run` method: (class index,
    /// offset of the `class` statement).
    class_task: Option<(usize, u32)>,
    /// Module-level `if`/`try` nesting.
    conditional: usize,
    debug: usize,
    branch: Option<(u32, u32)>,
    /// The call of the expression statement being visited: its result is discarded.
    discarded: Option<(u32, u32)>,
    /// Deferred reads: (receiver span, what, span).
    reads: Vec<((u32, u32), String, Span)>,
    /// Dispatch call spans → index in `facts.calls`.
    call_index: HashMap<(u32, u32), usize>,
    /// Some import names `flask` (Flask context references are looked up only then).
    flask_imported: bool,
    /// Spare buffers for qualified callee names (one per nesting level in use).
    qbufs: Vec<String>,
    /// Nesting of `visit_stmt`/`visit_expr` (for amortised stack checks).
    depth: u32,
    /// Nesting of `eval` (likewise).
    eval_depth: std::cell::Cell<u32>,
}

/// `text` on one line for messages: runs of whitespace become one space, and a result longer
/// than 80 characters is cut to 77 and `…`. One pass, stopping at the 81st character.
fn short_text(text: &str) -> String {
    // Common case: one line, single spaces, short: the text as it is.
    if text.len() <= 80
        && !text.chars().any(|c| c.is_whitespace() && c != ' ')
        && !text.contains("  ")
        && !text.starts_with(' ')
        && !text.ends_with(' ')
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(84));
    let mut chars = 0usize;
    'words: for (i, word) in text.split_whitespace().enumerate() {
        for c in (i > 0).then_some(' ').into_iter().chain(word.chars()) {
            out.push(c);
            chars += 1;
            if chars > 80 {
                break 'words;
            }
        }
    }
    if chars > 80 {
        let cut = out.char_indices().nth(77).map_or(out.len(), |(at, _)| at);
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// `a.b` without the formatting machinery (this runs for every import and definition).
fn dotted(a: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + 1 + b.len());
    s.push_str(a);
    s.push('.');
    s.push_str(b);
    s
}

fn span(range: TextRange) -> Span {
    Span::new(range.start().to_u32(), range.end().to_u32())
}

fn key(range: TextRange) -> (u32, u32) {
    (range.start().to_u32(), range.end().to_u32())
}

impl<'s> Extractor<'s> {
    pub(crate) fn run(facts: &mut ModuleFacts, source: &'s str, module: &ast::ModModule) {
        let mut ex = Extractor {
            facts: std::mem::take(facts),
            source,
            local_names: HashSet::default(),
            imports: HashMap::default(),
            scopes: vec![Scope::default()],
            atomic: Vec::new(),
            on_commit: 0,
            no_refs: 0,
            canvas_depth: 0,
            periodic: 0,
            tries: Vec::new(),
            class_depth: 0,
            class_task: None,
            conditional: 0,
            debug: 0,
            branch: None,
            discarded: None,
            reads: Vec::new(),
            call_index: HashMap::default(),
            flask_imported: false,
            qbufs: Vec::new(),
            depth: 0,
            eval_depth: std::cell::Cell::new(0),
        };
        ex.collect_top_level(&module.body);
        ex.visit_body(&module.body);
        // Attach deferred result reads to their dispatch sites.
        let reads = std::mem::take(&mut ex.reads);
        for (receiver, what, at) in reads {
            if let Some(&idx) = ex.call_index.get(&receiver) {
                ex.facts.calls[idx].result_reads.push((what, at));
            }
        }
        ex.facts.imports = std::mem::take(&mut ex.imports)
            .into_iter()
            .map(|(local, qualified)| Import { local, qualified })
            .collect();
        ex.facts
            .imports
            .sort_unstable_by(|a, b| a.local.cmp(&b.local));
        ex.facts.shrink_to_fit();
        *facts = ex.facts;
    }

    fn text(&self, range: TextRange) -> &'s str {
        self.source
            .get(range.start().to_usize()..range.end().to_usize())
            .unwrap_or("")
    }

    /// One-line text of an expression for messages (long ones are elided).
    fn short(&self, range: TextRange) -> String {
        short_text(self.text(range))
    }

    // ----- names ---------------------------------------------------------------------------

    fn collect_top_level(&mut self, body: &'s [Stmt]) {
        for stmt in body {
            match stmt {
                Stmt::FunctionDef(f) => {
                    self.local_names.insert(f.name.as_str());
                }
                Stmt::ClassDef(c) => {
                    self.local_names.insert(c.name.as_str());
                }
                Stmt::Assign(a) => {
                    for t in &a.targets {
                        if let Expr::Name(n) = t {
                            self.local_names.insert(n.id.as_str());
                        }
                    }
                }
                Stmt::AnnAssign(a) => {
                    if let Expr::Name(n) = a.target.as_ref() {
                        self.local_names.insert(n.id.as_str());
                    }
                }
                Stmt::If(i) => {
                    self.collect_top_level(&i.body);
                    for clause in &i.elif_else_clauses {
                        self.collect_top_level(&clause.body);
                    }
                }
                Stmt::Try(t) => {
                    self.collect_top_level(&t.body);
                    for ExceptHandler::ExceptHandler(h) in &t.handlers {
                        self.collect_top_level(&h.body);
                    }
                    self.collect_top_level(&t.orelse);
                }
                _ => {}
            }
        }
    }

    fn package(&self) -> String {
        if self.facts.is_package {
            self.facts.module.clone()
        } else {
            match self.facts.module.rsplit_once('.') {
                Some((pkg, _)) => pkg.to_string(),
                None => String::new(),
            }
        }
    }

    fn resolve_relative(&self, level: u32, module: Option<&str>) -> String {
        if level == 0 {
            return module.unwrap_or("").to_string();
        }
        let mut base = self.package();
        for _ in 1..level {
            base = match base.rsplit_once('.') {
                Some((b, _)) => b.to_string(),
                None => String::new(),
            };
        }
        match (base.is_empty(), module) {
            (true, Some(m)) => m.to_string(),
            (true, None) => String::new(),
            (false, Some(m)) => dotted(&base, m),
            (false, None) => base,
        }
    }

    /// Qualified name of a `Name`/`Attribute` chain, resolved through imports and local
    /// definitions. Unknown bare names are returned as they are.
    fn qualify(&self, expr: &Expr) -> Option<String> {
        let mut out = String::with_capacity(64);
        self.qualify_into(expr, &mut out).then_some(out)
    }

    /// Append the qualified name of `expr` to `out` (one buffer, no intermediate strings).
    /// Iterative: attribute chains of generated code can be deeper than the stack.
    fn qualify_into(&self, expr: &Expr, out: &mut String) -> bool {
        let mut attrs: smallvec::SmallVec<[&str; 8]> = smallvec::SmallVec::new();
        let mut cur = expr;
        let id = loop {
            match cur {
                Expr::Name(n) => break n.id.as_str(),
                Expr::Attribute(a) => {
                    attrs.push(a.attr.as_str());
                    cur = &a.value;
                }
                _ => return false,
            }
        };
        if let Some(q) = self.imports.get(id) {
            out.push_str(q);
        } else if self.local_names.contains(id) && !self.facts.module.is_empty() {
            out.push_str(&self.facts.module);
            out.push('.');
            out.push_str(id);
        } else {
            out.push_str(id);
        }
        for attr in attrs.iter().rev() {
            out.push('.');
            out.push_str(attr);
        }
        true
    }

    /// Imported or defined at module level: the only names that can refer to a task.
    fn is_global_name(&self, name: &str) -> bool {
        self.imports.contains_key(name) || self.local_names.contains(name)
    }

    /// The leftmost `Name` of an attribute chain (`tasks` in `tasks.send.delay`).
    fn base_name(expr: &Expr) -> &Expr {
        match expr {
            Expr::Attribute(a) => Self::base_name(&a.value),
            e => e,
        }
    }

    fn last_segment(q: &str) -> &str {
        match q.as_bytes().iter().rposition(|&b| b == b'.') {
            Some(i) => &q[i + 1..],
            None => q,
        }
    }

    // ----- values --------------------------------------------------------------------------

    fn eval(&self, expr: &Expr) -> Value {
        let depth = self.eval_depth.get() + 1;
        self.eval_depth.set(depth);
        let v = if depth.is_multiple_of(STACK_CHECK_EVERY) {
            stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.eval_inner(expr))
        } else {
            self.eval_inner(expr)
        };
        self.eval_depth.set(depth - 1);
        v
    }

    fn eval_inner(&self, expr: &Expr) -> Value {
        match expr {
            Expr::StringLiteral(s) => Value::Str(s.value.to_str().to_string()),
            Expr::NumberLiteral(n) => match &n.value {
                Number::Int(i) => i.as_i64().map_or(Value::Unknown, Value::Int),
                Number::Float(f) => Value::Float(*f),
                Number::Complex { .. } => Value::Unknown,
            },
            Expr::BooleanLiteral(b) => Value::Bool(b.value),
            Expr::NoneLiteral(_) => Value::None,
            Expr::List(l) => Value::List(l.elts.iter().map(|e| self.eval(e)).collect()),
            Expr::Tuple(t) => Value::Tuple(t.elts.iter().map(|e| self.eval(e)).collect()),
            Expr::Set(s) => Value::Set(s.elts.iter().map(|e| self.eval(e)).collect()),
            Expr::Dict(d) => {
                let mut items = Vec::new();
                for item in &d.items {
                    match &item.key {
                        Some(k) => items.push((self.eval(k), self.eval(&item.value))),
                        None => return Value::Unknown,
                    }
                }
                Value::Dict(items)
            }
            Expr::UnaryOp(u) => match (u.op, self.eval(&u.operand)) {
                (UnaryOp::USub, Value::Int(i)) => Value::Int(-i),
                (UnaryOp::USub, Value::Float(f)) => Value::Float(-f),
                (UnaryOp::Not, v) => v.truthy().map_or(Value::Unknown, |b| Value::Bool(!b)),
                _ => Value::Unknown,
            },
            Expr::BinOp(b) => {
                let (l, r) = (self.eval(&b.left), self.eval(&b.right));
                arith(b.op, &l, &r)
            }
            Expr::Name(_) | Expr::Attribute(_) => match self.qualify(expr) {
                Some(q) if q == "True" => Value::Bool(true),
                Some(q) if q == "False" => Value::Bool(false),
                Some(q) => Value::Ref(q),
                None => Value::Unknown,
            },
            Expr::Subscript(s) => {
                if self.qualify(&s.value).as_deref() == Some("os.environ") {
                    Value::Env { default: None }
                } else {
                    Value::Unknown
                }
            }
            Expr::Call(call) => self.eval_call(call),
            _ => Value::Unknown,
        }
    }

    fn eval_call(&self, call: &ast::ExprCall) -> Value {
        let func = self.qualify(&call.func).unwrap_or_default();
        let last = Self::last_segment(&func);
        if last == "timedelta" {
            let mut secs = 0.0;
            let units = [
                ("weeks", 604_800.0),
                ("days", 86_400.0),
                ("hours", 3_600.0),
                ("minutes", 60.0),
                ("seconds", 1.0),
                ("milliseconds", 0.001),
                ("microseconds", 0.000_001),
            ];
            for (i, arg) in call.arguments.args.iter().enumerate() {
                let Some(v) = self.eval(arg).as_seconds() else {
                    return Value::Unknown;
                };
                let unit = [86_400.0, 1.0, 0.000_001, 0.001, 60.0, 3_600.0, 604_800.0];
                secs += v * unit.get(i).copied().unwrap_or(0.0);
            }
            for kw in &call.arguments.keywords {
                let Some(arg) = &kw.arg else {
                    return Value::Unknown;
                };
                let Some(v) = self.eval(&kw.value).as_seconds() else {
                    return Value::Unknown;
                };
                let Some((_, mult)) = units.iter().find(|(n, _)| *n == arg.as_str()) else {
                    return Value::Unknown;
                };
                secs += v * mult;
            }
            return Value::Seconds(secs);
        }
        if is_env_call(&func) {
            let default = call
                .arguments
                .keywords
                .iter()
                .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "default"))
                .map(|k| Box::new(self.eval(&k.value)))
                .or_else(|| call.arguments.args.get(1).map(|a| Box::new(self.eval(a))));
            return Value::Env { default };
        }
        if matches!(func.as_str(), "int" | "float" | "str" | "bool")
            && let Some(arg) = call.arguments.args.first()
        {
            let v = self.eval(arg);
            if matches!(v, Value::Env { .. }) {
                return v;
            }
            return match (func.as_str(), v) {
                ("int", Value::Int(i)) => Value::Int(i),
                ("float", Value::Int(i)) => Value::Float(i as f64),
                ("float", Value::Float(f)) => Value::Float(f),
                _ => Value::Unknown,
            };
        }
        if let Expr::Attribute(a) = call.func.as_ref()
            && a.attr.as_str() == "total_seconds"
            && let Value::Seconds(s) = self.eval(&a.value)
        {
            return Value::Float(s);
        }
        let kwargs = call
            .arguments
            .keywords
            .iter()
            .filter_map(|k| k.arg.as_ref().map(|a| (a.to_string(), self.eval(&k.value))))
            .collect();
        let args = call.arguments.args.iter().map(|a| self.eval(a)).collect();
        Value::Call { func, kwargs, args }
    }

    // ----- scopes --------------------------------------------------------------------------

    fn scope(&mut self) -> &mut Scope<'s> {
        self.scopes.last_mut().expect("module scope")
    }

    fn at_module_level(&self) -> bool {
        self.scopes.len() == 1 && self.class_depth == 0
    }

    /// The task whose body we are directly in (not a nested function).
    fn current_task(&self) -> Option<&TaskDef> {
        self.scopes.last()?.task.map(|i| &self.facts.tasks[i])
    }

    fn in_function(&self) -> bool {
        self.scopes.iter().any(|s| s.is_function)
    }

    fn atomic_here(&self) -> Option<String> {
        if self.on_commit > 0 {
            return None;
        }
        let depth = self.scopes.len();
        self.atomic
            .iter()
            .rev()
            .find(|(_, d)| *d == depth)
            .map(|(t, _)| t.clone())
    }

    // ----- tasks ---------------------------------------------------------------------------

    /// Classify a decorator: `(kind, receiver, text)` if it is a Celery task decorator.
    fn task_decorator(&self, expr: &Expr) -> Option<(TaskDecoratorKind, Option<String>, String)> {
        let func = match expr {
            Expr::Call(c) => c.func.as_ref(),
            other => other,
        };
        let q = self.qualify(func)?;
        let text = self.short(func.range());
        match q.as_str() {
            "celery.shared_task"
            | "celery.app.shared_task"
            | "celery.app.base.shared_task"
            | "shared_task" => return Some((TaskDecoratorKind::Shared, None, text)),
            "celery.task"
            | "celery.task.task"
            | "celery.decorators.task"
            | "celery.task.periodic_task"
            | "celery.decorators.periodic_task" => {
                return Some((TaskDecoratorKind::Legacy, None, text));
            }
            _ => {}
        }
        if let Expr::Attribute(a) = func
            && a.attr.as_str() == "task"
        {
            let receiver = self.qualify(&a.value)?;
            return Some((TaskDecoratorKind::App, Some(receiver), text));
        }
        None
    }

    fn signature(&self, params: &ast::Parameters) -> Signature {
        let mut sig = Signature::default();
        let groups = [
            (&params.posonlyargs, ParamKind::PositionalOnly),
            (&params.args, ParamKind::PositionalOrKeyword),
            (&params.kwonlyargs, ParamKind::KeywordOnly),
        ];
        for (group, kind) in groups {
            sig.params.extend(group.iter().map(|p| Param {
                name: p.parameter.name.to_string(),
                has_default: p.default.is_some(),
                kind,
                span: span(p.range()),
            }));
        }
        sig.varargs = params.vararg.is_some();
        sig.varkw = params.kwarg.is_some();
        sig
    }

    fn is_mutable_default(&self, expr: &Expr) -> bool {
        match expr {
            Expr::List(_) | Expr::Dict(_) | Expr::Set(_) => true,
            Expr::Call(c) => {
                let q = self.qualify(&c.func).unwrap_or_default();
                matches!(
                    q.as_str(),
                    "list"
                        | "dict"
                        | "set"
                        | "collections.defaultdict"
                        | "collections.OrderedDict"
                        | "collections.Counter"
                        | "collections.deque"
                )
            }
            _ => false,
        }
    }

    fn visit_function(&mut self, f: &'s ast::StmtFunctionDef) {
        // Decorators and defaults are evaluated in the enclosing scope.
        for d in &f.decorator_list {
            self.visit_decorator(d);
        }
        for p in f.parameters.iter_non_variadic_params() {
            if let Some(default) = &p.default {
                self.visit_expr(default);
            }
        }
        let top_level = self.at_module_level();
        let mut task_idx = None;
        for (i, d) in f.decorator_list.iter().enumerate() {
            if let Some((kind, receiver, text)) = self.task_decorator(&d.expression) {
                let options = match &d.expression {
                    Expr::Call(c) => c
                        .arguments
                        .keywords
                        .iter()
                        .filter_map(|k| {
                            k.arg
                                .as_ref()
                                .map(|a| (a.to_string(), self.eval(&k.value), span(k.range())))
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let mutable_defaults = f
                    .parameters
                    .iter_non_variadic_params()
                    .filter(|p| {
                        p.default
                            .as_deref()
                            .is_some_and(|e| self.is_mutable_default(e))
                    })
                    .map(|p| MutableDefault {
                        param: p.parameter.name.to_string(),
                        span: span(p.range()),
                    })
                    .collect();
                let qualname = if self.facts.module.is_empty() {
                    f.name.to_string()
                } else {
                    dotted(&self.facts.module, f.name.as_str())
                };
                self.facts.tasks.push(TaskDef {
                    func_name: f.name.to_string(),
                    qualname,
                    kind,
                    receiver,
                    decorator_text: text,
                    decorator_span: span(d.range()),
                    decorator_index: i,
                    decorators: f
                        .decorator_list
                        .iter()
                        .map(|d| self.short(d.expression.range()))
                        .collect(),
                    decorator_targets: f
                        .decorator_list
                        .iter()
                        .map(|d| self.qualify(&d.expression))
                        .collect(),
                    options,
                    signature: self.signature(&f.parameters),
                    is_async: f.is_async,
                    def_span: span(f.name.range()),
                    decorator_line_offset: f
                        .decorator_list
                        .first()
                        .map_or(f.range().start().to_u32(), |d| d.range().start().to_u32()),
                    body: BodyFacts::default(),
                    mutable_defaults,
                    top_level,
                    branch: self.branch,
                    returns: Vec::new(),
                });
                task_idx = Some(self.facts.tasks.len() - 1);
                break;
            }
        }
        // `class Sync(Task): def run(self, ...)`: a class-based task whose body is `run`.
        if task_idx.is_none()
            && f.name.as_str() == "run"
            && self.class_depth == 1
            && self.scopes.len() == 1
            && let Some((ci, class_start)) = self.class_task
        {
            let class = &self.facts.classes[ci];
            let mut options: Vec<(String, Value, Span)> = class
                .attrs
                .iter()
                .map(|a| (a.name.clone(), a.value.clone(), a.span))
                .collect();
            // `run` receives the task instance, like a bound task.
            options.push(("bind".to_string(), Value::Bool(true), span(f.name.range())));
            if let Some(base) = class.bases.first() {
                options.push(("base".to_string(), Value::Ref(base.clone()), class.span));
            }
            self.facts.tasks.push(TaskDef {
                func_name: class.name.clone(),
                qualname: class.qualname.clone(),
                kind: TaskDecoratorKind::Class,
                receiver: None,
                decorator_text: class.name.clone(),
                decorator_span: class.span,
                decorator_index: 0,
                decorators: vec![class.name.clone()],
                decorator_targets: vec![None],
                options,
                signature: self.signature(&f.parameters),
                is_async: f.is_async,
                def_span: span(f.name.range()),
                decorator_line_offset: class_start,
                body: BodyFacts::default(),
                mutable_defaults: Vec::new(),
                top_level: true,
                branch: self.branch,
                returns: Vec::new(),
            });
            task_idx = Some(self.facts.tasks.len() - 1);
        }
        let method_of = (task_idx.is_none() && self.class_depth == 1 && self.scopes.len() == 1)
            .then(|| self.facts.classes.last().map(|c| c.qualname.clone()))
            .flatten();
        let function = if task_idx.is_none() && top_level {
            Some(dotted(&self.facts.module, f.name.as_str()))
        } else {
            None
        };
        let mut scope = Scope {
            is_function: true,
            task: task_idx,
            function,
            first_param: f
                .parameters
                .posonlyargs
                .iter()
                .chain(f.parameters.args.iter())
                .next()
                .map(|p| p.parameter.name.to_string()),
            def_short_name: f.name.to_string(),
            ..Scope::default()
        };
        scope.request_param = f.parameters.iter().any(|p| p.name().as_str() == "request");
        if let Some(i) = task_idx {
            scope.mutable_params = self.facts.tasks[i]
                .mutable_defaults
                .iter()
                .map(|m| (m.param.clone(), m.span))
                .collect();
        }
        self.prepare_def_scope(f, &mut scope, top_level);
        self.scopes.push(scope);
        let depth = self.scopes.len();
        let atomic_decorator = f.decorator_list.iter().find(|d| {
            let func = match &d.expression {
                Expr::Call(c) => c.func.as_ref(),
                e => e,
            };
            self.qualify(func).is_some_and(|q| is_atomic(&q))
        });
        let pushed_atomic = if let Some(d) = atomic_decorator {
            self.atomic
                .push((format!("@{}", self.short(d.expression.range())), depth));
            true
        } else {
            false
        };
        let saved_class = std::mem::take(&mut self.class_depth);
        self.visit_body(&f.body);
        self.class_depth = saved_class;
        if pushed_atomic {
            self.atomic.pop();
        }
        let mut scope = self.scopes.pop().expect("function scope");
        if scope.task.is_none()
            && !scope.body.waits.is_empty()
            && (scope.function.is_some() || method_of.is_some())
        {
            self.record_handler(f, method_of, &scope.body.waits);
        }
        if let Some(qualname) = &scope.def_name {
            self.facts.defs.push(DefInfo {
                qualname: qualname.clone(),
                class: qualname
                    .rsplit_once('.')
                    .map(|(c, _)| c.to_string())
                    .filter(|_| !top_level),
                is_async: f.is_async,
                // A task's decorator texts were spelled out for its `TaskDef` already.
                decorators: match scope.task {
                    Some(i) if self.facts.tasks[i].kind != TaskDecoratorKind::Class => {
                        self.facts.tasks[i].decorators.clone()
                    }
                    _ => f
                        .decorator_list
                        .iter()
                        .map(|d| self.short(d.expression.range()))
                        .collect(),
                },
                decorator_targets: f
                    .decorator_list
                    .iter()
                    .map(|d| match &d.expression {
                        Expr::Call(c) => self.qualify(&c.func),
                        e => self.qualify(e),
                    })
                    .collect(),
                calls: match (scope.task, &scope.function) {
                    (Some(i), _) => DefCalls::Task(i),
                    (None, Some(_)) => DefCalls::Function(self.facts.functions.len()),
                    (None, None) => DefCalls::Own(std::mem::take(&mut scope.body.calls)),
                },
                span: span(f.name.range()),
            });
        }
        if let Some(i) = scope.task {
            let task = &mut self.facts.tasks[i];
            task.body = scope.body;
            task.mutable_defaults
                .retain(|m| scope.used_mutable.contains(m.param.as_str()));
        } else if let Some(qualname) = scope.function {
            let returns_param = match (f.body.last(), f.parameters.args.first()) {
                (Some(Stmt::Return(r)), Some(p)) => {
                    matches!(r.value.as_deref(), Some(Expr::Name(n)) if n.id.as_str() == p.parameter.name.as_str())
                }
                _ => false,
            };
            // `def deco(func): def wrapper(...): ...; return wrapper` without `functools.wraps`.
            let wrapper_name = match f.body.last() {
                Some(Stmt::Return(r)) => match r.value.as_deref() {
                    Some(Expr::Name(n)) => f.body.iter().find_map(|s| match s {
                        Stmt::FunctionDef(inner) if inner.name.as_str() == n.id.as_str() => {
                            let wrapped = inner
                                .decorator_list
                                .iter()
                                .any(|d| self.text(d.range()).contains("wraps"));
                            (!wrapped).then(|| inner.name.to_string())
                        }
                        _ => None,
                    }),
                    _ => None,
                },
                _ => None,
            };
            self.facts.functions.push(FunctionFacts {
                qualname,
                body: scope.body,
                returns_param,
                wrapper_name,
                always_raises: matches!(f.body.last(), Some(Stmt::Raise(_))),
            });
        }
    }

    // ----- calls ---------------------------------------------------------------------------

    fn has_keyword(call: &ast::ExprCall, name: &str) -> bool {
        call.arguments
            .keywords
            .iter()
            .any(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
    }

    fn keyword<'e>(call: &'e ast::ExprCall, name: &str) -> Option<&'e Expr> {
        call.arguments
            .keywords
            .iter()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
            .map(|k| &k.value)
    }

    fn has_star_kwargs(call: &ast::ExprCall) -> bool {
        call.arguments.keywords.iter().any(|k| k.arg.is_none())
    }

    fn has_starred(call: &ast::ExprCall) -> bool {
        call.arguments
            .args
            .iter()
            .any(|a| matches!(a, Expr::Starred(_)))
    }

    /// What a receiver expression holds, if it is a Celery result.
    fn producer_of(&self, expr: &Expr) -> Option<Producer> {
        match expr {
            Expr::Call(c) => {
                if let Expr::Attribute(a) = c.func.as_ref() {
                    let m = a.attr.as_str();
                    if m == "delay" || m == "apply_async" {
                        if self.is_canvas_expr(&a.value) {
                            return Some(Producer::Canvas);
                        }
                        return self.qualify(&a.value).map(Producer::Dispatch);
                    }
                }
                if self.is_canvas_expr(&c.func) {
                    return Some(Producer::Canvas);
                }
                let q = self.qualify(&c.func)?;
                let last = Self::last_segment(&q);
                if (last == "AsyncResult" || last == "GroupResult")
                    && (q.starts_with("celery") || q.contains(".AsyncResult") || q == last)
                {
                    return Some(Producer::AsyncResult);
                }
                None
            }
            Expr::Name(n) => match self.scopes.last()?.bindings.get(n.id.as_str())? {
                Binding::Dispatch(i) => {
                    Some(Producer::Dispatch(self.facts.calls[*i].target.clone()))
                }
                Binding::AsyncResult => Some(Producer::AsyncResult),
                Binding::Canvas => Some(Producer::Canvas),
                Binding::Session(_) => None,
            },
            _ => None,
        }
    }

    fn is_canvas_expr(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Call(c) => self.canvas_kind(&c.func).is_some(),
            // `a.s() | b.s()`
            Expr::BinOp(b) if b.op == Operator::BitOr => {
                self.wrapped_member(&b.left).is_some() || self.is_canvas_expr(&b.left)
            }
            _ => false,
        }
    }

    fn canvas_kind(&self, func: &Expr) -> Option<CanvasKind> {
        canvas_kind_of(&self.qualify(func)?)
    }

    /// `task.s(...)`, `task.si(...)`, `task.signature(...)` as a canvas member.
    fn signature_member(&self, expr: &Expr) -> Option<CanvasMember> {
        let Expr::Call(c) = expr else { return None };
        let Expr::Attribute(a) = c.func.as_ref() else {
            return None;
        };
        let method = a.attr.as_str();
        if !matches!(method, "s" | "si" | "signature") {
            return None;
        }
        let immutable = method == "si"
            || Self::keyword(c, "immutable").is_some_and(|v| self.eval(v).truthy() == Some(true));
        let args = if Self::has_starred(c) || method == "signature" {
            ArgCount::Unknown
        } else {
            ArgCount::Known(c.arguments.args.len())
        };
        // `task.signature(args, kwargs, options, **options)`: the rest are options, like
        // `.set(...)`; `.s(...)`/`.si(...)` keywords are the task's own arguments.
        let set_options = if method == "signature" {
            self.signature_options(c, 2)
        } else {
            Vec::new()
        };
        Some(CanvasMember {
            target: self.qualify(&a.value)?,
            immutable,
            args,
            span: span(c.range()),
            receives: Feed::Unknown,
            feeds: Feed::Nothing,
            set_options,
        })
    }

    /// The members of a canvas argument: one signature, a list/tuple/generator of them, or a
    /// nested canvas (flattened for `chain`).
    fn canvas_members(&self, expr: &Expr, out: &mut Vec<CanvasMember>) -> bool {
        if let Some(m) = self.signature_member(expr) {
            out.push(m);
            return true;
        }
        match expr {
            Expr::List(l) => l.elts.iter().all(|e| self.canvas_members(e, out)),
            Expr::Tuple(t) => t.elts.iter().all(|e| self.canvas_members(e, out)),
            Expr::Generator(g) => self.canvas_members(&g.elt, out),
            Expr::ListComp(g) => self.canvas_members(&g.elt, out),
            Expr::BinOp(b) if b.op == Operator::BitOr => {
                self.canvas_members(&b.left, out) && self.canvas_members(&b.right, out)
            }
            Expr::Call(c) if self.canvas_kind(&c.func).is_some() => {
                c.arguments.args.iter().all(|a| self.canvas_members(a, out))
            }
            _ => false,
        }
    }

    /// Record a canvas construction: `chain(...)`, `group(...)`, `chord(header, body)`,
    /// `chord(header)(body)`, or `a.s() | b.s()`.
    fn record_canvas(&mut self, expr: &Expr) {
        let (kind, header, body): (CanvasKind, Vec<&Expr>, Option<&Expr>) = match expr {
            Expr::Call(c) => {
                if let Some(kind) = self.canvas_kind(&c.func) {
                    match kind {
                        CanvasKind::Chord => (
                            kind,
                            c.arguments.args.first().into_iter().collect(),
                            c.arguments.args.get(1),
                        ),
                        _ => (kind, c.arguments.args.iter().collect(), None),
                    }
                } else if let Expr::Call(inner) = c.func.as_ref() {
                    // `chord(header)(body)`, or `chord(header, body)()` applied at once.
                    if self.canvas_kind(&inner.func) == Some(CanvasKind::Chord) {
                        (
                            CanvasKind::Chord,
                            inner.arguments.args.first().into_iter().collect(),
                            inner
                                .arguments
                                .args
                                .get(1)
                                .or_else(|| c.arguments.args.first()),
                        )
                    } else {
                        return;
                    }
                } else {
                    return;
                }
            }
            Expr::BinOp(b) if b.op == Operator::BitOr && self.is_canvas_expr(expr) => {
                (CanvasKind::Chain, vec![expr], None)
            }
            _ => return,
        };
        let mut members = Vec::new();
        let complete = header.iter().all(|h| self.canvas_members(h, &mut members));
        let mut body_members = Vec::new();
        let body_complete = body.is_none_or(|b| self.canvas_members(b, &mut body_members));
        self.assign_feeds(expr, body, &mut members, &mut body_members);
        self.facts.canvases.push(CanvasFacts {
            kind,
            members,
            body: body_members,
            complete: complete && body_complete,
            span: span(expr.range()),
            in_task: self.current_task().map(|t| t.qualname.clone()),
        });
    }

    /// Handle a call expression before its children are visited.
    fn on_call(&mut self, call: &'s ast::ExprCall, q: &str) {
        let call_span = span(call.range());
        self.on_framework_call(call, q);

        if let Expr::Attribute(attr) = call.func.as_ref() {
            let method = attr.attr.as_str();
            // Dispatch sites.
            if DISPATCH_METHODS.iter().any(|(m, _)| *m == method)
                || matches!(
                    method,
                    "retry"
                        | "name"
                        | "request"
                        | "AsyncResult"
                        | "map"
                        | "starmap"
                        | "chunks"
                        | "apply"
                )
            {
                self.facts
                    .receiver_spans
                    .push(span(Self::base_name(&attr.value).range()));
            }
            if let Some((_, kind)) = DISPATCH_METHODS.iter().find(|(m, _)| *m == method) {
                if let Some(target) = self.qualify(&attr.value)
                    && !self.is_canvas_expr(&attr.value)
                {
                    self.record_dispatch(*kind, target, call);
                }
            } else if method == "send_task"
                && let Some(Expr::StringLiteral(name)) = call.arguments.args.first()
            {
                self.record_dispatch(
                    DispatchKind::SendTask,
                    name.value.to_str().to_string(),
                    call,
                );
            }
            // Waiting on results.
            if method == "ready"
                && call.arguments.is_empty()
                && let Expr::Name(n) = attr.value.as_ref()
            {
                self.scope().ready_checked.insert(n.id.as_str());
            }
            if WAIT_METHODS.contains(&method)
                && call.arguments.args.is_empty()
                && let Some(producer) = self.producer_of(&attr.value)
            {
                let guard_disabled = Self::keyword(call, "disable_sync_subtasks")
                    .is_some_and(|v| self.eval(v).truthy() == Some(false))
                    || self.scopes.last().is_some_and(|s| s.allow_join > 0);
                let ready_checked = match attr.value.as_ref() {
                    Expr::Name(n) => self
                        .scopes
                        .last()
                        .is_some_and(|s| s.ready_checked.contains(n.id.as_str())),
                    _ => false,
                };
                self.scope().body.waits.push(ResultWait {
                    method: method.to_string(),
                    span: call_span,
                    producer,
                    guard_disabled,
                    timeout: Self::has_keyword(call, "timeout"),
                    ready_checked,
                });
            }
            if RESULT_READ_METHODS.contains(&method) {
                self.note_read(&attr.value, || format!(".{method}()"), call_span);
            }
            // Retries.
            if method == "retry" {
                self.on_retry(call, attr);
            }
            // Sessions.
            if let Expr::Name(n) = attr.value.as_ref() {
                let name = n.id.as_str();
                if let Some(Binding::Session(mounted)) = self
                    .scopes
                    .last()
                    .and_then(|s| s.bindings.get(name))
                    .cloned()
                {
                    if method == "mount" {
                        self.scope().bindings.insert(name, Binding::Session(true));
                    } else if !mounted && SESSION_METHODS.contains(&method) {
                        self.check_http(call, &format!("{name}.{method}"), usize::MAX);
                    }
                }
            }
            if matches!(
                method,
                "update" | "setdefault" | "pop" | "popitem" | "clear"
            ) && let Some(name) = mutated_name(&attr.value)
            {
                self.note_mutated(name);
            }
            // Mutable defaults: `param.append(...)`.
            if let Expr::Name(n) = attr.value.as_ref()
                && matches!(
                    method,
                    "append"
                        | "extend"
                        | "update"
                        | "add"
                        | "insert"
                        | "setdefault"
                        | "pop"
                        | "remove"
                        | "clear"
                        | "discard"
                        | "appendleft"
                        | "popitem"
                )
            {
                self.use_mutable(n.id.as_str());
            }
            // Configuration.
            if method == "config_from_object"
                && let (Some(app), Some(target)) =
                    (self.qualify(&attr.value), call.arguments.args.first())
            {
                let namespace = Self::keyword(call, "namespace")
                    .or_else(|| call.arguments.args.get(2))
                    .and_then(|e| self.eval(e).as_str().map(str::to_string));
                self.facts.config_from_object.push(ConfigFromObject {
                    app,
                    target: self.eval(target),
                    namespace,
                    span: call_span,
                });
            }
            if method == "update"
                && let Expr::Attribute(conf) = attr.value.as_ref()
                && conf.attr.as_str() == "conf"
                && let Some(app) = self.qualify(&conf.value)
            {
                for k in &call.arguments.keywords {
                    if let Some(a) = &k.arg {
                        self.facts.conf_writes.push(ConfWrite {
                            app: app.clone(),
                            key: a.to_string(),
                            value: self.eval(&k.value),
                            span: span(a.range()),
                            value_span: span(k.value.range()),
                        });
                        self.record_literal_spans(a.as_str(), &k.value);
                    }
                }
                if let Some(Expr::Dict(d)) = call.arguments.args.first() {
                    for item in &d.items {
                        if let Some(Expr::StringLiteral(k)) = &item.key {
                            self.facts.conf_writes.push(ConfWrite {
                                app: app.clone(),
                                key: k.value.to_str().to_string(),
                                value: self.eval(&item.value),
                                span: span(k.range()),
                                value_span: span(item.value.range()),
                            });
                            self.record_literal_spans(k.value.to_str(), &item.value);
                        }
                    }
                }
            }
            if method == "setdefault"
                && self.qualify(&attr.value).as_deref() == Some("os.environ")
                && let (Some(Expr::StringLiteral(k)), Some(Expr::StringLiteral(v))) =
                    (call.arguments.args.first(), call.arguments.args.get(1))
                && k.value.to_str() == "DJANGO_SETTINGS_MODULE"
            {
                self.facts
                    .django_settings_module
                    .push(v.value.to_str().to_string());
            }
            if method == "register_task"
                && let Some(arg) = call.arguments.args.first()
            {
                let cls = match arg {
                    Expr::Call(c) => self.qualify(&c.func),
                    e => self.qualify(e),
                };
                if let Some(cls) = cls {
                    self.facts.registered_classes.push(cls);
                }
            }
        }

        if q == "socket.setdefaulttimeout" {
            self.facts.sets_default_socket_timeout = true;
        }
        self.on_serializer_call(call, q);
        if self.is_opaque_config(call) {
            self.facts.opaque_config = true;
        }
        if let Expr::Attribute(attr) = call.func.as_ref() {
            if attr.attr.as_str() == "setup_security"
                && let Some(v) = Self::keyword(call, "allowed_serializers")
            {
                let value = self.eval(v);
                self.facts
                    .security_serializers
                    .push((value, span(v.range())));
            }
            // Applying a canvas: `chain(...).delay()`, `group(...).apply_async()`.
            let m = attr.attr.as_str();
            if (m == "delay" || m == "apply_async") && self.is_canvas_expr(&attr.value) {
                self.record_dispatch(
                    if m == "delay" {
                        DispatchKind::Delay
                    } else {
                        DispatchKind::ApplyAsync
                    },
                    CANVAS_TARGET.to_string(),
                    call,
                );
            }
        }

        // `signature("name", ...)`.
        if matches!(
            q,
            "celery.signature"
                | "celery.canvas.signature"
                | "celery.canvas.Signature"
                | "celery.Signature"
        ) && let Some(Expr::StringLiteral(name)) = call.arguments.args.first()
        {
            self.record_dispatch(
                DispatchKind::SignatureByName,
                name.value.to_str().to_string(),
                call,
            );
        }

        // HTTP calls.
        let http = match q {
            s if s.starts_with("requests.")
                && self
                    .imports
                    .values()
                    .any(|i| i == "requests" || i.starts_with("requests."))
                && matches!(Self::base_name(&call.func), Expr::Name(n) if self.imports.contains_key(n.id.as_str()))
                && REQUESTS_FUNCS.contains(&Self::last_segment(s))
                && (s.matches('.').count() == 1 || s.starts_with("requests.api.")) =>
            {
                Some(usize::MAX)
            }
            "urllib.request.urlopen" => Some(2),
            "http.client.HTTPConnection" | "http.client.HTTPSConnection" => Some(2),
            s if s.starts_with("httpx.") => {
                // httpx has a default timeout: only an explicit `timeout=None` is a problem.
                if Self::keyword(call, "timeout").is_some_and(|v| matches!(v, Expr::NoneLiteral(_)))
                {
                    self.push_http(q.to_string(), call_span);
                }
                None
            }
            _ => None,
        };
        if let Some(pos) = http {
            self.check_http(call, q, pos);
        }

        // Side effects (CD101) and idempotency guards.
        self.on_side_effect(call, q);

        // Crontab.
        if matches!(
            q,
            "celery.schedules.crontab" | "celery.crontab" | "celery.task.schedules.crontab"
        ) {
            self.facts.crontabs.push(CrontabCall {
                span: call_span,
                text: self.short(call.range()),
                keywords: call
                    .arguments
                    .keywords
                    .iter()
                    .filter_map(|k| k.arg.as_ref().map(|a| a.to_string()))
                    .collect(),
                positional: call.arguments.args.len(),
            });
        }

        // `getattr(settings, "X")`.
        if q == "getattr"
            && let (Some(Expr::Name(n)), Some(Expr::StringLiteral(s))) =
                (call.arguments.args.first(), call.arguments.args.get(1))
            && n.id.as_str() == "settings"
        {
            self.facts.settings_reads.push(s.value.to_str().to_string());
        }

        // Direct calls to module-level or imported functions (one-hop helper analysis); method
        // calls on local objects cannot reach a project helper by name.
        if q.contains('.')
            && matches!(Self::base_name(&call.func), Expr::Name(n) if self.is_global_name(n.id.as_str()))
        {
            self.scope().body.calls.push((q.to_string(), call_span));
        }
        if Self::last_segment(q) == "update_state" {
            self.scope().body.calls_update_state = true;
        }

        // Mutable default passed on: `f(param)`; read-only builtins and `.join` are not uses.
        let callee_name = match call.func.as_ref() {
            Expr::Attribute(a) => a.attr.as_str(),
            _ => Self::last_segment(q),
        };
        let read_only = matches!(
            callee_name,
            "len"
                | "sorted"
                | "list"
                | "tuple"
                | "set"
                | "frozenset"
                | "dict"
                | "print"
                | "str"
                | "repr"
                | "any"
                | "all"
                | "sum"
                | "min"
                | "max"
                | "enumerate"
                | "zip"
                | "iter"
                | "bool"
                | "hash"
                | "id"
                | "isinstance"
                | "reversed"
                | "join"
                | "dumps"
                | "format"
                | "copy"
                | "deepcopy"
                | "debug"
                | "info"
                | "warning"
                | "error"
                | "exception"
        );
        if !read_only {
            for arg in call.arguments.args.iter() {
                if let Expr::Name(n) = arg {
                    self.use_mutable(n.id.as_str());
                }
            }
        }
    }

    fn push_http(&mut self, callee: String, at: Span) {
        self.scope()
            .body
            .http_calls
            .push(HttpCall { callee, span: at });
    }

    /// Record an HTTP call without a timeout. `timeout_pos` is the positional index of the
    /// timeout parameter (`usize::MAX` when it is keyword-only in practice).
    fn check_http(&mut self, call: &ast::ExprCall, callee: &str, timeout_pos: usize) {
        if Self::has_star_kwargs(call) {
            return;
        }
        if let Some(v) = Self::keyword(call, "timeout") {
            if !matches!(v, Expr::NoneLiteral(_)) {
                return;
            }
        } else if call.arguments.args.len() > timeout_pos || Self::has_starred(call) {
            return;
        }
        let callee = callee.to_string();
        self.push_http(callee, span(call.range()));
    }

    fn on_side_effect(&mut self, call: &ast::ExprCall, q: &str) {
        let last = Self::last_segment(q);
        // Guards.
        let is_guard = matches!(
            last,
            "get_or_create"
                | "update_or_create"
                | "select_for_update"
                | "acquire"
                | "lock"
                | "Lock"
        ) || (last == "add" && q.contains("cache"))
            || (last == "set"
                && Self::keyword(call, "nx").is_some_and(|v| self.eval(v).truthy() == Some(true)))
            || q.ends_with(".filter.update");
        if is_guard {
            self.scope().guard_seen = true;
            return;
        }
        if self.scopes.last().is_some_and(|s| s.except_depth > 0) {
            return;
        }
        let desc = if q.ends_with(".objects.create") || last == "bulk_create" {
            Some(format!("calls `{}`", self.short(call.func.range())))
        } else if matches!(
            q,
            "django.core.mail.send_mail"
                | "django.core.mail.send_mass_mail"
                | "django.core.mail.mail_admins"
                | "django.core.mail.mail_managers"
        ) || (matches!(last, "send_mail" | "send_mass_mail") && !q.contains('.'))
        {
            Some(format!("sends e-mail with `{last}`"))
        } else if matches!(call.func.as_ref(), Expr::Attribute(a) if a.attr.as_str() == "send" && matches!(a.value.as_ref(), Expr::Call(c) if self.qualify(&c.func).is_some_and(|f| f.ends_with("EmailMessage") || f.ends_with("EmailMultiAlternatives"))))
        {
            Some("sends an e-mail message".to_string())
        } else if matches!(
            q,
            "stripe.PaymentIntent.create"
                | "stripe.Charge.create"
                | "stripe.Refund.create"
                | "stripe.Transfer.create"
                | "stripe.Payout.create"
                | "braintree.Transaction.sale"
        ) && !Self::has_keyword(call, "idempotency_key")
            && !Self::has_star_kwargs(call)
        {
            Some(format!("calls `{q}` without `idempotency_key`"))
        } else {
            None
        };
        if let Some(desc) = desc {
            let guarded = self.scopes.last().is_some_and(|s| s.guard_seen);
            self.scope().body.side_effects.push(SideEffect {
                desc,
                span: span(call.range()),
                guarded,
            });
        }
    }

    fn on_retry(&mut self, call: &ast::ExprCall, attr: &ast::ExprAttribute) {
        if Self::keyword(call, "throw").is_some_and(|v| self.eval(v).truthy() == Some(false)) {
            return;
        }
        let Expr::Name(receiver) = attr.value.as_ref() else {
            return;
        };
        let is_self =
            self.scopes.last().and_then(|s| s.first_param.as_deref()) == Some(receiver.id.as_str());
        let is_task_name = self
            .facts
            .tasks
            .iter()
            .any(|t| t.func_name == receiver.id.as_str());
        if !is_self && !is_task_name {
            return;
        }
        let depth = self.scopes.len();
        let mut swallowed_by = None;
        for frame in self.tries.iter().rev() {
            if frame.scope_depth != depth {
                break;
            }
            if let Some((name, _, reraises)) =
                frame.handlers.iter().find(|(_, catches, _)| *catches)
            {
                if !reraises {
                    swallowed_by = Some(name.clone());
                }
                break;
            }
        }
        let text = self.short(call.range());
        let countdown = Self::keyword(call, "countdown").map(|v| self.eval(v));
        self.scope().body.retry_calls.push(RetryCall {
            text,
            span: span(call.range()),
            swallowed_by,
            countdown,
        });
    }

    fn record_dispatch(&mut self, kind: DispatchKind, target: String, call: &ast::ExprCall) {
        let (args, kwargs) = match kind {
            DispatchKind::ApplyAsync
            | DispatchKind::ApplyAsyncOnCommit
            | DispatchKind::SendTask
            | DispatchKind::Signature
            | DispatchKind::SignatureByName => {
                let offset = usize::from(matches!(
                    kind,
                    DispatchKind::SendTask | DispatchKind::SignatureByName
                ));
                let args_expr =
                    Self::keyword(call, "args").or_else(|| call.arguments.args.get(offset));
                let kwargs_expr =
                    Self::keyword(call, "kwargs").or_else(|| call.arguments.args.get(offset + 1));
                let starred = Self::has_starred(call);
                let args = match args_expr {
                    _ if starred => ArgCount::Unknown,
                    None => ArgCount::Known(0),
                    Some(Expr::Tuple(t))
                        if !t.elts.iter().any(|e| matches!(e, Expr::Starred(_))) =>
                    {
                        ArgCount::Known(t.elts.len())
                    }
                    Some(Expr::List(l))
                        if !l.elts.iter().any(|e| matches!(e, Expr::Starred(_))) =>
                    {
                        ArgCount::Known(l.elts.len())
                    }
                    Some(Expr::NoneLiteral(_)) => ArgCount::Known(0),
                    Some(_) => ArgCount::Unknown,
                };
                let kwargs = match kwargs_expr {
                    _ if starred => None,
                    None | Some(Expr::NoneLiteral(_)) => Some(Vec::new()),
                    Some(Expr::Dict(d)) => d
                        .items
                        .iter()
                        .map(|item| match &item.key {
                            Some(Expr::StringLiteral(s)) => {
                                Some((s.value.to_str().to_string(), span(s.range())))
                            }
                            _ => None,
                        })
                        .collect(),
                    Some(Expr::Call(c))
                        if self.qualify(&c.func).as_deref() == Some("dict")
                            && c.arguments.args.is_empty()
                            && !Self::has_star_kwargs(c) =>
                    {
                        Some(
                            c.arguments
                                .keywords
                                .iter()
                                .filter_map(|k| {
                                    k.arg.as_ref().map(|a| (a.to_string(), span(k.range())))
                                })
                                .collect(),
                        )
                    }
                    Some(_) => None,
                };
                (args, kwargs)
            }
            _ => {
                let args = if Self::has_starred(call) {
                    ArgCount::Unknown
                } else {
                    ArgCount::Known(call.arguments.args.len())
                };
                let kwargs = if Self::has_star_kwargs(call) {
                    None
                } else {
                    Some(
                        call.arguments
                            .keywords
                            .iter()
                            .filter_map(|k| {
                                k.arg.as_ref().map(|a| (a.to_string(), span(k.range())))
                            })
                            .collect(),
                    )
                };
                (args, kwargs)
            }
        };
        let call_keywords = call
            .arguments
            .keywords
            .iter()
            .filter_map(|k| {
                k.arg
                    .as_ref()
                    .map(|a| (a.to_string(), self.eval(&k.value), span(k.range())))
            })
            .collect();
        let result_use = if self.discarded == Some(key(call.range())) {
            ResultUse::Discarded
        } else {
            ResultUse::Used
        };
        let in_task = self.current_task().map(|t| t.qualname.clone());
        let site = CallSite {
            kind,
            target,
            span: span(call.range()),
            text: self.short(call.func.range()),
            args,
            kwargs,
            call_keywords,
            result_use,
            result_reads: Vec::new(),
            in_task,
            atomic: self.atomic_here(),
            in_function: self.in_function(),
            periodic: self.periodic > 0,
            deferred: self.on_commit > 0,
            eta_delay: Self::keyword(call, "eta").and_then(|e| self.eta_delay(e)),
            orm_args: self.orm_args(kind, call),
            enclosing_def: self.scopes.last().and_then(|s| s.def_name.clone()),
            arg_kinds: self.arg_kinds(kind, call),
            task: std::sync::OnceLock::new(),
        };
        self.facts.calls.push(site);
        self.call_index
            .insert(key(call.range()), self.facts.calls.len() - 1);
    }

    /// `receiver.<what>` where receiver may be a dispatch result.
    fn note_read(&mut self, receiver: &Expr, what: impl FnOnce() -> String, at: Span) {
        match receiver {
            Expr::Call(c) => self.reads.push((key(c.range()), what(), at)),
            Expr::Name(n) => {
                if let Some(Binding::Dispatch(i)) = self
                    .scopes
                    .last()
                    .and_then(|s| s.bindings.get(n.id.as_str()))
                {
                    let i = *i;
                    self.facts.calls[i].result_reads.push((what(), at));
                }
            }
            _ => {}
        }
    }

    fn use_mutable(&mut self, name: &'s str) {
        let scope = self.scope();
        if scope.mutable_params.iter().any(|(p, _)| p == name) && !scope.rebound.contains(name) {
            scope.used_mutable.insert(name);
        }
    }

    // ----- statements ----------------------------------------------------------------------

    fn on_assign(&mut self, targets: &'s [Expr], value: &'s Expr) {
        // Values matter only for module-level names and `app.conf` writes; evaluating every
        // local assignment would cost as much as the rest of the extraction.
        let needs_value = self.at_module_level()
            || targets.iter().any(|t| match t {
                Expr::Attribute(a) => {
                    matches!(a.value.as_ref(), Expr::Attribute(c) if c.attr.as_str() == "conf")
                }
                Expr::Subscript(s) => {
                    matches!(s.value.as_ref(), Expr::Attribute(c) if c.attr.as_str() == "conf")
                }
                _ => false,
            });
        let v = if needs_value {
            self.eval(value)
        } else {
            Value::Unknown
        };
        for target in targets {
            match target {
                Expr::Name(n) => {
                    let name = n.id.as_str();
                    if self.at_module_level() {
                        self.facts.assigns.push(Assign {
                            name: name.to_string(),
                            value: v.clone(),
                            span: span(n.range()),
                            value_span: span(value.range()),
                            conditional: self.conditional > 0,
                            under_debug: self.debug > 0,
                        });
                        self.record_literal_spans(name, value);
                        if let Value::Call { func, kwargs, .. } = &v
                            && matches!(
                                func.as_str(),
                                "celery.Celery" | "celery.app.Celery" | "celery.app.base.Celery"
                            )
                        {
                            let kwargs = match value {
                                Expr::Call(c) => c
                                    .arguments
                                    .keywords
                                    .iter()
                                    .filter_map(|k| {
                                        k.arg.as_ref().map(|a| {
                                            (a.to_string(), self.eval(&k.value), span(k.range()))
                                        })
                                    })
                                    .collect(),
                                _ => kwargs
                                    .iter()
                                    .map(|(k, v)| (k.clone(), v.clone(), span(value.range())))
                                    .collect(),
                            };
                            self.facts.apps.push(AppFacts {
                                var: format!("{}.{name}", self.facts.module)
                                    .trim_start_matches('.')
                                    .to_string(),
                                kwargs,
                                span: span(value.range()),
                            });
                        }
                    }
                    // Bindings in the current scope.
                    let binding = match value {
                        Expr::Call(c) => {
                            let q = self.qualify(&c.func).unwrap_or_default();
                            if q == "requests.Session"
                                || q == "requests.session"
                                || q == "requests.sessions.Session"
                            {
                                Some(Binding::Session(false))
                            } else {
                                match self.producer_of(value) {
                                    Some(Producer::AsyncResult) => Some(Binding::AsyncResult),
                                    Some(Producer::Canvas) => Some(Binding::Canvas),
                                    Some(Producer::Dispatch(_)) => self
                                        .call_index
                                        .get(&key(c.range()))
                                        .map(|&i| Binding::Dispatch(i)),
                                    None => None,
                                }
                            }
                        }
                        _ => None,
                    };
                    // Only ORM objects and names that shadow one are recorded (cheap locals).
                    let orm = self.orm_of(value);
                    if orm.is_some() || self.scopes.iter().any(|s| s.orm.contains_key(name)) {
                        self.scope().orm.insert(name, orm);
                    }
                    self.note_kind(name, Some(value));
                    let scope = self.scope();
                    if scope.mutable_params.iter().any(|(p, _)| *p == name) {
                        scope.rebound.insert(name);
                    }
                    match binding {
                        Some(b) => {
                            scope.bindings.insert(name, b);
                        }
                        None => {
                            scope.bindings.remove(&name);
                        }
                    }
                }
                Expr::Attribute(a) => {
                    // app.conf.key = value
                    if let Expr::Attribute(conf) = a.value.as_ref()
                        && conf.attr.as_str() == "conf"
                        && let Some(app) = self.qualify(&conf.value)
                    {
                        self.facts.conf_writes.push(ConfWrite {
                            app,
                            key: a.attr.to_string(),
                            value: v.clone(),
                            span: span(a.attr.range()),
                            value_span: span(value.range()),
                        });
                        self.record_literal_spans(a.attr.as_str(), value);
                    }
                    if let Expr::Name(n) = a.value.as_ref() {
                        self.use_mutable(n.id.as_str());
                    }
                }
                Expr::Subscript(s) => {
                    if self.at_module_level() {
                        self.note_subscript_assign(s, &v);
                    }
                    if let Some(name) = mutated_name(&s.value) {
                        self.note_mutated(name);
                    }
                    if let Expr::Attribute(conf) = s.value.as_ref()
                        && conf.attr.as_str() == "conf"
                        && let (Some(app), Expr::StringLiteral(k)) =
                            (self.qualify(&conf.value), s.slice.as_ref())
                    {
                        self.facts.conf_writes.push(ConfWrite {
                            app,
                            key: k.value.to_str().to_string(),
                            value: v.clone(),
                            span: span(k.range()),
                            value_span: span(value.range()),
                        });
                        self.record_literal_spans(k.value.to_str(), value);
                    }
                    if let Expr::Name(n) = s.value.as_ref() {
                        self.use_mutable(n.id.as_str());
                    }
                }
                Expr::Tuple(t) => {
                    for e in &t.elts {
                        if let Expr::Name(n) = e {
                            self.scope().bindings.remove(n.id.as_str());
                        }
                    }
                    self.bind_orm_tuple(&t.elts, value);
                    self.unbind_targets(target);
                }
                _ => {}
            }
        }
        // URL literals with credentials: `BROKER_URL = "amqp://u:p@h"`.
        match targets.first() {
            Some(Expr::Name(n)) => self.note_url(value, n.id.as_str()),
            Some(Expr::Attribute(a)) => self.note_url(value, a.attr.as_str()),
            _ => {}
        }
    }

    /// The literal text of a string or f-string; interpolations become `{}`.
    fn literal_text(expr: &Expr) -> Option<String> {
        match expr {
            Expr::StringLiteral(s) => Some(s.value.to_str().to_string()),
            Expr::FString(f) => {
                let mut out = String::new();
                for part in f.value.iter() {
                    match part {
                        ast::FStringPart::Literal(l) => out.push_str(&l.value),
                        ast::FStringPart::FString(fs) => {
                            for el in fs.elements.iter() {
                                match el {
                                    ast::InterpolatedStringElement::Literal(l) => {
                                        out.push_str(&l.value)
                                    }
                                    ast::InterpolatedStringElement::Interpolation(_) => {
                                        out.push_str("{}")
                                    }
                                }
                            }
                        }
                    }
                }
                Some(out)
            }
            _ => None,
        }
    }

    fn note_url(&mut self, expr: &Expr, context: &str) {
        // Cheap test first: most strings are not URLs with credentials.
        let candidate = match expr {
            Expr::StringLiteral(s) => s.value.iter().any(|p| p.value.contains('@')),
            Expr::FString(_) => self.text(expr.range()).contains('@'),
            _ => false,
        };
        if !candidate {
            return;
        }
        let Some(value) = Self::literal_text(expr) else {
            return;
        };
        if value.contains("://") && value.contains('@') {
            self.facts.urls.push(UrlLiteral {
                value,
                span: span(expr.range()),
                context: context.to_string(),
            });
        }
    }

    fn handler_info(&self, h: &ast::ExceptHandlerExceptHandler) -> (String, bool, bool) {
        let names: Vec<String> = match h.type_.as_deref() {
            None => vec![String::new()],
            Some(Expr::Tuple(t)) => t.elts.iter().filter_map(|e| self.qualify(e)).collect(),
            Some(e) => self.qualify(e).into_iter().collect(),
        };
        let catches_retry = names
            .iter()
            .any(|n| n.is_empty() || BROAD_EXCEPTIONS.contains(&Self::last_segment(n)));
        let display = if names.iter().any(String::is_empty) {
            ":".to_string()
        } else {
            names
                .iter()
                .find(|n| BROAD_EXCEPTIONS.contains(&Self::last_segment(n)))
                .map(|n| Self::last_segment(n).to_string())
                .unwrap_or_default()
        };
        let reraises = h.body.iter().any(|s| match s {
            Stmt::Raise(_) => true,
            Stmt::If(i) => i.body.first().is_some_and(|s| matches!(s, Stmt::Raise(_))),
            _ => false,
        });
        // `except Exception:` shows as "except Exception"; bare except as "except:".
        let display = if display == ":" {
            String::new()
        } else {
            display
        };
        (display, catches_retry, reraises)
    }
}

fn arith(op: Operator, l: &Value, r: &Value) -> Value {
    let (Some(a), Some(b)) = (l.as_seconds(), r.as_seconds()) else {
        return Value::Unknown;
    };
    let seconds = matches!(l, Value::Seconds(_)) || matches!(r, Value::Seconds(_));
    let both_int = matches!((l, r), (Value::Int(_), Value::Int(_)));
    let out = match op {
        Operator::Add => a + b,
        Operator::Sub => a - b,
        Operator::Mult => a * b,
        Operator::Div => {
            if b == 0.0 {
                return Value::Unknown;
            }
            a / b
        }
        Operator::FloorDiv => {
            if b == 0.0 {
                return Value::Unknown;
            }
            (a / b).floor()
        }
        _ => return Value::Unknown,
    };
    if seconds {
        Value::Seconds(out)
    } else if both_int && !matches!(op, Operator::Div) && out.abs() < 9.0e15 {
        Value::Int(out as i64)
    } else {
        Value::Float(out)
    }
}

fn canvas_kind_of(q: &str) -> Option<CanvasKind> {
    match q {
        "celery.group" | "celery.canvas.group" => Some(CanvasKind::Group),
        "celery.chord" | "celery.canvas.chord" => Some(CanvasKind::Chord),
        "celery.chain" | "celery.canvas.chain" => Some(CanvasKind::Chain),
        _ => None,
    }
}

fn is_env_call(func: &str) -> bool {
    let last = func.rsplit('.').next().unwrap_or(func);
    matches!(
        func,
        "os.environ.get" | "os.getenv" | "os.environ.setdefault"
    ) || func.starts_with("env.")
        || func == "env"
        || func.ends_with(".env")
        || func.starts_with("environ.")
        || matches!(
            last,
            "getenv"
                | "get_env"
                | "env_bool"
                | "env_int"
                | "env_str"
                | "get_env_variable"
                | "config"
        )
        || func.starts_with("decouple.")
}

fn is_atomic(q: &str) -> bool {
    q == "django.db.transaction.atomic"
        || q == "transaction.atomic"
        || q.ends_with(".transaction.atomic")
}

impl<'s> Visitor<'s> for Extractor<'s> {
    fn visit_stmt(&mut self, stmt: &'s Stmt) {
        self.nested(|ex| ex.visit_stmt_inner(stmt));
    }

    fn visit_expr(&mut self, expr: &'s Expr) {
        self.nested(|ex| ex.visit_expr_inner(expr));
    }
}

impl Extractor<'_> {
    /// One level deeper in the tree: every `STACK_CHECK_EVERY` levels, make sure the stack has
    /// room for the next ones.
    fn nested(&mut self, visit: impl FnOnce(&mut Self)) {
        self.depth += 1;
        if self.depth.is_multiple_of(STACK_CHECK_EVERY) {
            stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || visit(self));
        } else {
            visit(self);
        }
        self.depth -= 1;
    }
}

impl<'s> Extractor<'s> {
    fn visit_stmt_inner(&mut self, stmt: &'s Stmt) {
        match stmt {
            Stmt::Import(i) => {
                for alias in &i.names {
                    let name = alias.name.as_str();
                    self.facts.imported_modules.push(name.to_string());
                    match &alias.asname {
                        Some(as_) => {
                            self.flask_imported |= name == "flask" || name.starts_with("flask.");
                            self.imports.insert(as_.to_string(), name.to_string());
                        }
                        None => {
                            let first = name.split('.').next().unwrap_or(name);
                            self.flask_imported |= first == "flask";
                            self.imports.insert(first.to_string(), first.to_string());
                        }
                    }
                }
            }
            Stmt::ImportFrom(i) => {
                let base = self.resolve_relative(i.level, i.module.as_ref().map(|m| m.as_str()));
                self.note_from_import(&base, i);
                for alias in &i.names {
                    let name = alias.name.as_str();
                    if name == "*" {
                        if self.at_module_level() {
                            self.facts.star_imports.push(base.clone());
                        }
                        continue;
                    }
                    let local = alias.asname.as_ref().map_or(name, |a| a.as_str());
                    let q = if base.is_empty() {
                        name.to_string()
                    } else {
                        dotted(&base, name)
                    };
                    self.flask_imported |= q == "flask" || q.starts_with("flask.");
                    self.imports.insert(local.to_string(), q);
                }
            }
            Stmt::FunctionDef(f) => {
                if self.at_module_level() && matches!(f.name.as_str(), "gen_task_name") {
                    self.facts.overrides_gen_task_name = true;
                }
                if !self.at_module_level() && self.class_depth == 0 {
                    self.note_local_def(f.name.as_str());
                }
                self.visit_function(f);
                return;
            }
            Stmt::ClassDef(c) => {
                for d in &c.decorator_list {
                    self.visit_decorator(d);
                }
                if let Some(args) = &c.arguments {
                    self.visit_arguments(args);
                }
                let top = self.at_module_level();
                if top {
                    let qualname = dotted(&self.facts.module, c.name.as_str());
                    self.facts.class_decorators.push((
                        qualname.clone(),
                        c.decorator_list
                            .iter()
                            .map(|d| self.short(d.expression.range()))
                            .collect(),
                    ));
                    let bases: Vec<String> = c
                        .arguments
                        .as_ref()
                        .map(|a| a.args.iter().filter_map(|b| self.qualify(b)).collect())
                        .unwrap_or_default();
                    let mut attrs = Vec::new();
                    let mut methods = Vec::new();
                    let mut async_methods = Vec::new();
                    for s in &c.body {
                        match s {
                            Stmt::Assign(a) => {
                                for t in &a.targets {
                                    if let Expr::Name(n) = t {
                                        attrs.push(Assign {
                                            name: n.id.to_string(),
                                            value: self.eval(&a.value),
                                            span: span(n.range()),
                                            value_span: span(a.value.range()),
                                            conditional: false,
                                            under_debug: false,
                                        });
                                        self.record_literal_spans(n.id.as_str(), &a.value);
                                    }
                                }
                            }
                            Stmt::AnnAssign(a) => {
                                if let (Expr::Name(n), Some(v)) = (a.target.as_ref(), &a.value) {
                                    attrs.push(Assign {
                                        name: n.id.to_string(),
                                        value: self.eval(v),
                                        span: span(n.range()),
                                        value_span: span(v.range()),
                                        conditional: false,
                                        under_debug: false,
                                    });
                                    self.record_literal_spans(n.id.as_str(), v);
                                }
                            }
                            Stmt::FunctionDef(f) => {
                                methods.push(f.name.to_string());
                                if f.is_async {
                                    async_methods.push((f.name.to_string(), span(f.name.range())));
                                }
                            }
                            _ => {}
                        }
                    }
                    // `class MyCelery(Celery): def gen_task_name(...)`: generated names unknown.
                    if methods.iter().any(|m| m == "gen_task_name")
                        && bases.iter().any(|b| Self::last_segment(b) == "Celery")
                    {
                        self.facts.overrides_gen_task_name = true;
                    }
                    let is_task_class = methods.iter().any(|m| m == "run")
                        && bases
                            .iter()
                            .any(|b: &String| Self::last_segment(b).ends_with("Task"));
                    self.facts.classes.push(ClassFacts {
                        name: c.name.to_string(),
                        qualname,
                        bases,
                        attrs,
                        methods,
                        async_methods,
                        span: span(c.name.range()),
                        base_exprs: c.arguments.as_ref().map_or(0, |a| a.args.len()),
                    });
                    self.class_task = is_task_class
                        .then(|| (self.facts.classes.len() - 1, c.range().start().to_u32()));
                }
                self.class_depth += 1;
                self.visit_body(&c.body);
                self.class_depth -= 1;
                self.class_task = None;
                return;
            }
            Stmt::Assign(a) => {
                // `param = Wrapper(param)` normalises a default; passing it there is not a use.
                let s = self.scopes.last().expect("scope");
                let rebinds: Vec<&'s str> = a
                    .targets
                    .iter()
                    .filter_map(|t| match t {
                        Expr::Name(n) => Some(n.id.as_str()),
                        _ => None,
                    })
                    .filter(|n| {
                        s.mutable_params.iter().any(|(p, _)| p == n) && !s.used_mutable.contains(*n)
                    })
                    .collect();
                self.visit_expr(&a.value);
                for name in rebinds {
                    self.scope().used_mutable.remove(name);
                }
                self.on_assign(&a.targets, &a.value);
                for t in &a.targets {
                    if !matches!(t, Expr::Name(_)) {
                        self.visit_expr(t);
                    }
                }
                return;
            }
            Stmt::AnnAssign(a) => {
                if let Some(v) = &a.value {
                    self.visit_expr(v);
                    self.on_assign(std::slice::from_ref(a.target.as_ref()), v);
                }
                return;
            }
            Stmt::AugAssign(a) => {
                if self.at_module_level()
                    && let Expr::Name(n) = a.target.as_ref()
                {
                    self.facts.aug_assigned.push(n.id.to_string());
                }
                if let Expr::Subscript(s) = a.target.as_ref()
                    && let Some(name) = mutated_name(&s.value)
                {
                    self.note_mutated(name);
                }
                let base = match a.target.as_ref() {
                    Expr::Subscript(s) => s.value.as_ref(),
                    Expr::Attribute(at) => at.value.as_ref(),
                    other => other,
                };
                if let Expr::Name(n) = base {
                    self.use_mutable(n.id.as_str());
                }
            }
            Stmt::Return(r) => {
                if let Some(Expr::Name(n)) = r.value.as_deref() {
                    self.use_mutable(n.id.as_str());
                }
                if let Some(v) = r.value.as_deref() {
                    self.note_return(v);
                }
            }
            Stmt::Expr(e) => {
                if let Expr::Call(c) = e.value.as_ref() {
                    self.discarded = Some(key(c.range()));
                }
            }
            Stmt::With(w) => {
                let mut pushed = 0;
                let mut allow = 0;
                for item in &w.items {
                    self.visit_expr(&item.context_expr);
                    let func = match &item.context_expr {
                        Expr::Call(c) => c.func.as_ref(),
                        e => e,
                    };
                    if let Some(q) = self.qualify(func) {
                        if is_atomic(&q) {
                            let depth = self.scopes.len();
                            self.atomic
                                .push((self.short(item.context_expr.range()), depth));
                            pushed += 1;
                        }
                        if q.ends_with("allow_join_result") {
                            allow += 1;
                        }
                        if let Some(Expr::Name(n)) = item.optional_vars.as_deref() {
                            self.note_kind(n.id.as_str(), Some(&item.context_expr));
                        }
                        if (q == "requests.Session" || q == "requests.session")
                            && let Some(Expr::Name(n)) = item.optional_vars.as_deref()
                        {
                            self.scope()
                                .bindings
                                .insert(n.id.as_str(), Binding::Session(false));
                        }
                    }
                }
                self.scope().allow_join += allow;
                self.visit_body(&w.body);
                self.scope().allow_join -= allow;
                for _ in 0..pushed {
                    self.atomic.pop();
                }
                return;
            }
            Stmt::For(f) => {
                // The loop variable has no single known type (CD304/CD804); then the iterable,
                // then bind the loop variable to ORM rows, then the target.
                self.unbind_targets(&f.target);
                self.visit_expr(&f.iter);
                self.bind_orm_loop(&f.target, &f.iter);
                self.visit_expr(&f.target);
                self.scope().loops += 1;
                self.visit_body(&f.body);
                self.scope().loops -= 1;
                self.visit_body(&f.orelse);
                return;
            }
            Stmt::While(w) => {
                self.visit_expr(&w.test);
                self.scope().loops += 1;
                self.visit_body(&w.body);
                self.scope().loops -= 1;
                self.visit_body(&w.orelse);
                return;
            }
            Stmt::Try(t) => {
                self.note_loop_swallow(t);
                let handlers = t
                    .handlers
                    .iter()
                    .map(|ExceptHandler::ExceptHandler(h)| self.handler_info(h))
                    .collect();
                let catches_integrity = t.handlers.iter().any(|ExceptHandler::ExceptHandler(h)| {
                    self.text(h.type_.as_ref().map_or(h.range(), |e| e.range()))
                        .contains("IntegrityError")
                });
                if catches_integrity {
                    self.scope().guard_seen = true;
                }
                let module_level = self.at_module_level();
                if module_level {
                    self.conditional += 1;
                }
                let saved_branch = self.branch;
                if module_level {
                    self.branch = Some((t.range().start().to_u32(), 0));
                }
                self.tries.push(TryFrame {
                    scope_depth: self.scopes.len(),
                    handlers,
                });
                self.visit_body(&t.body);
                self.tries.pop();
                for (i, ExceptHandler::ExceptHandler(h)) in t.handlers.iter().enumerate() {
                    if module_level {
                        self.branch = Some((t.range().start().to_u32(), i as u32 + 1));
                    }
                    if let Some(ty) = &h.type_ {
                        self.visit_expr(ty);
                    }
                    self.scope().except_depth += 1;
                    self.visit_body(&h.body);
                    self.scope().except_depth -= 1;
                }
                if module_level {
                    self.branch = Some((t.range().start().to_u32(), 0));
                }
                self.visit_body(&t.orelse);
                self.branch = saved_branch;
                self.visit_body(&t.finalbody);
                if module_level {
                    self.conditional -= 1;
                }
                return;
            }
            Stmt::If(i) => {
                self.visit_expr(&i.test);
                let module_level = self.at_module_level();
                let is_debug = matches!(i.test.as_ref(), Expr::Name(n) if n.id.as_str() == "DEBUG")
                    || self.text(i.test.range()).contains("settings.DEBUG");
                // `if ...: return` early exits count as idempotency guards.
                if i.body.iter().any(|s| matches!(s, Stmt::Return(_))) {
                    self.scope().guard_seen = true;
                }
                if module_level {
                    self.conditional += 1;
                }
                let saved_branch = self.branch;
                if module_level {
                    self.branch = Some((i.range().start().to_u32(), 0));
                }
                if is_debug {
                    self.debug += 1;
                }
                self.visit_body(&i.body);
                if is_debug {
                    self.debug -= 1;
                }
                for (n, clause) in i.elif_else_clauses.iter().enumerate() {
                    if module_level {
                        self.branch = Some((i.range().start().to_u32(), n as u32 + 1));
                    }
                    if let Some(test) = &clause.test {
                        self.visit_expr(test);
                    }
                    self.visit_body(&clause.body);
                }
                self.branch = saved_branch;
                if module_level {
                    self.conditional -= 1;
                }
                return;
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr_inner(&mut self, expr: &'s Expr) {
        self.note_context_ref(expr);
        match expr {
            Expr::Call(call) => {
                // The callee's qualified name in a recycled buffer: this runs for every call.
                let mut q = self.qbufs.pop().unwrap_or_default();
                q.clear();
                if !self.qualify_into(&call.func, &mut q) {
                    q.clear();
                }
                let visit = self.on_call_expr(expr, call, &q);
                self.qbufs.push(q);
                match visit {
                    CallVisit::Canvas => {
                        self.canvas_depth += 1;
                        self.no_refs += 1;
                        self.visit_expr(&call.func);
                        self.no_refs -= 1;
                        self.visit_arguments(&call.arguments);
                        self.canvas_depth -= 1;
                    }
                    CallVisit::Periodic => {
                        self.visit_expr(&call.func);
                        self.periodic += 1;
                        self.visit_arguments(&call.arguments);
                        self.periodic -= 1;
                    }
                    CallVisit::OnCommit => {
                        self.visit_expr(&call.func);
                        self.on_commit += 1;
                        self.visit_arguments(&call.arguments);
                        self.on_commit -= 1;
                    }
                    CallVisit::Plain => {
                        // A callee is not a reference to record (a direct call runs
                        // synchronously).
                        self.no_refs += 1;
                        self.visit_expr(&call.func);
                        self.no_refs -= 1;
                        self.visit_arguments(&call.arguments);
                    }
                }
                return;
            }
            Expr::Dict(d) => {
                for item in &d.items {
                    if let Some(Expr::StringLiteral(k)) = &item.key {
                        self.note_url(&item.value, k.value.to_str());
                    }
                }
            }
            Expr::Attribute(a) => {
                let attr = a.attr.as_str();
                if a.ctx == ast::ExprContext::Load
                    && self.no_refs == 0
                    && matches!(Self::base_name(expr), Expr::Name(n) if self.is_global_name(n.id.as_str()))
                    && let Some(q) = self.qualify(expr)
                {
                    self.facts
                        .name_refs
                        .push((q, span(Self::base_name(expr).range())));
                }
                if let Expr::Name(n) = a.value.as_ref() {
                    let name = n.id.as_str();
                    if name == "settings" {
                        self.facts.settings_reads.push(attr.to_string());
                    }
                    let in_task = self.scopes.last().is_some_and(|s| s.task.is_some());
                    if in_task
                        && name == "self"
                        && matches!(attr, "retry_backoff" | "retry_backoff_max" | "retry_jitter")
                    {
                        self.scope().body.reads_retry_options = true;
                    }
                    if in_task && name == "self" && SELF_TASK_ATTRS.contains(&attr) {
                        self.scope()
                            .body
                            .self_attrs
                            .push((attr.to_string(), span(a.range())));
                    }
                }
                if RESULT_READ_ATTRS.contains(&attr) {
                    self.note_read(&a.value, || format!(".{attr}"), span(a.range()));
                }
                // The rest of the chain is part of this reference.
                self.no_refs += 1;
                self.visit_expr(&a.value);
                self.no_refs -= 1;
                return;
            }
            Expr::Name(n)
                if n.ctx == ast::ExprContext::Load
                    && self.no_refs == 0
                    && self.is_global_name(n.id.as_str()) =>
            {
                if let Some(q) = self.qualify(expr)
                    && q.contains('.')
                {
                    self.facts.name_refs.push((q, span(n.range())));
                }
            }
            Expr::Lambda(l) => {
                if let Some(params) = &l.parameters {
                    self.visit_parameters(params);
                }
                self.scopes.push(Scope {
                    is_function: true,
                    ..Scope::default()
                });
                self.visit_expr(&l.body);
                self.scopes.pop();
                return;
            }
            Expr::BinOp(b)
                if self.canvas_depth == 0
                    && b.op == Operator::BitOr
                    && self.is_canvas_expr(expr) =>
            {
                self.record_canvas(expr);
                self.canvas_depth += 1;
                visitor::walk_expr(self, expr);
                self.canvas_depth -= 1;
                return;
            }
            Expr::Yield(_) | Expr::YieldFrom(_) => {
                self.scope().body.has_yield = true;
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

/// How the children of a call expression are visited.
enum CallVisit {
    /// The outermost canvas: its members are recorded with it.
    Canvas,
    /// `app.add_periodic_task(...)`.
    Periodic,
    /// `transaction.on_commit(...)`: dispatches inside are deferred.
    OnCommit,
    Plain,
}

impl<'s> Extractor<'s> {
    /// The facts of a call expression whose callee qualifies to `q` (empty when it does not).
    fn on_call_expr(&mut self, expr: &'s Expr, call: &'s ast::ExprCall, q: &str) -> CallVisit {
        // Nested canvases are members of the outer one, recorded with it.
        let starts_canvas = canvas_kind_of(q).is_some()
            || matches!(call.func.as_ref(), Expr::Call(inner) if self.canvas_kind(&inner.func) == Some(CanvasKind::Chord));
        if self.canvas_depth == 0 && starts_canvas {
            self.record_canvas(expr);
            self.canvas_depth += 1;
            self.on_call(call, q);
            self.canvas_depth -= 1;
            return CallVisit::Canvas;
        }
        self.on_call(call, q);
        if q.ends_with(".add_periodic_task") {
            self.record_periodic_task(call);
            return CallVisit::Periodic;
        }
        if q.ends_with("transaction.on_commit") || q == "on_commit" {
            return CallVisit::OnCommit;
        }
        // Keyword string URLs: Celery(broker="amqp://u:p@h").
        for k in &call.arguments.keywords {
            if let Some(arg) = &k.arg {
                self.note_url(&k.value, arg.as_str());
            }
        }
        if matches!(q, "celery.Celery" | "celery.app.Celery") {
            for a in call.arguments.args.iter() {
                self.note_url(a, "Celery");
            }
        }
        CallVisit::Plain
    }
}

const FLASK_CONTEXT_NAMES: &[&str] = &[
    "flask.current_app",
    "flask.g",
    "flask.url_for",
    "flask.render_template",
    "flask.render_template_string",
];

/// Handler body statements, without nested functions and classes.
fn contains_raise(body: &[Stmt]) -> bool {
    body.iter().any(|s| match s {
        Stmt::Raise(_) => true,
        Stmt::If(i) => {
            contains_raise(&i.body) || i.elif_else_clauses.iter().any(|c| contains_raise(&c.body))
        }
        Stmt::With(w) => contains_raise(&w.body),
        Stmt::Try(t) => {
            contains_raise(&t.body)
                || contains_raise(&t.orelse)
                || contains_raise(&t.finalbody)
                || t.handlers
                    .iter()
                    .any(|ExceptHandler::ExceptHandler(h)| contains_raise(&h.body))
        }
        Stmt::For(f) => contains_raise(&f.body) || contains_raise(&f.orelse),
        Stmt::While(w) => contains_raise(&w.body) || contains_raise(&w.orelse),
        Stmt::Match(m) => m.cases.iter().any(|c| contains_raise(&c.body)),
        _ => false,
    })
}

impl<'s> Extractor<'s> {
    /// CD205: a `try` directly in a loop whose first broad handler swallows everything.
    fn note_loop_swallow(&mut self, t: &ast::StmtTry) {
        let Some(scope) = self.scopes.last() else {
            return;
        };
        if !scope.is_function || scope.loops == 0 {
            return;
        }
        for ExceptHandler::ExceptHandler(h) in &t.handlers {
            let names: Vec<String> = match h.type_.as_deref() {
                None => vec![String::new()],
                Some(Expr::Tuple(tuple)) => {
                    tuple.elts.iter().filter_map(|e| self.qualify(e)).collect()
                }
                Some(e) => self.qualify(e).into_iter().collect(),
            };
            if names
                .iter()
                .any(|n| Self::last_segment(n).ends_with("TimeLimitExceeded"))
            {
                return;
            }
            let broad = names.iter().find(|n| {
                n.is_empty() || matches!(Self::last_segment(n), "Exception" | "BaseException")
            });
            let Some(broad) = broad else { continue };
            let exits = matches!(
                h.body.last(),
                Some(Stmt::Raise(_) | Stmt::Return(_) | Stmt::Break(_))
            );
            if exits || contains_raise(&h.body) || self.retries_always(&h.body) {
                return;
            }
            let end = h
                .type_
                .as_ref()
                .map_or(h.range().start().to_u32() + 6, |e| e.range().end().to_u32());
            let caught = Self::last_segment(broad).to_string();
            let handler_calls = h
                .body
                .iter()
                .filter_map(|s| match s {
                    Stmt::Expr(e) => match e.value.as_ref() {
                        Expr::Call(c) => self.qualify(&c.func),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            self.scope().body.loop_swallows.push(LoopSwallow {
                caught,
                span: Span::new(h.range().start().to_u32(), end),
                handler_calls,
            });
            return;
        }
    }

    /// `eta=<now>() + timedelta(...)`: the delay in seconds.
    fn eta_delay(&self, expr: &Expr) -> Option<f64> {
        let Expr::BinOp(b) = expr else { return None };
        if b.op != Operator::Add {
            return None;
        }
        let is_now = |e: &Expr| match e {
            Expr::Call(c) => self
                .qualify(&c.func)
                .is_some_and(|q| matches!(Self::last_segment(&q), "now" | "utcnow")),
            _ => false,
        };
        let (other, now) = if is_now(&b.left) {
            (&b.right, true)
        } else if is_now(&b.right) {
            (&b.left, true)
        } else {
            (&b.left, false)
        };
        if !now {
            return None;
        }
        match self.eval(other) {
            Value::Seconds(s) => Some(s),
            _ => None,
        }
    }

    /// `from base import a, b`: the package and each name (which may be a submodule).
    fn note_from_import(&mut self, base: &str, i: &ast::StmtImportFrom) {
        if base.is_empty() {
            return;
        }
        self.facts.imported_modules.push(base.to_string());
        for alias in &i.names {
            if alias.name.as_str() != "*" {
                self.facts
                    .imported_modules
                    .push(dotted(base, alias.name.as_str()));
            }
        }
    }

    /// Calls the framework rules need: app contexts, dynamic imports, autodiscovery.
    fn on_framework_call(&mut self, call: &ast::ExprCall, q: &str) {
        // `if has_app_context(): current_app...`: the code checks for a context before using
        // it, so later uses count as covered (CD002).
        if matches!(q, "flask.has_app_context" | "flask.has_request_context") {
            let at = span(call.range());
            self.scope().body.context_pushes.push(at);
        }
        if let Expr::Attribute(attr) = call.func.as_ref() {
            let method = attr.attr.as_str();
            if matches!(method, "app_context" | "test_request_context") {
                let in_dunder_call = self.scopes.iter().any(|s| s.def_short_name == "__call__");
                let at = span(call.range());
                self.scope().body.context_pushes.push(at);
                self.facts.context_calls.push(ContextCall {
                    span: at,
                    in_dunder_call,
                    pushed: false,
                });
            }
            if method == "push"
                && let Expr::Call(inner) = attr.value.as_ref()
                && let Expr::Attribute(ia) = inner.func.as_ref()
                && matches!(ia.attr.as_str(), "app_context" | "test_request_context")
            {
                self.facts.context_calls.push(ContextCall {
                    span: span(call.range()),
                    in_dunder_call: false,
                    pushed: true,
                });
            }
            if method == "autodiscover_tasks" {
                let packages =
                    Self::keyword(call, "packages").or_else(|| call.arguments.args.first());
                let related =
                    Self::keyword(call, "related_name").or_else(|| call.arguments.args.get(1));
                self.facts.autodiscover.push(Autodiscover {
                    app: self.qualify(&attr.value),
                    packages: packages.map(|p| self.eval(p)),
                    installed_apps: packages
                        .is_some_and(|p| self.text(p.range()).contains("INSTALLED_APPS")),
                    related_name: related.map(|r| self.eval(r)),
                    span: span(call.range()),
                });
            }
        }
        match q {
            "importlib.import_module" | "__import__" => match call.arguments.args.first() {
                Some(Expr::StringLiteral(s)) if !s.value.to_str().starts_with('.') => {
                    self.facts
                        .imported_modules
                        .push(s.value.to_str().to_string());
                }
                _ => self.facts.dynamic_import = Some(span(call.range())),
            },
            _ if q.starts_with("pkgutil.") || q == "importlib.__import__" => {
                self.facts.dynamic_import = Some(span(call.range()));
            }
            // Django's loaders: `import_string("a.b.C")` imports `a.b`; `autodiscover_modules`
            // imports a module of every installed app.
            "django.utils.module_loading.import_string" => match call.arguments.args.first() {
                Some(Expr::StringLiteral(s)) if s.value.to_str().contains('.') => {
                    let path = s.value.to_str();
                    let module = path.rsplit_once('.').map_or(path, |(m, _)| m);
                    self.facts.imported_modules.push(module.to_string());
                }
                _ => self.facts.dynamic_import = Some(span(call.range())),
            },
            "django.utils.module_loading.import_module"
            | "django.utils.importlib.import_module" => match call.arguments.args.first() {
                Some(Expr::StringLiteral(s)) if !s.value.to_str().starts_with('.') => {
                    self.facts
                        .imported_modules
                        .push(s.value.to_str().to_string());
                }
                _ => self.facts.dynamic_import = Some(span(call.range())),
            },
            "django.utils.module_loading.autodiscover_modules" => {
                self.facts.dynamic_import = Some(span(call.range()));
            }
            _ => {}
        }
    }

    /// CD002: a use that needs a Flask application context, in a function body.
    fn note_context_ref(&mut self, expr: &Expr) {
        if self.scopes.len() < 2 {
            return;
        }
        let q = match expr {
            Expr::Name(n) if n.ctx == ast::ExprContext::Load && self.flask_imported => {
                match self.imports.get(n.id.as_str()) {
                    Some(q) if FLASK_CONTEXT_NAMES.contains(&q.as_str()) => q.clone(),
                    _ => return,
                }
            }
            Expr::Attribute(a) if a.ctx == ast::ExprContext::Load => {
                let Expr::Name(base) = a.value.as_ref() else {
                    return;
                };
                let attr = a.attr.as_str();
                let flask_module = self.flask_imported
                    && self
                        .imports
                        .get(base.id.as_str())
                        .is_some_and(|q| q == "flask");
                if flask_module {
                    let q = format!("flask.{attr}");
                    if !FLASK_CONTEXT_NAMES.contains(&q.as_str()) {
                        return;
                    }
                    q
                } else if matches!(attr, "session" | "query" | "send")
                    && self.is_global_name(base.id.as_str())
                {
                    match self.qualify(expr) {
                        Some(q) => q,
                        None => return,
                    }
                } else {
                    return;
                }
            }
            _ => return,
        };
        let at = span(expr.range());
        self.scope().body.context_refs.push((q, at));
    }

    fn record_handler(
        &mut self,
        f: &ast::StmtFunctionDef,
        class: Option<String>,
        waits: &[ResultWait],
    ) {
        let qualname = match &class {
            Some(c) => dotted(c, f.name.as_str()),
            None => dotted(&self.facts.module, f.name.as_str())
                .trim_start_matches('.')
                .to_string(),
        };
        self.facts.handlers.push(HandlerFacts {
            qualname,
            class,
            name: f.name.to_string(),
            is_async: f.is_async,
            decorator_targets: f
                .decorator_list
                .iter()
                .map(|d| match &d.expression {
                    Expr::Call(c) => self.qualify(&c.func),
                    e => self.qualify(e),
                })
                .collect(),
            first_param: f
                .parameters
                .posonlyargs
                .iter()
                .chain(f.parameters.args.iter())
                .next()
                .map(|p| p.parameter.name.to_string()),
            waits: waits.to_vec(),
            def_span: span(f.name.range()),
        });
    }
}

// ----- ORM objects, views and serializers (CD601, CD603, CD802) ----------------------------

/// Manager/queryset methods that return a model instance.
const ORM_INSTANCE_METHODS: &[&str] = &["get", "create", "first", "last", "latest", "earliest"];
/// Methods that return another `QuerySet`.
const ORM_QUERYSET_METHODS: &[&str] = &[
    "all",
    "filter",
    "exclude",
    "select_related",
    "prefetch_related",
    "order_by",
    "distinct",
    "annotate",
    "alias",
    "only",
    "defer",
    "values",
    "values_list",
    "none",
    "using",
    "select_for_update",
    "reverse",
];
const MODEL_SIGNALS: &[&str] = &[
    "post_save",
    "pre_save",
    "m2m_changed",
    "post_delete",
    "pre_delete",
];

impl<'s> Extractor<'s> {
    /// Name the `def` scope and bind the parameters that are ORM objects (`self` in a method,
    /// `instance` in a model-signal receiver); every other parameter shadows outer bindings.
    fn prepare_def_scope(
        &self,
        f: &'s ast::StmtFunctionDef,
        scope: &mut Scope<'s>,
        top_level: bool,
    ) {
        let method_of = (self.class_depth == 1 && self.scopes.len() == 1)
            .then(|| self.facts.classes.last().map(|c| c.qualname.clone()))
            .flatten();
        scope.def_name = if top_level {
            // Spelled like `FunctionFacts::qualname`, so helpers are found by the same name.
            Some(dotted(&self.facts.module, f.name.as_str()))
        } else {
            method_of.as_ref().map(|c| dotted(c, f.name.as_str()))
        };
        // Parameters shadow ORM objects bound in enclosing scopes.
        for p in f.parameters.iter() {
            let name = p.name().as_str();
            if self.scopes.iter().any(|s| s.orm.contains_key(name)) {
                scope.orm.insert(name, None);
            }
        }
        if let (Some(class), Some(first)) = (&method_of, scope.first_param.as_deref())
            && first == "self"
        {
            scope.orm.insert(
                "self",
                Some((
                    OrmKind::SelfOf(class.clone()),
                    "the model's own method".into(),
                )),
            );
        }
        let signal = f.decorator_list.iter().find_map(|d| {
            let Expr::Call(c) = &d.expression else {
                return None;
            };
            let q = self.qualify(&c.func)?;
            if Self::last_segment(&q) != "receiver" {
                return None;
            }
            let first = c.arguments.args.first()?;
            let signals: Vec<&Expr> = match first {
                Expr::List(l) => l.elts.iter().collect(),
                Expr::Tuple(t) => t.elts.iter().collect(),
                e => vec![e],
            };
            signals.into_iter().find_map(|s| {
                let q = self.qualify(s)?;
                let last = Self::last_segment(&q).to_string();
                MODEL_SIGNALS.contains(&last.as_str()).then_some(last)
            })
        });
        if let Some(signal) = signal
            && f.parameters.iter().any(|p| p.name().as_str() == "instance")
        {
            scope.orm.insert(
                "instance",
                Some((
                    OrmKind::Instance,
                    format!("the `{signal}` receiver's `instance`"),
                )),
            );
        }
    }

    fn lookup_orm(&self, name: &str) -> Option<(OrmKind, String)> {
        for scope in self.scopes.iter().rev() {
            if let Some(found) = scope.orm.get(name) {
                return found.clone();
            }
        }
        None
    }

    /// A `Model.objects....method(...)` chain: `(terminal method, inner methods)`.
    fn manager_chain<'e>(&self, call: &'e ast::ExprCall) -> Option<(&'e str, Vec<&'e str>)> {
        let Expr::Attribute(a) = call.func.as_ref() else {
            return None;
        };
        let terminal = a.attr.as_str();
        let mut inner = Vec::new();
        let mut cur = a.value.as_ref();
        loop {
            match cur {
                Expr::Call(c) => {
                    let Expr::Attribute(ca) = c.func.as_ref() else {
                        return None;
                    };
                    inner.push(ca.attr.as_str());
                    cur = ca.value.as_ref();
                }
                Expr::Attribute(m) if m.attr.as_str() == "objects" => {
                    let model = match m.value.as_ref() {
                        Expr::Name(n) => n.id.as_str(),
                        Expr::Attribute(x) => x.attr.as_str(),
                        Expr::Call(c) => {
                            let q = self.qualify(&c.func)?;
                            if Self::last_segment(&q) == "get_user_model" {
                                "User"
                            } else {
                                return None;
                            }
                        }
                        _ => return None,
                    };
                    if !model.chars().next().is_some_and(char::is_uppercase) {
                        return None;
                    }
                    return Some((terminal, inner));
                }
                _ => return None,
            }
        }
    }

    /// What a Django manager chain returns, if it is an ORM object.
    fn manager_result(&self, call: &ast::ExprCall) -> Option<OrmKind> {
        let (terminal, inner) = self.manager_chain(call)?;
        if !inner.iter().all(|m| ORM_QUERYSET_METHODS.contains(m)) {
            return None;
        }
        let values = inner.iter().any(|m| matches!(*m, "values" | "values_list"));
        if ORM_QUERYSET_METHODS.contains(&terminal) {
            return Some(OrmKind::QuerySet);
        }
        (!values && ORM_INSTANCE_METHODS.contains(&terminal)).then_some(OrmKind::Instance)
    }

    /// An SQLAlchemy query returning a mapped instance.
    fn sqlalchemy_result(&self, call: &ast::ExprCall) -> bool {
        let Expr::Attribute(a) = call.func.as_ref() else {
            return false;
        };
        let method = a.attr.as_str();
        // `session.get(Model, pk)`
        if method == "get"
            && let Some(Expr::Name(model)) = call.arguments.args.first()
            && model.id.chars().next().is_some_and(char::is_uppercase)
            && call.arguments.args.len() == 2
        {
            let receiver = match a.value.as_ref() {
                Expr::Name(n) => n.id.as_str(),
                Expr::Attribute(x) => x.attr.as_str(),
                _ => "",
            };
            return receiver == "session" || receiver.ends_with("_session");
        }
        if !matches!(method, "first" | "one" | "one_or_none" | "get") {
            return false;
        }
        // `Model.query....first()` or `session.query(Model)....first()`.
        let mut cur = a.value.as_ref();
        loop {
            match cur {
                Expr::Call(c) => match c.func.as_ref() {
                    Expr::Attribute(ca) if ca.attr.as_str() == "query" => {
                        return matches!(ca.value.as_ref(), Expr::Name(n) if n.id.as_str() == "session" || n.id.ends_with("_session"))
                            || matches!(ca.value.as_ref(), Expr::Attribute(x) if x.attr.as_str() == "session");
                    }
                    Expr::Attribute(ca)
                        if matches!(
                            ca.attr.as_str(),
                            "filter" | "filter_by" | "order_by" | "options" | "join" | "where"
                        ) =>
                    {
                        cur = ca.value.as_ref();
                    }
                    _ => return false,
                },
                Expr::Attribute(q) if q.attr.as_str() == "query" => {
                    return matches!(q.value.as_ref(), Expr::Name(n) if n.id.chars().next().is_some_and(char::is_uppercase));
                }
                _ => return false,
            }
        }
    }

    /// Is `expr` an ORM object, and where does it come from?
    fn orm_of(&self, expr: &Expr) -> Option<(OrmKind, String)> {
        match expr {
            Expr::Name(n) => self.lookup_orm(n.id.as_str()),
            Expr::Attribute(a) if a.attr.as_str() == "user" => {
                let is_request = match a.value.as_ref() {
                    Expr::Name(n) => n.id.as_str() == "request",
                    Expr::Attribute(r) => {
                        r.attr.as_str() == "request"
                            && matches!(r.value.as_ref(), Expr::Name(n) if n.id.as_str() == "self")
                    }
                    _ => false,
                };
                is_request.then(|| (OrmKind::RequestUser, "the request's user".to_string()))
            }
            Expr::Subscript(s) => {
                // `Model.objects.get_or_create(...)[0]`
                let Expr::Call(c) = s.value.as_ref() else {
                    return None;
                };
                let (terminal, inner) = self.manager_chain(c)?;
                let first = matches!(s.slice.as_ref(), Expr::NumberLiteral(n) if matches!(&n.value, Number::Int(i) if i.as_u8() == Some(0)));
                (first
                    && matches!(terminal, "get_or_create" | "update_or_create")
                    && inner.iter().all(|m| ORM_QUERYSET_METHODS.contains(m)))
                .then(|| (OrmKind::Instance, format!("`{}`", self.short(c.range()))))
            }
            Expr::Call(c) => {
                let origin = || format!("`{}`", self.short(c.range()));
                if let Some(kind) = self.manager_result(c) {
                    return Some((kind, origin()));
                }
                if self.sqlalchemy_result(c) {
                    return Some((OrmKind::SqlAlchemy, origin()));
                }
                let q = self.qualify(&c.func)?;
                let last = Self::last_segment(&q);
                if last == "get_object_or_404" {
                    return Some((OrmKind::Instance, origin()));
                }
                if let Expr::Attribute(a) = c.func.as_ref()
                    && a.attr.as_str() == "save"
                {
                    let receiver = match a.value.as_ref() {
                        Expr::Name(n) => n.id.to_ascii_lowercase(),
                        Expr::Attribute(x) => x.attr.to_ascii_lowercase(),
                        _ => String::new(),
                    };
                    if receiver.ends_with("form") || receiver.ends_with("serializer") {
                        return Some((OrmKind::Instance, origin()));
                    }
                    return None;
                }
                // `Invoice(...)`: a model instance if `Invoice` derives `models.Model`.
                let global = matches!(Self::base_name(&c.func), Expr::Name(n) if self.is_global_name(n.id.as_str()));
                if global && last.chars().next().is_some_and(char::is_uppercase) && q.contains('.')
                {
                    return Some((OrmKind::Constructed(q.clone()), origin()));
                }
                None
            }
            _ => None,
        }
    }

    /// Record a binding in the current scope; a non-ORM value is only recorded when it shadows
    /// an ORM binding (most locals are never looked up).
    fn bind_orm(&mut self, name: &'s str, value: Option<(OrmKind, String)>) {
        if value.is_some() || self.scopes.iter().any(|s| s.orm.contains_key(name)) {
            self.scope().orm.insert(name, value);
        }
    }

    /// `obj, created = Model.objects.get_or_create(...)`.
    fn bind_orm_tuple(&mut self, targets: &'s [Expr], value: &Expr) {
        let mut first = None;
        if let Expr::Call(c) = value
            && let Some((terminal, inner)) = self.manager_chain(c)
            && matches!(terminal, "get_or_create" | "update_or_create")
            && inner.iter().all(|m| ORM_QUERYSET_METHODS.contains(m))
        {
            first = Some((OrmKind::Instance, format!("`{}`", self.short(c.range()))));
        }
        for (i, e) in targets.iter().enumerate() {
            if let Expr::Name(n) = e {
                let v = if i == 0 { first.clone() } else { None };
                self.bind_orm(n.id.as_str(), v);
            }
        }
    }

    /// `for order in Order.objects.filter(...)`: the loop variable is a model instance.
    fn bind_orm_loop(&mut self, target: &'s Expr, iter: &Expr) {
        // Iterating `values()` / `values_list()` yields plain data, not instances.
        let from_queryset = matches!(
            self.orm_of(iter),
            Some((OrmKind::QuerySet, origin))
                if !origin.contains(".values(") && !origin.contains(".values_list(")
        );
        match target {
            Expr::Name(n) => {
                let v = from_queryset.then(|| {
                    (
                        OrmKind::Instance,
                        format!("iterating `{}`", self.short(iter.range())),
                    )
                });
                self.bind_orm(n.id.as_str(), v);
            }
            Expr::Tuple(t) => {
                for e in &t.elts {
                    if let Expr::Name(n) = e {
                        self.bind_orm(n.id.as_str(), None);
                    }
                }
            }
            _ => {}
        }
    }

    /// Task arguments of a dispatch that are ORM objects.
    fn orm_args(&self, kind: DispatchKind, call: &ast::ExprCall) -> Vec<OrmArg> {
        let mut exprs: Vec<&Expr> = Vec::new();
        match kind {
            DispatchKind::Delay
            | DispatchKind::DelayOnCommit
            | DispatchKind::S
            | DispatchKind::Si => {
                exprs.extend(call.arguments.args.iter());
                exprs.extend(call.arguments.keywords.iter().map(|k| &k.value));
            }
            DispatchKind::ApplyAsync
            | DispatchKind::ApplyAsyncOnCommit
            | DispatchKind::Signature
            | DispatchKind::SendTask
            | DispatchKind::SignatureByName => {
                let offset = usize::from(matches!(
                    kind,
                    DispatchKind::SendTask | DispatchKind::SignatureByName
                ));
                let args = Self::keyword(call, "args").or_else(|| call.arguments.args.get(offset));
                let kwargs =
                    Self::keyword(call, "kwargs").or_else(|| call.arguments.args.get(offset + 1));
                match args {
                    Some(Expr::Tuple(t)) => exprs.extend(t.elts.iter()),
                    Some(Expr::List(l)) => exprs.extend(l.elts.iter()),
                    _ => {}
                }
                match kwargs {
                    Some(Expr::Dict(d)) => exprs.extend(d.items.iter().map(|i| &i.value)),
                    Some(Expr::Call(c)) if self.qualify(&c.func).as_deref() == Some("dict") => {
                        exprs.extend(c.arguments.keywords.iter().map(|k| &k.value));
                    }
                    _ => {}
                }
            }
        }
        exprs
            .into_iter()
            .filter_map(|e| {
                let (kind, origin) = self.orm_of(e)?;
                Some(OrmArg {
                    kind,
                    text: self.short(e.range()),
                    origin,
                    span: span(e.range()),
                })
            })
            .collect()
    }

    /// `kombu.serialization.register("name", ...)` and `app.setup_security(...)`.
    fn on_serializer_call(&mut self, call: &ast::ExprCall, q: &str) {
        let Some(registration) = serializer_registration(q) else {
            return self.on_setup_security(call);
        };
        // One detection feeds both facts: any registration means custom encoding is in play
        // (CD304, CD804); a named serializer is also accepted by name (CD601, CD802).
        self.facts.registers_serializer = true;
        if registration == SerializerRegistration::Serializer {
            let name = Self::keyword(call, "name").or_else(|| call.arguments.args.first());
            if let Some(Expr::StringLiteral(s)) = name {
                self.facts
                    .registered_serializers
                    .push(s.value.to_str().to_string());
            } else {
                // A computed name: every serializer name may be a custom one.
                self.facts.registered_serializers.push("*".to_string());
            }
        }
        self.on_setup_security(call);
    }

    fn on_setup_security(&mut self, call: &ast::ExprCall) {
        if let Expr::Attribute(a) = call.func.as_ref()
            && a.attr.as_str() == "setup_security"
        {
            self.facts.calls_setup_security = true;
        }
    }

    /// `DATABASES["default"]["ATOMIC_REQUESTS"] = True` at module level.
    fn note_subscript_assign(&mut self, target: &ast::ExprSubscript, value: &Value) {
        let Expr::StringLiteral(k) = target.slice.as_ref() else {
            return;
        };
        let mut keys = vec![k.value.to_str().to_string()];
        let mut cur: &Expr = target.value.as_ref();
        loop {
            match cur {
                Expr::Subscript(s) => {
                    let Expr::StringLiteral(k) = s.slice.as_ref() else {
                        return;
                    };
                    keys.push(k.value.to_str().to_string());
                    cur = s.value.as_ref();
                }
                Expr::Name(n) => {
                    keys.reverse();
                    self.facts.subscript_assigns.push(SubscriptAssign {
                        name: n.id.to_string(),
                        keys,
                        value: value.clone(),
                        span: span(target.range()),
                    });
                    return;
                }
                _ => return,
            }
        }
    }
}

// ----- beat schedules and routes (catalog M6, M7) --------------------------------------------

/// Configuration names whose literal values get [`LiteralSpan`]s: beat schedules and routes.
fn wants_literal_spans(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("schedule") || lower.contains("route") || lower.contains("periodic")
}

const LITERAL_SPAN_DEPTH: usize = 4;

impl<'s> Extractor<'s> {
    /// Record the spans inside the literal value of configuration name `name`.
    fn record_literal_spans(&mut self, name: &str, value: &Expr) {
        if !wants_literal_spans(name)
            || !matches!(value, Expr::Dict(_) | Expr::List(_) | Expr::Tuple(_))
        {
            return;
        }
        let root = span(value.range());
        let mut path = Vec::new();
        self.literal_spans_in(root, value, &mut path);
    }

    fn literal_spans_in(&mut self, root: Span, value: &Expr, path: &mut Vec<String>) {
        if path.len() >= LITERAL_SPAN_DEPTH {
            return;
        }
        match value {
            Expr::Dict(d) => {
                for item in &d.items {
                    let Some(k) = &item.key else { continue };
                    let Some(component) = literal_path_key(&self.eval(k)) else {
                        continue;
                    };
                    path.push(component);
                    self.facts.literal_spans.push(LiteralSpan {
                        root,
                        path: path.clone(),
                        key_span: span(k.range()),
                        value_span: span(item.value.range()),
                    });
                    self.literal_spans_in(root, &item.value, path);
                    path.pop();
                }
            }
            Expr::List(ast::ExprList { elts, .. }) | Expr::Tuple(ast::ExprTuple { elts, .. }) => {
                for (i, e) in elts.iter().enumerate() {
                    path.push(format!("#{i}"));
                    self.facts.literal_spans.push(LiteralSpan {
                        root,
                        path: path.clone(),
                        key_span: span(e.range()),
                        value_span: span(e.range()),
                    });
                    self.literal_spans_in(root, e, path);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// `app.add_periodic_task(schedule, sig, args=(), kwargs=(), name=None, **opts)`.
    fn record_periodic_task(&mut self, call: &ast::ExprCall) {
        let args = &call.arguments.args;
        let schedule = args
            .first()
            .or_else(|| Self::keyword(call, "schedule"))
            .map_or(Value::Unknown, |e| self.eval(e));
        let Some(sig) = args.get(1).or_else(|| Self::keyword(call, "sig")) else {
            return;
        };
        // `t.s().set(expires=...)` is the signature `t.s()` with options.
        let member = self.wrapped_member(sig);
        let canvas = if member.is_some() {
            None
        } else {
            match sig {
                Expr::Call(c) => self.canvas_kind(&c.func).map(|k| match k {
                    CanvasKind::Chain => "chain",
                    CanvasKind::Group => "group",
                    CanvasKind::Chord => "chord",
                }),
                Expr::BinOp(b) if b.op == Operator::BitOr && self.is_canvas_expr(sig) => {
                    Some("chain")
                }
                _ => None,
            }
            .map(str::to_string)
        };
        // `signature("name", ...)`, `app.signature("name")`, `Signature("name")`.
        let task_name = match sig {
            Expr::Call(c) if member.is_none() && canvas.is_none() => {
                let q = self.qualify(&c.func).unwrap_or_default();
                let last = Self::last_segment(&q);
                match c.arguments.args.first() {
                    Some(Expr::StringLiteral(s)) if matches!(last, "signature" | "Signature") => {
                        Some((s.value.to_str().to_string(), span(s.range())))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        // Options the signature carries: beat merges them into the entry's options.
        let sig_options = match (&member, sig) {
            (Some(m), _) => m.set_options.clone(),
            (None, Expr::Call(c)) if task_name.is_some() => self.signature_options(c, 3),
            _ => Vec::new(),
        };
        let keywords = call
            .arguments
            .keywords
            .iter()
            .filter_map(|k| {
                k.arg
                    .as_ref()
                    .map(|a| (a.to_string(), self.eval(&k.value), span(k.value.range())))
            })
            .collect();
        let function = self.scopes.last().and_then(|s| s.function.clone());
        let sig_text = crate::text::one_line(self.text(sig.range()));
        self.facts.periodic_tasks.push(PeriodicTask {
            span: span(call.range()),
            schedule,
            target: member.map(|m| m.target),
            task_name,
            canvas,
            sig_text,
            sig_span: span(sig.range()),
            keywords,
            has_star: Self::has_star_kwargs(call) || Self::has_starred(call),
            function,
            sig_options,
        });
    }

    /// The options of a `Signature(...)`-style call whose `options` argument is positional
    /// number `options_at`: `options=`/positional dict entries and every other keyword except
    /// `args`, `kwargs`, `immutable`, `subtask_type`, `type` and `app`. Options the extractor
    /// cannot read (`**opts`, a computed `options`) are recorded as `("**", Unknown)`.
    fn signature_options(&self, c: &ast::ExprCall, options_at: usize) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        let dict = |out: &mut Vec<(String, Value)>, v: Value| match v {
            Value::Dict(items) => {
                for (k, v) in items {
                    match k {
                        Value::Str(k) => out.push((k, v)),
                        _ => out.push(("**".to_string(), Value::Unknown)),
                    }
                }
            }
            Value::None => {}
            _ => out.push(("**".to_string(), Value::Unknown)),
        };
        if Self::has_starred(c) {
            out.push(("**".to_string(), Value::Unknown));
        } else if let Some(e) = c.arguments.args.get(options_at) {
            dict(&mut out, self.eval(e));
        }
        for k in &c.arguments.keywords {
            let Some(name) = &k.arg else {
                out.push(("**".to_string(), Value::Unknown));
                continue;
            };
            match name.as_str() {
                "args" | "kwargs" | "immutable" | "subtask_type" | "type" | "app" => {}
                "options" => dict(&mut out, self.eval(&k.value)),
                n => out.push((n.to_string(), self.eval(&k.value))),
            }
        }
        out
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SerializerRegistration {
    /// `kombu.serialization.register("name", ...)` (and `registry.register`): a serializer
    /// name.
    Serializer,
    /// `kombu.utils.json.register_type(...)`: the JSON serializer learns a type.
    JsonType,
}

/// What a call to `q` registers with kombu, if anything.
fn serializer_registration(q: &str) -> Option<SerializerRegistration> {
    if q == "kombu.utils.json.register_type" {
        return Some(SerializerRegistration::JsonType);
    }
    (q.starts_with("kombu.") && q.ends_with(".register"))
        .then_some(SerializerRegistration::Serializer)
}

/// A member seen while following a canvas's result flow.
struct Role {
    receives: Feed,
    feeds: Feed,
    member: CanvasMember,
}

/// The structure of a canvas expression as it passes results: the members whose results flow
/// out of it, and whether those arrive as a list (a group).
struct Flow {
    tails: Vec<(u32, u32)>,
    list: bool,
}

impl<'s> Extractor<'s> {
    // ----- canvas result flow (CD304, CD501, CD502) -----------------------------------------

    /// Set `receives`/`feeds` on the members of a recorded canvas, and add the members the
    /// flat walk gave up on (`.set(...)` wrappers, members after an unknown element).
    fn assign_feeds(
        &self,
        expr: &Expr,
        body_expr: Option<&Expr>,
        members: &mut Vec<CanvasMember>,
        body: &mut Vec<CanvasMember>,
    ) {
        let mut roles: HashMap<(u32, u32), Role> = HashMap::default();
        let _ = self.canvas_flow(expr, Feed::Nothing, &mut roles);
        for m in members.iter_mut().chain(body.iter_mut()) {
            if let Some(role) = roles.remove(&(m.span.start, m.span.end)) {
                m.receives = role.receives;
                m.feeds = role.feeds;
            }
        }
        let body_range = body_expr.map(|b| key(b.range()));
        let mut extra: Vec<Role> = roles.into_values().collect();
        extra.sort_by_key(|r| r.member.span.start);
        for role in extra {
            let mut m = role.member;
            m.receives = role.receives;
            m.feeds = role.feeds;
            match body_range {
                Some((start, end)) if start <= m.span.start && m.span.end <= end => body.push(m),
                _ => members.push(m),
            }
        }
    }

    /// A signature member, possibly wrapped in `.set(...)` (which returns the signature).
    fn wrapped_member(&self, expr: &Expr) -> Option<CanvasMember> {
        if let Some(m) = self.signature_member(expr) {
            return Some(m);
        }
        let Expr::Call(c) = expr else { return None };
        let Expr::Attribute(a) = c.func.as_ref() else {
            return None;
        };
        if a.attr.as_str() != "set" || !c.arguments.args.is_empty() || Self::has_star_kwargs(c) {
            return None;
        }
        let mut m = self.wrapped_member(&a.value)?;
        for k in &c.arguments.keywords {
            if let Some(name) = &k.arg {
                let v = self.eval(&k.value);
                if name.as_str() == "immutable" {
                    match v.truthy() {
                        Some(b) => m.immutable = b,
                        None => return None,
                    }
                }
                m.set_options.push((name.to_string(), v));
            }
        }
        Some(m)
    }

    fn mark_feeds(roles: &mut HashMap<(u32, u32), Role>, flow: &Flow, as_: Feed) {
        for t in &flow.tails {
            if let Some(r) = roles.get_mut(t) {
                r.feeds = as_;
            }
        }
    }

    /// What follows `prev` receives: the parent's value, or the list of a group's results.
    fn next_feed(roles: &mut HashMap<(u32, u32), Role>, prev: Option<&Flow>) -> Feed {
        match prev {
            None => Feed::Unknown,
            Some(flow) => {
                let feed = if flow.list {
                    Feed::HeaderResults
                } else {
                    Feed::ParentResult
                };
                Self::mark_feeds(roles, flow, feed);
                feed
            }
        }
    }

    fn canvas_flow(
        &self,
        expr: &Expr,
        incoming: Feed,
        roles: &mut HashMap<(u32, u32), Role>,
    ) -> Option<Flow> {
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            self.canvas_flow_inner(expr, incoming, roles)
        })
    }

    fn canvas_flow_inner(
        &self,
        expr: &Expr,
        incoming: Feed,
        roles: &mut HashMap<(u32, u32), Role>,
    ) -> Option<Flow> {
        if let Some(member) = self.wrapped_member(expr) {
            let k = (member.span.start, member.span.end);
            roles.insert(
                k,
                Role {
                    receives: incoming,
                    feeds: Feed::Nothing,
                    member,
                },
            );
            return Some(Flow {
                tails: vec![k],
                list: false,
            });
        }
        match expr {
            Expr::BinOp(b) if b.op == Operator::BitOr => {
                let left = self.canvas_flow(&b.left, incoming, roles);
                let next = Self::next_feed(roles, left.as_ref());
                self.canvas_flow(&b.right, next, roles)
            }
            Expr::Call(c) => {
                let (header, body) = match self.canvas_kind(&c.func) {
                    Some(CanvasKind::Chain) => {
                        let items: Vec<&Expr> = match c.arguments.args.as_ref() {
                            [Expr::List(l)] => l.elts.iter().collect(),
                            [Expr::Tuple(t)] => t.elts.iter().collect(),
                            args => args.iter().collect(),
                        };
                        let mut prev: Option<Flow> = None;
                        for (i, item) in items.iter().enumerate() {
                            let feed = if i == 0 {
                                incoming
                            } else {
                                Self::next_feed(roles, prev.as_ref())
                            };
                            prev = self.canvas_flow(item, feed, roles);
                        }
                        return prev;
                    }
                    Some(CanvasKind::Group) => {
                        return self.group_flow(c.arguments.args.as_ref(), incoming, roles);
                    }
                    Some(CanvasKind::Chord) => (c.arguments.args.first(), c.arguments.args.get(1)),
                    None => match c.func.as_ref() {
                        // `chord(header)(body)`, or `chord(header, body)()`
                        Expr::Call(inner)
                            if self.canvas_kind(&inner.func) == Some(CanvasKind::Chord) =>
                        {
                            (
                                inner.arguments.args.first(),
                                inner
                                    .arguments
                                    .args
                                    .get(1)
                                    .or_else(|| c.arguments.args.first()),
                            )
                        }
                        _ => return None,
                    },
                };
                let header = self.group_flow(std::slice::from_ref(header?), incoming, roles);
                let body = body?;
                // A chord body always receives the list of header results.
                let feed = match &header {
                    Some(h) => {
                        Self::mark_feeds(roles, h, Feed::HeaderResults);
                        Feed::HeaderResults
                    }
                    None => Feed::Unknown,
                };
                self.canvas_flow(body, feed, roles)
            }
            _ => None,
        }
    }

    /// Members of a group (or a chord header): each receives `incoming`; their results arrive
    /// as a list.
    fn group_flow(
        &self,
        args: &[Expr],
        incoming: Feed,
        roles: &mut HashMap<(u32, u32), Role>,
    ) -> Option<Flow> {
        let items: Vec<&Expr> = match args {
            [Expr::List(l)] => l.elts.iter().collect(),
            [Expr::Tuple(t)] => t.elts.iter().collect(),
            [Expr::Generator(g)] => vec![&g.elt],
            [Expr::ListComp(g)] => vec![&g.elt],
            [Expr::Call(c)] if self.canvas_kind(&c.func) == Some(CanvasKind::Group) => {
                return self.group_flow(c.arguments.args.as_ref(), incoming, roles);
            }
            args => args.iter().collect(),
        };
        let mut tails = Vec::new();
        let mut known = true;
        for item in items {
            match self.canvas_flow(item, incoming, roles) {
                Some(f) => tails.extend(f.tails),
                None => known = false,
            }
        }
        known.then_some(Flow { tails, list: true })
    }

    // ----- coarse value types (CD304, CD503, CD804) -----------------------------------------

    /// Bind (or unbind) a local name to the coarse type of `value`.
    fn note_kind(&mut self, name: &'s str, value: Option<&Expr>) {
        let kind = value.and_then(|v| self.kind_of(v));
        let scope = self.scope();
        let count = match scope.bind_counts.get_mut(name) {
            Some(c) => {
                *c += 1;
                *c
            }
            None => {
                scope.bind_counts.insert(name, 1);
                1
            }
        };
        match kind {
            Some(k) if count == 1 => {
                scope.kinds.insert(name, k);
            }
            _ => {
                scope.kinds.remove(name);
            }
        }
    }

    fn unbind_targets(&mut self, target: &'s Expr) {
        match target {
            Expr::Name(n) => self.note_kind(n.id.as_str(), None),
            Expr::Tuple(t) => t.elts.iter().for_each(|e| self.unbind_targets(e)),
            Expr::List(l) => l.elts.iter().for_each(|e| self.unbind_targets(e)),
            _ => {}
        }
    }

    fn note_local_def(&mut self, name: &'s str) {
        let scope = self.scope();
        if scope.is_function {
            scope.local_defs.insert(name);
            scope.kinds.remove(name);
        }
    }

    fn note_return(&mut self, value: &Expr) {
        let Some(task) = self.scopes.last().and_then(|s| s.task) else {
            return;
        };
        if let Some(kind) = self.kind_of(value) {
            let typed = TypedExpr {
                kind,
                span: span(value.range()),
                text: self.short(value.range()),
                keyword: None,
            };
            self.facts.tasks[task].returns.push(typed);
        }
    }

    /// The task arguments of a dispatch whose coarse type is known.
    fn arg_kinds(&self, kind: DispatchKind, call: &ast::ExprCall) -> Vec<TypedExpr> {
        let mut exprs: Vec<(&Expr, Option<String>)> = Vec::new();
        match kind {
            DispatchKind::Delay
            | DispatchKind::DelayOnCommit
            | DispatchKind::S
            | DispatchKind::Si => {
                exprs.extend(call.arguments.args.iter().map(|a| (a, None)));
                exprs.extend(
                    call.arguments
                        .keywords
                        .iter()
                        .filter_map(|k| k.arg.as_ref().map(|a| (&k.value, Some(a.to_string())))),
                );
            }
            _ => {
                let offset = usize::from(matches!(
                    kind,
                    DispatchKind::SendTask | DispatchKind::SignatureByName
                ));
                let args_expr =
                    Self::keyword(call, "args").or_else(|| call.arguments.args.get(offset));
                let kwargs_expr =
                    Self::keyword(call, "kwargs").or_else(|| call.arguments.args.get(offset + 1));
                match args_expr {
                    Some(Expr::Tuple(t)) => exprs.extend(t.elts.iter().map(|e| (e, None))),
                    Some(Expr::List(l)) => exprs.extend(l.elts.iter().map(|e| (e, None))),
                    _ => {}
                }
                match kwargs_expr {
                    Some(Expr::Dict(d)) => {
                        for item in &d.items {
                            if let Some(Expr::StringLiteral(k)) = &item.key {
                                exprs.push((&item.value, Some(k.value.to_str().to_string())));
                            }
                        }
                    }
                    Some(Expr::Call(c)) if self.qualify(&c.func).as_deref() == Some("dict") => {
                        exprs.extend(c.arguments.keywords.iter().filter_map(|k| {
                            k.arg.as_ref().map(|a| (&k.value, Some(a.to_string())))
                        }));
                    }
                    _ => {}
                }
            }
        }
        exprs
            .into_iter()
            .filter(|(e, _)| !matches!(e, Expr::Starred(_)))
            .filter_map(|(e, keyword)| {
                self.kind_of(e).map(|kind| TypedExpr {
                    kind,
                    span: span(e.range()),
                    text: self.short(e.range()),
                    keyword,
                })
            })
            .collect()
    }

    fn is_request_name(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Name(n) => {
                self.qualify(expr).as_deref() == Some("flask.request")
                    || (n.id.as_str() == "request"
                        && self.scopes.last().is_some_and(|s| s.request_param))
            }
            _ => false,
        }
    }

    /// The coarse type of an expression, when the extractor knows it.
    fn kind_of(&self, expr: &Expr) -> Option<ValueKind> {
        if self.producer_of(expr).is_some() {
            return Some(ValueKind::AsyncResult);
        }
        match expr {
            Expr::Name(n) => {
                let name = n.id.as_str();
                let scope = self.scopes.last()?;
                if let Some(k) = scope.kinds.get(name) {
                    return Some(k.clone());
                }
                if scope.bind_counts.contains_key(name) {
                    return None;
                }
                if scope.local_defs.contains(name) {
                    return Some(ValueKind::LocalFunction);
                }
                self.is_request_name(expr).then_some(ValueKind::Request)
            }
            Expr::Lambda(_) => Some(ValueKind::Lambda),
            Expr::Generator(_) => Some(ValueKind::Generator),
            Expr::Set(_) | Expr::SetComp(_) => Some(ValueKind::Set),
            Expr::Subscript(s) => {
                if let Expr::Attribute(a) = s.value.as_ref()
                    && matches!(a.attr.as_str(), "FILES" | "files")
                    && self.is_request_name(&a.value)
                {
                    return Some(ValueKind::UploadedFile);
                }
                // `Model.objects.get_or_create(...)[0]`
                if matches!(self.orm_of(expr), Some((OrmKind::Instance, _))) {
                    return Some(ValueKind::ModelInstance);
                }
                None
            }
            Expr::Call(c) => {
                // `request.FILES.get("avatar")`
                if let Expr::Attribute(get) = c.func.as_ref()
                    && get.attr.as_str() == "get"
                    && let Expr::Attribute(files) = get.value.as_ref()
                    && matches!(files.attr.as_str(), "FILES" | "files")
                    && self.is_request_name(&files.value)
                {
                    return Some(ValueKind::UploadedFile);
                }
                // One classifier for manager chains (shared with CD601/CD603/CD802): a
                // `values()`/`values_list()` in the chain yields plain data.
                if self.manager_chain(c).is_some() {
                    return match self.manager_result(c)? {
                        OrmKind::Instance => Some(ValueKind::ModelInstance),
                        OrmKind::QuerySet => Some(ValueKind::QuerySet),
                        _ => None,
                    };
                }
                let q = self.qualify(&c.func)?;
                let kind = match q.as_str() {
                    "open"
                    | "io.open"
                    | "builtins.open"
                    | "tempfile.TemporaryFile"
                    | "tempfile.NamedTemporaryFile" => ValueKind::OpenFile,
                    "set" | "frozenset" => ValueKind::Set,
                    "django.shortcuts.get_object_or_404" => ValueKind::ModelInstance,
                    "requests.Session" | "requests.session" | "requests.sessions.Session" => {
                        ValueKind::HttpSession
                    }
                    "socket.socket" | "socket.create_connection" => ValueKind::Socket,
                    "threading.Lock"
                    | "threading.RLock"
                    | "threading.Semaphore"
                    | "threading.Condition"
                    | "threading.Event"
                    | "multiprocessing.Lock"
                    | "multiprocessing.RLock" => ValueKind::Lock,
                    "sqlite3.connect"
                    | "psycopg2.connect"
                    | "psycopg.connect"
                    | "pymysql.connect"
                    | "MySQLdb.connect"
                    | "django.db.connection.cursor"
                    | "sqlalchemy.orm.Session"
                    | "sqlalchemy.create_engine" => ValueKind::DbConnection,
                    "logging.getLogger" | "celery.utils.log.get_task_logger" => ValueKind::Logger,
                    s if s.starts_with("requests.")
                        && s.matches('.').count() == 1
                        && REQUESTS_FUNCS.contains(&Self::last_segment(s))
                        && self.imports.values().any(|i| i == "requests") =>
                    {
                        ValueKind::HttpResponse
                    }
                    _ => {
                        // `Cls(...)` of an imported or module-level class: the rule decides.
                        let global = matches!(Self::base_name(&c.func), Expr::Name(n) if self.is_global_name(n.id.as_str()));
                        let last = Self::last_segment(&q);
                        if global
                            && q.contains('.')
                            && last.chars().next().is_some_and(char::is_uppercase)
                        {
                            ValueKind::Instance(q)
                        } else {
                            return None;
                        }
                    }
                };
                Some(kind)
            }
            _ => None,
        }
    }
}

impl<'s> Extractor<'s> {
    /// A configuration write whose keys the model cannot read.
    fn is_opaque_config(&self, call: &ast::ExprCall) -> bool {
        let Expr::Attribute(attr) = call.func.as_ref() else {
            return false;
        };
        match attr.attr.as_str() {
            "config_from_envvar" => true,
            "update" | "setdefault" | "add_defaults" => {
                let on_conf =
                    matches!(attr.value.as_ref(), Expr::Attribute(c) if c.attr.as_str() == "conf");
                on_conf
                    && (attr.attr.as_str() != "update"
                        || Self::has_star_kwargs(call)
                        || call
                            .arguments
                            .args
                            .iter()
                            .any(|a| !matches!(a, Expr::Dict(_))))
            }
            _ => false,
        }
    }
}

impl Extractor<'_> {
    /// CD205: a handler body that calls `self.retry(...)` (bound task) or `<name>.retry(...)`
    /// as a statement: `Task.retry` always raises (`Retry` or the given `exc`), so the loop
    /// does not go on.
    fn retries_always(&self, body: &[Stmt]) -> bool {
        let first = self.scopes.last().and_then(|s| s.first_param.as_deref());
        body.iter().any(|s| {
            let Stmt::Expr(e) = s else { return false };
            let Expr::Call(call) = e.value.as_ref() else {
                return false;
            };
            let Expr::Attribute(attr) = call.func.as_ref() else {
                return false;
            };
            if attr.attr.as_str() != "retry" {
                return false;
            }
            match attr.value.as_ref() {
                Expr::Name(n) => {
                    Some(n.id.as_str()) == first || self.qualify(&attr.value).is_some()
                }
                _ => false,
            }
        })
    }

    fn note_mutated(&mut self, name: String) {
        if !self.facts.mutated.contains(&name) {
            self.facts.mutated.push(name);
        }
    }
}

/// The name a container changed in place goes by (see [`ModuleFacts::mutated`]): `X` for
/// `X[...]`, the attribute for `a.b.X[...]`, the key for `app.conf["X"][...]`; `None` for
/// `app.conf` itself (those writes are configuration entries) and computed containers.
fn mutated_name(container: &Expr) -> Option<String> {
    let mut cur = container;
    let mut key: Option<String> = None;
    loop {
        match cur {
            Expr::Subscript(s) => {
                key = match s.slice.as_ref() {
                    Expr::StringLiteral(k) => Some(k.value.to_str().to_string()),
                    _ => None,
                };
                cur = s.value.as_ref();
            }
            Expr::Name(n) => return Some(n.id.to_string()),
            Expr::Attribute(a) if a.attr.as_str() == "conf" => return key,
            Expr::Attribute(a) => return Some(a.attr.to_string()),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::short_text;

    /// The two-pass spelling `short_text` replaced (split, join, count, cut).
    fn reference(text: &str) -> String {
        let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if one.chars().count() > 80 {
            let mut s: String = one.chars().take(77).collect();
            s.push('…');
            s
        } else {
            one
        }
    }

    #[test]
    fn short_text_matches_the_two_pass_spelling() {
        let long =
            "shared_task(queue='reports', acks_late=True, soft_time_limit=366, time_limit=1022)";
        let mut cases: Vec<String> = vec![
            String::new(),
            " ".into(),
            "app.task".into(),
            " app.task ".into(),
            "a  b".into(),
            "a\tb".into(),
            "a\u{a0}b\u{2003}c".into(),
            "f(\n    x,\n    y,\n)".into(),
            long.into(),
            long.replace(", ", ",\n    "),
            "é".repeat(80),
            "é".repeat(81),
            format!("{}\n{}", "x".repeat(40), "ü".repeat(45)),
        ];
        for n in 75..=85 {
            cases.push("a".repeat(n));
            cases.push(format!("{} {}", "b".repeat(n / 2), "c".repeat(n - n / 2)));
            cases.push(format!(
                "{}\n\n  {}",
                "d".repeat(n / 2),
                "€".repeat(n - n / 2)
            ));
        }
        for case in &cases {
            assert_eq!(short_text(case), reference(case), "{case:?}");
        }
    }
}
