//! What the live commands (`inspect`, `queues`, `peek`) share: broker arguments, reading the
//! project's configuration for `--app-path`, and the one tokio runtime.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::Value as Json;

use crate::color::ColorChoice;
use crate::lint::model::ModelOptions;
use crate::lint::model::facts::Value;
use crate::lint::{self, walk};
use crate::probe::{BrokerUrl, Limits, ProbeError, TransportOptions};

/// Output formats of the live commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LiveFormat {
    Text,
    Json,
}

#[derive(Args, Clone)]
pub struct BrokerArgs {
    /// Broker URL (default: $CELERY_BROKER_URL, else $BROKER_URL, else the project's
    /// `broker_url` with --app-path). Printed only with the password masked.
    #[arg(long, short = 'b', value_name = "URL")]
    pub broker: Option<String>,
    /// A kombu transport option that changes the wire layout, e.g. `global_keyprefix=app:`,
    /// `priority_steps=[0,1,2,3]`, `sep=:`, `fanout_prefix=false`, `master_name=mymaster`
    /// (Sentinel), `control_exchange=myapp`. Repeatable; wins over --app-path.
    #[arg(long = "transport-option", value_name = "KEY=VALUE")]
    pub transport_options: Vec<String>,
    /// Read broker URL, transport options and queue names from the Celery project in DIR.
    #[arg(long, value_name = "DIR")]
    pub app_path: Option<PathBuf>,
    /// Seconds allowed for connecting and for each broker command.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub connect_timeout: f64,
    /// RabbitMQ management API (default: http://<broker host>:15672 with the broker's credentials).
    #[arg(long, value_name = "URL")]
    pub management_url: Option<String>,
}

/// Never prints a password, even in a debug dump of the parsed arguments.
impl std::fmt::Debug for BrokerArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = |u: &Option<String>| u.as_deref().map(crate::probe::url::redact_url_text);
        f.debug_struct("BrokerArgs")
            .field("broker", &masked(&self.broker))
            .field("transport_options", &self.transport_options)
            .field("app_path", &self.app_path)
            .field("connect_timeout", &self.connect_timeout)
            .field("management_url", &masked(&self.management_url))
            .finish()
    }
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = LiveFormat::Text)]
    pub format: LiveFormat,
    /// Write the result to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Disable colour (also: NO_COLOR, or stdout not a terminal).
    #[arg(long)]
    pub no_color: bool,
    /// When to use colour.
    #[arg(long, value_enum)]
    pub color: Option<ColorChoice>,
}

impl OutputArgs {
    /// Write `value` as pretty JSON, or with `text`, to stdout or `--output`.
    pub fn emit<T: serde::Serialize>(
        &self,
        value: &T,
        text: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        super::output::write_to(self.output.as_deref(), |out| match self.format {
            LiveFormat::Json => {
                serde_json::to_writer_pretty(&mut *out, value)?;
                writeln!(out)?;
                Ok(())
            }
            LiveFormat::Text => text(out),
        })
    }

    pub fn use_color(&self) -> bool {
        crate::color::decide(
            super::color_flag(self.no_color, self.color),
            self.format == LiveFormat::Json,
            self.output.is_some(),
        )
    }
}

/// Everything the probe needs, resolved from flags, environment and project.
pub struct Target {
    pub url: BrokerUrl,
    pub opts: TransportOptions,
    pub limits: Limits,
    /// Queue names the project routes to or declares.
    pub project_queues: Vec<String>,
    /// Explicit routes of the project, with the line that writes them (`--app-path`).
    pub routes: Option<Vec<crate::diagnose::state::RouteRef>>,
    /// The project's `result_backend`, when literal.
    pub project_backend: Option<String>,
}

/// What `--app-path` contributes.
#[derive(Default)]
struct AppConfig {
    broker_url: Option<String>,
    transport_options: Vec<(String, Json)>,
    control_exchange: Option<String>,
    queues: Vec<String>,
    routes: Option<Vec<crate::diagnose::state::RouteRef>>,
    result_backend: Option<String>,
}

impl BrokerArgs {
    pub fn resolve(&self) -> anyhow::Result<Target> {
        let connect = positive_secs(self.connect_timeout, "--connect-timeout")?;
        let app = match &self.app_path {
            Some(dir) => load_app(dir)?,
            None => AppConfig::default(),
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let raw = self
            .broker
            .clone()
            .or_else(|| env("CELERY_BROKER_URL"))
            .or_else(|| env("BROKER_URL"))
            .or(app.broker_url)
            .ok_or(ProbeError::NoBroker)?;
        let url = BrokerUrl::parse(&raw)?;
        let mut opts = TransportOptions::default();
        if let Some(ns) = app.control_exchange {
            opts.control_exchange = ns;
        }
        for (k, v) in &app.transport_options {
            opts.set(k, v)?;
        }
        for arg in &self.transport_options {
            opts.set_from_arg(arg)?;
        }
        if !opts.ignored.is_empty() {
            eprintln!(
                "celery-doctor: note: transport option(s) {} do not change what celery-doctor reads",
                opts.ignored.join(", ")
            );
        }
        Ok(Target {
            url,
            opts,
            limits: Limits { connect },
            project_queues: app.queues,
            routes: app.routes,
            project_backend: app.result_backend,
        })
    }
}

pub fn positive_secs(v: f64, flag: &str) -> anyhow::Result<Duration> {
    if v.is_finite() && v > 0.0 && v < 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        anyhow::bail!("{flag} must be a positive number of seconds, got {v}")
    }
}

