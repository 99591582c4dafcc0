/*
 * h2gw_session: the nghttp2 client session of an upstream connection, on
 * the engine thread: its setup and SETTINGS, the callbacks that turn
 * frames into stream state (response headers, DATA, trailers, resets,
 * GOAWAY), the request body's data provider, submitting streams, and
 * moving bytes between nghttp2 and the transport (mem_recv/mem_send, so
 * that TLS slots in below and a fuzzer can drive the session without a
 * socket). Response bytes are given back to the upstream
 * (nghttp2_session_consume) only when the handler reports them written to
 * the client: NGHTTP2_OPT_NO_AUTO_WINDOW_UPDATE ties flow control end to
 * end. The connection's life, timers and retries are h2gw_conn's.
 */
#include <string.h>

#include <apr_strings.h>

#include "mod_h2gw.h"
#include "h2gw_conn.h"
#include "h2gw_session.h"
#include "h2gw_transport.h"

APLOG_USE_MODULE(h2gw);

/* The result rv of an nghttp2 call: a fatal one (out of memory, a broken
 * session) ends the connection; any other (a stream nghttp2 closed
 * already) changes nothing. Returns 0 when the connection is to end. */
int h2gw_session_ok(h2gw_conn_t *conn, int rv, const char *what)
{
    if (rv < 0 && nghttp2_is_fatal(rv)) {
        CONN_LOG(conn, APLOG_ERR, 0, "%s: %s", what, nghttp2_strerror(rv));
        h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "nghttp2 call failed");
        return 0;
    }
    return 1;
}

/* Where the client's request trailers go, when the body ends with them. */
typedef struct trailer_ctx_t {
    nghttp2_session *ngh;
    int32_t stream_id;
} trailer_ctx_t;

/* The body ends with the client's trailers: a HEADERS frame carries
 * END_STREAM instead (nghttp2 copies the fields, which live in the
 * handler's pool: called under the stream's lock). Returns 1 when they
 * were submitted. */
static int send_trailers(void *data, const nghttp2_nv *nv, size_t nvlen)
{
    trailer_ctx_t *tc = data;

    return nghttp2_submit_trailer(tc->ngh, tc->stream_id, nv, nvlen) == 0;
}

static ssize_t read_req_body(nghttp2_session *ngh, int32_t stream_id,
                             uint8_t *buf, size_t length,
                             uint32_t *data_flags, nghttp2_data_source *src,
                             void *user_data)
{
    h2gw_stream_t *st = src->ptr;
    trailer_ctx_t tc;
    size_t n;
    int eof, trailers_sent;

    (void)buf;
    /* The bytes stay in the body buffer until send_req_data() copies
     * them out with their frame header. */
    tc.ngh = ngh;
    tc.stream_id = stream_id;
    n = h2gw_stream_body_next(st, length, &eof, send_trailers, &tc,
                              &trailers_sent);
    if (n > 0 || eof) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    }
    if (eof) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (trailers_sent) {
            /* The trailers' HEADERS frame carries END_STREAM. */
            *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
    }
    if (eof) {
        h2gw_conn_upload_done(user_data, st);
        h2gw_conn_touch_stream(st);
        return (ssize_t)n;
    }
    if (n == 0) {
        st->req_deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    h2gw_conn_touch_stream(st);
    return (ssize_t)n;
}

/* A DATA frame of request body (NGHTTP2_DATA_FLAG_NO_COPY): its header and
 * the bytes read_req_body() counted go to the output buffer. */
static int send_req_data(nghttp2_session *ngh, nghttp2_frame *frame,
                         const uint8_t *framehd, size_t length,
                         nghttp2_data_source *src, void *user_data)
{
    h2gw_conn_t *conn = user_data;
    h2gw_stream_t *st = src->ptr;
    size_t padlen = frame->data.padlen;
    size_t need = 9 + length + padlen;
    size_t n;
    int eof;

    (void)ngh;
    if (!h2gw_transport_out_room(conn, need, 0)) {
        conn->wfull = 1;
        return NGHTTP2_ERR_WOULDBLOCK;  /* called again once written */
    }
    memcpy(conn->wbuf + conn->wlen, framehd, 9);
    if (padlen > 0) {
        conn->wbuf[conn->wlen + 9] = (uint8_t)(padlen - 1);
    }
    n = h2gw_stream_get_body(st, conn->wbuf + conn->wlen + 9 + (padlen > 0),
                             length, &eof);
    if (n != length) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;  /* cannot happen */
    }
    if (padlen > 1) {
        memset(conn->wbuf + conn->wlen + 10 + length, 0, padlen - 1);
    }
    conn->wlen += need;
    return 0;
}

