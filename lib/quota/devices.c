/* devices.c - denying device nodes to a cgroup (devices.h).
 *
 * Runs as root, in labrun-policy apply and in slurmstepd (the Slurm
 * plugin): nothing here exits, prints or keeps anything past a call.
 *
 * Why it is safe:
 * - Inputs are root's: the device lists come from the admin's policy and
 *   patterns, the cgroup fd from the caller.  Every list is bounded
 *   (LR_DEVICES_MAX) and every device checked against the kernel's dev_t
 *   (12-bit major, 20-bit minor: include/linux/kdev_t.h) before it reaches
 *   a cgroup file or a BPF immediate.
 * - Fail closed: the glob fails when a directory cannot be read rather
 *   than leave a device out; v1 writes the denials before the allowances;
 *   v2 replaces our program in one attach (BPF_F_REPLACE), and detaches
 *   any further copy of it (two applies at once) only after that.  At
 *   every moment the old or the new denials hold, or both.
 * - We only ever detach programs that carry our name and type, found on
 *   this very cgroup (not its ancestors); others' programs stay.
 * - fds: those opened here are O_CLOEXEC; the bpf(2) fds are O_CLOEXEC by
 *   the kernel (kernel/bpf/syscall.c, bpf_prog_new_fd()).  All are closed
 *   on every path by the cleanup attribute.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "devices.h"

/* The kernel's dev_t: MINORBITS 20, 32 bits in all (include/linux/kdev_t.h). */
#define DEV_MAJOR_MAX 0xfffu
#define DEV_MINOR_MAX 0xfffffu

/* ------------------------------------------------------------ checks */

static const char *type_name(char type)
{
	return type == 'b' ? "block" : "character";
}

/* Each device of a list (what names it in messages: "deny", "allow") is
 * one the kernel can have. */
static int check_list(const struct lr_device *devs, size_t n, const char *what,
		      struct lr_error *err)
{
	if (n > LR_DEVICES_MAX)
		return lr_error_set(err, E2BIG, "%zu devices to %s: at most %d", n, what,
				    LR_DEVICES_MAX);
	if (n && !devs)
		return lr_error_set(err, EINVAL, "%zu devices to %s but no list", n, what);
	for (size_t i = 0; i < n; i++) {
		const struct lr_device *d = &devs[i];
		if (d->type != 'c' && d->type != 'b')
			return lr_error_set(err, EINVAL,
					    "device %zu to %s: type 0x%02x is neither 'c' nor 'b'",
					    i + 1, what, (unsigned char)d->type);
		if (d->major > DEV_MAJOR_MAX || d->minor > DEV_MINOR_MAX)
			return lr_error_set(err, EINVAL,
					    "device %zu to %s: %c %u:%u is beyond the kernel's "
					    "device numbers (major < 4096, minor < 1048576)",
					    i + 1, what, d->type, d->major, d->minor);
	}
	return 0;
}

static bool same_device(const struct lr_device *a, const struct lr_device *b)
{
	return a->type == b->type && a->major == b->major && a->minor == b->minor;
}

/* ------------------------------------------------------------ glob */

/* glob(3)'s error callback has no argument of ours: the first directory
 * it could not read, per thread (slurmstepd has threads). */
static __thread int glob_errno;
static __thread char glob_errpath[256];

/* A directory that does not exist has no devices; any other failure to
 * read one stops the glob: a GPU left out would be a GPU not denied. */
static int glob_error(const char *path, int e)
{
	if (e == ENOENT || e == ENOTDIR)
		return 0;
	glob_errno = e;
	snprintf(glob_errpath, sizeof(glob_errpath), "%s", path);
	return 1;
}

struct found {
	struct lr_device dev;
	char *path;
};

static int by_minor(const void *pa, const void *pb)
{
	const struct found *a = pa, *b = pb;
	if (a->dev.minor != b->dev.minor)
		return a->dev.minor < b->dev.minor ? -1 : 1;
	if (a->dev.major != b->dev.major)
		return a->dev.major < b->dev.major ? -1 : 1;
	return strcmp(a->path, b->path);
}

