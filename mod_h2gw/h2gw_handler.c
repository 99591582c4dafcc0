/*
 * h2gw_handler: the content handler, read as a recipe: route, build the
 * stream, submit, pump the body, relay the response, finish. It never
 * calls nghttp2: everything upstream happens on the engine thread, reached
 * through the stream and h2gw_engine_*().
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_portable.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <util_filter.h>

#include "mod_h2gw.h"
#include "h2gw_config.h"
#include "h2gw_counters.h"
#include "h2gw_engine.h"
#include "h2gw_grpcweb.h"
#include "h2gw_handler.h"
#include "h2gw_map.h"

APLOG_USE_MODULE(h2gw);

/* A client connection that offers no descriptor to wait on (an HTTP/2
 * request without a body has no input pipe; a protocol module without
 * ap_get_pollfd_from_conn()) is looked at this often while the handler
 * waits for its upstream: it bounds how late a vanished client is
 * noticed there. Every other wait ends on an event. */
#define HANDLER_TICK apr_time_from_msec(100)
/* Bytes asked from the input filters per read of the request body. */
#define BODY_READ_CHUNK (64 * 1024)
/* Without a client descriptor, the first look for more request body once
 * the client paused; it doubles up to HANDLER_TICK while neither side
 * moves. */
#define BODY_BACKOFF_MIN apr_time_from_msec(1)
/* An HTTP/1 body of known length that is still coming is waited for in
 * batches (SO_RCVLOWAT), but at most this long: a client that pauses
 * mid-batch has what it sent moved on after it, and the next wait is for
 * any byte again (one timed wake-up per pause, not one per interval). */
#define BATCH_LINGER apr_time_from_msec(2)
/* How long a handler whose HTTP/2 client's body ended (its Content-Length
 * was reached) waits after a complete response for the stream's end
 * flag, which a client sends right after the last byte. */
#define CLIENT_END_WAIT apr_time_from_msec(500)
/* An HTTP/1 response that went out complete with keep-alive before the
 * client ended its body (the upstream answered first; often only the
 * last chunk is still in flight, e.g. a gRPC-Web call's) has the rest of
 * the body read, at most this much for at most this long, so that the
 * connection the response promised to keep serves the next request;
 * closing it instead would fail that request on the client. */
#define DRAIN_MAX (64 * 1024)
#define DRAIN_WAIT apr_time_from_sec(1)
/* How long a request with "Expect: 100-continue" waits for the upstream's
 * 100 before its body is sent anyway. */
#define EXPECT_WAIT apr_time_from_sec(1)

typedef struct h2gw_req_t {
    request_rec *r;
    h2gw_engine_t *engine;
    h2gw_stream_t *st;
    h2gw_route_t route;
    apr_bucket_brigade *bb;
    int headers_sent;          /* the response started going to the client */
    int eos_sent;              /* the response went out complete */
    int unflushed;             /* body passed on without a FLUSH since */
    apr_time_t submitted;      /* when the engine got the stream */
    apr_time_t headers_at;     /* when the response headers were taken */
    int wake_fd;               /* this thread's eventfd (thread_wake_fd()) */
    int client_fd;             /* what tells of client input: the socket
                                * (HTTP/1), mod_http2's input pipe; -1:
                                * nothing (looked at every HANDLER_TICK) */
    int client_pipe;           /* client_fd is mod_http2's pipe */
    int client_tls;            /* HTTP/1 over TLS: decrypted input may wait
                                * in mod_ssl where the socket cannot tell */
    int body_done;             /* the request body was read to its end */
    int batch_wait;            /* the last read found body bytes: the next
                                * wait may ask for a batch (SO_RCVLOWAT) */
    apr_bucket_brigade *probe_bb;  /* for h2_input_aborted() */
    h2gw_grpcweb_t *gw;        /* a gRPC-Web request: translated */
} h2gw_req_t;

#define REQ_LOG(ctx, lvl, rv, fmt, ...)                                      \
    ap_log_rerror(APLOG_MARK, lvl, rv, (ctx)->r, fmt, __VA_ARGS__)

/* ---- claiming requests ------------------------------------------------ */

static void claim(request_rec *r, const h2gw_pass_t *pass)
{
    ap_set_module_config(r->request_config, &h2gw_module, (void *)pass);
    r->handler = H2GW_HANDLER;
    r->filename = apr_pstrcat(r->pool, "h2gw:", pass->url, NULL);
    r->proxyreq = PROXYREQ_REVERSE;
}

/*
 * Claims requests under a server-level H2GWPass (first in configuration
 * order) or, failing that, under a <Location> H2GWPass. The core merged
 * the <Location> sections into r->per_dir_config before translate_name,
 * so they are read there: no walk of our own, which would merge them a
 * second time for every request (and every directive whose merge appends
 * would see its values twice).
 */
int h2gw_handler_translate(request_rec *r)
{
    const h2gw_pass_t *pass = h2gw_config_match_server(r);

    if (!pass) {
        pass = h2gw_config_match_location(r);
        if (!pass || !r->uri || !h2gw_map_after_prefix(r->uri, pass->prefix)) {
            return DECLINED;
        }
    }
    claim(r, pass);
    return OK;
}

int h2gw_handler_map_to_storage(request_rec *r)
{
    if (ap_get_module_config(r->request_config, &h2gw_module)) {
        return OK;  /* claimed in translate_name: no file behind it */
    }
    return DECLINED;
}

/* ---- building the upstream request ------------------------------------ */

/* :authority: the client's Host when preserved; otherwise the server's
 * own, which the engine fills in once it has picked the server. */
static const char *upstream_authority(request_rec *r, const h2gw_route_t *rt,
                                      int *from_server)
{
    const h2gw_upstream_t *up = rt->target.upstream;

    *from_server = 0;
    if (rt->preserve_host) {
        const char *host = apr_table_get(r->headers_in, "Host");

        if (host && *host) {
            return host;
        }
    }
    *from_server = 1;
    return APR_ARRAY_IDX(up->servers, 0, h2gw_server_conf_t).authority;
}

