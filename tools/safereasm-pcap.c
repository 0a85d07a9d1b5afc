/* safereasm-pcap.c - reassemble every TCP stream of pcap/pcapng files with
 * the safereasm core and print one line per direction when its connection
 * completes:
 *
 *     src:port>dst:port delivered skipped conflicts dropped [sha256]
 *
 * (or one JSON object per direction with --json, or the bytes themselves
 * with --content), then the decoder's and the core's counters as "# ..."
 * lines. See safereasm-pcap(1) and the README for options and formats.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 *
 * Threads: with --threads N > 1 the reading thread decodes frames and hands
 * the segments, in batches, to N workers chosen by a symmetric
 * flow hash (both directions of a connection go to the same worker); a
 * plain pcap file, read from a mapping, has no reading thread: the workers
 * decode it chunk by chunk, each chunk once, into an index every worker
 * reads, and each feeds the frames the hash gives it (walk_indexed). Every
 * worker owns its own sr_pool and sr_assembler (one of each per overlap
 * policy with --policy all), so it shares no connection with another
 * worker: a worker ahead in capture time cannot sweep, flush or time out a
 * connection whose segments still wait in another worker's batch. The caps
 * are split N ways (6N with --policy all), so they hold for the process.
 * The reader gives every segment the same capture clock in every mode (the
 * highest frame time so far), so each worker sees exactly the times
 * --threads 1 sees. A plain pcap file is mapped; its records are read
 * with pread(2) into a buffer (file_read says why), and a batch or an
 * index entry points at the payloads in the mapping (which outlives the
 * workers); other
 * inputs (pcapng, gzip, standard input) are read by libpcap into one
 * buffer it reuses, so their payloads are copied into the batch.
 * Stream callbacks run in the worker that owns the pool
 * (and in the main thread at the end, after the workers are joined), so
 * everything a worker's callbacks touch is that worker's own.
 *
 * Output is written as connections complete, so it is never held for the
 * whole run. Every piece of output has a key: the frame being fed when it
 * was made (end-of-input phases count on after the last frame), the worker,
 * and a per-worker sequence number. One thread writes at once; with N
 * workers each worker gathers its pieces in one block per batch (see
 * out_block), hands the block over with the batch (out_lock), and the
 * reader writes them in key order up to the lowest frame every worker has finished
 * (each batch carries the frame count at hand-over; every SP_SYNC_FRAMES
 * frames every worker gets a batch, empty or not, so an idle worker cannot
 * hold the others' output back). The order is the same on every run with
 * the same N (walking workers hand their output over in the same way every
 * SP_SYNC_FRAMES frames, and the main thread writes it). Shared besides the
 * queues: the message counters (msg_lock), the walk's progress (walk_lock).
 * The hand-offs use pthread mutexes and condition variables, which
 * ThreadSanitizer understands (it cannot see GLib's futex-based locks).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef SP_HAVE_ZLIB
#include <zlib.h>
#endif

#include "decode.h"
#include "digest.h"
#include "jsonw.h"
#include "safereasm.h"
#include "seqset.h"
#include "sr-fault.h"

#define PROG "safereasm-pcap"
#define SP_MAX_THREADS 64
#define SP_BATCH_ITEMS 512
#define SP_SNAP_MAX 262144u /* mapped records: caplen at most this (what libpcap allows) */
#define SP_RB_SIZE (((size_t)1 << 20) + 16 + SP_SNAP_MAX) /* a mapped input's read buffer */
#define SP_BATCH_ARENA (1u << 20) /* >= any pcap snaplen (SP_SNAP_MAX) */
#define SP_BATCHES_PER_WORKER 4
#define SP_OUT_BUF (64u * 1024) /* standard output's buffer, not a terminal */
/* glibc's top pad with --threads N > 1: each worker's malloc arena is made
 * readable and writable this far ahead when it is created. Without it the
 * arena grows a page at a time, each page an mprotect(2) that the kernel
 * answers with a TLB shootdown of every other CPU running the process
 * (about 2,000 a run of --threads 2 on many-100000, in /proc/interrupts),
 * and the other worker pays for each: 1.10x the wall time, 1.11x the CPU.
 * Pages never touched cost no memory. */
#define SP_ARENA_PAD (16u * 1024 * 1024)
#define SP_MSG_LIMIT 10 /* messages of one kind before we only count */
#define SP_SYNC_FRAMES 4096 /* every worker gets a batch this often (output order) */
#define SP_RELEASE_STEP (1u << 20) /* one thread: mapped pages given back this often */
#define SP_POPULATE_AHEAD ((size_t)2 << 20) /* one thread: mapped pages mapped ahead */
#define SP_REGIVE_STEP ((size_t)16 << 20) /* map_give_back: all again this often */
#define SP_POLICIES SR_POLICY_COUNT_
/* --policy all: bytes of conflict-flagged chunks kept per direction and
 * policy, and for the whole process, to find the first differing offset. */
#define SP_CONFLICT_KEEP_DIR (64u * 1024)
#define SP_CONFLICT_KEEP_TOTAL ((uint64_t)64 * 1024 * 1024)

/* Exit codes (also in --help and the man page). */
enum {
    SP_EXIT_OK = 0,
    SP_EXIT_IO = 1,     /* a file could not be read (whole) or written */
    SP_EXIT_USAGE = 2,  /* bad option or value, or --write DIR not empty */
    SP_EXIT_VERIFY = 3, /* --verify found a violation (wins over 1) */
};

/* ------------------------------------------------------------ results */

typedef struct range {
    uint64_t off, len;
} range;

/* --policy all: a kept piece of a conflict-flagged chunk, bytes at pos in
 * the direction's cbytes. */
typedef struct creg {
    uint64_t off;
    size_t len, pos;
} creg;

/* What the tool keeps per open connection is split by need, so a default
 * run (text lines, no --json/--write/--verify/--policy all) keeps only a
 * `stream`: its id and the two digest contexts, each allocated at its
 * direction's first delivered byte (24 bytes, a 32-byte malloc chunk, plus
 * 2 x 112 bytes of SHA256_CTX once both directions carried data). A run
 * with one of those options allocates a `stream_x` instead, which starts
 * with the `stream`; the results of a completion live in a `conn_out`
 * only until they are written. No table maps the core's ids to streams
 * in a default run: the callbacks are handed the stream. */

struct dir_x;

/* --write: an open file and its write buffer. A worker keeps at most
 * worker.wf_max of them (least recently used closed first), so thousands
 * of concurrent connections never run out of file descriptors, and a
 * stream of small chunks costs one write(2) per SP_WBUF bytes instead of
 * an open, a pwrite and a close per chunk. */
#define SP_WFILES_MAX 128      /* per process, within RLIMIT_NOFILE */
#define SP_WBUF (32u * 1024)   /* bytes buffered per open file */
typedef struct wfile {
    struct dir_x *ds;          /* whose file */
    int fd;
    struct wfile *prev, *next; /* the worker's LRU list, most recent first */
    uint64_t pos;              /* file offset of buf[0] */
    size_t len;                /* bytes in buf */
    uint8_t buf[SP_WBUF];
} wfile;

/* Per direction, only with --json, --write, --verify or --policy all. */
typedef struct dir_x {
    GArray *gaps;      /* range: stream offset and length of each skip */
    GArray *conflicts; /* range: chunks the core flagged SR_CHUNK_CONFLICT */
                       /* (both made at their first range, NULL = none) */
    GArray *conflict_frames; /* uint64_t: --write, frames with SR_SEG_CONFLICT */
    char *path;        /* --write file, NULL if not writing */
    wfile *wf;         /* --write: while the file is open */
    bool opened, write_failed;
    uint64_t file_pos;              /* bytes written (without --fill-gaps) */
    uint64_t got_data, got_skipped; /* sums of what on_data was given */
    bool any_segment;               /* first_ts/last_ts are set */
    sr_time first_ts, last_ts;      /* capture clock of its first/last segment */
    sp_seqset seen;                 /* --verify: sequence numbers taken */
    uint64_t delivered, skipped, dropped; /* at completion, for --verify */
    GArray *cregs;       /* --policy all: creg */
    GByteArray *cbytes;  /* their bytes */
    bool c_truncated;    /* a bound was hit; nothing kept from c_trunc_off on */
    uint64_t c_trunc_off;
} dir_x;

/* One connection of one policy's pool, from new_stream until its output is
 * written (with --policy all: until every policy's copy completed); with
 * --verify until the end of the run. */
typedef struct stream {
    uint64_t id;        /* ours: frame number of the segment that created it */
    sp_digest *sha[2];  /* from the first delivered byte to completion; NULL
                           before it, SP_NO_DIGEST if that allocation failed */
} stream;

/* The stream of a run with --json, --write, --verify or --policy all
 * (app.full): every stream of such a run is one. */
typedef struct stream_x {
    stream s;         /* first: a stream_x * is a stream * */
    uint64_t core_id; /* the core's id: unique within one pool only */
    unsigned pol;     /* index of its policy in app.policies */
    sr_flow flow;     /* client -> server, for --verify's messages */
    dir_x d[2];
} stream_x;

static stream_x *sx(stream *st)
{
    return (stream_x *)st;
}

/* A direction's results at completion. */
typedef struct dir_res {
    char sha_hex[65];
    uint64_t delivered, skipped, dropped, conflict_count, dropped_segments;
} dir_res;

/* A completed connection (one policy's copy) until its output is made. */
typedef struct conn_out {
    stream *st; /* NULL: an empty slot of a group */
    sr_flow flow; /* client -> server */
    sr_close_reason reason;
    dir_res d[2];
} conn_out;

/* --policy all: the copies of one connection, matched by our id. */
typedef struct group {
    uint64_t id;
    unsigned n;
    conn_out c[SP_POLICIES]; /* c[p].st NULL until policy p's copy completed */
} group;

/* With --threads N > 1 a worker gathers its output in blocks, one per
 * batch it is handed: the text for stdout and the rows for streams.tsv
 * each in one buffer, and per piece its key's frame and where it ends
 * (the rest of the key, worker and sequence, is the block's owner and the
 * piece's place in it). No allocation or lock per piece. */
typedef struct out_piece {
    uint64_t frame;
    size_t text_end, row_end; /* end of the piece in text / rows */
} out_piece;

typedef struct out_block {
    GString *text, *rows;
    GArray *pieces;         /* out_piece, in key order */
    guint next;             /* the reader's: first piece not written */
    size_t text_pos, row_pos; /* the reader's: where it starts */
} out_block;

/* ------------------------------------------------------------ threads */

typedef struct item {
    sr_flow flow;
    sr_segment seg; /* seg.payload: an offset into the batch arena, or,
                       with seg.payload_stable, a pointer into a file
                       mapping (alive to the end of the run) */
    uint64_t frame;
} item;

typedef struct batch {
    size_t n, used;
    bool stop;
    bool walk;      /* no items: walk app.walk's mapping (walk_indexed, walk_file) */
    uint64_t stamp; /* frames handed over when it was pushed */
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
    unsigned index;
    sr_pool *pool[SP_POLICIES];
    sr_assembler *a[SP_POLICIES];
    sr_options opt;         /* the caps split N ways (6N with --policy all) */
    size_t max_connections; /* ditto */
    pthread_t thread;
    bool started;
    bqueue work, spare;
    batch *cur; /* being filled by the reader */
    uint64_t err_count[SR_ERROR_COUNT_];
    /* Touched only by this worker's callbacks and feed(): */
    GHashTable *conns[SP_POLICIES]; /* app.full: core id -> stream_x, open */
    GArray *closed;      /* conn_out: completed during the current call */
    GPtrArray *done;     /* --verify: completed streams, kept to the end */
    GHashTable *groups;  /* --policy all: our id -> group */
    GPtrArray *violations; /* --verify messages */
    uint64_t write_errors;
    wfile *wf_head, *wf_tail; /* --write: open files, most recent first */
    unsigned wf_open, wf_max;
    uint64_t cur_frame;  /* key of the next output */
    uint32_t copied_recently; /* segments left to feed before payloads
                                 are no longer prefetched (payload_wanted) */
    out_block *ob;       /* output since the last hand-over (threads > 1) */
    uint64_t cbytes_held, cbytes_cap; /* --policy all: kept conflict bytes */
    uint64_t compared, diverging;     /* --policy all: directions */
    /* Output hand-over (threads > 1): */
    pthread_mutex_t out_lock;
    GQueue out;          /* out_block, in key order; under out_lock */
    uint64_t done_frame; /* every frame up to this one is fed; under out_lock */
    /* Where its walk of a mapping ended (walk_indexed, walk_file; read by the main thread
     * once every walk has ended): */
    size_t walk_off;      /* offset of the record it stopped at */
    uint64_t walk_recs, walk_frames, walk_n;
    sr_time walk_clock;
    bool walk_clock_set;
    /* What worker_finish found (with threads > 1 the worker runs it, the
     * main thread reads these once it is joined): its counters, and the
     * calls that failed, said by the main thread in worker order. */
    sr_assembler_stats fin_as;
    sr_pool_stats fin_ps;
    struct fin_err { const char *call; sr_error e; } fin_err[2 * SP_POLICIES];
    unsigned fin_nerr;
} worker;

/* --threads N, a mapped input: what every worker walks (set by the main
 * thread before the walk batches are pushed; read-only while they walk). */
typedef struct walk_job {
    const struct input *in;
    const char *path;
    int dlt;
    const struct bpf_program *prog; /* NULL: no filter */
    bool show_progress;
    size_t off;      /* first record */
    uint64_t frames; /* frames before it (all files) */
    uint64_t n;      /* ... in this file */
    sr_time clock;
    bool clock_set;
    bool indexed;    /* walk_indexed, else walk_file */
} walk_job;

/* The indexed walk (walk_indexed): one frame of a chunk, on the list of
 * the worker that feeds it. 56 bytes (it was 112: a whole sr_flow and
 * sr_segment): what one CPU writes and another reads is what two workers
 * share, per frame. An IPv4 flow lies in it; an IPv6 one in the slot's
 * `wide`, at the record's number. */
typedef struct idx_entry {
    union {
        const uint8_t *payload; /* SP_IDX_V4, SP_IDX_WIDE: in the mapping */
        const char *why;        /* SP_IDX_SAY: frame_say's message */
    } p;
    sr_time ts;           /* the highest frame time in its chunk up to this frame */
    uint32_t seq, ack;    /* SP_IDX_SAY: caplen, len */
    uint32_t len, claimed;/* payload_len, claimed_len; SP_IDX_SAY: the SP_DEC_* */
    uint32_t src, dst;    /* SP_IDX_V4: the addresses, network order */
    uint32_t zone;
    uint16_t rec;         /* the record's number in its chunk */
    uint16_t sport, dport;
    uint8_t flags;
    uint8_t kind;         /* SP_IDX_* */
} idx_entry;
enum { SP_IDX_V4, SP_IDX_WIDE, SP_IDX_SAY };

/* Where a chunk's records lie. */
typedef struct idx_link {
    size_t start, end;
    uint32_t recs;
} idx_link;

/* A slot's state (under idx_walk.lock). */
enum { SP_SLOT_FREE, SP_SLOT_BUILDING, SP_SLOT_BUILT };

/* A chunk's index: written by the worker that builds it, then read by
 * every worker once it is chained (hand-off under idx_walk.lock). */
typedef struct idx_slot {
    uint64_t ready;         /* under idx_walk.lock: chunk number + 1 once chained */
    uint64_t chunk;         /* under idx_walk.lock: the chunk built or being built, + 1 */
    uint8_t state;          /* under idx_walk.lock: SP_SLOT_* */
    bool stopped;           /* its records end at one libpcap must read, or at the end */
    bool via_map;           /* read in the mapping, else with file_read */
    bool guessed;           /* built from a guessed start (idx_guess) */
    idx_entry *e;           /* SP_IDX_RECS: the entries, by worker, then frame */
    sr_flow *wide;          /* SP_IDX_RECS: SP_IDX_WIDE entries' flows, by record */
    uint32_t first[SP_MAX_THREADS + 1]; /* worker t's: e[first[t] .. first[t + 1]) */
    uint64_t count[SP_DEC_COUNT_], filtered; /* the chunk's counters */
    sr_time cmax;           /* the highest frame time in the chunk */
    idx_link link;          /* its records (start SIZE_MAX: no start found) */
} idx_slot;

/* Chunk y's records start in the byte range [range(y), range(y + 1)),
 * or from where the chunk before ended, if that is later or earlier (see
 * idx_build); the ranges are fixed ahead, so chunks are built at once. */
#define SP_IDX_RING (SP_MAX_THREADS + 16) /* > the chunks ahead of the chain */

typedef struct idx_walk {
    /* The hand-offs: a handful per chunk (pthread: ThreadSanitizer sees them). */
    pthread_mutex_t lock;
    pthread_cond_t cv;
    idx_slot *slot;    /* nslots, made at the first indexed walk */
    idx_entry *scratch[SP_MAX_THREADS]; /* SP_IDX_RECS each: a chunk in frame order */
    uint8_t *rbuf[SP_MAX_THREADS]; /* SP_IDX_RBUF each: the file's bytes, read */
    unsigned nslots, ahead;
    /* Under lock: */
    uint64_t chained;  /* chunks chained: where chunk `chained` starts is known */
    uint64_t nchunks;  /* chunks of the walk; UINT64_MAX until its end is found */
    size_t next;       /* where chunk `chained` starts */
    uint64_t consumed[SP_MAX_THREADS]; /* chunks each worker has fed */
    size_t released;   /* the mapping's pages before this are given back */
    size_t populated;  /* ... and before this mapped (map_populate) */
    bool via_map;      /* chunks are read from the mapping (idx_build) */
    size_t range[SP_IDX_RING]; /* range(y) at y % SP_IDX_RING, for y < assigned */
    uint64_t assigned;
    size_t span;       /* the next ranges' length (idx_chain) */
    uint32_t ref_sec;  /* a frame time of the walk (idx_plausible) */
} idx_walk;

/* The walk's sizes (walk_sizes_set): its chunks, syncs and look-ahead. */
typedef struct walk_sizes {
    uint32_t recs;        /* a chunk: at most this many records (<= SP_IDX_RECS) */
    size_t bytes;         /* ... starting within this many bytes of its start */
    uint32_t sync_frames; /* walk_file: a sync every this many frames */
    size_t sync_bytes;    /* ... and every this many bytes */
    uint64_t ahead;       /* walk_sync: frames a worker may be ahead */
    size_t ahead_bytes;   /* ... and bytes */
} walk_sizes;

