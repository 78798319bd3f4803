#!/usr/bin/env bash
# 0902-receiving-doc: the verification snippets of docs/receiving.md, extracted from the doc as
# written (so the doc cannot rot), verify real dispatcher deliveries and refuse altered ones:
# the Node server (official `standardwebhooks`) runs as a real endpoint; the Node, Python, Go
# (when Go is installed) and openssl snippets check every delivery recorded by the test
# receiver, the Standard Webhooks specification's vector, and tampered / wrong-secret / stale
# cases.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"
source "$(dirname "$0")/interop.sh"
SRC=${HOOKLINE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DOC=$SRC/docs/receiving.md
VECTORS=${HOOKLINE_TESTDATA:-$SRC/../shared/testdata}/standard-webhooks-vectors.json
interop_npm

# snippet NAME FILE: the fenced block after <!-- snippet: NAME --> in the doc
snippet() {
  python3 - "$DOC" "$1" >"$2" <<'PY' || fail "docs/receiving.md has no snippet $1"
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"<!-- snippet: %s -->\n```[a-z]*\n(.*?)\n```" % re.escape(sys.argv[2]), text, re.S)
if not m:
    sys.exit(1)
print(m.group(1))
PY
}
mkdir -p "$T/snip/go/webhooks"
snippet node-server "$T/snip/node-server.js"
snippet node-verify "$T/snip/node-verify.js"
snippet python-verify "$T/snip/python_verify.py"
snippet go-verify "$T/snip/go/webhooks/verify.go"
snippet openssl-verify "$T/snip/openssl-verify.sh"

# The doc's Node server as a real endpoint.
WEBHOOK_SECRET=$SECRET PORT=0 node "$T/snip/node-server.js" >"$T/ns.log" 2>&1 &
HL_PIDS+=($!)
wait_until 20 grep -q '^listening on ' "$T/ns.log" || { cat "$T/ns.log" >&2; fail "the doc's node server did not start"; }
NPORT=$(sed -n 's/^listening on //p' "$T/ns.log")
receiver_start r
ep_create "ep_doc$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/doc" '["*"]'
ep_create "ep_node$PREFIX" "$TENANT" "http://127.0.0.1:$NPORT/webhooks" '["*"]'
dispatcher_start d
for i in 1 2 3 4 5; do
  event "evt_doc$i" "$TENANT" "doc.check" "{\"i\":$i,\"s\":\"gr\\u00fc\\u00df \u00e9 \u2603\",\"n\":1.50}"
done | publish
node_ok() { [ "$(grep -c '^verified ' "$T/ns.log")" -ge 5 ]; }
wait_until 60 node_ok || { cat "$T/ns.log" >&2; fail "the doc's node server verified $(grep -c '^verified ' "$T/ns.log") of 5"; }
wait_until 30 test "$(rec_count r /doc 200)" -ge 5 || fail "the test receiver got $(rec_count r /doc 200) of 5"
grep -q rejected "$T/ns.log" && fail "the doc's node server rejected a real delivery: $(grep rejected "$T/ns.log")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'webhook-id: evt_doc1' -H "webhook-timestamp: $(date +%s)" \
  -H 'webhook-signature: v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' -d '{}' "http://127.0.0.1:$NPORT/webhooks")
[ "$code" = 400 ] || fail "the doc's node server answered $code to a forged request"
pass "the doc's Node server (standardwebhooks) verified 5 real deliveries and refused a forged one"

# Cases: each real delivery (want true), altered copies (want false), the spec's vector.
python3 - "$T/r.ndjson" "$SECRET" "$VECTORS" >"$T/cases.json" <<'PY'
import base64, json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.endswith("\n")]
secret = sys.argv[2]
other = "whsec_" + base64.b64encode(b"\x01" * 32).decode()
cases = []
def case(name, secrets, h, body, tol, want):
    cases.append({"name": name, "secrets": secrets, "headers": h, "body_b64": base64.b64encode(body).decode(),
                  "tolerance": tol, "want": want})
