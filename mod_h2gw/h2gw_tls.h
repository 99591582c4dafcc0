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

/* TLS parameters of an upstream, as configured (NULL / -1: not given). */
typedef struct h2gw_tls_conf_t {
    int verify;                /* -1, 0 or 1 */
    const char *ca_file;
    const char *ca_path;
    const char *name;          /* expected certificate name */
    const char *sni;           /* server name sent; "off": none */
    const char *cert_file;     /* client certificate (PEM) ... */
    const char *key_file;      /* ... and its key */
} h2gw_tls_conf_t;

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
