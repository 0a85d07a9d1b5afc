/* test-concurrency.c - many threads on one pool: racing creation of one
 * connection (same direction, both directions, SYN against SYN+ACK), many
 * threads feeding one connection, many connections through one shared
 * assembler and through per-thread assemblers with hard page caps watched
 * by a concurrent stats reader, sweeps and flushes racing with segments,
 * sr_pool_close() and sr_assembler_close() while other threads assemble,
 * callbacks that call into other connections from two threads at once,
 * threads waiting (parked) for a connection another holds, and the
 * background flush thread. The recorder asserts throughout that
 * callbacks of one connection never overlap and each stream completes once.
 * Meant for TSan as well (pthread primitives, which TSan understands).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "sr-test-util.h"

#define SYN SR_TCP_SYN
#define ACK SR_TCP_ACK
#define FIN SR_TCP_FIN
#define RST SR_TCP_RST
#define SEC SR_USEC_PER_SEC
#define T0 (500 * SEC)
#define MAXT 8

/* Every case runs in a child: a deadlock or crash fails that case only. */
#define IN_CHILD(timeout_s)                                                    \
    do {                                                                       \
        if (!srt_subprocess_child()) {                                         \
            srt_run_in_subprocess(timeout_s);                                  \
            return;                                                            \
        }                                                                      \
    } while (0)

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait until *counter >= min (or 60 s: then fail), so that timing on a
 * loaded machine cannot make a race test vacuous. */
static void wait_progress(gint *counter, int min)
{
    for (int i = 0; i < 60000 && g_atomic_int_get(counter) < min; i++)
        sleep_ms(1);
    if (g_atomic_int_get(counter) < min)
        g_error("no progress: %d of %d", g_atomic_int_get(counter), min);
}

/* The connection number of a stream whose client is A (conn in [lo, hi]). */
static uint32_t conn_of(const srt_stream *s, uint32_t lo, uint32_t hi, bool *a_client)
{
    for (uint32_t c = lo; c <= hi; c++) {
        sr_flow f;
        srt_flow_ab(&f, c, false);
        if (srt_flow_endpoints_match(&s->flow, &f)) {
            *a_client = true;
            return c;
        }
        srt_flow_ab(&f, c, true);
        if (srt_flow_endpoints_match(&s->flow, &f)) {
            *a_client = false;
            return c;
        }
    }
    g_error("stream of an unknown flow");
    return 0;
}

/* ------------------------------------------------------------ creation races */

typedef struct race {
    sr_assembler *a;
    pthread_barrier_t start, done;
    int nthreads, rounds;
    sr_flow flow[MAXT];
    sr_segment seg[MAXT];
    sr_result res[MAXT];
    sr_error err[MAXT];
    int idx[MAXT];
} race;

typedef struct race_arg {
    race *r;
    int i;
} race_arg;

static void *race_thread(void *p)
{
    race_arg *ra = p;
    race *r = ra->r;
    for (int k = 0; k < r->rounds; k++) {
        pthread_barrier_wait(&r->start);
        r->err[ra->i] = sr_assemble_ex(r->a, &r->flow[ra->i], &r->seg[ra->i], NULL, &r->res[ra->i]);
        pthread_barrier_wait(&r->done);
    }
    return NULL;
}

/* kind 0: every thread sends the same first segment; 1: A and B data at
 * once (plus duplicates); 2: A's SYN against B's SYN+ACK (plus duplicates). */
static void run_race(int kind, int nthreads, int rounds)
{
    srt_env e;
    srt_env_open(&e, NULL, 100000);
    race r;
    memset(&r, 0, sizeof r);
    r.a = e.a;
    r.nthreads = nthreads;
    r.rounds = rounds;
    pthread_barrier_init(&r.start, NULL, (unsigned)nthreads + 1);
    pthread_barrier_init(&r.done, NULL, (unsigned)nthreads + 1);
    pthread_t th[MAXT];
    race_arg args[MAXT];
    for (int i = 0; i < nthreads; i++) {
        args[i] = (race_arg){&r, i};
        pthread_create(&th[i], NULL, race_thread, &args[i]);
    }
    static const uint8_t abc[] = "abc", xyz[] = "xyz";
    for (int k = 0; k < rounds; k++) {
        uint32_t conn = (uint32_t)k + 1;
        for (int i = 0; i < nthreads; i++) {
            bool b = kind != 0 && (i & 1);
            srt_flow_ab(&r.flow[i], conn, b);
            if (kind == 0)
                r.seg[i] = srt_seg(1000, SYN, NULL, 0, T0);
            else if (kind == 1)
                r.seg[i] = srt_seg(b ? 50 : 1, ACK, b ? xyz : abc, 3, T0);
            else
                r.seg[i] = srt_seg(b ? 7000 : 1000, b ? SYN | ACK : SYN, NULL, 0, T0);
        }
        pthread_barrier_wait(&r.start);
        pthread_barrier_wait(&r.done);
        int created = 0;
        for (int i = 0; i < nthreads; i++) {
            if (r.err[i] != SR_OK)
                g_error("round %d thread %d: %s", k, i, sr_err_name(r.err[i]));
            g_assert_cmpuint(r.res[i].conn_id, ==, r.res[0].conn_id);
            created += !!(r.res[i].status & SR_SEG_NEW_CONNECTION);
        }
        g_assert_cmpint(created, ==, 1);
        g_assert_cmpint(g_atomic_int_get(&e.rec.new_calls), ==, k + 1);
        srt_stream *s = srt_env_stream(&e, r.res[0].conn_id);
        sr_flow fa;
        srt_flow_ab(&fa, conn, false);
        bool a_client = srt_flow_endpoints_match(&s->flow, &fa);
        if (kind == 2)
            g_assert_true(a_client); /* the SYN sender, whatever came first */
        if (kind == 1) {
            srt_assert_dir(&s->dir[0], a_client ? "abc" : "xyz", "client");
            srt_assert_dir(&s->dir[1], a_client ? "xyz" : "abc", "server");
        }
        for (int i = 0; i < nthreads; i++) {
            bool b = kind != 0 && (i & 1);
            g_assert_cmpint(r.res[i].dir, ==, (b == !a_client) ? 0 : 1);
        }
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.done);
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.total_created, ==, (guint)rounds);
    srt_env_close(&e);
}

