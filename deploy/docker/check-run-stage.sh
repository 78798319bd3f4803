#!/usr/bin/env bash
# check-run-stage.sh - run the Dockerfile's two stages without a Docker engine, as far as a
# chroot can: by hand, on a Debian bookworm machine, as root, with access to Debian's package
# archive (debootstrap). Not part of `make test` (it needs root and downloads a base system).
#
#   bash deploy/docker/check-run-stage.sh [BUILD_DIR]     (BUILD_DIR: for hl-test-receiver; default build)
#
# 1. Build stage: configures, builds (-Werror, tests off) and installs from only the files the
#    Dockerfile COPYs, exactly as its RUN line does.
# 2. Run stage: a minimal bookworm root (debootstrap --variant=minbase, cached), the run stage's
#    apt-get install list and user read from the Dockerfile, the installed programs copied in.
# 3. As uid 10001 inside the chroot: each program's --version, a dispatcher and `hookline-admin
#    serve` against the local stack (loopback), the image's HEALTHCHECK command against both,
#    and one event published and registered with the chroot's own programs, delivered to the
#    test receiver with a valid signature.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
CACHE=${HOOKLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hookline}
BASE=$CACHE/runstage-bookworm-minbase
WORK=$(mktemp -d /tmp/hl-runstage.XXXXXX)
R=$WORK/root
PIDS=()
say() { printf 'check-run-stage: %s\n' "$*"; }
die() {
  say "FAILED: $*"
  exit 1
}
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  umount "$R/proc" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] || die "needs root (chroot)"
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null || die "no debootstrap"

# 1. the build stage
mkdir -p "$WORK/src"
(cd "$ROOT" && cp -r CMakeLists.txt cmake common producer dispatcher admin "$WORK/src/")
cmake -S "$WORK/src" -B "$WORK/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOOKLINE_TESTS=OFF \
  -DHOOKLINE_WERROR=ON -DCMAKE_INSTALL_PREFIX=/opt/hookline >"$WORK/build.log" 2>&1 &&
  cmake --build "$WORK/build" -j2 >>"$WORK/build.log" 2>&1 &&
  DESTDIR=$WORK/stage cmake --install "$WORK/build" --strip >>"$WORK/build.log" 2>&1 ||
  { tail -20 "$WORK/build.log"; die "build stage"; }
say "build stage: built and installed from the Dockerfile's COPY set"

# 2. the run stage
if [ ! -f "$BASE/.complete" ]; then
  rm -rf "$BASE"
  debootstrap --variant=minbase bookworm "$BASE" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 ||
    { tail -5 "$WORK/debootstrap.log"; die "debootstrap"; }
  touch "$BASE/.complete"
