//! CD402 `retry-swallowed-by-broad-except`: `retry()` raises `Retry`, an `Exception`; a broad
//! handler around it turns the retry into a silent success while the retry is already queued.

use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in project.production_tasks() {
        let def = project.def(task);
        for retry in &def.body.retry_calls {
            let Some(handler) = &retry.swallowed_by else {
                continue;
            };
            let handler = if handler.is_empty() {
                "except:".to_string()
            } else {
                format!("except {handler}")
            };
            cx.report(
                task.module,
                retry.span,
                &[("call", &retry.text), ("handler", &handler)],
            )
            .with_task(task.name.as_deref());
        }
    }
}
