/*
 * h2gw_engine: the per-process I/O thread. One loop: poll the upstream
 * sockets (and the wakeup pipe), run the inbox of streams the handlers
 * flagged, flush every connection, fire due timers, reap dead
 * connections. Handlers and engine meet only in h2gw_stream_t, whose lock
 * is never held while the inbox lock is taken.
 */
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_hash.h>

#include "mod_h2gw.h"
#include "h2gw_engine.h"
#include "h2gw_resolve.h"
#include "h2gw_conn.h"
#include "h2gw_pool.h"
#include "h2gw_health.h"

APLOG_USE_MODULE(h2gw);

/* Poll descriptors: upstream connections plus headroom; the pollset
 * grows no further, so this caps connections per process. */
#define ENGINE_MAX_FDS 1024

/* How long an exiting child lets in-flight upstream streams finish. */
#define ENGINE_STOP_GRACE apr_time_from_sec(5)

struct h2gw_engine_t {
    apr_pool_t *pool;          /* unmanaged; the engine thread's alone */
    server_rec *s;
    apr_thread_t *thread;
    apr_pollset_t *pollset;
    apr_thread_mutex_t *inbox_lock;  /* in the engine pool (its memory is
                                      * the engine's own, the lock shared);
                                      * guards the fields below */
    h2gw_stream_t *inbox_head, *inbox_tail;
    int woken;                 /* a wakeup is pending */
    int shutdown;
    h2gw_status_req_t *status_reqs;  /* snapshots asked for */
    /* Engine thread only. */
    h2gw_loop_t loop;
    apr_hash_t *pools;         /* h2gw_upstream_t * → h2gw_pool_t */
    apr_array_header_t *pool_list;   /* h2gw_pool_t *, in creation order */
};

static h2gw_engine_t *the_engine;

h2gw_engine_t *h2gw_engine_get(void)
{
    return the_engine;
}

/* ---- handler side ----------------------------------------------------- */

/* Puts st in the inbox; wakes the engine unless `lazy` (then it is seen
 * at the engine's next wake-up, whatever its cause). */
static void put_inbox(h2gw_engine_t *e, h2gw_stream_t *st, int lazy)
{
    int wake = 0;

    if (!h2gw_stream_enter_inbox(st)) {
        return;
    }
    apr_thread_mutex_lock(e->inbox_lock);
    st->inbox_next = NULL;
    if (e->inbox_tail) {
        e->inbox_tail->inbox_next = st;
    }
    else {
        e->inbox_head = st;
    }
    e->inbox_tail = st;
    if (!e->woken && !lazy) {
        e->woken = 1;
        wake = 1;
    }
    apr_thread_mutex_unlock(e->inbox_lock);
    if (wake) {
        apr_pollset_wakeup(e->pollset);
    }
}

void h2gw_engine_notify(h2gw_engine_t *e, h2gw_stream_t *st)
{
    put_inbox(e, st, 0);
}

/* Bytes written to the client that are told the engine at once, for a
 * stream to up: the window is given back in batches, one engine wake-up
 * each: a quarter of the stream window (nghttp2 sends WINDOW_UPDATE at
 * half), and small enough that the streams of a full connection cannot
 * hold back half the connection window. */
static size_t consume_batch(const h2gw_upstream_t *up)
{
    size_t batch = (size_t)up->stream_window / 4;
    size_t conn_share = (size_t)up->conn_window
                        / (4 * (size_t)(up->max_streams > 0 ? up->max_streams
                                                            : 1));

    return batch < conn_share ? batch : conn_share;
}

apr_status_t h2gw_engine_submit(h2gw_engine_t *e, h2gw_stream_t *st)
{
    int down;

    apr_thread_mutex_lock(e->inbox_lock);
    down = e->shutdown;
    apr_thread_mutex_unlock(e->inbox_lock);
    if (down) {
        return APR_ECONNABORTED;
    }
    /* Not shared yet: set without the lock. */
    st->consume_batch = consume_batch(st->target.upstream);
    h2gw_stream_queue(st, 1);
    h2gw_engine_notify(e, st);
    return APR_SUCCESS;
}

/* Consumption is told at least this often while it goes on: the engine
 * counts it as the stream's progress (read-timeout). */
#define CONSUME_TELL_AFTER apr_time_from_msec(250)

void h2gw_engine_consumed(h2gw_engine_t *e, h2gw_stream_t *st, size_t n)
{
    if (h2gw_stream_add_consumed(st, n, apr_time_now(),
                                 CONSUME_TELL_AFTER)) {
        h2gw_engine_notify(e, st);
    }
}

