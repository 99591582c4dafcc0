/*
 * h2gw_params: the table of parameters and what is built from it. A
 * parameter added here (and as a field of h2gw_params_t) is parsed,
 * listed in the "unknown parameter" message, defaulted, compared between
 * pools and required in README.md without further code; only its use
 * (a field of the upstream, the route or the connection) is written
 * elsewhere.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "h2gw_headers.h"
#include "h2gw_params.h"

#define UNSET H2GW_PARAM_UNSET

/* How a value is written, and the C type of its field: 64-bit numbers
 * first, then int ones, then pointers (is_ptr() and get_num() rely on
 * this order). */
typedef enum {
    K_SECONDS,       /* apr_interval_time_t: seconds, fractions allowed */
    K_SIZE,          /* apr_int64_t: bytes, K, M or G suffix */
    K_COUNT64,       /* apr_int64_t: a whole number */
    K_COUNT,         /* int: a whole number */
    K_FLAG,          /* int: on or off */
    K_LB,            /* int: an h2gw_lb_t by name */
    K_PATH,          /* const char *: a file or directory (ServerRoot) */
    K_HOST,          /* const char *: a host name */
    K_HEALTH_CHECK,  /* const char *: /path, grpc or grpc:SERVICE */
    K_STATUS_MAP,    /* const unsigned char *: a flag per HTTP status */
    K_ORIGINS,       /* apr_array_header_t *: origins, or "*" */
    K_FIELDS         /* const char *: field names, ", "-joined */
} kind_t;

typedef struct param_t {
    const char *name;          /* as written before '=' (any case) */
    kind_t kind;
    h2gw_param_scope_t scope;
    size_t off;                /* of its field in h2gw_params_t */
    /* K_SECONDS: the smallest value but 0, and whether 0 is allowed
     * (meaning "never" or "none"); the largest is a year. */
    double min_secs;
    int zero_ok;
    /* K_SIZE, K_COUNT64, K_COUNT: the range. */
    apr_int64_t lo, hi;
    /* Numeric kinds: the default, or H2GW_PARAM_UNSET to leave it unset
     * (tls-verify: h2gw_tls takes unset as on). */
    apr_int64_t def;
    /* Or the default is another parameter's value in force (earlier in
     * the table). */
    const char *def_from;
} param_t;

/* Table rows by kind: name, field, scope, then the kind's own columns. */
#define OFF(field) offsetof(h2gw_params_t, field)
#define SECS(n, f, sc, min, z, def)                                        \
    {n, K_SECONDS, sc, OFF(f), min, z, 0, 0, def, NULL}
#define SECS_FROM(n, f, sc, min, from)                                     \
    {n, K_SECONDS, sc, OFF(f), min, 0, 0, 0, UNSET, from}
#define SIZE(n, f, sc, lo, hi, def)                                        \
    {n, K_SIZE, sc, OFF(f), 0, 0, lo, hi, def, NULL}
#define COUNT(n, f, sc, lo, hi, def)                                       \
    {n, K_COUNT, sc, OFF(f), 0, 0, lo, hi, def, NULL}
#define COUNT64(n, f, sc, lo, hi, def)                                     \
    {n, K_COUNT64, sc, OFF(f), 0, 0, lo, hi, def, NULL}
#define FLAG(n, f, sc, def) {n, K_FLAG, sc, OFF(f), 0, 0, 0, 1, def, NULL}
#define OTHER(n, k, f, sc) {n, k, sc, OFF(f), 0, 0, 0, 0, UNSET, NULL}

#define REQ H2GW_PARAM_REQUEST
#define POOL H2GW_PARAM_POOL
#define HEALTH H2GW_PARAM_HEALTH
#define TLS H2GW_PARAM_TLS

/* Every parameter, in the order the "unknown parameter" message lists
 * them. README.md documents each (t/unit/test_params.c checks it). */
