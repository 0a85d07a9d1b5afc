/* conn.c - the data path of one connection's two half-streams: sequence
 * numbers to 64-bit offsets, the choice of ISN, in-order delivery without
 * copying, out-of-order data in pages, overlap and conflict detection,
 * limits, dropped bytes, FIN and RST. When a connection opens, lingers,
 * completes or is evicted is decided in lifecycle.c.
 *
 * Every function here runs with the connection's lock held. Invariants:
 * - pages of a half are disjoint and all lie at or beyond its edge `next`;
 * - next = delivered + skipped for that direction, at every moment;
 * - at completion next == extent, so delivered + skipped == the extent;
 * - a captured byte that no stream position can hold (out of window,
 *   before the start, beyond the FIN, no memory) is counted in dropped. */
#include "sr-internal.h"

#include <string.h>

enum { LIMIT_NONE = 0, LIMIT_CONN, LIMIT_TOTAL, LIMIT_NOMEM };

static sr__page *first_page(const sr__half *h)
{
    if (!h->side || h->side->npages == 0)
        return NULL;
    GTreeNode *n = g_tree_node_first(h->side->pages);
    return n ? g_tree_node_value(n) : NULL;
}

/* The cold part of a direction, made on first need. NULL (counted as
 * no_memory) when the allocator fails; each caller says what it then
 * does without. */
static sr__side *side_get(sr__ctx *x, sr__conn *c, sr__half *h)
{
    if (!h->side) {
        sr__side *sd = sr__alloc(&c->pool->alloc, sizeof *sd);
        if (!sd) {
            SR__COUNT(x->acct, no_memory, 1);
            return NULL;
        }
        memset(sd, 0, sizeof *sd);
        h->side = sd;
    }
    return h->side;
}

static gint page_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void)unused;
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void side_free(sr__conn *c, sr__half *h)
{
    if (h->side->pages)
        g_tree_destroy(h->side->pages);
    sr__free(&c->pool->alloc, h->side, sizeof *h->side);
    h->side = NULL;
}

static bool side_counts(const sr__side *sd)
{
    return sd->dropped || sd->dropped_segments || sd->conflicts;
}

bool sr__conn_holds_pages_of(const sr__conn *c, const sr__acct *acct)
{
    for (int d = 0; d < 2; d++) {
        const sr__half *h = &c->half[d];
        if (sr__half_npages(h) == 0)
            continue;
        for (GTreeNode *n = g_tree_node_first(h->side->pages); n; n = g_tree_node_next(n))
            if (((const sr__page *)g_tree_node_value(n))->acct == acct)
                return true;
    }
    return false;
}

/* Free the cold part of each direction that holds nothing any more: no
 * page, no cut tail, no alternative ISN, no count. */
void sr__conn_trim_sides(sr__conn *c)
{
    for (int d = 0; d < 2; d++) {
        sr__half *h = &c->half[d];
        sr__side *sd = h->side;
        if (sd && sd->npages == 0 && sd->cut_hi == 0 && !h->alt_valid && !side_counts(sd))
            side_free(c, h);
    }
}

/* Copy the bytes of offsets [lo, hi) from one ring to another, each byte
 * at offset o stored at ring[o % cap]: a few memcpy runs (at most where
 * either ring wraps), not a division per byte. hi - lo <= both caps. */
static void ring_move(uint8_t *to, size_t to_cap, const uint8_t *from, size_t from_cap,
                      uint64_t lo, uint64_t hi)
{
    while (lo < hi) {
        size_t f = (size_t)(lo % from_cap), t = (size_t)(lo % to_cap);
        size_t k = (size_t)MIN(hi - lo, (uint64_t)MIN(from_cap - f, to_cap - t));
        memcpy(to + t, from + f, k);
        lo += k;
    }
}

/* The capacity, at least cap, whose ring (16-byte header + capacity) is
 * 16k + 8 bytes: a glibc malloc chunk to the byte. */
static size_t ring_chunk_cap(size_t cap)
{
    return ((cap + 8 + 15) & ~(size_t)15) - 8;
}

/* Smallest ring: 8 bytes behind its 16-byte header, one 32-byte malloc
 * chunk. */
#define SR__RING_MIN 8
/* A ring this big is made conflict_history big at once (hist_record). */
#define SR__RING_JUMP 1024

/* The capacity of a ring of cap bytes (0: none yet) once `len` more bytes
 * are delivered `have` bytes past its `from`, with a history of `max`
 * bytes: unchanged while it holds what it should, else grown by a quarter
 * at least (it then holds what was delivered plus about 12 % on average,
 * doubling: 50 %, and the copies of all growths together stay under 4x
 * the final size), or to max at once from SR__RING_JUMP on; each size a
 * malloc chunk to the byte. A ring of references follows the same rule
 * (sr__hrefs.cap), so both remember the same bytes. */
static size_t ring_grown(size_t cap, size_t max, uint64_t have, size_t len)
{
    size_t want = (size_t)MIN((uint64_t)max, have + len);
    if (want <= cap)
        return cap;
    size_t ncap = cap >= SR__RING_JUMP || want >= SR__RING_JUMP
                      ? max
                      : MAX(want, MAX(cap + cap / 4, (size_t)SR__RING_MIN));
    return MIN(max, ring_chunk_cap(ncap));
}

/* The conflict-history size of the call delivering now (max); without an
 * assembler's options, the ring's own (it does not grow). */
static size_t hist_max(const sr__ctx *x, size_t cap)
{
    return x->opt ? x->opt->conflict_history : cap;
}

/* Remember the tail of delivered bytes for conflict checks (see
 * sr_options.conflict_history). The ring grows with what the direction has
 * delivered (ring_grown), so a short connection pays for its few bytes,
 * not for the whole ring; a ring that would hold SR__RING_JUMP bytes or
 * more is made conflict_history big at once, so a direction that delivers
 * full-sized segments (any bulk transfer) gets one ring and no copies
 * instead of a copy at every quarter (on 100,000 connections of 4 KB each
 * those were 5 % of the run). It remembers [max(from, next - cap), next).
 * If an allocation fails, the ring stays as it is (or none: conflicts
 * against delivered data then go undetected) and no_memory counts it. */
/* Bytes of offsets [o, o + n) into a ring of bytes, each at o % cap
 * (n <= cap: at most one wrap). */
static void ring_write(sr__ring *r, uint64_t o, const uint8_t *src, size_t n)
{
    size_t at = (size_t)(o % r->cap);
    size_t first = MIN(n, r->cap - at);
    memcpy(r->data + at, src, first);
    memcpy(r->data, src + first, n - first);
}

