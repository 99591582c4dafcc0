/*
 * h2gw_counters: the shared segment of every child's counters: its
 * layout, its creation and reuse in the parent, a child's slot, and the
 * sums the status page and the metrics read. Not the rendering (status,
 * metrics) and not what is counted where (pool, conn, handler).
 *
 * Segment: a header, then nslots slots of slot_size bytes. A slot: its
 * header (the holder's pid, a sequence number odd while the holder folds
 * and clears it), the holder's counters ("live": upstreams, then
 * servers), the counters of earlier holders ("base", the same layout),
 * the holder's gauges. Everything is 64-bit and 8-byte aligned: a reader
 * in another process never sees half a store.
 */
#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <unistd.h>

#include <apr_shm.h>
#include <apr_strings.h>
#include <ap_mpm.h>

#include "mod_h2gw.h"
#include "h2gw_config.h"
#include "h2gw_counters.h"

APLOG_USE_MODULE(h2gw);

#define SHM_MAGIC 0x68326777u  /* "h2gw" */
/* Raised whenever what a slot holds changes shape: a segment of another
 * version is never reused. */
#define SHM_VERSION 1

/* Slots per hard limit of child processes: a slot is free again once its
 * child released it or is gone, so ServerLimit would do; the rest covers
 * children that are gone but whose slot no claimer looked at yet. */
#define SLOTS_PER_CHILD 2
#define SLOTS_EXTRA 4

/* A reader retries a slot being folded at most this often, then counts
 * it as it is. The fold is a few thousand stores: a retry is rare. */
#define READ_TRIES 1000

typedef struct shm_header_t {
    apr_uint32_t magic;
    apr_uint32_t version;
    apr_uint64_t nslots;
    apr_uint64_t nups;
    apr_uint64_t nservers;
    apr_uint64_t slot_size;
    char pad[24];
} shm_header_t;

typedef struct slot_header_t {
    apr_uint32_t pid;          /* the holder; 0: free (atomic) */
    apr_uint32_t seq;          /* odd while the holder folds (atomic) */
    apr_int64_t started;       /* apr_time_t of the claim */
    apr_uint32_t used;         /* ever claimed or carried into: a reader
                                * skips the slots that never counted */
    char pad[44];
} slot_header_t;

/* The gauges of a slot: every server's, then every upstream's. */
#define GAUGES_SIZE(nups, nservers)                                          \
    ((apr_size_t)(nservers) * sizeof(h2gw_gauges_t)                         \
     + (apr_size_t)(nups) * sizeof(h2gw_up_gauges_t))

/* Counters of every upstream then every server: the size of one set. */
#define LIVE_SIZE(nups, nservers)                                            \
    ((apr_size_t)(nups) * sizeof(h2gw_up_counters_t)                        \
     + (apr_size_t)(nservers) * sizeof(h2gw_counters_t))

/*
 * What survives a restart in the parent (s->process->pool's user data):
 * the segment and the layout it was made for. The struct is allocated
 * once; the strings live in a subpool of the process pool, replaced with
 * the segment. (No cleanup of ours on the process pool: this module's
 * code is unloaded before that pool goes.)
 */
typedef struct keeper_t {
    apr_pool_t *pool;          /* holds sig and the keys */
    apr_shm_t *shm;
    char *sig;                 /* layout signature: slots, sizes, keys */
    int nups, nservers;
    char **up_keys;            /* upstream names, by cidx */
    char **sv_keys;            /* "name\nurl", by server index */
} keeper_t;

#define KEEPER_KEY "h2gw_counters"

/* This generation's layout; set in post_config, inherited by children. */
static apr_array_header_t *counted;    /* h2gw_upstream_t * */
static int nups, nservers, nslots;
static apr_size_t slot_size;
static char *segment;                  /* the slots; NULL: none */

/* This child's. */
static h2gw_slot_t *mine;
static slot_header_t *my_header;

static slot_header_t *slot_header(int i)
{
    return (slot_header_t *)(segment + (apr_size_t)i * slot_size);
}

static char *slot_live(int i)
{
    return (char *)slot_header(i) + sizeof(slot_header_t);
}

static char *slot_base(int i)
{
    return slot_live(i) + LIVE_SIZE(nups, nservers);
}

static h2gw_gauges_t *slot_gauges(int i)
{
    return (h2gw_gauges_t *)(slot_base(i) + LIVE_SIZE(nups, nservers));
}

