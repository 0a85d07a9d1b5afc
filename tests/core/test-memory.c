/* test-memory.c - what an open connection with nothing buffered costs the
 * core. N connections each get a handshake and a few bytes each way, all
 * delivered in order, and stay open; the bytes the core holds for them are
 * measured two ways and bounded per connection, so a regression fails:
 *  - through the pool's sr_allocator: everything the core allocates itself
 *    (connection, rings, cold parts, IPv6 addresses), as requested;
 *  - with mallinfo2(): the heap in use, the table GLib allocates for the
 *    pool and malloc's own overhead included (not under sanitizers, which
 *    replace malloc).
 * Also: a direction whose out-of-order data was filled in gives its cold
 * part back (costs what an in-order one costs), a segment that needs the
 * cold part for its counts is refused whole when it cannot be made, and
 * everything goes back to zero at pool close. The figures are printed (g_test_message; run with
 * --verbose) and written to docs/library.md, "Memory per connection".
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <malloc.h>
#include <string.h>

#include "sr-test-util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SRT_HEAP_MEASURABLE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                     \
    __has_feature(memory_sanitizer)
#define SRT_HEAP_MEASURABLE 0
#endif
#endif
#ifndef SRT_HEAP_MEASURABLE
#define SRT_HEAP_MEASURABLE 1
#endif

#define NCONN 20000

/* Bounds, measured (IPv4, default options; glibc x86-64) with headroom:
 *   allocator: 200 B connection + 2 x 24 B rings of 8 bytes = 248 B
 *   heap:      208 + 2 x 32 malloc chunks + the table's slots = 299 B
 *              (293 B with GLib's table)
 * (before the hot/cold split: 672 B and 754 B). */
#define BOUND_ALLOC_V4 270
#define BOUND_HEAP_V4 340
/* IPv6 adds its 32 address bytes behind a pointer. */
#define BOUND_ALLOC_V6 300

typedef struct counting {
    size_t live;     /* bytes allocated and not freed */
    size_t peak;
    int fail;        /* fail this many allocations from now on */
} counting;

/* Calls into c_alloc, all countings together. */
static unsigned cnt_calls;

static void *c_alloc(void *ud, size_t size)
{
    counting *c = ud;
    cnt_calls++;
    if (c->fail > 0) {
        c->fail--;
        return NULL;
    }
    void *p = malloc(size);
    if (p) {
        c->live += size;
        if (c->live > c->peak)
            c->peak = c->live;
    }
    return p;
}

static void c_free(void *ud, void *p, size_t size)
{
    counting *c = ud;
    if (p) {
        g_assert_cmpuint(c->live, >=, size);
        c->live -= size;
    }
    free(p);
}

static int stream_token;

static void *m_new(void *ud, const sr_conn_info *i, void *ctx)
{
    (void)ud, (void)i, (void)ctx;
    return &stream_token;
}

static int m_data(void *ud, void *st, const sr_conn_info *i, const sr_chunk *c, void *ctx)
{
    (void)st, (void)i, (void)ctx;
    size_t *delivered = ud;
    *delivered += c->len;
    return 0;
}

static void m_complete(void *ud, void *st, const sr_conn_info *i, sr_close_reason r, void *ctx)
{
    (void)ud, (void)st, (void)i, (void)r, (void)ctx;
}

static void flow_of(sr_flow *f, unsigned n, bool v6, bool from_client)
{
    uint32_t cli = 0x0a000000u + n, srv = 0xc0a80001u;
    if (!v6) {
        if (from_client)
            sr_flow_set_ipv4(f, g_htonl(cli), (uint16_t)(1024 + n % 50000), g_htonl(srv), 80);
        else
            sr_flow_set_ipv4(f, g_htonl(srv), 80, g_htonl(cli), (uint16_t)(1024 + n % 50000));
        return;
    }
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8}, b[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff};
    memcpy(a + 12, &cli, 4);
    b[15] = 1;
    if (from_client)
        sr_flow_set_ipv6(f, a, (uint16_t)(1024 + n % 50000), b, 443);
    else
        sr_flow_set_ipv6(f, b, 443, a, (uint16_t)(1024 + n % 50000));
}

static void feed(sr_assembler *a, unsigned n, bool v6, bool from_client, uint32_t seq,
                 uint32_t ack, uint8_t flags, const char *payload, sr_time t)
{
    sr_flow f;
    flow_of(&f, n, v6, from_client);
    sr_segment s = {.seq = seq, .ack = ack, .flags = flags, .payload = (const uint8_t *)payload,
                    .payload_len = payload ? strlen(payload) : 0, .timestamp = t};
    SRT_ASSERT_ERR(sr_assemble(a, &f, &s, NULL), SR_OK);
}

