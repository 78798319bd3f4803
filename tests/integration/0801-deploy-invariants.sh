#!/usr/bin/env bash
# 0801-deploy-invariants: what the schemas cannot see, checked on the rendered example overlay,
# the base and docker-compose.yml against the programs themselves:
#   - every probe and healthcheck path is a real route (dispatcher/server.c, `hookline-admin
#     routes`), on a declared port that matches the container's http.listen;
#   - every hookline.conf (ConfigMap, compose) loads (`hookline-admin -c FILE config show`
#     refuses unknown keys), and every HOOKLINE_* variable is a key of the config table;
#   - the dispatcher's grace period (terminationGracePeriodSeconds, stop_grace_period) is above
#     dispatcher.drain_timeout;
#   - replicas, HPA maxReplicas and KEDA maxReplicaCount <= topics.partitions; KEDA watches
#     dispatcher.group_id on <topics.prefix>.events; no HPA beside a ScaledObject;
#   - non-optional Secret keys exist in the overlay's Secret; ServiceMonitors name real ports;
#   - the compose SSRF allow-list covers the compose network's subnet;
#   - the Dockerfile's run stage installs the package of every library the programs link;
#   - every kafka.* key of the shipped configurations is a property librdkafka accepts.
# Then it breaks a copy (grace period below the drain timeout, a probe on a missing route) and
# expects the check to say so.
source "$(dirname "$0")/lib.sh"
SRC=${HOOKLINE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
ADMIN=$(cd "$BIN" && pwd)/hookline-admin
rc=0
PY=$(bash "$SRC/deploy/lint.sh" python 2>"$T/venv.log") || rc=$?
[ "$rc" -eq 77 ] && { cat "$T/venv.log"; exit 77; }
[ "$rc" -eq 0 ] || { cat "$T/venv.log" >&2; fail "cannot set up the lint tools"; }

# routes: "PROGRAM PATH" lines from the sources and the admin binary
{
  grep -o 'strcmp(path, "/[a-z]*")' "$SRC/dispatcher/server.c" | sed 's/.*"\(.*\)")/hookline-dispatcher \1/'
  "$ADMIN" routes | awk '$1 == "GET" { print "hookline-admin " $2 }'
} >"$T/routes"
grep -q 'hookline-dispatcher /readyz' "$T/routes" || fail "could not read the dispatcher's routes"
"$ADMIN" config doc >"$T/config.md"

# check TREE: run the invariant checks on a source tree; output in $T/check.out
check() {
  local tree=$1 out=$T/render-$RANDOM
  mkdir -p "$out"
  bash "$tree/deploy/lint.sh" render "$tree/deploy/k8s/overlays/example" >"$out/example.yaml" || return 1
  bash "$tree/deploy/lint.sh" render "$tree/deploy/k8s/base" >"$out/base.yaml" || return 1
  "$PY" - "$tree" "$out" "$T/routes" "$T/config.md" "$ADMIN" <<'PY'
import ipaddress, json, os, re, subprocess, sys, yaml
tree, out, routes_f, doc_f, admin = sys.argv[1:6]
routes = {tuple(l.split()) for l in open(routes_f) if l.strip()}
env_keys = set(re.findall(r"`(HOOKLINE_[A-Z0-9_]+)`", open(doc_f).read()))
errs = []
def err(m): errs.append(m)

def seconds(v):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", str(v).strip())
    mult = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
    return int(m.group(1)) * mult[m.group(2)]

def conf_show(text, where):
    """The effective configuration of a hookline.conf, from hookline-admin itself."""
    path = os.path.join(out, "conf-%d" % abs(hash(where)))
    open(path, "w").write(text)
    p = subprocess.run([admin, "-c", path, "config", "show"], capture_output=True, text=True,
                       env={"PATH": os.environ["PATH"]})
    if p.returncode != 0:
        err("%s: hookline.conf does not load: %s" % (where, p.stderr.strip()))
        return {}
    return dict(l.split(" = ", 1) for l in p.stdout.splitlines() if " = " in l)

def check_env(name, where):
    if name.startswith("HOOKLINE_") and name not in env_keys and not name.startswith("HOOKLINE_KAFKA_") \
            and name != "HOOKLINE_CONFIG":
        err("%s: %s is not a configuration variable (docs/configuration.md)" % (where, name))

def program(args):
    return os.path.basename(args[0]) if args else "hookline-dispatcher"

# --- Kubernetes ---
for rendered in ("example", "base"):
    docs = [d for d in yaml.safe_load_all(open(os.path.join(out, rendered + ".yaml"))) if d]
    by = lambda kind: [d for d in docs if d["kind"] == kind]
    cms = [d for d in by("ConfigMap") if d["metadata"]["name"].startswith("hookline-config")]
    if len(cms) != 1:
        err("%s: want one hookline-config ConfigMap, have %d" % (rendered, len(cms)))
        continue
    conf = conf_show(cms[0]["data"]["hookline.conf"], rendered + " ConfigMap")
    if not conf:
        continue
    parts = int(conf["topics.partitions"])
    drain = seconds(conf["dispatcher.drain_timeout"])
    secrets = {s["metadata"]["name"]: set((s.get("data") or {}) | (s.get("stringData") or {}))
               for s in by("Secret")}
    for dep in by("Deployment"):
        spec = dep["spec"]["template"]["spec"]
        dname = dep["metadata"]["name"]
        for c in spec["containers"]:
            prog = program(c.get("args") or c.get("command"))
            where = "%s %s/%s" % (rendered, dname, c["name"])
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            listen = None
            for e in c.get("env", []):
                check_env(e["name"], where)
                if e["name"] == "HOOKLINE_HTTP_LISTEN":
                    listen = int(e["value"].rsplit(":", 1)[1])
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref and not ref.get("optional") and rendered == "example" and \
                        ref["key"] not in secrets.get(ref["name"], set()):
                    err("%s: Secret %s has no key %s" % (where, ref["name"], ref["key"]))
            for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
                g = (c.get(kind) or {}).get("httpGet")
                if not g:
                    continue
                if (prog, g["path"]) not in routes:
                    err("%s: %s GET %s is not a route of %s" % (where, kind, g["path"], prog))
                port = ports.get(g["port"], g["port"])
                if listen is not None and port != listen:
                    err("%s: %s on port %s, but http.listen is %s" % (where, kind, port, listen))
            if prog == "hookline-dispatcher":
                if not c.get("readinessProbe") or c["readinessProbe"]["httpGet"]["path"] != "/readyz":
                    err("%s: readiness must be /readyz (partitions assigned, 503 while draining)" % where)
                grace = spec.get("terminationGracePeriodSeconds", 30)
                if grace <= drain:
                    err("%s: terminationGracePeriodSeconds %s <= dispatcher.drain_timeout %ss" % (where, grace, drain))
                reps = dep["spec"].get("replicas", 1)
                if reps > parts:
                    err("%s: %d replicas > topics.partitions %d" % (where, reps, parts))
    for h in by("HorizontalPodAutoscaler"):
        if h["spec"]["maxReplicas"] > parts:
            err("%s HPA: maxReplicas %d > topics.partitions %d" % (rendered, h["spec"]["maxReplicas"], parts))
    for so in by("ScaledObject"):
        if so["spec"]["maxReplicaCount"] > parts:
            err("%s ScaledObject: maxReplicaCount %d > topics.partitions %d" % (rendered, so["spec"]["maxReplicaCount"], parts))
        for t in so["spec"]["triggers"]:
            m = t["metadata"]
            if m.get("consumerGroup") != conf["dispatcher.group_id"]:
                err("%s ScaledObject: consumerGroup %s, dispatcher.group_id %s" % (rendered, m.get("consumerGroup"), conf["dispatcher.group_id"]))
            if m.get("topic") != conf["topics.prefix"] + ".events":
                err("%s ScaledObject: topic %s, want %s.events" % (rendered, m.get("topic"), conf["topics.prefix"]))
            if m.get("bootstrapServers") != conf["kafka.bootstrap.servers"]:
                err("%s ScaledObject: bootstrapServers differ from kafka.bootstrap.servers" % rendered)
    scaled = {so["spec"]["scaleTargetRef"]["name"] for so in by("ScaledObject")}
    for h in by("HorizontalPodAutoscaler"):
        if h["spec"]["scaleTargetRef"]["name"] in scaled:
            err("%s: both an HPA and a KEDA ScaledObject scale %s (they fight)" % (rendered, h["spec"]["scaleTargetRef"]["name"]))
    services = {s["metadata"]["name"]: s for s in by("Service")}
    for sm in by("ServiceMonitor"):
        sel = sm["spec"]["selector"]["matchLabels"]
        names = {p.get("name") for s in services.values()
                 if all(s["metadata"].get("labels", {}).get(k) == v for k, v in sel.items())
                 for p in s["spec"]["ports"]}
        for ep in sm["spec"]["endpoints"]:
            if ep.get("port") not in names:
                err("%s ServiceMonitor %s: no selected Service has port %s" % (rendered, sm["metadata"]["name"], ep.get("port")))
    if rendered == "example" and not by("ScaledObject"):
        err("example: no KEDA ScaledObject")

# --- docker compose ---
compose = yaml.safe_load(open(os.path.join(tree, "docker-compose.yml")))
cconf = conf_show(open(os.path.join(tree, "deploy/docker/hookline.conf")).read(), "compose")
if cconf:
    subnets = [ipaddress.ip_network(c["subnet"]) for n in compose.get("networks", {}).values()
               for c in ((n or {}).get("ipam") or {}).get("config", [])]
    allowed = [ipaddress.ip_network(c.strip()) for c in cconf["delivery.allow_cidrs"].split(",") if c.strip()]
    for s in subnets:
        if not any(s.subnet_of(a) for a in allowed if a.version == s.version):
            err("compose: network %s is not in delivery.allow_cidrs (%s)" % (s, cconf["delivery.allow_cidrs"]))
    drain = seconds(cconf["dispatcher.drain_timeout"])
for name, svc in compose["services"].items():
    env = svc.get("environment") or {}
    for k in (env if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]):
        check_env(k, "compose " + name)
    cmd = svc.get("command") or []
    prog = program(cmd) if cmd else None
    hc = " ".join((svc.get("healthcheck") or {}).get("test", []))
    m = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*)", hc)
    if prog in ("hookline-dispatcher", "hookline-admin") and m:
        if (prog, m.group(2)) not in routes:
            err("compose %s: healthcheck GET %s is not a route of %s" % (name, m.group(2), prog))
    if prog == "hookline-dispatcher" and cconf:
        g = svc.get("stop_grace_period", "10s")
        if seconds(g) <= drain:
            err("compose %s: stop_grace_period %s <= dispatcher.drain_timeout %ss" % (name, g, drain))
        if m and m.group(2) != "/readyz":
            err("compose %s: the dispatcher's healthcheck should be /readyz" % name)
