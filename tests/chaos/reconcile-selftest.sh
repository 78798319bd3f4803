#!/usr/bin/env bash
# reconcile-selftest: reconcile.py on hand-made inputs (no servers; ctest unit.chaos_reconcile):
# it counts what it should and fails on a lost id, a stray delivery, a bad signature, a DLQ
# record without a reason, and an ok attempt no receiver saw.
set -euo pipefail
R="python3 $(dirname "$0")/reconcile.py"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
rec() { printf '{"t":%s,"path":"/a","headers":{"webhook-id":"%s"},"body":"{\\"data\\":{\\"ts\\":%s}}","status":%s,"sig_ok":%s}\n' "$@"; }
printf 'ev_1\nev_2\nev_3\nev_4\n' >"$T/ids"
printf 'bad_1\n' >"$T/bad"
{ rec 10.1 ev_1 10.0 200 true; rec 10.2 ev_1 10.0 200 true; rec 11 ev_2 10.9 500 true; rec 12 ev_3 11.8 200 true; } >"$T/r.ndjson"
printf '{"event_id":"ev_2","reason":"retries exhausted after 4 attempts: last HTTP 500"}\n' >"$T/dlq"
printf '{"reason":"tenant: required","raw_b64":"%s"}\n' "$(printf '{"id":"bad_1"}' | base64)" >>"$T/dlq"
printf '{"event_id":"ev_1","outcome":"ok"}\n{"event_id":"ev_2","outcome":"status"}\n' >"$T/att"
A=(--ids "$T/ids" --bad-ids "$T/bad" --received "$T/r.ndjson" --dlq "$T/dlq" --attempts "$T/att")

out=$($R "${A[@]}" 2>&1) && fail "ev_4 is lost but reconcile passed: $out"
grep -qx 'published=5 delivered=2 duplicates=1 dlq=2 lost=1' <<<"$out" || fail "counts: $out"
grep -q 'lost: \[.ev_4.\]' <<<"$out" || fail "lost id not named: $out"
$R "${A[@]}" --progress >"$T/p" && fail "--progress exits 0 with an id unaccounted for"
grep -qx 'accounted=4 published=5' "$T/p" || fail "progress: $(cat "$T/p")"
cat "$T/dlq" >"$T/dlq2"
printf '{"event_id":"ev_4","reason":"retries exhausted"}\n' >>"$T/dlq2"
A2=(--ids "$T/ids" --bad-ids "$T/bad" --received "$T/r.ndjson" --dlq "$T/dlq2" --attempts "$T/att")
out=$($R "${A2[@]}" 2>&1) || fail "all accounted for, yet it failed: $out"
grep -qx 'published=5 delivered=2 duplicates=1 dlq=3 lost=0' <<<"$out" || fail "counts: $out"
$R "${A2[@]}" --require-delivered >/dev/null 2>&1 && fail "--require-delivered passed with ev_2 and ev_4 in the DLQ"
# grep the captured output: "| grep -q" closes the pipe early and, under pipefail, the
# writer's BrokenPipeError failed the test now and then
out=$($R "${A2[@]}" --latency /a 2>&1) || fail "latency run failed: $out"
grep -q 'latency paths=/a n=2 p50_ms=200.0' <<<"$out" || fail "latency: $out"

check_fails() { # WHAT FILE LINE: appending LINE to FILE must make reconcile fail
  cp "$T/$2" "$T/$2.bak"
  echo "$3" >>"$T/$2"
  $R "${A2[@]}" >/dev/null 2>&1 && fail "$1 not detected"
  mv "$T/$2.bak" "$T/$2"
}
check_fails "a delivery of an id nobody published" r.ndjson "$(rec 13 ev_99 13 200 true)"
check_fails "a bad signature" r.ndjson "$(rec 13 ev_3 13 200 false)"
check_fails "a DLQ record without a reason" dlq2 '{"event_id":"ev_3","reason":""}'
check_fails "an ok attempt no receiver saw" att '{"event_id":"ev_4","outcome":"ok"}'
check_fails "a delivered malformed record" r.ndjson "$(rec 13 bad_1 13 200 true)"
echo "ok: reconcile.py counts and checks"
