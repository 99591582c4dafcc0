/*
 * h2gw_headers: pure conversions between HTTP/1-style header fields and
 * HTTP/2 header lists. Request side: builds the nghttp2_nv list sent
 * upstream (pseudo-headers first, names lowercased, hop-by-hop fields
 * removed, invalid fields refused). Response side: classifies each field
 * the upstream sent. No I/O and no httpd headers: this file is linked into
 * the module, the unit tests and the fuzz targets.
 */
#ifndef H2GW_HEADERS_H
#define H2GW_HEADERS_H

#include <apr_pools.h>
#include <apr_time.h>
#include <nghttp2/nghttp2.h>

/* One header field as a name/value pair of NUL-terminated strings. */
typedef struct h2gw_field_t {
    const char *name;
    const char *value;
} h2gw_field_t;

/* The request line of an HTTP/2 request (RFC 9113 §8.3.1). */
typedef struct h2gw_req_line_t {
    const char *method;
    const char *scheme;    /* "http" or "https" */
    const char *authority;
    const char *path;      /* origin-form, byte-exact, starts with '/' */
} h2gw_req_line_t;

/* What to do with one response field received from the upstream. */
typedef enum {
    H2GW_HDR_PASS,       /* an ordinary field: hand it to the client */
    H2GW_HDR_STATUS,     /* the :status pseudo-header */
    H2GW_HDR_DROP,       /* another pseudo-header or a hop-by-hop field */
    H2GW_HDR_INVALID     /* a name or value no HTTP message may carry */
} h2gw_hdr_class_t;

/* Points nv at name and value (not copied: they must outlive it), with
 * their lengths, and no flags. */
void h2gw_headers_set_nv(nghttp2_nv *nv, const char *name,
                         const char *value);

/*
 * Builds the HTTP/2 header list for an upstream request.
 * p: pool the list and every name/value are copied into (the caller's
 *    stream pool: it must outlive the nghttp2 submit).
 * rl: the pseudo-header values; fields/nfields: the client's fields.
 * Hop-by-hop fields (RFC 9110 §7.6.1: Connection and each field it names,
 * Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, Host, and TE
 * unless it asks for "trailers") are removed; names are lowercased.
 * Returns APR_SUCCESS with *pnv and *pnvlen set, or APR_EINVAL when the request
 * line or a field name/value is invalid (*pbad then names the field).
 */
apr_status_t h2gw_headers_req_to_nv(apr_pool_t *p, const h2gw_req_line_t *rl,
                                    const h2gw_field_t *fields,
                                    size_t nfields, nghttp2_nv **pnv,
                                    size_t *pnvlen, const char **pbad);

/*
 * Adds the proxy's own fields (X-Forwarded-*, Forwarded, Via) to a list
 * built by h2gw_headers_req_to_nv(), that is after hop-by-hop removal, so
 * that no client can have them removed by naming them in Connection. A
 * field the list has already gets the value appended as a list member
 * ("client's, ours", RFC 9110 §5.3); others are added, names lowercased.
 * p: pool the new list and its strings come from (as for req_to_nv).
 * Returns APR_SUCCESS with *pnv and *pnvlen set to the new list, or
 * APR_EINVAL when an added field is invalid (*pbad names it).
 */
apr_status_t h2gw_headers_add_own(apr_pool_t *p, const nghttp2_nv *nv,
                                  size_t nvlen, const h2gw_field_t *added,
                                  size_t nadded, nghttp2_nv **pnv,
                                  size_t *pnvlen, const char **pbad);

/*
 * A request target (path and query) as an HTTP/2 :path may carry it:
 * every byte outside RFC 3986's pchar, '/' and '?' (controls, space,
 * '"', '#', '<', '>', '[', '\\', ']', '^', '`', '{', '|', '}', 8-bit
 * bytes) is percent-encoded; everything else, '%' escapes included, is
 * kept byte for byte. Returns target itself when nothing needs encoding,
 * else a copy in p.
 */
const char *h2gw_headers_escape_target(apr_pool_t *p, const char *target);

/*
 * Classifies a response field received from the upstream (name as sent,
 * not NUL-terminated). Returns one of h2gw_hdr_class_t.
 */
h2gw_hdr_class_t h2gw_headers_resp_class(const uint8_t *name, size_t namelen,
                                         const uint8_t *value,
                                         size_t valuelen);

/*
 * Parses a :status value. Returns the status (100..599), or -1 when it is
 * not exactly three digits in that range (RFC 9110 §15).
 */
int h2gw_headers_parse_status(const uint8_t *value, size_t len);

/*
 * Parses a gRPC request's grpc-timeout value (gRPC's PROTOCOL-HTTP2.md:
 * 1 to 8 digits and a unit, H M S m u n). Returns the time in
 * microseconds (nanoseconds round up to a whole microsecond), or -1 when
 * the value is not of that form.
 */
apr_interval_time_t h2gw_headers_grpc_timeout(const char *value);

/*
 * gRPC's standard health service (grpc.health.v1.Health/Check), on raw
 * protobuf bytes. h2gw_headers_grpc_health_request() writes the request
 * body asking about the service of slen bytes ("" for the server as a
 * whole) into out, which has room for H2GW_HEADERS_GRPC_HEALTH_REQ(slen)
 * bytes, and returns its length: gRPC's 5-byte prefix, then
 * HealthCheckRequest { string service = 1; }.
 * h2gw_headers_grpc_health_serving() reads the ServingStatus (field 1) of
 * the first message of a response body: 0 UNKNOWN (also when left out,
 * as proto3 does), 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN, or a
 * newer value (capped at 1000); -1 when the bytes hold no complete,
 * uncompressed message of that form.
 */
#define H2GW_HEADERS_GRPC_HEALTH_REQ(slen) (5 + 1 + 10 + (slen))
size_t h2gw_headers_grpc_health_request(const char *service, size_t slen,
                                        unsigned char *out);
int h2gw_headers_grpc_health_serving(const unsigned char *body, size_t len);

/* Returns 1 when name is a valid field name (RFC 9110 §5.1 token). */
int h2gw_headers_valid_name(const uint8_t *name, size_t len);

/*
 * Returns 1 when value carries no NUL, CR or LF and has no leading or
 * trailing whitespace (RFC 9113 §8.2.1).
 */
int h2gw_headers_valid_value(const uint8_t *value, size_t len);

#endif /* H2GW_HEADERS_H */
