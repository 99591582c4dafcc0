/*
 * h2gw_stream: the state one proxied request shares between its handler
 * thread and the engine thread. It owns the bounded request-body buffer,
 * the queue of response DATA not yet written to the client, the response
 * header list, the failure (if any) and the flow-control accounting. A
 * mutex and a condition variable guard it; a reference count decides which
 * side frees it. No I/O and no httpd headers: the handler and the engine
 * each drive it from their side.
 */
#ifndef H2GW_STREAM_H
#define H2GW_STREAM_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_allocator.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#include <apr_time.h>
#include <nghttp2/nghttp2.h>

#include "h2gw_headers.h"

typedef enum {
    H2GW_STREAM_ST_INIT,     /* built by the handler, engine not told yet */
    H2GW_STREAM_ST_QUEUED,   /* handed to the engine, not yet on a session */
    H2GW_STREAM_ST_OPEN,     /* submitted upstream, no final response yet */
    H2GW_STREAM_ST_HEADERS,  /* final response headers received */
    H2GW_STREAM_ST_CLOSED,   /* upstream ended the response cleanly */
    H2GW_STREAM_ST_FAILED    /* failed; see fail and fail_reason */
} h2gw_stream_state_t;

/* Why a stream failed: one cause, mapped to an HTTP status once by
 * h2gw_stream_fail_status(). */
typedef enum {
    H2GW_FAIL_NONE,
    H2GW_FAIL_CONNECT,         /* connection refused or unreachable */
    H2GW_FAIL_CONNECT_TIMEOUT, /* no connect and TLS handshake within
                                * connect-timeout, or no SETTINGS within
                                * settings-timeout (the reason says which) */
    H2GW_FAIL_RESET,           /* upstream reset the stream */
    H2GW_FAIL_PROTOCOL,        /* upstream broke HTTP/2 or HTTP semantics */
    H2GW_FAIL_CONN_LOST,       /* connection closed or broke mid-stream */
    H2GW_FAIL_REFUSED,         /* upstream provably did not process it */
    H2GW_FAIL_TIMEOUT,         /* no response headers within timeout */
    H2GW_FAIL_CANCELLED,       /* the client went away */
    H2GW_FAIL_QUEUE_TIMEOUT,   /* no free stream slot within queue-timeout */
    H2GW_FAIL_ALL_DOWN,        /* every server of the upstream is down */
    H2GW_FAIL_TLS,             /* TLS handshake failed (certificate, ALPN) */
    H2GW_FAIL_INTERNAL         /* out of memory, nghttp2 refused a call */
} h2gw_fail_t;

/* Causes counted (H2GW_FAIL_NONE included, never counted). */
#define H2GW_FAIL_NCAUSES (H2GW_FAIL_INTERNAL + 1)

/* A piece of response body, one malloc()ed block. Ownership passes from
 * the engine (which fills it) to the handler (which hands it to a bucket
 * whose free function releases it). */
typedef struct h2gw_chunk_t {
    struct h2gw_chunk_t *next;
    size_t len;
    size_t cap;                /* bytes data[] has room for */
    apr_memnode_t *node;       /* its memory, from the streams' allocator;
                                * NULL: malloc()ed */
    char data[];
} h2gw_chunk_t;

/* Response DATA frames arriving while the handler has not yet taken the
 * last chunk are appended to it while they fit; a new chunk has room for
 * this much (its allocator node rounds up to whole pages): fewer
 * allocations and buckets than one chunk per frame, at the cost of at
 * most one partly filled chunk per stream. */
#define H2GW_CHUNK_SIZE (32 * 1024)

/* Where a stream is to be sent and how; set once at startup per
 * H2GWPass, copied into the stream. */
