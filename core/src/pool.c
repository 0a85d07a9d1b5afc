/* pool.c - the connection table: O(1) lookup, double-checked creation,
 * a hard connection limit with least-recently-used eviction, the LRU list,
 * the held-locks list, and the free-connection cache. It decides nothing
 * about a connection's life (lifecycle.c does): it finds, inserts and
 * unlinks. */
#include "sr-internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* Cached free connection objects; halved at every sweep. */
#define SR__CONN_CACHE_MAX 1024

/* ------------------------------------------------------------ held locks */

static _Thread_local sr__held *held_top;

bool sr__thread_holds(const sr__conn *c)
{
    for (const sr__held *h = held_top; h; h = h->prev)
        if (h->conn == c)
            return true;
    return false;
}

bool sr__thread_holds_any(void)
{
    return held_top != NULL;
}

void sr__held_push(const sr__conn *c, sr__held *frame)
{
    frame->conn = c;
    frame->prev = held_top;
    held_top = frame;
}

/* How long a nested call keeps trying for a connection another thread
 * holds before it gives up (each round yields the CPU). */
#define SR__NESTED_TRIES 200

/* The connection lock: one word instead of a 40-byte pthread mutex.
 *   0 free, 1 held, 2 held and someone may be parked on its stripe.
 * A waiter sets 2 under the stripe's mutex before it sleeps; an unlock
 * that finds 2 takes that mutex to wake the stripe, so no wake-up is lost
 * (the waiter holds the mutex from its exchange until the wait releases
 * it). Acquire/release ordering on the word is what protects the
 * connection, which ThreadSanitizer sees. */
static sr__park *park_of(const sr__conn *c)
{
    uintptr_t a = (uintptr_t)c;
    return &c->pool->park[(a >> 8 ^ a >> 16) % SR__PARK_STRIPES];
}

