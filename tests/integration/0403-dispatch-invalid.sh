#!/usr/bin/env bash
# 0403-dispatch-invalid: records that are not JSON, lack fields, are too large, have wrong
# types, are random bytes or bad header-form events go to the DLQ with their reason, while the
# valid events around them (JSON and header form) are delivered; the process keeps running.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

receiver_start r
ep_create "ep_all$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/all" '["*"]'
dispatcher_start d -o events.max_bytes=1KiB -o topics.partitions=1
big=$(head -c 3000 /dev/zero | tr '\0' x)
{
  event evt_v1 "$TENANT" a.b
  echo 'this is not json'
  echo "{\"id\":\"evt_x\",\"tenant\":\"$TENANT\",\"data\":{}}"
  event evt_v2 "$TENANT" a.b
  event evt_big "$TENANT" a.b "{\"s\":\"$big\"}"
  echo "{\"tenant\":5,\"type\":\"a.b\",\"data\":{}}"
  echo "{\"tenant\":\"$TENANT\",\"type\":\"a..b\",\"data\":{}}"
  echo "{\"tenant\":\"$TENANT\",\"type\":\"a.b\"}"
  head -c 200 /dev/urandom | tr -d '\n\0'; echo
  event evt_v3 "$TENANT" a.b
} | publish
echo '{"k":1}' | kcat -P -b "$KAFKA" -t "$PREFIX.events" -H "hl-tenant=$TENANT" -H "hl-type=hdr.ok" -H "hl-id=evt_h1"
echo '{"k":2}' | kcat -P -b "$KAFKA" -t "$PREFIX.events" -H "hl-tenant=$TENANT" -H "hl-type=bad type!"
event evt_v4 "$TENANT" a.b | publish

dlq7() { [ "$(topic_count "$PREFIX.dlq")" -ge 8 ]; }
wait_until 20 dlq7 || fail "want 8 DLQ records, have $(topic_count "$PREFIX.dlq")"
delivered() { [ "$(rec_count r /all 200)" -ge 5 ]; }
wait_until 10 delivered || fail "valid events: $(rec_count r /all 200)/5 delivered"
consume "$PREFIX.dlq" | python3 -c "
import json, sys, base64
recs = [json.loads(l) for l in sys.stdin]
reasons = [r['reason'] for r in recs]
for r in recs:
    assert r['source']['topic'].endswith('.events') and r['raw_b64'] is not None, r
    print(' ', r['reason'])
need = ['exceeds events.max_bytes', 'tenant', 'type', 'data']
for n in need:
    assert any(n in x for x in reasons), ('no reason mentions', n)
assert len(recs) == 8, len(recs)
assert base64.b64decode(recs[0]['raw_b64']) == b'this is not json', recs[0]
" || fail "DLQ records"
python3 -c "
import json
ids = sorted(json.loads(l)['headers']['webhook-id'] for l in open('$T/r.ndjson'))
assert ids == ['evt_h1', 'evt_v1', 'evt_v2', 'evt_v3', 'evt_v4'], ids" || fail "delivered set"
kill -0 "$DPID" || fail "the dispatcher died"
pass "8 invalid records in the DLQ with reasons, 5 valid ones delivered, process alive"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
