/*
 * review_encoder.c - reproducers for two encoder defects found in review.
 *
 * 1. plan_keeps_exp_with_empty_tensor: a zero-length tensor whose
 *    data_offsets [X,X] equal the begin of a real tensor that the JSON lists
 *    first is taken for an overlap (codec/compress/plan.c sorts by begin only
 *    and compares begin < previous end), so every tensor of the file loses
 *    its EXP coding. The oracle: the same bytes with the JSON keys in the
 *    other order (which safetensors itself writes) do get EXP.
 * 2. input_changed_between_passes: the encoder reads the input twice (pass 1
 *    histograms + SHA-256, pass 2 encodes). If the file changes in between,
 *    it must fail, or produce a file that verifies; it must not report
 *    success for a file whose chunks fail their checksums. The change is
 *    made from the progress callback at the end of pass 1, so the test is
 *    deterministic.
 */
#include "codec_util.h"

#define N_ELEM 65536u

static char *dir;

static char *path_in(const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    if (p) sprintf(p, "%s/%s", dir, name);
    return p;
}

/* A safetensors file with a BF16 tensor [0, 2N) and a zero-length F32
 * tensor at [0, 0]; empty_first picks the JSON order. */
static bool write_pair(const char *path, bool empty_first, const uint8_t *data)
{
    const char *a = "\"a.weight\":{\"dtype\":\"BF16\",\"shape\":[65536],\"data_offsets\":[0,131072]}";
    const char *y = "\"y.empty\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
    char h[512];
    int hl = snprintf(h, sizeof h, "{%s,%s}", empty_first ? y : a, empty_first ? a : y);
    while (hl % 8) h[hl++] = ' ';
    size_t size = 8 + (size_t)hl + 2 * N_ELEM;
    uint8_t *buf = malloc(size);
    if (!buf) return false;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, h, (size_t)hl);
    memcpy(buf + 8 + hl, data, 2 * N_ELEM);
    bool ok = tu_write_file(path, buf, size);
    free(buf);
    return ok;
}

static df11_codec codec_of(const char *df11_path, const char *tensor)
{
    df11_reader *r = NULL;
    df11_error err;
    size_t n = 0;
    df11_codec c = DF11_CODEC_MIXED;
    if (df11_open(df11_path, &r, &err) != DF11_OK || df11_tensor_count(r, &n, &err) != DF11_OK) {
        df11_close(r);
        return c;
    }
    for (size_t i = 0; i < n; i++) {
        df11_tensor t;
        if (df11_tensor_get(r, i, &t, &err) == DF11_OK && strcmp(t.name, tensor) == 0) c = t.codec;
    }
    df11_close(r);
    return c;
}

static void test_empty_tensor(tu_rng *rng)
{
    uint8_t *data = malloc(2 * N_ELEM);
    char *in1 = path_in("empty_first.safetensors"), *in2 = path_in("empty_last.safetensors");
    char *out1 = path_in("empty_first.df11"), *out2 = path_in("empty_last.df11");
    df11_error err;
    bool ok = data && in1 && in2 && out1 && out2;
    if (ok) {
        tu_fill_bf16(rng, data, N_ELEM, 0.02);
        ok = write_pair(in1, true, data) && write_pair(in2, false, data) &&
             df11_encode_file(in1, out1, NULL, &err) == DF11_OK &&
             df11_encode_file(in2, out2, NULL, &err) == DF11_OK;
    }
    tu_result(ok, "empty_tensor_setup", "could not write or encode the inputs");
    if (ok) {
        df11_codec c1 = codec_of(out1, "a.weight"), c2 = codec_of(out2, "a.weight");
        tu_result(c1 == DF11_CODEC_EXP, "plan_exp_with_empty_tensor_listed_first",
                  "codec %d, expected EXP", (int)c1);
        tu_result(c2 == DF11_CODEC_EXP, "plan_exp_with_empty_tensor_listed_last",
                  "codec %d, expected EXP (a zero-length tensor at the same offset was "
                  "taken for an overlap)", (int)c2);
    }
    if (in1) unlink(in1);
    if (in2) unlink(in2);
    if (out1) unlink(out1);
    if (out2) unlink(out2);
    free(in1), free(in2), free(out1), free(out2), free(data);
}

typedef struct {
    const char *path;
    uint64_t offset; /* of one element to change */
    int changed;
} mutator;

/* Pass 1 reports done/2 of the size; its last report is exactly size/2,
 * and pass 2 has not read anything yet. */
static void change_input(void *ctx, uint64_t done, uint64_t total)
{
    mutator *m = ctx;
    if (m->changed || done != total / 2) return;
    m->changed = 1;
    int fd = open(m->path, O_WRONLY | O_CLOEXEC);
    const uint8_t four[2] = {0x80, 0x40}; /* BF16 4.0: exponent 129 */
    if (fd < 0 || pwrite(fd, four, 2, (off_t)m->offset) != 2) m->changed = -1;
    if (fd >= 0) close(fd);
}

static void test_changed_input(void)
{
    /* Every element 1.5 (exponent 127): a constant code. */
    uint8_t *data = malloc(2 * N_ELEM);
    char *in = path_in("changing.safetensors"), *out = path_in("changing.df11");
    bool ok = data && in && out;
    size_t size = 0;
    if (ok) {
        for (uint32_t i = 0; i < N_ELEM; i++) data[2 * i] = 0xC0, data[2 * i + 1] = 0x3F;
        tu_tensor t = {"w", "BF16", N_ELEM, data, 2 * N_ELEM};
        uint8_t *bytes = tu_write_safetensors(in, &t, 1, &size);
        ok = bytes != NULL;
        free(bytes);
    }
    tu_result(ok, "changed_input_setup", "could not write the input");
    if (!ok) goto out;
    mutator m = {in, size - 2 * 1000, 0};
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.threads = 2;
    o.progress = change_input;
    o.progress_ctx = &m;
    df11_error err;
    df11_status enc = df11_encode_file(in, out, &o, &err);
    tu_result(m.changed == 1, "changed_input_mutation", "the input was not changed (%d)", m.changed);
    if (enc != DF11_OK) {
        tu_result(true, "changed_input_not_silently_accepted", NULL);
        goto out;
    }
    df11_reader *r = NULL;
    df11_status v = df11_open(out, &r, &err);
    if (v == DF11_OK) v = df11_verify(r, 1, NULL, NULL, &err);
    df11_close(r);
    tu_result(v == DF11_OK, "changed_input_not_silently_accepted",
              "the encoder reported success but its output fails verification: %s (%s)",
              err.message, df11_status_name(v));
out:
    if (in) unlink(in);
    if (out) unlink(out);
    free(in), free(out), free(data);
}

int main(void)
{
    tu_rng rng = {tu_seed("review_encoder")};
    dir = tu_tempdir();
    if (!dir) {
        printf("FAIL review_encoder_tempdir\n");
        return 1;
    }
    test_empty_tensor(&rng);
    test_changed_input();
    rmdir(dir);
    free(dir);
    return tu_failures ? 1 : 0;
}
