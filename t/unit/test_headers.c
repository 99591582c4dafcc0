/*
 * test_headers: h2gw_headers request conversion (pseudo-headers first,
 * lowercasing, hop-by-hop removal incl. fields named by Connection, TE),
 * invalid field refusal, response classification and :status parsing.
 */
#include <apr_general.h>
#include <apr_strings.h>

#include "h2gw_headers.h"
#include "tap.h"

static apr_pool_t *pool;

/* Finds the value of name in nv (NULL when absent); counts matches. */
static const char *nv_get(const nghttp2_nv *nv, size_t n, const char *name,
                          int *count)
{
    const char *found = NULL;
    size_t i;

    *count = 0;
    for (i = 0; i < n; ++i) {
        if (nv[i].namelen == strlen(name)
            && !memcmp(nv[i].name, name, nv[i].namelen)) {
            ++*count;
            found = apr_pstrmemdup(pool, (const char *)nv[i].value,
                                   nv[i].valuelen);
        }
    }
    return found;
}

static void test_request(void)
{
    h2gw_req_line_t rl = {"GET", "http", "up:8080", "/v1/a%20b?x=%2F&y"};
    h2gw_field_t f[] = {
        {"Host", "client.example"},
        {"Connection", "keep-alive, X-Hop"},
        {"X-Hop", "secret"},
        {"Keep-Alive", "timeout=5"},
        {"Proxy-Connection", "close"},
        {"Transfer-Encoding", "chunked"},
        {"Upgrade", "h2c"},
        {"TE", "gzip, trailers;q=1"},
        {"Accept", "*/*"},
        {"X-Mixed-Case", "Value Kept"},
        {"Cookie", "a=1"},
        {"Cookie", "b=2"},
    };
    nghttp2_nv *nv;
    size_t n, i;
    const char *bad;
    int count;
    apr_status_t rv;

    rv = h2gw_headers_req_to_nv(pool, &rl, f, sizeof(f) / sizeof(f[0]), &nv,
                                &n, &bad);
    tap_is_int(rv, APR_SUCCESS, "request converts");
    tap_is_str(apr_pstrmemdup(pool, (char *)nv[0].name, nv[0].namelen),
               ":method", "first field is :method");
    tap_is_str(nv_get(nv, n, ":path", &count), "/v1/a%20b?x=%2F&y",
               ":path is byte-exact");
    tap_is_str(nv_get(nv, n, ":authority", &count), "up:8080", ":authority");
    tap_is_str(nv_get(nv, n, ":scheme", &count), "http", ":scheme");
    for (i = 0; i < 4; ++i) {
        tap_ok(nv[i].name[0] == ':', "pseudo-headers come first");
    }
    for (i = 4; i < n; ++i) {
        tap_ok(nv[i].name[0] != ':', "regular fields after pseudo-headers");
    }
    tap_ok(!nv_get(nv, n, "host", &count), "host removed");
    tap_ok(!nv_get(nv, n, "connection", &count), "connection removed");
    tap_ok(!nv_get(nv, n, "x-hop", &count), "field named by Connection removed");
    tap_ok(!nv_get(nv, n, "keep-alive", &count), "keep-alive removed");
    tap_ok(!nv_get(nv, n, "proxy-connection", &count),
           "proxy-connection removed");
    tap_ok(!nv_get(nv, n, "transfer-encoding", &count),
           "transfer-encoding removed");
    tap_ok(!nv_get(nv, n, "upgrade", &count), "upgrade removed");
    tap_is_str(nv_get(nv, n, "te", &count), "trailers",
               "te reduced to trailers");
    tap_is_str(nv_get(nv, n, "x-mixed-case", &count), "Value Kept",
               "name lowercased, value kept");
    nv_get(nv, n, "cookie", &count);
    tap_is_int(count, 2, "repeated fields stay repeated");
    for (i = 0; i < n; ++i) {
        size_t j;
        int lower = 1;

        for (j = 0; j < nv[i].namelen; ++j) {
            if (nv[i].name[j] >= 'A' && nv[i].name[j] <= 'Z') {
                lower = 0;
            }
        }
        tap_ok(lower, "every name lowercase");
    }
}

