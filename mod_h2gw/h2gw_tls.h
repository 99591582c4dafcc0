/*
 * h2gw_tls: OpenSSL client contexts for h2:// upstreams. One SSL_CTX per
 * upstream, built when the configuration is checked (so a missing CA file
 * or a key that does not match its certificate stops the config test),
 * inherited by the child processes. ALPN offers only "h2"; certificates
 * are verified against the system CAs unless a CA file or path is given
 * or verification is turned off; the expected name defaults to the
 * server's host. The per-connection part (SSL objects, non-blocking
 * handshake and I/O) lives in h2gw_conn.
 */
#ifndef H2GW_TLS_H
#define H2GW_TLS_H

#include <apr_pools.h>
#include <openssl/ssl.h>

#include "h2gw_params.h"

/* h2gw_tls_conf_t, the TLS parameters as configured, is one of the
 * parameters (h2gw_params.h). */

/*
 * Builds the SSL_CTX for conf in *pctx, freed with p. Returns NULL or a
 * message for the configuration error (from p).
 */
const char *h2gw_tls_ctx_create(apr_pool_t *p, const h2gw_tls_conf_t *conf,
                                SSL_CTX **pctx);

/* The last OpenSSL error of this thread as text (from p), the queue
 * cleared; "unknown" when there is none. */
const char *h2gw_tls_error(apr_pool_t *p);

#endif /* H2GW_TLS_H */
