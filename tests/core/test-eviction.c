/* test-eviction.c - the connection limit: the table never holds more than
 * max_connections, the least recently used connection is evicted (its
 * buffered data flushed, on_complete EVICTED with the packet_ctx of the
 * call that caused it), lingering connections count, and a full table whose
 * only connection cannot be evicted answers SR_ERR_CONNECTION_LIMIT.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <string.h>

#include "sr-test-util.h"

#define SYN SR_TCP_SYN
#define ACK SR_TCP_ACK
#define FIN SR_TCP_FIN
#define RST SR_TCP_RST
#define T0 (77 * SR_USEC_PER_SEC)

static sr_options no_linger(void)
{
    sr_options o;
    sr_options_init(&o);
    o.closed_linger = 0;
    return o;
}

static void check_table(srt_env *e, size_t max)
{
    sr_pool_stats ps = srt_pool_stats(e->pool);
    if (ps.active_connections > max || ps.peak_connections > max)
        g_error("connection table: active %" G_GUINT64_FORMAT " peak %" G_GUINT64_FORMAT
                " > max_connections %zu",
                ps.active_connections, ps.peak_connections, max);
}

/* The pool's table (open addressing, entries shifted back on removal,
 * grown and shrunk with the number of connections): 3000 connections,
 * then every other one closed in a scrambled order, then each looked up
 * again: an open one is found (same id, nothing new), a closed one is gone
 * (no linger: a new connection). Then the rest closed, so the table
 * shrinks, and all looked up once more. */
static void test_table_removals(void)
{
    enum { N = 3000 };
    sr_options o = no_linger();
    srt_env e;
    srt_env_open(&e, &o, 100000);
    static uint64_t id[N];
    static bool closed[N];
    for (uint32_t c = 0; c < N; c++) {
        g_assert_cmpint(srt_feed(&e, c, false, 100, ACK, "hi", T0, NULL), ==, SR_OK);
        g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
        id[c] = e.last.conn_id;
        g_assert_cmpint(srt_feed(&e, c, true, 500, ACK, "ok", T0, NULL), ==, SR_OK);
        g_assert_cmpuint(e.last.conn_id, ==, id[c]);
        closed[c] = false;
    }
    for (int round = 0; round < 2; round++) {
        /* round 0: every other connection, in a scrambled order (7919 is
         * prime to N); round 1: all that are left. */
        for (uint32_t k = 0; k < N; k++) {
            uint32_t c = (uint32_t)(((uint64_t)k * 7919u) % N);
            if (closed[c] || (round == 0 && c % 2))
                continue;
            /* After "hi" (and in round 1 the "x" of the lookups). */
            uint32_t fin_seq = round == 0 ? 102 : 103;
            g_assert_cmpint(srt_feed(&e, c, false, fin_seq, FIN | ACK, NULL, T0 + 1, NULL), ==, SR_OK);
            g_assert_cmpint(srt_feed(&e, c, true, 502, FIN | ACK, NULL, T0 + 1, NULL), ==, SR_OK);
            g_assert_true(e.last.status & SR_SEG_CLOSED);
            g_assert_cmpuint(e.last.conn_id, ==, id[c]);
            closed[c] = true;
        }
        sr_pool_stats ps = srt_pool_stats(e.pool);
        g_assert_cmpuint(ps.active_connections, ==, round == 0 ? N / 2 : 0);
        for (uint32_t c = 0; c < N; c++) {
            if (closed[c]) {
                /* A new connection each time: forget it again at once. */
                g_assert_cmpint(srt_feed(&e, c, false, 100, RST, NULL, T0 + 2, NULL), ==, SR_OK);
                g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
                g_assert_cmpuint(e.last.conn_id, !=, id[c]);
            } else {
                g_assert_cmpint(srt_feed(&e, c, false, 102, ACK, "x", T0 + 2, NULL), ==, SR_OK);
                g_assert_true(e.last.status & SR_SEG_IN_ORDER);
                g_assert_false(e.last.status & SR_SEG_NEW_CONNECTION);
                g_assert_cmpuint(e.last.conn_id, ==, id[c]);
            }
        }
    }
    g_assert_cmpuint(srt_pool_stats(e.pool).active_connections, ==, 0);
    srt_check_pool_stats(e.pool, &e.rec);
    srt_env_close(&e);
}

