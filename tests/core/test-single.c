/* test-single.c - single-thread pools (SR_POOL_SINGLE_THREAD): the same
 * streams as a shared pool, no locks, and every call from a thread that
 * does not own the pool refused with SR_ERR_WRONG_THREAD, changing nothing.
 * Label concurrency: it starts threads, so TSan runs it too (a refused call
 * that touched the pool would be a race there).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier_t */
#include "sr-test-util.h"

#include <pthread.h>
#include <string.h>

static const sr_time T0 = 1000 * SR_USEC_PER_SEC;

/* A: flags other than SR_POOL_SINGLE_THREAD are refused, so a later flag
 * cannot be passed to a library that would ignore it. The background flush
 * thread is a second thread: refused on a single-thread pool. */
static void test_flags(void)
{
    srt_recorder rec;
    srt_recorder_init(&rec);
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_error e = SR_OK;
    g_assert_null(sr_pool_new_ex(&f, 4, NULL, 0x2u, &e));
    g_assert_cmpint(e, ==, SR_ERR_INVALID_ARGUMENT);
    g_assert_null(sr_pool_new_ex(&f, 4, NULL, SR_POOL_SINGLE_THREAD | 0x80000000u, &e));
    g_assert_cmpint(e, ==, SR_ERR_INVALID_ARGUMENT);
    sr_pool *p = sr_pool_new_ex(&f, 4, NULL, SR_POOL_SINGLE_THREAD, &e);
    g_assert_nonnull(p);
    g_assert_cmpint(e, ==, SR_OK);
    sr_options o;
    sr_options_init(&o);
    o.background_flush = true;
    sr_assembler *a = NULL;
    g_assert_cmpint(sr_assembler_new(p, &o, &a), ==, SR_ERR_INVALID_OPTIONS);
    g_assert_null(a);
    o.background_flush = false;
    g_assert_cmpint(sr_assembler_new(p, &o, &a), ==, SR_OK);
    sr_assembler_free(a);
    sr_pool_free(p);
    g_assert_cmpuint(srt_recorder_count(&rec), ==, 0);
    srt_recorder_clear(&rec);
}

/* The segments of n connections: SYN, data in two segments, the second
 * before the first (so a page is buffered), FIN; both directions. */
typedef struct feed {
    sr_assembler *a;
    unsigned conns;
    sr_error first_err;  /* of the first call */
    unsigned ok, refused;
    /* Threads wait here before and after feeding (NULL: no wait): a
     * thread that has ended may pass its thread-local address, which names
     * the owner, on to the next thread made, so the tests keep every
     * thread they compare alive until they are done. */
    pthread_barrier_t *bar;
} feed;

static void feed_conns(feed *fd)
{
    for (uint32_t n = 0; n < fd->conns; n++) {
        sr_flow fa, fb;
        srt_flow_ab(&fa, n, false);
        srt_flow_ab(&fb, n, true);
        uint8_t data[300];
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = srt_conn_byte(n, false, i);
        sr_segment s[5] = {
            srt_seg(100, SR_TCP_SYN, NULL, 0, T0 + n),
            srt_seg(901, SR_TCP_ACK, NULL, 0, T0 + n),
            srt_seg(101 + 200, SR_TCP_ACK, data + 200, 100, T0 + n),
            srt_seg(101, SR_TCP_ACK, data, 200, T0 + n),
            srt_seg(101 + 300, SR_TCP_FIN | SR_TCP_ACK, NULL, 0, T0 + n),
        };
        const sr_flow *fl[5] = {&fa, &fb, &fa, &fa, &fa};
        for (int i = 0; i < 5; i++) {
            sr_error e = sr_assemble(fd->a, fl[i], &s[i], NULL);
            if (fd->ok + fd->refused == 0)
                fd->first_err = e;
            if (e == SR_ERR_WRONG_THREAD)
                fd->refused++;
            else
                fd->ok++;
        }
    }
}

static void *feed_thread(void *arg)
{
    feed *fd = arg;
    if (fd->bar)
        pthread_barrier_wait(fd->bar);
    feed_conns(fd);
    if (fd->bar) {
        pthread_barrier_wait(fd->bar); /* fed */
        pthread_barrier_wait(fd->bar); /* may end */
    }
    return NULL;
}

