/* safereasm-pcap.c - reassemble every TCP stream of pcap/pcapng files with
 * the safereasm core and print one line per direction:
 *
 *     src:port>dst:port delivered skipped conflicts dropped sha256
 *
 * sorted bytewise, then the decoder's and the core's counters as "# ..."
 * lines. See the README (Fidelity) for the options and the output format.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 *
 * Threads: with --threads N > 1 the reading thread decodes frames and hands
 * copies of the segments, in batches, to N workers chosen by a symmetric
 * flow hash (both directions of a connection go to the same worker). Every
 * worker owns its own sr_pool and sr_assembler, so it shares no connection
 * with another worker: a worker ahead in capture time cannot sweep, flush
 * or time out a connection whose segments still wait in another worker's
 * batch. The caps are split N ways, so they hold for the whole process.
 * The reader gives every segment the same capture clock in every mode (the
 * highest frame time so far), so each worker sees exactly the times
 * --threads 1 sees. Stream callbacks run in the worker that owns the pool
 * (and in the main thread at the end, after the workers are joined), so
 * everything a worker's callbacks touch is that worker's own. Only the
 * message counters are shared (msg_lock). The batch hand-off uses pthread
 * mutexes and condition variables, which ThreadSanitizer understands (it
 * cannot see GLib's futex-based GMutex/GAsyncQueue).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef SP_HAVE_ZLIB
#include <zlib.h>
#endif

#include "decode.h"
#include "safereasm.h"
#include "seqset.h"

#define PROG "safereasm-pcap"
#define SP_MAX_THREADS 64
#define SP_BATCH_ITEMS 512
#define SP_BATCH_ARENA (1u << 20) /* >= any pcap snaplen (262144) */
#define SP_BATCHES_PER_WORKER 4
#define SP_MSG_LIMIT 10 /* messages of one kind before we only count */

/* Exit codes (also in --help). */
enum {
    SP_EXIT_OK = 0,
    SP_EXIT_IO = 1,     /* a file could not be read (whole) or written */
    SP_EXIT_USAGE = 2,  /* bad option or value */
    SP_EXIT_VERIFY = 3, /* --verify found a violation (wins over 1) */
};

/* ------------------------------------------------------------ results */

typedef struct range {
    uint64_t off, len;
} range;

typedef struct dir_state {
    GChecksum *sha;
    GArray *gaps;      /* range: stream offset and length of each skip */
    GArray *conflicts; /* range: chunks the core flagged SR_CHUNK_CONFLICT */
    char *path;        /* --write file, NULL if not writing */
    bool write_failed;
    uint64_t got_data, got_skipped; /* sums of what on_data was given */
    sp_seqset seen;                 /* --verify: sequence numbers taken */
    uint64_t total[3];              /* --verify: delivered, skipped, dropped at the end */
} dir_state;

/* One connection, from new_stream until the end of the feed call that
 * completed it (so that call can still map the core's id to ours); with
 * --verify until the end of the run. */
typedef struct stream {
    uint64_t core_id; /* the core's id: unique within one worker's pool only */
    uint64_t id;      /* ours: frame number of the segment that created it */
    sr_flow flow;     /* client -> server */
    bool complete;
    dir_state d[2];
} stream;

typedef struct result {
    char *line; /* the printed line */
    uint64_t conn_id;
    int dir;
    char *index; /* --write index row after the line fields */
} result;

typedef struct conflict_event {
    uint64_t conn_id;
    int dir;
    uint64_t frame;
} conflict_event;

/* ------------------------------------------------------------ threads */

typedef struct item {
    sr_flow flow;
    sr_segment seg; /* seg.payload is an offset into the batch arena */
    uint64_t frame;
} item;

typedef struct batch {
    size_t n, used;
    bool stop;
    item items[SP_BATCH_ITEMS];
    uint8_t arena[SP_BATCH_ARENA];
} batch;

/* A blocking FIFO of batches. A worker owns SP_BATCHES_PER_WORKER batches
 * in all, so a ring of that size never overflows. */
typedef struct bqueue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    batch *ring[SP_BATCHES_PER_WORKER];
    unsigned head, len; /* under lock */
} bqueue;

struct app;

typedef struct worker {
    struct app *app;
    sr_pool *pool;
    sr_assembler *a;
    sr_options opt;         /* the caps split N ways */
    size_t max_connections; /* ditto */
    pthread_t thread;
    bool started;
    bqueue work, spare;
    batch *cur; /* being filled by the reader */
    uint64_t err_count[SR_ERROR_COUNT_];
    /* Touched only by this worker's callbacks and feed(): */
    GHashTable *conns;   /* core id -> stream, open connections */
    GPtrArray *closed;   /* streams completed during the current call */
    GPtrArray *done;     /* --verify: completed streams, kept to the end */
    GPtrArray *results;  /* result */
    GArray *conflict_events;
    GPtrArray *violations; /* --verify messages */
    uint64_t write_errors;
} worker;

typedef struct app {
    /* options */
    const char *write_dir;
    unsigned threads;
    bool show_empty, show_stats, verbose, verify;
    int progress; /* -1 auto, 0 off, 1 on */
    size_t max_connections;
    sr_options opt;

    worker w[SP_MAX_THREADS];

    pthread_mutex_t msg_lock; /* err_msgs and write messages */
    unsigned err_msgs[SR_ERROR_COUNT_];
    uint64_t write_msgs;

    /* reader side */
    sr_time clock; /* highest frame time so far: every segment's timestamp */
    bool clock_set;
    uint64_t decode_count[SP_DEC_COUNT_];
    uint64_t frames, files_failed;
    unsigned msgs[SP_DEC_COUNT_];
} app;

