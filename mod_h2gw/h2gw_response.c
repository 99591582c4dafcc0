/*
 * h2gw_response: the stream's response to the client's output filters
 * (see h2gw_response.h). Runs on the handler thread only.
 */
#include <stddef.h>

#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mod_h2gw.h"
#include "h2gw_map.h"
#include "h2gw_response.h"

APLOG_USE_MODULE(h2gw);

/* The longest a batch wait for response data lasts (see
 * h2gw_response_next_wait()): how late at most the data of an upstream
 * that pauses mid-batch goes out. An upstream slower than a batch per
 * linger (64 MB/s with the defaults) has every other wait end so: its
 * data goes out at most this late, at most two wake-ups per batch. */
#define H2GW_RESP_LINGER apr_time_from_msec(2)
/* A batch smaller than this saves no wake-up: a frame's worth. */
#define H2GW_RESP_BATCH_MIN (16 * 1024)

static void chunk_free(void *data)
{
    h2gw_chunk_free((h2gw_chunk_t *)((char *)data
                                     - offsetof(h2gw_chunk_t, data)));
}

/* What this request's response URIs are mapped back with (see
 * h2gw_map_reverse()): its pass, its upstream's servers, the client's
 * Host when it went upstream, and this server's URL as the client
 * reaches it. Allocated in r->pool. */
static const h2gw_map_rev_t *reverse_map(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    const h2gw_pass_t *pass = ctx->route.pass;
    const apr_array_header_t *servers = pass->upstream->servers;
    h2gw_map_rev_t *m = apr_pcalloc(r->pool, sizeof(*m));
    const char **auth = apr_palloc(r->pool, sizeof(*auth)
                                   * (size_t)(servers->nelts + 1));
    int i;

    for (i = 0; i < servers->nelts; ++i) {
        auth[i] = APR_ARRAY_IDX(servers, i, h2gw_server_conf_t).authority;
    }
    m->prefix = pass->prefix;
    m->base_path = pass->base_path;
    m->authorities = auth;
    m->nauthorities = servers->nelts;
    m->host = ctx->route.preserve_host
                  ? apr_table_get(r->headers_in, "Host") : NULL;
    m->client_url = ap_construct_url(r->pool, "", r);
    return m;
}

/* Sets the final response's status and headers on r; they go out with
 * the first brigade passed (so a response that is already complete, e.g.
 * a gRPC trailers-only answer, leaves as one HEADERS frame with
 * END_STREAM on HTTP/2, and with a Content-Length on HTTP/1.1). */
static void set_headers(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    h2gw_stream_t *st = ctx->st;
    const h2gw_field_t *f = (const h2gw_field_t *)st->resp_fields->elts;
    const h2gw_map_rev_t *m = NULL;
    int i;

    r->status = st->http_status;
    ctx->resp_length = -1;
    /* Strings are copied: the stream may be freed before r is logged. */
    for (i = 0; i < st->resp_fields->nelts; ++i) {
        if (!strcasecmp(f[i].name, "content-length")) {
            /* Noted for batch waits; passed on below like any field. */
            apr_off_t len;
            char *end;

            if (apr_strtoff(&len, f[i].value, &end, 10) == APR_SUCCESS
                && !*end && len >= 0) {
                ctx->resp_length = len;  /* nghttp2 holds the DATA to it */
            }
        }
        if (!strcasecmp(f[i].name, "content-type")) {
            ap_set_content_type(r, apr_pstrdup(r->pool, f[i].value));
        }
        else if (ctx->route.reverse && h2gw_map_is_uri_field(f[i].name)) {
            const char *v = apr_pstrdup(r->pool, f[i].value);

            if (!m) {
                m = reverse_map(ctx);
            }
            apr_table_addn(r->headers_out, apr_pstrdup(r->pool, f[i].name),
                           h2gw_map_reverse(r->pool, m, v));
        }
        else {
            apr_table_addn(r->headers_out, apr_pstrdup(r->pool, f[i].name),
                           apr_pstrdup(r->pool, f[i].value));
        }
    }
    if (ctx->route.via) {
        apr_table_merge(r->headers_out, "Via",
                        h2gw_map_via(r->pool, HTTP_VERSION(2, 0),
                                     ap_get_server_name(r)));
    }
    ctx->headers_sent = 1;
    REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: stream %lu: response %d from %s "
            "after %" APR_TIME_T_FMT " us", st->id, r->status,
            st->target.name, ctx->headers_at - ctx->submitted);
}

