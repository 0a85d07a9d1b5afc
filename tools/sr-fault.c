/* sr-fault.c - SAFEREASM_FAULT_NTH: fail the Nth core allocation (see
 * sr-fault.h). Testing aid only: the counters are process-global on
 * purpose, so "the Nth allocation" means the Nth of the whole run, across
 * every pool and thread.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "sr-fault.h"

static unsigned long long fault_nth;   /* 0 = count only */
static gboolean fault_from;            /* "N+": N and every later one */
static const char *fault_value;
static atomic_ullong fault_calls;
static atomic_ullong fault_failed;

static void *
fault_alloc(void *user_data, size_t size)
{
    unsigned long long n = atomic_fetch_add(&fault_calls, 1) + 1;

    (void)user_data;
    if (fault_nth != 0 && (n == fault_nth || (fault_from && n > fault_nth))) {
        atomic_fetch_add(&fault_failed, 1);
        return NULL;
    }
    return malloc(size);
}

static void
fault_free(void *user_data, void *ptr, size_t size)
{
    (void)user_data;
    (void)size;
    free(ptr);
}

static const sr_allocator fault_allocator = { fault_alloc, fault_free, NULL };

/* Runs at exit, or when the plugin is unloaded (dlclose), whichever is
 * first; only when the variable was set. */
__attribute__((destructor)) static void
fault_report(void)
{
    if (fault_value != NULL)
        fprintf(stderr,
                "safereasm: fault injection SAFEREASM_FAULT_NTH=%s: %llu core "
                "allocations, %llu failed\n",
                fault_value, (unsigned long long)atomic_load(&fault_calls),
                (unsigned long long)atomic_load(&fault_failed));
}

static gpointer
fault_read_env(gpointer unused)
{
    const char *v = g_getenv("SAFEREASM_FAULT_NTH");
    char *end = NULL;
    unsigned long long n;

    (void)unused;
    if (v == NULL || !g_ascii_isdigit(v[0]))
        return NULL;
    n = g_ascii_strtoull(v, &end, 10);
    if (end[0] == '+' && end[1] == '\0')
        fault_from = TRUE;
    else if (end[0] != '\0')
        return NULL;
    fault_nth = n;
    fault_value = v;
    return (gpointer)&fault_allocator;
}

const sr_allocator *
sr_fault_allocator(void)
{
    static GOnce once = G_ONCE_INIT;

    return g_once(&once, fault_read_env, NULL);
}
