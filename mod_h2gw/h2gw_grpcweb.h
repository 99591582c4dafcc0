/*
 * h2gw_grpcweb: the gRPC-Web gateway (grpc/grpc doc/PROTOCOL-WEB.md) on
 * a pass with grpc-web=on. It turns a gRPC-Web request into a gRPC call
 * (content type, te: trailers, a -text body base64-decoded as it
 * streams) and the answer back (DATA streamed as it comes, -text
 * base64-encoded frame by frame, the upstream's trailers as the final
 * trailer frame in the body), answers CORS preflights, and turns every
 * failure into a gRPC-Web error rather than an HTML page. The handler
 * calls it at a few points; the byte-level work is h2gw_grpcweb_codec.
 * Everything lives in r->pool (one small record per request) except
 * the buckets handed to the output filters.
 */
#ifndef H2GW_GRPCWEB_H
#define H2GW_GRPCWEB_H

#include <httpd.h>
#include <apr_buckets.h>

#include "h2gw_config.h"
#include "h2gw_stream.h"

typedef struct h2gw_grpcweb_t h2gw_grpcweb_t;

/*
 * At the start of a request on a pass: *pgw is set for a gRPC-Web
 * request on a pass with grpc-web=on (NULL otherwise). Returns DECLINED
 * when the handler goes on proxying, or OK / an HTTP status when the
 * request was answered here: a CORS preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) on a pass with grpc-web-origins=, 204
 * with the CORS fields for an allowed origin, 403 for another.
 */
int h2gw_grpcweb_begin(request_rec *r, const h2gw_route_t *route,
                       h2gw_grpcweb_t **pgw);

/* Rewrites the copy of the request's fields that goes upstream: gRPC's
 * content type with the request's suffix, te: trailers, no x-grpc-web,
 * no Content-Length for a -text body (its decoded length differs). */
void h2gw_grpcweb_request_fields(h2gw_grpcweb_t *gw, apr_table_t *fields);

/*
 * A piece of the request body as the client sent it: for -text,
 * *data and *len are replaced by the decoded bytes (in memory of gw, valid
 * until the next call). Returns APR_SUCCESS, or APR_EINVAL for bytes
 * that are no base64.
 */
apr_status_t h2gw_grpcweb_body(h2gw_grpcweb_t *gw, const char **data,
                               apr_size_t *len);

/* The request body ended: APR_SUCCESS, or APR_EINVAL when a -text body
 * stopped inside a base64 quantum. */
apr_status_t h2gw_grpcweb_body_end(h2gw_grpcweb_t *gw);

/*
 * After the handler set the response status and fields on r: a gRPC
 * answer (200, application/grpc...) gets the gRPC-Web content type and
 * the CORS fields, and returns 0. Anything else (another status, another
 * content type) becomes a gRPC-Web error (gRPC's HTTP status mapping) in
 * the headers, and 1 is returned: the caller sends no body and ends the
 * response.
 */
int h2gw_grpcweb_response(h2gw_grpcweb_t *gw);

/*
 * Appends to bb the buckets for response chunks (ownership of the chunk
 * list passes here): binary ones unchanged, -text ones base64-encoded.
 * With st (at the response's clean end) the trailer frame built from
 * the upstream's trailers follows, unless the status came in the
 * headers (a trailers-only answer).
 */
void h2gw_grpcweb_data(h2gw_grpcweb_t *gw, apr_bucket_brigade *bb,
                       h2gw_chunk_t *head, h2gw_stream_t *st);

/*
 * The stream failed after the response began: when the body stands at
 * a frame boundary, ends it with a trailer frame carrying the failure's
 * gRPC status (UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, ...) and
 * returns APR_SUCCESS; otherwise (inside a message) returns APR_EGENERAL
 * and the caller aborts the response.
 */
apr_status_t h2gw_grpcweb_fail_body(h2gw_grpcweb_t *gw, h2gw_stream_t *st);

/*
 * Nothing went to the client and the handler would answer http_status:
 * answers a gRPC-Web error instead (200, grpc-status and grpc-message in
 * the headers, no body), its status from the stream's failure when st
 * has one, else from http_status. Returns OK.
 */
int h2gw_grpcweb_fail_headers(h2gw_grpcweb_t *gw, h2gw_stream_t *st,
                              int http_status);

#endif /* H2GW_GRPCWEB_H */
