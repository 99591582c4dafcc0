/*
 * h2gw_wait: a handler thread's one poll() on its wake descriptor and its
 * client (see h2gw_wait.h), the per-thread eventfds, and the look at a
 * client that offers nothing to wait on.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_portable.h>
#include <http_core.h>
#include <util_filter.h>

#include "mod_h2gw.h"
#include "h2gw_wait.h"

APLOG_USE_MODULE(h2gw);

/* A client connection that offers no descriptor to wait on (an HTTP/2
 * request without a body has no input pipe; a protocol module without
 * ap_get_pollfd_from_conn()) is looked at this often while the handler
 * waits for its upstream: it bounds how late a vanished client is
 * noticed there. So is an HTTP/2 client whose input pipe cannot be
 * waited on: while the handler waits for room in the request buffer
 * (or for a response before the body was read), the pipe is readable
 * with input left unread, and a reset or a lost connection shows only
 * in the stream's aborted flag. Every other wait ends on an event. */
#define HANDLER_TICK apr_time_from_msec(100)
/* An HTTP/1 body of known length that is still coming is waited for in
 * batches (SO_RCVLOWAT), but at most this long: a client that pauses
 * mid-batch has what it sent moved on after it, and the next wait is for
 * any byte again (one timed wake-up per pause, not one per interval). */
#define BATCH_LINGER apr_time_from_msec(2)
/* Such a batch: twice what wakes a starved engine (H2GW_BODY_BATCH), so
 * that the engine has one batch to send while the handler takes the
 * next, and no more than the request buffer holds. Paired runs of 1 MiB
 * uploads (bench/run.sh --ab-module, bench/README.md) gave 1.00-1.19x
 * the rate at 0.84-0.99x the CPU and 0.86-0.93x the switches against
 * batches of H2GW_BODY_BATCH; four times it gained nothing. */
#define INPUT_BATCH (2 * H2GW_BODY_BATCH)
/* An HTTP/2 body of known length that is still coming (a batch or more):
 * once mod_http2's input pipe says the input is no longer empty, the
 * handler gives the connection thread this long (microseconds) to put
 * in the rest of what it read from the client before the handler takes
 * it all, in one read; news from the engine ends it earlier. Read at
 * once, the handler meets the connection thread on the stream input's
 * lock for each piece of the client's burst when the CPUs are busy
 * (mod_http2 tells a reader only that the input is not empty, not how
 * much is coming). While more such bodies than CPUs are read at once,
 * the linger is this times their number per CPU, at most
 * PIPE_LINGER_MAX_US: the others use the CPUs meanwhile. A lone upload
 * keeps the short one, since a long one leaves the CPUs idle (1 ms
 * halved one stream's rate; bench/README.md). */
#define PIPE_LINGER_US 150
#define PIPE_LINGER_MAX_US 1000

/* HTTP/2 bodies of known length (a batch or more) being read in this
 * process, and its CPUs (looked up once; 0 until then). */
static apr_uint32_t bodies_read;
static volatile long ncpus;

/* Is the client gone? HTTP/2 frontends flag an aborted stream on the
 * secondary connection; on HTTP/1 connections look for EOF on the socket
 * without consuming anything. */
