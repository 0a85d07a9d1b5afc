/* safereasm-plugin.h - entry points the loader (plugin.c) calls.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SRP_PLUGIN_H
#define SRP_PLUGIN_H

/* The tap the dissector queues its records on, and the statistics tree's
 * tap name: "safereasm". */
#define SRP_TAP_NAME "safereasm"

/* packet-safereasm.c: protocol, fields, preferences, routines. */
void srp_proto_register(void);
void srp_proto_handoff(void);

/* stats.c: the statistics tree (a tap plugin). */
void srp_stats_register(void);

#endif /* SRP_PLUGIN_H */
