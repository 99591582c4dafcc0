/*
 * h2gw_pool: server choice, connection choice and the wait queue of one
 * upstream, on the engine thread.
 */
#include <apr_strings.h>

#include "mod_h2gw.h"
#include "h2gw_pool.h"
#include "h2gw_resolve.h"
#include "h2gw_conn.h"

APLOG_USE_MODULE(h2gw);

h2gw_pool_t *h2gw_pool_create(h2gw_loop_t *loop, const h2gw_upstream_t *up)
{
    h2gw_pool_t *pool = apr_pcalloc(loop->pool, sizeof(*pool));
    int i;

    pool->up = up;
    pool->loop = loop;
    pool->nservers = up->servers->nelts;
    pool->servers = apr_pcalloc(loop->pool,
                                sizeof(h2gw_server_t) * pool->nservers);
    /* Counted in this child's slot, read by every child; an upstream
     * without one (no slot; the fuzz target) counts on its own. */
    if (loop->slot && up->cidx >= 0) {
        pool->c = &loop->slot->up[up->cidx];
        pool->ug = &loop->slot->ug[up->cidx];
    }
    else {
        pool->c = apr_pcalloc(loop->pool, sizeof(*pool->c));
        pool->ug = apr_pcalloc(loop->pool, sizeof(*pool->ug));
    }
    for (i = 0; i < pool->nservers; ++i) {
        h2gw_server_init(&pool->servers[i], pool, loop, up, i);
    }
    return pool;
}

/* Every connection of pool takes no new streams from now on and closes
 * once its streams are done (why: for the log). */
static void pool_drain(h2gw_pool_t *pool, const char *why)
{
    int i;

    for (i = 0; i < pool->nservers; ++i) {
        h2gw_conn_t *conn;

        for (conn = pool->servers[i].conns; conn; conn = conn->next) {
            h2gw_conn_drain(conn, why);
        }
    }
}

/* In rotation: not skipped after a failure (retry=), and not out by its
 * health checks. */
static int server_is_up(const h2gw_server_t *sv, apr_time_t now)
{
    return sv->down_until <= now && !sv->hc_down;
}

static int taking_conns(const h2gw_server_t *sv);

/* A connection of sv with a free slot: a ready one first, then one still
 * starting; never the connection st must avoid. A request with a body
 * goes to the open connection with the fewest uploads in flight (each
 * connection has its own window from the upstream, often only 64 KiB:
 * uploads packed onto one share it, while the others' lie unused), and
 * avoids connections whose uploads wait for the upstream's connection
 * window while a new connection may still be opened (NULL: open one). */
static h2gw_conn_t *conn_with_room(h2gw_server_t *sv, const h2gw_stream_t *st)
{
    h2gw_conn_t *conn, *starting = NULL, *congested = NULL, *best = NULL;
    int best_uploads = 0;

    for (conn = sv->conns; conn; conn = conn->next) {
        int n;

        if (h2gw_conn_id(conn) == st->retried_from
            || !h2gw_conn_has_room(conn)) {
            continue;
        }
        if (st->has_body && h2gw_conn_send_window_low(conn)) {
            if (!congested) {
                congested = conn;
            }
            continue;
        }
        if (!h2gw_conn_is_open(conn)) {
            if (!starting) {
                starting = conn;
            }
            continue;
        }
        if (!st->has_body) {
            return conn;
        }
        n = h2gw_conn_uploads(conn);
        if (!best || n < best_uploads) {
            best = conn;
            best_uploads = n;
            if (n == 0) {
                break;  /* none does better */
            }
        }
    }
    if (best) {
        return best;
    }
    if (starting || !congested) {
        return starting;
    }
    return taking_conns(sv) < sv->pool->up->max_conns ? NULL : congested;
}

static int taking_conns(const h2gw_server_t *sv)
{
    const h2gw_conn_t *conn;
    int n = 0;

    for (conn = sv->conns; conn; conn = conn->next) {
        if (h2gw_conn_is_taking(conn)) {
            ++n;
        }
    }
    return n;
}

