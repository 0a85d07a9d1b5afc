/* test-lifecycle.c - connection lifecycle and flags: direction, flows and
 * zones, FIN/RST completion, SR_CHUNK_START/END, port reuse, lingering
 * closed connections, the stream callbacks (refusal, errors, reentrancy,
 * packet_ctx), and several assemblers on one pool.
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

static srt_stream *only_stream(srt_env *e)
{
    g_assert_cmpuint(srt_recorder_count(&e->rec), ==, 1);
    return srt_recorder_stream(&e->rec, 0);
}

/* ------------------------------------------------------------ direction, flows */

static void test_syn_sender_is_client(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    /* B opens towards A. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 500, SYN, NULL, T0, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
    g_assert_cmpint(e.last.dir, ==, SR_DIR_CLIENT_TO_SERVER);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 9000, SYN | ACK, NULL, T0, NULL), SR_OK);
    g_assert_cmpint(e.last.dir, ==, SR_DIR_SERVER_TO_CLIENT);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 501, ACK, "from B", T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 9001, ACK, "from A", T0, NULL), SR_OK);
    srt_stream *s = only_stream(&e);
    sr_flow b_to_a;
    srt_flow_ab(&b_to_a, 1, true);
    g_assert_true(srt_flow_endpoints_match(&s->flow, &b_to_a));
    srt_assert_dir(&s->dir[SR_DIR_CLIENT_TO_SERVER], "from B", "client");
    srt_assert_dir(&s->dir[SR_DIR_SERVER_TO_CLIENT], "from A", "server");
    srt_env_close(&e);
}

static void test_unordered_pair(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 3, false, 1, ACK, "ab", T0, NULL), SR_OK);
    uint64_t id = e.last.conn_id;
    g_assert_cmpuint(id, !=, 0);
    SRT_ASSERT_ERR(srt_feed(&e, 3, true, 77, ACK, "cd", T0, NULL), SR_OK);
    g_assert_cmpuint(e.last.conn_id, ==, id);
    g_assert_false(e.last.status & SR_SEG_NEW_CONNECTION);
    SRT_ASSERT_ERR(srt_feed(&e, 4, false, 1, ACK, "ef", T0, NULL), SR_OK);
    g_assert_cmpuint(e.last.conn_id, !=, id);
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
    g_assert_cmpuint(srt_recorder_count(&e.rec), ==, 2);
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.active_connections, ==, 2);
    g_assert_cmpuint(ps.total_created, ==, 2);
    g_assert_cmpuint(ps.peak_connections, ==, 2);
    srt_env_close(&e);
}

/* Zone and IP version are part of the connection key. */
static void test_zones_and_ipv6(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    sr_flow f1, f2, f1r;
    srt_flow_ab(&f1, 5, false);
    f2 = f1;
    f2.zone = 42;
    srt_flow_ab(&f1r, 5, true);
    f1r.zone = 42;
    SRT_ASSERT_ERR(srt_feed_flow(&e, &f1, 10, ACK, "zone0", 0, T0, NULL), SR_OK);
    uint64_t id1 = e.last.conn_id;
    SRT_ASSERT_ERR(srt_feed_flow(&e, &f2, 10, ACK, "zone42", 0, T0, NULL), SR_OK);
    uint64_t id2 = e.last.conn_id;
    g_assert_cmpuint(id1, !=, id2);
    SRT_ASSERT_ERR(srt_feed_flow(&e, &f1r, 99, ACK, "reply42", 0, T0, NULL), SR_OK);
    g_assert_cmpuint(e.last.conn_id, ==, id2);

    /* IPv6, and an IPv6 flow whose first 4 address bytes equal an IPv4
     * connection's: distinct. */
    uint8_t a6[16] = {0}, b6[16] = {0};
    memcpy(a6, f1.src.addr, 4);
    memcpy(b6, f1.dst.addr, 4);
    sr_flow g, gr;
    sr_flow_set_ipv6(&g, a6, f1.src.port, b6, f1.dst.port);
    sr_flow_set_ipv6(&gr, b6, f1.dst.port, a6, f1.src.port);
    SRT_ASSERT_ERR(srt_feed_flow(&e, &g, 0xfffffff0u, SYN, NULL, 0, T0, NULL), SR_OK);
    uint64_t id3 = e.last.conn_id;
    g_assert_cmpuint(id3, !=, id1);
    g_assert_cmpuint(id3, !=, id2);
    SRT_ASSERT_ERR(srt_feed_flow(&e, &gr, 5, SYN | ACK, NULL, 0, T0, NULL), SR_OK);
    /* 17 bytes from 2^32-15: the FIN is at sequence number 2. */
    SRT_ASSERT_ERR(srt_feed_flow(&e, &g, 0xfffffff1u, ACK, "crossing the wrap", 0, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed_flow(&e, &gr, 6, FIN | ACK, "v6", 0, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed_flow(&e, &g, 2, FIN | ACK, NULL, 0, T0, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_CLOSED);
    srt_stream *s = srt_env_stream(&e, id3);
    g_assert_true(srt_flow_endpoints_match(&s->flow, &g));
    srt_assert_dir(&s->dir[0], "crossing the wrap", "v6 client");
    srt_assert_dir(&s->dir[1], "v6", "v6 server");
    g_assert_cmpuint(s->dir[0].flags_or, ==, SR_CHUNK_START | SR_CHUNK_END);
    g_assert_cmpstr(sr_close_reason_name(s->close_reason), ==, "FIN");
    g_assert_cmpuint(srt_recorder_count(&e.rec), ==, 3);
    srt_env_close(&e);
}

/* ------------------------------------------------------------ FIN, RST */

static void test_half_close(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 100, SYN, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 700, SYN | ACK, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 101, ACK | FIN, "bye", T0, NULL), SR_OK);
    srt_stream *s = only_stream(&e);
    /* The END chunk: A's FIN reached with its data. */
    g_assert_true(s->dir[0].ended);
    g_assert_cmpint(s->completes, ==, 0);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 701, ACK, "still ", T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 707, ACK, "talking", T0, NULL), SR_OK);
    g_assert_cmpint(s->completes, ==, 0);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 714, ACK | FIN, NULL, T0 + 1, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_CLOSED);
    g_assert_cmpint(e.last.close_reason, ==, SR_CLOSE_FIN);
    srt_assert_dir(&s->dir[0], "bye", "client");
    srt_assert_dir(&s->dir[1], "still talking", "server");
    /* B's END came alone, as a zero-length chunk at offset 13. */
    GArray *ch = s->dir[1].chunks;
    srt_chunk_rec *last = &g_array_index(ch, srt_chunk_rec, ch->len - 1);
    g_assert_cmpuint(last->len, ==, 0);
    g_assert_cmpuint(last->offset, ==, 13);
    g_assert_cmpuint(last->flags & SR_CHUNK_END, ==, SR_CHUNK_END);
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.closed_fin, ==, 1);
    g_assert_cmpuint(ps.closed, ==, 1);
    srt_check_pool_stats(e.pool, &e.rec);
    srt_env_close(&e);
}

