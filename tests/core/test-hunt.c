/* test-hunt.c - cases an independent hunt for breaks of the promise found
 * or pinned down (tests/core/FINDINGS.md, F6 on), each written from the
 * header's contract with its own small recorder (no sr-test-util).
 *
 * /hunt/deferred-victim/assembler-close: a connection V evicted by a
 * nested call (a callback feeding another connection) while another thread
 * holds V is queued, not completed (the nested call must not wait: F4).
 * sr_assembler_close() promises to "flush every connection holding pages
 * this assembler buffered"; V holds such a page. Checked: once
 * sr_assembler_close() has returned, V's buffered bytes have been
 * delivered and V completed (EVICTED), and the assembler holds no page.
 * (Since the fix, the holder's own call completes V as it returns; the
 * close completes any victim still queued.)
 *
 * /hunt/history/..., /hunt/fin/trim-keeps-no-stale-conflict-flag: F11-F13,
 * found by a second hunt on the conflict history kept by reference (see
 * the functions' comments).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#define _POSIX_C_SOURCE 200809L
#include <glib.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "safereasm.h"
#include "sr-test-util.h"

#define SEC SR_USEC_PER_SEC

/* ------------------------------------------------------------ recorder */

typedef struct hstream {
    uint64_t id;
    uint16_t port;            /* the client's port: which flow */
    uint64_t delivered[2];
    uint64_t edge[2];
    bool completed;
    int reason;
} hstream;

typedef struct hworld {
    pthread_mutex_t m;
    pthread_cond_t cv;
    hstream st[16];
    int nst;
    /* deferred-victim case */
    sr_assembler *a;
    bool block_v;             /* V's next on_data waits for release */
    bool v_blocked, v_release;
    bool nest_from_x;         /* X's next on_data feeds Y */
    sr_error nested_ret;
    unsigned nested_status;
    int bad;
} hworld;

static void flow_port(sr_flow *f, uint16_t cport)
{
    sr_flow_set_ipv4(f, g_htonl(0x0a000001u), cport, g_htonl(0x0a000002u), 80);
}

static void *h_new(void *ud, const sr_conn_info *info, void *pctx)
{
    (void)pctx;
    hworld *w = ud;
    pthread_mutex_lock(&w->m);
    hstream *s = &w->st[w->nst++];
    memset(s, 0, sizeof *s);
    s->id = info->id;
    s->port = info->flow.src.port;
    s->reason = -1;
    pthread_mutex_unlock(&w->m);
    return s;
}

static int h_data(void *ud, void *stream, const sr_conn_info *info, const sr_chunk *ch,
                  void *pctx)
{
    (void)info;
    (void)pctx;
    hworld *w = ud;
    hstream *s = stream;
    pthread_mutex_lock(&w->m);
    if (s->completed || ch->offset != s->edge[ch->dir] + ch->skipped)
        w->bad++;
    s->edge[ch->dir] = ch->offset + ch->len;
    s->delivered[ch->dir] += ch->len;
    if (s->port == 2000 && w->block_v && ch->len) {
        /* V: tell the main thread we hold V, wait to be released. */
        w->block_v = false;
        w->v_blocked = true;
        pthread_cond_broadcast(&w->cv);
        while (!w->v_release)
            pthread_cond_wait(&w->cv, &w->m);
    }
    bool nest = s->port == 1000 && w->nest_from_x;
    w->nest_from_x = false;
    pthread_mutex_unlock(&w->m);
    if (nest) {
        /* X's callback feeds Y, a new connection: the pool is full, so it
         * evicts the least recently used one, V, which the other thread
         * holds. */
        sr_flow fy;
        flow_port(&fy, 3000);
        static const uint8_t py[4] = {'y', 'y', 'y', 'y'};
        sr_segment sy = {.seq = 9000, .flags = SR_TCP_ACK, .payload = py, .payload_len = 4,
                         .timestamp = 1 * SEC};
        sr_result r;
        sr_error e = sr_assemble_ex(w->a, &fy, &sy, NULL, &r);
        pthread_mutex_lock(&w->m);
        w->nested_ret = e;
        w->nested_status = r.status;
        pthread_mutex_unlock(&w->m);
    }
    return 0;
}

static void h_complete(void *ud, void *stream, const sr_conn_info *info, sr_close_reason why,
                       void *pctx)
{
    (void)info;
    (void)pctx;
    hworld *w = ud;
    hstream *s = stream;
    pthread_mutex_lock(&w->m);
    if (s->completed)
        w->bad++;
    s->completed = true;
    s->reason = (int)why;
    pthread_mutex_unlock(&w->m);
}

static hstream *h_find(hworld *w, uint16_t port)
{
    for (int i = 0; i < w->nst; i++)
        if (w->st[i].port == port)
            return &w->st[i];
    return NULL;
}

static sr_error feed(sr_assembler *a, uint16_t port, uint32_t seq, const char *data,
                     sr_time t)
{
    sr_flow f;
    flow_port(&f, port);
    sr_segment s = {.seq = seq, .flags = SR_TCP_ACK, .payload = (const uint8_t *)data,
                    .payload_len = strlen(data), .timestamp = t};
    return sr_assemble(a, &f, &s, NULL);
}

/* ------------------------------------------------------------ deferred victim */

static void *v_thread(void *arg)
{
    hworld *w = arg;
    /* V's in-order segment: its on_data blocks while V is locked. */
    sr_error e = feed(w->a, 2000, 5004, "vvvv", 1 * SEC);
    if (e != SR_OK)
        g_atomic_int_inc(&w->bad);
    return NULL;
}

static void test_deferred_victim_close(void)
{
    alarm(60); /* a deadlock fails the test instead of hanging it */
    hworld *w = g_new0(hworld, 1);
    pthread_mutex_init(&w->m, NULL);
    pthread_cond_init(&w->cv, NULL);
    sr_stream_factory f = {h_new, h_data, h_complete, w};
    sr_error err;
    sr_pool *p = sr_pool_new(&f, 2, &err);
    g_assert_nonnull(p);
    sr_options o;
    sr_options_init(&o);
    o.page_size = 16;
    g_assert_cmpint(sr_assembler_new(p, &o, &w->a), ==, SR_OK);

    /* X (port 1000), then V (port 2000) with a page buffered behind a hole. */
    g_assert_cmpint(feed(w->a, 1000, 100, "xxxx", 1 * SEC), ==, SR_OK);
    g_assert_cmpint(feed(w->a, 2000, 5000, "VVVV", 1 * SEC), ==, SR_OK);
    g_assert_cmpint(feed(w->a, 2000, 5100, "buffered-bytes", 1 * SEC), ==, SR_OK);
    sr_assembler_stats as;
    sr_assembler_get_stats(w->a, &as);
    g_assert_cmpuint(as.pages_in_use, ==, 1);

    /* The other thread holds V (in V's on_data). */
    pthread_mutex_lock(&w->m);
    w->block_v = true;
    pthread_mutex_unlock(&w->m);
    pthread_t th;
    g_assert_cmpint(pthread_create(&th, NULL, v_thread, w), ==, 0);
    pthread_mutex_lock(&w->m);
    while (!w->v_blocked)
        pthread_cond_wait(&w->cv, &w->m);
    w->nest_from_x = true;
    pthread_mutex_unlock(&w->m);

    /* X's segment; its callback creates Y and evicts V (queued: held). */
    g_assert_cmpint(feed(w->a, 1000, 104, "XXXX", 1 * SEC), ==, SR_OK);
    pthread_mutex_lock(&w->m);
    g_test_message("nested call: %s, status %#x", sr_err_name(w->nested_ret), w->nested_status);
    g_assert_cmpint(w->nested_ret, ==, SR_OK);
    g_assert_true(w->nested_status & SR_SEG_EVICTED_OTHER);
    w->v_release = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->m);
    pthread_join(th, NULL);

    hstream *v = h_find(w, 2000);
    g_assert_nonnull(v);
    g_test_message("before close: V completed %d, delivered %" PRIu64, v->completed,
                   v->delivered[0]);

    g_assert_cmpint(sr_assembler_close(w->a), ==, SR_OK);
    sr_assembler_get_stats(w->a, &as);
    g_test_message("after sr_assembler_close: V completed %d (reason %d), delivered %" PRIu64
                   ", pages_in_use %" PRIu64,
                   v->completed, v->reason, v->delivered[0], as.pages_in_use);
    /* "flush every connection holding pages this assembler buffered". */
    g_assert_cmpuint(v->delivered[0], ==, 4 + 4 + 14);
    g_assert_cmpuint(as.pages_in_use, ==, 0);

    sr_pool_close(p);
    g_assert_true(v->completed);
    g_assert_cmpint(v->reason, ==, SR_CLOSE_EVICTED);
    g_assert_cmpint(w->bad, ==, 0);
    sr_assembler_free(w->a);
    sr_pool_free(p);
    pthread_mutex_destroy(&w->m);
    pthread_cond_destroy(&w->cv);
    g_free(w);
    alarm(0);
}

