#!/usr/bin/env bash
# 0100-publish-cli: hookline-publish with flags, a file and stdin against the real broker.
# Records read back equal the published envelopes byte for byte and are keyed by tenant; ids are
# printed in input order; a malformed line is reported with its number while the rest are
# published; --strict stops at it; configuration from -c, the environment and -o; a progress
# line only on a terminal; clear failures and exit codes for a missing topic and a dead broker.
. "$(dirname "$0")/lib.sh"
"$BIN/hl-test-topics" -p 3 "$PREFIX.events"
PUB=("$BIN/hookline-publish" -o "topics.prefix=$PREFIX")

# 1. one event from flags: the printed id is on the topic, data as written
id=$("${PUB[@]}" --tenant acme --type invoice.paid --data '{"amount": 0.1}' --id evt_flag1 2>"$T/err")
[ "$id" = evt_flag1 ] || fail "flag publish printed '$id'"
grep -q "^published 1, rejected 0, failed 0 in " "$T/err" || fail "summary: $(cat "$T/err")"
gen=$("${PUB[@]}" --tenant acme --type invoice.paid --data 'null' 2>/dev/null)
[[ $gen =~ ^evt_[0-9A-Za-z]{22}$ ]] || fail "generated id '$gen'"
pass "flags"

# 2. a file of 1000 envelopes over 7 tenants (3 partitions): ids in input order, then the
#    records byte for byte
python3 - "$T/events.ndjson" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(1000):
        ev = {"id": f"evt_file{i}", "tenant": f"t{i % 7}", "type": "order.created",
              "timestamp": "2026-11-22T10:00:00.000Z",
              "data": {"n": i, "f": 0.1, "big": 12345678901234567890, "s": "é\u2028x" * (i % 3)}}
        f.write(json.dumps(ev, separators=(",", ":"), ensure_ascii=False) + "\n")
PY
"${PUB[@]}" -f "$T/events.ndjson" >"$T/ids" 2>"$T/err" || fail "file publish: $(cat "$T/err")"
grep -q "^published 1000, rejected 0, failed 0 in " "$T/err" || fail "summary: $(cat "$T/err")"
for i in $(seq 0 999); do echo "evt_file$i"; done >"$T/ids.want"
cmp -s "$T/ids" "$T/ids.want" || { diff "$T/ids" "$T/ids.want" | head; fail "ids not in input order"; }
if grep -q $'\r\|\033' "$T/err"; then fail "progress line drawn without a terminal"; fi
pass "file: 1000 ids in input order"

# 3. stdin with malformed lines in the middle: reported by number, the rest published
{
  echo '{"id":"evt_in1","tenant":"acme","type":"a.b","timestamp":"2026-11-22T10:00:00.000Z","data":1}'
  echo 'this is not json'
  echo '{"id":"evt_in2","tenant":"acme","type":"a..b","timestamp":"2026-11-22T10:00:00.000Z","data":1}'
  echo ''
  echo '{"id":"evt_in3","tenant":"acme","type":"a.b","timestamp":"2026-11-22T10:00:00.000Z","data":[1, 2]}'
  echo '{"id":"evt_in4","tenant":"acme","type":"a.b","data":{"x":1,}}'
  echo '{"id":"evt_in5","tenant":"acme","type":"a.b","timestamp":"2026-11-22T10:00:00.000Z","data":"five"}'
} >"$T/mixed.ndjson"
set +e
"${PUB[@]}" <"$T/mixed.ndjson" >"$T/ids2" 2>"$T/err2"
rc=$?
set -e
[ $rc -eq 1 ] || fail "mixed input exit $rc, want 1"
grep -qx "line 2: rejected: event: not valid JSON: unexpected character at column 1" "$T/err2" ||
  fail "line 2 not reported: $(cat "$T/err2")"
grep -qx "line 3: rejected: type: must be dot-separated \[A-Za-z0-9_\]+ segments, at most 128 characters" "$T/err2" ||
  fail "line 3 not reported: $(cat "$T/err2")"
grep -q "^line 6: rejected: event: not valid JSON: expected a member name in double quotes at column 60$" "$T/err2" ||
  fail "line 6 not reported: $(cat "$T/err2")"
grep -q "^published 3, rejected 3, failed 0 in " "$T/err2" || fail "summary: $(cat "$T/err2")"
[ "$(tr '\n' ' ' <"$T/ids2")" = "evt_in1 evt_in3 evt_in5 " ] || fail "stdin ids: $(cat "$T/ids2")"
pass "stdin with malformed lines"

# 4. --strict stops at the first rejected line; -q prints no ids
set +e
"${PUB[@]}" --strict -q -f - <"$T/mixed.ndjson" >"$T/ids3" 2>"$T/err3"
rc=$?
set -e
[ $rc -eq 1 ] || fail "--strict exit $rc"
grep -q "^published 1, rejected 1, failed 0 in " "$T/err3" || fail "strict summary: $(cat "$T/err3")"
[ ! -s "$T/ids3" ] || fail "-q printed ids"
pass "--strict and -q"

# 5. everything on the topic, byte for byte, keyed by tenant
kcat -b "$HOOKLINE_KAFKA_BOOTSTRAP_SERVERS" -C -t "$PREFIX.events" -o beginning -e -q \
  -f '%k\t%s\n' 2>/dev/null | sort >"$T/got.kv"
