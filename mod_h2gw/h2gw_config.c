/*
 * h2gw_config: directives and configuration records. Directive handlers
 * validate everything they are given, so that a bad value stops the
 * configuration test with a message naming the directive, file and line.
 */
#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_lib.h>
#include <http_core.h>
#include <http_request.h>

#include "mod_h2gw.h"
#include "h2gw_config.h"

APLOG_USE_MODULE(h2gw);

#define UNSET (-1)

void *h2gw_config_create_srv(apr_pool_t *p, server_rec *s)
{
    h2gw_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->passes = apr_array_make(p, 4, sizeof(h2gw_pass_t *));
    conf->timeout = UNSET;
    conf->connect_timeout = UNSET;
    conf->stream_window = UNSET;
    conf->conn_window = UNSET;
    conf->request_buffer = UNSET;
    conf->preserve_host = UNSET;
    conf->add_headers = UNSET;
    return conf;
}

#define MERGE(f) (add->f != UNSET ? add->f : base->f)

void *h2gw_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    h2gw_srv_conf_t *base = basev, *add = addv;
    h2gw_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    /* A virtual host's passes come first; the main server's apply after. */
    conf->passes = apr_array_append(p, add->passes, base->passes);
    conf->timeout = MERGE(timeout);
    conf->connect_timeout = MERGE(connect_timeout);
    conf->stream_window = MERGE(stream_window);
    conf->conn_window = MERGE(conn_window);
    conf->request_buffer = MERGE(request_buffer);
    conf->preserve_host = MERGE(preserve_host);
    conf->add_headers = MERGE(add_headers);
    return conf;
}

void *h2gw_config_create_dir(apr_pool_t *p, char *dir)
{
    h2gw_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->path = dir;
    return conf;
}

void *h2gw_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    h2gw_dir_conf_t *base = basev, *add = addv;
    h2gw_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->path = add->path ? add->path : base->path;
    conf->pass = add->pass ? add->pass : base->pass;
    return conf;
}

/* Parses a non-negative number of seconds, fractions allowed ("2.5"). */
static const char *parse_seconds(apr_pool_t *p, const char *what,
                                 const char *arg, apr_interval_time_t *out)
{
    char *end;
    double secs = strtod(arg, &end);

    if (end == arg || *end || !(secs > 0) || secs > 86400.0 * 365) {
        return apr_psprintf(p, "%s: '%s' is not a number of seconds "
                            "(greater than 0)", what, arg);
    }
    *out = (apr_interval_time_t)(secs * APR_USEC_PER_SEC);
    return NULL;
}

/* Parses a byte count with an optional K, M or G suffix (powers of 1024)
 * and checks it against [min, max]. */
static const char *parse_size(apr_pool_t *p, const char *what,
                              const char *arg, apr_int64_t min,
                              apr_int64_t max, apr_int64_t *out)
{
    char *end;
    apr_int64_t n, unit = 1;

    errno = 0;
    n = apr_strtoi64(arg, &end, 10);
    if (end == arg || errno || n < 0) {
        return apr_psprintf(p, "%s: '%s' is not a byte count", what, arg);
    }
    switch (apr_toupper(*end)) {
    case 'K': unit = 1024; ++end; break;
    case 'M': unit = 1024 * 1024; ++end; break;
    case 'G': unit = 1024 * 1024 * 1024; ++end; break;
    }
    if (*end) {
        return apr_psprintf(p, "%s: '%s' is not a byte count", what, arg);
    }
    /* Compared before multiplying: n * unit must not overflow. */
    if (n > max / unit || n * unit < min) {
        return apr_psprintf(p, "%s: %s is out of range (%" APR_INT64_T_FMT
                            " to %" APR_INT64_T_FMT " bytes)", what, arg,
                            min, max);
    }
    *out = n * unit;
    return NULL;
}

