/*
 * h2gw_status: the status page, rendered on the handler's thread: the
 * answering child's section from a snapshot of its pools that its engine
 * thread copies (h2gw_engine_status(), h2gw_pool_snapshot()), the totals
 * over every child and each child's counters from the shared counters
 * (h2gw_counters).
 */
#include <unistd.h>

#include <apr_strings.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "mod_h2gw.h"
#include "h2gw_status.h"
#include "h2gw_engine.h"
#include "h2gw_pool.h"
#include "h2gw_counters.h"

APLOG_USE_MODULE(h2gw);

static const char *json_str(apr_pool_t *p, const char *s)
{
    apr_size_t len = strlen(s), i;
    char *out = apr_palloc(p, len * 6 + 3), *o = out;

    *o++ = '"';
    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        }
        else if (c < 0x20 || c == 0x7f) {
            o += apr_snprintf(o, 7, "\\u%04x", c);
        }
        else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

#define PUSH(s) (APR_ARRAY_PUSH(out, const char *) = (s))

/* ,"failures":{"connect":n,...} of an upstream's counters. */
static void json_failures(apr_array_header_t *out, apr_pool_t *p,
                          const h2gw_up_counters_t *c)
{
    int f;

    PUSH(",\"failures\":{");
    for (f = H2GW_FAIL_NONE + 1; f < H2GW_FAIL_NCAUSES; ++f) {
        PUSH(apr_psprintf(p, "%s\"%s\":%" APR_UINT64_T_FMT,
                          f > H2GW_FAIL_NONE + 1 ? "," : "",
                          h2gw_stream_fail_key((h2gw_fail_t)f),
                          c->failures[f]));
    }
    PUSH("}");
}

/* ,"header_time":{...}: count, sum and cumulative buckets (le in
 * seconds). */
static void json_hist(apr_array_header_t *out, apr_pool_t *p,
                      const h2gw_hist_t *h)
{
    static const apr_int64_t bounds[H2GW_HIST_NBOUNDS] = H2GW_HIST_BOUNDS;
    apr_uint64_t cum = 0;
    int i;

    PUSH(",\"header_time\":{\"buckets\":[");
    for (i = 0; i <= H2GW_HIST_NBOUNDS; ++i) {
        cum += h->bucket[i];
        if (i < H2GW_HIST_NBOUNDS) {
            char secs[32];

            PUSH(apr_psprintf(p, "%s[%s,%" APR_UINT64_T_FMT "]", i ? "," : "",
                              h2gw_counters_seconds(secs, (apr_uint64_t)
                                                    bounds[i]), cum));
        }
    }
    PUSH(apr_psprintf(p, "],\"count\":%" APR_UINT64_T_FMT ",\"sum_us\":%"
                      APR_UINT64_T_FMT "}", cum, h->sum_us));
}

