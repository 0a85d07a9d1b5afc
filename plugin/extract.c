/* extract.c - one generic field extractor and the top-level walk.
 *
 * The extractor is table driven: every field we read is a row of
 * field_table (abbreviation -> hfid); collect() fills one field_info
 * pointer per row from the direct children of a protocol node. Typed
 * accessors check the field type and the pointer before reading.
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
    F_IP_SRC, F_IP_DST, F_IPV6_SRC, F_IPV6_DST,
    F_TCP_SRCPORT, F_TCP_DSTPORT, F_TCP_SEQ_RAW, F_TCP_ACK_RAW, F_TCP_FLAGS,
    F_TCP_LEN, F_TCP_HDR_LEN, F_TCP_PAYLOAD, F_TCP_STREAM,
    F_VLAN_ID, F_8021AD_ID, F_VXLAN_VNI,
    F_COUNT
} srp_field;

static struct {
    const char *abbrev;
    gboolean required;  /* the plugin cannot work without it */
    int hf;
} field_table[F_COUNT] = {
    [F_IP_SRC] = { "ip.src", TRUE, -1 },
    [F_IP_DST] = { "ip.dst", TRUE, -1 },
    [F_IPV6_SRC] = { "ipv6.src", TRUE, -1 },
    [F_IPV6_DST] = { "ipv6.dst", TRUE, -1 },
    [F_TCP_SRCPORT] = { "tcp.srcport", TRUE, -1 },
    [F_TCP_DSTPORT] = { "tcp.dstport", TRUE, -1 },
    [F_TCP_SEQ_RAW] = { "tcp.seq_raw", TRUE, -1 },
    [F_TCP_ACK_RAW] = { "tcp.ack_raw", FALSE, -1 },
    [F_TCP_FLAGS] = { "tcp.flags", TRUE, -1 },
    [F_TCP_LEN] = { "tcp.len", TRUE, -1 },
    [F_TCP_HDR_LEN] = { "tcp.hdr_len", FALSE, -1 },
    [F_TCP_PAYLOAD] = { "tcp.payload", TRUE, -1 },
    [F_TCP_STREAM] = { "tcp.stream", FALSE, -1 },
    [F_VLAN_ID] = { "vlan.id", FALSE, -1 },
    [F_8021AD_ID] = { "ieee8021ad.id", FALSE, -1 },
    [F_VXLAN_VNI] = { "vxlan.vni", FALSE, -1 },
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
    if (proto_table[P_TCP].id < 0)
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
    /* The protocols too: their nodes' field_info (data source, offset) is
     * what the payload and the frame bytes are located from, and 4.6 gives
     * an unreferenced node none (ws-compat.h). */
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

/* IPv4 address as fvalue_get_uinteger() gives it: network byte order. */
static gboolean
get_ipv4(field_info *fi, guint32 *be)
{
    if (fi == NULL || fi->hfinfo == NULL || fi->hfinfo->type != FT_IPv4)
        return FALSE;
    *be = srp_fvalue_ipv4_be(fi);
    return TRUE;
}

static gboolean
get_ipv6(field_info *fi, guint8 out[16])
{
    const guint8 *p;

    if (fi == NULL || fi->hfinfo == NULL || fi->hfinfo->type != FT_IPv6)
        return FALSE;
    p = srp_fvalue_ipv6(fi);
    if (p == NULL)
        return FALSE;
    memcpy(out, p, 16);
    return TRUE;
}

/* The bytes a field covers in its data source, if all were captured. */
static gboolean
get_span(const field_info *fi, const guint8 **p, guint *len)
{
    if (fi == NULL || fi->ds_tvb == NULL || fi->start < 0 || fi->length <= 0)
        return FALSE;
    if (!tvb_bytes_exist(fi->ds_tvb, fi->start, fi->length))
        return FALSE;
    *p = tvb_get_ptr(fi->ds_tvb, fi->start, fi->length);
    *len = (guint)fi->length;
    return *p != NULL;
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

/* An IP header that carries another IP header (a tunnel): its address pair,
 * smaller address first, so both directions of the tunnel hash alike. */
static void
zone_add_outer_ip(zone_hash *z, const proto_node *ip, int proto)
{
    field_info *f[F_COUNT];
    guint8 a[16], b[16];
    size_t n;

    collect(ip, f);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    if (proto == P_IP) {
        guint32 s, d;

        if (!get_ipv4(f[F_IP_SRC], &s) || !get_ipv4(f[F_IP_DST], &d))
            return;
        memcpy(a, &s, 4);
        memcpy(b, &d, 4);
        n = 4;
    } else {
        if (!get_ipv6(f[F_IPV6_SRC], a) || !get_ipv6(f[F_IPV6_DST], b))
            return;
        n = 16;
    }
    if (memcmp(a, b, n) <= 0) {
        zone_add(z, 'I', a, n);
        zone_add(z, 'I', b, n);
    } else {
        zone_add(z, 'I', b, n);
        zone_add(z, 'I', a, n);
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

static gboolean
make_segment(const proto_node *tcp, const proto_node *ip, int ip_proto,
             guint32 zone, const packet_info *pinfo, srp_seg_input *out)
{
    field_info *f[F_COUNT];
    field_info *ipf[F_COUNT];
    field_info *tcp_fi = PNODE_FINFO(tcp);
    guint32 sport, dport, seq, flags, len, ack = 0, hdr_len = 0;
    const guint8 *payload = NULL;
    guint payload_len = 0;

    memset(out, 0, sizeof *out);
    if (ip == NULL || tcp_fi == NULL)
        return FALSE;
    collect(tcp, f);
    /* A header cut short (snaplen, malformed) may stop before any of these. */
    if (!get_uint(f[F_TCP_SRCPORT], &sport) || !get_uint(f[F_TCP_DSTPORT], &dport) ||
        !get_uint(f[F_TCP_SEQ_RAW], &seq) || !get_uint(f[F_TCP_FLAGS], &flags) ||
        !get_uint(f[F_TCP_LEN], &len))
        return FALSE;
    (void)get_uint(f[F_TCP_ACK_RAW], &ack);
    if (!get_uint(f[F_TCP_STREAM], &out->tcp_stream))
        out->tcp_stream = G_MAXUINT32;

    collect(ip, ipf);
    if (ip_proto == P_IP) {
        guint32 s, d;

        if (!get_ipv4(ipf[F_IP_SRC], &s) || !get_ipv4(ipf[F_IP_DST], &d))
            return FALSE;
        sr_flow_set_ipv4(&out->flow, s, (uint16_t)sport, d, (uint16_t)dport);
    } else {
        guint8 s[16], d[16];

        if (!get_ipv6(ipf[F_IPV6_SRC], s) || !get_ipv6(ipf[F_IPV6_DST], d))
            return FALSE;
        sr_flow_set_ipv6(&out->flow, s, (uint16_t)sport, d, (uint16_t)dport);
    }
    out->flow.zone = zone;

    if (get_span(f[F_TCP_PAYLOAD], &payload, &payload_len) &&
        f[F_TCP_PAYLOAD]->ds_tvb == tcp_fi->ds_tvb && f[F_TCP_PAYLOAD]->start >= tcp_fi->start) {
        out->payload_source = SRP_PAYLOAD_FIELD;
        out->payload_rel = (guint32)(f[F_TCP_PAYLOAD]->start - tcp_fi->start);
    } else if ((flags & SR_TCP_RST) && len > 0 && get_uint(f[F_TCP_HDR_LEN], &hdr_len) &&
               hdr_len >= 20 && hdr_len <= 60 && tcp_fi->length >= (gint)hdr_len &&
               tcp_fi->ds_tvb != NULL && tcp_fi->start >= 0) {
        /* TCP puts no tcp.payload on a RST that carries data (it adds
         * tcp.reset_cause instead), yet the data is stream data. The tcp
         * item starts at the TCP header in its data source (its length is
         * the header length only in a visible tree: proto_item_set_len()
         * does nothing in a faked one), so the payload starts tcp.hdr_len
         * bytes after the item's start; read only what was captured, and
         * at most tcp.len bytes (never an Ethernet trailer). */
        gint off = tcp_fi->start + (gint)hdr_len;
        gint avail = tvb_captured_length_remaining(tcp_fi->ds_tvb, off);

        if (avail > 0) {
            guint n = MIN((guint)avail, len);

            payload = tvb_get_ptr(tcp_fi->ds_tvb, off, (gint)n);
            if (payload != NULL) {
                payload_len = n;
                out->payload_source = SRP_PAYLOAD_RST_TVB;
                out->payload_rel = hdr_len;
            }
        }
    }
    /* Otherwise the payload was not captured (or the field is not where
     * the tcp item is): hand the core 0 captured bytes and the claimed
     * length, which it reports as a gap. */
    if (out->payload_source == SRP_PAYLOAD_NONE) {
        payload = NULL;
        payload_len = 0;
    }
    if (payload_len > len)
        len = payload_len;

    out->seg.seq = seq;
    out->seg.ack = ack;
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

    for (const proto_node *n = root->first_child; n != NULL; n = n->next) {
        field_info *f[F_COUNT];
        guint32 v;
        int p = proto_of(n);

        switch (p) {
        case P_VLAN:
            collect(n, f);
            if (get_uint(f[F_VLAN_ID], &v))
                zone_add_u32(&zone, 'V', v);
            break;
        case P_8021AD:
            collect(n, f);
            if (get_uint(f[F_8021AD_ID], &v))
                zone_add_u32(&zone, 'S', v);
            break;
        case P_VXLAN:
            collect(n, f);
            if (get_uint(f[F_VXLAN_VNI], &v))
                zone_add_u32(&zone, 'X', v);
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
