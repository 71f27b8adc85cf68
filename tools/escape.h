/*
 * Showing strings that come from files: tensor names, dtypes, paths. They
 * may hold anything: terminal escape sequences, invalid UTF-8, and NUL,
 * which the library hands over as the two bytes C0 80 (modified UTF-8; see
 * codec/common/safetensors_header.c). Nothing from a file reaches a
 * terminal or a JSON document raw.
 */
#ifndef DF11_CLI_ESCAPE_H
#define DF11_CLI_ESCAPE_H

#include <stddef.h>

typedef enum {
    ESC_TEXT, /* C style: \\, \n, \t, \0, \xNN for other control bytes and
                 invalid UTF-8, \u0080..\u009f for C1 controls */
    ESC_MSG   /* as ESC_TEXT but backslashes and invalid UTF-8 stay as they
                 are: for whole messages, which must not drive the terminal */
} esc_mode;

/* New string (caller frees), or NULL when out of memory. */
char *esc_text(const char *s, esc_mode mode);

/* A JSON string literal with its quotes, valid UTF-8 whatever s holds:
 * control bytes as \u00XX, C0 80 as \u0000, each byte of invalid UTF-8 as
 * \ufffd (U+FFFD, the replacement character). *lossy is set to 1 when a
 * byte was replaced (untouched otherwise). NULL when out of memory. */
char *esc_json(const char *s, int *lossy);

/* Lower-case hex of the bytes of s (for the exact bytes of a lossy name).
 * NULL when out of memory. */
char *esc_hex(const char *s);

#endif