static const char *parse_flag(apr_pool_t *p, const char *what,
                              const char *arg, int *out)
{
    if (!strcasecmp(arg, "on")) {
        *out = 1;
    }
    else if (!strcasecmp(arg, "off")) {
        *out = 0;
    }
    else {
        return apr_psprintf(p, "%s: '%s' must be on or off", what, arg);
    }
    return NULL;
}

/* Parses "h2c://host[:port][/path]" into pass. */
static const char *parse_url(apr_pool_t *p, const char *url, h2gw_pass_t *pass)
{
    apr_uri_t uri;

    if (apr_uri_parse(p, url, &uri) != APR_SUCCESS || !uri.scheme
        || !uri.hostname || !*uri.hostname) {
        return apr_psprintf(p, "H2GWPass: '%s' is not an upstream URL "
                            "(expected h2c://host[:port]/path)", url);
    }
    if (!strcasecmp(uri.scheme, "h2")) {
        return apr_psprintf(p, "H2GWPass: '%s': h2:// (TLS) upstreams are "
                            "not supported by this build yet; use h2c://",
                            url);
    }
    if (strcasecmp(uri.scheme, "h2c")) {
        return apr_psprintf(p, "H2GWPass: '%s': unknown scheme '%s' "
                            "(expected h2c)", url, uri.scheme);
    }
    if (uri.query || uri.fragment || uri.user || uri.password) {
        return apr_psprintf(p, "H2GWPass: '%s': an upstream URL carries no "
                            "user, query or fragment", url);
    }
    pass->scheme = "h2c";
    pass->host = apr_pstrdup(p, uri.hostname);
    pass->port = 80;
    if (uri.port_str) {
        /* apr_uri_parse() wraps ports above 65535; parse it ourselves. */
        char *end;
        long port = strtol(uri.port_str, &end, 10);

        if (!*uri.port_str || *end || port <= 0 || port > 65535) {
            return apr_psprintf(p, "H2GWPass: '%s': bad port", url);
        }
        pass->port = (int)port;
    }
    pass->base_path = (uri.path && *uri.path) ? uri.path : "/";
    return NULL;
}

static const char *parse_param(apr_pool_t *p, h2gw_pass_t *pass,
                               const char *param)
{
    const char *eq = strchr(param, '=');
    const char *key, *val;

    if (!eq || eq == param) {
        return apr_psprintf(p, "H2GWPass: parameter '%s' is not key=value",
                            param);
    }
    key = apr_pstrmemdup(p, param, (apr_size_t)(eq - param));
    val = eq + 1;
    if (!strcasecmp(key, "timeout")) {
        return parse_seconds(p, "H2GWPass timeout", val, &pass->timeout);
    }
    if (!strcasecmp(key, "connect-timeout")) {
        return parse_seconds(p, "H2GWPass connect-timeout", val,
                             &pass->connect_timeout);
    }
    if (!strcasecmp(key, "window")) {
        return parse_size(p, "H2GWPass window", val, H2GW_MIN_WINDOW,
                          H2GW_MAX_WINDOW, &pass->stream_window);
    }
    if (!strcasecmp(key, "conn-window")) {
        return parse_size(p, "H2GWPass conn-window", val, H2GW_MIN_WINDOW,
                          H2GW_MAX_WINDOW, &pass->conn_window);
    }
    if (!strcasecmp(key, "request-buffer")) {
        return parse_size(p, "H2GWPass request-buffer", val,
                          H2GW_MIN_REQUEST_BUFFER, H2GW_MAX_REQUEST_BUFFER,
                          &pass->request_buffer);
    }
    if (!strcasecmp(key, "retries")) {
        char *end;
        long n = strtol(val, &end, 10);

        if (!*val || *end || n < 0 || n > H2GW_MAX_RETRIES) {
            return apr_psprintf(p, "H2GWPass retries: '%s' is not a count "
                                "from 0 to %d", val, H2GW_MAX_RETRIES);
        }
        pass->retries = (int)n;
        return NULL;
    }
    if (!strcasecmp(key, "preserve-host")) {
        return parse_flag(p, "H2GWPass preserve-host", val,
                          &pass->preserve_host);
    }
    return apr_psprintf(p, "H2GWPass: unknown parameter '%s' (known: "
                        "timeout, connect-timeout, window, conn-window, "
                        "request-buffer, preserve-host, retries)", key);
}

