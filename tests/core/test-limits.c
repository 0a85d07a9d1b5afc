/* test-limits.c - the page limits: per connection and total, hard caps
 * checked after every single call (srt_feed checks sr_result.conn_pages and
 * the assembler's pages_in_use / pages_peak each time, the recorder checks
 * sr_conn_info.pages_buffered in every callback), what a limit hit flushes,
 * the segment filling the hole at the delivery edge always admitted, and
 * page accounting back to zero.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <string.h>

#include "sr-test-util.h"

#define SYN SR_TCP_SYN
#define ACK SR_TCP_ACK
#define FIN SR_TCP_FIN
#define T0 (5000 * SR_USEC_PER_SEC)

/* Send bytes [off, off+len) of a stream whose ISN is isn (data at isn+1). */
static sr_error send_range(srt_env *e, uint32_t conn, bool b, uint32_t isn, uint64_t off,
                           size_t len, uint8_t flags, sr_time ts)
{
    uint8_t *buf = g_malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        buf[i] = srt_conn_byte(conn, b, off + i);
    sr_flow f;
    srt_flow_ab(&f, conn, b);
    sr_error err = srt_feed_raw(e, &f, isn + 1u + (uint32_t)off, flags, buf, len, 0, ts, NULL);
    g_free(buf);
    return err;
}

static void handshake(srt_env *e, uint32_t conn, uint32_t isn_a, uint32_t isn_b)
{
    sr_flow f;
    srt_flow_ab(&f, conn, false);
    g_assert_cmpint(srt_feed_raw(e, &f, isn_a, SYN, NULL, 0, 0, T0, NULL), ==, SR_OK);
    srt_flow_ab(&f, conn, true);
    g_assert_cmpint(srt_feed_raw(e, &f, isn_b, SYN | ACK, NULL, 0, 0, T0, NULL), ==, SR_OK);
}

static srt_stream *stream_of(srt_env *e, uint32_t conn)
{
    /* Streams were created in connection order 1, 2, ... in these tests. */
    return srt_recorder_stream(&e->rec, conn - 1);
}

static void verify(srt_env *e, uint32_t conn)
{
    srt_stream *s = stream_of(e, conn);
    srt_who wa = {conn, false}, wb = {conn, true};
    srt_verify_content(&s->dir[0], srt_expect_conn, &wa, "client content");
    srt_verify_content(&s->dir[1], srt_expect_conn, &wb, "server content");
}

/* ------------------------------------------------------------ per connection */

static void test_per_connection(void)
{
    sr_options o = srt_options(8, 3, 1000);
    srt_env e;
    srt_env_open(&e, &o, 16);
    const uint32_t isn = 0xfffffff0u;
    handshake(&e, 1, isn, 7);
    /* Three single bytes far apart: three pages, the connection's limit. */
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(send_range(&e, 1, false, isn, 20 + 20 * (uint64_t)i, 1, ACK, T0), ==, SR_OK);
        g_assert_true(e.last.status & SR_SEG_OUT_OF_ORDER);
        g_assert_false(e.last.status & (SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL));
        g_assert_cmpuint(e.last.conn_pages, ==, (size_t)i + 1);
    }
    srt_stream *s = stream_of(&e, 1);
    g_assert_cmpuint(s->dir[0].chunks->len, ==, 0);

    /* The fourth: limit hit, the earliest run goes out (gap 0..20 skipped,
     * byte 20 delivered), then it fits. */
    g_assert_cmpint(send_range(&e, 1, false, isn, 80, 1, ACK, T0), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_LIMIT_CONNECTION);
    g_assert_true(e.last.status & SR_SEG_OUT_OF_ORDER);
    g_assert_false(e.last.status & SR_SEG_LIMIT_TOTAL);
    g_assert_cmpuint(e.last.conn_pages, ==, 3);
    g_assert_cmpuint(s->dir[0].skipped, ==, 20);
    g_assert_cmpuint(s->dir[0].data->len, ==, 1);
    g_assert_true(s->dir[0].flags_or & SR_CHUNK_FLUSHED);
    g_assert_cmpuint(e.last.skipped[0], ==, 20);
    g_assert_cmpuint(e.last.delivered[0], ==, 1);

    /* The other direction shares the connection's budget. */
    g_assert_cmpint(send_range(&e, 1, true, 7, 50, 1, ACK, T0), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_LIMIT_CONNECTION);
    g_assert_cmpuint(e.last.conn_pages, <=, 3);

    sr_assembler_stats as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.limit_hits_connection, ==, 2);
    g_assert_cmpuint(as.limit_hits_total, ==, 0);
    g_assert_cmpuint(as.pages_peak, ==, 3);

    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.pages_in_use, ==, 0);
    verify(&e, 1);
    /* Everything buffered came out: 4 client bytes and 1 server byte. */
    g_assert_cmpuint(s->dir[0].data->len, ==, 4);
    g_assert_cmpuint(s->dir[0].reached, ==, 81);
    g_assert_cmpuint(s->dir[1].data->len, ==, 1);
    srt_env_close(&e);
}