static const param_t params[] = {
    SECS("timeout", timeout, REQ, H2GW_MIN_TIMEOUT, 0, H2GW_DEFAULT_TIMEOUT),
    SECS_FROM("read-timeout", read_timeout, REQ, H2GW_MIN_TIMEOUT,
              "timeout"),
    COUNT("retries", retries, REQ, 0, H2GW_MAX_RETRIES,
          H2GW_DEFAULT_RETRIES),
    SIZE("request-buffer", request_buffer, REQ, H2GW_MIN_REQUEST_BUFFER,
         H2GW_MAX_REQUEST_BUFFER, H2GW_DEFAULT_REQUEST_BUFFER),
    FLAG("preserve-host", preserve_host, REQ, 0),
    /* Location pointing into the upstream is almost never what a client
     * should see: rewritten unless turned off. */
    FLAG("reverse", reverse, REQ, 1),
    FLAG("forwarded", forwarded, REQ, 0),
    FLAG("via", via, REQ, 0),
    SECS("grpc-timeout-max", grpc_timeout_max, REQ, H2GW_MIN_TIMEOUT, 1,
         H2GW_DEFAULT_GRPC_TIMEOUT_MAX),
    FLAG("grpc-web", grpc_web, REQ, 0),
    OTHER("grpc-web-origins", K_ORIGINS, grpc_web_origins, REQ),
    OTHER("grpc-web-expose", K_FIELDS, grpc_web_expose, REQ),
    SECS("connect-timeout", connect_timeout, POOL, H2GW_MIN_TIMEOUT, 0,
         H2GW_DEFAULT_CONNECT_TIMEOUT),
    SIZE("window", stream_window, POOL, H2GW_MIN_WINDOW, H2GW_MAX_WINDOW,
         H2GW_DEFAULT_STREAM_WINDOW),
    SIZE("conn-window", conn_window, POOL, H2GW_MIN_WINDOW,
         H2GW_MAX_WINDOW, H2GW_DEFAULT_CONN_WINDOW),
    COUNT("max-conns", max_conns, POOL, 1, H2GW_MAX_CONNS,
          H2GW_DEFAULT_MAX_CONNS),
    COUNT("max-streams", max_streams, POOL, 1, H2GW_MAX_MAX_STREAMS,
          H2GW_DEFAULT_MAX_STREAMS),
    SECS("queue-timeout", queue_timeout, POOL, H2GW_MIN_SECONDS, 0,
         H2GW_DEFAULT_QUEUE_TIMEOUT),
    {"lb", K_LB, POOL, OFF(lb), 0, 0, 0, 0, H2GW_LB_LEAST_STREAMS, NULL},
    /* 0: a failed server is tried again by the next request. */
    SECS("retry", retry, POOL, H2GW_MIN_SECONDS, 1, H2GW_DEFAULT_RETRY),
    COUNT64("max-requests", max_requests, POOL, 0, APR_INT64_MAX, 0),
    SECS("max-lifetime", max_lifetime, POOL, H2GW_MIN_SECONDS, 1, 0),
    SECS("ping", ping, POOL, H2GW_MIN_TIMEOUT, 1, H2GW_DEFAULT_PING),
    SECS("idle-timeout", idle_timeout, POOL, H2GW_MIN_SECONDS, 0,
         H2GW_DEFAULT_IDLE_TIMEOUT),
    SECS("settings-timeout", settings_timeout, POOL, H2GW_MIN_TIMEOUT, 0,
         H2GW_DEFAULT_SETTINGS_TIMEOUT),
    SECS("resolve", resolve, POOL, H2GW_MIN_TIMEOUT, 1,
         H2GW_DEFAULT_RESOLVE),
    FLAG("tls-verify", tls.verify, TLS, UNSET),
    OTHER("tls-ca", K_PATH, tls.ca_file, TLS),
    OTHER("tls-ca-path", K_PATH, tls.ca_path, TLS),
    OTHER("tls-name", K_HOST, tls.name, TLS),
    OTHER("tls-sni", K_HOST, tls.sni, TLS),
    OTHER("tls-cert", K_PATH, tls.cert_file, TLS),
    OTHER("tls-key", K_PATH, tls.key_file, TLS),
    SIZE("max-frame-size", max_frame_size, POOL, H2GW_DEFAULT_MAX_FRAME_SIZE,
         H2GW_MAX_MAX_FRAME_SIZE, H2GW_DEFAULT_MAX_FRAME_SIZE),
    SIZE("header-table-size", header_table_size, POOL, 0,
         H2GW_MAX_HEADER_TABLE, H2GW_DEFAULT_HEADER_TABLE),
    SIZE("max-header-list", max_header_list, POOL, H2GW_MIN_MAX_HEADER_LIST,
         H2GW_MAX_MAX_HEADER_LIST, H2GW_DEFAULT_MAX_HEADER_LIST),
    FLAG("retry-idempotent", retry_idempotent, REQ, 1),
    OTHER("health-check", K_HEALTH_CHECK, health_check, POOL),
    SECS("health-interval", health_interval, HEALTH, H2GW_MIN_TIMEOUT, 0,
         H2GW_DEFAULT_HEALTH_INTERVAL),
    SECS_FROM("health-timeout", health_timeout, HEALTH, H2GW_MIN_TIMEOUT,
              "connect-timeout"),
    COUNT("health-fails", health_fails, HEALTH, 1, H2GW_MAX_HEALTH_COUNT,
          H2GW_DEFAULT_HEALTH_FAILS),
    COUNT("health-passes", health_passes, HEALTH, 1, H2GW_MAX_HEALTH_COUNT,
          H2GW_DEFAULT_HEALTH_PASSES),
    OTHER("health-status", K_STATUS_MAP, health_status, HEALTH),
};

