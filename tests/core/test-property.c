/* test-property.c - property test: random small two-way streams cut into
 * random segments, shuffled, duplicated, retransmitted (sometimes with
 * different bytes), partly lost, with random ISNs (biased to the wrap),
 * SYN or not, data on SYN, FIN on data or alone, RSTs, pure ACKs, random
 * page sizes and sometimes tiny page limits; and the situations an
 * independent check found the core getting wrong (issue 7):
 * - late and duplicated SYN / SYN-ACK / FIN / RST, also after completion,
 *   and late SYNs (seq = stream start - 1) for directions seen without one;
 * - a direction seen without SYN whose first segment is not its lowest
 *   (the bytes before that start must be counted as dropped);
 * - a SYN-ACK with a bogus ISN before the real one, then the client's ACK
 *   of the real one (TCP Fast Open capture);
 * - clock jumps: timestamps going back, forward past flush_interval, and
 *   forward past connection_timeout (the connection times out when its
 *   next segment arrives, which then starts a new one);
 * - on_data returning nonzero at a random chunk, or during the final flush;
 * - port reuse: a SYN with a far ISN after completion;
 * - the client's SYN lost from the capture: the SYN-ACK comes first and
 *   its acknowledgement number says where the client's stream starts, so
 *   the client's bytes are placed from there in whatever order they come
 *   (the live test found the core starting such a direction at its first
 *   data segment and dropping the earlier bytes that came after it); all
 *   SYN-ACKs carry that acknowledgement number;
 * - a random overlap_policy (all six; issue 9), and retransmissions shaped
 *   around an earlier segment (starting before, at or after it, ending
 *   before, at or beyond it) with many different bytes, so that overlaps
 *   with buffered data are resolved differently by the policies.
 * At least 100,000 cases per run (SR_PROPERTY_CASES), seeded from SR_SEED
 * (printed; a fixed default); SR_CASE=n runs case n only;
 * SR_PROPERTY_FEATURES=late,reorder,bogus,back,flushjump,timeout,cbfail,
 * cbflush,reuse,policy,shapes,synlost (or "none", or "all", the default) picks the
 * new situations, to tell which one a failure needs (without "policy" every
 * case runs the default policy, first); SR_PROPERTY_POLICY=name runs every
 * case under one policy; SR_PROPERTY_DUMP=1 prints each case.
 *
 * The reference model is written from the contract (safereasm.h and issue
 * 7 and 9), not from the code: per connection and sending endpoint it
 * tracks the stream start (ISN+1, or what the other side's SYN-ACK
 * acknowledges, or the first data or FIN segment seen),
 * which bytes arrived at or after it, the copy each holds now and the
 * extents of the segment that first wrote it (the header's "segment that
 * wrote the buffered bytes", as it arrived: a copy that wins later does not
 * become the writer), the contiguous edge, which later copies differed, and
 * the bytes that arrived before the start. Per byte, a later copy at or
 * beyond the edge (buffered) replaces the held one when the policy's rule
 * says so; one below the edge (delivered) never does. It
 * predicts, segment by segment, whether the segment is taken by the open
 * connection, refused as late (SR_ERR_CONNECTION_CLOSED), or starts a new
 * connection (after an idle timeout, or port reuse), and when and why each
 * connection completes. Checked for every case:
 * - every call's outcome and close reason as predicted; page limits hold;
 * - per segment: bytes before the start are reported (SR_SEG_DROPPED |
 *   SR_SEG_BEFORE_START, sr_result.dropped exact), none otherwise;
 * - per connection, in creation order: orientation; every delivered byte is
 *   the copy the policy kept at its offset (after a limit hit or a flush
 *   jump, under a policy other than first: one of the copies that arrived
 *   there), none invented, misplaced or delivered twice; conservation
 *   delivered + skipped == highest offset reached;
 *   every distinct captured byte delivered, skipped or dropped; dropped and
 *   dropped_segments exact; the close reason (CALLBACK_ERROR whenever
 *   on_data failed);
 * - without a limit hit, flush-interval jump or callback failure: every
 *   arrived byte delivered, skipped bytes exactly the holes, byte-exact
 *   delivery when nothing was lost, FIN completion exactly when the model
 *   says so, SR_CHUNK_CONFLICT where conflicts are, conflicts counted
 *   exactly (one per segment with a byte that differs from the buffered
 *   copy, or from the delivered one while conflict_history remembers it,
 *   whichever copy wins);
 * - START/END flags, pages back to 0, pool and assembler counters;
 * - coverage, per policy: overlaps with buffered bytes that the six
 *   policies resolve differently, won and lost, in connections checked
 *   byte for byte.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sr-test-util.h"

#define MAXL 160     /* max bytes per direction */
#define MAXSEG 720
#define MAXCONN 16
#define NCOPY 4      /* distinct copies of a byte remembered */
G_STATIC_ASSERT(MAXL <= UINT8_MAX); /* segment extents fit the model's uint8_t */
#define SEC SR_USEC_PER_SEC
#define T0 (42 * SEC)
#define TIMEOUT (120 * SEC)
#define FLUSH_IV (10 * SEC)
#define LINGER (100000 * SEC) /* longer than any case: late segments stay late */

/* Segment kinds. Positions (off) are offsets in the sender's original byte
 * sequence: offset 0 is ISN+1 with a SYN, else the ISN itself. */
enum {
    K_DATA = 0,   /* data and/or FIN (FIN alone: len 0) */
    K_SYN,        /* the SYN or SYN-ACK (data on SYN from offset 0) */
    K_PURE_ACK,
    K_RST,
    K_LATE_SYN,   /* SYN (or SYN-ACK) at stream start - 1, seq chosen when fed */
    K_REUSE_SYN,  /* SYN with a far ISN: port reuse once completed */
    K_BOGUS,      /* SYN-ACK with a bogus ISN, before the real one */
    K_ISN_ACK,    /* client ACK acknowledging the real SYN-ACK */
};

/* The situations of issue 7, selectable with SR_PROPERTY_FEATURES. */
enum {
    F_LATE = 1 << 0,
    F_REORDER = 1 << 1,
    F_BOGUS = 1 << 2,
    F_BACK = 1 << 3,
    F_FLUSHJ = 1 << 4,
    F_TIMEOUTJ = 1 << 5,
    F_CBFAIL = 1 << 6,
    F_CBFLUSH = 1 << 7,
    F_REUSE = 1 << 8,
    F_POLICY = 1 << 9,
    F_SHAPES = 1 << 10,
    F_SYNLOST = 1 << 11,
    F_ALL = (1 << 12) - 1,
};
static const char *const feature_names[] = {"late",   "reorder", "bogus", "back",
                                            "flushjump", "timeout", "cbfail", "cbflush",
                                            "reuse",  "policy",  "shapes", "synlost"};

typedef struct pseg {
    uint8_t ep;       /* 0 = A, 1 = B */
    uint8_t kind;     /* K_* */
    uint8_t flags;    /* SR_TCP_* (late SYNs: chosen when fed) */
    bool fin;         /* FIN after its data */
    uint32_t off, len;
    uint8_t data[MAXL];
} pseg;

typedef struct model_dir {
    bool started, syn_seen;
    bool start_known;       /* started by the other side's SYN-ACK */
    bool bogus;             /* started by the bogus SYN-ACK, real ISN not yet acked */
    uint32_t base;          /* original offset of stream offset 0 */
    bool arrived[MAXL];
    uint8_t copy[MAXL];     /* the copy held now (once delivered: for good) */
    uint8_t ws[MAXL], we[MAXL]; /* extents of the segment that first wrote it */
    uint8_t cs[MAXL], ce[MAXL]; /* ... of the one whose copy is held (coverage) */
    uint8_t ncopies[MAXL];  /* distinct copies that arrived (NCOPY+1: more) */
    uint8_t copies[MAXL][NCOPY];
    bool conflict[MAXL];
    uint32_t edge;          /* contiguous arrived prefix end (original offset) */
    bool fin_arrived;
    unsigned nconflicts;    /* segments with a conflicting byte */
    unsigned disc_won, disc_lost; /* byte overlaps the policies resolve
                                     differently: the new copy won / lost */
    unsigned owner_sens;    /* ... where the writer's extents and the held
                               copy's disagree about the winner */
    bool before[MAXL];      /* distinct bytes seen before the start */
    uint64_t drop_bytes, drop_segs;
} model_dir;

