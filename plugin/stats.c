/* stats.c - Statistics -> Safe TCP Reassembly, and tshark -z safereasm,tree.
 *
 * The nodes are generated from the core's counter table (counters.h). Each
 * record on the "safereasm" tap carries what changed in the global counters
 * at its frame (delta-encoded, record.h). For a counter the tree adds the
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
#include <epan/stats_tree_priv.h>
#include <epan/tap.h>

#include "counters.h"
#include "prefs.h"
#include "record.h"
#include "safereasm-plugin.h"

/* Where a counter goes in the tree, in this order (the README lists it
 * the same way). A row is a counter; its children are counted among it
 * (segments that were out of order among all segments, bytes delivered
 * among payload bytes), so every row shows a real total and the percent
 * column means something. closed_<reason> counters go under "closed";
 * counters not listed go to the top level, after these. label NULL: the
 * core's description. */
static const struct {
    const char *counter;
    const char *parent;   /* NULL: top level */
    const char *label;
} placement[] = {
    { "packets_processed", NULL, "Segments" },
    { "out_of_order_segments", "packets_processed", NULL },
    { "retransmissions", "packets_processed", NULL },
    { "overlaps", "packets_processed", NULL },
    { "overlap_conflicts", "packets_processed", NULL },
    { "out_of_window", "packets_processed", NULL },
    { "before_start", "packets_processed", NULL },
    { "isn_changes", "packets_processed", NULL },
    { "after_close", "packets_processed",
      "Late segments for completed connections, e.g. the last ACK of a clean close" },
    { "bytes_processed", NULL, "Payload bytes" },
    { "bytes_delivered", "bytes_processed", NULL },
    { "bytes_dropped", "bytes_processed", NULL },
    { "bytes_skipped", NULL, "Bytes missing from the capture, skipped" },
    { "total_created", NULL, NULL },
    { "active_connections", "total_created", NULL },
    { "peak_connections", "total_created", NULL },
    { "closed", "total_created", NULL },
    { "connections_flushed", NULL, NULL },
    { "evictions", "total_created", NULL },
    { "timeouts", "total_created", NULL },
    { "nil_streams", "total_created", NULL },
    { "pages_peak", NULL, NULL },
    { "pages_in_use", "pages_peak", NULL },
    { "limit_hits_connection", "pages_peak", NULL },
    { "limit_hits_total", "pages_peak", NULL },
    { "errors", NULL, "Calls that failed (late segments aside)" },
    { "no_memory", "errors", NULL },
    { "callback_errors", "errors", NULL },
};

/* detect_divergence: what the plugin counts itself, from the records. */
enum { DIV_RELEASES, DIV_DIRECTIONS, DIV_OVERLAPS, DIV_N };
static const char *const div_label[DIV_N] = {
    "Releases whose content depends on the receiver's TCP stack (divergent_releases)",
    "Directions whose content depends on it (divergent_directions)",
    "Contested segments they name (divergent_segments)",
};

typedef struct srp_tree_state {
    gboolean div;                 /* the divergence rows exist */
    int div_parent;
    gint div_acc[DIV_N];
    int node[SRP_N_COUNTERS];     /* stats_tree node ids */
    stat_node *nodep[SRP_N_COUNTERS]; /* the nodes themselves (node_of), or NULL */
    gint64 acc[SRP_N_COUNTERS];
    srp_snap_cache snap_cache;    /* records come in order: one decode each */
    gint shown[SRP_N_COUNTERS];   /* value last set on the node */
    int parent[SRP_N_COUNTERS];
    char *label[SRP_N_COUNTERS];
    gboolean level[SRP_N_COUNTERS]; /* is_level(), once: not per packet */
    guint64 level_mask;           /* bit i: level[i] */
} srp_tree_state;

/* stats_tree has no user pointer; one state per open tree. */
static GHashTable *tree_states; /* stats_tree* -> srp_tree_state */
/* The last one looked up (nearly always the only one); reset whenever
 * tree_states changes. */
static const stats_tree *last_st;
static srp_tree_state *last_state;

G_STATIC_ASSERT(SRP_N_COUNTERS <= 64); /* st_packet's mask */

static srp_tree_state *
state_of(const stats_tree *st)
{
    if (st != last_st || last_state == NULL) {
        last_state = tree_states ? g_hash_table_lookup(tree_states, st) : NULL;
        last_st = st;
    }
    return last_state;
}

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

static int
placement_of(const char *counter)
{
    for (size_t i = 0; i < G_N_ELEMENTS(placement); i++)
        if (strcmp(placement[i].counter, counter) == 0)
            return (int)i;
    return -1;
}

static int
counter_index(const char *counter)
{
    for (int i = 0; i < SRP_N_COUNTERS; i++)
        if (strcmp(srp_counters[i].name, counter) == 0)
            return i;
    return -1;
}

/* The node stats_tree_create_node() made with children allowed: such a
 * node is in st->parents at its id (stats_tree_priv.h, the header Wireshark
 * installs for its GUIs; the same on 4.0, 4.4 and 4.6). Setting its counter
 * directly is what stats_tree_manip_node_int(MN_SET) does after finding the
 * node by name, a string hash of the long label per call (about 400
 * instructions, docs/plugin.md "Time"). Checked by id and name; NULL if
 * they do not match, and the node is then set by name. */
