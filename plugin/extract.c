/* extract.c - the top-level walk, reading TCP/IP headers from the bytes.
 *
 * The top-level protocol nodes we walk give, by their field_info, the
 * data source and the offset of each header (from 4.6 on only if we want
 * those protocols, ws-compat.h). Wireshark is asked
 * (set_postdissector_wanted_hfids) only for the two TCP values that are
 * not in the header bytes: tcp.len (the IP-bounded segment length; its presence also
 * says that TCP read its whole fixed header and was not handed an
 * unreassembled fragment) and tcp.stream. Ports, raw sequence and
 * acknowledgement numbers, flags, header length, addresses, VLAN and
 * 802.1ad ids and the VXLAN VNI are read from the captured bytes at the
 * nodes' offsets, each read bounds-checked first (nothing here throws). A
 * wanted field is a real item in every frame's tree, so each one dropped
 * here is work Wireshark no longer does per frame (docs/plugin.md, "Time").
 *
 * A segment is made exactly when the field-reading extractor made one:
 * the conditions Wireshark 4.0-4.6's TCP and IPv4 dissectors put on adding
 * those fields are reproduced below from the bytes (see make_segment and
 * ipv4_addrs). Building with -DSRP_CHECK_EXTRACT wants the old fields too
 * and compares the two per segment (tests/plugin/check-extract.sh).
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include <wireshark.h>
#include <epan/ftypes/ftypes.h>
#include <epan/packet.h>
#include <epan/proto.h>

#include "extract.h"
#include "ws-compat.h"

/* ------------------------------------------------------------ the tables */

typedef enum srp_field {
    F_TCP_LEN, F_TCP_STREAM,
#ifdef SRP_CHECK_EXTRACT
    F_IP_SRC, F_IP_DST, F_IPV6_SRC, F_IPV6_DST,
    F_TCP_SRCPORT, F_TCP_DSTPORT, F_TCP_SEQ_RAW, F_TCP_ACK_RAW, F_TCP_FLAGS,
    F_TCP_HDR_LEN, F_TCP_PAYLOAD, F_VLAN_ID, F_8021AD_ID, F_VXLAN_VNI,
#endif
    F_COUNT
} srp_field;

static struct {
    const char *abbrev;
    gboolean required;  /* the plugin cannot work without it */
    int hf;
} field_table[F_COUNT] = {
    [F_TCP_LEN] = { "tcp.len", TRUE, -1 },
    [F_TCP_STREAM] = { "tcp.stream", FALSE, -1 },
#ifdef SRP_CHECK_EXTRACT
    [F_IP_SRC] = { "ip.src", TRUE, -1 },
    [F_IP_DST] = { "ip.dst", TRUE, -1 },
    [F_IPV6_SRC] = { "ipv6.src", TRUE, -1 },
    [F_IPV6_DST] = { "ipv6.dst", TRUE, -1 },
    [F_TCP_SRCPORT] = { "tcp.srcport", TRUE, -1 },
    [F_TCP_DSTPORT] = { "tcp.dstport", TRUE, -1 },
    [F_TCP_SEQ_RAW] = { "tcp.seq_raw", TRUE, -1 },
    [F_TCP_ACK_RAW] = { "tcp.ack_raw", FALSE, -1 },
    [F_TCP_FLAGS] = { "tcp.flags", TRUE, -1 },
    [F_TCP_HDR_LEN] = { "tcp.hdr_len", FALSE, -1 },
    [F_TCP_PAYLOAD] = { "tcp.payload", TRUE, -1 },
    [F_VLAN_ID] = { "vlan.id", FALSE, -1 },
    [F_8021AD_ID] = { "ieee8021ad.id", FALSE, -1 },
    [F_VXLAN_VNI] = { "vxlan.vni", FALSE, -1 },
#endif
};

typedef enum srp_proto {
    P_IP, P_IPV6, P_TCP, P_VLAN, P_8021AD, P_VXLAN, P_COUNT
} srp_proto;

static struct {
    const char *filter_name;
    int id;
} proto_table[P_COUNT] = {
    [P_IP] = { "ip", -1 },
    [P_IPV6] = { "ipv6", -1 },
    [P_TCP] = { "tcp", -1 },
    [P_VLAN] = { "vlan", -1 },
    [P_8021AD] = { "ieee8021ad", -1 },
    [P_VXLAN] = { "vxlan", -1 },
};

static gboolean extract_ready;

