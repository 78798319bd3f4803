#!/usr/bin/env bash
# 0701-secrets-no-leak: endpoint secrets and HOOKLINE_SECRET_KEY never show up where they should
# not. A full flow (REST and CLI creates with secrets, rotations, a refused secret, deliveries
# that succeed, fail into the DLQ and are blocked by the SSRF guard, a test webhook, every read
# route of the REST API, /metrics of both programs, `config show`, the attempts/DLQ/retry
# topics, hl:recent and the sealed endpoint hashes in Redis) is captured, then every capture is
# searched for each whsec_ secret, its base64 key, a 16-character piece of that key, the
# secret key, and an mTLS client key (set by REST and CLI, refused once in a mismatched pair):
# its PEM body, each base64 line of it and a 16-character piece. Only the answers that hand a
# secret out on purpose (create, rotate, GET .../secret) are left out of the search.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"
. "$(dirname "$0")/admin_lib.sh"
export HOOKLINE_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
gen() { echo "whsec_$(head -c 32 /dev/urandom | base64)"; }
S1=$SECRET S2=$(gen) S3=$(gen) S4=$(gen)
BAD="whsec_Zm9vYmFy$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')" # too short a key
C=$T/capture # everything searched goes here
mkdir -p "$C"
# an mTLS client identity, and a second key that does not belong to the certificate
mtls() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$1" \
  -keyout "$T/$1.key" -out "$T/$1.pem" >/dev/null 2>&1 || fail "openssl"; }
mtls leak-client
mtls leak-other
tlsbody() { python3 -c 'import json,sys; print(json.dumps({"url": sys.argv[1], "types": ["t.tls"],
  "tls_client_cert": open(sys.argv[2]).read(), "tls_client_key": open(sys.argv[3]).read()}))' "$@"; }

receiver_start r '/ok=200' '/fail=500'
dispatcher_start d -o http.listen=127.0.0.1:0 -o delivery.allow_cidrs=127.0.0.1/32 -o log.level=debug
DMET=$(grep -o 'http listening on [0-9.]*:[0-9]*' "$T/d.log" | head -1 | awk '{print $4}')
[ -n "$DMET" ] || fail "dispatcher metrics address not logged"
start_admin "$C/serve.log" -o "admin.tokens=$TOKEN" -o delivery.allow_cidrs=127.0.0.0/8 \
  -o topics.prefix="$PREFIX" -o "redis.host=$HOOKLINE_REDIS_HOST" -o "redis.port=$HOOKLINE_REDIS_PORT" \
  -o log.level=debug
EPS=/v1/tenants/$TENANT/endpoints
n=0
keep() { n=$((n + 1)); cp "$T/body" "$C/api.$n.body"; cp "$T/hdrs" "$C/api.$n.hdrs"; }

# REST: create with a secret, create with a refused one, rotate, read everything
callj POST "$EPS" "{\"url\":\"http://127.0.0.1:$RPORT/ok\",\"types\":[\"t.ok\"],\"secret\":\"$S1\"}"
want 201
EPOK=$(jb 'd["id"]')
HL_EP_KEYS+=("hl:ep:$EPOK" "hl:tenant:$TENANT:eps" "hl:recent:$EPOK")
callj POST "$EPS" "{\"url\":\"http://127.0.0.1:$RPORT/fail\",\"types\":[\"t.fail\"],\"secret\":\"$BAD\"}"
want 400
keep
callj POST "$EPS" "{\"url\":\"http://127.0.0.1:$RPORT/fail\",\"types\":[\"t.fail\"],\"secret\":\"$S1\"}"
want 201
EPF=$(jb 'd["id"]')
HL_EP_KEYS+=("hl:ep:$EPF" "hl:recent:$EPF")
callj POST "$EPS/$EPOK/secret/rotate" "{\"secret\":\"$S2\"}"
want 200
callj POST "$EPS/$EPF/secret/rotate" "{\"secret\":\"$BAD\"}"
want 400
keep
# mTLS client key: REST create, REST refusal (key of another certificate), CLI update
callj POST "$EPS" "$(tlsbody "https://127.0.0.1:1/tls" "$T/leak-client.pem" "$T/leak-client.key")"
want 201
keep
EPT=$(jb 'd["id"]')
HL_EP_KEYS+=("hl:ep:$EPT" "hl:recent:$EPT")
callj POST "$EPS" "$(tlsbody "https://127.0.0.1:1/tls" "$T/leak-other.pem" "$T/leak-client.key")"
want 400
keep
admin endpoint update "$EPT" --client-cert "$T/leak-client.pem" --client-key "$T/leak-client.key" \
  >"$C/cli-tls-update.out" 2>&1 || fail "CLI update with a client cert"
admin endpoint update "$EPT" --client-cert "$T/leak-other.pem" --client-key "$T/leak-client.key" \
  >"$C/cli-tls-bad.out" 2>&1 && fail "CLI took a mismatched client key"
