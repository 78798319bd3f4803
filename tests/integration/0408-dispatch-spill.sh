#!/usr/bin/env bash
# 0408-dispatch-spill: a slow endpoint's backlog fills a partition's ack window; its waiting
# deliveries are spilled to the first retry tier (no attempt used) so the partition moves on,
# and every event still reaches it exactly once, each in one attempt.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

N=12
receiver_start r '/slow=200@1000'
U="http://127.0.0.1:$RPORT"
ep_admin ESLOW "$TENANT" "$U/slow" 's.*' --max-in-flight 1
ep_admin EFAST "$TENANT" "$U/fast" '*'
dispatcher_start d -o topics.partitions=1 -o dispatcher.ack_window=4 -o http.listen=127.0.0.1:0
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d.log" | head -1)
for i in $(seq 1 $N); do event "evt_$i" "$TENANT" s.x; done | publish
fast() { [ "$(rec_count r /fast 200)" -eq $N ]; }
wait_until 4 fast || fail "the window stayed pinned: /fast got $(rec_count r /fast 200)/$N"
spilled=$(curl -s "http://127.0.0.1:$MPORT/metrics" | sed -n 's/^hookline_deliveries_spilled_total //p')
[ "${spilled:-0}" -ge 1 ] || fail "nothing spilled"
slow() { [ "$(rec_count r /slow 200)" -ge $N ]; }
wait_until 50 slow || fail "/slow got $(rec_count r /slow 200)/$N"
sleep 1
read -r distinct dups missing < <(delivery_stats r $N)
[ "$missing" -eq 0 ] || fail "missing $missing"
[ "$(rec_count r /slow 200)" -eq $N ] || fail "/slow got duplicates: $(rec_count r /slow 200)"
consume "$PREFIX.attempts" | python3 -c "
import json, sys
a = [json.loads(l) for l in sys.stdin]
s = [x for x in a if x['endpoint_id'] == '$ESLOW']
assert len(s) == $N and all(x['attempt'] == 1 and x['outcome'] == 'ok' for x in s), s" ||
  fail "spilled deliveries used attempts"
pass "backlog spilled: $spilled deliveries waited in the tier; each delivered once, attempt 1"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
