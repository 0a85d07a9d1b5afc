/* driver.c - the core's callbacks, and building records from them.
 *
 * packet_ctx is a srp_ctx: for a frame it names the frame's builder, so a
 * chunk of any connection released while that frame is fed (an idle flush
 * of another connection, an eviction) lands in that frame's record. During
 * the end-of-capture flush the builder is NULL and each chunk is filed
 * under the last frame of its own connection instead.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#define WS_LOG_DOMAIN "safereasm"

#include <wireshark.h>
#include <epan/column-utils.h>
#include <epan/frame_data.h>
#include <epan/packet.h>

#include "driver.h"
#include "sr-fault.h"
#include "ws-compat.h"

/* What a record is built from; reset and reused for every frame. */
typedef struct srp_builder {
    guint32 frame;
    GArray *chunks;            /* srp_chunk */
    GArray *closes;            /* srp_close */
    GByteArray *data;
    GArray *divs;              /* srp_div */
    GByteArray *div_data;
    GArray *srcs;              /* srp_src of the chunks */
    gboolean limit_hit;        /* the retained-bytes limit refused bytes here */
    gboolean transient;        /* its record lives until the next frame (one pass) */
} srp_builder;

/* Per direction: where its stream offsets are in sequence space, and the
 * segments whose bytes are buffered, so a released run can name the
 * frames it came from and a buffered segment the frame that released it.
 *
 *   seq:     base_seq ......... seq ......... seq+len
 *   offset:  0 ................ start ....... end      (64-bit, see to_offset)
 *
 * base_seq comes from the SYN (ISN + 1), else from the first segment seen,
 * and is corrected by every in-order run taken straight from a segment
 * (its offset and its place in that segment's payload are both known). */
typedef struct srp_piece {
    guint32 frame;
    guint64 start, end;        /* stream offsets of the segment's bytes */
} srp_piece;

typedef struct srp_track {
    guint64 key;               /* conn_id << 1 | dir */
    guint32 base_seq;
    gboolean have_base;
    guint64 hi;                /* highest offset seen, to extend 32-bit offsets */
    GArray *pieces;            /* srp_piece, buffered segments, arrival order */
} srp_track;

/* detect_divergence: a core per other overlap policy, fed the same segments.
 * Its callbacks only copy what it releases into the driver's comparison
 * list; its connection ids equal the shown core's, because connections are
 * created, evicted and closed alike under every policy (a policy decides
 * only which bytes a buffered page keeps, never how many pages). */
typedef struct srp_alt {
    srp_driver *d;
    guint policy;              /* sr_overlap_policy */
    sr_pool *pool;
    sr_assembler *assembler;
} srp_alt;

/* One chunk some policy's core released in the current step (a frame, or
 * the end-of-capture flush), for the comparison. */
typedef struct srp_dv_chunk {
    guint64 conn_id;
    guint64 offset;
    guint64 len;
    guint32 bytes_off;         /* in srp_driver.dv_bytes */
    guint32 frame;             /* the shown policy's: the record it went to */
    guint32 seq;               /* arrival order, to keep the sort stable */
    guint8 dir;
    guint8 policy;
    guint8 has_bytes;
} srp_dv_chunk;

/* A segment of a direction that was buffered, or overlapped seen data, while
 * something was buffered: a candidate carrier of bytes the policies keep
 * differently. */
typedef struct srp_dv_seg {
    guint32 frame;
    guint64 start, end;        /* stream offsets of its payload */
} srp_dv_seg;

/* Candidate segments a direction remembers at most while it has buffered
 * data (beyond it, the oldest are forgotten and a divergence may name
 * fewer segments than carried its bytes). */
#define SRP_DV_MAX_SEGS 4096u

/* Per direction: the candidate segments since nothing was buffered. */
typedef struct srp_dv_dir {
    guint64 key;               /* conn_id << 1 | dir */
    GArray *segs;              /* srp_dv_seg, arrival order */
    gboolean diverged;
} srp_dv_dir;

/* A segment whose bytes the policies resolve differently: where that
 * divergence is shown (its release record) and which one it is. */
typedef struct srp_dv_link {
    guint32 release;           /* frame of the record holding the divergence */
    guint32 index;             /* in that record's divs */
    gboolean end_flush;        /* the record is the release frame's end-flush one */
} srp_dv_link;

/* Our per-connection handle, returned by new_stream. */
typedef struct srp_stream {
    guint64 id;                /* key in srp_driver.streams */
    guint32 last_frame;        /* last frame that carried a segment of it */
} srp_stream;

/* What the driver counts itself for a connection that dropped bytes: the
 * core reports dropped bytes per segment (sr_result) but dropped segments
 * only to callbacks. Kept only for connections that dropped something, and
 * beyond their completion so a late segment still shows the totals: at
 * most one per connection with a drop, each smaller than the frame record
 * of the segment that created it. */
typedef struct srp_drop_tally {
    guint64 id;                /* key in srp_driver.drop_tallies */
    guint64 dropped[2];        /* the core's totals after its last segment */
    guint64 segs[2];           /* segments with SR_SEG_DROPPED */
    srp_seg_drops *shown;      /* the file-scope copy segments point at */
} srp_drop_tally;

typedef struct srp_ctx {
    srp_driver *d;
    srp_builder *builder;      /* NULL: file under the connection's last frame */
    const srp_seg_input *cur;  /* the segment being fed, or NULL */
} srp_ctx;

struct srp_driver {
    sr_pool *pool;
    sr_assembler *assembler;
    sr_error setup_error;
    GHashTable *streams;       /* guint64 id -> srp_stream (owned) */
    GHashTable *drop_tallies;  /* guint64 id -> srp_drop_tally (owned) */
    srp_builder frame_builder;
    GHashTable *end_builders;  /* frame -> srp_builder (during the end flush) */
    GHashTable *end_records;   /* frame -> const srp_record (file scope) */
    const srp_record *last_snap;
    srp_snapshot last_abs;     /* last_snap's absolute values */
    guint64 n_snaps;           /* snapshots taken (every SRP_SNAP_KEY_EVERY-th a key) */
    /* Released bytes copied into records (SRP_BYTES_RECORD) so far, and
     * the preference that bounds them; beyond it a chunk keeps its offset
     * and length only (SRP_BYTES_OVER_LIMIT). */
    guint64 retained;
    guint64 max_retained;
    gboolean retained_hit;     /* the limit refused bytes once already */
    /* Whether the program keeps every frame, so that any frame may be
     * dissected again (see classify_frames), and what a record of the
     * previous frame borrowed until that frame's dissection ended when it
     * does not: copies of released bytes, and (without detect_divergence)
     * the whole record. */
    srp_frames_kept frames;
    GPtrArray *transient;      /* g_malloc'd blocks of the previous frame's record */
    /* Where a transient record's parts go first: one block reused frame
     * after frame (what does not fit goes to transient), so an ordinary
     * one-pass frame makes no allocation for its record. */
    guint8 *scratch;
    gsize scratch_used;
    GArray *chunk_srcs;        /* srp_src: builder_add_chunk's, reused */
    srp_record *transient_rec; /* a record whose copied bytes are among them */
    const srp_record *transient_whole; /* the record, when all of it is among them */
    guint64 held;              /* bytes of released-byte copies allocated now */
    guint32 last_frame;
    gboolean ended;
    gboolean closing;          /* being freed: callbacks only release handles */
    /* detect_divergence */
    guint policy;              /* the shown policy */
    gboolean divergence;
    srp_alt alt[SR_POLICY_COUNT_]; /* [policy]; alt[policy] of the shown one unused */
    GArray *dv_chunks;         /* srp_dv_chunk of the current step */
    GByteArray *dv_bytes;
    GHashTable *dv_dirs;       /* guint64 key -> srp_dv_dir (owned) */
    GHashTable *dv_links;      /* segment frame -> srp_dv_link (owned) */
    GHashTable *div_records;   /* frame -> its frame record, when it has divs */
    guint32 dv_seq;
    /* frame links */
    GHashTable *tracks;        /* guint64 key -> srp_track (owned) */
    GHashTable *released_in;   /* frame of a buffered segment -> frame that released it */
};

