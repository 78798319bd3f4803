#!/usr/bin/env bash
# 0502-fairness: tenant A's burst (50 000 events to a slow endpoint) does not starve tenant B:
# with the process's slots all taken by A, endpoints with waiting work are admitted round-robin,
# so B's 100 events, published after A's, all arrive within seconds, long before A's backlog.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

NA=50000
NB=100
TA=${TENANT}a
TB=${TENANT}b
receiver_start r '/slow=200@200'
U="http://127.0.0.1:$RPORT"
ep_admin EA "$TA" "$U/slow" '*' --max-in-flight 1000
ep_admin EB "$TB" "$U/fast" '*'
# 20 process slots, all wanted by A; a window big enough that nothing spills (the backlog stays
# in the dispatcher's queues, where admission order matters)
dispatcher_start d -o dispatcher.max_in_flight=20 -o dispatcher.ack_window=100000 \
  -o http.listen=127.0.0.1:0
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d.log" | head -1)
python3 -c "
import sys
for i in range(1, $NA + 1):
    sys.stdout.write('{\"id\":\"a_%d\",\"tenant\":\"$TA\",\"type\":\"x.y\",\"data\":{}}\n' % i)
" | kcat -P -b "$KAFKA" -t "$PREFIX.events" -p 0
queued() { curl -s "http://127.0.0.1:$MPORT/metrics" | has -E '^hookline_deliveries_queued_total\{cap="process"\} [0-9]{4,}'; }
wait_until 60 queued || fail "A's backlog never queued for the process slots"
t0=$(date +%s.%N)
for i in $(seq 1 $NB); do event "b_$i" "$TB" x.y; done | kcat -P -b "$KAFKA" -t "$PREFIX.events" -p 1
b_all() { [ "$(rec_count r /fast 200)" -ge $NB ]; }
wait_until 15 b_all || fail "B starved: $(rec_count r /fast 200)/$NB after 15 s (A: $(rec_count r /slow))"
t1=$(date +%s.%N)
a=$(rec_count r /slow)
[ "$a" -lt $NA ] || fail "A finished first"
pass "B's $NB events arrived $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s after publishing, while A had $a/$NA"
