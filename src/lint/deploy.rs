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
        || lower.ends_with(".yml")
        || lower.ends_with(".yaml")
}

fn seconds(v: &str) -> Option<f64> {
    v.trim_matches(['"', '\'']).parse::<f64>().ok()
}

/// Parse every celery command line in `text`.
pub fn scan(text: &str) -> Vec<WorkerCommand> {
    let mut out = Vec::new();
    let broker_env = sets_broker_env(text);
    for joined in join_continuations(text) {
        let line = joined.trim();
        if line.starts_with('#') || !line.to_ascii_lowercase().contains("celery") {
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
            // `${CELERY_BIN} -A $CELERY_APP multi start ...` (Celery's systemd example): a
            // worker whose program and queues come from variables.
            let via_variable = tokens
                .iter()
                .any(|t| t.contains('$') && t.to_ascii_lowercase().contains("celery"));
            if via_variable && tokens.iter().any(|t| *t == "multi" || *t == "worker") {
                out.push(WorkerCommand {
                    is_worker: true,
                    dynamic: true,
                    queues_dynamic: true,
                    ..WorkerCommand::default()
                });
            }
            continue;
        };
        let args = &tokens[celery_at + 1..];
        // `celery multi start w1 w2 -Q:w1 a -Q:w2 b`: per-node options the model does not
        // read, so the queues these workers consume are unknown.
        if args.contains(&"multi") {
            out.push(WorkerCommand {
                is_worker: true,
                dynamic: true,
                queues_dynamic: true,
                app: app_flag(args),
                ..WorkerCommand::default()
            });
            continue;
        }
        let is_worker = args.contains(&"worker");
        let is_beat = args.contains(&"beat");
        if !is_worker && !is_beat {
            continue;
        }
        let mut cmd = WorkerCommand {
            is_worker,
            runs_beat: is_beat,
            broker_env,
            app: app_flag(args),
            ..WorkerCommand::default()
        };
        let mut i = 0;
        while i < args.len() {
            let (flag, inline) = match args[i].split_once('=') {
                Some((f, v)) if f.starts_with('-') => (f, Some(v)),
                // `-Qvideo,emails`: the short option with its value attached.
                _ if args[i].starts_with("-Q") && args[i].len() > 2 => ("-Q", Some(&args[i][2..])),
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
                    cmd.queues_dynamic |= dynamic || value.is_none();
                    i += consumed;
                }
                "-S" | "--scheduler" => {
                    cmd.scheduler = value.map(str::to_string);
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

/// The `-A/--app` value of a command line (`-A proj`, `--app=proj`, `-Aproj`).
fn app_flag(args: &[&str]) -> Option<String> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if a == "-A" || a == "--app" {
            return args.get(i + 1).map(|v| (*v).to_string());
        }
        if let Some(v) = a.strip_prefix("--app=") {
            return Some(v.to_string());
        }
        if let Some(v) = a.strip_prefix("-A")
            && !v.is_empty()
            && !a.starts_with("--")
        {
            return Some(v.trim_start_matches('=').to_string());
        }
        i += 1;
    }
    None
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

/// Lines of `text` with shell continuations (`\` at the end of a line) joined.
fn join_continuations(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let trimmed = raw.trim_end();
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        out.push(std::mem::take(&mut current));
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Parse the celery command lines of one deployment file, choosing the reader by its name and
/// content: Kubernetes manifests and Helm templates (YAML with `command:`/`args:` lists),
/// compose files, and line-based files (Procfile, Dockerfile, systemd, supervisor, shell).
pub fn scan_file(path: &Path, text: &str) -> Vec<WorkerCommand> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    let compose = name.starts_with("docker-compose") || name.starts_with("compose");
    if !yaml {
        return scan(text);
    }
    if compose {
        // One-line commands are read line by line; `command:`/`entrypoint:` block lists
        // (`- celery` / `- worker` on separate lines) need the YAML reader.
        let mut out = scan(text);
        out.extend(scan_containers(text, true));
        return out;
    }
    let in_templates = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "templates");
    if is_kubernetes_manifest(text) || (in_templates && text.contains("{{")) {
        scan_kubernetes(text)
    } else {
        Vec::new()
    }
}

/// Workload kinds whose pod template starts containers.
const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
    "Pod",
    "ReplicaSet",
    "Rollout",
];

fn is_kubernetes_manifest(text: &str) -> bool {
    let mut api = false;
    let mut workload = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("apiVersion:") {
            api = true;
        } else if let Some(kind) = t.strip_prefix("kind:") {
            let kind = kind.trim().trim_matches(['"', '\'']);
            workload |= WORKLOAD_KINDS.contains(&kind);
        }
    }
    api && workload
}

