#!/usr/bin/env bash
# 0955-malformed (chaos 6): malformed records (cut JSON, missing or bad fields, not an object,
# trailing garbage, not UTF-8... see gen.py) interleaved evenly with valid events, three
# dispatchers: every valid event is delivered, every malformed record is in the DLQ with a
# reason (found by the bad_<n> marker in its raw bytes), nothing is lost and no malformed record
# is delivered. Short: 2 000 valid + 1 000 malformed; long: 10 000 + 10 000.
source "$(dirname "$0")/lib.sh"

N=$(chaos_param CHAOS_EVENTS 2000 10000 scaled)
M=$(chaos_param CHAOS_MALFORMED 1000 10000 scaled)
echo "chaos 6: $N valid events with $M malformed records interleaved"
chaos_receiver r --rule '*=200'
ep_create "ep_m$PREFIX" "$TENANT" "http://127.0.0.1:$RPORT/m" '["*"]'
chaos_dispatchers
chaos_publish p --count "$N" --malformed "$M" --tenants "$TENANT"
chaos_publish_wait p
chaos_settle 180
chaos_stop_dispatchers
chaos_reconcile --require-delivered --exclusive || fail "events lost or inconsistent (see above)"
reasons=$(python3 -c '
import json, re, sys
print(len({re.sub("[0-9]+", "N", json.loads(l)["reason"]) for l in open(sys.argv[1]) if "raw_b64" in l}))' "$T/dlq.dump")
[ "$M" -lt 11 ] || [ "$reasons" -ge 8 ] || fail "only $reasons distinct DLQ reasons for ten kinds of malformed records"
pass "$M malformed records in the DLQ with $reasons distinct reasons, $N valid delivered"