/* Appends a copy of one response field to arr (stream memory: only the
 * engine allocates from st->pool after submit). */
static void push_field(h2gw_stream_t *st, apr_array_header_t *arr,
                       const uint8_t *name, size_t namelen,
                       const uint8_t *value, size_t valuelen)
{
    h2gw_field_t *f = apr_array_push(arr);

    f->name = apr_pstrmemdup(st->pool, (const char *)name, namelen);
    f->value = apr_pstrmemdup(st->pool, (const char *)value, valuelen);
}

static int on_header(nghttp2_session *ngh, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    h2gw_conn_t *conn = user_data;
    h2gw_stream_t *st;
    int status;

    if (frame->hd.type != NGHTTP2_HEADERS) {
        return 0;
    }
    st = nghttp2_session_get_stream_user_data(ngh, frame->hd.stream_id);
    if (!st || st->handler_gone) {
        return 0;
    }
    /* RFC 9113 §6.5.2 counts 32 bytes of overhead per field; interim
     * responses and trailers count too, so no header flood of any kind
     * grows a stream's memory past the limit. */
    st->hdr_bytes += namelen + valuelen + 32;
    if (st->hdr_bytes > UPSTREAM(conn)->max_header_list) {
        CONN_LOG(conn, APLOG_WARNING, 0,
                 H2GW_LOGNO(00301) "stream %d: response headers over "
                                   "max-header-list (%u bytes)",
                 frame->hd.stream_id, UPSTREAM(conn)->max_header_list);
        h2gw_stream_fail(st, H2GW_FAIL_PROTOCOL,
                         "response header block too large");
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (h2gw_stream_got_headers(st)) {
        /* Trailers: the same rules as header fields, no pseudo-headers
         * (nghttp2 refuses those). The handler reads them once the stream
         * is closed. */
        switch (h2gw_headers_resp_class(name, namelen, value, valuelen)) {
        case H2GW_HDR_PASS:
            if (!st->resp_trailers) {
                st->resp_trailers = apr_array_make(st->pool, 4,
                                                   sizeof(h2gw_field_t));
            }
            push_field(st, st->resp_trailers, name, namelen, value,
                       valuelen);
            return 0;
        case H2GW_HDR_INVALID:
            CONN_LOG(conn, APLOG_WARNING, 0,
                     H2GW_LOGNO(00315) "stream %d: invalid response "
                                       "trailer '%.*s'",
                     frame->hd.stream_id, (int)namelen, name);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        default:
            return 0;
        }
    }
    switch (h2gw_headers_resp_class(name, namelen, value, valuelen)) {
    case H2GW_HDR_STATUS:
        status = h2gw_headers_parse_status(value, valuelen);
        if (status < 0) {
            CONN_LOG(conn, APLOG_WARNING, 0,
                     H2GW_LOGNO(00302) "stream %d: invalid :status "
                                       "'%.*s'",
                     frame->hd.stream_id, (int)valuelen, value);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        st->http_status = status;
        break;
    case H2GW_HDR_PASS:
        /* Only the engine allocates from st->pool after submit; the
         * handler reads resp_fields once resp_headers publishes them. */
        push_field(st, st->resp_fields, name, namelen, value, valuelen);
        break;
    case H2GW_HDR_DROP:
        break;
    case H2GW_HDR_INVALID:
        CONN_LOG(conn, APLOG_WARNING, 0,
                 H2GW_LOGNO(00303) "stream %d: invalid response "
                                   "header '%.*s'",
                 frame->hd.stream_id, (int)namelen, name);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

/* The handler of st is woken once the bytes in hand are processed (see
 * on_readable()): headers, body and end that arrive together reach
 * it together. */
static void signal_later(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    if (!st->signal_pending) {
        st->signal_pending = 1;
        st->signal_next = conn->to_signal;
        conn->to_signal = st;
    }
}

static void on_response_headers(h2gw_conn_t *conn, h2gw_stream_t *st,
                                const nghttp2_frame *frame)
{
    if (h2gw_stream_got_headers(st)) {
        return;  /* trailers */
    }
    if (st->http_status >= 100 && st->http_status < 200) {
        /* Interim response: handed to the handler to pass on (but 100,
         * which httpd sends itself for Expect, and 101, no upgrade here);
         * its fields do not belong to the final one. */
        if (st->http_status != 100 && st->http_status != 101
            && ++st->ninterim <= H2GW_STREAM_MAX_INTERIM) {
            h2gw_interim_t *im = apr_pcalloc(st->pool, sizeof(*im));

            im->status = st->http_status;
            im->fields = st->resp_fields;
            st->resp_fields = apr_array_make(st->pool, 16,
                                             sizeof(h2gw_field_t));
            h2gw_stream_on_interim(st, im);
            signal_later(conn, st);
        }
        else {
            apr_array_clear(st->resp_fields);
        }
        if (st->http_status == 100) {
            /* The upstream wants the body (Expect: 100-continue). */
            h2gw_stream_on_continue(st);
            signal_later(conn, st);
        }
        st->http_status = 0;
        h2gw_conn_touch_stream(st);
        return;
    }
    /* A response without body (gRPC's trailers-only answer) is complete
     * at once: the handler sees both in one look and passes them on
     * together. */
    if (h2gw_stream_on_headers(st, frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        && st->submitted_at) {
        h2gw_counters_observe(&conn->srv->c->header_time,
                              apr_time_now() - st->submitted_at);
    }
    signal_later(conn, st);
    h2gw_conn_touch_stream(st);
}

static void on_end_stream(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    h2gw_stream_on_end(st);
    signal_later(conn, st);
}

/* LogLevel h2gw:trace2: one line per frame received or sent. */
static void trace_frame(h2gw_conn_t *conn, const char *dir,
                        const nghttp2_frame *frame)
{
    static const char *const names[] = {
        "DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
        "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"
    };
    uint8_t f = frame->hd.flags;
    char extra[64] = "";

    if (!conn->loop->s || !APLOG_IS_LEVEL(conn->loop->s, APLOG_TRACE2)) {
        return;
    }
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        apr_snprintf(extra, sizeof(extra), " %s",
                     nghttp2_http2_strerror(frame->rst_stream.error_code));
    }
    else if (frame->hd.type == NGHTTP2_GOAWAY) {
        apr_snprintf(extra, sizeof(extra), " last %d %s",
                     frame->goaway.last_stream_id,
                     nghttp2_http2_strerror(frame->goaway.error_code));
    }
    else if (frame->hd.type == NGHTTP2_WINDOW_UPDATE) {
        apr_snprintf(extra, sizeof(extra), " +%d",
                     frame->window_update.window_size_increment);
    }
    CONN_LOG(conn, APLOG_TRACE2, 0, "%s %s stream %d len %u%s%s%s%s",
             dir, frame->hd.type < sizeof(names) / sizeof(names[0])
                      ? names[frame->hd.type] : "UNKNOWN",
             frame->hd.stream_id, (unsigned)frame->hd.length,
             (f & NGHTTP2_FLAG_END_STREAM)
                 && frame->hd.type != NGHTTP2_SETTINGS
                 && frame->hd.type != NGHTTP2_PING ? " END_STREAM" : "",
             (frame->hd.type == NGHTTP2_SETTINGS
              || frame->hd.type == NGHTTP2_PING) && (f & NGHTTP2_FLAG_ACK)
                 ? " ACK" : "",
             (f & NGHTTP2_FLAG_END_HEADERS)
                 && (frame->hd.type == NGHTTP2_HEADERS) ? " END_HEADERS" : "",
             extra);
}

static int on_begin_headers(nghttp2_session *ngh, const nghttp2_frame *frame,
                            void *user_data)
{
    h2gw_conn_t *conn = user_data;

    (void)ngh;
    conn->hdr_stream = frame->hd.stream_id;
    return 0;
}

static int on_frame_recv(nghttp2_session *ngh, const nghttp2_frame *frame,
                         void *user_data)
{
    h2gw_conn_t *conn = user_data;
    h2gw_stream_t *st = NULL;

    trace_frame(conn, "recv", frame);
    if (frame->hd.type == NGHTTP2_HEADERS) {
        conn->hdr_stream = 0;  /* the block decoded whole */
    }

    if (frame->hd.stream_id) {
        st = nghttp2_session_get_stream_user_data(ngh, frame->hd.stream_id);
    }
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (st) {
            on_response_headers(conn, st, frame);
            if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
                on_end_stream(conn, st);
            }
        }
        break;
    case NGHTTP2_DATA:
        if (st && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            on_end_stream(conn, st);
        }
        break;
    case NGHTTP2_RST_STREAM:
        ++conn->srv->c->resets_recv;
        if (st) {
            st->rst_recv = 1;
            st->rst_code = frame->rst_stream.error_code;
        }
        break;
    case NGHTTP2_GOAWAY:
        CONN_LOG(conn, APLOG_DEBUG, 0, "GOAWAY received, last stream %d, "
                 "error %s", frame->goaway.last_stream_id,
                 nghttp2_http2_strerror(frame->goaway.error_code));
        ++conn->srv->c->goaways_recv;
        conn->goaway_recv = 1;
        h2gw_conn_transit(conn, H2GW_CONN_ST_DRAINING, "GOAWAY received");
        /* Streams not yet sent go to another connection. */
        h2gw_session_submit_held(conn);
        break;
    case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
            conn->settings_acked = 1;
        }
        else if (!conn->peer_settings) {
            conn->peer_settings = 1;
            h2gw_conn_on_ready(conn);
        }
        break;
    case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && conn->ping_pending) {
            conn->ping_pending = 0;
            conn->ping_suspect = 0;
            conn->ping_deadline = 0;
            h2gw_session_submit_held(conn);
        }
        break;
    default:
        break;
    }
    return 0;
}

