/* digest.h - the sha256 digest of a layer file, which names it in the layer
 * store and in its children's layer.json (DESIGN.md §2).  Any privilege;
 * reads through an fd the caller opened. */
#ifndef LABRUN_DIGEST_H
#define LABRUN_DIGEST_H

#include <stddef.h>

#include "error.h"
#include "imageconfig.h" /* LR_DIGEST_HEX_LEN */

/* sha256 of the whole file open at fd (read from offset 0 with pread, so
 * the fd's position is untouched), as lower-case hex. */
int lr_digest_fd(int fd, char hex[LR_DIGEST_HEX_LEN + 1], struct lr_error *err);

/* sha256 of a stream (an archive's blob while it is read). */
struct lr_sha256;
struct lr_sha256 *lr_sha256_new(void); /* NULL when out of memory */
int lr_sha256_update(struct lr_sha256 *h, const void *buf, size_t len);
int lr_sha256_final(struct lr_sha256 *h, char hex[LR_DIGEST_HEX_LEN + 1]);
void lr_sha256_free(struct lr_sha256 *h);

#endif
