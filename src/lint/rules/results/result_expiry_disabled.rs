//! CD302 `result-expiry-disabled`: `result_expires` of `None`/`0` keeps every result forever.

use crate::lint::model::facts::Value;
use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    if !project.has_result_backend() || project.ignores_results_globally() {
        return;
    }
    for e in project.setting("result_expires") {
        let v = project.resolve_value(&e.value);
        let disabled = matches!(v, Value::None) || v.as_seconds() == Some(0.0);
        if disabled {
            cx.report(e.module, e.span, &[("key", &e.raw), ("value", &v.display())]).with_anchor(e.raw.clone());
        }
    }
}