[ "$(wc -l <"$T/got.kv")" -eq 1006 ] || fail "topic holds $(wc -l <"$T/got.kv") records, want 1006"
python3 - "$T/got.kv" <<'PY' || fail "a record's key is not its tenant"
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    key, value = line.rstrip("\n").split("\t", 1)
    assert json.loads(value)["tenant"] == key, line
PY
cut -f2- "$T/got.kv" | grep -v '"id":"evt_flag1"\|"timestamp":"20[0-9-]*T[0-9:.]*Z","data":null' | sort >"$T/got"
{
  cat "$T/events.ndjson"
  sed -n '1p;5p;7p' "$T/mixed.ndjson" | sed 's/\[1, 2\]/[1,2]/'
  sed -n '1p' "$T/mixed.ndjson"
} | sort >"$T/want"
cmp -s "$T/got" "$T/want" || { diff "$T/got" "$T/want" | head; fail "records differ"; }
grep -q '"id":"evt_flag1","tenant":"acme","type":"invoice.paid","timestamp":"[^"]*","data":{"amount":0.1}}$' "$T/got.kv" ||
  fail "flag event not as written: $(grep evt_flag1 "$T/got.kv")"
pass "1006 records byte for byte, keyed by tenant"

# 6. configuration from -c, then the environment, then -o (later wins)
printf 'topics.prefix = nosuch_%s\n' "$PREFIX" >"$T/hookline.conf"
cid=$(HOOKLINE_TOPICS_PREFIX=$PREFIX "$BIN/hookline-publish" -c "$T/hookline.conf" \
  --tenant acme --type conf.env --data 1 2>"$T/err6") || fail "env over file: $(cat "$T/err6")"
[[ $cid =~ ^evt_ ]] || fail "env over file printed '$cid'"
set +e
"$BIN/hookline-publish" -c "$T/hookline.conf" --tenant acme --type conf.file --data 1 2>"$T/err6"
rc=$?
set -e
[ $rc -eq 3 ] || fail "file prefix not used: rc $rc"
grep -qx "hookline-publish: topic nosuch_$PREFIX.events does not exist: start a dispatcher or create it (kafka.bootstrap.servers = $HOOKLINE_KAFKA_BOOTSTRAP_SERVERS)" "$T/err6" ||
  fail "missing topic message: $(cat "$T/err6")"
pass "config file, environment, missing topic"

# 7. a progress line on a terminal (stderr through a pty), at most ~10 redraws a second
mkfifo "$T/fifo"
# 30 batches of 20 lines, 0.1 s apart: a stream of about 3 s
for i in $(seq 0 29); do sed -n "$((i * 20 + 1)),$((i * 20 + 20))p" "$T/events.ndjson"; sleep 0.1; done >"$T/fifo" &
HL_PIDS+=($!)
script -qec "'$BIN/hookline-publish' -q -o topics.prefix=$PREFIX -f '$T/fifo'" /dev/null >"$T/tty.out" </dev/null ||
  fail "publish on a pty: $(cat "$T/tty.out")"
grep -q $'\033\\[Kpublished [0-9]*, rejected 0, failed 0, in flight [0-9]*  [0-9]* events/s' "$T/tty.out" ||
  fail "no progress line on a terminal: $(cat -A "$T/tty.out" | head -5)"
grep -q "published 600, rejected 0, failed 0 in " "$T/tty.out" || fail "pty summary: $(cat -A "$T/tty.out")"
redraws=$(grep -o $'\033\\[Kpublished' "$T/tty.out" | wc -l)
[ "$redraws" -ge 5 ] && [ "$redraws" -le 45 ] || fail "$redraws redraws in about 3 s"
pass "progress line on a terminal ($redraws redraws)"

# 8. usage, help, a dead broker
set +e
"${PUB[@]}" --tenant acme >/dev/null 2>&1; [ $? -eq 2 ] || fail "partial flags not a usage error"
"${PUB[@]}" --timeout soon -f "$T/events.ndjson" >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --timeout accepted"
"${PUB[@]}" -f "$T/no-such-file" 2>"$T/e8"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "no-such-file: No such file or directory" "$T/e8" || fail "missing file: rc $rc $(cat "$T/e8")"
"$BIN/hookline-publish" --help >"$T/help"
grep -q "^Examples:" "$T/help" && grep -q "hookline-publish --tenant acme --type invoice.paid" "$T/help" ||
  fail "--help has no examples"
start=$(date +%s)
set +e
"$BIN/hookline-publish" --timeout 2s -o kafka.bootstrap.servers=127.0.0.1:1 --tenant a --type b --data 1 2>"$T/e9"
rc=$?
set -e
[ $rc -eq 3 ] && grep -q "Kafka unreachable: .* (kafka.bootstrap.servers = 127.0.0.1:1)" "$T/e9" ||
  fail "dead broker: rc $rc $(tail -1 "$T/e9")"
[ $(($(date +%s) - start)) -le $(scaled 8) ] || fail "dead broker took $(($(date +%s) - start)) s"
pass "usage, help, dead broker"
