#!/usr/bin/env bash
# Format 1.1 to 1.4 golden files (tests/golden/SHA256SUMS-1.1 to -1.4):
# max.df11 (ANS chunks, written by df11 compress --max in 1.1), f32hi.df11
# (EXP_HI chunks), il.df11 (ANS_IL chunks, --max from 1.2), lz.df11 (EXP_LZ
# chunks), lzil.df11 (ANS_IL_LZ chunks, --max from 1.3), il4.df11 and
# lzil4.df11 (the same originals with the lane states carrying signs,
# flag IL_SIGNS, --max from 1.4) must keep
# decoding to the SHA-256 recorded for their originals, and must still be
# the files that pin those codecs: their version with the feature flag set
# (checked from the header bytes here, not by the library).
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
declare -A want_flags=([max]=2 [f32hi]=1 [il]=4 [lz]=8 [lzil]=13 [il4]=20 [lzil4]=29)
# checks one list: golden_list SUMS MINOR MIN_FILES
golden_list() {
    local sums=$1 minor=$2 min=$3 n=0 sum name base f maj min_ flags
    while read -r sum name; do
        [ -n "$sum" ] || continue
        base=${name%.safetensors}
        f="$golden/$base.df11"
        n=$((n + 1))
        golden_check "ratio_golden.$base" "$f" "$sum" || continue
        read -r maj min_ flags < <(header_fields "$f")
        if [ "$maj $min_" = "1 $minor" ] && [ "$flags" = "${want_flags[$base]:-x}" ]; then
            echo "PASS ratio_golden.$base.is_1_${minor}_with_its_feature"
        else
            echo "FAIL ratio_golden.$base.is_1_${minor}_with_its_feature: version $maj.$min_ flags $flags"
        fi
    done <"$sums"
    [ "$n" -ge "$min" ] && echo "PASS ratio_golden.count_1_$minor" || echo "FAIL ratio_golden.count_1_$minor: only $n files"
}
golden_list "$golden/SHA256SUMS-1.1" 1 2
golden_list "$golden/SHA256SUMS-1.2" 2 1
golden_list "$golden/SHA256SUMS-1.3" 3 2
golden_list "$golden/SHA256SUMS-1.4" 4 2
