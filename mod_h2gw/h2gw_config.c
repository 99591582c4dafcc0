/*
 * h2gw_config: directives and configuration records. Directive handlers
 * validate everything they are given, so that a bad value stops the
 * configuration test with a message naming the directive, file and line.
 * Parameters (key=value) and the directives that set the same values for
 * a server are parsed by the table of h2gw_params; what the configuration
 * means once read (values in force, shared pools, warnings) is
 * h2gw_config_check's.
 */
#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_lib.h>
#include <apr_fnmatch.h>
#include <http_core.h>
#include <http_request.h>
#include <util_cfgtree.h>

#include "mod_h2gw.h"
#include "h2gw_config.h"

APLOG_USE_MODULE(h2gw);

#define UNSET H2GW_PARAM_UNSET

void *h2gw_config_create_srv(apr_pool_t *p, server_rec *s)
{
    h2gw_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->passes = apr_array_make(p, 4, sizeof(h2gw_pass_t *));
    h2gw_params_init(&conf->params);
    conf->add_headers = UNSET;
    return conf;
}

void *h2gw_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    h2gw_srv_conf_t *base = basev, *add = addv;
    h2gw_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));
    const h2gw_params_t *layers[2] = {&add->params, &base->params};

    /* A virtual host's passes come first; the main server's apply after. */
    conf->passes = apr_array_append(p, add->passes, base->passes);
    /* Its directives, else the main server's; defaults come later (a
     * pass's parameter comes first). */
    h2gw_params_merge(&conf->params, layers, 2);
    conf->add_headers = add->add_headers != UNSET ? add->add_headers
                                                  : base->add_headers;
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

static h2gw_srv_conf_t *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &h2gw_module);
}

/* tls-ca= and the like: relative to ServerRoot, as httpd's own paths. */
static const char *server_path(apr_pool_t *p, const char *val)
{
    return ap_server_root_relative(p, val);
}

static const char *parse_param(apr_pool_t *p, const char *dir,
                               h2gw_params_t *pm, const char *word)
{
    return h2gw_params_parse(p, dir, pm, word, server_path);
}

/* The health-check parameters of one directive fit together: the others
 * need health-check=, health-status= an HTTP check. */
