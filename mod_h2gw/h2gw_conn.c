/*
 * h2gw_conn: an upstream HTTP/2 connection on the engine thread. Bytes
 * move through nghttp2_session_mem_recv/mem_send so the transport stays
 * apart from the session (TLS slots in below, a fuzzer can drive the
 * session without a socket). Response bytes are given back to the upstream
 * (nghttp2_session_consume) only when the handler reports them written to
 * the client: NGHTTP2_OPT_NO_AUTO_WINDOW_UPDATE ties flow control end to
 * end.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <apr_strings.h>
#include <apr_portable.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "mod_h2gw.h"
#include "h2gw_conn.h"

APLOG_USE_MODULE(h2gw);

/* Bytes read from the socket per call; one read hands nghttp2 a batch. */
#define READ_CHUNK (256 * 1024)
/* Below this much of the upstream's connection window, uploads on a
 * connection are held back by it (one default-size DATA frame). */
#define H2GW_SEND_WINDOW_LOW 16384
/* Most bytes read per poll event, so one busy connection cannot starve
 * the others on the engine thread. */
#define READ_BUDGET (1024 * 1024)

/* "h2gw conn 7 (api h2c://10.0.0.1:8080): ..." for a named upstream,
 * "h2gw conn 7 (h2c://10.0.0.1:8080/): ..." for a pass's own. */
#define CONN_LOG(conn, lvl, rv, fmt, ...)                                    \
    ap_log_error(APLOG_MARK, lvl, rv, (conn)->loop->s,                       \
                 "h2gw conn %lu (%s%s%s): " fmt, (conn)->id,                 \
                 UPSTREAM(conn)->named ? UPSTREAM(conn)->name : "",          \
                 UPSTREAM(conn)->named ? " " : "", (conn)->srv->conf->url,   \
                 __VA_ARGS__)

#define UPSTREAM(conn) ((conn)->srv->pool->up)

static apr_status_t set_events(h2gw_conn_t *conn, apr_int16_t events)
{
    apr_status_t rv;

    if (conn->pfd.reqevents == events) {
        return APR_SUCCESS;
    }
    apr_pollset_remove(conn->loop->pollset, &conn->pfd);
    conn->pfd.reqevents = events;
    rv = apr_pollset_add(conn->loop->pollset, &conn->pfd);
    return rv;
}

static void link_stream(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    st->conn = conn;
    st->conn_prev = NULL;
    st->conn_next = conn->streams;
    if (conn->streams) {
        conn->streams->conn_prev = st;
    }
    conn->streams = st;
}

static void unlink_stream(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    if (st->signal_pending) {
        h2gw_stream_t **pp = &conn->to_signal;

        while (*pp != st) {
            pp = &(*pp)->signal_next;
        }
        *pp = st->signal_next;
        st->signal_pending = 0;
        /* Whoever takes it over wakes its handler: do it now. */
        apr_thread_mutex_lock(st->lock);
        h2gw_stream_wake_locked(st);
        apr_thread_mutex_unlock(st->lock);
    }
    if (st->conn_prev) {
        st->conn_prev->conn_next = st->conn_next;
    }
    else {
        conn->streams = st->conn_next;
    }
    if (st->conn_next) {
        st->conn_next->conn_prev = st->conn_prev;
    }
    st->conn = NULL;
    st->conn_prev = st->conn_next = NULL;
}

/* Unlinks st and drops the engine's reference: st may be freed. */
static void release_stream(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    unlink_stream(conn, st);
    if (st->engine_ref) {
        st->engine_ref = 0;
        h2gw_stream_unref(st);
    }
}

/* The stream no longer occupies a slot of the connection. */
static void stream_inactive(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    if (st->active) {
        st->active = 0;
        --conn->nactive;
        --conn->srv->nstreams;
        conn->srv->g->streams_active = conn->srv->nstreams;
        if (conn->nactive == 0) {
            conn->idle_since = apr_time_now();
            h2gw_loop_timer(conn->loop, conn->idle_since
                                            + UPSTREAM(conn)->idle_timeout);
        }
    }
    st->ngh_open = 0;
    st->deadline = 0;
}

/* The stream made progress (body bytes sent, headers or DATA received,
 * the client drained some): the upstream gets another full timeout, the
 * header timeout before the response, the read timeout within it. */
static void touch_stream(h2gw_stream_t *st)
{
    if (st->deadline) {
        st->deadline = apr_time_now() + (st->resp_headers
                                             ? st->target.read_timeout
                                             : st->target.timeout);
        /* The read timeout may be shorter than the header timeout. */
        h2gw_loop_timer(((h2gw_conn_t *)st->conn)->loop, st->deadline);
    }
}

/* Gives a stream that was never submitted back to the engine to be
 * placed again: nothing of it left us, so this costs no retry. */
static void give_back(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    stream_inactive(conn, st);
    if (st->check) {
        /* A health check is of this server or of none: it fails with
         * the connection that was to carry it (h2gw_health reads why). */
        h2gw_stream_fail(st, conn->dead && conn->dead_fail != H2GW_FAIL_NONE
                                 ? conn->dead_fail : H2GW_FAIL_CONN_LOST,
                         conn->dead && conn->dead_reason
                             ? apr_pstrdup(st->pool, conn->dead_reason)
                             : "the connection took no new stream");
        release_stream(conn, st);
        return;
    }
    unlink_stream(conn, st);
    if (conn->dead && conn->dead_fail != H2GW_FAIL_NONE) {
        if (!conn->peer_settings) {
            ++st->connect_fails;
        }
        st->held_fail = conn->dead_fail;
        st->held_reason = conn->dead_reason
                              ? apr_pstrdup(st->pool, conn->dead_reason)
                              : NULL;
    }
    st->retry_next = conn->loop->retries;
    conn->loop->retries = st;
}

/* RFC 9113 §8.7: a request the upstream provably did not process may be
 * sent again, when its body can be: none of it was handed to nghttp2
 * yet, or all that was is still kept in the stream's buffer; and nothing
 * of a response came back. maybe_seen: the upstream may have processed
 * it (its connection broke, the upstream reset it): RFC 9110 §9.2.2 lets
 * only an idempotent request be sent again then (with retry-idempotent
 * on), and only while nothing of a response, not even an interim one,
 * can have reached the client. A request that is not idempotent is never
 * sent twice. */
static int can_retry(const h2gw_stream_t *st, int maybe_seen)
{
    int ok;

    if (st->handler_gone || st->retries_left <= 0 || st->stream_id <= 0) {
        return 0;
    }
    if (maybe_seen
        && (!st->idempotent || !st->target.retry_idempotent
            || st->ninterim > 0)) {
        return 0;
    }
    apr_thread_mutex_lock(st->lock);
    ok = st->state == H2GW_STREAM_ST_OPEN
         && (st->req_sent == 0 || st->req_replayable) && !st->resp_headers
         && !(maybe_seen && st->got_continue);
    apr_thread_mutex_unlock(st->lock);
    return ok;
}

/* Takes st off this connection, as new as before its submit, and hands
 * it to the engine to place again (the engine's reference moves along). */
