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

#include <wireshark.h>
#include <epan/packet.h>

#include "driver.h"

/* What a record is built from; reset and reused for every frame. */
typedef struct srp_builder {
    guint32 frame;
    GArray *chunks;            /* srp_chunk */
    GArray *closes;            /* srp_close */
    GByteArray *data;
} srp_builder;

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
    guint32 last_frame;
    gboolean ended;
    gboolean closing;          /* being freed: callbacks only release handles */
};

/* ------------------------------------------------------------ builders */

static void
builder_init(srp_builder *b, guint32 frame)
{
    b->frame = frame;
    b->chunks = g_array_new(FALSE, FALSE, (guint)sizeof(srp_chunk));
    b->closes = g_array_new(FALSE, FALSE, (guint)sizeof(srp_close));
    b->data = g_byte_array_new();
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
    g_array_set_size(b->chunks, 0);
    g_array_set_size(b->closes, 0);
    g_byte_array_set_size(b->data, 0);
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

static void
builder_add_chunk(srp_builder *b, const srp_ctx *ctx, guint64 conn_id, const sr_chunk *c)
{
    srp_chunk ch;

    memset(&ch, 0, sizeof ch);
    ch.conn_id = conn_id;
    ch.offset = c->offset;
    ch.skipped = c->skipped;
    ch.len = c->len;
    ch.dir = (guint8)c->dir;
    ch.flags = (guint8)c->flags;
    ch.source = SRP_BYTES_RECORD;
    if (c->len > 0) {
        guint64 rel = 0;

        if (in_segment(ctx->cur, c))
            rel = ctx->cur->payload_rel +
                  (guint64)((uintptr_t)c->data - (uintptr_t)ctx->cur->seg.payload);
        if (in_segment(ctx->cur, c) && rel <= G_MAXINT32) {
            ch.source = SRP_BYTES_FRAME;
            ch.tcp_ordinal = ctx->cur->tcp_ordinal;
            ch.data_off = (guint32)rel;
        } else if (c->data != NULL && c->len <= SRP_MAX_RECORD_DATA - b->data->len) {
            /* Borrowed for the callback only: copy now. */
            ch.data_off = b->data->len;
            g_byte_array_append(b->data, c->data, (guint)c->len);
        } else {
            ch.source = SRP_BYTES_NONE;
        }
    }
    g_array_append_val(b->chunks, ch);
}

static void
builder_add_close(srp_builder *b, const sr_conn_info *info, sr_close_reason reason)
{
    srp_close cl;

    memset(&cl, 0, sizeof cl);
    cl.conn_id = info->id;
    cl.delivered[0] = info->delivered[0];
    cl.delivered[1] = info->delivered[1];
    cl.skipped[0] = info->skipped[0];
    cl.skipped[1] = info->skipped[1];
    cl.dropped[0] = info->dropped[0];
    cl.dropped[1] = info->dropped[1];
    cl.dropped_segs[0] = info->dropped_segments[0];
    cl.dropped_segs[1] = info->dropped_segments[1];
    cl.reason = (guint8)reason;
    g_array_append_val(b->closes, cl);
}

/* A file-scope record with copies of what the builder holds. */
static srp_record *
builder_freeze(const srp_builder *b, srp_record_kind kind)
{
    wmem_allocator_t *fs = wmem_file_scope();
    srp_record *r = wmem_new0(fs, srp_record);

    r->frame = b->frame;
    r->kind = (guint8)kind;
    r->n_chunks = b->chunks->len;
    if (r->n_chunks)
        r->chunks = wmem_memdup(fs, b->chunks->data, r->n_chunks * sizeof(srp_chunk));
    r->n_closes = b->closes->len;
    if (r->n_closes)
        r->closes = wmem_memdup(fs, b->closes->data, r->n_closes * sizeof(srp_close));
    r->data_len = b->data->len;
    if (r->data_len)
        r->data = wmem_memdup(fs, b->data->data, r->data_len);
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
    if (b != NULL)
        builder_add_chunk(b, ctx, info->id, chunk);
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
            builder_add_close(b, info, reason);
    }
    if (s != NULL)
        g_hash_table_remove(d->streams, &s->id); /* frees s */
}

/* ------------------------------------------------------------ driver */

srp_driver *
srp_driver_new(const sr_options *options, size_t max_connections)
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
    builder_init(&d->frame_builder, 0);

    d->pool = sr_pool_new(&factory, max_connections, &err);
    if (d->pool == NULL) {
        d->setup_error = err != SR_OK ? err : SR_ERR_NO_MEMORY;
        return d;
    }
    err = sr_assembler_new(d->pool, options, &d->assembler);
    if (err != SR_OK || d->assembler == NULL) {
        d->setup_error = err != SR_OK ? err : SR_ERR_NO_MEMORY;
        d->assembler = NULL;
    }
    return d;
}

void
srp_driver_free(srp_driver *d)
{
    if (d == NULL)
        return;
    d->closing = TRUE;
    sr_assembler_free(d->assembler);
    sr_pool_free(d->pool);
    g_hash_table_destroy(d->streams);
    g_hash_table_destroy(d->drop_tallies);
    if (d->end_builders)
        g_hash_table_destroy(d->end_builders);
    g_hash_table_destroy(d->end_records);
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

    s->dropped[0] = res->dropped[0];
    s->dropped[1] = res->dropped[1];
    if (res->conn_id == 0)
        return;
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
    s->dropped_segs[0] = t->segs[0];
    s->dropped_segs[1] = t->segs[1];
}

static void
take_snapshot(srp_driver *d, srp_record *r)
{
    (void)srp_snapshot_take(d->pool, d->assembler, &r->snap);
    r->has_snapshot = 1;
    r->prev = d->last_snap;
    d->last_snap = r;
}

const srp_record *
srp_driver_process(srp_driver *d, const packet_info *pinfo, const srp_frame_input *in)
{
    srp_builder *b = &d->frame_builder;
    srp_ctx ctx = { d, b, NULL };
    srp_seg segs[SRP_MAX_SEGS_PER_FRAME];
    srp_record *r;
    guint n = MIN(in->n_segs, SRP_MAX_SEGS_PER_FRAME);

    builder_reset(b, pinfo->num);
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
    }

    r = builder_freeze(b, SRP_REC_FRAME);
    r->n_segs = (guint8)n;
    if (n > 0)
        r->segs = wmem_memdup(wmem_file_scope(), segs, n * sizeof(srp_seg));
    r->segs_ignored = (guint8)MIN(in->n_ignored, 255);
    r->setup_error = (guint8)d->setup_error;
    take_snapshot(d, r);
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
    if (d->assembler == NULL || d->last_frame == 0)
        return;

    d->end_builders = g_hash_table_new_full(g_direct_hash, g_direct_equal,
                                            NULL, builder_free);
    /* The global snapshot after the flush goes to the last frame. */
    last = g_new0(srp_builder, 1);
    builder_init(last, d->last_frame);
    g_hash_table_insert(d->end_builders, GUINT_TO_POINTER(d->last_frame), last);

    (void)sr_assembler_flush_all(d->assembler, &ctx, NULL);

    g_hash_table_iter_init(&it, d->end_builders);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        srp_record *r = builder_freeze(value, SRP_REC_END_FLUSH);

        if (r->frame == d->last_frame)
            take_snapshot(d, r);
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
