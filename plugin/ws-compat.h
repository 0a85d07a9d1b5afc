/* ws-compat.h - every Wireshark API difference between the releases the
 * plugin supports (4.0, 4.4, 4.6), in one place, keyed on Wireshark's own
 * version macros. The rest of the plugin is written once against these.
 *
 *   what                         4.0                     4.4 / 4.6
 *   field_info.value             fvalue_t (embedded)     fvalue_t * (pointer)
 *   IPv4 field value             uinteger, network order ipv4_addr_and_mask, host order
 *   IPv6 field value             bytes                   ipv6_addr_and_prefix
 *   bool preference variable     gboolean (4 bytes)      bool (1 byte)
 *   format_text() data           const guchar *          const char *
 *   plugin_describe()            absent                  exported by the plugin
 *
 *   what                         4.0 / 4.4               4.6
 *   a tree node's field          node->finfo->hfinfo     node->hfinfo; node->finfo
 *                                                        is NULL in a hidden tree
 *                                                        unless the field is primed
 *                                                        (protocols included)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SRP_WS_COMPAT_H
#define SRP_WS_COMPAT_H

#include <stdbool.h>

#include <epan/proto.h>
#include <ws_version.h>

#define SRP_WS_AT_LEAST(maj, min)                                              \
    (WIRESHARK_VERSION_MAJOR > (maj) ||                                        \
     (WIRESHARK_VERSION_MAJOR == (maj) && WIRESHARK_VERSION_MINOR >= (min)))

#if SRP_WS_AT_LEAST(4, 4)
#include <wsutil/inet_cidr.h>
#include <wsutil/plugins.h>

typedef bool srp_pref_bool;
#define SRP_PLUGIN_DESCRIBE 1

static inline guint32 srp_fvalue_uint(field_info *fi)
{
    return fvalue_get_uinteger(fi->value);
}

/* Network byte order, as 4.0 gives it. */
static inline guint32 srp_fvalue_ipv4_be(field_info *fi)
{
    const ipv4_addr_and_mask *a = fvalue_get_ipv4(fi->value);
    return a ? g_htonl(a->addr) : 0;
}

static inline const guint8 *srp_fvalue_ipv6(field_info *fi)
{
    const ipv6_addr_and_prefix *a = fvalue_get_ipv6(fi->value);
    return a ? a->addr.bytes : NULL;
}
#elif WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR == 0
typedef gboolean srp_pref_bool;
#define SRP_PLUGIN_DESCRIBE 0

static inline guint32 srp_fvalue_uint(field_info *fi)
{
    return fvalue_get_uinteger(&fi->value);
}

static inline guint32 srp_fvalue_ipv4_be(field_info *fi)
{
    return fvalue_get_uinteger(&fi->value);
}

static inline const guint8 *srp_fvalue_ipv6(field_info *fi)
{
    return fvalue_get_bytes(&fi->value);
}
#else
#error "safereasm supports Wireshark 4.0, 4.4 and 4.6"
#endif

/* Which field a tree node is, or NULL. From 4.6 on a node of a hidden
 * (not printed) tree carries its header_field_info itself and gets a
 * field_info only if someone referenced the field: -T fields, -Y and taps
 * no longer see our TCP/IP nodes' finfo unless we prime those protocols
 * (srp_extract_wanted_hfids does, SRP_PRIME_PROTOCOLS). */
static inline const header_field_info *srp_node_hfinfo(const proto_node *node)
{
#if SRP_WS_AT_LEAST(4, 6)
    return node->hfinfo;
#else
    const field_info *fi = PNODE_FINFO(node);

    return fi != NULL ? fi->hfinfo : NULL;
#endif
}

/* Want the protocols whose top-level nodes we read: 4.6 only (above).
 * Before, those nodes always have a field_info, and wanting a protocol
 * makes its dissector build its faked subtree (docs/plugin.md, "Time"). */
#define SRP_PRIME_PROTOCOLS SRP_WS_AT_LEAST(4, 6)

/* 4.6 only: the wanted fields are primed on the first pass alone, so the
 * plugin primes the tcp protocol for later passes itself (sr_postseq). */
#define SRP_PRIME_TCP_LATER SRP_WS_AT_LEAST(4, 6)

/* The plugin's debug trace (--log-debug safereasm), which the tests read.
 * ws_debug() is compiled in on 4.0 unless WS_DISABLE_DEBUG, but from 4.2 on
 * only with WS_DEBUG, which would also turn on ws_assert() in Wireshark's
 * inline functions: the trace calls ws_log() itself, which checks the level
 * at run time as ws_debug() does. */
#define SRP_TRACE(...) ws_log(WS_LOG_DOMAIN, LOG_LEVEL_DEBUG, __VA_ARGS__)

/* format_text() of bytes, whichever pointer type this release takes. */
#define SRP_FORMAT_TEXT(scope, data, len) format_text((scope), (const void *)(data), (len))

#endif /* SRP_WS_COMPAT_H */