/* Can sv take one more stream now, on an open connection or a new one? */
static int server_can_take(h2gw_server_t *sv, const h2gw_stream_t *st)
{
    return conn_with_room(sv, st) != NULL
           || taking_conns(sv) < sv->pool->up->max_conns;
}

/* Picks the server for st among those up with room; NULL when none has
 * room. *any_up tells whether some server is up at all. */
static h2gw_server_t *pick_server(h2gw_pool_t *pool, const h2gw_stream_t *st,
                                  apr_time_t now, int *any_up)
{
    h2gw_server_t *best = NULL;
    int i;

    *any_up = 0;
    if (pool->up->lb == H2GW_LB_ROUND_ROBIN) {
        for (i = 0; i < pool->nservers; ++i) {
            int k = (int)((pool->rr + (unsigned)i) % (unsigned)pool->nservers);
            h2gw_server_t *sv = &pool->servers[k];

            if (!server_is_up(sv, now)) {
                continue;
            }
            *any_up = 1;
            if (server_can_take(sv, st)) {
                pool->rr = (unsigned)k + 1;
                return sv;
            }
        }
        return NULL;
    }
    for (i = 0; i < pool->nservers; ++i) {
        h2gw_server_t *sv = &pool->servers[i];

        if (!server_is_up(sv, now)) {
            continue;
        }
        *any_up = 1;
        if ((!best || sv->nstreams < best->nstreams)
            && server_can_take(sv, st)) {
            best = sv;
        }
    }
    return best;
}

static void drop_engine_ref(h2gw_stream_t *st)
{
    if (st->engine_ref) {
        st->engine_ref = 0;
        h2gw_stream_unref(st);
    }
}

/* Every server is down: the stream fails at once with the cause its last
 * connection had, or "all servers down". */
static void fail_all_down(h2gw_pool_t *pool, h2gw_stream_t *st)
{
    const h2gw_server_t *last = NULL;
    int i;

    for (i = 0; i < pool->nservers; ++i) {
        if (!last || pool->servers[i].last_error_at > last->last_error_at) {
            last = &pool->servers[i];
        }
    }
    ++pool->c->all_down;
    if (last && last->last_fail == H2GW_FAIL_TLS) {
        /* A server we cannot talk TLS to is misconfigured on one side:
         * 502 (the gateway got an invalid answer), not "unavailable". */
        h2gw_stream_fail(st, H2GW_FAIL_TLS,
                         apr_pstrdup(st->pool, last->last_error));
    }
    else if (st->held_fail != H2GW_FAIL_NONE && !st->probed) {
        /* (A failed probe is answered as every server down: that is
         * the news, the probe's own failure is its last error.) */
        h2gw_stream_fail(st, st->held_fail,
                         st->held_reason ? st->held_reason : "connect failed");
    }
    else {
        h2gw_stream_fail(st, H2GW_FAIL_ALL_DOWN,
                         apr_psprintf(st->pool, "%d of %d down, last error: "
                                      "%s", pool->nservers, pool->nservers,
                                      last && *last->last_error
                                          ? last->last_error
                                          : "none"));
    }
    drop_engine_ref(st);
}

/* Is the pool's probe in flight (opened while every server was down: one
 * request at a time still tries one, see try_place)? */
static int probing(const h2gw_pool_t *pool)
{
    int i;

    for (i = 0; i < pool->nservers; ++i) {
        if (pool->servers[i].probing) {
            return 1;
        }
    }
    return 0;
}

/* The down server to probe: the one down longest (its retry= ends
 * first). Never one out by its health checks: those tell when it is
 * back. NULL when there is none. */
static h2gw_server_t *probe_server(h2gw_pool_t *pool)
{
    h2gw_server_t *best = NULL;
    int i;

    for (i = 0; i < pool->nservers; ++i) {
        h2gw_server_t *sv = &pool->servers[i];

        if (sv->hc_down) {
            continue;
        }
        if (!best || sv->down_until < best->down_until) {
            best = sv;
        }
    }
    return best;
}

