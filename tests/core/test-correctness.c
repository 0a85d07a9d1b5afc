/* test-correctness.c - regression tests for the breaks of the promise
 * "every byte delivered exactly once, in order, or counted" that an
 * independent check found (issue 7): a connection's own late SYN, a
 * SYN-ACK retransmitted with another ISN, bytes dropped out of window /
 * before a mid-stream start / beyond a FIN, sweeps of one assembler cutting
 * another's connections, the close reason of a callback error during a
 * final flush, data waiting behind a hole on a busy connection, and the
 * monotonic capture clock. Each runs at the four table ISNs.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <string.h>

#include "sr-test-util.h"

#define SYN SR_TCP_SYN
#define ACK SR_TCP_ACK
#define FIN SR_TCP_FIN
#define RST SR_TCP_RST
#define T0 (1000 * SR_USEC_PER_SEC)
#define MS (SR_USEC_PER_SEC / 1000)

/* One segment with an acknowledgement number (srt_feed sends ack 0). */
static sr_error feed_ack(srt_env *e, uint32_t conn, bool b_to_a, uint32_t seq, uint32_t ack,
                         uint8_t flags, const GByteArray *pl, sr_time ts)
{
    sr_flow f;
    srt_flow_ab(&f, conn, b_to_a);
    sr_segment s = srt_seg(seq, flags, pl && pl->len ? pl->data : NULL, pl ? pl->len : 0, ts);
    s.ack = ack;
    memset(&e->last, 0, sizeof e->last);
    sr_error err = sr_assemble_ex(e->a, &f, &s, NULL, &e->last);
    if (err == SR_OK || err == SR_ERR_CONNECTION_CLOSED)
        srt_check_result(&e->rec, &e->last);
    return err;
}

/* ------------------------------------------------------------ 1. late SYN */

static void late_syn_after_completion(uint32_t isn)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 1, ACK, "hello", T0, NULL), SR_OK);
    uint64_t id = e.last.conn_id;
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 6, FIN | ACK, NULL, T0 + 1, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 500, FIN | ACK, NULL, T0 + 2, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_CLOSED);
    /* The connection's own SYN, late: its seq + 1 is where the stream began. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn, SYN, NULL, T0 + 3, NULL), SR_ERR_CONNECTION_CLOSED);
    g_assert_cmpuint(e.last.status, ==, SR_SEG_AFTER_CLOSE);
    g_assert_cmpuint(e.last.conn_id, ==, id);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 1, ACK, "hello", T0 + 4, NULL),
               SR_ERR_CONNECTION_CLOSED);
    g_assert_cmpint(e.rec.new_calls, ==, 1);
    srt_stream *s = srt_env_stream(&e, id);
    srt_assert_dir(&s->dir[SR_DIR_CLIENT_TO_SERVER], "hello", "client, once");
    g_assert_cmpint(s->close_reason, ==, SR_CLOSE_FIN);
    /* Port reuse still works: a SYN with another sequence number. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 7000, SYN, NULL, T0 + 5, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
    g_assert_cmpuint(e.last.conn_id, !=, id);
    g_assert_cmpint(e.rec.new_calls, ==, 2);
    srt_env_close(&e);
}

static void late_syn_before_fin(uint32_t isn)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 1, ACK, "hello", T0, NULL), SR_OK);
    uint64_t id = e.last.conn_id;
    /* The SYN arrives between the data and the FINs: nothing happens... */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn, SYN, NULL, T0 + 1, NULL), SR_OK);
    g_assert_cmpuint(e.last.conn_id, ==, id);
    g_assert_false(e.last.status & SR_SEG_NEW_CONNECTION);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 6, FIN | ACK, NULL, T0 + 2, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 500, FIN | ACK, NULL, T0 + 3, NULL), SR_OK);
    /* ...and its duplicate after the end is late, as is the data again. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn, SYN, NULL, T0 + 4, NULL), SR_ERR_CONNECTION_CLOSED);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 1, ACK, "hello", T0 + 5, NULL),
               SR_ERR_CONNECTION_CLOSED);
    g_assert_cmpint(e.rec.new_calls, ==, 1);
    srt_assert_dir(&srt_env_stream(&e, id)->dir[SR_DIR_CLIENT_TO_SERVER], "hello", "client");
    srt_env_close(&e);
}

static void test_late_syn(void)
{
    for (int i = 0; i < 4; i++) {
        late_syn_after_completion(srt_isns[i]);
        late_syn_before_fin(srt_isns[i]);
    }
}

/* ------------------------------------------------------------ 2. SYN-ACK ISN */