/* Sends what the output filters hold: the response headers set by
 * set_headers() when no body part is there to go with them, or body parts
 * passed on without a FLUSH. */
static apr_status_t flush_out(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    apr_status_t rv;

    APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_flush_create(
                                         r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, ctx->bb);
    apr_brigade_cleanup(ctx->bb);
    return rv;
}

/* Passes interim (1xx) responses from the upstream to the client, as
 * httpd does for its own: HTTP/1.1 clients get them in the response
 * stream, HTTP/2 clients as HEADERS (mod_http2 forwards 103 only with
 * H2EarlyHints on), HTTP/1.0 clients none. */
static void send_interim(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    h2gw_interim_t *im = h2gw_stream_take_interim(ctx->st);
    int status = r->status;
    const char *status_line = r->status_line;
    apr_table_t *headers = r->headers_out;

    for (; im; im = im->next) {
        const h2gw_field_t *f = (const h2gw_field_t *)im->fields->elts;
        int i;

        r->status = im->status;
        r->status_line = NULL;
        r->headers_out = apr_table_make(r->pool, im->fields->nelts + 1);
        for (i = 0; i < im->fields->nelts; ++i) {
            apr_table_add(r->headers_out, f[i].name, f[i].value);
        }
        REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: interim response %d passed on",
                im->status);
        ap_send_interim_response(r, 1);
    }
    r->status = status;
    r->status_line = status_line;
    r->headers_out = headers;
}

/* The upstream's trailers go out with the end of the response (HTTP/2
 * clients get them as trailing HEADERS; HTTP/1.1 has no way in httpd). */
static void set_trailers(h2gw_req_t *ctx)
{
    h2gw_stream_t *st = ctx->st;
    const apr_array_header_t *t;
    int i;

    t = h2gw_stream_trailers(st);
    for (i = 0; t && i < t->nelts; ++i) {
        const h2gw_field_t *f = &APR_ARRAY_IDX(t, i, h2gw_field_t);

        apr_table_add(ctx->r->trailers_out, f->name, f->value);
    }
}

static apr_status_t send_data(h2gw_req_t *ctx, h2gw_chunk_t *head, size_t len,
                              int eos)
{
    request_rec *r = ctx->r;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_status_t rv;

    if (ctx->gw) {
        h2gw_grpcweb_data(ctx->gw, ctx->bb, head, eos ? ctx->st : NULL);
        head = NULL;
    }
    while (head) {
        h2gw_chunk_t *next = head->next;

        /* The bucket owns the chunk from here: no copy. */
        APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_heap_create(
                                             head->data, head->len,
                                             chunk_free, ba));
        head = next;
    }
    if (eos) {
        if (!ctx->gw) {
            set_trailers(ctx);
        }
        APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_eos_create(ba));
    }
    /* No FLUSH: more may follow at once; relay() flushes before one waits
     * for the upstream. */
    ctx->unflushed = !eos;
    ctx->resp_sent += (apr_off_t)len;
    rv = ap_pass_brigade(r->output_filters, ctx->bb);
    apr_brigade_cleanup(ctx->bb);
    if (rv != APR_SUCCESS) {
        return APR_ECONNABORTED;
    }
    if (len > 0 && !eos) {
        /* (At the end, the release gives back the rest.) */
        h2gw_engine_consumed(ctx->engine, ctx->st, len);
    }
    /* Complete: a client closing right after it is no abort. */
    return (eos || !r->connection->aborted) ? APR_SUCCESS : APR_ECONNABORTED;
}

void h2gw_response_abort(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;

    r->no_cache = 1;
    r->connection->keepalive = AP_CONN_CLOSE;
    apr_brigade_cleanup(ctx->bb);
    APR_BRIGADE_INSERT_TAIL(ctx->bb, ap_bucket_error_create(
                                         HTTP_BAD_GATEWAY, NULL, r->pool, ba));
    APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_eos_create(ba));
    ap_pass_brigade(r->output_filters, ctx->bb);
    apr_brigade_cleanup(ctx->bb);
}