/* ------------------------------------------------------------ threads */

/* /hunt/threads/evict-nested: 4 threads, each with its own assembler on
 * one pool whose connection cap (6) is far below the 48 connections they
 * feed, with small page caps; callbacks sometimes feed a segment of a
 * connection another thread owns (contention: nested calls give up with
 * SR_ERR_BUSY, victims held by others are queued). Whatever the
 * scheduling: every stream completes exactly once, its chunks continue
 * exactly at delivered + skipped, its totals at completion are its
 * chunks', the assemblers' delivered/skipped counters are the sums over
 * the streams, no page is left, the pool's counters match the callbacks. */

#define TT 4
#define TK 12                 /* connections per thread */
#define TSEG 20000            /* segments per thread */

typedef struct tstream {
    uint64_t edge[2], delivered[2], skipped[2];
    bool completed, failed;
    uint64_t fin_delivered[2], fin_skipped[2];
    int bad;
} tstream;

typedef struct tworld {
    sr_assembler *a[TT];
    _Atomic uint64_t created, completed, bad;
    _Atomic uint64_t nested_ok, nested_busy, nested_other;
    GPtrArray *streams;       /* under m */
    pthread_mutex_t m;
    pthread_barrier_t start;
} tworld;

typedef struct tthread {
    tworld *w;
    int t;
    uint64_t rng;
    uint32_t next[TK][2];     /* next sequence number per connection and side */
    uint32_t isn[TK][2];
} tthread;

static _Thread_local tthread *t_self;

static uint64_t t_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void t_flow(sr_flow *f, int t, int k, int side)
{
    uint16_t cport = (uint16_t)(10000 + t * 100 + k);
    if (side == 0)
        sr_flow_set_ipv4(f, g_htonl(0x0a000001u), cport, g_htonl(0x0a000002u), 80);
    else
        sr_flow_set_ipv4(f, g_htonl(0x0a000002u), 80, g_htonl(0x0a000001u), cport);
}

static void *t_new(void *ud, const sr_conn_info *info, void *pctx)
{
    (void)info;
    (void)pctx;
    tworld *w = ud;
    tstream *s = g_new0(tstream, 1);
    pthread_mutex_lock(&w->m);
    g_ptr_array_add(w->streams, s);
    pthread_mutex_unlock(&w->m);
    atomic_fetch_add(&w->created, 1);
    return s;
}

static sr_error t_feed(tthread *th, int t, int k, int side, sr_time ts, bool nested);

static int t_data(void *ud, void *stream, const sr_conn_info *info, const sr_chunk *ch,
                  void *pctx)
{
    (void)pctx;
    tworld *w = ud;
    tstream *s = stream;
    int d = ch->dir;
    if (s->completed || s->failed || ch->offset != s->edge[d] + ch->skipped)
        s->bad++;
    s->edge[d] = ch->offset + ch->len;
    s->delivered[d] += ch->len;
    s->skipped[d] += ch->skipped;
    if (info->delivered[d] != s->delivered[d] || info->skipped[d] != s->skipped[d])
        s->bad++;
    tthread *th = t_self;
    if (th && (t_rand(&th->rng) % 12) == 0) {
        /* Feed a connection of another thread, from inside this callback. */
        int ot = (int)((th->t + 1 + t_rand(&th->rng) % (TT - 1)) % TT);
        int k = (int)(t_rand(&th->rng) % TK);
        sr_error e = t_feed(th, ot, k, (int)(t_rand(&th->rng) % 2), 0, true);
        if (e == SR_OK || e == SR_ERR_CALLBACK || e == SR_ERR_CONNECTION_CLOSED)
            atomic_fetch_add(&w->nested_ok, 1);
        else if (e == SR_ERR_BUSY || e == SR_ERR_CONNECTION_LIMIT || e == SR_ERR_REENTRANT)
            atomic_fetch_add(&w->nested_busy, 1);
        else
            atomic_fetch_add(&w->nested_other, 1);
    }
    if (th && (t_rand(&th->rng) % 400) == 0) {
        s->failed = true;
        return 1;
    }
    return 0;
}

static void t_complete(void *ud, void *stream, const sr_conn_info *info, sr_close_reason why,
                       void *pctx)
{
    (void)pctx;
    tworld *w = ud;
    tstream *s = stream;
    if (s->completed)
        s->bad++;
    s->completed = true;
    if (s->failed != (why == SR_CLOSE_CALLBACK_ERROR))
        s->bad++;
    for (int d = 0; d < 2; d++) {
        s->fin_delivered[d] = info->delivered[d];
        s->fin_skipped[d] = info->skipped[d];
        if (!s->failed && (info->delivered[d] != s->delivered[d] ||
                           info->skipped[d] != s->skipped[d]))
            s->bad++;
    }
    if (info->pages_buffered)
        s->bad++;
    atomic_fetch_add(&w->completed, 1);
}

/* One segment of connection k of thread t (its own numbers are only
 * approximately right for another thread's connection: that is fine, the
 * checks here do not depend on what is sent). */
static sr_error t_feed(tthread *th, int t, int k, int side, sr_time ts, bool nested)
{
    static _Thread_local sr_time last_ts;
    if (!nested)
        last_ts = ts;
    uint8_t buf[64];
    uint32_t len = (uint32_t)(t_rand(&th->rng) % 40);
    uint32_t seq;
    tthread *own = th; /* another thread's numbers are not ours to move */
    uint32_t base = own->isn[k][side] + (uint32_t)(t_rand(&th->rng) % 3000);
    uint32_t r = (uint32_t)(t_rand(&th->rng) % 10);
    if (t == th->t && r < 6) {
        seq = th->next[k][side];
        th->next[k][side] += len;
    } else if (t == th->t && r < 8) {
        seq = th->next[k][side] + 1 + (uint32_t)(t_rand(&th->rng) % 200);
    } else {
        seq = base;
    }
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seq + i);
    uint8_t flags = SR_TCP_ACK;
    if (t_rand(&th->rng) % 300 == 0)
        flags |= SR_TCP_FIN;
    if (t_rand(&th->rng) % 500 == 0)
        flags = SR_TCP_RST;
    sr_flow f;
    t_flow(&f, t, k, side);
    sr_segment sg = {.seq = seq, .flags = flags, .payload = buf, .payload_len = len,
                     .timestamp = last_ts};
    return sr_assemble(th->w->a[nested ? th->t : t], &f, &sg, NULL);
}

