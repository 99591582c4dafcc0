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
#include "h2gw_conn.h"

APLOG_USE_MODULE(h2gw);

/* Poll descriptors: upstream connections plus headroom; the pollset
 * grows no further, so this caps connections per process. */
#define ENGINE_MAX_FDS 1024

struct h2gw_engine_t {
    apr_pool_t *pool;          /* unmanaged; the engine thread's alone */
    server_rec *s;
    apr_thread_t *thread;
    apr_pollset_t *pollset;
    apr_thread_mutex_t *inbox_lock;  /* from pchild; guards the fields below */
    h2gw_stream_t *inbox_head, *inbox_tail;
    int woken;                 /* a wakeup is pending */
    int shutdown;
    /* Engine thread only. */
    apr_hash_t *upsets;        /* target key → h2gw_upset_t */
    unsigned long next_conn_id;
    apr_time_t next_timer;     /* nearest deadline, 0 = none */
    h2gw_stream_t *retries;    /* streams to place again (engine refs) */
};

static h2gw_engine_t *the_engine;

h2gw_engine_t *h2gw_engine_get(void)
{
    return the_engine;
}

/* ---- handler side ----------------------------------------------------- */

void h2gw_engine_notify(h2gw_engine_t *e, h2gw_stream_t *st)
{
    int push = 0, wake = 0;

    apr_thread_mutex_lock(st->lock);
    if (!st->in_inbox) {
        st->in_inbox = 1;
        ++st->refs;            /* the inbox's reference */
        push = 1;
    }
    apr_thread_mutex_unlock(st->lock);
    if (!push) {
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
    if (!e->woken) {
        e->woken = 1;
        wake = 1;
    }
    apr_thread_mutex_unlock(e->inbox_lock);
    if (wake) {
        apr_pollset_wakeup(e->pollset);
    }
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
    apr_thread_mutex_lock(st->lock);
    st->state = H2GW_STREAM_ST_QUEUED;
    st->pend_submit = 1;
    apr_thread_mutex_unlock(st->lock);
    h2gw_engine_notify(e, st);
    return APR_SUCCESS;
}

void h2gw_engine_consumed(h2gw_engine_t *e, h2gw_stream_t *st, size_t n)
{
    apr_thread_mutex_lock(st->lock);
    st->pend_consumed += n;
    apr_thread_mutex_unlock(st->lock);
    h2gw_engine_notify(e, st);
}

void h2gw_engine_release(h2gw_engine_t *e, h2gw_stream_t *st)
{
    int submitted;

    apr_thread_mutex_lock(st->lock);
    submitted = (st->state != H2GW_STREAM_ST_INIT);
    st->pend_cancel = 1;
    apr_thread_mutex_unlock(st->lock);
    if (submitted) {
        h2gw_engine_notify(e, st);
    }
    h2gw_stream_unref(st);
}

/* ---- engine side ------------------------------------------------------ */

static h2gw_upset_t *get_upset(h2gw_engine_t *e, const h2gw_target_t *t)
{
    h2gw_upset_t *up = apr_hash_get(e->upsets, t->key, APR_HASH_KEY_STRING);

    if (!up) {
        up = apr_pcalloc(e->pool, sizeof(*up));
        up->target = *t;
        up->key = up->target.key = apr_pstrdup(e->pool, t->key);
        up->target.scheme = apr_pstrdup(e->pool, t->scheme);
        up->target.host = apr_pstrdup(e->pool, t->host);
        apr_pool_create(&up->addr_pool, e->pool);
        apr_hash_set(e->upsets, up->key, APR_HASH_KEY_STRING, up);
    }
    return up;
}

/* Places a stream on a connection of its upstream: the first with room;
 * a new one when all are full or going away; past
 * H2GW_CONN_MAX_PER_UPSTREAM taking ones, the least busy. A new stream
 * gets the engine's reference; a retried one has it already. */
static void place_stream(h2gw_engine_t *e, h2gw_stream_t *st)
{
    h2gw_upset_t *up = get_upset(e, &st->target);
    h2gw_conn_t *conn, *least = NULL;
    int taking = 0;
    apr_status_t rv;

    for (conn = up->conns; conn; conn = conn->next) {
        /* A resent stream goes to another connection than the one that
         * did not process it (ARCHITECTURE.md §4). */
        int avoid = (st->retried_from == conn->id);

        if (!avoid && h2gw_conn_has_room(conn)) {
            break;
        }
        if (h2gw_conn_is_taking(conn)) {
            ++taking;
            if (!least || conn->nactive < least->nactive) {
                least = conn;
            }
        }
    }
    if (!conn && taking >= H2GW_CONN_MAX_PER_UPSTREAM) {
        conn = least;
    }
    if (!conn) {
        rv = h2gw_conn_create(&conn, up, e->pool, e->pollset, e->s,
                              ++e->next_conn_id, &e->retries);
        if (rv != APR_SUCCESS) {
            char buf[120];

            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, e->s,
                         H2GW_LOGNO(00101) "upstream %s: cannot connect",
                         up->key);
            h2gw_stream_fail(st, H2GW_FAIL_CONNECT,
                            apr_psprintf(st->pool, "%s",
                                         apr_strerror(rv, buf, sizeof(buf))));
            if (st->engine_ref) {
                st->engine_ref = 0;
                h2gw_stream_unref(st);
            }
            return;
        }
        conn->next = up->conns;
        up->conns = conn;
    }
    if (!st->engine_ref) {
        h2gw_stream_ref(st);
        st->engine_ref = 1;
        st->retries_left = st->target.retries;
    }
    /* A resent stream gets a full timeout again: the first attempt was
     * never processed. */
    st->deadline = apr_time_now() + st->target.timeout;
    if (!e->next_timer || st->deadline < e->next_timer) {
        e->next_timer = st->deadline;
    }
    if (conn->connect_deadline
        && (!e->next_timer || conn->connect_deadline < e->next_timer)) {
        e->next_timer = conn->connect_deadline;
    }
    h2gw_conn_add_stream(conn, st);
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
        int submit, resume, cancel;
        size_t consumed;

        next = st->inbox_next;
        apr_thread_mutex_lock(st->lock);
        st->in_inbox = 0;
        submit = st->pend_submit;
        resume = st->pend_resume;
        cancel = st->pend_cancel;
        consumed = st->pend_consumed;
        st->pend_submit = st->pend_resume = st->pend_cancel = 0;
        st->pend_consumed = 0;
        apr_thread_mutex_unlock(st->lock);

        if (submit && !cancel) {
            place_stream(e, st);
        }
        if (st->conn && !((h2gw_conn_t *)st->conn)->dead) {
            h2gw_conn_stream_update(st->conn, st, resume, consumed, cancel);
        }
        else if (cancel) {
            st->handler_gone = 1;  /* e.g. waiting in the retry list */
        }
        h2gw_stream_unref(st);  /* the inbox's reference */
    }
}

