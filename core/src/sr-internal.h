/* sr-internal.h - internal types shared by the core's source files.
 * Nothing here is public; names are sr__ or static.
 *
 * Locking order (never acquire against it):
 *     connection lock  ->  pool table rwlock  ->  pool LRU mutex
 *     connection lock  ->  accounting page-cache mutex
 * A park stripe's mutex (pool.c) is a leaf: nothing is taken under it.
 * The table lock is never held while a connection lock is being waited
 * for, and no callback ever runs with the table or LRU lock held. */
#ifndef SR_INTERNAL_H
#define SR_INTERNAL_H

#include "safereasm.h"

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>

/* The core's short internal locks (the pool's LRU and cache locks, the
 * accounting's page cache): one word, taken with a compare-and-swap and
 * released with an exchange, so a thread that uses a pool alone pays two
 * atomic instructions a lock instead of pthread_mutex_lock/unlock (about
 * 100 instructions a segment on `many`, docs/library.md). A thread that
 * finds the word held parks on the lock's own mutex and condition
 * variable (used only then), like the connection lock in pool.c:
 *   w: 0 free, 1 held, 2 held and someone may be parked.
 * A waiter sets 2 under `m` before it sleeps; an unlock that finds 2 takes
 * `m` to wake it, so no wake-up is lost. Not GMutex: GLib implements it
 * with raw futex calls, which ThreadSanitizer cannot see; acquire/release
 * on the word and the pthread pair are what TSan sees here. */
typedef struct sr__mutex {
    _Atomic uint32_t w;
    bool single;   /* a single-thread pool's: lock and unlock do nothing */
    pthread_mutex_t m;
    pthread_cond_t cv;
} sr__mutex;

static inline void sr__mutex_init(sr__mutex *l, bool single)
{
    atomic_init(&l->w, 0);
    l->single = single;
    pthread_mutex_init(&l->m, NULL);
    pthread_cond_init(&l->cv, NULL);
}

static inline void sr__mutex_clear(sr__mutex *l)
{
    pthread_mutex_destroy(&l->m);
    pthread_cond_destroy(&l->cv);
}

/* A hint that *p will be written soon (nothing without GCC or Clang). */
static inline void sr__prefetch(const void *p)
{
#if defined(__GNUC__)
    __builtin_prefetch(p, 1);
#else
    (void)p;
#endif
}

static inline void sr__mutex_lock(sr__mutex *l)
{
    if (l->single)
        return;
    uint32_t free_ = 0;
    if (atomic_compare_exchange_strong_explicit(&l->w, &free_, 1, memory_order_acquire,
                                                memory_order_relaxed))
        return;
    pthread_mutex_lock(&l->m);
    while (atomic_exchange_explicit(&l->w, 2, memory_order_acquire) != 0)
        pthread_cond_wait(&l->cv, &l->m);
    pthread_mutex_unlock(&l->m);
}

static inline void sr__mutex_unlock(sr__mutex *l)
{
    if (l->single)
        return;
    if (atomic_exchange_explicit(&l->w, 0, memory_order_release) == 2) {
        pthread_mutex_lock(&l->m);
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->m);
    }
}

/* The pool's table lock: readers share it, a writer has it alone. One
 * word again, so the lookup every segment makes costs a compare-and-swap
 * and a fetch-and-sub instead of GRWLock's calls into pthread_rwlock:
 *   s: bit 0 a writer holds it, bit 1 someone may be parked on m/cv,
 *      the rest the number of readers (in units of SR__RW_READER).
 * Readers wait only for a writer; a writer waits for readers and writers
 * (readers are preferred, as with glibc's default rwlock). The parked bit
 * is set and cleared only under m, and a waiter holds m from its last look
 * at s until its wait releases it, so an unlock that finds the bit (and
 * takes m to wake) cannot miss it. */
#define SR__RW_WRITER 1u
#define SR__RW_PARKED 2u
#define SR__RW_READER 4u
typedef struct sr__rwlock {
    _Atomic uint32_t s;
    bool single;   /* as sr__mutex.single */
    pthread_mutex_t m;
    pthread_cond_t cv;
} sr__rwlock;

