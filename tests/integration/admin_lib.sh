# admin_lib.sh - helpers for the hookline-admin tests (sourced after lib.sh): start the REST
# server on a free loopback port, call it with curl, read JSON with python3 (no jq).
R=(redis-cli -h "$HOOKLINE_REDIS_HOST" -p "$HOOKLINE_REDIS_PORT")
TOKEN=tok_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

# start_admin LOG [-o key=value]...: serve on 127.0.0.1:<free port>; sets API and ADMIN_PID
start_admin() {
  local log=$1
  shift
  "$BIN/hookline-admin" -o http.listen=127.0.0.1:0 "$@" serve 2>"$log" &
  ADMIN_PID=$!
  HL_PIDS+=("$ADMIN_PID")
  wait_until 10 grep -q 'admin api listening on' "$log" || fail "serve did not start: $(cat "$log")"
  API=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | head -1 | cut -d' ' -f3)
}

# call METHOD PATH [curl args]: status in CODE, body in $T/body, headers in $T/hdrs
call() {
  local m=$1 p=$2
  shift 2
  CODE=$(curl -s -o "$T/body" -D "$T/hdrs" -w '%{http_code}' -X "$m" \
    -H "Authorization: Bearer $TOKEN" "$@" "$API$p")
}
# callj METHOD PATH JSON: a JSON body
callj() { call "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }
# want CODE: the last call answered CODE
want() { [ "$CODE" = "$1" ] || fail "HTTP $CODE, want $1: $(cat "$T/body")"; }
# jb EXPR: evaluate a python expression on the last body (d)
jb() { python3 -c "import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))" "$1" "$T/body"; }
# problem STATUS FIELD-OR-EMPTY DETAIL-SUBSTRING: an RFC 9457 answer as expected
problem() {
  want "$1"
  grep -qi '^content-type: application/problem+json' "$T/hdrs" || fail "not problem+json: $(cat "$T/hdrs")"
  [ "$(jb 'd["status"]')" = "$1" ] || fail "problem status: $(cat "$T/body")"
  if [ -n "$2" ]; then
    [ "$(jb 'd["errors"][0]["field"]')" = "$2" ] || fail "field, want $2: $(cat "$T/body")"
  fi
  jb 'd["detail"]' | has -- "$3" || fail "detail lacks '$3': $(cat "$T/body")"
}
