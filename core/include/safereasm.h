/* safereasm.h - the only public header of the safereasm core library.
 *
 * Safe, bounded TCP stream reassembly: a connection pool with a hard
 * connection limit, out-of-order data buffered in pages with hard caps,
 * idle timeout and periodic flush driven by capture time, thread safety,
 * and an error code (never an abort) for every failure.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 *
 * Conventions
 * - Opaque handles with _new/_free pairs; every _free accepts NULL.
 * - Every function that can fail returns an sr_error (SR_OK == 0).
 * - Buffers passed in are borrowed for the duration of the call only; the
 *   library copies what it keeps. Buffers passed to callbacks are borrowed
 *   for the duration of the callback only.
 * - Timestamps are microseconds (sr_time); the library never reads the
 *   clock except in the optional background flush thread.
 * - Locking: every function is safe to call from any thread at any time
 *   on live handles, unless its comment says otherwise, or the pool was
 *   made single-threaded (SR_POOL_SINGLE_THREAD, sr_pool_new_ex): then one
 *   thread at a time, and a call from the wrong thread gets
 *   SR_ERR_WRONG_THREAD instead of a race.
 */
#ifndef SAFEREASM_H
#define SAFEREASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SR_BUILDING_LIBRARY) && defined(__GNUC__)
#define SR_API __attribute__((visibility("default")))
#else
#define SR_API
#endif

/* Version of this header. sr_version() gives the library's at run time;
 * SR_VERSION_NUM is 0xMMmmpp, for #if comparisons. The build reads the
 * numbers from here (the one place the version is written). */
#define SR_VERSION_MAJOR 0
#define SR_VERSION_MINOR 1
#define SR_VERSION_PATCH 0
#define SR_VERSION_NUM ((SR_VERSION_MAJOR << 16) | (SR_VERSION_MINOR << 8) | SR_VERSION_PATCH)
#define SR_VERSION_STRING "0.1.0"

/* The version string of the library actually loaded ("0.1.0"); compare it
 * with SR_VERSION_STRING to detect a header/library mismatch. Static
 * storage; any thread. */
SR_API const char *sr_version(void);

/* ------------------------------------------------------------------ errors */

/* One table generates the enum, sr_strerror() and sr_err_name(). */
#define SR_ERROR_MAP(XX)                                                       \
    XX(OK, "success")                                                          \
    XX(ERR_NIL_STREAM, "stream factory returned no stream")                    \
    XX(ERR_INVALID_OPTIONS, "invalid options")                                 \
    XX(ERR_POOL_CLOSED, "pool is closed")                                      \
    XX(ERR_CONNECTION_CLOSED, "connection is already closed")                  \
    XX(ERR_INVALID_ARGUMENT, "invalid argument")                               \
    XX(ERR_CONNECTION_LIMIT, "connection limit reached and nothing could be evicted") \
    XX(ERR_NO_MEMORY, "out of memory")                                         \
    XX(ERR_CALLBACK, "a stream callback reported an error")                    \
    XX(ERR_REENTRANT, "call from inside a callback would re-enter its own connection") \
    XX(ERR_ASSEMBLER_CLOSED, "assembler is closed")                            \
    XX(ERR_BUSY, "connection is busy in another thread's callback (nested call refused to avoid a deadlock)") \
    XX(ERR_THREAD, "could not start the background thread")                   \
    XX(ERR_WRONG_THREAD, "pool is single-threaded and another thread is using it")

typedef enum sr_error {
#define SR__XX(name, msg) SR_##name,
    SR_ERROR_MAP(SR__XX)
#undef SR__XX
    SR_ERROR_COUNT_
} sr_error;

/* Static message for an error code; never NULL (unknown codes included). */
SR_API const char *sr_strerror(sr_error err);
/* Symbolic name ("SR_ERR_NO_MEMORY"); never NULL. */
SR_API const char *sr_err_name(sr_error err);

/* ------------------------------------------------------------------ time */