/* ------------------------------------------------------------ total */

static void test_total(void)
{
    sr_options o = srt_options(8, 3, 5);
    srt_env e;
    srt_env_open(&e, &o, 16);
    handshake(&e, 1, 100, 200);
    handshake(&e, 2, 0xffffffffu, 300);
    handshake(&e, 3, 5, 6);
    for (int i = 0; i < 3; i++)
        g_assert_cmpint(send_range(&e, 1, false, 100, 10 + 20 * (uint64_t)i, 1, ACK, T0), ==, SR_OK);
    for (int i = 0; i < 2; i++)
        g_assert_cmpint(send_range(&e, 2, false, 0xffffffffu, 10 + 20 * (uint64_t)i, 1, ACK, T0),
                        ==, SR_OK);
    sr_assembler_stats as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.pages_in_use, ==, 5);

    /* Connection 2 wants a sixth page: it flushes its own earliest run. */
    g_assert_cmpint(send_range(&e, 2, false, 0xffffffffu, 50, 1, ACK, T0), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_LIMIT_TOTAL);
    g_assert_false(e.last.status & SR_SEG_LIMIT_CONNECTION);
    g_assert_cmpuint(stream_of(&e, 2)->dir[0].skipped, ==, 10);
    g_assert_cmpuint(stream_of(&e, 2)->dir[0].data->len, ==, 1);
    g_assert_cmpuint(stream_of(&e, 1)->dir[0].chunks->len, ==, 0); /* untouched */

    /* Connection 3 holds nothing: the gap before its segment is skipped
     * and the segment delivered. */
    g_assert_cmpint(send_range(&e, 3, false, 5, 0, 2, ACK, T0), ==, SR_OK);
    g_assert_cmpint(send_range(&e, 3, false, 5, 100, 4, ACK, T0), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_LIMIT_TOTAL);
    srt_stream *s3 = stream_of(&e, 3);
    g_assert_cmpuint(s3->dir[0].data->len, ==, 6);
    g_assert_cmpuint(s3->dir[0].skipped, ==, 98);
    g_assert_cmpuint(e.last.conn_pages, ==, 0);
    g_assert_cmpuint(stream_of(&e, 1)->dir[0].chunks->len, ==, 0);
    as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.limit_hits_total, ==, 2);
    g_assert_cmpuint(as.limit_hits_connection, ==, 0);
    g_assert_cmpuint(as.pages_peak, ==, 5);

    /* Connection 1 fills its hole: everything contiguous comes out. */
    g_assert_cmpint(send_range(&e, 1, false, 100, 0, 10, ACK, T0), ==, SR_OK);
    g_assert_false(e.last.status & (SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL));
    g_assert_cmpuint(stream_of(&e, 1)->dir[0].data->len, ==, 11);
    g_assert_cmpuint(e.last.conn_pages, ==, 2);

    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);
    for (uint32_t c = 1; c <= 3; c++)
        verify(&e, c);
    srt_env_close(&e);
}

/* ------------------------------------------------------------ hole filler */

/* With every page in use, in-order data (even large, even hitting many
 * buffered pages) is admitted and no limit is reported. */