static inline void sr__rwlock_init(sr__rwlock *l, bool single)
{
    atomic_init(&l->s, 0);
    l->single = single;
    pthread_mutex_init(&l->m, NULL);
    pthread_cond_init(&l->cv, NULL);
}

static inline void sr__rwlock_clear(sr__rwlock *l)
{
    pthread_mutex_destroy(&l->m);
    pthread_cond_destroy(&l->cv);
}

/* The slow path: wait under l->m until s lets a reader (a writer) in,
 * then take it. */
static inline void sr__rwlock_wait(sr__rwlock *l, bool reader)
{
    pthread_mutex_lock(&l->m);
    for (;;) {
        uint32_t s = atomic_load_explicit(&l->s, memory_order_relaxed);
        bool busy = reader ? (s & SR__RW_WRITER) != 0 : (s & ~SR__RW_PARKED) != 0;
        if (!busy) {
            uint32_t to = reader ? s + SR__RW_READER : s | SR__RW_WRITER;
            if (atomic_compare_exchange_weak_explicit(&l->s, &s, to, memory_order_acquire,
                                                      memory_order_relaxed))
                break;
            continue;
        }
        if (!(s & SR__RW_PARKED) &&
            !atomic_compare_exchange_weak_explicit(&l->s, &s, s | SR__RW_PARKED,
                                                   memory_order_relaxed, memory_order_relaxed))
            continue;
        pthread_cond_wait(&l->cv, &l->m);
    }
    pthread_mutex_unlock(&l->m);
}

static inline void sr__rwlock_wake(sr__rwlock *l)
{
    pthread_mutex_lock(&l->m);
    atomic_fetch_and_explicit(&l->s, ~SR__RW_PARKED, memory_order_relaxed);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->m);
}

static inline void sr__rwlock_reader_lock(sr__rwlock *l)
{
    if (l->single)
        return;
    uint32_t s = atomic_load_explicit(&l->s, memory_order_relaxed);
    while (!(s & SR__RW_WRITER))
        if (atomic_compare_exchange_weak_explicit(&l->s, &s, s + SR__RW_READER,
                                                  memory_order_acquire, memory_order_relaxed))
            return;
    sr__rwlock_wait(l, true);
}

static inline void sr__rwlock_reader_unlock(sr__rwlock *l)
{
    if (l->single)
        return;
    uint32_t s = atomic_fetch_sub_explicit(&l->s, SR__RW_READER, memory_order_release);
    s -= SR__RW_READER;
    if ((s & SR__RW_PARKED) && s < SR__RW_READER) /* the last reader out */
        sr__rwlock_wake(l);
}

static inline void sr__rwlock_writer_lock(sr__rwlock *l)
{
    if (l->single)
        return;
    uint32_t s = 0;
    if (atomic_compare_exchange_strong_explicit(&l->s, &s, SR__RW_WRITER, memory_order_acquire,
                                                memory_order_relaxed))
        return;
    sr__rwlock_wait(l, false);
}

static inline void sr__rwlock_writer_unlock(sr__rwlock *l)
{
    if (l->single)
        return;
    uint32_t s = atomic_fetch_and_explicit(&l->s, ~SR__RW_WRITER, memory_order_release);
    if (s & SR__RW_PARKED)
        sr__rwlock_wake(l);
}

/* ------------------------------------------------------------ time */

/* t - d for a duration d >= 0, or INT64_MIN when that is lower: capture
 * times may use any epoch, and a subtraction near INT64_MIN must not
 * overflow (FINDINGS F20). */
static inline sr_time sr__time_back(sr_time t, sr_time d)
{
    return t < INT64_MIN + d ? INT64_MIN : t - d;
}

/* Whether `later` is at least d (>= 0) after `earlier`, without an
 * overflow for times far apart. */
static inline bool sr__time_passed(sr_time earlier, sr_time later, sr_time d)
{
    return later >= earlier && (uint64_t)later - (uint64_t)earlier >= (uint64_t)d;
}

