/*
 * h2gw_counters: the counters of every child process in one place. The
 * parent creates a shared memory segment in post_config (anonymous
 * apr_shm, inherited by every child it forks) of one slot per child
 * process; each child claims a slot in child_init and its engine thread
 * counts into it with plain stores (its handler threads add failures with
 * atomic adds), so the data path takes no lock and crosses no process.
 * The status page and the metrics handler read every slot.
 *
 * A slot holds two sets of counters: those of the child that holds it
 * (zeroed when it claims the slot) and those of every child that held it
 * before (the claimer folds the previous holder's counts into them):
 * totals are the sum over all slots of both, so a child that exits keeps
 * its counts in the totals. Gauges (streams active, connections, health)
 * count only in the slots of live children.
 *
 * The segment lives in the process pool and is reused by a graceful
 * restart that keeps the same upstreams and servers; when they change,
 * a new segment starts with the counts of the servers that remain.
 *
 * The counter lists here are X-macros: a field added to one of them is
 * counted, summed over children, and shown on the status page (HTML and
 * JSON) and by the metrics handler without further code.
 */
#ifndef H2GW_COUNTERS_H
#define H2GW_COUNTERS_H

#include <httpd.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "h2gw_stream.h"

/*
 * Counters of one server: X(field, metric name, help). The metric name is
 * what the metrics handler prints (h2gw_ prefixed, labels upstream and
 * server); the field name is the status page's key.
 */
#define H2GW_SERVER_COUNTERS(X)                                              \
    X(conns_opened, "h2gw_connections_opened_total",                        \
      "Upstream connections opened (connect started).")                     \
    X(conns_failed, "h2gw_connections_failed_total",                        \
      "Upstream connections that failed to come up (connect, TLS, "         \
      "SETTINGS) or a name that did not resolve.")                          \
    X(requests, "h2gw_requests_total",                                      \
      "Requests submitted to the server as HTTP/2 streams, resends "        \
      "included.")                                                          \
    X(retries, "h2gw_retries_total",                                        \
      "Requests sent again after the server did not process them or "      \
      "an idempotent request was lost.")                                    \
    X(resets_sent, "h2gw_resets_sent_total",                                \
      "RST_STREAM frames sent to the server.")                              \
    X(resets_recv, "h2gw_resets_received_total",                            \
      "RST_STREAM frames received from the server.")                        \
    X(timeouts, "h2gw_timeouts_total",                                      \
      "Responses that timed out (timeout= or read-timeout=).")              \
    X(goaways_recv, "h2gw_goaways_received_total",                          \
      "GOAWAY frames received from the server.")                            \
    X(pings_sent, "h2gw_pings_sent_total",                                  \
      "PING frames sent to the server (liveness).")                         \
    X(bytes_out, "h2gw_sent_bytes_total",                                   \
      "Request body bytes sent to the server (DATA payload).")              \
    X(bytes_in, "h2gw_received_bytes_total",                                \
      "Response body bytes received from the server (DATA payload).")      \
    X(tls_handshakes, "h2gw_tls_handshakes_total",                          \
      "TLS handshakes completed with the server.")                          \
    X(tls_resumed, "h2gw_tls_resumptions_total",                            \
      "TLS handshakes that resumed an earlier session.")                    \
    X(writes_blocked, "h2gw_writes_blocked_total",                          \
      "Writes the server's socket took only in part (it reads slower "      \
      "than the gateway sends).")                                           \
    X(checks, "h2gw_health_checks_total",                                   \
      "Active health checks sent to the server (health-check=).")           \
    X(checks_failed, "h2gw_health_checks_failed_total",                     \
      "Active health checks that failed (status, NOT_SERVING, timeout, "    \
      "connect error).")

/* Counters of one upstream, as the server counters. */
#define H2GW_UPSTREAM_COUNTERS(X)                                            \
    X(queued_total, "h2gw_queue_waits_total",                               \
      "Requests that waited in the upstream's queue for a free stream.")    \
    X(queue_timeouts, "h2gw_queue_timeouts_total",                          \
      "Requests that found no free stream within queue-timeout (503).")     \
    X(all_down, "h2gw_all_down_total",                                      \
      "Requests failed with every server of the upstream down.")            \
    X(probes, "h2gw_probes_total",                                          \
      "Probe connections opened while every server was down.")

/* Response-header time histogram: bucket bounds in microseconds (the
 * metrics show them in seconds); a last bucket takes what is above. From
 * a loopback upstream's millisecond to a minute (H2GWTimeout's default). */
#define H2GW_HIST_BOUNDS                                                     \
    { 1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,     \
      2500000, 5000000, 10000000, 30000000, 60000000 }
#define H2GW_HIST_NBOUNDS 14

typedef struct h2gw_hist_t {
    apr_uint64_t bucket[H2GW_HIST_NBOUNDS + 1];  /* not cumulative */
    apr_uint64_t sum_us;
} h2gw_hist_t;

#define H2GW_COUNTER_FIELD(f, name, help) apr_uint64_t f;

