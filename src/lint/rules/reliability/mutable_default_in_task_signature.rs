//! CD105 `mutable-default-in-task-signature`: a mutable default that the body mutates, returns
//! or passes on leaks state between executions in one worker process.

use crate::finding::{Edit, Fix};
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in &project.tasks {
        let def = project.def(task);
        let name = project.task_label(task);
        let mut shape = None;
        for m in &def.mutable_defaults {
            let text = project.file(task.module).text();
            let shape = shape
                .get_or_insert_with(|| crate::python::function_shape(text, def.def_span))
                .as_ref();
            cx.report(task.module, m.span, &[("task", &name), ("param", &m.param)])
                .with_task(task.name.as_deref())
                .with_fix(shape.and_then(|s| none_sentinel(text, s, &m.param)));
        }
    }
}

/// Ruff's B006 rewrite: default `None`, and the body starts with
/// `if seen is None: seen = []` (a fresh object per call). Unsafe: callers that passed
/// `None` on purpose now get the default, and type annotations may need `Optional`.
fn none_sentinel(source: &str, shape: &crate::python::FunctionShape, param: &str) -> Option<Fix> {
    let (_, default) = shape.defaults.iter().find(|(n, _)| n == param)?;
    let at = shape.first_statement_line?;
    let unit = shape.body_indent.strip_prefix(shape.def_indent.as_str())?;
    if unit.is_empty() {
        return None;
    }
    let value = source.get(default.start as usize..default.end as usize)?;
    let newline = if source.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let indent = &shape.body_indent;
    Fix::unsafe_(
        format!("Default `{param}` to `None` and create the value in the body"),
        [
            Edit::replacement("None", *default),
            Edit::insertion(
                format!(
                    "{indent}if {param} is None:{newline}{indent}{unit}{param} = {value}{newline}"
                ),
                at,
            ),
        ],
    )
}
