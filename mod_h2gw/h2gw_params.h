/*
 * h2gw_params: the parameters of H2GWPass and H2GWUpstream (key=value)
 * and the directives that set the same values for a server, as one table:
 * each parameter's name, kind, range, default, where it is stored and
 * whether it belongs to a request or to the connections of an upstream.
 * Parsing, the values in force (parameter, then the next layer, then the
 * default), the comparison of two pools and the check that README.md
 * documents every parameter are all built from that table.
 *
 * Pure: APR only, no httpd headers, no I/O; part of libh2gwcore, unit
 * tested by t/unit/test_params.c. Which layers apply (which server's
 * directives, which upstream's parameters) is h2gw_config's business.
 */
#ifndef H2GW_PARAMS_H
#define H2GW_PARAMS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <nghttp2/nghttp2.h>

/* Defaults, each overridable by a directive or a parameter. */
/* Ample for a slow upstream to answer, like httpd's own Timeout. */
#define H2GW_DEFAULT_TIMEOUT          apr_time_from_sec(60)
/* Loopback and LAN upstreams connect in milliseconds; 10 s covers a
 * congested path without holding clients for a minute. */
#define H2GW_DEFAULT_CONNECT_TIMEOUT  apr_time_from_sec(10)
/* Per stream: the most response body buffered for one client. 256 KiB
 * keeps a 1 Gbit/s x 2 ms path full while bounding memory per request. */
#define H2GW_DEFAULT_STREAM_WINDOW    (256 * 1024)
/* Per connection: large so that the stream window, not the connection
 * window, is what limits a stream (RFC 9113 §6.9.1). */
#define H2GW_DEFAULT_CONN_WINDOW      (64 * 1024 * 1024)
/* Per stream: request body held between the client and the upstream,
 * and kept for a resend while the whole body fits. */
#define H2GW_DEFAULT_REQUEST_BUFFER   (256 * 1024)

/* The longest response-header wait a gRPC client's grpc-timeout may ask
 * for: its deadline is its own choice, but a worker thread is held for
 * it, so it is bounded; an hour covers batch-like calls. */
#define H2GW_DEFAULT_GRPC_TIMEOUT_MAX apr_time_from_sec(3600)

/* Resends of a request the upstream provably did not process. */
#define H2GW_DEFAULT_RETRIES          1
#define H2GW_MAX_RETRIES              10

/* Pool policy, per server and child process. Connections beyond the
 * first open only when every open one is full or, for uploads, short of
 * the peer's connection window; 8 lets 8 uploads at once each have one
 * of their own to a server that grants 64 KiB per connection (1 MiB
 * uploads, paired runs against 4: 1.08-1.13x the rate at 0.91-0.94x the
 * CPU over HTTP/1.1; bench/README.md). */
#define H2GW_DEFAULT_MAX_CONNS        8
/* Streams per connection, below the peer's own limit. */
#define H2GW_DEFAULT_MAX_STREAMS      100
#define H2GW_MAX_MAX_STREAMS          10000
/* A request waits this long for a free stream slot, then 503. */
#define H2GW_DEFAULT_QUEUE_TIMEOUT    apr_time_from_sec(5)
/* A server that failed to connect is skipped this long. */
#define H2GW_DEFAULT_RETRY            apr_time_from_sec(5)
/* Idle connections are closed after this; upstreams tend to close theirs
 * after a few minutes, and closing first avoids racing them. */
#define H2GW_DEFAULT_IDLE_TIMEOUT     apr_time_from_sec(60)
/* The peer's SETTINGS and the ACK of ours must come this quickly. */
#define H2GW_DEFAULT_SETTINGS_TIMEOUT apr_time_from_sec(5)
/* Host names are looked up again this often (and after a connect
 * failure): services that move get found within a minute. */
#define H2GW_DEFAULT_RESOLVE          apr_time_from_sec(60)
/* PING sent before reusing a connection idle this long (0: never). */
#define H2GW_DEFAULT_PING             0

/* Bounds that reject impossible values at startup. */
/* Waits for a peer (header, read, connect, SETTINGS, PING): below 100 ms
 * a scheduler hiccup or a busy upstream fails every request, which no
 * administrator means; the message names this minimum. */
#define H2GW_MIN_TIMEOUT              0.1
/* Any other time in seconds: 1 ms, so that a tiny value never rounds to
 * 0 and silently means "never". */