#define ISN_A 3212050950u
#define ISN_B 97572840u

/* TCP Fast Open: SYN with 517 bytes; SYN-ACK ISN_A; SYN-ACK ISN_B; the
 * client acknowledges ISN_B + 1 (if ack_b); the server's 6068 bytes follow
 * at ISN_B + 1, then FINs. */
static void synack_twice(uint32_t c, bool ack_b)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    GByteArray *hello = srt_payload("{517:1}");
    GByteArray *srv[3] = {srt_payload("{1440:2}"), srt_payload("{4000:3}"),
                          srt_payload("{628:4}")};
    SRT_ASSERT_ERR(feed_ack(&e, 1, false, c, 0, SYN, hello, T0), SR_OK);
    SRT_ASSERT_ERR(feed_ack(&e, 1, true, ISN_A, c + 518, SYN | ACK, NULL, T0 + 1), SR_OK);
    SRT_ASSERT_ERR(feed_ack(&e, 1, true, ISN_B, c + 518, SYN | ACK, NULL, T0 + 2), SR_OK);
    SRT_ASSERT_ERR(feed_ack(&e, 1, false, c + 518, ack_b ? ISN_B + 1 : 0, ACK, NULL, T0 + 3), SR_OK);
    if (ack_b)
        g_assert_true(e.last.status & SR_SEG_ISN_CHANGED);
    uint32_t seq = ISN_B + 1;
    for (int i = 0; i < 3; i++) {
        SRT_ASSERT_ERR(feed_ack(&e, 1, true, seq, c + 518, ACK, srv[i], T0 + 4 + i), SR_OK);
        g_assert_false(e.last.status & (SR_SEG_OUT_OF_WINDOW | SR_SEG_DROPPED));
        seq += srv[i]->len;
    }
    SRT_ASSERT_ERR(feed_ack(&e, 1, true, seq, c + 518, FIN | ACK, NULL, T0 + 8), SR_OK);
    SRT_ASSERT_ERR(feed_ack(&e, 1, false, c + 518, seq + 1, FIN | ACK, NULL, T0 + 9), SR_OK);
    g_assert_true(e.last.status & SR_SEG_CLOSED);
    srt_stream *s = srt_env_stream(&e, e.last.conn_id);
    srt_assert_dir(&s->dir[SR_DIR_CLIENT_TO_SERVER], "{517:1}", "client");
    srt_assert_dir(&s->dir[SR_DIR_SERVER_TO_CLIENT], "{1440:2}{4000:3}{628:4}", "server");
    g_assert_cmpuint(s->final_info.dropped[SR_DIR_SERVER_TO_CLIENT], ==, 0);
    g_assert_cmpint(s->close_reason, ==, SR_CLOSE_FIN);
    g_assert_cmpuint(srt_asm_stats(e.a).isn_changes, ==, 1);
    g_byte_array_unref(hello);
    for (int i = 0; i < 3; i++)
        g_byte_array_unref(srv[i]);
    srt_env_close(&e);
}

/* The client acknowledges the first SYN-ACK: a later one with another ISN
 * does not take over. */
static void synack_first_acked(uint32_t c)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    GByteArray *d = srt_payload("server");
    SRT_ASSERT_ERR(feed_ack(&e, 1, false, c, 0, SYN, NULL, T0), SR_OK);
    SRT_ASSERT_ERR(feed_ack(&e, 1, true, ISN_A, c + 1, SYN | ACK, NULL, T0 + 1), SR_OK);
    SRT_ASSERT_ERR(feed_ack(&e, 1, false, c + 1, ISN_A + 1, ACK, NULL, T0 + 2), SR_OK);
    SRT_ASSERT_ERR(feed_ack(&e, 1, true, ISN_B, c + 1, SYN | ACK, NULL, T0 + 3), SR_OK);
    SRT_ASSERT_ERR(feed_ack(&e, 1, true, ISN_A + 1, c + 1, ACK, d, T0 + 4), SR_OK);
    g_assert_true(e.last.status & SR_SEG_IN_ORDER);
    srt_stream *s = srt_env_stream(&e, e.last.conn_id);
    srt_assert_dir(&s->dir[SR_DIR_SERVER_TO_CLIENT], "server", "server");
    g_assert_cmpuint(srt_asm_stats(e.a).isn_changes, ==, 0);
    g_byte_array_unref(d);
    srt_env_close(&e);
}

static void test_synack_isn(void)
{
    for (int i = 0; i < 4; i++) {
        synack_twice(srt_isns[i], true);
        synack_twice(srt_isns[i], false); /* the data alone decides */
        synack_first_acked(srt_isns[i]);
    }
}

