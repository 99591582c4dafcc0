/*
 * h2gw_resolve: upstream host names resolved off the engine thread. One
 * resolver thread per child process takes names from a queue, asks the
 * system resolver (getaddrinfo, through APR) and hands every address it
 * returns back; the engine is woken to take them. The engine never waits
 * for a resolver: a slow name costs the requests to that server only.
 * Numeric hosts are not sent here (they resolve without a lookup).
 */
#ifndef H2GW_RESOLVE_H
#define H2GW_RESOLVE_H

#include <apr_network_io.h>
#include <apr_pools.h>

typedef struct h2gw_resolver_t h2gw_resolver_t;

/* One question and, once answered, its answer. Created by
 * h2gw_resolver_ask(); owned by the resolver until h2gw_resolver_take()
 * returns it, then by the caller, who destroys `pool` (which holds the
 * request itself and the addresses) when it no longer needs them. */
typedef struct h2gw_resolution_t {
    struct h2gw_resolution_t *next;
    apr_pool_t *pool;          /* unmanaged: holds all of this */
    const char *host;
    apr_port_t port;
    void *ctx;                 /* the caller's, returned as given */
    apr_status_t rv;           /* APR_SUCCESS or the resolver's error */
    apr_sockaddr_t *addrs;     /* every address, via ->next; NULL on error */
    int naddrs;
} h2gw_resolution_t;

/*
 * Starts the resolver thread. wake(wake_ctx) is called on that thread
 * each time an answer is ready (it must only wake the engine). The
 * resolver lives until h2gw_resolver_stop(); `p` only holds the handle.
 * Returns APR_SUCCESS or the error of creating the thread or its lock.
 */
apr_status_t h2gw_resolver_start(h2gw_resolver_t **pres, apr_pool_t *p,
                                 void (*wake)(void *), void *wake_ctx);

/*
 * Engine side: asks for host:port; the answer comes back with ctx.
 * Returns APR_SUCCESS, or APR_ENOMEM when no memory could be had.
 */
apr_status_t h2gw_resolver_ask(h2gw_resolver_t *res, const char *host,
                               apr_port_t port, void *ctx);

/* Engine side: the answers ready so far (oldest first), or NULL. */
h2gw_resolution_t *h2gw_resolver_take(h2gw_resolver_t *res);

/*
 * Stops the thread and waits for it (a lookup in progress finishes
 * first); frees questions not yet asked and answers not taken.
 */
void h2gw_resolver_stop(h2gw_resolver_t *res);

/* Is host an IPv4 or IPv6 address literal (no lookup needed)? */
int h2gw_resolve_is_numeric(const char *host);

#endif /* H2GW_RESOLVE_H */
