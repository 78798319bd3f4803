#!/usr/bin/env python3
"""reconcile.py - what the chaos scenarios check: every published id is accounted for.

Reads what was published (--ids: valid event ids, --bad-ids: markers of malformed records),
what the receivers got (--received: hl-test-receiver NDJSON records, repeatable), and the DLQ
and attempt topics dumped with kcat (--dlq, --attempts: one record value per line). Prints
details, then exactly one summary line

    published=N delivered=N duplicates=N dlq=N lost=N

  published   valid + malformed ids published
  delivered   valid ids with at least one 2xx answer recorded by a receiver
  duplicates  2xx answers beyond the first, over all ids
  dlq         published ids with a DLQ record (a delivery record's event_id, or the marker
              found in an invalid record's raw bytes)
  lost        published ids neither delivered nor in the DLQ

Exit 1 when lost > 0 or a consistency check fails: a malformed record delivered, a DLQ record
without a reason, a 2xx answer for an id nobody published, a bad signature, an `ok` attempt
whose 2xx no receiver recorded; with --require-delivered any valid id not delivered; with
--exclusive any id both delivered and in the DLQ. A receiver records a request when it has read
it, before a delayed answer: --need-ok-attempt also wants the dispatcher's `ok` attempt record
before an id counts as delivered (scenario 5, where answers take seconds).
--progress prints only `accounted=N published=N` and exits 0 once everything is accounted
for (a scenario polls it). --latency PATHS (comma-separated, repeatable) adds a line per group
with the first-2xx latency (receive time - the data.ts stamp of gen.py) over those paths, in ms.
"""
import argparse
import base64
import collections
import json
import re
import sys

MARK = re.compile(rb"bad_[0-9]+")


def lines(path):
    """Complete lines of a file (a record still being written is skipped)."""
    if not path:
        return
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.endswith(b"\n") and line.strip():
                    yield line
    except FileNotFoundError:
        return


def read_ids(path):
    return [l.decode().strip() for l in lines(path)]


def receipts(paths, latency_paths):
    """2xx counts by webhook-id, unsigned/badly signed requests, first-2xx latencies (ms)."""
    ok = collections.Counter()
    bad_sig = 0
    first = {}
    statuses = collections.Counter()
    for p in paths:
        for l in lines(p):
            try:
                r = json.loads(l)
            except ValueError:
                continue
            statuses[str(r.get("status"))] += 1
            if r.get("sig_ok") is False:
                bad_sig += 1
            st = r.get("status")
            if not isinstance(st, int) or not 200 <= st < 300:
                continue
            eid = r.get("headers", {}).get("webhook-id", "")
            ok[eid] += 1
            if latency_paths and r.get("path") in latency_paths and eid not in first:
                try:
                    ts = json.loads(r["body"])["data"]["ts"]
                    first[eid] = (r["path"], (r["t"] - ts) * 1000.0)
                except (ValueError, KeyError, TypeError):
                    pass
    return ok, bad_sig, first, statuses


def dlq_records(path):
    """{id: [reason, ...]} over the DLQ dump, plus the count of records naming no known id."""
    out = collections.defaultdict(list)
    anon = 0
    for l in lines(path):
        try:
            d = json.loads(l)
        except ValueError:
            anon += 1
            continue
        reason = d.get("reason") or ""
        if d.get("event_id"):
            out[d["event_id"]].append(reason)
            continue
        raw = base64.b64decode(d.get("raw_b64", "") or "")
        m = MARK.search(raw)
        if m:
            out[m.group(0).decode()].append(reason)
        else:
            anon += 1
    return out, anon


def attempt_log(path):
    """Attempt outcomes by event id, and the totals by outcome."""
    by_id = collections.defaultdict(list)
    total = collections.Counter()
    for l in lines(path):
        try:
            a = json.loads(l)
        except ValueError:
            continue
        by_id[a.get("event_id", "")].append(a.get("outcome"))
        total[a.get("outcome")] += 1
    return by_id, total


