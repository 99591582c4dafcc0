/*
 * test_params: the table of H2GWPass/H2GWUpstream parameters
 * (h2gw_params): each kind parsed with its exact messages, the "unknown
 * parameter" list, defaults and layers, the pool comparison, and that
 * README.md's "Parameters of H2GWPass and H2GWUpstream" documents every
 * parameter of the table and no other.
 */
#include <stdlib.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "h2gw_params.h"
#include "tap.h"

#ifndef H2GW_README
#define H2GW_README "README.md"
#endif

static apr_pool_t *pool;

/* Paths as given (the module resolves them against ServerRoot). */
static const char *as_given(apr_pool_t *p, const char *val)
{
    return strcmp(val, "/bad") ? val : NULL;
}

/* One word parsed into fresh parameters: NULL, or the message. */
static const char *parse(const char *word, h2gw_params_t *pm)
{
    h2gw_params_init(pm);
    return h2gw_params_parse(pool, "H2GWPass", pm, word, as_given);
}

static void test_parse_errors(void)
{
    static const struct {
        const char *word, *err;
    } cases[] = {
        {"timeout=0.0000001", "H2GWPass timeout: '0.0000001' is not a "
                              "number of seconds (from 0.1 to 31536000)"},
        {"timeout=0", "H2GWPass timeout: '0' is not a number of seconds "
                      "(from 0.1 to 31536000)"},
        {"TimeOut=abc", "H2GWPass TimeOut: 'abc' is not a number of "
                        "seconds (from 0.1 to 31536000)"},
        {"ping=0.001", "H2GWPass ping: '0.001' is not a number of seconds "
                       "(0, or from 0.1 to 31536000)"},
        {"queue-timeout=0.0000001", "H2GWPass queue-timeout: '0.0000001' "
                                    "is not a number of seconds (from "
                                    "0.001 to 31536000)"},
        {"retry=99999999", "H2GWPass retry: '99999999' is not a number of "
                           "seconds (0, or from 0.001 to 31536000)"},
        {"window=10", "H2GWPass window: 10 is out of range (1024 to "
                      "2147483647 bytes)"},
        {"window=4G", "H2GWPass window: 4G is out of range (1024 to "
                      "2147483647 bytes)"},
        {"request-buffer=1x", "H2GWPass request-buffer: '1x' is not a byte "
                              "count"},
        {"max-frame-size=16M", "H2GWPass max-frame-size: 16M is out of "
                               "range (16384 to 16777215 bytes)"},
        {"retries=11", "H2GWPass retries: '11' is not a count from 0 to 10"},
        {"max-conns=0", "H2GWPass max-conns: '0' is not a count from 1 to "
                        "1000"},
        {"max-requests=-1", "H2GWPass max-requests: '-1' is not a count "
                            "from 0 to 9223372036854775807"},
        {"tls-verify=maybe", "H2GWPass tls-verify: 'maybe' must be on or "
                             "off"},
        {"lb=random", "H2GWPass lb: 'random' is not least-streams or "
                      "round-robin"},
        {"tls-ca=/bad", "H2GWPass tls-ca: '/bad' is not a path"},
        {"tls-ca=", "H2GWPass tls-ca: '' is not a path"},
        {"tls-name=a/b", "H2GWPass tls-name: 'a/b' is not a host name"},
        {"health-check=hz", "H2GWPass health-check: 'hz' is not a path "
                            "starting with '/', grpc or grpc:SERVICE"},
        {"health-check=grpc:", "H2GWPass health-check: 'grpc:' names no "
                               "gRPC service (grpc, or grpc:SERVICE with "
                               "a name of 1 to 1000 characters)"},
        {"health-check=/a#b", "H2GWPass health-check: '/a#b' holds a "
                              "space, a control character, '#' or a byte "
                              "above ASCII"},
        {"health-status=600", "H2GWPass health-status: '600' is not a list "
                              "of statuses from 100 to 599 or classes "
                              "(e.g. 200,204 or 2xx)"},
        {"grpc-web-origins=app.example", "H2GWPass grpc-web-origins: "
                                         "'app.example' is not an origin "
                                         "(http[s]://host[:port], or *)"},
        {"grpc-web-origins=,", "H2GWPass grpc-web-origins: ',' names no "
                               "origin (http[s]://host[:port] separated "
                               "by commas, or *)"},
        {"grpc-web-expose=bad(name)", "H2GWPass grpc-web-expose: "
                                      "'bad(name)' is not a header field "
                                      "name"},
        {"novalue", "H2GWPass: parameter 'novalue' is not key=value"},
        {"=1", "H2GWPass: parameter '=1' is not key=value"},
    };
    h2gw_params_t pm;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        tap_is_str(parse(cases[i].word, &pm), cases[i].err, cases[i].word);
    }
}

