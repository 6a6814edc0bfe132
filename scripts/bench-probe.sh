#!/usr/bin/env bash
# Benchmark (not a test): the live probe commands against local brokers with
# real Celery workers.
#   1. `celery-doctor inspect ping --expect N` (and without --expect) vs
#      `celery inspect ping`, on Redis and on RabbitMQ;
#   2. `celery-doctor queues` vs its shell equivalent, `celery inspect
#      active_queues` + `redis-cli llen` for every queue and priority list, on a
#      modest broker (10 queues x 1,000 messages);
#   3. `celery-doctor queues` wall time and peak RSS on a big broker: 1,000,000
#      real kombu envelopes over 50 queues, with priorities;
#   4. `celery-doctor diagnose` (--timeout 1 and 0.2) wall time and peak RSS on
#      that big broker with the workers up, vs its manual equivalent: `celery
#      inspect` stats, active_queues, registered and conf (4 CLI runs) +
#      `redis-cli INFO` + `redis-cli llen` for every queue and priority list.
# Targets: `queues` on the big broker under 1 s and under 100 MB; `inspect ping
# --expect N` under 50 ms with N workers up; `diagnose` on the big broker under
# 2 s plus the reply wait (--timeout) and under 150 MB.
#
# Nobody else's data is touched: Redis is a private redis-server started on a
# spare port (from 6399 up, no persistence) and shut down on exit; RabbitMQ
# gets a fresh vhost through the management API, deleted on exit. Workers are
# stopped on exit, even on failure.
#
#   bash scripts/bench-probe.sh
# Environment: RUNS (default 10), CELERY_DOCTOR_BIN (use this binary; else
# target/release/celery-doctor, built with cargo only when missing, or always
# with BUILD=1), HYPERFINE=0 (time with a Python loop, not hyperfine), WORKERS
# (default 4), REDIS_PORT (first port tried, default 6399), AMQP=0 (skip
# RabbitMQ), RABBITMQ_HOST (127.0.0.1), RABBITMQ_MGMT (http://127.0.0.1:15672),
# BIG_MESSAGES (1000000), BIG_QUEUES (50), SMALL_MESSAGES (1000 per queue),
# SMALL_QUEUES (10). Results: stdout and target/bench-probe.md.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
LIVE=$ROOT/tests/live/py

RUNS=${RUNS:-10}
WORKERS=${WORKERS:-4}
DB=3
BIG_MESSAGES=${BIG_MESSAGES:-1000000}
BIG_QUEUES=${BIG_QUEUES:-50}
SMALL_MESSAGES=${SMALL_MESSAGES:-1000}
SMALL_QUEUES=${SMALL_QUEUES:-10}
RABBITMQ_HOST=${RABBITMQ_HOST:-127.0.0.1}
RABBITMQ_MGMT=${RABBITMQ_MGMT:-http://127.0.0.1:15672}
OUT=$ROOT/target/bench-probe.md

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'bench-probe: error: %s\n' "$*" >&2; exit 1; }
for tool in redis-server redis-cli curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/celery-doctor-bench-probe.XXXXXX")
REDIS_PID=
REDIS_PORT_USED=
VHOST=
WORKER_PIDS=()