void h2gw_engine_consumed_now(h2gw_engine_t *e, h2gw_stream_t *st)
{
    if (h2gw_stream_add_consumed(st, 0, apr_time_now(), 0)) {
        h2gw_engine_notify(e, st);
    }
}

void h2gw_engine_release(h2gw_engine_t *e, h2gw_stream_t *st)
{
    int lazy;

    if (h2gw_stream_let_go(st, &lazy)) {
        put_inbox(e, st, lazy);
    }
    h2gw_stream_unref(st);
}

/* ---- engine side ------------------------------------------------------ */

static h2gw_pool_t *get_pool(h2gw_engine_t *e, const h2gw_upstream_t *up)
{
    h2gw_pool_t *pool = apr_hash_get(e->pools, &up, sizeof(up));

    if (!pool) {
        pool = h2gw_pool_create(&e->loop, up);
        h2gw_health_init(pool);
        apr_hash_set(e->pools, &pool->up, sizeof(pool->up), pool);
        APR_ARRAY_PUSH(e->pool_list, h2gw_pool_t *) = pool;
    }
    return pool;
}

static void run_inbox(h2gw_engine_t *e)
{
    h2gw_stream_t *st, *next;

    apr_thread_mutex_lock(e->inbox_lock);
    st = e->inbox_head;
    e->inbox_head = e->inbox_tail = NULL;
    e->woken = 0;
    apr_thread_mutex_unlock(e->inbox_lock);

    for (; st; st = next) {
        h2gw_stream_asks_t asks;

        next = st->inbox_next;
        h2gw_stream_take_asks(st, &asks);
        if (asks.submit && !asks.cancel) {
            h2gw_stream_ref(st);
            st->engine_ref = 1;
            st->retries_left = st->target.retries;
            h2gw_pool_place(get_pool(e, st->target.upstream), st);
        }
        if (st->conn && !h2gw_conn_is_dead(st->conn)) {
            h2gw_conn_stream_update(st->conn, st, asks.resume, asks.consumed,
                                    asks.cancel);
        }
        else if (asks.cancel) {
            st->handler_gone = 1;  /* e.g. waiting in the retry list */
            if (st->queued
                && h2gw_pool_unqueue(get_pool(e, st->target.upstream), st)
                && st->engine_ref) {
                st->engine_ref = 0;
                h2gw_stream_unref(st);
            }
        }
        h2gw_stream_unref(st);  /* the inbox's reference */
    }
}

static void run_timers(h2gw_engine_t *e)
{
    apr_time_t now = apr_time_now();
    int i;

    if (!e->loop.next_timer || now < e->loop.next_timer) {
        return;
    }
    e->loop.next_timer = 0;
    for (i = 0; i < e->pool_list->nelts; ++i) {
        h2gw_pool_t *pool = APR_ARRAY_IDX(e->pool_list, i, h2gw_pool_t *);

        h2gw_health_timers(pool, now);
        h2gw_pool_check_timers(pool, now);
    }
}

/* Places queued streams, flushes every connection, destroys dead ones. */
static void flush_and_reap(h2gw_engine_t *e, int kill_all)
{
    int i;

    for (i = 0; i < e->pool_list->nelts; ++i) {
        h2gw_pool_t *pool = APR_ARRAY_IDX(e->pool_list, i, h2gw_pool_t *);

        if (pool->nqueued && !kill_all) {
            h2gw_pool_dispatch(pool);
        }
        h2gw_pool_flush_and_reap(pool, kill_all);
        /* Checks whose stream ended above or in the events before. */
        h2gw_health_collect(pool);
    }
}

/* Places the streams connections gave back; returns how many. */
static int run_retries(h2gw_engine_t *e)
{
    h2gw_stream_t *st = e->loop.retries, *next;
    int placed = 0;

    e->loop.retries = NULL;
    for (; st; st = next) {
        next = st->retry_next;
        st->retry_next = NULL;
        if (st->handler_gone) {
            st->engine_ref = 0;
            h2gw_stream_unref(st);
            continue;
        }
        h2gw_pool_place(get_pool(e, st->target.upstream), st);
        ++placed;
    }
    return placed;
}

/* Streams active and connections open over every pool. */
static int engine_active(h2gw_engine_t *e, int *nconns)
{
    int i, n = 0, c;

    *nconns = 0;
    for (i = 0; i < e->pool_list->nelts; ++i) {
        n += h2gw_pool_active(APR_ARRAY_IDX(e->pool_list, i, h2gw_pool_t *),
                              &c);
        *nconns += c;
    }
    return n;
}

/* The child is exiting: every connection says GOAWAY and closes once its
 * streams are done (handlers have finished by now, so those are few). */
