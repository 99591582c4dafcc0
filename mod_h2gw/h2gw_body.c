/*
 * h2gw_body: the request body into the stream (see h2gw_body.h). Reads
 * never block; the thread sleeps in h2gw_wait_event().
 */
/* stddef.h first: APR's ring macros (the brigades') then use offsetof
 * rather than arithmetic on a null pointer, which clang -Wextra refuses. */
#include <stddef.h>
#include <poll.h>

#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mod_h2gw.h"
#include "h2gw_body.h"
#include "h2gw_response.h"
#include "h2gw_wait.h"

APLOG_USE_MODULE(h2gw);

/* Without a client descriptor, the first look for more request body once
 * the client paused; it doubles up to h2gw_wait.c's HANDLER_TICK while
 * neither side moves. */
#define BODY_BACKOFF_MIN apr_time_from_msec(1)
/* How long a handler whose HTTP/2 client's body ended (its Content-Length
 * was reached) waits after a complete response for the stream's end
 * flag, which a client sends right after the last byte. */
#define CLIENT_END_WAIT apr_time_from_msec(500)
/* An HTTP/1 response that went out complete with keep-alive before the
 * client ended its body (the upstream answered first; often only the
 * last chunk is still in flight, e.g. a gRPC-Web call's) has the rest of
 * the body read, at most this much for at most this long, so that the
 * connection the response promised to keep serves the next request;
 * closing it instead would fail that request on the client. */
#define DRAIN_MAX (64 * 1024)
#define DRAIN_WAIT apr_time_from_sec(1)
/* How long a request with "Expect: 100-continue" waits for the upstream's
 * 100 before its body is sent anyway. */
#define EXPECT_WAIT apr_time_from_sec(1)

apr_off_t h2gw_body_length(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t n;

    if (!cl || apr_table_get(r->headers_in, "Transfer-Encoding")
        || apr_strtoff(&n, cl, NULL, 10) != APR_SUCCESS || n < 0) {
        return -1;
    }
    return n;
}

apr_status_t h2gw_body_await_continue(h2gw_req_t *ctx)
{
    apr_time_t until = apr_time_now() + EXPECT_WAIT;

    for (;;) {
        apr_interval_time_t left = until - apr_time_now();
        apr_status_t rv = h2gw_stream_wait_continue(ctx->st, 0);

        if (rv != APR_TIMEUP) {
            return rv;
        }
        if (left <= 0) {
            REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: no 100 Continue from %s "
                    "within %d ms, sending the body",
                    ctx->st->target.name,
                    (int)apr_time_as_msec(EXPECT_WAIT));
            return APR_SUCCESS;
        }
        if (h2gw_wait_event(ctx, 0, H2GW_WAIT_CONTINUE, left, 0, NULL)
            != APR_SUCCESS) {
            return APR_ECONNABORTED;
        }
    }
}

/* The client's request trailers (HTTP/2 trailing HEADERS, HTTP/1.1
 * chunked trailers: httpd keeps them in r->trailers_in), as fields for
 * the upstream: names lowercased; pseudo-headers, hop-by-hop and invalid
 * fields dropped. NULL when there are none. */
