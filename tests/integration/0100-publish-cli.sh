#!/usr/bin/env bash
# 0100-publish-cli: hookline-publish with flags, a file and stdin against the real broker.
# Records read back equal the published envelopes byte for byte; a malformed line is reported
# with its number while the rest are published; --strict stops at it; exit codes tell.
. "$(dirname "$0")/lib.sh"
"$BIN/hl-test-topics" -p 3 "$PREFIX.events"
PUB=("$BIN/hookline-publish" -o "topics.prefix=$PREFIX")

# 1. one event from flags: the printed id is on the topic
id=$("${PUB[@]}" --tenant acme --type invoice.paid --data '{"amount":12}' --id evt_flag1 2>"$T/err")
[ "$id" = evt_flag1 ] || fail "flag publish printed '$id'"
grep -q "published 1, rejected 0, failed 0" "$T/err" || fail "summary: $(cat "$T/err")"
pass "flags"

# 2. a file of 1000 canonical envelopes: read back byte for byte
python3 - "$T/events.ndjson" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(1000):
        ev = {"id": f"evt_file{i}", "tenant": f"t{i % 7}", "type": "order.created",
              "timestamp": "2026-11-22T10:00:00.000Z", "data": {"n": i, "s": "é\u2028x" * (i % 3)}}
        f.write(json.dumps(ev, separators=(",", ":"), ensure_ascii=False) + "\n")
PY
"${PUB[@]}" -f "$T/events.ndjson" >"$T/ids" 2>"$T/err" || fail "file publish: $(cat "$T/err")"
[ "$(wc -l <"$T/ids")" -eq 1000 ] || fail "file: $(wc -l <"$T/ids") ids printed"
grep -q "published 1000, rejected 0, failed 0" "$T/err" || fail "summary: $(cat "$T/err")"

# 3. stdin with malformed lines in the middle: reported by number, the rest published
{
  echo '{"id":"evt_in1","tenant":"acme","type":"a.b","timestamp":"2026-11-22T10:00:00.000Z","data":1}'
  echo 'this is not json'
  echo '{"id":"evt_in2","tenant":"acme","type":"a..b","timestamp":"2026-11-22T10:00:00.000Z","data":1}'
  echo ''
  echo '{"id":"evt_in3","tenant":"acme","type":"a.b","timestamp":"2026-11-22T10:00:00.000Z","data":[1,2]}'
} >"$T/mixed.ndjson"
set +e
"${PUB[@]}" <"$T/mixed.ndjson" >"$T/ids2" 2>"$T/err2"
rc=$?
set -e
[ $rc -eq 1 ] || fail "mixed input exit $rc, want 1"
grep -q "^line 2: rejected: event: not valid JSON" "$T/err2" || fail "line 2 not reported: $(cat "$T/err2")"
grep -q "^line 3: rejected: type: must be dot-separated" "$T/err2" || fail "line 3 not reported"
grep -q "published 2, rejected 2, failed 0" "$T/err2" || fail "summary: $(cat "$T/err2")"
[ "$(sort "$T/ids2" | tr '\n' ' ')" = "evt_in1 evt_in3 " ] || fail "stdin ids: $(cat "$T/ids2")"
pass "stdin with malformed lines"

# 4. --strict stops at the first rejected line
set +e
"${PUB[@]}" --strict -q <"$T/mixed.ndjson" >"$T/ids3" 2>"$T/err3"
rc=$?
set -e
[ $rc -eq 1 ] || fail "--strict exit $rc"
grep -q "published 1, rejected 1, failed 0" "$T/err3" || fail "strict summary: $(cat "$T/err3")"
[ ! -s "$T/ids3" ] || fail "-q printed ids"
pass "--strict and -q"

# 5. everything on the topic, byte for byte
consume "$PREFIX.events" | sort >"$T/got"
{ grep evt_ "$T/events.ndjson"; sed -n '1p;5p' "$T/mixed.ndjson"; sed -n '1p' "$T/mixed.ndjson"; } | sort >"$T/want.part"
grep -c . "$T/got" | grep -qx 1004 || fail "topic holds $(grep -c . "$T/got") records, want 1004"
grep -v evt_flag1 "$T/got" >"$T/got.part"
cmp -s "$T/got.part" "$T/want.part" || { diff "$T/got.part" "$T/want.part" | head; fail "records differ"; }
pass "1003 records byte for byte"

# 6. usage and unreachable errors
set +e
"${PUB[@]}" --tenant acme >/dev/null 2>&1; [ $? -eq 2 ] || fail "partial flags not a usage error"
"$BIN/hookline-publish" -o topics.prefix=nosuch_$PREFIX --tenant a --type b --data 1 2>"$T/e4"; rc=$?
set -e
[ $rc -eq 3 ] && grep -q "does not exist" "$T/e4" || fail "missing topic: rc $rc $(cat "$T/e4")"
pass "usage and missing topic"
