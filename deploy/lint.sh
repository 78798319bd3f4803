#!/usr/bin/env bash
# lint.sh - validate the deployment files offline (`make lint-deploy`, ctest 0800):
#   - every kustomization under deploy/k8s (base, components through the overlays, overlays)
#     renders with kustomize, and every rendered object validates: built-in kinds against the
#     Kubernetes JSON schemas bundled by the `kubernetes-validate` package (strict: unknown
#     fields fail), custom resources (KEDA, ServiceMonitor) against deploy/schemas/;
#   - docker-compose.yml against the compose-spec schema bundled by `check-jsonschema`;
#   - deploy/docker/Dockerfile parses (Docker's own parser, the `dockerfile` package) and keeps
#     its rules: multi-stage, slim run stage, non-root USER, HEALTHCHECK, OCI labels, and every
#     COPY source inside the build context that .dockerignore lets through.
# The tools are installed on first use, pinned, into a cached virtualenv (like bootstrap.sh's
# Kafka jars); kustomize is `kubectl kustomize` when kubectl has it, else built once from the Go
# module proxy. When neither Python's venv nor kustomize can be had, it says why and exits 77
# (ctest: skipped).
#
#   bash deploy/lint.sh            lint everything
#   bash deploy/lint.sh k8s|compose|dockerfile   one part
#   bash deploy/lint.sh render DIR print the kustomize output of DIR (used by test 0801)
#   bash deploy/lint.sh python     print the path of the tools' Python (PyYAML, promql_parser)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${HOOKLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hookline}
PY_PINS="check-jsonschema==0.39.0 kubernetes-validate==1.37.0 dockerfile==3.4.0 PyYAML==6.0.3 promql-parser==0.11.0"
KUSTOMIZE_VERSION=v5.5.0
K8S_VERSION=1.30.0 # the oldest Kubernetes the manifests target
VENV=$CACHE/lint-venv-$(printf '%s' "$PY_PINS" | cksum | cut -d' ' -f1)
SKIP=77