typedef struct app {
    /* options */
    const char *write_dir;
    unsigned threads;
    bool show_empty, show_stats, verbose, verify, force, json, content, fill_gaps;
    bool full; /* --json, --write, --verify or --policy all: stream_x */
    bool digest; /* --sha256 or --policy all: a SHA-256 per direction */
    int progress; /* -1 auto, 0 off, 1 on */
    size_t max_connections;
    sr_options opt;
    unsigned npol; /* 1, or SP_POLICIES with --policy all */
    sr_overlap_policy policies[SP_POLICIES];
    uint64_t stream_id; /* --stream ID; 0 = all */
    bool tuple_set;     /* --stream ADDR:PORT,ADDR:PORT */
    sr_flow tuple;
    char *filter;       /* BPF expression, NULL = none */
    GPtrArray *files;

    worker w[SP_MAX_THREADS];

    pthread_mutex_t msg_lock; /* err_msgs and write messages */
    unsigned err_msgs[SR_ERROR_COUNT_];
    uint64_t write_msgs;

    /* output (one writer at a time: the reader/main thread, or the only
     * worker with --threads 1) */
    FILE *tsv;             /* --write DIR/streams.tsv */
    GQueue pend[SP_MAX_THREADS]; /* out_block: taken from the workers, not yet written */

    /* reader side */
    struct input *cur_in; /* being read */
    /* --threads N, a mapped input: (frame, file offset of the next frame's
     * record) at each sync point, until every worker is past the frame and
     * the pages before the offset can be given back. */
    struct { uint64_t stamp; size_t off; } ckpt[64];
    unsigned ckpt_head, ckpt_len;
    /* --threads N, a mapped input: the workers walk it (walk_file). */
    int walk_mode; /* walk_wanted(): SP_WALK_* */
    walk_sizes wz;
    walk_job walk;
    idx_walk idx;  /* SP_WALK_INDEXED */
    pthread_mutex_t walk_lock;
    pthread_cond_t walk_cv;            /* workers wait: the main thread or a worker moved on */
    pthread_cond_t walk_main_cv;       /* the main thread waits: walk_wake */
    bool walk_wake;                    /* under walk_lock: the main thread has work */
    unsigned walk_waiting;             /* under walk_lock: workers waiting in walk_sync */
    uint64_t walk_at[SP_MAX_THREADS];  /* under walk_lock: frames fed; UINT64_MAX at the end */
    size_t walk_pos[SP_MAX_THREADS];   /* under walk_lock: offset of its next record */
    unsigned walk_running;             /* under walk_lock */
    uint64_t walk_drained;             /* under walk_lock: output written up to this frame */
    size_t walk_released;              /* under walk_lock: pages given back up to here (the
                                          indexed walk: the slowest worker's offset; its
                                          workers give the pages back, idx_walk.released) */
    sr_time clock; /* highest frame time so far: every segment's timestamp */
    bool clock_set;
    uint64_t decode_count[SP_DEC_COUNT_];
    uint64_t frames, filtered, files_failed;
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

static void fmt_ip(char *buf, size_t n, const sr_flow *f, const sr_endpoint *e)
{
    inet_ntop(f->ip_version == 6 ? AF_INET6 : AF_INET, e->addr, buf, (socklen_t)n);
}

static void fmt_addr(char *buf, size_t n, const sr_flow *f, const sr_endpoint *e)
{
    char a[INET6_ADDRSTRLEN];
    fmt_ip(a, sizeof a, f, e);
    if (f->ip_version == 6)
        snprintf(buf, n, "[%s]:%u", a, e->port);
    else
        snprintf(buf, n, "%s:%u", a, e->port);
}

static const sr_endpoint *dir_src(const sr_flow *f, int dir)
{
    return dir == SR_DIR_CLIENT_TO_SERVER ? &f->src : &f->dst;
}

static const sr_endpoint *dir_dst(const sr_flow *f, int dir)
{
    return dir == SR_DIR_CLIENT_TO_SERVER ? &f->dst : &f->src;
}

/* Decimal digits of v at p; returns the end. No NUL. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* "00" "01" ... "99": two decimal digits per entry. */
#define SP_DEC10(x) #x "0" #x "1" #x "2" #x "3" #x "4" #x "5" #x "6" #x "7" #x "8" #x "9"
static const char dec_pairs[201] = SP_DEC10(0) SP_DEC10(1) SP_DEC10(2) SP_DEC10(3) SP_DEC10(4)
    SP_DEC10(5) SP_DEC10(6) SP_DEC10(7) SP_DEC10(8) SP_DEC10(9);

/* Decimal digits of v (< 100,000: a port, an octet) at p; returns the end.
 * No NUL. The length first, then two digits at a time from the right: no
 * reversal, a third of put_u64's divisions (its loop was ~40 % of a line's
 * formatting). */
static char *put_small(char *p, uint32_t v)
{
    unsigned n = v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : 5;
    unsigned i = n;
    for (; v >= 100; v /= 100) {
        i -= 2;
        memcpy(p + i, dec_pairs + 2 * (v % 100), 2);
    }
    if (v >= 10)
        memcpy(p + i - 2, dec_pairs + 2 * v, 2);
    else
        p[i - 1] = (char)('0' + v);
    return p + n;
}

/* "a.b.c.d:port" at p (what inet_ntop and "%s:%u" make); returns the end. */
static char *put_addr4(char *p, const sr_endpoint *e)
{
    for (int i = 0; i < 4; i++) {
        if (i)
            *p++ = '.';
        p = put_small(p, e->addr[i]);
    }
    *p++ = ':';
    return put_small(p, e->port);
}

/* "src:port>dst:port" of direction dir of a client->server flow, with
 * "@zone" appended when the zone (VLAN ids) is not 0. One line per
 * direction is the tool's whole output, so IPv4 keys are formatted by hand
 * (printf and inet_ntop were ~8 % of a 100,000-connection run). */
static void fmt_key(char *buf, size_t n, const sr_flow *f, int dir)
{
    if (f->ip_version == 4 && n >= 64) { /* 2 * 21 + ">" + "@" + 10 + NUL */
        char *p = put_addr4(buf, dir_src(f, dir));
        *p++ = '>';
        p = put_addr4(p, dir_dst(f, dir));
        if (f->zone) {
            *p++ = '@';
            p = put_u64(p, f->zone);
        }
        *p = '\0';
        return;
    }
    char s[64], d[64];
    fmt_addr(s, sizeof s, f, dir_src(f, dir));
    fmt_addr(d, sizeof d, f, dir_dst(f, dir));
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
    fmt_ip(s, sizeof s, f, dir_src(f, dir));
    fmt_ip(d, sizeof d, f, dir_dst(f, dir));
    return g_strdup_printf("%06" PRIu64 "-%s.%u-%s.%u", id, s, dir_src(f, dir)->port, d,
                           dir_dst(f, dir)->port);
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

static char *frames_text(const GArray *fr)
{
    if (!fr || fr->len == 0)
        return g_strdup("-");
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < fr->len; i++)
        g_string_append_printf(s, "%s%" PRIu64, i ? "," : "", g_array_index(fr, uint64_t, i));
    return g_string_free(s, FALSE);
}

static void range_add(GArray **rp, uint64_t off, uint64_t len)
{
    if (!*rp)
        *rp = g_array_new(FALSE, FALSE, sizeof(range));
    GArray *r = *rp;
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

/* ------------------------------------------------------------ output */

static void out_write(app *ap, GString *text, char *row)
{
    if (text) {
        fwrite(text->str, 1, text->len, stdout);
        g_string_free(text, TRUE);
    }
    if (row) {
        if (ap->tsv)
            fputs(row, ap->tsv);
        g_free(row);
    }
}

static void out_block_free(out_block *b)
{
    if (!b)
        return;
    g_string_free(b->text, TRUE);
    g_string_free(b->rows, TRUE);
    g_array_free(b->pieces, TRUE);
    g_free(b);
}

/* Hand a piece of output over: n bytes of text at t (the caller's; n may
 * be 0) and a streams.tsv row (NULL or owned by the callee from here on). */
static void emit_text(worker *w, const char *t, size_t n, char *row)
{
    app *ap = w->app;
    if (ap->threads == 1) {
        if (n)
            fwrite(t, 1, n, stdout);
        out_write(ap, NULL, row);
        return;
    }
    out_block *b = w->ob;
    if (!b) {
        b = w->ob = g_new0(out_block, 1);
        b->text = g_string_sized_new(4096);
        b->rows = g_string_new(NULL);
        b->pieces = g_array_new(FALSE, FALSE, sizeof(out_piece));
    }
    if (n)
        g_string_append_len(b->text, t, (gssize)n);
    if (row) {
        g_string_append(b->rows, row);
        g_free(row);
    }
    out_piece pc = {w->cur_frame, b->text->len, b->rows->len};
    g_array_append_val(b->pieces, pc);
}

/* The same with the text in a GString (NULL: none), owned by the callee. */
static void emit(worker *w, GString *text, char *row)
{
    emit_text(w, text ? text->str : NULL, text ? text->len : 0, row);
    if (text)
        g_string_free(text, TRUE);
}

/* The worker's output so far to the reader (under out_lock). */
static void out_publish(worker *w)
{
    if (w->ob)
        g_queue_push_tail(&w->out, w->ob);
    w->ob = NULL;
}

/* Reader/main thread: write the workers' queued output in key order, up to
 * the lowest frame every worker has finished (everything when final: the
 * workers are joined). Each worker's blocks are in key order already; the
 * run of pieces one worker may write before another's next piece goes out
 * in one write. */
static uint64_t drain(app *ap, bool final)
{
    uint64_t limit = UINT64_MAX;
    for (unsigned t = 0; t < ap->threads; t++) {
        worker *w = &ap->w[t];
        pthread_mutex_lock(&w->out_lock);
        out_block *b;
        while ((b = g_queue_pop_head(&w->out)))
            g_queue_push_tail(&ap->pend[t], b);
        if (!final && w->done_frame < limit)
            limit = w->done_frame;
        pthread_mutex_unlock(&w->out_lock);
    }
    for (;;) {
        /* The lowest head piece (ties: the lower worker), and the next
         * lowest among the others. */
        int best = -1, other = -1;
        uint64_t bf = 0, of = UINT64_MAX;
        for (unsigned t = 0; t < ap->threads; t++) {
            out_block *b = g_queue_peek_head(&ap->pend[t]);
            if (!b)
                continue;
            uint64_t f = g_array_index(b->pieces, out_piece, b->next).frame;
            if (best < 0 || f < bf) {
                if (best >= 0) {
                    other = best;
                    of = bf;
                }
                best = (int)t;
                bf = f;
            } else if (other < 0 || f < of) {
                other = (int)t;
                of = f;
            }
        }
        if (best < 0 || bf > limit)
            break;
        out_block *b = g_queue_peek_head(&ap->pend[best]);
        guint i = b->next;
        while (i < b->pieces->len) {
            uint64_t f = g_array_index(b->pieces, out_piece, i).frame;
            if (f > limit || f > of || (f == of && other < best))
                break;
            i++;
        }
        const out_piece *last = &g_array_index(b->pieces, out_piece, i - 1);
        fwrite(b->text->str + b->text_pos, 1, last->text_end - b->text_pos, stdout);
        if (ap->tsv && last->row_end > b->row_pos)
            fwrite(b->rows->str + b->row_pos, 1, last->row_end - b->row_pos, ap->tsv);
        b->text_pos = last->text_end;
        b->row_pos = last->row_end;
        b->next = i;
        if (i == b->pieces->len)
            out_block_free(g_queue_pop_head(&ap->pend[best]));
    }
    return limit;
}

/* ------------------------------------------------------------ callbacks */

/* packet_ctx of every call the tool makes: the frame being fed (1-based,
 * across all input files; 0 for the end-of-input flushes) and which
 * policy's assembler it went to. */
typedef struct feed_ctx {
    uint64_t frame;
    unsigned pol;
} feed_ctx;

static bool selected(const app *ap, const stream *st)
{
    return ap->stream_id == 0 || ap->stream_id == st->id;
}

static void *cb_new_stream(void *user_data, const sr_conn_info *info, void *packet_ctx)
{
    worker *w = user_data;
    app *ap = w->app;
    const feed_ctx *fc = packet_ctx;
    /* Only sr_assemble creates connections, so fc is there; the frame that
     * created a connection names it the same in every --threads mode and
     * in every policy's pool, where the core's per-pool ids would not. */
    uint64_t id = fc ? fc->frame : 0;
    if (!ap->full) {
        stream *st = g_new0(stream, 1);
        st->id = id;
        return st;
    }
    stream_x *x = g_new0(stream_x, 1);
    x->s.id = id;
    x->core_id = info->id;
    x->pol = fc ? fc->pol : 0;
    x->flow = info->flow;
    for (int d = 0; d < 2; d++) {
        dir_x *dx = &x->d[d];
        if (ap->write_dir && selected(ap, &x->s)) {
            char *name = file_name(&x->flow, id, d);
            dx->path = g_build_filename(ap->write_dir, name, NULL);
            dx->conflict_frames = g_array_new(FALSE, FALSE, sizeof(uint64_t));
            g_free(name);
        }
        if (ap->npol > 1) {
            dx->cregs = g_array_new(FALSE, FALSE, sizeof(creg));
            dx->cbytes = g_byte_array_new();
        }
    }
    g_hash_table_insert(w->conns[x->pol], &x->core_id, x);
    return x;
}

/* A digest context whose allocation failed: the direction's digest is
 * printed empty (as before the contexts were made lazily). */
static char sp_no_digest_mark;
#define SP_NO_DIGEST ((sp_digest *)(void *)&sp_no_digest_mark)
/* The digest of no bytes: a direction that delivered nothing has no context. */
static const char sp_empty_sha256[65] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static void write_failed(worker *w, dir_x *ds, int en)
{
    ds->write_failed = true;
    w->write_errors++;
    pthread_mutex_lock(&w->app->msg_lock);
    if (w->app->write_msgs++ < SP_MSG_LIMIT)
        msg("cannot write %s: %s", ds->path, g_strerror(en));
    pthread_mutex_unlock(&w->app->msg_lock);
}

/* Open a --write file: the first open of a run truncates (never appends to
 * an earlier run's file), later ones (after the LRU closed it) keep what
 * this run wrote. */
static int open_out(dir_x *ds)
{
    int fd = open(ds->path, O_WRONLY | O_CREAT | O_CLOEXEC | (ds->opened ? 0 : O_TRUNC), 0644);
    if (fd >= 0)
        ds->opened = true;
    return fd;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t pos)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, p + done, n - done, (off_t)(pos + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? errno : EIO;
        done += (size_t)r;
    }
    return 0;
}

/* Write out a file's buffer: 0 or an errno. */
static int wf_flush(wfile *f)
{
    int en = f->len ? pwrite_all(f->fd, f->buf, f->len, f->pos) : 0;
    f->len = 0;
    return en;
}

static void wf_unlink(worker *w, wfile *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        w->wf_head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        w->wf_tail = f->prev;
    f->prev = f->next = NULL;
}

static void wf_push_front(worker *w, wfile *f)
{
    f->prev = NULL;
    f->next = w->wf_head;
    if (w->wf_head)
        w->wf_head->prev = f;
    w->wf_head = f;
    if (!w->wf_tail)
        w->wf_tail = f;
}

/* Flush and close a direction's file if it is open; an error is reported
 * once per direction (its later bytes are not written). */
static void wf_close(worker *w, dir_x *ds)
{
    wfile *f = ds->wf;
    if (!f)
        return;
    int en = ds->write_failed ? 0 : wf_flush(f);
    if (close(f->fd) != 0 && !en)
        en = errno;
    wf_unlink(w, f);
    w->wf_open--;
    ds->wf = NULL;
    g_free(f);
    if (en && !ds->write_failed)
        write_failed(w, ds, en);
}

/* The open file of a direction, opened (closing the least recently used
 * one when the worker has wf_max open, or when open says there are no
 * descriptors left) if needed; NULL after a failure, which is reported. */
static wfile *wf_get(worker *w, dir_x *ds)
{
    wfile *f = ds->wf;
    if (f) {
        if (w->wf_head != f) {
            wf_unlink(w, f);
            wf_push_front(w, f);
        }
        return f;
    }
    if (w->wf_open >= w->wf_max && w->wf_tail)
        wf_close(w, w->wf_tail->ds);
    int fd = open_out(ds);
    while (fd < 0 && (errno == EMFILE || errno == ENFILE) && w->wf_tail) {
        wf_close(w, w->wf_tail->ds);
        fd = open_out(ds);
    }
    if (fd < 0) {
        write_failed(w, ds, errno);
        return NULL;
    }
    f = g_new(wfile, 1);
    f->ds = ds;
    f->fd = fd;
    f->pos = 0;
    f->len = 0;
    wf_push_front(w, f);
    w->wf_open++;
    ds->wf = f;
    return f;
}

/* Write a chunk to its --write file: at the file's end, or with
 * --fill-gaps at its stream offset (the holes read as zeros). Buffered:
 * chunks at consecutive offsets are gathered up to SP_WBUF bytes. */
static void write_chunk(worker *w, dir_x *ds, const sr_chunk *c)
{
    bool fill = w->app->fill_gaps;
    if (c->len == 0 && !(fill && c->skipped))
        return;
    wfile *f = wf_get(w, ds);
    if (!f)
        return;
    int en = 0;
    if (c->len) {
        uint64_t pos = fill ? c->offset : ds->file_pos;
        if (f->len && (pos != f->pos + f->len || f->len + c->len > SP_WBUF))
            en = wf_flush(f);
        if (en) {
            /* reported below */
        } else if (c->len >= SP_WBUF) {
            en = pwrite_all(f->fd, c->data, c->len, pos);
        } else {
            if (!f->len)
                f->pos = pos;
            memcpy(f->buf + f->len, c->data, c->len);
            f->len += c->len;
        }
        ds->file_pos += c->len;
    } else {
        /* A hole at the end (nothing after it yet): the file grows to it. */
        struct stat sb;
        en = wf_flush(f);
        if (!en && (fstat(f->fd, &sb) != 0 ||
                    (sb.st_size < (off_t)c->offset && ftruncate(f->fd, (off_t)c->offset) != 0)))
            en = errno;
    }
    if (en) {
        write_failed(w, ds, en);
        wf_close(w, ds);
    }
}

/* --policy all: keep the bytes of a conflict-flagged chunk, within the
 * per-direction and the worker's bound. */
static void keep_conflict(worker *w, dir_x *ds, const sr_chunk *c)
{
    if (ds->c_truncated)
        return;
    uint64_t room_dir = SP_CONFLICT_KEEP_DIR - ds->cbytes->len;
    uint64_t room_all = w->cbytes_cap > w->cbytes_held ? w->cbytes_cap - w->cbytes_held : 0;
    size_t keep = (size_t)MIN((uint64_t)c->len, MIN(room_dir, room_all));
    if (keep) {
        creg r = {c->offset, keep, ds->cbytes->len};
        g_array_append_val(ds->cregs, r);
        g_byte_array_append(ds->cbytes, c->data, (guint)keep);
        w->cbytes_held += keep;
    }
    if (keep < c->len) {
        ds->c_truncated = true;
        ds->c_trunc_off = c->offset + keep;
    }
}

/* --content: the chunk's bytes behind a header; a hole as a marker line. */
static void content_chunk(worker *w, const stream *st, const sr_flow *flow, const sr_chunk *c)
{
    if (c->len == 0 && c->skipped == 0)
        return;
    char key[256];
    fmt_key(key, sizeof key, flow, c->dir);
    GString *s = g_string_sized_new(c->len + 128);
    g_string_append_printf(s, "=== conn %" PRIu64 " %s offset %" PRIu64 " len %zu ===\n", st->id,
                           key, c->offset, c->len);
    if (c->skipped)
        g_string_append_printf(s, "[%" PRIu64 " bytes missing]\n", c->skipped);
    if (c->len) {
        g_string_append_len(s, (const char *)c->data, (gssize)c->len);
        g_string_append_c(s, '\n');
    }
    emit(w, s, NULL);
}

static int cb_on_data(void *user_data, void *strm, const sr_conn_info *info,
                      const sr_chunk *chunk, void *packet_ctx)
{
    worker *w = user_data;
    app *ap = w->app;
    stream *st = strm;
    (void)packet_ctx;
    if ((unsigned)chunk->dir > 1)
        return 0;
    dir_x *ds = ap->full ? &sx(st)->d[chunk->dir] : NULL;
    if (ds) {
        ds->got_data += chunk->len;
        ds->got_skipped += chunk->skipped;
        if (chunk->skipped)
            range_add(&ds->gaps, chunk->offset - chunk->skipped, chunk->skipped);
        if (ds->path && !ds->write_failed)
            write_chunk(w, ds, chunk);
    }
    if (ap->content && selected(ap, st))
        content_chunk(w, st, &info->flow, chunk);
    if (chunk->len == 0)
        return 0;
    if (ap->digest) {
        sp_digest **sha = &st->sha[chunk->dir];
        if (!*sha && !(*sha = sp_digest_new()))
            *sha = SP_NO_DIGEST;
        if (*sha != SP_NO_DIGEST)
            sp_digest_update(*sha, chunk->data, chunk->len);
    }
    if ((chunk->flags & SR_CHUNK_CONFLICT) && ds) {
        range_add(&ds->conflicts, chunk->offset, chunk->len);
        if (ds->cregs)
            keep_conflict(w, ds, chunk);
    }
    return 0;
}

static void digest_free(sp_digest *d)
{
    if (d != SP_NO_DIGEST)
        sp_digest_free(d);
}

static void cb_on_complete(void *user_data, void *strm, const sr_conn_info *info,
                           sr_close_reason reason, void *packet_ctx)
{
    worker *w = user_data;
    app *ap = w->app;
    stream *st = strm;
    (void)packet_ctx;
    conn_out co;
    co.st = st;
    co.flow = info->flow;
    co.reason = reason;
    for (int d = 0; d < 2; d++) {
        dir_res *r = &co.d[d];
        r->delivered = info->delivered[d];
        r->skipped = info->skipped[d];
        r->dropped = info->dropped[d];
        r->dropped_segments = info->dropped_segments[d];
        r->conflict_count = info->conflicts[d];
        if (!ap->digest)
            r->sha_hex[0] = '\0';
        else if (!st->sha[d])
            memcpy(r->sha_hex, sp_empty_sha256, sizeof r->sha_hex);
        else if (st->sha[d] == SP_NO_DIGEST)
            r->sha_hex[0] = '\0';
        else
            sp_digest_finish(st->sha[d], r->sha_hex);
        st->sha[d] = NULL;
        if (!ap->full)
            continue;
        dir_x *ds = &sx(st)->d[d];
        wf_close(w, ds); /* its last bytes were delivered */
        ds->delivered = r->delivered;
        ds->skipped = r->skipped;
        ds->dropped = r->dropped;
        if (ap->verify && (ds->delivered != ds->got_data || ds->skipped != ds->got_skipped)) {
            char key[256];
            fmt_key(key, sizeof key, &co.flow, d);
            unsigned pol = sx(st)->pol;
            g_ptr_array_add(w->violations,
                            g_strdup_printf("%s conn %" PRIu64 " dir %d%s%s: the core's totals say "
                                            "delivered %" PRIu64 " skipped %" PRIu64
                                            ", its chunks carried %" PRIu64 " and %" PRIu64,
                                            key, st->id, d, ap->npol > 1 ? " policy " : "",
                                            ap->npol > 1 ? sr_overlap_policy_name(ap->policies[pol]) : "",
                                            ds->delivered, ds->skipped, ds->got_data,
                                            ds->got_skipped));
        }
    }
    /* Its output is made after the call that completed it, which may still
     * record things about the segment (release_closed). */
    g_array_append_val(w->closed, co);
}

/* Everything but what --verify checks at the end. */
static void stream_release(worker *w, stream *st)
{
    for (int d = 0; d < 2; d++) {
        digest_free(st->sha[d]);
        st->sha[d] = NULL;
    }
    if (!w->app->full)
        return;
    for (int d = 0; d < 2; d++) {
        dir_x *ds = &sx(st)->d[d];
        if (ds->gaps)
            g_array_free(ds->gaps, TRUE);
        if (ds->conflicts)
            g_array_free(ds->conflicts, TRUE);
        if (ds->conflict_frames)
            g_array_free(ds->conflict_frames, TRUE);
        if (ds->cregs)
            g_array_free(ds->cregs, TRUE);
        if (ds->cbytes) {
            w->cbytes_held -= ds->cbytes->len;
            g_byte_array_free(ds->cbytes, TRUE);
        }
        wf_close(w, ds);
        g_free(ds->path);
        ds->gaps = ds->conflicts = ds->conflict_frames = ds->cregs = NULL;
        ds->cbytes = NULL;
        ds->path = NULL;
    }
}

static void stream_free(worker *w, stream *st)
{
    stream_release(w, st);
    if (w->app->full)
        for (int d = 0; d < 2; d++)
            sp_seqset_clear(&sx(st)->d[d].seen);
    g_free(st);
}

/* Done with a completed stream: kept to the end for --verify, else freed. */
static void stream_done(worker *w, stream *st)
{
    if (w->app->verify) {
        stream_release(w, st);
        g_ptr_array_add(w->done, st);
    } else {
        stream_free(w, st);
    }
}

static bool dir_shown(const app *ap, const dir_res *ds)
{
    return ap->show_empty || ds->delivered || ds->skipped || ds->conflict_count || ds->dropped;
}

/* --policy all, one direction: the groups of agreeing policies and where
 * the first of them differ. */
typedef struct divergence {
    unsigned ngroups;
    unsigned group_of[SP_POLICIES]; /* policy -> group */
    unsigned first_pol[SP_POLICIES]; /* group -> its first policy */
    bool first_known;   /* first_offset found (exact) */
    uint64_t first_offset;
    bool bound_exceeded;
} divergence;

/* Byte at stream offset off among a direction's kept conflict bytes. */
static bool kept_byte(const dir_x *ds, uint64_t off, uint8_t *out)
{
    const GArray *r = ds->cregs;
    guint lo = 0, hi = r ? r->len : 0;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const creg *c = &g_array_index(r, creg, mid);
        if (off < c->off)
            hi = mid;
        else if (off >= c->off + c->len)
            lo = mid + 1;
        else {
            *out = ds->cbytes->data[c->pos + (off - c->off)];
            return true;
        }
    }
    return false;
}

