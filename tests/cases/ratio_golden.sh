#!/usr/bin/env bash
# Format 1.1 golden files (tests/golden/SHA256SUMS-1.1): max.df11 (ANS
# chunks, written by df11 compress --max) and f32hi.df11 (EXP_HI chunks)
# must keep decoding to the SHA-256 recorded for their originals, and must
# still be the files that pin those codecs: version 1.1 with the feature
# flags set (checked from the header bytes here, not by the library).
set -u
cd "${DF11_ROOT:-$(dirname "$0")/../..}"
BUILD="${BUILD:-build}"
df11="$BUILD/df11"
golden=tests/golden
. tests/cases/golden_lib.bash
if [ ! -x "$df11" ]; then
    echo "SKIP ratio_golden.decode $df11 is not built"
    exit 0
fi
declare -A want_flags=([max]=2 [f32hi]=1)
n=0
while read -r sum name; do
    [ -n "$sum" ] || continue
    base=${name%.safetensors}
    f="$golden/$base.df11"
    n=$((n + 1))
    golden_check "ratio_golden.$base" "$f" "$sum" || continue
    read -r maj min flags < <(header_fields "$f")
    if [ "$maj $min" = "1 1" ] && [ "$flags" = "${want_flags[$base]:-x}" ]; then
        echo "PASS ratio_golden.$base.is_1_1_with_its_feature"
    else
        echo "FAIL ratio_golden.$base.is_1_1_with_its_feature: version $maj.$min flags $flags"
    fi
done <"$golden/SHA256SUMS-1.1"
[ "$n" -ge 2 ] && echo "PASS ratio_golden.count" || echo "FAIL ratio_golden.count: only $n files"
