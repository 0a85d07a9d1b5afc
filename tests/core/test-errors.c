/* test-errors.c - the error table (sr_strerror, sr_err_name, close reason
 * names) and NULL / invalid arguments for every public function: each must
 * return an error code (or be a documented no-op), never crash, and failed
 * calls must be counted and change nothing.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <string.h>

#include "sr-test-util.h"

/* ------------------------------------------------------------ error table */

static void test_error_names(void)
{
#define CHECK(name, msg)                                                       \
    g_assert_cmpstr(sr_err_name(SR_##name), ==, "SR_" #name);                  \
    g_assert_cmpstr(sr_strerror(SR_##name), ==, msg);
    SR_ERROR_MAP(CHECK)
#undef CHECK
    g_assert_cmpint(SR_OK, ==, 0);
}

static void test_error_unknown(void)
{
    const int bad[] = {-1, SR_ERROR_COUNT_, SR_ERROR_COUNT_ + 1, 1000, -1000};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        const char *m = sr_strerror((sr_error)bad[i]);
        const char *n = sr_err_name((sr_error)bad[i]);
        g_assert_nonnull(m);
        g_assert_nonnull(n);
        g_assert_cmpstr(m, !=, "");
        g_assert_cmpstr(n, !=, "");
        /* An unknown code must not masquerade as a known one. */
#define CHECK(name, msg) g_assert_cmpstr(n, !=, "SR_" #name);
        SR_ERROR_MAP(CHECK)
#undef CHECK
    }
}

static void test_close_reason_names(void)
{
    static const char *const names[SR_CLOSE_REASON_COUNT_] = {
        [SR_CLOSE_FIN] = "FIN",
        [SR_CLOSE_RST] = "RST",
        [SR_CLOSE_TIMEOUT] = "TIMEOUT",
        [SR_CLOSE_EVICTED] = "EVICTED",
        [SR_CLOSE_FLUSHED] = "FLUSHED",
        [SR_CLOSE_CALLBACK_ERROR] = "CALLBACK_ERROR",
        [SR_CLOSE_POOL_CLOSED] = "POOL_CLOSED",
    };
    for (int r = 0; r < SR_CLOSE_REASON_COUNT_; r++)
        g_assert_cmpstr(sr_close_reason_name((sr_close_reason)r), ==, names[r]);
    /* Unknown reasons: no crash, and no valid name. */
    const int bad[] = {-1, SR_CLOSE_REASON_COUNT_, 99};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        const char *n = sr_close_reason_name((sr_close_reason)bad[i]);
        for (int r = 0; n && r < SR_CLOSE_REASON_COUNT_; r++)
            g_assert_cmpstr(n, !=, names[r]);
    }
}

/* ------------------------------------------------------------ flows */

static void test_flow_ipv4(void)
{
    sr_flow f;
    memset(&f, 0xff, sizeof f);
    f.zone = 0;
    sr_flow_set_ipv4(&f, g_htonl(0x0a000001u), 1234, g_htonl(0xc0a80102u), 80);
    g_assert_cmpuint(f.ip_version, ==, 4);
    const uint8_t src[16] = {10, 0, 0, 1};
    const uint8_t dst[16] = {192, 168, 1, 2};
    g_assert_cmpmem(f.src.addr, 16, src, 16);
    g_assert_cmpmem(f.dst.addr, 16, dst, 16);
    g_assert_cmpuint(f.src.port, ==, 1234);
    g_assert_cmpuint(f.dst.port, ==, 80);
}

static void test_flow_ipv6(void)
{
    sr_flow f;
    memset(&f, 0xff, sizeof f);
    uint8_t a[16], b[16];
    for (int i = 0; i < 16; i++) {
        a[i] = (uint8_t)(0x20 + i);
        b[i] = (uint8_t)(0xf0 - i);
    }
    sr_flow_set_ipv6(&f, a, 443, b, 55555);
    g_assert_cmpuint(f.ip_version, ==, 6);
    g_assert_cmpmem(f.src.addr, 16, a, 16);
    g_assert_cmpmem(f.dst.addr, 16, b, 16);
    g_assert_cmpuint(f.src.port, ==, 443);
    g_assert_cmpuint(f.dst.port, ==, 55555);
}

/* The setters return nothing, so NULL can only be survived; run in a
 * child so that a crash fails this case alone. */
static void test_flow_null(void)
{
    if (srt_subprocess_child()) {
        uint8_t a[16] = {1};
        sr_flow f;
        sr_flow_set_ipv4(NULL, 1, 2, 3, 4);
        sr_flow_set_ipv6(NULL, a, 1, a, 2);
        sr_flow_set_ipv6(&f, NULL, 1, a, 2);
        sr_flow_set_ipv6(&f, a, 1, NULL, 2);
        return;
    }
    srt_run_in_subprocess(20);
}

/* ------------------------------------------------------------ pools */

static void test_pool_new_invalid(void)
{
    srt_recorder rec;
    srt_recorder_init(&rec);
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_error e = SR_OK;

    g_assert_null(sr_pool_new(NULL, 10, &e));
    g_assert_cmpint(e, ==, SR_ERR_INVALID_ARGUMENT);
    e = SR_OK;
    g_assert_null(sr_pool_new(&f, 0, &e));
    g_assert_cmpint(e, ==, SR_ERR_INVALID_ARGUMENT);
    g_assert_null(sr_pool_new(NULL, 10, NULL)); /* err may be NULL */
    g_assert_null(sr_pool_new(&f, 0, NULL));

    e = SR_ERR_THREAD;
    sr_pool *p = sr_pool_new(&f, 1, &e);
    g_assert_nonnull(p);
    g_assert_cmpint(e, ==, SR_OK);
    sr_pool_free(p);
    p = sr_pool_new(&f, 1, NULL);
    g_assert_nonnull(p);
    sr_pool_free(p);
    g_assert_cmpint(rec.callbacks, ==, 0);
    srt_recorder_clear(&rec);
}

static void test_pool_allocator_invalid(void)
{
    srt_recorder rec;
    srt_recorder_init(&rec);
    sr_stream_factory f = srt_recorder_factory(&rec);
    srt_alloc al;
    srt_alloc_init(&al);
    sr_allocator good = srt_alloc_allocator(&al);
    sr_allocator no_alloc = good, no_free = good;
    no_alloc.alloc = NULL;
    no_free.free = NULL;
    sr_error e = SR_OK;

    g_assert_null(sr_pool_new_with_allocator(&f, 4, &no_alloc, &e));
    g_assert_cmpint(e, ==, SR_ERR_INVALID_ARGUMENT);
    e = SR_OK;
    g_assert_null(sr_pool_new_with_allocator(&f, 4, &no_free, &e));
    g_assert_cmpint(e, ==, SR_ERR_INVALID_ARGUMENT);
    e = SR_OK;
    g_assert_null(sr_pool_new_with_allocator(NULL, 4, &good, &e));
    g_assert_cmpint(e, ==, SR_ERR_INVALID_ARGUMENT);
    e = SR_OK;
    g_assert_null(sr_pool_new_with_allocator(&f, 0, &good, &e));
    g_assert_cmpint(e, ==, SR_ERR_INVALID_ARGUMENT);
    g_assert_cmpint(srt_alloc_live(&al), ==, 0);

    /* NULL allocator = malloc/free. */
    e = SR_ERR_THREAD;
    sr_pool *p = sr_pool_new_with_allocator(&f, 4, NULL, &e);
    g_assert_nonnull(p);
    g_assert_cmpint(e, ==, SR_OK);
    sr_pool_free(p);

    /* The allocator struct is copied: clobbering ours afterwards is fine. */
    sr_allocator tmp = good;
    p = sr_pool_new_with_allocator(&f, 4, &tmp, &e);
    g_assert_nonnull(p);
    memset(&tmp, 0, sizeof tmp);
    sr_assembler *a = NULL;
    g_assert_cmpint(sr_assembler_new(p, NULL, &a), ==, SR_OK);
    sr_flow fl;
    srt_flow_ab(&fl, 1, false);
    sr_segment s = srt_seg(100, SR_TCP_SYN, NULL, 0, 1);
    g_assert_cmpint(sr_assemble(a, &fl, &s, NULL), ==, SR_OK);
    s = srt_seg(150, SR_TCP_ACK, "later", 5, 2); /* out of order: needs a page */
    g_assert_cmpint(sr_assemble(a, &fl, &s, NULL), ==, SR_OK);
    g_assert_cmpint(srt_alloc_live(&al), >, 0); /* went through our allocator */
    sr_assembler_free(a);
    sr_pool_free(p);
    g_assert_cmpint(srt_alloc_live(&al), ==, 0);
    g_assert_cmpuint(al.bad_frees, ==, 0);
    srt_alloc_clear(&al);
    srt_recorder_clear(&rec);
}

/* A factory with a missing callback is either refused at creation or
 * works without calling through NULL. */
static void run_partial_factory(sr_stream_factory f)
{
    sr_error e = SR_OK;
    sr_pool *p = sr_pool_new(&f, 4, &e);
    if (!p) {
        g_assert_cmpint(e, ==, SR_ERR_INVALID_ARGUMENT);
        return;
    }
    sr_assembler *a = NULL;
    g_assert_cmpint(sr_assembler_new(p, NULL, &a), ==, SR_OK);
    sr_flow fl;
    srt_flow_ab(&fl, 1, false);
    sr_segment s = srt_seg(100, SR_TCP_SYN, NULL, 0, 1);
    (void)sr_assemble(a, &fl, &s, NULL);
    s = srt_seg(101, SR_TCP_ACK, "data", 4, 2);
    (void)sr_assemble(a, &fl, &s, NULL);
    s = srt_seg(106, SR_TCP_ACK, "more", 4, 2);
    (void)sr_assemble(a, &fl, &s, NULL);
    (void)sr_assembler_flush_all(a, NULL, NULL);
    sr_assembler_free(a);
    sr_pool_free(p);
}

static void *dummy_new(void *ud, const sr_conn_info *info, void *ctx)
{
    (void)ud;
    (void)info;
    (void)ctx;
    static int token;
    return &token;
}

static int dummy_data(void *ud, void *st, const sr_conn_info *info, const sr_chunk *c, void *ctx)
{
    (void)ud;
    (void)st;
    (void)info;
    (void)c;
    (void)ctx;
    return 0;
}

static void dummy_complete(void *ud, void *st, const sr_conn_info *info, sr_close_reason r,
                           void *ctx)
{
    (void)ud;
    (void)st;
    (void)info;
    (void)r;
    (void)ctx;
}

static void test_pool_partial_factory(void)
{
    if (srt_subprocess_child()) {
        sr_stream_factory f = {NULL, dummy_data, dummy_complete, NULL};
        run_partial_factory(f);
        f = (sr_stream_factory){dummy_new, NULL, dummy_complete, NULL};
        run_partial_factory(f);
        f = (sr_stream_factory){dummy_new, dummy_data, NULL, NULL};
        run_partial_factory(f);
        f = (sr_stream_factory){NULL, NULL, NULL, NULL};
        run_partial_factory(f);
        return;
    }
    srt_run_in_subprocess(30);
}

static void test_pool_null(void)
{
    sr_pool_stats st;
    g_assert_cmpint(sr_pool_close(NULL), ==, SR_ERR_INVALID_ARGUMENT);
    sr_pool_free(NULL);
    g_assert_cmpint(sr_pool_get_stats(NULL, &st), ==, SR_ERR_INVALID_ARGUMENT);

    srt_recorder rec;
    srt_recorder_init(&rec);
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_pool *p = sr_pool_new(&f, 3, NULL);
    g_assert_cmpint(sr_pool_get_stats(p, NULL), ==, SR_ERR_INVALID_ARGUMENT);
    memset(&st, 0xa5, sizeof st);
    g_assert_cmpint(sr_pool_get_stats(p, &st), ==, SR_OK);
#define ZERO(name, desc) g_assert_cmpuint(st.name, ==, 0);
    SR_POOL_STATS_MAP(ZERO)
#undef ZERO
    sr_pool_free(p);
    srt_recorder_clear(&rec);
}

/* ------------------------------------------------------------ assemblers */

typedef struct fixture {
    srt_recorder rec;
    sr_pool *pool;
    sr_assembler *a;
} fixture;

static void fx_setup(fixture *fx, gconstpointer data)
{
    (void)data;
    srt_recorder_init(&fx->rec);
    sr_stream_factory f = srt_recorder_factory(&fx->rec);
    fx->pool = sr_pool_new(&f, 8, NULL);
    g_assert_nonnull(fx->pool);
    fx->a = NULL;
    g_assert_cmpint(sr_assembler_new(fx->pool, NULL, &fx->a), ==, SR_OK);
    g_assert_nonnull(fx->a);
}

static void fx_teardown(fixture *fx, gconstpointer data)
{
    (void)data;
    sr_assembler_free(fx->a);
    sr_pool_free(fx->pool);
    srt_check_conservation(&fx->rec, true);
    srt_recorder_clear(&fx->rec);
}

static void test_assembler_new_null(void)
{
    srt_recorder rec;
    srt_recorder_init(&rec);
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_pool *p = sr_pool_new(&f, 3, NULL);
    sr_assembler *a = (sr_assembler *)&rec; /* must be overwritten or left alone, never used */
    g_assert_cmpint(sr_assembler_new(NULL, NULL, &a), ==, SR_ERR_INVALID_ARGUMENT);
    g_assert_cmpint(sr_assembler_new(p, NULL, NULL), ==, SR_ERR_INVALID_ARGUMENT);
    sr_options o;
    sr_options_init(&o);
    g_assert_cmpint(sr_assembler_new(NULL, &o, NULL), ==, SR_ERR_INVALID_ARGUMENT);
    sr_assembler_free(NULL);
    g_assert_cmpint(sr_assembler_close(NULL), ==, SR_ERR_INVALID_ARGUMENT);
    sr_assembler_stats st;
    g_assert_cmpint(sr_assembler_get_stats(NULL, &st), ==, SR_ERR_INVALID_ARGUMENT);
    size_t n = 7;
    g_assert_cmpint(sr_assembler_flush_all(NULL, NULL, &n), ==, SR_ERR_INVALID_ARGUMENT);
    g_assert_cmpint(sr_assembler_flush_older_than(NULL, 0, NULL, &n, &n), ==,
                    SR_ERR_INVALID_ARGUMENT);
    sr_pool_free(p);
    srt_recorder_clear(&rec);
}

static void test_assembler_stats_null(fixture *fx, gconstpointer data)
{
    (void)data;
    g_assert_cmpint(sr_assembler_get_stats(fx->a, NULL), ==, SR_ERR_INVALID_ARGUMENT);
    sr_assembler_stats st;
    memset(&st, 0xa5, sizeof st);
    g_assert_cmpint(sr_assembler_get_stats(fx->a, &st), ==, SR_OK);
#define ZERO(name, desc) g_assert_cmpuint(st.name, ==, 0);
    SR_ASSEMBLER_STATS_MAP(ZERO)
#undef ZERO
}

/* Every invalid sr_assemble call: INVALID_ARGUMENT, counted in errors,
 * no connection created, no callback. */
static void test_assemble_invalid(fixture *fx, gconstpointer data)
{
    (void)data;
    sr_flow fl;
    srt_flow_ab(&fl, 1, false);
    sr_segment s = srt_seg(1, SR_TCP_ACK, "abc", 3, 1);
    sr_result res;
    unsigned expected_errors = 0;

    g_assert_cmpint(sr_assemble(NULL, &fl, &s, NULL), ==, SR_ERR_INVALID_ARGUMENT);
    g_assert_cmpint(sr_assemble_ex(NULL, &fl, &s, NULL, &res), ==, SR_ERR_INVALID_ARGUMENT);

    g_assert_cmpint(sr_assemble(fx->a, NULL, &s, NULL), ==, SR_ERR_INVALID_ARGUMENT);
    expected_errors++;
    g_assert_cmpint(sr_assemble(fx->a, &fl, NULL, NULL), ==, SR_ERR_INVALID_ARGUMENT);
    expected_errors++;
    g_assert_cmpint(sr_assemble_ex(fx->a, NULL, &s, NULL, &res), ==, SR_ERR_INVALID_ARGUMENT);
    expected_errors++;
    g_assert_cmpint(sr_assemble_ex(fx->a, &fl, NULL, NULL, &res), ==, SR_ERR_INVALID_ARGUMENT);
    expected_errors++;

    const uint8_t versions[] = {0, 1, 5, 7, 255};
    for (size_t i = 0; i < G_N_ELEMENTS(versions); i++) {
        sr_flow bad = fl;
        bad.ip_version = versions[i];
        g_assert_cmpint(sr_assemble(fx->a, &bad, &s, NULL), ==, SR_ERR_INVALID_ARGUMENT);
        expected_errors++;
    }

    sr_segment bad = s;
    bad.payload = NULL; /* with payload_len 3 */
    g_assert_cmpint(sr_assemble_ex(fx->a, &fl, &bad, NULL, &res), ==, SR_ERR_INVALID_ARGUMENT);
    expected_errors++;

    bad = s;
    bad.claimed_len = 2; /* claims fewer bytes than were captured */
    g_assert_cmpint(sr_assemble_ex(fx->a, &fl, &bad, NULL, &res), ==, SR_ERR_INVALID_ARGUMENT);
    expected_errors++;

    g_assert_cmpint(fx->rec.callbacks, ==, 0);
    sr_pool_stats ps = srt_pool_stats(fx->pool);
    g_assert_cmpuint(ps.total_created, ==, 0);
    g_assert_cmpuint(ps.active_connections, ==, 0);
    sr_assembler_stats as = srt_asm_stats(fx->a);
    g_assert_cmpuint(as.errors, ==, expected_errors);
    g_assert_cmpuint(as.bytes_processed, ==, 0);
    g_assert_cmpuint(as.bytes_delivered, ==, 0);

    /* A NULL payload with length 0 is fine; result may be NULL. */
    sr_segment ok = srt_seg(1, SR_TCP_SYN, NULL, 0, 1);
    g_assert_cmpint(sr_assemble_ex(fx->a, &fl, &ok, NULL, NULL), ==, SR_OK);
    ok = srt_seg(2, SR_TCP_ACK, "abc", 3, 2);
    g_assert_cmpint(sr_assemble(fx->a, &fl, &ok, NULL), ==, SR_OK);
    srt_stream *st = srt_recorder_stream(&fx->rec, 0);
    srt_assert_dir(&st->dir[SR_DIR_CLIENT_TO_SERVER], "abc", "client");
    as = srt_asm_stats(fx->a);
    g_assert_cmpuint(as.errors, ==, expected_errors);
}

static void test_flush_null_outputs(fixture *fx, gconstpointer data)
{
    (void)data;
    size_t n1 = 99, n2 = 99;
    g_assert_cmpint(sr_assembler_flush_older_than(fx->a, 0, NULL, NULL, NULL), ==, SR_OK);
    g_assert_cmpint(sr_assembler_flush_older_than(fx->a, 0, NULL, &n1, &n2), ==, SR_OK);
    g_assert_cmpuint(n1, ==, 0);
    g_assert_cmpuint(n2, ==, 0);
    g_assert_cmpint(sr_assembler_flush_all(fx->a, NULL, NULL), ==, SR_OK);
    n1 = 99;
    g_assert_cmpint(sr_assembler_flush_all(fx->a, NULL, &n1), ==, SR_OK);
    g_assert_cmpuint(n1, ==, 0);
}

/* After sr_assembler_close(): every call on it says ASSEMBLER_CLOSED,
 * close is idempotent, free is still fine, the pool lives on. */
static void test_assembler_closed(fixture *fx, gconstpointer data)
{
    (void)data;
    sr_flow fl;
    srt_flow_ab(&fl, 1, false);
    sr_segment s = srt_seg(1, SR_TCP_ACK, "abc", 3, 1);
    g_assert_cmpint(sr_assemble(fx->a, &fl, &s, NULL), ==, SR_OK);
    g_assert_cmpint(sr_assembler_close(fx->a), ==, SR_OK);
    sr_error again = sr_assembler_close(fx->a);
    g_assert_true(again == SR_OK || again == SR_ERR_ASSEMBLER_CLOSED);
    s = srt_seg(4, SR_TCP_ACK, "def", 3, 2);
    g_assert_cmpint(sr_assemble(fx->a, &fl, &s, NULL), ==, SR_ERR_ASSEMBLER_CLOSED);
    sr_result res;
    g_assert_cmpint(sr_assemble_ex(fx->a, &fl, &s, NULL, &res), ==, SR_ERR_ASSEMBLER_CLOSED);
    g_assert_cmpint(sr_assembler_flush_all(fx->a, NULL, NULL), ==, SR_ERR_ASSEMBLER_CLOSED);
    g_assert_cmpint(sr_assembler_flush_older_than(fx->a, 10, NULL, NULL, NULL), ==,
                    SR_ERR_ASSEMBLER_CLOSED);
    /* Validation still comes first for NULL arguments. */
    g_assert_cmpint(sr_assemble(fx->a, NULL, &s, NULL), !=, SR_OK);

    /* The pool still accepts a new assembler, which sees the connection. */
    sr_assembler *b = NULL;
    g_assert_cmpint(sr_assembler_new(fx->pool, NULL, &b), ==, SR_OK);
    g_assert_cmpint(sr_assemble(b, &fl, &s, NULL), ==, SR_OK);
    g_assert_cmpuint(srt_recorder_count(&fx->rec), ==, 1);
    srt_assert_dir(&srt_recorder_stream(&fx->rec, 0)->dir[0], "abcdef", "client");
    sr_assembler_free(b);
    g_assert_cmpint(sr_pool_close(fx->pool), ==, SR_OK);
}

/* After sr_pool_close(): every call says POOL_CLOSED; close idempotent. */
static void test_pool_closed(fixture *fx, gconstpointer data)
{
    (void)data;
    sr_flow fl;
    srt_flow_ab(&fl, 1, false);
    sr_segment s = srt_seg(1, SR_TCP_ACK, "abc", 3, 1);
    g_assert_cmpint(sr_assemble(fx->a, &fl, &s, NULL), ==, SR_OK);
    g_assert_cmpint(sr_pool_close(fx->pool), ==, SR_OK);
    srt_stream *st = srt_recorder_stream(&fx->rec, 0);
    g_assert_cmpint(st->completes, ==, 1);
    g_assert_cmpint(st->close_reason, ==, SR_CLOSE_POOL_CLOSED);
    int callbacks = fx->rec.callbacks;

    sr_error again = sr_pool_close(fx->pool);
    g_assert_true(again == SR_OK || again == SR_ERR_POOL_CLOSED);
    s = srt_seg(4, SR_TCP_ACK, "def", 3, 2);
    g_assert_cmpint(sr_assemble(fx->a, &fl, &s, NULL), ==, SR_ERR_POOL_CLOSED);
    sr_flow other;
    srt_flow_ab(&other, 2, false);
    g_assert_cmpint(sr_assemble(fx->a, &other, &s, NULL), ==, SR_ERR_POOL_CLOSED);
    g_assert_cmpint(sr_assembler_flush_all(fx->a, NULL, NULL), ==, SR_ERR_POOL_CLOSED);
    g_assert_cmpint(sr_assembler_flush_older_than(fx->a, 10, NULL, NULL, NULL), ==,
                    SR_ERR_POOL_CLOSED);
    sr_assembler *b = NULL;
    g_assert_cmpint(sr_assembler_new(fx->pool, NULL, &b), ==, SR_ERR_POOL_CLOSED);
    g_assert_null(b);
    sr_error ce = sr_assembler_close(fx->a);
    g_assert_true(ce == SR_OK || ce == SR_ERR_POOL_CLOSED || ce == SR_ERR_ASSEMBLER_CLOSED);
    g_assert_cmpint(fx->rec.callbacks, ==, callbacks);

    /* Stats may still be readable; if so they must be consistent. */
    sr_pool_stats ps;
    if (sr_pool_get_stats(fx->pool, &ps) == SR_OK) {
        g_assert_cmpuint(ps.total_created, ==, 1);
        g_assert_cmpuint(ps.closed_pool_closed, ==, 1);
    }
    sr_assembler_stats as;
    if (sr_assembler_get_stats(fx->a, &as) == SR_OK)
        g_assert_cmpuint(as.pages_in_use, ==, 0);
}

/* Freeing the pool before its assembler: the assembler keeps the memory
 * alive and answers POOL_CLOSED; freeing it afterwards releases all. */
static void test_free_order(void)
{
    srt_recorder rec;
    srt_recorder_init(&rec);
    srt_alloc al;
    srt_alloc_init(&al);
    sr_allocator alloc = srt_alloc_allocator(&al);
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_pool *p = sr_pool_new_with_allocator(&f, 4, &alloc, NULL);
    sr_assembler *a = NULL, *b = NULL;
    g_assert_cmpint(sr_assembler_new(p, NULL, &a), ==, SR_OK);
    g_assert_cmpint(sr_assembler_new(p, NULL, &b), ==, SR_OK);
    sr_flow fl;
    srt_flow_ab(&fl, 1, false);
    sr_segment s = srt_seg(1, SR_TCP_ACK, "abc", 3, 1);
    g_assert_cmpint(sr_assemble(a, &fl, &s, NULL), ==, SR_OK);
    s = srt_seg(10, SR_TCP_ACK, "xyz", 3, 1); /* buffered */
    g_assert_cmpint(sr_assemble(b, &fl, &s, NULL), ==, SR_OK);

    sr_pool_free(p); /* closes */
    srt_stream *st = srt_recorder_stream(&rec, 0);
    g_assert_cmpint(st->completes, ==, 1);
    g_assert_cmpint(st->close_reason, ==, SR_CLOSE_POOL_CLOSED);
    /* Buffered data was flushed first, the gap skipped. */
    srt_assert_dir(&st->dir[0], "abc<6>xyz", "client");
    s = srt_seg(4, SR_TCP_ACK, "def", 3, 2);
    g_assert_cmpint(sr_assemble(a, &fl, &s, NULL), ==, SR_ERR_POOL_CLOSED);
    sr_assembler_free(a);
    g_assert_cmpint(sr_assemble(b, &fl, &s, NULL), ==, SR_ERR_POOL_CLOSED);
    sr_assembler_free(b);
    g_assert_cmpint(srt_alloc_live(&al), ==, 0);
    srt_check_conservation(&rec, true);
    srt_alloc_clear(&al);
    srt_recorder_clear(&rec);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/errors/names", test_error_names);
    g_test_add_func("/errors/unknown-code", test_error_unknown);
    g_test_add_func("/errors/close-reason-names", test_close_reason_names);
    g_test_add_func("/api/flow/ipv4", test_flow_ipv4);
    g_test_add_func("/api/flow/ipv6", test_flow_ipv6);
    g_test_add_func("/api/null/flow-setters", test_flow_null);
    g_test_add_func("/api/invalid/pool-new", test_pool_new_invalid);
    g_test_add_func("/api/invalid/pool-new-with-allocator", test_pool_allocator_invalid);
    g_test_add_func("/api/invalid/partial-factory", test_pool_partial_factory);
    g_test_add_func("/api/null/pool", test_pool_null);
    g_test_add_func("/api/null/assembler", test_assembler_new_null);
    g_test_add("/api/null/assembler-stats", fixture, NULL, fx_setup, test_assembler_stats_null,
               fx_teardown);
    g_test_add("/api/invalid/assemble", fixture, NULL, fx_setup, test_assemble_invalid,
               fx_teardown);
    g_test_add("/api/null/flush-outputs", fixture, NULL, fx_setup, test_flush_null_outputs,
               fx_teardown);
    g_test_add("/api/lifecycle/assembler-closed", fixture, NULL, fx_setup, test_assembler_closed,
               fx_teardown);
    g_test_add("/api/lifecycle/pool-closed", fixture, NULL, fx_setup, test_pool_closed,
               fx_teardown);
    g_test_add_func("/api/lifecycle/free-pool-before-assembler", test_free_order);
    return g_test_run();
}