/* H2GWPass /prefix/ h2c://host:port/path [key=value ...]   (server)
 * H2GWPass h2c://host:port/path [key=value ...]            (<Location>) */
static const char *cmd_pass(cmd_parms *cmd, void *dconf, int argc,
                            char *const argv[])
{
    h2gw_pass_t *pass;
    const char *err;
    int i = 0;
    int in_location = (cmd->path != NULL);

    if (in_location && cmd->directive->parent
        && strcasecmp(cmd->directive->parent->directive, "<Location")) {
        return "H2GWPass: only allowed at server level or in <Location>";
    }
    if (argc < (in_location ? 1 : 2)) {
        return in_location ? "H2GWPass: needs an upstream URL"
                           : "H2GWPass: needs a path prefix and an upstream "
                             "URL (or use it inside <Location>)";
    }
    pass = apr_pcalloc(cmd->pool, sizeof(*pass));
    pass->timeout = pass->connect_timeout = UNSET;
    pass->stream_window = pass->conn_window = UNSET;
    pass->request_buffer = UNSET;
    pass->preserve_host = UNSET;
    pass->retries = UNSET;
    if (in_location) {
        pass->prefix = cmd->path;
    }
    else {
        if (argv[0][0] != '/') {
            return apr_psprintf(cmd->pool, "H2GWPass: path prefix '%s' must "
                                "start with '/'", argv[0]);
        }
        pass->prefix = argv[i++];
    }
    pass->url = argv[i++];
    if ((err = parse_url(cmd->pool, pass->url, pass)) != NULL) {
        return err;
    }
    for (; i < argc; ++i) {
        if ((err = parse_param(cmd->pool, pass, argv[i])) != NULL) {
            return err;
        }
    }
    if (in_location) {
        h2gw_dir_conf_t *dc = dconf;

        if (dc->pass) {
            return "H2GWPass: given twice in one <Location>";
        }
        dc->pass = pass;
    }
    else {
        h2gw_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config,
                                                   &h2gw_module);
        APR_ARRAY_PUSH(sc->passes, h2gw_pass_t *) = pass;
    }
    return NULL;
}

static h2gw_srv_conf_t *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &h2gw_module);
}

static const char *cmd_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd->pool, cmd->cmd->name, arg,
                         &srv_conf(cmd)->timeout);
}

static const char *cmd_connect_timeout(cmd_parms *cmd, void *dc,
                                       const char *arg)
{
    return parse_seconds(cmd->pool, cmd->cmd->name, arg,
                         &srv_conf(cmd)->connect_timeout);
}

static const char *cmd_stream_window(cmd_parms *cmd, void *dc,
                                     const char *arg)
{
    return parse_size(cmd->pool, cmd->cmd->name, arg, H2GW_MIN_WINDOW,
                      H2GW_MAX_WINDOW, &srv_conf(cmd)->stream_window);
}

static const char *cmd_conn_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_size(cmd->pool, cmd->cmd->name, arg, H2GW_MIN_WINDOW,
                      H2GW_MAX_WINDOW, &srv_conf(cmd)->conn_window);
}

static const char *cmd_request_buffer(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    return parse_size(cmd->pool, cmd->cmd->name, arg,
                      H2GW_MIN_REQUEST_BUFFER, H2GW_MAX_REQUEST_BUFFER,
                      &srv_conf(cmd)->request_buffer);
}

static const char *cmd_preserve_host(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->preserve_host = flag;
    return NULL;
}

static const char *cmd_add_headers(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->add_headers = flag;
    return NULL;
}

