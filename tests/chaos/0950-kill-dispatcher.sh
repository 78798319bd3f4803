#!/usr/bin/env bash
# 0950-kill-dispatcher (chaos 1): three dispatchers in one group; while events are published at
# a steady rate, one of them (at random) gets kill -9 every CHAOS_KILL_EVERY seconds and is
# started again. Every event must be delivered (the receiver always answers 200); duplicates
# are counted, not judged. Short: 5 000 events at 250/s, a kill every 4 s; long: 100 000 at
# 1 000/s, a kill every 5 s.
source "$(dirname "$0")/lib.sh"

N=$(chaos_param CHAOS_EVENTS 5000 100000 scaled)
RATE=$(chaos_param CHAOS_RATE 250 1000)
EVERY=$(chaos_param CHAOS_KILL_EVERY 4 5)
echo "chaos 1: $N events at $RATE/s, kill -9 a dispatcher every $EVERY s"
chaos_receiver r --rule '*=200@5'
ep_create "ep_k$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/k" '["*"]'
chaos_dispatchers
chaos_publish p --count "$N" --tenants "$TENANT" --rate "$RATE"
kills=0
while publishing p; do
  sleep "$EVERY"
  n=$((RANDOM % 3 + 1))
  kill -9 "${DP[$n]}"
  wait "${DP[$n]}" 2>/dev/null || true
  chaos_dispatcher "$n"
  kills=$((kills + 1))
  echo "$(date -u +%T) kill -9 dispatcher $n ($(rec_count r) requests so far), restarted as pid ${DP[$n]}"
done
chaos_publish_wait p
echo "$kills kills while publishing"
[ "$kills" -ge 2 ] || fail "the run was too short for the kills (raise CHAOS_EVENTS or lower CHAOS_RATE)"
chaos_settle 180
chaos_stop_dispatchers
chaos_reconcile --require-delivered || fail "events lost or inconsistent (see above)"
pass "kill -9 x$kills: none lost"
