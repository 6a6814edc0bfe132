//! CD401 `retry-without-bind`: `self.retry()` (or a `self` parameter) in a task that is not
//! bound: the error-handling path itself crashes.

use crate::lint::fix::{self, Fix};
use crate::lint::model::facts::TaskDecoratorKind;
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for task in &project.tasks {
        let def = project.def(task);
        if project.is_bound(def) != Some(false) {
            continue;
        }
        let self_param = def
            .signature
            .params
            .first()
            .is_some_and(|p| p.name == "self");
        let uses_self = def.top_level && !def.body.self_attrs.is_empty();
        if self_param || uses_self {
            let name = project.task_label(task);
            // Safe only when `self` is already the first parameter: every caller crashes now.
            let text = project.file(task.module).text();
            let edit = (self_param && def.kind != TaskDecoratorKind::Class)
                .then(|| fix::set_keyword(text, def.decorator_span, "bind", "True"))
                .flatten();
            cx.report(task.module, def.def_span, &[("task", &name)])
                .with_task(task.name.as_deref())
                .with_fix(
                    edit.and_then(|e| Fix::safe("Add `bind=True` to the task decorator", [e])),
                );
        }
    }
}