static void test_parse_values(void)
{
    h2gw_params_t pm;
    const char *err;

    err = parse("timeout=2.5", &pm);
    tap_ok(!err && pm.timeout == 2500000, "timeout=2.5: 2.5 s");
    err = parse("ping=0", &pm);
    tap_ok(!err && pm.ping == 0, "ping=0: allowed, never");
    err = parse("window=1M", &pm);
    tap_ok(!err && pm.stream_window == 1024 * 1024, "window=1M");
    err = parse("header-table-size=0", &pm);
    tap_ok(!err && pm.header_table_size == 0, "header-table-size=0");
    err = parse("max-streams=50", &pm);
    tap_ok(!err && pm.max_streams == 50, "max-streams=50, an int field");
    err = parse("max-requests=10000000000", &pm);
    tap_ok(!err && pm.max_requests == APR_INT64_C(10000000000),
           "max-requests past 32 bits");
    err = parse("Preserve-Host=ON", &pm);
    tap_ok(!err && pm.preserve_host == 1, "a flag, any case");
    err = parse("tls-verify=off", &pm);
    tap_ok(!err && pm.tls.verify == 0, "tls-verify=off: in the TLS conf");
    err = parse("tls-key=k.pem", &pm);
    tap_is_str(pm.tls.key_file, "k.pem", "tls-key=: resolved by the caller");
    err = parse("lb=Round-Robin", &pm);
    tap_ok(!err && pm.lb == H2GW_LB_ROUND_ROBIN, "lb=round-robin");
    err = parse("health-check=GRPC:my.Svc", &pm);
    tap_is_str(pm.health_check, "grpc:my.Svc",
               "health-check=GRPC:...: grpc kept lowercase, service as is");
    err = parse("health-check=Grpc", &pm);
    tap_is_str(pm.health_check, "grpc", "health-check=Grpc: grpc");
    err = parse("health-status=204,3xx", &pm);
    tap_ok(!err && pm.health_status[204] && !pm.health_status[200]
           && pm.health_status[301] && !pm.health_status[400],
           "health-status=204,3xx: those statuses only");
    err = parse("grpc-web-expose=X-A,x-b", &pm);
    tap_is_str(pm.grpc_web_expose, "x-a, x-b", "grpc-web-expose lowercased");
    err = parse("grpc-web-origins=*,http://a.example:8080", &pm);
    tap_ok(!err && pm.grpc_web_origins->nelts == 2, "two origins");
    err = parse("bogus=1", &pm);
    tap_ok(err && !strncmp(err, "H2GWPass: unknown parameter 'bogus' "
                           "(known: timeout, read-timeout, ",
                           strlen("H2GWPass: unknown parameter 'bogus' "
                                  "(known: timeout, read-timeout, ")),
           "an unknown parameter lists the known ones");
    err = h2gw_params_parse_value(pool, "H2GWTimeout", &pm, "timeout",
                                  "99999999", as_given);
    tap_is_str(err, "H2GWTimeout: '99999999' is not a number of seconds "
                    "(from 0.1 to 31536000)",
               "a directive's message names the directive");
}

static void test_known(void)
{
    /* The order the message has always had. */
    tap_is_str(h2gw_params_known(pool),
               "timeout, read-timeout, retries, request-buffer, "
               "preserve-host, reverse, forwarded, via, grpc-timeout-max, "
               "grpc-web, grpc-web-origins, grpc-web-expose, "
               "connect-timeout, window, conn-window, max-conns, "
               "max-streams, queue-timeout, lb, retry, max-requests, "
               "max-lifetime, ping, idle-timeout, settings-timeout, "
               "resolve, tls-verify, tls-ca, tls-ca-path, tls-name, "
               "tls-sni, tls-cert, tls-key, max-frame-size, "
               "header-table-size, max-header-list, retry-idempotent, "
               "health-check, health-interval, health-timeout, "
               "health-fails, health-passes, health-status",
               "every parameter, in the message's order");
}

