/*
 * h2gw_status: rendering (on the engine thread) and the handlers that
 * ask for it.
 */
#include <unistd.h>

#include <apr_strings.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "mod_h2gw.h"
#include "h2gw_status.h"
#include "h2gw_engine.h"
#include "h2gw_pool.h"
#include "h2gw_conn.h"

APLOG_USE_MODULE(h2gw);

/* What a server's connections look like right now. */
typedef struct conn_census_t {
    int open, draining, starting;
    int peer_streams;          /* peer's SETTINGS of a ready connection, */
    int peer_window;           /* -1 when none is ready */
    int peer_frame;
} conn_census_t;

static void census(const h2gw_server_t *sv, conn_census_t *cc)
{
    const h2gw_conn_t *conn;

    cc->open = cc->draining = cc->starting = 0;
    cc->peer_streams = cc->peer_window = cc->peer_frame = -1;
    for (conn = sv->conns; conn; conn = conn->next) {
        if (conn->dead) {
            continue;
        }
        switch (conn->state) {
        case H2GW_CONN_ST_CONNECTING:
        case H2GW_CONN_ST_TLS:
        case H2GW_CONN_ST_HANDSHAKE:
            ++cc->starting;
            break;
        case H2GW_CONN_ST_OPEN:
            if (conn->no_new) {
                ++cc->draining;
            }
            else {
                ++cc->open;
            }
            break;
        case H2GW_CONN_ST_DRAINING:
            ++cc->draining;
            break;
        }
        if (conn->ngh && conn->peer_settings && cc->peer_streams < 0) {
            cc->peer_streams = (int)nghttp2_session_get_remote_settings(
                conn->ngh, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
            cc->peer_window = (int)nghttp2_session_get_remote_settings(
                conn->ngh, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE);
            cc->peer_frame = (int)nghttp2_session_get_remote_settings(
                conn->ngh, NGHTTP2_SETTINGS_MAX_FRAME_SIZE);
        }
    }
}

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

/* The counters, in one order for both renderings. */
#define COUNTERS(X)                                                          \
    X(conns_opened) X(conns_failed) X(requests) X(retries) X(resets_sent)    \
    X(resets_recv) X(timeouts) X(goaways_recv) X(pings_sent) X(bytes_out)    \
    X(bytes_in) X(tls_handshakes) X(tls_resumed) X(writes_blocked)          \
    X(checks) X(checks_failed)

/* In rotation: neither skipped after a failure nor out by its checks. */
static int server_up(const h2gw_server_t *sv, apr_time_t now)
{
    return sv->down_until <= now && !sv->hc_down;
}

/* The state of a server's active health checks. */
static const char *check_state(const h2gw_pool_t *pool,
                               const h2gw_server_t *sv)
{
    if (pool->up->hc_kind == H2GW_HC_NONE) {
        return "off";
    }
    return sv->hc_down ? "down" : "up";
}

static const char *render_json(apr_pool_t *p, const apr_array_header_t *pools)
{
    apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
    apr_time_t now = apr_time_now();
    int i, j;

#define PUSH(s) (APR_ARRAY_PUSH(out, const char *) = (s))
    apr_uint32_t chunks, streams = h2gw_stream_alive(&chunks);

    PUSH(apr_psprintf(p, "{\"pid\":%ld,\"streams_alive\":%u,"
                      "\"chunks_alive\":%u,\"handler_wakeups\":%u,"
                      "\"checks_alive\":%u,\"upstreams\":[",
                      (long)getpid(), streams, chunks,
                      h2gw_stream_wakeups(), h2gw_stream_checks_alive()));
    for (i = 0; i < pools->nelts; ++i) {
        const h2gw_pool_t *pool = APR_ARRAY_IDX(pools, i, h2gw_pool_t *);

        PUSH(apr_psprintf(p, "%s{\"name\":%s,\"lb\":\"%s\",\"max_conns\":%d,"
                          "\"max_streams\":%d,\"queued\":%d,"
                          "\"queued_total\":%" APR_UINT64_T_FMT ","
                          "\"queue_timeouts\":%" APR_UINT64_T_FMT ","
                          "\"all_down\":%" APR_UINT64_T_FMT ","
                          "\"probes\":%" APR_UINT64_T_FMT ",\"servers\":[",
                          i ? "," : "", json_str(p, pool->up->name),
                          pool->up->lb == H2GW_LB_ROUND_ROBIN
                              ? "round-robin" : "least-streams",
                          pool->up->max_conns, pool->up->max_streams,
                          pool->nqueued, pool->queued_total,
                          pool->queue_timeouts, pool->all_down,
                          pool->probes));
        for (j = 0; j < pool->nservers; ++j) {
            const h2gw_server_t *sv = &pool->servers[j];
            conn_census_t cc;

            census(sv, &cc);
            PUSH(apr_psprintf(
                p, "%s{\"url\":%s,\"health\":\"%s\",\"down_ms\":%"
                APR_TIME_T_FMT ",\"conns_open\":%d,\"conns_draining\":%d,"
                "\"conns_starting\":%d,\"streams_active\":%d,"
                "\"peer_max_concurrent_streams\":%d,"
                "\"peer_initial_window_size\":%d,"
                "\"peer_max_frame_size\":%d",
                j ? "," : "", json_str(p, sv->conf->url),
                server_up(sv, now) ? "up" : "down",
                sv->down_until > now ? apr_time_as_msec(sv->down_until - now)
                                     : 0,
                cc.open, cc.draining, cc.starting, sv->nstreams,
                cc.peer_streams, cc.peer_window, cc.peer_frame));
            PUSH(apr_psprintf(
                p, ",\"health_check\":\"%s\",\"health_check_last\":%s,"
                "\"health_check_last_age_ms\":%" APR_TIME_T_FMT ","
                "\"health_check_fails\":%d,\"health_check_passes\":%d",
                check_state(pool, sv), json_str(p, sv->hc_last),
                sv->hc_last_at ? apr_time_as_msec(now - sv->hc_last_at) : -1,
                sv->hc_fails, sv->hc_passes));
#define JSON_COUNTER(f)                                                      \
    PUSH(apr_psprintf(p, ",\"" #f "\":%" APR_UINT64_T_FMT, sv->c.f));
            COUNTERS(JSON_COUNTER)
#undef JSON_COUNTER
            PUSH(apr_psprintf(p, ",\"last_error\":%s,\"last_error_age_ms\":%"
                              APR_TIME_T_FMT "}",
                              json_str(p, sv->last_error),
                              sv->last_error_at
                                  ? apr_time_as_msec(now - sv->last_error_at)
                                  : -1));
        }
        PUSH("]}");
    }
    PUSH("]}\n");
#undef PUSH
    return apr_array_pstrcat(p, out, 0);
}

/* "down: failed: status 503 (2 failed in a row)", "up: passed (5 passed
 * in a row)", "off". */
static const char *check_cell(apr_pool_t *p, const h2gw_pool_t *pool,
                              const h2gw_server_t *sv)
{
    const char *state = check_state(pool, sv);

    if (!strcmp(state, "off") || !sv->hc_last_at) {
        return state;
    }
    return apr_psprintf(p, "%s: %s (%d %s in a row)", state,
                        ap_escape_html(p, sv->hc_last),
                        sv->hc_fails ? sv->hc_fails : sv->hc_passes,
                        sv->hc_fails ? "failed" : "passed");
}

static const char *render_html(apr_pool_t *p, const apr_array_header_t *pools)
{
    apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
    apr_time_t now = apr_time_now();
    int i, j;

#define PUSH(s) (APR_ARRAY_PUSH(out, const char *) = (s))
    apr_uint32_t chunks, streams = h2gw_stream_alive(&chunks);

    PUSH(apr_psprintf(p, "<h2>mod_h2gw upstreams (process %ld)</h2>\n"
                      "<p>streams alive %u, response chunks alive %u, "
                      "handler wake-ups %u, health checks in flight %u</p>\n",
                      (long)getpid(), streams, chunks,
                      h2gw_stream_wakeups(), h2gw_stream_checks_alive()));
    for (i = 0; i < pools->nelts; ++i) {
        const h2gw_pool_t *pool = APR_ARRAY_IDX(pools, i, h2gw_pool_t *);

        PUSH(apr_psprintf(p, "<h3>%s</h3>\n<p>lb %s, max-conns %d, "
                          "max-streams %d; queued now %d, in all %"
                          APR_UINT64_T_FMT ", queue timeouts %"
                          APR_UINT64_T_FMT ", failed with all down %"
                          APR_UINT64_T_FMT ", probes %" APR_UINT64_T_FMT
                          "</p>\n",
                          ap_escape_html(p, pool->up->name),
                          pool->up->lb == H2GW_LB_ROUND_ROBIN
                              ? "round-robin" : "least-streams",
                          pool->up->max_conns, pool->up->max_streams,
                          pool->nqueued, pool->queued_total,
                          pool->queue_timeouts, pool->all_down,
                          pool->probes));
        PUSH("<table border=\"1\"><tr><th>server</th><th>health</th>"
             "<th>health check</th>"
             "<th>conns open/draining/starting</th><th>streams</th>"
             "<th>peer max streams</th><th>peer window</th>"
             "<th>peer max frame</th>");
#define HTML_HEAD(f) PUSH("<th>" #f "</th>");
        COUNTERS(HTML_HEAD)
#undef HTML_HEAD
        PUSH("<th>last error</th></tr>\n");
        for (j = 0; j < pool->nservers; ++j) {
            const h2gw_server_t *sv = &pool->servers[j];
            conn_census_t cc;

            census(sv, &cc);
            PUSH(apr_psprintf(p, "<tr><td>%s</td><td>%s</td><td>%s</td>"
                              "<td>%d/%d/%d</td>"
                              "<td>%d</td><td>%d</td><td>%d</td><td>%d</td>",
                              ap_escape_html(p, sv->conf->url),
                              server_up(sv, now) ? "up" : "down",
                              check_cell(p, pool, sv), cc.open,
                              cc.draining, cc.starting, sv->nstreams,
                              cc.peer_streams, cc.peer_window,
                              cc.peer_frame));
#define HTML_COUNTER(f)                                                      \
    PUSH(apr_psprintf(p, "<td>%" APR_UINT64_T_FMT "</td>", sv->c.f));
            COUNTERS(HTML_COUNTER)
#undef HTML_COUNTER
            PUSH(apr_psprintf(p, "<td>%s</td></tr>\n",
                              ap_escape_html(p, sv->last_error)));
        }
        PUSH("</table>\n");
    }
#undef PUSH
    return apr_array_pstrcat(p, out, 0);
}

const char *h2gw_status_render(apr_pool_t *p, const apr_array_header_t *pools,
                               int json)
{
    return json ? render_json(p, pools) : render_html(p, pools);
}

/* Asks the engine for a rendering; copies it into r->pool. */
static const char *snapshot(request_rec *r, int json)
{
    h2gw_engine_t *e = h2gw_engine_get();
    h2gw_status_req_t req;
    const char *text = NULL;

    if (!e) {
        return NULL;
    }
    memset(&req, 0, sizeof(req));
    req.json = json;
    /* Unmanaged: the engine thread allocates from it while we wait. */
    if (apr_pool_create_unmanaged_ex(&req.pool, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_thread_mutex_create(&req.lock, APR_THREAD_MUTEX_DEFAULT,
                                req.pool) == APR_SUCCESS
        && apr_thread_cond_create(&req.cond, req.pool) == APR_SUCCESS
        && h2gw_engine_status(e, &req) == APR_SUCCESS) {
        text = apr_pstrdup(r->pool, req.text);
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
        return OK;
    }
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rputs("<!DOCTYPE html>\n<html><head><title>mod_h2gw status</title>"
             "</head><body>\n", r);
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
    if (text) {
        ap_rputs("<hr />\n", r);
        ap_rputs(text, r);
    }
    return OK;
}

void h2gw_status_register_hooks(apr_pool_t *p)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
