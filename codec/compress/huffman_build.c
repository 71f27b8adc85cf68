/* Building the code: plain Huffman over at most 256 symbols, flattened
 * until no code is longer than 12 bits. Flattening costs almost nothing on
 * real weights (only symbols rarer than ~1/4096 are affected) and keeps the
 * decode table at 4096 entries. */
#include "../common/internal.h"

static unsigned huffman(const uint64_t freq[256], uint8_t len[256])
{
    uint64_t w[512];
    int parent[512], alive[512];
    int nodes = 0, leaf[256];
    for (int s = 0; s < 256; s++) {
        leaf[s] = -1;
        if (freq[s]) {
            leaf[s] = nodes;
            w[nodes] = freq[s];
            parent[nodes] = -1;
            alive[nodes] = 1;
            nodes++;
        }
    }
    int live = nodes;
    while (live > 1) {
        int a = -1, b = -1;
        for (int i = 0; i < nodes; i++) {
            if (!alive[i]) continue;
            if (a < 0 || w[i] < w[a]) { b = a; a = i; }
            else if (b < 0 || w[i] < w[b]) b = i;
        }
        w[nodes] = w[a] + w[b];
        parent[nodes] = -1;
        alive[nodes] = 1;
        parent[a] = parent[b] = nodes;
        alive[a] = alive[b] = 0;
        nodes++;
        live--;
    }
    unsigned maxlen = 0;
    for (int s = 0; s < 256; s++) {
        unsigned d = 0;
        if (leaf[s] >= 0)
            for (int i = leaf[s]; parent[i] >= 0; i = parent[i]) d++;
        len[s] = (uint8_t)(d > 255 ? 255 : d);
        if (d > maxlen) maxlen = d;
    }
    return maxlen;
}

void df11_huff_lengths(const uint64_t freq[256], uint8_t len[256])
{
    unsigned present = 0;
    for (int s = 0; s < 256; s++) present += freq[s] != 0;
    memset(len, 0, 256);
    if (present == 1) {
        for (int s = 0; s < 256; s++)
            if (freq[s]) len[s] = 1;
        return;
    }
    uint64_t f[256];
    memcpy(f, freq, sizeof f);
    while (huffman(f, len) > DF11_MAX_CODE_LEN)
        for (int s = 0; s < 256; s++)
            if (f[s]) f[s] = (f[s] >> 1) | 1;
}