/* Bytes of different policies can only differ where two copies of them
 * met while buffered, which the core reports as SR_CHUNK_CONFLICT chunks:
 * the kept bytes of those chunks are compared offset by offset. The lowest
 * offset where two policies kept different bytes is the first difference
 * if it lies before every point where a bound stopped the keeping. */
static void diverge(const app *ap, const conn_out *const *s, int d, divergence *dv)
{
    memset(dv, 0, sizeof *dv);
    for (unsigned p = 0; p < ap->npol; p++) {
        const dir_res *x = &s[p]->d[d];
        unsigned g;
        for (g = 0; g < dv->ngroups; g++) {
            const dir_res *y = &s[dv->first_pol[g]]->d[d];
            if (strcmp(x->sha_hex, y->sha_hex) == 0 && x->delivered == y->delivered &&
                x->skipped == y->skipped)
                break;
        }
        if (g == dv->ngroups)
            dv->first_pol[dv->ngroups++] = p;
        dv->group_of[p] = g;
    }
    if (dv->ngroups < 2)
        return;
    uint64_t best = UINT64_MAX, limit = UINT64_MAX;
    for (unsigned p = 0; p < ap->npol; p++) {
        const dir_x *x = &sx(s[p]->st)->d[d];
        if (x->c_truncated) {
            dv->bound_exceeded = true;
            limit = MIN(limit, x->c_trunc_off);
        }
        for (guint i = 0; i < x->cregs->len; i++) {
            const creg *c = &g_array_index(x->cregs, creg, i);
            for (uint64_t o = c->off; o < c->off + c->len && o < best; o++) {
                uint8_t b = x->cbytes->data[c->pos + (o - c->off)], b2;
                for (unsigned q = 0; q < ap->npol; q++) {
                    if (q != p && kept_byte(&sx(s[q]->st)->d[d], o, &b2) && b2 != b) {
                        best = o;
                        break;
                    }
                }
            }
        }
    }
    if (best != UINT64_MAX && best < limit) {
        dv->first_known = true;
        dv->first_offset = best;
    }
}

static void json_endpoint(sp_jsonw *j, const char *name, const sr_flow *f, const sr_endpoint *e)
{
    char a[INET6_ADDRSTRLEN];
    fmt_ip(a, sizeof a, f, e);
    sp_jsonw_key(j, name);
    sp_jsonw_begin_object(j);
    sp_jsonw_key(j, "addr");
    sp_jsonw_string(j, a);
    sp_jsonw_key(j, "port");
    sp_jsonw_u64(j, e->port);
    sp_jsonw_end_object(j);
}

/* One direction as a JSON object (one line). s: the policies' copies
 * (one unless --policy all), dv their comparison or NULL. */
static GString *json_dir(const app *ap, const conn_out *const *s, int d, const divergence *dv)
{
    const conn_out *co = s[0];
    const stream_x *st = sx(co->st);
    const dir_x *ds = &st->d[d];
    const dir_res *r = &co->d[d];
    GString *out = g_string_new(NULL);
    sp_jsonw j;
    sp_jsonw_init(&j, out);
    char key[256];
    fmt_key(key, sizeof key, &co->flow, d);
    sp_jsonw_begin_object(&j);
    sp_jsonw_key(&j, "type");
    sp_jsonw_string(&j, "direction");
    sp_jsonw_key(&j, "conn_id");
    sp_jsonw_u64(&j, co->st->id);
    sp_jsonw_key(&j, "dir");
    sp_jsonw_string(&j, d == SR_DIR_CLIENT_TO_SERVER ? "c2s" : "s2c");
    sp_jsonw_key(&j, "key");
    sp_jsonw_string(&j, key);
    sp_jsonw_key(&j, "ip_version");
    sp_jsonw_u64(&j, co->flow.ip_version);
    json_endpoint(&j, "src", &co->flow, dir_src(&co->flow, d));
    json_endpoint(&j, "dst", &co->flow, dir_dst(&co->flow, d));
    sp_jsonw_key(&j, "zone");
    sp_jsonw_u64(&j, co->flow.zone);
    sp_jsonw_key(&j, "first_time");
    if (ds->any_segment)
        sp_jsonw_usec(&j, ds->first_ts);
    else
        sp_jsonw_null(&j);
    sp_jsonw_key(&j, "last_time");
    if (ds->any_segment)
        sp_jsonw_usec(&j, ds->last_ts);
    else
        sp_jsonw_null(&j);
    sp_jsonw_key(&j, "delivered");
    sp_jsonw_u64(&j, r->delivered);
    sp_jsonw_key(&j, "skipped");
    sp_jsonw_u64(&j, r->skipped);
    sp_jsonw_key(&j, "dropped");
    sp_jsonw_u64(&j, r->dropped);
    sp_jsonw_key(&j, "dropped_segments");
    sp_jsonw_u64(&j, r->dropped_segments);
    sp_jsonw_key(&j, "conflicts");
    sp_jsonw_u64(&j, r->conflict_count);
    sp_jsonw_key(&j, "gaps");
    sp_jsonw_begin_array(&j);
    for (guint i = 0; ds->gaps && i < ds->gaps->len; i++) {
        const range *g = &g_array_index(ds->gaps, range, i);
        sp_jsonw_begin_array(&j);
        sp_jsonw_u64(&j, g->off);
        sp_jsonw_u64(&j, g->len);
        sp_jsonw_end_array(&j);
    }
    sp_jsonw_end_array(&j);
    sp_jsonw_key(&j, "close");
    sp_jsonw_string(&j, sr_close_reason_name(co->reason));
    if (ap->digest) {
        sp_jsonw_key(&j, "sha256");
        sp_jsonw_string(&j, r->sha_hex);
    }
    sp_jsonw_key(&j, "policy");
    sp_jsonw_string(&j, sr_overlap_policy_name(ap->policies[st->pol]));
    if (ds->path) {
        char *base = g_path_get_basename(ds->path);
        sp_jsonw_key(&j, "file");
        sp_jsonw_string(&j, base);
        g_free(base);
    }
    if (dv) {
        sp_jsonw_key(&j, "policies");
        sp_jsonw_begin_object(&j);
        sp_jsonw_key(&j, "agree");
        sp_jsonw_bool(&j, dv->ngroups == 1);
        sp_jsonw_key(&j, "first_offset");
        if (dv->first_known)
            sp_jsonw_u64(&j, dv->first_offset);
        else
            sp_jsonw_null(&j);
        sp_jsonw_key(&j, "bound_exceeded");
        sp_jsonw_bool(&j, dv->bound_exceeded);
        sp_jsonw_key(&j, "groups");
        sp_jsonw_begin_array(&j);
        for (unsigned g = 0; g < dv->ngroups; g++) {
            const dir_res *x = &s[dv->first_pol[g]]->d[d];
            sp_jsonw_begin_object(&j);
            sp_jsonw_key(&j, "policies");
            sp_jsonw_begin_array(&j);
            for (unsigned p = 0; p < ap->npol; p++)
                if (dv->group_of[p] == g)
                    sp_jsonw_string(&j, sr_overlap_policy_name(ap->policies[p]));
            sp_jsonw_end_array(&j);
            sp_jsonw_key(&j, "sha256");
            sp_jsonw_string(&j, x->sha_hex);
            sp_jsonw_key(&j, "delivered");
            sp_jsonw_u64(&j, x->delivered);
            sp_jsonw_key(&j, "skipped");
            sp_jsonw_u64(&j, x->skipped);
            sp_jsonw_end_object(&j);
        }
        sp_jsonw_end_array(&j);
        sp_jsonw_key(&j, "conflicts");
        sp_jsonw_begin_object(&j);
        for (unsigned p = 0; p < ap->npol; p++) {
            sp_jsonw_key(&j, sr_overlap_policy_name(ap->policies[p]));
            sp_jsonw_u64(&j, s[p]->d[d].conflict_count);
        }
        sp_jsonw_end_object(&j);
        sp_jsonw_end_object(&j);
    }
    sp_jsonw_end_object(&j);
    g_string_append_c(out, '\n');
    return out;
}

/* The text line of one direction; with --policy all the agreement follows:
 * "agree", or "diverge@OFFSET" ("diverge@?" when unknown) and one
 * "policy,policy:sha256" per group. */
/* Room for a text line: key, four counts, the digest and '\n'. */
#define SP_LINE_MAX (256 + 4 * 21 + 66 + 1)

/* The text line of one direction of one copy without what --policy all
 * adds: key, four counts and, when digest, the SHA-256, formatted by hand
 * (see fmt_key), with '\n' when nl. Returns its length; no NUL. */
static size_t text_line(char line[SP_LINE_MAX], const conn_out *co, int d, bool digest, bool nl)
{
    const dir_res *ds = &co->d[d];
    fmt_key(line, 256, &co->flow, d);
    char *e = line + strlen(line);
    const uint64_t nums[4] = {ds->delivered, ds->skipped, ds->conflict_count, ds->dropped};
    for (int i = 0; i < 4; i++) {
        *e++ = ' ';
        e = put_u64(e, nums[i]);
    }
    if (digest) {
        *e++ = ' ';
        size_t hl = strlen(ds->sha_hex);
        memcpy(e, ds->sha_hex, hl);
        e += hl;
    }
    if (nl)
        *e++ = '\n';
    return (size_t)(e - line);
}

static GString *text_dir(const app *ap, const conn_out *const *s, int d, const divergence *dv)
{
    char line[SP_LINE_MAX];
    size_t n = text_line(line, s[0], d, ap->digest, false);
    GString *out = g_string_sized_new((gsize)n + 2);
    g_string_append_len(out, line, (gssize)n);
    if (dv) {
        if (dv->ngroups == 1)
            g_string_append(out, " agree");
        else if (dv->first_known)
            g_string_append_printf(out, " diverge@%" PRIu64, dv->first_offset);
        else
            g_string_append(out, " diverge@?");
        for (unsigned g = 0; dv->ngroups > 1 && g < dv->ngroups; g++) {
            g_string_append_c(out, ' ');
            bool first = true;
            for (unsigned p = 0; p < ap->npol; p++) {
                if (dv->group_of[p] != g)
                    continue;
                g_string_append_printf(out, "%s%s", first ? "" : ",",
                                       sr_overlap_policy_name(ap->policies[p]));
                first = false;
            }
            g_string_append_printf(out, ":%s", s[dv->first_pol[g]]->d[d].sha_hex);
        }
    }
    g_string_append_c(out, '\n');
    return out;
}

/* The streams.tsv row of one direction (--write). */
static char *tsv_row(worker *w, const conn_out *co, int d)
{
    dir_x *ds = &sx(co->st)->d[d];
    const dir_res *r = &co->d[d];
    char key[256];
    fmt_key(key, sizeof key, &co->flow, d);
    /* A direction without data still gets its (empty) file, so the index
     * never names a missing file. */
    if (!ds->opened) {
        int fd = open_out(ds);
        if (fd < 0)
            write_failed(w, ds, errno);
        else
            close(fd);
    }
    char *gaps = ranges_text(ds->gaps), *cfl = ranges_text(ds->conflicts);
    char *cp = frames_text(ds->conflict_frames);
    char *base = g_path_get_basename(ds->path);
    char *row = g_strdup_printf("%s\t%" PRIu64 "\t%d\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
                                "\t%" PRIu64 "\t%s\t%" PRIu32 "\t%s\t%s\t%s\t%s\n",
                                base, co->st->id, d, key, r->delivered, r->skipped,
                                r->conflict_count, r->dropped, r->sha_hex, co->flow.zone,
                                sr_close_reason_name(co->reason), gaps, cfl, cp);
    g_free(gaps);
    g_free(cfl);
    g_free(cp);
    g_free(base);
    return row;
}

/* The output of a completed connection, both directions: s holds its
 * copies, one per policy (one unless --policy all). */
static void emit_connection(worker *w, const conn_out *const *s)
{
    app *ap = w->app;
    if (!selected(ap, s[0]->st))
        return;
    for (int d = 0; d < 2; d++) {
        divergence dv, *dvp = NULL;
        bool shown = false;
        for (unsigned p = 0; p < ap->npol; p++)
            shown = shown || dir_shown(ap, &s[p]->d[d]);
        if (ap->npol > 1) {
            diverge(ap, s, d, &dv);
            dvp = &dv;
            w->compared++;
            if (dv.ngroups > 1)
                w->diverging++;
        }
        if (!shown)
            continue;
        char *row = ap->tsv && ap->full && sx(s[0]->st)->d[d].path ? tsv_row(w, s[0], d) : NULL;
        if (!ap->json && !ap->content && !dvp) {
            /* The default line: made on the stack and written (or added
             * to the worker's block) from there, no GString per line. */
            char line[SP_LINE_MAX];
            emit_text(w, line, text_line(line, s[0], d, ap->digest, true), row);
            continue;
        }
        GString *text = NULL;
        if (ap->json)
            text = json_dir(ap, s, d, dvp);
        else if (!ap->content)
            text = text_dir(ap, s, d, dvp);
        if (text || row)
            emit(w, text, row);
    }
}

static void emit_group(worker *w, group *g)
{
    app *ap = w->app;
    unsigned have = 0;
    const conn_out *s[SP_POLICIES];
    for (unsigned p = 0; p < ap->npol; p++) {
        s[p] = &g->c[p];
        if (g->c[p].st)
            have++;
    }
    if (have < ap->npol) {
        /* Not expected: every pool sees the same segments. Said, not hidden. */
        msg("conn %" PRIu64 ": completed under %u of %u policies; not compared", g->id, have,
            ap->npol);
    } else {
        emit_connection(w, s);
    }
    for (unsigned p = 0; p < ap->npol; p++)
        if (g->c[p].st)
            stream_done(w, g->c[p].st);
}

/* After each call into the core: write out and forget the connections it
 * completed. */
static void release_closed(worker *w)
{
    app *ap = w->app;
    for (guint i = 0; i < w->closed->len; i++) {
        const conn_out *co = &g_array_index(w->closed, conn_out, i);
        stream *st = co->st;
        if (ap->full)
            g_hash_table_remove(w->conns[sx(st)->pol], &sx(st)->core_id);
        if (ap->npol == 1) {
            emit_connection(w, &co);
            stream_done(w, st);
            continue;
        }
        group *g = g_hash_table_lookup(w->groups, &st->id);
        if (!g) {
            g = g_new0(group, 1);
            g->id = st->id;
            g_hash_table_insert(w->groups, &g->id, g);
        }
        unsigned pol = sx(st)->pol;
        if (g->c[pol].st) { /* two connections from one frame: impossible */
            stream_done(w, st);
            continue;
        }
        g->c[pol] = *co;
        if (++g->n == ap->npol) {
            g_hash_table_remove(w->groups, &g->id);
            emit_group(w, g);
            g_free(g);
        }
    }
    if (w->closed->len)
        g_array_set_size(w->closed, 0);
}

/* ------------------------------------------------------------ feeding */

/* A segment with one of these had its payload read by the core beyond
 * the delivery itself: copied into a page, or compared with bytes seen
 * before. A direction that delivered from a page also copies its in-order
 * payloads into its conflict history from then on. */
#define SP_STATUS_READS_PAYLOAD                                                            \
    (SR_SEG_OUT_OF_ORDER | SR_SEG_OVERLAP | SR_SEG_RETRANSMISSION | SR_SEG_CONFLICT)
#define SP_PAYLOAD_KEEP 16384u /* segments */

/* Whether w's next segments' payloads are worth asking the memory for
 * ahead of their use: the output reads payloads (--sha256, --write,
 * --content), or one of w's last SP_PAYLOAD_KEEP segments had its payload
 * read by the core (feed). Otherwise the core only counts the bytes (the
 * conflict history keeps them by reference) and the prefetches are
 * wasted: the indexed walk asks for each of its entries' payload lines,
 * one thread reading a mapping for every line 8 KiB ahead, and both map
 * the pages ahead (map_populate); without need they kept two workers 11 %
 * longer on many-100000 and one thread 5–7 %, against 34 % and 12 %
 * slower without them on bulk. */
static bool payload_wanted(const worker *w)
{
    const app *ap = w->app;
    return ap->digest || ap->write_dir || ap->content || w->copied_recently;
}

