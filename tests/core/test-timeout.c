/* test-timeout.c - capture time: the sweep sr_assemble() runs every
 * flush_interval of capture time (idle connections completed TIMEOUT with
 * their buffered data flushed, buffered data waiting longer than
 * flush_interval flushed), sr_assembler_flush_older_than(),
 * sr_assembler_flush_all(), sr_pool_close() with buffered data, and
 * timestamps that go backwards.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <string.h>

#include "sr-test-util.h"

#define SYN SR_TCP_SYN
#define ACK SR_TCP_ACK
#define SEC SR_USEC_PER_SEC
#define T0 (1700000000 * SEC)

static sr_options timing(sr_time timeout, sr_time interval)
{
    sr_options o;
    sr_options_init(&o);
    o.connection_timeout = timeout;
    o.flush_interval = interval;
    return o;
}

/* Connection c: SYN, "abc" in order, "xyz" after a 3-byte hole. */
static uint64_t open_with_hole(srt_env *e, uint32_t c, sr_time t)
{
    g_assert_cmpint(srt_feed(e, c, false, 100, SYN, NULL, t, NULL), ==, SR_OK);
    uint64_t id = e->last.conn_id;
    g_assert_cmpint(srt_feed(e, c, false, 101, ACK, "abc", t, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed(e, c, false, 107, ACK, "xyz", t, NULL), ==, SR_OK);
    return id;
}

static void test_idle_timeout(void)
{
    sr_options o = timing(10 * SEC, 1 * SEC);
    srt_env e;
    srt_env_open(&e, &o, 16);
    int ctx;
    uint64_t id1 = open_with_hole(&e, 1, T0);
    g_assert_cmpint(srt_feed(&e, 2, false, 1, ACK, "b", T0 + 5 * SEC, NULL), ==, SR_OK);
    uint64_t id2 = e.last.conn_id;
    srt_stream *s1 = srt_env_stream(&e, id1);
    g_assert_cmpint(s1->completes, ==, 0);

    /* 12 s after connection 1's last segment, 7 s after connection 2's. */
    g_assert_cmpint(srt_feed(&e, 3, false, 1, ACK, "c", T0 + 12 * SEC, &ctx), ==, SR_OK);
    g_assert_cmpint(s1->completes, ==, 1);
    g_assert_cmpstr(sr_close_reason_name(s1->close_reason), ==, "TIMEOUT");
    g_assert_true(s1->ctx_complete == &ctx);
    srt_assert_dir(&s1->dir[0], "abc<3>xyz", "timed out");
    g_assert_true(s1->dir[0].flags_or & SR_CHUNK_FLUSHED);
    g_assert_cmpint(srt_env_stream(&e, id2)->completes, ==, 0);

    sr_assembler_stats as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.timeouts, ==, 1);
    g_assert_cmpuint(as.connections_flushed, >=, 1);
    g_assert_cmpuint(as.pages_in_use, ==, 0);
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.closed_timeout, ==, 1);
    srt_check_pool_stats(e.pool, &e.rec);

    /* Connection 2 goes the same way later. */
    g_assert_cmpint(srt_feed(&e, 3, false, 2, ACK, "d", T0 + 16 * SEC, NULL), ==, SR_OK);
    g_assert_cmpint(srt_env_stream(&e, id2)->completes, ==, 1);
    g_assert_cmpint(srt_env_stream(&e, id2)->close_reason, ==, SR_CLOSE_TIMEOUT);
    srt_env_close(&e);
}

/* The sweep runs only when capture time has moved flush_interval past the
 * last sweep; idle means strictly longer than connection_timeout. */
static void test_sweep_interval(void)
{
    sr_options o = timing(10 * SEC, 4 * SEC);
    srt_env e;
    srt_env_open(&e, &o, 16);
    g_assert_cmpint(srt_feed(&e, 1, false, 1, ACK, "a", T0, NULL), ==, SR_OK);
    srt_stream *s1 = srt_recorder_stream(&e.rec, 0);
    /* 9 s: a sweep surely runs (>= 4 s since anything), 1 is not idle. */
    g_assert_cmpint(srt_feed(&e, 2, false, 1, ACK, "b", T0 + 9 * SEC, NULL), ==, SR_OK);
    g_assert_cmpint(s1->completes, ==, 0);
    /* 10.5 s: 1 is idle, but the last sweep was 1.5 s ago. */
    g_assert_cmpint(srt_feed(&e, 2, false, 2, ACK, "b", T0 + 10 * SEC + SEC / 2, NULL), ==, SR_OK);
    g_assert_cmpint(s1->completes, ==, 0);
    /* 13.5 s: next sweep, 1 completes. */
    g_assert_cmpint(srt_feed(&e, 2, false, 3, ACK, "b", T0 + 13 * SEC + SEC / 2, NULL), ==, SR_OK);
    g_assert_cmpint(s1->completes, ==, 1);
    g_assert_cmpint(s1->close_reason, ==, SR_CLOSE_TIMEOUT);
    srt_env_close(&e);
}