typedef int64_t sr_time;            /* microseconds, any epoch (Unix time
                                        with sr_options.background_flush) */
#define SR_USEC_PER_SEC ((sr_time)1000000)

/* ------------------------------------------------------------------ options */

/* Which copy of an overlapping byte wins while it is still buffered, as the
 * receiver's TCP stack would decide (target-based reassembly, Novak &
 * Sturges 2007). Judged per overlap by where the new segment starts and ends
 * (as it arrived) relative to the segment that first wrote the buffered
 * bytes; a copy that replaces buffered bytes does not change whose extents
 * later overlaps there are judged against:
 *   FIRST      the buffered byte always stays (Windows Vista; our default)
 *   BSD        the new byte wins if the new segment starts before the old
 *              (BSD, Windows, Windows 2003, macOS, HP-UX 10, IRIX)
 *   LINUX      ... or starts at the same place and ends beyond it
 *   OLD_LINUX  ... or starts at the same place and ends at or beyond it
 *   SOLARIS    the new byte wins if the new segment ends beyond the old, or
 *              ends at the same place and does not start after it
 *              (Solaris, HP-UX 11)
 *   LAST       the new byte always wins
 * Bytes already delivered never change under any policy: a retransmission
 * of them with other content is a conflict. */
#define SR_OVERLAP_POLICY_MAP(XX)                                              \
    XX(FIRST, "first")                                                         \
    XX(BSD, "bsd")                                                             \
    XX(LINUX, "linux")                                                         \
    XX(OLD_LINUX, "old_linux")                                                 \
    XX(SOLARIS, "solaris")                                                     \
    XX(LAST, "last")

typedef enum sr_overlap_policy {
#define SR__XX(name, str) SR_POLICY_##name,
    SR_OVERLAP_POLICY_MAP(SR__XX)
#undef SR__XX
    SR_POLICY_COUNT_
} sr_overlap_policy;

/* "first", "bsd", ...; "?" for an unknown value. */
SR_API const char *sr_overlap_policy_name(sr_overlap_policy p);
/* The policy of a name or an alias for it (vista, windows, win2003, macos,
 * hpux10, irix, hpux11), case-insensitive. false if unknown. */
SR_API bool sr_overlap_policy_from_name(const char *name, sr_overlap_policy *out);

/* Assembler options. Initialise with sr_options_init(), change fields,
 * then pass to sr_assembler_new(), which validates and copies them. */
typedef struct sr_options {
    /* Hard cap on pages buffered by one assembler, all connections. */
    size_t max_buffered_pages_total;          /* default 50000, >= 1 */
    /* Hard cap on pages one connection (both directions) may hold. */
    size_t max_buffered_pages_per_connection; /* default 1000, 1..total,
                                                 at most 2^32-1 */
    /* Payload bytes per page. */
    size_t page_size;                         /* default 1900, 1..1048576 */
    /* A connection idle this long (capture time) is closed (TIMEOUT). */
    sr_time connection_timeout;               /* default 120 s, > 0 */
    /* Every flush_interval of capture time, sr_assemble() sweeps: it closes
     * connections idle for connection_timeout, and releases buffered data
     * that has waited flush_interval or longer (since its page was first
     * written), with everything in front of it, holes skipped - even on a
     * connection that keeps receiving data; younger data behind a later
     * hole keeps waiting. The same checks run for a connection when its next
     * segment arrives, before that segment is taken, so what is delivered
     * never depends on when sweeps happened to run. Capture time is made
     * monotonic per assembler (a timestamp earlier than one already seen
     * counts as that one). */
    sr_time flush_interval;                   /* default 10 s, 1..timeout */
    /* A completed connection is remembered this long, so late segments
     * are reported instead of opening a new connection. 0 = forget. */
    sr_time closed_linger;                    /* default 60 s, >= 0 */
    /* Segments starting this many bytes or more beyond the highest byte
     * seen in their direction are dropped as out of window (hostile or
     * nonsense sequence numbers). */
    uint32_t max_window;                      /* default 1 GiB, 1..2^31-1 */
    /* Run the idle flush on the wall clock in a background thread too
     * (live capture). The thread's sweeps take the wall clock (Unix time
     * in microseconds) as the capture time, which moves the assembler's
     * clock: with this option, segment timestamps must be Unix time too,
     * or every connection times out at the first sweep and later
     * timestamps count as the wall clock's. */
    bool background_flush;                    /* default false */
    /* Bytes of recently delivered data remembered per direction, so a
     * retransmission of already delivered bytes with different content is
     * detected as a conflict. Allocated when a direction first delivers;
     * the in-order path copies at most this many bytes per segment (none
     * of a segment whose payload is stable: sr_segment.payload_stable).
     * 0 = strictly zero-copy, conflicts only among buffered data. */
    size_t conflict_history;                  /* default 4096, 0..1048576 */
    /* Which copy of an overlapping buffered byte wins (see above). */
    sr_overlap_policy overlap_policy;         /* default SR_POLICY_FIRST */
} sr_options;