static bool word_trylock(sr__conn *c)
{
    if (c->pool->single) { /* one thread: a plain look and store */
        if (atomic_load_explicit(&c->lock, memory_order_relaxed) != 0)
            return false;
        atomic_store_explicit(&c->lock, 1, memory_order_relaxed);
        return true;
    }
    uint32_t free_ = 0;
    return atomic_compare_exchange_strong_explicit(&c->lock, &free_, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static void word_lock(sr__conn *c)
{
    if (word_trylock(c))
        return;
    sr__park *pk = park_of(c);
    pthread_mutex_lock(&pk->m);
    while (atomic_exchange_explicit(&c->lock, 2, memory_order_acquire) != 0)
        pthread_cond_wait(&pk->cv, &pk->m);
    pthread_mutex_unlock(&pk->m);
}

static void word_unlock(sr__conn *c)
{
    if (c->pool->single) {
        atomic_store_explicit(&c->lock, 0, memory_order_relaxed);
        return;
    }
    if (atomic_exchange_explicit(&c->lock, 0, memory_order_release) == 2) {
        sr__park *pk = park_of(c);
        pthread_mutex_lock(&pk->m);
        pthread_cond_broadcast(&pk->cv);
        pthread_mutex_unlock(&pk->m);
    }
}

sr_error sr__conn_lock(sr__conn *c, sr__held *frame)
{
    if (sr__thread_holds(c))
        return SR_ERR_REENTRANT;
    if (c->pool->single) {
        /* Nobody else can hold it: this thread does not (above), and no
         * other thread gets into the pool. Never wait on it. */
        if (!word_trylock(c))
            return SR_ERR_BUSY;
    } else if (!held_top) {
        word_lock(c);
    } else {
        int tries = 0;
        while (!word_trylock(c)) {
            if (++tries >= SR__NESTED_TRIES)
                return SR_ERR_BUSY;
            sched_yield();
        }
    }
    sr__held_push(c, frame);
    return SR_OK;
}

bool sr__conn_trylock(sr__conn *c, sr__held *frame)
{
    if (sr__thread_holds(c) || !word_trylock(c))
        return false;
    sr__held_push(c, frame);
    return true;
}

bool sr__pool_enter(sr_pool *p)
{
    /* Increment first, then check: with sr_pool_close() setting `closed`
     * first and then waiting for inflight == 0 (both sequentially
     * consistent), one of the two always sees the other. */
    sr__add_int(&p->inflight, 1, p->single);
    if (atomic_load(&p->closed)) {
        sr__add_int(&p->inflight, -1, p->single);
        return false;
    }
    return true;
}

void sr__pool_leave(sr_pool *p)
{
    sr__add_int(&p->inflight, -1, p->single);
}

/* A thread's own address: unique among the threads alive, no call to
 * make, nothing to free. A thread that ends may pass its address on to a
 * later one: that one then follows it, never runs beside it. */
static _Thread_local char thread_mark;

sr_error sr__pool_check_thread(sr_pool *p, bool claim, bool take_over)
{
    if (!p->single)
        return SR_OK;
    uintptr_t me = (uintptr_t)&thread_mark;
    uintptr_t o = atomic_load_explicit(&p->owner, memory_order_acquire);
    if (o == me)
        return SR_OK;
    if (take_over) {
        atomic_store_explicit(&p->owner, me, memory_order_release);
        return SR_OK;
    }
    if (o == 0) {
        /* Of two threads claiming at once, one wins; the other is told. */
        if (!claim || atomic_compare_exchange_strong(&p->owner, &o, me))
            return SR_OK;
    }
    return SR_ERR_WRONG_THREAD;
}

void sr__pool_defer_victim(sr_pool *p, sr__conn *v)
{
    sr__mutex_lock(&p->cache_lock);
    v->l.next_free = p->pending;
    p->pending = v;
    atomic_store(&p->has_pending, true);
    sr__mutex_unlock(&p->cache_lock);
}

sr__conn *sr__pool_take_pending(sr_pool *p)
{
    if (!atomic_load(&p->has_pending))
        return NULL;
    sr__mutex_lock(&p->cache_lock);
    sr__conn *list = p->pending;
    p->pending = NULL;
    atomic_store(&p->has_pending, false);
    sr__mutex_unlock(&p->cache_lock);
    return list;
}

void sr__conn_unlock(sr__conn *c, sr__held *frame)
{
    /* Frames nest with the call stack, so the top is always ours. */
    if (held_top == frame)
        held_top = frame->prev;
    word_unlock(c);
}

/* ------------------------------------------------------------ keys */

static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xff51afd7ed558ccdu;
    return h ^ h >> 32;
}

/* A random seed per process, mixed into every key's hash: the table's
 * bucket of a connection cannot be predicted from the capture, so a capture
 * crafted to put many connections in one bucket (a hash flood) cannot make
 * lookups linear. Nothing observable depends on the table's order (the one
 * walk over it, sr_pool_close(), completes connections by id). */
static uint64_t hash_seed;

static void hash_seed_init(void)
{
    static gsize once;
    if (g_once_init_enter(&once)) {
        hash_seed = (uint64_t)g_random_int() << 32 | g_random_int();
        g_once_init_leave(&once, 1);
    }
}

static guint key_hash(gconstpointer v)
{
    /* Multiply-xor in 64-bit words over zone, ports, version and the
     * address bytes (never the IPv6 pointer): a handful of multiplications
     * instead of FNV-1a's one per byte. memcpy reads the words without
     * aliasing or alignment assumptions; the compiler makes plain loads. */
    const sr__key *k = v;
    size_t alen;
    const uint8_t *ad = sr__key_addr(k, &alen);
    uint64_t w = (uint64_t)k->zone << 32 | (uint64_t)k->port[0] << 16 | k->port[1];
    uint64_t h = mix(hash_seed ^ 0x9e3779b97f4a7c15u ^ k->ip_version, w);
    for (size_t i = 0; i < alen; i += 8) {
        memcpy(&w, ad + i, 8);
        h = mix(h, w);
    }
    h ^= h >> 29;
    return (guint)h;
}

static gboolean key_equal(gconstpointer va, gconstpointer vb)
{
    const sr__key *a = va, *b = vb;
    if (a->zone != b->zone || a->ip_version != b->ip_version || a->port[0] != b->port[0] ||
        a->port[1] != b->port[1])
        return FALSE;
    /* Fixed sizes, so the compiler compares words in place of a memcmp
     * call (this runs once per segment, in the table's lookup). */
    if (a->ip_version == 4)
        return memcmp(a->addr.v4, b->addr.v4, 8) == 0;
    return memcmp(a->addr.v6, b->addr.v6, 32) == 0;
}

/* ------------------------------------------------------------ table */

/* At most 3/4 of the slots in use; below 1/8 (and above the minimum) the
 * table halves on removal. Slots come from malloc, like GLib's table did:
 * they are the table's, not buffered data, and outside the allocator
 * (docs/library.md, "Memory per connection", counts them as heap). */
#define SR__TABLE_MIN 64

static size_t tbl_home(const sr__table *t, uint32_t h)
{
    return h & t->mask;
}

static sr__conn *tbl_find(const sr__table *t, const sr__key *k)
{
    if (!t->slots)
        return NULL;
    uint32_t h = key_hash(k);
    for (size_t i = tbl_home(t, h);; i = (i + 1) & t->mask) {
        const sr__slot *s = &t->slots[i];
        if (!s->c)
            return NULL;
        if (s->hash == h && key_equal(&s->c->key, k))
            return s->c;
    }
}

static void tbl_place(sr__slot *slots, size_t mask, sr__conn *c, uint32_t h)
{
    size_t i = h & mask;
    while (slots[i].c)
        i = (i + 1) & mask;
    slots[i].c = c;
    slots[i].hash = h;
}

/* Move every connection to a table of `cap` slots; false (nothing
 * changed) if that memory is not there. */
static bool tbl_resize(sr__table *t, size_t cap)
{
    sr__slot *n = calloc(cap, sizeof *n);
    if (!n)
        return false;
    if (t->slots)
        for (size_t i = 0; i <= t->mask; i++)
            if (t->slots[i].c)
                tbl_place(n, cap - 1, t->slots[i].c, t->slots[i].hash);
    free(t->slots);
    t->slots = n;
    t->mask = cap - 1;
    return true;
}

/* Room for one more connection, made before anything else is allocated
 * for it, so an insert never fails; false: out of memory. */
static bool tbl_reserve(sr__table *t)
{
    size_t cap = t->slots ? t->mask + 1 : 0;
    if (t->slots && (t->count + 1) * 4 <= cap * 3)
        return true;
    return tbl_resize(t, cap ? cap * 2 : SR__TABLE_MIN);
}

static void tbl_insert(sr__table *t, sr__conn *c)
{
    tbl_place(t->slots, t->mask, c, key_hash(&c->key));
    t->count++;
}

/* Take c (this very connection) out. Backward shift: each later entry of
 * the run moves into the hole when the hole lies between its home slot
 * and where it is, so no tombstones are left and every probe still ends
 * at the first empty slot. */
static void tbl_remove(sr__table *t, const sr__conn *c)
{
    if (!t->slots)
        return;
    size_t i = tbl_home(t, key_hash(&c->key));
    while (t->slots[i].c != c) {
        if (!t->slots[i].c)
            return; /* not there */
        i = (i + 1) & t->mask;
    }
    for (size_t j = (i + 1) & t->mask; t->slots[j].c; j = (j + 1) & t->mask) {
        size_t home = tbl_home(t, t->slots[j].hash);
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].c = NULL;
    t->slots[i].hash = 0;
    t->count--;
    size_t cap = t->mask + 1;
    if (cap > SR__TABLE_MIN && t->count * 8 < cap)
        (void)tbl_resize(t, cap / 2); /* stays as it is without memory */
}

static void tbl_clear(sr__table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->mask = 0;
    t->count = 0;
}

void sr__key_from_flow(const sr_flow *f, sr__key *k, uint8_t v6buf[32], bool *src_is_a)
{
    memset(k, 0, sizeof *k);
    k->zone = f->zone;
    k->ip_version = f->ip_version;
    size_t alen = f->ip_version == 4 ? 4 : 16;
    /* Only the meaningful address bytes count, so IPv4 garbage in the
     * unused tail cannot split one connection into two. Fixed sizes per
     * version: compared and copied in place, no library call per segment. */
    int cmp;
    if (alen == 4) { /* memcmp's order: the addresses as big-endian numbers */
        uint32_t s4, d4;
        memcpy(&s4, f->src.addr, 4);
        memcpy(&d4, f->dst.addr, 4);
        s4 = GUINT32_FROM_BE(s4);
        d4 = GUINT32_FROM_BE(d4);
        cmp = (s4 > d4) - (s4 < d4);
    } else {
        cmp = memcmp(f->src.addr, f->dst.addr, 16);
    }
    if (cmp == 0)
        cmp = (int)f->src.port - (int)f->dst.port;
    const sr_endpoint *a = cmp <= 0 ? &f->src : &f->dst;
    const sr_endpoint *b = cmp <= 0 ? &f->dst : &f->src;
    if (alen == 4) {
        memcpy(k->addr.v4, a->addr, 4);
        memcpy(k->addr.v4 + 4, b->addr, 4);
    } else {
        memcpy(v6buf, a->addr, 16);
        memcpy(v6buf + 16, b->addr, 16);
        k->addr.v6 = v6buf;
    }
    k->port[0] = a->port;
    k->port[1] = b->port;
    *src_is_a = cmp <= 0;
}

/* ------------------------------------------------------------ refs */

void sr__pool_ref(sr_pool *p)
{
    atomic_fetch_add(&p->refs, 1);
}

static sr__ring *ring_cache_cut_locked(sr_pool *p, size_t keep);
static void ring_list_free(sr_pool *p, sr__ring *r);

/* A connection in the free cache holds nothing but itself: its pages,
 * rings, sides and IPv6 addresses went when its last reference did. */
static void conn_destroy(sr__conn *c)
{
    sr__free(&c->pool->alloc, c, sizeof *c);
}

void sr__pool_unref(sr_pool *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    /* Last reference: closed, and every connection is gone. */
    tbl_clear(&p->table);
    sr__conn *c = p->conn_cache;
    while (c) {
        sr__conn *n = c->l.next_free;
        conn_destroy(c);
        c = n;
    }
    ring_list_free(p, ring_cache_cut_locked(p, 0)); /* the last reference: no lock needed */
    for (int i = 0; i < SR__PARK_STRIPES; i++) {
        pthread_mutex_destroy(&p->park[i].m);
        pthread_cond_destroy(&p->park[i].cv);
    }
    sr__rwlock_clear(&p->table_lock);
    sr__mutex_clear(&p->lru_lock);
    sr__mutex_clear(&p->cache_lock);
    sr_allocator al = p->alloc;
    sr__free(&al, p, sizeof *p);
}

void sr__conn_ref(sr__conn *c)
{
    sr__add_int(&c->refs, 1, c->pool->single);
}

void sr__conn_unref(sr__conn *c)
{
    if (!c || sr__add_int(&c->refs, -1, c->pool->single) != 1)
        return;
    sr_pool *p = c->pool;
    sr__conn_release_pages(c, false);
    if (c->acct) {
        sr__acct_unref(c->acct);
        c->acct = NULL;
    }
    if (c->key.ip_version != 4 && c->key.addr.v6) {
        sr__free(&p->alloc, (void *)c->key.addr.v6, 32);
        c->key.addr.v6 = NULL;
    }
    sr__mutex_lock(&p->cache_lock);
    if (p->conn_cache_len < SR__CONN_CACHE_MAX) {
        c->l.next_free = p->conn_cache;
        p->conn_cache = c;
        p->conn_cache_len++;
        c = NULL;
    }
    sr__mutex_unlock(&p->cache_lock);
    if (c)
        conn_destroy(c);
    sr__pool_unref(p);
}

void sr__pool_shrink_cache(sr_pool *p)
{
    sr__conn *drop;
    sr__mutex_lock(&p->cache_lock);
    size_t keep = p->conn_cache_len / 2;
    sr__conn **pp = &p->conn_cache;
    for (size_t i = 0; i < keep && *pp; i++)
        pp = &(*pp)->l.next_free;
    drop = *pp;
    *pp = NULL;
    p->conn_cache_len = keep;
    sr__ring *rings = ring_cache_cut_locked(p, p->ring_cache_bytes / 2);
    sr__mutex_unlock(&p->cache_lock);
    ring_list_free(p, rings);
    while (drop) {
        sr__conn *n = drop->l.next_free;
        conn_destroy(drop);
        drop = n;
    }
}

/* ------------------------------------------------------------ rings */

/* A cached ring's link to the next of its bin, in its first data bytes
 * (every ring has at least SR__RING_MIN >= 8 of them). */
static sr__ring *ring_next(const sr__ring *r)
{
    sr__ring *n;
    memcpy(&n, r->data, sizeof n);
    return n;
}

static void ring_set_next(sr__ring *r, sr__ring *n)
{
    memcpy(r->data, &n, sizeof n);
}

static size_t ring_bytes(size_t cap)
{
    return sizeof(sr__ring) + cap;
}

/* Only a bin's first ring is looked at: a ring of another capacity there
 * (two capacities share a bin only when conflict_history is not a malloc
 * chunk size, or assemblers of one pool differ in it) means the allocator,
 * never a search. */
sr__ring *sr__ring_get(sr_pool *p, size_t cap)
{
    sr__ring *r = NULL;
    size_t bin = cap / 16;
    if (cap >= sizeof(sr__ring *) && bin < SR__RING_BINS) {
        sr__mutex_lock(&p->cache_lock);
        r = p->ring_cache[bin];
        if (r && r->cap == cap) {
            p->ring_cache[bin] = ring_next(r);
            p->ring_cache_bytes -= cap;
        } else {
            r = NULL;
        }
        sr__mutex_unlock(&p->cache_lock);
    }
    if (!r) {
        r = sr__alloc(&p->alloc, ring_bytes(cap));
        if (!r)
            return NULL;
    }
    r->from = 0;
    r->cap = (uint32_t)cap;
    r->refs = 0;
    return r;
}

void sr__ring_put(sr_pool *p, sr__ring *r)
{
    if (!r)
        return;
    size_t cap = r->cap, bin = cap / 16;
    if (cap >= sizeof(sr__ring *) && bin < SR__RING_BINS) {
        bool cached = false;
        sr__mutex_lock(&p->cache_lock);
        if (p->ring_cache_bytes + cap <= SR__RING_CACHE_BYTES) {
            ring_set_next(r, p->ring_cache[bin]);
            p->ring_cache[bin] = r;
            p->ring_cache_bytes += cap;
            cached = true;
        }
        sr__mutex_unlock(&p->cache_lock);
        if (cached)
            return;
    }
    sr__free(&p->alloc, r, ring_bytes(cap));
}

/* Take the cached rings out, down to `keep` bytes of capacity (caller
 * holds cache_lock); returns them linked through their data. */
static sr__ring *ring_cache_cut_locked(sr_pool *p, size_t keep)
{
    sr__ring *out = NULL;
    for (size_t bin = SR__RING_BINS; bin-- > 0 && p->ring_cache_bytes > keep;) {
        while (p->ring_cache[bin] && p->ring_cache_bytes > keep) {
            sr__ring *r = p->ring_cache[bin];
            p->ring_cache[bin] = ring_next(r);
            p->ring_cache_bytes -= r->cap;
            ring_set_next(r, out);
            out = r;
        }
    }
    return out;
}

static void ring_list_free(sr_pool *p, sr__ring *r)
{
    while (r) {
        sr__ring *n = ring_next(r);
        sr__free(&p->alloc, r, ring_bytes(r->cap));
        r = n;
    }
}

/* A fresh connection object, from the cache or the allocator, all zero
 * (the lock word free). */
static sr__conn *conn_alloc(sr_pool *p)
{
    sr__conn *c = NULL;
    sr__mutex_lock(&p->cache_lock);
    if (p->conn_cache) {
        c = p->conn_cache;
        p->conn_cache = c->l.next_free;
        p->conn_cache_len--;
    }
    sr__mutex_unlock(&p->cache_lock);
    if (!c) {
        c = sr__alloc(&p->alloc, sizeof *c);
        if (!c)
            return NULL;
    }
    memset(c, 0, sizeof *c);
    c->pool = p;
    return c;
}

/* ------------------------------------------------------------ LRU */

static void lru_unlink_locked(sr_pool *p, sr__conn *c)
{
    if (!c->in_lru)
        return;
    if (atomic_load(&c->pages) > 0)
        p->lru_paged--;
    if (c->lru_prev)
        c->lru_prev->l.lru_next = c->l.lru_next;
    else
        p->lru_head = c->l.lru_next;
    if (c->l.lru_next)
        c->l.lru_next->lru_prev = c->lru_prev;
    else
        p->lru_tail = c->lru_prev;
    c->lru_prev = NULL;
    c->l.lru_next = NULL;
    c->in_lru = false;
}

static void lru_push_head_locked(sr_pool *p, sr__conn *c)
{
    c->lru_prev = NULL;
    c->l.lru_next = p->lru_head;
    if (p->lru_head)
        p->lru_head->lru_prev = c;
    p->lru_head = c;
    if (!p->lru_tail)
        p->lru_tail = c;
    c->in_lru = true;
    if (atomic_load(&c->pages) > 0)
        p->lru_paged++;
}

void sr__pool_touch(sr_pool *p, sr__conn *c)
{
    sr__mutex_lock(&p->lru_lock);
    if (c->in_lru && p->lru_head != c) {
        lru_unlink_locked(p, c);
        lru_push_head_locked(p, c);
    }
    sr_time t = atomic_load_explicit(&c->last_seen, memory_order_relaxed);
    if (t < p->lru_newest)
        p->lru_disordered = true;
    else
        p->lru_newest = t;
    sr__mutex_unlock(&p->lru_lock);
}

void sr__pool_pages_add(sr__conn *c, int delta)
{
    uint32_t cur = atomic_load_explicit(&c->pages, memory_order_relaxed);
    uint32_t next = (uint32_t)((int64_t)cur + delta);
    if ((cur == 0) == (next == 0)) {
        atomic_store(&c->pages, next);
        return;
    }
    /* From none to some or back: under the LRU lock, so that lru_paged
     * counts the list's connections with pages exactly. */
    sr_pool *p = c->pool;
    sr__mutex_lock(&p->lru_lock);
    atomic_store(&c->pages, next);
    if (c->in_lru) {
        if (next > 0)
            p->lru_paged++;
        else
            p->lru_paged--;
    }
    sr__mutex_unlock(&p->lru_lock);
}

GPtrArray *sr__pool_collect(sr_pool *p, sr_time before, bool with_pages, bool open_only)
{
    GPtrArray *out = g_ptr_array_new();
    sr__mutex_lock(&p->lru_lock);
    /* The connections with pages not yet passed: exact, since whether a
     * connection holds pages changes only under this lock. */
    size_t paged_left = p->lru_paged;
    for (sr__conn *c = p->lru_tail; c; c = c->lru_prev) {
        /* last_seen and pages are written under the connection lock, which
         * we do not hold; atomic reads are enough because the caller
         * re-checks everything under that lock before acting. Without
         * with_pages this stops at the first recent connection (the list
         * is roughly in last_seen order); with it, the walk goes on, since
         * a busy connection may hold pages waiting long, until no
         * connection with pages is left to pass, if the list is in
         * last_seen order (no older one can follow), else to the end. */
        bool paged = atomic_load(&c->pages) > 0;
        if (paged && paged_left > 0)
            paged_left--;
        if (before != INT64_MAX && atomic_load(&c->last_seen) >= before) {
            if (!with_pages)
                break;
            if (!paged) {
                if (paged_left == 0 && !p->lru_disordered)
                    break;
                continue;
            }
        }
        /* A completed connection lingering in the list has nothing to
         * finish or flush: it is not referenced, locked and let go (at
         * the end of a run nearly all of them are such). One that another
         * thread holds may be completing right now: it is taken, so that
         * the visit waits for its pages and callbacks to be done. */
        if (open_only && atomic_load(&c->state) >= SR__CLOSED && atomic_load(&c->lock) == 0)
            continue;
        sr__conn_ref(c);
        g_ptr_array_add(out, c);
    }
    sr__mutex_unlock(&p->lru_lock);
    return out;
}

/* ------------------------------------------------------------ table */

void sr__pool_unlink(sr_pool *p, sr__conn *c)
{
    bool dropped = false;
    sr__rwlock_writer_lock(&p->table_lock);
    if (!atomic_load(&c->detached)) {
        tbl_remove(&p->table, c);
        atomic_store(&c->detached, 1);
        sr__mutex_lock(&p->lru_lock);
        lru_unlink_locked(p, c);
        sr__mutex_unlock(&p->lru_lock);
        SR__PCOUNT(p, active_connections, -1);
        dropped = true;
    }
    sr__rwlock_writer_unlock(&p->table_lock);
    /* The table's reference; the caller still holds its own. */
    if (dropped)
        sr__conn_unref(c);
}

/* Choose and unlink the least recently used connection that this thread
 * does not hold. Table write lock held. Returns it referenced (the table's
 * reference, handed over) or NULL. */
static sr__conn *evict_one_locked(sr_pool *p)
{
    sr__mutex_lock(&p->lru_lock);
    sr__conn *v = p->lru_tail;
    while (v && sr__thread_holds(v))
        v = v->lru_prev;
    if (v)
        lru_unlink_locked(p, v);
    sr__mutex_unlock(&p->lru_lock);
    if (!v)
        return NULL;
    tbl_remove(&p->table, v);
    atomic_store(&v->detached, 1);
    SR__PCOUNT(p, active_connections, -1);
    return v;
}

sr_error sr__pool_acquire(sr_pool *p, const sr_flow *flow, sr__acct *acct, sr__conn **out,
                          sr__held *frame, bool *created, bool *src_is_a,
                          sr__conn **victim)
{
    sr__key key;
    uint8_t v6buf[32];
    sr__key_from_flow(flow, &key, v6buf, src_is_a);
    *created = false;
    *out = NULL;

    for (;;) {
        if (atomic_load(&p->closed))
            return SR_ERR_POOL_CLOSED;

        /* Fast path: a read lock, shared by all threads. */
        sr__rwlock_reader_lock(&p->table_lock);
        sr__conn *c = tbl_find(&p->table, &key);
        if (c)
            sr__conn_ref(c);
        sr__rwlock_reader_unlock(&p->table_lock);

        if (!c) {
            /* Slow path: write lock and check again, so two threads racing
             * on one new connection create exactly one. */
            sr__rwlock_writer_lock(&p->table_lock);
            if (atomic_load(&p->closed)) {
                sr__rwlock_writer_unlock(&p->table_lock);
                return SR_ERR_POOL_CLOSED;
            }
            c = tbl_find(&p->table, &key);
            if (c) {
                sr__conn_ref(c);
                sr__rwlock_writer_unlock(&p->table_lock);
            } else {
                sr__conn *ev = NULL;
                if (p->table.count < p->max_connections && !tbl_reserve(&p->table)) {
                    /* No room in the table (an eviction below makes its
                     * own): refused before anything is made for it. */
                    sr__rwlock_writer_unlock(&p->table_lock);
                    SR__COUNT(acct, no_memory, 1);
                    return SR_ERR_NO_MEMORY;
                }
                if (p->table.count >= p->max_connections) {
                    ev = evict_one_locked(p);
                    if (!ev) {
                        sr__rwlock_writer_unlock(&p->table_lock);
                        return SR_ERR_CONNECTION_LIMIT;
                    }
                }
                c = conn_alloc(p);
                uint8_t *v6 = NULL;
                if (c && key.ip_version != 4) {
                    v6 = sr__alloc(&p->alloc, 32);
                    if (!v6) {
                        sr__free(&p->alloc, c, sizeof *c);
                        c = NULL;
                    }
                }
                if (!c) {
                    sr__rwlock_writer_unlock(&p->table_lock);
                    if (ev)
                        *victim = ev;
                    SR__COUNT(acct, no_memory, 1);
                    return SR_ERR_NO_MEMORY;
                }
                /* Locked before it is published, so other threads wait
                 * for new_stream. Nobody else can reach c yet: a plain
                 * store, no wait under the table lock. */
                atomic_store_explicit(&c->lock, 1, memory_order_relaxed);
                sr__pool_ref(p);
                c->key = key;
                if (v6) {
                    memcpy(v6, key.addr.v6, 32);
                    c->key.addr.v6 = v6;
                }
                atomic_init(&c->refs, 2); /* the table's and ours */
                atomic_init(&c->state, SR__INIT);
                sr__held_push(c, frame);
                /* The connection holds its own key: the table keeps the
                 * connection and the key's hash a slot (room reserved
                 * above, or made by the eviction). */
                tbl_insert(&p->table, c);
                sr__mutex_lock(&p->lru_lock);
                lru_push_head_locked(p, c);
                sr__mutex_unlock(&p->lru_lock);
                uint64_t n = atomic_fetch_add(&p->c.active_connections, 1) + 1;
                uint64_t peak = atomic_load(&p->c.peak_connections);
                while (n > peak && !atomic_compare_exchange_weak(&p->c.peak_connections, &peak, n))
                    ;
                sr__rwlock_writer_unlock(&p->table_lock);
                if (ev) {
                    *victim = ev;
                }

                *created = true;
                *out = c;
                return SR_OK;
            }
        }

        /* Existing connection: lock it, then make sure it is still the
         * table's (it may have been evicted or closed while we waited). */
        sr_error le = sr__conn_lock(c, frame);
        if (le != SR_OK) {
            sr__conn_unref(c);
            return le;
        }
        int st = atomic_load(&c->state);
        if (st == SR__DEAD || atomic_load(&c->detached)) {
            sr__conn_unlock(c, frame);
            sr__conn_unref(c);
            continue;
        }
        *out = c;
        return SR_OK;
    }
}

/* ------------------------------------------------------------ public */

sr_pool *sr_pool_new_ex(const sr_stream_factory *factory, size_t max_connections,
                        const sr_allocator *allocator, unsigned flags, sr_error *err)
{
    sr_error dummy;
    if (!err)
        err = &dummy;
    if (!factory || max_connections == 0 || !factory->on_data ||
        (allocator && (!allocator->alloc || !allocator->free)) ||
        (flags & ~SR_POOL_SINGLE_THREAD)) {
        *err = SR_ERR_INVALID_ARGUMENT;
        return NULL;
    }
    sr_pool *p = sr__alloc(allocator, sizeof *p);
    if (!p) {
        *err = SR_ERR_NO_MEMORY;
        return NULL;
    }
    memset(p, 0, sizeof *p);
    p->lru_newest = INT64_MIN;
    if (allocator)
        p->alloc = *allocator;
    p->factory = *factory;
    p->max_connections = max_connections;
    p->single = (flags & SR_POOL_SINGLE_THREAD) != 0;
    atomic_init(&p->owner, 0);
    atomic_init(&p->refs, 1);
    sr__rwlock_init(&p->table_lock, p->single);
    sr__mutex_init(&p->lru_lock, p->single);
    sr__mutex_init(&p->cache_lock, p->single);
    for (int i = 0; i < SR__PARK_STRIPES; i++) {
        pthread_mutex_init(&p->park[i].m, NULL);
        pthread_cond_init(&p->park[i].cv, NULL);
    }
    hash_seed_init();
    *err = SR_OK;
    return p;
}

sr_pool *sr_pool_new_with_allocator(const sr_stream_factory *factory, size_t max_connections,
                                    const sr_allocator *allocator, sr_error *err)
{
    return sr_pool_new_ex(factory, max_connections, allocator, 0, err);
}

sr_pool *sr_pool_new(const sr_stream_factory *factory, size_t max_connections, sr_error *err)
{
    return sr_pool_new_ex(factory, max_connections, NULL, 0, err);
}

/* How far ahead sr_pool_close asks for the connections it will touch. */
#define SR__CLOSE_AHEAD 8

static gint by_id(gconstpointer a, gconstpointer b)
{
    const sr__conn *x = *(sr__conn *const *)a, *y = *(sr__conn *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

sr_error sr_pool_close(sr_pool *p)
{
    if (!p)
        return SR_ERR_INVALID_ARGUMENT;
    if (sr__thread_holds_any())
        return SR_ERR_REENTRANT;
    sr_error te = sr__pool_check_thread(p, true, false);
    if (te != SR_OK)
        return te;
    sr__rwlock_writer_lock(&p->table_lock);
    bool was = atomic_exchange(&p->closed, true);
    sr__rwlock_writer_unlock(&p->table_lock);

    /* Calls already past their `closed` check finish first (they may still
     * create, feed or complete connections); then nothing else can start,
     * and the table can be emptied in one go. */
    while (atomic_load(&p->inflight) > 0)
        sched_yield();
    /* `live`: the connections not yet completed, to be completed now;
     * `done`: the completed ones lingering in the table, which only need
     * letting go (nearly all of them at the end of a run). */
    GPtrArray *live = g_ptr_array_new(), *done = g_ptr_array_new();
    if (!was) {
        sr__rwlock_writer_lock(&p->table_lock);
        /* The LRU list holds table connections only (both are left
         * together): it is emptied here, each taken out where it is
         * touched anyway, not by a walk down the list, a miss after
         * a miss. */
        sr__mutex_lock(&p->lru_lock);
        for (size_t i = 0; p->table.slots && i <= p->table.mask; i++) {
            sr__conn *c = p->table.slots[i].c;
            /* Connections lie all over the heap: ask for one a little
             * further on while this one is read (a walk of 100,000 took
             * a miss each). */
            if (i + SR__CLOSE_AHEAD <= p->table.mask && p->table.slots[i + SR__CLOSE_AHEAD].c)
                sr__prefetch(p->table.slots[i + SR__CLOSE_AHEAD].c);
            if (!c)
                continue;
            atomic_store(&c->detached, 1);
            c->in_lru = false;
            c->lru_prev = NULL;
            c->l.lru_next = NULL;
            /* Either keeps the table's reference. CLOSED and DEAD are
             * states no connection leaves. */
            g_ptr_array_add(atomic_load(&c->state) >= SR__CLOSED ? done : live, c);
        }
        tbl_clear(&p->table);
        p->lru_head = p->lru_tail = NULL;
        p->lru_paged = 0;
        sr__mutex_unlock(&p->lru_lock);
        atomic_store(&p->c.active_connections, 0);
        sr__rwlock_writer_unlock(&p->table_lock);
        /* Evicted connections nested calls could not complete. */
        for (sr__conn *c = sr__pool_take_pending(p), *n; c; c = n) {
            n = c->l.next_free;
            c->l.next_free = NULL;
            g_ptr_array_add(live, c);
        }
    }

    /* In the order the connections were made, not the table's (which
     * follows the random hash seed): the same input completes in the same
     * order on every run. The completed ones call nothing back: the
     * table's order will do for them. */
    g_ptr_array_sort(live, by_id);
    for (int pass = 0; pass < 2; pass++) {
        GPtrArray *list = pass == 0 ? live : done;
        for (guint i = 0; i < list->len; i++) {
            sr__conn *c = list->pdata[i];
            if (i + SR__CLOSE_AHEAD < list->len)
                sr__prefetch(list->pdata[i + SR__CLOSE_AHEAD]);
            sr__held frame;
            (void)sr__conn_lock(c, &frame); /* not nested: refused above */
            if (atomic_load(&c->state) == SR__OPEN) {
                sr__ctx x = {.pool = p, .acct = c->acct, .opt = NULL, .packet_ctx = NULL,
                             .now = atomic_load(&c->last_seen)};
                sr__conn_finish(&x, c, SR_CLOSE_POOL_CLOSED);
            }
            atomic_store(&c->state, SR__DEAD);
            sr__conn_unlock(c, &frame);
            sr__conn_unref(c);
        }
        g_ptr_array_free(list, TRUE);
    }
    return SR_OK;
}

void sr_pool_free(sr_pool *p)
{
    if (!p)
        return;
    /* From a callback: the pool cannot be closed under the connection
     * lock this thread holds (sr_pool_close says SR_ERR_REENTRANT), so
     * nothing is done; the caller frees it after the callback (F16). */
    if (sr__thread_holds_any())
        return;
    /* Calling free twice is a caller bug we cannot detect once the memory
     * is gone; the flag catches it while assemblers keep the pool alive. */
    if (atomic_exchange(&p->user_freed, true))
        return;
    (void)sr__pool_check_thread(p, false, true); /* a single-thread pool: ours now */
    sr_pool_close(p);
    sr__pool_unref(p);
}

sr_error sr_pool_get_stats(const sr_pool *p, sr_pool_stats *out)
{
    if (!p || !out)
        return SR_ERR_INVALID_ARGUMENT;
#define SR__XX(name, desc) out->name = atomic_load_explicit(&p->c.name, memory_order_relaxed);
    SR_POOL_STATS_MAP(SR__XX)
#undef SR__XX
    return SR_OK;
}
