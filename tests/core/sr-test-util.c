/* sr-test-util.c - shared helpers of the core test binaries (see the header).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#define _POSIX_C_SOURCE 200809L
#include "sr-test-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint32_t srt_isns[4] = {0u, 1u, 0xffffffffu, 0xfffffff5u};

/* ------------------------------------------------------------ specs */

uint8_t srt_pattern_byte(unsigned seed, size_t i)
{
    /* Not periodic in any small page size, differs between seeds. */
    uint32_t x = (uint32_t)i * 2654435761u + seed * 40503u + (uint32_t)(i >> 7);
    x ^= x >> 15;
    return (uint8_t)(x ^ (x >> 8));
}

uint8_t srt_conn_byte(uint32_t conn, bool b, uint64_t o)
{
    return srt_pattern_byte(conn * 2u + (b ? 1u : 0u), (size_t)o);
}

uint8_t srt_expect_conn(void *ud, uint64_t o)
{
    const srt_who *w = ud;
    return srt_conn_byte(w->conn, w->b, o);
}

static uint64_t parse_num(const char **p)
{
    const char *s = *p;
    uint64_t v = 0;
    g_assert_true(g_ascii_isdigit(*s));
    while (g_ascii_isdigit(*s))
        v = v * 10 + (uint64_t)(*s++ - '0');
    *p = s;
    return v;
}

void srt_spec_parse(const char *spec, GByteArray *bytes, GArray *gaps)
{
    const char *p = spec;
    while (*p) {
        if (*p == '\\' && p[1]) {
            g_byte_array_append(bytes, (const guint8 *)p + 1, 1);
            p += 2;
        } else if (*p == '{') {
            p++;
            uint64_t n = parse_num(&p);
            g_assert_true(*p == ':');
            p++;
            uint64_t seed = parse_num(&p);
            g_assert_true(*p == '}');
            p++;
            size_t base = bytes->len;
            g_byte_array_set_size(bytes, (guint)(base + n));
            for (uint64_t i = 0; i < n; i++)
                bytes->data[base + i] = srt_pattern_byte((unsigned)seed, (size_t)i);
        } else if (*p == '<') {
            g_assert_nonnull(gaps);
            p++;
            uint64_t n = parse_num(&p);
            g_assert_true(*p == '>');
            p++;
            if (gaps->len > 0 && g_array_index(gaps, srt_gap, gaps->len - 1).pos == bytes->len) {
                g_array_index(gaps, srt_gap, gaps->len - 1).len += n;
            } else {
                srt_gap g = {bytes->len, n};
                g_array_append_val(gaps, g);
            }
        } else {
            g_byte_array_append(bytes, (const guint8 *)p, 1);
            p++;
        }
    }
}

GByteArray *srt_payload(const char *spec)
{
    GByteArray *b = g_byte_array_new();
    if (spec)
        srt_spec_parse(spec, b, NULL);
    return b;
}

static void render_bytes(GString *s, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i == 48 && n > 64) {
            g_string_append_printf(s, "...(%zu bytes)...", n - 64);
            i = n - 16;
        }
        if (d[i] >= 0x20 && d[i] < 0x7f && d[i] != '<' && d[i] != '\\')
            g_string_append_c(s, (char)d[i]);
        else
            g_string_append_printf(s, "\\x%02x", d[i]);
    }
}

static char *render_parts(const uint8_t *data, size_t len, const GArray *gaps)
{
    GString *s = g_string_new(NULL);
    size_t pos = 0;
    for (guint i = 0; i < gaps->len; i++) {
        const srt_gap *g = &g_array_index(gaps, srt_gap, i);
        render_bytes(s, data + pos, g->pos - pos);
        g_string_append_printf(s, "<%" G_GUINT64_FORMAT ">", g->len);
        pos = g->pos;
    }
    render_bytes(s, data + pos, len - pos);
    return g_string_free(s, FALSE);
}

char *srt_render(const srt_dir_rec *d)
{
    return render_parts(d->data->data, d->data->len, d->gaps);
}

