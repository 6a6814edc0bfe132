//! CD106 `task-call-arity-mismatch`: dispatch arguments that cannot bind to the task signature.

use super::EXECUTION_OPTIONS;
use crate::lint::model::facts::{ArgCount, DispatchKind, ParamKind};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, call) in project.calls() {
        let Some(ti) = project.task_for_call(call) else {
            continue;
        };
        let task = &project.tasks[ti];
        let def = project.def(task);
        // Decorators below the task decorator may change the signature.
        if def.decorator_index + 1 != def.decorators.len() {
            continue;
        }
        let Some(bound) = project.is_bound(def) else {
            continue;
        };
        let partial = matches!(
            call.kind,
            DispatchKind::S
                | DispatchKind::Si
                | DispatchKind::Signature
                | DispatchKind::SignatureByName
        );
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
        if let ArgCount::Known(n) = call.args {
            if n > positional.len() && !def.signature.varargs {
                problems.push(format!(
                    "passes {n} positional argument{} but the task takes {}",
                    if n == 1 { "" } else { "s" },
                    positional.len()
                ));
            }
            bound_names.extend(positional.iter().take(n).map(|p| p.name.as_str()));
        }
        if let Some(kwargs) = &call.kwargs {
            for (kw, _) in kwargs {
                // Execution options passed to `delay()`/`.s()` are CD107's finding.
                let delay_like = matches!(
                    call.kind,
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
            if !partial && call.args != ArgCount::Unknown {
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