/* ------------------------------------------------------------ builders */

static void
builder_init(srp_builder *b, guint32 frame)
{
    b->frame = frame;
    b->chunks = g_array_new(FALSE, FALSE, (guint)sizeof(srp_chunk));
    b->closes = g_array_new(FALSE, FALSE, (guint)sizeof(srp_close));
    b->data = g_byte_array_new();
    b->divs = g_array_new(FALSE, FALSE, (guint)sizeof(srp_div));
    b->div_data = g_byte_array_new();
    b->srcs = g_array_new(FALSE, FALSE, (guint)sizeof(srp_src));
}

static void
builder_clear(srp_builder *b)
{
    if (b->chunks)
        g_array_free(b->chunks, TRUE);
    if (b->closes)
        g_array_free(b->closes, TRUE);
    if (b->data)
        g_byte_array_free(b->data, TRUE);
    if (b->divs)
        g_array_free(b->divs, TRUE);
    if (b->div_data)
        g_byte_array_free(b->div_data, TRUE);
    if (b->srcs)
        g_array_free(b->srcs, TRUE);
    memset(b, 0, sizeof *b);
}

static void
builder_free(gpointer p)
{
    builder_clear(p);
    g_free(p);
}

static void
builder_reset(srp_builder *b, guint32 frame)
{
    b->frame = frame;
    b->limit_hit = FALSE;
    g_array_set_size(b->chunks, 0);
    g_array_set_size(b->closes, 0);
    g_byte_array_set_size(b->data, 0);
    g_array_set_size(b->divs, 0);
    g_byte_array_set_size(b->div_data, 0);
    g_array_set_size(b->srcs, 0);
}

#define SRP_SCRATCH_SIZE 4096u

/* n bytes that live until the next frame's transient_release: from the
 * scratch block while it has room, else a block of their own. */
static void *
transient_alloc(srp_driver *d, gsize n)
{
    gsize off = (d->scratch_used + 15u) & ~(gsize)15u;
    void *q;

    if (d->scratch == NULL)
        d->scratch = g_malloc(SRP_SCRATCH_SIZE);
    if (off <= SRP_SCRATCH_SIZE && n <= SRP_SCRATCH_SIZE - off) {
        d->scratch_used = off + n;
        return d->scratch + off;
    }
    q = g_malloc(n);
    g_ptr_array_add(d->transient, q);
    return q;
}

/* A copy of n bytes for a record built by b: in wmem_file_scope(), or,
 * for a transient record, memory that lives until the next frame is
 * processed (transient_alloc, transient_release). */
static void *
rec_memdup(srp_driver *d, const srp_builder *b, const void *p, gsize n)
{
    void *q;

    if (!b->transient)
        return wmem_memdup(wmem_file_scope(), p, n);
    q = transient_alloc(d, n);
    memcpy(q, p, n);
    return q;
}

/* Does the chunk lie inside the payload of the segment being fed? Then it
 * is the frame's own bytes (the core's in-order path does not copy). */
static gboolean
in_segment(const srp_seg_input *cur, const sr_chunk *c)
{
    const guint8 *p;

    if (cur == NULL || cur->seg.payload == NULL || c->data == NULL)
        return FALSE;
    p = cur->seg.payload;
    /* Compare as integers: pointers into different objects are not ordered. */
    return (uintptr_t)c->data >= (uintptr_t)p &&
           c->len <= cur->seg.payload_len &&
           (uintptr_t)c->data - (uintptr_t)p <= cur->seg.payload_len - c->len;
}

/* May n more released bytes be copied into a record? Counts them if so.
 * Otherwise notes, once per capture, the record where bytes were first
 * refused (its expert info says why). */
static gboolean
retain(srp_driver *d, srp_builder *b, guint64 n)
{
    if (n <= d->max_retained && d->retained <= d->max_retained - n) {
        d->retained += n;
        return TRUE;
    }
    if (!d->retained_hit) {
        d->retained_hit = TRUE;
        b->limit_hit = TRUE;
    }
    return FALSE;
}

/* ------------------------------------------------------------ tracks */

static void
track_free(gpointer p)
{
    srp_track *t = p;

    g_array_free(t->pieces, TRUE);
    g_free(t);
}

static srp_track *
track_get(srp_driver *d, guint64 conn_id, guint dir)
{
    guint64 key = conn_id << 1 | (dir & 1);
    srp_track *t = g_hash_table_lookup(d->tracks, &key);

    if (t == NULL) {
        t = g_new0(srp_track, 1);
        t->key = key;
        t->pieces = g_array_new(FALSE, FALSE, (guint)sizeof(srp_piece));
        /* replace, not insert: the key lives inside the value. */
        g_hash_table_replace(d->tracks, &t->key, t);
    }
    return t;
}

/* The 64-bit stream offset of sequence number seq: the 32-bit distance
 * from base_seq, taken as the value nearest to the highest offset seen. */
static guint64
to_offset(const srp_track *t, guint32 seq)
{
    guint32 off32 = seq - t->base_seq;
    gint32 delta = (gint32)(off32 - (guint32)t->hi);

    if (delta < 0 && (guint64)(-(gint64)delta) > t->hi)
        return off32;
    return (guint64)((gint64)t->hi + delta);
}

/* Which frames supplied the run [off, off+len) of a direction: the pieces
 * it covers, each byte credited to the piece that starts first (the frame
 * that carried it first); the pieces released in full are forgotten and
 * linked to the releasing frame. */
static void
track_release(srp_driver *d, srp_track *t, guint64 off, guint64 len, guint32 frame,
              GArray *srcs)
{
    guint64 end = off + len, cursor = off;
    GArray *p = t->pieces;

    /* Few pieces: a simple selection of the next start is enough. */
    while (cursor < end) {
        guint best = G_MAXUINT;

        for (guint i = 0; i < p->len; i++) {
            const srp_piece *pc = &g_array_index(p, srp_piece, i);

            if (pc->end > cursor && pc->start < end &&
                (best == G_MAXUINT ||
                 MAX(pc->start, cursor) < MAX(g_array_index(p, srp_piece, best).start, cursor)))
                best = i;
        }
        if (best == G_MAXUINT)
            break;
        {
            const srp_piece *pc = &g_array_index(p, srp_piece, best);
            guint64 s0 = MAX(pc->start, cursor), e0 = MIN(pc->end, end);
            srp_src src = { pc->frame, (guint32)MIN(e0 - s0, G_MAXUINT32) };

            if (srcs->len > 0 && g_array_index(srcs, srp_src, srcs->len - 1).frame == src.frame)
                g_array_index(srcs, srp_src, srcs->len - 1).bytes += src.bytes;
            else
                g_array_append_val(srcs, src);
            cursor = e0;
        }
    }
    for (guint i = 0; i < p->len;) {
        srp_piece *pc = &g_array_index(p, srp_piece, i);

        if (pc->end <= end && pc->start < end) {
            /* Only a later dissection of pc->frame shows the link. */
            if (frame != 0 && pc->frame != frame && d->frames != SRP_FRAMES_NOT_KEPT &&
                !g_hash_table_contains(d->released_in, GUINT_TO_POINTER(pc->frame)))
                g_hash_table_insert(d->released_in, GUINT_TO_POINTER(pc->frame),
                                    GUINT_TO_POINTER(frame));
            g_array_remove_index(p, i);
        } else {
            if (pc->start < end)
                pc->start = end;
            i++;
        }
    }
}

/* ------------------------------------------------------------ chunks */

/* Join the chunk to the last one when it continues it: same direction,
 * no gap between. The bytes are copied into the record when they cannot
 * both stay in the frame. Returns FALSE if the chunk starts a new run. */
