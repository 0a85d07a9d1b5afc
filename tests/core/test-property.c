/* test-property.c - property test: random small two-way streams cut into
 * random segments, shuffled, duplicated, retransmitted (sometimes with
 * different bytes), partly dropped, with random ISNs (biased to the wrap),
 * SYN or not, data on SYN, FIN on data or alone, sometimes an RST, pure
 * ACKs, random page sizes and sometimes tiny page limits. At least 100,000
 * cases per run (SR_PROPERTY_CASES), seeded from SR_SEED (printed; a fixed
 * default); SR_CASE=n runs case n only.
 *
 * A reference model tracks, per direction, which bytes arrived, the first
 * copy of each byte (the first copy wins), the delivery edge (contiguous
 * prefix) and which later copies differed from the first copy: detectable
 * among buffered bytes always, among delivered bytes when conflict_history
 * is on (random per case: 0 or the default). Checked for every case:
 * - every call returns SR_OK (or CONNECTION_CLOSED once completed), the
 *   per-call totals match the callbacks, page limits hold after each call;
 * - exactly one stream, oriented as the contract says;
 * - every delivered byte is the model's first copy at its offset (so no
 *   byte is invented, misplaced or delivered twice);
 * - conservation: delivered + skipped == highest offset reached, for the
 *   callbacks, the final sr_conn_info and the assembler counters;
 * - without a limit hit: every arrived byte is delivered, skipped bytes are
 *   exactly the holes, byte-exact delivery when nothing was dropped, FIN
 *   completion exactly when the model says so, SR_CHUNK_CONFLICT on every
 *   chunk holding a byte that conflicted before delivery, conflicts counted
 *   exactly when the model has some;
 * - START/END flags, pages back to 0, pool counters.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sr-test-util.h"

#define MAXL 160     /* max bytes per direction */
#define MAXSEG 640
#define T0 (42 * SR_USEC_PER_SEC)

typedef struct pseg {
    uint8_t ep;       /* 0 = A, 1 = B */
    uint8_t flags;    /* SR_TCP_* */
    bool syn;         /* the SYN segment (seq = ISN, data from offset 0) */
    bool fin;         /* FIN after its data */
    bool pure_ack;
    bool rst;
    bool is_start;
    uint32_t off, len;
    uint8_t data[MAXL];
} pseg;

typedef struct model_dir {
    bool arrived[MAXL];
    uint8_t first[MAXL];
    bool conflict[MAXL];
    bool conflict_delivered[MAXL];
    uint32_t edge;          /* contiguous arrived prefix */
    bool fin_arrived;
    unsigned nconflicts;
} model_dir;

typedef struct pcase {
    uint64_t seed;
    bool syn[2], fin[2];
    uint32_t isn[2], L[2];
    uint8_t orig[2][MAXL];
    pseg *segs;             /* generated */
    unsigned nsegs;
    unsigned *order;        /* feeding order (indices), dropped ones absent */
    unsigned norder;
    bool dropped_any, conflicts_made, rst_end;
    uint8_t rst_ep;
    size_t page_size, per, total;
    size_t history;         /* conflict_history: 0 or the default */
    model_dir m[2];
} pcase;

/* ------------------------------------------------------------ crash context */

static char crash_note[160];
static size_t crash_note_len;

