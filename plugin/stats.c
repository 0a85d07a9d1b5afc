/* stats.c - Statistics -> Safe TCP Reassembly, and tshark -z safereasm,tree.
 *
 * The nodes are generated from the core's counter table (counters.h). Each
 * record on the "safereasm" tap carries the global snapshot after its frame
 * and a pointer to the previous snapshot. For a counter the tree adds the
 * difference, so over a whole capture it ends at the last snapshot, and
 * with a filter it shows what the matching frames contributed. A level
 * (a gauge such as pages_in_use, or a peak) cannot be summed: the tree
 * shows its value after the last matching frame.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include <wireshark.h>
#include <epan/stats_tree.h>
#include <epan/tap.h>

#include "counters.h"
#include "prefs.h"
#include "record.h"
#include "safereasm-plugin.h"

/* Where a counter goes in the tree. Counters not listed go to "Other",
 * and closed_<reason> counters go under "closed". */
static const struct {
    const char *counter;
    const char *group; /* NULL: top level */
} placement[] = {
    { "packets_processed", NULL },
    { "bytes_processed", NULL },
    { "bytes_delivered", NULL },
    { "errors", NULL },
    { "active_connections", "Connections" },
    { "total_created", "Connections" },
    { "peak_connections", "Connections" },
    { "connections_flushed", "Connections" },
    { "evictions", "Connections" },
    { "timeouts", "Connections" },
    { "closed", "Connections" },
    { "nil_streams", "Connections" },
    { "after_close", "Connections" },
    { "pages_in_use", "Memory" },
    { "pages_peak", "Memory" },
    { "limit_hits_connection", "Memory" },
    { "limit_hits_total", "Memory" },
    { "no_memory", "Memory" },
    { "out_of_order_segments", "Anomalies" },
    { "retransmissions", "Anomalies" },
    { "overlaps", "Anomalies" },
    { "overlap_conflicts", "Anomalies" },
    { "bytes_skipped", "Anomalies" },
    { "out_of_window", "Anomalies" },
    { "before_start", "Anomalies" },
    { "bytes_dropped", "Anomalies" },
    { "isn_changes", "Anomalies" },
    { "callback_errors", "Anomalies" },
};

static const char *const groups[] = { "Connections", "Memory", "Anomalies", "Other" };

/* detect_divergence: what the plugin counts itself, from the records. */
enum { DIV_RELEASES, DIV_DIRECTIONS, DIV_OVERLAPS, DIV_N };
static const char *const div_label[DIV_N] = {
    "Releases whose content depends on the receiver's TCP stack (divergent_releases)",
    "Directions whose content depends on it (divergent_directions)",
    "Overlapping segments behind them (divergent_overlaps)",
};
#define DIV_GROUP "Overlap policies"

typedef struct srp_tree_state {
    gboolean div;                 /* the divergence rows exist */
    int div_parent;
    gint div_acc[DIV_N];
    gint64 acc[SRP_N_COUNTERS];
    gint shown[SRP_N_COUNTERS];   /* value last set on the node */
    int parent[SRP_N_COUNTERS];
    char *label[SRP_N_COUNTERS];
} srp_tree_state;

/* stats_tree has no user pointer; one state per open tree. */
static GHashTable *tree_states; /* stats_tree* -> srp_tree_state */

static void
tree_state_free(gpointer p)
{
    srp_tree_state *s = p;

    for (int i = 0; i < SRP_N_COUNTERS; i++)
        g_free(s->label[i]);
    g_free(s);
}

/* Levels, not event counts. The core's tables do not say which counters
 * are levels ("pages_in_use is a gauge" is a comment), so this is by name. */
static gboolean
is_level(const char *counter)
{
    return strcmp(counter, "pages_in_use") == 0 ||
           strcmp(counter, "active_connections") == 0 || strstr(counter, "peak") != NULL;
}

static const char *
group_of(const char *counter)
{
    for (size_t i = 0; i < G_N_ELEMENTS(placement); i++)
        if (strcmp(placement[i].counter, counter) == 0)
            return placement[i].group;
    return "Other";
}