static void test_lru(void)
{
    sr_options o = no_linger();
    srt_env e;
    srt_env_open(&e, &o, 3);
    uint64_t id[5] = {0};
    int ctx4;
    for (uint32_t c = 1; c <= 3; c++) {
        g_assert_cmpint(srt_feed(&e, c, false, 100, ACK, "hi", T0 + c, NULL), ==, SR_OK);
        id[c] = e.last.conn_id;
        check_table(&e, 3);
    }
    /* Touch 1 (from the other side): 2 is now least recently used. */
    g_assert_cmpint(srt_feed(&e, 1, true, 500, ACK, "yo", T0 + 4, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed(&e, 4, false, 100, ACK, "new", T0 + 5, &ctx4), ==, SR_OK);
    id[4] = e.last.conn_id;
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
    g_assert_true(e.last.status & SR_SEG_EVICTED_OTHER);
    check_table(&e, 3);
    srt_stream *s2 = srt_env_stream(&e, id[2]);
    g_assert_cmpint(s2->completes, ==, 1);
    g_assert_cmpstr(sr_close_reason_name(s2->close_reason), ==, "EVICTED");
    g_assert_true(s2->ctx_complete == &ctx4);
    for (int c = 1; c <= 4; c++)
        if (c != 2)
            g_assert_cmpint(srt_env_stream(&e, id[c])->completes, ==, 0);
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.active_connections, ==, 3);
    g_assert_cmpuint(ps.peak_connections, ==, 3);
    g_assert_cmpuint(ps.closed_evicted, ==, 1);
    g_assert_cmpuint(srt_asm_stats(e.a).evictions, ==, 1);

    /* Existing connections do not evict anything. */
    g_assert_cmpint(srt_feed(&e, 3, false, 102, ACK, "!", T0 + 6, NULL), ==, SR_OK);
    g_assert_false(e.last.status & SR_SEG_EVICTED_OTHER);
    /* 2 comes back as a new connection and evicts the LRU, now 1. */
    g_assert_cmpint(srt_feed(&e, 2, false, 102, ACK, "back", T0 + 7, NULL), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
    g_assert_true(e.last.status & SR_SEG_EVICTED_OTHER);
    g_assert_cmpuint(e.last.conn_id, !=, id[2]);
    g_assert_cmpint(srt_env_stream(&e, id[1])->completes, ==, 1);
    g_assert_cmpint(srt_env_stream(&e, id[3])->completes, ==, 0);
    g_assert_cmpint(srt_env_stream(&e, id[4])->completes, ==, 0);
    check_table(&e, 3);
    g_assert_cmpuint(srt_asm_stats(e.a).evictions, ==, 2);
    srt_check_pool_stats(e.pool, &e.rec);
    srt_env_close(&e);
}

/* The evicted connection's buffered data comes out (gap skipped) before
 * on_complete, and its pages are released. */
static void test_evict_flushes(void)
{
    sr_options o = no_linger();
    o.page_size = 8;
    srt_env e;
    srt_env_open(&e, &o, 1);
    g_assert_cmpint(srt_feed(&e, 1, false, 10, SYN, NULL, T0, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed(&e, 1, false, 11, ACK, "abc", T0, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed(&e, 1, false, 20, ACK, "jkl", T0, NULL), ==, SR_OK);
    uint64_t id1 = e.last.conn_id;
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, >=, 1);
    g_assert_cmpint(srt_feed(&e, 2, false, 10, ACK, "x", T0 + 1, NULL), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_EVICTED_OTHER);
    srt_stream *s1 = srt_env_stream(&e, id1);
    g_assert_cmpstr(sr_close_reason_name(s1->close_reason), ==, "EVICTED");
    srt_assert_dir(&s1->dir[0], "abc<6>jkl", "evicted");
    g_assert_true(s1->dir[0].flags_or & SR_CHUNK_FLUSHED);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);
    check_table(&e, 1);
    srt_env_close(&e);
}

/* Random traffic over many connections with a small table: the bound holds
 * after every call, every stream completes exactly once, and evictions
 * are counted as what they are. */
static void test_never_exceeded(void)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        srt_rng r = {seed};
        size_t max = 1 + srt_below(&r, 6);
        sr_options o;
        sr_options_init(&o);
        o.page_size = 16;
        if (srt_below(&r, 2))
            o.closed_linger = 0;
        srt_env e;
        srt_env_open(&e, &o, max);
        uint32_t nflows = (uint32_t)max + 2 + srt_below(&r, 30);
        uint32_t *next = g_new0(uint32_t, nflows + 1);
        bool *fin = g_new0(bool, nflows + 1);
        for (int step = 0; step < 400; step++) {
            uint32_t c = 1 + srt_below(&r, nflows);
            uint32_t k = srt_below(&r, 10);
            sr_error err;
            /* Plausible TCP: A sends data (sometimes ahead of a hole),
             * B answers nothing but FIN at its own sequence 7; A's FIN
             * goes beyond every byte A sent and A is silent after it. */
            if (k == 0) {
                err = srt_feed(&e, c, true, 7, ACK | FIN, NULL, T0 + step, NULL);
            } else if (fin[c]) {
                continue;
            } else if (k == 1) {
                err = srt_feed(&e, c, false, next[c] + 50, ACK | FIN, "ooo", T0 + step, NULL);
                fin[c] = true;
            } else if (k == 2) {
                err = srt_feed(&e, c, false, next[c], ACK | FIN, NULL, T0 + step, NULL);
                fin[c] = true;
            } else {
                err = srt_feed(&e, c, false, next[c], ACK, "data", T0 + step, NULL);
                next[c] += 4;
            }
            /* Late segments of lingering connections are the only error. */
            if (err != SR_OK)
                g_assert_cmpstr(sr_err_name(err), ==, "SR_ERR_CONNECTION_CLOSED");
            check_table(&e, max);
        }
        sr_pool_stats ps = srt_pool_stats(e.pool);
        g_assert_cmpuint(ps.closed_evicted, ==, (guint)e.rec.reason_counts[SR_CLOSE_EVICTED]);
        g_assert_cmpuint(srt_asm_stats(e.a).evictions, ==, ps.closed_evicted);
        g_assert_cmpuint(ps.closed_evicted, >, 0);
        srt_check_pool_stats(e.pool, &e.rec);
        g_free(next);
        g_free(fin);
        srt_env_close(&e);
    }
}

