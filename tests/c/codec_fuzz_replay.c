/*
 * codec_fuzz_replay: runs every file of tests/fuzz/corpus/<target>/ through
 * its fuzz target, built here without libFuzzer, so the seeds and every
 * crasher ever found stay regression tests in the normal (and ASan) runs.
 * A target aborts on a broken invariant, which fails this program.
 */
#define DF11_REPLAY
#include "../fuzz/fuzz_ans.c"
#include "../fuzz/fuzz_container.c"
#include "../fuzz/fuzz_decode.c"
#include "../fuzz/fuzz_safetensors.c"
#include "../fuzz/fuzz_table.c"

#include "fuzz_replay.h"

int main(void)
{
    const char *root = getenv("DF11_ROOT");
    if (!root || !*root) root = ".";
    int bad = 0;
    bad += replay(root, "ans", fuzz_ans);
    bad += replay(root, "container", fuzz_container);
    bad += replay(root, "decode", fuzz_decode);
    bad += replay(root, "safetensors", fuzz_safetensors);
    bad += replay(root, "table", fuzz_table);
    return bad ? 1 : 0;
}
