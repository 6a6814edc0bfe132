//! Deployment facts (catalog M8): `celery worker` / `celery beat` command lines in Procfiles,
//! compose files, systemd units, Dockerfiles, supervisor configs and shell scripts.

use std::path::Path;

use crate::lint::model::facts::WorkerCommand;

/// Is this file name a deployment file worth scanning?
pub fn is_deployment_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let lower = name.to_ascii_lowercase();
    lower.starts_with("procfile")
        || ((lower.starts_with("docker-compose") || lower.starts_with("compose"))
            && (lower.ends_with(".yml") || lower.ends_with(".yaml")))
        || lower.starts_with("dockerfile")
        || lower.ends_with(".service")
        || lower.ends_with(".sh")
        || (lower.ends_with(".conf") && lower.contains("supervisor"))
        || lower == "makefile"
        || lower == "justfile"
}

fn seconds(v: &str) -> Option<f64> {
    v.trim_matches(['"', '\'']).parse::<f64>().ok()
}

/// Parse every celery command line in `text`.
pub fn scan(text: &str) -> Vec<WorkerCommand> {
    let mut out = Vec::new();
    let broker_env = sets_broker_env(text);
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with('#') || !line.contains("celery") {
            continue;
        }
        let tokens: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
            .map(|t| t.trim_end_matches(',').trim_matches(['"', '\'']))
            .filter(|t| !t.is_empty())
            .collect();
        let Some(celery_at) = tokens
            .iter()
            .position(|t| *t == "celery" || t.ends_with("/celery"))
        else {
            continue;
        };
        let args = &tokens[celery_at + 1..];
        let is_worker = args.contains(&"worker");
        let is_beat = args.contains(&"beat");
        if !is_worker && !is_beat {
            continue;
        }
        let mut cmd = WorkerCommand {
            is_worker,
            runs_beat: is_beat,
            broker_env,
            ..WorkerCommand::default()
        };
        let mut i = 0;
        while i < args.len() {
            let (flag, inline) = match args[i].split_once('=') {
                Some((f, v)) if f.starts_with('-') => (f, Some(v)),
                _ => (args[i], None),
            };
            let value = inline.or_else(|| args.get(i + 1).copied());
            let consumed = usize::from(inline.is_none());
            let dynamic = value.is_some_and(|v| v.contains('$') || v.contains("{{"));
            match flag {
                "-B" | "--beat" => cmd.runs_beat = true,
                "--time-limit" => {
                    cmd.time_limit = value.and_then(seconds);
                    cmd.dynamic |= dynamic;
                    i += consumed;
                }
                "--soft-time-limit" => {
                    cmd.soft_time_limit = value.and_then(seconds);
                    cmd.dynamic |= dynamic;
                    i += consumed;
                }
                "-I" | "--include" => {
                    cmd.includes.extend(
                        value
                            .into_iter()
                            .flat_map(|v| v.split(',').map(str::to_string)),
                    );
                    i += consumed;
                }
                "-Q" | "--queues" => {
                    cmd.queues = value.map(|v| v.split(',').map(str::to_string).collect());
                    cmd.dynamic |= dynamic;
                    i += consumed;
                }
                _ => {}
            }
            i += 1;
        }
        out.push(cmd);
    }
    out
}

/// The file sets the broker through Celery's environment variables, which win over the
/// configuration in the code.
fn sets_broker_env(text: &str) -> bool {
    [
        "CELERY_BROKER_URL",
        "CELERY_BROKER_READ_URL",
        "CELERY_BROKER_WRITE_URL",
    ]
    .iter()
    .any(|v| text.contains(v))
}

#[cfg(test)]
mod tests {
    use super::scan;

    #[test]
    fn procfile_lines() {
        let cmds = scan(
            "web: gunicorn x\nworker: celery -A proj worker -l info --time-limit=300 -Q a,b\nbeat: celery -A proj beat\n",
        );
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].time_limit, Some(300.0));
        assert_eq!(
            cmds[0].queues.as_deref(),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert!(cmds[1].runs_beat && !cmds[1].is_worker);
        assert!(scan("command: [\"celery\", \"-A\", \"proj\", \"worker\", \"-B\"]")[0].runs_beat);
    }

    #[test]
    fn includes_and_broker_environment() {
        let cmds = scan(
            "worker:\n  command: celery -A proj worker -I shop.jobs,shop.mail\n  environment:\n    CELERY_BROKER_URL: redis://r\n",
        );
        assert_eq!(cmds[0].includes, vec!["shop.jobs", "shop.mail"]);
        assert!(cmds[0].broker_env);
        assert!(!scan("worker: celery -A proj worker --include=$MODS")[0].broker_env);
        assert_eq!(
            scan("worker: celery -A proj worker --include=$MODS")[0].includes,
            vec!["$MODS"]
        );
    }
}