/* ------------------------------------------------------------ dropped bytes */

static void out_of_window(uint32_t isn)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn, SYN, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 1, ACK, "abc", T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 1 + 1500000000u, ACK, "far away", T0, NULL), SR_OK);
    g_assert_cmpuint(e.last.status & (SR_SEG_OUT_OF_WINDOW | SR_SEG_DROPPED), ==,
                     SR_SEG_OUT_OF_WINDOW | SR_SEG_DROPPED);
    g_assert_cmpuint(e.last.dropped[SR_DIR_CLIENT_TO_SERVER], ==, 8);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 4, ACK, "def", T0, NULL), SR_OK);
    size_t n = 0;
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, &n), ==, SR_OK);
    srt_stream *s = srt_recorder_stream(&e.rec, 0);
    srt_assert_dir(&s->dir[SR_DIR_CLIENT_TO_SERVER], "abcdef", "client");
    g_assert_cmpuint(s->final_info.dropped[SR_DIR_CLIENT_TO_SERVER], ==, 8);
    g_assert_cmpuint(s->final_info.dropped_segments[SR_DIR_CLIENT_TO_SERVER], ==, 1);
    g_assert_cmpuint(s->final_info.dropped[SR_DIR_SERVER_TO_CLIENT], ==, 0);
    sr_assembler_stats st = srt_asm_stats(e.a);
    g_assert_cmpuint(st.bytes_dropped, ==, 8);
    g_assert_cmpuint(st.out_of_window, ==, 1);
    srt_env_close(&e);
}

/* Three 1000-byte segments, no SYN, in the order +1000, +0, +2000. */
static void before_start(uint32_t isn)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 1000, ACK, "{1000:2}", T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn, ACK, "{1000:1}", T0 + 1, NULL), SR_OK);
    g_assert_cmpuint(e.last.status & (SR_SEG_BEFORE_START | SR_SEG_DROPPED), ==,
                     SR_SEG_BEFORE_START | SR_SEG_DROPPED);
    g_assert_cmpuint(e.last.dropped[SR_DIR_CLIENT_TO_SERVER], ==, 1000);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 2000, ACK, "{1000:3}", T0 + 2, NULL), SR_OK);
    /* Straddling the start: the part before it is dropped, the rest is a
     * retransmission. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 500, ACK, "{1000:9}", T0 + 3, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_BEFORE_START);
    g_assert_cmpuint(e.last.dropped[SR_DIR_CLIENT_TO_SERVER], ==, 1500);
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    srt_stream *s = srt_recorder_stream(&e.rec, 0);
    srt_assert_dir(&s->dir[SR_DIR_CLIENT_TO_SERVER], "{1000:2}{1000:3}", "client");
    g_assert_cmpuint(s->final_info.delivered[0], ==, 2000);
    g_assert_cmpuint(s->final_info.skipped[0], ==, 0);
    g_assert_cmpuint(s->final_info.dropped[0], ==, 1500);
    g_assert_cmpuint(s->final_info.dropped_segments[0], ==, 2);
    g_assert_cmpuint(srt_asm_stats(e.a).before_start, ==, 2);
    srt_env_close(&e);
}

static void beyond_fin(uint32_t isn)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn, SYN, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 11, ACK, "zz", T0, NULL), SR_OK); /* buffered */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 1, ACK, "abc", T0, NULL), SR_OK);
    /* FIN at offset 5: the buffered "zz" (offset 10) lies beyond it. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 4, FIN | ACK, "de", T0, NULL), SR_OK);
    g_assert_cmpuint(e.last.dropped[0], ==, 2);
    /* Overlapping the end: "e" is a retransmission, "XYZ" lies beyond. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 5, ACK, "eXYZ", T0, NULL), SR_OK);
    g_assert_cmpuint(e.last.dropped[0], ==, 5);
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    srt_stream *s = srt_recorder_stream(&e.rec, 0);
    srt_assert_dir(&s->dir[0], "abcde", "client");
    g_assert_true(s->dir[0].ended);
    g_assert_cmpuint(s->final_info.dropped_segments[0], ==, 2);
    srt_env_close(&e);
}

/* A segment cut to its headers (12 bytes claimed, none captured) beyond a
 * hole, then a FIN below it: its claimed bytes are dropped, not lost (found
 * by the mutation soak: tests/soak/repro/make-fin-before-cut.py). */
