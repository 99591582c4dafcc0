/*
 * mod_h2gw: the module record and hook registration, nothing else.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_log.h>
#include <mpm_common.h>

#include "mod_h2gw.h"
#include "h2gw_config.h"
#include "h2gw_counters.h"
#include "h2gw_metrics.h"
#include "h2gw_engine.h"
#include "h2gw_handler.h"
#include "h2gw_status.h"
#include "h2gw_stream.h"
#include "h2gw_wait.h"

/* AP_DECLARE_MODULE below also declares APLOG_USE_MODULE(h2gw). */

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv = h2gw_stream_child_init(pchild);

    /* Before the engine, which counts into the slot; its release is
     * registered first, so it runs after the engine stopped. */
    h2gw_counters_child_init(pchild, s);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, H2GW_LOGNO(00002)
                     "no shared allocator for streams: each gets its own");
    }
    rv = h2gw_engine_start(pchild, s);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, H2GW_LOGNO(00001)
                     "cannot start the engine thread: requests to HTTP/2 "
                     "upstreams will fail with 503 in this process");
    }
}

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                      apr_pool_t *ptemp)
{
    h2gw_config_pre(pconf);
    return OK;
}

static int check_config(apr_pool_t *pconf, apr_pool_t *plog,
                        apr_pool_t *ptemp, server_rec *s)
{
    return h2gw_config_check(pconf, s);
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s)
{
    apr_status_t rv = h2gw_counters_post_config(pconf, s);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, H2GW_LOGNO(00003)
                     "no shared memory for the counters: the status page "
                     "and the metrics show the answering process only");
    }
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(h2gw_wait_child_stopping, NULL, NULL,
                           APR_HOOK_MIDDLE);
    /* Before mod_alias and mod_rewrite, like mod_proxy's ProxyPass. */
    ap_hook_translate_name(h2gw_handler_translate, NULL, NULL,
                           APR_HOOK_FIRST);
    ap_hook_map_to_storage(h2gw_handler_map_to_storage, NULL, NULL,
                           APR_HOOK_FIRST);
    ap_hook_handler(h2gw_handler_run, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(h2gw_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(h2gw_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    h2gw_status_register_hooks(p);
}

AP_DECLARE_MODULE(h2gw) = {
    STANDARD20_MODULE_STUFF,
    h2gw_config_create_dir,
    h2gw_config_merge_dir,
    h2gw_config_create_srv,
    h2gw_config_merge_srv,
    h2gw_config_cmds,
    register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
