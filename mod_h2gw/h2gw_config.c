/*
 * h2gw_config: directives and configuration records. Directive handlers
 * validate everything they are given, so that a bad value stops the
 * configuration test with a message naming the directive, file and line.
 */
#include <stdio.h>

#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_lib.h>
#include <apr_fnmatch.h>
#include <http_core.h>
#include <http_request.h>
#include <util_cfgtree.h>

#include "mod_h2gw.h"
#include "h2gw_config.h"

APLOG_USE_MODULE(h2gw);

#define UNSET (-1)

void *h2gw_config_create_srv(apr_pool_t *p, server_rec *s)
{
    h2gw_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->passes = apr_array_make(p, 4, sizeof(h2gw_pass_t *));
    conf->timeout = UNSET;
    conf->connect_timeout = UNSET;
    conf->stream_window = UNSET;
    conf->conn_window = UNSET;
    conf->request_buffer = UNSET;
    conf->preserve_host = UNSET;
    conf->add_headers = UNSET;
    conf->forwarded = UNSET;
    conf->via = UNSET;
    conf->grpc_web = UNSET;
    return conf;
}

#define MERGE(f) (add->f != UNSET ? add->f : base->f)

void *h2gw_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    h2gw_srv_conf_t *base = basev, *add = addv;
    h2gw_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    /* A virtual host's passes come first; the main server's apply after. */
    conf->passes = apr_array_append(p, add->passes, base->passes);
    conf->timeout = MERGE(timeout);
    conf->connect_timeout = MERGE(connect_timeout);
    conf->stream_window = MERGE(stream_window);
    conf->conn_window = MERGE(conn_window);
    conf->request_buffer = MERGE(request_buffer);
    conf->preserve_host = MERGE(preserve_host);
    conf->add_headers = MERGE(add_headers);
    conf->forwarded = MERGE(forwarded);
    conf->via = MERGE(via);
    conf->grpc_web = MERGE(grpc_web);
    return conf;
}

void *h2gw_config_create_dir(apr_pool_t *p, char *dir)
{
    h2gw_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->path = dir;
    return conf;
}

void *h2gw_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    h2gw_dir_conf_t *base = basev, *add = addv;
    h2gw_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->path = add->path ? add->path : base->path;
    conf->pass = add->pass ? add->pass : base->pass;
    return conf;
}

/* The longest time any directive or parameter takes: one year. */
#define MAX_SECONDS (86400.0 * 365)

/* Parses a number of seconds, fractions allowed ("2.5"), from min to a
 * year; 0 as well when zero_ok (it then means "never" or "none"). The
 * message names the range, so a value below the minimum or above the
 * cap says what would be accepted. */
static const char *parse_seconds_min(apr_pool_t *p, const char *what,
                                     const char *arg, double min,
                                     int zero_ok, apr_interval_time_t *out)
{
    char *end;
    double secs = strtod(arg, &end);

    if (end == arg || *end || secs != secs
        || !((secs >= min && secs <= MAX_SECONDS) || (zero_ok && secs == 0))) {
        char minbuf[32];

        /* libc's %g: APR's drops the leading zero (".1"). */
        snprintf(minbuf, sizeof(minbuf), "%g", min);
        return apr_psprintf(p, "%s: '%s' is not a number of seconds "
                            "(%sfrom %s to %.0f)", what, arg,
                            zero_ok ? "0, or " : "", minbuf, MAX_SECONDS);
    }
    *out = (apr_interval_time_t)(secs * APR_USEC_PER_SEC);
    return NULL;
}

static const char *parse_seconds(apr_pool_t *p, const char *what,
                                 const char *arg, apr_interval_time_t *out)
{
    return parse_seconds_min(p, what, arg, H2GW_MIN_SECONDS, 0, out);
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

static const char *parse_int(apr_pool_t *p, const char *what,
                             const char *arg, int min, int max, int *out)
{
    apr_int64_t n;
    const char *err = parse_count(p, what, arg, min, max, &n);

    if (!err) {
        *out = (int)n;
    }
    return err;
}

static const char *parse_flag(apr_pool_t *p, const char *what,
                              const char *arg, int *out)
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

static void params_init(h2gw_params_t *pm)
{
    pm->timeout = pm->read_timeout = UNSET;
    pm->request_buffer = UNSET;
    pm->preserve_host = pm->retries = pm->reverse = UNSET;
    pm->retry_idempotent = UNSET;
    pm->forwarded = pm->via = UNSET;
    pm->grpc_timeout_max = UNSET;
    pm->grpc_web = UNSET;
    pm->grpc_web_origins = NULL;
    pm->grpc_web_expose = NULL;
    pm->connect_timeout = pm->queue_timeout = pm->retry = UNSET;
    pm->max_lifetime = pm->ping = pm->idle_timeout = UNSET;
    pm->settings_timeout = pm->resolve = UNSET;
    pm->stream_window = pm->conn_window = pm->max_requests = UNSET;
    pm->max_conns = pm->max_streams = pm->lb = UNSET;
    pm->max_frame_size = pm->header_table_size = pm->max_header_list = UNSET;
    memset(&pm->tls, 0, sizeof(pm->tls));
    pm->tls.verify = UNSET;
    pm->health_check = NULL;
    pm->health_interval = pm->health_timeout = UNSET;
    pm->health_fails = pm->health_passes = UNSET;
    pm->health_status = NULL;
}

/* Does pm set a health-check parameter other than health-check= itself?
 * Returns its name. */
static const char *params_health_key(const h2gw_params_t *pm)
{
    if (pm->health_interval != UNSET) return "health-interval";
    if (pm->health_timeout != UNSET) return "health-timeout";
    if (pm->health_fails != UNSET) return "health-fails";
    if (pm->health_passes != UNSET) return "health-passes";
    if (pm->health_status) return "health-status";
    return NULL;
}

/* Does pm set any TLS parameter? Returns its name. */
static const char *params_tls_key(const h2gw_params_t *pm)
{
    if (pm->tls.verify != UNSET) return "tls-verify";
    if (pm->tls.ca_file) return "tls-ca";
    if (pm->tls.ca_path) return "tls-ca-path";
    if (pm->tls.name) return "tls-name";
    if (pm->tls.sni) return "tls-sni";
    if (pm->tls.cert_file) return "tls-cert";
    if (pm->tls.key_file) return "tls-key";
    return NULL;
}

/* Does pm set any parameter of the connection pool? Returns its name. */
static const char *params_pool_key(const h2gw_params_t *pm)
{
    if (pm->connect_timeout != UNSET) return "connect-timeout";
    if (pm->queue_timeout != UNSET) return "queue-timeout";
    if (pm->retry != UNSET) return "retry";
    if (pm->max_lifetime != UNSET) return "max-lifetime";
    if (pm->ping != UNSET) return "ping";
    if (pm->idle_timeout != UNSET) return "idle-timeout";
    if (pm->settings_timeout != UNSET) return "settings-timeout";
    if (pm->resolve != UNSET) return "resolve";
    if (pm->stream_window != UNSET) return "window";
    if (pm->conn_window != UNSET) return "conn-window";
    if (pm->max_requests != UNSET) return "max-requests";
    if (pm->max_conns != UNSET) return "max-conns";
    if (pm->max_streams != UNSET) return "max-streams";
    if (pm->lb != UNSET) return "lb";
    if (pm->max_frame_size != UNSET) return "max-frame-size";
    if (pm->header_table_size != UNSET) return "header-table-size";
    if (pm->max_header_list != UNSET) return "max-header-list";
    if (pm->health_check) return "health-check";
    if (params_health_key(pm)) return params_health_key(pm);
    return params_tls_key(pm);
}

#define KNOWN_PARAMS                                                       \
    "timeout, read-timeout, retries, request-buffer, preserve-host, "      \
    "reverse, forwarded, via, grpc-timeout-max, grpc-web, "                \
    "grpc-web-origins, grpc-web-expose, "                                  \
    "connect-timeout, window, conn-window, max-conns, max-streams, "       \
    "queue-timeout, lb, retry, max-requests, max-lifetime, ping, "         \
    "idle-timeout, settings-timeout, resolve, tls-verify, tls-ca, "       \
    "tls-ca-path, "                                                        \
    "tls-name, tls-sni, tls-cert, tls-key, max-frame-size, "               \
    "header-table-size, max-header-list, retry-idempotent, "               \
    "health-check, health-interval, health-timeout, health-fails, "        \
    "health-passes, health-status"

/* health-check=: "/path" (an HTTP GET of it), "grpc" (the gRPC health
 * service about the server as a whole) or "grpc:SERVICE". A path goes
 * upstream as given, so it must be one: printable, no space, no '#'. */
static const char *parse_health_check(apr_pool_t *p, const char *what,
                                      const char *val, const char **out)
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
    *out = val;
    return NULL;
}