/* Puts st on a connection of sv with room, or on a new one. Returns the
 * connection, or NULL when the connect failed at once (sv is marked
 * down, st holds the cause) or, with *resolving set, when sv's addresses
 * are being looked up (st waits for them in the queue). */
static h2gw_conn_t *place_on(h2gw_server_t *sv, h2gw_stream_t *st,
                             int *resolving)
{
    h2gw_conn_t *conn = conn_with_room(sv, st);
    apr_status_t rv;

    *resolving = 0;
    if (sv->addr && sv->res_pool && sv->pool->up->resolve > 0
        && apr_time_now() - sv->resolved_at > sv->pool->up->resolve) {
        /* Names move (containers, services): looked up again in the
         * background; the addresses known serve meanwhile. */
        (void)h2gw_server_resolve(sv);
    }
    if (!conn) {
        rv = h2gw_conn_create(&conn, sv, sv->pool->loop);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            *resolving = 1;  /* the host's addresses are being looked up */
            return NULL;
        }
        if (rv != APR_SUCCESS) {
            char buf[120];

            apr_strerror(rv, buf, sizeof(buf));
            h2gw_server_down(sv, H2GW_FAIL_CONNECT,
                                  apr_psprintf(st->pool, "connect: %s",
                                               buf));
            st->held_fail = H2GW_FAIL_CONNECT;
            st->held_reason = apr_pstrdup(st->pool, buf);
            return NULL;
        }
        conn->next = sv->conns;
        sv->conns = conn;
        ++sv->nconns;
        h2gw_server_gauges(sv);
    }
    ++st->placements;
    h2gw_conn_add_stream(conn, st);
    return conn;
}

/* Every server is down. Rather than wait out retry=, one request at a
 * time probes a server: recovery after an upstream restart then takes
 * one connect. A stream probes once; the probe's failure is answered
 * like every server down. Returns 1 when st went out as the probe, -1
 * when the probe is a lookup of the server's name that st waits for,
 * 0 when st cannot probe. */
static int try_probe(h2gw_pool_t *pool, h2gw_stream_t *st)
{
    h2gw_server_t *sv;
    h2gw_conn_t *conn;
    int resolving;

    if (probing(pool) || st->probed || st->waited_probe
        || pool->loop->stopping) {
        return 0;
    }
    if ((sv = probe_server(pool)) == NULL) {
        return 0;  /* every server is out by its health checks */
    }
    st->probed = 1;
    ++pool->c->probes;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, pool->loop->s,
                 "upstream %s: every server down; request %lu probes %s",
                 pool->up->name, st->id, sv->conf->url);
    conn = place_on(sv, st, &resolving);
    if (!conn && resolving) {
        /* The probe is the lookup: st waits in the queue for its outcome
         * (h2gw_pool_resolved). */
        sv->probe_resolving = 1;
        sv->probing = 1;
        return -1;
    }
    if (!conn) {
        return 0;
    }
    if (h2gw_conn_probe(conn)) {
        /* Over when it is ready or dies (h2gw_server_probe_done). */
        sv->probing = 1;
    }
    return 1;
}

/* st waits for the probe in flight: its outcome, not the connections
 * that failed for st before, decides whether st is placed. */
static void wait_probe(h2gw_stream_t *st)
{
    st->waited_probe = 1;
    st->connect_fails = 0;
}

/* Every server is down: st probes one, or waits in the queue for the
 * probe in flight (placed once it gets through; 503 when it fails: the
 * queue is dispatched after each event batch), or fails. Waiting costs
 * at most one connect- plus settings-timeout, and no request is lost to
 * a restart's short gap (a connection that broke before its SETTINGS
 * marks its server down, and the requests it held would otherwise fail
 * at once). Returns as try_place(). */
static int place_all_down(h2gw_pool_t *pool, h2gw_stream_t *st)
{
    if (probing(pool) && !st->probed) {
        wait_probe(st);
        return 0;
    }
    switch (try_probe(pool, st)) {
    case 1:
        return 1;
    case -1:
        return 0;  /* waits for the lookup the probe started */
    default:
        fail_all_down(pool, st);
        return 1;
    }
}

