/*
 * h2gw_grpcweb_codec: the byte-level parts of the gRPC-Web translation
 * (grpc/grpc doc/PROTOCOL-WEB.md), with no I/O and no httpd headers, so
 * that the unit tests feed them input in pieces of every size: content
 * type classification, streaming base64 decoding of -text request
 * bodies, the response side's frame tracking and frame-by-frame base64
 * encoding, the trailer frame, and the mapping of HTTP statuses and
 * upstream failures to gRPC status codes. Memory per stream is a few
 * bytes of carry; every output buffer is the caller's.
 */
#ifndef H2GW_GRPCWEB_CODEC_H
#define H2GW_GRPCWEB_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <apr_pools.h>
#include <apr_errno.h>

#include "h2gw_headers.h"
#include "h2gw_stream.h"

/* gRPC status codes (grpc/grpc doc/statuscodes.md) the gateway sets
 * itself. */
#define H2GW_GRPC_OK                 0
#define H2GW_GRPC_CANCELLED          1
#define H2GW_GRPC_UNKNOWN            2
#define H2GW_GRPC_DEADLINE_EXCEEDED  4
#define H2GW_GRPC_PERMISSION_DENIED  7
#define H2GW_GRPC_RESOURCE_EXHAUSTED 8
#define H2GW_GRPC_UNIMPLEMENTED      12
#define H2GW_GRPC_INTERNAL           13
#define H2GW_GRPC_UNAVAILABLE        14
#define H2GW_GRPC_UNAUTHENTICATED    16

/* The flag byte of a gRPC-Web trailer frame (PROTOCOL-WEB.md, "Message
 * framing": the MSB of the first byte; uncompressed). */
#define H2GW_GRPCWEB_TRAILER_FLAG 0x80

/* A gRPC length-prefixed message's header: flags, 4-byte length. */
#define H2GW_GRPC_FRAME_HEADER 5

/*
 * Classifies a Content-Type value. Returns 1 when it is a gRPC-Web type:
 * application/grpc-web or application/grpc-web-text, each optionally
 * with "+suffix" (proto, json, ...) and parameters after ';'
 * (case-insensitive). *text is set for the -text (base64) types; *suffix
 * points into ct at the "+suffix" (without parameters) and *suffix_len
 * gives its length (0: none). Returns 0 for anything else, application/grpc
 * included.
 */
int h2gw_grpcweb_codec_content_type(const char *ct, int *text,
                                    const char **suffix, size_t *suffix_len);

/*
 * Returns 1 when ct is a gRPC content type (application/grpc, with or
 * without "+suffix" and parameters); *suffix and *suffix_len as above.
 */
int h2gw_grpcweb_codec_is_grpc(const char *ct, const char **suffix,
                               size_t *suffix_len);

/* Streaming base64 decoder state: the characters of an unfinished
 * 4-character quantum. Zero it to start. */
typedef struct h2gw_b64dec_t {
    unsigned char q[4];
    size_t n;
} h2gw_b64dec_t;

/* The most bytes h2gw_grpcweb_codec_b64_decode() writes for len input
 * characters. */
#define H2GW_B64_DECODED_MAX(len) (((len) / 4 + 1) * 3)

/*
 * Decodes len base64 characters (standard or URL-safe alphabet; padding
 * '=' may end any quantum, so concatenated padded pieces decode as a
 * whole; CR, LF, space and tab are skipped) into out, which has room for
 * H2GW_B64_DECODED_MAX(len) bytes. A quantum split across calls is
 * carried in d. Returns APR_SUCCESS with *outlen set, or APR_EINVAL on a
 * character outside the alphabet or misplaced padding.
 */
apr_status_t h2gw_grpcweb_codec_b64_decode(h2gw_b64dec_t *d, const char *in,
                                           size_t len, unsigned char *out,
                                           size_t *outlen);

/* At the end of the input: APR_SUCCESS when no quantum is left
 * unfinished, else APR_EINVAL. */