static void feed(worker *w, const sr_flow *flow, const sr_segment *seg, uint64_t frame)
{
    app *ap = w->app;
    w->cur_frame = frame;
    for (unsigned p = 0; p < ap->npol; p++) {
        sr_result res;
        feed_ctx fc = {frame, p};
        sr_error e = sr_assemble_ex(w->a[p], flow, seg, &fc, &res);
        if (res.status & SP_STATUS_READS_PAYLOAD)
            w->copied_recently = SP_PAYLOAD_KEEP;
        else if (w->copied_recently)
            w->copied_recently--;
        /* What is recorded per segment (times for --json, conflict frames
         * for --write, sequence numbers for --verify) needs the stream;
         * the default output does not, and saves the lookup. */
        bool need = ap->json || ap->write_dir || ap->verify;
        stream_x *st = need && res.conn_id ? g_hash_table_lookup(w->conns[p], &res.conn_id) : NULL;
        if (e != SR_OK) {
            /* Every policy's pool sees the same segments: count once. */
            if (p == 0 && (unsigned)e < SR_ERROR_COUNT_)
                w->err_count[e]++;
            /* A segment after the end of its connection (the last ACK after
             * FIN, a late retransmission) is normal traffic: counted only. */
            if (p == 0 && e != SR_ERR_CONNECTION_CLOSED) {
                pthread_mutex_lock(&ap->msg_lock);
                if ((unsigned)e < SR_ERROR_COUNT_ && ap->err_msgs[e]++ < SP_MSG_LIMIT)
                    msg("frame %" PRIu64 ": %s: %s", frame, sr_err_name(e), sr_strerror(e));
                pthread_mutex_unlock(&ap->msg_lock);
            }
        } else if (st && !(res.status & SR_SEG_AFTER_CLOSE) && (unsigned)res.dir <= 1) {
            dir_x *ds = &st->d[res.dir];
            if (!ds->any_segment) {
                ds->first_ts = seg->timestamp;
                ds->any_segment = true;
            }
            ds->last_ts = seg->timestamp;
            if ((res.status & SR_SEG_CONFLICT) && ds->conflict_frames)
                g_array_append_val(ds->conflict_frames, frame);
            if (ap->verify) {
                /* The sequence numbers of the bytes this segment carried; a
                 * SYN's own number carries none. */
                size_t len = seg->claimed_len ? seg->claimed_len : seg->payload_len;
                uint32_t first = seg->seq + ((seg->flags & SR_TCP_SYN) ? 1u : 0u);
                sp_seqset_add(&ds->seen, first, len);
            }
        }
        release_closed(w);
    }
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

static void walk_file(worker *w);
static void walk_indexed(worker *w);
static void worker_finish(worker *w);

static void *worker_main(void *data)
{
    worker *w = data;
    for (;;) {
        batch *b = bqueue_pop(&w->work);
        bool stop = b->stop;
        if (b->walk) {
            /* Publishes its output and done_frame itself. */
            if (w->app->walk.indexed)
                walk_indexed(w);
            else
                walk_file(w);
            b->walk = false;
            bqueue_push(&w->spare, b);
            continue;
        }
        for (size_t i = 0; i < b->n; i++) {
            item *it = &b->items[i];
            sr_segment seg = it->seg;
            if (!seg.payload_stable)
                seg.payload = seg.payload_len ? b->arena + (uintptr_t)it->seg.payload : NULL;
            feed(w, &it->flow, &seg, it->frame);
        }
        /* Every frame up to the stamp that was meant for this worker has
         * been fed: its later output has later keys. */
        pthread_mutex_lock(&w->out_lock);
        out_publish(w);
        w->done_frame = b->stamp;
        pthread_mutex_unlock(&w->out_lock);
        b->n = b->used = 0;
        b->stop = false;
        bqueue_push(&w->spare, b);
        if (stop) {
            /* The end of input, in every worker at once (the main thread
             * reads the results once it has joined them all). */
            worker_finish(w);
            pthread_mutex_lock(&w->out_lock);
            out_publish(w);
            pthread_mutex_unlock(&w->out_lock);
            return NULL;
        }
    }
}

/* Hand the worker's current batch over (an empty one if it has none),
 * stamped with the frames dispatched so far. */
static void push_batch(worker *w, uint64_t stamp)
{
    batch *b = w->cur ? w->cur : bqueue_pop(&w->spare); /* blocks: bounded memory */
    w->cur = NULL;
    b->stamp = stamp;
    bqueue_push(&w->work, b);
}

/* Every SP_SYNC_FRAMES frames: every worker gets a batch, so the lowest
 * finished frame moves on, and the output up to it is written. */
static void sync_release(app *ap, uint64_t stamp, uint64_t limit);

static void sync_workers(app *ap, uint64_t stamp)
{
    for (unsigned t = 0; t < ap->threads; t++)
        push_batch(&ap->w[t], stamp);
    sync_release(ap, stamp, drain(ap, false));
}

/* A stable payload (seg->payload_stable: in a file mapping, alive to the
 * end of the run) is given to the worker as the pointer, not a copy. */
static void dispatch(app *ap, worker *w, const sr_flow *flow, const sr_segment *seg,
                     uint64_t frame)
{
    bool by_ref = seg->payload_stable;
    if (ap->threads == 1) {
        feed(w, flow, seg, frame);
        return;
    }
    batch *b = w->cur;
    if (b && (b->n == SP_BATCH_ITEMS || (!by_ref && b->used + seg->payload_len > SP_BATCH_ARENA))) {
        push_batch(w, frame - 1);
        b = NULL;
    }
    if (!b)
        b = w->cur = bqueue_pop(&w->spare); /* blocks: bounded memory */
    item *it = &b->items[b->n++];
    it->flow = *flow;
    it->seg = *seg;
    it->frame = frame;
    if (seg->payload_len && !by_ref) {
        memcpy(b->arena + b->used, seg->payload, seg->payload_len);
        it->seg.payload = (const uint8_t *)(uintptr_t)b->used;
        b->used += seg->payload_len;
    }
}

/* ------------------------------------------------------------ input */

typedef struct gz_src {
    void *g;       /* gzFile */
    char err[256]; /* zlib's message after a failed read, "" if none */
} gz_src;

#ifdef SP_HAVE_ZLIB
/* gzip-compressed captures (as shipped by Wireshark's and Zeek's test
 * suites) are read through a stdio cookie, so libpcap sees a FILE *. A
 * read error keeps zlib's own message: libpcap would only print errno,
 * which zlib does not set for bad data. */
static ssize_t gz_read(void *c, char *buf, size_t n)
{
    gz_src *z = c;
    int r = gzread((gzFile)z->g, buf, n > INT_MAX ? INT_MAX : (unsigned)n);
    int zerr = Z_OK;
    const char *m = gzerror((gzFile)z->g, &zerr);
    if (r < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        if (!z->err[0])
            g_strlcpy(z->err, m && *m ? m : "unknown zlib error", sizeof z->err);
        if (r < 0) {
            errno = EIO;
            return -1;
        }
    }
    return r;
}

static int gz_close(void *c)
{
    gz_src *z = c;
    int r = gzclose((gzFile)z->g) == Z_OK ? 0 : -1;
    g_free(z);
    return r;
}
#endif

typedef struct input {
    pcap_t *p;
    gz_src *gz; /* when compressed (freed through the cookie) */
    off_t size; /* file size for the progress bar, 0 if unknown */
    uint8_t *rb;           /* mapping: the read buffer (input_fill) */
    size_t pf;             /* mapping: asked for (prefetched) up to here */
    bool via_map;          /* mapping: records read from it, not with file_read */
    size_t win_from;       /* mapping: where the records counted since start */
    uint64_t win_recs;     /* ... how many before it (input_next chooses) */
    bool payload_ahead;    /* mapping: ask for the payloads' lines ahead
                              (input_next; run_file sets it) */
    size_t rb_from, rb_len; /* ... holds rb_len bytes of the file from rb_from */
    char *iobuf; /* the FILE's buffer (regular files), freed after it closes */
    /* A plain pcap file (not pcapng, not compressed, not standard input)
     * is read from a read-only mapping instead: no copy of every byte
     * through read(2), and with --threads the workers are handed the
     * frames where they lie instead of a copy (the mapping lives until the
     * end of the run; pages every worker is done with are given back with
     * MADV_DONTNEED, so they do not stay in the resident set). Any record
     * libpcap might treat differently (a length over the snapshot length,
     * a cut record) hands the rest of the file back to libpcap, which
     * skips the records read so far: the frames are libpcap's either way. */
    const uint8_t *map;  /* NULL: libpcap reads */
    int fd;              /* the mapped file (the indexed walk reads it), or -1 */
    size_t map_len, off; /* the mapping, and the next record's offset */
    size_t cur;          /* offset of the record returned last */
    size_t released;     /* bytes before this are given back */
    size_t populated;    /* pages before this are mapped (map_populate) */
    uint64_t recs;       /* records returned from the mapping */
    bool swapped, nano;
    uint32_t snap;       /* largest caplen taken from the mapping */
    struct pcap_pkthdr hdr;
} input;

/* Mappings of the run's files: unmapped at the end, after the workers. */
typedef struct mapping {
    void *addr;
    size_t len;
} mapping;
static GArray *sp_mappings; /* mapping; main thread only */

/* KiB of the capture mappings resident now (their Rss in /proc/self/smaps;
 * 0 where it cannot be read): printed with SR_PCAP_READ_REPORT at the end,
 * for the tests of map_give_back. */
static uint64_t mappings_resident_kb(void)
{
    FILE *f = sp_mappings ? fopen("/proc/self/smaps", "r") : NULL;
    if (!f)
        return 0;
    uint64_t kb = 0;
    bool ours = false;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, v;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            ours = false;
            for (guint i = 0; i < sp_mappings->len; i++)
                ours |= (uintptr_t)g_array_index(sp_mappings, mapping, i).addr == lo;
        } else if (ours && sscanf(line, "Rss: %lu kB", &v) == 1) {
            kb += v;
        }
    }
    fclose(f);
    return kb;
}

/* A mapped file that another process truncates while it is read raises
 * SIGBUS at the first page past its new end: say so and end with exit 1
 * (a file that could not be read whole) instead of dying of the signal.
 * Only async-signal-safe calls; output not yet written is lost. */
static void on_sigbus(int sig)
{
    static const char msg[] =
        "safereasm-pcap: a capture file shrank while it was being read (SIGBUS); stopping\n";
    (void)sig;
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

static void catch_sigbus(void)
{
    static bool done;
    if (done)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
    done = true;
}

/* The indexed walk builds every chunk after the first from a guess
 * first, even the chain's next (idx_ready); SR_PCAP_IDX_GUESS=all (the
 * tests) sets it, in input_map. */
static bool sp_idx_guess_all;
/* file_read fails from this byte on (SR_PCAP_READ_FAIL_AT, the tests);
 * input_map sets it, in the main thread, before any worker reads. */
static size_t sp_read_fail_at = SIZE_MAX;
/* Records larger than this on average are read from the mapping (input_next,
 * idx_build); SR_PCAP_READ_MEAN_MAX=N (the tests) sets it, 0: always. */
static size_t sp_read_mean_max = 1024;
/* The rule both readers follow: read from the mapping when the records of
 * the last stretch (bytes over recs of them) were larger than that. */
static bool read_via_map(size_t bytes, uint64_t recs)
{
    return bytes / MAX(recs, 1) > sp_read_mean_max;
}
/* One reader chooses how to read this often (bytes); SR_PCAP_WALK_SIZES=tiny
 * makes it 16 KiB. */
static size_t sp_rb_window = (size_t)1 << 20;
/* One reader reads the file this much at a time (input_fill);
 * SR_PCAP_WALK_SIZES=tiny makes it 4 KiB, so records cut by a chunk's end
 * are common in the tests. At most SP_RB_SIZE (a read is this or one
 * record, 16 + SP_SNAP_MAX bytes at most, whichever is larger). */
static size_t sp_rb_chunk = (size_t)1 << 20;
/* map_give_back gives back all again this often (bytes); SR_PCAP_WALK_SIZES=tiny
 * makes it 1 MiB. */
static size_t sp_regive_step = SP_REGIVE_STEP;
/* Records read by each way (one reader, the indexed walk), printed on
 * standard error at the end with SR_PCAP_READ_REPORT set (the tests):
 * the main thread's, and the indexers' under idx_walk.lock. */
enum { SP_READ_FILE, SP_READ_MAP, SP_READ_PCAP, SP_READ_WALKED };
static uint64_t sp_read_count[4]; /* WALKED: of FILE and MAP, by the indexed walk */

/* Whether b, a file's first 4 bytes, is a plain pcap file's magic
 * (a1b2c3d4 or a1b23c4d in either byte order); *sw: the other order,
 * *nano: nanosecond times. */
static bool pcap_magic(const uint8_t *b, bool *sw, bool *nano)
{
    uint32_t magic = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    *sw = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
    *nano = magic == 0xa1b23c4du || magic == 0x4d3cb2a1u;
    return magic == 0xa1b2c3d4u || magic == 0xa1b23c4du || *sw;
}

/* Map a plain pcap file (magic a1b2c3d4 or a1b23c4d in either byte order,
 * version 2.4) for reading; if not, libpcap reads it. Not for the link
 * types whose frames libpcap rewrites after reading (pcap_post_process:
 * USB and NFLOG headers in a file of the other byte order). A page given
 * back is read from the file again if touched (private, unmodified). */
static void input_map(input *in, const char *path)
{
    int dlt = pcap_datalink(in->p);
    if (dlt == DLT_USB_LINUX || dlt == DLT_USB_LINUX_MMAPPED || dlt == DLT_NFLOG)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 24 ||
        (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return;
    }
    size_t len = (size_t)st.st_size;
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        close(fd);
        return;
    }
    const uint8_t *b = m;
    bool sw, nano;
    bool ok = pcap_magic(b, &sw, &nano);
    uint16_t major = sw ? (uint16_t)(b[4] << 8 | b[5]) : (uint16_t)(b[5] << 8 | b[4]);
    uint16_t minor = sw ? (uint16_t)(b[6] << 8 | b[7]) : (uint16_t)(b[7] << 8 | b[6]);
    uint32_t snap = sw ? (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19]
                       : (uint32_t)b[19] << 24 | (uint32_t)b[18] << 16 | (uint32_t)b[17] << 8 | b[16];
    if (!ok || major != 2 || minor != 4) {
        munmap(m, len);
        close(fd);
        return;
    }
    madvise(m, len, MADV_SEQUENTIAL);
    catch_sigbus();
    if (!sp_mappings)
        sp_mappings = g_array_new(FALSE, FALSE, sizeof(mapping));
    mapping mp = {m, len};
    g_array_append_val(sp_mappings, mp);
    /* SR_PCAP_READ_FAIL_AT=N (the tests): file_read fails from byte N
     * on, as when the file shrinks meanwhile; libpcap then reads on from
     * where the reading stopped, and the output is that of any run. */
    const char *fail = getenv("SR_PCAP_READ_FAIL_AT");
    sp_read_fail_at = fail && *fail ? (size_t)g_ascii_strtoull(fail, NULL, 10) : SIZE_MAX;
    const char *guess = getenv("SR_PCAP_IDX_GUESS");
    sp_idx_guess_all = guess && strcmp(guess, "all") == 0;
    const char *mean = getenv("SR_PCAP_READ_MEAN_MAX");
    sp_read_mean_max = mean && *mean ? (size_t)g_ascii_strtoull(mean, NULL, 10) : 1024;
    const char *sizes = getenv("SR_PCAP_WALK_SIZES");
    bool tiny = sizes && strcmp(sizes, "tiny") == 0;
    sp_rb_window = tiny ? 16384 : (size_t)1 << 20;
    sp_rb_chunk = tiny ? 4096 : (size_t)1 << 20;
    sp_regive_step = tiny ? (size_t)1 << 20 : SP_REGIVE_STEP;
    in->rb = g_try_malloc(SP_RB_SIZE);
    if (!in->rb) {
        munmap(m, len);
        close(fd);
        return;
    }
    in->rb_from = in->rb_len = 0;
    in->via_map = true; /* until a window says the records are small */
    in->win_from = 24;
    in->win_recs = 0;
    in->map = b;
    in->fd = fd;
    in->map_len = len;
    in->off = 24;
    in->released = 0;
    in->populated = 0;
    in->swapped = sw;
    in->nano = nano;
    /* Within what libpcap returns unchanged for any link type. */
    in->snap = snap && snap < SP_SNAP_MAX ? snap : SP_SNAP_MAX;
}

static uint32_t rd32(const uint8_t *p, bool sw)
{
    return sw ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The start of the page off lies in. */
static size_t page_floor(size_t off)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return off / pg * pg;
}

/* Give the mapping's pages [from, to) back (page-aligned; read no more).
 * Pages given back can come back: the conflict history remembers delivered
 * bytes by where they lie in the mapping and reads them when it turns into
 * a ring of bytes (the sixth run of a direction, often long after), which
 * maps their pages again, and nothing gave those back (on a capture of
 * 100,000 connections open at once, 2 KB each, 174 MB of the 383 MB file
 * were resident at the end, peak RSS 409 MiB). Whenever the range given
 * back passes a multiple of sp_regive_step, everything before it is given
 * back again: a walk of page tables that are mostly empty, a few times a
 * run (peak RSS 246 MiB there; every 64 MiB: 324 MiB; time unchanged). */
static void map_give_back(const input *in, size_t from, size_t to)
{
    if (to <= from)
        return;
    if (to / sp_regive_step > from / sp_regive_step)
        from = 0;
    madvise((void *)(uintptr_t)(in->map + from), to - from, MADV_DONTNEED);
}

/* Map the mapping's pages [from, to) into the page table now, in one
 * call, instead of a page fault at the first touch of every 16 pages:
 * on this project's VMs (2 CPUs) a fault costs microseconds, and in the
 * indexed walk they fell on the chain every worker waits for. Only a
 * hint: a kernel without MADV_POPULATE_READ (before 5.14), or a file cut
 * short meanwhile (EFAULT, where a touch would raise SIGBUS), leaves the
 * pages to be faulted in as before. Pages not read yet are read from the
 * file here, as the first touch would. */
static void map_populate(const input *in, size_t from, size_t to)
{
#ifdef MADV_POPULATE_READ
    from = page_floor(from);
    to = MIN(to, in->map_len);
    if (to > from)
        madvise((void *)(uintptr_t)(in->map + from), to - from, MADV_POPULATE_READ);
#else
    (void)in, (void)from, (void)to;
#endif
}

/* Reading from a mapping at offset off: its pages up to SP_POPULATE_AHEAD
 * bytes ahead are mapped, a step at a time. */
static void input_populate(input *in, size_t off)
{
    if (in->populated < off + SP_POPULATE_AHEAD / 2) {
        size_t from = MAX(in->populated, off);
        in->populated = off + SP_POPULATE_AHEAD;
        map_populate(in, from, in->populated);
    }
}

/* Give back the pages before offset upto (they are read no more). */
static void input_release(input *in, size_t upto)
{
    size_t end = page_floor(upto);
    if (!in->map || end <= in->released)
        return;
    map_give_back(in, in->released, end);
    in->released = end;
}

/* At a sync point (frame stamp + 1 being read), every worker done with the
 * frames up to limit: a mapped input's pages before them are read no more. */
static void sync_release(app *ap, uint64_t stamp, uint64_t limit)
{
    input *in = ap->cur_in;
    if (!in || !in->map)
        return;
    size_t upto = 0;
    while (ap->ckpt_len && ap->ckpt[ap->ckpt_head].stamp <= limit) {
        upto = ap->ckpt[ap->ckpt_head].off;
        ap->ckpt_head = (ap->ckpt_head + 1) % 64;
        ap->ckpt_len--;
    }
    if (upto)
        input_release(in, upto);
    if (ap->ckpt_len < 64) {
        unsigned i = (ap->ckpt_head + ap->ckpt_len++) % 64;
        ap->ckpt[i].stamp = stamp;
        ap->ckpt[i].off = in->cur; /* the record of frame stamp + 1 */
    }
}

/* The 16-byte record header at r, if it is one libpcap returns
 * unchanged: its seconds, fraction, caplen and len. */
static bool rec_fields(const input *in, const uint8_t *r, uint32_t *sec, uint32_t *frac,
                       uint32_t *caplen, uint32_t *len)
{
    *sec = rd32(r, in->swapped);
    *frac = rd32(r + 4, in->swapped);
    *caplen = rd32(r + 8, in->swapped);
    *len = rd32(r + 12, in->swapped);
    return *caplen <= in->snap && *caplen <= *len &&
           *frac < (in->nano ? 1000000000u : 1000000u);
}

/* The record at r, of which avail bytes are at hand, into h, if it is
 * one libpcap returns unchanged (false if it is not all at hand). */
static bool rec_header(const input *in, const uint8_t *r, size_t avail, struct pcap_pkthdr *h)
{
    uint32_t sec, frac;
    if (avail < 16 || !rec_fields(in, r, &sec, &frac, &h->caplen, &h->len) ||
        avail - 16 < h->caplen)
        return false;
    h->ts.tv_sec = (time_t)sec;
    h->ts.tv_usec = (suseconds_t)(in->nano ? frac / 1000 : frac);
    return true;
}

/* The mapped record at off into h (rec_header; false at the end of the
 * mapping too). Reads the mapping only: the workers walking it call this
 * at once. */
static bool map_record(const input *in, size_t off, struct pcap_pkthdr *h)
{
    return rec_header(in, in->map + off, in->map_len - off, h);
}

/* Read the file from start into buf (holding *have bytes of it) until it
 * holds `to`; false if the file ended or failed first (*have says what
 * was read). The indexed walk and one reader read a mapped file's bytes
 * this way, in steps, into a buffer they reuse, instead of through the
 * mapping: on this project's VMs the first touch of a mapped 4 KiB page
 * by a CPU is at times slow (touching 4 lines of every page of a mapped
 * 487 MB file took 0.15-0.17 s at such times, 0.025-0.03 s at others;
 * read(2) of it into one reused buffer 0.024-0.054 s either way). Small
 * records only (input_next and idx_build choose): for large ones the
 * copy of their payloads costs more than it saves. The mapping stays what the payloads are
 * read from (stable for the core: sr_segment.payload_stable), so a
 * record is read from the file and its payload used from the mapping:
 * a file changed while it is read is not supported (one that shrinks
 * stops the reading, and libpcap then reports what it finds). */
static bool file_read(int fd, uint8_t *buf, size_t start, size_t *have, size_t to)
{
    bool cut = start + to > sp_read_fail_at;
    if (cut)
        to = sp_read_fail_at > start ? sp_read_fail_at - start : 0;
    while (*have < to) {
        ssize_t r = pread(fd, buf + *have, to - *have, (off_t)(start + *have));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        *have += (size_t)r;
    }
    return !cut;
}

/* The read buffer of a mapped input (one reader): the record at in->off
 * is at the returned pointer, *avail bytes of it at hand, at least len
 * (16 for its header, 16 + caplen for all of it) unless the file ends
 * first. When they are not at hand, what is left of the buffer (part of
 * one record) moves to its start and the file is read on, sp_rb_chunk
 * bytes or the record's length: the buffer is refilled once per chunk, and
 * only a record cut by the chunk's end is moved (before, every refill
 * kept room for the largest record and moved up to 256 KiB). */
static const uint8_t *input_fill(input *in, size_t len, size_t *avail)
{
    size_t off = in->off, end = in->rb_from + in->rb_len;
    size_t need = MIN(in->map_len, off + len);
    if (off < in->rb_from || need > end) {
        size_t keep = off >= in->rb_from && off < end ? end - off : 0;
        memmove(in->rb, in->rb + (end - keep - in->rb_from), keep);
        in->rb_from = off;
        in->rb_len = keep;
        file_read(in->fd, in->rb, off, &in->rb_len, MIN(in->map_len - off, MAX(len, sp_rb_chunk)));
    }
    *avail = in->rb_from + in->rb_len - off;
    return in->rb + (off - in->rb_from);
}

/* A payload in the read buffer: the same bytes in the mapping. */
static const uint8_t *input_stable(const input *in, const uint8_t *p)
{
    /* As integers: p may point into the mapping, another object. */
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)in->rb;
    if (p && a >= lo && a - lo <= in->rb_len)
        return in->map + in->rb_from + (a - lo);
    return p; /* in the mapping already (via_map) */
}

#define SP_READ_PREFETCH ((size_t)8192)