/* One connection as the model sees it; index = creation order. */
typedef struct mconn {
    uint64_t id;
    int client;             /* endpoint that is the client */
    bool open;
    int reason;             /* expected close reason once closed */
    bool hazard;            /* limit hit or flush-interval jump: delivery not exact */
    bool rst_closed_ep[2];  /* closed by an RST from this endpoint */
    sr_time last_seen;
    model_dir m[2];         /* per endpoint */
} mconn;

typedef struct cbctl {
    unsigned count;         /* on_data calls so far */
    unsigned fail_at;       /* fail the first armed call >= this (0 = never) */
    bool armed;
    srt_stream *failed;     /* the stream whose callback failed */
    bool fired_now;         /* ... during the current call */
} cbctl;

typedef struct pcase {
    unsigned features;
    bool syn[2], fin[2];
    uint32_t isn[2], L[2], bogus_isn;
    uint8_t orig[2][MAXL];
    pseg *segs;             /* generated */
    unsigned nsegs;
    unsigned *order;        /* feeding order (indices), lost ones absent */
    sr_time *jump, *back;   /* per order position: forward jump before it, and
                               how far its own timestamp lies in the past */
    unsigned norder;
    bool lost_any, conflicts_made, bogus, cbflush;
    bool synlost;           /* A's SYN never fed (F_SYNLOST) */
    sr_overlap_policy policy;
    unsigned cb_fail_at;
    size_t page_size, per, total;
    size_t history;         /* conflict_history: 0 or the default */
    mconn conns[MAXCONN];
    unsigned nconns;
    bool first_base_known[2];
    uint32_t first_base[2];
    int force_policy;       /* SR_PROPERTY_POLICY, or -1 */
    unsigned isn_switches;
    cbctl cb;
} pcase;

static unsigned parse_features(void)
{
    const char *v = g_getenv("SR_PROPERTY_FEATURES");
    if (!v || !*v || strcmp(v, "all") == 0)
        return F_ALL;
    unsigned f = 0;
    gchar **parts = g_strsplit(v, ",", -1);
    for (gchar **p = parts; *p; p++) {
        bool found = strcmp(*p, "none") == 0;
        for (unsigned i = 0; i < G_N_ELEMENTS(feature_names); i++)
            if (strcmp(*p, feature_names[i]) == 0) {
                f |= 1u << i;
                found = true;
            }
        if (!found)
            g_error("SR_PROPERTY_FEATURES: unknown feature '%s'", *p);
    }
    g_strfreev(parts);
    return f;
}

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

