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
    crate::text::one_line(s)
}

/// One-based line of `offset`.
pub(crate) fn line_of(project: &Project, module: usize, offset: u32) -> usize {
    project.file(module).lines().line_of(offset) + 1
}

#[cfg(test)]
mod option_tests {
    use crate::lint::{InputFile, LintSettings, lint_files};

    fn run(id: &str, text: &str, configure: impl Fn(&mut LintSettings)) -> usize {
        let mut settings = LintSettings {
            select: vec![id.to_string()],
            ..LintSettings::default()
        };
        configure(&mut settings);
        let inputs = vec![
            InputFile {
                path: "shop/__init__.py".into(),
                text: String::new(),
                module: "shop".into(),
                is_package: true,
                disk: None,
            },
            InputFile {
                path: "shop/tasks.py".into(),
                text: text.to_string(),
                module: "shop.tasks".into(),
                is_package: false,
                disk: None,
            },
        ];
        lint_files(inputs, &settings).expect("lint").findings.len()
    }

    const SCHEDULE: &str = r#"
from celery import Celery, shared_task

app = Celery("shop")


@shared_task
def poll():
    ...


app.conf.beat_schedule = {
    "poll": {"task": "shop.tasks.poll", "schedule": 600},
    "vendored": {"task": "shop.vendor.sync", "schedule": 86400},
}
"#;

    #[test]
    fn external_task_prefixes_silence_cd901() {
        assert_eq!(run("CD901", SCHEDULE, |_| {}), 1);
        let n = run("CD901", SCHEDULE, |s| {
            s.rule_options.external_task_prefixes = vec!["shop.vendor.".into()];
        });
        assert_eq!(n, 0);
    }

    #[test]
    fn beat_expiry_threshold_is_configurable() {
        assert_eq!(run("CD902", SCHEDULE, |_| {}), 1);
        let n = run("CD902", SCHEDULE, |s| {
            s.rule_options.beat_expiry_threshold = 300.0
        });
        assert_eq!(n, 0);
    }
}
