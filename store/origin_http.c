/*
 * origin_http.c - HTTP(S) and S3 origins over libcurl. One attempt per
 * call (the retry policy lives in store.c); a pool of easy handles, each
 * keeping its connection alive between requests; every response checked by
 * http_check_range before its bytes count. S3 uses path-style URLs
 * (ENDPOINT/BUCKET/KEY) signed by libcurl (CURLOPT_AWS_SIGV4).
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include "int.h"

typedef struct {
    CURL *h;
    bool busy;
} conn;

typedef struct {
    origin base;
    char *base_url;      /* ends with '/' */
    bool s3;
    char *sigv4;         /* "aws:amz:REGION:s3" */
    s3_creds cred;
    char *token_hdr;     /* "x-amz-security-token: ..." */
    char *proxy, *ca_file;
    bool insecure;
    long stall_s;
    conn *pool;
    unsigned n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} http_origin;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* AWS UriEncode: unreserved bytes kept, '/' kept between segments. */
static char *encode_path(const char *p)
{
    size_t n = strlen(p);
    char *o = malloc(3 * n + 1), *q = o;
    if (!o)
        return NULL;
    for (const unsigned char *s = (const unsigned char *)p; *s; s++) {
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
            *s == '-' || *s == '.' || *s == '_' || *s == '~' || *s == '/') {
            *q++ = (char)*s;
        } else {
            static const char hx[] = "0123456789ABCDEF";
            *q++ = '%';
            *q++ = hx[*s >> 4];
            *q++ = hx[*s & 15];
        }
    }
    *q = 0;
    return o;
}

char *origin_object_display(const origin *o, const char *object)
{
    size_t a = strlen(o->display), b = strlen(object);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, o->display, a);
    size_t k = a;
    if (b && a && p[a - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, object, b + 1);
    return p;
}

typedef struct {
    char *buf;
    size_t cap, got, max;
    bool grow, overflow;
    long status;         /* of the response being received */
    char cr[160], cl[40], etag[256];
} xfer;

static size_t on_body(char *data, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    if (x->status < 200 || x->status >= 300)
        return n;   /* an error page: its status says it all */
    if (x->got + n > x->cap) {
        if (!x->grow || x->got + n > x->max) {
            x->overflow = true;
            return 0;   /* aborts the transfer: more bytes than asked */
        }
        size_t c = x->cap ? x->cap : 65536;
        while (c < x->got + n)
            c *= 2;
        if (c > x->max)
            c = x->max;
        char *b = realloc(x->buf, c + 1);
        if (!b) {
            x->overflow = true;
            return 0;
        }
        x->buf = b;
        x->cap = c;
    }
    memcpy(x->buf + x->got, data, n);
    x->got += n;
    return n;
}

static void header_value(const char *line, size_t n, size_t klen, char *out, size_t cap)
{
    const char *v = line + klen;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t k = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(out, v, k);
    out[k] = 0;
}

static size_t on_header(char *line, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
        /* a new response (after a redirect or a 100): forget the last */
        x->cr[0] = x->cl[0] = x->etag[0] = 0;
        const char *sp = memchr(line, ' ', n);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    } else if (n > 14 && !strncasecmp(line, "Content-Range:", 14)) {
        header_value(line, n, 14, x->cr, sizeof x->cr);
    } else if (n > 15 && !strncasecmp(line, "Content-Length:", 15)) {
        header_value(line, n, 15, x->cl, sizeof x->cl);
    } else if (n > 5 && !strncasecmp(line, "ETag:", 5)) {
        header_value(line, n, 5, x->etag, sizeof x->etag);
    }
    return n;
}

static conn *acquire(http_origin *ho, int64_t deadline)
{
    pthread_mutex_lock(&ho->mu);
    for (;;) {
        for (unsigned i = 0; i < ho->n; i++) {
            if (!ho->pool[i].busy) {
                ho->pool[i].busy = true;
                pthread_mutex_unlock(&ho->mu);
                return &ho->pool[i];
            }
        }
        if (!st_cond_wait_until(&ho->cv, &ho->mu, deadline, 100000000))
            break;
    }
    pthread_mutex_unlock(&ho->mu);
    return NULL;
}