static int on_data_chunk_recv(nghttp2_session *ngh, uint8_t flags,
                              int32_t stream_id, const uint8_t *data,
                              size_t len, void *user_data)
{
    h2gw_conn_t *conn = user_data;
    h2gw_stream_t *st = nghttp2_session_get_stream_user_data(ngh, stream_id);
    apr_status_t rv;

    conn->srv->c->bytes_in += len;
    if (st && st->check && !st->handler_gone) {
        /* A health check's answer is read by the engine: the window goes
         * back at once, the first bytes are kept, nothing is queued. */
        size_t keep = H2GW_CHECK_BODY_KEEP - st->check_len;

        if (!h2gw_session_ok(conn, nghttp2_session_consume(ngh, stream_id, len),
                             "consume")) {
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        if (!st->check_body) {
            st->check_body = apr_palloc(st->pool, H2GW_CHECK_BODY_KEEP);
        }
        memcpy(st->check_body + st->check_len, data, len < keep ? len : keep);
        st->check_len += len < keep ? len : keep;
        h2gw_conn_touch_stream(st);
        return 0;
    }
    if (!st || st->handler_gone) {
        /* Nobody will read it: give the window back at once. */
        return h2gw_session_ok(conn,
                               nghttp2_session_consume(ngh, stream_id, len),
                               "consume")
                   ? 0
                   : NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    /* After a failure the client gets an aborted response; what follows
     * must not reach it (APR_EGENERAL). */
    rv = h2gw_stream_put_data(st, data, len);
    if (rv == APR_SUCCESS) {
        signal_later(conn, st);
    }
    if (rv != APR_SUCCESS) {
        if (!h2gw_session_ok(conn, nghttp2_session_consume(ngh, stream_id, len),
                             "consume")) {
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        if (rv == APR_ENOMEM) {
            h2gw_stream_fail(st, H2GW_FAIL_INTERNAL, "out of memory");
            if (!h2gw_session_ok(
                    conn,
                    nghttp2_submit_rst_stream(ngh, NGHTTP2_FLAG_NONE, stream_id,
                                              NGHTTP2_INTERNAL_ERROR),
                    "RST_STREAM")) {
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            }
        }
        return 0;
    }
    h2gw_conn_touch_stream(st);
    return 0;
}

static int on_stream_close(nghttp2_session *ngh, int32_t stream_id,
                           uint32_t error_code, void *user_data)
{
    h2gw_conn_t *conn = user_data;
    h2gw_stream_t *st = nghttp2_session_get_stream_user_data(ngh, stream_id);

    if (!st) {
        return 0;
    }
    /* REFUSED_STREAM: by RST_STREAM, or nghttp2 closing the streams above
     * a GOAWAY's last-stream-id (RFC 9113 §6.8). */
    if (error_code == NGHTTP2_REFUSED_STREAM && h2gw_conn_can_retry(st, 0)) {
        h2gw_conn_retry_stream(conn, st, "not processed (REFUSED_STREAM)");
        return 0;
    }
    if (st->rst_recv && error_code != NGHTTP2_REFUSED_STREAM
        && h2gw_conn_can_retry(st, 1)) {
        h2gw_conn_retry_stream(
            conn, st,
            apr_psprintf(conn->pool,
                         "reset by the "
                         "upstream (%s), and idempotent",
                         nghttp2_http2_strerror(st->rst_code)));
        return 0;
    }
    if (error_code == NGHTTP2_REFUSED_STREAM) {
        h2gw_stream_fail(st, H2GW_FAIL_REFUSED, "REFUSED_STREAM");
    }
    else if (st->rst_recv) {
        h2gw_stream_fail(st, H2GW_FAIL_RESET,
                    nghttp2_http2_strerror(st->rst_code));
    }
    else if (error_code != NGHTTP2_NO_ERROR) {
        /* nghttp2 reset it for us: the upstream broke HTTP/2 or HTTP
         * semantics on this stream (e.g. more DATA than content-length,
         * RFC 9113 §8.1.1). */
        h2gw_stream_fail(st, H2GW_FAIL_PROTOCOL,
                    apr_psprintf(st->pool, "stream error %s",
                                 nghttp2_http2_strerror(error_code)));
    }
    else {
        /* Closed without error but without a complete response (e.g. the
         * session tore it down): a failure, never a clean end. */
        h2gw_stream_fail(st, H2GW_FAIL_CONN_LOST, "stream closed early");
    }
    h2gw_stream_on_engine_closed(st);
    h2gw_conn_stream_inactive(conn, st);
    if (st->handler_gone) {
        h2gw_conn_release_stream(conn, st);
    }
    return 0;
}

static int on_invalid_frame_recv(nghttp2_session *ngh,
                                 const nghttp2_frame *frame, int lib_error,
                                 void *user_data)
{
    h2gw_conn_t *conn = user_data;
    h2gw_stream_t *st;

    CONN_LOG(conn, APLOG_WARNING, 0,
             H2GW_LOGNO(00304) "invalid frame (type %d) on stream "
                               "%d: %s",
             frame->hd.type, frame->hd.stream_id, nghttp2_strerror(lib_error));
    if (frame->hd.stream_id) {
        st = nghttp2_session_get_stream_user_data(ngh, frame->hd.stream_id);
        if (st) {
            h2gw_stream_fail(st, H2GW_FAIL_PROTOCOL,
                        apr_psprintf(st->pool, "invalid frame from upstream: "
                                     "%s", nghttp2_strerror(lib_error)));
        }
    }
    return 0;
}

/* A copy of s fit for a log line: bytes outside printable ASCII become
 * '?' (the upstream chose some of them). */
static const char *printable(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s), *c;

    for (c = out; *c; ++c) {
        if (*c < 0x20 || *c > 0x7e) {
            *c = '?';
        }
    }
    return out;
}

static int on_frame_send(nghttp2_session *ngh, const nghttp2_frame *frame,
                         void *user_data)
{
    h2gw_conn_t *conn = user_data;
    h2gw_stream_t *st;

    trace_frame(conn, "send", frame);
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        ++conn->srv->c->resets_sent;
    }
    else if (frame->hd.type == NGHTTP2_GOAWAY
             && frame->goaway.error_code != NGHTTP2_NO_ERROR
             && !conn->protocol_error) {
        /* nghttp2 found a connection error in what the upstream sent. */
        /* nghttp2 puts its reason in the GOAWAY's debug data. */
        const char *why = conn->lib_error[0] ? conn->lib_error : NULL;

        if (!why && frame->goaway.opaque_data_len) {
            why = apr_pstrmemdup(conn->pool,
                                 (const char *)frame->goaway.opaque_data,
                                 frame->goaway.opaque_data_len > 200
                                     ? 200
                                     : frame->goaway.opaque_data_len);
        }
        conn->protocol_error = apr_psprintf(
            conn->pool, "GOAWAY %s sent: %s",
            nghttp2_http2_strerror(frame->goaway.error_code),
            why ? printable(conn->pool, why) : "connection error");
        CONN_LOG(conn, APLOG_WARNING, 0,
                 H2GW_LOGNO(00314) "upstream broke HTTP/2: %s",
                 conn->protocol_error);
    }
    else if (frame->hd.type == NGHTTP2_DATA) {
        conn->srv->c->bytes_out += frame->hd.length;
    }
    else if (frame->hd.type == NGHTTP2_HEADERS) {
        st = nghttp2_session_get_stream_user_data(ngh, frame->hd.stream_id);
        if (st) {
            st->sent_headers = 1;
        }
    }
    return 0;
}

static int on_error(nghttp2_session *ngh, int lib_error_code,
                    const char *msg, size_t len, void *user_data)
{
    h2gw_conn_t *conn = user_data;

    CONN_LOG(conn, APLOG_DEBUG, 0, "nghttp2: %.*s", (int)len, msg);
    /* Kept: when nghttp2 ends the connection over it, this says why. */
    apr_snprintf(conn->lib_error, sizeof(conn->lib_error), "%.*s",
                 (int)(len < sizeof(conn->lib_error) - 1
                           ? len : sizeof(conn->lib_error) - 1), msg);
    return 0;
}

apr_status_t h2gw_session_create(h2gw_conn_t *conn)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    nghttp2_settings_entry settings[6];
    const h2gw_upstream_t *up = UPSTREAM(conn);
    int ngrv;

    if (nghttp2_session_callbacks_new(&cbs)) {
        return APR_ENOMEM;
    }
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
                                                           on_stream_close);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
        cbs, on_invalid_frame_recv);
    nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_send_data_callback(cbs, send_req_data);
    if (nghttp2_option_new(&opt)) {
        nghttp2_session_callbacks_del(cbs);
        return APR_ENOMEM;
    }
    /* Windows open only as the client drains: see the file comment. */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_peer_max_concurrent_streams(
        opt, H2GW_CONN_ASSUMED_MAX_STREAMS);
    ngrv = nghttp2_session_client_new2(&conn->ngh, cbs, conn, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    if (ngrv) {
        return APR_ENOMEM;
    }
    settings[0].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
    settings[0].value = 0;
    settings[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    settings[1].value = (uint32_t)up->stream_window;
    /* We accept no pushed streams, so the peer may open none. */
    settings[2].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    settings[2].value = 0;
    settings[3].settings_id = NGHTTP2_SETTINGS_MAX_FRAME_SIZE;
    settings[3].value = up->max_frame_size;
    settings[4].settings_id = NGHTTP2_SETTINGS_HEADER_TABLE_SIZE;
    settings[4].value = up->header_table_size;
    settings[5].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
    settings[5].value = up->max_header_list;
    if ((ngrv = nghttp2_submit_settings(conn->ngh, NGHTTP2_FLAG_NONE,
                                        settings, 6))
        || (ngrv = nghttp2_session_set_local_window_size(
                conn->ngh, NGHTTP2_FLAG_NONE, 0, up->conn_window))) {
        CONN_LOG(conn, APLOG_ERR, 0,
                 H2GW_LOGNO(00305) "session setup failed: %s",
                 nghttp2_strerror(ngrv));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

void h2gw_session_submit(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    nghttp2_data_provider prd;
    int32_t id;

    /* :scheme follows the transport to the server picked. */
    st->nv[H2GW_NV_SCHEME].value =
        (uint8_t *)(conn->srv->conf->tls ? "https" : "http");
    st->nv[H2GW_NV_SCHEME].valuelen = conn->srv->conf->tls ? 5 : 4;
    if (st->server_authority) {
        /* :authority names the server picked, nghttp2 copies it. */
        st->nv[H2GW_NV_AUTHORITY].value =
            (uint8_t *)conn->srv->conf->authority;
        st->nv[H2GW_NV_AUTHORITY].valuelen =
            strlen(conn->srv->conf->authority);
    }
    prd.source.ptr = st;
    prd.read_callback = read_req_body;
    id = nghttp2_submit_request(conn->ngh, NULL, st->nv, st->nvlen,
                                st->has_body ? &prd : NULL, st);
    if (id < 0) {
        CONN_LOG(conn, APLOG_ERR, 0, H2GW_LOGNO(00306) "submit failed: %s",
                 nghttp2_strerror(id));
        h2gw_stream_fail(st, H2GW_FAIL_INTERNAL, "nghttp2 submit failed");
        h2gw_conn_stream_inactive(conn, st);
        h2gw_conn_release_stream(conn, st);
        return;
    }
    if (!st->check) {
        ++conn->srv->c->requests;  /* (checks are counted apart) */
    }
    st->stream_id = id;
    st->ngh_open = 1;
    /* Timed from here: waiting for the connection is not the upstream's
     * response time. */
    st->deadline = apr_time_now() + st->target.timeout;
    h2gw_loop_timer(conn->loop, st->deadline);
    h2gw_stream_on_submit(st, conn->id, conn->srv->conf->url, id);
    ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, conn->loop->s,
                 "h2gw conn %lu: stream %lu submitted as %d", conn->id,
                 st->id, id);
}

/* Submits the streams that waited for the session to become ready, up to
 * the stream limit; the rest go back to the pool. */
void h2gw_session_submit_held(h2gw_conn_t *conn)
{
    h2gw_stream_t *st, *next;
    uint32_t limit = h2gw_conn_stream_limit(conn), open = 0;

    if (!h2gw_conn_is_ready(conn)) {
        return;
    }
    for (st = conn->streams; st; st = st->conn_next) {
        if (st->stream_id != 0 && st->ngh_open) {
            ++open;
        }
    }
    for (st = conn->streams; st; st = next) {
        next = st->conn_next;
        if (st->stream_id != 0) {
            continue;
        }
        /* (The engine, the state's only writer now, reads it unlocked.) */
        if (h2gw_stream_is_final(st) || st->handler_gone) {
            /* Timed out or abandoned while it waited: the request must
             * never reach the upstream. */
            h2gw_conn_stream_inactive(conn, st);
            h2gw_conn_release_stream(conn, st);
            continue;
        }
        if (open >= limit || conn->goaway_recv) {
            /* Over the peer's limit, or the peer said GOAWAY: elsewhere.
             * (Draining from our side keeps what it already took.) */
            h2gw_conn_give_back(conn, st);
            continue;
        }
        h2gw_session_submit(conn, st);
        ++open;
    }
}

/* Wakes the handlers of the streams given something since the last
 * time: once per batch of bytes read, not once per frame. */
void h2gw_session_wake_handlers(h2gw_conn_t *conn)
{
    while (conn->to_signal) {
        h2gw_stream_t *st = conn->to_signal;

        conn->to_signal = st->signal_next;
        st->signal_pending = 0;
        h2gw_stream_wake(st);
    }
}

/* Feeds bytes from the upstream to the session; the handlers are woken
 * by the caller. */
void h2gw_session_recv(h2gw_conn_t *conn, const uint8_t *data, size_t len)
{
    ssize_t ngrv;

    if (h2gw_conn_is_dead(conn) || !conn->ngh || len == 0) {
        return;
    }
    conn->last_recv = apr_time_now();
    ngrv = nghttp2_session_mem_recv(conn->ngh, data, len);
    if (ngrv < 0) {
        CONN_LOG(conn, APLOG_WARNING, 0, H2GW_LOGNO(00308) "protocol error: %s",
                 nghttp2_strerror((int)ngrv));
        h2gw_conn_kill(conn, H2GW_FAIL_PROTOCOL,
                       apr_psprintf(conn->pool, "upstream protocol error: %s",
                                    nghttp2_strerror((int)ngrv)));
    }
}

int h2gw_session_send(h2gw_conn_t *conn)
{
    for (;;) {
        int more = 1;
        apr_status_t rv;

        /* Gather frames, then write them at once. */
        while (conn->wlen - conn->woff < H2GW_CONN_WBUF_FILL) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(conn->ngh, &data);

            if (n < 0) {
                CONN_LOG(conn, APLOG_ERR, 0, H2GW_LOGNO(00310) "mem_send: %s",
                         nghttp2_strerror((int)n));
                h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "nghttp2 error");
                return -1;
            }
            if (n == 0) {
                /* Nothing more, or a DATA frame waits for room. */
                more = conn->wfull;
                conn->wfull = 0;
                break;
            }
            h2gw_transport_out_room(conn, (size_t)n, 1);
            memcpy(conn->wbuf + conn->wlen, data, (size_t)n);
            conn->wlen += (size_t)n;
        }
        if (conn->wlen == conn->woff) {
            conn->woff = conn->wlen = 0;
        }
        else {
            rv = h2gw_transport_write(conn);
            if (APR_STATUS_IS_EAGAIN(rv)) {
                return 1;
            }
            if (rv != APR_SUCCESS) {
                return -1;
            }
        }
        if (!more) {
            break;
        }
    }
    return 0;
}
