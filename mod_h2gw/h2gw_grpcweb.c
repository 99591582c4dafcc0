/*
 * h2gw_grpcweb: the gRPC-Web gateway's httpd side (see the header): which
 * requests it takes, CORS, the fields each way, and the buckets of the
 * response body. The bytes themselves go through h2gw_grpcweb_codec.
 */
#include <stddef.h>

#include "mod_h2gw.h"

#include <apr_strings.h>
#include <http_protocol.h>
#include <util_filter.h>

#include "h2gw_grpcweb.h"
#include "h2gw_grpcweb_codec.h"

APLOG_USE_MODULE(h2gw);

/* How long a browser may keep a preflight's answer (seconds): the pass's
 * CORS policy changes only with the configuration. */
#define PREFLIGHT_MAX_AGE "600"

/* gRPC's own response fields a browser script needs to read from the
 * headers (a trailers-only answer carries its status there). */
#define EXPOSE_GRPC "grpc-status, grpc-message, grpc-status-details-bin"

struct h2gw_grpcweb_t {
    request_rec *r;
    const h2gw_route_t *route;
    int text_in;               /* the request body is base64 (-text) */
    const char *suffix;        /* the request type's "+suffix", or "" */
    const char *origin;        /* the request's Origin when the pass
                                * allows it, else NULL */
    int any_origin;            /* ... allowed as "*" */
    h2gw_b64dec_t dec;         /* -text request body */
    unsigned char *scratch;    /* decoded request bytes (r->pool) */
    apr_size_t scratch_cap;
    h2gw_grpcweb_out_t out;    /* response framing; out.text: -text */
    int trailers_only;         /* the status came in the headers */
};

/* The request's Origin when the pass's grpc-web-origins= allows it. */
static const char *allowed_origin(request_rec *r, const h2gw_route_t *route,
                                  int *any)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const apr_array_header_t *list = route->grpc_web_origins;
    int i;

    *any = 0;
    if (!origin || !list) {
        return NULL;
    }
    for (i = 0; i < list->nelts; ++i) {
        const char *o = APR_ARRAY_IDX(list, i, const char *);

        if (!strcmp(o, "*")) {
            *any = 1;
            return origin;
        }
        /* RFC 6454 §6.1: scheme and host in lowercase; compared so. */
        if (!strcasecmp(o, origin)) {
            return origin;
        }
    }
    return NULL;
}

/* The CORS fields of an answer to an allowed origin (a preflight's or a
 * call's). A listed origin may send credentials (cookies, Authorization:
 * PROTOCOL-WEB.md's "CORS preflight"); "*" lets any page call, without
 * them. */
static void cors_fields(h2gw_grpcweb_t *gw, apr_table_t *t)
{
    if (!gw->origin) {
        return;
    }
    if (gw->any_origin) {
        apr_table_setn(t, "Access-Control-Allow-Origin", "*");
    }
    else {
        apr_table_set(t, "Access-Control-Allow-Origin", gw->origin);
        apr_table_setn(t, "Access-Control-Allow-Credentials", "true");
        apr_table_mergen(t, "Vary", "Origin");
    }
}

/* The CORS fields of a call's answer: those of cors_fields() and the
 * response fields a script may read, gRPC's own and grpc-web-expose=. */
static void cors_answer(h2gw_grpcweb_t *gw)
{
    request_rec *r = gw->r;

    if (!gw->origin) {
        return;
    }
    cors_fields(gw, r->headers_out);
    apr_table_setn(r->headers_out, "Access-Control-Expose-Headers",
                   gw->route->grpc_web_expose
                       ? apr_pstrcat(r->pool, EXPOSE_GRPC, ", ",
                                     gw->route->grpc_web_expose, NULL)
                       : EXPOSE_GRPC);
}

/* Answers a CORS preflight for an allowed origin: 204, the methods
 * gRPC-Web uses, and the request fields the browser asked for. */