stop_workers() {
  local pid alive _
  ((${#WORKER_PIDS[@]})) || return 0
  for pid in "${WORKER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 100); do # warm shutdown: up to 10 s
    alive=0
    for pid in "${WORKER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${WORKER_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "bench-probe: worker $pid ignored SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  WORKER_PIDS=()
}

mgmt() { # METHOD PATH [JSON]
  curl -fsS -m 10 -u guest:guest -X "$1" -H 'content-type: application/json' \
    ${3:+--data "$3"} "$RABBITMQ_MGMT/api$2"
}

cleanup() {
  local rc=$?
  set +e
  stop_workers
  if [[ -n $VHOST ]]; then
    mgmt DELETE "/vhosts/$VHOST" >/dev/null || echo "bench-probe: could not delete vhost $VHOST" >&2
  fi
  if [[ -n $REDIS_PID ]]; then
    redis-cli -p "$REDIS_PORT_USED" shutdown nosave >/dev/null 2>&1
    for _ in $(seq 1 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$REDIS_PID" 2>/dev/null
    wait "$REDIS_PID" 2>/dev/null
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- python venv (same spec as scripts/test.sh) ----------------------------------------
CELERY_SPEC=$(sed -n "s/^CELERY_SPEC='\(.*\)'\$/\1/p" scripts/test.sh)
CELERY_SPEC=${CELERY_SPEC:-'celery[redis,msgpack,yaml]==5.7.*'}
PY=$ROOT/.venv/bin/python
venv_ok() {
  [[ -x $PY ]] && "$PY" - <<'PY' >/dev/null 2>&1
import sys
import celery, redis, msgpack  # noqa: F401
sys.exit(0 if celery.__version__.startswith("5.7.") else 1)
PY
}
if ! venv_ok; then
  log "installing $CELERY_SPEC into .venv"
  [[ -x $PY ]] || python3 -m venv .venv
  "$PY" -m pip install --disable-pip-version-check -q "$CELERY_SPEC"
  venv_ok || die ".venv still lacks celery 5.7 after pip install"
fi
CELERY_VERSION=$("$PY" -c 'import celery; print(celery.__version__)')
KOMBU_VERSION=$("$PY" -c 'import kombu; print(kombu.__version__)')
echo "venv: celery $CELERY_VERSION, kombu $KOMBU_VERSION"
helper() { "$PY" "$ROOT/scripts/bench_probe.py" "$@"; }

# --- build ------------------------------------------------------------------------------
if [[ -n "${CELERY_DOCTOR_BIN:-}" ]]; then
  BIN=$CELERY_DOCTOR_BIN
else
  BIN=$ROOT/target/release/celery-doctor
  if [[ "${BUILD:-0}" == 1 || ! -x $BIN ]]; then
    log "cargo build --release --locked"
    cargo build --release --locked
  fi
fi
[[ -x "$BIN" ]] || die "$BIN not found"
BIN_DESC="$("$BIN" --version 2>/dev/null || echo 'celery-doctor ?'), built $(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ)"
# Flag a binary older than the last commit that touched the sources.
src_time=$(git log -1 --format=%ct -- src Cargo.toml Cargo.lock 2>/dev/null || true)
if [[ -n $src_time ]] && (( $(date -r "$BIN" +%s) < src_time )); then
  BIN_DESC+=" (**older than the last commit to src/, $(git log -1 --format=%h -- src)**; BUILD=1 rebuilds)"
  echo "bench-probe: warning: $BIN is older than the last commit to src/ (BUILD=1 rebuilds)" >&2
fi
echo "binary: $BIN ($BIN_DESC)"

# --- tools for measuring ------------------------------------------------------------------
if [[ "${HYPERFINE:-1}" != 0 ]] && ! command -v hyperfine >/dev/null && command -v apt-get >/dev/null && [[ $EUID -eq 0 ]]; then
  log "installing hyperfine (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q hyperfine >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q hyperfine >/dev/null 2>&1; } \
    || echo "hyperfine could not be installed; timing with a Python loop"
fi
HAVE_HYPERFINE=0
if [[ "${HYPERFINE:-1}" != 0 ]] && command -v hyperfine >/dev/null; then HAVE_HYPERFINE=1; fi
HAVE_GNU_TIME=0
[[ -x /usr/bin/time ]] && /usr/bin/time -f %M true >/dev/null 2>&1 && HAVE_GNU_TIME=1

RESULTS=$tmp/results.tsv
: >"$RESULTS"
record() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; }

# OK_CODES (space-separated, default "0"): the exit codes that count as success for
# median_seconds, peak_rss_kib and measure. `diagnose` exits 1 when it has findings
# (it must on the big broker: 50 queues nobody consumes), 2 when it cannot work.
ok_code() { [[ " ${OK_CODES:-0} " == *" $1 "* ]]; }

# median_seconds NAME CMD... : median wall time of RUNS runs (1 warm-up), output discarded
median_seconds() {
  local name=$1; shift
  if [[ $HAVE_HYPERFINE == 1 ]]; then
    local cmd="" a ignore=()
    for a in "$@"; do cmd+="$(printf '%q' "$a") "; done
    # -i times non-zero exits too; their codes are checked below.
    [[ "${OK_CODES:-0}" == 0 ]] || ignore=(-i)
    hyperfine -N "${ignore[@]}" --style basic --warmup 1 --runs "$RUNS" --export-json "$tmp/$name.json" \
      -n "$name" "$cmd" >&2
    python3 - "$tmp/$name.json" "${OK_CODES:-0}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ok = {int(c) for c in sys.argv[2].split()}
bad = [c for c in r.get("exit_codes") or [] if c not in ok]
if bad:
    sys.exit(f"bench-probe: {r['command']} exited {bad} during timing (allowed: {sorted(ok)})")
print(r["median"])
PY
  else
    helper timeit "$RUNS" --ok="${OK_CODES:-0}" "$@"
  fi
}

# peak_rss_kib CMD... : largest max-RSS of 3 runs, in KiB
peak_rss_kib() {
  local best=0 v rc _
  for _ in 1 2 3; do
    rc=0
    if [[ $HAVE_GNU_TIME == 1 ]]; then
      /usr/bin/time -f %M -o "$tmp/rss" "$@" >/dev/null 2>&1 || rc=$?
      v=$(tail -n1 "$tmp/rss")
    else
      read -r v rc < <(python3 - "$@" <<'PY'
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)
PY
)
    fi
    ok_code "$rc" || die "exited $rc while measuring RSS: $*"
    if (( v > best )); then best=$v; fi
  done
  echo "$best"
}

# measure KEY CMD... : check that CMD succeeds, then record its median wall time
measure() {
  local key=$1 rc=0; shift
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if ! ok_code "$rc"; then
    cat "$tmp/err" >&2
    die "exited $rc: $*"
  fi
  local t
  t=$(median_seconds "$key" "$@")
  printf '%-28s %8.1f ms\n' "$key" "$(python3 -c "print(float('$t') * 1000)")"
  record "$key" "$t"
}

# --- private redis-server -------------------------------------------------------------------
REDIS_PORT_USED=$(helper free-port "${REDIS_PORT:-6399}" 50)
log "starting a private redis-server on 127.0.0.1:$REDIS_PORT_USED"
redis-server --port "$REDIS_PORT_USED" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$tmp" --logfile "$tmp/redis.log" --daemonize no &
REDIS_PID=$!
for _ in $(seq 1 50); do
  [[ "$(redis-cli -p "$REDIS_PORT_USED" ping 2>/dev/null)" == PONG ]] && break
  kill -0 "$REDIS_PID" 2>/dev/null || { cat "$tmp/redis.log" >&2; die "redis-server exited"; }
  sleep 0.1
done
[[ "$(redis-cli -p "$REDIS_PORT_USED" ping 2>/dev/null)" == PONG ]] || die "redis-server does not answer"
REDIS_VERSION=$(redis-cli -p "$REDIS_PORT_USED" info server | sed -n 's/^redis_version:\(.*\)\r$/\1/p')
REDIS_URL=redis://127.0.0.1:$REDIS_PORT_USED/$DB
rcli() { redis-cli -p "$REDIS_PORT_USED" -n "$DB" "$@"; }

# --- real envelopes ---------------------------------------------------------------------
log "publishing real tasks with Celery (tests/live/py/publish.py) and reading them back"
SEED_INFO=$(helper seed "redis://127.0.0.1:$REDIS_PORT_USED/15" "$LIVE" "$tmp/templates.json")
echo "$SEED_INFO"
SEED_DESC=$("$PY" - "$SEED_INFO" <<'PY'
import json, sys
i = json.loads(sys.argv[1])
mix = ", ".join(f"{k} ×{v}" for k, v in i["mix"].items())
print(f"{i['templates']} tasks published with Celery's send_task, replicated with fresh ids "
      f"({i['bytes_min']}–{i['bytes_max']} bytes each): {mix}")
PY
)

# --- workers -------------------------------------------------------------------------------
start_workers() { # BROKER_URL TAG
  local i
  for i in $(seq 1 "$WORKERS"); do
    (
      cd "$LIVE"
      export C_FORCE_ROOT=1 CDT_BROKER=$1 CDT_PREFIX="" CDT_PARENT_PID=$$
      exec "$PY" -m celery -A liveapp worker -n "w$i@bench-$2" -Q celery,emails -P solo \
        --without-mingle --without-gossip -l warning
    ) >"$tmp/worker-$2-$i.log" 2>&1 &
    WORKER_PIDS+=($!)
  done
}

celery_cli() { # BROKER_URL ARGS... (runs `celery -A liveapp ARGS` against that broker)
  (cd "$LIVE" && CDT_BROKER=$1 CDT_PREFIX="" exec "$PY" -m celery -A liveapp "${@:2}")
}

wait_workers() { # BROKER_URL TAG
  local n=0 deadline=$((SECONDS + 90))
  while ((SECONDS < deadline)); do
    celery_cli "$1" inspect ping --json >"$tmp/ping.json" 2>/dev/null || true
    n=$(helper count-nodes "$tmp/ping.json")
    ((n >= WORKERS)) && { echo "$n workers answer celery inspect ping"; return 0; }
    local pid
    for pid in "${WORKER_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || { tail -n 30 "$tmp"/worker-"$2"-*.log >&2; die "a worker exited"; }
    done
    sleep 0.5
  done
  tail -n 30 "$tmp"/worker-"$2"-*.log >&2
  die "only $n of $WORKERS workers answered celery inspect ping within 90 s"
}

# A script that runs `celery ... ARGS` for hyperfine (-N runs no shell).
celery_script() { # FILE BROKER_URL ARGS...
  {
    echo '#!/usr/bin/env bash'
    printf 'cd %q && CDT_BROKER=%q CDT_PREFIX= exec %q -m celery -A liveapp' "$LIVE" "$2" "$PY"
    printf ' %q' "${@:3}"
    echo
  } >"$1"
  chmod +x "$1"
}

log "starting $WORKERS Redis workers (-P solo) on $REDIS_URL"
start_workers "$REDIS_URL" redis
wait_workers "$REDIS_URL" redis

# --- 1. inspect ping, Redis --------------------------------------------------------------------
log "inspect ping on Redis, $WORKERS workers"
measure redis.cd_ping_expect "$BIN" inspect ping --expect "$WORKERS" --format json -b "$REDIS_URL"
[[ "$(helper count-nodes "$tmp/out")" == "$WORKERS" ]] || die "celery-doctor inspect ping --expect saw $(cat "$tmp/out")"
measure redis.cd_ping "$BIN" inspect ping --format json -b "$REDIS_URL"
[[ "$(helper count-nodes "$tmp/out")" == "$WORKERS" ]] || die "celery-doctor inspect ping saw $(cat "$tmp/out")"
celery_script "$tmp/celery-ping-redis" "$REDIS_URL" inspect ping --json
measure redis.celery_ping "$tmp/celery-ping-redis"

# --- 2. queues on a modest broker ------------------------------------------------------------------
SMALL_TOTAL=$((SMALL_QUEUES * SMALL_MESSAGES))
log "modest broker: $SMALL_QUEUES queues x $SMALL_MESSAGES messages"
helper fill "$REDIS_URL" "$tmp/templates.json" m "$SMALL_QUEUES" "$SMALL_TOTAL"
"$BIN" queues --format json -b "$REDIS_URL" >"$tmp/small.json"
helper check-queues "$tmp/small.json" "$SMALL_TOTAL" "$SMALL_QUEUES"
# The shell equivalent: which queues workers consume, which queues are declared
# (kombu's binding tables; Celery's direct queues have exchange = queue name),
# then LLEN of each queue's 4 priority lists, one redis-cli each.
celery_script "$tmp/celery-aq" "$REDIS_URL" inspect active_queues --json
cat >"$tmp/shell-queues" <<EOF
#!/usr/bin/env bash
set -euo pipefail
$(printf '%q' "$tmp/celery-aq")
r() { redis-cli -p $REDIS_PORT_USED -n $DB "\$@"; }
for q in \$(r --scan --pattern '_kombu.binding.*' | sed 's/^_kombu\.binding\.//' | grep -v -e 'pidbox\$' -e '^celeryev\$' | sort); do
  for k in "\$q" "\$q"\$'\x06\x16'3 "\$q"\$'\x06\x16'6 "\$q"\$'\x06\x16'9; do
    printf 'LLEN %q %s\n' "\$k" "\$(r llen "\$k")"
  done
done
EOF
chmod +x "$tmp/shell-queues"
SMALL_LLEN=$("$tmp/shell-queues" 2>/dev/null | grep -c '^LLEN ' || true)
SMALL_DESC="$SMALL_QUEUES queues × $SMALL_MESSAGES messages (+ the workers' empty \`celery\` and \`emails\`), $WORKERS workers"
measure small.cd "$BIN" queues --format json -b "$REDIS_URL"
measure small.cd_noworkers "$BIN" queues --no-workers --format json -b "$REDIS_URL"
measure small.cd_noworkers_s0 "$BIN" queues --no-workers --sample 0 --format json -b "$REDIS_URL"
measure small.shell "$tmp/shell-queues"
helper drop "$REDIS_URL" m "$SMALL_QUEUES"

# --- 3. queues on a big broker ----------------------------------------------------------------
log "big broker: $BIG_MESSAGES messages over $BIG_QUEUES queues"
FILL_INFO=$(helper fill "$REDIS_URL" "$tmp/templates.json" q "$BIG_QUEUES" "$BIG_MESSAGES")
echo "$FILL_INFO"
BIG_DESC=$("$PY" - "$FILL_INFO" "$WORKERS" <<'PY'
import json, sys
i = json.loads(sys.argv[1])
print(f"{i['messages']:,} messages over {i['queues']} queues (4 priority lists each), "
      f"Redis used_memory {i['used_memory_human']}, filled in {i['seconds']} s; "
      f"{sys.argv[2]} workers up (consuming the empty `celery` and `emails`)")
PY
)
"$BIN" queues --format json -b "$REDIS_URL" >"$tmp/big.json"
helper check-queues "$tmp/big.json" "$BIG_MESSAGES" "$BIG_QUEUES" "$tmp/big.sampled"
big() { # KEY ARGS...
  local key=$1; shift
  measure "$key" "$BIN" queues "$@" --format json -b "$REDIS_URL"
  record "$key.rss" "$(peak_rss_kib "$BIN" queues "$@" --format json -b "$REDIS_URL")"
  printf '%-28s %8s KiB peak RSS\n' "$key" "$(tail -n1 "$RESULTS" | cut -f2)"
}
big big.cd
big big.cd_s0 --sample 0
big big.cd_noworkers --no-workers
big big.cd_noworkers_s0 --no-workers --sample 0

# --- 4. diagnose on the big broker, workers up ------------------------------------------------
log "diagnose on the big broker, $WORKERS workers up"
unset CELERY_RESULT_BACKEND # diagnose would inspect that backend; this benchmark has none
DIAG_SAMPLE=200             # diagnose's default --sample
diag() { # KEY SAMPLE ARGS... : one checked run, then median wall time and peak RSS (exit 0 or 1 is fine)
  local key=$1 sample=$2 rc=0 rss; shift 2
  "$BIN" diagnose "$@" --format json -b "$REDIS_URL" >"$tmp/$key.json" 2>"$tmp/err" || rc=$?
  if ! helper check-diagnose "$tmp/$key.json" "$rc" "$BIG_MESSAGES" "$BIG_QUEUES" "$WORKERS" \
      "$sample" "$tmp/$key.summary"; then
    cat "$tmp/err" >&2
    die "celery-doctor diagnose $* (exit $rc) failed its check; output in $tmp/$key.json"
  fi
  OK_CODES="0 1" measure "$key" "$BIN" diagnose "$@" --format json -b "$REDIS_URL"
  rss=$(OK_CODES="0 1" peak_rss_kib "$BIN" diagnose "$@" --format json -b "$REDIS_URL")
  record "$key.rss" "$rss"
  printf '%-28s %8s KiB peak RSS\n' "$key" "$rss"
}
diag diag.t1 "$DIAG_SAMPLE"                     # the defaults: --timeout 1, --sample 200
diag diag.t02 "$DIAG_SAMPLE" --timeout 0.2
diag diag.t1_s0 0 --sample 0                    # where the time goes: no per-queue samples
# The manual equivalent, as an SRE would type it: four `celery inspect` runs (each waits
# its 1 s timeout), the broker's INFO, then LLEN of every declared queue's 4 priority
# lists (discovery as in the modest-broker shell equivalent), one redis-cli each.
MANUAL_INSPECT=(stats active_queues registered conf)
manual_cmds=""
for m in "${MANUAL_INSPECT[@]}"; do
  celery_script "$tmp/celery-$m" "$REDIS_URL" inspect "$m" --json
  "$tmp/celery-$m" >"$tmp/manual-$m.json" 2>/dev/null || true
  n=$(helper count-nodes "$tmp/manual-$m.json")
  [[ $n == "$WORKERS" ]] || die "celery inspect $m --json: $n of $WORKERS workers answered"
  manual_cmds+="$(printf '%q' "$tmp/celery-$m")"$'\n'
done
cat >"$tmp/manual-diagnose" <<SCRIPT
#!/usr/bin/env bash
set -euo pipefail
$manual_cmds
r() { redis-cli -p $REDIS_PORT_USED -n $DB "\$@"; }
r info
for q in \$(r --scan --pattern '_kombu.binding.*' | sed 's/^_kombu\.binding\.//' | grep -v -e 'pidbox\$' -e '^celeryev\$' | sort); do
  for k in "\$q" "\$q"\$'\x06\x16'3 "\$q"\$'\x06\x16'6 "\$q"\$'\x06\x16'9; do
    printf 'LLEN %q %s\n' "\$k" "\$(r llen "\$k")"
  done
done
SCRIPT
chmod +x "$tmp/manual-diagnose"
"$tmp/manual-diagnose" >"$tmp/manual.out" 2>/dev/null
BIG_LLEN=$(grep -c '^LLEN ' "$tmp/manual.out" || true)
BIG_LLEN_SUM=$(awk '/^LLEN /{s += $NF} END {print s + 0}' "$tmp/manual.out")
[[ $BIG_LLEN_SUM == "$BIG_MESSAGES" ]] || die "manual equivalent: the LLENs add up to $BIG_LLEN_SUM, expected $BIG_MESSAGES"
echo "manual equivalent: ${#MANUAL_INSPECT[@]} celery inspect runs, redis-cli INFO, $BIG_LLEN × redis-cli llen (sum $BIG_LLEN_SUM)"
measure diag.manual "$tmp/manual-diagnose"
stop_workers

# --- 5. inspect ping, RabbitMQ -------------------------------------------------------------------
RABBIT_DESC=
if [[ "${AMQP:-1}" == 0 ]]; then
  echo "AMQP=0: skipping RabbitMQ"
elif ! RABBIT_VERSION=$(mgmt GET /overview 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["rabbitmq_version"])'); then
  echo "RabbitMQ management API not reachable at $RABBITMQ_MGMT: skipping RabbitMQ"
else
  VHOST=celery-doctor-bench-$$
  log "RabbitMQ $RABBIT_VERSION: vhost $VHOST, $WORKERS workers"
  mgmt PUT "/vhosts/$VHOST" >/dev/null
  mgmt PUT "/permissions/$VHOST/guest" '{"configure":".*","write":".*","read":".*"}' >/dev/null
  AMQP_URL=amqp://guest:guest@$RABBITMQ_HOST:5672/$VHOST
  start_workers "$AMQP_URL" amqp
  wait_workers "$AMQP_URL" amqp
  measure amqp.cd_ping_expect "$BIN" inspect ping --expect "$WORKERS" --format json -b "$AMQP_URL"
  [[ "$(helper count-nodes "$tmp/out")" == "$WORKERS" ]] || die "celery-doctor inspect ping --expect saw $(cat "$tmp/out")"
  measure amqp.cd_ping "$BIN" inspect ping --format json -b "$AMQP_URL"
  [[ "$(helper count-nodes "$tmp/out")" == "$WORKERS" ]] || die "celery-doctor inspect ping saw $(cat "$tmp/out")"
  celery_script "$tmp/celery-ping-amqp" "$AMQP_URL" inspect ping --json
  measure amqp.celery_ping "$tmp/celery-ping-amqp"
  stop_workers
  mgmt DELETE "/vhosts/$VHOST" >/dev/null
  VHOST_DONE=$VHOST
  VHOST=
  RABBIT_DESC=$RABBIT_VERSION
fi

# --- summary ------------------------------------------------------------------------------------
log "results"
echo
mkdir -p "$(dirname "$OUT")"
helper report "$RESULTS" "$OUT" \
  "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" "cores=$(nproc)" \
  "commit=$(git rev-parse --short HEAD 2>/dev/null || echo none)$([[ -n "$(git status --porcelain -- src 2>/dev/null)" ]] && echo ' (src/ modified)')" \
  "version=$BIN_DESC" \
  "redis_version=$REDIS_VERSION" "redis_port=$REDIS_PORT_USED" "db=$DB" \
  ${RABBIT_DESC:+"rabbitmq=$RABBIT_DESC"} ${VHOST_DONE:+"vhost=$VHOST_DONE"} \
  "workers=$WORKERS" "celery=$CELERY_VERSION" "kombu=$KOMBU_VERSION" \
  "timer=$([[ $HAVE_HYPERFINE == 1 ]] && echo "hyperfine $(hyperfine --version | cut -d' ' -f2)" || echo 'python perf_counter loop')" \
  "runs=$RUNS" "rss_tool=$([[ $HAVE_GNU_TIME == 1 ]] && echo '/usr/bin/time -f %M' || echo 'getrusage(RUSAGE_CHILDREN)')" \
  "seed=$SEED_DESC" "small=$SMALL_DESC" "small_llen=$SMALL_LLEN" "big=$BIG_DESC" "big_sampled=$(cat "$tmp/big.sampled")" \
  "big_llen=$BIG_LLEN" "diag=$(cat "$tmp/diag.t1.summary")"
echo
echo "written to target/bench-probe.md"
