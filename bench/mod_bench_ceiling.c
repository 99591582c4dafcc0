/*
 * mod_bench_ceiling - the "ceiling" column of bench/run.sh.
 *
 * A minimal content handler that answers the benchmark's requests from
 * memory, inside the same Apache (same MPM, same frontends) that runs the
 * proxy columns, so that no proxy module can beat it: whatever a proxy
 * costs on top of this is the price of proxying.
 *
 *   GET  .../data?size=N   N bytes from a static buffer (no upstream, no
 *                          generator, no digest), with the same response
 *                          header fields t/h2up sends (content-type,
 *                          content-length, x-h2up-conn, x-h2up-stream,
 *                          x-h2up-sha256 of the same lengths).
 *   POST .../upload        reads the body and discards it, answers
 *                          "size=N\nsha256=<64 chars>\n" as text/plain like
 *                          t/h2up (the digest is not computed: a ceiling).
 *                          It reads the way that costs Apache least (see
 *                          IDLE_SLEEP): what the client sent meanwhile is
 *                          taken in one go every millisecond.
 *
 * Configure with
 *     LoadModule bench_ceiling_module /path/mod_bench_ceiling.so
 *     <Location /ceil/>
 *         SetHandler bench-ceiling
 *     </Location>
 *
 * Build: apxs -c mod_bench_ceiling.c (bench/run.sh does it in its scratch
 * directory).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_buckets.h"
#include "apr_strings.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)      /* one immortal bucket */
#define PASS_EVERY (1024 * 1024) /* pass the brigade down this often */
/* An upload's reader sleeps this long whenever the client's input is
 * empty, then takes all that came meanwhile. A reader that blocks instead
 * wakes for each piece of input as it arrives: more thread switches per
 * MiB and, over HTTP/2, smaller consumption reports, with which mod_http2
 * does not grow the stream's window. Measured on the bench's 2 cores
 * (h2up, 8 uploads of 1 MiB at once, 4 s runs, 2026-12-06): over
 * HTTP/1.1 963-1016 req/s at 0.86-0.89 ms of the child's CPU per MiB
 * blocking, 1384-1575 at 0.59-0.65 sleeping 1 or 2 ms; over HTTP/2
 * 413-528 at 2.6-3.3 against 619-747 at 1.59-1.92 (5 ms: 268 req/s).
 * bench/README.md, "The ceiling, corrected". */
#define IDLE_SLEEP apr_time_from_msec(1)

static char payload[CHUNK];
static const char fake_sha[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

module AP_MODULE_DECLARE_DATA bench_ceiling_module;

/* Does path have a segment equal to name (like t/h2up's path_under)? */
static int path_under(const char *path, const char *name)
{
    size_t n = strlen(name);
    const char *p = path;

    while ((p = strstr(p, name)) != NULL) {
        if (p[n] == '\0' || p[n] == '/')
            return 1;
        p += n;
    }
    return 0;
}

static apr_uint64_t query_size(const char *args)
{
    const char *p = args;

    while (p && *p) {
        if (strncmp(p, "size=", 5) == 0)
            return (apr_uint64_t)apr_strtoi64(p + 5, NULL, 10);
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return 0;
}

static void upstream_like_headers(request_rec *r)
{
    apr_table_setn(r->headers_out, "x-h2up-conn", "1");
    apr_table_setn(r->headers_out, "x-h2up-stream", "1");
}

static int serve_upload(request_rec *r)
{
    apr_bucket_brigade *bb;
    apr_off_t total = 0;
    apr_time_t idle_since = -1; /* -1: first read (blocking); 0: input
                                 * came at the last read; else: empty
                                 * since then */
    int seen_eos = 0;
    apr_status_t rv;
    char *body;

    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    /* Read and discard, bucket by bucket (no copy into a buffer). The
     * first read blocks (httpd's HTTP/1 input sends a 100 Continue only
     * then); later ones do not, and an empty input is slept on. */
    do {
        apr_bucket *b;

        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            idle_since < 0 ? APR_BLOCK_READ
                                           : APR_NONBLOCK_READ,
                            64 * 1024);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(bb))) {
            apr_time_t now = apr_time_now();

            apr_brigade_cleanup(bb);
            if (idle_since <= 0)
                idle_since = now;
            else if (now - idle_since > r->server->timeout)
                return HTTP_REQUEST_TIME_OUT;
            apr_sleep(IDLE_SLEEP);
            continue;
        }
        idle_since = 0;
        if (rv != APR_SUCCESS)
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t len;

            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b))
                continue;
            if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ) !=
                APR_SUCCESS)
                return HTTP_BAD_REQUEST;
            total += (apr_off_t)len;
        }
        apr_brigade_cleanup(bb);
    } while (!seen_eos);

    body = apr_psprintf(r->pool, "size=%" APR_OFF_T_FMT "\nsha256=%s\n",
                        total, fake_sha);
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, (apr_off_t)strlen(body));
    upstream_like_headers(r);
    ap_rputs(body, r);
    return OK;
}