/* pcap_next_ex() for either reader. */
static int input_next(input *in, struct pcap_pkthdr **h, const u_char **data)
{
    if (!in->map) {
        int r = pcap_next_ex(in->p, h, data);
        sp_read_count[SP_READ_PCAP] += r == 1;
        return r;
    }
    if (in->off == in->map_len)
        return PCAP_ERROR_BREAK; /* end of file, as pcap_next_ex says it */
    /* Every sp_rb_window bytes: records of sp_read_mean_max bytes or
     * fewer on average are read with file_read, larger ones from the
     * mapping (reading them copies every payload byte to find a header). */
    if (in->off - in->win_from >= sp_rb_window) {
        in->via_map = read_via_map(in->off - in->win_from, in->recs - in->win_recs);
        in->win_from = in->off;
        in->win_recs = in->recs;
    }
    size_t avail = in->map_len - in->off;
    const uint8_t *r = in->via_map ? in->map + in->off : input_fill(in, 16, &avail);
    if (!in->via_map && avail >= 16) {
        /* The whole record at hand (rec_header checks the length). */
        uint32_t caplen = rd32(r + 8, in->swapped);
        if (caplen <= SP_SNAP_MAX && avail - 16 < caplen)
            r = input_fill(in, 16 + (size_t)caplen, &avail);
    }
    if (rec_header(in, r, avail, &in->hdr)) {
        if (in->payload_ahead || in->via_map) {
            /* Every line of the mapping up to SP_READ_PREFETCH bytes
             * ahead, asked for once (the payloads are read in this order;
             * input_populate has mapped the pages). */
            if (in->pf < in->off)
                in->pf = in->off;
            for (; in->pf < in->off + SP_READ_PREFETCH && in->pf < in->map_len; in->pf += 64)
                __builtin_prefetch(in->map + in->pf);
        }
        *h = &in->hdr;
        *data = r + 16; /* in the read buffer: input_stable gives the mapping's */
        in->cur = in->off;
        in->off += 16 + (size_t)in->hdr.caplen;
        in->recs++;
        sp_read_count[in->via_map ? SP_READ_MAP : SP_READ_FILE]++;
        return 1;
    }
    /* Something libpcap may see otherwise: it reads on from here. */
    in->map = NULL;
    struct pcap_pkthdr *hh;
    const u_char *dd;
    for (uint64_t i = 0; i < in->recs; i++)
        if (pcap_next_ex(in->p, &hh, &dd) != 1)
            break;
    return input_next(in, h, data);
}

/* Read buffer of a capture file: stdio's default (4 KiB here) made one
 * read(2) per 4 KiB, ~52,000 system calls for a 213 MB capture. */
#define SP_READ_BUF (1u << 20)
#define SP_READ_BUF_MAPPED (64u << 10) /* a file input_map will map */

static void input_free_buf(input *in)
{
    g_free(in->iobuf);
    in->iobuf = NULL;
}

/* The reason a read failed: zlib's when the gzip data is bad. Corrupt
 * deflate data often decodes to garbage that libpcap refuses before zlib
 * notices (the CRC is at the end): then the rest of the gzip stream is read
 * (bounded by the file) to let zlib judge it. */
static void input_error(const input *in, const char *path, const char *what, const char *pcap_msg)
{
#ifdef SP_HAVE_ZLIB
    if (in->gz && !in->gz->err[0]) {
        static char sink[65536];
        while (gz_read(in->gz, sink, sizeof sink) > 0)
            ;
    }
#endif
    if (in->gz && in->gz->err[0])
        msg("%s: %scorrupt gzip data (%s)", path, what, in->gz->err);
    else
        msg("%s: %s%s", path, what, pcap_msg);
}

static bool input_open(input *in, const char *path)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    memset(in, 0, sizeof *in);
    in->fd = -1;
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        msg("%s: %s", path, g_strerror(errno));
        return false;
    }
    struct stat stt;
    if (fstat(fileno(fp), &stt) == 0) {
        if (S_ISREG(stt.st_mode))
            in->size = stt.st_size;
        else if (S_ISDIR(stt.st_mode)) {
            msg("%s: is a directory", path);
            fclose(fp);
            return false;
        }
    }
    /* Before the first read (setvbuf must be); not for standard input,
     * which may outlive this input. Without memory, stdio's own buffer.
     * A plain pcap file is mapped (input_map), and libpcap reads only its
     * header, and what follows a record it must read: a smaller buffer,
     * not a MiB of fresh memory read at every open (twice a file, with
     * check_inputs: 4-5 ms each here). */
    size_t bufsz = SP_READ_BUF;
    uint8_t head[4];
    bool sw, nano;
    if (!is_stdin && in->size > 0 && pread(fileno(fp), head, 4, 0) == 4 &&
        pcap_magic(head, &sw, &nano))
        bufsz = SP_READ_BUF_MAPPED;
    if (!is_stdin && (in->iobuf = g_try_malloc(bufsz)) &&
        setvbuf(fp, in->iobuf, _IOFBF, bufsz) != 0)
        input_free_buf(in);
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
        input_free_buf(in);
        gzFile g = gzopen(path, "rb");
        if (!g) {
            msg("%s: cannot open gzip stream", path);
            return false;
        }
        gz_src *z = g_new0(gz_src, 1);
        z->g = g;
        cookie_io_functions_t io = {gz_read, NULL, NULL, gz_close};
        FILE *cf = fopencookie(z, "rb", io);
        if (!cf) {
            gzclose(g);
            g_free(z);
            msg("%s: %s", path, g_strerror(errno));
            return false;
        }
        in->gz = z;
        in->p = pcap_fopen_offline_with_tstamp_precision(cf, PCAP_TSTAMP_PRECISION_MICRO, err);
        if (!in->p) {
            input_error(in, path, "", err);
            fclose(cf);
            in->gz = NULL;
            return false;
        }
#else
        msg("%s: gzip-compressed capture, but built without zlib", path);
        if (!is_stdin)
            fclose(fp);
        input_free_buf(in);
        return false;
#endif
    } else {
        in->p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, err);
        if (!in->p && !is_stdin)
            fclose(fp);
        if (in->p && !is_stdin)
            input_map(in, path);
    }
    if (!in->p) {
        input_free_buf(in);
        msg("%s: %s", path, err);
        return false;
    }
    return true;
}

static off_t input_pos(const input *in)
{
#ifdef SP_HAVE_ZLIB
    if (in->gz)
        return (off_t)gzoffset((gzFile)in->gz->g);
#endif
    if (in->map)
        return (off_t)in->off;
    FILE *f = pcap_file(in->p);
    return f ? ftello(f) : 0;
}