static gboolean
builder_join(srp_builder *b, const srp_ctx *ctx, guint64 conn_id, const sr_chunk *c,
             gboolean own, guint32 rel, const GArray *srcs)
{
    srp_chunk *l;

    if (b->chunks->len == 0 || c->skipped != 0)
        return FALSE;
    l = &g_array_index(b->chunks, srp_chunk, b->chunks->len - 1);
    /* A change of the conflict flag starts a new run too, so the flag
     * marks exactly the bytes that came again with other content. */
    if (c->len > 0 && ((l->flags ^ c->flags) & SR_CHUNK_CONFLICT))
        return FALSE;
    if (l->conn_id != conn_id || l->dir != (guint8)c->dir || l->offset + l->len != c->offset ||
        l->source == SRP_BYTES_NONE || (l->flags & SR_CHUNK_END) ||
        l->src_first + l->n_src != b->srcs->len)
        return FALSE;
    if (c->len == 0) {
        /* An END marker alone: a flag of the run. */
    } else if (own && l->source == SRP_BYTES_FRAME && l->tcp_ordinal == ctx->cur->tcp_ordinal &&
               l->data_off + l->len == rel) {
        /* Both are this frame's own, next to each other. */
    } else if (l->source == SRP_BYTES_OVER_LIMIT) {
        /* The run's bytes are not kept: it only grows, and is cut where a
         * run without the limit would be. */
        if (c->data == NULL || l->len + c->len > SRP_MAX_RECORD_DATA - b->data->len)
            return FALSE;
    } else {
        const guint8 *prev = NULL;

        if (c->data == NULL || l->len + c->len > SRP_MAX_RECORD_DATA - b->data->len)
            return FALSE;
        if (l->source == SRP_BYTES_RECORD && l->data_off + l->len != b->data->len)
            return FALSE;
        /* A run that starts in the segment being fed and goes on in
         * buffered pages: its first bytes are in that segment. */
        if (l->source == SRP_BYTES_FRAME &&
            (ctx->cur == NULL || l->tcp_ordinal != ctx->cur->tcp_ordinal ||
             l->data_off < ctx->cur->payload_rel ||
             l->data_off - ctx->cur->payload_rel + l->len > ctx->cur->seg.payload_len))
            return FALSE;
        if (!retain(ctx->d, b, (l->source == SRP_BYTES_FRAME ? l->len : 0) + c->len)) {
            /* Over the limit: the whole run is not kept (its bytes so far
             * given back), so it joins exactly as without the limit. */
            if (l->source == SRP_BYTES_RECORD) {
                ctx->d->retained -= l->len;
                g_byte_array_set_size(b->data, l->data_off);
            }
            l->source = SRP_BYTES_OVER_LIMIT;
            l->data_off = 0;
            goto grow;
        }
        if (l->source == SRP_BYTES_FRAME) {
            prev = ctx->cur->seg.payload + (l->data_off - ctx->cur->payload_rel);
            l->source = SRP_BYTES_RECORD;
            l->data_off = b->data->len;
            g_byte_array_append(b->data, prev, (guint)l->len);
        } else if (l->data_off + l->len != b->data->len) {
            return FALSE;
        }
        g_byte_array_append(b->data, c->data, (guint)c->len);
    }
grow:
    l->len += c->len;
    l->flags |= (guint8)(c->flags & ~SR_CHUNK_START);
    for (guint i = 0; i < srcs->len; i++) {
        srp_src s = g_array_index(srcs, srp_src, i);

        if (l->n_src > 0 && g_array_index(b->srcs, srp_src, b->srcs->len - 1).frame == s.frame) {
            g_array_index(b->srcs, srp_src, b->srcs->len - 1).bytes += s.bytes;
        } else {
            g_array_append_val(b->srcs, s);
            l->n_src++;
        }
    }
    return TRUE;
}

static void
builder_add_chunk(srp_builder *b, const srp_ctx *ctx, guint64 conn_id, const sr_chunk *c)
{
    srp_driver *d = ctx->d;
    srp_chunk ch;
    /* Only while this chunk is added: one array reused for every chunk. */
    GArray *srcs = d->chunk_srcs;
    gboolean own = c->len > 0 && in_segment(ctx->cur, c);
    guint64 rel = 0;
    srp_track *t = track_get(d, conn_id, c->dir);

    g_array_set_size(srcs, 0);

    if (own) {
        guint64 k = (guint64)((uintptr_t)c->data - (uintptr_t)ctx->cur->seg.payload);
        srp_src src = { b->frame, (guint32)MIN(c->len, G_MAXUINT32) };

        rel = ctx->cur->payload_rel + k;
        /* The segment's own bytes: its offset fixes where the stream
         * starts in sequence space. */
        t->base_seq = ctx->cur->seg.seq + (guint32)k - (guint32)c->offset;
        t->have_base = TRUE;
        t->hi = MAX(t->hi, c->offset + c->len);
        g_array_append_val(srcs, src);
        track_release(d, t, c->offset, c->len, 0, srcs);
        g_array_set_size(srcs, 1);
    } else if (c->len > 0) {
        track_release(d, t, c->offset, c->len, b->frame, srcs);
    }
    if (builder_join(b, ctx, conn_id, c, own, (guint32)MIN(rel, G_MAXUINT32), srcs))
        return;

    memset(&ch, 0, sizeof ch);
    ch.conn_id = conn_id;
    ch.offset = c->offset;
    ch.skipped = c->skipped;
    ch.len = c->len;
    ch.dir = (guint8)c->dir;
    ch.flags = (guint8)c->flags;
    ch.source = SRP_BYTES_RECORD;
    ch.src_first = b->srcs->len;
    ch.n_src = srcs->len;
    g_array_append_vals(b->srcs, srcs->data, srcs->len);
    if (c->len > 0) {
        if (own && rel <= G_MAXINT32) {
            ch.source = SRP_BYTES_FRAME;
            ch.tcp_ordinal = ctx->cur->tcp_ordinal;
            ch.data_off = (guint32)rel;
        } else if (c->data != NULL && c->len <= SRP_MAX_RECORD_DATA - b->data->len) {
            /* Borrowed for the callback only: copy now (if the limit allows). */
            if (retain(d, b, c->len)) {
                ch.data_off = b->data->len;
                g_byte_array_append(b->data, c->data, (guint)c->len);
            } else {
                ch.source = SRP_BYTES_OVER_LIMIT;
            }
        } else {
            ch.source = SRP_BYTES_NONE;
        }
    }
    g_array_append_val(b->chunks, ch);
}

static void
builder_add_close(srp_driver *d, srp_builder *b, const sr_conn_info *info,
                  sr_close_reason reason)
{
    srp_close cl;
    srp_close_totals t;

    memset(&cl, 0, sizeof cl);
    memset(&t, 0, sizeof t);
    cl.conn_id = info->id;
    t.delivered[0] = info->delivered[0];
    t.delivered[1] = info->delivered[1];
    t.skipped[0] = info->skipped[0];
    t.skipped[1] = info->skipped[1];
    t.dropped[0] = info->dropped[0];
    t.dropped[1] = info->dropped[1];
    t.dropped_segs[0] = info->dropped_segments[0];
    t.dropped_segs[1] = info->dropped_segments[1];
    {
        static const srp_close_totals zero;

        /* Every builder becomes a record, so its scope is right here. */
        if (memcmp(&t, &zero, sizeof t) != 0)
            cl.totals = rec_memdup(d, b, &t, sizeof t);
    }
    cl.reason = (guint8)reason;
    g_array_append_val(b->closes, cl);
}

/* A file-scope record with copies of what the builder holds, the frame's
 * segments, and (snapshot) the global counters now, delta-encoded against
 * the last snapshot. Segments and snapshot share the record's block: most
 * frames need no other allocation. */
