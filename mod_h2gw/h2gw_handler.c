/*
 * h2gw_handler: the content handler, read as a recipe: route, build the
 * stream, submit, pump the body, relay the response, finish. It never
 * calls nghttp2: everything upstream happens on the engine thread, reached
 * through the stream and h2gw_engine_*().
 */
/* stddef.h first: APR's ring macros (the brigades') then use offsetof
 * rather than arithmetic on a null pointer, which clang -Wextra refuses. */
#include <stddef.h>
#include <errno.h>

#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_h2gw.h"
#include "h2gw_body.h"
#include "h2gw_counters.h"
#include "h2gw_handler.h"
#include "h2gw_map.h"
#include "h2gw_req.h"
#include "h2gw_response.h"
#include "h2gw_wait.h"

APLOG_USE_MODULE(h2gw);

/* ---- claiming requests ------------------------------------------------ */

static void claim(request_rec *r, const h2gw_pass_t *pass)
{
    ap_set_module_config(r->request_config, &h2gw_module, (void *)pass);
    r->handler = H2GW_HANDLER;
    r->filename = apr_pstrcat(r->pool, "h2gw:", pass->url, NULL);
    r->proxyreq = PROXYREQ_REVERSE;
}

/*
 * Claims requests under a server-level H2GWPass (first in configuration
 * order) or, failing that, under a <Location> H2GWPass. The core merged
 * the <Location> sections into r->per_dir_config before translate_name,
 * so they are read there: no walk of our own, which would merge them a
 * second time for every request (and every directive whose merge appends
 * would see its values twice).
 */
int h2gw_handler_translate(request_rec *r)
{
    const h2gw_pass_t *pass = h2gw_config_match_server(r);

    if (!pass) {
        pass = h2gw_config_match_location(r);
        if (!pass || !r->uri || !h2gw_map_after_prefix(r->uri, pass->prefix)) {
            return DECLINED;
        }
    }
    claim(r, pass);
    return OK;
}

int h2gw_handler_map_to_storage(request_rec *r)
{
    if (ap_get_module_config(r->request_config, &h2gw_module)) {
        return OK;  /* claimed in translate_name: no file behind it */
    }
    return DECLINED;
}

/* ---- building the upstream request ------------------------------------ */

/* :authority: the client's Host when preserved; otherwise the server's
 * own, which the engine fills in once it has picked the server. */
static const char *upstream_authority(request_rec *r, const h2gw_route_t *rt,
                                      int *from_server)
{
    const h2gw_upstream_t *up = rt->target.upstream;

    *from_server = 0;
    if (rt->preserve_host) {
        const char *host = apr_table_get(r->headers_in, "Host");

        if (host && *host) {
            return host;
        }
    }
    *from_server = 1;
    return APR_ARRAY_IDX(up->servers, 0, h2gw_server_conf_t).authority;
}

static int add_field(void *data, const char *key, const char *val)
{
    apr_array_header_t *fields = data;
    h2gw_field_t *f = apr_array_push(fields);

    f->name = key;
    f->value = val;
    return 1;
}

static void push_own(apr_array_header_t *own, const char *name,
                     const char *value)
{
    h2gw_field_t *f = apr_array_push(own);

    f->name = name;
    f->value = value;
}

/* The fields this proxy adds (X-Forwarded-*, Forwarded, Via), appended
 * to the client's own of the same name as mod_proxy does. */
static void own_fields(h2gw_req_t *ctx, apr_array_header_t *own)
{
    request_rec *r = ctx->r;

    if (ctx->route.add_headers) {
        const char *host = apr_table_get(r->headers_in, "Host");

        push_own(own, "X-Forwarded-For", r->useragent_ip);
        if (host) {
            /* Copied: for HTTP/2 clients Host lives in a mod_http2
             * pool that is no ancestor of r->pool. */
            push_own(own, "X-Forwarded-Host", apr_pstrdup(r->pool, host));
        }
        push_own(own, "X-Forwarded-Server", r->server->server_hostname);
    }
    if (ctx->route.forwarded) {
        push_own(own, "Forwarded",
                 h2gw_map_forwarded(r->pool, r->useragent_ip,
                                    apr_table_get(r->headers_in, "Host"),
                                    ap_http_scheme(r)));
    }
    if (ctx->route.via) {
        push_own(own, "Via", h2gw_map_via(r->pool, r->proto_num,
                                          ap_get_server_name(r)));
    }
}

