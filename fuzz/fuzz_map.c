/*
 * fuzz_map: drives h2gw_map with arbitrary prefixes, paths and values and
 * checks what it emits: a raw path is a path without query or fragment;
 * httpd's path escaping decodes back to its input; an upstream :path needs
 * no further escaping; a Forwarded element parses as RFC 7239 pairs and
 * gives back the address and host it was built from; a URI mapped back is
 * left alone or lands under the client's prefix; and a path under a
 * prefix, sent upstream and mapped back, is the path the client sent
 * (when prefix and base path agree on their trailing slash).
 * Input: lines, in order: prefix, base path, request target, normalized
 * path, query, Host, client address, a response URI, a path rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "h2gw_headers.h"
#include "h2gw_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_PREFIX, F_BASE, F_TARGET, F_URI, F_QUERY, F_HOST, F_IP, F_VALUE,
       F_REST, F_COUNT };

static apr_pool_t *root;

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

/* The output of h2gw_map_escape_path(): kept bytes or lowercase %xx, and
 * it decodes to path. */
static void check_escape(apr_pool_t *p, const char *path)
{
    const char *e = h2gw_map_escape_path(p, path);
    const char *s = path;

    while (*e) {
        if (*e == '%') {
            int hi = hexval(e[1]), lo = hi < 0 ? -1 : hexval(e[2]);

            if (hi < 0 || lo < 0 || (unsigned char)*s != hi * 16 + lo) {
                abort();
            }
            e += 3;
        }
        else {
            if (*e != *s || (!apr_isalnum(*e)
                             && !strchr("$-_.+!*'(),:;@&=/~", *e))) {
                abort();
            }
            ++e;
        }
        ++s;
    }
    if (*s) {
        abort();
    }
}

/* Reads one RFC 7239 value (token or quoted-string) at *pp into a copy;
 * NULL when it is neither. */
static char *fwd_value(apr_pool_t *p, const char **pp)
{
    const char *s = *pp;
    char *out = apr_palloc(p, strlen(s) + 1), *o = out;

    if (*s == '"') {
        for (++s; *s && *s != '"'; ++s) {
            if (*s == '\\' && !*++s) {
                return NULL;
            }
            *o++ = *s;
        }
        if (*s++ != '"') {
            return NULL;
        }
    }
    else {
        for (; *s && (apr_isalnum(*s) || strchr("!#$%&'*+-.^_`|~", *s));
             ++s) {
            *o++ = *s;
        }
        if (o == out) {
            return NULL;
        }
    }
    *o = '\0';
    *pp = s;
    return out;
}

/* Parses "for=V;host=V;proto=V" (host optional) and compares the values
 * with what built it. Only for an address and Host without a backslash:
 * httpd refuses such a Host, and a backslash already in a value is kept
 * as an escape (h2gw_map_forwarded()). */
static void check_forwarded(apr_pool_t *p, const char *ip, const char *host)
{
    const char *f = h2gw_map_forwarded(p, ip, host, "https");
    const char *want_for = strchr(ip, ':') ? apr_pstrcat(p, "[", ip, "]",
                                                         NULL)
                                           : ip;
    char *v;

    if (strncmp(f, "for=", 4)) {
        abort();
    }
    f += 4;
    if (!(v = fwd_value(p, &f)) || strcmp(v, want_for)) {
        abort();
    }
    if (host) {
        if (strncmp(f, ";host=", 6)) {
            abort();
        }
        f += 6;
        if (!(v = fwd_value(p, &f)) || strcmp(v, host)) {
            abort();
        }
    }
    if (strcmp(f, ";proto=https")) {
        abort();
    }
}

/* Usable as a prefix, base path or rest in the round trip: starts as
 * asked, nothing h2gw_headers_escape_target() would change, no query or
 * fragment. */
static int plain(apr_pool_t *p, const char *s, int slash_first)
{
    return (!slash_first || (s[0] == '/' && s[1] != '/'))
           && !strcmp(h2gw_headers_escape_target(p, s), s)
           && !strpbrk(s, "?#");
}

static int ends_slash(const char *s)
{
    return *s && s[strlen(s) - 1] == '/';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const servers[] = {"up:8080", "up2"};
    const char *f[F_COUNT] = {"/app/", "/", "/app/x", "/app/x", NULL,
                              "client.example", "192.0.2.1", "/x", "x"};
    apr_pool_t *p;
    h2gw_map_rev_t m;
    char *text, *line, *save = NULL;
    const char *out, *mapped;
    int i = 0;

    if (!root) {
        apr_initialize();
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&p, root);
    /* C strings, as httpd hands them over: a NUL ends the input. */
    text = apr_pstrmemdup(p, (const char *)data, size);
    for (line = apr_strtok(text, "\n", &save); line && i < F_COUNT;
         line = apr_strtok(NULL, "\n", &save)) {
        f[i++] = line;
    }

    out = h2gw_map_after_prefix(f[F_URI], f[F_PREFIX]);
    if (out && (out < f[F_URI] || out > f[F_URI] + strlen(f[F_URI]))) {
        abort();
    }
    out = h2gw_map_raw_path(p, f[F_TARGET]);
    if (out[0] != '/' || strpbrk(out, "?#")) {
        abort();
    }
    check_escape(p, f[F_URI]);
    out = h2gw_map_upstream_path(p, f[F_TARGET], f[F_URI], f[F_QUERY],
                                 f[F_PREFIX], f[F_BASE]);
    if (strcmp(h2gw_headers_escape_target(p, out), out)) {
        abort();
    }
    if (!strchr(f[F_IP], '\\') && !strchr(f[F_HOST], '\\')) {
        check_forwarded(p, f[F_IP], f[F_HOST]);
        check_forwarded(p, f[F_IP], NULL);
    }
    out = h2gw_map_via(p, (int)(size % 3000), f[F_HOST]);
    if (!strstr(out, f[F_HOST])) {
        abort();
    }

    m.prefix = f[F_PREFIX];
    m.base_path = f[F_BASE];
    m.authorities = servers;
    m.nauthorities = 2;
    m.host = f[F_HOST];
    m.client_url = "https://gw.example";
    mapped = h2gw_map_reverse(p, &m, f[F_VALUE]);
    if (mapped != f[F_VALUE]
        && strncmp(mapped, m.prefix, strlen(m.prefix))
        && (strncmp(mapped, m.client_url, strlen(m.client_url))
            || strncmp(mapped + strlen(m.client_url), m.prefix,
                       strlen(m.prefix)))) {
        abort();
    }

    if (plain(p, f[F_PREFIX], 1) && plain(p, f[F_BASE], 1)
        && plain(p, f[F_REST], 0) && f[F_REST][0] != '/'
        && ends_slash(f[F_PREFIX]) == ends_slash(f[F_BASE])) {
        const char *client = apr_pstrcat(p, f[F_PREFIX], f[F_REST], NULL);

        out = h2gw_map_upstream_path(p, client, client, NULL, f[F_PREFIX],
                                     f[F_BASE]);
        if (strcmp(h2gw_map_reverse(p, &m, out), client)) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