/* Handshake, then 3 bytes each way in order. With ooo, the client's
 * bytes come as "def" beyond a hole, then "abc" fills it. */
static void open_conn(sr_assembler *a, unsigned n, bool v6, bool ooo, sr_time t)
{
    const uint32_t ci = 1000, si = 50000;
    feed(a, n, v6, true, ci, 0, SR_TCP_SYN, NULL, t);
    feed(a, n, v6, false, si, ci + 1, SR_TCP_SYN | SR_TCP_ACK, NULL, t);
    feed(a, n, v6, true, ci + 1, si + 1, SR_TCP_ACK, NULL, t);
    if (ooo) {
        feed(a, n, v6, true, ci + 4, si + 1, SR_TCP_ACK, "def", t);
        feed(a, n, v6, true, ci + 1, si + 1, SR_TCP_ACK, "abc", t);
    } else {
        feed(a, n, v6, true, ci + 1, si + 1, SR_TCP_ACK, "abc", t);
    }
    feed(a, n, v6, false, si + 1, ci + 4, SR_TCP_ACK, "xyz", t);
}

typedef struct figures {
    double alloc_per_conn;
    double heap_per_conn;
} figures;

static figures measure(bool v6, bool ooo)
{
    counting cnt = {0, 0, 0};
    sr_allocator al = {c_alloc, c_free, &cnt};
    size_t delivered = 0;
    sr_stream_factory fac = {m_new, m_data, m_complete, &delivered};
    sr_error err;
#if SRT_HEAP_MEASURABLE
    malloc_trim(0);
    struct mallinfo2 before = mallinfo2();
#endif
    sr_pool *p = sr_pool_new_with_allocator(&fac, NCONN + 10, &al, &err);
    g_assert_nonnull(p);
    sr_assembler *a = NULL;
    SRT_ASSERT_ERR(sr_assembler_new(p, NULL, &a), SR_OK);
    size_t base = cnt.live;
    const sr_time t0 = 1000 * SR_USEC_PER_SEC;
    for (unsigned n = 0; n < NCONN; n++)
        open_conn(a, n, v6, ooo, t0 + n);
    g_assert_cmpuint(delivered, ==, (size_t)NCONN * (ooo ? 9 : 6));

    sr_pool_stats ps;
    SRT_ASSERT_ERR(sr_pool_get_stats(p, &ps), SR_OK);
    g_assert_cmpuint(ps.active_connections, ==, NCONN);
    sr_assembler_stats as;
    SRT_ASSERT_ERR(sr_assembler_get_stats(a, &as), SR_OK);
    g_assert_cmpuint(as.pages_in_use, ==, 0);
    g_assert_cmpuint(as.no_memory, ==, 0);

    figures fg = {0, 0};
    fg.alloc_per_conn = (double)(cnt.live - base) / NCONN;
#if SRT_HEAP_MEASURABLE
    struct mallinfo2 after = mallinfo2();
    fg.heap_per_conn = ((double)(after.uordblks + after.hblkhd) -
                        (double)(before.uordblks + before.hblkhd)) / NCONN;
#endif
    g_test_message("%s%s: %.1f B/connection through the allocator, %.1f B/connection heap "
                   "(mallinfo2; 0 = not measurable here)",
                   v6 ? "IPv6" : "IPv4", ooo ? ", filled hole" : "", fg.alloc_per_conn,
                   fg.heap_per_conn);

    SRT_ASSERT_ERR(sr_pool_close(p), SR_OK);
    sr_assembler_free(a);
    sr_pool_free(p);
    g_assert_cmpuint(cnt.live, ==, 0);
    return fg;
}

static void test_ipv4(void)
{
    figures f = measure(false, false);
    g_assert_cmpfloat(f.alloc_per_conn, <=, BOUND_ALLOC_V4);
    g_assert_cmpfloat(f.alloc_per_conn, >, 0);
#if SRT_HEAP_MEASURABLE
    g_assert_cmpfloat(f.heap_per_conn, <=, BOUND_HEAP_V4);
    g_assert_cmpfloat(f.heap_per_conn, >=, f.alloc_per_conn);
#endif
}

static void test_ipv6(void)
{
    figures f = measure(true, false);
    g_assert_cmpfloat(f.alloc_per_conn, <=, BOUND_ALLOC_V6);
    g_assert_cmpfloat(f.alloc_per_conn, >, 0);
}

/* A hole that was filled leaves nothing cold behind: the connection costs
 * what an in-order one does (its ring holds 6 bytes instead of 3: same
 * size). The only difference allowed is the assembler's free-page cache,
 * a few pages for all connections together: under 1 B a connection here,
 * where a cold part left behind would be 72. */