static void input_close(input *in)
{
    if (in->p)
        pcap_close(in->p); /* closes the FILE (or the gzip cookie) */
    in->p = NULL;
    if (in->fd >= 0)
        close(in->fd); /* the mapping stays (sp_mappings) */
    in->fd = -1;
    g_free(in->rb);
    in->rb = NULL;
    in->gz = NULL;
    input_free_buf(in);
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

/* --stream ADDR:PORT,ADDR:PORT: either direction, any zone. */
static bool tuple_match(const app *ap, const sr_flow *f)
{
    const sr_flow *t = &ap->tuple;
    if (f->ip_version != t->ip_version)
        return false;
    bool fwd = memcmp(&f->src, &t->src, sizeof f->src) == 0 &&
               memcmp(&f->dst, &t->dst, sizeof f->dst) == 0;
    bool rev = memcmp(&f->src, &t->dst, sizeof f->src) == 0 &&
               memcmp(&f->dst, &t->src, sizeof f->dst) == 0;
    return fwd || rev;
}

/* Compile the filter for the capture's link type; false (said) if refused. */
static bool compile_filter(const app *ap, pcap_t *p, const char *path, struct bpf_program *prog)
{
    if (pcap_compile(p, prog, ap->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        msg("%s: filter '%s' refused for link type %s: %s", path, ap->filter,
            pcap_datalink_val_to_name(pcap_datalink(p)) ? pcap_datalink_val_to_name(pcap_datalink(p)) : "?",
            pcap_geterr(p));
        return false;
    }
    return true;
}

/* What one frame is, before it is counted and said: SP_DEC_tcp (a segment
 * for the core), another SP_DEC_* value (the decoder refused it: *why may
 * say why), or one of these. */
enum {
    SP_FR_BPF = SP_DEC_COUNT_, /* left out by the filter (not decoded) */
    SP_FR_TUPLE,               /* a TCP segment --stream's 4-tuple leaves out */
};

/* The filter, the decoder, --stream's 4-tuple. Reads the app only: any
 * thread. */
static int frame_decode(const app *ap, int dlt, const struct bpf_program *prog,
                        const struct pcap_pkthdr *h, const u_char *data, sp_segment *s,
                        const char **why)
{
    if (prog && !pcap_offline_filter(prog, h, data))
        return SP_FR_BPF;
    *why = NULL;
    sp_decode_result dr = sp_decode(dlt, data, h->caplen, h->len, s, why);
    if (dr != SP_DEC_tcp)
        return (int)dr;
    if (ap->tuple_set && !tuple_match(ap, &s->flow))
        return SP_FR_TUPLE;
    return SP_DEC_tcp;
}

/* Count what frame_decode found (notes: of a SP_DEC_tcp segment). */
static void frame_tally(uint64_t *decode_count, uint64_t *filtered, int what, unsigned notes)
{
    if (what == SP_FR_BPF) {
        (*filtered)++;
        return;
    }
    if (what == SP_FR_TUPLE) {
        decode_count[SP_DEC_tcp]++;
        (*filtered)++;
        return;
    }
    decode_count[what]++;
    if (what != SP_DEC_tcp)
        return;
    if (notes & SP_NOTE_SNAPLEN_CUT)
        decode_count[SP_DEC_snaplen_cut]++;
    if (notes & SP_NOTE_TSO_LENGTH)
        decode_count[SP_DEC_tso_length]++;
    if (notes & SP_NOTE_SHORT_FRAME)
        decode_count[SP_DEC_short_frame]++;
}

/* Say why the decoder refused a frame (dr: an SP_DEC_* value other than
 * tcp), SP_MSG_LIMIT times per kind unless -v. One thread says them all,
 * in frame order. */
static void frame_say(app *ap, const char *path, unsigned dr, const char *why, uint64_t packet,
                      uint32_t caplen, uint32_t len)
{
    if (!why || dr >= SP_DEC_COUNT_ || !(ap->verbose || ap->msgs[dr] < SP_MSG_LIMIT))
        return;
    pthread_mutex_lock(&ap->msg_lock);
    msg("%s: frame %" PRIu64 ": %s (%u of %u bytes captured), skipped", path, packet, why, caplen,
        len);
    if (!ap->verbose && ++ap->msgs[dr] == SP_MSG_LIMIT)
        msg("%s: further '%s' messages suppressed (see the counters)", path,
            sp_decode_name((sp_decode_result)dr));
    pthread_mutex_unlock(&ap->msg_lock);
}

/* The worker of n that feeds a flow's segments (both directions: the hash
 * is symmetric). A multiply, not a division: one per frame. */
static unsigned flow_owner(const sr_flow *f, unsigned n)
{
    return n == 1 ? 0 : (unsigned)(((uint64_t)sp_flow_hash(f) * n) >> 32);
}

/* What the core is handed of a decoded segment, at capture time ts.
 * stable: the frame lies in a file mapping, which outlives every pool (the
 * mappings are unmapped at the end of the run, after the workers). */
static sr_segment core_segment(const sp_segment *s, sr_time ts, bool stable)
{
    return (sr_segment){
        .seq = s->seq,
        .ack = s->ack,
        .flags = s->flags,
        .payload_stable = stable,
        .payload = s->payload,
        .payload_len = s->payload_len,
        .claimed_len = s->claimed_len,
        .timestamp = ts,
    };
}

/* One frame to its segment (timestamp: the capture clock): the filter, the
 * decoder, --stream's 4-tuple. What it finds is counted and said only when
 * count (one thread counts each frame once). false: nothing for the core. */
static bool frame_segment(app *ap, const char *path, int dlt, const struct bpf_program *prog,
                          const struct pcap_pkthdr *h, const u_char *data, uint64_t packet,
                          sr_time clock, bool count, bool stable, sp_segment *sp,
                          sr_segment *seg)
{
    sp_segment s;
    const char *why = NULL;
    int what = frame_decode(ap, dlt, prog, h, data, &s, &why);
    if (count) {
        frame_tally(ap->decode_count, &ap->filtered, what, what == SP_DEC_tcp ? s.notes : 0);
        if (what < SP_DEC_COUNT_ && what != SP_DEC_tcp)
            frame_say(ap, path, (unsigned)what, why, packet, h->caplen, h->len);
    }
    if (what != SP_DEC_tcp)
        return false;
    *seg = core_segment(&s, clock, stable);
    *sp = s;
    return true;
}


/* ------------------------------------------------------------ walking */

/* With --threads N a plain pcap file is not read by one thread and handed
 * out. SR_PCAP_WALK=each (walk_file; the default before the indexed walk
 * below): every worker walks the whole mapping itself, decodes every frame,
 * and feeds the segments whose flow hash is its own: two busy threads on
 * two CPUs instead of a reader and N workers, no batches, no hand-off; the
 * price is the per-frame reading and decoding every worker repeats (about
 * 0.1 s per worker on a 1.1 M-frame capture; see docs/safereasm-pcap.md).
 * Every worker computes the same frame numbers and the same clock; worker
 * 0 alone counts and says what the decoder found, so the counters and
 * messages are those of one reader. Output keys are as with batches. */

/* A worker in its walk at a sync point (frame stamp + 1, at offset pos,
 * comes next; every chunk, or every SP_SYNC_FRAMES frames and every
 * SP_WALK_SYNC_BYTES of the file): its output so far goes to the main
 * thread, and it waits while it is more than SP_WALK_AHEAD frames ahead of
 * the slowest worker or of the output written, or more than
 * SP_WALK_AHEAD_BYTES of the file ahead of the slowest worker or of the
 * pages given back (so the output queued and the mapped pages resident stay
 * bounded, whichever thread the scheduler holds back; in the indexed walk
 * the workers give pages back themselves, idx_build, and the main thread
 * only follows the slowest worker's offset). When a worker syncs
 * does not change the output: it is written in key order, and a sync only
 * says how far. The sizes are app.wz's (walk_sizes_set). */
#define SP_WALK_AHEAD (8u * SP_SYNC_FRAMES)
#define SP_WALK_SYNC_BYTES ((size_t)4 << 20)
#define SP_WALK_AHEAD_BYTES ((size_t)32 << 20)
/* The main thread is woken when every worker is half the look-ahead past
 * what it has written or given back (or when a worker waits, or at the
 * end). */

static void walk_sync(worker *w, uint64_t stamp, size_t pos, bool end)
{
    app *ap = w->app;
    pthread_mutex_lock(&w->out_lock);
    out_publish(w);
    w->done_frame = stamp;
    pthread_mutex_unlock(&w->out_lock);
    pthread_mutex_lock(&ap->walk_lock);
    ap->walk_at[w->index] = end ? UINT64_MAX : stamp;
    ap->walk_pos[w->index] = pos;
    if (end)
        ap->walk_running--;
    if (ap->walk_waiting)
        pthread_cond_broadcast(&ap->walk_cv);
    bool waited = false;
    for (;;) {
        uint64_t low = UINT64_MAX;
        size_t low_pos = SIZE_MAX;
        for (unsigned t = 0; t < ap->threads; t++) {
            low = MIN(low, ap->walk_at[t]);
            low_pos = MIN(low_pos, ap->walk_pos[t]);
        }
        bool go = end || ((stamp <= MIN(low, ap->walk_drained) ||
                           stamp - MIN(low, ap->walk_drained) <= ap->wz.ahead) &&
                          (pos <= MIN(low_pos, ap->walk_released) ||
                           pos - MIN(low_pos, ap->walk_released) <= ap->wz.ahead_bytes));
        /* The main thread is woken only when it has enough to do, or a
         * worker waits (perhaps for it): each wake-up takes a CPU from a
         * worker. The slowest worker waits at most for the main thread,
         * which writes and gives back up to it: no deadlock. */
        if (!ap->walk_wake &&
            (!go || end || ap->walk_waiting ||
             (low != UINT64_MAX && low >= ap->walk_drained + ap->wz.ahead / 2) ||
             (low_pos != SIZE_MAX && low_pos >= ap->walk_released + ap->wz.ahead_bytes / 2))) {
            ap->walk_wake = true;
            pthread_cond_signal(&ap->walk_main_cv);
        }
        if (go)
            break;
        if (!waited) {
            waited = true;
            ap->walk_waiting++;
        }
        pthread_cond_wait(&ap->walk_cv, &ap->walk_lock);
    }
    if (waited)
        ap->walk_waiting--;
    pthread_mutex_unlock(&ap->walk_lock);
}

/* A worker's walk (either kind) ended at the record at offset off: where
 * it stopped, for the main thread once every walk has ended, then the
 * last sync. */
static void walk_end(worker *w, size_t off, uint64_t recs, uint64_t frame, uint64_t n,
                     sr_time clock, bool clock_set)
{
    w->walk_off = off;
    w->walk_recs = recs;
    w->walk_frames = frame;
    w->walk_n = n;
    w->walk_clock = clock;
    w->walk_clock_set = clock_set;
    walk_sync(w, frame, off, true);
}

/* A worker: app.walk's mapping from its first record to its end, or to the
 * first record libpcap might return otherwise (every worker stops there). */
static void walk_file(worker *w)
{
    app *ap = w->app;
    const walk_job *j = &ap->walk;
    const input *in = j->in;
    bool count = w->index == 0;
    size_t off = j->off;
    uint64_t frame = j->frames, n = j->n, recs = 0;
    sr_time clock = j->clock;
    bool clock_set = j->clock_set;
    gint64 last = 0;
    size_t synced = off;
    struct pcap_pkthdr h;
    while (map_record(in, off, &h)) {
        const u_char *data = in->map + off + 16;
        size_t here = off;
        off += 16 + (size_t)h.caplen;
        /* The next record's header, while this frame is decoded and fed
         * (a prefetch never faults, even past the end). */
        __builtin_prefetch(in->map + off);
        recs++;
        uint64_t packet = ++n;
        uint64_t fr = ++frame;
        if (fr % ap->wz.sync_frames == 0 || here - synced >= ap->wz.sync_bytes) {
            walk_sync(w, fr - 1, here, false);
            synced = here;
        }
        /* The capture clock, as run_file keeps it. */
        sr_time ts = (sr_time)h.ts.tv_sec * SR_USEC_PER_SEC + h.ts.tv_usec;
        if (!clock_set || ts > clock) {
            clock = ts;
            clock_set = true;
        }
        if (count && j->show_progress && (n & 1023) == 0) {
            gint64 now = g_get_monotonic_time();
            if (now - last > 200000) {
                last = now;
                progress(j->path, n, (off_t)off, in->size, false);
            }
        }
        sp_segment s;
        sr_segment seg;
        if (!frame_segment(ap, j->path, j->dlt, j->prog, &h, data, packet, clock, count, true, &s,
                           &seg))
            continue;
        if (flow_owner(&s.flow, ap->threads) != w->index)
            continue;
        feed(w, &s.flow, &seg, fr);
    }
    walk_end(w, off, recs, frame, n, clock, clock_set);
}

/* ------------------------------------------------------------ indexed walk */

/* The walk above makes every worker read every record and decode every
 * frame: N times the decoding, and N threads missing the cache on every
 * frame's headers. The indexed walk decodes each frame once in all. The
 * file is cut into chunks (at most SP_IDX_RECS records within SP_IDX_BYTES);
 * a worker builds a chunk's index: it decodes its frames and lists them per
 * worker in a slot of a ring (each entry: the flow and segment, pointing
 * into the mapping, and the record's number; the decoder's messages go on
 * worker 0's list, the counters in the slot); then every worker feeds,
 * chunk after chunk, only the entries on its own list, touching no other
 * worker's bytes.
 *
 *   bytes     |-- range 1 --|-- range 2 --|-- range 3 --| ...  (idx_chain)
 *   chunk x   the records from where chunk x - 1 ends that start before
 *             range x + 1 (chunk 0: from the walk's start)
 *   built by  whichever worker is free, several at once: the chain's next
 *             chunk from where it starts, the others from a guess in
 *             their range (idx_build, idx_guess)
 *   chained   in order, each once it starts where the one before ended;
 *             one built from a wrong guess is built again (idx_chain)
 *   slot      c mod slots; fed by every worker, its own list, in order
 *
 * Where a record starts is known only from the one before it, and
 * finding them all is a walk over every line of the file: built one after
 * another, the chunks set the pace of two workers. The ranges are fixed
 * ahead, so they are built at once, and a guess costs time, never bytes:
 * only chunks that start where the chain is are fed. Before it feeds
 * chunk c a worker builds chunks less than SP_IDX_AHEAD(N) chunks past c
 * whose slots are free (idx_ready), and a slot is reused only when every
 * worker has fed its chunk: at most SP_IDX_SLOTS(N) chunks are built and
 * not fed, whichever thread the scheduler holds back. The capture clock
 * (the highest frame time so far) is kept per chunk: each entry holds the
 * highest time within its chunk up to it, and a worker takes the higher of
 * that and the clock at the chunk's start, which it follows over every
 * chunk. Worker 0 adds every chunk's counters and says its messages, in
 * frame order, so stderr and the counters are those of one reader; who
 * built what, or from where, changes nothing of the entries chained.
 *
 * No cycle of waits: a worker waits in walk_sync only for workers behind
 * it (and the main thread, which waits for no worker), and in idx_ready
 * for its chunk c only while it can build nothing: the chain's next chunk
 * x <= c is being built by another worker (which waits for nothing while
 * it builds), or x's slot holds chunk x - slots < c, which a worker
 * behind has not fed yet; that chunk is chained, so that worker goes on.
 *
 * Chunks of 8192 records: with 4096, two workers took 1.03x longer on
 * many-100000, with 1024 1.14x (9 interleaved rounds each). */
#define SP_IDX_RECS 8192u
#define SP_IDX_BYTES ((size_t)4 << 20)
#define SP_IDX_READ ((size_t)256 << 10) /* the file is read this much beyond a record's room */
#define SP_IDX_PREFETCH ((size_t)8192) /* a chunk read from the mapping: lines asked for ahead */
/* Room for a worker the host holds back for a few milliseconds (on a VM
 * the CPUs are shared): the other goes on instead of waiting. */
#define SP_IDX_AHEAD(n) ((n) + 2)
#define SP_IDX_SLOTS(n) ((n) + 6)
#define SP_IDX_PREFETCH_PAYLOAD 8 /* entries ahead: its payload's every line */
_Static_assert(SP_IDX_RECS <= 65536, "idx_entry.rec holds record numbers in 16 bits");
_Static_assert(SP_MAX_THREADS <= 256, "owners are kept in 8 bits");

/* The indexed walk's read buffers (one per worker): a window onto the
 * file that moves on (idx_at), room for a record's length twice (where a
 * guess is looked for, idx_guess, and the record there) and a read
 * step. Kept small so its lines stay in the CPU's caches: with a buffer
 * of a whole chunk (4.5 MiB) the copy was 11.7 % of the samples of two
 * workers on many-100000, with this window about 9 %. */
#define SP_IDX_RBUF (2 * (16 + (size_t)SP_SNAP_MAX) + SP_IDX_READ)

/* A chunk's bytes as its builder sees them: the mapping's, or those read
 * with file_read into the builder's buffer, as far as asked for. */
typedef struct idx_src {
    const input *in;
    uint8_t *rb;        /* NULL: the mapping */
    const uint8_t *buf; /* the file's bytes from `base` on, `have` of them */
    size_t base, have;
    size_t lim;         /* none from here on: the end, or where reading failed */
} idx_src;

/* idx_at's slow part: the buffer does not hold len bytes from pos on.
 * Read as far as a read step past them; the window moves to start at pos
 * when they would not fit in it (the bytes it holds from pos on moved to
 * its front). */
static G_GNUC_NO_INLINE void idx_read(idx_src *s, size_t pos, size_t len)
{
    if (pos < s->base || pos + len > s->base + SP_IDX_RBUF) {
        size_t keep = pos >= s->base && pos < s->base + s->have ? s->base + s->have - pos : 0;
        if (keep)
            memmove(s->rb, s->rb + (pos - s->base), keep);
        s->base = pos;
        s->have = keep;
    }
    size_t room = s->lim > s->base ? MIN(SP_IDX_RBUF, s->lim - s->base) : 0;
    if (s->have < room &&
        !file_read(s->in->fd, s->rb, s->base, &s->have, MIN(room, pos + len + SP_IDX_READ - s->base)))
        s->lim = s->base + s->have; /* an error, or the file shrank: no more */
}

/* The file's bytes from pos on, *avail of them at hand: at least len
 * unless the file ends (or reading fails) first; from the buffer (idx_read
 * fills it) or the mapping. The pointer holds until the next call. Inline:
 * it is asked for every record, and the bytes are almost always at hand
 * (out of line it was 3.5 % of the instructions of two workers). */
static inline const uint8_t *idx_at(idx_src *s, size_t pos, size_t len, size_t *avail)
{
    if (s->rb && (pos < s->base || (pos + len > s->base + s->have && s->base + s->have < s->lim)))
        idx_read(s, pos, len);
    *avail = pos >= s->base && pos < s->base + s->have ? s->base + s->have - pos : 0;
    return s->buf + (pos - s->base);
}

/* Chunks built from a guessed start (idx_guess): where the guess is
 * that a run of records starts. */
#define SP_IDX_GUESS_HOPS 4
#define SP_IDX_GUESS_SECONDS 86400u

/* Whether records plausibly start at the file's byte pos: SP_IDX_GUESS_HOPS
 * headers in a row, each where the one before says the next is, that
 * rec_header would take, of a frame of one byte or more, at most 2^24
 * long, stamped within SP_IDX_GUESS_SECONDS of ref_sec; or fewer, then
 * the end of the file (or of what src can hold at once) exactly. Stricter
 * than rec_header, so zero-filled payloads do not pass, and a guess only:
 * a chunk built from it is fed from only if the chain reaches it there
 * (idx_chain). */
static bool idx_plausible(idx_src *s, size_t pos, uint32_t ref_sec)
{
    const input *in = s->in;
    size_t first = pos;
    for (int k = 0; k < SP_IDX_GUESS_HOPS; k++) {
        if (pos >= in->map_len)
            return k > 0 && pos == in->map_len;
        if (s->rb && pos + 16 > first + SP_IDX_RBUF / 2)
            return k > 0; /* beyond what the buffer holds with the first */
        size_t avail;
        const uint8_t *r = idx_at(s, pos, 16, &avail);
        if (avail < 16)
            return k > 0;
        uint32_t sec, frac, caplen, len;
        if (!rec_fields(in, r, &sec, &frac, &caplen, &len) || caplen == 0 ||
            len >= (1u << 24) ||
            (sec > ref_sec ? sec - ref_sec : ref_sec - sec) > SP_IDX_GUESS_SECONDS)
            return false;
        pos += 16 + (size_t)caplen;
    }
    return true;
}

/* Where records plausibly start first from the file's byte `from` on,
 * within a record's length of it (idx_plausible); SIZE_MAX if nowhere. */
static size_t idx_guess(idx_src *s, size_t from, uint32_t ref_sec)
{
    for (size_t o = from; o <= from + 16 + SP_SNAP_MAX && o < s->in->map_len; o++)
        if (idx_plausible(s, o, ref_sec))
            return o;
    return SIZE_MAX;
}

/* Test-only counters (SR_PCAP_READ_REPORT): chunks chained built from
 * the chain's end, built from a guess, and guesses the chain did not
 * reach (built again). Under idx_walk.lock. */
enum { SP_IDX_KNOWN, SP_IDX_GUESSED, SP_IDX_WRONG };
static uint64_t sp_idx_count[3];

/* Under iw->lock: range(y) assigned (idx_chain starts them). */
static bool idx_range(idx_walk *iw, uint64_t y)
{
    if (iw->assigned == 0)
        return false;
    for (; iw->assigned <= y; iw->assigned++)
        iw->range[iw->assigned % SP_IDX_RING] =
            iw->range[(iw->assigned - 1) % SP_IDX_RING] + iw->span;
    return true;
}

/* Worker w builds chunk x's index into its slot, from where the chain
 * has got to (known: x is `chained`) or from a guess in x's byte range
 * (idx_guess); the slot's chunk before (x - nslots) every worker has fed.
 * Called and returning with iw->lock held, which it lets go of while it
 * works.
 *
 * A chunk's records are those from its start on that start before
 * range(x + 1) (or to the walk's end: SIZE_MAX), at most wz.recs of them
 * and within wz.bytes of the first. Chunk x + 1 starts where x's records
 * end: at range(x + 1) or just after, unless x stopped early (wz.recs);
 * one that starts before range(x + 1) is then built again from there.
 * So with the guess right, which it is unless records are smaller than
 * the ranges were measured for, or the bytes lie, the chunks are built
 * at once by both workers, not one after another (a record's start is
 * known only from the one before, and finding them all is a walk over
 * every line of the file). */
static void idx_build(worker *w, uint64_t x, bool known)
{
    app *ap = w->app;
    idx_walk *iw = &ap->idx;
    const walk_job *j = &ap->walk;
    const input *in = j->in;
    unsigned nt = ap->threads;
    idx_slot *sl = &iw->slot[x % iw->nslots];
    /* Every worker has fed the chunks up to x - nslots: the pages before
     * the end of that one's records are read no more. The worker that
     * reuses the slot gives them back (rel_from, rel_to), so it is the
     * workers, a chunk each in turn, that do this work, not a third
     * thread taking a CPU from one of them. */
    size_t rel_from = 0, rel_to = 0;
    if (x >= iw->nslots && sl->ready == x - iw->nslots + 1) {
        size_t end = page_floor(sl->link.end);
        if (end > iw->released) {
            rel_from = iw->released;
            rel_to = iw->released = end;
        }
    }
    if (sl->chunk == x + 1)
        sp_idx_count[SP_IDX_WRONG]++; /* built from a guess the chain did not reach */
    size_t from = known ? iw->next : iw->range[x % SP_IDX_RING];
    size_t to = idx_range(iw, x + 1) ? iw->range[(x + 1) % SP_IDX_RING] : SIZE_MAX;
    bool via_map = iw->via_map;
    uint32_t ref_sec = iw->ref_sec;
    sl->chunk = x + 1;
    sl->state = SP_SLOT_BUILDING;
    sl->ready = 0;
    pthread_mutex_unlock(&iw->lock);
    map_give_back(in, rel_from, rel_to);
    uint8_t owner_of[SP_IDX_RECS]; /* the worker of each entry in tmp */
    uint32_t per[SP_MAX_THREADS + 1] = {0};
    idx_entry *tmp = iw->scratch[w->index];
    uint32_t i = 0, n = 0;
    memset(sl->count, 0, sizeof sl->count);
    sl->filtered = 0;
    sr_time cmax = 0;
    struct pcap_pkthdr h;
    /* The indexer reads the chunk's bytes into its own buffer (rbuf, the
     * same lines every chunk, in this CPU's caches and TLB) with
     * file_read, in steps, and decodes them there; the entries point at
     * the payloads in the mapping (file_read says why). Through the
     * mapping, at a time when its pages were slow, two workers on
     * many-100000 took 1.6x the CPU time (0.616 s against 0.370 s).
     * Records of sp_read_mean_max bytes or fewer on average in the last
     * chunk chained are read so, larger ones in the mapping.
     *
     * The entries go first to this worker's scratch, in frame order (its
     * lines stay in this CPU's cache), then each worker's together into
     * the slot (a counting sort), so a worker reads its own in address
     * order and touches no line of another's. Written straight into the
     * slot, whose lines the other CPU read last, every entry waited for
     * its lines to come over, and the loads of the decoded fields behind
     * those stores with it (a third of the indexing's time). */
    idx_src src = {in, via_map ? NULL : iw->rbuf[w->index], NULL, 0, 0, in->map_len};
    if (src.rb) {
        src.buf = src.rb;
        src.base = from;
    } else {
        src.buf = in->map;
        src.have = in->map_len;
    }
    size_t first = known ? from : idx_guess(&src, from, ref_sec);
    size_t pos = first == SIZE_MAX ? from : first, pf = pos;
    bool stopped = false;
    for (; first != SIZE_MAX && i < ap->wz.recs && pos - first < ap->wz.bytes && pos < to; i++) {
        if (!src.rb)
            for (; pf < pos + SP_IDX_PREFETCH && pf < in->map_len; pf += 64)
                __builtin_prefetch(in->map + pf, 0, 0);
        size_t avail;
        const uint8_t *r = idx_at(&src, pos, 16, &avail);
        uint32_t caplen = avail >= 16 ? MIN(rd32(r + 8, in->swapped), SP_SNAP_MAX) : 0;
        if (avail < 16 + (size_t)caplen) /* else the same bytes again */
            r = idx_at(&src, pos, 16 + (size_t)caplen, &avail);
        if (!rec_header(in, r, avail, &h)) {
            stopped = true; /* a record libpcap must read, or the end */
            break;
        }
        const u_char *data = r + 16;
        size_t at = pos; /* the record's place in the mapping */
        pos += 16 + (size_t)h.caplen;
        sr_time ts = (sr_time)h.ts.tv_sec * SR_USEC_PER_SEC + h.ts.tv_usec;
        if (i == 0 || ts > cmax)
            cmax = ts;
        idx_entry *e = &tmp[n];
        sp_segment s;
        const char *why = NULL;
        int what = frame_decode(ap, j->dlt, j->prog, &h, data, &s, &why);
        frame_tally(sl->count, &sl->filtered, what, what == SP_DEC_tcp ? s.notes : 0);
        unsigned owner;
        if (what == SP_DEC_tcp) {
            owner = flow_owner(&s.flow, nt);
            /* the same bytes in the mapping */
            e->p.payload = s.payload ? in->map + at + (size_t)(s.payload - r) : NULL;
            e->ts = cmax; /* the chunk's clock so far */
            e->seq = s.seq;
            e->ack = s.ack;
            e->len = (uint32_t)s.payload_len; /* caplen bounds both */
            e->claimed = (uint32_t)s.claimed_len;
            e->zone = s.flow.zone;
            e->sport = s.flow.src.port;
            e->dport = s.flow.dst.port;
            e->flags = s.flags;
            if (s.flow.ip_version == 4) {
                e->kind = SP_IDX_V4;
                memcpy(&e->src, s.flow.src.addr, 4);
                memcpy(&e->dst, s.flow.dst.addr, 4);
            } else {
                e->kind = SP_IDX_WIDE;
                sl->wide[i] = s.flow;
            }
        } else if (why && what < SP_DEC_COUNT_) {
            owner = 0; /* worker 0 says it, in frame order */
            e->kind = SP_IDX_SAY;
            e->p.why = why;
            e->seq = h.caplen;
            e->ack = h.len;
            e->len = (uint32_t)what;
        } else {
            continue;
        }
        e->rec = (uint16_t)i;
        owner_of[n++] = (uint8_t)owner;
        per[owner + 1]++;
    }
    for (unsigned t = 0; t < nt; t++)
        per[t + 1] += per[t];
    memcpy(sl->first, per, (nt + 1) * sizeof per[0]);
    for (uint32_t k = 0; k < n; k++)
        sl->e[per[owner_of[k]]++] = tmp[k];
    sl->cmax = cmax;
    sl->stopped = stopped;
    sl->via_map = via_map;
    sl->guessed = !known;
    sl->link = (idx_link){first, pos, i};
    size_t end = pos;
    pthread_mutex_lock(&iw->lock);
    sl->state = SP_SLOT_BUILT;
    pthread_cond_broadcast(&iw->cv);
    /* When chunks are read in the mapping or payloads are read
     * (payload_wanted: this worker's, standing for all), the mapping's
     * pages of the two chunks after this one are mapped now, in one
     * call, not faulted in one by one (a prefetch of a page not mapped
     * is dropped). While faults were slow on this project's VM, 2
     * workers on many-100000 reading in the mapping were 1.14x faster
     * for it, one thread 1.09x; while they were fast, both the same as
     * before. */
    if (i > 0 && (payload_wanted(w) || iw->via_map) && iw->populated < end + 2 * ap->wz.bytes) {
        size_t pfrom = MAX(iw->populated, end);
        size_t pto = iw->populated = end + 2 * ap->wz.bytes;
        pthread_mutex_unlock(&iw->lock);
        map_populate(in, pfrom, pto);
        pthread_mutex_lock(&iw->lock);
    }
}

/* Under iw->lock: the chunks built from where the chain has got to are
 * chained, in order: each is fed from once it starts where the chunk
 * before ended. The first one chained sets the ranges going: range(1) is
 * where it ends, the next ones `span` bytes apart, measured on the last
 * chunk chained (3/4 of wz.recs records of its mean size, so a chunk
 * rarely fills up before its range ends). */
static void idx_chain(app *ap)
{
    idx_walk *iw = &ap->idx;
    bool moved = false;
    while (iw->nchunks == UINT64_MAX) {
        uint64_t x = iw->chained;
        idx_slot *sl = &iw->slot[x % iw->nslots];
        if (sl->chunk != x + 1 || sl->state != SP_SLOT_BUILT || sl->link.start != iw->next)
            break;
        const idx_link *l = &sl->link;
        sl->ready = x + 1;
        sp_read_count[sl->via_map ? SP_READ_MAP : SP_READ_FILE] += l->recs;
        sp_read_count[SP_READ_WALKED] += l->recs;
        sp_idx_count[sl->guessed ? SP_IDX_GUESSED : SP_IDX_KNOWN]++;
        iw->next = l->end;
        iw->chained = x + 1;
        if (l->recs > 0) {
            size_t mean = (l->end - l->start) / l->recs;
            iw->via_map = read_via_map(l->end - l->start, l->recs);
            iw->span = MIN(ap->wz.bytes, MAX(mean, 16) * ap->wz.recs * 3 / 4);
            iw->ref_sec = (uint32_t)(sl->cmax / SR_USEC_PER_SEC);
        }
        if (iw->assigned <= x + 1) {
            iw->range[(x + 1) % SP_IDX_RING] = l->end;
            iw->assigned = x + 2;
        }
        if (sl->stopped)
            iw->nchunks = x + 1; /* the walk ends with chunk x */
        moved = true;
    }
    if (moved)
        pthread_cond_broadcast(&iw->cv);
}

/* Under iw->lock: whether chunk y may take its slot: every worker has fed
 * the chunk the slot held before it (y - nslots). */
static bool idx_slot_free(const app *ap, uint64_t y)
{
    const idx_walk *iw = &ap->idx;
    if (y < iw->nslots)
        return true;
    uint64_t low = UINT64_MAX;
    for (unsigned t = 0; t < ap->threads; t++)
        low = MIN(low, iw->consumed[t]);
    return low > y - iw->nslots;
}

/* Under iw->lock: whether chunk y may be built from a guess now: its
 * slot is free, its range and the next one's are known (idx_range), and
 * its range starts within the file. */
static bool idx_guessable(app *ap, uint64_t y)
{
    idx_walk *iw = &ap->idx;
    return idx_slot_free(ap, y) && idx_range(iw, y + 1) &&
           iw->range[y % SP_IDX_RING] < ap->walk.in->map_len;
}

/* Worker w before it feeds chunk c: it builds chunks while there are any
 * to build less than SP_IDX_AHEAD chunks past c whose slots are free:
 * first the chain's next one, from where it starts, if nobody has built
 * it from there or is building it; else the first one nobody has built,
 * from a guess. Then, or when it cannot, it waits for chunk c to be
 * chained. Any worker builds any chunk: one that is not ready to feed
 * does it, one that is does it first, and none waits for another to
 * come round to its turn (with each chunk's indexer fixed, a worker
 * waited for the other to finish feeding a chunk before it could index
 * the next one, 7 to 19 % of the wall time on many-100000). False: the
 * walk ends before chunk c. */
static bool idx_ready(worker *w, uint64_t c)
{
    app *ap = w->app;
    idx_walk *iw = &ap->idx;
    idx_slot *sl = &iw->slot[c % iw->nslots];
    bool have;
    pthread_mutex_lock(&iw->lock);
    for (;;) {
        idx_chain(ap);
        have = sl->ready == c + 1;
        if (!have && iw->nchunks <= c)
            break;
        if (iw->nchunks == UINT64_MAX) {
            uint64_t x = iw->chained;
            const idx_slot *xs = &iw->slot[x % iw->nslots];
            bool built = xs->chunk == x + 1;
            bool guess_x = sp_idx_guess_all && !built && idx_guessable(ap, x);
            if (x < c + iw->ahead && !guess_x &&
                (built ? xs->state == SP_SLOT_BUILT : idx_slot_free(ap, x))) {
                idx_build(w, x, true);
                continue;
            }
            uint64_t y = guess_x ? x : x + 1;
            for (; y < c + iw->ahead; y++) {
                if (iw->slot[y % iw->nslots].chunk == y + 1)
                    continue; /* built or being built */
                if (!idx_guessable(ap, y))
                    y = UINT64_MAX - 1;
                break;
            }
            if (y < c + iw->ahead) {
                idx_build(w, y, false);
                continue;
            }
        }
        if (have)
            break;
        pthread_cond_wait(&iw->cv, &iw->lock);
    }
    pthread_mutex_unlock(&iw->lock);
    return have;
}

/* A worker: the indexed walk of app.walk's mapping, from its first record
 * to its end or to the first record libpcap might return otherwise. */
static void walk_indexed(worker *w)
{
    app *ap = w->app;
    idx_walk *iw = &ap->idx;
    const walk_job *j = &ap->walk;
    unsigned me = w->index;
    uint64_t frame = j->frames, n = j->n, recs = 0;
    sr_time clock = j->clock;
    bool clock_set = j->clock_set;
    size_t off = j->off;
    gint64 last = 0;
    for (uint64_t c = 0;; c++) {
        walk_sync(w, frame, off, false);
        if (!idx_ready(w, c))
            break;
        idx_slot *sl = &iw->slot[c % iw->nslots];
        idx_link l = sl->link;
        for (uint32_t k = sl->first[me], end = sl->first[me + 1]; k < end; k++) {
            /* The payload of an entry a little further on (a worker reads
             * only its own frames, so the hardware, which follows the
             * addresses read in sequence, does not see them coming), when
             * something will read it (payload_wanted). */
            if (k + SP_IDX_PREFETCH_PAYLOAD < end && payload_wanted(w)) {
                const idx_entry *pe = &sl->e[k + SP_IDX_PREFETCH_PAYLOAD];
                if (pe->kind != SP_IDX_SAY) {
                    const char *p = (const char *)pe->p.payload;
                    for (uint32_t o = 0; o < pe->len; o += 64)
                        __builtin_prefetch(p + o);
                }
            }
            const idx_entry *e = &sl->e[k];
            if (e->kind == SP_IDX_SAY) {
                frame_say(ap, j->path, e->len, e->p.why, n + e->rec + 1, e->seq, e->ack);
                continue;
            }
            sr_flow fl;
            if (e->kind == SP_IDX_V4) {
                memset(&fl, 0, sizeof fl);
                fl.ip_version = 4;
                memcpy(fl.src.addr, &e->src, 4);
                memcpy(fl.dst.addr, &e->dst, 4);
                fl.zone = e->zone;
                fl.src.port = e->sport;
                fl.dst.port = e->dport;
            } else {
                fl = sl->wide[e->rec];
            }
            sr_segment seg = {
                .seq = e->seq,
                .ack = e->ack,
                .flags = e->flags,
                .payload_stable = true,
                .payload = e->p.payload,
                .payload_len = e->len,
                .claimed_len = e->claimed,
                .timestamp = clock_set && clock > e->ts ? clock : e->ts,
            };
            feed(w, &fl, &seg, frame + e->rec + 1);
        }
        if (l.recs > 0 && (!clock_set || sl->cmax > clock)) {
            clock = sl->cmax;
            clock_set = true;
        }
        frame += l.recs;
        n += l.recs;
        recs += l.recs;
        off = l.end;
        if (me == 0) {
            for (unsigned k = 0; k < SP_DEC_COUNT_; k++)
                ap->decode_count[k] += sl->count[k];
            ap->filtered += sl->filtered;
            if (j->show_progress) {
                gint64 now = g_get_monotonic_time();
                if (now - last > 200000) {
                    last = now;
                    progress(j->path, n, (off_t)off, j->in->size, false);
                }
            }
        }
        pthread_mutex_lock(&iw->lock);
        iw->consumed[me] = c + 1;
        pthread_cond_broadcast(&iw->cv);
        pthread_mutex_unlock(&iw->lock);
    }
    walk_end(w, off, recs, frame, n, clock, clock_set);
}

static void idx_free(app *ap)
{
    idx_walk *iw = &ap->idx;
    for (unsigned s = 0; iw->slot && s < iw->nslots; s++) {
        g_free(iw->slot[s].e);
        g_free(iw->slot[s].wide);
    }
    g_free(iw->slot);
    iw->slot = NULL;
    for (unsigned t = 0; t < SP_MAX_THREADS; t++) {
        g_free(iw->scratch[t]);
        iw->scratch[t] = NULL;
        g_free(iw->rbuf[t]);
        iw->rbuf[t] = NULL;
    }
}

/* Main thread, before an indexed walk: the slots (made at the first one;
 * false without the memory) and the chain reset. No worker walks now. */
static bool idx_prepare(app *ap, const input *in)
{
    size_t off = in->off;
    idx_walk *iw = &ap->idx;
    if (!iw->slot) {
        iw->ahead = SP_IDX_AHEAD(ap->threads);
        iw->nslots = SP_IDX_SLOTS(ap->threads);
        iw->slot = g_try_new0(idx_slot, iw->nslots);
        bool ok = iw->slot != NULL;
        for (unsigned s = 0; ok && s < iw->nslots; s++)
            ok = (iw->slot[s].e = g_try_new(idx_entry, SP_IDX_RECS)) &&
                 (iw->slot[s].wide = g_try_new(sr_flow, SP_IDX_RECS));
        for (unsigned t = 0; ok && t < ap->threads; t++)
            ok = (iw->scratch[t] = g_try_new(idx_entry, SP_IDX_RECS)) &&
                 (iw->rbuf[t] = g_try_malloc(SP_IDX_RBUF));
        if (!ok) {
            idx_free(ap);
            return false;
        }
    }
    for (unsigned s = 0; s < iw->nslots; s++) {
        iw->slot[s].ready = 0;
        iw->slot[s].chunk = 0;
        iw->slot[s].state = SP_SLOT_FREE;
    }
    for (unsigned t = 0; t < ap->threads; t++)
        iw->consumed[t] = 0;
    iw->chained = 0;
    iw->assigned = 0; /* until the first chunk is chained */
    iw->span = ap->wz.bytes;
    iw->ref_sec = 0;
    iw->via_map = true; /* the first chunk: its buffer is fresh memory, which costs
                           (1-3 ms per MiB here); the chunk says which way after it */
    iw->nchunks = UINT64_MAX;
    iw->next = off;
    iw->released = in->released;
    iw->populated = off;
    return true;
}

/* How plain pcap files are read with --threads N: one reader thread hands
 * out batches (SP_WALK_NONE), every worker walks and decodes every frame
 * (SP_WALK_EACH, walk_file), or each frame is decoded once and every worker
 * walks the index (SP_WALK_INDEXED, walk_indexed). Each walking worker
 * visits every chunk (indexed) or every frame, so they walk only while
 * every worker can have a CPU of its own (measured on many-25000.pcap, 2
 * CPUs: 4 workers each walking every frame 0.33 s CPU, 64 1.42 s; one
 * reader and 64 workers 0.42 s); else one reader hands out batches. The
 * output is the same either way. SR_PCAP_WALK=always (indexed), each or
 * never decides instead (the tests; an A/B of the designs). */
enum { SP_WALK_NONE, SP_WALK_EACH, SP_WALK_INDEXED };

static int walk_wanted(unsigned threads)
{
    const char *e = getenv("SR_PCAP_WALK");
    if (e && strcmp(e, "always") == 0)
        return SP_WALK_INDEXED;
    if (e && strcmp(e, "each") == 0)
        return SP_WALK_EACH;
    if (e && strcmp(e, "never") == 0)
        return SP_WALK_NONE;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        cpus = CPU_COUNT(&set);
    return cpus > 0 && threads <= (unsigned long)cpus ? SP_WALK_INDEXED : SP_WALK_NONE;
}

/* The walk's sizes; SR_PCAP_WALK_SIZES=tiny makes them small enough for a
 * test's files of a few thousand frames to take every path: chunks of 64
 * records or 16 KiB, a sync every 64 frames or 16 KiB, a look-ahead of
 * 256 frames or 64 KiB (so workers wait for each other and for the main
 * thread). The output is the same with any sizes. */
static void walk_sizes_set(walk_sizes *z)
{
    const char *e = getenv("SR_PCAP_WALK_SIZES");
    if (e && strcmp(e, "tiny") == 0)
        *z = (walk_sizes){64, 16384, 64, 16384, 256, 65536};
    else
        *z = (walk_sizes){SP_IDX_RECS, SP_IDX_BYTES, SP_SYNC_FRAMES, SP_WALK_SYNC_BYTES,
                          SP_WALK_AHEAD, SP_WALK_AHEAD_BYTES};
}

/* Main thread, --threads N, a mapped input: the workers walk it from
 * in->off (after the batches handed to them so far); meanwhile the output
 * is written as they move on, and the pages all of them are past are given
 * back. Then in, the frame count and the clock are where one reader would
 * have left them; *n counts this file's frames. */
static void walk_mapped(app *ap, input *in, const char *path, int dlt,
                        const struct bpf_program *prog, bool show_progress, uint64_t *n)
{
    ap->walk = (walk_job){in, path, dlt, prog, show_progress, in->off, ap->frames, *n,
                          ap->clock, ap->clock_set, false};
    /* Without the memory for the index, every worker decodes every frame. */
    ap->walk.indexed = ap->walk_mode == SP_WALK_INDEXED && idx_prepare(ap, in);
    pthread_mutex_lock(&ap->walk_lock);
    for (unsigned t = 0; t < ap->threads; t++) {
        ap->walk_at[t] = ap->frames;
        ap->walk_pos[t] = in->off;
    }
    ap->walk_running = ap->threads;
    ap->walk_drained = ap->frames;
    ap->walk_released = in->off;
    ap->walk_wake = false; /* before any worker walks: they set it */
    pthread_mutex_unlock(&ap->walk_lock);
    for (unsigned t = 0; t < ap->threads; t++) {
        worker *w = &ap->w[t];
        if (w->cur)
            push_batch(w, ap->frames); /* what the reader had gathered for it */
        batch *b = bqueue_pop(&w->spare);
        b->walk = true;
        b->stamp = ap->frames;
        bqueue_push(&w->work, b);
    }
    pthread_mutex_lock(&ap->walk_lock);
    for (;;) {
        while (ap->walk_running > 0 && !ap->walk_wake)
            pthread_cond_wait(&ap->walk_main_cv, &ap->walk_lock);
        ap->walk_wake = false;
        bool running = ap->walk_running > 0;
        size_t pos = SIZE_MAX;
        for (unsigned t = 0; t < ap->threads; t++)
            pos = MIN(pos, ap->walk_pos[t]);
        pthread_mutex_unlock(&ap->walk_lock);
        uint64_t limit = drain(ap, false);
        if (!ap->walk.indexed) /* the indexed walk's workers give pages back themselves */
            input_release(in, pos);
        pthread_mutex_lock(&ap->walk_lock);
        bool moved = false;
        if (limit != UINT64_MAX && limit > ap->walk_drained) {
            ap->walk_drained = limit;
            moved = true;
        }
        if (pos != SIZE_MAX && pos > ap->walk_released) {
            ap->walk_released = pos;
            moved = true;
        }
        if (moved && ap->walk_waiting)
            pthread_cond_broadcast(&ap->walk_cv);
        if (!running)
            break;
    }
    pthread_mutex_unlock(&ap->walk_lock);
    /* Every walk ended (seen under walk_lock): their results are visible. */
    const worker *w0 = &ap->w[0];
    if (ap->walk.indexed && ap->idx.released > in->released)
        in->released = ap->idx.released;
    in->off = w0->walk_off;
    in->cur = w0->walk_off;
    in->recs += w0->walk_recs;
    ap->frames = w0->walk_frames;
    ap->clock = w0->walk_clock;
    ap->clock_set = w0->walk_clock_set;
    *n = w0->walk_n;
}

static void run_file(app *ap, const char *path, bool show_progress)
{
    input in;
    if (!input_open(&in, path)) {
        ap->files_failed++;
        return;
    }
    struct bpf_program prog;
    bool filtering = ap->filter != NULL;
    if (filtering && !compile_filter(ap, in.p, path, &prog)) {
        ap->files_failed++;
        input_close(&in);
        return;
    }
    int dlt = pcap_datalink(in.p);
    struct pcap_pkthdr *h;
    const u_char *data;
    int r;
    uint64_t n = 0;
    gint64 last = 0;
    ap->cur_in = &in;
    ap->ckpt_head = ap->ckpt_len = 0;
    if (ap->walk_mode != SP_WALK_NONE && in.map)
        walk_mapped(ap, &in, path, dlt, filtering ? &prog : NULL, show_progress, &n);
    while ((r = input_next(&in, &h, &data)) == 1) {
        uint64_t packet = ++n;
        uint64_t frame = ++ap->frames; /* across all files: names connections */
        if (ap->threads > 1 && frame % SP_SYNC_FRAMES == 0)
            sync_workers(ap, frame - 1);
        /* One capture clock for every segment, in every --threads mode: the
         * highest frame time so far (a frame whose time goes backwards is
         * taken at the clock; frames the filter leaves out count too). Each
         * worker then sees the times one thread would, whatever the other
         * workers' connections do. */
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
        sr_segment seg;
        if (!frame_segment(ap, path, dlt, filtering ? &prog : NULL, h, data, packet, ap->clock, true,
                           in.map != NULL, &s, &seg))
            continue;
        if (in.map)
            seg.payload = s.payload = input_stable(&in, s.payload);
        worker *w = &ap->w[flow_owner(&s.flow, ap->threads)];
        dispatch(ap, w, &s.flow, &seg, frame);
        if (ap->threads == 1 && in.map) {
            in.payload_ahead = payload_wanted(w);
            if (in.payload_ahead)
                input_populate(&in, in.off);
            if (in.off - in.released >= SP_RELEASE_STEP)
                input_release(&in, in.off);
        }
    }
    if (show_progress)
        progress(path, n, in.size, in.size, true);
    if (r == PCAP_ERROR) {
        char what[64];
        snprintf(what, sizeof what, "after frame %" PRIu64 ": ", n);
        input_error(&in, path, what, pcap_geterr(in.p));
        msg("%s: rest of the file ignored", path);
        ap->files_failed++;
    } else if (in.gz && in.gz->err[0]) {
        /* libpcap saw a clean end, zlib a damaged stream (cut short). */
        msg("%s: after frame %" PRIu64 ": corrupt gzip data (%s); rest of the file ignored", path,
            n, in.gz->err);
        ap->files_failed++;
    }
    if (filtering)
        pcap_freecode(&prog);
    ap->cur_in = NULL;
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

/* "1.2.3.4:80" or "[::1]:80" into e; *version gets 4 or 6. */
static bool parse_endpoint(const char *s, sr_endpoint *e, uint8_t *version)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon;
    memset(e, 0, sizeof *e);
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host)
            return false;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = 0;
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host)
            return false;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = 0;
    }
    uint64_t port;
    if (!parse_u64(colon + 1, 65535, &port))
        return false;
    e->port = (uint16_t)port;
    if (inet_pton(AF_INET, host, e->addr) == 1)
        *version = 4;
    else if (inet_pton(AF_INET6, host, e->addr) == 1)
        *version = 6;
    else
        return false;
    return true;
}

