#!/usr/bin/env python3
"""plot_remote.py - load time against origin bandwidth from the table that
bench/remote_bench.sh writes (.data/remote-bench.tsv): curl of the original
.safetensors, df11 decompress of the .df11 store entry cold (empty node
cache) and warm (from the node cache).

    .venv/bin/python bench/plot_remote.py [TSV] [PNG]   # default doc/remote_load.png
"""
import csv
import sys

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    tsv = argv[1] if len(argv) > 1 else ".data/remote-bench.tsv"
    png = argv[2] if len(argv) > 2 else "doc/remote_load.png"
    series = {}
    with open(tsv) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["bw_MBps"] == "local":
                continue
            series.setdefault(row["what"], []).append((float(row["bw_MBps"]), float(row["seconds"])))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    style = {"curl original": ("tab:red", "o", "original .safetensors (curl)"),
             "df11 decompress URL, cold": ("tab:blue", "s", "df11, cold (empty node cache)"),
             "df11 decompress URL, warm": ("tab:green", "^", "df11, warm (node cache)"),
             "df11fs mount, cold": ("tab:purple", "D", "df11fs mount, cold"),
             "df11fs mount, warm": ("tab:olive", "v", "df11fs mount, warm")}
    for what, pts in series.items():
        pts.sort()
        color, marker, label = style.get(what, (None, "x", what))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=color, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    bws = sorted({p[0] for pts in series.values() for p in pts})
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks(bws)
    ax.set_xticklabels([f"{b:g}" for b in bws])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.set_xlabel("origin bandwidth (MB/s, all connections together)")
    ax.set_ylabel("load time (s)")
    ax.set_title("Loading a 1.17 GB BF16 model (GPT-2 tiled) over HTTP")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(png)


if __name__ == "__main__":
    main(sys.argv)
