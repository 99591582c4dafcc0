/*
 * h2gw_body: the request body, from the client's input filters into the
 * stream's bounded buffer, with the response relayed meanwhile (both
 * directions move at once). Also the waits around it: the upstream's 100
 * Continue, the rest of a body the upstream did not want, and an HTTP/2
 * client's end of stream after a complete response.
 */
#ifndef H2GW_BODY_H
#define H2GW_BODY_H

#include <httpd.h>

#include "h2gw_req.h"

/* The request body's length as its Content-Length declares it, or -1
 * when it has none that counts (a Transfer-Encoding: chunked over
 * HTTP/1.1, or set by mod_http2 for a body of unknown length). */
apr_off_t h2gw_body_length(request_rec *r);

/*
 * For a request with "Expect: 100-continue": waits for the upstream to
 * ask for the body (100) or answer without it (a final response, e.g.
 * 413, or a failure). An upstream that ignores Expect gets the body
 * after EXPECT_WAIT, as RFC 9110 §10.1.1 has clients do. Returns
 * APR_SUCCESS to send the body, APR_EOF when it is not wanted,
 * APR_ECONNABORTED when the client went away.
 */
apr_status_t h2gw_body_await_continue(h2gw_req_t *ctx);

/*
 * Streams the request body from the input filters into the stream,
 * relaying response parts that arrive meanwhile: request and response
 * move at once (gRPC bidirectional calls). Reads never block; when the
 * client has nothing at hand, the handler sleeps in one wait on its
 * client and its stream (h2gw_wait_event()). Returns APR_SUCCESS when the
 * body is complete, APR_ECONNABORTED when the stream ended first (the
 * response decides) or the client went away, or the input error.
 */
apr_status_t h2gw_body_pump(h2gw_req_t *ctx);

/*
 * For an HTTP/2 client whose body httpd ended at its Content-Length: the
 * stream's END_STREAM may come a moment after the last byte. A handler
 * that returns before it came has mod_http2 reset the stream after the
 * complete response (RST_STREAM NO_ERROR, RFC 9113 §8.1), which some
 * clients take for a failed request (curl 7.88: "Empty reply from
 * server"). So it waits for the end on the input pipe, at most
 * CLIENT_END_WAIT; reads below httpd's body filter see it.
 */
void h2gw_body_await_client_end(h2gw_req_t *ctx);

/*
 * After a complete response to an HTTP/1 request whose body had not
 * ended (see DRAIN_MAX): reads and drops the rest of the body. Returns 1
 * when it ended within the bounds, 0 otherwise (the caller closes the
 * connection).
 */
int h2gw_body_drain(h2gw_req_t *ctx);

#endif /* H2GW_BODY_H */