/* Both FINs seen but one direction has a hole: the connection stays open
 * until the hole is filled; the filling segment completes it. */
static void test_fin_needs_all_data(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 0xfffffffau, SYN, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 50, SYN | ACK, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 0xfffffffbu, ACK, "abc", T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 0xfffffffbu + 6, ACK | FIN, "ghi", T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 51, ACK | FIN, NULL, T0, NULL), SR_OK);
    srt_stream *s = only_stream(&e);
    g_assert_cmpint(s->completes, ==, 0);
    g_assert_false(e.last.status & SR_SEG_CLOSED);
    g_assert_false(s->dir[0].ended);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 0xfffffffbu + 3, ACK, "def", T0, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_CLOSED);
    g_assert_cmpint(e.last.close_reason, ==, SR_CLOSE_FIN);
    g_assert_cmpint(s->completes, ==, 1);
    srt_assert_dir(&s->dir[0], "abcdefghi", "client");
    g_assert_true(s->dir[0].ended);
    srt_env_close(&e);
}

/* Bytes beyond the FIN are not stream data. Here they were buffered before
 * the FIN was known: reaching the FIN ends the direction (END) and nothing
 * may follow it, neither at once nor when the connection completes. */
static void test_data_beyond_fin(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 0, SYN, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 1, ACK, "abc", T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 10, ACK, "xyz", T0, NULL), SR_OK); /* buffered */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 4, ACK | FIN, NULL, T0, NULL), SR_OK);
    srt_stream *s = only_stream(&e);
    g_assert_true(s->dir[0].ended);
    srt_assert_dir(&s->dir[0], "abc", "client at FIN");
    SRT_ASSERT_ERR(sr_assembler_flush_all(e.a, NULL, NULL), SR_OK);
    srt_assert_dir(&s->dir[0], "abc", "client after flush"); /* no chunk after END */
    g_assert_cmpuint(s->final_info.delivered[0], ==, 3);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);
    srt_env_close(&e);
}