const command_rec h2gw_config_cmds[] = {
    AP_INIT_TAKE_ARGV("H2GWPass", cmd_pass, NULL, RSRC_CONF | ACCESS_CONF,
                      "[/prefix] h2c://host[:port][/path] [key=value ...]: "
                      "proxy requests under the prefix to an HTTP/2 upstream"),
    AP_INIT_TAKE1("H2GWTimeout", cmd_timeout, NULL, RSRC_CONF,
                  "seconds to wait for upstream response headers"),
    AP_INIT_TAKE1("H2GWConnectTimeout", cmd_connect_timeout, NULL, RSRC_CONF,
                  "seconds to wait for an upstream connection"),
    AP_INIT_TAKE1("H2GWStreamWindow", cmd_stream_window, NULL, RSRC_CONF,
                  "HTTP/2 stream window: response bytes buffered per request"),
    AP_INIT_TAKE1("H2GWConnWindow", cmd_conn_window, NULL, RSRC_CONF,
                  "HTTP/2 connection window per upstream connection"),
    AP_INIT_TAKE1("H2GWRequestBuffer", cmd_request_buffer, NULL, RSRC_CONF,
                  "request body bytes buffered per request"),
    AP_INIT_FLAG("H2GWPreserveHost", cmd_preserve_host, NULL, RSRC_CONF,
                 "send the client's Host as :authority"),
    AP_INIT_FLAG("H2GWAddHeaders", cmd_add_headers, NULL, RSRC_CONF,
                 "add X-Forwarded-For, -Host and -Server"),
    {NULL}
};

const h2gw_pass_t *h2gw_config_match_server(request_rec *r)
{
    h2gw_srv_conf_t *sc = ap_get_module_config(r->server->module_config,
                                               &h2gw_module);
    int i;

    if (!r->uri || r->uri[0] != '/') {
        return NULL;
    }
    for (i = 0; i < sc->passes->nelts; ++i) {
        const h2gw_pass_t *pass = APR_ARRAY_IDX(sc->passes, i, h2gw_pass_t *);

        if (!strncmp(r->uri, pass->prefix, strlen(pass->prefix))) {
            return pass;
        }
    }
    return NULL;
}

const h2gw_pass_t *h2gw_config_match_location(request_rec *r)
{
    h2gw_dir_conf_t *dc = ap_get_module_config(r->per_dir_config,
                                               &h2gw_module);

    return dc ? dc->pass : NULL;
}

#define PICK(pf, sf, def) \
    (pass->pf != UNSET ? pass->pf : (sc->sf != UNSET ? sc->sf : (def)))

void h2gw_config_route(request_rec *r, const h2gw_pass_t *pass,
                       h2gw_route_t *route)
{
    h2gw_srv_conf_t *sc = ap_get_module_config(r->server->module_config,
                                               &h2gw_module);
    h2gw_target_t *t = &route->target;

    route->pass = pass;
    t->scheme = pass->scheme;
    t->host = pass->host;
    t->port = pass->port;
    t->timeout = PICK(timeout, timeout, H2GW_DEFAULT_TIMEOUT);
    t->connect_timeout = PICK(connect_timeout, connect_timeout,
                              H2GW_DEFAULT_CONNECT_TIMEOUT);
    t->stream_window = (int32_t)PICK(stream_window, stream_window,
                                     H2GW_DEFAULT_STREAM_WINDOW);
    t->conn_window = (int32_t)PICK(conn_window, conn_window,
                                   H2GW_DEFAULT_CONN_WINDOW);
    t->retries = pass->retries != UNSET ? pass->retries
                                        : H2GW_DEFAULT_RETRIES;
    /* Streams share a connection only when it was opened with the same
     * settings. */
    t->key = apr_psprintf(r->pool, "%s://%s:%d sw=%d cw=%d", t->scheme,
                          t->host, t->port, (int)t->stream_window,
                          (int)t->conn_window);
    route->request_buffer = (apr_size_t)PICK(request_buffer, request_buffer,
                                             H2GW_DEFAULT_REQUEST_BUFFER);
    route->preserve_host = PICK(preserve_host, preserve_host, 0);
    route->add_headers = sc->add_headers != UNSET ? sc->add_headers : 1;
}