static void test_create_same_direction(void)
{
    IN_CHILD(240);
    run_race(0, 4, 300);
}

static void test_create_both_directions(void)
{
    IN_CHILD(240);
    run_race(1, 2, 300);
    run_race(1, 4, 200);
}

static void test_create_syn_vs_synack(void)
{
    IN_CHILD(240);
    run_race(2, 4, 200);
}

/* ------------------------------------------------------------ one connection, many threads */

typedef struct piece {
    bool b;
    uint32_t off, len;
} piece;

typedef struct feeder {
    srt_env *e;
    GArray *pieces; /* piece */
    uint32_t isn[2];
    uint32_t conn_base; /* piece.off encodes nothing else: one connection */
    uint32_t conn;
    sr_time ts;
    unsigned errors;
} feeder;

static void *feed_thread(void *p)
{
    feeder *f = p;
    uint8_t buf[256];
    for (guint i = 0; i < f->pieces->len; i++) {
        piece *pc = &g_array_index(f->pieces, piece, i);
        for (uint32_t k = 0; k < pc->len; k++)
            buf[k] = srt_conn_byte(f->conn, pc->b, pc->off + k);
        sr_flow fl;
        srt_flow_ab(&fl, f->conn, pc->b);
        sr_segment s = srt_seg(f->isn[pc->b] + 1u + pc->off, ACK, buf, pc->len, f->ts);
        sr_result res;
        sr_error err = sr_assemble_ex(f->e->a, &fl, &s, NULL, &res);
        if (err != SR_OK)
            f->errors++;
        else if (res.conn_pages > f->e->opt.max_buffered_pages_per_connection)
            g_error("conn_pages %zu over the limit", res.conn_pages);
    }
    return NULL;
}

/* Cut [0, L) of both directions into pieces, add duplicates, deal them to
 * nthreads threads in random order. */
static void deal(srt_rng *r, uint32_t L[2], int nthreads, GArray **out)
{
    GArray *all = g_array_new(FALSE, FALSE, sizeof(piece));
    for (int b = 0; b < 2; b++) {
        for (uint32_t pos = 0; pos < L[b];) {
            uint32_t want = 1 + srt_below(r, 100);
            piece pc = {b, pos, MIN(want, L[b] - pos)};
            g_array_append_val(all, pc);
            pos += pc.len;
        }
    }
    guint n = all->len;
    for (guint i = 0; i < n / 10; i++) {
        piece pc = g_array_index(all, piece, srt_below(r, n));
        g_array_append_val(all, pc);
    }
    for (guint i = all->len; i > 1; i--) {
        guint j = srt_below(r, i);
        piece t = g_array_index(all, piece, i - 1);
        g_array_index(all, piece, i - 1) = g_array_index(all, piece, j);
        g_array_index(all, piece, j) = t;
    }
    for (int t = 0; t < nthreads; t++)
        out[t] = g_array_new(FALSE, FALSE, sizeof(piece));
    for (guint i = 0; i < all->len; i++)
        g_array_append_val(out[srt_below(r, (uint32_t)nthreads)], g_array_index(all, piece, i));
    g_array_unref(all);
}

