//! CD107 `execution-option-passed-to-delay`: `delay()`/`.s()` take task arguments only; an
//! option such as `countdown=` crashes the call or silently becomes task data.

use super::EXECUTION_OPTIONS;
use crate::finding::{Applicability, Edit, Fix, Span};
use crate::lint::model::facts::{DispatchKind, TaskDef};
use crate::lint::rules::RuleCx;

/// `t.delay(a, x=1, countdown=30)` → `t.apply_async((a,), {"x": 1}, countdown=30)`: safe when
/// the task has no `**kwargs` (the call crashes today), unsafe otherwise (the task stops
/// receiving the keyword). `None` for `*args`/`**kwargs` at the call and for `.s()`/`.si()`.
fn to_apply_async(source: &str, call: Span, def: &TaskDef) -> Option<Fix> {
    let shape = crate::python::call_shape(source, call)?;
    let parens = shape.parens?;
    let callee = source.get(shape.callee.start as usize..shape.callee.end as usize)?;
    if !callee.ends_with(".delay") || shape.arguments.iter().any(|a| a.unpacked) {
        return None;
    }
    let text = |s: Span| source.get(s.start as usize..s.end as usize);
    // The rewrite rebuilds the argument list: never drop a comment between arguments.
    let mut gap_start = parens.start;
    for a in shape
        .arguments
        .iter()
        .map(|a| a.span)
        .chain([Span::new(parens.end, parens.end)])
    {
        if text(Span::new(gap_start, a.start.max(gap_start)))?.contains('#') {
            return None;
        }
        gap_start = a.end;
    }
    let (mut args, mut kwargs, mut options) = (Vec::new(), Vec::new(), Vec::new());
    for a in &shape.arguments {
        match a.keyword.as_deref() {
            None => args.push(text(a.value)?.to_string()),
            Some(k)
                if EXECUTION_OPTIONS.contains(&k)
                    && !def.signature.params.iter().any(|p| p.name == k) =>
            {
                options.push(text(a.span)?.to_string())
            }
            Some(k) => kwargs.push(format!("{k:?}: {}", text(a.value)?)),
        }
    }
    let mut parts = Vec::new();
    if !args.is_empty() || !kwargs.is_empty() {
        parts.push(match args.len() {
            1 => format!("({},)", args[0]),
            _ => format!("({})", args.join(", ")),
        });
    }
    if !kwargs.is_empty() {
        parts.push(format!("{{{}}}", kwargs.join(", ")));
    }
    parts.extend(options);
    let dot = shape.callee.end - "delay".len() as u32;
    let edits = [
        Edit::replacement("apply_async", Span::new(dot, shape.callee.end)),
        Edit::replacement(format!("({})", parts.join(", ")), parens),
    ];
    let applicability = if def.signature.varkw {
        Applicability::Unsafe
    } else {
        Applicability::Safe
    };
    Fix::new(
        "Pass the options to `apply_async`".into(),
        applicability,
        edits.into(),
    )
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, call) in project.calls() {
        if !matches!(
            call.kind,
            DispatchKind::Delay | DispatchKind::S | DispatchKind::Si | DispatchKind::DelayOnCommit
        ) {
            continue;
        }
        let Some(kwargs) = &call.kwargs else { continue };
        let Some(ti) = project.task_for_call(call) else {
            continue;
        };
        let task = &project.tasks[ti];
        let def = project.def(task);
        if def.decorator_index + 1 != def.decorators.len() {
            continue;
        }
        let is_option = |kw: &str| {
            EXECUTION_OPTIONS.contains(&kw) && !def.signature.params.iter().any(|p| p.name == kw)
        };
        if !kwargs.iter().any(|(kw, _)| is_option(kw)) {
            continue;
        }
        // Only now: the fix re-reads the file and re-parses the call.
        let fix = (call.kind == DispatchKind::Delay)
            .then(|| to_apply_async(project.file(m).text(), call.span, def))
            .flatten();
        for (kw, span) in kwargs {
            if !is_option(kw) {
                continue;
            }
            let consequence = if def.signature.varkw {
                "the task receives it in `**kwargs` and the option is not applied"
            } else {
                "Celery's argument check raises `TypeError` at this call"
            };
            let name = project.task_label(task);
            cx.report(
                m,
                *span,
                &[
                    ("method", call.kind.method()),
                    ("option", kw),
                    ("task", &name),
                    ("consequence", consequence),
                ],
            )
            .with_task(task.name.as_deref())
            .with_fix(fix.clone());
        }
    }
}