static void msg(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ------------------------------------------------------------ formatting */

static void fmt_addr(char *buf, size_t n, const sr_flow *f, const sr_endpoint *e)
{
    char a[INET6_ADDRSTRLEN];
    if (f->ip_version == 6) {
        inet_ntop(AF_INET6, e->addr, a, sizeof a);
        snprintf(buf, n, "[%s]:%u", a, e->port);
    } else {
        inet_ntop(AF_INET, e->addr, a, sizeof a);
        snprintf(buf, n, "%s:%u", a, e->port);
    }
}

/* "src:port>dst:port" of direction dir of a client->server flow, with
 * "@zone" appended when the zone (VLAN ids) is not 0. */
static void fmt_key(char *buf, size_t n, const sr_flow *f, int dir)
{
    char s[64], d[64];
    const sr_endpoint *src = dir == SR_DIR_CLIENT_TO_SERVER ? &f->src : &f->dst;
    const sr_endpoint *dst = dir == SR_DIR_CLIENT_TO_SERVER ? &f->dst : &f->src;
    fmt_addr(s, sizeof s, f, src);
    fmt_addr(d, sizeof d, f, dst);
    if (f->zone)
        snprintf(buf, n, "%s>%s@%" PRIu32, s, d, f->zone);
    else
        snprintf(buf, n, "%s>%s", s, d);
}

/* File name for --write: tcpflow-like, prefixed by the connection id so
 * reused ports and zones never collide. */
static char *file_name(const sr_flow *f, uint64_t id, int dir)
{
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    const sr_endpoint *src = dir == SR_DIR_CLIENT_TO_SERVER ? &f->src : &f->dst;
    const sr_endpoint *dst = dir == SR_DIR_CLIENT_TO_SERVER ? &f->dst : &f->src;
    int af = f->ip_version == 6 ? AF_INET6 : AF_INET;
    inet_ntop(af, src->addr, s, sizeof s);
    inet_ntop(af, dst->addr, d, sizeof d);
    return g_strdup_printf("%06" PRIu64 "-%s.%u-%s.%u", id, s, src->port, d, dst->port);
}

static char *ranges_text(const GArray *r)
{
    if (!r || r->len == 0)
        return g_strdup("-");
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < r->len; i++) {
        const range *x = &g_array_index(r, range, i);
        g_string_append_printf(s, "%s%" PRIu64 "+%" PRIu64, i ? "," : "", x->off, x->len);
    }
    return g_string_free(s, FALSE);
}

static void range_add(GArray *r, uint64_t off, uint64_t len)
{
    if (r->len) {
        range *last = &g_array_index(r, range, r->len - 1);
        if (last->off + last->len == off) {
            last->len += len;
            return;
        }
    }
    range x = {off, len};
    g_array_append_val(r, x);
}

/* ------------------------------------------------------------ callbacks */

/* packet_ctx of every call the tool makes: the frame being fed (1-based,
 * across all input files), or 0 for the end-of-input flushes. */
typedef struct feed_ctx {
    uint64_t frame;
} feed_ctx;

static void *cb_new_stream(void *user_data, const sr_conn_info *info, void *packet_ctx)
{
    worker *w = user_data;
    const feed_ctx *fc = packet_ctx;
    stream *st = g_new0(stream, 1);
    st->core_id = info->id;
    /* Only sr_assemble creates connections, so fc is there; the frame that
     * created a connection names it the same in every --threads mode,
     * where the core's per-pool ids would not. */
    st->id = fc ? fc->frame : 0;
    st->flow = info->flow;
    for (int d = 0; d < 2; d++) {
        st->d[d].sha = g_checksum_new(G_CHECKSUM_SHA256);
        st->d[d].gaps = g_array_new(FALSE, FALSE, sizeof(range));
        st->d[d].conflicts = g_array_new(FALSE, FALSE, sizeof(range));
        if (w->app->write_dir) {
            char *name = file_name(&st->flow, st->id, d);
            st->d[d].path = g_build_filename(w->app->write_dir, name, NULL);
            g_free(name);
        }
    }
    g_hash_table_insert(w->conns, &st->core_id, st);
    return st;
}

static int cb_on_data(void *user_data, void *strm, const sr_conn_info *info,
                      const sr_chunk *chunk, void *packet_ctx)
{
    worker *w = user_data;
    stream *st = strm;
    (void)info;
    (void)packet_ctx;
    if ((unsigned)chunk->dir > 1)
        return 0;
    dir_state *ds = &st->d[chunk->dir];
    ds->got_data += chunk->len;
    ds->got_skipped += chunk->skipped;
    if (chunk->skipped)
        range_add(ds->gaps, chunk->offset - chunk->skipped, chunk->skipped);
    if (chunk->len == 0)
        return 0;
    g_checksum_update(ds->sha, chunk->data, (gssize)chunk->len);
    if (chunk->flags & SR_CHUNK_CONFLICT)
        range_add(ds->conflicts, chunk->offset, chunk->len);
    if (ds->path && !ds->write_failed) {
        /* Opened per chunk: thousands of concurrent connections must not
         * run out of file descriptors. --write is for inspection, not speed. */
        FILE *fp = fopen(ds->path, "ab");
        if (!fp || fwrite(chunk->data, 1, chunk->len, fp) != chunk->len) {
            int en = errno;
            ds->write_failed = true;
            w->write_errors++;
            pthread_mutex_lock(&w->app->msg_lock);
            if (w->app->write_msgs++ < SP_MSG_LIMIT)
                msg("cannot write %s: %s", ds->path, g_strerror(en));
            pthread_mutex_unlock(&w->app->msg_lock);
        }
        if (fp)
            fclose(fp);
    }
    return 0;
}

