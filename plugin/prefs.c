/* prefs.c - preferences, validated by the core, bad values refused.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include <wireshark.h>
#include <epan/prefs.h>
#include <wsutil/filesystem.h>
#include <wsutil/report_message.h>

#include "prefs.h"
#include "ws-compat.h"

typedef enum srp_pref {
    PREF_MAX_PAGES_TOTAL,
    PREF_MAX_PAGES_PER_CONNECTION,
    PREF_PAGE_SIZE,
    PREF_CONNECTION_TIMEOUT,
    PREF_FLUSH_INTERVAL,
    PREF_CLOSED_LINGER,
    PREF_MAX_WINDOW,
    PREF_CONFLICT_HISTORY,
    PREF_MAX_CONNECTIONS,
    PREF_COUNT
} srp_pref;

/* The names are the sr_options field names, so the core's validation
 * message names the preference too. */
static const struct {
    const char *name;
    const char *title;
    const char *desc;
} pref_table[PREF_COUNT] = {
    [PREF_MAX_PAGES_TOTAL] = { "max_buffered_pages_total",
        "Max buffered pages (all connections)",
        "Hard cap on out-of-order pages buffered for all connections together. "
        "Reaching it flushes the connection that needed the page." },
    [PREF_MAX_PAGES_PER_CONNECTION] = { "max_buffered_pages_per_connection",
        "Max buffered pages per connection",
        "Hard cap on out-of-order pages one connection (both directions) may "
        "hold; at most the total." },
    [PREF_PAGE_SIZE] = { "page_size", "Page size (bytes)",
        "Payload bytes per buffered page (1 to 1048576)." },
    [PREF_CONNECTION_TIMEOUT] = { "connection_timeout",
        "Connection timeout (seconds of capture time)",
        "A connection idle this long is closed (TIMEOUT)." },
    [PREF_FLUSH_INTERVAL] = { "flush_interval",
        "Flush interval (seconds of capture time)",
        "Every interval, idle connections are closed and data buffered this "
        "long is released, the missing bytes before it skipped. At most the timeout." },
    [PREF_CLOSED_LINGER] = { "closed_linger",
        "Closed connection linger (seconds of capture time)",
        "A completed connection is remembered this long, so late segments "
        "are reported as after-close instead of opening a new connection. 0 = forget." },
    [PREF_MAX_WINDOW] = { "max_window", "Max window (bytes)",
        "Segments starting this far or more beyond the delivery edge are "
        "dropped as out of window (1 to 2^31-1)." },
    [PREF_CONFLICT_HISTORY] = { "conflict_history", "Conflict history (bytes)",
        "Recently delivered bytes remembered per direction, so a retransmission "
        "with different content is reported as a conflict (0 to 1048576; 0 = "
        "conflicts only among buffered data)." },
    [PREF_MAX_CONNECTIONS] = { "max_connections", "Max connections",
        "Size of the connection table; at the limit the least recently used "
        "connection is evicted." },
};

static guint pref_value[PREF_COUNT];   /* what Wireshark writes into */
static guint pref_accepted[PREF_COUNT];

/* The overlap policy: an enum preference, so every value Wireshark can
 * store is one the core takes (4.0 silently keeps the old value for a name
 * it does not know). Names are the core's (sr_overlap_policy_name). */
static gint pref_policy = SR_POLICY_FIRST;
static enum_val_t policy_vals[SR_POLICY_COUNT_ + 1];
static srp_pref_bool pref_divergence;
/* Not a core option: bounds the plugin's own copies (driver.h). */
static guint pref_max_retained_kib = 256 * 1024;


static void
to_options(const guint v[PREF_COUNT], sr_options *o, size_t *max_connections)
{
    sr_options_init(o);
    o->max_buffered_pages_total = v[PREF_MAX_PAGES_TOTAL];
    o->max_buffered_pages_per_connection = v[PREF_MAX_PAGES_PER_CONNECTION];
    o->page_size = v[PREF_PAGE_SIZE];
    o->connection_timeout = (sr_time)v[PREF_CONNECTION_TIMEOUT] * SR_USEC_PER_SEC;
    o->flush_interval = (sr_time)v[PREF_FLUSH_INTERVAL] * SR_USEC_PER_SEC;
    o->closed_linger = (sr_time)v[PREF_CLOSED_LINGER] * SR_USEC_PER_SEC;
    o->max_window = v[PREF_MAX_WINDOW];
    o->conflict_history = v[PREF_CONFLICT_HISTORY];
    o->overlap_policy = (sr_overlap_policy)pref_policy;
    /* Dissection must not depend on the wall clock. */
    o->background_flush = false;
    *max_connections = v[PREF_MAX_CONNECTIONS];
}