static const char *check_health_params(apr_pool_t *p, const char *dir,
                                       const h2gw_params_t *pm)
{
    const char *key = h2gw_params_first(pm, H2GW_PARAM_HEALTH);

    if (key && !pm->health_check) {
        return apr_psprintf(p, "%s: '%s' needs health-check= (the check "
                            "to run: /path, grpc or grpc:SERVICE)", dir,
                            key);
    }
    if (pm->health_status && pm->health_check
        && *pm->health_check != '/') {
        return apr_psprintf(p, "%s: health-status= is for health-check="
                            "/path; a gRPC check passes on SERVING", dir);
    }
    return NULL;
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

const apr_array_header_t *h2gw_config_passes(void)
{
    return all_passes;
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
    h2gw_params_init(&up->params);
    up->servers = apr_array_make(cmd->pool, 2, sizeof(h2gw_server_conf_t));
    APR_ARRAY_PUSH(all_upstreams, h2gw_upstream_t *) = up;
    return up;
}

/*
 * Splits a directive's raw arguments into words, each word as many as it
 * needs (httpd's TAKE_ARGV stops at 64 and leaves the rest unseen). A
 * quoted part may stand anywhere in a word, so that `tls-ca="/a b/ca.pem"`
 * is the word tls-ca=/a b/ca.pem; inside quotes a backslash escapes the
 * quote or itself, as in httpd's own quoting. Returns NULL and the words
 * (char *) in *pwords, or the error.
 */
static const char *split_words(apr_pool_t *p, const char *dir,
                               const char *line, apr_array_header_t **pwords)
{
    apr_array_header_t *words = apr_array_make(p, 8, sizeof(char *));

    for (;;) {
        char *w, *o;
        char quote = 0;

        while (*line && apr_isspace(*line)) {
            ++line;
        }
        if (!*line) {
            break;
        }
        o = w = apr_palloc(p, strlen(line) + 1);
        while (*line && (quote || !apr_isspace(*line))) {
            if (quote && *line == '\\'
                && (line[1] == quote || line[1] == '\\')) {
                *o++ = line[1];
                line += 2;
            }
            else if (quote && *line == quote) {
                quote = 0;
                ++line;
            }
            else if (!quote && (*line == '"' || *line == '\'')) {
                quote = *line++;
            }
            else {
                *o++ = *line++;
            }
        }
        if (quote) {
            return apr_psprintf(p, "%s: unbalanced %c quote", dir, quote);
        }
        *o = '\0';
        APR_ARRAY_PUSH(words, char *) = w;
    }
    *pwords = words;
    return NULL;
}

/* tls-* parameters only mean something for h2:// servers: on an
 * upstream without one they are a mistake (a forgotten scheme), not
 * something to ignore. */
static const char *check_tls_params(apr_pool_t *p, const char *dir,
                                    const h2gw_params_t *pm,
                                    const apr_array_header_t *servers)
{
    const char *key = h2gw_params_first(pm, H2GW_PARAM_TLS);
    int i;

    if (!key) {
        return NULL;
    }
    for (i = 0; i < servers->nelts; ++i) {
        if (APR_ARRAY_IDX(servers, i, h2gw_server_conf_t).tls) {
            return NULL;
        }
    }
    return apr_psprintf(p, "%s: '%s' is a TLS parameter, but no server "
                        "is h2:// (h2c:// is cleartext)", dir, key);
}

/* H2GWUpstream NAME h2c://host:port ... [key=value ...] */
static const char *cmd_upstream(cmd_parms *cmd, void *dconf, const char *args)
{
    apr_array_header_t *words;
    char **argv;
    int argc;
    const char *err, *path;
    h2gw_upstream_t *up;
    int i;

    if ((err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE)) != NULL) {
        return err;
    }
    if ((err = split_words(cmd->pool, "H2GWUpstream", args, &words))
        != NULL) {
        return err;
    }
    argc = words->nelts;
    argv = (char **)words->elts;
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
    if ((err = check_health_params(cmd->pool, "H2GWUpstream", &up->params))
        != NULL) {
        return err;
    }
    return check_tls_params(cmd->pool, "H2GWUpstream", &up->params,
                            up->servers);
}

/* The prefix of an H2GWPass inside <Location>: the section's path, which
 * is cut off the request's path; a pattern has no length to cut. */
static const char *location_prefix(cmd_parms *cmd, const char **prefix)
{
    const ap_directive_t *parent = cmd->directive->parent;
    const char *pargs = parent ? parent->args : "";

    while (apr_isspace(*pargs)) {
        ++pargs;
    }
    if ((parent && !strcasecmp(parent->directive, "<LocationMatch"))
        || *pargs == '~') {
        return apr_psprintf(cmd->pool, "H2GWPass: not allowed in a "
                            "regular expression <Location> (%s): use "
                            "a path prefix, <Location /prefix/>",
                            cmd->path);
    }
    if (apr_fnmatch_test(cmd->path)) {
        return apr_psprintf(cmd->pool, "H2GWPass: not allowed in a "
                            "wildcard <Location %s>: use a path prefix, "
                            "<Location /prefix/>", cmd->path);
    }
    *prefix = cmd->path;
    return NULL;
}

/* The upstream of a pass whose parameters are parsed: a named one
 * (upstream://NAME/path, found by h2gw_config_check(), which takes no
 * pool parameters from the pass), or one of its own for a server URL,
 * which takes them all. */
static const char *pass_upstream(cmd_parms *cmd, h2gw_pass_t *pass)
{
    h2gw_upstream_t *up;
    h2gw_server_conf_t *sv;
    const char *err;

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
        key = h2gw_params_first(&pass->params, H2GW_PARAM_POOL);
        if (key) {
            return apr_psprintf(cmd->pool, "H2GWPass: '%s' belongs to the "
                                "connections of upstream '%s': give it on "
                                "its H2GWUpstream line", key,
                                pass->upstream_name);
        }
        return NULL;
    }
    up = upstream_new(cmd, pass->url, 0);
    sv = apr_array_push(up->servers);
    if ((err = parse_server_url(cmd->pool, "H2GWPass", pass->url, sv,
                                &pass->base_path)) != NULL
        || (err = check_tls_params(cmd->pool, "H2GWPass", &pass->params,
                                   up->servers)) != NULL
        || (err = check_health_params(cmd->pool, "H2GWPass",
                                      &pass->params)) != NULL) {
        return err;
    }
    up->params = pass->params;
    pass->upstream = up;
    return NULL;
}