/* health-status=: statuses (200) and classes (2xx), comma-separated;
 * *out gets a flag per status. */
static const char *parse_health_status(apr_pool_t *p, const char *what,
                                       const char *val,
                                       const unsigned char **out)
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

/* The health-check parameters of one directive fit together: the others
 * need health-check=, health-status= an HTTP check. */
static const char *check_health_params(apr_pool_t *p, const char *dir,
                                       const h2gw_params_t *pm)
{
    const char *key = params_health_key(pm);

    if (key && !pm->health_check) {
        return apr_psprintf(p, "%s: '%s' needs health-check= (the check "
                            "to run: /path, grpc or grpc:SERVICE)", dir,
                            key);
    }
    if (pm->health_status && pm->health_check
        && *pm->health_check != '/') {
        return apr_psprintf(p, "%s: health-status= is for health-check="
                            "/path; a gRPC check passes on SERVING", dir);
    }
    return NULL;
}

/* grpc-web-origins=: a comma-separated list of origins as browsers send
 * them in Origin (scheme://host[:port], RFC 6454 §6.1: no path, no
 * trailing slash), or "*" for any. */
static const char *parse_origins(apr_pool_t *p, const char *what,
                                 const char *val, apr_array_header_t **out)
{
    apr_array_header_t *list = apr_array_make(p, 4, sizeof(const char *));
    char *copy = apr_pstrdup(p, val), *last, *o;

    for (o = apr_strtok(copy, ",", &last); o; o = apr_strtok(NULL, ",", &last)) {
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

/* grpc-web-expose=: a comma-separated list of field names. */
static const char *parse_field_list(apr_pool_t *p, const char *what,
                                    const char *val, const char **out)
{
    char *copy = apr_pstrdup(p, val), *last, *f;
    const char *joined = NULL;

    for (f = apr_strtok(copy, ",", &last); f; f = apr_strtok(NULL, ",", &last)) {
        if (!h2gw_headers_valid_name((const uint8_t *)f, strlen(f))) {
            return apr_psprintf(p, "%s: '%s' is not a header field name",
                                what, f);
        }
        ap_str_tolower(f);
        joined = joined ? apr_pstrcat(p, joined, ", ", f, NULL) : f;
    }
    if (!joined) {
        return apr_psprintf(p, "%s: '%s' names no header field", what, val);
    }
    *out = joined;
    return NULL;
}

/* Parses one key=value parameter of directive `dir` into pm. */
static const char *parse_param(apr_pool_t *p, const char *dir,
                               h2gw_params_t *pm, const char *param)
{
    const char *eq = strchr(param, '=');
    const char *key, *val, *what;

    if (!eq || eq == param) {
        return apr_psprintf(p, "%s: parameter '%s' is not key=value", dir,
                            param);
    }
    key = apr_pstrmemdup(p, param, (apr_size_t)(eq - param));
    val = eq + 1;
    what = apr_pstrcat(p, dir, " ", key, NULL);
    if (!strcasecmp(key, "timeout")) {
        return parse_seconds_min(p, what, val, H2GW_MIN_TIMEOUT, 0,
                                 &pm->timeout);
    }
    if (!strcasecmp(key, "read-timeout")) {
        return parse_seconds_min(p, what, val, H2GW_MIN_TIMEOUT, 0,
                                 &pm->read_timeout);
    }
    if (!strcasecmp(key, "grpc-timeout-max")) {
        return parse_seconds_min(p, what, val, H2GW_MIN_TIMEOUT, 1,
                                 &pm->grpc_timeout_max);
    }
    if (!strcasecmp(key, "grpc-web")) {
        return parse_flag(p, what, val, &pm->grpc_web);
    }
    if (!strcasecmp(key, "grpc-web-origins")) {
        return parse_origins(p, what, val, &pm->grpc_web_origins);
    }
    if (!strcasecmp(key, "grpc-web-expose")) {
        return parse_field_list(p, what, val, &pm->grpc_web_expose);
    }
    if (!strcasecmp(key, "connect-timeout")) {
        return parse_seconds_min(p, what, val, H2GW_MIN_TIMEOUT, 0,
                                 &pm->connect_timeout);
    }
    if (!strcasecmp(key, "queue-timeout")) {
        return parse_seconds(p, what, val, &pm->queue_timeout);
    }
    if (!strcasecmp(key, "retry")) {
        /* 0: a failed server is tried again by the next request. */
        return parse_seconds_min(p, what, val, H2GW_MIN_SECONDS, 1,
                                 &pm->retry);
    }
    if (!strcasecmp(key, "resolve")) {
        return parse_seconds_min(p, what, val, H2GW_MIN_TIMEOUT, 1,
                                 &pm->resolve);
    }
    if (!strcasecmp(key, "settings-timeout")) {
        return parse_seconds_min(p, what, val, H2GW_MIN_TIMEOUT, 0,
                                 &pm->settings_timeout);
    }
    if (!strcasecmp(key, "max-lifetime")) {
        return parse_seconds_min(p, what, val, H2GW_MIN_SECONDS, 1,
                                 &pm->max_lifetime);
    }
    if (!strcasecmp(key, "ping")) {
        return parse_seconds_min(p, what, val, H2GW_MIN_TIMEOUT, 1,
                                 &pm->ping);
    }
    if (!strcasecmp(key, "idle-timeout")) {
        return parse_seconds(p, what, val, &pm->idle_timeout);
    }
    if (!strcasecmp(key, "window")) {
        return parse_size(p, what, val, H2GW_MIN_WINDOW, H2GW_MAX_WINDOW,
                          &pm->stream_window);
    }
    if (!strcasecmp(key, "conn-window")) {
        return parse_size(p, what, val, H2GW_MIN_WINDOW, H2GW_MAX_WINDOW,
                          &pm->conn_window);
    }
    if (!strcasecmp(key, "request-buffer")) {
        return parse_size(p, what, val, H2GW_MIN_REQUEST_BUFFER,
                          H2GW_MAX_REQUEST_BUFFER, &pm->request_buffer);
    }
    if (!strcasecmp(key, "retries")) {
        return parse_int(p, what, val, 0, H2GW_MAX_RETRIES, &pm->retries);
    }
    if (!strcasecmp(key, "retry-idempotent")) {
        return parse_flag(p, what, val, &pm->retry_idempotent);
    }
    if (!strcasecmp(key, "max-conns")) {
        return parse_int(p, what, val, 1, H2GW_MAX_CONNS, &pm->max_conns);
    }
    if (!strcasecmp(key, "max-streams")) {
        return parse_int(p, what, val, 1, H2GW_MAX_MAX_STREAMS,
                         &pm->max_streams);
    }
    if (!strcasecmp(key, "max-requests")) {
        return parse_count(p, what, val, 0, APR_INT64_MAX,
                           &pm->max_requests);
    }
    if (!strcasecmp(key, "preserve-host")) {
        return parse_flag(p, what, val, &pm->preserve_host);
    }
    if (!strcasecmp(key, "reverse")) {
        return parse_flag(p, what, val, &pm->reverse);
    }
    if (!strcasecmp(key, "forwarded")) {
        return parse_flag(p, what, val, &pm->forwarded);
    }
    if (!strcasecmp(key, "via")) {
        return parse_flag(p, what, val, &pm->via);
    }
    if (!strcasecmp(key, "max-frame-size")) {
        return parse_size(p, what, val, 16384, 16777215,
                          &pm->max_frame_size);
    }
    if (!strcasecmp(key, "header-table-size")) {
        return parse_size(p, what, val, 0, 1024 * 1024,
                          &pm->header_table_size);
    }
    if (!strcasecmp(key, "max-header-list")) {
        return parse_size(p, what, val, 1024, 16 * 1024 * 1024,
                          &pm->max_header_list);
    }
    if (!strcasecmp(key, "tls-verify")) {
        return parse_flag(p, what, val, &pm->tls.verify);
    }
    if (!strcasecmp(key, "tls-ca") || !strcasecmp(key, "tls-ca-path")
        || !strcasecmp(key, "tls-cert") || !strcasecmp(key, "tls-key")) {
        const char *path = ap_server_root_relative(p, val);

        if (!*val || !path) {
            return apr_psprintf(p, "%s: '%s' is not a path", what, val);
        }
        if (!strcasecmp(key, "tls-ca")) pm->tls.ca_file = path;
        else if (!strcasecmp(key, "tls-ca-path")) pm->tls.ca_path = path;
        else if (!strcasecmp(key, "tls-cert")) pm->tls.cert_file = path;
        else pm->tls.key_file = path;
        return NULL;
    }
    if (!strcasecmp(key, "tls-name") || !strcasecmp(key, "tls-sni")) {
        if (!*val || strpbrk(val, " \t/")) {
            return apr_psprintf(p, "%s: '%s' is not a host name", what, val);
        }
        if (!strcasecmp(key, "tls-name")) pm->tls.name = val;
        else pm->tls.sni = val;
        return NULL;
    }
    if (!strcasecmp(key, "health-check")) {
        return parse_health_check(p, what, val, &pm->health_check);
    }
    if (!strcasecmp(key, "health-interval")) {
        return parse_seconds_min(p, what, val, H2GW_MIN_TIMEOUT, 0,
                                 &pm->health_interval);
    }
    if (!strcasecmp(key, "health-timeout")) {
        return parse_seconds_min(p, what, val, H2GW_MIN_TIMEOUT, 0,
                                 &pm->health_timeout);
    }
    if (!strcasecmp(key, "health-fails")) {
        return parse_int(p, what, val, 1, H2GW_MAX_HEALTH_COUNT,
                         &pm->health_fails);
    }
    if (!strcasecmp(key, "health-passes")) {
        return parse_int(p, what, val, 1, H2GW_MAX_HEALTH_COUNT,
                         &pm->health_passes);
    }
    if (!strcasecmp(key, "health-status")) {
        return parse_health_status(p, what, val, &pm->health_status);
    }
    if (!strcasecmp(key, "lb")) {
        if (!strcasecmp(val, "least-streams")) {
            pm->lb = H2GW_LB_LEAST_STREAMS;
        }
        else if (!strcasecmp(val, "round-robin")) {
            pm->lb = H2GW_LB_ROUND_ROBIN;
        }
        else {
            return apr_psprintf(p, "%s: '%s' is not least-streams or "
                                "round-robin", what, val);
        }
        return NULL;
    }
    return apr_psprintf(p, "%s: unknown parameter '%s' (known: "
                        KNOWN_PARAMS ")", dir, key);
}

/* Parses a server URL "h2c://host[:port][/path]"; *path gets the path
 * ("/" when none). */
static const char *parse_server_url(apr_pool_t *p, const char *dir,
                                    const char *url, h2gw_server_conf_t *sv,
                                    const char **path)
{
    apr_uri_t uri;

    if (apr_uri_parse(p, url, &uri) != APR_SUCCESS || !uri.scheme
        || !uri.hostname || !*uri.hostname) {
        return apr_psprintf(p, "%s: '%s' is not an upstream URL "
                            "(expected h2c://host[:port]/path or h2://...)", dir,
                            url);
    }
    if (strcasecmp(uri.scheme, "h2c") && strcasecmp(uri.scheme, "h2")) {
        return apr_psprintf(p, "%s: '%s': unknown scheme '%s' "
                            "(expected h2c or h2)", dir, url, uri.scheme);
    }
    if (uri.query || uri.fragment || uri.user || uri.password) {
        return apr_psprintf(p, "%s: '%s': an upstream URL carries no "
                            "user, query or fragment", dir, url);
    }
    sv->url = url;
    sv->tls = !strcasecmp(uri.scheme, "h2");
    sv->scheme = sv->tls ? "h2" : "h2c";
    sv->host = apr_pstrdup(p, uri.hostname);
    sv->port = sv->tls ? 443 : 80;
    if (uri.port_str) {
        /* apr_uri_parse() wraps ports above 65535; parse it ourselves. */
        char *end;
        long port = strtol(uri.port_str, &end, 10);

        if (!*uri.port_str || *end || port <= 0 || port > 65535) {
            return apr_psprintf(p, "%s: '%s': bad port", dir, url);
        }
        sv->port = (int)port;
    }
    {
        int v6 = (strchr(sv->host, ':') != NULL);

        if (sv->port == (sv->tls ? 443 : 80)) {
            sv->authority = v6 ? apr_pstrcat(p, "[", sv->host, "]", NULL)
                               : sv->host;
        }
        else {
            sv->authority = apr_psprintf(p, v6 ? "[%s]:%d" : "%s:%d",
                                         sv->host, sv->port);
        }
    }
    *path = (uri.path && *uri.path) ? uri.path : "/";
    return NULL;
}

/* The upstreams and passes of the configuration being read: reset by
 * pre_config, so each (re)read starts empty; memory of pconf. */
static apr_array_header_t *all_upstreams;   /* h2gw_upstream_t * */
static apr_array_header_t *all_passes;      /* h2gw_pass_t * */

void h2gw_config_pre(apr_pool_t *pconf)
{
    all_upstreams = apr_array_make(pconf, 8, sizeof(h2gw_upstream_t *));
    all_passes = apr_array_make(pconf, 8, sizeof(h2gw_pass_t *));
}

const apr_array_header_t *h2gw_config_upstreams(void)
{
    return all_upstreams;
}

static h2gw_upstream_t *upstream_new(cmd_parms *cmd, const char *name,
                                     int named)
{
    h2gw_upstream_t *up = apr_pcalloc(cmd->pool, sizeof(*up));

    up->name = name;
    up->named = named;
    up->file = cmd->directive->filename;
    up->line = cmd->directive->line_num;
    up->server = cmd->server;
    params_init(&up->params);
    up->servers = apr_array_make(cmd->pool, 2, sizeof(h2gw_server_conf_t));
    APR_ARRAY_PUSH(all_upstreams, h2gw_upstream_t *) = up;
    return up;
}

/*
 * Splits a directive's raw arguments into words, each word as many as it
 * needs (httpd's TAKE_ARGV stops at 64 and leaves the rest unseen). A
 * quoted part may stand anywhere in a word, so that `tls-ca="/a b/ca.pem"`
 * is the word tls-ca=/a b/ca.pem; inside quotes a backslash escapes the
 * quote or itself, as in httpd's own quoting. Returns NULL and the words
 * (char *) in *pwords, or the error.
 */
static const char *split_words(apr_pool_t *p, const char *dir,
                               const char *line, apr_array_header_t **pwords)
{
    apr_array_header_t *words = apr_array_make(p, 8, sizeof(char *));

    for (;;) {
        char *w, *o;
        char quote = 0;

        while (*line && apr_isspace(*line)) {
            ++line;
        }
        if (!*line) {
            break;
        }
        o = w = apr_palloc(p, strlen(line) + 1);
        while (*line && (quote || !apr_isspace(*line))) {
            if (quote && *line == '\\'
                && (line[1] == quote || line[1] == '\\')) {
                *o++ = line[1];
                line += 2;
            }
            else if (quote && *line == quote) {
                quote = 0;
                ++line;
            }
            else if (!quote && (*line == '"' || *line == '\'')) {
                quote = *line++;
            }
            else {
                *o++ = *line++;
            }
        }
        if (quote) {
            return apr_psprintf(p, "%s: unbalanced %c quote", dir, quote);
        }
        *o = '\0';
        APR_ARRAY_PUSH(words, char *) = w;
    }
    *pwords = words;
    return NULL;
}

/* tls-* parameters only mean something for h2:// servers: on an
 * upstream without one they are a mistake (a forgotten scheme), not
 * something to ignore. */
static const char *check_tls_params(apr_pool_t *p, const char *dir,
                                    const h2gw_params_t *pm,
                                    const apr_array_header_t *servers)
{
    const char *key = params_tls_key(pm);
    int i;

    if (!key) {
        return NULL;
    }
    for (i = 0; i < servers->nelts; ++i) {
        if (APR_ARRAY_IDX(servers, i, h2gw_server_conf_t).tls) {
            return NULL;
        }
    }
    return apr_psprintf(p, "%s: '%s' is a TLS parameter, but no server "
                        "is h2:// (h2c:// is cleartext)", dir, key);
}

/* H2GWUpstream NAME h2c://host:port ... [key=value ...] */
static const char *cmd_upstream(cmd_parms *cmd, void *dconf, const char *args)
{
    apr_array_header_t *words;
    char **argv;
    int argc;
    const char *err, *path;
    h2gw_upstream_t *up;
    int i;

    if ((err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE)) != NULL) {
        return err;
    }
    if ((err = split_words(cmd->pool, "H2GWUpstream", args, &words))
        != NULL) {
        return err;
    }
    argc = words->nelts;
    argv = (char **)words->elts;
    if (argc < 2) {
        return "H2GWUpstream: needs a name and at least one server URL";
    }
    for (i = 0; argv[0][i]; ++i) {
        if (!apr_isalnum(argv[0][i]) && !strchr("-_.", argv[0][i])) {
            return apr_psprintf(cmd->pool, "H2GWUpstream: name '%s' may "
                                "only hold letters, digits, '-', '_' and "
                                "'.'", argv[0]);
        }
    }
    for (i = 0; i < all_upstreams->nelts; ++i) {
        h2gw_upstream_t *o = APR_ARRAY_IDX(all_upstreams, i,
                                           h2gw_upstream_t *);

        if (o->named && !strcmp(o->name, argv[0])) {
            return apr_psprintf(cmd->pool, "H2GWUpstream: '%s' is already "
                                "defined (line %d of %s)", argv[0], o->line,
                                o->file);
        }
    }
    up = upstream_new(cmd, argv[0], 1);
    for (i = 1; i < argc; ++i) {
        if (strchr(argv[i], '=') && !strstr(argv[i], "://")) {
            err = parse_param(cmd->pool, "H2GWUpstream", &up->params,
                              argv[i]);
        }
        else {
            h2gw_server_conf_t *sv = apr_array_push(up->servers);

            err = parse_server_url(cmd->pool, "H2GWUpstream", argv[i], sv,
                                   &path);
            if (!err && strcmp(path, "/")) {
                err = apr_psprintf(cmd->pool, "H2GWUpstream: '%s': a "
                                   "server URL has no path (give it in "
                                   "H2GWPass upstream://%s/path)", argv[i],
                                   argv[0]);
            }
        }
        if (err) {
            return err;
        }
    }
    if (up->servers->nelts == 0) {
        return "H2GWUpstream: needs at least one server URL";
    }
    if (up->servers->nelts > H2GW_MAX_SERVERS) {
        return apr_psprintf(cmd->pool, "H2GWUpstream: more than %d servers",
                            H2GW_MAX_SERVERS);
    }
    if ((err = check_health_params(cmd->pool, "H2GWUpstream", &up->params))
        != NULL) {
        return err;
    }
    return check_tls_params(cmd->pool, "H2GWUpstream", &up->params,
                            up->servers);
}

/* H2GWPass /prefix/ URL [key=value ...]   (server)
 * H2GWPass URL [key=value ...]            (<Location>)
 * URL: h2c://host:port/path, or upstream://NAME/path. */
static const char *cmd_pass(cmd_parms *cmd, void *dconf, const char *args)
{
    h2gw_pass_t *pass;
    apr_array_header_t *words;
    char **argv;
    const char *err;
    int argc, i = 0;
    int in_location = (cmd->path != NULL);

    if ((err = split_words(cmd->pool, "H2GWPass", args, &words)) != NULL) {
        return err;
    }
    argc = words->nelts;
    argv = (char **)words->elts;

    if (in_location && cmd->directive->parent
        && strcasecmp(cmd->directive->parent->directive, "<Location")
        && strcasecmp(cmd->directive->parent->directive, "<LocationMatch")) {
        return "H2GWPass: only allowed at server level or in <Location>";
    }
    if (argc < (in_location ? 1 : 2)) {
        return in_location ? "H2GWPass: needs an upstream URL"
                           : "H2GWPass: needs a path prefix and an upstream "
                             "URL (or use it inside <Location>)";
    }
    pass = apr_pcalloc(cmd->pool, sizeof(*pass));
    params_init(&pass->params);
    pass->file = cmd->directive->filename;
    pass->line = cmd->directive->line_num;
    pass->server = cmd->server;
    pass->in_location = in_location;
    if (in_location) {
        const char *pargs = cmd->directive->parent
                                ? cmd->directive->parent->args : "";

        while (apr_isspace(*pargs)) {
            ++pargs;
        }
        /* The prefix is cut off the request's path; a pattern has no
         * length to cut. */
        if ((cmd->directive->parent
             && !strcasecmp(cmd->directive->parent->directive,
                            "<LocationMatch"))
            || *pargs == '~') {
            return apr_psprintf(cmd->pool, "H2GWPass: not allowed in a "
                                "regular expression <Location> (%s): use "
                                "a path prefix, <Location /prefix/>",
                                cmd->path);
        }
        if (apr_fnmatch_test(cmd->path)) {
            return apr_psprintf(cmd->pool, "H2GWPass: not allowed in a "
                                "wildcard <Location %s>: use a path prefix, "
                                "<Location /prefix/>", cmd->path);
        }
        pass->prefix = cmd->path;
    }
    else {
        if (argv[0][0] != '/') {
            return apr_psprintf(cmd->pool, "H2GWPass: path prefix '%s' must "
                                "start with '/'", argv[0]);
        }
        pass->prefix = argv[i++];
    }
    pass->url = argv[i++];
    for (; i < argc; ++i) {
        if ((err = parse_param(cmd->pool, "H2GWPass", &pass->params,
                               argv[i])) != NULL) {
            return err;
        }
    }
    if (!strncasecmp(pass->url, "upstream://", 11)) {
        const char *name = pass->url + 11;
        const char *slash = strchr(name, '/');
        const char *key;

        pass->upstream_name = slash ? apr_pstrmemdup(cmd->pool, name,
                                                     (apr_size_t)(slash
                                                                  - name))
                                    : name;
        pass->base_path = slash ? slash : "/";
        if (!*pass->upstream_name || strpbrk(pass->base_path, "?#")) {
            return apr_psprintf(cmd->pool, "H2GWPass: '%s' is not an "
                                "upstream URL (expected "
                                "upstream://NAME/path)", pass->url);
        }
        if ((key = params_pool_key(&pass->params)) != NULL) {
            return apr_psprintf(cmd->pool, "H2GWPass: '%s' belongs to the "
                                "connections of upstream '%s': give it on "
                                "its H2GWUpstream line", key,
                                pass->upstream_name);
        }
    }
    else {
        h2gw_upstream_t *up = upstream_new(cmd, pass->url, 0);
        h2gw_server_conf_t *sv = apr_array_push(up->servers);

        if ((err = parse_server_url(cmd->pool, "H2GWPass", pass->url, sv,
                                    &pass->base_path)) != NULL
            || (err = check_tls_params(cmd->pool, "H2GWPass", &pass->params,
                                       up->servers)) != NULL
            || (err = check_health_params(cmd->pool, "H2GWPass",
                                          &pass->params)) != NULL) {
            return err;
        }
        /* The pass's own upstream takes its pool parameters. */
        up->params = pass->params;
        pass->upstream = up;
    }
    if (in_location) {
        h2gw_dir_conf_t *dc = dconf;

        if (dc->pass) {
            return "H2GWPass: given twice in one <Location>";
        }
        dc->pass = pass;
    }
    else {
        h2gw_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config,
                                                   &h2gw_module);
        APR_ARRAY_PUSH(sc->passes, h2gw_pass_t *) = pass;
    }
    APR_ARRAY_PUSH(all_passes, h2gw_pass_t *) = pass;
    return NULL;
}