#define NPARAMS ((int)(sizeof(params) / sizeof(params[0])))

/* Field access by kind. memcpy, because the field's declared type is
 * one of several. */
static int is_ptr(const param_t *d)
{
    return d->kind >= K_PATH;
}

static apr_int64_t get_num(const h2gw_params_t *pm, const param_t *d)
{
    const char *f = (const char *)pm + d->off;

    if (d->kind <= K_COUNT64) {
        apr_int64_t v;

        memcpy(&v, f, sizeof(v));
        return v;
    }
    else {
        int v;

        memcpy(&v, f, sizeof(v));
        return v;
    }
}

static void set_num(h2gw_params_t *pm, const param_t *d, apr_int64_t v)
{
    char *f = (char *)pm + d->off;

    if (d->kind <= K_COUNT64) {
        memcpy(f, &v, sizeof(v));
    }
    else {
        int i = (int)v;

        memcpy(f, &i, sizeof(i));
    }
}

static const void *get_ptr(const h2gw_params_t *pm, const param_t *d)
{
    const void *v;

    memcpy(&v, (const char *)pm + d->off, sizeof(v));
    return v;
}

static void set_ptr(h2gw_params_t *pm, const param_t *d, const void *v)
{
    memcpy((char *)pm + d->off, &v, sizeof(v));
}

static int is_set(const h2gw_params_t *pm, const param_t *d)
{
    return is_ptr(d) ? get_ptr(pm, d) != NULL : get_num(pm, d) != UNSET;
}

static const param_t *find(const char *name)
{
    int i;

    for (i = 0; i < NPARAMS; ++i) {
        if (!strcasecmp(params[i].name, name)) {
            return &params[i];
        }
    }
    return NULL;
}

/* Parses a number of seconds, fractions allowed ("2.5"), from min to a
 * year; 0 as well when zero_ok. The message names the range, so a value
 * below the minimum or above the cap says what would be accepted. */
static const char *parse_seconds(apr_pool_t *p, const char *what,
                                 const char *arg, double min, int zero_ok,
                                 apr_int64_t *out)
{
    char *end;
    double secs = strtod(arg, &end);

    if (end == arg || *end || secs != secs
        || !((secs >= min && secs <= H2GW_MAX_SECONDS)
             || (zero_ok && secs == 0))) {
        char minbuf[32];

        /* libc's %g: APR's drops the leading zero (".1"). */
        snprintf(minbuf, sizeof(minbuf), "%g", min);
        return apr_psprintf(p, "%s: '%s' is not a number of seconds "
                            "(%sfrom %s to %.0f)", what, arg,
                            zero_ok ? "0, or " : "", minbuf,
                            H2GW_MAX_SECONDS);
    }
    *out = (apr_interval_time_t)(secs * APR_USEC_PER_SEC);
    return NULL;
}

/* Parses a byte count with an optional K, M or G suffix (powers of 1024)
 * and checks it against [min, max]. */
static const char *parse_size(apr_pool_t *p, const char *what,
                              const char *arg, apr_int64_t min,
                              apr_int64_t max, apr_int64_t *out)
{
    char *end;
    apr_int64_t n, unit = 1;

    errno = 0;
    n = apr_strtoi64(arg, &end, 10);
    if (end == arg || errno || n < 0) {
        return apr_psprintf(p, "%s: '%s' is not a byte count", what, arg);
    }
    switch (apr_toupper(*end)) {
    case 'K': unit = 1024; ++end; break;
    case 'M': unit = 1024 * 1024; ++end; break;
    case 'G': unit = 1024 * 1024 * 1024; ++end; break;
    }
    if (*end) {
        return apr_psprintf(p, "%s: '%s' is not a byte count", what, arg);
    }
    /* Compared before multiplying: n * unit must not overflow. */
    if (n > max / unit || n * unit < min) {
        return apr_psprintf(p, "%s: %s is out of range (%" APR_INT64_T_FMT
                            " to %" APR_INT64_T_FMT " bytes)", what, arg,
                            min, max);
    }
    *out = n * unit;
    return NULL;
}