static void cb_on_complete(void *user_data, void *strm, const sr_conn_info *info,
                           sr_close_reason reason, void *packet_ctx)
{
    worker *w = user_data;
    app *ap = w->app;
    stream *st = strm;
    (void)packet_ctx;
    for (int d = 0; d < 2; d++) {
        dir_state *ds = &st->d[d];
        uint64_t del = info->delivered[d], skp = info->skipped[d], cf = info->conflicts[d],
                 drp = info->dropped[d];
        char key[256];
        fmt_key(key, sizeof key, &st->flow, d);
        if (ap->verify && (del != ds->got_data || skp != ds->got_skipped))
            g_ptr_array_add(w->violations,
                            g_strdup_printf("%s conn %" PRIu64 " dir %d: the core's totals say "
                                            "delivered %" PRIu64 " skipped %" PRIu64
                                            ", its chunks carried %" PRIu64 " and %" PRIu64,
                                            key, st->id, d, del, skp, ds->got_data,
                                            ds->got_skipped));
        ds->total[0] = del;
        ds->total[1] = skp;
        ds->total[2] = drp;
        if (ap->show_empty || del || skp || cf || drp) {
            result *r = g_new0(result, 1);
            r->conn_id = st->id;
            r->dir = d;
            r->line = g_strdup_printf("%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %s",
                                      key, del, skp, cf, drp, g_checksum_get_string(ds->sha));
            if (ap->write_dir) {
                char *gaps = ranges_text(ds->gaps), *cfl = ranges_text(ds->conflicts);
                char *base = g_path_get_basename(ds->path);
                r->index = g_strdup_printf("%s\t%" PRIu32 "\t%s\t%s\t%s", base,
                                           st->flow.zone, sr_close_reason_name(reason), gaps,
                                           cfl);
                /* A direction without data still gets its (empty) file, so
                 * the index never names a missing file. */
                if (del == 0) {
                    FILE *fp = fopen(ds->path, "ab");
                    if (fp)
                        fclose(fp);
                }
                g_free(gaps);
                g_free(cfl);
                g_free(base);
            }
            g_ptr_array_add(w->results, r);
        }
        g_checksum_free(ds->sha);
        g_array_free(ds->gaps, TRUE);
        g_array_free(ds->conflicts, TRUE);
        g_free(ds->path);
        ds->sha = NULL;
        ds->gaps = ds->conflicts = NULL;
        ds->path = NULL;
    }
    st->complete = true;
    /* The call that completed it may still need its id (release_closed). */
    g_ptr_array_add(w->closed, st);
}

static void stream_free(stream *st)
{
    for (int d = 0; d < 2; d++)
        sp_seqset_clear(&st->d[d].seen);
    g_free(st);
}

/* After each call into the core: forget the connections it completed
 * (kept for the final check with --verify). */
static void release_closed(worker *w)
{
    for (guint i = 0; i < w->closed->len; i++) {
        stream *st = g_ptr_array_index(w->closed, i);
        g_hash_table_remove(w->conns, &st->core_id);
        if (w->app->verify)
            g_ptr_array_add(w->done, st);
        else
            stream_free(st);
    }
    g_ptr_array_set_size(w->closed, 0);
}

/* ------------------------------------------------------------ feeding */

static void feed(worker *w, const sr_flow *flow, const sr_segment *seg, uint64_t frame)
{
    app *ap = w->app;
    sr_result res;
    feed_ctx fc = {frame};
    sr_error e = sr_assemble_ex(w->a, flow, seg, &fc, &res);
    stream *st = res.conn_id ? g_hash_table_lookup(w->conns, &res.conn_id) : NULL;
    if (e != SR_OK) {
        if ((unsigned)e < SR_ERROR_COUNT_)
            w->err_count[e]++;
        /* A segment after the end of its connection (the last ACK after
         * FIN, a late retransmission) is normal traffic: counted only. */
        if (e != SR_ERR_CONNECTION_CLOSED) {
            pthread_mutex_lock(&ap->msg_lock);
            if ((unsigned)e < SR_ERROR_COUNT_ && ap->err_msgs[e]++ < SP_MSG_LIMIT)
                msg("frame %" PRIu64 ": %s: %s", frame, sr_err_name(e), sr_strerror(e));
            pthread_mutex_unlock(&ap->msg_lock);
        }
    } else if (st && !(res.status & SR_SEG_AFTER_CLOSE) && (unsigned)res.dir <= 1) {
        if (res.status & SR_SEG_CONFLICT) {
            conflict_event ev = {st->id, (int)res.dir, frame};
            g_array_append_val(w->conflict_events, ev);
        }
        if (ap->verify) {
            /* The sequence numbers of the bytes this segment carried; a
             * SYN's own number carries none. */
            size_t len = seg->claimed_len ? seg->claimed_len : seg->payload_len;
            uint32_t first = seg->seq + ((seg->flags & SR_TCP_SYN) ? 1u : 0u);
            sp_seqset_add(&st->d[res.dir].seen, first, len);
        }
    }
    release_closed(w);
}

static void bqueue_init(bqueue *q)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    q->head = q->len = 0;
}

static void bqueue_clear(bqueue *q)
{
    pthread_cond_destroy(&q->nonempty);
    pthread_mutex_destroy(&q->lock);
}

static void bqueue_push(bqueue *q, batch *b)
{
    pthread_mutex_lock(&q->lock);
    /* At most SP_BATCHES_PER_WORKER batches exist per worker. */
    q->ring[(q->head + q->len) % SP_BATCHES_PER_WORKER] = b;
    q->len++;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

static batch *bqueue_pop(bqueue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->len == 0)
        pthread_cond_wait(&q->nonempty, &q->lock);
    batch *b = q->ring[q->head];
    q->head = (q->head + 1) % SP_BATCHES_PER_WORKER;
    q->len--;
    pthread_mutex_unlock(&q->lock);
    return b;
}

