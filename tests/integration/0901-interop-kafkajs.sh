#!/usr/bin/env bash
# 0901-interop-kafkajs: events published by kafkajs (npm, pinned), written from docs/events.md
# alone - the JSON envelope and the Kafka-headers form - are delivered by the dispatcher: each
# once, signed (the receiver verifies), with the documented body (id, type, timestamp, data as
# published; generated ids and record-time timestamps where the producer gave none). The header
# record without hl-type lands in the DLQ with the documented reason.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dispatcher.sh"
source "$(dirname "$0")/interop.sh"
interop_npm

receiver_start r
ep_create "ep_k$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/k" '["*"]'
dispatcher_start d
node "$INTEROP_SRC/kafkajs-publish.js" "$KAFKA" "$PREFIX.events" "$TENANT" >"$T/sent.json" 2>"$T/kafkajs.log" ||
  { cat "$T/kafkajs.log" >&2; fail "kafkajs could not publish"; }
all_in() { [ "$(rec_count r /k 200)" -ge 11 ]; }
wait_until 60 all_in || fail "want 11 deliveries, have $(rec_count r /k 200)"
dlq_one() { [ "$(topic_count "$PREFIX.dlq")" -ge 1 ]; }
wait_until 30 dlq_one || fail "the record without hl-type is not in the DLQ"
sleep 1
consume "$PREFIX.dlq" >"$T/dlq"
python3 - "$T/r.ndjson" "$T/sent.json" "$T/dlq" <<'PY' || fail "see above"
import base64, datetime, json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sent = json.load(open(sys.argv[2]))
dlq = [json.loads(l) for l in open(sys.argv[3])]
errs = []
if len(recs) != 11: errs.append("%d requests, want 11 (one per event)" % len(recs))
if not all(r.get("sig_ok") for r in recs): errs.append("a delivery failed signature verification")
bodies = [(r, json.loads(r["body"])) for r in recs]
for s in sent:
    def match(b):
        return b["type"] == s["type"] and json.dumps(b["data"], separators=(",", ":"), ensure_ascii=False) == \
            json.dumps(json.loads(s["data_text"]), separators=(",", ":"), ensure_ascii=False)
    got = [(r, b) for r, b in bodies if (b["id"] == s["id"] if s["id"] else match(b))]
    if len(got) != 1:
        errs.append("%s: delivered %d times" % (s, len(got)))
        continue
    r, b = got[0]
    # the body's data is the published text, compact, unchanged (docs/events.md)
    raw = r["body"]
    if ('"data":' + s["data_text"] + "}") not in raw:
        errs.append("%s: data text changed: %s" % (s["id"], raw))
    if list(b) != ["id", "type", "timestamp", "data"]:
        errs.append("%s: members %s" % (s["id"], list(b)))
    if r["headers"]["webhook-id"] != b["id"]:
        errs.append("%s: webhook-id %s" % (s["id"], r["headers"]["webhook-id"]))
    if not s["id"] and not re.fullmatch(r"evt_[A-Za-z0-9]{22}", b["id"]):
        errs.append("generated id %s" % b["id"])
    if s["timestamp"] and b["timestamp"] != s["timestamp"]:
        errs.append("%s: timestamp %s, published %s" % (s["id"], b["timestamp"], s["timestamp"]))
    if s["timestamp_ms"]:
        want = datetime.datetime.fromtimestamp(s["timestamp_ms"] / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
            "%03dZ" % (s["timestamp_ms"] % 1000)
        if b["timestamp"] != want:
            errs.append("%s: timestamp %s, record time %s" % (s["id"], b["timestamp"], want))
    if "source" in raw or "tenant" in b:
        errs.append("%s: extra members delivered: %s" % (s["id"], raw))
if len(dlq) != 1 or "type: required (header hl-type)" not in dlq[0].get("reason", ""):
    errs.append("DLQ %s" % dlq)
print("\n".join(errs) or "all good")
sys.exit(1 if errs else 0)
PY
pass "kafkajs envelope and header-form events delivered once each, as documented; a header record without hl-type is in the DLQ"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?
[ "$rc" -eq 0 ] || fail "dispatcher exit $rc"