admin endpoint get "$EPT" >"$C/cli-tls-get.out" 2>&1 || fail "CLI get"
# CLI: create (to 127.0.0.2, which this dispatcher's guard refuses) and rotate, one refused
ep_admin EPB "$TENANT" "http://127.0.0.2:$RPORT/ok" t.blk
SECRET=$S3 ep_admin EPB2 "$TENANT" "http://127.0.0.2:$RPORT/ok" t.blk2
admin endpoint rotate-secret "$EPB2" --secret "$S4" >/dev/null || fail "CLI rotate"
admin endpoint rotate-secret "$EPB2" --secret "$BAD" >"$C/cli-bad-rotate.out" 2>&1 && fail "CLI took a bad secret"
admin endpoint create --tenant "$TENANT" --url "http://127.0.0.1:1/" --types x --secret "$BAD" \
  >"$C/cli-bad-create.out" 2>&1 && fail "CLI took a bad secret"
pass "secrets set by REST and CLI, bad ones refused"

# deliveries: ok (signed with S1 and S2 after the rotation), failing into the DLQ, blocked
{ event evt_ok "$TENANT" t.ok; event evt_fail "$TENANT" t.fail; event evt_blk "$TENANT" t.blk; } | publish
call POST "$EPS/$EPOK/test"
want 202
keep
dlq_two() { [ "$(topic_count "$PREFIX.dlq")" -ge 2 ]; }
wait_until 60 dlq_two || fail "want 2 DLQ records, have $(topic_count "$PREFIX.dlq")"
wait_until 30 rec_at_least 2 r /ok 200 || fail "ok endpoint got $(rec_count r /ok 200) deliveries"
python3 - "$T/r.ndjson" <<'PY' || fail "signatures"
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == "/ok":
        assert len(r["headers"]["webhook-signature"].split()) == 2, r["headers"]  # S1 + S2 overlap
PY
pass "deliveries: ok, failing to the DLQ, blocked"

# every read the API offers, metrics, config, topics, Redis
for p in "$EPS" "$EPS/$EPOK" "$EPS/$EPF" "$EPS/$EPB2" "$EPS/$EPT" "$EPS/$EPOK/attempts" "$EPS/$EPF/attempts?limit=100" \
  "$EPS/$EPB/attempts" /metrics /readyz /healthz "$EPS/ep_nope" "/v1/nope"; do
  call GET "$p"
  keep
done
callj PATCH "$EPS/$EPOK" '{"secret":"'"$S1"'"}' # not a PATCH field: refused without echoing it
keep
[ "$CODE" = 400 ] || fail "PATCH with a secret: HTTP $CODE"
call POST "$EPS/$EPF/disable"
keep
CODE=$(curl -s -o "$T/body" -D "$T/hdrs" -w '%{http_code}' -H "Authorization: Bearer $S1" "$API$EPS")
keep
want 401
curl -s "http://$DMET/metrics" >"$C/dispatcher.metrics" || fail "dispatcher /metrics"
grep -q '^hookline_' "$C/dispatcher.metrics" || fail "dispatcher /metrics empty"
"$BIN/hookline-admin" config show >"$C/config-show.out" 2>&1 || fail "config show"
grep -q '^secret_key = \*' "$C/config-show.out" || fail "config show does not mask secret_key"
for t in attempts dlq retry.1s retry.2s; do consume "$PREFIX.$t" >"$C/topic.$t" || true; done
grep -q blocked_address "$C/topic.attempts" || fail "no blocked attempt recorded"
grep -q '"status":500' "$C/topic.attempts" || fail "no failed attempt recorded"
for ep in "$EPOK" "$EPF" "$EPB" "$EPB2" "$EPT"; do
  "${REDIS[@]}" LRANGE "hl:recent:$ep" 0 -1 >"$C/recent.$ep"
  "${REDIS[@]}" HGETALL "hl:ep:$ep" >"$C/redis.$ep"
done
grep -q 'enc:v1:' "$C/redis.$EPOK" || fail "secrets not sealed in Redis"
grep -q 'tls_client_key' "$C/redis.$EPT" || fail "no client key stored"
[ -s "$C/recent.$EPOK" ] || fail "hl:recent empty"
kill -TERM "$DPID" "$ADMIN_PID"
wait "$DPID" "$ADMIN_PID" || true
cp "$T/d.log" "$T/admin.log" "$C/"
pass "captured $(ls "$C" | wc -l) files, $(cat "$C"/* | wc -c) bytes"

# the search: whole secret, its key, a 16-character piece of the key, the secret key
python3 - "$C" "$T/leak-client.key" "$S1" "$S2" "$S3" "$S4" "$BAD" "$HOOKLINE_SECRET_KEY" <<'PY' || fail "a secret leaked"
import os, sys
d, keyfile, secrets = sys.argv[1], sys.argv[2], sys.argv[3:]
needles = {}
lines = [l for l in open(keyfile).read().splitlines() if l and not l.startswith("-----")]
for n in ["".join(lines), "\\n".join(lines), lines[0][4:20]] + lines:
    needles[n] = "mTLS client key"
for s in secrets:
    key = s[len("whsec_"):] if s.startswith("whsec_") else s
    for n in (s, key, key[4:20]):
        needles[n] = s[:12] + "..."
bad = 0
for f in sorted(os.listdir(d)):
    text = open(os.path.join(d, f), "rb").read().decode("utf-8", "replace")
    for n, what in needles.items():
        if n in text:
            print("LEAK: %s contains %r (from %s)" % (f, n, what))
            bad += 1
print("searched %d files for %d needles, %d leaks" % (len(os.listdir(d)), len(needles), bad))
sys.exit(1 if bad else 0)
PY
pass "no secret nor client key in logs, metrics, attempts, DLQ, hl:recent, Redis, API answers or error messages"