#define SR_DEFAULT_MAX_PAGES_TOTAL          50000u
#define SR_DEFAULT_MAX_PAGES_PER_CONNECTION 1000u
#define SR_DEFAULT_PAGE_SIZE                1900u
#define SR_DEFAULT_CONNECTION_TIMEOUT       (120 * SR_USEC_PER_SEC)
#define SR_DEFAULT_FLUSH_INTERVAL           (10 * SR_USEC_PER_SEC)
#define SR_DEFAULT_CLOSED_LINGER            (60 * SR_USEC_PER_SEC)
#define SR_DEFAULT_MAX_WINDOW               (1u << 30)
#define SR_MAX_PAGE_SIZE                    (1u << 20)
#define SR_DEFAULT_MAX_CONNECTIONS          10000u
#define SR_DEFAULT_CONFLICT_HISTORY         4096u
#define SR_MAX_CONFLICT_HISTORY             (1u << 20)

/* Fill *o with the defaults. NULL is ignored. */
SR_API void sr_options_init(sr_options *o);
/* SR_OK, or SR_ERR_INVALID_OPTIONS with a message naming the option and
 * its bad value written to msg (if msg != NULL && msg_len > 0), or
 * SR_ERR_INVALID_ARGUMENT when o is NULL. */
SR_API sr_error sr_options_validate(const sr_options *o, char *msg, size_t msg_len);

/* ------------------------------------------------------------------ flows */

typedef struct sr_endpoint {
    uint8_t addr[16];   /* IPv4: first 4 bytes, network order; rest zero */
    uint16_t port;      /* host order */
} sr_endpoint;

/* The flow of one segment as seen on the wire (src -> dst). */
typedef struct sr_flow {
    uint8_t ip_version; /* 4 or 6 */
    uint32_t zone;      /* caller-chosen (VLAN, tunnel...); 0 if unused */
    sr_endpoint src;
    sr_endpoint dst;
} sr_flow;

/* Build flows conveniently. addr arguments are network order. */
SR_API void sr_flow_set_ipv4(sr_flow *f, uint32_t src_be, uint16_t sport,
                             uint32_t dst_be, uint16_t dport);
SR_API void sr_flow_set_ipv6(sr_flow *f, const uint8_t src[16], uint16_t sport,
                             const uint8_t dst[16], uint16_t dport);

enum {
    SR_TCP_FIN = 0x01,
    SR_TCP_SYN = 0x02,
    SR_TCP_RST = 0x04,
    SR_TCP_PSH = 0x08,
    SR_TCP_ACK = 0x10,
};