static int serve_data(request_rec *r)
{
    apr_uint64_t size = query_size(r->args);
    apr_uint64_t left = size, since_pass = 0;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb;
    apr_status_t rv;

    ap_set_content_type(r, "application/octet-stream");
    ap_set_content_length(r, (apr_off_t)size);
    upstream_like_headers(r);
    apr_table_setn(r->headers_out, "x-h2up-sha256", fake_sha);
    if (r->header_only)
        return OK;
    bb = apr_brigade_create(r->pool, ba);
    while (left > 0) {
        apr_size_t n = left < CHUNK ? (apr_size_t)left : CHUNK;

        APR_BRIGADE_INSERT_TAIL(bb,
                                apr_bucket_immortal_create(payload, n, ba));
        left -= n;
        since_pass += n;
        if (since_pass >= PASS_EVERY && left > 0) {
            rv = ap_pass_brigade(r->output_filters, bb);
            apr_brigade_cleanup(bb);
            if (rv != APR_SUCCESS || r->connection->aborted)
                return AP_FILTER_ERROR;
            since_pass = 0;
        }
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    return rv == APR_SUCCESS ? OK : AP_FILTER_ERROR;
}

static int ceiling_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, "bench-ceiling") != 0)
        return DECLINED;
    if (path_under(r->uri, "/upload"))
        return serve_upload(r);
    /* Like t/h2up, any other path is /data (an empty one without size=);
     * a body sent with it is read and dropped by httpd. */
    if (r->method_number != M_GET)
        ap_discard_request_body(r);
    return serve_data(r);
}

/* A request for the ceiling maps to no file: the directory and file walk
 * (a stat of each path component, an .htaccess looked for in each
 * directory) is skipped, as mod_proxy and mod_h2gw skip it for what they
 * proxy. Like mod_proxy: the name is translated while the <Location>'s
 * SetHandler is in force (httpd resets the per-directory configuration
 * before map_to_storage), and map_to_storage knows the mark. */
#define FILENAME_MARK "bench-ceiling:"

static int ceiling_translate_name(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *h;

    if (!d->expr_handler)
        return DECLINED;
    h = ap_expr_str_exec(r, d->expr_handler, &err);
    if (!h || err || strcmp(h, "bench-ceiling") != 0)
        return DECLINED;
    r->filename = apr_pstrcat(r->pool, FILENAME_MARK, r->uri, NULL);
    return OK;
}

static int ceiling_map_to_storage(request_rec *r)
{
    return (r->filename
            && strncmp(r->filename, FILENAME_MARK,
                       sizeof(FILENAME_MARK) - 1) == 0) ? OK : DECLINED;
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    memset(payload, 'x', sizeof(payload));
    ap_hook_translate_name(ceiling_translate_name, NULL, NULL,
                           APR_HOOK_FIRST);
    ap_hook_map_to_storage(ceiling_map_to_storage, NULL, NULL,
                           APR_HOOK_FIRST);
    ap_hook_handler(ceiling_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(bench_ceiling) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    register_hooks
};
