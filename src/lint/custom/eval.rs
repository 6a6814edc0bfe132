//! Custom rules evaluated over the project model. Precision policy: an option, keyword or
//! setting whose value the model cannot know never satisfies a comparison, and "missing" is
//! only claimed when nothing could have set the value (`**kwargs`, an unknown `base=` class,
//! an unresolved configuration source).

use crate::lint::model::facts::{AnyCall, CallSite, DispatchKind, TaskDef, Value};
use crate::lint::model::{Project, Task};
use crate::lint::rules::RuleCx;

use super::schema::{CallSel, Cond, DispatchSel, InTask, Lit, Op, Selector, SettingSel, TaskSel};

/// Template arguments of one match: `(placeholder, value)`.
type Args = Vec<(String, String)>;

/// What a condition sees: a known value, known to be absent, or unknown.
enum Seen {
    Value(Value),
    Absent,
    Unknown,
}

fn holds(project: &Project, cond: &Cond, seen: &Seen) -> bool {
    match (cond, seen) {
        (Cond::Missing, Seen::Absent) => true,
        (Cond::Present, Seen::Value(_)) => true,
        (Cond::Cmp(op, lit), Seen::Value(v)) => {
            compare(&project.resolve_value(v), *op, lit).unwrap_or(false)
        }
        _ => false,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        v => v.as_seconds(),
    }
}

fn is_literal(v: &Value) -> bool {
    match v {
        Value::Str(_)
        | Value::Int(_)
        | Value::Float(_)
        | Value::Bool(_)
        | Value::None
        | Value::Seconds(_)
        | Value::Dict(_) => true,
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            items.iter().all(is_literal)
        }
        _ => false,
    }
}

/// `value <op> lit`, `None` when the value is not a literal the model knows.
pub(crate) fn compare(value: &Value, op: Op, lit: &Lit) -> Option<bool> {
    if !is_literal(value) {
        return None;
    }
    let lit_num = match lit {
        Lit::Num(n) => Some(*n),
        Lit::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    let ordering = match (number(value), lit_num) {
        (Some(a), Some(b)) => a.partial_cmp(&b),
        _ => {
            let equal = match (value, lit) {
                (Value::Str(a), Lit::Str(b)) => a == b,
                (Value::None, Lit::None) => true,
                _ => false,
            };
            return Some(match op {
                Op::Eq => equal,
                Op::Ne => !equal,
                // Ordering only compares numbers (checked when the rule is loaded).
                _ => false,
            });
        }
    };
    let ordering = ordering?;
    use std::cmp::Ordering::*;
    Some(match op {
        Op::Eq => ordering == Equal,
        Op::Ne => ordering != Equal,
        Op::Lt => ordering == Less,
        Op::Le => ordering != Greater,
        Op::Gt => ordering == Greater,
        Op::Ge => ordering != Less,
    })
}

fn shown(seen: &Seen, project: &Project) -> String {
    match seen {
        Seen::Value(v) => project.resolve_value(v).display(),
        Seen::Absent => "missing".to_string(),
        Seen::Unknown => "unknown".to_string(),
    }
}

/// The `AnyCall` recorded for the call expression ending at `end` (decorators, dispatches).
fn any_call_ending(project: &Project, module: usize, end: u32) -> Option<&AnyCall> {
    // `any_calls` is sorted by end offset, outermost call first among equal ends.
    let calls = &project.modules[module].facts.any_calls;
    let i = calls.partition_point(|c| c.span.end < end);
    calls.get(i).filter(|c| c.span.end == end)
}

/// Does `task` match `sel`? Returns the template arguments of the options it names.
fn match_task(project: &Project, task: &Task, sel: &TaskSel) -> Option<Args> {
    let def = project.def(task);
    if let Some(names) = &sel.name
        && !task.name.as_deref().is_some_and(|n| names.is_match(n))
    {
        return None;
    }
    if let Some(modules) = &sel.module
        && !modules.is_match(&project.modules[task.module].facts.module)
    {
        return None;
    }
    if let Some(bases) = &sel.base
        && !base_matches(project, def, bases)
    {
        return None;
    }
    if let Some(queues) = &sel.queue
        && !project
            .task_queue(task)
            .is_some_and(|q| queues.is_match(&q))
    {
        return None;
    }
    let mut args = Args::new();
    if !sel.options.is_empty() {
        // `@app.task(**opts)`: any option may be set.
        let star = def.decorator_span.start != def.decorator_span.end
            && any_call_ending(project, task.module, def.decorator_span.end)
                .is_some_and(|c| c.star_kwargs);
        for (name, cond) in &sel.options {
            let seen = match project.task_option(def, name) {
                Some(v) => Seen::Value(v),
                None if star || project.base_unknown(def) || annotations_unknown(project) => {
                    Seen::Unknown
                }
                None => Seen::Absent,
            };
            if !holds(project, cond, &seen) {
                return None;
            }
            args.push((name.clone(), shown(&seen, project)));
        }
    }
    Some(args)
}

/// `task_annotations` is set to something the model cannot read (a function, a class).
fn annotations_unknown(project: &Project) -> bool {
    project.setting("task_annotations").any(|e| {
        !matches!(
            project.resolve_value(&e.value),
            Value::Dict(_) | Value::List(_) | Value::Tuple(_) | Value::None
        )
    })
}

fn base_matches(
    project: &Project,
    def: &TaskDef,
    bases: &super::schema::OneOrMany<super::schema::Glob>,
) -> bool {
    let Some(Value::Ref(q)) = def.option("base") else {
        return false;
    };
    bases.is_match(q)
        || bases.is_match(&project.resolve_symbol(q))
        || project
            .base_chain(def)
            .iter()
            .any(|c| bases.is_match(&c.qualname))
}

/// The registered task whose body contains a call, by the task's qualified name.
fn enclosing_task<'p>(project: &'p Project, in_task: Option<&str>) -> Option<&'p Task> {
    in_task
        .and_then(|q| project.task_by_qualname(q))
        .map(|i| &project.tasks[i])
}

