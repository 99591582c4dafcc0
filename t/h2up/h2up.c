/*
 * h2up - a programmable HTTP/2 upstream server for the mod_h2gw test suite.
 * It speaks cleartext HTTP/2 with prior knowledge (h2c) on 127.0.0.1, runs a
 * single-threaded epoll loop with one nghttp2 server session per connection,
 * and answers each request according to its path (/headers, /data, /upload,
 * /echo, /_stats, /_reset, /_release) and query modifiers (status, delay, stall, reset,
 * drip, stop_after, cookies, hdr, trailers, early, nobody, ctype, tag,
 * close_after, reject, nocontinue, bigfield, hold/release, wait, switch/
 * switch_set/switch_next, and per tag
 * refuse_first, goaway_first, reset_first, drop_first), so that
 * proxy tests can provoke specific upstream behaviour and afterwards ask, via
 * /_stats, what the upstream actually saw (resets, flow-control blocking,
 * bytes, connections, pings).
 *
 * --fixed-bodies (for bench/): /data bodies are copies of one fixed random
 * block, with no x-h2up-sha256 header, and /upload bodies are counted, not
 * hashed, so the upstream spends next to nothing per byte.
 *
 * Whole-server misbehaviour is chosen on the command line: --no-ping-ack
 * (half-dead: PINGs go unanswered) and --silent (TCP accepted, HTTP/2 never
 * spoken); --request-log appends each request's tag to a file that several
 * instances can share. SIGTERM stops gracefully (GOAWAY, in-flight streams
 * finish) and the listener uses SO_REUSEPORT, so a new instance can take
 * over a port while the old one drains; SIGINT stops at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>

#define OUT_HIGH_WATER (64 * 1024)
#define READ_CHUNK (64 * 1024)
#define MAX_EVENTS 64
#define MAX_TAG_LEN 128
#define MAX_REQ_HDRS (1024 * 1024)
#define MAX_RST_CODES 64
#define DEFAULT_PIECE 1024
#define DRAIN_MS 10000  /* graceful stop: longest wait for in-flight work */

/* ------------------------------------------------------------------ */
/* Types                                                                */
/* ------------------------------------------------------------------ */

struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* xorshift64* byte stream; the current word is kept so that reads of any
 * length continue the same stream the sha256 header was computed over. */
struct rng {
    uint64_t s;
    uint8_t word[8];
    unsigned pos;
};

enum handler { H_DATA, H_HEADERS, H_UPLOAD, H_ECHO, H_STATS, H_RESET,
               H_RELEASE,
               H_NOTFOUND };
enum reset_mode { RESET_NONE, RESET_BEFORE, RESET_AFTER };
enum wait_reason { W_NONE, W_ECHO, W_DRIP, W_STOPPED, W_RESET };
enum timer_kind { T_DELAY, T_DRIP, T_HOLD };
#define HOLD_MS 10000  /* hold=: longest wait for a release= */
#define WAIT_MS 120000  /* wait=: longest wait for /_release */
#define MAX_RELEASED 64

struct params {
    int status;
    uint64_t size;
    uint64_t seed;
    int cl;
    long delay_ms;
    int stall;
    enum reset_mode reset;
    uint32_t code;
    uint64_t after;
    long drip_ms;
    uint64_t piece;
    int64_t stop_after;
    long cookies;
    const char **hdrs;
    size_t nhdrs;
    int trailers;
    long early;         /* 103 Early Hints sent before the response */
    int nobody;         /* HEADERS with END_STREAM: no body at all */
    const char *ctype;
    const char *tag;
    int drop;       /* close the TCP connection on this request's headers */
    long hdrsize;   /* add x-big: a value of this many bytes */
    long bigfield;  /* add x-bigfield: ONE value of this many bytes */
    long refuse_first;  /* RST_STREAM(REFUSED_STREAM) the tag's first N */
    long reset_first;   /* RST_STREAM(code=, INTERNAL_ERROR by default) the
                         * tag's first N, after seeing them */
    long drop_first;    /* like drop, for the tag's first N only */
    long goaway_first;  /* GOAWAY excluding the stream, the tag's first N */
    int close_after;    /* drop the connection silently once it is idle */
    int reject;         /* answer on the request headers, before the body */
    int nocontinue;     /* ignore "expect: 100-continue" (no interim 100) */
    const char *hold;   /* /upload: keep the body's bytes unconsumed (stream
                         * and connection window) until release= or
                         * HOLD_MS */
    const char *release; /* frees the holds of that name on OTHER conns */
    const char *wait;   /* answer only after /_release?tag=NAME (or
                         * WAIT_MS) */
    const char *sw;     /* switch=NAME: answer with the status last set for
                         * NAME (200 until set), whatever status= says */
    int sw_set;         /* switch_set=STATUS: set NAME's status first (a
                         * health check path flipped at run time) */
    long sw_next;       /* switch_next=N: with switch_set=, for the next N
                         * requests naming NAME only, then back */
};

/* Named statuses of switch=; they outlive /_reset. */
struct status_switch {
    struct status_switch *next;
    char name[MAX_TAG_LEN + 1];
    int status;
    int next_status;    /* switch_next=: answered next_left more times */
    long next_left;
};
static struct status_switch *g_switches;

static struct status_switch *find_switch(const char *name)
{
    struct status_switch *sw;

    for (sw = g_switches; sw; sw = sw->next) {
        if (strcmp(sw->name, name) == 0)
            return sw;
    }
    if (strlen(name) > MAX_TAG_LEN || !(sw = calloc(1, sizeof(*sw))))
        return NULL;
    strcpy(sw->name, name);
    sw->status = 200;
    sw->next = g_switches;
    g_switches = sw;
    return sw;
}

struct stream;

struct timer {
    uint64_t at;
    enum timer_kind kind;
    int armed;
    struct stream *st;
    struct timer *next;
};

struct tag {
    struct tag *next;
    char name[MAX_TAG_LEN + 1];
    unsigned long seen, rst_recv, flow_blocked, completed, closed, expect;
    long rst_code;
    unsigned long long body_bytes_recv, resp_bytes_sent;
};

struct conn;

struct stream {
    struct conn *conn;
    int32_t id;
    struct stream *prev, *next;
    char *method;
    char *path;
    char *query;          /* parsed in place; params point into it */
    struct buf reqhdrs;
    enum handler handler;
    struct params p;
    const char *stats_tag;
    struct tag *tag;
    int counted;          /* non-/_ request, counted in conn->active */
    int req_done;
    int expect;           /* the request carried expect: 100-continue */
    int answered;         /* reject=: the response went before the body */
    int no_body;
    int echo_buffering;
    int rst_sent;
    int completed;
    int status;
    struct buf body;      /* static body, or echo buffer */
    size_t body_off;
    struct rng rng;
    uint64_t gen_left;
    EVP_MD_CTX *md;
    uint64_t up_bytes;
    uint64_t body_sent;   /* response body bytes handed to nghttp2 */
    uint64_t resp_bytes;  /* response body bytes actually sent */
    uint64_t piece_left;
    enum wait_reason wait;
    struct timer tm;
    int holding;          /* hold=: received bytes are not consumed */
    uint64_t held;        /* bytes received and not yet consumed */
    struct timer hold_tm; /* gives up the hold after HOLD_MS */
};

struct conn {
    int fd;
    unsigned long serial;
    uint32_t settings[7];   /* the client's SETTINGS values by id */
    nghttp2_session *session;
    struct buf out;
    size_t out_off;
    uint32_t events;
    struct stream *streams;
    unsigned long epoch;  /* stats epoch in which it was counted, 0 = never */
    long active;
    unsigned long nreq;
    int silent;       /* --silent: never read from or written to */
    int close_after;  /* a close_after= response went out: drop when idle */
    int lingering;    /* graceful stop: FIN sent, reading until the peer's */
    struct conn *prev, *next;
};

/* conns/conns_open count connections that carried a request (not a /_
 * control request) since the last reset; accepted counts every TCP
 * connection accepted since then, control and silent ones included. */
struct stats {
    unsigned long conns, requests, rst_recv, goaway_recv, flow_blocked;
    unsigned long accepted, pings;
    unsigned long held, released, hold_expired;  /* hold=/release= */
    long conns_open, max_conns_open, max_conc;
    struct { uint32_t code; unsigned long n; } rst_codes[MAX_RST_CODES];
    size_t nrst_codes;
};

/* ------------------------------------------------------------------ */
/* Globals                                                              */
/* ------------------------------------------------------------------ */