static int add_field(void *data, const char *key, const char *val)
{
    apr_array_header_t *fields = data;
    h2gw_field_t *f = apr_array_push(fields);

    f->name = key;
    f->value = val;
    return 1;
}

static void push_own(apr_array_header_t *own, const char *name,
                     const char *value)
{
    h2gw_field_t *f = apr_array_push(own);

    f->name = name;
    f->value = value;
}

/* The fields this proxy adds (X-Forwarded-*, Forwarded, Via), appended
 * to the client's own of the same name as mod_proxy does. */
static void own_fields(h2gw_req_t *ctx, apr_array_header_t *own)
{
    request_rec *r = ctx->r;

    if (ctx->route.add_headers) {
        const char *host = apr_table_get(r->headers_in, "Host");

        push_own(own, "X-Forwarded-For", r->useragent_ip);
        if (host) {
            /* Copied: for HTTP/2 clients Host lives in a mod_http2
             * pool that is no ancestor of r->pool. */
            push_own(own, "X-Forwarded-Host", apr_pstrdup(r->pool, host));
        }
        push_own(own, "X-Forwarded-Server", r->server->server_hostname);
    }
    if (ctx->route.forwarded) {
        push_own(own, "Forwarded",
                 h2gw_map_forwarded(r->pool, r->useragent_ip,
                                    apr_table_get(r->headers_in, "Host"),
                                    ap_http_scheme(r)));
    }
    if (ctx->route.via) {
        push_own(own, "Via", h2gw_map_via(r->pool, r->proto_num,
                                          ap_get_server_name(r)));
    }
}

/* The request body's length as its Content-Length declares it, or -1
 * when it has none that counts (a Transfer-Encoding: chunked over
 * HTTP/1.1, or set by mod_http2 for a body of unknown length). */
static apr_off_t declared_length(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t n;

    if (!cl || apr_table_get(r->headers_in, "Transfer-Encoding")
        || apr_strtoff(&n, cl, NULL, 10) != APR_SUCCESS || n < 0) {
        return -1;
    }
    return n;
}

static int request_has_body(request_rec *r)
{
    return apr_table_get(r->headers_in, "Transfer-Encoding")
           || declared_length(r) > 0;
}

/* The request-body buffer: request-buffer bytes, or the whole body when
 * its Content-Length says it is smaller. */
static size_t body_buffer_size(h2gw_req_t *ctx)
{
    apr_off_t n = declared_length(ctx->r);
    size_t cap = ctx->route.request_buffer;

    return (n > 0 && (apr_uint64_t)n < cap) ? (size_t)n : cap;
}

/* Builds the stream: target, header list, body buffer. Returns OK or an
 * HTTP status. */
static int build_stream(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    apr_table_t *headers = apr_table_copy(r->pool, r->headers_in);
    apr_array_header_t *fields = apr_array_make(r->pool, 16,
                                                sizeof(h2gw_field_t));
    apr_array_header_t *own = apr_array_make(r->pool, 5,
                                             sizeof(h2gw_field_t));
    h2gw_req_line_t rl;
    h2gw_stream_t *st;
    const char *bad;
    int has_body = request_has_body(r);
    int expect = has_body && r->expecting_100;
    apr_status_t rv;

    /* Expect: 100-continue goes upstream, and the body waits for the
     * upstream's verdict (proxy()); httpd sends the client its own "100
     * Continue" when the body is first read. */
    apr_table_unset(headers, "Expect");
    if (expect) {
        apr_table_setn(headers, "Expect", "100-continue");
    }
    if (ctx->gw) {
        h2gw_grpcweb_request_fields(ctx->gw, headers);
    }
    apr_table_do(add_field, fields, headers, NULL);
    own_fields(ctx, own);

    rv = h2gw_stream_create(&st, has_body ? body_buffer_size(ctx) : 0);
    if (rv != APR_SUCCESS) {
        REQ_LOG(ctx, APLOG_ERR, rv, H2GW_LOGNO(00201) "%s",
                "cannot create stream");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rl.method = r->method;
    rl.scheme = "http";
    rl.authority = upstream_authority(r, &ctx->route, &st->server_authority);
    rl.path = h2gw_map_upstream_path(r->pool, r->unparsed_uri, r->uri,
                                     r->parsed_uri.query,
                                     ctx->route.pass->prefix,
                                     ctx->route.pass->base_path);
    rv = h2gw_headers_req_to_nv(st->pool, &rl,
                                (const h2gw_field_t *)fields->elts,
                                (size_t)fields->nelts, &st->nv, &st->nvlen,
                                &bad);
    if (rv == APR_SUCCESS) {
        /* After the hop-by-hop removal: "Connection: X-Forwarded-For"
         * drops the client's field, never ours. */
        rv = h2gw_headers_add_own(st->pool, st->nv, st->nvlen,
                                  (const h2gw_field_t *)own->elts,
                                  (size_t)own->nelts, &st->nv, &st->nvlen,
                                  &bad);
    }
    if (rv != APR_SUCCESS) {
        REQ_LOG(ctx, APLOG_INFO, 0, H2GW_LOGNO(00202) "request not proxied: "
                "invalid field '%s' (path '%s')", bad, rl.path);
        h2gw_stream_unref(st);
        return HTTP_BAD_REQUEST;
    }
    st->target = ctx->route.target;
    st->has_body = has_body;
    st->idempotent = h2gw_stream_method_idempotent(
        r->method, apr_table_get(r->headers_in, "Idempotency-Key") != NULL);
    {
        /* Window given back in batches, one engine wake-up each: a
         * quarter of the stream window (nghttp2 sends WINDOW_UPDATE at
         * half), and small enough that the streams of a full connection
         * cannot hold back half the connection window. */
        const h2gw_upstream_t *up = st->target.upstream;
        size_t batch = (size_t)up->stream_window / 4;
        size_t conn_share = (size_t)up->conn_window
                            / (4 * (size_t)(up->max_streams > 0
                                                ? up->max_streams : 1));

        st->consume_batch = batch < conn_share ? batch : conn_share;
    }
    st->expect_continue = expect;
    st->wake_fd = ctx->wake_fd;
    ctx->st = st;
    return OK;
}

/* ---- the client side -------------------------------------------------- */

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

/* ---- waiting on the client and the upstream at once ------------------- */

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

/* This thread's wake descriptor, or -1 when none can be had. */
static int thread_wake_fd(void)
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

void h2gw_handler_child_stopping(apr_pool_t *pchild, int graceful)
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

/* Finds what tells of the client's input: its socket for HTTP/1,
 * mod_http2's input pipe for an HTTP/2 stream with a body. Without one
 * (no body, or a frontend without ap_get_pollfd_from_conn()), client_fd
 * stays -1 and waits look at the client every HANDLER_TICK. */
static void find_client_fd(h2gw_req_t *ctx)
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
        ctx->client_tls = ap_ssl_conn_is_ssl(ctx->r->connection);
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
                        APR_NONBLOCK_READ, BODY_READ_CHUNK);
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