static h2gw_srv_conf_t *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &h2gw_module);
}

static const char *cmd_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds_min(cmd->pool, cmd->cmd->name, arg,
                             H2GW_MIN_TIMEOUT, 0, &srv_conf(cmd)->timeout);
}

static const char *cmd_connect_timeout(cmd_parms *cmd, void *dc,
                                       const char *arg)
{
    return parse_seconds_min(cmd->pool, cmd->cmd->name, arg,
                             H2GW_MIN_TIMEOUT, 0,
                             &srv_conf(cmd)->connect_timeout);
}

static const char *cmd_stream_window(cmd_parms *cmd, void *dc,
                                     const char *arg)
{
    return parse_size(cmd->pool, cmd->cmd->name, arg, H2GW_MIN_WINDOW,
                      H2GW_MAX_WINDOW, &srv_conf(cmd)->stream_window);
}

static const char *cmd_conn_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_size(cmd->pool, cmd->cmd->name, arg, H2GW_MIN_WINDOW,
                      H2GW_MAX_WINDOW, &srv_conf(cmd)->conn_window);
}

static const char *cmd_request_buffer(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    return parse_size(cmd->pool, cmd->cmd->name, arg,
                      H2GW_MIN_REQUEST_BUFFER, H2GW_MAX_REQUEST_BUFFER,
                      &srv_conf(cmd)->request_buffer);
}

