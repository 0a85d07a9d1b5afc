/* assembler.c - the entry points that feed segments: argument checks,
 * connection lookup, the capture-time sweep (idle timeout and periodic
 * flush), explicit flushes, and the optional wall-clock flush thread. */
#include "sr-internal.h"

#include <string.h>
#include <time.h>

struct sr_assembler {
    sr_pool *pool;
    sr__acct *acct;
    sr_options opt;
    atomic_bool closed;
    _Atomic sr_time last_sweep;   /* capture time of the last sweep */
    atomic_bool swept_once;
    GThread *bg;
    sr__mutex bg_lock;
    pthread_cond_t bg_cond;       /* monotonic clock */
    bool bg_stop;                 /* under bg_lock */
};

static bool flow_ok(const sr_flow *f)
{
    return f->ip_version == 4 || f->ip_version == 6;
}

static bool segment_ok(const sr_segment *s)
{
    if (s->payload_len > 0 && !s->payload)
        return false;
    if (s->claimed_len != 0 && s->claimed_len < s->payload_len)
        return false;
    /* Nothing TCP can carry comes near this; larger values are nonsense
     * that would break 32-bit sequence arithmetic. */
    size_t claimed = s->claimed_len ? s->claimed_len : s->payload_len;
    return claimed <= (size_t)INT32_MAX;
}

/* Complete a connection taken out of the table by eviction. A nested call
 * (from a callback) that cannot get its lock leaves it to the next call. */
static void finish_victim(sr_assembler *a, sr__conn *v, void *packet_ctx, sr_time now)
{
    sr__held frame;
    if (sr__conn_lock(v, &frame) != SR_OK) {
        sr__pool_defer_victim(a->pool, v);
        return;
    }
    if (atomic_load(&v->state) == SR__OPEN) {
        sr__ctx x = {.pool = a->pool, .acct = v->acct ? v->acct : a->acct, .opt = &a->opt,
                     .packet_ctx = packet_ctx};
        sr__conn_finish(&x, v, SR_CLOSE_EVICTED, now);
    }
    atomic_store(&v->state, SR__DEAD);
    sr__conn_unlock(v, &frame);
    sr__conn_unref(v);
}

static void finish_pending(sr_assembler *a, void *packet_ctx, sr_time now)
{
    for (sr__conn *v = sr__pool_take_pending(a->pool), *n; v; v = n) {
        n = v->next_free;
        v->next_free = NULL;
        finish_victim(a, v, packet_ctx, now);
    }
}

/* Visit the pool's connections whose last segment is older than `before`
 * (all of them: INT64_MAX), oldest first, each under its own lock with a
 * context for this assembler. Returns the sum of what fn returns. */
typedef size_t (*conn_visit_fn)(sr__ctx *x, sr__conn *c, void *data);

static size_t visit_conns(sr_assembler *a, sr_time before, void *packet_ctx, conn_visit_fn fn,
                          void *data)
{
    size_t n = 0;
    GPtrArray *list = sr__pool_collect(a->pool, before);
    for (guint i = 0; i < list->len; i++) {
        sr__conn *c = list->pdata[i];
        sr__held frame;
        if (sr__conn_lock(c, &frame) == SR_OK) {
            sr__ctx x = {.pool = a->pool, .acct = c->acct ? c->acct : a->acct, .opt = &a->opt,
                         .packet_ctx = packet_ctx};
            n += fn(&x, c, data);
            sr__conn_unlock(c, &frame);
        }
        sr__conn_unref(c);
    }
    g_ptr_array_free(list, TRUE);
    return n;
}

typedef struct sweep_args {
    sr_time now, close_before, flush_before, linger_before;
    size_t flushed, closed;
} sweep_args;

