/* test-options.c - sr_options defaults and every validation rule, through
 * sr_options_validate() and sr_assembler_new(). Messages must name the
 * option (and, for integer options, the bad value).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <stdio.h>
#include <string.h>

#include "sr-test-util.h"

static void test_defaults(void)
{
    sr_options o;
    memset(&o, 0x5a, sizeof o);
    sr_options_init(&o);
    g_assert_cmpuint(o.max_buffered_pages_total, ==, SR_DEFAULT_MAX_PAGES_TOTAL);
    g_assert_cmpuint(o.max_buffered_pages_per_connection, ==, SR_DEFAULT_MAX_PAGES_PER_CONNECTION);
    g_assert_cmpuint(o.page_size, ==, SR_DEFAULT_PAGE_SIZE);
    g_assert_cmpint(o.connection_timeout, ==, SR_DEFAULT_CONNECTION_TIMEOUT);
    g_assert_cmpint(o.flush_interval, ==, SR_DEFAULT_FLUSH_INTERVAL);
    g_assert_cmpint(o.closed_linger, ==, SR_DEFAULT_CLOSED_LINGER);
    g_assert_cmpuint(o.max_window, ==, SR_DEFAULT_MAX_WINDOW);
    g_assert_false(o.background_flush);
    g_assert_cmpuint(o.conflict_history, ==, SR_DEFAULT_CONFLICT_HISTORY);

    char msg[256] = "untouched";
    g_assert_cmpint(sr_options_validate(&o, msg, sizeof msg), ==, SR_OK);
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);
}

static void test_init_null(void)
{
    sr_options_init(NULL); /* documented no-op */
}

static void test_validate_null(void)
{
    char msg[64];
    g_assert_cmpint(sr_options_validate(NULL, msg, sizeof msg), ==, SR_ERR_INVALID_ARGUMENT);
    g_assert_cmpint(sr_options_validate(NULL, NULL, 0), ==, SR_ERR_INVALID_ARGUMENT);
}

/* One invalid configuration: the mutation, the option the message must
 * name (any of up to two), and a value string it must contain (or NULL). */
typedef struct bad_case {
    const char *path;
    void (*mutate)(sr_options *o);
    const char *name1;
    const char *name2;
    const char *value;
} bad_case;

static void m_total_zero(sr_options *o) { o->max_buffered_pages_total = 0; }
static void m_per_zero(sr_options *o) { o->max_buffered_pages_per_connection = 0; }
static void m_per_gt_total(sr_options *o)
{
    o->max_buffered_pages_total = 5;
    o->max_buffered_pages_per_connection = 7;
}
static void m_page_zero(sr_options *o) { o->page_size = 0; }
static void m_page_big(sr_options *o) { o->page_size = SR_MAX_PAGE_SIZE + 1; }
static void m_page_huge(sr_options *o) { o->page_size = SIZE_MAX; }
static void m_page_overflow(sr_options *o)
{
    /* page_size is legal, total is legal alone, the product wraps. */
    o->page_size = SR_MAX_PAGE_SIZE;
    o->max_buffered_pages_total = SIZE_MAX / 1024;
    o->max_buffered_pages_per_connection = 1;
}
static void m_page_overflow_small(sr_options *o)
{
    o->page_size = 4;
    o->max_buffered_pages_total = SIZE_MAX / 2;
    o->max_buffered_pages_per_connection = 1;
}
static void m_timeout_zero(sr_options *o) { o->connection_timeout = 0; }
static void m_timeout_negative(sr_options *o) { o->connection_timeout = -5; }
static void m_flush_zero(sr_options *o) { o->flush_interval = 0; }
static void m_flush_negative(sr_options *o) { o->flush_interval = -1; }
static void m_flush_gt_timeout(sr_options *o)
{
    o->connection_timeout = 5 * SR_USEC_PER_SEC;
    o->flush_interval = 5 * SR_USEC_PER_SEC + 1;
}
static void m_linger_negative(sr_options *o) { o->closed_linger = -1; }
static void m_window_zero(sr_options *o) { o->max_window = 0; }
static void m_window_2_31(sr_options *o) { o->max_window = 0x80000000u; }
static void m_window_max(sr_options *o) { o->max_window = 0xffffffffu; }
static void m_history_big(sr_options *o) { o->conflict_history = SR_MAX_CONFLICT_HISTORY + 1; }
static void m_history_huge(sr_options *o) { o->conflict_history = SIZE_MAX; }