void srt_assert_dir(const srt_dir_rec *d, const char *spec, const char *what)
{
    GByteArray *eb = g_byte_array_new();
    GArray *eg = g_array_new(FALSE, FALSE, sizeof(srt_gap));
    srt_spec_parse(spec, eb, eg);
    bool same = eb->len == d->data->len &&
                (eb->len == 0 || memcmp(eb->data, d->data->data, eb->len) == 0) &&
                eg->len == d->gaps->len;
    for (guint i = 0; same && i < eg->len; i++) {
        const srt_gap *a = &g_array_index(eg, srt_gap, i);
        const srt_gap *b = &g_array_index(d->gaps, srt_gap, i);
        same = a->pos == b->pos && a->len == b->len;
    }
    if (!same) {
        char *exp = render_parts(eb->data, eb->len, eg);
        char *got = srt_render(d);
        g_test_message("%s: delivered stream differs\n  expected: %s\n  observed: %s", what, exp,
                       got);
        g_error("%s: expected \"%s\", observed \"%s\"", what, exp, got);
    }
    g_byte_array_unref(eb);
    g_array_unref(eg);
}

void srt_verify_content(const srt_dir_rec *d, srt_expect_fn expect, void *ud, const char *what)
{
    size_t pos = 0;
    for (guint k = 0; k < d->chunks->len; k++) {
        const srt_chunk_rec *c = &g_array_index(d->chunks, srt_chunk_rec, k);
        for (size_t i = 0; i < c->len; i++) {
            uint8_t want = expect(ud, c->offset + i);
            if (d->data->data[pos + i] != want)
                g_error("%s: byte at stream offset %" G_GUINT64_FORMAT " is 0x%02x, expected "
                        "0x%02x", what, c->offset + i, d->data->data[pos + i], want);
        }
        pos += c->len;
    }
    g_assert_cmpuint(pos, ==, d->data->len);
}

void srt_verify_content_any(const srt_dir_rec *d, srt_accept_fn accept, void *ud,
                            const char *what)
{
    size_t pos = 0;
    for (guint k = 0; k < d->chunks->len; k++) {
        const srt_chunk_rec *c = &g_array_index(d->chunks, srt_chunk_rec, k);
        for (size_t i = 0; i < c->len; i++)
            if (!accept(ud, c->offset + i, d->data->data[pos + i]))
                g_error("%s: byte at stream offset %" G_GUINT64_FORMAT " is 0x%02x, not a copy "
                        "that arrived there", what, c->offset + i, d->data->data[pos + i]);
        pos += c->len;
    }
    g_assert_cmpuint(pos, ==, d->data->len);
}

/* ------------------------------------------------------------ recorder */

static void dir_init(srt_dir_rec *d)
{
    memset(d, 0, sizeof *d);
    d->data = g_byte_array_new();
    d->gaps = g_array_new(FALSE, FALSE, sizeof(srt_gap));
    d->chunks = g_array_new(FALSE, FALSE, sizeof(srt_chunk_rec));
}

static void stream_free(gpointer p)
{
    srt_stream *s = p;
    for (int i = 0; i < 2; i++) {
        g_byte_array_unref(s->dir[i].data);
        g_array_unref(s->dir[i].gaps);
        g_array_unref(s->dir[i].chunks);
    }
    g_ptr_array_unref(s->ctx_data);
    g_free(s);
}

void srt_recorder_init(srt_recorder *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->streams = g_ptr_array_new_with_free_func(stream_free);
    r->by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
}

void srt_recorder_clear(srt_recorder *r)
{
    g_hash_table_unref(r->by_id);
    g_ptr_array_unref(r->streams);
    pthread_mutex_destroy(&r->lock);
}

static void note_callback(srt_recorder *r, int kind)
{
    g_atomic_int_inc(&r->callbacks);
    if (g_atomic_int_get(&r->frozen)) {
        g_atomic_int_inc(&r->late_callbacks);
        g_atomic_int_inc(&r->late_kind[kind]);
    }
}

void srt_recorder_freeze(srt_recorder *r)
{
    g_atomic_int_set(&r->frozen, 1);
}