static void test_hole_filler_admitted(void)
{
    sr_options o = srt_options(4, 4, 4);
    srt_env e;
    srt_env_open(&e, &o, 16);
    handshake(&e, 1, 1000, 2000);
    handshake(&e, 2, 1, 2);
    /* Connection 2 takes the whole budget (4 pages of 4). */
    for (int i = 0; i < 4; i++)
        g_assert_cmpint(send_range(&e, 2, false, 1, 100 + 10 * (uint64_t)i, 1, ACK, T0), ==,
                        SR_OK);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 4);

    /* Connection 1: in-order data of every size, nothing flushed. */
    uint64_t off = 0;
    const size_t sizes[] = {1, 7, 100, 5000, 65535};
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_assert_cmpint(send_range(&e, 1, false, 1000, off, sizes[i], ACK, T0), ==, SR_OK);
        g_assert_true(e.last.status & SR_SEG_IN_ORDER);
        g_assert_false(e.last.status & (SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL));
        off += sizes[i];
    }
    srt_stream *s1 = stream_of(&e, 1);
    g_assert_cmpuint(s1->dir[0].data->len, ==, off);
    g_assert_cmpuint(s1->dir[0].skipped, ==, 0);
    g_assert_cmpuint(stream_of(&e, 2)->dir[0].chunks->len, ==, 0);

    /* Connection 2 fills its hole at the edge although no page is free;
     * its buffered bytes follow. */
    g_assert_cmpint(send_range(&e, 2, false, 1, 0, 100, ACK, T0), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_IN_ORDER);
    g_assert_false(e.last.status & (SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL));
    srt_stream *s2 = stream_of(&e, 2);
    g_assert_cmpuint(s2->dir[0].data->len, ==, 101);
    g_assert_cmpuint(s2->dir[0].skipped, ==, 0);
    /* A segment overlapping the edge (old head, new tail) counts as in order. */
    g_assert_cmpint(send_range(&e, 2, false, 1, 95, 15, ACK, T0), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_IN_ORDER);
    g_assert_false(e.last.status & (SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL));
    g_assert_cmpuint(s2->dir[0].data->len, ==, 111);
    g_assert_cmpuint(s2->dir[0].skipped, ==, 0);
    sr_assembler_stats as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.limit_hits_connection + as.limit_hits_total, ==, 0);
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    verify(&e, 1);
    verify(&e, 2);
    srt_env_close(&e);
}

/* A single out-of-order segment needing more pages than the connection may
 * ever hold: skipped up to and delivered, never buffered. */
static void test_segment_larger_than_limit(void)
{
    sr_options o = srt_options(4, 2, 2);
    srt_env e;
    srt_env_open(&e, &o, 16);
    handshake(&e, 1, 0, 0);
    g_assert_cmpint(send_range(&e, 1, false, 0, 0, 3, ACK, T0), ==, SR_OK);
    g_assert_cmpint(send_range(&e, 1, false, 0, 50, 1000, ACK, T0), ==, SR_OK);
    g_assert_true(e.last.status & (SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL));
    g_assert_cmpuint(e.last.conn_pages, ==, 0);
    srt_stream *s = stream_of(&e, 1);
    g_assert_cmpuint(s->dir[0].data->len, ==, 1003);
    g_assert_cmpuint(s->dir[0].skipped, ==, 47);
    /* Continues in order afterwards. */
    g_assert_cmpint(send_range(&e, 1, false, 0, 1050, 10, ACK, T0), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_IN_ORDER);
    g_assert_cmpuint(s->dir[0].data->len, ==, 1013);
    verify(&e, 1);
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    srt_env_close(&e);
}

/* ------------------------------------------------------------ random, every call */

typedef struct rconn {
    uint32_t isn[2];
    bool syn;
    bool started[2];
} rconn;

static unsigned random_hits_conn, random_hits_total;

static void run_random(uint64_t seed)
{
    srt_rng r = {seed};
    static const size_t page_sizes[] = {1, 3, 8, 64, 1900};
    size_t ps = page_sizes[srt_below(&r, G_N_ELEMENTS(page_sizes))];
    size_t per = 1 + srt_below(&r, 6);
    size_t total = per + srt_below(&r, (uint32_t)(3 * per));
    uint32_t nconn = 2 + srt_below(&r, 10);
    g_test_message("seed %" G_GUINT64_FORMAT ": page %zu per %zu total %zu conns %u", seed, ps,
                   per, total, nconn);
    sr_options o = srt_options(ps, per, total);
    srt_env e;
    srt_env_open(&e, &o, 64);
    rconn *rc = g_new0(rconn, nconn + 1);
    const uint64_t L = 400;
    unsigned n_lc = 0, n_lt = 0;
    for (uint32_t c = 1; c <= nconn; c++) {
        rc[c].isn[0] = (uint32_t)srt_rand(&r);
        rc[c].isn[1] = (uint32_t)srt_rand(&r);
        if (srt_below(&r, 4) == 0)
            rc[c].isn[0] = srt_isns[srt_below(&r, 4)];
        rc[c].syn = srt_below(&r, 2);
        if (rc[c].syn)
            handshake(&e, c, rc[c].isn[0], rc[c].isn[1]);
    }
    for (int step = 0; step < 600; step++) {
        uint32_t c = 1 + srt_below(&r, nconn);
        bool b = rc[c].started[0] ? srt_below(&r, 2) : false; /* A speaks first */
        uint64_t off;
        if (!rc[c].started[b] && !rc[c].syn)
            off = 0; /* without SYN the first segment defines offset 0 */
        else
            off = srt_below(&r, (uint32_t)L);
        size_t len = 1 + srt_below(&r, 40);
        if (off + len > L)
            len = (size_t)(L - off);
        rc[c].started[b] = true;
        sr_error err = send_range(&e, c, b, rc[c].isn[b], off, len, ACK, T0 + step);
        g_assert_cmpint(err, ==, SR_OK);
        n_lc += !!(e.last.status & SR_SEG_LIMIT_CONNECTION);
        n_lt += !!(e.last.status & SR_SEG_LIMIT_TOTAL);
    }
    sr_assembler_stats as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.limit_hits_connection, ==, n_lc);
    g_assert_cmpuint(as.limit_hits_total, ==, n_lt);
    random_hits_conn += n_lc;
    random_hits_total += n_lt;
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.pages_in_use, ==, 0);
    g_assert_cmpuint(as.pages_peak, <=, total);
    for (unsigned i = 0; i < srt_recorder_count(&e.rec); i++) {
        srt_stream *s = srt_recorder_stream(&e.rec, i);
        /* Which connection: match the flow. */
        for (uint32_t c = 1; c <= nconn; c++) {
            sr_flow f;
            srt_flow_ab(&f, c, false);
            if (srt_flow_endpoints_match(&s->flow, &f)) {
                srt_who wa = {c, false}, wb = {c, true};
                srt_verify_content(&s->dir[0], srt_expect_conn, &wa, "client content");
                srt_verify_content(&s->dir[1], srt_expect_conn, &wb, "server content");
                g_assert_cmpuint(s->dir[0].reached, <=, L);
                g_assert_cmpuint(s->dir[1].reached, <=, L);
            }
        }
    }
    srt_check_pool_stats(e.pool, &e.rec);
    g_assert_cmpuint(srt_recorder_count(&e.rec), ==, nconn);
    g_free(rc);
    srt_env_close(&e);
}