/// One `command:` or `args:` block of a container.
struct ExecBlock {
    indent: usize,
    first_line: usize,
    last_line: usize,
    items: Vec<String>,
    templated: bool,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Collect the `command:`/`args:` blocks of a manifest: flow lists (`["celery", "worker"]`),
/// block lists (`- celery`), scalars and block scalars (`- |` shell scripts).
fn exec_blocks(lines: &[&str]) -> Vec<ExecBlock> {
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start();
        let t_key = t.strip_prefix("- ").unwrap_or(t);
        let key_indent = line.len() - t_key.len();
        let rest = t_key
            .strip_prefix("command:")
            .or_else(|| t_key.strip_prefix("args:"))
            .or_else(|| t_key.strip_prefix("entrypoint:"));
        let Some(rest) = rest else {
            i += 1;
            continue;
        };
        let rest = rest.trim();
        let mut block = ExecBlock {
            indent: key_indent,
            first_line: i,
            last_line: i,
            items: Vec::new(),
            templated: rest.contains("{{"),
        };
        i += 1;
        if rest.starts_with('[') {
            // Flow list, possibly over several lines.
            let mut flow = rest.to_string();
            while !flow.contains(']') && i < lines.len() {
                flow.push(' ');
                flow.push_str(lines[i].trim());
                block.last_line = i;
                i += 1;
            }
            block.templated |= flow.contains("{{");
            block.items.push(flow);
        } else if rest.starts_with('|') || rest.starts_with('>') {
            let (script, next) = block_scalar(lines, i, key_indent);
            block.templated |= script.contains("{{");
            block.items.push(script);
            block.last_line = next.saturating_sub(1).max(block.first_line);
            i = next;
        } else if !rest.is_empty() && !rest.starts_with('#') {
            block.items.push(rest.to_string());
        } else {
            // Block list: `- item` lines at the key's indentation or deeper.
            while i < lines.len() {
                let l = lines[i];
                let lt = l.trim_start();
                if lt.is_empty() || lt.starts_with('#') {
                    i += 1;
                    continue;
                }
                let ind = indent_of(l);
                if lt.starts_with("{{") && ind >= key_indent {
                    // Helm control line inside the list: more items may be generated.
                    block.templated = true;
                    block.last_line = i;
                    i += 1;
                    continue;
                }
                if ind < key_indent || !(lt.starts_with("- ") || lt == "-") {
                    break;
                }
                let item = lt.trim_start_matches('-').trim();
                block.last_line = i;
                i += 1;
                if item.starts_with('|') || item.starts_with('>') {
                    let (script, next) = block_scalar(lines, i, ind);
                    block.templated |= script.contains("{{");
                    block.items.push(script);
                    if next > i {
                        block.last_line = next - 1;
                    }
                    i = next;
                } else {
                    block.templated |= item.contains("{{");
                    block.items.push(item.to_string());
                }
            }
        }
        blocks.push(block);
    }
    blocks
}

