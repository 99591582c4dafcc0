/*
 * test_map: h2gw_map, table-driven: which URIs a prefix covers (merged
 * slashes), the raw path of a request target, httpd's path escaping, the
 * upstream :path (raw, normalized, query), the Forwarded and Via elements,
 * and Location mapped back to the client's prefix.
 */
#include <apr_general.h>
#include <apr_strings.h>

#include "h2gw_map.h"
#include "tap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static apr_pool_t *pool;

static void test_after_prefix(void)
{
    static const struct {
        const char *uri, *prefix, *want;  /* want NULL: not under it */
    } cases[] = {
        {"/api/x", "/api/", "x"},
        {"/api/", "/api/", ""},
        {"/api", "/api/", NULL},
        {"/api//x", "/api/", "x"},
        {"/api///x", "/api/", "x"},
        {"//api/x", "/api/", "x"},
        {"/apix", "/api", "x"},
        {"/api//x", "/api//", "x"},
        {"/api/x", "/API/", NULL},
        {"/other", "/api/", NULL},
        {"/x", "", "/x"},
        {"/", "/", ""},
    };
    size_t i;

    for (i = 0; i < N(cases); ++i) {
        tap_is_str(h2gw_map_after_prefix(cases[i].uri, cases[i].prefix),
                   cases[i].want,
                   apr_psprintf(pool, "after_prefix('%s', '%s')",
                                cases[i].uri, cases[i].prefix));
    }
}

static void test_raw_path(void)
{
    static const struct {
        const char *target, *want;
    } cases[] = {
        {"/a/b?q=1", "/a/b"},
        {"/a/b#frag", "/a/b"},
        {"/a%2Fb/%7e?x", "/a%2Fb/%7e"},
        {"http://host:8080/a/b?q", "/a/b"},
        {"https://host", "/"},
        {"http://host?x", "/"},
        {"*", "/"},
        {"", "/"},
        {NULL, "/"},
        {"//a", "//a"},
    };
    size_t i;

    for (i = 0; i < N(cases); ++i) {
        tap_is_str(h2gw_map_raw_path(pool, cases[i].target), cases[i].want,
                   apr_psprintf(pool, "raw_path('%s')",
                                cases[i].target ? cases[i].target
                                                : "(null)"));
    }
}

static void test_escape_path(void)
{
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"/plain/a-b_c.d~e", "/plain/a-b_c.d~e"},
        {"/$+!*'(),:;@&=", "/$+!*'(),:;@&="},
        {"/a b", "/a%20b"},
        {"/100%", "/100%25"},
        {"/q?x#y", "/q%3fx%23y"},
        {"/\"<>\\^`{|}[]", "/%22%3c%3e%5c%5e%60%7b%7c%7d%5b%5d"},
        {"/\x01\x7f\xc3\xa9", "/%01%7f%c3%a9"},
        {"", ""},
    };
    size_t i;

    for (i = 0; i < N(cases); ++i) {
        tap_is_str(h2gw_map_escape_path(pool, cases[i].path), cases[i].want,
                   apr_psprintf(pool, "escape_path('%s')", cases[i].want));
    }
}