static const bad_case bad_cases[] = {
    {"/options/validate/total-zero", m_total_zero, "max_buffered_pages_total", NULL, "0"},
    {"/options/validate/per-connection-zero", m_per_zero, "max_buffered_pages_per_connection",
     NULL, "0"},
    {"/options/validate/per-connection-above-total", m_per_gt_total,
     "max_buffered_pages_per_connection", NULL, "7"},
    {"/options/validate/page-size-zero", m_page_zero, "page_size", NULL, "0"},
    {"/options/validate/page-size-above-max", m_page_big, "page_size", NULL, "1048577"},
    {"/options/validate/page-size-size-max", m_page_huge, "page_size", NULL, NULL},
    {"/options/validate/page-size-times-total-overflow", m_page_overflow, "page_size",
     "max_buffered_pages_total", NULL},
    {"/options/validate/page-size-times-total-overflow-small-page", m_page_overflow_small,
     "page_size", "max_buffered_pages_total", NULL},
    {"/options/validate/timeout-zero", m_timeout_zero, "connection_timeout", NULL, NULL},
    {"/options/validate/timeout-negative", m_timeout_negative, "connection_timeout", NULL, NULL},
    {"/options/validate/flush-interval-zero", m_flush_zero, "flush_interval", NULL, NULL},
    {"/options/validate/flush-interval-negative", m_flush_negative, "flush_interval", NULL, NULL},
    {"/options/validate/flush-interval-above-timeout", m_flush_gt_timeout, "flush_interval", NULL,
     NULL},
    {"/options/validate/closed-linger-negative", m_linger_negative, "closed_linger", NULL, NULL},
    {"/options/validate/max-window-zero", m_window_zero, "max_window", NULL, "0"},
    {"/options/validate/max-window-2-31", m_window_2_31, "max_window", NULL, "2147483648"},
    {"/options/validate/max-window-uint32-max", m_window_max, "max_window", NULL, "4294967295"},
    {"/options/validate/conflict-history-above-max", m_history_big, "conflict_history", NULL,
     "1048577"},
    {"/options/validate/conflict-history-size-max", m_history_huge, "conflict_history", NULL,
     NULL},
};

static void test_bad(gconstpointer data)
{
    const bad_case *bc = data;
    sr_options o;
    sr_options_init(&o);
    bc->mutate(&o);

    char msg[512];
    memset(msg, 0, sizeof msg);
    sr_error e = sr_options_validate(&o, msg, sizeof msg);
    g_assert_cmpstr(sr_err_name(e), ==, "SR_ERR_INVALID_OPTIONS");
    g_test_message("message: %s", msg);
    g_assert_nonnull(memchr(msg, '\0', sizeof msg));
    if (!strstr(msg, bc->name1) && !(bc->name2 && strstr(msg, bc->name2)))
        g_error("message \"%s\" does not name %s%s%s", msg, bc->name1, bc->name2 ? " or " : "",
                bc->name2 ? bc->name2 : "");
    if (bc->value)
        g_assert_nonnull(strstr(msg, bc->value));

    /* No message buffer: same verdict, no crash. */
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_ERR_INVALID_OPTIONS);
    g_assert_cmpint(sr_options_validate(&o, NULL, 100), ==, SR_ERR_INVALID_OPTIONS);

    /* msg_len 0: nothing written. */
    char untouched[8] = "abcdefg";
    g_assert_cmpint(sr_options_validate(&o, untouched, 0), ==, SR_ERR_INVALID_OPTIONS);
    g_assert_cmpstr(untouched, ==, "abcdefg");

    /* Short buffer: truncated, terminated, nothing written past msg_len. */
    char small[16];
    memset(small, '#', sizeof small);
    g_assert_cmpint(sr_options_validate(&o, small, 6), ==, SR_ERR_INVALID_OPTIONS);
    g_assert_nonnull(memchr(small, '\0', 6));
    for (size_t i = 6; i < sizeof small; i++)
        g_assert_cmpint(small[i], ==, '#');
    g_assert_cmpint(strncmp(small, msg, strlen(small)), ==, 0);

    char one[4] = "xyz";
    g_assert_cmpint(sr_options_validate(&o, one, 1), ==, SR_ERR_INVALID_OPTIONS);
    g_assert_cmpint(one[0], ==, '\0');
    g_assert_cmpint(one[1], ==, 'y');

    /* The assembler refuses the same options and creates nothing. */
    srt_recorder rec;
    srt_recorder_init(&rec);
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_error pe = SR_ERR_THREAD;
    sr_pool *pool = sr_pool_new(&f, 16, &pe);
    g_assert_nonnull(pool);
    g_assert_cmpint(pe, ==, SR_OK);
    sr_assembler *a = NULL;
    e = sr_assembler_new(pool, &o, &a);
    g_assert_cmpstr(sr_err_name(e), ==, "SR_ERR_INVALID_OPTIONS");
    g_assert_null(a);
    sr_pool_free(pool);
    srt_recorder_clear(&rec);
}