#define H2GW_MIN_SECONDS              0.001
/* The longest time any directive or parameter takes: one year. */
#define H2GW_MAX_SECONDS              (86400.0 * 365)
#define H2GW_MIN_WINDOW               1024
#define H2GW_MAX_WINDOW               NGHTTP2_MAX_WINDOW_SIZE
#define H2GW_MIN_REQUEST_BUFFER       1024
#define H2GW_MAX_REQUEST_BUFFER       (64 * 1024 * 1024)
#define H2GW_MAX_CONNS                1000
/* RFC 9113 §6.5.2 bounds and defaults. */
#define H2GW_DEFAULT_MAX_FRAME_SIZE   16384
#define H2GW_MAX_MAX_FRAME_SIZE       16777215
#define H2GW_DEFAULT_HEADER_TABLE     4096
/* An HPACK table past 1 MiB buys nothing but memory per connection. */
#define H2GW_MAX_HEADER_TABLE         (1024 * 1024)
/* Response header fields (interim, final, trailers) per stream, counted
 * as §6.5.2 does; past it → 502. */
#define H2GW_DEFAULT_MAX_HEADER_LIST  (64 * 1024)
/* Below 1 KiB no real response fits; above 16 MiB one response's fields
 * hold more memory than its body may. */
#define H2GW_MIN_MAX_HEADER_LIST      1024
#define H2GW_MAX_MAX_HEADER_LIST      (16 * 1024 * 1024)
#define H2GW_MAX_SERVERS              64

/* Active health checks (health-check=). A check every 5 s finds a dead
 * server within seconds at the cost of one small stream per server and
 * child process; two failures in a row put it out (one lost answer, a
 * pause of the server, does not), two passes bring it back (one lucky
 * answer of a flapping server does not). */
#define H2GW_DEFAULT_HEALTH_INTERVAL  apr_time_from_sec(5)
#define H2GW_DEFAULT_HEALTH_FAILS     2
#define H2GW_DEFAULT_HEALTH_PASSES    2
/* Checks in a row past which counting means nothing more. */
#define H2GW_MAX_HEALTH_COUNT         100
/* The gRPC health service (grpc/grpc-proto health/v1/health.proto). */
#define H2GW_GRPC_HEALTH_PATH         "/grpc.health.v1.Health/Check"
/* Longest service name a gRPC check asks about: it travels in one
 * small request message. */
#define H2GW_MAX_HEALTH_SERVICE       1000
/* Statuses an HTTP check may name (health-status=): 100 to 599. */
#define H2GW_HEALTH_STATUS_MAX        600

/* A numeric parameter that was not given. */
#define H2GW_PARAM_UNSET              (-1)

typedef enum {
    H2GW_LB_LEAST_STREAMS,     /* the server with the fewest active streams */
    H2GW_LB_ROUND_ROBIN        /* each server in turn */
} h2gw_lb_t;

/* TLS parameters of an upstream, as configured (NULL / -1: not given). */
typedef struct h2gw_tls_conf_t {
    int verify;                /* -1, 0 or 1 */
    const char *ca_file;
    const char *ca_path;
    const char *name;          /* expected certificate name */
    const char *sni;           /* server name sent; "off": none */
    const char *cert_file;     /* client certificate (PEM) ... */
    const char *key_file;      /* ... and its key */
} h2gw_tls_conf_t;

/* Parameters of H2GWUpstream and H2GWPass, or the directives of a server.
 * Every field is H2GW_PARAM_UNSET or NULL when not given; the table in
 * h2gw_params.c says how each is parsed and what its default is. Times
 * are apr_interval_time_t (microseconds), sizes bytes. */
