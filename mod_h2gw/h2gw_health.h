/*
 * h2gw_health: active health checks of an upstream's servers, on the
 * engine thread of each child process. Every health-interval each server
 * gets one check, a stream without a client (an HTTP GET of a path, or
 * gRPC's grpc.health.v1.Health/Check) on one of its pooled connections,
 * or on a new one; health-fails failed checks in a row take the server
 * out of rotation (h2gw_server_t.hc_down), health-passes passed checks
 * in a row bring it back. It does not choose servers for requests (the
 * pool does, skipping those out) and does no I/O of its own (the
 * connection carries the check like any stream).
 */
#ifndef H2GW_HEALTH_H
#define H2GW_HEALTH_H

#include "h2gw_pool.h"

/* Makes the first check of each of pool's servers due at once (nothing
 * without health-check=). Every server starts in rotation. */
void h2gw_health_init(h2gw_pool_t *pool);

/* Starts the checks that are due (none while the child is stopping),
 * fails those past health-timeout, and lowers the loop's timer to the
 * next deadline. */
void h2gw_health_timers(h2gw_pool_t *pool, apr_time_t now);

/* Reads the outcome of each check whose stream ended: passed or failed,
 * and the server's state after it (one log line when it goes out or
 * comes back). */
void h2gw_health_collect(h2gw_pool_t *pool);

/* Drops the checks in flight (child exit, after every connection was
 * destroyed). */
void h2gw_health_destroy(h2gw_pool_t *pool);

#endif /* H2GW_HEALTH_H */
