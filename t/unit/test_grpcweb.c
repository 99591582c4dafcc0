/*
 * test_grpcweb: h2gw_grpcweb_codec, fed in pieces of every size from 1
 * byte up: content types, streaming base64 decoding (padding inside the
 * stream, bad input), the response framing and its frame-by-frame base64
 * (every complete frame decodable as soon as it is out), the trailer
 * frame, the status mappings and grpc-message encoding.
 */
#include <stdlib.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "h2gw_grpcweb_codec.h"
#include "tap.h"

static apr_pool_t *pool;

static void test_content_type(void)
{
    const char *sfx;
    size_t slen;
    int text = -1;

    tap_ok(h2gw_grpcweb_codec_content_type("application/grpc-web", &text,
                                           &sfx, &slen)
           && !text && slen == 0, "application/grpc-web: binary, no suffix");
    tap_ok(h2gw_grpcweb_codec_content_type("application/grpc-web+proto",
                                           &text, &sfx, &slen)
           && !text && slen == 6 && !strncmp(sfx, "+proto", 6),
           "+proto: its suffix");
    tap_ok(h2gw_grpcweb_codec_content_type("Application/GRPC-Web-Text+json; "
                                           "charset=utf-8", &text, &sfx,
                                           &slen)
           && text && slen == 5 && !strncmp(sfx, "+json", 5),
           "-text+json with a parameter, any case: text, suffix +json");
    tap_ok(h2gw_grpcweb_codec_content_type("application/grpc-web-text",
                                           &text, &sfx, &slen) && text,
           "-text: text");
    tap_ok(!h2gw_grpcweb_codec_content_type("application/grpc", &text, &sfx,
                                            &slen), "application/grpc: no");
    tap_ok(!h2gw_grpcweb_codec_content_type("application/grpc-webx", &text,
                                            &sfx, &slen), "grpc-webx: no");
    tap_ok(!h2gw_grpcweb_codec_content_type("application/grpc-web+", &text,
                                            &sfx, &slen), "'+' alone: no");
    tap_ok(!h2gw_grpcweb_codec_content_type(NULL, &text, &sfx, &slen),
           "none: no");
    tap_ok(h2gw_grpcweb_codec_is_grpc("application/grpc+proto", &sfx, &slen)
           && slen == 6, "application/grpc+proto is gRPC");
    tap_ok(h2gw_grpcweb_codec_is_grpc("application/grpc", &sfx, &slen)
           && slen == 0, "application/grpc is gRPC");
    tap_ok(!h2gw_grpcweb_codec_is_grpc("text/html", &sfx, &slen),
           "text/html is not");
    tap_ok(!h2gw_grpcweb_codec_is_grpc("application/grpc-web", &sfx, &slen),
           "application/grpc-web is not plain gRPC");
}

