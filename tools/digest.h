/* digest.h - the SHA-256 of each direction's stream: OpenSSL's libcrypto
 * when the build found it (hardware SHA extensions where the CPU has them),
 * GLib's portable GChecksum otherwise. Same digests either way.
 *
 * Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause */
#ifndef SP_DIGEST_H
#define SP_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sp_digest sp_digest;

/* A new SHA-256 context, or NULL when out of memory. */
sp_digest *sp_digest_new(void);
void sp_digest_update(sp_digest *d, const void *data, size_t len);
/* Write the lowercase hex digest (64 characters + NUL) and free d. */
void sp_digest_finish(sp_digest *d, char hex[65]);
/* Free without a result. NULL is a no-op. */
void sp_digest_free(sp_digest *d);
/* "libcrypto" or "glib": which implementation this build uses. */
const char *sp_digest_backend(void);

#endif
