//! CD404 `unbounded-retries`: `max_retries=None` retries a message that can never succeed
//! forever.

use crate::finding::Severity;
use crate::lint::model::facts::Value;
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in &project.tasks {
        let def = project.def(task);
        let option = project
            .task_option(def, "max_retries")
            .map(|v| project.resolve_value(&v));
        let in_kwargs = project
            .task_option(def, "retry_kwargs")
            .map(|v| project.resolve_value(&v))
            .and_then(|v| v.dict_get("max_retries").cloned());
        let unbounded =
            matches!(option, Some(Value::None)) || matches!(in_kwargs, Some(Value::None));
        if !unbounded {
            continue;
        }
        let autoretry = project
            .task_option(def, "autoretry_for")
            .map(|v| project.resolve_value(&v));
        let retries = autoretry.is_some()
            || !def.body.retry_calls.is_empty()
            || def.body.self_attrs.iter().any(|(a, _)| a == "retry");
        if !retries {
            continue;
        }
        let broad = autoretry.as_ref().and_then(|v| {
            let items = match v {
                Value::List(v) | Value::Tuple(v) | Value::Set(v) => v.clone(),
                other => vec![other.clone()],
            };
            items.into_iter().find_map(|i| match i {
                Value::Ref(r)
                    if r.ends_with("Exception")
                        && matches!(r.rsplit('.').next(), Some("Exception" | "BaseException")) =>
                {
                    Some(r.rsplit('.').next().unwrap_or(&r).to_string())
                }
                _ => None,
            })
        });
        let name = project.task_label(task);
        match broad {
            Some(exc) => {
                cx.report_variant(
                    task.module,
                    def.def_span,
                    Some("broad"),
                    &[("task", &name), ("exception", &exc)],
                )
                .with_task(task.name.as_deref())
                .with_severity(Severity::Error);
            }
            None => {
                cx.report(task.module, def.def_span, &[("task", &name)])
                    .with_task(task.name.as_deref());
            }
        }
    }
}