/* Valid edge values: each must be accepted. */
static void test_edges_valid(void)
{
    sr_options o;

    sr_options_init(&o);
    o.page_size = 1;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);

    sr_options_init(&o);
    o.page_size = SR_MAX_PAGE_SIZE;
    o.max_buffered_pages_total = 1024;
    o.max_buffered_pages_per_connection = 1024;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);

    sr_options_init(&o);
    o.max_buffered_pages_total = 1;
    o.max_buffered_pages_per_connection = 1;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);

    sr_options_init(&o);
    o.max_buffered_pages_per_connection = o.max_buffered_pages_total;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);

    sr_options_init(&o);
    o.connection_timeout = 1;
    o.flush_interval = 1;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);

    sr_options_init(&o);
    o.flush_interval = o.connection_timeout;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);

    sr_options_init(&o);
    o.closed_linger = 0;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);

    sr_options_init(&o);
    o.max_window = 1;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);

    sr_options_init(&o);
    o.max_window = 0x7fffffffu;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);

    sr_options_init(&o);
    o.conflict_history = 0;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);

    sr_options_init(&o);
    o.conflict_history = SR_MAX_CONFLICT_HISTORY;
    g_assert_cmpint(sr_options_validate(&o, NULL, 0), ==, SR_OK);
}

/* The assembler copies the options: changing the caller's struct later
 * has no effect. Checked through a limit that shows in behaviour. */
static void test_copied(void)
{
    srt_recorder rec;
    srt_recorder_init(&rec);
    sr_stream_factory f = srt_recorder_factory(&rec);
    sr_pool *pool = sr_pool_new(&f, 16, NULL);
    g_assert_nonnull(pool);
    sr_options o = srt_options(1, 1, 1);
    sr_assembler *a = NULL;
    g_assert_cmpint(sr_assembler_new(pool, &o, &a), ==, SR_OK);
    g_assert_nonnull(a);
    o.max_buffered_pages_total = 1000; /* must not matter */
    o.max_buffered_pages_per_connection = 1000;

    sr_flow fl;
    srt_flow_ab(&fl, 1, false);
    sr_segment s = srt_seg(1000, SR_TCP_SYN, NULL, 0, 1);
    g_assert_cmpint(sr_assemble(a, &fl, &s, NULL), ==, SR_OK);
    /* Two out-of-order bytes, far apart: the second needs a second page,
     * which the copied limit of one page forbids. */
    sr_result res;
    for (uint32_t i = 0; i < 2; i++) {
        s = srt_seg(1000 + 10 + 10 * i, SR_TCP_ACK, "x", 1, 2);
        g_assert_cmpint(sr_assemble_ex(a, &fl, &s, NULL, &res), ==, SR_OK);
        g_assert_cmpuint(res.conn_pages, <=, 1);
    }
    g_assert_true(res.status & (SR_SEG_LIMIT_CONNECTION | SR_SEG_LIMIT_TOTAL));
    sr_assembler_free(a);
    sr_pool_free(pool);
    srt_recorder_clear(&rec);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/options/defaults", test_defaults);
    g_test_add_func("/options/init/null", test_init_null);
    g_test_add_func("/options/validate/null", test_validate_null);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++)
        g_test_add_data_func(bad_cases[i].path, &bad_cases[i], test_bad);
    g_test_add_func("/options/validate/edges-valid", test_edges_valid);
    g_test_add_func("/options/copied-at-creation", test_copied);
    return g_test_run();
}