typedef struct h2gw_target_t {
    const struct h2gw_upstream_t *upstream;  /* (configuration) */
    const char *name;              /* the upstream's name, for log lines */
    apr_interval_time_t timeout;   /* wait for the response headers */
    apr_interval_time_t read_timeout;  /* gap in the response body */
    int retries;                   /* resends of an unprocessed request */
    int retry_idempotent;          /* ... and of an idempotent one lost
                                    * with its connection or reset */
} h2gw_target_t;

/* An interim (1xx) response from the upstream, for the handler to pass
 * on. Engine memory of the stream's pool. */
typedef struct h2gw_interim_t {
    struct h2gw_interim_t *next;
    int status;
    apr_array_header_t *fields;   /* h2gw_field_t */
} h2gw_interim_t;

/* Interim responses kept per stream; more are dropped. */
#define H2GW_STREAM_MAX_INTERIM 8

/* Where the pseudo-header fields stand in a stream's nv[] (the handler
 * and the health checks build it in this order; the engine sets :scheme
 * and, with server_authority, :authority for the server it picks). */
#define H2GW_NV_METHOD    0
#define H2GW_NV_SCHEME    1
#define H2GW_NV_AUTHORITY 2
#define H2GW_NV_PATH      3

typedef struct h2gw_stream_t h2gw_stream_t;

/*
 * Who touches what. Four kinds of field, each group below says which:
 *
 * - Built by the handler before h2gw_engine_submit(), read-only for it
 *   afterwards. The engine reads them without the lock: the inbox hands
 *   the stream over under the inbox lock, which publishes them. The one
 *   exception: at each submit to a server the engine rewrites
 *   nv[H2GW_NV_SCHEME] and, with server_authority, nv[H2GW_NV_AUTHORITY];
 *   after submit the handler reads only nv[H2GW_NV_METHOD] and
 *   nv[H2GW_NV_PATH].
 * - Under lock: either side, holding st->lock, which only h2gw_stream.c
 *   takes: the other files call its functions (the "_locked" ones are
 *   its own steps, public for its unit test). `state` changes only
 *   through one function per event (see "The stream's life" below);
 *   once the stream is submitted the engine is its only writer, so the
 *   engine may read it without the lock (h2gw_stream_is_final(),
 *   h2gw_stream_got_headers()).
 * - Published: written by the engine without the lock while only it can
 *   see them, then handed to the handler by a change made under the lock,
 *   after which the engine no longer writes them: http_status and
 *   resp_fields by resp_headers (the handler reads them once
 *   h2gw_stream_wait_headers() said APR_SUCCESS); resp_trailers by the
 *   state CLOSED (h2gw_stream_trailers()); an interim response's fields
 *   by its linking into interim_head.
 * - Engine only: never read by the handler.
 */
struct h2gw_stream_t {
    /* Owned by the stream, destroyed with it. The handler allocates from it
     * until h2gw_engine_submit(); afterwards only the engine does. */
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *cond;   /* signalled on every change a side waits for */
    int refs;                  /* under lock: one per side still using it */
    unsigned long id;          /* per process, for log lines */

    /* The handler's wake descriptor (an eventfd of its thread; -1: none,
     * the handler waits on cond instead). Set before submit. The engine
     * writes to it, under lock, only while handler_waiting is set, and
     * clears that flag as it does: one wake-up per wait, however many
     * events arrive before the handler runs. */
    int wake_fd;
    int handler_waiting;       /* under lock: see h2gw_stream_arm() */
    unsigned wait_for;         /* under lock: what the waiting handler
                                * named (H2GW_WAIT_*) */
    size_t resp_want;          /* under lock: response bytes that make a
                                * batch for the waiting handler (0: any) */

    /* Built by the handler before submit (see above). */
    h2gw_target_t target;
    nghttp2_nv *nv;
    size_t nvlen;
    apr_time_t submitted_at;   /* handed to the engine: the response-header
                                * time counts from here */
    int has_body;              /* a request body follows the HEADERS */
    int server_authority;      /* nv[2] (:authority) is the server's: the
                                * engine sets it for the server it picks */
    int expect_continue;       /* sent with "expect: 100-continue": the body
                                * waits for the upstream's 100 */
    int idempotent;            /* RFC 9110 §9.2.2: the method is, or the
                                * request carries Idempotency-Key */