static size_t sweep_one(sr__ctx *x, sr__conn *c, void *data)
{
    sweep_args *w = data;
    sr_time seen = atomic_load(&c->last_seen);
    int st = atomic_load(&c->state);
    if (st == SR__OPEN && !atomic_load(&c->detached)) {
        if (seen < w->close_before) {
            w->flushed += atomic_load(&c->pages) > 0;
            sr__conn_finish(x, c, SR_CLOSE_TIMEOUT, w->now);
            SR__COUNT(x->acct, connections_flushed, 1);
            w->closed++;
        } else if (seen < w->flush_before && atomic_load(&c->pages) > 0) {
            sr__conn_flush_pages(x, c);
            SR__COUNT(x->acct, connections_flushed, 1);
            w->flushed++;
        }
    } else if (st == SR__CLOSED && c->closed_at < w->linger_before) {
        atomic_store(&c->state, SR__DEAD);
        sr__pool_unlink(x->pool, c);
    }
    return 0;
}

/* The sweep: complete connections idle since before close_before, flush
 * the pages of those idle since before flush_before, and forget closed
 * ones closed before linger_before. */
static void sweep(sr_assembler *a, sr_time now, sr_time close_before, sr_time flush_before,
                  sr_time linger_before, void *packet_ctx, size_t *flushed, size_t *closed)
{
    sweep_args w = {now, close_before, flush_before, linger_before, 0, 0};
    visit_conns(a, MAX(close_before, MAX(flush_before, linger_before)), packet_ctx, sweep_one, &w);
    if (flushed)
        *flushed = w.flushed;
    if (closed)
        *closed = w.closed;
    finish_pending(a, packet_ctx, now);
    sr__acct_shrink_cache(a->acct);
    sr__pool_shrink_cache(a->pool);
}

static void periodic_sweep(sr_assembler *a, sr_time now, void *packet_ctx)
{
    sweep(a, now, now - a->opt.connection_timeout, now - a->opt.flush_interval,
          now - a->opt.closed_linger, packet_ctx, NULL, NULL);
}

/* Run the capture-time sweep when time has moved flush_interval past the
 * last one. One thread wins the compare-and-swap; the others go on. */
static void maybe_sweep(sr_assembler *a, sr_time now, void *packet_ctx)
{
    if (!atomic_load(&a->swept_once)) {
        /* The first segment starts the clock. */
        if (!atomic_exchange(&a->swept_once, true))
            atomic_store(&a->last_sweep, now);
        return;
    }
    sr_time last = atomic_load(&a->last_sweep);
    if (now - last < a->opt.flush_interval)
        return;
    if (!atomic_compare_exchange_strong(&a->last_sweep, &last, now))
        return;
    periodic_sweep(a, now, packet_ctx);
}

static gpointer bg_main(gpointer data)
{
    sr_assembler *a = data;
    sr__mutex_lock(&a->bg_lock);
    while (!a->bg_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(a->opt.flush_interval / SR_USEC_PER_SEC);
        until.tv_nsec += (long)(a->opt.flush_interval % SR_USEC_PER_SEC) * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!a->bg_stop && pthread_cond_timedwait(&a->bg_cond, &a->bg_lock, &until) == 0)
            ;
        if (a->bg_stop)
            break;
        sr__mutex_unlock(&a->bg_lock);
        if (sr__pool_enter(a->pool)) {
            periodic_sweep(a, g_get_real_time(), NULL);
            sr__pool_leave(a->pool);
        }
        sr__mutex_lock(&a->bg_lock);
    }
    sr__mutex_unlock(&a->bg_lock);
    return NULL;
}

