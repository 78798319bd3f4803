#!/usr/bin/env bash
# 0413-dispatch-conn-reuse: a dispatcher at its process-wide cap keeps its connections. 16
# endpoints on 4 receivers (4 host:port pairs) take 2 400 deliveries of 50 ms each through
# dispatcher.max_in_flight=64; hookline_http_connections_opened_total stays within 4 x 64. The
# connection cache keeps as many idle connections as there can be busy ones, so ~120 are opened
# (up to 128 live at once); sized at exactly max_in_flight it closed and reopened connections
# all run long: ~1 550 opened for the 2 400 deliveries. Also: a dispatcher started
# under a soft open-files limit of 1024 raises it to what its max_in_flight needs.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

NEV=150
for r in 0 1 2 3; do
  receiver_start "r$r" '/c=200@50'
  for e in 0 1 2 3; do
    ep_create "ep_${PREFIX#hltest_}_$r$e" "$TENANT" "http://127.0.0.1:$RPORT/c" '["c.*"]' max_in_flight 8
  done
done
dispatcher_start d -o http.listen=127.0.0.1:0 -o dispatcher.max_in_flight=64
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d.log" | head -1)
for i in $(seq 1 $NEV); do event "evt_$i" "$TENANT" c.x; done | publish
delivered() { echo $(($(rec_count r0 /c 200) + $(rec_count r1 /c 200) + $(rec_count r2 /c 200) + $(rec_count r3 /c 200))); }
all() { [ "$(delivered)" -eq $((NEV * 16)) ]; }
wait_until "$(scaled 60)" all || fail "delivered $(delivered)/$((NEV * 16))"
curl -s "http://127.0.0.1:$MPORT/metrics" >"$T/metrics"
opened=$(sed -n 's/^hookline_http_connections_opened_total \([0-9]*\)$/\1/p' "$T/metrics")
[ -n "$opened" ] || fail "no hookline_http_connections_opened_total: $(grep -c . "$T/metrics") lines"
queued=$(sed -n 's/^hookline_deliveries_queued_total{cap="process"} \([0-9]*\)$/\1/p' "$T/metrics")
[ "${queued:-0}" -gt 0 ] || fail "the process cap never held a delivery back: the test did not load it"
echo "connections opened: $opened for $((NEV * 16)) deliveries (queued at the process cap: $queued)"
[ "$opened" -ge 4 ] && [ "$opened" -le 256 ] || fail "connections opened $opened, want 4..256"
pass "at the process cap, 2400 deliveries over 4 hosts opened $opened connections (<= 4 x max_in_flight)"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"

# the open-files limit: need 2 x max_in_flight + 256
hard=$(ulimit -Hn)
ulimit -Sn 1024
dispatcher_start d2 -o dispatcher.max_in_flight=2000
soft=$(awk '/^Max open files/ {print $4}' "/proc/$DPID/limits")
if [ "$hard" = unlimited ] || [ "$hard" -ge 4256 ]; then
  [ "$soft" -eq 4256 ] || fail "soft open-files limit $soft, want 4256"
  has 'open files limit raised from 1024 to 4256' "$T/d2.log" || fail "no log line: $(grep -i 'open files' "$T/d2.log")"
  pass "soft open-files limit raised from 1024 to 4256 for max_in_flight 2000"
else
  has "open files limit $soft is below the 4256" "$T/d2.log" || fail "no warning: $(grep -i 'open files' "$T/d2.log")"
  pass "hard open-files limit $hard is short; the dispatcher says so"
fi
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