static void test_te_without_trailers(void)
{
    h2gw_req_line_t rl = {"GET", "http", "a", "/"};
    h2gw_field_t f[] = {{"TE", "gzip, deflate"}};
    nghttp2_nv *nv;
    size_t n;
    const char *bad;
    int count;

    h2gw_headers_req_to_nv(pool, &rl, f, 1, &nv, &n, &bad);
    tap_ok(!nv_get(nv, n, "te", &count), "TE without trailers is dropped");
}

/* HTTP/1.1 requires a sender of TE to name it in Connection too (RFC 9110
 * 10.1.4): the one hop-by-hop field HTTP/2 allows must still pass. */
static void test_te_named_by_connection(void)
{
    h2gw_req_line_t rl = {"POST", "http", "a", "/"};
    h2gw_field_t f[] = {{"Connection", "TE, keep-alive"},
                        {"TE", "trailers"}};
    nghttp2_nv *nv;
    size_t n;
    const char *bad;
    int count;

    h2gw_headers_req_to_nv(pool, &rl, f, 2, &nv, &n, &bad);
    tap_is_str(nv_get(nv, n, "te", &count), "trailers",
               "TE: trailers named by Connection still passes");
    tap_ok(!nv_get(nv, n, "connection", &count), "connection removed");
}

