/*
 * h2gw_pool: the connections of one upstream in this child process, on
 * the engine thread. An upstream has one or more servers; each server has
 * its connections and its health. The pool places a stream on a server
 * (least active streams or round robin, skipping servers that failed
 * within retry=), then on a connection with a free stream slot, opening
 * one when every open one is full and max-conns allows; otherwise the
 * stream waits in the pool's queue until a slot frees or queue-timeout
 * passes. Counters here feed the status page.
 */
#ifndef H2GW_POOL_H
#define H2GW_POOL_H

#include <apr_network_io.h>
#include <apr_poll.h>
#include <httpd.h>

#include "h2gw_config.h"
#include "h2gw_stream.h"
#include "h2gw_counters.h"

typedef struct h2gw_conn_t h2gw_conn_t;
typedef struct h2gw_pool_t h2gw_pool_t;

/* What the engine lends the pools and connections: engine thread only. */
typedef struct h2gw_loop_t {
    apr_pool_t *pool;          /* the engine's */
    apr_pollset_t *pollset;
    server_rec *s;             /* for logging */
    unsigned long next_conn_id;
    apr_time_t next_timer;     /* nearest deadline, 0 = none */
    h2gw_stream_t *retries;    /* streams to place again (engine refs) */
    int stopping;              /* the child is exiting: no new streams */
    uint8_t *rbuf;             /* what connections read into, in turn */
    struct h2gw_resolver_t *resolver;  /* NULL: names resolve inline
                                        * (no engine: the fuzz target) */
    h2gw_slot_t *slot;         /* this child's counters; NULL: each pool
                                * counts in memory of its own */
} h2gw_loop_t;

/* Lowers loop->next_timer to t (0 = no timer). */
void h2gw_loop_timer(h2gw_loop_t *loop, apr_time_t t);


typedef struct h2gw_server_t {
    h2gw_pool_t *pool;
    const h2gw_server_conf_t *conf;
    /* The host's addresses: every one it resolved to, a list via ->next;
     * NULL until resolved. A name is looked up off the engine thread
     * (h2gw_resolve), again every resolve= and after a connect failure,
     * the old addresses serving meanwhile; a literal address at once. */
    apr_sockaddr_t *addr;
    apr_sockaddr_t *next_addr; /* the one the next connection tries */
    int naddrs;
    int addr_fails;            /* connects failed in a row: the server is
                                * down once every address failed */
    apr_pool_t *addr_pool;     /* holds addr of a literal address */
    apr_pool_t *res_pool;      /* holds addr of a name: its resolution's
                                * own pool (owned, destroyed when
                                * replaced) */
    apr_time_t resolved_at;
    int resolving;             /* a lookup is under way */
    int probe_resolving;       /* ... and the pool's probe waits for it */
    h2gw_conn_t *conns;        /* singly linked via conn->next */
    int nconns;                /* in conns */
    int nstreams;              /* active streams over its connections */
    apr_time_t down_until;     /* skipped until then after a failure */
    char last_error[160];
    h2gw_fail_t last_fail;     /* what the last failure was */
    SSL_SESSION *tls_session;  /* for resumption (h2:// servers) */
    apr_time_t last_error_at;
    h2gw_counters_t *c;        /* in this child's slot (shared memory) */
    h2gw_gauges_t *g;          /* ... likewise: see h2gw_pool_gauges() */
    /* Active health checks (h2gw_health); unused without health-check=. */
    int hc_down;               /* out of rotation by its checks */
    int hc_fails;              /* checks failed in a row */
    int hc_passes;             /* checks passed in a row */
    h2gw_stream_t *hc_stream;  /* the check in flight, its own
                                * reference held; or NULL */
    apr_time_t hc_started;     /* when the check in flight began */
    apr_time_t hc_next;        /* when the next check is due */
    apr_time_t hc_last_at;     /* when the last check ended; 0: none */
    char hc_last[160];         /* "passed", or "failed: " and why */
} h2gw_server_t;

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
    int probing;               /* a probe connection is in flight: with
                                * every server down, one request at a time
                                * still tries one (see try_place) */
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

/* A probe connection (opened while every server was down) is over: it
 * got the peer's SETTINGS (the server is up again) or died. */
void h2gw_pool_probe_done(h2gw_pool_t *pool);

/* Records a failure of server sv (connect, handshake): it is skipped for
 * retry= from now. */
void h2gw_pool_server_down(h2gw_server_t *sv, h2gw_fail_t fail,
                           const char *why);

/* Returns 1 when sv was recorded down (h2gw_pool_server_down) at or
 * after t. */
int h2gw_pool_server_down_since(const h2gw_server_t *sv, apr_time_t t);

/* A connection of sv got the upstream's SETTINGS: the server answers, so
 * it is no longer skipped and its addresses count afresh. */
void h2gw_pool_server_ready(h2gw_server_t *sv);

/* A stream went onto (delta 1) or off (-1) a connection of sv: its active
 * streams and their gauge. */
void h2gw_pool_server_streams(h2gw_server_t *sv, int delta);

/*
 * Makes sure sv has addresses to connect to: those known, or an address
 * literal's, or those a lookup on the engine thread finds when there is
 * no resolver thread. Returns APR_SUCCESS; APR_EAGAIN when the name is
 * being looked up off the engine thread (the caller waits for
 * h2gw_pool_resolved); or the lookup's error.
 */
apr_status_t h2gw_pool_server_addrs(h2gw_server_t *sv);

/* How many of sv's addresses one connection may try (at least 1), and
 * the next of them in turn (connections take them round-robin). Valid
 * until the next lookup: the caller copies it. */
int h2gw_pool_server_naddrs(const h2gw_server_t *sv);
const apr_sockaddr_t *h2gw_pool_server_next_addr(h2gw_server_t *sv);

/* A connect to one of sv's addresses failed. Returns 1 when another of
 * its addresses is left to try (the failure costs the connection only),
 * 0 when each failed in a row (the caller marks the server down). */
int h2gw_pool_server_addr_failed(h2gw_server_t *sv);

/* Every connection of pool takes no new streams from now on and closes
 * once its streams are done (why: for the log). */
void h2gw_pool_drain(h2gw_pool_t *pool, const char *why);

/*
 * Asks for sv's addresses off the engine thread, unless a lookup is under
 * way already. Returns 1 when one is (the caller's stream waits for it),
 * 0 when the host is an address literal or there is no resolver (then
 * the caller resolves inline).
 */
int h2gw_pool_resolve(h2gw_server_t *sv);

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

/* Publishes sv's streams, connections and health to its gauges (after
 * each change: readers in other processes see only these). */
static inline void h2gw_pool_gauges(h2gw_server_t *sv)
{
    sv->g->streams_active = sv->nstreams;
    sv->g->conns = sv->nconns;
    /* Out by its health checks: down until they pass, whenever that is. */
    sv->g->down_until = sv->hc_down ? APR_INT64_MAX : sv->down_until;
}

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