gboolean
srp_extract_init(void)
{
    gboolean ok = TRUE;

    for (int i = 0; i < P_COUNT; i++)
        proto_table[i].id = proto_get_id_by_filter_name(proto_table[i].filter_name);
    for (int i = 0; i < F_COUNT; i++) {
        field_table[i].hf = proto_registrar_get_id_byname(field_table[i].abbrev);
        if (field_table[i].hf < 0 && field_table[i].required) {
            ws_warning("safereasm: field %s is not registered; plugin disabled",
                       field_table[i].abbrev);
            ok = FALSE;
        }
    }
    if (proto_table[P_TCP].id < 0 || proto_table[P_IP].id < 0 || proto_table[P_IPV6].id < 0)
        ok = FALSE;
    extract_ready = ok;
    return ok;
}

GArray *
srp_extract_wanted_hfids(void)
{
    GArray *a;

    if (!extract_ready)
        return NULL;
    a = g_array_new(FALSE, FALSE, (guint)sizeof(int));
    /* The protocols' nodes' field_info (data source, offset) is where the
     * headers are read from. Before 4.6 an item added at the top of the
     * tree is never faked, so every top-level protocol node has one
     * unasked; wanting the protocols there would only cost: a referenced
     * protocol builds its whole (faked) subtree, where IPv4, for one,
     * skips that when nobody refers to it (3.6k instructions a frame on
     * small frames, docs/plugin.md "Time"). 4.6 gives an unreferenced node
     * no field_info (ws-compat.h): want them there. */
    if (SRP_PRIME_PROTOCOLS)
        for (int i = 0; i < P_COUNT; i++)
            if (proto_table[i].id >= 0)
                g_array_append_val(a, proto_table[i].id);
    for (int i = 0; i < F_COUNT; i++)
        if (field_table[i].hf >= 0)
            g_array_append_val(a, field_table[i].hf);
    return a;
}

/* -------------------------------------------------- the generic extractor */

static int
proto_of(const proto_node *node)
{
    const header_field_info *hfi = node ? srp_node_hfinfo(node) : NULL;
    int id;

    if (hfi == NULL)
        return -1;
    id = hfi->id;
    for (int i = 0; i < P_COUNT; i++)
        if (proto_table[i].id >= 0 && proto_table[i].id == id)
            return i;
    return -1;
}

/* out[f] = the first direct child of node that is field f, or NULL. */
static void
collect(const proto_node *node, field_info *out[F_COUNT])
{
    memset(out, 0, sizeof(field_info *) * F_COUNT);
    if (node == NULL)
        return;
    for (const proto_node *c = node->first_child; c != NULL; c = c->next) {
        field_info *fi = PNODE_FINFO(c);
        int id;

        if (fi == NULL || fi->hfinfo == NULL)
            continue;
        id = fi->hfinfo->id;
        for (int f = 0; f < F_COUNT; f++) {
            if (field_table[f].hf == id && out[f] == NULL) {
                out[f] = fi;
                break;
            }
        }
    }
}

static gboolean
is_uint_type(enum ftenum t)
{
    return t == FT_UINT8 || t == FT_UINT16 || t == FT_UINT24 || t == FT_UINT32 ||
           t == FT_CHAR;
}

static gboolean
get_uint(field_info *fi, guint32 *v)
{
    if (fi == NULL || fi->hfinfo == NULL || !is_uint_type(fi->hfinfo->type))
        return FALSE;
    *v = srp_fvalue_uint(fi);
    return TRUE;
}

/* ------------------------------------------------------- header bytes */

/* The n bytes at rel after the start of node's header in its data source
 * (a protocol node starts where its header does), if all were captured;
 * NULL otherwise. Never throws. */
static const guint8 *
node_bytes(const proto_node *node, guint rel, guint n)
{
    const field_info *fi = node != NULL ? PNODE_FINFO(node) : NULL;
    gint off;

    if (fi == NULL || fi->ds_tvb == NULL || fi->start < 0 || n == 0 || n > (guint)G_MAXINT ||
        rel > (guint)(G_MAXINT - fi->start))
        return NULL;
    off = fi->start + (gint)rel;
    if (!tvb_bytes_exist(fi->ds_tvb, off, (gint)n))
        return NULL;
    return tvb_get_ptr(fi->ds_tvb, off, (gint)n);
}