static void *t_main(void *arg)
{
    tthread *th = arg;
    t_self = th;
    pthread_barrier_wait(&th->w->start);
    sr_time ts = 1000 * SEC;
    for (int i = 0; i < TSEG; i++) {
        uint64_t r = t_rand(&th->rng) % 1000;
        ts += r == 0 ? 30 * SEC : r < 10 ? 3 * SEC : (sr_time)(t_rand(&th->rng) % 20000);
        int k = (int)(t_rand(&th->rng) % TK);
        sr_error e = t_feed(th, th->t, k, (int)(t_rand(&th->rng) % 2), ts, false);
        if (e != SR_OK && e != SR_ERR_CALLBACK && e != SR_ERR_CONNECTION_CLOSED &&
            e != SR_ERR_CONNECTION_LIMIT)
            atomic_fetch_add(&th->w->bad, 1);
        if (t_rand(&th->rng) % 2000 == 0)
            sr_assembler_flush_older_than(th->w->a[th->t], ts - 5 * SEC, NULL, NULL, NULL);
    }
    t_self = NULL;
    return NULL;
}

static void test_threads_evict_nested(void)
{
    alarm(300);
    const char *sd = g_getenv("SR_SEED");
    uint64_t seed = sd ? g_ascii_strtoull(sd, NULL, 0) : 77;
    const char *rn = g_getenv("SR_HUNT_ROUNDS");
    int rounds = rn ? atoi(rn) : 3;
    for (int round = 0; round < rounds; round++) {
        tworld *w = g_new0(tworld, 1);
        pthread_mutex_init(&w->m, NULL);
        pthread_barrier_init(&w->start, NULL, TT);
        w->streams = g_ptr_array_new_with_free_func(g_free);
        sr_stream_factory f = {t_new, t_data, t_complete, w};
        sr_error err;
        sr_pool *p = sr_pool_new(&f, 6, &err);
        g_assert_nonnull(p);
        sr_options o;
        sr_options_init(&o);
        o.page_size = 16;
        o.max_buffered_pages_total = 20;
        o.max_buffered_pages_per_connection = 8;
        o.connection_timeout = 10 * SEC;
        o.flush_interval = 2 * SEC;
        o.closed_linger = (round % 2) ? 0 : 5 * SEC;
        for (int t = 0; t < TT; t++)
            g_assert_cmpint(sr_assembler_new(p, &o, &w->a[t]), ==, SR_OK);
        tthread th[TT];
        pthread_t tid[TT];
        for (int t = 0; t < TT; t++) {
            memset(&th[t], 0, sizeof th[t]);
            th[t].w = w;
            th[t].t = t;
            th[t].rng = seed * 1000003u + (uint64_t)round * 101u + (uint64_t)t;
            for (int k = 0; k < TK; k++)
                for (int sd2 = 0; sd2 < 2; sd2++)
                    th[t].next[k][sd2] = th[t].isn[k][sd2] = (uint32_t)t_rand(&th[t].rng);
        }
        for (int t = 0; t < TT; t++)
            g_assert_cmpint(pthread_create(&tid[t], NULL, t_main, &th[t]), ==, 0);
        for (int t = 0; t < TT; t++)
            pthread_join(tid[t], NULL);
        for (int t = 0; t < TT; t++) {
            g_assert_cmpint(sr_assembler_close(w->a[t]), ==, SR_OK);
            sr_assembler_stats as;
            sr_assembler_get_stats(w->a[t], &as);
            /* "flush every connection holding pages this assembler buffered" */
            g_assert_cmpuint(as.pages_in_use, ==, 0);
        }
        g_assert_cmpint(sr_pool_close(p), ==, SR_OK);
        uint64_t del = 0, skp = 0, asdel = 0, asskp = 0;
        int bad = 0;
        for (guint i = 0; i < w->streams->len; i++) {
            tstream *s = w->streams->pdata[i];
            bad += s->bad + !s->completed;
            for (int d = 0; d < 2; d++) {
                del += s->fin_delivered[d];
                skp += s->fin_skipped[d];
            }
        }
        for (int t = 0; t < TT; t++) {
            sr_assembler_stats as;
            sr_assembler_get_stats(w->a[t], &as);
            asdel += as.bytes_delivered;
            asskp += as.bytes_skipped;
            g_assert_cmpuint(as.pages_in_use, ==, 0);
        }
        sr_pool_stats ps;
        sr_pool_get_stats(p, &ps);
        g_test_message("round %d: %u streams, nested feeds ok %" PRIu64 " busy/limit/reentrant %" PRIu64
                       " other %" PRIu64 ", evicted %" PRIu64 ", delivered %" PRIu64
                       " skipped %" PRIu64,
                       round, w->streams->len, atomic_load(&w->nested_ok),
                       atomic_load(&w->nested_busy), atomic_load(&w->nested_other),
                       ps.closed_evicted, del, skp);
        g_assert_cmpint(bad, ==, 0);
        g_assert_cmpuint(atomic_load(&w->bad), ==, 0);
        g_assert_cmpuint(atomic_load(&w->nested_other), ==, 0);
        g_assert_cmpuint(ps.total_created, ==, w->streams->len);
        g_assert_cmpuint(ps.closed, ==, w->streams->len);
        g_assert_cmpuint(atomic_load(&w->completed), ==, w->streams->len);
        g_assert_cmpuint(asdel, ==, del);
        g_assert_cmpuint(asskp, ==, skp);
        for (int t = 0; t < TT; t++)
            sr_assembler_free(w->a[t]);
        sr_pool_free(p);
        g_ptr_array_free(w->streams, TRUE);
        pthread_mutex_destroy(&w->m);
        pthread_barrier_destroy(&w->start);
        g_free(w);
    }
    alarm(0);
}

/* ------------------------------------------------------------ long streams */

/* /hunt/long/past-4gib: one direction (no SYN, so offset 0 is the first
 * segment's sequence number) walks past 2^32 twice (8 GiB): each segment
 * starts max_window - 1 past the extent, the end of the highest byte seen
 * (accepted: "this many bytes or more beyond ... are dropped", counted from
 * the extent as the core does), and one starting max_window past it is
 * dropped as out of window; then a flush, then in-order data, a
 * retransmission with other bytes (a conflict in the history), all at
 * offsets above 2^33. Checked against offsets computed here in 64
 * bits: every chunk's offset and gap, delivered + skipped == the extent,
 * dropped == the out-of-window bytes, the conflict. */

typedef struct lrec {
    uint64_t edge, delivered, skipped;
    uint64_t offs[64], lens[64], gaps[64];
    unsigned flags[64];
    int n;
    bool completed;
    sr_conn_info done;
} lrec;

static void *l_new(void *ud, const sr_conn_info *info, void *pctx)
{
    (void)info;
    (void)pctx;
    return ud;
}