/* --stream: a connection id, or "ADDR:PORT,ADDR:PORT" (">" also separates,
 * as in the output's keys). */
static bool parse_stream(app *ap, const char *s)
{
    uint64_t u;
    if (parse_u64(s, UINT64_MAX, &u)) {
        ap->stream_id = u;
        return u != 0;
    }
    const char *sep = strpbrk(s, ",>");
    if (!sep)
        return false;
    char *a = g_strndup(s, (gsize)(sep - s));
    uint8_t v1 = 0, v2 = 0;
    bool ok = parse_endpoint(a, &ap->tuple.src, &v1) && parse_endpoint(sep + 1, &ap->tuple.dst, &v2) &&
              v1 == v2;
    g_free(a);
    ap->tuple.ip_version = v1;
    ap->tuple_set = ok;
    return ok;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [options] FILE... [-f EXPRESSION]\n"
            "       " PROG " [options] -r FILE [-r FILE...] [EXPRESSION]\n"
            "Reassemble the TCP streams of pcap/pcapng files (gzip too; '-' = stdin)\n"
            "with the safereasm core. Prints one line per direction when its connection\n"
            "completes (order: see the man page):\n"
            "  src:port>dst:port delivered skipped conflicts dropped [sha256]\n"
            "(\"@ZONE\" follows dst:port when the segments carried VLAN tags), then\n"
            "the counters as '# ' lines.\n\n"
            "Input and selection:\n"
            "  -r, --read FILE          read FILE (repeatable); the remaining arguments\n"
            "                           are then a filter expression\n"
            "  -f, --filter EXPRESSION  BPF filter (tcpdump syntax), compiled for each\n"
            "                           file's link type; frames left out still count\n"
            "                           for frame numbers and the capture clock\n"
            "      --stream SEL         only this connection: its id (the frame number\n"
            "                           that created it) or ADDR:PORT,ADDR:PORT (either\n"
            "                           direction; IPv6 as [ADDR]:PORT)\n"
            "Output:\n"
            "      --sha256             add each direction's SHA-256 (lines, JSON, the\n"
            "                           index of --write); --policy all implies it\n"
            "      --json               JSON Lines: one object per direction (no counters)\n"
            "      --content            the streams' bytes, each chunk behind a header\n"
            "                           line, holes as '[N bytes missing]' (no lines, no\n"
            "                           counters)\n"
            "  -w, --write DIR          write each direction's bytes to DIR/ and the index\n"
            "                           DIR/streams.tsv (gaps, conflicts); DIR must be\n"
            "                           empty or new\n"
            "      --force              with --write: use a non-empty DIR; files of an\n"
            "                           earlier run there are removed first, never appended to\n"
            "      --fill-gaps          with --write: holes as zeros (file offset = stream\n"
            "                           offset); default: delivered bytes only\n"
            "      --empty              also print directions that carried no data\n"
            "      --no-stats           do not print the counters\n"
            "      --progress / --no-progress   default: only when stderr is a terminal\n"
            "  -v, --verbose            print every skipped-frame message\n"
            "Reassembly:\n"
            "      --policy NAME        overlap policy: first (vista), bsd (windows,\n"
            "                           win2003, macos, hpux10, irix), linux, old_linux,\n"
            "                           solaris (hpux11), last; default first. 'all':\n"
            "                           every direction under all six at once, each with\n"
            "                           1/6 of the caps, reporting whether they agree\n"
            "                           (not with --write or --content)\n"
            "  -t, --threads N          N worker threads (1..%d), each with its own pool\n"
            "                           and assembler; default 1 (no worker thread).\n"
            "                           With --threads N every cap is split N ways\n"
            "                           (pages total and connections; pages per\n"
            "                           connection at most a worker's share): identical\n"
            "                           directions to --threads 1 unless a cap is hit\n"
            "      --verify             check that every direction's distinct sequence\n"
            "                           numbers seen <= delivered + skipped + dropped, and\n"
            "                           that the core's totals equal what it handed over\n"
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
            "written; 2 bad option or value, or --write DIR not empty without --force;\n"
            "3 --verify found a violation (wins over 1).\n",
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
    O_POLICY,
    O_FORCE,
    O_JSON,
    O_SHA256,
    O_CONTENT,
    O_FILL_GAPS,
    O_STREAM,
};

static int bad_value(const char *opt, const char *val)
{
    msg("invalid value '%s' for --%s", val, opt);
    return SP_EXIT_USAGE;
}

static int refuse(const char *what)
{
    msg("%s", what);
    return SP_EXIT_USAGE;
}

