/*
 * h2gw_wait: where a handler thread sleeps. Each worker thread has one
 * wake descriptor (an eventfd) that the engine writes to for the thread's
 * current stream; a wait is one poll() on it and on what tells of the
 * client: its socket (HTTP/1) or mod_http2's input pipe (HTTP/2). Also
 * tells when the client is gone, and wakes every handler when the child
 * stops at once. Nothing here moves data or calls nghttp2.
 */
#ifndef H2GW_WAIT_H
#define H2GW_WAIT_H

#include <httpd.h>

#include "h2gw_req.h"

/* This thread's wake descriptor, made for its first proxied request and
 * closed when the thread ends; or -1 when none can be had (errno tells
 * why). */
int h2gw_wait_thread_fd(void);

/* child_stopping hook: a child that stops at once (not gracefully) wakes
 * every handler thread, so that those whose client socket the MPM closed
 * notice it and end. */
void h2gw_wait_child_stopping(apr_pool_t *pchild, int graceful);

/* Finds what tells of the client's input: its socket for HTTP/1,
 * mod_http2's input pipe for an HTTP/2 stream with a body. Without one
 * (no body, or a frontend without ap_get_pollfd_from_conn()), client_fd
 * stays -1 and waits look at the client every HANDLER_TICK. */
void h2gw_wait_find_client(h2gw_req_t *ctx);

/* The handler starts reading a request body of `length` bytes (-1: not
 * known), or stops: HTTP/2 bodies of known length of a batch or more
 * are counted while they are read, as the linger before each read of
 * one grows with how many there are per CPU (see h2gw_wait_event()). */
void h2gw_wait_body_begin(h2gw_req_t *ctx, apr_off_t length);
void h2gw_wait_body_end(h2gw_req_t *ctx);

/*
 * Sleeps until something can move the request: the engine wakes the
 * stream (response headers, data, end, failure, or what wait_for names),
 * the client has input (when `input`), the client is gone, or `timeout`
 * (-1: none) passed. One poll() on the thread's wake descriptor and the
 * client's; nothing is polled at intervals unless the client offers no
 * descriptor (then every HANDLER_TICK, or *backoff for input).
 * A wait for the response alone (not `input`, wait_for 0) for which
 * ctx->resp_want names a batch ends on that many bytes of response body,
 * not on fewer (see h2gw_stream_arm()); the caller bounds it with
 * `timeout`. ctx->wait_timed_out tells afterwards whether the wait ended
 * on its timeout.
 * expect: body bytes still to come (0: not known); an HTTP/1 wait for
 * input then ends once a batch of them is there (SO_RCVLOWAT), not for
 * every segment; an HTTP/2 wait that mod_http2's pipe ends lingers (see
 * PIPE_LINGER_US) before it returns, so that one read takes the burst.
 * Returns APR_SUCCESS (look again), APR_ECONNABORTED (the client is gone:
 * closed, reset, or the MPM closed its socket under us).
 */
apr_status_t h2gw_wait_event(h2gw_req_t *ctx, int input, unsigned wait_for,
                             apr_interval_time_t timeout, apr_off_t expect,
                             apr_interval_time_t *backoff);

#endif /* H2GW_WAIT_H */