static int answer_preflight(h2gw_grpcweb_t *gw)
{
    request_rec *r = gw->r;
    const char *want = apr_table_get(r->headers_in,
                                     "Access-Control-Request-Headers");
    apr_bucket_brigade *bb;

    cors_fields(gw, r->headers_out);
    apr_table_setn(r->headers_out, "Access-Control-Allow-Methods",
                   "POST, OPTIONS");
    if (want) {
        apr_table_set(r->headers_out, "Access-Control-Allow-Headers", want);
    }
    apr_table_setn(r->headers_out, "Access-Control-Max-Age",
                   PREFLIGHT_MAX_AGE);
    r->status = HTTP_NO_CONTENT;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "h2gw: gRPC-Web CORS "
                  "preflight from %s answered", gw->origin);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(
                                    r->connection->bucket_alloc));
    ap_pass_brigade(r->output_filters, bb);
    return OK;
}

int h2gw_grpcweb_begin(request_rec *r, const h2gw_route_t *route,
                       h2gw_grpcweb_t **pgw)
{
    h2gw_grpcweb_t *gw;
    const char *suffix, *accept;
    size_t slen;
    int text;

    *pgw = NULL;
    if (!route->grpc_web) {
        return DECLINED;
    }
    if (r->method_number == M_OPTIONS && route->grpc_web_origins
        && apr_table_get(r->headers_in, "Origin")
        && apr_table_get(r->headers_in, "Access-Control-Request-Method")) {
        gw = apr_pcalloc(r->pool, sizeof(*gw));
        gw->r = r;
        gw->route = route;
        gw->origin = allowed_origin(r, route, &gw->any_origin);
        if (!gw->origin) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, H2GW_LOGNO(00801)
                          "gRPC-Web CORS preflight from origin %s refused "
                          "(not in grpc-web-origins=)",
                          apr_table_get(r->headers_in, "Origin"));
            return HTTP_FORBIDDEN;
        }
        return answer_preflight(gw);
    }
    if (!h2gw_grpcweb_codec_content_type(
            apr_table_get(r->headers_in, "Content-Type"), &text, &suffix,
            &slen)) {
        return DECLINED;  /* plain gRPC, or anything else: as it is */
    }
    gw = apr_pcalloc(r->pool, sizeof(*gw));
    gw->r = r;
    gw->route = route;
    gw->text_in = text;
    gw->suffix = apr_pstrmemdup(r->pool, suffix, slen);
    gw->origin = allowed_origin(r, route, &gw->any_origin);
    /* PROTOCOL-WEB.md: a client asks for a text response with Accept; a
     * client that sends text reads text. */
    accept = apr_table_get(r->headers_in, "Accept");
    gw->out.text = text
                   || (accept && ap_strcasestr(accept,
                                               "application/grpc-web-text"));
    *pgw = gw;
    return DECLINED;
}

void h2gw_grpcweb_request_fields(h2gw_grpcweb_t *gw, apr_table_t *fields)
{
    apr_table_set(fields, "Content-Type",
                  apr_pstrcat(gw->r->pool, "application/grpc", gw->suffix,
                              NULL));
    /* gRPC over HTTP/2 requires it (PROTOCOL-HTTP2.md: "TE → te
     * trailers"); hop-by-hop removal keeps exactly this value. */
    apr_table_setn(fields, "TE", "trailers");
    /* The marker of the gRPC-Web hop; the gRPC call has none. */
    apr_table_unset(fields, "X-Grpc-Web");
    if (gw->text_in) {
        apr_table_unset(fields, "Content-Length");
    }
}