static srp_record *
builder_freeze(srp_driver *d, const srp_builder *b, srp_record_kind kind,
               const srp_seg *segs, guint n_segs, gboolean snapshot)
{
    guint8 enc[SRP_SNAP_ENC_MAX];
    /* When frames are not kept, the snapshot chain is not kept either
     * (transient records are freed, end-flush records are never shown):
     * every snapshot is a key, so none is decoded through prev. A
     * transient record keeps its counters plain instead (record.h). */
    gboolean chain = d->frames != SRP_FRAMES_NOT_KEPT;
    gboolean plain = snapshot && b->transient;
    gsize snap_size = 0, segs_size = (gsize)n_segs * sizeof(srp_seg);
    srp_snapshot cur;
    srp_record *r;

    G_STATIC_ASSERT(sizeof(srp_record) % sizeof(guint64) == 0);
    G_STATIC_ASSERT(sizeof(srp_seg) % sizeof(guint64) == 0);
    if (snapshot) {
        /* On an error the core's counters read as 0, as before. */
        (void)srp_snapshot_take(d->pool, d->assembler, &cur);
        cur.v[SRP_SNAP_RETAINED] = d->retained;
        if (plain)
            snap_size = 2 * sizeof(srp_snapshot);
        else
            snap_size = srp_snap_encode(&cur, &d->last_abs,
                                        !chain || d->n_snaps % SRP_SNAP_KEY_EVERY == 0, enc);
    }
    /* sizeof(srp_record) and sizeof(srp_seg) are multiples of 8, so the
     * segments and plain counters after the record are aligned. */
    if (b->transient) {
        r = transient_alloc(d, sizeof *r + segs_size + snap_size);
        memset(r, 0, sizeof *r);
        d->transient_whole = r;
    } else {
        r = wmem_alloc0(wmem_file_scope(), sizeof *r + segs_size + snap_size);
    }
    r->frame = b->frame;
    r->kind = (guint8)kind;
    r->retained_limit_hit = b->limit_hit ? 1 : 0;
    if (n_segs > 0) {
        r->segs = (srp_seg *)(void *)(r + 1);
        memcpy(r->segs, segs, segs_size);
        r->n_segs = (guint8)n_segs;
    }
    if (plain) {
        srp_snapshot *ps = (srp_snapshot *)(void *)((guint8 *)(r + 1) + segs_size);

        ps[0] = cur;
        for (int i = 0; i < SRP_N_SNAP; i++)
            ps[1].v[i] = cur.v[i] - d->last_abs.v[i];
        r->snap_abs = &ps[0];
        r->snap_delta = &ps[1];
    } else if (snapshot) {
        guint8 *e = (guint8 *)(r + 1) + segs_size;

        memcpy(e, enc, snap_size);
        r->snap = e;
    }
    if (snapshot) {
        r->has_snapshot = 1;
        r->prev = chain ? d->last_snap : NULL;
        d->last_snap = chain ? r : NULL;
        d->last_abs = cur;
        d->n_snaps++;
    }
    r->n_chunks = b->chunks->len;
    if (r->n_chunks)
        r->chunks = rec_memdup(d, b, b->chunks->data, r->n_chunks * sizeof(srp_chunk));
    r->n_closes = b->closes->len;
    if (r->n_closes)
        r->closes = rec_memdup(d, b, b->closes->data, r->n_closes * sizeof(srp_close));
    r->data_len = b->data->len;
    if (r->data_len) {
        /* Copies of released bytes: needed only while this frame is
         * dissected when no frame is dissected again. */
        if (kind == SRP_REC_FRAME && d->frames == SRP_FRAMES_NOT_KEPT) {
            guint8 *q = g_malloc(r->data_len);

            memcpy(q, b->data->data, r->data_len);
            g_ptr_array_add(d->transient, q);
            d->transient_rec = r;
            r->data = q;
        } else {
            r->data = wmem_memdup(wmem_file_scope(), b->data->data, r->data_len);
        }
        d->held += r->data_len;
    }
    r->n_divs = b->divs->len;
    if (r->n_divs)
        r->divs = rec_memdup(d, b, b->divs->data, r->n_divs * sizeof(srp_div));
    if (b->div_data->len)
        r->div_data = rec_memdup(d, b, b->div_data->data, b->div_data->len);
    r->n_srcs = b->srcs->len;
    if (r->n_srcs)
        r->srcs = rec_memdup(d, b, b->srcs->data, r->n_srcs * sizeof(srp_src));
    return r;
}

/* Where a callback's output goes. */
static srp_builder *
builder_for(srp_driver *d, srp_ctx *ctx, const srp_stream *s)
{
    guint32 frame;
    srp_builder *b;

    if (ctx->builder != NULL)
        return ctx->builder;
    if (d->end_builders == NULL)
        return NULL;
    frame = (s != NULL && s->last_frame != 0) ? s->last_frame : d->last_frame;
    b = g_hash_table_lookup(d->end_builders, GUINT_TO_POINTER(frame));
    if (b == NULL) {
        b = g_new0(srp_builder, 1);
        builder_init(b, frame);
        g_hash_table_insert(d->end_builders, GUINT_TO_POINTER(frame), b);
    }
    return b;
}

/* ------------------------------------------------------------ divergence */

static srp_builder *dv_end_builder(srp_driver *d, guint32 frame);

static void
dv_add_chunk(srp_driver *d, guint policy, guint32 frame, guint64 conn_id, const sr_chunk *c)
{
    srp_dv_chunk e;

    if (c->len == 0)
        return;
    /* A run released by one call in several pieces (the core hands over a
     * page at a time, and where a policy replaced bytes the pieces differ
     * between policies) is one run here. */
    if (d->dv_chunks->len > 0 && c->skipped == 0 && c->data != NULL) {
        srp_dv_chunk *l = &g_array_index(d->dv_chunks, srp_dv_chunk, d->dv_chunks->len - 1);

        if (l->policy == policy && l->conn_id == conn_id && l->dir == (guint8)c->dir &&
            l->has_bytes && l->offset + l->len == c->offset &&
            l->bytes_off + l->len == d->dv_bytes->len &&
            c->len <= SRP_MAX_RECORD_DATA - d->dv_bytes->len) {
            g_byte_array_append(d->dv_bytes, c->data, (guint)c->len);
            l->len += c->len;
            return;
        }
    }
    memset(&e, 0, sizeof e);
    e.conn_id = conn_id;
    e.offset = c->offset;
    e.len = c->len;
    e.frame = frame;
    e.seq = d->dv_seq++;
    e.dir = (guint8)c->dir;
    e.policy = (guint8)policy;
    /* Borrowed for the callback only: copy now. */
    if (c->data != NULL && c->len <= SRP_MAX_RECORD_DATA - d->dv_bytes->len) {
        e.bytes_off = d->dv_bytes->len;
        e.has_bytes = 1;
        g_byte_array_append(d->dv_bytes, c->data, (guint)c->len);
    }
    g_array_append_val(d->dv_chunks, e);
}