def pct(vals, q):
    s = sorted(vals)
    return s[min(len(s) - 1, int(q * len(s)))] if s else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ids", action="append", required=True, help="repeatable")
    ap.add_argument("--bad-ids")
    ap.add_argument("--received", action="append", default=[])
    ap.add_argument("--dlq")
    ap.add_argument("--attempts")
    ap.add_argument("--require-delivered", action="store_true")
    ap.add_argument("--exclusive", action="store_true", help="fail when an id is both delivered and in the DLQ")
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--need-ok-attempt", action="store_true",
                    help="delivered = a 2xx recorded by a receiver and an ok attempt logged")
    ap.add_argument("--latency", action="append", default=[], help="comma-separated paths (repeatable)")
    a = ap.parse_args()

    valid = [i for f in a.ids for i in read_ids(f)]
    bad = read_ids(a.bad_ids)
    vset, bset = set(valid), set(bad)
    groups = [set(g.split(",")) for g in a.latency]
    lat_paths = set().union(*groups) if groups else set()
    ok, bad_sig, first, statuses = receipts(a.received, lat_paths)
    dlq, anon = dlq_records(a.dlq)
    by_id, total = attempt_log(a.attempts)
    # 2xx answers as receivers recorded them (at request time); with --need-ok-attempt only
    # those whose ok the dispatcher also logged (a delayed answer counts once it was read)
    got = {i for i, n in ok.items() if n > 0}
    if a.need_ok_attempt:
        got = {i for i in got if "ok" in by_id.get(i, ())}
    published = len(vset) + len(bset)
    delivered = sum(1 for i in vset if i in got)
    in_dlq = sum(1 for i in vset | bset if i in dlq)
    lost = sorted(i for i in vset | bset if i not in got and i not in dlq)
    if a.progress:
        print("accounted=%d published=%d" % (published - len(lost), published))
        return 0 if not lost else 1

    errs = []
    dups = sum(n - 1 for i, n in ok.items() if n > 0 and i in vset)
    stray = sorted(i for i in ok if i not in vset)
    if stray:
        errs.append("%d 2xx answers for ids never published (or malformed), e.g. %s" % (len(stray), stray[:5]))
    noreason = sorted(i for i, rs in dlq.items() if any(not r for r in rs))
    if noreason:
        errs.append("%d DLQ records without a reason, e.g. %s" % (len(noreason), noreason[:5]))
    if anon:
        errs.append("%d DLQ records naming no published id" % anon)
    if bad_sig:
        errs.append("%d requests with a missing or bad signature" % bad_sig)
    badnotdlq = sorted(i for i in bset if i not in dlq)
    if badnotdlq:
        errs.append("%d malformed records not in the DLQ, e.g. %s" % (len(badnotdlq), badnotdlq[:5]))
    both = sum(1 for i in vset if i in got and i in dlq)
    if a.exclusive and both:
        errs.append("%d ids both delivered and in the DLQ" % both)
    if a.require_delivered and delivered < len(vset):
        miss = sorted(i for i in vset if i not in got)
        errs.append("%d valid ids not delivered, e.g. %s (DLQ reasons: %s)" % (
            len(miss), miss[:5], sorted({r for i in miss for r in dlq.get(i, [])})[:3]))
    if a.attempts:
        phantom = sorted(i for i, outs in by_id.items() if "ok" in outs and not ok[i])
        if phantom:
            errs.append("%d ids with an ok attempt but no 2xx recorded by a receiver, e.g. %s" % (len(phantom), phantom[:5]))
        print("attempts: %s" % " ".join("%s=%d" % kv for kv in sorted(total.items())))
    reasons = collections.Counter(re.sub(r"[0-9]+", "N", r)[:70] for i, rs in dlq.items() if i in vset | bset for r in rs)
    print("receiver answers: %s" % " ".join("%s=%d" % kv for kv in sorted(statuses.items())))
    if reasons:
        print("dlq reasons: %s" % "; ".join("%s x%d" % kv for kv in reasons.most_common(12)))
    print("valid=%d malformed=%d delivered_and_dlq=%d" % (len(vset), len(bset), both))
    for g in groups:
        v = [ms for path, ms in first.values() if path in g]
        print("latency paths=%s n=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f" % (
            ",".join(sorted(g)), len(v), pct(v, 0.5), pct(v, 0.99), max(v) if v else 0.0))
    if lost:
        errs.append("lost: %s%s" % (lost[:10], " ..." if len(lost) > 10 else ""))
    for e in errs:
        print("reconcile: " + e, file=sys.stderr)
    print("published=%d delivered=%d duplicates=%d dlq=%d lost=%d" % (published, delivered, dups, in_dlq, len(lost)))
    sys.stdout.flush()
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
