//! CD802 `serializer-not-accepted`: messages sent with a serializer that the receiving side
//! does not accept are discarded (kombu `ContentDisallowed`).
//!
//! ## What it does
//! Compares `task_serializer`, task `serializer=` options and call `serializer=` keywords with
//! `accept_content` (default `["json"]`), and `result_serializer` with `result_accept_content`
//! (default: `accept_content`). Serializer names and MIME types are both understood.
//!
//! ## Known false positives
//! Silent when the worker configuration is not in the repository (no Celery app), when some
//! configuration source is unresolved, when `app.setup_security()` rewrites the serializer
//! settings, and for serializer names that are neither built in nor registered in the project.

use crate::lint::model::Project;
use crate::lint::model::facts::Value;
use crate::lint::rules::RuleCx;

/// Built-in serializers and their content types.
const BUILTIN: &[(&str, &str)] = &[
    ("json", "application/json"),
    ("pickle", "application/x-python-serialize"),
    ("yaml", "application/x-yaml"),
    ("msgpack", "application/x-msgpack"),
];

/// The serializer name for a name or MIME type.
fn canonical(s: &str) -> String {
    BUILTIN
        .iter()
        .find(|(n, mime)| *n == s || *mime == s)
        .map_or_else(|| s.to_string(), |(n, _)| (*n).to_string())
}

/// An accepted list as canonical names; `None` when not a literal list of strings.
fn accepted_list(v: &Value) -> Option<Vec<String>> {
    v.elements()?
        .iter()
        .map(|i| i.as_str().map(canonical))
        .collect()
}

struct Accept {
    names: Vec<String>,
    /// Where it is set, `None` for Celery's default.
    setting: Option<String>,
}

impl Accept {
    fn shown(&self) -> String {
        let list = self
            .names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!("[{list}]")
    }
}

fn accept_content(project: &Project) -> Option<Accept> {
    if !project.is_set("accept_content") {
        return Some(Accept {
            names: vec!["json".into()],
            setting: None,
        });
    }
    let (v, e) = project.setting_value("accept_content")?;
    Some(Accept {
        names: accepted_list(&v)?,
        setting: Some(e.raw.clone()),
    })
}

fn result_accept_content(project: &Project, accept: &Option<Accept>) -> Option<Accept> {
    if !project.is_set("result_accept_content") {
        let a = accept.as_ref()?;
        return Some(Accept {
            names: a.names.clone(),
            setting: a.setting.clone(),
        });
    }
    let (v, e) = project.setting_value("result_accept_content")?;
    if v.is_none() {
        let a = accept.as_ref()?;
        return Some(Accept {
            names: a.names.clone(),
            setting: a.setting.clone(),
        });
    }
    Some(Accept {
        names: accepted_list(&v)?,
        setting: Some(e.raw.clone()),
    })
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    // The worker side must be in the repository and fully resolved.
    if project.apps.is_empty() || project.config_unresolved {
        return;
    }
    let registered: Vec<&String> = project
        .modules
        .iter()
        .flat_map(|m| m.facts.registered_serializers.iter())
        .collect();
    if project.modules.iter().any(|m| m.facts.calls_setup_security)
        || registered.iter().any(|r| *r == "*")
    {
        return;
    }
    // A serializer we can judge: built in or registered in the project, by name.
    let known = |s: &str| {
        let c = canonical(s);
        BUILTIN.iter().any(|(n, _)| *n == c) || registered.iter().any(|r| **r == c)
    };
    // A custom serializer may be accepted by its content type, which we do not know.
    let judgeable = |a: &Accept| a.names.iter().all(|n| known(n));
    let accept = accept_content(project);
    let result_accept = result_accept_content(project, &accept);
    let default_name = |a: &Accept| {
        a.setting
            .clone()
            .unwrap_or_else(|| "accept_content".to_string())
    };

    let check_one = |cx: &mut RuleCx<'_>,
                     module: usize,
                     span: crate::finding::Span,
                     what: String,
                     serializer: &str,
                     accept: &Accept,
                     variant: Option<&str>| {
        if !known(serializer) || !judgeable(accept) {
            return;
        }
        if accept.names.contains(&canonical(serializer)) {
            return;
        }
        let accept_name = default_name(accept);
        let accept_shown = match &accept.setting {
            Some(_) => accept.shown(),
            None => format!("{} by default", accept.shown()),
        };
        cx.report_variant(
            module,
            span,
            variant,
            &[
                ("what", &what),
                ("serializer", serializer),
                ("accept", &accept_name),
                ("accepted", &accept_shown),
            ],
        )
        .with_anchor(what.clone());
    };

    if let Some(accept) = &accept {
        if let Some((v, e)) = project.setting_value("task_serializer")
            && let Some(s) = v.as_str()
        {
            let what = format!("`{}`", e.raw);
            check_one(cx, e.module, e.span, what, s, accept, None);
        }
        for task in project.production_tasks() {
            let def = project.def(task);
            if let (Some(v), Some(span)) = (def.option("serializer"), def.option_span("serializer"))
                && let Some(s) = project.resolve_value(v).as_str()
            {
                let what = format!("Task `{}`", project.task_label(task));
                check_one(cx, task.module, span, what, s, accept, None);
            }
        }
        for (m, call) in project.calls() {
            if project.modules[m].is_test || !call.kind.publishes() {
                continue;
            }
            for (k, v, span) in &call.call_keywords {
                if k == "serializer"
                    && let Some(s) = v.as_str()
                {
                    let what = format!("`{}()`", call.text);
                    check_one(cx, m, *span, what, s, accept, None);
                }
            }
        }
    }
    if let Some(result_accept) = &result_accept
        && let Some((v, e)) = project.setting_value("result_serializer")
        && let Some(s) = v.as_str()
    {
        let what = format!("`{}`", e.raw);
        check_one(cx, e.module, e.span, what, s, result_accept, Some("result"));
    }
}
