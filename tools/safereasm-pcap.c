/* safereasm-pcap.c - reassemble every TCP stream of pcap/pcapng files with
 * the safereasm core and print one line per direction:
 *
 *     src:port>dst:port delivered skipped conflicts sha256
 *
 * sorted bytewise, then the decoder's and the core's counters as "# ..."
 * lines. See the README (Fidelity) for the options and the output format.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 *
 * Threads: with --threads N > 1 the reading thread decodes frames and hands
 * copies of the segments, in batches, to N workers chosen by a symmetric
 * flow hash (both directions of a connection go to the same worker). Every
 * worker owns one sr_assembler; all assemblers share one sr_pool. Stream
 * callbacks may run in any of these threads (a sweep started by one
 * assembler may complete another's connection), but the core runs the
 * callbacks of one connection under that connection's lock, so a stream
 * object is only ever touched by one thread at a time. The shared result
 * list is protected by app.lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pcap/pcap.h>
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

#define PROG "safereasm-pcap"
#define SP_MAX_THREADS 64
#define SP_BATCH_ITEMS 512
#define SP_BATCH_ARENA (1u << 20) /* >= any pcap snaplen (262144) */
#define SP_BATCHES_PER_WORKER 4
#define SP_MSG_LIMIT 10 /* messages of one kind before we only count */

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
} dir_state;

typedef struct stream {
    uint64_t id;
    sr_flow flow; /* client -> server */
    dir_state d[2];
} stream;

typedef struct result {
    char *line; /* the printed line */
    uint64_t conn_id;
    int dir;
    uint64_t delivered, skipped, conflicts;
    char *index; /* --write index row after the line fields */
} result;

typedef struct conflict_event {
    uint64_t conn_id;
    int dir;
    uint64_t packet;
} conflict_event;

/* ------------------------------------------------------------ threads */

typedef struct item {
    sr_flow flow;
    sr_segment seg; /* seg.payload is an offset into the batch arena */
    uint64_t packet;
} item;

typedef struct batch {
    size_t n, used;
    bool stop;
    item items[SP_BATCH_ITEMS];
    uint8_t arena[SP_BATCH_ARENA];
} batch;

struct app;

typedef struct worker {
    struct app *app;
    sr_assembler *a;
    GThread *thread;
    GAsyncQueue *work, *spare;
    batch *cur; /* being filled by the reader */
    uint64_t err_count[SR_ERROR_COUNT_];
} worker;

typedef struct app {
    /* options */
    const char *write_dir;
    unsigned threads;
    bool show_empty, show_stats, verbose;
    int progress; /* -1 auto, 0 off, 1 on */
    size_t max_connections;
    sr_options opt;

    sr_pool *pool;
    worker w[SP_MAX_THREADS];

    GMutex lock; /* results, conflict events, messages */
    GPtrArray *results;
    GArray *conflict_events;
    uint64_t write_errors;

    /* reader side */
    uint64_t decode_count[SP_DEC_COUNT_];
    uint64_t frames, files_failed;
    unsigned msgs[SP_DEC_COUNT_];
    unsigned err_msgs[SR_ERROR_COUNT_];
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

static void *cb_new_stream(void *user_data, const sr_conn_info *info, void *packet_ctx)
{
    app *ap = user_data;
    (void)packet_ctx;
    stream *st = g_new0(stream, 1);
    st->id = info->id;
    st->flow = info->flow;
    for (int d = 0; d < 2; d++) {
        st->d[d].sha = g_checksum_new(G_CHECKSUM_SHA256);
        st->d[d].gaps = g_array_new(FALSE, FALSE, sizeof(range));
        st->d[d].conflicts = g_array_new(FALSE, FALSE, sizeof(range));
        if (ap->write_dir) {
            char *name = file_name(&st->flow, st->id, d);
            st->d[d].path = g_build_filename(ap->write_dir, name, NULL);
            g_free(name);
        }
    }
    return st;
}

static int cb_on_data(void *user_data, void *strm, const sr_conn_info *info,
                      const sr_chunk *chunk, void *packet_ctx)
{
    app *ap = user_data;
    stream *st = strm;
    (void)info;
    (void)packet_ctx;
    if ((unsigned)chunk->dir > 1)
        return 0;
    dir_state *ds = &st->d[chunk->dir];
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
            ds->write_failed = true;
            g_mutex_lock(&ap->lock);
            if (ap->write_errors++ < SP_MSG_LIMIT)
                msg("cannot write %s: %s", ds->path, g_strerror(errno));
            g_mutex_unlock(&ap->lock);
        }
        if (fp)
            fclose(fp);
    }
    return 0;
}

