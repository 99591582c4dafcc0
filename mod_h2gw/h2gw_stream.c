/*
 * h2gw_stream: shared per-request state, its buffers and the failure
 * mapping. Every function here either takes the stream lock itself or says
 * "_locked" and expects the caller to hold it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_allocator.h>
#include <apr_atomic.h>

#include "h2gw_stream.h"

static apr_uint32_t next_id;
/* Live objects, for the status page's leak check. */
static apr_uint32_t streams_alive;
static apr_uint32_t chunks_alive;
static apr_uint32_t handler_wakeups;
static apr_uint32_t batch_timeouts;
static apr_uint32_t lingers;
static apr_uint32_t body_reads;
static apr_uint32_t checks_alive;

/* Stream pools and response chunks draw from one allocator per process,
 * which keeps up to STREAM_MAX_FREE of freed memory: a request body buffer
 * or a chunk is then reused, not mapped and faulted in anew (malloc would
 * hand chunks freed by handler threads back to the engine thread's arena,
 * which gives them to the kernel again and again). NULL outside a child
 * process (unit tests, fuzzers): each stream then has an allocator of its
 * own. */
#define STREAM_MAX_FREE (4 * 1024 * 1024)
static apr_allocator_t *stream_allocator;
static apr_pool_t *stream_allocator_pool;   /* holds its mutex */

/* Child exit, after the engine stopped (its cleanup was registered later,
 * so it ran first): the allocator goes unless a stream is still alive. */
