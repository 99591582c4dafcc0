/*
 * h2gw_tls: client SSL_CTX setup for h2:// upstreams.
 */
#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "h2gw_tls.h"

/* A new session (TLS 1.3: a ticket, which may come after the handshake)
 * replaces the server's saved one; the SSL's app data points at that
 * slot (h2gw_server_t::tls_session). A copy is kept: OpenSSL marks the
 * connection's own session not resumable when the connection ends
 * without close_notify, as a connection the upstream closed does. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    SSL_SESSION **slot = SSL_get_app_data(ssl);
    SSL_SESSION *copy;

    if (!slot || !(copy = SSL_SESSION_dup(sess))) {
        return 0;
    }
    if (*slot) {
        SSL_SESSION_free(*slot);
    }
    *slot = copy;
    return 0;  /* the connection's reference is not ours */
}

static apr_status_t ctx_free(void *data)
{
    SSL_CTX_free(data);
    return APR_SUCCESS;
}

const char *h2gw_tls_error(apr_pool_t *p)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    ERR_clear_error();
    if (!e) {
        return "unknown";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    return apr_pstrdup(p, buf);
}

const char *h2gw_tls_ctx_create(apr_pool_t *p, const h2gw_tls_conf_t *conf,
                                SSL_CTX **pctx)
{
    /* ALPN: a length-prefixed list with just "h2" (RFC 7301). */
    static const unsigned char alpn[] = {2, 'h', '2'};
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    *pctx = NULL;
    if (!ctx) {
        return apr_psprintf(p, "cannot create a TLS context: %s",
                            h2gw_tls_error(p));
    }
    apr_pool_cleanup_register(p, ctx, ctx_free, apr_pool_cleanup_null);
    /* RFC 9113 §9.2: TLS 1.2 or later for HTTP/2. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                              | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                              | SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn)) != 0) {
        return "cannot set ALPN";
    }
    /* Sessions are kept per server by the connection code (resumption
     * on reconnect); OpenSSL's internal client cache is of no use. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
                                            | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session);
    if (conf->verify != 0) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (conf->ca_file || conf->ca_path) {
            if (!SSL_CTX_load_verify_locations(ctx, conf->ca_file,
                                               conf->ca_path)) {
                return apr_psprintf(p, "cannot load CA certificates from "
                                    "%s: %s",
                                    conf->ca_file ? conf->ca_file
                                                  : conf->ca_path,
                                    h2gw_tls_error(p));
            }
        }
        else if (!SSL_CTX_set_default_verify_paths(ctx)) {
            return apr_psprintf(p, "cannot load the system CA "
                                "certificates: %s", h2gw_tls_error(p));
        }
    }
    else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (conf->cert_file || conf->key_file) {
        if (!conf->cert_file || !conf->key_file) {
            return "a client certificate needs both tls-cert= and tls-key=";
        }
        if (SSL_CTX_use_certificate_chain_file(ctx, conf->cert_file) != 1) {
            return apr_psprintf(p, "cannot load client certificate %s: %s",
                                conf->cert_file, h2gw_tls_error(p));
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, conf->key_file,
                                        SSL_FILETYPE_PEM) != 1) {
            return apr_psprintf(p, "cannot load client key %s: %s",
                                conf->key_file, h2gw_tls_error(p));
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            return apr_psprintf(p, "client key %s does not match "
                                "certificate %s", conf->key_file,
                                conf->cert_file);
        }
    }
    *pctx = ctx;
    return NULL;
}