static void test_filled_hole(void)
{
    figures in_order = measure(false, false);
    figures filled = measure(false, true);
    g_assert_cmpfloat(filled.alloc_per_conn, >=, in_order.alloc_per_conn);
    g_assert_cmpfloat(filled.alloc_per_conn - in_order.alloc_per_conn, <, 1.0);
}

/* The per-direction counts (dropped, conflicts) live in the cold part,
 * made before a segment that could need them is taken: without memory for
 * it the segment is refused whole (SR_ERR_NO_MEMORY, nothing taken, nothing
 * counted for the connection), never taken with a count missed. */
static void test_cold_counts_never_missed(void)
{
    counting cnt = {0, 0, 0};
    sr_allocator al = {c_alloc, c_free, &cnt};
    size_t delivered = 0;
    sr_stream_factory fac = {m_new, m_data, m_complete, &delivered};
    sr_error err;
    sr_pool *p = sr_pool_new_with_allocator(&fac, 10, &al, &err);
    g_assert_nonnull(p);
    sr_assembler *a = NULL;
    SRT_ASSERT_ERR(sr_assembler_new(p, NULL, &a), SR_OK);
    const sr_time t = 1000 * SR_USEC_PER_SEC;
    open_conn(a, 1, false, false, t); /* "abc" and "xyz" delivered */
    sr_flow f;
    flow_of(&f, 1, false, true);
    sr_result r;
    sr_assembler_stats st0, st1;
    SRT_ASSERT_ERR(sr_assembler_get_stats(a, &st0), SR_OK);

    /* A retransmission of "abc" with other bytes: a conflict. */
    sr_segment conflict = {.seq = 1001, .flags = SR_TCP_ACK, .payload = (const uint8_t *)"abX",
                           .payload_len = 3, .timestamp = t};
    /* Far beyond the window: dropped. */
    sr_segment far = {.seq = 1001u + (1u << 30) + 100u, .flags = SR_TCP_ACK,
                      .payload = (const uint8_t *)"zzzz", .payload_len = 4, .timestamp = t};
    const sr_segment *segs[2] = {&conflict, &far};
    for (int i = 0; i < 2; i++) {
        cnt.fail = 1;
        SRT_ASSERT_ERR(sr_assemble_ex(a, &f, segs[i], NULL, &r), SR_ERR_NO_MEMORY);
        g_assert_cmpint(cnt.fail, ==, 0); /* the cold part's allocation failed */
        g_assert_cmpuint(r.status & (SR_SEG_CONFLICT | SR_SEG_DROPPED | SR_SEG_OUT_OF_WINDOW), ==, 0);
        SRT_ASSERT_ERR(sr_assembler_get_stats(a, &st1), SR_OK);
        g_assert_cmpuint(st1.overlap_conflicts, ==, st0.overlap_conflicts);
        g_assert_cmpuint(st1.bytes_dropped, ==, st0.bytes_dropped);
        g_assert_cmpuint(st1.no_memory, ==, st0.no_memory + 1);
        st0 = st1;
    }
    /* With memory, the same segments are counted, per connection too. */
    SRT_ASSERT_ERR(sr_assemble_ex(a, &f, &conflict, NULL, &r), SR_OK);
    g_assert_cmpuint(r.status & SR_SEG_CONFLICT, !=, 0);
    SRT_ASSERT_ERR(sr_assemble_ex(a, &f, &far, NULL, &r), SR_OK);
    g_assert_cmpuint(r.status & SR_SEG_OUT_OF_WINDOW, !=, 0);
    g_assert_cmpuint(r.dropped[SR_DIR_CLIENT_TO_SERVER], ==, 4);
    g_assert_cmpuint(r.delivered[SR_DIR_CLIENT_TO_SERVER], ==, 3);
    SRT_ASSERT_ERR(sr_assembler_get_stats(a, &st1), SR_OK);
    g_assert_cmpuint(st1.overlap_conflicts, ==, st0.overlap_conflicts + 1);
    g_assert_cmpuint(st1.bytes_dropped, ==, st0.bytes_dropped + 4);
    g_assert_cmpuint(delivered, ==, 6);

    SRT_ASSERT_ERR(sr_pool_close(p), SR_OK);
    sr_assembler_free(a);
    sr_pool_free(p);
    g_assert_cmpuint(cnt.live, ==, 0);
}

/* Conflict-history rings given back at completion are kept by the pool and
 * handed to later connections (pool.c, sr__ring_get): a reused ring's old
 * bytes must never be compared. Connection n delivers 100 bytes, then 1460
 * and 1080 (so its ring grows twice), then a retransmission of the first
 * 100 bytes unchanged (no conflict) and one with a byte changed (a
 * conflict), then both FINs. Every connection's bytes differ, so a stale
 * byte read from a reused ring would flag the unchanged retransmission or
 * miss the changed one. Later connections must reuse rings (fewer calls
 * into the allocator than the first) and nothing may be left allocated
 * once the pool is freed. */
