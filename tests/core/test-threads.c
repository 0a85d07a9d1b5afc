/* test-threads.c - the outcome never depends on threads or sweep timing
 * (issue 7, defect 4): K random connections (holes, reordering,
 * duplicates, waits past flush_interval, idle timeouts, FINs, RSTs, late
 * segments) are fed once by one assembler in one thread, and once by N
 * threads (2..4), each with its own assembler on one shared pool, each
 * owning a disjoint subset of the connections and feeding them in the same
 * global capture-time order (so each thread's timestamps never decrease).
 * Both runs end alike: every assembler times out what has been idle for
 * connection_timeout at the last capture time, then everything is flushed.
 * Per connection (matched by flow and creation order) the delivered bytes,
 * the gaps, the orientation, the close reason and the dropped bytes must be
 * identical, no page cap may be hit and a concurrent reader checks that
 * pages in use never pass the cap. Several seeds (SR_SEED picks the first).
 * Meant for TSan too (label concurrency).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "sr-test-util.h"

#define SYN SR_TCP_SYN
#define ACK SR_TCP_ACK
#define FIN SR_TCP_FIN
#define RST SR_TCP_RST
#define SEC SR_USEC_PER_SEC
#define MS (SR_USEC_PER_SEC / 1000)
#define T0 (1000 * SEC)
#define MAXT 4
#define NCONN 24
#define MAXLEN 2400
#define PAGE 64
#define PER_CONN 1000
#define TOTAL 50000

/* One segment of the global feed. */
typedef struct tev {
    sr_time t;
    uint32_t conn;     /* 1..NCONN */
    bool b;            /* sent by B */
    uint8_t flags;
    uint32_t seq;
    uint32_t off, len; /* payload: srt_conn_byte(conn, b, off ...) */
    unsigned idx;      /* creation index: keeps a connection's own order */
} tev;

static void add_ev(GArray *ev, sr_time t, uint32_t conn, bool b, uint8_t flags, uint32_t seq,
                   uint32_t off, uint32_t len)
{
    tev e = {t, conn, b, flags, seq, off, len, ev->len};
    g_array_append_val(ev, e);
}

/* The pause before a connection's next segment: usually short, sometimes
 * past flush_interval, rarely past connection_timeout. */
static sr_time pause_before(srt_rng *r)
{
    uint32_t k = srt_below(r, 100);
    if (k < 4)
        return 15 * SEC + (sr_time)srt_below(r, 45 * SEC);
    if (k < 6)
        return 130 * SEC + (sr_time)srt_below(r, 70 * SEC);
    return 1 * MS + (sr_time)srt_below(r, 50 * MS);
}

typedef struct piece {
    bool b;
    uint32_t off, len;
    uint8_t flags;
} piece;

