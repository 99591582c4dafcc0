/*
 * h2gw_server: one server of an upstream in this child process, on the
 * engine thread, and the loop the engine lends to pools and connections.
 * A server has its addresses (looked up off the engine thread, again
 * every resolve= and after a connect failure), its connections (the
 * pool's list, carried here), whether it is down and why, its counters
 * and gauges in shared memory, and its health checks' state. The
 * connections report to their server; the pool (h2gw_pool) chooses
 * among servers and owns the queue.
 */
#ifndef H2GW_SERVER_H
#define H2GW_SERVER_H

#include <apr_network_io.h>
#include <apr_poll.h>
#include <httpd.h>

#include "h2gw_config.h"
#include "h2gw_stream.h"
#include "h2gw_counters.h"

typedef struct h2gw_conn_t h2gw_conn_t;

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
    struct h2gw_pool_t *pool;  /* its upstream's pool (the pool's own) */
    const h2gw_upstream_t *up; /* its upstream's configuration */
    h2gw_loop_t *loop;
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
    int probing;               /* the pool's probe (opened while every
                                * server was down) is in flight to it */
    h2gw_conn_t *conns;        /* singly linked via conn->next */
    int nconns;                /* in conns */
    int nstreams;              /* active streams over its connections */
    apr_time_t down_until;     /* skipped until then after a failure */
    char last_error[160];
    h2gw_fail_t last_fail;     /* what the last failure was */
    SSL_SESSION *tls_session;  /* for resumption (h2:// servers) */
    apr_time_t last_error_at;
    h2gw_counters_t *c;        /* in this child's slot (shared memory) */
    h2gw_gauges_t *g;          /* ... likewise: see h2gw_server_gauges() */
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

/* Creates sv's memory (its address pool) and counters: the pool's
 * servers are set up by h2gw_pool_create(). */
void h2gw_server_init(h2gw_server_t *sv, struct h2gw_pool_t *pool,
                      h2gw_loop_t *loop, const h2gw_upstream_t *up, int i);

/* Records a failure of server sv (connect, handshake): it is skipped for
 * retry= from now. */
void h2gw_server_down(h2gw_server_t *sv, h2gw_fail_t fail, const char *why);

/* Returns 1 when sv was recorded down (h2gw_server_down) at or after t. */
int h2gw_server_down_since(const h2gw_server_t *sv, apr_time_t t);

/* A connection of sv got the upstream's SETTINGS: the server answers, so
 * it is no longer skipped and its addresses count afresh. */
void h2gw_server_ready(h2gw_server_t *sv);

/* A stream went onto (delta 1) or off (-1) a connection of sv: its active
 * streams and their gauge. */
void h2gw_server_streams(h2gw_server_t *sv, int delta);

/* The pool's probe connection to sv is over: it got the upstream's
 * SETTINGS (the server is up again) or died; the requests that waited
 * for it are placed or failed at the engine's next timer. */
void h2gw_server_probe_done(h2gw_server_t *sv);

/*
 * Makes sure sv has addresses to connect to: those known, or an address
 * literal's, or those a lookup on the engine thread finds when there is
 * no resolver thread. Returns APR_SUCCESS; APR_EAGAIN when the name is
 * being looked up off the engine thread (the pool is told when it is
 * answered, h2gw_pool_resolved()); or the lookup's error.
 */
apr_status_t h2gw_server_addrs(h2gw_server_t *sv);

/* How many of sv's addresses one connection may try (at least 1), and
 * the next of them in turn (connections take them round-robin). Valid
 * until the next lookup: the caller copies it. */
int h2gw_server_naddrs(const h2gw_server_t *sv);
const apr_sockaddr_t *h2gw_server_next_addr(h2gw_server_t *sv);

/* A connect to one of sv's addresses failed. Returns 1 when another of
 * its addresses is left to try (the failure costs the connection only),
 * 0 when each failed in a row (the caller marks the server down). */
int h2gw_server_addr_failed(h2gw_server_t *sv);

/*
 * Asks for sv's addresses off the engine thread, unless a lookup is under
 * way already. Returns 1 when one is (the caller's stream waits for it),
 * 0 when the host is an address literal or there is no resolver (then
 * the caller resolves inline).
 */
int h2gw_server_resolve(h2gw_server_t *sv);

/* The resolver answered for sv (res->ctx): its addresses replace the
 * server's, or it is marked down when it has none. Takes res over. */
struct h2gw_resolution_t;
void h2gw_server_resolved(h2gw_server_t *sv, struct h2gw_resolution_t *res);

/* Frees what sv holds outside its memory (its TLS session, resolved
 * addresses). */
void h2gw_server_destroy(h2gw_server_t *sv);

/* Publishes sv's streams, connections and health to its gauges (after
 * each change: readers in other processes see only these). */
static inline void h2gw_server_gauges(h2gw_server_t *sv)
{
    sv->g->streams_active = sv->nstreams;
    sv->g->conns = sv->nconns;
    /* Out by its health checks: down until they pass, whenever that is. */
    sv->g->down_until = sv->hc_down ? APR_INT64_MAX : sv->down_until;
}

#endif /* H2GW_SERVER_H */