static void test_timeout_boundary(void)
{
    sr_options o = timing(10 * SEC, 1 * SEC);
    srt_env e;
    srt_env_open(&e, &o, 16);
    g_assert_cmpint(srt_feed(&e, 1, false, 1, ACK, "a", T0, NULL), ==, SR_OK);
    srt_stream *s1 = srt_recorder_stream(&e.rec, 0);
    g_assert_cmpint(srt_feed(&e, 2, false, 1, ACK, "b", T0 + 5 * SEC, NULL), ==, SR_OK);
    /* Exactly connection_timeout idle: not yet. */
    g_assert_cmpint(srt_feed(&e, 2, false, 2, ACK, "b", T0 + 10 * SEC, NULL), ==, SR_OK);
    g_assert_cmpint(s1->completes, ==, 0);
    g_assert_cmpint(srt_feed(&e, 2, false, 3, ACK, "b", T0 + 11 * SEC + 1, NULL), ==, SR_OK);
    g_assert_cmpint(s1->completes, ==, 1);
    srt_env_close(&e);
}

/* Buffered data that waited longer than flush_interval is flushed by the
 * sweep, the connection stays open and continues in order. */
static void test_flush_waiting_data(void)
{
    sr_options o = timing(100 * SEC, 1 * SEC);
    srt_env e;
    srt_env_open(&e, &o, 16);
    uint64_t id1 = open_with_hole(&e, 1, T0);
    srt_stream *s1 = srt_env_stream(&e, id1);
    g_assert_cmpint(srt_feed(&e, 2, false, 1, ACK, "tick", T0 + 5 * SEC, NULL), ==, SR_OK);
    g_assert_cmpint(s1->completes, ==, 0);
    srt_assert_dir(&s1->dir[0], "abc<3>xyz", "flushed");
    g_assert_true(s1->dir[0].flags_or & SR_CHUNK_FLUSHED);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);
    g_assert_cmpuint(srt_asm_stats(e.a).connections_flushed, >=, 1);
    /* The late hole filler is old now; the continuation is in order. */
    g_assert_cmpint(srt_feed(&e, 1, false, 104, ACK, "def", T0 + 6 * SEC, NULL), ==, SR_OK);
    g_assert_false(e.last.status & (SR_SEG_IN_ORDER | SR_SEG_OUT_OF_ORDER));
    g_assert_cmpint(srt_feed(&e, 1, false, 110, ACK, "more", T0 + 6 * SEC, NULL), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_IN_ORDER);
    srt_assert_dir(&s1->dir[0], "abc<3>xyzmore", "continued");
    srt_env_close(&e);
}

/* The sweep walks the recently used connections only as far as the last
 * one holding pages: a busy connection whose data waits, in the middle of
 * the list with busy ones around it and none with pages after it, is still
 * found and flushed (the count of connections with pages must be right). */
static void test_flush_waiting_among_busy(void)
{
    sr_options o = timing(100 * SEC, 10 * SEC);
    srt_env e;
    srt_env_open(&e, &o, 64);
    for (uint32_t c = 1; c <= 20; c++)
        g_assert_cmpint(srt_feed(&e, c, false, 1, ACK, "a", T0 + 1 * SEC, NULL), ==, SR_OK);
    uint64_t id = open_with_hole(&e, 30, T0 + 1 * SEC);
    srt_stream *s = srt_env_stream(&e, id);
    for (uint32_t c = 1; c <= 20; c++)
        g_assert_cmpint(srt_feed(&e, c, false, 2, ACK, "b", T0 + 5 * SEC, NULL), ==, SR_OK);
    /* The other direction keeps it busy: recent, its data still waiting. */
    g_assert_cmpint(srt_feed(&e, 30, true, 1, ACK, "r", T0 + 6 * SEC, NULL), ==, SR_OK);
    for (uint32_t c = 40; c < 60; c++)
        g_assert_cmpint(srt_feed(&e, c, false, 1, ACK, "c", T0 + 7 * SEC, NULL), ==, SR_OK);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, >=, 1);
    srt_assert_dir(&s->dir[0], "abc", "before the sweep");
    /* 11 s after the first segment: the sweep; the page waits since T0 + 1 s. */
    g_assert_cmpint(srt_feed(&e, 99, false, 1, ACK, "tick", T0 + 12 * SEC, NULL), ==, SR_OK);
    g_assert_cmpint(s->completes, ==, 0);
    srt_assert_dir(&s->dir[0], "abc<3>xyz", "flushed by the sweep");
    g_assert_true(s->dir[0].flags_or & SR_CHUNK_FLUSHED);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);
    srt_env_close(&e);
}

