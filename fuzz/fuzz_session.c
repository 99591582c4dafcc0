/*
 * fuzz_session: arbitrary bytes as what an upstream server sends, fed
 * into a real h2gw connection (the nghttp2 client session with the
 * module's callbacks, streams, flow-control accounting and pool
 * bookkeeping), without a socket. Three requests are outstanding (one
 * with a request body); the input is cut into pieces by its own bytes,
 * and between pieces the "handler" drains response data and reports it
 * consumed, as the real handler does. Afterwards the connection is torn
 * down: no stream may still be linked to it or referenced by the engine,
 * and nothing may leak (ASan/LSan).
 *
 * Layout of an input: byte 0 picks the piece sizes; the rest is the
 * server's byte stream (a valid one starts with a SETTINGS frame).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>

#include "mod_h2gw.h"
#include "h2gw_config.h"
#include "h2gw_conn.h"
#include "h2gw_pool.h"

/* What the module record and httpd's logger would provide. */
module AP_MODULE_DECLARE_DATA h2gw_module;

AP_DECLARE(void) ap_log_error_(const char *file, int line, int module_index,
                               int level, apr_status_t status,
                               const server_rec *s, const char *fmt, ...)
{
    (void)file; (void)line; (void)module_index; (void)level;
    (void)status; (void)s; (void)fmt;
}

static apr_pool_t *root;
static server_rec server;
static h2gw_upstream_t upstream;

static void init_once(void)
{
    h2gw_server_conf_t *sv;

    if (root) {
        return;
    }
    apr_initialize();
    apr_pool_create(&root, NULL);
    server.log.level = APLOG_EMERG;
    upstream.name = "fuzz";
    upstream.servers = apr_array_make(root, 1, sizeof(h2gw_server_conf_t));
    sv = apr_array_push(upstream.servers);
    sv->url = "h2c://127.0.0.1:1";
    sv->scheme = "h2c";
    sv->host = "127.0.0.1";
    sv->port = 1;
    sv->authority = "127.0.0.1:1";
    upstream.lb = H2GW_LB_LEAST_STREAMS;
    upstream.max_conns = 1;
    upstream.max_streams = 100;
    upstream.connect_timeout = apr_time_from_sec(10);
    upstream.queue_timeout = apr_time_from_sec(5);
    upstream.retry = apr_time_from_sec(5);
    upstream.idle_timeout = apr_time_from_sec(60);
    upstream.settings_timeout = apr_time_from_sec(5);
    upstream.stream_window = 65535;
    upstream.conn_window = 1 << 20;
    upstream.max_frame_size = 16384;
    upstream.header_table_size = 4096;
    upstream.max_header_list = 64 * 1024;
}

#define NSTREAMS 3

static h2gw_stream_t *make_stream(int with_body)
{
    static const char *names[] = {":method", ":scheme", ":authority",
                                  ":path"};
    const char *values[] = {with_body ? "POST" : "GET", "http",
                            "127.0.0.1:1", "/fuzz"};
    h2gw_stream_t *st;
    size_t took;
    int wake, i;

    if (h2gw_stream_create(&st, with_body ? 4096 : 0) != APR_SUCCESS) {
        abort();
    }
    st->nv = apr_pcalloc(st->pool, 4 * sizeof(nghttp2_nv));
    for (i = 0; i < 4; ++i) {
        st->nv[i].name = (uint8_t *)names[i];
        st->nv[i].namelen = strlen(names[i]);
        st->nv[i].value = (uint8_t *)values[i];
        st->nv[i].valuelen = strlen(values[i]);
    }
    st->nvlen = 4;
    st->server_authority = 1;
    st->has_body = with_body;
    st->target.upstream = &upstream;
    st->target.name = upstream.name;
    st->target.timeout = apr_time_from_sec(60);
    st->target.read_timeout = apr_time_from_sec(60);
    st->target.retries = 1;
    if (with_body) {
        h2gw_stream_put_body(st, "hello, upstream", 15, 0, &took, &wake);
        st->req_eos = 1;
    }
    /* As the engine does at submit. */
    st->state = H2GW_STREAM_ST_QUEUED;
    h2gw_stream_ref(st);
    st->engine_ref = 1;
    st->retries_left = 1;
    return st;
}

/* The handler's side: take what arrived, report it consumed. */
static void drain(h2gw_conn_t *conn, h2gw_stream_t **sts)
{
    int i;

    for (i = 0; i < NSTREAMS; ++i) {
        h2gw_chunk_t *head;
        size_t len;
        int eos;

        if (h2gw_stream_take_data(sts[i], &head, &len, &eos, 0)
                == APR_SUCCESS
            && len > 0) {
            h2gw_stream_free_chunks(head);
            if (sts[i]->conn == conn && !h2gw_conn_is_dead(conn)) {
                h2gw_conn_stream_update(conn, sts[i], 0, len, 0);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    h2gw_loop_t loop;
    h2gw_pool_t *pool;
    h2gw_conn_t *conn;
    h2gw_stream_t *sts[NSTREAMS];
    size_t off = 1, piece;
    int i;

    if (size < 1) {
        return 0;
    }
    init_once();
    apr_pool_create(&p, root);
    memset(&loop, 0, sizeof(loop));
    loop.pool = p;
    loop.s = &server;
    pool = h2gw_pool_create(&loop, &upstream);
    if (h2gw_conn_new(&conn, &pool->servers[0], &loop) != APR_SUCCESS
        || h2gw_conn_start_session(conn) != APR_SUCCESS) {
        abort();
    }
    pool->servers[0].conns = conn;
    pool->servers[0].nconns = 1;
    for (i = 0; i < NSTREAMS; ++i) {
        sts[i] = make_stream(i == 1);
        h2gw_conn_add_stream(conn, sts[i]);
    }
    h2gw_conn_flush(conn);
    piece = 1 + (size_t)(data[0] % 64) * 7;
    while (off < size && !h2gw_conn_is_dead(conn)) {
        size_t n = size - off < piece ? size - off : piece;

        h2gw_conn_recv(conn, data + off, n);
        off += n;
        drain(conn, sts);
        h2gw_conn_flush(conn);
    }
    /* The handlers finish (the engine's release), then the connection
     * goes away. */
    for (i = 0; i < NSTREAMS; ++i) {
        if (sts[i]->conn == conn && !h2gw_conn_is_dead(conn)) {
            h2gw_conn_stream_update(conn, sts[i], 0, 0, 1);
        }
        else {
            sts[i]->handler_gone = 1;
        }
    }
    h2gw_conn_flush(conn);
    h2gw_conn_kill(conn, H2GW_FAIL_CONN_LOST, "fuzz input ended");
    h2gw_conn_destroy(conn);
    pool->servers[0].conns = NULL;
    /* Streams given back for a resend: the engine drops them when their
     * handler is gone. */
    while (loop.retries) {
        h2gw_stream_t *st = loop.retries;

        loop.retries = st->retry_next;
        st->engine_ref = 0;
        h2gw_stream_unref(st);
    }
    for (i = 0; i < NSTREAMS; ++i) {
        int ok;

        apr_thread_mutex_lock(sts[i]->lock);
        ok = !sts[i]->conn && !sts[i]->engine_ref && sts[i]->refs == 1;
        apr_thread_mutex_unlock(sts[i]->lock);
        if (!ok) {
            abort();  /* a stream left open or still referenced */
        }
        h2gw_stream_unref(sts[i]);  /* the handler's */
    }
    apr_pool_destroy(p);
    return 0;
}