    /* Under lock; state through the event functions only. */
    h2gw_stream_state_t state;
    h2gw_fail_t fail;
    const char *fail_reason;   /* static or from pool; engine writes once */
    uint32_t rst_code;         /* RST_STREAM code received ... */
    int rst_recv;              /* ... when this is set (engine only; the
                                * code is published by a RESET failure) */

    /* Request body ring buffer (under lock): req_cap bytes. From req_off:
     * req_kept bytes already sent but kept for a resend, then req_len
     * bytes not sent yet. */
    char *req_buf;
    size_t req_cap, req_off, req_len, req_kept;
    int req_replayable;        /* every body byte sent so far is kept */
    int req_space_wanted;      /* the handler waits for buffer space */
    int req_starved;           /* the engine ran out of body to send and
                                * waits to be told of more */
    nghttp2_nv *req_trailers;  /* the client's request trailers, or NULL:
                                * handler memory (r->pool), set with the
                                * end of the body, cleared at release;
                                * the engine copies them under lock */
    size_t req_ntrailers;
    int req_eos;               /* the handler has appended everything */
    int req_done;              /* the engine sent the last byte (or gave up) */
    apr_off_t req_sent;        /* body bytes handed to nghttp2 */

    /* Response (under lock, but the published fields). */
    int resp_headers;          /* final response headers complete (engine) */
    int hdrs_taken;            /* the handler copied them (handler) */
    int http_status;           /* published by resp_headers */
    apr_array_header_t *resp_fields;  /* h2gw_field_t, in pool; published
                                       * by resp_headers */
    apr_array_header_t *resp_trailers;  /* h2gw_field_t or NULL;
                                         * published by CLOSED */
    h2gw_interim_t *interim_head, *interim_tail;  /* not yet passed on */
    int ninterim;              /* interim responses received (engine
                                * thread only: the handler never reads
                                * it, so no lock is needed) */
    int got_continue;          /* the upstream sent 100 Continue */
    int engine_closed;         /* its HTTP/2 stream closed both ways: the
                                * engine has nothing left to send for it */
    h2gw_chunk_t *data_head, *data_tail;
    size_t buffered;           /* bytes in the chunk list */
    size_t buffered_max;       /* high-water mark of buffered */
    int resp_eos;
    apr_off_t resp_recv;       /* DATA bytes received from upstream */

    /* For the handler's log notes (under lock). */
    unsigned long log_conn_id; /* connection of the last submit */
    const char *log_server;    /* its server's URL (configuration memory) */
    int32_t log_stream_id;     /* its HTTP/2 stream id */
    int retried;               /* times sent again */

    /* Requests from the handler to the engine (under lock). */
    int pend_submit, pend_resume, pend_cancel;
    size_t pend_consumed;      /* bytes written to the client, not yet told */
    size_t consume_batch;      /* ... told the engine once this many (set
                                * by h2gw_engine_submit(); 0: every
                                * time) or ... */
    apr_time_t consume_told;   /* ... 250 ms after it was last told: the
                                * engine counts it as progress */
    int in_inbox;              /* linked into the engine inbox */
    h2gw_stream_t *inbox_next; /* under the engine inbox lock */

