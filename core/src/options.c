/* options.c - option defaults and validation. Validation happens once, in
 * sr_assembler_new(), which then keeps its own copy. */
#include "sr-internal.h"

#include <inttypes.h>
#include <stdio.h>

void sr_options_init(sr_options *o)
{
    if (!o)
        return;
    *o = (sr_options){
        .max_buffered_pages_total = SR_DEFAULT_MAX_PAGES_TOTAL,
        .max_buffered_pages_per_connection = SR_DEFAULT_MAX_PAGES_PER_CONNECTION,
        .page_size = SR_DEFAULT_PAGE_SIZE,
        .connection_timeout = SR_DEFAULT_CONNECTION_TIMEOUT,
        .flush_interval = SR_DEFAULT_FLUSH_INTERVAL,
        .closed_linger = SR_DEFAULT_CLOSED_LINGER,
        .max_window = SR_DEFAULT_MAX_WINDOW,
        .background_flush = false,
        .conflict_history = SR_DEFAULT_CONFLICT_HISTORY,
        .overlap_policy = SR_POLICY_FIRST,
    };
}

G_GNUC_PRINTF(3, 4)
static sr_error invalid(char *msg, size_t msg_len, const char *fmt, ...)
{
    if (msg && msg_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msg_len, fmt, ap);
        va_end(ap);
    }
    return SR_ERR_INVALID_OPTIONS;
}

sr_error sr_options_validate(const sr_options *o, char *msg, size_t msg_len)
{
    if (msg && msg_len > 0)
        msg[0] = '\0';
    if (!o) {
        if (msg && msg_len > 0)
            snprintf(msg, msg_len, "options: NULL pointer");
        return SR_ERR_INVALID_ARGUMENT;
    }
    if (o->max_buffered_pages_total == 0)
        return invalid(msg, msg_len, "max_buffered_pages_total must be at least 1 (got 0)");
    if (o->max_buffered_pages_per_connection == 0)
        return invalid(msg, msg_len,
                       "max_buffered_pages_per_connection must be at least 1 (got 0)");
    if (o->max_buffered_pages_per_connection > o->max_buffered_pages_total)
        return invalid(msg, msg_len,
                       "max_buffered_pages_per_connection (%zu) must not exceed "
                       "max_buffered_pages_total (%zu)",
                       o->max_buffered_pages_per_connection, o->max_buffered_pages_total);
    /* A connection counts its pages in 32 bits (its hot part is small). */
    if (o->max_buffered_pages_per_connection > UINT32_MAX)
        return invalid(msg, msg_len,
                       "max_buffered_pages_per_connection must be at most 4294967295 (got %zu)",
                       o->max_buffered_pages_per_connection);
    if (o->page_size == 0 || o->page_size > SR_MAX_PAGE_SIZE)
        return invalid(msg, msg_len, "page_size must be 1..%u bytes (got %zu)",
                       SR_MAX_PAGE_SIZE, o->page_size);
    /* The byte total must be representable, with room for page headers. */
    if (o->max_buffered_pages_total > (SIZE_MAX / 2) / (o->page_size + sizeof(sr__page)))
        return invalid(msg, msg_len,
                       "max_buffered_pages_total (%zu) * page_size (%zu) overflows",
                       o->max_buffered_pages_total, o->page_size);
    if (o->connection_timeout <= 0)
        return invalid(msg, msg_len, "connection_timeout must be positive (got %" PRId64 " us)",
                       (int64_t)o->connection_timeout);
    if (o->flush_interval <= 0)
        return invalid(msg, msg_len, "flush_interval must be positive (got %" PRId64 " us)",
                       (int64_t)o->flush_interval);
    if (o->flush_interval > o->connection_timeout)
        return invalid(msg, msg_len,
                       "flush_interval (%" PRId64 " us) must not exceed connection_timeout (%" PRId64
                       " us)",
                       (int64_t)o->flush_interval, (int64_t)o->connection_timeout);
    if (o->closed_linger < 0)
        return invalid(msg, msg_len, "closed_linger must not be negative (got %" PRId64 " us)",
                       (int64_t)o->closed_linger);
    if (o->max_window == 0 || o->max_window > INT32_MAX)
        return invalid(msg, msg_len, "max_window must be 1..%d bytes (got %" PRIu32 ")",
                       INT32_MAX, o->max_window);
    if (o->conflict_history > SR_MAX_CONFLICT_HISTORY)
        return invalid(msg, msg_len, "conflict_history must be 0..%u bytes (got %zu)",
                       SR_MAX_CONFLICT_HISTORY, o->conflict_history);
    if ((unsigned)o->overlap_policy >= SR_POLICY_COUNT_)
        return invalid(msg, msg_len,
                       "overlap_policy must be 0..%d (first, bsd, linux, old_linux, solaris, "
                       "last) (got %d)",
                       SR_POLICY_COUNT_ - 1, (int)o->overlap_policy);
    return SR_OK;
}

const char *sr_overlap_policy_name(sr_overlap_policy p)
{
    switch (p) {
#define SR__XX(name, str) case SR_POLICY_##name: return str;
    SR_OVERLAP_POLICY_MAP(SR__XX)
#undef SR__XX
    default: return "?";
    }
}

bool sr_overlap_policy_from_name(const char *name, sr_overlap_policy *out)
{
    static const struct {
        const char *alias;
        sr_overlap_policy p;
    } aliases[] = {
        {"vista", SR_POLICY_FIRST},  {"windows", SR_POLICY_BSD}, {"win2003", SR_POLICY_BSD},
        {"macos", SR_POLICY_BSD},    {"hpux10", SR_POLICY_BSD},  {"irix", SR_POLICY_BSD},
        {"hpux11", SR_POLICY_SOLARIS},
    };
    if (!name || !out)
        return false;
    for (int p = 0; p < SR_POLICY_COUNT_; p++)
        if (g_ascii_strcasecmp(name, sr_overlap_policy_name((sr_overlap_policy)p)) == 0) {
            *out = (sr_overlap_policy)p;
            return true;
        }
    for (size_t i = 0; i < G_N_ELEMENTS(aliases); i++)
        if (g_ascii_strcasecmp(name, aliases[i].alias) == 0) {
            *out = aliases[i].p;
            return true;
        }
    return false;
}
