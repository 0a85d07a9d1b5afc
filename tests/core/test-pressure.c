/* test-pressure.c - property test: many connections in one pool under
 * pressure at once, checked against a model written from safereasm.h
 * alone (it shares no code with sr-test-util or test-property).
 *
 * What the generator produces, per case: 3..40 connections interleaved on
 * one pool and one assembler, with a small max_connections (LRU eviction
 * while other connections hold buffered pages), small page, per-connection
 * and total page caps (one connection hitting the total cap while others
 * hold the pages), random loss, reordering and duplication per connection,
 * ISNs near the wrap, SYN or not, FIN or not, FINs at wrong places (inside
 * the stream: then only the accounting below is checked for that side, not
 * which bytes it ends), RSTs (at the end or in the
 * middle, lost, duplicated, reordered), segments cut by the snaplen
 * (claimed_len > payload_len: the cut tail is a gap), capture-time jumps past
 * flush_interval and connection_timeout (sweeps triggered by other
 * connections' segments; the clock also goes back, and is monotonic per
 * assembler), sr_assembler_flush_older_than() and
 * sr_assembler_flush_all() in the middle, closed_linger 0 or long (late
 * segments), sometimes on_data failing, sometimes on_data feeding the next
 * segment (another connection's) from inside the callback, and in a third
 * of the cases two assemblers on the pool (a connection mostly fed by one,
 * sometimes by the other), the first closed part way (its pages must all
 * be flushed by sr_assembler_close()).
 *
 * The model: each sender's bytes are a function of (connection, sender,
 * sequence number), so every copy of a byte is the same. Per connection
 * instance (sr_result.conn_id) and direction it learns the stream start
 * as the header defines it (ISN + 1 after a SYN, else the first segment
 * seen), and which bytes arrived (at or after the start). Checked:
 * - every chunk continues exactly at delivered + skipped (nothing twice,
 *   nothing misplaced), its bytes are the sender's bytes at those sequence
 *   numbers, nothing after SR_CHUNK_END, END only at the FIN;
 * - a skipped range never holds a byte that had arrived in an earlier call
 *   (nothing lost silently); a byte of the segment being fed may be skipped
 *   only when an idle flush was due on its arrival;
 * - at completion: distinct claimed bytes <= delivered + skipped + dropped
 *   beyond the start (what safereasm-pcap --verify checks; any FIN);
 *   every arrived byte delivered (unless on_data failed),
 *   delivered + skipped == the extent (the FIN's offset, or the highest
 *   byte that arrived), dropped == the bytes before the start, no
 *   conflicts; on_complete exactly once, no callback after it;
 * - sr_result's totals equal the chunks received; the pool never holds more
 *   than max_connections; an evicted connection is the least recently used
 *   one (closed_linger 0); pages within the caps;
 * - sr_pool_close() completes what is left in ascending id order;
 * - at the end: the assemblers' bytes_delivered/skipped equal the sums over
 *   all streams, pool counters (created, closed per reason) equal what the
 *   callbacks saw, pages_in_use 0.
 * Three deliberate breaks of the core, each tried once and restored, fail
 * it within the default cases: evicting the most instead of the least
 * recently used connection; skipping one byte too many at a page limit;
 * completing an evicted connection without flushing its pages.
 * SR_PRESSURE_CASES (default 3000), SR_SEED, SR_CASE=n (one case),
 * SR_PRESSURE_DUMP=1 (print the case's events).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safereasm.h"

#define SEC SR_USEC_PER_SEC
#define MAXC 40        /* connections per case */
#define MAXL 600       /* bytes per direction */
#define MAXI 4096      /* connection instances per case */

/* ------------------------------------------------------------ random */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t below(rng *r, uint32_t n)
{
    return (uint32_t)(rnd(r) % n);
}

/* The byte sender `ep` of connection k sends at sequence number seq. */
static uint8_t wire_byte(unsigned k, int ep, uint32_t seq)
{
    uint64_t z = ((uint64_t)k << 40) ^ ((uint64_t)ep << 36) ^ seq;
    z = (z ^ (z >> 31)) * 0x7fb5d329728ea185ull;
    z = (z ^ (z >> 27)) * 0x81dadef4bc2dd44dull;
    return (uint8_t)(z >> 33);
}

/* ------------------------------------------------------------ case */

enum { EV_SEG, EV_FLUSH_OLDER, EV_FLUSH_ALL };

typedef struct ev {
    int kind;
    unsigned k;        /* connection */
    int ep;            /* 0 = A (port 1000+k), 1 = B (port 80) */
    uint32_t seq;
    uint32_t len;
    uint8_t flags;
    sr_time t;
    sr_time older;     /* EV_FLUSH_OLDER */
    uint32_t cut;      /* bytes of the payload's tail not captured (snaplen) */
} ev;

typedef struct conncfg {
    uint32_t isn[2];
    bool syn;          /* A sends a SYN first */
    uint32_t len[2];
    bool fin[2];
    bool rogue[2];     /* a FIN at a wrong place (before the end) was sent */
} conncfg;

/* Per connection instance and direction, what the model knows. */
typedef struct mdir {
    bool based;
    uint32_t base;            /* sequence number of offset 0 */
    bool synbase;
    uint8_t arrived[MAXL + 2];/* 1 arrived in an earlier call */
    sr_time arr_t[MAXL + 2];  /* when it arrived */
    uint8_t deliv[MAXL + 2];
    uint8_t claimed[MAXL + 2];/* claimed bytes taken (captured or cut off) */
    uint64_t edge;            /* delivered + skipped, from the chunks */
    uint64_t edge0;           /* edge before the current call */
    uint64_t delivered, skipped;
    uint64_t extent;          /* highest arrived offset + 1 */
    bool fin_known;
    uint64_t fin_off;
    uint64_t dropped;
    bool ended;
} mdir;

typedef struct inst {
    bool used, completed, failed;
    unsigned k;
    int client_ep;            /* which endpoint the core calls the client */
    mdir d[2];                /* by endpoint (0 = A), not by core direction */
    int reason;
    sr_time touched_seq;      /* LRU: order of the last segment taken */
    uint64_t touch;
    bool checked;             /* completion checked (after its call) */
    sr_conn_info done;        /* info handed to on_complete */
} inst;

