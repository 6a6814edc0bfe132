//! CD403 `autoretry-without-backoff`: automatic retries at a fixed delay retry in synchronised
//! waves against a dependency that is already failing.

use crate::lint::fix::{self, Fix};
use crate::lint::model::facts::{TaskDecoratorKind, Value};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in &project.tasks {
        let def = project.def(task);
        let Some(autoretry) = project.task_option(def, "autoretry_for") else {
            continue;
        };
        match project.resolve_value(&autoretry) {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) if v.is_empty() => continue,
            Value::None => continue,
            _ => {}
        }
        match project
            .task_option(def, "retry_backoff")
            .map(|v| project.resolve_value(&v).truthy())
        {
            None | Some(Some(false)) => {}
            Some(_) => continue, // on, or unknown
        }
        match project
            .task_option(def, "retry_kwargs")
            .map(|v| project.resolve_value(&v))
        {
            None => {}
            Some(Value::Dict(items))
                if items.iter().any(|(k, _)| k.as_str() == Some("countdown")) =>
            {
                continue;
            }
            Some(Value::Dict(_)) => {}
            Some(_) => continue,
        }
        let retries = match project
            .task_option(def, "max_retries")
            .map(|v| project.resolve_value(&v))
        {
            None => "3 retries".to_string(),
            Some(Value::Int(n)) => format!("{n} retr{}", if n == 1 { "y" } else { "ies" }),
            Some(Value::None) => "unlimited retries".to_string(),
            Some(_) => "retries".to_string(),
        };
        let delay = match project
            .task_option(def, "default_retry_delay")
            .map(|v| project.resolve_value(&v))
        {
            None => "180".to_string(),
            Some(v) => v.as_seconds().map_or("?".into(), |s| format!("{s}")),
        };
        let schedule = format!("{retries} at +{delay} s each");
        let name = project.task_label(task);
        // Unsafe (changes timing). Only where the decorator itself sets `autoretry_for`, so
        // the new option lands next to the one it tunes.
        let edit = (def.kind != TaskDecoratorKind::Class && def.option("autoretry_for").is_some())
            .then(|| {
                let text = project.file(task.module).text();
                fix::set_keyword(text, def.decorator_span, "retry_backoff", "True")
            })
            .flatten();
        cx.report(
            task.module,
            def.def_span,
            &[("task", &name), ("schedule", &schedule)],
        )
        .with_task(task.name.as_deref())
        .with_fix(edit.and_then(|e| Fix::unsafe_("Add `retry_backoff=True`", [e])));
    }
}