/* Two assemblers on one pool, each with its own clock: the list is not in
 * last_seen order, so an idle connection touched after a recent one is
 * still found by a walk that meets the recent one first. */
static void test_flush_older_than_two_clocks(void)
{
    sr_options o = timing(1000 * SEC, 1000 * SEC); /* no sweep of their own */
    srt_env e;
    srt_env_open(&e, &o, 16);
    sr_assembler *x = e.a, *y = NULL;
    g_assert_cmpint(sr_assembler_new(e.pool, &o, &y), ==, SR_OK);
    g_assert_cmpint(srt_feed(&e, 1, false, 1, ACK, "recent", T0 + 180 * SEC, NULL), ==, SR_OK);
    uint64_t recent = e.last.conn_id;
    e.a = y; /* its clock is still at T0 */
    g_assert_cmpint(srt_feed(&e, 2, false, 1, ACK, "idle", T0, NULL), ==, SR_OK);
    uint64_t idle = e.last.conn_id;
    e.a = x;
    size_t flushed = 0, closed = 0;
    g_assert_cmpint(sr_assembler_flush_older_than(x, T0 + 150 * SEC, NULL, &flushed, &closed), ==,
                    SR_OK);
    g_assert_cmpuint(closed, ==, 1);
    g_assert_cmpint(srt_env_stream(&e, idle)->completes, ==, 1);
    g_assert_cmpint(srt_env_stream(&e, idle)->close_reason, ==, SR_CLOSE_TIMEOUT);
    g_assert_cmpint(srt_env_stream(&e, recent)->completes, ==, 0);
    sr_assembler_free(y);
    srt_env_close(&e);
}

static void test_flush_older_than(void)
{
    sr_options o = timing(1000 * SEC, 1000 * SEC); /* no sweep of its own */
    srt_env e;
    srt_env_open(&e, &o, 16);
    int ctx;
    uint64_t id1 = open_with_hole(&e, 1, T0);
    g_assert_cmpint(srt_feed(&e, 2, false, 1, ACK, "two", T0 + 10 * SEC, NULL), ==, SR_OK);
    uint64_t id2 = e.last.conn_id;
    g_assert_cmpint(srt_feed(&e, 3, false, 1, ACK, "three", T0 + 20 * SEC, NULL), ==, SR_OK);
    uint64_t id3 = e.last.conn_id;

    size_t flushed = 99, closed = 99;
    /* Older than T0: nothing. */
    g_assert_cmpint(sr_assembler_flush_older_than(e.a, T0, &ctx, &flushed, &closed), ==, SR_OK);
    g_assert_cmpuint(closed, ==, 0);
    g_assert_cmpint(srt_env_stream(&e, id1)->completes, ==, 0);
    /* Older than T0 + 10 s: connection 1 only (2's last segment is at
     * exactly T0 + 10 s, not older). */
    g_assert_cmpint(sr_assembler_flush_older_than(e.a, T0 + 10 * SEC, &ctx, &flushed, &closed),
                    ==, SR_OK);
    g_assert_cmpuint(closed, ==, 1);
    g_assert_cmpuint(flushed, <=, 2);
    srt_stream *s1 = srt_env_stream(&e, id1);
    g_assert_cmpint(s1->completes, ==, 1);
    g_assert_cmpstr(sr_close_reason_name(s1->close_reason), ==, "TIMEOUT");
    g_assert_true(s1->ctx_complete == &ctx);
    srt_assert_dir(&s1->dir[0], "abc<3>xyz", "conn 1");
    g_assert_cmpint(srt_env_stream(&e, id2)->completes, ==, 0);
    /* Older than T0 + 30 s: both others. */
    g_assert_cmpint(sr_assembler_flush_older_than(e.a, T0 + 30 * SEC, NULL, NULL, &closed), ==,
                    SR_OK);
    g_assert_cmpuint(closed, ==, 2);
    g_assert_cmpint(srt_env_stream(&e, id2)->close_reason, ==, SR_CLOSE_TIMEOUT);
    g_assert_cmpint(srt_env_stream(&e, id3)->close_reason, ==, SR_CLOSE_TIMEOUT);
    g_assert_cmpuint(srt_asm_stats(e.a).timeouts, ==, 3);
    g_assert_cmpuint(srt_pool_stats(e.pool).closed_timeout, ==, 3);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);
    srt_env_close(&e);
}