typedef struct world {
    rng r;
    unsigned nconn;
    conncfg cc[MAXC];
    GArray *evs;
    /* options */
    sr_options opt;
    size_t max_conn;
    bool fail_cb;
    /* run */
    inst *in;                 /* by id, 1..nin */
    unsigned nin;
    uint64_t created, completed_by[SR_CLOSE_REASON_COUNT_];
    uint64_t touch_clock;
    const ev *cur;            /* event being fed */
    uint64_t case_no;
    GString *err;
    bool evict_check;
    bool dump;
    uint64_t sum_delivered, sum_skipped;
    uint64_t lim_conn, lim_total, late;  /* coverage, over all cases */
    sr_pool *pool;
    sr_assembler *as[2];      /* one or two assemblers on the pool */
    int na;
    bool aclosed[2];
    sr_time aclock[2];        /* each assembler's capture clock */
    unsigned close_at;        /* with two: the event before which as[0] closes */
    unsigned pos;             /* event being fed (last taken) */
    unsigned top_pos;         /* event of the top call */
    int depth;                /* sr_assemble calls in progress */
    bool nest;                /* on_data sometimes feeds the next event */
    uint64_t nested_ok, nested_limit;
    unsigned nested_now;      /* nested feeds during the current top call */
    bool nested_case;         /* any nested feed in this case */
    bool closing;             /* in sr_pool_close() */
    uint64_t close_last_id;   /* last id it completed */
    unsigned busy_k[4];       /* connection of each call in progress */
    unsigned latest[MAXC];    /* newest instance of each connection */
} world;

