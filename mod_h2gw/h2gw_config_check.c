/*
 * h2gw_config_check: what the configuration means once it is all read.
 * Resolves every upstream's and pass's values in force (h2gw_params),
 * lets implicit upstreams with the same server and pool values share one
 * pool, builds the TLS contexts, and warns of passes that load but cannot
 * work as meant (shadowed, ProxyPass on the same path, mismatched
 * trailing slashes, windows that can stall a connection). The directives
 * themselves are parsed by h2gw_config.
 */
#include <apr_strings.h>
#include <apr_hash.h>
#include <http_core.h>
#include <util_cfgtree.h>

#include "mod_h2gw.h"
#include "h2gw_config.h"

APLOG_USE_MODULE(h2gw);

/* The health check in force: none without health-check=. */
static void resolve_health(h2gw_upstream_t *up)
{
    const h2gw_params_t *v = &up->in_force;
    const char *hc = v->health_check;

    up->hc_kind = !hc ? H2GW_HC_NONE
                  : *hc == '/' ? H2GW_HC_HTTP : H2GW_HC_GRPC;
    up->hc_path = !hc ? NULL : *hc == '/' ? hc : H2GW_GRPC_HEALTH_PATH;
    up->hc_service = hc && *hc != '/' ? (hc[4] == ':' ? hc + 5 : "")
                                      : NULL;
    up->hc_interval = v->health_interval;
    up->hc_timeout = v->health_timeout;
    up->hc_fails = v->health_fails;
    up->hc_passes = v->health_passes;
    up->hc_status = v->health_status;
}

/* The values of the upstream's connections: its parameter, then the
 * directive of the server that declared it, then the default; copied
 * into the fields the engine reads. */
static void resolve_upstream(h2gw_upstream_t *up)
{
    h2gw_srv_conf_t *sc = ap_get_module_config(up->server->module_config,
                                               &h2gw_module);
    const h2gw_params_t *layers[2] = {&up->params, &sc->params};
    const h2gw_params_t *v = &up->in_force;

    h2gw_params_resolve(&up->in_force, layers, 2);
    up->lb = (h2gw_lb_t)v->lb;
    up->max_conns = v->max_conns;
    up->max_streams = v->max_streams;
    up->connect_timeout = v->connect_timeout;
    up->queue_timeout = v->queue_timeout;
    up->retry = v->retry;
    up->max_lifetime = v->max_lifetime;
    up->max_requests = v->max_requests;
    up->ping = v->ping;
    up->idle_timeout = v->idle_timeout;
    up->settings_timeout = v->settings_timeout;
    up->resolve = v->resolve;
    up->stream_window = (int32_t)v->stream_window;
    up->conn_window = (int32_t)v->conn_window;
    up->max_frame_size = (uint32_t)v->max_frame_size;
    up->header_table_size = (uint32_t)v->header_table_size;
    up->max_header_list = (uint32_t)v->max_header_list;
    resolve_health(up);
}

/* What a pass fixes at startup: its parameter, then its upstream's, then
 * the default; the values that depend on the server handling the
 * request are picked by h2gw_config_route(). */
static void resolve_pass(h2gw_pass_t *pass)
{
    const h2gw_params_t *layers[2] = {&pass->params,
                                      &pass->upstream->params};
    h2gw_params_t v;
    h2gw_target_t *t = &pass->target;

    h2gw_params_resolve(&v, layers, 2);
    t->upstream = pass->upstream;
    t->retry_idempotent = v.retry_idempotent;
    t->name = pass->upstream->name;
    t->retries = v.retries;
    pass->reverse = v.reverse;
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
           && sa->port == sb->port
           && h2gw_params_same_pool(&a->in_force, &b->in_force);
}

/* Implicit upstreams (an H2GWPass with a server URL) are named after the
 * server; those with the same server and pool values share one pool; one
 * with other values is told apart by its pass's prefix. */
