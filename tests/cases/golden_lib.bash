# golden_lib.bash - the check every golden .df11 gets (sourced by
# codec_golden.sh and ratio_golden.sh): it exists, decodes to the SHA-256
# recorded for its original (taken by sha256sum of `df11 decompress -c`,
# independent of the library's own check), and passes `df11 verify`. Also
# header_fields, which codec_f16.sh uses too.
# shellcheck shell=bash

# golden_check PREFIX FILE SUM: PASS/FAIL lines named PREFIX.*; 1 when the
# file is missing.
golden_check() {
    local prefix=$1 f=$2 sum=$3 got rc
    if [ ! -f "$f" ]; then
        echo "FAIL $prefix: $f is missing"
        return 1
    fi
    got=$("$df11" decompress -q -c "$f" | sha256sum | cut -d' ' -f1; exit "${PIPESTATUS[0]}")
    rc=$?
    if [ "$rc" -eq 0 ] && [ "$got" = "$sum" ]; then
        echo "PASS $prefix.decodes_to_recorded_sha256"
    else
        echo "FAIL $prefix.decodes_to_recorded_sha256: exit $rc, sha256 $got, want $sum"
    fi
    if "$df11" verify -q "$f" >/dev/null 2>&1; then
        echo "PASS $prefix.verify"
    else
        echo "FAIL $prefix.verify: df11 verify refused $f"
    fi
}

# header_fields FILE: "MAJOR MINOR FLAGS" from the header bytes 8..15
# (u16, u16, u32, little-endian), read here, not by the library.
header_fields() {
    local v f
    v=$(od -A n -t u2 -j 8 -N 4 "$1" | tr -s ' ' | sed 's/^ //')
    f=$(od -A n -t u4 -j 12 -N 4 "$1" | tr -d ' ')
    echo "$v $f"
}