/* Parses a whole number in [min, max]. */
static const char *parse_count(apr_pool_t *p, const char *what,
                               const char *arg, apr_int64_t min,
                               apr_int64_t max, apr_int64_t *out)
{
    char *end;
    apr_int64_t n;

    errno = 0;
    n = apr_strtoi64(arg, &end, 10);
    if (!*arg || *end || errno || n < min || n > max) {
        return apr_psprintf(p, "%s: '%s' is not a count from %"
                            APR_INT64_T_FMT " to %" APR_INT64_T_FMT, what,
                            arg, min, max);
    }
    *out = n;
    return NULL;
}

static const char *parse_flag(apr_pool_t *p, const char *what,
                              const char *arg, apr_int64_t *out)
{
    if (!strcasecmp(arg, "on")) {
        *out = 1;
    }
    else if (!strcasecmp(arg, "off")) {
        *out = 0;
    }
    else {
        return apr_psprintf(p, "%s: '%s' must be on or off", what, arg);
    }
    return NULL;
}

static const char *parse_lb(apr_pool_t *p, const char *what,
                            const char *arg, apr_int64_t *out)
{
    if (!strcasecmp(arg, "least-streams")) {
        *out = H2GW_LB_LEAST_STREAMS;
    }
    else if (!strcasecmp(arg, "round-robin")) {
        *out = H2GW_LB_ROUND_ROBIN;
    }
    else {
        return apr_psprintf(p, "%s: '%s' is not least-streams or "
                            "round-robin", what, arg);
    }
    return NULL;
}

/* health-check=: "/path" (an HTTP GET of it), "grpc" (the gRPC health
 * service about the server as a whole) or "grpc:SERVICE". A path goes
 * upstream as given, so it must be one: printable, no space, no '#'.
 * "grpc" in any case is kept lowercase, so that equal checks compare
 * equal. */
static const char *parse_health_check(apr_pool_t *p, const char *what,
                                      const char *val, const void **out)
{
    const char *c, *svc = NULL;

    if (!strcasecmp(val, "grpc")) {
        svc = "";
    }
    else if (!strncasecmp(val, "grpc:", 5)) {
        svc = val + 5;
        if (!*svc || strlen(svc) > H2GW_MAX_HEALTH_SERVICE) {
            return apr_psprintf(p, "%s: '%s' names no gRPC service (grpc, "
                                "or grpc:SERVICE with a name of 1 to %d "
                                "characters)", what, val,
                                H2GW_MAX_HEALTH_SERVICE);
        }
    }
    else if (*val != '/') {
        return apr_psprintf(p, "%s: '%s' is not a path starting with '/', "
                            "grpc or grpc:SERVICE", what, val);
    }
    for (c = svc ? svc : val; *c; ++c) {
        if (*c <= 0x20 || *c >= 0x7f || *c == '#') {
            return apr_psprintf(p, "%s: '%s' holds a space, a control "
                                "character, '#' or a byte above ASCII",
                                what, val);
        }
    }
    *out = !svc ? val : *svc ? apr_pstrcat(p, "grpc:", svc, NULL) : "grpc";
    return NULL;
}

/* health-status=: statuses (200) and classes (2xx), comma-separated;
 * *out gets a flag per status. */
