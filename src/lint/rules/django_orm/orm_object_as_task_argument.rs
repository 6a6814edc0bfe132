//! CD601 `orm-object-as-task-argument`: a model instance, `QuerySet`, `request.user` or
//! SQLAlchemy instance passed to a task. JSON cannot encode it (the dispatch raises
//! `EncodeError`); pickle delivers a stale snapshot the task may save over newer data.
//!
//! ## What it does
//! Reports dispatch arguments (`.delay`, `.apply_async`, `.s`, `.si`, `signature`, `send_task`)
//! that the model traced to an ORM object: names bound from `Model.objects.get/create/first/...`,
//! `get_object_or_404`, `Model(...)` for project classes deriving `models.Model`, `form.save()`,
//! `serializer.save()`, `request.user`, `self` in a model method, `instance` in model-signal
//! receivers, querysets, and SQLAlchemy query results.
//!
//! ## Known false positives
//! `obj.pk`, `obj.id`, `model_to_dict(obj)`, `serializer.data` and `values_list(...)` wrapped
//! in `list()` are plain data and never traced. Tasks with `pydantic=True` are skipped; a
//! custom kombu serializer or JSON type (`kombu.utils.json.register_type`) registered in the
//! project disables the rule.

use crate::lint::model::Project;
use crate::lint::model::facts::{CallSite, DispatchKind, OrmArg, OrmKind};
use crate::lint::rules::RuleCx;

/// What the argument is, for the message; `None` when it is not an ORM object after all.
fn describe(project: &Project, arg: &OrmArg) -> Option<String> {
    // The origin is not repeated when the argument is the expression itself.
    let origin = if arg.origin == format!("`{}`", arg.text) {
        String::new()
    } else {
        format!(" ({})", arg.origin)
    };
    Some(match &arg.kind {
        OrmKind::Instance => format!("a model instance{origin}"),
        OrmKind::QuerySet => format!("a `QuerySet`{origin}"),
        OrmKind::RequestUser => "a model instance (the requesting user)".to_string(),
        OrmKind::Constructed(class) => {
            if project.is_django_model(class) != Some(true) {
                return None;
            }
            format!("a model instance{origin}")
        }
        OrmKind::SelfOf(class) => {
            if project.is_django_model(class) != Some(true) {
                return None;
            }
            let name = class.rsplit('.').next().unwrap_or(class);
            format!("a model instance (`self` in a method of `{name}`)")
        }
        OrmKind::SqlAlchemy => format!("an SQLAlchemy instance{origin}"),
    })
}

/// The serializer the call uses: the call's keyword, the task option, the global setting.
fn serializer(project: &Project, call: &CallSite, task: Option<usize>) -> Option<String> {
    if let Some((_, v, _)) = call
        .call_keywords
        .iter()
        .find(|(k, _, _)| k == "serializer")
    {
        return v.as_str().map(str::to_string);
    }
    if let Some(t) = task
        && let Some(v) = project.task_option(project.def(&project.tasks[t]), "serializer")
    {
        return project.resolve_value(&v).as_str().map(str::to_string);
    }
    if !project.is_set("task_serializer") && !project.config_unresolved {
        return Some("json".to_string());
    }
    project
        .setting_value("task_serializer")
        .and_then(|(v, _)| v.as_str().map(str::to_string))
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    // A custom serializer or JSON type registered in the project may know how to encode
    // models.
    if project.modules.iter().any(|m| m.facts.registers_serializer) {
        return;
    }
    for (m, call) in project.calls() {
        if call.orm_args.is_empty() {
            continue;
        }
        let task = project.task_for_call(call);
        // `.delay()` / `.s()` alone are not proof of Celery; the task must be known.
        let proven = matches!(
            call.kind,
            DispatchKind::ApplyAsync | DispatchKind::SendTask | DispatchKind::SignatureByName
        );
        if task.is_none() && !proven {
            continue;
        }
        if let Some(t) = task {
            let def = project.def(&project.tasks[t]);
            // Celery converts Pydantic arguments itself.
            if project
                .task_option(def, "pydantic")
                .is_some_and(|v| project.resolve_value(&v).truthy() != Some(false))
            {
                continue;
            }
        }
        let serializer = serializer(project, call, task);
        let (variant, serializer_shown) = match serializer.as_deref() {
            Some("pickle" | "application/x-python-serialize") => (Some("pickle"), "pickle".into()),
            Some(s) => (None, s.to_string()),
            None => (Some("unknown"), String::new()),
        };
        let text = format!("{}()", call.text);
        for arg in &call.orm_args {
            let Some(what) = describe(project, arg) else {
                continue;
            };
            cx.report_variant(
                m,
                arg.span,
                variant,
                &[
                    ("arg", &arg.text),
                    ("what", &what),
                    ("call", &text),
                    ("serializer", &serializer_shown),
                ],
            )
            .with_task(task.and_then(|t| project.tasks[t].name.as_deref()));
        }
    }
}