    /* Engine only. */
    struct h2gw_conn_t *conn;  /* the connection carrying it, or NULL */
    int32_t stream_id;         /* 0 until submitted on the session */
    apr_time_t deadline;       /* last progress + timeout; 0: none */
    apr_size_t hdr_bytes;      /* response header bytes received */
    apr_off_t consumed;        /* bytes given back to the session */
    h2gw_stream_t *conn_prev, *conn_next;  /* the conn's stream list */
    h2gw_stream_t *signal_next;  /* in the conn's to_signal list ... */
    int signal_pending;          /* ... when this is set */
    int req_deferred;          /* the data provider returned DEFERRED */
    int ngh_open;              /* nghttp2 has it open (submitted, not closed) */
    int active;                /* counted in its connection's nactive */
    int uploading;             /* counted in its connection's nuploads:
                                * active, its body not yet sent whole
                                * (engine only) */
    int engine_ref;            /* the engine holds a reference */
    int handler_gone;          /* the handler released its reference */
    int sent_headers;          /* its HEADERS frame went to the session's
                                * output */
    int retries_left;
    unsigned long retried_from; /* connection that did not process it */
    h2gw_stream_t *retry_next; /* in the engine's retry list or a pool's
                                * queue */
    int queued;                /* in its pool's queue */
    apr_time_t queue_deadline; /* when waiting in the queue ends in 503 */
    int placements;            /* times placed on a connection */
    int probed;                /* it was a probe of a down upstream once:
                                * never twice */
    int connect_fails;         /* connections it waited on that failed to
                                * come up (connect, TLS, SETTINGS) */
    int waited_probe;          /* it waited for another's probe: when that
                                * fails, so does it */
    h2gw_fail_t held_fail;     /* why its last connection failed before it */
    const char *held_reason;   /* was sent (static or engine memory) */
    int check;                 /* an active health check (h2gw_health):
                                * the engine's own, no handler; its body
                                * is not queued but kept here: */
    unsigned char *check_body; /* the first H2GW_CHECK_BODY_KEEP bytes of
                                * its response body (its pool) */
    size_t check_len;
};

/* Response body bytes a health check keeps: a gRPC health answer is
 * 5 + 2 bytes; an HTTP check reads only the status. */
#define H2GW_CHECK_BODY_KEEP 256

/*
 * Child init, before the engine starts: streams created from here on take
 * their pools from one shared allocator that keeps some freed memory for
 * the next requests; it goes when pchild does.
 */
apr_status_t h2gw_stream_child_init(apr_pool_t *pchild);

/*
 * Creates a stream with refs = 1 (the handler's) in a pool of its own.
 * req_cap: bytes the request-body buffer holds (0: no body).
 * Returns APR_SUCCESS or an APR error from pool/mutex creation.
 */
apr_status_t h2gw_stream_create(h2gw_stream_t **pst, size_t req_cap);

/* Before it is shared: st is an active health check of the engine, not
 * a request. It is counted apart (h2gw_stream_checks_alive()), so that
 * h2gw_stream_alive() counts requests only. */
void h2gw_stream_set_check(h2gw_stream_t *st);

/* Health check streams alive in this process (at most one per checked
 * server). */
apr_uint32_t h2gw_stream_checks_alive(void);

/* Takes one more reference (the engine's, at submit). */
void h2gw_stream_ref(h2gw_stream_t *st);

/* Drops a reference; frees the stream, its pool and queued chunks when it
 * was the last one. */
void h2gw_stream_unref(h2gw_stream_t *st);

/* The HTTP status a failure is answered with before any response went out:
 * 503 when no connection could be had, 504 for the header timeout, 502
 * otherwise. */
int h2gw_stream_fail_status(h2gw_fail_t fail);

/* A short name for a failure cause, for log lines. */
const char *h2gw_stream_fail_name(h2gw_fail_t fail);

/* The cause as one lowercase word ("connect", "queue_timeout"), for the
 * status page's keys and the metrics' cause label. */
const char *h2gw_stream_fail_key(h2gw_fail_t fail);

/* Returns 1 when a request with this method is idempotent (RFC 9110
 * §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE; the method's case
 * matters, §9.1) or has_key (it carries an Idempotency-Key field): the
 * engine may send it again after a loss the upstream may have seen. */
int h2gw_stream_method_idempotent(const char *method, int has_key);

