#!/usr/bin/env python3
"""fleet_plot.py - the plot of bench/fleet_bench.sh: load time (all nodes
done) against the number of nodes, df11fs vs the original files, both
through the same caching proxy tier from the same throttled origin.

    .venv/bin/python bench/fleet_plot.py [.data/bench/fleet/fleet.tsv] [doc/fleet.png]
"""
import csv
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

tsv = sys.argv[1] if len(sys.argv) > 1 else ".data/bench/fleet/fleet.tsv"
out = sys.argv[2] if len(sys.argv) > 2 else "doc/fleet.png"
runs = {}
with open(tsv) as f:
    for row in csv.DictReader(f, delimiter="\t"):
        runs.setdefault((row["what"], int(row["nodes"])), []).append(float(row["seconds"]))
title = ""
try:
    with open(tsv.rsplit("/", 1)[0] + "/log") as f:
        title = " ".join(line[2:].strip() for line in f if line.startswith("# origin"))
except OSError:
    pass

fig, ax = plt.subplots(figsize=(7, 4.2))
labels = {"df11fs": "df11fs (.df11 store) via proxy tier", "original": "original .safetensors (curl) via proxy tier"}
for what, style in (("df11fs", "o-"), ("original", "s--")):
    ns = sorted(n for w, n in runs if w == what)
    med = [statistics.median(runs[(what, n)]) for n in ns]
    lo = [min(runs[(what, n)]) for n in ns]
    hi = [max(runs[(what, n)]) for n in ns]
    ax.plot(ns, med, style, label=labels[what])
    ax.fill_between(ns, lo, hi, alpha=0.15)
    if what == "df11fs" and ns:
        ax.axhline(med[0] * 1.5, color="gray", lw=0.8, ls=":", label="1.5x df11fs at 1 node")
ax.set_xscale("log", base=2)
ax.set_xticks([1, 2, 4, 8, 16])
ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
ax.set_xlabel("nodes loading the model at once")
ax.set_ylabel("load time, all nodes done (s)")
ax.set_ylim(bottom=0)
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="lower right")
ax.set_title("Fleet load through one nginx proxy_cache tier\n" + title, fontsize=8)
fig.tight_layout()
fig.savefig(out, dpi=110)
print(out)