static int client_gone(conn_rec *c)
{
    apr_socket_t *sock;
    apr_os_sock_t fd;
    struct pollfd pfd;
    char b;

    if (c->aborted) {
        return 1;
    }
    if (c->master || !(sock = ap_get_conn_socket(c))
        || apr_os_sock_get(&fd, sock) != APR_SUCCESS) {
        return 0;
    }
    if (fd < 0) {
        /* Closed under the handler: an MPM stopping at once closes the
         * sockets of busy workers to get them out. */
        return 1;
    }
    pfd.fd = fd;
    pfd.events = POLLIN | POLLRDHUP;
    pfd.revents = 0;
    if (poll(&pfd, 1, 0) != 1) {
        return 0;
    }
    if (pfd.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) {
        return 1;
    }
    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Each worker thread has one wake descriptor, an eventfd made for its
 * first proxied request and closed when the thread ends: the engine
 * writes to it to wake the thread's current stream (h2gw_stream_arm()). */
typedef struct thread_wake_t {
    int fd;
    struct thread_wake_t *prev, *next;
} thread_wake_t;

static pthread_key_t wake_key;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static int wake_key_made;
/* Every thread's wake descriptor, so that a child stopping at once can
 * wake them all (malloc()ed, each freed when its thread ends). */
static pthread_mutex_t wakes_lock = PTHREAD_MUTEX_INITIALIZER;
static thread_wake_t *wakes;
/* The child stops at once: its MPM closed the client sockets of busy
 * workers, which a poll() in progress does not notice by itself. */
static volatile int stopping_now;

static void wake_fd_close(void *v)
{
    thread_wake_t *w = v;

    pthread_mutex_lock(&wakes_lock);
    if (w->prev) {
        w->prev->next = w->next;
    }
    else {
        wakes = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    pthread_mutex_unlock(&wakes_lock);
    close(w->fd);
    free(w);
}

static void wake_key_make(void)
{
    wake_key_made = (pthread_key_create(&wake_key, wake_fd_close) == 0);
}

int h2gw_wait_thread_fd(void)
{
    thread_wake_t *w;

    pthread_once(&wake_once, wake_key_make);
    if (!wake_key_made) {
        return -1;
    }
    if ((w = pthread_getspecific(wake_key)) != NULL) {
        return w->fd;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        return -1;
    }
    w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->fd < 0 || pthread_setspecific(wake_key, w) != 0) {
        if (w->fd >= 0) {
            close(w->fd);
        }
        free(w);
        return -1;
    }
    pthread_mutex_lock(&wakes_lock);
    w->next = wakes;
    if (wakes) {
        wakes->prev = w;
    }
    wakes = w;
    pthread_mutex_unlock(&wakes_lock);
    return w->fd;
}

void h2gw_wait_child_stopping(apr_pool_t *pchild, int graceful)
{
    thread_wake_t *w;
    uint64_t one = 1;

    (void)pchild;
    if (graceful) {
        return;  /* requests in flight finish */
    }
    stopping_now = 1;
    pthread_mutex_lock(&wakes_lock);
    for (w = wakes; w; w = w->next) {
        (void)!write(w->fd, &one, sizeof(one));
    }
    pthread_mutex_unlock(&wakes_lock);
}

void h2gw_wait_find_client(h2gw_req_t *ctx)
{
    apr_pollfd_t pfd;
    apr_os_sock_t sfd;
    apr_os_file_t ffd;

    ctx->client_fd = -1;
    memset(&pfd, 0, sizeof(pfd));
    pfd.p = ctx->r->pool;
    if (ap_get_pollfd_from_conn(ctx->r->connection, &pfd, NULL)
        != APR_SUCCESS) {
        return;
    }
    if (pfd.desc_type == APR_POLL_SOCKET && pfd.desc.s
        && apr_os_sock_get(&sfd, pfd.desc.s) == APR_SUCCESS && sfd >= 0) {
        ctx->client_fd = sfd;
    }
    else if (pfd.desc_type == APR_POLL_FILE && pfd.desc.f
             && apr_os_file_get(&ffd, pfd.desc.f) == APR_SUCCESS
             && ffd >= 0) {
        ctx->client_fd = ffd;
        ctx->client_pipe = 1;
    }
}

/* mod_http2 writes a byte to its pipe for each piece of input and for an
 * abort; it empties the pipe itself when a read finds no input. Once the
 * body was read to its end no read comes, so the pipe is emptied here,
 * and only after poll() said it holds something: its read end blocks. */
static void drain_pipe(int fd)
{
    char buf[512];

    (void)!read(fd, buf, sizeof(buf));
}

/*
 * After the body's end, mod_http2 writes to the input pipe when the
 * client resets the stream (and when its END_STREAM came). The stream's
 * input tells which, without a race: aborted before the pipe is written,
 * while the connection's aborted flag is set only after. A read below
 * httpd's body filter asks it (one that finds nothing empties the pipe
 * itself); what it leaves in the pipe is emptied here. Returns 1 when the
 * client reset the stream.
 */
static int h2_input_aborted(h2gw_req_t *ctx)
{
    conn_rec *c = ctx->r->connection;
    struct pollfd pfd;
    apr_status_t rv;

    if (!ctx->probe_bb) {
        ctx->probe_bb = apr_brigade_create(ctx->r->pool, c->bucket_alloc);
    }
    rv = ap_get_brigade(c->input_filters, ctx->probe_bb, AP_MODE_READBYTES,
                        APR_NONBLOCK_READ, H2GW_REQ_READ_CHUNK);
    apr_brigade_cleanup(ctx->probe_bb);
    pfd.fd = ctx->client_fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
        drain_pipe(ctx->client_fd);
    }
    return !(rv == APR_SUCCESS || rv == APR_EOF || APR_STATUS_IS_EAGAIN(rv))
           || c->aborted;
}

/* Looks the client's socket number up again: an MPM stopping at once
 * closes the sockets of busy workers to get them out, and the number may
 * not be polled (or reused) then. Returns 0 when the socket is gone. */
