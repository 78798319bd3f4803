#!/usr/bin/env bash
# 0702-admin-hardening: the REST API against hostile clients. Bad or missing bearer tokens get
# one 401 that says nothing more (same body whatever the token or path, no token echoed);
# oversized bodies and headers are refused; slow clients (headers or body a byte a second) are
# cut off within admin.request_timeout while other clients are served; answers carry no internal
# error text (Redis address, errno strings) even when Redis is down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"
TEN=t0702_${PREFIX#hltest_}
EPS=/v1/tenants/$TEN/endpoints
start_admin "$T/serve.log" -o "admin.tokens=$TOKEN" -o admin.max_body=2KiB -o admin.request_timeout=3s \
  -o "redis.host=$HOOKLINE_REDIS_HOST" -o "redis.port=$HOOKLINE_REDIS_PORT" -o topics.prefix="$PREFIX"
PORT=${API##*:}

# 1. bearer tokens: one answer for every wrong credential, nothing echoed
rm -f "$T/ref"
for tok in "" "Bearer" "Bearer " "Bearer nope" "bearer ${TOKEN}x" "Bearer ${TOKEN:0:${#TOKEN}-1}" \
  "Basic $(printf 'u:%s' "$TOKEN" | base64)" "Bearer  $TOKEN" "Bearer ${TOKEN}, $TOKEN" "Token $TOKEN"; do
  for p in "$EPS" "$EPS/ep_x/secret" /v1/nope; do
    CODE=$(curl -s -o "$T/body" -D "$T/hdrs" -w '%{http_code}' ${tok:+-H "Authorization: $tok"} "$API$p")
    problem 401 "" "missing or invalid bearer token"
    grep -q "$TOKEN" "$T/body" "$T/hdrs" && fail "401 echoes the token for '$tok'"
    sed 's/"instance":"[^"]*"//' "$T/body" >"$T/b"
    [ -f "$T/ref" ] || cp "$T/b" "$T/ref"
    cmp -s "$T/b" "$T/ref" || fail "401 for '$tok' $p differs: $(cat "$T/body")"
  done
done
call GET "$EPS"
want 200
grep -q 'CRYPTO_memcmp(digest, srv->token_sha\[i\], 32)' "$HOOKLINE_SOURCE_DIR/admin/server.c" ||
  fail "token comparison is no longer CRYPTO_memcmp over digests"
pass "bad or missing tokens: one identical 401, nothing echoed; the right token works"

# 2. sizes: body over admin.max_body, far over it, headers over 16 KiB
head -c 3000 /dev/zero | tr '\0' x | sed 's/^/{"description":"/; s/$/"}/' >"$T/big.json"
call POST "$EPS" -H 'Content-Type: application/json' --data-binary @"$T/big.json"
problem 413 "" "admin.max_body"
head -c 8000000 /dev/zero | tr '\0' x >"$T/huge"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' --data-binary @"$T/huge" "$API$EPS" || true)
case $CODE in 413 | 000) ;; *) fail "8 MB body: HTTP $CODE" ;; esac
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -H "X-Pad: $(head -c 20000 /dev/zero | tr '\0' a)" "$API$EPS" || true)
case $CODE in 400 | 413 | 431 | 000) ;; *) fail "20 KB header: HTTP $CODE" ;; esac
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  $(for i in $(seq 1 400); do printf -- '-H X-H%d:%s ' "$i" aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; done) "$API$EPS" || true)
case $CODE in 400 | 413 | 431 | 000) ;; *) fail "400 headers: HTTP $CODE" ;; esac
call GET "$EPS"
want 200
pass "413 over admin.max_body, oversized bodies and headers refused, server still serving"

# 3. slow clients: 4 connections dripping headers, 1 dripping a body, a byte a second; each must
# be closed within request_timeout (3 s) + sweep slack, while curl keeps getting answers
python3 - "$PORT" "$(scaled 9)" "$TOKEN" >"$T/slow.out" 2>&1 <<'PY' &
import socket, sys, threading, time
port, limit, tok = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
results = []
def drip(head, body):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head)
    t0 = time.monotonic()
    closed = None
    for b in body:
        try:
            s.sendall(bytes([b]))
            s.settimeout(1.0)
            try:
                if s.recv(4096) == b"":
                    closed = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
        except OSError:
            closed = time.monotonic() - t0
            break
        if time.monotonic() - t0 > limit + 5:
            break
    results.append(closed)
hdr = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
post = ("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/json\r\nContent-Length: 300\r\n\r\n" % tok).encode()
ts = [threading.Thread(target=drip, args=(b"", hdr)) for _ in range(4)]
ts.append(threading.Thread(target=drip, args=(post, b"{" + b" " * 299)))
for t in ts: t.start()
for t in ts: t.join()
print("closed after", results)
bad = [r for r in results if r is None or r > limit]
sys.exit(1 if bad else 0)
PY
SLOW=$!
sleep 1
served=0
t0=$(date +%s)
while kill -0 "$SLOW" 2>/dev/null && [ $(($(date +%s) - t0)) -lt $(scaled 20) ]; do
  s=$(date +%s%N)
  CODE=$(curl -s -m 2 -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$API$EPS" || true)
  [ "$CODE" = 200 ] || fail "an ordinary client was not served during the slow clients: HTTP $CODE"
  served=$((served + 1))
  sleep 0.3
done
wait "$SLOW" || fail "slow clients not cut off in time: $(cat "$T/slow.out")"
[ "$served" -ge 3 ] || fail "only $served ordinary requests during the slow clients"
curl -s "$API/metrics" | has '^hookline_admin_slow_connections_closed_total [5-9]' ||
  fail "slow closes not counted: $(curl -s "$API/metrics" | grep slow)"
grep -q 'admin.request_timeout' "$T/serve.log" || fail "slow close not logged"
pass "slow headers and bodies cut off ($(cat "$T/slow.out")), $served other requests served meanwhile"

# a keep-alive client making requests one after another is not cut: each request restarts the clock
python3 - "$PORT" "$TOKEN" <<'PY' || fail "keep-alive client cut"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for i in range(3):
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(5)
    assert b"200 OK" in s.recv(4096), "no answer on request %d" % i
    time.sleep(2)
PY
pass "keep-alive requests 2 s apart on one connection keep working"

# 4. no internal error text: Redis down answers 503 without its address or errno text
kill "$ADMIN_PID"
wait "$ADMIN_PID" || true
start_admin "$T/serve2.log" -o "admin.tokens=$TOKEN" -o redis.host=127.0.0.1 -o redis.port=1 \
  -o redis.timeout=500ms -o topics.prefix="$PREFIX"
PORT=${API##*:}
for p in "$EPS" "$EPS/ep_x" "$EPS/ep_x/attempts"; do
  call GET "$p"
  problem 503 "" "redis: unavailable"
done
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$API/readyz")
want 503
for f in "$T/body" "$T/hdrs"; do
  grep -qiE '127\.0\.0\.1:1|connection refused|errno|\.c:[0-9]' "$f" && fail "internal detail in an answer: $(cat "$f")"
done
grep -q 'Connection refused' "$T/serve2.log" || fail "the cause is not logged either"
python3 - "$PORT" <<'PY' >"$T/garbage.out" || true
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GARBAGE \x00\xff /../../etc HTTP/9.9\r\n\r\n")
s.settimeout(5)
print(s.recv(4096).decode("latin-1"))
PY
grep -qiE 'libevent|\.c:[0-9]|errno' "$T/garbage.out" && fail "garbage request answer: $(cat "$T/garbage.out")"
pass "Redis down: 503 'redis: unavailable', /readyz 503, the cause only in the log"
