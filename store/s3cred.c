/* s3cred.c - AWS credentials: the environment first, then the shared
 * credentials file (the order of the AWS CLI). The secret only ever goes
 * to libcurl's signer; no message prints it. */
#include <ctype.h>
#include <stdlib.h>

#include "int.h"

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strdup(v) : NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

void s3_creds_parse(const char *text, const char *profile, s3_creds *c)
{
    char *copy = strdup(text);
    if (!copy)
        return;
    bool in = false;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *l = trim(line);
        if (*l == '#' || *l == ';' || !*l)
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            if (end) {
                *end = 0;
                in = !strcmp(trim(l + 1), profile);
            }
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in || !eq)
            continue;
        *eq = 0;
        char *k = trim(l), *v = trim(eq + 1);
        char **slot = !strcmp(k, "aws_access_key_id") ? &c->key
                    : !strcmp(k, "aws_secret_access_key") ? &c->secret
                    : !strcmp(k, "aws_session_token") ? &c->token : NULL;
        if (slot && *v) {
            free(*slot);
            *slot = strdup(v);
        }
    }
    free(copy);
}

void s3_creds_load(s3_creds *c)
{
    memset(c, 0, sizeof *c);
    c->key = dup_env("AWS_ACCESS_KEY_ID");
    c->secret = dup_env("AWS_SECRET_ACCESS_KEY");
    if (c->key && c->secret) {
        c->token = dup_env("AWS_SESSION_TOKEN");
        return;
    }
    s3_creds_free(c);
    char path[4096];
    const char *f = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
    if (f && *f)
        snprintf(path, sizeof path, "%s", f);
    else if (home && *home)
        snprintf(path, sizeof path, "%s/.aws/credentials", home);
    else
        return;
    FILE *fp = fopen(path, "re");
    if (!fp)
        return;
    char *text = calloc(1, 1 << 20);
    if (text) {
        size_t n = fread(text, 1, (1 << 20) - 1, fp);
        text[n] = 0;
        const char *prof = getenv("AWS_PROFILE");
        s3_creds_parse(text, prof && *prof ? prof : "default", c);
        free(text);
    }
    fclose(fp);
    if (!c->key || !c->secret)
        s3_creds_free(c);
}

void s3_creds_free(s3_creds *c)
{
    free(c->key);
    if (c->secret) {
        /* volatile: keep the wipe from being optimised away */
        for (volatile char *p = c->secret; *p; p++)
            *p = 0;
    }
    free(c->secret);
    free(c->token);
    memset(c, 0, sizeof *c);
}