static apr_status_t stream_allocator_cleanup(void *data)
{
    (void)data;
    if (stream_allocator && apr_atomic_read32(&streams_alive) == 0
        && apr_atomic_read32(&chunks_alive) == 0) {
        apr_allocator_destroy(stream_allocator);
        apr_pool_destroy(stream_allocator_pool);
        stream_allocator = NULL;
        stream_allocator_pool = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t h2gw_stream_child_init(apr_pool_t *pchild)
{
    apr_allocator_t *alloc;
    apr_pool_t *pool;
    apr_thread_mutex_t *mutex;
    apr_status_t rv;

    if (stream_allocator) {
        return APR_SUCCESS;
    }
    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS) {
        return rv;
    }
    /* The mutex lives as long as the allocator, in a pool of its own. */
    rv = apr_pool_create_unmanaged_ex(&pool, NULL, NULL);
    if (rv == APR_SUCCESS) {
        stream_allocator_pool = pool;
        rv = apr_thread_mutex_create(&mutex, APR_THREAD_MUTEX_DEFAULT, pool);
    }
    if (rv != APR_SUCCESS) {
        if (stream_allocator_pool) {
            apr_pool_destroy(stream_allocator_pool);
            stream_allocator_pool = NULL;
        }
        apr_allocator_destroy(alloc);
        return rv;
    }
    apr_allocator_mutex_set(alloc, mutex);
    apr_allocator_max_free_set(alloc, STREAM_MAX_FREE);
    stream_allocator = alloc;
    apr_pool_cleanup_register(pchild, NULL, stream_allocator_cleanup,
                              apr_pool_cleanup_null);
    return APR_SUCCESS;
}

apr_uint32_t h2gw_stream_alive(apr_uint32_t *chunks)
{
    *chunks = apr_atomic_read32(&chunks_alive);
    return apr_atomic_read32(&streams_alive);
}

apr_uint32_t h2gw_stream_wakeups(void)
{
    return apr_atomic_read32(&handler_wakeups);
}

void h2gw_stream_count_wakeup(void)
{
    apr_atomic_inc32(&handler_wakeups);
}

apr_uint32_t h2gw_stream_batch_timeouts(void)
{
    return apr_atomic_read32(&batch_timeouts);
}

void h2gw_stream_count_batch_timeout(void)
{
    apr_atomic_inc32(&batch_timeouts);
}

apr_uint32_t h2gw_stream_lingers(void)
{
    return apr_atomic_read32(&lingers);
}

void h2gw_stream_count_linger(void)
{
    apr_atomic_inc32(&lingers);
}

apr_uint32_t h2gw_stream_body_reads(void)
{
    return apr_atomic_read32(&body_reads);
}

void h2gw_stream_count_body_read(void)
{
    apr_atomic_inc32(&body_reads);
}

/* Bytes of request body that make a batch for this stream's buffer. */
static size_t body_batch(const h2gw_stream_t *st)
{
    size_t quarter = st->req_cap / 4;

    if (quarter == 0) {
        quarter = 1;
    }
    return quarter < H2GW_BODY_BATCH ? quarter : H2GW_BODY_BATCH;
}

/* Is there room for the handler to come back for (the engine wakes a
 * handler that waits for space under the same condition)? Half the
 * buffer, at least a batch: the engine still has the other half to send
 * while the handler refills, and the handler wakes twice per buffer's
 * worth of body instead of once per batch. */
static int body_space_locked(const h2gw_stream_t *st)
{
    size_t want = st->req_cap / 2;

    if (want < body_batch(st)) {
        want = body_batch(st);
    }
    return st->req_len == 0 || st->req_cap - st->req_len >= want;
}

/* Does the handler have something to do: response headers, interim
 * responses, data, the end or a failure, or what wait_for names? */
static int handler_news_locked(const h2gw_stream_t *st, unsigned wait_for,
                               size_t want)
{
    return (st->data_head && st->buffered >= want) || st->interim_head
           || (st->resp_headers && !st->hdrs_taken)
           || h2gw_stream_is_final(st)
           || ((wait_for & H2GW_WAIT_CONTINUE) && st->got_continue)
           || ((wait_for & H2GW_WAIT_SPACE) && body_space_locked(st));
}

int h2gw_stream_body_room(h2gw_stream_t *st)
{
    int room;

    apr_thread_mutex_lock(st->lock);
    room = body_space_locked(st);
    apr_thread_mutex_unlock(st->lock);
    return room;
}

int h2gw_stream_arm(h2gw_stream_t *st, unsigned wait_for, size_t want)
{
    int news;

    apr_thread_mutex_lock(st->lock);
    news = handler_news_locked(st, wait_for, want);
    st->handler_waiting = !news;
    st->wait_for = wait_for;
    st->resp_want = want;
    /* The engine wakes it for room only while it waits for room: one
     * that waits for client input (its last read found nothing) is not
     * woken by each piece the engine takes out of the buffer. */
    st->req_space_wanted = (wait_for & H2GW_WAIT_SPACE) != 0;
    apr_thread_mutex_unlock(st->lock);
    return news;
}

void h2gw_stream_disarm(h2gw_stream_t *st)
{
    apr_thread_mutex_lock(st->lock);
    st->handler_waiting = 0;
    apr_thread_mutex_unlock(st->lock);
}

void h2gw_stream_wake_locked(h2gw_stream_t *st)
{
    if (st->wake_fd < 0) {
        apr_thread_cond_broadcast(st->cond);
        return;
    }
    if (st->handler_waiting
        && (st->resp_want == 0
            || handler_news_locked(st, st->wait_for, st->resp_want))) {
        uint64_t one = 1;

        st->handler_waiting = 0;
        /* An eventfd: a write of 8 bytes never blocks short of 2^64-2
         * unread wake-ups, and never fails otherwise. */
        (void)!write(st->wake_fd, &one, sizeof(one));
    }
}

/* A chunk with room for at least cap bytes, or NULL. */
static h2gw_chunk_t *chunk_alloc(size_t cap)
{
    h2gw_chunk_t *ch;

    if (stream_allocator) {
        apr_memnode_t *node = apr_allocator_alloc(
            stream_allocator, sizeof(*ch) + cap);

        if (!node) {
            return NULL;
        }
        ch = (h2gw_chunk_t *)node->first_avail;
        ch->node = node;
        ch->cap = (size_t)(node->endp - ch->data);
    }
    else {
        ch = malloc(sizeof(*ch) + cap);
        if (!ch) {
            return NULL;
        }
        ch->node = NULL;
        ch->cap = cap;
    }
    apr_atomic_inc32(&chunks_alive);
    ch->next = NULL;
    ch->len = 0;
    return ch;
}

void h2gw_chunk_free(h2gw_chunk_t *ch)
{
    apr_atomic_dec32(&chunks_alive);
    if (ch->node) {
        apr_allocator_free(stream_allocator, ch->node);
    }
    else {
        free(ch);
    }
}

apr_status_t h2gw_stream_create(h2gw_stream_t **pst, size_t req_cap)
{
    apr_pool_t *pool;
    h2gw_stream_t *st;
    apr_status_t rv;

    /* Unmanaged: the stream outlives the request that created it when the
     * engine still holds it, so it may not hang below r->pool. */
    rv = apr_pool_create_unmanaged_ex(&pool, NULL, stream_allocator);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(pool, "h2gw_stream");
    st = apr_pcalloc(pool, sizeof(*st));
    st->pool = pool;
    st->refs = 1;
    st->id = apr_atomic_inc32(&next_id) + 1;
    st->state = H2GW_STREAM_ST_INIT;
    st->wake_fd = -1;
    if ((rv = apr_thread_mutex_create(&st->lock, APR_THREAD_MUTEX_DEFAULT,
                                      pool)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&st->cond, pool)) != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return rv;
    }
    if (req_cap > 0) {
        st->req_buf = apr_palloc(pool, req_cap);
        st->req_cap = req_cap;
        st->req_replayable = 1;
    }
    st->resp_fields = apr_array_make(pool, 16, sizeof(h2gw_field_t));
    apr_atomic_inc32(&streams_alive);
    *pst = st;
    return APR_SUCCESS;
}

