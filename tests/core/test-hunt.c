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
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#define _POSIX_C_SOURCE 200809L
#include <glib.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "safereasm.h"

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
        static const uint8_t py[4] = "yyyy";
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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hunt/deferred-victim/assembler-close", test_deferred_victim_close);
    return g_test_run();
}