/*
 * Sleeps until something can move the request: the engine wakes the
 * stream (response headers, data, end, failure, or what wait_for names),
 * the client has input (when `input`), the client is gone, or `timeout`
 * (-1: none) passed. One poll() on the thread's wake descriptor and the
 * client's; nothing is polled at intervals unless the client offers no
 * descriptor (then every HANDLER_TICK, or *backoff for input).
 * expect: body bytes still to come (0: not known); an HTTP/1 wait for
 * input then ends once a batch of them is there (SO_RCVLOWAT), not for
 * every segment.
 * Returns APR_SUCCESS (look again), APR_ECONNABORTED (the client is gone:
 * closed, reset, or the MPM closed its socket under us).
 */
static apr_status_t wait_event(h2gw_req_t *ctx, int input, unsigned wait_for,
                               apr_interval_time_t timeout, apr_off_t expect,
                               apr_interval_time_t *backoff)
{
    conn_rec *c = ctx->r->connection;
    struct pollfd pfd[2];
    nfds_t n = 1;
    int lowat = 0, rc;

    if (c->aborted) {
        return APR_ECONNABORTED;
    }
    if (ctx->client_fd >= 0 && !ctx->client_pipe) {
        /* An MPM stopping at once closes the sockets of busy workers to
         * get them out: the number may not be polled (or reused) then. */
        apr_socket_t *sock = ap_get_conn_socket(c);
        apr_os_sock_t fd;

        if (!sock || apr_os_sock_get(&fd, sock) != APR_SUCCESS || fd < 0) {
            return APR_ECONNABORTED;
        }
        ctx->client_fd = fd;
    }
    if (h2gw_stream_arm(ctx->st, wait_for)) {
        return APR_SUCCESS;  /* news came since the caller last looked */
    }
    pfd[0].fd = ctx->wake_fd;
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    if (ctx->client_fd >= 0) {
        pfd[1].fd = ctx->client_fd;
        pfd[1].revents = 0;
        if (input) {
            pfd[1].events = POLLIN;
        }
        else if (!ctx->client_pipe) {
            /* Not POLLIN: a pipelined next request must not wake us. */
            pfd[1].events = POLLRDHUP;
        }
        else {
            /* Before the body's end the pipe is readable while input
             * waits unread; after it, only an abort writes to it. */
            pfd[1].events = ctx->body_done ? POLLIN : 0;
        }
        n = 2;
#ifdef SO_RCVLOWAT
        /* A body of known length still to come: wake when a batch of it
         * (or all the rest) is there; fewer, fuller reads and thread
         * switches. Reset at once: httpd reads the socket too. */
        if (input && !ctx->client_pipe && expect > 1 && ctx->batch_wait) {
            lowat = expect < H2GW_BODY_BATCH ? (int)expect : H2GW_BODY_BATCH;
            if (setsockopt(ctx->client_fd, SOL_SOCKET, SO_RCVLOWAT, &lowat,
                           sizeof(lowat)) != 0) {
                lowat = 0;
            }
            else if (timeout < 0 || timeout > BATCH_LINGER) {
                timeout = BATCH_LINGER;
            }
        }
#endif
        if (input && ctx->client_tls
            && (timeout < 0 || timeout > HANDLER_TICK)) {
            /* The TLS layer may hold input it read from the socket:
             * waits for more body look again at least this often. */
            timeout = HANDLER_TICK;
        }
    }
    else if (input && backoff) {
        timeout = (timeout < 0 || timeout > *backoff) ? *backoff : timeout;
        *backoff = *backoff * 2 > HANDLER_TICK ? HANDLER_TICK : *backoff * 2;
    }
    else if (timeout < 0 || timeout > HANDLER_TICK) {
        timeout = HANDLER_TICK;
    }
    rc = poll(pfd, n, timeout < 0 ? -1 : (int)((timeout + 999) / 1000));
#ifdef SO_RCVLOWAT
    if (lowat) {
        int one = 1;

        (void)setsockopt(ctx->client_fd, SOL_SOCKET, SO_RCVLOWAT, &one,
                         sizeof(one));
        if (rc == 0) {
            ctx->batch_wait = 0;  /* the client paused mid-batch */
        }
    }
#endif
    h2gw_stream_disarm(ctx->st);
    h2gw_stream_count_wakeup();
    if (rc > 0 && (pfd[0].revents & POLLIN)) {
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

static void chunk_free(void *data)
{
    h2gw_chunk_free((h2gw_chunk_t *)((char *)data
                                     - offsetof(h2gw_chunk_t, data)));
}

/* What this request's response URIs are mapped back with (see
 * h2gw_map_reverse()): its pass, its upstream's servers, the client's
 * Host when it went upstream, and this server's URL as the client
 * reaches it. Allocated in r->pool. */
static const h2gw_map_rev_t *reverse_map(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    const h2gw_pass_t *pass = ctx->route.pass;
    const apr_array_header_t *servers = pass->upstream->servers;
    h2gw_map_rev_t *m = apr_pcalloc(r->pool, sizeof(*m));
    const char **auth = apr_palloc(r->pool, sizeof(*auth)
                                   * (size_t)(servers->nelts + 1));
    int i;

    for (i = 0; i < servers->nelts; ++i) {
        auth[i] = APR_ARRAY_IDX(servers, i, h2gw_server_conf_t).authority;
    }
    m->prefix = pass->prefix;
    m->base_path = pass->base_path;
    m->authorities = auth;
    m->nauthorities = servers->nelts;
    m->host = ctx->route.preserve_host
                  ? apr_table_get(r->headers_in, "Host") : NULL;
    m->client_url = ap_construct_url(r->pool, "", r);
    return m;
}

/* Sets the final response's status and headers on r; they go out with
 * the first brigade passed (so a response that is already complete, e.g.
 * a gRPC trailers-only answer, leaves as one HEADERS frame with
 * END_STREAM on HTTP/2, and with a Content-Length on HTTP/1.1). */
static void set_headers(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    h2gw_stream_t *st = ctx->st;
    const h2gw_field_t *f = (const h2gw_field_t *)st->resp_fields->elts;
    const h2gw_map_rev_t *m = NULL;
    int i;

    r->status = st->http_status;
    /* Strings are copied: the stream may be freed before r is logged. */
    for (i = 0; i < st->resp_fields->nelts; ++i) {
        if (!strcasecmp(f[i].name, "content-type")) {
            ap_set_content_type(r, apr_pstrdup(r->pool, f[i].value));
        }
        else if (ctx->route.reverse && h2gw_map_is_uri_field(f[i].name)) {
            const char *v = apr_pstrdup(r->pool, f[i].value);

            if (!m) {
                m = reverse_map(ctx);
            }
            apr_table_addn(r->headers_out, apr_pstrdup(r->pool, f[i].name),
                           h2gw_map_reverse(r->pool, m, v));
        }
        else {
            apr_table_addn(r->headers_out, apr_pstrdup(r->pool, f[i].name),
                           apr_pstrdup(r->pool, f[i].value));
        }
    }
    if (ctx->route.via) {
        apr_table_merge(r->headers_out, "Via",
                        h2gw_map_via(r->pool, HTTP_VERSION(2, 0),
                                     ap_get_server_name(r)));
    }
    ctx->headers_sent = 1;
    REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: stream %lu: response %d from %s "
            "after %" APR_TIME_T_FMT " us", st->id, r->status,
            st->target.name, ctx->headers_at - ctx->submitted);
}

/* Sends what the output filters hold: the response headers set by
 * set_headers() when no body part is there to go with them, or body parts
 * passed on without a FLUSH. */
static apr_status_t flush_out(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    apr_status_t rv;

    APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_flush_create(
                                         r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, ctx->bb);
    apr_brigade_cleanup(ctx->bb);
    return rv;
}

/* Passes interim (1xx) responses from the upstream to the client, as
 * httpd does for its own: HTTP/1.1 clients get them in the response
 * stream, HTTP/2 clients as HEADERS (mod_http2 forwards 103 only with
 * H2EarlyHints on), HTTP/1.0 clients none. */
static void send_interim(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    h2gw_interim_t *im = h2gw_stream_take_interim(ctx->st);
    int status = r->status;
    const char *status_line = r->status_line;
    apr_table_t *headers = r->headers_out;

    for (; im; im = im->next) {
        const h2gw_field_t *f = (const h2gw_field_t *)im->fields->elts;
        int i;

        r->status = im->status;
        r->status_line = NULL;
        r->headers_out = apr_table_make(r->pool, im->fields->nelts + 1);
        for (i = 0; i < im->fields->nelts; ++i) {
            apr_table_add(r->headers_out, f[i].name, f[i].value);
        }
        REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: interim response %d passed on",
                im->status);
        ap_send_interim_response(r, 1);
    }
    r->status = status;
    r->status_line = status_line;
    r->headers_out = headers;
}