static void globfreep(glob_t *g)
{
	globfree(g);
}

void lr_devices_paths_free(char **paths, size_t n)
{
	if (!paths)
		return;
	for (size_t i = 0; i < n; i++) {
		free(paths[i]);
		paths[i] = NULL;
	}
}

int lr_devices_glob(const char *pattern, struct lr_device *out, char **paths, size_t max,
		    struct lr_error *err)
{
	if (!pattern || !*pattern)
		return lr_error_set(err, EINVAL, "device pattern is empty");
	if (max && !out)
		return lr_error_set(err, EINVAL, "device pattern %s: no room for the devices",
				    pattern);
	size_t limit = max < LR_DEVICES_MAX ? max : LR_DEVICES_MAX;

	__attribute__((cleanup(globfreep))) glob_t g = {0};
	glob_errno = 0;
	int r = glob(pattern, GLOB_NOSORT, glob_error, &g);
	if (r == GLOB_NOMATCH)
		return 0;
	if (r == GLOB_NOSPACE)
		return lr_error_errno(err, ENOMEM, "device pattern %s", pattern);
	if (r == GLOB_ABORTED)
		return lr_error_errno(err, glob_errno ? glob_errno : EIO,
				      "device pattern %s: read %s", pattern, glob_errpath);
	if (r != 0)
		return lr_error_set(err, EIO, "device pattern %s: glob failed (%d)", pattern, r);

	/* limit + 1 entries: room to notice one too many. */
	_cleanup_free_ struct found *f = calloc(limit + 1, sizeof(*f));
	if (!f)
		return lr_error_errno(err, ENOMEM, "device pattern %s", pattern);
	size_t n = 0;
	int ret = 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct stat st;
		/* stat, not lstat: /dev/dri/by-path/... are links to the node. */
		if (stat(g.gl_pathv[i], &st) < 0) {
			if (errno == ENOENT) /* gone since the glob read it */
				continue;
			ret = lr_error_errno(err, errno, "device pattern %s: %s", pattern,
					     g.gl_pathv[i]);
			goto out;
		}
		if (!S_ISCHR(st.st_mode))
			continue;
		if (n == limit) {
			ret = lr_error_set(err, E2BIG,
					   "device pattern %s matches more than %zu character "
					   "devices%s",
					   pattern, limit,
					   limit == LR_DEVICES_MAX ? " (labrun's limit)" : "");
			goto out;
		}
		f[n].dev = (struct lr_device){'c', major(st.st_rdev), minor(st.st_rdev)};
		f[n].path = strdup(g.gl_pathv[i]);
		if (!f[n].path) {
			ret = lr_error_errno(err, ENOMEM, "device pattern %s", pattern);
			goto out;
		}
		n++;
	}
	qsort(f, n, sizeof(*f), by_minor);
	for (size_t i = 0; i < n; i++) {
		out[i] = f[i].dev;
		if (paths)
			paths[i] = take_ptr(&f[i].path);
	}
	ret = (int)n;
out:
	for (size_t i = 0; i < n; i++)
		free(f[i].path);
	return ret;
}

/* ------------------------------------------------------------ cgroup v1 */

/* A devices controller file of the cgroup, for writing.  The cgroup
 * filesystem check makes sure that a wrong fd (a plain directory with a
 * file of that name) fails instead of silently restricting nothing. */
static int open_v1_file(int dirfd, const char *name, struct lr_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		return lr_error_errno(err, e, "open %s%s", name,
				      e == ENOENT ? " (is this a cgroup of the v1 devices "
						    "controller?)"
						  : "");
	}
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return lr_error_errno(err, errno, "%s", name);
	if (sf.f_type != CGROUP_SUPER_MAGIC)
		return lr_error_set(err, EINVAL, "%s is not on a cgroup v1 filesystem", name);
	return take_fd(&fd);
}