static gint
dv_cmp(gconstpointer pa, gconstpointer pb)
{
    const srp_dv_chunk *a = pa, *b = pb;

    if (a->conn_id != b->conn_id)
        return a->conn_id < b->conn_id ? -1 : 1;
    if (a->dir != b->dir)
        return a->dir < b->dir ? -1 : 1;
    if (a->policy != b->policy)
        return a->policy < b->policy ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static srp_dv_dir *
dv_dir(srp_driver *d, guint64 conn_id, guint dir, gboolean create)
{
    guint64 key = conn_id << 1 | (dir & 1);
    srp_dv_dir *e = g_hash_table_lookup(d->dv_dirs, &key);

    if (e == NULL && create) {
        e = g_new0(srp_dv_dir, 1);
        e->key = key;
        e->segs = g_array_new(FALSE, FALSE, (guint)sizeof(srp_dv_seg));
        /* replace, not insert: the key lives inside the value. */
        g_hash_table_replace(d->dv_dirs, &e->key, e);
    }
    return e;
}

static void
dv_dir_free(gpointer p)
{
    srp_dv_dir *e = p;

    g_array_free(e->segs, TRUE);
    g_free(e);
}

/* Forget the candidates wholly before stream offset end (released). */
static void
dv_dir_prune(srp_dv_dir *dd, guint64 end)
{
    for (guint i = 0; i < dd->segs->len;) {
        if (g_array_index(dd->segs, srp_dv_seg, i).end <= end)
            g_array_remove_index(dd->segs, i);
        else
            i++;
    }
}

/* The candidates of dd that carry a byte of one of the differing ranges
 * diff[0..n) ([start, end) pairs): at most SRP_DIV_MAX_FRAMES of them go
 * into dv->frames, in frame order; every one is linked to the divergence. */
static void
dv_name_segments(srp_driver *d, srp_dv_dir *dd, const guint64 *diff, guint n, srp_div *dv,
                 guint32 release, guint index, gboolean end_flush)
{
    for (guint i = 0; i < dd->segs->len; i++) {
        const srp_dv_seg *sg = &g_array_index(dd->segs, srp_dv_seg, i);
        gboolean hit = FALSE;

        for (guint k = 0; k < n && !hit; k++)
            hit = sg->start < diff[2 * k + 1] && diff[2 * k] < sg->end;
        if (!hit)
            continue;
        if (!g_hash_table_contains(d->dv_links, GUINT_TO_POINTER(sg->frame))) {
            srp_dv_link *l = g_new0(srp_dv_link, 1);

            l->release = release;
            l->index = index;
            l->end_flush = end_flush;
            g_hash_table_insert(d->dv_links, GUINT_TO_POINTER(sg->frame), l);
        }
        /* Insert in frame order, once. */
        {
            guint k = 0;

            while (k < dv->n_frames && dv->frames[k] < sg->frame)
                k++;
            if (k < dv->n_frames && dv->frames[k] == sg->frame)
                continue;
            if (dv->n_frames < SRP_DIV_MAX_FRAMES) {
                memmove(&dv->frames[k + 1], &dv->frames[k],
                        (dv->n_frames - k) * sizeof dv->frames[0]);
                dv->frames[k] = sg->frame;
                dv->n_frames++;
            }
        }
    }
}

/* The byte at stream offset off of one policy's chunks c[0..n), or -1. */
static int
dv_byte(const srp_driver *d, const srp_dv_chunk *c, guint n, guint64 off)
{
    for (guint i = 0; i < n; i++)
        if (off >= c[i].offset && off - c[i].offset < c[i].len)
            return c[i].has_bytes ? d->dv_bytes->data[c[i].bytes_off + (off - c[i].offset)]
                                  : -1;
    return -1;
}

/* Compare what every policy released in this step, per direction. The
 * policies release the same extents at the same frame (they differ only in
 * which copy of a byte a page keeps); a direction where that does not hold
 * is not compared. get_builder gives the record a divergence goes to: the
 * one the shown policy's chunk went to. */
static void
dv_compare(srp_driver *d, srp_builder *(*get_builder)(srp_driver *, guint32))
{
    srp_dv_chunk *all;
    guint n, i = 0;

    if (!d->divergence || d->dv_chunks->len == 0)
        goto done;
    g_array_sort(d->dv_chunks, dv_cmp);
    all = (srp_dv_chunk *)(void *)d->dv_chunks->data;
    n = d->dv_chunks->len;
    while (i < n) {
        const srp_dv_chunk *pc[SR_POLICY_COUNT_];
        guint pn[SR_POLICY_COUNT_];
        guint j = i, ok = TRUE;
        guint64 first = G_MAXUINT64, last = 0, released_end;
        guint8 group_of[SR_POLICY_COUNT_];
        guint rep[SR_POLICY_COUNT_];
        guint n_groups = 0;

        memset(pn, 0, sizeof pn);
        memset(pc, 0, sizeof pc);
        while (j < n && all[j].conn_id == all[i].conn_id && all[j].dir == all[i].dir) {
            if (pn[all[j].policy]++ == 0)
                pc[all[j].policy] = &all[j];
            j++;
        }
        /* Same extents under every policy, else skip. */
        for (guint p = 0; p < SR_POLICY_COUNT_ && ok; p++) {
            if (pn[p] != pn[d->policy])
                ok = FALSE;
            for (guint k = 0; ok && k < pn[p]; k++)
                if (pc[p][k].offset != pc[d->policy][k].offset ||
                    pc[p][k].len != pc[d->policy][k].len || !pc[p][k].has_bytes)
                    ok = FALSE;
        }
        if (!ok || pn[d->policy] == 0) {
            i = j;
            continue;
        }
        released_end = 0;
        for (guint k = 0; k < pn[d->policy]; k++)
            released_end = MAX(released_end, pc[d->policy][k].offset + pc[d->policy][k].len);
        /* Group the policies by the bytes they kept; group 0 is the shown one. */
        for (guint p = 0; p < SR_POLICY_COUNT_; p++)
            group_of[p] = 0xff;
        rep[n_groups++] = d->policy;
        group_of[d->policy] = 0;
        for (guint p = 0; p < SR_POLICY_COUNT_; p++) {
            if (p == d->policy)
                continue;
            for (guint g = 0; g < n_groups && group_of[p] == 0xff; g++) {
                gboolean same = TRUE;

                for (guint k = 0; k < pn[p] && same; k++)
                    same = memcmp(d->dv_bytes->data + pc[p][k].bytes_off,
                                  d->dv_bytes->data + pc[rep[g]][k].bytes_off,
                                  (size_t)pc[p][k].len) == 0;
                if (same)
                    group_of[p] = (guint8)g;
            }
            if (group_of[p] == 0xff) {
                group_of[p] = (guint8)n_groups;
                rep[n_groups++] = p;
            }
        }
        if (n_groups > 1) {
            const srp_dv_chunk *m = pc[d->policy];
            srp_builder *b = get_builder(d, m[0].frame);
            srp_dv_dir *dd = dv_dir(d, m[0].conn_id, m[0].dir, TRUE);
            srp_div dv;
            GArray *diff = g_array_new(FALSE, FALSE, (guint)sizeof(guint64));

            /* First and last byte on which any group differs from the
             * shown one, and the ranges of differing bytes. */
            for (guint k = 0; k < pn[d->policy]; k++) {
                for (guint64 o = 0; o < m[k].len; o++) {
                    guint8 v = d->dv_bytes->data[m[k].bytes_off + o];
                    guint64 at = m[k].offset + o;

                    for (guint g = 1; g < n_groups; g++) {
                        if (d->dv_bytes->data[pc[rep[g]][k].bytes_off + o] != v) {
                            first = MIN(first, at);
                            last = MAX(last, at);
                            if (diff->len > 0 &&
                                g_array_index(diff, guint64, diff->len - 1) == at) {
                                g_array_index(diff, guint64, diff->len - 1) = at + 1;
                            } else {
                                guint64 range[2] = { at, at + 1 };

                                g_array_append_vals(diff, range, 2);
                            }
                            break;
                        }
                    }
                }
            }
            memset(&dv, 0, sizeof dv);
            dv.conn_id = m[0].conn_id;
            dv.dir = m[0].dir;
            dv.offset = first;
            dv.len = last - first + 1;
            dv.n_groups = (guint8)n_groups;
            memcpy(dv.group_of, group_of, sizeof dv.group_of);
            dv.first_in_dir = !dd->diverged;
            dd->diverged = TRUE;
            if (b != NULL)
                dv_name_segments(d, dd, (const guint64 *)(void *)diff->data, diff->len / 2,
                                 &dv, b->frame, b->divs->len, get_builder == dv_end_builder);
            g_array_free(diff, TRUE);
            if (b != NULL) {
                dv.data_len = (guint32)MIN(dv.len, SRP_DIV_MAX_BYTES);
                for (guint g = 0; g < n_groups; g++) {
                    dv.data_off[g] = b->div_data->len;
                    for (guint64 o = 0; o < dv.data_len; o++) {
                        int v = dv_byte(d, pc[rep[g]], pn[rep[g]], first + o);
                        guint8 byte = (guint8)(v < 0 ? 0 : v);

                        g_byte_array_append(b->div_data, &byte, 1);
                    }
                }
                g_array_append_val(b->divs, dv);
            }
        }
        {
            srp_dv_dir *dd = dv_dir(d, all[i].conn_id, all[i].dir, FALSE);

            if (dd != NULL)
                dv_dir_prune(dd, released_end);
        }
        i = j;
    }
done:
    g_array_set_size(d->dv_chunks, 0);
    g_byte_array_set_size(d->dv_bytes, 0);
}

static srp_builder *
dv_frame_builder(srp_driver *d, guint32 frame _U_)
{
    return &d->frame_builder;
}

static srp_builder *
dv_end_builder(srp_driver *d, guint32 frame)
{
    return d->end_builders ? g_hash_table_lookup(d->end_builders, GUINT_TO_POINTER(frame))
                           : NULL;
}

/* The other policies' cores: a handle per connection is required (NULL
 * refuses the connection); the alt itself serves. */
static void *
alt_new_stream(void *user_data, const sr_conn_info *info _U_, void *packet_ctx _U_)
{
    return user_data;
}

static int
alt_on_data(void *user_data, void *stream _U_, const sr_conn_info *info,
            const sr_chunk *chunk, void *packet_ctx)
{
    srp_alt *a = user_data;

    /* No ctx: being torn down. */
    if (a == NULL || a->d->closing || packet_ctx == NULL || info == NULL || chunk == NULL)
        return 0;
    dv_add_chunk(a->d, a->policy, 0, info->id, chunk);
    return 0;
}

static void
alt_on_complete(void *user_data _U_, void *stream _U_, const sr_conn_info *info _U_,
                sr_close_reason reason _U_, void *packet_ctx _U_)
{
}

static void
alt_setup(srp_driver *d, const sr_options *options, size_t max_connections)
{
    for (guint p = 0; p < SR_POLICY_COUNT_; p++) {
        srp_alt *a = &d->alt[p];
        sr_stream_factory f = {
            .new_stream = alt_new_stream,
            .on_data = alt_on_data,
            .on_complete = alt_on_complete,
            .user_data = a,
        };
        sr_options o = *options;
        sr_error err = SR_OK;

        a->d = d;
        a->policy = p;
        if (p == d->policy)
            continue;
        o.overlap_policy = (sr_overlap_policy)p;
        a->pool = sr_pool_new_with_allocator(&f, max_connections, sr_fault_allocator(), &err);
        if (a->pool == NULL || sr_assembler_new(a->pool, &o, &a->assembler) != SR_OK) {
            /* Without every policy there is nothing to compare. */
            d->divergence = FALSE;
            return;
        }
    }
}

/* ------------------------------------------------------------ callbacks */

static void *
cb_new_stream(void *user_data, const sr_conn_info *info, void *packet_ctx)
{
    srp_driver *d = user_data;
    srp_ctx *ctx = packet_ctx;
    srp_stream *s;

    if (d == NULL || info == NULL)
        return NULL;
    s = g_new0(srp_stream, 1);
    s->id = info->id;
    s->last_frame = (ctx != NULL && ctx->builder != NULL) ? ctx->builder->frame
                                                          : d->last_frame;
    /* replace, not insert: the key lives inside the value. */
    g_hash_table_replace(d->streams, &s->id, s);
    return s;
}

static int
cb_on_data(void *user_data, void *stream, const sr_conn_info *info,
           const sr_chunk *chunk, void *packet_ctx)
{
    srp_driver *d = user_data;
    srp_ctx *ctx = packet_ctx;
    srp_builder *b;

    /* No ctx: the core is being torn down (cleanup routine); nothing is
     * dissected any more, so the bytes have nowhere to go. */
    if (d == NULL || d->closing || ctx == NULL || info == NULL || chunk == NULL)
        return 0;
    b = builder_for(d, ctx, stream);
    if (b != NULL) {
        builder_add_chunk(b, ctx, info->id, chunk);
        if (d->divergence)
            dv_add_chunk(d, d->policy, b->frame, info->id, chunk);
    }
    return 0;
}

static void
cb_on_complete(void *user_data, void *stream, const sr_conn_info *info,
               sr_close_reason reason, void *packet_ctx)
{
    srp_driver *d = user_data;
    srp_ctx *ctx = packet_ctx;
    srp_stream *s = stream;

    if (d == NULL)
        return;
    if (!d->closing && ctx != NULL && info != NULL) {
        srp_builder *b = builder_for(d, ctx, s);

        if (b != NULL)
            builder_add_close(d, b, info, reason);
    }
    if (info != NULL && !d->closing) {
        for (guint64 dir = 0; dir < 2; dir++) {
            guint64 key = info->id << 1 | dir;

            g_hash_table_remove(d->tracks, &key);
        }
    }
    if (s != NULL)
        g_hash_table_remove(d->streams, &s->id); /* frees s */
}

/* ------------------------------------------------------------ driver */

/* Free what the previous frame's record borrowed (frames not kept). A
 * record that outlives it (divergence on) loses its copied bytes: drawn
 * again, which no one-pass program does, its chunks would show
 * data_dropped instead of pointing at freed memory. */
static void
transient_release(srp_driver *d)
{
    if (d->transient_rec != NULL) {
        d->held -= d->transient_rec->data_len;
        d->transient_rec->data = NULL;
        d->transient_rec->data_len = 0;
        d->transient_rec = NULL;
    }
    d->transient_whole = NULL;
    if ((d->transient != NULL && d->transient->len > 0) || d->scratch_used > 0) {
        if (d->transient != NULL)
            g_ptr_array_set_size(d->transient, 0);
        d->scratch_used = 0;
        /* A freed record's address may be reused: no snapshot cache may
         * take a new record for an old one. */
        srp_record_generation++;
    }
}

/* Does the session know frame num? frame_data_compare() by delta time
 * looks up the frame before each frame_data through the program's packet
 * provider (epan_get_frame_ts, which is not exported itself) and takes a
 * zero delta for a frame it does not know; equal deltas are then ordered
 * by frame number. Two probes after frame num at different times, with
 * the same number: their deltas differ exactly when num is known. */
static gboolean
session_knows_frame(const packet_info *pinfo, guint32 num)
{
    frame_data a = *pinfo->fd, b = *pinfo->fd;

    a.num = b.num = num + 1;
    nstime_set_zero(&a.abs_ts);
    nstime_set_zero(&b.abs_ts);
    b.abs_ts.secs = 1;
    return frame_data_compare(pinfo->epan, &a, &b, COL_DELTA_TIME) != 0;
}

/* Frames at which the program is probed: from 5 on, again at powers of
 * two until 64; past it, a run still unclassified keeps every record. */
#define SRP_CLASSIFY_UNTIL 64

/* Does the program keep every frame? One-pass tshark keeps only the
 * reference frame (the first), the previous displayed and the previous
 * captured one, so at frame n >= 5 it knows at most one of frames n-2
 * and n-3; two-pass tshark, the GUI and sharkd know both. The probe must first
 * prove itself on this program: it must find the previous frame (every
 * program keeps it) and not a frame that cannot exist yet; otherwise
 * nothing changes. "Kept" is probed again until SRP_CLASSIFY_UNTIL (the
 * previous displayed frame may be 2 or 3 for a while); "not kept" is
 * final. */
static void
classify_frames(srp_driver *d, const packet_info *pinfo)
{
    guint32 n = pinfo->num;
    gboolean known2, known3;

    enum ws_log_level level;

    if (d->frames == SRP_FRAMES_NOT_KEPT || n < 5 || n > SRP_CLASSIFY_UNTIL ||
        (n != 5 && (n & (n - 1)) != 0) || pinfo->epan == NULL)
        return;
    /* Wireshark warns on stderr of each frame it cannot find (its
     * epan_get_frame_ts): silenced while probing, and no probe where that
     * does not work (a warning made fatal, --log-fatal). */
    level = ws_log_get_level();
    ws_log_set_level(LOG_LEVEL_CRITICAL);
    if (ws_log_msg_is_active(NULL, LOG_LEVEL_WARNING) || ws_log_msg_is_active("", LOG_LEVEL_WARNING) ||
        !session_knows_frame(pinfo, n - 1) || session_knows_frame(pinfo, G_MAXUINT32 - 1)) {
        ws_log_set_level(level);
        return;
    }
    known2 = session_knows_frame(pinfo, n - 2);
    known3 = session_knows_frame(pinfo, n - 3);
    ws_log_set_level(level);
    d->frames = (known2 || known3) ? SRP_FRAMES_KEPT : SRP_FRAMES_NOT_KEPT;
    SRP_TRACE("frames %s (frame %u: frame %u %s, %u %s)",
             d->frames == SRP_FRAMES_KEPT ? "kept" : "not kept", n,
             n - 2, known2 ? "known" : "unknown", n - 3, known3 ? "known" : "unknown");
}

void
srp_driver_see_frame(srp_driver *d, const packet_info *pinfo)
{
    if (d != NULL && pinfo != NULL && pinfo->fd != NULL)
        classify_frames(d, pinfo);
}

srp_frames_kept
srp_driver_frames_kept(const srp_driver *d)
{
    return d != NULL ? d->frames : SRP_FRAMES_UNKNOWN;
}

gboolean
srp_driver_record_transient(const srp_driver *d, const srp_record *r)
{
    return d != NULL && r != NULL && d->transient_whole == r;
}

guint64
srp_driver_copies_held(const srp_driver *d)
{
    return d != NULL ? d->held : 0;
}

srp_driver *
srp_driver_new(const sr_options *options, size_t max_connections, gboolean divergence)
{
    srp_driver *d = g_new0(srp_driver, 1);
    sr_stream_factory factory = {
        .new_stream = cb_new_stream,
        .on_data = cb_on_data,
        .on_complete = cb_on_complete,
        .user_data = d,
    };
    sr_error err = SR_OK;

    d->streams = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    d->drop_tallies = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    d->end_records = g_hash_table_new(g_direct_hash, g_direct_equal);
    d->tracks = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, track_free);
    d->released_in = g_hash_table_new(g_direct_hash, g_direct_equal);
    d->max_retained = SRP_DEFAULT_MAX_RETAINED;
    d->transient = g_ptr_array_new_with_free_func(g_free);
    d->chunk_srcs = g_array_sized_new(FALSE, FALSE, (guint)sizeof(srp_src), 4);
    builder_init(&d->frame_builder, 0);

    d->pool = sr_pool_new_with_allocator(&factory, max_connections, sr_fault_allocator(), &err);
    if (d->pool == NULL) {
        d->setup_error = err != SR_OK ? err : SR_ERR_NO_MEMORY;
        return d;
    }
    err = sr_assembler_new(d->pool, options, &d->assembler);
    if (err != SR_OK || d->assembler == NULL) {
        d->setup_error = err != SR_OK ? err : SR_ERR_NO_MEMORY;
        d->assembler = NULL;
        return d;
    }
    d->policy = options->overlap_policy < SR_POLICY_COUNT_ ? options->overlap_policy : 0;
    d->divergence = divergence;
    d->dv_chunks = g_array_new(FALSE, FALSE, (guint)sizeof(srp_dv_chunk));
    d->dv_bytes = g_byte_array_new();
    d->dv_dirs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, dv_dir_free);
    d->dv_links = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    d->div_records = g_hash_table_new(g_direct_hash, g_direct_equal);
    if (divergence)
        alt_setup(d, options, max_connections);
    return d;
}