/* The upstream's trailers go out with the end of the response (HTTP/2
 * clients get them as trailing HEADERS; HTTP/1.1 has no way in httpd). */
static void set_trailers(h2gw_req_t *ctx)
{
    h2gw_stream_t *st = ctx->st;
    const apr_array_header_t *t;
    int i;

    apr_thread_mutex_lock(st->lock);
    t = (st->state == H2GW_STREAM_ST_CLOSED) ? st->resp_trailers : NULL;
    apr_thread_mutex_unlock(st->lock);
    for (i = 0; t && i < t->nelts; ++i) {
        const h2gw_field_t *f = &APR_ARRAY_IDX(t, i, h2gw_field_t);

        apr_table_add(ctx->r->trailers_out, f->name, f->value);
    }
}

static apr_status_t send_data(h2gw_req_t *ctx, h2gw_chunk_t *head, size_t len,
                              int eos)
{
    request_rec *r = ctx->r;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_status_t rv;

    if (ctx->gw) {
        h2gw_grpcweb_data(ctx->gw, ctx->bb, head, eos ? ctx->st : NULL);
        head = NULL;
    }
    while (head) {
        h2gw_chunk_t *next = head->next;

        /* The bucket owns the chunk from here: no copy. */
        APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_heap_create(
                                             head->data, head->len,
                                             chunk_free, ba));
        head = next;
    }
    if (eos) {
        if (!ctx->gw) {
            set_trailers(ctx);
        }
        APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_eos_create(ba));
    }
    /* No FLUSH: more may follow at once; relay() flushes before it waits
     * for the upstream. */
    ctx->unflushed = !eos;
    rv = ap_pass_brigade(r->output_filters, ctx->bb);
    apr_brigade_cleanup(ctx->bb);
    if (rv != APR_SUCCESS) {
        return APR_ECONNABORTED;
    }
    if (len > 0 && !eos) {
        /* (At the end, the release gives back the rest.) */
        h2gw_engine_consumed(ctx->engine, ctx->st, len);
    }
    /* Complete: a client closing right after it is no abort. */
    return (eos || !r->connection->aborted) ? APR_SUCCESS : APR_ECONNABORTED;
}

