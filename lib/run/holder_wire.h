/* holder_wire.h - private to the layer holder (holder.c, holder_client.c,
 * holder_wire.c): the socket both ends use and the messages on it.
 *
 * The wire format is private to one build of labrun: a user-level holder
 * is a fork of the labrun that started it, a job-level one labrun-step of
 * the same installation.  A request (kind, count, and with HOLD the layer
 * files as SCM_RIGHTS) and a reply (code, message, and the mount copies as
 * SCM_RIGHTS), one SOCK_SEQPACKET message each.
 */
#ifndef LABRUN_HOLDER_WIRE_H
#define LABRUN_HOLDER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <sys/un.h>

#include "error.h"
#include "holder_path.h"
#include "layers.h"

#define HOLDER_MAGIC 0x31686c72u /* "rlh1" */
/* How long a launch waits for a holder's answer before mounting its own
 * layers: a stopped (SIGSTOP) or wedged holder must not hang every launch. */
#define HOLDER_REPLY_MS 10000
#define HOLDER_BACKLOG 64

/* HOLD: the layer files attached, in chain order; HOLD_WHOLE: the same,
 * and they are the image's whole chain, top first; CHAIN: the image's
 * file alone, for the chain a HOLD_WHOLE of it asked for before, with its
 * launch info (chaininfo.h) after the mounts; STOP.  New kinds, never a
 * new size: a holder of an earlier build still reads a STOP. */
enum { REQ_HOLD = 1, REQ_STOP = 2, REQ_CHAIN = 3, REQ_HOLD_WHOLE = 4 };

struct request {
	uint32_t magic;
	uint32_t kind;
	uint32_t n; /* layer files attached (HOLD, HOLD_WHOLE, CHAIN) */
};

struct reply {
	uint32_t magic;
	int32_t code;	  /* 0 or a positive errno */
	uint32_t n;	  /* mount copies attached (CHAIN: and the info after them) */
	uint32_t layer;	  /* with code: the layer it is about */
	uint32_t clients; /* STOP: containers still served */
	char msg[240];
};

/* Are a and b the same file, unchanged (device, inode, size, mtime,
 * ctime)?  A held layer is keyed by it: a file replaced or rewritten under
 * the same name is another layer. */
bool lr_holder_same_file(const struct stat *a, const struct stat *b);

/* One message of len bytes with n fds (at most LR_MAX_LAYERS). */
int lr_holder_send(int s, const void *buf, size_t len, const int *fds, size_t n);

/* One message of exactly len bytes, and the fds with it (at most max; every
 * fd received is closed on any error).  Returns how many fds, -EPIPE at the
 * end of the connection, -EPROTO for anything malformed. */
int lr_holder_recv(int s, void *buf, size_t len, int *fds, size_t max);

/* lr_holder_recv() of the one reply to a request, waited for at most
 * HOLDER_REPLY_MS (-ETIMEDOUT): a stopped or wedged server must not hang a
 * launch. */
int lr_holder_await(int s, void *buf, size_t len, int *fds, size_t max);

/* Seconds since t (CLOCK_MONOTONIC): how long a held layer has been unused. */
double lr_holder_since(const struct timespec *t);

/* Start a holder listening at the socket's name (whatever was there is a
 * dead holder's: the caller holds the directory's lock and could not
 * connect).  It adopts chain's layers (NULL: none).  Returns once it is
 * listening; it answers when it is ready.  A job's holder (job != 0) never
 * ends by itself: its job's end does it. */
int lr_holder_spawn(int dir, const struct lr_chain *chain, uint32_t job, bool remap_root,
		    unsigned idle, struct lr_error *err);

#endif