/* One rule per write(): the kernel parses one "TYPE MAJ:MIN ACCESS" per
 * call (security/device_cgroup.c, devcgroup_update_access()).  "rwm":
 * read, write and mknod, every access. */
static int write_rule(int fd, const char *name, const struct lr_device *d, struct lr_error *err)
{
	char rule[64];
	int len = snprintf(rule, sizeof(rule), "%c %u:%u rwm", d->type, d->major, d->minor);
	ssize_t w = write(fd, rule, (size_t)len);
	if (w == len)
		return 0;
	int e = w < 0 ? errno : EIO;
	return lr_error_errno(err, e, "write \"%s\" to %s%s", rule, name,
			      e == EPERM && !strcmp(name, "devices.allow")
				      ? " (a v1 cgroup may allow only what its parent allows)"
				      : "");
}

int lr_devices_apply_v1(int cgroup_dirfd, const struct lr_device *deny, size_t n_deny,
			const struct lr_device *allow, size_t n_allow, struct lr_error *err)
{
	int r = check_list(deny, n_deny, "deny", err);
	if (r < 0)
		return r;
	r = check_list(allow, n_allow, "allow", err);
	if (r < 0)
		return r;
	/* Which would win would depend on the order below: refuse instead. */
	for (size_t i = 0; i < n_deny; i++)
		for (size_t j = 0; j < n_allow; j++)
			if (same_device(&deny[i], &allow[j]))
				return lr_error_set(
					err, EINVAL, "%s device %u:%u is both denied and allowed",
					type_name(deny[i].type), deny[i].major, deny[i].minor);

	/* Both files open before anything is written: a cgroup without
	 * them is refused untouched. */
	_cleanup_close_ int dfd = -1, afd = -1;
	if (n_deny) {
		dfd = open_v1_file(cgroup_dirfd, "devices.deny", err);
		if (dfd < 0)
			return dfd;
	}
	if (n_allow) {
		afd = open_v1_file(cgroup_dirfd, "devices.allow", err);
		if (afd < 0)
			return afd;
	}
	/* Denials first: in between, both the old and new sets are denied
	 * (more than asked, never less).  In a cgroup that allows by
	 * default a denial adds an exception and an allowance removes it;
	 * in one that denies by default it is the other way round
	 * (devcgroup_update_access()): either way the device ends as asked. */
	for (size_t i = 0; i < n_deny; i++) {
		r = write_rule(dfd, "devices.deny", &deny[i], err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n_allow; i++) {
		r = write_rule(afd, "devices.allow", &allow[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------ cgroup v2: the program */

/* The program, for each device of the list:
 *
 *	r2 = ctx->access_type & 0xffff		device type
 *	r3 = ctx->major
 *	r4 = ctx->minor
 *   for each device:
 *	if r2 != TYPE  goto next
 *	if r3 != MAJOR goto next
 *	if r4 != MINOR goto next
 *	r0 = 0; exit				deny
 *   next:
 *	r0 = 1; exit				allow the rest
 *
 * ctx is struct bpf_cgroup_dev_ctx (include/uapi/linux/bpf.h): u32
 * access_type, major, minor, at offsets 0, 4, 8; access_type is
 * (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*, so its low 16 bits are the
 * type (BPF_DEVCG_DEV_CHAR or _BLOCK) and the high 16 the access
 * (mknod, read, write), which we do not look at: every access to a
 * listed device is denied.  The context is read whole, 4 bytes at a
 * time, as the verifier requires for major and minor
 * (kernel/bpf/cgroup.c, cgroup_dev_is_valid_access()); the mask makes
 * the type independent of byte order.  The return value must be 0 or 1
 * (the verifier checks it); 0 makes the access fail with EPERM. */
#define PROLOGUE_INSNS 4
#define INSNS_PER_DEVICE 5
#define EPILOGUE_INSNS 2
#define PROG_INSNS_MAX (PROLOGUE_INSNS + INSNS_PER_DEVICE * LR_DEVICES_MAX + EPILOGUE_INSNS)

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){
		.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}
/* dst = *(u32 *)(src + off) */
static struct bpf_insn ldx_w(uint8_t dst, uint8_t src, int16_t off)
{
	return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0);
}
/* dst = (u32)dst & imm */
static struct bpf_insn and32_k(uint8_t dst, int32_t imm)
{
	return insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm);
}
/* if dst != imm: skip off instructions */
static struct bpf_insn jne_k(uint8_t dst, int32_t imm, int16_t off)
{
	return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm);
}
/* dst = imm */
static struct bpf_insn mov64_k(uint8_t dst, int32_t imm)
{
	return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
static struct bpf_insn exit_insn(void)
{
	return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* The instructions for a checked list (check_list()): the immediates fit
 * in an s32 because major and minor are below 2^20. */
static size_t build_prog(const struct lr_device *deny, size_t n_deny,
			 struct bpf_insn prog[PROG_INSNS_MAX])
{
	size_t n = 0;
	prog[n++] = ldx_w(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
	prog[n++] = and32_k(BPF_REG_2, 0xffff);
	prog[n++] = ldx_w(BPF_REG_3, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major));
	prog[n++] = ldx_w(BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor));
	for (size_t i = 0; i < n_deny; i++) {
		int32_t type = deny[i].type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
		/* Jump offsets count from the next instruction: the first
		 * test skips the 4 after it, and so on. */
		prog[n++] = jne_k(BPF_REG_2, type, 4);
		prog[n++] = jne_k(BPF_REG_3, (int32_t)deny[i].major, 3);
		prog[n++] = jne_k(BPF_REG_4, (int32_t)deny[i].minor, 2);
		prog[n++] = mov64_k(BPF_REG_0, 0);
		prog[n++] = exit_insn();
	}
	prog[n++] = mov64_k(BPF_REG_0, 1);
	prog[n++] = exit_insn();
	return n;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int prog_load(const struct bpf_insn *prog, size_t n, char *log, size_t log_size)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a)); /* the kernel refuses non-zero unused fields */
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = (uint32_t)n;
	/* No helpers are called: the licence only labels the program. */
	a.license = (uint64_t)(uintptr_t) "GPL";
	/* Letters, digits, '_' and '.' only (kernel/bpf/syscall.c,
	 * bpf_obj_name_cpy()). */
	memcpy(a.prog_name, LR_DEVICES_PROG_NAME, sizeof(LR_DEVICES_PROG_NAME));
	if (log) {
		a.log_level = 1;
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = (uint32_t)log_size;
	}
	return (int)sys_bpf(BPF_PROG_LOAD, &a);
}

