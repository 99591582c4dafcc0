/*
 * h2gw_config: the module's directives, its per-server and per-directory
 * configuration, H2GWPass URL and parameter parsing, and the lookup that
 * maps a request to its H2GWPass. Everything here is built at startup and
 * read-only afterwards.
 */
#ifndef H2GW_CONFIG_H
#define H2GW_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "h2gw_stream.h"
#include "h2gw_tls.h"

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

/* Pool policy, per server and child process. */
#define H2GW_DEFAULT_MAX_CONNS        4
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
#define H2GW_MIN_WINDOW               1024
#define H2GW_MAX_WINDOW               NGHTTP2_MAX_WINDOW_SIZE
#define H2GW_MIN_REQUEST_BUFFER       1024
#define H2GW_MAX_REQUEST_BUFFER       (64 * 1024 * 1024)
#define H2GW_MAX_CONNS                1000
/* RFC 9113 §6.5.2 bounds and defaults. */
#define H2GW_DEFAULT_MAX_FRAME_SIZE   16384
#define H2GW_DEFAULT_HEADER_TABLE     4096
/* Response header fields (interim, final, trailers) per stream, counted
 * as §6.5.2 does; past it → 502. */
#define H2GW_DEFAULT_MAX_HEADER_LIST  (64 * 1024)
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

typedef enum {
    H2GW_HC_NONE,              /* no active health check */
    H2GW_HC_HTTP,              /* GET of a path, passes on a chosen status */
    H2GW_HC_GRPC               /* grpc.health.v1.Health/Check, SERVING */
} h2gw_hc_kind_t;

typedef enum {
    H2GW_LB_LEAST_STREAMS,     /* the server with the fewest active streams */
    H2GW_LB_ROUND_ROBIN        /* each server in turn */
} h2gw_lb_t;

/* Parameters of H2GWUpstream and H2GWPass. Every field is -1 when not
 * given; the value in force is resolved at startup. */
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
    int lb;
    apr_int64_t max_frame_size;
    apr_int64_t header_table_size;
    apr_int64_t max_header_list;
    h2gw_tls_conf_t tls;       /* for h2:// servers */
    /* Active health checks (pool parameters too); NULL/-1 when not
     * given. */
    const char *health_check;  /* "/path", "grpc" or "grpc:SERVICE" */
    apr_interval_time_t health_interval;
    apr_interval_time_t health_timeout;
    int health_fails;
    int health_passes;
    const unsigned char *health_status;  /* H2GW_HEALTH_STATUS_MAX flags:
                                          * the statuses that pass */
} h2gw_params_t;

/* One server of an upstream. */
typedef struct h2gw_server_conf_t {
    const char *url;           /* as configured */
    const char *scheme;        /* "h2c" or "h2" (TLS) */
    int tls;
    const char *host;
    int port;
    const char *authority;     /* host[:port] for :authority */
} h2gw_server_conf_t;

/* An upstream: a named H2GWUpstream, or the one an H2GWPass with a server
 * URL makes for itself. Built at startup in pconf, read-only afterwards;
 * the engine keys its connection pools by its address. */
typedef struct h2gw_upstream_t {
    const char *name;          /* the H2GWUpstream name, or the URL */
    int named;
    const char *file;          /* where it was declared */
    int line;
    server_rec *server;        /* the server it was declared in */
    h2gw_params_t params;      /* as given */
    apr_array_header_t *servers;  /* h2gw_server_conf_t */
    /* Resolved by h2gw_config_check(). */
    struct h2gw_upstream_t *same_as;  /* an earlier implicit upstream with
                                       * the same server and pool values,
                                       * whose connections it shares */
    h2gw_lb_t lb;
    int max_conns;
    int max_streams;
    apr_interval_time_t connect_timeout;
    apr_interval_time_t queue_timeout;
    apr_interval_time_t retry;
    apr_interval_time_t max_lifetime;     /* 0: none */
    apr_int64_t max_requests;             /* 0: none */
    apr_interval_time_t ping;             /* 0: never */
    apr_interval_time_t idle_timeout;
    apr_interval_time_t settings_timeout;
    apr_interval_time_t resolve;          /* 0: only after a failure */
    int32_t stream_window;
    int32_t conn_window;
    uint32_t max_frame_size;     /* SETTINGS_MAX_FRAME_SIZE we announce */
    uint32_t header_table_size;  /* SETTINGS_HEADER_TABLE_SIZE we announce */
    uint32_t max_header_list;    /* announced, and enforced on responses */
    SSL_CTX *ssl_ctx;          /* when a server is h2:// */
    /* Numbered by h2gw_counters_post_config() (-1 for one that shares
     * another's connections): where its counters are in a slot. */
    int cidx;                  /* its upstream counters */
    int csv0;                  /* its first server's counters */
    /* Active health checks of every server (h2gw_health). */
    h2gw_hc_kind_t hc_kind;
    const char *hc_path;         /* the :path a check asks for */
    const char *hc_service;      /* gRPC: the service asked about ("": the
                                  * server as a whole) */
    apr_interval_time_t hc_interval;  /* from the start of one check to
                                       * the next */
    apr_interval_time_t hc_timeout;   /* a check's whole answer, from its
                                       * start */
    int hc_fails;                /* failed checks in a row: out */
    int hc_passes;               /* passed checks in a row: back in */
    const unsigned char *hc_status;   /* HTTP: statuses that pass (flags by
                                       * status); NULL: any 2xx */
} h2gw_upstream_t;