static void hist_copy(sr__ctx *x, sr__conn *c, sr__half *h, const uint8_t *data, size_t len,
                      uint64_t offset)
{
    sr__ring *r = h->hist;
    size_t cap = r ? r->cap : 0;
    size_t max = hist_max(x, cap);
    if (!r && max == 0)
        return;
    uint64_t from = r ? r->from : offset;
    size_t ncap = ring_grown(cap, max, offset - from, len);
    if (ncap > cap) {
        sr__ring *n = sr__ring_get(c->pool, ncap);
        if (!n) {
            SR__COUNT(x->acct, no_memory, 1);
            if (!r)
                return;
        } else {
            /* The new ring holds what the old one still did, no more: it
             * may have forgotten bytes since `from` (a growth that failed,
             * or a call with a smaller history that delivered), which the
             * larger ring must not claim (FINDINGS F12). */
            n->from = from;
            if (r) {
                n->from = MAX(from, offset > cap ? offset - cap : 0);
                ring_move(n->data, ncap, r->data, cap, n->from, offset);
                sr__ring_put(c->pool, r);
            }
            h->hist = r = n;
            cap = ncap;
        }
    }
    size_t n = MIN(len, cap);
    ring_write(r, offset + len - n, data + len - n, n);
}

static sr__hrefs *hrefs(sr__ring *r)
{
    return (sr__hrefs *)(void *)r->data;
}

static const sr__hrefs *hrefs_c(const sr__ring *r)
{
    return (const sr__hrefs *)(const void *)r->data;
}

/* The capacity of a ring of references for k runs, made a malloc chunk to
 * the byte like a ring of bytes (hist_copy); it shares their cache bins. */
static size_t hrefs_cap(size_t k)
{
    return ring_chunk_cap(SR__HREFS_BYTES(k));
}

/* Runs a ring of references has room for. */
static size_t hrefs_room(const sr__ring *r)
{
    return (r->cap - sizeof(sr__hrefs)) / sizeof(sr__href);
}

/* Remember delivered bytes that lie in a stable payload by where they lie:
 * the run is added, and the oldest runs go once the newer ones hold the
 * window without them; a full ring of SR__HREFS_MIN runs is grown. False
 * when it is full at SR__HREFS_MAX (or cannot grow: counted). */
static bool hist_ref(sr__ctx *x, sr__conn *c, sr__half *h, const uint8_t *data, size_t len,
                     uint64_t offset)
{
    sr__hrefs *q = hrefs(h->hist);
    /* The runs are contiguous and end at offset: without its first k runs
     * the ring holds offset - e[k].off bytes, the new run len more. */
    size_t drop = 0;
    while (drop < q->n &&
           (drop + 1 == q->n ? 0 : offset - q->e[drop + 1].off) + len >= q->window)
        drop++;
    if (drop) {
        q->n -= (uint32_t)drop;
        memmove(q->e, q->e + drop, q->n * sizeof q->e[0]);
    }
    if (q->n == hrefs_room(h->hist)) {
        if (q->n >= SR__HREFS_MAX)
            return false;
        sr__ring *n = sr__ring_get(c->pool, hrefs_cap(SR__HREFS_MAX));
        if (!n) {
            SR__COUNT(x->acct, no_memory, 1);
            return false;
        }
        n->refs = 1;
        n->from = h->hist->from;
        memcpy(n->data, q, SR__HREFS_BYTES(q->n));
        sr__ring_put(c->pool, h->hist);
        h->hist = n;
        q = hrefs(n);
    }
    q->cap = (uint32_t)ring_grown(q->cap, q->window, offset - h->hist->from, len);
    q->e[q->n++] = (sr__href){.p = data, .off = offset, .len = len};
    return true;
}

/* Make a ring of references a ring of bytes: the ring of bytes hist_copy
 * would have made of the same deliveries (its capacity, its `from`, the
 * bytes it would hold, copied from the runs). Nothing if that memory is
 * not there (counted): as a ring of bytes that could not be made. */
static void hist_unref(sr__ctx *x, sr__conn *c, sr__half *h)
{
    sr__ring *r = h->hist;
    const sr__hrefs *q = hrefs_c(r);
    h->hist = NULL;
    sr__ring *n = q->cap ? sr__ring_get(c->pool, q->cap) : NULL;
    if (q->cap && !n)
        SR__COUNT(x->acct, no_memory, 1);
    if (n) {
        n->from = r->from;
        uint64_t next = q->n ? q->e[q->n - 1].off + q->e[q->n - 1].len : r->from;
        uint64_t lo = MAX(r->from, next > n->cap ? next - n->cap : 0);
        for (size_t i = 0; i < q->n; i++) { /* at most cap bytes in all */
            const sr__href *f = &q->e[i];
            uint64_t s = MAX(lo, f->off), e = f->off + f->len;
            if (s < e)
                ring_write(n, s, f->p + (s - f->off), (size_t)(e - s));
        }
        h->hist = n;
    }
    sr__ring_put(c->pool, r);
}

/* Remember the tail of delivered bytes for conflict checks. Bytes of a
 * stable payload (sr_segment.payload_stable: the caller keeps them until
 * the pool is closed) are remembered by reference, without reading them;
 * any others, or more runs than a ring of references holds, are copied
 * (hist_copy). Both remember the same bytes. */
static void hist_record(sr__ctx *x, sr__conn *c, sr__half *h, const uint8_t *data, size_t len,
                        uint64_t offset, bool stable)
{
    sr__ring *r = h->hist;
    if (!r && stable && x->opt && x->opt->conflict_history > 0) {
        r = sr__ring_get(c->pool, hrefs_cap(SR__HREFS_MIN));
        if (!r) { /* as a ring of bytes that cannot be made */
            SR__COUNT(x->acct, no_memory, 1);
            return;
        }
        r->refs = 1;
        r->from = offset;
        sr__hrefs *q = hrefs(r);
        q->window = (uint32_t)x->opt->conflict_history; /* <= 1 MiB */
        q->n = 0;
        q->cap = 0;
        h->hist = r;
    }
    /* References keep the window of the call that made them; a call with
     * another history (options are per assembler, and a pool's assemblers
     * may differ) would grow a ring of bytes otherwise: it gets one. */
    if (r && r->refs) {
        if (stable && hist_max(x, 0) == hrefs_c(r)->window && hist_ref(x, c, h, data, len, offset))
            return;
        hist_unref(x, c, h);
    }
    hist_copy(x, c, h, data, len, offset);
}

/* Nothing before a gap at `offset` is remembered; the ring (either kind)
 * keeps its capacity. */
static void hist_gap(sr__half *h, uint64_t offset)
{
    h->hist->from = offset;
    if (h->hist->refs)
        hrefs(h->hist)->n = 0;
}

