#!/usr/bin/env bash
# The test command of celery-doctor: `bash scripts/test.sh`.
#
# Idempotent and works on a fresh clone. Steps:
#   1. Python venv at .venv/ with Celery 5.7 (tests run real Celery through
#      $CELERY_DOCTOR_PYTHON) and jsonschema (SARIF schema check below).
#   2. Microsoft's SARIF Multitool from npm (tools/package.json, pinned).
#   3. cargo nextest run --locked (cargo test --locked when nextest is absent).
#   4. cargo build --release --locked, then lint the fixtures to SARIF and
#      validate every SARIF file: against the SARIF 2.1.0 JSON schema shipped
#      with the Multitool, and with `Sarif.Multitool validate --rule-kind
#      "Sarif;Gh"`. Any schema error or any result in the Multitool's
#      validation log fails the run.
#
# Only the SARIF validation, on files you name (nothing is built):
#   bash scripts/test.sh --validate-sarif FILE.sarif...
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

CELERY_SPEC='celery[redis,msgpack,yaml]==5.7.*'
JSONSCHEMA_SPEC='jsonschema==4.26.0'
PRECOMMIT_SPEC='pre-commit==4.7.0'

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'test.sh: error: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/celery-doctor-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --------------------------------------------------------------------------
# 1. Python venv
# --------------------------------------------------------------------------
venv_ok() {
  [[ -x .venv/bin/python ]] && .venv/bin/python - <<'PY' >/dev/null 2>&1
import sys
import celery, jsonschema, redis, msgpack, yaml, pre_commit  # noqa: F401
sys.exit(0 if celery.__version__.startswith("5.7.") else 1)
PY
}

ensure_venv() {
  if venv_ok; then
    echo "venv: .venv ok ($(.venv/bin/python -c 'import celery; print("celery", celery.__version__)'))"
    return
  fi
  if [[ ! -x .venv/bin/python ]]; then
    log "creating .venv"
    command -v python3 >/dev/null || die "python3 not found"
    python3 -m venv .venv
  fi
  log "installing $CELERY_SPEC $JSONSCHEMA_SPEC into .venv"
  .venv/bin/python -m pip install --disable-pip-version-check -q "$CELERY_SPEC" "$JSONSCHEMA_SPEC" "$PRECOMMIT_SPEC"
  venv_ok || die ".venv still lacks celery 5.7 / jsonschema after pip install"
  echo "venv: $(.venv/bin/python -c 'import celery; print("celery", celery.__version__)')"
}

# --------------------------------------------------------------------------
# 2. SARIF Multitool (npm package @microsoft/sarif-multitool, a .NET
#    single-file executable in @microsoft/sarif-multitool-<platform>)
# --------------------------------------------------------------------------
MULTITOOL=
pinned_multitool_version() {
  node -p "require('./tools/package.json').devDependencies['@microsoft/sarif-multitool']"
}
installed_multitool_version() {
  node -p "require('./tools/node_modules/@microsoft/sarif-multitool/package.json').version" 2>/dev/null || true
}

ensure_multitool() {
  command -v node >/dev/null || die "node not found (needed for the SARIF Multitool)"
  local want have
  want=$(pinned_multitool_version)
  have=$(installed_multitool_version)
  if [[ -e tools/node_modules/.bin/sarif-multitool && "$have" == "$want" ]]; then
    echo "multitool: tools/node_modules has @microsoft/sarif-multitool $have"
  else
    log "installing @microsoft/sarif-multitool $want into tools/node_modules"
    command -v npm >/dev/null || die "npm not found"
    # --ignore-scripts: the only install script is `chmod u+x Sarif.Multitool`,
    # done below; npm 11 skips unapproved install scripts anyway.
    if [[ -f tools/package-lock.json ]]; then
      npm ci --prefix tools --no-audit --no-fund --ignore-scripts
    else
      npm install --prefix tools --no-audit --no-fund --ignore-scripts
    fi
  fi
  # Call the native binary, not node_modules/.bin/sarif-multitool: that
  # wrapper spawns it with `shell: true`, so `--rule-kind "Sarif;Gh"` would be
  # split by /bin/sh at the ';'.
  MULTITOOL=$(cd tools && node -p "require('@microsoft/sarif-multitool')")
  [[ -f "$MULTITOOL" ]] || die "SARIF Multitool binary not found at $MULTITOOL"
  [[ -x "$MULTITOOL" ]] || chmod u+x "$MULTITOOL"
  # .NET needs libicu unless globalization-invariant mode is on; validation
  # does not depend on culture data, so always run invariant (works with or
  # without libicu installed).
  export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
  export DOTNET_CLI_TELEMETRY_OPTOUT=1
  local version
  version=$("$MULTITOOL" --version 2>&1) || die "SARIF Multitool does not run here: $version"
  echo "multitool: $version"
}

