//! The rule registry: one line per rule. The macro embeds `rules/<ID>.yaml` by id, so adding a
//! rule touches its YAML, its Rust file and one line here.

use std::sync::{Arc, LazyLock};

use super::catalog::{CatalogError, RuleMeta};
use super::model::Project;
use crate::finding::{Finding, Related, Severity, SourceFile, Span};

mod beat;
mod canvas;
mod configuration;
mod django_orm;
mod framework;
mod reliability;
mod results;
mod retries;
mod routing;
pub(crate) mod security;
mod time_limits;

/// A rule: its id, its embedded YAML and its check over the project model.
pub struct Rule {
    pub id: &'static str,
    pub yaml: &'static str,
    pub check: fn(&mut RuleCx<'_>),
}

macro_rules! register_rules {
    ($($id:ident => $check:path),* $(,)?) => {
        pub static RULES: &[Rule] = &[
            $(Rule {
                id: stringify!($id),
                yaml: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/", stringify!($id), ".yaml")),
                check: $check,
            }),*
        ];
    };
}

register_rules! {
    CD000 => framework::syntax_error::check,
    CD001 => framework::async_def_task::check,
    CD002 => framework::flask_task_without_app_context::check,
    CD003 => framework::blocking_result_wait_in_request_handler::check,
    CD004 => framework::task_module_not_imported_by_worker::check,
    CD101 => reliability::acks_late_without_idempotency_guard::check,
    CD102 => reliability::redelivery_before_visibility_timeout::check,
    CD103 => reliability::task_decorator_not_outermost::check,
    CD104 => reliability::duplicate_task_name::check,
    CD105 => reliability::mutable_default_in_task_signature::check,
    CD106 => reliability::task_call_arity_mismatch::check,
    CD107 => reliability::execution_option_passed_to_delay::check,
    CD201 => time_limits::task_without_time_limit::check,
    CD202 => time_limits::soft_time_limit_not_below_hard_limit::check,
    CD203 => time_limits::http_call_without_timeout_in_task::check,
    CD204 => time_limits::blocking_result_wait_in_task::check,
    CD205 => time_limits::soft_time_limit_swallowed_in_loop::check,
    CD301 => results::result_stored_but_never_read::check,
    CD302 => results::result_expiry_disabled::check,
    CD303 => results::result_read_from_task_that_ignores_results::check,
    CD304 => results::unserializable_task_return_value::check,
    CD401 => retries::retry_without_bind::check,
    CD402 => retries::retry_swallowed_by_broad_except::check,
    CD403 => retries::autoretry_without_backoff::check,
    CD404 => retries::unbounded_retries::check,
    CD405 => retries::retry_backoff_option_has_no_effect::check,
    CD501 => canvas::chord_cannot_complete::check,
    CD502 => canvas::canvas_argument_arity_mismatch::check,
    CD503 => canvas::async_result_passed_as_argument::check,
    CD601 => django_orm::orm_object_as_task_argument::check,
    CD602 => django_orm::dispatch_inside_atomic_block::check,
    CD603 => django_orm::dispatch_under_atomic_requests::check,
    CD701 => configuration::deprecated_setting_name::check,
    CD702 => configuration::mixed_old_and_new_setting_names::check,
    CD703 => configuration::unknown_or_ignored_setting::check,
    CD704 => configuration::always_eager_outside_tests::check,
    CD801 => security::pickle_serializer_enabled::check,
    CD802 => security::serializer_not_accepted::check,
    CD803 => security::hardcoded_broker_credentials::check,
    CD804 => security::unserializable_task_argument::check,
    CD901 => beat::beat_task_not_registered::check,
    CD902 => beat::frequent_beat_entry_without_expiry::check,
    CD903 => beat::crontab_fires_every_minute::check,
    CD904 => beat::malformed_beat_entry::check,
    CD951 => routing::route_to_unconsumed_queue::check,
    CD952 => routing::route_matches_no_task::check,
}

/// The parsed catalog, in registry order.
pub struct Catalog {
    pub rules: Vec<(&'static Rule, RuleMeta)>,
}

static CATALOG: LazyLock<Result<Catalog, String>> = LazyLock::new(|| {
    let mut rules = Vec::new();
    for rule in RULES {
        let meta = RuleMeta::parse(&format!("{}.yaml", rule.id), rule.yaml)
            .map_err(|e: CatalogError| e.to_string())?;
        rules.push((rule, meta));
    }
    Ok(Catalog { rules })
});

pub fn catalog() -> Result<&'static Catalog, CatalogError> {
    match &*CATALOG {
        Ok(c) => Ok(c),
        Err(e) => Err(CatalogError::Invalid {
            file: "(embedded)".into(),
            message: e.clone(),
        }),
    }
}

impl Catalog {
    pub fn get(&self, id: &str) -> Option<&RuleMeta> {
        self.rules.iter().find(|(r, _)| r.id == id).map(|(_, m)| m)
    }
}

/// What a rule sees: the project and a sink for its findings.
pub struct RuleCx<'a> {
    pub project: &'a Project,
    pub meta: &'static RuleMeta,
    pub(crate) findings: Vec<Finding>,
    pub options: &'a RuleOptions,
}