apr_status_t h2gw_grpcweb_body(h2gw_grpcweb_t *gw, const char **data,
                               apr_size_t *len)
{
    apr_size_t need, got;
    apr_status_t rv;

    if (!gw->text_in || *len == 0) {
        return APR_SUCCESS;
    }
    /* Sized by the largest piece the input filters hand over (they are
     * asked for 64 KiB at a time), kept for the next ones. */
    need = H2GW_B64_DECODED_MAX(*len);
    if (need > gw->scratch_cap) {
        gw->scratch = apr_palloc(gw->r->pool, need);
        gw->scratch_cap = need;
    }
    rv = h2gw_grpcweb_codec_b64_decode(&gw->dec, *data, *len, gw->scratch,
                                       &got);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, gw->r, H2GW_LOGNO(00802)
                      "%s", "gRPC-Web text request body is no base64");
        return rv;
    }
    *data = (const char *)gw->scratch;
    *len = got;
    return APR_SUCCESS;
}

apr_status_t h2gw_grpcweb_body_end(h2gw_grpcweb_t *gw)
{
    if (gw->text_in && h2gw_grpcweb_codec_b64_finish(&gw->dec)
                           != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, gw->r, H2GW_LOGNO(00803)
                      "%s", "gRPC-Web text request body ends inside a "
                      "base64 quantum");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* The gRPC-Web content type of the answer: text as asked, the
 * upstream's suffix (or the request's). */
static const char *answer_type(h2gw_grpcweb_t *gw, const char *sfx,
                               size_t slen)
{
    return apr_pstrcat(gw->r->pool, "application/grpc-web",
                       gw->out.text ? "-text" : "",
                       slen ? apr_pstrmemdup(gw->r->pool, sfx, slen)
                            : gw->suffix, NULL);
}

/* Makes r a trailers-only gRPC-Web answer: 200, status and message in
 * the headers, the CORS fields, no body. The fields of a non-gRPC answer
 * go; err_headers_out (the administrator's "Header always") stays. */
static void error_headers(h2gw_grpcweb_t *gw, int status, const char *msg)
{
    request_rec *r = gw->r;

    r->status = HTTP_OK;
    r->status_line = NULL;
    apr_table_clear(r->headers_out);
    ap_set_content_type(r, answer_type(gw, NULL, 0));
    apr_table_setn(r->headers_out, "grpc-status",
                   apr_psprintf(r->pool, "%d", status));
    apr_table_setn(r->headers_out, "grpc-message",
                   h2gw_grpcweb_codec_message(r->pool, msg));
    cors_answer(gw);
    gw->trailers_only = 1;
}

int h2gw_grpcweb_response(h2gw_grpcweb_t *gw)
{
    request_rec *r = gw->r;
    const char *sfx;
    size_t slen;

    if (r->status != HTTP_OK
        || !h2gw_grpcweb_codec_is_grpc(r->content_type, &sfx, &slen)) {
        int http_status = r->status;
        int status = http_status == HTTP_OK
                         ? H2GW_GRPC_UNKNOWN
                         : h2gw_grpcweb_codec_status_from_http(http_status);

        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, H2GW_LOGNO(00804)
                      "gRPC-Web: upstream answered %d %s, not gRPC: "
                      "grpc-status %d", http_status,
                      r->content_type ? r->content_type : "(no type)",
                      status);
        error_headers(gw, status, apr_psprintf(
                                      r->pool, "upstream answered HTTP %d, "
                                      "not gRPC", http_status));
        return 1;
    }
    ap_set_content_type(r, answer_type(gw, sfx, slen));
    /* The body changes length (a trailer frame, base64). */
    apr_table_unset(r->headers_out, "Content-Length");
    gw->trailers_only = apr_table_get(r->headers_out, "grpc-status") != NULL;
    cors_answer(gw);
    return 0;
}

static void chunk_free(void *data)
{
    h2gw_chunk_free((h2gw_chunk_t *)((char *)data
                                     - offsetof(h2gw_chunk_t, data)));
}

/* The trailer frame after the last message. */
static void add_trailer(h2gw_grpcweb_t *gw, apr_bucket_brigade *bb,
                        const apr_array_header_t *t, int status,
                        const char *msg)
{
    apr_size_t len;
    char *frame = h2gw_grpcweb_codec_trailer(
        gw->r->pool, &gw->out,
        t ? (const h2gw_field_t *)t->elts : NULL, t ? (size_t)t->nelts : 0,
        status, msg ? h2gw_grpcweb_codec_message(gw->r->pool, msg) : NULL,
        &len);

    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(frame, len,
                                                       gw->r->pool,
                                                       bb->bucket_alloc));
}