static int l_data(void *ud, void *stream, const sr_conn_info *info, const sr_chunk *ch,
                  void *pctx)
{
    (void)ud;
    (void)info;
    (void)pctx;
    lrec *r = stream;
    g_assert_cmpint(ch->dir, ==, SR_DIR_CLIENT_TO_SERVER);
    g_assert_cmpuint(ch->offset, ==, r->edge + ch->skipped);
    if (r->n < 64) {
        r->offs[r->n] = ch->offset;
        r->lens[r->n] = ch->len;
        r->gaps[r->n] = ch->skipped;
        r->flags[r->n] = ch->flags;
        r->n++;
    }
    r->edge = ch->offset + ch->len;
    r->delivered += ch->len;
    r->skipped += ch->skipped;
    return 0;
}

static void l_complete(void *ud, void *stream, const sr_conn_info *info, sr_close_reason why,
                       void *pctx)
{
    (void)ud;
    (void)why;
    (void)pctx;
    lrec *r = stream;
    g_assert_false(r->completed);
    r->completed = true;
    r->done = *info;
}

static void test_long_past_4gib(void)
{
    static const uint32_t isns[] = {0, 1, 0xffffffffu, 0xfffffff5u, 0x80000000u};
    for (size_t ii = 0; ii < G_N_ELEMENTS(isns); ii++) {
        uint32_t isn = isns[ii];
        lrec *r = g_new0(lrec, 1);
        sr_stream_factory f = {l_new, l_data, l_complete, r};
        sr_pool *p = sr_pool_new(&f, 4, NULL);
        sr_options o;
        sr_options_init(&o);
        o.page_size = 64;
        const uint64_t W = o.max_window;
        sr_assembler *a = NULL;
        g_assert_cmpint(sr_assembler_new(p, &o, &a), ==, SR_OK);
        sr_flow fl;
        sr_flow_set_ipv4(&fl, g_htonl(0x0a000001u), 1234, g_htonl(0x0a000002u), 80);
        uint8_t buf[64];
        sr_time t = 1000 * SEC;
        sr_result res;
#define LFEED(off64, n, fill)                                                             \
    do {                                                                                  \
        memset(buf, (fill), (n));                                                         \
        sr_segment sg = {.seq = isn + (uint32_t)(off64), .flags = SR_TCP_ACK,             \
                         .payload = buf, .payload_len = (n), .timestamp = t};             \
        g_assert_cmpint(sr_assemble_ex(a, &fl, &sg, NULL, &res), ==, SR_OK);              \
    } while (0)
        /* offset 0: 10 bytes, delivered */
        LFEED(0, 10, 'a');
        g_assert_cmpuint(r->delivered, ==, 10);
        uint64_t extent = 10, expect_deliv = 10;
        uint64_t starts[8];
        int nst = 0;
        /* Walk: each segment max_window - 1 beyond the extent, 8 bytes. */
        while (extent < ((uint64_t)5 << 32) && nst < 8) {
            uint64_t off = extent + W - 1;
            LFEED(off, 8, 'b' + nst);
            g_assert_false(res.status & SR_SEG_OUT_OF_WINDOW);
            g_assert_true(res.status & SR_SEG_OUT_OF_ORDER);
            starts[nst++] = off;
            extent = off + 8;
            expect_deliv += 8;
        }
        g_assert_cmpuint(extent, >, (uint64_t)1 << 33); /* wrapped twice */
        /* One starting exactly max_window past the extent (the end of the
         * highest byte seen): dropped. */
        LFEED(extent + W, 5, 'z');
        g_assert_true(res.status & SR_SEG_OUT_OF_WINDOW);
        g_assert_cmpuint(res.dropped[0], ==, 5);
        /* Flush what is buffered: the holes are skipped, 64-bit offsets. */
        t += 100 * SEC; /* past flush_interval: released when the next segment comes */
        LFEED(extent, 6, 'c'); /* in order after the release */
        expect_deliv += 6;
        extent += 6;
        g_assert_true(res.status & SR_SEG_IN_ORDER);
        g_assert_cmpuint(r->delivered, ==, expect_deliv);
        g_assert_cmpuint(r->edge, ==, extent);
        for (int i = 0; i < nst; i++) {
            g_assert_cmpuint(r->offs[1 + i], ==, starts[i]);
            g_assert_cmpuint(r->lens[1 + i], ==, 8);
            g_assert_cmpuint(r->gaps[1 + i], ==,
                             starts[i] - (i ? starts[i - 1] + 8 : 10));
        }
        /* A retransmission of the last 6 bytes with other content: a
         * conflict with the delivered bytes (within conflict_history). */
        LFEED(extent - 6, 6, 'Q');
        g_assert_true(res.status & SR_SEG_RETRANSMISSION);
        g_assert_true(res.status & SR_SEG_CONFLICT);
        g_assert_cmpint(sr_assembler_flush_all(a, NULL, NULL), ==, SR_OK);
        g_assert_true(r->completed);
        g_assert_cmpuint(r->done.delivered[0], ==, expect_deliv);
        g_assert_cmpuint(r->done.delivered[0] + r->done.skipped[0], ==, extent);
        g_assert_cmpuint(r->done.dropped[0], ==, 5);
        g_assert_cmpuint(r->done.conflicts[0], ==, 1);
#undef LFEED
        sr_assembler_free(a);
        sr_pool_free(p);
        g_free(r);
    }
}

/* ------------------------------------------------------------ FIN and cut tails */

/* /hunt/fin/cut-tail-beyond-late-fin (F7): segments cut by the snaplen
 * (claimed_len > payload_len) are buffered out of order, then a FIN arrives
 * whose offset lies before (or inside) them. "Nothing is taken beyond a
 * known FIN": their bytes are dropped, and sr_conn_info.dropped must count
 * them all - the claimed ones the capture cut off too ("every captured byte
 * is in one of the three": the tool's --verify counts claimed bytes). Three
 * shapes, at four ISNs:
 *   A  pages wholly beyond the FIN, two of them with cut tails;
 *   B  a page straddling the FIN, its cut tail beyond it;
 *   C  a page before the FIN whose cut tail crosses it;
 *   E  (F8) a segment at the edge whose cut tail reaches past a buffered
 *      page, a FIN inside that tail;
 *   F  (F9) two pages beyond the FIN, the lower one's cut tail reaching
 *      past the upper one's;
 *   G  a page inside the hull of claimed bytes no page could note: once.
 * Checked: delivered, skipped and dropped exactly, delivered + skipped ==
 * the FIN's offset, END at the FIN. */

typedef struct fseg {
    uint32_t rel;             /* sequence number - ISN (no SYN) */
    const char *data;         /* captured bytes */
    uint32_t claimed;         /* 0 = as captured */
    uint8_t flags;
} fseg;

typedef struct fcase {
    const char *name;
    fseg segs[6];
    uint64_t delivered, skipped, dropped, fin;
} fcase;

