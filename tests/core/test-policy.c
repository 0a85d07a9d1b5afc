/* test-policy.c - target-based overlap policies against the published
 * vectors (tests/data/overlap-policies/vectors.json, as the C table
 * overlap-vectors.inc): every vector, every step, at the four table ISNs,
 * under the policy it names and every alias of it; policy names and
 * validation; bytes already delivered never change; page caps hold.
 *
 * A step's expected view holds the buffered bytes too. The core only shows
 * bytes once delivered, so each step k is checked in a fresh connection fed
 * steps 1..k and then flushed: the flush delivers every buffered byte, the
 * missing ones skipped ('.').
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <string.h>

#include "sr-test-util.h"

typedef struct srt_vstep {
    int rseq;
    const char *data;
    const char *view;
} srt_vstep;

typedef struct srt_vector {
    const char *name;
    const char *policy;
    bool starts_at_edge;
    const srt_vstep *steps;
    int nsteps;
} srt_vector;

#include "overlap-vectors.inc"

#define T0 (5 * SR_USEC_PER_SEC)

/* Delivered bytes with skipped ones as '.'. */
static char *view_of(const srt_dir_rec *d)
{
    GString *s = g_string_new(NULL);
    guint gi = 0;
    for (size_t i = 0; i <= d->data->len; i++) {
        while (gi < d->gaps->len && g_array_index(d->gaps, srt_gap, gi).pos == i) {
            for (uint64_t k = 0; k < g_array_index(d->gaps, srt_gap, gi).len; k++)
                g_string_append_c(s, '.');
            gi++;
        }
        if (i < d->data->len)
            g_string_append_c(s, (char)d->data->data[i]);
    }
    return g_string_free(s, FALSE);
}

static sr_overlap_policy policy_of(const char *name)
{
    sr_overlap_policy p = SR_POLICY_COUNT_;
    if (!sr_overlap_policy_from_name(name, &p))
        g_error("policy name %s not known", name);
    return p;
}

/* Feed steps [0, k) of v (shifted by one byte if it starts at the edge),
 * flush, and compare with the view after step k - 1. */
static void run_prefix(const srt_vector *v, int k, uint32_t isn, sr_overlap_policy pol,
                       size_t page_size, bool lead_last)
{
    sr_options o = srt_options(page_size, 0, 0);
    o.overlap_policy = pol;
    srt_env e;
    srt_env_open(&e, &o, 4);
    int shift = v->starts_at_edge ? 1 : 0;
    g_assert_cmpint(srt_feed(&e, 1, false, isn, SR_TCP_SYN, NULL, T0, NULL), ==, SR_OK);
    for (int i = 0; i < k; i++) {
        const srt_vstep *st = &v->steps[i];
        sr_flow f;
        srt_flow_ab(&f, 1, false);
        sr_error err = srt_feed_raw(&e, &f, isn + (uint32_t)(st->rseq + shift), SR_TCP_ACK,
                                    (const uint8_t *)st->data, strlen(st->data), 0, T0 + i, NULL);
        g_assert_cmpint(err, ==, SR_OK);
    }
    GString *want = g_string_new(v->starts_at_edge ? "." : "");
    g_string_append(want, v->steps[k - 1].view);
    if (lead_last && v->starts_at_edge) {
        /* The shifted vector's lead byte arrives last: all is delivered in
         * order, the views gain it in front. */
        g_assert_cmpint(srt_feed(&e, 1, false, isn + 1, SR_TCP_ACK, "^", T0 + k, NULL), ==, SR_OK);
        want->str[0] = '^';
    }
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    srt_stream *s = srt_recorder_stream(&e.rec, 0);
    char *got = view_of(&s->dir[SR_DIR_CLIENT_TO_SERVER]);
    if (strcmp(got, want->str) != 0)
        g_error("vector %s/%s (%s), isn %u, page %zu, after step %d (rseq %d \"%s\"): got "
                "\"%s\", want \"%s\"",
                v->name, v->policy, sr_overlap_policy_name(pol), isn, page_size, k,
                v->steps[k - 1].rseq, v->steps[k - 1].data, got, want->str);
    g_free(got);
    g_string_free(want, TRUE);
    srt_env_close(&e);
}

static void test_vectors(void)
{
    unsigned runs = 0;
    for (size_t vi = 0; vi < G_N_ELEMENTS(vectors); vi++) {
        const srt_vector *v = &vectors[vi];
        sr_overlap_policy pol = policy_of(v->policy);
        for (int i = 0; i < 4; i++) {
            for (int k = 1; k <= v->nsteps; k++)
                for (size_t ps = 1; ps <= 1900; ps = ps == 1 ? 3 : ps == 3 ? 1900 : 4000) {
                    run_prefix(v, k, srt_isns[i], pol, ps, false);
                    runs++;
                }
            run_prefix(v, v->nsteps, srt_isns[i], pol, 1900, true);
            runs++;
        }
    }
    g_test_message("%zu vectors, %u runs", G_N_ELEMENTS(vectors), runs);
}

