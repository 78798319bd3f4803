#!/usr/bin/env bash
# 0200-admin-cli: `hookline-admin endpoint ...` against the real Redis.  Create/get/list/update/
# rotate/disable/enable/delete land in the hl:ep hash and the tenant set, secrets are sealed at
# rest, every write publishes "<tenant> <id> <version>" on hl:changes, every bad input gets its
# message and exit code and changes nothing, and concurrent updates lose no write.
. "$(dirname "$0")/lib.sh"
TEN=t0200_${PREFIX#hltest_}
R=(redis-cli -h "$HOOKLINE_REDIS_HOST" -p "$HOOKLINE_REDIS_PORT")
export HOOKLINE_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
ADM=("$BIN/hookline-admin" -o delivery.allow_cidrs=127.0.0.0/8)
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
# expect RC CMD...: run, keep stdout in $T/out and stderr in $T/err, check the exit code
expect() {
  local want=$1 rc=0; shift
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "exit $rc, want $want: $* :: $(cat "$T/err")"
}
errmsg() { grep -q -- "$1" "$T/err" || fail "stderr lacks '$1': $(cat "$T/err")"; }

# every change on hl:changes, from now on
"${R[@]}" SUBSCRIBE hl:changes >"$T/changes" &
HL_PIDS+=($!)
wait_until 5 grep -q '^subscribe$' "$T/changes" || fail "no subscription"
changes_of() { grep "^$TEN $1 " "$T/changes" | cut -d' ' -f3 | tr '\n' ' '; }

# 1. create: printed once with its secret; the hash, the set and the change are in Redis
expect 0 "${ADM[@]}" -o json endpoint create --tenant "$TEN" --url http://127.0.0.1:9/hook \
  --types 'invoice.*, customer.created' --rate 50 --burst 100 --header 'X-Env: prod' \
  --description 'billing prod' --metadata '{"team":"billing"}' --timeout 10s --max-in-flight 4
EP=$(json 'd["id"]' <"$T/out")
SECRET=$(json 'd["secret"]' <"$T/out")
[[ $EP =~ ^ep_[A-Za-z0-9]{22}$ ]] || fail "id $EP"
[[ $SECRET =~ ^whsec_[A-Za-z0-9+/]{43}=$ ]] || fail "secret $SECRET"
[ "$(json 'd["types"]' <"$T/out")" = "['invoice.*', 'customer.created']" ] || fail "types"
[ "$(json 'd["rate_limit"]' <"$T/out")" = "{'per_second': 50, 'burst': 100}" ] || fail "rate"
[ "$(json '(d["headers"], d["timeout_ms"], d["max_in_flight"], d["metadata"])' <"$T/out")" = \
  "({'X-Env': 'prod'}, 10000, 4, {'team': 'billing'})" ] || fail "options: $(cat "$T/out")"
[ "$("${R[@]}" HGET "hl:ep:$EP" url)" = http://127.0.0.1:9/hook ] || fail "url in Redis"
[ "$("${R[@]}" HGET "hl:ep:$EP" version)" = 1 ] || fail "version in Redis"
[ "$("${R[@]}" SISMEMBER "hl:tenant:$TEN:eps" "$EP")" = 1 ] || fail "tenant set"
"${R[@]}" HGET "hl:ep:$EP" secrets | has '"secret":"enc:v1:' || fail "secret not sealed"
"${R[@]}" HGET "hl:ep:$EP" secrets | has whsec_ && fail "secret in the clear at rest"
wait_until 5 grep -q "^$TEN $EP 1$" "$T/changes" || fail "no change published for create"
pass "create"

# 2. get: no secret unless asked; --show-secret gives the one printed at create; text output
expect 0 "${ADM[@]}" endpoint get "$EP" -o json
grep -q whsec_ "$T/out" && fail "get printed the secret"
expect 0 "${ADM[@]}" endpoint get "$EP" --tenant "$TEN" --show-secret -o json
[ "$(json 'd["secret"]' <"$T/out")" = "$SECRET" ] || fail "get --show-secret"
expect 0 "${ADM[@]}" endpoint get "$EP"
grep -q "^rate limit     50/s, burst 100$" "$T/out" || fail "text get: $(cat "$T/out")"
# the wrong key cannot open the secret: a server-side error (3), never a wrong secret
expect 3 env HOOKLINE_SECRET_KEY="$(head -c 32 /dev/urandom | base64)" "${ADM[@]}" endpoint get "$EP"
errmsg "cannot decrypt"
pass "get"

# 3. list: aligned table and JSON; pagination by cursor
for i in 1 2; do
  expect 0 "${ADM[@]}" -o json endpoint create --tenant "$TEN" --url "https://hooks$i.example.com/" --types '*'
done
expect 0 "${ADM[@]}" endpoint list --tenant "$TEN"
[ "$(wc -l <"$T/out")" -eq 4 ] || fail "table rows: $(cat "$T/out")"
head -1 "$T/out" | has '^ID  *STATUS  *TYPES  *URL  *DESCRIPTION$' || fail "header: $(head -1 "$T/out")"
col=$(head -1 "$T/out" | awk '{print index($0, "URL")}')
awk -v c="$col" 'NR > 1 && substr($0, c, 4) !~ /^http/ { bad = 1 } END { exit bad }' "$T/out" ||
  fail "URL column not aligned: $(cat "$T/out")"
expect 0 "${ADM[@]}" endpoint list --tenant "$TEN" --limit 2 -o json
[ "$(json 'len(d["items"])' <"$T/out")" = 2 ] || fail "page 1"
CUR=$(json 'd["next_cursor"]' <"$T/out")
expect 0 "${ADM[@]}" endpoint list --tenant "$TEN" --limit 2 --cursor "$CUR" -o json
[ "$(json '(len(d["items"]), d["next_cursor"])' <"$T/out")" = "(1, None)" ] || fail "page 2"
pass "list"

# 4. update: only what is given changes; version and change bump; burst keeps the rate
expect 0 "${ADM[@]}" -o json endpoint update "$EP" --description 'billing (eu)' --burst 7 --clear-headers
[ "$(json '(d["description"], d["rate_limit"], d["headers"], d["version"])' <"$T/out")" = \
  "('billing (eu)', {'per_second': 50, 'burst': 7}, {}, 2)" ] || fail "update: $(cat "$T/out")"
[ "$(json 'd["url"]' <"$T/out")" = http://127.0.0.1:9/hook ] || fail "url changed"
expect 0 "${ADM[@]}" -o json endpoint update "$EP" --no-rate-limit --timeout 0
[ "$(json '(d["rate_limit"], d["timeout_ms"], d["version"])' <"$T/out")" = "(None, None, 3)" ] || fail "resets"
wait_until 5 grep -q "^$TEN $EP 3$" "$T/changes" || fail "no change for update"
pass "update"

# 5. rotate: new current secret, the old one still listed (overlap), both sign
expect 0 "${ADM[@]}" -o json endpoint rotate-secret "$EP"
NEW=$(json 'd["secret"]' <"$T/out")
[ "$NEW" != "$SECRET" ] && [[ $NEW =~ ^whsec_ ]] || fail "rotate gave $NEW"
[ "$(json 'len(d["secrets"])' <"$T/out")" = 2 ] || fail "previous secret not kept"
[ "$(json 'd["secrets"][1]["expires_at"] is not None' <"$T/out")" = True ] || fail "no expiry"
# a short overlap expires: the previous secret is no longer returned
expect 0 "${ADM[@]}" -o secrets.rotation_overlap=1s -o json endpoint rotate-secret "$EP" \
  --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
[ "$(json '(d["secret"], len(d["secrets"]))' <"$T/out")" = "('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 3)" ] ||
  fail "supplied secret: $(cat "$T/out")"
sleep 1.2
expect 0 "${ADM[@]}" endpoint get "$EP" -o json
[ "$(json 'len(d["secrets"])' <"$T/out")" = 2 ] || fail "expired secret still listed: $(cat "$T/out")"
expect 0 "${ADM[@]}" -o secrets.rotation_overlap=0 -o json endpoint rotate-secret "$EP"
[ "$(json 'len(d["secrets"])' <"$T/out")" = 2 ] || fail "overlap 0 kept $(json 'len(d["secrets"])' <"$T/out")"
pass "rotate-secret"

# 6. disable / enable: status, reason, idempotent, health cleared on enable
V=$("${R[@]}" HGET "hl:ep:$EP" version)
expect 0 "${ADM[@]}" -o json endpoint disable "$EP" --reason 'maintenance window'
[ "$(json '(d["status"], d["disabled_reason"], d["version"])' <"$T/out")" = "('disabled', 'maintenance window', $((V + 1)))" ] ||
  fail "disable: $(cat "$T/out")"
expect 0 "${ADM[@]}" -o json endpoint disable "$EP"
[ "$(json 'd["version"]' <"$T/out")" = $((V + 1)) ] || fail "a second disable changed the endpoint"
"${R[@]}" HSET "hl:health:$EP" failures 9 >/dev/null
expect 0 "${ADM[@]}" -o json endpoint enable "$EP"
[ "$(json '(d["status"], "disabled_reason" in d, d["version"])' <"$T/out")" = "('enabled', False, $((V + 2)))" ] ||
  fail "enable: $(cat "$T/out")"
[ "$("${R[@]}" EXISTS "hl:health:$EP")" = 0 ] || fail "health not cleared on enable"
pass "disable and enable"

# 7. every bad input: its message, exit 2 (1 for unknown ones), and nothing changes in Redis
BEFORE=$("${R[@]}" HGETALL "hl:ep:$EP" | md5sum)
NCH=$(grep -c "^$TEN " "$T/changes")
BAD=t0200bad_${PREFIX#hltest_}
bad() { # want-rc message args...
  local want=$1 msg=$2; shift 2
  expect "$want" "${ADM[@]}" endpoint "$@"
  errmsg "$msg"
}
bad 2 "url: not a valid absolute URL" create --tenant "$BAD" --url 'not a url' --types a
bad 2 "url: scheme must be http or https" create --tenant "$BAD" --url ftp://example.com/ --types a
bad 2 "url: must not contain credentials" create --tenant "$BAD" --url https://u:p@example.com/ --types a
bad 2 "url: host 10.1.2.3 is a private address" create --tenant "$BAD" --url http://10.1.2.3/ --types a
bad 2 "link_local" create --tenant "$BAD" --url http://169.254.169.254/ --types a
expect 2 "$BIN/hookline-admin" endpoint create --tenant "$BAD" --url http://localhost:8080/ --types a
errmsg "allow it with delivery.allow_cidrs"
expect 2 "$BIN/hookline-admin" -o delivery.https_only=true endpoint create --tenant "$BAD" --url http://example.com/ --types a
errmsg "url: scheme must be https"
bad 2 "types: \"in voice\" must be an event type" create --tenant "$BAD" --url https://example.com/ --types 'a.b,in voice'
bad 2 "types: \"invoice\*\" must be" create --tenant "$BAD" --url https://example.com/ --types 'invoice*'
bad 2 "url: required" create --tenant "$BAD" --types a
bad 2 "tenant: must match" create --tenant 'bad tenant' --url https://example.com/ --types a
bad 2 "headers: must not contain CR or LF" create --tenant "$BAD" --url https://example.com/ --types a --header $'X-Env: a\r\nX-Evil: 1'
bad 2 "headers: Content-Type is set by hookline" create --tenant "$BAD" --url https://example.com/ --types a --header 'Content-Type: text/plain'
bad 2 "timeout_ms: must be 100..30000" create --tenant "$BAD" --url https://example.com/ --types a --timeout 31s
bad 2 "rate_limit.per_second: must be above 0" create --tenant "$BAD" --url https://example.com/ --types a --rate -1
bad 2 "max_in_flight: must be 0" create --tenant "$BAD" --url https://example.com/ --types a --max-in-flight 100001
bad 2 "rate_limit.burst" create --tenant "$BAD" --url https://example.com/ --types a --burst 5
bad 2 "secret: must decode to 24..64 bytes" create --tenant "$BAD" --url https://example.com/ --types a --secret whsec_c2hvcnQ=
bad 2 "metadata: must be a JSON object" create --tenant "$BAD" --url https://example.com/ --types a --metadata '[1]'
bad 2 "--rate: \"fast\" is not a number" create --tenant "$BAD" --url https://example.com/ --types a --rate fast
bad 2 "--reason is not one of its options" create --tenant "$BAD" --url https://example.com/ --types a --reason x
[ "$("${R[@]}" EXISTS "hl:tenant:$BAD:eps")" = 0 ] || fail "a refused create left a tenant set"
expect 2 "$BIN/hookline-admin" endpoint update "$EP" --url http://127.0.0.1/x
errmsg "loopback address"
bad 2 "headers: must not contain CR or LF" update "$EP" --header $'X-A: 1\nX-B: 2'
bad 2 "types: \"a..b\" must be" update "$EP" --types 'a..b'
bad 2 "timeout_ms: must be 100..30000" update "$EP" --timeout 50ms
bad 2 "nothing to change" update "$EP"
bad 2 "give exactly one endpoint id" get
bad 1 "endpoint ep_doesnotexist not found" get ep_doesnotexist
bad 1 "endpoint $EP not found for tenant other" get "$EP" --tenant other
bad 1 "not found" update ep_doesnotexist --description x
bad 1 "not found" delete ep_doesnotexist
bad 1 "not found" rotate-secret ep_doesnotexist
bad 1 "not found" disable ep_doesnotexist
bad 1 "tenant $BAD not found" list --tenant "$BAD"
bad 2 "unknown action" frobnicate
expect 3 "$BIN/hookline-admin" -o redis.port=1 endpoint list --tenant "$TEN"
errmsg "redis 127.0.0.1:1: Connection refused"
sleep 0.3
[ "$("${R[@]}" HGETALL "hl:ep:$EP" | md5sum)" = "$BEFORE" ] || fail "a refused command changed the endpoint"
[ "$(grep -c "^$TEN " "$T/changes")" = "$NCH" ] || fail "a refused command published a change"
pass "bad input refused, nothing changed"

# 8. concurrent updates of different fields: every write lands, versions count them all
V=$("${R[@]}" HGET "hl:ep:$EP" version)
N=15
for w in desc rate inflight header; do
  (
    for ((i = 1; i <= N; i++)); do
      case $w in
      desc) a=(--description "d$i") ;;
      rate) a=(--rate "$i") ;;
      inflight) a=(--max-in-flight "$i") ;;
      header) a=(--header "X-W: $i") ;;
      esac
      "${ADM[@]}" endpoint update "$EP" "${a[@]}" >/dev/null 2>>"$T/conc.err" || echo "$w $i failed" >>"$T/conc.err"
    done
  ) &
  HL_PIDS+=($!)
