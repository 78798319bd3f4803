#!/usr/bin/env bash
# bootstrap.sh - install what hookline needs on a Debian/Ubuntu machine, without prompting:
# the Debian packages that are missing, and the Apache Kafka broker jars from Maven Central
# (cached outside the repository, see KAFKA_LIB). Idempotent: a second run changes nothing.
# Works unattended (CI=true, no standard input); needs root or passwordless sudo only when
# something is missing.
set -euo pipefail

# Debian packages hookline builds, tests and runs with. Add new ones here.
PACKAGES="build-essential cmake pkg-config librdkafka-dev libcurl4-openssl-dev libhiredis-dev
libssl-dev libjansson-dev libevent-dev libcmocka-dev redis-server kcat clang clang-format curl
python3 wrk nghttp2-server valgrind libclang-rt-14-dev gnuplot-nox"
# Installed only when the command is absent (any Java >= 11 and any Maven will do).
JAVA_PACKAGE=openjdk-17-jre-headless
MAVEN_PACKAGE=maven
# Node.js and npm for the interoperability tests (09xx; tests/interop/package.json), also only
# when absent (a Node.js from elsewhere will do).
NODE_PACKAGES="nodejs npm"

KAFKA_VERSION=3.9.1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HOOKLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hookline}
KAFKA_HOME=$CACHE/kafka-$KAFKA_VERSION
KAFKA_LIB=$KAFKA_HOME/lib
STAMP=$KAFKA_LIB/.complete # written last, inside the temp dir, before the rename

export DEBIAN_FRONTEND=noninteractive

say() { printf 'bootstrap: %s\n' "$*"; }
die() {
  printf 'bootstrap: error: %s\n' "$*" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo -n env DEBIAN_FRONTEND=noninteractive "$@"
  else
    die "not root and no sudo: run as root: $*"
  fi
}

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing_packages() {
  local p
  command -v java >/dev/null || echo "$JAVA_PACKAGE"
  command -v mvn >/dev/null || echo "$MAVEN_PACKAGE"
  command -v node >/dev/null || echo "${NODE_PACKAGES% *}"
  command -v npm >/dev/null || echo "${NODE_PACKAGES#* }"
  for p in $PACKAGES; do
    installed "$p" || echo "$p"
  done
}

install_packages() {
  local missing p
  command -v dpkg-query >/dev/null || die "dpkg-query not found: this script supports Debian/Ubuntu only"
  missing=$(missing_packages | tr '\n' ' ')
  missing=${missing% }
  if [ -z "$missing" ]; then
    say "Debian packages: all present"
    return 0
  fi
  command -v apt-get >/dev/null || die "missing packages ($missing) and no apt-get: install them by hand"
  if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
    die "missing packages ($missing): run as root or with passwordless sudo, or install them by hand"
  fi
  say "apt-get update"
  as_root apt-get update -qq </dev/null || die "apt-get update failed"
  say "installing: $missing"
  # shellcheck disable=SC2086 # one word per package
  as_root apt-get install -y -qq --no-install-recommends $missing </dev/null >/dev/null ||
    die "apt-get install failed for: $missing"
  for p in $missing; do
    installed "$p" || die "package $p still not installed after apt-get install"
  done
  say "Debian packages: installed $missing"
}

# Fetch into a temporary directory next to the final one and rename it into place: the stamp
# exists only in a complete download, so an interrupted run leaves no stamp and is retried.
# Concurrent runs serialise on $KAFKA_HOME/.lock.
install_kafka() {
  local n log
  if [ -f "$STAMP" ]; then
    say "Kafka $KAFKA_VERSION: cached in $KAFKA_LIB"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: cannot fetch the Kafka jars"
  mkdir -p "$KAFKA_HOME" || die "cannot create $KAFKA_HOME"
  exec 9>"$KAFKA_HOME/.lock"
  flock -w 600 9 || die "another bootstrap.sh holds $KAFKA_HOME/.lock"
  if [ -f "$STAMP" ]; then
    say "Kafka $KAFKA_VERSION: cached in $KAFKA_LIB (fetched by another run)"
    return 0
  fi
  rm -rf "$KAFKA_HOME"/lib.tmp.* # left by an interrupted run
  tmp=$(mktemp -d "$KAFKA_HOME/lib.tmp.XXXXXX") # global: the EXIT trap removes it
  chmod 755 "$tmp"
  trap 'rm -rf "$tmp"' EXIT # also on die
  say "Kafka $KAFKA_VERSION: fetching the broker jars from Maven Central"
  log=$tmp/mvn.log
  if ! mvn -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" </dev/null >"$log" 2>&1; then
    grep -E 'ERROR|FATAL' "$log" | head -n 20 >&2 || tail -n 20 "$log" >&2
    die "mvn could not fetch the Kafka jars from Maven Central (network? proxy? ~/.m2/settings.xml?)"
  fi
  rm -f "$log"
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || die "mvn finished but kafka_2.13-$KAFKA_VERSION.jar is missing"
  n=$(find "$tmp" -name '*.jar' | wc -l)
  echo "kafka $KAFKA_VERSION, $n jars, $(date -u +%FT%TZ)" >"$tmp/.complete"
  rm -rf "$KAFKA_LIB" # an incomplete copy without the stamp
  mv "$tmp" "$KAFKA_LIB" || die "cannot move the jars into $KAFKA_LIB"
  trap - EXIT
  say "Kafka $KAFKA_VERSION: $n jars in $KAFKA_LIB"
}

install_packages
install_kafka
say "done"
