//! An optional second pass over a module's syntax tree: every call whose callee can be named,
//! with its literal arguments, for custom rules (`match: call`). The main extractor records
//! only the calls built-in rules need; this pass runs only when custom rules ask for calls.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Number, Stmt, UnaryOp};
use ruff_text_size::Ranged;

use crate::finding::Span;
use crate::lint::model::facts::{AnyCall, ModuleFacts, Value};

const RED_ZONE: usize = 64 * 1024;
const STACK_GROWTH: usize = 4 * 1024 * 1024;

struct Collector<'f> {
    module: &'f str,
    imports: HashMap<&'f str, &'f str>,
    /// Names defined at module level (functions, classes, assignments, tasks).
    locals: HashSet<&'f str>,
    /// Task definitions by the offset of their name.
    tasks: HashMap<u32, &'f str>,
    task: Option<&'f str>,
    out: Vec<AnyCall>,
}

/// Record every nameable call of `module` into `facts.any_calls`.
pub(crate) fn collect(facts: &mut ModuleFacts, module: &ast::ModModule) {
    let out = {
        let f: &ModuleFacts = facts;
        let mut locals: HashSet<&str> = HashSet::default();
        locals.extend(f.assigns.iter().map(|a| a.name.as_str()));
        locals.extend(
            f.functions
                .iter()
                .map(|x| x.qualname.rsplit('.').next().unwrap_or(&x.qualname)),
        );
        locals.extend(
            f.tasks
                .iter()
                .filter(|t| t.top_level)
                .map(|t| t.func_name.as_str()),
        );
        locals.extend(f.classes.iter().map(|c| c.name.as_str()));
        let mut c = Collector {
            module: &f.module,
            imports: f
                .imports
                .iter()
                .map(|i| (i.local.as_str(), i.qualified.as_str()))
                .collect(),
            locals,
            tasks: f
                .tasks
                .iter()
                .map(|t| (t.def_span.start, t.qualname.as_str()))
                .collect(),
            task: None,
            out: Vec::new(),
        };
        c.visit_body(&module.body);
        c.out
    };
    facts.any_calls = out;
    // Sorted by end offset: dispatch sites and decorators are looked up by where they end.
    facts
        .any_calls
        .sort_by_key(|c| (c.span.end, std::cmp::Reverse(c.span.start)));
    facts.any_calls.shrink_to_fit();
}

impl<'f> Collector<'f> {
    fn qualify(&self, expr: &Expr, out: &mut String) -> bool {
        match expr {
            Expr::Name(n) => {
                let id = n.id.as_str();
                if let Some(q) = self.imports.get(id) {
                    out.push_str(q);
                } else if self.locals.contains(id) && !self.module.is_empty() {
                    out.push_str(self.module);
                    out.push('.');
                    out.push_str(id);
                } else {
                    out.push_str(id);
                }
                true
            }
            Expr::Attribute(a) => {
                if !stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.qualify(&a.value, out)) {
                    return false;
                }
                out.push('.');
                out.push_str(a.attr.as_str());
                true
            }
            _ => false,
        }
    }

    fn is_global(&self, name: &str) -> bool {
        self.imports.contains_key(name) || self.locals.contains(name)
    }

    /// Literals, references to names and small containers of them; anything else is unknown.
    fn literal(&self, expr: &Expr, depth: u32) -> Value {
        if depth > 8 {
            return Value::Unknown;
        }
        match expr {
            Expr::StringLiteral(s) => Value::Str(s.value.to_str().to_string()),
            Expr::NumberLiteral(n) => match &n.value {
                Number::Int(i) => i.as_i64().map_or(Value::Unknown, Value::Int),
                Number::Float(f) => Value::Float(*f),
                Number::Complex { .. } => Value::Unknown,
            },
            Expr::BooleanLiteral(b) => Value::Bool(b.value),
            Expr::NoneLiteral(_) => Value::None,
            Expr::UnaryOp(u) if u.op == UnaryOp::USub => {
                match self.literal(&u.operand, depth + 1) {
                    Value::Int(i) => Value::Int(-i),
                    Value::Float(f) => Value::Float(-f),
                    _ => Value::Unknown,
                }
            }
            Expr::List(l) => {
                Value::List(l.elts.iter().map(|e| self.literal(e, depth + 1)).collect())
            }
            Expr::Tuple(t) => {
                Value::Tuple(t.elts.iter().map(|e| self.literal(e, depth + 1)).collect())
            }
            Expr::Name(_) | Expr::Attribute(_) => {
                let mut q = String::new();
                if self.qualify(expr, &mut q) {
                    Value::Ref(q)
                } else {
                    Value::Unknown
                }
            }
            _ => Value::Unknown,
        }
    }

    fn on_call(&mut self, call: &ast::ExprCall) {
        let mut callee = String::new();
        if !self.qualify(&call.func, &mut callee) {
            return;
        }
        let base = {
            let mut e = call.func.as_ref();
            while let Expr::Attribute(a) = e {
                e = &a.value;
            }
            e
        };
        let Expr::Name(base) = base else { return };
        // `session.get(...)` on a local object cannot be named; a bare `open(...)` can.
        if callee.contains('.') && !self.is_global(base.id.as_str()) {
            return;
        }
        let start = call.range().start().to_u32();
        let end = call.range().end().to_u32();
        self.out.push(AnyCall {
            callee,
            span: Span::new(start, end),
            args: call
                .arguments
                .args
                .iter()
                .take_while(|a| !matches!(a, Expr::Starred(_)))
                .map(|a| self.literal(a, 0))
                .collect(),
            keywords: call
                .arguments
                .keywords
                .iter()
                .filter_map(|k| {
                    k.arg
                        .as_ref()
                        .map(|a| (a.to_string(), self.literal(&k.value, 0)))
                })
                .collect(),
            star_args: call
                .arguments
                .args
                .iter()
                .any(|a| matches!(a, Expr::Starred(_))),
            star_kwargs: call.arguments.keywords.iter().any(|k| k.arg.is_none()),
            in_task: self.task.map(str::to_string),
        });
    }
}