/* Returns 0, or an exit code (-1: done, exit 0). */
static int parse_args(app *ap, int argc, char **argv)
{
    static const struct option lo[] = {
        {"read", required_argument, NULL, 'r'},
        {"filter", required_argument, NULL, 'f'},
        {"stream", required_argument, NULL, O_STREAM},
        {"json", no_argument, NULL, O_JSON},
        {"sha256", no_argument, NULL, O_SHA256},
        {"content", no_argument, NULL, O_CONTENT},
        {"write", required_argument, NULL, 'w'},
        {"force", no_argument, NULL, O_FORCE},
        {"fill-gaps", no_argument, NULL, O_FILL_GAPS},
        {"policy", required_argument, NULL, O_POLICY},
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
    bool read_opt = false, policy_all = false;
    const char *filter_opt = NULL;
    while ((c = getopt_long(argc, argv, "r:f:w:t:vhV", lo, &li)) != -1) {
        switch (c) {
        case 'r':
            g_ptr_array_add(ap->files, optarg);
            read_opt = true;
            break;
        case 'f':
            filter_opt = optarg;
            break;
        case O_STREAM:
            if (!parse_stream(ap, optarg))
                return bad_value("stream", optarg);
            break;
        case O_JSON:
            ap->json = true;
            break;
        case O_CONTENT:
            ap->content = true;
            break;
        case 'w':
            ap->write_dir = optarg;
            break;
        case O_FORCE:
            ap->force = true;
            break;
        case O_FILL_GAPS:
            ap->fill_gaps = true;
            break;
        case O_POLICY:
            if (g_ascii_strcasecmp(optarg, "all") == 0) {
                policy_all = true;
            } else {
                sr_overlap_policy p;
                if (!sr_overlap_policy_from_name(optarg, &p)) {
                    msg("invalid value '%s' for --policy: one of first, bsd, linux, old_linux, "
                        "solaris, last, an alias (vista, windows, win2003, macos, hpux10, irix, "
                        "hpux11) or all",
                        optarg);
                    return SP_EXIT_USAGE;
                }
                policy_all = false;
                ap->opt.overlap_policy = p;
            }
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
        case O_SHA256:
            ap->digest = true;
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
            printf(PROG " %s (libpcap: %s; SHA-256: %s)\n", SR_VERSION_STRING,
                   pcap_lib_version(), sp_digest_backend());
            return -1;
        default:
            usage(stderr);
            return SP_EXIT_USAGE;
        }
    }
    /* tcpdump's habit: with -r the remaining arguments are the filter;
     * without, they are the files. */
    if (read_opt) {
        if (optind < argc) {
            if (filter_opt)
                return refuse("a filter both with -f and as arguments after -r");
            ap->filter = g_strjoinv(" ", argv + optind);
        }
    } else {
        for (int i = optind; i < argc; i++)
            g_ptr_array_add(ap->files, argv[i]);
    }
    if (filter_opt)
        ap->filter = g_strdup(filter_opt);
    if (ap->files->len == 0) {
        usage(stderr);
        return SP_EXIT_USAGE;
    }
    if (policy_all) {
        ap->npol = SP_POLICIES;
        for (unsigned p = 0; p < SP_POLICIES; p++)
            ap->policies[p] = (sr_overlap_policy)p;
        if (ap->write_dir)
            return refuse("--policy all with --write: choose one policy (--policy NAME) to write its bytes");
        if (ap->content)
            return refuse("--policy all with --content: choose one policy (--policy NAME) to see its bytes");
    } else {
        ap->npol = 1;
        ap->policies[0] = ap->opt.overlap_policy;
    }
    if (ap->json && ap->content)
        return refuse("--json and --content both write stdout: choose one");
    if ((ap->force || ap->fill_gaps) && !ap->write_dir)
        return refuse(ap->force ? "--force needs --write" : "--fill-gaps needs --write");
    if (ap->json || ap->content)
        ap->show_stats = false;
    ap->full = ap->json || ap->write_dir || ap->verify || ap->npol > 1;
    /* --policy all judges agreement on the digests, and shows them. */
    if (ap->npol > 1)
        ap->digest = true;
    char m[256] = "";
    sr_error e = sr_options_validate(&ap->opt, m, sizeof m);
    if (e != SR_OK) {
        msg("%s: %s", sr_strerror(e), m[0] ? m : "(no message)");
        return SP_EXIT_USAGE;
    }
    return 0;
}

/* Before any input is read: every file can be opened and is a capture, and
 * the filter compiles for its link type, so a refused run writes nothing
 * on stdout. Standard input is checked when it is read. */
static int check_inputs(app *ap)
{
    int rc = SP_EXIT_OK;
    for (guint i = 0; i < ap->files->len; i++) {
        const char *path = g_ptr_array_index(ap->files, i);
        if (strcmp(path, "-") == 0)
            continue;
        input in;
        if (!input_open(&in, path)) {
            rc = SP_EXIT_IO;
            continue;
        }
        struct bpf_program prog;
        if (ap->filter) {
            if (compile_filter(ap, in.p, path, &prog))
                pcap_freecode(&prog);
            else if (rc == SP_EXIT_OK)
                rc = SP_EXIT_USAGE;
        }
        input_close(&in);
    }
    if (ap->filter && rc == SP_EXIT_OK) {
        /* Only standard input: at least the syntax, on Ethernet. */
        pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
        struct bpf_program prog;
        if (dead && pcap_compile(dead, &prog, ap->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            msg("filter '%s' refused: %s", ap->filter, pcap_geterr(dead));
            rc = SP_EXIT_USAGE;
        } else if (dead) {
            pcap_freecode(&prog);
        }
        if (dead)
            pcap_close(dead);
    }
    return rc;
}

/* A name this tool writes into --write DIR: streams.tsv or
 * "<6+ digits>-...". */
static bool our_name(const char *n)
{
    if (strcmp(n, "streams.tsv") == 0)
        return true;
    size_t d = strspn(n, "0123456789");
    return d >= 6 && n[d] == '-';
}

/* --write DIR before any input is read: created if missing; refused if it
 * holds anything, unless --force, which removes the files an earlier run
 * wrote there (other entries stay); then streams.tsv is opened, which also
 * proves the directory writable. */
static int prepare_write_dir(app *ap)
{
    if (g_mkdir_with_parents(ap->write_dir, 0755) != 0) {
        msg("cannot create %s: %s", ap->write_dir, g_strerror(errno));
        return SP_EXIT_IO;
    }
    DIR *dir = opendir(ap->write_dir);
    if (!dir) {
        msg("cannot read %s: %s", ap->write_dir, g_strerror(errno));
        return SP_EXIT_IO;
    }
    struct dirent *de;
    uint64_t entries = 0;
    int rc = SP_EXIT_OK;
    while ((de = readdir(dir))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        entries++;
        if (!ap->force || !our_name(de->d_name))
            continue;
        char *p = g_build_filename(ap->write_dir, de->d_name, NULL);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (unlink(p) != 0) {
                msg("cannot remove %s: %s", p, g_strerror(errno));
                rc = SP_EXIT_IO;
            }
        }
        g_free(p);
    }
    closedir(dir);
    if (rc != SP_EXIT_OK)
        return rc;
    if (entries && !ap->force) {
        msg("%s is not empty (%" PRIu64 " entries): refusing to mix runs; use --force to replace "
            "an earlier run's files, or another directory",
            ap->write_dir, entries);
        return SP_EXIT_USAGE;
    }
    char *path = g_build_filename(ap->write_dir, "streams.tsv", NULL);
    ap->tsv = fopen(path, "w");
    if (!ap->tsv) {
        msg("cannot write %s: %s", path, g_strerror(errno));
        g_free(path);
        return SP_EXIT_IO;
    }
    g_free(path);
    fputs("# file\tconn_id\tdir\tkey\tdelivered\tskipped\tconflicts\tdropped\tsha256\tzone"
          "\tclose\tgaps(offset+len)\tconflict_chunks(offset+len)\tconflict_packets\n",
          ap->tsv);
    return SP_EXIT_OK;
}

/* ------------------------------------------------------------ counters */

static void print_stats(app *ap, const sr_assembler_stats *as, const sr_pool_stats *ps,
                        uint64_t verified, uint64_t violations)
{
    printf("# frames %" PRIu64 "\n", ap->frames);
    if (ap->filter || ap->tuple_set)
        printf("# filtered %" PRIu64 "\n", ap->filtered);
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
    if (ap->npol > 1) {
        uint64_t compared = 0, diverging = 0;
        for (unsigned t = 0; t < ap->threads; t++) {
            compared += ap->w[t].compared;
            diverging += ap->w[t].diverging;
        }
        printf("# policies directions %" PRIu64 "\n", compared);
        printf("# policies diverging %" PRIu64 "\n", diverging);
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
    app *ap = w->app;
    for (guint i = 0; i < w->done->len; i++) {
        const stream_x *st = g_ptr_array_index(w->done, i);
        for (int d = 0; d < 2; d++) {
            const dir_x *ds = &st->d[d];
            uint64_t seen = sp_seqset_count(&ds->seen);
            uint64_t sum = ds->delivered + ds->skipped + ds->dropped;
            (*checked)++;
            if (seen > sum) {
                char key[256];
                fmt_key(key, sizeof key, &st->flow, d);
                g_ptr_array_add(w->violations,
                                g_strdup_printf("%s conn %" PRIu64 " dir %d%s%s: %" PRIu64
                                                " distinct bytes seen, delivered %" PRIu64
                                                " + skipped %" PRIu64 " + dropped %" PRIu64,
                                                key, st->s.id, d, ap->npol > 1 ? " policy " : "",
                                                ap->npol > 1 ? sr_overlap_policy_name(ap->policies[st->pol]) : "",
                                                seen, ds->delivered, ds->skipped, ds->dropped));
            }
        }
    }
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static gint cmp_group(gconstpointer a, gconstpointer b)
{
    const group *x = *(group *const *)a, *y = *(group *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* ------------------------------------------------------------ workers */

/* Worker t's caps: the process-wide ones split N ways (6N with --policy
 * all: every policy's assembler holds the same connections and pages), at
 * least 1 each. */
static void split_caps(const app *ap, worker *w)
{
    unsigned n = ap->threads * ap->npol;
    w->opt = ap->opt;
    w->opt.max_buffered_pages_total = MAX(ap->opt.max_buffered_pages_total / n, 1);
    w->opt.max_buffered_pages_per_connection =
        MIN(ap->opt.max_buffered_pages_per_connection, w->opt.max_buffered_pages_total);
    w->max_connections = MAX(ap->max_connections / n, 1);
    w->cbytes_cap = SP_CONFLICT_KEEP_TOTAL / ap->threads;
}

static bool worker_start(app *ap, worker *w, unsigned index, const sr_stream_factory *fac)
{
    w->app = ap;
    w->index = index;
    split_caps(ap, w);
    /* --write: open files per worker, half the descriptor limit at most. */
    unsigned budget = SP_WFILES_MAX;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 2 < budget)
        budget = (unsigned)(rl.rlim_cur / 2);
    w->wf_max = MAX(budget / ap->threads, 1);
    for (unsigned p = 0; ap->full && p < ap->npol; p++)
        w->conns[p] = g_hash_table_new(g_int64_hash, g_int64_equal);
    w->closed = g_array_new(FALSE, FALSE, sizeof(conn_out));
    w->done = g_ptr_array_new();
    w->groups = g_hash_table_new(g_int64_hash, g_int64_equal);
    w->violations = g_ptr_array_new_with_free_func(g_free);
    pthread_mutex_init(&w->out_lock, NULL);
    g_queue_init(&w->out);
    sr_stream_factory f = *fac;
    f.user_data = w;
    char m[256] = "";
    if (sr_options_validate(&w->opt, m, sizeof m) != SR_OK) {
        /* The caps were valid before the split, and a split keeps them so. */
        msg("per-thread options: %s", m);
        return false;
    }
    for (unsigned p = 0; p < ap->npol; p++) {
        sr_error e = SR_OK;
        /* One thread feeds a pool (this one with --threads 1, else the
         * worker), flushes and closes it: no locks (SR_POOL_SINGLE_THREAD;
         * 3-7 % of the time on many small connections). */
        w->pool[p] = sr_pool_new_ex(&f, w->max_connections, sr_fault_allocator(),
                                    SR_POOL_SINGLE_THREAD, &e);
        if (!w->pool[p]) {
            msg("sr_pool_new: %s", sr_strerror(e));
            return false;
        }
        sr_options o = w->opt;
        o.overlap_policy = ap->policies[p];
        e = sr_assembler_new(w->pool[p], &o, &w->a[p]);
        if (e != SR_OK) {
            msg("sr_assembler_new: %s", sr_strerror(e));
            return false;
        }
    }
    if (ap->threads > 1) {
        bqueue_init(&w->work);
        bqueue_init(&w->spare);
        /* Not zero-filled: a batch's items and arena are written before
         * they are read, and an indexed walk never uses them; fresh memory
         * costs (8 MiB zeroed here at start: 3-5 ms of a 0.18 s run). */
        for (int i = 0; i < SP_BATCHES_PER_WORKER; i++) {
            batch *b = g_new(batch, 1);
            b->n = b->used = 0;
            b->stop = b->walk = false;
            b->stamp = 0;
            bqueue_push(&w->spare, b);
        }
        int pe = pthread_create(&w->thread, NULL, worker_main, w);
        if (pe != 0) {
            msg("cannot start a worker thread: %s", g_strerror(pe));
            return false;
        }
        w->started = true;
    }
    return true;
}

/* Hand over the last batch with the stop mark (the worker then finishes,
 * worker_finish). */
static void worker_stop_push(app *ap, worker *w)
{
    if (!w->started)
        return;
    batch *b = w->cur ? w->cur : bqueue_pop(&w->spare);
    w->cur = NULL;
    b->stop = true;
    b->stamp = ap->frames;
    bqueue_push(&w->work, b);
}

/* ... and join the thread. */
static void worker_stop(app *ap, worker *w)
{
    if (!w->started)
        return;
    worker_stop_push(ap, w);
    pthread_join(w->thread, NULL);
    w->started = false;
    batch *x;
    while ((x = bqueue_try_pop(&w->spare)))
        g_free(x);
    bqueue_clear(&w->work);
    bqueue_clear(&w->spare);
}

/* End of input (by the worker itself with threads > 1, after its last
 * batch; by the main thread with one): the sweep a segment at the final
 * clock would run (idle connections complete as TIMEOUT, as with one
 * thread, whichever worker last saw a segment when), then complete the rest
 * (FLUSHED: buffered data delivered, holes skipped); then the counters
 * (with --policy all, those of the first policy's assembler: the others
 * saw the same segments) into w->fin_as and fin_ps, and the calls that
 * failed into fin_err. Output keys count on after the last frame. */
/* A call of worker_finish that failed, for the main thread to say. */
static void fin_failed(worker *w, const char *call, sr_error e)
{
    if (e != SR_OK && w->fin_nerr < G_N_ELEMENTS(w->fin_err))
        w->fin_err[w->fin_nerr++] = (struct fin_err){call, e};
}

static void worker_finish(worker *w)
{
    const app *ap = w->app;
    sr_assembler_stats *as = &w->fin_as;
    sr_pool_stats *ps = &w->fin_ps;
    sr_error e;
    for (unsigned p = 0; p < ap->npol; p++) {
        feed_ctx fc = {0, p};
        w->cur_frame = ap->frames + 1;
        if (ap->clock_set) {
            e = sr_assembler_flush_older_than(w->a[p], ap->clock - ap->opt.connection_timeout,
                                              &fc, NULL, NULL);
            fin_failed(w, "sr_assembler_flush_older_than", e);
            release_closed(w);
        }
    }
    for (unsigned p = 0; p < ap->npol; p++) {
        feed_ctx fc = {0, p};
        w->cur_frame = ap->frames + 2;
        e = sr_assembler_flush_all(w->a[p], &fc, NULL);
        fin_failed(w, "sr_assembler_flush_all", e);
        release_closed(w);
    }
    for (unsigned p = 0; p < ap->npol; p++) {
        w->cur_frame = ap->frames + 3;
        if (p == 0) {
            sr_assembler_stats s;
            if (sr_assembler_get_stats(w->a[p], &s) == SR_OK) {
                /* Counters add up over workers; the page gauges (pages_in_use,
                 * pages_peak) too, which makes the peak an upper bound. */
#define SP__XX(name, desc) as->name += s.name;
                SR_ASSEMBLER_STATS_MAP(SP__XX)
#undef SP__XX
            }
            sr_pool_stats q;
            if (sr_pool_get_stats(w->pool[p], &q) == SR_OK) {
                /* peak_connections likewise an upper bound. */
#define SP__XX(name, desc) ps->name += q.name;
                SR_POOL_STATS_MAP(SP__XX)
#undef SP__XX
            }
        }
        sr_assembler_free(w->a[p]);
        w->a[p] = NULL;
        sr_pool_close(w->pool[p]);
        release_closed(w);
        sr_pool_free(w->pool[p]);
        w->pool[p] = NULL;
    }
    /* Copies that did not complete under every policy (not expected). */
    GPtrArray *left = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, w->groups);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_ptr_array_add(left, v);
    g_hash_table_steal_all(w->groups);
    g_ptr_array_sort(left, cmp_group);
    for (guint i = 0; i < left->len; i++) {
        emit_group(w, g_ptr_array_index(left, i));
        g_free(g_ptr_array_index(left, i));
    }
    g_ptr_array_free(left, TRUE);
}

static void worker_free(worker *w)
{
    for (unsigned p = 0; p < SP_POLICIES; p++) {
        sr_assembler_free(w->a[p]);
        sr_pool_free(w->pool[p]);
        w->a[p] = NULL;
        w->pool[p] = NULL;
    }
    if (w->closed) {
        /* Completed by sr_pool_free after a start that failed half way. */
        for (guint i = 0; i < w->closed->len; i++) {
            stream *st = g_array_index(w->closed, conn_out, i).st;
            if (w->app->full)
                g_hash_table_remove(w->conns[sx(st)->pol], &sx(st)->core_id);
            stream_free(w, st);
        }
        g_array_free(w->closed, TRUE);
        w->closed = NULL;
    }
    for (unsigned p = 0; p < SP_POLICIES; p++) {
        if (!w->conns[p])
            continue;
        /* Empty after the flushes; whatever is left (a start that failed
         * half way) is freed here. */
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, w->conns[p]);
        while (g_hash_table_iter_next(&it, &k, &v))
            stream_free(w, v);
        g_hash_table_destroy(w->conns[p]);
        w->conns[p] = NULL;
    }
    if (w->done) {
        for (guint i = 0; i < w->done->len; i++)
            stream_free(w, g_ptr_array_index(w->done, i));
        g_ptr_array_free(w->done, TRUE);
    }
    if (w->groups)
        g_hash_table_destroy(w->groups);

    if (w->violations)
        g_ptr_array_free(w->violations, TRUE);
    if (w->app) {
        out_block *b;
        while ((b = g_queue_pop_head(&w->out)))
            out_block_free(b);
        out_block_free(w->ob);
        w->ob = NULL;
        while ((b = g_queue_pop_head(&w->app->pend[w->index])))
            out_block_free(b);
        pthread_mutex_destroy(&w->out_lock);
    }
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    static app a; /* large (worker table): not on the stack */
    app *ap = &a;
    /* Output to a file or pipe in 64 KiB writes (stdio's default there is
     * the pipe's or file's block size, 4 KiB: 5,000 write calls for a run
     * of 100,000 connections); a terminal stays line-buffered. Before any
     * output, as setvbuf must be. */
    static char outbuf[SP_OUT_BUF];
    if (!isatty(STDOUT_FILENO))
        (void)setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    ap->threads = 1;
    ap->show_stats = true;
    ap->progress = -1;
    ap->max_connections = SR_DEFAULT_MAX_CONNECTIONS;
    ap->files = g_ptr_array_new();
    sr_options_init(&ap->opt);
    int rc = parse_args(ap, argc, argv);
    if (rc)
        return rc < 0 ? SP_EXIT_OK : rc;
    rc = check_inputs(ap);
    if (rc)
        return rc;
#ifdef __GLIBC__
    if (ap->threads > 1)
        (void)mallopt(M_TOP_PAD, SP_ARENA_PAD); /* no effect if refused: only slower */
#endif
    if (ap->write_dir) {
        rc = prepare_write_dir(ap);
        if (rc)
            return rc;
    }
    pthread_mutex_init(&ap->msg_lock, NULL);
    pthread_mutex_init(&ap->walk_lock, NULL);
    ap->walk_mode = ap->threads > 1 ? walk_wanted(ap->threads) : SP_WALK_NONE;
    walk_sizes_set(&ap->wz);
    pthread_cond_init(&ap->walk_cv, NULL);
    pthread_cond_init(&ap->walk_main_cv, NULL);
    pthread_mutex_init(&ap->idx.lock, NULL);
    pthread_cond_init(&ap->idx.cv, NULL);
    for (unsigned t = 0; t < SP_MAX_THREADS; t++)
        g_queue_init(&ap->pend[t]);

    sr_stream_factory fac = {cb_new_stream, cb_on_data, cb_on_complete, NULL};
    for (unsigned t = 0; t < ap->threads; t++) {
        if (!worker_start(ap, &ap->w[t], t, &fac)) {
            for (unsigned u = 0; u <= t; u++) {
                worker_stop(ap, &ap->w[u]);
                worker_free(&ap->w[u]);
            }
            return SP_EXIT_IO;
        }
    }

    bool show_progress = ap->progress == 1 || (ap->progress == -1 && isatty(STDERR_FILENO));
    for (guint i = 0; i < ap->files->len; i++)
        run_file(ap, g_ptr_array_index(ap->files, i), show_progress);

    sr_assembler_stats as = {0};
    sr_pool_stats ps = {0};
    GPtrArray *violations = g_ptr_array_new_with_free_func(g_free);
    uint64_t write_errors = 0, verified = 0;
    for (unsigned t = 0; t < ap->threads; t++)
        worker_stop_push(ap, &ap->w[t]); /* every worker finishes at once */
    for (unsigned t = 0; t < ap->threads; t++) {
        worker *w = &ap->w[t];
        if (w->started) {
            pthread_join(w->thread, NULL); /* it ran worker_finish */
            w->started = false;
        } else {
            worker_finish(w); /* one thread: no worker thread */
        }
        for (unsigned i = 0; i < w->fin_nerr; i++)
            msg("%s: %s", w->fin_err[i].call, sr_strerror(w->fin_err[i].e));
#define SP__XX(name, desc) as.name += w->fin_as.name;
        SR_ASSEMBLER_STATS_MAP(SP__XX)
#undef SP__XX
#define SP__XX(name, desc) ps.name += w->fin_ps.name;
        SR_POOL_STATS_MAP(SP__XX)
#undef SP__XX
        if (ap->verify)
            verify_worker(w, &verified);
        g_ptr_array_extend_and_steal(violations, w->violations);
        w->violations = NULL;
        write_errors += w->write_errors;
    }
    if (ap->threads > 1)
        drain(ap, true);
    g_ptr_array_sort(violations, cmp_str);
    if (ap->show_stats)
        print_stats(ap, &as, &ps, verified, violations->len);
    if (getenv("SR_PCAP_READ_REPORT"))
        fprintf(stderr, "safereasm-pcap: records read: file %" PRIu64 ", mapping %" PRIu64
                ", libpcap %" PRIu64 ", by the indexed walk %" PRIu64 "; chunks chained: "
                "built from the chain %" PRIu64 ", from a guess %" PRIu64
                ", guesses built again %" PRIu64 "; mappings resident at the end %" PRIu64
                " KiB\n",
                sp_read_count[SP_READ_FILE], sp_read_count[SP_READ_MAP],
                sp_read_count[SP_READ_PCAP], sp_read_count[SP_READ_WALKED],
                sp_idx_count[SP_IDX_KNOWN], sp_idx_count[SP_IDX_GUESSED],
                sp_idx_count[SP_IDX_WRONG], mappings_resident_kb());
    for (unsigned t = 0; t < ap->threads; t++)
        worker_free(&ap->w[t]);
    idx_free(ap);
    for (guint i = 0; sp_mappings && i < sp_mappings->len; i++)
        munmap(g_array_index(sp_mappings, mapping, i).addr, g_array_index(sp_mappings, mapping, i).len);
    if (sp_mappings)
        g_array_free(sp_mappings, TRUE);
    sp_mappings = NULL;
    if (ap->tsv && fclose(ap->tsv) != 0) {
        msg("cannot write %s/streams.tsv: %s", ap->write_dir, g_strerror(errno));
        rc = SP_EXIT_IO;
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        rc = SP_EXIT_IO;
    if (ap->files_failed || write_errors)
        rc = SP_EXIT_IO;
    for (guint i = 0; i < violations->len; i++)
        msg("verify: %s", (const char *)g_ptr_array_index(violations, i));
    if (violations->len) {
        msg("verify: %u violations in %" PRIu64 " directions checked", violations->len, verified);
        rc = SP_EXIT_VERIFY;
    }
    g_ptr_array_free(violations, TRUE);
    g_ptr_array_free(ap->files, TRUE);
    g_free(ap->filter);
    pthread_mutex_destroy(&ap->msg_lock);
    pthread_cond_destroy(&ap->walk_cv);
    pthread_cond_destroy(&ap->walk_main_cv);
    pthread_mutex_destroy(&ap->walk_lock);
    pthread_cond_destroy(&ap->idx.cv);
    pthread_mutex_destroy(&ap->idx.lock);
    return rc;
}
