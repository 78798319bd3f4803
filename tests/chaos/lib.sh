# tests/chaos/lib.sh - scaffolding shared by the chaos scenarios (sourced; see docs/chaos.md).
# On top of tests/integration/lib.sh + dispatcher.sh: sizes by mode (short: ctest, long: make
# chaos), receivers, three dispatchers in one consumer group, a paced publisher (gen.py | kcat),
# an optional private Kafka + Redis (for scenarios that restart them), waiting until every id is
# accounted for, and the final reconciliation (reconcile.py).
CHAOS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$CHAOS_DIR/../integration/lib.sh"
source "$CHAOS_DIR/../integration/dispatcher.sh"
STACK_SH=$CHAOS_DIR/../../deploy/local/stack.sh
CHAOS_MODE=${CHAOS_MODE:-short}
CHAOS_STACK_ENV=()
declare -A DP # dispatcher number -> pid
DRESTARTS=0

# chaos_param VAR SHORT LONG [scaled]: $VAR from the environment, else SHORT or LONG by
# CHAOS_MODE; with `scaled`, SHORT is divided by HOOKLINE_TEST_TIMEOUT_SCALE (the ASan tree runs
# a smaller short form).
chaos_param() {
  local v=${!1:-}
  if [ -n "$v" ]; then
    echo "$v"
  elif [ "$CHAOS_MODE" = long ]; then
    echo "$3"
  elif [ "${4:-}" = scaled ]; then
    awk -v n="$2" -v k="$SCALE" 'BEGIN { k += 0; printf "%d", n / (k > 1 ? k : 1) }'
  else
    echo "$2"
  fi
}

# CHAOS_KEEP=1 keeps them after a success too.
# Everything this test started stops (dispatchers drain on SIGTERM), the private stack goes
# down, endpoint keys of the shared Redis are deleted; $T stays when the test failed.
chaos_cleanup() {
  local rc=$? p k
  for p in "${HL_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ ${#CHAOS_STACK_ENV[@]} -gt 0 ]; then
    env "${CHAOS_STACK_ENV[@]}" bash "$STACK_SH" down >>"$T/stack.log" 2>&1 || true
  else
    for k in "${HL_EP_KEYS[@]:-}"; do [ -n "$k" ] && "${REDIS[@]}" DEL "$k" >/dev/null 2>&1 || true; done
  fi
  if [ "$rc" -ne 0 ] || [ -n "${CHAOS_KEEP:-}" ]; then
    echo "logs and records are kept in $T (exit $rc)" >&2
  else
    rm -rf "$T"
  fi
}
trap chaos_cleanup EXIT

free_port() {
  python3 -c '
import socket, sys
pair = sys.argv[1] == "pair"
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    if not pair: break
    try:
        t = socket.socket(); t.bind(("127.0.0.1", p + 1)); t.close(); break
    except OSError:
        s.close()
s.close(); print(p)' "${1:-one}"
}

