/*
 * h2gw_config: the module's directives, its per-server and per-directory
 * configuration, H2GWPass URL parsing, and the lookup that maps a request
 * to its H2GWPass (h2gw_config.c); the resolution and checks at startup
 * (h2gw_config_check.c). Parameters are h2gw_params'. Everything here is
 * built at startup and read-only afterwards.
 */
#ifndef H2GW_CONFIG_H
#define H2GW_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "h2gw_params.h"
#include "h2gw_stream.h"
#include "h2gw_tls.h"

typedef enum {
    H2GW_HC_NONE,              /* no active health check */
    H2GW_HC_HTTP,              /* GET of a path, passes on a chosen status */
    H2GW_HC_GRPC               /* grpc.health.v1.Health/Check, SERVING */
} h2gw_hc_kind_t;

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
    h2gw_params_t in_force;    /* every value in force: its parameter,
                                * then its server's directive, then the
                                * default; copied below for the engine */
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
    h2gw_params_t params;         /* the values its directives set
                                   * (H2GWTimeout: timeout, ...) */
    int add_headers;              /* X-Forwarded-For/-Host/-Server */
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
 * check_config (h2gw_config_check.c): resolves every H2GWPass to its
 * upstream and every connection value in force (parameter, then the
 * directive of the server that declared the upstream, then the default),
 * and warns of passes that cannot work as meant. Logs each problem with
 * the directive's file and line and returns !OK when there was one.
 */
int h2gw_config_check(apr_pool_t *pconf, server_rec *s);

/* Every upstream of the configuration, h2gw_upstream_t *. */
const apr_array_header_t *h2gw_config_upstreams(void);

/* Every H2GWPass of the configuration, h2gw_pass_t *, in the order read. */
const apr_array_header_t *h2gw_config_passes(void);

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