/* One server's counters. Only apr_uint64_t fields: slots are folded and
 * summed as arrays of them. */
typedef struct h2gw_counters_t {
    H2GW_SERVER_COUNTERS(H2GW_COUNTER_FIELD)
    h2gw_hist_t header_time;   /* from handing a request to the engine to
                                * its final response headers */
} h2gw_counters_t;

/* One upstream's counters; apr_uint64_t fields only, as above. */
typedef struct h2gw_up_counters_t {
    H2GW_UPSTREAM_COUNTERS(H2GW_COUNTER_FIELD)
    apr_uint64_t failures[H2GW_FAIL_NCAUSES];  /* by cause: requests that
                                                * failed (H2GW00203) */
} h2gw_up_counters_t;

/* What one child's engine sees right now of a server; in its slot, and
 * counted for live children only. */
typedef struct h2gw_gauges_t {
    apr_int64_t streams_active;
    apr_int64_t conns;         /* connections held: starting, open or
                                * draining */
    apr_int64_t down_until;    /* apr_time_t: skipped until then */
} h2gw_gauges_t;

/* What one child's engine sees right now of an upstream, likewise. */
typedef struct h2gw_up_gauges_t {
    apr_int64_t queued;        /* requests waiting for a free stream */
} h2gw_up_gauges_t;

/*
 * One child's counters, as its engine sees them: arrays indexed by the
 * upstream's cidx and the server's index (h2gw_counters_server()). Either
 * in shared memory or, when there is no slot for the child, private.
 */
typedef struct h2gw_slot_t {
    h2gw_up_counters_t *up;
    h2gw_counters_t *sv;
    h2gw_gauges_t *g;
    h2gw_up_gauges_t *ug;      /* by the upstream's cidx */
} h2gw_slot_t;

/* A sum over some slots, in memory of the caller's pool: the totals of
 * every child, or one child's. */
typedef struct h2gw_view_t {
    h2gw_up_counters_t *up;
    h2gw_counters_t *sv;
    h2gw_gauges_t *g;          /* streams and conns summed over live
                                * children; down_until: how many live
                                * children see the server down now */
    h2gw_up_gauges_t *ug;      /* summed over live children */
    long pid;                  /* one child's view: its pid; totals: 0 */
    int slot;                  /* its slot; totals: number of slots */
    int children;              /* live children in the view */
    apr_time_t started;        /* one child's view: when it claimed the
                                * slot */
} h2gw_view_t;

/* The server index of an upstream's i-th server. */
#define h2gw_counters_server(up, i) ((up)->csv0 + (i))

/* Microseconds as seconds, exactly, in buf (at least 32 bytes):
 * "0.001", "2.5", "60". (apr_snprintf's %g drops the leading zero.) */
const char *h2gw_counters_seconds(char *buf, apr_uint64_t us);

/*
 * post_config (parent): numbers the configuration's upstreams and servers
 * (cidx, csv0) and creates or reuses the shared segment in
 * s->process->pool. Returns APR_SUCCESS or the error of apr_shm_create;
 * without a segment every child counts on its own (the totals show
 * nothing).
 */
apr_status_t h2gw_counters_post_config(apr_pool_t *pconf, server_rec *s);

/*
 * child_init: claims a slot for this process (a free one, or one whose
 * process is gone), folds what its last holder counted into the slot's
 * earlier counts, and registers its release on pchild. Returns the slot
 * (never NULL: private memory, not in the totals, when no slot is free).
 */
h2gw_slot_t *h2gw_counters_child_init(apr_pool_t *pchild, server_rec *s);

/* This child's slot (as h2gw_counters_child_init returned), or NULL. */
h2gw_slot_t *h2gw_counters_mine(void);

/* Handler threads: counts a failed request of upstream up (atomic add). */
void h2gw_counters_fail(const struct h2gw_upstream_t *up, h2gw_fail_t fail);

/* Records one response-header time in hist (engine thread: plain
 * stores, one writer). */
static inline void h2gw_counters_observe(h2gw_hist_t *hist,
                                         apr_interval_time_t t)
{
    static const apr_int64_t bounds[H2GW_HIST_NBOUNDS] = H2GW_HIST_BOUNDS;
    int i = 0;

    if (t < 0) {
        t = 0;
    }
    while (i < H2GW_HIST_NBOUNDS && t > bounds[i]) {
        ++i;
    }
    ++hist->bucket[i];
    hist->sum_us += (apr_uint64_t)t;
}

/*
 * Reads every slot: the totals (every child that ever counted since the
 * segment was made) into *total, and one view per live child into
 * *children (h2gw_view_t, by slot). Allocates from p. Returns 0 when
 * there is no shared segment (total then holds zeros).
 */
int h2gw_counters_read(apr_pool_t *p, h2gw_view_t *total,
                       apr_array_header_t **children);

/* Every configured upstream that has counters (h2gw_upstream_t *, those
 * that share another's connections left out), in configuration order. */
const apr_array_header_t *h2gw_counters_upstreams(void);

#endif /* H2GW_COUNTERS_H */
