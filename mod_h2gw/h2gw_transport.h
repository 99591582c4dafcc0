/*
 * h2gw_transport: the bytes under one upstream connection (h2gw_conn):
 * non-blocking connect, TLS handshake, plain or TLS reads and writes, the
 * output buffer and the socket's poll events. Engine thread only; nothing
 * here blocks or knows HTTP/2.
 */
#ifndef H2GW_TRANSPORT_H
#define H2GW_TRANSPORT_H

#include "h2gw_conn.h"

/*
 * Starts a non-blocking connect of conn to the next of its server's
 * addresses (looking the name up first when none is known) and registers
 * the socket for POLLOUT. Returns APR_SUCCESS; APR_EAGAIN when the name
 * is being looked up off the engine thread; or the APR error of the
 * lookup, socket creation, connect or pollset (no socket left open; the
 * caller destroys conn's pool).
 */
apr_status_t h2gw_transport_connect(h2gw_conn_t *conn);

/* The connect finished (POLLOUT): on failure the connection is killed
 * (and its server marked down once every address failed); on success the
 * TLS handshake begins (h2://) or the session is started. */
void h2gw_transport_on_connected(h2gw_conn_t *conn);

/* Moves the TLS handshake on; once done (ALPN h2 checked) starts the
 * session. A failed handshake kills the connection and marks its server
 * down for retry=. */
void h2gw_transport_tls_handshake(h2gw_conn_t *conn);

/* Reads what the socket has (up to a budget per event) into the session;
 * EOF or a read error kills the connection. */
void h2gw_transport_read(h2gw_conn_t *conn);

/* Makes room for need more bytes in the output buffer. Returns 0 when
 * there is none without growing it and grow is 0; the buffer grows only
 * for a frame larger than the room a written buffer has. */
int h2gw_transport_out_room(h2gw_conn_t *conn, size_t need, int grow);

/* Writes the output buffer. Returns APR_SUCCESS when it was all written
 * (without a socket: discarded), APR_EAGAIN when the socket took less,
 * or the write error (the connection is killed). */
apr_status_t h2gw_transport_write(h2gw_conn_t *conn);

/* Sets the socket's poll events. Returns apr_pollset_add()'s status. */
apr_status_t h2gw_transport_set_events(h2gw_conn_t *conn,
                                       apr_int16_t events);

/* Unregisters and closes the socket, with a best-effort TLS close_notify
 * first. */
void h2gw_transport_close(h2gw_conn_t *conn);

#endif /* H2GW_TRANSPORT_H */
