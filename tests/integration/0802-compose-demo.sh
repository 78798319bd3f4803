#!/usr/bin/env bash
# 0802-compose-demo: the compose demo's own pieces, run for real outside containers (there is
# no Docker engine here): deploy/docker/demo-receiver.py on loopback, `hookline-admin serve`, a
# dispatcher, and deploy/docker/demo-setup.sh with the compose service names replaced by
# loopback addresses. The receiver must print six verified deliveries (five published with
# hookline-publish, one through POST /v1/events); a second setup run must not register the
# endpoint again; a forged request must be printed as REJECTED.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"
SRC=${HOOKLINE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

HOST=127.0.0.1 PORT=0 DEMO_SECRET=$SECRET python3 -u "$SRC/deploy/docker/demo-receiver.py" >"$T/recv.log" 2>&1 &
HL_PIDS+=($!)
wait_until 10 grep -q 'listening on port' "$T/recv.log" || { cat "$T/recv.log" >&2; fail "demo receiver did not start"; }
RP=$(sed -n 's/.*listening on port //p' "$T/recv.log")
export HOOKLINE_TOPICS_PREFIX=$PREFIX HOOKLINE_DELIVERY_ALLOW_CIDRS=127.0.0.0/8 HOOKLINE_ADMIN_TOKENS=tok-$PREFIX
"$BIN/hookline-admin" -o http.listen=127.0.0.1:0 serve >"$T/admin.log" 2>&1 &
HL_PIDS+=($!)
wait_until 20 grep -q 'admin api listening on' "$T/admin.log" || { cat "$T/admin.log" >&2; fail "admin did not start"; }
AP=$(sed -n 's/.*admin api listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/admin.log")
dispatcher_start d
HL_EP_KEYS+=("hl:tenant:$TENANT:eps")
setup() {
  PATH=$BIN:$PATH DEMO_SECRET=$SECRET DEMO_TENANT=$TENANT DEMO_URL=http://127.0.0.1:$RP/webhooks \
    DEMO_ADMIN_URL=http://127.0.0.1:$AP bash "$SRC/deploy/docker/demo-setup.sh"
}
setup >"$T/setup1.log" 2>&1 || { cat "$T/setup1.log" >&2; fail "demo-setup.sh failed"; }
ID=$(grep -o 'created ep_[A-Za-z0-9]*' "$T/setup1.log" | head -1 | cut -d' ' -f2)
[ -n "$ID" ] || { cat "$T/setup1.log" >&2; fail "setup did not create an endpoint"; }
HL_EP_KEYS+=("hl:ep:$ID" "hl:recent:$ID")
six() { [ "$(grep -c ' verified$' "$T/recv.log")" -ge 6 ]; }
wait_until 60 six || { cat "$T/recv.log" >&2; fail "want 6 verified deliveries"; }
[ "$(grep -c ' invoice.paid verified$' "$T/recv.log")" -eq 5 ] && grep -q ' customer.created verified$' "$T/recv.log" ||
  { cat "$T/recv.log" >&2; fail "wrong deliveries"; }
pass "demo-setup.sh registered the endpoint and published 6 events; demo-receiver.py verified all 6"

setup >"$T/setup2.log" 2>&1 || { cat "$T/setup2.log" >&2; fail "second demo-setup.sh failed"; }
grep -q 'already registered' "$T/setup2.log" || fail "the second setup registered again: $(cat "$T/setup2.log")"
n=$("${REDIS[@]}" SCARD "hl:tenant:$TENANT:eps")
[ "$n" -eq 1 ] || fail "tenant has $n endpoints after two setups"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'webhook-id: evt_forged' -H "webhook-timestamp: $(date +%s)" \
  -H 'webhook-signature: v1,AAAA' -d '{"type":"x"}' "http://127.0.0.1:$RP/webhooks")
[ "$code" = 401 ] && grep -q 'delivery evt_forged x REJECTED' "$T/recv.log" || fail "forged request: HTTP $code"
pass "a second setup is idempotent; a forged request is REJECTED"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "dispatcher exit $rc"
