#!/usr/bin/env bash
# 0406-dispatch-redis-outage: with its Redis gone, a dispatcher keeps delivering to tenants it
# has cached, holds events of uncached tenants in the ack window (retried, never dropped), and
# delivers them once Redis is back.  Uses a private redis-server (the shared one stays up).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

RP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis_up() {
  redis-server --port "$RP" --bind 127.0.0.1 --dir "$T" --dbfilename dump.rdb --appendonly no \
    --save "" >"$T/redis.log" 2>&1 &
  RPID=$!
  HL_PIDS+=($RPID)
  wait_until 10 redis-cli -p "$RP" PING >/dev/null 2>&1 || fail "private redis did not start"
}
redis_up
REDIS=(redis-cli -h 127.0.0.1 -p "$RP")
TB=${TENANT}b
receiver_start r
ep_create "ep_a$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/a" '["*"]'
ep_create "ep_b$PREFIX" "$TB" "http://127.0.0.1:$RPORT/b" '["*"]'
TC=${TENANT}c
ep_create "ep_c$PREFIX" "$TC" "http://127.0.0.1:$RPORT/c" '["*"]'
"${REDIS[@]}" SAVE >/dev/null
DOPTS=(-o redis.port="$RP" -o redis.timeout=500ms -o dispatcher.cache_ttl=2s
  -o dispatcher.drain_timeout=3s -o kafka.session.timeout.ms=6000)
dispatcher_start d "${DOPTS[@]}" -o http.listen=127.0.0.1:0
MPORT=$(sed -n 's/.*http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/d.log" | head -1)
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/readyz")" = "$1" ]; }

event evt_a0 "$TENANT" x.y | publish
first() { [ "$(rec_count r /a)" -eq 1 ]; }
wait_until 15 first || fail "no delivery with Redis up"
kill -9 "$RPID"; wait "$RPID" 2>/dev/null || true
sleep 3 # past cache_ttl: the entry is stale, served while Redis is unreachable
for i in 1 2 3; do event "evt_a$i" "$TENANT" x.y; done | publish
for i in 1 2 3; do event "evt_b$i" "$TB" x.y; done | publish "$TB"
cached() { [ "$(rec_count r /a)" -eq 4 ]; }
wait_until 15 cached || fail "cached tenant stopped while Redis is down ($(rec_count r /a)/4)"
sleep 2
[ "$(rec_count r /b)" -eq 0 ] || fail "uncached tenant delivered without Redis?"
ready 503 || fail "/readyz says ready without Redis"
pass "Redis down: the cached tenant flows, the uncached one waits, /readyz 503"
redis_up
back() { [ "$(rec_count r /b)" -eq 3 ]; }
wait_until 30 back || fail "uncached tenant's events not delivered after Redis came back ($(rec_count r /b)/3)"
wait_until 10 ready 200 || fail "/readyz not ready after Redis came back"
pass "Redis back: the waiting events were delivered, /readyz 200"

# SIGTERM while an uncached tenant's event waits for Redis: exit 0 in time, the event is not
# committed, and the next dispatcher delivers it
"${REDIS[@]}" SAVE >/dev/null
kill -9 "$RPID"; wait "$RPID" 2>/dev/null || true
event evt_c1 "$TC" x.y | publish "$TC"
sleep 2
t0=$(date +%s)
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || { tail -3 "$T/d.log"; fail "exit $rc"; }
[ $(( $(date +%s) - t0 )) -le 4 ] || fail "drain took longer than drain_timeout"
redis_up
dispatcher_start d2 "${DOPTS[@]}"
third() { [ "$(rec_count r /c)" -eq 1 ]; }
wait_until 30 third || fail "the event that waited during the drain was lost"
pass "SIGTERM during the outage: exit 0, the waiting event delivered by the next dispatcher"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
