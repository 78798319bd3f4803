#!/usr/bin/env bash
# 0401-dispatch-retries: failures walk the retry tiers (schedule 1s,1s,2s): k failures then a
# success is delivered once after k+1 attempts, each in the attempt log; always failing and
# 3xx go to the DLQ after 4 attempts with the reason and history; 410 disables the endpoint
# after one request; Retry-After makes the next attempt wait at least that long.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

receiver_start r '/k2=500,500,200' '/k1=503,200' '/fail=500' '/moved=302+loc=http://127.0.0.1:1/' \
  '/gone=410' '/busy=429+ra=2,200'
U="http://127.0.0.1:$RPORT"
for p in k2 k1 fail moved gone busy; do ep_create "ep_$p$PREFIX" "$TENANT" "$U/$p" "[\"t.$p\"]"; done
dispatcher_start d
for p in k2 k1 fail moved gone busy; do event "evt_$p" "$TENANT" "t.$p"; done | publish

dlq_two() { [ "$(topic_count "$PREFIX.dlq")" -ge 2 ]; }
wait_until 40 dlq_two || fail "want 2 DLQ records, have $(topic_count "$PREFIX.dlq")"
sleep 1
consume "$PREFIX.attempts" >"$T/attempts"
consume "$PREFIX.dlq" >"$T/dlq"
python3 - "$T/r.ndjson" "$T/attempts" "$T/dlq" "$PREFIX" <<'PY' || fail "see above"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
atts = [json.loads(l) for l in open(sys.argv[2])]
dlq = [json.loads(l) for l in open(sys.argv[3])]
P = sys.argv[4]
def path(p): return [r for r in recs if r["path"] == "/" + p]
def att(p): return sorted((a["attempt"], a["outcome"], a["status"]) for a in atts if a["endpoint_id"] == "ep_" + p + P)
errs = []
def check(c, m):
    if not c: errs.append(m)
check([r["status"] for r in path("k2")] == [500, 500, 200], "k2 statuses %s" % [r["status"] for r in path("k2")])
check(att("k2") == [(1, "status", 500), (2, "status", 500), (3, "ok", 200)], "k2 attempts %s" % att("k2"))
check([r["status"] for r in path("k1")] == [503, 200], "k1")
check(att("k1") == [(1, "status", 503), (2, "ok", 200)], "k1 attempts %s" % att("k1"))
for p, st in (("fail", 500), ("moved", 302)):
    check(len(path(p)) == 4, "%s: %d requests, want 4" % (p, len(path(p))))
    check(att(p) == [(i, "status", st) for i in (1, 2, 3, 4)], "%s attempts %s" % (p, att(p)))
    d = [x for x in dlq if x.get("endpoint_id") == "ep_" + p + P]
    check(len(d) == 1, "%s: %d DLQ records" % (p, len(d)))
    if d:
        d = d[0]
        check(d["attempt"] == 4 and ("HTTP %d" % st) in d["reason"] and len(d["history"]) == 4
              and d["event_id"] == "evt_" + p and json.loads(d["body"])["type"] == "t." + p,
              "%s DLQ record %s" % (p, d))
    t = [r["t"] for r in path(p)]
    gaps = [round(b - a, 2) for a, b in zip(t, t[1:])]
    check(len(gaps) == 3 and 0.9 <= gaps[0] < 3 and 0.9 <= gaps[1] < 3 and 1.9 <= gaps[2] < 4,
          "%s gaps %s, want ~1,1,2 s" % (p, gaps))
check(len(path("gone")) == 1 and att("gone") == [(1, "gone", 410)], "gone %s" % att("gone"))
b = path("busy")
check(len(b) == 2 and b[1]["t"] - b[0]["t"] >= 1.9, "busy: Retry-After 2 s not honoured: %s" % [r["t"] for r in b])
check(not [x for x in dlq if x.get("endpoint_id") in ("ep_k2" + P, "ep_k1" + P, "ep_gone" + P, "ep_busy" + P)], "unexpected DLQ")
print("\n".join(errs) or "all good")
sys.exit(1 if errs else 0)
PY
pass "k failures then success, DLQ after the schedule, 3xx fails, Retry-After honoured"

[ "$("${REDIS[@]}" HGET "hl:ep:ep_gone$PREFIX" status)" = disabled ] || fail "410 did not disable the endpoint"
event evt_gone2 "$TENANT" t.gone | publish
gone_skipped() { consume "$PREFIX.attempts" | has '"event_id":"evt_gone2".*"outcome":"skipped"'; }
wait_until 15 gone_skipped || fail "event to a disabled endpoint not recorded as skipped"
[ "$(rec_count r /gone)" -eq 1 ] || fail "a disabled endpoint was called"
pass "410 disables the endpoint; later events are skipped without HTTP"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