/* The verifier's log ends with why it refused: its last lines (at most
 * 3) on one line, " | " between them, cut at the front to fit size. */
static void log_tail(const char *log, size_t log_size, char *out, size_t size)
{
	size_t len = strnlen(log, log_size);
	while (len && (log[len - 1] == '\n' || log[len - 1] == ' '))
		len--;
	size_t start = len;
	for (int lines = 0; start > 0; start--)
		if (log[start - 1] == '\n' && ++lines == 3)
			break;
	/* Each newline becomes 3 characters: drop characters from the
	 * front until the rest fits, with "..." for what was dropped. */
	size_t need = 0;
	for (size_t i = start; i < len; i++)
		need += log[i] == '\n' ? 3 : 1;
	bool cut = need > size - 1;
	while (cut && need > size - 1 - 3)
		need -= log[start++] == '\n' ? 3 : 1;
	size_t o = 0;
	if (cut) {
		memcpy(out, "...", 3);
		o = 3;
	}
	for (size_t i = start; i < len; i++) {
		unsigned char c = (unsigned char)log[i];
		if (c == '\n') {
			memcpy(out + o, " | ", 3);
			o += 3;
		} else {
			out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
		}
	}
	out[o] = '\0';
	if (!o)
		snprintf(out, size, "(nothing)");
}

/* Large enough for a full log of our largest program (a few KiB); its end,
 * which we keep, is where the verifier says why. */
#define VERIFIER_LOG_SIZE (256 * 1024)
#define VERIFIER_TAIL_MAX 480

