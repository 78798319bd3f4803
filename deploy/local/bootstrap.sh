#!/usr/bin/env bash
# bootstrap.sh - install what hookline needs on a Debian/Ubuntu machine, without prompting:
# the Debian packages that are missing, and the Apache Kafka broker jars from Maven Central
# (cached outside the repository). Idempotent: a second run changes nothing.
set -euo pipefail

PACKAGES="build-essential cmake pkg-config librdkafka-dev libcurl4-openssl-dev libhiredis-dev
libssl-dev libjansson-dev libevent-dev libcmocka-dev redis-server kcat clang clang-format curl
python3 wrk"
KAFKA_VERSION=3.9.1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HOOKLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hookline}
KAFKA_LIB=$CACHE/kafka-$KAFKA_VERSION/lib

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@" || die "need root for: $* (run with sudo)"
  else die "need root for: $*"; fi
}

missing_packages() {
  local p missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

install_packages() {
  local missing
  missing=$(missing_packages)
  if [ -z "$missing" ]; then
    say "Debian packages: all present"
    return
  fi
  command -v apt-get >/dev/null || die "missing packages ($missing) and no apt-get: install them by hand"
  say "installing: $missing"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq </dev/null
  # shellcheck disable=SC2086
  as_root apt-get install -y -qq --no-install-recommends $missing </dev/null >/dev/null
}

install_kafka() {
  if [ -f "$KAFKA_LIB/.complete" ]; then
    say "Kafka $KAFKA_VERSION: cached in $KAFKA_LIB"
    return
  fi
  local tmp
  tmp=$(mktemp -d "$CACHE.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$CACHE" && mktemp -d "$CACHE/tmp.XXXXXX"; })
  say "fetching Kafka $KAFKA_VERSION from Maven Central"
  mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp/lib" </dev/null || { rm -rf "$tmp"; die "mvn could not fetch the Kafka jars"; }
  touch "$tmp/lib/.complete"
  mkdir -p "$(dirname "$KAFKA_LIB")"
  rm -rf "$KAFKA_LIB"
  mv "$tmp/lib" "$KAFKA_LIB"
  rm -rf "$tmp"
  say "Kafka $KAFKA_VERSION: $(ls "$KAFKA_LIB" | wc -l) jars in $KAFKA_LIB"
}

mkdir -p "$CACHE"
install_packages
install_kafka