static void point_slot(h2gw_slot_t *slot, char *live, h2gw_gauges_t *g)
{
    slot->up = (h2gw_up_counters_t *)live;
    slot->sv = (h2gw_counters_t *)(live + (apr_size_t)nups
                                             * sizeof(h2gw_up_counters_t));
    slot->g = g;
    slot->ug = (h2gw_up_gauges_t *)(g + nservers);
}

const apr_array_header_t *h2gw_counters_upstreams(void)
{
    return counted;
}

/* Numbers the upstreams and servers; builds the signature and the keys
 * of this layout (in p). */
static const char *number_layout(apr_pool_t *p, char ***up_keys,
                                 char ***sv_keys)
{
    const apr_array_header_t *all = h2gw_config_upstreams();
    apr_array_header_t *sig = apr_array_make(p, 16, sizeof(const char *));
    int i, j, k = 0;

    counted = apr_array_make(p, 8, sizeof(h2gw_upstream_t *));
    nups = nservers = 0;
    for (i = 0; all && i < all->nelts; ++i) {
        h2gw_upstream_t *up = APR_ARRAY_IDX(all, i, h2gw_upstream_t *);

        up->cidx = up->csv0 = -1;
        if (up->same_as) {
            continue;
        }
        up->cidx = nups++;
        up->csv0 = nservers;
        nservers += up->servers->nelts;
        APR_ARRAY_PUSH(counted, h2gw_upstream_t *) = up;
    }
    *up_keys = apr_pcalloc(p, sizeof(char *) * (nups + 1));
    *sv_keys = apr_pcalloc(p, sizeof(char *) * (nservers + 1));
    APR_ARRAY_PUSH(sig, const char *) = apr_psprintf(
        p, "v%d slots %d sizes %" APR_SIZE_T_FMT " %" APR_SIZE_T_FMT " %"
        APR_SIZE_T_FMT " %" APR_SIZE_T_FMT "\n", SHM_VERSION, nslots,
        sizeof(h2gw_up_counters_t), sizeof(h2gw_counters_t),
        sizeof(h2gw_gauges_t), sizeof(h2gw_up_gauges_t));
    for (i = 0; i < counted->nelts; ++i) {
        h2gw_upstream_t *up = APR_ARRAY_IDX(counted, i, h2gw_upstream_t *);

        (*up_keys)[i] = apr_pstrdup(p, up->name);
        APR_ARRAY_PUSH(sig, const char *) = apr_pstrcat(p, "U ", up->name,
                                                        "\n", NULL);
        for (j = 0; j < up->servers->nelts; ++j, ++k) {
            const char *url = APR_ARRAY_IDX(up->servers, j,
                                            h2gw_server_conf_t).url;

            (*sv_keys)[k] = apr_pstrcat(p, up->name, "\n", url, NULL);
            APR_ARRAY_PUSH(sig, const char *) = apr_pstrcat(p, "S ", url,
                                                            "\n", NULL);
        }
    }
    return apr_array_pstrcat(p, sig, 0);
}

static char **copy_keys(apr_pool_t *p, char **keys, int n)
{
    char **out = apr_pcalloc(p, sizeof(char *) * ((apr_size_t)n + 1));
    int i;

    for (i = 0; i < n; ++i) {
        out[i] = apr_pstrdup(p, keys[i]);
    }
    return out;
}

static int find_key(char **keys, int n, const char *key)
{
    int i;

    for (i = 0; keys && i < n; ++i) {
        if (keys[i] && !strcmp(keys[i], key)) {
            return i;
        }
    }
    return -1;
}

/* Adds n 64-bit counters from src to dst. */
static void add_counts(apr_uint64_t *dst, const apr_uint64_t *src,
                       apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    }
}

#define NWORDS(type) (sizeof(type) / sizeof(apr_uint64_t))

/*
 * The upstreams changed across a restart: what the old segment counted
 * for each upstream and server that is still configured (same name, same
 * URL) goes into the base counters of the new segment's first slot, so
 * that totals go on. What old children count after this is not seen.
 */