static void cb_on_complete(void *user_data, void *strm, const sr_conn_info *info,
                           sr_close_reason reason, void *packet_ctx)
{
    app *ap = user_data;
    stream *st = strm;
    (void)packet_ctx;
    for (int d = 0; d < 2; d++) {
        dir_state *ds = &st->d[d];
        uint64_t del = info->delivered[d], skp = info->skipped[d], cf = info->conflicts[d];
        if (ap->show_empty || del || skp || cf) {
            char key[256];
            fmt_key(key, sizeof key, &st->flow, d);
            result *r = g_new0(result, 1);
            r->conn_id = st->id;
            r->dir = d;
            r->delivered = del;
            r->skipped = skp;
            r->conflicts = cf;
            r->line = g_strdup_printf("%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %s", key, del,
                                      skp, cf, g_checksum_get_string(ds->sha));
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
            g_mutex_lock(&ap->lock);
            g_ptr_array_add(ap->results, r);
            g_mutex_unlock(&ap->lock);
        }
        g_checksum_free(ds->sha);
        g_array_free(ds->gaps, TRUE);
        g_array_free(ds->conflicts, TRUE);
        g_free(ds->path);
    }
    g_free(st);
}

/* ------------------------------------------------------------ feeding */

static void feed(app *ap, worker *w, const sr_flow *flow, const sr_segment *seg,
                 uint64_t packet)
{
    sr_result res;
    sr_error e = sr_assemble_ex(w->a, flow, seg, NULL, &res);
    if (e != SR_OK) {
        if ((unsigned)e < SR_ERROR_COUNT_)
            w->err_count[e]++;
        /* A segment after the end of its connection (the last ACK after
         * FIN, a late retransmission) is normal traffic: counted only. */
        if (e == SR_ERR_CONNECTION_CLOSED)
            return;
        g_mutex_lock(&ap->lock);
        if ((unsigned)e < SR_ERROR_COUNT_ && ap->err_msgs[e]++ < SP_MSG_LIMIT)
            msg("packet %" PRIu64 ": %s: %s", packet, sr_err_name(e), sr_strerror(e));
        g_mutex_unlock(&ap->lock);
        return;
    }
    if (res.status & SR_SEG_CONFLICT) {
        conflict_event ev = {res.conn_id, (int)res.dir, packet};
        g_mutex_lock(&ap->lock);
        g_array_append_val(ap->conflict_events, ev);
        g_mutex_unlock(&ap->lock);
    }
}

static gpointer worker_main(gpointer data)
{
    worker *w = data;
    for (;;) {
        batch *b = g_async_queue_pop(w->work);
        bool stop = b->stop;
        for (size_t i = 0; i < b->n; i++) {
            item *it = &b->items[i];
            sr_segment seg = it->seg;
            seg.payload = seg.payload_len ? b->arena + (uintptr_t)it->seg.payload : NULL;
            feed(w->app, w, &it->flow, &seg, it->packet);
        }
        b->n = b->used = 0;
        b->stop = false;
        g_async_queue_push(w->spare, b);
        if (stop)
            return NULL;
    }
}