sr_error sr_assembler_new(sr_pool *pool, const sr_options *options, sr_assembler **out)
{
    if (!out)
        return SR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!pool)
        return SR_ERR_INVALID_ARGUMENT;
    if (atomic_load(&pool->closed))
        return SR_ERR_POOL_CLOSED;
    sr_options o;
    if (options)
        o = *options;
    else
        sr_options_init(&o);
    sr_error err = sr_options_validate(&o, NULL, 0);
    if (err != SR_OK)
        return err;
    sr_assembler *a = sr__alloc(&pool->alloc, sizeof *a);
    if (!a)
        return SR_ERR_NO_MEMORY;
    memset(a, 0, sizeof *a);
    a->opt = o;
    a->acct = sr__acct_new(&pool->alloc, o.page_size, o.max_buffered_pages_total);
    if (!a->acct) {
        sr__free(&pool->alloc, a, sizeof *a);
        return SR_ERR_NO_MEMORY;
    }
    a->pool = pool;
    sr__pool_ref(pool);
    sr__mutex_init(&a->bg_lock);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->bg_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (o.background_flush) {
        a->bg = g_thread_try_new("sr-flush", bg_main, a, NULL);
        if (!a->bg) {
            sr_assembler_free(a);
            return SR_ERR_THREAD;
        }
    }
    *out = a;
    return SR_OK;
}

static sr_error count_err(sr_assembler *a, sr_error e)
{
    if (e != SR_OK && a)
        SR__COUNT(a->acct, errors, 1);
    return e;
}

static sr_error assemble_entered(sr_assembler *a, const sr_flow *flow, const sr_segment *seg,
                                 void *packet_ctx, sr_result *result);

sr_error sr_assemble_ex(sr_assembler *a, const sr_flow *flow, const sr_segment *seg,
                        void *packet_ctx, sr_result *result)
{
    if (result) {
        memset(result, 0, sizeof *result);
        result->close_reason = -1;
    }
    if (!a)
        return SR_ERR_INVALID_ARGUMENT;
    if (!flow || !seg || !flow_ok(flow) || !segment_ok(seg))
        return count_err(a, SR_ERR_INVALID_ARGUMENT);
    if (atomic_load(&a->closed))
        return count_err(a, SR_ERR_ASSEMBLER_CLOSED);
    sr_pool *p = a->pool;
    if (!sr__pool_enter(p))
        return count_err(a, SR_ERR_POOL_CLOSED);
    sr_error ret = assemble_entered(a, flow, seg, packet_ctx, result);
    sr__pool_leave(p);
    return count_err(a, ret);
}