print("\n".join(errs) or "all invariants hold")
sys.exit(1 if errs else 0)
PY
}

check "$SRC" >"$T/check.out" 2>&1 || { cat "$T/check.out" >&2; fail "invariants broken"; }
pass "probes on real routes, configs load, grace > drain, replicas <= partitions, KEDA group/topic"

# A broken copy must be caught.
B=$T/broken
mkdir -p "$B" && cp -r "$SRC/deploy" "$SRC/docker-compose.yml" "$B"/
sed -i 's/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: 20/; s|path: /readyz, port: metrics|path: /ready, port: metrics|' \
  "$B/deploy/k8s/base/dispatcher.yaml"
sed -i 's/^topics.partitions = 12/topics.partitions = 4/' "$B/deploy/k8s/overlays/example/hookline.conf"
sed -i 's/stop_grace_period: 45s/stop_grace_period: 10s/; s|HOOKLINE_HTTP_LISTEN: 0.0.0.0:8080|HOOKLINE_HTTP_LISTENER: 0.0.0.0:8080|' "$B/docker-compose.yml"
echo 'dispatcher.drain_timout = 30s' >>"$B/deploy/docker/hookline.conf"
if check "$B" >"$T/broken.out" 2>&1; then fail "the broken copy passed"; fi
for want in 'terminationGracePeriodSeconds 20 <= dispatcher.drain_timeout 30s' \
  'readinessProbe GET /ready is not a route of hookline-dispatcher' \
  'maxReplicaCount 12 > topics.partitions 4' 'HOOKLINE_HTTP_LISTENER is not a configuration variable' \
  'dispatcher.drain_timout: unknown configuration key'; do
  grep -qF -- "$want" "$T/broken.out" || { cat "$T/broken.out" >&2; fail "not reported: $want"; }
