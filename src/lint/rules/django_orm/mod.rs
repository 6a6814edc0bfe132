pub mod dispatch_inside_atomic_block;
pub mod dispatch_under_atomic_requests;
pub mod orm_object_as_task_argument;

use crate::finding::{Edit, Fix};
use crate::lint::model::Project;
use crate::lint::model::facts::{CallSite, ResultUse};

/// The on-commit rewrite shared by CD602 and CD603: `t.delay(a)` →
/// `transaction.on_commit(functools.partial(t.delay, a))`, the catalog's fallback rewrite.
/// Only where the result is discarded (the on-commit form returns `None`, so code reading
/// `.id` would break) and the module already binds `transaction` (Django's) and `functools`.
/// The `delay_on_commit` variant needs Celery ≥ 5.4 pinned, which the model cannot see.
pub(crate) fn on_commit_fix(project: &Project, module: usize, call: &CallSite) -> Option<Fix> {
    if call.result_use != ResultUse::Discarded {
        return None;
    }
    let facts = &project.modules[module].facts;
    let binds = |local: &str, qualified: &str| {
        facts
            .imports
            .iter()
            .any(|i| i.local == local && i.qualified == qualified)
    };
    if !binds("transaction", "django.db.transaction") || !binds("functools", "functools") {
        return None;
    }
    let source = project.file(module).text();
    let shape = crate::python::call_shape(source, call.span)?;
    let parens = shape.parens?;
    let callee = source.get(shape.callee.start as usize..shape.callee.end as usize)?;
    let args = source.get(parens.start as usize + 1..parens.end as usize - 1)?;
    let args = if args.trim().is_empty() {
        String::new()
    } else if args.starts_with(char::is_whitespace) {
        format!(",{args}") // keeps `(  # comment` and one-argument-per-line layouts
    } else {
        format!(", {args}")
    };
    Fix::unsafe_(
        "Dispatch in `transaction.on_commit`",
        [Edit::replacement(
            format!("transaction.on_commit(functools.partial({callee}{args}))"),
            call.span,
        )],
    )
}
