#!/usr/bin/env bash
# 0405-dispatch-rebalance: three dispatchers in one group (cooperative-sticky); one gets SIGTERM
# mid-run while slow deliveries are in flight: it drains, hands what still runs to the first
# retry tier, exits 0 within dispatcher.drain_timeout, the others take over its partitions, and
# every event is delivered.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

N=3000 PARTS=6 WIN=20 DRAIN=4 NS=30
receiver_start r '/s=200@6000' '*=200@40'
ep_create "ep_g$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/g" '["rebalance.*"]'
ep_create "ep_s$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/s" '["slow.test"]' timeout_ms 10000
OPTS=(-o topics.partitions=$PARTS -o dispatcher.ack_window=$WIN -o kafka.session.timeout.ms=6000
  -o dispatcher.drain_timeout=${DRAIN}s -o http.listen=127.0.0.1:0)
declare -A DP
for n in 1 2 3; do dispatcher_start d$n "${OPTS[@]}"; DP[$n]=$DPID; done
balanced() { [ "$(grep -c '"assigned ' "$T/d1.log")" -ge 1 ] && grep -q 'revoked' "$T/d1.log"; }
wait_until 20 balanced || true
# N/2 fast events, the slow ones, N/2 more: SIGTERM lands while slow ones run and fast ones wait
publish_many $((N / 2)) rebalance.test
for i in $(seq 1 $NS); do printf 's%s|{"id":"slow_%s","tenant":"%s","type":"slow.test","data":{}}\n' $i $i "$TENANT"; done |
  kcat -P -b "$KAFKA" -t "$PREFIX.events" -K '|'
publish_many_from $((N / 2 + 1)) $N rebalance.test
some() { [ "$(rec_count r /s)" -ge 10 ]; }
wait_until 30 some || fail "no progress"
# stop the one with the most deliveries in flight (the test is about the hand-off)
pick() {
  local n port inflight best=0
  V=0
  for n in 1 2 3; do
    port=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d$n.log" | head -1)
    inflight=$(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^hookline_deliveries_in_flight //p')
    if [ "${inflight:-0}" -gt "$best" ]; then best=$inflight; D2=d$n; V=${DP[$n]}; fi
  done
  [ "$best" -ge 5 ] && echo "$D2: $best deliveries in flight"
}
wait_until 10 pick || fail "nothing in flight anywhere"
t0=$(date +%s.%N)
kill -TERM "$V"
rc=0; wait "$V" || rc=$?
took=$(python3 -c "print(round($(date +%s.%N) - $t0, 2))")
grep -h 'assigned\|revoked\|drain\|"warn"\|"error"' "$T/$D2.log" | grep -v secret_key | cut -c60-260
echo "SIGTERM'd dispatcher exited $rc after $took s (drain_timeout $DRAIN s)"
[ "$rc" -eq 0 ] || { tail -5 "$T/$D2.log"; fail "exit $rc"; }
python3 -c "import sys; sys.exit(0 if $took <= $DRAIN else 1)" || fail "exit took $took s > $DRAIN s"
grep -q 'handing [1-9][0-9]* in-flight' "$T/$D2.log" || fail "no hand-off of in-flight deliveries in the log"
done_all() { set -- $(delivery_stats r $N); [ "$3" -eq 0 ]; }
wait_until 60 done_all || fail "lost events: $(delivery_stats r $N) (distinct dups missing)"
read -r distinct dups missing < <(delivery_stats r $N)
echo "distinct=$distinct duplicates=$dups missing=$missing"
[ "$missing" -eq 0 ] || fail "lost events"
[ "$dups" -le $((PARTS * WIN)) ] || fail "$dups duplicates exceed the in-flight window $((PARTS * WIN))"
pass "SIGTERM mid-run: exit 0 in $took s, none lost, $dups duplicates"
slow_ok() {
  [ "$(consume "$PREFIX.attempts" | grep '"outcome":"ok"' | grep -o '"event_id":"slow_[0-9]*"' | sort -u | wc -l)" -eq $NS ]
}
wait_until 40 slow_ok || fail "slow deliveries handed off were not all delivered later"
pass "$NS slow deliveries cut by the drain were delivered by the others"
for n in 1 2 3; do
  [ "d$n" = "$D2" ] && continue
  p=${DP[$n]}
  kill -TERM "$p"; rc=0; wait "$p" || rc=$?; [ "$rc" -eq 0 ] || fail "exit $rc"
done