void h2gw_stream_set_check(h2gw_stream_t *st)
{
    st->check = 1;
    apr_atomic_dec32(&streams_alive);
    apr_atomic_inc32(&checks_alive);
}

apr_uint32_t h2gw_stream_checks_alive(void)
{
    return apr_atomic_read32(&checks_alive);
}

void h2gw_stream_ref(h2gw_stream_t *st)
{
    apr_thread_mutex_lock(st->lock);
    ++st->refs;
    apr_thread_mutex_unlock(st->lock);
}

void h2gw_stream_free_chunks(h2gw_chunk_t *head)
{
    while (head) {
        h2gw_chunk_t *next = head->next;
        h2gw_chunk_free(head);
        head = next;
    }
}

void h2gw_stream_unref(h2gw_stream_t *st)
{
    int last;

    apr_thread_mutex_lock(st->lock);
    last = (--st->refs == 0);
    apr_thread_mutex_unlock(st->lock);
    if (last) {
        int check = st->check;

        h2gw_stream_free_chunks(st->data_head);
        apr_pool_destroy(st->pool);
        apr_atomic_dec32(check ? &checks_alive : &streams_alive);
    }
}

int h2gw_stream_fail_status(h2gw_fail_t fail)
{
    switch (fail) {
    case H2GW_FAIL_CONNECT:
    case H2GW_FAIL_CONNECT_TIMEOUT:
    case H2GW_FAIL_QUEUE_TIMEOUT:
    case H2GW_FAIL_ALL_DOWN:
        return 503;
    case H2GW_FAIL_TIMEOUT:
        return 504;
    case H2GW_FAIL_INTERNAL:
        return 500;
    default:
        return 502;
    }
}

const char *h2gw_stream_fail_name(h2gw_fail_t fail)
{
    switch (fail) {
    case H2GW_FAIL_NONE: return "none";
    case H2GW_FAIL_CONNECT: return "connect failed";
    case H2GW_FAIL_CONNECT_TIMEOUT: return "connection setup timed out";
    case H2GW_FAIL_RESET: return "stream reset by upstream";
    case H2GW_FAIL_PROTOCOL: return "upstream protocol error";
    case H2GW_FAIL_CONN_LOST: return "upstream connection lost";
    case H2GW_FAIL_REFUSED: return "stream refused by upstream";
    case H2GW_FAIL_TIMEOUT: return "response timed out";
    case H2GW_FAIL_CANCELLED: return "cancelled";
    case H2GW_FAIL_QUEUE_TIMEOUT: return "no free upstream stream in time";
    case H2GW_FAIL_ALL_DOWN: return "all servers down";
    case H2GW_FAIL_TLS: return "TLS handshake failed";
    case H2GW_FAIL_INTERNAL: return "internal error";
    }
    return "unknown";
}