done
wait "${HL_PIDS[@]:1}"
[ ! -s "$T/conc.err" ] || fail "concurrent updates failed: $(head "$T/conc.err")"
expect 0 "${ADM[@]}" endpoint get "$EP" -o json
[ "$(json '(d["description"], d["rate_limit"]["per_second"], d["max_in_flight"], d["headers"], d["version"])' <"$T/out")" = \
  "('d$N', $N, $N, {'X-W': '$N'}, $((V + 4 * N)))" ] || fail "lost writes: $(cat "$T/out")"
wait_until 5 grep -q "^$TEN $EP $((V + 4 * N))$" "$T/changes" || fail "last change not published"
for ((v = V + 1; v <= V + 4 * N; v++)); do
  grep -q "^$TEN $EP $v$" "$T/changes" || fail "version $v not published: $(changes_of "$EP")"
done
pass "$((4 * N)) concurrent updates, none lost"

# 9. delete: hash, dispatcher state and set membership go; a change is published
"${R[@]}" SET "hl:rl:$EP" 1 >/dev/null
"${R[@]}" HSET "hl:health:$EP" failures 1 >/dev/null
"${R[@]}" LPUSH "hl:recent:$EP" '{}' >/dev/null
V=$("${R[@]}" HGET "hl:ep:$EP" version)
expect 0 "${ADM[@]}" endpoint delete "$EP" --tenant "$TEN"
grep -q "^deleted $EP$" "$T/out" || fail "delete output"
[ "$("${R[@]}" EXISTS "hl:ep:$EP" "hl:rl:$EP" "hl:health:$EP" "hl:recent:$EP")" = 0 ] || fail "keys left"
[ "$("${R[@]}" SISMEMBER "hl:tenant:$TEN:eps" "$EP")" = 0 ] || fail "still in the tenant set"
wait_until 5 grep -q "^$TEN $EP $((V + 1))$" "$T/changes" || fail "no change for delete"
expect 1 "${ADM[@]}" endpoint get "$EP"
pass "delete"

# cleanup of this tenant's other endpoints
for id in $("${R[@]}" SMEMBERS "hl:tenant:$TEN:eps"); do "${ADM[@]}" endpoint delete "$id" >/dev/null; done
