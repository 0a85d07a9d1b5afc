/* plugin.c - what Wireshark's plugin loader looks up, and nothing else.
 *
 * wsutil/plugins.c opens every .so in <plugindir>/<major>.<minor>/epan and
 * resolves plugin_version, plugin_want_major, plugin_want_minor and
 * plugin_register (and, from 4.2 on, plugin_describe). The dissector itself
 * lives in packet-safereasm.c; version differences in ws-compat.h.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: GPL-2.0-or-later
 */
#define WS_BUILD_DLL
#include <wireshark.h>

#include <epan/proto.h>
#include <epan/tap.h>

#include "safereasm-plugin.h"
#include "ws-compat.h"

#ifndef SR_PLUGIN_VERSION
#define SR_PLUGIN_VERSION "0.1.0"
#endif

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = SR_PLUGIN_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;

WS_DLL_PUBLIC void plugin_register(void);

#if SRP_PLUGIN_DESCRIBE
WS_DLL_PUBLIC uint32_t plugin_describe(void);

uint32_t
plugin_describe(void)
{
    return WS_PLUGIN_DESC_DISSECTOR | WS_PLUGIN_DESC_TAP_LISTENER;
}
#endif

void
plugin_register(void)
{
    /* Both structs must outlive the call: the loader keeps the pointers. */
    static proto_plugin proto = {
        .register_protoinfo = srp_proto_register,
        .register_handoff = srp_proto_handoff,
    };
    static tap_plugin tap = {
        .register_tap_listener = srp_stats_register,
    };

    proto_register_plugin(&proto);
    tap_register_plugin(&tap);
}