static int g_quiet;
static int g_fixed;            /* --fixed-bodies */
#define FIXED_LEN (256 * 1024)
static uint8_t g_fixed_block[FIXED_LEN];
static int g_epfd = -1;
static int g_lfd = -1;
static uint32_t g_max_streams = 100;
static uint32_t g_window = 65535;
static uint32_t g_conn_window;  /* --conn-window: 0 keeps the default */
static unsigned long g_serial;
static unsigned long g_epoch = 1;
static int g_silent;
static int g_no_ping_ack;
static int g_reqlog = -1;
static volatile sig_atomic_t g_stop;   /* SIGINT: stop at once */
static volatile sig_atomic_t g_term;   /* SIGTERM: stop gracefully */
static int g_draining;                 /* the graceful stop has begun */
static uint64_t g_drain_deadline;
static struct conn *g_conns;
static struct timer *g_timers;
static struct tag *g_tags;
static struct stats g_stats;

/* The SETTINGS of the connection of the last counted request (what the
 * gateway announced; /_stats connections do not count). */
static uint32_t g_peer_settings[7];

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static void log_msg(const char *fmt, ...)
{
    va_list ap;

    if (g_quiet)
        return;
    va_start(ap, fmt);
    fputs("h2up: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t read_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int reserve_buf(struct buf *b, size_t extra)
{
    size_t cap;
    uint8_t *p;

    if (b->cap - b->len >= extra)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static int append_buf(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (reserve_buf(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static int append_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve_buf(b, (size_t)n + 1) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

static void free_buf(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static uint64_t parse_u64(const char *s)
{
    return strtoull(s, NULL, 10);
}

static void encode_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ------------------------------------------------------------------ */
/* Pseudo-random body data                                              */
/* ------------------------------------------------------------------ */

static void init_rng(struct rng *r, uint64_t seed)
{
    r->s = seed ? seed : 1;
    r->pos = 8;
}

static uint64_t advance_rng(struct rng *r)
{
    uint64_t x = r->s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fill_rng(struct rng *r, uint8_t *out, size_t n)
{
    while (n > 0 && r->pos < 8) {
        *out++ = r->word[r->pos++];
        n--;
    }
    while (n >= 8) {
        put_le64(out, advance_rng(r));
        out += 8;
        n -= 8;
    }
    if (n > 0) {
        put_le64(r->word, advance_rng(r));
        r->pos = 0;
        while (n > 0) {
            *out++ = r->word[r->pos++];
            n--;
        }
    }
}

/* The digest goes into a response header, so the whole stream is generated
 * once up front; the body itself is generated again while sending. */
static int compute_data_sha256(uint64_t seed, uint64_t size, char hex[65])
{
    static uint8_t chunk[64 * 1024];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    struct rng r;
    int ok;

    ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -1;
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    init_rng(&r, seed);
    while (ok && size > 0) {
        size_t n = size < sizeof(chunk) ? (size_t)size : sizeof(chunk);

        fill_rng(&r, chunk, n);
        ok = EVP_DigestUpdate(ctx, chunk, n);
        size -= n;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    encode_hex(md, mdlen, hex);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Timers: a sorted singly linked list, fine for test-sized loads       */
/* ------------------------------------------------------------------ */

static void cancel_timer(struct timer *t)
{
    struct timer **pp;

    if (!t->armed)
        return;
    for (pp = &g_timers; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->armed = 0;
    t->next = NULL;
}

static void arm_timer(struct timer *t, enum timer_kind kind, long ms)
{
    struct timer **pp;

    cancel_timer(t);
    t->kind = kind;
    t->at = read_clock_ms() + (uint64_t)(ms > 0 ? ms : 0);
    for (pp = &g_timers; *pp && (*pp)->at <= t->at; pp = &(*pp)->next)
        ;
    t->next = *pp;
    *pp = t;
    t->armed = 1;
}

static int compute_timeout_ms(void)
{
    uint64_t now, d;

    if (!g_timers)
        return -1;
    now = read_clock_ms();
    if (g_timers->at <= now)
        return 0;
    d = g_timers->at - now;
    return d > INT_MAX ? INT_MAX : (int)d;
}

/* ------------------------------------------------------------------ */
/* Statistics and tags                                                  */
/* ------------------------------------------------------------------ */

static struct tag *find_tag(const char *name, int create)
{
    struct tag *t;
    char key[MAX_TAG_LEN + 1];

    snprintf(key, sizeof(key), "%s", name);
    for (t = g_tags; t; t = t->next) {
        if (strcmp(t->name, key) == 0)
            return t;
    }
    if (!create)
        return NULL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    memcpy(t->name, key, sizeof(key));
    t->rst_code = -1;
    t->next = g_tags;
    g_tags = t;
    return t;
}

static void free_tags(void)
{
    while (g_tags) {
        struct tag *t = g_tags;

        g_tags = t->next;
        free(t);
    }
}

static void count_rst_code(uint32_t code)
{
    size_t i;

    for (i = 0; i < g_stats.nrst_codes; i++) {
        if (g_stats.rst_codes[i].code == code) {
            g_stats.rst_codes[i].n++;
            return;
        }
    }
    if (g_stats.nrst_codes < MAX_RST_CODES) {
        g_stats.rst_codes[g_stats.nrst_codes].code = code;
        g_stats.rst_codes[g_stats.nrst_codes].n = 1;
        g_stats.nrst_codes++;
    }
}

/* --request-log: one line per request that reached the handlers, its tag
 * or "-". Instances taking over from each other may share the file, so
 * each line is one O_APPEND write and lines never interleave. */
static void log_request(const struct stream *st)
{
    char line[MAX_TAG_LEN + 2];
    int n;

    if (g_reqlog < 0)
        return;
    n = snprintf(line, sizeof(line), "%.*s\n", MAX_TAG_LEN,
                 st->p.tag ? st->p.tag : "-");
    if (write(g_reqlog, line, (size_t)n) != n)
        log_msg("request log: %s", strerror(errno));
}

/* A connection counts once per epoch, when it carries its first request. */
static void count_conn(struct conn *c)
{
    if (c->epoch == g_epoch)
        return;
    c->epoch = g_epoch;
    g_stats.conns++;
    g_stats.conns_open++;
    if (g_stats.conns_open > g_stats.max_conns_open)
        g_stats.max_conns_open = g_stats.conns_open;
}

/* Live streams may point at tags, so they must be detached before the tags
 * go away; a new epoch makes open connections count afresh (so conns_open,
 * and with it max_conns_open, start again from 0). */
static void reset_stats(void)
{
    struct conn *c;
    struct stream *st;
    unsigned long held = g_stats.held;  /* still owed by live holds */

    for (c = g_conns; c; c = c->next) {
        for (st = c->streams; st; st = st->next)
            st->tag = NULL;
    }
    free_tags();
    memset(&g_stats, 0, sizeof(g_stats));
    g_stats.held = held;
    g_epoch++;
}

static int format_stats(struct buf *b, const char *tagname)
{
    int rv = 0;
    size_t i;

    if (tagname) {
        struct tag *t = find_tag(tagname, 0);
        struct tag zero = { .rst_code = -1 };

        if (!t)
            t = &zero;
        return append_printf(b, "seen=%lu\nrst_recv=%lu\nrst_code=%ld\n"
                             "flow_blocked=%lu\nbody_bytes_recv=%llu\n"
                             "resp_bytes_sent=%llu\ncompleted=%lu\n"
                             "closed=%lu\nexpect=%lu\n", t->seen, t->rst_recv,
                             t->rst_code, t->flow_blocked, t->body_bytes_recv,
                             t->resp_bytes_sent, t->completed, t->closed,
                             t->expect);
    }
    rv |= append_printf(b, "conns=%lu\nconns_open=%ld\nrequests=%lu\n"
                        "rst_recv=%lu\n", g_stats.conns, g_stats.conns_open,
                        g_stats.requests, g_stats.rst_recv);
    for (i = 0; i < g_stats.nrst_codes; i++)
        rv |= append_printf(b, "rst_recv_%" PRIu32 "=%lu\n",
                            g_stats.rst_codes[i].code,
                            g_stats.rst_codes[i].n);
    rv |= append_printf(b, "goaway_recv=%lu\nflow_blocked=%lu\n"
                        "max_conc=%ld\n", g_stats.goaway_recv,
                        g_stats.flow_blocked, g_stats.max_conc);
    rv |= append_printf(b, "max_conns_open=%ld\npings=%lu\naccepted=%lu\n",
                        g_stats.max_conns_open, g_stats.pings,
                        g_stats.accepted);
    rv |= append_printf(b, "held=%lu\nreleased=%lu\nhold_expired=%lu\n",
                        g_stats.held, g_stats.released,
                        g_stats.hold_expired);
    /* client_settings_N: the last value of SETTINGS id N a client sent
     * (1 header table, 2 push, 3 streams, 4 window, 5 frame, 6 list). */
    rv |= append_printf(b, "client_header_table_size=%u\n"
                        "client_initial_window_size=%u\n"
                        "client_max_frame_size=%u\n"
                        "client_max_header_list_size=%u\n",
                        g_peer_settings[1], g_peer_settings[4],
                        g_peer_settings[5], g_peer_settings[6]);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Streams                                                              */
/* ------------------------------------------------------------------ */

static void set_default_params(struct params *p)
{
    memset(p, 0, sizeof(*p));
    p->seed = 1;
    p->cl = 1;
    p->code = NGHTTP2_INTERNAL_ERROR;
    p->piece = DEFAULT_PIECE;
    p->stop_after = -1;
}

static struct stream *create_stream(struct conn *c, int32_t id)
{
    struct stream *st = calloc(1, sizeof(*st));

    if (!st)
        return NULL;
    st->conn = c;
    st->id = id;
    st->tm.st = st;
    st->hold_tm.st = st;
    set_default_params(&st->p);
    st->next = c->streams;
    if (c->streams)
        c->streams->prev = st;
    c->streams = st;
    return st;
}

static void free_stream(struct stream *st)
{
    struct conn *c = st->conn;

    cancel_timer(&st->tm);
    cancel_timer(&st->hold_tm);
    if (st->holding)
        g_stats.held -= st->held;
    if (st->prev)
        st->prev->next = st->next;
    else
        c->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    if (st->counted)
        c->active--;
    if (st->tag)
        st->tag->closed++;
    free(st->method);
    free(st->path);
    free(st->query);
    free(st->p.hdrs);
    free_buf(&st->reqhdrs);
    free_buf(&st->body);
    EVP_MD_CTX_free(st->md);
    free(st);
}

/* Does path have a segment equal to name ("/headers", "/base/headers/x")?
 * Tests put arbitrary segments before and after the name to check how the
 * gateway maps paths. */
static int path_under(const char *path, const char *name)
{
    size_t n = strlen(name);
    const char *p = path;

    while ((p = strstr(p, name)) != NULL) {
        if (p[n] == 0 || p[n] == '/') {
            return 1;
        }
        p += n;
    }
    return 0;
}

static enum handler pick_handler(const char *path)
{
    if (path_under(path, "/headers"))
        return H_HEADERS;
    if (path_under(path, "/data"))
        return H_DATA;
    if (path_under(path, "/upload"))
        return H_UPLOAD;
    if (path_under(path, "/echo"))
        return H_ECHO;
    if (strcmp(path, "/_stats") == 0)
        return H_STATS;
    if (strcmp(path, "/_reset") == 0)
        return H_RESET;
    if (strcmp(path, "/_release") == 0)
        return H_RELEASE;
    if (strncmp(path, "/_", 2) == 0)
        return H_NOTFOUND;
    /* Any other path is a plain (by default empty) /data, so proxy tests
     * can use arbitrary paths. */
    return H_DATA;
}

static int is_internal(enum handler h)
{
    return h == H_STATS || h == H_RESET || h == H_RELEASE || h == H_NOTFOUND;
}

static int parse_param(struct params *p, const char *k, const char *v)
{
    if (strcmp(k, "status") == 0) {
        p->status = atoi(v);
    } else if (strcmp(k, "size") == 0) {
        p->size = parse_u64(v);
    } else if (strcmp(k, "seed") == 0) {
        p->seed = parse_u64(v);
    } else if (strcmp(k, "cl") == 0) {
        p->cl = atoi(v) != 0;
    } else if (strcmp(k, "delay") == 0) {
        p->delay_ms = atol(v);
    } else if (strcmp(k, "stall") == 0) {
        p->stall = atoi(v) != 0;
    } else if (strcmp(k, "drop") == 0) {
        p->drop = atoi(v) != 0;
    } else if (strcmp(k, "hdrsize") == 0) {
        p->hdrsize = atol(v);
    } else if (strcmp(k, "bigfield") == 0) {
        p->bigfield = atol(v);
    } else if (strcmp(k, "refuse_first") == 0) {
        p->refuse_first = atol(v);
    } else if (strcmp(k, "reset_first") == 0) {
        p->reset_first = atol(v);
    } else if (strcmp(k, "drop_first") == 0) {
        p->drop_first = atol(v);
    } else if (strcmp(k, "goaway_first") == 0) {
        p->goaway_first = atol(v);
    } else if (strcmp(k, "reset") == 0) {
        if (strcmp(v, "before") == 0)
            p->reset = RESET_BEFORE;
        else if (strcmp(v, "after") == 0)
            p->reset = RESET_AFTER;
    } else if (strcmp(k, "code") == 0) {
        p->code = (uint32_t)parse_u64(v);
    } else if (strcmp(k, "after") == 0) {
        p->after = parse_u64(v);
    } else if (strcmp(k, "drip") == 0) {
        p->drip_ms = atol(v);
    } else if (strcmp(k, "piece") == 0) {
        p->piece = parse_u64(v);
        if (p->piece == 0)
            p->piece = DEFAULT_PIECE;
    } else if (strcmp(k, "stop_after") == 0) {
        p->stop_after = (int64_t)(parse_u64(v) & INT64_MAX);
    } else if (strcmp(k, "cookies") == 0) {
        p->cookies = atol(v);
    } else if (strcmp(k, "hdr") == 0) {
        const char **h = realloc(p->hdrs, (p->nhdrs + 1) * sizeof(*h));

        if (!h)
            return -1;
        p->hdrs = h;
        p->hdrs[p->nhdrs++] = v;
    } else if (strcmp(k, "trailers") == 0) {
        p->trailers = atoi(v) != 0;
    } else if (strcmp(k, "early") == 0) {
        p->early = atol(v);
    } else if (strcmp(k, "nobody") == 0) {
        p->nobody = atoi(v) != 0;
    } else if (strcmp(k, "ctype") == 0) {
        p->ctype = v;
    } else if (strcmp(k, "tag") == 0) {
        p->tag = v;
    } else if (strcmp(k, "close_after") == 0) {
        p->close_after = atoi(v) != 0;
    } else if (strcmp(k, "reject") == 0) {
        p->reject = atoi(v) != 0;
    } else if (strcmp(k, "nocontinue") == 0) {
        p->nocontinue = atoi(v) != 0;
    } else if (strcmp(k, "hold") == 0) {
        p->hold = v;
    } else if (strcmp(k, "release") == 0) {
        p->release = v;
    } else if (strcmp(k, "wait") == 0) {
        p->wait = v;
    } else if (strcmp(k, "switch") == 0) {
        p->sw = v;
    } else if (strcmp(k, "switch_set") == 0) {
        p->sw_set = atoi(v);
    } else if (strcmp(k, "switch_next") == 0) {
        p->sw_next = atol(v);
    }
    return 0;
}

/* Splits :path into handler and query; the query copy is cut up in place
 * and the params keep pointers into it for the stream's lifetime. */
static int parse_request_target(struct stream *st)
{
    const char *path = st->path ? st->path : "";
    const char *q = strchr(path, '?');
    char *save = NULL, *kv;
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    char *base = strndup(path, plen);

    if (!base)
        return -1;
    st->handler = pick_handler(base);
    free(base);
    if (!q)
        return 0;
    st->query = strdup(q + 1);
    if (!st->query)
        return -1;
    for (kv = strtok_r(st->query, "&", &save); kv;
         kv = strtok_r(NULL, "&", &save)) {
        char *v = strchr(kv, '=');

        if (v)
            *v++ = '\0';
        else
            v = kv + strlen(kv);
        if (parse_param(&st->p, kv, v) != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Responses                                                            */
/* ------------------------------------------------------------------ */

struct nvlist {
    nghttp2_nv *nv;
    size_t n, cap;
};

static int add_nv(struct nvlist *l, const char *name, const char *value)
{
    char *nm, *val;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        nghttp2_nv *nv = realloc(l->nv, cap * sizeof(*nv));

        if (!nv)
            return -1;
        l->nv = nv;
        l->cap = cap;
    }
    nm = strdup(name);
    val = strdup(value);
    if (!nm || !val) {
        free(nm);
        free(val);
        return -1;
    }
    l->nv[l->n].name = (uint8_t *)nm;
    l->nv[l->n].namelen = strlen(nm);
    l->nv[l->n].value = (uint8_t *)val;
    l->nv[l->n].valuelen = strlen(val);
    l->nv[l->n].flags = NGHTTP2_NV_FLAG_NONE;
    l->n++;
    return 0;
}

static void free_nvlist(struct nvlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free(l->nv[i].name);
        free(l->nv[i].value);
    }
    free(l->nv);
}

static size_t produce_body(struct stream *st, uint8_t *buf, size_t want)
{
    size_t n;

    if (st->handler == H_DATA && g_fixed) {
        size_t at = (size_t)((st->p.size - st->gen_left) % FIXED_LEN);

        n = want < st->gen_left ? want : (size_t)st->gen_left;
        if (n > FIXED_LEN - at)
            n = FIXED_LEN - at;
        memcpy(buf, g_fixed_block + at, n);
        st->gen_left -= n;
        return n;
    }
    if (st->handler == H_DATA) {
        n = want < st->gen_left ? want : (size_t)st->gen_left;
        fill_rng(&st->rng, buf, n);
        st->gen_left -= n;
        return n;
    }
    n = st->body.len - st->body_off;
    if (n > want)
        n = want;
    if (n == 0)
        return 0;
    memcpy(buf, st->body.data + st->body_off, n);
    st->body_off += n;
    if (st->handler == H_ECHO) {
        /* Echo data is only acknowledged to the client (stream window)
         * once it has been sent on, so a slow reader throttles the
         * writer instead of growing the buffer without bound. */
        nghttp2_session_consume_stream(st->conn->session, st->id, n);
        if (st->body_off == st->body.len)
            st->body_off = st->body.len = 0;
    }
    return n;
}

static int is_body_exhausted(const struct stream *st)
{
    if (st->handler == H_DATA)
        return st->gen_left == 0;
    if (st->handler == H_ECHO && !st->req_done)
        return 0;
    return st->body_off == st->body.len;
}

static int finish_body(struct stream *st, uint32_t *flags)
{
    static const nghttp2_nv trailer[] = {
        { (uint8_t *)"x-h2up-trailer", (uint8_t *)"done", 14, 4,
          NGHTTP2_NV_FLAG_NONE },
    };

    *flags |= NGHTTP2_DATA_FLAG_EOF;
    st->echo_buffering = 0;
    if (!st->p.trailers)
        return 0;
    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    return nghttp2_submit_trailer(st->conn->session, st->id, trailer, 1);
}

/* The single data source for every body kind; the modifiers that shape a
 * body (stop_after, reset=after, drip) are applied here so that they work
 * the same for generated, static and echoed bodies. */
static ssize_t read_body_cb(nghttp2_session *session, int32_t stream_id,
                            uint8_t *buf, size_t length, uint32_t *flags,
                            nghttp2_data_source *source, void *user_data)
{
    struct stream *st = source->ptr;
    size_t want = length;
    size_t n;

    (void)user_data;
    if (st->p.stop_after >= 0) {
        if (st->body_sent >= (uint64_t)st->p.stop_after) {
            st->wait = W_STOPPED;
            return NGHTTP2_ERR_DEFERRED;
        }
        if ((uint64_t)st->p.stop_after - st->body_sent < want)
            want = (size_t)((uint64_t)st->p.stop_after - st->body_sent);
    }
    if (st->p.reset == RESET_AFTER) {
        if (st->body_sent >= st->p.after || is_body_exhausted(st)) {
            if (!st->rst_sent &&
                nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE,
                                          stream_id, st->p.code) != 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            st->rst_sent = 1;
            st->wait = W_RESET;
            return NGHTTP2_ERR_DEFERRED;
        }
        if (st->p.after - st->body_sent < want)
            want = (size_t)(st->p.after - st->body_sent);
    } else if (is_body_exhausted(st)) {
        if (finish_body(st, flags) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return 0;
    }
    if (st->p.drip_ms > 0) {
        if (st->piece_left == 0) {
            st->wait = W_DRIP;
            arm_timer(&st->tm, T_DRIP, st->p.drip_ms);
            return NGHTTP2_ERR_DEFERRED;
        }
        if (st->piece_left < want)
            want = (size_t)st->piece_left;
    }
    n = produce_body(st, buf, want);
    if (n == 0) {
        /* Only an echo stream can run dry before its end. */
        st->wait = W_ECHO;
        return NGHTTP2_ERR_DEFERRED;
    }
    st->body_sent += n;
    if (st->p.drip_ms > 0)
        st->piece_left -= n;
    /* Setting EOF together with the last bytes saves an empty DATA frame. */
    if (st->p.reset != RESET_AFTER && is_body_exhausted(st) &&
        !(st->p.stop_after >= 0 &&
          st->body_sent >= (uint64_t)st->p.stop_after)) {
        if (finish_body(st, flags) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

static int build_headers(struct stream *st, struct nvlist *l,
                         const char *sha)
{
    char num[32];
    const char *ctype;
    int rv = 0;
    long i;
    size_t k;

    snprintf(num, sizeof(num), "%d", st->status);
    rv |= add_nv(l, ":status", num);
    ctype = st->p.ctype;
    if (!ctype)
        ctype = st->handler == H_DATA ? "application/octet-stream"
                                      : "text/plain";
    if (strcmp(ctype, "none") != 0)
        rv |= add_nv(l, "content-type", ctype);
    if (st->p.cl && st->status != 204 && st->status != 304 &&
        st->handler != H_ECHO) {
        uint64_t len = st->handler == H_DATA ? st->p.size : st->body.len;

        snprintf(num, sizeof(num), "%" PRIu64, len);
        rv |= add_nv(l, "content-length", num);
    }
    snprintf(num, sizeof(num), "%lu", st->conn->serial);
    rv |= add_nv(l, "x-h2up-conn", num);
    snprintf(num, sizeof(num), "%" PRId32, st->id);
    rv |= add_nv(l, "x-h2up-stream", num);
    if (sha)
        rv |= add_nv(l, "x-h2up-sha256", sha);
    if (st->p.hdrsize > 0 && st->p.hdrsize <= 16 * 1024 * 1024 && rv == 0) {
        /* hdrsize bytes of header values in fields x-big-N of at most
         * 8000 bytes each: tests the gateway's header-block limit (one
         * field past 64 KiB is an HPACK error in nghttp2 itself). */
        long left = st->p.hdrsize, n = 0;
        char big[8001], name[32];

        memset(big, 'b', sizeof(big) - 1);
        while (left > 0 && rv == 0) {
            long len = left < 8000 ? left : 8000;

            big[len] = 0;
            snprintf(name, sizeof(name), "x-big-%ld", ++n);
            rv |= add_nv(l, name, big);
            big[len] = 'b';
            left -= len;
        }
    }
    if (st->p.bigfield > 0 && st->p.bigfield <= 1024 * 1024 && rv == 0) {
        /* One field of bigfield bytes: past 64 KiB the client's HPACK
         * decoder (nghttp2) fails the whole connection, COMPRESSION_ERROR. */
        char *big = malloc((size_t)st->p.bigfield + 1);

        if (!big)
            return -1;
        memset(big, 'f', (size_t)st->p.bigfield);
        big[st->p.bigfield] = 0;
        rv |= add_nv(l, "x-bigfield", big);
        free(big);
    }
    for (i = 1; i <= st->p.cookies && rv == 0; i++) {
        char val[64];

        snprintf(val, sizeof(val), "c%ld=v%ld", i, i);
        rv |= add_nv(l, "set-cookie", val);
    }
    for (k = 0; k < st->p.nhdrs && rv == 0; k++) {
        char *name = strdup(st->p.hdrs[k]);
        char *colon;

        if (!name)
            return -1;
        colon = strchr(name, ':');
        if (colon)
            *colon = '\0';
        rv |= add_nv(l, name, colon ? colon + 1 : "");
        free(name);
    }
    return rv;
}

/* Returns -1 only for errors that must take the connection down. */
static int start_response(struct stream *st)
{
    nghttp2_session *session = st->conn->session;
    nghttp2_data_provider prd;
    struct nvlist l = { 0 };
    char sha[65];
    int have_sha = 0;
    int rv;
    long k;

    if (st->p.reset == RESET_BEFORE) {
        rv = nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id,
                                       st->p.code);
        st->rst_sent = 1;
        return nghttp2_is_fatal(rv) ? -1 : 0;
    }
    if (st->handler == H_DATA) {
        init_rng(&st->rng, st->p.seed);
        st->gen_left = st->no_body ? 0 : st->p.size;
        if (!g_fixed) {
            if (compute_data_sha256(st->p.seed, st->p.size, sha) != 0)
                return -1;
            have_sha = 1;
        }
    }
    st->piece_left = st->p.piece;
    if (build_headers(st, &l, have_sha ? sha : NULL) != 0) {
        free_nvlist(&l);
        return -1;
    }
    for (k = 0; k < st->p.early && k < 10; k++) {
        /* early=N: interim 103 responses first (RFC 8297). */
        char link[64];
        nghttp2_nv hints[] = {
            { (uint8_t *)":status", (uint8_t *)"103", 7, 3,
              NGHTTP2_NV_FLAG_NONE },
            { (uint8_t *)"link", (uint8_t *)link, 4, 0,
              NGHTTP2_NV_FLAG_NONE },
        };

        hints[1].valuelen = (size_t)snprintf(link, sizeof(link),
                                             "</hint%ld.css>; rel=preload",
                                             k + 1);
        rv = nghttp2_submit_headers(session, NGHTTP2_FLAG_NONE, st->id,
                                    NULL, hints, 2, NULL);
        if (rv != 0) {
            free_nvlist(&l);
            return nghttp2_is_fatal(rv) ? -1 : 0;
        }
    }
    prd.source.ptr = st;
    prd.read_callback = read_body_cb;
    /* nobody=1: the whole response is one HEADERS frame with END_STREAM
     * (a gRPC "trailers-only" response). */
    rv = nghttp2_submit_response(session, st->id, l.nv, l.n,
                                 st->no_body || st->p.nobody ? NULL : &prd);
    free_nvlist(&l);
    if (rv != 0) {
        log_msg("conn %lu stream %d: submit_response: %s", st->conn->serial,
                st->id, nghttp2_strerror(rv));
        return nghttp2_is_fatal(rv) ? -1 : 0;
    }
    return 0;
}

/* refuse_first= and goaway_first=: the tag's first N requests are not
 * processed at all (RFC 9113 §8.7), whatever else they ask for. Returns
 * 1 when st was turned away, -1 on a fatal nghttp2 error. */
static int turn_away(struct stream *st)
{
    nghttp2_session *session = st->conn->session;
    int rv;

    if (st->tag && (long)st->tag->seen <= st->p.refuse_first) {
        rv = nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id,
                                       NGHTTP2_REFUSED_STREAM);
        st->rst_sent = 1;
        return nghttp2_is_fatal(rv) ? -1 : 1;
    }
    if (st->tag && (long)st->tag->seen <= st->p.reset_first) {
        /* Seen (maybe processed), then reset: only an idempotent request
         * may be sent again. */
        rv = nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id,
                                       st->p.code);
        st->rst_sent = 1;
        return nghttp2_is_fatal(rv) ? -1 : 1;
    }
    if (st->tag && (long)st->tag->seen <= st->p.goaway_first) {
        /* GOAWAY whose last-stream-id leaves this stream out: it was not
         * processed, and the connection takes no new streams. */
        rv = nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE,
                                   st->id > 2 ? st->id - 2 : 0,
                                   NGHTTP2_NO_ERROR, NULL, 0);
        return nghttp2_is_fatal(rv) ? -1 : 1;
    }
    return 0;
}

static int flush_conn(struct conn *c);
static void settle_conn(struct conn *c, int rv, const char *why);

/* Gives back the window a held /upload body kept shut. */
static int end_hold(struct stream *st)
{
    nghttp2_session *session = st->conn->session;

    cancel_timer(&st->hold_tm);
    st->holding = 0;
    g_stats.held -= st->held;
    if (st->held) {
        nghttp2_session_consume_connection(session, st->held);
        nghttp2_session_consume_stream(session, st->id, st->held);
    }
    st->held = 0;
    return 0;
}

/* release=NAME arrived on connection from: ends the holds of that name on
 * every other connection (a request on the held body's own connection
 * does not, so a test can tell where the gateway sent it). */
static void release_holds(const char *name, const struct conn *from)
{
    struct conn *c, *next;

    for (c = g_conns; c; c = next) {
        struct stream *st;
        int released = 0;

        next = c->next;
        if (c == from)
            continue;
        for (st = c->streams; st; st = st->next) {
            if (st->holding && st->p.hold && strcmp(st->p.hold, name) == 0) {
                end_hold(st);
                g_stats.released++;
                released = 1;
            }
        }
        if (released)
            settle_conn(c, flush_conn(c), "release");
    }
}

/* Names given to /_release: their wait= requests answer at once. */
static char g_released[MAX_RELEASED][MAX_TAG_LEN + 1];
static unsigned g_nreleased;

static int is_released(const char *name)
{
    unsigned i;

    for (i = 0; i < g_nreleased && i < MAX_RELEASED; i++)
        if (strcmp(g_released[i], name) == 0)
            return 1;
    return 0;
}

/* /_release?tag=NAME: the waiting wait=NAME requests answer now, and
 * later ones at once. Returns how many were waiting. */
static unsigned long release_waits(const char *name)
{
    unsigned long n = 0;
    struct conn *c;

    if (!name || is_released(name))
        return 0;
    snprintf(g_released[g_nreleased++ % MAX_RELEASED], MAX_TAG_LEN + 1, "%s",
             name);
    for (c = g_conns; c; c = c->next) {
        struct stream *st;

        for (st = c->streams; st; st = st->next) {
            if (st->p.wait && strcmp(st->p.wait, name) == 0
                && st->tm.armed && st->tm.kind == T_DELAY) {
                arm_timer(&st->tm, T_DELAY, 0);
                n++;
            }
        }
    }
    return n;
}

static int schedule_response(struct stream *st)
{
    int rv;

    if (is_internal(st->handler))
        return start_response(st);
    if ((rv = turn_away(st)) != 0)
        return rv < 0 ? -1 : 0;
    if (st->p.stall)
        return 0;
    if (st->p.wait && !is_released(st->p.wait)) {
        arm_timer(&st->tm, T_DELAY, WAIT_MS);
        return 0;
    }
    if (st->p.delay_ms > 0) {
        arm_timer(&st->tm, T_DELAY, st->p.delay_ms);
        return 0;
    }
    return start_response(st);
}

/* ------------------------------------------------------------------ */
/* Request events                                                       */
/* ------------------------------------------------------------------ */

static int on_request_headers(struct stream *st)
{
    struct conn *c = st->conn;

    if (parse_request_target(st) != 0)
        return -1;
    if (is_internal(st->handler)) {
        /* Test-control requests take no modifiers and leave no trace in
         * the statistics they are there to report. */
        st->stats_tag = st->p.tag;
        free(st->p.hdrs);
        set_default_params(&st->p);
    } else {
        count_conn(c);
        memcpy(g_peer_settings, c->settings, sizeof(g_peer_settings));
        g_stats.requests++;
        log_request(st);
        st->counted = 1;
        c->active++;
        c->nreq++;
        if (c->active > g_stats.max_conc)
            g_stats.max_conc = c->active;
        if (st->p.tag) {
            st->tag = find_tag(st->p.tag, 1);
            if (st->tag)
                st->tag->seen++;
        }
        if (st->p.drop
            || (st->tag && (long)st->tag->seen <= st->p.drop_first)) {
            /* A connection that breaks under its streams: the callback
             * failure makes the loop close it without GOAWAY. */
            log_msg("conn %lu: dropping on request", (unsigned long)c->serial);
            return -1;
        }
    }
    st->status = st->p.status >= 100 && st->p.status <= 999 ? st->p.status
               : st->handler == H_NOTFOUND ? 404 : 200;
    if (st->p.sw) {
        struct status_switch *sw = find_switch(st->p.sw);

        if (sw && st->p.sw_set >= 100 && st->p.sw_set <= 999) {
            if (st->p.sw_next > 0) {
                sw->next_status = st->p.sw_set;
                sw->next_left = st->p.sw_next;
            } else {
                sw->status = st->p.sw_set;
                sw->next_left = 0;
            }
            st->status = st->p.sw_set;
        } else if (sw && sw->next_left > 0) {
            sw->next_left--;
            st->status = sw->next_status;
        } else if (sw) {
            st->status = sw->status;
        }
    }
    st->no_body = st->status == 204 || st->status == 304 ||
                  (st->method && strcmp(st->method, "HEAD") == 0);
    if (st->handler == H_UPLOAD && !g_fixed) {
        st->md = EVP_MD_CTX_new();
        if (!st->md || !EVP_DigestInit_ex(st->md, EVP_sha256(), NULL))
            return -1;
    }
    if (st->p.hold && st->handler == H_UPLOAD) {
        st->holding = 1;
        arm_timer(&st->hold_tm, T_HOLD, HOLD_MS);
    }
    if (st->p.release && !is_internal(st->handler))
        release_holds(st->p.release, c);
    if (st->expect && st->tag)
        st->tag->expect++;
    if (st->p.reject && !is_internal(st->handler)) {
        /* reject=1: the final response goes at once, whatever body may
         * follow (e.g. 413 for an upload it will not take). */
        st->answered = 1;
        return start_response(st);
    }
    if (st->expect && !st->p.nocontinue && !is_internal(st->handler)) {
        /* As a server that takes the body says so (RFC 9110 §10.1.1). */
        nghttp2_nv cont[] = {
            { (uint8_t *)":status", (uint8_t *)"100", 7, 3,
              NGHTTP2_NV_FLAG_NONE },
        };
        int rv = nghttp2_submit_headers(st->conn->session, NGHTTP2_FLAG_NONE,
                                        st->id, NULL, cont, 1, NULL);

        if (nghttp2_is_fatal(rv))
            return -1;
    }
    if (st->handler == H_ECHO) {
        st->echo_buffering = !st->no_body;
        return schedule_response(st);
    }
    return 0;
}

static int on_request_end(struct stream *st)
{
    int rv = 0;

    if (st->req_done)
        return 0;
    st->req_done = 1;
    if (st->answered)
        return 0;
    switch (st->handler) {
    case H_ECHO:
        if (st->wait == W_ECHO) {
            st->wait = W_NONE;
            nghttp2_session_resume_data(st->conn->session, st->id);
        }
        return 0;
    case H_UPLOAD: {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1];

        if (!st->md) {
            rv = append_printf(&st->body, "size=%" PRIu64 "\n",
                               st->up_bytes);
            break;
        }
        if (!EVP_DigestFinal_ex(st->md, md, &mdlen))
            return -1;
        encode_hex(md, mdlen, hex);
        rv = append_printf(&st->body, "size=%" PRIu64 "\nsha256=%s\n",
                           st->up_bytes, hex);
        break;
    }
    case H_HEADERS:
        st->body = st->reqhdrs;
        memset(&st->reqhdrs, 0, sizeof(st->reqhdrs));
        break;
    case H_STATS:
        rv = format_stats(&st->body, st->stats_tag);
        break;
    case H_RESET:
        reset_stats();
        rv = append_printf(&st->body, "ok\n");
        break;
    case H_RELEASE:
        rv = append_printf(&st->body, "released=%lu\n",
                           release_waits(st->stats_tag));
        break;
    case H_NOTFOUND:
        rv = append_printf(&st->body, "not found\n");
        break;
    case H_DATA:
        break;
    }
    if (rv != 0)
        return -1;
    return schedule_response(st);
}

/* ------------------------------------------------------------------ */
/* nghttp2 callbacks                                                    */
/* ------------------------------------------------------------------ */

static ssize_t send_unused_cb(nghttp2_session *session, const uint8_t *data,
                              size_t length, int flags, void *user_data)
{
    /* Only nghttp2_session_mem_send() is used; this is never called. */
    (void)session;
    (void)data;
    (void)length;
    (void)flags;
    (void)user_data;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_headers_cb(nghttp2_session *session,
                               const nghttp2_frame *frame, void *user_data)
{
    struct conn *c = user_data;
    struct stream *st;

    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    st = create_stream(c, frame->hd.stream_id);
    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, st);
    return 0;
}

static int on_header_cb(nghttp2_session *session, const nghttp2_frame *frame,
                        const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user_data)
{
    struct stream *st;
    int is_req;
    int rv = 0;

    (void)flags;
    (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!st)
        return 0;
    is_req = frame->headers.cat == NGHTTP2_HCAT_REQUEST;
    if (is_req && namelen == 5 && memcmp(name, ":path", 5) == 0 &&
        !st->path) {
        st->path = strndup((const char *)value, valuelen);
        if (!st->path)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
    } else if (is_req && namelen == 7 && memcmp(name, ":method", 7) == 0 &&
               !st->method) {
        st->method = strndup((const char *)value, valuelen);
        if (!st->method)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
    } else if (is_req && namelen == 6 && memcmp(name, "expect", 6) == 0 &&
               valuelen == 12 &&
               strncasecmp((const char *)value, "100-continue", 12) == 0) {
        st->expect = 1;
    }
    /* Capped so that a hostile header flood cannot eat the process. */
    if (st->reqhdrs.len + namelen + valuelen + 16 > MAX_REQ_HDRS)
        return 0;
    if (!is_req)
        rv |= append_buf(&st->reqhdrs, "(trailer) ", 10);
    rv |= append_buf(&st->reqhdrs, name, namelen);
    rv |= append_buf(&st->reqhdrs, ": ", 2);
    rv |= append_buf(&st->reqhdrs, value, valuelen);
    rv |= append_buf(&st->reqhdrs, "\n", 1);
    return rv ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_frame_recv_cb(nghttp2_session *session,
                            const nghttp2_frame *frame, void *user_data)
{
    struct stream *st = NULL;

    (void)user_data;
    if (frame->hd.stream_id != 0)
        st = nghttp2_session_get_stream_user_data(session,
                                                  frame->hd.stream_id);
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (!st)
            break;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
            on_request_headers(st) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
            on_request_end(st) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        break;
    case NGHTTP2_DATA:
        if (st && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
            on_request_end(st) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        break;
    case NGHTTP2_RST_STREAM:
        g_stats.rst_recv++;
        count_rst_code(frame->rst_stream.error_code);
        if (st && st->tag) {
            st->tag->rst_recv++;
            st->tag->rst_code = (long)frame->rst_stream.error_code;
        }
        break;
    case NGHTTP2_GOAWAY:
        g_stats.goaway_recv++;
        break;
    case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
            struct conn *sc = user_data;  /* the session's user data */
            size_t k;

            for (k = 0; k < frame->settings.niv; k++) {
                int32_t id = frame->settings.iv[k].settings_id;

                if (id >= 1 && id <= 6)
                    sc->settings[id] = frame->settings.iv[k].value;
            }
        }
        break;
    case NGHTTP2_PING:
        /* Counted whether or not --no-ping-ack leaves it unanswered. */
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
            g_stats.pings++;
        break;
    default:
        break;
    }
    return 0;
}

static int on_data_chunk_recv_cb(nghttp2_session *session, uint8_t flags,
                                 int32_t stream_id, const uint8_t *data,
                                 size_t len, void *user_data)
{
    struct stream *st;

    (void)flags;
    (void)user_data;
    st = nghttp2_session_get_stream_user_data(session, stream_id);
    if (st && st->holding) {
        /* hold=: neither window reopens until release_holds(). */
        st->held += len;
        g_stats.held += len;
    } else {
        /* The connection window is always reopened at once so that one
         * stalled echo stream cannot starve the other streams. */
        nghttp2_session_consume_connection(session, len);
    }
    if (!st) {
        nghttp2_session_consume_stream(session, stream_id, len);
        return 0;
    }
    if (st->tag)
        st->tag->body_bytes_recv += len;
    if (st->handler == H_UPLOAD) {
        if (st->md && !EVP_DigestUpdate(st->md, data, len))
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        st->up_bytes += len;
    }
    if (st->holding)
        return 0;
    if (!st->echo_buffering) {
        nghttp2_session_consume_stream(session, stream_id, len);
        return 0;
    }
    if (append_buf(&st->body, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (st->wait == W_ECHO) {
        st->wait = W_NONE;
        nghttp2_session_resume_data(session, stream_id);
    }
    return 0;
}

static int on_frame_send_cb(nghttp2_session *session,
                            const nghttp2_frame *frame, void *user_data)
{
    struct stream *st;

    (void)user_data;
    if (frame->hd.stream_id == 0)
        return 0;
    st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!st)
        return 0;
    if (frame->hd.type == NGHTTP2_DATA) {
        size_t n = frame->hd.length - frame->data.padlen;

        st->resp_bytes += n;
        if (st->tag)
            st->tag->resp_bytes_sent += n;
        /* A frame that ends the stream leaves nothing blocked. Either
         * window at zero stops this stream, so both are checked. */
        if (st->counted && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
            (nghttp2_session_get_stream_remote_window_size(
                 session, frame->hd.stream_id) <= 0 ||
             nghttp2_session_get_remote_window_size(session) <= 0)) {
            g_stats.flow_blocked++;
            if (st->tag)
                st->tag->flow_blocked++;
        }
    }
    if ((frame->hd.type == NGHTTP2_DATA ||
         frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !st->completed) {
        st->completed = 1;
        if (st->tag)
            st->tag->completed++;
        /* The frame is already in the output buffer; the drop itself
         * waits until that is written and no stream is left. */
        if (st->p.close_after)
            st->conn->close_after = 1;
    }
    return 0;
}

static int on_stream_close_cb(nghttp2_session *session, int32_t stream_id,
                              uint32_t error_code, void *user_data)
{
    struct conn *c = user_data;
    struct stream *st;

    st = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!st)
        return 0;
    if (st->method)
        log_msg("conn %lu stream %d %s %s status=%d sent=%" PRIu64
                " %s close=%" PRIu32, c->serial, stream_id, st->method,
                st->path ? st->path : "-", st->status, st->resp_bytes,
                st->completed ? "complete" : st->rst_sent ? "reset"
                                                          : "incomplete",
                error_code);
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    free_stream(st);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static void set_conn_events(struct conn *c, uint32_t events)
{
    struct epoll_event ev;

    if (c->events == events)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

static void close_conn(struct conn *c, const char *why)
{
    log_msg("conn %lu close (%s, %lu requests)", c->serial, why, c->nreq);
    epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    /* nghttp2_session_del() does not report stream closes, so the
     * remaining streams are released by hand afterwards. */
    nghttp2_session_del(c->session);
    while (c->streams)
        free_stream(c->streams);
    if (c->epoch == g_epoch)
        g_stats.conns_open--;
    if (c->prev)
        c->prev->next = c->next;
    else
        g_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free_buf(&c->out);
    free(c);
}

/* Writes pending output, then pulls more from nghttp2 until it has nothing
 * left or the socket would block.  Returns -1 when the connection is done
 * (error, or neither side wants anything more). */
static int flush_conn(struct conn *c)
{
    for (;;) {
        while (c->out_off < c->out.len) {
            ssize_t n = send(c->fd, c->out.data + c->out_off,
                             c->out.len - c->out_off, MSG_NOSIGNAL);

            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    set_conn_events(c, EPOLLIN | EPOLLOUT);
                    return 0;
                }
                return -1;
            }
            c->out_off += (size_t)n;
        }
        c->out.len = c->out_off = 0;
        /* Gather a batch so that many small frames leave in one write. */
        while (c->out.len < OUT_HIGH_WATER) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->session, &data);

            if (n < 0) {
                log_msg("conn %lu: mem_send: %s", c->serial,
                        nghttp2_strerror((int)n));
                return -1;
            }
            if (n == 0)
                break;
            if (append_buf(&c->out, data, (size_t)n) != 0)
                return -1;
        }
        if (c->out.len == 0)
            break;
    }
    set_conn_events(c, EPOLLIN);
    if (!nghttp2_session_want_read(c->session) &&
        !nghttp2_session_want_write(c->session))
        return -1;
    return 0;
}

static int read_conn(struct conn *c)
{
    static uint8_t buf[READ_CHUNK];
    int i;

    /* Bounded so one busy connection cannot monopolise the loop. */
    for (i = 0; i < 16; i++) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        ssize_t rv;

        if (n == 0)
            return -1;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        rv = nghttp2_session_mem_recv(c->session, buf, (size_t)n);
        if (rv < 0) {
            log_msg("conn %lu: mem_recv: %s", c->serial,
                    nghttp2_strerror((int)rv));
            /* Best effort to get the GOAWAY nghttp2 queued to the peer. */
            flush_conn(c);
            return -1;
        }
        if ((size_t)n < sizeof(buf))
            break;
    }
    return flush_conn(c);
}

/* Idle: no stream left and every byte handed to the socket. */
static int is_idle(const struct conn *c)
{
    return !c->streams && c->out_off == c->out.len;
}

/* Both sides are through with the session (after a GOAWAY: no streams). */
static int is_session_done(const struct conn *c)
{
    return c->session && !nghttp2_session_want_read(c->session) &&
           !nghttp2_session_want_write(c->session);
}

/* close_after=: an upstream that forgets an idle connection without any
 * notice, so no GOAWAY; input already queued is read first, as closing
 * over unread bytes would turn the FIN into a reset. */
static void drop_conn(struct conn *c)
{
    static uint8_t sink[READ_CHUNK];

    while (recv(c->fd, sink, sizeof(sink), 0) > 0)
        ;
    shutdown(c->fd, SHUT_RDWR);
    close_conn(c, "close_after, silently");
}

/* Graceful stop: the GOAWAY and the last responses are written. Only the
 * sending side is closed and input is read until the peer closes too,
 * because closing over input still in flight would send a reset, which
 * can destroy the last response before the peer has read it. */
static void linger_conn(struct conn *c)
{
    log_msg("conn %lu: drained, waiting for the peer to close", c->serial);
    c->lingering = 1;
    shutdown(c->fd, SHUT_WR);
    set_conn_events(c, EPOLLIN);
}

/* A lingering connection: input is thrown away until the peer's FIN. */
static void discard_input(struct conn *c)
{
    static uint8_t sink[READ_CHUNK];
    int i;

    /* Bounded like read_conn; level-triggered epoll brings it back. */
    for (i = 0; i < 16; i++) {
        ssize_t n = recv(c->fd, sink, sizeof(sink), 0);

        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close_conn(c, "drained");
        return;
    }
}

/* What becomes of a connection after its I/O returned rv (-1: done or
 * broken): closed, lingering in a graceful stop, dropped after a
 * close_after= response, or left open. */
static void settle_conn(struct conn *c, int rv, const char *why)
{
    if (rv == 0 && c->close_after && is_idle(c)) {
        drop_conn(c);
        return;
    }
    if (rv == 0)
        return;
    if (g_draining && is_session_done(c) && !c->lingering)
        linger_conn(c);
    else
        close_conn(c, why);
}

static void serve_conn(struct conn *c, uint32_t e)
{
    int rv = 0;

    if (c->silent) {
        /* Only hang-ups are watched: the peer gave up. */
        close_conn(c, "peer closed");
        return;
    }
    if (c->lingering) {
        discard_input(c);
        return;
    }
    if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
        rv = read_conn(c);
    if (rv == 0 && (e & EPOLLOUT))
        rv = flush_conn(c);
    settle_conn(c, rv, "done");
}

static nghttp2_session_callbacks *g_callbacks;
static nghttp2_option *g_option;

static int setup_nghttp2(void)
{
    nghttp2_session_callbacks *cb;

    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_send_callback(cb, send_unused_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        cb, on_begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
                                                         on_frame_recv_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, on_data_chunk_recv_cb);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb,
                                                         on_frame_send_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, on_stream_close_cb);
    g_callbacks = cb;
    if (nghttp2_option_new(&g_option) != 0)
        return -1;
    /* Window updates are driven by consumption so that echo gets real
     * backpressure (see produce_body). */
    nghttp2_option_set_no_auto_window_update(g_option, 1);
    /* Let hdrsize= build header blocks past nghttp2's 64 KiB default, so
     * the gateway's own limit is what a test meets. */
    nghttp2_option_set_max_send_header_block_length(g_option, 1024 * 1024);
    /* --no-ping-ack: a half-dead upstream that takes the connection but
     * no longer answers, for the gateway's liveness checks. */
    if (g_no_ping_ack)
        nghttp2_option_set_no_auto_ping_ack(g_option, 1);
    return 0;
}

static struct conn *add_conn(int fd, uint32_t events)
{
    struct epoll_event ev;
    struct conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        free(c);
        return NULL;
    }
    c->fd = fd;
    c->serial = ++g_serial;
    c->events = events;
    c->next = g_conns;
    if (g_conns)
        g_conns->prev = c;
    g_conns = c;
    return c;
}

static int start_session(struct conn *c)
{
    nghttp2_settings_entry iv[2];

    if (nghttp2_session_server_new2(&c->session, g_callbacks, c,
                                    g_option) != 0)
        return -1;
    iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    iv[0].value = g_max_streams;
    iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    iv[1].value = g_window;
    if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2) != 0)
        return -1;
    if (g_conn_window
        && nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE,
                                                 0, (int32_t)g_conn_window))
        return -1;
    return flush_conn(c);
}

static void accept_conns(void)
{
    for (;;) {
        struct conn *c;
        int one = 1;
        int fd = accept4(g_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_msg("accept: %s", strerror(errno));
            return;
        }
        g_stats.accepted++;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* --silent watches for hang-ups only (EPOLLHUP and EPOLLERR
         * always count): whatever the peer sends is never read. */
        c = add_conn(fd, g_silent ? EPOLLRDHUP : EPOLLIN);
        if (!c) {
            close(fd);
            continue;
        }
        log_msg("conn %lu open%s", c->serial, g_silent ? " (silent)" : "");
        if (g_silent)
            c->silent = 1;
        else if (start_session(c) != 0)
            close_conn(c, "setup failed");
    }
}

static void run_timers(void)
{
    uint64_t now = read_clock_ms();

    while (g_timers && g_timers->at <= now) {
        struct timer *t = g_timers;
        struct stream *st = t->st;
        struct conn *c = st->conn;
        int rv = 0;

        g_timers = t->next;
        t->next = NULL;
        t->armed = 0;
        if (t->kind == T_DELAY) {
            rv = start_response(st);
        } else if (t->kind == T_HOLD) {
            g_stats.hold_expired++;
            rv = end_hold(st);
        } else {
            st->wait = W_NONE;
            st->piece_left = st->p.piece;
            nghttp2_session_resume_data(c->session, st->id);
        }
        /* st may be freed by the flush; only c is used from here on. */
        if (rv == 0)
            rv = flush_conn(c);
        settle_conn(c, rv, "timer");
    }
}

/* ------------------------------------------------------------------ */
/* Graceful stop (SIGTERM)                                              */
/* ------------------------------------------------------------------ */

/* Connections the kernel has already completed are taken in first:
 * closing a listener resets whatever still waits in its queue, while
 * accepted ones get a clean GOAWAY. New ones go to any other instance on
 * the port (SO_REUSEPORT), or are refused. */
static void stop_listening(void)
{
    accept_conns();
    epoll_ctl(g_epfd, EPOLL_CTL_DEL, g_lfd, NULL);
    close(g_lfd);
    g_lfd = -1;
}

/* GOAWAY(NO_ERROR) naming the last stream this side has processed: those
 * are served to the end, anything later is known to be untouched and can
 * be retried elsewhere. */
static int send_goaway(struct conn *c)
{
    int rv;

    if (!c->session)
        return -1;
    rv = nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                               nghttp2_session_get_last_proc_stream_id(
                                   c->session),
                               NGHTTP2_NO_ERROR, NULL, 0);
    if (nghttp2_is_fatal(rv))
        return -1;
    return flush_conn(c);
}

static void start_drain(void)
{
    struct conn *c, *next;

    log_msg("SIGTERM: stopping gracefully");
    g_draining = 1;
    g_drain_deadline = read_clock_ms() + DRAIN_MS;
    stop_listening();
    for (c = g_conns; c; c = next) {
        next = c->next;
        if (c->lingering)
            continue;
        settle_conn(c, send_goaway(c), "drained");
    }
}

/* The epoll timeout: the next timer, or the end of a graceful stop. */
static int compute_wait_ms(void)
{
    int t = compute_timeout_ms();
    uint64_t now, left;

    if (!g_draining)
        return t;
    now = read_clock_ms();
    left = g_drain_deadline > now ? g_drain_deadline - now : 0;
    if (left > INT_MAX)
        left = INT_MAX;
    return t >= 0 && t < (int)left ? t : (int)left;
}

/* ------------------------------------------------------------------ */
/* Setup and main loop                                                  */
/* ------------------------------------------------------------------ */

/* Only flags: the loop acts on them (signals get through only inside
 * epoll_pwait, see main). */
static void on_signal(int sig)
{
    if (sig == SIGTERM)
        g_term = 1;
    else
        g_stop = 1;
}

static int write_port_file(const char *path, int port)
{
    char tmp[PATH_MAX];
    FILE *f;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0)
        return -1;
    /* rename() is atomic, so readers never see a partial number. */
    return rename(tmp, path);
}

static int listen_on(int port)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* A new instance can bind the port while the old one still drains:
     * a restart without a moment in which nothing listens. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
        close(fd);
        return -1;
    }
    g_lfd = fd;
    return ntohs(sa.sin_port);
}

static void usage(void)
{
    fprintf(stderr, "usage: h2up [--port N] [--port-file PATH] "
            "[--max-concurrent-streams N] [--window N] [--conn-window N] "
            "[--quiet] "
            "[--die-with-parent] [--no-ping-ack] [--silent] "
            "[--request-log PATH] [--fixed-bodies]\n");
    exit(2);
}

static long parse_arg_num(const char *s, long min, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL;
    long port = 0;
    struct sigaction sa;
    struct epoll_event ev, events[MAX_EVENTS];
    sigset_t block, orig;
    int i, bound;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) {
            g_quiet = 1;
        } else if (strcmp(argv[i], "--fixed-bodies") == 0) {
            struct rng r;

            g_fixed = 1;
            init_rng(&r, 1);
            fill_rng(&r, g_fixed_block, FIXED_LEN);
        } else if (strcmp(argv[i], "--die-with-parent") == 0) {
            /* A test run that is killed must not leave its upstream
             * behind, not even for the length of a graceful stop. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1)
                return 1;
        } else if (strcmp(argv[i], "--no-ping-ack") == 0) {
            g_no_ping_ack = 1;
        } else if (strcmp(argv[i], "--silent") == 0) {
            g_silent = 1;
        } else if (i + 1 >= argc) {
            usage();
        } else if (strcmp(argv[i], "--port") == 0) {
            port = parse_arg_num(argv[++i], 0, 65535);
        } else if (strcmp(argv[i], "--port-file") == 0) {
            port_file = argv[++i];
        } else if (strcmp(argv[i], "--request-log") == 0) {
            g_reqlog = open(argv[++i], O_WRONLY | O_APPEND | O_CREAT |
                            O_CLOEXEC, 0644);
            if (g_reqlog < 0) {
                fprintf(stderr, "h2up: %s: %s\n", argv[i], strerror(errno));
                return 1;
            }
        } else if (strcmp(argv[i], "--max-concurrent-streams") == 0) {
            g_max_streams = (uint32_t)parse_arg_num(argv[++i], 0, INT32_MAX);
        } else if (strcmp(argv[i], "--conn-window") == 0) {
            g_conn_window = (uint32_t)parse_arg_num(argv[++i], 65535,
                                                    NGHTTP2_MAX_WINDOW_SIZE);
        } else if (strcmp(argv[i], "--window") == 0) {
            g_window = (uint32_t)parse_arg_num(argv[++i], 0,
                                               NGHTTP2_MAX_WINDOW_SIZE);
        } else {
            usage();
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* The signals are only let through inside epoll_pwait, so a stop
     * request can never slip in between the check and the wait. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &orig);
    sigdelset(&orig, SIGTERM);
    sigdelset(&orig, SIGINT);

    if (setup_nghttp2() != 0) {
        fprintf(stderr, "h2up: nghttp2 setup failed\n");
        return 1;
    }
    bound = listen_on((int)port);
    if (bound < 0) {
        fprintf(stderr, "h2up: listen on port %ld: %s\n", port,
                strerror(errno));
        return 1;
    }
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (g_epfd < 0 || epoll_ctl(g_epfd, EPOLL_CTL_ADD, g_lfd, &ev) != 0) {
        fprintf(stderr, "h2up: epoll: %s\n", strerror(errno));
        return 1;
    }
    if (port_file && write_port_file(port_file, bound) != 0) {
        fprintf(stderr, "h2up: cannot write %s: %s\n", port_file,
                strerror(errno));
        return 1;
    }
    log_msg("listening on 127.0.0.1:%d", bound);

    while (!g_stop) {
        int n;

        if (g_term && !g_draining)
            start_drain();
        if (g_draining && (!g_conns || read_clock_ms() >= g_drain_deadline))
            break;
        n = epoll_pwait(g_epfd, events, MAX_EVENTS, compute_wait_ms(),
                        &orig);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "h2up: epoll_wait: %s\n", strerror(errno));
            break;
        }
        for (i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;

            if (!c)
                accept_conns();
            else
                serve_conn(c, events[i].events);
        }
        run_timers();
    }

    log_msg("shutting down");
    while (g_conns)
        close_conn(g_conns, "shutdown");
    free_tags();
    while (g_switches) {
        struct status_switch *sw = g_switches;

        g_switches = sw->next;
        free(sw);
    }
    if (g_lfd >= 0)
        close(g_lfd);
    close(g_epfd);
    if (g_reqlog >= 0)
        close(g_reqlog);
    nghttp2_session_callbacks_del(g_callbacks);
    nghttp2_option_del(g_option);
    return 0;
}