static void begin_stop(h2gw_engine_t *e)
{
    int i;

    e->loop.stopping = 1;
    for (i = 0; i < e->pool_list->nelts; ++i) {
        h2gw_pool_stop(APR_ARRAY_IDX(e->pool_list, i, h2gw_pool_t *));
    }
}

/* Hands the resolver's answers to their servers. */
static void run_resolved(h2gw_engine_t *e)
{
    h2gw_resolution_t *res = h2gw_resolver_take(e->loop.resolver);

    while (res) {
        h2gw_resolution_t *next = res->next;

        h2gw_pool_resolved(res);
        res = next;
    }
}

/* Called on the resolver thread when an answer is ready. */
static void resolver_wake(void *data)
{
    h2gw_engine_t *e = data;

    apr_pollset_wakeup(e->pollset);
}

/* Answers the status snapshots handlers asked for: a copy of each pool's
 * state, which the status page renders on its own thread. */
static void run_status(h2gw_engine_t *e)
{
    h2gw_status_req_t *req;

    apr_thread_mutex_lock(e->inbox_lock);
    req = e->status_reqs;
    e->status_reqs = NULL;
    apr_thread_mutex_unlock(e->inbox_lock);
    while (req) {
        h2gw_status_req_t *next = req->next;

        apr_time_t now = apr_time_now();
        int i;

        req->pools = apr_array_make(req->pool, e->pool_list->nelts,
                                    sizeof(h2gw_pool_snap_t));
        for (i = 0; i < e->pool_list->nelts; ++i) {
            h2gw_pool_snapshot(APR_ARRAY_IDX(e->pool_list, i, h2gw_pool_t *),
                               req->pool, now,
                               apr_array_push(req->pools));
        }
        apr_thread_mutex_lock(req->lock);
        req->done = 1;
        apr_thread_cond_signal(req->cond);
        apr_thread_mutex_unlock(req->lock);
        req = next;
    }
}

static void *APR_THREAD_FUNC engine_main(apr_thread_t *thread, void *data)
{
    h2gw_engine_t *e = data;
    apr_time_t stop_by = 0;

    e->loop.pollset = e->pollset;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, e->s,
                 H2GW_LOGNO(00102) "engine thread started");
    for (;;) {
        const apr_pollfd_t *fds;
        apr_int32_t n = 0, i;
        apr_interval_time_t timeout = -1;
        apr_status_t rv;
        int down, nconns;

        if (e->loop.next_timer) {
            timeout = e->loop.next_timer - apr_time_now();
            if (timeout < 0) {
                timeout = 0;
            }
        }
        if (stop_by) {
            timeout = apr_time_from_msec(50);
        }
        rv = apr_pollset_poll(e->pollset, timeout, &n, &fds);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)
            && !APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, e->s,
                         H2GW_LOGNO(00103) "engine: poll failed");
            n = 0;
        }
        for (i = 0; rv == APR_SUCCESS && i < n; ++i) {
            h2gw_conn_on_event(fds[i].client_data, fds[i].rtnevents);
        }
        run_inbox(e);
        run_resolved(e);
        run_timers(e);
        run_status(e);
        apr_thread_mutex_lock(e->inbox_lock);
        down = e->shutdown;
        apr_thread_mutex_unlock(e->inbox_lock);
        if (down && !stop_by) {
            stop_by = apr_time_now() + ENGINE_STOP_GRACE;
            begin_stop(e);
        }
        /* Flushing can give back streams (a connection dying under unsent
         * ones): place them until none is left; each give-back either
         * costs a retry or marks a server down, which bounds this. */
        do {
            run_retries(e);
            flush_and_reap(e, stop_by && apr_time_now() >= stop_by);
        } while (e->loop.retries);
        if (stop_by && (engine_active(e, &nconns) == 0 && nconns == 0)) {
            break;
        }
        if (stop_by && apr_time_now() >= stop_by) {
            break;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, e->s,
                 H2GW_LOGNO(00104) "engine thread stopped");
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static apr_status_t engine_stop(void *data)
{
    h2gw_engine_t *e = data;
    apr_status_t trv;

    apr_thread_mutex_lock(e->inbox_lock);
    e->shutdown = 1;
    apr_thread_mutex_unlock(e->inbox_lock);
    apr_pollset_wakeup(e->pollset);
    apr_thread_join(&trv, e->thread);
    /* (A lookup in progress finishes first; its answer is dropped.) */
    h2gw_resolver_stop(e->loop.resolver);
    /* Streams still in the inbox belong to handlers that have finished:
     * drop the inbox references, and the engine's of unplaced retries. */
    run_inbox(e);
    run_status(e);
    while (e->loop.retries) {
        h2gw_stream_t *st = e->loop.retries;

        e->loop.retries = st->retry_next;
        h2gw_stream_fail(st, H2GW_FAIL_CONN_LOST, "server shutting down");
        st->engine_ref = 0;
        h2gw_stream_unref(st);
    }
    begin_stop(e);
    flush_and_reap(e, 1);
    {
        int i;

        for (i = 0; i < e->pool_list->nelts; ++i) {
            h2gw_pool_t *pool = APR_ARRAY_IDX(e->pool_list, i, h2gw_pool_t *);

            h2gw_health_destroy(pool);
            h2gw_pool_destroy(pool);
        }
    }
    the_engine = NULL;
    apr_pollset_destroy(e->pollset);
    apr_pool_destroy(e->pool);
    return APR_SUCCESS;
}