static void carry_over(const keeper_t *old, const char *old_segment,
                       char **up_keys, char **sv_keys)
{
    const shm_header_t *oh = (const shm_header_t *)old_segment;
    const char *oslots = old_segment + sizeof(shm_header_t);
    apr_size_t olive = LIVE_SIZE(oh->nups, oh->nservers);
    char *base = slot_base(0);
    int i, k, n;

    slot_header(0)->used = 1;
    for (n = 0; n < (int)oh->nslots; ++n) {
        const char *slot = oslots + n * oh->slot_size + sizeof(slot_header_t);
        int half;

        for (half = 0; half < 2; ++half) {
            const char *set = slot + half * olive;

            for (i = 0; i < nups; ++i) {
                k = find_key(old->up_keys, old->nups, up_keys[i]);
                if (k >= 0) {
                    add_counts((apr_uint64_t *)(base + i
                                   * sizeof(h2gw_up_counters_t)),
                               (const apr_uint64_t *)(set + k
                                   * sizeof(h2gw_up_counters_t)),
                               NWORDS(h2gw_up_counters_t));
                }
            }
            for (i = 0; i < nservers; ++i) {
                k = find_key(old->sv_keys, old->nservers, sv_keys[i]);
                if (k >= 0) {
                    add_counts((apr_uint64_t *)(base
                                   + nups * sizeof(h2gw_up_counters_t)
                                   + i * sizeof(h2gw_counters_t)),
                               (const apr_uint64_t *)(set
                                   + oh->nups * sizeof(h2gw_up_counters_t)
                                   + k * sizeof(h2gw_counters_t)),
                               NWORDS(h2gw_counters_t));
                }
            }
        }
    }
}

apr_status_t h2gw_counters_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    keeper_t *keeper = NULL;
    char **up_keys, **sv_keys;
    const char *sig;
    int limit = 0;
    apr_shm_t *shm;
    shm_header_t *hdr;
    apr_status_t rv;

    segment = NULL;
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS
        || limit < 1) {
        limit = 1;
    }
    nslots = limit * SLOTS_PER_CHILD + SLOTS_EXTRA;
    sig = number_layout(pconf, &up_keys, &sv_keys);
    slot_size = sizeof(slot_header_t) + 2 * LIVE_SIZE(nups, nservers)
                + GAUGES_SIZE(nups, nservers);
    slot_size = APR_ALIGN(slot_size, 64);

    apr_pool_userdata_get((void **)&keeper, KEEPER_KEY, pproc);
    if (keeper && keeper->shm && keeper->sig && !strcmp(keeper->sig, sig)) {
        /* A restart with the same upstreams: children old and new count
         * into the same slots. */
        segment = (char *)apr_shm_baseaddr_get(keeper->shm)
                  + sizeof(shm_header_t);
        return APR_SUCCESS;
    }
    rv = apr_shm_create(&shm, sizeof(shm_header_t) + nslots * slot_size,
                        NULL, pproc);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    hdr = apr_shm_baseaddr_get(shm);
    memset(hdr, 0, sizeof(shm_header_t) + nslots * slot_size);
    hdr->magic = SHM_MAGIC;
    hdr->version = SHM_VERSION;
    hdr->nslots = (apr_uint64_t)nslots;
    hdr->nups = (apr_uint64_t)nups;
    hdr->nservers = (apr_uint64_t)nservers;
    hdr->slot_size = slot_size;
    segment = (char *)hdr + sizeof(shm_header_t);
    if (!keeper) {
        keeper = apr_pcalloc(pproc, sizeof(*keeper));
        /* The key is copied (not _setn): this module's strings go when
         * a restart unloads it; the process pool does not. */
        apr_pool_userdata_set(keeper, KEEPER_KEY, apr_pool_cleanup_null,
                              pproc);
    }
    if (keeper->shm) {
        carry_over(keeper, apr_shm_baseaddr_get(keeper->shm), up_keys,
                   sv_keys);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, H2GW_LOGNO(00004)
                     "upstreams changed: counters of the servers that "
                     "remain carried over to a new shared segment");
        /* Children of the old generation keep their own mapping. */
        apr_shm_destroy(keeper->shm);
    }
    if (keeper->pool) {
        apr_pool_destroy(keeper->pool);
    }
    apr_pool_create(&keeper->pool, pproc);
    keeper->shm = shm;
    keeper->sig = apr_pstrdup(keeper->pool, sig);
    keeper->nups = nups;
    keeper->nservers = nservers;
    keeper->up_keys = copy_keys(keeper->pool, up_keys, nups);
    keeper->sv_keys = copy_keys(keeper->pool, sv_keys, nservers);
    return APR_SUCCESS;
}

/* Is process pid gone? (kill() from one child to another may be refused:
 * then it exists.) */
