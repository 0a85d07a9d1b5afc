/* error.c - error messages, error names and close-reason names, all
 * generated from the tables in safereasm.h. */
#include "sr-internal.h"

const char *sr_strerror(sr_error err)
{
    switch (err) {
#define SR__XX(name, msg) case SR_##name: return msg;
        SR_ERROR_MAP(SR__XX)
#undef SR__XX
    default:
        return "unknown error";
    }
}

const char *sr_err_name(sr_error err)
{
    switch (err) {
#define SR__XX(name, msg) case SR_##name: return "SR_" #name;
        SR_ERROR_MAP(SR__XX)
#undef SR__XX
    default:
        return "SR_ERR_UNKNOWN";
    }
}

const char *sr_close_reason_name(sr_close_reason r)
{
    static const char *const names[SR_CLOSE_REASON_COUNT_] = {
        [SR_CLOSE_FIN] = "FIN",
        [SR_CLOSE_RST] = "RST",
        [SR_CLOSE_TIMEOUT] = "TIMEOUT",
        [SR_CLOSE_EVICTED] = "EVICTED",
        [SR_CLOSE_FLUSHED] = "FLUSHED",
        [SR_CLOSE_CALLBACK_ERROR] = "CALLBACK_ERROR",
        [SR_CLOSE_POOL_CLOSED] = "POOL_CLOSED",
    };
    /* The enum may carry any int; never index with an unchecked value. */
    if ((unsigned)r >= SR_CLOSE_REASON_COUNT_)
        return "UNKNOWN";
    return names[r];
}