static void test_first(void)
{
    h2gw_params_t pm;

    parse("timeout=5", &pm);
    tap_is_str(h2gw_params_first(&pm, H2GW_PARAM_POOL), NULL,
               "a request parameter is no pool parameter");
    parse("max-conns=2", &pm);
    tap_is_str(h2gw_params_first(&pm, H2GW_PARAM_POOL), "max-conns",
               "max-conns is a pool parameter");
    parse("health-check=/hz", &pm);
    tap_is_str(h2gw_params_first(&pm, H2GW_PARAM_POOL), "health-check",
               "health-check is a pool parameter");
    tap_is_str(h2gw_params_first(&pm, H2GW_PARAM_HEALTH), NULL,
               "... but not one that needs health-check=");
    parse("health-fails=3", &pm);
    tap_is_str(h2gw_params_first(&pm, H2GW_PARAM_HEALTH), "health-fails",
               "health-fails needs health-check=");
    tap_is_str(h2gw_params_first(&pm, H2GW_PARAM_POOL), "health-fails",
               "... and is a pool parameter");
    parse("tls-sni=off", &pm);
    tap_is_str(h2gw_params_first(&pm, H2GW_PARAM_TLS), "tls-sni",
               "tls-sni is a TLS parameter");
    tap_is_str(h2gw_params_first(&pm, H2GW_PARAM_POOL), "tls-sni",
               "... and a pool parameter");
}

static void test_resolve(void)
{
    h2gw_params_t pass, up, srv, v;
    const h2gw_params_t *layers[3] = {&pass, &up, &srv};

    h2gw_params_resolve(&v, NULL, 0);
    tap_ok(v.timeout == H2GW_DEFAULT_TIMEOUT
           && v.read_timeout == H2GW_DEFAULT_TIMEOUT
           && v.connect_timeout == H2GW_DEFAULT_CONNECT_TIMEOUT
           && v.health_timeout == H2GW_DEFAULT_CONNECT_TIMEOUT
           && v.request_buffer == H2GW_DEFAULT_REQUEST_BUFFER
           && v.stream_window == H2GW_DEFAULT_STREAM_WINDOW
           && v.conn_window == H2GW_DEFAULT_CONN_WINDOW
           && v.retries == H2GW_DEFAULT_RETRIES && v.retry_idempotent == 1
           && v.reverse == 1 && v.preserve_host == 0 && v.forwarded == 0
           && v.via == 0 && v.grpc_web == 0
           && v.grpc_timeout_max == H2GW_DEFAULT_GRPC_TIMEOUT_MAX
           && v.max_conns == H2GW_DEFAULT_MAX_CONNS
           && v.max_streams == H2GW_DEFAULT_MAX_STREAMS
           && v.queue_timeout == H2GW_DEFAULT_QUEUE_TIMEOUT
           && v.retry == H2GW_DEFAULT_RETRY && v.max_lifetime == 0
           && v.max_requests == 0 && v.ping == H2GW_DEFAULT_PING
           && v.idle_timeout == H2GW_DEFAULT_IDLE_TIMEOUT
           && v.settings_timeout == H2GW_DEFAULT_SETTINGS_TIMEOUT
           && v.resolve == H2GW_DEFAULT_RESOLVE
           && v.lb == H2GW_LB_LEAST_STREAMS
           && v.max_frame_size == H2GW_DEFAULT_MAX_FRAME_SIZE
           && v.header_table_size == H2GW_DEFAULT_HEADER_TABLE
           && v.max_header_list == H2GW_DEFAULT_MAX_HEADER_LIST
           && v.health_interval == H2GW_DEFAULT_HEALTH_INTERVAL
           && v.health_fails == H2GW_DEFAULT_HEALTH_FAILS
           && v.health_passes == H2GW_DEFAULT_HEALTH_PASSES
           && v.tls.verify == H2GW_PARAM_UNSET && !v.health_check
           && !v.grpc_web_origins && !v.grpc_web_expose,
           "no layer: every default");

    parse("timeout=5", &pass);
    h2gw_params_init(&up);
    h2gw_params_parse(pool, "H2GWUpstream", &up, "timeout=7", as_given);
    h2gw_params_parse(pool, "H2GWUpstream", &up, "retries=3", as_given);
    h2gw_params_parse(pool, "H2GWUpstream", &up, "connect-timeout=2",
                      as_given);
    h2gw_params_init(&srv);
    h2gw_params_parse_value(pool, "H2GWPreserveHost", &srv, "preserve-host",
                            "on", as_given);
    h2gw_params_parse_value(pool, "H2GWTimeout", &srv, "timeout", "9",
                            as_given);
    h2gw_params_resolve(&v, layers, 3);
    tap_is_int((long)v.timeout, 5000000, "the pass's timeout first");
    tap_is_int((long)v.read_timeout, 5000000,
               "read-timeout: the timeout in force");
    tap_is_int(v.retries, 3, "then the upstream's");
    tap_is_int(v.preserve_host, 1, "then the server's");
    tap_is_int((long)v.health_timeout, 2000000,
               "health-timeout: the connect-timeout in force");
    layers[0] = NULL;
    h2gw_params_merge(&v, layers, 3);
    tap_is_int((long)v.timeout, 7000000, "a NULL layer is skipped");
    tap_is_int(v.max_conns, H2GW_PARAM_UNSET, "merge: no defaults");
}