static void *rec_new_stream(void *user_data, const sr_conn_info *info, void *ctx)
{
    srt_recorder *r = user_data;
    g_assert_nonnull(r);
    g_assert_nonnull(info);
    note_callback(r, 0);
    g_atomic_int_inc(&r->new_calls);
    g_assert_cmpuint(info->id, !=, 0);
    for (int d = 0; d < 2; d++) {
        g_assert_cmpuint(info->delivered[d], ==, 0);
        g_assert_cmpuint(info->skipped[d], ==, 0);
    }
    if (r->refuse_hook && r->refuse_hook(r, info, ctx)) {
        g_atomic_int_inc(&r->refused);
        return NULL;
    }
    for (;;) {
        int n = g_atomic_int_get(&r->refuse_next);
        if (n <= 0)
            break;
        if (g_atomic_int_compare_and_exchange(&r->refuse_next, n, n - 1)) {
            g_atomic_int_inc(&r->refused);
            return NULL;
        }
    }
    srt_stream *s = g_new0(srt_stream, 1);
    s->rec = r;
    s->conn_id = info->id;
    s->flow = info->flow;
    s->close_reason = -1;
    s->ctx_new = ctx;
    s->ctx_data = g_ptr_array_new();
    dir_init(&s->dir[0]);
    dir_init(&s->dir[1]);
    pthread_mutex_lock(&r->lock);
    if (g_hash_table_contains(r->by_id, &s->conn_id))
        g_error("new_stream called twice for connection id %" G_GUINT64_FORMAT, s->conn_id);
    s->index = r->streams->len;
    g_ptr_array_add(r->streams, s);
    g_hash_table_insert(r->by_id, &s->conn_id, s);
    pthread_mutex_unlock(&r->lock);
    return s;
}

static void enter(srt_stream *s)
{
    int was = g_atomic_int_add(&s->busy, 1);
    if (was != 0)
        g_error("callbacks of connection %" G_GUINT64_FORMAT " ran concurrently", s->conn_id);
}

static void leave(srt_stream *s)
{
    g_atomic_int_add(&s->busy, -1);
}

static int rec_on_data(void *user_data, void *stream, const sr_conn_info *info,
                       const sr_chunk *c, void *ctx)
{
    srt_recorder *r = user_data;
    srt_stream *s = stream;
    g_assert_nonnull(s);
    g_assert_true(s->rec == r);
    g_assert_nonnull(info);
    g_assert_nonnull(c);
    note_callback(r, 1);
    enter(s);
    if (s->completes != 0)
        g_error("on_data after on_complete (connection %" G_GUINT64_FORMAT ")", s->conn_id);
    g_assert_cmpuint(info->id, ==, s->conn_id);
    g_assert_true(c->dir == SR_DIR_CLIENT_TO_SERVER || c->dir == SR_DIR_SERVER_TO_CLIENT);
    srt_dir_rec *d = &s->dir[c->dir];
    if (d->ended)
        g_error("chunk after SR_CHUNK_END (connection %" G_GUINT64_FORMAT " dir %d)", s->conn_id,
                (int)c->dir);
    if (c->len > 0)
        g_assert_nonnull(c->data);
    else if (c->skipped == 0 && !(c->flags & SR_CHUNK_END))
        g_error("empty chunk without a gap or END (flags 0x%x)", c->flags);
    g_assert_cmpuint(c->flags & ~0x1fu, ==, 0);
    /* Offsets are contiguous: each chunk starts where the previous one
     * ended plus the bytes skipped in between; the stream starts at 0. */
    if (c->offset != d->reached + c->skipped)
        g_error("chunk offset %" G_GUINT64_FORMAT " != reached %" G_GUINT64_FORMAT
                " + skipped %" G_GUINT64_FORMAT " (conn %" G_GUINT64_FORMAT " dir %d)",
                c->offset, d->reached, c->skipped, s->conn_id, (int)c->dir);
    if ((c->flags & SR_CHUNK_START) && d->chunks->len != 0)
        g_error("SR_CHUNK_START on a chunk that is not the first of its direction");
    if (r->max_conn_pages && info->pages_buffered > r->max_conn_pages)
        g_error("info->pages_buffered %zu > per-connection limit %zu", info->pages_buffered,
                r->max_conn_pages);

    srt_chunk_rec cr = {c->offset, c->skipped, c->len, c->flags};
    g_array_append_val(d->chunks, cr);
    if (c->skipped) {
        if (d->gaps->len > 0 &&
            g_array_index(d->gaps, srt_gap, d->gaps->len - 1).pos == d->data->len) {
            g_array_index(d->gaps, srt_gap, d->gaps->len - 1).len += c->skipped;
        } else {
            srt_gap g = {d->data->len, c->skipped};
            g_array_append_val(d->gaps, g);
        }
    }
    if (c->len)
        g_byte_array_append(d->data, c->data, (guint)c->len);
    d->skipped += c->skipped;
    if (c->offset + c->len > d->reached)
        d->reached = c->offset + c->len;
    d->flags_or |= c->flags;
    if (c->flags & SR_CHUNK_END)
        d->ended = true;
    if (r->keep_ctx)
        g_ptr_array_add(s->ctx_data, ctx);
    int rv = 0;
    if (r->data_hook)
        rv = r->data_hook(r, s, info, c, ctx);
    leave(s);
    return rv;
}

