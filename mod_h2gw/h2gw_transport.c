/*
 * h2gw_transport: the bytes under an upstream connection's session, on
 * the engine thread: the non-blocking connect to one of the server's
 * addresses, the TLS handshake (ALPN h2, SNI, verification) and TLS or
 * plain reads and writes, the output buffer the session's frames are
 * gathered in, and the socket's poll events. It knows nothing of HTTP/2:
 * what it reads goes to h2gw_session_recv(), what it writes the session
 * put in the output buffer. The connection's life (h2gw_conn) decides
 * when any of this runs.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <apr_strings.h>
#include <apr_portable.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "mod_h2gw.h"
#include "h2gw_conn.h"
#include "h2gw_session.h"
#include "h2gw_transport.h"

APLOG_USE_MODULE(h2gw);

/* Bytes read from the socket per call; one read hands nghttp2 a batch. */
#define READ_CHUNK (256 * 1024)
/* Most bytes read per poll event, so one busy connection cannot starve
 * the others on the engine thread. */
#define READ_BUDGET (1024 * 1024)

apr_status_t h2gw_transport_set_events(h2gw_conn_t *conn, apr_int16_t events)
{
    apr_status_t rv;

    if (conn->pfd.reqevents == events) {
        return APR_SUCCESS;
    }
    apr_pollset_remove(conn->loop->pollset, &conn->pfd);
    conn->pfd.reqevents = events;
    rv = apr_pollset_add(conn->loop->pollset, &conn->pfd);
    return rv;
}

/* Makes room for `need` more bytes of output. Returns 0 when there is
 * none without growing the buffer and `grow` is 0; the buffer grows only
 * for a frame larger than the room a written buffer has. */
int h2gw_transport_out_room(h2gw_conn_t *conn, size_t need, int grow)
{
    size_t held;

    if (conn->woff > 0) {
        memmove(conn->wbuf, conn->wbuf + conn->woff, conn->wlen - conn->woff);
        conn->wlen -= conn->woff;
        conn->woff = 0;
    }
    if (conn->wlen + need <= conn->wcap) {
        return 1;
    }
    held = conn->wlen;
    if (held > 0 && !grow) {
        return 0;
    }
    {
        uint8_t *nbuf = apr_palloc(conn->pool, held + need);

        memcpy(nbuf, conn->wbuf, held);
        conn->wbuf = nbuf;
        conn->wcap = held + need;
    }
    return 1;
}


static int is_ip_literal(const char *h)
{
    return strchr(h, ':') != NULL || strspn(h, "0123456789.") == strlen(h);
}

/* A failed handshake: the server is skipped for retry= (a certificate or
 * ALPN problem does not go away by asking again at once). */
static void tls_fail(h2gw_conn_t *conn, const char *why)
{
    CONN_LOG(conn, APLOG_WARNING, 0, H2GW_LOGNO(00316) "%s", why);
    h2gw_server_down(conn->srv, H2GW_FAIL_TLS, why);
    h2gw_conn_kill(conn, H2GW_FAIL_TLS, why);
}

/* OpenSSL's error queue belongs to the thread, and the engine thread runs
 * every TLS connection of the process: whatever one connection's failed
 * call left there would be read by SSL_get_error() after the next call of
 * another (any non-empty queue turns its WANT_READ into SSL_ERROR_SSL),
 * and a healthy connection would be dropped for someone else's
 * certificate error. So the queue is emptied before every TLS call, and
 * what a failed call left is read (and removed) for that call only. */
static void tls_clear_errors(void)
{
    ERR_clear_error();
}

