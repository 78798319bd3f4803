#!/usr/bin/env python3
"""report.py - turns run.sh's raw lines into tests/bench/results/<date>[-quick].{json,md,png}.

  report.py RAW_DIR OUT_DIR STARTED LOAD_AT_START QUICK COMMIT SETTINGS

RAW_DIR holds cells.jsonl (bench-dispatch lines, tagged with section and done_markers) and
ceiling.jsonl (wrk).  Plots need gnuplot; without it they are skipped with a message.
"""
import json
import math
import os
import platform
import shutil
import subprocess
import sys

raw, out_dir, started, load0, quick, commit, settings = sys.argv[1:8]
quick = quick == "1"
cells = [json.loads(l) for l in open(os.path.join(raw, "cells.jsonl")) if l.strip()]
ceiling = [json.loads(l) for l in open(os.path.join(raw, "ceiling.jsonl")) if l.strip()]


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_gib():
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            return round(int(line.split()[1]) / 1048576, 1)
    return 0


def size(b):
    return "%d KiB" % (b // 1024) if b % 1024 == 0 else "%d B" % b


def label(c):
    return "f%d %s" % (c["fanout"], size(c["bytes"]).replace(" KiB", "K"))


def config(c):
    return "%dd %s" % (c["dispatchers"], "done" if c["done_markers"] else "no-done")


matrix = [c for c in cells if c["section"] == "matrix"]
scale = [c for c in cells if c["section"] == "scale"]
ratios = []
for w in ceiling:
    for c in matrix:
        if (c["fanout"] == 1 and c["bytes"] == 1024 and c["dispatchers"] == w["dispatchers"]
                and c["done_markers"] == w["done_markers"]):
            ratios.append({"dispatchers": c["dispatchers"], "done_markers": c["done_markers"],
                           "connections": w["connections"],
                           "dispatcher_deliveries_per_s": c["throughput"]["deliveries_per_s"],
                           "wrk_requests_per_s": w["requests_per_s"],
                           "ratio": round(c["throughput"]["deliveries_per_s"] / w["requests_per_s"], 3)})

date = started[:10]
base = os.path.join(out_dir, date + ("-quick" if quick else ""))
doc = {
    "date": started,
    "commit": commit,
    "quick": quick,
    "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(), "memory_gib": mem_gib(),
                "kernel": platform.release(),
                "load_at_start": load0,
                "load_at_end": open("/proc/loadavg").read().split()[:3],
                "note": "Kafka, Redis, the receiver, the load generator and the dispatchers share "
                        "the machine; when other jobs run (load at start > 0.5) figures are noisy"},
    "settings": settings,
    "matrix": matrix,
    "ceiling": ceiling,
    "ratio": ratios,
    "scale": scale,
}
with open(base + ".json", "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")

md = []
md.append("# Dispatcher benchmark %s%s\n" % (started, " (BENCH_QUICK)" if quick else ""))
md.append("Machine: %d cores (%s), %.1f GiB; load at start %s, at end %s; commit %s; %s.\n" % (
    os.cpu_count(), cpu_model(), mem_gib(), load0, " ".join(doc["machine"]["load_at_end"]),
    commit, settings))
md.append("## Matrix\n")
md.append("| dispatchers | hl:done | fan-out | data | deliveries/s | events/s | latency p50 / p90 / p99 / p99.9 ms (at events/s) | saturated p50 / p99 ms | dispatcher CPU % | CPU µs/delivery | receiver CPU % | peak RSS MiB | received / expected |")
md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for c in matrix:
    t, l, u = c["throughput"], c["latency"], c["cpu"]
    md.append("| %d | %s | %d | %s | %.0f | %.0f | %.1f / %.1f / %.1f / %.1f (%.0f) | %.0f / %.0f | %.0f | %.0f | %.0f | %.0f | %d / %d |" % (
        c["dispatchers"], "on" if c["done_markers"] else "off", c["fanout"], size(c["bytes"]),
        t["deliveries_per_s"], t["events_per_s"], l["p50_ms"], l["p90_ms"], l["p99_ms"],
        l["p999_ms"], l["events_per_s"], t["latency_p50_ms"], t["latency_p99_ms"], u["pct"],
        u["us_per_delivery"], c["receiver_cpu_pct"], c["hwm_kb"] / 1024, c["received"],
        c["expected"]))