fn match_in_task(project: &Project, sel: Option<&InTask>, task: Option<&Task>) -> bool {
    match sel {
        None => true,
        Some(InTask::Any) => task.is_some(),
        Some(InTask::Outside) => task.is_none(),
        Some(InTask::Task(ts)) => task.is_some_and(|t| match_task(project, t, ts).is_some()),
    }
}

fn push_task_args(project: &Project, task: Option<&Task>, args: &mut Args) {
    let label = task.map(|t| project.task_label(t)).unwrap_or_default();
    args.push(("task".into(), label));
}

fn report(
    cx: &mut RuleCx<'_>,
    module: usize,
    span: crate::finding::Span,
    args: &Args,
    task: Option<&str>,
) {
    let refs: Vec<(&str, &str)> = args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    cx.report(module, span, &refs).with_task(task);
}

pub(crate) fn run(cx: &mut RuleCx<'_>, selector: &Selector) {
    match selector {
        Selector::Task(sel) => run_tasks(cx, sel),
        Selector::Call(sel) => run_calls(cx, sel),
        Selector::Dispatch(sel) => run_dispatches(cx, sel),
        Selector::Setting(sel) => run_setting(cx, sel),
    }
}

fn run_tasks(cx: &mut RuleCx<'_>, sel: &TaskSel) {
    let project = cx.project;
    for task in project.production_tasks() {
        let Some(mut args) = match_task(project, task, sel) else {
            continue;
        };
        push_task_args(project, Some(task), &mut args);
        args.push((
            "module".into(),
            project.modules[task.module].facts.module.clone(),
        ));
        let def = project.def(task);
        report(cx, task.module, def.def_span, &args, task.name.as_deref());
    }
}