void
srp_driver_set_max_retained(srp_driver *d, guint64 max_bytes)
{
    if (d != NULL)
        d->max_retained = max_bytes;
}

void
srp_driver_free(srp_driver *d)
{
    if (d == NULL)
        return;
    d->closing = TRUE;
    transient_release(d);
    g_ptr_array_free(d->transient, TRUE);
    g_free(d->scratch);
    g_array_free(d->chunk_srcs, TRUE);
    sr_assembler_free(d->assembler);
    sr_pool_free(d->pool);
    for (guint p = 0; p < SR_POLICY_COUNT_; p++) {
        sr_assembler_free(d->alt[p].assembler);
        sr_pool_free(d->alt[p].pool);
    }
    if (d->dv_chunks)
        g_array_free(d->dv_chunks, TRUE);
    if (d->dv_bytes)
        g_byte_array_free(d->dv_bytes, TRUE);
    if (d->dv_dirs)
        g_hash_table_destroy(d->dv_dirs);
    if (d->dv_links)
        g_hash_table_destroy(d->dv_links);
    if (d->div_records)
        g_hash_table_destroy(d->div_records);
    g_hash_table_destroy(d->streams);
    g_hash_table_destroy(d->drop_tallies);
    if (d->end_builders)
        g_hash_table_destroy(d->end_builders);
    g_hash_table_destroy(d->end_records);
    g_hash_table_destroy(d->tracks);
    g_hash_table_destroy(d->released_in);
    builder_clear(&d->frame_builder);
    g_free(d);
}