static void test_same_pool(void)
{
    h2gw_params_t a, b, va, vb;
    const h2gw_params_t *la[1] = {&a}, *lb[1] = {&b};

    parse("timeout=5", &a);
    parse("timeout=6", &b);
    h2gw_params_resolve(&va, la, 1);
    h2gw_params_resolve(&vb, lb, 1);
    tap_ok(h2gw_params_same_pool(&va, &vb),
           "request parameters do not part pools");
    parse("max-conns=3", &b);
    h2gw_params_resolve(&vb, lb, 1);
    tap_ok(!h2gw_params_same_pool(&va, &vb), "max-conns parts them");
    parse("health-check=GRPC", &a);
    parse("health-check=grpc", &b);
    h2gw_params_resolve(&va, la, 1);
    h2gw_params_resolve(&vb, lb, 1);
    tap_ok(h2gw_params_same_pool(&va, &vb), "the same check in either case");
    parse("health-check=grpc:x", &b);
    h2gw_params_resolve(&vb, lb, 1);
    tap_ok(!h2gw_params_same_pool(&va, &vb), "another check parts them");
    parse("health-status=200", &a);
    parse("health-status=200", &b);
    h2gw_params_resolve(&va, la, 1);
    h2gw_params_resolve(&vb, lb, 1);
    tap_ok(h2gw_params_same_pool(&va, &vb), "equal status lists");
    parse("health-status=2xx", &b);
    h2gw_params_resolve(&vb, lb, 1);
    tap_ok(!h2gw_params_same_pool(&va, &vb), "other statuses part them");
}

/* The README section that documents the parameters, or NULL. */
static char *readme_section(void)
{
    static const char head[] = "### Parameters of H2GWPass and H2GWUpstream";
    char *text, *start, *end;
    apr_size_t len;
    apr_file_t *f;
    apr_finfo_t fi;

    if (apr_file_open(&f, H2GW_README, APR_READ, 0, pool) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS) {
        return NULL;
    }
    len = (apr_size_t)fi.size;
    text = apr_palloc(pool, len + 1);
    if (apr_file_read_full(f, text, len, &len) != APR_SUCCESS) {
        return NULL;
    }
    text[len] = '\0';
    apr_file_close(f);
    if (!(start = strstr(text, head))) {
        return NULL;
    }
    start += sizeof(head) - 1;
    if ((end = strstr(start, "\n### ")) != NULL) {
        *end = '\0';
    }
    return start;
}

/* Every parameter has a row "| `name=..." (or a second "`name=" in a
 * row shared with another), and every row names parameters only. */
static void test_readme(void)
{
    char *sec = readme_section(), *line, *last;
    const char *name;
    int i, missing = 0, unknown = 0;

    if (!tap_ok(sec != NULL, "README.md has the parameters' section "
                             "(" H2GW_README ")")) {
        return;
    }
    for (i = 0; (name = h2gw_params_name(i, NULL)) != NULL; ++i) {
        if (!strstr(sec, apr_pstrcat(pool, "`", name, "=", NULL))) {
            printf("#   %s= is not documented\n", name);
            ++missing;
        }
    }
    tap_is_int(missing, 0, "README.md documents every parameter");
    for (line = apr_strtok(sec, "\n", &last); line;
         line = apr_strtok(NULL, "\n", &last)) {
        char *cell, *tick, *eq;

        if (strncmp(line, "| `", 3)) {
            continue;
        }
        cell = apr_pstrndup(pool, line + 2, strcspn(line + 2, "|"));
        for (tick = strchr(cell, '`'); tick; tick = strchr(eq, '`')) {
            h2gw_params_t pm;
            const char *err;

            eq = strchr(tick + 1, '=');
            if (!eq) {
                break;
            }
            name = apr_pstrndup(pool, tick + 1, (apr_size_t)(eq - tick - 1));
            h2gw_params_init(&pm);
            err = h2gw_params_parse(pool, "x", &pm,
                                    apr_pstrcat(pool, name, "=", NULL),
                                    as_given);
            if (err && strstr(err, "unknown parameter")) {
                printf("#   README.md documents %s=, which is none\n", name);
                ++unknown;
            }
            eq = strchr(eq, '`');
            if (!eq) {
                break;
            }
            ++eq;
        }
    }
    tap_is_int(unknown, 0, "README.md documents no parameter that is none");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_parse_errors();
    test_parse_values();
    test_known();
    test_first();
    test_resolve();
    test_same_pool();
    test_readme();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
