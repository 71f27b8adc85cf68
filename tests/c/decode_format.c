/* decode_format: codec/common/format.c packs and unpacks the header,
 * segment and chunk records of every golden file to the same bytes, and
 * lanes.h agrees with a plain count of the lanes. */
#include "codec_util.h"
#include "decompress/reader.h"

#include <zstd.h>

static bool golden_roundtrip(const char *path, char *why, size_t why_len)
{
    size_t size = 0;
    uint8_t *f = tu_read_file(path, &size);
    bool ok = f && size >= DF11_FMT_HEADER_BYTES;
    df11_fmt_header h;
    uint8_t again[DF11_FMT_HEADER_BYTES];
    if (ok) {
        df11_fmt_header_unpack(f, &h);
        df11_fmt_header_pack(&h, again);
        ok = h.magic_ok && h.checksum_ok && h.reserved_zero && memcmp(again, f, sizeof again) == 0;
        if (!ok) snprintf(why, why_len, "%s: header does not round-trip", path);
    }
    uint64_t len = ok ? (uint64_t)h.segment_count * DF11_FMT_SEGMENT_BYTES +
                            (uint64_t)h.chunk_count * DF11_FMT_CHUNK_BYTES : 0;
    uint8_t *idx = ok ? malloc(len + 1) : NULL;
    if (ok && (!idx || ZSTD_decompress(idx, len, f + h.index_offset, h.index_length) != len)) {
        snprintf(why, why_len, "%s: index does not decompress", path);
        ok = false;
    }
    for (uint32_t i = 0; ok && i < h.segment_count; i++) {
        const uint8_t *e = idx + (size_t)i * DF11_FMT_SEGMENT_BYTES;
        df11_fmt_segment s;
        uint8_t b[DF11_FMT_SEGMENT_BYTES];
        df11_fmt_segment_unpack(e, &s);
        df11_fmt_segment_pack(&s, b);
        if (!s.reserved_zero || memcmp(b, e, sizeof b) != 0) {
            snprintf(why, why_len, "%s: segment %u does not round-trip", path, i);
            ok = false;
        }
    }
    for (uint32_t i = 0; ok && i < h.chunk_count; i++) {
        const uint8_t *e = idx + (size_t)h.segment_count * DF11_FMT_SEGMENT_BYTES + (size_t)i * DF11_FMT_CHUNK_BYTES;
        df11_fmt_chunk c;
        uint8_t b[DF11_FMT_CHUNK_BYTES];
        df11_fmt_chunk_unpack(e, &c);
        df11_fmt_chunk_pack(&c, b);
        if (!c.reserved_zero || memcmp(b, e, sizeof b) != 0) {
            snprintf(why, why_len, "%s: chunk %u does not round-trip", path, i);
            ok = false;
        }
    }
    free(idx);
    free(f);
    return ok;
}

int main(void)
{
    const char *files[] = { "tests/golden/bf16.df11", "tests/golden/f32.df11", "tests/golden/mixed.df11",
                            "tests/golden/empty.df11" };
    for (int i = 0; i < 4; i++) {
        char why[256] = "", name[64];
        snprintf(name, sizeof name, "decode_format.golden_roundtrip_%d", i);
        tu_result(golden_roundtrip(files[i], why, sizeof why), name, "%s", why);
    }
    /* a flipped reserved byte and a flipped checksum byte are seen */
    uint8_t b[DF11_FMT_HEADER_BYTES];
    df11_fmt_header h = { .major = 1, .original_size = 5, .chunk_log2 = 18, .lane_symbols = 2048 };
    df11_fmt_header_pack(&h, b);
    df11_fmt_header u;
    df11_fmt_header_unpack(b, &u);
    bool fresh_ok = u.magic_ok && u.checksum_ok && u.reserved_zero && u.original_size == 5;
    b[110] ^= 1; /* 96..103 hold the ANS counts since 1.1; 104..119 stay reserved */
    df11_fmt_header_unpack(b, &u);
    tu_result(fresh_ok && !u.reserved_zero && !u.checksum_ok, "decode_format.header_flags", NULL);

    int bad = 0;
    for (uint32_t L = 256; L <= 4096; L *= 2)
        for (uint32_t n = 1; n < 3 * L; n += 37) {
            uint32_t lanes = 0, total = 0;
            for (uint32_t i = 0; i < n; i += L) lanes++;
            for (uint32_t k = 0; k < df11_lanes(n, L); k++) {
                total += df11_lane_len(n, L, k);
                if (df11_lane_of(df11_lane_first(k, L), L) != k) bad++;
            }
            if (lanes != df11_lanes(n, L) || total != n) bad++;
        }
    tu_result(bad == 0, "decode_format.lane_geometry", "%d mismatches", bad);
    return tu_failures ? 1 : 0;
}