static const char *cmd_preserve_host(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->preserve_host = flag;
    return NULL;
}

static const char *cmd_add_headers(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->add_headers = flag;
    return NULL;
}

static const char *cmd_forwarded(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->forwarded = flag;
    return NULL;
}

static const char *cmd_via(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->via = flag;
    return NULL;
}

static const char *cmd_grpc_web(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->grpc_web = flag;
    return NULL;
}

const command_rec h2gw_config_cmds[] = {
    AP_INIT_RAW_ARGS("H2GWPass", cmd_pass, NULL, RSRC_CONF | ACCESS_CONF,
                      "[/prefix] h2c://host[:port][/path] | "
                      "upstream://NAME[/path] [key=value ...]: proxy "
                      "requests under the prefix to an HTTP/2 upstream"),
    AP_INIT_RAW_ARGS("H2GWUpstream", cmd_upstream, NULL, RSRC_CONF,
                      "NAME h2c://host[:port] ... [key=value ...]: a named "
                      "upstream of one or more servers"),
    AP_INIT_TAKE1("H2GWTimeout", cmd_timeout, NULL, RSRC_CONF,
                  "seconds to wait for upstream response headers"),
    AP_INIT_TAKE1("H2GWConnectTimeout", cmd_connect_timeout, NULL, RSRC_CONF,
                  "seconds to wait for an upstream connection"),
    AP_INIT_TAKE1("H2GWStreamWindow", cmd_stream_window, NULL, RSRC_CONF,
                  "HTTP/2 stream window: response bytes buffered per request"),
    AP_INIT_TAKE1("H2GWConnWindow", cmd_conn_window, NULL, RSRC_CONF,
                  "HTTP/2 connection window per upstream connection"),
    AP_INIT_TAKE1("H2GWRequestBuffer", cmd_request_buffer, NULL, RSRC_CONF,
                  "request body bytes buffered per request"),
    AP_INIT_FLAG("H2GWPreserveHost", cmd_preserve_host, NULL, RSRC_CONF,
                 "send the client's Host as :authority"),
    AP_INIT_FLAG("H2GWForwarded", cmd_forwarded, NULL, RSRC_CONF,
                 "add an RFC 7239 Forwarded field (for, host, proto)"),
    AP_INIT_FLAG("H2GWVia", cmd_via, NULL, RSRC_CONF,
                 "add a Via field to requests and responses"),
    AP_INIT_FLAG("H2GWAddHeaders", cmd_add_headers, NULL, RSRC_CONF,
                 "add X-Forwarded-For, -Host and -Server"),
    AP_INIT_FLAG("H2GWGrpcWeb", cmd_grpc_web, NULL, RSRC_CONF,
                 "translate gRPC-Web requests to gRPC (grpc-web= default)"),
    {NULL}
};