static const fcase fcases[] = {
    {"A", {{0, "abc", 0, SR_TCP_ACK}, {10, "x", 3, SR_TCP_ACK}, {20, "yy", 0, SR_TCP_ACK},
           {30, "z", 4, SR_TCP_ACK}, {5, "", 0, SR_TCP_FIN | SR_TCP_ACK}, {0, NULL, 0, 0}},
     3, 2, 3 + 2 + 4, 5},
    {"B", {{0, "abc", 0, SR_TCP_ACK}, {4, "de", 5, SR_TCP_ACK},
           {5, "", 0, SR_TCP_FIN | SR_TCP_ACK}, {0, NULL, 0, 0}},
     4, 1, 1 + 3, 5},
    {"C", {{0, "abc", 0, SR_TCP_ACK}, {4, "d", 4, SR_TCP_ACK},
           {6, "", 0, SR_TCP_FIN | SR_TCP_ACK}, {0, NULL, 0, 0}},
     4, 2, 2, 6},
    /* F8: the cut tail of a segment arriving at the edge reaches past a
     * buffered page; the FIN comes later, inside that tail. */
    {"E", {{0, "abcdefgh", 0, SR_TCP_ACK}, {230, "ABCDEFGH", 0, SR_TCP_ACK},
           {2, "cdef", 300, SR_TCP_ACK}, {262, "", 0, SR_TCP_FIN | SR_TCP_ACK}, {0, NULL, 0, 0}},
     16, 222 + 24, 40, 262},
    /* F9: two pages beyond the FIN whose cut tails nest the other way:
     * the lower page's tail (to 40) reaches past the upper page's (to 37),
     * so clamping the lower one at the upper page's start lost 37..40. */
    {"F", {{0, "abc", 0, SR_TCP_ACK}, {20, "0123456789", 20, SR_TCP_ACK},
           {25, "ABCDEFGHIJ", 12, SR_TCP_ACK}, {5, "", 0, SR_TCP_FIN | SR_TCP_ACK}, {0, NULL, 0, 0}},
     3, 2, 20, 5},
    /* A segment cut to its headers beyond a hole (no page to note its
     * claimed bytes on: the side's hull 20..30), then captured bytes
     * inside that hull (a page 22..27), then the FIN: 10 claimed bytes
     * beyond it, counted once (15 before: the page and the hull both). */
    {"G", {{0, "abc", 0, SR_TCP_ACK}, {20, "", 10, SR_TCP_ACK}, {22, "vwxyz", 0, SR_TCP_ACK},
           {5, "", 0, SR_TCP_FIN | SR_TCP_ACK}, {0, NULL, 0, 0}},
     3, 2, 10, 5},
};

static void test_fin_cut_tail(void)
{
    static const uint32_t isns[] = {0, 1, 0xffffffffu, 0xfffffff5u};
    /* The counts do not depend on how the bytes sit in pages (F9 needed
     * small ones) nor on the overlap policy. */
    static const size_t page_sizes[] = {0, 4, 7, 64};
    for (size_t ci = 0; ci < G_N_ELEMENTS(fcases); ci++)
    for (size_t pi = 0; pi < G_N_ELEMENTS(page_sizes); pi++)
    for (int pol = 0; pol < SR_POLICY_COUNT_; pol++) {
        const fcase *fc = &fcases[ci];
        for (size_t ii = 0; ii < G_N_ELEMENTS(isns); ii++) {
            lrec *r = g_new0(lrec, 1);
            sr_stream_factory f = {l_new, l_data, l_complete, r};
            sr_pool *p = sr_pool_new(&f, 4, NULL);
            sr_assembler *a = NULL;
            sr_options o;
            sr_options_init(&o);
            if (page_sizes[pi])
                o.page_size = page_sizes[pi];
            o.overlap_policy = (sr_overlap_policy)pol;
            g_test_message("case %s page size %zu policy %s isn %u", fc->name, o.page_size,
                           sr_overlap_policy_name(o.overlap_policy), isns[ii]);
            g_assert_cmpint(sr_assembler_new(p, &o, &a), ==, SR_OK);
            sr_flow fl;
            sr_flow_set_ipv4(&fl, g_htonl(0x0a000001u), 1234, g_htonl(0x0a000002u), 80);
            sr_result res;
            for (const fseg *sg = fc->segs; sg->data; sg++) {
                size_t n = strlen(sg->data);
                sr_segment seg = {.seq = isns[ii] + sg->rel, .flags = sg->flags,
                                  .payload = (const uint8_t *)sg->data, .payload_len = n,
                                  .claimed_len = sg->claimed, .timestamp = 1000 * SEC};
                g_assert_cmpint(sr_assemble_ex(a, &fl, &seg, NULL, &res), ==, SR_OK);
            }
            g_test_message("case %s isn %u: after the FIN dropped %" PRIu64, fc->name,
                           isns[ii], res.dropped[0]);
            g_assert_cmpint(sr_assembler_flush_all(a, NULL, NULL), ==, SR_OK);
            g_assert_true(r->completed);
            g_test_message("case %s isn %u: delivered %" PRIu64 " skipped %" PRIu64
                           " dropped %" PRIu64,
                           fc->name, isns[ii], r->done.delivered[0], r->done.skipped[0],
                           r->done.dropped[0]);
            g_assert_cmpuint(r->done.delivered[0], ==, fc->delivered);
            g_assert_cmpuint(r->done.skipped[0], ==, fc->skipped);
            g_assert_cmpuint(r->done.delivered[0] + r->done.skipped[0], ==, fc->fin);
            g_assert_true(r->n > 0 && (r->flags[r->n - 1] & SR_CHUNK_END));
            g_assert_cmpuint(r->done.dropped[0], ==, fc->dropped);
            sr_assembler_free(a);
            sr_pool_free(p);
            g_free(r);
        }
    }
}

/* ------------------------------------------------------------ SYN-ACK start */

/* F22, as the live test met it: SYN, SYN-ACK, the connection times out,
 * the server retransmits the SYN-ACK (a new connection, without the SYN),
 * and the client's second segment comes before its first. The SYN-ACK's
 * acknowledgement number says where the client's stream starts: both
 * segments are delivered, nothing dropped, the first chunk has
 * SR_CHUNK_START. With ack 0 ("unknown") the direction starts at its first
 * data segment, as before, and the earlier bytes are dropped (counted). */
static void feed_ack(srt_env *e, bool b_to_a, uint32_t seq, uint32_t ack, uint8_t flags,
                     const char *data, sr_time ts)
{
    sr_flow fl;
    srt_flow_ab(&fl, 1, b_to_a);
    sr_segment seg = srt_seg(seq, flags, data, data ? strlen(data) : 0, ts);
    seg.ack = ack;
    g_assert_cmpint(sr_assemble_ex(e->a, &fl, &seg, NULL, &e->last), ==, SR_OK);
    srt_check_result(&e->rec, &e->last);
}

