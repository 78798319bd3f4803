#!/usr/bin/env bash
# 0412-dlq-disabled: a DLQ record of any reason replays the same way. Deliveries the dispatcher
# skipped because their endpoint is disabled (reason endpoint_disabled), and records written by
# hand with that reason, are skipped while the endpoint stays disabled (--include-disabled
# counts them), and after `hookline-admin endpoint enable` a replay delivers them, signed with
# the endpoint's secret, once each. Kafka or Redis unreachable: exit 3.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

SCHED=1s,2s
receiver_start r
ep_admin EP "$TENANT" "http://127.0.0.1:$RPORT/in" 'x.*'
admin endpoint disable "$EP" --reason 'customer asked' >/dev/null || fail "disable"
dispatcher_start d -o retry.schedule=$SCHED

# records as the dispatcher writes them (common/record.h), with the reason of a skipped delivery
dlq_record() {
  local body
  body=$(printf '{"id":"%s","type":"x.y","timestamp":"2026-11-23T03:00:00Z","data":{"n":%s}}' "$1" "$2")
  python3 -c 'import json,sys; print(sys.argv[1] + "|" + json.dumps({"v":1,"event_id":sys.argv[2],"tenant":sys.argv[3],"type":"x.y","timestamp":"2026-11-23T03:00:00Z","ts_ms":0,"body":sys.argv[4],"endpoint_id":sys.argv[1],"attempt":0,"due_ms":0,"history":[],"reason":"endpoint_disabled"}, separators=(",",":")))' \
    "$EP" "$1" "$TENANT" "$body"
}
{ dlq_record evt_d1 1; dlq_record evt_d2 2; } | kcat -P -b "$KAFKA" -t "$PREFIX.dlq" -K '|'
# and one the dispatcher skips and keeps in the DLQ itself
printf '{"id":"evt_d3","tenant":"%s","type":"x.y","data":{"n":3}}\n' "$TENANT" | publish
dlq3() { [ "$(consume "$PREFIX.dlq" | grep -c '"reason":"endpoint_disabled"')" -ge 3 ]; }
wait_until 30 dlq3 || fail "the dispatcher did not keep evt_d3 in the DLQ: $(consume "$PREFIX.dlq")"

dlq() { admin -o "retry.schedule=$SCHED" dlq "$@"; }
# marked PAIR...: every "event endpoint" pair has its hl:done marker (the dispatcher writes it just
# after the 2xx the receiver recorded; a replay before that could not know)
marked() { local p; for p in "$@"; do [ "$("${REDIS[@]}" EXISTS "hl:done:${p% *}:${p#* }")" = 1 ] || return 1; done; }
[ "$(dlq list --reason endpoint_disabled | grep -c endpoint_disabled)" = 3 ] || fail "list: $(dlq list)"
out=$(dlq replay) || fail "replay exit $?"
[ "$out" = "replayed 0, skipped 3 (3 endpoint disabled)" ] || fail "replay while disabled: $out"
out=$(dlq replay --dry-run --include-disabled) || fail "dry run exit $?"
[ "$out" = "would replay 3, skipped 0" ] || fail "--include-disabled dry run: $out"
sleep "$(scaled 2)"
[ "$(rec_count r /in)" = 0 ] || fail "a disabled endpoint was called"
pass "endpoint_disabled records are skipped while the endpoint is disabled"

admin endpoint enable "$EP" >/dev/null || fail "enable"
out=$(dlq replay --reason endpoint_disabled) || fail "replay exit $?"
[ "$out" = "replayed 3, skipped 0" ] || fail "replay after enable: $out"
three() { [ "$(rec_count r /in 200)" -ge 3 ] && marked "evt_d1 $EP" "evt_d2 $EP" "evt_d3 $EP"; }
wait_until 30 three || fail "replayed: $(rec_count r /in 200)/3 arrived"
out=$(dlq replay) || fail "second replay exit $?"
[ "$out" = "replayed 0, skipped 3 (3 already delivered)" ] || fail "second replay: $out"
sleep "$(scaled 2)"
python3 - "$T/r.ndjson" <<'PY' || fail "deliveries: $(cat "$T/r.ndjson")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert sorted(r["headers"]["webhook-id"] for r in recs) == ["evt_d1", "evt_d2", "evt_d3"], recs
for r in recs:
    body = json.loads(r["body"])
    assert r["sig_ok"] and body["data"]["n"] == int(body["id"][-1]), r
PY
pass "after endpoint enable, replay delivers them once, signed, body verbatim"

rc=0; admin -o redis.port=1 -o "retry.schedule=$SCHED" dlq replay >/dev/null || rc=$?
[ "$rc" = 3 ] || fail "Redis unreachable: exit $rc, want 3"
rc=0; admin -o kafka.bootstrap.servers=127.0.0.1:1 -o "retry.schedule=$SCHED" dlq list \
  >/dev/null || rc=$?
[ "$rc" = 3 ] || fail "Kafka unreachable: exit $rc, want 3"
pass "Redis or Kafka unreachable: exit 3"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "dispatcher exit $rc"