const h2gw_pass_t *h2gw_config_match_server(request_rec *r)
{
    h2gw_srv_conf_t *sc = ap_get_module_config(r->server->module_config,
                                               &h2gw_module);
    int i;

    if (!r->uri || r->uri[0] != '/') {
        return NULL;
    }
    for (i = 0; i < sc->passes->nelts; ++i) {
        const h2gw_pass_t *pass = APR_ARRAY_IDX(sc->passes, i, h2gw_pass_t *);

        if (!strncmp(r->uri, pass->prefix, strlen(pass->prefix))) {
            return pass;
        }
    }
    return NULL;
}

const h2gw_pass_t *h2gw_config_match_location(request_rec *r)
{
    h2gw_dir_conf_t *dc = ap_get_module_config(r->per_dir_config,
                                               &h2gw_module);

    return dc ? dc->pass : NULL;
}

/* The first value that is set: parameter, then directive, then the
 * default. */
#define PICK2(a, b, def) ((a) != UNSET ? (a) : ((b) != UNSET ? (b) : (def)))
#define PICK3(a, b, c, def) ((a) != UNSET ? (a) : PICK2(b, c, def))

/* The health check in force: none without health-check=. */
static void resolve_health(h2gw_upstream_t *up)
{
    const h2gw_params_t *pm = &up->params;
    const char *hc = pm->health_check;

    up->hc_kind = !hc ? H2GW_HC_NONE
                  : *hc == '/' ? H2GW_HC_HTTP : H2GW_HC_GRPC;
    up->hc_path = !hc ? NULL : *hc == '/' ? hc : H2GW_GRPC_HEALTH_PATH;
    up->hc_service = hc && *hc != '/' ? (hc[4] == ':' ? hc + 5 : "")
                                      : NULL;
    up->hc_interval = PICK2(pm->health_interval, UNSET,
                            H2GW_DEFAULT_HEALTH_INTERVAL);
    up->hc_timeout = PICK2(pm->health_timeout, UNSET, up->connect_timeout);
    up->hc_fails = PICK2(pm->health_fails, UNSET, H2GW_DEFAULT_HEALTH_FAILS);
    up->hc_passes = PICK2(pm->health_passes, UNSET,
                          H2GW_DEFAULT_HEALTH_PASSES);
    up->hc_status = pm->health_status;
}

