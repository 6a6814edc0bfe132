//! CD602 `dispatch-inside-atomic-block`: a message published before the transaction commits;
//! the worker can run before the data exists, or after a rollback.

use crate::finding::{Edit, Fix, Span};
use crate::lint::model::facts::{CANVAS_TARGET, DispatchKind, ModuleFacts, ResultUse};
use crate::lint::rules::RuleCx;

/// `t.delay(a)` → `transaction.on_commit(functools.partial(t.delay, a))`, the catalog's
/// fallback rewrite. Only where the result is discarded (the on-commit form returns `None`)
/// and the module already binds `transaction` (Django's) and `functools`. The
/// `delay_on_commit` variant needs Celery ≥ 5.4 pinned, which the model cannot see.
fn on_commit(source: &str, call: Span, facts: &ModuleFacts) -> Option<Fix> {
    let binds = |local: &str, qualified: &str| {
        facts
            .imports
            .iter()
            .any(|i| i.local == local && i.qualified == qualified)
    };
    if !binds("transaction", "django.db.transaction") || !binds("functools", "functools") {
        return None;
    }
    let shape = crate::python::call_shape(source, call)?;
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
            call,
        )],
    )
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, call) in project.calls() {
        let Some(atomic) = &call.atomic else { continue };
        if project.modules[m].is_test || !call.kind.publishes() {
            continue;
        }
        let task = project.task_for_call(call).map(|t| &project.tasks[t]);
        match task {
            Some(t) => {
                // A base class that defers publishing (e.g. on commit) handles this.
                let def = project.def(t);
                if project.base_overrides(def, &["apply_async", "delay"])
                    || project.base_unknown(def)
                {
                    continue;
                }
            }
            // `.delay()` alone is not proof of Celery; `apply_async`/`send_task` are.
            None if call.kind == DispatchKind::Delay && call.target != CANVAS_TARGET => continue,
            None => {}
        }
        let text = format!("{}()", call.text);
        let fix = (call.result_use == ResultUse::Discarded)
            .then(|| on_commit(project.file(m).text(), call.span, &project.modules[m].facts))
            .flatten();
        cx.report(m, call.span, &[("call", &text), ("atomic", atomic)])
            .with_task(task.and_then(|t| t.name.as_deref()))
            .with_fix(fix);
    }
}
