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
    conf->forwarded = UNSET;
    conf->via = UNSET;
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
    conf->forwarded = MERGE(forwarded);
    conf->via = MERGE(via);
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

/* Parses a number of seconds, fractions allowed ("2.5"): greater than 0,
 * or 0 as well when zero_ok. */
static const char *parse_seconds_z(apr_pool_t *p, const char *what,
                                   const char *arg, int zero_ok,
                                   apr_interval_time_t *out)
{
    char *end;
    double secs = strtod(arg, &end);

    if (end == arg || *end || !(secs > 0 || (zero_ok && secs == 0))
        || secs > 86400.0 * 365) {
        return apr_psprintf(p, "%s: '%s' is not a number of seconds "
                            "(%s 0)", what, arg,
                            zero_ok ? "0 or more than" : "greater than");
    }
    *out = (apr_interval_time_t)(secs * APR_USEC_PER_SEC);
    return NULL;
}

static const char *parse_seconds(apr_pool_t *p, const char *what,
                                 const char *arg, apr_interval_time_t *out)
{
    return parse_seconds_z(p, what, arg, 0, out);
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

/* Parses a whole number in [min, max]. */
static const char *parse_count(apr_pool_t *p, const char *what,
                               const char *arg, apr_int64_t min,
                               apr_int64_t max, apr_int64_t *out)
{
    char *end;
    apr_int64_t n;

    errno = 0;
    n = apr_strtoi64(arg, &end, 10);
    if (!*arg || *end || errno || n < min || n > max) {
        return apr_psprintf(p, "%s: '%s' is not a count from %"
                            APR_INT64_T_FMT " to %" APR_INT64_T_FMT, what,
                            arg, min, max);
    }
    *out = n;
    return NULL;
}

static const char *parse_int(apr_pool_t *p, const char *what,
                             const char *arg, int min, int max, int *out)
{
    apr_int64_t n;
    const char *err = parse_count(p, what, arg, min, max, &n);

    if (!err) {
        *out = (int)n;
    }
    return err;
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

static void params_init(h2gw_params_t *pm)
{
    pm->timeout = pm->read_timeout = UNSET;
    pm->request_buffer = UNSET;
    pm->preserve_host = pm->retries = pm->reverse = UNSET;
    pm->retry_idempotent = UNSET;
    pm->forwarded = pm->via = UNSET;
    pm->connect_timeout = pm->queue_timeout = pm->retry = UNSET;
    pm->max_lifetime = pm->ping = pm->idle_timeout = UNSET;
    pm->settings_timeout = UNSET;
    pm->stream_window = pm->conn_window = pm->max_requests = UNSET;
    pm->max_conns = pm->max_streams = pm->lb = UNSET;
    pm->max_frame_size = pm->header_table_size = pm->max_header_list = UNSET;
    memset(&pm->tls, 0, sizeof(pm->tls));
    pm->tls.verify = UNSET;
}

/* Does pm set any parameter of the connection pool? Returns its name. */
static const char *params_pool_key(const h2gw_params_t *pm)
{
    if (pm->connect_timeout != UNSET) return "connect-timeout";
    if (pm->queue_timeout != UNSET) return "queue-timeout";
    if (pm->retry != UNSET) return "retry";
    if (pm->max_lifetime != UNSET) return "max-lifetime";
    if (pm->ping != UNSET) return "ping";
    if (pm->idle_timeout != UNSET) return "idle-timeout";
    if (pm->settings_timeout != UNSET) return "settings-timeout";
    if (pm->stream_window != UNSET) return "window";
    if (pm->conn_window != UNSET) return "conn-window";
    if (pm->max_requests != UNSET) return "max-requests";
    if (pm->max_conns != UNSET) return "max-conns";
    if (pm->max_streams != UNSET) return "max-streams";
    if (pm->lb != UNSET) return "lb";
    if (pm->max_frame_size != UNSET) return "max-frame-size";
    if (pm->header_table_size != UNSET) return "header-table-size";
    if (pm->max_header_list != UNSET) return "max-header-list";
    if (pm->tls.verify != UNSET) return "tls-verify";
    if (pm->tls.ca_file) return "tls-ca";
    if (pm->tls.ca_path) return "tls-ca-path";
    if (pm->tls.name) return "tls-name";
    if (pm->tls.sni) return "tls-sni";
    if (pm->tls.cert_file) return "tls-cert";
    if (pm->tls.key_file) return "tls-key";
    return NULL;
}

#define KNOWN_PARAMS                                                       \
    "timeout, read-timeout, retries, request-buffer, preserve-host, "      \
    "reverse, forwarded, via, "                                            \
    "connect-timeout, window, conn-window, max-conns, max-streams, "       \
    "queue-timeout, lb, retry, max-requests, max-lifetime, ping, "         \
    "idle-timeout, settings-timeout, tls-verify, tls-ca, tls-ca-path, "    \
    "tls-name, tls-sni, tls-cert, tls-key, max-frame-size, "               \
    "header-table-size, max-header-list, retry-idempotent"

/* Parses one key=value parameter of directive `dir` into pm. */
static const char *parse_param(apr_pool_t *p, const char *dir,
                               h2gw_params_t *pm, const char *param)
{
    const char *eq = strchr(param, '=');
    const char *key, *val, *what;

    if (!eq || eq == param) {
        return apr_psprintf(p, "%s: parameter '%s' is not key=value", dir,
                            param);
    }
    key = apr_pstrmemdup(p, param, (apr_size_t)(eq - param));
    val = eq + 1;
    what = apr_pstrcat(p, dir, " ", key, NULL);
    if (!strcasecmp(key, "timeout")) {
        return parse_seconds(p, what, val, &pm->timeout);
    }
    if (!strcasecmp(key, "read-timeout")) {
        return parse_seconds(p, what, val, &pm->read_timeout);
    }
    if (!strcasecmp(key, "connect-timeout")) {
        return parse_seconds(p, what, val, &pm->connect_timeout);
    }
    if (!strcasecmp(key, "queue-timeout")) {
        return parse_seconds(p, what, val, &pm->queue_timeout);
    }
    if (!strcasecmp(key, "retry")) {
        if (!strcmp(val, "0")) {
            /* A failed server is tried again by the next request. */
            pm->retry = 0;
            return NULL;
        }
        return parse_seconds(p, what, val, &pm->retry);
    }
    if (!strcasecmp(key, "settings-timeout")) {
        return parse_seconds(p, what, val, &pm->settings_timeout);
    }
    if (!strcasecmp(key, "max-lifetime")) {
        return parse_seconds_z(p, what, val, 1, &pm->max_lifetime);
    }
    if (!strcasecmp(key, "ping")) {
        return parse_seconds_z(p, what, val, 1, &pm->ping);
    }
    if (!strcasecmp(key, "idle-timeout")) {
        return parse_seconds(p, what, val, &pm->idle_timeout);
    }
    if (!strcasecmp(key, "window")) {
        return parse_size(p, what, val, H2GW_MIN_WINDOW, H2GW_MAX_WINDOW,
                          &pm->stream_window);
    }
    if (!strcasecmp(key, "conn-window")) {
        return parse_size(p, what, val, H2GW_MIN_WINDOW, H2GW_MAX_WINDOW,
                          &pm->conn_window);
    }
    if (!strcasecmp(key, "request-buffer")) {
        return parse_size(p, what, val, H2GW_MIN_REQUEST_BUFFER,
                          H2GW_MAX_REQUEST_BUFFER, &pm->request_buffer);
    }
    if (!strcasecmp(key, "retries")) {
        return parse_int(p, what, val, 0, H2GW_MAX_RETRIES, &pm->retries);
    }
    if (!strcasecmp(key, "retry-idempotent")) {
        return parse_flag(p, what, val, &pm->retry_idempotent);
    }
    if (!strcasecmp(key, "max-conns")) {
        return parse_int(p, what, val, 1, H2GW_MAX_CONNS, &pm->max_conns);
    }
    if (!strcasecmp(key, "max-streams")) {
        return parse_int(p, what, val, 1, H2GW_MAX_MAX_STREAMS,
                         &pm->max_streams);
    }
    if (!strcasecmp(key, "max-requests")) {
        return parse_count(p, what, val, 0, APR_INT64_MAX,
                           &pm->max_requests);
    }
    if (!strcasecmp(key, "preserve-host")) {
        return parse_flag(p, what, val, &pm->preserve_host);
    }
    if (!strcasecmp(key, "reverse")) {
        return parse_flag(p, what, val, &pm->reverse);
    }
    if (!strcasecmp(key, "forwarded")) {
        return parse_flag(p, what, val, &pm->forwarded);
    }
    if (!strcasecmp(key, "via")) {
        return parse_flag(p, what, val, &pm->via);
    }
    if (!strcasecmp(key, "max-frame-size")) {
        return parse_size(p, what, val, 16384, 16777215,
                          &pm->max_frame_size);
    }
    if (!strcasecmp(key, "header-table-size")) {
        return parse_size(p, what, val, 0, 1024 * 1024,
                          &pm->header_table_size);
    }
    if (!strcasecmp(key, "max-header-list")) {
        return parse_size(p, what, val, 1024, 16 * 1024 * 1024,
                          &pm->max_header_list);
    }
    if (!strcasecmp(key, "tls-verify")) {
        return parse_flag(p, what, val, &pm->tls.verify);
    }
    if (!strcasecmp(key, "tls-ca") || !strcasecmp(key, "tls-ca-path")
        || !strcasecmp(key, "tls-cert") || !strcasecmp(key, "tls-key")) {
        const char *path = ap_server_root_relative(p, val);

        if (!*val || !path) {
            return apr_psprintf(p, "%s: '%s' is not a path", what, val);
        }
        if (!strcasecmp(key, "tls-ca")) pm->tls.ca_file = path;
        else if (!strcasecmp(key, "tls-ca-path")) pm->tls.ca_path = path;
        else if (!strcasecmp(key, "tls-cert")) pm->tls.cert_file = path;
        else pm->tls.key_file = path;
        return NULL;
    }
    if (!strcasecmp(key, "tls-name") || !strcasecmp(key, "tls-sni")) {
        if (!*val || strpbrk(val, " \t/")) {
            return apr_psprintf(p, "%s: '%s' is not a host name", what, val);
        }
        if (!strcasecmp(key, "tls-name")) pm->tls.name = val;
        else pm->tls.sni = val;
        return NULL;
    }
    if (!strcasecmp(key, "lb")) {
        if (!strcasecmp(val, "least-streams")) {
            pm->lb = H2GW_LB_LEAST_STREAMS;
        }
        else if (!strcasecmp(val, "round-robin")) {
            pm->lb = H2GW_LB_ROUND_ROBIN;
        }
        else {
            return apr_psprintf(p, "%s: '%s' is not least-streams or "
                                "round-robin", what, val);
        }
        return NULL;
    }
    return apr_psprintf(p, "%s: unknown parameter '%s' (known: "
                        KNOWN_PARAMS ")", dir, key);
}

/* Parses a server URL "h2c://host[:port][/path]"; *path gets the path
 * ("/" when none). */
static const char *parse_server_url(apr_pool_t *p, const char *dir,
                                    const char *url, h2gw_server_conf_t *sv,
                                    const char **path)
{
    apr_uri_t uri;

    if (apr_uri_parse(p, url, &uri) != APR_SUCCESS || !uri.scheme
        || !uri.hostname || !*uri.hostname) {
        return apr_psprintf(p, "%s: '%s' is not an upstream URL "
                            "(expected h2c://host[:port]/path or h2://...)", dir,
                            url);
    }
    if (strcasecmp(uri.scheme, "h2c") && strcasecmp(uri.scheme, "h2")) {
        return apr_psprintf(p, "%s: '%s': unknown scheme '%s' "
                            "(expected h2c or h2)", dir, url, uri.scheme);
    }
    if (uri.query || uri.fragment || uri.user || uri.password) {
        return apr_psprintf(p, "%s: '%s': an upstream URL carries no "
                            "user, query or fragment", dir, url);
    }
    sv->url = url;
    sv->tls = !strcasecmp(uri.scheme, "h2");
    sv->scheme = sv->tls ? "h2" : "h2c";
    sv->host = apr_pstrdup(p, uri.hostname);
    sv->port = sv->tls ? 443 : 80;
    if (uri.port_str) {
        /* apr_uri_parse() wraps ports above 65535; parse it ourselves. */
        char *end;
        long port = strtol(uri.port_str, &end, 10);

        if (!*uri.port_str || *end || port <= 0 || port > 65535) {
            return apr_psprintf(p, "%s: '%s': bad port", dir, url);
        }
        sv->port = (int)port;
    }
    {
        int v6 = (strchr(sv->host, ':') != NULL);

        if (sv->port == (sv->tls ? 443 : 80)) {
            sv->authority = v6 ? apr_pstrcat(p, "[", sv->host, "]", NULL)
                               : sv->host;
        }
        else {
            sv->authority = apr_psprintf(p, v6 ? "[%s]:%d" : "%s:%d",
                                         sv->host, sv->port);
        }
    }
    *path = (uri.path && *uri.path) ? uri.path : "/";
    return NULL;
}

/* The upstreams and passes of the configuration being read: reset by
 * pre_config, so each (re)read starts empty; memory of pconf. */
static apr_array_header_t *all_upstreams;   /* h2gw_upstream_t * */
static apr_array_header_t *all_passes;      /* h2gw_pass_t * */

void h2gw_config_pre(apr_pool_t *pconf)
{
    all_upstreams = apr_array_make(pconf, 8, sizeof(h2gw_upstream_t *));
    all_passes = apr_array_make(pconf, 8, sizeof(h2gw_pass_t *));
}

const apr_array_header_t *h2gw_config_upstreams(void)
{
    return all_upstreams;
}

static h2gw_upstream_t *upstream_new(cmd_parms *cmd, const char *name,
                                     int named)
{
    h2gw_upstream_t *up = apr_pcalloc(cmd->pool, sizeof(*up));

    up->name = name;
    up->named = named;
    up->file = cmd->directive->filename;
    up->line = cmd->directive->line_num;
    up->server = cmd->server;
    params_init(&up->params);
    up->servers = apr_array_make(cmd->pool, 2, sizeof(h2gw_server_conf_t));
    APR_ARRAY_PUSH(all_upstreams, h2gw_upstream_t *) = up;
    return up;
}

/* H2GWUpstream NAME h2c://host:port ... [key=value ...] */
static const char *cmd_upstream(cmd_parms *cmd, void *dconf, int argc,
                                char *const argv[])
{
    const char *err, *path;
    h2gw_upstream_t *up;
    int i;

    if ((err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE)) != NULL) {
        return err;
    }
    if (argc < 2) {
        return "H2GWUpstream: needs a name and at least one server URL";
    }
    for (i = 0; argv[0][i]; ++i) {
        if (!apr_isalnum(argv[0][i]) && !strchr("-_.", argv[0][i])) {
            return apr_psprintf(cmd->pool, "H2GWUpstream: name '%s' may "
                                "only hold letters, digits, '-', '_' and "
                                "'.'", argv[0]);
        }
    }
    for (i = 0; i < all_upstreams->nelts; ++i) {
        h2gw_upstream_t *o = APR_ARRAY_IDX(all_upstreams, i,
                                           h2gw_upstream_t *);

        if (o->named && !strcmp(o->name, argv[0])) {
            return apr_psprintf(cmd->pool, "H2GWUpstream: '%s' is already "
                                "defined (line %d of %s)", argv[0], o->line,
                                o->file);
        }
    }
    up = upstream_new(cmd, argv[0], 1);
    for (i = 1; i < argc; ++i) {
        if (strchr(argv[i], '=') && !strstr(argv[i], "://")) {
            err = parse_param(cmd->pool, "H2GWUpstream", &up->params,
                              argv[i]);
        }
        else {
            h2gw_server_conf_t *sv = apr_array_push(up->servers);

            err = parse_server_url(cmd->pool, "H2GWUpstream", argv[i], sv,
                                   &path);
            if (!err && strcmp(path, "/")) {
                err = apr_psprintf(cmd->pool, "H2GWUpstream: '%s': a "
                                   "server URL has no path (give it in "
                                   "H2GWPass upstream://%s/path)", argv[i],
                                   argv[0]);
            }
        }
        if (err) {
            return err;
        }
    }
    if (up->servers->nelts == 0) {
        return "H2GWUpstream: needs at least one server URL";
    }
    if (up->servers->nelts > H2GW_MAX_SERVERS) {
        return apr_psprintf(cmd->pool, "H2GWUpstream: more than %d servers",
                            H2GW_MAX_SERVERS);
    }
    return NULL;
}

/* H2GWPass /prefix/ URL [key=value ...]   (server)
 * H2GWPass URL [key=value ...]            (<Location>)
 * URL: h2c://host:port/path, or upstream://NAME/path. */
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
    params_init(&pass->params);
    pass->file = cmd->directive->filename;
    pass->line = cmd->directive->line_num;
    pass->server = cmd->server;
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
    for (; i < argc; ++i) {
        if ((err = parse_param(cmd->pool, "H2GWPass", &pass->params,
                               argv[i])) != NULL) {
            return err;
        }
    }
    if (!strncasecmp(pass->url, "upstream://", 11)) {
        const char *name = pass->url + 11;
        const char *slash = strchr(name, '/');
        const char *key;

        pass->upstream_name = slash ? apr_pstrmemdup(cmd->pool, name,
                                                     (apr_size_t)(slash
                                                                  - name))
                                    : name;
        pass->base_path = slash ? slash : "/";
        if (!*pass->upstream_name || strpbrk(pass->base_path, "?#")) {
            return apr_psprintf(cmd->pool, "H2GWPass: '%s' is not an "
                                "upstream URL (expected "
                                "upstream://NAME/path)", pass->url);
        }
        if ((key = params_pool_key(&pass->params)) != NULL) {
            return apr_psprintf(cmd->pool, "H2GWPass: '%s' belongs to the "
                                "connections of upstream '%s': give it on "
                                "its H2GWUpstream line", key,
                                pass->upstream_name);
        }
    }
    else {
        h2gw_upstream_t *up = upstream_new(cmd, pass->url, 0);
        h2gw_server_conf_t *sv = apr_array_push(up->servers);

        if ((err = parse_server_url(cmd->pool, "H2GWPass", pass->url, sv,
                                    &pass->base_path)) != NULL) {
            return err;
        }
        /* The pass's own upstream takes its pool parameters. */
        up->params = pass->params;
        pass->upstream = up;
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
    APR_ARRAY_PUSH(all_passes, h2gw_pass_t *) = pass;
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

static const char *cmd_forwarded(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->forwarded = flag;
    return NULL;
}

static const char *cmd_via(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->via = flag;
    return NULL;
}

const command_rec h2gw_config_cmds[] = {
    AP_INIT_TAKE_ARGV("H2GWPass", cmd_pass, NULL, RSRC_CONF | ACCESS_CONF,
                      "[/prefix] h2c://host[:port][/path] | "
                      "upstream://NAME[/path] [key=value ...]: proxy "
                      "requests under the prefix to an HTTP/2 upstream"),
    AP_INIT_TAKE_ARGV("H2GWUpstream", cmd_upstream, NULL, RSRC_CONF,
                      "NAME h2c://host[:port] ... [key=value ...]: a named "
                      "upstream of one or more servers"),
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
    AP_INIT_FLAG("H2GWForwarded", cmd_forwarded, NULL, RSRC_CONF,
                 "add an RFC 7239 Forwarded field (for, host, proto)"),
    AP_INIT_FLAG("H2GWVia", cmd_via, NULL, RSRC_CONF,
                 "add a Via field to requests and responses"),
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

/* The first value that is set: parameter, then directive, then the
 * default. */
#define PICK2(a, b, def) ((a) != UNSET ? (a) : ((b) != UNSET ? (b) : (def)))
#define PICK3(a, b, c, def) ((a) != UNSET ? (a) : PICK2(b, c, def))

static void resolve_upstream(h2gw_upstream_t *up)
{
    const h2gw_params_t *pm = &up->params;
    h2gw_srv_conf_t *sc = ap_get_module_config(up->server->module_config,
                                               &h2gw_module);

    up->lb = pm->lb != UNSET ? pm->lb : H2GW_LB_LEAST_STREAMS;
    up->max_conns = PICK2(pm->max_conns, UNSET, H2GW_DEFAULT_MAX_CONNS);
    up->max_streams = PICK2(pm->max_streams, UNSET,
                            H2GW_DEFAULT_MAX_STREAMS);
    up->connect_timeout = PICK2(pm->connect_timeout, sc->connect_timeout,
                                H2GW_DEFAULT_CONNECT_TIMEOUT);
    up->queue_timeout = PICK2(pm->queue_timeout, UNSET,
                              H2GW_DEFAULT_QUEUE_TIMEOUT);
    up->retry = PICK2(pm->retry, UNSET, H2GW_DEFAULT_RETRY);
    up->max_lifetime = PICK2(pm->max_lifetime, UNSET, 0);
    up->max_requests = PICK2(pm->max_requests, UNSET, 0);
    up->ping = PICK2(pm->ping, UNSET, H2GW_DEFAULT_PING);
    up->idle_timeout = PICK2(pm->idle_timeout, UNSET,
                             H2GW_DEFAULT_IDLE_TIMEOUT);
    up->settings_timeout = PICK2(pm->settings_timeout, UNSET,
                                 H2GW_DEFAULT_SETTINGS_TIMEOUT);
    up->stream_window = (int32_t)PICK2(pm->stream_window, sc->stream_window,
                                       H2GW_DEFAULT_STREAM_WINDOW);
    up->conn_window = (int32_t)PICK2(pm->conn_window, sc->conn_window,
                                     H2GW_DEFAULT_CONN_WINDOW);
    up->max_frame_size = (uint32_t)PICK2(pm->max_frame_size, UNSET,
                                         H2GW_DEFAULT_MAX_FRAME_SIZE);
    up->header_table_size = (uint32_t)PICK2(pm->header_table_size, UNSET,
                                            H2GW_DEFAULT_HEADER_TABLE);
    up->max_header_list = (uint32_t)PICK2(pm->max_header_list, UNSET,
                                          H2GW_DEFAULT_MAX_HEADER_LIST);
}

static void resolve_pass(h2gw_pass_t *pass)
{
    const h2gw_params_t *pm = &pass->params;
    const h2gw_params_t *um = &pass->upstream->params;
    h2gw_srv_conf_t *sc = ap_get_module_config(pass->server->module_config,
                                               &h2gw_module);
    h2gw_target_t *t = &pass->target;

    t->upstream = pass->upstream;
    t->retry_idempotent = PICK3(pm->retry_idempotent, um->retry_idempotent,
                                UNSET, 1);
    t->name = pass->upstream->name;
    t->timeout = PICK3(pm->timeout, um->timeout, sc->timeout,
                       H2GW_DEFAULT_TIMEOUT);
    /* The gap allowed in a response body: the header timeout unless set. */
    t->read_timeout = PICK3(pm->read_timeout, um->read_timeout, UNSET,
                            t->timeout);
    t->retries = PICK3(pm->retries, um->retries, UNSET,
                       H2GW_DEFAULT_RETRIES);
    pass->request_buffer = (apr_size_t)PICK3(pm->request_buffer,
                                             um->request_buffer,
                                             sc->request_buffer,
                                             H2GW_DEFAULT_REQUEST_BUFFER);
    pass->preserve_host = PICK3(pm->preserve_host, um->preserve_host,
                                sc->preserve_host, 0);
    /* Location pointing into the upstream is almost never what a client
     * should see: rewritten unless turned off. */
    pass->reverse = PICK3(pm->reverse, um->reverse, UNSET, 1);
    pass->forwarded = PICK3(pm->forwarded, um->forwarded, sc->forwarded, 0);
    pass->via = PICK3(pm->via, um->via, sc->via, 0);
}

/* Do two resolved upstreams open the same kind of connections? */
static int same_pool(const h2gw_upstream_t *a, const h2gw_upstream_t *b)
{
    const h2gw_server_conf_t *sa = (const h2gw_server_conf_t *)a->servers->elts;
    const h2gw_server_conf_t *sb = (const h2gw_server_conf_t *)b->servers->elts;

    if (sa->tls || sb->tls) {
        return 0;  /* TLS settings differ in ways not worth comparing */
    }
    return !strcmp(sa->scheme, sb->scheme) && !strcmp(sa->host, sb->host)
           && sa->port == sb->port && a->lb == b->lb
           && a->max_conns == b->max_conns
           && a->max_streams == b->max_streams
           && a->connect_timeout == b->connect_timeout
           && a->queue_timeout == b->queue_timeout && a->retry == b->retry
           && a->max_lifetime == b->max_lifetime
           && a->max_requests == b->max_requests && a->ping == b->ping
           && a->idle_timeout == b->idle_timeout
           && a->settings_timeout == b->settings_timeout
           && a->stream_window == b->stream_window
           && a->conn_window == b->conn_window
           && a->max_frame_size == b->max_frame_size
           && a->header_table_size == b->header_table_size
           && a->max_header_list == b->max_header_list;
}

/* Implicit upstreams (an H2GWPass with a server URL) are named after the
 * server; those with the same server and pool values share one pool; one
 * with other values is told apart by its pass's prefix. */
static void name_implicit(apr_pool_t *p, h2gw_upstream_t *up, int idx,
                          const char *prefix)
{
    const h2gw_server_conf_t *sv = (const h2gw_server_conf_t *)up->servers->elts;
    const char *base = apr_pstrcat(p, sv->scheme, "://", sv->authority, NULL);
    int j, taken = 0;

    for (j = 0; j < idx; ++j) {
        h2gw_upstream_t *o = APR_ARRAY_IDX(all_upstreams, j,
                                           h2gw_upstream_t *);

        if (o->named || o->same_as) {
            continue;
        }
        if (same_pool(o, up)) {
            up->same_as = o;
            up->name = o->name;
            return;
        }
        if (!strcmp(o->name, base)) {
            taken = 1;
        }
    }
    up->name = taken ? apr_pstrcat(p, base, " (H2GWPass ", prefix, ")", NULL)
                     : base;
}

int h2gw_config_check(apr_pool_t *pconf, server_rec *s)
{
    int i, j, bad = 0;

    if (!all_upstreams) {
        return OK;
    }
    for (i = 0; i < all_upstreams->nelts; ++i) {
        h2gw_upstream_t *up = APR_ARRAY_IDX(all_upstreams, i,
                                            h2gw_upstream_t *);

        resolve_upstream(up);
        up->same_as = NULL;
        for (j = 0; j < up->servers->nelts; ++j) {
            if (APR_ARRAY_IDX(up->servers, j, h2gw_server_conf_t).tls) {
                break;
            }
        }
        up->ssl_ctx = NULL;
        if (j < up->servers->nelts) {
            const char *err = h2gw_tls_ctx_create(pconf, &up->params.tls,
                                                  &up->ssl_ctx);

            if (err) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                             "%s: %s (upstream %s, on line %d of %s)",
                             up->named ? "H2GWUpstream" : "H2GWPass", err,
                             up->name, up->line, up->file);
                bad = 1;
            }
        }
    }
    for (i = 0; i < all_passes->nelts; ++i) {
        h2gw_pass_t *pass = APR_ARRAY_IDX(all_passes, i, h2gw_pass_t *);

        if (!pass->upstream_name) {
            int idx;

            for (idx = 0; idx < all_upstreams->nelts; ++idx) {
                if (APR_ARRAY_IDX(all_upstreams, idx, h2gw_upstream_t *)
                    == pass->upstream) {
                    break;
                }
            }
            name_implicit(pconf, pass->upstream, idx, pass->prefix);
        }
    }
    for (i = 0; i < all_passes->nelts; ++i) {
        h2gw_pass_t *pass = APR_ARRAY_IDX(all_passes, i, h2gw_pass_t *);

        if (pass->upstream_name) {
            pass->upstream = NULL;
            for (j = 0; j < all_upstreams->nelts; ++j) {
                h2gw_upstream_t *up = APR_ARRAY_IDX(all_upstreams, j,
                                                    h2gw_upstream_t *);

                if (up->named && !strcmp(up->name, pass->upstream_name)) {
                    pass->upstream = up;
                    break;
                }
            }
            if (!pass->upstream) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                             "H2GWPass: unknown upstream '%s' in '%s' (no "
                             "H2GWUpstream of that name) on line %d of %s",
                             pass->upstream_name, pass->url, pass->line,
                             pass->file);
                bad = 1;
                continue;
            }
        }
        resolve_pass(pass);
        if (pass->upstream->same_as) {
            pass->target.upstream = pass->upstream->same_as;
        }
    }
    return bad ? !OK : OK;
}

void h2gw_config_route(request_rec *r, const h2gw_pass_t *pass,
                       h2gw_route_t *route)
{
    h2gw_srv_conf_t *sc = ap_get_module_config(r->server->module_config,
                                               &h2gw_module);

    route->pass = pass;
    route->target = pass->target;
    route->request_buffer = pass->request_buffer;
    route->preserve_host = pass->preserve_host;
    route->reverse = pass->reverse;
    route->add_headers = sc->add_headers != UNSET ? sc->add_headers : 1;
    route->forwarded = pass->forwarded;
    route->via = pass->via;
}
