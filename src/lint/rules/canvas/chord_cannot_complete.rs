//! CD501 `chord-cannot-complete`: a chord whose body never runs because a member ignores its
//! result, or that cannot start because there is no result backend that supports chords.

use crate::lint::model::facts::{CanvasKind, Feed, Value};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, module) in project.modules.iter().enumerate() {
        for canvas in &module.facts.canvases {
            let all = || canvas.members.iter().chain(&canvas.body);
            // `group(...) | task` and `chain(group(...), task)` are upgraded to chords.
            let is_chord = canvas.kind == CanvasKind::Chord
                || all().any(|c| c.receives == Feed::HeaderResults);
            if !is_chord {
                continue;
            }
            // 1. A header task ignores its results.
            let mut reported = false;
            for member in all() {
                // A body that ignores its result still runs (only the chord's own result
                // stays `PENDING`, CD303's concern): header members are what block it.
                if member.feeds != Feed::HeaderResults {
                    continue;
                }
                // `.set(ignore_result=False)` or `.signature(..., ignore_result=False)` (or an
                // option the model cannot read) on the member.
                let overridden = member
                    .set_options
                    .iter()
                    .any(|(k, v)| (k == "ignore_result" && v.truthy() != Some(true)) || k == "**");
                if overridden {
                    continue;
                }
                let Some(ti) = project.task_by_qualname(&member.target) else {
                    continue;
                };
                let task = &project.tasks[ti];
                let def = project.def(task);
                if project.task_ignores_result(def) != Some(true) {
                    continue;
                }
                let reason = format!(
                    "header task `{}` ignores its results, so the body never runs",
                    def.func_name
                );
                let related = cx.related(
                    task.module,
                    def.def_span,
                    format!("`{}` ignores its results", def.func_name),
                );
                cx.report(m, member.span, &[("reason", &reason)])
                    .with_task(task.name.as_deref())
                    .with_related(related);
                reported = true;
            }
            if reported || project.config_unresolved {
                continue;
            }
            // 2. The `rpc://` backend does not support chords.
            if let Some((Value::Str(url), entry)) = project.setting_value("result_backend") {
                if url == "rpc" || url.starts_with("rpc://") {
                    let related =
                        cx.related(entry.module, entry.span, "the result backend is set here");
                    cx.report(
                        m,
                        canvas.span,
                        &[(
                            "reason",
                            "the `rpc://` result backend does not support chords",
                        )],
                    )
                    .with_related(related);
                }
                continue;
            }
            // 3. No backend anywhere: starting the chord raises `NotImplementedError`. A
            // deployment file may set `CELERY_RESULT_BACKEND`, which the model cannot see.
            if !project.is_set("result_backend")
                && project
                    .config
                    .entries
                    .iter()
                    .all(|e| e.name() != Some("result_backend"))
                && project.worker_commands.is_empty()
                && !project.apps.is_empty()
                && !project.modules.iter().any(|m| m.facts.opaque_config)
                && project.apps.iter().all(|(_, app)| {
                    // `Celery(config_source=..., changes=...)` brings configuration too.
                    app.kwargs.iter().all(|(k, _, _)| {
                        matches!(
                            k.as_str(),
                            "broker"
                                | "include"
                                | "task_cls"
                                | "set_as_current"
                                | "autofinalize"
                                | "strict_typing"
                                | "fixups"
                                | "log"
                                | "control"
                                | "events"
                                | "amqp"
                                | "tasks"
                                | "main"
                        )
                    })
                })
            {
                cx.report(
                    m,
                    canvas.span,
                    &[(
                        "reason",
                        "no result backend is configured, so starting it raises `NotImplementedError`",
                    )],
                );
            }
        }
    }
}