void h2gw_transport_tls_handshake(h2gw_conn_t *conn)
{
    int rc;
    const unsigned char *proto = NULL;
    unsigned int plen = 0;
    long vr;

    tls_clear_errors();
    rc = SSL_do_handshake(conn->ssl);
    if (rc != 1) {
        switch (SSL_get_error(conn->ssl, rc)) {
        case SSL_ERROR_WANT_READ:
            h2gw_transport_set_events(conn, APR_POLLIN);
            return;
        case SSL_ERROR_WANT_WRITE:
            h2gw_transport_set_events(conn, APR_POLLOUT);
            return;
        default:
            vr = SSL_get_verify_result(conn->ssl);
            if (ERR_GET_REASON(ERR_peek_error())
                == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) {
                tls_clear_errors();
                tls_fail(conn, "TLS: the upstream did not agree to h2 "
                               "(ALPN: no application protocol)");
                return;
            }
            if (vr != X509_V_OK) {
                tls_clear_errors();  /* the verify result says it all */
            }
            tls_fail(conn, vr != X509_V_OK
                               ? apr_psprintf(conn->pool, "TLS: certificate "
                                              "verification failed: %s",
                                              X509_verify_cert_error_string(
                                                  vr))
                               : apr_psprintf(conn->pool, "TLS handshake "
                                              "failed: %s",
                                              h2gw_tls_error(conn->pool)));
            return;
        }
    }
    ++conn->srv->c->tls_handshakes;
    SSL_get0_alpn_selected(conn->ssl, &proto, &plen);
    if (plen != 2 || memcmp(proto, "h2", 2)) {
        /* RFC 9113 §3.2: h2 over TLS is chosen by ALPN, nothing else. */
        tls_fail(conn, plen ? apr_psprintf(conn->pool, "TLS: the upstream "
                                           "chose ALPN '%.*s', not h2",
                                           (int)plen, proto)
                            : "TLS: the upstream did not agree to h2 "
                              "(no ALPN)");
        return;
    }
    if (SSL_session_reused(conn->ssl)) {
        ++conn->srv->c->tls_resumed;
    }
    if (h2gw_conn_start_session(conn) != APR_SUCCESS) {
        h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "session setup failed");
        return;
    }
    CONN_LOG(conn, APLOG_DEBUG, 0, "TLS up (%s%s)", SSL_get_version(conn->ssl),
             SSL_session_reused(conn->ssl) ? ", resumed" : "");
}

/* TCP is up: begins the TLS handshake, non-blocking like the rest. */
static void tls_start(h2gw_conn_t *conn)
{
    const h2gw_upstream_t *up = UPSTREAM(conn);
    const h2gw_tls_conf_t *tc = &up->params.tls;
    const char *host = conn->srv->conf->host;
    const char *sni = tc->sni ? tc->sni : host;
    apr_os_sock_t fd;

    apr_os_sock_get(&fd, conn->sock);
    tls_clear_errors();
    conn->ssl = up->ssl_ctx ? SSL_new(up->ssl_ctx) : NULL;
    if (!conn->ssl || SSL_set_fd(conn->ssl, fd) != 1) {
        tls_fail(conn, apr_psprintf(conn->pool, "TLS setup failed: %s",
                                    h2gw_tls_error(conn->pool)));
        return;
    }
    /* New sessions (tickets) go to the server's slot; the last one is
     * offered on the next connect. */
    SSL_set_app_data(conn->ssl, &conn->srv->tls_session);
    if (conn->srv->tls_session) {
        SSL_set_session(conn->ssl, conn->srv->tls_session);
        CONN_LOG(conn, APLOG_DEBUG, 0, "%s", "offering the saved TLS session");
    }
    /* SNI names a host, never an address (RFC 6066 §3). */
    if (strcasecmp(sni, "off") && !is_ip_literal(sni)) {
        SSL_set_tlsext_host_name(conn->ssl, sni);
    }
    if (tc->verify != 0) {
        const char *name = tc->name ? tc->name : host;
        X509_VERIFY_PARAM *vp = SSL_get0_param(conn->ssl);

        if (!tc->name && is_ip_literal(host)) {
            X509_VERIFY_PARAM_set1_ip_asc(vp, host);
        }
        else {
            SSL_set1_host(conn->ssl, name);
        }
    }
    SSL_set_connect_state(conn->ssl);
    h2gw_conn_transit(conn, H2GW_CONN_ST_TLS, "TCP connected");
    h2gw_transport_tls_handshake(conn);
}

/* Reads what the transport has: like apr_socket_recv(), through TLS when
 * there is TLS. */
static apr_status_t transport_recv(h2gw_conn_t *conn, uint8_t *buf,
                                   apr_size_t *len)
{
    int n;

    if (!conn->ssl) {
        return apr_socket_recv(conn->sock, (char *)buf, len);
    }
    tls_clear_errors();
    n = SSL_read(conn->ssl, buf, (int)*len);
    if (n > 0) {
        *len = (apr_size_t)n;
        return APR_SUCCESS;
    }
    *len = 0;
    switch (SSL_get_error(conn->ssl, n)) {
    case SSL_ERROR_WANT_READ:
        return APR_EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        conn->tls_want_write = 1;
        return APR_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return APR_EOF;
    case SSL_ERROR_SYSCALL:
        if (!ERR_peek_error()) {
            return errno ? APR_FROM_OS_ERROR(errno) : APR_EOF;
        }
        /* fall through */
    default:
        conn->transport_error = apr_psprintf(conn->pool, "TLS read: %s",
                                             h2gw_tls_error(conn->pool));
        CONN_LOG(conn, APLOG_WARNING, 0, H2GW_LOGNO(00317) "%s",
                 conn->transport_error);
        return APR_EGENERAL;
    }
}

