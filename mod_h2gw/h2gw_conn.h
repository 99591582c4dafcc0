/*
 * h2gw_conn: one upstream HTTP/2 connection, driven by the engine thread
 * only: the non-blocking socket and its connect, the nghttp2 client
 * session with its callbacks and settings, the streams it carries, and
 * their per-stream timers. It does not choose connections (the engine
 * does) and never blocks.
 */
#ifndef H2GW_CONN_H
#define H2GW_CONN_H

#include <apr_network_io.h>
#include <apr_poll.h>
#include <httpd.h>
#include <nghttp2/nghttp2.h>

#include "h2gw_stream.h"

typedef struct h2gw_conn_t h2gw_conn_t;

/* The connections of one upstream (target key) in this process. Engine
 * memory; lives as long as the engine. */
typedef struct h2gw_upset_t {
    const char *key;
    h2gw_target_t target;      /* copied into engine memory */
    apr_sockaddr_t *addr;      /* resolved once, again after a failure */
    apr_pool_t *addr_pool;     /* holds addr; cleared before resolving */
    h2gw_conn_t *conns;        /* singly linked via conn->next */
    unsigned long opened;      /* connections opened, for log lines */
} h2gw_upset_t;

typedef enum {
    H2GW_CONN_ST_CONNECTING,   /* TCP connect in progress */
    H2GW_CONN_ST_OPEN,         /* session up, takes new streams */
    H2GW_CONN_ST_DRAINING      /* GOAWAY seen: no new streams */
} h2gw_conn_state_t;

/* Connections per upstream and process that take new streams. Past it,
 * streams queue on the least busy one (nghttp2 holds them until the
 * peer's limit lets them go): a peer announcing a limit of 0 cannot make
 * us open a connection per request. */
#define H2GW_CONN_MAX_PER_UPSTREAM 4

/* Streams a connection takes before the peer's SETTINGS tell its limit
 * (RFC 9113 §6.5.2 leaves it unlimited; we stay conservative). */
#define H2GW_CONN_ASSUMED_MAX_STREAMS 100

/* Most bytes of response header fields (interim, final and trailers) one
 * stream may receive, counted as RFC 9113 §6.5.2 does; past it → 502. */
#define H2GW_CONN_MAX_HEADER_BYTES (64 * 1024)

struct h2gw_conn_t {
    apr_pool_t *pool;          /* subpool of the engine pool; engine only */
    h2gw_upset_t *up;
    h2gw_conn_t *next;         /* in up->conns */
    unsigned long id;          /* per process, for log lines */
    server_rec *s;             /* for logging */
    apr_pollset_t *pollset;    /* the engine's */
    apr_socket_t *sock;
    apr_pollfd_t pfd;          /* as registered in the pollset */
    h2gw_conn_state_t state;
    nghttp2_session *ngh;      /* NULL until connected */
    const uint8_t *out;        /* nghttp2 output not yet written ... */
    size_t outlen;             /* ... and its length */
    h2gw_stream_t *streams;    /* linked streams, via conn_next/conn_prev */
    int nactive;               /* linked streams queued or open in nghttp2 */
    apr_time_t connect_deadline;
    int dead;                  /* to be destroyed by the engine */
    h2gw_fail_t dead_fail;     /* what its streams fail with */
    const char *dead_reason;
    h2gw_stream_t **retries;   /* the engine's list of streams to resend */
};

/*
 * Opens a connection to up (non-blocking connect) and registers it in
 * pollset. Streams the upstream provably did not process are pushed on
 * *retries, the engine's reference still held, for the engine to place
 * again. Returns APR_SUCCESS with *pconn set, or the APR error of name
 * resolution, socket creation or connect (nothing is left allocated).
 */
apr_status_t h2gw_conn_create(h2gw_conn_t **pconn, h2gw_upset_t *up,
                              apr_pool_t *parent, apr_pollset_t *pollset,
                              server_rec *s, unsigned long id,
                              h2gw_stream_t **retries);

/* Returns 1 when the connection takes new streams at all (not dead, no
 * GOAWAY either way). */
int h2gw_conn_is_taking(const h2gw_conn_t *conn);

/* Returns 1 when the connection may take one more stream now. */
int h2gw_conn_has_room(const h2gw_conn_t *conn);

/* Adds st (the engine's reference moves to the connection): submitted at
 * once when the session is up, otherwise when the connect completes. */
void h2gw_conn_add_stream(h2gw_conn_t *conn, h2gw_stream_t *st);

/* Handles the handler's requests taken from the inbox for st. */
void h2gw_conn_stream_update(h2gw_conn_t *conn, h2gw_stream_t *st,
                             int resume, size_t consumed, int handler_gone);

/* Handles poll events of the connection's socket. */
void h2gw_conn_on_event(h2gw_conn_t *conn, apr_int16_t rtnevents);

/* Writes whatever the session has to send; updates the poll events. */
void h2gw_conn_flush(h2gw_conn_t *conn);

/* Fails streams past their deadline; lowers *next to the nearest
 * remaining deadline (0 = none). */
void h2gw_conn_check_timers(h2gw_conn_t *conn, apr_time_t now,
                            apr_time_t *next);

/* Marks the connection dead: its streams fail with fail/reason when the
 * engine destroys it. */
void h2gw_conn_kill(h2gw_conn_t *conn, h2gw_fail_t fail, const char *reason);

/* Closes socket and session, fails and unlinks every stream, and frees
 * the connection. The caller unlinks it from up->conns. */
void h2gw_conn_destroy(h2gw_conn_t *conn);

#endif /* H2GW_CONN_H */
