/*
 * h2gw_server: one server of an upstream, on the engine thread: its
 * addresses, down and up, its gauges; and the engine loop's timer.
 */
#include <apr_strings.h>

#include "mod_h2gw.h"
#include "h2gw_server.h"
#include "h2gw_resolve.h"

APLOG_USE_MODULE(h2gw);

void h2gw_loop_timer(h2gw_loop_t *loop, apr_time_t t)
{
    if (t && (!loop->next_timer || t < loop->next_timer)) {
        loop->next_timer = t;
    }
}

void h2gw_server_init(h2gw_server_t *sv, struct h2gw_pool_t *pool,
                      h2gw_loop_t *loop, const h2gw_upstream_t *up, int i)
{
    sv->pool = pool;
    sv->up = up;
    sv->loop = loop;
    sv->conf = &APR_ARRAY_IDX(up->servers, i, h2gw_server_conf_t);
    /* Counted in this child's slot, read by every child; an upstream
     * without one (no slot; the fuzz target) counts on its own. */
    if (loop->slot && up->cidx >= 0) {
        sv->c = &loop->slot->sv[h2gw_counters_server(up, i)];
        sv->g = &loop->slot->g[h2gw_counters_server(up, i)];
    }
    else {
        sv->c = apr_pcalloc(loop->pool, sizeof(*sv->c));
        sv->g = apr_pcalloc(loop->pool, sizeof(*sv->g));
    }
    apr_pool_create(&sv->addr_pool, loop->pool);
}

void h2gw_server_down(h2gw_server_t *sv, h2gw_fail_t fail,
                           const char *why)
{
    ++sv->c->conns_failed;
    sv->last_fail = fail;
    sv->last_error_at = apr_time_now();
    apr_cpystrn(sv->last_error, why, sizeof(sv->last_error));
    /* (A server out by its health checks had its line: the checks that
     * keep failing to connect to it say nothing new.) */
    if (sv->down_until <= sv->last_error_at && !sv->hc_down) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sv->loop->s,
                     H2GW_LOGNO(00105) "upstream %s: server %s is down "
                     "(%s); skipped for %" APR_TIME_T_FMT " ms",
                     sv->up->name, sv->conf->url, why,
                     apr_time_as_msec(sv->up->retry));
    }
    sv->down_until = sv->last_error_at + sv->up->retry;
    h2gw_server_gauges(sv);
}

int h2gw_server_down_since(const h2gw_server_t *sv, apr_time_t t)
{
    return sv->last_error_at >= t;
}

void h2gw_server_ready(h2gw_server_t *sv)
{
    sv->down_until = 0;
    sv->addr_fails = 0;
    h2gw_server_gauges(sv);
}

void h2gw_server_streams(h2gw_server_t *sv, int delta)
{
    sv->nstreams += delta;
    sv->g->streams_active = sv->nstreams;
}

void h2gw_server_probe_done(h2gw_server_t *sv)
{
    sv->probing = 0;
    /* The requests that waited for it are placed or failed now. */
    h2gw_loop_timer(sv->loop, apr_time_now());
}

apr_status_t h2gw_server_addrs(h2gw_server_t *sv)
{
    apr_status_t rv;

    if (sv->addr) {
        return APR_SUCCESS;
    }
    if (h2gw_server_resolve(sv)) {
        return APR_EAGAIN;  /* looked up off the engine thread */
    }
    /* An address literal (no lookup), or no resolver thread. */
    apr_pool_clear(sv->addr_pool);
    rv = apr_sockaddr_info_get(&sv->addr, sv->conf->host, APR_UNSPEC,
                               (apr_port_t)sv->conf->port, 0, sv->addr_pool);
    if (rv != APR_SUCCESS) {
        sv->addr = NULL;
        return rv;
    }
    sv->next_addr = sv->addr;
    sv->naddrs = 1;
    sv->resolved_at = apr_time_now();
    return APR_SUCCESS;
}

int h2gw_server_naddrs(const h2gw_server_t *sv)
{
    return sv->naddrs > 1 ? sv->naddrs : 1;
}

const apr_sockaddr_t *h2gw_server_next_addr(h2gw_server_t *sv)
{
    apr_sockaddr_t *addr = sv->next_addr ? sv->next_addr : sv->addr;

    sv->next_addr = addr->next ? addr->next : sv->addr;
    return addr;
}

int h2gw_server_addr_failed(h2gw_server_t *sv)
{
    if (++sv->addr_fails < sv->naddrs) {
        return 1;
    }
    sv->addr_fails = 0;
    return 0;
}

int h2gw_server_resolve(h2gw_server_t *sv)
{
    h2gw_loop_t *loop = sv->loop;

    if (!loop->resolver || h2gw_resolve_is_numeric(sv->conf->host)) {
        return 0;
    }
    if (!sv->resolving
        && h2gw_resolver_ask(loop->resolver, sv->conf->host,
                             (apr_port_t)sv->conf->port, sv)
               == APR_SUCCESS) {
        sv->resolving = 1;
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, loop->s,
                     "upstream %s: looking up %s", sv->conf->url,
                     sv->conf->host);
    }
    return sv->resolving;
}

void h2gw_server_resolved(h2gw_server_t *sv, h2gw_resolution_t *res)
{

    sv->resolving = 0;
    if (res->rv != APR_SUCCESS || !res->addrs) {
        char buf[120];

        apr_strerror(res->rv, buf, sizeof(buf));
        ap_log_error(APLOG_MARK, APLOG_WARNING, res->rv, sv->loop->s,
                     H2GW_LOGNO(00107) "upstream %s: cannot resolve %s%s",
                     sv->conf->url, sv->conf->host,
                     sv->addr ? ": the addresses found before stay" : "");
        if (!sv->addr) {
            h2gw_server_down(sv, H2GW_FAIL_CONNECT,
                                  apr_psprintf(sv->loop->pool,
                                               "cannot resolve %s: %s",
                                               sv->conf->host, buf));
        }
        apr_pool_destroy(res->pool);
    }
    else {
        int had = (sv->addr != NULL);

        /* Connections copy the address they use: the old list can go. */
        if (sv->res_pool) {
            apr_pool_destroy(sv->res_pool);
        }
        sv->res_pool = res->pool;
        sv->addr = sv->next_addr = res->addrs;
        sv->naddrs = res->naddrs;
        sv->addr_fails = 0;
        sv->resolved_at = apr_time_now();
        if (!had) {
            /* Down for want of addresses, if at all: they are worth a try
             * at once. (A server down for failed connects waits out
             * retry=, whatever a new lookup says.) */
            sv->down_until = 0;
            h2gw_server_gauges(sv);
        }
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, sv->loop->s,
                     "upstream %s: %s has %d address%s", sv->conf->url,
                     sv->conf->host, sv->naddrs, sv->naddrs == 1 ? "" : "es");
    }
}

void h2gw_server_destroy(h2gw_server_t *sv)
{
    if (sv->tls_session) {
        SSL_SESSION_free(sv->tls_session);
        sv->tls_session = NULL;
    }
    if (sv->res_pool) {
        apr_pool_destroy(sv->res_pool);
        sv->res_pool = NULL;
        sv->addr = sv->next_addr = NULL;
    }
}