/* Addresses over all servers (a server not resolved yet counts one):
 * a stream whose connections failed to come up that often has had each
 * address tried. */
static int addr_count(const h2gw_pool_t *pool)
{
    int i, n = 0;

    for (i = 0; i < pool->nservers; ++i) {
        n += pool->servers[i].naddrs > 1 ? pool->servers[i].naddrs : 1;
    }
    return n;
}

/* Tries to put st on a connection. Returns 1 when placed (or failed for
 * good: it is no longer the pool's), 0 when it must wait. */
static int try_place(h2gw_pool_t *pool, h2gw_stream_t *st, apr_time_t now)
{
    int guard, resolving;

    for (guard = 0; guard <= pool->nservers; ++guard) {
        int any_up;
        h2gw_server_t *sv = pick_server(pool, st, now, &any_up);

        if (!any_up) {
            return place_all_down(pool, st);
        }
        if (st->connect_fails >= addr_count(pool)) {
            /* As many connections failed to come up for it as there are
             * servers, and yet some are "up" (a short retry=, or 0): they
             * would be tried again and again. */
            fail_all_down(pool, st);
            return 1;
        }
        if (!sv) {
            return 0;
        }
        if (place_on(sv, st, &resolving)) {
            return 1;
        }
        if (resolving) {
            return 0;  /* waits in the queue for the addresses */
        }
    }
    return place_all_down(pool, st);
}

static void enqueue(h2gw_pool_t *pool, h2gw_stream_t *st, int front)
{
    if (!st->queued) {
        st->queue_deadline = apr_time_now() + pool->up->queue_timeout;
        ++pool->c->queued_total;
    }
    st->queued = 1;
    if (probing(pool) && !st->probed) {
        wait_probe(st);
    }
    h2gw_loop_timer(pool->loop, st->queue_deadline);
    if (front) {
        st->retry_next = pool->queue_head;
        pool->queue_head = st;
        if (!pool->queue_tail) {
            pool->queue_tail = st;
        }
    }
    else {
        st->retry_next = NULL;
        if (pool->queue_tail) {
            pool->queue_tail->retry_next = st;
        }
        else {
            pool->queue_head = st;
        }
        pool->queue_tail = st;
    }
    ++pool->nqueued;
    pool->ug->queued = pool->nqueued;
}

static h2gw_stream_t *dequeue(h2gw_pool_t *pool)
{
    h2gw_stream_t *st = pool->queue_head;

    if (st) {
        pool->queue_head = st->retry_next;
        if (!pool->queue_head) {
            pool->queue_tail = NULL;
        }
        st->retry_next = NULL;
        --pool->nqueued;
        pool->ug->queued = pool->nqueued;
    }
    return st;
}

int h2gw_pool_unqueue(h2gw_pool_t *pool, h2gw_stream_t *st)
{
    h2gw_stream_t **pp = &pool->queue_head, *prev = NULL;

    if (!st->queued) {
        return 0;
    }
    while (*pp && *pp != st) {
        prev = *pp;
        pp = &(*pp)->retry_next;
    }
    if (!*pp) {
        return 0;
    }
    *pp = st->retry_next;
    if (pool->queue_tail == st) {
        pool->queue_tail = prev;
    }
    st->retry_next = NULL;
    st->queued = 0;
    --pool->nqueued;
    pool->ug->queued = pool->nqueued;
    return 1;
}

/* A stream is placed again only when its connection gave it back
 * unsent or it was refused; every such round costs a retry or marks a
 * server down, so this many placements means a bug: fail it rather than
 * spin the engine. */
#define MAX_PLACEMENTS 64

