#!/usr/bin/env bash
# 0900-interop-verify: real dispatcher deliveries verify with the official Standard Webhooks
# verifier (npm `standardwebhooks`, pinned in tests/interop/package.json) in a Node receiver
# (tests/interop/node-receiver.js): every delivery, with non-ASCII and odd-number data, a retry
# (new timestamp, new signature), and during a secret rotation (both the old and the new secret
# verify). A delivery replayed with a changed body, a changed timestamp or a changed id is
# rejected by the same verifier.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"
source "$(dirname "$0")/interop.sh"
interop_npm

node "$INTEROP_SRC/node-receiver.js" --secret "$SECRET" --port-file "$T/n.port" --record "$T/n.ndjson" \
  --fail-first /retry --max-seconds 300 >"$T/n.log" 2>&1 &
HL_PIDS+=($!)
wait_until 20 test -s "$T/n.port" || { cat "$T/n.log" >&2; fail "node receiver did not start"; }
U=http://127.0.0.1:$(cat "$T/n.port")
ep_admin EP_A "$TENANT" "$U/a" '*'
ep_admin EP_R "$TENANT" "$U/retry" 'order.*'
dispatcher_start d

python3 - "$TENANT" >"$T/events.ndjson" <<'PY'
import json, sys
t = sys.argv[1]
datas = [{"n": 1}, {"name": "caf\u00e9 \u2615 \U0001F680", "city": "Z\u00fcrich"}, {"big": 12345678901234567890, "f": 0.1, "e": 1E3},
         [1, "two", None, True], "just a string", {"nested": {"a": [{"b": {"c": "\u00e9"}}]}}, {"quote": "say \"hi\"\\n"},
         {"empty": {}}, 42, None]
for i, d in enumerate(datas):
    print(json.dumps({"id": "evt_i%d" % i, "tenant": t, "type": "invoice.paid", "data": d}, ensure_ascii=(i % 2 == 0)))
for i in range(2):
    print(json.dumps({"id": "evt_o%d" % i, "tenant": t, "type": "order.created", "data": {"order": i}}))
PY
publish <"$T/events.ndjson"

delivered() { [ "$(python3 -c '
import json,sys
ok = {(r["path"], r["headers"]["webhook-id"]) for r in map(json.loads, open(sys.argv[1])) if r["status"] == 204}
print(len(ok))' "$T/n.ndjson" 2>/dev/null || echo 0)" -ge "$1" ]; }
wait_until 60 delivered 14 || fail "want 14 verified deliveries (12 on /a, 2 on /retry), see $T/n.ndjson"
sleep 1
python3 - "$T/n.ndjson" "$T/events.ndjson" <<'PY' || fail "see above"
import base64, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
evs = [json.loads(l) for l in open(sys.argv[2])]
errs = []
bad = [r for r in recs if not r["verified"]]
if bad: errs.append("%d deliveries failed verification: %s" % (len(bad), [r["error"] for r in bad]))
ids_a = sorted(r["headers"]["webhook-id"] for r in recs if r["path"] == "/a")
want_a = sorted(e["id"] for e in evs)
if ids_a != want_a: errs.append("/a got %s, want %s" % (ids_a, want_a))
retry = [r for r in recs if r["path"] == "/retry"]
if [r["status"] for r in retry].count(500) != 1 or len(retry) != 3:
    errs.append("/retry statuses %s, want one 500 and two 204" % [r["status"] for r in retry])
first = [r for r in retry if r["headers"]["webhook-id"] == retry[0]["headers"]["webhook-id"]]
if len(first) != 2 or first[0]["headers"]["webhook-signature"] == first[1]["headers"]["webhook-signature"]:
    errs.append("the retry was not re-signed: %s" % [r["headers"]["webhook-timestamp"] for r in first])
for r in recs:
    body = json.loads(base64.b64decode(r["body_b64"]))
    ev = next(e for e in evs if e["id"] == r["headers"]["webhook-id"])
    if body["data"] != ev["data"] or body["type"] != ev["type"]:
        errs.append("%s: delivered %s, published %s" % (ev["id"], body, ev))
print("\n".join(errs) or "all verified")
sys.exit(1 if errs else 0)
PY
pass "14 deliveries (non-ASCII, big numbers, a retry) verified by standardwebhooks 1.1.1"

# Tampering: replay a real delivery with one thing changed; the verifier must refuse each.
python3 - "$T/n.ndjson" "$T" <<'PY'
import base64, json, sys
r = next(json.loads(l) for l in open(sys.argv[1]) if '"path":"/a"' in l)
h = {k: r["headers"][k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")}
body = base64.b64decode(r["body_b64"])
assert body.endswith(b"}")
cases = {"body": (h, body[:-1] + b',"amount":1000000}'),
         "timestamp": (dict(h, **{"webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}), body),
         "id": (dict(h, **{"webhook-id": h["webhook-id"] + "x"}), body),
         "original": (h, body)}
for name, (hh, b) in cases.items():
    open("%s/tamper-%s.body" % (sys.argv[2], name), "wb").write(b)
    open("%s/tamper-%s.args" % (sys.argv[2], name), "w").write("\n".join("%s: %s" % kv for kv in hh.items()))
PY
for c in body timestamp id original; do
  args=()
  while IFS= read -r l; do args+=(-H "$l"); done <"$T/tamper-$c.args"
  code=$(curl -s -o /dev/null -w '%{http_code}' "${args[@]}" --data-binary "@$T/tamper-$c.body" "$U/tamper-$c")
  want=400
  [ "$c" = original ] && want=204
  [ "$code" = "$want" ] || fail "replay with changed $c: HTTP $code, want $want"
done
grep -q '"path":"/tamper-body".*"verified":false,"error":"No matching signature found"' "$T/n.ndjson" ||
  fail "the tampered body was not refused by the verifier"
pass "a delivery replayed with a changed body, timestamp or id is rejected; the untouched one verifies"

# Rotation: during the overlap a delivery carries both signatures; the receiver still holds
# only the old secret and verifies; the new secret verifies the same delivery too.
out=$(admin endpoint rotate-secret "$EP_A" -o json) || fail "rotate-secret failed"
NEW=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <<<"$out")
[ "$NEW" != "$SECRET" ] && [ "${NEW#whsec_}" != "$NEW" ] || fail "no new secret: $out"
sleep 2 # hl:changes reaches the dispatcher
event evt_rot "$TENANT" invoice.paid '{"rotated":true}' | publish
rotated() { grep -q '"webhook-id":"evt_rot"' "$T/n.ndjson"; }
wait_until 30 rotated || fail "no delivery after the rotation"
grep '"webhook-id":"evt_rot"' "$T/n.ndjson" | tail -1 >"$T/rot.json"
node - "$NEW" "$SECRET" "$T/rot.json" <<'JS' || fail "rotation: see above"
const { Webhook } = require("standardwebhooks");
const r = JSON.parse(require("fs").readFileSync(process.argv[4], "utf8"));
const body = Buffer.from(r.body_b64, "base64");
if (!r.verified) throw new Error("the receiver (old secret) refused it: " + r.error);
const n = r.headers["webhook-signature"].split(" ").length;
if (n !== 2) throw new Error("want 2 signatures during the overlap, have " + n);
new Webhook(process.argv[2]).verify(body, r.headers); // throws if not
new Webhook(process.argv[3]).verify(body, r.headers);
console.log("both secrets verify");
JS
pass "after a rotation both the old and the new secret verify the delivery"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "dispatcher exit $rc"