fi
cp -a "$BASE" "$R"
PKGS=$(python3 - "$ROOT/deploy/docker/Dockerfile" <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
run = text[text.rindex("\nFROM "):]
m = re.search(r"apt-get install -y --no-install-recommends ([^&]*)&&", run)
print(" ".join(m.group(1).split()))
PY
)
cp /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc"
chroot "$R" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  --no-install-recommends $PKGS >/dev/null && rm -rf /var/lib/apt/lists/* &&
  groupadd --system --gid 10001 hookline &&
  useradd --system --uid 10001 --gid hookline --home-dir /nonexistent --shell /usr/sbin/nologin hookline" \
  >"$WORK/apt.log" 2>&1 || { tail -5 "$WORK/apt.log"; die "run stage packages"; }
cp -a "$WORK/stage/opt/hookline/bin/." "$R/usr/local/bin/"
cp -a "$WORK/stage/opt/hookline/lib/"libhookline.so* "$R/usr/local/lib/"
chroot "$R" ldconfig
say "run stage: bookworm minbase + $PKGS"

# 3. run it as the image's user
as_user() { chroot --userspec=10001:10001 "$R" env -i PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
for p in "hookline-dispatcher --version" "hookline-admin version" "hookline-publish --version"; do
  # shellcheck disable=SC2086
  as_user $p >/dev/null || die "$p"
done
P=hlrunstage_$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
SECRET=whsec_$(head -c 32 /dev/urandom | base64)
KAFKA=127.0.0.1:${HOOKLINE_KAFKA_PORT:-19092}
REDISP=${HOOKLINE_REDIS_PORT:-16379}
"$BUILD/bin/hl-test-receiver" --port-file "$WORK/port" --record "$WORK/rec.ndjson" \
  --verify-secret "$SECRET" --max-seconds 120 >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.2; done
HL=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOOKLINE_KAFKA_BOOTSTRAP_SERVERS=$KAFKA
  HOOKLINE_REDIS_HOST=127.0.0.1 HOOKLINE_REDIS_PORT=$REDISP HOOKLINE_TOPICS_PREFIX=$P
  HOOKLINE_DELIVERY_ALLOW_CIDRS=127.0.0.0/8 HOOKLINE_TOPICS_PARTITIONS=1 HOOKLINE_ADMIN_TOKENS=t
  HOOKLINE_SECRET_KEY=$(head -c 32 /dev/urandom | base64))
chroot --userspec=10001:10001 "$R" "${HL[@]}" HOOKLINE_DISPATCHER_GROUP_ID=$P \
  HOOKLINE_HTTP_LISTEN=127.0.0.1:0 hookline-dispatcher >"$WORK/d.log" 2>&1 &
PIDS+=($!)
chroot --userspec=10001:10001 "$R" "${HL[@]}" HOOKLINE_HTTP_LISTEN=127.0.0.1:0 hookline-admin serve \
  >"$WORK/a.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 150); do grep -q '"assigned ' "$WORK/d.log" && grep -q 'admin api listening' "$WORK/a.log" && break; sleep 0.2; done
DP=$(grep -o 'http listening on [0-9.]*:[0-9]*' "$WORK/d.log" | head -1 | sed 's/.*://')
AP=$(sed -n 's/.*admin api listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/a.log")
[ -n "$DP" ] && [ -n "$AP" ] || { cat "$WORK/d.log" "$WORK/a.log"; die "programs did not start in the chroot"; }
# the image's HEALTHCHECK command, as written in the Dockerfile
HC=$(sed -n 's/^  CMD \(curl .*\)$/\1/p' "$ROOT/deploy/docker/Dockerfile")
as_user env HEALTHCHECK_PORT="$DP" sh -c "$HC" || die "HEALTHCHECK against the dispatcher"
as_user env HEALTHCHECK_PORT="$AP" sh -c "$HC" || die "HEALTHCHECK against hookline-admin serve"
as_user curl -fsS -o /dev/null "http://127.0.0.1:$DP/readyz" || die "dispatcher /readyz"
say "HEALTHCHECK passes against the dispatcher and hookline-admin serve; dispatcher ready"
EP=$(chroot --userspec=10001:10001 "$R" "${HL[@]}" hookline-admin endpoint create --tenant "$P" --url \
  "http://127.0.0.1:$(cat "$WORK/port")/rs" --types '*' --secret "$SECRET" | grep -o 'created ep_[A-Za-z0-9]*') ||
  die "endpoint create"
echo "{\"id\":\"evt_runstage\",\"tenant\":\"$P\",\"type\":\"run.stage\",\"data\":{\"ok\":true}}" |
  chroot --userspec=10001:10001 "$R" "${HL[@]}" hookline-publish -q || die "publish"
for _ in $(seq 150); do grep -q '"sig_ok":true' "$WORK/rec.ndjson" 2>/dev/null && break; sleep 0.2; done
grep -q '"webhook-id":"evt_runstage".*"sig_ok":true' "$WORK/rec.ndjson" || die "no signed delivery"
say "an event published and delivered by the run stage's programs, signature verified"
chroot --userspec=10001:10001 "$R" "${HL[@]}" hookline-admin endpoint delete "${EP#created }" >/dev/null ||
  say "could not delete endpoint ${EP#created } (tenant $P)"
say "all good"