static void cut_beyond_fin(uint32_t isn)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    sr_flow f;
    srt_flow_ab(&f, 1, false);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn, SYN, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 1, ACK, "0123456789", T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed_raw(&e, &f, isn + 101, ACK, NULL, 0, 12, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, isn + 11, FIN | ACK, NULL, T0, NULL), SR_OK);
    g_assert_cmpuint(e.last.dropped[0], ==, 12);
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    srt_assert_dir(&srt_recorder_stream(&e.rec, 0)->dir[0], "0123456789", "client");
    srt_env_close(&e);
}

static void test_dropped(void)
{
    for (int i = 0; i < 4; i++) {
        out_of_window(srt_isns[i]);
        before_start(srt_isns[i]);
        beyond_fin(srt_isns[i]);
        cut_beyond_fin(srt_isns[i]);
    }
}

/* ------------------------------------------------------------ 4. assemblers' clocks */

/* Two assemblers on one pool, one of them far ahead in capture time: its
 * periodic sweeps must not cut the other's connections short. */
static void test_sweep_own_connections(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    sr_assembler *ahead = NULL;
    g_assert_cmpint(sr_assembler_new(e.pool, &e.opt, &ahead), ==, SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 2, false, 100, SYN, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 2, false, 111, ACK, "later", T0, NULL), SR_OK); /* hole 0..10 */
    g_assert_true(e.last.status & SR_SEG_OUT_OF_ORDER);
    uint64_t id = e.last.conn_id;
    sr_flow f;
    srt_flow_ab(&f, 1, false);
    for (int k = 0; k < 5; k++) {
        sr_segment s = srt_seg(9000 + (uint32_t)k, ACK, "x", 1,
                               T0 + 1000 * SR_USEC_PER_SEC + k * 30 * SR_USEC_PER_SEC);
        g_assert_cmpint(sr_assemble(ahead, &f, &s, NULL), ==, SR_OK);
    }
    /* The hole is filled on our own clock, in time. */
    SRT_ASSERT_ERR(srt_feed(&e, 2, false, 101, ACK, "0123456789", T0 + 1, NULL), SR_OK);
    g_assert_cmpuint(e.last.conn_id, ==, id);
    srt_stream *s = srt_env_stream(&e, id);
    g_assert_cmpint(s->completes, ==, 0);
    srt_assert_dir(&s->dir[0], "0123456789later", "client");
    sr_assembler_free(ahead);
    srt_env_close(&e);
}

/* ------------------------------------------------------------ 5. close reasons */

static int fail_on_data(srt_recorder *r, srt_stream *s, const sr_conn_info *info,
                        const sr_chunk *c, void *ctx)
{
    (void)r;
    (void)s;
    (void)info;
    (void)ctx;
    return c->len > 0 ? -1 : 0;
}

enum { VIA_FLUSH_ALL, VIA_FLUSH_OLDER, VIA_EVICTION, VIA_POOL_CLOSE };

static void final_flush_error(int via)
{
    srt_env e;
    srt_env_open(&e, NULL, via == VIA_EVICTION ? 1 : 16);
    e.rec.data_hook = fail_on_data;
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 10, SYN, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 21, ACK, "zzzz", T0, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_OUT_OF_ORDER);
    switch (via) {
    case VIA_FLUSH_ALL:
        g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
        break;
    case VIA_FLUSH_OLDER:
        g_assert_cmpint(sr_assembler_flush_older_than(e.a, T0 + 1, NULL, NULL, NULL), ==, SR_OK);
        break;
    case VIA_EVICTION:
        SRT_ASSERT_ERR(srt_feed(&e, 2, false, 10, SYN, NULL, T0 + 1, NULL), SR_OK);
        g_assert_true(e.last.status & SR_SEG_EVICTED_OTHER);
        break;
    case VIA_POOL_CLOSE:
        g_assert_cmpint(sr_pool_close(e.pool), ==, SR_OK);
        break;
    }
    srt_stream *s = srt_recorder_stream(&e.rec, 0);
    g_assert_cmpint(s->completes, ==, 1);
    if (s->close_reason != SR_CLOSE_CALLBACK_ERROR)
        g_error("via %d: close reason %s, expected CALLBACK_ERROR", via,
                sr_close_reason_name(s->close_reason));
    g_assert_cmpuint(srt_pool_stats(e.pool).closed_callback_error, ==, 1);
    /* Not delivered after the failure: counted as skipped. */
    g_assert_cmpuint(s->final_info.delivered[0] + s->final_info.skipped[0], ==, 14);
    srt_env_close(&e);
}

static void test_final_flush_error(void)
{
    for (int via = VIA_FLUSH_ALL; via <= VIA_POOL_CLOSE; via++)
        final_flush_error(via);
}

