#!/usr/bin/env bash
# 0404-dispatch-crash: kill -9 a dispatcher in the middle of a run and start it again: every
# event is delivered, and the duplicates stay within the in-flight window (partitions x
# dispatcher.ack_window), thanks to stored offsets = lowest incomplete and hl:done markers.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

N=3000 PARTS=3 WIN=20
receiver_start r '*=200@40'
ep_create "ep_c$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/c" '["*"]'
OPTS=(-o topics.partitions=$PARTS -o dispatcher.ack_window=$WIN -o kafka.session.timeout.ms=6000)
dispatcher_start d1 "${OPTS[@]}"
publish_many $N crash.test
some() { [ "$(rec_count r)" -ge 600 ]; }
wait_until 30 some || fail "no progress before the crash"
kill -9 "$DPID"
wait "$DPID" 2>/dev/null || true
at_kill=$(rec_count r)
dispatcher_start d2 "${OPTS[@]}"
done_all() { set -- $(delivery_stats r $N); [ "$3" -eq 0 ]; }
wait_until 60 done_all || fail "lost events: $(delivery_stats r $N) (distinct dups missing)"
sleep 1
read -r distinct dups missing < <(delivery_stats r $N)
echo "killed at $at_kill requests; distinct=$distinct duplicates=$dups missing=$missing (bound $((PARTS * WIN)))"
[ "$missing" -eq 0 ] && [ "$distinct" -eq $N ] || fail "lost events"
[ "$dups" -le $((PARTS * WIN)) ] || fail "$dups duplicates exceed the in-flight window $((PARTS * WIN))"
pass "kill -9 + restart: none lost, $dups duplicates <= $((PARTS * WIN))"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