# chaos_private_stack: a Kafka + Redis of this test's own (deploy/local/stack.sh under $T/stack,
# random ports); everything after this call (dispatchers, kcat, redis-cli) uses it.
chaos_private_stack() {
  local kp rp
  kp=$(free_port pair)
  rp=$(free_port)
  CHAOS_STACK_ENV=(HOOKLINE_RUN_DIR="$T/stack" HOOKLINE_KAFKA_PORT="$kp" HOOKLINE_REDIS_PORT="$rp")
  chaos_stack_up
  export HOOKLINE_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$kp HOOKLINE_REDIS_PORT=$rp
  KAFKA=$HOOKLINE_KAFKA_BOOTSTRAP_SERVERS
  REDIS=(redis-cli -h 127.0.0.1 -p "$rp")
}
chaos_stack_up() {
  local t0=$SECONDS
  env "${CHAOS_STACK_ENV[@]}" bash "$STACK_SH" up >>"$T/stack.log" 2>&1 || { tail -20 "$T/stack.log" >&2; fail "private stack did not come up"; }
  echo "private stack up in $((SECONDS - t0)) s"
}
# chaos_stack_stop kafka|redis [KILL|TERM]: stop one service of the private stack, wait until gone
chaos_stack_stop() {
  local pid i
  pid=$(cat "$T/stack/$1/$1.pid") || fail "no pid file for $1"
  kill -"${2:-TERM}" "$pid"
  for ((i = 0; i < $(scaled 60) * 4; i++)); do
    [ -d "/proc/$pid" ] || return 0
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# chaos_receiver NAME [hl-test-receiver args...]: sets RPORT; record in $T/NAME.ndjson
chaos_receiver() {
  local name=$1
  shift
  "$BIN/hl-test-receiver" --port-file "$T/$name.port" --record "$T/$name.ndjson" \
    --verify-secret "$SECRET" --max-seconds "$(scaled 3600)" "$@" >"$T/$name.log" 2>&1 &
  HL_PIDS+=($!)
  wait_until 10 test -s "$T/$name.port" || fail "receiver $name did not start"
  RPORT=$(cat "$T/$name.port")
}

# The dispatchers' options: 6 partitions, quick failure detection, short retry schedule
# (dispatcher_start's defaults: 1s,1s,2s, no jitter), extra options from $DOPTS.
DOPTS=()
# chaos_dispatcher N: start dispatcher N (log $T/dN[.restart].log) without waiting
chaos_dispatcher() {
  local log=d$1
  [ -z "${DP[$1]:-}" ] || log=d$1.$((++DRESTARTS))
  "$BIN/hookline-dispatcher" -o "topics.prefix=$PREFIX" -o "dispatcher.group_id=$PREFIX" \
    -o "http.listen=off" -o "delivery.allow_cidrs=127.0.0.0/8" -o "retry.schedule=1s,1s,2s" \
    -o "retry.jitter_pct=0" -o "topics.partitions=6" -o "kafka.session.timeout.ms=6000" \
    -o "log.level=info" "${DOPTS[@]}" >"$T/$log.log" 2>&1 &
  DP[$1]=$!
  HL_PIDS+=($!)
  DLOG=$T/$log.log
}
# chaos_dispatchers: three dispatchers in one group, each waited for until it has partitions
chaos_dispatchers() {
  local n
  for n in 1 2 3; do
    chaos_dispatcher $n
    wait_until 60 grep -q '"assigned ' "$DLOG" || { tail -5 "$DLOG" >&2; fail "dispatcher $n got no partitions"; }
  done
}
# chaos_stop_dispatchers: SIGTERM each; each must drain and exit 0 (a crash shows here)
chaos_stop_dispatchers() {
  local n rc
  for n in 1 2 3; do kill -TERM "${DP[$n]}" 2>/dev/null || true; done
  for n in 1 2 3; do
    rc=0
    wait "${DP[$n]}" || rc=$?
    [ "$rc" -eq 0 ] || fail "dispatcher $n (pid ${DP[$n]}) exited $rc"
  done
}

# chaos_publish NAME [gen.py args...]: gen.py -> FIFO -> kcat, both in the background (pids in
# PUB[NAME] and PUBK[NAME], so a failing test stops them); the valid ids go to $T/NAME.ids,
# malformed markers to $T/NAME.bad. kcat -E rides out a broker restart instead of exiting
# (its delivery failures are still reported); the idempotent producer keeps order.
declare -A PUB PUBK
chaos_publish() {
  local name=$1
  shift
  touch "$T/$name.ids" "$T/$name.bad"
  mkfifo "$T/$name.fifo"
  kcat -P -E -b "$KAFKA" -t "$PREFIX.events" -K '|' -X enable.idempotence=true \
    <"$T/$name.fifo" 2>"$T/$name.kcat.log" &
  PUBK[$name]=$!
  HL_PIDS+=($!)
  python3 "$CHAOS_DIR/gen.py" --ids "$T/$name.ids" --bad-ids "$T/$name.bad" "$@" >"$T/$name.fifo" &
  PUB[$name]=$!
  HL_PIDS+=($!)
}
# chaos_publish_wait NAME: the generator finished and kcat had every record acknowledged
chaos_publish_wait() {
  local rc=0 rck=0
  wait "${PUB[$1]}" || rc=$?
  wait "${PUBK[$1]}" || rck=$?
  if [ "$rc" -ne 0 ] || [ "$rck" -ne 0 ] || grep -qi 'delivery failed' "$T/$1.kcat.log"; then
    tail -5 "$T/$1.kcat.log" >&2
    fail "publisher $1 (gen.py exit $rc, kcat exit $rck) could not publish everything (not the dispatchers' fault)"
  fi
}
publishing() { kill -0 "${PUB[$1]}" 2>/dev/null; }

# chaos_reconcile [reconcile.py args...]: dumps the DLQ and attempt topics and reconciles every
# receiver record in $T against every publisher's ids
chaos_reconcile() {
  local a=() f
  for f in "$T"/*.ids; do a+=(--ids "$f"); done
  for f in "$T"/*.bad; do a+=(--bad-ids "$f"); done
  for f in "$T"/*.ndjson; do [ -e "$f" ] && a+=(--received "$f"); done
  consume "$PREFIX.dlq" >"$T/dlq.dump"
  consume "$PREFIX.attempts" >"$T/attempts.dump"
  python3 "$CHAOS_DIR/reconcile.py" "${a[@]}" --dlq "$T/dlq.dump" --attempts "$T/attempts.dump" "$@"
}
# chaos_accounted: every published id delivered or in the DLQ (polled by chaos_settle);
# CHAOS_NEED_OK_ATTEMPT=1: delivered only once the attempt log has its ok (slow answers)
chaos_accounted() {
  local a=() f
  for f in "$T"/*.ids; do a+=(--ids "$f"); done
  for f in "$T"/*.bad; do a+=(--bad-ids "$f"); done
  for f in "$T"/*.ndjson; do [ -e "$f" ] && a+=(--received "$f"); done
  consume "$PREFIX.dlq" >"$T/dlq.poll"
  if [ -n "${CHAOS_NEED_OK_ATTEMPT:-}" ]; then
    consume "$PREFIX.attempts" >"$T/attempts.poll"
    a+=(--attempts "$T/attempts.poll" --need-ok-attempt)
  fi
  python3 "$CHAOS_DIR/reconcile.py" "${a[@]}" --dlq "$T/dlq.poll" --progress >"$T/progress" 2>&1
}
# chaos_settle SECONDS: poll (every 2 s) until every id is accounted for, then 2 s more for
# late duplicates; SECONDS is scaled
chaos_settle() {
  local deadline=$((SECONDS + $(scaled "$1"))) t0=$SECONDS
  until chaos_accounted; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "not settled after $1 s: $(cat "$T/progress")"; return 0; }
    sleep 2
  done
  echo "settled $((SECONDS - t0)) s after the last publish: $(cat "$T/progress")"
  sleep 2
}