/* The dropped totals of a segment's connection, and how many bytes this
 * segment dropped (the rise of its direction's total). */
static void
note_dropped(srp_driver *d, const sr_result *res, srp_seg *s)
{
    guint dir = res->dir == SR_DIR_SERVER_TO_CLIENT ? 1 : 0;
    srp_drop_tally *t;
    srp_seg_drops *sd;

    if (res->conn_id == 0) {
        if (res->dropped[0] != 0 || res->dropped[1] != 0) {
            sd = wmem_new0(wmem_file_scope(), srp_seg_drops);
            sd->dropped[0] = res->dropped[0];
            sd->dropped[1] = res->dropped[1];
            s->drops = sd;
        }
        return;
    }
    t = g_hash_table_lookup(d->drop_tallies, &res->conn_id);
    if (t == NULL) {
        if (!(res->status & SR_SEG_DROPPED) && res->dropped[0] == 0 && res->dropped[1] == 0)
            return;
        t = g_new0(srp_drop_tally, 1);
        t->id = res->conn_id;
        /* replace, not insert: the key lives inside the value. */
        g_hash_table_replace(d->drop_tallies, &t->id, t);
    }
    if (res->dropped[dir] > t->dropped[dir])
        s->dropped_len = (guint32)MIN(res->dropped[dir] - t->dropped[dir], G_MAXUINT32);
    if (res->status & SR_SEG_DROPPED)
        t->segs[dir]++;
    t->dropped[0] = res->dropped[0];
    t->dropped[1] = res->dropped[1];
    /* Once the connection dropped something its totals are not all zero;
     * segments after which they did not change share one copy. */
    sd = t->shown;
    if (sd == NULL || sd->dropped[0] != t->dropped[0] || sd->dropped[1] != t->dropped[1] ||
        sd->dropped_segs[0] != t->segs[0] || sd->dropped_segs[1] != t->segs[1]) {
        sd = wmem_new0(wmem_file_scope(), srp_seg_drops);
        sd->dropped[0] = t->dropped[0];
        sd->dropped[1] = t->dropped[1];
        sd->dropped_segs[0] = t->segs[0];
        sd->dropped_segs[1] = t->segs[1];
        t->shown = sd;
    }
    s->drops = sd;
}

/* After the core took a segment: where its direction starts, and, if some
 * of its bytes wait in a page, which stream range it covers. */
static void
track_segment(srp_driver *d, const srp_seg_input *si, const sr_result *res, guint32 frame)
{
    srp_track *t;
    guint32 len = (guint32)MIN(si->seg.payload_len, G_MAXUINT32);

    if (g_hash_table_lookup(d->streams, &res->conn_id) == NULL)
        return; /* completed by this segment */
    t = track_get(d, res->conn_id, res->dir);
    if ((si->seg.flags & SR_TCP_SYN) &&
        (!t->have_base || (res->status & (SR_SEG_NEW_CONNECTION | SR_SEG_ISN_CHANGED)))) {
        t->base_seq = si->seg.seq + 1;
        t->have_base = TRUE;
        t->hi = 0;
        return;
    }
    if (!t->have_base) {
        t->base_seq = si->seg.seq;
        t->have_base = TRUE;
    }
    if ((res->status & SR_SEG_OUT_OF_ORDER) && len > 0) {
        srp_piece pc;

        pc.frame = frame;
        pc.start = to_offset(t, si->seg.seq);
        pc.end = pc.start + len;
        t->hi = MAX(t->hi, pc.end);
        g_array_append_val(t->pieces, pc);
    }
}

