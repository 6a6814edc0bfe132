//! CD801 `pickle-serializer-enabled`: a worker that accepts pickle runs whatever code a message
//! tells the unpickler to run.

use crate::lint::model::facts::Value;
use crate::lint::rules::RuleCx;

fn is_pickle(v: &Value) -> bool {
    matches!(
        v.as_str(),
        Some("pickle" | "application/x-python-serialize")
    )
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for e in &project.config.entries {
        if e.is_test {
            continue;
        }
        let Some(name) = e.name() else { continue };
        let v = project.resolve_value(&e.value);
        let hit = match name {
            "accept_content" | "result_accept_content" => v
                .elements()
                .is_some_and(|items| items.iter().any(is_pickle)),
            "task_serializer" | "result_serializer" | "event_serializer" => is_pickle(&v),
            _ => false,
        };
        if hit {
            let what = format!("`{}`", e.raw);
            cx.report(e.module, e.span, &[("what", &what)])
                .with_anchor(e.raw.clone());
        }
    }
    for task in &project.tasks {
        let def = project.def(task);
        if project.modules[task.module].is_test {
            continue;
        }
        if let (Some(v), Some(span)) = (def.option("serializer"), def.option_span("serializer"))
            && is_pickle(&project.resolve_value(v))
        {
            let what = format!("`serializer=\"pickle\"` on task `{}`", def.func_name);
            cx.report(task.module, span, &[("what", &what)])
                .with_task(task.name.as_deref());
        }
    }
    for (m, module) in project.modules.iter().enumerate() {
        for (v, span) in &module.facts.security_serializers {
            if !module.is_test
                && v.elements()
                    .is_some_and(|items| items.iter().any(is_pickle))
            {
                cx.report(
                    m,
                    *span,
                    &[("what", "`setup_security(allowed_serializers=...)`")],
                );
            }
        }
    }
    for (m, call) in project.calls() {
        if project.modules[m].is_test {
            continue;
        }
        for (k, v, span) in &call.call_keywords {
            if k == "serializer" && is_pickle(v) && call.kind.publishes() {
                let what = format!("`{}(serializer=\"pickle\")`", call.text);
                cx.report(m, *span, &[("what", &what)]);
            }
        }
    }
}
