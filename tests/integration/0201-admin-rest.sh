#!/usr/bin/env bash
# 0201-admin-rest: `hookline-admin serve` against the real Redis.  Bearer auth that leaks nothing,
# endpoint CRUD with pagination, secrets and rotation, enable/disable, recent attempts, changes on
# hl:changes, problem details for every refused request (which change nothing), request limits,
# concurrent PATCHes without a lost write, /metrics and /readyz.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"
TEN=t0201_${PREFIX#hltest_}
EPS=/v1/tenants/$TEN/endpoints
"$BIN/hl-test-topics" -p 1 "$PREFIX.events"
export HOOKLINE_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
start_admin "$T/serve.log" -o "admin.tokens=other_token, $TOKEN" -o admin.max_body=2KiB \
  -o delivery.allow_cidrs=127.0.0.0/8 -o topics.prefix="$PREFIX"
"${R[@]}" SUBSCRIBE hl:changes >"$T/changes" &
HL_PIDS+=($!)
wait_until 5 grep -q '^subscribe$' "$T/changes" || fail "no subscription"

# 1. authentication: 401 + WWW-Authenticate without a valid token, whatever the path
for tok in "" "Bearer" "Bearer nope" "Basic $TOKEN" "Bearer ${TOKEN}x"; do
  CODE=$(curl -s -o "$T/body" -D "$T/hdrs" -w '%{http_code}' ${tok:+-H "Authorization: $tok"} "$API$EPS")
  problem 401 "" "bearer token"
  grep -qi '^www-authenticate: Bearer' "$T/hdrs" || fail "no WWW-Authenticate for '$tok'"
done
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$API/v1/tenants/no_such_tenant_$PREFIX/endpoints/ep_x")
problem 401 "" "bearer token"
sed 's/"instance":"[^"]*"//' "$T/body" >"$T/b1"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$API/v1/no/such/route")
problem 401 "" "bearer token"
sed 's/"instance":"[^"]*"//' "$T/body" | cmp -s - "$T/b1" || fail "401 bodies differ by path"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$API/healthz")
want 200
[ "$(jb 'd["status"]')" = ok ] || fail healthz
pass "authentication"

# 2. create
callj POST "$EPS" '{"url":"http://127.0.0.1:9/hook","types":["invoice.*","customer.created"],
  "description":"billing","rate_limit":{"per_second":5,"burst":10},"headers":{"X-Env":"prod"},
  "timeout_ms":20000,"max_in_flight":3,"metadata":{"team":"billing"}}'
want 201
EP=$(jb 'd["id"]')
SECRET=$(jb 'd["secret"]')
grep -qi "^location: $EPS/$EP" "$T/hdrs" || fail "Location: $(cat "$T/hdrs")"
[ "$(jb '(d["types"], d["rate_limit"], d["headers"], d["timeout_ms"], d["max_in_flight"], d["version"])')" = \
  "(['invoice.*', 'customer.created'], {'per_second': 5, 'burst': 10}, {'X-Env': 'prod'}, 20000, 3, 1)" ] ||
  fail "create body: $(cat "$T/body")"
[ "$("${R[@]}" HGET "hl:ep:$EP" tenant)" = "$TEN" ] || fail "not in Redis"
"${R[@]}" HGET "hl:ep:$EP" secrets | has 'enc:v1:' || fail "secret not sealed"
wait_until 5 grep -q "^$TEN $EP 1$" "$T/changes" || fail "create not published"
pass "create"

# 3. read: no secret in the resource, the secret route has it, other tenants see nothing
call GET "$EPS/$EP"
want 200
grep -q whsec_ "$T/body" && fail "GET returned the secret"
call GET "$EPS/$EP/secret"
want 200
[ "$(jb 'd["secret"]')" = "$SECRET" ] || fail "secret route"
call GET "/v1/tenants/other_$TEN/endpoints/$EP"
problem 404 "" "not found for tenant other_$TEN"
call GET "$EPS/ep_doesnotexist"
problem 404 "" "not found"
pass "read"

# 4. list with pagination
for i in 1 2 3; do
  callj POST "$EPS" "{\"url\":\"https://h$i.example.com/\",\"types\":[\"*\"]}"
  want 201
