/*
 * h2gw_response: the response writer. Moves what the stream holds for the
 * client (interim responses, the final status and fields with URIs mapped
 * back, body chunks without a copy, trailers, the end) to the output
 * filters, gives the window back to the engine for what went out, and
 * cuts a response that cannot complete. Never waits: the caller sleeps
 * (h2gw_wait_event()) when nothing is at hand.
 */
#ifndef H2GW_RESPONSE_H
#define H2GW_RESPONSE_H

#include "h2gw_req.h"

/*
 * Moves everything the stream holds for the client to the client,
 * without waiting. Returns APR_EAGAIN when nothing more is at hand (what
 * went to the output filters was flushed: the caller may sleep), APR_EOF
 * when the response is complete, APR_EGENERAL when the stream failed,
 * APR_ECONNABORTED when the client is gone.
 */
apr_status_t h2gw_response_relay_all(h2gw_req_t *ctx);

/*
 * Before the handler waits for the upstream (after relay_all() said
 * APR_EAGAIN): how long it may wait (-1: no limit), and what it waits
 * for (ctx->resp_want). A body of known length that is still coming is
 * waited for in batches (half the stream window, or all the rest): one
 * handler and one engine wake-up per batch instead of per read from the
 * upstream. What was written to the client is told first, so that the
 * upstream's window can hold the batch; and the wait lasts at most
 * H2GW_RESP_LINGER, after which what came goes out and the next wait
 * takes any byte (the one after asks for a batch again).
 */
apr_interval_time_t h2gw_response_next_wait(h2gw_req_t *ctx);

/* After the headers went out, the response can only be cut: the client
 * must never take it for complete (HTTP/1.1: connection closed before the
 * end; HTTP/2: stream reset). */
void h2gw_response_abort(h2gw_req_t *ctx);

#endif /* H2GW_RESPONSE_H */