/* After the headers went out, the response can only be cut: the client
 * must never take it for complete (HTTP/1.1: connection closed before the
 * end; HTTP/2: stream reset). */
static void abort_response(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;

    r->no_cache = 1;
    r->connection->keepalive = AP_CONN_CLOSE;
    apr_brigade_cleanup(ctx->bb);
    APR_BRIGADE_INSERT_TAIL(ctx->bb, ap_bucket_error_create(
                                         HTTP_BAD_GATEWAY, NULL, r->pool, ba));
    APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_eos_create(ba));
    ap_pass_brigade(r->output_filters, ctx->bb);
    apr_brigade_cleanup(ctx->bb);
}

/*
 * Moves what the stream holds for the client to the client, without
 * waiting. Returns APR_SUCCESS (moved something), APR_EAGAIN (nothing at
 * hand: what went to the output filters was flushed, the caller may
 * sleep), APR_EOF (the response is complete), APR_EGENERAL (the stream
 * failed), APR_ECONNABORTED (the client is gone).
 */
static apr_status_t relay(h2gw_req_t *ctx)
{
    h2gw_chunk_t *head;
    size_t len;
    int eos;
    apr_status_t rv;

    if (ctx->eos_sent) {
        return APR_EOF;
    }
    if (!ctx->headers_sent) {
        send_interim(ctx);
        rv = h2gw_stream_wait_headers(ctx->st, 0);
        if (rv == APR_TIMEUP) {
            return APR_EAGAIN;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        ctx->headers_at = apr_time_now();
        send_interim(ctx);  /* those that came with the final headers */
        set_headers(ctx);
        if (ctx->gw && h2gw_grpcweb_response(ctx->gw)) {
            /* Not a gRPC answer: a gRPC-Web error, without its body. */
            head = NULL;
            len = 0;
            eos = 1;
        }
        else if ((rv = h2gw_stream_take_data(ctx->st, &head, &len, &eos, 0))
                 != APR_SUCCESS) {
            /* No body part yet (or a failure): the headers go alone, now. */
            if (flush_out(ctx) != APR_SUCCESS
                || ctx->r->connection->aborted) {
                return APR_ECONNABORTED;
            }
            return rv == APR_TIMEUP ? APR_SUCCESS : rv;
        }
    }
    else {
        rv = h2gw_stream_take_data(ctx->st, &head, &len, &eos, 0);
        if (rv == APR_TIMEUP) {
            if (ctx->unflushed) {
                /* Nothing more at hand: what went to the filters goes out
                 * before anything waits (for the upstream or the
                 * client). */
                if (flush_out(ctx) != APR_SUCCESS
                    || ctx->r->connection->aborted) {
                    return APR_ECONNABORTED;
                }
                ctx->unflushed = 0;
            }
            return APR_EAGAIN;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (send_data(ctx, head, len, eos) != APR_SUCCESS) {
        return APR_ECONNABORTED;
    }
    ctx->eos_sent = eos;
    return eos ? APR_EOF : APR_SUCCESS;
}

/* Relays until nothing more is at hand. Returns APR_EAGAIN then, or what
 * ended it (see relay()). */
static apr_status_t relay_all(h2gw_req_t *ctx)
{
    apr_status_t rv;

    while ((rv = relay(ctx)) == APR_SUCCESS) {
    }
    return rv;
}

/* The client's request trailers (HTTP/2 trailing HEADERS, HTTP/1.1
 * chunked trailers: httpd keeps them in r->trailers_in), as fields for
 * the upstream: names lowercased; pseudo-headers, hop-by-hop and invalid
 * fields dropped. NULL when there are none. */
static nghttp2_nv *request_trailers(request_rec *r, size_t *pn)
{
    const apr_array_header_t *arr = apr_table_elts(r->trailers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    nghttp2_nv *nv;
    size_t n = 0;
    int i;

    *pn = 0;
    if (arr->nelts == 0) {
        return NULL;
    }
    nv = apr_pcalloc(r->pool, sizeof(*nv) * (size_t)arr->nelts);
    for (i = 0; i < arr->nelts; ++i) {
        char *name;

        if (!e[i].key || !e[i].val) {
            continue;
        }
        name = apr_pstrdup(r->pool, e[i].key);
        ap_str_tolower(name);
        if (h2gw_headers_resp_class((const uint8_t *)name, strlen(name),
                                    (const uint8_t *)e[i].val,
                                    strlen(e[i].val)) != H2GW_HDR_PASS) {
            continue;
        }
        nv[n].name = (uint8_t *)name;
        nv[n].namelen = strlen(name);
        nv[n].value = (uint8_t *)e[i].val;
        nv[n].valuelen = strlen(e[i].val);
        nv[n].flags = NGHTTP2_NV_FLAG_NONE;
        ++n;
    }
    *pn = n;
    return n ? nv : NULL;
}

/*
 * Streams the request body from the input filters into the stream,
 * relaying response parts that arrive meanwhile: request and response
 * move at once (gRPC bidirectional calls). Reads never block; when the
 * client has nothing at hand, the handler sleeps in one wait on its
 * client and its stream (wait_event()). Returns APR_SUCCESS when the body
 * is complete, APR_ECONNABORTED when the stream ended first (the response
 * decides) or the client went away, or the input error.
 */
static apr_status_t pump_body(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    apr_bucket_brigade *in = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);
    apr_interval_time_t backoff = BODY_BACKOFF_MIN;
    apr_off_t declared = declared_length(r);
    int seen_eos = 0;
    apr_off_t body_bytes = 0;
    nghttp2_nv *trailers;
    size_t ntrailers;
    apr_status_t rv;

    if (r->expecting_100 && !r->connection->master) {
        /* httpd's HTTP/1 input filter sends "100 Continue" on a blocking
         * read only; ours do not block, so it is sent here (once: this
         * clears expecting_100). mod_http2 sends its own. */
        int status = r->status;

        r->status = HTTP_CONTINUE;
        ap_send_interim_response(r, 0);
        r->status = status;
    }
    while (!seen_eos) {
        apr_bucket *b;

        rv = ap_get_brigade(r->input_filters, in, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ, BODY_READ_CHUNK);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(in))) {
            apr_brigade_cleanup(in);
            /* The body held back from the engine (less than a batch) goes
             * before the wait for more; response parts at hand go out. */
            if (h2gw_stream_body_held(ctx->st)) {
                h2gw_engine_notify(ctx->engine, ctx->st);
            }
            rv = relay_all(ctx);
            if (rv != APR_EAGAIN) {
                return APR_ECONNABORTED;
            }
            if (!h2gw_stream_body_room(ctx->st)) {
                /* The engine has half a buffer and more to send: wait
                 * until it sent that, then take what the client sent
                 * meanwhile at once (one wake-up, not one per piece). */
                rv = wait_event(ctx, 0, H2GW_WAIT_SPACE, -1, 0, NULL);
            }
            else {
                rv = wait_event(ctx, 1, 0, -1,
                                declared >= 0 ? declared - body_bytes : 0,
                                &backoff);
            }
            if (rv != APR_SUCCESS) {
                return rv;
            }
            continue;
        }
        if (rv != APR_SUCCESS) {
            return r->connection->aborted ? APR_ECONNABORTED : rv;
        }
        backoff = BODY_BACKOFF_MIN;
        ctx->batch_wait = 1;
        for (b = APR_BRIGADE_FIRST(in); b != APR_BRIGADE_SENTINEL(in);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t len, took;
            int wake;

            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            body_bytes += (apr_off_t)len;
            if (ctx->gw
                && (rv = h2gw_grpcweb_body(ctx->gw, &data, &len))
                       != APR_SUCCESS) {
                return rv;
            }
            while (len > 0) {
                rv = h2gw_stream_put_body(ctx->st, data, len, 0, &took,
                                          &wake);
                if (wake) {
                    h2gw_engine_notify(ctx->engine, ctx->st);
                }
                data += took;
                len -= took;
                if (rv == APR_EAGAIN || rv == APR_TIMEUP) {
                    /* Response parts wait (EAGAIN), or the buffer is full
                     * (TIMEUP): move the response, then sleep until there
                     * is room or news. */
                    apr_status_t rrv = relay_all(ctx);

                    if (rrv != APR_EAGAIN) {
                        return APR_ECONNABORTED;
                    }
                    if (rv == APR_TIMEUP
                        && wait_event(ctx, 0, H2GW_WAIT_SPACE, -1, 0, NULL)
                               != APR_SUCCESS) {
                        return APR_ECONNABORTED;
                    }
                    continue;
                }
                if (rv != APR_SUCCESS) {
                    return rv;
                }
            }
        }
        apr_brigade_cleanup(in);
    }
    if (ctx->gw && (rv = h2gw_grpcweb_body_end(ctx->gw)) != APR_SUCCESS) {
        return rv;
    }
    ctx->body_done = 1;
    trailers = request_trailers(r, &ntrailers);
    REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: stream %lu: request body complete "
            "(%" APR_OFF_T_FMT " bytes%s)", ctx->st->id, body_bytes,
            ntrailers ? ", with trailers" : "");
    apr_thread_mutex_lock(ctx->st->lock);
    ctx->st->req_trailers = trailers;
    ctx->st->req_ntrailers = ntrailers;
    ctx->st->req_eos = 1;
    ctx->st->pend_resume = 1;
    apr_thread_mutex_unlock(ctx->st->lock);
    h2gw_engine_notify(ctx->engine, ctx->st);
    return APR_SUCCESS;
}

