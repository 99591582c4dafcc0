/*
 * h2gw_map: the client's URL space ↔ the upstream's, and the Forwarded and
 * Via values. Pure functions over strings; see h2gw_map.h for the
 * contracts.
 */
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "h2gw_headers.h"
#include "h2gw_map.h"

const char *h2gw_map_after_prefix(const char *uri, const char *prefix)
{
    for (; *prefix; ++prefix, ++uri) {
        if (*uri != *prefix) {
            return NULL;
        }
        while (*prefix == '/' && uri[1] == '/' && prefix[1] != '/') {
            ++uri;
        }
    }
    return uri;
}

const char *h2gw_map_raw_path(apr_pool_t *p, const char *unparsed_uri)
{
    const char *s = unparsed_uri ? unparsed_uri : "";
    const char *end;

    if (*s != '/') {
        const char *auth = strstr(s, "://");

        s = auth ? strchr(auth + 3, '/') : NULL;
        if (!s) {
            return "/";
        }
    }
    end = s + strcspn(s, "?#");
    return apr_pstrmemdup(p, s, (apr_size_t)(end - s));
}

/* What ap_escape_uri() leaves as it is (httpd's T_OS_ESCAPE_PATH). */
static int path_char_kept(unsigned char c)
{
    return apr_isalnum(c) || (c && strchr("$-_.+!*'(),:;@&=/~", c));
}

const char *h2gw_map_escape_path(apr_pool_t *p, const char *path)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s;
    char *out = apr_palloc(p, 3 * strlen(path) + 1), *o = out;

    for (s = (const unsigned char *)path; *s; ++s) {
        if (path_char_kept(*s)) {
            *o++ = (char)*s;
        }
        else {
            *o++ = '%';
            *o++ = hex[*s >> 4];
            *o++ = hex[*s & 15];
        }
    }
    *o = '\0';
    return out;
}

const char *h2gw_map_upstream_path(apr_pool_t *p, const char *unparsed_uri,
                                   const char *uri, const char *query,
                                   const char *prefix, const char *base_path)
{
    const char *raw = h2gw_map_raw_path(p, unparsed_uri);
    size_t plen = strlen(prefix);
    const char *rest;

    if (!strncmp(raw, prefix, plen)) {
        rest = raw + plen;
    }
    else {
        /* The raw path reached the prefix only after normalization (dot
         * segments, encoded unreserved characters, merged slashes):
         * forward the normalized form, escaped again. The request was
         * only claimed when uri starts with the prefix. */
        rest = h2gw_map_after_prefix(uri, prefix);
        rest = h2gw_map_escape_path(p, rest ? rest : "");
    }
    /* Bytes a careful origin would refuse in a :path (a raw '\', '"',
     * spaces cannot be here, controls, 8-bit bytes) go percent-encoded,
     * as mod_proxy sends them; everything else byte for byte. */
    return h2gw_headers_escape_target(
        p, apr_pstrcat(p, base_path, rest, query ? "?" : "",
                       query ? query : "", NULL));
}

/* v between quotes, each bare '"' with a backslash; a backslash followed
 * by a byte is taken for an escape already and kept with that byte, and
 * the byte after such a pair counts as bare (ap_escape_quotes()'s
 * reading, kept so that the values sent stay what they were). */
static const char *quoted(apr_pool_t *p, const char *v)
{
    char *out = apr_palloc(p, 2 * strlen(v) + 3), *o = out;

    *o++ = '"';
    while (*v) {
        if (v[0] == '\\' && v[1]) {
            *o++ = *v++;
            *o++ = *v++;
        }
        if (*v == '"') {
            *o++ = '\\';
        }
        if (*v) {
            *o++ = *v++;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* RFC 7239 §4: a quoted-string when the value is no token (an IPv6
 * address, a host with a port, an empty Host of HTTP/1.0). */
static const char *fwd_value(apr_pool_t *p, const char *v)
{
    const char *c;

    if (!*v) {
        return "\"\"";  /* a token is never empty */
    }

    for (c = v; *c; ++c) {
        if (!apr_isalnum(*c) && !strchr("!#$%&'*+-.^_`|~", *c)) {
            return quoted(p, v);
        }
    }
    return v;
}

const char *h2gw_map_forwarded(apr_pool_t *p, const char *ip,
                               const char *host, const char *scheme)
{
    if (!ip) {
        ip = "unknown";
    }
    if (strchr(ip, ':')) {
        ip = apr_pstrcat(p, "[", ip, "]", NULL);  /* §6: IPv6 */
    }
    return apr_pstrcat(p, "for=", fwd_value(p, ip), host ? ";host=" : "",
                       host ? fwd_value(p, host) : "", ";proto=", scheme,
                       NULL);
}

const char *h2gw_map_via(apr_pool_t *p, int proto_num, const char *server)
{
    return apr_psprintf(p, "%s %s (mod_h2gw)",
                        proto_num >= 2000   ? "2"
                        : proto_num >= 1001 ? "1.1"
                                            : "1.0",
                        server);
}

int h2gw_map_is_uri_field(const char *name)
{
    return !strcasecmp(name, "location")
           || !strcasecmp(name, "content-location")
           || !strcasecmp(name, "uri");
}

/* Does the authority auth[0..len) name the upstream: one of its servers,
 * or the client's Host that went upstream? (Case-insensitive, RFC 3986
 * §3.2.2.) */
static int names_upstream(const h2gw_map_rev_t *m, const char *auth,
                          size_t len)
{
    int i;

    for (i = 0; i < m->nauthorities; ++i) {
        if (strlen(m->authorities[i]) == len
            && !strncasecmp(auth, m->authorities[i], len)) {
            return 1;
        }
    }
    return m->host && strlen(m->host) == len
           && !strncasecmp(auth, m->host, len);
}

const char *h2gw_map_reverse(apr_pool_t *p, const h2gw_map_rev_t *m,
                             const char *value)
{
    size_t blen = strlen(m->base_path);
    size_t plen = strlen(m->prefix);
    const char *path, *rest, *auth;

    if (value[0] == '/' && value[1] != '/') {
        path = value;
        auth = NULL;
    }
    else {
        const char *sep = strstr(value, "://");
        const char *end;

        if (!sep || (strncasecmp(value, "http://", 7)
                     && strncasecmp(value, "https://", 8))) {
            return value;
        }
        auth = sep + 3;
        end = auth + strcspn(auth, "/?#");
        /* "http://up?q" is "http://up/?q" (RFC 3986 §6.2.3) */
        path = *end == '/' ? end : apr_pstrcat(p, "/", end, NULL);
        if (!names_upstream(m, auth, (size_t)(end - auth))) {
            return value;
        }
    }
    if (strncmp(path, m->base_path, blen)) {
        return value;
    }
    rest = path + blen;
    if (*rest == '/' && plen && m->prefix[plen - 1] == '/') {
        ++rest;  /* "/app/" + "/x" */
    }
    path = apr_pstrcat(p, m->prefix,
                       /* "/app" + "x" needs the slash the base had */
                       (plen && m->prefix[plen - 1] != '/' && blen
                        && m->base_path[blen - 1] == '/')
                           ? "/" : "",
                       rest, NULL);
    return auth ? apr_pstrcat(p, m->client_url, path, NULL) : path;
}
