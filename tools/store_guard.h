/*
 * Decompress beside a store. In a df11fs store a real x.safetensors wins
 * over x.df11 (it already is the original), so 'df11 decompress
 * STORE/x.df11' would silently turn the mount's x.safetensors into a plain
 * copy that no later 'df11 compress' of x.df11 replaces. The default output
 * (no -o, no -c, no -f) is therefore refused when the input's folder looks
 * like a store: it holds another compressed file (*.df11, *.df11n), or it
 * lies inside the STORE of a mounted df11fs.
 */
#ifndef DF11_CLI_STORE_GUARD_H
#define DF11_CLI_STORE_GUARD_H

/* CLI_EXIT_OK, or CLI_EXIT_USAGE after saying why and what to do. */
int store_guard_beside(const char *in, const char *out);

#endif
