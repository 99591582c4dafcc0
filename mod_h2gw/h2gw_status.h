/*
 * h2gw_status: the status page. `SetHandler h2gw-status` shows the
 * counters summed over every child process and each live child's own
 * (from the shared counters, h2gw_counters), then, for the child process
 * that answers, each upstream and server: health, connections, streams,
 * the peer's SETTINGS and the counters; `?json` gives the same as JSON.
 * When mod_status is loaded its page gets the same sections. The engine
 * thread copies its process's pools (it owns them; handlers only ask and
 * wait, h2gw_engine_status()), and the handler's thread renders that
 * copy and the shared counters.
 */
#ifndef H2GW_STATUS_H
#define H2GW_STATUS_H

#include <httpd.h>
#include <apr_tables.h>

/* The handler name for SetHandler. */
#define H2GW_STATUS_HANDLER "h2gw-status"

/* The h2gw-status content handler. */
int h2gw_status_handler(request_rec *r);

/* Registers the section on mod_status's page (when it is loaded). */
void h2gw_status_register_hooks(apr_pool_t *p);

#endif /* H2GW_STATUS_H */