gboolean
srp_driver_released_in(const srp_driver *d, guint32 frame, guint32 *release)
{
    gpointer v;

    if (d == NULL || !g_hash_table_lookup_extended(d->released_in, GUINT_TO_POINTER(frame),
                                                   NULL, &v))
        return FALSE;
    *release = GPOINTER_TO_UINT(v);
    return TRUE;
}

/* Feed one segment to the other policies' cores, and remember it as a
 * candidate for a later divergence when some policy saw it overlap. */
static void
dv_feed_alts(srp_driver *d, const srp_seg_input *si, const sr_result *main_res,
             guint32 frame)
{
    unsigned status = main_res->status;
    int ctx_token = 1; /* non-NULL packet_ctx: not a teardown */

    for (guint p = 0; p < SR_POLICY_COUNT_; p++) {
        sr_result res;

        if (p == d->policy || d->alt[p].assembler == NULL)
            continue;
        memset(&res, 0, sizeof res);
        (void)sr_assemble_ex(d->alt[p].assembler, &si->flow, &si->seg, &ctx_token, &res);
        status |= res.status;
    }
    if ((status & (SR_SEG_OVERLAP | SR_SEG_OUT_OF_ORDER)) && main_res->conn_id != 0 &&
        si->seg.payload_len > 0) {
        guint64 key = main_res->conn_id << 1 | (main_res->dir & 1);
        const srp_track *t = g_hash_table_lookup(d->tracks, &key);
        srp_dv_dir *dd;
        srp_dv_seg sg;

        if (t == NULL || !t->have_base)
            return;
        dd = dv_dir(d, main_res->conn_id, main_res->dir, TRUE);
        sg.frame = frame;
        sg.start = to_offset(t, si->seg.seq + ((si->seg.flags & SR_TCP_SYN) ? 1u : 0u));
        sg.end = sg.start + si->seg.payload_len;
        if (dd->segs->len >= SRP_DV_MAX_SEGS)
            g_array_remove_index(dd->segs, 0);
        g_array_append_val(dd->segs, sg);
    }
}

const srp_record *
srp_driver_process(srp_driver *d, const packet_info *pinfo, const srp_frame_input *in)
{
    srp_builder *b = &d->frame_builder;
    srp_ctx ctx = { d, b, NULL };
    srp_seg segs[SRP_MAX_SEGS_PER_FRAME];
    srp_record *r;
    guint n = MIN(in->n_segs, SRP_MAX_SEGS_PER_FRAME);

    transient_release(d);
    builder_reset(b, pinfo->num);
    /* The record is built first and the frame is dissected with it
     * right away; with divergence, records are kept for the segments
     * whose divergence they show (div_records). */
    b->transient = d->frames == SRP_FRAMES_NOT_KEPT && !d->divergence;
    d->last_frame = pinfo->num;
    memset(segs, 0, sizeof segs);

    for (guint i = 0; i < n; i++) {
        const srp_seg_input *si = &in->segs[i];
        srp_seg *s = &segs[i];
        sr_result res;
        sr_error err;
        srp_stream *st;

        s->zone = si->flow.zone;
        s->captured_len = (guint32)MIN(si->seg.payload_len, G_MAXUINT32);
        s->claimed_len = si->claimed_len;
        s->tcp_stream = si->tcp_stream;
        s->payload_source = si->payload_source;
        s->close_reason = -1;
        if (d->assembler == NULL) {
            s->error = (guint8)d->setup_error;
            continue;
        }
        memset(&res, 0, sizeof res);
        res.close_reason = -1;
        ctx.cur = si;
        err = sr_assemble_ex(d->assembler, &si->flow, &si->seg, &ctx, &res);
        ctx.cur = NULL;
        s->error = (guint8)err;
        s->conn_id = res.conn_id;
        s->dir = (guint8)res.dir;
        s->status = (guint16)res.status;
        s->conn_pages = (guint32)MIN(res.conn_pages, G_MAXUINT32);
        s->delivered[0] = res.delivered[0];
        s->delivered[1] = res.delivered[1];
        s->skipped[0] = res.skipped[0];
        s->skipped[1] = res.skipped[1];
        note_dropped(d, &res, s);
        if ((res.status & SR_SEG_CLOSED) && res.close_reason >= 0 &&
            res.close_reason < SR_CLOSE_REASON_COUNT_)
            s->close_reason = (gint8)res.close_reason;
        if (res.conn_id != 0 &&
            (st = g_hash_table_lookup(d->streams, &res.conn_id)) != NULL)
            st->last_frame = pinfo->num;
        if (res.conn_id != 0 && (err == SR_OK))
            track_segment(d, si, &res, pinfo->num);
        if (d->divergence)
            dv_feed_alts(d, si, &res, pinfo->num);
    }
    if (d->divergence) {
        dv_compare(d, dv_frame_builder);
        /* Nothing buffered any more: earlier overlaps can no longer matter. */
        for (guint i = 0; i < n; i++) {
            srp_dv_dir *dd;

            if (segs[i].conn_id == 0 || segs[i].conn_pages != 0)
                continue;
            for (guint dir = 0; dir < 2; dir++)
                if ((dd = dv_dir(d, segs[i].conn_id, dir, FALSE)) != NULL)
                    g_array_set_size(dd->segs, 0);
        }
    }

    r = builder_freeze(d, b, SRP_REC_FRAME, segs, n, TRUE);
    if (r->n_divs > 0)
        g_hash_table_insert(d->div_records, GUINT_TO_POINTER(r->frame), r);
    r->segs_ignored = (guint8)MIN(in->n_ignored, 255);
    r->setup_error = (guint8)d->setup_error;
    return r;
}

void
srp_driver_end_flush(srp_driver *d)
{
    srp_ctx ctx = { d, NULL, NULL };
    GHashTableIter it;
    gpointer key, value;
    srp_builder *last;

    if (d == NULL || d->ended)
        return;
    d->ended = TRUE;
    transient_release(d);
    if (d->assembler == NULL || d->last_frame == 0)
        return;

    d->end_builders = g_hash_table_new_full(g_direct_hash, g_direct_equal,
                                            NULL, builder_free);
    /* The global snapshot after the flush goes to the last frame. */
    last = g_new0(srp_builder, 1);
    builder_init(last, d->last_frame);
    g_hash_table_insert(d->end_builders, GUINT_TO_POINTER(d->last_frame), last);

    (void)sr_assembler_flush_all(d->assembler, &ctx, NULL);
    if (d->divergence) {
        int ctx_token = 1;

        for (guint p = 0; p < SR_POLICY_COUNT_; p++)
            if (p != d->policy && d->alt[p].assembler != NULL)
                (void)sr_assembler_flush_all(d->alt[p].assembler, &ctx_token, NULL);
        dv_compare(d, dv_end_builder);
    }

    g_hash_table_iter_init(&it, d->end_builders);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const srp_builder *eb = value;
        srp_record *r = builder_freeze(d, eb, SRP_REC_END_FLUSH, NULL, 0,
                                       eb->frame == d->last_frame);

        g_hash_table_insert(d->end_records, key, r);
    }
    g_hash_table_destroy(d->end_builders);
    d->end_builders = NULL;
}

const srp_record *
srp_driver_end_record(const srp_driver *d, guint32 frame)
{
    if (d == NULL)
        return NULL;
    return g_hash_table_lookup(d->end_records, GUINT_TO_POINTER(frame));
}

gboolean
srp_driver_divergence_of(const srp_driver *d, guint32 frame, const srp_record **rec,
                         guint *index)
{
    const srp_dv_link *l;
    const srp_record *r;

    if (d == NULL || d->dv_links == NULL ||
        (l = g_hash_table_lookup(d->dv_links, GUINT_TO_POINTER(frame))) == NULL)
        return FALSE;
    r = l->end_flush ? srp_driver_end_record(d, l->release)
                     : g_hash_table_lookup(d->div_records, GUINT_TO_POINTER(l->release));
    if (r == NULL || l->index >= r->n_divs)
        return FALSE;
    *rec = r;
    *index = l->index;
    return TRUE;
}