static void test_rst_either_side(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    for (uint32_t conn = 1; conn <= 2; conn++) {
        bool from_b = conn == 2;
        SRT_ASSERT_ERR(srt_feed(&e, conn, false, 10, ACK, "data", T0, NULL), SR_OK);
        SRT_ASSERT_ERR(srt_feed(&e, conn, true, 20, ACK, "resp", T0, NULL), SR_OK);
        SRT_ASSERT_ERR(srt_feed(&e, conn, from_b, from_b ? 24 : 14, RST, NULL, T0, NULL), SR_OK);
        g_assert_true(e.last.status & SR_SEG_CLOSED);
        g_assert_cmpint(e.last.close_reason, ==, SR_CLOSE_RST);
        srt_stream *s = srt_env_stream(&e, e.last.conn_id);
        g_assert_cmpstr(sr_close_reason_name(s->close_reason), ==, "RST");
        srt_assert_dir(&s->dir[0], "data", "client");
        srt_assert_dir(&s->dir[1], "resp", "server");
        g_assert_false(s->dir[0].ended || s->dir[1].ended);
    }
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.closed_rst, ==, 2);
    srt_check_pool_stats(e.pool, &e.rec);
    srt_env_close(&e);
}

/* An RST from a side that has sent nothing is judged by its ack (header:
 * "used only to judge an RST from a silent side"): one that does not
 * acknowledge the SYN is not that side's and is ignored; one that does, or
 * gives no ack (0 = unknown), resets the connection. */
static void test_rst_from_silent_side(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    for (uint32_t conn = 1; conn <= 2; conn++) {
        sr_flow fa, fb;
        srt_flow_ab(&fa, conn, false);
        srt_flow_ab(&fb, conn, true);
        sr_segment s = srt_seg(0xfffffffeu, SYN, NULL, 0, T0);
        SRT_ASSERT_ERR(sr_assemble_ex(e.a, &fa, &s, NULL, &e.last), SR_OK);
        uint64_t id = e.last.conn_id;
        s = srt_seg(777, RST | ACK, NULL, 0, T0);
        s.ack = 12345; /* not ISN + 1 */
        SRT_ASSERT_ERR(sr_assemble_ex(e.a, &fb, &s, NULL, &e.last), SR_OK);
        g_assert_false(e.last.status & SR_SEG_CLOSED);
        srt_stream *st = srt_env_stream(&e, id);
        g_assert_cmpint(st->completes, ==, 0);
        s = srt_seg(0xffffffffu, ACK, "still open", 10, T0);
        SRT_ASSERT_ERR(sr_assemble_ex(e.a, &fa, &s, NULL, &e.last), SR_OK);
        srt_assert_dir(&st->dir[0], "still open", "client");
        s = srt_seg(777, RST | ACK, NULL, 0, T0);
        s.ack = conn == 1 ? 0xffffffffu /* ISN + 1 */ : 0 /* unknown */;
        SRT_ASSERT_ERR(sr_assemble_ex(e.a, &fb, &s, NULL, &e.last), SR_OK);
        g_assert_true(e.last.status & SR_SEG_CLOSED);
        g_assert_cmpint(e.last.close_reason, ==, SR_CLOSE_RST);
        g_assert_cmpint(st->completes, ==, 1);
    }
    srt_env_close(&e);
}

/* ------------------------------------------------------------ port reuse, linger */

