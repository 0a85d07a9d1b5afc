/* counters.c - the generated counter table and taking a snapshot of it.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "counters.h"

const srp_counter_info srp_counters[SRP_N_COUNTERS] = {
#define SRP__POOL(name, desc) [SRP_CTR_##name] = { #name, desc, TRUE },
#define SRP__ASM(name, desc) [SRP_CTR_##name] = { #name, desc, FALSE },
    SR_POOL_STATS_MAP(SRP__POOL)
    SR_ASSEMBLER_STATS_MAP(SRP__ASM)
#undef SRP__POOL
#undef SRP__ASM
};

sr_error
srp_snapshot_take(const sr_pool *pool, const sr_assembler *a, srp_snapshot *out)
{
    sr_pool_stats ps;
    sr_assembler_stats as;
    sr_error err;

    memset(out, 0, sizeof *out);
    memset(&ps, 0, sizeof ps);
    memset(&as, 0, sizeof as);
    if (pool != NULL && (err = sr_pool_get_stats(pool, &ps)) != SR_OK)
        return err;
    if (a != NULL && (err = sr_assembler_get_stats(a, &as)) != SR_OK)
        return err;

#define SRP__POOL(name, desc) out->v[SRP_CTR_##name] = ps.name;
#define SRP__ASM(name, desc) out->v[SRP_CTR_##name] = as.name;
    SR_POOL_STATS_MAP(SRP__POOL)
    SR_ASSEMBLER_STATS_MAP(SRP__ASM)
#undef SRP__POOL
#undef SRP__ASM
    return SR_OK;
}
