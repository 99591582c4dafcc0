/*
 * fuzz_grpcweb: drives h2gw_grpcweb_codec with arbitrary bytes, fed in
 * pieces of a size the input's first byte picks, as a client's -text
 * request body (the decoder) and as an upstream's response body (frame
 * tracking and -text encoding). Invariants: no output past the
 * documented bounds; the -text encoding decodes back to exactly the bytes
 * given, less the at most 2 still carried; binary and -text agree on the
 * frame boundaries; a trailer frame after them decodes to flag 0x80.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>

#include "h2gw_grpcweb_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *root;

/* Decodes size characters of arbitrary input; the output stays within
 * H2GW_B64_DECODED_MAX of each piece. */
static void decode(const uint8_t *data, size_t size, size_t piece)
{
    h2gw_b64dec_t d;
    size_t off, got;
    unsigned char *out = malloc(H2GW_B64_DECODED_MAX(piece));

    memset(&d, 0, sizeof(d));
    for (off = 0; off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;

        if (h2gw_grpcweb_codec_b64_decode(&d, (const char *)data + off, n,
                                          out, &got) != APR_SUCCESS) {
            break;
        }
        if (got > H2GW_B64_DECODED_MAX(n)) {
            abort();
        }
    }
    (void)h2gw_grpcweb_codec_b64_finish(&d);
    free(out);
}

/* The response side, binary and -text side by side. */
static void encode(apr_pool_t *p, const uint8_t *data, size_t size,
                   size_t piece)
{
    h2gw_grpcweb_out_t bo, to;
    h2gw_b64dec_t d;
    char *text = malloc(H2GW_GRPCWEB_ENCODED_MAX(size) + 1);
    unsigned char *back = malloc(size + 8);
    size_t off, tlen = 0, blen, w, tl;
    h2gw_field_t f = {"grpc-status", "0"};
    const char *t;

    memset(&bo, 0, sizeof(bo));
    memset(&to, 0, sizeof(to));
    to.text = 1;
    for (off = 0; off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;

        h2gw_grpcweb_codec_out(&bo, data + off, n, NULL, &w);
        h2gw_grpcweb_codec_out(&to, data + off, n, text + tlen, &w);
        if (w > H2GW_GRPCWEB_ENCODED_MAX(n) || w % 4) {
            abort();  /* whole groups only, within the bound */
        }
        tlen += w;
        if (h2gw_grpcweb_codec_out_at_boundary(&bo)
            != h2gw_grpcweb_codec_out_at_boundary(&to)) {
            abort();
        }
    }
    memset(&d, 0, sizeof(d));
    if (h2gw_grpcweb_codec_b64_decode(&d, text, tlen, back, &blen)
            != APR_SUCCESS
        || d.n != 0 || blen + to.ncarry != size || memcmp(back, data, blen)
        || memcmp(to.carry, data + blen, to.ncarry)) {
        abort();  /* the encoding must give back what was given */
    }
    if (h2gw_grpcweb_codec_out_at_boundary(&to)) {
        unsigned char *frame;

        t = h2gw_grpcweb_codec_trailer(p, &to, &f, 1, 0, NULL, &tl);
        frame = apr_palloc(p, H2GW_B64_DECODED_MAX(tl));
        memset(&d, 0, sizeof(d));
        if (to.ncarry != 0 || tl % 4
            || h2gw_grpcweb_codec_b64_decode(&d, t, tl, frame, &blen)
                   != APR_SUCCESS
            || blen < 5 || frame[0] != H2GW_GRPCWEB_TRAILER_FLAG) {
            abort();
        }
    }
    free(text);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    size_t piece;

    if (!root) {
        apr_initialize();
        apr_pool_create(&root, NULL);
    }
    if (size < 1) {
        return 0;
    }
    piece = (size_t)(data[0] % 64) + 1;
    apr_pool_create(&p, root);
    decode(data + 1, size - 1, piece);
    encode(p, data + 1, size - 1, piece);
    apr_pool_destroy(p);
    return 0;
}
