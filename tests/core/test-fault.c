/* test-fault.c - allocation failure injection. A scenario (handshakes,
 * in-order and out-of-order data over several pages, retransmissions,
 * FIN, RST, evictions at max_connections, idle timeouts, flush_older_than,
 * flush_all, pool close) runs once cleanly to count the allocations it
 * makes through the sr_allocator, then once for every N with the Nth
 * allocation failing, and once for every N with every allocation from the
 * Nth on failing. Each run must: return only SR_OK or SR_ERR_NO_MEMORY
 * (and SR_ERR_CONNECTION_CLOSED for late segments), never crash, complete
 * every stream exactly once, keep delivered bytes correct and conserved,
 * count the failures, bring pages_in_use back to 0 and leak nothing.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <string.h>

#include "sr-test-util.h"

#define SYN SR_TCP_SYN
#define ACK SR_TCP_ACK
#define FIN SR_TCP_FIN
#define RST SR_TCP_RST
#define SEC SR_USEC_PER_SEC
#define T0 (3000 * SEC)
#define NCONN 5

static uint8_t content(uint32_t conn, bool b, uint64_t o)
{
    return srt_pattern_byte(conn * 2u + (b ? 1u : 0u), (size_t)o);
}

/* One step of the script: connection, sender, offset range, flags. */
typedef struct step {
    bool b;
    int64_t off; /* -1 = the SYN */
    uint32_t len;
    uint8_t flags;
} step;

/* Per connection: the same script; c % 3 picks the ending. */
static const step script[] = {
    {false, -1, 0, SYN},
    {true, -1, 0, SYN | ACK},
    {false, 0, 10, ACK},
    {false, 30, 10, ACK},      /* out of order, 3 pages of 4 */
    {false, 50, 2, ACK},       /* out of order */
    {true, 0, 20, ACK},
    {false, 32, 6, ACK},       /* retransmission inside a buffered run */
    {false, 10, 20, ACK},      /* fills the hole: 0..40 delivered */
    {true, 30, 5, ACK},        /* out of order */
    {false, 40, 10, ACK},
};

typedef struct scen {
    srt_recorder rec;
    srt_alloc al;
    sr_pool *pool;
    sr_assembler *a;
    uint32_t isn[NCONN + 1][2];
    /* Segment start offsets sent per connection/direction (for content). */
    uint64_t starts[NCONN + 1][2][16];
    unsigned nstarts[NCONN + 1][2];
    unsigned errors_seen;
    uint64_t failures_in_use; /* allocator failures while the assembler ran */
} scen;

static void check_err(sr_error err)
{
    if (err != SR_OK && err != SR_ERR_NO_MEMORY && err != SR_ERR_CONNECTION_CLOSED)
        g_error("unexpected %s under allocation failure", sr_err_name(err));
}

static void check_pages(scen *s, const sr_options *o)
{
    sr_assembler_stats st = srt_asm_stats(s->a);
    g_assert_cmpuint(st.pages_in_use, <=, o->max_buffered_pages_total);
}

static sr_error send(scen *s, uint32_t c, const step *st, sr_time ts)
{
    uint8_t buf[64];
    sr_flow f;
    srt_flow_ab(&f, c, st->b);
    uint32_t isn = s->isn[c][st->b];
    uint32_t seq = st->off < 0 ? isn : isn + 1u + (uint32_t)st->off;
    for (uint32_t i = 0; i < st->len; i++)
        buf[i] = content(c, st->b, (uint64_t)st->off + i);
    if (st->len && s->nstarts[c][st->b] < 16)
        s->starts[c][st->b][s->nstarts[c][st->b]++] = (uint64_t)st->off;
    sr_segment seg = srt_seg(seq, st->flags, st->len ? buf : NULL, st->len, ts);
    sr_result res;
    uint64_t before = s->al.failures;
    sr_error err = sr_assemble_ex(s->a, &f, &seg, NULL, &res);
    s->failures_in_use += s->al.failures - before;
    check_err(err);
    if (err != SR_OK)
        s->errors_seen++;
    if (err == SR_OK || err == SR_ERR_NO_MEMORY)
        srt_check_result(&s->rec, &res);
    return err;
}