static uint64_t open_and_fin(srt_env *e, uint32_t conn, uint32_t isn_a, uint32_t isn_b,
                             sr_time t)
{
    SRT_ASSERT_ERR(srt_feed(e, conn, false, isn_a, SYN, NULL, t, NULL), SR_OK);
    uint64_t id = e->last.conn_id;
    SRT_ASSERT_ERR(srt_feed(e, conn, true, isn_b, SYN | ACK, NULL, t, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(e, conn, false, isn_a + 1, ACK, "hello", t, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(e, conn, false, isn_a + 6, ACK | FIN, NULL, t, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(e, conn, true, isn_b + 1, ACK | FIN, NULL, t, NULL), SR_OK);
    g_assert_true(e->last.status & SR_SEG_CLOSED);
    g_assert_cmpuint(e->last.conn_id, ==, id);
    return id;
}

static void test_port_reuse(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    uint64_t id1 = open_and_fin(&e, 1, 1000, 5000, T0);
    srt_stream *s1 = srt_env_stream(&e, id1);
    int callbacks = e.rec.callbacks;

    /* Late segments of the old connection. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 1001, ACK, "hello", T0 + 1, NULL),
               SR_ERR_CONNECTION_CLOSED);
    g_assert_true(e.last.status & SR_SEG_AFTER_CLOSE);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 5001, ACK | FIN, NULL, T0 + 1, NULL),
               SR_ERR_CONNECTION_CLOSED);
    /* The old SYN again (same ISN) is late too, so is a SYN+ACK. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 1000, SYN, NULL, T0 + 2, NULL), SR_ERR_CONNECTION_CLOSED);
    SRT_ASSERT_ERR(srt_feed(&e, 1, true, 7777, SYN | ACK, NULL, T0 + 2, NULL),
               SR_ERR_CONNECTION_CLOSED);
    g_assert_cmpint(e.rec.callbacks, ==, callbacks);
    sr_assembler_stats as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.after_close, ==, 4);
    g_assert_cmpuint(as.errors, ==, 4);
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.active_connections, ==, 1); /* lingering */

    /* A new SYN with a new ISN: a new connection on the same 4-tuple. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 424242, SYN, NULL, T0 + 3, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
    uint64_t id2 = e.last.conn_id;
    g_assert_cmpuint(id2, !=, id1);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 424243, ACK, "again", T0 + 3, NULL), SR_OK);
    g_assert_cmpuint(e.last.conn_id, ==, id2);
    srt_stream *s2 = srt_env_stream(&e, id2);
    srt_assert_dir(&s2->dir[0], "again", "new client");
    g_assert_cmpuint(s2->dir[0].flags_or, ==, SR_CHUNK_START);
    srt_assert_dir(&s1->dir[0], "hello", "old client");
    g_assert_cmpint(s1->completes, ==, 1);
    srt_env_close(&e);
}

/* After an RST, the other side reopens: it becomes the client. */
static void test_port_reuse_after_rst_reversed(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 2, false, 10, SYN, NULL, T0, NULL), SR_OK);
    uint64_t id1 = e.last.conn_id;
    SRT_ASSERT_ERR(srt_feed(&e, 2, true, 20, RST | ACK, NULL, T0, NULL), SR_OK);
    g_assert_cmpint(e.last.close_reason, ==, SR_CLOSE_RST);
    SRT_ASSERT_ERR(srt_feed(&e, 2, true, 999, SYN, NULL, T0 + 5, NULL), SR_OK);
    uint64_t id2 = e.last.conn_id;
    g_assert_cmpuint(id2, !=, id1);
    g_assert_cmpint(e.last.dir, ==, SR_DIR_CLIENT_TO_SERVER);
    SRT_ASSERT_ERR(srt_feed(&e, 2, true, 1000, ACK, "B first", T0 + 5, NULL), SR_OK);
    srt_stream *s2 = srt_env_stream(&e, id2);
    sr_flow b_to_a;
    srt_flow_ab(&b_to_a, 2, true);
    g_assert_true(srt_flow_endpoints_match(&s2->flow, &b_to_a));
    srt_assert_dir(&s2->dir[0], "B first", "new client");
    srt_env_close(&e);
}

static void test_linger_zero(void)
{
    sr_options o;
    sr_options_init(&o);
    o.closed_linger = 0;
    srt_env e;
    srt_env_open(&e, &o, 16);
    uint64_t id1 = open_and_fin(&e, 1, 1000, 5000, T0);
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.active_connections, ==, 0);
    /* Forgotten: a late segment starts a new connection (no SYN seen). */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 1001, ACK, "hello", T0 + 1, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
    g_assert_cmpuint(e.last.conn_id, !=, id1);
    srt_stream *s = srt_env_stream(&e, e.last.conn_id);
    srt_assert_dir(&s->dir[0], "hello", "late");
    g_assert_cmpuint(s->dir[0].flags_or & SR_CHUNK_START, ==, 0);
    srt_env_close(&e);
}

/* Lingering entries are forgotten by flush_older_than (closed before
 * its time) and by the periodic sweep once closed_linger has passed. */
static void test_linger_expiry(void)
{
    sr_options o;
    sr_options_init(&o);
    o.closed_linger = 5 * SR_USEC_PER_SEC;
    o.flush_interval = 1 * SR_USEC_PER_SEC;
    o.connection_timeout = 1000 * SR_USEC_PER_SEC;
    srt_env e;
    srt_env_open(&e, &o, 16);
    uint64_t id1 = open_and_fin(&e, 1, 1000, 5000, T0);
    uint64_t id2 = open_and_fin(&e, 2, 1000, 5000, T0);
    g_assert_cmpuint(srt_pool_stats(e.pool).active_connections, ==, 2);

    /* Explicit: forget what closed before T0 + 1. */
    size_t closed = 99;
    SRT_ASSERT_ERR(sr_assembler_flush_older_than(e.a, T0 + 1, NULL, NULL, &closed), SR_OK);
    g_assert_cmpuint(closed, ==, 0); /* nothing open was completed */
    g_assert_cmpuint(srt_pool_stats(e.pool).active_connections, ==, 0);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 1001, ACK, "late", T0 + 2, NULL), SR_OK);
    g_assert_cmpuint(e.last.conn_id, !=, id1);
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);

    /* Through the sweep: conn 3 closes at T1, other traffic long after
     * closed_linger (and several flush intervals) makes it forgotten. */
    const sr_time t1 = T0 + 100 * SR_USEC_PER_SEC;
    uint64_t id3 = open_and_fin(&e, 3, 1, 2, t1);
    SRT_ASSERT_ERR(srt_feed(&e, 3, false, 2, ACK, "x", t1 + 1, NULL), SR_ERR_CONNECTION_CLOSED);
    SRT_ASSERT_ERR(srt_feed(&e, 9, false, 1, ACK, "tick", t1 + 2 * SR_USEC_PER_SEC, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 9, false, 5, ACK, "tock", t1 + 20 * SR_USEC_PER_SEC, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 3, false, 2, ACK, "x", t1 + 21 * SR_USEC_PER_SEC, NULL), SR_OK);
    g_assert_cmpuint(e.last.conn_id, !=, id3);
    g_assert_cmpuint(e.last.conn_id, !=, id2);
    srt_env_close(&e);
}

