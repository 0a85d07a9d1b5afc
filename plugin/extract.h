/* extract.h - turn the top level of a dissected frame into core segments.
 *
 * Only protocol nodes that are direct children of the root are looked at,
 * so a TCP header quoted inside an ICMP error (which sits under the icmp
 * node) is never taken for a segment. Each top-level tcp node is paired
 * with the last ip/ipv6 node before it; the VLAN tags, VXLAN ids and outer
 * IP addresses before that give the zone.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SRP_EXTRACT_H
#define SRP_EXTRACT_H

#include <epan/packet.h>

#include "record.h"
#include "safereasm.h"

typedef struct srp_seg_input {
    sr_flow flow;
    sr_segment seg;           /* seg.payload points into a tvb of this frame */
    guint32 claimed_len;      /* tcp.len */
    guint32 tcp_stream;       /* tcp.stream, G_MAXUINT32 if absent */
    guint32 payload_rel;      /* payload start minus the tcp item's start, in
                                 the tcp item's data source */
    guint8 payload_source;    /* srp_payload_source */
    guint8 tcp_ordinal;       /* which top-level TCP layer of the frame (0, 1..) */
} srp_seg_input;

typedef struct srp_frame_input {
    guint n_segs;
    guint n_ignored;          /* top-level TCP layers beyond the array, or unusable */
    srp_seg_input segs[SRP_MAX_SEGS_PER_FRAME];
} srp_frame_input;

/* Look up the ids of the fields and protocols we read. Call from handoff
 * (all built-in dissectors are registered by then). Returns FALSE if a
 * field we cannot do without is unknown; the plugin then stays idle. */
gboolean srp_extract_init(void);

/* A new array of the field ids to prime, for set_postdissector_wanted_hfids()
 * (which takes ownership), or NULL if srp_extract_init() failed. */
GArray *srp_extract_wanted_hfids(void);

/* The bytes at offset rel after the start of the frame's ordinal-th
 * top-level TCP layer, if all n were captured; NULL otherwise. Works on
 * every pass: protocol items at the top of the tree are never faked. */
const guint8 *srp_extract_frame_bytes(proto_tree *root, guint ordinal, guint32 rel,
                                      guint64 n);

/* Fill *out from the frame's tree. Only valid on the first pass, where the
 * wanted fields are primed and therefore real (not faked). Never throws:
 * every tvb access is bounds-checked first. */
void srp_extract_frame(proto_tree *root, const packet_info *pinfo,
                       srp_frame_input *out);

#endif /* SRP_EXTRACT_H */
