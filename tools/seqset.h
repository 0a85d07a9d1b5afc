/* seqset.h - the set of 32-bit TCP sequence numbers a direction's segments
 * covered, for safereasm-pcap --verify: a sorted list of disjoint,
 * non-adjacent intervals. Independent of the core on purpose (it shares no
 * offset logic with it), so it can check the core's byte accounting.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 *
 * Not locked: one thread at a time per set.
 */
#ifndef SP_SEQSET_H
#define SP_SEQSET_H

#include <glib.h>
#include <stdint.h>

typedef struct sp_seqset {
    GArray *iv; /* sp_seqiv, sorted by lo, disjoint, non-adjacent; NULL = empty */
} sp_seqset;

typedef struct sp_seqiv {
    uint64_t lo, hi; /* [lo, hi) within [0, 2^32] */
} sp_seqiv;

/* Add the len sequence numbers from seq on, modulo 2^32 (a range that
 * crosses 2^32 is split in two). len >= 2^32 covers everything. */
void sp_seqset_add(sp_seqset *s, uint32_t seq, uint64_t len);
/* Distinct sequence numbers in the set (at most 2^32). */
uint64_t sp_seqset_count(const sp_seqset *s);
/* Release the intervals; the set is empty again. */
void sp_seqset_clear(sp_seqset *s);

#endif