/* ------------------------------------------------------------ callbacks */

static void test_nil_stream(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    g_atomic_int_set(&e.rec.refuse_next, 1);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 100, SYN, NULL, T0, NULL), SR_ERR_NIL_STREAM);
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.nil_streams, ==, 1);
    g_assert_cmpuint(ps.total_created, ==, 0);
    g_assert_cmpuint(ps.active_connections, ==, 0);
    g_assert_cmpuint(srt_asm_stats(e.a).errors, ==, 1);
    g_assert_cmpint(e.rec.new_calls, ==, 1);

    /* Nothing was kept: the next segment asks again and starts there. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 101, ACK, "data", T0, NULL), SR_OK);
    g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
    g_assert_cmpint(e.rec.new_calls, ==, 2);
    srt_stream *s = only_stream(&e);
    srt_assert_dir(&s->dir[0], "data", "client");
    g_assert_cmpuint(s->dir[0].flags_or & SR_CHUNK_START, ==, 0);

    /* Refusing both directions' first segments of another connection. */
    g_atomic_int_set(&e.rec.refuse_next, 2);
    SRT_ASSERT_ERR(srt_feed(&e, 2, false, 1, ACK, "x", T0, NULL), SR_ERR_NIL_STREAM);
    SRT_ASSERT_ERR(srt_feed(&e, 2, true, 1, ACK, "y", T0, NULL), SR_ERR_NIL_STREAM);
    ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.nil_streams, ==, 3);
    g_assert_cmpuint(ps.active_connections, ==, 1);
    srt_check_pool_stats(e.pool, &e.rec);
    srt_env_close(&e);
}

static int fail_first_data(srt_recorder *r, srt_stream *s, const sr_conn_info *info,
                           const sr_chunk *c, void *ctx)
{
    (void)r;
    (void)s;
    (void)info;
    (void)c;
    (void)ctx;
    return 1;
}

static void test_callback_error(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 100, SYN, NULL, T0, NULL), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 104, ACK, "def", T0, NULL), SR_OK); /* buffered */
    e.rec.data_hook = fail_first_data;
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 101, ACK, "abc", T0, NULL), SR_ERR_CALLBACK);
    g_assert_true(e.last.status & SR_SEG_CLOSED);
    g_assert_cmpint(e.last.close_reason, ==, SR_CLOSE_CALLBACK_ERROR);
    srt_stream *s = only_stream(&e);
    g_assert_cmpstr(sr_close_reason_name(s->close_reason), ==, "CALLBACK_ERROR");
    /* One chunk reached the callback, nothing after the error. */
    g_assert_cmpuint(s->dir[0].chunks->len, ==, 1);
    srt_assert_dir(&s->dir[0], "abc", "client");
    /* The remaining (buffered) bytes are counted as skipped. */
    g_assert_cmpuint(s->final_info.delivered[0] + s->final_info.skipped[0], ==, 6);
    g_assert_cmpuint(s->final_info.skipped[0], >=, 3);
    sr_assembler_stats as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.callback_errors, ==, 1);
    g_assert_cmpuint(as.errors, ==, 1);
    g_assert_cmpuint(as.pages_in_use, ==, 0);
    g_assert_cmpuint(as.bytes_delivered + as.bytes_skipped, ==, 6);
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.closed_callback_error, ==, 1);
    e.rec.data_hook = NULL;
    /* Later segments do not reach the aborted stream. */
    sr_error err = srt_feed(&e, 1, false, 107, ACK, "ghi", T0, NULL);
    g_assert_cmpint(err, ==, SR_ERR_CONNECTION_CLOSED);
    g_assert_cmpuint(s->dir[0].chunks->len, ==, 1);
    srt_env_close(&e);
}

/* Reentrancy: inside a callback, sr_assemble() on the same connection is
 * refused (no deadlock); on another connection it works. Runs in a child
 * with a timeout so that a deadlock fails the test instead of hanging. */
