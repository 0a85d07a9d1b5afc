/* decode.h - link/IP/TCP decoding for safereasm-pcap: one captured frame in,
 * one TCP segment (flow + segment fields) or a counted reason out.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 *
 * Pure functions, no state: safe from any thread. The decoded payload
 * points into the caller's frame buffer (borrowed, valid as long as it).
 */
#ifndef SP_DECODE_H
#define SP_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "safereasm.h"

/* Every outcome of decoding one frame: name, description. One table makes
 * the enum, the counter struct and the statistics lines. */
#define SP_DECODE_MAP(XX)                                                      \
    XX(tcp, "TCP segments decoded")                                           \
    XX(not_ip, "Frames carrying neither IPv4 nor IPv6 (ARP, LLDP, ...)")      \
    XX(not_tcp, "IP packets of another protocol (UDP, SCTP, ...)")            \
    XX(icmp, "ICMP/ICMPv6 packets (quoted TCP headers are ignored)")          \
    XX(ipv4_fragments, "IPv4 fragments (not reassembled, skipped)")           \
    XX(ipv6_fragments, "IPv6 fragments (not reassembled, skipped)")           \
    XX(truncated, "Frames cut before the TCP flags (snaplen), skipped")       \
    XX(malformed, "Frames with impossible header fields, skipped")            \
    XX(unsupported_link, "Frames of an unsupported link type, skipped")       \
    XX(unsupported_encap, "Encapsulations not decoded (GRE types, ESP...)")   \
    XX(snaplen_cut, "TCP segments whose payload was cut by snaplen")          \
    XX(tso_length, "IP length 0 (TSO/GSO capture): frame length used")      \
    XX(short_frame, "IP length beyond the frame on the wire: frame end used")

typedef enum sp_decode_result {
#define SP__XX(name, desc) SP_DEC_##name,
    SP_DECODE_MAP(SP__XX)
#undef SP__XX
    SP_DEC_COUNT_
} sp_decode_result;

typedef struct sp_segment {
    sr_flow flow;          /* zone = VLAN ids (0 when untagged) */
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;         /* SR_TCP_* */
    const uint8_t *payload;/* borrowed from the frame */
    size_t payload_len;    /* captured payload bytes */
    size_t claimed_len;    /* payload length the IP header claims */
    unsigned notes;        /* SP_NOTE_* */
} sp_segment;

enum {
    SP_NOTE_SNAPLEN_CUT = 0x01, /* claimed_len > payload_len */
    SP_NOTE_TSO_LENGTH = 0x02,  /* IP length 0: used the frame length */
    SP_NOTE_SHORT_FRAME = 0x04, /* frame shorter on the wire than the IP length */
};

/* Decode one frame of link type `dlt` (a DLT_* value from pcap_datalink()),
 * caplen bytes captured of wirelen on the wire. Returns SP_DEC_tcp and fills
 * *out, or another SP_DEC_* value and, for truncated/malformed/unsupported
 * frames, a static message in *why; *out is then unspecified. */
sp_decode_result sp_decode(int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
                           sp_segment *out, const char **why);

const char *sp_decode_name(sp_decode_result r);
const char *sp_decode_desc(sp_decode_result r);

/* Symmetric hash of a flow (both directions hash alike), zone included. */
uint32_t sp_flow_hash(const sr_flow *f);

#endif