/* Does [off, off + len) differ from the delivered bytes we still know?
 *
 *   delivered:  ....[ remembered ring ]| next
 *   segment:            [---------]         compared where both exist */
static bool hist_differs(const sr__half *h, const uint8_t *data, int64_t off, size_t len)
{
    const sr__ring *r = h->hist;
    if (!r || len == 0)
        return false;
    /* Remembered: [max(from, next - cap), next), either kind. */
    size_t cap = r->refs ? hrefs_c(r)->cap : r->cap;
    uint64_t lo = MAX(r->from, h->next > cap ? h->next - cap : 0);
    int64_t s = MAX(off, (int64_t)lo);
    int64_t e = MIN(off + (int64_t)len, (int64_t)h->next);
    if (r->refs) {
        /* The runs hold at least that, in order. */
        const sr__hrefs *q = hrefs_c(r);
        for (size_t i = 0; i < q->n && s < e; i++) {
            const sr__href *f = &q->e[i];
            int64_t fs = MAX(s, (int64_t)f->off), fe = MIN(e, (int64_t)(f->off + f->len));
            if (fs < fe && memcmp(f->p + (fs - (int64_t)f->off), data + (fs - off),
                                  (size_t)(fe - fs)) != 0)
                return true;
            s = MAX(s, fe);
        }
        return false;
    }
    while (s < e) { /* memcmp runs up to where the ring wraps */
        size_t at = (size_t)((uint64_t)s % r->cap);
        size_t k = (size_t)MIN((uint64_t)(e - s), (uint64_t)(r->cap - at));
        if (memcmp(r->data + at, data + (s - off), k) != 0)
            return true;
        s += (int64_t)k;
    }
    return false;
}

/* Hand one chunk to the stream. After a callback failure nothing more is
 * delivered: the bytes are counted as skipped instead, so the books still
 * balance and nothing disappears silently. */
static void emit(sr__ctx *x, sr__conn *c, sr_direction dir, const uint8_t *data, size_t len,
                 uint64_t offset, uint64_t skipped, unsigned flags, bool stable)
{
    sr__half *h = &c->half[dir];
    /* The caller has moved the edge already; skipped = next - delivered. */
    if (c->failed) {
        SR__COUNT(x->acct, bytes_skipped, skipped + len);
        return;
    }
    h->delivered += len;
    if (skipped > 0 && h->hist)
        hist_gap(h, offset);
    /* No atomic add of 0: most chunks skip nothing, END chunks carry
     * nothing. */
    if (len > 0) {
        hist_record(x, c, h, data, len, offset, stable);
        SR__COUNT(x->acct, bytes_delivered, len);
    }
    if (skipped > 0)
        SR__COUNT(x->acct, bytes_skipped, skipped);
    if (h->start_pending) {
        flags |= SR_CHUNK_START;
        h->start_pending = false;
    }
    sr_conn_info info;
    sr__conn_info(c, &info);
    sr_chunk ch = {
        .dir = dir, .data = data, .len = len, .offset = offset, .skipped = skipped, .flags = flags,
    };
    sr_pool *p = c->pool;
    if (p->factory.on_data(p->factory.user_data, c->u.stream, &info, &ch, x->packet_ctx) != 0) {
        c->failed = true;
        SR__COUNT(x->acct, callback_errors, 1);
        x->cb_err = SR_ERR_CALLBACK;
    }
}

static void skip_to(sr__ctx *x, sr__conn *c, sr_direction dir, uint64_t target, unsigned flags)
{
    sr__half *h = &c->half[dir];
    if (target <= h->next)
        return;
    uint64_t gap = target - h->next;
    h->next = target;
    emit(x, c, dir, NULL, 0, target, gap, flags, false);
}

/* Take a page out of its side's tree and the counts (the page itself stays). */
static void unlink_page(sr__conn *c, sr__half *h, sr__page *p)
{
    g_tree_remove(h->side->pages, &p->offset);
    h->side->npages--;
    sr__pool_pages_add(c, -1);
}

static void drop_page(sr__conn *c, sr__half *h, sr__page *p)
{
    unlink_page(c, h, p);
    sr__page_put(p);
}

/* Deliver the first page, which must start at next + skipped. */
static void deliver_page(sr__ctx *x, sr__conn *c, sr_direction dir, sr__page *p, uint64_t skipped,
                         unsigned flags)
{
    sr__half *h = &c->half[dir];
    h->next = p->offset + p->len;
    uint64_t gap_end = p->gap_end;
    unlink_page(c, h, p);
    emit(x, c, dir, p->data, p->len, p->offset, skipped, flags | SR_CHUNK_BUFFERED | p->flags,
         false);
    sr__page_put(p);
    if (gap_end > h->next) {
        /* The segment this page came from was cut by the snaplen: its
         * missing tail is a gap we know of, up to the next buffered byte. */
        sr__page *n = first_page(h);
        skip_to(x, c, dir, n ? MIN(n->offset, gap_end) : gap_end, flags & SR_CHUNK_FLUSHED);
    }
}

static void deliver_contiguous(sr__ctx *x, sr__conn *c, sr_direction dir, unsigned flags)
{
    sr__half *h = &c->half[dir];
    sr__page *p;
    while ((p = first_page(h)) && p->offset == h->next)
        deliver_page(x, c, dir, p, 0, flags);
}

/* Skip the gap before the earliest page and deliver the run that follows.
 * Frees at least one page; false if there was none. */
static bool flush_first_run(sr__ctx *x, sr__conn *c, sr_direction dir)
{
    sr__half *h = &c->half[dir];
    sr__page *p = first_page(h);
    if (!p)
        return false;
    deliver_page(x, c, dir, p, p->offset - h->next, SR_CHUNK_FLUSHED);
    deliver_contiguous(x, c, dir, SR_CHUNK_FLUSHED);
    return true;
}

size_t sr__half_flush_pages(sr__ctx *x, sr__conn *c, sr_direction dir)
{
    size_t n = 0;
    while (flush_first_run(x, c, dir))
        n++;
    return n;
}

size_t sr__conn_flush_pages(sr__ctx *x, sr__conn *c)
{
    return sr__half_flush_pages(x, c, SR_DIR_CLIENT_TO_SERVER) +
           sr__half_flush_pages(x, c, SR_DIR_SERVER_TO_CLIENT);
}

typedef struct age_scan {
    sr_time before;
    sr_time oldest;
    uint64_t old_end; /* end of the last page written at or before `before` */
    bool any_old;
} age_scan;

static gboolean scan_age(gpointer key, gpointer value, gpointer data)
{
    (void)key;
    const sr__page *p = value;
    age_scan *s = data;
    if (p->at < s->oldest)
        s->oldest = p->at;
    if (p->at <= s->before) {
        s->old_end = p->offset + p->len;
        s->any_old = true;
    }
    return FALSE;
}