static void test_synack_starts_other_side(void)
{
    static const uint32_t isns[] = {1000, 0xfffffff0u, 0xfffffffeu};
    for (size_t ii = 0; ii < G_N_ELEMENTS(isns); ii++)
    for (int with_ack = 0; with_ack < 2; with_ack++) {
        const uint32_t ia = isns[ii], ib = 77777;
        srt_env e;
        sr_options o;
        sr_options_init(&o);
        srt_env_open(&e, &o, 4);
        const sr_time t0 = 1000 * SEC, t1 = t0 + o.connection_timeout + SEC;
        const uint32_t ack = with_ack ? ia + 1u : 0;
        feed_ack(&e, false, ia, 0, SR_TCP_SYN, NULL, t0);
        feed_ack(&e, true, ib, ack, SR_TCP_SYN | SR_TCP_ACK, NULL, t0 + 1);
        feed_ack(&e, true, ib, ack, SR_TCP_SYN | SR_TCP_ACK, NULL, t1); /* retransmitted */
        g_assert_true(e.last.status & SR_SEG_NEW_CONNECTION);
        const uint64_t id = e.last.conn_id;
        feed_ack(&e, false, ia + 6u, ib + 1u, SR_TCP_ACK, "world", t1 + 1);
        feed_ack(&e, false, ia + 1u, ib + 1u, SR_TCP_ACK, "hello", t1 + 2);
        g_assert_cmpuint(e.last.status & SR_SEG_BEFORE_START, ==,
                         with_ack ? 0 : SR_SEG_BEFORE_START);
        feed_ack(&e, false, ia + 11u, ib + 1u, SR_TCP_ACK | SR_TCP_FIN, NULL, t1 + 3);
        feed_ack(&e, true, ib + 1u, ia + 12u, SR_TCP_ACK | SR_TCP_FIN, NULL, t1 + 4);
        g_assert_true(e.last.status & SR_SEG_CLOSED);
        srt_stream *st = srt_env_stream(&e, id);
        g_test_message("isn %u ack %u: delivered %" PRIu64 " dropped %" PRIu64, ia, ack,
                       st->final_info.delivered[0], st->final_info.dropped[0]);
        if (with_ack) {
            srt_assert_dir(&st->dir[0], "helloworld", "client, started by the SYN-ACK");
            g_assert_cmpuint(st->final_info.dropped[0], ==, 0);
            g_assert_cmpuint(st->dir[0].flags_or & SR_CHUNK_START, ==, SR_CHUNK_START);
        } else {
            srt_assert_dir(&st->dir[0], "world", "client, started at its first data");
            g_assert_cmpuint(st->final_info.dropped[0], ==, 5);
            g_assert_cmpuint(st->dir[0].flags_or & SR_CHUNK_START, ==, 0);
        }
        srt_env_close(&e);
    }
}

/* ------------------------------------------------------------ history */

/* F11-F13 (a second hunt, on the conflict history kept by reference): one
 * direction fed through one or two assemblers of one pool; the chunks'
 * flags are recorded. */
typedef struct {
    unsigned flags_or;        /* of the chunks with bytes */
    int conflict_chunks;
    uint64_t edge;
    int bad;
} hh_view;

static void *hh_new(void *ud, const sr_conn_info *info, void *pctx)
{
    (void)info, (void)pctx;
    return ud;
}

static int hh_data(void *ud, void *stream, const sr_conn_info *info, const sr_chunk *ch,
                   void *pctx)
{
    (void)ud, (void)info, (void)pctx;
    hh_view *v = stream;
    if (ch->offset != v->edge + ch->skipped)
        v->bad++;
    v->edge = ch->offset + ch->len;
    if (ch->len && (ch->flags & SR_CHUNK_CONFLICT))
        v->conflict_chunks++;
    return 0;
}

static void hh_complete(void *ud, void *stream, const sr_conn_info *info, sr_close_reason why,
                        void *pctx)
{
    (void)ud, (void)stream, (void)info, (void)why, (void)pctx;
}

/* Feed [off, off + len) of content (the stream's bytes, or a changed copy)
 * through a; returns the status. */
static unsigned hh_feed(sr_assembler *a, const uint8_t *content, uint32_t off, size_t len,
                        unsigned flags, bool stable)
{
    sr_flow f;
    flow_port(&f, 1000);
    sr_segment sg = {.seq = 1000 + off, .flags = flags | SR_TCP_ACK, .payload_stable = stable,
                     .payload = len ? content + off : NULL, .payload_len = len,
                     .timestamp = 1 * SEC};
    sr_result r;
    g_assert_cmpint(sr_assemble_ex(a, &f, &sg, NULL, &r), ==, SR_OK);
    return r.status;
}

/* A pool for one hh_view, with two assemblers: a 16-byte and a 4 KiB
 * conflict history. */
static sr_pool *hh_two(hh_view *v, sr_assembler **a16, sr_assembler **a4k)
{
    sr_stream_factory fac = {hh_new, hh_data, hh_complete, v};
    sr_pool *pool = sr_pool_new(&fac, 4, NULL);
    g_assert_nonnull(pool);
    sr_options o;
    sr_options_init(&o);
    o.conflict_history = 16;
    g_assert_cmpint(sr_assembler_new(pool, &o, a16), ==, SR_OK);
    o.conflict_history = 4096;
    g_assert_cmpint(sr_assembler_new(pool, &o, a4k), ==, SR_OK);
    return pool;
}

static void hh_free(sr_pool *pool, sr_assembler *a, sr_assembler *b, const hh_view *v)
{
    sr_assembler_free(a);
    sr_assembler_free(b);
    sr_pool_free(pool);
    g_assert_cmpint(v->bad, ==, 0);
}

/* F11: options are per assembler, so two assemblers of one pool may keep
 * different conflict histories, and one connection may meet both. A
 * stable payload (kept by reference) must be remembered as a copied one
 * would be: the byte at offset 20, delivered by an assembler with a 4 KiB
 * history after 10 bytes from one with a 16-byte history, is remembered,
 * and a retransmission changing it is a conflict either way (before the
 * fix, with stable payloads, the references kept the first assembler's 16
 * bytes and missed it). */
static void test_history_assemblers_differ(void)
{
    for (int stable = 0; stable < 2; stable++) {
        static uint8_t good[256], changed[256];
        for (int i = 0; i < 256; i++)
            good[i] = changed[i] = (uint8_t)(i * 7 + 1);
        changed[20] ^= 0xff;
        hh_view v = {0};
        sr_assembler *a16, *a4k;
        sr_pool *pool = hh_two(&v, &a16, &a4k);
        hh_feed(a16, good, 0, 10, 0, stable);
        hh_feed(a4k, good, 10, 100, 0, stable);
        unsigned st = hh_feed(a4k, changed, 20, 5, 0, stable);
        g_assert_true(st & SR_SEG_CONFLICT);
        hh_free(pool, a16, a4k, &v);
    }
}

/* F12: a ring of bytes that grows must not claim bytes the smaller ring
 * had forgotten. An assembler with a 16-byte history delivers 100 bytes
 * (the ring holds 84..99); one with 4 KiB delivers 10 more, and the ring
 * grows; a byte-identical retransmission of 0..7 is no conflict (before
 * the fix the grown ring said it held 0..109 and compared 0..7 with what
 * was never written there; a failed growth did the same). */
static void test_history_grown_after_loss(void)
{
    for (int stable = 0; stable < 2; stable++) {
        static uint8_t good[256];
        for (int i = 0; i < 256; i++)
            good[i] = (uint8_t)(i * 13 + 5);
        hh_view v = {0};
        sr_assembler *a16, *a4k;
        sr_pool *pool = hh_two(&v, &a16, &a4k);
        for (uint32_t off = 0; off < 100; off += 10)
            hh_feed(a16, good, off, 10, 0, false);
        hh_feed(a4k, good, 100, 10, 0, stable);
        unsigned st = hh_feed(a4k, good, 0, 8, 0, stable);
        g_assert_true(st & SR_SEG_RETRANSMISSION);
        g_assert_false(st & SR_SEG_CONFLICT);
        st = hh_feed(a4k, good, 90, 20, 0, stable);
        g_assert_false(st & SR_SEG_CONFLICT);
        hh_free(pool, a16, a4k, &v);
    }
}

/* F13: bytes 10..29 buffered, 25..29 retransmitted changed (the page is
 * flagged), then a FIN at 20 drops 20..29: the page keeps 10..19, none of
 * which differed, and its chunk must not be flagged SR_CHUNK_CONFLICT. A
 * change at 15 instead keeps the flag. */