/* How long a status page waits for the engine's snapshot before it takes
 * its request back (a snapshot takes well under a millisecond). */
#define STATUS_WAIT apr_time_from_sec(5)

apr_status_t h2gw_engine_status(h2gw_engine_t *e, h2gw_status_req_t *req)
{
    int down;

    apr_thread_mutex_lock(e->inbox_lock);
    down = e->shutdown;
    if (!down) {
        req->next = e->status_reqs;
        e->status_reqs = req;
    }
    apr_thread_mutex_unlock(e->inbox_lock);
    if (down) {
        return APR_ECONNABORTED;
    }
    apr_pollset_wakeup(e->pollset);
    apr_thread_mutex_lock(req->lock);
    while (!req->done) {
        if (apr_thread_cond_timedwait(req->cond, req->lock,
                                      STATUS_WAIT) == APR_TIMEUP
            && !req->done) {
            /* A stuck or stopping engine: take the request back unless
             * the engine already took it (then it is being answered). */
            h2gw_status_req_t **pp;
            int taken_back = 0;

            apr_thread_mutex_lock(e->inbox_lock);
            for (pp = &e->status_reqs; *pp; pp = &(*pp)->next) {
                if (*pp == req) {
                    *pp = req->next;
                    taken_back = 1;
                    break;
                }
            }
            apr_thread_mutex_unlock(e->inbox_lock);
            if (taken_back) {
                apr_thread_mutex_unlock(req->lock);
                return APR_TIMEUP;
            }
        }
    }
    apr_thread_mutex_unlock(req->lock);
    return APR_SUCCESS;
}

apr_status_t h2gw_engine_start(apr_pool_t *pchild, server_rec *s)
{
    h2gw_engine_t *e;
    apr_pool_t *pool;
    apr_threadattr_t *attr;
    apr_status_t rv;

    /* Unmanaged: only the engine thread allocates from it, so it must not
     * share pchild's allocator with the worker threads. */
    if ((rv = apr_pool_create_unmanaged_ex(&pool, NULL, NULL))
        != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(pool, "h2gw_engine");
    e = apr_pcalloc(pool, sizeof(*e));
    e->pool = pool;
    e->s = s;
    e->pools = apr_hash_make(pool);
    e->pool_list = apr_array_make(pool, 8, sizeof(h2gw_pool_t *));
    e->loop.pool = pool;
    e->loop.s = s;
    e->loop.slot = h2gw_counters_mine();
    {
        /* Every configured upstream, so the status page lists them all. */
        const apr_array_header_t *ups = h2gw_config_upstreams();
        int i;

        for (i = 0; ups && i < ups->nelts; ++i) {
            const h2gw_upstream_t *up = APR_ARRAY_IDX(ups, i,
                                                      const h2gw_upstream_t *);

            if (!up->same_as) {
                get_pool(e, up);
            }
        }
    }
    if ((rv = apr_thread_mutex_create(&e->inbox_lock,
                                      APR_THREAD_MUTEX_DEFAULT, pool))
            != APR_SUCCESS
        || (rv = apr_pollset_create(&e->pollset, ENGINE_MAX_FDS, pool,
                                    APR_POLLSET_WAKEABLE
                                    | APR_POLLSET_NOCOPY))
            != APR_SUCCESS
        || (rv = h2gw_resolver_start(&e->loop.resolver, pool,
                                     resolver_wake, e)) != APR_SUCCESS
        || (rv = apr_threadattr_create(&attr, pool)) != APR_SUCCESS
        || (rv = apr_thread_create(&e->thread, attr, engine_main, e, pool))
            != APR_SUCCESS) {
        if (e->loop.resolver) {
            h2gw_resolver_stop(e->loop.resolver);
        }
        apr_pool_destroy(pool);
        return rv;
    }
    the_engine = e;
    apr_pool_cleanup_register(pchild, e, engine_stop, apr_pool_cleanup_null);
    return APR_SUCCESS;
}