static pseg *add_seg(pcase *c, uint8_t ep, uint8_t kind, uint8_t flags)
{
    g_assert_cmpuint(c->nsegs, <, MAXSEG);
    pseg *s = &c->segs[c->nsegs++];
    memset(s, 0, offsetof(pseg, data));
    s->ep = ep;
    s->kind = kind;
    s->flags = flags;
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

static void put(pcase *c, unsigned i)
{
    g_assert_cmpuint(c->norder, <, MAXSEG);
    c->order[c->norder++] = i;
}

/* Insert segment i at a random feeding position >= from. */
static void insert_at(pcase *c, srt_rng *r, unsigned i, unsigned from)
{
    g_assert_cmpuint(c->norder, <, MAXSEG);
    if (from > c->norder)
        from = c->norder;
    unsigned at = from + srt_below(r, c->norder - from + 1);
    memmove(&c->order[at + 1], &c->order[at], (c->norder - at) * sizeof *c->order);
    c->order[at] = i;
    c->norder++;
}

/* A copy of a random segment of the given kind (and FIN-ness), or NULL. */
static pseg *dup_of(pcase *c, srt_rng *r, int kind, bool need_fin)
{
    unsigned n = 0, base = c->nsegs;
    for (unsigned i = 0; i < base; i++)
        n += (kind < 0 || c->segs[i].kind == kind) && (!need_fin || c->segs[i].fin);
    if (n == 0)
        return NULL;
    unsigned pick = srt_below(r, n);
    for (unsigned i = 0; i < base; i++) {
        const pseg *s = &c->segs[i];
        if (!((kind < 0 || s->kind == kind) && (!need_fin || s->fin)))
            continue;
        if (pick-- == 0) {
            if (s->kind != K_DATA && s->kind != K_SYN && s->kind != K_PURE_ACK &&
                s->kind != K_RST)
                return NULL;
            pseg *d = add_seg(c, 0, 0, 0);
            memcpy(d, s, sizeof *d);
            return d;
        }
    }
    return NULL;
}

static void generate(pcase *c, srt_rng *r)
{
    const unsigned F = c->features;
    c->nsegs = 0;
    c->lost_any = c->conflicts_made = c->bogus = c->cbflush = c->synlost = false;
    c->cb_fail_at = 0;
    bool drop_mode = srt_below(r, 3) == 0;
    bool conflict_mode = srt_below(r, 4) == 0;
    c->policy = c->force_policy >= 0           ? (sr_overlap_policy)c->force_policy
                : (F & F_POLICY)               ? (sr_overlap_policy)srt_below(r, SR_POLICY_COUNT_)
                                               : SR_POLICY_FIRST;
    bool shape_mode = (F & F_SHAPES) && srt_below(r, 3) != 0;

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
    /* The bogus ISN lies about 2^31 from the real one: the real data is far
     * out of window or before the start, whichever way the core looks. */
    c->bogus = (F & F_BOGUS) && c->syn[0] && c->syn[1] && srt_below(r, 4) == 0;
    c->bogus_isn = c->isn[1] + 0x80000000u + srt_below(r, 1u << 28) - (1u << 27);

    int natural_start[2] = {-1, -1};
    for (uint8_t e = 0; e < 2; e++) {
        uint32_t L = c->L[e];
        bool sends = c->syn[e] || L > 0 || c->fin[e];
        if (!sends)
            continue;
        natural_start[e] = (int)c->nsegs;
        uint32_t pos = 0;
        pseg *last = NULL;
        if (c->syn[e]) {
            pseg *s = add_seg(c, e, K_SYN, e == 0 ? SR_TCP_SYN : SR_TCP_SYN | SR_TCP_ACK);
            if (L > 0 && srt_below(r, 4) == 0) { /* data on the SYN */
                s->len = 1 + srt_below(r, MIN(L, 20u));
                fill(c, s, r, false);
                pos = s->len;
            }
            last = s;
        }
        uint32_t maxseg = 1 + srt_below(r, 40);
        while (pos < L) {
            pseg *s = add_seg(c, e, K_DATA, SR_TCP_ACK);
            s->off = pos;
            uint32_t want = 1 + srt_below(r, maxseg); /* not inside MIN(): once */
            s->len = MIN(want, L - pos);
            fill(c, s, r, false);
            pos += s->len;
            last = s;
        }
        if (c->fin[e]) {
            if (last && last->kind != K_SYN && srt_below(r, 2)) {
                last->fin = true;
                last->flags |= SR_TCP_FIN;
            } else {
                pseg *s = add_seg(c, e, K_DATA, SR_TCP_ACK | SR_TCP_FIN);
                s->fin = true;
                s->off = L;
            }
        }
        /* Retransmissions of random ranges, some with different bytes. */
        unsigned nre = L ? srt_below(r, L / 8 + 3) : 0;
        for (unsigned i = 0; i < nre; i++) {
            pseg *s = add_seg(c, e, K_DATA, SR_TCP_ACK);
            s->off = srt_below(r, L);
            uint32_t want = 1 + srt_below(r, 30);
            s->len = MIN(want, L - s->off);
            fill(c, s, r, conflict_mode && srt_below(r, 3) == 0);
        }
        /* Retransmissions shaped around an earlier data segment [a, b):
         * starting before, at or after a, ending before, at or beyond b,
         * with about half of the bytes different, so that where a arrived
         * first and is still buffered, the policies disagree. */
        unsigned nshape = shape_mode && L ? 1 + srt_below(r, 10) : 0;
        unsigned base_segs = c->nsegs;
        for (unsigned i = 0; i < nshape; i++) {
            unsigned n = 0;
            for (unsigned j = natural_start[e]; j < base_segs; j++)
                n += c->segs[j].len > 0;
            if (n == 0)
                break;
            unsigned pick = srt_below(r, n);
            const pseg *o = NULL;
            for (unsigned j = natural_start[e]; j < base_segs && !o; j++)
                if (c->segs[j].len > 0 && pick-- == 0)
                    o = &c->segs[j];
            int64_t a = o->off, b = (int64_t)o->off + o->len;
            int64_t ns = a + (int64_t)srt_below(r, 3) - 1, ne = b + (int64_t)srt_below(r, 3) - 1;
            ns += ns < a ? -(int64_t)srt_below(r, 4) : ns > a ? (int64_t)srt_below(r, 4) : 0;
            ne += ne < b ? -(int64_t)srt_below(r, 4) : ne > b ? (int64_t)srt_below(r, 4) : 0;
            ns = MAX(ns, 0);
            ne = MIN(ne, (int64_t)L);
            if (ns >= ne)
                continue;
            pseg *s = add_seg(c, e, K_DATA, SR_TCP_ACK);
            s->off = (uint32_t)ns;
            s->len = (uint32_t)(ne - ns);
            memcpy(s->data, c->orig[e] + s->off, s->len);
            for (uint32_t k = 0; k < s->len; k++)
                if (srt_below(r, 2)) {
                    s->data[k] ^= (uint8_t)(1 + srt_below(r, 255));
                    c->conflicts_made = true;
                }
        }
        /* Pure ACKs at plausible positions. */
        unsigned nack = srt_below(r, 3);
        for (unsigned i = 0; i < nack; i++) {
            pseg *s = add_seg(c, e, K_PURE_ACK, SR_TCP_ACK);
            s->off = srt_below(r, L + 1);
        }
    }
    /* The real SYN-ACK after a bogus one carries no data (what happens to
     * data the core cannot place yet is not this test's business). */
    if (c->bogus && c->segs[natural_start[1]].len > 0)
        c->bogus = false;
    c->synlost = (F & F_SYNLOST) && c->syn[0] && c->syn[1] && !c->bogus && srt_below(r, 3) == 0;
    /* Exact duplicates of random segments (SYNs and FINs included). */
    unsigned ndup = srt_below(r, 5);
    for (unsigned i = 0; i < ndup && c->nsegs; i++)
        dup_of(c, r, -1, false);

    /* The first segment seen of each endpoint: its offset-0 segment (the
     * SYN when it has one), or with F_REORDER sometimes any of its data or
     * FIN segments, so that the lower ones come after the start. */
    int start_of[2] = {natural_start[0], natural_start[1]};
    for (int e = 0; e < 2; e++) {
        if (c->syn[e] || start_of[e] < 0 || !(F & F_REORDER) || srt_below(r, 3) != 0)
            continue;
        unsigned n = 0;
        for (unsigned i = 0; i < c->nsegs; i++)
            n += c->segs[i].ep == e && c->segs[i].kind == K_DATA;
        unsigned pick = srt_below(r, n);
        for (unsigned i = 0; i < c->nsegs; i++)
            if (c->segs[i].ep == e && c->segs[i].kind == K_DATA && pick-- == 0)
                start_of[e] = (int)i;
    }

    /* Order: shuffle, then each endpoint's start before anything else of
     * it; with only A's SYN, that SYN first of all; with the bogus SYN-ACK:
     * SYN, bogus SYN-ACK, real SYN-ACK, client ACK of the real ISN first;
     * pure ACKs only once every sending endpoint has started. */
    unsigned n0 = c->nsegs;
    unsigned *tmp = g_newa(unsigned, n0);
    for (unsigned i = 0; i < n0; i++)
        tmp[i] = i;
    for (unsigned i = n0; i > 1; i--) {
        unsigned j = srt_below(r, i);
        unsigned t = tmp[i - 1];
        tmp[i - 1] = tmp[j];
        tmp[j] = t;
    }
    bool *emitted = g_newa(bool, n0);
    memset(emitted, 0, n0 * sizeof *emitted);
    bool started[2] = {start_of[0] < 0, start_of[1] < 0}; /* silent = "started" */
    unsigned *deferred = g_newa(unsigned, n0);
    unsigned ndef = 0;
    c->norder = 0;
    unsigned prefix = 0;
    if (c->bogus) {
        put(c, (unsigned)start_of[0]);
        pseg *b = add_seg(c, 1, K_BOGUS, SR_TCP_SYN | SR_TCP_ACK);
        put(c, (unsigned)(b - c->segs));
        put(c, (unsigned)start_of[1]);
        pseg *ack = add_seg(c, 0, K_ISN_ACK, SR_TCP_ACK);
        ack->off = c->segs[start_of[0]].len;
        put(c, (unsigned)(ack - c->segs));
        emitted[start_of[0]] = emitted[start_of[1]] = true;
        started[0] = started[1] = true;
        prefix = 4;
    } else if (c->synlost) {
        /* A's SYN is lost (its data with it); B's SYN-ACK comes first, and
         * A's segments in any order after it. */
        emitted[natural_start[0]] = true;
        c->lost_any |= c->segs[natural_start[0]].len > 0;
        put(c, (unsigned)start_of[1]);
        emitted[start_of[1]] = true;
        started[0] = started[1] = true;
        prefix = 1;
    } else if (c->syn[0] && !c->syn[1]) {
        put(c, (unsigned)start_of[0]);
        emitted[start_of[0]] = true;
        started[0] = true;
    }
    for (unsigned k = 0; k < n0; k++) {
        unsigned i = tmp[k];
        pseg *s = &c->segs[i];
        if (emitted[i])
            continue;
        if (s->kind == K_PURE_ACK && !(started[0] && started[1])) {
            deferred[ndef++] = i;
            continue;
        }
        if (!started[s->ep]) {
            put(c, (unsigned)start_of[s->ep]);
            emitted[start_of[s->ep]] = true;
            started[s->ep] = true;
            if ((int)i == start_of[s->ep])
                continue;
        }
        if (drop_mode && srt_below(r, 7) == 0) {
            c->lost_any = true;
            continue;
        }
        put(c, i);
    }
    for (unsigned k = 0; k < ndef; k++)
        put(c, deferred[k]);
    /* Sometimes an RST at the very end, from a sending endpoint. */
    if (srt_below(r, 10) == 0) {
        uint8_t e = natural_start[1] >= 0 && srt_below(r, 2) ? 1 : 0;
        if (natural_start[e] >= 0) {
            pseg *s = add_seg(c, e, K_RST, SR_TCP_RST | SR_TCP_ACK);
            s->off = c->L[e] + (c->fin[e] ? 1u : 0u);
            put(c, (unsigned)(s - c->segs));
        }
    }
    if (F & F_LATE) {
        /* Late SYNs anywhere after the first segment (or the prefix)... */
        unsigned nlate = srt_below(r, 3);
        for (unsigned i = 0; i < nlate; i++) {
            pseg *s = add_seg(c, (uint8_t)srt_below(r, 2), K_LATE_SYN, 0);
            insert_at(c, r, (unsigned)(s - c->segs), MAX(prefix, 1u));
        }
        /* ...and a tail after everything: late SYNs, duplicated FINs and
         * RSTs, duplicates of anything. */
        unsigned ntail = srt_below(r, 5);
        for (unsigned i = 0; i < ntail; i++) {
            pseg *s = NULL;
            switch (srt_below(r, 4)) {
            case 0: s = add_seg(c, (uint8_t)srt_below(r, 2), K_LATE_SYN, 0); break;
            case 1: s = dup_of(c, r, K_DATA, true); break;
            case 2: s = dup_of(c, r, K_RST, false); break;
            default: s = dup_of(c, r, -1, false); break;
            }
            if (s)
                put(c, (unsigned)(s - c->segs));
        }
    }
    if ((F & F_REUSE) && srt_below(r, 6) == 0) {
        pseg *s = add_seg(c, 0, K_REUSE_SYN, SR_TCP_SYN);
        s->off = srt_below(r, 1u << 29);
        put(c, (unsigned)(s - c->segs));
    }

    /* Clock jumps, never inside the bogus prefix: timestamps going back
     * (up to 100 s), forward jumps past flush_interval but well below the
     * timeout (two at most: their sum stays below it), and one past the
     * timeout. */
    memset(c->jump, 0, c->norder * sizeof *c->jump);
    memset(c->back, 0, c->norder * sizeof *c->back);
    unsigned from = MAX(prefix, 1u);
    if (c->norder > from) {
        unsigned span = c->norder - from;
        if (F & F_BACK) {
            unsigned n = srt_below(r, 4);
            for (unsigned i = 0; i < n; i++)
                c->back[from + srt_below(r, span)] = 1 + (sr_time)srt_below(r, 100 * SEC);
        }
        if ((F & F_FLUSHJ) && srt_below(r, 3) == 0) {
            unsigned n = 1 + srt_below(r, 2);
            for (unsigned i = 0; i < n; i++)
                c->jump[from + srt_below(r, span)] = 15 * SEC + (sr_time)srt_below(r, 35 * SEC);
        }
        if ((F & F_TIMEOUTJ) && srt_below(r, 4) == 0)
            c->jump[from + srt_below(r, span)] = 130 * SEC + (sr_time)srt_below(r, 70 * SEC);
    }
    if ((F & F_CBFAIL) && srt_below(r, 5) == 0)
        c->cb_fail_at = 1 + srt_below(r, 12);
    else if ((F & F_CBFLUSH) && srt_below(r, 5) == 0)
        c->cbflush = true;
}

/* ------------------------------------------------------------ model */

/* The header's rules: does a new segment [ns, ne) take a buffered byte
 * from the segment [os, oe) that wrote it? Offsets as the segments arrived.
 *   FIRST      never
 *   BSD        it starts before the old
 *   LINUX      ... or starts at the same place and ends beyond it
 *   OLD_LINUX  ... or starts at the same place and ends at or beyond it
 *   SOLARIS    it ends beyond the old, or ends at the same place and does
 *              not start after it
 *   LAST       always */
static bool model_new_wins(sr_overlap_policy p, int ns, int ne, int os, int oe)
{
    const bool starts_before = ns < os, starts_same = ns == os, starts_after = ns > os;
    const bool ends_beyond = ne > oe, ends_same = ne == oe;
    switch (p) {
    case SR_POLICY_FIRST: return false;
    case SR_POLICY_BSD: return starts_before;
    case SR_POLICY_LINUX: return starts_before || (starts_same && ends_beyond);
    case SR_POLICY_OLD_LINUX: return starts_before || (starts_same && (ends_beyond || ends_same));
    case SR_POLICY_SOLARIS: return ends_beyond || (ends_same && !starts_after);
    case SR_POLICY_LAST: return true;
    default: g_error("policy %d", (int)p);
    }
}

static void note_copy(model_dir *m, uint32_t o, uint8_t v)
{
    if (m->ncopies[o] > NCOPY)
        return;
    for (unsigned i = 0; i < m->ncopies[o]; i++)
        if (m->copies[o][i] == v)
            return;
    if (m->ncopies[o] < NCOPY)
        m->copies[o][m->ncopies[o]] = v;
    m->ncopies[o]++;
}

static uint32_t seq_of(const pcase *c, int e, uint32_t off)
{
    return c->isn[e] + (c->syn[e] ? 1u : 0u) + off;
}

/* Take segment s (sender e, its data at original offset pos) into the open
 * connection mc. Returns the bytes it carries before the direction's
 * start, which must be dropped. */
static uint32_t model_take(pcase *c, mconn *mc, const pseg *s, int e, uint32_t pos,
                           uint8_t flags)
{
    model_dir *m = &mc->m[e];
    const bool syn = flags & SR_TCP_SYN;
    if ((flags & (SR_TCP_SYN | SR_TCP_ACK)) == (SR_TCP_SYN | SR_TCP_ACK) &&
        !mc->m[1 - e].started && seq_of(c, 1 - e, 0) != 0) {
        /* The SYN-ACK acknowledges the other side's ISN + 1: that side's
         * stream starts there (original offset 0), SYN seen or not. An
         * acknowledgement number of 0 means "not known" (safereasm.h). */
        model_dir *o = &mc->m[1 - e];
        o->started = o->start_known = true;
        o->base = o->edge = 0;
        if (!c->first_base_known[1 - e]) {
            c->first_base_known[1 - e] = true;
            c->first_base[1 - e] = 0;
        }
    }
    switch (s->kind) {
    case K_BOGUS:
        if (!m->started)
            m->started = m->syn_seen = m->bogus = true;
        return 0;
    case K_REUSE_SYN:
        /* Starts a direction far from the original bytes: none follow. */
        if (!m->started) {
            m->started = m->syn_seen = true;
            m->base = m->edge = c->L[e];
        }
        return 0;
    case K_ISN_ACK:
        /* The client acknowledges the real ISN while the server direction
         * has delivered, skipped and buffered nothing: the real ISN wins. */
        if (mc->m[1].bogus) {
            mc->m[1].bogus = false;
            mc->m[1].base = mc->m[1].edge = 0;
            c->isn_switches++;
        }
        break;
    default:
        break;
    }
    if (m->bogus) {
        /* Only the real SYN-ACK comes between the bogus one and the ACK. */
        g_assert_cmpint(s->kind, ==, K_SYN);
        return 0;
    }
    if (!m->started) {
        if (!syn && s->len == 0 && !s->fin)
            return 0; /* a bare ACK or RST gives no position */
        m->started = true;
        m->syn_seen = syn;
        m->base = m->edge = pos;
        if (!c->first_base_known[e]) {
            c->first_base_known[e] = true;
            c->first_base[e] = pos;
        }
    }
    uint32_t edge_before = m->edge, drop = 0;
    const int ns = (int)pos, ne = (int)(pos + s->len);
    bool seg_conflict = false;
    for (uint32_t i = 0; i < s->len; i++) {
        uint32_t o = pos + i;
        const uint8_t v = s->data[i];
        if (o < m->base) {
            drop++;
            m->before[o] = true;
            continue;
        }
        if (o < edge_before) {
            /* Delivered already, never changes: with conflict_history (the
             * default, larger than MAXL here) the core compares with the
             * delivered bytes it remembers and counts the conflict, but no
             * chunk can carry the flag; with conflict_history 0 it cannot
             * tell. */
            if (c->history && m->copy[o] != v)
                seg_conflict = true;
            continue;
        }
        note_copy(m, o, v);
        if (!m->arrived[o]) {
            m->arrived[o] = true;
            m->copy[o] = v;
            m->ws[o] = m->cs[o] = (uint8_t)ns;
            m->we[o] = m->ce[o] = (uint8_t)ne;
            continue;
        }
        if (m->copy[o] == v)
            continue;
        /* Buffered, and different: a conflict whichever copy wins. */
        seg_conflict = true;
        m->conflict[o] = true;
        const bool wins = model_new_wins(c->policy, ns, ne, m->ws[o], m->we[o]);
        unsigned nwin = 0;
        for (int p = 0; p < SR_POLICY_COUNT_; p++)
            nwin += model_new_wins((sr_overlap_policy)p, ns, ne, m->ws[o], m->we[o]);
        if (nwin > 1 && nwin < SR_POLICY_COUNT_ - 1) {
            /* Beyond first and last, the policies disagree here. */
            if (wins)
                m->disc_won++;
            else
                m->disc_lost++;
        }
        if (wins != model_new_wins(c->policy, ns, ne, m->cs[o], m->ce[o]))
            m->owner_sens++;
        if (wins) {
            m->copy[o] = v;
            m->cs[o] = (uint8_t)ns;
            m->ce[o] = (uint8_t)ne;
        }
    }
    if (seg_conflict)
        m->nconflicts++;
    while (m->edge < c->L[s->ep] && m->arrived[m->edge])
        m->edge++;
    if (s->fin)
        m->fin_arrived = true;
    if (drop) {
        m->drop_bytes += drop;
        m->drop_segs++;
    }
    return drop;
}

static bool model_fin_done(const pcase *c, const mconn *mc, int e)
{
    const model_dir *m = &mc->m[e];
    return m->started && !m->bogus && m->fin_arrived && m->edge == c->L[e];
}

typedef struct expect_ud {
    const pcase *c;
    const mconn *mc;
    int e;
} expect_ud;

static uint8_t model_byte(void *ud, uint64_t o)
{
    const expect_ud *x = ud;
    const model_dir *m = &x->mc->m[x->e];
    uint64_t g = o + m->base;
    if (g >= x->c->L[x->e] || !m->arrived[g])
        g_error("byte delivered at stream offset %" G_GUINT64_FORMAT " (original %" G_GUINT64_FORMAT
                ") that never arrived there (sender %c)",
                o, g, x->e ? 'B' : 'A');
    return m->copy[g];
}

/* After a limit hit or a flush jump the core may deliver a byte before the
 * model's edge reaches it: it is then one of the copies that arrived. */
static bool model_byte_any(void *ud, uint64_t o, uint8_t v)
{
    const expect_ud *x = ud;
    const model_dir *m = &x->mc->m[x->e];
    uint64_t g = o + m->base;
    if (g >= x->c->L[x->e] || !m->arrived[g])
        return false;
    if (m->ncopies[g] > NCOPY)
        return true; /* too many copies to remember */
    for (unsigned i = 0; i < m->ncopies[g]; i++)
        if (m->copies[g][i] == v)
            return true;
    return false;
}

static int fail_hook(srt_recorder *r, srt_stream *s, const sr_conn_info *info, const sr_chunk *ch,
                     void *ctx)
{
    (void)info, (void)ch, (void)ctx;
    cbctl *k = r->hook_data;
    k->count++;
    if (k->armed && k->fail_at && k->count >= k->fail_at && !k->failed) {
        k->failed = s;
        k->fired_now = true;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ one case */

static unsigned stat_limit_cases, stat_lost_cases, stat_conflict_cases, stat_fin_cases, stat_synlost;
static unsigned stat_late_nosyn, stat_after_close, stat_before, stat_bogus, stat_cbfail,
    stat_cbflush, stat_timeout, stat_flushj, stat_back, stat_reuse, stat_multi, stat_reorder;

/* Per policy: cases; cases with byte overlaps the policies resolve
 * differently in connections checked byte for byte; such overlaps the new
 * copy won and lost; cases where the writer's extents decided otherwise
 * than the held copy's would have. */
static unsigned stat_pol_cases[SR_POLICY_COUNT_], stat_pol_disc[SR_POLICY_COUNT_],
    stat_pol_won[SR_POLICY_COUNT_], stat_pol_lost[SR_POLICY_COUNT_],
    stat_pol_owner[SR_POLICY_COUNT_];

static const char *reason_name(int r)
{
    return r < 0 ? "(open)" : sr_close_reason_name((sr_close_reason)r);
}

static const char *kind_name(int k)
{
    static const char *const n[] = {"data", "SYN", "pure-ACK", "RST", "late-SYN", "reuse-SYN",
                                    "bogus-SYN-ACK", "ISN-ACK"};
    return n[k];
}

enum { E_NEW, E_CLOSED, E_TAKE };

static void run_case(pcase *c, uint64_t case_seed)
{
    srt_rng r = {case_seed};
    generate(c, &r);
    memset(c->conns, 0, sizeof c->conns);
    c->nconns = 0;
    c->first_base_known[0] = c->first_base_known[1] = false;
    c->isn_switches = 0;
    memset(&c->cb, 0, sizeof c->cb);
    c->cb.fail_at = c->cb_fail_at;

    srt_recorder rec;
    srt_recorder_init(&rec);
    rec.max_conn_pages = c->per;
    rec.data_hook = fail_hook;
    rec.hook_data = &c->cb;
    sr_stream_factory f = srt_recorder_factory(&rec);
    /* Every other case on a single-thread pool: no locks, the same
     * result (the case's draws do not depend on it). */
    sr_pool *pool = sr_pool_new_ex(&f, MAXCONN, NULL, (case_seed & 1) ? SR_POOL_SINGLE_THREAD : 0,
                                   NULL);
    g_assert_nonnull(pool);
    sr_options o = srt_options(c->page_size, c->per, c->total);
    o.conflict_history = c->history;
    o.connection_timeout = TIMEOUT;
    o.flush_interval = FLUSH_IV;
    o.closed_linger = LINGER;
    o.overlap_policy = c->policy;
    sr_assembler *a = NULL;
    g_assert_cmpint(sr_assembler_new(pool, &o, &a), ==, SR_OK);

    sr_flow flow[2];
    srt_flow_ab(&flow[0], 1, false);
    srt_flow_ab(&flow[1], 1, true);
    unsigned hits = 0;
    bool dump = g_getenv("SR_PROPERTY_DUMP") != NULL;
    if (dump)
        g_printerr("# syn %d/%d fin %d/%d isn %u/%u L %u/%u page %zu per %zu total %zu "
                   "bogus %d (isn %u) cb_fail_at %u cbflush %d policy %s history %zu\n",
                   c->syn[0], c->syn[1], c->fin[0], c->fin[1], c->isn[0], c->isn[1], c->L[0],
                   c->L[1], c->page_size, c->per, c->total, c->bogus, c->bogus_isn,
                   c->cb_fail_at, c->cbflush, sr_overlap_policy_name(c->policy), c->history);
    mconn *cur = NULL; /* what the table holds for the flow: open or lingering */
    sr_time clk = T0, eff = INT64_MIN;
    bool case_back = false, case_before = false;
    for (unsigned k = 0; k < c->norder; k++) {
        const pseg *s = &c->segs[c->order[k]];
        const int e = s->ep;
        clk += c->jump[k];
        const sr_time ts = clk - c->back[k];
        clk++;
        const sr_time eff2 = MAX(eff, ts);
        const bool timed_out = cur && cur->open && eff2 - cur->last_seen > TIMEOUT;
        const bool jumped = cur && cur->open && !timed_out && eff2 - cur->last_seen >= SEC;
        mconn *tab = timed_out ? NULL : cur; /* what the lookup finds */

        /* Sequence number, flags and original position of the segment. */
        uint8_t flags = s->flags;
        uint32_t pos = s->off, seq;
        switch (s->kind) {
        case K_LATE_SYN: {
            const model_dir *m = tab ? &tab->m[e] : NULL;
            if (m && m->started && !m->bogus)
                pos = m->base;
            else if ((!tab || tab->open) && c->first_base_known[e])
                pos = c->first_base[e];
            else
                continue; /* no stream start to be late for */
            seq = seq_of(c, e, pos) - 1u;
            bool client = tab ? tab->client == e : e == 0;
            flags = client ? SR_TCP_SYN : SR_TCP_SYN | SR_TCP_ACK;
            break;
        }
        case K_REUSE_SYN:
            if (tab && (tab->open || !tab->m[0].started || tab->m[0].bogus))
                continue;
            seq = seq_of(c, 0, 0) + 0x40000000u + s->off;
            break;
        case K_SYN: seq = c->isn[e]; pos = 0; break;
        case K_BOGUS: seq = c->bogus_isn; break;
        default: seq = seq_of(c, e, s->off); break;
        }

        /* What must happen: a new connection, a refusal as late, or the
         * open connection takes it. */
        int expect;
        if (!tab) {
            expect = E_NEW;
        } else if (tab->open) {
            expect = E_TAKE;
        } else {
            const bool syn_only = (flags & (SR_TCP_SYN | SR_TCP_ACK)) == SR_TCP_SYN;
            const model_dir *m = &tab->m[e];
            srt_stream *ts_ = srt_recorder_stream(&rec, (unsigned)(tab - c->conns));
            bool empty = tab->reason == SR_CLOSE_RST && ts_->final_info.delivered[0] +
                         ts_->final_info.delivered[1] + ts_->final_info.skipped[0] +
                         ts_->final_info.skipped[1] == 0;
            if ((flags & SR_TCP_SYN) && empty) {
                expect = E_NEW; /* an RST ahead of any byte does not hide a handshake */
            } else if (syn_only) {
                if (!m->started || m->bogus)
                    continue; /* the closed side has no start to compare with */
                expect = seq + 1u != seq_of(c, e, m->base) ? E_NEW : E_CLOSED;
            } else {
                expect = E_CLOSED;
            }
        }

        eff = eff2;
        if (timed_out) {
            cur->open = false;
            cur->reason = SR_CLOSE_TIMEOUT;
            cur = NULL;
        }
        if (c->back[k])
            case_back = true;
        /* A callback failure while a jump lets the core flush or time out
         * another stream first would make the outcome depend on what the
         * core does first; keep those calls clean. */
        c->cb.armed = !(timed_out || jumped);
        c->cb.fired_now = false;
        sr_segment seg = srt_seg(seq, flags, s->len ? s->data : NULL, s->len, ts);
        if (s->kind == K_ISN_ACK)
            seg.ack = c->isn[1] + 1u;
        else if ((flags & (SR_TCP_SYN | SR_TCP_ACK)) == (SR_TCP_SYN | SR_TCP_ACK))
            seg.ack = seq_of(c, 1 - e, 0); /* the other side's ISN + 1 */
        if (dump)
            g_printerr("# %3u %c %-13s off %3u len %3u seq %10u flags 0x%02x ts %+.6f%s%s -> %s\n",
                       k, e ? 'B' : 'A', kind_name(s->kind), pos, s->len, seq, flags,
                       (double)(ts - T0) / SEC, s->fin ? " FIN" : "",
                       timed_out ? " (times out)" : jumped ? " (after a jump)" : "",
                       expect == E_NEW ? "new" : expect == E_CLOSED ? "late" : "taken");
        sr_result res;
        memset(&res, 0xff, sizeof res);
        sr_error err = sr_assemble_ex(a, &flow[e], &seg, NULL, &res);

        if (expect == E_TAKE && jumped && err == SR_ERR_CONNECTION_CLOSED) {
            /* The flush at this segment's arrival skipped the holes before
             * both FINs: completed before it was taken. */
            srt_stream *st = srt_recorder_stream(&rec, (unsigned)(tab - c->conns));
            if (!(tab->m[0].fin_arrived && tab->m[1].fin_arrived) || st->completes != 1 ||
                st->close_reason != SR_CLOSE_FIN)
                g_error("segment %u: refused as late, but the connection was open", k);
            tab->open = false;
            tab->reason = SR_CLOSE_FIN;
            expect = E_CLOSED;
        }
        if (expect == E_CLOSED) {
            if (err != SR_ERR_CONNECTION_CLOSED)
                g_error("segment %u (%s from %c): expected SR_ERR_CONNECTION_CLOSED (connection "
                        "%u completed %s), got %s, status 0x%x, conn_id %" G_GUINT64_FORMAT,
                        k, kind_name(s->kind), e ? 'B' : 'A', (unsigned)(tab - c->conns),
                        reason_name(tab->reason), sr_err_name(err), res.status, res.conn_id);
            g_assert_true(res.status & SR_SEG_AFTER_CLOSE);
            g_assert_cmpuint(res.conn_id, ==, tab->id);
            g_assert_false(c->cb.fired_now);
            stat_after_close++;
            if (s->kind == K_LATE_SYN && !tab->m[e].syn_seen)
                stat_late_nosyn++;
            srt_check_result(&rec, &res);
            continue;
        }

        if (err != SR_OK && !(err == SR_ERR_CALLBACK && c->cb.fired_now))
            g_error("segment %u (%s from %c): expected SR_OK (%s), got %s", k, kind_name(s->kind),
                    e ? 'B' : 'A', expect == E_NEW ? "new connection" : "open connection",
                    sr_err_name(err));
        mconn *mc;
        if (expect == E_NEW) {
            if (!(res.status & SR_SEG_NEW_CONNECTION))
                g_error("segment %u (%s from %c): expected a new connection (%s), got status 0x%x "
                        "conn_id %" G_GUINT64_FORMAT,
                        k, kind_name(s->kind), e ? 'B' : 'A',
                        timed_out ? "the previous one timed out" : tab ? "port reuse" : "first",
                        res.status, res.conn_id);
            g_assert_cmpuint(c->nconns, <, MAXCONN);
            for (unsigned i = 0; i < c->nconns; i++)
                g_assert_cmpuint(res.conn_id, !=, c->conns[i].id);
            if (tab)
                stat_reuse++;
            mc = &c->conns[c->nconns++];
            mc->id = res.conn_id;
            mc->open = true;
            mc->reason = -1;
            bool synack = (flags & (SR_TCP_SYN | SR_TCP_ACK)) == (SR_TCP_SYN | SR_TCP_ACK);
            mc->client = synack ? 1 - e : e;
            g_assert_cmpuint(srt_recorder_count(&rec), ==, c->nconns);
            cur = mc;
        } else {
            mc = tab;
            if (res.conn_id != mc->id || (res.status & SR_SEG_NEW_CONNECTION))
                g_error("segment %u (%s from %c): expected the open connection %" G_GUINT64_FORMAT
                        " to take it, got conn_id %" G_GUINT64_FORMAT " status 0x%x",
                        k, kind_name(s->kind), e ? 'B' : 'A', mc->id, res.conn_id, res.status);
        }
        mc->last_seen = eff;
        if (jumped)
            mc->hazard = true;
        if (res.status & (SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL)) {
            mc->hazard = true;
            hits++;
        }
        g_assert_cmpuint(res.status & SR_SEG_EVICTED_OTHER, ==, 0);
        const uint32_t drop = model_take(c, mc, s, e, pos, flags);
        const int d = e == mc->client ? 0 : 1;
        g_assert_cmpint(res.dir, ==, d);
        if (drop) {
            case_before = true;
            if ((res.status & (SR_SEG_DROPPED | SR_SEG_BEFORE_START)) !=
                (SR_SEG_DROPPED | SR_SEG_BEFORE_START))
                g_error("segment %u: %u bytes before the direction's start, status 0x%x lacks "
                        "SR_SEG_DROPPED|SR_SEG_BEFORE_START", k, drop, res.status);
        } else {
            g_assert_cmpuint(res.status & SR_SEG_BEFORE_START, ==, 0);
            if (s->len)
                g_assert_cmpuint(res.status & SR_SEG_DROPPED, ==, 0);
        }
        if (res.dropped[d] != mc->m[e].drop_bytes || res.dropped[!d] != mc->m[!e].drop_bytes)
            g_error("segment %u: result dropped %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                    ", model %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " (client/server)",
                    k, res.dropped[0], res.dropped[1], mc->m[mc->client].drop_bytes,
                    mc->m[!mc->client].drop_bytes);

        /* Completion. */
        int want = -1;
        srt_stream *st = srt_recorder_stream(&rec, (unsigned)(mc - c->conns));
        if (c->cb.fired_now) {
            g_assert_true(c->cb.failed == st);
            want = SR_CLOSE_CALLBACK_ERROR;
        } else if (s->kind == K_RST) {
            want = SR_CLOSE_RST;
            mc->rst_closed_ep[e] = true;
        } else if (model_fin_done(c, mc, 0) && model_fin_done(c, mc, 1)) {
            want = SR_CLOSE_FIN;
        }
        if (want >= 0) {
            if (!(res.status & SR_SEG_CLOSED) || res.close_reason != want)
                g_error("segment %u (%s from %c): expected completion %s, got status 0x%x "
                        "reason %s", k, kind_name(s->kind), e ? 'B' : 'A', reason_name(want),
                        res.status, reason_name(res.status & SR_SEG_CLOSED ? res.close_reason : -1));
            mc->open = false;
            mc->reason = want;
        } else if (res.status & SR_SEG_CLOSED) {
            /* A flush (limit, jump) may reach both FINs sooner than the
             * model's exact edge; nothing else may end the connection. */
            if (!(mc->hazard && res.close_reason == SR_CLOSE_FIN && mc->m[0].fin_arrived &&
                  mc->m[1].fin_arrived))
                g_error("segment %u (%s from %c): unexpected completion %s", k,
                        kind_name(s->kind), e ? 'B' : 'A', reason_name(res.close_reason));
            mc->open = false;
            mc->reason = SR_CLOSE_FIN;
        }
        srt_check_result(&rec, &res);
        if (res.conn_pages > c->per)
            g_error("conn_pages %zu > %zu", res.conn_pages, c->per);
        sr_assembler_stats ast;
        g_assert_cmpint(sr_assembler_get_stats(a, &ast), ==, SR_OK);
        if (ast.pages_in_use > c->total)
            g_error("pages_in_use %" G_GUINT64_FORMAT " > %zu", ast.pages_in_use, c->total);
    }

    /* The final flush completes the open connection, if any. */
    const bool was_open = cur && cur->open;
    if (c->cbflush && was_open)
        c->cb.fail_at = c->cb.count + 1;
    c->cb.armed = true;
    c->cb.fired_now = false;
    size_t closed = 99;
    g_assert_cmpint(sr_assembler_flush_all(a, NULL, &closed), ==, SR_OK);
    g_assert_cmpuint(closed, ==, was_open ? 1 : 0);
    if (was_open) {
        cur->open = false;
        cur->reason = c->cb.fired_now ? SR_CLOSE_CALLBACK_ERROR : SR_CLOSE_FLUSHED;
        if (c->cb.fired_now)
            stat_cbflush++;
    }

    g_assert_cmpuint(srt_recorder_count(&rec), ==, c->nconns);
    g_assert_cmpint(rec.new_calls, ==, (int)c->nconns);
    bool all_strong = true;
    uint64_t sum_drop = 0, sum_drop_segs = 0, sum_skipped = 0;
    unsigned nconflicts = 0, disc_won = 0, disc_lost = 0, owner_sens = 0;
    for (unsigned i = 0; i < c->nconns; i++) {
        const mconn *mc = &c->conns[i];
        srt_stream *st = srt_recorder_stream(&rec, i);
        g_assert_cmpuint(st->conn_id, ==, mc->id);
        g_assert_cmpint(st->completes, ==, 1);
        if (st->close_reason != mc->reason)
            g_error("connection %u completed %s, expected %s", i, reason_name(st->close_reason),
                    reason_name(mc->reason));
        /* Orientation: the SYN's sender, the SYN-ACK's receiver, else the
         * first sender. */
        g_assert_true(srt_flow_endpoints_match(&st->flow, &flow[mc->client]));
        const bool failed = c->cb.failed == st;
        g_assert_true(failed == (mc->reason == SR_CLOSE_CALLBACK_ERROR));
        stat_cbfail += failed;
        stat_timeout += mc->reason == SR_CLOSE_TIMEOUT;
        const bool strong = !mc->hazard && !failed;
        all_strong &= strong;
        for (int e = 0; e < 2; e++) {
            const int d = e == mc->client ? 0 : 1;
            srt_dir_rec *dr = &st->dir[d];
            const model_dir *m = &mc->m[e];
            const char *who = e ? "sender B" : "sender A";
            sum_drop += m->drop_bytes;
            sum_drop_segs += m->drop_segs;
            sum_skipped += st->final_info.skipped[d];
            nconflicts += m->nconflicts;
            if (st->final_info.dropped[d] != m->drop_bytes ||
                st->final_info.dropped_segments[d] != m->drop_segs)
                g_error("connection %u %s: dropped %" G_GUINT64_FORMAT " bytes in %" G_GUINT64_FORMAT
                        " segments, model %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT,
                        i, who, st->final_info.dropped[d], st->final_info.dropped_segments[d],
                        m->drop_bytes, m->drop_segs);
            if (!m->started || m->bogus) {
                g_assert_cmpuint(dr->data->len, ==, 0);
                continue;
            }
            expect_ud x = {c, mc, e};
            if (!mc->hazard || c->policy == SR_POLICY_FIRST)
                srt_verify_content(dr, model_byte, &x, who);
            else
                srt_verify_content_any(dr, model_byte_any, &x, who);
            const uint32_t L = c->L[e] > m->base ? c->L[e] - m->base : 0;
            /* An RST one past a FIN that was lost looks like a lost byte. */
            const bool rst_past_lost_fin = mc->rst_closed_ep[e] && c->fin[e] && !m->fin_arrived;
            g_assert_cmpuint(dr->reached, <=, L + (rst_past_lost_fin ? 1u : 0u));
            uint32_t max_end = 0, narrived = 0, nall = 0, nbefore = 0;
            for (uint32_t g = m->base; g < c->L[e]; g++)
                if (m->arrived[g]) {
                    max_end = g - m->base + 1;
                    nall++;
                    narrived += g - m->base < dr->reached;
                }
            for (uint32_t g = 0; g < m->base && g < MAXL; g++)
                nbefore += m->before[g];
            /* Every distinct captured byte is delivered, skipped or dropped. */
            uint64_t accounted = st->final_info.delivered[d] + st->final_info.skipped[d] +
                                 st->final_info.dropped[d];
            if (nall + nbefore > accounted)
                g_error("connection %u %s: %u distinct bytes captured (%u before the start), but "
                        "delivered %" G_GUINT64_FORMAT " + skipped %" G_GUINT64_FORMAT
                        " + dropped %" G_GUINT64_FORMAT " = %" G_GUINT64_FORMAT,
                        i, who, nall + nbefore, nbefore, st->final_info.delivered[d],
                        st->final_info.skipped[d], st->final_info.dropped[d], accounted);
            if (strong) {
                /* Every arrived byte delivered, the holes skipped. */
                g_assert_cmpuint(dr->reached, >=, max_end);
                g_assert_cmpuint(dr->data->len, ==, narrived);
                if (nall == L && !rst_past_lost_fin) {
                    g_assert_cmpuint(dr->data->len, ==, L);
                    g_assert_cmpuint(dr->skipped, ==, 0);
                    if (!c->conflicts_made)
                        g_assert_cmpmem(dr->data->data, dr->data->len, c->orig[e] + m->base, L);
                }
                /* Conflicts: flagged where they are, never where none are. */
                for (guint q = 0; q < dr->chunks->len; q++) {
                    srt_chunk_rec *ch = &g_array_index(dr->chunks, srt_chunk_rec, q);
                    bool has = false;
                    for (size_t b = 0; b < ch->len; b++)
                        has |= m->conflict[m->base + ch->offset + b];
                    if (has && !(ch->flags & SR_CHUNK_CONFLICT))
                        g_error("%s: chunk at %" G_GUINT64_FORMAT " holds a conflicting byte "
                                "but lacks SR_CHUNK_CONFLICT", who, ch->offset);
                }
                if (m->nconflicts == 0)
                    g_assert_cmpuint(dr->flags_or & SR_CHUNK_CONFLICT, ==, 0);
                if (st->final_info.conflicts[d] != m->nconflicts)
                    g_error("connection %u %s: %" G_GUINT64_FORMAT " conflicting segments, "
                            "model %u (policy %s)", i, who, st->final_info.conflicts[d],
                            m->nconflicts, sr_overlap_policy_name(c->policy));
                disc_won += m->disc_won;
                disc_lost += m->disc_lost;
                owner_sens += m->owner_sens;
            }
            /* START: only on a direction whose start is known (its SYN, or
             * the other side's SYN-ACK), then on its first real bytes. */
            if (!m->syn_seen && !m->start_known) {
                g_assert_cmpuint(dr->flags_or & SR_CHUNK_START, ==, 0);
            } else if (dr->chunks->len && !failed) {
                srt_chunk_rec *c0 = &g_array_index(dr->chunks, srt_chunk_rec, 0);
                if (c0->len > 0 && c0->skipped == 0)
                    g_assert_cmpuint(c0->flags & SR_CHUNK_START, ==, SR_CHUNK_START);
            }
            /* END: only if the FIN arrived; then the stream reached it.
             * Without an RST or a callback failure, a FIN that arrived is
             * always reached by the completion. */
            if (dr->ended) {
                g_assert_true(m->fin_arrived);
                g_assert_cmpuint(dr->reached, ==, L);
            } else if (m->fin_arrived && mc->reason != SR_CLOSE_RST && !failed) {
                g_error("connection %u %s: FIN arrived but no SR_CHUNK_END", i, who);
            }
        }
    }

    sr_assembler_stats as;
    g_assert_cmpint(sr_assembler_get_stats(a, &as), ==, SR_OK);
    g_assert_cmpuint(as.pages_in_use, ==, 0);
    g_assert_cmpuint(as.pages_peak, <=, c->total);
    g_assert_cmpuint(as.limit_hits_connection + as.limit_hits_total, ==, hits);
    if (all_strong)
        g_assert_cmpuint(as.overlap_conflicts, ==, nconflicts);
    g_assert_cmpuint(as.bytes_delivered, ==, srt_total_delivered(&rec));
    g_assert_cmpuint(as.bytes_skipped, ==, sum_skipped);
    g_assert_cmpuint(as.bytes_dropped, ==, sum_drop);
    g_assert_cmpuint(as.before_start, ==, sum_drop_segs);
    g_assert_cmpuint(as.isn_changes, ==, c->isn_switches);
    srt_check_pool_stats(pool, &rec);
    srt_check_conservation(&rec, true);

    stat_limit_cases += hits > 0;
    stat_lost_cases += c->lost_any;
    stat_synlost += c->synlost;
    stat_conflict_cases += nconflicts > 0;
    stat_pol_cases[c->policy]++;
    stat_pol_disc[c->policy] += disc_won + disc_lost > 0;
    stat_pol_won[c->policy] += disc_won;
    stat_pol_lost[c->policy] += disc_lost;
    stat_pol_owner[c->policy] += owner_sens > 0;
    stat_fin_cases += c->nconns && c->conns[0].reason == SR_CLOSE_FIN;
    stat_before += case_before;
    stat_bogus += c->isn_switches > 0 && c->L[1] > 0;
    stat_back += case_back;
    stat_multi += c->nconns > 1;
    for (unsigned i = 0; i < c->nconns; i++)
        stat_flushj += c->conns[i].hazard && hits == 0;
    stat_reorder += c->nconns && c->conns[0].m[0].base + c->conns[0].m[1].base > 0;

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
    unsigned F = parse_features();
    g_test_message("seed %" G_GUINT64_FORMAT ", cases %u..%u, features 0x%x", seed, first,
                   last - 1, F);
    signal(SIGABRT, on_fatal_signal);
    signal(SIGTRAP, on_fatal_signal);
    signal(SIGSEGV, on_fatal_signal);

    pcase *c = g_new0(pcase, 1);
    c->features = F;
    c->force_policy = -1;
    const char *pol = g_getenv("SR_PROPERTY_POLICY");
    if (pol && *pol) {
        sr_overlap_policy p;
        if (!sr_overlap_policy_from_name(pol, &p))
            g_error("SR_PROPERTY_POLICY: unknown policy '%s'", pol);
        c->force_policy = (int)p;
    }
    c->segs = g_new0(pseg, MAXSEG);
    c->order = g_new0(unsigned, MAXSEG);
    c->jump = g_new0(sr_time, MAXSEG);
    c->back = g_new0(sr_time, MAXSEG);
    for (unsigned i = first; i < last; i++) {
        note_case(seed, i);
        run_case(c, mix(seed, i));
    }
    crash_note_len = 0;
    g_test_message("cases with limit hits %u, lost segments %u, conflicts %u, FIN-closed %u",
                   stat_limit_cases, stat_lost_cases, stat_conflict_cases, stat_fin_cases);
    g_test_message("late segments refused %u (late SYNs of directions without SYN %u), "
                   "cases with bytes before the start %u, reordered starts %u, ISN switches "
                   "with server data %u, callback errors %u (at the final flush %u), "
                   "timeouts %u, connections with flush jumps %u, cases with time going back %u, "
                   "port reuse %u, cases with several connections %u, client SYN lost %u",
                   stat_after_close, stat_late_nosyn, stat_before, stat_reorder, stat_bogus,
                   stat_cbfail, stat_cbflush, stat_timeout, stat_flushj, stat_back, stat_reuse,
                   stat_multi, stat_synlost);
    for (int p = 0; p < SR_POLICY_COUNT_; p++)
        g_test_message("policy %-9s cases %6u, with overlaps the policies resolve differently "
                       "%6u (new copy won %7u, lost %7u bytes), decided by the writer's extents "
                       "where the held copy's would differ %5u",
                       sr_overlap_policy_name((sr_overlap_policy)p), stat_pol_cases[p],
                       stat_pol_disc[p], stat_pol_won[p], stat_pol_lost[p], stat_pol_owner[p]);
    unsigned n = last - first;
    if (n >= 1000) {
        /* The generator covers what it claims to. */
        g_assert_cmpuint(stat_limit_cases, >, n / 20);
        g_assert_cmpuint(stat_lost_cases, >, n / 10);
        g_assert_cmpuint(stat_conflict_cases, >, n / 50);
        g_assert_cmpuint(stat_fin_cases, >, n / 10);
        if (F & F_LATE) {
            g_assert_cmpuint(stat_after_close, >, n / 10);
            g_assert_cmpuint(stat_late_nosyn, >, n / 200);
        }
        if (F & F_REORDER) {
            g_assert_cmpuint(stat_reorder, >, n / 50);
            g_assert_cmpuint(stat_before, >, n / 100);
        }
        if (F & F_BOGUS)
            g_assert_cmpuint(stat_bogus, >, n / 100);
        if (F & F_CBFAIL)
            g_assert_cmpuint(stat_cbfail, >, n / 50);
        if (F & F_CBFLUSH)
            g_assert_cmpuint(stat_cbflush, >, n / 200);
        if (F & F_TIMEOUTJ) {
            g_assert_cmpuint(stat_timeout, >, n / 50);
            g_assert_cmpuint(stat_multi, >, n / 50);
        }
        if (F & F_FLUSHJ)
            g_assert_cmpuint(stat_flushj, >, n / 50);
        if (F & F_BACK)
            g_assert_cmpuint(stat_back, >, n / 10);
        if (F & F_REUSE)
            g_assert_cmpuint(stat_reuse, >, n / 100);
        /* Every policy that ran met overlaps the policies disagree on, and
         * (beyond first and last) both won and lost some. */
        for (int p = 0; p < SR_POLICY_COUNT_; p++) {
            const unsigned np = stat_pol_cases[p];
            if ((F & F_SHAPES) && np >= 1000) {
                g_assert_cmpuint(stat_pol_disc[p], >, np / 20);
                if (p != SR_POLICY_LAST)
                    g_assert_cmpuint(stat_pol_lost[p], >, np / 10);
                if (p != SR_POLICY_FIRST)
                    g_assert_cmpuint(stat_pol_won[p], >, np / 10);
                if (p != SR_POLICY_FIRST && p != SR_POLICY_LAST)
                    g_assert_cmpuint(stat_pol_owner[p], >, np / 500);
            }
        }
    }
    g_free(c->back);
    g_free(c->jump);
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
