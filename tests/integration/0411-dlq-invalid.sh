#!/usr/bin/env bash
# 0411-dlq-invalid: events that fail validation land in the DLQ without an endpoint; `dlq list`
# shows them with their reasons (table and NDJSON with the raw bytes), --reason selects them,
# --tenant/--endpoint leave them out, and `dlq replay` counts them as skipped (nothing to
# deliver) while it replays the failed delivery next to them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

SCHED=1s
receiver_start r '/fail=500,500,200'
ep_admin EP "$TENANT" "http://127.0.0.1:$RPORT/fail" t.a
dispatcher_start d -o retry.schedule=$SCHED
{
  echo 'this is not json'
  echo "{\"id\":\"evt_notype\",\"tenant\":\"$TENANT\",\"data\":{}}"
  event evt_ok "$TENANT" t.a
  echo "{\"tenant\":\"$TENANT\",\"type\":\"a..b\",\"data\":{}}"
} | publish
dlq4() { [ "$(topic_count "$PREFIX.dlq")" -ge 4 ]; }
wait_until 60 dlq4 || fail "want 4 DLQ records, have $(topic_count "$PREFIX.dlq")"

dlq() { admin -o "retry.schedule=$SCHED" dlq "$@"; }
# marked PAIR...: every "event endpoint" pair has its hl:done marker (the dispatcher writes it just
# after the 2xx the receiver recorded; a replay before that could not know)
marked() { local p; for p in "$@"; do [ "$("${REDIS[@]}" EXISTS "hl:done:${p% *}:${p#* }")" = 1 ] || return 1; done; }
dlq list >"$T/list.txt" || fail "dlq list exit $?"
[ "$(grep -c '(invalid event)' "$T/list.txt")" = 3 ] || fail "invalid rows: $(cat "$T/list.txt")"
grep '(invalid event)' "$T/list.txt" | has 'event: not valid JSON' || fail "JSON reason missing"
grep '(invalid event)' "$T/list.txt" | has 'type: required$' || fail "'type: required' missing"
grep '(invalid event)' "$T/list.txt" | has 'type: must be dot-separated' || fail "type rule missing"
grep 'evt_ok' "$T/list.txt" | has 'retries exhausted after 2 attempts: last HTTP 500$' ||
  fail "the failed delivery: $(cat "$T/list.txt")"
grep -q '^4 record(s), 3 of them invalid events$' "$T/admin.log" || fail "summary: $(tail -3 "$T/admin.log")"
[ "$(dlq list --reason 'not valid JSON' | grep -c 'invalid event')" = 1 ] || fail "--reason"
dlq list --tenant "$TENANT" | has 'invalid event' && fail "--tenant listed invalid events"
dlq list --reason 'type: ' -o json >"$T/inv.json" || fail "list -o json"
python3 - "$T/inv.json" "$PREFIX" <<'PY' || fail "NDJSON: $(cat "$T/inv.json")"
import base64, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 2 and all(r["invalid"] for r in recs), recs
for r in recs:
    assert r["source"]["topic"] == sys.argv[2] + ".events" and r["source"]["offset"] >= 0, r
    raw = json.loads(base64.b64decode(r["raw_b64"]))
    assert ("type" not in raw) == (r["reason"] == "type: required"), r
    assert "event_id" not in r and "endpoint_id" not in r, r
PY
pass "invalid events listed with their reasons and raw bytes, filtered by reason, not by tenant"

# the endpoint now answers 200: the delivery is replayed, the invalid events are not
out=$(dlq replay --dry-run --reason 'not valid JSON') || fail "dry run exit $?"
[ "$out" = "would replay 0, skipped 1 (1 invalid event (nothing to deliver))" ] || fail "dry run: $out"
out=$(dlq replay) || fail "replay exit $?"
[ "$out" = "replayed 1, skipped 3 (3 invalid event (nothing to deliver))" ] || fail "replay: $out"
delivered() { [ "$(rec_count r /fail 200)" = 1 ] && marked "evt_ok $EP"; }
wait_until 30 delivered || fail "the replayed delivery did not arrive"
out=$(dlq replay) || fail "second replay exit $?"
[ "$out" = "replayed 0, skipped 4 (3 invalid event (nothing to deliver), 1 already delivered)" ] ||
  fail "second replay: $out"
sleep "$(scaled 2)"
[ "$(rec_count r /fail 200)" = 1 ] || fail "delivered $(rec_count r /fail 200) times"
pass "replay skips invalid events and replays the delivery once"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "dispatcher exit $rc"
