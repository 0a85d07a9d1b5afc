/* test-seqset.c - the sequence-number set behind safereasm-pcap --verify
 * (tools/seqset.c): merging, the split at 2^32, saturation, and a
 * randomised comparison with a bitmap near 0 and near the wrap.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <glib.h>
#include <string.h>

#include "seqset.h"

static void expect_ivs(const sp_seqset *s, const uint64_t *lohi, guint n)
{
    guint len = s->iv ? s->iv->len : 0;
    g_assert_cmpuint(len, ==, n);
    for (guint i = 0; i < n; i++) {
        const sp_seqiv *x = &g_array_index(s->iv, sp_seqiv, i);
        g_assert_cmpuint(x->lo, ==, lohi[2 * i]);
        g_assert_cmpuint(x->hi, ==, lohi[2 * i + 1]);
    }
}

static void test_merge(void)
{
    sp_seqset s = {0};
    g_assert_cmpuint(sp_seqset_count(&s), ==, 0);
    sp_seqset_add(&s, 100, 0); /* empty: nothing */
    g_assert_null(s.iv);
    sp_seqset_add(&s, 100, 10);
    sp_seqset_add(&s, 200, 10);
    sp_seqset_add(&s, 300, 10);
    expect_ivs(&s, (const uint64_t[]){100, 110, 200, 210, 300, 310}, 3);
    sp_seqset_add(&s, 110, 5); /* touches the first: merged */
    expect_ivs(&s, (const uint64_t[]){100, 115, 200, 210, 300, 310}, 3);
    sp_seqset_add(&s, 105, 200); /* [105, 305) swallows the middle, joins the last */
    expect_ivs(&s, (const uint64_t[]){100, 310}, 1);
    g_assert_cmpuint(sp_seqset_count(&s), ==, 210);
    sp_seqset_add(&s, 150, 10); /* inside: no change */
    g_assert_cmpuint(sp_seqset_count(&s), ==, 210);
    sp_seqset_add(&s, 50, 10); /* before, apart */
    expect_ivs(&s, (const uint64_t[]){50, 60, 100, 310}, 2);
    sp_seqset_clear(&s);
    g_assert_null(s.iv);
    g_assert_cmpuint(sp_seqset_count(&s), ==, 0);
}

static void test_wrap(void)
{
    sp_seqset s = {0};
    sp_seqset_add(&s, 0xFFFFFFF6u, 20); /* 10 before 2^32, 10 after */
    expect_ivs(&s, (const uint64_t[]){0, 10, 0xFFFFFFF6u, 0x100000000u}, 2);
    g_assert_cmpuint(sp_seqset_count(&s), ==, 20);
    sp_seqset_add(&s, 5, 10); /* overlaps the part after the wrap */
    g_assert_cmpuint(sp_seqset_count(&s), ==, 25);
    sp_seqset_clear(&s);
}

static void test_saturate(void)
{
    sp_seqset s = {0};
    sp_seqset_add(&s, 7, 100);
    sp_seqset_add(&s, 0x80000000u, 0x7FFFFFFFu);
    sp_seqset_add(&s, 1, 0x80000000u); /* with the above: all but a few */
    sp_seqset_add(&s, 123, (uint64_t)1 << 32); /* everything */
    expect_ivs(&s, (const uint64_t[]){0, 0x100000000u}, 1);
    g_assert_cmpuint(sp_seqset_count(&s), ==, (uint64_t)1 << 32);
    sp_seqset_add(&s, 9, 9);
    g_assert_cmpuint(sp_seqset_count(&s), ==, (uint64_t)1 << 32);
    sp_seqset_clear(&s);
}

/* Random ranges in a 4096-number window starting at `base`, compared with
 * a bitmap; the intervals must stay sorted, disjoint and non-adjacent. */
static void random_window(uint32_t base)
{
    GRand *r = g_rand_new_with_seed(base ^ 0x5eed);
    static guint8 bits[4096];
    for (int round = 0; round < 500; round++) {
        memset(bits, 0, sizeof bits);
        sp_seqset s = {0};
        int k = g_rand_int_range(r, 0, 40);
        for (int q = 0; q < k; q++) {
            uint32_t off = (uint32_t)g_rand_int_range(r, 0, 3500);
            uint32_t len = (uint32_t)g_rand_int_range(r, 0, 500);
            sp_seqset_add(&s, base + off, len);
            for (uint32_t i = 0; i < len; i++)
                bits[(off + i) & 4095] = 1;
        }
        uint64_t want = 0;
        for (int i = 0; i < 4096; i++)
            want += bits[i];
        g_assert_cmpuint(sp_seqset_count(&s), ==, want);
        for (guint i = 1; s.iv && i < s.iv->len; i++)
            g_assert_cmpuint(g_array_index(s.iv, sp_seqiv, i - 1).hi, <,
                             g_array_index(s.iv, sp_seqiv, i).lo);
        sp_seqset_clear(&s);
    }
    g_rand_free(r);
}

static void test_random_low(void)
{
    random_window(0);
}

static void test_random_wrap(void)
{
    random_window(0xFFFFF800u); /* the window crosses 2^32 */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/seqset/merge", test_merge);
    g_test_add_func("/seqset/wrap", test_wrap);
    g_test_add_func("/seqset/saturate", test_saturate);
    g_test_add_func("/seqset/random/low", test_random_low);
    g_test_add_func("/seqset/random/wrap", test_random_wrap);
    return g_test_run();
}