static void on_fatal_signal(int sig)
{
    /* Only async-signal-safe calls: say which case died, then die. */
    if (crash_note_len)
        (void)!write(2, crash_note, crash_note_len);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void note_case(uint64_t run_seed, unsigned idx)
{
    int n = snprintf(crash_note, sizeof crash_note,
                     "\n# property case %u failed; reproduce with SR_SEED=%" G_GUINT64_FORMAT
                     " SR_CASE=%u\n",
                     idx, run_seed, idx);
    crash_note_len = n > 0 ? (size_t)n : 0;
}

/* ------------------------------------------------------------ generation */

static pseg *add_seg(pcase *c)
{
    g_assert_cmpuint(c->nsegs, <, MAXSEG);
    pseg *s = &c->segs[c->nsegs++];
    memset(s, 0, offsetof(pseg, data));
    return s;
}

static void fill(pcase *c, pseg *s, srt_rng *r, bool alter)
{
    memcpy(s->data, c->orig[s->ep] + s->off, s->len);
    if (alter && s->len) {
        uint32_t i = srt_below(r, s->len);
        s->data[i] ^= (uint8_t)(1 + srt_below(r, 255)); /* surely different */
        c->conflicts_made = true;
    }
}

static void generate(pcase *c, srt_rng *r)
{
    c->nsegs = 0;
    c->dropped_any = c->conflicts_made = c->rst_end = false;
    bool drop_mode = srt_below(r, 3) == 0;
    bool conflict_mode = srt_below(r, 4) == 0;

    c->history = srt_below(r, 3) == 0 ? 0 : SR_DEFAULT_CONFLICT_HISTORY;
    static const size_t page_sizes[] = {1, 2, 3, 7, 16, 64, 1900};
    c->page_size = page_sizes[srt_below(r, G_N_ELEMENTS(page_sizes))];
    if (srt_below(r, 2)) {
        c->per = 1 + srt_below(r, 6);
        c->total = c->per + srt_below(r, 4);
    } else {
        c->per = SR_DEFAULT_MAX_PAGES_PER_CONNECTION;
        c->total = SR_DEFAULT_MAX_PAGES_TOTAL;
    }

    c->syn[0] = srt_below(r, 2);
    c->syn[1] = c->syn[0] && srt_below(r, 4) != 0;
    for (int e = 0; e < 2; e++) {
        uint32_t k = srt_below(r, 8);
        c->L[e] = k == 0 ? 0 : k == 1 ? 1 + srt_below(r, 8) : srt_below(r, MAXL + 1);
        c->fin[e] = srt_below(r, 3) != 0;
        uint32_t w = srt_below(r, 4);
        c->isn[e] = w == 0 ? srt_isns[srt_below(r, 4)]
                  : w == 1 ? 0u - 1u - srt_below(r, 2 * MAXL) /* data crosses the wrap */
                           : (uint32_t)srt_rand(r);
        for (uint32_t i = 0; i < c->L[e]; i++)
            c->orig[e][i] = (uint8_t)srt_rand(r);
    }
    if (!c->syn[0] && c->L[0] == 0 && !c->fin[0])
        c->fin[0] = true; /* A always sends something */

    for (uint8_t e = 0; e < 2; e++) {
        uint32_t L = c->L[e];
        bool sends = c->syn[e] || L > 0 || c->fin[e];
        if (!sends)
            continue;
        uint32_t pos = 0;
        pseg *start = NULL;
        if (c->syn[e]) {
            start = add_seg(c);
            start->ep = e;
            start->syn = true;
            start->flags = e == 0 ? SR_TCP_SYN : SR_TCP_SYN | SR_TCP_ACK;
            if (L > 0 && srt_below(r, 4) == 0) { /* data on the SYN */
                start->len = 1 + srt_below(r, MIN(L, 20u));
                fill(c, start, r, false);
                pos = start->len;
            }
        }
        uint32_t maxseg = 1 + srt_below(r, 40);
        pseg *last = start;
        while (pos < L) {
            pseg *s = add_seg(c);
            s->ep = e;
            s->flags = SR_TCP_ACK;
            s->off = pos;
            uint32_t want = 1 + srt_below(r, maxseg); /* not inside MIN(): once */
            s->len = MIN(want, L - pos);
            fill(c, s, r, false);
            if (!start)
                start = s;
            pos += s->len;
            last = s;
        }
        if (c->fin[e]) {
            if (last && !last->syn && srt_below(r, 2)) {
                last->fin = true;
                last->flags |= SR_TCP_FIN;
            } else {
                pseg *s = add_seg(c);
                s->ep = e;
                s->flags = SR_TCP_ACK | SR_TCP_FIN;
                s->fin = true;
                s->off = L;
                if (!start)
                    start = s;
            }
        }
        start->is_start = true;
        /* Retransmissions of random ranges, some with different bytes. */
        unsigned nre = L ? srt_below(r, L / 8 + 3) : 0;
        for (unsigned i = 0; i < nre; i++) {
            pseg *s = add_seg(c);
            s->ep = e;
            s->flags = SR_TCP_ACK;
            s->off = srt_below(r, L);
            uint32_t want = 1 + srt_below(r, 30);
            s->len = MIN(want, L - s->off);
            fill(c, s, r, conflict_mode && srt_below(r, 3) == 0);
        }
        /* Pure ACKs at plausible positions. */
        unsigned nack = srt_below(r, 3);
        for (unsigned i = 0; i < nack; i++) {
            pseg *s = add_seg(c);
            s->ep = e;
            s->flags = SR_TCP_ACK;
            s->pure_ack = true;
            s->off = srt_below(r, L + 1);
        }
    }
    /* Exact duplicates of random segments. */
    unsigned base = c->nsegs, ndup = srt_below(r, 5);
    for (unsigned i = 0; i < ndup && base; i++) {
        pseg *s = add_seg(c);
        unsigned from = srt_below(r, base);
        memcpy(s, &c->segs[from], sizeof *s);
        s->is_start = false;
    }

    /* Order: shuffle, then each endpoint's start before anything else of
     * it; with only A's SYN, that SYN first of all; pure ACKs only once
     * every sending endpoint has started. */
    unsigned *tmp = g_newa(unsigned, c->nsegs);
    for (unsigned i = 0; i < c->nsegs; i++)
        tmp[i] = i;
    for (unsigned i = c->nsegs; i > 1; i--) {
        unsigned j = srt_below(r, i);
        unsigned t = tmp[i - 1];
        tmp[i - 1] = tmp[j];
        tmp[j] = t;
    }
    int start_of[2] = {-1, -1};
    for (unsigned i = 0; i < c->nsegs; i++)
        if (c->segs[i].is_start)
            start_of[c->segs[i].ep] = (int)i;
    bool started[2] = {start_of[0] < 0, start_of[1] < 0}; /* silent = "started" */
    unsigned *deferred = g_newa(unsigned, c->nsegs);
    unsigned ndef = 0;
    c->norder = 0;
    if (c->syn[0] && !c->syn[1]) {
        c->order[c->norder++] = (unsigned)start_of[0];
        started[0] = true;
    }
    for (unsigned k = 0; k < c->nsegs; k++) {
        unsigned i = tmp[k];
        pseg *s = &c->segs[i];
        if (s->is_start && started[s->ep])
            continue; /* already emitted */
        if (s->pure_ack && !(started[0] && started[1])) {
            deferred[ndef++] = i;
            continue;
        }
        if (!started[s->ep]) {
            c->order[c->norder++] = (unsigned)start_of[s->ep];
            started[s->ep] = true;
            if (s->is_start)
                continue;
        }
        if (!s->is_start && drop_mode && srt_below(r, 7) == 0) {
            c->dropped_any = true;
            continue;
        }
        c->order[c->norder++] = i;
    }
    for (unsigned k = 0; k < ndef; k++)
        c->order[c->norder++] = deferred[k];
    /* Sometimes an RST at the very end, from a sending endpoint. */
    if (srt_below(r, 10) == 0) {
        uint8_t e = start_of[1] >= 0 && srt_below(r, 2) ? 1 : 0;
        if (start_of[e] >= 0) {
            pseg *s = add_seg(c);
            s->ep = e;
            s->flags = SR_TCP_RST | SR_TCP_ACK;
            s->rst = true;
            s->off = c->L[e] + (c->fin[e] ? 1u : 0u);
            c->order[c->norder++] = (unsigned)(s - c->segs);
            c->rst_end = true;
            c->rst_ep = e;
        }
    }
}

/* ------------------------------------------------------------ model */

static void model_arrive(pcase *c, const pseg *s)
{
    model_dir *m = &c->m[s->ep];
    if (s->rst || s->pure_ack)
        return;
    uint32_t edge_before = m->edge;
    for (uint32_t i = 0; i < s->len; i++) {
        uint32_t o = s->off + i;
        if (o < edge_before) {
            /* Delivered already: with conflict_history (the default, larger
             * than MAXL here) the core compares with the delivered bytes it
             * remembers and counts the conflict, but no chunk can carry the
             * flag; with conflict_history 0 it cannot tell. */
            if (c->history && m->first[o] != s->data[i] && !m->conflict_delivered[o]) {
                m->conflict_delivered[o] = true;
                m->nconflicts++;
            }
            continue;
        }
        if (!m->arrived[o]) {
            m->arrived[o] = true;
            m->first[o] = s->data[i];
        } else if (m->first[o] != s->data[i] && !m->conflict[o]) {
            m->conflict[o] = true;
            m->nconflicts++;
        }
    }
    while (m->edge < c->L[s->ep] && m->arrived[m->edge])
        m->edge++;
    if (s->fin)
        m->fin_arrived = true;
}

static bool model_fin_done(const pcase *c, int e)
{
    return c->m[e].fin_arrived && c->m[e].edge == c->L[e];
}

typedef struct expect_ud {
    const pcase *c;
    int e;
} expect_ud;

static uint8_t model_byte(void *ud, uint64_t o)
{
    const expect_ud *x = ud;
    const model_dir *m = &x->c->m[x->e];
    if (o >= x->c->L[x->e] || !m->arrived[o])
        g_error("byte delivered at offset %" G_GUINT64_FORMAT " that never arrived (sender %c)",
                o, x->e ? 'B' : 'A');
    return m->first[o];
}

/* ------------------------------------------------------------ one case */

static unsigned stat_limit_cases, stat_drop_cases, stat_conflict_cases, stat_fin_cases;

static void run_case(pcase *c, uint64_t case_seed)
{
    srt_rng r = {case_seed};
    generate(c, &r);
    memset(c->m, 0, sizeof c->m);

    srt_recorder rec;
    srt_recorder_init(&rec);
    rec.max_conn_pages = c->per;
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_pool *pool = sr_pool_new(&f, 4, NULL);
    g_assert_nonnull(pool);
    sr_options o = srt_options(c->page_size, c->per, c->total);
    o.conflict_history = c->history;
    sr_assembler *a = NULL;
    g_assert_cmpint(sr_assembler_new(pool, &o, &a), ==, SR_OK);

    sr_flow flow[2];
    srt_flow_ab(&flow[0], 1, false);
    srt_flow_ab(&flow[1], 1, true);
    uint64_t conn_id = 0;
    unsigned hits = 0;
    bool dump = g_getenv("SR_PROPERTY_DUMP") != NULL;
    if (dump)
        g_printerr("# syn %d/%d fin %d/%d isn %u/%u L %u/%u page %zu per %zu total %zu\n",
                   c->syn[0], c->syn[1], c->fin[0], c->fin[1], c->isn[0], c->isn[1], c->L[0],
                   c->L[1], c->page_size, c->per, c->total);
    for (unsigned k = 0; k < c->norder; k++) {
        const pseg *s = &c->segs[c->order[k]];
        if (dump)
            g_printerr("# %3u %c off %3u len %3u%s%s%s%s%s\n", k, s->ep ? 'B' : 'A', s->off,
                       s->len, s->syn ? " SYN" : "", s->fin ? " FIN" : "",
                       s->pure_ack ? " pure-ACK" : "", s->rst ? " RST" : "",
                       s->is_start ? " (start)" : "");
        uint32_t seq = s->syn ? c->isn[s->ep]
                              : c->isn[s->ep] + (c->syn[s->ep] ? 1u : 0u) + s->off;
        sr_segment seg = srt_seg(seq, s->flags, s->len ? s->data : NULL, s->len,
                                 T0 + (sr_time)k);
        sr_result res;
        memset(&res, 0xff, sizeof res);
        sr_error err = sr_assemble_ex(a, &flow[s->ep], &seg, NULL, &res);
        if (err != SR_OK) {
            /* Only a completed connection may refuse segments. */
            g_assert_cmpstr(sr_err_name(err), ==, "SR_ERR_CONNECTION_CLOSED");
            g_assert_cmpuint(srt_recorder_count(&rec), ==, 1);
            g_assert_cmpint(srt_recorder_stream(&rec, 0)->completes, ==, 1);
            g_assert_true(res.status & SR_SEG_AFTER_CLOSE);
        } else {
            if (!conn_id)
                conn_id = res.conn_id;
            g_assert_cmpuint(res.conn_id, ==, conn_id);
            model_arrive(c, s);
        }
        hits += !!(res.status & (SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL));
        srt_check_result(&rec, &res);
        if (res.conn_pages > c->per)
            g_error("conn_pages %zu > %zu", res.conn_pages, c->per);
        sr_assembler_stats st;
        g_assert_cmpint(sr_assembler_get_stats(a, &st), ==, SR_OK);
        if (st.pages_in_use > c->total)
            g_error("pages_in_use %" G_GUINT64_FORMAT " > %zu", st.pages_in_use, c->total);
    }

    g_assert_cmpint(rec.new_calls, ==, 1);
    g_assert_cmpuint(srt_recorder_count(&rec), ==, 1);
    srt_stream *st = srt_recorder_stream(&rec, 0);
    /* Orientation: A if A sent a SYN, else whoever was seen first. */
    int client = c->syn[0] ? 0 : c->segs[c->order[0]].ep;
    g_assert_true(srt_flow_endpoints_match(&st->flow, &flow[client]));
    int dir_of[2] = {client == 0 ? 0 : 1, client == 0 ? 1 : 0};

    /* Completion before the final flush. */
    bool both_fin = model_fin_done(c, 0) && model_fin_done(c, 1);
    if (hits == 0) {
        if (both_fin) {
            g_assert_cmpint(st->completes, ==, 1);
            g_assert_cmpstr(sr_close_reason_name(st->close_reason), ==, "FIN");
        } else if (c->rst_end) {
            g_assert_cmpint(st->completes, ==, 1);
            g_assert_cmpstr(sr_close_reason_name(st->close_reason), ==, "RST");
        } else {
            g_assert_cmpint(st->completes, ==, 0);
        }
    } else if (st->completes) {
        g_assert_true(st->close_reason == SR_CLOSE_FIN || st->close_reason == SR_CLOSE_RST);
        if (st->close_reason == SR_CLOSE_RST)
            g_assert_true(c->rst_end);
    }
    bool was_open = st->completes == 0;
    size_t closed = 99;
    g_assert_cmpint(sr_assembler_flush_all(a, NULL, &closed), ==, SR_OK);
    g_assert_cmpuint(closed, ==, was_open ? 1 : 0);
    g_assert_cmpint(st->completes, ==, 1);
    if (was_open)
        g_assert_cmpstr(sr_close_reason_name(st->close_reason), ==, "FLUSHED");

    for (int e = 0; e < 2; e++) {
        srt_dir_rec *d = &st->dir[dir_of[e]];
        const model_dir *m = &c->m[e];
        expect_ud x = {c, e};
        srt_verify_content(d, model_byte, &x, e ? "sender B" : "sender A");
        /* An RST one past a FIN that was dropped looks like a lost byte. */
        bool rst_past_lost_fin = c->rst_end && c->rst_ep == e && c->fin[e] && !m->fin_arrived;
        g_assert_cmpuint(d->reached, <=, c->L[e] + (rst_past_lost_fin ? 1u : 0u));
        uint32_t max_end = 0, narrived = 0;
        for (uint32_t i = 0; i < c->L[e]; i++)
            if (m->arrived[i])
                max_end = i + 1;
        for (uint32_t i = 0; i < d->reached && i < c->L[e]; i++)
            narrived += m->arrived[i];
        if (hits == 0) {
            /* Every arrived byte delivered, the holes skipped. */
            g_assert_cmpuint(d->reached, >=, max_end);
            g_assert_cmpuint(d->data->len, ==, narrived);
            if (!c->dropped_any && !c->rst_end) {
                g_assert_cmpuint(d->data->len, ==, c->L[e]);
                g_assert_cmpuint(d->skipped, ==, 0);
                if (!c->conflicts_made)
                    g_assert_cmpmem(d->data->data, d->data->len, c->orig[e], c->L[e]);
            }
            /* Conflicts: flagged where they are, never where none are. */
            for (guint k = 0; k < d->chunks->len; k++) {
                srt_chunk_rec *ch = &g_array_index(d->chunks, srt_chunk_rec, k);
                bool has = false;
                for (size_t i = 0; i < ch->len; i++)
                    has |= m->conflict[ch->offset + i];
                if (has && !(ch->flags & SR_CHUNK_CONFLICT))
                    g_error("sender %c: chunk at %" G_GUINT64_FORMAT " holds a conflicting byte "
                            "but lacks SR_CHUNK_CONFLICT", e ? 'B' : 'A', ch->offset);
            }
            if (m->nconflicts == 0) {
                g_assert_cmpuint(d->flags_or & SR_CHUNK_CONFLICT, ==, 0);
                g_assert_cmpuint(st->final_info.conflicts[dir_of[e]], ==, 0);
            } else {
                g_assert_cmpuint(st->final_info.conflicts[dir_of[e]], >, 0);
            }
        }
        /* START: only on a SYN direction, then on its first real bytes. */
        if (!c->syn[e]) {
            g_assert_cmpuint(d->flags_or & SR_CHUNK_START, ==, 0);
        } else if (d->chunks->len) {
            srt_chunk_rec *c0 = &g_array_index(d->chunks, srt_chunk_rec, 0);
            if (c0->len > 0 && c0->skipped == 0)
                g_assert_cmpuint(c0->flags & SR_CHUNK_START, ==, SR_CHUNK_START);
        }
        /* END: only if the FIN arrived; then the stream reached it. Without
         * an RST, a FIN that arrived is always reached by the final flush. */
        if (d->ended) {
            g_assert_true(m->fin_arrived);
            g_assert_cmpuint(d->reached, ==, c->L[e]);
        } else if (m->fin_arrived && !c->rst_end) {
            g_error("sender %c: FIN arrived but no SR_CHUNK_END", e ? 'B' : 'A');
        }
    }

    sr_assembler_stats as;
    g_assert_cmpint(sr_assembler_get_stats(a, &as), ==, SR_OK);
    g_assert_cmpuint(as.pages_in_use, ==, 0);
    g_assert_cmpuint(as.pages_peak, <=, c->total);
    g_assert_cmpuint(as.limit_hits_connection + as.limit_hits_total, ==, hits);
    if (hits == 0)
        g_assert_cmpuint(as.overlap_conflicts > 0, ==, c->m[0].nconflicts + c->m[1].nconflicts > 0);
    srt_check_asm_bytes(a, &rec);
    srt_check_pool_stats(pool, &rec);
    srt_check_conservation(&rec, true);

    stat_limit_cases += hits > 0;
    stat_drop_cases += c->dropped_any;
    stat_conflict_cases += c->m[0].nconflicts + c->m[1].nconflicts > 0;
    stat_fin_cases += st->close_reason == SR_CLOSE_FIN;

    sr_assembler_free(a);
    sr_pool_free(pool);
    srt_recorder_clear(&rec);
}

static uint64_t mix(uint64_t seed, uint64_t i)
{
    srt_rng r = {seed ^ (i * 0xd1342543de82ef95ull)};
    srt_rand(&r);
    return srt_rand(&r);
}

static void test_property(void)
{
    uint64_t seed = srt_seed_from_env("SR_SEED", 20260101);
    const char *cases_env = g_getenv("SR_PROPERTY_CASES");
    unsigned ncases = cases_env ? (unsigned)g_ascii_strtoull(cases_env, NULL, 10) : 100000u;
    const char *one = g_getenv("SR_CASE");
    unsigned first = 0, last = ncases;
    if (one && *one) {
        first = (unsigned)g_ascii_strtoull(one, NULL, 10);
        last = first + 1;
    }
    g_test_message("seed %" G_GUINT64_FORMAT ", cases %u..%u", seed, first, last - 1);
    signal(SIGABRT, on_fatal_signal);
    signal(SIGTRAP, on_fatal_signal);
    signal(SIGSEGV, on_fatal_signal);

    pcase *c = g_new0(pcase, 1);
    c->segs = g_new0(pseg, MAXSEG);
    c->order = g_new0(unsigned, MAXSEG + 1);
    for (unsigned i = first; i < last; i++) {
        note_case(seed, i);
        run_case(c, mix(seed, i));
    }
    crash_note_len = 0;
    g_test_message("cases with limit hits %u, drops %u, conflicts %u, FIN-closed %u",
                   stat_limit_cases, stat_drop_cases, stat_conflict_cases, stat_fin_cases);
    if (last - first >= 1000) {
        /* The generator covers what it claims to. */
        g_assert_cmpuint(stat_limit_cases, >, (last - first) / 20);
        g_assert_cmpuint(stat_drop_cases, >, (last - first) / 10);
        g_assert_cmpuint(stat_conflict_cases, >, (last - first) / 50);
        g_assert_cmpuint(stat_fin_cases, >, (last - first) / 10);
    }
    g_free(c->order);
    g_free(c->segs);
    g_free(c);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/property/random-streams", test_property);
    return g_test_run();
}