/* A call made in another thread, for the refusals. */
typedef enum { C_FEED, C_FLUSH_OLDER, C_FLUSH_ALL, C_ASM_CLOSE, C_POOL_CLOSE, C_ASM_NEW } call_kind;
typedef struct other_call {
    call_kind kind;
    sr_pool *p;
    sr_assembler *a;
    sr_error got;
} other_call;

static void *other_thread(void *arg)
{
    other_call *oc = arg;
    sr_flow f;
    srt_flow_ab(&f, 77, false);
    sr_segment s = srt_seg(5, SR_TCP_SYN, NULL, 0, T0);
    sr_assembler *na = NULL;
    size_t n1 = 9, n2 = 9;
    switch (oc->kind) {
    case C_FEED:
        oc->got = sr_assemble(oc->a, &f, &s, NULL);
        break;
    case C_FLUSH_OLDER:
        oc->got = sr_assembler_flush_older_than(oc->a, INT64_MAX, NULL, &n1, &n2);
        g_assert_cmpuint(n1 + n2, ==, 0); /* outputs zeroed, nothing done */
        break;
    case C_FLUSH_ALL:
        oc->got = sr_assembler_flush_all(oc->a, NULL, &n1);
        g_assert_cmpuint(n1, ==, 0);
        break;
    case C_ASM_CLOSE:
        oc->got = sr_assembler_close(oc->a);
        break;
    case C_POOL_CLOSE:
        oc->got = sr_pool_close(oc->p);
        break;
    case C_ASM_NEW:
        oc->got = sr_assembler_new(oc->p, NULL, &na);
        g_assert_null(na);
        break;
    }
    return NULL;
}

static bool stats_equal(const sr_assembler_stats *x, const sr_assembler_stats *y)
{
    return memcmp(x, y, sizeof *x) == 0;
}

/* B: the thread that feeds first owns the pool. Every entry point called
 * from another thread gets SR_ERR_WRONG_THREAD and changes nothing: the
 * assembler's and the pool's counters (errors included) and the streams
 * stay as they were, and the owner goes on. Then, the owner done, the main
 * thread frees the assembler and the pool (they take it over): every
 * stream completes, its bytes whole, and the allocator gets everything
 * back. The streams are those of a shared pool fed the same segments. */
static void test_owner(void)
{
    srt_recorder rec, ref;
    srt_recorder_init(&rec);
    srt_recorder_init(&ref);
    srt_alloc al;
    srt_alloc_init(&al);
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_allocator alc = srt_alloc_allocator(&al);
    sr_error e = SR_ERR_THREAD;
    sr_pool *p = sr_pool_new_ex(&f, 64, &alc, SR_POOL_SINGLE_THREAD, &e);
    g_assert_nonnull(p);
    sr_assembler *a = NULL;
    g_assert_cmpint(sr_assembler_new(p, NULL, &a), ==, SR_OK); /* not owned yet: any thread */

    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    feed fd = {a, 6, SR_OK, 0, 0, &bar};
    pthread_t owner, t;
    g_assert_cmpint(pthread_create(&owner, NULL, feed_thread, &fd), ==, 0);
    pthread_barrier_wait(&bar); /* it starts */
    pthread_barrier_wait(&bar); /* it has fed */

    /* The owner is that thread, alive until the barrier below: the main
     * thread and fresh threads are others. */
    sr_assembler_stats before = srt_asm_stats(a);
    sr_pool_stats pbefore = srt_pool_stats(p);
    unsigned streams = srt_recorder_count(&rec);
    g_assert_cmpuint(streams, ==, 6);
    for (call_kind k = C_FEED; k <= C_ASM_NEW; k++) {
        /* In the main thread and in a fresh thread alike. */
        other_call oc = {k, p, a, SR_OK};
        other_thread(&oc);
        g_assert_cmpstr(sr_err_name(oc.got), ==, "SR_ERR_WRONG_THREAD");
        other_call oc2 = {k, p, a, SR_OK};
        g_assert_cmpint(pthread_create(&t, NULL, other_thread, &oc2), ==, 0);
        g_assert_cmpint(pthread_join(t, NULL), ==, 0);
        g_assert_cmpstr(sr_err_name(oc2.got), ==, "SR_ERR_WRONG_THREAD");
        sr_assembler_stats now = srt_asm_stats(a);
        g_assert_true(stats_equal(&before, &now));
        sr_pool_stats pnow = srt_pool_stats(p);
        g_assert_cmpmem(&pbefore, sizeof pbefore, &pnow, sizeof pnow);
        g_assert_cmpuint(srt_recorder_count(&rec), ==, streams);
    }
    /* Nothing completed by the refused closes and flushes (one FIN each). */
    for (unsigned i = 0; i < streams; i++)
        g_assert_cmpint(srt_recorder_stream(&rec, i)->completes, ==, 0);
    pthread_barrier_wait(&bar); /* the owner may end */
    g_assert_cmpint(pthread_join(owner, NULL), ==, 0);
    pthread_barrier_destroy(&bar);
    g_assert_cmpuint(fd.refused, ==, 0);
    g_assert_cmpuint(fd.ok, ==, 30);

    /* Freed from the main thread: taken over, closed, every stream done. */
    sr_assembler_free(a);
    sr_pool_free(p);
    g_assert_cmpint(srt_alloc_live(&al), ==, 0);

    /* The same segments into a shared pool: the same streams. */
    sr_stream_factory rf = srt_recorder_factory(&ref);
    sr_pool *rp = sr_pool_new(&rf, 64, NULL);
    sr_assembler *ra = NULL;
    g_assert_cmpint(sr_assembler_new(rp, NULL, &ra), ==, SR_OK);
    feed rfd = {ra, 6, SR_OK, 0, 0, NULL};
    feed_conns(&rfd);
    sr_assembler_free(ra);
    sr_pool_free(rp);
    g_assert_cmpuint(srt_recorder_count(&ref), ==, streams);
    for (unsigned i = 0; i < streams; i++) {
        srt_stream *x = srt_recorder_stream(&rec, i), *y = srt_recorder_stream(&ref, i);
        g_assert_cmpint(x->completes, ==, 1);
        g_assert_cmpint(x->close_reason, ==, y->close_reason);
        for (int d = 0; d < 2; d++) {
            char *rx = srt_render(&x->dir[d]), *ry = srt_render(&y->dir[d]);
            g_assert_cmpstr(rx, ==, ry);
            g_free(rx);
            g_free(ry);
        }
    }
    srt_recorder_clear(&rec);
    srt_recorder_clear(&ref);
    srt_alloc_clear(&al);
}

