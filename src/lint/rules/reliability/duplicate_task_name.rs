//! CD104 `duplicate-task-name`: two task definitions registered under one name in one app.

use std::collections::BTreeMap;

use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    // name -> definitions in (path, offset) order
    let mut by_name: BTreeMap<&str, Vec<(String, u32, usize)>> = BTreeMap::new();
    for (i, task) in project.tasks.iter().enumerate() {
        let module = &project.modules[task.module];
        let def = project.def(task);
        let Some(name) = task.name.as_deref() else {
            continue;
        };
        // Generated names of tasks built inside functions (factories) are not reliable.
        if module.is_test || (!def.top_level && def.option("name").is_none()) {
            continue;
        }
        by_name
            .entry(name)
            .or_default()
            .push((module.file.display_path(), def.def_span.start, i));
    }
    for (name, mut defs) in by_name {
        if defs.len() < 2 {
            continue;
        }
        defs.sort();
        for later in 1..defs.len() {
            let t = &project.tasks[defs[later].2];
            let d = project.def(t);
            // The first earlier definition that really conflicts with this one.
            let first = defs[..later].iter().map(|x| &project.tasks[x.2]).find(|f| {
                let fd = project.def(f);
                let same_app = match (&f.app, &t.app) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                };
                // Alternatives in exclusive branches of one module (`if`/`else`, `try`/`except`).
                let alternatives = f.module == t.module
                    && matches!((fd.branch, d.branch), (Some(a), Some(b)) if a.0 == b.0 && a.1 != b.1);
                same_app && !alternatives
            });
            let Some(first) = first else { continue };
            let fd = project.def(first);
            let file = project.file(first.module);
            let pos = file.lines().line_col(file.text(), fd.def_span.start);
            let location = format!("{}:{}", file.display_path(), pos.line);
            let related = cx.related(
                first.module,
                fd.def_span,
                format!("`{}` is first registered here", name),
            );
            cx.report(
                t.module,
                d.def_span,
                &[
                    ("name", name),
                    ("other", &fd.qualname),
                    ("location", &location),
                ],
            )
            .with_task(Some(name))
            .with_anchor(format!("{name}|{}", d.qualname))
            .with_related(related);
        }
    }
}