static void dispatch(app *ap, worker *w, const sr_flow *flow, const sr_segment *seg,
                     uint64_t packet)
{
    if (ap->threads == 1) {
        feed(ap, w, flow, seg, packet);
        return;
    }
    batch *b = w->cur;
    if (b && (b->n == SP_BATCH_ITEMS || b->used + seg->payload_len > SP_BATCH_ARENA)) {
        g_async_queue_push(w->work, b);
        b = w->cur = NULL;
    }
    if (!b)
        b = w->cur = g_async_queue_pop(w->spare); /* blocks: bounded memory */
    item *it = &b->items[b->n++];
    it->flow = *flow;
    it->seg = *seg;
    it->packet = packet;
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
        ap->frames++;
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
            .timestamp = (sr_time)h->ts.tv_sec * SR_USEC_PER_SEC + h->ts.tv_usec,
        };
        worker *w = &ap->w[ap->threads == 1 ? 0 : sp_flow_hash(&s.flow) % ap->threads];
        dispatch(ap, w, &s.flow, &seg, packet);
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
            "  src:port>dst:port delivered skipped conflicts sha256\n"
            "(\"@ZONE\" follows dst:port when the segments carried VLAN tags), then\n"
            "the counters as '# ' lines.\n\n"
            "  -w, --write DIR          write each direction's bytes to DIR/ (gaps are\n"
            "                           not filled) and DIR/streams.tsv (gaps, conflicts)\n"
            "  -t, --threads N          N worker threads (1..%d), one assembler each,\n"
            "                           one shared pool; default 1 (no worker thread)\n"
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
            "  -h, --help   -V, --version\n",
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
};

static int bad_value(const char *opt, const char *val)
{
    msg("invalid value '%s' for --%s", val, opt);
    return 2;
}

