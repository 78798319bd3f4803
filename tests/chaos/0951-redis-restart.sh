#!/usr/bin/env bash
# 0951-redis-restart (chaos 2): on a private stack (deploy/local/stack.sh under the test's own
# directory and ports; the shared stack is not touched), three dispatchers deliver events of
# four tenants published at a steady rate; mid-run Redis is killed (SIGKILL), stays down for
# CHAOS_REDIS_DOWN seconds (10) and is started again (appendonly: the endpoints survive).
# Every event must be delivered: cached tenants flow on, lookups and hl:done writes wait.
source "$(dirname "$0")/lib.sh"

N=$(chaos_param CHAOS_EVENTS 2000 50000 scaled)
RATE=$(chaos_param CHAOS_RATE 100 500)
DOWN=$(chaos_param CHAOS_REDIS_DOWN 10 10)
echo "chaos 2: $N events at $RATE/s, Redis down for $DOWN s mid-run"
chaos_private_stack
chaos_receiver r --rule '*=200@5'
TENANTS=()
for i in 0 1 2 3; do
  TENANTS+=("$TENANT$i")
  ep_create "ep_$i$PREFIX" "$TENANT$i" "http://127.0.0.1:$RPORT/t$i" '["*"]'
done
DOPTS=(-o redis.timeout=500ms -o dispatcher.cache_ttl=2s)
chaos_dispatchers
chaos_publish p --count "$N" --tenants "$(IFS=,; echo "${TENANTS[*]}")" --rate "$RATE"
third() { [ "$(rec_count r)" -ge $((N / 3)) ]; }
wait_until 120 third || fail "no progress before the outage ($(rec_count r) requests)"
chaos_stack_stop redis KILL
echo "$(date -u +%T) Redis killed at $(rec_count r) requests"
sleep "$DOWN"
during=$(rec_count r)
chaos_stack_up
echo "$(date -u +%T) Redis back at $during requests"
chaos_publish_wait p
chaos_settle 180
chaos_stop_dispatchers
chaos_reconcile --require-delivered || fail "events lost or inconsistent (see above)"
pass "Redis down $DOWN s mid-run: none lost"