/*
 * For an HTTP/2 client whose body httpd ended at its Content-Length: the
 * stream's END_STREAM may come a moment after the last byte. A handler
 * that returns before it came has mod_http2 reset the stream after the
 * complete response (RST_STREAM NO_ERROR, RFC 9113 §8.1), which some
 * clients take for a failed request (curl 7.88: "Empty reply from
 * server"). So it waits for the end on the input pipe, at most
 * CLIENT_END_WAIT; reads below httpd's body filter see it.
 */
static void await_client_end(h2gw_req_t *ctx)
{
    conn_rec *c = ctx->r->connection;
    apr_bucket_brigade *bb = apr_brigade_create(ctx->r->pool,
                                                c->bucket_alloc);
    apr_time_t until = apr_time_now() + CLIENT_END_WAIT;

    for (;;) {
        struct pollfd pfd;
        apr_interval_time_t left;
        apr_status_t rv = ap_get_brigade(c->input_filters, bb,
                                         AP_MODE_READBYTES,
                                         APR_NONBLOCK_READ, BODY_READ_CHUNK);
        int eos = (rv == APR_EOF)
                  || (rv == APR_SUCCESS && !APR_BRIGADE_EMPTY(bb)
                      && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb)));

        apr_brigade_cleanup(bb);
        left = until - apr_time_now();
        if (eos || left <= 0 || c->aborted
            || (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv))) {
            return;
        }
        if (rv == APR_SUCCESS) {
            continue;  /* bytes past the Content-Length: not ours */
        }
        pfd.fd = ctx->client_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        (void)poll(&pfd, 1, (int)((left + 999) / 1000));
    }
}

/*
 * After a complete response to an HTTP/1 request whose body had not
 * ended (see DRAIN_MAX): reads and drops the rest of the body. Returns 1
 * when it ended within the bounds, 0 otherwise (the caller closes the
 * connection).
 */
