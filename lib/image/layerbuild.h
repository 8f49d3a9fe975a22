/* layerbuild.h - building one layer from a stream of entries (a tar, a
 * directory walk, a merged view), optionally as a diff against a parent
 * chain (DESIGN.md §2: a layer records only its difference to the parent).
 *
 * Modes:
 *  - no parent: every entry is stored as given;
 *  - parent, input is a full tree: an entry equal to the parent's (type,
 *    mode, owner, time, size, link target, device, xattrs, then content)
 *    is left out, a parent's entry the input lacks becomes a whiteout, a
 *    directory kept only for what changed below it takes the parent's
 *    metadata (it is equal);
 *  - parent, input already is a diff (an OCI layer, an overlay upper
 *    directory): stored as given, whiteouts and opaque directories kept.
 * Whiteouts in the input (".wh.NAME" tar entries, character devices 0:0)
 * and opaque markers (".wh..wh..opq", overlay.opaque xattrs) are stored in
 * overlayfs's form: a character device 0:0 and user.overlay.opaque=y.
 *
 * Names: every path given is checked before anything is stored: each
 * component non-empty, not "." or "..", no leading, trailing or double
 * "/" (lr_path_is_clean()).  A whiteout decoded from ".wh..." would
 * otherwise become an entry named "..", which unsquashfs, the kernel's
 * squashfs and overlayfs all call corrupt (issue 12, item 8).
 *
 * Special files: a layer outlives labrun.  Inside a container device
 * nodes, set-id bits and file capabilities are inert (nodev, nosuid,
 * no_new_privs), but whoever later unpacks the layer or mounts it with the
 * kernel as root (a trusted store) gets them live: a world-writable
 * /dev/mem, a setuid-root shell, a cap_sys_admin binary.  So by default a
 * build drops character and block devices (not the 0:0 character devices
 * that are whiteouts), clears the setuid bit everywhere and the setgid bit
 * on everything but directories (where it only means "new files take the
 * directory's group"), and drops security.capability xattrs; FIFOs and
 * sockets are kept, since they name no kernel object and grant nothing.
 * keep_special stores them all as given, for admins who build trusted
 * layers on purpose.  lr_build_special() says what was changed.
 *
 * Runs as the user, no privilege.
 */
#ifndef LABRUN_LAYERBUILD_H
#define LABRUN_LAYERBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "layerview.h"
#include "squashwrite.h"

/* xattrs on one entry, at most (the sources hold to it too). */
#define LR_BUILD_MAX_XATTRS 128

/* Owner mapping (--owner-map): ids in [from, from+count) become
 * to + (id - from); ids in no range stay; with all_to set every id
 * becomes all_to_id.  A zeroed map keeps every id. */
#define LR_IDMAP_MAX 16
struct lr_idmap {
	struct {
		uint32_t from, to, count;
	} range[LR_IDMAP_MAX];
	size_t n;
	bool all_to;
	uint32_t all_to_id;
};

/* Parse "keep", "root" (every id 0) or "FROM:TO[:COUNT],..." into m. */
int lr_idmap_parse(struct lr_idmap *m, const char *spec, struct lr_error *err);
uint32_t lr_idmap_apply(const struct lr_idmap *m, uint32_t id);

/* Reads a regular file's data: returns bytes (0 at the end) or a negative
 * errno with err set. */
typedef long (*lr_build_reader)(void *ctx, void *buf, size_t len, struct lr_error *err);

struct lr_build;

struct lr_build_options {
	struct lr_sqw_options sqw;
	const struct lr_view *parent; /* NULL: no parent */
	bool input_is_diff;
	struct lr_idmap owners;
	bool keep_special; /* store devices, set-id bits, file capabilities */
};

/* The special entries a build met: counts, and the first path of each
 * kind (normalised, "" when none).  Without keep_special, what was left
 * out (devices) or changed (set-id bits, capabilities); with it, what the
 * layer holds as given. */
#define LR_BUILD_EXAMPLE_MAX 256 /* bytes of an example path kept */
struct lr_build_special {
	uint64_t devices; /* character and block devices dropped */
	uint64_t setid;	  /* entries whose setuid/setgid bits were cleared */
	uint64_t caps;	  /* security.capability xattrs dropped */
	char device_example[LR_BUILD_EXAMPLE_MAX];
	char setid_example[LR_BUILD_EXAMPLE_MAX];
	char caps_example[LR_BUILD_EXAMPLE_MAX];
};

int lr_build_begin(struct lr_build **out, const char *path, const struct lr_build_options *o,
		   struct lr_error *err);

/* One entry; e->path normalised.  A regular file's data comes from rd
 * (e->size is not trusted: rd is read to its end).  Whiteouts and opaque
 * markers as above.  Owners are mapped here. */
int lr_build_entry(struct lr_build *b, struct lr_sqw_entry *e, lr_build_reader rd, void *ctx,
		   struct lr_error *err);
/* Whiteout for path (from ".wh.NAME"). */
int lr_build_whiteout(struct lr_build *b, const char *path, struct lr_error *err);
/* Directory path hides the layers below (from ".wh..wh..opq"). */
int lr_build_opaque(struct lr_build *b, const char *path, struct lr_error *err);
/* Hard link path to the earlier entry target. */
int lr_build_link(struct lr_build *b, const char *path, const char *target, struct lr_error *err);

/* Add the parent's deletions as whiteouts, /.labrun/layer.json holding
 * layer_json (NULL: none), and write the squashfs. */
int lr_build_finish(struct lr_build *b, const char *layer_json, struct lr_error *err);
/* Entries stored, left out as equal to the parent's, and whiteouts made for
 * the parent's entries the input lacks (deleted_top: of those, the ones
 * in the root directory). */
void lr_build_stats(const struct lr_build *b, uint64_t *stored, uint64_t *same, uint64_t *deleted,
		    uint64_t *deleted_top);
/* The special entries met (struct lr_build_special). */
void lr_build_special(const struct lr_build *b, struct lr_build_special *out);
/* Add s into sum (counts; the first example of each kind stays). */
void lr_build_special_add(struct lr_build_special *sum, const struct lr_build_special *s);
/* One line for the user, e.g. "dropped 2 device nodes (/dev/mem, ...),
 * cleared the setuid/setgid bits of 1 file (/bin/su), dropped the file
 * capabilities of 1 file (/bin/ping)", paths with control and non-ASCII bytes shown
 * as \xNN.  Returns false (buf "") when nothing was changed. */
bool lr_build_special_describe(const struct lr_build_special *s, char *buf, size_t size);
/* in for a terminal: bytes below 0x20, 0x7f and above, and the backslash
 * as \xNN,
 * cut with "..." to fit size (a name in an archive is anyone's bytes). */
void lr_build_escape(const char *in, char *out, size_t size);
void lr_build_free(struct lr_build *b);

#endif
