# dispatcher.sh - helpers for the dispatcher's integration tests (04xx, sourced after lib.sh):
# endpoints written to Redis in the documented hl:ep hash format (docs/storage.md), a test
# receiver, dispatchers with a private topic prefix and group, events through kcat, and
# python3 one-liners over the receiver's NDJSON record.
REDIS=(redis-cli -h "$HOOKLINE_REDIS_HOST" -p "$HOOKLINE_REDIS_PORT")
KAFKA=$HOOKLINE_KAFKA_BOOTSTRAP_SERVERS
TENANT=t${PREFIX#hltest_}
SECRET=whsec_$(head -c 32 /dev/urandom | base64)
HL_EP_KEYS=()
hl_dispatch_cleanup() {
  local rc=$? k
  set +e
  for k in "${HL_EP_KEYS[@]:-}"; do [ -n "$k" ] && "${REDIS[@]}" DEL "$k" >/dev/null 2>&1 || true; done
  (exit "$rc") # hl_cleanup keeps the logs of a failed test: hand it the test's status
  hl_cleanup
}
trap hl_dispatch_cleanup EXIT

# receiver_start NAME RULE...: starts hl-test-receiver verifying $SECRET; sets RPORT
receiver_start() {
  local name=$1 args=() r
  shift
  for r in "$@"; do args+=(--rule "$r"); done
  "$BIN/hl-test-receiver" --port-file "$T/$name.port" --record "$T/$name.ndjson" \
    --verify-secret "$SECRET" --max-seconds 300 "${args[@]}" >"$T/$name.log" 2>&1 &
  HL_PIDS+=($!)
  wait_until 10 test -s "$T/$name.port" || fail "receiver $name did not start"
  RPORT=$(cat "$T/$name.port")
}

# ep_create ID TENANT URL TYPES_JSON [extra HSET field value pairs...]
ep_create() {
  local id=$1 tenant=$2 url=$3 types=$4
  shift 4
  "${REDIS[@]}" HSET "hl:ep:$id" id "$id" tenant "$tenant" url "$url" description "" \
    types "$types" secrets "[{\"secret\":\"$SECRET\",\"created\":0,\"expires\":0}]" rate 0 \
    burst 0 max_in_flight 0 timeout_ms 0 headers '[]' status enabled metadata '{}' \
    created 0 updated 0 version 1 "$@" >/dev/null
  "${REDIS[@]}" SADD "hl:tenant:$tenant:eps" "$id" >/dev/null
  HL_EP_KEYS+=("hl:ep:$id" "hl:tenant:$tenant:eps" "hl:recent:$id")
}

# dispatcher_start NAME [-o ...]: sets DPID; log in $T/NAME.log
dispatcher_start() {
  local name=$1
  shift
  "$BIN/hookline-dispatcher" -o "topics.prefix=$PREFIX" -o "dispatcher.group_id=$PREFIX" \
    -o "http.listen=off" -o "delivery.allow_cidrs=127.0.0.0/8" -o "retry.schedule=1s,1s,2s" \
    -o "retry.jitter_pct=0" -o "topics.partitions=3" -o "log.level=info" "$@" \
    >"$T/$name.log" 2>&1 &
  DPID=$!
  HL_PIDS+=($DPID)
  wait_until 30 grep -q '"assigned ' "$T/$name.log" || { cat "$T/$name.log" >&2; fail "$name got no partitions"; }
}

# publish < lines: one record per line; KEY=tenant
publish() { kcat -P -b "$KAFKA" -t "$PREFIX.events" -k "${1:-$TENANT}"; }
event() { printf '{"id":"%s","tenant":"%s","type":"%s","data":%s}\n' "$1" "$2" "$3" "${4:-{\}}"; }

# rec_count NAME [PATH [STATUS]]: requests recorded
rec_count() {
  python3 - "$T/$1.ndjson" "${2:-}" "${3:-}" <<'PY'
import json, sys
n = 0
try:
    for l in open(sys.argv[1]):
        r = json.loads(l)
        if sys.argv[2] and r["path"] != sys.argv[2]: continue
        if sys.argv[3] and str(r["status"]) != sys.argv[3]: continue
        n += 1
except FileNotFoundError:
    pass
print(n)
PY
}
# rec_at_least N NAME [PATH [STATUS]]: at least N such requests recorded (for wait_until)
rec_at_least() { local n=$1; shift; [ "$(rec_count "$@")" -ge "$n" ]; }
# topic_count TOPIC: records in a topic
topic_count() { consume "$1" | grep -c . || true; }

# publish_many N TYPE: N events evt_1..evt_N of $TENANT, keyed by id (spread over partitions)
publish_many() { publish_many_from 1 "$1" "$2"; }
# publish_many_from FIRST LAST TYPE
publish_many_from() {
  local i
  for i in $(seq "$1" "$2"); do
    printf 'k%s|{"id":"evt_%s","tenant":"%s","type":"%s","data":{"n":%s}}\n' "$i" "$i" "$TENANT" "$3" "$i"
  done | kcat -P -b "$KAFKA" -t "$PREFIX.events" -K '|'
}
# delivery_stats NAME N: "distinct duplicates missing" over webhook-id evt_1..evt_N with status 200
delivery_stats() {
  python3 - "$T/$1.ndjson" "$2" <<'PY'
import json, sys, collections
c = collections.Counter()
for l in open(sys.argv[1]):
    try:
        r = json.loads(l)
    except ValueError:
        continue  # a line cut by a concurrent write
    if r["status"] == 200:
        c[r["headers"]["webhook-id"]] += 1
n = int(sys.argv[2])
missing = sum(1 for i in range(1, n + 1) if c["evt_%d" % i] == 0)
print(len(c), sum(v - 1 for v in c.values()), missing)
PY
}

# admin ARGS...: hookline-admin against the test stack
admin() {
  "$BIN/hookline-admin" -o "redis.host=$HOOKLINE_REDIS_HOST" -o "redis.port=$HOOKLINE_REDIS_PORT" \
    -o "topics.prefix=$PREFIX" -o "delivery.allow_cidrs=127.0.0.0/8" "$@" 2>>"$T/admin.log"
}
# ep_admin VAR TENANT URL TYPES [create flags...]: `hookline-admin endpoint create` (how users
# do it) with secret $SECRET; the new id goes to VAR
ep_admin() {
  local var=$1 tenant=$2 url=$3 types=$4 out id
  shift 4
  out=$(admin endpoint create --tenant "$tenant" --url "$url" --types "$types" --secret "$SECRET" "$@" -o json) ||
    fail "endpoint create failed: $(tail -2 "$T/admin.log")"
  id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$out")
  HL_EP_KEYS+=("hl:ep:$id" "hl:tenant:$tenant:eps" "hl:recent:$id")
  printf -v "$var" '%s' "$id"
}
