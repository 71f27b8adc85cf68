/*
 * store_fuzz_replay: tests/fuzz/corpus/manifest/ through fuzz_manifest and
 * tests/fuzz/corpus/http_range/ through fuzz_http_range,
 * built here without libFuzzer against libdf11store, as codec_fuzz_replay
 * does for the codec's targets: seeds and past crashers stay regression
 * tests in the normal and ASan runs.
 */
#define DF11_REPLAY
#include "../fuzz/fuzz_manifest.c"
#include "../fuzz/fuzz_http_range.c"

#include "fuzz_replay.h"

int main(void)
{
    const char *root = getenv("DF11_ROOT");
    if (!root || !*root) root = ".";
    int bad = replay(root, "manifest", fuzz_manifest);
    bad |= replay(root, "http_range", fuzz_http_range);
    return bad ? 1 : 0;
}