static void test_random_every_call(void)
{
    for (uint64_t seed = 1; seed <= 60; seed++)
        run_random(seed);
    /* The configurations are tight enough that both limits were hit. */
    g_test_message("limit hits: connection %u, total %u", random_hits_conn, random_hits_total);
    g_assert_cmpuint(random_hits_conn, >, 100);
    g_assert_cmpuint(random_hits_total, >, 100);
}

/* ------------------------------------------------------------ accounting */

/* Pages and allocator bytes return to their baseline: after a flush, after
 * FIN, after pool close. */
static void test_accounting_back_to_zero(void)
{
    sr_options o = srt_options(16, 50, 100);
    srt_env e;
    srt_env_open(&e, &o, 16);
    int64_t base = srt_alloc_live(&e.alloc);
    handshake(&e, 1, 10, 20);
    for (int i = 0; i < 20; i++)
        g_assert_cmpint(send_range(&e, 1, false, 10, 100 + 17 * (uint64_t)i, 9, ACK, T0), ==,
                        SR_OK);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, >=, 20);
    g_assert_cmpint(srt_alloc_live(&e.alloc), >, base);
    size_t closed = 0;
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, &closed), ==, SR_OK);
    g_assert_cmpuint(closed, ==, 1);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);

    /* A connection completed by FIN releases its pages too. */
    handshake(&e, 2, 1, 1);
    g_assert_cmpint(send_range(&e, 2, false, 1, 10, 5, ACK | FIN, T0), ==, SR_OK);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, >=, 1);
    g_assert_cmpint(send_range(&e, 2, false, 1, 0, 10, ACK, T0), ==, SR_OK);
    g_assert_cmpint(send_range(&e, 2, true, 1, 0, 0, ACK | FIN, T0), ==, SR_OK);
    g_assert_true(e.last.status & SR_SEG_CLOSED);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);

    /* Pool close with pages held. */
    handshake(&e, 3, 1, 1);
    g_assert_cmpint(send_range(&e, 3, false, 1, 10, 5, ACK, T0), ==, SR_OK);
    g_assert_cmpint(sr_pool_close(e.pool), ==, SR_OK);
    sr_assembler_stats as;
    if (sr_assembler_get_stats(e.a, &as) == SR_OK)
        g_assert_cmpuint(as.pages_in_use, ==, 0);
    for (uint32_t c = 1; c <= 3; c++)
        verify(&e, c);
    srt_env_close(&e); /* asserts the allocator is back to zero */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pages/limit/per-connection", test_per_connection);
    g_test_add_func("/pages/limit/total", test_total);
    g_test_add_func("/pages/limit/hole-filler-admitted", test_hole_filler_admitted);
    g_test_add_func("/pages/limit/segment-larger-than-limit", test_segment_larger_than_limit);
    g_test_add_func("/pages/limit/random-checked-every-call", test_random_every_call);
    g_test_add_func("/pages/accounting/back-to-zero", test_accounting_back_to_zero);
    return g_test_run();
}