typedef struct sr_segment {
    uint32_t seq;             /* raw sequence number */
    uint32_t ack;             /* raw acknowledgement number, 0 if unknown.
                                 A SYN-ACK's says where the other direction
                                 starts when its SYN was not seen; it also
                                 judges an RST from a silent side and picks
                                 between two SYN-ACKs with different ISNs */
    uint8_t flags;            /* SR_TCP_* */
    /* false (what zero-initialization gives): payload is read only during
     * the call. true: the caller promises that the payload bytes stay
     * readable and unchanged until the pool that takes the segment is
     * closed or freed (a read-only mapping of a capture file that outlives
     * the pool, say). The conflict history (sr_options.conflict_history)
     * then remembers delivered bytes by where they lie instead of copying
     * them; what it detects is the same. */
    bool payload_stable;
    const uint8_t *payload;   /* captured payload; may be NULL if len 0 */
    size_t payload_len;       /* captured bytes */
    size_t claimed_len;       /* payload length the headers claim; >= payload_len.
                                 0 means "same as payload_len". The difference
                                 (snaplen cut) is reported as a gap. */
    sr_time timestamp;        /* capture time */
} sr_segment;

/* ------------------------------------------------------------------ streams */

typedef enum sr_direction {
    SR_DIR_CLIENT_TO_SERVER = 0, /* the side that sent the SYN (or, without
                                    a SYN, the first segment seen) */
    SR_DIR_SERVER_TO_CLIENT = 1
} sr_direction;

typedef enum sr_close_reason {
    SR_CLOSE_FIN = 0,
    SR_CLOSE_RST,
    SR_CLOSE_TIMEOUT,
    SR_CLOSE_EVICTED,
    SR_CLOSE_FLUSHED,
    SR_CLOSE_CALLBACK_ERROR,
    SR_CLOSE_POOL_CLOSED,
    SR_CLOSE_REASON_COUNT_
} sr_close_reason;

SR_API const char *sr_close_reason_name(sr_close_reason r); /* "FIN", ... */

enum {
    SR_CHUNK_START = 0x01,     /* first bytes of a direction whose start is
                                  known: its SYN was seen, or the other
                                  side's SYN-ACK acknowledged it */
    SR_CHUNK_END = 0x02,       /* the direction's FIN has been reached */
    SR_CHUNK_CONFLICT = 0x04,  /* some of these bytes were retransmitted
                                  with different content (which copy is kept
                                  follows the overlap policy) */
    SR_CHUNK_BUFFERED = 0x08,  /* bytes come from buffered pages (copied) */
    SR_CHUNK_FLUSHED = 0x10,   /* released by a limit, timeout or flush */
};

/* One piece of in-order stream data. data is borrowed for the callback. */
typedef struct sr_chunk {
    sr_direction dir;
    const uint8_t *data;
    size_t len;               /* may be 0 (a gap or an END marker alone) */
    uint64_t offset;          /* stream offset of data[0] (64-bit, no wrap) */
    uint64_t skipped;         /* bytes skipped just before data[0] */
    unsigned flags;           /* SR_CHUNK_* */
} sr_chunk;

/* Per-connection information handed to callbacks: a snapshot made for the
 * call (the library does not keep one per connection), valid while the
 * callback runs; copy what you need beyond it. */
typedef struct sr_conn_info {
    uint64_t id;              /* 1, 2, ... unique within a pool */
    sr_flow flow;             /* client -> server orientation (IPv4: the
                                 unused address bytes are zero) */
    uint64_t delivered[2];    /* per direction, bytes delivered so far */
    uint64_t skipped[2];      /* per direction, bytes skipped so far */
    uint64_t conflicts[2];    /* per direction, conflicting overlaps */
    /* Per direction, bytes the segments carried that are neither delivered
     * nor skipped, because no stream position can hold them: out of window,
     * before the start of a direction seen without its SYN, beyond its FIN,
     * or lost to a failed allocation. delivered + skipped is the stream's
     * extent; every captured byte is in one of the three (duplicates of
     * already delivered or skipped bytes excepted). */
    uint64_t dropped[2];
    uint64_t dropped_segments[2]; /* per direction, segments with dropped bytes */
    size_t pages_buffered;    /* pages held right now */
} sr_conn_info;

/* Callbacks. All carry user_data. They are called with the connection's
 * lock held: callbacks of one connection never run concurrently and see
 * data in order. A callback may call sr_assemble() for other connections;
 * for its own connection it gets SR_ERR_REENTRANT. packet_ctx is whatever
 * the caller passed to the sr_assemble()/flush call that caused it. */