static void run_timers(h2gw_engine_t *e)
{
    apr_time_t now = apr_time_now(), next = 0;
    apr_hash_index_t *hi;

    if (!e->next_timer || now < e->next_timer) {
        return;
    }
    for (hi = apr_hash_first(NULL, e->upsets); hi; hi = apr_hash_next(hi)) {
        h2gw_upset_t *up = apr_hash_this_val(hi);
        h2gw_conn_t *conn;

        for (conn = up->conns; conn; conn = conn->next) {
            h2gw_conn_check_timers(conn, now, &next);
        }
    }
    e->next_timer = next;
}

/* Flushes every connection and destroys the dead ones. */
static void flush_and_reap(h2gw_engine_t *e, int all_dead)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, e->upsets); hi; hi = apr_hash_next(hi)) {
        h2gw_upset_t *up = apr_hash_this_val(hi);
        h2gw_conn_t **pconn = &up->conns;

        while (*pconn) {
            h2gw_conn_t *conn = *pconn;

            if (all_dead) {
                h2gw_conn_kill(conn, H2GW_FAIL_CONN_LOST,
                               "server shutting down");
            }
            h2gw_conn_flush(conn);
            if (conn->dead) {
                *pconn = conn->next;
                h2gw_conn_destroy(conn);
                continue;
            }
            pconn = &conn->next;
        }
    }
}

/* Places the streams connections gave back as not processed; returns
 * how many went to a connection. */
static int run_retries(h2gw_engine_t *e)
{
    h2gw_stream_t *st = e->retries, *next;
    int placed = 0;

    e->retries = NULL;
    for (; st; st = next) {
        next = st->retry_next;
        st->retry_next = NULL;
        if (st->handler_gone) {
            st->engine_ref = 0;
            h2gw_stream_unref(st);
            continue;
        }
        place_stream(e, st);
        ++placed;
    }
    return placed;
}

static void *APR_THREAD_FUNC engine_main(apr_thread_t *thread, void *data)
{
    h2gw_engine_t *e = data;

    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, e->s,
                 H2GW_LOGNO(00102) "engine thread started");
    for (;;) {
        const apr_pollfd_t *fds;
        apr_int32_t n = 0, i;
        apr_interval_time_t timeout = -1;
        apr_status_t rv;
        int down;

        if (e->next_timer) {
            timeout = e->next_timer - apr_time_now();
            if (timeout < 0) {
                timeout = 0;
            }
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
        run_timers(e);
        apr_thread_mutex_lock(e->inbox_lock);
        down = e->shutdown;
        apr_thread_mutex_unlock(e->inbox_lock);
        flush_and_reap(e, down);
        if (down) {
            break;
        }
        /* Flushing can give back more streams (a connection dying under
         * unsent ones): loop until none is left; retries_left bounds it. */
        while (e->retries && run_retries(e)) {
            flush_and_reap(e, 0);
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
    /* Streams still in the inbox belong to handlers that have finished:
     * drop the inbox references, and the engine's of unplaced retries. */
    run_inbox(e);
    while (e->retries) {
        h2gw_stream_t *st = e->retries;

        e->retries = st->retry_next;
        h2gw_stream_fail(st, H2GW_FAIL_CONN_LOST, "server shutting down");
        st->engine_ref = 0;
        h2gw_stream_unref(st);
    }
    the_engine = NULL;
    apr_pollset_destroy(e->pollset);
    apr_pool_destroy(e->pool);
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
    e->upsets = apr_hash_make(pool);
    if ((rv = apr_thread_mutex_create(&e->inbox_lock,
                                      APR_THREAD_MUTEX_DEFAULT, pool))
            != APR_SUCCESS
        || (rv = apr_pollset_create(&e->pollset, ENGINE_MAX_FDS, pool,
                                    APR_POLLSET_WAKEABLE
                                    | APR_POLLSET_NOCOPY))
            != APR_SUCCESS
        || (rv = apr_threadattr_create(&attr, pool)) != APR_SUCCESS
        || (rv = apr_thread_create(&e->thread, attr, engine_main, e, pool))
            != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return rv;
    }
    the_engine = e;
    apr_pool_cleanup_register(pchild, e, engine_stop, apr_pool_cleanup_null);
    return APR_SUCCESS;
}
