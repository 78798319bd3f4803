#!/usr/bin/env bash
# 0800-lint-deploy: `make lint-deploy` (deploy/lint.sh) passes on the repository's deployment
# files, and fails - naming the problem - on copies with one mistake each: a misspelt field in
# the dispatcher Deployment, an unknown field in the KEDA ScaledObject, an unknown compose key,
# a Dockerfile running as root, a COPY of a folder .dockerignore leaves out.
# Exit 77 (skipped) only when the linters cannot be installed (see deploy/lint.sh).
source "$(dirname "$0")/lib.sh"
SRC=${HOOKLINE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

rc=0
bash "$SRC/deploy/lint.sh" >"$T/lint.out" 2>&1 || rc=$?
[ "$rc" -eq 77 ] && { cat "$T/lint.out"; exit 77; }
[ "$rc" -eq 0 ] || { cat "$T/lint.out" >&2; fail "lint-deploy fails on the repository"; }
grep -q 'ok: deploy/k8s/overlays/example renders and validates' "$T/lint.out" || fail "overlay not validated"
grep -q 'ok: docker-compose.yml validates' "$T/lint.out" || fail "compose not validated"
pass "the repository's manifests, compose file and Dockerfile validate"

# mutate NAME PART FILE PYTHON-EXPR WANT: copy the tree, apply s = EXPR(s) to FILE, expect
# `lint.sh PART` to fail with WANT in its output
mutate() {
  local name=$1 part=$2 file=$3 expr=$4 want=$5 copy=$T/$1
  mkdir -p "$copy"
  (cd "$SRC" && cp -r CMakeLists.txt cmake common producer dispatcher admin deploy docker-compose.yml \
    .dockerignore "$copy"/)
  python3 - "$copy/$file" "$expr" <<'PY'
import sys
p, expr = sys.argv[1], sys.argv[2]
s = open(p).read()
t = eval(expr)
assert t != s, "mutation changed nothing"
open(p, "w").write(t)
PY
  if bash "$copy/deploy/lint.sh" "$part" >"$copy.out" 2>&1; then
    fail "$name: lint-deploy passed"
  fi
  grep -q -- "$want" "$copy.out" || { cat "$copy.out" >&2; fail "$name: output does not say '$want'"; }
  pass "$name: rejected ($want)"
}
mutate probe k8s deploy/k8s/base/dispatcher.yaml 's.replace("readinessProbe:", "readinesProbe:")' 'readinesProbe'
mutate keda k8s deploy/k8s/components/keda/scaledobject.yaml 's.replace("lagThreshold:", "lagTreshold:", 1)' 'lagTreshold'
mutate compose compose docker-compose.yml 's.replace("stop_grace_period:", "stop_grace_periods:")' 'stop_grace_periods'
mutate root dockerfile deploy/docker/Dockerfile 's.replace("USER 10001:10001", "USER root")' 'non-root USER'
mutate context dockerfile .dockerignore 's.replace("!admin/\n", "")' 'COPY admin: excluded by .dockerignore'