static void run_one_connection(uint64_t seed, bool tiny_limits)
{
    srt_rng r = {seed};
    sr_options o = tiny_limits ? srt_options(16, 4, 4) : srt_options(0, 0, 0);
    srt_env e;
    srt_env_open(&e, &o, 16);
    const uint32_t conn = 1;
    uint32_t isn[2] = {0xffffff00u, (uint32_t)srt_rand(&r)};
    uint32_t L[2] = {40000, 12000};
    sr_flow fa, fb;
    srt_flow_ab(&fa, conn, false);
    srt_flow_ab(&fb, conn, true);
    g_assert_cmpint(srt_feed_raw(&e, &fa, isn[0], SYN, NULL, 0, 0, T0, NULL), ==, SR_OK);
    g_assert_cmpint(srt_feed_raw(&e, &fb, isn[1], SYN | ACK, NULL, 0, 0, T0, NULL), ==, SR_OK);
    const int nt = 4;
    GArray *lists[MAXT];
    deal(&r, L, nt, lists);
    feeder fd[MAXT];
    pthread_t th[MAXT];
    for (int t = 0; t < nt; t++) {
        fd[t] = (feeder){&e, lists[t], {isn[0], isn[1]}, 0, conn, T0 + t, 0};
        pthread_create(&th[t], NULL, feed_thread, &fd[t]);
    }
    for (int t = 0; t < nt; t++) {
        pthread_join(th[t], NULL);
        g_assert_cmpuint(fd[t].errors, ==, 0);
        g_array_unref(lists[t]);
    }
    srt_stream *s = srt_recorder_stream(&e.rec, 0);
    g_assert_cmpuint(srt_recorder_count(&e.rec), ==, 1);
    if (!tiny_limits) {
        /* Everything arrived: byte-exact, nothing skipped. */
        for (int b = 0; b < 2; b++) {
            g_assert_cmpuint(s->dir[b].data->len, ==, L[b]);
            g_assert_cmpuint(s->dir[b].skipped, ==, 0);
        }
    }
    g_assert_cmpint(srt_feed_raw(&e, &fa, isn[0] + 1 + L[0], FIN | ACK, NULL, 0, 0, T0, NULL), ==,
                    SR_OK);
    g_assert_cmpint(srt_feed_raw(&e, &fb, isn[1] + 1 + L[1], FIN | ACK, NULL, 0, 0, T0, NULL), ==,
                    SR_OK);
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    g_assert_cmpint(s->completes, ==, 1);
    if (!tiny_limits)
        g_assert_cmpstr(sr_close_reason_name(s->close_reason), ==, "FIN");
    for (int b = 0; b < 2; b++) {
        srt_who w = {conn, b};
        srt_verify_content(&s->dir[b], srt_expect_conn, &w, "content");
        g_assert_cmpuint(s->dir[b].reached, ==, L[b]);
    }
    sr_assembler_stats as = srt_asm_stats(e.a);
    g_assert_cmpuint(as.pages_in_use, ==, 0);
    g_assert_cmpuint(as.pages_peak, <=, o.max_buffered_pages_total);
    srt_check_asm_bytes(e.a, &e.rec);
    srt_env_close(&e);
}

static void test_one_connection_many_threads(void)
{
    IN_CHILD(240);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        run_one_connection(seed, false);
        run_one_connection(seed + 100, true);
    }
}

/* ------------------------------------------------------------ many connections */

typedef struct mconn_arg {
    srt_env *e;
    sr_assembler *a;
    uint32_t first, count; /* connections first .. first+count-1 */
    uint64_t seed;
    bool allow_closed;
} mconn_arg;

typedef struct monitor {
    sr_pool *pool;
    sr_assembler *a[MAXT];
    int na;
    size_t max_pages, max_conns;
    gint stop;
    gint samples;
} monitor;

static void *monitor_thread(void *p)
{
    monitor *m = p;
    while (!g_atomic_int_get(&m->stop)) {
        for (int i = 0; i < m->na; i++) {
            sr_assembler_stats st;
            if (sr_assembler_get_stats(m->a[i], &st) == SR_OK) {
                if (st.pages_in_use > m->max_pages || st.pages_peak > m->max_pages)
                    g_error("pages_in_use %" G_GUINT64_FORMAT " / peak %" G_GUINT64_FORMAT
                            " above the cap %zu (seen by a concurrent reader)",
                            st.pages_in_use, st.pages_peak, m->max_pages);
            }
        }
        sr_pool_stats ps;
        if (sr_pool_get_stats(m->pool, &ps) == SR_OK && ps.active_connections > m->max_conns)
            g_error("active_connections %" G_GUINT64_FORMAT " above max %zu",
                    ps.active_connections, m->max_conns);
        g_atomic_int_inc(&m->samples);
    }
    return NULL;
}

/* Each connection: SYN, SYN+ACK, then its pieces shuffled together with the
 * other connections of this thread, then FINs. */
static void *mconn_thread(void *p)
{
    mconn_arg *ma = p;
    srt_rng r = {ma->seed};
    GArray *all = g_array_new(FALSE, FALSE, sizeof(uint64_t)); /* conn<<40 | b<<39 | off<<16 | len */
    for (uint32_t c = ma->first; c < ma->first + ma->count; c++) {
        sr_flow f;
        srt_flow_ab(&f, c, false);
        sr_segment s = srt_seg(c * 1000u, SYN, NULL, 0, T0);
        sr_error err = sr_assemble(ma->a, &f, &s, NULL);
        g_assert_true(err == SR_OK || (ma->allow_closed && err == SR_ERR_CONNECTION_CLOSED));
        srt_flow_ab(&f, c, true);
        s = srt_seg(c * 3000u, SYN | ACK, NULL, 0, T0);
        err = sr_assemble(ma->a, &f, &s, NULL);
        g_assert_true(err == SR_OK || (ma->allow_closed && err == SR_ERR_CONNECTION_CLOSED));
        for (int b = 0; b < 2; b++) {
            uint32_t L = b ? 600 : 2400;
            for (uint32_t pos = 0; pos < L;) {
                uint32_t want = 1 + srt_below(&r, 120);
                uint32_t len = MIN(want, L - pos);
                uint64_t v = ((uint64_t)c << 40) | ((uint64_t)b << 39) | ((uint64_t)pos << 16) | len;
                g_array_append_val(all, v);
                if (srt_below(&r, 10) == 0)
                    g_array_append_val(all, v);
                pos += len;
            }
        }
    }
    for (guint i = all->len; i > 1; i--) {
        guint j = srt_below(&r, i);
        uint64_t t = g_array_index(all, uint64_t, i - 1);
        g_array_index(all, uint64_t, i - 1) = g_array_index(all, uint64_t, j);
        g_array_index(all, uint64_t, j) = t;
    }
    uint8_t buf[128];
    for (guint i = 0; i < all->len; i++) {
        uint64_t v = g_array_index(all, uint64_t, i);
        uint32_t c = (uint32_t)(v >> 40), b = (uint32_t)(v >> 39) & 1,
                 off = (uint32_t)(v >> 16) & 0x7fffff, len = (uint32_t)v & 0xffff;
        for (uint32_t k = 0; k < len; k++)
            buf[k] = srt_conn_byte(c, b, off + k);
        sr_flow f;
        srt_flow_ab(&f, c, b);
        uint32_t isn = b ? c * 3000u : c * 1000u;
        sr_segment s = srt_seg(isn + 1 + off, ACK, buf, len, T0);
        sr_error err = sr_assemble(ma->a, &f, &s, NULL);
        if (err != SR_OK && !(ma->allow_closed && err == SR_ERR_CONNECTION_CLOSED))
            g_error("thread feeding %u..: %s", ma->first, sr_err_name(err));
    }
    g_array_unref(all);
    return NULL;
}

