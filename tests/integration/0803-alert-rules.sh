#!/usr/bin/env bash
# 0803-alert-rules: the Prometheus alert rules of docs/operations.md (the YAML block after
# <!-- alert-rules -->) parse as YAML and PromQL (promql-parser, installed by deploy/lint.sh),
# and every hookline_* metric they use is served on /metrics by a running dispatcher or
# `hookline-admin serve`; every label value they match on a hookline_* metric is one that
# docs/dispatcher.md or docs/breaker.md lists for that metric.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"
SRC=${HOOKLINE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
rc=0
PY=$(bash "$SRC/deploy/lint.sh" python 2>"$T/venv.log") || rc=$?
[ "$rc" -eq 77 ] && { cat "$T/venv.log"; exit 77; }
[ "$rc" -eq 0 ] || { cat "$T/venv.log" >&2; fail "cannot set up the lint tools"; }

dispatcher_start d -o http.listen=127.0.0.1:0
DP=$(grep -o 'http listening on [0-9.]*:[0-9]*' "$T/d.log" | head -1 | sed 's/.*://')
[ -n "$DP" ] || fail "no dispatcher http port in the log"
HOOKLINE_ADMIN_TOKENS=t "$BIN/hookline-admin" -o http.listen=127.0.0.1:0 -o "topics.prefix=$PREFIX" serve >"$T/admin.log" 2>&1 &
HL_PIDS+=($!)
wait_until 20 grep -q 'admin api listening on' "$T/admin.log" || fail "admin did not start"
AP=$(sed -n 's/.*admin api listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/admin.log")
curl -fsS -o /dev/null "http://127.0.0.1:$AP/healthz" # one request, so the request metrics exist
{ curl -fsS "http://127.0.0.1:$DP/metrics"; curl -fsS "http://127.0.0.1:$AP/metrics"; } >"$T/metrics" ||
  fail "cannot read /metrics"

"$PY" - "$SRC/docs/operations.md" "$T/metrics" "$SRC/docs/dispatcher.md" "$SRC/docs/breaker.md" <<'PY' || fail "see above"
import re, sys, yaml, promql_parser
doc, metrics = (open(p).read() for p in sys.argv[1:3])
ddoc = "\n".join(open(p).read() for p in sys.argv[3:])
m = re.search(r"<!-- alert-rules -->\n```yaml\n(.*?)\n```", doc, re.S)
if not m:
    sys.exit("docs/operations.md: no alert-rules block")
rules = [r for g in yaml.safe_load(m.group(1))["groups"] for r in g["rules"]]
families = set(re.findall(r"^# TYPE (\S+)", metrics, re.M))
row = lambda name: " ".join(l for l in ddoc.splitlines() if l.startswith("| `%s`" % name))
def documented(name, v):  # `hookline.endpoint.failing` / `.recovered` lists the rest by suffix
    r = row(name)
    return "`%s`" % v in r or ("." in v and "`.%s`" % v.rsplit(".", 1)[1] in r)
errs = []
for r in rules:
    expr = r["expr"]
    try:
        promql_parser.parse(expr)
    except Exception as e:
        errs.append("%s: PromQL does not parse: %s" % (r["alert"], e))
    for name in set(re.findall(r"\b(hookline_[a-z_]+)", expr)):
        fam = re.sub(r"_(bucket|sum|count)$", "", name) if name not in families else name
        if fam not in families:
            errs.append("%s: %s is not served on /metrics" % (r["alert"], name))
    for name, sel in re.findall(r"\b(hookline_[a-z_]+)\{([^}]*)\}", expr):
        for label, op, vals in re.findall(r'(\w+)\s*(=~|=)\s*"([^"]*)"', sel):
            for v in vals.split("|") if op == "=~" else [vals]:
                if op == "=~" and re.search(r"[.*+?\[\]()]", v):
                    continue  # a pattern (code=~"5.."), not a value
                if not documented(name, v):
                    errs.append("%s: %s{%s=%r} is not a documented value" % (r["alert"], name, label, v))
print("\n".join(errs) or "%d rules parse; their metrics exist" % len(rules))
sys.exit(1 if errs else 0)
PY
pass "alert rules: YAML and PromQL parse, metrics and label values exist"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "dispatcher exit $rc"