fn run_calls(cx: &mut RuleCx<'_>, sel: &CallSel) {
    let project = cx.project;
    for (mi, m) in project.modules.iter().enumerate() {
        if m.is_test {
            continue;
        }
        for call in &m.facts.any_calls {
            let callee_ok = sel.callee.is_match(&call.callee) || {
                let resolved = project.resolve_symbol(&call.callee);
                resolved != call.callee && sel.callee.is_match(&resolved)
            };
            if !callee_ok {
                continue;
            }
            let task = enclosing_task(project, call.in_task.as_deref());
            if !match_in_task(project, sel.in_task.as_ref(), task) {
                continue;
            }
            let mut args = Args::new();
            let mut ok = true;
            for (kw, cond) in &sel.keywords {
                let seen = match call.keywords.iter().find(|(k, _)| k == kw) {
                    Some((_, v)) => Seen::Value(v.clone()),
                    None if call.star_kwargs => Seen::Unknown,
                    None => Seen::Absent,
                };
                if !holds(project, cond, &seen) {
                    ok = false;
                    break;
                }
                args.push((kw.clone(), shown(&seen, project)));
            }
            for (i, cond) in &sel.args {
                let seen = match call.args.get(*i) {
                    Some(v) => Seen::Value(v.clone()),
                    None if call.star_args => Seen::Unknown,
                    None => Seen::Absent,
                };
                if !ok || !holds(project, cond, &seen) {
                    ok = false;
                    break;
                }
                args.push((format!("arg{i}"), shown(&seen, project)));
            }
            if !ok {
                continue;
            }
            args.push(("callee".into(), call.callee.clone()));
            push_task_args(project, task, &mut args);
            args.push(("module".into(), m.facts.module.clone()));
            report(
                cx,
                mi,
                call.span,
                &args,
                task.and_then(|t| t.name.as_deref()),
            );
        }
    }
}

/// Execution options written at a dispatch site: `None` when they cannot be known.
fn call_options<'c>(
    project: &Project,
    module: usize,
    call: &'c CallSite,
) -> Option<Vec<&'c (String, Value, crate::finding::Span)>> {
    match call.kind {
        // `.delay()` takes no options: its keywords are task arguments.
        DispatchKind::Delay | DispatchKind::DelayOnCommit => Some(Vec::new()),
        // Signatures get options later (`.set()`, the canvas that applies them).
        DispatchKind::S | DispatchKind::Si => None,
        DispatchKind::ApplyAsync
        | DispatchKind::ApplyAsyncOnCommit
        | DispatchKind::Signature
        | DispatchKind::SignatureByName
        | DispatchKind::SendTask => {
            let star =
                any_call_ending(project, module, call.span.end).is_none_or(|c| c.star_kwargs);
            if star {
                return None;
            }
            Some(
                call.call_keywords
                    .iter()
                    .filter(|(k, _, _)| k != "args" && k != "kwargs")
                    .collect(),
            )
        }
    }
}

