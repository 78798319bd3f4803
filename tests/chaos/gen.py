#!/usr/bin/env python3
"""gen.py - the chaos scenarios' event source: writes `key|value` lines for `kcat -P -K '|'`.

Valid events get ids <id-prefix><n> (n = --first .. --first+--count-1), round-robin over
--tenants and --types, keyed by their id (so they spread over partitions), with
data {"n": n, "ts": <publish time, Unix seconds>} stamped when the line is written (scenario 5
measures latency from it). --malformed M interleaves M malformed records evenly; each carries
the marker bad_<n> somewhere in its bytes so reconcile.py can find it in a DLQ record's raw_b64.
--rate R paces the output at R lines/s (0 = as fast as possible). The ids written go to
--ids / --bad-ids (one per line), which reconcile.py reads as what was published.
"""
import argparse
import json
import sys
import time


def malformed(n, tenant):
    """The nth malformed record (bytes): one of several ways an event can be invalid."""
    m = "bad_%d" % n
    kinds = [
        '{"id":"%s","tenant":"%s","type":"x.y","data":{' % (m, tenant),            # cut JSON
        '{"id":"%s","type":"x.y","data":{}}' % m,                                   # no tenant
        '{"id":"%s","tenant":"bad tenant!","type":"x.y","data":{}}' % m,            # tenant chars
        '{"id":"%s","tenant":"%s","type":"has spaces","data":{}}' % (m, tenant),    # type chars
        '{"id":"%s","tenant":"%s","type":"x.y"}' % (m, tenant),                     # no data
        '["%s","not an object"]' % m,                                               # array
        '{"id":"%s","tenant":"%s","type":"x.y","data":{}} trailing' % (m, tenant),  # garbage
        '{"id":"%s","tenant":"%s","type":5,"data":{}}' % (m, tenant),               # type number
        '{"id":"%s","tenant":"%s","type":"x.y","data":{}}' % (m, "t" * 65),         # tenant too long
        '{"id":"%s!","tenant":"%s","type":"x.y","data":{}}' % (m, tenant),          # id chars
    ]
    if n % 11 == 0:  # not UTF-8
        return b'{"id":"' + m.encode() + b'","tenant":"' + tenant.encode() + b'","type":"x.y","data":"\xff\xfe"}'
    return kinds[n % len(kinds)].encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, required=True, help="valid events")
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--id-prefix", default="ev_")
    ap.add_argument("--tenants", required=True, help="comma-separated, used round-robin")
    ap.add_argument("--types", default="chaos.test", help="comma-separated, used round-robin")
    ap.add_argument("--malformed", type=int, default=0, help="malformed records interleaved")
    ap.add_argument("--rate", type=float, default=0, help="lines per second (0: no pacing)")
    ap.add_argument("--ids", help="append the valid ids here")
    ap.add_argument("--bad-ids", help="append the malformed markers here")
    a = ap.parse_args()
    tenants = a.tenants.split(",")
    types = a.types.split(",")
    total = a.count + a.malformed
    out = sys.stdout.buffer
    ids = open(a.ids, "a") if a.ids else None
    bad = open(a.bad_ids, "a") if a.bad_ids else None
    t0 = time.time()
    nv = nm = 0
    for i in range(total):
        if a.rate > 0 and i % max(1, int(a.rate / 50)) == 0:  # ~50 flushes a second
            out.flush()
            ahead = t0 + i / a.rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
        # malformed record number k goes at position ~ (k + 0.5) * total / malformed
        if nm < a.malformed and (nv >= a.count or (nm + 0.5) * total / a.malformed <= i):
            nm += 1
            k = a.first + nm - 1
            out.write(b"bad_%d|" % k + malformed(k, tenants[k % len(tenants)]) + b"\n")
            if bad:
                bad.write("bad_%d\n" % k)
            continue
        n = a.first + nv
        nv += 1
        eid = "%s%d" % (a.id_prefix, n)
        ev = {"id": eid, "tenant": tenants[n % len(tenants)], "type": types[n % len(types)],
              "data": {"n": n, "ts": round(time.time(), 6)}}
        out.write(("%s|%s\n" % (eid, json.dumps(ev, separators=(",", ":")))).encode())
        if ids:
            ids.write(eid + "\n")
    out.flush()
    for f in (ids, bad):
        if f:
            f.close()


if __name__ == "__main__":
    main()
