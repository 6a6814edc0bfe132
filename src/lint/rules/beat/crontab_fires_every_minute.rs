//! CD903 `crontab-fires-every-minute`: every `crontab` field defaults to `"*"`, so
//! `crontab(hour=3)` runs sixty times between 03:00 and 03:59.

use crate::finding::Severity;
use crate::lint::fix::{self, Fix};
use crate::lint::rules::RuleCx;

const DAY_FIELDS: &[&str] = &["day_of_week", "day_of_month", "month_of_year"];

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, module) in project.modules.iter().enumerate() {
        if module.is_test {
            continue;
        }
        for c in &module.facts.crontabs {
            if c.positional > 0 {
                continue; // positional forms spell the minute out
            }
            let has = |f: &str| c.keywords.iter().any(|k| k == f);
            let pins_larger = has("hour") || DAY_FIELDS.iter().any(|f| has(f));
            if !has("minute") && pins_larger {
                // Unsafe: it changes how often the job runs (the point, but a human confirms).
                let text = module.file.text();
                cx.report(m, c.span, &[("call", &c.text)]).with_fix(
                    fix::add_keyword(text, c.span, "minute", "0")
                        .and_then(|e| Fix::unsafe_("Add `minute=0`", [e])),
                );
            } else if has("minute") && !has("hour") && DAY_FIELDS.iter().any(|f| has(f)) {
                cx.report_variant(m, c.span, Some("hourly"), &[("call", &c.text)])
                    .with_severity(Severity::Warning);
            }
        }
    }
}
