/*
 * mod_h2gw.h: what every httpd-side file of the module shares: the module
 * record and the log tag macro. Pure files (headers, stream) do not
 * include it.
 */
#ifndef MOD_H2GW_H
#define MOD_H2GW_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

extern module AP_MODULE_DECLARE_DATA h2gw_module;

/* Log tags of our own namespace: H2GW_LOGNO(00012) → "H2GW00012: ". */
#define H2GW_LOGNO(n) "H2GW" #n ": "

/* The handler name that H2GWPass sets. */
#define H2GW_HANDLER "h2gw"

#endif /* MOD_H2GW_H */
