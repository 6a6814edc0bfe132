//! CD603 `dispatch-under-atomic-requests`: with `ATOMIC_REQUESTS`, every view runs in a
//! transaction that commits when the view returns, so a plain `.delay()` in a view publishes
//! before the commit, although no `atomic` appears in the code.
//!
//! ## What it does
//! With `ATOMIC_REQUESTS: True` on the `default` database (any non-test settings layer), reports
//! publishing dispatches made directly in a synchronous view (a function referenced from a
//! `urls` module, an `@api_view` function, a method of a Django or DRF class-based view), or in
//! a project helper such a view calls (one hop), unless deferred on commit.
//!
//! ## Known false positives
//! Async views, views marked `@transaction.non_atomic_requests`, settings that only make other
//! aliases atomic, dispatches already inside `transaction.atomic` (CD602) and tests are skipped;
//! the suppressions of CD602 (on-commit deferral, task bases that override `delay`/`apply_async`)
//! apply.
//!
//! ## Fix safety
//! Unsafe, CD602's rewrite: `transaction.on_commit(functools.partial(t.delay, ...))`, offered
//! only when the call's result is discarded and the module imports `transaction` and
//! `functools`. The task is then not sent at all if the request's transaction rolls back.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::finding::Span;
use crate::lint::model::Project;
use crate::lint::model::facts::{CANVAS_TARGET, CallSite, DefInfo, DispatchKind};
use crate::lint::rules::RuleCx;

/// Where `ATOMIC_REQUESTS` is turned on for the default database.
fn atomic_requests(project: &Project) -> Option<(usize, Span)> {
    for (i, m) in project.modules.iter().enumerate() {
        if project.is_test_module(i) {
            continue;
        }
        for a in m.facts.assigns.iter().filter(|a| a.name == "DATABASES") {
            let on = a
                .value
                .dict_get("default")
                .and_then(|d| d.dict_get("ATOMIC_REQUESTS"))
                .and_then(|v| project.resolve_value(v).truthy());
            if on == Some(true) {
                return Some((i, a.span));
            }
        }
        for s in &m.facts.subscript_assigns {
            if s.name == "DATABASES"
                && s.keys == ["default", "ATOMIC_REQUESTS"]
                && project.resolve_value(&s.value).truthy() == Some(true)
            {
                return Some((i, s.span));
            }
        }
    }
    None
}

fn non_atomic(decorators: &[String]) -> bool {
    decorators.iter().any(|d| d.contains("non_atomic_requests"))
}

/// Synchronous views: qualified name → (module, def).
fn views(project: &Project) -> HashMap<String, (usize, &DefInfo)> {
    let mut routed: HashSet<String> = HashSet::default();
    for m in &project.modules {
        let name = &m.facts.module;
        if name == "urls" || name.ends_with(".urls") {
            for (q, _) in &m.facts.name_refs {
                routed.insert(q.clone());
                routed.insert(project.resolve_symbol(q));
            }
        }
    }
    // Classes opted out with `@method_decorator(transaction.non_atomic_requests, ...)`.
    let mut opted_out: HashSet<&str> = HashSet::default();
    for m in &project.modules {
        for (class, decorators) in &m.facts.class_decorators {
            if non_atomic(decorators) {
                opted_out.insert(class);
            }
        }
    }
    for (_, d) in project.defs() {
        if let Some(class) = &d.class
            && non_atomic(&d.decorators)
        {
            opted_out.insert(class);
        }
    }
    let mut out = HashMap::default();
    for (m, d) in project.defs() {
        if project.is_test_module(m) || d.is_async || non_atomic(&d.decorators) {
            continue;
        }
        let is_view = match &d.class {
            Some(class) => !opted_out.contains(class.as_str()) && project.is_view_class(class),
            None => {
                routed.contains(&d.qualname)
                    || d.decorator_targets
                        .iter()
                        .flatten()
                        .any(|t| t.ends_with("api_view"))
            }
        };
        if is_view {
            out.insert(d.qualname.clone(), (m, d));
        }
    }
    out
}

/// A publishing dispatch that is not deferred and not already reported by CD602.
fn publishes_now(project: &Project, m: usize, call: &CallSite) -> bool {
    if project.modules[m].is_test
        || !call.kind.publishes()
        || call.deferred
        || call.atomic.is_some()
    {
        return false;
    }
    match project.task_for_call(call).map(|t| &project.tasks[t]) {
        Some(t) => {
            let def = project.def(t);
            !project.base_overrides(def, &["apply_async", "delay"]) && !project.base_unknown(def)
        }
        None => !(call.kind == DispatchKind::Delay && call.target != CANVAS_TARGET),
    }
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    let Some((setting_module, setting_span)) = atomic_requests(project) else {
        return;
    };
    let views = views(project);
    if views.is_empty() {
        return;
    }
    // Dispatch sites by the function they are directly in.
    let mut by_def: HashMap<&str, Vec<(usize, &CallSite)>> = HashMap::default();
    for (m, call) in project.calls() {
        if let Some(d) = &call.enclosing_def
            && publishes_now(project, m, call)
        {
            by_def.entry(d.as_str()).or_default().push((m, call));
        }
    }
    let mut ordered: Vec<(&String, &(usize, &DefInfo))> = views.iter().collect();
    ordered.sort_by_key(|(q, _)| q.as_str());
    let mut reported: HashSet<(usize, Span)> = HashSet::default();
    for (qualname, (view_module, view)) in ordered {
        let view_name = qualname.rsplit('.').next().unwrap_or(qualname);
        let view_label = match &view.class {
            Some(class) => {
                let c = class.rsplit('.').next().unwrap_or(class);
                format!("{c}.{view_name}")
            }
            None => view_name.to_string(),
        };
        for (m, call) in by_def.get(qualname.as_str()).into_iter().flatten() {
            if !reported.insert((*m, call.span)) {
                continue;
            }
            let text = format!("{}()", call.text);
            let task = project.task_for_call(call);
            let related = cx.related(setting_module, setting_span, "`ATOMIC_REQUESTS` is on here");
            cx.report(*m, call.span, &[("call", &text), ("view", &view_label)])
                .with_task(task.and_then(|t| project.tasks[t].name.as_deref()))
                .with_related(related)
                .with_fix(super::on_commit_fix(project, *m, call));
        }
        // One hop: a project helper the view calls.
        for (callee, at) in project.modules[*view_module].facts.def_calls(view) {
            let Some((_, helper)) = project.function(callee) else {
                continue;
            };
            if views.contains_key(&helper.qualname) {
                continue;
            }
            for (m, call) in by_def.get(helper.qualname.as_str()).into_iter().flatten() {
                if !reported.insert((*m, call.span)) {
                    continue;
                }
                let text = format!("{}()", call.text);
                let helper_name = helper.qualname.rsplit('.').next().unwrap_or("");
                let task = project.task_for_call(call);
                let setting =
                    cx.related(setting_module, setting_span, "`ATOMIC_REQUESTS` is on here");
                let caller = cx.related(
                    *view_module,
                    *at,
                    format!("called from view `{view_label}`"),
                );
                cx.report_variant(
                    *m,
                    call.span,
                    Some("helper"),
                    &[
                        ("call", &text),
                        ("view", &view_label),
                        ("helper", helper_name),
                    ],
                )
                .with_task(task.and_then(|t| project.tasks[t].name.as_deref()))
                .with_related(caller)
                .with_related(setting)
                .with_fix(super::on_commit_fix(project, *m, call));
            }
        }
    }
}