typedef struct sr_stream_factory {
    /* Once per connection. Return the stream handle, or NULL to refuse the
     * connection (SR_ERR_NIL_STREAM, counted; nothing is kept). */
    void *(*new_stream)(void *user_data, const sr_conn_info *info,
                        void *packet_ctx);
    /* In-order data. Return 0, or nonzero to abort this connection: it is
     * completed with SR_CLOSE_CALLBACK_ERROR and its remaining bytes are
     * counted as skipped. That holds wherever the failing delivery happens:
     * a segment, an idle flush or timeout (also one made when a segment
     * arrives), an eviction, sr_assembler_flush_all() or sr_pool_close().
     * The aborted connection is remembered for closed_linger like a FIN or
     * RST one, so later segments of it - the one whose arrival triggered
     * the failing flush included - return SR_ERR_CONNECTION_CLOSED. */
    int (*on_data)(void *user_data, void *stream, const sr_conn_info *info,
                   const sr_chunk *chunk, void *packet_ctx);
    /* Exactly once per stream that new_stream returned; release it here. */
    void (*on_complete)(void *user_data, void *stream, const sr_conn_info *info,
                        sr_close_reason reason, void *packet_ctx);
    void *user_data;
} sr_stream_factory;

/* ------------------------------------------------------------------ stats */

/* Counters of a pool: name, description. */
#define SR_POOL_STATS_MAP(XX)                                                  \
    XX(active_connections, "Connections in the table (open or lingering)")     \
    XX(total_created, "Connections created")                                   \
    XX(peak_connections, "Peak connections in the table")                      \
    XX(closed, "Connections completed")                                        \
    XX(closed_fin, "Connections completed by FIN")                             \
    XX(closed_rst, "Connections completed by RST")                             \
    XX(closed_timeout, "Connections completed by idle timeout")                \
    XX(closed_evicted, "Connections evicted at the connection limit")          \
    XX(closed_flushed, "Connections completed by a flush")                     \
    XX(closed_callback_error, "Connections aborted by a callback error")       \
    XX(closed_pool_closed, "Connections completed by pool close")              \
    XX(nil_streams, "Connections refused by the stream factory")

typedef struct sr_pool_stats {
#define SR__XX(name, desc) uint64_t name;
    SR_POOL_STATS_MAP(SR__XX)
#undef SR__XX
} sr_pool_stats;

/* Counters of an assembler: name, description. pages_in_use is a gauge. */
#define SR_ASSEMBLER_STATS_MAP(XX)                                             \
    XX(packets_processed, "Segments processed")                               \
    XX(bytes_processed, "Payload bytes processed")                            \
    XX(errors, "Calls that returned an error")                                 \
    XX(connections_flushed, "Connections flushed or closed by flushes")       \
    XX(pages_in_use, "Pages buffered now")                                     \
    XX(pages_peak, "Peak pages buffered")                                      \
    XX(out_of_order_segments, "Segments buffered out of order")               \
    XX(retransmissions, "Segments entirely already seen")                      \
    XX(overlaps, "Segments overlapping seen data")                            \
    XX(overlap_conflicts, "Overlaps with different data")                     \
    XX(bytes_delivered, "Bytes delivered in order")                           \
    XX(bytes_skipped, "Bytes skipped as gaps")                                 \
    XX(limit_hits_connection, "Per-connection page limit hits")              \
    XX(limit_hits_total, "Total page limit hits")                             \
    XX(evictions, "Evictions this assembler's segments caused")               \
    XX(timeouts, "Idle timeouts this assembler's sweeps completed")          \
    XX(out_of_window, "Segments dropped as far outside the window")           \
    XX(before_start, "Segments with bytes before their direction's start")    \
    XX(bytes_dropped, "Bytes dropped: out of window, before start, beyond FIN") \
    XX(isn_changes, "Directions re-based on a later, acknowledged SYN-ACK")  \
    XX(after_close, "Segments for an already closed connection")              \
    XX(callback_errors, "Callbacks that returned an error")                   \
    XX(no_memory, "Allocations that failed")

