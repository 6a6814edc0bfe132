//! CD002 `flask-task-without-app-context`: a task in a Flask project uses something that needs
//! an application context while nothing makes the worker push one.
//!
//! ## What it does
//! In a project with a Flask app and a Celery app, finds the first use in a task body (or a
//! project helper it calls directly) of `current_app`, `g`, `url_for`, `render_template`, a
//! Flask-SQLAlchemy `db.session` or `Model.query`, or Flask-Mail's `mail.send`, when no context
//! provider exists.
//!
//! ## Why is this bad?
//! The worker has no pushed app context: every run fails with `RuntimeError: Working outside of
//! application context`.
//!
//! ## Known false positives
//! Providers that silence it: a task class whose `__call__` enters `app_context()` or
//! `test_request_context()` (as `task_cls`, `app.Task = ...`, `base=`, or inside a
//! `make_celery` helper), `flask_celeryext`, `.app_context().push()` anywhere outside tests
//! (signal handlers, worker entry module), and a `with app.app_context():` in the task before
//! the use. A `has_app_context()` / `has_request_context()` check before the use guards it.
//! `db` must resolve to `flask_sqlalchemy.SQLAlchemy(...)` and `mail` to
//! `flask_mail.Mail(...)`. Unresolvable `task_cls` or `base=` classes are unknown: silent.

use crate::finding::Span;
use crate::lint::model::Project;
use crate::lint::model::facts::{BodyFacts, Value};
use crate::lint::rules::RuleCx;

fn constructed_by(project: &Project, q: &str, prefix: &str, class: &str) -> bool {
    match project.resolve_value(&Value::Ref(q.to_string())) {
        Value::Call { func, .. } => {
            func == format!("{prefix}.{class}")
                || (func.starts_with(prefix) && func.rsplit('.').next() == Some(class))
        }
        _ => false,
    }
}

/// A class deriving (through project classes) from a Flask-SQLAlchemy `db.Model`.
fn is_flask_model(project: &Project, class: &str) -> bool {
    let mut next = vec![class.to_string()];
    let mut steps = 0;
    while let Some(q) = next.pop() {
        steps += 1;
        if steps > 16 {
            break;
        }
        if let Some(db) = q.strip_suffix(".Model")
            && constructed_by(project, db, "flask_sqlalchemy", "SQLAlchemy")
        {
            return true;
        }
        if let Some(c) = project.class(&q) {
            next.extend(c.bases.iter().cloned());
        }
    }
    false
}

/// What a recorded reference needs an app context for, as shown in the message.
fn context_bound(project: &Project, q: &str) -> Option<String> {
    if let Some(name) = q.strip_prefix("flask.") {
        return Some(name.to_string());
    }
    let (base, attr) = q.rsplit_once('.')?;
    let short = base.rsplit('.').next().unwrap_or(base);
    let bound = match attr {
        "session" => constructed_by(project, base, "flask_sqlalchemy", "SQLAlchemy"),
        "query" => is_flask_model(project, base),
        "send" => constructed_by(project, base, "flask_mail", "Mail"),
        _ => false,
    };
    bound.then(|| format!("{short}.{attr}"))
}

/// The first context-bound use in a body that no earlier `app_context()` covers.
fn first_use(project: &Project, body: &BodyFacts) -> Option<(String, Span)> {
    let (what, at) = body
        .context_refs
        .iter()
        .filter_map(|(q, at)| context_bound(project, q).map(|w| (w, *at)))
        .min_by_key(|(_, at)| at.start)?;
    let covered = body.context_pushes.iter().any(|p| p.start <= at.start);
    (!covered).then_some((what, at))
}

fn imports_prefix(project: &Project, prefix: &str) -> bool {
    project.modules.iter().filter(|m| !m.is_test).any(|m| {
        m.facts
            .imported_modules
            .iter()
            .any(|i| i.starts_with(prefix))
            || m.facts
                .imports
                .iter()
                .any(|i| i.qualified.starts_with(prefix))
    })
}

/// Something pushes an application context for every task, or we cannot tell.
fn provider_exists(project: &Project) -> bool {
    if imports_prefix(project, "flask_celeryext") {
        return true;
    }
    let pushes = project
        .modules
        .iter()
        .filter(|m| !m.is_test)
        .flat_map(|m| m.facts.context_calls.iter())
        .any(|c| c.in_dunder_call || c.pushed);
    if pushes {
        return true;
    }
    // `Celery(task_cls=X)`: a class we cannot follow is unknown.
    project.apps.iter().any(|(_, app)| {
        app.kwargs
            .iter()
            .filter(|(k, _, _)| k == "task_cls")
            .any(|(_, v, _)| match v {
                Value::Ref(q) => !project.is_celery_task_class(q) && project.class(q).is_none(),
                _ => true,
            })
    })
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    let flask = project.modules.iter().filter(|m| !m.is_test).any(|m| {
        m.facts.imports.iter().any(|i| i.qualified == "flask.Flask")
            || m.facts.imported_modules.iter().any(|i| i == "flask")
    });
    let celery = !project.apps.is_empty() || imports_prefix(project, "celery.Celery");
    if !flask || !celery || provider_exists(project) {
        return;
    }
    for task in project.production_tasks() {
        let def = project.def(task);
        if project.base_unknown(def) || project.base_overrides(def, &["__call__"]) {
            continue;
        }
        let own = first_use(project, &def.body);
        let helper = def.body.calls.iter().find_map(|(callee, call_span)| {
            let (fm, function) = project.function(callee)?;
            let (what, at) = first_use(project, &function.body)?;
            Some((fm, what, at, *call_span, function.qualname.clone()))
        });
        let name = project.task_label(task);
        // Whichever comes first in the task body: its own use, or the call of the helper.
        let pushes_before = |at: u32| def.body.context_pushes.iter().any(|p| p.start <= at);
        match (own, helper) {
            (Some((what, at)), h) if h.as_ref().is_none_or(|h| at.start <= h.3.start) => {
                cx.report(task.module, at, &[("task", &name), ("what", &what)])
                    .with_task(task.name.as_deref());
            }
            (_, Some((fm, what, at, call_span, qualname))) if !pushes_before(call_span.start) => {
                let related = cx.related(task.module, call_span, "called from the task here");
                cx.report(fm, at, &[("task", &name), ("what", &what)])
                    .with_task(task.name.as_deref())
                    .with_anchor(format!("{qualname}|{what}"))
                    .with_related(related);
            }
            _ => {}
        }
    }
}
