#!/usr/bin/env bash
# Benchmark (not a test): wall time and peak RSS of `celery-doctor lint` vs
# `ruff check` (a syntax/undefined-name subset) over two trees:
#   real       pinned wheels of Django, Celery, kombu, ... (~400K lines of .py)
#   generated  a seeded, Celery-heavy monolith from scripts/gen_corpus.py
#              (~2,000 modules, ~150K lines)
# Everything lives under target/bench/ and is cached between runs.
#
#   bash scripts/bench-lint.sh               # fetch, build, measure
#   bash scripts/bench-lint.sh --fetch-only  # corpora + ruff only, no build
# Environment: RUNS (default 10), CELERY_DOCTOR_BIN (skip the cargo build and
# use this binary), HYPERFINE=0 (time with a Python loop, not hyperfine).
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

# Pinned corpus: pure-Python wheels (no build step; unpacked with zipfile).
REAL_PINS=(
  django==5.2.19
  celery==5.7.0
  kombu==5.7.0
  django-celery-beat==2.9.0
  requests==2.34.2
  sentry-sdk==2.75.0
  redis==8.1.0
  djangorestframework==3.18.3
  amqp==5.4.2
  billiard==4.3.2
)
RUFF_PIN=ruff==0.17.6
GEN_ARGS=(--apps 40 --seed 20240601)
RUNS=${RUNS:-10}

BENCH=$ROOT/target/bench
CORPUS=$BENCH/corpus
REAL=$CORPUS/real
GEN=$CORPUS/generated
VENV=$BENCH/venv

FETCH_ONLY=0
case "${1:-}" in
  --fetch-only) FETCH_ONLY=1 ;;
  "") ;;
  *) echo "usage: bash scripts/bench-lint.sh [--fetch-only]" >&2; exit 2 ;;
esac

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'bench-lint: error: %s\n' "$*" >&2; exit 1; }
mkdir -p "$CORPUS"

# --- real corpus ------------------------------------------------------------
want_pins=$(printf '%s\n' "${REAL_PINS[@]}")
if [[ -f "$REAL/.pins" && "$(cat "$REAL/.pins")" == "$want_pins" ]]; then
  echo "corpus: real (cached, ${#REAL_PINS[@]} packages)"
else
  log "downloading ${#REAL_PINS[@]} pinned wheels"
  rm -rf "$REAL" "$BENCH/downloads"
  mkdir -p "$BENCH/downloads"
  start=$(date +%s)
  python3 -m pip download --disable-pip-version-check -q --no-deps --only-binary :all: \
    -d "$BENCH/downloads" "${REAL_PINS[@]}"
  echo "downloaded $(du -sh "$BENCH/downloads" | cut -f1) in $(( $(date +%s) - start ))s"
  python3 - "$BENCH/downloads" "$REAL.tmp" <<'PY'
import os, shutil, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
shutil.rmtree(dst, ignore_errors=True)
for name in sorted(os.listdir(src)):
    if name.endswith(".whl"):
        with zipfile.ZipFile(os.path.join(src, name)) as zf:
            zf.extractall(os.path.join(dst, name[: -len(".whl")]))
PY
  printf '%s\n' "$want_pins" >"$REAL.tmp/.pins"
  mv "$REAL.tmp" "$REAL"
fi

# --- generated corpus --------------------------------------------------------
gen_stamp="$(sha256sum scripts/gen_corpus.py | cut -c1-16) ${GEN_ARGS[*]}"
if [[ -f "$GEN.stamp" && "$(cat "$GEN.stamp")" == "$gen_stamp" && -d "$GEN" ]]; then
  echo "corpus: generated (cached)"
else
  log "generating the Celery-heavy corpus"
  python3 scripts/gen_corpus.py --out "$GEN" "${GEN_ARGS[@]}" --force
  printf '%s\n' "$gen_stamp" >"$GEN.stamp"
fi

# --- ruff ---------------------------------------------------------------------
RUFF=$VENV/bin/ruff
if [[ -x "$RUFF" && "$("$RUFF" --version 2>/dev/null)" == "ruff ${RUFF_PIN#ruff==}" ]]; then
  echo "ruff: $("$RUFF" --version) (cached)"
else
  log "installing $RUFF_PIN into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$RUFF_PIN"
  echo "ruff: $("$RUFF" --version)"
fi

# --- tree statistics (files, lines of .py) -------------------------------------
tree_stats() { # DIR -> "FILES LINES"
  python3 - "$1" <<'PY'
import os, sys
files = lines = 0
for dp, dns, fns in os.walk(sys.argv[1]):
    for fn in fns:
        if fn.endswith(".py"):
            files += 1
            with open(os.path.join(dp, fn), "rb") as fh:
                lines += fh.read().count(b"\n")
print(files, lines)
PY
}
read -r real_files real_lines < <(tree_stats "$REAL")
read -r gen_files gen_lines < <(tree_stats "$GEN")
echo "corpus: real      $real_files files, $real_lines lines ($REAL)"
echo "corpus: generated $gen_files files, $gen_lines lines ($GEN)"