static void test_ring_reuse(void)
{
    counting cnt = {0, 0, 0};
    size_t calls[4] = {0};
    sr_allocator al = {c_alloc, c_free, &cnt};
    srt_recorder rec;
    srt_recorder_init(&rec);
    sr_stream_factory fac = srt_recorder_factory(&rec);
    sr_error err;
    sr_pool *p = sr_pool_new_with_allocator(&fac, 100, &al, &err);
    g_assert_nonnull(p);
    sr_assembler *a = NULL;
    SRT_ASSERT_ERR(sr_assembler_new(p, NULL, &a), SR_OK);
    const size_t lens[3] = {100, 1460, 1080};
    for (uint32_t n = 0; n < 4; n++) {
        sr_flow fa, fb;
        srt_flow_ab(&fa, n, false);
        srt_flow_ab(&fb, n, true);
        uint8_t data[2640];
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = srt_conn_byte(n, false, i);
        const sr_time t = (sr_time)(1000 + n) * SR_USEC_PER_SEC;
        uint32_t seq = 5000, off = 0;
        unsigned allocs_before = cnt_calls;
        for (int k = 0; k < 3; k++) {
            sr_segment s = srt_seg(seq + off, SR_TCP_ACK, data + off, lens[k], t);
            sr_result r;
            SRT_ASSERT_ERR(sr_assemble_ex(a, &fa, &s, NULL, &r), SR_OK);
            g_assert_false(r.status & SR_SEG_CONFLICT);
            off += (uint32_t)lens[k];
        }
        /* The same first 100 bytes again: a retransmission, no conflict. */
        sr_segment same = srt_seg(seq, SR_TCP_ACK, data, 100, t);
        sr_result r;
        SRT_ASSERT_ERR(sr_assemble_ex(a, &fa, &same, NULL, &r), SR_OK);
        g_assert_false(r.status & SR_SEG_CONFLICT);
        /* One byte changed: a conflict. */
        uint8_t other[100];
        memcpy(other, data, sizeof other);
        other[57] ^= 0x5a;
        sr_segment diff = srt_seg(seq, SR_TCP_ACK, other, sizeof other, t);
        SRT_ASSERT_ERR(sr_assemble_ex(a, &fa, &diff, NULL, &r), SR_OK);
        g_assert_true(r.status & SR_SEG_CONFLICT);
        sr_segment fin_a = srt_seg(seq + off, SR_TCP_FIN | SR_TCP_ACK, NULL, 0, t);
        SRT_ASSERT_ERR(sr_assemble_ex(a, &fa, &fin_a, NULL, &r), SR_OK);
        sr_segment fin_b = srt_seg(9000, SR_TCP_FIN | SR_TCP_ACK, NULL, 0, t);
        SRT_ASSERT_ERR(sr_assemble_ex(a, &fb, &fin_b, NULL, &r), SR_OK);
        g_assert_true(r.status & SR_SEG_CLOSED);
        calls[n] = cnt_calls - allocs_before;
        srt_stream *st = srt_recorder_stream(&rec, n);
        g_assert_nonnull(st);
        g_assert_cmpint(st->completes, ==, 1);
        int d = st->dir[SR_DIR_CLIENT_TO_SERVER].data->len ? SR_DIR_CLIENT_TO_SERVER
                                                           : SR_DIR_SERVER_TO_CLIENT;
        g_assert_cmpuint(st->dir[d].data->len, ==, sizeof data);
        g_assert_cmpmem(st->dir[d].data->data, sizeof data, data, sizeof data);
        g_assert_cmpuint(st->final_info.conflicts[d], ==, 1);
    }
    /* The first connection allocated its rings; the others found them. */
    for (int n = 1; n < 4; n++)
        g_assert_cmpuint(calls[n], <, calls[0]);
    SRT_ASSERT_ERR(sr_pool_close(p), SR_OK);
    sr_assembler_free(a);
    sr_pool_free(p);
    srt_recorder_clear(&rec);
    g_assert_cmpuint(cnt.live, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/open-connection/ipv4", test_ipv4);
    g_test_add_func("/memory/open-connection/ipv6", test_ipv6);
    g_test_add_func("/memory/open-connection/filled-hole-frees-cold-part", test_filled_hole);
    g_test_add_func("/memory/cold-part/counts-never-missed", test_cold_counts_never_missed);
    g_test_add_func("/memory/rings/reused-never-compared-stale", test_ring_reuse);
    return g_test_run();
}