typedef struct reent {
    srt_env *e;
    sr_flow self, other;
    sr_error same, other_err, pool_close, asm_close, from_new, from_complete;
    int in_data, in_new, in_complete;
} reent;

static int reent_data(srt_recorder *r, srt_stream *s, const sr_conn_info *info,
                      const sr_chunk *c, void *ctx)
{
    (void)s;
    (void)c;
    (void)ctx;
    reent *x = r->hook_data;
    if (!srt_flow_endpoints_match(&info->flow, &x->self) || x->in_data++)
        return 0;
    sr_segment seg = srt_seg(2000, SR_TCP_ACK, "again", 5, T0);
    sr_result res;
    x->same = sr_assemble_ex(x->e->a, &x->self, &seg, NULL, &res);
    sr_flow rev = x->self;
    rev.src = x->self.dst;
    rev.dst = x->self.src;
    g_assert_cmpint(sr_assemble(x->e->a, &rev, &seg, NULL), ==, SR_ERR_REENTRANT);
    x->other_err = sr_assemble(x->e->a, &x->other, &seg, NULL);
    x->pool_close = sr_pool_close(x->e->pool);
    x->asm_close = sr_assembler_close(x->e->a);
    return 0;
}

static bool reent_new(srt_recorder *r, const sr_conn_info *info, void *ctx)
{
    (void)ctx;
    reent *x = r->hook_data;
    if (srt_flow_endpoints_match(&info->flow, &x->self) && !x->in_new++) {
        sr_segment seg = srt_seg(1, SR_TCP_ACK, "zz", 2, T0);
        x->from_new = sr_assemble(x->e->a, &x->self, &seg, NULL);
    }
    return false;
}

static void reent_complete(srt_recorder *r, srt_stream *s, const sr_conn_info *info,
                           sr_close_reason reason, void *ctx)
{
    (void)s;
    (void)reason;
    (void)ctx;
    reent *x = r->hook_data;
    if (srt_flow_endpoints_match(&info->flow, &x->self) && !x->in_complete++) {
        sr_segment seg = srt_seg(1, SR_TCP_SYN, NULL, 0, T0);
        x->from_complete = sr_assemble(x->e->a, &x->self, &seg, NULL);
    }
}

static void test_reentrant(void)
{
    if (!srt_subprocess_child()) {
        srt_run_in_subprocess(30);
        return;
    }
    srt_env e;
    srt_env_open(&e, NULL, 16);
    reent x;
    memset(&x, 0, sizeof x);
    x.e = &e;
    srt_flow_ab(&x.self, 1, false);
    srt_flow_ab(&x.other, 2, false);
    x.same = x.other_err = x.pool_close = x.asm_close = x.from_new = x.from_complete = -1;
    e.rec.hook_data = &x;
    e.rec.data_hook = reent_data;
    e.rec.refuse_hook = reent_new;
    e.rec.complete_hook = reent_complete;

    SRT_ASSERT_ERR(srt_feed_flow(&e, &x.self, 1000, SR_TCP_ACK, "first", 0, T0, NULL), SR_OK);
    g_assert_cmpint(x.in_new, ==, 1);
    g_assert_cmpint(x.in_data, >=, 1);
    g_assert_cmpstr(sr_err_name(x.from_new), ==, "SR_ERR_REENTRANT");
    g_assert_cmpstr(sr_err_name(x.same), ==, "SR_ERR_REENTRANT");
    g_assert_cmpstr(sr_err_name(x.other_err), ==, "SR_OK");
    g_assert_cmpstr(sr_err_name(x.pool_close), ==, "SR_ERR_REENTRANT");
    g_assert_cmpstr(sr_err_name(x.asm_close), ==, "SR_ERR_REENTRANT");
    g_assert_cmpuint(srt_recorder_count(&e.rec), ==, 2);
    srt_stream *s = srt_env_stream(&e, e.last.conn_id);
    srt_assert_dir(&s->dir[0], "first", "self");
    /* The refused reentrant segment was not delivered later either. */
    SRT_ASSERT_ERR(srt_feed_flow(&e, &x.self, 1005, SR_TCP_ACK, "!", 0, T0, NULL), SR_OK);
    srt_assert_dir(&s->dir[0], "first!", "self");
    bool found_other = false;
    for (unsigned i = 0; i < srt_recorder_count(&e.rec); i++) {
        srt_stream *o = srt_recorder_stream(&e.rec, i);
        if (o != s) {
            srt_assert_dir(&o->dir[0], "again", "other");
            found_other = true;
        }
    }
    g_assert_true(found_other);
    /* The pool and assembler still work: the refused closes did nothing. */
    SRT_ASSERT_ERR(srt_feed_flow(&e, &x.self, 1006, SR_TCP_RST, NULL, 0, T0, NULL), SR_OK);
    g_assert_cmpint(x.in_complete, ==, 1);
    g_assert_cmpstr(sr_err_name(x.from_complete), ==, "SR_ERR_REENTRANT");
    srt_env_close(&e);
}