/* Only at shutdown, after the worker is joined: NULL when empty. */
static batch *bqueue_try_pop(bqueue *q)
{
    pthread_mutex_lock(&q->lock);
    batch *b = NULL;
    if (q->len) {
        b = q->ring[q->head];
        q->head = (q->head + 1) % SP_BATCHES_PER_WORKER;
        q->len--;
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

static void *worker_main(void *data)
{
    worker *w = data;
    for (;;) {
        batch *b = bqueue_pop(&w->work);
        bool stop = b->stop;
        for (size_t i = 0; i < b->n; i++) {
            item *it = &b->items[i];
            sr_segment seg = it->seg;
            seg.payload = seg.payload_len ? b->arena + (uintptr_t)it->seg.payload : NULL;
            feed(w, &it->flow, &seg, it->frame);
        }
        b->n = b->used = 0;
        b->stop = false;
        bqueue_push(&w->spare, b);
        if (stop)
            return NULL;
    }
}

static void dispatch(app *ap, worker *w, const sr_flow *flow, const sr_segment *seg,
                     uint64_t frame)
{
    if (ap->threads == 1) {
        feed(w, flow, seg, frame);
        return;
    }
    batch *b = w->cur;
    if (b && (b->n == SP_BATCH_ITEMS || b->used + seg->payload_len > SP_BATCH_ARENA)) {
        bqueue_push(&w->work, b);
        b = w->cur = NULL;
    }
    if (!b)
        b = w->cur = bqueue_pop(&w->spare); /* blocks: bounded memory */
    item *it = &b->items[b->n++];
    it->flow = *flow;
    it->seg = *seg;
    it->frame = frame;
    if (seg->payload_len) {
        memcpy(b->arena + b->used, seg->payload, seg->payload_len);
        it->seg.payload = (const uint8_t *)(uintptr_t)b->used;
        b->used += seg->payload_len;
    }
}

/* ------------------------------------------------------------ input */

#ifdef SP_HAVE_ZLIB
/* gzip-compressed captures (as shipped by Wireshark's and Zeek's test
 * suites) are read through a stdio cookie, so libpcap sees a FILE *. */
static ssize_t gz_read(void *c, char *buf, size_t n)
{
    int r = gzread((gzFile)c, buf, n > INT_MAX ? INT_MAX : (unsigned)n);
    return r < 0 ? -1 : r;
}
static int gz_close(void *c) { return gzclose((gzFile)c) == Z_OK ? 0 : -1; }
#endif

typedef struct input {
    pcap_t *p;
    void *gz;   /* gzFile when compressed (closed through the cookie) */
    off_t size; /* file size for the progress bar, 0 if unknown */
} input;

static bool input_open(input *in, const char *path)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    memset(in, 0, sizeof *in);
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        msg("%s: %s", path, g_strerror(errno));
        return false;
    }
    struct stat stt;
    if (fstat(fileno(fp), &stt) == 0 && S_ISREG(stt.st_mode))
        in->size = stt.st_size;
    /* No pcap or pcapng magic starts with 0x1f, gzip always does: one
     * byte of look-ahead (one ungetc is always allowed) tells them apart. */
    int c0 = getc(fp);
    if (c0 != EOF)
        ungetc(c0, fp);
    if (c0 == 0x1f) {
#ifdef SP_HAVE_ZLIB
        if (is_stdin) {
            msg("%s: gzip-compressed standard input is not supported", path);
            return false;
        }
        fclose(fp);
        gzFile g = gzopen(path, "rb");
        if (!g) {
            msg("%s: cannot open gzip stream", path);
            return false;
        }
        cookie_io_functions_t io = {gz_read, NULL, NULL, gz_close};
        FILE *cf = fopencookie(g, "rb", io);
        if (!cf) {
            gzclose(g);
            msg("%s: %s", path, g_strerror(errno));
            return false;
        }
        in->gz = g;
        in->p = pcap_fopen_offline_with_tstamp_precision(cf, PCAP_TSTAMP_PRECISION_MICRO, err);
        if (!in->p)
            fclose(cf);
#else
        msg("%s: gzip-compressed capture, but built without zlib", path);
        if (!is_stdin)
            fclose(fp);
        return false;
#endif
    } else {
        in->p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, err);
        if (!in->p && !is_stdin)
            fclose(fp);
    }
    if (!in->p) {
        msg("%s: %s", path, err);
        return false;
    }
    return true;
}

static off_t input_pos(const input *in)
{
#ifdef SP_HAVE_ZLIB
    if (in->gz)
        return (off_t)gzoffset((gzFile)in->gz);
#endif
    FILE *f = pcap_file(in->p);
    return f ? ftello(f) : 0;
}

static void input_close(input *in)
{
    if (in->p)
        pcap_close(in->p); /* closes the FILE (or the gzip cookie) */
}

static void progress(const char *path, uint64_t frames, off_t pos, off_t size, bool done)
{
    if (size > 0) {
        int pct = (int)(pos * 100 / size);
        if (pct > 100)
            pct = 100;
        char bar[41];
        int fill = pct * 40 / 100;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(40 - fill));
        bar[40] = 0;
        fprintf(stderr, "\r%s [%s] %3d%% %" PRIu64 " frames", path, bar, pct, frames);
    } else {
        fprintf(stderr, "\r%s %" PRIu64 " frames", path, frames);
    }
    if (done)
        fputs("\r\033[K", stderr); /* clear the line: the results follow */
    fflush(stderr);
}

