#!/usr/bin/env bash
# 0407-dispatch-concurrency: an endpoint's max_in_flight caps its concurrent requests (the
# rest wait for a slot) while another endpoint of the same events is served at once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

receiver_start r '/slow=200@500'
U="http://127.0.0.1:$RPORT"
ep_admin ESLOW "$TENANT" "$U/slow" 'c.*' --max-in-flight 2
ep_admin EFAST "$TENANT" "$U/fast" 'c.*'
dispatcher_start d -o http.listen=127.0.0.1:0
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d.log" | head -1)
for i in $(seq 1 10); do event "evt_$i" "$TENANT" c.x; done | publish
fast() { [ "$(rec_count r /fast 200)" -eq 10 ]; }
wait_until 3 fast || fail "the uncapped endpoint waited for the capped one"
slow() { [ "$(rec_count r /slow 200)" -eq 10 ]; }
wait_until 20 slow || fail "capped endpoint: $(rec_count r /slow 200)/10"
python3 - "$T/r.ndjson" <<'PY' || fail "more than 2 concurrent requests to the capped endpoint"
import json, sys
t = sorted(json.loads(l)["t"] for l in open(sys.argv[1]) if '"/slow"' in l)
gaps = [round(b - a, 3) for a, b in zip(t, t[2:])]
print("t[i+2]-t[i]:", gaps)
sys.exit(0 if min(gaps) >= 0.45 else 1)
PY
curl -s "http://127.0.0.1:$MPORT/metrics" | has '^hookline_deliveries_queued_total{cap="endpoint"} 8$' ||
  fail "queued metric: $(curl -s "http://127.0.0.1:$MPORT/metrics" | grep queued_total)"
pass "max_in_flight 2 holds; the other endpoint is not held up"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
