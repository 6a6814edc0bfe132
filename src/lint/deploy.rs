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
        let mut tokens: Vec<&str> = Vec::new();
        for t in line
            .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
            .map(|t| t.trim_end_matches(',').trim_matches(['"', '\'']))
            .filter(|t| !t.is_empty())
        {
            // `-Q a; celery beat`: the separator glued to the last argument.
            match t.strip_suffix(';') {
                Some(head) if !head.is_empty() && !head.ends_with(';') => {
                    tokens.extend([head, ";"]);
                }
                _ => tokens.push(t),
            }
        }
        // Each command of a shell list (`cd /app && celery ... worker`, `a; b`, `a & b`,
        // `a | tee`) is read on its own, so that its arguments are not mixed with another's.
        for command in tokens.split(|t| matches!(*t, "&&" | "||" | ";" | "|" | "&" | ";;")) {
            scan_command(command, broker_env, &mut out);
        }
    }
    out
}

/// Options of `celery`, `celery worker` and `celery beat` that take a value, so that a
/// variable after them is that value and not pass-through arguments.
const VALUE_OPTIONS: &[&str] = &[
    "-A",
    "--app",
    "-b",
    "--broker",
    "--result-backend",
    "--loader",
    "--config",
    "--workdir",
    "-n",
    "--hostname",
    "-S",
    "--statedb",
    "--scheduler",
    "-l",
    "--loglevel",
    "-O",
    "--prefetch-multiplier",
    "-c",
    "--concurrency",
    "-P",
    "--pool",
    "--time-limit",
    "--soft-time-limit",
    "--max-tasks-per-child",
    "--max-memory-per-child",
    "-Q",
    "--queues",
    "-X",
    "--exclude-queues",
    "-I",
    "--include",
    "--autoscale",
    "--heartbeat-interval",
    "-s",
    "--schedule",
    "--schedule-filename",
    "--max-interval",
    "-f",
    "--logfile",
    "--pidfile",
    "--uid",
    "--gid",
    "--umask",
    "--executable",
];

/// A value expanded when the command runs: a shell or Makefile variable, a template, a
/// supervisor `%(ENV_X)s` expansion.
fn is_expansion(t: &str) -> bool {
    t.contains('$') || t.contains("{{") || t.contains("%(")
}

/// `>`, `>>`, `2>`, `<`, `2>&1`, `>/dev/null`, `&>log`: a redirection, not an argument.
fn is_redirection(t: &str) -> bool {
    let rest = t.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
    rest.starts_with('>') || rest.starts_with('<')
}

