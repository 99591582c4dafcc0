/*
 * h2gw_metrics: the Prometheus text exposition (format 0.0.4) of the
 * shared counters. Every family is printed whole (# HELP, # TYPE, then
 * its samples), the counter families straight from the X-macro lists of
 * h2gw_counters.h, so a counter added there is exported here too.
 */
#include <stddef.h>

#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_h2gw.h"
#include "h2gw_config.h"
#include "h2gw_counters.h"
#include "h2gw_metrics.h"

APLOG_USE_MODULE(h2gw);

/* A label value as the format wants it: backslash, double quote and line
 * feed escaped (\\, \", \n); everything else, UTF-8 included, as is. */
static const char *label_value(apr_pool_t *p, const char *s)
{
    apr_size_t len = strlen(s), i;
    char *out = apr_palloc(p, 2 * len + 1), *o = out;

    for (i = 0; i < len; ++i) {
        if (s[i] == '\\' || s[i] == '"') {
            *o++ = '\\';
            *o++ = s[i];
        }
        else if (s[i] == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* What a family prints its samples with. */
typedef struct expo_t {
    request_rec *r;
    const apr_array_header_t *ups;  /* h2gw_upstream_t * */
    const h2gw_view_t *v;
    const char **up_labels;         /* upstream="..." by cidx */
    const char **sv_labels;         /* upstream="...",server="..." by
                                     * server index */
} expo_t;

static void family(request_rec *r, const char *name, const char *type,
                   const char *help)
{
    /* (The help texts are ours: no backslash or line feed to escape.) */
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void server_counter(const expo_t *x, const char *name,
                           const char *help, apr_size_t offset)
{
    int i, j;

    family(x->r, name, "counter", help);
    for (i = 0; i < x->ups->nelts; ++i) {
        const h2gw_upstream_t *up = APR_ARRAY_IDX(x->ups, i,
                                                  const h2gw_upstream_t *);

        for (j = 0; j < up->servers->nelts; ++j) {
            int k = h2gw_counters_server(up, j);
            const char *c = (const char *)&x->v->sv[k];

            ap_rprintf(x->r, "%s{%s} %" APR_UINT64_T_FMT "\n", name,
                       x->sv_labels[k], *(const apr_uint64_t *)(c + offset));
        }
    }
}

static void upstream_counter(const expo_t *x, const char *name,
                             const char *help, apr_size_t offset)
{
    int i;

    family(x->r, name, "counter", help);
    for (i = 0; i < x->ups->nelts; ++i) {
        const h2gw_upstream_t *up = APR_ARRAY_IDX(x->ups, i,
                                                  const h2gw_upstream_t *);
        const char *c = (const char *)&x->v->up[up->cidx];

        ap_rprintf(x->r, "%s{%s} %" APR_UINT64_T_FMT "\n", name,
                   x->up_labels[up->cidx],
                   *(const apr_uint64_t *)(c + offset));
    }
}

static void failures(const expo_t *x)
{
    int i, f;

    family(x->r, "h2gw_failures_total", "counter",
           "Requests that failed (logged as H2GW00203), by cause.");
    for (i = 0; i < x->ups->nelts; ++i) {
        const h2gw_upstream_t *up = APR_ARRAY_IDX(x->ups, i,
                                                  const h2gw_upstream_t *);

        for (f = H2GW_FAIL_NONE + 1; f < H2GW_FAIL_NCAUSES; ++f) {
            ap_rprintf(x->r, "h2gw_failures_total{%s,cause=\"%s\"} %"
                       APR_UINT64_T_FMT "\n", x->up_labels[up->cidx],
                       h2gw_stream_fail_key((h2gw_fail_t)f),
                       x->v->up[up->cidx].failures[f]);
        }
    }
}

/* The gauges of live children: streams, connections, health. */
static void gauges(const expo_t *x)
{
    int i, j, pass;
    static const char *const names[] = {
        "h2gw_streams_active", "h2gw_connections_open", "h2gw_server_up"
    };
    static const char *const helps[] = {
        "Requests on the server's connections now, over live children.",
        ("Connections to the server held now (connecting, open or "
         "draining), over live children."),
        "1 when no live child has the server marked down, else 0."
    };

    for (pass = 0; pass < 3; ++pass) {
        family(x->r, names[pass], "gauge", helps[pass]);
        for (i = 0; i < x->ups->nelts; ++i) {
            const h2gw_upstream_t *up = APR_ARRAY_IDX(x->ups, i,
                                                      const h2gw_upstream_t *);

            for (j = 0; j < up->servers->nelts; ++j) {
                int k = h2gw_counters_server(up, j);
                const h2gw_gauges_t *g = &x->v->g[k];
                apr_int64_t value = pass == 0 ? g->streams_active
                                    : pass == 1 ? g->conns
                                    : g->down_until == 0;

                ap_rprintf(x->r, "%s{%s} %" APR_INT64_T_FMT "\n",
                           names[pass], x->sv_labels[k], value);
            }
        }
    }
    family(x->r, "h2gw_queued", "gauge",
           "Requests waiting in the upstream's queue for a free stream now, "
           "over live children.");
    for (i = 0; i < x->ups->nelts; ++i) {
        const h2gw_upstream_t *up = APR_ARRAY_IDX(x->ups, i,
                                                  const h2gw_upstream_t *);

        ap_rprintf(x->r, "h2gw_queued{%s} %" APR_INT64_T_FMT "\n",
                   x->up_labels[up->cidx], x->v->ug[up->cidx].queued);
    }
    family(x->r, "h2gw_upstream_up", "gauge",
           "1 when some server of the upstream is up (h2gw_server_up), "
           "else 0.");
    for (i = 0; i < x->ups->nelts; ++i) {
        const h2gw_upstream_t *up = APR_ARRAY_IDX(x->ups, i,
                                                  const h2gw_upstream_t *);
        int any = 0;

        for (j = 0; j < up->servers->nelts; ++j) {
            any |= x->v->g[h2gw_counters_server(up, j)].down_until == 0;
        }
        ap_rprintf(x->r, "h2gw_upstream_up{%s} %d\n", x->up_labels[up->cidx],
                   any);
    }
}

static void header_time(const expo_t *x)
{
    static const apr_int64_t bounds[H2GW_HIST_NBOUNDS] = H2GW_HIST_BOUNDS;
    const char *name = "h2gw_response_header_seconds";
    int i, j, b;

    family(x->r, name, "histogram",
           "Time from handing a request to the engine to its final "
           "response headers.");
    for (i = 0; i < x->ups->nelts; ++i) {
        const h2gw_upstream_t *up = APR_ARRAY_IDX(x->ups, i,
                                                  const h2gw_upstream_t *);

        for (j = 0; j < up->servers->nelts; ++j) {
            int k = h2gw_counters_server(up, j);
            const h2gw_hist_t *h = &x->v->sv[k].header_time;
            apr_uint64_t cum = 0;
            char secs[32];

            for (b = 0; b < H2GW_HIST_NBOUNDS; ++b) {
                cum += h->bucket[b];
                ap_rprintf(x->r, "%s_bucket{%s,le=\"%s\"} %" APR_UINT64_T_FMT
                           "\n", name, x->sv_labels[k],
                           h2gw_counters_seconds(secs, (apr_uint64_t)
                                                 bounds[b]), cum);
            }
            /* The count is the buckets' sum: a scrape between the engine's
             * two stores still sees +Inf equal to _count. */
            cum += h->bucket[H2GW_HIST_NBOUNDS];
            ap_rprintf(x->r, "%s_bucket{%s,le=\"+Inf\"} %" APR_UINT64_T_FMT
                       "\n%s_sum{%s} %s\n%s_count{%s} %" APR_UINT64_T_FMT
                       "\n", name, x->sv_labels[k], cum, name,
                       x->sv_labels[k], h2gw_counters_seconds(secs, h->sum_us),
                       name, x->sv_labels[k], cum);
        }
    }
}

static void labels(apr_pool_t *p, expo_t *x)
{
    int i, j, n = 0;

    for (i = 0; i < x->ups->nelts; ++i) {
        n += APR_ARRAY_IDX(x->ups, i, const h2gw_upstream_t *)->servers->nelts;
    }
    x->up_labels = apr_pcalloc(p, sizeof(char *) * (x->ups->nelts + 1));
    x->sv_labels = apr_pcalloc(p, sizeof(char *) * (n + 1));
    for (i = 0; i < x->ups->nelts; ++i) {
        const h2gw_upstream_t *up = APR_ARRAY_IDX(x->ups, i,
                                                  const h2gw_upstream_t *);
        const char *ul = apr_pstrcat(p, "upstream=\"",
                                     label_value(p, up->name), "\"", NULL);

        x->up_labels[up->cidx] = ul;
        for (j = 0; j < up->servers->nelts; ++j) {
            x->sv_labels[h2gw_counters_server(up, j)] = apr_pstrcat(
                p, ul, ",server=\"",
                label_value(p, APR_ARRAY_IDX(up->servers, j,
                                             h2gw_server_conf_t).url),
                "\"", NULL);
        }
    }
}

int h2gw_metrics_handler(request_rec *r)
{
    apr_array_header_t *children;
    apr_array_header_t none;
    h2gw_view_t total;
    expo_t x;

    if (!r->handler || strcmp(r->handler, H2GW_METRICS_HANDLER)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    memset(&none, 0, sizeof(none));
    memset(&x, 0, sizeof(x));
    x.r = r;
    x.ups = h2gw_counters_upstreams();
    if (!x.ups) {
        x.ups = &none;
    }
    (void)h2gw_counters_read(r->pool, &total, &children);
    x.v = &total;
    labels(r->pool, &x);
    ap_set_content_type(r, H2GW_METRICS_CONTENT_TYPE);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    family(r, "h2gw_child_processes", "gauge",
           "Child processes counting into the shared counters now.");
    ap_rprintf(r, "h2gw_child_processes %d\n", total.children);
#define SERVER_COUNTER(f, name, help)                                        \
    server_counter(&x, name, help, offsetof(h2gw_counters_t, f));
    H2GW_SERVER_COUNTERS(SERVER_COUNTER)
#undef SERVER_COUNTER
#define UPSTREAM_COUNTER(f, name, help)                                      \
    upstream_counter(&x, name, help, offsetof(h2gw_up_counters_t, f));
    H2GW_UPSTREAM_COUNTERS(UPSTREAM_COUNTER)
#undef UPSTREAM_COUNTER
    failures(&x);
    gauges(&x);
    header_time(&x);
    return OK;
}