static sr_error assemble_entered(sr_assembler *a, const sr_flow *flow, const sr_segment *seg,
                                 void *packet_ctx, sr_result *result)
{
    sr_pool *p = a->pool;
    bool nested = sr__thread_holds_any();
    if (!nested)
        finish_pending(a, packet_ctx, seg->timestamp);
    size_t claimed = seg->claimed_len ? seg->claimed_len : seg->payload_len;
    SR__COUNT(a->acct, packets_processed, 1);
    SR__COUNT(a->acct, bytes_processed, claimed);

    sr__conn *c = NULL, *victim = NULL;
    sr__held frame;
    bool created = false, src_is_a = false;
    sr_error err;
    sr__ctx x = {.pool = p, .acct = a->acct, .opt = &a->opt, .packet_ctx = packet_ctx};
    for (int attempt = 0;; attempt++) {
        err = sr__pool_acquire(p, flow, seg, a->acct, packet_ctx, &c, &frame, &created,
                               &src_is_a, &victim);
        if (err != SR_OK)
            break;
        int st = atomic_load(&c->state);
        if (st != SR__CLOSED)
            break;
        /* Closed and remembered. A new SYN with a new ISN is port reuse: a
         * new connection. Anything else is late and reported. */
        sr_direction d = (src_is_a == c->client_is_a) ? SR_DIR_CLIENT_TO_SERVER
                                                      : SR_DIR_SERVER_TO_CLIENT;
        const sr__half *h = &c->half[d];
        /* A connection reset before either side carried a byte is also
         * forgotten when a handshake segment follows: an RST spoofed ahead
         * of the real SYN+ACK (an evasion trick) must not hide the session. */
        bool empty = c->info.delivered[0] + c->info.skipped[0] + c->info.delivered[1] +
                         c->info.skipped[1] == 0 &&
                     c->close_reason == SR_CLOSE_RST;
        bool reuse = attempt == 0 &&
                     (((seg->flags & (SR_TCP_SYN | SR_TCP_ACK)) == SR_TCP_SYN &&
                       !(h->syn_seen && h->isn == seg->seq)) ||
                      ((seg->flags & SR_TCP_SYN) && empty));
        if (!reuse) {
            SR__COUNT(a->acct, after_close, 1);
            if (result) {
                result->conn_id = c->info.id;
                result->dir = d;
                result->status = SR_SEG_AFTER_CLOSE;
                memcpy(result->delivered, c->info.delivered, sizeof result->delivered);
                memcpy(result->skipped, c->info.skipped, sizeof result->skipped);
            }
            sr__conn_unlock(c, &frame);
            sr__conn_unref(c);
            c = NULL;
            err = SR_ERR_CONNECTION_CLOSED;
            break;
        }
        atomic_store(&c->state, SR__DEAD);
        sr__pool_unlink(p, c);
        sr__conn_unlock(c, &frame);
        sr__conn_unref(c);
        c = NULL;
    }

    if (c) {
        sr_direction dir = (src_is_a == c->client_is_a) ? SR_DIR_CLIENT_TO_SERVER
                                                        : SR_DIR_SERVER_TO_CLIENT;
        if (created)
            x.status |= SR_SEG_NEW_CONNECTION;
        if (victim)
            x.status |= SR_SEG_EVICTED_OTHER;
        if (c->acct != a->acct) {
            sr__acct_ref(a->acct);
            sr__acct_unref(c->acct);
            c->acct = a->acct;
        }
        /* Capture times from several threads interleave; keep the latest. */
        if (seg->timestamp > atomic_load(&c->last_seen))
            atomic_store(&c->last_seen, seg->timestamp);
        sr__pool_touch(p, c);
        err = sr__conn_segment(&x, c, dir, seg);
        if (err == SR_OK && x.cb_err != SR_OK)
            err = x.cb_err;
        if (result) {
            result->conn_id = c->info.id;
            result->dir = dir;
            result->status = x.status;
            result->conn_pages = atomic_load(&c->pages);
            memcpy(result->delivered, c->info.delivered, sizeof result->delivered);
            memcpy(result->skipped, c->info.skipped, sizeof result->skipped);
            if (x.status & SR_SEG_CLOSED)
                result->close_reason = (int)c->close_reason;
        }
        sr__conn_unlock(c, &frame);
        sr__conn_unref(c);
    }
    if (victim) {
        /* We hold no connection lock here unless nested in a callback;
         * then a thread inside the victim's own callback waiting for ours
         * could deadlock (documented: callbacks should not create
         * connections in a full pool). */
        finish_victim(a, victim, packet_ctx, seg->timestamp);
        if (result)
            result->status |= SR_SEG_EVICTED_OTHER;
    }
    if (!nested && err != SR_ERR_POOL_CLOSED)
        maybe_sweep(a, seg->timestamp, packet_ctx);
    return err;
}

sr_error sr_assemble(sr_assembler *a, const sr_flow *flow, const sr_segment *seg,
                     void *packet_ctx)
{
    return sr_assemble_ex(a, flow, seg, packet_ctx, NULL);
}

static sr_error usable(const sr_assembler *a)
{
    if (!a)
        return SR_ERR_INVALID_ARGUMENT;
    if (sr__thread_holds_any())
        return SR_ERR_REENTRANT;
    if (atomic_load(&a->closed))
        return SR_ERR_ASSEMBLER_CLOSED;
    if (atomic_load(&a->pool->closed))
        return SR_ERR_POOL_CLOSED;
    return SR_OK;
}

