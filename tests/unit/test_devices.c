/* test_devices.c - lib/quota/devices.c: which character devices a glob finds, and
 * that in a real cgroup (v1 devices controller, v2 BPF program) a denied
 * GPU cannot be opened or made (EPERM) while an allowed one reaches its
 * driver.
 *
 * There is no GPU here: fake ones are device nodes made with mknod
 * (c 195 N, NVIDIA's major) in a temporary directory.  No driver answers
 * them, so open() of one the cgroup allows fails with ENXIO (or ENODEV),
 * of one it denies with EPERM.  Each cgroup test runs in its own cgroup
 * (labrun-test-devices-PID), removed by the teardown even when the test
 * fails.  mknod, cgroups and bpf(2) need root: those tests skip otherwise.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices.h"

#define V1_ROOT "/sys/fs/cgroup/devices"
#define V2_ROOT "/sys/fs/cgroup/unified"
#define NVIDIA_MAJOR 195

struct fx {
	char dir[64];	       /* temporary directory of fake nodes */
	char cg[200];	       /* the test's cgroup, "" if none was made */
	int cgfd;	       /* open on cg, -1 if none */
	char sub[256];	       /* a cgroup below cg, "" if none was made */
	const char *join;      /* which of them in_cgroup()'s child joins */
	const char *no_cgroup; /* why there is no cgroup */
};

/* ------------------------------------------------------------ fixtures */

static int setup(void **state, const char *cgroot)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->cgfd = -1;
	f->join = f->cg;
	snprintf(f->dir, sizeof(f->dir), "/tmp/labrun-test-devices-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	if (!cgroot)
		return 0;
	if (geteuid() != 0) {
		f->no_cgroup = "not root: making a cgroup and device nodes needs root";
		return 0;
	}
	if (access(cgroot, W_OK) != 0) {
		f->no_cgroup = !strcmp(cgroot, V1_ROOT)
				       ? "no cgroup v1 devices hierarchy at " V1_ROOT
				       : "no cgroup v2 hierarchy at " V2_ROOT;
		return 0;
	}
	char cg[sizeof(f->cg)];
	snprintf(cg, sizeof(cg), "%s/labrun-test-devices-%d", cgroot, (int)getpid());
	rmdir(cg); /* a leftover of a killed run with the same pid */
	if (mkdir(cg, 0755) < 0) {
		print_error("mkdir %s: %s\n", cg, strerror(errno));
		return -1;
	}
	snprintf(f->cg, sizeof(f->cg), "%s", cg);
	f->cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->cgfd < 0) {
		print_error("open %s: %s\n", cg, strerror(errno));
		return -1;
	}
	return 0;
}

static int setup_plain(void **state)
{
	return setup(state, NULL);
}
static int setup_v1(void **state)
{
	return setup(state, V1_ROOT);
}
static int setup_v2(void **state)
{
	return setup(state, V2_ROOT);
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static int remove_cgroup(const char *cg)
{
	/* The test's children are reaped, but the cgroup may take a moment
	 * to see them gone. */
	int r = -1;
	for (int i = 0; i < 100 && (r = rmdir(cg)) < 0 && errno == EBUSY; i++)
		usleep(10000);
	if (r < 0)
		print_error("rmdir %s: %s\n", cg, strerror(errno));
	return r;
}

/* No leftovers: the cgroups (their programs go with them) and the nodes. */
static int teardown(void **state)
{
	struct fx *f = *state;
	int ret = 0;
	if (f->cgfd >= 0)
		close(f->cgfd);
	if (f->sub[0] && remove_cgroup(f->sub) < 0)
		ret = -1;
	if (f->cg[0] && remove_cgroup(f->cg) < 0)
		ret = -1;
	if (nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) < 0) {
		print_error("remove %s: %s\n", f->dir, strerror(errno));
		ret = -1;
	}
	free(f);
	return ret;
}

