/*
 * h2gw_handler: the request side. Claims requests that an H2GWPass maps
 * (translate_name, for server-level and <Location> passes) and runs the
 * content handler: resolve the upstream, submit, pump the request body,
 * write the response, finish. The handler sleeps in one poll() on its
 * client and its stream's wake descriptor. Maps stream failures to HTTP
 * answers and aborts responses that cannot complete.
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

/* child_stopping hook: a child that stops at once (not gracefully) wakes
 * every handler thread, so that those whose client socket the MPM closed
 * notice it and end. */
void h2gw_handler_child_stopping(apr_pool_t *pchild, int graceful);

/* The content handler. Returns DECLINED for requests not ours, OK when a
 * response (complete or aborted) went out, or an HTTP error status. */
int h2gw_handler_run(request_rec *r);

#endif /* H2GW_HANDLER_H */