/* Returns 1 when the stream is over for the handler: closed or failed. */
int h2gw_stream_is_final(const h2gw_stream_t *st);

/*
 * The stream's life: one function per event, the only places its state
 * changes (h2gw_stream.c checks each change against the table of allowed
 * ones there). Each takes the lock itself.
 *
 *   INIT --queue--> QUEUED --on_submit--> OPEN --on_headers--> HEADERS
 *                     ^                    |  \                  |
 *                     +-----on_retry-------+   on_headers(end)   on_end
 *                                              \-----> CLOSED <--+
 *   any but CLOSED and FAILED --fail--> FAILED
 */

/* Handler (or the engine, for a health check): st goes to the engine.
 * With tell_engine the engine's inbox will find it to place
 * (pend_submit). */
void h2gw_stream_queue(h2gw_stream_t *st, int tell_engine);

/* Engine: st was submitted on a session as HTTP/2 stream `id` of
 * connection conn_id to `server` (configuration memory, for log lines). */
void h2gw_stream_on_submit(h2gw_stream_t *st, unsigned long conn_id,
                           const char *server, int32_t id);

/* Engine: can st be sent again after its connection lost it? Only while
 * no response came and its body so far can be sent again; maybe_seen
 * (the upstream may have processed it): not once it said 100 Continue
 * either. */
int h2gw_stream_retryable(h2gw_stream_t *st, int maybe_seen);

/* Handler: did the upstream's response headers reach the gateway (even
 * if the handler never got to pass them on)? Such a request is not sent
 * again; its failure's log line says so. */
int h2gw_stream_response_begun(h2gw_stream_t *st);

/* Engine: st is to be sent again (h2gw_stream_retryable() said it can):
 * back to QUEUED, its body rewound, counted in `retried`. */
void h2gw_stream_on_retry(h2gw_stream_t *st);

/* Engine: the final response headers are complete; end_stream: the
 * response ended with them. Returns 1 when they count (0 when the stream
 * had already ended). Publishes http_status and resp_fields. */
int h2gw_stream_on_headers(h2gw_stream_t *st, int end_stream);

/* Engine: an interim response (its fields published with it), or the
 * upstream's 100 Continue (im NULL). */
void h2gw_stream_on_interim(h2gw_stream_t *st, h2gw_interim_t *im);
void h2gw_stream_on_continue(h2gw_stream_t *st);

/* Engine: the response ended cleanly after its headers. Publishes
 * resp_trailers. */
void h2gw_stream_on_end(h2gw_stream_t *st);

/* Handler: the upstream's trailers once the response ended cleanly, or
 * NULL. */
const apr_array_header_t *h2gw_stream_trailers(h2gw_stream_t *st);

/* What the handler asked of the engine since the engine last looked
 * (taken and cleared by h2gw_stream_take_asks()). */
typedef struct h2gw_stream_asks_t {
    int submit;                /* place it */
    int resume;                /* more request body is there */
    int cancel;                /* the handler let go of it */
    size_t consumed;           /* response bytes written to the client */
} h2gw_stream_asks_t;

/* Either side: puts st in the engine's inbox unless it is in already.
 * Returns 1 when the caller must link it in (the inbox's reference was
 * taken), 0 when it is there. */
int h2gw_stream_enter_inbox(h2gw_stream_t *st);

/* Engine: st left the inbox; what the handler asked meanwhile. */
void h2gw_stream_take_asks(h2gw_stream_t *st, h2gw_stream_asks_t *asks);

/* Handler: n more bytes were written to the client. Returns 1 when the
 * engine must be told now: some are untold and consume_batch bytes add
 * up, or `after` passed since it was last told (now is the time; n 0 and
 * after 0: whatever is untold is told now). */
int h2gw_stream_add_consumed(h2gw_stream_t *st, size_t n, apr_time_t now,
                             apr_interval_time_t after);

