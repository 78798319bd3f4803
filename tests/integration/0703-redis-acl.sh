#!/usr/bin/env bash
# 0703-redis-acl: the least-privilege Redis users of docs/security.md, taken from the document
# itself (user names and passwords replaced by throw-away ones), are enough for a whole flow:
# hookline-admin creates, rotates, updates, disables, enables, lists attempts and deletes; a
# dispatcher follows hl:changes, delivers (done markers, hl:recent), retries a failing endpoint
# to the DLQ (breaker state in hl:health), and disables an endpoint
# that answers 410 (Lua). Nothing is refused with NOPERM, and the users cannot touch other keys.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"
RAND=${PREFIX#hltest_}
DU=hltest_disp_$RAND DP=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
AU=hltest_adm_$RAND AP=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
acl_cleanup() {
  local rc=$?
  set +e
  "${REDIS[@]}" ACL DELUSER "$DU" "$AU" >/dev/null 2>&1 || true
  (exit "$rc")
  hl_dispatch_cleanup
}
trap acl_cleanup EXIT

# the ACL SETUSER lines of docs/security.md, continuation lines joined
python3 - "$HOOKLINE_SOURCE_DIR/docs/security.md" >"$T/acl" <<'PY'
import sys, re
text = open(sys.argv[1]).read().replace("\\\n", " ")
for line in text.splitlines():
    if line.startswith("ACL SETUSER hookline-"):
        print(" ".join(line.split()))
PY
[ "$(grep -c . "$T/acl")" -eq 2 ] || fail "want 2 ACL SETUSER lines in docs/security.md: $(cat "$T/acl")"
while read -r -a words; do
  case ${words[2]} in
  hookline-dispatcher) words[2]=$DU pw=$DP ;;
  hookline-admin) words[2]=$AU pw=$AP ;;
  *) fail "unknown user ${words[2]}" ;;
  esac
  for i in "${!words[@]}"; do [[ ${words[$i]} == ">"* ]] && words[$i]=">$pw"; done
  out=$("${REDIS[@]}" "${words[@]}") || fail "ACL SETUSER failed: $out"
  [ "$out" = OK ] || fail "ACL SETUSER: $out (${words[*]})"
done <"$T/acl"
R_D=(redis-cli -h "$HOOKLINE_REDIS_HOST" -p "$HOOKLINE_REDIS_PORT" --user "$DU" --pass "$DP" --no-auth-warning)
"${R_D[@]}" GET "other:key" 2>&1 | has NOPERM || fail "dispatcher user may read other keys"
"${R_D[@]}" SADD "hl:tenant:$TENANT:eps" x 2>&1 | has NOPERM || fail "dispatcher user may write tenants' sets"
"${R_D[@]}" FLUSHDB 2>&1 | has NOPERM || fail "dispatcher user may FLUSHDB"
pass "the documented ACL users exist, and refuse what they should"

# hookline-admin gets its user through the environment (the documented way for the password)
export HOOKLINE_REDIS_USERNAME=$AU HOOKLINE_REDIS_PASSWORD=$AP
receiver_start r '/ok=200' '/gone=410' '/fail=500'
ep_admin EPOK "$TENANT" "http://127.0.0.1:$RPORT/ok" t.ok
ep_admin EPG "$TENANT" "http://127.0.0.1:$RPORT/gone" t.gone
ep_admin EPF "$TENANT" "http://127.0.0.1:$RPORT/fail" t.fail
HL_EP_KEYS+=("hl:health:$EPOK" "hl:health:$EPG" "hl:health:$EPF")
admin endpoint rotate-secret "$EPOK" --secret "$SECRET" >/dev/null || fail "rotate: $(tail -2 "$T/admin.log")"
dispatcher_start d -o "redis.username=$DU" -o "redis.password=$DP" # -o wins over the environment
{ event evt_ok "$TENANT" t.ok; event evt_g "$TENANT" t.gone; event evt_f "$TENANT" t.fail; } | publish
wait_until 30 rec_at_least 1 r /ok 200 || fail "not delivered with the ACL user: $(grep -i noperm "$T/d.log" | head -3)"
redis_has() { [ "$("${REDIS[@]}" EXISTS "$1")" = 1 ]; }
gone() { [ "$("${REDIS[@]}" HGET "hl:ep:$EPG" status)" = disabled ]; }
wait_until 30 gone || fail "410 did not disable the endpoint (Lua under the ACL): $(grep -i noperm "$T/d.log" | head -3)"
wait_until 10 redis_has "hl:done:evt_ok:$EPOK" || fail "no done marker"
# failures go through the shared breaker state (Lua on hl:health) and the retry tiers
dlq_one() { [ "$(topic_count "$PREFIX.dlq")" -ge 1 ]; }
wait_until 40 dlq_one || fail "failing endpoint's event not in the DLQ: $(grep -i noperm "$T/d.log" | head -3)"
[ "$("${REDIS[@]}" EXISTS "hl:health:$EPF")" = 1 ] || fail "no shared health for the failing endpoint"
# a change through admin reaches the dispatcher over hl:changes
admin endpoint update "$EPOK" --types t.ok,t.new >/dev/null || fail "update: $(tail -2 "$T/admin.log")"
sleep 1
event evt_new "$TENANT" t.new | publish
wait_until 30 rec_at_least 2 r /ok 200 || fail "update not followed"
pass "dispatcher as $DU: delivers, marks done, records, retries to the DLQ with shared health, disables on 410, follows hl:changes"

admin attempts list --endpoint "$EPOK" >"$T/att" || fail "attempts: $(tail -2 "$T/admin.log")"
grep -q evt_ok "$T/att" || fail "attempts list lacks evt_ok: $(cat "$T/att")"
admin endpoint enable "$EPG" >/dev/null || fail "enable: $(tail -2 "$T/admin.log")"
admin endpoint disable "$EPG" --reason test >/dev/null || fail "disable: $(tail -2 "$T/admin.log")"
admin endpoint list --tenant "$TENANT" >/dev/null || fail "list: $(tail -2 "$T/admin.log")"
admin endpoint get "$EPOK" --show-secret >/dev/null || fail "get: $(tail -2 "$T/admin.log")"
admin endpoint delete "$EPG" >/dev/null || fail "delete: $(tail -2 "$T/admin.log")"
[ "$("${REDIS[@]}" EXISTS "hl:ep:$EPG" "hl:recent:$EPG" "hl:health:$EPG")" = 0 ] || fail "delete left keys"
kill -TERM "$DPID"
wait "$DPID" || fail "dispatcher exit $?"
if grep -qi 'noperm' "$T/d.log" "$T/admin.log"; then
  fail "NOPERM: $(grep -hi noperm "$T/d.log" "$T/admin.log" | head -3)"
fi
pass "admin as $AU: create, rotate, update, attempts, enable, disable, list, get, delete; no NOPERM anywhere"