/* Skip, saying why, when the test's cgroup could not be made. */
#define NEED_CGROUP(f)                                                                             \
	do {                                                                                       \
		if (!(f)->cg[0]) {                                                                 \
			print_message("# skipped: %s\n", (f)->no_cgroup);                          \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (geteuid() != 0) {                                                              \
			print_message("# skipped: not root: mknod and bpf(2) need root\n");        \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

/* ------------------------------------------------------------ helpers */

static const char *in(struct fx *f, const char *name)
{
	static char buf[4][PATH_MAX];
	static unsigned next;
	char *p = buf[next++ % 4];
	snprintf(p, PATH_MAX, "%s/%s", f->dir, name);
	return p;
}

static void make_node(struct fx *f, const char *name, mode_t type, unsigned maj, unsigned min)
{
	if (mknod(in(f, name), type | 0666, makedev(maj, min)) < 0)
		fail_msg("mknod %s %u:%u: %s", in(f, name), maj, min, strerror(errno));
}

/* Two fake GPUs, gpu0 (c 195:0) and gpu1 (c 195:1), usable here. */
static void make_gpus(struct fx *f)
{
	make_node(f, "gpu0", S_IFCHR, NVIDIA_MAJOR, 0);
	make_node(f, "gpu1", S_IFCHR, NVIDIA_MAJOR, 1);
	for (int i = 0; i < 2; i++) {
		const char *p = in(f, i ? "gpu1" : "gpu0");
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		int e = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
		if (e != ENXIO && e != ENODEV)
			fail_msg("open %s outside the cgroup: %s, not ENXIO: cannot test here", p,
				 strerror(e));
	}
}

enum op { OPEN, MKNOD };

/* In a child that has moved itself into the test's cgroup: open name, or
 * mknod it as c 195:minor.  Returns the errno (0 on success). */
static int in_cgroup(struct fx *f, enum op op, const char *name, unsigned minor)
{
	char procs[PATH_MAX + 16];
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", f->join);
	const char *p = in(f, name);
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(procs, O_WRONLY | O_CLOEXEC);
		char me[32];
		int n = snprintf(me, sizeof(me), "%d", (int)getpid());
		if (fd < 0 || write(fd, me, (size_t)n) != n)
			_exit(255);
		close(fd);
		int r;
		if (op == OPEN) {
			r = open(p, O_RDONLY | O_CLOEXEC);
			if (r >= 0)
				close(r);
		} else {
			r = mknod(p, S_IFCHR | 0600, makedev(NVIDIA_MAJOR, minor));
		}
		_exit(r < 0 ? (errno & 0xff) : 0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		fail_msg("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 255)
		fail_msg("the child could not join %s (status 0x%x)", f->join, st);
	return WEXITSTATUS(st);
}

static void expect_allowed(struct fx *f, const char *gpu, const char *when)
{
	int e = in_cgroup(f, OPEN, gpu, 0);
	if (e != ENXIO && e != ENODEV)
		fail_msg("%s: open %s in the cgroup: %s, want ENXIO (allowed, no driver)", when,
			 gpu, e ? strerror(e) : "it opened");
}

static void expect_denied(struct fx *f, const char *gpu, const char *when)
{
	int e = in_cgroup(f, OPEN, gpu, 0);
	if (e != EPERM)
		fail_msg("%s: open %s in the cgroup: %s, want EPERM (denied)", when, gpu,
			 e ? strerror(e) : "it opened");
}

static const struct lr_device gpu0[] = {{'c', NVIDIA_MAJOR, 0}};
static const struct lr_device gpu1[] = {{'c', NVIDIA_MAJOR, 1}};

#define APPLY_V2(f, list, n)                                                                       \
	do {                                                                                       \
		struct lr_error err_ = {0};                                                        \
		if (lr_devices_apply_v2((f)->cgfd, (list), (n), &err_) < 0)                        \
			fail_msg("lr_devices_apply_v2: %s", err_.msg);                             \
	} while (0)

/* ------------------------------------------------------------ raw bpf(2) for checking */

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* The device programs attached to the cgroup itself: all, and ours. */
static void count_programs(struct fx *f, unsigned *total, unsigned *ours)
{
	uint32_t ids[64];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.query.target_fd = (uint32_t)f->cgfd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uint64_t)(uintptr_t)ids;
	a.query.prog_cnt = 64;
	if (sys_bpf(BPF_PROG_QUERY, &a) < 0)
		fail_msg("BPF_PROG_QUERY: %s", strerror(errno));
	*total = a.query.prog_cnt;
	*ours = 0;
	for (unsigned i = 0; i < *total; i++) {
		union bpf_attr g;
		memset(&g, 0, sizeof(g));
		g.prog_id = ids[i];
		int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
		if (fd < 0)
			fail_msg("BPF_PROG_GET_FD_BY_ID %u: %s", ids[i], strerror(errno));
		struct bpf_prog_info info;
		memset(&info, 0, sizeof(info));
		union bpf_attr q;
		memset(&q, 0, sizeof(q));
		q.info.bpf_fd = (uint32_t)fd;
		q.info.info_len = sizeof(info);
		q.info.info = (uint64_t)(uintptr_t)&info;
		int r = (int)sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &q);
		close(fd);
		if (r < 0)
			fail_msg("BPF_OBJ_GET_INFO_BY_FD: %s", strerror(errno));
		if (!strcmp(info.name, LR_DEVICES_PROG_NAME))
			(*ours)++;
	}
}

static void expect_programs(struct fx *f, unsigned want_total, unsigned want_ours, const char *when)
{
	unsigned total, ours;
	count_programs(f, &total, &ours);
	if (total != want_total || ours != want_ours)
		fail_msg("%s: %u device programs on the cgroup, %u of them labrun's; want %u, %u",
			 when, total, ours, want_total, want_ours);
}

/* Someone else's program, "deny every device", attached to the cgroup
 * open as cgfd with flags. */
static void attach_foreign(int cgfd, uint32_t flags)
{
	struct bpf_insn prog[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = 2;
	a.license = (uint64_t)(uintptr_t) "GPL";
	memcpy(a.prog_name, "test_deny_all", sizeof("test_deny_all"));
	int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (fd < 0)
		fail_msg("load the foreign program: %s", strerror(errno));
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgfd;
	a.attach_bpf_fd = (uint32_t)fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = flags;
	if (sys_bpf(BPF_PROG_ATTACH, &a) < 0) {
		int e = errno;
		close(fd);
		fail_msg("attach the foreign program: %s", strerror(e));
	}
	close(fd); /* the attachment holds the program */
}

/* ------------------------------------------------------------ argument checks (any user) */

static void glob_without_a_match_finds_nothing(void **state)
{
	struct fx *f = *state;
	struct lr_device out[4];
	struct lr_error err = {0};
	assert_int_equal(lr_devices_glob(in(f, "nvidia[0-9]*"), out, NULL, 4, &err), 0);
	assert_int_equal(lr_devices_glob("/nonexistent-labrun/nvidia*", out, NULL, 4, &err), 0);
}

static void glob_leaves_out_what_is_not_a_character_device(void **state)
{
	struct fx *f = *state;
	int fd = open(in(f, "nvidia0"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mkdir(in(f, "nvidia1"), 0755), 0);
	assert_int_equal(symlink("nvidia0", in(f, "nvidia2")), 0);
	assert_int_equal(symlink("nowhere", in(f, "nvidia3")), 0);
	struct lr_device out[4];
	struct lr_error err = {0};
	int n = lr_devices_glob(in(f, "nvidia[0-9]*"), out, NULL, 4, &err);
	if (n != 0)
		fail_msg("want 0 devices among a file, a directory and links, got %d: %s", n,
			 err.msg);
}

static void glob_refuses_an_empty_pattern(void **state)
{
	(void)state;
	struct lr_device out[1];
	struct lr_error err = {0};
	assert_int_equal(lr_devices_glob("", out, NULL, 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "pattern"));
}

static void lists_beyond_the_limit_are_refused(void **state)
{
	(void)state;
	struct lr_device many[LR_DEVICES_MAX + 1];
	for (unsigned i = 0; i <= LR_DEVICES_MAX; i++)
		many[i] = (struct lr_device){'c', NVIDIA_MAJOR, i};
	struct lr_error err = {0};
	assert_int_equal(lr_devices_load_v2(many, LR_DEVICES_MAX + 1, &err), -E2BIG);
	assert_non_null(strstr(err.msg, "at most 64"));
	assert_int_equal(lr_devices_apply_v2(-1, many, LR_DEVICES_MAX + 1, &err), -E2BIG);
	assert_int_equal(lr_devices_apply_v1(-1, many, LR_DEVICES_MAX + 1, NULL, 0, &err), -E2BIG);
	assert_int_equal(lr_devices_apply_v1(-1, NULL, 0, many, LR_DEVICES_MAX + 1, &err), -E2BIG);
}

static void devices_the_kernel_cannot_have_are_refused(void **state)
{
	(void)state;
	const struct lr_device bad[][1] = {
		{{'x', NVIDIA_MAJOR, 0}},
		{{'c', 4096, 0}},
		{{'c', NVIDIA_MAJOR, 1u << 20}},
	};
	for (size_t i = 0; i < 3; i++) {
		struct lr_error err = {0};
		assert_int_equal(lr_devices_load_v2(bad[i], 1, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "device 1 to deny"));
		assert_int_equal(lr_devices_apply_v1(-1, NULL, 0, bad[i], 1, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "device 1 to allow"));
	}
}

static void v1_refuses_a_device_both_denied_and_allowed(void **state)
{
	(void)state;
	struct lr_error err = {0};
	assert_int_equal(lr_devices_apply_v1(-1, gpu1, 1, gpu1, 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "195:1 is both denied and allowed"));
}

/* A wrong fd must fail, not "succeed" by writing a plain file. */
static void v1_refuses_a_directory_that_is_not_a_cgroup(void **state)
{
	struct fx *f = *state;
	int fd = open(in(f, "devices.deny"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	struct lr_error err = {0};
	int r = lr_devices_apply_v1(dfd, gpu1, 1, NULL, 0, &err);
	close(dfd);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err.msg, "devices.deny is not on a cgroup v1 filesystem"));
	struct stat st;
	assert_int_equal(stat(in(f, "devices.deny"), &st), 0);
	assert_int_equal(st.st_size, 0);
}

/* ------------------------------------------------------------ glob (root: mknod) */

static void glob_finds_character_devices_sorted_by_minor(void **state)
{
	struct fx *f = *state;
	NEED_ROOT();
	make_node(f, "nvidia10", S_IFCHR, NVIDIA_MAJOR, 10);
	make_node(f, "nvidia2", S_IFCHR, NVIDIA_MAJOR, 2);
	make_node(f, "nvidia0", S_IFCHR, NVIDIA_MAJOR, 0);
	make_node(f, "nvidia1", S_IFCHR, NVIDIA_MAJOR, 1);
	make_node(f, "nvidiactl", S_IFCHR, NVIDIA_MAJOR, 255);	   /* not matched */
	make_node(f, "nvidia3", S_IFBLK, NVIDIA_MAJOR, 3);	   /* a block device */
	assert_int_equal(symlink("nvidia2", in(f, "nvidia4")), 0); /* a link to one */
	struct lr_device out[8];
	char *paths[8] = {0};
	struct lr_error err = {0};
	int n = lr_devices_glob(in(f, "nvidia[0-9]*"), out, paths, 8, &err);
	if (n < 0)
		fail_msg("%s", err.msg);
	const struct {
		unsigned minor;
		const char *name;
	} want[] = {
		{0, "nvidia0"}, {1, "nvidia1"}, {2, "nvidia2"}, {2, "nvidia4"}, {10, "nvidia10"}};
	assert_int_equal(n, 5);
	for (int i = 0; i < n; i++) {
		assert_int_equal(out[i].type, 'c');
		assert_int_equal(out[i].major, NVIDIA_MAJOR);
		assert_int_equal(out[i].minor, want[i].minor);
		assert_string_equal(paths[i], in(f, want[i].name));
	}
	lr_devices_paths_free(paths, (size_t)n);
	/* Without paths. */
	assert_int_equal(lr_devices_glob(in(f, "nvidia[0-9]*"), out, NULL, 8, &err), 5);
}

static void glob_refuses_more_devices_than_room(void **state)
{
	struct fx *f = *state;
	NEED_ROOT();
	char name[32];
	for (unsigned i = 0; i <= LR_DEVICES_MAX; i++) {
		snprintf(name, sizeof(name), "nvidia%u", i);
		make_node(f, name, S_IFCHR, NVIDIA_MAJOR, i);
	}
	struct lr_device out[LR_DEVICES_MAX + 8];
	memset(out, 0xaa, sizeof(out));
	struct lr_error err = {0};
	assert_int_equal(lr_devices_glob(in(f, "nvidia[0-9]*"), out, NULL, 3, &err), -E2BIG);
	assert_non_null(strstr(err.msg, "more than 3 character devices"));
	assert_int_equal(
		lr_devices_glob(in(f, "nvidia[0-9]*"), out, NULL, LR_DEVICES_MAX + 8, &err),
		-E2BIG);
	assert_non_null(strstr(err.msg, "more than 64 character devices (labrun's limit)"));
	assert_int_equal(out[0].major, 0xaaaaaaaau); /* untouched on failure */
	assert_int_equal(lr_devices_glob(in(f, "nvidia[0-9]"), out, NULL, 10, &err), 10);
}

/* ------------------------------------------------------------ v2 program (root: bpf) */

static void v2_program_loads_for_none_one_and_the_most_devices(void **state)
{
	(void)state;
	NEED_ROOT();
	struct lr_device many[LR_DEVICES_MAX];
	for (unsigned i = 0; i < LR_DEVICES_MAX; i++)
		/* Both types, and the largest numbers the kernel has. */
		many[i] = (struct lr_device){i % 2 ? 'b' : 'c', i ? NVIDIA_MAJOR : 0xfff,
					     i ? i : 0xfffff};
	const size_t counts[] = {0, 1, LR_DEVICES_MAX};
	for (size_t i = 0; i < 3; i++) {
		struct lr_error err = {0};
		int fd = lr_devices_load_v2(many, counts[i], &err);
		if (fd < 0)
			fail_msg("%zu devices: %s", counts[i], err.msg);
		int flags = fcntl(fd, F_GETFD);
		close(fd);
		assert_true(flags & FD_CLOEXEC);
	}
}

static void v2_refuses_a_directory_that_is_not_a_v2_cgroup(void **state)
{
	struct fx *f = *state;
	NEED_ROOT();
	int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	struct lr_error err = {0};
	int r = lr_devices_apply_v2(dfd, gpu1, 1, &err);
	close(dfd);
	assert_int_equal(r, -EBADF);
	assert_non_null(strstr(err.msg, "not a cgroup v2 directory"));
}

/* ------------------------------------------------------------ v1 (root: cgroup) */

static void v1_denied_gpu_gives_eperm_and_a_reapply_swaps_them(void **state)
{
	struct fx *f = *state;
	NEED_CGROUP(f);
	make_gpus(f);
	expect_allowed(f, "gpu1", "before any apply");
	struct lr_error err = {0};
	if (lr_devices_apply_v1(f->cgfd, gpu1, 1, gpu0, 1, &err) < 0)
		fail_msg("deny 195:1: %s", err.msg);
	expect_allowed(f, "gpu0", "195:1 denied");
	expect_denied(f, "gpu1", "195:1 denied");
	if (lr_devices_apply_v1(f->cgfd, gpu0, 1, gpu1, 1, &err) < 0)
		fail_msg("deny 195:0: %s", err.msg);
	expect_denied(f, "gpu0", "re-applied with 195:0 denied");
	expect_allowed(f, "gpu1", "re-applied with 195:0 denied");
}

/* ------------------------------------------------------------ v2 (root: cgroup, bpf) */

static void v2_denied_gpu_cannot_be_opened_or_made(void **state)
{
	struct fx *f = *state;
	NEED_CGROUP(f);
	make_gpus(f);
	APPLY_V2(f, gpu1, 1);
	expect_allowed(f, "gpu0", "195:1 denied");
	expect_denied(f, "gpu1", "195:1 denied");
	int e = in_cgroup(f, MKNOD, "made1", 1);
	if (e != EPERM)
		fail_msg("mknod c 195 1 in the cgroup: %s, want EPERM",
			 e ? strerror(e) : "it was made");
	e = in_cgroup(f, MKNOD, "made0", 0);
	if (e != 0)
		fail_msg("mknod c 195 0 in the cgroup: %s, want it made", strerror(e));
	expect_programs(f, 1, 1, "after one apply");
}

static void v2_reapply_swaps_the_gpus_with_one_program(void **state)
{
	struct fx *f = *state;
	NEED_CGROUP(f);
	make_gpus(f);
	APPLY_V2(f, gpu1, 1);
	expect_denied(f, "gpu1", "195:1 denied");
	APPLY_V2(f, gpu0, 1);
	expect_denied(f, "gpu0", "re-applied with 195:0 denied");
	expect_allowed(f, "gpu1", "re-applied with 195:0 denied");
	expect_programs(f, 1, 1, "after two applies");
	APPLY_V2(f, gpu0, 1);
	expect_programs(f, 1, 1, "after three applies");
	expect_denied(f, "gpu0", "third apply");
	expect_allowed(f, "gpu1", "third apply");
}

static void v2_empty_list_lifts_the_restriction(void **state)
{
	struct fx *f = *state;
	NEED_CGROUP(f);
	make_gpus(f);
	APPLY_V2(f, gpu1, 1);
	expect_denied(f, "gpu1", "195:1 denied");
	APPLY_V2(f, NULL, 0);
	expect_allowed(f, "gpu1", "lifted");
	expect_programs(f, 0, 0, "lifted");
	APPLY_V2(f, NULL, 0); /* nothing to lift */
	expect_programs(f, 0, 0, "lifted twice");
}

static void v2_leaves_other_programs_alone(void **state)
{
	struct fx *f = *state;
	NEED_CGROUP(f);
	make_gpus(f);
	attach_foreign(f->cgfd, BPF_F_ALLOW_MULTI);
	APPLY_V2(f, gpu1, 1);
	expect_programs(f, 2, 1, "foreign program, then ours");
	APPLY_V2(f, gpu0, 1);
	expect_programs(f, 2, 1, "re-applied");
	APPLY_V2(f, NULL, 0);
	expect_programs(f, 1, 0, "ours lifted");
	/* The foreign program still denies everything: any denial wins. */
	expect_denied(f, "gpu1", "ours lifted, the foreign program still there");
}

static void v2_refuses_a_cgroup_whose_program_admits_no_other(void **state)
{
	struct fx *f = *state;
	NEED_CGROUP(f);
	attach_foreign(f->cgfd, 0);
	struct lr_error err = {0};
	assert_int_equal(lr_devices_apply_v2(f->cgfd, gpu1, 1, &err), -EPERM);
	assert_non_null(strstr(err.msg, "without BPF_F_ALLOW_MULTI"));
	expect_programs(f, 1, 0, "refused");
}

/* What devices.h warns of: below a program attached with
 * BPF_F_ALLOW_OVERRIDE (as Slurm attaches its own), ours takes its place,
 * and what it denied is allowed unless ours denies it too. */
static void v2_program_below_an_override_program_takes_its_place(void **state)
{
	struct fx *f = *state;
	NEED_CGROUP(f);
	make_gpus(f);
	attach_foreign(f->cgfd, BPF_F_ALLOW_OVERRIDE);
	snprintf(f->sub, sizeof(f->sub), "%s/step", f->cg);
	if (mkdir(f->sub, 0755) < 0) {
		f->sub[0] = '\0';
		fail_msg("mkdir %s/step: %s", f->cg, strerror(errno));
	}
	f->join = f->sub;
	expect_denied(f, "gpu0", "below the override program");
	int fd = open(f->sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("open %s: %s", f->sub, strerror(errno));
	struct lr_error err = {0};
	int r = lr_devices_apply_v2(fd, gpu1, 1, &err);
	close(fd);
	if (r < 0)
		fail_msg("lr_devices_apply_v2 below: %s", err.msg);
	expect_allowed(f, "gpu0", "ours below the override program");
	expect_denied(f, "gpu1", "ours below the override program");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name, kind) cmocka_unit_test_setup_teardown(name, setup_##kind, teardown)
		T(glob_without_a_match_finds_nothing, plain),
		T(glob_leaves_out_what_is_not_a_character_device, plain),
		T(glob_refuses_an_empty_pattern, plain),
		T(lists_beyond_the_limit_are_refused, plain),
		T(devices_the_kernel_cannot_have_are_refused, plain),
		T(v1_refuses_a_device_both_denied_and_allowed, plain),
		T(v1_refuses_a_directory_that_is_not_a_cgroup, plain),
		T(glob_finds_character_devices_sorted_by_minor, plain),
		T(glob_refuses_more_devices_than_room, plain),
		T(v2_program_loads_for_none_one_and_the_most_devices, plain),
		T(v2_refuses_a_directory_that_is_not_a_v2_cgroup, plain),
		T(v1_denied_gpu_gives_eperm_and_a_reapply_swaps_them, v1),
		T(v2_denied_gpu_cannot_be_opened_or_made, v2),
		T(v2_reapply_swaps_the_gpus_with_one_program, v2),
		T(v2_empty_list_lifts_the_restriction, v2),
		T(v2_leaves_other_programs_alone, v2),
		T(v2_refuses_a_cgroup_whose_program_admits_no_other, v2),
		T(v2_program_below_an_override_program_takes_its_place, v2),
#undef T
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("devices", tests, NULL, NULL);
}