done
call GET "$EPS?limit=3"
want 200
[ "$(jb 'len(d["items"])')" = 3 ] || fail "page 1: $(cat "$T/body")"
grep -q whsec_ "$T/body" && fail "list returned secrets"
NEXT=$(jb 'd["next_cursor"]')
call GET "$EPS?limit=3&cursor=$NEXT"
want 200
[ "$(jb '(len(d["items"]), d["next_cursor"])')" = "(1, None)" ] || fail "page 2: $(cat "$T/body")"
call GET "/v1/tenants/empty_$TEN/endpoints"
want 200
[ "$(jb 'd["items"]')" = "[]" ] || fail "unknown tenant list"
pass "list"

# 5. PATCH: merge semantics, null resets, merge-patch+json accepted
callj PATCH "$EPS/$EP" '{"description":"billing (eu)","rate_limit":null,"headers":{"X-Env":"eu"}}'
want 200
[ "$(jb '(d["description"], d["rate_limit"], d["headers"], d["url"], d["timeout_ms"], d["version"])')" = \
  "('billing (eu)', None, {'X-Env': 'eu'}, 'http://127.0.0.1:9/hook', 20000, 2)" ] || fail "patch: $(cat "$T/body")"
call PATCH "$EPS/$EP" -H 'Content-Type: application/merge-patch+json' --data-binary '{"timeout_ms":null}'
want 200
[ "$(jb '(d["timeout_ms"], d["version"])')" = "(None, 3)" ] || fail "merge-patch"
wait_until 5 grep -q "^$TEN $EP 3$" "$T/changes" || fail "patch not published"
pass "patch"

# 6. rotation keeps the previous secret for the overlap; a supplied secret is checked
call POST "$EPS/$EP/secret/rotate"
want 200
NEW=$(jb 'd["secret"]')
[ "$NEW" != "$SECRET" ] || fail "same secret after rotate"
[ "$(jb 'len(d["secrets"])')" = 2 ] || fail "previous secret dropped"
callj POST "$EPS/$EP/secret/rotate" '{"secret":"whsec_c2hvcnQ="}'
problem 400 secret "must decode to 24..64 bytes"
callj POST "$EPS/$EP/secret/rotate" '{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}'
want 200
call GET "$EPS/$EP/secret"
[ "$(jb 'd["secret"]')" = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ] || fail "supplied secret not current"
pass "rotate"

# 7. disable / enable
callj POST "$EPS/$EP/disable" '{"reason":"maintenance"}'
want 200
[ "$(jb '(d["status"], d["disabled_reason"])')" = "('disabled', 'maintenance')" ] || fail "disable"
[ "$("${R[@]}" HGET "hl:ep:$EP" status)" = disabled ] || fail "disable not stored"
call POST "$EPS/$EP/enable"
want 200
[ "$(jb 'd["status"]')" = enabled ] || fail "enable"
pass "disable and enable"

# 8. recent attempts, newest first, as the dispatcher writes them
for n in 1 2 3; do
  "${R[@]}" LPUSH "hl:recent:$EP" "{\"event_id\":\"evt_$n\",\"endpoint_id\":\"$EP\",\"attempt\":$n,\"ts\":1795000000000,\"status\":500,\"latency_ms\":12,\"outcome\":\"retry\",\"error\":\"\",\"excerpt\":\"oops\"}" >/dev/null
done
call GET "$EPS/$EP/attempts?limit=2"
want 200
[ "$(jb '[a["event_id"] for a in d["items"]]')" = "['evt_3', 'evt_2']" ] || fail "attempts: $(cat "$T/body")"
call GET "$EPS/ep_doesnotexist/attempts"
want 404
pass "attempts"