/* One H2GWPass: a client path prefix and the upstream it maps to. */
typedef struct h2gw_pass_t {
    const char *prefix;        /* client URL-path prefix */
    const char *url;           /* as configured, for log lines */
    const char *upstream_name; /* upstream://NAME, or NULL */
    h2gw_upstream_t *upstream; /* resolved by h2gw_config_check() */
    const char *base_path;     /* upstream path prefix, starts with '/' */
    const char *file;          /* where it was declared */
    int line;
    server_rec *server;        /* the server it was declared in */
    int in_location;           /* given inside <Location> */
    h2gw_params_t params;      /* as given */
    /* Resolved by h2gw_config_check(). */
    h2gw_target_t target;      /* upstream and retries; the timeouts
                                * are picked per request */
    int reverse;
} h2gw_pass_t;

typedef struct h2gw_srv_conf_t {
    apr_array_header_t *passes;   /* h2gw_pass_t *, in configuration order */
    apr_interval_time_t timeout;
    apr_interval_time_t connect_timeout;
    apr_int64_t stream_window;
    apr_int64_t conn_window;
    apr_int64_t request_buffer;
    int preserve_host;
    int add_headers;              /* X-Forwarded-For/-Host/-Server */
    int forwarded;                /* RFC 7239 Forwarded */
    int via;                      /* Via, both ways */
    int grpc_web;                 /* H2GWGrpcWeb: grpc-web= default */
} h2gw_srv_conf_t;

typedef struct h2gw_dir_conf_t {
    const char *path;             /* the <Location> this belongs to */
    h2gw_pass_t *pass;            /* H2GWPass given inside it, or NULL */
} h2gw_dir_conf_t;

/* What one request is proxied with: the pass and the values in force. */
typedef struct h2gw_route_t {
    const h2gw_pass_t *pass;
    h2gw_target_t target;
    apr_size_t request_buffer;
    int preserve_host;
    int reverse;
    int add_headers;
    int forwarded;
    int via;
    int grpc_web;                         /* gRPC-Web translation on */
    const apr_array_header_t *grpc_web_origins;  /* or NULL: no CORS */
    const char *grpc_web_expose;          /* or NULL */
} h2gw_route_t;

extern const command_rec h2gw_config_cmds[];

void *h2gw_config_create_srv(apr_pool_t *p, server_rec *s);
void *h2gw_config_merge_srv(apr_pool_t *p, void *basev, void *addv);
void *h2gw_config_create_dir(apr_pool_t *p, char *dir);
void *h2gw_config_merge_dir(apr_pool_t *p, void *basev, void *addv);

/* pre_config: starts an empty list of upstreams and passes. */
void h2gw_config_pre(apr_pool_t *pconf);

/*
 * check_config: resolves every H2GWPass to its upstream and every
 * connection value in force (parameter, then the directive of the server
 * that declared the upstream, then the default), and warns of passes that
 * cannot work as meant. Logs each problem with the directive's file and
 * line and returns !OK when there was one.
 */
int h2gw_config_check(apr_pool_t *pconf, server_rec *s);

/* Every upstream of the configuration, h2gw_upstream_t *. */
const apr_array_header_t *h2gw_config_upstreams(void);

/*
 * Finds the server-level H2GWPass whose prefix r->uri starts with (the
 * first in configuration order). Returns it or NULL.
 */
const h2gw_pass_t *h2gw_config_match_server(request_rec *r);

/* The H2GWPass of r's merged per-directory (<Location>) config, or NULL. */
const h2gw_pass_t *h2gw_config_match_location(request_rec *r);

/*
 * Fills route with the values in force for pass and r: the pass's
 * parameter, then its upstream's, then the directive of r's server (not
 * the server that declared the pass), then the default.
 */
void h2gw_config_route(request_rec *r, const h2gw_pass_t *pass,
                       h2gw_route_t *route);

#endif /* H2GW_CONFIG_H */