/* The core's values (sr_options_init gives its defaults). */
static void
from_options(const sr_options *o, size_t max_connections, guint v[PREF_COUNT])
{
    v[PREF_MAX_PAGES_TOTAL] = (guint)MIN(o->max_buffered_pages_total, G_MAXUINT);
    v[PREF_MAX_PAGES_PER_CONNECTION] =
        (guint)MIN(o->max_buffered_pages_per_connection, G_MAXUINT);
    v[PREF_PAGE_SIZE] = (guint)MIN(o->page_size, G_MAXUINT);
    v[PREF_CONNECTION_TIMEOUT] = (guint)(o->connection_timeout / SR_USEC_PER_SEC);
    v[PREF_FLUSH_INTERVAL] = (guint)(o->flush_interval / SR_USEC_PER_SEC);
    v[PREF_CLOSED_LINGER] = (guint)(o->closed_linger / SR_USEC_PER_SEC);
    v[PREF_MAX_WINDOW] = o->max_window;
    v[PREF_CONFLICT_HISTORY] = (guint)MIN(o->conflict_history, G_MAXUINT);
    v[PREF_MAX_CONNECTIONS] = (guint)MIN(max_connections, G_MAXUINT);
}

static gboolean
valid(const guint v[PREF_COUNT], char *msg, size_t msg_len)
{
    sr_options o;
    size_t max_connections;

    to_options(v, &o, &max_connections);
    if (max_connections < 1) {
        g_snprintf(msg, (gulong)msg_len, "max_connections must be at least 1");
        return FALSE;
    }
    msg[0] = '\0';
    if (sr_options_validate(&o, msg, msg_len) != SR_OK) {
        if (msg[0] == '\0')
            g_snprintf(msg, (gulong)msg_len, "invalid options");
        return FALSE;
    }
    return TRUE;
}

/* Does the personal preferences file have the line "safereasm.NAME: VALUE"? */
static gboolean
prefs_file_has(const char *name, guint value)
{
    char *path = get_persconffile_path("preferences", TRUE);
    char *text = NULL, *want;
    gboolean found = FALSE;

    if (path != NULL && g_file_get_contents(path, &text, NULL, NULL)) {
        char **lines = g_strsplit(text, "\n", -1);

        want = g_strdup_printf("safereasm.%s: %u", name, value);
        for (char **l = lines; *l != NULL && !found; l++)
            found = strcmp(g_strstrip(*l), want) == 0;
        g_free(want);
        g_strfreev(lines);
    }
    g_free(text);
    g_free(path);
    return found;
}

/* Wireshark's Preferences dialog writes the preferences file *before* it
 * runs the apply callbacks (prefs_main_write(), then prefs_apply_all()), so
 * a value refused here is already in the file, and every later start would
 * warn again. Only the GUI writes preferences: there, write the file again
 * with the value in force. tshark and sharkd never write it (a refused -o
 * value or a bad line in the file is refused on every run instead). */
static void
rewrite_refused(const gboolean refused[PREF_COUNT], const guint bad[PREF_COUNT])
{
    gboolean in_file = FALSE;

    if (g_ascii_strncasecmp(g_get_prgname() ? g_get_prgname() : "", "wireshark", 9) != 0)
        return;
    for (int i = 0; i < PREF_COUNT; i++)
        in_file = in_file || (refused[i] && prefs_file_has(pref_table[i].name, bad[i]));
    if (in_file) {
        char *path = NULL;

        /* (NULL would write to stdout) */
        if (write_prefs(&path) != 0)
            report_warning("safereasm: could not write the preferences file %s again",
                           path ? path : "");
        g_free(path);
    }
}

/* Accept every changed value the core takes. All changes are tried
 * together first (per_connection and total may only be valid together),
 * then one by one until nothing more is accepted; the rest are refused. */