/* H2GWPass /prefix/ URL [key=value ...]   (server)
 * H2GWPass URL [key=value ...]            (<Location>)
 * URL: h2c://host:port/path, or upstream://NAME/path. */
static const char *cmd_pass(cmd_parms *cmd, void *dconf, const char *args)
{
    h2gw_pass_t *pass;
    apr_array_header_t *words;
    char **argv;
    const char *err;
    int argc, i = 0;
    int in_location = (cmd->path != NULL);

    if ((err = split_words(cmd->pool, "H2GWPass", args, &words)) != NULL) {
        return err;
    }
    argc = words->nelts;
    argv = (char **)words->elts;

    if (in_location && cmd->directive->parent
        && strcasecmp(cmd->directive->parent->directive, "<Location")
        && strcasecmp(cmd->directive->parent->directive, "<LocationMatch")) {
        return "H2GWPass: only allowed at server level or in <Location>";
    }
    if (argc < (in_location ? 1 : 2)) {
        return in_location ? "H2GWPass: needs an upstream URL"
                           : "H2GWPass: needs a path prefix and an upstream "
                             "URL (or use it inside <Location>)";
    }
    pass = apr_pcalloc(cmd->pool, sizeof(*pass));
    h2gw_params_init(&pass->params);
    pass->file = cmd->directive->filename;
    pass->line = cmd->directive->line_num;
    pass->server = cmd->server;
    pass->in_location = in_location;
    if (in_location) {
        if ((err = location_prefix(cmd, &pass->prefix)) != NULL) {
            return err;
        }
    }
    else if (argv[0][0] != '/') {
        return apr_psprintf(cmd->pool, "H2GWPass: path prefix '%s' must "
                            "start with '/'", argv[0]);
    }
    else {
        pass->prefix = argv[i++];
    }
    pass->url = argv[i++];
    for (; i < argc; ++i) {
        if ((err = parse_param(cmd->pool, "H2GWPass", &pass->params,
                               argv[i])) != NULL) {
            return err;
        }
    }
    if ((err = pass_upstream(cmd, pass)) != NULL) {
        return err;
    }
    if (in_location) {
        h2gw_dir_conf_t *dc = dconf;

        if (dc->pass) {
            return "H2GWPass: given twice in one <Location>";
        }
        dc->pass = pass;
    }
    else {
        APR_ARRAY_PUSH(srv_conf(cmd)->passes, h2gw_pass_t *) = pass;
    }
    APR_ARRAY_PUSH(all_passes, h2gw_pass_t *) = pass;
    return NULL;
}

/* A directive that sets a parameter for the server (cmd->info: its
 * name), parsed as the parameter, its messages named after the
 * directive. */
static const char *cmd_param(cmd_parms *cmd, void *dc, const char *arg)
{
    return h2gw_params_parse_value(cmd->pool, cmd->cmd->name,
                                   &srv_conf(cmd)->params, cmd->info, arg,
                                   server_path);
}

/* The same for an On|Off directive (httpd checks the word). */
static const char *cmd_param_flag(cmd_parms *cmd, void *dc, int flag)
{
    return cmd_param(cmd, dc, flag ? "on" : "off");
}

static const char *cmd_add_headers(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->add_headers = flag;
    return NULL;
}

