#!/usr/bin/env bash
# 0203-admin-publish: what hookline-admin puts on Kafka.  POST /v1/events answers 202 once the
# event is on <prefix>.events (key = tenant), 400 with the field for a bad envelope (nothing sent),
# 503 when Kafka is down.  The test webhook (REST and `endpoint test`) publishes a hookline.ping
# naming the endpoint, and the CLI reports the attempt a dispatcher records in hl:recent (played
# here by the test) or says that none came.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"
TEN=t0203_${PREFIX#hltest_}
"$BIN/hl-test-topics" -p 3 "$PREFIX.events"
COMMON=(-o topics.prefix="$PREFIX" -o delivery.allow_cidrs=127.0.0.0/8 -o events.max_bytes=2KiB)
start_admin "$T/serve.log" -o "admin.tokens=$TOKEN" "${COMMON[@]}"
records() { kcat -b "$HOOKLINE_KAFKA_BOOTSTRAP_SERVERS" -C -t "$PREFIX.events" -o beginning -e -q -f '%k\t%s\n' 2>/dev/null; }
# record_of ID: the topic's record (key TAB value) for event ID
record_of() { records | grep -F "\"id\":\"$1\""; }

# 1. valid envelopes: 202 with the id, on the topic keyed by tenant
callj POST /v1/events "{\"tenant\":\"$TEN\",\"type\":\"invoice.paid\",\"data\":{\"amount\":12}}"
want 202
ID1=$(jb 'd["id"]')
[[ $ID1 =~ ^evt_ ]] || fail "generated id $ID1"
callj POST /v1/events "{\"id\":\"evt_given_$PREFIX\",\"tenant\":\"$TEN\",\"type\":\"a.b\",\"timestamp\":\"2026-11-22T10:00:00Z\",\"data\":[1,2]}"
want 202
[ "$(jb 'd["id"]')" = "evt_given_$PREFIX" ] || fail "given id not kept"
has_record() { record_of "$1" >/dev/null; }
wait_until 10 has_record "$ID1" || fail "event not on the topic"
[ "$(record_of "$ID1" | cut -f1)" = "$TEN" ] || fail "key is not the tenant: $(record_of "$ID1")"
record_of "$ID1" | cut -f2 | python3 -c "
import json,sys; e=json.load(sys.stdin)
assert (e['tenant'], e['type'], e['data']) == ('$TEN', 'invoice.paid', {'amount': 12}), e" || fail "envelope"
record_of "evt_given_$PREFIX" | has '"timestamp":"2026-11-22T10:00:00Z","data":\[1,2\]' || fail "given envelope"
pass "POST /v1/events lands on the topic"

# 2. bad envelopes: 400 naming the field, nothing sent
N0=$(records | wc -l)
callj POST /v1/events '{"type":"a.b","data":1}'; problem 400 tenant "required"
callj POST /v1/events '{"tenant":"bad tenant","type":"a.b","data":1}'; problem 400 tenant "must match"
callj POST /v1/events "{\"tenant\":\"$TEN\",\"type\":\"a..b\",\"data\":1}"; problem 400 type "dot-separated"
callj POST /v1/events "{\"tenant\":\"$TEN\",\"type\":\"a.b\"}"; problem 400 data "required"
callj POST /v1/events "{\"tenant\":\"$TEN\",\"type\":\"a.b\",\"data\":1,\"timestamp\":\"yesterday\"}"; problem 400 timestamp "RFC 3339"
callj POST /v1/events '{"tenant":'; problem 400 event "not valid JSON"
callj POST /v1/events "{\"tenant\":\"$TEN\",\"type\":\"a.b\",\"data\":\"$(head -c 2100 /dev/zero | tr '\0' x)\"}"
problem 400 event "exceeds events.max_bytes"
call POST /v1/events -H 'Content-Type: text/plain' --data-binary "{\"tenant\":\"$TEN\",\"type\":\"a.b\",\"data\":1}"
problem 415 "" "application/json"
call POST /v1/events; problem 400 body "required"
sleep 1
[ "$(records | wc -l)" = "$N0" ] || fail "a refused event reached the topic"
pass "bad envelopes refused, nothing sent"

# 3. the test webhook through REST: a hookline.ping naming the endpoint, after the broker ack
callj POST "/v1/tenants/$TEN/endpoints" '{"url":"http://127.0.0.1:9/hook","types":["invoice.*"]}'
want 201
EP=$(jb 'd["id"]')
call POST "/v1/tenants/$TEN/endpoints/$EP/test"
want 202
PING=$(jb 'd["event_id"]')
[ "$(jb '(d["endpoint_id"], d["type"])')" = "('$EP', 'hookline.ping')" ] || fail "test reply: $(cat "$T/body")"
record_of "$PING" | cut -f2 | python3 -c "
import json,sys; e=json.load(sys.stdin)
assert (e['tenant'], e['type'], e['data']) == ('$TEN', 'hookline.ping', {'endpoint_id': '$EP', 'message': 'test webhook from hookline'}), e" ||
  fail "ping envelope: $(record_of "$PING")"
call POST "/v1/tenants/$TEN/endpoints/ep_doesnotexist/test"; problem 404 "" "not found"
pass "REST test webhook"

# 4. `endpoint test`: publishes, then reports the attempt the dispatcher records
ADM=("$BIN/hookline-admin" "${COMMON[@]}")
ping_ids() { records | grep -F '"type":"hookline.ping"' | grep -o '"id":"evt_[A-Za-z0-9]*"' | cut -d'"' -f4; }
echo "$PING" >"$T/seen"
# play_dispatcher STATUS OUTCOME: wait for a new ping on the topic, record an attempt for it
play_dispatcher() {
  local id="" i
  for ((i = 0; i < $(scaled 10) * 5; i++)); do
    id=$(ping_ids | grep -v -x -F -f "$T/seen" | head -1 || true)
    [ -n "$id" ] && break
    sleep 0.2
  done
  [ -n "$id" ] || fail "no new ping on the topic"
  echo "$id" >>"$T/seen"
  SEEN+=("$id")
  "${R[@]}" LPUSH "hl:recent:$EP" "{\"event_id\":\"$id\",\"endpoint_id\":\"$EP\",\"attempt\":1,\"ts\":1795000000000,\"status\":$1,\"latency_ms\":34,\"outcome\":\"$2\",\"error\":\"\",\"excerpt\":\"pong\"}" >/dev/null
}
SEEN=()
"${ADM[@]}" endpoint test "$EP" --wait 20s -o json >"$T/t1.out" 2>"$T/t1.err" &
TP=$!
play_dispatcher 200 delivered
wait "$TP" || fail "endpoint test exit $?: $(cat "$T/t1.err")"
python3 -c "
import json,sys; d=json.load(open('$T/t1.out'))
assert d['endpoint_id'] == '$EP' and d['type'] == 'hookline.ping' and d['event_id'] == '${SEEN[0]}', d
assert d['attempt']['status'] == 200 and d['attempt']['outcome'] == 'delivered', d" || fail "test output: $(cat "$T/t1.out")"
"${ADM[@]}" endpoint test "$EP" --tenant "$TEN" --wait 20s >"$T/t2.out" 2>"$T/t2.err" &
TP=$!
play_dispatcher 500 retry
rc=0
wait "$TP" || rc=$?
[ $rc -eq 3 ] || fail "a failed attempt exited $rc"
grep -q "^sent hookline.ping ${SEEN[1]} to $EP$" "$T/t2.out" || fail "text output: $(cat "$T/t2.out")"
grep -q "^attempt 1 at 2026-11-18T.*Z: HTTP 500 in 34 ms (retry)$" "$T/t2.out" || fail "attempt line: $(cat "$T/t2.out")"
pass "endpoint test reports the attempt"

rc=0
"${ADM[@]}" endpoint test "$EP" --wait 1s >"$T/t3.out" 2>"$T/t3.err" || rc=$?
[ $rc -eq 3 ] && grep -q "no dispatcher delivered it yet (is hookline-dispatcher running?)" "$T/t3.out" ||
  fail "no dispatcher: rc $rc $(cat "$T/t3.out" "$T/t3.err")"
rc=0
"${ADM[@]}" endpoint test ep_doesnotexist >/dev/null 2>"$T/t4.err" || rc=$?
[ $rc -eq 1 ] || fail "unknown endpoint: rc $rc"
pass "endpoint test without a dispatcher / endpoint"

# 5. Kafka down: 503 from the API, exit 3 from the CLI, within the 5 s publish timeout
start_admin "$T/down.log" -o "admin.tokens=$TOKEN" "${COMMON[@]}" -o kafka.bootstrap.servers=127.0.0.1:1
t0=$(date +%s)
callj POST /v1/events "{\"tenant\":\"$TEN\",\"type\":\"a.b\",\"data\":1}"
problem 503 "" "kafka: "
[ $(($(date +%s) - t0)) -le $(scaled 9) ] || fail "503 took $(($(date +%s) - t0)) s"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$API/readyz")
want 503
jb 'd["kafka"]' | has -v '^ok$' || fail "readyz kafka: $(cat "$T/body")"
rc=0
"${ADM[@]}" -o kafka.bootstrap.servers=127.0.0.1:1 endpoint test "$EP" --no-wait >/dev/null 2>"$T/t5.err" || rc=$?
[ $rc -eq 3 ] && grep -q "kafka: " "$T/t5.err" || fail "CLI with Kafka down: rc $rc $(cat "$T/t5.err")"
grep -q '^hookline_admin_events_published_total{result="failed"} 1$' <(curl -s "$API/metrics") || fail "failed publish not counted"
pass "Kafka down: 503 and exit 3"

"${ADM[@]}" endpoint delete "$EP" >/dev/null 2>&1 || true