/* The age check is cheap while the lower bound says nothing can be old;
 * the walk over the pages happens only when something may be due, and
 * leaves the bound exact.
 *
 *   pages:  [old] hole [young][old] hole [young]
 *   release: ----skip---------------^ up to the last old page's end
 *            (contiguous pages right after it go along, no hole skipped) */
size_t sr__half_release_old(sr__ctx *x, sr__conn *c, sr_direction dir, sr_time before)
{
    sr__half *h = &c->half[dir];
    sr__side *sd = h->side;
    if (!sd || sd->npages == 0 || sd->oldest_at > before)
        return 0;
    age_scan s = {before, INT64_MAX, 0, false};
    g_tree_foreach(sd->pages, scan_age, &s);
    size_t n = 0;
    if (s.any_old) {
        sr__page *p;
        while ((p = first_page(h)) && p->offset < s.old_end && flush_first_run(x, c, dir))
            n++;
        s.oldest = INT64_MAX;
        s.any_old = false;
        if (sd->npages > 0)
            g_tree_foreach(sd->pages, scan_age, &s);
    }
    sd->oldest_at = s.oldest;
    return n;
}

/* Count bytes of a segment that no stream position can hold. */
static void drop_bytes(sr__ctx *x, sr__conn *c, sr_direction dir, uint64_t n, unsigned why)
{
    /* The side exists (made before the segment was taken: see
     * sr__conn_segment); side_get only guards that rule, and would count
     * a failure as no_memory. */
    sr__side *sd = side_get(x, c, &c->half[dir]);
    x->status |= why;
    if (!(x->status & SR_SEG_DROPPED)) {
        x->status |= SR_SEG_DROPPED;
        if (sd)
            sd->dropped_segments++;
    }
    if (sd)
        sd->dropped += n;
    SR__COUNT(x->acct, bytes_dropped, n);
}

void sr__conn_release_pages(sr__conn *c, bool keep_counts)
{
    for (int d = 0; d < 2; d++) {
        sr__half *h = &c->half[d];
        sr__page *p;
        while ((p = first_page(h)))
            drop_page(c, h, p);
        h->alt_valid = false;
        sr__side *sd = h->side;
        if (sd && keep_counts && side_counts(sd)) {
            if (sd->pages)
                g_tree_destroy(sd->pages);
            sd->pages = NULL;
            sd->cut_lo = sd->cut_hi = 0;
        } else if (sd) {
            side_free(c, h);
        }
        sr__ring_put(c->pool, h->hist);
        h->hist = NULL;
    }
}

/* Does the overlap policy give a buffered byte of page p to the segment
 * being taken? By where that segment starts and ends relative to the one
 * that wrote p (see sr_overlap_policy in the header):
 *
 *   old:        [=========]
 *   new before: [-----...        bsd, linux, old_linux: new wins
 *   new same:   [----------]     linux (ends beyond), old_linux (at or beyond)
 *   new after:     [-----------] solaris: wins when it ends beyond the old
 */
static bool new_wins(const sr__ctx *x, const sr__page *p)
{
    int64_t ns = x->seg_start, ne = x->seg_end, os = p->seg_start, oe = p->seg_end;
    switch (x->opt ? x->opt->overlap_policy : SR_POLICY_FIRST) {
    case SR_POLICY_BSD: return ns < os;
    case SR_POLICY_LINUX: return ns < os || (ns == os && ne > oe);
    case SR_POLICY_OLD_LINUX: return ns < os || (ns == os && ne >= oe);
    case SR_POLICY_SOLARIS: return ne > oe || (ne == oe && ns <= os);
    case SR_POLICY_LAST: return true;
    case SR_POLICY_FIRST:
    default: return false;
    }
}

/* A later copy differs from the page's bytes at old (new: its copy, which
 * does differ somewhere): the page is flagged, and where its lowest
 * differing byte is kept (trim_beyond_fin). */
static void page_conflict(sr__page *p, const uint8_t *old, const uint8_t *neu)
{
    size_t k = 0;
    while (old[k] == neu[k])
        k++;
    uint32_t at = (uint32_t)((size_t)(old - p->data) + k);
    if (!(p->flags & SR_CHUNK_CONFLICT) || at < p->conflict_at)
        p->conflict_at = at;
    p->flags |= SR_CHUNK_CONFLICT;
}

/* Walk [s, e) against the buffered pages of h.
 *
 *   pages:      [====A====]      [==B==]        [===C===]
 *   segment:          [---------------------------]
 *   result:           ^ovl^ hole ^ovl ^   hole   ^ovl^
 *
 * Overlapped parts are compared with the buffered copy (fill == false);
 * where the overlap policy gives them to the new segment (*replace), the
 * fill pass writes them over it, in place, so a policy never needs more
 * pages for overlaps. Holes are filled (fill == true): under the first-copy
 * policy first the free room of a page that ends exactly where the hole
 * starts, then new pages (other policies keep one writer per page, whose
 * extents the policy compares with). The count pass and the fill pass take
 * identical steps, so the count is exact. Returns the number of new pages;
 * *nomem if the allocator failed. */
static size_t walk(sr__ctx *x, sr__conn *c, sr__half *h, const uint8_t *data, uint64_t s,
                   uint64_t e, bool fill, bool *overlap, bool *conflict, bool *nomem,
                   bool *fresh, uint64_t *new_bytes, bool *replace)
{
    size_t need = 0;
    uint64_t cur = s;
    GTree *t = h->side ? h->side->pages : NULL;
    const size_t ps = x->acct->page_size;
    const bool share_pages = !x->opt || x->opt->overlap_policy == SR_POLICY_FIRST;
    while (cur < e) {
        GTreeNode *n = t ? g_tree_upper_bound(t, &cur) : NULL;
        GTreeNode *pn = n ? g_tree_node_previous(n) : (t ? g_tree_node_last(t) : NULL);
        sr__page *prev = pn ? g_tree_node_value(pn) : NULL;
        uint64_t prev_end = prev ? prev->offset + prev->len : 0;
        if (prev && prev_end > cur) {
            uint64_t oe = MIN(prev_end, e);
            uint8_t *old = prev->data + (cur - prev->offset);
            const uint8_t *neu = data + (cur - s);
            if (!fill) {
                *overlap = true;
                if (memcmp(old, neu, oe - cur) != 0) {
                    *conflict = true;
                    page_conflict(prev, old, neu);
                    if (new_wins(x, prev))
                        *replace = true;
                }
            } else if (new_wins(x, prev)) {
                memcpy(old, neu, oe - cur);
            }
            cur = oe;
            continue;
        }
        sr__page *nx = n ? g_tree_node_value(n) : NULL;
        uint64_t hole_end = nx ? MIN(nx->offset, e) : e;
        if (share_pages && prev && prev_end == cur && prev->len < prev->acct->page_size) {
            size_t take = (size_t)MIN((uint64_t)(prev->acct->page_size - prev->len), hole_end - cur);
            if (fill) {
                memcpy(prev->data + prev->len, data + (cur - s), take);
                prev->len += (uint32_t)take;
            }
            *new_bytes += take;
            *fresh = true;
            cur += take;
            continue;
        }
        size_t take = (size_t)MIN((uint64_t)ps, hole_end - cur);
        if (fill) {
            sr__page *p = sr__page_get(x->acct);
            if (!p) {
                *nomem = true;
                return need;
            }
            p->offset = cur;
            p->at = x->now;
            p->seg_start = x->seg_start;
            p->seg_end = x->seg_end;
            p->len = (uint32_t)take;
            memcpy(p->data, data + (cur - s), take);
            g_tree_insert(t, &p->offset, p);
            h->side->npages++;
            sr__pool_pages_add(c, 1);
        }
        need++;
        *new_bytes += take;
        *fresh = true;
        cur += take;
    }
    return need;
}