static void run_file(app *ap, const char *path, bool show_progress)
{
    input in;
    if (!input_open(&in, path)) {
        ap->files_failed++;
        return;
    }
    int dlt = pcap_datalink(in.p);
    struct pcap_pkthdr *h;
    const u_char *data;
    int r;
    uint64_t n = 0;
    gint64 last = 0;
    while ((r = pcap_next_ex(in.p, &h, &data)) == 1) {
        uint64_t packet = ++n;
        uint64_t frame = ++ap->frames; /* across all files: names connections */
        /* One capture clock for every segment, in every --threads mode: the
         * highest frame time so far (a frame whose time goes backwards is
         * taken at the clock). Each worker then sees the times one thread
         * would, whatever the other workers' connections do. */
        sr_time ts = (sr_time)h->ts.tv_sec * SR_USEC_PER_SEC + h->ts.tv_usec;
        if (!ap->clock_set || ts > ap->clock) {
            ap->clock = ts;
            ap->clock_set = true;
        }
        if (show_progress && (n & 1023) == 0) {
            gint64 now = g_get_monotonic_time();
            if (now - last > 200000) {
                last = now;
                progress(path, n, input_pos(&in), in.size, false);
            }
        }
        sp_segment s;
        const char *why = NULL;
        sp_decode_result dr = sp_decode(dlt, data, h->caplen, h->len, &s, &why);
        ap->decode_count[dr]++;
        if (dr != SP_DEC_tcp) {
            if (why && (ap->verbose || ap->msgs[dr] < SP_MSG_LIMIT)) {
                msg("%s: frame %" PRIu64 ": %s (%u of %u bytes captured), skipped", path, packet,
                    why, h->caplen, h->len);
                if (!ap->verbose && ++ap->msgs[dr] == SP_MSG_LIMIT)
                    msg("%s: further '%s' messages suppressed (see the counters)", path,
                        sp_decode_name(dr));
            }
            continue;
        }
        if (s.notes & SP_NOTE_SNAPLEN_CUT)
            ap->decode_count[SP_DEC_snaplen_cut]++;
        if (s.notes & SP_NOTE_TSO_LENGTH)
            ap->decode_count[SP_DEC_tso_length]++;
        if (s.notes & SP_NOTE_SHORT_FRAME)
            ap->decode_count[SP_DEC_short_frame]++;
        sr_segment seg = {
            .seq = s.seq,
            .ack = s.ack,
            .flags = s.flags,
            .payload = s.payload,
            .payload_len = s.payload_len,
            .claimed_len = s.claimed_len,
            .timestamp = ap->clock,
        };
        worker *w = &ap->w[ap->threads == 1 ? 0 : sp_flow_hash(&s.flow) % ap->threads];
        dispatch(ap, w, &s.flow, &seg, frame);
    }
    if (show_progress)
        progress(path, n, in.size, in.size, true);
    if (r == PCAP_ERROR) {
        msg("%s: after frame %" PRIu64 ": %s (rest of the file ignored)", path, n,
            pcap_geterr(in.p));
        ap->files_failed++;
    }
    input_close(&in);
}

/* ------------------------------------------------------------ options */

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* Seconds, decimal allowed ("0.5"), to microseconds. */
static bool parse_seconds(const char *s, sr_time *out)
{
    char *end;
    if (!s || !*s)
        return false;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0 || v > 1e12)
        return false;
    *out = (sr_time)llround(v * 1e6);
    return true;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [options] FILE...\n"
            "Reassemble the TCP streams of pcap/pcapng files (gzip too; '-' = stdin)\n"
            "with the safereasm core. Prints one line per direction, sorted:\n"
            "  src:port>dst:port delivered skipped conflicts dropped sha256\n"
            "(\"@ZONE\" follows dst:port when the segments carried VLAN tags), then\n"
            "the counters as '# ' lines.\n\n"
            "  -w, --write DIR          write each direction's bytes to DIR/ (gaps are\n"
            "                           not filled) and DIR/streams.tsv (gaps, conflicts)\n"
            "  -t, --threads N          N worker threads (1..%d), each with its own pool\n"
            "                           and assembler; default 1 (no worker thread).\n"
            "                           With --threads N every cap is split N ways\n"
            "                           (pages total and connections; pages per\n"
            "                           connection at most a worker's share): identical\n"
            "                           output to --threads 1 unless a cap is hit\n"
            "      --verify             check that every direction's distinct sequence\n"
            "                           numbers seen <= delivered + skipped + dropped, and\n"
            "                           that the core's totals equal what it handed over\n"
            "      --empty              also print directions that carried no data\n"
            "      --no-stats           do not print the counters\n"
            "      --progress / --no-progress   default: only when stderr is a terminal\n"
            "  -v, --verbose            print every skipped-frame message\n"
            "Core options (defaults in brackets; checked by sr_options_validate):\n"
            "      --max-pages-total N            [%u]\n"
            "      --max-pages-per-connection N   [%u]\n"
            "      --page-size BYTES              [%u]\n"
            "      --connection-timeout SECONDS   [%d]\n"
            "      --flush-interval SECONDS       [%d]\n"
            "      --closed-linger SECONDS        [%d]\n"
            "      --max-window BYTES             [%u]\n"
            "      --max-connections N            [%u] (pool)\n"
            "      --conflict-history BYTES       [%u] delivered bytes kept to detect\n"
            "                                     retransmissions with other content\n"
            "  -h, --help   -V, --version\n"
            "Exit status: 0 done; 1 a file could not be read whole, or an output not\n"
            "written; 2 bad option or value; 3 --verify found a violation (wins over 1).\n",
            SP_MAX_THREADS, SR_DEFAULT_MAX_PAGES_TOTAL, SR_DEFAULT_MAX_PAGES_PER_CONNECTION,
            SR_DEFAULT_PAGE_SIZE, (int)(SR_DEFAULT_CONNECTION_TIMEOUT / SR_USEC_PER_SEC),
            (int)(SR_DEFAULT_FLUSH_INTERVAL / SR_USEC_PER_SEC),
            (int)(SR_DEFAULT_CLOSED_LINGER / SR_USEC_PER_SEC), SR_DEFAULT_MAX_WINDOW,
            SR_DEFAULT_MAX_CONNECTIONS, SR_DEFAULT_CONFLICT_HISTORY);
}

enum {
    O_EMPTY = 256,
    O_NO_STATS,
    O_PROGRESS,
    O_NO_PROGRESS,
    O_PAGES_TOTAL,
    O_PAGES_CONN,
    O_PAGE_SIZE,
    O_TIMEOUT,
    O_FLUSH,
    O_LINGER,
    O_WINDOW,
    O_MAXCONN,
    O_CONFLICT_HISTORY,
    O_VERIFY,
};

static int bad_value(const char *opt, const char *val)
{
    msg("invalid value '%s' for --%s", val, opt);
    return SP_EXIT_USAGE;
}