# 9. refused requests: problem details naming the field, and nothing changes
BEFORE=$("${R[@]}" HGETALL "hl:ep:$EP" | md5sum)
NSET=$("${R[@]}" SCARD "hl:tenant:$TEN:eps")
NCH=$(grep -c "^$TEN " "$T/changes")
callj POST "$EPS" '{"url":"not a url","types":["a"]}'; problem 400 url "not a valid absolute URL"
callj POST "$EPS" '{"url":"ftp://example.com/","types":["a"]}'; problem 400 url "scheme must be http or https"
callj POST "$EPS" '{"url":"https://u:p@example.com/","types":["a"]}'; problem 400 url "credentials"
callj POST "$EPS" '{"url":"http://10.0.0.7/","types":["a"]}'; problem 400 url "private address"
callj POST "$EPS" '{"url":"http://[::ffff:169.254.169.254]/","types":["a"]}'; problem 400 url "allow it with delivery.allow_cidrs"
callj POST "$EPS" '{"url":"https://example.com/","types":["in voice"]}'; problem 400 types "must be an event type"
callj POST "$EPS" '{"url":"https://example.com/","types":[]}'; problem 400 types "non-empty array"
callj POST "$EPS" '{"url":"https://example.com/"}'; problem 400 types "required"
callj POST "$EPS" '{"url":"https://example.com/","types":["a"],"headers":{"X-A":"1\r\nX-B: 2"}}'; problem 400 headers "CR or LF"
callj POST "$EPS" '{"url":"https://example.com/","types":["a"],"headers":{"Host":"x"}}'; problem 400 headers "set by hookline"
callj POST "$EPS" '{"url":"https://example.com/","types":["a"],"timeout_ms":30001}'; problem 400 timeout_ms "100..30000"
callj POST "$EPS" '{"url":"https://example.com/","types":["a"],"max_in_flight":99999999999}'; problem 400 max_in_flight "must be 0"
callj POST "$EPS" '{"url":"https://example.com/","types":["a"],"rate_limit":{"per_second":0}}'; problem 400 rate_limit.per_second "above 0"
callj POST "$EPS" '{"url":"https://example.com/","types":["a"],"rate_limit":{"per_second":1,"burst":2,"x":1}}'; problem 400 rate_limit.x "unknown field"
callj POST "$EPS" '{"url":"https://example.com/","types":["a"],"colour":"red"}'; problem 400 colour "unknown field"
callj POST "$EPS" '{"url":"https://example.com/","types":["a"],"url":"https://b.example.com/"}'; problem 400 body "duplicate"
callj POST "$EPS" '{"url":'; problem 400 body "not valid JSON"
callj POST "$EPS" '[1,2]'; problem 400 body "must be a JSON object"
call POST "$EPS"; problem 400 body "required"
call POST "$EPS" -H 'Content-Type: text/plain' --data-binary '{"url":"https://example.com/","types":["a"]}'
problem 415 "" "application/json"
callj POST "$EPS" "{\"url\":\"https://example.com/\",\"types\":[\"a\"],\"description\":\"$(head -c 2100 /dev/zero | tr '\0' x)\"}"
problem 413 "" "admin.max_body"
call POST "$EPS" -H 'Content-Type: application/json' --data-binary @<(head -c 100000 /dev/zero | tr '\0' ' ')
want 413
callj POST "/v1/tenants/bad%20tenant/endpoints" '{"url":"https://example.com/","types":["a"]}'; problem 400 tenant "must match"
callj PATCH "$EPS/$EP" '{}'; problem 400 body "fields to change"
callj PATCH "$EPS/$EP" '{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}'; problem 400 secret "rotate"
callj PATCH "$EPS/$EP" '{"url":"http://192.168.1.1/"}'; problem 400 url "private address"
callj PATCH "$EPS/$EP" '{"description":"x","types":["a..b"]}'; problem 400 types "must be an event type"
callj PATCH "$EPS/ep_doesnotexist" '{"description":"x"}'; problem 404 "" "not found"
callj POST "$EPS/$EP/disable" '{"why":"x"}'; problem 400 why "unknown field"
callj POST "$EPS/$EP/enable" '{"reason":"x"}'; problem 400 reason "unknown field"
call DELETE "$EPS/ep_doesnotexist"; problem 404 "" "not found"
call GET "$EPS?limit=0"; problem 400 limit "1..1000"
call GET "$EPS?limt=5"; problem 400 limt "unknown query parameter"
call PUT "$EPS/$EP"; problem 405 "" "method not allowed"
grep -qi '^allow: GET, PATCH, DELETE' "$T/hdrs" || fail "Allow: $(cat "$T/hdrs")"
call GET "/v1/nope"; problem 404 "" "no such resource"
sleep 0.3
[ "$("${R[@]}" HGETALL "hl:ep:$EP" | md5sum)" = "$BEFORE" ] || fail "a refused request changed the endpoint"
[ "$("${R[@]}" SCARD "hl:tenant:$TEN:eps")" = "$NSET" ] || fail "a refused create added an endpoint"
[ "$(grep -c "^$TEN " "$T/changes")" = "$NCH" ] || fail "a refused request published a change"
pass "refused requests change nothing"