static void note_overlap(sr__ctx *x, sr__conn *c, sr_direction dir, bool conflict)
{
    if (!(x->status & SR_SEG_OVERLAP)) {
        x->status |= SR_SEG_OVERLAP;
        SR__COUNT(x->acct, overlaps, 1);
    }
    if (conflict && !(x->status & SR_SEG_CONFLICT)) {
        x->status |= SR_SEG_CONFLICT;
        SR__COUNT(x->acct, overlap_conflicts, 1);
        sr__side *sd = side_get(x, c, &c->half[dir]); /* exists: see drop_bytes */
        if (sd)
            sd->conflicts++;
    }
}

/* Remember that [from, to) is known missing (the snaplen cut it), on the
 * buffered page that ends inside or exactly at `from`, if there is one. */
static void note_cut_tail(sr__ctx *x, sr__conn *c, sr__half *h, uint64_t from, uint64_t to)
{
    if (to <= from)
        return;
    sr__page *p = NULL;
    GTree *t = h->side ? h->side->pages : NULL;
    if (t && from > 0) {
        uint64_t key = from - 1;
        GTreeNode *n = g_tree_upper_bound(t, &key);
        GTreeNode *pn = n ? g_tree_node_previous(n) : g_tree_node_last(t);
        p = pn ? g_tree_node_value(pn) : NULL;
    }
    if (p && p->offset + p->len >= from && p->offset + p->len < to) {
        p->gap_end = MAX(p->gap_end, to);
    } else if (p == NULL || p->offset + p->len < from) {
        /* No page to hang it on: remember where such bytes were claimed,
         * so a FIN below them counts them as dropped (the extent covers
         * them otherwise, and they end as a gap). Without memory for that
         * (counted as no_memory) they end as a gap in any case: claimed
         * bytes that were never captured, so no captured byte is lost. */
        sr__side *sd = side_get(x, c, h);
        if (!sd)
            return;
        sd->cut_lo = sd->cut_hi ? MIN(sd->cut_lo, from) : from;
        sd->cut_hi = MAX(sd->cut_hi, to);
    }
}

/* Buffer captured bytes [off, off + len) beyond the edge. */
static int buffer_ooo(sr__ctx *x, sr__conn *c, sr_direction dir, const uint8_t *data,
                      size_t len, uint64_t off)
{
    sr__half *h = &c->half[dir];
    if (len == 0)
        return LIMIT_NONE;
    bool overlap = false, conflict = false, nomem = false, fresh = false, replace = false;
    uint64_t want = 0, put = 0;
    size_t need = walk(x, c, h, data, off, off + len, false, &overlap, &conflict, &nomem, &fresh,
                       &want, &replace);
    if (overlap)
        note_overlap(x, c, dir, conflict);
    if (!fresh) {
        if (!(x->status & SR_SEG_RETRANSMISSION)) {
            x->status |= SR_SEG_RETRANSMISSION;
            SR__COUNT(x->acct, retransmissions, 1);
        }
        if (replace) /* no new page: bytes written over, in place */
            walk(x, c, h, data, off, off + len, true, &overlap, &conflict, &nomem, &fresh, &put,
                 &replace);
        return LIMIT_NONE;
    }
    /* Both limits are checked before anything is allocated; the total is
     * reserved atomically, so no thread can push it over the cap. */
    if (need > 0) {
        if (atomic_load(&c->pages) + need > x->opt->max_buffered_pages_per_connection)
            return LIMIT_CONN;
        if (!sr__acct_reserve(x->acct, need))
            return LIMIT_TOTAL;
    }
    sr__side *sd = side_get(x, c, h);
    if (sd && !sd->pages)
        sd->pages = g_tree_new_full(page_cmp, NULL, NULL, NULL);
    if (!sd) {
        /* No memory for the direction's page tree: like a failed page
         * (nothing was stored, so every byte of the segment is lost). */
        if (need > 0)
            sr__acct_unreserve(x->acct, need);
        drop_bytes(x, c, dir, want, 0);
        return LIMIT_NOMEM;
    }
    if (sd->npages == 0)
        sd->oldest_at = x->now; /* new pages are never older than this */
    size_t got = walk(x, c, h, data, off, off + len, true, &overlap, &conflict, &nomem, &fresh,
                      &put, &replace);
    if (got < need && !nomem)
        sr__acct_unreserve(x->acct, need - got); /* cannot happen: same steps */
    if (nomem) {
        /* sr__page_get gave back the failed page's reservation. The bytes
         * that found no page are lost: counted, not hidden. */
        if (need > got + 1)
            sr__acct_unreserve(x->acct, need - got - 1);
        if (want > put)
            drop_bytes(x, c, dir, want - put, 0);
        return LIMIT_NOMEM;
    }
    if (!(x->status & SR_SEG_OUT_OF_ORDER)) {
        x->status |= SR_SEG_OUT_OF_ORDER;
        SR__COUNT(x->acct, out_of_order_segments, 1);
    }
    return LIMIT_NONE;
}

/* Deliver a segment that starts exactly at the edge: its own bytes without
 * copying, interleaved with buffered pages it runs into (whose bytes the
 * overlap policy may give to this segment: then they are written over the
 * page before it is delivered), then whatever became contiguous.
 *
 *   edge
 *   v
 *   [--segment-----------------------]........missing (snaplen)....]
 *            [=page=]    [==page==]
 *   deliver: seg | page | seg | page | seg | skip to min(end, next page)
 */
