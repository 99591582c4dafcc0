/*
 * fuzz_headers: drives h2gw_headers with arbitrary request fields and
 * checks the invariants of what it emits: pseudo-headers first and
 * complete, no hop-by-hop field, only lowercase names, no CR, LF or NUL
 * anywhere, TE only as "trailers". Response classification and :status
 * parsing run on the same bytes. Input: line 1 is the method, line 2 the
 * path, each further line "name:value".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "h2gw_headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *root;

static int hop_by_hop(const char *name, size_t len)
{
    static const char *const hop[] = {
        "connection", "keep-alive", "proxy-connection", "transfer-encoding",
        "upgrade", "host", "http2-settings", NULL};
    int i;

    for (i = 0; hop[i]; ++i) {
        if (strlen(hop[i]) == len && !memcmp(hop[i], name, len)) {
            return 1;
        }
    }
    return 0;
}

static void check(const nghttp2_nv *nv, size_t n)
{
    static const char *const pseudo[] = {":method", ":scheme", ":authority",
                                         ":path"};
    size_t i, j;

    if (n < 4) {
        abort();
    }
    for (i = 0; i < n; ++i) {
        if ((i < 4) != (nv[i].namelen > 0 && nv[i].name[0] == ':')) {
            abort();  /* pseudo-headers first, and only there */
        }
        if (i < 4 && (nv[i].namelen != strlen(pseudo[i])
                      || memcmp(nv[i].name, pseudo[i], nv[i].namelen))) {
            abort();
        }
        if (i >= 4 && hop_by_hop((const char *)nv[i].name, nv[i].namelen)) {
            abort();
        }
        if (nv[i].namelen == 2 && !memcmp(nv[i].name, "te", 2)
            && (nv[i].valuelen != 8 || memcmp(nv[i].value, "trailers", 8))) {
            abort();
        }
        for (j = 0; j < nv[i].namelen; ++j) {
            uint8_t c = nv[i].name[j];
            if (c == 0 || c == '\r' || c == '\n' || (c >= 'A' && c <= 'Z')) {
                abort();
            }
        }
        for (j = 0; j < nv[i].valuelen; ++j) {
            uint8_t c = nv[i].value[j];
            if (c == 0 || c == '\r' || c == '\n') {
                abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    h2gw_field_t *fields;
    h2gw_req_line_t rl;
    nghttp2_nv *nv;
    const char *bad;
    char *text, *line, *save = NULL;
    size_t nfields = 0, nvlen;
    int lineno = 0;

    if (!root) {
        apr_initialize();
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&p, root);
    /* NULs inside the input become visible to the checks only through
     * the length-delimited response path; the request side takes C
     * strings, as httpd hands them over. */
    text = apr_pstrmemdup(p, (const char *)data, size);
    fields = apr_palloc(p, sizeof(*fields) * (size / 2 + 1));
    rl.method = "GET";
    rl.scheme = "http";
    rl.authority = "upstream:8080";
    rl.path = "/";
    for (line = apr_strtok(text, "\n", &save); line;
         line = apr_strtok(NULL, "\n", &save), ++lineno) {
        char *colon;

        if (lineno == 0) {
            rl.method = line;
            continue;
        }
        if (lineno == 1) {
            rl.path = line;
            continue;
        }
        colon = strchr(line, ':');
        if (!colon || colon == line) {
            continue;
        }
        *colon = 0;
        fields[nfields].name = line;
        fields[nfields].value = colon + 1;
        ++nfields;
    }
    if (h2gw_headers_req_to_nv(p, &rl, fields, nfields, &nv, &nvlen, &bad)
        == APR_SUCCESS) {
        /* The proxy's own fields survive whatever Connection named. */
        static const h2gw_field_t own[] = {
            {"X-Forwarded-For", "127.0.0.1"}, {"Via", "1.1 gw"}};
        nghttp2_nv *nv2;
        size_t nv2len, i, seen = 0;

        check(nv, nvlen);
        if (h2gw_headers_add_own(p, nv, nvlen, own, 2, &nv2, &nv2len, &bad)
            != APR_SUCCESS) {
            abort();
        }
        check(nv2, nv2len);
        for (i = 0; i < nv2len; ++i) {
            seen += (nv2[i].namelen == 15
                     && !memcmp(nv2[i].name, "x-forwarded-for", 15))
                    || (nv2[i].namelen == 3 && !memcmp(nv2[i].name, "via", 3));
        }
        if (seen < 2) {
            abort();
        }
    }
    {
        /* An escaped target holds nothing RFC 3986 forbids. */
        const char *t = h2gw_headers_escape_target(p, rl.path);

        for (; *t; ++t) {
            if ((unsigned char)*t <= ' ' || (unsigned char)*t >= 0x7f
                || strchr("\"#<>[\\]^`{|}", *t)) {
                abort();
            }
        }
    }
    /* The response side on the raw bytes, split once in the middle. */
    h2gw_headers_resp_class(data, size / 2, data + size / 2, size - size / 2);
    h2gw_headers_parse_status(data, size < 3 ? size : 3);
    apr_pool_destroy(p);
    return 0;
}
