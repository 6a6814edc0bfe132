//! CD952 `route-matches-no-task`: a `task_routes` key that matches no registered task name.
//!
//! ## What it does
//! Matches every literal `task_routes` key — exact name, glob (`"reports.tasks.*"`) or
//! `re.compile(...)` — against the registered names of the project's tasks, with Celery's
//! semantics (globs and regexes match at the start of the name, `*` is at least one
//! character).
//!
//! ## Why is this bad?
//! A route left behind after a rename, or written with the import path instead of the
//! registered name, does nothing: the task silently goes to the default queue.
//!
//! ## Known false positives
//! Keys whose first segment is not a project package (third-party tasks, `celery.*`) are
//! skipped; so is everything when some task names are unknown (`gen_task_name` overridden,
//! computed `name=`), and regexes using syntax the model does not evaluate (groups,
//! alternation). When only part of the project is linted, patterns are skipped and an exact
//! name counts only if its module was linted.

use crate::lint::model::RoutePattern;
use crate::lint::rules::RuleCx;
use crate::lint::rules::beat::beat_task_not_registered::{module_not_linted, suggestion};

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    if !project.task_names_known() {
        return;
    }
    let Some(routes) = project.route_entries() else {
        return;
    };
    let names: Vec<&str> = project
        .tasks
        .iter()
        .filter_map(|t| t.name.as_deref())
        .collect();
    for route in routes {
        let Some(first) = route.pattern.first_segment() else {
            continue;
        };
        if first == "celery" || !project.is_project_package(&first) {
            continue;
        }
        let text = route.pattern.text();
        if cx
            .options
            .external_task_prefixes
            .iter()
            .any(|p| !p.is_empty() && text.starts_with(p.as_str()))
        {
            continue;
        }
        let mut matched = Some(false);
        for n in &names {
            match route.pattern.matches(n) {
                Some(true) => {
                    matched = Some(true);
                    break;
                }
                Some(false) => {}
                None => matched = None,
            }
        }
        if matched != Some(false) {
            continue;
        }
        // A partial lint: the matching task may be in a module that was not read.
        let unread = match &route.pattern {
            RoutePattern::Exact(name) => module_not_linted(cx, name),
            _ => cx.options.partial_tree,
        };
        if unread {
            continue;
        }
        let kind = match route.pattern {
            RoutePattern::Exact(_) => "route",
            RoutePattern::Glob(_) => "glob route",
            RoutePattern::Regex(_) => "regex route",
        };
        let suggested = match &route.pattern {
            RoutePattern::Exact(name) => suggestion(project, name),
            _ => None,
        };
        match suggested {
            Some((s, t)) => {
                let related = cx.related(
                    project.tasks[t].module,
                    project.def(&project.tasks[t]).def_span,
                    format!("`{s}` is registered here"),
                );
                cx.report_variant(
                    route.module,
                    route.key_span,
                    Some("suggestion"),
                    &[("kind", kind), ("pattern", text), ("suggestion", &s)],
                )
                .with_related(related);
            }
            None => {
                cx.report(
                    route.module,
                    route.key_span,
                    &[("kind", kind), ("pattern", text)],
                );
            }
        }
    }
}