static int client_fd_current(h2gw_req_t *ctx)
{
    apr_socket_t *sock;
    apr_os_sock_t fd;

    if (ctx->client_fd < 0 || ctx->client_pipe) {
        return 1;
    }
    sock = ap_get_conn_socket(ctx->r->connection);
    if (!sock || apr_os_sock_get(&fd, sock) != APR_SUCCESS || fd < 0) {
        return 0;
    }
    ctx->client_fd = fd;
    return 1;
}

/* What on the client's descriptor ends a wait. */
static short client_events(const h2gw_req_t *ctx, int input)
{
    if (input) {
        return POLLIN;
    }
    if (!ctx->client_pipe) {
        /* Not POLLIN: a pipelined next request must not wake us. */
        return POLLRDHUP;
    }
    /* Before the body's end the pipe is readable while input waits
     * unread; after it, only an abort writes to it. */
    return ctx->body_done ? POLLIN : 0;
}

#ifdef SO_RCVLOWAT
/* A body of known length still to come (expect bytes): the wait ends
 * when a batch of it (or all the rest) is there; fewer, fuller reads and
 * thread switches. At most BATCH_LINGER: *timeout is cut to it. Returns
 * the low-water mark set on the socket, 0 when none was; batch_end()
 * resets it at once, as httpd reads the socket too. */
static int batch_begin(h2gw_req_t *ctx, apr_off_t expect,
                       apr_interval_time_t *timeout)
{
    int lowat;

    if (ctx->client_pipe || expect <= 1 || !ctx->batch_wait) {
        return 0;
    }
    lowat = INPUT_BATCH;
    if (ctx->st->req_cap > 0 && (apr_off_t)ctx->st->req_cap < lowat) {
        lowat = (int)ctx->st->req_cap;
    }
    if (expect < lowat) {
        lowat = (int)expect;
    }
    if (setsockopt(ctx->client_fd, SOL_SOCKET, SO_RCVLOWAT, &lowat,
                   sizeof(lowat)) != 0) {
        return 0;
    }
    if (*timeout < 0 || *timeout > BATCH_LINGER) {
        *timeout = BATCH_LINGER;
    }
    return lowat;
}

/* After a batch wait (rc: what poll() returned): the socket wakes for
 * any byte again, and a wait that timed out stops asking for batches
 * until the next read finds body bytes. */
static void batch_end(h2gw_req_t *ctx, int rc)
{
    int one = 1;

    (void)setsockopt(ctx->client_fd, SOL_SOCKET, SO_RCVLOWAT, &one,
                     sizeof(one));
    if (rc == 0) {
        ctx->batch_wait = 0;  /* the client paused mid-batch */
    }
}
#endif

void h2gw_wait_body_begin(h2gw_req_t *ctx, apr_off_t length)
{
    if (ctx->client_pipe && length >= H2GW_BODY_BATCH
        && !ctx->body_counted) {
        if (ncpus == 0) {
            long n = sysconf(_SC_NPROCESSORS_ONLN);

            ncpus = n > 0 ? n : 1;
        }
        apr_atomic_inc32(&bodies_read);
        ctx->body_counted = 1;
    }
}

void h2gw_wait_body_end(h2gw_req_t *ctx)
{
    if (ctx->body_counted) {
        apr_atomic_dec32(&bodies_read);
        ctx->body_counted = 0;
    }
}

/* After a wait for input that mod_http2's pipe ended (rc, pfd: the
 * poll()'s): for a body of known length with a batch or more still to
 * come (expect) and a read that found body before (ctx->batch_wait),
 * sleeps PIPE_LINGER_US (more with more such bodies per CPU) unless the
 * engine has news (which ends it), so that one read takes the client's
 * whole burst. */
static void pipe_linger(h2gw_req_t *ctx, struct pollfd *pfd, int rc,
                        apr_off_t expect)
{
    struct timespec linger;
    long per_cpu, us;

    if (rc != 1 || !ctx->client_pipe || !ctx->batch_wait
        || expect < H2GW_BODY_BATCH || (pfd[0].revents & POLLIN)
        || !(pfd[1].revents & POLLIN) || stopping_now) {
        return;
    }
    per_cpu = ncpus > 0 ? (long)apr_atomic_read32(&bodies_read) / ncpus : 1;
    us = PIPE_LINGER_US * (per_cpu > 1 ? per_cpu : 1);
    if (us > PIPE_LINGER_MAX_US) {
        us = PIPE_LINGER_MAX_US;
    }
    linger.tv_sec = 0;
    linger.tv_nsec = us * 1000L;
    if (ppoll(&pfd[0], 1, &linger, NULL) < 0) {
        pfd[0].revents = 0;
    }
    h2gw_stream_count_wakeup();
    h2gw_stream_count_linger();
}

