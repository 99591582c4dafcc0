/*
 * h2gw_req: one proxied request as the handler's files share it (the
 * handler, its body pump, its response writer and its wait): the
 * request, its route and stream, the client's descriptors, and how far
 * the response got. It lives on the stack of h2gw_handler_run() for the
 * request's life, and only that worker thread touches it; the engine
 * thread shares the stream, never this.
 */
#ifndef H2GW_REQ_H
#define H2GW_REQ_H

#include <httpd.h>
#include <http_log.h>
#include <apr_buckets.h>

#include "h2gw_config.h"
#include "h2gw_engine.h"
#include "h2gw_grpcweb.h"
#include "h2gw_stream.h"

/* Bytes asked from the input filters per read of the request body. */
#define H2GW_REQ_READ_CHUNK (64 * 1024)

typedef struct h2gw_req_t {
    request_rec *r;
    h2gw_engine_t *engine;
    h2gw_stream_t *st;
    h2gw_route_t route;
    apr_bucket_brigade *bb;
    int headers_sent;          /* the response started going to the client */
    int eos_sent;              /* the response went out complete */
    int unflushed;             /* body passed on without a FLUSH since */
    apr_off_t resp_length;     /* the response's Content-Length (-1: none) */
    apr_off_t resp_sent;       /* response body bytes passed on */
    size_t resp_want;          /* the wait for the upstream ends on this
                                * many bytes of response body (0: any) */
    int resp_unbatched;        /* a batch wait timed out: the next wait
                                * takes any byte */
    int wait_timed_out;        /* the last h2gw_wait_event() ended on its
                                * timeout */
    apr_time_t submitted;      /* when the engine got the stream */
    apr_time_t headers_at;     /* when the response headers were taken */
    int wake_fd;               /* this thread's eventfd
                                * (h2gw_wait_thread_fd()) */
    int client_fd;             /* what tells of client input: the socket
                                * (HTTP/1), mod_http2's input pipe; -1:
                                * nothing (looked at every HANDLER_TICK,
                                * h2gw_wait.c) */
    int client_pipe;           /* client_fd is mod_http2's pipe */
    int body_done;             /* the request body was read to its end */
    int batch_wait;            /* the last read found body bytes: the next
                                * wait may ask for a batch (SO_RCVLOWAT) */
    int body_counted;          /* among the HTTP/2 bodies read now
                                * (h2gw_wait_body_begin()) */
    apr_bucket_brigade *probe_bb;  /* for h2_input_aborted() */
    h2gw_grpcweb_t *gw;        /* a gRPC-Web request: translated */
} h2gw_req_t;

#define REQ_LOG(ctx, lvl, rv, fmt, ...)                                      \
    ap_log_rerror(APLOG_MARK, lvl, rv, (ctx)->r, fmt, __VA_ARGS__)

#endif /* H2GW_REQ_H */