static void deliver_inorder(sr__ctx *x, sr__conn *c, sr_direction dir, const uint8_t *data,
                            size_t len, uint64_t off, uint64_t end)
{
    sr__half *h = &c->half[dir];
    uint64_t dend = off + len;
    bool overlap = false, conflict = false;
    while (h->next < dend) {
        uint64_t pos = h->next;
        sr__page *p = first_page(h);
        if (p && p->offset <= pos) {
            uint64_t oe = MIN(p->offset + p->len, dend);
            if (oe > pos) {
                overlap = true;
                uint8_t *old = p->data + (pos - p->offset);
                if (memcmp(old, data + (pos - off), oe - pos) != 0) {
                    conflict = true;
                    page_conflict(p, old, data + (pos - off));
                    if (new_wins(x, p))
                        memcpy(old, data + (pos - off), oe - pos);
                }
            }
            deliver_page(x, c, dir, p, 0, 0);
        } else {
            uint64_t lim = p ? MIN(p->offset, dend) : dend;
            h->next = lim;
            x->status |= SR_SEG_IN_ORDER;
            emit(x, c, dir, data + (pos - off), (size_t)(lim - pos), pos, 0, 0, x->seg_stable);
        }
    }
    if (overlap)
        note_overlap(x, c, dir, conflict);
    if (end > h->next) {
        /* The snaplen cut the tail off: a gap we know of now, up to the
         * first buffered byte. */
        sr__page *p = first_page(h);
        skip_to(x, c, dir, p ? MIN(p->offset, end) : end, 0);
    }
    deliver_contiguous(x, c, dir, 0);
    /* What of the cut tail lies beyond the buffered pages just delivered
     * is remembered like any cut no page could note, so a FIN that comes
     * inside it later counts it as dropped (FINDINGS F8). */
    if (end > h->next)
        note_cut_tail(x, c, h, h->next, end);
}

/* Report END once a direction has delivered up to its FIN. */
static void check_fin(sr__ctx *x, sr__conn *c, sr_direction dir)
{
    sr__half *h = &c->half[dir];
    if (h->fin_known && !h->finished && h->next >= h->extent) { /* extent = FIN */
        h->finished = true;
        emit(x, c, dir, NULL, 0, h->next, 0, SR_CHUNK_END, false);
    }
}

/* Once the FIN is known, bytes buffered beyond it are not stream data:
 * drop them (they were never counted in a delivered/skipped total) and
 * pull the extent back, so nothing can follow the END chunk.
 *
 *   fin                v
 *   pages:   [====][===|==]   [=====]
 *   after:   [====][===]                (straddler cut, beyond dropped) */
/* [lo, hi) joins a union of intervals taken in ascending order of lo,
 * counted up to *covered: how many of its bytes are new to it. */
static uint64_t union_add(uint64_t *covered, uint64_t lo, uint64_t hi)
{
    uint64_t from = MAX(lo, *covered);
    if (hi <= from)
        return 0;
    *covered = hi;
    return hi - from;
}

static void trim_beyond_fin(sr__ctx *x, sr__conn *c, sr_direction dir, uint64_t fin)
{
    sr__half *h = &c->half[dir];
    uint64_t lost = 0;
    /* From now on the extent is the FIN's offset: nothing goes beyond it,
     * and the segment that carries the FIN reaches it. */
    h->extent = fin;
    /* Every page's claimed bytes beyond the FIN - its captured ones and its
     * known-missing (snaplen-cut) tail, [offset, max(end, gap_end)) - are
     * counted once: the union, walked in ascending order, since a tail may
     * reach past the pages above it (a later segment's new bytes in their
     * own page inside it: FINDINGS F7, F9):
     *
     *        fin
     *   [pg]~~|~~   [pg~~~~]   [pg]~~~     ~ = claimed, not captured
     *      ^^^^^^   ^^^^^^^^   ^^^^^^ dropped, counted
     *               [pg]~~~~~~~~~~~~~  [pg]~~      a tail over a page:
     *               ^^^^^^^^^^^^^^^^^^^^^^^^ once */
    /* With them, in the same union, the claimed bytes beyond the FIN that
     * no page noted (sd->cut_lo..cut_hi, the hull of them, which may include
     * holes between such segments: counted, not lost); a later segment's
     * captured bytes inside that hull have a page, and are counted once. */
    sr__side *sd = h->side;
    bool hull = sd && sd->cut_hi > fin;
    uint64_t hull_lo = hull ? MAX(sd->cut_lo, fin) : 0, hull_hi = hull ? sd->cut_hi : 0;
    uint64_t covered = fin; /* counted up to here (the union, ascending) */
    if (sr__half_npages(h) > 0) {
        for (GTreeNode *n = g_tree_node_first(h->side->pages); n; n = g_tree_node_next(n)) {
            sr__page *p = g_tree_node_value(n);
            if (hull && hull_lo <= p->offset) {
                lost += union_add(&covered, hull_lo, hull_hi);
                hull = false;
            }
            lost += union_add(&covered, p->offset, MAX(p->offset + p->len, p->gap_end));
            /* Below the FIN: no page keeps bytes or a tail beyond it. */
            if (p->offset >= fin)
                continue;
            if (p->offset + p->len > fin) {
                p->len = (uint32_t)(fin - p->offset);
                p->gap_end = 0;
                /* Its conflicting bytes may all lie beyond the FIN (F13). */
                if ((p->flags & SR_CHUNK_CONFLICT) && p->conflict_at >= p->len)
                    p->flags &= ~(uint32_t)SR_CHUNK_CONFLICT;
            } else if (p->gap_end > fin) {
                p->gap_end = fin;
            }
        }
    }
    /* Beyond it: the pages go, from the last down. */
    while (sr__half_npages(h) > 0) {
        GTreeNode *n = g_tree_node_last(h->side->pages);
        sr__page *p = n ? g_tree_node_value(n) : NULL;
        if (!p || p->offset < fin)
            break;
        drop_page(c, h, p);
    }
    if (hull)
        lost += union_add(&covered, hull_lo, hull_hi);
    if (sd && sd->cut_hi > fin)
        sd->cut_hi = sd->cut_lo < fin ? fin : 0;
    if (lost)
        drop_bytes(x, c, dir, lost, 0);
}

/* Sequence number to stream offset, relative to the edge so that it works
 * for any stream length (RFC 1982 comparison of 32-bit values). */
static int64_t offset_of(const sr__half *h, uint32_t seq)
{
    /* Relative to the highest byte seen, not the delivery edge: with a
     * large hole (a capture that lost gigabytes) the edge stays behind
     * while the sender moves on, and each new segment is close to the
     * last one, not to the edge. */
    uint64_t ref = MAX(h->next, h->extent);
    uint32_t ref_seq = h->base_seq + (uint32_t)ref;
    int32_t d = (int32_t)(seq - ref_seq);
    return (int64_t)ref + d;
}