static int pid_gone(apr_uint32_t pid)
{
    return pid == 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

/* Takes slot i for pid if it is free, or if held by a process that is
 * gone (then want is that pid). */
static int take_slot(int i, apr_uint32_t want, apr_uint32_t pid)
{
    return __atomic_compare_exchange_n(&slot_header(i)->pid, &want, pid, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* The new holder folds the last holder's counts into the slot's base
 * and starts from zero; readers see seq odd meanwhile and wait. */
static void fold_slot(int i)
{
    slot_header_t *h = slot_header(i);
    apr_uint64_t *live = (apr_uint64_t *)slot_live(i);
    apr_uint64_t *base = (apr_uint64_t *)slot_base(i);
    apr_size_t n = LIVE_SIZE(nups, nservers) / sizeof(apr_uint64_t), k;

    /* Odd, even when a holder died folding (the slot is taken over):
     * then the end leaves it even again. */
    apr_uint32_t seq = __atomic_load_n(&h->seq, __ATOMIC_RELAXED) | 1;

    __atomic_store_n(&h->seq, seq, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (k = 0; k < n; ++k) {
        base[k] += live[k];
        live[k] = 0;
    }
    memset(slot_gauges(i), 0, GAUGES_SIZE(nups, nservers));
    h->started = apr_time_now();
    __atomic_store_n(&h->used, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&h->seq, seq + 1, __ATOMIC_RELEASE);
}

static apr_status_t release_slot(void *data)
{
    slot_header_t *h = data;

    memset(mine->g, 0, GAUGES_SIZE(nups, nservers));
    __atomic_store_n(&h->pid, 0, __ATOMIC_RELEASE);
    mine = NULL;
    my_header = NULL;
    return APR_SUCCESS;
}

h2gw_slot_t *h2gw_counters_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_uint32_t pid = (apr_uint32_t)getpid();
    int i, got = -1;

    mine = apr_pcalloc(pchild, sizeof(*mine));
    for (i = 0; segment && got < 0 && i < nslots; ++i) {
        if (take_slot(i, 0, pid)) {
            got = i;
        }
    }
    for (i = 0; segment && got < 0 && i < nslots; ++i) {
        apr_uint32_t held = __atomic_load_n(&slot_header(i)->pid,
                                            __ATOMIC_ACQUIRE);

        if (pid_gone(held) && take_slot(i, held, pid)) {
            got = i;
        }
    }
    if (got < 0) {
        /* Counted all the same, for this child's own status page. */
        char *live = apr_pcalloc(pchild, LIVE_SIZE(nups, nservers));

        point_slot(mine, live, apr_pcalloc(pchild, GAUGES_SIZE(nups,
                                                               nservers)
                                                   + 1));
        if (segment) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, H2GW_LOGNO(00005)
                         "no free counter slot of %d: this process's "
                         "counts do not show in the totals", nslots);
        }
        return mine;
    }
    fold_slot(got);
    my_header = slot_header(got);
    point_slot(mine, slot_live(got), slot_gauges(got));
    apr_pool_cleanup_register(pchild, my_header, release_slot,
                              apr_pool_cleanup_null);
    return mine;
}

h2gw_slot_t *h2gw_counters_mine(void)
{
    return mine;
}

void h2gw_counters_fail(const h2gw_upstream_t *up, h2gw_fail_t fail)
{
    if (mine && up && up->cidx >= 0 && fail > H2GW_FAIL_NONE
        && fail < H2GW_FAIL_NCAUSES) {
        __atomic_fetch_add(&mine->up[up->cidx].failures[fail], 1,
                           __ATOMIC_RELAXED);
    }
}

/* A view of zeros, sized for this layout. */
static void view_init(apr_pool_t *p, h2gw_view_t *v)
{
    memset(v, 0, sizeof(*v));
    v->up = apr_pcalloc(p, (apr_size_t)nups * sizeof(h2gw_up_counters_t)
                           + 1);
    v->sv = apr_pcalloc(p, (apr_size_t)nservers * sizeof(h2gw_counters_t)
                           + 1);
    v->g = apr_pcalloc(p, GAUGES_SIZE(nups, nservers) + 1);
    v->ug = (h2gw_up_gauges_t *)(v->g + nservers);
}

/* Adds a counter set (as a slot holds it) to v. */
static void view_add(h2gw_view_t *v, const char *set)
{
    add_counts((apr_uint64_t *)v->up, (const apr_uint64_t *)set,
               (apr_size_t)nups * NWORDS(h2gw_up_counters_t));
    add_counts((apr_uint64_t *)v->sv,
               (const apr_uint64_t *)(set + (apr_size_t)nups
                                      * sizeof(h2gw_up_counters_t)),
               (apr_size_t)nservers * NWORDS(h2gw_counters_t));
}

static void view_add_gauges(h2gw_view_t *v, const h2gw_gauges_t *g,
                            apr_time_t now)
{
    int i;

    for (i = 0; i < nservers; ++i) {
        v->g[i].streams_active += __atomic_load_n(&g[i].streams_active,
                                                  __ATOMIC_RELAXED);
        v->g[i].conns += __atomic_load_n(&g[i].conns, __ATOMIC_RELAXED);
        if (__atomic_load_n(&g[i].down_until, __ATOMIC_RELAXED) > now) {
            ++v->g[i].down_until;
        }
    }
    for (i = 0; i < nups; ++i) {
        const h2gw_up_gauges_t *ug = (const h2gw_up_gauges_t *)(g + nservers);

        v->ug[i].queued += __atomic_load_n(&ug[i].queued, __ATOMIC_RELAXED);
    }
}

static void view_zero(h2gw_view_t *v)
{
    memset(v->up, 0, (apr_size_t)nups * sizeof(h2gw_up_counters_t));
    memset(v->sv, 0, (apr_size_t)nservers * sizeof(h2gw_counters_t));
}

/* Adds v's counters (not its gauges) to total. */
static void view_sum(h2gw_view_t *total, const h2gw_view_t *v)
{
    add_counts((apr_uint64_t *)total->up, (const apr_uint64_t *)v->up,
               (apr_size_t)nups * NWORDS(h2gw_up_counters_t));
    add_counts((apr_uint64_t *)total->sv, (const apr_uint64_t *)v->sv,
               (apr_size_t)nservers * NWORDS(h2gw_counters_t));
}

/*
 * Reads slot i: both counter sets into total and, when its holder lives,
 * its gauges too, and its own set and gauges into *child. Returns 1 when
 * the holder lives.
 */
static int read_slot(int i, h2gw_view_t *total, h2gw_view_t *child,
                     apr_time_t now)
{
    slot_header_t *h = slot_header(i);
    h2gw_view_t earlier = *total;
    apr_uint32_t seq, pid = 0;
    int tries;

    /* (Scratch space of the caller's: total's arrays are not touched
     * before the snapshot is whole.) */
    earlier.up = child->up + nups;
    earlier.sv = child->sv + nservers;
    for (tries = 0; tries <= READ_TRIES; ++tries) {
        seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
        if ((seq & 1) && tries < READ_TRIES) {
            sched_yield();
            continue;
        }
        pid = __atomic_load_n(&h->pid, __ATOMIC_ACQUIRE);
        view_zero(&earlier);
        view_zero(child);
        view_add(&earlier, slot_base(i));
        view_add(child, slot_live(i));
        child->started = h->started;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == seq) {
            break;
        }
    }
    view_sum(total, &earlier);
    view_sum(total, child);
    child->pid = (long)pid;
    child->slot = i;
    if (pid_gone(pid)) {
        return 0;
    }
    child->children = 1;
    view_add_gauges(child, slot_gauges(i), now);
    view_add_gauges(total, slot_gauges(i), now);
    ++total->children;
    return 1;
}