/* Handler: it lets go of st (its request trailers, in the request's pool,
 * are forgotten). Returns 1 when the engine must be told (st was
 * submitted); *lazy then says whether it may wait for the engine's next
 * wake-up (HTTP/2 closed the stream both ways already). */
int h2gw_stream_let_go(h2gw_stream_t *st, int *lazy);

/* Engine: the response headers' fields so far belong to a final
 * response (trailers come next). The engine is the state's only writer
 * once the stream is submitted, so it reads it without the lock. */
int h2gw_stream_got_headers(const h2gw_stream_t *st);

/* Engine: appends a copy of len bytes of response body (see
 * h2gw_stream_put_data_locked()). Returns APR_EGENERAL when the stream
 * failed already (the client gets an aborted response: what follows the
 * failure must not reach it), APR_ENOMEM, or APR_SUCCESS. */
apr_status_t h2gw_stream_put_data(h2gw_stream_t *st, const uint8_t *data,
                                  size_t len);

/* Engine, from nghttp2's data provider: how many of the next len request
 * body bytes are at hand (they stay in the buffer for
 * h2gw_stream_get_body()); *eof when they end the body, which marks it
 * sent (req_done). The client's trailers, if
 * any, are handed to send_trailers under the lock (they live in the
 * handler's pool): *trailers_sent says whether it took them. With
 * nothing at hand and no end, the stream waits to be told of more
 * (req_starved). */
size_t h2gw_stream_body_next(h2gw_stream_t *st, size_t len, int *eof,
                             int (*send_trailers)(void *data,
                                                  const nghttp2_nv *nv,
                                                  size_t nvlen),
                             void *data, int *trailers_sent);

/* Engine: copies len body bytes that h2gw_stream_body_next() counted
 * into buf (h2gw_stream_get_body_locked()). */
size_t h2gw_stream_get_body(h2gw_stream_t *st, uint8_t *buf, size_t len,
                            int *eof);

/* Engine: the handler said there is more body; the stream is resumed. */
void h2gw_stream_resumed(h2gw_stream_t *st);

/* Engine: response bytes received and not given back to the session. */
apr_off_t h2gw_stream_unconsumed(h2gw_stream_t *st);

/* Engine: its HTTP/2 stream is closed both ways (the handler's release
 * then need not wake the engine). */
void h2gw_stream_on_engine_closed(h2gw_stream_t *st);

/* Engine: wakes a waiting handler (h2gw_stream_wake_locked()). */
void h2gw_stream_wake(h2gw_stream_t *st);

/* Handler: the request body is complete, with the client's trailers
 * (nv pairs in the request's pool, or NULL): the engine is to send its
 * end (the caller notifies it). */
void h2gw_stream_end_body(h2gw_stream_t *st, nghttp2_nv *trailers,
                          size_t ntrailers);

/* Handler: the request's log notes, under one lock. */
void h2gw_stream_log_notes(h2gw_stream_t *st, size_t *buffered_max,
                           unsigned long *conn_id, int32_t *stream_id,
                           const char **server, int *retried);

/*
 * Engine side, lock held by the caller: records a failure unless the
 * stream already ended, frees nothing, signals the handler.
 */
void h2gw_stream_fail_locked(h2gw_stream_t *st, h2gw_fail_t fail,
                             const char *reason);

/* Either side: the failure of st, or H2GW_FAIL_NONE when it has not
 * failed; *reason (when asked for) its reason copied into p, or NULL;
 * *rst_code (when asked for) the RST_STREAM code received when the
 * failure is H2GW_FAIL_RESET, else 0. One look under the stream's lock. */
h2gw_fail_t h2gw_stream_failure(h2gw_stream_t *st, apr_pool_t *p,
                                const char **reason, uint32_t *rst_code);

/* Engine side: h2gw_stream_fail_locked() with the lock taken here. */
void h2gw_stream_fail(h2gw_stream_t *st, h2gw_fail_t fail,
                      const char *reason);

