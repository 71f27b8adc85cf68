#!/usr/bin/env python3
"""bench/plot_peers.py RESULTS.json OUTDIR: the table and plots of
bench/peers.sh. Writes OUTDIR/peers.md (one Markdown table per file) and
OUTDIR/peers-<file>.png: stored size (% of the original) against decode
speed (GB/s of output), one point per codec and level, one thread filled
and all threads hollow."""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def gbps(orig, s):
    return orig / s / 1e9 if s else None


def main(path, out):
    doc = json.load(open(path))
    res = doc["results"]
    files = []
    for r in res:
        if r["file"] not in files:
            files.append(r["file"])
    md = [f"Run: {doc['ncpu']} CPUs, medians of {doc['repeats']}, load at end {' '.join(doc['load'])}.", ""]
    for f in files:
        rows = [r for r in res if r["file"] == f]
        orig = rows[0]["orig"]
        md += [f"### {f} ({orig / 1e6:.1f} MB)", "",
               "| codec | level | size | exact | threads | compress MB/s | decompress GB/s | peak RSS c / d (MiB) |",
               "|---|---|---:|:-:|---:|---:|---:|---:|"]
        for r in rows:
            size = f"{r['size'] / orig * 100:.3f}%" if r["size"] else "-"
            cs = f"{orig / r['c_s'] / 1e6:.0f}" if r["c_s"] else "-"
            ds = f"{gbps(orig, r['d_s']):.3f}" if r["d_s"] else "-"
            rss = "/".join(f"{v / 1024:.0f}" if v else "-" for v in (r["c_rss_kib"], r["d_rss_kib"]))
            exact = "yes" if r["exact"] else ("no: " + (r["error"] or "differs"))
            md.append(f"| {r['codec']} | {r['level']} | {size} | {exact} | {r['threads']} | {cs} | {ds} | {rss} |")
        md.append("")
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        pts = [(gbps(orig, r["d_s"]), r["size"] / orig * 100, r) for r in rows
               if r["size"] and r["d_s"] and r["exact"]]
        # The codecs that model floats lie within a point or two of each
        # other; a codec that does not (glyd default, ~100%) or deduplicates
        # (lmz on the tiled file) would squash them into one line, so the
        # axis spans the cluster around the median and the others sit on its
        # edge as arrows, labelled with their size.
        ys = sorted(y for _, y, _ in pts)
        mid = ys[len(ys) // 2] if ys else 0
        near = [y for y in ys if abs(y - mid) <= 3] or [mid]
        lo, hi = min(near) - 0.15, max(near) + 0.15
        for k, (x, y, r) in enumerate(pts):
            one = r["threads"] == 1
            off = y > hi or y < lo
            yy = hi if y > hi else lo if y < lo else y
            colour = "C0" if r["codec"] == "df11" else "C1"
            marker = ("^" if y > hi else "v") if off else ("o" if r["codec"] == "df11" else "s")
            ax.scatter([x], [yy], marker=marker, facecolors=colour if one else "none",
                       edgecolors=colour, clip_on=False)
            if one:
                label = f"{r['codec']} {r['level']}" + (f" ({y:.2f}%, off scale)" if off else "")
                ax.annotate(label, (x, yy), textcoords="offset points",
                            xytext=(4, -10 if y > hi else 4 if y < lo else 3 if k % 2 == 0 else -9),
                            fontsize=7)
        ax.set_ylim(lo, hi)
        ax.set_xscale("log")
        ax.set_xlabel("decode speed, GB/s of output (filled: 1 thread, hollow: all threads)")
        ax.set_ylabel("stored size, % of original")
        ax.set_title(f"{f}: size vs decode speed")
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        png = os.path.join(out, f"peers-{os.path.splitext(f)[0]}.png")
        fig.savefig(png, dpi=110)
        plt.close(fig)
        md += [f"![{f}](peers-{os.path.splitext(f)[0]}.png)", ""]
    open(os.path.join(out, "peers.md"), "w").write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