static void run_many(bool shared, size_t max_conns, bool verify_all)
{
    const int nt = 4;
    const uint32_t per_thread = 30;
    sr_options o = srt_options(32, 6, 20);
    srt_env e;
    srt_env_open(&e, &o, max_conns);
    sr_assembler *as[MAXT];
    for (int t = 0; t < nt; t++) {
        as[t] = e.a;
        if (!shared)
            g_assert_cmpint(sr_assembler_new(e.pool, &o, &as[t]), ==, SR_OK);
    }
    monitor m = {e.pool, {0}, shared ? 1 : nt, o.max_buffered_pages_total, max_conns, 0, 0};
    for (int t = 0; t < m.na; t++)
        m.a[t] = as[t];
    pthread_t mt, th[MAXT];
    mconn_arg args[MAXT];
    pthread_create(&mt, NULL, monitor_thread, &m);
    /* The feeders start once the monitor has read the counters once: on a
     * loaded machine it might otherwise get no CPU before they are done
     * (the check below failed so, about 1 run in 100 with two at once). */
    while (g_atomic_int_get(&m.samples) == 0)
        g_usleep(100);
    for (int t = 0; t < nt; t++) {
        args[t] = (mconn_arg){&e, as[t], 1 + (uint32_t)t * per_thread, per_thread,
                              (uint64_t)t + 17, max_conns < nt * per_thread};
        pthread_create(&th[t], NULL, mconn_thread, &args[t]);
    }
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    g_atomic_int_set(&m.stop, 1);
    pthread_join(mt, NULL);
    g_assert_cmpint(g_atomic_int_get(&m.samples), >, 0);
    for (int t = 0; t < m.na; t++) {
        g_assert_cmpint(sr_assembler_flush_all(as[t], NULL, NULL), ==, SR_OK);
        g_assert_cmpuint(srt_asm_stats(as[t]).pages_in_use, ==, 0);
    }
    unsigned n = srt_recorder_count(&e.rec);
    if (verify_all)
        g_assert_cmpuint(n, ==, nt * per_thread);
    for (unsigned i = 0; i < n; i++) {
        srt_stream *s = srt_recorder_stream(&e.rec, i);
        bool a_client;
        uint32_t c = conn_of(s, 1, nt * per_thread, &a_client);
        g_assert_cmpint(s->completes, ==, 1);
        if (!verify_all)
            continue;
        g_assert_true(a_client);
        for (int b = 0; b < 2; b++) {
            srt_who w = {c, b};
            srt_verify_content(&s->dir[b], srt_expect_conn, &w, "content");
            g_assert_cmpuint(s->dir[b].reached, ==, b ? 600u : 2400u);
        }
    }
    srt_check_pool_stats(e.pool, &e.rec);
    if (!shared)
        for (int t = 0; t < nt; t++)
            sr_assembler_free(as[t]);
    srt_env_close(&e);
}

static void test_many_shared(void)
{
    IN_CHILD(240);
    run_many(true, 1000, true);
}

static void test_many_per_thread(void)
{
    IN_CHILD(240);
    run_many(false, 1000, true);
}

static void test_many_evicting(void)
{
    IN_CHILD(240);
    run_many(true, 16, false);
}

/* ------------------------------------------------------------ shutdown races */

typedef struct looper {
    srt_env *e;
    sr_assembler *a;
    uint32_t first;
    uint64_t seed;
    bool advance_time;
    sr_error stop_on;   /* stop when this is returned */
    gint *go;
    gint *stop;         /* or when this becomes nonzero (may be NULL) */
    gint *progress;     /* incremented on every SR_OK (may be NULL) */
    unsigned calls, ok;
    bool stopped;
} looper;

