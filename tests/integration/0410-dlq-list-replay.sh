#!/usr/bin/env bash
# 0410-dlq-list-replay: always-failing endpoints (schedule 1s,1s) send their deliveries to the
# DLQ; `hookline-admin dlq list` shows them and filters by tenant, endpoint, reason and time
# (table and NDJSON); after the endpoints are pointed at a working URL, `dlq replay --dry-run`
# sends nothing, `dlq replay` skips disabled and deleted endpoints and delivers the others
# exactly once with a fresh attempt count, a second replay over the same range sends nothing
# (hl:done markers), and enabling the endpoint lets the next replay deliver it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"

SCHED=1s,1s
TB=${TENANT}b
receiver_start r '/fail=500'
U="http://127.0.0.1:$RPORT"
ep_admin EA1 "$TENANT" "$U/fail" t.a
ep_admin EA2 "$TENANT" "$U/fail" t.b
ep_admin EB "$TB" "$U/fail" t.a
dispatcher_start d -o retry.schedule=$SCHED
{
  event evt_a1 "$TENANT" t.a
  event evt_a2 "$TENANT" t.a
  event evt_b1 "$TENANT" t.b
  event evt_c1 "$TB" t.a
} | publish
dlq4() { [ "$(topic_count "$PREFIX.dlq")" -ge 4 ]; }
wait_until 60 dlq4 || fail "want 4 DLQ records, have $(topic_count "$PREFIX.dlq")"

