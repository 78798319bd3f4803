#!/usr/bin/env bash
# run.sh - end-to-end dispatcher throughput on the local stack (by hand, never in ctest):
# N events (default 20000) of one tenant spread over the partitions, one or more endpoints on
# hl-test-receiver, one dispatcher; prints events/s and deliveries/s from the first publish to
# the last 2xx, and the dispatcher's end-to-end latency histogram summary.
#   HOOKLINE_BIN_DIR=build/bin bash tests/bench/dispatch/run.sh [N] [ENDPOINTS]
source "$(dirname "$0")/../../integration/lib.sh"
source "$(dirname "$0")/../../integration/dispatcher.sh"
N=${1:-20000} EPS=${2:-1}
receiver_start r
for e in $(seq 1 "$EPS"); do ep_create "ep_b${e}_$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/e$e" '["*"]'; done
dispatcher_start d -o topics.partitions=6 -o http.listen=127.0.0.1:0
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d.log" | head -1)
t0=$(date +%s.%N)
publish_many "$N" bench.event
all() { [ "$(curl -s "http://127.0.0.1:$MPORT/metrics" | sed -n 's/^hookline_deliveries_total{outcome="ok"} //p')" = "$((N * EPS))" ]; }
wait_until 300 all || fail "not all delivered"
t1=$(date +%s.%N)
python3 -c "
d = $t1 - $t0
print('events=%d endpoints=%d seconds=%.2f events/s=%.0f deliveries/s=%.0f' % ($N, $EPS, d, $N / d, $N * $EPS / d))"
curl -s "http://127.0.0.1:$MPORT/metrics" | grep -E '^hookline_(end_to_end|attempt_duration)_seconds_(sum|count)'
kill -TERM "$DPID"; wait "$DPID"
