//! CD202 `soft-time-limit-not-below-hard-limit`: the soft limit must fire before the hard kill.

use crate::lint::rules::RuleCx;

fn relation(soft: f64, hard: f64) -> Option<&'static str> {
    if soft > hard {
        Some("greater than")
    } else if soft == hard {
        Some("equal to")
    } else {
        None
    }
}

fn secs(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    // Both limits global.
    if let (Some((soft, soft_e)), Some((hard, hard_e))) = (
        project.setting_value("task_soft_time_limit"),
        project.setting_value("task_time_limit"),
    ) && let (Some(s), Some(h)) = (soft.as_seconds(), hard.as_seconds())
        && let Some(rel) = relation(s, h)
    {
        let related = cx.related(hard_e.module, hard_e.span, "the hard limit is set here");
        cx.report_variant(
            soft_e.module,
            soft_e.span,
            Some("global"),
            &[
                ("soft_key", &soft_e.raw),
                ("soft", &secs(s)),
                ("relation", rel),
                ("hard_key", &hard_e.raw),
                ("hard", &secs(h)),
            ],
        )
        .with_anchor(soft_e.raw.clone())
        .with_related(related);
    }
    for task in &project.tasks {
        let def = project.def(task);
        let own_soft = project.task_option(def, "soft_time_limit").is_some();
        let own_hard = project.task_option(def, "time_limit").is_some();
        if !own_soft && !own_hard {
            continue;
        }
        let soft = project.effective_time_limit(def, "soft_time_limit", "task_soft_time_limit");
        let hard = project.effective_time_limit(def, "time_limit", "task_time_limit");
        let (Some(Some(s)), Some(Some(h))) = (soft, hard) else {
            continue;
        };
        let Some(rel) = relation(s, h) else { continue };
        let name = project.task_label(task);
        cx.report(
            task.module,
            def.def_span,
            &[
                ("task", &name),
                ("soft", &secs(s)),
                ("relation", rel),
                ("hard", &secs(h)),
            ],
        )
        .with_task(task.name.as_deref());
    }
}