/* The delivered bytes of a direction are the pattern at some base: the
 * stream offset 0 is the first byte sent if the SYN made it, else the
 * start of whichever segment created the direction. */
static void verify_stream(scen *s, srt_stream *st)
{
    for (uint32_t c = 1; c <= NCONN; c++) {
        sr_flow fa, fb;
        srt_flow_ab(&fa, c, false);
        srt_flow_ab(&fb, c, true);
        bool a_client = srt_flow_endpoints_match(&st->flow, &fa);
        if (!a_client && !srt_flow_endpoints_match(&st->flow, &fb))
            continue;
        for (int d = 0; d < 2; d++) {
            bool b = a_client ? d == 1 : d == 0; /* the sender of direction d */
            srt_dir_rec *dr = &st->dir[d];
            if (dr->chunks->len == 0)
                continue;
            bool ok = false;
            for (unsigned k = 0; k <= s->nstarts[c][b] && !ok; k++) {
                uint64_t base = k == 0 ? 0 : s->starts[c][b][k - 1];
                bool match = true;
                size_t pos = 0;
                for (guint i = 0; i < dr->chunks->len && match; i++) {
                    srt_chunk_rec *ch = &g_array_index(dr->chunks, srt_chunk_rec, i);
                    for (size_t j = 0; j < ch->len && match; j++)
                        match = dr->data->data[pos + j] == content(c, b, base + ch->offset + j);
                    pos += ch->len;
                }
                ok = match;
            }
            if (!ok)
                g_error("connection %u sender %c: delivered bytes match no stream base", c,
                        b ? 'B' : 'A');
        }
        return;
    }
    g_error("stream for an unknown flow");
}

