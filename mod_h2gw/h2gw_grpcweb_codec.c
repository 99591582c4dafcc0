/*
 * h2gw_grpcweb_codec: gRPC-Web's byte-level translation, pure (see the
 * header). Nothing here allocates per byte or buffers a message: the
 * decoder carries at most 3 characters, the encoder at most 2 bytes and
 * a 5-byte frame header.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "h2gw_grpcweb_codec.h"

/* Does s start with the lowercase word w, in any case? Returns the rest
 * or NULL. */
static const char *skip_word(const char *s, const char *w)
{
    size_t n = strlen(w);

    return strncasecmp(s, w, n) ? NULL : s + n;
}

/* After a media type's subtype: "+suffix", then nothing, whitespace or
 * ';' parameters. Returns 1 when rest is of that form. */
static int suffix_of(const char *rest, const char **suffix,
                     size_t *suffix_len)
{
    const char *end = rest;

    if (*rest == '+') {
        ++end;
        while (*end && (apr_isalnum(*end) || strchr("!#$&-^_.", *end))) {
            ++end;
        }
        if (end == rest + 1) {
            return 0;  /* "+" alone */
        }
    }
    while (*end == ' ' || *end == '\t') {
        ++end;
    }
    if (*end && *end != ';') {
        return 0;
    }
    *suffix = rest;
    *suffix_len = (*rest == '+') ? (size_t)(strcspn(rest, " \t;")) : 0;
    return 1;
}

int h2gw_grpcweb_codec_content_type(const char *ct, int *text,
                                    const char **suffix, size_t *suffix_len)
{
    const char *rest;

    if (!ct || !(rest = skip_word(ct, "application/grpc-web"))) {
        return 0;
    }
    *text = 0;
    if (skip_word(rest, "-text")) {
        rest += 5;
        *text = 1;
    }
    return suffix_of(rest, suffix, suffix_len);
}

int h2gw_grpcweb_codec_is_grpc(const char *ct, const char **suffix,
                               size_t *suffix_len)
{
    const char *rest;

    if (!ct || !(rest = skip_word(ct, "application/grpc"))) {
        return 0;
    }
    return suffix_of(rest, suffix, suffix_len);
}

/* ---- base64 ---------------------------------------------------------- */

#define B64_PAD 64
#define B64_BAD 65
#define B64_SKIP 66

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static unsigned char b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return (unsigned char)(c - 'A');
    if (c >= 'a' && c <= 'z') return (unsigned char)(c - 'a' + 26);
    if (c >= '0' && c <= '9') return (unsigned char)(c - '0' + 52);
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    if (c == '=') return B64_PAD;
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') return B64_SKIP;
    return B64_BAD;
}

apr_status_t h2gw_grpcweb_codec_b64_decode(h2gw_b64dec_t *d, const char *in,
                                           size_t len, unsigned char *out,
                                           size_t *outlen)
{
    size_t o = 0, i;

    for (i = 0; i < len; ++i) {
        unsigned char v = b64_value((unsigned char)in[i]);
        const unsigned char *q = d->q;

        if (v == B64_SKIP) {
            continue;
        }
        if (v == B64_BAD) {
            *outlen = o;
            return APR_EINVAL;
        }
        d->q[d->n++] = v;
        if (d->n < 4) {
            continue;
        }
        d->n = 0;
        /* "xx==" and "xxx=" end a piece; '=' goes nowhere else. */
        if (q[0] == B64_PAD || q[1] == B64_PAD
            || (q[2] == B64_PAD && q[3] != B64_PAD)) {
            *outlen = o;
            return APR_EINVAL;
        }
        out[o++] = (unsigned char)((q[0] << 2) | (q[1] >> 4));
        if (q[2] != B64_PAD) {
            out[o++] = (unsigned char)(((q[1] & 0x0f) << 4) | (q[2] >> 2));
            if (q[3] != B64_PAD) {
                out[o++] = (unsigned char)(((q[2] & 0x03) << 6) | q[3]);
            }
        }
    }
    *outlen = o;
    return APR_SUCCESS;
}

apr_status_t h2gw_grpcweb_codec_b64_finish(const h2gw_b64dec_t *d)
{
    return d->n ? APR_EINVAL : APR_SUCCESS;
}

