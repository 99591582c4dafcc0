/*
 * h2gw_map: pure mappings between the client's URL space and the
 * upstream's, and the values of the fields this proxy adds. Request side:
 * which requests a <Location> prefix covers, the upstream :path built from
 * the request target as the client sent it, this hop's Forwarded and Via
 * elements. Response side: a Location (Content-Location, URI) naming the
 * upstream mapped back to the client's prefix. No I/O and no httpd
 * headers: linked into the module, the unit tests and the fuzz targets;
 * the handler reads the values out of request_rec and hands them over.
 */
#ifndef H2GW_MAP_H
#define H2GW_MAP_H

#include <apr_pools.h>

/*
 * uri past prefix, or NULL when it does not start with it. Repeated
 * slashes in uri match one slash of prefix ("/api//x" is under "/api/"),
 * as httpd's <Location> walk merges them. Returns a pointer into uri.
 */
const char *h2gw_map_after_prefix(const char *uri, const char *prefix);

/*
 * The path of a request target exactly as the client sent it: the
 * origin-form up to its query or fragment, or the path of an
 * absolute-form ("http://host/x?y" → "/x"; "/" when it has none).
 * unparsed_uri may be NULL (taken as ""). Returns a copy in p, or the
 * static "/".
 */
const char *h2gw_map_raw_path(apr_pool_t *p, const char *unparsed_uri);

/*
 * A decoded path escaped as httpd's ap_escape_uri() does (partial form):
 * every byte but alphanumerics and "$-_.+!*'(),:;@&=/~" becomes %xx, in
 * lowercase hex. Returns a copy in p.
 */
const char *h2gw_map_escape_path(apr_pool_t *p, const char *path);

/*
 * The upstream :path of a request: base_path, then the client's path
 * after prefix as the client sent it (no decoding, no re-encoding), then
 * "?query" when query is not NULL. When the raw path reaches prefix only
 * after httpd's normalization (dot segments, encoded unreserved bytes,
 * merged slashes), the rest of the normalized uri is used instead,
 * escaped by h2gw_map_escape_path(). The whole is then made safe for a
 * :path by h2gw_headers_escape_target().
 * unparsed_uri: the request target as received (r->unparsed_uri);
 * uri: the decoded, normalized path (r->uri); query: r->parsed_uri.query.
 * Returns the path, allocated in p (or one of the inputs when nothing
 * needed building).
 */
const char *h2gw_map_upstream_path(apr_pool_t *p, const char *unparsed_uri,
                                   const char *uri, const char *query,
                                   const char *prefix, const char *base_path);

/*
 * This hop's Forwarded element (RFC 7239 §4): "for=IP;host=HOST;proto=
 * SCHEME", ";host=" left out when host is NULL. An IPv6 address goes in
 * brackets (§6), and a value that is not a token is a quoted-string whose
 * '"' get a backslash (a backslash already followed by a byte is kept
 * with it, as httpd's ap_escape_quotes() does). ip NULL stands for
 * "unknown". Returns the element, allocated in p.
 */
const char *h2gw_map_forwarded(apr_pool_t *p, const char *ip,
                               const char *host, const char *scheme);

/*
 * This hop's Via element (RFC 9110 §7.6.3): "PROTO SERVER (mod_h2gw)",
 * PROTO being "2", "1.1" or "1.0" for proto_num, which counts as httpd's
 * HTTP_VERSION(major, minor) does (1000 * major + minor). Returns the
 * element, allocated in p.
 */
const char *h2gw_map_via(apr_pool_t *p, int proto_num, const char *server);

/* What a response's URI fields are mapped back with. */
typedef struct h2gw_map_rev_t {
    const char *prefix;             /* the client's path prefix */
    const char *base_path;          /* the upstream's, starts with '/' */
    const char *const *authorities; /* host[:port] of each upstream server */
    int nauthorities;
    const char *host;               /* the client's Host when it went
                                     * upstream as :authority, else NULL */
    const char *client_url;         /* "scheme://host[:port]" of this
                                     * server as the client reaches it */
} h2gw_map_rev_t;

/* Returns 1 for the response fields whose value is a URI that
 * h2gw_map_reverse() maps back (Location, Content-Location, URI). */
int h2gw_map_is_uri_field(const char *name);

/*
 * Maps a URI the upstream sent back to the client's URL space: a path
 * under m->base_path, absolute ("/base/x") or in an http(s) URL naming the
 * upstream (one of m->authorities, or m->host), becomes the same path
 * under m->prefix; the URL form is rebuilt on m->client_url. Anything
 * else is returned as it is (the same pointer). Returns the value,
 * allocated in p when mapped.
 */
const char *h2gw_map_reverse(apr_pool_t *p, const h2gw_map_rev_t *m,
                             const char *value);

#endif /* H2GW_MAP_H */