/* Writes: like apr_socket_send(), through TLS when there is TLS. */
static apr_status_t transport_send(h2gw_conn_t *conn, const uint8_t *data,
                                   apr_size_t *len)
{
    int n;

    if (!conn->ssl) {
        return apr_socket_send(conn->sock, (const char *)data, len);
    }
    tls_clear_errors();
    n = SSL_write(conn->ssl, data, (int)*len);
    if (n > 0) {
        *len = (apr_size_t)n;
        return APR_SUCCESS;
    }
    *len = 0;
    switch (SSL_get_error(conn->ssl, n)) {
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_READ:
        return APR_EAGAIN;
    default:
        CONN_LOG(conn, APLOG_WARNING, 0, H2GW_LOGNO(00318) "TLS write: %s",
                 h2gw_tls_error(conn->pool));
        return APR_EGENERAL;
    }
}

void h2gw_transport_on_connected(h2gw_conn_t *conn)
{
    int err = 0;
    socklen_t len = sizeof(err);
    apr_os_sock_t fd;
    apr_status_t rv;

    apr_os_sock_get(&fd, conn->sock);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        err = errno;
    }
    if (err) {
        const char *why = apr_psprintf(conn->pool, "%s", strerror(err));

        h2gw_server_t *sv = conn->srv;
        char ip[64] = "?";

        apr_sockaddr_ip_getbuf(ip, sizeof(ip), conn->addr);
        /* A server out by its health checks is expected to fail: its
         * checks' connects say nothing new. */
        CONN_LOG(conn, sv->hc_down ? APLOG_TRACE1 : APLOG_WARNING, err,
                 H2GW_LOGNO(00307) "connect to %s:%d (%s) failed",
                 sv->conf->host, sv->conf->port, ip);
        (void)h2gw_server_resolve(sv);  /* the name may have moved */
        if (h2gw_server_addr_failed(sv)) {
            /* Another address of the host is left to try: this one costs
             * the connection only, its streams go to the next. */
            h2gw_conn_kill(conn, H2GW_FAIL_CONNECT, why);
            return;
        }
        h2gw_server_down(sv, H2GW_FAIL_CONNECT,
                              apr_psprintf(conn->pool, "connect: %s", why));
        h2gw_conn_kill(conn, H2GW_FAIL_CONNECT, why);
        return;
    }
    if (conn->srv->conf->tls) {
        tls_start(conn);
        return;
    }
    if ((rv = h2gw_conn_start_session(conn)) != APR_SUCCESS) {
        h2gw_conn_kill(conn, H2GW_FAIL_INTERNAL, "session setup failed");
        return;
    }
    CONN_LOG(conn, APLOG_DEBUG, 0, "%s", "connected");
}

/* Reads what the socket has (up to READ_BUDGET) into the session. */
void h2gw_transport_read(h2gw_conn_t *conn)
{
    uint8_t *buf = conn->loop->rbuf;
    size_t total = 0;

    if (!buf) {
        buf = conn->loop->rbuf = apr_palloc(conn->loop->pool, READ_CHUNK);
    }

    conn->tls_want_write = 0;
    /* TLS may hold a decrypted record the socket no longer signals. */
    while ((total < READ_BUDGET || (conn->ssl && SSL_pending(conn->ssl)))
           && !h2gw_conn_is_dead(conn)) {
        apr_size_t len = READ_CHUNK;
        apr_status_t rv = transport_recv(conn, buf, &len);

        if (len > 0) {
            total += len;
            h2gw_session_recv(conn, buf, len);
            if (h2gw_conn_is_dead(conn)) {
                return;
            }
            if (!conn->ssl && rv == APR_SUCCESS && len < READ_CHUNK) {
                /* A short read emptied the socket: no read just to learn
                 * EAGAIN (the pollset says when more arrives). */
                return;
            }
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return;
        }
        if (rv == APR_EOF) {
            CONN_LOG(conn, APLOG_DEBUG, 0, "%s", "closed by upstream");
            h2gw_conn_kill(conn, H2GW_FAIL_CONN_LOST,
                           "connection closed by upstream");
            return;
        }
        if (rv != APR_SUCCESS) {
            CONN_LOG(conn, APLOG_WARNING, rv, H2GW_LOGNO(00309) "%s",
                     "read failed");
            h2gw_conn_kill(conn, conn->ssl ? H2GW_FAIL_TLS
                                           : H2GW_FAIL_CONN_LOST,
                           conn->transport_error ? conn->transport_error
                                                 : "upstream connection "
                                                   "broke");
            return;
        }
    }
}