/* Encodes the carry (1 or 2 bytes) as a padded group. */
static void flush_carry(h2gw_grpcweb_out_t *o, char *out, size_t *pos)
{
    unsigned char a, b;

    if (!o->ncarry) {
        return;
    }
    a = o->carry[0];
    b = o->ncarry > 1 ? o->carry[1] : 0;
    out[(*pos)++] = b64_chars[a >> 2];
    out[(*pos)++] = b64_chars[((a & 0x03) << 4) | (b >> 4)];
    out[(*pos)++] = o->ncarry > 1 ? b64_chars[(b & 0x0f) << 2] : '=';
    out[(*pos)++] = '=';
    o->ncarry = 0;
}

static void encode_group(const unsigned char *g, char *out, size_t *pos)
{
    out[(*pos)++] = b64_chars[g[0] >> 2];
    out[(*pos)++] = b64_chars[((g[0] & 0x03) << 4) | (g[1] >> 4)];
    out[(*pos)++] = b64_chars[((g[1] & 0x0f) << 2) | (g[2] >> 6)];
    out[(*pos)++] = b64_chars[g[2] & 0x3f];
}

/* Encodes n bytes in groups of 3; a remainder waits in the carry. */
static void encode_bytes(h2gw_grpcweb_out_t *o, const unsigned char *in,
                         size_t n, char *out, size_t *pos)
{
    while (n > 0 && o->ncarry > 0) {
        o->carry[o->ncarry++] = *in++;
        --n;
        if (o->ncarry == 3) {
            encode_group(o->carry, out, pos);
            o->ncarry = 0;
        }
    }
    if (n == 0) {
        return;  /* the carry, if any, still waits */
    }
    for (; n >= 3; n -= 3, in += 3) {
        encode_group(in, out, pos);
    }
    memcpy(o->carry, in, n);
    o->ncarry = n;
}

void h2gw_grpcweb_codec_out(h2gw_grpcweb_out_t *o, const unsigned char *in,
                            size_t len, char *out, size_t *outlen)
{
    size_t pos = 0;

    while (len > 0) {
        size_t take;

        if (o->hdr_have < H2GW_GRPC_FRAME_HEADER) {
            take = H2GW_GRPC_FRAME_HEADER - o->hdr_have;
            take = take < len ? take : len;
            memcpy(o->hdr + o->hdr_have, in, take);
            o->hdr_have += take;
            if (o->hdr_have == H2GW_GRPC_FRAME_HEADER) {
                o->left = ((apr_uint64_t)o->hdr[1] << 24)
                          | ((apr_uint64_t)o->hdr[2] << 16)
                          | ((apr_uint64_t)o->hdr[3] << 8) | o->hdr[4];
            }
        }
        else {
            take = o->left < len ? (size_t)o->left : len;
            o->left -= take;
        }
        if (o->text) {
            encode_bytes(o, in, take, out, &pos);
        }
        in += take;
        len -= take;
        if (o->hdr_have == H2GW_GRPC_FRAME_HEADER && o->left == 0) {
            /* A frame is complete: pad, so the client decodes it now
             * (PROTOCOL-WEB.md allows padding inside the stream). */
            o->hdr_have = 0;
            if (o->text) {
                flush_carry(o, out, &pos);
            }
        }
    }
    *outlen = pos;
}

int h2gw_grpcweb_codec_out_at_boundary(const h2gw_grpcweb_out_t *o)
{
    return o->hdr_have == 0;
}

