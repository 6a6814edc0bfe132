//! CD502 `canvas-argument-arity-mismatch`: a mutable signature that cannot take the parent's
//! result canvas prepends to its arguments, or an immutable one that lacks an argument.
//!
//! ## Fix safety
//! Unsafe: `task.s(...)` becomes `task.si(...)` when the given arguments alone bind the task's
//! signature completely (no missing, extra or unknown argument, keyword arguments known), so
//! the task stops receiving the parent's result. Withheld for `.signature(...)`, for
//! immutable signatures and when the arguments alone do not bind.

use crate::finding::Span;
use crate::lint::fix::{self, Fix};
use crate::lint::model::facts::{ArgCount, CallSite, DispatchKind, Feed, Value};
use crate::lint::rules::RuleCx;
use crate::lint::rules::reliability::task_call_arity_mismatch::bind_problems;

/// One signature that canvas feeds: where it is, what it receives, whether it is immutable.
struct Fed<'a> {
    call: &'a CallSite,
    receives: Feed,
    immutable: bool,
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, module) in project.modules.iter().enumerate() {
        let calls = &module.facts.calls;
        let signature_at = |span: Span| {
            calls.iter().find(|c| {
                c.span == span
                    && matches!(
                        c.kind,
                        DispatchKind::S | DispatchKind::Si | DispatchKind::Signature
                    )
            })
        };
        let mut fed: Vec<Fed<'_>> = Vec::new();
        for canvas in &module.facts.canvases {
            for member in canvas.members.iter().chain(&canvas.body) {
                if let Some(call) = signature_at(member.span) {
                    fed.push(Fed {
                        call,
                        receives: member.receives,
                        immutable: member.immutable,
                    });
                }
            }
        }
        // `apply_async(..., link=sig)`: the callback receives the parent's result.
        for call in calls {
            if !matches!(
                call.kind,
                DispatchKind::ApplyAsync | DispatchKind::ApplyAsyncOnCommit
            ) {
                continue;
            }
            for (k, _, kspan) in &call.call_keywords {
                if k != "link" {
                    continue;
                }
                for cb in calls.iter().filter(|c| {
                    kspan.start <= c.span.start
                        && c.span.end <= kspan.end
                        && matches!(c.kind, DispatchKind::S | DispatchKind::Si)
                }) {
                    let immutable = cb.kind == DispatchKind::Si
                        || cb
                            .call_keywords
                            .iter()
                            .any(|(k, v, _)| k == "immutable" && *v == Value::Bool(true));
                    fed.push(Fed {
                        call: cb,
                        receives: Feed::ParentResult,
                        immutable,
                    });
                }
            }
        }
        for f in fed {
            check_one(cx, m, &f);
        }
    }
}

fn check_one(cx: &mut RuleCx<'_>, m: usize, f: &Fed<'_>) {
    let project = cx.project;
    let what = match f.receives {
        Feed::ParentResult => "the parent's result",
        Feed::HeaderResults => "the list of header results",
        Feed::Nothing | Feed::Unknown => return,
    };
    let ArgCount::Known(n) = f.call.args else {
        return;
    };
    let Some(ti) = project.task_for_call(f.call) else {
        return;
    };
    let task = &project.tasks[ti];
    let def = project.def(task);
    let kwargs = f.call.kwargs.as_deref();
    // Arguments that do not bind even without the prepended value are CD106's finding.
    let Some(alone) = bind_problems(project, def, f.call.kind, &f.call.args, kwargs, false) else {
        return;
    };
    if !alone.is_empty() {
        return;
    }
    let (variant, problems) = if f.immutable {
        let Some(problems) =
            bind_problems(project, def, f.call.kind, &ArgCount::Known(n), kwargs, true)
        else {
            return;
        };
        (Some("immutable"), problems)
    } else {
        let Some(problems) = bind_problems(
            project,
            def,
            f.call.kind,
            &ArgCount::Known(n + 1),
            kwargs,
            true,
        ) else {
            return;
        };
        (None, problems)
    };
    if problems.is_empty() {
        return;
    }
    let edit = if f.immutable || f.call.kind != DispatchKind::S || kwargs.is_none() {
        None
    } else {
        // The arguments must bind exactly without the prepended value (`check_missing`).
        let exact = bind_problems(project, def, DispatchKind::Si, &f.call.args, kwargs, true)
            .is_some_and(|p| p.is_empty());
        exact
            .then(|| immutable_edit(project.file(m).text(), f.call.span))
            .flatten()
    };
    let signature = format!("{}(...)", f.call.text);
    let related = cx.related(
        task.module,
        def.def_span,
        format!("`{}` is defined here", def.func_name),
    );
    cx.report_variant(
        m,
        f.call.span,
        variant,
        &[
            ("signature", &signature),
            ("what", what),
            ("problem", &problems.join("; ")),
        ],
    )
    .with_task(task.name.as_deref())
    .with_related(related)
    .with_fix(edit.and_then(|e| {
        Fix::unsafe_(
            format!("Use `.si()` so the task does not receive {what}"),
            [e],
        )
    }));
}

/// `task.s(...)` → `task.si(...)`: rename the attribute at the end of the callee.
fn immutable_edit(source: &str, call: Span) -> Option<fix::Edit> {
    let shape = crate::python::call_shape(source, call)?;
    shape.parens?;
    let callee = source.get(shape.callee.start as usize..shape.callee.end as usize)?;
    let before = callee.strip_suffix('s')?.trim_end();
    if !before.ends_with('.') {
        return None;
    }
    fix::rename(
        source,
        Span::new(shape.callee.end - 1, shape.callee.end),
        "s",
        "si",
    )
}