const command_rec h2gw_config_cmds[] = {
    AP_INIT_RAW_ARGS("H2GWPass", cmd_pass, NULL, RSRC_CONF | ACCESS_CONF,
                      "[/prefix] h2c://host[:port][/path] | "
                      "upstream://NAME[/path] [key=value ...]: proxy "
                      "requests under the prefix to an HTTP/2 upstream"),
    AP_INIT_RAW_ARGS("H2GWUpstream", cmd_upstream, NULL, RSRC_CONF,
                      "NAME h2c://host[:port] ... [key=value ...]: a named "
                      "upstream of one or more servers"),
    AP_INIT_TAKE1("H2GWTimeout", cmd_param,
                  (void *)"timeout", RSRC_CONF,
                  "seconds to wait for upstream response headers"),
    AP_INIT_TAKE1("H2GWConnectTimeout", cmd_param,
                  (void *)"connect-timeout", RSRC_CONF,
                  "seconds to wait for an upstream connection"),
    AP_INIT_TAKE1("H2GWStreamWindow", cmd_param,
                  (void *)"window", RSRC_CONF,
                  "HTTP/2 stream window: response bytes buffered per request"),
    AP_INIT_TAKE1("H2GWConnWindow", cmd_param,
                  (void *)"conn-window", RSRC_CONF,
                  "HTTP/2 connection window per upstream connection"),
    AP_INIT_TAKE1("H2GWRequestBuffer", cmd_param,
                  (void *)"request-buffer", RSRC_CONF,
                  "request body bytes buffered per request"),
    AP_INIT_FLAG("H2GWPreserveHost", cmd_param_flag,
                  (void *)"preserve-host", RSRC_CONF,
                 "send the client's Host as :authority"),
    AP_INIT_FLAG("H2GWForwarded", cmd_param_flag,
                  (void *)"forwarded", RSRC_CONF,
                 "add an RFC 7239 Forwarded field (for, host, proto)"),
    AP_INIT_FLAG("H2GWVia", cmd_param_flag,
                  (void *)"via", RSRC_CONF,
                 "add a Via field to requests and responses"),
    AP_INIT_FLAG("H2GWAddHeaders", cmd_add_headers, NULL, RSRC_CONF,
                 "add X-Forwarded-For, -Host and -Server"),
    AP_INIT_FLAG("H2GWGrpcWeb", cmd_param_flag,
                  (void *)"grpc-web", RSRC_CONF,
                 "translate gRPC-Web requests to gRPC (grpc-web= default)"),
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

/* A gRPC client's deadline (grpc-timeout) is its wait for the response
 * headers, in place of timeout=, up to max: a server sends its headers
 * with the first message, so a unary call lasts until then and may take
 * longer than any fixed timeout, as long as the client allows it. */
static void grpc_deadline(request_rec *r, apr_interval_time_t max,
                          h2gw_target_t *t)
{
    const char *v = apr_table_get(r->headers_in, "grpc-timeout");
    apr_interval_time_t deadline;

    if (!v || max <= 0 || (deadline = h2gw_headers_grpc_timeout(v)) < 0) {
        return;
    }
    t->timeout = deadline < max ? deadline : max;
    if (t->timeout < 1) {
        t->timeout = 1;  /* an expired deadline: no wait at all */
    }
}

void h2gw_config_route(request_rec *r, const h2gw_pass_t *pass,
                       h2gw_route_t *route)
{
    /* Values of the request: the pass's parameter, then its upstream's,
     * then the directive of the server that handles the request (a
     * virtual host's own, or what it inherits), then the default; a pass
     * inherited from the main server thus behaves as the virtual host is
     * configured, as mod_proxy's ProxyPreserveHost does. */
    h2gw_srv_conf_t *sc = ap_get_module_config(r->server->module_config,
                                               &h2gw_module);
    const h2gw_params_t *layers[3] = {&pass->params,
                                      &pass->upstream->params, &sc->params};
    h2gw_params_t v;
    h2gw_target_t *t = &route->target;

    h2gw_params_resolve(&v, layers, 3);
    route->pass = pass;
    *t = pass->target;
    t->timeout = v.timeout;
    t->read_timeout = v.read_timeout;
    route->request_buffer = (apr_size_t)v.request_buffer;
    route->preserve_host = v.preserve_host;
    route->reverse = pass->reverse;
    route->add_headers = sc->add_headers != UNSET ? sc->add_headers : 1;
    route->forwarded = v.forwarded;
    route->via = v.via;
    route->grpc_web = v.grpc_web;
    route->grpc_web_origins = v.grpc_web_origins;
    route->grpc_web_expose = v.grpc_web_expose;
    grpc_deadline(r, v.grpc_timeout_max, t);
}
