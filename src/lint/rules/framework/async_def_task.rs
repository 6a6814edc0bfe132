//! CD001 `async-def-task`: Celery 5 never awaits a coroutine task, so its body never runs.

use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in &project.tasks {
        let def = project.def(task);
        // A decorator below the task decorator (`async_to_sync`) may turn the coroutine into
        // a synchronous function: then the task is not a coroutine.
        let wrapped = def.decorator_index + 1 < def.decorators.len();
        if def.is_async && !wrapped {
            let name = project.task_label(task);
            cx.report(task.module, def.def_span, &[("task", &name)])
                .with_task(task.name.as_deref());
        }
    }
    // Class-based tasks: `class Sync(Task): async def run(...)`.
    for (m, module) in project.modules.iter().enumerate() {
        for class in &module.facts.classes {
            let Some((_, span)) = class.async_methods.iter().find(|(n, _)| n == "run") else {
                continue;
            };
            let registered = project.task_by_qualname(&class.qualname).is_some();
            if !registered && is_task_class(project, &class.bases, 0) {
                cx.report(m, *span, &[("task", &class.name)]);
            }
        }
    }
}

/// A base list that reaches Celery's `Task` (`celery.Task`, `app.Task`, a project subclass).
fn is_task_class(project: &crate::lint::model::Project, bases: &[String], depth: usize) -> bool {
    depth < 8
        && bases.iter().any(|b| {
            matches!(
                b.as_str(),
                "celery.Task" | "celery.app.task.Task" | "celery.task.Task"
            ) || (b.ends_with(".Task")
                && project
                    .apps
                    .iter()
                    .any(|(_, a)| b == &format!("{}.Task", a.var)))
                || project
                    .class(b)
                    .is_some_and(|c| is_task_class(project, &c.bases, depth + 1))
        })
}