static void *loop_thread(void *p)
{
    looper *l = p;
    srt_rng r = {l->seed};
    uint32_t next[20][2] = {{0}};
    uint32_t gen[20] = {0}; /* after an RST a slot moves to a new connection */
    uint8_t buf[64];
    sr_time ts = T0;
    while (!g_atomic_int_get(l->go))
        ;
    /* Runs until the call it waits for refuses it (a safety cap aside).
     * Connections end by RST, not FIN: data beyond a FIN is finding F2,
     * which this test is not about. */
    for (long i = 0; i < 50000000L; i++) {
        if (l->stop && g_atomic_int_get(l->stop)) {
            l->stopped = true;
            break;
        }
        uint32_t c = srt_below(&r, 20), b = srt_below(&r, 2), k = srt_below(&r, 12);
        uint32_t conn = l->first + c + 20 * gen[c];
        uint32_t len = 1 + srt_below(&r, 40), off = next[c][b];
        uint8_t flags = ACK;
        if (k == 0) {
            off += 30; /* out of order */
        } else if (k == 1 && srt_below(&r, 8) == 0) {
            flags = RST;
            len = 0;
            gen[c]++;
            next[c][0] = next[c][1] = 0;
        } else {
            next[c][b] += len;
        }
        for (uint32_t j = 0; j < len; j++)
            buf[j] = srt_conn_byte(conn, b, off + j);
        sr_flow f;
        srt_flow_ab(&f, conn, b);
        if (l->advance_time)
            ts += 20 * 1000; /* 20 ms of capture time per call */
        sr_segment s = srt_seg(off, flags, buf, len, ts);
        sr_error err = sr_assemble(l->a, &f, &s, NULL);
        l->calls++;
        if (err == SR_OK) {
            l->ok++;
            if (l->progress)
                g_atomic_int_inc(l->progress);
        } else if (err == l->stop_on) {
            l->stopped = true;
            break;
        } else if (err != SR_ERR_CONNECTION_CLOSED) {
            g_error("looper: %s", sr_err_name(err));
        }
    }
    return NULL;
}

static void test_pool_close_while_assembling(void)
{
    IN_CHILD(240);
    for (int round = 0; round < 6; round++) {
        sr_options o = srt_options(16, 8, 64);
        srt_env e;
        srt_env_open(&e, &o, 50);
        const int nt = 4;
        gint go = 0, progress = 0;
        looper l[MAXT];
        pthread_t th[MAXT];
        for (int t = 0; t < nt; t++) {
            l[t] = (looper){&e, e.a, 1 + 1000000 * (uint32_t)t, (uint64_t)round * 10 + t, false,
                            SR_ERR_POOL_CLOSED, &go, NULL, &progress, 0, 0, false};
            pthread_create(&th[t], NULL, loop_thread, &l[t]);
        }
        g_atomic_int_set(&go, 1);
        wait_progress(&progress, 200 + 300 * round); /* close in mid-flight */
        g_assert_cmpint(sr_pool_close(e.pool), ==, SR_OK);
        /* From here on, no callback may start. */
        srt_recorder_freeze(&e.rec);
        unsigned ok = 0;
        for (int t = 0; t < nt; t++) {
            pthread_join(th[t], NULL);
            g_assert_true(l[t].stopped);
            ok += l[t].ok;
        }
        g_assert_cmpuint(ok, >, 0);
        if (g_atomic_int_get(&e.rec.late_callbacks))
            g_error("round %d: %d callbacks started after sr_pool_close() returned "
                    "(new_stream %d, on_data %d, on_complete %d)", round,
                    e.rec.late_callbacks, e.rec.late_kind[0], e.rec.late_kind[1],
                    e.rec.late_kind[2]);
        srt_check_conservation(&e.rec, true);
        g_assert_cmpint(e.rec.reason_counts[SR_CLOSE_POOL_CLOSED], >, 0);
        sr_assembler_stats as;
        if (sr_assembler_get_stats(e.a, &as) == SR_OK)
            g_assert_cmpuint(as.pages_in_use, ==, 0);
        srt_env_close(&e);
    }
}

static void test_assembler_close_while_assembling(void)
{
    IN_CHILD(240);
    sr_options o = srt_options(16, 8, 64);
    srt_env e;
    srt_env_open(&e, &o, 200);
    sr_assembler *b = NULL;
    g_assert_cmpint(sr_assembler_new(e.pool, &o, &b), ==, SR_OK);
    gint go = 0, progress = 0;
    looper l[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        /* Threads 0,1 on b (closed below), 2,3 on a (run to the end). */
        l[t] = (looper){&e, t < 2 ? b : e.a, 1 + 1000000 * (uint32_t)t, (uint64_t)t + 5, false,
                        t < 2 ? SR_ERR_ASSEMBLER_CLOSED : SR_ERR_POOL_CLOSED, &go, NULL,
                        &progress, 0, 0, false};
        pthread_create(&th[t], NULL, loop_thread, &l[t]);
    }
    g_atomic_int_set(&go, 1);
    wait_progress(&progress, 1000);
    g_assert_cmpint(sr_assembler_close(b), ==, SR_OK);
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        g_assert_true(l[t].stopped);
    }
    /* b's pages are all given back: by close, or, for a connection of b's
     * that a thread on a has just evicted (out of the table and the LRU
     * list, so close does not see it), by that thread when it completes
     * the victim at the end of its call, a moment later: right after
     * close, 1-4 pages were still out in 1 run of ~80 (two at once). */
    sr_assembler_stats bs;
    for (int i = 0; i < 10000; i++) {
        if (sr_assembler_get_stats(b, &bs) != SR_OK || bs.pages_in_use == 0)
            break;
        sleep_ms(1);
    }
    if (sr_assembler_get_stats(b, &bs) == SR_OK)
        g_assert_cmpuint(bs.pages_in_use, ==, 0);
    int now = g_atomic_int_get(&progress);
    wait_progress(&progress, now + 500); /* a keeps going after b closed */
    g_assert_cmpint(sr_pool_close(e.pool), ==, SR_OK);
    srt_recorder_freeze(&e.rec);
    for (int t = 2; t < 4; t++) {
        pthread_join(th[t], NULL);
        g_assert_true(l[t].stopped);
    }
    g_assert_cmpint(g_atomic_int_get(&e.rec.late_callbacks), ==, 0);
    sr_assembler_free(b);
    srt_env_close(&e);
}