# --------------------------------------------------------------------------
# SARIF validation
# --------------------------------------------------------------------------
# validate_sarif FILE... : returns non-zero when any file fails.
validate_sarif() {
  local schema failed=0 f out
  schema="$(dirname "$MULTITOOL")/sarif-2.1.0.json"
  [[ -f "$schema" ]] || die "SARIF schema not found at $schema"
  for f in "$@"; do
    echo "sarif: validating $f"
    [[ -s "$f" ]] || { echo "  FAIL: $f is missing or empty"; failed=1; continue; }

    # (a) JSON schema. The Multitool checks the schema too, but silently
    # drops a whole file on some violations (e.g. an unknown `level` value
    # gives zero results), so check independently.
    if ! .venv/bin/python - "$schema" "$f" <<'PY'
import json, sys
from jsonschema import Draft202012Validator
schema_path, path = sys.argv[1], sys.argv[2]
with open(schema_path, encoding="utf-8-sig") as fh:
    validator = Draft202012Validator(json.load(fh))
try:
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
except ValueError as exc:
    print(f"  schema: not valid JSON: {exc}")
    sys.exit(1)
errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
for e in errors[:50]:
    loc = "/" + "/".join(map(str, e.absolute_path))
    print(f"  schema: {loc}: {e.message[:300]}")
if len(errors) > 50:
    print(f"  schema: ... and {len(errors) - 50} more")
sys.exit(1 if errors else 0)
PY
    then
      echo "  FAIL: does not match the SARIF 2.1.0 schema"
      failed=1
    else
      echo "  ok: matches the SARIF 2.1.0 schema"
    fi

    # (b) Multitool: SARIF rules + GitHub code-scanning rules. It exits 0
    # even when it finds problems; what counts is its own SARIF log.
    # The file must come before the list-valued options (--log would
    # otherwise take it as a value).
    out="$tmp/validation-$(basename "$f").sarif"
    if ! "$MULTITOOL" validate "$f" --rule-kind "Sarif;Gh" --log ForceOverwrite \
         --output "$out" >"$tmp/multitool.log" 2>&1; then
      cat "$tmp/multitool.log"
      echo "  FAIL: Sarif.Multitool validate exited non-zero"
      failed=1
      continue
    fi
    local vrc=0
    python3 - "$out" <<'PY' || vrc=$?
import json, re, sys
with open(sys.argv[1], encoding="utf-8-sig") as fh:
    log = json.load(fh)
count = 0
for run in log.get("runs", []):
    rules = (run.get("tool", {}).get("driver", {}).get("rules")) or []
    by_id = {r.get("id"): r for r in rules}
    for r in run.get("results") or []:
        count += 1
        rule = rules[r["ruleIndex"]] if isinstance(r.get("ruleIndex"), int) and r["ruleIndex"] < len(rules) else by_id.get(r.get("ruleId"), {})
        msg = r.get("message", {})
        text = msg.get("text")
        if text is None:
            template = (rule.get("messageStrings", {}).get(msg.get("id"), {}) or {}).get("text")
            args = msg.get("arguments") or []
            if template:
                text = re.sub(r"\{(\d+)\}", lambda m: str(args[int(m.group(1))]) if int(m.group(1)) < len(args) else m.group(0), template)
            else:
                text = f"{msg.get('id')} {args}"
        where = ""
        for loc in r.get("locations") or []:
            reg = loc.get("physicalLocation", {}).get("region", {})
            where = f" at {reg.get('startLine', '?')}:{reg.get('startColumn', '?')}"
            break
        level = r.get("level") or rule.get("defaultConfiguration", {}).get("level", "warning")
        print(f"  {r.get('ruleId')}/{rule.get('name', '?')} [{level}]{where}: {text[:500]}")
    for inv in run.get("invocations") or []:
        if inv.get("executionSuccessful") is False:
            count += 1
            print("  multitool: executionSuccessful=false")
        for n in (inv.get("toolExecutionNotifications") or []) + (inv.get("toolConfigurationNotifications") or []):
            if n.get("level", "warning") == "error":
                count += 1
                print(f"  multitool notification: {n.get('message', {}).get('text', '')[:500]}")
if count:
    print(f"  FAIL: Sarif.Multitool reported {count} problem(s)")
sys.exit(1 if count else 0)
PY
    case $vrc in
      0) echo "  ok: 0 Multitool results" ;;
      1) failed=1 ;;
      *) cat "$tmp/multitool.log"
         echo "  FAIL: could not read the Multitool's validation log $out"
         failed=1 ;;
    esac
  done
  return "$failed"
}

