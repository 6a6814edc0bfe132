//! CD901 `beat-task-not-registered`: a beat entry names a task no project task is registered as.
//!
//! ## What it does
//! Compares the `task` of every literal `beat_schedule` entry and every
//! `add_periodic_task(signature("name"))` with the registered names of the project's tasks.
//!
//! ## Why is this bad?
//! Beat publishes by name. A stale or mistyped name makes workers log "Received unregistered
//! task" and drop the message on every tick: the job silently stops running.
//!
//! ## Known false positives
//! Names whose first segment is not a project package (third-party tasks, `celery.*`
//! built-ins, `external-task-prefixes`) are skipped, and nothing is reported when some task
//! names are unknown (`gen_task_name` overridden, computed `name=`). When only part of the
//! project is linted (`lint proj/settings.py`), a name whose module was not linted is unknown.

use crate::finding::Span;
use crate::lint::model::Project;
use crate::lint::model::settings::distance;
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    if !project.task_names_known() {
        return;
    }
    for entry in project.beat_entries() {
        let Some(task) = entry.value.dict_get("task").and_then(|v| v.as_str()) else {
            continue;
        };
        let span = project
            .beat_entry_span(&entry, &["task"])
            .map_or(entry.key_span, |(_, v)| v);
        report(cx, entry.module, span, &entry.key, task);
    }
    for (m, p) in project.periodic_tasks() {
        if let Some((task, span)) = &p.task_name {
            let label = match p.keyword("name") {
                Some((v, _)) => v.as_str().unwrap_or(task).to_string(),
                None => task.clone(),
            };
            report(cx, m, *span, &label, task);
        }
    }
}

fn report(cx: &mut RuleCx<'_>, module: usize, span: Span, entry: &str, task: &str) {
    let project = cx.project;
    if !project.tasks_named(task).is_empty() || !checkable(cx, task) {
        return;
    }
    match suggestion(project, task) {
        Some((s, t)) => {
            let def = project.def(&project.tasks[t]);
            let related = cx.related(
                project.tasks[t].module,
                def.def_span,
                format!("`{s}` is registered here"),
            );
            cx.report_variant(
                module,
                span,
                Some("suggestion"),
                &[("entry", entry), ("task", task), ("suggestion", &s)],
            )
            .with_related(related);
        }
        None => {
            cx.report(module, span, &[("entry", entry), ("task", task)]);
        }
    }
}

/// A name the project could define: its first segment is a project package, and it is not a
/// Celery built-in or a configured external prefix.
fn checkable(cx: &RuleCx<'_>, task: &str) -> bool {
    if task.starts_with("celery.") {
        return false;
    }
    if cx
        .options
        .external_task_prefixes
        .iter()
        .any(|p| !p.is_empty() && task.starts_with(p.as_str()))
    {
        return false;
    }
    task.split_once('.')
        .is_some_and(|(first, _)| cx.project.is_project_package(first))
        && !module_not_linted(cx, task)
}

/// Only part of the project is linted and the module the task name points into (the name
/// without its last segment) is not among the linted modules: the task may be defined there.
pub(crate) fn module_not_linted(cx: &RuleCx<'_>, task: &str) -> bool {
    cx.options.partial_tree
        && task
            .rsplit_once('.')
            .is_none_or(|(module, _)| cx.project.module(module).is_none())
}

/// The registered name the author probably meant, and that task: the task at that import
/// path (a re-export or an explicit `name=`), the only task with that function name, or the
/// closest registered name.
pub(crate) fn suggestion(project: &Project, name: &str) -> Option<(String, usize)> {
    if let Some(t) = project.task_by_qualname(name) {
        return project.tasks[t].name.clone().map(|n| (n, t));
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    let mut same_function: Vec<(&str, usize)> = project
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| !project.modules[t.module].is_test)
        .filter(|(_, t)| project.def(t).func_name == last)
        .filter_map(|(i, t)| t.name.as_deref().map(|n| (n, i)))
        .collect();
    same_function.sort_unstable();
    same_function.dedup_by(|a, b| a.0 == b.0);
    if let [(only, t)] = same_function.as_slice() {
        return Some(((*only).to_string(), *t));
    }
    let mut best: Option<(usize, &str, usize)> = None;
    for (i, t) in project.tasks.iter().enumerate() {
        if project.modules[t.module].is_test {
            continue;
        }
        let Some(n) = t.name.as_deref() else { continue };
        let d = distance(name, n, 3);
        if d <= 3 && best.is_none_or(|(bd, bn, _)| (d, n) < (bd, bn)) {
            best = Some((d, n, i));
        }
    }
    best.map(|(_, n, i)| (n.to_string(), i))
}