void h2gw_pool_place(h2gw_pool_t *pool, h2gw_stream_t *st)
{
    if (st->placements >= MAX_PLACEMENTS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, pool->loop->s,
                     H2GW_LOGNO(00110) "upstream %s: request placed %d "
                     "times without being sent; given up",
                     pool->up->name, st->placements);
        h2gw_stream_fail(st, H2GW_FAIL_INTERNAL, "placed too often");
        drop_engine_ref(st);
        return;
    }
    if (pool->loop->stopping) {
        h2gw_stream_fail(st, H2GW_FAIL_CONNECT, "server shutting down");
        drop_engine_ref(st);
        return;
    }
    /* Streams queued earlier go first. */
    if (pool->nqueued == 0 && try_place(pool, st, apr_time_now())) {
        st->queued = 0;
        return;
    }
    /* A stream given back by a connection already waited: it goes
     * first. */
    enqueue(pool, st, st->placements > 0);
}

void h2gw_pool_dispatch(h2gw_pool_t *pool)
{
    apr_time_t now = apr_time_now();
    h2gw_stream_t *st;

    while ((st = dequeue(pool)) != NULL) {
        if (st->handler_gone) {
            st->queued = 0;
            drop_engine_ref(st);
            continue;
        }
        if (now >= st->queue_deadline) {
            st->queued = 0;
            ++pool->c->queue_timeouts;
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, pool->loop->s,
                         H2GW_LOGNO(00106) "upstream %s: no free stream "
                         "within queue-timeout (%" APR_TIME_T_FMT " ms; "
                         "%d waiting)", pool->up->name,
                         apr_time_as_msec(pool->up->queue_timeout),
                         pool->nqueued);
            h2gw_stream_fail(st, H2GW_FAIL_QUEUE_TIMEOUT,
                             "no free upstream stream within "
                             "queue-timeout");
            drop_engine_ref(st);
            continue;
        }
        if (!try_place(pool, st, now)) {
            /* Still no room: it keeps its place at the head. */
            enqueue(pool, st, 1);
            break;
        }
        st->queued = 0;
    }
    /* Deadlines of those still waiting. */
    for (st = pool->queue_head; st; st = st->retry_next) {
        h2gw_loop_timer(pool->loop, st->queue_deadline);
        break;  /* FIFO with one timeout: the head expires first */
    }
}

int h2gw_pool_place_check(h2gw_server_t *sv, h2gw_stream_t *st)
{
    int resolving;

    if (!server_can_take(sv, st)) {
        return 0;  /* busy: it answers requests, the next check will do */
    }
    h2gw_stream_ref(st);
    st->engine_ref = 1;
    if (place_on(sv, st, &resolving)) {
        return 1;
    }
    drop_engine_ref(st);
    return resolving ? 0 : -1;
}

void h2gw_pool_stop(h2gw_pool_t *pool)
{
    h2gw_stream_t *st;

    while ((st = pool->queue_head) != NULL) {
        h2gw_pool_unqueue(pool, st);
        h2gw_stream_fail(st, H2GW_FAIL_CONNECT, "server shutting down");
        st->engine_ref = 0;
        h2gw_stream_unref(st);
    }
    pool_drain(pool, "child process exiting");
}

void h2gw_pool_check_timers(h2gw_pool_t *pool, apr_time_t now)
{
    int i;

    for (i = 0; i < pool->nservers; ++i) {
        h2gw_conn_t *conn;

        for (conn = pool->servers[i].conns; conn; conn = conn->next) {
            h2gw_conn_check_timers(conn, now);
        }
    }
    if (pool->queue_head) {
        h2gw_pool_dispatch(pool);
    }
}

void h2gw_pool_flush_and_reap(h2gw_pool_t *pool, int kill_all)
{
    int i;

    for (i = 0; i < pool->nservers; ++i) {
        h2gw_server_t *sv = &pool->servers[i];
        h2gw_conn_t **pconn = &sv->conns;

        while (*pconn) {
            h2gw_conn_t *conn = *pconn;

            if (kill_all) {
                h2gw_conn_kill(conn, H2GW_FAIL_CONN_LOST,
                               "server shutting down");
            }
            h2gw_conn_flush(conn);
            if (h2gw_conn_is_dead(conn)) {
                *pconn = conn->next;
                --sv->nconns;
                h2gw_server_gauges(sv);
                h2gw_conn_destroy(conn);
                continue;
            }
            pconn = &conn->next;
        }
    }
}

