#!/usr/bin/env bash
# Precision run (not a test): lint pinned releases of real Celery users and
# leave every finding in target/real-world/ for a human to read.
#   target/real-world/<name>.json        findings (--format json)
#   target/real-world/<name>.txt         findings (--format text --no-color)
#   target/real-world/<name>.stats.txt   --statistics output
#   target/real-world/summary.md         per-project counts
# The wheels (which hold the full Python source) are cached under
# target/real-world/downloads and unpacked under target/real-world/src.
#
#   bash scripts/real-world.sh               # fetch, build, lint
#   bash scripts/real-world.sh --fetch-only  # download + unpack only
# Environment: CELERY_DOCTOR_BIN (skip the cargo build and use this binary).
# Exit status: 0 when every run exited 0; 1 when celery-doctor exited 2
# (error) or crashed on any project.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

PROJECTS=(
  weblate==5.14.3
  pretix==2026.8.0
  apache-superset==6.1.0
)

OUT=$ROOT/target/real-world
DL=$OUT/downloads
SRC=$OUT/src

FETCH_ONLY=0
case "${1:-}" in
  --fetch-only) FETCH_ONLY=1 ;;
  "") ;;
  *) echo "usage: bash scripts/real-world.sh [--fetch-only]" >&2; exit 2 ;;
esac

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'real-world: error: %s\n' "$*" >&2; exit 1; }
mkdir -p "$DL" "$SRC"

# --- fetch + unpack ---------------------------------------------------------------
names=()
for pin in "${PROJECTS[@]}"; do
  name=${pin%%==*}
  names+=("$name")
  dest=$SRC/$name
  if [[ -f "$dest/.pin" && "$(cat "$dest/.pin")" == "$pin" ]]; then
    echo "fetch: $pin (cached)"
    continue
  fi
  log "downloading $pin"
  start=$(date +%s)
  rm -rf "${DL:?}/${name:?}"
  mkdir -p "$DL/$name"
  # Wheels: every project publishes a py3-none-any wheel, much faster to get
  # than building from an sdist. Fall back to the sdist if that ever changes.
  python3 -m pip download --disable-pip-version-check -q --no-deps --only-binary :all: \
    -d "$DL/$name" "$pin" \
    || python3 -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: \
         -d "$DL/$name" "$pin"
  echo "downloaded $(du -sh "$DL/$name" | cut -f1) in $(( $(date +%s) - start ))s"
  python3 - "$DL/$name" "$dest.tmp" <<'PY'
import os, shutil, sys, tarfile, zipfile
src, dst = sys.argv[1], sys.argv[2]
shutil.rmtree(dst, ignore_errors=True)
os.makedirs(dst)
for name in sorted(os.listdir(src)):
    path = os.path.join(src, name)
    if name.endswith(".whl") or name.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            zf.extractall(dst)
    elif name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path) as tf:
            tf.extractall(dst, filter="data")
PY
  printf '%s\n' "$pin" >"$dest.tmp/.pin"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
done