static stat_node *
node_of(stats_tree *st, int id, const char *name)
{
    stat_node *n;

    if (st == NULL || st->parents == NULL || id <= 0 || (guint)id >= st->parents->len ||
        name == NULL)
        return NULL;
    n = (stat_node *)g_ptr_array_index(st->parents, (guint)id);
    if (n == NULL || n->id != id || n->name == NULL || strcmp(n->name, name) != 0)
        return NULL;
    return n;
}

static void
make_node(stats_tree *st, srp_tree_state *s, int i, int parent_counter)
{
    int pl = placement_of(srp_counters[i].name);
    const char *label = pl >= 0 && placement[pl].label ? placement[pl].label
                                                         : srp_counters[i].desc;

    if (s->node[i] != 0 || s->label[i] != NULL)
        return;
    s->label[i] = g_strdup_printf("%s (%s)", label, srp_counters[i].name);
    s->parent[i] = parent_counter >= 0 ? s->node[parent_counter] : 0;
    s->node[i] = stats_tree_create_node(st, s->label[i], s->parent[i], STAT_DT_INT, TRUE);
    s->nodep[i] = node_of(st, s->node[i], s->label[i]);
}

static void
st_init(stats_tree *st)
{
    srp_tree_state *s = g_new0(srp_tree_state, 1);
    int closed = counter_index("closed");

    if (tree_states == NULL)
        tree_states = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                            tree_state_free);
    /* In the table's order; a parent always comes before its children. */
    for (size_t k = 0; k < G_N_ELEMENTS(placement); k++) {
        int i = counter_index(placement[k].counter);

        if (i < 0)
            continue;
        make_node(st, s, i, placement[k].parent ? counter_index(placement[k].parent) : -1);
        if (i == closed)
            for (int j = 0; j < SRP_N_COUNTERS; j++)
                if (g_str_has_prefix(srp_counters[j].name, "closed_"))
                    make_node(st, s, j, closed);
    }
    /* A counter the core adds later: at the top level. */
    for (int i = 0; i < SRP_N_COUNTERS; i++)
        make_node(st, s, i, -1);
    for (int i = 0; i < SRP_N_COUNTERS; i++)
        if ((s->level[i] = is_level(srp_counters[i].name)))
            s->level_mask |= G_GUINT64_CONSTANT(1) << i;
    if (srp_prefs_detect_divergence()) {
        s->div = TRUE;
        s->div_parent = stats_tree_create_node(st, div_label[DIV_RELEASES], 0, STAT_DT_INT,
                                               TRUE);
        for (int k = 1; k < DIV_N; k++)
            stats_tree_create_node(st, div_label[k], s->div_parent, STAT_DT_INT, FALSE);
    }
    g_hash_table_replace(tree_states, st, s);
    last_st = NULL;
    last_state = NULL;
}

static void
st_cleanup(stats_tree *st)
{
    if (tree_states != NULL)
        g_hash_table_remove(tree_states, st);
    last_st = NULL;
    last_state = NULL;
}

static tap_packet_status
st_packet(stats_tree *st, packet_info *pinfo _U_, epan_dissect_t *edt _U_,
          const void *p, tap_flags_t flags _U_)
{
    const srp_record *r = p;
    srp_snapshot abs_buf, delta_buf;
    const srp_snapshot *abs, *delta;
    guint64 todo;
    srp_tree_state *s = state_of(st);

    if (r == NULL || s == NULL)
        return TAP_PACKET_DONT_REDRAW;
    if (s->div && r->n_divs > 0) {
        for (guint i = 0; i < r->n_divs; i++) {
            s->div_acc[DIV_RELEASES]++;
            s->div_acc[DIV_DIRECTIONS] += r->divs[i].first_in_dir;
            s->div_acc[DIV_OVERLAPS] += r->divs[i].n_frames;
        }
        for (int k = 0; k < DIV_N; k++)
            stats_tree_manip_node_int(MN_SET, st, div_label[k], k ? s->div_parent : 0, FALSE,
                                      s->div_acc[k]);
    }
    if (!r->has_snapshot)
        return TAP_PACKET_REDRAW;
    delta = srp_record_delta(r, &delta_buf);
    abs = srp_record_abs(r, &s->snap_cache, &abs_buf);
    /* Only a counter that changed at this frame, or a level (which a
     * filtered tree takes from the frame's absolute value even when it did
     * not change here), can change a node. */
    todo = s->level_mask;
    for (int i = 0; i < SRP_N_COUNTERS; i++)
        if (delta->v[i] != 0)
            todo |= G_GUINT64_CONSTANT(1) << i;
    for (; todo != 0; todo &= todo - 1) {
        int i = __builtin_ctzll(todo);
        gint64 v;

        if (s->level[i])
            s->acc[i] = (gint64)MIN(abs->v[i], (guint64)G_MAXINT64);
        else
            s->acc[i] += (gint64)delta->v[i];
        if (i == SRP_CTR_errors) {
            /* The core counts a late segment for a completed connection
             * (the last ACK of every clean close) as an error call; it has
             * its own row (after_close), so "errors" shows real failures. */
            guint64 late = delta->v[SRP_CTR_after_close];

            s->acc[i] -= (gint64)MIN(late, delta->v[i]);
        }
        /* stats_tree counters are gint. Setting a node by name looks it
         * up, so only nodes whose value changed are touched. */
        v = CLAMP(s->acc[i], (gint64)G_MININT, (gint64)G_MAXINT);
        if ((gint)v == s->shown[i])
            continue;
        s->shown[i] = (gint)v;
        if (s->nodep[i] != NULL)
            s->nodep[i]->counter = (gint)v;
        else
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