md.append("\n## Ceiling: wrk, same receiver, same 1 KiB body, same connection count (goal: ratio >= 0.5)\n")
md.append("wrk ran just before the configuration's cells, its dispatchers idle.\n")
md.append("| dispatchers | hl:done | connections | dispatcher deliveries/s (fan-out 1, 1 KiB) | wrk requests/s | ratio |")
md.append("|---|---|---|---|---|---|")
for r in ratios:
    md.append("| %d | %s | %d | %.0f | %.0f | %.2f |" % (
        r["dispatchers"], "on" if r["done_markers"] else "off", r["connections"],
        r["dispatcher_deliveries_per_s"], r["wrk_requests_per_s"], r["ratio"]))
if scale:
    md.append("\n## Scale: %d endpoints across %d tenants, 1 dispatcher, fan-out %d, 1 KiB\n" % (
        scale[0]["endpoints"], scale[0]["endpoints"] // scale[0]["fanout"], scale[0]["fanout"]))
    md.append("Endpoints written in %.1f s (redis-cli --pipe); dispatcher RSS before any event %.0f MiB.\n" % (
        scale[0]["write_s"], scale[0]["rss_idle_kb"] / 1024))
    md.append("| events spread over | deliveries/s | events/s | latency p50 / p99 ms (at events/s) | CPU µs/delivery | tenants touched (expected) | RSS after MiB | peak RSS MiB |")
    md.append("|---|---|---|---|---|---|---|---|")
    for c in scale:
        # tenants are drawn at random: n events touch t (1 - e^(-n/t)) of t tenants on average
        touched = c["tenants"] * (1 - math.exp(-c["published"] / c["tenants"]))
        md.append("| %d tenants | %.0f | %.0f | %.1f / %.1f (%.0f) | %.0f | %.0f | %.0f | %.0f |" % (
            c["tenants"], c["throughput"]["deliveries_per_s"], c["throughput"]["events_per_s"],
            c["latency"]["p50_ms"], c["latency"]["p99_ms"], c["latency"]["events_per_s"],
            c["cpu"]["us_per_delivery"], touched, c["rss_kb"] / 1024, c["hwm_kb"] / 1024))
md.append("")
with open(base + ".md", "w") as f:
    f.write("\n".join(md))

# Plots: one row per cell, one column per configuration.
labels = []
configs = []
for c in matrix:
    if label(c) not in labels:
        labels.append(label(c))
    if config(c) not in configs:
        configs.append(config(c))
val = {(label(c), config(c)): c for c in matrix}


def table(path, key):
    with open(path, "w") as f:
        f.write("cell " + " ".join('"%s"' % k for k in configs) + "\n")
        for lb in labels:
            f.write('"%s" ' % lb + " ".join(
                str(key(val[(lb, k)])) if (lb, k) in val else "NaN" for k in configs) + "\n")


plots = []
if not shutil.which("gnuplot"):
    print("report: gnuplot not found (apt-get install -y gnuplot-nox): no plots", file=sys.stderr)
elif matrix:
    table(os.path.join(raw, "tp.dat"), lambda c: c["throughput"]["deliveries_per_s"])
    table(os.path.join(raw, "p50.dat"), lambda c: c["latency"]["p50_ms"])
    table(os.path.join(raw, "p99.dat"), lambda c: c["latency"]["p99_ms"])
    cols = len(configs) + 1
    hist = ("set style data histograms; set style histogram clustered gap 1; "
            "set style fill solid 0.8 border -1; set key outside right top; "
            "set grid ytics; set xtics rotate by -30; ")
    script = (
        "set terminal pngcairo size 1000,520 noenhanced; set output '%s-throughput.png'; %s"
        "set title 'Deliveries/s under saturation (fan-out f, event data size)'; "
        "set ylabel 'deliveries/s'; set yrange [0:*]; "
        "plot for [i=2:%d] '%s/tp.dat' using i:xtic(1) title columnheader(i)\n"
        "set terminal pngcairo size 1000,820 noenhanced; set output '%s-latency.png'; "
        "set multiplot layout 2,1; %s set logscale y; set ylabel 'ms'; set yrange [*:*]; "
        "set title 'Latency p50, event timestamp -> receipt, at half the saturated rate'; "
        "plot for [i=2:%d] '%s/p50.dat' using i:xtic(1) title columnheader(i); "
        "set title 'Latency p99'; "
        "plot for [i=2:%d] '%s/p99.dat' using i:xtic(1) title columnheader(i); unset multiplot\n"
    ) % (base, hist, cols, raw, base, hist, cols, raw, cols, raw)
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        print("report: gnuplot failed: " + r.stderr, file=sys.stderr)
    else:
        plots = [base + "-throughput.png", base + "-latency.png"]

print(open(base + ".md").read())
print("wrote %s.json, %s.md%s" % (base, base, "".join(", " + p for p in plots)))