/// The lines of a block scalar starting at `start` (deeper than `parent_indent`), joined
/// with newlines, and the index of the first line after it.
fn block_scalar(lines: &[&str], start: usize, parent_indent: usize) -> (String, usize) {
    let mut out = Vec::new();
    let mut i = start;
    while i < lines.len() {
        let l = lines[i];
        if !l.trim().is_empty() && indent_of(l) <= parent_indent {
            break;
        }
        out.push(l.trim());
        i += 1;
    }
    (out.join("\n"), i)
}

/// Celery command lines of the containers in a Kubernetes manifest or Helm template.
/// `command` and `args` of one container are joined (Kubernetes appends `args` to `command`);
/// `args` alone run under the image's entrypoint, which may be `celery`. A container whose
/// command is templated (`{{ }}`) in a file that mentions celery is an unknown worker.
fn scan_kubernetes(text: &str) -> Vec<WorkerCommand> {
    scan_containers(text, false)
}

/// Celery command lines of `command`/`args`/`entrypoint` blocks; with `multiline_only`, only
/// containers with a block spanning several lines (the others were read line by line).
fn scan_containers(text: &str, multiline_only: bool) -> Vec<WorkerCommand> {
    let lines: Vec<&str> = text.lines().collect();
    let blocks = exec_blocks(&lines);
    let mentions_celery = text.contains("celery");
    let mut out = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        let mut group = vec![&blocks[i]];
        // The sibling `command`/`args` key of the same container.
        if let Some(next) = blocks.get(i + 1)
            && next.indent == blocks[i].indent
            && lines[blocks[i].last_line + 1..next.first_line]
                .iter()
                .all(|l| l.trim().is_empty() || indent_of(l) >= next.indent)
        {
            group.push(next);
            i += 1;
        }
        i += 1;
        if multiline_only && group.iter().all(|b| b.first_line == b.last_line) {
            continue;
        }
        let templated = group.iter().any(|b| b.templated);
        let items: Vec<&String> = group.iter().flat_map(|b| b.items.iter()).collect();
        let mut found = Vec::new();
        for script in items.iter().filter(|s| s.contains('\n')) {
            found.extend(scan(script));
        }
        let line = items
            .iter()
            .filter(|s| !s.contains('\n'))
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let mut from_line = scan(&line);
        if from_line.is_empty() {
            let tokens: Vec<&str> = line
                .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
                .map(|t| t.trim_end_matches(',').trim_matches(['"', '\'']))
                .collect();
            // `args: ["-A", "proj", "worker", "-Q", "a"]` under a `celery` entrypoint.
            if tokens.contains(&"worker") || tokens.contains(&"beat") {
                from_line = scan(&format!("celery {line}"));
            }
        }
        found.extend(from_line);
        if templated {
            for cmd in &mut found {
                if cmd.is_worker {
                    cmd.queues_dynamic = true;
                    cmd.dynamic = true;
                }
            }
            if found.is_empty() && mentions_celery {
                found.push(WorkerCommand {
                    is_worker: true,
                    dynamic: true,
                    queues_dynamic: true,
                    ..WorkerCommand::default()
                });
            }
        }
        out.extend(found);
    }
    out
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

    #[test]
    fn kubernetes_manifests_and_helm_templates() {
        use super::scan_file;
        use std::path::Path;
        let manifest = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  template:
    spec:
      containers:
        - name: worker
          image: shop:latest
          command:
            - celery
            - -A
            - shop
          args:
            - worker
            - -Q
            - celery,video
        - name: beat
          command: ["celery", "-A", "shop", "beat",
                    "-S", "django_celery_beat.schedulers:DatabaseScheduler"]
        - name: entrypoint
          args: ["-A", "shop", "worker", "--queues=emails"]
        - name: shell
          command: ["/bin/sh", "-c"]
          args:
            - |
              celery -A shop worker \
                -Q reports
"#;
        let cmds = scan_file(Path::new("k8s/worker.yaml"), manifest);
        let queues: Vec<Option<Vec<String>>> = cmds.iter().map(|c| c.queues.clone()).collect();
        assert_eq!(cmds.len(), 4, "{cmds:?}");
        assert_eq!(
            queues[0].as_deref(),
            Some(&["celery".to_string(), "video".to_string()][..])
        );
        assert!(cmds[1].runs_beat && !cmds[1].is_worker);
        assert_eq!(
            cmds[1].scheduler.as_deref(),
            Some("django_celery_beat.schedulers:DatabaseScheduler")
        );
        assert_eq!(queues[2].as_deref(), Some(&["emails".to_string()][..]));
        assert_eq!(queues[3].as_deref(), Some(&["reports".to_string()][..]));
        assert!(cmds.iter().all(|c| !c.queues_dynamic));

        // Helm: a templated -Q value, a generated argument list, a templated command.
        let helm = r#"
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: worker
          command: ["celery", "-A", "shop", "worker", "-Q", "{{ .Values.queues }}"]
        - name: extra
          args:
            - worker
            {{- range .Values.extraArgs }}
            - {{ . }}
            {{- end }}
        - name: env
          args: ["celery", "-A", "shop", "worker", "-Q", "$(QUEUES)"]
        - name: whole
          command: {{ toYaml .Values.celery.command | nindent 12 }}
"#;
        let cmds = scan_file(Path::new("chart/templates/worker.yaml"), helm);
        assert_eq!(cmds.len(), 4, "{cmds:?}");
        assert!(cmds.iter().all(|c| c.is_worker && c.queues_dynamic));

        // YAML that is not a workload manifest is not a deployment file.
        let workflow = "on: push\njobs:\n  test:\n    steps:\n      - run: celery -A shop worker\n";
        assert!(scan_file(Path::new(".github/workflows/ci.yml"), workflow).is_empty());
        // Compose files: one-line commands and block lists, each read once.
        let compose = "services:\n  worker:\n    command: celery -A shop worker -Q $QUEUES\n  video:\n    entrypoint: celery -A shop\n    command:\n      - worker\n      - -Q\n      - video\n";
        let cmds = scan_file(Path::new("docker-compose.yml"), compose);
        assert_eq!(cmds.len(), 2, "{cmds:?}");
        assert!(cmds[0].queues_dynamic);
        assert_eq!(cmds[1].queues.as_deref(), Some(&["video".to_string()][..]));
    }

    #[test]
    fn attached_queue_values_and_celery_multi() {
        let cmds = scan(
            "celery -A shop worker -Qvideo,emails\ncelery multi start w1 w2 -A shop -Q:w1 video\n",
        );
        assert_eq!(cmds[0].queues.as_ref().map(Vec::len), Some(2));
        assert!(!cmds[0].queues_dynamic);
        assert!(cmds[1].is_worker && cmds[1].queues_dynamic);
        // Celery's systemd example starts workers through variables.
        let unit = "ExecStart=/bin/sh -c '${CELERY_BIN} -A $CELERY_APP multi start $CELERYD_NODES'";
        assert!(scan(unit)[0].queues_dynamic);
    }

    #[test]
    fn shell_continuations_are_joined() {
        let cmds = scan("exec celery -A shop worker \\\n    --loglevel=info \\\n    -Q a,b\n");
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].queues.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn app_targets() {
        let app = |line: &str| scan(line)[0].app.clone();
        assert_eq!(
            app("celery -A svc.worker:celery_app worker"),
            Some("svc.worker:celery_app".into())
        );
        assert_eq!(app("celery --app=proj worker"), Some("proj".into()));
        assert_eq!(
            app("celery --app proj.celery worker"),
            Some("proj.celery".into())
        );
        assert_eq!(app("celery -Aproj worker"), Some("proj".into()));
        assert_eq!(app("celery worker -l info"), None);
        assert_eq!(app("celery multi start w1 -A shop"), Some("shop".into()));
        assert_eq!(app("celery -A $APP worker"), Some("$APP".into()));
    }
}