/* How long the poll() may sleep: timeout (-1: no limit), cut where the
 * client must be looked at without an event (see HANDLER_TICK: a client
 * without a descriptor, or mod_http2's pipe polled for nothing; always
 * while the child stops at once), or to *backoff (doubled each time) for
 * input from a client without a descriptor. */
static apr_interval_time_t poll_timeout(h2gw_req_t *ctx, int input,
                                        apr_interval_time_t timeout,
                                        apr_interval_time_t *backoff)
{
    /* A client whose descriptor the wait polls needs no look at
     * intervals. Over TLS too: a wait for input follows a read that the
     * filters answered with EAGAIN, which mod_ssl gives only once OpenSSL
     * wants bytes from the socket (what OpenSSL and the core held was
     * taken first), so the socket shows all that is still to come. */
    if (ctx->client_fd < 0) {
        if (input && backoff) {
            timeout = (timeout < 0 || timeout > *backoff) ? *backoff
                                                          : timeout;
            *backoff = *backoff * 2 > HANDLER_TICK ? HANDLER_TICK
                                                   : *backoff * 2;
        }
        else if (timeout < 0 || timeout > HANDLER_TICK) {
            timeout = HANDLER_TICK;
        }
    }
    else if (client_events(ctx, input) == 0
             && (timeout < 0 || timeout > HANDLER_TICK)) {
        timeout = HANDLER_TICK;
    }
    if (stopping_now && (timeout < 0 || timeout > HANDLER_TICK)) {
        /* The wake-up that told of the stop may have been taken by a
         * wait that ended at the same time (poll_outcome() empties the
         * descriptor): while the child stops, look at the client this
         * often whatever happens. */
        timeout = HANDLER_TICK;
    }
    return timeout;
}

/* After the poll() (rc, on the n descriptors in pfd): empties the wake
 * descriptor, and tells whether the client went away meanwhile. Returns
 * APR_SUCCESS or APR_ECONNABORTED. */
static apr_status_t poll_outcome(h2gw_req_t *ctx, const struct pollfd *pfd,
                                 nfds_t n, int rc, int input)
{
    conn_rec *c = ctx->r->connection;

    ctx->wait_timed_out = (rc == 0);
    if (rc <= 0 || (pfd[0].revents & POLLIN)) {
        /* Also after a timeout (or a signal): the engine may have written
         * between the poll()'s end and the disarm, and that wake-up must
         * not end the next wait (of this request or the thread's next).
         * The caller looks at the stream next anyway. */
        uint64_t v;

        (void)!read(ctx->wake_fd, &v, sizeof(v));
    }
    if (rc > 0 && n == 2 && pfd[1].revents && !input) {
        if (ctx->client_pipe && (pfd[1].revents & POLLIN)
            && h2_input_aborted(ctx)) {
            return APR_ECONNABORTED;
        }
        if (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
            return APR_ECONNABORTED;
        }
    }
    if (c->aborted || ((n == 1 || stopping_now) && client_gone(c))) {
        return APR_ECONNABORTED;
    }
    return APR_SUCCESS;
}

apr_status_t h2gw_wait_event(h2gw_req_t *ctx, int input, unsigned wait_for,
                             apr_interval_time_t timeout, apr_off_t expect,
                             apr_interval_time_t *backoff)
{
    struct pollfd pfd[2];
    nfds_t n = 1;
    int rc;
#ifdef SO_RCVLOWAT
    int lowat = 0;
#endif

    if (ctx->r->connection->aborted || !client_fd_current(ctx)) {
        return APR_ECONNABORTED;
    }
    if (h2gw_stream_arm(ctx->st, wait_for,
                        (input || wait_for) ? 0 : ctx->resp_want)) {
        return APR_SUCCESS;  /* news came since the caller last looked */
    }
    pfd[0].fd = ctx->wake_fd;
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    if (ctx->client_fd >= 0) {
        pfd[1].fd = ctx->client_fd;
        pfd[1].events = client_events(ctx, input);
        pfd[1].revents = 0;
        n = 2;
#ifdef SO_RCVLOWAT
        if (input) {
            lowat = batch_begin(ctx, expect, &timeout);
        }
#endif
    }
    timeout = poll_timeout(ctx, input, timeout, backoff);
    rc = poll(pfd, n, timeout < 0 ? -1 : (int)((timeout + 999) / 1000));
    if (input && n == 2) {
        pipe_linger(ctx, pfd, rc, expect);
    }
#ifdef SO_RCVLOWAT
    if (lowat) {
        batch_end(ctx, rc);
    }
#endif
    h2gw_stream_disarm(ctx->st);
    h2gw_stream_count_wakeup();
    return poll_outcome(ctx, pfd, n, rc, input);
}