/* ------------------------------------------------------------ allocation */

void *sr__alloc(const sr_allocator *al, size_t size);
void sr__free(const sr_allocator *al, void *p, size_t size);

/* ------------------------------------------------------------ accounting */

/* Counters of one assembler, generated from the public table. They live in
 * the accounting object, not the assembler, because connections and pages
 * charged to an assembler can outlive it (pool close after assembler free). */
typedef struct sr__counters {
#define SR__XX(name, desc) _Atomic uint64_t name;
    SR_ASSEMBLER_STATS_MAP(SR__XX)
#undef SR__XX
} sr__counters;

/* *v += n. In a single-thread pool only one thread ever writes it: a
 * relaxed load and store, no read-modify-write, and a reader in another
 * thread (the _get_stats calls) still sees whole values. */
static inline void sr__add_u64(_Atomic uint64_t *v, uint64_t n, bool single)
{
    if (single)
        atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

/* The same for the counts that guard a lifetime (references, calls in
 * flight), sequentially consistent as before when shared; returns the
 * value before. */
static inline int sr__add_int(atomic_int *v, int n, bool single)
{
    if (single) {
        int old = atomic_load_explicit(v, memory_order_relaxed);
        atomic_store_explicit(v, old + n, memory_order_relaxed);
        return old;
    }
    return atomic_fetch_add(v, n);
}

#define SR__COUNT(acct, field, n) sr__add_u64(&(acct)->c.field, (uint64_t)(n), (acct)->single)

typedef struct sr__page sr__page;

/* Page accounting and statistics of one assembler. Reference counted: the
 * assembler, every page charged to it and every connection that last saw
 * it each hold one reference. */
typedef struct sr__acct {
    atomic_int refs;
    atomic_bool orphan;      /* its assembler is closed: others' sweeps adopt
                                the connections it fed last */
    sr_allocator alloc;
    size_t page_size;
    size_t max_total;
    _Atomic size_t in_use;   /* pages reserved; never exceeds max_total */
    sr__counters c;
    bool single;                /* its pool's: SR_POOL_SINGLE_THREAD */
    sr__mutex cache_lock;       /* protects the free-page cache */
    sr__page *cache;
    size_t cache_len;
    size_t cache_max;
} sr__acct;

struct sr__page {
    sr__page *next_free;     /* link in the free-page cache */
    sr__acct *acct;          /* charged to; gets the page back */
    uint64_t offset;         /* stream offset of data[0]; tree key */
    uint64_t gap_end;        /* bytes from the page's end up to here are
                                known missing (snaplen cut); 0 = none */
    sr_time at;              /* capture time the page was first written */
    int64_t seg_start;       /* the segment that wrote the page: its stream */
    int64_t seg_end;         /* offsets, for the overlap policy */
    uint32_t len;            /* bytes used, 1..page_size */
    uint32_t flags;          /* SR_CHUNK_CONFLICT */
    uint32_t conflict_at;    /* with SR_CHUNK_CONFLICT: the lowest of its
                                bytes that differed from a later copy
                                (data[conflict_at]), so a page cut short
                                keeps the flag only if such a byte stays */
    uint8_t data[];          /* page_size bytes */
};

sr__acct *sr__acct_new(const sr_allocator *al, size_t page_size, size_t max_total, bool single);
void sr__acct_ref(sr__acct *ac);
void sr__acct_unref(sr__acct *ac);
/* Reserve n pages against the hard cap (compare-and-swap before any
 * allocation, so concurrent threads can never overshoot). */
bool sr__acct_reserve(sr__acct *ac, size_t n);
void sr__acct_unreserve(sr__acct *ac, size_t n);
/* Take one already reserved page (cache or allocator); NULL = no memory,
 * in which case the reservation for it has been returned. */
sr__page *sr__page_get(sr__acct *ac);
/* Give a page back to its accounting object and unreserve it. */
void sr__page_put(sr__page *p);
void sr__acct_shrink_cache(sr__acct *ac);

/* ------------------------------------------------------------ connections */

/* The table key of a connection, at offset 0 of it so that the connection
 * itself is the table's key and value (one pointer a slot). IPv4 addresses
 * are stored in place; IPv6 ones (32 bytes) behind a pointer, so an IPv4
 * connection does not carry 24 bytes of zeros. The hash and the equality
 * look at the address bytes only, never at the pointer. */
typedef struct sr__key {
    uint32_t zone;
    uint16_t port[2];        /* endpoint a = [0] is the lower of the two */
    uint8_t ip_version;
    uint8_t pad[7];          /* always zero */
    union {
        uint8_t v4[8];       /* a then b, network order */
        const uint8_t *v6;   /* 32 bytes, a then b: owned by the connection
                                (sr__conn_key_own), or the caller's probe */
    } addr;
} sr__key;

/* The address bytes of a key (8 for IPv4, 32 for IPv6). */
static inline const uint8_t *sr__key_addr(const sr__key *k, size_t *len)
{
    *len = k->ip_version == 4 ? 8 : 32;
    return k->ip_version == 4 ? k->addr.v4 : k->addr.v6;
}

enum sr__state {
    SR__INIT = 0,            /* being created; new_stream not yet returned */
    SR__OPEN,                /* delivering */
    SR__CLOSED,              /* completed, remembered for closed_linger */
    SR__DEAD,                /* out of the table; waits for its last ref */
};

/* The ring of the last `cap` delivered bytes of one direction, byte at
 * offset o stored at data[o % cap]; valid for [max(from, next - cap), next).
 * Allocated when the direction first delivers, grown with what it has
 * delivered (see hist_record in conn.c).
 * With `refs` set it holds no bytes: data is an sr__hrefs, references to
 * where the delivered bytes lie in payloads their caller keeps
 * (sr_segment.payload_stable); cap is then SR__HREFS_BYTES(its runs). */
typedef struct sr__ring {
    uint64_t from;
    uint32_t cap;
    uint8_t refs;
    uint8_t pad[3];
    uint8_t data[];
} sr__ring;

/* Delivered bytes [off, off + len) of a direction, at p in a stable payload. */
typedef struct sr__href {
    const uint8_t *p;
    uint64_t off;
    size_t len;
} sr__href;

/* A reference ring: runs oldest first, each ending where the next begins,
 * the last at the edge; together they hold at least the last `window`
 * delivered bytes (or all since `from`). `cap` is the capacity a ring of
 * bytes would have now (it grows by the same rule, hist_copy in conn.c,
 * and a gap keeps it, as it keeps a ring of bytes): what it remembers is
 * what such a ring would, and a ring of references made one is one of
 * exactly that capacity, whichever assembler (and history size) delivers
 * next. It is made for SR__HREFS_MIN runs
 * (most directions deliver one or two) and grown once to SR__HREFS_MAX,
 * which holds a 4 KiB window of 1460-byte segments; smaller segments fill
 * it sooner, and the ring then becomes a ring of bytes (hist_record in
 * conn.c). Its capacity (the ring's cap) says how many runs it has room
 * for. */
#define SR__HREFS_MIN 2
#define SR__HREFS_MAX 5
typedef struct sr__hrefs {
    uint32_t window;         /* conflict_history when made (<= 1 MiB) */
    uint32_t n;
    uint32_t cap;            /* a ring of bytes' capacity (<= window) */
    uint32_t pad;
    sr__href e[];            /* their bytes: e[n-1] end - e[0].off */
} sr__hrefs;
#define SR__HREFS_BYTES(k) (sizeof(sr__hrefs) + (k) * sizeof(sr__href))

/* Rings of capacity up to SR__RING_BINS * 16 - 1 bytes (the default
 * conflict_history, 4096, included) are cached by the pool when given back,
 * up to SR__RING_CACHE_BYTES of capacity in all: on a capture of many short
 * connections every direction makes and frees a few rings, and malloc of
 * those sizes was most of what the ring cost (pool.c, sr__ring_get). */
#define SR__RING_BINS 257
#define SR__RING_CACHE_BYTES ((size_t)256 * 1024)

/* The cold part of one direction: what only a direction with out-of-order
 * data, a snaplen-cut tail, a second SYN, dropped bytes or conflicts needs.
 * Allocated on demand, freed once it holds nothing again
 * (sr__conn_trim_sides). Its counters must never miss a count, so it is
 * made before any segment that could drop or conflict is taken: a segment
 * that does not start exactly at the delivery edge, or comes after the
 * FIN is known (conn.c, sr__conn_segment); if that allocation fails, the
 * segment is refused whole (SR_ERR_NO_MEMORY) before anything of it is
 * taken. Once counters are nonzero it stays until the connection goes
 * (a lingering connection still reports its totals). */
typedef struct sr__side {
    uint64_t dropped;        /* sr_conn_info's counters of this direction */
    uint64_t dropped_segments;
    uint64_t conflicts;
    GTree *pages;            /* offset -> sr__page*, disjoint, all >= next */
    size_t npages;
    sr_time oldest_at;       /* no page is older than this (a lower bound of
                                their `at`, exact after each release) */
    uint64_t cut_lo, cut_hi; /* hull of claimed, uncaptured bytes no page
                                could note (a segment cut to its headers
                                beyond a hole); empty when cut_hi == 0 */
    uint32_t alt_isn;        /* a later SYN(-ACK) with another ISN, kept while
                                the direction is fresh (see conn.c); valid
                                when the half's alt_valid is set */
} sr__side;

/* One direction of a connection: the hot part every connection needs.
 * Offsets are 64-bit stream offsets: offset 0 is the first byte after the
 * SYN (or the first byte seen, without SYN). The bytes skipped so far are
 * next - delivered (next = delivered + skipped at every moment). */
typedef struct sr__half {
    uint64_t next;           /* delivery edge: delivered + skipped */
    uint64_t extent;         /* highest offset + 1 any segment reached;
                                once fin_known, the FIN's offset */
    uint64_t delivered;      /* sr_conn_info.delivered of this direction;
                                the rarer counters are in the side */
    uint32_t base_seq;       /* sequence number of offset 0; with syn_seen,
                                the SYN's ISN is base_seq - 1 */
    bool started : 1;        /* base_seq is known */
    bool syn_seen : 1;
    bool start_pending : 1;  /* next chunk gets SR_CHUNK_START */
    bool fin_known : 1;
    bool finished : 1;       /* END reported */
    bool alt_valid : 1;      /* side->alt_isn holds a later SYN's other ISN */
    sr__ring *hist;          /* NULL until the direction delivers */
    sr__side *side;          /* NULL while there is nothing cold to hold */
} sr__half;

/* Pages of a direction (0 without a side). */
static inline size_t sr__half_npages(const sr__half *h)
{
    return h->side ? h->side->npages : 0;
}

/* A connection, hot part: about 240 bytes for IPv4 (see docs/library.md,
 * "Memory per connection"). Its sr_conn_info is built when a callback
 * needs it (sr__conn_info). */
typedef struct sr__conn {
    sr__key key;             /* first: the connection is its own table key */
    _Atomic uint32_t lock;   /* 0 free, 1 held, 2 held with waiters (parked
                                on the pool's stripe for it; see pool.c) */
    atomic_int refs;         /* the table holds one while linked */
    _Atomic uint32_t pages;  /* both directions (<= the per-connection cap) */
    _Atomic uint8_t state;   /* enum sr__state; written under lock */
    atomic_bool detached;    /* true once out of the table; under table lock */
    bool in_lru;             /* under pool LRU lock (its own byte: the bits
                                below are written under the connection's) */
    bool client_is_a : 1;    /* key endpoint a is the client */
    bool failed : 1;         /* a callback failed: deliver no more */
    uint8_t close_reason;    /* sr_close_reason, once CLOSED */
    _Atomic sr_time last_seen;
    uint64_t id;
    union {
        void *stream;        /* while INIT/OPEN */
        sr_time closed_at;   /* once CLOSED (the stream is gone) */
    } u;
    sr__acct *acct;          /* statistics go here; referenced */
    struct sr_pool *pool;
    struct sr__conn *lru_prev;
    union {
        struct sr__conn *lru_next; /* while in the LRU */
        struct sr__conn *next_free;/* out of it: free cache, or the
                                      pending-victim list */
    } l;
    sr__half half[2];
} sr__conn;

/* The sr_conn_info of c as its callbacks see it now. */
void sr__conn_info(const sr__conn *c, sr_conn_info *out);

/* Per-thread list of the connections whose lock this thread holds: a
 * callback re-entering its own connection is refused instead of deadlocking. */
typedef struct sr__held {
    const sr__conn *conn;
    struct sr__held *prev;
} sr__held;

bool sr__thread_holds(const sr__conn *c);
bool sr__thread_holds_any(void);
/* Lock c. SR_ERR_REENTRANT if this thread holds it already. When this
 * thread holds another connection (a callback feeding a second connection)
 * it only tries for a while and gives up with SR_ERR_BUSY, because the
 * holder may be waiting for ours: two callbacks feeding each other's
 * connection must not deadlock. */
sr_error sr__conn_lock(sr__conn *c, sr__held *frame);
/* Lock c only if that needs no wait (and this thread does not hold it). */
bool sr__conn_trylock(sr__conn *c, sr__held *frame);
void sr__conn_unlock(sr__conn *c, sr__held *frame);
/* Record that this thread holds c, when it was locked another way. */
void sr__held_push(const sr__conn *c, sr__held *frame);

/* ------------------------------------------------------------ pool */

typedef struct sr__pool_counters {
#define SR__XX(name, desc) _Atomic uint64_t name;
    SR_POOL_STATS_MAP(SR__XX)
#undef SR__XX
} sr__pool_counters;

/* Where threads wait for a busy connection: the connection lock is one
 * word, and a thread that finds it held parks on the stripe the
 * connection's address picks (a mutex and a condition variable shared by
 * many connections; waking is rare, so sharing costs nothing measurable). */
#define SR__PARK_STRIPES 64
typedef struct sr__park {
    pthread_mutex_t m;
    pthread_cond_t cv;
} sr__park;

/* The connection table: open addressing with linear probing, each slot a
 * connection and its key's hash, so a probe compares the hash in the slot
 * and reads a connection only when it matches (GLib's table read a hash
 * array, a key array and the key behind it: three places per segment).
 * Empty slot: c == NULL. Under the pool's table_lock. */
typedef struct sr__slot {
    struct sr__conn *c;
    uint32_t hash;
    uint32_t pad;
} sr__slot;

typedef struct sr__table {
    sr__slot *slots;         /* NULL until the first connection */
    size_t mask;             /* slots - 1 (a power of two) */
    size_t count;
} sr__table;

struct sr_pool {
    atomic_int refs;         /* the user's + one per assembler */
    /* SR_POOL_SINGLE_THREAD: no locks; owner: the thread using it (the
     * address of a thread-local, see sr__pool_check_thread), 0 = none yet. */
    bool single;
    _Atomic uintptr_t owner;
    atomic_bool closed;
    atomic_bool user_freed;
    sr_stream_factory factory;
    sr_allocator alloc;
    size_t max_connections;
    atomic_uint_fast64_t next_id;
    sr__rwlock table_lock;
    sr__table table;         /* key -> connection (pool.c) */
    sr__mutex lru_lock;
    sr__conn *lru_head;      /* most recently used */
    sr__conn *lru_tail;
    /* Under lru_lock: the connections in the list that hold pages; whether
     * a connection was ever touched with a last_seen earlier than one
     * touched before it (else the list is in last_seen order, as with one
     * assembler's clock), and the latest last_seen touched. */
    size_t lru_paged;
    bool lru_disordered;
    sr_time lru_newest;
    sr__mutex cache_lock;       /* free-connection cache, ring cache and
                                   pending list */
    sr__conn *conn_cache;
    size_t conn_cache_len;
    /* Conflict-history rings given back, LIFO per capacity / 16 (see
     * sr__ring_get), each bin's rings linked through their first data
     * bytes; ring_cache_bytes: their capacities together. */
    sr__ring *ring_cache[SR__RING_BINS];
    size_t ring_cache_bytes;
    /* Evicted connections a nested call could not lock; completed by the
     * next call that holds no connection lock (or by close). */
    sr__conn *pending;
    atomic_bool has_pending;
    /* Calls working on the pool right now; sr_pool_close() waits for them
     * so no callback starts after it has returned. */
    atomic_int inflight;
    sr__pool_counters c;
    sr__park park[SR__PARK_STRIPES];
};

/* Enter/leave a call that may run callbacks. enter fails once closed. */
bool sr__pool_enter(sr_pool *p);
/* SR_OK, or SR_ERR_WRONG_THREAD: a single-thread pool another thread
 * owns. claim: take a pool nobody owns yet (a feed, flush or close);
 * take_over: take it whoever owns it (the _free calls). */
sr_error sr__pool_check_thread(sr_pool *p, bool claim, bool take_over);
void sr__pool_leave(sr_pool *p);
/* Queue an evicted connection that could not be locked now. */
void sr__pool_defer_victim(sr_pool *p, sr__conn *v);
/* Take the queued victims (a list linked by next_free), or NULL. */
sr__conn *sr__pool_take_pending(sr_pool *p);

#define SR__PCOUNT(pool, field, n) sr__add_u64(&(pool)->c.field, (uint64_t)(n), (pool)->single)

void sr__pool_ref(sr_pool *p);
void sr__pool_unref(sr_pool *p);
void sr__conn_ref(sr__conn *c);
void sr__conn_unref(sr__conn *c);

/* A conflict-history ring of capacity cap (its header set: cap, from 0),
 * from the pool's cache or the allocator; NULL when the allocator fails.
 * Its bytes are undefined. */
sr__ring *sr__ring_get(sr_pool *p, size_t cap);
/* Give a ring back (NULL: nothing): to the cache while there is room, else
 * to the allocator. */
void sr__ring_put(sr_pool *p, sr__ring *r);

/* Normalise a flow into a key; *src_is_a says which side sent it. An IPv6
 * key points into v6buf (32 bytes, the caller's). */
void sr__key_from_flow(const sr_flow *f, sr__key *k, uint8_t v6buf[32], bool *src_is_a);

/* Find or create the connection of a key. On success *out is referenced
 * and LOCKED (frame pushed); *created says it is new (state INIT, in the
 * table; the caller opens it with sr__conn_open); *victim
 * (referenced, unlocked, already unlinked) is a connection evicted to make
 * room, to be completed by the caller once it holds no lock. */
sr_error sr__pool_acquire(sr_pool *p, const sr_flow *flow, sr__acct *acct, sr__conn **out,
                          sr__held *frame, bool *created, bool *src_is_a,
                          sr__conn **victim);
/* Take c out of the table and LRU (idempotent). Caller holds c's lock. */
void sr__pool_unlink(sr_pool *p, sr__conn *c);
void sr__pool_touch(sr_pool *p, sr__conn *c);
/* c->pages += delta; c is locked (or unreferenced): its one writer. */
void sr__pool_pages_add(sr__conn *c, int delta);
/* Snapshot of the connections of the LRU whose last segment is older than
 * `before` (all when before == INT64_MAX), or that hold pages when
 * with_pages, oldest first, each referenced; with open_only, none that
 * has completed (CLOSED or DEAD: states no connection leaves) unless a
 * thread holds it. */
GPtrArray *sr__pool_collect(sr_pool *p, sr_time before, bool with_pages, bool open_only);
void sr__pool_shrink_cache(sr_pool *p);

/* ------------------------------------------------------------ delivery */

/* Per-call context of the reassembly engine. */
typedef struct sr__ctx {
    sr_pool *pool;
    sr__acct *acct;
    const sr_options *opt;   /* NULL only at pool close */
    void *packet_ctx;
    sr_time now;             /* capture time of this call (monotonic) */
    int64_t seg_start;       /* stream offsets of the segment being taken, */
    int64_t seg_end;         /* as it came (for the overlap policy) */
    unsigned status;         /* SR_SEG_* for sr_result */
    bool seg_stable;         /* the segment's payload_stable */
    sr_error cb_err;         /* SR_ERR_CALLBACK once a callback failed */
} sr__ctx;

/* conn.c: the data path of a locked, open connection. */
/* Feed one segment. */
sr_error sr__conn_segment(sr__ctx *x, sr__conn *c, sr_direction dir,
                          const sr_segment *seg);
/* Deliver every buffered page of one direction, gaps skipped; the number
 * of runs released. */
size_t sr__half_flush_pages(sr__ctx *x, sr__conn *c, sr_direction dir);
/* Both directions. */
size_t sr__conn_flush_pages(sr__ctx *x, sr__conn *c);
/* Whether c holds a page charged to acct. */
bool sr__conn_holds_pages_of(const sr__conn *c, const sr__acct *acct);
/* Release buffered data of one direction that has waited since `before` or
 * earlier, with everything in front of it (holes skipped); younger data
 * behind a later hole stays. Returns the number of runs released. */
size_t sr__half_release_old(sr__ctx *x, sr__conn *c, sr_direction dir, sr_time before);
/* Skip each direction up to its extent and report END where reached:
 * the last step of a completion. */
void sr__conn_drain(sr__ctx *x, sr__conn *c);
/* Free the cold part of each direction that holds nothing any more. */
void sr__conn_trim_sides(sr__conn *c);
/* Give back what a completed connection no longer needs: pages, history
 * rings, and the cold parts except their counters (with keep_counts; a
 * lingering connection still reports them), or everything. */
void sr__conn_release_pages(sr__conn *c, bool keep_counts);

/* ------------------------------------------------------------ lifecycle */

/* lifecycle.c: a connection's life in one place. All take c locked. */
/* Open a connection sr__pool_acquire just created: orientation, id,
 * new_stream. SR_ERR_NIL_STREAM if refused (then c is unlinked, unlocked
 * and unreferenced). */
sr_error sr__conn_open(sr__ctx *x, sr__conn *c, const sr_flow *flow, const sr_segment *seg,
                       bool src_is_a, sr__held *frame);
/* What a segment finds on arrival (before it is taken). */
typedef enum sr__arrival {
    SR__ARRIVE_TAKE,         /* open: feed it */
    SR__ARRIVE_RETRY,        /* c was completed or forgotten: look up again */
    SR__ARRIVE_RETRY_FIRST,  /* c completed on arrival (idle): look up again,
                                as this segment's first attempt */
    SR__ARRIVE_LATE,         /* closed and remembered: refuse it */
} sr__arrival;
sr__arrival sr__conn_arrive(sr__ctx *x, sr__conn *c, sr_direction dir, const sr_segment *seg,
                            bool first_attempt);
/* Complete: flush buffered data (gaps skipped), skip to the extent, call
 * on_complete, then linger (FIN, RST, callback error) or leave the table. */
void sr__conn_finish(sr__ctx *x, sr__conn *c, sr_close_reason why);
/* Idle checks at `now` (sweeps and arrivals alike): complete a connection
 * idle since before close_before (TIMEOUT), release the pages of
 * directions waiting since before flush_before. Returns 2 if completed,
 * 1 if pages were released, 0 otherwise. */
int sr__conn_idle(sr__ctx *x, sr__conn *c, sr_time close_before, sr_time flush_before);
/* A lingering closed connection closed before linger_before is forgotten. */
bool sr__conn_forget_if_old(sr__ctx *x, sr__conn *c, sr_time linger_before);
/* Complete a connection evicted at the connection limit (referenced,
 * already out of the table). A nested call that cannot lock it queues it;
 * without wait, so does any call that would have to wait for it. */
void sr__conn_evict(sr__ctx *x, sr__conn *v, bool wait);

#endif /* SR_INTERNAL_H */
