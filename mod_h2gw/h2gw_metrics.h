/*
 * h2gw_metrics: `SetHandler h2gw-metrics` serves the shared counters of
 * every child process (h2gw_counters) in the Prometheus text exposition
 * format, version 0.0.4: counters per upstream and server summed over all
 * children, gauges of the live ones, the response-header time as a
 * histogram. It reads shared memory only: it works whether or not this
 * child's engine runs, and costs the engine nothing.
 */
#ifndef H2GW_METRICS_H
#define H2GW_METRICS_H

#include <httpd.h>

/* The handler name for SetHandler. */
#define H2GW_METRICS_HANDLER "h2gw-metrics"

/* The content type of text format 0.0.4. */
#define H2GW_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The h2gw-metrics content handler: 200 with the metrics (GET, HEAD),
 * 405 for other methods, DECLINED for other handlers. */
int h2gw_metrics_handler(request_rec *r);

#endif /* H2GW_METRICS_H */
