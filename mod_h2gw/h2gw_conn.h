/*
 * h2gw_conn: one upstream HTTP/2 connection, driven by the engine thread
 * only: its life (create, states, timers, draining, close) and the
 * streams it carries. Its bytes move through h2gw_transport (socket, TLS,
 * output buffer), its frames through h2gw_session (the nghttp2 client
 * session and its callbacks); the struct below is shared by the three.
 * It does not choose connections (the pool does) and never blocks.
 */
#ifndef H2GW_CONN_H
#define H2GW_CONN_H

#include <apr_network_io.h>
#include <apr_poll.h>
#include <httpd.h>
#include <nghttp2/nghttp2.h>

#include "h2gw_stream.h"

#include "h2gw_server.h"

/* A connection's state, changed only by h2gw_conn_transit(), which logs
 * each change (LogLevel h2gw:debug):
 *
 *   CONNECTING -> TLS (h2://) -> HANDSHAKE -> OPEN -> DRAINING
 *
 * HANDSHAKE may go to DRAINING directly (a GOAWAY before the SETTINGS, or
 * a drain asked for while starting), and any state to DEAD, which is
 * final. Facts that are not states stay flags: peer_settings and
 * settings_acked (the handshake's two halves), ping_pending, goaway_recv
 * and goaway_sent, drain_on_ready. */
typedef enum {
    H2GW_CONN_ST_CONNECTING,   /* TCP connect in progress */
    H2GW_CONN_ST_TLS,          /* TLS handshake in progress (h2://) */
    H2GW_CONN_ST_HANDSHAKE,    /* session up, the peer's SETTINGS not yet
                                * received: streams wait unsent */
    H2GW_CONN_ST_OPEN,         /* takes new streams */
    H2GW_CONN_ST_DRAINING,     /* takes no new streams (a GOAWAY either
                                * way, max-requests, max-lifetime,
                                * idle-timeout, the child exiting); those
                                * it has run to their end, then GOAWAY
                                * and close */
    H2GW_CONN_ST_DEAD          /* failed or done: the engine destroys it;
                                * its streams fail with dead_fail or are
                                * sent again */
} h2gw_conn_state_t;

/* Streams a connection is given before the peer's SETTINGS tell its limit
 * (RFC 9113 §6.5.2 leaves it unlimited until then; 100 is the smallest
 * limit the RFC recommends servers to announce). They wait unsent until
 * the SETTINGS arrive; any over the real limit go back to the queue. */
#define H2GW_CONN_ASSUMED_MAX_STREAMS 100

/* With ping= off (0), a connection that received nothing for this long
 * is still PINGed before reuse: a path that went dead without a FIN or
 * RST (a blackhole, a frozen server) is found by one round trip, not by
 * every request on it timing out. Long enough that a busy gateway never
 * pays the round trip. */
#define H2GW_CONN_QUIET_PING apr_time_from_sec(30)

/* Output is gathered up to this many bytes before it is written: a few
 * DATA frames per write, not one. */
#define H2GW_CONN_WBUF_FILL (64 * 1024)


struct h2gw_conn_t {
    apr_pool_t *pool;          /* subpool of the engine pool; engine only */
    h2gw_server_t *srv;
    h2gw_loop_t *loop;
    h2gw_conn_t *next;         /* in srv->conns */
    unsigned long id;          /* per process, for log lines */
    apr_socket_t *sock;
    apr_sockaddr_t *addr;      /* the address it connects to (a copy) */
    SSL *ssl;                  /* h2:// only */
    int tls_want_write;        /* SSL_read needs the socket writable */
    apr_pollfd_t pfd;          /* as registered in the pollset */
    h2gw_conn_state_t state;   /* only h2gw_conn_transit() sets it */
    nghttp2_session *ngh;      /* NULL until connected */
    /* Output: frames gathered from nghttp2 (request DATA copied straight
     * from the stream's body buffer, NGHTTP2_DATA_FLAG_NO_COPY) and
     * written in one call; wbuf[woff, wlen) is not written yet. */
    uint8_t *wbuf;
    size_t wcap, wlen, woff;
    int wfull;                 /* a DATA frame waits for room in wbuf */
    h2gw_stream_t *streams;    /* linked streams, via conn_next/conn_prev */
    h2gw_stream_t *to_signal;  /* streams given response data by the bytes
                                * in hand, via signal_next: their handlers
                                * are woken once these are processed */
    int nactive;               /* linked streams not yet closed */
    int nuploads;              /* ... of them with request body still to
                                * send (uploads in flight) */
    apr_int64_t nrequests;     /* streams ever given to it */
    apr_time_t opened_at;
    apr_time_t connect_deadline;   /* TCP connect, then SETTINGS + ACK */
    int peer_settings;         /* the peer's first SETTINGS arrived */
    int settings_acked;        /* the peer acknowledged ours */
    apr_time_t last_recv;      /* bytes last read */
    apr_time_t idle_since;     /* nactive dropped to 0; 0 while busy */
    int ping_pending;          /* a liveness PING awaits its ACK */
    int ping_suspect;          /* ... sent because a stream timed out: no
                                * ACK marks the server down too */
    apr_time_t ping_deadline;
    int goaway_recv;           /* the peer said GOAWAY: streams not yet
                                * submitted go to another connection */
    int goaway_sent;           /* ours, once drained */
    int drain_on_ready;        /* asked to drain while still starting: it
                                * takes no new streams, and goes DRAINING
                                * instead of OPEN once ready */
    char lib_error[201];       /* nghttp2's last error message ("": none);
                                * a fixed buffer, since nghttp2 may report
                                * errors all the connection's life */
    const char *transport_error;  /* why TLS reading failed */
    const char *protocol_error; /* why nghttp2 ended the connection */
    int probe;                 /* opened as its pool's probe, not over yet */
    int32_t hdr_stream;        /* a header block of this stream is being
                                * read (0: none): if the connection breaks
                                * now, that answer may be why */
    h2gw_conn_state_t dead_in; /* the state it was in when it died */
    h2gw_fail_t dead_fail;     /* what its streams fail with */
    const char *dead_reason;
};

