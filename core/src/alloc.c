/* alloc.c - the one accounting allocator for buffered memory: pages are
 * reserved against the hard cap with compare-and-swap before anything is
 * allocated, and given back (with their size) when released. */
#include "sr-internal.h"

#include <stdlib.h>

/* Cached free pages per assembler: enough to absorb bursts of
 * reordering without going to the allocator, small enough not to matter. */
#define SR__PAGE_CACHE_MAX 256

void *sr__alloc(const sr_allocator *al, size_t size)
{
    if (al && al->alloc)
        return al->alloc(al->user_data, size);
    return malloc(size);
}

void sr__free(const sr_allocator *al, void *p, size_t size)
{
    if (!p)
        return;
    if (al && al->free)
        al->free(al->user_data, p, size);
    else
        free(p);
}

static size_t page_bytes(const sr__acct *ac)
{
    return sizeof(sr__page) + ac->page_size;
}

sr__acct *sr__acct_new(const sr_allocator *al, size_t page_size, size_t max_total, bool single)
{
    sr__acct *ac = sr__alloc(al, sizeof *ac);
    if (!ac)
        return NULL;
    memset(ac, 0, sizeof *ac);
    if (al)
        ac->alloc = *al;
    atomic_init(&ac->refs, 1);
    ac->page_size = page_size;
    ac->max_total = max_total;
    ac->cache_max = MIN(SR__PAGE_CACHE_MAX, max_total);
    ac->single = single;
    sr__mutex_init(&ac->cache_lock, single);
    return ac;
}

void sr__acct_ref(sr__acct *ac)
{
    atomic_fetch_add(&ac->refs, 1);
}

void sr__acct_unref(sr__acct *ac)
{
    if (!ac || atomic_fetch_sub(&ac->refs, 1) != 1)
        return;
    /* Last reference: no page is charged here any more. */
    sr__page *p = ac->cache;
    while (p) {
        sr__page *n = p->next_free;
        sr__free(&ac->alloc, p, page_bytes(ac));
        p = n;
    }
    sr__mutex_clear(&ac->cache_lock);
    sr_allocator al = ac->alloc;
    sr__free(&al, ac, sizeof *ac);
}

bool sr__acct_reserve(sr__acct *ac, size_t n)
{
    size_t cur = atomic_load(&ac->in_use);
    do {
        if (n > ac->max_total || cur > ac->max_total - n)
            return false;
    } while (!atomic_compare_exchange_weak(&ac->in_use, &cur, cur + n));
    /* Peak: a monotone max; a lost race only retries. */
    uint64_t now = cur + n;
    uint64_t peak = atomic_load_explicit(&ac->c.pages_peak, memory_order_relaxed);
    while (now > peak &&
           !atomic_compare_exchange_weak_explicit(&ac->c.pages_peak, &peak, now,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
    return true;
}

void sr__acct_unreserve(sr__acct *ac, size_t n)
{
    size_t before = atomic_fetch_sub(&ac->in_use, n);
    /* Accounting never goes negative; a violation is a bug in this file's
     * callers, caught by the tests, and must not wrap in production. */
    if (before < n) {
        g_warning("safereasm: page accounting underflow (%zu < %zu)", before, n);
        atomic_store(&ac->in_use, 0);
    }
}

sr__page *sr__page_get(sr__acct *ac)
{
    sr__page *p = NULL;
    sr__mutex_lock(&ac->cache_lock);
    if (ac->cache) {
        p = ac->cache;
        ac->cache = p->next_free;
        ac->cache_len--;
    }
    sr__mutex_unlock(&ac->cache_lock);
    if (!p) {
        p = sr__alloc(&ac->alloc, page_bytes(ac));
        if (!p) {
            sr__acct_unreserve(ac, 1);
            SR__COUNT(ac, no_memory, 1);
            return NULL;
        }
    }
    p->next_free = NULL;
    p->acct = ac;
    p->offset = 0;
    p->gap_end = 0;
    p->len = 0;
    p->flags = 0;
    sr__acct_ref(ac);
    return p;
}

void sr__page_put(sr__page *p)
{
    sr__acct *ac = p->acct;
    bool cached = false;
    sr__mutex_lock(&ac->cache_lock);
    if (ac->cache_len < ac->cache_max) {
        p->next_free = ac->cache;
        ac->cache = p;
        ac->cache_len++;
        cached = true;
    }
    sr__mutex_unlock(&ac->cache_lock);
    if (!cached)
        sr__free(&ac->alloc, p, page_bytes(ac));
    sr__acct_unreserve(ac, 1);
    sr__acct_unref(ac);
}

void sr__acct_shrink_cache(sr__acct *ac)
{
    /* Halve the cache each sweep, so it follows the load down. */
    sr__page *drop = NULL;
    sr__mutex_lock(&ac->cache_lock);
    size_t keep = ac->cache_len / 2;
    sr__page **pp = &ac->cache;
    for (size_t i = 0; i < keep && *pp; i++)
        pp = &(*pp)->next_free;
    drop = *pp;
    *pp = NULL;
    ac->cache_len = keep;
    sr__mutex_unlock(&ac->cache_lock);
    while (drop) {
        sr__page *n = drop->next_free;
        sr__free(&ac->alloc, drop, page_bytes(ac));
        drop = n;
    }
}