int lr_devices_load_v2(const struct lr_device *deny, size_t n_deny, struct lr_error *err)
{
	int r = check_list(deny, n_deny, "deny", err);
	if (r < 0)
		return r;
	struct bpf_insn prog[PROG_INSNS_MAX];
	size_t n = build_prog(deny, n_deny, prog);

	/* First without a log (the verifier is faster without one), then,
	 * only if the verifier refused, again to learn why. */
	int fd = prog_load(prog, n, NULL, 0);
	if (fd >= 0)
		return fd;
	int e = errno;
	if (e == EPERM)
		return lr_error_errno(err, e,
				      "load the device program: loading BPF programs needs root "
				      "(CAP_BPF and CAP_SYS_ADMIN)");
	if (e != EACCES && e != EINVAL)
		return lr_error_errno(err, e, "load the device program (%zu devices)", n_deny);
	_cleanup_free_ char *log = calloc(1, VERIFIER_LOG_SIZE);
	if (!log)
		return lr_error_errno(err, e, "load the device program (%zu devices)", n_deny);
	fd = prog_load(prog, n, log, VERIFIER_LOG_SIZE);
	if (fd >= 0)
		return fd;
	char tail[VERIFIER_TAIL_MAX];
	log_tail(log, VERIFIER_LOG_SIZE, tail, sizeof(tail));
	return lr_error_set(err, e,
			    "load the device program (%zu devices, %zu instructions): %s; the "
			    "verifier says: %s",
			    n_deny, n, strerror(e), tail);
}

/* ------------------------------------------------------------ cgroup v2: attaching */

/* The kernel's limit of programs per cgroup and attach type
 * (kernel/bpf/cgroup.c, BPF_CGROUP_MAX_PROGS): a query with this much
 * room always gets them all. */
#define CGROUP_PROGS_MAX 64

/* Our programs attached directly to one cgroup. */
struct attached {
	int fd[CGROUP_PROGS_MAX];
	size_t n;	/* ours */
	size_t total;	/* all programs, ours and others' */
	uint32_t flags; /* the cgroup's attach flags for device programs */
};

static void attached_close(struct attached *a)
{
	for (size_t i = 0; i < a->n; i++)
		close(a->fd[i]);
	a->n = 0;
}

static const char *bpf_hint(int e)
{
	switch (e) {
	case EBADF: return " (not a cgroup v2 directory: BPF programs attach only there)";
	case EPERM: return " (needs root: CAP_BPF and CAP_SYS_ADMIN)";
	case EINVAL: return " (does this kernel have CONFIG_CGROUP_BPF?)";
	default: return "";
	}
}

/* Is the program open as fd one of ours?  Our name and type: only root
 * (CAP_BPF) loads cgroup device programs, so a job cannot plant one. */
static int is_ours(int fd, bool *ours, struct lr_error *err)
{
	struct bpf_prog_info info;
	memset(&info, 0, sizeof(info));
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uint64_t)(uintptr_t)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0)
		return lr_error_errno(err, errno, "read a device program's name");
	*ours = info.type == BPF_PROG_TYPE_CGROUP_DEVICE &&
		!strncmp(info.name, LR_DEVICES_PROG_NAME, sizeof(info.name));
	return 0;
}

/* Our programs on the cgroup (not its ancestors: query_flags 0), open,
 * in the order they run. */