# ---- list ----
dlq() { admin -o "retry.schedule=$SCHED" dlq "$@"; }
# marked PAIR...: every "event endpoint" pair has its hl:done marker (the dispatcher writes it just
# after the 2xx the receiver recorded; a replay before that could not know)
marked() { local p; for p in "$@"; do [ "$("${REDIS[@]}" EXISTS "hl:done:${p% *}:${p#* }")" = 1 ] || return 1; done; }
rows() { dlq list "$@" | tail -n +2 | grep -c . || true; }
dlq list >"$T/list.txt" || fail "dlq list exit $?"
head -1 "$T/list.txt" | has '^TIME  *EVENT  *TENANT  *ENDPOINT  *TYPE  *ATTEMPTS  *REASON$' ||
  fail "table header: $(head -1 "$T/list.txt")"
for e in evt_a1 evt_a2 evt_b1 evt_c1; do
  grep "$e" "$T/list.txt" | has ' 3  *retries exhausted after 3 attempts: last HTTP 500$' ||
    fail "$e not listed with 3 attempts and the reason: $(cat "$T/list.txt")"
done
[ "$(rows)" = 4 ] || fail "list: $(rows) rows, want 4"
[ "$(rows --tenant "$TENANT")" = 3 ] || fail "--tenant: $(rows --tenant "$TENANT") rows, want 3"
[ "$(rows --endpoint "$EA1")" = 2 ] || fail "--endpoint: $(rows --endpoint "$EA1") rows, want 2"
[ "$(rows --tenant "$TB" --endpoint "$EA1")" = 0 ] || fail "--tenant and --endpoint combine"
[ "$(rows --reason 'last HTTP 500')" = 4 ] || fail "--reason: $(rows --reason 'last HTTP 500')"
[ "$(rows --reason 'no such reason')" = 0 ] || fail "--reason matched a reason it is not in"
[ "$(rows --since 1h)" = 4 ] || fail "--since 1h: $(rows --since 1h) rows"
[ "$(rows --since 2h --until 1h)" = 0 ] || fail "--since 2h --until 1h listed records"
[ "$(rows --until 2020-01-01T00:00:00Z)" = 0 ] || fail "--until in the past listed records"
[ "$(rows --since "$(date -u -d '+1 hour' +%FT%TZ)")" = 0 ] || fail "--since in the future"
dlq list --tenant "$TENANT" -o json >"$T/list.json" || fail "dlq list -o json"
python3 - "$T/list.json" "$EA1" "$EA2" "$TENANT" <<'PY' || fail "NDJSON: $(cat "$T/list.json")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert sorted(r["event_id"] for r in recs) == ["evt_a1", "evt_a2", "evt_b1"], recs
for r in recs:
    assert r["tenant"] == sys.argv[4] and r["attempts"] == 3 and not r["invalid"], r
    assert r["endpoint_id"] == (sys.argv[3] if r["event_id"] == "evt_b1" else sys.argv[2]), r
    assert "last HTTP 500" in r["reason"] and len(r["history"]) == 3, r
    assert r["time"].endswith("Z") and r["offset"] >= 0, r
PY
rc=0; dlq list --bogus >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "an unknown flag exits $rc, want 2"
for bad in "dlq" "dlq frob" "dlq list --dry-run" "dlq list extra" "dlq replay --since 1h --until 2h"; do
  rc=0; admin $bad >/dev/null 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "hookline-admin $bad exits $rc, want 2"
done
admin dlq --help | has -- '--include-disabled' || fail "dlq --help"
rc=0; dlq list --since yesterday >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "a bad --since exits $rc, want 2"
rc=0; admin -o topics.prefix=${PREFIX}none dlq list >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a missing DLQ topic exits $rc, want 1"
pass "dlq list: table, filters (tenant, endpoint, reason, since/until), NDJSON, exit codes"

# ---- replay ----
for ep in "$EA1" "$EA2" "$EB"; do admin endpoint update "$ep" --url "$U/ok" >/dev/null || fail "update $ep"; done
# the first tier of another schedule does not exist: refused, nothing written
rc=0; admin dlq replay >"$T/out" || rc=$?
[ "$rc" = 1 ] && grep -q "$PREFIX.retry.5s does not exist" "$T/admin.log" ||
  fail "replay into a missing tier topic: exit $rc, $(tail -1 "$T/admin.log")"
out=$(dlq replay --dry-run) || fail "dry run exit $?"
[ "$out" = "would replay 4, skipped 0" ] || fail "dry run: $out"
sleep "$(scaled 3)"
[ "$(rec_count r /ok)" = 0 ] || fail "the dry run delivered $(rec_count r /ok) requests"
pass "a replay into another schedule's tier is refused; --dry-run sends nothing"

admin endpoint disable "$EA2" --reason 'maintenance' >/dev/null || fail "disable"
admin endpoint delete "$EB" >/dev/null || fail "delete"
out=$(dlq replay) || fail "replay exit $?"
[ "$out" = "replayed 2, skipped 2 (1 endpoint disabled, 1 endpoint no longer exists)" ] ||
  fail "replay: $out"
two() { [ "$(rec_count r /ok 200)" -ge 2 ] && marked "evt_a1 $EA1" "evt_a2 $EA1"; }
wait_until 30 two || fail "replayed deliveries: $(rec_count r /ok 200)/2 arrived"
out=$(dlq replay -v) || fail "second replay exit $?"
grep -q "^skip evt_a1 $EA1: already delivered$" <<<"$out" || fail "replay -v: $out"
[ "$(tail -1 <<<"$out")" = \
  "replayed 0, skipped 4 (2 already delivered, 1 endpoint disabled, 1 endpoint no longer exists)" ] ||
  fail "second replay: $out"
pass "replay delivers, skips disabled and deleted endpoints; a second replay sends nothing"

admin endpoint enable "$EA2" >/dev/null || fail "enable"
out=$(dlq replay --tenant "$TENANT" -o json) || fail "replay after enable exit $?"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["replayed"] == 1 and d["skipped"] == 2 and d["skipped_by_reason"] == {"already delivered": 2} and not d["dry_run"], d' "$out" ||
  fail "replay after enable: $out"
three() { [ "$(rec_count r /ok 200)" -ge 3 ] && marked "evt_b1 $EA2"; }
wait_until 30 three || fail "the enabled endpoint's delivery did not arrive"
out=$(dlq replay --tenant "$TENANT") || fail "replay exit $?"
[ "$out" = "replayed 0, skipped 3 (3 already delivered)" ] || fail "last replay: $out"
sleep "$(scaled 3)"
consume "$PREFIX.attempts" >"$T/attempts"
python3 - "$T/r.ndjson" "$T/attempts" <<'PY' || fail "deliveries"
import json, sys, collections
ok = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["path"] == "/ok"]
ids = collections.Counter(r["headers"]["webhook-id"] for r in ok)
assert ids == {"evt_a1": 1, "evt_a2": 1, "evt_b1": 1}, ids
assert all(r["sig_ok"] and r["status"] == 200 for r in ok), ok
atts = [json.loads(l) for l in open(sys.argv[2])]
okatt = sorted((a["event_id"], a["attempt"]) for a in atts if a["outcome"] == "ok")
assert okatt == [("evt_a1", 1), ("evt_a2", 1), ("evt_b1", 1)], okatt
PY
pass "each replayed delivery arrived exactly once, signed, as attempt 1"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "dispatcher exit $rc"