static void test_invalid(void)
{
    static const struct {
        const char *name, *value, *label;
    } cases[] = {
        {"X-Bad", "a\r\nInjected: 1", "CR LF in a value refused"},
        {"X-Bad", "a\nb", "LF in a value refused"},
        {"Bad Name", "v", "space in a name refused"},
        {"", "v", "empty name refused"},
        {"X:Colon", "v", "colon in a name refused"},
        {"X-Ws", " lead", "leading whitespace refused"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        h2gw_req_line_t rl = {"GET", "http", "a", "/"};
        h2gw_field_t f[1];
        nghttp2_nv *nv;
        size_t n;
        const char *bad;

        f[0].name = cases[i].name;
        f[0].value = cases[i].value;
        tap_is_int(h2gw_headers_req_to_nv(pool, &rl, f, 1, &nv, &n, &bad),
                   APR_EINVAL, cases[i].label);
    }
    {
        h2gw_req_line_t rl = {"GET", "http", "a", "no-slash"};
        nghttp2_nv *nv;
        size_t n;
        const char *bad;

        tap_is_int(h2gw_headers_req_to_nv(pool, &rl, NULL, 0, &nv, &n, &bad),
                   APR_EINVAL, "path must start with /");
    }
    {
        h2gw_req_line_t rl = {"G T", "http", "a", "/"};
        nghttp2_nv *nv;
        size_t n;
        const char *bad;

        tap_is_int(h2gw_headers_req_to_nv(pool, &rl, NULL, 0, &nv, &n, &bad),
                   APR_EINVAL, "method must be a token");
    }
}

static void test_response(void)
{
    static const struct {
        const char *name, *value;
        h2gw_hdr_class_t want;
        const char *label;
    } cases[] = {
        {":status", "200", H2GW_HDR_STATUS, ":status recognized"},
        {":path", "/", H2GW_HDR_DROP, "other pseudo-header dropped"},
        {"set-cookie", "a=1", H2GW_HDR_PASS, "set-cookie passes"},
        {"connection", "close", H2GW_HDR_DROP, "connection dropped"},
        {"transfer-encoding", "chunked", H2GW_HDR_DROP, "t-e dropped"},
        {"keep-alive", "x", H2GW_HDR_DROP, "keep-alive dropped"},
        {"x-a", "b\rc", H2GW_HDR_INVALID, "CR in value invalid"},
        {"x a", "b", H2GW_HDR_INVALID, "space in name invalid"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        tap_is_int(h2gw_headers_resp_class(
                       (const uint8_t *)cases[i].name, strlen(cases[i].name),
                       (const uint8_t *)cases[i].value,
                       strlen(cases[i].value)),
                   cases[i].want, cases[i].label);
    }
    tap_is_int(h2gw_headers_parse_status((const uint8_t *)"204", 3), 204,
               "status 204");
    tap_is_int(h2gw_headers_parse_status((const uint8_t *)"20", 2), -1,
               "two digits refused");
    tap_is_int(h2gw_headers_parse_status((const uint8_t *)"600", 3), -1,
               "600 refused");
    tap_is_int(h2gw_headers_parse_status((const uint8_t *)"2x0", 3), -1,
               "non-digit refused");
    tap_is_int(h2gw_headers_parse_status((const uint8_t *)"099", 3), -1,
               "below 100 refused");
}

/* The proxy's own fields come after hop-by-hop removal: a client that
 * names them in Connection loses its own copy, never the proxy's; one
 * it sends without naming them is appended to. */
static void test_own_fields(void)
{
    h2gw_req_line_t rl = {"GET", "http", "up", "/"};
    h2gw_field_t f[] = {
        {"Connection", "X-Forwarded-For, Via"},
        {"X-Forwarded-For", "192.0.2.66"},
        {"Via", "1.1 evil"},
        {"Forwarded", "for=192.0.2.1"},
    };
    h2gw_field_t own[] = {
        {"X-Forwarded-For", "127.0.0.1"},
        {"Via", "1.1 gw (mod_h2gw)"},
        {"Forwarded", "for=127.0.0.1"},
        {"X-Forwarded-Server", "gw"},
    };
    h2gw_field_t bad_own[] = {{"X-Forwarded-Host", "a\r\nb"}};
    nghttp2_nv *nv, *nv2;
    size_t n, n2;
    const char *bad;
    int count;

    tap_is_int(h2gw_headers_req_to_nv(pool, &rl, f, 4, &nv, &n, &bad),
               APR_SUCCESS, "client fields convert");
    tap_is_int(h2gw_headers_add_own(pool, nv, n, own, 4, &nv2, &n2, &bad),
               APR_SUCCESS, "own fields added");
    tap_is_str(nv_get(nv2, n2, "x-forwarded-for", &count), "127.0.0.1",
               "X-Forwarded-For named by Connection: only the proxy's");
    tap_is_int(count, 1, "... once");
    tap_is_str(nv_get(nv2, n2, "via", &count), "1.1 gw (mod_h2gw)",
               "Via named by Connection: only the proxy's");
    tap_is_str(nv_get(nv2, n2, "forwarded", &count),
               "for=192.0.2.1, for=127.0.0.1",
               "Forwarded not named: the proxy's element appended");
    tap_is_int(count, 1, "... in one field");
    tap_is_str(nv_get(nv2, n2, "x-forwarded-server", &count), "gw",
               "a new field is added, lowercased");
    tap_is_str(nv_get(nv, n, "forwarded", &count), "for=192.0.2.1",
               "the input list is left as it was");
    tap_is_int(h2gw_headers_add_own(pool, nv, n, bad_own, 1, &nv2, &n2, &bad),
               APR_EINVAL, "an own field with CR LF is refused");
}

static void test_escape_target(void)
{
    static const struct {
        const char *in, *want, *label;
    } cases[] = {
        {"/a/b?x=1&y=%2F", "/a/b?x=1&y=%2F", "a clean target is kept"},
        {"/a\\b", "/a%5Cb", "a backslash is encoded"},
        {"/{a}|b^c`d", "/%7Ba%7D%7Cb%5Ec%60d", "{ } | ^ ` are encoded"},
        {"/a\"b<c>", "/a%22b%3Cc%3E", "quote and angle brackets encoded"},
        {"/\xc3\xa9", "/%C3%A9", "8-bit bytes are encoded"},
        {"/a%41!$&'()*+,;=:@-._~", "/a%41!$&'()*+,;=:@-._~",
         "pchar and escapes are kept byte for byte"},
        {"/x?q=\\[1]", "/x?q=%5C%5B1%5D", "the query too"},
        {"/\x01\x7f", "/%01%7F", "controls are encoded"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        tap_is_str(h2gw_headers_escape_target(pool, cases[i].in),
                   cases[i].want, cases[i].label);
    }
}

static void test_grpc_timeout(void)
{
    static const struct {
        const char *in;
        apr_interval_time_t want;
    } cases[] = {
        {"1H", APR_INT64_C(3600000000)}, {"2M", APR_INT64_C(120000000)},
        {"30S", APR_INT64_C(30000000)}, {"250m", 250000}, {"7u", 7},
        {"1500n", 2}, {"99999999S", APR_INT64_C(99999999000000)},
        {"123456789S", -1}, {"S", -1}, {"10", -1}, {"10s", -1},
        {"10SS", -1}, {"-1S", -1}, {" 1S", -1}, {"", -1},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        tap_is_int((long)h2gw_headers_grpc_timeout(cases[i].in),
                   (long)cases[i].want,
                   apr_psprintf(pool, "grpc-timeout '%s'", cases[i].in));
    }
}

static void test_grpc_health(void)
{
    unsigned char buf[H2GW_HEADERS_GRPC_HEALTH_REQ(200)];
    char svc[200];
    size_t n;
    static const struct {
        const char *body;
        size_t len;
        int want;
        const char *label;
    } cases[] = {
        {"\0\0\0\0\2\x08\x01", 7, 1, "SERVING"},
        {"\0\0\0\0\2\x08\x02", 7, 2, "NOT_SERVING"},
        {"\0\0\0\0\0", 5, 0, "an empty message is UNKNOWN (proto3)"},
        {"\0\0\0\0\5\x12\1z\x08\x01", 10, 1,
         "an unknown length-delimited field is skipped"},
        {"\0\0\0\0\4\x08\x01\x08\x03", 9, 3, "the last value counts"},
        {"\1\0\0\0\2\x08\x01", 7, -1, "a compressed message"},
        {"\0\0\0\0\3\x08\x01", 7, -1, "a message cut short"},
        {"\0\0\0", 3, -1, "a prefix cut short"},
        {"\0\0\0\0\2\x08\x81", 7, -1, "a varint cut short"},
        {"\0\0\0\0\2\x0b\x01", 7, -1, "a group wire type"},
        {"\0\0\0\0\2\x12\x05", 7, -1, "a field longer than the message"},
    };
    size_t i;

    n = h2gw_headers_grpc_health_request("", 0, buf);
    tap_ok(n == 5 && !memcmp(buf, "\0\0\0\0\0", 5),
           "gRPC health request for the server: an empty message");
    n = h2gw_headers_grpc_health_request("a.B", 3, buf);
    tap_ok(n == 10 && !memcmp(buf, "\0\0\0\0\5\x0a\3a.B", 10),
           "gRPC health request for a service: field 1, its name");
    memset(svc, 's', sizeof(svc));
    n = h2gw_headers_grpc_health_request(svc, sizeof(svc), buf);
    tap_ok(n == 5 + 3 + sizeof(svc) && buf[4] == 3 + sizeof(svc)
               && buf[5] == 0x0a && buf[6] == (0x80 | (200 & 0x7f))
               && buf[7] == 1,
           "gRPC health request: a name of 200 bytes has a 2-byte length");
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        tap_is_int(h2gw_headers_grpc_health_serving(
                       (const unsigned char *)cases[i].body, cases[i].len),
                   cases[i].want,
                   apr_psprintf(pool, "gRPC health answer: %s",
                                cases[i].label));
    }
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_request();
    test_te_without_trailers();
    test_te_named_by_connection();
    test_invalid();
    test_response();
    test_own_fields();
    test_escape_target();
    test_grpc_timeout();
    test_grpc_health();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