/* packet_ctx reaches every callback the call causes. */
static void test_packet_ctx(void)
{
    sr_options o;
    sr_options_init(&o);
    o.flush_interval = SR_USEC_PER_SEC;
    o.connection_timeout = 10 * SR_USEC_PER_SEC;
    srt_env e;
    srt_env_open(&e, &o, 16);
    e.rec.keep_ctx = true;
    int c1, c2, c3, c4, c5;

    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 100, SYN, NULL, T0, &c1), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 104, ACK, "def", T0, &c2), SR_OK); /* buffered */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 101, ACK, "abc", T0, &c3), SR_OK);
    srt_stream *s = only_stream(&e);
    g_assert_true(s->ctx_new == &c1);
    g_assert_cmpuint(s->ctx_data->len, >=, 2);
    for (guint i = 0; i < s->ctx_data->len; i++)
        g_assert_true(g_ptr_array_index(s->ctx_data, i) == &c3);

    /* Buffered data released by flush_all carries flush_all's ctx. */
    SRT_ASSERT_ERR(srt_feed(&e, 1, false, 120, ACK, "xyz", T0, &c1), SR_OK);
    guint before = s->ctx_data->len;
    SRT_ASSERT_ERR(sr_assembler_flush_all(e.a, &c4, NULL), SR_OK);
    g_assert_cmpuint(s->ctx_data->len, >, before);
    for (guint i = before; i < s->ctx_data->len; i++)
        g_assert_true(g_ptr_array_index(s->ctx_data, i) == &c4);
    g_assert_true(s->ctx_complete == &c4);

    /* A timeout found by the sweep of another connection's segment. */
    SRT_ASSERT_ERR(srt_feed(&e, 2, false, 1, ACK, "a", T0 + 100 * SR_USEC_PER_SEC, &c1), SR_OK);
    uint64_t id2 = e.last.conn_id;
    SRT_ASSERT_ERR(srt_feed(&e, 2, false, 5, ACK, "c", T0 + 100 * SR_USEC_PER_SEC, &c1), SR_OK);
    SRT_ASSERT_ERR(srt_feed(&e, 3, false, 1, ACK, "b", T0 + 200 * SR_USEC_PER_SEC, &c5), SR_OK);
    srt_stream *s2 = srt_env_stream(&e, id2);
    g_assert_cmpint(s2->completes, ==, 1);
    g_assert_cmpstr(sr_close_reason_name(s2->close_reason), ==, "TIMEOUT");
    g_assert_true(s2->ctx_complete == &c5);
    /* Its buffered byte was flushed under the same ctx. */
    g_assert_true(g_ptr_array_index(s2->ctx_data, s2->ctx_data->len - 1) == &c5);

    /* flush_older_than's ctx. */
    SRT_ASSERT_ERR(sr_assembler_flush_older_than(e.a, T0 + 300 * SR_USEC_PER_SEC, &c2, NULL, NULL),
               SR_OK);
    srt_stream *s3 = srt_recorder_stream(&e.rec, 2);
    g_assert_true(s3->ctx_complete == &c2);
    srt_env_close(&e);
}

/* ------------------------------------------------------------ assemblers */

/* Two assemblers on one pool feed the same connection; each counts what
 * it delivered; closing one flushes the pages it buffered. */
