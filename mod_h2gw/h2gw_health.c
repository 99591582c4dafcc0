/*
 * h2gw_health: active health checks, on the engine thread. A check is an
 * h2gw_stream_t marked as one (no handler): the connection code carries
 * it like a request, keeps the first bytes of its body instead of
 * queueing them, and never resends it; a check that cannot go on its
 * server's connection fails. Its outcome is read here once its stream is
 * final (h2gw_health_collect(), after every batch of events) or its
 * health-timeout passed (h2gw_health_timers()).
 *
 * How it composes with the passive marks of the pool: a server is in
 * rotation while it is neither skipped after a failure (down_until,
 * retry=) nor out by its checks (hc_down). A check that cannot connect
 * marks the server down for retry= at once, as any failed connect does.
 * A check that passes ends such a mark (the answer is fresher news than
 * the timer). Servers out by their checks are never probed by requests
 * (pool.c, try_probe): their checks tell when they are back.
 */
#include <apr_strings.h>

#include "mod_h2gw.h"
#include "h2gw_health.h"
#include "h2gw_conn.h"

APLOG_USE_MODULE(h2gw);

/* gRPC's health service answers (grpc.health.v1.HealthCheckResponse). */
#define GRPC_SERVING 1

static const char *serving_name(int status)
{
    switch (status) {
    case 0: return "UNKNOWN";
    case 1: return "SERVING";
    case 2: return "NOT_SERVING";
    case 3: return "SERVICE_UNKNOWN";
    }
    return "an unknown ServingStatus";
}

void h2gw_health_init(h2gw_pool_t *pool)
{
    apr_time_t now = apr_time_now();
    int i;

    if (pool->up->hc_kind == H2GW_HC_NONE) {
        return;
    }
    for (i = 0; i < pool->nservers; ++i) {
        pool->servers[i].hc_next = now;
    }
    h2gw_loop_timer(pool->loop, now);
}

/* A check stream of sv, ready to place (the check's reference held). */
static h2gw_stream_t *make_check(h2gw_server_t *sv)
{
    const h2gw_upstream_t *up = sv->up;
    unsigned char body[H2GW_HEADERS_GRPC_HEALTH_REQ(H2GW_MAX_HEALTH_SERVICE)];
    size_t blen = 0;
    h2gw_stream_t *st;
    int grpc = (up->hc_kind == H2GW_HC_GRPC);

    if (grpc) {
        blen = h2gw_headers_grpc_health_request(up->hc_service,
                                                strlen(up->hc_service), body);
    }
    if (h2gw_stream_create(&st, blen) != APR_SUCCESS) {
        return NULL;
    }
    h2gw_stream_set_check(st);
    /* :scheme and :authority are the server's, set at submit. */
    st->nv = apr_pcalloc(st->pool, 7 * sizeof(nghttp2_nv));
    h2gw_headers_set_nv(&st->nv[H2GW_NV_METHOD], ":method",
                        grpc ? "POST" : "GET");
    h2gw_headers_set_nv(&st->nv[H2GW_NV_SCHEME], ":scheme", "http");
    h2gw_headers_set_nv(&st->nv[H2GW_NV_AUTHORITY], ":authority",
                        sv->conf->authority);
    h2gw_headers_set_nv(&st->nv[H2GW_NV_PATH], ":path", up->hc_path);
    h2gw_headers_set_nv(&st->nv[4], "user-agent", "mod_h2gw health check");
    st->nvlen = 5;
    if (grpc) {
        h2gw_headers_set_nv(&st->nv[5], "content-type", "application/grpc");
        h2gw_headers_set_nv(&st->nv[6], "te", "trailers");
        st->nvlen = 7;
        memcpy(st->req_buf, body, blen);
        st->req_len = blen;
        st->req_eos = 1;
        st->has_body = 1;
    }
    st->server_authority = 1;
    st->target.upstream = up;
    st->target.name = up->name;
    st->target.timeout = st->target.read_timeout = up->hc_timeout;
    st->target.retries = 0;
    h2gw_stream_queue(st, 0);
    return st;
}

/* Lets go of the check in flight: cancelled upstream if still open, its
 * window given back, the check's reference dropped. */
static void release_check(h2gw_server_t *sv)
{
    h2gw_stream_t *st = sv->hc_stream;
    h2gw_conn_t *conn = st->conn;

    sv->hc_stream = NULL;
    --sv->pool->hc_inflight;
    /* Its own timeout was the check's: the connection's stream timer
     * must not fire for it again (a second reset). */
    st->deadline = 0;
    if (conn && !h2gw_conn_is_dead(conn)) {
        h2gw_conn_stream_update(conn, st, 0, 0, 1);
        /* What it sent (a reset) goes out with the next flush. */
        h2gw_loop_timer(sv->loop, apr_time_now());
    }
    else {
        st->handler_gone = 1; /* the dead connection lets go of it */
    }
    h2gw_stream_unref(st);
}

