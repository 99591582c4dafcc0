/*
 * h2gw_pool: the servers of one upstream in this child process, on the
 * engine thread. The pool places a stream on a server (least active
 * streams or round robin, skipping servers that failed within retry= or
 * are out by their health checks), then on a connection of it with a
 * free stream slot, opening one when every open one is full and
 * max-conns allows; otherwise the stream waits in the pool's queue until
 * a slot frees or queue-timeout passes. With every server down, one
 * request at a time probes one. A server itself (addresses, down and
 * up, gauges) is h2gw_server's.
 */
#ifndef H2GW_POOL_H
#define H2GW_POOL_H

#include <apr_network_io.h>
#include <apr_poll.h>
#include <httpd.h>

#include "h2gw_config.h"
#include "h2gw_stream.h"
#include "h2gw_counters.h"
#include "h2gw_server.h"

typedef struct h2gw_pool_t h2gw_pool_t;

struct h2gw_pool_t {
    const h2gw_upstream_t *up;
    h2gw_loop_t *loop;
    h2gw_server_t *servers;
    int nservers;
    unsigned int rr;           /* round robin: the next server */
    h2gw_stream_t *queue_head, *queue_tail;  /* via retry_next */
    int nqueued;
    h2gw_up_counters_t *c;     /* in this child's slot (shared memory) */
    h2gw_up_gauges_t *ug;      /* ... likewise: nqueued, published */
    int hc_inflight;           /* servers with a health check in flight */
};

/* Creates the pool of up in loop->pool. */
h2gw_pool_t *h2gw_pool_create(h2gw_loop_t *loop, const h2gw_upstream_t *up);

/*
 * Places st (the engine holds its reference): on a connection with a
 * free slot, else in the queue; fails it at once when every server is
 * down or the child is stopping.
 */
void h2gw_pool_place(h2gw_pool_t *pool, h2gw_stream_t *st);

/* Places queued streams while there are free slots; fails those past
 * queue-timeout. */
void h2gw_pool_dispatch(h2gw_pool_t *pool);

/* The handler gave up on a queued stream: drops it from the queue.
 * Returns 1 when it was there. */
int h2gw_pool_unqueue(h2gw_pool_t *pool, h2gw_stream_t *st);

/* The resolver answered (res->ctx is the server): its addresses replace
 * the server's, or it is marked down when it has none; the queue is
 * dispatched again. Takes res over. */
struct h2gw_resolution_t;
void h2gw_pool_resolved(struct h2gw_resolution_t *res);

/*
 * Puts the health check st on a connection of sv itself (no server
 * choice, no queue): one with a free slot, or a new one. Returns 1 when
 * placed (the engine's reference taken), 0 when it cannot go now (sv's
 * name is being looked up, or every connection is full at max-conns),
 * -1 when the connect failed at once (sv is marked down, st->held_reason
 * says why).
 */
int h2gw_pool_place_check(h2gw_server_t *sv, h2gw_stream_t *st);

/* Frees what the pool holds outside its memory (TLS sessions, resolved
 * addresses). */
void h2gw_pool_destroy(h2gw_pool_t *pool);

/* The child is exiting (loop->stopping is set): the queued streams fail,
 * every connection says GOAWAY and closes once its streams are done. */
void h2gw_pool_stop(h2gw_pool_t *pool);

/* Timers of the pool's connections and queue; flushes them and destroys
 * the dead ones. */
void h2gw_pool_check_timers(h2gw_pool_t *pool, apr_time_t now);
void h2gw_pool_flush_and_reap(h2gw_pool_t *pool, int kill_all);


/* What the status page shows of a server: a copy the engine makes, so
 * that the page is rendered on the handler's thread from plain data. */
typedef struct h2gw_server_snap_t {
    const char *url;
    int up;                    /* in rotation: not skipped, not out by its
                                * health checks */
    apr_int64_t down_ms;       /* still skipped for this long; 0: not */
    int conns_open, conns_draining, conns_starting;
    int streams;               /* active over its connections */
    int peer_streams;          /* the peer's SETTINGS on a ready */
    int peer_window;           /* connection; -1 when none is ready */
    int peer_frame;
    const char *check;         /* "off", "up" or "down" */
    const char *check_last;    /* "passed" or "failed: ..."; "" */
    int checked;               /* a check ended since the child began */
    apr_int64_t check_age_ms;  /* since the last check ended; -1: none */
    int check_fails, check_passes;
    h2gw_counters_t c;
    const char *last_error;    /* "" when none */
    apr_int64_t last_error_age_ms;  /* -1 when none */
} h2gw_server_snap_t;

typedef struct h2gw_pool_snap_t {
    const char *name;
    const char *lb;            /* "round-robin" or "least-streams" */
    int max_conns, max_streams;
    int queued;
    h2gw_up_counters_t c;
    int nservers;
    h2gw_server_snap_t *servers;
} h2gw_pool_snap_t;

/* Engine thread: a copy of pool's state as of now, allocated from p. */
void h2gw_pool_snapshot(const h2gw_pool_t *pool, apr_pool_t *p,
                        apr_time_t now, h2gw_pool_snap_t *snap);

/* Active streams and open connections over every server. */
int h2gw_pool_active(const h2gw_pool_t *pool, int *nconns);

#endif /* H2GW_POOL_H */