static void resolve_upstream(h2gw_upstream_t *up)
{
    const h2gw_params_t *pm = &up->params;
    h2gw_srv_conf_t *sc = ap_get_module_config(up->server->module_config,
                                               &h2gw_module);

    up->lb = pm->lb != UNSET ? pm->lb : H2GW_LB_LEAST_STREAMS;
    up->max_conns = PICK2(pm->max_conns, UNSET, H2GW_DEFAULT_MAX_CONNS);
    up->max_streams = PICK2(pm->max_streams, UNSET,
                            H2GW_DEFAULT_MAX_STREAMS);
    up->connect_timeout = PICK2(pm->connect_timeout, sc->connect_timeout,
                                H2GW_DEFAULT_CONNECT_TIMEOUT);
    up->queue_timeout = PICK2(pm->queue_timeout, UNSET,
                              H2GW_DEFAULT_QUEUE_TIMEOUT);
    up->retry = PICK2(pm->retry, UNSET, H2GW_DEFAULT_RETRY);
    up->max_lifetime = PICK2(pm->max_lifetime, UNSET, 0);
    up->max_requests = PICK2(pm->max_requests, UNSET, 0);
    up->ping = PICK2(pm->ping, UNSET, H2GW_DEFAULT_PING);
    up->idle_timeout = PICK2(pm->idle_timeout, UNSET,
                             H2GW_DEFAULT_IDLE_TIMEOUT);
    up->settings_timeout = PICK2(pm->settings_timeout, UNSET,
                                 H2GW_DEFAULT_SETTINGS_TIMEOUT);
    up->resolve = PICK2(pm->resolve, UNSET, H2GW_DEFAULT_RESOLVE);
    up->stream_window = (int32_t)PICK2(pm->stream_window, sc->stream_window,
                                       H2GW_DEFAULT_STREAM_WINDOW);
    up->conn_window = (int32_t)PICK2(pm->conn_window, sc->conn_window,
                                     H2GW_DEFAULT_CONN_WINDOW);
    up->max_frame_size = (uint32_t)PICK2(pm->max_frame_size, UNSET,
                                         H2GW_DEFAULT_MAX_FRAME_SIZE);
    up->header_table_size = (uint32_t)PICK2(pm->header_table_size, UNSET,
                                            H2GW_DEFAULT_HEADER_TABLE);
    up->max_header_list = (uint32_t)PICK2(pm->max_header_list, UNSET,
                                          H2GW_DEFAULT_MAX_HEADER_LIST);
    resolve_health(up);
}

/* What a pass fixes at startup; the values that depend on the server
 * handling the request are picked by h2gw_config_route(). */
static void resolve_pass(h2gw_pass_t *pass)
{
    const h2gw_params_t *pm = &pass->params;
    const h2gw_params_t *um = &pass->upstream->params;
    h2gw_target_t *t = &pass->target;

    t->upstream = pass->upstream;
    t->retry_idempotent = PICK3(pm->retry_idempotent, um->retry_idempotent,
                                UNSET, 1);
    t->name = pass->upstream->name;
    t->retries = PICK3(pm->retries, um->retries, UNSET,
                       H2GW_DEFAULT_RETRIES);
    /* Location pointing into the upstream is almost never what a client
     * should see: rewritten unless turned off. */
    pass->reverse = PICK3(pm->reverse, um->reverse, UNSET, 1);
}

/* Do two resolved upstreams check their servers alike? */
static int same_health(const h2gw_upstream_t *a, const h2gw_upstream_t *b)
{
    if (a->hc_kind != b->hc_kind) {
        return 0;
    }
    if (a->hc_kind == H2GW_HC_NONE) {
        return 1;
    }
    return !strcmp(a->hc_path, b->hc_path)
           && !strcmp(a->hc_service ? a->hc_service : "",
                      b->hc_service ? b->hc_service : "")
           && a->hc_interval == b->hc_interval
           && a->hc_timeout == b->hc_timeout && a->hc_fails == b->hc_fails
           && a->hc_passes == b->hc_passes
           && (a->hc_status == b->hc_status
               || (a->hc_status && b->hc_status
                   && !memcmp(a->hc_status, b->hc_status,
                              H2GW_HEALTH_STATUS_MAX)));
}

