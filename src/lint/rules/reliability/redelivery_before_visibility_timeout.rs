//! CD102 `redelivery-before-visibility-timeout`: with a Redis or SQS broker, a message held
//! unacknowledged longer than the visibility timeout is delivered again.
//!
//! ## What it does
//! With a resolved `redis://`, `rediss://`, `sentinel://` or `sqs://` broker URL, reports
//! literal delays above the visibility timeout (`broker_transport_options["visibility_timeout"]`
//! when literal, else 3600 s for Redis and 1800 s for SQS): `apply_async(countdown=...)`,
//! `eta=now() + timedelta(...)`, `self.retry(countdown=...)`, `default_retry_delay`,
//! `retry_backoff_max` with backoff on; and late-acknowledged tasks whose effective hard time
//! limit exceeds the timeout.
//!
//! ## Why is this bad?
//! ETA messages and late-acked tasks stay unacknowledged; after the timeout a second worker
//! receives a copy and the task runs twice (and again after each further timeout).
//!
//! ## Known false positives
//! Computed delays, brokers from the environment or overridden by `CELERY_BROKER_URL` in
//! deployment files, non-literal transport options, transport options changed after assignment
//! (`OPTS["visibility_timeout"] = ...`, `.update(...)`, in any settings layer), unknown
//! configuration (`config_from_envvar`, `app.conf.update(variable)`), SQS with
//! `predefined_queues`, and AMQP brokers are all silent.

use crate::finding::Span;
use crate::lint::model::facts::Value;
use crate::lint::model::{Project, SettingEntry};
use crate::lint::rules::RuleCx;

fn secs(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

struct Timeout<'a> {
    seconds: f64,
    origin: String,
    broker: &'a SettingEntry,
    options: Option<&'a SettingEntry>,
}

/// The visibility timeout that applies, when the broker and its options are resolved.
fn visibility_timeout(project: &Project) -> Option<Timeout<'_>> {
    if project.config_unresolved || project.worker_commands.iter().any(|c| c.broker_env) {
        return None;
    }
    let (url, broker) = project.setting_value("broker_url")?;
    let url = url.as_str()?.to_ascii_lowercase();
    let (default, transport) = if ["redis://", "rediss://", "sentinel://", "redis+socket://"]
        .iter()
        .any(|s| url.starts_with(s))
    {
        (3600.0, "Redis")
    } else if url.starts_with("sqs://") {
        (1800.0, "SQS")
    } else {
        return None;
    };
    if changed_in_place(project, "broker_transport_options") {
        return None;
    }
    if !project.is_set("broker_transport_options") {
        return Some(Timeout {
            seconds: default,
            origin: format!("the {transport} default"),
            broker,
            options: None,
        });
    }
    let (options, entry) = project.setting_value("broker_transport_options")?;
    let Value::Dict(_) = options else { return None };
    if transport == "SQS" && options.dict_get("predefined_queues").is_some() {
        return None;
    }
    match options.dict_get("visibility_timeout") {
        None => Some(Timeout {
            seconds: default,
            origin: format!("the {transport} default"),
            broker,
            options: Some(entry),
        }),
        Some(v) => Some(Timeout {
            seconds: project.resolve_value(v).as_seconds()?,
            origin: format!("set in `{}`", entry.raw),
            broker,
            options: Some(entry),
        }),
    }
}

/// The setting's dict is changed after assignment somewhere outside test code, in any layer:
/// `CELERY_BROKER_TRANSPORT_OPTIONS.update(...)` in a settings module, `OPTS["visibility_timeout"]
/// = ...` on the dict the setting refers to, `app.conf.broker_transport_options[...] = ...`. Its
/// value is then unknown.
fn changed_in_place(project: &Project, setting: &str) -> bool {
    let mut names: Vec<String> = vec![setting.to_string()];
    for e in project.setting(setting) {
        names.push(e.raw.clone());
        if let Value::Ref(q) = &e.value {
            for q in [q.clone(), project.resolve_symbol(q)] {
                names.push(q.rsplit('.').next().unwrap_or(&q).to_string());
            }
        }
    }
    project.modules.iter().filter(|m| !m.is_test).any(|m| {
        m.facts
            .mutated
            .iter()
            .chain(m.facts.aug_assigned.iter())
            .any(|n| names.contains(n))
    })
}

fn report_delay(
    cx: &mut RuleCx<'_>,
    timeout: &Timeout<'_>,
    module: usize,
    span: Span,
    what: &str,
    delay: f64,
    task: Option<&str>,
) {
    let related = timeout_related(cx, timeout);
    let finding = cx.report(
        module,
        span,
        &[
            ("what", what),
            ("delay", &secs(delay)),
            ("timeout", &secs(timeout.seconds)),
            ("origin", &timeout.origin),
        ],
    );
    finding.with_task(task);
    for r in related {
        finding.with_related(r);
    }
}

fn timeout_related(cx: &RuleCx<'_>, timeout: &Timeout<'_>) -> Vec<crate::finding::Related> {
    let mut out = vec![cx.related(
        timeout.broker.module,
        timeout.broker.span,
        "the broker is set here",
    )];
    if let Some(o) = timeout.options {
        out.push(cx.related(o.module, o.span, "transport options are set here"));
    }
    out
}