for r in recs:
    h = {k: r["headers"][k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    body = r["body"].encode()
    i = h["webhook-id"]
    case(i, [secret], h, body, 300, True)
    case(i + " rotation", [other, secret], h, body, 300, True)
    case(i + " wrong secret", [other], h, body, 300, False)
    case(i + " body changed", [secret], h, body.replace(b'"n":1.50', b'"n":1.5'), 300, False)
    case(i + " id changed", [secret], dict(h, **{"webhook-id": i + "0"}), body, 300, False)
    case(i + " stale", [secret], h, body, -1, False)  # tolerance below zero: any age is too old
v = json.load(open(sys.argv[3]))
for s in v["symmetric"]:
    h = {"webhook-id": s["msg_id"], "webhook-timestamp": str(s["timestamp"]), "webhook-signature": s["signature"]}
    case("spec vector", [s["secret"]], h, s["payload"].encode(), 10**10, True)
    case("spec vector, too old", [s["secret"]], h, s["payload"].encode(), 300, False)
    for bad in v["must_not_verify"]:
        case("spec must_not_verify " + bad, [s["secret"]], dict(h, **{"webhook-signature": bad}), s["payload"].encode(), 10**10, False)
print(json.dumps(cases))
PY
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/cases.json")
[ "$n" -ge 35 ] || fail "only $n cases"

# Node (the doc's verifyWebhook)
{ cat "$T/snip/node-verify.js"; echo 'module.exports = { verifyWebhook };'; } >"$T/snip/node-verify-mod.js"
node - "$T/snip/node-verify-mod.js" "$T/cases.json" <<'JS' || fail "node snippet: see above"
const { verifyWebhook } = require(process.argv[2]);
let bad = 0;
for (const c of JSON.parse(require("fs").readFileSync(process.argv[3], "utf8"))) {
  const got = verifyWebhook(c.secrets, c.headers, Buffer.from(c.body_b64, "base64"), c.tolerance);
  if (got !== c.want) { console.error(`node: ${c.name}: got ${got}, want ${c.want}`); bad++; }
}
process.exit(bad ? 1 : 0);
JS
pass "the doc's Node snippet: $n cases"

# Python (the doc's verify_webhook)
python3 - "$T/snip" "$T/cases.json" <<'PY' || fail "python snippet: see above"
import base64, json, sys
sys.path.insert(0, sys.argv[1])
from python_verify import verify_webhook
bad = 0
for c in json.load(open(sys.argv[2])):
    got = verify_webhook(c["secrets"], c["headers"], base64.b64decode(c["body_b64"]), c["tolerance"])
    if got != c["want"]:
        print("python: %s: got %s, want %s" % (c["name"], got, c["want"]), file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
PY
pass "the doc's Python snippet: $n cases"

# Go (the doc's Verify), when Go is installed
if command -v go >/dev/null; then
  cat >"$T/snip/go/go.mod" <<'GO'
module doccheck

go 1.19
GO
  cat >"$T/snip/go/main.go" <<'GO'
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"doccheck/webhooks"
)

type tcase struct {
	Name      string            `json:"name"`
	Secrets   []string          `json:"secrets"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body_b64"`
	Tolerance float64           `json:"tolerance"`
	Want      bool              `json:"want"`
}

func main() {
	var cases []tcase
	data, _ := os.ReadFile(os.Args[1])
	if err := json.Unmarshal(data, &cases); err != nil {
		panic(err)
	}
	bad := 0
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.Headers {
			h.Set(k, v)
		}
		body, _ := base64.StdEncoding.DecodeString(c.Body)
		tol := c.Tolerance
		if tol > 3.15e9 { // 10^10 s would overflow time.Duration: 100 years is as good
			tol = 3.15e9
		}
		if got := webhooks.Verify(c.Secrets, h, body, time.Duration(tol)*time.Second); got != c.Want {
			fmt.Fprintf(os.Stderr, "go: %s: got %v, want %v\n", c.Name, got, c.Want)
			bad++
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
}
GO
  (cd "$T/snip/go" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go run . "$T/cases.json") || fail "go snippet: see above"
  pass "the doc's Go snippet: $n cases"
else
  echo "go not installed: the Go snippet is not run"
fi

# openssl (the doc's shell lines), on the real deliveries and altered copies
python3 - "$T/cases.json" "$T/ossl" <<'PY'
import base64, json, os, sys
os.makedirs(sys.argv[2])
for i, c in enumerate(json.load(open(sys.argv[1]))):
    if c["tolerance"] != 300 or len(c["secrets"]) != 1 or c["name"].endswith("too old"):
        continue  # the shell lines check one secret and print the age instead of refusing
    d = os.path.join(sys.argv[2], "%03d" % i)
    os.makedirs(d)
    open(os.path.join(d, "body.bin"), "wb").write(base64.b64decode(c["body_b64"]))
    h = c["headers"]
    open(os.path.join(d, "env"), "w").write("\n".join([c["secrets"][0], h["webhook-id"], h["webhook-timestamp"],
                                                      h["webhook-signature"], "1" if c["want"] else "0", c["name"]]) + "\n")
PY
checked=0
for d in "$T"/ossl/*/; do
  { read -r SECRET_; read -r ID; read -r TS; read -r SIGS; read -r want; read -r name; } <"$d/env"
  rc=0
  out=$(cd "$d" && SECRET=$SECRET_ ID=$ID TS=$TS SIGS=$SIGS bash "$T/snip/openssl-verify.sh" 2>&1) || rc=$?
  if [ "$want" = 1 ]; then
    [ "$rc" -eq 0 ] && [[ "$out" == "signature ok"* ]] || fail "openssl: $name: refused: $out"
  else
    [ "$rc" -ne 0 ] && [[ "$out" == *"does NOT match"* ]] || fail "openssl: $name: accepted: $out"
  fi
  checked=$((checked + 1))
done
[ "$checked" -ge 20 ] || fail "openssl: only $checked cases"
pass "the doc's openssl lines: $checked cases (real deliveries accepted, altered ones refused)"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "dispatcher exit $rc"
