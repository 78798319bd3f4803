#!/usr/bin/env bash
# stack.sh - the local Kafka (KRaft, single node) + Redis that hookline develops and tests against.
#
#   stack.sh up [--fixture]    start what is not already answering, wait until both answer
#   stack.sh down [--fixture|--purge]
#   stack.sh status | env | logs [kafka|redis] [-f]
#
# Kafka on 127.0.0.1:19092 (controller 19093), Redis on 127.0.0.1:16379, state under .run/.
# --fixture (ctest): `up` records what it started in .run/fixture-owned and `down` stops only
# that, so a developer's running stack is never stopped by a test run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN=${HOOKLINE_RUN_DIR:-$ROOT/.run}
KAFKA_VERSION=3.9.1
CACHE=${HOOKLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hookline}
KAFKA_LIB=$CACHE/kafka-$KAFKA_VERSION/lib
KAFKA_PORT=${HOOKLINE_KAFKA_PORT:-19092}
CONTROLLER_PORT=$((KAFKA_PORT + 1))
REDIS_PORT=${HOOKLINE_REDIS_PORT:-16379}
SCALE=${HOOKLINE_TEST_TIMEOUT_SCALE:-1}
KDIR=$RUN/kafka
RDIR=$RUN/redis
OWNED=$RUN/fixture-owned

say() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }
scaled() { awk -v s="$1" -v k="$SCALE" 'BEGIN { printf "%d", s * (k > 0 ? k : 1) }'; }

kafka_answers() {
  if command -v kcat >/dev/null; then
    kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 2 -t __hookline_probe >/dev/null 2>&1 ||
      kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 2 2>/dev/null | grep -q "broker 1 at"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null
  fi
}
redis_answers() { [ "$(redis-cli -p "$REDIS_PORT" PING 2>/dev/null)" = "PONG" ]; }

# pid from a pid file, if that process is alive and still ours (cmdline matches).
live_pid() {
  local file=$1 pattern=$2 pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern" || return 1
  echo "$pid"
}
kafka_pid() { live_pid "$KDIR/kafka.pid" "kafka.Kafka"; }
redis_pid() { live_pid "$RDIR/redis.pid" "redis-server"; }

wait_for() {
  local what=$1 check=$2 secs log=$4 i
  secs=$(scaled "$3")
  for ((i = 0; i < secs * 4; i++)); do
    if $check; then return 0; fi
    sleep 0.25
  done
  printf 'stack: error: %s did not answer within %ss; last lines of %s:\n' "$what" "$secs" "$log" >&2
  tail -n 30 "$log" >&2 || true
  return 1
}

write_kafka_config() {
  mkdir -p "$KDIR/data"
  cat >"$KDIR/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KDIR/data
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
CONF
  cat >"$KDIR/log4j.properties" <<CONF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$KDIR/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
CONF
}