/* Returns the number of allocation attempts made. */
static uint64_t run(uint64_t fail_at, uint64_t fail_from)
{
    scen s;
    memset(&s, 0, sizeof s);
    srt_recorder_init(&s.rec);
    srt_alloc_init(&s.al);
    s.al.fail_at = fail_at;
    s.al.fail_from = fail_from;
    for (uint32_t c = 1; c <= NCONN; c++) {
        s.isn[c][0] = c == 2 ? 0xfffffff5u : 1000u * c;
        s.isn[c][1] = c == 3 ? 0xffffffffu : 7000u * c;
    }
    sr_options o;
    sr_options_init(&o);
    o.page_size = 4;
    o.max_buffered_pages_per_connection = 5;
    o.max_buffered_pages_total = 7;
    o.connection_timeout = 5 * SEC;
    o.flush_interval = 1 * SEC;
    s.rec.max_conn_pages = o.max_buffered_pages_per_connection;

    sr_stream_factory f = srt_recorder_factory(&s.rec);
    sr_allocator al = srt_alloc_allocator(&s.al);
    sr_error err = SR_ERR_THREAD;
    s.pool = sr_pool_new_with_allocator(&f, 3, &al, &err);
    if (!s.pool) {
        g_assert_cmpstr(sr_err_name(err), ==, "SR_ERR_NO_MEMORY");
        goto out;
    }
    g_assert_cmpint(err, ==, SR_OK);
    err = sr_assembler_new(s.pool, &o, &s.a);
    if (err != SR_OK) {
        g_assert_cmpstr(sr_err_name(err), ==, "SR_ERR_NO_MEMORY");
        g_assert_null(s.a);
        sr_pool_free(s.pool);
        goto out;
    }

    /* Connections 1-3 round-robin through the script (they fit the table
     * of 3), then end; then 4-5 do the same, evicting older ones. */
    sr_time t = T0;
    for (uint32_t first = 1; first <= NCONN; first += 3) {
        uint32_t last = MIN(first + 2, NCONN);
        for (size_t k = 0; k < G_N_ELEMENTS(script); k++) {
            for (uint32_t c = first; c <= last; c++) {
                send(&s, c, &script[k], t);
                check_pages(&s, &o);
                t += SEC / 10;
            }
        }
        /* Endings: c % 3 == 0 RST, 1 FIN both ways, 2 stays open. */
        for (uint32_t c = first; c <= last; c++) {
            if (c % 3 == 0) {
                step st = {false, 50, 0, RST | ACK};
                send(&s, c, &st, t);
            } else if (c % 3 == 1) {
                step f1 = {false, 52, 0, FIN | ACK};
                step b1 = {true, 20, 10, ACK};
                step f2 = {true, 35, 0, FIN | ACK};
                send(&s, c, &f1, t);
                send(&s, c, &b1, t);
                send(&s, c, &f2, t);
            }
            check_pages(&s, &o);
        }
    }
    /* A late retransmission after RST/FIN: CONNECTION_CLOSED is fine. */
    step late = {false, 0, 4, ACK};
    send(&s, 3, &late, t);
    /* A fresh connection long after: the sweep times out the open ones. */
    step fresh = {false, 0, 8, ACK};
    send(&s, NCONN, &fresh, t + 60 * SEC);
    check_pages(&s, &o);
    size_t closed = 0, flushed = 0;
    uint64_t before = s.al.failures;
    err = sr_assembler_flush_older_than(s.a, t + 30 * SEC, NULL, &flushed, &closed);
    g_assert_cmpstr(sr_err_name(err), ==, "SR_OK");
    err = sr_assembler_flush_all(s.a, NULL, &closed);
    g_assert_cmpstr(sr_err_name(err), ==, "SR_OK");
    s.failures_in_use += s.al.failures - before;

    sr_assembler_stats st = srt_asm_stats(s.a);
    g_assert_cmpuint(st.pages_in_use, ==, 0);
    g_assert_cmpuint(st.pages_peak, <=, o.max_buffered_pages_total);
    if (s.failures_in_use > 0)
        g_assert_cmpuint(st.no_memory, >=, 1);
    else
        g_assert_cmpuint(st.no_memory, ==, 0);
    g_assert_cmpuint(st.errors, ==, s.errors_seen);
    srt_check_pool_stats(s.pool, &s.rec);
    srt_check_asm_bytes(s.a, &s.rec);

    g_assert_cmpint(sr_pool_close(s.pool), ==, SR_OK);
    sr_assembler_free(s.a);
    sr_pool_free(s.pool);
    srt_check_conservation(&s.rec, true);
    for (unsigned i = 0; i < srt_recorder_count(&s.rec); i++)
        verify_stream(&s, srt_recorder_stream(&s.rec, i));
    if (fail_at == 0 && fail_from == 0) {
        /* The clean run: no error but the deliberate late segment, and all
         * five connections (plus the fresh one) were streams. */
        g_assert_cmpuint(s.errors_seen, <=, 1);
        g_assert_cmpuint(srt_recorder_count(&s.rec), >=, NCONN);
        g_assert_cmpuint(st.evictions, >=, 1);
        g_assert_cmpuint(st.limit_hits_connection + st.limit_hits_total, >=, 1);
    }
out:;
    uint64_t attempts = s.al.attempts;
    g_assert_cmpint(srt_alloc_live(&s.al), ==, 0);
    g_assert_cmpuint(s.al.bad_frees, ==, 0);
    srt_alloc_clear(&s.al);
    srt_recorder_clear(&s.rec);
    return attempts;
}

static void test_fail_nth(void)
{
    uint64_t n = run(0, 0);
    g_test_message("clean run: %" G_GUINT64_FORMAT " allocations", n);
    g_assert_cmpuint(n, >=, 10); /* connections and pages do go through it */
    for (uint64_t i = 1; i <= n + 1; i++) {
        g_test_message("failing allocation %" G_GUINT64_FORMAT, i);
        run(i, 0);
    }
}

static void test_fail_from_nth(void)
{
    uint64_t n = run(0, 0);
    for (uint64_t i = 1; i <= n + 1; i++) {
        g_test_message("failing allocations from %" G_GUINT64_FORMAT, i);
        run(0, i);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/fault/alloc/fail-nth", test_fail_nth);
    g_test_add_func("/fault/alloc/fail-from-nth", test_fail_from_nth);
    return g_test_run();
}