/*
 * Engine side, lock held: appends a copy of len bytes of response body.
 * Does not wake the handler: the caller broadcasts st->cond once it has
 * handed over all it has at hand. Returns APR_SUCCESS or APR_ENOMEM.
 */
apr_status_t h2gw_stream_put_data_locked(h2gw_stream_t *st,
                                         const uint8_t *data, size_t len);

/*
 * Engine side, lock held: copies up to len request-body bytes into buf.
 * Returns the count copied; sets *eof when the body is complete and
 * nothing remains. Returns 0 with *eof == 0 when the handler has not
 * supplied more yet.
 */
size_t h2gw_stream_get_body_locked(h2gw_stream_t *st, uint8_t *buf,
                                   size_t len, int *eof);


/*
 * Engine side, lock held: makes the whole request body available to send
 * again (for a resend on another connection). Returns 1 when it could:
 * nothing was sent yet, or everything sent is still kept; 0 otherwise.
 */
int h2gw_stream_rewind_body_locked(h2gw_stream_t *st);

/*
 * Request body moves in batches: a starved engine is woken once this much
 * is buffered (or the buffer's quarter, when smaller), not for every piece
 * the client's connection hands over; the handler sends what is held with
 * h2gw_stream_body_held() before it waits for its client. A handler
 * waiting for space is woken once that much is free again.
 */
#define H2GW_BODY_BATCH (64 * 1024)

/*
 * Handler side: appends len bytes of request body, waiting while the
 * buffer is full. The engine needs telling only when it ran out
 * (req_starved): while it still has some, it comes back for more itself;
 * and then only once a batch is buffered (see H2GW_BODY_BATCH).
 * *took tells the bytes appended before it returned:
 * APR_SUCCESS when all were; APR_TIMEUP when `tick` passed without space
 * (the caller checks its client, then calls again with the rest);
 * APR_EAGAIN when response headers or data wait for the handler (it
 * forwards them, then calls again); APR_ECONNABORTED when the stream is
 * final (the upstream finished or failed: more body is not wanted).
 * *wake_engine is set when the engine must be told that data arrived.
 */
apr_status_t h2gw_stream_put_body(h2gw_stream_t *st, const char *data,
                                  size_t len, apr_interval_time_t tick,
                                  size_t *took, int *wake_engine);

/* Handler side: is there room for the handler to come back for (half the
 * request buffer free, or all of it sent)? While there is not, the
 * engine has plenty to send: more client input can wait for the wake-up
 * that H2GW_WAIT_SPACE brings, not wake the handler piece by piece. */
int h2gw_stream_body_room(h2gw_stream_t *st);

/*
 * Handler side, before it waits for its client: returns 1 when body bytes
 * are held back from a starved engine (less than a batch), which the
 * caller must then wake (h2gw_engine_notify); 0 when there is none.
 */
int h2gw_stream_body_held(h2gw_stream_t *st);

/*
 * Handler side: takes every queued response chunk. Waits up to `tick`
 * (0: not at all) when there is none and the stream is not final. On
 * return *head holds the list (or NULL), *len its bytes, *eos whether the
 * response ended cleanly after it. Returns APR_SUCCESS, APR_TIMEUP
 * (nothing within tick) or APR_EGENERAL when the stream failed and no
 * chunk is left.
 */
apr_status_t h2gw_stream_take_data(h2gw_stream_t *st, h2gw_chunk_t **head,
                                   size_t *len, int *eos,
                                   apr_interval_time_t tick);

/*
 * Handler side: waits up to `tick` for the final response headers.
 * Returns APR_SUCCESS when they are complete (the handler may read
 * http_status and resp_fields from then on), APR_TIMEUP, or APR_EGENERAL
 * when the stream failed first.
 */
apr_status_t h2gw_stream_wait_headers(h2gw_stream_t *st,
                                      apr_interval_time_t tick);