/* Returns 0 and the index of the first file, or an exit code. */
static int parse_args(app *ap, int argc, char **argv, int *first_file)
{
    static const struct option lo[] = {
        {"write", required_argument, NULL, 'w'},
        {"threads", required_argument, NULL, 't'},
        {"empty", no_argument, NULL, O_EMPTY},
        {"verify", no_argument, NULL, O_VERIFY},
        {"no-stats", no_argument, NULL, O_NO_STATS},
        {"progress", no_argument, NULL, O_PROGRESS},
        {"no-progress", no_argument, NULL, O_NO_PROGRESS},
        {"verbose", no_argument, NULL, 'v'},
        {"max-pages-total", required_argument, NULL, O_PAGES_TOTAL},
        {"max-pages-per-connection", required_argument, NULL, O_PAGES_CONN},
        {"page-size", required_argument, NULL, O_PAGE_SIZE},
        {"connection-timeout", required_argument, NULL, O_TIMEOUT},
        {"flush-interval", required_argument, NULL, O_FLUSH},
        {"closed-linger", required_argument, NULL, O_LINGER},
        {"max-window", required_argument, NULL, O_WINDOW},
        {"max-connections", required_argument, NULL, O_MAXCONN},
        {"conflict-history", required_argument, NULL, O_CONFLICT_HISTORY},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c, li;
    uint64_t u;
    while ((c = getopt_long(argc, argv, "w:t:vhV", lo, &li)) != -1) {
        switch (c) {
        case 'w':
            ap->write_dir = optarg;
            break;
        case 't':
            if (!parse_u64(optarg, SP_MAX_THREADS, &u) || u == 0)
                return bad_value("threads", optarg);
            ap->threads = (unsigned)u;
            break;
        case 'v':
            ap->verbose = true;
            break;
        case O_EMPTY:
            ap->show_empty = true;
            break;
        case O_VERIFY:
            ap->verify = true;
            break;
        case O_NO_STATS:
            ap->show_stats = false;
            break;
        case O_PROGRESS:
            ap->progress = 1;
            break;
        case O_NO_PROGRESS:
            ap->progress = 0;
            break;
        case O_PAGES_TOTAL:
            if (!parse_u64(optarg, SIZE_MAX, &u))
                return bad_value("max-pages-total", optarg);
            ap->opt.max_buffered_pages_total = (size_t)u;
            break;
        case O_PAGES_CONN:
            if (!parse_u64(optarg, SIZE_MAX, &u))
                return bad_value("max-pages-per-connection", optarg);
            ap->opt.max_buffered_pages_per_connection = (size_t)u;
            break;
        case O_PAGE_SIZE:
            if (!parse_u64(optarg, SIZE_MAX, &u))
                return bad_value("page-size", optarg);
            ap->opt.page_size = (size_t)u;
            break;
        case O_TIMEOUT:
            if (!parse_seconds(optarg, &ap->opt.connection_timeout))
                return bad_value("connection-timeout", optarg);
            break;
        case O_FLUSH:
            if (!parse_seconds(optarg, &ap->opt.flush_interval))
                return bad_value("flush-interval", optarg);
            break;
        case O_LINGER:
            if (!parse_seconds(optarg, &ap->opt.closed_linger))
                return bad_value("closed-linger", optarg);
            break;
        case O_WINDOW:
            if (!parse_u64(optarg, UINT32_MAX, &u))
                return bad_value("max-window", optarg);
            ap->opt.max_window = (uint32_t)u;
            break;
        case O_MAXCONN:
            if (!parse_u64(optarg, SIZE_MAX, &u) || u == 0)
                return bad_value("max-connections", optarg);
            ap->max_connections = (size_t)u;
            break;
        case O_CONFLICT_HISTORY:
            if (!parse_u64(optarg, SIZE_MAX, &u))
                return bad_value("conflict-history", optarg);
            ap->opt.conflict_history = (size_t)u;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case 'V':
            printf(PROG " %s (libpcap: %s)\n", SR_VERSION_STRING, pcap_lib_version());
            return -1;
        default:
            usage(stderr);
            return SP_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return SP_EXIT_USAGE;
    }
    char m[256] = "";
    sr_error e = sr_options_validate(&ap->opt, m, sizeof m);
    if (e != SR_OK) {
        msg("%s: %s", sr_strerror(e), m[0] ? m : "(no message)");
        return SP_EXIT_USAGE;
    }
    *first_file = optind;
    return 0;
}

/* ------------------------------------------------------------ output */

static gint cmp_result(gconstpointer a, gconstpointer b)
{
    const result *x = *(result *const *)a, *y = *(result *const *)b;
    int c = strcmp(x->line, y->line);
    if (c)
        return c;
    return x->conn_id < y->conn_id ? -1 : x->conn_id > y->conn_id;
}

static gint cmp_event(gconstpointer a, gconstpointer b)
{
    const conflict_event *x = a, *y = b;
    if (x->conn_id != y->conn_id)
        return x->conn_id < y->conn_id ? -1 : 1;
    if (x->dir != y->dir)
        return x->dir - y->dir;
    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/* Frames of the sorted events of (id, dir), "-" if none. */
static char *conflict_frames(const GArray *ev, uint64_t id, int dir)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < ev->len; i++) {
        const conflict_event *e = &g_array_index(ev, conflict_event, i);
        if (e->conn_id == id && e->dir == dir)
            g_string_append_printf(s, "%s%" PRIu64, s->len ? "," : "", e->frame);
    }
    if (s->len == 0)
        g_string_append_c(s, '-');
    return g_string_free(s, FALSE);
}

static int write_index(app *ap, const GPtrArray *results, const GArray *events)
{
    char *path = g_build_filename(ap->write_dir, "streams.tsv", NULL);
    FILE *f = fopen(path, "w");
    if (!f) {
        msg("cannot write %s: %s", path, g_strerror(errno));
        g_free(path);
        return SP_EXIT_IO;
    }
    fputs("# file\tconn_id\tdir\tkey\tdelivered\tskipped\tconflicts\tdropped\tsha256\tzone"
          "\tclose\tgaps(offset+len)\tconflict_chunks(offset+len)\tconflict_packets\n",
          f);
    for (guint i = 0; i < results->len; i++) {
        const result *r = g_ptr_array_index(results, i);
        char **fields = g_strsplit(r->line, " ", 6);
        char *cp = conflict_frames(events, r->conn_id, r->dir);
        char **ix = g_strsplit(r->index, "\t", 2);
        fprintf(f, "%s\t%" PRIu64 "\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ix[0], r->conn_id,
                r->dir, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], ix[1],
                cp);
        g_strfreev(ix);
        g_strfreev(fields);
        g_free(cp);
    }
    int rc = fclose(f) == 0 ? SP_EXIT_OK : SP_EXIT_IO;
    g_free(path);
    return rc;
}