/* How far an RST's sequence number may lie outside what its sender has
 * sent, either way, and still be taken as the sender's own. A real stack
 * only accepts an RST inside its receive window (RFC 5961); we do not track
 * windows, so this is a generous stand-in for one. */
#define SR__RST_WINDOW ((int64_t)1 << 20)

/* An RST completes the connection, unless it cannot be the peer's own:
 *  - from a side that has sent nothing yet, it must acknowledge the other
 *    side's SYN when it says what it acknowledges (ack 0 = not given);
 *  - otherwise its sequence number must lie within SR__RST_WINDOW of
 *    [delivery edge, highest byte seen + 1] (the +1: an RST after a FIN).
 *      ....|<- window ->[next ...... extent+1]<- window ->|....
 * Others are ignored and the stream goes on: blind resets, and the RST a
 * client sends in reply to a stray ACK (its seq is that ACK's number). */
static bool rst_acceptable(const sr__half *h, const sr__half *o, const sr_segment *seg)
{
    if (!h->started)
        return !((seg->flags & SR_TCP_ACK) && seg->ack != 0 && o->syn_seen &&
                 seg->ack != o->base_seq && !(o->alt_valid && seg->ack == o->side->alt_isn + 1u));
    int64_t off = offset_of(h, seg->seq);
    int64_t lo = (int64_t)h->next - SR__RST_WINDOW;
    int64_t hi = (int64_t)MAX(h->next, h->extent) + 1 + SR__RST_WINDOW;
    return off >= lo && off <= hi;
}

/* A direction is fresh while it has delivered, skipped and buffered
 * nothing: its ISN can still change without moving a byte handed out. */
static bool half_fresh(const sr__half *h)
{
    return h->next == 0 && h->extent == 0 && sr__half_npages(h) == 0 && !h->fin_known;
}

static void use_alt_isn(sr__ctx *x, sr__half *h)
{
    h->base_seq = h->side->alt_isn + 1u; /* the ISN is base_seq - 1 */
    h->alt_valid = false;
    x->status |= SR_SEG_ISN_CHANGED;
    SR__COUNT(x->acct, isn_changes, 1);
}

/* Which ISN a direction starts at when its SYN came twice with different
 * numbers (a server answering a TCP Fast Open SYN twice, with a new ISN
 * the second time). A TCP client takes the SYN-ACK it acknowledges, so
 * while the direction is fresh:
 *  - a SYN with another ISN is kept as the alternative (the latest one);
 *  - the alternative wins once the other side acknowledges it (ack ==
 *    alt + 1), or once this direction's data lies within the window after
 *    the alternative but not within the window after the current ISN:
 *
 *      ISN+1 [---- window ----]          alt+1 [---- window ----]
 *                                               ^ data: alt wins
 * Returns true for the alternative SYN itself, which is not taken. */
static bool choose_isn(sr__ctx *x, sr__conn *c, sr__half *h, sr__half *o, const sr_segment *seg,
                       uint32_t data_seq, size_t claimed)
{
    const bool syn = seg->flags & SR_TCP_SYN;
    if (syn && h->syn_seen && seg->seq != h->base_seq - 1u && half_fresh(h)) {
        /* Without memory to keep it (counted), the alternative is not
         * remembered; the SYN is set aside all the same. */
        sr__side *sd = side_get(x, c, h);
        if (sd) {
            h->alt_valid = true;
            sd->alt_isn = seg->seq;
        }
        return true;
    }
    if (h->alt_valid && !syn && claimed > 0 && half_fresh(h)) {
        uint32_t d_cur = data_seq - h->base_seq, d_alt = data_seq - (h->side->alt_isn + 1u);
        if (d_alt < x->opt->max_window && d_cur >= x->opt->max_window)
            use_alt_isn(x, h);
    }
    if (o->alt_valid && (seg->flags & SR_TCP_ACK) && seg->ack == o->side->alt_isn + 1u &&
        half_fresh(o))
        use_alt_isn(x, o);
    return false;
}

