//! CD203 `http-call-without-timeout-in-task`: an HTTP call that can wait forever inside a task
//! body, or in a project function the task calls directly.

use std::collections::HashSet;

use crate::finding::Severity;
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    let mut seen: HashSet<(usize, u32)> = HashSet::new();
    // `socket.setdefaulttimeout(...)` bounds urllib and http.client, not requests.
    let socket_default = project
        .modules
        .iter()
        .any(|m| m.facts.sets_default_socket_timeout);
    let skip = |callee: &str| {
        socket_default && (callee.starts_with("urllib.") || callee.starts_with("http.client."))
    };
    for task in project.production_tasks() {
        let def = project.def(task);
        let name = project.task_label(task);
        // A hard limit bounds the hang: still a finding, one level lower.
        let bounded = project
            .effective_time_limit(def, "time_limit", "task_time_limit")
            .is_some_and(|v| v != Some(0.0));
        let severity = if bounded {
            Severity::Warning
        } else {
            cx.meta.severity
        };
        for http in def.body.http_calls.iter().filter(|h| !skip(&h.callee)) {
            if seen.insert((task.module, http.span.start)) {
                cx.report(
                    task.module,
                    http.span,
                    &[("callee", &http.callee), ("task", &name)],
                )
                .with_task(task.name.as_deref())
                .with_severity(severity);
            }
        }
        for (callee, _) in &def.body.calls {
            let Some((fm, function)) = project.function(callee) else {
                continue;
            };
            if project.modules[fm].is_test {
                continue;
            }
            let fname = function
                .qualname
                .rsplit('.')
                .next()
                .unwrap_or(&function.qualname)
                .to_string();
            for http in function.body.http_calls.iter().filter(|h| !skip(&h.callee)) {
                if seen.insert((fm, http.span.start)) {
                    cx.report_variant(
                        fm,
                        http.span,
                        Some("helper"),
                        &[
                            ("callee", &http.callee),
                            ("function", &fname),
                            ("task", &name),
                        ],
                    )
                    .with_task(task.name.as_deref())
                    .with_severity(severity)
                    .with_anchor(format!("{}|{}", http.callee, function.qualname));
                }
            }
        }
    }
}