static void name_implicit(apr_pool_t *p, h2gw_upstream_t *up, int idx,
                          const char *prefix)
{
    const h2gw_server_conf_t *sv = (const h2gw_server_conf_t *)up->servers->elts;
    const char *base = apr_pstrcat(p, sv->scheme, "://", sv->authority, NULL);
    const apr_array_header_t *ups = h2gw_config_upstreams();
    int j, taken = 0;

    for (j = 0; j < idx; ++j) {
        h2gw_upstream_t *o = APR_ARRAY_IDX(ups, j, h2gw_upstream_t *);

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

#define WARN(s, ...)                                                       \
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, s,         \
                 __VA_ARGS__)

/* Does path start with prefix? */
static int has_prefix(const char *path, const char *prefix)
{
    return !strncmp(path, prefix, strlen(prefix));
}

static int ends_with_slash(const char *s)
{
    return *s && s[strlen(s) - 1] == '/';
}

/* Tells once that `later` never matches because `first` claims its
 * paths. */
static void warn_pair(apr_hash_t *told, const h2gw_pass_t *first,
                      const h2gw_pass_t *later, server_rec *s)
{
    const char *key = apr_psprintf(apr_hash_pool_get(told), "%pp %pp",
                                   first, later);

    if (!apr_hash_get(told, key, APR_HASH_KEY_STRING)) {
        apr_hash_set(told, key, APR_HASH_KEY_STRING, "");
        WARN(s, "H2GWPass %s on line %d of %s never matches: H2GWPass %s "
             "on line %d of %s claims its paths first", later->prefix,
             later->line, later->file, first->prefix, first->line,
             first->file);
    }
}

/* Server-level passes are tried in order, and before any <Location>
 * one: a pass whose prefix an earlier one (or, for a <Location> pass,
 * any server-level one) already covers never sees a request. Each pair
 * is told once, though the main server's passes reappear in every
 * virtual host's list. */
static void warn_shadowed(apr_pool_t *p, server_rec *s)
{
    const apr_array_header_t *passes = h2gw_config_passes();
    apr_hash_t *told = apr_hash_make(p);
    server_rec *sv;
    int i, j;

    for (sv = s; sv; sv = sv->next) {
        const apr_array_header_t *list = ((h2gw_srv_conf_t *)
            ap_get_module_config(sv->module_config, &h2gw_module))->passes;

        for (j = 0; j < list->nelts; ++j) {
            const h2gw_pass_t *later = APR_ARRAY_IDX(list, j, h2gw_pass_t *);

            for (i = 0; i < j; ++i) {
                const h2gw_pass_t *first = APR_ARRAY_IDX(list, i,
                                                         h2gw_pass_t *);

                if (has_prefix(later->prefix, first->prefix)) {
                    warn_pair(told, first, later, s);
                    break;
                }
            }
        }
        for (j = 0; j < passes->nelts; ++j) {
            const h2gw_pass_t *loc = APR_ARRAY_IDX(passes, j,
                                                   h2gw_pass_t *);

            if (!loc->in_location || loc->server != sv) {
                continue;
            }
            for (i = 0; i < list->nelts; ++i) {
                const h2gw_pass_t *first = APR_ARRAY_IDX(list, i,
                                                         h2gw_pass_t *);

                if (has_prefix(loc->prefix, first->prefix)) {
                    warn_pair(told, first, loc, s);
                    break;
                }
            }
        }
    }
}

/* The ProxyPass trap: "/api" to ".../" sends /api/x upstream as //x,
 * "/api/" to ".../v1" sends /api/x as /v1x. */
static void warn_slashes(apr_pool_t *p, server_rec *s,
                         const h2gw_pass_t *pass)
{
    int pslash = ends_with_slash(pass->prefix);
    const char *client;

    if (pslash == ends_with_slash(pass->base_path)) {
        return;
    }
    client = apr_pstrcat(p, pass->prefix, pslash ? "x" : "/x", NULL);
    WARN(s, "H2GWPass %s on line %d of %s: the prefix ends %s '/' and "
         "the upstream path %s does %s, so %s goes upstream as %s%s; end "
         "both with '/' or neither", pass->prefix, pass->line, pass->file,
         pslash ? "with" : "without", pass->base_path,
         pslash ? "not" : "so", client, pass->base_path,
         client + strlen(pass->prefix));
}

/* Collects the paths that mod_proxy's ProxyPass claims anywhere in the
 * configuration: the first word at server level, the section's path
 * inside <Location>. (The tree, not mod_proxy's records: nothing here
 * depends on mod_proxy being loaded or on its structures.) */
static void proxypass_paths(apr_pool_t *p, const ap_directive_t *d,
                            apr_array_header_t *out)
{
    for (; d; d = d->next) {
        if (!strcasecmp(d->directive, "ProxyPass") && d->args) {
            const char *args = d->args;
            const char *path;

            if (d->parent && !strcasecmp(d->parent->directive, "<Location")) {
                const char *pa = d->parent->args;

                path = ap_getword_conf(p, &pa);
                if (*path && path[strlen(path) - 1] == '>') {
                    path = apr_pstrmemdup(p, path, strlen(path) - 1);
                }
            }
            else {
                path = ap_getword_conf(p, &args);
            }
            APR_ARRAY_PUSH(out, const ap_directive_t *) = d;
            APR_ARRAY_PUSH(out, const char *) = path;
        }
        if (d->first_child) {
            proxypass_paths(p, d->first_child, out);
        }
    }
}

static void warn_proxypass(apr_pool_t *p, server_rec *s)
{
    const apr_array_header_t *passes = h2gw_config_passes();
    apr_array_header_t *pp = apr_array_make(p, 4, sizeof(void *));
    int i, j;

    proxypass_paths(p, ap_conftree, pp);
    for (i = 0; i + 1 < pp->nelts; i += 2) {
        const ap_directive_t *d = APR_ARRAY_IDX(pp, i, const ap_directive_t *);
        const char *path = APR_ARRAY_IDX(pp, i + 1, const char *);

        for (j = 0; j < passes->nelts; ++j) {
            const h2gw_pass_t *pass = APR_ARRAY_IDX(passes, j,
                                                    h2gw_pass_t *);

            if (!strcmp(pass->prefix, path)) {
                WARN(s, "H2GWPass %s on line %d of %s and ProxyPass on "
                     "line %d of %s claim the same path: H2GWPass takes "
                     "the requests", pass->prefix, pass->line, pass->file,
                     d->line_num, d->filename);
            }
        }
    }
}

/* A stream that is not read holds up to its window of the connection's;
 * when max-streams of them fit in more than the connection window, a few
 * slow clients stall every stream on the connection. */
static void warn_windows(server_rec *s, const h2gw_upstream_t *up)
{
    /* A stream's unread bytes hold the connection window too, and the
     * window that was read comes back only once half of it was (nghttp2
     * sends the connection's WINDOW_UPDATE at half): streams holding
     * more than half of it in all can leave none for the others. */
    if ((apr_int64_t)up->stream_window * up->max_streams
        > (apr_int64_t)up->conn_window / 2) {
        WARN(s, "%s %s on line %d of %s: window (%d) x max-streams (%d) "
             "is more than half of conn-window (%d): a few responses that "
             "clients read slowly can stall every stream of a connection",
             up->named ? "H2GWUpstream" : "H2GWPass", up->name, up->line,
             up->file, (int)up->stream_window, up->max_streams,
             (int)up->conn_window);
    }
}

/* Resolves up's values and builds its TLS context when a server is
 * h2://. Returns 0, or 1 after logging why the context failed. */
static int check_upstream(apr_pool_t *pconf, server_rec *s,
                          h2gw_upstream_t *up)
{
    const char *err;
    int j;

    resolve_upstream(up);
    up->same_as = NULL;
    up->ssl_ctx = NULL;
    for (j = 0; j < up->servers->nelts; ++j) {
        if (APR_ARRAY_IDX(up->servers, j, h2gw_server_conf_t).tls) {
            break;
        }
    }
    if (j == up->servers->nelts) {
        return 0;
    }
    err = h2gw_tls_ctx_create(pconf, &up->params.tls, &up->ssl_ctx);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     "%s: %s (upstream %s, on line %d of %s)",
                     up->named ? "H2GWUpstream" : "H2GWPass", err, up->name,
                     up->line, up->file);
        return 1;
    }
    return 0;
}