/* One server's counters as JSON members (each after a comma). */
static void json_counters(apr_array_header_t *out, apr_pool_t *p,
                          const h2gw_counters_t *c)
{
#define JSON_COUNTER(f, name, help)                                          \
    PUSH(apr_psprintf(p, ",\"" #f "\":%" APR_UINT64_T_FMT, c->f));
    H2GW_SERVER_COUNTERS(JSON_COUNTER)
#undef JSON_COUNTER
    json_hist(out, p, &c->header_time);
}

static void json_up_counters(apr_array_header_t *out, apr_pool_t *p,
                             const h2gw_up_counters_t *c)
{
#define JSON_COUNTER(f, name, help)                                          \
    PUSH(apr_psprintf(p, ",\"" #f "\":%" APR_UINT64_T_FMT, c->f));
    H2GW_UPSTREAM_COUNTERS(JSON_COUNTER)
#undef JSON_COUNTER
    json_failures(out, p, c);
}

/* The upstream counters as "name n, name n; failures: ...". */
static void html_up_counters(apr_array_header_t *out, apr_pool_t *p,
                             const h2gw_up_counters_t *c)
{
    const char *sep = "";
    int f;

#define HTML_COUNTER(f, name, help)                                          \
    PUSH(apr_psprintf(p, "%s" #f " %" APR_UINT64_T_FMT, sep, c->f));        \
    sep = ", ";
    H2GW_UPSTREAM_COUNTERS(HTML_COUNTER)
#undef HTML_COUNTER
    PUSH("; failures:");
    for (f = H2GW_FAIL_NONE + 1; f < H2GW_FAIL_NCAUSES; ++f) {
        PUSH(apr_psprintf(p, " %s %" APR_UINT64_T_FMT,
                          h2gw_stream_fail_key((h2gw_fail_t)f),
                          c->failures[f]));
    }
}

static void html_counter_heads(apr_array_header_t *out)
{
#define HTML_HEAD(f, name, help) PUSH("<th>" #f "</th>");
    H2GW_SERVER_COUNTERS(HTML_HEAD)
#undef HTML_HEAD
    PUSH("<th>header time: count / mean ms</th>");
}

static apr_uint64_t hist_count(const h2gw_hist_t *h)
{
    apr_uint64_t n = 0;
    int i;

    for (i = 0; i <= H2GW_HIST_NBOUNDS; ++i) {
        n += h->bucket[i];
    }
    return n;
}

static void html_counters(apr_array_header_t *out, apr_pool_t *p,
                          const h2gw_counters_t *c)
{
    apr_uint64_t n = hist_count(&c->header_time);

#define HTML_COUNTER(f, name, help)                                          \
    PUSH(apr_psprintf(p, "<td>%" APR_UINT64_T_FMT "</td>", c->f));
    H2GW_SERVER_COUNTERS(HTML_COUNTER)
#undef HTML_COUNTER
    PUSH(apr_psprintf(p, "<td>%" APR_UINT64_T_FMT " / %.1f</td>", n,
                      n ? (double)c->header_time.sum_us / (double)n / 1000.0
                        : 0.0));
}

static const char *render_json(apr_pool_t *p, const apr_array_header_t *pools)
{
    apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
    int i, j;
    apr_uint32_t chunks, streams = h2gw_stream_alive(&chunks);

    PUSH(apr_psprintf(p, "{\"pid\":%ld,\"streams_alive\":%u,"
                      "\"chunks_alive\":%u,\"handler_wakeups\":%u,"
                      "\"handler_batch_timeouts\":%u,\"handler_lingers\":%u,"
                      "\"handler_body_reads\":%u,"
                      "\"checks_alive\":%u,\"upstreams\":[",
                      (long)getpid(), streams, chunks,
                      h2gw_stream_wakeups(), h2gw_stream_batch_timeouts(),
                      h2gw_stream_lingers(), h2gw_stream_body_reads(),
                      h2gw_stream_checks_alive()));
    for (i = 0; i < pools->nelts; ++i) {
        const h2gw_pool_snap_t *pool = &APR_ARRAY_IDX(pools, i,
                                                      h2gw_pool_snap_t);

        PUSH(apr_psprintf(p, "%s{\"name\":%s,\"lb\":\"%s\",\"max_conns\":%d,"
                          "\"max_streams\":%d,\"queued\":%d",
                          i ? "," : "", json_str(p, pool->name), pool->lb,
                          pool->max_conns, pool->max_streams, pool->queued));
        json_up_counters(out, p, &pool->c);
        PUSH(",\"servers\":[");
        for (j = 0; j < pool->nservers; ++j) {
            const h2gw_server_snap_t *sv = &pool->servers[j];

            PUSH(apr_psprintf(
                p, "%s{\"url\":%s,\"health\":\"%s\",\"down_ms\":%"
                APR_INT64_T_FMT ",\"conns_open\":%d,\"conns_draining\":%d,"
                "\"conns_starting\":%d,\"streams_active\":%d,"
                "\"peer_max_concurrent_streams\":%d,"
                "\"peer_initial_window_size\":%d,"
                "\"peer_max_frame_size\":%d",
                j ? "," : "", json_str(p, sv->url), sv->up ? "up" : "down",
                sv->down_ms, sv->conns_open, sv->conns_draining,
                sv->conns_starting, sv->streams, sv->peer_streams,
                sv->peer_window, sv->peer_frame));
            PUSH(apr_psprintf(
                p, ",\"health_check\":\"%s\",\"health_check_last\":%s,"
                "\"health_check_last_age_ms\":%" APR_INT64_T_FMT ","
                "\"health_check_fails\":%d,\"health_check_passes\":%d",
                sv->check, json_str(p, sv->check_last), sv->check_age_ms,
                sv->check_fails, sv->check_passes));
            json_counters(out, p, &sv->c);
            PUSH(apr_psprintf(p, ",\"last_error\":%s,\"last_error_age_ms\":%"
                              APR_INT64_T_FMT "}",
                              json_str(p, sv->last_error),
                              sv->last_error_age_ms));
        }
        PUSH("]}");
    }
    /* The handler adds the totals and closes the object. */
    PUSH("]");
    return apr_array_pstrcat(p, out, 0);
}

/* "down: failed: status 503 (2 failed in a row)", "up: passed (5 passed
 * in a row)", "off". */
static const char *check_cell(apr_pool_t *p, const h2gw_server_snap_t *sv)
{
    if (!strcmp(sv->check, "off") || !sv->checked) {
        return sv->check;
    }
    return apr_psprintf(p, "%s: %s (%d %s in a row)", sv->check,
                        ap_escape_html(p, sv->check_last),
                        sv->check_fails ? sv->check_fails : sv->check_passes,
                        sv->check_fails ? "failed" : "passed");
}

static const char *render_html(apr_pool_t *p, const apr_array_header_t *pools)
{
    apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
    int i, j;
    apr_uint32_t chunks, streams = h2gw_stream_alive(&chunks);

    PUSH(apr_psprintf(p, "<h2>mod_h2gw upstreams (process %ld)</h2>\n"
                      "<p>streams alive %u, response chunks alive %u, "
                      "handler wake-ups %u (batch waits that timed out %u, "
                      "lingers for an HTTP/2 client's burst %u), "
                      "request body reads %u, "
                      "health checks in flight %u</p>\n",
                      (long)getpid(), streams, chunks,
                      h2gw_stream_wakeups(), h2gw_stream_batch_timeouts(),
                      h2gw_stream_lingers(), h2gw_stream_body_reads(),
                      h2gw_stream_checks_alive()));
    for (i = 0; i < pools->nelts; ++i) {
        const h2gw_pool_snap_t *pool = &APR_ARRAY_IDX(pools, i,
                                                      h2gw_pool_snap_t);

        PUSH(apr_psprintf(p, "<h3>%s</h3>\n<p>lb %s, max-conns %d, "
                          "max-streams %d; queued now %d; ",
                          ap_escape_html(p, pool->name), pool->lb,
                          pool->max_conns, pool->max_streams, pool->queued));
        html_up_counters(out, p, &pool->c);
        PUSH("</p>\n<table border=\"1\"><tr><th>server</th><th>health</th>"
             "<th>health check</th>"
             "<th>conns open/draining/starting</th><th>streams</th>"
             "<th>peer max streams</th><th>peer window</th>"
             "<th>peer max frame</th>");
        html_counter_heads(out);
        PUSH("<th>last error</th></tr>\n");
        for (j = 0; j < pool->nservers; ++j) {
            const h2gw_server_snap_t *sv = &pool->servers[j];

            PUSH(apr_psprintf(p, "<tr><td>%s</td><td>%s</td><td>%s</td>"
                              "<td>%d/%d/%d</td>"
                              "<td>%d</td><td>%d</td><td>%d</td><td>%d</td>",
                              ap_escape_html(p, sv->url),
                              sv->up ? "up" : "down", check_cell(p, sv),
                              sv->conns_open, sv->conns_draining,
                              sv->conns_starting, sv->streams,
                              sv->peer_streams, sv->peer_window,
                              sv->peer_frame));
            html_counters(out, p, &sv->c);
            PUSH(apr_psprintf(p, "<td>%s</td></tr>\n",
                              ap_escape_html(p, sv->last_error)));
        }
        PUSH("</table>\n");
    }
    return apr_array_pstrcat(p, out, 0);
}

/* ---- every child: the shared counters, read on the handler thread -- */

/* "upstreams":[...] of a view: each upstream's counters and its servers'
 * counters and gauges. */
static void json_view(apr_array_header_t *out, apr_pool_t *p,
                      const h2gw_view_t *v)
{
    const apr_array_header_t *ups = h2gw_counters_upstreams();
    int i, j;

    PUSH("\"upstreams\":[");
    for (i = 0; ups && i < ups->nelts; ++i) {
        const h2gw_upstream_t *up = APR_ARRAY_IDX(ups, i,
                                                  const h2gw_upstream_t *);

        PUSH(apr_psprintf(p, "%s{\"name\":%s,\"queued\":%" APR_INT64_T_FMT,
                          i ? "," : "", json_str(p, up->name),
                          v->ug[up->cidx].queued));
        json_up_counters(out, p, &v->up[up->cidx]);
        PUSH(",\"servers\":[");
        for (j = 0; j < up->servers->nelts; ++j) {
            int k = h2gw_counters_server(up, j);

            PUSH(apr_psprintf(
                p, "%s{\"url\":%s,\"health\":\"%s\",\"down_in\":%"
                APR_INT64_T_FMT ",\"streams_active\":%" APR_INT64_T_FMT
                ",\"conns\":%" APR_INT64_T_FMT, j ? "," : "",
                json_str(p, APR_ARRAY_IDX(up->servers, j,
                                          h2gw_server_conf_t).url),
                v->g[k].down_until ? "down" : "up", v->g[k].down_until,
                v->g[k].streams_active, v->g[k].conns));
            json_counters(out, p, &v->sv[k]);
            PUSH("}");
        }
        PUSH("]}");
    }
    PUSH("]");
}

/* ,"totals":{...},"children":[...] */
static const char *render_totals_json(apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
    apr_array_header_t *children;
    apr_time_t now = apr_time_now();
    h2gw_view_t total;
    int i, shared = h2gw_counters_read(p, &total, &children);

    PUSH(apr_psprintf(p, ",\"totals\":{\"shared\":%s,\"slots\":%d,"
                      "\"children\":%d,", shared ? "true" : "false",
                      total.slot, total.children));
    json_view(out, p, &total);
    PUSH("},\"children\":[");
    for (i = 0; i < children->nelts; ++i) {
        const h2gw_view_t *v = &APR_ARRAY_IDX(children, i, h2gw_view_t);

        PUSH(apr_psprintf(p, "%s{\"pid\":%ld,\"slot\":%d,\"age_ms\":%"
                          APR_TIME_T_FMT ",", i ? "," : "", v->pid, v->slot,
                          apr_time_as_msec(now - v->started)));
        json_view(out, p, v);
        PUSH("}");
    }
    PUSH("]");
    return apr_array_pstrcat(p, out, 0);
}

/* Sums of a view over every server (a child's row). */
static void view_sums(const h2gw_view_t *v, h2gw_counters_t *sum,
                      h2gw_gauges_t *g, apr_uint64_t *failures)
{
    const apr_array_header_t *ups = h2gw_counters_upstreams();
    int i, j, f;

    memset(sum, 0, sizeof(*sum));
    memset(g, 0, sizeof(*g));
    *failures = 0;
    for (i = 0; ups && i < ups->nelts; ++i) {
        const h2gw_upstream_t *up = APR_ARRAY_IDX(ups, i,
                                                  const h2gw_upstream_t *);

        for (f = H2GW_FAIL_NONE + 1; f < H2GW_FAIL_NCAUSES; ++f) {
            *failures += v->up[up->cidx].failures[f];
        }
        for (j = 0; j < up->servers->nelts; ++j) {
            int k = h2gw_counters_server(up, j);
            const apr_uint64_t *src = (const apr_uint64_t *)&v->sv[k];
            apr_uint64_t *dst = (apr_uint64_t *)sum;
            apr_size_t n;

            for (n = 0; n < sizeof(*sum) / sizeof(apr_uint64_t); ++n) {
                dst[n] += src[n];
            }
            g->streams_active += v->g[k].streams_active;
            g->conns += v->g[k].conns;
        }
    }
}

static const char *render_totals_html(apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
    const apr_array_header_t *ups = h2gw_counters_upstreams();
    apr_array_header_t *children;
    apr_time_t now = apr_time_now();
    h2gw_view_t total;
    h2gw_counters_t sum;
    h2gw_gauges_t g;
    apr_uint64_t failures;
    int i, j;

    if (!h2gw_counters_read(p, &total, &children)) {
        return "<h2>mod_h2gw: all processes</h2>\n<p>No shared counters "
               "(see the error log).</p>\n";
    }
    PUSH(apr_psprintf(p, "<h2>mod_h2gw: all processes</h2>\n<p>Totals over "
                      "every child process since the counters were made "
                      "(%d live now, %d slots); streams, connections and "
                      "health of the live ones.</p>\n", total.children,
                      total.slot));
    for (i = 0; ups && i < ups->nelts; ++i) {
        const h2gw_upstream_t *up = APR_ARRAY_IDX(ups, i,
                                                  const h2gw_upstream_t *);

        PUSH(apr_psprintf(p, "<h3>%s (all processes)</h3>\n<p>queued now %"
                          APR_INT64_T_FMT "; ", ap_escape_html(p, up->name),
                          total.ug[up->cidx].queued));
        html_up_counters(out, p, &total.up[up->cidx]);
        PUSH("</p>\n<table border=\"1\"><tr><th>server</th>"
             "<th>health</th><th>conns</th><th>streams</th>");
        html_counter_heads(out);
        PUSH("</tr>\n");
        for (j = 0; j < up->servers->nelts; ++j) {
            int k = h2gw_counters_server(up, j);

            PUSH(apr_psprintf(
                p, "<tr><td>%s</td><td>%s</td><td>%" APR_INT64_T_FMT
                "</td><td>%" APR_INT64_T_FMT "</td>",
                ap_escape_html(p, APR_ARRAY_IDX(up->servers, j,
                                                h2gw_server_conf_t).url),
                total.g[k].down_until
                    ? apr_psprintf(p, "down in %" APR_INT64_T_FMT " of %d",
                                   total.g[k].down_until, total.children)
                    : "up",
                total.g[k].conns, total.g[k].streams_active));
            html_counters(out, p, &total.sv[k]);
            PUSH("</tr>\n");
        }
        PUSH("</table>\n");
    }
    PUSH("<h3>Child processes</h3>\n<table border=\"1\"><tr><th>pid</th>"
         "<th>slot</th><th>age s</th><th>conns</th><th>streams</th>"
         "<th>failures</th>");
    html_counter_heads(out);
    PUSH("</tr>\n");
    for (i = 0; i < children->nelts; ++i) {
        const h2gw_view_t *v = &APR_ARRAY_IDX(children, i, h2gw_view_t);

        view_sums(v, &sum, &g, &failures);
        PUSH(apr_psprintf(p, "<tr><td>%ld</td><td>%d</td><td>%" APR_TIME_T_FMT
                          "</td><td>%" APR_INT64_T_FMT "</td><td>%"
                          APR_INT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
                          "</td>", v->pid, v->slot,
                          apr_time_sec(now - v->started), g.conns,
                          g.streams_active, failures));
        html_counters(out, p, &sum);
        PUSH("</tr>\n");
    }
    PUSH("</table>\n");
    return apr_array_pstrcat(p, out, 0);
}

#undef PUSH

/* Asks the engine for a snapshot of its pools and renders it into
 * r->pool, as JSON or as an HTML fragment. */
static const char *snapshot(request_rec *r, int json)
{
    h2gw_engine_t *e = h2gw_engine_get();
    h2gw_status_req_t req;
    const char *text = NULL;

    if (!e) {
        return NULL;
    }
    memset(&req, 0, sizeof(req));
    /* Unmanaged: the engine thread allocates from it while we wait. */
    if (apr_pool_create_unmanaged_ex(&req.pool, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_thread_mutex_create(&req.lock, APR_THREAD_MUTEX_DEFAULT,
                                req.pool) == APR_SUCCESS
        && apr_thread_cond_create(&req.cond, req.pool) == APR_SUCCESS
        && h2gw_engine_status(e, &req) == APR_SUCCESS) {
        text = json ? render_json(r->pool, req.pools)
                    : render_html(r->pool, req.pools);
    }
    apr_pool_destroy(req.pool);
    return text;
}

int h2gw_status_handler(request_rec *r)
{
    int json;
    const char *text;

    if (!r->handler || strcmp(r->handler, H2GW_STATUS_HANDLER)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    json = r->args && !strcmp(r->args, "json");
    text = snapshot(r, json);
    if (!text) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (json) {
        ap_set_content_type(r, "application/json");
        ap_rputs(text, r);
        ap_rputs(render_totals_json(r->pool), r);
        ap_rputs("}\n", r);
        return OK;
    }
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rputs("<!DOCTYPE html>\n<html><head><title>mod_h2gw status</title>"
             "</head><body>\n", r);
    ap_rputs(render_totals_html(r->pool), r);
    ap_rputs(text, r);
    ap_rputs("</body></html>\n", r);
    return OK;
}

static int status_hook(request_rec *r, int flags)
{
    const char *text;

    if (flags & AP_STATUS_SHORT) {
        return OK;
    }
    text = snapshot(r, 0);
    ap_rputs("<hr />\n", r);
    ap_rputs(render_totals_html(r->pool), r);
    if (text) {
        ap_rputs(text, r);
    }
    return OK;
}

void h2gw_status_register_hooks(apr_pool_t *p)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