done
pass "a broken copy is reported (grace, route, partitions, unknown variable, unknown key)"

# The image's run stage installs the package of every shared library the programs link
# directly (objdump NEEDED, resolved by ldd, owned per dpkg), so a new dependency cannot be
# forgotten there. Sanitizer runtimes (ASan tree) are not part of the image.
if command -v dpkg >/dev/null && command -v objdump >/dev/null; then
  RUNPKGS=" $(python3 - "$SRC/deploy/docker/Dockerfile" <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
run = text[text.rindex("\nFROM "):]
m = re.search(r"apt-get install -y --no-install-recommends ([^&]*)&&", run)
print(" ".join(m.group(1).split()) if m else "")
PY
) "
  [ "$RUNPKGS" != "  " ] || fail "no apt-get install in the Dockerfile's run stage"
  missing=""
  for b in hookline-dispatcher hookline-admin hookline-publish; do
    for lib in $(objdump -p "$BIN/$b" | awk '/NEEDED/ { print $2 }'); do
      case "$lib" in ld-linux*) continue ;; esac # the loader, from libc6
      path=$(ldd "$BIN/$b" | awk -v l="$lib" '$1 == l { print $3 }')
      pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null || true)
      pkg=${pkg%%:*}
      case "$pkg" in libc6 | libasan* | libubsan* | liblsan* | libtsan*) continue ;; esac
      [ -n "$pkg" ] || fail "$b: $lib ($path) belongs to no Debian package"
      [[ "$RUNPKGS" == *" $pkg "* ]] || missing="$missing $b:$lib($pkg)"
    done
  done
  [ -z "$missing" ] || fail "the Dockerfile's run stage does not install:$missing"
  pass "the run stage installs the package of every library the programs link ($(echo $RUNPKGS | wc -w) packages)"