apr_status_t h2gw_transport_connect(h2gw_conn_t *conn)
{
    h2gw_server_t *sv = conn->srv;
    apr_pool_t *pool = conn->pool;
    apr_status_t rv;
    int tries;

    if ((rv = h2gw_server_addrs(sv)) != APR_SUCCESS) {
        return rv;
    }
    /* Connections take the addresses in turn; each has its own copy, so
     * that a new lookup can free the old list under it. One refused at
     * once (loopback answers a connect synchronously) hands over to the
     * next, until each was tried. */
    for (tries = 0; tries < h2gw_server_naddrs(sv); ++tries) {
        rv = apr_sockaddr_info_copy(&conn->addr,
                                    h2gw_server_next_addr(sv), pool);
        if (rv == APR_SUCCESS) {
            rv = apr_socket_create(&conn->sock, conn->addr->family,
                                   SOCK_STREAM, APR_PROTO_TCP, pool);
        }
        if (rv == APR_SUCCESS) {
            apr_socket_opt_set(conn->sock, APR_TCP_NODELAY, 1);
            apr_socket_opt_set(conn->sock, APR_SO_NONBLOCK, 1);
            apr_socket_timeout_set(conn->sock, 0);
            rv = apr_socket_connect(conn->sock, conn->addr);
            if (rv == APR_SUCCESS || APR_STATUS_IS_EINPROGRESS(rv)) {
                rv = APR_SUCCESS;
                break;
            }
            apr_socket_close(conn->sock);
            conn->sock = NULL;
        }
    }
    if (rv == APR_SUCCESS) {
        conn->pfd.desc_type = APR_POLL_SOCKET;
        conn->pfd.desc.s = conn->sock;
        conn->pfd.client_data = conn;
        conn->pfd.reqevents = APR_POLLOUT;
        rv = apr_pollset_add(conn->loop->pollset, &conn->pfd);
    }
    if (rv != APR_SUCCESS) {
        (void)h2gw_server_resolve(sv);  /* the name may have moved */
        if (conn->sock) {
            apr_socket_close(conn->sock);
            conn->sock = NULL;
        }
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t h2gw_transport_write(h2gw_conn_t *conn)
{
    apr_size_t len;
    apr_status_t rv;

    if (!conn->sock) {
        /* Driven without a socket (fuzzing): the output goes nowhere. */
        conn->woff = conn->wlen = 0;
        return APR_SUCCESS;
    }
    len = conn->wlen - conn->woff;
    if (len == 0) {
        return APR_SUCCESS;
    }
    rv = transport_send(conn, conn->wbuf + conn->woff, &len);
    conn->woff += len;
    if (APR_STATUS_IS_EAGAIN(rv)
        || (rv == APR_SUCCESS && conn->woff < conn->wlen)) {
        ++conn->srv->c->writes_blocked;
        return APR_EAGAIN;
    }
    if (rv != APR_SUCCESS) {
        CONN_LOG(conn, APLOG_WARNING, rv, H2GW_LOGNO(00311) "%s",
                 "write failed");
        h2gw_conn_kill(conn, H2GW_FAIL_CONN_LOST,
                       "upstream connection broke");
        return rv;
    }
    conn->woff = conn->wlen = 0;
    return APR_SUCCESS;
}

void h2gw_transport_close(h2gw_conn_t *conn)
{
    if (conn->sock) {
        apr_pollset_remove(conn->loop->pollset, &conn->pfd);
    }
    if (conn->ssl) {
        if (SSL_is_init_finished(conn->ssl)) {
            /* close_notify (RFC 8446 §6.1), best effort: the socket does
             * not block. A server may drop a session whose connection
             * ended without it. */
            tls_clear_errors();
            SSL_shutdown(conn->ssl);
            tls_clear_errors();  /* a refused close_notify is no news */
        }
        SSL_free(conn->ssl);
        conn->ssl = NULL;
    }
    if (conn->sock) {
        apr_socket_close(conn->sock);
    }
}
