#!/usr/bin/env bash
# 0402-dispatch-timeout: an endpoint that never answers times out (per-endpoint timeout_ms) and
# its deliveries move to the retry tier, while another endpoint subscribed to the same events
# receives all of them at once: a hanging endpoint holds up nobody.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

receiver_start r '/never=hang'
U="http://127.0.0.1:$RPORT"
ep_create "ep_never$PREFIX" "$TENANT" "$U/never" '["*"]' timeout_ms 1500
ep_create "ep_fast$PREFIX" "$TENANT" "$U/fast" '["*"]'
dispatcher_start d -o retry.schedule=30s
N=20
t0=$(date +%s.%N)
for i in $(seq 1 $N); do event "evt_$i" "$TENANT" order.created "{\"n\":$i}"; done | publish

fast_all() { [ "$(rec_count r /fast 200)" -eq $N ]; }
wait_until 5 fast_all || fail "fast endpoint got $(rec_count r /fast 200)/$N within 5 s"
t1=$(date +%s.%N)
python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 1.4 else 1)" ||
  echo "note: fast deliveries took $(python3 -c "print(round($t1 - $t0, 2))") s"
[ "$(rec_count r /never)" -eq $N ] || fail "the hanging endpoint got $(rec_count r /never) of $N"
pass "fast endpoint served while $N requests hang"

timeouts() { [ "$(consume "$PREFIX.attempts" | grep -c "\"endpoint_id\":\"ep_never$PREFIX\".*\"outcome\":\"timeout\"")" -eq $N ]; }
wait_until 10 timeouts || fail "want $N timeout attempts"
tier() { [ "$(topic_count "$PREFIX.retry.30s")" -eq $N ]; }
wait_until 10 tier || fail "want $N records in the retry tier, have $(topic_count "$PREFIX.retry.30s")"
consume "$PREFIX.attempts" | python3 -c "
import json, sys
a = [json.loads(l) for l in sys.stdin if 'ep_never' in l]
lat = sorted(x['latency_ms'] for x in a)
assert 1400 <= lat[0] and lat[-1] < 5000, lat
print('timeout latencies ms: min', lat[0], 'max', lat[-1])" || fail "timeout latencies"
pass "timeouts after ~1.5 s went to the retry tier"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