static nghttp2_nv *request_trailers(request_rec *r, size_t *pn)
{
    const apr_array_header_t *arr = apr_table_elts(r->trailers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    nghttp2_nv *nv;
    size_t n = 0;
    int i;

    *pn = 0;
    if (arr->nelts == 0) {
        return NULL;
    }
    nv = apr_pcalloc(r->pool, sizeof(*nv) * (size_t)arr->nelts);
    for (i = 0; i < arr->nelts; ++i) {
        char *name;

        if (!e[i].key || !e[i].val) {
            continue;
        }
        name = apr_pstrdup(r->pool, e[i].key);
        ap_str_tolower(name);
        if (h2gw_headers_resp_class((const uint8_t *)name, strlen(name),
                                    (const uint8_t *)e[i].val,
                                    strlen(e[i].val)) != H2GW_HDR_PASS) {
            continue;
        }
        nv[n].name = (uint8_t *)name;
        nv[n].namelen = strlen(name);
        nv[n].value = (uint8_t *)e[i].val;
        nv[n].valuelen = strlen(e[i].val);
        nv[n].flags = NGHTTP2_NV_FLAG_NONE;
        ++n;
    }
    *pn = n;
    return n ? nv : NULL;
}

/* httpd's HTTP/1 input filter sends "100 Continue" on a blocking read
 * only; ours do not block, so it is sent here (once: this clears
 * expecting_100). mod_http2 sends its own. */
static void send_continue(request_rec *r)
{
    int status = r->status;

    r->status = HTTP_CONTINUE;
    ap_send_interim_response(r, 0);
    r->status = status;
}

/*
 * The client has nothing at hand: the body held back from the engine
 * (less than a batch) goes before the wait for more, response parts at
 * hand go out, then the thread sleeps until the client sends more (still:
 * the body bytes still to come, 0 when not known) or, while the engine
 * has half a buffer and more to send, until it sent that. Returns
 * APR_SUCCESS (read again), APR_ECONNABORTED (the response ended or
 * failed, or the client is gone).
 */
static apr_status_t await_input(h2gw_req_t *ctx, apr_off_t still,
                                apr_interval_time_t *backoff)
{
    if (h2gw_stream_body_held(ctx->st)) {
        h2gw_engine_notify(ctx->engine, ctx->st);
    }
    if (h2gw_response_relay_all(ctx) != APR_EAGAIN) {
        return APR_ECONNABORTED;
    }
    if (!h2gw_stream_body_room(ctx->st)) {
        /* Then what the client sent meanwhile is taken at once: one
         * wake-up, not one per piece. */
        return h2gw_wait_event(ctx, 0, H2GW_WAIT_SPACE, -1, 0, NULL);
    }
    return h2gw_wait_event(ctx, 1, 0, -1, still, backoff);
}

/* Puts len body bytes into the stream's buffer, waking the engine as the
 * stream asks; while the buffer is full, the response moves and the
 * thread sleeps until there is room. Returns APR_SUCCESS,
 * APR_ECONNABORTED (the response ended or failed, or the client is
 * gone), or the stream's error. */
static apr_status_t put_body(h2gw_req_t *ctx, const char *data,
                             apr_size_t len)
{
    while (len > 0) {
        apr_size_t took;
        int wake;
        apr_status_t rv = h2gw_stream_put_body(ctx->st, data, len, 0, &took,
                                               &wake);

        if (wake) {
            h2gw_engine_notify(ctx->engine, ctx->st);
        }
        data += took;
        len -= took;
        if (rv == APR_EAGAIN || rv == APR_TIMEUP) {
            /* Response parts wait (EAGAIN), or the buffer is full
             * (TIMEUP): move the response, then sleep until there is
             * room or news. */
            if (h2gw_response_relay_all(ctx) != APR_EAGAIN) {
                return APR_ECONNABORTED;
            }
            if (rv == APR_TIMEUP
                && h2gw_wait_event(ctx, 0, H2GW_WAIT_SPACE, -1, 0, NULL)
                       != APR_SUCCESS) {
                return APR_ECONNABORTED;
            }
            continue;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* Moves the data of one brigade read from the client into the stream
 * (gRPC-Web's decoded), adding what was read to *body_bytes; sets *eos
 * at its EOS. Returns APR_SUCCESS, or the error of a bucket read, of the
 * gRPC-Web decoder or of put_body(). */
static apr_status_t put_brigade(h2gw_req_t *ctx, apr_bucket_brigade *in,
                                apr_off_t *body_bytes, int *eos)
{
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(in); b != APR_BRIGADE_SENTINEL(in);
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len;
        apr_status_t rv;

        if (APR_BUCKET_IS_EOS(b)) {
            *eos = 1;
            break;
        }
        if (APR_BUCKET_IS_METADATA(b)) {
            continue;
        }
        rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        *body_bytes += (apr_off_t)len;
        if (ctx->gw
            && (rv = h2gw_grpcweb_body(ctx->gw, &data, &len))
                   != APR_SUCCESS) {
            return rv;
        }
        if ((rv = put_body(ctx, data, len)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* The body's end: the gRPC-Web decoder's last check, then the client's
 * trailers and the end handed to the engine. Returns APR_SUCCESS or the
 * decoder's error. */
static apr_status_t end_body(h2gw_req_t *ctx, apr_off_t body_bytes)
{
    nghttp2_nv *trailers;
    size_t ntrailers;
    apr_status_t rv;

    if (ctx->gw && (rv = h2gw_grpcweb_body_end(ctx->gw)) != APR_SUCCESS) {
        return rv;
    }
    ctx->body_done = 1;
    trailers = request_trailers(ctx->r, &ntrailers);
    REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: stream %lu: request body complete "
            "(%" APR_OFF_T_FMT " bytes%s)", ctx->st->id, body_bytes,
            ntrailers ? ", with trailers" : "");
    h2gw_stream_end_body(ctx->st, trailers, ntrailers);
    h2gw_engine_notify(ctx->engine, ctx->st);
    return APR_SUCCESS;
}

static apr_status_t pump(h2gw_req_t *ctx);

apr_status_t h2gw_body_pump(h2gw_req_t *ctx)
{
    apr_status_t rv;

    h2gw_wait_body_begin(ctx, h2gw_body_length(ctx->r));
    rv = pump(ctx);
    h2gw_wait_body_end(ctx);
    return rv;
}

/* h2gw_body_pump()'s work. */
static apr_status_t pump(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    apr_bucket_brigade *in = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);
    apr_interval_time_t backoff = BODY_BACKOFF_MIN;
    apr_off_t declared = h2gw_body_length(r);
    apr_off_t body_bytes = 0;
    int seen_eos = 0;
    apr_status_t rv;

    if (r->expecting_100 && !r->connection->master) {
        send_continue(r);
    }
    while (!seen_eos) {
        rv = ap_get_brigade(r->input_filters, in, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ, H2GW_REQ_READ_CHUNK);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(in))) {
            apr_brigade_cleanup(in);
            rv = await_input(ctx, declared >= 0 ? declared - body_bytes : 0,
                             &backoff);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            continue;
        }
        if (rv != APR_SUCCESS) {
            return r->connection->aborted ? APR_ECONNABORTED : rv;
        }
        backoff = BODY_BACKOFF_MIN;
        ctx->batch_wait = 1;
        h2gw_stream_count_body_read();
        rv = put_brigade(ctx, in, &body_bytes, &seen_eos);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        apr_brigade_cleanup(in);
    }
    return end_body(ctx, body_bytes);
}

void h2gw_body_await_client_end(h2gw_req_t *ctx)
{
    conn_rec *c = ctx->r->connection;
    apr_bucket_brigade *bb = apr_brigade_create(ctx->r->pool,
                                                c->bucket_alloc);
    apr_time_t until = apr_time_now() + CLIENT_END_WAIT;

    for (;;) {
        struct pollfd pfd;
        apr_interval_time_t left;
        apr_status_t rv = ap_get_brigade(c->input_filters, bb,
                                         AP_MODE_READBYTES,
                                         APR_NONBLOCK_READ,
                                         H2GW_REQ_READ_CHUNK);
        int eos = (rv == APR_EOF)
                  || (rv == APR_SUCCESS && !APR_BRIGADE_EMPTY(bb)
                      && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb)));

        apr_brigade_cleanup(bb);
        left = until - apr_time_now();
        if (eos || left <= 0 || c->aborted
            || (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv))) {
            return;
        }
        if (rv == APR_SUCCESS) {
            continue;  /* bytes past the Content-Length: not ours */
        }
        pfd.fd = ctx->client_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        (void)poll(&pfd, 1, (int)((left + 999) / 1000));
    }
}

int h2gw_body_drain(h2gw_req_t *ctx)
{
    conn_rec *c = ctx->r->connection;
    apr_bucket_brigade *bb;
    apr_time_t until = apr_time_now() + DRAIN_WAIT;
    apr_off_t seen = 0;

    if (!ctx->eos_sent || ctx->client_fd < 0 || c->aborted) {
        return 0;
    }
    /* The core holds a small complete response back (to join the next
     * one): the client waits for it before it sends the rest. */
    bb = apr_brigade_create(ctx->r->pool, c->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(c->bucket_alloc));
    if (ap_pass_brigade(c->output_filters, bb) != APR_SUCCESS) {
        return 0;
    }
    apr_brigade_cleanup(bb);
    for (;;) {
        struct pollfd pfd;
        apr_interval_time_t left;
        apr_bucket *b;
        apr_status_t rv = ap_get_brigade(ctx->r->input_filters, bb,
                                         AP_MODE_READBYTES,
                                         APR_NONBLOCK_READ,
                                         H2GW_REQ_READ_CHUNK);

        if (rv == APR_SUCCESS && !APR_BRIGADE_EMPTY(bb)) {
            for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
                 b = APR_BUCKET_NEXT(b)) {
                if (APR_BUCKET_IS_EOS(b)) {
                    apr_brigade_cleanup(bb);
                    return 1;
                }
                seen += b->length == (apr_size_t)-1 ? 0 : b->length;
            }
            apr_brigade_cleanup(bb);
            if (seen > DRAIN_MAX) {
                return 0;
            }
            continue;
        }
        apr_brigade_cleanup(bb);
        left = until - apr_time_now();
        if ((rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) || left <= 0) {
            return 0;
        }
        /* Over TLS too: the filters answer EAGAIN only once mod_ssl has
         * nothing left and OpenSSL wants bytes from the socket. */
        pfd.fd = ctx->client_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, (int)((left + 999) / 1000)) != 1
            || (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))) {
            return 0;
        }
    }
}