/*
 * Opens a connection to server sv (non-blocking connect) and registers
 * it in the loop's pollset. Streams the upstream provably did not process
 * are pushed on loop->retries, the engine's reference still held, for the
 * engine to place again. Returns APR_SUCCESS with *pconn set, or the APR
 * error of name resolution, socket creation or connect (nothing is left
 * allocated).
 */
apr_status_t h2gw_conn_create(h2gw_conn_t **pconn, h2gw_server_t *sv,
                              h2gw_loop_t *loop);

/*
 * The parts of a connection below the socket, for driving one without a
 * network (the session fuzz target): h2gw_conn_new() makes a connection
 * with no socket (its output is discarded by h2gw_conn_flush()),
 * h2gw_conn_start_session() sets up the nghttp2 session as after a
 * connect, h2gw_conn_recv() hands it bytes as read from the upstream.
 */
apr_status_t h2gw_conn_new(h2gw_conn_t **pconn, h2gw_server_t *sv,
                           h2gw_loop_t *loop);
apr_status_t h2gw_conn_start_session(h2gw_conn_t *conn);
void h2gw_conn_recv(h2gw_conn_t *conn, const uint8_t *data, size_t len);

/* How a connection counts on the status page. */
typedef enum {
    H2GW_CONN_SEEN_GONE,       /* dead, about to be destroyed: not shown */
    H2GW_CONN_SEEN_STARTING,   /* connect, TLS or the peer's SETTINGS */
    H2GW_CONN_SEEN_OPEN,       /* takes new streams */
    H2GW_CONN_SEEN_DRAINING    /* takes none, closes once idle */
} h2gw_conn_seen_t;

/* What the status page shows of conn: how it counts, and the peer's
 * SETTINGS (max concurrent streams, initial window, max frame size;
 * -1 each until they arrived). */
h2gw_conn_seen_t h2gw_conn_seen(const h2gw_conn_t *conn, int *peer_streams,
                                int *peer_window, int *peer_frame);

/* Returns 1 when the connection is DEAD: it takes nothing more, and the
 * engine destroys it after this batch. */
int h2gw_conn_is_dead(const h2gw_conn_t *conn);

/* Returns 1 when the connection is OPEN: ready, and taking new streams
 * unless it is full. */
int h2gw_conn_is_open(const h2gw_conn_t *conn);

/* The connection's number in this process (its log lines say it). */
unsigned long h2gw_conn_id(const h2gw_conn_t *conn);

/* Makes conn its pool's probe (opened while every server was down) when
 * the upstream's SETTINGS have not arrived yet: h2gw_server_probe_done() is
 * called once it is ready or dies. Returns 1 when it became the probe. */
int h2gw_conn_probe(h2gw_conn_t *conn);

/* Returns 1 when the connection takes new streams at all (not dead, not
 * draining). */
int h2gw_conn_is_taking(const h2gw_conn_t *conn);

/* Returns 1 when the connection may take one more stream now. */
int h2gw_conn_has_room(const h2gw_conn_t *conn);

/* Returns 1 when request bodies on the connection wait for the upstream's
 * connection window (less than a frame of it left): another connection
 * would carry a new upload faster. */
int h2gw_conn_send_window_low(const h2gw_conn_t *conn);

/* Returns how many of the connection's active streams still have request
 * body to send (uploads in flight). */
int h2gw_conn_uploads(const h2gw_conn_t *conn);

/* The stream's request body is sent whole (or given up): it no longer
 * counts as an upload in flight. */
void h2gw_conn_upload_done(h2gw_conn_t *conn, h2gw_stream_t *st);

/* Adds st (the engine's reference moves to the connection): submitted at
 * once when the session is ready, otherwise when it becomes ready. */