/// Read the celery command among `tokens` (one command of a shell list).
fn scan_command(tokens: &[&str], broker_env: bool, out: &mut Vec<WorkerCommand>) {
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
                app: app_flag(tokens),
                ..WorkerCommand::default()
            });
        }
        return;
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
        return;
    }
    let is_worker = args.contains(&"worker");
    let is_beat = args.contains(&"beat");
    if !is_worker && !is_beat {
        return;
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
        if is_redirection(args[i]) {
            // `> log` names its target in the next word.
            i += if args[i].ends_with(['>', '<']) { 2 } else { 1 };
            continue;
        }
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v)),
            // `-Qvideo,emails`: the short option with its value attached.
            _ if args[i].starts_with("-Q") && args[i].len() > 2 => ("-Q", Some(&args[i][2..])),
            _ => (args[i], None),
        };
        if !flag.starts_with('-') {
            // `"$@"`, `$CELERY_ARGS`, `${ARGS}`, `{{ args }}`: arguments passed through from
            // elsewhere may hold `-Q`, `-B` or time limits, so this worker's facts are unknown.
            if is_expansion(flag) {
                cmd.dynamic = true;
                cmd.queues_dynamic = true;
            }
            i += 1;
            continue;
        }
        let value = inline.or_else(|| args.get(i + 1).copied());
        let takes_value = VALUE_OPTIONS.contains(&flag);
        let consumed = usize::from(inline.is_none() && takes_value);
        let dynamic = value.is_some_and(is_expansion);
        match flag {
            "-B" | "--beat" => cmd.runs_beat = true,
            "--time-limit" => {
                cmd.time_limit = value.and_then(seconds);
                cmd.dynamic |= dynamic;
            }
            "--soft-time-limit" => {
                cmd.soft_time_limit = value.and_then(seconds);
                cmd.dynamic |= dynamic;
            }
            "-I" | "--include" => {
                cmd.includes.extend(
                    value
                        .into_iter()
                        .flat_map(|v| v.split(',').map(str::to_string)),
                );
            }
            "-Q" | "--queues" => {
                cmd.queues = value.map(|v| v.split(',').map(str::to_string).collect());
                cmd.dynamic |= dynamic;
                cmd.queues_dynamic |= dynamic || value.is_none();
            }
            "-S" | "--scheduler" => {
                cmd.scheduler = value.map(str::to_string);
                cmd.dynamic |= dynamic;
            }
            _ => {}
        }
        i += 1 + consumed;
    }
    out.push(cmd);
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
        return scan_compose(text);
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
            // The key's own scalar is one command string (compose splits it into words,
            // newlines included), whatever the block style.
            let (script, next) = block_scalar(lines, i, key_indent, true);
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
                    // A literal item is a script (`sh -c`), a folded one a single line.
                    let (script, next) = block_scalar(lines, i, ind, item.starts_with('>'));
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

/// The lines of a block scalar starting at `start` (deeper than `parent_indent`), and the
/// index of the first line after it. The lines are joined with newlines (a script), or with
/// `one_line`, into one line with shell continuations removed (a folded scalar, or a command
/// string that is split into words).
fn block_scalar(
    lines: &[&str],
    start: usize,
    parent_indent: usize,
    one_line: bool,
) -> (String, usize) {
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
    let script = out.join("\n");
    if one_line {
        let words: Vec<String> = join_continuations(&script);
        (words.join(" ").trim().to_string(), i)
    } else {
        (script, i)
    }
}

/// Celery command lines of the containers in a Kubernetes manifest or Helm template.
/// `command` and `args` of one container are joined (Kubernetes appends `args` to `command`);
/// `args` alone run under the image's entrypoint, which may be `celery`. A container whose
/// command is templated (`{{ }}`) in a file that mentions celery is an unknown worker.
fn scan_kubernetes(text: &str) -> Vec<WorkerCommand> {
    scan_containers(text)
}

/// Celery command lines of a compose file. One-line commands are read line by line;
/// `command:`/`entrypoint:` blocks spanning several lines (block lists, block scalars) need the
/// YAML reader, and their lines are left out of the line-by-line reading so that a worker is
/// not also read from its raw lines (`command: >` followed by `celery -A proj worker` and
/// `-Q orders` on the next lines is one worker consuming `orders`).
fn scan_compose(text: &str) -> Vec<WorkerCommand> {
    let lines: Vec<&str> = text.lines().collect();
    let blocks = exec_blocks(&lines);
    let groups: Vec<Vec<&ExecBlock>> = container_groups(&lines, &blocks)
        .into_iter()
        .filter(|g| g.iter().any(|b| b.first_line != b.last_line))
        .collect();
    let mut covered = vec![false; lines.len()];
    for b in groups.iter().flatten() {
        for c in covered.iter_mut().take(b.last_line + 1).skip(b.first_line) {
            *c = true;
        }
    }
    let rest: Vec<&str> = lines
        .iter()
        .zip(&covered)
        .map(|(l, c)| if *c { "" } else { *l })
        .collect();
    let mut out = scan(&rest.join("\n"));
    let broker_env = sets_broker_env(text);
    let mentions_celery = text.contains("celery");
    for group in &groups {
        for mut cmd in scan_group(group, mentions_celery) {
            // The file's environment applies as in the line-by-line reading.
            cmd.broker_env |= broker_env;
            out.push(cmd);
        }
    }
    out
}