static void test_two_assemblers(void)
{
    srt_env e;
    srt_env_open(&e, NULL, 16);
    sr_assembler *b = NULL;
    SRT_ASSERT_ERR(sr_assembler_new(e.pool, &e.opt, &b), SR_OK);
    sr_flow f;
    srt_flow_ab(&f, 1, false);
    sr_segment s = srt_seg(10, SYN, NULL, 0, T0);
    SRT_ASSERT_ERR(sr_assemble(e.a, &f, &s, NULL), SR_OK);
    s = srt_seg(11, ACK, "abc", 3, T0);
    SRT_ASSERT_ERR(sr_assemble(b, &f, &s, NULL), SR_OK);
    s = srt_seg(14, ACK, "def", 3, T0);
    SRT_ASSERT_ERR(sr_assemble(e.a, &f, &s, NULL), SR_OK);
    s = srt_seg(20, ACK, "jkl", 3, T0); /* buffered by b */
    SRT_ASSERT_ERR(sr_assemble(b, &f, &s, NULL), SR_OK);
    srt_stream *st = only_stream(&e);
    srt_assert_dir(&st->dir[0], "abcdef", "client");
    sr_assembler_stats sa = srt_asm_stats(e.a), sb = srt_asm_stats(b);
    g_assert_cmpuint(sa.bytes_delivered, ==, 3);
    g_assert_cmpuint(sb.bytes_delivered, ==, 3);
    g_assert_cmpuint(sa.pages_in_use, ==, 0);
    g_assert_cmpuint(sb.pages_in_use, >=, 1);

    SRT_ASSERT_ERR(sr_assembler_close(b), SR_OK);
    /* b's pages were flushed: the gap skipped, the data delivered. */
    srt_assert_dir(&st->dir[0], "abcdef<3>jkl", "client after close");
    g_assert_true(st->dir[0].flags_or & SR_CHUNK_FLUSHED);
    sr_assembler_stats sb2;
    if (sr_assembler_get_stats(b, &sb2) == SR_OK)
        g_assert_cmpuint(sb2.pages_in_use, ==, 0);
    /* The connection lives on through a. */
    s = srt_seg(23, ACK, "mno", 3, T0);
    SRT_ASSERT_ERR(sr_assemble(e.a, &f, &s, NULL), SR_OK);
    srt_assert_dir(&st->dir[0], "abcdef<3>jklmno", "client via a");
    sr_assembler_free(b);
    srt_env_close(&e);
}

/* sr_pool_close() completes what is still open in the order the
 * connections were made, whatever the table's (randomly seeded) hash order:
 * the same input gives the same callbacks on every run. */
static void record_completion(srt_recorder *r, srt_stream *s, const sr_conn_info *info,
                              sr_close_reason reason, void *ctx)
{
    (void)s;
    (void)info;
    (void)ctx;
    if (reason == SR_CLOSE_POOL_CLOSED)
        g_array_append_val((GArray *)r->hook_data, s->conn_id);
}

static void test_close_order(void)
{
    enum { N = 500 };
    srt_env e;
    GArray *order = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    srt_env_open(&e, NULL, N + 10);
    e.rec.complete_hook = record_completion;
    e.rec.hook_data = order;
    /* Ids follow creation; creation follows a shuffled connection number,
     * so the ids are not in the order of the addresses either. */
    for (uint32_t i = 0; i < N; i++) {
        uint32_t conn = (i * 7919u) % N + 1;
        SRT_ASSERT_ERR(srt_feed(&e, conn, false, 100, SYN, NULL, T0, NULL), SR_OK);
    }
    SRT_ASSERT_ERR(sr_pool_close(e.pool), SR_OK);
    g_assert_cmpuint(order->len, ==, N);
    for (guint i = 1; i < order->len; i++)
        if (g_array_index(order, uint64_t, i - 1) >= g_array_index(order, uint64_t, i))
            g_error("completion %u has id %" G_GUINT64_FORMAT " after id %" G_GUINT64_FORMAT, i,
                    g_array_index(order, uint64_t, i), g_array_index(order, uint64_t, i - 1));
    srt_env_close(&e);
    g_array_free(order, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lifecycle/direction/syn-sender-is-client", test_syn_sender_is_client);
    g_test_add_func("/lifecycle/flow/unordered-pair", test_unordered_pair);
    g_test_add_func("/lifecycle/flow/zones-and-ipv6", test_zones_and_ipv6);
    g_test_add_func("/lifecycle/fin/half-close", test_half_close);
    g_test_add_func("/lifecycle/fin/needs-all-data", test_fin_needs_all_data);
    g_test_add_func("/lifecycle/fin/data-beyond-fin", test_data_beyond_fin);
    g_test_add_func("/lifecycle/rst/either-side", test_rst_either_side);
    g_test_add_func("/lifecycle/rst/from-silent-side", test_rst_from_silent_side);
    g_test_add_func("/lifecycle/port-reuse/new-syn", test_port_reuse);
    g_test_add_func("/lifecycle/port-reuse/after-rst-reversed", test_port_reuse_after_rst_reversed);
    g_test_add_func("/lifecycle/linger/zero-forgets", test_linger_zero);
    g_test_add_func("/lifecycle/linger/expiry", test_linger_expiry);
    g_test_add_func("/lifecycle/callback/nil-stream", test_nil_stream);
    g_test_add_func("/lifecycle/callback/error", test_callback_error);
    g_test_add_func("/lifecycle/callback/reentrant", test_reentrant);
    g_test_add_func("/lifecycle/callback/packet-ctx", test_packet_ctx);
    g_test_add_func("/lifecycle/assembler/two-on-one-pool", test_two_assemblers);
    g_test_add_func("/lifecycle/pool/close-order", test_close_order);
    return g_test_run();
}
