/*
 * h2gw_headers: request fields → nghttp2_nv list, response field
 * classification and :status parsing. Pure functions over memory; see
 * h2gw_headers.h for the contracts.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "h2gw_headers.h"

/* Pseudo-headers every request carries: :method :scheme :authority :path. */
#define PSEUDO_COUNT 4

/* RFC 9110 §5.6.2: tchar. */
static int is_tchar(unsigned char ch)
{
    if (apr_isalnum(ch)) {
        return 1;
    }
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

int h2gw_headers_valid_name(const uint8_t *name, size_t len)
{
    size_t i;

    if (len == 0) {
        return 0;
    }
    for (i = 0; i < len; ++i) {
        if (!is_tchar(name[i])) {
            return 0;
        }
    }
    return 1;
}

int h2gw_headers_valid_value(const uint8_t *value, size_t len)
{
    size_t i;

    if (len > 0 && (value[0] == ' ' || value[0] == '\t'
                    || value[len - 1] == ' ' || value[len - 1] == '\t')) {
        return 0;
    }
    for (i = 0; i < len; ++i) {
        /* RFC 9113 §8.2.1: NUL, CR and LF are never valid in a value. */
        if (value[i] == 0 || value[i] == '\r' || value[i] == '\n') {
            return 0;
        }
    }
    return 1;
}

/* Case-insensitive comparison of a length-delimited name with a literal. */
static int name_is(const uint8_t *name, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp((const char *)name, lit, len) == 0;
}

/* Fields that are connection-specific in HTTP/1.1 and forbidden in
 * HTTP/2 (RFC 9110 §7.6.1, RFC 9113 §8.2.2). TE is handled apart. */
static int is_hop_by_hop(const uint8_t *name, size_t len)
{
    return name_is(name, len, "connection")
           || name_is(name, len, "keep-alive")
           || name_is(name, len, "proxy-connection")
           || name_is(name, len, "transfer-encoding")
           || name_is(name, len, "upgrade")
           || name_is(name, len, "host")
           || name_is(name, len, "http2-settings");
}

/* Is token (len bytes) one of the comma-separated tokens of list? */
static int list_has_token(const char *list, const char *token, size_t len)
{
    const char *s = list;

    while (*s) {
        const char *start, *end;

        while (*s == ' ' || *s == '\t' || *s == ',') {
            ++s;
        }
        start = s;
        while (*s && *s != ',') {
            ++s;
        }
        end = s;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            --end;
        }
        /* a TE member may carry parameters ("trailers;q=1" is not valid,
         * but "gzip;q=0.5" is): compare the token before any ';' */
        {
            const char *semi = memchr(start, ';', (size_t)(end - start));
            if (semi) {
                end = semi;
                while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
                    --end;
                }
            }
        }
        if ((size_t)(end - start) == len
            && strncasecmp(start, token, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Is the field named by a Connection header among the fields? */
static int named_by_connection(const h2gw_field_t *fields, size_t nfields,
                               const char *name)
{
    size_t i, len = strlen(name);

    for (i = 0; i < nfields; ++i) {
        if (strcasecmp(fields[i].name, "connection") == 0
            && list_has_token(fields[i].value, name, len)) {
            return 1;
        }
    }
    return 0;
}

static void lowercase(char *s)
{
    for (; *s; ++s) {
        *s = (char)apr_tolower(*s);
    }
}

void h2gw_headers_set_nv(nghttp2_nv *nv, const char *name,
                         const char *value)
{
    nv->name = (uint8_t *)name;
    nv->namelen = strlen(name);
    nv->value = (uint8_t *)value;
    nv->valuelen = strlen(value);
    nv->flags = NGHTTP2_NV_FLAG_NONE;
}

apr_status_t h2gw_headers_req_to_nv(apr_pool_t *p, const h2gw_req_line_t *rl,
                                    const h2gw_field_t *fields,
                                    size_t nfields, nghttp2_nv **pnv,
                                    size_t *pnvlen, const char **pbad)
{
    nghttp2_nv *nv;
    size_t i, n = 0;

    *pbad = NULL;
    if (!rl->method || !*rl->method
        || !h2gw_headers_valid_name((const uint8_t *)rl->method,
                                    strlen(rl->method))
        || !rl->path || rl->path[0] != '/'
        || !h2gw_headers_valid_value((const uint8_t *)rl->path,
                                     strlen(rl->path))
        || strpbrk(rl->path, " \t")
        || !rl->authority
        || !h2gw_headers_valid_value((const uint8_t *)rl->authority,
                                     strlen(rl->authority))) {
        *pbad = ":method/:path/:authority";
        return APR_EINVAL;
    }
    nv = apr_palloc(p, sizeof(*nv) * (nfields + PSEUDO_COUNT));
    h2gw_headers_set_nv(&nv[n++], ":method", apr_pstrdup(p, rl->method));
    h2gw_headers_set_nv(&nv[n++], ":scheme", apr_pstrdup(p, rl->scheme));
    h2gw_headers_set_nv(&nv[n++], ":authority", apr_pstrdup(p, rl->authority));
    h2gw_headers_set_nv(&nv[n++], ":path", apr_pstrdup(p, rl->path));

    for (i = 0; i < nfields; ++i) {
        const char *name = fields[i].name, *value = fields[i].value;
        size_t namelen = strlen(name), valuelen = strlen(value);
        char *lname;

        if (!h2gw_headers_valid_name((const uint8_t *)name, namelen)
            || !h2gw_headers_valid_value((const uint8_t *)value, valuelen)) {
            *pbad = name;
            return APR_EINVAL;
        }
        if (strcasecmp(name, "te") == 0) {
            /* RFC 9113 §8.2.2: TE may be sent, with "trailers" only;
             * before the Connection check, since an HTTP/1.1 sender of
             * TE names it there too (RFC 9110 §10.1.4). */
            if (list_has_token(value, "trailers", 8)) {
                h2gw_headers_set_nv(&nv[n++], "te", "trailers");
            }
            continue;
        }
        if (is_hop_by_hop((const uint8_t *)name, namelen)
            || named_by_connection(fields, nfields, name)) {
            continue;
        }
        lname = apr_pstrmemdup(p, name, namelen);
        lowercase(lname);
        h2gw_headers_set_nv(&nv[n++], lname, apr_pstrmemdup(p, value, valuelen));
    }
    *pnv = nv;
    *pnvlen = n;
    return APR_SUCCESS;
}

apr_status_t h2gw_headers_add_own(apr_pool_t *p, const nghttp2_nv *nv,
                                  size_t nvlen, const h2gw_field_t *added,
                                  size_t nadded, nghttp2_nv **pnv,
                                  size_t *pnvlen, const char **pbad)
{
    nghttp2_nv *out = apr_palloc(p, sizeof(*out) * (nvlen + nadded + 1));
    size_t i, j, n = nvlen;

    *pbad = NULL;
    if (nvlen) {
        memcpy(out, nv, sizeof(*out) * nvlen);
    }
    for (i = 0; i < nadded; ++i) {
        const char *name = added[i].name, *value = added[i].value;
        size_t namelen = strlen(name), valuelen = strlen(value);
        char *lname;

        if (!h2gw_headers_valid_name((const uint8_t *)name, namelen)
            || !h2gw_headers_valid_value((const uint8_t *)value, valuelen)) {
            *pbad = name;
            return APR_EINVAL;
        }
        for (j = PSEUDO_COUNT; j < n; ++j) {
            if (name_is(out[j].name, out[j].namelen, name)) {
                break;
            }
        }
        if (j < n) {
            char *v = apr_palloc(p, out[j].valuelen + 2 + valuelen + 1);

            memcpy(v, out[j].value, out[j].valuelen);
            memcpy(v + out[j].valuelen, ", ", 2);
            memcpy(v + out[j].valuelen + 2, value, valuelen + 1);
            out[j].value = (uint8_t *)v;
            out[j].valuelen += 2 + valuelen;
            continue;
        }
        lname = apr_pstrmemdup(p, name, namelen);
        lowercase(lname);
        h2gw_headers_set_nv(&out[n++], lname, apr_pstrmemdup(p, value, valuelen));
    }
    *pnv = out;
    *pnvlen = n;
    return APR_SUCCESS;
}

/* RFC 3986 §3.3, §3.4: pchar (unreserved, sub-delims, ':', '@'), '/',
 * '?', and '%' of an escape the client already made. */
static int target_char_ok(unsigned char ch)
{
    return apr_isalnum(ch) || (ch && strchr("-._~!$&'()*+,;=:@/?%", ch));
}

const char *h2gw_headers_escape_target(apr_pool_t *p, const char *target)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s;
    size_t extra = 0;
    char *out, *o;

    for (s = (const unsigned char *)target; *s; ++s) {
        extra += target_char_ok(*s) ? 0 : 2;
    }
    if (!extra) {
        return target;
    }
    o = out = apr_palloc(p, strlen(target) + extra + 1);
    for (s = (const unsigned char *)target; *s; ++s) {
        if (target_char_ok(*s)) {
            *o++ = (char)*s;
        }
        else {
            *o++ = '%';
            *o++ = hex[*s >> 4];
            *o++ = hex[*s & 15];
        }
    }
    *o = '\0';
    return out;
}

h2gw_hdr_class_t h2gw_headers_resp_class(const uint8_t *name, size_t namelen,
                                         const uint8_t *value,
                                         size_t valuelen)
{
    if (namelen > 0 && name[0] == ':') {
        return name_is(name, namelen, ":status") ? H2GW_HDR_STATUS
                                                 : H2GW_HDR_DROP;
    }
    if (!h2gw_headers_valid_name(name, namelen)
        || !h2gw_headers_valid_value(value, valuelen)) {
        return H2GW_HDR_INVALID;
    }
    if (is_hop_by_hop(name, namelen) || name_is(name, namelen, "te")) {
        return H2GW_HDR_DROP;
    }
    return H2GW_HDR_PASS;
}

apr_interval_time_t h2gw_headers_grpc_timeout(const char *value)
{
    apr_int64_t n = 0;
    int digits = 0;

    for (; apr_isdigit(*value) && digits < 9; ++value, ++digits) {
        n = n * 10 + (*value - '0');
    }
    if (digits == 0 || digits > 8 || !*value || value[1]) {
        return -1;
    }
    switch (*value) {
    case 'H': return n * 3600 * APR_USEC_PER_SEC;
    case 'M': return n * 60 * APR_USEC_PER_SEC;
    case 'S': return n * APR_USEC_PER_SEC;
    case 'm': return n * 1000;
    case 'u': return n;
    case 'n': return (n + 999) / 1000;
    default: return -1;
    }
}

int h2gw_headers_parse_status(const uint8_t *value, size_t len)
{
    int status;

    if (len != 3 || !apr_isdigit(value[0]) || !apr_isdigit(value[1])
        || !apr_isdigit(value[2])) {
        return -1;
    }
    status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    return (status >= 100 && status <= 599) ? status : -1;
}

/* ---- gRPC health service messages (grpc.health.v1, health.proto) ---- */

/* Appends v as a protobuf varint; returns the bytes written. */
static size_t put_varint(unsigned char *out, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}

/* Reads a varint at b[*i], below end. Returns 0 when it runs off. */
static int get_varint(const unsigned char *b, size_t *i, size_t end,
                      uint64_t *v)
{
    int shift;

    *v = 0;
    for (shift = 0; shift < 64 && *i < end; shift += 7) {
        unsigned char c = b[(*i)++];

        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            return 1;
        }
    }
    return 0;
}

size_t h2gw_headers_grpc_health_request(const char *service, size_t slen,
                                        unsigned char *out)
{
    size_t mlen = 0;

    /* HealthCheckRequest { string service = 1; }: field 1, length-
     * delimited; proto3 leaves an empty string out. */
    if (slen) {
        out[5] = 0x0a;
        mlen = 1 + put_varint(out + 6, slen);
        memcpy(out + 5 + mlen, service, slen);
        mlen += slen;
    }
    /* gRPC's message prefix: not compressed, big-endian length. */
    out[0] = 0;
    out[1] = (unsigned char)(mlen >> 24);
    out[2] = (unsigned char)(mlen >> 16);
    out[3] = (unsigned char)(mlen >> 8);
    out[4] = (unsigned char)mlen;
    return 5 + mlen;
}

int h2gw_headers_grpc_health_serving(const unsigned char *b, size_t len)
{
    size_t i = 5, end;
    uint64_t mlen, key, v;
    int status = 0;  /* proto3: a field left out is 0, UNKNOWN */

    /* A compressed message cannot be: we offered no grpc-accept-encoding. */
    if (len < 5 || b[0] != 0) {
        return -1;
    }
    mlen = ((uint64_t)b[1] << 24) | ((uint64_t)b[2] << 16)
           | ((uint64_t)b[3] << 8) | b[4];
    if (mlen > len - 5) {
        return -1;
    }
    end = 5 + (size_t)mlen;
    while (i < end) {
        if (!get_varint(b, &i, end, &key)) {
            return -1;
        }
        switch (key & 7) {
        case 0:
            if (!get_varint(b, &i, end, &v)) {
                return -1;
            }
            if ((key >> 3) == 1) {
                status = v > 1000 ? 1000 : (int)v;
            }
            break;
        case 1:
            i += 8;
            break;
        case 2:
            if (!get_varint(b, &i, end, &v) || v > end - i) {
                return -1;
            }
            i += (size_t)v;
            break;
        case 5:
            i += 4;
            break;
        default:
            return -1;
        }
        if (i > end) {
            return -1;
        }
    }
    return status;
}
