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

/* Every counter of the pool and the assembler at one moment. */
typedef struct srp_snapshot {
    guint64 v[SRP_N_COUNTERS];
} srp_snapshot;

/* Fill *out from the core; on an error *out is left all zero and the
 * error returned. Either handle may be NULL (its counters stay 0). */
sr_error srp_snapshot_take(const sr_pool *pool, const sr_assembler *a,
                           srp_snapshot *out);

#endif /* SRP_COUNTERS_H */