static void print_stats(app *ap, const sr_assembler_stats *as, const sr_pool_stats *ps,
                        uint64_t verified, uint64_t violations)
{
    printf("# frames %" PRIu64 "\n", ap->frames);
    for (int i = 0; i < SP_DEC_COUNT_; i++)
        printf("# decode %s %" PRIu64 "\n", sp_decode_name((sp_decode_result)i),
               ap->decode_count[i]);
#define SP__XX(name, desc) printf("# assembler " #name " %" PRIu64 "\n", as->name);
    SR_ASSEMBLER_STATS_MAP(SP__XX)
#undef SP__XX
#define SP__XX(name, desc) printf("# pool " #name " %" PRIu64 "\n", ps->name);
    SR_POOL_STATS_MAP(SP__XX)
#undef SP__XX
    for (int e = 1; e < SR_ERROR_COUNT_; e++) {
        uint64_t n = 0;
        for (unsigned t = 0; t < ap->threads; t++)
            n += ap->w[t].err_count[e];
        if (n)
            printf("# error %s %" PRIu64 "\n", sr_err_name((sr_error)e), n);
    }
    if (ap->verify) {
        printf("# verify directions %" PRIu64 "\n", verified);
        printf("# verify violations %" PRIu64 "\n", violations);
    }
}

/* --verify, per direction of every completed connection: the distinct
 * sequence numbers its taken segments carried (the tool's own count, no
 * stream offsets of the core involved) cannot exceed the bytes the core
 * accounted for. Over 4 GiB the 32-bit set saturates: still a lower bound. */