static void release(http_origin *ho, conn *c)
{
    pthread_mutex_lock(&ho->mu);
    c->busy = false;
    pthread_cond_signal(&ho->cv);
    pthread_mutex_unlock(&ho->mu);
}

/* Final (not worth retrying) libcurl failures: configuration and TLS
 * trust problems. Everything else (refused, reset, timeout, partial) is
 * transient. */
static bool curl_final(CURLcode c)
{
    switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_LOGIN_DENIED:
    case CURLE_OUT_OF_MEMORY:
        return true;
    default:
        return false;
    }
}

/* One request. range NULL: the whole object. Returns the curl code; the
 * status in *status. */
static CURLcode perform(http_origin *ho, conn *c, const char *url, const char *range,
                        const char *etag, xfer *x, int64_t deadline, long *status)
{
    CURL *h = c->h;
    curl_easy_reset(h);   /* keeps the live connection */
    int64_t left_ms = (deadline - st_now_ns()) / 1000000;
    if (left_ms < 1)
        left_ms = 1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "df11store/" DF11_LIB_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(left_ms < 10000 ? left_ms : 10000));
    /* A stalled transfer is abandoned early enough to retry in time. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, ho->stall_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (range)
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    if (!ho->s3) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    if (ho->proxy)
        curl_easy_setopt(h, CURLOPT_PROXY, ho->proxy);
    if (ho->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, ho->ca_file);
    if (ho->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    struct curl_slist *hdrs = NULL;
    char inm[300];
    if (etag && *etag) {
        snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
        hdrs = curl_slist_append(hdrs, inm);
    }
    if (ho->s3 && ho->cred.key) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, ho->sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, ho->cred.key);
        curl_easy_setopt(h, CURLOPT_PASSWORD, ho->cred.secret);
        hdrs = curl_slist_append(hdrs, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
        if (ho->token_hdr)
            hdrs = curl_slist_append(hdrs, ho->token_hdr);
    }
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    return rc;
}

static df11_status http_get(origin *o, const char *object, uint64_t off, size_t len, void *buf,
                            uint64_t expect_size, uint64_t *total, int64_t deadline,
                            df11_error *err)
{
    http_origin *ho = (http_origin *)o;
    char *enc = encode_path(object);
    char *disp = origin_object_display(o, object);
    size_t ul = strlen(ho->base_url) + (enc ? strlen(enc) : 0) + 1;
    char *url = malloc(ul);
    df11_status st = DF11_OK;
    if (!enc || !disp || !url) {
        st = st_fail(err, DF11_E_NOMEM, "out of memory");
        goto out;
    }
    snprintf(url, ul, "%s%s", ho->base_url, enc);
    conn *c = acquire(ho, deadline);
    if (!c) {
        st = st_fail(err, DF11_E_AGAIN, "%s: bytes %llu-%llu: no free connection before the deadline",
                     disp, (unsigned long long)off, (unsigned long long)(off + len - 1));
        goto out;
    }
    char range[64];
    snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    xfer x = { .buf = buf, .cap = len };
    long status;
    atomic_fetch_add(&o->ctr->origin_requests, 1);
    CURLcode rc = perform(ho, c, url, range, NULL, &x, deadline, &status);
    release(ho, c);
    atomic_fetch_add(&o->ctr->origin_bytes, x.got);
    uint64_t t = UINT64_MAX;
    if (rc != CURLE_OK) {
        if (x.overflow)
            st = st_fail(err, DF11_E_AGAIN, "%s: bytes %s: more bytes than asked for", disp, range);
        else
            st = st_fail(err, curl_final(rc) ? DF11_E_IO : DF11_E_AGAIN, "%s: bytes %s: %s", disp,
                         range, curl_easy_strerror(rc));
    } else {
        char msg[256];
        st = http_check_range(status, x.cr[0] ? x.cr : NULL, x.cl[0] ? x.cl : NULL, x.got, off, len,
                              expect_size, &t, msg, sizeof msg);
        if (st)
            st_fail(err, st, "%s: bytes %s: %s", disp, range, msg);
    }
    if (st)
        atomic_fetch_add(&o->ctr->origin_errors, 1);
    if (total)
        *total = t;
out:
    free(enc);
    free(disp);
    free(url);
    return st;
}

static df11_status http_get_all(origin *o, const char *object, const char *etag, void **buf,
                                size_t *len, char **etag_out, int *not_modified, size_t max,
                                int64_t deadline, df11_error *err)
{
    http_origin *ho = (http_origin *)o;
    *not_modified = 0;
    *etag_out = NULL;
    *buf = NULL;
    char *enc = encode_path(object), *disp = origin_object_display(o, object);
    size_t ul = strlen(ho->base_url) + (enc ? strlen(enc) : 0) + 1;
    char *url = malloc(ul);
    df11_status st = DF11_OK;
    xfer x = { .grow = true, .max = max };
    if (!enc || !disp || !url) {
        st = st_fail(err, DF11_E_NOMEM, "out of memory");
        goto out;
    }
    snprintf(url, ul, "%s%s", ho->base_url, enc);
    conn *c = acquire(ho, deadline);
    if (!c) {
        st = st_fail(err, DF11_E_AGAIN, "%s: no free connection before the deadline", disp);
        goto out;
    }
    long status;
    atomic_fetch_add(&o->ctr->origin_requests, 1);
    CURLcode rc = perform(ho, c, url, NULL, etag, &x, deadline, &status);
    release(ho, c);
    atomic_fetch_add(&o->ctr->origin_bytes, x.got);
    uint64_t cl;
    if (rc != CURLE_OK) {
        st = x.overflow ? st_fail(err, DF11_E_IO, "%s: larger than %zu bytes", disp, max)
                        : st_fail(err, curl_final(rc) ? DF11_E_IO : DF11_E_AGAIN, "%s: %s", disp,
                                  curl_easy_strerror(rc));
    } else if (status == 304 && etag) {
        *not_modified = 1;
    } else if (status == 200) {
        char *end;
        errno = 0;
        cl = x.cl[0] ? strtoull(x.cl, &end, 10) : x.got;
        if (cl != x.got) {
            st = st_fail(err, DF11_E_AGAIN, "%s: body of %zu bytes, Content-Length %s", disp, x.got, x.cl);
        } else {
            if (!x.buf && !(x.buf = malloc(1)))
                st = st_fail(err, DF11_E_NOMEM, "out of memory");
            else {
                x.buf[x.got] = 0;
                *buf = x.buf;
                *len = x.got;
                x.buf = NULL;
                if (x.etag[0])
                    *etag_out = strdup(x.etag);
            }
        }
    } else {
        st = st_fail(err, status >= 500 || status == 429 || status == 408 ? DF11_E_AGAIN : DF11_E_IO,
                     "%s: HTTP %ld%s", disp, status,
                     status == 404 ? " Not Found" : status == 403 ? " Forbidden (check the credentials)"
                     : status == 401 ? " Unauthorized" : "");
    }
    if (st)
        atomic_fetch_add(&o->ctr->origin_errors, 1);
out:
    free(x.buf);
    free(enc);
    free(disp);
    free(url);
    return st;
}

static void http_free(origin *o)
{
    http_origin *ho = (http_origin *)o;
    for (unsigned i = 0; i < ho->n; i++)
        if (ho->pool[i].h)
            curl_easy_cleanup(ho->pool[i].h);
    free(ho->pool);
    pthread_mutex_destroy(&ho->mu);
    pthread_cond_destroy(&ho->cv);
    s3_creds_free(&ho->cred);
    free(ho->token_hdr);
    free(ho->base_url);
    free(ho->sigv4);
    free(ho->proxy);
    free(ho->ca_file);
    free(o->display);
    free(ho);
}

/* "http://user:pw@host/p" -> "http://host/p" for messages. */
static char *strip_userinfo(const char *url)
{
    const char *s = strstr(url, "://");
    if (!s)
        return strdup(url);
    s += 3;
    const char *slash = strchr(s, '/'), *at = strchr(s, '@');
    if (!at || (slash && at > slash))
        return strdup(url);
    size_t a = (size_t)(s - url);
    char *p = malloc(strlen(url) + 1);
    if (!p)
        return NULL;
    memcpy(p, url, a);
    strcpy(p + a, at + 1);
    return p;
}