start_kafka() {
  [ -f "$KAFKA_LIB/.complete" ] || die "Kafka jars missing in $KAFKA_LIB: run deploy/local/bootstrap.sh"
  command -v java >/dev/null || die "java missing: run deploy/local/bootstrap.sh"
  write_kafka_config
  if [ ! -f "$KDIR/data/meta.properties" ]; then
    local id
    id=$(java -cp "$KAFKA_LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null)
    java -Dlog4j.configuration="file:$KDIR/log4j.properties" -cp "$KAFKA_LIB/*" \
      kafka.tools.StorageTool format -t "$id" -c "$KDIR/server.properties" >>"$KDIR/kafka.log" 2>&1 ||
      die "formatting Kafka storage failed: see $KDIR/kafka.log"
  fi
  setsid nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KDIR/log4j.properties" -cp "$KAFKA_LIB/*" \
    kafka.Kafka "$KDIR/server.properties" >>"$KDIR/kafka.log" 2>&1 </dev/null &
  echo $! >"$KDIR/kafka.pid"
}

start_redis() {
  command -v redis-server >/dev/null || die "redis-server missing: run deploy/local/bootstrap.sh"
  mkdir -p "$RDIR"
  cat >"$RDIR/redis.conf" <<CONF
bind 127.0.0.1
port $REDIS_PORT
dir $RDIR
appendonly yes
appendfsync everysec
daemonize no
save ""
logfile $RDIR/redis.log
CONF
  setsid nohup redis-server "$RDIR/redis.conf" >/dev/null 2>&1 </dev/null &
  echo $! >"$RDIR/redis.pid"
}

cmd_up() {
  local fixture=${1:-} started=()
  mkdir -p "$RUN"
  if redis_answers; then
    say "redis: already answering on $REDIS_PORT"
  else
    start_redis
    started+=(redis)
  fi
  if kafka_answers; then
    say "kafka: already answering on $KAFKA_PORT"
  else
    if ! kafka_pid >/dev/null; then
      start_kafka
    fi
    started+=(kafka)
  fi
  [ -n "$fixture" ] && printf '%s\n' "${started[@]:-}" | grep . >"$OWNED.tmp" || true
  [ -n "$fixture" ] && mv -f "$OWNED.tmp" "$OWNED"
  for s in "${started[@]:-}"; do
    case $s in
      redis) wait_for redis redis_answers 20 "$RDIR/redis.log" && say "redis: up on 127.0.0.1:$REDIS_PORT (pid $(redis_pid))" ;;
      kafka) wait_for kafka kafka_answers 90 "$KDIR/kafka.log" && say "kafka: up on 127.0.0.1:$KAFKA_PORT (pid $(kafka_pid))" ;;
    esac
  done
}

stop_one() {
  local name=$1 pid i
  pid=$("${name}_pid") || { rm -f "$RUN/$name/$name.pid"; say "$name: not running (not ours)"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 120; i++)); do
    [ -d "/proc/$pid" ] || break
    sleep 0.25
  done
  if [ -d "/proc/$pid" ]; then
    say "$name: still running after 30 s, killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name/$name.pid"
  say "$name: stopped"
}

cmd_down() {
  case ${1:-} in
    --fixture)
      [ -f "$OWNED" ] || { say "fixture: started nothing, stopping nothing"; return 0; }
      local s
      for s in $(tac "$OWNED"); do stop_one "$s"; done
      rm -f "$OWNED"
      ;;
    --purge | "")
      stop_one kafka
      stop_one redis
      rm -f "$OWNED"
      if [ "${1:-}" = --purge ]; then rm -rf "$KDIR" "$RDIR"; say "data removed"; fi
      ;;
    *) usage ;;
  esac
}

cmd_status() {
  local rc=0 pid
  if pid=$(kafka_pid); then say "kafka: running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
  elif kafka_answers; then say "kafka: answering on $KAFKA_PORT, not started by this checkout"
  else say "kafka: down"; rc=1; fi
  if pid=$(redis_pid); then say "redis: running (pid $pid, 127.0.0.1:$REDIS_PORT)"
  elif redis_answers; then say "redis: answering on $REDIS_PORT, not started by this checkout"
  else say "redis: down"; rc=1; fi
  return $rc
}

cmd_env() {
  echo "export HOOKLINE_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
  echo "export HOOKLINE_REDIS_HOST=127.0.0.1"
  echo "export HOOKLINE_REDIS_PORT=$REDIS_PORT"
}

cmd_logs() {
  local follow="" which=()
  for a in "$@"; do
    case $a in
      -f) follow=-f ;;
      kafka) which+=("$KDIR/kafka.log") ;;
      redis) which+=("$RDIR/redis.log") ;;
      *) usage ;;
    esac
  done
  [ ${#which[@]} -gt 0 ] || which=("$KDIR/kafka.log" "$RDIR/redis.log")
  tail -n 50 $follow "${which[@]}"
}

usage() {
  echo "usage: stack.sh up [--fixture] | down [--fixture|--purge] | status | env | logs [kafka|redis] [-f]" >&2
  exit 2
}

case ${1:-} in
  up) shift; [ "${1:-}" = "" ] || [ "$1" = --fixture ] || usage; cmd_up "${1:-}" ;;
  down) shift; cmd_down "${1:-}" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  logs) shift; cmd_logs "$@" ;;
  *) usage ;;
esac