static int request_has_body(request_rec *r)
{
    return apr_table_get(r->headers_in, "Transfer-Encoding")
           || h2gw_body_length(r) > 0;
}

/* The request-body buffer: request-buffer bytes, or the whole body when
 * its Content-Length says it is smaller. */
static size_t body_buffer_size(h2gw_req_t *ctx)
{
    apr_off_t n = h2gw_body_length(ctx->r);
    size_t cap = ctx->route.request_buffer;

    return (n > 0 && (apr_uint64_t)n < cap) ? (size_t)n : cap;
}

/* Builds the stream: target, header list, body buffer. Returns OK or an
 * HTTP status. */
static int build_stream(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    apr_table_t *headers = apr_table_copy(r->pool, r->headers_in);
    apr_array_header_t *fields = apr_array_make(r->pool, 16,
                                                sizeof(h2gw_field_t));
    apr_array_header_t *own = apr_array_make(r->pool, 5,
                                             sizeof(h2gw_field_t));
    h2gw_req_line_t rl;
    h2gw_stream_t *st;
    const char *bad;
    int has_body = request_has_body(r);
    int expect = has_body && r->expecting_100;
    apr_status_t rv;

    /* Expect: 100-continue goes upstream, and the body waits for the
     * upstream's verdict (proxy()); httpd sends the client its own "100
     * Continue" when the body is first read. */
    apr_table_unset(headers, "Expect");
    if (expect) {
        apr_table_setn(headers, "Expect", "100-continue");
    }
    if (ctx->gw) {
        h2gw_grpcweb_request_fields(ctx->gw, headers);
    }
    apr_table_do(add_field, fields, headers, NULL);
    own_fields(ctx, own);

    rv = h2gw_stream_create(&st, has_body ? body_buffer_size(ctx) : 0);
    if (rv != APR_SUCCESS) {
        REQ_LOG(ctx, APLOG_ERR, rv, H2GW_LOGNO(00201) "%s",
                "cannot create stream");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rl.method = r->method;
    rl.scheme = "http";
    rl.authority = upstream_authority(r, &ctx->route, &st->server_authority);
    rl.path = h2gw_map_upstream_path(r->pool, r->unparsed_uri, r->uri,
                                     r->parsed_uri.query,
                                     ctx->route.pass->prefix,
                                     ctx->route.pass->base_path);
    rv = h2gw_headers_req_to_nv(st->pool, &rl,
                                (const h2gw_field_t *)fields->elts,
                                (size_t)fields->nelts, &st->nv, &st->nvlen,
                                &bad);
    if (rv == APR_SUCCESS) {
        /* After the hop-by-hop removal: "Connection: X-Forwarded-For"
         * drops the client's field, never ours. */
        rv = h2gw_headers_add_own(st->pool, st->nv, st->nvlen,
                                  (const h2gw_field_t *)own->elts,
                                  (size_t)own->nelts, &st->nv, &st->nvlen,
                                  &bad);
    }
    if (rv != APR_SUCCESS) {
        REQ_LOG(ctx, APLOG_INFO, 0, H2GW_LOGNO(00202) "request not proxied: "
                "invalid field '%s' (path '%s')", bad, rl.path);
        h2gw_stream_unref(st);
        return HTTP_BAD_REQUEST;
    }
    st->target = ctx->route.target;
    st->has_body = has_body;
    st->idempotent = h2gw_stream_method_idempotent(
        r->method, apr_table_get(r->headers_in, "Idempotency-Key") != NULL);
    st->expect_continue = expect;
    st->wake_fd = ctx->wake_fd;
    ctx->st = st;
    return OK;
}

/* ---- the recipe ------------------------------------------------------- */

/* Notes for LogFormat's %{...}n: see the README's Logging section. */
static void set_notes(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    h2gw_stream_t *st = ctx->st;

    size_t buffered_max;
    unsigned long conn_id;
    int32_t stream_id;
    const char *server;
    int retried;

    h2gw_stream_log_notes(st, &buffered_max, &conn_id, &stream_id, &server,
                          &retried);
    apr_table_setn(r->notes, "h2gw-buffered-max",
                   apr_psprintf(r->pool, "%" APR_SIZE_T_FMT, buffered_max));
    apr_table_setn(r->notes, "h2gw-stream",
                   apr_psprintf(r->pool, "%lu/%d", conn_id, (int)stream_id));
    apr_table_setn(r->notes, "h2gw-retries",
                   apr_psprintf(r->pool, "%d", retried));
    if (server) {
        /* Configuration memory: lives as long as the process. */
        apr_table_setn(r->notes, "h2gw-server", server);
    }
    apr_table_setn(r->notes, "h2gw-upstream",
                   apr_pstrdup(r->pool, ctx->route.pass->url));
    if (ctx->headers_at) {
        apr_table_setn(r->notes, "h2gw-header-time",
                       apr_psprintf(r->pool, "%" APR_TIME_T_FMT,
                                    ctx->headers_at - ctx->submitted));
    }
}

/* Logs a failed stream once, with the upstream and the cause; returns the
 * HTTP status to answer with when nothing went out yet. */
static int report_failure(h2gw_req_t *ctx)
{
    h2gw_stream_t *st = ctx->st;
    h2gw_fail_t fail;
    const char *reason;
    int begun;

    fail = h2gw_stream_failure(st, ctx->r->pool, &reason, NULL);
    if (!reason) {
        reason = "unknown";
    }
    h2gw_counters_fail(st->target.upstream, fail);
    /* Headers that came but never reached the client still made the
     * request unsafe to send again: say so, or the 502 of a GET looks
     * like a retry that did not happen. */
    begun = !ctx->headers_sent && h2gw_stream_response_begun(st);
    /* (STYLE: the upstream's doing is a warning, our own an error.) */
    REQ_LOG(ctx, fail == H2GW_FAIL_INTERNAL ? APLOG_ERR : APLOG_WARNING, 0,
            H2GW_LOGNO(00203) "upstream %s: %s (%s)%s%s%s%s",
            ctx->route.pass->url, h2gw_stream_fail_name(fail), reason,
            ctx->headers_sent ? ", response aborted" : "",
            begun ? ", after the upstream's response had begun (" : "",
            begun ? ctx->r->method : "",
            begun ? " not sent again)" : "");
    return h2gw_stream_fail_status(fail);
}

/*
 * Sends the request body, after the upstream's 100 when it was asked for
 * one. Returns DECLINED to go on with the response, else what the
 * handler returns: OK (the client went away, or the response was cut),
 * or an HTTP status (the body could not be read and nothing went out).
 */
static int send_body(h2gw_req_t *ctx)
{
    conn_rec *c = ctx->r->connection;
    apr_status_t rv;

    if (ctx->st->expect_continue) {
        rv = h2gw_body_await_continue(ctx);
        if (rv == APR_ECONNABORTED) {
            c->aborted = 1;
            return OK;
        }
        if (rv == APR_EOF) {
            /* Answered without the body: it is never read, so this
             * HTTP/1 connection cannot carry another request. */
            if (!c->master) {
                c->keepalive = AP_CONN_CLOSE;
            }
            return DECLINED;
        }
    }
    rv = h2gw_body_pump(ctx);
    if (rv == APR_ECONNABORTED && !c->master && !h2gw_body_drain(ctx)) {
        /* The upstream answered before taking the whole body: close
         * rather than read and discard an unbounded rest. */
        c->keepalive = AP_CONN_CLOSE;
    }
    if (rv != APR_SUCCESS && rv != APR_ECONNABORTED) {
        REQ_LOG(ctx, APLOG_INFO, rv, H2GW_LOGNO(00204) "%s",
                "reading the request body failed");
        if (!ctx->headers_sent) {
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        h2gw_response_abort(ctx);
        return OK;
    }
    return DECLINED;
}

/* The request's end once the response stopped moving (rv: APR_EOF
 * complete, APR_ECONNABORTED the client is gone, else the stream
 * failed). Returns what the handler returns. */
static int finish(h2gw_req_t *ctx, apr_status_t rv)
{
    switch (rv) {
    case APR_EOF:
        if (ctx->client_pipe && ctx->body_done) {
            h2gw_body_await_client_end(ctx);
        }
        return OK;
    case APR_ECONNABORTED:
        REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: client gone, stream %lu "
                "cancelled", ctx->st->id);
        ctx->r->connection->aborted = 1;
        return OK;
    default:
        if (!ctx->headers_sent) {
            return report_failure(ctx);
        }
        report_failure(ctx);
        if (!ctx->gw || h2gw_grpcweb_fail_body(ctx->gw, ctx->st)
                            != APR_SUCCESS) {
            h2gw_response_abort(ctx);
        }
        return OK;
    }
}

/* Submits the stream, sends the body, relays the response until it is
 * complete, failed or unwanted. Returns what the handler returns. */
static int proxy(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    apr_status_t rv;
    int http_status;

    ctx->submitted = apr_time_now();
    ctx->st->submitted_at = ctx->submitted;
    if (h2gw_engine_submit(ctx->engine, ctx->st) != APR_SUCCESS) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: stream %lu: %s %s submitted to %s%s",
            ctx->st->id, r->method, (const char *)ctx->st->nv[H2GW_NV_PATH].value,
            ctx->st->target.name,
            !ctx->st->has_body ? ""
            : ctx->st->expect_continue ? ", body after 100-continue"
                                       : ", body follows");
    if (ctx->st->has_body && (http_status = send_body(ctx)) != DECLINED) {
        return http_status;
    }
    for (;;) {
        rv = h2gw_response_relay_all(ctx);
        if (rv != APR_EAGAIN) {
            break;
        }
        rv = h2gw_wait_event(ctx, 0, 0, h2gw_response_next_wait(ctx), 0,
                             NULL);
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    return finish(ctx, rv);
}

/* The answer for an HTTP error status before anything went out: the
 * status itself, or for a gRPC-Web request a gRPC-Web error (never an
 * HTML page in a gRPC-Web body). */
static int gw_status(h2gw_req_t *ctx, int http_status)
{
    return ctx->gw ? h2gw_grpcweb_fail_headers(ctx->gw, NULL, http_status)
                   : http_status;
}

int h2gw_handler_run(request_rec *r)
{
    h2gw_req_t ctx;
    const h2gw_pass_t *pass;
    int http_status;

    if (!r->handler || strcmp(r->handler, H2GW_HANDLER)) {
        return DECLINED;
    }
    pass = ap_get_module_config(r->request_config, &h2gw_module);
    if (!pass) {
        return DECLINED;
    }
    if (r->method_number == M_CONNECT) {
        return HTTP_METHOD_NOT_ALLOWED;  /* never a tunnel to anywhere */
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.r = r;
    h2gw_config_route(r, pass, &ctx.route);
    http_status = h2gw_grpcweb_begin(r, &ctx.route, &ctx.gw);
    if (http_status != DECLINED) {
        return http_status;  /* a CORS preflight, answered */
    }
    ctx.engine = h2gw_engine_get();
    if (!ctx.engine) {
        REQ_LOG(&ctx, APLOG_ERR, 0, H2GW_LOGNO(00205) "%s",
                "engine not running in this process");
        return gw_status(&ctx, HTTP_SERVICE_UNAVAILABLE);
    }
    ctx.wake_fd = h2gw_wait_thread_fd();
    if (ctx.wake_fd < 0) {
        REQ_LOG(&ctx, APLOG_ERR, APR_FROM_OS_ERROR(errno), H2GW_LOGNO(00206)
                "%s", "no wake descriptor for this thread (eventfd)");
        return gw_status(&ctx, HTTP_SERVICE_UNAVAILABLE);
    }
    h2gw_wait_find_client(&ctx);
    ctx.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    http_status = build_stream(&ctx);
    if (http_status != OK) {
        return gw_status(&ctx, http_status);
    }
    http_status = proxy(&ctx);
    if (ctx.gw && http_status != OK && !ctx.headers_sent) {
        /* Its stream still tells why: a gRPC-Web error, no HTML page,
         * and a complete answer. */
        http_status = h2gw_grpcweb_fail_headers(ctx.gw, ctx.st, http_status);
        ctx.headers_sent = ctx.eos_sent = 1;
    }
    set_notes(&ctx);
    REQ_LOG(&ctx, APLOG_DEBUG, 0, "h2gw: stream %lu: done, %s, %" APR_OFF_T_FMT
            " body bytes out, %s ms, upstream stream %s on %s, %s retries",
            ctx.st->id, ctx.eos_sent ? "complete"
                        : ctx.headers_sent ? "aborted" : "no response",
            r->bytes_sent,
            apr_psprintf(r->pool, "%.1f",
                         (double)(apr_time_now() - ctx.submitted) / 1000.0),
            apr_table_get(r->notes, "h2gw-stream"),
            apr_table_get(r->notes, "h2gw-server")
                ? apr_table_get(r->notes, "h2gw-server") : "-",
            apr_table_get(r->notes, "h2gw-retries"));
    h2gw_engine_release(ctx.engine, ctx.st);
    if (http_status == OK && !ctx.headers_sent) {
        /* The client went away before any response (the stream was
         * cancelled): nothing reaches it, the access log shows 502. */
        return gw_status(&ctx, HTTP_BAD_GATEWAY);
    }
    return http_status;
}