/// Run `fut` on a fresh single-threaded runtime (tokio lives only in the live commands).
pub fn block_on<F: std::future::Future>(fut: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let out = rt.block_on(fut);
    // Do not wait for a DNS lookup still running on a blocking thread.
    rt.shutdown_background();
    Ok(out)
}

fn load_app(dir: &std::path::Path) -> anyhow::Result<AppConfig> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let collected = walk::collect(&[dir.to_path_buf()], None, &cwd)
        .with_context(|| format!("--app-path {}", dir.display()))?;
    let project = lint::build_project(
        collected.inputs,
        collected.worker_commands,
        &ModelOptions::default(),
    )
    .with_context(|| format!("--app-path {}", dir.display()))?;
    let mut app = AppConfig::default();
    let string = |name: &str| {
        project
            .setting_value(name)
            .and_then(|(v, _)| v.as_str().map(str::to_string))
    };
    app.broker_url = string("broker_url");
    app.result_backend = string("result_backend");
    app.control_exchange = string("control_exchange");
    if let Some((Value::Dict(items), _)) = project.setting_value("broker_transport_options") {
        for (k, v) in items {
            if let (Value::Str(k), Some(v)) = (k, to_json(&v)) {
                app.transport_options.push((k, v));
            }
        }
    }
    let mut queues: Vec<String> = Vec::new();
    queues.extend(project.default_queue());
    // With unknown configuration the default queue is unknown; `celery` is still worth a look.
    if project.config_unresolved && !project.is_set("task_default_queue") {
        queues.push("celery".to_string());
    }
    queues.extend(project.task_queues().unwrap_or_default());
    queues.extend(
        project
            .task_routes()
            .unwrap_or_default()
            .into_iter()
            .map(|(_, q, _)| q),
    );
    for task in project.production_tasks() {
        queues.extend(project.task_queue(task));
    }
    app.queues = crate::probe::queues::unique(queues);
    app.routes = Some(project_routes(&project));
    Ok(app)
}

/// A literal model value as JSON; `None` for values only known at run time.
fn to_json(v: &Value) -> Option<Json> {
    Some(match v {
        Value::Str(s) => Json::from(s.as_str()),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) | Value::Seconds(f) => Json::from(*f),
        Value::Bool(b) => Json::from(*b),
        Value::None => Json::Null,
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            Json::Array(items.iter().map(to_json).collect::<Option<Vec<_>>>()?)
        }
        Value::Dict(items) => Json::Object(
            items
                .iter()
                .map(|(k, v)| Some((k.as_str()?.to_string(), to_json(v)?)))
                .collect::<Option<serde_json::Map<_, _>>>()?,
        ),
        _ => return None,
    })
}

/// Where the project sends tasks: `task_routes` entries (at the route's key) and tasks' own
/// `queue=` options (at the option). Queues only declared in `task_queues` are not routes.
fn project_routes(project: &crate::lint::model::Project) -> Vec<crate::diagnose::state::RouteRef> {
    use crate::diagnose::state::RouteRef;
    let line_at = |module: usize, offset: u32| {
        let file = project.file(module);
        (
            Some(file.display_path()),
            Some(file.lines().line_of(offset) as u32 + 1),
        )
    };
    // The line of a route's own key inside the setting's value, else the setting's line.
    let key_line = |e: &crate::lint::model::SettingEntry, key: &str| {
        let text = project.file(e.module).text();
        let (start, end) = (e.value_span.start as usize, e.value_span.end as usize);
        let found = text.get(start..end.min(text.len())).and_then(|value| {
            [format!("\"{key}\""), format!("'{key}'")]
                .iter()
                .filter_map(|q| value.find(q.as_str()))
                .min()
        });
        line_at(
            e.module,
            found.map_or(e.value_span.start, |i| (start + i) as u32),
        )
    };
    let mut out = Vec::new();
    for (pattern, queue, entry) in project.task_routes().unwrap_or_default() {
        let (file, line) = key_line(entry, &pattern);
        out.push(RouteRef {
            queue,
            via: format!("task_routes `{pattern}`"),
            file,
            line,
        });
    }
    for task in project.production_tasks() {
        let def = project.def(task);
        if let Some(v) = project.task_option(def, "queue")
            && let Some(queue) = project.resolve_value(&v).as_str()
        {
            let at = def
                .options
                .iter()
                .find(|(name, _, _)| name == "queue")
                .map_or(def.decorator_span.start, |(_, _, span)| span.start);
            let (file, line) = line_at(task.module, at);
            out.push(RouteRef {
                queue: queue.to_string(),
                via: format!("`queue=` of task `{}`", project.task_label(task)),
                file,
                line,
            });
        }
    }
    out
}
