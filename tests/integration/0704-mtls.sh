#!/usr/bin/env bash
# 0704-mtls: an endpoint's client certificate (mTLS) end to end.  A throwaway server CA, a
# server certificate for 127.0.0.1/localhost and a client CA with a client certificate are made
# with the openssl CLI; a Python HTTPS receiver on loopback REQUIRES a client certificate signed
# by the client CA (keep-alive on, so a reused connection would show) and records the subject it
# saw.  With delivery.ca_file = the server CA: the endpoint created with --client-cert/--client-key
# is delivered and the receiver saw its subject; an endpoint to the same receiver without one
# fails every attempt (never delivered, ends in the DLQ), even right after the mTLS endpoint's
# connection was used; after `endpoint update --client-cert ...` with a certificate issued by an
# intermediate CA (the PEM carries the chain) it is delivered too.  The key is
# sealed (enc:v1:) in Redis and never in an API answer; the admin refuses a mismatched pair, a
# garbage PEM and half a pair.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"
. "$(dirname "$0")/admin_lib.sh"
export HOOKLINE_SECRET_KEY=$(head -c 32 /dev/urandom | base64)

# ---- certificates ----
P="$T/pki"
mkdir -p "$P"
ossl() { openssl "$@" >>"$T/openssl.log" 2>&1 || fail "openssl $1: $(tail -3 "$T/openssl.log")"; }
# ca NAME CN: a self-signed CA
ca() { ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
  -keyout "$P/$1.key" -out "$P/$1.pem"; }
# leaf NAME CN CA EXT [BASIC]: a key and a certificate signed by CA (BASIC: CA:FALSE)
leaf() {
  ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$P/$1.key" -out "$P/$1.csr"
  printf '%s\nbasicConstraints=%s\n' "$4" "${5:-CA:FALSE}" >"$P/$1.ext"
  ossl x509 -req -in "$P/$1.csr" -CA "$P/$3.pem" -CAkey "$P/$3.key" -set_serial "0x$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    -days 2 -extfile "$P/$1.ext" -out "$P/$1.pem"
}
CN="hookline-client-$PREFIX"
ca sca "hookline test server CA"
ca cca "hookline test client CA"
leaf srv 127.0.0.1 sca "subjectAltName=IP:127.0.0.1,DNS:localhost"
leaf cli "$CN" cca "extendedKeyUsage=clientAuth"
leaf other "other-$PREFIX" cca "extendedKeyUsage=clientAuth"
# a client certificate issued by an intermediate CA: the receiver trusts only the client CA, so
# the endpoint must present the chain (leaf, then intermediate)
leaf cint "hookline test client intermediate" cca "keyUsage=critical,keyCertSign,cRLSign" critical,CA:TRUE
leaf chained "chained-$PREFIX" cint "extendedKeyUsage=clientAuth"
cat "$P/chained.pem" "$P/cint.pem" >"$P/chain.pem"
pass "throwaway CAs and certificates"