/// Rule tunables from the configuration.
#[derive(Clone, Debug)]
pub struct RuleOptions {
    /// CD201: above this many tasks without a limit (and no global limit), report once.
    pub time_limit_aggregate_threshold: usize,
    /// CD703: extra setting names that are known (third-party `CELERY_*` settings).
    pub extra_known_settings: Vec<String>,
    /// CD901: task-name prefixes of tasks defined outside the project.
    pub external_task_prefixes: Vec<String>,
    /// CD902: beat entries firing at least this often (seconds) need an expiry.
    pub beat_expiry_threshold: f64,
    /// Only part of the project was named for linting (single files, or a package directory
    /// without its siblings): modules that were not linted may still exist (CD901, CD952).
    pub partial_tree: bool,
}

impl Default for RuleOptions {
    fn default() -> Self {
        RuleOptions {
            time_limit_aggregate_threshold: 5,
            extra_known_settings: Vec::new(),
            external_task_prefixes: Vec::new(),
            beat_expiry_threshold: 3600.0,
            partial_tree: false,
        }
    }
}

impl<'a> RuleCx<'a> {
    pub fn new(project: &'a Project, meta: &'static RuleMeta, options: &'a RuleOptions) -> Self {
        RuleCx {
            project,
            meta,
            findings: Vec::new(),
            options,
        }
    }

    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
    }

    /// Report at `span` in `module` with the default message.
    pub fn report(&mut self, module: usize, span: Span, args: &[(&str, &str)]) -> &mut Finding {
        self.report_variant(module, span, None, args)
    }

    pub fn report_variant(
        &mut self,
        module: usize,
        span: Span,
        variant: Option<&str>,
        args: &[(&str, &str)],
    ) -> &mut Finding {
        let file = self.project.file(module).clone();
        self.report_in(file, span, variant, args)
    }

    pub fn report_in(
        &mut self,
        file: Arc<SourceFile>,
        span: Span,
        variant: Option<&str>,
        args: &[(&str, &str)],
    ) -> &mut Finding {
        let message = self.meta.render(variant, args);
        let anchor = args.iter().map(|(_, v)| *v).collect::<Vec<_>>().join("|");
        self.findings.push(Finding {
            code: self.meta.id.as_str(),
            name: self.meta.name.as_str(),
            severity: self.meta.severity,
            message,
            file,
            span,
            help: Some(self.meta.help.as_str()),
            task: None,
            anchor,
            related: Vec::new(),
            variant: variant
                .filter(|v| self.meta.variants.contains_key(*v))
                .map(str::to_string),
            args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            secrets: Arc::from(Vec::new()),
            fix: None,
        });
        self.findings.last_mut().expect("just pushed")
    }

    pub fn related(&self, module: usize, span: Span, message: impl Into<String>) -> Related {
        Related {
            file: self.project.file(module).clone(),
            span,
            message: message.into(),
        }
    }
}

impl Finding {
    pub fn with_task(&mut self, name: Option<&str>) -> &mut Self {
        self.task = name.map(str::to_string);
        self
    }

    pub fn with_severity(&mut self, severity: Severity) -> &mut Self {
        self.severity = severity;
        self
    }

    pub fn with_related(&mut self, related: Related) -> &mut Self {
        self.related.push(related);
        self
    }

    /// Attach a fix (`None` attaches nothing, so `.with_fix(edits::add_keyword(..))` reads in
    /// one line). See `crate::lint::fix` for the helpers that build edits.
    pub fn with_fix(&mut self, fix: Option<crate::finding::Fix>) -> &mut Self {
        if fix.is_some() {
            self.fix = fix;
        }
        self
    }

    pub fn with_anchor(&mut self, anchor: impl Into<String>) -> &mut Self {
        self.anchor = anchor.into();
        self
    }
}
