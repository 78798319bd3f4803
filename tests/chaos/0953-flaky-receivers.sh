#!/usr/bin/env bash
# 0953-flaky-receivers (chaos 4): two receivers that answer 500 to 30 % of requests, hang on
# 10 % (the endpoints' 1 s timeout cuts them) and reset the connection on 5 % (hl-test-receiver
# --fail-pct/--timeout-pct/--reset-pct), three dispatchers with the retry schedule 1s,1s,2s
# (4 attempts). Each event is then either delivered or, after 4 failed attempts (about 0.45^4
# = 4 % of them), in the DLQ with the reason "retries exhausted" - never both, never neither -
# and the attempt log agrees with what the receivers saw. The circuit breaker is kept shut
# (breaker.failures=100000): at 45 % failures a run of 10 happens within a few thousand attempts,
# and its 30 s cooldown against this 4 s retry schedule would send everything in it to the DLQ
# as "breaker_open" (docs/breaker.md; the breaker has its own tests, 0510-0514).
source "$(dirname "$0")/lib.sh"
DOPTS=(-o "breaker.failures=100000")

N=$(chaos_param CHAOS_EVENTS 2000 20000 scaled)
RATE=$(chaos_param CHAOS_RATE 400 1000)
FLAKY=(--fail-pct 30 --timeout-pct 10 --reset-pct 5)
echo "chaos 4: $N events at $RATE/s to receivers failing ${FLAKY[*]}"
TENANTS=()
for i in 0 1; do
  chaos_receiver r$i "${FLAKY[@]}"
  TENANTS+=("$TENANT$i")
  ep_create "ep_$i$PREFIX" "$TENANT$i" "http://127.0.0.1:$RPORT/f$i" '["*"]' timeout_ms 1000
done
chaos_dispatchers
chaos_publish p --count "$N" --tenants "$(IFS=,; echo "${TENANTS[*]}")" --rate "$RATE"
chaos_publish_wait p
chaos_settle 180
chaos_stop_dispatchers
chaos_reconcile --exclusive | tee "$T/summary" || fail "events lost or inconsistent (see above)"
python3 - "$T/dlq.dump" "$T/attempts.dump" "$N" "$T"/r*.ndjson <<'PY' || fail "DLQ or attempt log wrong (see above)"
import json, sys, collections
dlq = [json.loads(l) for l in open(sys.argv[1])]
att = [json.loads(l) for l in open(sys.argv[2])]
n = int(sys.argv[3])
errs = []
bad = [d for d in dlq if d.get("attempt") != 4 or "retries exhausted" not in d.get("reason", "")
       or len(d.get("history", [])) != 4]
if bad:
    errs.append("%d DLQ records not after 4 attempts/retries exhausted, e.g. %s" % (len(bad), bad[0]))
# at p = 0.45 per attempt, 4 failures in a row happen to ~4 % of the events: far from 0 and 30 %
if not 0.005 * n <= len(dlq) <= 0.15 * n:
    errs.append("%d DLQ records for %d events: not the ~4 %% that 4 failures in a row give" % (len(dlq), n))
outcomes = collections.Counter(a["outcome"] for a in att)
failed = sum(v for k, v in outcomes.items() if k != "ok")
if not 0.3 <= failed / max(1, sum(outcomes.values())) <= 0.6:
    errs.append("attempt outcomes %s: not ~45 %% failures" % dict(outcomes))
if not outcomes.get("timeout"):
    errs.append("no timeout in the attempt log")
# what the receivers answered vs the attempt log: a 200 is an ok attempt, a 500 a status one, a
# hang a timeout; a reset is an error attempt, or none when libcurl re-sent the request on a
# fresh connection (a reused keep-alive connection that dies before any answer), which the
# receiver then counts as another request
seen = collections.Counter()
for f in sys.argv[4:]:
    for l in open(f):
        if l.endswith("\n"):
            seen[str(json.loads(l)["status"])] += 1
for st, oc in (("200", "ok"), ("500", "status"), ("hang", "timeout")):
    if seen[st] != outcomes[oc]:
        errs.append("receivers answered %s %d times, the attempt log has %d %s" % (st, seen[st], outcomes[oc], oc))
if outcomes["error"] > seen["reset"]:
    errs.append("%d error attempts but only %d resets" % (outcomes["error"], seen["reset"]))
print("receivers: %s; resets re-sent by libcurl: %d" % (dict(seen), seen["reset"] - outcomes["error"]))
print("\n".join(errs) or "DLQ records: %d, all after 4 attempts; attempt outcomes %s" % (len(dlq), dict(outcomes)))
sys.exit(1 if errs else 0)
PY
pass "flaky receivers: every event delivered or in the DLQ, none lost"