df11_status origin_http_open(const char *url, const df11store_options *opt, st_counters *ctr,
                             origin **out, df11_error *err)
{
    pthread_once(&curl_once, curl_init_once);
    http_origin *ho = calloc(1, sizeof *ho);
    if (!ho)
        return st_fail(err, DF11_E_NOMEM, "out of memory");
    pthread_mutex_init(&ho->mu, NULL);
    pthread_cond_init(&ho->cv, NULL);
    ho->base.get = http_get;
    ho->base.get_all = http_get_all;
    ho->base.free = http_free;
    ho->base.remote = true;
    ho->base.ctr = ctr;
    df11_status st = DF11_OK;
    sbuf b = { 0 }, d = { 0 };
    if (!strncmp(url, "s3://", 5)) {
        ho->s3 = true;
        const char *bucket = url + 5, *slash = strchr(bucket, '/');
        size_t blen = slash ? (size_t)(slash - bucket) : strlen(bucket);
        if (!blen) {
            st = st_fail(err, DF11_E_ARG, "%s: no bucket name", url);
            goto fail;
        }
        const char *prefix = slash ? slash + 1 : "";
        while (*prefix == '/')
            prefix++;
        size_t plen = strlen(prefix);
        while (plen && prefix[plen - 1] == '/')
            plen--;
        const char *ep = opt->s3_endpoint ? opt->s3_endpoint : getenv("AWS_ENDPOINT_URL");
        const char *region = opt->s3_region ? opt->s3_region : getenv("AWS_REGION");
        if (!region || !*region)
            region = getenv("AWS_DEFAULT_REGION");
        if (!region || !*region)
            region = "us-east-1";
        char defep[256];
        if (!ep || !*ep) {
            snprintf(defep, sizeof defep, "https://s3.%s.amazonaws.com", region);
            ep = defep;
        }
        size_t elen = strlen(ep);
        while (elen && ep[elen - 1] == '/')
            elen--;
        char *bk = strndup(bucket, blen), *px = strndup(prefix, plen);
        char *ebk = bk ? encode_path(bk) : NULL, *epx = px ? encode_path(px) : NULL;
        if (ebk && epx) {
            sb_put(&b, ep, elen);
            sb_printf(&b, "/%s/%s%s", ebk, epx, plen ? "/" : "");
            sb_printf(&d, "s3://%s/%s%s", bk, px, plen ? "/" : "");
        }
        free(bk);
        free(px);
        free(ebk);
        free(epx);
        ho->sigv4 = malloc(strlen(region) + 16);
        if (ho->sigv4)
            sprintf(ho->sigv4, "aws:amz:%s:s3", region);
        s3_creds_load(&ho->cred);
        if (ho->cred.token) {
            ho->token_hdr = malloc(strlen(ho->cred.token) + 32);
            if (ho->token_hdr)
                sprintf(ho->token_hdr, "x-amz-security-token: %s", ho->cred.token);
        }
    } else {
        sb_puts(&b, url);
        if (b.len && b.buf[b.len - 1] != '/')
            sb_puts(&b, "/");
        char *s = strip_userinfo(b.buf ? b.buf : "");
        if (s)
            sb_puts(&d, s);
        free(s);
    }
    if (b.oom || d.oom || !b.buf || !d.buf || !ho->sigv4 != !ho->s3) {
        st = st_fail(err, DF11_E_NOMEM, "out of memory");
        goto fail;
    }
    ho->base_url = b.buf;
    ho->base.display = d.buf;
    b.buf = d.buf = NULL;
    ho->proxy = opt->proxy ? strdup(opt->proxy) : NULL;
    ho->ca_file = opt->ca_file ? strdup(opt->ca_file) : NULL;
    ho->insecure = opt->insecure != 0;
    double t = opt->timeout > 0 ? opt->timeout : 60;
    ho->stall_s = (long)(t / 3 < 1 ? 1 : t / 3 > 30 ? 30 : t / 3);
    ho->n = opt->connections ? opt->connections : 8;
    ho->pool = calloc(ho->n, sizeof *ho->pool);
    if (!ho->pool) {
        st = st_fail(err, DF11_E_NOMEM, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < ho->n; i++) {
        if (!(ho->pool[i].h = curl_easy_init())) {
            st = st_fail(err, DF11_E_NOMEM, "curl_easy_init failed");
            goto fail;
        }
    }
    *out = &ho->base;
    return DF11_OK;
fail:
    free(b.buf);
    free(d.buf);
    http_free(&ho->base);
    return st;
}
