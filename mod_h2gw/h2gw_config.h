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

/* Defaults, each overridable by a directive and an H2GWPass parameter. */
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
/* Per stream: request body held between the client and the upstream. */
#define H2GW_DEFAULT_REQUEST_BUFFER   (64 * 1024)

/* Resends of a request the upstream provably did not process. */
#define H2GW_DEFAULT_RETRIES          1
#define H2GW_MAX_RETRIES              10

/* Bounds that reject impossible values at startup. */
#define H2GW_MIN_WINDOW               1024
#define H2GW_MAX_WINDOW               NGHTTP2_MAX_WINDOW_SIZE
#define H2GW_MIN_REQUEST_BUFFER       1024
#define H2GW_MAX_REQUEST_BUFFER       (64 * 1024 * 1024)

/* One H2GWPass: a client path prefix and the upstream it maps to. Numeric
 * parameters are -1 when not given (the server's value then applies). */
typedef struct h2gw_pass_t {
    const char *prefix;        /* client URL-path prefix */
    const char *url;           /* as configured, for log lines */
    const char *scheme;        /* "h2c" */
    const char *host;
    int port;
    const char *base_path;     /* upstream path prefix, starts with '/' */
    apr_interval_time_t timeout;
    apr_interval_time_t connect_timeout;
    apr_int64_t stream_window;
    apr_int64_t conn_window;
    apr_int64_t request_buffer;
    int preserve_host;         /* -1, 0 or 1 */
    int retries;               /* -1 or 0..H2GW_MAX_RETRIES */
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
} h2gw_srv_conf_t;

typedef struct h2gw_dir_conf_t {
    const char *path;             /* the <Location> this belongs to */
    h2gw_pass_t *pass;            /* H2GWPass given inside it, or NULL */
} h2gw_dir_conf_t;

/* What one request is proxied with: the pass and the values in force. */
typedef struct h2gw_route_t {
    const h2gw_pass_t *pass;
    h2gw_target_t target;         /* key and strings in r->pool */
    apr_size_t request_buffer;
    int preserve_host;
    int add_headers;
} h2gw_route_t;

extern const command_rec h2gw_config_cmds[];

void *h2gw_config_create_srv(apr_pool_t *p, server_rec *s);
void *h2gw_config_merge_srv(apr_pool_t *p, void *basev, void *addv);
void *h2gw_config_create_dir(apr_pool_t *p, char *dir);
void *h2gw_config_merge_dir(apr_pool_t *p, void *basev, void *addv);

/*
 * Finds the server-level H2GWPass whose prefix r->uri starts with (the
 * first in configuration order). Returns it or NULL.
 */
const h2gw_pass_t *h2gw_config_match_server(request_rec *r);

/* The H2GWPass of r's merged per-directory (<Location>) config, or NULL. */
const h2gw_pass_t *h2gw_config_match_location(request_rec *r);

/*
 * Fills route with the values in force for pass in r's server: pass
 * parameters first, then server directives, then built-in defaults.
 */
void h2gw_config_route(request_rec *r, const h2gw_pass_t *pass,
                       h2gw_route_t *route);

#endif /* H2GW_CONFIG_H */