/* A connection's script, appended to ev with non-decreasing times. */
static void gen_conn(srt_rng *r, uint32_t conn, GArray *ev)
{
    sr_time t = T0 + (sr_time)srt_below(r, 300 * SEC);
    bool syn = srt_below(r, 3) != 0;
    uint32_t isn[2] = {(uint32_t)srt_rand(r), (uint32_t)srt_rand(r)};
    if (srt_below(r, 4) == 0)
        isn[0] = 0u - 1u - srt_below(r, 1000); /* across the wrap */
    uint32_t L[2] = {srt_below(r, MAXLEN), srt_below(r, MAXLEN)};
    uint32_t d0[2] = {isn[0] + (syn ? 1u : 0u), isn[1] + (syn ? 1u : 0u)};
    if (syn) {
        add_ev(ev, t, conn, false, SYN, isn[0], 0, 0);
        t += 1 * MS + (sr_time)srt_below(r, 20 * MS);
        add_ev(ev, t, conn, true, SYN | ACK, isn[1], 0, 0);
        t += 1 * MS;
        add_ev(ev, t, conn, false, ACK, d0[0], 0, 0);
    }
    /* Both directions cut into pieces, interleaved at random; some lost,
     * some swapped with the next (out of order), some sent twice. */
    GArray *pcs = g_array_new(FALSE, FALSE, sizeof(piece));
    uint32_t pos[2] = {0, 0};
    while (pos[0] < L[0] || pos[1] < L[1]) {
        bool b = pos[0] >= L[0] || (pos[1] < L[1] && srt_below(r, 2));
        uint32_t want = 1 + srt_below(r, 400);
        piece pc = {b, pos[b], MIN(want, L[b] - pos[b]), ACK};
        pos[b] += pc.len;
        if (srt_below(r, 12) == 0)
            continue; /* lost: a hole */
        g_array_append_val(pcs, pc);
        if (srt_below(r, 15) == 0)
            g_array_append_val(pcs, pc);
    }
    for (guint i = 0; i + 1 < pcs->len; i++)
        if (srt_below(r, 6) == 0) {
            piece tmp = g_array_index(pcs, piece, i);
            g_array_index(pcs, piece, i) = g_array_index(pcs, piece, i + 1);
            g_array_index(pcs, piece, i + 1) = tmp;
        }
    uint32_t end = srt_below(r, 6);
    if (end < 3) { /* FINs (one may be lost) */
        for (int b = 0; b < 2; b++)
            if (srt_below(r, 8) != 0) {
                piece pc = {b, L[b], 0, ACK | FIN};
                g_array_append_val(pcs, pc);
            }
    } else if (end == 3) { /* an RST from either side */
        bool b = srt_below(r, 2);
        piece pc = {b, L[b], 0, RST | ACK};
        g_array_append_val(pcs, pc);
    }
    for (guint i = 0; i < pcs->len; i++) {
        piece *pc = &g_array_index(pcs, piece, i);
        t += pause_before(r);
        add_ev(ev, t, conn, pc->b, pc->flags, d0[pc->b] + pc->off, pc->off, pc->len);
    }
    /* Late: a copy of something, soon (the connection still lingers if it
     * completed) or after closed_linger (forgotten: a new connection). */
    if (pcs->len && srt_below(r, 4) == 0) {
        piece *pc = &g_array_index(pcs, piece, srt_below(r, pcs->len));
        t += srt_below(r, 2) ? 1 * SEC + (sr_time)srt_below(r, 4 * SEC)
                             : 70 * SEC + (sr_time)srt_below(r, 30 * SEC);
        add_ev(ev, t, conn, pc->b, pc->flags, d0[pc->b] + pc->off, pc->off, pc->len);
    }
    g_array_unref(pcs);
}

