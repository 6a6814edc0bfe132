//! CD003 `blocking-result-wait-in-request-handler`: web request code that waits for a task
//! result blocks the event loop (async) or hangs the request while workers are down (sync).
//!
//! ## What it does
//! Finds `.get()`, `.wait()`, `.join()`, `.join_native()` and `.collect()` on a value proven to
//! be a Celery result (from `.delay()`, `.apply_async()`, an applied canvas, `AsyncResult(id)`)
//! inside any `async def` (error), or inside a synchronous request handler without `timeout=`
//! (warning). Request handlers: Flask/FastAPI route decorators on a `Flask`, `Blueprint`,
//! `FastAPI` or `APIRouter` object, DRF `@api_view`, Django view functions referenced from a
//! `urls` module, methods of Django/DRF/Flask class-based views.
//!
//! ## Why is this bad?
//! An async endpoint stalls every other request of the process; a sync one waits forever when
//! no worker consumes the queue.
//!
//! ## Known false positives
//! Management commands, scripts and tests are not request handlers. `asyncio.to_thread(res.get)`
//! passes `get` as a reference and does not match; sync handlers that pass `timeout=` are fine.
//! A `get()` on a name whose `.ready()` was called earlier in the handler (`if not r.ready():
//! return ...`, `r.get() if ready else r.result`) does not block.

use crate::finding::Severity;
use crate::lint::model::facts::{HandlerFacts, Producer, ResultWait, Value};
use crate::lint::model::{Module, Project};
use crate::lint::rules::RuleCx;

const ROUTE_METHODS: &[&str] = &[
    "route",
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "options",
    "api_route",
    "websocket",
];
const WEB_OBJECTS: &[&str] = &["Flask", "Blueprint", "FastAPI", "APIRouter", "Quart"];
const VIEW_METHODS: &[&str] = &[
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "options",
    "dispatch",
    "list",
    "create",
    "retrieve",
    "update",
    "partial_update",
    "destroy",
    "form_valid",
    "get_context_data",
];

fn is_result(project: &Project, wait: &ResultWait) -> bool {
    match &wait.producer {
        Producer::Dispatch(target) => project.task_by_qualname(target).is_some(),
        Producer::AsyncResult | Producer::Canvas => true,
    }
}

/// `@app.route(...)` / `@router.post(...)` on a Flask or FastAPI object, `@api_view`.
fn route_decorated(project: &Project, h: &HandlerFacts) -> bool {
    h.decorator_targets.iter().flatten().any(|q| {
        if q == "rest_framework.decorators.api_view"
            || q == "rest_framework.decorators.action"
            || q.starts_with("django.views.decorators.http.require_")
        {
            return true;
        }
        let Some((receiver, method)) = q.rsplit_once('.') else {
            return false;
        };
        if !ROUTE_METHODS.contains(&method) {
            return false;
        }
        match project.resolve_value(&Value::Ref(receiver.to_string())) {
            Value::Call { func, .. } => {
                WEB_OBJECTS.contains(&func.rsplit('.').next().unwrap_or(&func))
            }
            _ => false,
        }
    })
}

/// A class whose (project-followed) bases include a Django, DRF or Flask view class.
fn is_view_class(project: &Project, class: &str) -> bool {
    let mut next = vec![class.to_string()];
    let mut seen = 0;
    while let Some(q) = next.pop() {
        seen += 1;
        if seen > 16 {
            break;
        }
        if q.starts_with("django.views.")
            || q.starts_with("rest_framework.")
            || q == "flask.views.MethodView"
            || q == "flask.views.View"
        {
            return true;
        }
        if let Some(c) = project.class(&q) {
            next.extend(c.bases.iter().cloned());
        }
    }
    false
}

fn referenced_from_urls(project: &Project, qualname: &str) -> bool {
    project.modules.iter().any(|m| {
        let name = &m.facts.module;
        (name == "urls" || name.ends_with(".urls"))
            && m.facts
                .name_refs
                .iter()
                .any(|(q, _)| q == qualname || project.resolve(q) == qualname)
    })
}

fn is_request_handler(project: &Project, module: &Module, h: &HandlerFacts) -> bool {
    if route_decorated(project, h) {
        return true;
    }
    if let Some(class) = &h.class {
        return VIEW_METHODS.contains(&h.name.as_str()) && is_view_class(project, class);
    }
    if referenced_from_urls(project, &h.qualname) {
        return true;
    }
    // A Django view function: `def view(request, ...)` in a `views` module or package.
    let name = &module.facts.module;
    let in_views = name == "views" || name.ends_with(".views") || name.contains(".views.");
    in_views && h.first_param.as_deref() == Some("request")
}

fn excluded(module: &Module) -> bool {
    let name = &module.facts.module;
    module.is_test || name.contains("management.commands") || name.starts_with("scripts.")
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (mi, module) in project.modules.iter().enumerate() {
        if module.facts.handlers.is_empty() || excluded(module) {
            continue;
        }
        for h in &module.facts.handlers {
            let waits: Vec<&ResultWait> = h
                .waits
                .iter()
                .filter(|w| is_result(project, w) && !w.ready_checked)
                .collect();
            if waits.is_empty() {
                continue;
            }
            if h.is_async {
                for wait in waits {
                    cx.report_variant(
                        mi,
                        wait.span,
                        Some("async"),
                        &[("function", &h.qualname), ("method", &wait.method)],
                    );
                }
                continue;
            }
            if !is_request_handler(project, module, h) {
                continue;
            }
            for wait in waits.into_iter().filter(|w| !w.timeout) {
                cx.report(
                    mi,
                    wait.span,
                    &[("function", &h.qualname), ("method", &wait.method)],
                )
                .with_severity(Severity::Warning);
            }
        }
    }
}