/* A reference encoder, whole buffer at once. */
static char *b64(const unsigned char *in, size_t len)
{
    static const char c[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = apr_palloc(pool, (len + 2) / 3 * 4 + 1), *o = out;
    size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        *o++ = c[in[i] >> 2];
        *o++ = c[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *o++ = c[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        *o++ = c[in[i + 2] & 63];
    }
    if (len - i == 1) {
        *o++ = c[in[i] >> 2];
        *o++ = c[(in[i] & 3) << 4];
        *o++ = '=';
        *o++ = '=';
    }
    else if (len - i == 2) {
        *o++ = c[in[i] >> 2];
        *o++ = c[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *o++ = c[(in[i + 1] & 15) << 2];
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

/* Decodes s fed in pieces of `piece` characters; returns the status. */
static apr_status_t decode_pieces(const char *s, size_t piece,
                                  unsigned char *out, size_t *outlen)
{
    h2gw_b64dec_t d = {{0}, 0};
    size_t len = strlen(s), off = 0, total = 0;

    while (off < len) {
        size_t n = len - off < piece ? len - off : piece, got;
        apr_status_t rv = h2gw_grpcweb_codec_b64_decode(&d, s + off, n,
                                                        out + total, &got);

        total += got;
        if (rv != APR_SUCCESS) {
            return rv;
        }
        off += n;
    }
    *outlen = total;
    return h2gw_grpcweb_codec_b64_finish(&d);
}

static void test_decode(void)
{
    unsigned char data[300], out[400];
    size_t i, piece, outlen;
    int all = 1;
    char *enc, *two;

    for (i = 0; i < sizeof(data); ++i) {
        data[i] = (unsigned char)(i * 37 + 11);
    }
    enc = b64(data, sizeof(data) - 1);
    for (piece = 1; piece <= 17; ++piece) {
        if (decode_pieces(enc, piece, out, &outlen) != APR_SUCCESS
            || outlen != sizeof(data) - 1
            || memcmp(out, data, outlen)) {
            all = 0;
        }
    }
    tap_ok(all, "299 bytes decode whole, fed 1 to 17 characters at a time");
    /* Padded pieces one after another, as a text client sends each
     * message: "AQ==" "AgM=" "BAUG". */
    two = apr_pstrcat(pool, b64(data, 1), b64(data + 1, 2), b64(data + 3, 3),
                      "\r\n", NULL);
    all = 1;
    for (piece = 1; piece <= 5; ++piece) {
        if (decode_pieces(two, piece, out, &outlen) != APR_SUCCESS
            || outlen != 6 || memcmp(out, data, 6)) {
            all = 0;
        }
    }
    tap_ok(all, "padding inside the stream ends a piece; CR LF skipped");
    tap_is_int(decode_pieces("-_8=", 1, out, &outlen), APR_SUCCESS,
               "URL-safe alphabet accepted");
    tap_ok(outlen == 2 && out[0] == 0xfb && out[1] == 0xff,
           "... and decoded as + and /");
    tap_is_int(decode_pieces("QQ=A", 3, out, &outlen), APR_EINVAL,
               "a character after '=' in a quantum: refused");
    tap_is_int(decode_pieces("Q===", 2, out, &outlen), APR_EINVAL,
               "'=' in the second place: refused");
    tap_is_int(decode_pieces("QUJD*", 1, out, &outlen), APR_EINVAL,
               "a character outside the alphabet: refused");
    tap_is_int(decode_pieces("QUJDRA", 4, out, &outlen), APR_EINVAL,
               "an unfinished quantum at the end: refused");
}

/* A message frame of n payload bytes. */
static size_t put_frame(unsigned char *p, size_t n, unsigned char fill)
{
    p[0] = 0;
    p[1] = (unsigned char)(n >> 24);
    p[2] = (unsigned char)(n >> 16);
    p[3] = (unsigned char)(n >> 8);
    p[4] = (unsigned char)n;
    memset(p + 5, fill, n);
    return n + 5;
}

static void test_out(void)
{
    static unsigned char stream[80000];
    size_t sizes[] = {0, 1, 2, 3, 7, 70000, 4};
    size_t ends[8], nends = 0, len = 0, i, piece;
    int bin_ok = 1, text_ok = 1, padded_ok = 1;
    char *enc = malloc(H2GW_GRPCWEB_ENCODED_MAX(sizeof(stream)));
    unsigned char *dec = malloc(sizeof(stream) + 8);

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        len += put_frame(stream + len, sizes[i], (unsigned char)('a' + i));
        ends[nends++] = len;
    }
    for (piece = 1; piece <= 13; ++piece) {
        h2gw_grpcweb_out_t bo, to;
        size_t off = 0, encl = 0, e = 0, got;

        memset(&bo, 0, sizeof(bo));
        memset(&to, 0, sizeof(to));
        to.text = 1;
        while (off < len) {
            size_t n = len - off < piece ? len - off : piece, w;

            h2gw_grpcweb_codec_out(&bo, stream + off, n, NULL, &w);
            if (w != 0) {
                bin_ok = 0;
            }
            h2gw_grpcweb_codec_out(&to, stream + off, n, enc + encl, &w);
            if (w > H2GW_GRPCWEB_ENCODED_MAX(n)) {
                text_ok = 0;
            }
            encl += w;
            off += n;
            while (e < nends && ends[e] <= off) {
                ++e;
            }
            /* At a frame's end everything so far is out, padded. */
            if (e && ends[e - 1] == off) {
                h2gw_b64dec_t d = {{0}, 0};

                if (!h2gw_grpcweb_codec_out_at_boundary(&bo)
                    || !h2gw_grpcweb_codec_out_at_boundary(&to)
                    || encl % 4 != 0
                    || h2gw_grpcweb_codec_b64_decode(&d, enc, encl, dec,
                                                     &got) != APR_SUCCESS
                    || got != off || memcmp(dec, stream, off)) {
                    padded_ok = 0;
                }
            }
            else if (h2gw_grpcweb_codec_out_at_boundary(&bo)) {
                bin_ok = 0;  /* mid-frame taken for a boundary */
            }
        }
    }
    tap_ok(bin_ok, "binary: frame boundaries found, pieces of 1 to 13");
    tap_ok(text_ok, "text: output within H2GW_GRPCWEB_ENCODED_MAX");
    tap_ok(padded_ok, "text: at every frame's end all of it is out, "
                      "padded and decodable");
    free(enc);
    free(dec);
}

static void test_trailer(void)
{
    h2gw_grpcweb_out_t o;
    h2gw_field_t f[] = {{"grpc-status", "3"}, {"Grpc-Message", "bad%20x"},
                        {"x-custom", "v"}};
    const char *want = "grpc-status: 3\r\ngrpc-message: bad%20x\r\n"
                       "x-custom: v\r\n";
    size_t len;
    char *t;
    unsigned char dec[200];
    h2gw_b64dec_t d = {{0}, 0};

    memset(&o, 0, sizeof(o));
    t = h2gw_grpcweb_codec_trailer(pool, &o, f, 3, 0, NULL, &len);
    tap_is_int((long)len, (long)(5 + strlen(want)),
               "trailer frame: header and block");
    tap_ok((unsigned char)t[0] == 0x80 && t[1] == 0 && t[2] == 0
           && t[3] == 0 && t[4] == (char)strlen(want),
           "trailer frame: flag 0x80, big-endian length");
    tap_ok(!memcmp(t + 5, want, strlen(want)),
           "trailer frame: lowercase 'name: value\\r\\n' lines");
    tap_ok(h2gw_grpcweb_codec_out_at_boundary(&o),
           "after the trailer frame: at a boundary");

    memset(&o, 0, sizeof(o));
    t = h2gw_grpcweb_codec_trailer(pool, &o, NULL, 0, 14, "upstream gone",
                                   &len);
    tap_ok(len == 5 + strlen("grpc-status: 14\r\ngrpc-message: upstream "
                             "gone\r\n")
           && !memcmp(t + 5, "grpc-status: 14\r\ngrpc-message: upstream "
                             "gone\r\n", len - 5),
           "no grpc-status among the fields: the given status and message");

    memset(&o, 0, sizeof(o));
    o.text = 1;
    t = h2gw_grpcweb_codec_trailer(pool, &o, f, 3, 0, NULL, &len);
    tap_ok(len % 4 == 0
           && h2gw_grpcweb_codec_b64_decode(&d, t, len, dec, &len)
                  == APR_SUCCESS
           && len == 5 + strlen(want) && dec[0] == 0x80
           && !memcmp(dec + 5, want, strlen(want)),
           "text: the trailer frame base64-encoded, padded");
}

static void test_status(void)
{
    tap_is_int(h2gw_grpcweb_codec_status_from_http(503), 14, "503: 14");
    tap_is_int(h2gw_grpcweb_codec_status_from_http(404), 12, "404: 12");
    tap_is_int(h2gw_grpcweb_codec_status_from_http(400), 13, "400: 13");
    tap_is_int(h2gw_grpcweb_codec_status_from_http(500), 2, "500: 2");
    tap_is_int(h2gw_grpcweb_codec_status_from_fail(H2GW_FAIL_TIMEOUT, 0), 4,
               "timeout: DEADLINE_EXCEEDED");
    tap_is_int(h2gw_grpcweb_codec_status_from_fail(H2GW_FAIL_CONNECT, 0), 14,
               "connect failed: UNAVAILABLE");
    tap_is_int(h2gw_grpcweb_codec_status_from_fail(H2GW_FAIL_CONN_LOST, 0),
               14, "connection lost: UNAVAILABLE");
    tap_is_int(h2gw_grpcweb_codec_status_from_fail(H2GW_FAIL_RESET,
                                                   NGHTTP2_INTERNAL_ERROR),
               13, "reset INTERNAL_ERROR: INTERNAL");
    tap_is_int(h2gw_grpcweb_codec_status_from_fail(H2GW_FAIL_RESET,
                                                   NGHTTP2_REFUSED_STREAM),
               14, "reset REFUSED_STREAM: UNAVAILABLE");
    tap_is_int(h2gw_grpcweb_codec_status_from_fail(H2GW_FAIL_RESET,
                                                   NGHTTP2_CANCEL),
               1, "reset CANCEL: CANCELLED");
    tap_is_int(h2gw_grpcweb_codec_status_from_fail(H2GW_FAIL_PROTOCOL, 0),
               13, "protocol error: INTERNAL");
    tap_is_str(h2gw_grpcweb_codec_message(pool, "plain text"), "plain text",
               "grpc-message: plain ASCII as it is");
    tap_is_str(h2gw_grpcweb_codec_message(pool, "100% \xc3\xa9\n"),
               "100%25 %C3%A9%0A", "grpc-message: '%', 8-bit, controls "
                                   "percent-encoded");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_content_type();
    test_decode();
    test_out();
    test_trailer();
    test_status();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