static const char *parse_health_status(apr_pool_t *p, const char *what,
                                       const char *val, const void **out)
{
    unsigned char *map = apr_pcalloc(p, H2GW_HEALTH_STATUS_MAX);
    char *list = apr_pstrdup(p, val), *tok, *last = NULL;
    int n = 0;

    for (tok = apr_strtok(list, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        if (strlen(tok) == 3 && tok[0] >= '1' && tok[0] <= '5'
            && (tok[1] == 'x' || tok[1] == 'X') && tok[1] == tok[2]) {
            memset(map + (tok[0] - '0') * 100, 1, 100);
        }
        else if (strlen(tok) == 3 && apr_isdigit(tok[0])
                 && apr_isdigit(tok[1]) && apr_isdigit(tok[2])
                 && atoi(tok) >= 100 && atoi(tok) < H2GW_HEALTH_STATUS_MAX) {
            map[atoi(tok)] = 1;
        }
        else {
            n = -1;
            break;
        }
        ++n;
    }
    if (n <= 0) {
        return apr_psprintf(p, "%s: '%s' is not a list of statuses from "
                            "100 to 599 or classes (e.g. 200,204 or 2xx)",
                            what, val);
    }
    *out = map;
    return NULL;
}

/* grpc-web-origins=: a comma-separated list of origins as browsers send
 * them in Origin (scheme://host[:port], RFC 6454 §6.1: no path, no
 * trailing slash), or "*" for any. */
static const char *parse_origins(apr_pool_t *p, const char *what,
                                 const char *val, const void **out)
{
    apr_array_header_t *list = apr_array_make(p, 4, sizeof(const char *));
    char *copy = apr_pstrdup(p, val), *last, *o;

    for (o = apr_strtok(copy, ",", &last); o;
         o = apr_strtok(NULL, ",", &last)) {
        const char *host;

        if (strcmp(o, "*")) {
            host = strstr(o, "://");
            if (!host || host == o || !host[3] || strpbrk(host + 3, "/?#@ ")
                || (strncasecmp(o, "http://", 7)
                    && strncasecmp(o, "https://", 8))) {
                return apr_psprintf(p, "%s: '%s' is not an origin "
                                    "(http[s]://host[:port], or *)", what, o);
            }
        }
        APR_ARRAY_PUSH(list, const char *) = o;
    }
    if (list->nelts == 0) {
        return apr_psprintf(p, "%s: '%s' names no origin (http[s]://host"
                            "[:port] separated by commas, or *)", what, val);
    }
    *out = list;
    return NULL;
}

/* grpc-web-expose=: a comma-separated list of field names, kept
 * lowercase. */
static const char *parse_field_list(apr_pool_t *p, const char *what,
                                    const char *val, const void **out)
{
    char *copy = apr_pstrdup(p, val), *last, *f, *c;
    const char *joined = NULL;

    for (f = apr_strtok(copy, ",", &last); f;
         f = apr_strtok(NULL, ",", &last)) {
        if (!h2gw_headers_valid_name((const uint8_t *)f, strlen(f))) {
            return apr_psprintf(p, "%s: '%s' is not a header field name",
                                what, f);
        }
        for (c = f; *c; ++c) {
            *c = (char)apr_tolower(*c);
        }
        joined = joined ? apr_pstrcat(p, joined, ", ", f, NULL) : f;
    }
    if (!joined) {
        return apr_psprintf(p, "%s: '%s' names no header field", what, val);
    }
    *out = joined;
    return NULL;
}

/* Parses val as d's value into pm; what prefixes the message. */
static const char *parse_one(apr_pool_t *p, const char *what,
                             h2gw_params_t *pm, const param_t *d,
                             const char *val, h2gw_params_path_fn *path_fn)
{
    const char *err = NULL;
    apr_int64_t n = 0;
    const void *ptr = NULL;

    switch (d->kind) {
    case K_SECONDS:
        err = parse_seconds(p, what, val, d->min_secs, d->zero_ok, &n);
        break;
    case K_SIZE:
        err = parse_size(p, what, val, d->lo, d->hi, &n);
        break;
    case K_COUNT64:
    case K_COUNT:
        err = parse_count(p, what, val, d->lo, d->hi, &n);
        break;
    case K_FLAG:
        err = parse_flag(p, what, val, &n);
        break;
    case K_LB:
        err = parse_lb(p, what, val, &n);
        break;
    case K_PATH:
        if (!*val || !(ptr = path_fn(p, val))) {
            err = apr_psprintf(p, "%s: '%s' is not a path", what, val);
        }
        break;
    case K_HOST:
        if (!*val || strpbrk(val, " \t/")) {
            err = apr_psprintf(p, "%s: '%s' is not a host name", what, val);
        }
        ptr = val;
        break;
    case K_HEALTH_CHECK:
        err = parse_health_check(p, what, val, &ptr);
        break;
    case K_STATUS_MAP:
        err = parse_health_status(p, what, val, &ptr);
        break;
    case K_ORIGINS:
        err = parse_origins(p, what, val, &ptr);
        break;
    case K_FIELDS:
        err = parse_field_list(p, what, val, &ptr);
        break;
    }
    if (!err) {
        if (is_ptr(d)) {
            set_ptr(pm, d, ptr);
        }
        else {
            set_num(pm, d, n);
        }
    }
    return err;
}

void h2gw_params_init(h2gw_params_t *pm)
{
    int i;

    memset(pm, 0, sizeof(*pm));
    for (i = 0; i < NPARAMS; ++i) {
        if (!is_ptr(&params[i])) {
            set_num(pm, &params[i], UNSET);
        }
    }
}

const char *h2gw_params_parse(apr_pool_t *p, const char *dir,
                              h2gw_params_t *pm, const char *word,
                              h2gw_params_path_fn *path_fn)
{
    const char *eq = strchr(word, '=');
    const char *key;
    const param_t *d;

    if (!eq || eq == word) {
        return apr_psprintf(p, "%s: parameter '%s' is not key=value", dir,
                            word);
    }
    key = apr_pstrmemdup(p, word, (apr_size_t)(eq - word));
    if (!(d = find(key))) {
        return apr_psprintf(p, "%s: unknown parameter '%s' (known: %s)", dir,
                            key, h2gw_params_known(p));
    }
    return parse_one(p, apr_pstrcat(p, dir, " ", key, NULL), pm, d, eq + 1,
                     path_fn);
}

const char *h2gw_params_parse_value(apr_pool_t *p, const char *what,
                                    h2gw_params_t *pm, const char *name,
                                    const char *val,
                                    h2gw_params_path_fn *path_fn)
{
    const param_t *d = find(name);

    if (!d) {
        return apr_psprintf(p, "%s: no parameter '%s'", what, name);
    }
    return parse_one(p, what, pm, d, val, path_fn);
}

const char *h2gw_params_first(const h2gw_params_t *pm,
                              h2gw_param_scope_t scope)
{
    int i;

    for (i = 0; i < NPARAMS; ++i) {
        const param_t *d = &params[i];

        if ((d->scope == scope
             || (scope == H2GW_PARAM_POOL && d->scope != H2GW_PARAM_REQUEST))
            && is_set(pm, d)) {
            return d->name;
        }
    }
    return NULL;
}

void h2gw_params_merge(h2gw_params_t *out,
                       const h2gw_params_t *const *layers, int n)
{
    int i, j;

    h2gw_params_init(out);
    for (i = 0; i < NPARAMS; ++i) {
        const param_t *d = &params[i];

        for (j = 0; j < n && !is_set(out, d); ++j) {
            if (!layers[j] || !is_set(layers[j], d)) {
                continue;
            }
            if (is_ptr(d)) {
                set_ptr(out, d, get_ptr(layers[j], d));
            }
            else {
                set_num(out, d, get_num(layers[j], d));
            }
        }
    }
}

void h2gw_params_resolve(h2gw_params_t *out,
                         const h2gw_params_t *const *layers, int n)
{
    int i;

    h2gw_params_merge(out, layers, n);
    /* In table order, so that a def_from parameter is already final. */
    for (i = 0; i < NPARAMS; ++i) {
        const param_t *d = &params[i];

        if (!is_ptr(d) && !is_set(out, d)) {
            set_num(out, d, d->def_from ? get_num(out, find(d->def_from))
                                        : d->def);
        }
    }
}

int h2gw_params_same_pool(const h2gw_params_t *a, const h2gw_params_t *b)
{
    int i;

    for (i = 0; i < NPARAMS; ++i) {
        const param_t *d = &params[i];
        const void *pa, *pb;

        if (d->scope == H2GW_PARAM_REQUEST || d->scope == H2GW_PARAM_TLS) {
            continue;  /* TLS pools are never shared (h2gw_config) */
        }
        if (!is_ptr(d)) {
            if (get_num(a, d) != get_num(b, d)) {
                return 0;
            }
            continue;
        }
        pa = get_ptr(a, d);
        pb = get_ptr(b, d);
        if (pa == pb) {
            continue;
        }
        if (!pa || !pb
            || (d->kind == K_STATUS_MAP
                    ? memcmp(pa, pb, H2GW_HEALTH_STATUS_MAX) != 0
                    : strcmp(pa, pb) != 0)) {
            return 0;
        }
    }
    return 1;
}

const char *h2gw_params_known(apr_pool_t *p)
{
    const char *list = params[0].name;
    int i;

    for (i = 1; i < NPARAMS; ++i) {
        list = apr_pstrcat(p, list, ", ", params[i].name, NULL);
    }
    return list;
}

const char *h2gw_params_name(int i, h2gw_param_scope_t *scope)
{
    if (i < 0 || i >= NPARAMS) {
        return NULL;
    }
    if (scope) {
        *scope = params[i].scope;
    }
    return params[i].name;
}