typedef struct sr_assembler_stats {
#define SR__XX(name, desc) uint64_t name;
    SR_ASSEMBLER_STATS_MAP(SR__XX)
#undef SR__XX
} sr_assembler_stats;

/* ------------------------------------------------------------------ pool */

typedef struct sr_pool sr_pool;

/* Allocator for everything the library buffers (connections, pages).
 * Lets embedders and tests count or fail allocations. GLib containers use
 * GLib's allocator. */
typedef struct sr_allocator {
    void *(*alloc)(void *user_data, size_t size);   /* NULL = failure */
    void (*free)(void *user_data, void *ptr, size_t size);
    void *user_data;
} sr_allocator;

/* A new pool, or NULL with *err set (err may be NULL). factory is copied.
 * max_connections >= 1. */
SR_API sr_pool *sr_pool_new(const sr_stream_factory *factory,
                            size_t max_connections, sr_error *err);
/* Same with a custom allocator (copied; NULL = malloc/free). */
SR_API sr_pool *sr_pool_new_with_allocator(const sr_stream_factory *factory,
                                           size_t max_connections,
                                           const sr_allocator *allocator,
                                           sr_error *err);
/* Flags of sr_pool_new_ex(). */
/* One thread uses the pool and its assemblers, without locks: no lock and
 * no atomic read-modify-write on the per-segment path (3-7 % of
 * safereasm-pcap's time on 100,000 small connections). The first thread that
 * feeds, flushes or closes owns it; a feed, flush or close from another
 * thread (also sr_assembler_new once owned) returns SR_ERR_WRONG_THREAD and
 * changes nothing. Statistics (the _get_stats calls) may be read from any
 * thread. sr_pool_free() and sr_assembler_free() may be called from any
 * thread once the owner is done with the pool: they take it over. Not with
 * sr_options.background_flush (sr_assembler_new: SR_ERR_INVALID_OPTIONS). */
#define SR_POOL_SINGLE_THREAD 0x1u
/* sr_pool_new_with_allocator() with flags (0 or SR_POOL_SINGLE_THREAD;
 * other bits: SR_ERR_INVALID_ARGUMENT). */
SR_API sr_pool *sr_pool_new_ex(const sr_stream_factory *factory, size_t max_connections,
                               const sr_allocator *allocator, unsigned flags, sr_error *err);
/* Complete every stream (SR_CLOSE_POOL_CLOSED, buffered data flushed
 * first), in the order the connections were made (ascending id), and
 * refuse further work with SR_ERR_POOL_CLOSED. Idempotent.
 * Must not be called from a callback (SR_ERR_REENTRANT). */
SR_API sr_error sr_pool_close(sr_pool *pool);
/* Close (if needed) and release the caller's reference. The memory goes
 * when the last assembler of the pool is freed too. NULL is a no-op. From
 * a callback it does nothing (the pool cannot be closed there): free it
 * after the callback. */
SR_API void sr_pool_free(sr_pool *pool);
SR_API sr_error sr_pool_get_stats(const sr_pool *pool, sr_pool_stats *out);

/* ------------------------------------------------------------------ assembler */

typedef struct sr_assembler sr_assembler;