sr_error sr__conn_segment(sr__ctx *x, sr__conn *c, sr_direction dir, const sr_segment *seg)
{
    sr__half *h = &c->half[dir];
    sr__half *o = &c->half[!dir];
    const bool syn = seg->flags & SR_TCP_SYN;
    const bool fin = seg->flags & SR_TCP_FIN;
    const bool rst = seg->flags & SR_TCP_RST;
    size_t len = seg->payload_len;
    const size_t claimed = seg->claimed_len ? seg->claimed_len : len;
    const uint8_t *data = seg->payload;
    x->seg_stable = seg->payload_stable;
    const uint32_t data_seq = seg->seq + (syn ? 1u : 0u); /* SYN takes one */
    sr_error ret = SR_OK;
    /* A side that held pages before this segment and holds nothing after
     * it is freed at the end (a filled hole). One made for a segment that
     * then needed no count (a retransmission of skipped bytes) is left for
     * the sweep: freeing it here costs a malloc and a free per segment on
     * a stream of such retransmissions. */
    const bool had_pages = sr__half_npages(h) + sr__half_npages(o) > 0;
    /* Whether an RST may end the connection is judged on the state before
     * its own data (below). */
    bool rst_ok = rst && rst_acceptable(h, o, seg);

    if (choose_isn(x, c, c->half + dir, o, seg, data_seq, claimed)) {
        /* The alternative SYN's own data, if any, sits where no position
         * is known yet; the sender retransmits it once its ISN is taken. */
        if (claimed > 0) {
            if (!side_get(x, c, h))
                return SR_ERR_NO_MEMORY; /* nothing of it taken */
            drop_bytes(x, c, dir, claimed, 0);
        }
        goto after_data;
    }
    if (syn && (seg->flags & SR_TCP_ACK) && seg->ack != 0 && !o->started) {
        /* A SYN-ACK acknowledges the other side's ISN + 1: where that
         * side's stream starts, though its SYN was not seen (lost, before
         * the capture, or in a connection that timed out). Started at its
         * first data segment instead, the direction would drop the earlier
         * bytes that reordering brings after it. */
        o->started = o->start_pending = true;
        o->base_seq = seg->ack;
    }
    if (syn && !h->started) {
        h->started = h->syn_seen = h->start_pending = true;
        h->base_seq = data_seq;
    } else if (!h->started) {
        if (claimed == 0 && !fin) {
            /* A bare ACK or RST carries no position we can trust yet. */
            goto after_data;
        }
        h->started = true;
        h->base_seq = data_seq;
    }
    if (claimed == 0 && !fin)
        goto after_data; /* nothing to place: a bare ACK, RST or SYN */

    int64_t off = offset_of(h, data_seq);
    int64_t end = off + (int64_t)claimed;
    /* Only a segment that starts exactly at the edge, before any FIN is
     * known, can be taken without dropping or conflicting (it may overlap
     * buffered pages: then the side exists already). Any other needs the
     * side for its counts: made now, or the segment is refused whole. */
    if (!h->side && (off != (int64_t)h->next || h->fin_known) && !side_get(x, c, h))
        return SR_ERR_NO_MEMORY;
    x->seg_start = off;
    x->seg_end = end;
    /* The window is measured from the highest byte seen, not from the
     * edge: behind a hole that is never filled (a capture that lost
     * gigabytes) the edge stays put while the sender goes on, and each new
     * segment is near the previous one. */
    uint64_t top = MAX(h->next, h->extent);
    if (off > (int64_t)top && (uint64_t)off - top >= x->opt->max_window) {
        x->status |= SR_SEG_OUT_OF_WINDOW;
        SR__COUNT(x->acct, out_of_window, 1);
        drop_bytes(x, c, dir, claimed, 0);
        return SR_OK;
    }
    if (off < 0) {
        /* Before the direction's start: a direction seen without its SYN
         * starts at its first segment, and reordering at the start of the
         * capture brings earlier bytes later. Delivery has begun, so they
         * cannot be placed; they are counted, not lost.
         *
         *   [--dropped--|--taken--]
         *               0 (start) */
        int64_t cut_end = MIN(end, 0);
        drop_bytes(x, c, dir, (uint64_t)(cut_end - off), SR_SEG_BEFORE_START);
        SR__COUNT(x->acct, before_start, 1);
        size_t cut = (size_t)MIN((uint64_t)(cut_end - off), (uint64_t)len);
        if (cut) /* data may be NULL when nothing was captured */
            data += cut;
        len -= cut;
        off = cut_end;
    }
    if (fin && !h->fin_known && end >= (int64_t)h->next) {
        /* A FIN below the delivered edge contradicts bytes already handed
         * out; it is ignored rather than ending the stream in the past. */
        h->fin_known = true;
        trim_beyond_fin(x, c, dir, (uint64_t)end);
    }
    /* Nothing is taken beyond a known FIN; what lies there is dropped. */
    if (h->fin_known && end > (int64_t)h->extent) {
        int64_t from = MAX(off, (int64_t)h->extent);
        drop_bytes(x, c, dir, (uint64_t)(end - from), 0);
        end = (int64_t)h->extent;
    }
    if (end > (int64_t)h->extent)
        h->extent = (uint64_t)end;
    if (end > off) {
        if (end <= (int64_t)h->next) {
            x->status |= SR_SEG_RETRANSMISSION;
            SR__COUNT(x->acct, retransmissions, 1);
            note_overlap(x, c, dir, hist_differs(h, data, off, MIN(len, (size_t)(end - off))));
            goto after_data;
        }
        if (off + (int64_t)len > end)
            len = (size_t)(end - off); /* only beyond a FIN */
        if (off < (int64_t)h->next) {
            /* Starts before the edge: the old part is compared with what
             * the history still holds, then dropped (first copy wins). */
            uint64_t trim = h->next - (uint64_t)off;
            size_t dtrim = (size_t)MIN(trim, (uint64_t)len);
            note_overlap(x, c, dir, hist_differs(h, data, off, dtrim));
            if (dtrim)
                data += dtrim;
            len -= dtrim;
            off = (int64_t)h->next;
        }
        for (;;) {
            if (off < (int64_t)h->next) {
                /* A flush below moved the edge past (part of) us. */
                uint64_t trim = h->next - (uint64_t)off;
                size_t dtrim = (size_t)MIN(trim, (uint64_t)len);
                if (dtrim)
                    data += dtrim;
                len -= dtrim;
                off = (int64_t)h->next;
                if (off >= end)
                    break;
            }
            if (off == (int64_t)h->next) {
                deliver_inorder(x, c, dir, data, len, (uint64_t)off, (uint64_t)end);
                break;
            }
            int r = buffer_ooo(x, c, dir, data, len, (uint64_t)off);
            if (r == LIMIT_NONE) {
                note_cut_tail(x, c, h, (uint64_t)off + len, (uint64_t)end);
                break;
            }
            if (r == LIMIT_NOMEM) {
                ret = SR_ERR_NO_MEMORY;
                break;
            }
            if (r == LIMIT_CONN && !(x->status & SR_SEG_LIMIT_CONNECTION)) {
                x->status |= SR_SEG_LIMIT_CONNECTION;
                SR__COUNT(x->acct, limit_hits_connection, 1);
            } else if (r == LIMIT_TOTAL && !(x->status & SR_SEG_LIMIT_TOTAL)) {
                x->status |= SR_SEG_LIMIT_TOTAL;
                SR__COUNT(x->acct, limit_hits_total, 1);
            }
            /* Make room: this direction's data before us first, then the
             * other direction's, and if neither exists skip the gap before
             * this segment, which then needs no page at all. Each round
             * frees a page or moves the edge to us, so this ends. */
            sr__page *p = first_page(h);
            if (p && p->offset < (uint64_t)off)
                flush_first_run(x, c, dir);
            else if (first_page(o))
                flush_first_run(x, c, !dir);
            else
                skip_to(x, c, dir, (uint64_t)off, SR_CHUNK_FLUSHED);
        }
    }

after_data:
    if (h->fin_known) /* the test check_fin starts with, saving two calls */
        check_fin(x, c, dir);
    if (o->fin_known)
        check_fin(x, c, !dir);
    if (rst_ok) {
        sr__conn_finish(x, c, SR_CLOSE_RST);
        x->status |= SR_SEG_CLOSED;
    } else if (h->finished && o->finished) {
        sr__conn_finish(x, c, SR_CLOSE_FIN);
        x->status |= SR_SEG_CLOSED;
    } else if (c->failed) {
        sr__conn_finish(x, c, SR_CLOSE_CALLBACK_ERROR);
        x->status |= SR_SEG_CLOSED;
    }
    if (had_pages)
        sr__conn_trim_sides(c);
    return ret;
}

void sr__conn_drain(sr__ctx *x, sr__conn *c)
{
    for (int d = 0; d < 2; d++) {
        sr__half *h = &c->half[d];
        /* Bytes we know existed but never saw (lost tail, data before a
         * FIN that never came) end the stream as a gap. */
        if (h->started && h->extent > h->next)
            skip_to(x, c, (sr_direction)d, h->extent, SR_CHUNK_FLUSHED);
        check_fin(x, c, (sr_direction)d);
    }
}
