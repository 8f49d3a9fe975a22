/* digest.h - the sha256 digest of a layer file, which names it in the layer
 * store and in its children's layer.json (DESIGN.md §2).  Any privilege;
 * reads through an fd the caller opened. */
#ifndef LABRUN_DIGEST_H
#define LABRUN_DIGEST_H

#include "error.h"
#include "imageconfig.h" /* LR_DIGEST_HEX_LEN */

/* sha256 of the whole file open at fd (read from offset 0 with pread, so
 * the fd's position is untouched), as lower-case hex. */
int lr_digest_fd(int fd, char hex[LR_DIGEST_HEX_LEN + 1], struct lr_error *err);

#endif
