/* version.c - sr_version(): the version of the library that is running.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#include "safereasm.h"

/* Compiled into the library, so a program built against one header and run
 * with another libsafereasm.so.0 sees the library's version, not its own. */
const char *sr_version(void)
{
    return SR_VERSION_STRING;
}