/* Names the implicit upstream of every pass with a server URL, in
 * configuration order (the first of equal ones keeps the name). */
static void name_implicits(apr_pool_t *pconf)
{
    const apr_array_header_t *ups = h2gw_config_upstreams();
    const apr_array_header_t *passes = h2gw_config_passes();
    int i, idx;

    for (i = 0; i < passes->nelts; ++i) {
        h2gw_pass_t *pass = APR_ARRAY_IDX(passes, i, h2gw_pass_t *);

        if (pass->upstream_name) {
            continue;
        }
        for (idx = 0; idx < ups->nelts; ++idx) {
            if (APR_ARRAY_IDX(ups, idx, h2gw_upstream_t *)
                == pass->upstream) {
                break;
            }
        }
        name_implicit(pconf, pass->upstream, idx, pass->prefix);
    }
}

/* The H2GWUpstream an upstream:// pass names. Returns 0, or 1 after
 * logging that there is none of that name. */
static int find_named(server_rec *s, h2gw_pass_t *pass)
{
    const apr_array_header_t *ups = h2gw_config_upstreams();
    int j;

    pass->upstream = NULL;
    for (j = 0; j < ups->nelts; ++j) {
        h2gw_upstream_t *up = APR_ARRAY_IDX(ups, j, h2gw_upstream_t *);

        if (up->named && !strcmp(up->name, pass->upstream_name)) {
            pass->upstream = up;
            return 0;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                 "H2GWPass: unknown upstream '%s' in '%s' (no "
                 "H2GWUpstream of that name) on line %d of %s",
                 pass->upstream_name, pass->url, pass->line, pass->file);
    return 1;
}

int h2gw_config_check(apr_pool_t *pconf, server_rec *s)
{
    const apr_array_header_t *ups = h2gw_config_upstreams();
    const apr_array_header_t *passes = h2gw_config_passes();
    int i, bad = 0;

    if (!ups) {
        return OK;
    }
    for (i = 0; i < ups->nelts; ++i) {
        bad |= check_upstream(pconf, s,
                              APR_ARRAY_IDX(ups, i, h2gw_upstream_t *));
    }
    name_implicits(pconf);
    for (i = 0; i < passes->nelts; ++i) {
        h2gw_pass_t *pass = APR_ARRAY_IDX(passes, i, h2gw_pass_t *);

        if (pass->upstream_name && find_named(s, pass)) {
            bad = 1;
            continue;
        }
        resolve_pass(pass);
        if (pass->upstream->same_as) {
            pass->target.upstream = pass->upstream->same_as;
        }
        warn_slashes(pconf, s, pass);
    }
    for (i = 0; i < ups->nelts; ++i) {
        h2gw_upstream_t *up = APR_ARRAY_IDX(ups, i, h2gw_upstream_t *);

        if (!up->same_as) {
            warn_windows(s, up);
        }
    }
    warn_shadowed(pconf, s);
    warn_proxypass(pconf, s);
    return bad ? !OK : OK;
}