# ---- the receiver: TLS with a required client certificate, HTTP/1.1 keep-alive ----
cat >"$T/recv.py" <<'PY'
import http.server, json, ssl, sys, threading
port_file, record, cert, key, client_ca = sys.argv[1:6]
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        peer = self.connection.getpeercert() or {}
        subject = dict(x[0] for x in peer.get("subject", ()))
        with lock, open(record, "a") as f:
            f.write(json.dumps({"path": self.path, "status": 200, "cn": subject.get("commonName"),
                                "webhook_id": self.headers.get("webhook-id"),
                                "bytes": len(body)}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, fmt, *args):
        sys.stderr.write("request: " + (fmt % args) + "\n")
class S(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        sys.stderr.write("connection error: %s\n" % (sys.exc_info()[1],))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(client_ca)
ctx.verify_mode = ssl.CERT_REQUIRED  # SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
srv = S(("127.0.0.1", 0), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(port_file + ".tmp", "w").write(str(srv.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
timeout "$(scaled 300)" python3 "$T/recv.py" "$T/m.port" "$T/m.ndjson" "$P/srv.pem" "$P/srv.key" \
  "$P/cca.pem" 2>"$T/m.log" &
HL_PIDS+=($!)
wait_until 10 test -s "$T/m.port" || fail "receiver did not start: $(cat "$T/m.log")"
MPORT=$(cat "$T/m.port")
# the receiver really requires the client certificate (checked with curl, loopback)
curl -s --max-time 10 --cacert "$P/sca.pem" -X POST "https://127.0.0.1:$MPORT/probe" >/dev/null &&
  fail "receiver answered without a client certificate"
[ "$(curl -s --max-time 10 --cacert "$P/sca.pem" --cert "$P/cli.pem" --key "$P/cli.key" \
  -X POST -d x "https://127.0.0.1:$MPORT/probe")" = ok ] || fail "receiver refuses the client certificate"
curl -s --max-time 10 --cacert "$P/sca.pem" --cert "$P/chained.pem" --key "$P/chained.key" \
  -X POST -d x "https://127.0.0.1:$MPORT/probe" >/dev/null && fail "receiver took a leaf without its chain"
[ "$(curl -s --max-time 10 --cacert "$P/sca.pem" --cert "$P/chain.pem" --key "$P/chained.key" \
  -X POST -d x "https://127.0.0.1:$MPORT/probe")" = ok ] || fail "receiver refuses the chained certificate"
pass "receiver on 127.0.0.1:$MPORT requires a client certificate from the client CA (with its chain)"

# ---- the admin: refusals ----
U="https://127.0.0.1:$MPORT"
refused() { # refused WHAT WANT-IN-MESSAGE create-flags...
  local what=$1 want=$2 rc=0
  shift 2
  admin endpoint create --tenant "$TENANT" --url "$U/x" --types t.x "$@" >"$T/refused.out" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "$what: exit $rc, want 2: $(cat "$T/refused.out")"
  tail -3 "$T/admin.log" | has -- "$want" || fail "$what: message lacks '$want': $(tail -3 "$T/admin.log")"
  grep -q "PRIVATE KEY" "$T/admin.log" && fail "$what: the key shows in the message"
  return 0
}
refused "mismatched pair" "does not match" --client-cert "$P/cli.pem" --client-key "$P/other.key"
printf -- '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' >"$P/garbage.pem"
refused "garbage certificate" "tls_client_cert: not a PEM" --client-cert "$P/garbage.pem" --client-key "$P/cli.key"
refused "garbage key" "tls_client_key: not an unencrypted PEM" --client-cert "$P/cli.pem" --client-key "$P/garbage.pem"
refused "certificate without key" "tls_client_key: required" --client-cert "$P/cli.pem"
start_admin "$T/serve.log" -o "admin.tokens=$TOKEN" -o delivery.allow_cidrs=127.0.0.0/8 \
  -o topics.prefix="$PREFIX" -o "redis.host=$HOOKLINE_REDIS_HOST" -o "redis.port=$HOOKLINE_REDIS_PORT"
EPS=/v1/tenants/$TENANT/endpoints
body() { python3 -c 'import json,sys; print(json.dumps({"url": sys.argv[1], "types": ["t.x"],
  "tls_client_cert": open(sys.argv[2]).read(), "tls_client_key": open(sys.argv[3]).read()}))' "$@"; }
callj POST "$EPS" "$(body "$U/x" "$P/cli.pem" "$P/other.key")"
problem 400 tls_client_key "does not match"
grep -q "PRIVATE KEY" "$T/body" && fail "REST refusal echoes the key"
callj POST "$EPS" "$(body "$U/x" "$P/garbage.pem" "$P/cli.key")"
problem 400 tls_client_cert "not a PEM"
[ "$("${REDIS[@]}" SCARD "hl:tenant:$TENANT:eps")" = 0 ] || fail "a refused endpoint was stored"
pass "admin refuses a mismatched pair, garbage PEMs and half a pair (CLI exit 2, REST 400)"

# ---- endpoints: one with the client certificate, one without ----
ep_admin EPM "$TENANT" "$U/m" t.m --client-cert "$P/cli.pem" --client-key "$P/cli.key"
ep_admin EPN "$TENANT" "$U/n" t.n
call GET "$EPS/$EPM"
want 200
[ "$(jb 'd["tls_client_cert"]["subject"]')" = "CN=$CN" ] || fail "GET: tls_client_cert $(cat "$T/body")"
grep -q -e "BEGIN" -e "tls_client_key" "$T/body" && fail "GET shows PEM text: $(cat "$T/body")"
call GET "$EPS/$EPN"
[ "$(jb 'd["tls_client_cert"]')" = None ] || fail "GET: EPN has a client cert: $(cat "$T/body")"
"${REDIS[@]}" HGETALL "hl:ep:$EPM" >"$T/redis.m"
grep -q '^enc:v1:' <("${REDIS[@]}" HGET "hl:ep:$EPM" tls_client_key) || fail "key not sealed in Redis"
"${REDIS[@]}" HGET "hl:ep:$EPM" tls_client_cert | has "BEGIN CERTIFICATE" || fail "cert not stored"
KEYBODY=$(sed -n 2p "$P/cli.key")
grep -qF -- "$KEYBODY" "$T/redis.m" && fail "the key's PEM body is in Redis in the clear"
admin endpoint get "$EPM" >"$T/get.txt" || fail "CLI get"
grep -q "client cert    CN=$CN, expires " "$T/get.txt" || fail "CLI get: $(cat "$T/get.txt")"
pass "stored: certificate clear, key sealed; GET shows the subject only"

# ---- deliveries ----
dispatcher_start d -o "delivery.ca_file=$P/sca.pem" -o log.level=debug
event evt_m1 "$TENANT" t.m | publish
wait_until 30 rec_at_least 1 m /m || fail "mTLS endpoint not delivered: $(tail -5 "$T/m.log")"
# the mTLS connection is alive now; the plain endpoint must not ride on it
{ event evt_n1 "$TENANT" t.n; event evt_m2 "$TENANT" t.m; } | publish
wait_until 30 rec_at_least 2 m /m || fail "second mTLS delivery missing"
in_dlq() { consume "$PREFIX.dlq" | has '"evt_n1"'; }
wait_until 60 in_dlq || fail "evt_n1 never reached the DLQ"
consume "$PREFIX.attempts" >"$T/attempts"
python3 - "$T/m.ndjson" "$T/attempts" "$EPN" "$CN" <<'PY' || fail "see above"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
atts = [json.loads(l) for l in open(sys.argv[2])]
epn, cn = sys.argv[3], sys.argv[4]
errs = []
m = [r for r in recs if r["path"] == "/m"]
if [r["cn"] for r in m] != [cn, cn]: errs.append("receiver saw %s on /m, want %s twice" % ([r["cn"] for r in m], cn))
if [r for r in recs if r["path"] == "/n"]: errs.append("the endpoint without a certificate was delivered")
n = [a for a in atts if a["endpoint_id"] == epn]
if len(n) != 4: errs.append("%d attempts for the plain endpoint, want 4" % len(n))
for a in n:
    # a refused handshake is connect_error; under load the receiver may also drop the connection
    # before its alert goes out (error), never a status
    if a["outcome"] not in ("connect_error", "error") or a.get("status"):
        errs.append("plain endpoint attempt %s" % a)
    if "alert" in a.get("error", "") and a["outcome"] != "connect_error":
        errs.append("a TLS alert is not a connect_error: %s" % a)
print("plain endpoint outcomes:", sorted({(a["outcome"], a.get("error", "")) for a in n}))
print("\n".join(errs) or "all good")
sys.exit(1 if errs else 0)
PY
pass "client certificate presented (receiver saw CN=$CN); without it every attempt failed, nothing delivered"

# ---- rotation = update; removal ----
admin endpoint update "$EPN" --client-cert "$P/chain.pem" --client-key "$P/chained.key" >/dev/null ||
  fail "update with a client cert: $(tail -2 "$T/admin.log")"
sleep 1
event evt_n2 "$TENANT" t.n | publish
wait_until 30 rec_at_least 1 m /n || fail "updated endpoint not delivered"
python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["path"]=="/n"]; sys.exit(r[0]["cn"] != sys.argv[2])' \
  "$T/m.ndjson" "chained-$PREFIX" || fail "updated endpoint presented the wrong certificate"
admin endpoint update "$EPN" --no-client-cert >/dev/null || fail "--no-client-cert"
[ "$("${REDIS[@]}" HEXISTS "hl:ep:$EPN" tls_client_key)" = 0 ] || fail "key kept after --no-client-cert"
pass "update sets a client certificate with its chain (delivered with the new subject); --no-client-cert removes it"

kill -TERM "$DPID" "$ADMIN_PID"
wait "$DPID" "$ADMIN_PID" || true
for f in d.log serve.log admin.log attempts; do
  grep -qF -- "$KEYBODY" "$T/$f" && fail "the client key's PEM body is in $f"
done
pass "the client key is in no log nor attempt record"
