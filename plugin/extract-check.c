/* extract-check.c - a self-check of extract.c, built only with
 * -DSRP_CHECK_EXTRACT (tests/plugin/check-extract.sh): the field-reading
 * extractor the plugin used before it read the headers from the bytes,
 * run on the same tree, every segment compared with what make_segment()
 * made. A difference is logged as a warning ("safereasm check: ...").
 * Included by extract.c; not a translation unit of its own.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdio.h>
#include <stdlib.h>

static gboolean
old_get_ipv4(field_info *fi, guint32 *be)
{
    if (fi == NULL || fi->hfinfo == NULL || fi->hfinfo->type != FT_IPv4)
        return FALSE;
    *be = srp_fvalue_ipv4_be(fi);
    return TRUE;
}

static gboolean
old_get_ipv6(field_info *fi, guint8 out[16])
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

static gboolean
old_get_span(const field_info *fi, const guint8 **p, guint *len)
{
    if (fi == NULL || fi->ds_tvb == NULL || fi->start < 0 || fi->length <= 0)
        return FALSE;
    if (!tvb_bytes_exist(fi->ds_tvb, fi->start, fi->length))
        return FALSE;
    *p = tvb_get_ptr(fi->ds_tvb, fi->start, fi->length);
    *len = (guint)fi->length;
    return *p != NULL;
}

static void
old_zone_add_outer_ip(zone_hash *z, const proto_node *ip, int proto)
{
    field_info *f[F_COUNT];
    guint8 a[16], b[16];

    collect(ip, f);
    if (proto == P_IP) {
        guint32 s, d;

        if (!old_get_ipv4(f[F_IP_SRC], &s) || !old_get_ipv4(f[F_IP_DST], &d))
            return;
        memcpy(a, &s, 4);
        memcpy(b, &d, 4);
        zone_add_pair(z, a, b, 4);
    } else {
        if (!old_get_ipv6(f[F_IPV6_SRC], a) || !old_get_ipv6(f[F_IPV6_DST], b))
            return;
        zone_add_pair(z, a, b, 16);
    }
}

static gboolean
old_make_segment(const proto_node *tcp, const proto_node *ip, int ip_proto,
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

        if (!old_get_ipv4(ipf[F_IP_SRC], &s) || !old_get_ipv4(ipf[F_IP_DST], &d))
            return FALSE;
        sr_flow_set_ipv4(&out->flow, s, (uint16_t)sport, d, (uint16_t)dport);
    } else {
        guint8 s[16], d[16];

        if (!old_get_ipv6(ipf[F_IPV6_SRC], s) || !old_get_ipv6(ipf[F_IPV6_DST], d))
            return FALSE;
        sr_flow_set_ipv6(&out->flow, s, (uint16_t)sport, d, (uint16_t)dport);
    }
    out->flow.zone = zone;

    if (old_get_span(f[F_TCP_PAYLOAD], &payload, &payload_len) &&
        f[F_TCP_PAYLOAD]->ds_tvb == tcp_fi->ds_tvb && f[F_TCP_PAYLOAD]->start >= tcp_fi->start) {
        out->payload_source = SRP_PAYLOAD_FIELD;
        out->payload_rel = (guint32)(f[F_TCP_PAYLOAD]->start - tcp_fi->start);
    } else if ((flags & SR_TCP_RST) && len > 0 && get_uint(f[F_TCP_HDR_LEN], &hdr_len) &&
               hdr_len >= 20 && hdr_len <= 60 && tcp_fi->length >= (gint)hdr_len &&
               tcp_fi->ds_tvb != NULL && tcp_fi->start >= 0) {
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

static guint64 check_segments, check_differences;

static void
check_one(guint frame, guint ord, gboolean made_new, const srp_seg_input *a,
          gboolean made_old, const srp_seg_input *b)
{
    const char *what = NULL;

    if (made_new != made_old)
        what = "made";
    else if (!made_new)
        return;
    else if (memcmp(&a->flow, &b->flow, sizeof a->flow) != 0)
        what = "flow";
    else if (a->seg.seq != b->seg.seq || a->seg.ack != b->seg.ack || a->seg.flags != b->seg.flags)
        what = "header";
    else if (a->seg.payload_len != b->seg.payload_len ||
             (a->seg.payload_len > 0 &&
              memcmp(a->seg.payload, b->seg.payload, a->seg.payload_len) != 0))
        what = "payload";
    else if (a->seg.claimed_len != b->seg.claimed_len || a->claimed_len != b->claimed_len ||
             a->tcp_stream != b->tcp_stream || a->payload_rel != b->payload_rel ||
             a->payload_source != b->payload_source || a->seg.timestamp != b->seg.timestamp)
        what = "lengths";
    check_segments++;
    if (what == NULL)
        return;
    check_differences++;
    ws_warning("safereasm check: frame %u tcp layer %u differs (%s): new made=%d len=%u "
               "captured=%u source=%u, old made=%d len=%u captured=%u source=%u",
               frame, ord, what, made_new, (unsigned)a->seg.claimed_len,
               (unsigned)a->seg.payload_len, a->payload_source, made_old,
               (unsigned)b->seg.claimed_len, (unsigned)b->seg.payload_len, b->payload_source);
}

/* The totals so far, into the file $SRP_CHECK_OUT (rewritten per frame,
 * so the last frame's totals are there at the end): the script reads it. */
static void
check_report(void)
{
    const char *path = getenv("SRP_CHECK_OUT");
    FILE *f;

    if (path == NULL || (f = fopen(path, "w")) == NULL)
        return;
    fprintf(f, "safereasm check: %" PRIu64 " segments compared, %" PRIu64 " differ\n",
            check_segments, check_differences);
    fclose(f);
}

static void
check_frame(proto_tree *root, const packet_info *pinfo)
{
    const proto_node *ip = NULL;
    int ip_proto = -1;
    zone_hash zn = { 0, FALSE }, zo = { 0, FALSE };
    guint ord = 0;

    for (const proto_node *n = root->first_child; n != NULL; n = n->next) {
        field_info *f[F_COUNT];
        guint32 v;
        int p = proto_of(n);

        switch (p) {
        case P_VLAN:
        case P_8021AD:
        case P_VXLAN:
            zone_add_tag(&zn, n, p);
            collect(n, f);
            if (get_uint(f[p == P_VLAN ? F_VLAN_ID : p == P_8021AD ? F_8021AD_ID : F_VXLAN_VNI], &v))
                zone_add_u32(&zo, p == P_VLAN ? 'V' : p == P_8021AD ? 'S' : 'X', v);
            break;
        case P_IP:
        case P_IPV6:
            if (ip != NULL) {
                zone_add_outer_ip(&zn, ip, ip_proto);
                old_zone_add_outer_ip(&zo, ip, ip_proto);
            }
            ip = n;
            ip_proto = p;
            break;
        case P_TCP: {
            srp_seg_input a, b;
            gboolean ma = make_segment(n, ip, ip_proto, zone_value(&zn), pinfo, &a);
            gboolean mb = old_make_segment(n, ip, ip_proto, zone_value(&zo), pinfo, &b);

            check_one(pinfo->num, ord, ma, &a, mb, &b);
            ord++;
            break;
        }
        default:
            break;
        }
    }
    check_report();
}