/* C: two threads start feeding a fresh single-thread pool at once: one
 * owns it and feeds everything; the other is refused from its first call
 * on and changed nothing (the owner's streams are exactly its own). */
static void test_claim_race(void)
{
    for (int round = 0; round < 20; round++) {
        srt_recorder rec;
        srt_recorder_init(&rec);
        sr_stream_factory f = srt_recorder_factory(&rec);
        sr_pool *p = sr_pool_new_ex(&f, 64, NULL, SR_POOL_SINGLE_THREAD, NULL);
        g_assert_nonnull(p);
        sr_assembler *a = NULL;
        g_assert_cmpint(sr_assembler_new(p, NULL, &a), ==, SR_OK);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 2);
        feed fd[2] = {{a, 4, SR_OK, 0, 0, &bar}, {a, 4, SR_OK, 0, 0, &bar}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            g_assert_cmpint(pthread_create(&t[i], NULL, feed_thread, &fd[i]), ==, 0);
        for (int i = 0; i < 2; i++)
            g_assert_cmpint(pthread_join(t[i], NULL), ==, 0);
        pthread_barrier_destroy(&bar);
        int winner = fd[0].refused == 0 ? 0 : 1;
        g_assert_cmpuint(fd[winner].refused, ==, 0);
        g_assert_cmpuint(fd[winner].ok, ==, 20);
        g_assert_cmpuint(fd[!winner].ok, ==, 0);
        g_assert_cmpuint(fd[!winner].refused, ==, 20);
        g_assert_cmpstr(sr_err_name(fd[!winner].first_err), ==, "SR_ERR_WRONG_THREAD");
        sr_assembler_stats s = srt_asm_stats(a);
        g_assert_cmpuint(s.packets_processed, ==, 20);
        g_assert_cmpuint(s.errors, ==, 0);
        g_assert_cmpuint(srt_recorder_count(&rec), ==, 4);
        sr_assembler_free(a);
        sr_pool_free(p);
        srt_recorder_clear(&rec);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/single/flags", test_flags);
    g_test_add_func("/single/owner", test_owner);
    g_test_add_func("/single/claim-race", test_claim_race);
    return g_test_run();
}
