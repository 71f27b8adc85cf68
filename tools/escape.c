#include "escape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (1..4), 2 for the modified UTF-8
 * NUL C0 80, or 0 when p starts invalid UTF-8. p is NUL-terminated, and NUL
 * is never a continuation byte, so no read runs past the end. */
static int utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c == 0xC0 && p[1] == 0x80) return 2;
#define CONT(x) ((x) >= 0x80 && (x) <= 0xBF)
    if (c >= 0xC2 && c <= 0xDF) return CONT(p[1]) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return p[1] >= lo && p[1] <= hi && CONT(p[2]) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return p[1] >= lo && p[1] <= hi && CONT(p[2]) && CONT(p[3]) ? 4 : 0;
    }
#undef CONT
    return 0;
}

char *esc_text(const char *s, esc_mode mode)
{
    /* Worst case 6 output bytes per input byte ("\u0080" from 2 bytes,
     * "\x1b" from 1). */
    char *out = malloc(6 * strlen(s) + 1), *o = out;
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = utf8_len(p);
        unsigned c = *p;
        if (n == 2 && c == 0xC0) {
            o += sprintf(o, "\\0");
        } else if (n == 2 && c == 0xC2 && p[1] <= 0x9F) {
            o += sprintf(o, "\\u%04x", p[1]); /* C1 control, e.g. U+009B CSI */
        } else if (n == 0 && mode == ESC_TEXT) {
            o += sprintf(o, "\\x%02x", c);
            n = 1;
        } else if (n == 0) {
            *o++ = (char)c;
            n = 1;
        } else if (c == '\\' && mode == ESC_TEXT) {
            o += sprintf(o, "\\\\");
        } else if (c < 0x20 || c == 0x7f) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            o += named ? sprintf(o, "%s", named) : sprintf(o, "\\x%02x", c);
        } else {
            memcpy(o, p, (size_t)n);
            o += n;
        }
        p += n;
    }
    *o = 0;
    return out;
}

char *esc_json(const char *s, int *lossy)
{
    char *out = malloc(6 * strlen(s) + 3), *o = out;
    if (!out) return NULL;
    *o++ = '"';
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = utf8_len(p);
        unsigned c = *p;
        if (n == 0) {
            o += sprintf(o, "\\ufffd");
            *lossy = 1;
            n = 1;
        } else if (n == 2 && c == 0xC0) {
            o += sprintf(o, "\\u0000");
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            memcpy(o, p, (size_t)n);
            o += n;
        }
        p += n;
    }
    *o++ = '"';
    *o = 0;
    return out;
}

char *esc_hex(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(2 * n + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", (unsigned char)s[i]);
    out[2 * n] = 0;
    return out;
}