/* The value of field name in fields (h2gw_field_t), or NULL. */
static const char *field(const apr_array_header_t *fields, const char *name)
{
    int i;

    for (i = 0; fields && i < fields->nelts; ++i) {
        const h2gw_field_t *f = &APR_ARRAY_IDX(fields, i, h2gw_field_t);

        if (!strcmp(f->name, name)) {
            return f->value;
        }
    }
    return NULL;
}

/* A copy of at most max bytes of s fit for a log line and the status
 * page: bytes outside printable ASCII become '?' (the upstream chose
 * them). */
static const char *printable(apr_pool_t *p, const char *s, size_t max)
{
    char *out = apr_pstrndup(p, s, max), *c;

    for (c = out; *c; ++c) {
        if (*c < 0x20 || *c > 0x7e) {
            *c = '?';
        }
    }
    return out;
}

/* Why the complete answer of a check fails it, or NULL when it passes. */
static const char *judge_answer(apr_pool_t *p, const h2gw_upstream_t *up,
                                const h2gw_stream_t *st)
{
    const char *gs;
    int serving;

    if (up->hc_kind == H2GW_HC_HTTP) {
        int ok = up->hc_status
                     ? (st->http_status < H2GW_HEALTH_STATUS_MAX
                        && up->hc_status[st->http_status])
                     : (st->http_status >= 200 && st->http_status < 300);

        return ok ? NULL : apr_psprintf(p, "status %d", st->http_status);
    }
    if (st->http_status != 200) {
        return apr_psprintf(p, "status %d", st->http_status);
    }
    /* In the trailers, or in the headers of a trailers-only answer. */
    gs = field(st->resp_trailers, "grpc-status");
    if (!gs) {
        gs = field(st->resp_fields, "grpc-status");
    }
    if (!gs) {
        return "no grpc-status";
    }
    if (strcmp(gs, "0")) {
        const char *msg = field(st->resp_trailers, "grpc-message");

        if (!msg) {
            msg = field(st->resp_fields, "grpc-message");
        }
        return apr_psprintf(p, "grpc-status %s%s%s%s", printable(p, gs, 8),
                            msg ? " (" : "", msg ? printable(p, msg, 80) : "",
                            msg ? ")" : "");
    }
    serving = h2gw_headers_grpc_health_serving(st->check_body, st->check_len);
    if (serving < 0) {
        return "no HealthCheckResponse in the answer";
    }
    return serving == GRPC_SERVING ? NULL : serving_name(serving);
}

/* Why the check that ended failed, or NULL when it passed. */
static const char *judge(apr_pool_t *p, const h2gw_upstream_t *up,
                         h2gw_stream_t *st)
{
    const char *reason;
    h2gw_fail_t fail = h2gw_stream_failure(st, p, &reason, NULL);

    if (fail != H2GW_FAIL_NONE) {
        return apr_psprintf(p, "%s%s%s%s", h2gw_stream_fail_name(fail),
                            reason ? " (" : "", reason ? reason : "",
                            reason ? ")" : "");
    }
    return judge_answer(p, up, st);
}

/* Counts the outcome of a check of sv: why it failed, or NULL when it
 * passed; takes sv out or brings it back when the count is reached. */
static void record(h2gw_server_t *sv, const char *why, apr_time_t now)
{
    const h2gw_upstream_t *up = sv->up;
    h2gw_loop_t *loop = sv->loop;

    sv->hc_last_at = now;
    if (!why) {
        apr_cpystrn(sv->hc_last, "passed", sizeof(sv->hc_last));
        sv->hc_fails = 0;
        if (sv->hc_passes < H2GW_MAX_HEALTH_COUNT) {
            ++sv->hc_passes;
        }
        /* It answers: a failure's retry= need not keep it out. */
        sv->down_until = 0;
        if (sv->hc_down && sv->hc_passes >= up->hc_passes) {
            sv->hc_down = 0;
            h2gw_server_gauges(sv);
            /* Logged as a warning like its going out: an administrator
             * who saw that line must see this one at the same level. */
            ap_log_error(
                APLOG_MARK, APLOG_WARNING, 0, loop->s,
                H2GW_LOGNO(00109) "upstream %s: server %s "
                                  "is up again by health check (%d passed in "
                                  "a row)",
                up->name, sv->conf->url, sv->hc_passes);
            /* Requests in the queue may go to it now. */
            h2gw_loop_timer(loop, now);
        }
        h2gw_server_gauges(sv);
        return;
    }
    ++sv->c->checks_failed;
    apr_snprintf(sv->hc_last, sizeof(sv->hc_last), "failed: %s", why);
    sv->hc_passes = 0;
    if (sv->hc_fails < H2GW_MAX_HEALTH_COUNT) {
        ++sv->hc_fails;
    }
    if (!sv->hc_down && sv->hc_fails >= up->hc_fails) {
        sv->hc_down = 1;
        h2gw_server_gauges(sv);
        /* Requests failing with every server down say why. */
        apr_snprintf(sv->last_error, sizeof(sv->last_error), "health check: %s",
                     why);
        sv->last_error_at = now;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, loop->s,
                     H2GW_LOGNO(00108) "upstream %s: server %s "
                                       "is down by health check (%s; %d "
                                       "failed in a row)",
                     up->name, sv->conf->url, why, sv->hc_fails);
    }
}

