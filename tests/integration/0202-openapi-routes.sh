#!/usr/bin/env bash
# 0202-openapi-routes: the admin server's route table (`hookline-admin routes`) and the paths and
# methods of docs/openapi.yaml are the same set, and the spec is valid OpenAPI 3.1 where a
# validator is installed.  A route added to the server without its spec entry (or the reverse)
# fails here.
. "$(dirname "$0")/lib.sh"
SPEC=${HOOKLINE_SOURCE_DIR:-.}/docs/openapi.yaml
"$BIN/hookline-admin" routes | sort >"$T/server"
[ -s "$T/server" ] || fail "no routes printed"
python3 - "$SPEC" >"$T/spec.unsorted" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
try:
    import yaml
    spec = yaml.safe_load(text)
    assert spec["openapi"].startswith("3.1"), "not OpenAPI 3.1"
    for path, item in spec["paths"].items():
        for m in item:
            if m in methods:
                print(m.upper(), path)
except ImportError:  # no PyYAML: the spec keeps paths at 2 spaces and methods at 4 under `paths:`
    body = text.split("\npaths:\n", 1)[1].split("\ncomponents:\n", 1)[0]
    path = None
    for line in body.splitlines():
        m = re.match(r"^  (/\S*):\s*$", line)
        if m:
            path = m.group(1)
            continue
        m = re.match(r"^    ([a-z]+):", line)
        if m and m.group(1) in methods and path:
            print(m.group(1).upper(), path)
PY
sort "$T/spec.unsorted" >"$T/spec"
[ "$(wc -l <"$T/spec")" -ge 10 ] || fail "spec parsed to $(wc -l <"$T/spec") operations"
if ! diff "$T/server" "$T/spec" >"$T/diff"; then
  cat "$T/diff" >&2
  fail "server routes (<) and docs/openapi.yaml (>) differ"
fi
pass "$(wc -l <"$T/server") routes match the spec"
for py in python3 $(compgen -c python3. | grep -E '^python3\.[0-9]+$' | sort -u); do
  if "$py" -c 'import openapi_spec_validator' 2>/dev/null; then
    "$py" -m openapi_spec_validator "$SPEC" >"$T/valid" 2>&1 || fail "invalid spec: $(cat "$T/valid")"
    pass "spec valid ($(cat "$T/valid"))"
    exit 0
  fi
done
echo "note: openapi-spec-validator not installed; spec validity not checked"