const char *h2gw_stream_fail_key(h2gw_fail_t fail)
{
    switch (fail) {
    case H2GW_FAIL_NONE: return "none";
    case H2GW_FAIL_CONNECT: return "connect";
    case H2GW_FAIL_CONNECT_TIMEOUT: return "connect_timeout";
    case H2GW_FAIL_RESET: return "reset";
    case H2GW_FAIL_PROTOCOL: return "protocol";
    case H2GW_FAIL_CONN_LOST: return "conn_lost";
    case H2GW_FAIL_REFUSED: return "refused";
    case H2GW_FAIL_TIMEOUT: return "timeout";
    case H2GW_FAIL_CANCELLED: return "cancelled";
    case H2GW_FAIL_QUEUE_TIMEOUT: return "queue_timeout";
    case H2GW_FAIL_ALL_DOWN: return "all_down";
    case H2GW_FAIL_TLS: return "tls";
    case H2GW_FAIL_INTERNAL: return "internal";
    }
    return "unknown";
}

int h2gw_stream_method_idempotent(const char *method, int has_key)
{
    static const char *const idempotent[] = {
        "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"
    };
    size_t i;

    if (has_key) {
        return 1;
    }
    for (i = 0; method && i < sizeof(idempotent) / sizeof(idempotent[0]);
         ++i) {
        if (strcmp(method, idempotent[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int h2gw_stream_is_final(const h2gw_stream_t *st)
{
    return st->state == H2GW_STREAM_ST_CLOSED
           || st->state == H2GW_STREAM_ST_FAILED;
}

/* ---- the stream's life ------------------------------------------------ */

#define NSTATES (H2GW_STREAM_ST_FAILED + 1)

/* allowed[from][to]: the changes the events below make (see the diagram
 * in h2gw_stream.h). */
static const unsigned char allowed[NSTATES][NSTATES] = {
    /*                 INIT QUEUED OPEN HEADERS CLOSED FAILED */
    /* INIT */        { 0,   1,     0,   0,      0,     1 },
    /* QUEUED */      { 0,   0,     1,   0,      0,     1 },
    /* OPEN */        { 0,   1,     0,   1,      1,     1 },
    /* HEADERS */     { 0,   0,     0,   0,      1,     1 },
    /* CLOSED */      { 0,   0,     0,   0,      0,     0 },
    /* FAILED */      { 0,   0,     0,   0,      0,     0 },
};

/* The one place st->state changes (lock held). Returns 1 when it did; 0
 * when the change is not one the stream's life allows from where it is
 * (an event that came too late, e.g. the end after a failure): the state
 * stays. */
static int transit(h2gw_stream_t *st, h2gw_stream_state_t to)
{
    if (!allowed[st->state][to]) {
        return 0;
    }
    st->state = to;
    return 1;
}

void h2gw_stream_queue(h2gw_stream_t *st, int tell_engine)
{
    apr_thread_mutex_lock(st->lock);
    transit(st, H2GW_STREAM_ST_QUEUED);
    if (tell_engine) {
        st->pend_submit = 1;
    }
    apr_thread_mutex_unlock(st->lock);
}

void h2gw_stream_on_submit(h2gw_stream_t *st, unsigned long conn_id,
                           const char *server, int32_t id)
{
    apr_thread_mutex_lock(st->lock);
    transit(st, H2GW_STREAM_ST_OPEN);
    st->log_conn_id = conn_id;
    st->log_stream_id = id;
    st->log_server = server;
    apr_thread_mutex_unlock(st->lock);
}

int h2gw_stream_retryable(h2gw_stream_t *st, int maybe_seen)
{
    int ok;

    apr_thread_mutex_lock(st->lock);
    ok = st->state == H2GW_STREAM_ST_OPEN
         && (st->req_sent == 0 || st->req_replayable) && !st->resp_headers
         && !(maybe_seen && st->got_continue);
    apr_thread_mutex_unlock(st->lock);
    return ok;
}

int h2gw_stream_response_begun(h2gw_stream_t *st)
{
    int begun;

    apr_thread_mutex_lock(st->lock);
    begun = st->resp_headers;
    apr_thread_mutex_unlock(st->lock);
    return begun;
}

void h2gw_stream_on_retry(h2gw_stream_t *st)
{
    apr_thread_mutex_lock(st->lock);
    transit(st, H2GW_STREAM_ST_QUEUED);
    ++st->retried;
    h2gw_stream_rewind_body_locked(st);
    apr_thread_mutex_unlock(st->lock);
}

int h2gw_stream_on_headers(h2gw_stream_t *st, int end_stream)
{
    int took;

    apr_thread_mutex_lock(st->lock);
    /* A response without body (gRPC's trailers-only answer) is complete
     * at once: the handler sees both in one look. */
    took = transit(st, end_stream ? H2GW_STREAM_ST_CLOSED
                                  : H2GW_STREAM_ST_HEADERS);
    if (took) {
        st->resp_headers = 1;
    }
    apr_thread_mutex_unlock(st->lock);
    return took;
}

void h2gw_stream_on_interim(h2gw_stream_t *st, h2gw_interim_t *im)
{
    apr_thread_mutex_lock(st->lock);
    if (st->interim_tail) {
        st->interim_tail->next = im;
    }
    else {
        st->interim_head = im;
    }
    st->interim_tail = im;
    apr_thread_mutex_unlock(st->lock);
}

void h2gw_stream_on_continue(h2gw_stream_t *st)
{
    apr_thread_mutex_lock(st->lock);
    st->got_continue = 1;
    apr_thread_mutex_unlock(st->lock);
}

void h2gw_stream_on_end(h2gw_stream_t *st)
{
    apr_thread_mutex_lock(st->lock);
    if (st->state == H2GW_STREAM_ST_HEADERS) {
        transit(st, H2GW_STREAM_ST_CLOSED);
    }
    apr_thread_mutex_unlock(st->lock);
}

const apr_array_header_t *h2gw_stream_trailers(h2gw_stream_t *st)
{
    const apr_array_header_t *t;

    apr_thread_mutex_lock(st->lock);
    t = st->state == H2GW_STREAM_ST_CLOSED ? st->resp_trailers : NULL;
    apr_thread_mutex_unlock(st->lock);
    return t;
}

int h2gw_stream_enter_inbox(h2gw_stream_t *st)
{
    int enter = 0;

    apr_thread_mutex_lock(st->lock);
    if (!st->in_inbox) {
        st->in_inbox = 1;
        ++st->refs;            /* the inbox's reference */
        enter = 1;
    }
    apr_thread_mutex_unlock(st->lock);
    return enter;
}

void h2gw_stream_take_asks(h2gw_stream_t *st, h2gw_stream_asks_t *asks)
{
    apr_thread_mutex_lock(st->lock);
    st->in_inbox = 0;
    asks->submit = st->pend_submit;
    asks->resume = st->pend_resume;
    asks->cancel = st->pend_cancel;
    asks->consumed = st->pend_consumed;
    st->pend_submit = st->pend_resume = st->pend_cancel = 0;
    st->pend_consumed = 0;
    apr_thread_mutex_unlock(st->lock);
}

int h2gw_stream_add_consumed(h2gw_stream_t *st, size_t n, apr_time_t now,
                             apr_interval_time_t after)
{
    int tell;

    apr_thread_mutex_lock(st->lock);
    st->pend_consumed += n;
    tell = st->pend_consumed > 0
           && (st->pend_consumed >= st->consume_batch
               || now - st->consume_told >= after);
    if (tell) {
        st->consume_told = now;
    }
    apr_thread_mutex_unlock(st->lock);
    return tell;
}

int h2gw_stream_let_go(h2gw_stream_t *st, int *lazy)
{
    int submitted;

    apr_thread_mutex_lock(st->lock);
    submitted = (st->state != H2GW_STREAM_ST_INIT);
    /* A stream HTTP/2 closed both ways needs nothing sent upstream: the
     * engine frees it when it next wakes anyway, not woken for it alone
     * (one thread switch less per request). */
    *lazy = st->engine_closed;
    st->pend_cancel = 1;
    /* They live in the request's pool, which goes away now. */
    st->req_trailers = NULL;
    st->req_ntrailers = 0;
    apr_thread_mutex_unlock(st->lock);
    return submitted;
}

int h2gw_stream_got_headers(const h2gw_stream_t *st)
{
    return st->state >= H2GW_STREAM_ST_HEADERS;
}

apr_status_t h2gw_stream_put_data(h2gw_stream_t *st, const uint8_t *data,
                                  size_t len)
{
    apr_status_t rv = APR_EGENERAL;

    apr_thread_mutex_lock(st->lock);
    if (st->state != H2GW_STREAM_ST_FAILED) {
        rv = h2gw_stream_put_data_locked(st, data, len);
    }
    apr_thread_mutex_unlock(st->lock);
    return rv;
}

size_t h2gw_stream_body_next(h2gw_stream_t *st, size_t len, int *eof,
                             int (*send_trailers)(void *data,
                                                  const nghttp2_nv *nv,
                                                  size_t nvlen),
                             void *data, int *trailers_sent)
{
    size_t n;

    *trailers_sent = 0;
    apr_thread_mutex_lock(st->lock);
    n = st->req_len < len ? st->req_len : len;
    *eof = (st->req_eos && st->req_len == n);
    if (*eof) {
        st->req_done = 1;
        if (st->req_trailers && st->req_ntrailers) {
            *trailers_sent = send_trailers(data, st->req_trailers,
                                           st->req_ntrailers);
        }
    }
    else if (n == 0) {
        st->req_starved = 1;  /* the handler wakes the engine with more */
    }
    apr_thread_mutex_unlock(st->lock);
    return n;
}

size_t h2gw_stream_get_body(h2gw_stream_t *st, uint8_t *buf, size_t len,
                            int *eof)
{
    size_t n;

    apr_thread_mutex_lock(st->lock);
    n = h2gw_stream_get_body_locked(st, buf, len, eof);
    apr_thread_mutex_unlock(st->lock);
    return n;
}

void h2gw_stream_resumed(h2gw_stream_t *st)
{
    apr_thread_mutex_lock(st->lock);
    st->req_starved = 0;
    apr_thread_mutex_unlock(st->lock);
}

apr_off_t h2gw_stream_unconsumed(h2gw_stream_t *st)
{
    apr_off_t rest;

    apr_thread_mutex_lock(st->lock);
    rest = st->resp_recv - st->consumed;
    apr_thread_mutex_unlock(st->lock);
    return rest;
}

void h2gw_stream_on_engine_closed(h2gw_stream_t *st)
{
    apr_thread_mutex_lock(st->lock);
    st->engine_closed = 1;
    apr_thread_mutex_unlock(st->lock);
}

void h2gw_stream_wake(h2gw_stream_t *st)
{
    apr_thread_mutex_lock(st->lock);
    h2gw_stream_wake_locked(st);
    apr_thread_mutex_unlock(st->lock);
}

void h2gw_stream_end_body(h2gw_stream_t *st, nghttp2_nv *trailers,
                          size_t ntrailers)
{
    apr_thread_mutex_lock(st->lock);
    st->req_trailers = trailers;
    st->req_ntrailers = ntrailers;
    st->req_eos = 1;
    st->pend_resume = 1;
    apr_thread_mutex_unlock(st->lock);
}

void h2gw_stream_log_notes(h2gw_stream_t *st, size_t *buffered_max,
                           unsigned long *conn_id, int32_t *stream_id,
                           const char **server, int *retried)
{
    apr_thread_mutex_lock(st->lock);
    *buffered_max = st->buffered_max;
    *conn_id = st->log_conn_id;
    *stream_id = st->log_stream_id;
    *server = st->log_server;
    *retried = st->retried;
    apr_thread_mutex_unlock(st->lock);
}

void h2gw_stream_fail_locked(h2gw_stream_t *st, h2gw_fail_t fail,
                             const char *reason)
{
    if (!transit(st, H2GW_STREAM_ST_FAILED)) {
        return;
    }
    st->fail = fail;
    st->fail_reason = reason;
    h2gw_stream_wake_locked(st);
}

h2gw_fail_t h2gw_stream_failure(h2gw_stream_t *st, apr_pool_t *p,
                                const char **reason, uint32_t *rst_code)
{
    h2gw_fail_t fail;

    apr_thread_mutex_lock(st->lock);
    fail = st->state == H2GW_STREAM_ST_FAILED ? st->fail : H2GW_FAIL_NONE;
    if (reason) {
        *reason = fail != H2GW_FAIL_NONE && st->fail_reason
                      ? apr_pstrdup(p, st->fail_reason) : NULL;
    }
    if (rst_code) {
        /* The engine writes the code without the lock, before the RESET
         * failure it publishes (and never after it): read with it only. */
        *rst_code = fail == H2GW_FAIL_RESET ? st->rst_code : 0;
    }
    apr_thread_mutex_unlock(st->lock);
    return fail;
}

void h2gw_stream_fail(h2gw_stream_t *st, h2gw_fail_t fail,
                      const char *reason)
{
    apr_thread_mutex_lock(st->lock);
    h2gw_stream_fail_locked(st, fail, reason);
    apr_thread_mutex_unlock(st->lock);
}

apr_status_t h2gw_stream_put_data_locked(h2gw_stream_t *st,
                                         const uint8_t *data, size_t len)
{
    h2gw_chunk_t *ch = st->data_tail;

    if (ch && ch->cap - ch->len >= len) {
        /* Not taken yet and room left: no new chunk. */
        memcpy(ch->data + ch->len, data, len);
        ch->len += len;
    }
    else {
        /* The first is cut to measure: a small response is one frame. */
        size_t cap = (len < H2GW_CHUNK_SIZE && st->resp_recv > 0)
                         ? H2GW_CHUNK_SIZE : len;

        ch = chunk_alloc(cap);
        if (!ch) {
            return APR_ENOMEM;
        }
        ch->len = len;
        memcpy(ch->data, data, len);
        if (st->data_tail) {
            st->data_tail->next = ch;
        }
        else {
            st->data_head = ch;
        }
        st->data_tail = ch;
    }
    st->buffered += len;
    if (st->buffered > st->buffered_max) {
        st->buffered_max = st->buffered;
    }
    st->resp_recv += len;
    return APR_SUCCESS;
}

size_t h2gw_stream_get_body_locked(h2gw_stream_t *st, uint8_t *buf,
                                   size_t len, int *eof)
{
    size_t n = 0;

    while (n < len && st->req_len > 0) {
        size_t from = (st->req_off + st->req_kept) % st->req_cap;
        size_t run = st->req_cap - from;

        if (run > st->req_len) {
            run = st->req_len;
        }
        if (run > len - n) {
            run = len - n;
        }
        memcpy(buf + n, st->req_buf + from, run);
        n += run;
        if (st->req_replayable) {
            st->req_kept += run;  /* kept for a resend */
        }
        else {
            st->req_off = (st->req_off + run) % st->req_cap;
        }
        st->req_len -= run;
    }
    st->req_sent += (apr_off_t)n;
    *eof = (st->req_eos && st->req_len == 0);
    if (n > 0 && st->req_space_wanted && body_space_locked(st)) {
        /* Space for the handler (what was kept for a resend is given up
         * once the buffer is full: it counts as free here). */
        h2gw_stream_wake_locked(st);
    }
    return n;
}

int h2gw_stream_rewind_body_locked(h2gw_stream_t *st)
{
    if (st->req_sent > 0 && !st->req_replayable) {
        return 0;
    }
    st->req_len += st->req_kept;
    st->req_kept = 0;
    st->req_sent = 0;
    st->req_done = 0;
    return 1;
}

apr_status_t h2gw_stream_put_body(h2gw_stream_t *st, const char *data,
                                  size_t len, apr_interval_time_t tick,
                                  size_t *took, int *wake_engine)
{
    apr_status_t rv = APR_SUCCESS;

    *took = 0;
    *wake_engine = 0;
    apr_thread_mutex_lock(st->lock);
    while (*took < len) {
        size_t space, pos, run;

        if (h2gw_stream_is_final(st) || st->req_done) {
            rv = APR_ECONNABORTED;
            break;
        }
        if (st->data_head || (st->resp_headers && !st->hdrs_taken)) {
            rv = APR_EAGAIN;
            break;
        }
        if (st->req_kept && st->req_len + st->req_kept == st->req_cap) {
            /* The body outgrows the buffer: what was sent can no longer
             * be sent again, and its space is needed. */
            st->req_off = (st->req_off + st->req_kept) % st->req_cap;
            st->req_kept = 0;
            st->req_replayable = 0;
        }
        space = st->req_cap - st->req_len - st->req_kept;
        if (space == 0) {
            apr_status_t wrv = APR_TIMEUP;

            /* Left set when the handler waits elsewhere (tick 0, on its
             * wake descriptor): the engine wakes it once a batch is free. */
            st->req_space_wanted = 1;
            if (tick > 0) {
                wrv = apr_thread_cond_timedwait(st->cond, st->lock, tick);
            }
            if (wrv == APR_TIMEUP) {
                rv = APR_TIMEUP;
                break;
            }
            continue;
        }
        st->req_space_wanted = 0;
        pos = (st->req_off + st->req_kept + st->req_len) % st->req_cap;
        run = st->req_cap - pos;
        if (run > space) {
            run = space;
        }
        if (run > len - *took) {
            run = len - *took;
        }
        memcpy(st->req_buf + pos, data + *took, run);
        st->req_len += run;
        *took += run;
        if (!st->pend_resume && st->req_starved
            && st->req_len >= body_batch(st)) {
            st->pend_resume = 1;
            *wake_engine = 1;
        }
    }
    apr_thread_mutex_unlock(st->lock);
    return rv;
}

int h2gw_stream_body_held(h2gw_stream_t *st)
{
    int wake = 0;

    apr_thread_mutex_lock(st->lock);
    if (!st->pend_resume && st->req_starved && st->req_len > 0) {
        st->pend_resume = 1;
        wake = 1;
    }
    apr_thread_mutex_unlock(st->lock);
    return wake;
}

apr_status_t h2gw_stream_take_data(h2gw_stream_t *st, h2gw_chunk_t **head,
                                   size_t *len, int *eos,
                                   apr_interval_time_t tick)
{
    apr_status_t rv = APR_SUCCESS;

    *head = NULL;
    *len = 0;
    *eos = 0;
    apr_thread_mutex_lock(st->lock);
    if (!st->data_head && !h2gw_stream_is_final(st) && tick > 0) {
        apr_thread_cond_timedwait(st->cond, st->lock, tick);
    }
    if (st->data_head) {
        /* Data that arrived before a failure still goes out; the failure
         * is reported on the next call. */
        *head = st->data_head;
        *len = st->buffered;
        st->data_head = st->data_tail = NULL;
        st->buffered = 0;
        *eos = (st->state == H2GW_STREAM_ST_CLOSED);
    }
    else if (st->state == H2GW_STREAM_ST_FAILED) {
        rv = APR_EGENERAL;
    }
    else if (st->state == H2GW_STREAM_ST_CLOSED) {
        *eos = 1;
    }
    else {
        rv = APR_TIMEUP;
    }
    apr_thread_mutex_unlock(st->lock);
    return rv;
}

apr_status_t h2gw_stream_wait_continue(h2gw_stream_t *st,
                                       apr_interval_time_t tick)
{
    apr_status_t rv;

    apr_thread_mutex_lock(st->lock);
    if (!st->got_continue && !st->resp_headers && !h2gw_stream_is_final(st)
        && tick > 0) {
        apr_thread_cond_timedwait(st->cond, st->lock, tick);
    }
    rv = st->got_continue ? APR_SUCCESS
         : (st->resp_headers || h2gw_stream_is_final(st)) ? APR_EOF
                                                           : APR_TIMEUP;
    apr_thread_mutex_unlock(st->lock);
    return rv;
}

h2gw_interim_t *h2gw_stream_take_interim(h2gw_stream_t *st)
{
    h2gw_interim_t *head;

    apr_thread_mutex_lock(st->lock);
    head = st->interim_head;
    st->interim_head = st->interim_tail = NULL;
    apr_thread_mutex_unlock(st->lock);
    return head;
}

apr_status_t h2gw_stream_wait_headers(h2gw_stream_t *st,
                                      apr_interval_time_t tick)
{
    apr_status_t rv;

    apr_thread_mutex_lock(st->lock);
    if (!st->resp_headers && st->state != H2GW_STREAM_ST_FAILED && tick > 0) {
        apr_thread_cond_timedwait(st->cond, st->lock, tick);
    }
    if (st->state == H2GW_STREAM_ST_FAILED && !st->hdrs_taken) {
        /* Nothing went to the client yet: a clean error answer is still
         * possible, even when headers had arrived before the failure. */
        rv = APR_EGENERAL;
    }
    else if (st->resp_headers) {
        st->hdrs_taken = 1;
        rv = APR_SUCCESS;
    }
    else {
        rv = APR_TIMEUP;
    }
    apr_thread_mutex_unlock(st->lock);
    return rv;
}