/*
 * Moves what the stream holds for the client to the client, without
 * waiting. Returns APR_SUCCESS (moved something), APR_EAGAIN (nothing at
 * hand: what went to the output filters was flushed, the caller may
 * sleep), APR_EOF (the response is complete), APR_EGENERAL (the stream
 * failed), APR_ECONNABORTED (the client is gone).
 */
static apr_status_t relay(h2gw_req_t *ctx)
{
    h2gw_chunk_t *head;
    size_t len;
    int eos;
    apr_status_t rv;

    if (ctx->eos_sent) {
        return APR_EOF;
    }
    if (!ctx->headers_sent) {
        send_interim(ctx);
        rv = h2gw_stream_wait_headers(ctx->st, 0);
        if (rv == APR_TIMEUP) {
            return APR_EAGAIN;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        ctx->headers_at = apr_time_now();
        send_interim(ctx);  /* those that came with the final headers */
        set_headers(ctx);
        if (ctx->gw && h2gw_grpcweb_response(ctx->gw)) {
            /* Not a gRPC answer: a gRPC-Web error, without its body. */
            head = NULL;
            len = 0;
            eos = 1;
        }
        else if ((rv = h2gw_stream_take_data(ctx->st, &head, &len, &eos, 0))
                 != APR_SUCCESS) {
            /* No body part yet (or a failure): the headers go alone, now. */
            if (flush_out(ctx) != APR_SUCCESS
                || ctx->r->connection->aborted) {
                return APR_ECONNABORTED;
            }
            return rv == APR_TIMEUP ? APR_SUCCESS : rv;
        }
    }
    else {
        rv = h2gw_stream_take_data(ctx->st, &head, &len, &eos, 0);
        if (rv == APR_TIMEUP) {
            if (ctx->unflushed) {
                /* Nothing more at hand: what went to the filters goes out
                 * before anything waits (for the upstream or the
                 * client). */
                if (flush_out(ctx) != APR_SUCCESS
                    || ctx->r->connection->aborted) {
                    return APR_ECONNABORTED;
                }
                ctx->unflushed = 0;
            }
            return APR_EAGAIN;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (send_data(ctx, head, len, eos) != APR_SUCCESS) {
        return APR_ECONNABORTED;
    }
    ctx->eos_sent = eos;
    return eos ? APR_EOF : APR_SUCCESS;
}

apr_status_t h2gw_response_relay_all(h2gw_req_t *ctx)
{
    apr_off_t before = ctx->resp_sent;
    apr_size_t moved;
    apr_status_t rv;

    while ((rv = relay(ctx)) == APR_SUCCESS) {
    }
    moved = (apr_size_t)(ctx->resp_sent - before);
    if (ctx->resp_want > 0 && ctx->wait_timed_out && moved < ctx->resp_want
        && rv == APR_EAGAIN) {
        /* A batch wait that timed out short of its batch: the upstream
         * paused (or sends slower than a batch per H2GW_RESP_LINGER).
         * The next wait takes any byte, the one after asks for a batch
         * again. */
        ctx->resp_unbatched = 1;
        h2gw_stream_count_batch_timeout();
    }
    else {
        ctx->resp_unbatched = 0;
    }
    ctx->resp_want = 0;
    return rv;
}

apr_interval_time_t h2gw_response_next_wait(h2gw_req_t *ctx)
{
    apr_off_t rest;
    size_t want;

    ctx->resp_want = 0;
    if (!ctx->headers_sent || ctx->resp_unbatched || ctx->gw
        || ctx->resp_length < 0 || ctx->r->header_only) {
        return -1;
    }
    rest = ctx->resp_length - ctx->resp_sent;
    want = 2 * ctx->st->consume_batch;
    if (rest < (apr_off_t)want) {
        want = rest > 0 ? (size_t)rest : 0;
    }
    if (want < H2GW_RESP_BATCH_MIN) {
        return -1;
    }
    h2gw_engine_consumed_now(ctx->engine, ctx->st);
    ctx->resp_want = want;
    return H2GW_RESP_LINGER;
}
