pub mod beat_task_not_registered;
pub mod crontab_fires_every_minute;
pub mod frequent_beat_entry_without_expiry;
pub mod malformed_beat_entry;

use crate::finding::Span;
use crate::lint::model::Project;

/// One-line source text at `span` (for messages).
pub(crate) fn source_text(project: &Project, module: usize, span: Span) -> String {
    let text = project.file(module).text();
    let s = text
        .get(span.start as usize..span.end as usize)
        .unwrap_or("");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One-based line of `offset`.
pub(crate) fn line_of(project: &Project, module: usize, offset: u32) -> usize {
    project.file(module).lines().line_of(offset) + 1
}