int h2gw_pool_active(const h2gw_pool_t *pool, int *nconns)
{
    int i, n = 0;

    *nconns = 0;
    for (i = 0; i < pool->nservers; ++i) {
        n += pool->servers[i].nstreams;
        *nconns += pool->servers[i].nconns;
    }
    return n + pool->nqueued;
}

/* The status page's view of one server. */
static void server_snapshot(const h2gw_pool_t *pool, const h2gw_server_t *sv,
                            apr_pool_t *p, apr_time_t now,
                            h2gw_server_snap_t *ss)
{
    const h2gw_conn_t *conn;

    memset(ss, 0, sizeof(*ss));
    ss->url = apr_pstrdup(p, sv->conf->url);
    ss->up = sv->down_until <= now && !sv->hc_down;
    ss->down_ms = sv->down_until > now
                      ? apr_time_as_msec(sv->down_until - now) : 0;
    ss->peer_streams = ss->peer_window = ss->peer_frame = -1;
    for (conn = sv->conns; conn; conn = conn->next) {
        int streams, window, frame;

        switch (h2gw_conn_seen(conn, &streams, &window, &frame)) {
        case H2GW_CONN_SEEN_GONE:
            continue;
        case H2GW_CONN_SEEN_STARTING:
            ++ss->conns_starting;
            break;
        case H2GW_CONN_SEEN_OPEN:
            ++ss->conns_open;
            break;
        case H2GW_CONN_SEEN_DRAINING:
            ++ss->conns_draining;
            break;
        }
        if (streams >= 0 && ss->peer_streams < 0) {
            ss->peer_streams = streams;
            ss->peer_window = window;
            ss->peer_frame = frame;
        }
    }
    ss->streams = sv->nstreams;
    ss->check = pool->up->hc_kind == H2GW_HC_NONE ? "off"
                : sv->hc_down                     ? "down"
                                                  : "up";
    ss->check_last = apr_pstrdup(p, sv->hc_last);
    ss->checked = sv->hc_last_at != 0;
    ss->check_age_ms = sv->hc_last_at ? apr_time_as_msec(now - sv->hc_last_at)
                                      : -1;
    ss->check_fails = sv->hc_fails;
    ss->check_passes = sv->hc_passes;
    ss->c = *sv->c;
    ss->last_error = apr_pstrdup(p, sv->last_error);
    ss->last_error_age_ms = sv->last_error_at
                                ? apr_time_as_msec(now - sv->last_error_at)
                                : -1;
}

void h2gw_pool_snapshot(const h2gw_pool_t *pool, apr_pool_t *p,
                        apr_time_t now, h2gw_pool_snap_t *snap)
{
    int j;

    snap->name = apr_pstrdup(p, pool->up->name);
    snap->lb = pool->up->lb == H2GW_LB_ROUND_ROBIN ? "round-robin"
                                                   : "least-streams";
    snap->max_conns = pool->up->max_conns;
    snap->max_streams = pool->up->max_streams;
    snap->queued = pool->nqueued;
    snap->c = *pool->c;
    snap->nservers = pool->nservers;
    snap->servers = apr_pcalloc(p, sizeof(*snap->servers)
                                       * (apr_size_t)(pool->nservers
                                                      ? pool->nservers : 1));
    for (j = 0; j < pool->nservers; ++j) {
        server_snapshot(pool, &pool->servers[j], p, now, &snap->servers[j]);
    }
}

void h2gw_pool_resolved(h2gw_resolution_t *res)
{
    h2gw_server_t *sv = res->ctx;
    h2gw_pool_t *pool = sv->pool;

    h2gw_server_resolved(sv, res);
    if (sv->probe_resolving) {
        sv->probe_resolving = 0;
        h2gw_server_probe_done(sv);
    }
    h2gw_pool_dispatch(pool);
}

void h2gw_pool_destroy(h2gw_pool_t *pool)
{
    int i;

    for (i = 0; i < pool->nservers; ++i) {
        h2gw_server_destroy(&pool->servers[i]);
    }
}