apr_status_t h2gw_grpcweb_codec_b64_finish(const h2gw_b64dec_t *d);

/* The response side: where the byte stream stands in gRPC frames, and
 * for -text the bytes not yet encoded. Zero it, then set text. */
typedef struct h2gw_grpcweb_out_t {
    int text;                  /* base64-encode the output */
    unsigned char hdr[H2GW_GRPC_FRAME_HEADER];
    size_t hdr_have;           /* bytes of the current frame header seen */
    apr_uint64_t left;         /* payload bytes of the current frame to
                                * come */
    unsigned char carry[3];    /* text: bytes waiting for a full group */
    size_t ncarry;
} h2gw_grpcweb_out_t;

/* The most characters h2gw_grpcweb_codec_out_encode() writes for len
 * input bytes: 4 per 3 bytes, and a padded group at each frame end (at
 * most one per 5 bytes) plus one for the carry. */
#define H2GW_GRPCWEB_ENCODED_MAX(len) \
    ((((len) + 2) / 3) * 4 + ((len) / H2GW_GRPC_FRAME_HEADER + 2) * 4)

/*
 * Follows len response bytes through the gRPC framing (frame headers
 * and payloads). For -text, also base64-encodes them into out (room for
 * H2GW_GRPCWEB_ENCODED_MAX(len)), padding the encoding at each frame's
 * end so that every complete frame reaches the client decodable at
 * once; *outlen tells how many characters. For binary, out may be NULL
 * and *outlen is 0 (the bytes go out unchanged).
 */
void h2gw_grpcweb_codec_out(h2gw_grpcweb_out_t *o, const unsigned char *in,
                            size_t len, char *out, size_t *outlen);

/* Returns 1 when the bytes so far end on a frame boundary: a frame (the
 * trailer frame) may follow. */
int h2gw_grpcweb_codec_out_at_boundary(const h2gw_grpcweb_out_t *o);

/*
 * Builds the trailer frame: flag 0x80, the 4-byte length, then
 * "name: value\r\n" for each field, names lowercased. When no field is
 * grpc-status, "grpc-status: <status>" and "grpc-message: <message>"
 * (when message is not NULL) are added first. For -text (o->text) the
 * frame comes base64-encoded, and so does the carry of o that precedes
 * it. Returns the bytes (from p) and their count in *len.
 */
char *h2gw_grpcweb_codec_trailer(apr_pool_t *p, h2gw_grpcweb_out_t *o,
                                 const h2gw_field_t *fields, size_t nfields,
                                 int status, const char *message,
                                 size_t *len);

/* gRPC's mapping of an HTTP status that is not 200 to a gRPC status
 * (grpc/grpc doc/http-grpc-status-mapping.md). */
int h2gw_grpcweb_codec_status_from_http(int http_status);

/*
 * The gRPC status for an upstream failure: DEADLINE_EXCEEDED for a
 * timeout; for a reset, gRPC's mapping of the RST_STREAM code
 * (PROTOCOL-HTTP2.md: REFUSED_STREAM → UNAVAILABLE, CANCEL → CANCELLED,
 * ENHANCE_YOUR_CALM → RESOURCE_EXHAUSTED, INADEQUATE_SECURITY →
 * PERMISSION_DENIED, the rest → INTERNAL); INTERNAL for a protocol or
 * internal error; UNAVAILABLE for everything that left no usable
 * connection.
 */
int h2gw_grpcweb_codec_status_from_fail(h2gw_fail_t fail, uint32_t rst_code);

/*
 * Percent-encodes a grpc-message value as PROTOCOL-HTTP2.md asks (bytes
 * outside 0x20-0x7E, and '%'). Returns msg itself when nothing needs it.
 */
const char *h2gw_grpcweb_codec_message(apr_pool_t *p, const char *msg);

#endif /* H2GW_GRPCWEB_CODEC_H */