/* Do two resolved upstreams open the same kind of connections? */
static int same_pool(const h2gw_upstream_t *a, const h2gw_upstream_t *b)
{
    const h2gw_server_conf_t *sa = (const h2gw_server_conf_t *)a->servers->elts;
    const h2gw_server_conf_t *sb = (const h2gw_server_conf_t *)b->servers->elts;

    if (sa->tls || sb->tls) {
        return 0;  /* TLS settings differ in ways not worth comparing */
    }
    return !strcmp(sa->scheme, sb->scheme) && !strcmp(sa->host, sb->host)
           && sa->port == sb->port && a->lb == b->lb
           && a->max_conns == b->max_conns
           && a->max_streams == b->max_streams
           && a->connect_timeout == b->connect_timeout
           && a->queue_timeout == b->queue_timeout && a->retry == b->retry
           && a->max_lifetime == b->max_lifetime
           && a->max_requests == b->max_requests && a->ping == b->ping
           && a->idle_timeout == b->idle_timeout
           && a->settings_timeout == b->settings_timeout
           && a->resolve == b->resolve
           && a->stream_window == b->stream_window
           && a->conn_window == b->conn_window
           && a->max_frame_size == b->max_frame_size
           && a->header_table_size == b->header_table_size
           && a->max_header_list == b->max_header_list
           && same_health(a, b);
}

/* Implicit upstreams (an H2GWPass with a server URL) are named after the
 * server; those with the same server and pool values share one pool; one
 * with other values is told apart by its pass's prefix. */
static void name_implicit(apr_pool_t *p, h2gw_upstream_t *up, int idx,
                          const char *prefix)
{
    const h2gw_server_conf_t *sv = (const h2gw_server_conf_t *)up->servers->elts;
    const char *base = apr_pstrcat(p, sv->scheme, "://", sv->authority, NULL);
    int j, taken = 0;

    for (j = 0; j < idx; ++j) {
        h2gw_upstream_t *o = APR_ARRAY_IDX(all_upstreams, j,
                                           h2gw_upstream_t *);

        if (o->named || o->same_as) {
            continue;
        }
        if (same_pool(o, up)) {
            up->same_as = o;
            up->name = o->name;
            return;
        }
        if (!strcmp(o->name, base)) {
            taken = 1;
        }
    }
    up->name = taken ? apr_pstrcat(p, base, " (H2GWPass ", prefix, ")", NULL)
                     : base;
}

#define WARN(s, ...)                                                       \
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, s,         \
                 __VA_ARGS__)

/* Does path start with prefix? */
static int has_prefix(const char *path, const char *prefix)
{
    return !strncmp(path, prefix, strlen(prefix));
}

static int ends_with_slash(const char *s)
{
    return *s && s[strlen(s) - 1] == '/';
}

/* Tells once that `later` never matches because `first` claims its
 * paths. */
static void warn_pair(apr_hash_t *told, const h2gw_pass_t *first,
                      const h2gw_pass_t *later, server_rec *s)
{
    const char *key = apr_psprintf(apr_hash_pool_get(told), "%pp %pp",
                                   first, later);

    if (!apr_hash_get(told, key, APR_HASH_KEY_STRING)) {
        apr_hash_set(told, key, APR_HASH_KEY_STRING, "");
        WARN(s, "H2GWPass %s on line %d of %s never matches: H2GWPass %s "
             "on line %d of %s claims its paths first", later->prefix,
             later->line, later->file, first->prefix, first->line,
             first->file);
    }
}

/* Server-level passes are tried in order, and before any <Location>
 * one: a pass whose prefix an earlier one (or, for a <Location> pass,
 * any server-level one) already covers never sees a request. Each pair
 * is told once, though the main server's passes reappear in every
 * virtual host's list. */
static void warn_shadowed(apr_pool_t *p, server_rec *s)
{
    apr_hash_t *told = apr_hash_make(p);
    server_rec *sv;
    int i, j;

    for (sv = s; sv; sv = sv->next) {
        const apr_array_header_t *list = ((h2gw_srv_conf_t *)
            ap_get_module_config(sv->module_config, &h2gw_module))->passes;

        for (j = 0; j < list->nelts; ++j) {
            const h2gw_pass_t *later = APR_ARRAY_IDX(list, j, h2gw_pass_t *);

            for (i = 0; i < j; ++i) {
                const h2gw_pass_t *first = APR_ARRAY_IDX(list, i,
                                                         h2gw_pass_t *);

                if (has_prefix(later->prefix, first->prefix)) {
                    warn_pair(told, first, later, s);
                    break;
                }
            }
        }
        for (j = 0; j < all_passes->nelts; ++j) {
            const h2gw_pass_t *loc = APR_ARRAY_IDX(all_passes, j,
                                                   h2gw_pass_t *);

            if (!loc->in_location || loc->server != sv) {
                continue;
            }
            for (i = 0; i < list->nelts; ++i) {
                const h2gw_pass_t *first = APR_ARRAY_IDX(list, i,
                                                         h2gw_pass_t *);

                if (has_prefix(loc->prefix, first->prefix)) {
                    warn_pair(told, first, loc, s);
                    break;
                }
            }
        }
    }
}

/* The ProxyPass trap: "/api" to ".../" sends /api/x upstream as //x,
 * "/api/" to ".../v1" sends /api/x as /v1x. */
static void warn_slashes(apr_pool_t *p, server_rec *s,
                         const h2gw_pass_t *pass)
{
    int pslash = ends_with_slash(pass->prefix);
    const char *client;

    if (pslash == ends_with_slash(pass->base_path)) {
        return;
    }
    client = apr_pstrcat(p, pass->prefix, pslash ? "x" : "/x", NULL);
    WARN(s, "H2GWPass %s on line %d of %s: the prefix ends %s '/' and "
         "the upstream path %s does %s, so %s goes upstream as %s%s; end "
         "both with '/' or neither", pass->prefix, pass->line, pass->file,
         pslash ? "with" : "without", pass->base_path,
         pslash ? "not" : "so", client, pass->base_path,
         client + strlen(pass->prefix));
}

/* Collects the paths that mod_proxy's ProxyPass claims anywhere in the
 * configuration: the first word at server level, the section's path
 * inside <Location>. (The tree, not mod_proxy's records: nothing here
 * depends on mod_proxy being loaded or on its structures.) */
static void proxypass_paths(apr_pool_t *p, const ap_directive_t *d,
                            apr_array_header_t *out)
{
    for (; d; d = d->next) {
        if (!strcasecmp(d->directive, "ProxyPass") && d->args) {
            const char *args = d->args;
            const char *path;

            if (d->parent && !strcasecmp(d->parent->directive, "<Location")) {
                const char *pa = d->parent->args;

                path = ap_getword_conf(p, &pa);
                if (*path && path[strlen(path) - 1] == '>') {
                    path = apr_pstrmemdup(p, path, strlen(path) - 1);
                }
            }
            else {
                path = ap_getword_conf(p, &args);
            }
            APR_ARRAY_PUSH(out, const ap_directive_t *) = d;
            APR_ARRAY_PUSH(out, const char *) = path;
        }
        if (d->first_child) {
            proxypass_paths(p, d->first_child, out);
        }
    }
}

