/* counters.h - the core's pool and assembler statistics as one flat table.
 *
 * Generated from SR_POOL_STATS_MAP and SR_ASSEMBLER_STATS_MAP, so a counter
 * added to the core shows up as a field and in the statistics tree without
 * touching the plugin.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SRP_COUNTERS_H
#define SRP_COUNTERS_H

#include <glib.h>

#include "safereasm.h"

typedef enum srp_counter {
#define SRP__XX(name, desc) SRP_CTR_##name,
    SR_POOL_STATS_MAP(SRP__XX)
    SR_ASSEMBLER_STATS_MAP(SRP__XX)
#undef SRP__XX
    SRP_N_COUNTERS
} srp_counter;

typedef struct srp_counter_info {
    const char *name;   /* field name part: safereasm.global.<name> */
    const char *desc;   /* the core's description */
    gboolean from_pool; /* sr_pool_stats, else sr_assembler_stats */
} srp_counter_info;

extern const srp_counter_info srp_counters[SRP_N_COUNTERS];

/* The plugin's own level kept with the core's counters (so it costs
 * nothing on a frame where it does not change): released bytes copied
 * into records so far. Not a core counter: no safereasm.global.<name>. */
#define SRP_SNAP_RETAINED SRP_N_COUNTERS
#define SRP_N_SNAP (SRP_N_COUNTERS + 1)

/* Every counter of the pool and the assembler at one moment, plus the
 * plugin's slot. */
typedef struct srp_snapshot {
    guint64 v[SRP_N_SNAP];
} srp_snapshot;

/* Delta encoding of a snapshot against the one before it, so a frame
 * where little changes stores a few bytes:
 *
 *   flags (1 byte: bit 0 = key)
 *   varint mask of the slots that changed
 *   zigzag varint of (cur - prev) for each slot in the mask, in slot order
 *   key only: varint of every slot's absolute value (SRP_N_SNAP of them)
 *
 * A key snapshot every SRP_SNAP_KEY_EVERY bounds the walk back that
 * rebuilds absolute values (srp_record_snapshot). */
#define SRP_SNAP_KEY_EVERY 32
#define SRP_SNAP_ENC_MAX (1 + 10 + 2 * 10 * SRP_N_SNAP)

/* Encode cur against prev (NULL: all zero) into out (SRP_SNAP_ENC_MAX
 * bytes); returns the length used. */
gsize srp_snap_encode(const srp_snapshot *cur, const srp_snapshot *prev, gboolean key,
                      guint8 *out);

/* The change of every slot (mod 2^64) an encoding holds. */
void srp_snap_delta(const guint8 *enc, srp_snapshot *delta);

/* The absolute values of a key encoding; FALSE if enc is not a key. */
gboolean srp_snap_absolute(const guint8 *enc, srp_snapshot *abs);

/* Fill *out from the core; on an error *out is left all zero and the
 * error returned. Either handle may be NULL (its counters stay 0). */
sr_error srp_snapshot_take(const sr_pool *pool, const sr_assembler *a,
                           srp_snapshot *out);

#endif /* SRP_COUNTERS_H */