static int drain_body(h2gw_req_t *ctx)
{
    conn_rec *c = ctx->r->connection;
    apr_bucket_brigade *bb;
    apr_time_t until = apr_time_now() + DRAIN_WAIT;
    apr_off_t seen = 0;

    if (!ctx->eos_sent || ctx->client_fd < 0 || ctx->client_tls
        || c->aborted) {
        return 0;  /* (over TLS the socket cannot tell of held input) */
    }
    /* The core holds a small complete response back (to join the next
     * one): the client waits for it before it sends the rest. */
    bb = apr_brigade_create(ctx->r->pool, c->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(c->bucket_alloc));
    if (ap_pass_brigade(c->output_filters, bb) != APR_SUCCESS) {
        return 0;
    }
    apr_brigade_cleanup(bb);
    for (;;) {
        struct pollfd pfd;
        apr_interval_time_t left;
        apr_bucket *b;
        apr_status_t rv = ap_get_brigade(ctx->r->input_filters, bb,
                                         AP_MODE_READBYTES,
                                         APR_NONBLOCK_READ, BODY_READ_CHUNK);

        if (rv == APR_SUCCESS) {
            for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
                 b = APR_BUCKET_NEXT(b)) {
                if (APR_BUCKET_IS_EOS(b)) {
                    apr_brigade_cleanup(bb);
                    return 1;
                }
                seen += b->length == (apr_size_t)-1 ? 0 : b->length;
            }
            apr_brigade_cleanup(bb);
            if (seen > DRAIN_MAX) {
                return 0;
            }
            continue;
        }
        apr_brigade_cleanup(bb);
        left = until - apr_time_now();
        if (!APR_STATUS_IS_EAGAIN(rv) || left <= 0) {
            return 0;
        }
        pfd.fd = ctx->client_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, (int)((left + 999) / 1000)) != 1
            || (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))) {
            return 0;
        }
    }
}

/* ---- the recipe ------------------------------------------------------- */

/* Notes for LogFormat's %{...}n: see the README's Logging section. */
static void set_notes(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    h2gw_stream_t *st = ctx->st;

    apr_thread_mutex_lock(st->lock);
    apr_table_setn(r->notes, "h2gw-buffered-max",
                   apr_psprintf(r->pool, "%" APR_SIZE_T_FMT,
                                st->buffered_max));
    apr_table_setn(r->notes, "h2gw-stream",
                   apr_psprintf(r->pool, "%lu/%d", st->log_conn_id,
                                (int)st->log_stream_id));
    apr_table_setn(r->notes, "h2gw-retries",
                   apr_psprintf(r->pool, "%d", st->retried));
    if (st->log_server) {
        /* Configuration memory: lives as long as the process. */
        apr_table_setn(r->notes, "h2gw-server", st->log_server);
    }
    apr_thread_mutex_unlock(st->lock);
    apr_table_setn(r->notes, "h2gw-upstream",
                   apr_pstrdup(r->pool, ctx->route.pass->url));
    if (ctx->headers_at) {
        apr_table_setn(r->notes, "h2gw-header-time",
                       apr_psprintf(r->pool, "%" APR_TIME_T_FMT,
                                    ctx->headers_at - ctx->submitted));
    }
}

/* Logs a failed stream once, with the upstream and the cause; returns the
 * HTTP status to answer with when nothing went out yet. */
static int report_failure(h2gw_req_t *ctx)
{
    h2gw_stream_t *st = ctx->st;
    h2gw_fail_t fail;
    const char *reason;

    fail = h2gw_stream_failure(st, ctx->r->pool, &reason, NULL);
    if (!reason) {
        reason = "unknown";
    }
    h2gw_counters_fail(st->target.upstream, fail);
    /* (STYLE: the upstream's doing is a warning, our own an error.) */
    REQ_LOG(ctx, fail == H2GW_FAIL_INTERNAL ? APLOG_ERR : APLOG_WARNING, 0,
            H2GW_LOGNO(00203) "upstream %s: %s (%s)%s",
            ctx->route.pass->url, h2gw_stream_fail_name(fail), reason,
            ctx->headers_sent ? ", response aborted" : "");
    return h2gw_stream_fail_status(fail);
}

/*
 * For a request with "Expect: 100-continue": waits for the upstream to
 * ask for the body (100) or answer without it (a final response, e.g.
 * 413, or a failure). An upstream that ignores Expect gets the body
 * after EXPECT_WAIT, as RFC 9110 §10.1.1 has clients do. Returns
 * APR_SUCCESS to send the body, APR_EOF when it is not wanted,
 * APR_ECONNABORTED when the client went away.
 */
static apr_status_t await_continue(h2gw_req_t *ctx)
{
    apr_time_t until = apr_time_now() + EXPECT_WAIT;

    for (;;) {
        apr_interval_time_t left = until - apr_time_now();
        apr_status_t rv = h2gw_stream_wait_continue(ctx->st, 0);

        if (rv != APR_TIMEUP) {
            return rv;
        }
        if (left <= 0) {
            REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: no 100 Continue from %s "
                    "within %d ms, sending the body",
                    ctx->st->target.name,
                    (int)apr_time_as_msec(EXPECT_WAIT));
            return APR_SUCCESS;
        }
        if (wait_event(ctx, 0, H2GW_WAIT_CONTINUE, left, 0, NULL)
            != APR_SUCCESS) {
            return APR_ECONNABORTED;
        }
    }
}