# 10. concurrent PATCHes of different fields: none lost
V=$("${R[@]}" HGET "hl:ep:$EP" version)
N=10
for f in description timeout_ms max_in_flight metadata; do
  (
    for ((i = 1; i <= N; i++)); do
      case $f in
      description) b="{\"description\":\"d$i\"}" ;;
      timeout_ms) b="{\"timeout_ms\":$((1000 + i))}" ;;
      max_in_flight) b="{\"max_in_flight\":$i}" ;;
      metadata) b="{\"metadata\":{\"n\":$i}}" ;;
      esac
      c=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' --data-binary "$b" "$API$EPS/$EP")
      [ "$c" = 200 ] || echo "$f $i: HTTP $c" >>"$T/conc.err"
    done
  ) &
  CONC+=($!)
done
wait "${CONC[@]}"
[ ! -s "$T/conc.err" ] || fail "concurrent PATCH failed: $(cat "$T/conc.err")"
call GET "$EPS/$EP"
[ "$(jb '(d["description"], d["timeout_ms"], d["max_in_flight"], d["metadata"], d["version"])')" = \
  "('d$N', $((1000 + N)), $N, {'n': $N}, $((V + 4 * N)))" ] || fail "lost writes: $(cat "$T/body")"
pass "$((4 * N)) concurrent PATCHes, none lost"

# 11. delete
V=$("${R[@]}" HGET "hl:ep:$EP" version)
call DELETE "$EPS/$EP"
want 204
[ "$("${R[@]}" EXISTS "hl:ep:$EP" "hl:recent:$EP")" = 0 ] || fail "keys left after delete"
[ "$("${R[@]}" SISMEMBER "hl:tenant:$TEN:eps" "$EP")" = 0 ] || fail "still in the set"
wait_until 5 grep -q "^$TEN $EP $((V + 1))$" "$T/changes" || fail "delete not published"
call GET "$EPS/$EP"
want 404
pass "delete"

# 12. metrics: requests by route and status, latency histogram
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$API/metrics")
want 200
grep -q "^hookline_admin_http_requests_total{method=\"POST\",route=\"/v1/tenants/{tenant}/endpoints\",code=\"201\"} 4$" "$T/body" ||
  fail "create counter: $(grep requests_total "$T/body" | head -20)"
grep -q '^hookline_admin_http_requests_total{method="",route="unmatched",code="401"} [0-9]' "$T/body" || fail "401 counter"
grep -q "^hookline_admin_http_request_duration_seconds_count{method=\"PATCH\",route=\"/v1/tenants/{tenant}/endpoints/{id}\"} $((4 * N + 2 + 5))$" "$T/body" ||
  fail "PATCH histogram count: $(grep 'seconds_count{method="PATCH"' "$T/body")"
grep -q '^hookline_admin_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"} 1$' "$T/body" || fail "healthz bucket"
pass "metrics"

# 13. readiness: Redis answers and the events topic exists
wait_until 10 sh -c "curl -s '$API/readyz' | grep -q '\"status\":\"ready\"'" || fail "not ready: $(curl -s "$API/readyz")"
pass "readyz"

# 14. a client that never finishes its request is dropped (evhttp timeout, 10 s)
python3 - "${API#http://}" <<'PY' || fail "slow client kept its connection"
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
s.settimeout(20)
t = time.time()
try:
    data = s.recv(4096)
except socket.timeout:
    sys.exit(1)
sys.exit(0 if time.time() - t < 15 else 1)
PY
pass "slow client dropped"

kill "$ADMIN_PID"
wait "$ADMIN_PID" || fail "serve exited $? on SIGTERM"
grep -q "shutting down" "$T/serve.log" || fail "no shutdown line"
for id in $("${R[@]}" SMEMBERS "hl:tenant:$TEN:eps"); do "$BIN/hookline-admin" endpoint delete "$id" >/dev/null 2>&1; done
pass "clean shutdown"
