#!/usr/bin/env bash
# 0500-ratelimit-shared: two dispatchers share one endpoint's rate limit (50/s, GCRA in Redis,
# hl:rl:<id>): over 2000 events the receiver sees 50/s +- 10 % in every whole 5-second window,
# and every event arrives, each once, without using up attempts.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

N=2000
receiver_start r
ep_admin EP "$TENANT" "http://127.0.0.1:$RPORT/rl" 'r.*' --rate 50 --burst 10
HL_EP_KEYS+=("hl:rl:$EP")
dispatcher_start d1 -o http.listen=127.0.0.1:0
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d1.log" | head -1)
dispatcher_start d2 -o http.listen=127.0.0.1:0
M2=$(sed -n "s/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p" "$T/d2.log" | head -1)
publish_many $N r.x
all() { [ "$(rec_count r /rl 200)" -ge $N ]; }
wait_until $((N / 50 + 60)) all || fail "only $(rec_count r /rl 200)/$N delivered"
sleep 1
read -r distinct dups missing < <(delivery_stats r $N)
[ "$missing" -eq 0 ] || fail "missing $missing"
[ "$dups" -eq 0 ] || fail "$dups duplicates"
python3 - "$T/r.ndjson" <<'PY' || fail "rate outside 50/s +- 10 % in a 5 s window"
import json, math, sys, collections
t = sorted(json.loads(l)["t"] for l in open(sys.argv[1]) if l.endswith("\n"))
w = collections.Counter(math.floor(x / 5) for x in t)
keys = sorted(w)[1:-1]  # whole windows only: the first and last are partial
rates = [w[k] / 5 for k in keys]
print("per-window rate:", rates, "overall %.1f/s" % ((len(t) - 1) / (t[-1] - t[0])))
sys.exit(0 if len(rates) >= 5 and all(45 <= r <= 55 for r in rates) else 1)
PY
# every delivery took a token from Redis (the shared GCRA); neither dispatcher fell back
tokens=0
for m in "$MPORT" "$M2"; do
  metrics=$(curl -s "http://127.0.0.1:$m/metrics")
  grep -q '^hookline_rate_limit_fallback 0' <<<"$metrics" || fail "fell back to local limits"
  n=$(sed -n 's/^hookline_rate_limit_tokens_total{source="redis"} //p' <<<"$metrics")
  echo "dispatcher :$m: ${n:-0} tokens from Redis, $(sed -n 's/^hookline_deliveries_rate_deferred_total //p' <<<"$metrics") deferred to a tier"
  tokens=$((tokens + ${n:-0}))
done
[ "$tokens" -ge $N ] || fail "only $tokens tokens from Redis for $N deliveries"
consume "$PREFIX.attempts" | python3 -c "
import json, sys
a = [json.loads(l) for l in sys.stdin]
assert all(x['attempt'] == 1 for x in a), 'attempts used'" || fail "throttled deliveries used attempts"
pass "two dispatchers held 50/s +- 10 % per 5 s window; $N delivered once each"
kill -TERM "$DPID"; wait "$DPID" || fail "d2 exit $?"
