/* seqset.c - union of 32-bit sequence ranges (see seqset.h).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include "seqset.h"

#define SEQ_SPACE ((uint64_t)1 << 32)

/* Insert [lo, hi) (0 <= lo < hi <= 2^32), merging every interval it
 * overlaps or touches:
 *
 *     before:   [a--b)   [c--d)     [e--f)
 *     add:          [lo--------hi)
 *     after:    [a-------------d)   [e--f)      (i = first with hi >= lo,
 *                                                j = first with lo > hi)
 */
static void add_iv(sp_seqset *s, uint64_t lo, uint64_t hi)
{
    if (!s->iv)
        s->iv = g_array_new(FALSE, FALSE, sizeof(sp_seqiv));
    GArray *a = s->iv;
    guint n = a->len, i = 0, j;
    /* first interval that ends at or after lo (binary search) */
    guint l = 0, r = n;
    while (l < r) {
        guint m = l + (r - l) / 2;
        if (g_array_index(a, sp_seqiv, m).hi < lo)
            l = m + 1;
        else
            r = m;
    }
    i = l;
    for (j = i; j < n && g_array_index(a, sp_seqiv, j).lo <= hi; j++) {
        const sp_seqiv *x = &g_array_index(a, sp_seqiv, j);
        if (x->lo < lo)
            lo = x->lo;
        if (x->hi > hi)
            hi = x->hi;
    }
    sp_seqiv nv = {lo, hi};
    if (j > i) {
        g_array_index(a, sp_seqiv, i) = nv;
        if (j > i + 1)
            g_array_remove_range(a, i + 1, j - i - 1);
    } else {
        g_array_insert_val(a, i, nv);
    }
}

void sp_seqset_add(sp_seqset *s, uint32_t seq, uint64_t len)
{
    if (len == 0)
        return;
    if (len >= SEQ_SPACE) {
        add_iv(s, 0, SEQ_SPACE);
        return;
    }
    uint64_t end = (uint64_t)seq + len;
    if (end <= SEQ_SPACE) {
        add_iv(s, seq, end);
    } else {
        add_iv(s, seq, SEQ_SPACE);
        add_iv(s, 0, end - SEQ_SPACE);
    }
}

uint64_t sp_seqset_count(const sp_seqset *s)
{
    uint64_t n = 0;
    if (s->iv)
        for (guint i = 0; i < s->iv->len; i++) {
            const sp_seqiv *x = &g_array_index(s->iv, sp_seqiv, i);
            n += x->hi - x->lo;
        }
    return n;
}

void sp_seqset_clear(sp_seqset *s)
{
    if (s->iv)
        g_array_free(s->iv, TRUE);
    s->iv = NULL;
}