fn run_dispatches(cx: &mut RuleCx<'_>, sel: &DispatchSel) {
    let project = cx.project;
    for (mi, call) in project.calls() {
        if project.modules[mi].is_test {
            continue;
        }
        if let Some(methods) = &sel.method {
            let method = match call.kind {
                DispatchKind::SendTask => "send_task",
                k => k.method(),
            };
            if !methods.0.iter().any(|m| m.as_str() == method) {
                continue;
            }
        }
        let target = project.task_for_call(call).map(|i| &project.tasks[i]);
        let mut args = Args::new();
        if let Some(ts) = &sel.task {
            let Some(task) = target else { continue };
            let Some(task_args) = match_task(project, task, ts) else {
                continue;
            };
            args.extend(task_args);
        }
        match sel.atomic {
            Some(true) if call.atomic.is_none() => continue,
            Some(false) if call.atomic.is_some() => continue,
            _ => {}
        }
        let enclosing = enclosing_task(project, call.in_task.as_deref());
        if !match_in_task(project, sel.in_task.as_ref(), enclosing) {
            continue;
        }
        if !sel.options.is_empty() {
            let options = call_options(project, mi, call);
            let mut ok = true;
            for (name, cond) in &sel.options {
                let seen = match &options {
                    None => Seen::Unknown,
                    Some(opts) => match opts.iter().find(|(k, _, _)| k == name) {
                        Some((_, v, _)) => Seen::Value(v.clone()),
                        None => Seen::Absent,
                    },
                };
                if !holds(project, cond, &seen) {
                    ok = false;
                    break;
                }
                args.push((name.clone(), shown(&seen, project)));
            }
            if !ok {
                continue;
            }
        }
        let label = match target {
            Some(t) => project.task_label(t),
            None => call.target.clone(),
        };
        args.push(("task".into(), label));
        args.push((
            "method".into(),
            match call.kind {
                DispatchKind::SendTask => "send_task".to_string(),
                k => k.method().to_string(),
            },
        ));
        args.push(("module".into(), project.modules[mi].facts.module.clone()));
        report(
            cx,
            mi,
            call.span,
            &args,
            target.and_then(|t| t.name.as_deref()),
        );
    }
}

fn run_setting(cx: &mut RuleCx<'_>, sel: &SettingSel) {
    let project = cx.project;
    let name = sel.name.0.as_str();
    let mut args: Args = vec![("setting".into(), name.to_string())];
    match &sel.value {
        Cond::Missing => {
            if project.is_set(name) || project.config_unresolved {
                return;
            }
            // A missing setting has no line of its own: report at the Celery app.
            let Some((module, app)) = project
                .apps
                .iter()
                .filter(|(m, _)| !project.modules[*m].is_test)
                .min_by_key(|(m, a)| (project.modules[*m].file.display_path(), a.span.start))
            else {
                return;
            };
            args.push(("value".into(), "missing".into()));
            report(cx, *module, app.span, &args, None);
        }
        Cond::Present => {
            let Some(e) = project.setting(name).next() else {
                return;
            };
            args.push(("value".into(), project.resolve_value(&e.value).display()));
            report(cx, e.module, e.span, &args, None);
        }
        cond @ Cond::Cmp(..) => {
            let Some((value, e)) = project.setting_value(name) else {
                return;
            };
            let seen = Seen::Value(value);
            if !holds(project, cond, &seen) {
                return;
            }
            args.push(("value".into(), shown(&seen, project)));
            report(cx, e.module, e.span, &args, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_never_compare() {
        let env = Value::Env { default: None };
        assert_eq!(compare(&env, Op::Ne, &Lit::Num(1.0)), None);
        assert_eq!(compare(&Value::Unknown, Op::Eq, &Lit::None), None);
        assert_eq!(
            compare(&Value::Ref("x.Y".into()), Op::Gt, &Lit::Num(1.0)),
            None
        );
    }

    #[test]
    fn literals_compare() {
        assert_eq!(
            compare(&Value::Int(700), Op::Gt, &Lit::Num(600.0)),
            Some(true)
        );
        assert_eq!(
            compare(&Value::Seconds(3600.0), Op::Le, &Lit::Num(3600.0)),
            Some(true)
        );
        assert_eq!(
            compare(&Value::Bool(true), Op::Eq, &Lit::Bool(true)),
            Some(true)
        );
        assert_eq!(compare(&Value::None, Op::Eq, &Lit::None), Some(true));
        assert_eq!(
            compare(&Value::Str("json".into()), Op::Ne, &Lit::Str("json".into())),
            Some(false)
        );
        assert_eq!(
            compare(&Value::Str("json".into()), Op::Eq, &Lit::Num(1.0)),
            Some(false)
        );
        assert_eq!(
            compare(&Value::Str("json".into()), Op::Gt, &Lit::Num(1.0)),
            Some(false)
        );
    }
}