/* Where the IPv4 dissector takes the destination address from, as its
 * get_dst_offset() does: an IPv4 header with a loose or strict source route
 * whose pointer is valid is going to the route's last address, which
 * Wireshark 4.0 makes ip.dst (and pinfo->dst, which TCP's conversations
 * use; the header's own destination becomes ip.cur_rt). Returns the offset
 * of the destination address in the header: 16, or the route's last
 * address. The walk, option by option over the captured options area:
 *
 *   +------+-----+-----+---------+-----+---------+
 *   | type | len | ptr | addr 1  | ... | addr n  |   type 0x83 (LSRR) or 0x89 (SSRR)
 *   +------+-----+-----+---------+-----+---------+   valid: ptr >= 4, ptr % 4 == 0,
 *                                      ^ len - 4            ptr <= len
 *
 * It stops (the header's destination) at an end-of-list, an option without
 * room for its length byte, a length below 2 or past the options area. */
static guint
ipv4_dst_offset(const guint8 *o, guint optlen)
{
    guint i = 0, left = optlen;

    while (left > 0) {
        guint8 opt = o[i];

        left--;
        if (opt == 0) /* end of option list */
            return 16;
        if (opt == 1) { /* no-operation */
            i++;
            continue;
        }
        if (left == 0)
            return 16;
        guint len = o[i + 1];
        left--;
        if (len < 2 || len - 2 > left)
            return 16;
        if (opt == 0x83 || opt == 0x89) {
            /* len < 4: the pointer Wireshark reads is past the option and,
             * whatever it is, fails ptr >= 4 && ptr <= len. */
            if (len < 4)
                return 16;
            guint8 ptr = o[i + 2];

            if (ptr < 4 || (ptr & 3) != 0 || ptr > len)
                return 16;
            return 20 + i + len - 4;
        }
        i += len;
        left -= len - 2;
    }
    return 16;
}

/* The addresses of an IPv4 header, where the IPv4 dissector adds ip.src
 * and ip.dst: version 4, header length at least 20, the header captured.
 * An IP header that hands its payload on always meets these. */
static gboolean
ipv4_addrs(const proto_node *ip, guint8 src[4], guint8 dst[4])
{
    const guint8 *h = node_bytes(ip, 0, 20);
    guint hlen, dst_at = 16;

    if (h == NULL || (h[0] >> 4) != 4)
        return FALSE;
    hlen = (h[0] & 0x0fu) * 4u;
    if (hlen < 20)
        return FALSE;
    if (hlen > 20) {
        /* Options not all captured: the dissector threw before handing
         * anything on, so no TCP node follows this header. */
        h = node_bytes(ip, 0, hlen);
        if (h == NULL)
            return FALSE;
        dst_at = ipv4_dst_offset(h + 20, hlen - 20);
    }
    memcpy(src, h + 12, 4);
    memcpy(dst, h + dst_at, 4);
    return TRUE;
}

/* The addresses of an IPv6 header: version 6, the fixed header captured
 * (the IPv6 dissector adds ipv6.src and ipv6.dst then). */
static gboolean
ipv6_addrs(const proto_node *ip, guint8 src[16], guint8 dst[16])
{
    const guint8 *h = node_bytes(ip, 0, 40);

    if (h == NULL || (h[0] >> 4) != 6)
        return FALSE;
    memcpy(src, h + 8, 16);
    memcpy(dst, h + 24, 16);
    return TRUE;
}

static guint32
be16(const guint8 *p)
{
    return ((guint32)p[0] << 8) | p[1];
}