static void retry_stream(h2gw_conn_t *conn, h2gw_stream_t *st,
                         const char *why)
{
    CONN_LOG(conn, APLOG_DEBUG, 0, "stream %d %s: request %lu sent again",
             st->stream_id, why, st->id);
    stream_inactive(conn, st);
    unlink_stream(conn, st);
    --st->retries_left;
    ++conn->srv->c->retries;
    st->retried_from = conn->id;
    apr_thread_mutex_lock(st->lock);
    ++st->retried;
    h2gw_stream_rewind_body_locked(st);  /* can_retry() said it can */
    apr_thread_mutex_unlock(st->lock);
    st->stream_id = 0;
    st->sent_headers = 0;
    st->rst_recv = 0;
    st->rst_code = 0;
    st->req_deferred = 0;
    st->hdr_bytes = 0;
    st->http_status = 0;
    apr_array_clear(st->resp_fields);
    st->retry_next = conn->loop->retries;
    conn->loop->retries = st;
}

void h2gw_conn_kill(h2gw_conn_t *conn, h2gw_fail_t fail, const char *reason)
{
    if (!conn->dead) {
        conn->dead = 1;
        conn->dead_fail = fail;
        conn->dead_reason = reason;
    }
}

static void on_ready(h2gw_conn_t *conn);
static void submit_held(h2gw_conn_t *conn);

/* The result rv of an nghttp2 call: a fatal one (out of memory, a broken
 * session) ends the connection; any other (a stream nghttp2 closed
 * already) changes nothing. Returns 0 when the connection is to end. */
static int ngh_ok(h2gw_conn_t *conn, int rv, const char *what)
{
    if (rv < 0 && nghttp2_is_fatal(rv)) {
        CONN_LOG(conn, APLOG_ERR, 0, "%s: %s", what, nghttp2_strerror(rv));
        h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "nghttp2 call failed");
        return 0;
    }
    return 1;
}

/* ---- nghttp2 callbacks ------------------------------------------------ */

static ssize_t read_req_body(nghttp2_session *ngh, int32_t stream_id,
                             uint8_t *buf, size_t length,
                             uint32_t *data_flags, nghttp2_data_source *src,
                             void *user_data)
{
    h2gw_stream_t *st = src->ptr;
    size_t n;
    int eof;

    (void)buf;
    apr_thread_mutex_lock(st->lock);
    /* The bytes stay in the body buffer until send_req_data() copies
     * them out with their frame header. */
    n = h2gw_stream_body_ready_locked(st, length, &eof);
    if (n > 0 || eof) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    }
    if (eof) {
        st->req_done = 1;
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (st->req_trailers && st->req_ntrailers) {
            /* The body ends with the client's trailers: a HEADERS frame
             * carries END_STREAM instead (nghttp2 copies the fields,
             * which live in the handler's pool: hence under the lock). */
            if (nghttp2_submit_trailer(ngh, stream_id, st->req_trailers,
                                       st->req_ntrailers) == 0) {
                *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            }
        }
    }
    if (n == 0 && !eof) {
        st->req_starved = 1;  /* the handler wakes us with more */
    }
    apr_thread_mutex_unlock(st->lock);
    if (eof) {
        touch_stream(st);
        return (ssize_t)n;
    }
    if (n == 0) {
        st->req_deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    touch_stream(st);
    return (ssize_t)n;
}

/* Makes room for `need` more bytes of output. Returns 0 when there is
 * none without growing the buffer and `grow` is 0; the buffer grows only
 * for a frame larger than the room a written buffer has. */
static int out_room(h2gw_conn_t *conn, size_t need, int grow)
{
    size_t held;

    if (conn->woff > 0) {
        memmove(conn->wbuf, conn->wbuf + conn->woff, conn->wlen - conn->woff);
        conn->wlen -= conn->woff;
        conn->woff = 0;
    }
    if (conn->wlen + need <= conn->wcap) {
        return 1;
    }
    held = conn->wlen;
    if (held > 0 && !grow) {
        return 0;
    }
    {
        uint8_t *nbuf = apr_palloc(conn->pool, held + need);

        memcpy(nbuf, conn->wbuf, held);
        conn->wbuf = nbuf;
        conn->wcap = held + need;
    }
    return 1;
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
    if (!out_room(conn, need, 0)) {
        conn->wfull = 1;
        return NGHTTP2_ERR_WOULDBLOCK;  /* called again once written */
    }
    memcpy(conn->wbuf + conn->wlen, framehd, 9);
    if (padlen > 0) {
        conn->wbuf[conn->wlen + 9] = (uint8_t)(padlen - 1);
    }
    apr_thread_mutex_lock(st->lock);
    n = h2gw_stream_get_body_locked(
        st, conn->wbuf + conn->wlen + 9 + (padlen > 0), length, &eof);
    apr_thread_mutex_unlock(st->lock);
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
    if (st->state >= H2GW_STREAM_ST_HEADERS) {
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
         * handler reads resp_fields once the state says HEADERS. */
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
    int final = 0;

    if (st->state >= H2GW_STREAM_ST_HEADERS) {
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
            apr_thread_mutex_lock(st->lock);
            if (st->interim_tail) {
                st->interim_tail->next = im;
            }
            else {
                st->interim_head = im;
            }
            st->interim_tail = im;
            apr_thread_mutex_unlock(st->lock);
            signal_later(conn, st);
        }
        else {
            apr_array_clear(st->resp_fields);
        }
        if (st->http_status == 100) {
            /* The upstream wants the body (Expect: 100-continue). */
            apr_thread_mutex_lock(st->lock);
            st->got_continue = 1;
            apr_thread_mutex_unlock(st->lock);
            signal_later(conn, st);
        }
        st->http_status = 0;
        touch_stream(st);
        return;
    }
    apr_thread_mutex_lock(st->lock);
    if (!h2gw_stream_is_final(st)) {
        /* A response without body (gRPC's trailers-only answer) is
         * complete at once: the handler sees both in one look and passes
         * them on together. */
        st->state = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
                        ? H2GW_STREAM_ST_CLOSED : H2GW_STREAM_ST_HEADERS;
        st->resp_headers = 1;
        final = 1;
    }
    apr_thread_mutex_unlock(st->lock);
    if (final && st->submitted_at) {
        h2gw_counters_observe(&conn->srv->c->header_time,
                              apr_time_now() - st->submitted_at);
    }
    signal_later(conn, st);
    touch_stream(st);
}