void h2gw_grpcweb_data(h2gw_grpcweb_t *gw, apr_bucket_brigade *bb,
                       h2gw_chunk_t *head, h2gw_stream_t *st)
{
    apr_bucket_alloc_t *ba = bb->bucket_alloc;

    while (head) {
        h2gw_chunk_t *next = head->next;
        apr_size_t n;

        if (!gw->out.text) {
            h2gw_grpcweb_codec_out(&gw->out, (unsigned char *)head->data,
                                   head->len, NULL, &n);
            /* The bucket owns the chunk from here: no copy. */
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(
                                            head->data, head->len,
                                            chunk_free, ba));
        }
        else {
            char *enc = apr_bucket_alloc(
                H2GW_GRPCWEB_ENCODED_MAX(head->len), ba);

            h2gw_grpcweb_codec_out(&gw->out, (unsigned char *)head->data,
                                   head->len, enc, &n);
            h2gw_chunk_free(head);
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(
                                            enc, n, apr_bucket_free, ba));
        }
        head = next;
    }
    if (st && !gw->trailers_only) {
        const apr_array_header_t *t;

        t = h2gw_stream_trailers(st);
        /* Without grpc-status the call's outcome is unknown
         * (PROTOCOL-HTTP2.md): the client must not take it for OK. */
        add_trailer(gw, bb, t, H2GW_GRPC_INTERNAL,
                    "upstream response ended without grpc-status");
    }
}

/* The failure's gRPC status and a message naming the upstream. */
static int fail_status(h2gw_grpcweb_t *gw, h2gw_stream_t *st,
                       const char **msg)
{
    uint32_t rst;
    const char *reason;
    h2gw_fail_t fail = h2gw_stream_failure(st, gw->r->pool, &reason, &rst);

    if (fail == H2GW_FAIL_NONE) {
        return -1;
    }
    if (!reason) {
        reason = "unknown";
    }
    *msg = apr_psprintf(gw->r->pool, "upstream %s: %s (%s)", st->target.name,
                        h2gw_stream_fail_name(fail), reason);
    return h2gw_grpcweb_codec_status_from_fail(fail, rst);
}

apr_status_t h2gw_grpcweb_fail_body(h2gw_grpcweb_t *gw, h2gw_stream_t *st)
{
    request_rec *r = gw->r;
    apr_bucket_brigade *bb;
    const char *msg = NULL;
    int status;

    if (gw->trailers_only || !h2gw_grpcweb_codec_out_at_boundary(&gw->out)) {
        return APR_EGENERAL;  /* inside a message: only an abort tells */
    }
    status = fail_status(gw, st, &msg);
    if (status < 0) {
        status = H2GW_GRPC_INTERNAL;
        msg = "upstream response failed";
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    add_trailer(gw, bb, NULL, status, msg);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "h2gw: gRPC-Web response "
                  "ended with grpc-status %d (%s)", status, msg);
    ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    return APR_SUCCESS;
}

int h2gw_grpcweb_fail_headers(h2gw_grpcweb_t *gw, h2gw_stream_t *st,
                              int http_status)
{
    request_rec *r = gw->r;
    apr_bucket_brigade *bb;
    const char *msg = NULL;
    int status = st ? fail_status(gw, st, &msg) : -1;

    if (status < 0) {
        status = h2gw_grpcweb_codec_status_from_http(http_status);
        msg = apr_psprintf(r->pool, "gateway: HTTP %d (%s)", http_status,
                           ap_get_status_line(http_status));
    }
    error_headers(gw, status, msg);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "h2gw: gRPC-Web error "
                  "answer, grpc-status %d (%s)", status, msg);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
    ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    return OK;
}