/* A child's view with room for its own set and, behind it, the slot's
 * earlier one (read_slot()'s scratch). */
static void scratch(apr_pool_t *p, h2gw_view_t *v)
{
    memset(v, 0, sizeof(*v));
    v->up = apr_pcalloc(p, 2 * (apr_size_t)nups * sizeof(h2gw_up_counters_t)
                           + 1);
    v->sv = apr_pcalloc(p, 2 * (apr_size_t)nservers * sizeof(h2gw_counters_t)
                           + 1);
    v->g = apr_pcalloc(p, GAUGES_SIZE(nups, nservers) + 1);
    v->ug = (h2gw_up_gauges_t *)(v->g + nservers);
}

int h2gw_counters_read(apr_pool_t *p, h2gw_view_t *total,
                       apr_array_header_t **children)
{
    apr_time_t now = apr_time_now();
    h2gw_view_t child;
    int i;

    view_init(p, total);
    total->slot = segment ? nslots : 0;
    *children = apr_array_make(p, 4, sizeof(h2gw_view_t));
    scratch(p, &child);
    for (i = 0; segment && i < nslots; ++i) {
        if (!__atomic_load_n(&slot_header(i)->used, __ATOMIC_ACQUIRE)) {
            continue;  /* never counted: zeros */
        }
        if (read_slot(i, total, &child, now)) {
            APR_ARRAY_PUSH(*children, h2gw_view_t) = child;
            scratch(p, &child);
        }
    }
    return segment != NULL;
}

const char *h2gw_counters_seconds(char *buf, apr_uint64_t us)
{
    char *end;

    apr_snprintf(buf, 32, "%" APR_UINT64_T_FMT ".%06u", us / 1000000,
                 (unsigned)(us % 1000000));
    end = buf + strlen(buf);
    while (end[-1] == '0') {
        *--end = '\0';
    }
    if (end[-1] == '.') {
        end[-1] = '\0';
    }
    return buf;
}