else
  echo "dpkg or objdump missing: the run stage's package list is not checked"
fi

# kafka.* keys pass to librdkafka verbatim: each shipped hookline.conf's must be properties
# librdkafka knows, with valid values (kcat sets them; it then fails to connect to 127.0.0.1:1,
# which is expected; bootstrap.servers is replaced by that loopback address).
if command -v kcat >/dev/null; then
  for conf in deploy/k8s/base/hookline.conf deploy/k8s/overlays/example/hookline.conf deploy/docker/hookline.conf; do
    xs=()
    while IFS= read -r kv; do xs+=(-X "$kv"); done < <(env -i PATH="$PATH" "$ADMIN" -c "$SRC/$conf" config show |
      sed -n 's/^kafka\.\([^ ]*\) = \(.*\)$/\1=\2/p' | grep -v '^bootstrap\.servers=')
    out=$(timeout 20 kcat "${xs[@]}" -b 127.0.0.1:1 -L -m 1 2>&1 || true)
    if grep -q -E 'No such configuration property|Invalid value|Configuration property .* (not supported|is not)' <<<"$out"; then
      fail "$conf: librdkafka refuses a kafka.* key: $(grep -m1 ERROR <<<"$out")"
    fi
  done
  pass "every kafka.* key of the shipped configurations is a valid librdkafka property"
fi