static void
st_init(stats_tree *st)
{
    srp_tree_state *s = g_new0(srp_tree_state, 1);
    int group_id[G_N_ELEMENTS(groups)];
    int closed_id = -1;

    if (tree_states == NULL)
        tree_states = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                            tree_state_free);
    /* Groups are made when first used, so "Other" shows only if the core
     * has a counter not placed above. */
    for (size_t g = 0; g < G_N_ELEMENTS(groups); g++)
        group_id[g] = -1;

    /* Two passes so that "closed" exists before its closed_* children. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < SRP_N_COUNTERS; i++) {
            const char *name = srp_counters[i].name;
            gboolean child_of_closed = g_str_has_prefix(name, "closed_");
            const char *group;
            int parent = 0;

            if (child_of_closed != (pass == 1))
                continue;
            s->label[i] = g_strdup_printf("%s (%s)", srp_counters[i].desc, name);
            if (child_of_closed && closed_id >= 0) {
                parent = closed_id;
            } else if ((group = child_of_closed ? "Connections" : group_of(name)) != NULL) {
                for (size_t g = 0; g < G_N_ELEMENTS(groups); g++) {
                    if (strcmp(groups[g], group) != 0)
                        continue;
                    if (group_id[g] < 0)
                        group_id[g] = stats_tree_create_node(st, groups[g], 0,
                                                             STAT_DT_INT, TRUE);
                    parent = group_id[g];
                }
            }
            s->parent[i] = parent;
            {
                int id = stats_tree_create_node(st, s->label[i], parent, STAT_DT_INT,
                                                strcmp(name, "closed") == 0);

                if (strcmp(name, "closed") == 0)
                    closed_id = id;
            }
        }
    }
    if (srp_prefs_detect_divergence()) {
        s->div = TRUE;
        s->div_parent = stats_tree_create_node(st, DIV_GROUP, 0, STAT_DT_INT, TRUE);
        for (int k = 0; k < DIV_N; k++)
            stats_tree_create_node(st, div_label[k], s->div_parent, STAT_DT_INT, FALSE);
    }
    g_hash_table_replace(tree_states, st, s);
}

static void
st_cleanup(stats_tree *st)
{
    if (tree_states != NULL)
        g_hash_table_remove(tree_states, st);
}

static tap_packet_status
st_packet(stats_tree *st, packet_info *pinfo _U_, epan_dissect_t *edt _U_,
          const void *p, tap_flags_t flags _U_)
{
    const srp_record *r = p;
    srp_tree_state *s = tree_states ? g_hash_table_lookup(tree_states, st) : NULL;

    if (r == NULL || s == NULL)
        return TAP_PACKET_DONT_REDRAW;
    if (s->div && r->n_divs > 0) {
        for (guint i = 0; i < r->n_divs; i++) {
            s->div_acc[DIV_RELEASES]++;
            s->div_acc[DIV_DIRECTIONS] += r->divs[i].first_in_dir;
            s->div_acc[DIV_OVERLAPS] += r->divs[i].n_frames;
        }
        for (int k = 0; k < DIV_N; k++)
            stats_tree_manip_node_int(MN_SET, st, div_label[k], s->div_parent, FALSE,
                                      s->div_acc[k]);
    }
    if (!r->has_snapshot)
        return TAP_PACKET_REDRAW;
    for (int i = 0; i < SRP_N_COUNTERS; i++) {
        guint64 before = r->prev ? r->prev->snap.v[i] : 0;
        gint64 v;

        if (is_level(srp_counters[i].name))
            s->acc[i] = (gint64)MIN(r->snap.v[i], (guint64)G_MAXINT64);
        else
            s->acc[i] += (gint64)(r->snap.v[i] - before);
        /* stats_tree counters are gint. Setting a node looks it up by
         * name, so only nodes whose value changed are touched. */
        v = CLAMP(s->acc[i], (gint64)G_MININT, (gint64)G_MAXINT);
        if ((gint)v == s->shown[i])
            continue;
        s->shown[i] = (gint)v;
        stats_tree_manip_node_int(MN_SET, st, s->label[i], s->parent[i], FALSE, (gint)v);
    }
    return TAP_PACKET_REDRAW;
}

void
srp_stats_register(void)
{
    stats_tree_register_plugin(SRP_TAP_NAME, "safereasm", "Safe TCP Reassembly", 0,
                               st_packet, st_init, st_cleanup);
}