static int proxy(h2gw_req_t *ctx)
{
    request_rec *r = ctx->r;
    apr_status_t rv = APR_SUCCESS;
    int send_body;

    ctx->submitted = apr_time_now();
    ctx->st->submitted_at = ctx->submitted;
    if (h2gw_engine_submit(ctx->engine, ctx->st) != APR_SUCCESS) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: stream %lu: %s %s submitted to %s%s",
            ctx->st->id, r->method, (const char *)ctx->st->nv[3].value,
            ctx->st->target.name,
            !ctx->st->has_body ? ""
            : ctx->st->expect_continue ? ", body after 100-continue"
                                       : ", body follows");
    send_body = ctx->st->has_body;
    if (send_body && ctx->st->expect_continue) {
        rv = await_continue(ctx);
        if (rv == APR_ECONNABORTED) {
            r->connection->aborted = 1;
            return OK;
        }
        if (rv == APR_EOF) {
            /* Answered without the body: it is never read, so this
             * HTTP/1 connection cannot carry another request. */
            send_body = 0;
            if (!r->connection->master) {
                r->connection->keepalive = AP_CONN_CLOSE;
            }
        }
    }
    if (send_body) {
        rv = pump_body(ctx);
        if (rv == APR_ECONNABORTED && !r->connection->master
            && !drain_body(ctx)) {
            /* The upstream answered before taking the whole body: close
             * rather than read and discard an unbounded rest. */
            r->connection->keepalive = AP_CONN_CLOSE;
        }
        if (rv != APR_SUCCESS && rv != APR_ECONNABORTED) {
            REQ_LOG(ctx, APLOG_INFO, rv, H2GW_LOGNO(00204) "%s",
                    "reading the request body failed");
            if (!ctx->headers_sent) {
                return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            }
            abort_response(ctx);
            return OK;
        }
    }
    for (;;) {
        rv = relay_all(ctx);
        if (rv != APR_EAGAIN) {
            break;
        }
        rv = wait_event(ctx, 0, 0, -1, 0, NULL);
        if (rv != APR_SUCCESS) {
            break;
        }
    }

    switch (rv) {
    case APR_EOF:
        if (ctx->client_pipe && ctx->body_done) {
            await_client_end(ctx);
        }
        return OK;
    case APR_ECONNABORTED:
        REQ_LOG(ctx, APLOG_DEBUG, 0, "h2gw: client gone, stream %lu "
                "cancelled", ctx->st->id);
        r->connection->aborted = 1;
        return OK;
    default:
        if (!ctx->headers_sent) {
            return report_failure(ctx);
        }
        report_failure(ctx);
        if (!ctx->gw || h2gw_grpcweb_fail_body(ctx->gw, ctx->st)
                            != APR_SUCCESS) {
            abort_response(ctx);
        }
        return OK;
    }
}

/* The answer for an HTTP error status before anything went out: the
 * status itself, or for a gRPC-Web request a gRPC-Web error (never an
 * HTML page in a gRPC-Web body). */
static int gw_status(h2gw_req_t *ctx, int http_status)
{
    return ctx->gw ? h2gw_grpcweb_fail_headers(ctx->gw, NULL, http_status)
                   : http_status;
}

int h2gw_handler_run(request_rec *r)
{
    h2gw_req_t ctx;
    const h2gw_pass_t *pass;
    int http_status;

    if (!r->handler || strcmp(r->handler, H2GW_HANDLER)) {
        return DECLINED;
    }
    pass = ap_get_module_config(r->request_config, &h2gw_module);
    if (!pass) {
        return DECLINED;
    }
    if (r->method_number == M_CONNECT) {
        return HTTP_METHOD_NOT_ALLOWED;  /* never a tunnel to anywhere */
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.r = r;
    h2gw_config_route(r, pass, &ctx.route);
    http_status = h2gw_grpcweb_begin(r, &ctx.route, &ctx.gw);
    if (http_status != DECLINED) {
        return http_status;  /* a CORS preflight, answered */
    }
    ctx.engine = h2gw_engine_get();
    if (!ctx.engine) {
        REQ_LOG(&ctx, APLOG_ERR, 0, H2GW_LOGNO(00205) "%s",
                "engine not running in this process");
        return gw_status(&ctx, HTTP_SERVICE_UNAVAILABLE);
    }
    ctx.wake_fd = thread_wake_fd();
    if (ctx.wake_fd < 0) {
        REQ_LOG(&ctx, APLOG_ERR, APR_FROM_OS_ERROR(errno), H2GW_LOGNO(00206)
                "%s", "no wake descriptor for this thread (eventfd)");
        return gw_status(&ctx, HTTP_SERVICE_UNAVAILABLE);
    }
    find_client_fd(&ctx);
    ctx.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    http_status = build_stream(&ctx);
    if (http_status != OK) {
        return gw_status(&ctx, http_status);
    }
    http_status = proxy(&ctx);
    if (ctx.gw && http_status != OK && !ctx.headers_sent) {
        /* Its stream still tells why: a gRPC-Web error, no HTML page,
         * and a complete answer. */
        http_status = h2gw_grpcweb_fail_headers(ctx.gw, ctx.st, http_status);
        ctx.headers_sent = ctx.eos_sent = 1;
    }
    set_notes(&ctx);
    REQ_LOG(&ctx, APLOG_DEBUG, 0, "h2gw: stream %lu: done, %s, %" APR_OFF_T_FMT
            " body bytes out, %s ms, upstream stream %s on %s, %s retries",
            ctx.st->id, ctx.eos_sent ? "complete"
                        : ctx.headers_sent ? "aborted" : "no response",
            r->bytes_sent,
            apr_psprintf(r->pool, "%.1f",
                         (double)(apr_time_now() - ctx.submitted) / 1000.0),
            apr_table_get(r->notes, "h2gw-stream"),
            apr_table_get(r->notes, "h2gw-server")
                ? apr_table_get(r->notes, "h2gw-server") : "-",
            apr_table_get(r->notes, "h2gw-retries"));
    h2gw_engine_release(ctx.engine, ctx.st);
    if (http_status == OK && !ctx.headers_sent) {
        /* The client went away before any response (the stream was
         * cancelled): nothing reaches it, the access log shows 502. */
        return gw_status(&ctx, HTTP_BAD_GATEWAY);
    }
    return http_status;
}