static void warn_proxypass(apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *pp = apr_array_make(p, 4, sizeof(void *));
    int i, j;

    proxypass_paths(p, ap_conftree, pp);
    for (i = 0; i + 1 < pp->nelts; i += 2) {
        const ap_directive_t *d = APR_ARRAY_IDX(pp, i, const ap_directive_t *);
        const char *path = APR_ARRAY_IDX(pp, i + 1, const char *);

        for (j = 0; j < all_passes->nelts; ++j) {
            const h2gw_pass_t *pass = APR_ARRAY_IDX(all_passes, j,
                                                    h2gw_pass_t *);

            if (!strcmp(pass->prefix, path)) {
                WARN(s, "H2GWPass %s on line %d of %s and ProxyPass on "
                     "line %d of %s claim the same path: H2GWPass takes "
                     "the requests", pass->prefix, pass->line, pass->file,
                     d->line_num, d->filename);
            }
        }
    }
}

/* A stream that is not read holds up to its window of the connection's;
 * when max-streams of them fit in more than the connection window, a few
 * slow clients stall every stream on the connection. */
static void warn_windows(server_rec *s, const h2gw_upstream_t *up)
{
    if ((apr_int64_t)up->stream_window * up->max_streams
        > (apr_int64_t)up->conn_window) {
        WARN(s, "%s %s on line %d of %s: window (%d) x max-streams (%d) "
             "is more than conn-window (%d): a few responses that clients "
             "read slowly can stall every stream of a connection",
             up->named ? "H2GWUpstream" : "H2GWPass", up->name, up->line,
             up->file, (int)up->stream_window, up->max_streams,
             (int)up->conn_window);
    }
}

int h2gw_config_check(apr_pool_t *pconf, server_rec *s)
{
    int i, j, bad = 0;

    if (!all_upstreams) {
        return OK;
    }
    for (i = 0; i < all_upstreams->nelts; ++i) {
        h2gw_upstream_t *up = APR_ARRAY_IDX(all_upstreams, i,
                                            h2gw_upstream_t *);

        resolve_upstream(up);
        up->same_as = NULL;
        for (j = 0; j < up->servers->nelts; ++j) {
            if (APR_ARRAY_IDX(up->servers, j, h2gw_server_conf_t).tls) {
                break;
            }
        }
        up->ssl_ctx = NULL;
        if (j < up->servers->nelts) {
            const char *err = h2gw_tls_ctx_create(pconf, &up->params.tls,
                                                  &up->ssl_ctx);

            if (err) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                             "%s: %s (upstream %s, on line %d of %s)",
                             up->named ? "H2GWUpstream" : "H2GWPass", err,
                             up->name, up->line, up->file);
                bad = 1;
            }
        }
    }
    for (i = 0; i < all_passes->nelts; ++i) {
        h2gw_pass_t *pass = APR_ARRAY_IDX(all_passes, i, h2gw_pass_t *);

        if (!pass->upstream_name) {
            int idx;

            for (idx = 0; idx < all_upstreams->nelts; ++idx) {
                if (APR_ARRAY_IDX(all_upstreams, idx, h2gw_upstream_t *)
                    == pass->upstream) {
                    break;
                }
            }
            name_implicit(pconf, pass->upstream, idx, pass->prefix);
        }
    }
    for (i = 0; i < all_passes->nelts; ++i) {
        h2gw_pass_t *pass = APR_ARRAY_IDX(all_passes, i, h2gw_pass_t *);

        if (pass->upstream_name) {
            pass->upstream = NULL;
            for (j = 0; j < all_upstreams->nelts; ++j) {
                h2gw_upstream_t *up = APR_ARRAY_IDX(all_upstreams, j,
                                                    h2gw_upstream_t *);

                if (up->named && !strcmp(up->name, pass->upstream_name)) {
                    pass->upstream = up;
                    break;
                }
            }
            if (!pass->upstream) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                             "H2GWPass: unknown upstream '%s' in '%s' (no "
                             "H2GWUpstream of that name) on line %d of %s",
                             pass->upstream_name, pass->url, pass->line,
                             pass->file);
                bad = 1;
                continue;
            }
        }
        resolve_pass(pass);
        if (pass->upstream->same_as) {
            pass->target.upstream = pass->upstream->same_as;
        }
        warn_slashes(pconf, s, pass);
    }
    for (i = 0; i < all_upstreams->nelts; ++i) {
        h2gw_upstream_t *up = APR_ARRAY_IDX(all_upstreams, i,
                                            h2gw_upstream_t *);

        if (!up->same_as) {
            warn_windows(s, up);
        }
    }
    warn_shadowed(pconf, s);
    warn_proxypass(pconf, s);
    return bad ? !OK : OK;
}

/* A gRPC client's deadline (grpc-timeout) is its wait for the response
 * headers, in place of timeout=, up to max: a server sends its headers
 * with the first message, so a unary call lasts until then and may take
 * longer than any fixed timeout, as long as the client allows it. */
static void grpc_deadline(request_rec *r, apr_interval_time_t max,
                          h2gw_target_t *t)
{
    const char *v = apr_table_get(r->headers_in, "grpc-timeout");
    apr_interval_time_t deadline;

    if (!v || max <= 0 || (deadline = h2gw_headers_grpc_timeout(v)) < 0) {
        return;
    }
    t->timeout = deadline < max ? deadline : max;
    if (t->timeout < 1) {
        t->timeout = 1;  /* an expired deadline: no wait at all */
    }
}

void h2gw_config_route(request_rec *r, const h2gw_pass_t *pass,
                       h2gw_route_t *route)
{
    /* Values of the request: the pass's parameter, then its upstream's,
     * then the directive of the server that handles the request (a
     * virtual host's own, or what it inherits), then the default; a pass
     * inherited from the main server thus behaves as the virtual host is
     * configured, as mod_proxy's ProxyPreserveHost does. */
    const h2gw_params_t *pm = &pass->params;
    const h2gw_params_t *um = &pass->upstream->params;
    h2gw_srv_conf_t *sc = ap_get_module_config(r->server->module_config,
                                               &h2gw_module);
    h2gw_target_t *t = &route->target;

    route->pass = pass;
    *t = pass->target;
    t->timeout = PICK3(pm->timeout, um->timeout, sc->timeout,
                       H2GW_DEFAULT_TIMEOUT);
    t->read_timeout = PICK3(pm->read_timeout, um->read_timeout, UNSET,
                            t->timeout);
    route->request_buffer = (apr_size_t)PICK3(pm->request_buffer,
                                              um->request_buffer,
                                              sc->request_buffer,
                                              H2GW_DEFAULT_REQUEST_BUFFER);
    route->preserve_host = PICK3(pm->preserve_host, um->preserve_host,
                                 sc->preserve_host, 0);
    route->reverse = pass->reverse;
    route->add_headers = sc->add_headers != UNSET ? sc->add_headers : 1;
    route->forwarded = PICK3(pm->forwarded, um->forwarded, sc->forwarded, 0);
    route->via = PICK3(pm->via, um->via, sc->via, 0);
    route->grpc_web = PICK3(pm->grpc_web, um->grpc_web, sc->grpc_web, 0);
    route->grpc_web_origins = pm->grpc_web_origins ? pm->grpc_web_origins
                                                   : um->grpc_web_origins;
    route->grpc_web_expose = pm->grpc_web_expose ? pm->grpc_web_expose
                                                 : um->grpc_web_expose;
    grpc_deadline(r, PICK3(pm->grpc_timeout_max, um->grpc_timeout_max, UNSET,
                           H2GW_DEFAULT_GRPC_TIMEOUT_MAX), t);
}
