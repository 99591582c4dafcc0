/*
 * h2rr - an HTTP/2 client that cancels its own requests: the rapid-reset
 * pattern, for the mod_h2gw test suite. It opens a cleartext HTTP/2
 * connection (prior knowledge) to 127.0.0.1:PORT, keeps up to
 * --concurrency requests for PATH in flight, and resets each with
 * RST_STREAM(CANCEL) --after milliseconds after sending it (0: in the
 * same write as its HEADERS), until --count requests were sent. When the
 * server closes the connection (a GOAWAY, a limit on resets) it connects
 * again. It prints "sent=N reset=N answered=N conns=N closed=N ended=N"
 * (closed: requests cancelled by a connection's close before their reset
 * was due; ended: requests the server ended before their reset was due,
 * refused by its GOAWAY, reset or answered by it) and exits 0: every
 * request sent is counted once, as reset, closed or ended.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>

#define MAX_INFLIGHT 1000

struct pending {
    int32_t id;
    long long due_ms;          /* when to reset it */
};

struct client {
    int fd;
    nghttp2_session *ngh;
    struct pending inflight[MAX_INFLIGHT];
    int ninflight;
    long sent, reset, answered, conns, closed, ended;
    int dead;
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drops a request whose reset was not sent yet; returns 1 when there was
 * one (a reset one is kept under its negated id until its reset is out). */
static int forget(struct client *c, int32_t id)
{
    int i;

    for (i = 0; i < c->ninflight; ++i) {
        if (c->inflight[i].id == id) {
            c->inflight[i] = c->inflight[--c->ninflight];
            return 1;
        }
    }
    return 0;
}

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len,
                       int flags, void *user_data)
{
    struct client *c = user_data;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

    (void)s;
    (void)flags;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return NGHTTP2_ERR_WOULDBLOCK;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return n;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f,
                         void *user_data)
{
    struct client *c = user_data;

    (void)s;
    if (f->hd.type == NGHTTP2_HEADERS
        && f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        ++c->answered;
    }
    return 0;
}

/* The server ended a request before its reset was due (a GOAWAY that did
 * not take it, the server's RST_STREAM, a complete answer): ended=. */
static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code,
                           void *user_data)
{
    struct client *c = user_data;

    (void)s;
    (void)code;
    if (forget(c, id))
        ++c->ended;
    return 0;
}

static int connect_to(struct client *c, int port)
{
    struct sockaddr_in sa;
    nghttp2_session_callbacks *cbs;
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("h2rr: connect");
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
                                                           on_stream_close);
    nghttp2_session_client_new(&c->ngh, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(c->ngh, NGHTTP2_FLAG_NONE, NULL, 0);
    c->ninflight = 0;
    c->dead = 0;
    ++c->conns;
    return 0;
}

/* Requests still in flight when a connection closes are cancelled by the
 * close (counted as closed=), and forgotten: their ids mean nothing on
 * the next connection. */
static void disconnect(struct client *c)
{
    int i;

    for (i = 0; i < c->ninflight; ++i) {
        if (c->inflight[i].id > 0)
            ++c->closed;
    }
    c->ninflight = 0;
    nghttp2_session_del(c->ngh);
    c->ngh = NULL;
    close(c->fd);
}

#define NV(n, v)                                                             \
    { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),             \
      NGHTTP2_NV_FLAG_NONE }

int main(int argc, char **argv)
{
    struct client c;
    int port = 0, conc = 100, i;
    long count = 1000, after = 0;
    const char *path = "/";
    char auth[64];

    for (i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--path")) path = argv[i + 1];
        else if (!strcmp(argv[i], "--count")) count = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--concurrency")) conc = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--after")) after = atol(argv[i + 1]);
        else break;
    }
    if (i < argc || port <= 0 || conc < 1 || conc > MAX_INFLIGHT) {
        fprintf(stderr, "usage: h2rr --port N [--path P] [--count N] "
                        "[--concurrency N] [--after MS]\n");
        return 2;
    }
    snprintf(auth, sizeof(auth), "127.0.0.1:%d", port);
    memset(&c, 0, sizeof(c));
    if (connect_to(&c, port) < 0)
        return 1;
    while (c.sent < count || c.ninflight > 0) {
        nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"),
                           NV(":authority", auth), NV(":path", path)};
        struct pollfd pfd;
        long long now = now_ms();

        /* New requests while below the concurrency and the peer's limit. */
        while (c.sent < count && c.ninflight < conc
               && nghttp2_session_check_request_allowed(c.ngh)
               && (uint32_t)c.ninflight
                      < nghttp2_session_get_remote_settings(
                          c.ngh, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)) {
            int32_t id = nghttp2_submit_request(c.ngh, NULL, nv, 4, NULL,
                                                NULL);

            if (id < 0)
                break;
            c.inflight[c.ninflight].id = id;
            c.inflight[c.ninflight].due_ms = now + after;
            ++c.ninflight;
            ++c.sent;
        }
        /* Resets that are due. */
        for (i = 0; i < c.ninflight; ++i) {
            if (c.inflight[i].due_ms <= now && c.inflight[i].id > 0) {
                nghttp2_submit_rst_stream(c.ngh, NGHTTP2_FLAG_NONE,
                                          c.inflight[i].id, NGHTTP2_CANCEL);
                c.inflight[i].id = -c.inflight[i].id;  /* reset sent */
                ++c.reset;
            }
        }
        if (nghttp2_session_send(c.ngh) != 0)
            c.dead = 1;
        pfd.fd = c.fd;
        pfd.events = POLLIN;
        if (!c.dead && poll(&pfd, 1, 5) > 0) {
            uint8_t buf[16384];
            ssize_t n = recv(c.fd, buf, sizeof(buf), 0);

            if (n <= 0 || nghttp2_session_mem_recv(c.ngh, buf, (size_t)n) < 0)
                c.dead = 1;
        }
        /* Reset streams stay counted until closed; drop them once their
         * reset went out, a server may never answer them. */
        for (i = 0; i < c.ninflight; ++i) {
            if (c.inflight[i].id < 0
                && !nghttp2_session_get_stream_user_data(
                       c.ngh, -c.inflight[i].id)
                && !nghttp2_session_find_stream(c.ngh,
                                                -c.inflight[i].id)) {
                c.inflight[i--] = c.inflight[--c.ninflight];
            }
        }
        if (c.dead || (!nghttp2_session_want_read(c.ngh)
                       && !nghttp2_session_want_write(c.ngh))) {
            disconnect(&c);
            if (c.sent >= count)
                break;
            if (connect_to(&c, port) < 0)
                return 1;
        }
    }
    if (c.ngh)
        disconnect(&c);
    printf("sent=%ld reset=%ld answered=%ld conns=%ld closed=%ld ended=%ld\n",
           c.sent, c.reset, c.answered, c.conns, c.closed, c.ended);
    return 0;
}