/* Every alias of a behaviour gives its vectors' final views. */
static void test_aliases(void)
{
    for (size_t g = 0; g < G_N_ELEMENTS(policy_names); g++) {
        sr_overlap_policy group = policy_of(policy_names[g][0]);
        for (int n = 1; policy_names[g][n]; n++) {
            g_assert_cmpint(policy_of(policy_names[g][n]), ==, group);
            char *up = g_ascii_strup(policy_names[g][n], -1);
            g_assert_cmpint(policy_of(up), ==, group);
            g_free(up);
            for (size_t vi = 0; vi < G_N_ELEMENTS(vectors); vi++)
                if (policy_of(vectors[vi].policy) == group)
                    run_prefix(&vectors[vi], vectors[vi].nsteps, 0, group, 1900, true);
        }
        g_assert_cmpstr(sr_overlap_policy_name(group), ==, policy_names[g][0]);
    }
    sr_overlap_policy p = SR_POLICY_LAST;
    g_assert_false(sr_overlap_policy_from_name("beos", &p));
    g_assert_false(sr_overlap_policy_from_name(NULL, &p));
    g_assert_cmpint(p, ==, SR_POLICY_LAST);
    g_assert_cmpstr(sr_overlap_policy_name((sr_overlap_policy)99), ==, "?");
}

static void test_validation(void)
{
    sr_options o;
    sr_options_init(&o);
    g_assert_cmpint(o.overlap_policy, ==, SR_POLICY_FIRST);
    o.overlap_policy = SR_POLICY_COUNT_;
    char msg[200];
    g_assert_cmpint(sr_options_validate(&o, msg, sizeof msg), ==, SR_ERR_INVALID_OPTIONS);
    g_assert_nonnull(strstr(msg, "overlap_policy"));
    g_assert_nonnull(strstr(msg, "(got 6)"));
    o.overlap_policy = (sr_overlap_policy)-1;
    g_assert_cmpint(sr_options_validate(&o, msg, sizeof msg), ==, SR_ERR_INVALID_OPTIONS);
    srt_recorder rec;
    srt_recorder_init(&rec);
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_pool *pool = sr_pool_new(&f, 1, NULL);
    sr_assembler *a = NULL;
    g_assert_cmpint(sr_assembler_new(pool, &o, &a), ==, SR_ERR_INVALID_OPTIONS);
    g_assert_null(a);
    sr_pool_free(pool);
    srt_recorder_clear(&rec);
}

/* Under every policy: delivered bytes never change, a different
 * retransmission of them is a conflict; an in-order segment running into
 * buffered data resolves it by the policy. */
static void test_delivered_fixed(void)
{
    for (int p = 0; p < SR_POLICY_COUNT_; p++) {
        sr_options o;
        sr_options_init(&o);
        o.overlap_policy = (sr_overlap_policy)p;
        srt_env e;
        srt_env_open(&e, &o, 4);
        g_assert_cmpint(srt_feed(&e, 1, false, 99, SR_TCP_SYN, NULL, T0, NULL), ==, SR_OK);
        g_assert_cmpint(srt_feed(&e, 1, false, 100, SR_TCP_ACK, "hello", T0, NULL), ==, SR_OK);
        g_assert_cmpint(srt_feed(&e, 1, false, 100, SR_TCP_ACK, "HELLO", T0, NULL), ==, SR_OK);
        g_assert_true(e.last.status & SR_SEG_CONFLICT);
        /* Buffered "yz" at offset 7, then "12xyz9" from the edge (offset 5):
         * starts before the buffered segment and ends beyond it. */
        g_assert_cmpint(srt_feed(&e, 1, false, 107, SR_TCP_ACK, "yz", T0, NULL), ==, SR_OK);
        g_assert_cmpint(srt_feed(&e, 1, false, 105, SR_TCP_ACK, "12YZ9", T0, NULL), ==, SR_OK);
        g_assert_true(e.last.status & SR_SEG_CONFLICT);
        g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
        srt_stream *s = srt_recorder_stream(&e.rec, 0);
        bool new_wins = p != SR_POLICY_FIRST; /* starts before, ends beyond */
        srt_assert_dir(&s->dir[0], new_wins ? "hello12YZ9" : "hello12yz9", sr_overlap_policy_name(p));
        g_assert_cmpuint(s->final_info.conflicts[0], ==, 2);
        srt_env_close(&e);
    }
}

/* Random overlapping segments under every policy with a tiny page cap:
 * caps hold after every call (srt_feed_raw checks), conservation holds. */
static void test_caps(void)
{
    srt_rng r = {srt_seed_from_env("SR_SEED", 77)};
    for (int round = 0; round < 400; round++) {
        sr_options o = srt_options(1 + srt_below(&r, 8), 2 + srt_below(&r, 3), 5);
        o.overlap_policy = (sr_overlap_policy)srt_below(&r, SR_POLICY_COUNT_);
        srt_env e;
        srt_env_open(&e, &o, 2);
        uint32_t isn = srt_isns[srt_below(&r, 4)];
        g_assert_cmpint(srt_feed(&e, 1, false, isn, SR_TCP_SYN, NULL, T0, NULL), ==, SR_OK);
        for (int i = 0; i < 40; i++) {
            uint8_t buf[24];
            size_t len = 1 + srt_below(&r, sizeof buf);
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)('a' + srt_below(&r, 3));
            sr_flow f;
            srt_flow_ab(&f, 1, false);
            g_assert_cmpint(srt_feed_raw(&e, &f, isn + 2 + srt_below(&r, 60), SR_TCP_ACK, buf, len,
                                         0, T0, NULL),
                            ==, SR_OK);
        }
        g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
        g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);
        srt_env_close(&e);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/policy/vectors", test_vectors);
    g_test_add_func("/policy/aliases", test_aliases);
    g_test_add_func("/policy/validation", test_validation);
    g_test_add_func("/policy/delivered-bytes-fixed", test_delivered_fixed);
    g_test_add_func("/policy/caps", test_caps);
    return g_test_run();
}
