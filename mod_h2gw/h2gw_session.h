/*
 * h2gw_session: the nghttp2 client session of one upstream connection
 * (h2gw_conn): setup, callbacks, submitting streams, and the bytes between
 * nghttp2 and the transport. Engine thread only.
 */
#ifndef H2GW_SESSION_H
#define H2GW_SESSION_H

#include "h2gw_conn.h"

/*
 * Creates conn->ngh with the module's callbacks and options and queues
 * our SETTINGS and connection window. Returns APR_SUCCESS, APR_ENOMEM
 * (nghttp2 allocation) or APR_EGENERAL (settings refused; logged).
 */
apr_status_t h2gw_session_create(h2gw_conn_t *conn);

/* The result rv of an nghttp2 call: a fatal one (out of memory, a broken
 * session) ends the connection; any other (a stream nghttp2 closed
 * already) changes nothing. Returns 0 when the connection is to end. */
int h2gw_session_ok(h2gw_conn_t *conn, int rv, const char *what);

/* Submits st (linked to conn, the session ready) as a request; on
 * failure st fails and is released. */
void h2gw_session_submit(h2gw_conn_t *conn, h2gw_stream_t *st);

/* Submits the streams that waited for the session to become ready, up to
 * the stream limit; the rest go back to the pool. Does nothing while the
 * session is not ready. */
void h2gw_session_submit_held(h2gw_conn_t *conn);

/* Feeds bytes read from the upstream to the session (nothing once the
 * connection is dead); a protocol error kills the connection. The
 * handlers are woken by h2gw_session_wake_handlers(). */
void h2gw_session_recv(h2gw_conn_t *conn, const uint8_t *data, size_t len);

/* Wakes the handlers of the streams given something since the last
 * time: once per batch of bytes read, not once per frame. */
void h2gw_session_wake_handlers(h2gw_conn_t *conn);

/* Gathers the session's frames into the output buffer and writes them
 * until nghttp2 has no more. Returns 0 when all was written, 1 when the
 * socket is full (wait for POLLOUT), -1 when the connection was killed. */
int h2gw_session_send(h2gw_conn_t *conn);

#endif /* H2GW_SESSION_H */