/* What sr_assemble_ex() reports about one segment. */
enum {
    SR_SEG_IN_ORDER = 0x001,      /* some bytes delivered at once */
    SR_SEG_OUT_OF_ORDER = 0x002,  /* some bytes buffered for later */
    SR_SEG_RETRANSMISSION = 0x004,/* all bytes were already seen */
    SR_SEG_OVERLAP = 0x008,       /* some bytes were already seen */
    SR_SEG_CONFLICT = 0x010,      /* ...with different content */
    SR_SEG_LIMIT_CONNECTION = 0x020, /* hit the per-connection page limit */
    SR_SEG_LIMIT_TOTAL = 0x040,   /* hit the total page limit */
    SR_SEG_EVICTED_OTHER = 0x080, /* created by evicting another connection */
    SR_SEG_AFTER_CLOSE = 0x100,   /* connection already closed */
    SR_SEG_OUT_OF_WINDOW = 0x200, /* dropped: far outside the window */
    SR_SEG_NEW_CONNECTION = 0x400,/* this segment created the connection */
    SR_SEG_CLOSED = 0x800,        /* this segment completed the connection */
    SR_SEG_DROPPED = 0x1000,      /* some bytes dropped (see sr_conn_info.dropped) */
    SR_SEG_BEFORE_START = 0x2000, /* ...because they lie before the direction's
                                     start (no SYN seen, data reordered) */
    SR_SEG_ISN_CHANGED = 0x4000,  /* a later SYN-ACK's ISN replaced the
                                     unacknowledged earlier one's */
};

typedef struct sr_result {
    uint64_t conn_id;             /* 0 if no connection */
    sr_direction dir;
    unsigned status;              /* SR_SEG_* */
    size_t conn_pages;            /* pages the connection holds afterwards */
    uint64_t delivered[2];        /* connection totals afterwards */
    uint64_t skipped[2];
    uint64_t dropped[2];
    int close_reason;             /* sr_close_reason if SR_SEG_CLOSED, else -1 */
} sr_result;

/* A new assembler on pool (which it references). options NULL = defaults.
 * Options are validated (SR_ERR_INVALID_OPTIONS) and copied. */
SR_API sr_error sr_assembler_new(sr_pool *pool, const sr_options *options,
                                 sr_assembler **out);
/* Feed one segment. Callbacks run in this call, in this thread.
 * Returns SR_OK, or an error; the error is counted either way. */
SR_API sr_error sr_assemble(sr_assembler *a, const sr_flow *flow,
                            const sr_segment *seg, void *packet_ctx);
/* Same, and describes what happened in *result (may be NULL). */
SR_API sr_error sr_assemble_ex(sr_assembler *a, const sr_flow *flow,
                               const sr_segment *seg, void *packet_ctx,
                               sr_result *result);
/* Complete (SR_CLOSE_TIMEOUT) every open connection of the pool whose last
 * segment is older than `older_than`, delivering its buffered data with the
 * gaps skipped, and forget lingering closed ones closed before it.
 * *closed (may be NULL) gets the number completed. sr_assemble() runs the
 * same sweep itself (see sr_options.flush_interval). `flushed` (may be NULL)
 * gets the number of other connections whose buffered data was flushed
 * because it had waited longer than flush_interval. What it completes is
 * completed at the assembler's capture time (its latest segment's, or
 * older_than before any): a connection a failing callback aborts here is
 * remembered for closed_linger from then. */
SR_API sr_error sr_assembler_flush_older_than(sr_assembler *a, sr_time older_than,
                                              void *packet_ctx, size_t *flushed,
                                              size_t *closed);
/* Complete every connection of the pool (SR_CLOSE_FLUSHED), delivering
 * buffered data with its gaps skipped. */
SR_API sr_error sr_assembler_flush_all(sr_assembler *a, void *packet_ctx,
                                       size_t *closed);
/* Refuse further calls (SR_ERR_ASSEMBLER_CLOSED), wait for the calls in
 * flight on this assembler, stop the background thread, and flush every
 * connection holding pages this assembler buffered (only those: other
 * assemblers' connections keep waiting for their holes).
 * Idempotent. Must not be called from a callback. */
SR_API sr_error sr_assembler_close(sr_assembler *a);
/* Close (if needed) and free. NULL is a no-op. From a callback it does
 * nothing but count SR_ERR_REENTRANT in the assembler's errors (the call
 * running the callback may be this assembler's): free it after. */
SR_API void sr_assembler_free(sr_assembler *a);
SR_API sr_error sr_assembler_get_stats(const sr_assembler *a, sr_assembler_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* SAFEREASM_H */