char *h2gw_grpcweb_codec_trailer(apr_pool_t *p, h2gw_grpcweb_out_t *o,
                                 const h2gw_field_t *fields, size_t nfields,
                                 int status, const char *message,
                                 size_t *len)
{
    size_t i, n = 0, off, cap;
    int has_status = 0;
    char *frame, *enc;
    size_t enclen;

    for (i = 0; i < nfields; ++i) {
        n += strlen(fields[i].name) + 2 + strlen(fields[i].value) + 2;
        has_status |= !strcasecmp(fields[i].name, "grpc-status");
    }
    if (!has_status) {
        n += sizeof("grpc-status: 99\r\n");
        if (message) {
            n += sizeof("grpc-message: \r\n") + strlen(message);
        }
    }
    cap = H2GW_GRPC_FRAME_HEADER + n + 1;
    frame = apr_palloc(p, cap);
    off = H2GW_GRPC_FRAME_HEADER;
    if (!has_status) {
        off += (size_t)apr_snprintf(frame + off, cap - off,
                                    "grpc-status: %d\r\n", status);
        if (message) {
            off += (size_t)apr_snprintf(frame + off, cap - off,
                                        "grpc-message: %s\r\n", message);
        }
    }
    for (i = 0; i < nfields; ++i) {
        size_t start = off;

        /* PROTOCOL-WEB.md: lowercase names, an HTTP/1 header block. */
        off += (size_t)apr_snprintf(frame + off, cap - off,
                                    "%s: %s\r\n", fields[i].name,
                                    fields[i].value);
        for (; start < off && frame[start] != ':'; ++start) {
            frame[start] = (char)apr_tolower(frame[start]);
        }
    }
    n = off - H2GW_GRPC_FRAME_HEADER;
    frame[0] = (char)H2GW_GRPCWEB_TRAILER_FLAG;
    frame[1] = (char)((n >> 24) & 0xff);
    frame[2] = (char)((n >> 16) & 0xff);
    frame[3] = (char)((n >> 8) & 0xff);
    frame[4] = (char)(n & 0xff);
    if (!o->text) {
        h2gw_grpcweb_codec_out(o, (const unsigned char *)frame, off, NULL,
                               &enclen);
        *len = off;
        return frame;
    }
    enc = apr_palloc(p, H2GW_GRPCWEB_ENCODED_MAX(off));
    h2gw_grpcweb_codec_out(o, (const unsigned char *)frame, off, enc,
                           &enclen);
    *len = enclen;
    return enc;
}

int h2gw_grpcweb_codec_status_from_http(int http_status)
{
    switch (http_status) {
    case 400: return H2GW_GRPC_INTERNAL;
    case 401: return H2GW_GRPC_UNAUTHENTICATED;
    case 403: return H2GW_GRPC_PERMISSION_DENIED;
    case 404: return H2GW_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504: return H2GW_GRPC_UNAVAILABLE;
    default: return H2GW_GRPC_UNKNOWN;
    }
}

int h2gw_grpcweb_codec_status_from_fail(h2gw_fail_t fail, uint32_t rst_code)
{
    switch (fail) {
    case H2GW_FAIL_TIMEOUT:
        return H2GW_GRPC_DEADLINE_EXCEEDED;
    case H2GW_FAIL_RESET:
        switch (rst_code) {
        case NGHTTP2_REFUSED_STREAM: return H2GW_GRPC_UNAVAILABLE;
        case NGHTTP2_CANCEL: return H2GW_GRPC_CANCELLED;
        case NGHTTP2_ENHANCE_YOUR_CALM: return H2GW_GRPC_RESOURCE_EXHAUSTED;
        case NGHTTP2_INADEQUATE_SECURITY: return H2GW_GRPC_PERMISSION_DENIED;
        default: return H2GW_GRPC_INTERNAL;
        }
    case H2GW_FAIL_PROTOCOL:
    case H2GW_FAIL_INTERNAL:
        return H2GW_GRPC_INTERNAL;
    case H2GW_FAIL_CANCELLED:
        return H2GW_GRPC_CANCELLED;
    default:
        return H2GW_GRPC_UNAVAILABLE;
    }
}

const char *h2gw_grpcweb_codec_message(apr_pool_t *p, const char *msg)
{
    const unsigned char *s;
    char *out, *o;

    for (s = (const unsigned char *)msg; *s; ++s) {
        if (*s < 0x20 || *s > 0x7e || *s == '%') {
            break;
        }
    }
    if (!*s) {
        return msg;
    }
    o = out = apr_palloc(p, strlen(msg) * 3 + 1);
    for (s = (const unsigned char *)msg; *s; ++s) {
        if (*s < 0x20 || *s > 0x7e || *s == '%') {
            o += apr_snprintf(o, 4, "%%%02X", *s);
        }
        else {
            *o++ = (char)*s;
        }
    }
    *o = '\0';
    return out;
}