/* A connection that keeps receiving data beyond a hole: the data waiting
 * behind it is released once it has waited flush_interval, not when the
 * whole connection falls idle. */
static void test_busy_hole_released(void)
{
    sr_options o;
    sr_options_init(&o);
    o.flush_interval = SR_USEC_PER_SEC;
    srt_env e;
    srt_env_open(&e, &o, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 0, SYN, NULL, T0, NULL), SR_OK);
    uint32_t seq = 11; /* offset 10: bytes 0..9 missing */
    sr_time released_at = 0;
    for (int k = 0; k < 50; k++) {
        sr_time ts = T0 + k * 100 * MS;
        SRT_ASSERT_ERR(srt_feed(&e, 1, false, seq, ACK, "data", ts, NULL), SR_OK);
        seq += 4;
        if (!released_at && e.last.skipped[0] == 10)
            released_at = ts;
    }
    if (released_at == 0 || released_at > T0 + 1100 * MS)
        g_error("the hole was released at %" G_GINT64_FORMAT " ms (0 = never), expected 1000",
                (released_at - T0) / MS);
    g_assert_cmpint(released_at, >=, T0 + SR_USEC_PER_SEC);
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    srt_stream *s = srt_recorder_stream(&e.rec, 0);
    g_assert_cmpuint(s->final_info.delivered[0], ==, 200);
    g_assert_cmpuint(s->final_info.skipped[0], ==, 10);
    srt_env_close(&e);
}

/* Two holes: data behind the first has waited flush_interval, data behind
 * the second only a little. The release stops at the second hole, so its
 * late filler still fits (seen in a real capture: a retransmission 0.25 s
 * after the release would have been lost). */
static void test_young_hole_waits(void)
{
    sr_options o;
    sr_options_init(&o);
    o.flush_interval = SR_USEC_PER_SEC;
    srt_env e;
    srt_env_open(&e, &o, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 0, SYN, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 11, ACK, "old-", T0, NULL), SR_OK);       /* 10..14 */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 21, ACK, "young", T0 + 900 * MS, NULL), SR_OK); /* 20..25 */
    /* At 1 s the first run is due; 14..20 is a younger hole. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 26, ACK, "!", T0 + 1000 * MS, NULL), SR_OK);
    g_assert_cmpuint(e.last.delivered[0], ==, 4);
    g_assert_cmpuint(e.last.skipped[0], ==, 10);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 15, ACK, "filler", T0 + 1200 * MS, NULL), SR_OK);
    g_assert_cmpuint(e.last.delivered[0], ==, 16);
    g_assert_cmpuint(e.last.skipped[0], ==, 10);
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    srt_assert_dir(&srt_recorder_stream(&e.rec, 0)->dir[0], "<10>old-filleryoung!", "client");
    srt_env_close(&e);
}

/* ------------------------------------------------------------ capture clock */

static void test_idle_timeout_on_arrival(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 100, ACK, "first", T0, NULL), SR_OK);
    uint64_t id = e.last.conn_id;
    /* No sweep ran in between (nothing else happened), yet the connection
     * was idle longer than the timeout when this arrives. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 105, ACK, "second", T0 + 200 * SR_USEC_PER_SEC, NULL),
               SR_OK);
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
    g_assert_cmpint(srt_env_stream(&e, id)->close_reason, ==, SR_CLOSE_TIMEOUT);
    uint64_t id2 = e.last.conn_id;
    /* A timestamp from the past counts as the latest one seen: no timeout
     * judged backwards, no new connection. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 111, ACK, "third", T0 + 300 * SR_USEC_PER_SEC, NULL),
               SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 116, ACK, "fourth", T0 + 1, NULL), SR_OK);
    g_assert_cmpuint(e.last.conn_id, ==, id2);
    g_assert_false(e.last.status & SR_SEG_NEW_CONNECTION);
    srt_env_close(&e);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/correctness/late-syn", test_late_syn);
    g_test_add_func("/correctness/synack-isn", test_synack_isn);
    g_test_add_func("/correctness/dropped", test_dropped);
    g_test_add_func("/correctness/sweep/own-connections", test_sweep_own_connections);
    g_test_add_func("/correctness/close-reason/final-flush-callback-error", test_final_flush_error);
    g_test_add_func("/correctness/flush/busy-hole", test_busy_hole_released);
    g_test_add_func("/correctness/flush/young-hole-waits", test_young_hole_waits);
    g_test_add_func("/correctness/clock/timeout-on-arrival", test_idle_timeout_on_arrival);
    return g_test_run();
}
