/*
 * h2gw_resolve: the resolver thread. Questions and answers are lists
 * under one mutex; the thread sleeps on a condition variable while there
 * is nothing to ask. See h2gw_resolve.h for the contracts.
 */
#include <arpa/inet.h>

#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "h2gw_resolve.h"

struct h2gw_resolver_t {
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *cond;   /* a question came, or stop */
    apr_thread_t *thread;
    h2gw_resolution_t *asked_head, *asked_tail;  /* under lock */
    h2gw_resolution_t *done_head, *done_tail;    /* under lock */
    int stop;                  /* under lock */
    void (*wake)(void *);
    void *wake_ctx;
};

int h2gw_resolve_is_numeric(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1
           || inet_pton(AF_INET6, host, buf) == 1;
}

static void append(h2gw_resolution_t **head, h2gw_resolution_t **tail,
                   h2gw_resolution_t *q)
{
    q->next = NULL;
    if (*tail) {
        (*tail)->next = q;
    }
    else {
        *head = q;
    }
    *tail = q;
}

/* Looks one name up; the answer's addresses live in its own pool. */
static void lookup(h2gw_resolution_t *q)
{
    apr_sockaddr_t *sa;

    q->rv = apr_sockaddr_info_get(&q->addrs, q->host, APR_UNSPEC, q->port,
                                  0, q->pool);
    if (q->rv != APR_SUCCESS) {
        q->addrs = NULL;
    }
    for (sa = q->addrs; sa; sa = sa->next) {
        ++q->naddrs;
    }
}

static void *APR_THREAD_FUNC run(apr_thread_t *thread, void *data)
{
    h2gw_resolver_t *res = data;

    apr_thread_mutex_lock(res->lock);
    for (;;) {
        h2gw_resolution_t *q;

        while (!res->stop && !res->asked_head) {
            apr_thread_cond_wait(res->cond, res->lock);
        }
        if (res->stop) {
            break;
        }
        q = res->asked_head;
        res->asked_head = q->next;
        if (!res->asked_head) {
            res->asked_tail = NULL;
        }
        apr_thread_mutex_unlock(res->lock);
        lookup(q);   /* may take seconds: nothing is held meanwhile */
        apr_thread_mutex_lock(res->lock);
        append(&res->done_head, &res->done_tail, q);
        apr_thread_mutex_unlock(res->lock);
        res->wake(res->wake_ctx);
        apr_thread_mutex_lock(res->lock);
    }
    apr_thread_mutex_unlock(res->lock);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

apr_status_t h2gw_resolver_start(h2gw_resolver_t **pres, apr_pool_t *p,
                                 void (*wake)(void *), void *wake_ctx)
{
    h2gw_resolver_t *res = apr_pcalloc(p, sizeof(*res));
    apr_threadattr_t *attr;
    apr_status_t rv;

    res->wake = wake;
    res->wake_ctx = wake_ctx;
    if ((rv = apr_thread_mutex_create(&res->lock, APR_THREAD_MUTEX_DEFAULT,
                                      p)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&res->cond, p)) != APR_SUCCESS
        || (rv = apr_threadattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_thread_create(&res->thread, attr, run, res, p))
               != APR_SUCCESS) {
        return rv;
    }
    *pres = res;
    return APR_SUCCESS;
}

apr_status_t h2gw_resolver_ask(h2gw_resolver_t *res, const char *host,
                               apr_port_t port, void *ctx)
{
    apr_pool_t *pool;
    h2gw_resolution_t *q;

    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    apr_pool_tag(pool, "h2gw_resolution");
    q = apr_pcalloc(pool, sizeof(*q));
    q->pool = pool;
    q->host = apr_pstrdup(pool, host);
    q->port = port;
    q->ctx = ctx;
    apr_thread_mutex_lock(res->lock);
    append(&res->asked_head, &res->asked_tail, q);
    apr_thread_cond_signal(res->cond);
    apr_thread_mutex_unlock(res->lock);
    return APR_SUCCESS;
}

h2gw_resolution_t *h2gw_resolver_take(h2gw_resolver_t *res)
{
    h2gw_resolution_t *head;

    apr_thread_mutex_lock(res->lock);
    head = res->done_head;
    res->done_head = res->done_tail = NULL;
    apr_thread_mutex_unlock(res->lock);
    return head;
}

static void free_list(h2gw_resolution_t *q)
{
    while (q) {
        h2gw_resolution_t *next = q->next;

        apr_pool_destroy(q->pool);
        q = next;
    }
}

void h2gw_resolver_stop(h2gw_resolver_t *res)
{
    apr_status_t trv;

    apr_thread_mutex_lock(res->lock);
    res->stop = 1;
    apr_thread_cond_signal(res->cond);
    apr_thread_mutex_unlock(res->lock);
    apr_thread_join(&trv, res->thread);
    free_list(res->asked_head);
    free_list(res->done_head);
    res->asked_head = res->asked_tail = NULL;
    res->done_head = res->done_tail = NULL;
}