static gint ev_cmp(gconstpointer pa, gconstpointer pb)
{
    const tev *a = pa, *b = pb;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    if (a->conn != b->conn)
        return a->conn < b->conn ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* ------------------------------------------------------------ one run */

typedef struct run {
    srt_recorder rec;
    sr_options opt;
    sr_pool *pool;
    sr_assembler *a[MAXT];
    unsigned n;
    const GArray *ev;
    const unsigned *owner;   /* per connection: the thread that feeds it */
    gint done;               /* feeder threads finished */
    gint bad;                /* unexpected errors or cap breaks seen by threads */
} run;

typedef struct feeder {
    run *r;
    unsigned i;
} feeder;

static void *feed_main(void *p)
{
    feeder *f = p;
    run *r = f->r;
    uint8_t buf[MAXLEN];
    for (guint k = 0; k < r->ev->len; k++) {
        const tev *e = &g_array_index(r->ev, tev, k);
        if (r->owner[e->conn] != f->i)
            continue;
        for (uint32_t j = 0; j < e->len; j++)
            buf[j] = srt_conn_byte(e->conn, e->b, e->off + j);
        sr_flow fl;
        srt_flow_ab(&fl, e->conn, e->b);
        sr_segment s = srt_seg(e->seq, e->flags, e->len ? buf : NULL, e->len, e->t);
        sr_result res;
        sr_error err = sr_assemble_ex(r->a[f->i], &fl, &s, NULL, &res);
        if (err != SR_OK && err != SR_ERR_CONNECTION_CLOSED) {
            g_printerr("# thread %u: segment %u of connection %u: %s\n", f->i, k, e->conn,
                       sr_err_name(err));
            g_atomic_int_inc(&r->bad);
        }
        if (res.conn_pages > r->opt.max_buffered_pages_per_connection ||
            (res.status & (SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL | SR_SEG_EVICTED_OTHER))) {
            g_printerr("# thread %u: connection %u hit a limit (status 0x%x, %zu pages)\n", f->i,
                       e->conn, res.status, res.conn_pages);
            g_atomic_int_inc(&r->bad);
        }
    }
    g_atomic_int_inc(&r->done);
    return NULL;
}

static void run_feed(run *r, const GArray *ev, const unsigned *owner, unsigned n)
{
    memset(r, 0, sizeof *r);
    srt_recorder_init(&r->rec);
    r->opt = srt_options(PAGE, PER_CONN, TOTAL);
    r->rec.max_conn_pages = PER_CONN;
    r->n = n;
    r->ev = ev;
    r->owner = owner;
    sr_stream_factory f = srt_recorder_factory(&r->rec);
    r->pool = sr_pool_new(&f, 100000, NULL);
    g_assert_nonnull(r->pool);
    for (unsigned i = 0; i < n; i++)
        g_assert_cmpint(sr_assembler_new(r->pool, &r->opt, &r->a[i]), ==, SR_OK);
    pthread_t th[MAXT];
    feeder fd[MAXT];
    for (unsigned i = 0; i < n; i++) {
        fd[i] = (feeder){r, i};
        g_assert_cmpint(pthread_create(&th[i], NULL, feed_main, &fd[i]), ==, 0);
    }
    /* Meanwhile: pages in use never pass the cap, in any assembler. */
    while (g_atomic_int_get(&r->done) < (gint)n) {
        for (unsigned i = 0; i < n; i++) {
            sr_assembler_stats st = srt_asm_stats(r->a[i]);
            if (st.pages_in_use > TOTAL)
                g_error("assembler %u: %" G_GUINT64_FORMAT " pages in use > %u", i,
                        st.pages_in_use, TOTAL);
        }
        sched_yield();
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    g_assert_cmpint(r->bad, ==, 0);
    /* The same end for both runs: what is idle for connection_timeout at
     * the last capture time times out (in every assembler: each may look
     * only at its own connections), then everything is flushed. */
    sr_time last = g_array_index(ev, tev, ev->len - 1).t;
    for (unsigned i = 0; i < n; i++)
        g_assert_cmpint(sr_assembler_flush_older_than(r->a[i], last - r->opt.connection_timeout,
                                                      NULL, NULL, NULL), ==, SR_OK);
    g_assert_cmpint(sr_assembler_flush_all(r->a[0], NULL, NULL), ==, SR_OK);
    for (unsigned i = 0; i < n; i++) {
        sr_assembler_stats st = srt_asm_stats(r->a[i]);
        g_assert_cmpuint(st.limit_hits_connection + st.limit_hits_total + st.evictions, ==, 0);
        g_assert_cmpuint(st.pages_in_use, ==, 0);
        g_assert_cmpuint(st.pages_peak, <=, TOTAL);
    }
    srt_check_conservation(&r->rec, true);
}

static void run_free(run *r)
{
    for (unsigned i = 0; i < r->n; i++)
        sr_assembler_free(r->a[i]);
    sr_pool_free(r->pool);
    srt_recorder_clear(&r->rec);
}

/* The connection number of a stream, and whether A is its client. */
static uint32_t conn_of(const srt_stream *s, bool *a_client)
{
    for (uint32_t c = 1; c <= NCONN; c++)
        for (int b = 0; b < 2; b++) {
            sr_flow f;
            srt_flow_ab(&f, c, b);
            if (srt_flow_endpoints_match(&s->flow, &f)) {
                *a_client = !b;
                return c;
            }
        }
    g_error("stream of an unknown flow");
    return 0;
}

/* Streams of connection conn, in creation order (ids grow with it). */
static GPtrArray *streams_of(run *r, uint32_t conn)
{
    GPtrArray *out = g_ptr_array_new();
    for (unsigned i = 0; i < srt_recorder_count(&r->rec); i++) {
        srt_stream *s = srt_recorder_stream(&r->rec, i);
        bool a_client;
        if (conn_of(s, &a_client) == conn)
            g_ptr_array_add(out, s);
    }
    for (guint i = 1; i < out->len; i++)
        for (guint j = i; j > 0 && ((srt_stream *)out->pdata[j - 1])->conn_id >
                                       ((srt_stream *)out->pdata[j])->conn_id; j--) {
            gpointer t = out->pdata[j];
            out->pdata[j] = out->pdata[j - 1];
            out->pdata[j - 1] = t;
        }
    return out;
}

static bool same_dir(const srt_dir_rec *x, const srt_dir_rec *y)
{
    if (x->data->len != y->data->len || x->gaps->len != y->gaps->len || x->ended != y->ended)
        return false;
    if (x->data->len && memcmp(x->data->data, y->data->data, x->data->len) != 0)
        return false;
    for (guint i = 0; i < x->gaps->len; i++) {
        const srt_gap *a = &g_array_index(x->gaps, srt_gap, i);
        const srt_gap *b = &g_array_index(y->gaps, srt_gap, i);
        if (a->pos != b->pos || a->len != b->len)
            return false;
    }
    return true;
}

/* Every connection's streams identical in both runs. */
static void compare(run *one, run *many, uint64_t seed, unsigned n)
{
    unsigned total = 0;
    for (uint32_t c = 1; c <= NCONN; c++) {
        GPtrArray *x = streams_of(one, c), *y = streams_of(many, c);
        if (x->len != y->len)
            g_error("seed %" G_GUINT64_FORMAT ", %u threads: connection %u made %u streams "
                    "in one thread, %u in %u", seed, n, c, x->len, y->len, n);
        for (guint j = 0; j < x->len; j++) {
            srt_stream *s = x->pdata[j], *t = y->pdata[j];
            bool ca, cb;
            conn_of(s, &ca);
            conn_of(t, &cb);
            if (ca != cb || s->close_reason != t->close_reason)
                g_error("seed %" G_GUINT64_FORMAT ", %u threads: connection %u stream %u: client "
                        "%c, %s in one thread; client %c, %s in %u",
                        seed, n, c, j, ca ? 'A' : 'B',
                        sr_close_reason_name((sr_close_reason)s->close_reason), cb ? 'A' : 'B',
                        sr_close_reason_name((sr_close_reason)t->close_reason), n);
            for (int d = 0; d < 2; d++) {
                if (!same_dir(&s->dir[d], &t->dir[d]) ||
                    s->final_info.dropped[d] != t->final_info.dropped[d]) {
                    char *rs = srt_render(&s->dir[d]), *rt = srt_render(&t->dir[d]);
                    g_test_message("one thread: %s\n%u threads: %s", rs, n, rt);
                    g_free(rs);
                    g_free(rt);
                    g_error("seed %" G_GUINT64_FORMAT ", %u threads: connection %u stream %u "
                            "dir %d differs: %u bytes, %" G_GUINT64_FORMAT " skipped, %"
                            G_GUINT64_FORMAT " dropped in one thread; %u, %" G_GUINT64_FORMAT
                            ", %" G_GUINT64_FORMAT " in %u",
                            seed, n, c, j, d, s->dir[d].data->len, s->dir[d].skipped,
                            s->final_info.dropped[d], t->dir[d].data->len, t->dir[d].skipped,
                            t->final_info.dropped[d], n);
                }
            }
        }
        total += x->len;
        g_ptr_array_unref(x);
        g_ptr_array_unref(y);
    }
    g_assert_cmpuint(total, ==, srt_recorder_count(&one->rec));
    g_assert_cmpuint(total, ==, srt_recorder_count(&many->rec));
}

/* Counts over all seeds, to show the scripts make what they claim. */
static unsigned n_timeouts, n_multi, n_fin, n_rst, n_gaps, n_dropped;

static void note_coverage(run *r)
{
    for (unsigned i = 0; i < srt_recorder_count(&r->rec); i++) {
        srt_stream *s = srt_recorder_stream(&r->rec, i);
        n_timeouts += s->close_reason == SR_CLOSE_TIMEOUT;
        n_fin += s->close_reason == SR_CLOSE_FIN;
        n_rst += s->close_reason == SR_CLOSE_RST;
        n_gaps += s->dir[0].skipped + s->dir[1].skipped > 0;
        n_dropped += s->final_info.dropped[0] + s->final_info.dropped[1] > 0;
    }
    n_multi += srt_recorder_count(&r->rec) > NCONN;
}

static void run_seed(uint64_t seed, unsigned n)
{
    srt_rng r = {seed};
    GArray *ev = g_array_new(FALSE, FALSE, sizeof(tev));
    for (uint32_t c = 1; c <= NCONN; c++)
        gen_conn(&r, c, ev);
    g_array_sort(ev, ev_cmp);
    unsigned owner1[NCONN + 1], ownern[NCONN + 1];
    for (uint32_t c = 0; c <= NCONN; c++) {
        owner1[c] = 0;
        ownern[c] = c == 0 ? 0 : c <= n ? c - 1 : srt_below(&r, n); /* each thread some */
    }
    run one, many;
    run_feed(&one, ev, owner1, 1);
    run_feed(&many, ev, ownern, n);
    compare(&one, &many, seed, n);
    note_coverage(&one);
    run_free(&one);
    run_free(&many);
    g_array_unref(ev);
}

static void run_threads(unsigned n)
{
    uint64_t seed = srt_seed_from_env("SR_SEED", 7001);
    const char *v = g_getenv("SR_THREADS_SEEDS");
    unsigned nseeds = v && *v ? (unsigned)g_ascii_strtoull(v, NULL, 10) : 30;
    for (unsigned i = 0; i < nseeds; i++)
        run_seed(seed + i * 1000 + n, n);
}

static void test_two(void)
{
    if (!srt_subprocess_child()) {
        srt_run_in_subprocess(240);
        return;
    }
    run_threads(2);
}

static void test_three(void)
{
    if (!srt_subprocess_child()) {
        srt_run_in_subprocess(240);
        return;
    }
    run_threads(3);
}

static void test_four(void)
{
    if (!srt_subprocess_child()) {
        srt_run_in_subprocess(240);
        return;
    }
    run_threads(4);
}

/* The scripts make what the test claims: timeouts, several streams per
 * flow, FIN and RST completions, gaps and dropped bytes. Not a subprocess:
 * the counts live here. */
static void test_coverage(void)
{
    for (unsigned i = 0; i < 6; i++)
        run_seed(424242 + i, 2);
    g_test_message("streams: timeouts %u, FIN %u, RST %u, with gaps %u, with dropped bytes %u; "
                   "runs with more streams than flows %u",
                   n_timeouts, n_fin, n_rst, n_gaps, n_dropped, n_multi);
    g_assert_cmpuint(n_timeouts, >, 6);
    g_assert_cmpuint(n_fin, >, 6);
    g_assert_cmpuint(n_rst, >, 3);
    g_assert_cmpuint(n_gaps, >, 12);
    g_assert_cmpuint(n_multi, >, 2);
    g_assert_cmpuint(n_dropped, >, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/threads/same-results/coverage", test_coverage);
    g_test_add_func("/threads/same-results/2", test_two);
    g_test_add_func("/threads/same-results/3", test_three);
    g_test_add_func("/threads/same-results/4", test_four);
    return g_test_run();
}