say() { printf 'lint-deploy: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}
skip() {
  say "SKIPPED: $*"
  exit $SKIP
}

# The Python tools, in a virtualenv named after the pins (a new pin gets a new one).
ensure_venv() {
  [ -f "$VENV/.complete" ] && return 0
  command -v python3 >/dev/null || skip "python3 not found (deploy/local/bootstrap.sh installs it)"
  mkdir -p "$CACHE"
  exec 8>"$CACHE/lint-venv.lock"
  flock -w 600 8 || die "another lint.sh holds $CACHE/lint-venv.lock"
  [ -f "$VENV/.complete" ] && return 0
  rm -rf "$VENV" # an incomplete one (no stamp)
  python3 -m venv "$VENV" >/dev/null 2>&1 ||
    skip "python3 -m venv failed (Debian: apt-get install python3-venv)"
  say "installing $PY_PINS into $VENV (once)"
  # shellcheck disable=SC2086 # one word per pin
  "$VENV/bin/pip" install -q --disable-pip-version-check $PY_PINS </dev/null >"$VENV/pip.log" 2>&1 || {
    tail -n 5 "$VENV/pip.log" >&2
    rm -rf "$VENV"
    skip "pip could not install the linters (no access to PyPI?)"
  }
  date -u +%FT%TZ >"$VENV/.complete"
}

# Sets KUSTOMIZE to a command array.
ensure_kustomize() {
  local gobin=$CACHE/go-bin-kustomize-$KUSTOMIZE_VERSION
  # HOOKLINE_LINT_KUSTOMIZE=go skips kubectl (to check the fallback).
  if [ "${HOOKLINE_LINT_KUSTOMIZE:-}" != go ] && command -v kubectl >/dev/null &&
    kubectl kustomize --help >/dev/null 2>&1; then
    KUSTOMIZE=(kubectl kustomize)
    return 0
  fi
  if [ ! -x "$gobin/kustomize" ]; then
    command -v go >/dev/null || skip "neither kubectl (with kustomize) nor go found: apt-get install golang-go"
    say "building kustomize $KUSTOMIZE_VERSION from the Go module proxy into $gobin (once)"
    mkdir -p "$gobin"
    GOBIN=$gobin GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" </dev/null >&2 ||
      skip "go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION failed"
  fi
  KUSTOMIZE=("$gobin/kustomize" build)
}

render() {
  ensure_kustomize
  "${KUSTOMIZE[@]}" "$1"
}

# validate_rendered NAME FILE: split the stream; built-in kinds to kubernetes-validate, custom
# ones to their schema in deploy/schemas.
validate_rendered() {
  local name=$1 file=$2 dir
  dir=$(mktemp -d)
  "$VENV/bin/python" - "$file" "$dir" "$ROOT/deploy/schemas" <<'PY' || { rm -rf "$dir"; return 1; }
import os, sys, yaml
src, out, schemas = sys.argv[1:4]
builtin = []
n = 0
for doc in yaml.safe_load_all(open(src)):
    if not doc:
        continue
    n += 1
    group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
    if "." in group and not group.endswith(".k8s.io"):
        schema = os.path.join(schemas, "%s_%s.json" % (doc["apiVersion"].replace("/", "_"), doc["kind"]))
        if not os.path.exists(schema):
            sys.exit("no schema for %s %s: add %s" % (doc["apiVersion"], doc["kind"], schema))
        path = os.path.join(out, "crd-%02d.yaml" % n)
        with open(path + ".schema", "w") as f:
            f.write(schema)
    else:
        path = os.path.join(out, "k8s-%02d.yaml" % n)
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)
print("%d objects" % n, file=sys.stderr)
PY
  local f ok=0 k8s=()
  for f in "$dir"/k8s-*.yaml; do [ -e "$f" ] && k8s+=("$f"); done
  # One run for all built-in objects (it names the file and object of each failure).
  if [ ${#k8s[@]} -gt 0 ] &&
    ! "$VENV/bin/kubernetes-validate" -k "$K8S_VERSION" --strict --quiet "${k8s[@]}" >"$dir/k8s.out" 2>&1; then
    say "$name: objects fail the Kubernetes $K8S_VERSION schemas:"
    cat "$dir/k8s.out" >&2
    ok=1
  fi
  for f in "$dir"/crd-*.yaml; do
    [ -e "$f" ] || continue
    "$VENV/bin/check-jsonschema" --schemafile "$(cat "$f.schema")" "$f" >"$f.out" 2>&1 || {
      say "$name: custom resource fails $(basename "$(cat "$f.schema")"):"
      cat "$f.out" >&2
      ok=1
    }
  done
  rm -rf "$dir"
  return $ok
}

lint_k8s() {
  local k dir out rc=0
  out=$(mktemp)
  # Base and overlays build; components only build through an overlay that uses them.
  while IFS= read -r k; do
    dir=$(dirname "$k")
    grep -q '^kind: Component' "$k" && continue
    if ! render "$dir" >"$out" 2>"$out.err"; then
      say "kustomize failed for ${dir#"$ROOT"/}:"
      cat "$out.err" >&2
      rc=1
      continue
    fi
    if validate_rendered "${dir#"$ROOT"/}" "$out"; then
      say "ok: ${dir#"$ROOT"/} renders and validates (Kubernetes $K8S_VERSION schemas, strict)"
    else
      rc=1
    fi
  done < <(find "$ROOT/deploy/k8s" -name kustomization.yaml | sort)
  rm -f "$out" "$out.err"
  return $rc
}

lint_compose() {
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$ROOT/docker-compose.yml" >&2 ||
    return 1
  say "ok: docker-compose.yml validates against the compose-spec schema"
}

lint_dockerfile() {
  "$VENV/bin/python" - "$ROOT" <<'PY' || return 1
import fnmatch, os, sys, dockerfile
root = sys.argv[1]
path = os.path.join(root, "deploy/docker/Dockerfile")
cmds = dockerfile.parse_file(path)
errs = []
stages = [i for i, c in enumerate(cmds) if c.cmd == "FROM"]
if len(stages) < 2:
    errs.append("not multi-stage (%d FROM)" % len(stages))
final = cmds[stages[-1]:] if stages else []
if final and "-slim" not in final[0].value[0]:
    errs.append("the run stage is not a -slim image: %s" % final[0].value[0])
users = [c.value[0] for c in final if c.cmd == "USER"]
if not users or users[-1].split(":")[0] in ("0", "root"):
    errs.append("the run stage does not switch to a non-root USER")
if not any(c.cmd == "HEALTHCHECK" for c in final):
    errs.append("no HEALTHCHECK in the run stage")
labels = " ".join(" ".join(c.value) for c in final if c.cmd == "LABEL")
for k in ("title", "description", "version", "revision"):
    if "org.opencontainers.image.%s" % k not in labels:
        errs.append("missing OCI label org.opencontainers.image.%s" % k)
for c in final:
    if c.cmd in ("RUN",) and "-dev" in c.value[0]:
        errs.append("the run stage installs -dev packages: %s" % c.value[0])
# COPY sources must exist and be let through by .dockerignore (its "*" then "!x" form).
allowed = []
for line in open(os.path.join(root, ".dockerignore")):
    line = line.strip()
    if line.startswith("!"):
        allowed.append(line[1:].rstrip("/"))
for c in cmds:
    if c.cmd != "COPY" or any(f.startswith("--from") for f in c.flags):
        continue
    for src in c.value[:-1]:
        src = src.rstrip("/")
        if not os.path.exists(os.path.join(root, src)):
            errs.append("COPY %s: no such file in the build context" % src)
        elif not any(src == a or src.startswith(a + "/") or fnmatch.fnmatch(src, a) for a in allowed):
            errs.append("COPY %s: excluded by .dockerignore" % src)
for e in errs:
    print("lint-deploy: Dockerfile: " + e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
  say "ok: deploy/docker/Dockerfile parses and keeps its rules"
}

main() {
  local rc=0
  case "${1:-lint}" in
  render)
    render "$2"
    return
    ;;
  python)
    ensure_venv
    echo "$VENV/bin/python"
    return
    ;;
  lint | k8s | compose | dockerfile) ;;
  *) die "usage: lint.sh [k8s | compose | dockerfile | render DIR | python]" ;;
  esac
  ensure_venv
  case "${1:-lint}" in
  k8s | lint) ensure_kustomize && { lint_k8s || rc=1; } ;;&
  compose | lint) lint_compose || rc=1 ;;&
  dockerfile | lint) lint_dockerfile || rc=1 ;;
  esac
  if [ $rc -eq 0 ]; then say "all deployment files valid"; else say "FAILED"; fi
  return $rc
}

main "$@"
