//! CD106 `task-call-arity-mismatch`: dispatch arguments that cannot bind to the task signature.

use super::EXECUTION_OPTIONS;
use crate::finding::Span;
use crate::lint::model::Project;
use crate::lint::model::facts::{ArgCount, DispatchKind, ParamKind, TaskDef};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, call) in project.calls() {
        let Some(ti) = project.task_for_call(call) else {
            continue;
        };
        let task = &project.tasks[ti];
        let def = project.def(task);
        let partial = matches!(
            call.kind,
            DispatchKind::S
                | DispatchKind::Si
                | DispatchKind::Signature
                | DispatchKind::SignatureByName
        );
        let Some(problems) = bind_problems(
            project,
            def,
            call.kind,
            &call.args,
            call.kwargs.as_deref(),
            !partial,
        ) else {
            continue;
        };
        if problems.is_empty() {
            continue;
        }
        let name = project.task_label(task);
        let related = cx.related(
            task.module,
            def.def_span,
            format!("`{}` is defined here", def.func_name),
        );
        cx.report(
            m,
            call.span,
            &[("task", &name), ("problem", &problems.join("; "))],
        )
        .with_task(task.name.as_deref())
        .with_related(related);
    }
}

/// Bind dispatch arguments against a task's signature with Python's rules: the problems found
/// (empty when they bind), or `None` when the signature is unknown (`bind=` computed, or
/// decorators below the task decorator that may change it). `check_missing`: also report
/// required parameters left unbound (not for partial signatures). Shared with CD502, which
/// binds canvas members with the parent's result prepended.
pub(crate) fn bind_problems(
    project: &Project,
    def: &TaskDef,
    kind: DispatchKind,
    args: &ArgCount,
    kwargs: Option<&[(String, Span)]>,
    check_missing: bool,
) -> Option<Vec<String>> {
    // Decorators below the task decorator may change the signature.
    if def.decorator_index + 1 != def.decorators.len() {
        return None;
    }
    let bound = project.is_bound(def)?;
    let params: Vec<_> = def
        .signature
        .params
        .iter()
        .skip(usize::from(bound))
        .collect();
    let positional: Vec<_> = params
        .iter()
        .filter(|p| p.kind != ParamKind::KeywordOnly)
        .collect();
    let mut problems = Vec::new();
    let mut bound_names: Vec<&str> = Vec::new();
    if let ArgCount::Known(n) = *args {
        if n > positional.len() && !def.signature.varargs {
            problems.push(format!(
                "passes {n} positional argument{} but the task takes {}",
                if n == 1 { "" } else { "s" },
                positional.len()
            ));
        }
        bound_names.extend(positional.iter().take(n).map(|p| p.name.as_str()));
    }
    if let Some(kwargs) = kwargs {
        for (kw, _) in kwargs {
            // Execution options passed to `delay()`/`.s()` are CD107's finding.
            let delay_like = matches!(
                kind,
                DispatchKind::Delay
                    | DispatchKind::S
                    | DispatchKind::Si
                    | DispatchKind::DelayOnCommit
            );
            if delay_like && EXECUTION_OPTIONS.contains(&kw.as_str()) {
                continue;
            }
            let param = params
                .iter()
                .find(|p| p.name == *kw && p.kind != ParamKind::PositionalOnly);
            if param.is_none() && !def.signature.varkw {
                problems.push(format!("passes unknown keyword argument `{kw}`"));
            } else if bound_names.contains(&kw.as_str()) {
                problems.push(format!("passes argument `{kw}` twice"));
            }
        }
        if check_missing && *args != ArgCount::Unknown {
            let missing: Vec<String> = params
                .iter()
                .filter(|p| {
                    !p.has_default
                        && !bound_names.contains(&p.name.as_str())
                        && !kwargs.iter().any(|(k, _)| *k == p.name)
                })
                .map(|p| format!("`{}`", p.name))
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "is missing required argument{} {}",
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", ")
                ));
            }
        }
    }
    Some(problems)
}