static void rec_on_complete(void *user_data, void *stream, const sr_conn_info *info,
                            sr_close_reason reason, void *ctx)
{
    srt_recorder *r = user_data;
    srt_stream *s = stream;
    g_assert_nonnull(s);
    g_assert_true(s->rec == r);
    g_assert_nonnull(info);
    note_callback(r, 2);
    enter(s);
    g_assert_cmpuint(info->id, ==, s->conn_id);
    if (g_atomic_int_get(&s->completes) != 0)
        g_error("on_complete called twice (connection %" G_GUINT64_FORMAT ")", s->conn_id);
    g_assert_cmpint((int)reason, >=, 0);
    g_assert_cmpint((int)reason, <, SR_CLOSE_REASON_COUNT_);
    s->close_reason = (int)reason;
    s->final_info = *info;
    s->ctx_complete = ctx;
    g_atomic_int_inc(&r->reason_counts[reason]);
    if (r->complete_hook)
        r->complete_hook(r, s, info, reason, ctx);
    leave(s);
    /* Last: another thread may poll completes (atomically) and then read
     * everything recorded before it. */
    g_atomic_int_inc(&s->completes);
}

sr_stream_factory srt_recorder_factory(srt_recorder *r)
{
    sr_stream_factory f = {rec_new_stream, rec_on_data, rec_on_complete, r};
    return f;
}

srt_stream *srt_recorder_find(srt_recorder *r, uint64_t id)
{
    pthread_mutex_lock(&r->lock);
    srt_stream *s = g_hash_table_lookup(r->by_id, &id);
    pthread_mutex_unlock(&r->lock);
    return s;
}

srt_stream *srt_recorder_stream(srt_recorder *r, unsigned index)
{
    pthread_mutex_lock(&r->lock);
    g_assert_cmpuint(index, <, r->streams->len);
    srt_stream *s = g_ptr_array_index(r->streams, index);
    pthread_mutex_unlock(&r->lock);
    return s;
}