static int find_ours(int cgroup_dirfd, struct attached *out, struct lr_error *err)
{
	uint32_t ids[CGROUP_PROGS_MAX];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.query.target_fd = (uint32_t)cgroup_dirfd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uint64_t)(uintptr_t)ids;
	a.query.prog_cnt = CGROUP_PROGS_MAX;
	if (sys_bpf(BPF_PROG_QUERY, &a) < 0) {
		int e = errno;
		return lr_error_errno(err, e, "list the cgroup's device programs%s", bpf_hint(e));
	}
	out->total = a.query.prog_cnt < CGROUP_PROGS_MAX ? a.query.prog_cnt : CGROUP_PROGS_MAX;
	out->flags = a.query.attach_flags;
	for (size_t i = 0; i < out->total; i++) {
		union bpf_attr g;
		memset(&g, 0, sizeof(g));
		g.prog_id = ids[i];
		_cleanup_close_ int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
		if (fd < 0) {
			if (errno == ENOENT) /* detached and freed since the query */
				continue;
			return lr_error_errno(err, errno, "open device program %u", ids[i]);
		}
		bool ours = false;
		int r = is_ours(fd, &ours, err);
		if (r < 0)
			return r;
		if (ours)
			out->fd[out->n++] = take_fd(&fd);
	}
	return 0;
}

/* Attach prog_fd to the cgroup with BPF_F_ALLOW_MULTI, in the place of
 * replace_fd when it is not -1 (BPF_F_REPLACE: one step, so the cgroup
 * never goes without one of them; kernel/bpf/cgroup.c,
 * __cgroup_bpf_attach()). */
static int attach(int cgroup_dirfd, int prog_fd, int replace_fd, struct lr_error *err)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgroup_dirfd;
	a.attach_bpf_fd = (uint32_t)prog_fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (replace_fd >= 0) {
		a.attach_flags |= BPF_F_REPLACE;
		a.replace_bpf_fd = (uint32_t)replace_fd;
	}
	if (sys_bpf(BPF_PROG_ATTACH, &a) < 0) {
		int e = errno;
		if (e == ENOENT && replace_fd >= 0)
			return lr_error_errno(err, e,
					      "replace labrun's device program: it was detached "
					      "meanwhile (two applies at once?); apply again");
		if (e == EPERM) /* kernel/bpf/cgroup.c, hierarchy_allows_attach() */
			return lr_error_errno(err, e,
					      "attach the device program (an ancestor cgroup's "
					      "device program, attached with neither "
					      "BPF_F_ALLOW_OVERRIDE nor BPF_F_ALLOW_MULTI, admits "
					      "none below it; or not root)");
		return lr_error_errno(err, e, "attach the device program%s", bpf_hint(e));
	}
	return 0;
}

static int detach(int cgroup_dirfd, int prog_fd, struct lr_error *err)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgroup_dirfd;
	a.attach_bpf_fd = (uint32_t)prog_fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	if (sys_bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT) /* ENOENT: gone already */
		return lr_error_errno(err, errno, "detach labrun's previous device program");
	return 0;
}

int lr_devices_apply_v2(int cgroup_dirfd, const struct lr_device *deny, size_t n_deny,
			struct lr_error *err)
{
	int r = check_list(deny, n_deny, "deny", err);
	if (r < 0)
		return r;
	__attribute__((cleanup(attached_close))) struct attached old = {.n = 0};
	r = find_ours(cgroup_dirfd, &old, err);
	if (r < 0)
		return r;

	size_t first_stale = 0; /* ours to detach: old.fd[first_stale..] */
	if (n_deny) {
		/* A program attached without BPF_F_ALLOW_MULTI admits no
		 * other beside it (the attach would fail with EPERM): say
		 * whose rule that is. */
		if (old.total > 0 && !(old.flags & BPF_F_ALLOW_MULTI))
			return lr_error_set(err, EPERM,
					    "the cgroup already has a device program attached "
					    "without BPF_F_ALLOW_MULTI (flags 0x%x), which admits "
					    "no other program beside it",
					    old.flags);
		_cleanup_close_ int fd = lr_devices_load_v2(deny, n_deny, err);
		if (fd < 0)
			return fd;
		r = attach(cgroup_dirfd, fd, old.n ? old.fd[0] : -1, err);
		if (r < 0)
			return r;
		first_stale = old.n ? 1 : 0;
	}
	/* Ours beyond the first (two applies that ran at once may both
	 * have attached one), or all of ours when lifting: the new program,
	 * if any, is in place already. */
	for (size_t i = first_stale; i < old.n; i++) {
		r = detach(cgroup_dirfd, old.fd[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}