/* The check in flight of sv is over: judged (or failed with why),
 * counted, let go of. */
static void finish_check(h2gw_server_t *sv, const char *why, apr_time_t now)
{
    apr_pool_t *p;

    if (sv->loop->stopping) {
        /* Checks cut short by the child's exit say nothing of the server. */
        release_check(sv);
        return;
    }
    /* The verdict is built in the stream's pool, copied before it goes. */
    p = sv->hc_stream->pool;
    if (!why) {
        why = judge(p, sv->up, sv->hc_stream);
    }
    ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, sv->loop->s,
                 "upstream %s: health check of %s %s%s", sv->up->name,
                 sv->conf->url, why ? "failed: " : "passed", why ? why : "");
    record(sv, why, now);
    release_check(sv);
    h2gw_loop_timer(sv->loop, sv->hc_next);
}

/* Sends the next check of sv. */
static void start_check(h2gw_server_t *sv, apr_time_t now)
{
    h2gw_stream_t *st;
    char why[200];

    sv->hc_next = now + sv->up->hc_interval;
    if ((st = make_check(sv)) == NULL) {
        return;
    }
    sv->hc_stream = st;
    sv->hc_started = now;
    ++sv->pool->hc_inflight;
    switch (h2gw_pool_place_check(sv, st)) {
    case 1:
        ++sv->c->checks;
        h2gw_loop_timer(sv->loop, now + sv->up->hc_timeout);
        break;
    case 0:
        /* Not now (a lookup, or a server busy up to max-conns, which
         * answers requests): neither passed nor failed. */
        release_check(sv);
        break;
    default:
        ++sv->c->checks;
        apr_snprintf(why, sizeof(why), "%s (%s)",
                     h2gw_stream_fail_name(H2GW_FAIL_CONNECT),
                     st->held_reason ? st->held_reason : "connect failed");
        finish_check(sv, why, now);
        break;
    }
}

void h2gw_health_timers(h2gw_pool_t *pool, apr_time_t now)
{
    const h2gw_upstream_t *up = pool->up;
    int i;

    if (up->hc_kind == H2GW_HC_NONE) {
        return;
    }
    for (i = 0; i < pool->nservers; ++i) {
        h2gw_server_t *sv = &pool->servers[i];

        if (sv->hc_stream && now >= sv->hc_started + up->hc_timeout) {
            h2gw_stream_t *st = sv->hc_stream;
            h2gw_conn_t *conn = st->conn;
            char why[80];

            apr_snprintf(why, sizeof(why),
                         "timeout (no complete answer "
                         "within %" APR_TIME_T_FMT " ms)",
                         apr_time_as_msec(up->hc_timeout));

            /* Sent and unanswered: the connection may be dead (a frozen
             * server, a blackhole) and must prove it is not, or the next
             * checks would time out on it too. */
            if (conn && !h2gw_conn_is_dead(conn) && st->stream_id > 0) {
                h2gw_conn_suspect(conn, now);
            }
            /* Final, so that a connection still holding it unsent drops
             * it rather than sends it. */
            h2gw_stream_fail(st, H2GW_FAIL_TIMEOUT, "health check timed out");
            finish_check(sv, why, now);
        }
        if (sv->hc_stream) {
            h2gw_loop_timer(pool->loop, sv->hc_started + up->hc_timeout);
            continue;
        }
        if (pool->loop->stopping) {
            continue;
        }
        if (now >= sv->hc_next) {
            start_check(sv, now);
        }
        h2gw_loop_timer(pool->loop, sv->hc_stream
                                        ? sv->hc_started + up->hc_timeout
                                        : sv->hc_next);
    }
}

void h2gw_health_collect(h2gw_pool_t *pool)
{
    apr_time_t now;
    int i;

    if (!pool->hc_inflight) {
        return;
    }
    now = apr_time_now();
    for (i = 0; i < pool->nservers; ++i) {
        h2gw_server_t *sv = &pool->servers[i];

        /* (A check has no handler: the engine alone writes its state.) */
        if (sv->hc_stream && h2gw_stream_is_final(sv->hc_stream)) {
            finish_check(sv, NULL, now);
        }
    }
}

void h2gw_health_destroy(h2gw_pool_t *pool)
{
    int i;

    for (i = 0; i < pool->nservers; ++i) {
        if (pool->servers[i].hc_stream) {
            release_check(&pool->servers[i]);
        }
    }
}
