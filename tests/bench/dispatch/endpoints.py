#!/usr/bin/env python3
"""endpoints.py - Redis protocol for `redis-cli --pipe`: endpoints in the hl:ep hash format of
docs/storage.md, all subscribed to "*", with a clear-text secret.

  endpoints.py TAG TENANT NTENANTS PER_TENANT PORT HOSTS SECRET FIRST_INDEX

Tenant names: TENANT when NTENANTS is 1, else TENANT_0 .. TENANT_<NTENANTS-1>.  Endpoint ids:
ep_ + TAG (10 characters) + a 12-digit index starting at FIRST_INDEX, 22 characters in all, so
every key the benchmark creates contains TAG.  Endpoint i answers at
http://127.0.0.<1 + i % HOSTS>:PORT/e<i>: distinct hosts, as in a real fan-out (curl keeps its
connections per host).
"""
import sys

tag, tenant, ntenants, per, port, hosts, secret, first = sys.argv[1:9]
ntenants, per, hosts, first = int(ntenants), int(per), int(hosts), int(first)
out = sys.stdout.buffer


def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    out.write(b"".join(parts))


secrets = '[{"secret":"%s","created":0,"expires":0}]' % secret
i = first
for t in range(ntenants):
    name = tenant if ntenants == 1 else "%s_%d" % (tenant, t)
    ids = []
    for _ in range(per):
        eid = "ep_%s%012d" % (tag, i)
        cmd("HSET", "hl:ep:" + eid, "id", eid, "tenant", name, "url",
            "http://127.0.0.%d:%s/e%d" % (1 + i % hosts, port, i),
            "description", "", "types", '["*"]', "secrets", secrets, "rate", "0", "burst", "0",
            "max_in_flight", "0", "timeout_ms", "0", "headers", "[]", "status", "enabled",
            "metadata", "{}", "created", "0", "updated", "0", "version", "1")
        ids.append(eid)
        i += 1
    cmd("SADD", "hl:tenant:%s:eps" % name, *ids)