static void test_fin_trims_conflict_flag(void)
{
    for (int at = 0; at < 2; at++) {
        static uint8_t good[64], changed[64];
        for (int i = 0; i < 64; i++)
            good[i] = changed[i] = (uint8_t)(i + 1);
        uint32_t c_off = at ? 15 : 25;
        for (uint32_t i = c_off; i < c_off + 5; i++)
            changed[i] ^= 0xff;
        hh_view v = {0};
        sr_stream_factory fac = {hh_new, hh_data, hh_complete, &v};
        sr_pool *pool = sr_pool_new(&fac, 4, NULL);
        sr_assembler *a;
        g_assert_cmpint(sr_assembler_new(pool, NULL, &a), ==, SR_OK);
        hh_feed(a, good, 0, 1, 0, false);
        hh_feed(a, good, 10, 20, 0, false);
        g_assert_true(hh_feed(a, changed, c_off, 5, 0, false) & SR_SEG_CONFLICT);
        hh_feed(a, good, 20, 0, SR_TCP_FIN, false);
        hh_feed(a, good, 1, 9, 0, false);
        g_assert_cmpuint(v.edge, ==, 20);
        g_assert_cmpint(v.conflict_chunks, ==, at ? 1 : 0);
        hh_free(pool, a, NULL, &v);
    }
}

/* ------------------------------------------------------------ API misuse, odd times */

/* A recorder for F15-F17, F20: chunks per port, completions; on_data may
 * free the pool or the assembler running it (the misuse under test). */
typedef struct {
    uint64_t delivered[2], skipped[2]; /* by port: 1000 -> [0], else [1] */
    int completes, bad;
    uint64_t edge[2];
    bool fail_on_bang;           /* on_data fails on a chunk with '!' (F14) */
    sr_pool *free_pool;          /* on_data frees it (F16) */
    sr_assembler *free_asm;      /* on_data frees it (F17) */
} hm_world;

static void *hm_new(void *ud, const sr_conn_info *info, void *pctx)
{
    (void)ud, (void)pctx;
    return (void *)(uintptr_t)(info->flow.src.port == 1000 ? 1 : 2);
}

static int hm_data(void *ud, void *stream, const sr_conn_info *info, const sr_chunk *ch,
                   void *pctx)
{
    (void)info, (void)pctx;
    hm_world *w = ud;
    int k = (int)(uintptr_t)stream - 1;
    if (ch->offset != w->edge[k] + ch->skipped)
        w->bad++;
    w->edge[k] = ch->offset + ch->len;
    w->delivered[k] += ch->len;
    w->skipped[k] += ch->skipped;
    if (w->free_pool) {
        sr_pool_free(w->free_pool);
        w->free_pool = NULL;
    }
    if (w->free_asm) {
        sr_assembler_free(w->free_asm);
        w->free_asm = NULL;
    }
    return w->fail_on_bang && ch->len && memchr(ch->data, '!', ch->len) ? 1 : 0;
}

static void hm_complete(void *ud, void *stream, const sr_conn_info *info, sr_close_reason why,
                        void *pctx)
{
    (void)info, (void)why, (void)pctx;
    hm_world *w = ud;
    w->completes++;
    w->edge[(uintptr_t)stream - 1] = 0; /* a later stream of the port starts anew */
}

static sr_error hm_last_err;

static unsigned hm_feed_flags(sr_assembler *a, uint16_t port, uint32_t seq, unsigned flags,
                              const char *data, sr_time ts)
{
    sr_flow f;
    flow_port(&f, port);
    sr_segment sg = {.seq = seq, .flags = (uint8_t)flags, .payload = (const uint8_t *)data,
                     .payload_len = data ? strlen(data) : 0, .timestamp = ts};
    sr_result r;
    hm_last_err = sr_assemble_ex(a, &f, &sg, NULL, &r);
    return r.status;
}

static unsigned hm_feed(sr_assembler *a, uint16_t port, uint32_t seq, const char *data, sr_time ts)
{
    return hm_feed_flags(a, port, seq, SR_TCP_ACK, data, ts);
}

/* The options of the F14 and F19 cases: a 120 s timeout, a 5 s linger. */
static sr_options hm_options(sr_time flush_interval)
{
    sr_options o;
    sr_options_init(&o);
    o.flush_interval = flush_interval;
    o.connection_timeout = 120 * SEC;
    o.closed_linger = 5 * SEC;
    return o;
}

/* F14: X's page ("b!bb", whose delivery fails the callback) waits behind a
 * hole from 0 s; flush_interval 10 s, closed_linger 5 s. Whether a sweep
 * flushes it at 10 s (Y's segment on the same assembler) or X's own next
 * segment does (Y on another assembler: no sweep reaches X), X is aborted
 * as of when the flush became due, 10 s: at 16 s it is forgotten and X's
 * segment starts a new stream; a SYN with a new ISN at 12 s reuses the
 * ports. Before the fix, without the sweep X lingered from its own
 * segment's time and both were refused. */
static void test_abort_by_flush_sweep_independent(void)
{
    for (int syn = 0; syn < 2; syn++) {
        unsigned status[2];
        sr_error err[2];
        uint64_t delivered[2];
        for (int split = 0; split < 2; split++) {
            hm_world w = {.fail_on_bang = true};
            sr_stream_factory fac = {hm_new, hm_data, hm_complete, &w};
            sr_pool *pool = sr_pool_new(&fac, 16, NULL);
            sr_options o = hm_options(10 * SEC);
            sr_assembler *a1, *a2;
            g_assert_cmpint(sr_assembler_new(pool, &o, &a1), ==, SR_OK);
            g_assert_cmpint(sr_assembler_new(pool, &o, &a2), ==, SR_OK);
            sr_assembler *ay = split ? a2 : a1;
            hm_feed(ay, 2000, 5000, "yyyy", 0);
            hm_feed(a1, 1000, 100, "aaaa", 0);
            hm_feed(a1, 1000, 110, "b!bb", 0);
            hm_feed(ay, 2000, 5004, "YYYY", 10 * SEC);
            if (syn)
                status[split] = hm_feed_flags(a1, 1000, 90000, SR_TCP_SYN, NULL, 12 * SEC);
            else
                status[split] = hm_feed(a1, 1000, 104, "cccccc", 16 * SEC);
            err[split] = hm_last_err;
            sr_assembler_free(a1);
            sr_assembler_free(a2);
            sr_pool_free(pool);
            delivered[split] = w.delivered[0];
            g_assert_cmpint(w.bad, ==, 0);
        }
        g_assert_cmpint(err[0], ==, SR_OK);
        g_assert_true(status[0] & SR_SEG_NEW_CONNECTION);
        g_assert_cmpint(err[1], ==, err[0]);
        g_assert_cmpuint(status[1], ==, status[0]);
        g_assert_cmpuint(delivered[1], ==, delivered[0]);
    }
}

/* F19: X's page ("b!bb", whose delivery fails the callback) waits behind a
 * hole from 0 s; Y's segment moves the capture clock to 50 s (flush_interval
 * 100 s: no sweep of its own). sr_assembler_flush_older_than(1 s) completes
 * X, whose callback fails on the flush: X is aborted at the capture time,
 * 50 s, and remembered closed_linger (5 s) from then, so X's segment at
 * 53 s is a late one (refused, not a new stream); before the fix X lingered
 * from `older_than`, 1 s, and that segment opened a new stream. The
 * connection is counted as closed, not also as flushed. */
