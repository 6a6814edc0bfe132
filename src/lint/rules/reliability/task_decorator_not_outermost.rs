//! CD103 `task-decorator-not-outermost`: a decorator above the task decorator wraps the task
//! object, so callers lose `.delay()` and the worker never runs the outer behaviour.

use crate::lint::fix::{self, Fix};
use crate::lint::rules::RuleCx;

/// Decorators that return their argument unchanged or only annotate it.
const TRANSPARENT: &[&str] = &[
    "staticmethod",
    "classmethod",
    "typing.overload",
    "overload",
    "typing.final",
    "final",
];

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
        // A project decorator that returns the function it received (a registry) is harmless.
        let returns_arg = def.decorator_targets[0]
            .as_deref()
            .and_then(|q| project.function(q))
            .is_some_and(|(_, f)| f.returns_param);
        if returns_arg {
            continue;
        }
        let outer_name = outer.split('(').next().unwrap_or(outer).to_string();
        // Unsafe: what the docs prescribe, but the outer decorator's behaviour moves.
        let text = project.file(task.module).text();
        let edits = fix::move_lines_before(text, def.decorator_span, def.decorator_line_offset);
        let title = format!("Move `@{}` to the top", def.decorator_text);
        cx.report(
            task.module,
            def.decorator_span,
            &[("decorator", &def.decorator_text), ("outer", &outer_name)],
        )
        .with_task(task.name.as_deref())
        .with_anchor(format!("{}|{}", def.qualname, outer_name))
        .with_fix(edits.and_then(|e| Fix::unsafe_(title, e)));
    }
}
