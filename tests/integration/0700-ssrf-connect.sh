#!/usr/bin/env bash
# 0700-ssrf-connect: the SSRF guard end to end, on loopback only. With delivery.allow_cidrs
# empty, hookline-admin refuses a localhost URL, and a dispatcher refuses to connect to
# endpoints stored with localhost / loopback hosts (any spelling): every attempt is recorded as
# blocked_address and the receiver sees nothing. With 127.0.0.0/8 allowed the same endpoint is
# delivered. delivery.https_only refuses http:// both at admin and at the dispatcher.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

receiver_start r '/blocked=200' '/hex=200' '/ok=200'
# hookline-admin with the guard at its default (nothing allowed) refuses the URL outright
rc=0
"$BIN/hookline-admin" -o "redis.host=$HOOKLINE_REDIS_HOST" -o "redis.port=$HOOKLINE_REDIS_PORT" \
  -o "delivery.allow_cidrs=" endpoint create --tenant "$TENANT" \
  --url "http://localhost:$RPORT/blocked" --types t.b >"$T/refused.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "admin accepted a localhost URL without allow_cidrs (exit $rc): $(cat "$T/refused.out")"
grep -q 'loopback address; allow it with delivery.allow_cidrs' "$T/refused.out" ||
  fail "refusal does not say why: $(cat "$T/refused.out")"
pass "admin refuses http://localhost/ unless delivery.allow_cidrs opens it"

# registered by an admin that allows loopback; the dispatcher below does not
ep_admin EPB "$TENANT" "http://localhost:$RPORT/blocked" t.b
ep_admin EPH "$TENANT" "http://0x7f000001:$RPORT/hex" t.h
ep_admin EPOK "$TENANT" "http://localhost:$RPORT/ok" t.ok
dispatcher_start d1 -o "delivery.allow_cidrs="
{ event evt_b "$TENANT" t.b; event evt_h "$TENANT" t.h; } | publish

dlq_two() { [ "$(topic_count "$PREFIX.dlq")" -ge 2 ]; }
wait_until 60 dlq_two || fail "want 2 DLQ records, have $(topic_count "$PREFIX.dlq")"
consume "$PREFIX.attempts" >"$T/attempts1"
consume "$PREFIX.dlq" >"$T/dlq1"
python3 - "$T/attempts1" "$T/dlq1" "$EPB" "$EPH" <<'PY' || fail "see above"
import json, sys
atts = [json.loads(l) for l in open(sys.argv[1])]
dlq = [json.loads(l) for l in open(sys.argv[2])]
errs = []
for ep in sys.argv[3:5]:
    a = sorted((x["attempt"], x["outcome"], x["status"]) for x in atts if x["endpoint_id"] == ep)
    if a != [(i, "blocked_address", 0) for i in (1, 2, 3, 4)]:
        errs.append("%s attempts %s" % (ep, a))
    for x in atts:
        if x["endpoint_id"] == ep and not (x["error"].startswith("blocked_address: ")
                                           and ("127.0.0.1 is loopback" in x["error"] or "::1 is loopback" in x["error"])):
            errs.append("%s error %r" % (ep, x["error"]))
    d = [x for x in dlq if x.get("endpoint_id") == ep]
    if len(d) != 1 or "blocked_address" not in d[0]["reason"]:
        errs.append("%s DLQ %s" % (ep, d))
print("\n".join(errs) or "all good")
sys.exit(1 if errs else 0)
PY
[ "$(rec_count r)" -eq 0 ] || fail "the receiver got $(rec_count r) requests from a guarded dispatcher"
grep -q '"blocked_address' "$T/d1.log" || true
pass "allow_cidrs empty: localhost and 0x7f000001 refused at connect (blocked_address), nothing sent"

kill -TERM "$DPID"; wait "$DPID" || fail "dispatcher d1 exit $?"
dispatcher_start d2 # helpers' default: delivery.allow_cidrs=127.0.0.0/8
event evt_ok "$TENANT" t.ok | publish
wait_until 30 rec_at_least 1 r /ok 200 || fail "not delivered with 127.0.0.0/8 allowed"
python3 - "$T/r.ndjson" <<'PY' || fail "delivered request wrong"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert len(r) == 1 and r[0]["path"] == "/ok" and r[0]["headers"]["webhook-id"] == "evt_ok", r
PY
pass "127.0.0.0/8 allowed: the same kind of endpoint is delivered"
kill -TERM "$DPID"; wait "$DPID" || fail "dispatcher d2 exit $?"

# https_only: admin refuses http://, and a dispatcher with it never sends to a stored http:// URL
rc=0
admin -o delivery.https_only=true endpoint create --tenant "$TENANT" --url "http://localhost:$RPORT/ok" \
  --types t.ok >"$T/https.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "admin with https_only accepted http:// (exit $rc)"
grep -q 'url: scheme must be https' "$T/admin.log" || fail "https_only refusal: $(tail -3 "$T/admin.log")"
dispatcher_start d3 -o delivery.https_only=true
event evt_h2 "$TENANT" t.ok | publish
refused() { consume "$PREFIX.attempts" | has '"event_id":"evt_h2".*"outcome":"error"'; }
wait_until 30 refused || fail "no refused attempt for evt_h2: $(consume "$PREFIX.attempts" | grep evt_h2 || true)"
consume "$PREFIX.attempts" | grep '"event_id":"evt_h2"' | head -1 | has -i 'protocol' ||
  fail "refusal does not name the protocol: $(consume "$PREFIX.attempts" | grep evt_h2 | head -1)"
[ "$(rec_count r)" -eq 1 ] || fail "https_only dispatcher sent over http"
pass "https_only: http:// refused by admin and never sent by the dispatcher"
kill -TERM "$DPID"; wait "$DPID" || fail "dispatcher d3 exit $?"