static void test_upstream_path(void)
{
    static const struct {
        const char *label, *target, *uri, *query, *prefix, *base, *want;
    } cases[] = {
        {"prefix replaced by base", "/api/v1/x", "/api/v1/x", NULL, "/api/",
         "/", "/v1/x"},
        {"base with a path", "/api/x", "/api/x", NULL, "/api/", "/svc/",
         "/svc/x"},
        {"query kept as sent", "/api/x?a=%2F&b", "/api/x", "a=%2F&b",
         "/api/", "/", "/x?a=%2F&b"},
        {"empty query kept", "/api/x?", "/api/x", "", "/api/", "/", "/x?"},
        {"escapes as sent", "/api/a%20b%2Fc", "/api/a b/c", NULL, "/api/",
         "/", "/a%20b%2Fc"},
        {"no prefix slash", "/app/x", "/app/x", NULL, "/app", "/b", "/b/x"},
        {"absolute-form", "http://gw:80/api/x?q", "/api/x", "q", "/api/",
         "/", "/x?q"},
        {"dot segments: normalized form", "/x/../api/a;b", "/api/a;b",
         NULL, "/api/", "/", "/a;b"},
        {"normalized form escaped again", "/%61pi/a%3Fb c", "/api/a?b c",
         NULL, "/api/", "/", "/a%3fb%20c"},
        {"merged slashes", "/api//x", "/api//x", NULL, "/api//", "/", "/x"},
        {"merged slashes, normalized", "//api/x", "/api/x", NULL, "/api/",
         "/", "/x"},
        {"bytes no :path may carry", "/api/a\"b", "/api/a\"b", NULL,
         "/api/", "/", "/a%22b"},
        {"8-bit bytes", "/api/\xc3\xa9", "/api/\xc3\xa9", NULL, "/api/", "/",
         "/%C3%A9"},
    };
    size_t i;

    for (i = 0; i < N(cases); ++i) {
        tap_is_str(h2gw_map_upstream_path(pool, cases[i].target,
                                          cases[i].uri, cases[i].query,
                                          cases[i].prefix, cases[i].base),
                   cases[i].want,
                   apr_psprintf(pool, "upstream_path: %s", cases[i].label));
    }
}

static void test_forwarded(void)
{
    static const struct {
        const char *ip, *host, *scheme, *want;
    } cases[] = {
        {"192.0.2.1", "example.com", "http",
         "for=192.0.2.1;host=example.com;proto=http"},
        {"192.0.2.1", NULL, "https", "for=192.0.2.1;proto=https"},
        {"192.0.2.1", "example.com:8443", "https",
         "for=192.0.2.1;host=\"example.com:8443\";proto=https"},
        {"2001:db8::1", "h", "http",
         "for=\"[2001:db8::1]\";host=h;proto=http"},
        {NULL, "h", "http", "for=unknown;host=h;proto=http"},
        {"::1", "a\"b", "http", "for=\"[::1]\";host=\"a\\\"b\";proto=http"},
        {"1.2.3.4", "a\\\"b", "http",
         "for=1.2.3.4;host=\"a\\\"b\";proto=http"},
        {"1.2.3.4", "a\\x\"", "http",
         "for=1.2.3.4;host=\"a\\x\\\"\";proto=http"},
        {"1.2.3.4", "a b", "http", "for=1.2.3.4;host=\"a b\";proto=http"},
        {"1.2.3.4", "", "http", "for=1.2.3.4;host=\"\";proto=http"},
    };
    size_t i;

    for (i = 0; i < N(cases); ++i) {
        tap_is_str(h2gw_map_forwarded(pool, cases[i].ip, cases[i].host,
                                      cases[i].scheme),
                   cases[i].want,
                   apr_psprintf(pool, "forwarded: %s", cases[i].want));
    }
}

static void test_via(void)
{
    static const struct {
        int proto_num;
        const char *want;
    } cases[] = {
        {2000, "2 gw.example (mod_h2gw)"},
        {1001, "1.1 gw.example (mod_h2gw)"},
        {1000, "1.0 gw.example (mod_h2gw)"},
        {9, "1.0 gw.example (mod_h2gw)"},
        {3000, "2 gw.example (mod_h2gw)"},
    };
    size_t i;

    for (i = 0; i < N(cases); ++i) {
        tap_is_str(h2gw_map_via(pool, cases[i].proto_num, "gw.example"),
                   cases[i].want,
                   apr_psprintf(pool, "via: %d", cases[i].proto_num));
    }
}

static void test_uri_fields(void)
{
    tap_ok(h2gw_map_is_uri_field("Location"), "Location is mapped back");
    tap_ok(h2gw_map_is_uri_field("content-location"),
           "Content-Location is mapped back");
    tap_ok(h2gw_map_is_uri_field("URI"), "URI is mapped back");
    tap_ok(!h2gw_map_is_uri_field("Link"), "Link is not");
    tap_ok(!h2gw_map_is_uri_field("Refresh"), "Refresh is not");
}

