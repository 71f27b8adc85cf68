/* df11 - command-line front end of libdf11: dispatch, --help, --version. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "msg.h"

extern const cli_command cmd_manifest;   /* tools/cmd_manifest.c */
static const cli_command *const commands[] = {
    &cmd_compress, &cmd_decompress, &cmd_verify, &cmd_info, &cmd_bench,
    &cmd_manifest,
};
#define N_CMDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *f)
{
    fputs("Usage: df11 COMMAND [OPTIONS] FILE...\n"
          "Stores .safetensors model files losslessly in the .df11 format\n"
          "(BF16 exponents Huffman-coded, about 11 bits per weight).\n\n"
          "Commands:\n", f);
    for (size_t i = 0; i < N_CMDS; i++)
        fprintf(f, "  %-11s %s\n", commands[i]->name, commands[i]->synopsis);
    fputs("\n'df11 COMMAND --help' describes each command and its options.\n"
          "Common options: -o OUT, -f (overwrite), -q, -v, -T N (threads,\n"
          "default all cores). Sources are never deleted.\n\n"
          "Exit codes:\n"
          "  0  success\n"
          "  1  usage error (bad option, missing operand)\n"
          "  2  I/O error (open, read, write, rename failed; input changed\n"
          "     while it was being compressed)\n"
          "  3  input is not valid for the command (not a .df11 file, bad\n"
          "     magic, unsupported version, not a .safetensors file, not a\n"
          "     regular file)\n"
          "  4  corrupt .df11 data (checksum, SHA-256, chunk, index, header)\n"
          "  5  output exists and -f was not given\n"
          "  6  out of memory or internal error\n"
          "With several files, df11 goes on after a failure and exits with\n"
          "the code of the first one.\n", f);
}

static const cli_command *find(const char *name)
{
    for (size_t i = 0; i < N_CMDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    /* zstd-style short forms */
    if (strcmp(name, "c") == 0) return &cmd_compress;
    if (strcmp(name, "d") == 0) return &cmd_decompress;
    if (strcmp(name, "t") == 0 || strcmp(name, "test") == 0) return &cmd_verify;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *a = argv[1];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        print_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
        printf("df11 %s (format %d.%d)\n", df11_version(), DF11_FORMAT_MAJOR,
               DF11_FORMAT_MINOR);
        return CLI_EXIT_OK;
    }
    if (strcmp(a, "help") == 0) {
        const cli_command *c = argc > 2 ? find(argv[2]) : NULL;
        if (c)
            fputs(c->help, stdout);
        else
            print_help(stdout);
        return argc > 2 && !c ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const cli_command *cmd = find(a);
    if (!cmd) {
        msg_error("unknown command '%s'; try 'df11 --help'", a);
        return CLI_EXIT_USAGE;
    }
    cli_opts o;
    int rc = cli_parse(cmd, argc - 1, argv + 1, &o);
    if (rc < 0)
        return CLI_EXIT_OK; /* --help */
    if (rc)
        return rc;
    return cmd->run(&o);
}
