/* layerd_wire.h - private to the node's layer service and its client
 * (layerd.c, layerd_client.c): one request (the digests) and one reply
 * (a code per layer, and the mounts as SCM_RIGHTS), SOCK_SEQPACKET. */
#ifndef LABRUN_LAYERD_WIRE_H
#define LABRUN_LAYERD_WIRE_H

#include <stdint.h>

#include "digest.h"
#include "layerd.h"
#include "layers.h"

#define LAYERD_MAGIC 0x31646c72u /* "rld1" */

struct layerd_request {
	uint32_t magic;
	uint32_t n;
	char hex[LR_MAX_LAYERS][LR_DIGEST_HEX_LEN + 1]; /* "": not asked */
};

struct layerd_reply {
	uint32_t magic;
	uint32_t n;
	int32_t code[LR_MAX_LAYERS]; /* 0: a mount follows, in order */
	char why[LR_MAX_LAYERS][LR_LAYERD_WHY_LEN];
};

#endif