static void test_flush_all(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    int ctx;
    uint64_t id1 = open_with_hole(&e, 1, T0);
    uint64_t id2 = open_with_hole(&e, 2, T0);
    g_assert_cmpint(srt_feed(&e, 3, false, 1, ACK, "plain", T0, NULL), ==, SR_OK);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, >=, 2);
    size_t closed = 0;
    g_assert_cmpint(sr_assembler_flush_all(e.a, &ctx, &closed), ==, SR_OK);
    g_assert_cmpuint(closed, ==, 3);
    for (unsigned i = 0; i < 3; i++) {
        srt_stream *s = srt_recorder_stream(&e.rec, i);
        g_assert_cmpint(s->completes, ==, 1);
        g_assert_cmpstr(sr_close_reason_name(s->close_reason), ==, "FLUSHED");
        g_assert_true(s->ctx_complete == &ctx);
    }
    srt_assert_dir(&srt_env_stream(&e, id1)->dir[0], "abc<3>xyz", "conn 1");
    srt_assert_dir(&srt_env_stream(&e, id2)->dir[0], "abc<3>xyz", "conn 2");
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);
    g_assert_cmpuint(srt_asm_stats(e.a).connections_flushed, >=, 3);
    g_assert_cmpuint(srt_pool_stats(e.pool).closed_flushed, ==, 3);
    /* Nothing left: a second flush completes nothing; the pool works on. */
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, &closed), ==, SR_OK);
    g_assert_cmpuint(closed, ==, 0);
    g_assert_cmpint(srt_feed(&e, 4, false, 1, ACK, "after", T0 + 1, NULL), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
    srt_check_pool_stats(e.pool, &e.rec);
    srt_env_close(&e);
}

static void test_pool_close_flushes(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    uint64_t id1 = open_with_hole(&e, 1, T0);
    g_assert_cmpint(srt_feed(&e, 2, false, 1, ACK, "x", T0, NULL), ==, SR_OK);
    g_assert_cmpint(sr_pool_close(e.pool), ==, SR_OK);
    for (unsigned i = 0; i < 2; i++) {
        srt_stream *s = srt_recorder_stream(&e.rec, i);
        g_assert_cmpint(s->completes, ==, 1);
        g_assert_cmpstr(sr_close_reason_name(s->close_reason), ==, "POOL_CLOSED");
    }
    srt_assert_dir(&srt_env_stream(&e, id1)->dir[0], "abc<3>xyz", "conn 1");
    g_assert_cmpint(srt_feed(&e, 1, false, 110, ACK, "late", T0, NULL), ==, SR_ERR_POOL_CLOSED);
    sr_error again = sr_pool_close(e.pool);
    g_assert_true(again == SR_OK || again == SR_ERR_POOL_CLOSED);
    g_assert_cmpint(e.rec.reason_counts[SR_CLOSE_POOL_CLOSED], ==, 2);
    srt_env_close(&e);
}

/* Capture time going backwards (merged captures, clock steps) must not
 * close anything early or break later sweeps. */
static void test_time_backwards(void)
{
    sr_options o = timing(10 * SEC, 1 * SEC);
    srt_env e;
    srt_env_open(&e, &o, 16);
    g_assert_cmpint(srt_feed(&e, 1, false, 1, ACK, "a", T0 + 100 * SEC, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed(&e, 2, false, 1, ACK, "b", T0, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed(&e, 2, false, 2, ACK, "b", T0 + 2 * SEC, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed(&e, 1, false, 2, ACK, "a", T0 + 50 * SEC, NULL), ==, SR_OK);
    srt_stream *s1 = srt_recorder_stream(&e.rec, 0);
    srt_stream *s2 = srt_recorder_stream(&e.rec, 1);
    g_assert_cmpint(s1->completes, ==, 0);
    srt_assert_dir(&s1->dir[0], "aa", "conn 1");
    /* Much later: both idle, both complete. */
    g_assert_cmpint(srt_feed(&e, 3, false, 1, ACK, "c", T0 + 200 * SEC, NULL), ==, SR_OK);
    g_assert_cmpint(s1->completes, ==, 1);
    g_assert_cmpint(s2->completes, ==, 1);
    srt_env_close(&e);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/time/timeout/idle", test_idle_timeout);
    g_test_add_func("/time/timeout/boundary", test_timeout_boundary);
    g_test_add_func("/time/sweep/interval", test_sweep_interval);
    g_test_add_func("/time/sweep/flush-waiting-data", test_flush_waiting_data);
    g_test_add_func("/time/sweep/flush-waiting-among-busy", test_flush_waiting_among_busy);
    g_test_add_func("/time/flush-older-than", test_flush_older_than);
    g_test_add_func("/time/flush-older-than/two-clocks", test_flush_older_than_two_clocks);
    g_test_add_func("/time/flush-all", test_flush_all);
    g_test_add_func("/time/pool-close-flushes", test_pool_close_flushes);
    g_test_add_func("/time/backwards", test_time_backwards);
    return g_test_run();
}