static void fail(world *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int pick(world *w, unsigned k);
static void feed(world *w, unsigned i, bool nested);
static void fail(world *w, const char *fmt, ...)
{
    if (w->err->len > 2000)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(w->err, fmt, ap);
    va_end(ap);
    g_string_append_c(w->err, '\n');
}

static void flow_of(sr_flow *f, unsigned k, int ep)
{
    uint32_t a = 0x0a000001u, b = 0x0a000002u;
    uint16_t pa = (uint16_t)(1000 + k), pb = 80;
    if (ep == 0)
        sr_flow_set_ipv4(f, g_htonl(a), pa, g_htonl(b), pb);
    else
        sr_flow_set_ipv4(f, g_htonl(b), pb, g_htonl(a), pa);
}

static int ep_of_client(const sr_conn_info *info)
{
    return info->flow.src.port == 80 ? 1 : 0;
}

/* ------------------------------------------------------------ callbacks */

/* The segment of connection k sent by ep whose call is in progress (the
 * nested one, or the top one: a nested call's callbacks may complete the
 * top call's connection), or NULL. The model learns a segment only when
 * its call returns. */
static const ev *fed_now(world *w, unsigned k, int ep)
{
    const ev *c[2] = {w->cur, w->depth > 0 ? &g_array_index(w->evs, ev, w->top_pos) : NULL};
    for (int i = 0; i < 2; i++)
        if (c[i] && c[i]->kind == EV_SEG && c[i]->k == k && c[i]->ep == ep)
            return c[i];
    return NULL;
}

static void *cb_new(void *ud, const sr_conn_info *info, void *pctx)
{
    (void)pctx;
    world *w = ud;
    if (info->id == 0 || info->id > MAXI) {
        fail(w, "new_stream: id %" PRIu64 " out of range", info->id);
        return NULL;
    }
    inst *s = &w->in[info->id];
    if (info->id > w->nin)
        w->nin = (unsigned)info->id;
    if (s->used)
        fail(w, "new_stream: id %" PRIu64 " twice", info->id);
    memset(s, 0, sizeof *s);
    s->used = true;
    s->k = info->flow.src.port == 80 ? info->flow.dst.port - 1000u : info->flow.src.port - 1000u;
    s->client_ep = ep_of_client(info);
    s->reason = -1;
    s->touch = ++w->touch_clock;
    w->created++;
    if (s->k < MAXC)
        w->latest[s->k] = (unsigned)info->id;
    if (w->dump)
        printf("    new conn %" PRIu64 " (k %u)\n", info->id, s->k);
    return s;
}

static int cb_data(void *ud, void *stream, const sr_conn_info *info, const sr_chunk *ch,
                   void *pctx)
{
    (void)pctx;
    world *w = ud;
    inst *s = stream;
    uint64_t id = (uint64_t)(s - w->in);
    if (s->completed)
        fail(w, "conn %" PRIu64 ": on_data after on_complete", id);
    if (s->failed)
        fail(w, "conn %" PRIu64 ": on_data after on_data failed", id);
    if (ch->dir != SR_DIR_CLIENT_TO_SERVER && ch->dir != SR_DIR_SERVER_TO_CLIENT) {
        fail(w, "conn %" PRIu64 ": bad dir", id);
        return 0;
    }
    int ep = ch->dir == SR_DIR_CLIENT_TO_SERVER ? s->client_ep : !s->client_ep;
    mdir *d = &s->d[ep];
    if (d->ended)
        fail(w, "conn %" PRIu64 " ep %d: chunk after END", id, ep);
    if (ch->offset != d->edge + ch->skipped)
        fail(w, "conn %" PRIu64 " ep %d: chunk at %" PRIu64 " skipped %" PRIu64
                ", edge was %" PRIu64 " (misplaced or twice)",
             id, ep, ch->offset, ch->skipped, d->edge);
    if (!d->based) {
        /* The segment being fed is the direction's first. */
        const ev *e = fed_now(w, s->k, ep);
        if (e) {
            d->based = true;
            d->synbase = (e->flags & SR_TCP_SYN) != 0;
            d->base = e->seq + (d->synbase ? 1 : 0);
        } else if (ch->len || ch->skipped) {
            fail(w, "conn %" PRIu64 " ep %d: data before any segment of the direction", id, ep);
        }
    }
    /* Nothing that had arrived may be skipped. */
    for (uint64_t o = d->edge; o < ch->offset && o <= MAXL; o++) {
        if (d->arrived[o] && !s->failed)
            fail(w, "conn %" PRIu64 " ep %d: arrived byte at offset %" PRIu64
                    " skipped (lost silently); arrived at t=%" PRId64 ", now t=%" PRId64,
                 id, ep, o, d->arr_t[o], w->cur ? w->cur->t : -1);
    }
    for (size_t i = 0; i < ch->len; i++) {
        uint64_t o = ch->offset + i;
        uint8_t want = wire_byte(s->k, ep, d->base + (uint32_t)o);
        if (ch->data[i] != want) {
            fail(w, "conn %" PRIu64 " ep %d: byte at offset %" PRIu64 " is %u, sent %u", id,
                 ep, o, ch->data[i], want);
            break;
        }
        if (o <= MAXL) {
            if (d->deliv[o])
                fail(w, "conn %" PRIu64 " ep %d: offset %" PRIu64 " twice", id, ep, o);
            d->deliv[o] = 1;
        }
    }
    if (w->dump)
        printf("    chunk conn %" PRIu64 " ep %d off %" PRIu64 " skipped %" PRIu64 " len %zu flags %x\n",
               id, ep, ch->offset, ch->skipped, ch->len, ch->flags);
    d->edge = ch->offset + ch->len;
    d->delivered += ch->len;
    d->skipped += ch->skipped;
    w->sum_delivered += ch->len;
    w->sum_skipped += ch->skipped;
    if (ch->flags & SR_CHUNK_END) {
        d->ended = true;
        const ev *e = fed_now(w, s->k, ep);
        if (!d->fin_known && e && (e->flags & SR_TCP_FIN)) {
            d->fin_known = true; /* the FIN being fed */
            d->fin_off = (uint64_t)((int64_t)(int32_t)(e->seq - d->base) + e->len);
        }
        if (!w->cc[s->k].rogue[ep] && (!d->fin_known || d->edge != d->fin_off))
            fail(w, "conn %" PRIu64 " ep %d: END at %" PRIu64 " but FIN %s at %" PRIu64, id,
                 ep, d->edge, d->fin_known ? "known" : "unknown", d->fin_off);
    }
    if (ch->flags & SR_CHUNK_CONFLICT)
        fail(w, "conn %" PRIu64 ": conflict flagged, every copy is the same", id);
    uint64_t cd = info->delivered[ch->dir], cs = info->skipped[ch->dir];
    if (cd != d->delivered || cs != d->skipped)
        fail(w, "conn %" PRIu64 " ep %d: info delivered/skipped %" PRIu64 "/%" PRIu64
                " in on_data, chunks say %" PRIu64 "/%" PRIu64,
             id, ep, cd, cs, d->delivered, d->skipped);
    if (w->nest && w->depth == 1 && below(&w->r, 6) == 0 && w->pos + 1 < w->evs->len) {
        const ev *n = &g_array_index(w->evs, ev, w->pos + 1);
        const ev *top = &g_array_index(w->evs, ev, w->top_pos);
        /* Not the top call's connection either: the model learns a
         * segment when its call returns, so it must not see the nested one
         * of a connection before the outer one. */
        if (n->kind == EV_SEG && n->k != s->k && n->k != top->k)
            feed(w, w->pos + 1, true);
    }
    if (w->fail_cb && below(&w->r, 150) == 0) {
        s->failed = true;
        return 1;
    }
    return 0;
}

static void cb_complete(void *ud, void *stream, const sr_conn_info *info, sr_close_reason why,
                        void *pctx)
{
    (void)pctx;
    world *w = ud;
    inst *s = stream;
    uint64_t id = (uint64_t)(s - w->in);
    if (s->completed)
        fail(w, "conn %" PRIu64 ": on_complete twice", id);
    s->completed = true;
    s->reason = (int)why;
    if (w->closing) {
        /* "in the order the connections were made (ascending id)" */
        if (why != SR_CLOSE_POOL_CLOSED && why != SR_CLOSE_CALLBACK_ERROR)
            fail(w, "conn %" PRIu64 ": completed %s by sr_pool_close()", id,
                 sr_close_reason_name(why));
        if (id <= w->close_last_id)
            fail(w, "sr_pool_close(): conn %" PRIu64 " completed after conn %" PRIu64, id,
                 w->close_last_id);
        w->close_last_id = id;
    }
    if (w->dump)
        printf("    complete conn %" PRIu64 " %s\n", id, sr_close_reason_name(why));
    if ((unsigned)why < SR_CLOSE_REASON_COUNT_)
        w->completed_by[why]++;
    if (s->failed && why != SR_CLOSE_CALLBACK_ERROR)
        fail(w, "conn %" PRIu64 ": on_data failed but closed %s", id, sr_close_reason_name(why));
    if (!s->failed && why == SR_CLOSE_CALLBACK_ERROR)
        fail(w, "conn %" PRIu64 ": CALLBACK_ERROR without a failure", id);
    if (why == SR_CLOSE_EVICTED && w->evict_check && !w->nested_case) {
        /* (Not checked once a nested call has run in the case: the outer
         * call's victim may be out of the table but not completed yet, and
         * a connection is touched only after its arrival checks, whose
         * callbacks may feed others first; the model does not follow.) */
        /* The least recently used open connection goes first. */
        for (unsigned j = 1; j <= w->nin; j++) {
            inst *o = &w->in[j];
            bool busy = false; /* touched by a call still in progress: its
                                  touch is not in the model yet */
            for (int b = 0; b < w->depth && b < 4; b++)
                busy |= o->k == w->busy_k[b];
            if (o->used && !o->completed && o != s && !busy && o->touch < s->touch)
                fail(w, "conn %" PRIu64 " evicted (touch %" PRIu64 ") while conn %u was used "
                        "less recently (touch %" PRIu64 ")",
                     id, s->touch, j, o->touch);
        }
    }
    s->done = *info;
}

/* The completion checks, run after the call that completed s (the model
 * learns that call's segment first). */
static void check_done(world *w, inst *s)
{
    uint64_t id = (uint64_t)(s - w->in);
    const sr_conn_info *info = &s->done;
    sr_close_reason why = (sr_close_reason)s->reason;
    s->checked = true;
    for (int ep = 0; ep < 2; ep++) {
        mdir *d = &s->d[ep];
        sr_direction dir = ep == s->client_ep ? SR_DIR_CLIENT_TO_SERVER : SR_DIR_SERVER_TO_CLIENT;
        uint64_t cd = info->delivered[dir], cs = info->skipped[dir];
        bool rogue = w->cc[s->k].rogue[ep];
        /* Every claimed byte is delivered, skipped or dropped (what
         * safereasm-pcap --verify checks): holds with any FIN. */
        uint64_t nclaimed = 0;
        for (uint64_t o = 0; o <= MAXL; o++)
            nclaimed += d->claimed[o];
        if (info->dropped[dir] < d->dropped ||
            nclaimed > cd + cs + (info->dropped[dir] - d->dropped))
            fail(w, "conn %" PRIu64 " ep %d: %" PRIu64 " distinct claimed bytes, delivered %"
                    PRIu64 " + skipped %" PRIu64 " + dropped %" PRIu64 " (%" PRIu64
                    " of them before the start)%s",
                 id, ep, nclaimed, cd, cs, info->dropped[dir], d->dropped,
                 rogue ? ", a FIN at a wrong place" : "");
        if (info->conflicts[dir])
            fail(w, "conn %" PRIu64 " ep %d: %" PRIu64 " conflicts, every copy is the same", id,
                 ep, info->conflicts[dir]);
        if (!s->failed) {
            if (cd != d->delivered || cs != d->skipped)
                fail(w, "conn %" PRIu64 " ep %d: completed with delivered/skipped %" PRIu64
                        "/%" PRIu64 ", chunks gave %" PRIu64 "/%" PRIu64,
                     id, ep, cd, cs, d->delivered, d->skipped);
            for (uint64_t o = 0; o < d->extent && o <= MAXL && !rogue; o++)
                if (d->arrived[o] && !d->deliv[o])
                    fail(w, "conn %" PRIu64 " ep %d: arrived byte at offset %" PRIu64
                            " never delivered (%s)",
                         id, ep, o, sr_close_reason_name(why));
        } else {
            /* The failing chunk was handed out; whether it counts or not,
             * nothing more was. */
            if (cd > d->delivered)
                fail(w, "conn %" PRIu64 " ep %d: delivered %" PRIu64 " after failure, chunks %"
                        PRIu64, id, ep, cd, d->delivered);
        }
        uint64_t want_extent = d->fin_known ? d->fin_off : d->extent;
        if (rogue) /* which FIN counted is not modelled: the checks above only */
            continue;
        if (cd + cs != want_extent)
            fail(w, "conn %" PRIu64 " ep %d: delivered %" PRIu64 " + skipped %" PRIu64
                    " != extent %" PRIu64 " (%s)",
                 id, ep, cd, cs, want_extent, sr_close_reason_name(why));
        if (info->dropped[dir] != d->dropped)
            fail(w, "conn %" PRIu64 " ep %d: dropped %" PRIu64 ", before-start bytes %" PRIu64,
                 id, ep, info->dropped[dir], d->dropped);
        if (why == SR_CLOSE_FIN && !(d->fin_known && d->ended))
            fail(w, "conn %" PRIu64 " ep %d: closed FIN but END not reached", id, ep);
    }
    if (info->pages_buffered)
        fail(w, "conn %" PRIu64 ": %zu pages at completion", id, info->pages_buffered);
}

/* ------------------------------------------------------------ generation */

static uint32_t pick_isn(rng *r)
{
    switch (below(r, 4)) {
    case 0: return 0;
    case 1: return UINT32_MAX - below(r, 700);
    case 2: return (uint32_t)rnd(r);
    default: return 0x7fffffffu - below(r, 700);
    }
}

static void gen_case(world *w)
{
    rng *r = &w->r;
    w->nconn = 3 + below(r, MAXC - 2);
    w->max_conn = 1 + below(r, w->nconn + 2);
    sr_options_init(&w->opt);
    w->opt.page_size = 4 + below(r, 60);
    w->opt.max_buffered_pages_total = 1 + below(r, 40);
    w->opt.max_buffered_pages_per_connection =
        1 + below(r, (uint32_t)w->opt.max_buffered_pages_total);
    if (below(r, 4) == 0)
        w->opt.max_buffered_pages_total = w->opt.max_buffered_pages_per_connection =
            1000;
    w->opt.connection_timeout = (sr_time)(2 + below(r, 20)) * SEC;
    w->opt.flush_interval = 1 + (sr_time)below(r, (uint32_t)(w->opt.connection_timeout));
    w->opt.closed_linger = below(r, 2) ? 0 : 1000 * SEC;
    w->opt.conflict_history = below(r, 2) ? 0 : 64;
    w->fail_cb = below(r, 5) == 0;
    w->evict_check = w->opt.closed_linger == 0;
    w->nest = below(r, 3) == 0;

    /* Per connection, per endpoint: segments in sending order. */
    GPtrArray *lists = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    for (unsigned k = 0; k < w->nconn; k++) {
        conncfg *c = &w->cc[k];
        c->syn = below(r, 2);
        GArray *l = g_array_new(FALSE, FALSE, sizeof(ev));
        for (int ep = 0; ep < 2; ep++) {
            c->isn[ep] = pick_isn(r);
            c->len[ep] = below(r, 4) == 0 ? 0 : below(r, MAXL);
            c->fin[ep] = below(r, 3) != 0;
        }
        if (c->syn) {
            ev e = {EV_SEG, k, 0, c->isn[0], 0, SR_TCP_SYN, 0, 0, 0};
            g_array_append_val(l, e);
        }
        /* Segments of both endpoints, cut randomly, alternating a little. */
        uint32_t pos[2] = {0, 0};
        bool done[2] = {false, false};
        uint32_t maxseg = 1 + below(r, 120);
        while (!done[0] || !done[1]) {
            int ep = done[0] ? 1 : done[1] ? 0 : (int)below(r, 2);
            uint32_t start = c->isn[ep] + (ep == 0 && c->syn ? 1 : 0);
            uint32_t want = 1 + below(r, maxseg); /* not inside MIN(): evaluated twice */
            uint32_t n = MIN(c->len[ep] - pos[ep], want);
            bool last = pos[ep] + n == c->len[ep];
            ev e = {EV_SEG, k, ep, start + pos[ep], n, SR_TCP_ACK, 0, 0, 0};
            if (n > 0 && below(r, 25) == 0)
                e.cut = 1 + below(r, n); /* cut by the snaplen, maybe to nothing */
            if (last && c->fin[ep])
                e.flags |= SR_TCP_FIN;
            if (n || (e.flags & SR_TCP_FIN))
                g_array_append_val(l, e);
            pos[ep] += n;
            if (last)
                done[ep] = true;
        }
        /* An RST: at the end (after or instead of the FINs), or in the
         * middle, at the sender's next byte then. */
        if (below(r, 5) == 0 && l->len > 0) {
            int ep = (int)below(r, 2);
            unsigned at = below(r, 2) ? l->len : below(r, l->len + 1);
            uint32_t next = c->isn[ep] + (ep == 0 && c->syn ? 1 : 0);
            for (unsigned i = 0; i < at; i++) {
                const ev *p = &g_array_index(l, ev, i);
                if (p->ep == ep && !(p->flags & SR_TCP_SYN))
                    next = p->seq + p->len;
            }
            ev e = {EV_SEG, k, ep, next, 0, SR_TCP_RST | SR_TCP_ACK, 0, 0, 0};
            g_array_insert_val(l, MAX(at, c->syn ? 1u : 0u), e);
        }
        /* A FIN at a wrong place: inside the stream, sent anywhere. */
        c->rogue[0] = c->rogue[1] = false;
        if (below(r, 6) == 0) {
            int ep = (int)below(r, 2);
            if (c->len[ep] > 1) {
                uint32_t start = c->isn[ep] + (ep == 0 && c->syn ? 1 : 0);
                ev e = {EV_SEG, k, ep, start + below(r, c->len[ep]), 0,
                        SR_TCP_FIN | SR_TCP_ACK, 0, 0, 0};
                unsigned at = (c->syn ? 1 : 0) + below(r, l->len + 1 - (c->syn ? 1 : 0));
                g_array_insert_val(l, at, e);
                c->rogue[ep] = true;
            }
        }
        /* Loss, duplication, reordering (the SYN stays first). */
        unsigned first = c->syn ? 1 : 0;
        GArray *m = g_array_new(FALSE, FALSE, sizeof(ev));
        unsigned lossp = below(r, 3) == 0 ? 0 : 4 + below(r, 20);
        for (unsigned i = 0; i < l->len; i++) {
            ev e = g_array_index(l, ev, i);
            if (i >= first && lossp && below(r, lossp) == 0)
                continue;
            g_array_append_val(m, e);
            if (i >= first && below(r, 12) == 0)
                g_array_append_val(m, e);
        }
        unsigned swaps = below(r, 3) == 0 ? 0 : below(r, m->len + 1);
        for (unsigned s = 0; s < swaps && m->len > first + 1; s++) {
            unsigned i = first + below(r, m->len - first);
            unsigned j = first + below(r, m->len - first);
            if (below(r, 2) && i + 3 < m->len)
                j = i + 1 + below(r, 3);
            ev t = g_array_index(m, ev, i);
            g_array_index(m, ev, i) = g_array_index(m, ev, j);
            g_array_index(m, ev, j) = t;
        }
        g_array_unref(l);
        g_ptr_array_add(lists, m);
    }
    /* Interleave the connections, in random bursts, with capture time. */
    w->evs = g_array_new(FALSE, FALSE, sizeof(ev));
    unsigned *at = g_new0(unsigned, w->nconn);
    unsigned left = w->nconn;
    sr_time t = 1000 * SEC;
    unsigned active = 1 + below(r, MIN(w->nconn, 8)); /* connections talking at once */
    unsigned burst = 1 + below(r, 6);
    while (left) {
        unsigned k = below(r, MIN(active, w->nconn));
        /* prefer low indexes, then open the next ones */
        for (unsigned tries = 0; tries < w->nconn && at[k] >= ((GArray *)lists->pdata[k])->len;
             tries++)
            k = (k + 1) % w->nconn;
        GArray *m = lists->pdata[k];
        if (at[k] >= m->len)
            break;
        for (unsigned b = 0; b < burst && at[k] < m->len; b++) {
            ev e = g_array_index(m, ev, at[k]++);
            uint32_t j = below(r, 100);
            if (j == 0)
                t += w->opt.connection_timeout + (sr_time)below(r, 3 * SEC);
            else if (j < 4)
                t += w->opt.flush_interval + (sr_time)below(r, SEC);
            else if (j < 6 && w->opt.flush_interval > 2)
                t += w->opt.flush_interval - 1;
            else if (j < 8)
                t -= (sr_time)below(r, 3 * SEC); /* the clock goes back */
            else
                t += (sr_time)below(r, 50000);
            e.t = t;
            g_array_append_val(w->evs, e);
            if (at[k] == m->len) {
                left--;
                if (active < w->nconn)
                    active++;
            }
        }
        uint32_t j = below(r, 300);
        if (j == 0) {
            ev f = {EV_FLUSH_ALL, 0, 0, 0, 0, 0, t, 0, 0};
            g_array_append_val(w->evs, f);
        } else if (j < 4) {
            ev f = {EV_FLUSH_OLDER, 0, 0, 0, 0, 0, t, t - (sr_time)below(r, 4 * SEC), 0};
            g_array_append_val(w->evs, f);
        }
        if (active < w->nconn && below(r, 4) == 0)
            active++;
    }
    g_free(at);
    g_ptr_array_free(lists, TRUE);
}

/* ------------------------------------------------------------ run */

/* The model learns a segment that the instance took (after the call). */
static void learn(world *w, inst *s, const ev *e, const sr_result *res, sr_time now)
{
    (void)res;
    mdir *d = &s->d[e->ep];
    uint64_t id = (uint64_t)(s - w->in);
    if (e->flags & SR_TCP_SYN) {
        if (d->based && !d->synbase)
            fail(w, "model: SYN after data in conn %" PRIu64, id);
        d->based = true;
        d->synbase = true;
        d->base = e->seq + 1;
        return;
    }
    if (e->len == 0 && !(e->flags & SR_TCP_FIN))
        return; /* a bare RST: no position, nothing to place */
    if (!d->based) {
        d->based = true;
        d->base = e->seq;
    }
    int64_t rel = (int32_t)(e->seq - d->base);
    int64_t end = rel + e->len;
    int64_t cap_end = end - e->cut; /* the rest is known missing: a gap */
    if (d->fin_known && end > (int64_t)d->fin_off && !w->cc[s->k].rogue[e->ep])
        fail(w, "model: data beyond FIN (generator bug)");
    if (rel < 0) {
        d->dropped += (uint64_t)(MIN(end, 0) - rel);
        rel = 0;
    }
    if (e->flags & SR_TCP_FIN && end >= 0 && !d->fin_known) {
        /* The generator's FIN is at the true end: nothing lies beyond it. */
        d->fin_known = true;
        d->fin_off = (uint64_t)end;
    }
    if (end > (int64_t)d->extent)
        d->extent = (uint64_t)end;
    for (int64_t o = rel; o < end && o <= MAXL; o++)
        d->claimed[o] = 1;
    for (int64_t o = rel; o < cap_end && o <= MAXL; o++) {
        if (d->arrived[o])
            continue;
        if (o < (int64_t)d->edge0)
            continue; /* skipped before it arrived: a duplicate of a gap */
        if (o < (int64_t)d->edge && !d->deliv[o]) {
            /* Skipped while this segment was being taken: allowed only
             * when the idle check on arrival had data due (it runs before
             * the segment is taken). */
            bool due = false; /* judged on the state before the call */
            for (int oe = 0; oe < 2 && !due; oe++)
                for (uint64_t q = s->d[oe].edge0; q <= MAXL; q++)
                    if (s->d[oe].arrived[q] &&
                        s->d[oe].arr_t[q] <= now - w->opt.flush_interval)
                        due = true;
            if (!due && !s->failed)
                fail(w, "conn %" PRIu64 " ep %d: byte at offset %" PRId64
                        " of the segment being fed (t=%" PRId64 " seq %u len %u) was skipped,"
                        " no flush was due (edge %" PRIu64 " -> %" PRIu64 ")",
                     id, e->ep, o, e->t, e->seq, e->len, d->edge0, d->edge);
            continue;
        }
        d->arrived[o] = 1;
        d->arr_t[o] = now; /* the assembler's clock: a page's time */
    }
}

/* Feed event i (a segment). From inside on_data (nested), the call feeds
 * another connection: the header allows it. */
static void feed(world *w, unsigned i, bool nested)
{
    const ev *e = &g_array_index(w->evs, ev, i);
    const ev *outer = w->cur;
    bool dump = w->dump;
    int ai = pick(w, e->k);
    sr_assembler *a = w->as[ai];
    sr_pool *pool = w->pool;
    /* Capture time is made monotonic per assembler. */
    if (e->t > w->aclock[ai])
        w->aclock[ai] = e->t;
    sr_time now = w->aclock[ai];
    uint8_t buf[MAXL + 4];
    /* Where each instance of this connection stood before the call. */
    for (unsigned j = 1; j <= w->nin; j++)
        if (w->in[j].used && w->in[j].k == e->k)
            for (int ep = 0; ep < 2; ep++)
                w->in[j].d[ep].edge0 = w->in[j].d[ep].edge;
    w->pos = i;
    if (!nested)
        w->top_pos = i;
    w->cur = e;
    sr_flow fl;
    flow_of(&fl, e->k, e->ep);
    for (uint32_t j = 0; j < e->len - e->cut; j++)
        buf[j] = wire_byte(e->k, e->ep, e->seq + j);
    sr_segment sg = {.seq = e->seq, .ack = 0, .flags = e->flags, .payload = buf,
                     .payload_len = e->len - e->cut, .claimed_len = e->cut ? e->len : 0,
                     .timestamp = e->t};
    sr_result res;
    if (dump)
        printf("  ev %u: t=%" PRId64 " conn %u ep %d seq %u len %u flags %x\n", i, e->t,
               e->k, e->ep, e->seq, e->len, e->flags);
    if (!nested)
        w->nested_now = 0;
    else
        w->nested_now++, w->nested_case = true;
    /* The LRU order: the core touches a connection when the segment finds
     * it, before any callback of the call runs. */
    if (w->latest[e->k] && !w->in[w->latest[e->k]].completed)
        w->in[w->latest[e->k]].touch = ++w->touch_clock;
    w->busy_k[w->depth & 3] = e->k;
    w->depth++;
    sr_error ret = sr_assemble_ex(a, &fl, &sg, NULL, &res);
    w->depth--;
    w->cur = outer;
    if (nested && ret == SR_ERR_CONNECTION_LIMIT) {
        w->nested_limit++;
        return; /* every connection left is held by this thread */
    }
    if (nested)
        w->nested_ok++;
    if (dump)
        printf("    -> %s id %" PRIu64 " status %x dropped %" PRIu64 "/%" PRIu64 "\n",
               sr_err_name(ret), res.conn_id, res.status, res.dropped[0], res.dropped[1]);
    if (ret != SR_OK && ret != SR_ERR_CALLBACK && ret != SR_ERR_CONNECTION_CLOSED)
        fail(w, "event %u: sr_assemble_ex returned %s", i, sr_err_name(ret));
    if (ret == SR_ERR_CONNECTION_CLOSED) {
        if (w->opt.closed_linger == 0)
            fail(w, "event %u: CONNECTION_CLOSED with closed_linger 0", i);
        return;
    }
    if (res.conn_id == 0 || res.conn_id > MAXI) {
        fail(w, "event %u: conn_id %" PRIu64, i, res.conn_id);
        return;
    }
    inst *s = &w->in[res.conn_id];
    if (!s->used) {
        fail(w, "event %u: conn %" PRIu64 " has no stream", i, res.conn_id);
        return;
    }
    if (s->k != e->k)
        fail(w, "event %u: conn %" PRIu64 " is connection %u, segment of %u", i,
             res.conn_id, s->k, e->k);
    int want_ep = res.dir == SR_DIR_CLIENT_TO_SERVER ? s->client_ep : !s->client_ep;
    if (want_ep != e->ep)
        fail(w, "event %u: direction mismatch", i);
    learn(w, s, e, &res, now);
    /* The result's totals are the chunks' (unless on_data failed). A nested
     * feed from a callback that ran after the result was made (an evicted
     * connection's, a sweep's) may have fed this connection since. */
    if (!s->failed && (nested || w->nested_now == 0))
        for (int ep = 0; ep < 2; ep++) {
            sr_direction dir = ep == s->client_ep ? SR_DIR_CLIENT_TO_SERVER
                                                  : SR_DIR_SERVER_TO_CLIENT;
            if (res.delivered[dir] != s->d[ep].delivered ||
                res.skipped[dir] != s->d[ep].skipped)
                fail(w, "event %u: conn %" PRIu64 " ep %d result %" PRIu64 "/%" PRIu64
                        " chunks %" PRIu64 "/%" PRIu64,
                     i, res.conn_id, ep, res.delivered[dir], res.skipped[dir],
                     s->d[ep].delivered, s->d[ep].skipped);
            if (!s->completed && !w->cc[s->k].rogue[ep] && res.dropped[dir] != s->d[ep].dropped)
                fail(w, "event %u: conn %" PRIu64 " ep %d dropped %" PRIu64 " model %"
                        PRIu64, i, res.conn_id, ep, res.dropped[dir], s->d[ep].dropped);
        }
    /* Completions are checked once the top call has returned: a connection
     * completed inside a nested call may have a segment of the outer call
     * the model has not learnt yet. */
    for (unsigned j = 1; j <= w->nin && !nested; j++)
        if (w->in[j].used && w->in[j].completed && !w->in[j].checked)
            check_done(w, &w->in[j]);
    if (res.conn_pages > w->opt.max_buffered_pages_per_connection)
        fail(w, "event %u: %zu pages > per-connection cap", i, res.conn_pages);
    sr_pool_stats ps;
    sr_pool_get_stats(pool, &ps);
    if (ps.active_connections > w->max_conn)
        fail(w, "event %u: %" PRIu64 " connections > max %zu", i, ps.active_connections,
             w->max_conn);
    for (int aj = 0; aj < w->na; aj++) {
        sr_assembler_stats as;
        sr_assembler_get_stats(w->as[aj], &as);
        if (as.pages_in_use > w->opt.max_buffered_pages_total)
            fail(w, "event %u: pages %" PRIu64 " > total cap", i, as.pages_in_use);
    }
}

/* The assembler a segment of connection k goes through: with two, mostly
 * k's own, sometimes the other (a connection changes assemblers), never a
 * closed one. */
static int pick(world *w, unsigned k)
{
    if (w->na == 1)
        return 0;
    int ai = (int)(k % 2);
    if (below(&w->r, 10) == 0)
        ai = !ai;
    if (w->aclosed[ai])
        ai = !ai;
    return ai;
}

static void run_case(world *w, uint64_t case_no, bool dump)
{
    memset(w->in, 0, sizeof *w->in * (w->nin + 1));
    w->nin = 0;
    memset(w->completed_by, 0, sizeof w->completed_by);
    w->created = 0;
    w->touch_clock = 0;
    memset(w->latest, 0, sizeof w->latest);
    w->nested_case = false;
    w->sum_delivered = w->sum_skipped = 0;
    w->cur = NULL;
    g_string_truncate(w->err, 0);
    gen_case(w);
    w->dump = dump;
    if (dump) {
        printf("case %" PRIu64 ": %u conns max_conn %zu page %zu per_conn %zu total %zu "
               "timeout %" PRId64 " flush %" PRId64 " linger %" PRId64 " cbfail %d\n",
               case_no, w->nconn, w->max_conn, w->opt.page_size,
               w->opt.max_buffered_pages_per_connection, w->opt.max_buffered_pages_total,
               w->opt.connection_timeout, w->opt.flush_interval, w->opt.closed_linger,
               w->fail_cb);
        for (unsigned i = 0; i < w->evs->len && g_getenv("SR_PRESSURE_DUMP")[0] == '2'; i++) {
            const ev *e = &g_array_index(w->evs, ev, i);
            printf("  %u: t=%" PRId64 " kind %d conn %u ep %d seq %u len %u flags %x older %"
                   PRId64 "\n",
                   i, e->t, e->kind, e->k, e->ep, e->seq, e->len, e->flags, e->older);
        }
    }

    sr_stream_factory f = {cb_new, cb_data, cb_complete, w};
    sr_error err;
    /* Every other case on a single-thread pool (SR_POOL_SINGLE_THREAD):
     * one thread here, so the same result without locks. */
    sr_pool *pool = sr_pool_new_ex(&f, w->max_conn, NULL,
                                   (case_no & 1) ? SR_POOL_SINGLE_THREAD : 0, &err);
    g_assert_nonnull(pool);
    w->pool = pool;
    w->na = below(&w->r, 3) == 0 ? 2 : 1;
    w->aclosed[0] = w->aclosed[1] = false;
    w->aclock[0] = w->aclock[1] = INT64_MIN;
    w->close_at = w->na == 2 && below(&w->r, 2) ? below(&w->r, w->evs->len + 1) : UINT32_MAX;
    for (int ai = 0; ai < w->na; ai++)
        g_assert_cmpint(sr_assembler_new(pool, &w->opt, &w->as[ai]), ==, SR_OK);
    for (unsigned i = 0; i < w->evs->len && w->err->len == 0; i++) {
        const ev *e = &g_array_index(w->evs, ev, i);
        w->cur = e;
        if (i >= w->close_at && !w->aclosed[0]) {
            /* "flush every connection holding pages this assembler buffered" */
            g_assert_cmpint(sr_assembler_close(w->as[0]), ==, SR_OK);
            w->aclosed[0] = true;
            sr_assembler_stats cs;
            sr_assembler_get_stats(w->as[0], &cs);
            if (cs.pages_in_use)
                fail(w, "event %u: %" PRIu64 " pages after sr_assembler_close()", i,
                     cs.pages_in_use);
            for (unsigned j = 1; j <= w->nin; j++)
                if (w->in[j].used && w->in[j].completed && !w->in[j].checked)
                    check_done(w, &w->in[j]);
        }
        sr_assembler *a = w->as[pick(w, below(&w->r, 2))];
        if (e->kind == EV_FLUSH_ALL || e->kind == EV_FLUSH_OLDER) {
            if (e->kind == EV_FLUSH_ALL)
                g_assert_cmpint(sr_assembler_flush_all(a, NULL, NULL), ==, SR_OK);
            else
                g_assert_cmpint(sr_assembler_flush_older_than(a, e->older, NULL, NULL, NULL),
                                ==, SR_OK);
            for (unsigned j = 1; j <= w->nin; j++)
                if (w->in[j].used && w->in[j].completed && !w->in[j].checked)
                    check_done(w, &w->in[j]);
            continue;
        }
        feed(w, i, false);
        i = w->pos; /* nested feeds may have taken the next events */
    }
    w->cur = NULL;
    w->closing = true;
    w->close_last_id = 0;
    g_assert_cmpint(sr_pool_close(pool), ==, SR_OK);
    w->closing = false;
    sr_assembler_stats as2; /* the sums over the assemblers (peaks: the max) */
    memset(&as2, 0, sizeof as2);
    for (int ai = 0; ai < w->na; ai++) {
        sr_assembler_stats x;
        sr_assembler_get_stats(w->as[ai], &x);
        as2.limit_hits_connection += x.limit_hits_connection;
        as2.limit_hits_total += x.limit_hits_total;
        as2.after_close += x.after_close;
        as2.bytes_delivered += x.bytes_delivered;
        as2.bytes_skipped += x.bytes_skipped;
        as2.pages_in_use += x.pages_in_use;
        as2.pages_peak = MAX(as2.pages_peak, x.pages_peak);
    }
    w->lim_conn += as2.limit_hits_connection;
    w->lim_total += as2.limit_hits_total;
    w->late += as2.after_close;
    sr_pool_stats ps;
    sr_pool_get_stats(pool, &ps);
    for (unsigned j = 1; j <= w->nin; j++)
        if (w->in[j].used && w->in[j].completed && !w->in[j].checked)
            check_done(w, &w->in[j]);
    if (w->err->len == 0) {
        for (unsigned j = 1; j <= w->nin; j++)
            if (w->in[j].used && !w->in[j].completed)
                fail(w, "conn %u never completed", j);
        if (ps.total_created != w->created)
            fail(w, "pool total_created %" PRIu64 ", new_stream calls %" PRIu64,
                 ps.total_created, w->created);
        uint64_t closed = 0;
        uint64_t by[SR_CLOSE_REASON_COUNT_] = {ps.closed_fin, ps.closed_rst, ps.closed_timeout,
                                               ps.closed_evicted, ps.closed_flushed,
                                               ps.closed_callback_error,
                                               ps.closed_pool_closed};
        for (int rr = 0; rr < SR_CLOSE_REASON_COUNT_; rr++) {
            closed += w->completed_by[rr];
            if (by[rr] != w->completed_by[rr])
                fail(w, "pool closed_%s %" PRIu64 ", on_complete saw %" PRIu64,
                     sr_close_reason_name((sr_close_reason)rr), by[rr], w->completed_by[rr]);
        }
        if (ps.closed != closed)
            fail(w, "pool closed %" PRIu64 ", on_complete %" PRIu64, ps.closed, closed);
        if (!w->fail_cb && (as2.bytes_delivered != w->sum_delivered ||
                            as2.bytes_skipped < w->sum_skipped))
            fail(w, "assembler delivered/skipped %" PRIu64 "/%" PRIu64 ", chunks %" PRIu64
                    "/%" PRIu64,
                 as2.bytes_delivered, as2.bytes_skipped, w->sum_delivered, w->sum_skipped);
        if (!w->fail_cb) {
            /* Skipped as counted by the assembler == the streams' skips. */
            uint64_t sk = 0;
            for (unsigned j = 1; j <= w->nin; j++)
                if (w->in[j].used)
                    sk += w->in[j].d[0].skipped + w->in[j].d[1].skipped;
            if (as2.bytes_skipped != sk)
                fail(w, "assembler bytes_skipped %" PRIu64 ", streams %" PRIu64,
                     as2.bytes_skipped, sk);
        }
        if (as2.pages_in_use != 0)
            fail(w, "%" PRIu64 " pages in use after pool close", as2.pages_in_use);
        if (as2.pages_peak > w->opt.max_buffered_pages_total)
            fail(w, "pages_peak %" PRIu64 " > cap", as2.pages_peak);
        if (ps.peak_connections > w->max_conn)
            fail(w, "peak_connections %" PRIu64 " > max", ps.peak_connections);
    }
    for (int ai = 0; ai < w->na; ai++)
        sr_assembler_free(w->as[ai]);
    sr_pool_free(pool);
    g_array_unref(w->evs);
    w->evs = NULL;
}

static void test_pressure(void)
{
    const char *cs = g_getenv("SR_PRESSURE_CASES");
    const char *one = g_getenv("SR_CASE");
    const char *sd = g_getenv("SR_SEED");
    uint64_t seed = sd ? g_ascii_strtoull(sd, NULL, 0) : 20261130;
    uint64_t n = cs ? g_ascii_strtoull(cs, NULL, 0) : 3000;
    bool dump = g_getenv("SR_PRESSURE_DUMP") != NULL;
    uint64_t lo = 0, hi = n;
    if (one) {
        lo = g_ascii_strtoull(one, NULL, 0);
        hi = lo + 1;
    }
    g_test_message("seed %" PRIu64 ", cases %" PRIu64 "..%" PRIu64, seed, lo, hi);
    world *w = g_new0(world, 1);
    w->err = g_string_new(NULL);
    w->in = g_new0(inst, MAXI + 1);
    unsigned failures = 0;
    uint64_t rst = 0;
    uint64_t evs = 0, evicted = 0, timeouts = 0, cbfail = 0, flushed = 0, fin = 0;
    for (uint64_t c = lo; c < hi; c++) {
        w->r.s = seed * 0x100000001b3ull + c * 0x9e3779b97f4a7c15ull;
        run_case(w, c, dump);
        evicted += w->completed_by[SR_CLOSE_EVICTED];
        timeouts += w->completed_by[SR_CLOSE_TIMEOUT];
        cbfail += w->completed_by[SR_CLOSE_CALLBACK_ERROR];
        flushed += w->completed_by[SR_CLOSE_FLUSHED];
        fin += w->completed_by[SR_CLOSE_FIN];
        rst += w->completed_by[SR_CLOSE_RST];
        (void)evs;
        if (w->err->len) {
            if (failures++ < 3)
                printf("FAIL case %" PRIu64 " (SR_SEED=%" PRIu64 " SR_CASE=%" PRIu64 "):\n%s",
                       c, seed, c, w->err->str);
        }
    }
    printf("pressure: %" PRIu64 " cases, %u failed; completions: fin %" PRIu64
           " evicted %" PRIu64 " timeout %" PRIu64 " flushed %" PRIu64 " callback_error %"
           PRIu64 "; limit hits: connection %" PRIu64 " total %" PRIu64 "; late %" PRIu64 "\n",
           hi - lo, failures, fin, evicted, timeouts, flushed, cbfail, w->lim_conn,
           w->lim_total, w->late);
    printf("pressure: nested feeds from on_data: %" PRIu64 " taken, %" PRIu64
           " refused at the connection limit; rst completions %" PRIu64 "\n", w->nested_ok,
           w->nested_limit, rst);
    g_string_free(w->err, TRUE);
    g_free(w->in);
    g_free(w);
    g_assert_cmpuint(failures, ==, 0);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pressure/many-connections", test_pressure);
    return g_test_run();
}