unsigned srt_recorder_count(srt_recorder *r)
{
    pthread_mutex_lock(&r->lock);
    unsigned n = r->streams->len;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void srt_check_conservation(srt_recorder *r, bool all_complete)
{
    pthread_mutex_lock(&r->lock);
    for (guint i = 0; i < r->streams->len; i++) {
        srt_stream *s = g_ptr_array_index(r->streams, i);
        g_assert_cmpint(s->busy, ==, 0);
        g_assert_cmpint(s->completes, <=, 1);
        if (all_complete && s->completes != 1)
            g_error("connection %" G_GUINT64_FORMAT " was never completed", s->conn_id);
        for (int d = 0; d < 2; d++) {
            srt_dir_rec *dr = &s->dir[d];
            uint64_t highest = 0;
            for (guint k = 0; k < dr->chunks->len; k++) {
                srt_chunk_rec *c = &g_array_index(dr->chunks, srt_chunk_rec, k);
                if (c->offset + c->len > highest)
                    highest = c->offset + c->len;
            }
            if ((uint64_t)dr->data->len + dr->skipped != highest)
                g_error("conservation: conn %" G_GUINT64_FORMAT " dir %d delivered %u + skipped "
                        "%" G_GUINT64_FORMAT " != highest offset %" G_GUINT64_FORMAT,
                        s->conn_id, d, dr->data->len, dr->skipped, highest);
            if (s->completes == 1) {
                /* The final totals cover everything the callbacks saw; on
                 * CALLBACK_ERROR the unseen rest is counted skipped too. */
                if (s->close_reason == SR_CLOSE_CALLBACK_ERROR) {
                    g_assert_cmpuint(s->final_info.delivered[d] + s->final_info.skipped[d], >=,
                                     highest);
                } else {
                    if (s->final_info.delivered[d] != dr->data->len ||
                        s->final_info.skipped[d] != dr->skipped)
                        g_error("conn %" G_GUINT64_FORMAT " dir %d: final info delivered %"
                                G_GUINT64_FORMAT " skipped %" G_GUINT64_FORMAT
                                ", callbacks saw %u and %" G_GUINT64_FORMAT,
                                s->conn_id, d, s->final_info.delivered[d],
                                s->final_info.skipped[d], dr->data->len, dr->skipped);
                }
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
}

void srt_check_result(srt_recorder *r, const sr_result *res)
{
    if (r->max_conn_pages && res->conn_pages > r->max_conn_pages)
        g_error("result conn_pages %zu > per-connection limit %zu", res->conn_pages,
                r->max_conn_pages);
    if (res->status & SR_SEG_CLOSED)
        g_assert_cmpint(res->close_reason, >=, 0);
    else
        g_assert_cmpint(res->close_reason, ==, -1);
    if (res->conn_id == 0)
        return;
    g_assert_true(res->dir == SR_DIR_CLIENT_TO_SERVER || res->dir == SR_DIR_SERVER_TO_CLIENT);
    srt_stream *s = srt_recorder_find(r, res->conn_id);
    if (!s)
        return;
    if (res->status & SR_SEG_CLOSED) {
        g_assert_cmpint(s->completes, ==, 1);
        g_assert_cmpint(res->close_reason, ==, s->close_reason);
        g_assert_cmpuint(res->conn_pages, ==, 0);
    }
    if (s->close_reason == SR_CLOSE_CALLBACK_ERROR)
        return;
    for (int d = 0; d < 2; d++) {
        if (res->delivered[d] != s->dir[d].data->len || res->skipped[d] != s->dir[d].skipped)
            g_error("result totals dir %d: delivered %" G_GUINT64_FORMAT " skipped %"
                    G_GUINT64_FORMAT ", callbacks saw %u and %" G_GUINT64_FORMAT,
                    d, res->delivered[d], res->skipped[d], s->dir[d].data->len,
                    s->dir[d].skipped);
    }
}

void srt_check_pool_stats(sr_pool *p, srt_recorder *r)
{
    sr_pool_stats st = srt_pool_stats(p);
    unsigned completed = 0;
    for (guint i = 0; i < r->streams->len; i++)
        completed += ((srt_stream *)g_ptr_array_index(r->streams, i))->completes;
    g_assert_cmpuint(st.total_created, ==, r->streams->len);
    g_assert_cmpuint(st.closed, ==, completed);
    g_assert_cmpuint(st.closed_fin, ==, (guint)r->reason_counts[SR_CLOSE_FIN]);
    g_assert_cmpuint(st.closed_rst, ==, (guint)r->reason_counts[SR_CLOSE_RST]);
    g_assert_cmpuint(st.closed_timeout, ==, (guint)r->reason_counts[SR_CLOSE_TIMEOUT]);
    g_assert_cmpuint(st.closed_evicted, ==, (guint)r->reason_counts[SR_CLOSE_EVICTED]);
    g_assert_cmpuint(st.closed_flushed, ==, (guint)r->reason_counts[SR_CLOSE_FLUSHED]);
    g_assert_cmpuint(st.closed_callback_error, ==,
                     (guint)r->reason_counts[SR_CLOSE_CALLBACK_ERROR]);
    g_assert_cmpuint(st.closed_pool_closed, ==, (guint)r->reason_counts[SR_CLOSE_POOL_CLOSED]);
    g_assert_cmpuint(st.nil_streams, ==, (guint)r->refused);
    g_assert_cmpuint(st.peak_connections, >=, st.active_connections);
}

uint64_t srt_total_delivered(srt_recorder *r)
{
    uint64_t n = 0;
    for (guint i = 0; i < r->streams->len; i++) {
        srt_stream *s = g_ptr_array_index(r->streams, i);
        n += s->dir[0].data->len + s->dir[1].data->len;
    }
    return n;
}

uint64_t srt_total_skipped(srt_recorder *r)
{
    uint64_t n = 0;
    for (guint i = 0; i < r->streams->len; i++) {
        srt_stream *s = g_ptr_array_index(r->streams, i);
        n += s->dir[0].skipped + s->dir[1].skipped;
    }
    return n;
}

void srt_check_asm_bytes(sr_assembler *a, srt_recorder *r)
{
    sr_assembler_stats st = srt_asm_stats(a);
    g_assert_cmpuint(st.bytes_delivered, ==, srt_total_delivered(r));
    g_assert_cmpuint(st.bytes_skipped, ==, srt_total_skipped(r));
}

/* ------------------------------------------------------------ allocator */

/* Each block carries a header with its size, so a free with the wrong
 * size (or a foreign pointer) is caught. */
#define SRT_ALLOC_MAGIC 0x5a17c0de5a17c0deull
typedef struct {
    uint64_t magic;
    uint64_t size;
} srt_block_hdr;

static void *srt_alloc_fn(void *user_data, size_t size)
{
    srt_alloc *a = user_data;
    pthread_mutex_lock(&a->lock);
    uint64_t n = ++a->attempts;
    bool fail = (a->fail_at && n == a->fail_at) || (a->fail_from && n >= a->fail_from);
    if (fail) {
        a->failures++;
        pthread_mutex_unlock(&a->lock);
        return NULL;
    }
    pthread_mutex_unlock(&a->lock);
    srt_block_hdr *h = malloc(sizeof(srt_block_hdr) + (size ? size : 1));
    if (!h)
        return NULL;
    h->magic = SRT_ALLOC_MAGIC;
    h->size = size;
    pthread_mutex_lock(&a->lock);
    a->live_bytes += (int64_t)size;
    a->live_blocks++;
    if (a->live_bytes > a->peak_bytes)
        a->peak_bytes = a->live_bytes;
    pthread_mutex_unlock(&a->lock);
    return h + 1;
}

static void srt_free_fn(void *user_data, void *ptr, size_t size)
{
    srt_alloc *a = user_data;
    if (!ptr)
        return;
    srt_block_hdr *h = (srt_block_hdr *)ptr - 1;
    pthread_mutex_lock(&a->lock);
    if (h->magic != SRT_ALLOC_MAGIC || h->size != size) {
        a->bad_frees++;
        pthread_mutex_unlock(&a->lock);
        g_error("allocator: free of %p with size %zu (allocated size %" G_GUINT64_FORMAT
                ", magic %s)", ptr, size, h->size,
                h->magic == SRT_ALLOC_MAGIC ? "ok" : "bad");
        return;
    }
    a->live_bytes -= (int64_t)h->size;
    a->live_blocks--;
    pthread_mutex_unlock(&a->lock);
    h->magic = 0;
    free(h);
}

void srt_alloc_init(srt_alloc *a)
{
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->lock, NULL);
}

void srt_alloc_clear(srt_alloc *a)
{
    pthread_mutex_destroy(&a->lock);
}

sr_allocator srt_alloc_allocator(srt_alloc *a)
{
    sr_allocator al = {srt_alloc_fn, srt_free_fn, a};
    return al;
}

int64_t srt_alloc_live(srt_alloc *a)
{
    pthread_mutex_lock(&a->lock);
    int64_t v = a->live_bytes;
    pthread_mutex_unlock(&a->lock);
    return v;
}

/* ------------------------------------------------------------ packets */

void srt_flow_ab(sr_flow *f, uint32_t conn, bool b_to_a)
{
    uint32_t a_addr = 0x0a000000u | (conn & 0x00ffffffu);
    uint16_t a_port = (uint16_t)(1024u + (conn >> 24));
    uint32_t b_addr = 0xc0000201u; /* 192.0.2.1 */
    uint16_t b_port = 80;
    if (b_to_a)
        sr_flow_set_ipv4(f, g_htonl(b_addr), b_port, g_htonl(a_addr), a_port);
    else
        sr_flow_set_ipv4(f, g_htonl(a_addr), a_port, g_htonl(b_addr), b_port);
}

sr_segment srt_seg(uint32_t seq, uint8_t flags, const void *payload, size_t len, sr_time ts)
{
    sr_segment s;
    memset(&s, 0, sizeof s);
    s.seq = seq;
    s.ack = 0;
    s.flags = flags;
    s.payload = payload;
    s.payload_len = len;
    s.claimed_len = 0;
    s.timestamp = ts;
    return s;
}

sr_options srt_options(size_t page_size, size_t per_conn, size_t total)
{
    sr_options o;
    sr_options_init(&o);
    if (page_size)
        o.page_size = page_size;
    if (total)
        o.max_buffered_pages_total = total;
    if (per_conn)
        o.max_buffered_pages_per_connection = per_conn;
    return o;
}

static bool ep_eq(const sr_endpoint *a, const sr_endpoint *b)
{
    return a->port == b->port && memcmp(a->addr, b->addr, 16) == 0;
}

bool srt_flow_endpoints_match(const sr_flow *a, const sr_flow *b)
{
    return a->ip_version == b->ip_version && a->zone == b->zone && ep_eq(&a->src, &b->src) &&
           ep_eq(&a->dst, &b->dst);
}

sr_pool_stats srt_pool_stats(sr_pool *p)
{
    sr_pool_stats st;
    memset(&st, 0xa5, sizeof st);
    sr_error e = sr_pool_get_stats(p, &st);
    g_assert_cmpstr(sr_err_name(e), ==, "SR_OK");
    return st;
}

sr_assembler_stats srt_asm_stats(sr_assembler *a)
{
    sr_assembler_stats st;
    memset(&st, 0xa5, sizeof st);
    sr_error e = sr_assembler_get_stats(a, &st);
    g_assert_cmpstr(sr_err_name(e), ==, "SR_OK");
    return st;
}

/* ------------------------------------------------------------ environment */

void srt_env_open(srt_env *e, const sr_options *o, size_t max_connections)
{
    memset(e, 0, sizeof *e);
    srt_recorder_init(&e->rec);
    srt_alloc_init(&e->alloc);
    if (o)
        e->opt = *o;
    else
        sr_options_init(&e->opt);
    e->rec.max_conn_pages = e->opt.max_buffered_pages_per_connection;
    sr_stream_factory f = srt_recorder_factory(&e->rec);
    sr_allocator al = srt_alloc_allocator(&e->alloc);
    sr_error err = SR_ERR_THREAD;
    /* SR_TEST_SINGLE_THREAD=1 (ctest's core-NAME/single entries): the same
     * tests on a single-thread pool (SR_POOL_SINGLE_THREAD). */
    unsigned flags = g_getenv("SR_TEST_SINGLE_THREAD") ? SR_POOL_SINGLE_THREAD : 0;
    e->pool = sr_pool_new_ex(&f, max_connections, &al, flags, &err);
    g_assert_cmpstr(sr_err_name(err), ==, "SR_OK");
    g_assert_nonnull(e->pool);
    err = sr_assembler_new(e->pool, &e->opt, &e->a);
    g_assert_cmpstr(sr_err_name(err), ==, "SR_OK");
    g_assert_nonnull(e->a);
}

void srt_env_close(srt_env *e)
{
    sr_assembler_free(e->a);
    sr_pool_free(e->pool);
    srt_check_conservation(&e->rec, true);
    g_assert_cmpint(e->rec.late_callbacks, ==, 0);
    g_assert_cmpint(srt_alloc_live(&e->alloc), ==, 0);
    g_assert_cmpuint(e->alloc.bad_frees, ==, 0);
    srt_alloc_clear(&e->alloc);
    srt_recorder_clear(&e->rec);
}

void srt_env_check_limits(srt_env *e)
{
    sr_assembler_stats st;
    if (sr_assembler_get_stats(e->a, &st) == SR_OK) {
        if (st.pages_in_use > e->opt.max_buffered_pages_total)
            g_error("pages_in_use %" G_GUINT64_FORMAT " > max_buffered_pages_total %zu",
                    st.pages_in_use, e->opt.max_buffered_pages_total);
        g_assert_cmpuint(st.pages_peak, <=, e->opt.max_buffered_pages_total);
    }
    if (e->last.conn_pages > e->opt.max_buffered_pages_per_connection)
        g_error("conn_pages %zu > max_buffered_pages_per_connection %zu", e->last.conn_pages,
                e->opt.max_buffered_pages_per_connection);
}

sr_error srt_feed_raw(srt_env *e, const sr_flow *f, uint32_t seq, uint8_t flags,
                      const uint8_t *data, size_t len, size_t claimed, sr_time ts, void *ctx)
{
    sr_segment s = srt_seg(seq, flags, len ? data : NULL, len, ts);
    s.claimed_len = claimed;
    memset(&e->last, 0, sizeof e->last);
    e->last.close_reason = -1;
    sr_error err = sr_assemble_ex(e->a, f, &s, ctx, &e->last);
    if (err != SR_OK)
        e->errors++;
    if (err != SR_ERR_POOL_CLOSED && err != SR_ERR_ASSEMBLER_CLOSED &&
        err != SR_ERR_INVALID_ARGUMENT) {
        srt_check_result(&e->rec, &e->last);
        srt_env_check_limits(e);
    }
    return err;
}

sr_error srt_feed_flow(srt_env *e, const sr_flow *f, uint32_t seq, uint8_t flags,
                       const char *data, size_t claimed, sr_time ts, void *ctx)
{
    GByteArray *pl = srt_payload(data);
    sr_error err = srt_feed_raw(e, f, seq, flags, pl->data, pl->len, claimed, ts, ctx);
    g_byte_array_unref(pl);
    return err;
}

sr_error srt_feed(srt_env *e, uint32_t conn, bool b_to_a, uint32_t seq, uint8_t flags,
                  const char *data, sr_time ts, void *ctx)
{
    sr_flow f;
    srt_flow_ab(&f, conn, b_to_a);
    return srt_feed_flow(e, &f, seq, flags, data, 0, ts, ctx);
}

srt_stream *srt_env_stream(srt_env *e, uint64_t id)
{
    srt_stream *s = srt_recorder_find(&e->rec, id);
    if (!s)
        g_error("no stream recorded for connection id %" G_GUINT64_FORMAT, id);
    return s;
}

/* ------------------------------------------------------------ random */

uint64_t srt_seed_from_env(const char *name, uint64_t dflt)
{
    const char *v = g_getenv(name);
    uint64_t seed = dflt;
    if (v && *v)
        seed = g_ascii_strtoull(v, NULL, 0);
    g_printerr("# %s=%" G_GUINT64_FORMAT "%s\n", name, seed, v && *v ? "" : " (default)");
    return seed;
}

/* ------------------------------------------------------------ subprocess */

bool srt_subprocess_child(void)
{
    return g_test_subprocess();
}

void srt_run_in_subprocess(unsigned timeout_s)
{
    /* A timeout (deadlock) or a crash in the child fails this case; the
     * binary goes on with the next one (and exits nonzero at the end). */
    g_test_trap_subprocess(NULL, (guint64)timeout_s * G_USEC_PER_SEC,
                           G_TEST_SUBPROCESS_INHERIT_STDERR);
    if (!g_test_trap_has_passed()) {
        g_test_message("%s failed in its child process (crash, assertion or %u s timeout)",
                       g_test_get_path(), timeout_s);
        g_test_fail();
    }
}