static void test_abort_in_flush_older_than(void)
{
    hm_world w = {.fail_on_bang = true};
    sr_stream_factory fac = {hm_new, hm_data, hm_complete, &w};
    sr_pool *pool = sr_pool_new(&fac, 16, NULL);
    sr_options o = hm_options(100 * SEC);
    sr_assembler *a;
    g_assert_cmpint(sr_assembler_new(pool, &o, &a), ==, SR_OK);
    hm_feed(a, 1000, 100, "aaaa", 0);
    hm_feed(a, 1000, 110, "b!bb", 0);
    hm_feed(a, 2000, 5000, "yyyy", 50 * SEC);
    size_t flushed = 99, closed = 99;
    g_assert_cmpint(sr_assembler_flush_older_than(a, 1 * SEC, NULL, &flushed, &closed), ==, SR_OK);
    g_assert_cmpuint(closed, ==, 1);
    g_assert_cmpuint(flushed, ==, 0);
    g_assert_cmpint(w.completes, ==, 1);
    unsigned st = hm_feed(a, 1000, 114, "cccc", 53 * SEC);
    g_assert_cmpstr(sr_err_name(hm_last_err), ==, "SR_ERR_CONNECTION_CLOSED");
    g_assert_true(st & SR_SEG_AFTER_CLOSE);
    g_assert_false(st & SR_SEG_NEW_CONNECTION);
    /* Past the linger from 50 s: forgotten, a new stream. */
    st = hm_feed(a, 1000, 118, "dddd", 56 * SEC);
    g_assert_cmpstr(sr_err_name(hm_last_err), ==, "SR_OK");
    g_assert_true(st & SR_SEG_NEW_CONNECTION);
    sr_assembler_free(a);
    sr_pool_free(pool);
    g_assert_cmpint(w.bad, ==, 0);
}

/* F15: sr_assembler_close(A) flushes the connections holding pages A
 * buffered, and only those: B's connection, waiting for its hole, keeps
 * waiting, and the segment that fills it is delivered whole (before the
 * fix: B's hole was skipped and the filler came back a retransmission). */
static void test_close_flushes_own_only(void)
{
    hm_world w = {0};
    sr_stream_factory fac = {hm_new, hm_data, hm_complete, &w};
    sr_pool *pool = sr_pool_new(&fac, 16, NULL);
    sr_assembler *a, *b;
    g_assert_cmpint(sr_assembler_new(pool, NULL, &a), ==, SR_OK);
    g_assert_cmpint(sr_assembler_new(pool, NULL, &b), ==, SR_OK);
    hm_feed(a, 1000, 100, "aaaa", 0);
    hm_feed(a, 1000, 110, "bbbb", 0); /* a's page */
    hm_feed(b, 3000, 500, "zzzz", 0);
    hm_feed(b, 3000, 510, "yyyy", 0); /* b's page */
    g_assert_cmpint(sr_assembler_close(a), ==, SR_OK);
    g_assert_cmpuint(w.skipped[0], ==, 6); /* a's connection flushed */
    g_assert_cmpuint(w.skipped[1], ==, 0);
    unsigned st = hm_feed(b, 3000, 504, "xxxxxx", 1);
    g_assert_true(st & SR_SEG_IN_ORDER);
    g_assert_false(st & SR_SEG_RETRANSMISSION);
    g_assert_cmpuint(w.delivered[1], ==, 14);
    sr_assembler_free(a);
    sr_assembler_free(b);
    sr_pool_free(pool);
    g_assert_cmpint(w.completes, ==, 2);
    g_assert_cmpint(w.bad, ==, 0);
}

/* F16, F17: sr_pool_free() and sr_assembler_free() called from on_data do
 * nothing (the second counts SR_ERR_REENTRANT): no use after free, and
 * freed afterwards every stream completes exactly once, nothing leaks
 * (ASan). Before the fix: the pool lost its user reference without
 * closing, so no stream ever completed and it leaked; the assembler was
 * freed under the call running the callback. */
static void test_free_from_callback(void)
{
    for (int which = 0; which < 2; which++) {
        hm_world w = {0};
        sr_stream_factory fac = {hm_new, hm_data, hm_complete, &w};
        sr_pool *pool = sr_pool_new(&fac, 16, NULL);
        sr_assembler *a;
        g_assert_cmpint(sr_assembler_new(pool, NULL, &a), ==, SR_OK);
        hm_feed(a, 1000, 100, "abcd", 0);
        if (which == 0)
            w.free_pool = pool;
        else
            w.free_asm = a;
        hm_feed(a, 2000, 100, "wxyz", 0);
        hm_feed(a, 1000, 104, "later", 1 * SEC);
        g_assert_cmpuint(w.delivered[0], ==, 9);
        sr_assembler_stats as;
        g_assert_cmpint(sr_assembler_get_stats(a, &as), ==, SR_OK);
        g_assert_cmpuint(as.errors, ==, which == 1 ? 1 : 0);
        sr_assembler_free(a);
        sr_pool_free(pool);
        g_assert_cmpint(w.completes, ==, 2);
        g_assert_cmpint(w.bad, ==, 0);
    }
}

/* F20: capture times at the ends of sr_time (a corrupt or hostile
 * capture; any epoch is allowed): no overflow in the timeout, flush and
 * linger arithmetic (UBSan), and segments a moment apart near INT64_MIN
 * are one stream, not one connection per segment. */
static void test_times_at_the_ends(void)
{
    hm_world w = {0};
    sr_stream_factory fac = {hm_new, hm_data, hm_complete, &w};
    sr_pool *pool = sr_pool_new(&fac, 16, NULL);
    sr_assembler *a;
    g_assert_cmpint(sr_assembler_new(pool, NULL, &a), ==, SR_OK);
    hm_feed(a, 1000, 100, "aaaa", INT64_MIN + 5);
    hm_feed(a, 1000, 104, "bbbb", INT64_MIN + 6);
    g_assert_cmpint(w.completes, ==, 0);
    g_assert_cmpuint(w.delivered[0], ==, 8);
    hm_feed(a, 1000, 108, "cccc", INT64_MAX - 5); /* long idle: a new stream */
    sr_assembler_free(a);
    sr_pool_free(pool);
    g_assert_cmpuint(w.delivered[0], ==, 12);
    g_assert_cmpint(w.bad, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hunt/close/flushes-own-connections-only", test_close_flushes_own_only);
    g_test_add_func("/hunt/sweep/abort-by-flush-independent",
                    test_abort_by_flush_sweep_independent);
    g_test_add_func("/hunt/misuse/free-from-callback", test_free_from_callback);
    g_test_add_func("/hunt/flush-older-than/abort-lingers-from-clock",
                    test_abort_in_flush_older_than);
    g_test_add_func("/hunt/time/at-the-ends", test_times_at_the_ends);
    g_test_add_func("/hunt/history/assemblers-differ", test_history_assemblers_differ);
    g_test_add_func("/hunt/history/grown-after-loss", test_history_grown_after_loss);
    g_test_add_func("/hunt/fin/trim-keeps-no-stale-conflict-flag", test_fin_trims_conflict_flag);
    g_test_add_func("/hunt/deferred-victim/assembler-close", test_deferred_victim_close);
    g_test_add_func("/hunt/threads/evict-nested", test_threads_evict_nested);
    g_test_add_func("/hunt/long/past-4gib", test_long_past_4gib);
    g_test_add_func("/hunt/fin/cut-tail-beyond-late-fin", test_fin_cut_tail);
    g_test_add_func("/hunt/synack/starts-the-other-side", test_synack_starts_other_side);
    return g_test_run();
}
