/*
 * h2gw_conn: the life of an upstream HTTP/2 connection on the engine
 * thread: its creation, states and timers (connect, SETTINGS, PING,
 * max-lifetime, idle, the streams' own), draining and GOAWAY, the
 * streams it carries and, when it fails or closes, which of them are
 * handed back to the engine to be sent again (RFC 9113 §8.7) and which
 * fail. The bytes below are h2gw_transport's, the frames h2gw_session's.
 */
#include <string.h>

#include <apr_strings.h>

#include "mod_h2gw.h"
#include "h2gw_conn.h"
#include "h2gw_session.h"
#include "h2gw_transport.h"

APLOG_USE_MODULE(h2gw);

/* Below this much of the upstream's connection window, uploads on a
 * connection are held back by it (one default-size DATA frame). */
#define H2GW_SEND_WINDOW_LOW 16384

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
        h2gw_stream_wake(st);
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
void h2gw_conn_release_stream(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    unlink_stream(conn, st);
    if (st->engine_ref) {
        st->engine_ref = 0;
        h2gw_stream_unref(st);
    }
}

/* The stream no longer occupies a slot of the connection. */
void h2gw_conn_stream_inactive(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    h2gw_conn_upload_done(conn, st);
    if (st->active) {
        st->active = 0;
        --conn->nactive;
        h2gw_server_streams(conn->srv, -1);
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
void h2gw_conn_touch_stream(h2gw_stream_t *st)
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
void h2gw_conn_give_back(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    h2gw_conn_stream_inactive(conn, st);
    if (st->check) {
        /* A health check is of this server or of none: it fails with
         * the connection that was to carry it (h2gw_health reads why). */
        h2gw_stream_fail(st, h2gw_conn_is_dead(conn)
                                     && conn->dead_fail != H2GW_FAIL_NONE
                                 ? conn->dead_fail : H2GW_FAIL_CONN_LOST,
                         h2gw_conn_is_dead(conn) && conn->dead_reason
                             ? apr_pstrdup(st->pool, conn->dead_reason)
                             : "the connection took no new stream");
        h2gw_conn_release_stream(conn, st);
        return;
    }
    unlink_stream(conn, st);
    if (h2gw_conn_is_dead(conn) && conn->dead_fail != H2GW_FAIL_NONE) {
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
int h2gw_conn_can_retry(h2gw_stream_t *st, int maybe_seen)
{
    if (st->handler_gone || st->retries_left <= 0 || st->stream_id <= 0) {
        return 0;
    }
    if (maybe_seen
        && (!st->idempotent || !st->target.retry_idempotent
            || st->ninterim > 0)) {
        return 0;
    }
    return h2gw_stream_retryable(st, maybe_seen);
}

/* Takes st off this connection, as new as before its submit, and hands
 * it to the engine to place again (the engine's reference moves along). */
void h2gw_conn_retry_stream(h2gw_conn_t *conn, h2gw_stream_t *st,
                            const char *why)
{
    CONN_LOG(conn, APLOG_DEBUG, 0, "stream %d %s: request %lu sent again",
             st->stream_id, why, st->id);
    h2gw_conn_stream_inactive(conn, st);
    unlink_stream(conn, st);
    --st->retries_left;
    ++conn->srv->c->retries;
    st->retried_from = conn->id;
    h2gw_stream_on_retry(st);  /* h2gw_conn_can_retry() said it can */
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

static const char *state_name(h2gw_conn_state_t state)
{
    static const char *const names[] = {
        "CONNECTING", "TLS", "HANDSHAKE", "OPEN", "DRAINING", "DEAD"
    };

    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state]
                                                               : "?";
}

void h2gw_conn_transit(h2gw_conn_t *conn, h2gw_conn_state_t state,
                       const char *why)
{
    if (conn->state == state || conn->state == H2GW_CONN_ST_DEAD) {
        return;
    }
    /* (A server out by its health checks changes quietly: its checks'
     * connections would drown the rest.) */
    CONN_LOG(conn, conn->srv->hc_down ? APLOG_TRACE1 : APLOG_DEBUG, 0,
             "%s -> %s: %s", state_name(conn->state), state_name(state), why);
    if (state == H2GW_CONN_ST_DEAD) {
        conn->dead_in = conn->state;
    }
    conn->state = state;
}

int h2gw_conn_is_dead(const h2gw_conn_t *conn)
{
    return conn->state == H2GW_CONN_ST_DEAD;
}

void h2gw_conn_kill(h2gw_conn_t *conn, h2gw_fail_t fail, const char *reason)
{
    if (conn->state != H2GW_CONN_ST_DEAD) {
        conn->dead_fail = fail;
        conn->dead_reason = reason;
        h2gw_conn_transit(conn, H2GW_CONN_ST_DEAD, reason ? reason : "ended");
    }
}

/* The session may carry streams now: the peer's SETTINGS are known and
 * no liveness PING is outstanding. */
int h2gw_conn_is_ready(const h2gw_conn_t *conn)
{
    return conn->ngh && conn->peer_settings && !conn->ping_pending
           && (conn->state == H2GW_CONN_ST_OPEN
               || conn->state == H2GW_CONN_ST_DRAINING);
}

/* The most streams this connection carries at once: the peer's limit,
 * capped by max-streams; an assumed limit before its SETTINGS. */
uint32_t h2gw_conn_stream_limit(const h2gw_conn_t *conn)
{
    uint32_t max = (uint32_t)UPSTREAM(conn)->max_streams;
    uint32_t peer = H2GW_CONN_ASSUMED_MAX_STREAMS;

    if (conn->ngh && conn->peer_settings) {
        peer = nghttp2_session_get_remote_settings(
            conn->ngh, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    }
    return peer < max ? peer : max;
}

/* The peer's SETTINGS arrived: the connection is usable and its server
 * healthy. */
void h2gw_conn_on_ready(h2gw_conn_t *conn)
{
    if (conn->state == H2GW_CONN_ST_HANDSHAKE) {
        h2gw_conn_transit(conn, conn->drain_on_ready ? H2GW_CONN_ST_DRAINING
                                                     : H2GW_CONN_ST_OPEN,
                          conn->drain_on_ready ? "ready, drain asked before"
                                               : "ready");
    }
    h2gw_server_ready(conn->srv);
    if (conn->probe) {
        conn->probe = 0;
        h2gw_server_probe_done(conn->srv);
    }
    CONN_LOG(conn, APLOG_DEBUG, 0, "ready, peer allows %u streams",
             nghttp2_session_get_remote_settings(
                 conn->ngh, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
    h2gw_session_submit_held(conn);
}

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
    conn->state = H2GW_CONN_ST_CONNECTING;  /* the first, not a change */
    conn->opened_at = apr_time_now();
    conn->wcap = H2GW_CONN_WBUF_FILL + 32 * 1024;
    conn->wbuf = apr_palloc(pool, conn->wcap);
    *pconn = conn;
    return APR_SUCCESS;
}

apr_status_t h2gw_conn_create(h2gw_conn_t **pconn, h2gw_server_t *sv,
                              h2gw_loop_t *loop)
{
    h2gw_conn_t *conn;
    apr_status_t rv;

    if ((rv = h2gw_conn_new(&conn, sv, loop)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = h2gw_transport_connect(conn)) != APR_SUCCESS) {
        apr_pool_destroy(conn->pool);
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

int h2gw_conn_is_open(const h2gw_conn_t *conn)
{
    return conn->state == H2GW_CONN_ST_OPEN;
}

unsigned long h2gw_conn_id(const h2gw_conn_t *conn)
{
    return conn->id;
}

int h2gw_conn_probe(h2gw_conn_t *conn)
{
    if (conn->peer_settings) {
        return 0;
    }
    conn->probe = 1;
    return 1;
}

int h2gw_conn_is_taking(const h2gw_conn_t *conn)
{
    /* The last check catches a GOAWAY nghttp2 queued itself. */
    return conn->state < H2GW_CONN_ST_DRAINING && !conn->drain_on_ready
           && !conn->goaway_sent
           && !(conn->ngh && !nghttp2_session_check_request_allowed(
                                 conn->ngh));
}

int h2gw_conn_send_window_low(const h2gw_conn_t *conn)
{
    return conn->state == H2GW_CONN_ST_OPEN && conn->ngh
           && nghttp2_session_get_remote_window_size(conn->ngh)
                  < H2GW_SEND_WINDOW_LOW;
}

int h2gw_conn_uploads(const h2gw_conn_t *conn)
{
    return conn->nuploads;
}

void h2gw_conn_upload_done(h2gw_conn_t *conn, h2gw_stream_t *st)
{
    if (st->uploading) {
        st->uploading = 0;
        --conn->nuploads;
    }
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
    return (uint32_t)conn->nactive < h2gw_conn_stream_limit(conn);
}

/* Asks the peer whether it is still there: new streams wait unsent for
 * the ACK, and without one within connect-timeout the connection is
 * dropped (h2gw_conn_check_timers). suspect: a stream on it timed out,
 * so no ACK means the server is not answering at all. Returns 1 when a
 * PING went out. */
static int send_ping(h2gw_conn_t *conn, apr_time_t now, int suspect)
{
    if (conn->ping_pending || !h2gw_conn_is_ready(conn)
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

    if (conn->ping_pending || !h2gw_conn_is_ready(conn)) {
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
    if (st->has_body) {
        st->uploading = 1;
        ++conn->nuploads;
    }
    ++conn->nrequests;
    h2gw_server_streams(conn->srv, 1);
    conn->idle_since = 0;
    maybe_ping(conn);
    if (h2gw_conn_is_ready(conn)) {
        h2gw_session_submit(conn, st);
    }
    if (UPSTREAM(conn)->max_requests
        && conn->nrequests >= UPSTREAM(conn)->max_requests) {
        h2gw_conn_drain(conn, "max-requests reached");
    }
}

apr_status_t h2gw_conn_start_session(h2gw_conn_t *conn)
{
    apr_status_t rv = h2gw_session_create(conn);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Streams wait for the peer's SETTINGS (its stream limit); the
     * deadline now covers those and the ACK of ours. */
    h2gw_conn_transit(conn, H2GW_CONN_ST_HANDSHAKE, "session started");
    conn->last_recv = apr_time_now();
    conn->connect_deadline = conn->last_recv
                             + UPSTREAM(conn)->settings_timeout;
    h2gw_loop_timer(conn->loop, conn->connect_deadline);
    return APR_SUCCESS;
}

void h2gw_conn_recv(h2gw_conn_t *conn, const uint8_t *data, size_t len)
{
    h2gw_session_recv(conn, data, len);
    h2gw_session_wake_handlers(conn);
}

void h2gw_conn_flush(h2gw_conn_t *conn)
{
    apr_int16_t events = APR_POLLIN;

    if (h2gw_conn_is_dead(conn) || !conn->ngh) {
        return;
    }
    if ((conn->state == H2GW_CONN_ST_DRAINING || conn->drain_on_ready)
        && conn->nactive == 0 && !conn->goaway_sent) {
        /* Drained: say goodbye; the session then wants no more I/O and is
         * closed below. */
        conn->goaway_sent = 1;
        if (!h2gw_session_ok(conn,
                             nghttp2_submit_goaway(conn->ngh, NGHTTP2_FLAG_NONE,
                                                   0, NGHTTP2_NO_ERROR, NULL,
                                                   0),
                             "GOAWAY")) {
            return;
        }
    }
    switch (h2gw_session_send(conn)) {
    case -1:
        return;
    case 1:
        events |= APR_POLLOUT;
        break;
    default:
        break;
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
    if (conn->sock && h2gw_transport_set_events(conn, events) != APR_SUCCESS) {
        h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "pollset update failed");
    }
}

void h2gw_conn_on_event(h2gw_conn_t *conn, apr_int16_t rtnevents)
{
    if (h2gw_conn_is_dead(conn)) {
        return;
    }
    if (conn->state == H2GW_CONN_ST_CONNECTING) {
        h2gw_transport_on_connected(conn);
        return;
    }
    if (conn->state == H2GW_CONN_ST_TLS) {
        h2gw_transport_tls_handshake(conn);
        return;
    }
    if ((rtnevents & (APR_POLLIN | APR_POLLHUP | APR_POLLERR))
        || ((rtnevents & APR_POLLOUT) && conn->tls_want_write)) {
        h2gw_transport_read(conn);
        /* Handlers woken once for all that was read. */
        h2gw_session_wake_handlers(conn);
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
        h2gw_conn_touch_stream(st);
    }
    if (resume && st->req_deferred && st->ngh_open) {
        st->req_deferred = 0;
        h2gw_stream_resumed(st);
        (void)h2gw_session_ok(
            conn, nghttp2_session_resume_data(conn->ngh, st->stream_id),
            "resume");
    }
    if (handler_gone) {
        st->handler_gone = 1;
        if (conn->ngh && st->stream_id > 0) {
            apr_off_t rest = h2gw_stream_unconsumed(st);

            if (rest > 0) {
                (void)h2gw_session_ok(conn,
                                      nghttp2_session_consume(conn->ngh,
                                                              st->stream_id,
                                                              (size_t)rest),
                                      "consume");
                st->consumed += rest;
            }
        }
        if (st->ngh_open) {
            /* The client is gone or done: the upstream may stop at once. */
            (void)h2gw_session_ok(
                conn,
                nghttp2_submit_rst_stream(conn->ngh, NGHTTP2_FLAG_NONE,
                                          st->stream_id, NGHTTP2_CANCEL),
                "RST_STREAM");
        }
        else {
            h2gw_conn_stream_inactive(conn, st);
            h2gw_conn_release_stream(conn, st);
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
    if (conn->state >= H2GW_CONN_ST_DRAINING || conn->drain_on_ready) {
        return;
    }
    CONN_LOG(conn, APLOG_DEBUG, 0, "draining: %s", why);
    if (conn->state == H2GW_CONN_ST_OPEN) {
        h2gw_conn_transit(conn, H2GW_CONN_ST_DRAINING, why);
        return;
    }
    /* Still starting: DRAINING follows once it is ready. */
    conn->drain_on_ready = 1;
    if (!conn->ngh && conn->nactive == 0) {
        /* Nothing was said yet and nothing waits: just close. */
        h2gw_conn_kill(conn, H2GW_FAIL_NONE, why);
    }
    /* Otherwise the streams it took run to their end (those still
     * waiting for the session are sent once it is up); flush says GOAWAY
     * and closes it when the last one is done. */
}

/* The connect, TLS and SETTINGS deadline (connect-timeout, then
 * settings-timeout for the peer's SETTINGS and the ACK of ours). Returns
 * 0 when it passed: the connection is dead. */
static int check_handshake(h2gw_conn_t *conn, apr_time_t now)
{
    const char *why;

    if (!conn->connect_deadline) {
        return 1;
    }
    if (conn->state != H2GW_CONN_ST_CONNECTING && conn->peer_settings
        && conn->settings_acked) {
        conn->connect_deadline = 0;
        return 1;
    }
    if (now < conn->connect_deadline) {
        h2gw_loop_timer(conn->loop, conn->connect_deadline);
        return 1;
    }
    /* Which wait it was: the log line and the server's last error say. */
    why = conn->state == H2GW_CONN_ST_CONNECTING ? "connect timed out"
          : conn->state == H2GW_CONN_ST_TLS      ? "TLS handshake timed out"
                                                 : "no SETTINGS (or ACK) from "
                                                   "the upstream within "
                                                   "settings-timeout";
    CONN_LOG(conn, conn->srv->hc_down ? APLOG_TRACE1 : APLOG_WARNING, 0,
             H2GW_LOGNO(00312) "%s", why);
    h2gw_server_down(conn->srv, H2GW_FAIL_CONNECT_TIMEOUT, why);
    h2gw_conn_kill(conn, H2GW_FAIL_CONNECT_TIMEOUT, why);
    return 0;
}

/* The liveness PING's deadline. Returns 0 when it passed without an ACK:
 * the connection is dead. */
static int check_ping(h2gw_conn_t *conn, apr_time_t now)
{
    if (!conn->ping_pending) {
        return 1;
    }
    if (now < conn->ping_deadline) {
        h2gw_loop_timer(conn->loop, conn->ping_deadline);
        return 1;
    }
    CONN_LOG(conn, APLOG_WARNING, 0,
             H2GW_LOGNO(00313) "no PING ACK within %" APR_TIME_T_FMT
             " ms: connection given up",
             apr_time_as_msec(UPSTREAM(conn)->connect_timeout));
    if (conn->ping_suspect) {
        /* A request went unanswered and so did the PING: the server, not
         * just this stream, is gone quiet. A PING unanswered on reuse
         * alone (some servers ignore PINGs) costs only the connection. */
        h2gw_server_down(conn->srv, H2GW_FAIL_CONN_LOST,
                              "no response and no PING ACK");
    }
    h2gw_conn_kill(conn, H2GW_FAIL_CONN_LOST, "no PING ACK");
    return 0;
}

/* max-lifetime and idle-timeout: either drains the connection. */
static void check_lifetime(h2gw_conn_t *conn, apr_time_t now)
{
    const h2gw_upstream_t *up = UPSTREAM(conn);

    if (up->max_lifetime && conn->state != H2GW_CONN_ST_DRAINING
        && !conn->drain_on_ready) {
        if (now >= conn->opened_at + up->max_lifetime) {
            h2gw_conn_drain(conn, "max-lifetime reached");
        }
        else {
            h2gw_loop_timer(conn->loop, conn->opened_at + up->max_lifetime);
        }
    }
    if (conn->nactive == 0 && conn->idle_since
        && conn->state != H2GW_CONN_ST_DRAINING && !conn->drain_on_ready) {
        if (now >= conn->idle_since + up->idle_timeout) {
            h2gw_conn_drain(conn, "idle-timeout");
        }
        else {
            h2gw_loop_timer(conn->loop, conn->idle_since + up->idle_timeout);
        }
    }
}

/* The streams' header and read timeouts: a stream past its deadline
 * fails and is reset, and the connection is PINGed. */
static void check_streams(h2gw_conn_t *conn, apr_time_t now)
{
    h2gw_stream_t *st;

    for (st = conn->streams; st; st = st->conn_next) {
        if (!st->deadline) {
            continue;
        }
        if (now < st->deadline) {
            h2gw_loop_timer(conn->loop, st->deadline);
            continue;
        }
        st->deadline = 0;
        ++conn->srv->c->timeouts;
        h2gw_stream_fail(st, H2GW_FAIL_TIMEOUT,
                         st->resp_headers ? "upstream stalled mid-response"
                                          : "no response headers within "
                                            "the timeout");
        if (st->ngh_open && conn->ngh) {
            (void)h2gw_session_ok(
                conn,
                nghttp2_submit_rst_stream(conn->ngh, NGHTTP2_FLAG_NONE,
                                          st->stream_id, NGHTTP2_CANCEL),
                "RST_STREAM");
        }
        /* A silent upstream may be a dead path (no FIN, no RST ever
         * comes): the connection must prove it is alive before it takes
         * more requests. */
        if (send_ping(conn, now, 1)) {
            CONN_LOG(conn, APLOG_DEBUG, 0, "stream %d timed out: PING "
                     "to check the connection", st->stream_id);
            h2gw_loop_timer(conn->loop, conn->ping_deadline);
        }
    }
}

void h2gw_conn_check_timers(h2gw_conn_t *conn, apr_time_t now)
{
    if (h2gw_conn_is_dead(conn) || !check_handshake(conn, now)
        || !check_ping(conn, now)) {
        return;
    }
    check_lifetime(conn, now);
    check_streams(conn, now);
}

void h2gw_conn_destroy(h2gw_conn_t *conn)
{
    h2gw_stream_t *st;

    if (conn->probe) {
        conn->probe = 0;
        h2gw_server_probe_done(conn->srv);
    }
    if (conn->dead_fail != H2GW_FAIL_NONE && !conn->peer_settings
        && conn->dead_in != H2GW_CONN_ST_CONNECTING
        && !h2gw_server_down_since(conn->srv, conn->opened_at)) {
        /* It died before the upstream said SETTINGS (e.g. a TLS alert
         * right after the handshake): a failed server, like a failed
         * connect, so the streams it held are not sent round again. */
        h2gw_server_down(conn->srv,
                              conn->ssl ? H2GW_FAIL_TLS : conn->dead_fail,
                              conn->dead_reason ? conn->dead_reason
                                                : "connection lost before "
                                                  "the upstream's SETTINGS");
    }

    while ((st = conn->streams) != NULL) {
        /* (The engine, the state's only writer now, reads it unlocked.) */
        if (st->stream_id == 0 && !h2gw_stream_is_final(st)
            && !st->handler_gone) {
            /* Never submitted: nothing of it reached the upstream. */
            h2gw_conn_give_back(conn, st);
            continue;
        }
        if (st->ngh_open && !st->sent_headers && h2gw_conn_can_retry(st, 0)) {
            /* None of its frames were written: provably not processed. */
            h2gw_conn_retry_stream(conn, st,
                                   "not processed (connection closed "
                                   "before it was sent)");
            continue;
        }
        if (st->ngh_open && st->stream_id != conn->hdr_stream
            && h2gw_conn_can_retry(st, 1)) {
            /* Sent, so maybe processed; idempotent, so it may be again.
             * Not the stream whose response headers were being read when
             * the connection broke: its answer may be what broke it. */
            h2gw_conn_retry_stream(conn, st,
                                   "lost with its connection, and "
                                   "idempotent");
            continue;
        }
        h2gw_stream_fail(
            st, conn->dead_fail ? conn->dead_fail : H2GW_FAIL_CONN_LOST,
            conn->dead_reason ? apr_pstrdup(st->pool, conn->dead_reason)
                              : "upstream connection closed");
        h2gw_conn_stream_inactive(conn, st);
        h2gw_conn_release_stream(conn, st);
    }
    if (conn->ngh) {
        nghttp2_session_del(conn->ngh);
        conn->ngh = NULL;
    }
    h2gw_transport_close(conn);
    CONN_LOG(conn, conn->srv->hc_down ? APLOG_TRACE1 : APLOG_DEBUG, 0,
             "closed: %s", conn->dead_reason ? conn->dead_reason : "done");
    apr_pool_destroy(conn->pool);
}

h2gw_conn_seen_t h2gw_conn_seen(const h2gw_conn_t *conn, int *peer_streams,
                                int *peer_window, int *peer_frame)
{
    h2gw_conn_seen_t seen = H2GW_CONN_SEEN_GONE;

    *peer_streams = *peer_window = *peer_frame = -1;
    switch (conn->state) {
    case H2GW_CONN_ST_CONNECTING:
    case H2GW_CONN_ST_TLS:
    case H2GW_CONN_ST_HANDSHAKE:
        seen = H2GW_CONN_SEEN_STARTING;
        break;
    case H2GW_CONN_ST_OPEN:
        seen = H2GW_CONN_SEEN_OPEN;
        break;
    case H2GW_CONN_ST_DRAINING:
        seen = H2GW_CONN_SEEN_DRAINING;
        break;
    case H2GW_CONN_ST_DEAD:
        return H2GW_CONN_SEEN_GONE;
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