static guint32
be32(const guint8 *p)
{
    return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

/* ------------------------------------------------------------ the zone */

/* FNV-1a over what tells two otherwise equal 4-tuples apart. */
typedef struct zone_hash {
    guint32 h;
    gboolean used;
} zone_hash;

static void
zone_add(zone_hash *z, guint8 tag, const guint8 *p, size_t n)
{
    if (!z->used) {
        z->h = 2166136261u;
        z->used = TRUE;
    }
    z->h = (z->h ^ tag) * 16777619u;
    for (size_t i = 0; i < n; i++)
        z->h = (z->h ^ p[i]) * 16777619u;
}

static void
zone_add_u32(zone_hash *z, guint8 tag, guint32 v)
{
    guint8 b[4] = { (guint8)(v >> 24), (guint8)(v >> 16), (guint8)(v >> 8), (guint8)v };

    zone_add(z, tag, b, sizeof b);
}

/* An address pair, smaller address first, so both directions of a tunnel
 * hash alike. */
static void
zone_add_pair(zone_hash *z, const guint8 *a, const guint8 *b, size_t n)
{
    if (memcmp(a, b, n) <= 0) {
        zone_add(z, 'I', a, n);
        zone_add(z, 'I', b, n);
    } else {
        zone_add(z, 'I', b, n);
        zone_add(z, 'I', a, n);
    }
}

/* An IP header that carries another IP header (a tunnel): its addresses. */
static void
zone_add_outer_ip(zone_hash *z, const proto_node *ip, int proto)
{
    guint8 a[16], b[16];

    if (proto == P_IP) {
        if (ipv4_addrs(ip, a, b))
            zone_add_pair(z, a, b, 4);
    } else if (ipv6_addrs(ip, a, b)) {
        zone_add_pair(z, a, b, 16);
    }
}

/* A VLAN (vlan.id), 802.1ad (ieee8021ad.id) or VXLAN (vxlan.vni) header's
 * id, from the bytes: the tag control information's low 12 bits at the
 * node's start, the VNI in bytes 4-6. */
static void
zone_add_tag(zone_hash *z, const proto_node *n, int p)
{
    const guint8 *b;

    if (p == P_VXLAN) {
        if ((b = node_bytes(n, 4, 3)) != NULL)
            zone_add_u32(z, 'X', ((guint32)b[0] << 16) | ((guint32)b[1] << 8) | b[2]);
    } else if ((b = node_bytes(n, 0, 2)) != NULL) {
        zone_add_u32(z, p == P_VLAN ? 'V' : 'S', be16(b) & 0x0fffu);
    }
}

static guint32
zone_value(const zone_hash *z)
{
    if (!z->used)
        return 0;
    return z->h != 0 ? z->h : 1; /* 0 means "no zone" */
}

/* ------------------------------------------------------------ segments */

/* The TCP header, read from the bytes at the tcp node:
 *
 *    0      2      4          8          12   13     14
 *   +------+------+----------+----------+----+------+---
 *   | sport| dport|   seq    |   ack    |off |flags | window ...
 *   +------+------+----------+----------+----+------+---
 *
 * A segment is made where the field reader made one, i.e. where the TCP
 * dissector added tcp.srcport/dstport/seq_raw/flags/len:
 *  - tcp.len is present: TCP read the header up to its flags at least (4.0
 *    and 4.4 read 16 bytes, through the window, before adding anything but
 *    the ports; 4.6 adds these fields with 14 captured), and the segment
 *    length is known (not an unreassembled IP fragment, not an ICMP quote,
 *    IP length not shorter than the header length); everything read here
 *    is in those first 14 bytes;
 *  - the header length is at least 20 (below that TCP stops before
 *    tcp.flags);
 *  - the IP header before it has both addresses (ipv4_addrs, ipv6_addrs).
 * The payload starts header-length bytes after the node's start; it is
 * what was captured of it, at most tcp.len bytes (never an Ethernet
 * trailer): the span tcp.payload (or, on a RST, tcp.reset_cause) covers. */
static gboolean
make_segment(const proto_node *tcp, const proto_node *ip, int ip_proto,
             guint32 zone, const packet_info *pinfo, srp_seg_input *out)
{
    field_info *f[F_COUNT];
    field_info *tcp_fi = PNODE_FINFO(tcp);
    const guint8 *h;
    guint32 len, hdr_len, flags;
    const guint8 *payload = NULL;
    guint payload_len = 0;

    memset(out, 0, sizeof *out);
    if (ip == NULL || tcp_fi == NULL)
        return FALSE;
    collect(tcp, f);
    if (!get_uint(f[F_TCP_LEN], &len))
        return FALSE;
    h = node_bytes(tcp, 0, 14);
    if (h == NULL)
        return FALSE;
    hdr_len = (guint32)(h[12] >> 4) * 4u;
    if (hdr_len < 20)
        return FALSE;
    if (!get_uint(f[F_TCP_STREAM], &out->tcp_stream))
        out->tcp_stream = G_MAXUINT32;

    if (ip_proto == P_IP) {
        guint8 s[4], d[4];
        guint32 sb, db;

        if (!ipv4_addrs(ip, s, d))
            return FALSE;
        memcpy(&sb, s, 4); /* network byte order, as the core takes it */
        memcpy(&db, d, 4);
        sr_flow_set_ipv4(&out->flow, sb, (uint16_t)be16(h), db, (uint16_t)be16(h + 2));
    } else {
        guint8 s[16], d[16];

        if (!ipv6_addrs(ip, s, d))
            return FALSE;
        sr_flow_set_ipv6(&out->flow, s, (uint16_t)be16(h), d, (uint16_t)be16(h + 2));
    }
    out->flow.zone = zone;
    flags = be16(h + 12) & 0x0fffu;

    if (len > 0 && tcp_fi->ds_tvb != NULL && tcp_fi->start >= 0 &&
        tcp_fi->start <= G_MAXINT - (gint)hdr_len) {
        gint off = tcp_fi->start + (gint)hdr_len;
        gint avail = tvb_captured_length_remaining(tcp_fi->ds_tvb, off);

        if (avail > 0) {
            guint n = MIN((guint)avail, len);

            payload = tvb_get_ptr(tcp_fi->ds_tvb, off, (gint)n);
            if (payload != NULL) {
                payload_len = n;
                out->payload_source = (flags & SR_TCP_RST) ? SRP_PAYLOAD_RST_TVB
                                                           : SRP_PAYLOAD_FIELD;
                out->payload_rel = hdr_len;
            }
        }
    }
    /* Otherwise the payload was not captured: hand the core 0 captured
     * bytes and the claimed length, which it reports as a gap. */
    if (payload_len > len)
        len = payload_len;

    out->seg.seq = be32(h + 4);
    out->seg.ack = be32(h + 8);
    out->seg.flags = (uint8_t)(flags & (SR_TCP_FIN | SR_TCP_SYN | SR_TCP_RST |
                                        SR_TCP_PSH | SR_TCP_ACK));
    out->seg.payload = payload_len ? payload : NULL;
    out->seg.payload_len = payload_len;
    out->seg.claimed_len = len;
    out->seg.timestamp = (sr_time)pinfo->abs_ts.secs * SR_USEC_PER_SEC +
                         (sr_time)(pinfo->abs_ts.nsecs / 1000);
    out->claimed_len = len;
    return TRUE;
}

#ifdef SRP_CHECK_EXTRACT
#include "extract-check.c"
#endif

const guint8 *
srp_extract_frame_bytes(proto_tree *root, guint ordinal, guint32 rel, guint64 n)
{
    guint k = 0;

    if (!extract_ready || root == NULL || n > G_MAXINT)
        return NULL;
    for (const proto_node *node = root->first_child; node != NULL; node = node->next) {
        const field_info *fi;
        gint off;

        if (proto_of(node) != P_TCP)
            continue;
        if (k++ != ordinal)
            continue;
        fi = PNODE_FINFO(node);
        if (fi == NULL || fi->ds_tvb == NULL || fi->start < 0 || rel > (guint32)G_MAXINT ||
            fi->start > G_MAXINT - (gint)rel)
            return NULL;
        off = fi->start + (gint)rel;
        if (!tvb_bytes_exist(fi->ds_tvb, off, (gint)n))
            return NULL;
        return tvb_get_ptr(fi->ds_tvb, off, (gint)n);
    }
    return NULL;
}

void
srp_extract_frame(proto_tree *root, const packet_info *pinfo, srp_frame_input *out)
{
    guint tcp_ordinal = 0;

    const proto_node *ip = NULL;
    int ip_proto = -1;
    zone_hash zone = { 0, FALSE };

    memset(out, 0, sizeof *out);
    if (!extract_ready || root == NULL)
        return;
#ifdef SRP_CHECK_EXTRACT
    check_frame(root, pinfo);
#endif

    for (const proto_node *n = root->first_child; n != NULL; n = n->next) {
        int p = proto_of(n);

        switch (p) {
        case P_VLAN:
        case P_8021AD:
        case P_VXLAN:
            zone_add_tag(&zone, n, p);
            break;
        case P_IP:
        case P_IPV6:
            /* The IP header before this one carries it: a tunnel. */
            if (ip != NULL)
                zone_add_outer_ip(&zone, ip, ip_proto);
            ip = n;
            ip_proto = p;
            break;
        case P_TCP:
            if (out->n_segs < SRP_MAX_SEGS_PER_FRAME && tcp_ordinal <= G_MAXUINT8 &&
                make_segment(n, ip, ip_proto, zone_value(&zone), pinfo,
                             &out->segs[out->n_segs])) {
                out->segs[out->n_segs].tcp_ordinal = (guint8)tcp_ordinal;
                out->n_segs++;
            } else {
                out->n_ignored++;
            }
            tcp_ordinal++;
            break;
        default:
            break;
        }
    }
}
