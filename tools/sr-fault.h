/* sr-fault.h - a testing aid shared by safereasm-pcap and the plugin: an
 * sr_allocator that fails the Nth allocation the core asks for, chosen by
 * the environment variable SAFEREASM_FAULT_NTH (read once).
 *
 *   SAFEREASM_FAULT_NTH=N    the Nth core allocation of the process fails
 *                            (counting from 1), every other one succeeds
 *   SAFEREASM_FAULT_NTH=N+   the Nth and every later one fail
 *   SAFEREASM_FAULT_NTH=0    nothing fails; only counted
 *
 * When the variable is set, the process prints one line on stderr at exit:
 * "safereasm: fault injection SAFEREASM_FAULT_NTH=<v>: <n> core
 * allocations, <f> failed". Unset (the normal case), sr_fault_allocator()
 * returns NULL and the core uses malloc/free as always.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
 */
#ifndef SR_FAULT_H
#define SR_FAULT_H

#include "safereasm.h"

/* The allocator to hand to sr_pool_new_with_allocator(), or NULL when
 * SAFEREASM_FAULT_NTH is not set (or not a number). Thread-safe. */
const sr_allocator *sr_fault_allocator(void);

#endif /* SR_FAULT_H */
