#!/usr/bin/env bash
# 0952-kafka-restart (chaos 3): on a private stack (the shared one is not touched), three
# dispatchers deliver events published at a steady rate; mid-run the Kafka broker is stopped
# (SIGTERM, a controlled shutdown) and started again by deploy/local/stack.sh up (10-20 s
# without a broker). Publishing goes on meanwhile (kcat queues and retries). Every event must
# be delivered, and all three dispatchers must still be alive and exit 0 on SIGTERM.
source "$(dirname "$0")/lib.sh"

N=$(chaos_param CHAOS_EVENTS 2000 50000 scaled)
RATE=$(chaos_param CHAOS_RATE 100 500)
SIG=$(chaos_param CHAOS_KAFKA_SIGNAL TERM TERM)
echo "chaos 3: $N events at $RATE/s, the Kafka broker restarted (SIG$SIG) mid-run"
chaos_private_stack
chaos_receiver r --rule '*=200@5'
ep_create "ep_k$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/k" '["*"]'
chaos_dispatchers
chaos_publish p --count "$N" --tenants "$TENANT" --rate "$RATE"
third() { [ "$(rec_count r)" -ge $((N / 3)) ]; }
wait_until 120 third || fail "no progress before the restart ($(rec_count r) requests)"
t0=$SECONDS
chaos_stack_stop kafka "$SIG"
echo "$(date -u +%T) Kafka stopped at $(rec_count r) requests"
chaos_stack_up
echo "$(date -u +%T) Kafka back at $(rec_count r) requests, $((SECONDS - t0)) s without a broker"
chaos_publish_wait p
chaos_settle 240
chaos_stop_dispatchers
chaos_reconcile --require-delivered || fail "events lost or inconsistent (see above)"
pass "Kafka broker restarted mid-run: none lost"