/* Sweeps (fast capture time, short timeout) and explicit flushes from
 * another thread race with segments for the same connections. */
typedef struct flusher {
    sr_assembler *a;
    gint *stop;
    unsigned rounds;
    gint rounds_done;
} flusher;

static void *flush_thread(void *p)
{
    flusher *f = p;
    while (!g_atomic_int_get(f->stop)) {
        size_t n1, n2;
        sr_error e1 = sr_assembler_flush_older_than(f->a, T0 + (sr_time)(f->rounds % 50) * SEC,
                                                    NULL, &n1, &n2);
        g_assert_true(e1 == SR_OK || e1 == SR_ERR_POOL_CLOSED);
        if (f->rounds % 7 == 0) {
            sr_error e2 = sr_assembler_flush_all(f->a, NULL, &n1);
            g_assert_true(e2 == SR_OK || e2 == SR_ERR_POOL_CLOSED);
        }
        f->rounds++;
        g_atomic_int_inc(&f->rounds_done);
    }
    return NULL;
}

static void test_sweeps_and_flushes_racing(void)
{
    IN_CHILD(240);
    sr_options o = srt_options(16, 8, 64);
    o.connection_timeout = 1 * SEC;
    o.flush_interval = SEC / 10;
    srt_env e;
    srt_env_open(&e, &o, 30);
    gint go = 0, stop = 0, stop_flusher = 0, progress = 0;
    looper l[3];
    pthread_t th[3], ft;
    for (int t = 0; t < 3; t++) {
        /* Threads 0 and 1 share connections. */
        l[t] = (looper){&e, e.a, t == 2 ? 1000001 : 1, (uint64_t)t + 9, true, SR_ERR_POOL_CLOSED,
                        &go, &stop, &progress, 0, 0, false};
        pthread_create(&th[t], NULL, loop_thread, &l[t]);
    }
    flusher fl = {e.a, &stop_flusher, 0, 0};
    pthread_create(&ft, NULL, flush_thread, &fl);
    g_atomic_int_set(&go, 1);
    /* 3000 successful calls = 60 s of capture time per thread: many sweeps
     * and timeouts; and the flusher has had its turns. */
    wait_progress(&progress, 9000);
    wait_progress(&fl.rounds_done, 20);
    g_atomic_int_set(&stop, 1);
    unsigned ok = 0;
    for (int t = 0; t < 3; t++) {
        pthread_join(th[t], NULL);
        g_assert_true(l[t].stopped);
        ok += l[t].ok;
    }
    g_atomic_int_set(&stop_flusher, 1);
    pthread_join(ft, NULL);
    g_assert_cmpuint(ok, >, 0);
    g_assert_cmpuint(fl.rounds, >, 0);
    /* Sweeps did run: connections timed out or were flushed. */
    sr_pool_stats ps = srt_pool_stats(e.pool);
    g_assert_cmpuint(ps.closed_timeout + ps.closed_flushed, >, 0);
    g_assert_cmpint(sr_assembler_flush_all(e.a, NULL, NULL), ==, SR_OK);
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);
    srt_check_conservation(&e.rec, true);
    srt_check_pool_stats(e.pool, &e.rec);
    srt_env_close(&e);
}

/* ------------------------------------------------------------ cross callbacks */

/* Thread 1 feeds X, whose on_data feeds Y; thread 2 feeds Y, whose on_data
 * feeds X. The inner call succeeds or, when the other connection is inside
 * its own callback in the other thread, is refused with SR_ERR_BUSY; a
 * deadlock (watchdog) or any other outcome fails. */
typedef struct cross {
    sr_assembler *a;
    gint inner_ok, inner_err;
} cross;

static gint cross_done, cross_progress;

/* Outer calls per thread: at most CROSS_ITER, for about CROSS_SECONDS
 * (a refused nested call may spin a while before SR_ERR_BUSY). */
#define CROSS_ITER 20000
#define CROSS_SECONDS 2

static int cross_data(srt_recorder *r, srt_stream *s, const sr_conn_info *info,
                      const sr_chunk *c, void *ctx)
{
    (void)s;
    (void)c;
    cross *x = r->hook_data;
    if (ctx != NULL)
        return 0; /* the inner call itself: no further nesting */
    sr_flow f1, f1r;
    srt_flow_ab(&f1, 1, false);
    srt_flow_ab(&f1r, 1, true);
    bool is1 = srt_flow_endpoints_match(&info->flow, &f1) ||
               srt_flow_endpoints_match(&info->flow, &f1r);
    uint32_t other = is1 ? 2 : 1;
    sr_flow f;
    srt_flow_ab(&f, other, true); /* the other connection's server side */
    static const uint8_t z[] = "z";
    sr_segment seg = srt_seg(5000, ACK, z, 1, T0);
    sr_error err = sr_assemble(x->a, &f, &seg, x);
    if (err == SR_OK)
        g_atomic_int_inc(&x->inner_ok);
    else if (err == SR_ERR_BUSY) /* the other thread is in that callback */
        g_atomic_int_inc(&x->inner_err);
    else
        g_error("nested sr_assemble() for another connection: %s", sr_err_name(err));
    return 0;
}

typedef struct cross_arg {
    srt_env *e;
    uint32_t conn;
    uint32_t calls;
} cross_arg;