typedef struct h2gw_params_t {
    /* Per request: allowed on H2GWPass and H2GWUpstream. */
    apr_interval_time_t timeout;
    apr_interval_time_t read_timeout;
    apr_int64_t request_buffer;
    int preserve_host;
    int retries;
    int retry_idempotent;      /* resend idempotent requests lost with
                                * their connection or reset */
    int reverse;               /* rewrite Location & co. back */
    int forwarded;             /* add Forwarded */
    int via;                   /* add Via */
    apr_interval_time_t grpc_timeout_max;  /* 0: grpc-timeout ignored */
    int grpc_web;              /* translate gRPC-Web requests */
    apr_array_header_t *grpc_web_origins;  /* const char *: origins whose
                                            * CORS requests are allowed,
                                            * "*" any; NULL: not given */
    const char *grpc_web_expose;  /* response fields named in
                                   * Access-Control-Expose-Headers besides
                                   * gRPC's own, ", "-joined; NULL: not
                                   * given */
    /* Per connection pool: on H2GWUpstream, or on an H2GWPass that names
     * a server URL itself. */
    apr_interval_time_t connect_timeout;
    apr_interval_time_t queue_timeout;
    apr_interval_time_t retry;
    apr_interval_time_t max_lifetime;
    apr_interval_time_t ping;
    apr_interval_time_t idle_timeout;
    apr_interval_time_t settings_timeout;
    apr_interval_time_t resolve;
    apr_int64_t stream_window;
    apr_int64_t conn_window;
    apr_int64_t max_requests;
    int max_conns;
    int max_streams;
    int lb;                    /* h2gw_lb_t */
    apr_int64_t max_frame_size;
    apr_int64_t header_table_size;
    apr_int64_t max_header_list;
    h2gw_tls_conf_t tls;       /* for h2:// servers */
    /* Active health checks (pool parameters too). */
    const char *health_check;  /* "/path", "grpc" or "grpc:SERVICE"
                                * ("grpc" always lowercase) */
    apr_interval_time_t health_interval;
    apr_interval_time_t health_timeout;
    int health_fails;
    int health_passes;
    const unsigned char *health_status;  /* H2GW_HEALTH_STATUS_MAX flags:
                                          * the statuses that pass */
} h2gw_params_t;

/* Where a parameter may be given. */
typedef enum {
    H2GW_PARAM_REQUEST,        /* each request: pass, upstream, server */
    H2GW_PARAM_POOL,           /* the upstream's connections */
    H2GW_PARAM_HEALTH,         /* the pool's health checks (needs
                                * health-check= but that one itself) */
    H2GW_PARAM_TLS             /* the pool's TLS (needs an h2:// server) */
} h2gw_param_scope_t;

/*
 * Resolves a path parameter (tls-ca=...) to the path used: relative paths
 * against ServerRoot. Returns NULL when val is no path.
 */
typedef const char *h2gw_params_path_fn(apr_pool_t *p, const char *val);

/* Every field unset. */
void h2gw_params_init(h2gw_params_t *pm);

/*
 * Parses one "key=value" word of directive dir ("H2GWPass") into pm.
 * path_fn resolves path values. Returns NULL, or the message (from p) a
 * configuration test prints: "DIR KEY: ..." for a bad value, "DIR:
 * unknown parameter ..." for an unknown key.
 */
const char *h2gw_params_parse(apr_pool_t *p, const char *dir,
                              h2gw_params_t *pm, const char *word,
                              h2gw_params_path_fn *path_fn);

/*
 * Parses val as the value of parameter name (as the directive that sets
 * it for a server does; what names the directive in the message). Returns
 * NULL or the message.
 */
const char *h2gw_params_parse_value(apr_pool_t *p, const char *what,
                                    h2gw_params_t *pm, const char *name,
                                    const char *val,
                                    h2gw_params_path_fn *path_fn);

/* The name of the first parameter of scope that pm sets, or NULL. With
 * H2GW_PARAM_POOL: of any pool, health or TLS parameter. */
const char *h2gw_params_first(const h2gw_params_t *pm,
                              h2gw_param_scope_t scope);

/*
 * Fills out with each value from the first of the n layers that sets it
 * (layers[i] may be NULL); unset when none does.
 */
void h2gw_params_merge(h2gw_params_t *out,
                       const h2gw_params_t *const *layers, int n);

/*
 * Fills out with the value in force of every parameter: from the first
 * of the n layers that sets it (n may be 0; layers[i] may be NULL), else
 * its default: a constant, or the value in force of another parameter
 * (read-timeout= of timeout=). Pointer fields stay NULL when no layer
 * sets them; tls.* is left as the first layer has it.
 */
void h2gw_params_resolve(h2gw_params_t *out,
                         const h2gw_params_t *const *layers, int n);

/* Do two resolved parameter sets open the same kind of connections (every
 * pool and health parameter equal)? */
int h2gw_params_same_pool(const h2gw_params_t *a, const h2gw_params_t *b);

/* "timeout, read-timeout, ...": every parameter's name, in table order
 * (from p). */
const char *h2gw_params_known(apr_pool_t *p);

/* The i-th parameter's name and scope; NULL past the last. */
const char *h2gw_params_name(int i, h2gw_param_scope_t *scope);

#endif /* H2GW_PARAMS_H */
