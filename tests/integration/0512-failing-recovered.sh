#!/usr/bin/env bash
# 0512-failing-recovered: with two dispatchers sharing the work, an endpoint failing 4 times in a
# row gets exactly one hookline.endpoint.failing, and its first success after that exactly one
# hookline.endpoint.recovered (Redis decides the transition).  They are delivered, signed like
# any event, to an endpoint subscribed to hookline.endpoint.*, but never to the endpoint they are
# about (itself subscribed to hookline.endpoint.*).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

receiver_start r '/bad=500' '/good=200' '/ops=200'
U="http://127.0.0.1:$RPORT"
EP="ep_f$PREFIX"
ep_create "$EP" "$TENANT" "$U/bad" '["t.f","hookline.endpoint.*"]'
ep_create "ep_ops$PREFIX" "$TENANT" "$U/ops" '["hookline.endpoint.*"]'
HL_EP_KEYS+=("hl:health:$EP" "hl:health:ep_ops$PREFIX")
DOPTS=(-o breaker.failures=1000 -o retry.schedule=1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s)
dispatcher_start d1 "${DOPTS[@]}"
D1=$DPID
dispatcher_start d2 "${DOPTS[@]}"
D2=$DPID

publish_many 6 t.f
count_type() { consume "$PREFIX.events" | grep -c "\"type\":\"$1\"" || true; }
failing() { [ "$(count_type hookline.endpoint.failing)" -ge 1 ]; }
wait_until 40 failing || fail "no hookline.endpoint.failing (health: $("${REDIS[@]}" HGETALL "hl:health:$EP"))"
more() { [ "$(rec_count r /bad)" -ge 16 ]; }
wait_until 30 more || fail "failures stopped at $(rec_count r /bad)"
[ "$(count_type hookline.endpoint.failing)" -eq 1 ] || fail "$(count_type hookline.endpoint.failing) failing events"
pass "one failing event after $(rec_count r /bad) failures from two dispatchers"

# the endpoint is fixed: a new URL answering 200 (an update as hookline-admin writes it)
"${REDIS[@]}" HSET "hl:ep:$EP" url "$U/good" version 2 >/dev/null
"${REDIS[@]}" PUBLISH hl:changes "$TENANT $EP 2" >/dev/null
all_good() { [ "$(rec_count r /good 200)" -ge 6 ]; }
wait_until 40 all_good || fail "only $(rec_count r /good 200) of 6 delivered after the fix"
ops2() { [ "$(rec_count r /ops 200)" -ge 2 ]; }
wait_until 20 ops2 || fail "subscriber got $(rec_count r /ops 200) operational events, want 2"
sleep 2
consume "$PREFIX.events" >"$T/events"
python3 - "$T/events" "$T/r.ndjson" "$EP" "$TENANT" "$U" <<'PY' || fail "see above"
import json, re, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
recs = [json.loads(l) for l in open(sys.argv[2])]
EP, TENANT, U = sys.argv[3:6]
errs = []
def check(c, m):
    if not c: errs.append(m)
ops = [e for e in evs if e.get("type", "").startswith("hookline.endpoint.")]
types = sorted(e["type"] for e in ops)
check(types == ["hookline.endpoint.failing", "hookline.endpoint.recovered"], "operational events %s" % types)
for e in ops:
    check(e["tenant"] == TENANT and re.fullmatch(r"evt_[A-Za-z0-9]{22}", e["id"]) and e["timestamp"].endswith("Z"),
          "envelope %s" % e)
    check(e["data"].get("endpoint_id") == EP, "endpoint_id %s" % e["data"])
f = [e["data"] for e in ops if e["type"] == "hookline.endpoint.failing"]
if f:
    f = f[0]
    check(f["url"] == U + "/bad" and f["consecutive_failures"] >= 4 and "first_failure_at" in f
          and "failing_since" in f, "failing data %s" % f)
r = [e["data"] for e in ops if e["type"] == "hookline.endpoint.recovered"]
if r:
    r = r[0]
    check(r["url"] == U + "/good" and r["failed_attempts"] >= 4 and "recovered_at" in r
          and "first_failure_at" in r, "recovered data %s" % r)
sub = [x for x in recs if x["path"] == "/ops"]
check(sorted(x["headers"]["webhook-id"] for x in sub) == sorted(e["id"] for e in ops),
      "subscriber got %s" % [x["headers"]["webhook-id"] for x in sub])
check(all(x.get("sig_ok") for x in sub), "subscriber deliveries not signed")
check(sorted(json.loads(x["body"])["type"] for x in sub) == types, "subscriber bodies")
own = [x["headers"]["webhook-id"] for x in recs if x["path"] in ("/bad", "/good")]
check(all(re.fullmatch(r"evt_[1-6]", i) for i in own), "the endpoint got its own events: %s" % sorted(set(own)))
print("\n".join(errs) or "all good")
sys.exit(1 if errs else 0)
PY
pass "one recovered event; both delivered to the subscriber, none to the endpoint they are about"
kill -TERM "$D1" "$D2"; rc=0; wait "$D1" || rc=$?; wait "$D2" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