py_stats() { # DIR -> "FILES LINES"
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

if [[ $FETCH_ONLY == 1 ]]; then
  for name in "${names[@]}"; do
    read -r files lines < <(py_stats "$SRC/$name")
    echo "$name: $files .py files, $lines lines ($SRC/$name)"
  done
  echo "fetch-only: done"
  exit 0
fi

# --- build ----------------------------------------------------------------------------
if [[ -n "${CELERY_DOCTOR_BIN:-}" ]]; then
  BIN=$CELERY_DOCTOR_BIN
else
  log "cargo build --release --locked"
  cargo build --release --locked
  BIN=$ROOT/target/release/celery-doctor
fi
[[ -x "$BIN" ]] || die "$BIN not found"

describe_rc() { # RC -> text
  local rc=$1
  if (( rc == 0 )); then echo "ok"
  elif (( rc == 1 )); then echo "exit 1 (findings despite --exit-zero)"
  elif (( rc == 2 )); then echo "ERROR (exit 2)"
  elif (( rc > 128 )); then echo "CRASH (signal $(( rc - 128 )), $(kill -l $(( rc - 128 )) 2>/dev/null || echo '?'))"
  else echo "CRASH (exit $rc)"
  fi
}

bad=0
summary=()
for name in "${names[@]}"; do
  dir=$SRC/$name
  pin=$(cat "$dir/.pin")
  read -r files lines < <(py_stats "$dir")
  log "$pin: $files .py files, $lines lines"

  rc_json=0 rc_text=0 rc_stats=0
  rm -f "$OUT/$name".{json,txt,stats.txt} "$OUT/$name".*.stderr
  start=$(date +%s.%N)
  "$BIN" lint "$dir" --format json --output "$OUT/$name.json" --exit-zero \
    2>"$OUT/$name.json.stderr" || rc_json=$?
  secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)")
  "$BIN" lint "$dir" --format text --no-color --output "$OUT/$name.txt" --exit-zero \
    2>"$OUT/$name.txt.stderr" || rc_text=$?
  "$BIN" lint "$dir" --statistics --no-color --exit-zero \
    >"$OUT/$name.stats.txt" 2>"$OUT/$name.stats.stderr" || rc_stats=$?

  status="json: $(describe_rc $rc_json), text: $(describe_rc $rc_text), statistics: $(describe_rc $rc_stats)"
  echo "run: $status (json run ${secs}s)"
  for f in "$OUT/$name.json.stderr" "$OUT/$name.txt.stderr" "$OUT/$name.stats.stderr"; do
    if [[ -s "$f" ]]; then
      echo "stderr of $(basename "${f%.stderr}") run (first 20 lines):"
      head -n 20 "$f" | sed 's/^/  /'
    fi
  done
  if (( rc_json != 0 || rc_text != 0 || rc_stats != 0 )); then bad=1; fi

  echo "--statistics:"
  sed 's/^/  /' "$OUT/$name.stats.txt"

  counts=$(python3 - "$OUT/$name.json" "$dir" <<'PY'
import collections, json, sys
path, root = sys.argv[1], sys.argv[2]
try:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
except (OSError, ValueError) as exc:
    print(f"  (no readable JSON: {exc})")
    print("TOTAL ?")
    sys.exit(0)
if isinstance(data, dict):  # tolerate a wrapper object
    for key in ("findings", "diagnostics", "results"):
        if isinstance(data.get(key), list):
            data = data[key]
            break
findings = data if isinstance(data, list) else []
by_code = collections.Counter(str(f.get("code", "?")) for f in findings if isinstance(f, dict))
files = collections.Counter()
for f in findings:
    if isinstance(f, dict):
        p = f.get("filename") or f.get("path") or f.get("file") or ""
        files[str(p).replace(root + "/", "")] += 1
for code, n in sorted(by_code.items()):
    print(f"  {code:<10} {n}")
if files:
    print("  top files: " + ", ".join(f"{p} ({n})" for p, n in files.most_common(5)))
print(f"TOTAL {len(findings)} " + ", ".join(f"{c}={n}" for c, n in sorted(by_code.items())))
PY
)
  echo "findings per rule:"
  grep -v '^TOTAL ' <<<"$counts" || true
  total_line=$(grep '^TOTAL ' <<<"$counts" | cut -d' ' -f2-)
  echo "total: ${total_line%% *}"
  echo "read: target/real-world/$name.txt"
  find "$OUT" -maxdepth 1 -name "$name.*.stderr" -empty -delete
  summary+=("| $pin | $files | $lines | ${total_line%% *} | ${total_line#* } | $(describe_rc $rc_json) | ${secs}s |")
done

{
  echo "# celery-doctor real-world run"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), $("$BIN" --version 2>/dev/null || echo '?'), commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
  echo
  echo "| project | .py files | lines | findings | per rule | status | time |"
  echo "|---|---:|---:|---:|---|---|---:|"
  printf '%s\n' "${summary[@]}"
} >"$OUT/summary.md"

echo
cat "$OUT/summary.md"
if (( bad )); then
  echo
  echo "real-world: celery-doctor failed (exit 2 or crash) on at least one project; see above" >&2
  exit 1
fi