static void test_reverse(void)
{
    static const char *const servers[] = {"up1:8080", "UP2"};
    static const struct {
        const char *prefix, *base, *host, *value, *want;
    } cases[] = {
        {"/app/", "/", NULL, "/x", "/app/x"},
        {"/app/", "/", NULL, "/", "/app/"},
        {"/app/", "/svc/", NULL, "/svc/x?q#f", "/app/x?q#f"},
        {"/app/", "/svc/", NULL, "/other/x", "/other/x"},
        {"/app/", "/svc", NULL, "/svc/x", "/app/x"},
        {"/app", "/svc/", NULL, "/svc/x", "/app/x"},
        {"/app", "/svc", NULL, "/svc/x", "/app/x"},
        {"/app", "/svc", NULL, "/svcx", "/appx"},
        {"/app/", "/", NULL, "//up1:8080/x", "//up1:8080/x"},
        {"/app/", "/", NULL, "http://up1:8080/x", "https://gw.example/app/x"},
        {"/app/", "/", NULL, "HTTPS://Up1:8080/x", "https://gw.example/app/x"},
        {"/app/", "/", NULL, "http://up2", "https://gw.example/app/"},
        {"/app/", "/", NULL, "http://up2?x", "https://gw.example/app/?x"},
        {"/app/", "/", NULL, "http://up2#f", "https://gw.example/app/#f"},
        {"/app/", "/svc/", NULL, "http://up2?x", "http://up2?x"},
        {"/app/", "/", NULL, "http://up1:9/x", "http://up1:9/x"},
        {"/app/", "/", NULL, "http://up1:8080.evil/x",
         "http://up1:8080.evil/x"},
        {"/app/", "/", NULL, "ftp://up1:8080/x", "ftp://up1:8080/x"},
        {"/app/", "/", NULL, "http://client.example/x",
         "http://client.example/x"},
        {"/app/", "/", "client.example", "http://client.example/x",
         "https://gw.example/app/x"},
        {"/app/", "/svc/", NULL, "http://up1:8080/elsewhere",
         "http://up1:8080/elsewhere"},
        {"/app/", "/", NULL, "relative/x", "relative/x"},
        {"/app/", "/", NULL, "", ""},
    };
    h2gw_map_rev_t m;
    size_t i;

    m.authorities = servers;
    m.nauthorities = (int)N(servers);
    m.client_url = "https://gw.example";
    for (i = 0; i < N(cases); ++i) {
        m.prefix = cases[i].prefix;
        m.base_path = cases[i].base;
        m.host = cases[i].host;
        tap_is_str(h2gw_map_reverse(pool, &m, cases[i].value), cases[i].want,
                   apr_psprintf(pool, "reverse('%s', %s -> %s%s)",
                                cases[i].value, cases[i].base,
                                cases[i].prefix,
                                cases[i].host ? ", Host preserved" : ""));
    }
}

/* A path under the prefix goes upstream and comes back as it was, when
 * prefix and base path agree on their trailing slash (h2gw_config_check()
 * warns of passes where they do not). */
static void test_round_trip(void)
{
    static const struct {
        const char *prefix, *base;
    } passes[] = {
        {"/app/", "/"}, {"/app/", "/svc/"}, {"/app", "/svc"}, {"/", "/"},
    };
    static const char *const rests[] = {"x", "a/b/c", "a%20b", "", "x;p=1"};
    h2gw_map_rev_t m = {NULL, NULL, NULL, 0, NULL, "http://gw"};
    size_t i, j;

    for (i = 0; i < N(passes); ++i) {
        m.prefix = passes[i].prefix;
        m.base_path = passes[i].base;
        for (j = 0; j < N(rests); ++j) {
            const char *client = apr_pstrcat(pool, passes[i].prefix,
                                             rests[j], NULL);
            const char *up = h2gw_map_upstream_path(
                pool, client, client, NULL, passes[i].prefix,
                passes[i].base);

            tap_is_str(h2gw_map_reverse(pool, &m, up), client,
                       apr_psprintf(pool, "round trip %s via %s", client,
                                    up));
        }
    }
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_after_prefix();
    test_raw_path();
    test_escape_path();
    test_upstream_path();
    test_forwarded();
    test_via();
    test_uri_fields();
    test_reverse();
    test_round_trip();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
