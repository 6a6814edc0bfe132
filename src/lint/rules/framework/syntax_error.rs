//! CD000 `syntax-error`: the parser could not read part of a module. The rest is still modelled.

use crate::lint::rules::RuleCx;

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, module) in project.modules.iter().enumerate() {
        for error in &module.facts.syntax_errors {
            cx.report(m, error.span, &[("error", &error.message)])
                .with_anchor(error.message.clone());
        }
    }
}