impl<'a> Visitor<'a> for Collector<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || match stmt {
            Stmt::FunctionDef(f) => {
                for d in &f.decorator_list {
                    self.visit_decorator(d);
                }
                for p in f.parameters.iter_non_variadic_params() {
                    if let Some(default) = &p.default {
                        self.visit_expr(default);
                    }
                }
                // Only the direct body of a task is "in the task": nested functions may never run.
                let saved = self.task;
                self.task = self.tasks.get(&f.name.range().start().to_u32()).copied();
                self.visit_body(&f.body);
                self.task = saved;
            }
            _ => visitor::walk_stmt(self, stmt),
        });
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || match expr {
            Expr::Call(call) => {
                self.on_call(call);
                visitor::walk_expr(self, expr);
            }
            Expr::Lambda(_) => {
                let saved = self.task.take();
                visitor::walk_expr(self, expr);
                self.task = saved;
            }
            _ => visitor::walk_expr(self, expr),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::model::facts::Value;

    #[test]
    fn records_nameable_calls_with_task_context_and_literals() {
        let src = "import requests\nfrom celery import shared_task\nfrom requests import get as fetch\n\nLIMIT = 5\n\n@shared_task(**OPTS)\ndef sync(url, *a, **kw):\n    fetch(url, timeout=LIMIT)\n    requests.post(url, *a, json={}, **kw)\n    session.get(url)\n    def inner():\n        requests.get(url)\n    open(url, 'rb')\n";
        let facts = crate::python::extract_with(src, "shop.tasks", false, true);
        let calls: Vec<(&str, Option<&str>)> = facts
            .any_calls
            .iter()
            .map(|c| (c.callee.as_str(), c.in_task.as_deref()))
            .collect();
        assert_eq!(
            calls,
            [
                ("celery.shared_task", None),
                ("requests.get", Some("shop.tasks.sync")),
                ("requests.post", Some("shop.tasks.sync")),
                ("requests.get", None),
                ("open", Some("shop.tasks.sync")),
            ]
        );
        let decorator = &facts.any_calls[0];
        assert!(decorator.star_kwargs);
        let fetch = &facts.any_calls[1];
        assert_eq!(
            fetch.keywords,
            [("timeout".to_string(), Value::Ref("shop.tasks.LIMIT".into()))]
        );
        let post = &facts.any_calls[2];
        assert!(post.star_args && post.star_kwargs);
        assert_eq!(post.args, [Value::Ref("url".into())]);
        assert_eq!(facts.any_calls[4].args[1], Value::Str("rb".into()));
        // Without the flag nothing is recorded.
        assert!(
            crate::python::extract(src, "shop.tasks", false)
                .any_calls
                .is_empty()
        );
    }
}
