/*
 * h2gw_engine: the one I/O thread of a child process. It owns every
 * upstream connection and nghttp2 session of the process, runs a wakeable
 * apr_pollset loop over their sockets, takes commands from handler threads
 * through an inbox of streams, and keeps the timers. Handler threads never
 * touch a session or socket; they call the functions below.
 */
#ifndef H2GW_ENGINE_H
#define H2GW_ENGINE_H

#include <httpd.h>
#include <apr_thread_cond.h>

#include "h2gw_stream.h"

typedef struct h2gw_engine_t h2gw_engine_t;

/* A handler's request for a snapshot of the engine's pools. */
typedef struct h2gw_status_req_t {
    apr_pool_t *pool;          /* the engine copies into it; the caller's
                                * own again once done is set */
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *cond;
    int done;                  /* under lock */
    apr_array_header_t *pools; /* the snapshot: h2gw_pool_snap_t (see
                                * h2gw_pool.h), one per upstream */
    struct h2gw_status_req_t *next;
} h2gw_status_req_t;

/*
 * Starts the engine thread of this child process. Called from child_init;
 * a cleanup on pchild stops and joins it. Returns APR_SUCCESS or the APR
 * error of pollset, mutex or thread creation.
 */
apr_status_t h2gw_engine_start(apr_pool_t *pchild, server_rec *s);

/* The engine of this process, or NULL when it is not running. */
h2gw_engine_t *h2gw_engine_get(void);

/*
 * Hands a stream to the engine: it takes its own reference and opens or
 * picks a connection for st->target. Returns APR_SUCCESS, or
 * APR_ECONNABORTED when the engine is shutting down.
 */
apr_status_t h2gw_engine_submit(h2gw_engine_t *e, h2gw_stream_t *st);

/* Tells the engine that st has pending requests (pend_resume,
 * pend_consumed, ...); it is woken once per batch. */
void h2gw_engine_notify(h2gw_engine_t *e, h2gw_stream_t *st);

/* Tells the engine that n response bytes were written to the client, so
 * the upstream may send n more (nghttp2_session_consume): batched, once
 * st->consume_batch bytes add up or 250 ms passed since the last time. */
void h2gw_engine_consumed(h2gw_engine_t *e, h2gw_stream_t *st, size_t n);

/* Tells the engine now of what was written to the client and not told
 * yet (if anything): before the handler waits for a batch of response
 * data, so that the upstream's window can hold that batch. */
void h2gw_engine_consumed_now(h2gw_engine_t *e, h2gw_stream_t *st);

/*
 * The handler is done with st: the engine resets the upstream stream with
 * CANCEL if it is still open, gives back any window the handler did not
 * consume, and drops the handler's reference (st may be freed at once).
 */
void h2gw_engine_release(h2gw_engine_t *e, h2gw_stream_t *st);

/*
 * Asks the engine thread for a copy of the state of its pools in
 * req->pool and waits for it. Returns APR_SUCCESS with req->pools set,
 * APR_ECONNABORTED when the engine is stopping, or APR_TIMEUP when it
 * did not take the request within 5 s (it is taken back).
 */
apr_status_t h2gw_engine_status(h2gw_engine_t *e, h2gw_status_req_t *req);

#endif /* H2GW_ENGINE_H */
