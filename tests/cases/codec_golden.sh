#!/usr/bin/env bash
# Golden .df11 files (tests/golden/) made by an earlier encoder must keep
# decoding to the SHA-256 recorded for their originals: the format cannot
# drift silently. The hash is taken by sha256sum on what `df11 decompress -c`
# writes, independent of the library's own SHA-256 check.
set -u
cd "${DF11_ROOT:-$(dirname "$0")/../..}"
BUILD="${BUILD:-build}"
df11="$BUILD/df11"
golden=tests/golden
. tests/cases/golden_lib.bash
if [ ! -x "$df11" ]; then
    echo "SKIP golden.decode $df11 is not built"
    exit 0
fi
if [ ! -s "$golden/SHA256SUMS" ]; then
    echo "FAIL golden.sums $golden/SHA256SUMS is missing"
    exit 1
fi
n=0
while read -r sum name; do
    [ -n "$sum" ] || continue
    base=${name%.safetensors}
    f="$golden/$base.df11"
    n=$((n + 1))
    golden_check "golden.$base" "$f" "$sum"
done <"$golden/SHA256SUMS"
[ "$n" -ge 4 ] && echo "PASS golden.count" || echo "FAIL golden.count: only $n files in SHA256SUMS"

# Informational: does the current encoder still produce the same bytes?
# (It may change; the files above must decode regardless.)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if command -v python3 >/dev/null && python3 "$golden/make_originals.py" "$tmp" 2>/dev/null &&
    (cd "$tmp" && sha256sum -c --quiet "$OLDPWD/$golden/SHA256SUMS" >/dev/null 2>&1); then
    for o in "$tmp"/*.safetensors; do
        b=$(basename "$o" .safetensors)
        if "$df11" compress -q --chunk-log2 16 -o "$tmp/$b.df11" "$o" 2>/dev/null &&
            cmp -s "$tmp/$b.df11" "$golden/$b.df11"; then
            echo "# $b: today's encoder writes the same bytes"
        else
            echo "# $b: today's encoder writes different bytes (allowed; decoding is what counts)"
        fi
    done
else
    echo "# originals not reproduced here; encoder comparison skipped"
fi
