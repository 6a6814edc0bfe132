//! CD103 `task-decorator-not-outermost`: a decorator above the task decorator wraps the task
//! object, so callers lose `.delay()` and the worker never runs the outer behaviour.

use crate::lint::rules::RuleCx;

/// Decorators that return their argument unchanged or only annotate it.
const TRANSPARENT: &[&str] = &["staticmethod", "classmethod", "typing.overload", "overload", "typing.final", "final"];

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in &project.tasks {
        let def = project.def(task);
        if def.decorator_index == 0 {
            continue;
        }
        let outer = &def.decorators[0];
        if TRANSPARENT.contains(&outer.as_str()) {
            continue;
        }
        let outer_name = outer.split('(').next().unwrap_or(outer).to_string();
        cx.report(task.module, def.decorator_span, &[("decorator", &def.decorator_text), ("outer", &outer_name)])
            .with_task(task.name.as_deref())
            .with_anchor(format!("{}|{}", def.qualname, outer_name));
    }
}