sr_error sr_assembler_flush_older_than(sr_assembler *a, sr_time older_than, void *packet_ctx,
                                       size_t *flushed, size_t *closed)
{
    if (flushed)
        *flushed = 0;
    if (closed)
        *closed = 0;
    sr_error e = usable(a);
    if (e != SR_OK)
        return a ? count_err(a, e) : e;
    if (!sr__pool_enter(a->pool))
        return count_err(a, SR_ERR_POOL_CLOSED);
    sweep(a, older_than, older_than, older_than, older_than, packet_ctx, flushed, closed);
    sr__pool_leave(a->pool);
    return SR_OK;
}

/* Complete an open connection (FLUSHED). */
static size_t finish_one(sr__ctx *x, sr__conn *c, void *data)
{
    (void)data;
    if (atomic_load(&c->state) != SR__OPEN || atomic_load(&c->detached))
        return 0;
    sr__conn_finish(x, c, SR_CLOSE_FLUSHED, atomic_load(&c->last_seen));
    SR__COUNT(x->acct, connections_flushed, 1);
    return 1;
}

/* Deliver the buffered pages of an open connection, gaps skipped. */
static size_t flush_one(sr__ctx *x, sr__conn *c, void *data)
{
    (void)data;
    if (atomic_load(&c->state) != SR__OPEN || atomic_load(&c->detached) ||
        atomic_load(&c->pages) == 0)
        return 0;
    sr__conn_flush_pages(x, c);
    SR__COUNT(x->acct, connections_flushed, 1);
    return 1;
}

sr_error sr_assembler_flush_all(sr_assembler *a, void *packet_ctx, size_t *closed)
{
    if (closed)
        *closed = 0;
    sr_error e = usable(a);
    if (e != SR_OK)
        return a ? count_err(a, e) : e;
    if (!sr__pool_enter(a->pool))
        return count_err(a, SR_ERR_POOL_CLOSED);
    size_t n = visit_conns(a, INT64_MAX, packet_ctx, finish_one, NULL);
    finish_pending(a, packet_ctx, INT64_MAX);
    sr__pool_leave(a->pool);
    if (closed)
        *closed = n;
    return SR_OK;
}

static void stop_bg(sr_assembler *a)
{
    if (!a->bg)
        return;
    sr__mutex_lock(&a->bg_lock);
    a->bg_stop = true;
    pthread_cond_broadcast(&a->bg_cond);
    sr__mutex_unlock(&a->bg_lock);
    g_thread_join(a->bg);
    a->bg = NULL;
}

sr_error sr_assembler_close(sr_assembler *a)
{
    if (!a)
        return SR_ERR_INVALID_ARGUMENT;
    if (sr__thread_holds_any())
        return SR_ERR_REENTRANT;
    if (atomic_exchange(&a->closed, true))
        return SR_OK;
    stop_bg(a);
    /* Release what this assembler buffered: its pages would otherwise
     * wait in the pool's connections for a timeout nobody will drive. */
    if (atomic_load(&a->acct->in_use) > 0 && sr__pool_enter(a->pool)) {
        visit_conns(a, INT64_MAX, NULL, flush_one, NULL);
        sr__pool_leave(a->pool);
    }
    return SR_OK;
}

void sr_assembler_free(sr_assembler *a)
{
    if (!a)
        return;
    if (!sr__thread_holds_any())
        sr_assembler_close(a);
    else
        stop_bg(a);
    sr__mutex_clear(&a->bg_lock);
    pthread_cond_destroy(&a->bg_cond);
    sr_pool *p = a->pool;
    sr__acct_unref(a->acct);
    sr_allocator al = p->alloc;
    sr__free(&al, a, sizeof *a);
    sr__pool_unref(p);
}

sr_error sr_assembler_get_stats(const sr_assembler *a, sr_assembler_stats *out)
{
    if (!a || !out)
        return SR_ERR_INVALID_ARGUMENT;
#define SR__XX(name, desc) out->name = atomic_load_explicit(&a->acct->c.name, memory_order_relaxed);
    SR_ASSEMBLER_STATS_MAP(SR__XX)
#undef SR__XX
    out->pages_in_use = atomic_load(&a->acct->in_use);
    return SR_OK;
}