/* Lingering closed connections occupy the table too: it never exceeds the
 * limit and a new connection still gets in. */
static void test_lingering_counted(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 2);
    g_assert_cmpint(srt_feed(&e, 1, false, 1, ACK, "a", T0, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed(&e, 1, true, 1, ACK, "b", T0, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed(&e, 1, false, 2, ACK | FIN, NULL, T0, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed(&e, 1, true, 2, ACK | FIN, NULL, T0, NULL), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_CLOSED);
    g_assert_cmpuint(srt_pool_stats(e.pool).active_connections, ==, 1);
    g_assert_cmpint(srt_feed(&e, 2, false, 1, ACK, "c", T0 + 1, NULL), ==, SR_OK);
    check_table(&e, 2);
    g_assert_cmpint(srt_feed(&e, 3, false, 1, ACK, "d", T0 + 2, NULL), ==, SR_OK);
    check_table(&e, 2);
    g_assert_cmpint(srt_feed(&e, 4, false, 1, ACK, "e", T0 + 3, NULL), ==, SR_OK);
    check_table(&e, 2);
    g_assert_cmpuint(srt_recorder_count(&e.rec), ==, 4);
    srt_env_close(&e);
}

/* max_connections 1 and its only connection is busy in a callback: a new
 * connection from inside that callback cannot evict it. */
typedef struct busy {
    srt_env *e;
    sr_error inner;
    int calls;
} busy;

static int busy_data(srt_recorder *r, srt_stream *s, const sr_conn_info *info, const sr_chunk *c,
                     void *ctx)
{
    (void)s;
    (void)info;
    (void)c;
    (void)ctx;
    busy *b = r->hook_data;
    if (b->calls++)
        return 0;
    sr_flow f;
    srt_flow_ab(&f, 2, false);
    sr_segment seg = srt_seg(1, ACK, "other", 5, T0 + 1);
    b->inner = sr_assemble(b->e->a, &f, &seg, NULL);
    return 0;
}

static void test_nothing_evictable(void)
{
    if (!srt_subprocess_child()) {
        srt_run_in_subprocess(30);
        return;
    }
    srt_env e;
    srt_env_open(&e, NULL, 1);
    busy b = {&e, SR_OK, 0};
    e.rec.hook_data = &b;
    e.rec.data_hook = busy_data;
    g_assert_cmpint(srt_feed(&e, 1, false, 1, ACK, "self", T0, NULL), ==, SR_OK);
    g_assert_cmpstr(sr_err_name(b.inner), ==, "SR_ERR_CONNECTION_LIMIT");
    g_assert_cmpuint(srt_recorder_count(&e.rec), ==, 1);
    g_assert_cmpint(srt_recorder_stream(&e.rec, 0)->completes, ==, 0);
    check_table(&e, 1);
    /* Outside the callback the eviction works. */
    e.rec.data_hook = NULL;
    g_assert_cmpint(srt_feed(&e, 2, false, 1, ACK, "other", T0 + 2, NULL), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_EVICTED_OTHER);
    srt_env_close(&e);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/connections/table/removals-keep-every-lookup", test_table_removals);
    g_test_add_func("/connections/evict/lru", test_lru);
    g_test_add_func("/connections/evict/flushes-buffered", test_evict_flushes);
    g_test_add_func("/connections/limit/never-exceeded", test_never_exceeded);
    g_test_add_func("/connections/limit/lingering-counted", test_lingering_counted);
    g_test_add_func("/connections/limit/nothing-evictable", test_nothing_evictable);
    return g_test_run();
}