static void on_end_stream(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    apr_thread_mutex_lock(st->lock);
    if (st->state == H2GW_STREAM_ST_HEADERS) {
        st->state = H2GW_STREAM_ST_CLOSED;
    }
    apr_thread_mutex_unlock(st->lock);
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
        conn->state = H2GW_CONN_ST_DRAINING;
        /* Streams not yet sent go to another connection. */
        submit_held(conn);
        break;
    case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
            conn->settings_acked = 1;
        }
        else if (!conn->peer_settings) {
            conn->peer_settings = 1;
            on_ready(conn);
        }
        break;
    case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && conn->ping_pending) {
            conn->ping_pending = 0;
            conn->ping_suspect = 0;
            conn->ping_deadline = 0;
            submit_held(conn);
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

        if (!ngh_ok(conn, nghttp2_session_consume(ngh, stream_id, len),
                    "consume")) {
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        if (!st->check_body) {
            st->check_body = apr_palloc(st->pool, H2GW_CHECK_BODY_KEEP);
        }
        memcpy(st->check_body + st->check_len, data, len < keep ? len : keep);
        st->check_len += len < keep ? len : keep;
        touch_stream(st);
        return 0;
    }
    if (!st || st->handler_gone) {
        /* Nobody will read it: give the window back at once. */
        return ngh_ok(conn, nghttp2_session_consume(ngh, stream_id, len),
                      "consume") ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    apr_thread_mutex_lock(st->lock);
    if (st->state == H2GW_STREAM_ST_FAILED) {
        /* The client gets an aborted response; what follows the failure
         * must not reach it. */
        rv = APR_EGENERAL;
    }
    else {
        rv = h2gw_stream_put_data_locked(st, data, len);
    }
    apr_thread_mutex_unlock(st->lock);
    if (rv == APR_SUCCESS) {
        signal_later(conn, st);
    }
    if (rv != APR_SUCCESS) {
        if (!ngh_ok(conn, nghttp2_session_consume(ngh, stream_id, len),
                    "consume")) {
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        if (rv == APR_ENOMEM) {
            h2gw_stream_fail(st, H2GW_FAIL_INTERNAL, "out of memory");
            if (!ngh_ok(conn, nghttp2_submit_rst_stream(
                                  ngh, NGHTTP2_FLAG_NONE, stream_id,
                                  NGHTTP2_INTERNAL_ERROR),
                        "RST_STREAM")) {
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            }
        }
        return 0;
    }
    touch_stream(st);
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
    if (error_code == NGHTTP2_REFUSED_STREAM && can_retry(st, 0)) {
        retry_stream(conn, st, "not processed (REFUSED_STREAM)");
        return 0;
    }
    if (st->rst_recv && error_code != NGHTTP2_REFUSED_STREAM
        && can_retry(st, 1)) {
        retry_stream(conn, st, apr_psprintf(conn->pool, "reset by the "
                                            "upstream (%s), and idempotent",
                                            nghttp2_http2_strerror(
                                                st->rst_code)));
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
    apr_thread_mutex_lock(st->lock);
    st->engine_closed = 1;
    apr_thread_mutex_unlock(st->lock);
    stream_inactive(conn, st);
    if (st->handler_gone) {
        release_stream(conn, st);
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

static apr_status_t session_create(h2gw_conn_t *conn)
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

static void submit_stream(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    nghttp2_data_provider prd;
    int32_t id;

    /* :scheme follows the transport to the server picked. */
    st->nv[1].value = (uint8_t *)(conn->srv->conf->tls ? "https" : "http");
    st->nv[1].valuelen = conn->srv->conf->tls ? 5 : 4;
    if (st->server_authority) {
        /* :authority names the server picked, nghttp2 copies it. */
        st->nv[2].value = (uint8_t *)conn->srv->conf->authority;
        st->nv[2].valuelen = strlen(conn->srv->conf->authority);
    }
    prd.source.ptr = st;
    prd.read_callback = read_req_body;
    id = nghttp2_submit_request(conn->ngh, NULL, st->nv, st->nvlen,
                                st->has_body ? &prd : NULL, st);
    if (id < 0) {
        CONN_LOG(conn, APLOG_ERR, 0, H2GW_LOGNO(00306) "submit failed: %s",
                 nghttp2_strerror(id));
        h2gw_stream_fail(st, H2GW_FAIL_INTERNAL, "nghttp2 submit failed");
        stream_inactive(conn, st);
        release_stream(conn, st);
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
    apr_thread_mutex_lock(st->lock);
    if (st->state == H2GW_STREAM_ST_QUEUED) {
        st->state = H2GW_STREAM_ST_OPEN;
    }
    st->log_conn_id = conn->id;
    st->log_stream_id = id;
    st->log_server = conn->srv->conf->url;
    apr_thread_mutex_unlock(st->lock);
    ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, conn->loop->s,
                 "h2gw conn %lu: stream %lu submitted as %d", conn->id,
                 st->id, id);
}

/* The session may carry streams now: the peer's SETTINGS are known and
 * no liveness PING is outstanding. */
static int is_ready(const h2gw_conn_t *conn)
{
    return conn->ngh && conn->peer_settings && !conn->ping_pending
           && !conn->dead
           && (conn->state == H2GW_CONN_ST_OPEN
               || conn->state == H2GW_CONN_ST_DRAINING);
}

/* The most streams this connection carries at once: the peer's limit,
 * capped by max-streams; an assumed limit before its SETTINGS. */
static uint32_t stream_limit(const h2gw_conn_t *conn)
{
    uint32_t max = (uint32_t)UPSTREAM(conn)->max_streams;
    uint32_t peer = H2GW_CONN_ASSUMED_MAX_STREAMS;

    if (conn->ngh && conn->peer_settings) {
        peer = nghttp2_session_get_remote_settings(
            conn->ngh, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    }
    return peer < max ? peer : max;
}

/* Submits the streams that waited for the session to become ready, up to
 * the stream limit; the rest go back to the pool. */
static void submit_held(h2gw_conn_t *conn)
{
    h2gw_stream_t *st, *next;
    uint32_t limit = stream_limit(conn), open = 0;

    if (!is_ready(conn)) {
        return;
    }
    for (st = conn->streams; st; st = st->conn_next) {
        if (st->stream_id != 0 && st->ngh_open) {
            ++open;
        }
    }
    for (st = conn->streams; st; st = next) {
        int final;

        next = st->conn_next;
        if (st->stream_id != 0) {
            continue;
        }
        apr_thread_mutex_lock(st->lock);
        final = h2gw_stream_is_final(st);
        apr_thread_mutex_unlock(st->lock);
        if (final || st->handler_gone) {
            /* Timed out or abandoned while it waited: the request must
             * never reach the upstream. */
            stream_inactive(conn, st);
            release_stream(conn, st);
            continue;
        }
        if (open >= limit || conn->state == H2GW_CONN_ST_DRAINING) {
            /* Over the peer's limit, or the peer said GOAWAY: elsewhere.
             * (Draining from our side keeps what it already took.) */
            give_back(conn, st);
            continue;
        }
        submit_stream(conn, st);
        ++open;
    }
}

/* The peer's SETTINGS arrived: the connection is usable and its server
 * healthy. */
static void on_ready(h2gw_conn_t *conn)
{
    if (conn->state == H2GW_CONN_ST_HANDSHAKE) {
        conn->state = H2GW_CONN_ST_OPEN;
    }
    conn->srv->down_until = 0;
    conn->srv->addr_fails = 0;
    h2gw_pool_gauges(conn->srv);
    if (conn->probe) {
        conn->probe = 0;
        h2gw_pool_probe_done(conn->srv->pool);
    }
    CONN_LOG(conn, APLOG_DEBUG, 0, "ready, peer allows %u streams",
             nghttp2_session_get_remote_settings(
                 conn->ngh, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
    submit_held(conn);
}

/* ---- transport -------------------------------------------------------- */

apr_status_t h2gw_conn_new(h2gw_conn_t **pconn, h2gw_server_t *sv,
                           h2gw_loop_t *loop)
{
    apr_pool_t *pool;
    h2gw_conn_t *conn;
    apr_status_t rv;

    if ((rv = apr_pool_create(&pool, loop->pool)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(pool, "h2gw_conn");
    conn = apr_pcalloc(pool, sizeof(*conn));
    conn->pool = pool;
    conn->srv = sv;
    conn->loop = loop;
    conn->id = ++loop->next_conn_id;
    conn->state = H2GW_CONN_ST_CONNECTING;
    conn->opened_at = apr_time_now();
    conn->wcap = H2GW_CONN_WBUF_FILL + 32 * 1024;
    conn->wbuf = apr_palloc(pool, conn->wcap);
    *pconn = conn;
    return APR_SUCCESS;
}

apr_status_t h2gw_conn_create(h2gw_conn_t **pconn, h2gw_server_t *sv,
                              h2gw_loop_t *loop)
{
    apr_pool_t *pool;
    apr_sockaddr_t *addr;
    h2gw_conn_t *conn;
    apr_status_t rv;
    int tries;

    if ((rv = h2gw_conn_new(&conn, sv, loop)) != APR_SUCCESS) {
        return rv;
    }
    pool = conn->pool;
    if (!sv->addr) {
        if (h2gw_pool_resolve(sv)) {
            apr_pool_destroy(pool);
            return APR_EAGAIN;  /* looked up off the engine thread */
        }
        /* An address literal (no lookup), or no resolver thread. */
        apr_pool_clear(sv->addr_pool);
        rv = apr_sockaddr_info_get(&sv->addr, sv->conf->host, APR_UNSPEC,
                                   (apr_port_t)sv->conf->port, 0,
                                   sv->addr_pool);
        if (rv != APR_SUCCESS) {
            sv->addr = NULL;
            apr_pool_destroy(pool);
            return rv;
        }
        sv->next_addr = sv->addr;
        sv->naddrs = 1;
        sv->resolved_at = apr_time_now();
    }
    /* Connections take the addresses in turn; each has its own copy, so
     * that a new lookup can free the old list under it. One refused at
     * once (loopback answers a connect synchronously) hands over to the
     * next, until each was tried. */
    for (tries = 0; tries < (sv->naddrs > 1 ? sv->naddrs : 1); ++tries) {
        addr = sv->next_addr ? sv->next_addr : sv->addr;
        sv->next_addr = addr->next ? addr->next : sv->addr;
        rv = apr_sockaddr_info_copy(&conn->addr, addr, pool);
        if (rv == APR_SUCCESS) {
            rv = apr_socket_create(&conn->sock, conn->addr->family,
                                   SOCK_STREAM, APR_PROTO_TCP, pool);
        }
        if (rv == APR_SUCCESS) {
            apr_socket_opt_set(conn->sock, APR_TCP_NODELAY, 1);
            apr_socket_opt_set(conn->sock, APR_SO_NONBLOCK, 1);
            apr_socket_timeout_set(conn->sock, 0);
            rv = apr_socket_connect(conn->sock, conn->addr);
            if (rv == APR_SUCCESS || APR_STATUS_IS_EINPROGRESS(rv)) {
                rv = APR_SUCCESS;
                break;
            }
            apr_socket_close(conn->sock);
            conn->sock = NULL;
        }
    }
    if (rv == APR_SUCCESS) {
        conn->pfd.desc_type = APR_POLL_SOCKET;
        conn->pfd.desc.s = conn->sock;
        conn->pfd.client_data = conn;
        conn->pfd.reqevents = APR_POLLOUT;
        rv = apr_pollset_add(loop->pollset, &conn->pfd);
    }
    if (rv != APR_SUCCESS) {
        (void)h2gw_pool_resolve(sv);  /* the name may have moved */
        if (conn->sock) {
            apr_socket_close(conn->sock);
        }
        apr_pool_destroy(pool);
        return rv;
    }
    conn->opened_at = apr_time_now();
    conn->connect_deadline = conn->opened_at
                             + UPSTREAM(conn)->connect_timeout;
    h2gw_loop_timer(loop, conn->connect_deadline);
    ++sv->c->conns_opened;
    *pconn = conn;
    /* (Only the health checks connect to a server out by them: one
     * line each interval would drown the rest.) */
    CONN_LOG(conn, sv->hc_down ? APLOG_TRACE1 : APLOG_DEBUG, 0,
             "connecting (%" APR_UINT64_T_FMT " opened so far)",
             sv->c->conns_opened);
    return APR_SUCCESS;
}

int h2gw_conn_is_taking(const h2gw_conn_t *conn)
{
    /* The last check catches a GOAWAY nghttp2 queued itself. */
    return !conn->dead && conn->state != H2GW_CONN_ST_DRAINING
           && !conn->no_new && !conn->goaway_sent
           && !(conn->ngh && !nghttp2_session_check_request_allowed(
                                 conn->ngh));
}

int h2gw_conn_send_window_low(const h2gw_conn_t *conn)
{
    return conn->state == H2GW_CONN_ST_OPEN && conn->ngh
           && nghttp2_session_get_remote_window_size(conn->ngh)
                  < H2GW_SEND_WINDOW_LOW;
}

int h2gw_conn_has_room(const h2gw_conn_t *conn)
{
    const h2gw_upstream_t *up = UPSTREAM(conn);

    if (!h2gw_conn_is_taking(conn)) {
        return 0;
    }
    if (up->max_requests && conn->nrequests >= up->max_requests) {
        return 0;
    }
    return (uint32_t)conn->nactive < stream_limit(conn);
}

/* Asks the peer whether it is still there: new streams wait unsent for
 * the ACK, and without one within connect-timeout the connection is
 * dropped (h2gw_conn_check_timers). suspect: a stream on it timed out,
 * so no ACK means the server is not answering at all. Returns 1 when a
 * PING went out. */
static int send_ping(h2gw_conn_t *conn, apr_time_t now, int suspect)
{
    if (conn->ping_pending || !is_ready(conn)
        || nghttp2_submit_ping(conn->ngh, NGHTTP2_FLAG_NONE, NULL) != 0) {
        return 0;
    }
    ++conn->srv->c->pings_sent;
    conn->ping_pending = 1;
    conn->ping_suspect = suspect;
    conn->ping_deadline = now + UPSTREAM(conn)->connect_timeout;
    h2gw_loop_timer(conn->loop, conn->ping_deadline);
    return 1;
}

/* Before reusing a connection that was quiet longer than ping= (or
 * H2GW_CONN_QUIET_PING when ping= is off), make sure the peer is still
 * there. */
static void maybe_ping(h2gw_conn_t *conn)
{
    const h2gw_upstream_t *up = UPSTREAM(conn);
    apr_interval_time_t quiet = up->ping ? up->ping : H2GW_CONN_QUIET_PING;
    apr_time_t now;

    if (conn->ping_pending || !is_ready(conn)) {
        return;
    }
    now = apr_time_now();
    if (now - conn->last_recv < quiet) {
        return;
    }
    if (send_ping(conn, now, 0)) {
        CONN_LOG(conn, APLOG_DEBUG, 0, "idle %" APR_TIME_T_FMT " ms: PING "
                 "before reuse", apr_time_as_msec(now - conn->last_recv));
    }
}

void h2gw_conn_add_stream(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    link_stream(conn, st);
    st->active = 1;
    ++conn->nactive;
    ++conn->nrequests;
    ++conn->srv->nstreams;
    conn->srv->g->streams_active = conn->srv->nstreams;
    conn->idle_since = 0;
    maybe_ping(conn);
    if (is_ready(conn)) {
        submit_stream(conn, st);
    }
    if (UPSTREAM(conn)->max_requests
        && conn->nrequests >= UPSTREAM(conn)->max_requests) {
        h2gw_conn_drain(conn, "max-requests reached");
    }
}

/* ---- TLS (h2://) ------------------------------------------------------- */

static int is_ip_literal(const char *h)
{
    return strchr(h, ':') != NULL || strspn(h, "0123456789.") == strlen(h);
}

/* A failed handshake: the server is skipped for retry= (a certificate or
 * ALPN problem does not go away by asking again at once). */
static void tls_fail(h2gw_conn_t *conn, const char *why)
{
    CONN_LOG(conn, APLOG_WARNING, 0, H2GW_LOGNO(00316) "%s", why);
    h2gw_pool_server_down(conn->srv, H2GW_FAIL_TLS, why);
    h2gw_conn_kill(conn, H2GW_FAIL_TLS, why);
}

/* OpenSSL's error queue belongs to the thread, and the engine thread runs
 * every TLS connection of the process: whatever one connection's failed
 * call left there would be read by SSL_get_error() after the next call of
 * another (any non-empty queue turns its WANT_READ into SSL_ERROR_SSL),
 * and a healthy connection would be dropped for someone else's
 * certificate error. So the queue is emptied before every TLS call, and
 * what a failed call left is read (and removed) for that call only. */
static void tls_clear_errors(void)
{
    ERR_clear_error();
}

static void tls_handshake(h2gw_conn_t *conn)
{
    int rc;
    const unsigned char *proto = NULL;
    unsigned int plen = 0;
    long vr;

    tls_clear_errors();
    rc = SSL_do_handshake(conn->ssl);
    if (rc != 1) {
        switch (SSL_get_error(conn->ssl, rc)) {
        case SSL_ERROR_WANT_READ:
            set_events(conn, APR_POLLIN);
            return;
        case SSL_ERROR_WANT_WRITE:
            set_events(conn, APR_POLLOUT);
            return;
        default:
            vr = SSL_get_verify_result(conn->ssl);
            if (ERR_GET_REASON(ERR_peek_error())
                == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) {
                tls_clear_errors();
                tls_fail(conn, "TLS: the upstream did not agree to h2 "
                               "(ALPN: no application protocol)");
                return;
            }
            if (vr != X509_V_OK) {
                tls_clear_errors();  /* the verify result says it all */
            }
            tls_fail(conn, vr != X509_V_OK
                               ? apr_psprintf(conn->pool, "TLS: certificate "
                                              "verification failed: %s",
                                              X509_verify_cert_error_string(
                                                  vr))
                               : apr_psprintf(conn->pool, "TLS handshake "
                                              "failed: %s",
                                              h2gw_tls_error(conn->pool)));
            return;
        }
    }
    ++conn->srv->c->tls_handshakes;
    SSL_get0_alpn_selected(conn->ssl, &proto, &plen);
    if (plen != 2 || memcmp(proto, "h2", 2)) {
        /* RFC 9113 §3.2: h2 over TLS is chosen by ALPN, nothing else. */
        tls_fail(conn, plen ? apr_psprintf(conn->pool, "TLS: the upstream "
                                           "chose ALPN '%.*s', not h2",
                                           (int)plen, proto)
                            : "TLS: the upstream did not agree to h2 "
                              "(no ALPN)");
        return;
    }
    if (SSL_session_reused(conn->ssl)) {
        ++conn->srv->c->tls_resumed;
    }
    if (h2gw_conn_start_session(conn) != APR_SUCCESS) {
        h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "session setup failed");
        return;
    }
    CONN_LOG(conn, APLOG_DEBUG, 0, "TLS up (%s%s)", SSL_get_version(conn->ssl),
             SSL_session_reused(conn->ssl) ? ", resumed" : "");
}

/* TCP is up: begins the TLS handshake, non-blocking like the rest. */
static void tls_start(h2gw_conn_t *conn)
{
    const h2gw_upstream_t *up = UPSTREAM(conn);
    const h2gw_tls_conf_t *tc = &up->params.tls;
    const char *host = conn->srv->conf->host;
    const char *sni = tc->sni ? tc->sni : host;
    apr_os_sock_t fd;

    apr_os_sock_get(&fd, conn->sock);
    tls_clear_errors();
    conn->ssl = up->ssl_ctx ? SSL_new(up->ssl_ctx) : NULL;
    if (!conn->ssl || SSL_set_fd(conn->ssl, fd) != 1) {
        tls_fail(conn, apr_psprintf(conn->pool, "TLS setup failed: %s",
                                    h2gw_tls_error(conn->pool)));
        return;
    }
    /* New sessions (tickets) go to the server's slot; the last one is
     * offered on the next connect. */
    SSL_set_app_data(conn->ssl, &conn->srv->tls_session);
    if (conn->srv->tls_session) {
        SSL_set_session(conn->ssl, conn->srv->tls_session);
        CONN_LOG(conn, APLOG_DEBUG, 0, "%s", "offering the saved TLS session");
    }
    /* SNI names a host, never an address (RFC 6066 §3). */
    if (strcasecmp(sni, "off") && !is_ip_literal(sni)) {
        SSL_set_tlsext_host_name(conn->ssl, sni);
    }
    if (tc->verify != 0) {
        const char *name = tc->name ? tc->name : host;
        X509_VERIFY_PARAM *vp = SSL_get0_param(conn->ssl);

        if (!tc->name && is_ip_literal(host)) {
            X509_VERIFY_PARAM_set1_ip_asc(vp, host);
        }
        else {
            SSL_set1_host(conn->ssl, name);
        }
    }
    SSL_set_connect_state(conn->ssl);
    conn->state = H2GW_CONN_ST_TLS;
    tls_handshake(conn);
}

/* Reads what the transport has: like apr_socket_recv(), through TLS when
 * there is TLS. */
static apr_status_t transport_recv(h2gw_conn_t *conn, uint8_t *buf,
                                   apr_size_t *len)
{
    int n;

    if (!conn->ssl) {
        return apr_socket_recv(conn->sock, (char *)buf, len);
    }
    tls_clear_errors();
    n = SSL_read(conn->ssl, buf, (int)*len);
    if (n > 0) {
        *len = (apr_size_t)n;
        return APR_SUCCESS;
    }
    *len = 0;
    switch (SSL_get_error(conn->ssl, n)) {
    case SSL_ERROR_WANT_READ:
        return APR_EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        conn->tls_want_write = 1;
        return APR_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return APR_EOF;
    case SSL_ERROR_SYSCALL:
        if (!ERR_peek_error()) {
            return errno ? APR_FROM_OS_ERROR(errno) : APR_EOF;
        }
        /* fall through */
    default:
        conn->transport_error = apr_psprintf(conn->pool, "TLS read: %s",
                                             h2gw_tls_error(conn->pool));
        CONN_LOG(conn, APLOG_WARNING, 0, H2GW_LOGNO(00317) "%s",
                 conn->transport_error);
        return APR_EGENERAL;
    }
}

/* Writes: like apr_socket_send(), through TLS when there is TLS. */
static apr_status_t transport_send(h2gw_conn_t *conn, const uint8_t *data,
                                   apr_size_t *len)
{
    int n;

    if (!conn->ssl) {
        return apr_socket_send(conn->sock, (const char *)data, len);
    }
    tls_clear_errors();
    n = SSL_write(conn->ssl, data, (int)*len);
    if (n > 0) {
        *len = (apr_size_t)n;
        return APR_SUCCESS;
    }
    *len = 0;
    switch (SSL_get_error(conn->ssl, n)) {
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_READ:
        return APR_EAGAIN;
    default:
        CONN_LOG(conn, APLOG_WARNING, 0, H2GW_LOGNO(00318) "TLS write: %s",
                 h2gw_tls_error(conn->pool));
        return APR_EGENERAL;
    }
}

static void on_connected(h2gw_conn_t *conn)
{
    int err = 0;
    socklen_t len = sizeof(err);
    apr_os_sock_t fd;
    apr_status_t rv;

    apr_os_sock_get(&fd, conn->sock);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        err = errno;
    }
    if (err) {
        const char *why = apr_psprintf(conn->pool, "%s", strerror(err));

        h2gw_server_t *sv = conn->srv;
        char ip[64] = "?";

        apr_sockaddr_ip_getbuf(ip, sizeof(ip), conn->addr);
        /* A server out by its health checks is expected to fail: its
         * checks' connects say nothing new. */
        CONN_LOG(conn, sv->hc_down ? APLOG_TRACE1 : APLOG_WARNING, err,
                 H2GW_LOGNO(00307) "connect to %s:%d (%s) failed",
                 sv->conf->host, sv->conf->port, ip);
        (void)h2gw_pool_resolve(sv);  /* the name may have moved */
        if (++sv->addr_fails < sv->naddrs) {
            /* Another address of the host is left to try: this one costs
             * the connection only, its streams go to the next. */
            h2gw_conn_kill(conn, H2GW_FAIL_CONNECT, why);
            return;
        }
        sv->addr_fails = 0;
        h2gw_pool_server_down(sv, H2GW_FAIL_CONNECT,
                              apr_psprintf(conn->pool, "connect: %s", why));
        h2gw_conn_kill(conn, H2GW_FAIL_CONNECT, why);
        return;
    }
    if (conn->srv->conf->tls) {
        tls_start(conn);
        return;
    }
    if ((rv = h2gw_conn_start_session(conn)) != APR_SUCCESS) {
        h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "session setup failed");
        return;
    }
    CONN_LOG(conn, APLOG_DEBUG, 0, "%s", "connected");
}

apr_status_t h2gw_conn_start_session(h2gw_conn_t *conn)
{
    apr_status_t rv = session_create(conn);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Streams wait for the peer's SETTINGS (its stream limit); the
     * deadline now covers those and the ACK of ours. */
    conn->state = H2GW_CONN_ST_HANDSHAKE;
    conn->last_recv = apr_time_now();
    conn->connect_deadline = conn->last_recv
                             + UPSTREAM(conn)->settings_timeout;
    h2gw_loop_timer(conn->loop, conn->connect_deadline);
    return APR_SUCCESS;
}

/* Wakes the handlers of the streams given something since the last
 * time: once per batch of bytes read, not once per frame. */
static void signal_handlers(h2gw_conn_t *conn)
{
    while (conn->to_signal) {
        h2gw_stream_t *st = conn->to_signal;

        conn->to_signal = st->signal_next;
        st->signal_pending = 0;
        apr_thread_mutex_lock(st->lock);
        h2gw_stream_wake_locked(st);
        apr_thread_mutex_unlock(st->lock);
    }
}

/* Feeds bytes from the upstream to the session; the handlers are woken
 * by the caller. */
static void recv_bytes(h2gw_conn_t *conn, const uint8_t *data, size_t len)
{
    ssize_t ngrv;

    if (conn->dead || !conn->ngh || len == 0) {
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

void h2gw_conn_recv(h2gw_conn_t *conn, const uint8_t *data, size_t len)
{
    recv_bytes(conn, data, len);
    signal_handlers(conn);
}

/* Reads what the socket has (up to READ_BUDGET) into the session. */
static void read_all(h2gw_conn_t *conn)
{
    uint8_t *buf = conn->loop->rbuf;
    size_t total = 0;

    if (!buf) {
        buf = conn->loop->rbuf = apr_palloc(conn->loop->pool, READ_CHUNK);
    }

    conn->tls_want_write = 0;
    /* TLS may hold a decrypted record the socket no longer signals. */
    while ((total < READ_BUDGET || (conn->ssl && SSL_pending(conn->ssl)))
           && !conn->dead) {
        apr_size_t len = READ_CHUNK;
        apr_status_t rv = transport_recv(conn, buf, &len);

        if (len > 0) {
            total += len;
            recv_bytes(conn, buf, len);
            if (conn->dead) {
                return;
            }
            if (!conn->ssl && rv == APR_SUCCESS && len < READ_CHUNK) {
                /* A short read emptied the socket: no read just to learn
                 * EAGAIN (the pollset says when more arrives). */
                return;
            }
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return;
        }
        if (rv == APR_EOF) {
            CONN_LOG(conn, APLOG_DEBUG, 0, "%s", "closed by upstream");
            h2gw_conn_kill(conn, H2GW_FAIL_CONN_LOST,
                           "connection closed by upstream");
            return;
        }
        if (rv != APR_SUCCESS) {
            CONN_LOG(conn, APLOG_WARNING, rv, H2GW_LOGNO(00309) "%s",
                     "read failed");
            h2gw_conn_kill(conn, conn->ssl ? H2GW_FAIL_TLS
                                           : H2GW_FAIL_CONN_LOST,
                           conn->transport_error ? conn->transport_error
                                                 : "upstream connection "
                                                   "broke");
            return;
        }
    }
}

static void on_readable(h2gw_conn_t *conn)
{
    read_all(conn);
    /* Handlers woken once for all that was read. */
    signal_handlers(conn);
}

void h2gw_conn_flush(h2gw_conn_t *conn)
{
    apr_int16_t events = APR_POLLIN;

    if (conn->dead || !conn->ngh) {
        return;
    }
    if ((conn->state == H2GW_CONN_ST_DRAINING || conn->no_new)
        && conn->nactive == 0 && !conn->goaway_sent) {
        /* Drained: say goodbye; the session then wants no more I/O and is
         * closed below. */
        conn->goaway_sent = 1;
        if (!ngh_ok(conn, nghttp2_submit_goaway(conn->ngh, NGHTTP2_FLAG_NONE,
                                                0, NGHTTP2_NO_ERROR, NULL, 0),
                    "GOAWAY")) {
            return;
        }
    }
    for (;;) {
        int more = 1;
        apr_size_t len;
        apr_status_t rv;

        /* Gather frames, then write them at once. */
        while (conn->wlen - conn->woff < H2GW_CONN_WBUF_FILL) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(conn->ngh, &data);

            if (n < 0) {
                CONN_LOG(conn, APLOG_ERR, 0, H2GW_LOGNO(00310) "mem_send: %s",
                         nghttp2_strerror((int)n));
                h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "nghttp2 error");
                return;
            }
            if (n == 0) {
                /* Nothing more, or a DATA frame waits for room. */
                more = conn->wfull;
                conn->wfull = 0;
                break;
            }
            out_room(conn, (size_t)n, 1);
            memcpy(conn->wbuf + conn->wlen, data, (size_t)n);
            conn->wlen += (size_t)n;
        }
        if (!conn->sock) {
            /* Driven without a socket (fuzzing): the output goes nowhere. */
            conn->woff = conn->wlen = 0;
            if (!more) {
                break;
            }
            continue;
        }
        len = conn->wlen - conn->woff;
        if (len == 0) {
            if (!more) {
                break;
            }
            continue;
        }
        rv = transport_send(conn, conn->wbuf + conn->woff, &len);
        conn->woff += len;
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && conn->woff < conn->wlen)) {
            ++conn->srv->c->writes_blocked;
            events |= APR_POLLOUT;
            break;
        }
        if (rv != APR_SUCCESS) {
            CONN_LOG(conn, APLOG_WARNING, rv, H2GW_LOGNO(00311) "%s",
                     "write failed");
            h2gw_conn_kill(conn, H2GW_FAIL_CONN_LOST,
                           "upstream connection broke");
            return;
        }
        conn->woff = conn->wlen = 0;
        if (!more) {
            break;
        }
    }
    if (!nghttp2_session_want_read(conn->ngh)
        && !nghttp2_session_want_write(conn->ngh)
        && conn->woff == conn->wlen) {
        CONN_LOG(conn, APLOG_DEBUG, 0, "%s", "session finished");
        if (conn->protocol_error) {
            h2gw_conn_kill(conn, H2GW_FAIL_PROTOCOL, conn->protocol_error);
        }
        else {
            h2gw_conn_kill(conn, H2GW_FAIL_CONN_LOST,
                           "upstream session ended");
        }
        return;
    }
    if (conn->tls_want_write) {
        events |= APR_POLLOUT;
    }
    if (conn->sock && set_events(conn, events) != APR_SUCCESS) {
        h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "pollset update failed");
    }
}

void h2gw_conn_on_event(h2gw_conn_t *conn, apr_int16_t rtnevents)
{
    if (conn->dead) {
        return;
    }
    if (conn->state == H2GW_CONN_ST_CONNECTING) {
        on_connected(conn);
        return;
    }
    if (conn->state == H2GW_CONN_ST_TLS) {
        tls_handshake(conn);
        return;
    }
    if ((rtnevents & (APR_POLLIN | APR_POLLHUP | APR_POLLERR))
        || ((rtnevents & APR_POLLOUT) && conn->tls_want_write)) {
        on_readable(conn);
    }
    /* POLLOUT: h2gw_conn_flush(), run by the engine after every batch,
     * writes what is pending. */
}

void h2gw_conn_stream_update(h2gw_conn_t *conn, h2gw_stream_t *st,
                             int resume, size_t consumed, int handler_gone)
{
    int ngrv;

    if (conn->ngh && consumed > 0 && st->stream_id > 0) {
        /* Gives back the connection window even after the stream closed;
         * the stream window only while it is open. */
        ngrv = nghttp2_session_consume(conn->ngh, st->stream_id, consumed);
        if (ngrv && nghttp2_is_fatal(ngrv)) {
            h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "nghttp2 error");
            return;
        }
        st->consumed += (apr_off_t)consumed;
        touch_stream(st);
    }
    if (resume && st->req_deferred && st->ngh_open) {
        st->req_deferred = 0;
        apr_thread_mutex_lock(st->lock);
        st->req_starved = 0;
        apr_thread_mutex_unlock(st->lock);
        (void)ngh_ok(conn, nghttp2_session_resume_data(conn->ngh,
                                                       st->stream_id),
                     "resume");
    }
    if (handler_gone) {
        st->handler_gone = 1;
        if (conn->ngh && st->stream_id > 0) {
            apr_off_t rest;

            apr_thread_mutex_lock(st->lock);
            rest = st->resp_recv - st->consumed;
            apr_thread_mutex_unlock(st->lock);
            if (rest > 0) {
                (void)ngh_ok(conn, nghttp2_session_consume(conn->ngh,
                                                           st->stream_id,
                                                           (size_t)rest),
                             "consume");
                st->consumed += rest;
            }
        }
        if (st->ngh_open) {
            /* The client is gone or done: the upstream may stop at once. */
            (void)ngh_ok(conn, nghttp2_submit_rst_stream(
                                   conn->ngh, NGHTTP2_FLAG_NONE,
                                   st->stream_id, NGHTTP2_CANCEL),
                         "RST_STREAM");
        }
        else {
            stream_inactive(conn, st);
            release_stream(conn, st);
        }
    }
}

void h2gw_conn_suspect(h2gw_conn_t *conn, apr_time_t now)
{
    if (send_ping(conn, now, 1)) {
        CONN_LOG(conn, APLOG_DEBUG, 0, "%s", "a health check timed out: "
                 "PING to check the connection");
    }
}

void h2gw_conn_drain(h2gw_conn_t *conn, const char *why)
{
    if (conn->dead || conn->no_new) {
        return;
    }
    CONN_LOG(conn, APLOG_DEBUG, 0, "draining: %s", why);
    conn->no_new = 1;
    if (!conn->ngh && conn->nactive == 0) {
        /* Nothing was said yet and nothing waits: just close. */
        h2gw_conn_kill(conn, H2GW_FAIL_NONE, why);
    }
    /* Otherwise the streams it took run to their end (those still
     * waiting for the session are sent once it is up); flush says GOAWAY
     * and closes it when the last one is done. */
}

void h2gw_conn_check_timers(h2gw_conn_t *conn, apr_time_t now)
{
    const h2gw_upstream_t *up = UPSTREAM(conn);
    h2gw_stream_t *st;

    if (conn->dead) {
        return;
    }
    if (conn->connect_deadline) {
        if (conn->state != H2GW_CONN_ST_CONNECTING && conn->peer_settings
            && conn->settings_acked) {
            conn->connect_deadline = 0;
        }
        else if (now >= conn->connect_deadline) {
            const char *why = conn->state == H2GW_CONN_ST_CONNECTING
                                  ? "connect timed out"
                              : conn->state == H2GW_CONN_ST_TLS
                                  ? "TLS handshake timed out"
                                  : "no SETTINGS (or ACK) from the upstream "
                                    "within settings-timeout";

            CONN_LOG(conn, conn->srv->hc_down ? APLOG_TRACE1 : APLOG_WARNING,
                     0, H2GW_LOGNO(00312) "%s", why);
            h2gw_pool_server_down(conn->srv, H2GW_FAIL_CONNECT_TIMEOUT, why);
            h2gw_conn_kill(conn, H2GW_FAIL_CONNECT_TIMEOUT, why);
            return;
        }
        else {
            h2gw_loop_timer(conn->loop, conn->connect_deadline);
        }
    }
    if (conn->ping_pending) {
        if (now >= conn->ping_deadline) {
            CONN_LOG(conn, APLOG_WARNING, 0,
                     H2GW_LOGNO(00313) "no PING ACK within %" APR_TIME_T_FMT
                     " ms: connection given up",
                     apr_time_as_msec(up->connect_timeout));
            if (conn->ping_suspect) {
                /* A request went unanswered and so did the PING: the
                 * server, not just this stream, is gone quiet. A PING
                 * unanswered on reuse alone (some servers ignore PINGs)
                 * costs only the connection. */
                h2gw_pool_server_down(conn->srv, H2GW_FAIL_CONN_LOST,
                                      "no response and no PING ACK");
            }
            h2gw_conn_kill(conn, H2GW_FAIL_CONN_LOST, "no PING ACK");
            return;
        }
        h2gw_loop_timer(conn->loop, conn->ping_deadline);
    }
    if (up->max_lifetime && conn->state != H2GW_CONN_ST_DRAINING
        && !conn->no_new) {
        if (now >= conn->opened_at + up->max_lifetime) {
            h2gw_conn_drain(conn, "max-lifetime reached");
        }
        else {
            h2gw_loop_timer(conn->loop, conn->opened_at + up->max_lifetime);
        }
    }
    if (conn->nactive == 0 && conn->idle_since
        && conn->state != H2GW_CONN_ST_DRAINING && !conn->no_new) {
        if (now >= conn->idle_since + up->idle_timeout) {
            h2gw_conn_drain(conn, "idle-timeout");
        }
        else {
            h2gw_loop_timer(conn->loop, conn->idle_since + up->idle_timeout);
        }
    }
    for (st = conn->streams; st; st = st->conn_next) {
        if (!st->deadline) {
            continue;
        }
        if (now >= st->deadline) {
            st->deadline = 0;
            ++conn->srv->c->timeouts;
            h2gw_stream_fail(st, H2GW_FAIL_TIMEOUT,
                        st->resp_headers ? "upstream stalled mid-response"
                                         : "no response headers within "
                                           "the timeout");
            if (st->ngh_open && conn->ngh) {
                (void)ngh_ok(conn, nghttp2_submit_rst_stream(
                                       conn->ngh, NGHTTP2_FLAG_NONE,
                                       st->stream_id, NGHTTP2_CANCEL),
                             "RST_STREAM");
            }
            /* A silent upstream may be a dead path (no FIN, no RST ever
             * comes): the connection must prove it is alive before it
             * takes more requests. */
            if (send_ping(conn, now, 1)) {
                CONN_LOG(conn, APLOG_DEBUG, 0, "stream %d timed out: PING "
                         "to check the connection", st->stream_id);
                h2gw_loop_timer(conn->loop, conn->ping_deadline);
            }
            continue;
        }
        h2gw_loop_timer(conn->loop, st->deadline);
    }
}

void h2gw_conn_destroy(h2gw_conn_t *conn)
{
    h2gw_stream_t *st;

    if (conn->probe) {
        conn->probe = 0;
        h2gw_pool_probe_done(conn->srv->pool);
    }
    if (conn->dead_fail != H2GW_FAIL_NONE && !conn->peer_settings
        && conn->state != H2GW_CONN_ST_CONNECTING
        && conn->srv->last_error_at < conn->opened_at) {
        /* It died before the upstream said SETTINGS (e.g. a TLS alert
         * right after the handshake): a failed server, like a failed
         * connect, so the streams it held are not sent round again. */
        h2gw_pool_server_down(conn->srv,
                              conn->ssl ? H2GW_FAIL_TLS : conn->dead_fail,
                              conn->dead_reason ? conn->dead_reason
                                                : "connection lost before "
                                                  "the upstream's SETTINGS");
    }

    while ((st = conn->streams) != NULL) {
        int final;

        apr_thread_mutex_lock(st->lock);
        final = h2gw_stream_is_final(st);
        apr_thread_mutex_unlock(st->lock);
        if (st->stream_id == 0 && !final && !st->handler_gone) {
            /* Never submitted: nothing of it reached the upstream. */
            give_back(conn, st);
            continue;
        }
        if (st->ngh_open && !st->sent_headers && can_retry(st, 0)) {
            /* None of its frames were written: provably not processed. */
            retry_stream(conn, st, "not processed (connection closed "
                                   "before it was sent)");
            continue;
        }
        if (st->ngh_open && st->stream_id != conn->hdr_stream
            && can_retry(st, 1)) {
            /* Sent, so maybe processed; idempotent, so it may be again.
             * Not the stream whose response headers were being read when
             * the connection broke: its answer may be what broke it. */
            retry_stream(conn, st, "lost with its connection, and "
                                   "idempotent");
            continue;
        }
        h2gw_stream_fail(st, conn->dead_fail ? conn->dead_fail
                                        : H2GW_FAIL_CONN_LOST,
                    conn->dead_reason ? apr_pstrdup(st->pool, conn->dead_reason)
                                      : "upstream connection closed");
        stream_inactive(conn, st);
        release_stream(conn, st);
    }
    if (conn->sock) {
        apr_pollset_remove(conn->loop->pollset, &conn->pfd);
    }
    if (conn->ngh) {
        nghttp2_session_del(conn->ngh);
        conn->ngh = NULL;
    }
    if (conn->ssl) {
        if (SSL_is_init_finished(conn->ssl)) {
            /* close_notify (RFC 8446 §6.1), best effort: the socket does
             * not block. A server may drop a session whose connection
             * ended without it. */
            tls_clear_errors();
            SSL_shutdown(conn->ssl);
            tls_clear_errors();  /* a refused close_notify is no news */
        }
        SSL_free(conn->ssl);
        conn->ssl = NULL;
    }
    if (conn->sock) {
        apr_socket_close(conn->sock);
    }
    CONN_LOG(conn, conn->srv->hc_down ? APLOG_TRACE1 : APLOG_DEBUG, 0,
             "closed: %s", conn->dead_reason ? conn->dead_reason : "done");
    apr_pool_destroy(conn->pool);
}

h2gw_conn_seen_t h2gw_conn_seen(const h2gw_conn_t *conn, int *peer_streams,
                                int *peer_window, int *peer_frame)
{
    h2gw_conn_seen_t seen = H2GW_CONN_SEEN_GONE;

    *peer_streams = *peer_window = *peer_frame = -1;
    if (conn->dead) {
        return seen;
    }
    switch (conn->state) {
    case H2GW_CONN_ST_CONNECTING:
    case H2GW_CONN_ST_TLS:
    case H2GW_CONN_ST_HANDSHAKE:
        seen = H2GW_CONN_SEEN_STARTING;
        break;
    case H2GW_CONN_ST_OPEN:
        seen = conn->no_new ? H2GW_CONN_SEEN_DRAINING : H2GW_CONN_SEEN_OPEN;
        break;
    case H2GW_CONN_ST_DRAINING:
        seen = H2GW_CONN_SEEN_DRAINING;
        break;
    }
    if (conn->ngh && conn->peer_settings) {
        *peer_streams = (int)nghttp2_session_get_remote_settings(
            conn->ngh, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
        *peer_window = (int)nghttp2_session_get_remote_settings(
            conn->ngh, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE);
        *peer_frame = (int)nghttp2_session_get_remote_settings(
            conn->ngh, NGHTTP2_SETTINGS_MAX_FRAME_SIZE);
    }
    return seen;
}

int h2gw_conn_is_live(const h2gw_conn_t *conn)
{
    return !conn->dead;
}
