/*
 * h2gw_handler: the request side. Claims requests that an H2GWPass maps
 * (translate_name, for server-level and <Location> passes) and runs the
 * content handler: resolve the upstream, submit, pump the request body,
 * write the response, finish. The steps live beside it: h2gw_body (the
 * request body), h2gw_response (the response writer), h2gw_wait (the one
 * poll() on the client and the stream's wake descriptor), h2gw_map (the
 * URL mappings). Maps stream failures to HTTP answers.
 */
#ifndef H2GW_HANDLER_H
#define H2GW_HANDLER_H

#include <httpd.h>

/* translate_name hook: claims r when a server-level H2GWPass matches, or
 * its merged <Location> config carries one. Returns OK (claimed) or
 * DECLINED. */
int h2gw_handler_translate(request_rec *r);

/* map_to_storage hook: skips the file-system walk for claimed requests.
 * Returns OK (claimed) or DECLINED. */
int h2gw_handler_map_to_storage(request_rec *r);

/* The content handler. Returns DECLINED for requests not ours, OK when a
 * response (complete or aborted) went out, or an HTTP error status. */
int h2gw_handler_run(request_rec *r);

#endif /* H2GW_HANDLER_H */