if [[ $FETCH_ONLY == 1 ]]; then
  echo "fetch-only: done"
  exit 0
fi

# --- build ------------------------------------------------------------------------
if [[ -n "${CELERY_DOCTOR_BIN:-}" ]]; then
  BIN=$CELERY_DOCTOR_BIN
else
  log "cargo build --release --locked"
  cargo build --release --locked
  BIN=$ROOT/target/release/celery-doctor
fi
[[ -x "$BIN" ]] || die "$BIN not found"

# --- tools for measuring ---------------------------------------------------------
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/celery-doctor-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# median_seconds NAME CMD... : median wall time of RUNS runs (1 warm-up), stdout discarded
median_seconds() {
  local name=$1; shift
  if [[ $HAVE_HYPERFINE == 1 ]]; then
    local cmd="" a
    for a in "$@"; do cmd+="$(printf '%q' "$a") "; done
    hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$tmp/$name.json" \
      -n "$name" "$cmd" >&2
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$tmp/$name.json"
  else
    python3 - "$RUNS" "$@" <<'PY'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for i in range(runs + 1):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    if i:  # first run is the warm-up
        times.append(time.perf_counter() - t0)
print(statistics.median(times))
PY
  fi
}

# peak_rss_kib CMD... : largest max-RSS of 3 runs, in KiB
peak_rss_kib() {
  local best=0 v _
  for _ in 1 2 3; do
    if [[ $HAVE_GNU_TIME == 1 ]]; then
      /usr/bin/time -f %M -o "$tmp/rss" "$@" >/dev/null 2>&1
      v=$(tail -n1 "$tmp/rss")
    else
      v=$(python3 - "$@" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)
    fi
    if (( v > best )); then best=$v; fi
  done
  echo "$best"
}

rows=()
measure_tree() { # LABEL DIR FILES LINES
  local label=$1 dir=$2 files=$3 lines=$4 rc=0
  log "measuring $label ($files files, $lines lines)"
  local cd_cmd=("$BIN" lint "$dir" --format json --output /dev/null --exit-zero)
  local ruff_cmd=("$RUFF" check --no-cache --select "E9,F63,F7,F82" --exit-zero --output-format json "$dir")
  "${cd_cmd[@]}" >/dev/null 2>"$tmp/cd.err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    cat "$tmp/cd.err" >&2
    die "celery-doctor exited $rc on $dir"
  fi
  local cd_t ruff_t cd_m ruff_m
  cd_t=$(median_seconds "celery-doctor-$label" "${cd_cmd[@]}")
  ruff_t=$(median_seconds "ruff-$label" "${ruff_cmd[@]}")
  cd_m=$(peak_rss_kib "${cd_cmd[@]}")
  ruff_m=$(peak_rss_kib "${ruff_cmd[@]}")
  rows+=("$(python3 - "$label" "$files" "$lines" "$cd_t" "$ruff_t" "$cd_m" "$ruff_m" <<'PY'
import sys
label, files, lines, cd_t, ruff_t, cd_m, ruff_m = sys.argv[1:]
cd_t, ruff_t, cd_m, ruff_m = float(cd_t), float(ruff_t), int(cd_m), int(ruff_m)
print(f"| {label} | {int(files):,} | {int(lines):,} | {cd_t * 1000:.0f} ms | {ruff_t * 1000:.0f} ms "
      f"| {cd_t / ruff_t:.2f}x | {cd_m / 1024:.1f} MiB | {ruff_m / 1024:.1f} MiB | {cd_m / ruff_m:.2f}x |")
PY
)")
}

measure_tree real "$REAL" "$real_files" "$real_lines"
measure_tree generated "$GEN" "$gen_files" "$gen_lines"

{
  echo "# celery-doctor lint benchmark"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
  echo "- celery-doctor: \`lint TREE --format json --output /dev/null --exit-zero\` (all default rules), $("$BIN" --version 2>/dev/null || echo '?')"
  echo "- ruff: \`check --no-cache --select E9,F63,F7,F82 --exit-zero --output-format json TREE\`, $("$RUFF" --version)"
  echo "- timing: $([[ $HAVE_HYPERFINE == 1 ]] && echo "hyperfine $(hyperfine --version | cut -d' ' -f2)" || echo 'python perf_counter loop'), median of $RUNS runs after 1 warm-up; peak RSS: max of 3 runs ($([[ $HAVE_GNU_TIME == 1 ]] && echo '/usr/bin/time -f %M' || echo 'getrusage(RUSAGE_CHILDREN)'))"
  echo "- real corpus: ${REAL_PINS[*]}"
  echo "- generated corpus: scripts/gen_corpus.py ${GEN_ARGS[*]}"
  echo
  echo "| tree | files | lines | celery-doctor | ruff | time ratio | celery-doctor RSS | ruff RSS | RSS ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} >"$BENCH/results.md"

echo
cat "$BENCH/results.md"
echo
echo "written to target/bench/results.md"