static void
apply_prefs(void)
{
    guint cand[PREF_COUNT], bad[PREF_COUNT];
    gboolean pending[PREF_COUNT];
    gboolean any = FALSE, progress;
    char msg[256];

    memcpy(cand, pref_accepted, sizeof cand);
    for (int i = 0; i < PREF_COUNT; i++) {
        pending[i] = pref_value[i] != pref_accepted[i];
        any = any || pending[i];
        if (pending[i])
            cand[i] = pref_value[i];
    }
    if (!any)
        return;
    if (valid(cand, msg, sizeof msg)) {
        memcpy(pref_accepted, cand, sizeof cand);
        return;
    }

    memcpy(cand, pref_accepted, sizeof cand);
    do {
        progress = FALSE;
        for (int i = 0; i < PREF_COUNT; i++) {
            guint keep;

            if (!pending[i])
                continue;
            keep = cand[i];
            cand[i] = pref_value[i];
            if (valid(cand, msg, sizeof msg)) {
                pending[i] = FALSE;
                progress = TRUE;
            } else {
                cand[i] = keep;
            }
        }
    } while (progress);

    for (int i = 0; i < PREF_COUNT; i++) {
        guint trial[PREF_COUNT];

        bad[i] = pref_value[i];
        if (!pending[i])
            continue;
        memcpy(trial, cand, sizeof trial);
        trial[i] = pref_value[i];
        (void)valid(trial, msg, sizeof msg);
        report_warning("safereasm.%s: value %u refused (%s); keeping %u",
                       pref_table[i].name, pref_value[i], msg, cand[i]);
        /* The variable Wireshark writes to the preferences file keeps the
         * value in force. */
        pref_value[i] = cand[i];
    }
    memcpy(pref_accepted, cand, sizeof cand);
    rewrite_refused(pending, bad);
}

void
srp_prefs_register(int proto)
{
    module_t *m = prefs_register_protocol(proto, apply_prefs);
    sr_options o;

    /* The defaults are the core's own, but for the total page budget. */
    sr_options_init(&o);
    o.max_buffered_pages_total = MIN(o.max_buffered_pages_total, SRP_DEFAULT_MAX_PAGES_TOTAL);
    from_options(&o, SR_DEFAULT_MAX_CONNECTIONS, pref_accepted);
    memcpy(pref_value, pref_accepted, sizeof pref_value);
    for (int i = 0; i < PREF_COUNT; i++) {
        prefs_register_uint_preference(m, pref_table[i].name, pref_table[i].title,
                                       pref_table[i].desc, 10, &pref_value[i]);
    }
    pref_policy = o.overlap_policy;
    for (int p = 0; p < SR_POLICY_COUNT_; p++) {
        policy_vals[p].name = sr_overlap_policy_name((sr_overlap_policy)p);
        /* The description is what the preferences file stores. */
        policy_vals[p].description = policy_vals[p].name;
        policy_vals[p].value = p;
    }
    prefs_register_enum_preference(m, "overlap_policy", "Overlap policy",
        "Which copy of a retransmitted byte the chunks show when copies overlap "
        "buffered data with different content, as the receiver's TCP stack "
        "would decide: first (the buffered copy stays; Windows Vista), bsd (a copy "
        "starting before it wins; BSD, Windows, macOS, HP-UX 10, IRIX), linux (... "
        "or starting at the same place and ending beyond), old_linux (... or "
        "starting at the same place and ending at or beyond), solaris (a copy "
        "ending beyond wins; Solaris, HP-UX 11), last (the newest copy wins). "
        "Bytes already delivered never change.",
        &pref_policy, policy_vals, FALSE);
    prefs_register_bool_preference(m, "detect_divergence",
        "Detect overlap policy divergence",
        "Also reassemble under the five other overlap policies and mark where "
        "the stream content depends on the receiver's TCP stack "
        "(safereasm.divergence); costs one more core per policy", &pref_divergence);
    prefs_register_uint_preference(m, "max_retained_kib",
        "Max released bytes kept (KiB, all frames)",
        "Bytes the core releases from its out-of-order pages are copied into the "
        "frame's record so the tree can show them on every pass; this bounds all "
        "such copies together (each costs its size in memory for as long as the "
        "file is open). Beyond it a chunk shows its offset and length but not its "
        "bytes (safereasm.chunk.data_dropped) and an expert info says so once. "
        "In-order bytes are read from their own frame and cost nothing. "
        "Default 262144 (256 MiB); 0 keeps none.", 10, &pref_max_retained_kib);
}

guint64
srp_prefs_max_retained(void)
{
    return (guint64)pref_max_retained_kib * 1024u;
}

gboolean
srp_prefs_detect_divergence(void)
{
    return pref_divergence;
}

void
srp_prefs_get(sr_options *options, size_t *max_connections)
{
    /* Not every path that sets a preference runs the apply callback
     * (sharkd's setconf does not), so check again here. */
    apply_prefs();
    to_options(pref_accepted, options, max_connections);
}