if [[ "${1:-}" == "--validate-sarif" ]]; then
  shift
  [[ $# -gt 0 ]] || die "usage: bash scripts/test.sh --validate-sarif FILE..."
  files=()
  for f in "$@"; do
    case "$f" in /*) files+=("$f") ;; *) files+=("$OLDPWD/$f") ;; esac
  done
  ensure_venv
  ensure_multitool
  validate_sarif "${files[@]}"
  exit $?
fi
[[ $# -eq 0 ]] || die "unexpected arguments: $* (only --validate-sarif FILE... is accepted)"

# --------------------------------------------------------------------------
# Main run
# --------------------------------------------------------------------------
SECONDS=0
log "environment"
bash scripts/services.sh
ensure_venv
export CELERY_DOCTOR_PYTHON="$ROOT/.venv/bin/python"
ensure_multitool
export INSTA_UPDATE=no
export CI="${CI:-}"

log "format and lints"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings

log "tests"
# The live diagnose test writes its SARIF here; validated below with the lint SARIF files.
rm -f target/tmp/diagnose.sarif
t0=$SECONDS
if cargo nextest --version >/dev/null 2>&1; then
  runner="cargo nextest run"
  cargo nextest run --locked --no-tests=fail
else
  runner="cargo test"
  cargo test --locked
fi
t_tests=$(( SECONDS - t0 ))

log "release build"
cargo build --release --locked
BIN="$ROOT/target/release/celery-doctor"
[[ -x "$BIN" ]] || die "$BIN was not built"

log "SARIF output validation"
sarif_files=()
lint_to_sarif() { # NAME PATH
  local name=$1 path=$2 rc=0
  [[ -e "$path" ]] || die "$path does not exist (needed for SARIF validation)"
  "$BIN" lint "$path" --format sarif --output "$tmp/$name.sarif" --exit-zero || rc=$?
  [[ $rc -eq 0 ]] || die "celery-doctor lint $path --format sarif --exit-zero exited $rc"
  sarif_files+=("$tmp/$name.sarif")
}
lint_to_sarif fixtures fixtures
lint_to_sarif shop fixtures/projects/shop
# Custom rules (fixtures/custom/.celery-doctor/rules): SARIF tool.extensions.
lint_to_sarif custom fixtures/custom
# diagnose --format sarif, written by the live test that routes to unconsumed queues.
[[ -s target/tmp/diagnose.sarif ]] || die "target/tmp/diagnose.sarif missing: the live diagnose SARIF test did not run"
sarif_files+=("$ROOT/target/tmp/diagnose.sarif")
validate_sarif "${sarif_files[@]}" || die "SARIF validation failed"

log "pre-commit manifest"
.venv/bin/pre-commit validate-manifest .pre-commit-hooks.yaml || die ".pre-commit-hooks.yaml is not a valid pre-commit manifest"
echo "pre-commit: .pre-commit-hooks.yaml valid"

log "summary"
echo "tests:      passed ($runner, ${t_tests}s)"
echo "release:    $BIN"
echo "sarif:      ${#sarif_files[@]} file(s) valid (JSON schema + Sarif.Multitool rules Sarif;Gh)"
echo "total time: ${SECONDS}s"