/* Returns 0 and the index of the first file, or an exit code. */
static int parse_args(app *ap, int argc, char **argv, int *first_file)
{
    static const struct option lo[] = {
        {"write", required_argument, NULL, 'w'},
        {"threads", required_argument, NULL, 't'},
        {"empty", no_argument, NULL, O_EMPTY},
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
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    char m[256] = "";
    sr_error e = sr_options_validate(&ap->opt, m, sizeof m);
    if (e != SR_OK) {
        msg("%s: %s", sr_strerror(e), m[0] ? m : "(no message)");
        return 2;
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

static char *conflict_packets(app *ap, uint64_t id, int dir)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < ap->conflict_events->len; i++) {
        conflict_event *ev = &g_array_index(ap->conflict_events, conflict_event, i);
        if (ev->conn_id == id && ev->dir == dir)
            g_string_append_printf(s, "%s%" PRIu64, s->len ? "," : "", ev->packet);
    }
    if (s->len == 0)
        g_string_append_c(s, '-');
    return g_string_free(s, FALSE);
}

static gint cmp_event(gconstpointer a, gconstpointer b)
{
    const conflict_event *x = a, *y = b;
    if (x->conn_id != y->conn_id)
        return x->conn_id < y->conn_id ? -1 : 1;
    if (x->dir != y->dir)
        return x->dir - y->dir;
    return x->packet < y->packet ? -1 : x->packet > y->packet;
}

static int write_index(app *ap)
{
    char *path = g_build_filename(ap->write_dir, "streams.tsv", NULL);
    FILE *f = fopen(path, "w");
    if (!f) {
        msg("cannot write %s: %s", path, g_strerror(errno));
        g_free(path);
        return 1;
    }
    g_array_sort(ap->conflict_events, cmp_event);
    fputs("# file\tconn_id\tdir\tkey\tdelivered\tskipped\tconflicts\tsha256\tzone\tclose"
          "\tgaps(offset+len)\tconflict_chunks(offset+len)\tconflict_packets\n",
          f);
    for (guint i = 0; i < ap->results->len; i++) {
        result *r = g_ptr_array_index(ap->results, i);
        char **fields = g_strsplit(r->line, " ", 5);
        char *cp = conflict_packets(ap, r->conn_id, r->dir);
        char **ix = g_strsplit(r->index, "\t", 2);
        fprintf(f, "%s\t%" PRIu64 "\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ix[0], r->conn_id, r->dir,
                fields[0], fields[1], fields[2], fields[3], fields[4], ix[1], cp);
        g_strfreev(ix);
        g_strfreev(fields);
        g_free(cp);
    }
    int rc = fclose(f) == 0 ? 0 : 1;
    g_free(path);
    return rc;
}

static void print_stats(app *ap, const sr_assembler_stats *as, const sr_pool_stats *ps)
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
        return rc < 0 ? 0 : rc;
    if (ap->write_dir && g_mkdir_with_parents(ap->write_dir, 0755) != 0) {
        msg("cannot create %s: %s", ap->write_dir, g_strerror(errno));
        return 1;
    }

    g_mutex_init(&ap->lock);
    ap->results = g_ptr_array_new();
    ap->conflict_events = g_array_new(FALSE, FALSE, sizeof(conflict_event));

    sr_stream_factory fac = {cb_new_stream, cb_on_data, cb_on_complete, ap};
    sr_error e = SR_OK;
    ap->pool = sr_pool_new(&fac, ap->max_connections, &e);
    if (!ap->pool) {
        msg("sr_pool_new: %s", sr_strerror(e));
        return 1;
    }
    for (unsigned t = 0; t < ap->threads; t++) {
        worker *w = &ap->w[t];
        w->app = ap;
        e = sr_assembler_new(ap->pool, &ap->opt, &w->a);
        if (e != SR_OK) {
            msg("sr_assembler_new: %s", sr_strerror(e));
            return 1;
        }
        if (ap->threads > 1) {
            w->work = g_async_queue_new();
            w->spare = g_async_queue_new();
            for (int i = 0; i < SP_BATCHES_PER_WORKER; i++)
                g_async_queue_push(w->spare, g_new0(batch, 1));
            w->thread = g_thread_new("sr-worker", worker_main, w);
        }
    }

    bool show_progress = ap->progress == 1 || (ap->progress == -1 && isatty(STDERR_FILENO));
    for (int i = first; i < argc; i++)
        run_file(ap, argv[i], show_progress);

    if (ap->threads > 1) {
        for (unsigned t = 0; t < ap->threads; t++) {
            worker *w = &ap->w[t];
            batch *b = w->cur ? w->cur : g_async_queue_pop(w->spare);
            w->cur = NULL;
            b->stop = true;
            g_async_queue_push(w->work, b);
            g_thread_join(w->thread);
            batch *x;
            while ((x = g_async_queue_try_pop(w->spare)))
                g_free(x);
            g_async_queue_unref(w->work);
            g_async_queue_unref(w->spare);
        }
    }

    /* End of capture: complete every connection (buffered data delivered,
     * holes skipped), then read the counters. */
    size_t closed = 0;
    e = sr_assembler_flush_all(ap->w[0].a, NULL, &closed);
    if (e != SR_OK)
        msg("sr_assembler_flush_all: %s", sr_strerror(e));
    sr_assembler_stats sum = {0};
    for (unsigned t = 0; t < ap->threads; t++) {
        sr_assembler_stats s;
        if (sr_assembler_get_stats(ap->w[t].a, &s) == SR_OK) {
            /* Counters add up over threads; for the two page gauges the sum
             * is an upper bound of the pool-wide value. */
#define SP__XX(name, desc) sum.name += s.name;
            SR_ASSEMBLER_STATS_MAP(SP__XX)
#undef SP__XX
        }
    }
    sr_pool_stats ps = {0};
    sr_pool_get_stats(ap->pool, &ps);
    for (unsigned t = 0; t < ap->threads; t++)
        sr_assembler_free(ap->w[t].a);
    sr_pool_close(ap->pool);
    sr_pool_free(ap->pool);

    g_ptr_array_sort(ap->results, cmp_result);
    for (guint i = 0; i < ap->results->len; i++) {
        result *r = g_ptr_array_index(ap->results, i);
        puts(r->line);
    }
    if (ap->show_stats)
        print_stats(ap, &sum, &ps);
    if (ap->write_dir && write_index(ap) != 0)
        rc = 1;
    if (fflush(stdout) != 0)
        rc = 1;
    for (guint i = 0; i < ap->results->len; i++) {
        result *r = g_ptr_array_index(ap->results, i);
        g_free(r->line);
        g_free(r->index);
        g_free(r);
    }
    g_ptr_array_free(ap->results, TRUE);
    g_array_free(ap->conflict_events, TRUE);
    g_mutex_clear(&ap->lock);
    if (ap->files_failed || ap->write_errors)
        rc = 1;
    return rc;
}