fn seconds_of(project: &Project, v: &Value) -> Option<f64> {
    project.resolve_value(v).as_seconds()
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    let Some(timeout) = visibility_timeout(project) else {
        return;
    };
    let limit = timeout.seconds;
    report_mismatches(cx, &timeout);
    // 1. Dispatch delays.
    for (mi, call) in project.calls() {
        if project.modules[mi].is_test || !call.kind.publishes_with_options() {
            continue;
        }
        for (key, value, span) in &call.call_keywords {
            if key == "countdown"
                && let Some(d) = seconds_of(project, value)
                && d > limit
            {
                report_delay(cx, &timeout, mi, *span, "countdown", d, None);
            }
            if key == "eta"
                && let Some(d) = call.eta_delay
                && d > limit
            {
                report_delay(cx, &timeout, mi, *span, "eta", d, None);
            }
        }
    }
    for task in project.production_tasks() {
        let def = project.def(task);
        let name = task.name.as_deref();
        for retry in &def.body.retry_calls {
            if let Some(d) = retry
                .countdown
                .as_ref()
                .and_then(|v| seconds_of(project, v))
                && d > limit
            {
                report_delay(
                    cx,
                    &timeout,
                    task.module,
                    retry.span,
                    "retry countdown",
                    d,
                    name,
                );
            }
        }
        if let Some(d) = project
            .task_option(def, "default_retry_delay")
            .and_then(|v| seconds_of(project, &v))
            && d > limit
        {
            let span = def
                .option_span("default_retry_delay")
                .unwrap_or(def.def_span);
            report_delay(
                cx,
                &timeout,
                task.module,
                span,
                "default_retry_delay",
                d,
                name,
            );
        }
        let backoff = project
            .task_option(def, "retry_backoff")
            .map(|v| project.resolve_value(&v))
            .is_some_and(|v| v.truthy() == Some(true) || v.as_seconds().is_some_and(|s| s > 0.0));
        if backoff
            && let Some(d) = project
                .task_option(def, "retry_backoff_max")
                .and_then(|v| seconds_of(project, &v))
            && d > limit
        {
            let span = def.option_span("retry_backoff_max").unwrap_or(def.def_span);
            report_delay(
                cx,
                &timeout,
                task.module,
                span,
                "retry_backoff_max",
                d,
                name,
            );
        }
        // 2. Late acknowledgement with a hard limit above the timeout.
        let acks_late = match project.task_option(def, "acks_late") {
            Some(v) => project.resolve_value(&v).truthy() == Some(true),
            None if project.base_unknown(def) => false,
            None => matches!(
                project.setting_value("task_acks_late"),
                Some((v, _)) if v.truthy() == Some(true)
            ),
        };
        if !acks_late {
            continue;
        }
        let hard = match project.effective_time_limit(def, "time_limit", "task_time_limit") {
            Some(h) => h,
            None => worker_time_limit(project),
        };
        let Some(hard) = hard else { continue };
        if hard <= limit {
            continue;
        }
        let label = project.task_label(task);
        let related = timeout_related(cx, &timeout);
        let finding = cx.report_variant(
            task.module,
            def.def_span,
            Some("late_ack"),
            &[
                ("task", &label),
                ("limit", &secs(hard)),
                ("timeout", &secs(limit)),
                ("origin", &timeout.origin),
            ],
        );
        finding.with_task(name);
        for r in related {
            finding.with_related(r);
        }
    }
}

/// The largest `--time-limit` of the worker command lines, when every one sets it literally.
fn worker_time_limit(project: &Project) -> Option<f64> {
    let workers: Vec<_> = project
        .worker_commands
        .iter()
        .filter(|c| c.is_worker)
        .collect();
    if workers.is_empty() || workers.iter().any(|c| c.dynamic) {
        return None;
    }
    workers
        .iter()
        .map(|c| c.time_limit)
        .collect::<Option<Vec<f64>>>()?
        .into_iter()
        .reduce(f64::max)
}

/// The Redis guide asks for the same `visibility_timeout` in the broker transport options, the
/// result backend transport options and `app.conf.visibility_timeout`.
fn report_mismatches(cx: &mut RuleCx<'_>, timeout: &Timeout<'_>) {
    let project = cx.project;
    let Some(broker_options) = timeout.options else {
        return;
    };
    if !timeout.origin.starts_with("set in") {
        return;
    }
    let mut others: Vec<(&SettingEntry, f64, Span)> = Vec::new();
    if let Some((v, e)) = project.setting_value("result_backend_transport_options")
        && !changed_in_place(project, "result_backend_transport_options")
        && let Some(s) = v
            .dict_get("visibility_timeout")
            .and_then(|x| seconds_of(project, x))
    {
        others.push((e, s, e.span));
    }
    for e in project
        .config
        .entries
        .iter()
        .filter(|e| !e.is_test && e.raw == "visibility_timeout")
    {
        if let Some(s) = seconds_of(project, &e.value) {
            others.push((e, s, e.span));
        }
    }
    for (entry, seconds, span) in others {
        if seconds == timeout.seconds {
            continue;
        }
        let related = cx.related(
            broker_options.module,
            broker_options.span,
            "the broker's visibility timeout is set here",
        );
        cx.report_variant(
            entry.module,
            span,
            Some("mismatch"),
            &[
                ("key", &entry.raw),
                ("value", &secs(seconds)),
                ("broker_key", &broker_options.raw),
                ("timeout", &secs(timeout.seconds)),
            ],
        )
        .with_related(related);
    }
}