/*
 * Handler side, for a request sent with "expect: 100-continue": waits up
 * to `tick` for the upstream's verdict. Returns APR_SUCCESS when it sent
 * 100 Continue (the body may go), APR_EOF when its final response came
 * first or the stream failed (the body is not wanted), APR_TIMEUP.
 */
apr_status_t h2gw_stream_wait_continue(h2gw_stream_t *st,
                                       apr_interval_time_t tick);

/*
 * Handler side: takes the interim responses received so far (oldest
 * first), or NULL. They stay valid as long as the stream.
 */
h2gw_interim_t *h2gw_stream_take_interim(h2gw_stream_t *st);

/* What a handler waits for besides the response (headers, interim
 * responses, data, end or failure, which always end a wait). */
#define H2GW_WAIT_CONTINUE 0x1   /* the upstream's 100 Continue */
#define H2GW_WAIT_SPACE    0x2   /* room in the request-body buffer */

/*
 * Handler side, before it sleeps on its wake descriptor: returns 1 when
 * something it waits for (the response, or what `wait_for` names) is at
 * hand already, so it must not sleep; otherwise marks it waiting, so that
 * the engine's next h2gw_stream_wake_locked() writes to st->wake_fd, and
 * returns 0. Arming and looking happen under one lock: no event between
 * the handler's last look and its sleep can be missed.
 * want: response body bytes that make a batch (0: any byte is news).
 * Below it, buffered data is no news and wakes nobody; headers, interim
 * responses, the end, a failure and what wait_for names still are. The
 * handler bounds such a wait with a timeout of its own. The engine wakes
 * it for room freed in the request buffer only while wait_for names
 * H2GW_WAIT_SPACE.
 */
int h2gw_stream_arm(h2gw_stream_t *st, unsigned wait_for, size_t want);

/* Handler side, after its sleep ended: it no longer waits. */
void h2gw_stream_disarm(h2gw_stream_t *st);

/*
 * Engine side, lock held: the handler has news (response headers, data,
 * end, failure, 100 Continue, body space). Wakes a waiting handler: one
 * write to its wake descriptor (or a cond broadcast); not while it waits
 * for a batch of data that is not complete and nothing else is new.
 */
void h2gw_stream_wake_locked(h2gw_stream_t *st);

/* Handler wake-ups in this process (sleeps on a wake descriptor that
 * ended), for the status page: a test counts them around an idle wait. */
apr_uint32_t h2gw_stream_wakeups(void);

/* Counts one handler wake-up. */
void h2gw_stream_count_wakeup(void);

/* Waits for a batch of response data that ended short of it (the
 * upstream paused), in this process, for the status page: a test bounds
 * a large response's wake-ups by its batches and these. */
apr_uint32_t h2gw_stream_batch_timeouts(void);

/* Counts one. */
void h2gw_stream_count_batch_timeout(void);

/* Lingers for the rest of an HTTP/2 client's burst of body (h2gw_wait.c),
 * in this process, for the status page; each is also a wake-up. */
apr_uint32_t h2gw_stream_lingers(void);

/* Counts one. */
void h2gw_stream_count_linger(void);

/* Reads of a client's request body that returned something, in this
 * process, for the status page (with the lingers: how many reads an
 * HTTP/2 upload took). */
apr_uint32_t h2gw_stream_body_reads(void);

/* Counts one. */
void h2gw_stream_count_body_read(void);

/* Frees a chunk list taken with h2gw_stream_take_data(). */
void h2gw_stream_free_chunks(h2gw_chunk_t *head);

/* Frees one chunk (a bucket's free function calls it). */
void h2gw_chunk_free(h2gw_chunk_t *ch);

/* Streams (returned) and response chunks (*chunks) alive in this process
 * right now: both are 0 when no request is in flight, else they leak. */
apr_uint32_t h2gw_stream_alive(apr_uint32_t *chunks);

#endif /* H2GW_STREAM_H */
