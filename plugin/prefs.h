/* prefs.h - the plugin's preferences: one per core option (the overlap
 * policy an enum), detect_divergence, plus the
 * connection limit, all with the core's defaults but one
 * (SRP_DEFAULT_MAX_PAGES_TOTAL).
 *
 * The apply callback validates the new values with sr_options_validate();
 * a value the core refuses is put back to the last accepted one and
 * report_warning() names it. The core itself is rebuilt from the accepted
 * values by the init routine, which Wireshark runs after every change.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SRP_PREFS_H
#define SRP_PREFS_H

#include <stddef.h>

#include <glib.h>

#include "safereasm.h"

/* The plugin's default for max_buffered_pages_total, below the core's
 * SR_DEFAULT_MAX_PAGES_TOTAL (50000): 57 MB of pages at the default page
 * size instead of 95 MB, so that tshark with the plugin stays within 1.5x
 * of tshark without it on a capture that fills every page (measured in
 * docs/plugin.md, "Memory"). Only a capture buffering more than this many
 * pages at once sees a difference: earlier forced skips (limit_total). */
#define SRP_DEFAULT_MAX_PAGES_TOTAL 30000

/* Register the preferences of protocol proto (call from proto_register). */
void srp_prefs_register(int proto);

/* The accepted values (always valid for the core), after checking any
 * value set since the last check. */
void srp_prefs_get(sr_options *options, size_t *max_connections);

/* The detect_divergence preference: run the other overlap policies too. */
gboolean srp_prefs_detect_divergence(void);

/* The max_retained_kib preference, in bytes: the most released bytes the
 * plugin keeps in its records (see driver.h). */
guint64 srp_prefs_max_retained(void);

#endif /* SRP_PREFS_H */
