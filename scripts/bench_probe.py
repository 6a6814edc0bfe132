"""Helpers of scripts/bench-probe.sh (a benchmark, not a test). Runs with the
project's .venv Python (needs redis-py; `seed` also needs Celery).

Subcommands:
  free-port START COUNT          first TCP port in [START, START+COUNT) nobody listens on
  seed URL LIVE_DIR OUT          publish real tasks with tests/live/py/publish.py into a
                                 scratch queue on URL, read the kombu envelopes back (LRANGE
                                 over every priority list) into OUT (JSON), delete them
  fill URL TEMPLATES PREFIX QUEUES TOTAL
                                 replicate the envelopes with fresh ids and delivery tags into
                                 QUEUES queues PREFIX00.. (TOTAL messages in all, each into
                                 the priority list of its envelope), declare the queues the
                                 way kombu does (_kombu.binding.Q); prints a JSON summary
  drop URL PREFIX QUEUES         delete what `fill` made
  count-nodes FILE               number of nodes in a `celery inspect --json` output
  check-queues FILE TOTAL NQ [OUT]
                                 sanity check of `celery-doctor queues --format json`;
                                 writes the number of sampled messages to OUT
  check-diagnose FILE RC TOTAL NQ WORKERS SAMPLE [OUT]
                                 sanity check of `celery-doctor diagnose --format json` on
                                 the big broker (exit code RC); writes a summary to OUT
  timeit RUNS [--ok=0,1] CMD...  median wall seconds of RUNS runs after 1 warm-up; --ok: the
                                 exit codes that count as success (default 0)
  report RESULTS OUT KEY=VALUE.. render the Markdown summary
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid

SEP = "\x06\x16"
STEPS = (0, 3, 6, 9)
SEED_QUEUE = "cdbenchseed"


def list_key(queue, step):
    return queue if step == 0 else f"{queue}{SEP}{step}"


# ---------------------------------------------------------------------------------------
def cmd_free_port(start, count):
    for port in range(int(start), int(start) + int(count)):
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) != 0:
                print(port)
                return 0
    print(f"no free port in {start}..{int(start) + int(count) - 1}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------------------
# (task, args, kwargs, serializer, priority, count): json + msgpack, several task names,
# some with a priority (kombu files those under Q\x06\x16<step>).
SEED_MIX = [
    ("liveapp.add", [2, 3], {}, "json", None, 5),
    ("liveapp.send_email", ["user@example.com"], {"subject": "Welcome aboard"}, "json", None, 3),
    ("billing.tasks.charge", [1999], {"currency": "EUR"}, "msgpack", None, 3),
    ("liveapp.slow", [0.5], {}, "msgpack", 6, 2),
    ("liveapp.add", [40, 2], {}, "json", 3, 2),
    ("billing.tasks.charge", [250], {"currency": "USD"}, "json", 9, 2),
]


def cmd_seed(url, live_dir, out):
    import redis

    os.environ["CDT_BROKER"] = url
    os.environ["CDT_PREFIX"] = ""
    sys.path.insert(0, live_dir)
    import publish  # tests/live/py/publish.py: Celery's own send_task

    real_stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # publish.main prints the task ids
    try:
        for task, args, kwargs, ser, prio, count in SEED_MIX:
            argv = ["--task", task, "--args", json.dumps(args), "--kwargs", json.dumps(kwargs),
                    "--queue", SEED_QUEUE, "--serializer", ser, "--count", str(count)]
            if prio is not None:
                argv += ["--priority", str(prio)]
            publish.main(argv)
    finally:
        sys.stdout.close()
        sys.stdout = real_stdout

    r = redis.Redis.from_url(url)
    templates = []
    for step in STEPS:
        for raw in reversed(r.lrange(list_key(SEED_QUEUE, step), 0, -1)):  # publish order
            env = json.loads(raw)
            props = env["properties"]
            templates.append({
                "step": step,
                "task_id": env["headers"]["id"],
                "delivery_tag": props["delivery_tag"],
                "task": env["headers"]["task"],
                "content_type": env["content-type"],
                "priority": props.get("priority"),
                "raw": raw.decode(),
            })
    want = sum(m[-1] for m in SEED_MIX)
    if len(templates) != want:
        print(f"seed: published {want} tasks but found {len(templates)} in Redis", file=sys.stderr)
        return 1
    # Drop the scratch queue and its declaration.
    r.delete(*[list_key(SEED_QUEUE, s) for s in STEPS],
             f"_kombu.binding.{SEED_QUEUE}", f"_kombu.binding_permanent.{SEED_QUEUE}")
    with open(out, "w") as fh:
        json.dump(templates, fh)
    mix = {}
    for t in templates:
        k = f"{t['task']} ({t['content_type'].split('/')[-1].replace('x-', '')}, p{t['priority'] or 0})"
        mix[k] = mix.get(k, 0) + 1
    sizes = [len(t["raw"]) for t in templates]
    print(json.dumps({"templates": len(templates), "mix": mix,
                      "bytes_min": min(sizes), "bytes_max": max(sizes)}))
    return 0


# ---------------------------------------------------------------------------------------
def queue_names(prefix, n):
    width = max(2, len(str(n - 1)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def cmd_fill(url, templates_file, prefix, nqueues, total):
    import redis

    nqueues, total = int(nqueues), int(total)
    with open(templates_file) as fh:
        templates = json.load(fh)
    r = redis.Redis.from_url(url)
    t0 = time.perf_counter()
    id_base = str(uuid.uuid4())[:24]   # fresh per run: 8-4-4-4- then a 12-hex counter
    tag_base = str(uuid.uuid4())[:24]
    serial = 0
    batch_max = 10_000
    pushed = 0
    names = queue_names(prefix, nqueues)
    per_queue = [total // nqueues + (1 if i < total % nqueues else 0) for i in range(nqueues)]
    for qi, (q, count) in enumerate(zip(names, per_queue)):
        # Each envelope becomes a format string with its task id (headers id and root_id,
        # correlation_id) and delivery tag as fields, for the target queue's name.
        pieces = []
        for t in templates:
            s = t["raw"].replace(f'"{SEED_QUEUE}"', f'"{q}"')
            s = s.replace("{", "{{").replace("}", "}}")
            s = s.replace(t["delivery_tag"], "{tag}").replace(t["task_id"], "{tid}")
            pieces.append((list_key(q, t["step"]), s))
        batches = {}
        pipe = r.pipeline(transaction=False)
        queued = 0
        for i in range(count):
            key, tmpl = pieces[i % len(pieces)]
            serial += 1
            msg = tmpl.format(tid=f"{id_base}{serial:012x}", tag=f"{tag_base}{serial:012x}")
            b = batches.setdefault(key, [])
            b.append(msg)
            if len(b) >= batch_max:
                pipe.lpush(key, *b)
                queued += len(b)
                batches[key] = []
                if queued >= 4 * batch_max:
                    pipe.execute()
                    queued = 0
        for key, b in batches.items():
            if b:
                pipe.lpush(key, *b)
        # As kombu declares a direct queue: exchange = routing key = queue name.
        member = f"{q}{SEP}{SEP}{q}"
        pipe.sadd(f"_kombu.binding.{q}", member)
        pipe.sadd(f"_kombu.binding_permanent.{q}", member)
        pipe.execute()
        pushed += count
    elapsed = time.perf_counter() - t0
    depth = 0
    pipe = r.pipeline(transaction=False)
    for q in names:
        for s in STEPS:
            pipe.llen(list_key(q, s))
    depth = sum(pipe.execute())
    if depth != total:
        print(f"fill: pushed {total} but the lists hold {depth}", file=sys.stderr)
        return 1
    info = r.info("memory")
    print(json.dumps({"queues": nqueues, "messages": depth, "seconds": round(elapsed, 2),
                      "used_memory": info["used_memory"],
                      "used_memory_human": info["used_memory_human"]}))
    return 0


def cmd_drop(url, prefix, nqueues):
    import redis

    r = redis.Redis.from_url(url)
    keys = []
    for q in queue_names(prefix, int(nqueues)):
        keys += [list_key(q, s) for s in STEPS]
        keys += [f"_kombu.binding.{q}", f"_kombu.binding_permanent.{q}"]
    r.delete(*keys)
    return 0


# ---------------------------------------------------------------------------------------
def cmd_count_nodes(path):
    try:
        with open(path) as fh:
            text = fh.read()
        # `celery inspect --json` prints one JSON object (older versions: one per line).
        start = text.find("{")
        data = json.loads(text[start:]) if start >= 0 else {}
    except (OSError, ValueError):
        data = {}
    print(len(data) if isinstance(data, dict) else 0)
    return 0


def cmd_check_queues(path, total, nqueues, sampled_out=None):
    with open(path) as fh:
        rep = json.load(fh)
    total, nqueues = int(total), int(nqueues)
    rows = rep["queues"]
    ready = sum(q.get("ready") or 0 for q in rows)
    filled = [q for q in rows if (q.get("ready") or 0) > 0]
    undecodable = sum(q["tasks"].get("<undecodable>", 0) for q in rows)
    problems = []
    if ready != total:
        problems.append(f"ready total {ready}, expected {total}")
    if len(filled) != nqueues:
        problems.append(f"{len(filled)} non-empty queues, expected {nqueues}")
    if undecodable:
        problems.append(f"{undecodable} sampled messages undecodable")
    if not any(len(q.get("priorities", {})) > 1 for q in filled):
        problems.append("no queue shows more than one priority step")
    if problems:
        print("check-queues: " + "; ".join(problems), file=sys.stderr)
        return 1
    sampled = sum(q.get("sampled", 0) for q in rows)
    tasks = sorted({t for q in rows for t in q["tasks"]})
    workers = rep.get("workers")
    if sampled_out:  # the sample size, for the report
        with open(sampled_out, "w") as fh:
            fh.write(f"{sampled:,}")
    print(f"{len(rows)} queues, {ready:,} ready, {sampled:,} sampled, tasks: {', '.join(tasks) or '-'}"
          + ("" if workers is None else f", workers answering: {len(workers)}"))
    return 0


def cmd_check_diagnose(path, rc, total, nqueues, workers, sample, summary_out=None):
    """Sanity check of `celery-doctor diagnose --format json` on the big broker: it worked
    (exit 0 or 1, every broker step ran), saw every worker and every message; the verdict
    should be QUEUE_NO_CONSUMERS (nobody consumes the filled queues)."""
    import re

    rc, total, nqueues, workers, sample = int(rc), int(total), int(nqueues), int(workers), int(sample)
    with open(path) as fh:
        rep = json.load(fh)
    checks = {c["id"]: c for c in rep["checks"]}
    problems, warnings = [], []
    if rc not in (0, 1):
        problems.append(f"exit code {rc}")
    skipped = sorted(i for i, c in checks.items()
                     if c["status"] == "skip" and i not in ("logs", "result_backend"))
    if skipped:
        problems.append("skipped: " + "; ".join(
            f"{i} ({' '.join(checks[i]['evidence'])})" for i in skipped))
    seen = [e for e in checks.get("workers", {}).get("evidence", []) if " pool, concurrency " in e]
    if len(seen) != workers:
        problems.append(f"{len(seen)} workers reported, expected {workers}")
    row = re.compile(r"^(\S+): (\d+|\?) ready, ")
    ready = {}
    for e in checks.get("routing", {}).get("evidence", []):
        m = row.match(e)
        if m:
            ready[m.group(1)] = int(m.group(2)) if m.group(2) != "?" else 0
    if sum(ready.values()) != total:
        problems.append(f"ready total {sum(ready.values())}, expected {total}")
    if sum(1 for n in ready.values() if n) != nqueues:
        problems.append(f"{sum(1 for n in ready.values() if n)} non-empty queues, expected {nqueues}")
    undecodable = [e for e in checks.get("serializers", {}).get("evidence", []) if "undecodable" in e]
    if undecodable:
        problems.append("; ".join(undecodable))
    codes = {}
    for f in rep["findings"]:
        codes[f["code"]] = codes.get(f["code"], 0) + 1
    if rep["verdict"]["code"] != "QUEUE_NO_CONSUMERS" or codes.get("QUEUE_NO_CONSUMERS") != nqueues:
        warnings.append(f"verdict {rep['verdict']['code']}, findings {codes}; expected "
                        f"QUEUE_NO_CONSUMERS for each of the {nqueues} filled queues")
    if problems:
        print("check-diagnose: " + "; ".join(problems), file=sys.stderr)
        return 1
    for w in warnings:
        print(f"check-diagnose: warning: {w}", file=sys.stderr)
    summary = {
        "rc": rc, "verdict": rep["verdict"]["code"], "elapsed_ms": rep["elapsed_ms"],
        "checks": ", ".join(f"{c['id']} {c['status'].upper()}" for c in rep["checks"]),
        "findings": ", ".join(f"{k} ×{v}" for k, v in codes.items()) or "none",
        "workers": len(seen), "queues": len(ready), "ready": sum(ready.values()),
        "sampled": sum(min(sample, n) for n in ready.values()), "warnings": warnings,
    }
    if summary_out:
        with open(summary_out, "w") as fh:
            json.dump(summary, fh)
    print(f"diagnose: exit {rc}, verdict {summary['verdict']} ({summary['findings']}), "
          f"{len(seen)} workers, {len(ready)} queues, {summary['ready']:,} ready, "
          f"{rep['elapsed_ms']} ms by its own clock")
    return 0


def cmd_timeit(runs, *cmd):
    runs = int(runs)
    ok = {0}
    if cmd and cmd[0].startswith("--ok="):  # exit codes that count as success, e.g. --ok=0,1
        ok = {int(c) for c in cmd[0][len("--ok="):].replace(",", " ").split()}
        cmd = cmd[1:]
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        if i:  # the first run is the warm-up
            times.append(time.perf_counter() - t0)
        if rc not in ok:
            print(f"timeit: {' '.join(cmd)} exited {rc} (allowed: {sorted(ok)})", file=sys.stderr)
            return 1
    print(statistics.median(times))
    return 0


# ---------------------------------------------------------------------------------------
def ms(s):
    return f"{s * 1000:.0f} ms" if s >= 0.0995 else f"{s * 1000:.1f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def yes(ok):
    return "yes" if ok else "**NO**"


def cmd_report(results, out, *meta):
    R = {}
    with open(results) as fh:
        for line in fh:
            if line.strip():
                k, v = line.rstrip("\n").split("\t", 1)
                R[k] = v
    M = dict(m.split("=", 1) for m in meta)
    f = lambda k: float(R[k])  # noqa: E731
    n = M["workers"]
    L = []
    w = L.append
    w("# celery-doctor probe benchmark")
    w("")
    w(f"- date: {M['date']}, {M['cores']} cores, commit {M['commit']}, {M['version']}")
    w(f"- brokers: private redis-server {M['redis_version']} on 127.0.0.1:{M['redis_port']} "
      f"(DB {M['db']}, no persistence); RabbitMQ {M.get('rabbitmq', 'skipped')}"
      + (f" (vhost `{M['vhost']}`, created and deleted by the script)" if M.get("vhost") else ""))
    w(f"- workers: {n} × `celery -A liveapp worker -P solo --without-mingle --without-gossip "
      f"-Q celery,emails`, Celery {M['celery']}, kombu {M['kombu']}")
    w(f"- timing: {M['timer']}, median of {M['runs']} runs after 1 warm-up; "
      f"peak RSS: max of 3 runs ({M['rss_tool']}); 100 MB = 10^8 bytes")
    w(f"- envelopes: {M['seed']}")
    w("")

    w(f"## inspect ping, {n} workers up")
    w("")
    w("| broker | command | median | vs `celery inspect ping` | target < 50 ms |")
    w("|---|---|---:|---:|---|")
    for b, label in (("redis", "Redis"), ("amqp", "RabbitMQ")):
        if f"{b}.celery_ping" not in R:
            continue
        base = f(f"{b}.celery_ping")
        w(f"| {label} | `celery-doctor inspect ping --expect {n}` | {ms(f(f'{b}.cd_ping_expect'))} "
          f"| {base / f(f'{b}.cd_ping_expect'):.1f}× faster | {yes(f(f'{b}.cd_ping_expect') < 0.050)} |")
        note = ("stops once every mailbox that got the PUBLISH answered" if b == "redis"
                else "waits for 1 s of silence, as Celery")
        w(f"| {label} | `celery-doctor inspect ping` ({note}) | {ms(f(f'{b}.cd_ping'))} "
          f"| {base / f(f'{b}.cd_ping'):.1f}× faster | – |")
        w(f"| {label} | `celery -A liveapp inspect ping` (waits its 1 s timeout) | {ms(base)} | 1.0× | – |")
    w("")

    w(f"## queues on a modest broker: {M['small']}")
    w("")
    w("| command | median | vs shell equivalent |")
    w("|---|---:|---:|")
    sh = f("small.shell")
    for k, label in (("small.cd", "`celery-doctor queues` (asks workers, samples ≤ 1,000 per queue)"),
                     ("small.cd_noworkers", "`celery-doctor queues --no-workers`"),
                     ("small.cd_noworkers_s0", "`celery-doctor queues --no-workers --sample 0`")):
        w(f"| {label} | {ms(f(k))} | {sh / f(k):.1f}× faster |")
    w(f"| shell: `celery inspect active_queues` + `redis-cli --scan` + {M['small_llen']} × "
      f"`redis-cli llen` (no task mix) | {ms(sh)} | 1.0× |")
    w("")

    w(f"## queues on a big broker: {M['big']}")
    w("")
    w("| command | median | peak RSS | target < 1 s | target < 100 MB |")
    w("|---|---:|---:|---|---|")
    for k, label in (("big.cd", "`celery-doctor queues` (asks workers, `--sample 1000`)"),
                     ("big.cd_s0", "`celery-doctor queues --sample 0`"),
                     ("big.cd_noworkers", "`celery-doctor queues --no-workers`"),
                     ("big.cd_noworkers_s0", "`celery-doctor queues --no-workers --sample 0`")):
        t, rss = f(k), f(k + ".rss")
        w(f"| {label} | {ms(t)} | {mib(rss)} | {yes(t < 1.0)} | {yes(rss * 1024 < 100e6)} |")
    w("")
    w(f"Where the time goes (differences of medians): reading and decoding the sample "
      f"({M['big_sampled']} envelopes) {ms(f('big.cd_noworkers') - f('big.cd_noworkers_s0'))}; "
      f"the `active_queues` broadcast to the workers {ms(f('big.cd_s0') - f('big.cd_noworkers_s0'))}; "
      f"discovery + LLEN of every priority list {ms(f('big.cd_noworkers_s0'))} "
      f"(process start included).")
    w("")
    w("## diagnose on the big broker")
    w("")
    w(f"{M['big']}.")
    w("")
    d = json.loads(M["diag"])
    man = f("diag.manual")
    w("| command | median | peak RSS | target < 2 s + reply wait | target < 150 MB | vs manual equivalent |")
    w("|---|---:|---:|---|---|---:|")
    for k, label, wait in (
            ("diag.t1", "`celery-doctor diagnose` (defaults: `--timeout 1`, `--sample 200`)", 1.0),
            ("diag.t02", "`celery-doctor diagnose --timeout 0.2`", 0.2),
            ("diag.t1_s0", "`celery-doctor diagnose --sample 0` (no per-queue samples)", 1.0)):
        t, rss = f(k), f(k + ".rss")
        w(f"| {label} | {ms(t)} | {mib(rss)} | {yes(t < 2.0 + wait)} (< {2.0 + wait:g} s) "
          f"| {yes(rss * 1024 < 150e6)} | {man / t:.1f}× faster |")
    w(f"| manual: `celery -A liveapp inspect` stats, active_queues, registered, conf (4 CLI runs, "
      f"`--json`) + `redis-cli INFO` + `redis-cli --scan` + {M['big_llen']} × `redis-cli llen` "
      f"| {ms(man)} | – | – | – | 1.0× |")
    w("")
    w(f"Each `diagnose` run: connect, INFO, ping + 7 broadcasts (stats, active_queues, registered, "
      f"conf, active, reserved, scheduled) answered by {d['workers']} workers, discovery + LLEN of "
      f"{d['queues']} queues ({d['ready']:,} messages ready), up to 200 messages sampled from each "
      f"filled queue ({d['sampled']:,} envelopes), the unacked set, then the checks. "
      f"Verdict `{d['verdict']}`, exit {d['rc']} (findings: {d['findings']}); "
      f"checks: {d['checks']}; {d['elapsed_ms']} ms by its own clock (one run with the defaults).")
    if d.get("warnings"):
        w("")
        w("**Unexpected:** " + "; ".join(d["warnings"]))
    w("")
    t1, t02, s0 = f("diag.t1"), f("diag.t02"), f("diag.t1_s0")
    w(f"Where the time goes (differences of medians): the samples {ms(t1 - s0)}; INFO, the 8 "
      f"broadcasts, the unacked set and the checks {ms(s0 - f('big.cd_noworkers_s0'))} "
      f"(`diagnose --sample 0` minus `queues --no-workers --sample 0`); discovery + LLEN of every "
      f"priority list {ms(f('big.cd_noworkers_s0'))} (process start included). The reply wait: "
      f"a broadcast ends once every expected worker answered, `--timeout` is the silence that "
      f"ends it otherwise; `--timeout 1` vs `--timeout 0.2`: {ms(t1 - t02)}. "
      f"Under 2 s flat: {yes(max(t1, t02, s0) < 2.0)}.")
    w("")
    w("The manual equivalent does less: no active/reserved/scheduled, no message samples, no "
      "unacked set, nothing judged; each `celery inspect` run starts Python and waits its 1 s "
      "reply timeout.")
    w("")
    w("All `celery-doctor` runs: `--format json`, output to /dev/null; `celery` runs: `--json`.")
    text = "\n".join(L) + "\n"
    with open(out, "w") as fh:
        fh.write(text)
    print(text, end="")
    return 0


COMMANDS = {
    "free-port": cmd_free_port, "seed": cmd_seed, "fill": cmd_fill, "drop": cmd_drop,
    "count-nodes": cmd_count_nodes, "check-queues": cmd_check_queues,
    "check-diagnose": cmd_check_diagnose, "timeit": cmd_timeit,
    "report": cmd_report,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]))
