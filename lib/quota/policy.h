/* policy.h - the labs' quota policy (DESIGN.md §5, labrun-policy(5)): one
 * file per lab in /etc/labrun/labs.d/NAME.conf, its members, the lab's
 * total, defaults for members, per-member overrides.
 *
 * Parsing and lookups only: nothing here applies a limit.  Runs with any
 * privilege; the files are the admin's, but a broken one must never be
 * half-applied, so a directory with one bad file is refused as a whole.
 *
 * Format ("key = value", '#' comments, sections):
 *   [lab]              members = alice bob @physics   (repeatable)
 *                      and the lab's total: the resource keys below
 *   [defaults]         what each member gets unless overridden
 *   [member NAME]      one member's overrides (NAME a user)
 * Resource keys: cores, memory, swap, gpus, processes, tmpfs-size,
 * io-weight, io-read-bps = DEVICE SIZE, io-write-bps = DEVICE SIZE,
 * storage = PATH SIZE, gpu-hours.  Values: integers or sizes (K M G T,
 * powers of 1024), or "unlimited".
 */
#ifndef LABRUN_POLICY_H
#define LABRUN_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define LR_POLICY_DIR SYSCONFDIR "/labrun/labs.d"
#define LR_POLICY_MAX_LABS 256
#define LR_POLICY_MAX_MEMBERS 4096 /* per lab, users and groups */
#define LR_POLICY_MAX_OVERRIDES 1024
#define LR_POLICY_MAX_PATHS 16 /* io-*-bps devices, storage paths per section */
/* An allocation merges a member's, the defaults' and the total's keys. */
#define LR_POLICY_MAX_KEYED (3 * LR_POLICY_MAX_PATHS)
#define LR_POLICY_MAX_BYTES (1024 * 1024)
#define LR_POLICY_MAX_LINE 4096
#define LR_POLICY_UNLIMITED UINT64_MAX

/* The scalar resources, in the order they are shown. */
enum lr_res {
	LR_RES_CORES,
	LR_RES_MEMORY,
	LR_RES_SWAP,
	LR_RES_GPUS,
	LR_RES_PROCESSES,
	LR_RES_TMPFS,
	LR_RES_IO_WEIGHT,
	LR_RES_GPU_HOURS,
	LR_RES_COUNT
};

/* "cores", "memory", ...; and whether the value is a size (K M G T). */
const char *lr_res_name(enum lr_res r);
bool lr_res_is_size(enum lr_res r);

/* Where a value was set, for `labrun-policy show`. */
struct lr_origin {
	const char *file;  /* the lab's file (owned by the lab) */
	unsigned line;	   /* 0: not set anywhere */
	const char *scope; /* "lab total", "defaults", "member" */
};

/* A value per device or path: io-read-bps, io-write-bps, storage. */
struct lr_keyed {
	char *key; /* device (/dev/sda) or filesystem path (/scratch) */
	uint64_t value;
	struct lr_origin origin;
};

/* One scope's settings: the lab's total, the defaults, or one member's. */
struct lr_limits {
	bool set[LR_RES_COUNT];
	uint64_t value[LR_RES_COUNT];
	struct lr_origin origin[LR_RES_COUNT];
	struct lr_keyed read_bps[LR_POLICY_MAX_KEYED], write_bps[LR_POLICY_MAX_KEYED],
		storage[LR_POLICY_MAX_KEYED];
	size_t n_read_bps, n_write_bps, n_storage;
};

struct lr_override {
	char *user;
	struct lr_limits limits;
};

struct lr_lab {
	char *name;		/* the file name without .conf */
	char *file;		/* full path, for messages */
	char **users, **groups; /* members: user names; unix groups (without '@') */
	size_t n_users, n_groups;
	struct lr_limits total, defaults;
	struct lr_override *overrides;
	size_t n_overrides;
};

struct lr_policy {
	struct lr_lab *labs; /* sorted by name */
	size_t n_labs;
};

/* Parse one lab's file (text, len bytes) named path; the lab's name is the
 * file's base name without ".conf".  Errors: "FILE:LINE:COLUMN: expected
 * ...", escaped (escape.h); a control character outside a comment is one.
 * *lab is set only on success. */
int lr_lab_parse(struct lr_lab *lab, const char *path, const char *text, size_t len,
		 struct lr_error *err);
void lr_lab_free(struct lr_lab *lab);

/* Every DIR/NAME.conf, sorted.  One file that does not parse refuses the
 * whole directory (its first error is returned); a missing directory is an
 * empty policy when missing_ok.
 *
 * Trust (trust.h): DIR, every directory above it and each lab file must be
 * owned by root (or by the caller, when the caller is not root) and
 * writable by their owner alone, checked on the open fds that are then
 * read; else -EPERM naming the file and its mode or owner, and nothing is
 * loaded.  A lab file that is not a regular file (a FIFO) is refused
 * without blocking.  Messages quote the files with control characters
 * escaped (escape.h): they are safe to print. */
int lr_policy_load(struct lr_policy *p, const char *dir, bool missing_ok, struct lr_error *err);
void lr_policy_free(struct lr_policy *p);

/* Is user (with these groups) a member of lab? */
bool lr_lab_has_member(const struct lr_lab *lab, const char *user, const char *const *groups,
		       size_t n_groups);

/* The labs user belongs to: fills out[] (at most max), returns the count. */
size_t lr_policy_labs_of(const struct lr_policy *p, const char *user, const char *const *groups,
			 size_t n_groups, const struct lr_lab **out, size_t max);

/* A member's allocation in lab: the member's override, else the lab's
 * default, else unlimited; never more than the lab's total.  Origins say
 * which line each value comes from.  Keyed values likewise, per key. */
void lr_lab_allocation(const struct lr_lab *lab, const char *user, struct lr_limits *out);

/* min over the set values of a and b into out (a Slurm step's allocation
 * over a member's, say); origins from the smaller. */
void lr_limits_min(const struct lr_limits *a, const struct lr_limits *b, struct lr_limits *out);

/* Value as text: "8", "64G", "unlimited". */
void lr_res_format(enum lr_res r, uint64_t v, char *buf, size_t len);

#endif