static void verify_worker(worker *w, uint64_t *checked)
{
    for (guint i = 0; i < w->done->len; i++) {
        const stream *st = g_ptr_array_index(w->done, i);
        for (int d = 0; d < 2; d++) {
            const dir_state *ds = &st->d[d];
            uint64_t seen = sp_seqset_count(&ds->seen);
            uint64_t sum = ds->total[0] + ds->total[1] + ds->total[2];
            (*checked)++;
            if (seen > sum) {
                char key[256];
                fmt_key(key, sizeof key, &st->flow, d);
                g_ptr_array_add(w->violations,
                                g_strdup_printf("%s conn %" PRIu64 " dir %d: %" PRIu64
                                                " distinct bytes seen, delivered %" PRIu64
                                                " + skipped %" PRIu64 " + dropped %" PRIu64,
                                                key, st->id, d, seen, ds->total[0],
                                                ds->total[1], ds->total[2]));
            }
        }
    }
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------ workers */

/* Worker t's caps: the process-wide ones split N ways, at least 1 each. */
static void split_caps(const app *ap, worker *w)
{
    unsigned n = ap->threads;
    w->opt = ap->opt;
    w->opt.max_buffered_pages_total = MAX(ap->opt.max_buffered_pages_total / n, 1);
    w->opt.max_buffered_pages_per_connection =
        MIN(ap->opt.max_buffered_pages_per_connection, w->opt.max_buffered_pages_total);
    w->max_connections = MAX(ap->max_connections / n, 1);
}

static bool worker_start(app *ap, worker *w, const sr_stream_factory *fac)
{
    w->app = ap;
    split_caps(ap, w);
    w->conns = g_hash_table_new(g_int64_hash, g_int64_equal);
    w->closed = g_ptr_array_new();
    w->done = g_ptr_array_new();
    w->results = g_ptr_array_new();
    w->conflict_events = g_array_new(FALSE, FALSE, sizeof(conflict_event));
    w->violations = g_ptr_array_new_with_free_func(g_free);
    sr_stream_factory f = *fac;
    f.user_data = w;
    sr_error e = SR_OK;
    w->pool = sr_pool_new(&f, w->max_connections, &e);
    if (!w->pool) {
        msg("sr_pool_new: %s", sr_strerror(e));
        return false;
    }
    char m[256] = "";
    if (sr_options_validate(&w->opt, m, sizeof m) != SR_OK) {
        /* The caps were valid before the split, and a split keeps them so. */
        msg("per-thread options: %s", m);
        return false;
    }
    e = sr_assembler_new(w->pool, &w->opt, &w->a);
    if (e != SR_OK) {
        msg("sr_assembler_new: %s", sr_strerror(e));
        return false;
    }
    if (ap->threads > 1) {
        bqueue_init(&w->work);
        bqueue_init(&w->spare);
        for (int i = 0; i < SP_BATCHES_PER_WORKER; i++)
            bqueue_push(&w->spare, g_new0(batch, 1));
        int pe = pthread_create(&w->thread, NULL, worker_main, w);
        if (pe != 0) {
            msg("cannot start a worker thread: %s", g_strerror(pe));
            return false;
        }
        w->started = true;
    }
    return true;
}

/* Hand over the last batch with the stop mark and join the thread. */
static void worker_stop(worker *w)
{
    if (!w->started)
        return;
    batch *b = w->cur ? w->cur : bqueue_pop(&w->spare);
    w->cur = NULL;
    b->stop = true;
    bqueue_push(&w->work, b);
    pthread_join(w->thread, NULL);
    w->started = false;
    batch *x;
    while ((x = bqueue_try_pop(&w->spare)))
        g_free(x);
    bqueue_clear(&w->work);
    bqueue_clear(&w->spare);
}

/* End of input, after the worker is joined: the sweep a segment at the
 * final clock would run (idle connections complete as TIMEOUT, as with one
 * thread, whichever worker last saw a segment when), then complete the rest
 * (FLUSHED: buffered data delivered, holes skipped); then the counters. */
static void worker_finish(app *ap, worker *w, sr_assembler_stats *as, sr_pool_stats *ps)
{
    feed_ctx fc = {0};
    sr_error e;
    if (ap->clock_set) {
        e = sr_assembler_flush_older_than(w->a, ap->clock - ap->opt.connection_timeout, &fc,
                                          NULL, NULL);
        if (e != SR_OK)
            msg("sr_assembler_flush_older_than: %s", sr_strerror(e));
        release_closed(w);
    }
    e = sr_assembler_flush_all(w->a, &fc, NULL);
    if (e != SR_OK)
        msg("sr_assembler_flush_all: %s", sr_strerror(e));
    release_closed(w);
    sr_assembler_stats s;
    if (sr_assembler_get_stats(w->a, &s) == SR_OK) {
        /* Counters add up over workers; the page gauges (pages_in_use,
         * pages_peak) too, which makes the peak an upper bound. */
#define SP__XX(name, desc) as->name += s.name;
        SR_ASSEMBLER_STATS_MAP(SP__XX)
#undef SP__XX
    }
    sr_pool_stats p;
    if (sr_pool_get_stats(w->pool, &p) == SR_OK) {
        /* peak_connections likewise an upper bound. */
#define SP__XX(name, desc) ps->name += p.name;
        SR_POOL_STATS_MAP(SP__XX)
#undef SP__XX
    }
    sr_assembler_free(w->a);
    w->a = NULL;
    sr_pool_close(w->pool);
    release_closed(w);
    sr_pool_free(w->pool);
    w->pool = NULL;
}

static void worker_free(worker *w)
{
    if (w->conns) {
        /* Empty after the flushes; whatever is left (a start that failed
         * half way) is freed here. */
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, w->conns);
        while (g_hash_table_iter_next(&it, &k, &v))
            stream_free(v);
        g_hash_table_destroy(w->conns);
    }
    if (w->done) {
        for (guint i = 0; i < w->done->len; i++)
            stream_free(g_ptr_array_index(w->done, i));
        g_ptr_array_free(w->done, TRUE);
    }
    if (w->closed)
        g_ptr_array_free(w->closed, TRUE);
    if (w->results)
        g_ptr_array_free(w->results, TRUE); /* the results moved to the output list */
    if (w->conflict_events)
        g_array_free(w->conflict_events, TRUE);
    if (w->violations)
        g_ptr_array_free(w->violations, TRUE);
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    static app a; /* large (worker table): not on the stack */
    app *ap = &a;
    ap->threads = 1;
    ap->show_stats = true;
    ap->progress = -1;
    ap->max_connections = SR_DEFAULT_MAX_CONNECTIONS;
    sr_options_init(&ap->opt);
    int first = 0;
    int rc = parse_args(ap, argc, argv, &first);
    if (rc)
        return rc < 0 ? SP_EXIT_OK : rc;
    if (ap->write_dir && g_mkdir_with_parents(ap->write_dir, 0755) != 0) {
        msg("cannot create %s: %s", ap->write_dir, g_strerror(errno));
        return SP_EXIT_IO;
    }
    pthread_mutex_init(&ap->msg_lock, NULL);

    sr_stream_factory fac = {cb_new_stream, cb_on_data, cb_on_complete, NULL};
    for (unsigned t = 0; t < ap->threads; t++) {
        if (!worker_start(ap, &ap->w[t], &fac)) {
            for (unsigned u = 0; u <= t; u++) {
                worker_stop(&ap->w[u]);
                sr_assembler_free(ap->w[u].a);
                sr_pool_free(ap->w[u].pool);
                worker_free(&ap->w[u]);
            }
            return SP_EXIT_IO;
        }
    }

    bool show_progress = ap->progress == 1 || (ap->progress == -1 && isatty(STDERR_FILENO));
    for (int i = first; i < argc; i++)
        run_file(ap, argv[i], show_progress);

    sr_assembler_stats as = {0};
    sr_pool_stats ps = {0};
    GPtrArray *results = g_ptr_array_new();
    GArray *events = g_array_new(FALSE, FALSE, sizeof(conflict_event));
    GPtrArray *violations = g_ptr_array_new_with_free_func(g_free);
    uint64_t write_errors = 0, verified = 0;
    for (unsigned t = 0; t < ap->threads; t++) {
        worker *w = &ap->w[t];
        worker_stop(w);
        worker_finish(ap, w, &as, &ps);
        if (ap->verify)
            verify_worker(w, &verified);
        g_ptr_array_extend_and_steal(results, w->results);
        w->results = NULL;
        g_array_append_vals(events, w->conflict_events->data, w->conflict_events->len);
        g_ptr_array_extend_and_steal(violations, w->violations);
        w->violations = NULL;
        write_errors += w->write_errors;
        worker_free(w);
    }

    g_ptr_array_sort(results, cmp_result);
    g_array_sort(events, cmp_event);
    g_ptr_array_sort(violations, cmp_str);
    for (guint i = 0; i < results->len; i++) {
        result *r = g_ptr_array_index(results, i);
        puts(r->line);
    }
    if (ap->show_stats)
        print_stats(ap, &as, &ps, verified, violations->len);
    if (ap->write_dir && write_index(ap, results, events) != SP_EXIT_OK)
        rc = SP_EXIT_IO;
    if (fflush(stdout) != 0)
        rc = SP_EXIT_IO;
    for (guint i = 0; i < results->len; i++) {
        result *r = g_ptr_array_index(results, i);
        g_free(r->line);
        g_free(r->index);
        g_free(r);
    }
    g_ptr_array_free(results, TRUE);
    g_array_free(events, TRUE);
    if (ap->files_failed || write_errors)
        rc = SP_EXIT_IO;
    for (guint i = 0; i < violations->len; i++)
        msg("verify: %s", (const char *)g_ptr_array_index(violations, i));
    if (violations->len) {
        msg("verify: %u violations in %" PRIu64 " directions checked", violations->len, verified);
        rc = SP_EXIT_VERIFY;
    }
    g_ptr_array_free(violations, TRUE);
    pthread_mutex_destroy(&ap->msg_lock);
    return rc;
}