void h2gw_conn_add_stream(h2gw_conn_t *conn, h2gw_stream_t *st);

/* Handles the handler's requests taken from the inbox for st. */
void h2gw_conn_stream_update(h2gw_conn_t *conn, h2gw_stream_t *st,
                             int resume, size_t consumed, int handler_gone);

/* Handles poll events of the connection's socket. */
void h2gw_conn_on_event(h2gw_conn_t *conn, apr_int16_t rtnevents);

/* Writes whatever the session has to send; updates the poll events. */
void h2gw_conn_flush(h2gw_conn_t *conn);

/* Fires the connection's and its streams' timers due at now; lowers the
 * loop's next timer to the nearest remaining one. */
void h2gw_conn_check_timers(h2gw_conn_t *conn, apr_time_t now);

/* A stream on conn went unanswered (a health check timed out): PINGs it
 * as a request's timeout does; without an ACK within connect-timeout the
 * connection is dropped and its server marked down. */
void h2gw_conn_suspect(h2gw_conn_t *conn, apr_time_t now);

/* Takes no new streams from now on; says GOAWAY and closes once idle. */
void h2gw_conn_drain(h2gw_conn_t *conn, const char *why);

/* Marks the connection DEAD (the first call only: later ones change
 * nothing): its streams fail with fail/reason, or are sent again, when the
 * engine destroys it. */
void h2gw_conn_kill(h2gw_conn_t *conn, h2gw_fail_t fail, const char *reason);

/* Closes socket and session, fails, resends or unlinks every stream, and
 * frees the connection. The caller unlinks it from srv->conns. */
void h2gw_conn_destroy(h2gw_conn_t *conn);

/* ---- Within the connection: for h2gw_session.c and h2gw_transport.c -- */

/* "h2gw conn 7 (api h2c://10.0.0.1:8080): ..." for a named upstream,
 * "h2gw conn 7 (h2c://10.0.0.1:8080/): ..." for a pass's own. */
#define CONN_LOG(conn, lvl, rv, fmt, ...)                                    \
    ap_log_error(APLOG_MARK, lvl, rv, (conn)->loop->s,                       \
                 "h2gw conn %lu (%s%s%s): " fmt, (conn)->id,                 \
                 UPSTREAM(conn)->named ? UPSTREAM(conn)->name : "",          \
                 UPSTREAM(conn)->named ? " " : "", (conn)->srv->conf->url,   \
                 __VA_ARGS__)

#define UPSTREAM(conn) ((conn)->srv->up)

/* Moves conn to state (why: for the log line). The one place the state
 * changes: a change from DEAD, or to the state it is in, does nothing. */
void h2gw_conn_transit(h2gw_conn_t *conn, h2gw_conn_state_t state,
                       const char *why);

/* The session may carry streams now: the peer's SETTINGS are known and
 * no liveness PING is outstanding. Returns 1 or 0. */
int h2gw_conn_is_ready(const h2gw_conn_t *conn);

/* The most streams conn carries at once: the peer's limit, capped by
 * max-streams; an assumed limit before its SETTINGS. */
uint32_t h2gw_conn_stream_limit(const h2gw_conn_t *conn);

/* The peer's SETTINGS arrived: the connection is usable, its server
 * healthy, its held streams are submitted. */
void h2gw_conn_on_ready(h2gw_conn_t *conn);

/* Unlinks st from conn and drops the engine's reference: st may be
 * freed. */
void h2gw_conn_release_stream(h2gw_conn_t *conn, h2gw_stream_t *st);

/* st no longer occupies a slot of conn (closed, failed, given back). */
void h2gw_conn_stream_inactive(h2gw_conn_t *conn, h2gw_stream_t *st);

/* st made progress (body bytes sent, headers or DATA received, the client
 * drained some): the upstream gets another full timeout, the header
 * timeout before the response, the read timeout within it. st must be on
 * a connection. */
void h2gw_conn_touch_stream(h2gw_stream_t *st);

/* Gives st, never submitted, back to the engine to be placed again:
 * nothing of it left us, so this costs no retry. A health check fails
 * instead (it is of this server or of none). */
void h2gw_conn_give_back(h2gw_conn_t *conn, h2gw_stream_t *st);

/* RFC 9113 §8.7: returns 1 when st, which the upstream provably did not
 * process (maybe_seen 0) or may have processed (maybe_seen 1: only an
 * idempotent request with retry-idempotent on, RFC 9110 §9.2.2), may be
 * sent again: its body can be, nothing of a response came back. */
int h2gw_conn_can_retry(h2gw_stream_t *st, int maybe_seen);

/* Takes st off conn, as new as before its submit, and hands it to the
 * engine to place again (the engine's reference moves along); why is
 * logged. Only after h2gw_conn_can_retry() said yes. */
void h2gw_conn_retry_stream(h2gw_conn_t *conn, h2gw_stream_t *st,
                            const char *why);

#endif /* H2GW_CONN_H */