/// The `command`/`args`/`entrypoint` blocks of each container: a block and its sibling key.
fn container_groups<'a>(lines: &[&str], blocks: &'a [ExecBlock]) -> Vec<Vec<&'a ExecBlock>> {
    let mut groups = Vec::new();
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
        groups.push(group);
    }
    groups
}

/// Celery command lines of `command`/`args`/`entrypoint` blocks.
fn scan_containers(text: &str) -> Vec<WorkerCommand> {
    let lines: Vec<&str> = text.lines().collect();
    let blocks = exec_blocks(&lines);
    let mentions_celery = text.contains("celery");
    container_groups(&lines, &blocks)
        .iter()
        .flat_map(|group| scan_group(group, mentions_celery))
        .collect()
}

/// Celery command lines of one container's blocks.
fn scan_group(group: &[&ExecBlock], mentions_celery: bool) -> Vec<WorkerCommand> {
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
    found
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

    #[test]
    fn compose_block_scalars_are_one_command() {
        use super::scan_file;
        use std::path::Path;
        for header in [">", ">-", "|", "|-"] {
            let compose = format!(
                "services:\n  worker-orders:\n    build: .\n    command: {header}\n      celery -A proj worker\n      -Q orders\n    environment:\n      CELERY_BROKER_URL: redis://r\n  beat:\n    command: celery -A proj beat\n"
            );
            let cmds = scan_file(Path::new("docker-compose.yml"), &compose);
            assert_eq!(cmds.len(), 2, "{header}: {cmds:?}");
            let worker = cmds.iter().find(|c| c.is_worker).expect("worker");
            assert_eq!(
                worker.queues.as_deref(),
                Some(&["orders".to_string()][..]),
                "{header}"
            );
            assert!(worker.broker_env);
            assert!(cmds.iter().any(|c| c.runs_beat && !c.is_worker));
        }
        // A literal item of a `sh -c` list is a script: one command per line.
        let compose = "services:\n  w:\n    command:\n      - sh\n      - -c\n      - |\n        celery -A proj worker \\\n          -Q a\n        celery -A proj worker -Q b\n";
        let cmds = scan_file(Path::new("compose.yaml"), compose);
        let queues: Vec<_> = cmds.iter().map(|c| c.queues.clone()).collect();
        assert_eq!(
            queues,
            vec![Some(vec!["a".to_string()]), Some(vec!["b".to_string()])]
        );
    }

    #[test]
    fn pass_through_arguments_make_queues_unknown() {
        for args in ["\"$@\"", "$CELERY_ARGS", "${ARGS}", "$*", "{{ args }}"] {
            let cmds = scan(&format!(
                "exec celery -A app worker --loglevel=info {args}\n"
            ));
            assert_eq!(cmds.len(), 1, "{args}");
            assert!(cmds[0].queues_dynamic && cmds[0].dynamic, "{args}");
        }
        // Variables that are option values are not pass-through arguments.
        let cmds = scan("celery -A $APP worker -l $LEVEL -n w@$HOST -c ${N} -Q a --pool=$POOL\n");
        assert!(!cmds[0].queues_dynamic && !cmds[0].dynamic, "{cmds:?}");
        assert_eq!(cmds[0].queues.as_deref(), Some(&["a".to_string()][..]));
        // Nor are the words of the next command, or a redirection target.
        let cmds = scan("cd $APP_DIR && celery -A app worker -Q a > $LOG 2>&1 && echo $DONE\n");
        assert_eq!(cmds.len(), 1);
        assert!(!cmds[0].queues_dynamic, "{cmds:?}");
        // Two commands of one line are two command lines.
        let cmds = scan("celery -A app worker -Q a; celery -A app worker -Q b &\n");
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].queues.as_deref(), Some(&["a".to_string()][..]));
        assert_eq!(cmds[1].queues.as_deref(), Some(&["b".to_string()][..]));
    }
}