static void *cross_thread(void *p)
{
    cross_arg *ca = p;
    sr_flow f;
    srt_flow_ab(&f, ca->conn, false);
    uint8_t buf[4] = {1, 2, 3, 4};
    gint64 until = g_get_monotonic_time() + CROSS_SECONDS * G_USEC_PER_SEC;
    for (uint32_t i = 0; i < CROSS_ITER && g_get_monotonic_time() < until; i++) {
        sr_segment s = srt_seg(100 + 4 * i, ACK, buf, 4, T0);
        sr_error err = sr_assemble(ca->e->a, &f, &s, NULL);
        g_assert_true(err == SR_OK);
        g_atomic_int_inc(&cross_progress);
        ca->calls++;
    }
    return NULL;
}

/* Fails the child if no outer call completes for 5 s (a deadlock); slow
 * but moving runs (sanitizers) are fine. */
static void *watchdog_thread(void *p)
{
    (void)p;
    int last = -1, still = 0;
    while (!g_atomic_int_get(&cross_done)) {
        sleep_ms(10);
        int now = g_atomic_int_get(&cross_progress);
        still = now == last ? still + 1 : 0;
        last = now;
        if (still >= 500)
            g_error("deadlock: two threads whose callbacks call sr_assemble() on each other's "
                    "connection made no progress for 5 s (after %d outer calls)", now);
    }
    return NULL;
}

static void test_cross_callbacks(void)
{
    IN_CHILD(120);
    srt_env e;
    srt_env_open(&e, NULL, 16);
    cross x = {e.a, 0, 0};
    e.rec.hook_data = &x;
    e.rec.data_hook = cross_data;
    cross_arg a1 = {&e, 1, 0}, a2 = {&e, 2, 0};
    pthread_t t1, t2, wd;
    pthread_create(&wd, NULL, watchdog_thread, NULL);
    pthread_create(&t1, NULL, cross_thread, &a1);
    pthread_create(&t2, NULL, cross_thread, &a2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    g_atomic_int_set(&cross_done, 1);
    pthread_join(wd, NULL);
    g_test_message("outer calls %u + %u; inner calls: %d ok, %d busy", a1.calls, a2.calls,
                   x.inner_ok, x.inner_err);
    g_assert_cmpuint(a1.calls + a2.calls, >, 0);
    g_assert_cmpint(x.inner_ok + x.inner_err, ==, (gint)(a1.calls + a2.calls));
    g_assert_cmpint(x.inner_ok, >, 0);
    srt_env_close(&e);
}

/* ------------------------------------------------------------ parking */

/* A connection's lock is one word; a thread that finds it held parks on a
 * condition variable shared by many connections (pool.c). Here one thread
 * sits in a callback of connection 1 while PARKERS threads call for the
 * same connection (they must wait, then all get through, in turn) and
 * another thread works on connection 2 meanwhile (it must not wait for
 * connection 1 at all). */
#define PARKERS 3
#define HOLD_MS 300

typedef struct park_case {
    srt_env *e;
    gint inside;          /* the first callback of connection 1 is running */
    gint release;         /* ...and may return */
    gint entered;         /* parker threads that started their call */
    gint other_done;      /* connection 2's calls finished */
    gint other_while_held;/* ...while connection 1's callback still ran */
} park_case;

static int park_data(srt_recorder *r, srt_stream *s, const sr_conn_info *info, const sr_chunk *c,
                     void *ctx)
{
    (void)s, (void)c, (void)ctx;
    park_case *pc = r->hook_data;
    sr_flow f1;
    srt_flow_ab(&f1, 1, false);
    if (!srt_flow_endpoints_match(&info->flow, &f1) || g_atomic_int_get(&pc->inside))
        return 0;
    g_atomic_int_set(&pc->inside, 1);
    /* Hold the connection until every parker has started its call and had
     * time to park (HOLD_MS), and the other connection's thread is done. */
    wait_progress(&pc->entered, PARKERS);
    wait_progress(&pc->other_done, 1);
    sleep_ms(HOLD_MS);
    g_atomic_int_set(&pc->release, 1);
    return 0;
}

/* sr_assemble from a worker thread (srt_feed keeps its result in the
 * shared env, which threads must not share). */
static void park_feed(park_case *pc, uint32_t conn, uint32_t seq, const char *data)
{
    sr_flow f;
    srt_flow_ab(&f, conn, false);
    sr_segment sg = srt_seg(seq, ACK, data, strlen(data), T0);
    SRT_ASSERT_ERR(sr_assemble(pc->e->a, &f, &sg, NULL), SR_OK);
}

typedef struct parker_arg {
    park_case *pc;
    int k;
} parker_arg;

static void *parker_thread(void *p)
{
    parker_arg *pa = p;
    char buf[8];
    g_snprintf(buf, sizeof buf, "%c%c%c%c", 'a' + pa->k, 'a' + pa->k, 'a' + pa->k, 'a' + pa->k);
    g_atomic_int_inc(&pa->pc->entered);
    /* Bytes 4 + 4k .. 8 + 4k: waits for the lock, then in order or buffered. */
    park_feed(pa->pc, 1, 105 + 4 * (uint32_t)pa->k, buf);
    return NULL;
}

static void *other_conn_thread(void *p)
{
    park_case *pc = p;
    wait_progress(&pc->inside, 1);
    for (uint32_t i = 0; i < 50; i++)
        park_feed(pc, 2, 101 + 2 * i, "zz");
    if (!g_atomic_int_get(&pc->release))
        g_atomic_int_set(&pc->other_while_held, 1);
    g_atomic_int_set(&pc->other_done, 1);
    return NULL;
}

static void *holder_thread(void *p)
{
    park_case *pc = p;
    /* Bytes 0..4: delivered at once; the callback holds the connection. */
    park_feed(pc, 1, 101, "hhhh");
    return NULL;
}

static void test_waiters_park(void)
{
    IN_CHILD(120);
    srt_env e;
    srt_env_open(&e, NULL, 16);
    park_case pc = {.e = &e};
    e.rec.hook_data = &pc;
    e.rec.data_hook = park_data;
    for (uint32_t conn = 1; conn <= 2; conn++) {
        SRT_ASSERT_ERR(srt_feed(&e, conn, false, 100, SYN, NULL, T0, NULL), SR_OK);
        SRT_ASSERT_ERR(srt_feed(&e, conn, true, 900, SYN | ACK, NULL, T0, NULL), SR_OK);
    }
    pthread_t holder, other, parkers[PARKERS];
    parker_arg pa[PARKERS];
    pthread_create(&holder, NULL, holder_thread, &pc);
    pthread_create(&other, NULL, other_conn_thread, &pc);
    wait_progress(&pc.inside, 1);
    for (int k = 0; k < PARKERS; k++) {
        pa[k] = (parker_arg){&pc, k};
        pthread_create(&parkers[k], NULL, parker_thread, &pa[k]);
    }
    pthread_join(holder, NULL);
    for (int k = 0; k < PARKERS; k++)
        pthread_join(parkers[k], NULL);
    pthread_join(other, NULL);
    g_assert_cmpint(g_atomic_int_get(&pc.other_while_held), ==, 1);
    srt_stream *s1 = NULL;
    for (unsigned i = 0; i < srt_recorder_count(&e.rec); i++) {
        srt_stream *s = srt_recorder_stream(&e.rec, i);
        sr_flow f1;
        srt_flow_ab(&f1, 1, false);
        if (srt_flow_endpoints_match(&s->flow, &f1))
            s1 = s;
    }
    g_assert_nonnull(s1);
    srt_assert_dir(&s1->dir[SR_DIR_CLIENT_TO_SERVER], "hhhhaaaabbbbcccc", "connection 1");
    srt_env_close(&e);
}

/* ------------------------------------------------------------ background flush */

static void test_background_flush(void)
{
    IN_CHILD(240);
    sr_options o;
    sr_options_init(&o);
    o.background_flush = true;
    o.connection_timeout = 1 * SEC;
    o.flush_interval = SEC / 10;
    srt_env e;
    srt_env_open(&e, &o, 16);
    /* Plain sr_assemble(), no recorder cross-checks: from here on the
     * background thread may run this connection's callbacks at any time;
     * the recorder is read only after its atomic `completes` handoff. */
    sr_time now = g_get_real_time();
    sr_flow f;
    srt_flow_ab(&f, 1, false);
    static const uint8_t abc[] = "abc", xyz[] = "xyz";
    sr_segment seg = srt_seg(10, ACK, abc, 3, now);
    g_assert_cmpint(sr_assemble(e.a, &f, &seg, NULL), ==, SR_OK);
    seg = srt_seg(20, ACK, xyz, 3, now);
    g_assert_cmpint(sr_assemble(e.a, &f, &seg, NULL), ==, SR_OK);
    srt_stream *s = srt_recorder_stream(&e.rec, 0);
    /* No further call: the background thread must time it out. */
    for (int i = 0; i < 1000 && !g_atomic_int_get(&s->completes); i++)
        sleep_ms(10);
    g_assert_cmpint(g_atomic_int_get(&s->completes), ==, 1);
    g_assert_cmpstr(sr_close_reason_name(s->close_reason), ==, "TIMEOUT");
    srt_assert_dir(&s->dir[0], "abc<7>xyz", "timed out in the background");
    g_assert_cmpuint(srt_asm_stats(e.a).pages_in_use, ==, 0);

    /* Freeing an assembler whose thread is running, right after start. */
    sr_assembler *b = NULL;
    g_assert_cmpint(sr_assembler_new(e.pool, &o, &b), ==, SR_OK);
    sr_assembler_free(b);
    g_assert_cmpint(sr_assembler_new(e.pool, &o, &b), ==, SR_OK);
    g_assert_cmpint(sr_assembler_close(b), ==, SR_OK);
    sr_assembler_free(b);
    srt_env_close(&e);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/concurrency/create/same-direction", test_create_same_direction);
    g_test_add_func("/concurrency/create/both-directions", test_create_both_directions);
    g_test_add_func("/concurrency/create/syn-vs-synack", test_create_syn_vs_synack);
    g_test_add_func("/concurrency/one-connection/many-threads", test_one_connection_many_threads);
    g_test_add_func("/concurrency/many-connections/shared-assembler", test_many_shared);
    g_test_add_func("/concurrency/many-connections/assembler-per-thread", test_many_per_thread);
    g_test_add_func("/concurrency/many-connections/evicting", test_many_evicting);
    g_test_add_func("/concurrency/shutdown/pool-close-while-assembling",
                    test_pool_close_while_assembling);
    g_test_add_func("/concurrency/shutdown/assembler-close-while-assembling",
                    test_assembler_close_while_assembling);
    g_test_add_func("/concurrency/time/sweeps-and-flushes-racing", test_sweeps_and_flushes_racing);
    g_test_add_func("/concurrency/callbacks/cross-connection", test_cross_callbacks);
    g_test_add_func("/concurrency/one-connection/waiters-park", test_waiters_park);
    g_test_add_func("/concurrency/background-flush", test_background_flush);
    return g_test_run();
}
