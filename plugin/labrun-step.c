/* labrun-step - the container of one Slurm step on one node (DESIGN.md §4).
 *
 * Exec'd by the Slurm plugin from slurmstepd's user_init, once per step
 * per node, fully dropped to the job user (no capability, no saved root
 * id): it is an ordinary user process with a fresh address space.  It
 * builds the container as labrun does, but its keeper runs no job: the
 * keeper hands the namespaces to slurmstepd and every task of the step
 * joins them.  It serves the layers over FUSE until slurmstepd lets go,
 * or uses the mounts of the job's layer holder on this node when there is
 * one (holder.h).
 *
 * With --job-holder JOB it is instead that holder's start: the plugin
 * runs it, dropped to the job user the same way, in the job's extern step,
 * so that the holder outlives the step and dies with the job.
 *
 * Not for users: it is started with fd 3, a SOCK_SEQPACKET socket to
 * slurmstepd (the hand-over, or why the container could not be made), and
 * fd 4, a pipe that hangs up when slurmstepd releases the step.  Exit
 * status: 0 after the release, 125 when the container failed.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "container.h"
#include "devices.h"
#include "job.h"
#include "holder.h"
#include "layers.h"
#include "log.h"
#include "policy.h"
#include "step.h"
#include "step_quota.h"

#define STEP_FD 3
#define RELEASE_FD 4

static const char usage[] =
	"Usage: labrun-step [OPTION]... IMAGE\n"
	"       labrun-step --job-holder JOB [--remap-root] [--config FILE]\n"
	"The container of a Slurm step, started by the labrun SPANK plugin (spank_labrun.so)\n"
	"in slurmstepd; not for use from a shell.\n"
	"\n"
	"  -c, --config FILE        labrun.conf to read\n"
	"      --mounts SPEC        binds, SRC[:DST[:ro|rw]][,...]\n"
	"      --workdir DIR        the tasks' working directory inside\n"
	"      --writable DIR       keep the container's changes in DIR\n"
	"      --remap-root         the tasks are root inside\n"
	"      --entrypoint         run the image's entrypoint once, before the tasks join\n"
	"      --gpus LIST          the step's GPUs: indexes (SLURM_STEP_GPUS) into the node's\n"
	"                           GPUs (gpu-devices in labrun.conf, by minor number)\n"
	"      --lab LAB            the lab whose quota applies (a member of several)\n"
	"      --cpus N             the CPUs Slurm gave the step on this node\n"
	"      --job JOB            use the layer holder of Slurm job JOB, if it runs\n"
	"      --job-holder JOB     start the layer holder of Slurm job JOB and exit\n"
	"      --batch-dir DIR      the batch script's directory, bound read-only\n"
	"      --console TTY        the tasks' terminal (srun --pty), as /dev/console\n"
	"      --node-oci           this node runs Slurm's OCI runtime (oci.conf)\n"
	"      --tmpfs-size BYTES   size of the writable layer\n"
	"  -v, --verbose            debug messages on stderr\n"
	"  -h, --help               this help\n";

struct step_options {
	const char *config;
	char *mounts;
	const char *workdir;
	const char *writable;
	bool remap_root;
	bool entrypoint;
	const char *gpus;
	const char *lab;
	unsigned cpus;
	const char *batch_dir;
	const char *console;
	bool has_tmpfs_size;
	uint64_t tmpfs_size;
	bool node_oci;
	uint32_t job;	     /* --job */
	uint32_t job_holder; /* --job-holder */
	const char *image;
};

static int parse_job(const char *arg, const char *opt, uint32_t *out, struct lr_error *err)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || n == 0 || n > UINT32_MAX)
		return lr_error_set(err, EINVAL, "%s '%.32s': not a job id", opt, arg);
	*out = (uint32_t)n;
	return 0;
}

static int parse(struct step_options *o, int argc, char **argv, struct lr_error *err)
{
	enum {
		MOUNTS = 256,
		WORKDIR,
		WRITABLE,
		REMAP,
		GPUS,
		LAB,
		TMPFS,
		BATCH,
		CONSOLE,
		ENTRY,
		CPUS,
		NODE_OCI,
		JOB,
		JOB_HOLDER
	};
	static const struct option longs[] = {
		{"config", required_argument, NULL, 'c'},
		{"mounts", required_argument, NULL, MOUNTS},
		{"workdir", required_argument, NULL, WORKDIR},
		{"writable", required_argument, NULL, WRITABLE},
		{"remap-root", no_argument, NULL, REMAP},
		{"entrypoint", no_argument, NULL, ENTRY},
		{"gpus", required_argument, NULL, GPUS},
		{"lab", required_argument, NULL, LAB},
		{"cpus", required_argument, NULL, CPUS},
		{"tmpfs-size", required_argument, NULL, TMPFS},
		{"batch-dir", required_argument, NULL, BATCH},
		{"console", required_argument, NULL, CONSOLE},
		{"node-oci", no_argument, NULL, NODE_OCI},
		{"job", required_argument, NULL, JOB},
		{"job-holder", required_argument, NULL, JOB_HOLDER},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+c:vh", longs, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case MOUNTS: o->mounts = optarg; break;
		case WORKDIR: o->workdir = optarg; break;
		case WRITABLE: o->writable = optarg; break;
		case REMAP: o->remap_root = true; break;
		case ENTRY: o->entrypoint = true; break;
		case BATCH: o->batch_dir = optarg; break;
		case CONSOLE: o->console = optarg; break;
		case NODE_OCI: o->node_oci = true; break;
		case GPUS: o->gpus = optarg; break;
		case JOB:
			if (parse_job(optarg, "--job", &o->job, err) < 0)
				return -1;
			break;
		case JOB_HOLDER:
			if (parse_job(optarg, "--job-holder", &o->job_holder, err) < 0)
				return -1;
			break;
		case LAB: o->lab = optarg; break;
		case CPUS: {
			char *end;
			errno = 0;
			unsigned long n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || n > 1u << 20)
				return lr_error_set(err, EINVAL, "--cpus '%.32s': not a count",
						    optarg);
			o->cpus = (unsigned)n;
			break;
		}
		case TMPFS:
			if (lr_tmpfs_size_parse(optarg, &o->tmpfs_size, err) < 0)
				return lr_error_prefix(err, "--tmpfs-size");
			o->has_tmpfs_size = true;
			break;
		case 'v': lr_log_level++; break;
		case 'h': fputs(usage, stdout); exit(0);
		default:
			return lr_error_set(err, EINVAL, "unknown option %s (see --help)",
					    argv[optind - 1]);
		}
	}
	if (o->job_holder) {
		if (optind != argc)
			return lr_error_set(err, EINVAL, "--job-holder takes no IMAGE");
		return 0;
	}
	if (optind != argc - 1)
		return lr_error_set(err, EINVAL, "one IMAGE expected (see --help)");
	o->image = argv[optind];
	return 0;
}

/* The step's GPUs: SLURM_STEP_GPUS's indexes into the node's GPUs, which
 * Slurm numbers as gres.conf lists them, in the order of their minor
 * numbers (lr_devices_glob()'s).  Only they exist in the container; Slurm's
 * ConstrainDevices denies the others in the step's cgroup too. */
static int step_gpus(const char *list, const struct lr_config *cfg, char **paths, size_t *n,
		     struct lr_error *err)
{
	*n = 0;
	if (!list || !*list)
		return 0;
	struct lr_device devs[LR_DEVICES_MAX];
	char *all[LR_DEVICES_MAX];
	const char *pattern = cfg->gpu_devices ? cfg->gpu_devices : LR_CONFIG_GPU_DEVICES;
	int found = lr_devices_glob(pattern, devs, all, LR_DEVICES_MAX, err);
	if (found < 0)
		return lr_error_prefix(err, "the node's GPUs (%s)", pattern);
	int r = 0;
	for (const char *p = list; *p && r == 0;) {
		char *end;
		errno = 0;
		unsigned long i = strtoul(p, &end, 10);
		if (end == p || errno || (*end && *end != ','))
			r = lr_error_set(err, EINVAL,
					 "the step's GPUs '%.64s': not a list of numbers", list);
		else if (i >= (unsigned long)found)
			r = lr_error_set(
				err, ENODEV,
				"the step's GPU %lu is not one of the %d of gpu-devices = %s", i,
				found, pattern);
		else if (*n < LR_DEVICES_MAX && !(paths[(*n)++] = strdup(all[i])))
			r = lr_error_errno(err, ENOMEM, "the step's GPUs");
		p = *end ? end + 1 : end;
	}
	lr_devices_paths_free(all, (size_t)found);
	return r;
}

/* The binds: the admin's from labrun.conf, then --container-mounts, then
 * the step's GPUs and the batch script's directory. */
static int add_binds(struct lr_bind *binds, size_t max, size_t *n, const struct lr_config *cfg,
		     const struct step_options *o, char *const *gpus, size_t n_gpus,
		     const struct lr_expand *ex, struct lr_error *err)
{
	for (size_t i = 0; i < cfg->n_binds; i++)
		binds[(*n)++] = cfg->binds[i];
	for (char *save = NULL, *spec = o->mounts ? strtok_r(o->mounts, ",", &save) : NULL; spec;
	     spec = strtok_r(NULL, ",", &save)) {
		if (*n == max)
			return lr_error_set(err, E2BIG, "--container-mounts: too many binds");
		if (lr_bind_parse(&binds[*n], spec, ex, err) < 0)
			return lr_error_prefix(err, "--container-mounts");
		(*n)++;
	}
	for (size_t i = 0; i < n_gpus; i++) {
		if (*n == max)
			return lr_error_set(err, E2BIG, "too many binds");
		binds[(*n)++] = (struct lr_bind){.src = gpus[i], .dst = gpus[i], .device = true};
	}
	if (o->batch_dir) {
		if (*n == max)
			return lr_error_set(err, E2BIG, "too many binds");
		binds[(*n)++] = (struct lr_bind){
			.src = (char *)o->batch_dir, .dst = (char *)o->batch_dir, .readonly = true};
	}
	return 0;
}

/* The image must be a file: a directory is an OCI bundle, which Slurm
 * runs itself only where its OCI runtime is configured and otherwise
 * runs the task on the host (issue 12, item 13): refused, saying so.
 * O_NONBLOCK: a FIFO named as the image must not hold us in open(). */
static int check_image(const char *image, bool node_oci, struct lr_error *err)
{
	int fd = open(image, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return lr_error_errno(err, errno, "container image %s", image);
	int r = fstat(fd, &st);
	int e = errno;
	close(fd);
	if (r < 0)
		return lr_error_errno(err, e, "container image %s", image);
	if (S_ISDIR(st.st_mode) && node_oci)
		return lr_error_set(err, EISDIR,
				    "container image %s: a directory; --container-image takes a "
				    "squashfs image file (an OCI bundle is --container=DIR, for "
				    "Slurm's OCI runtime)",
				    image);
	if (S_ISDIR(st.st_mode))
		return lr_error_set(err, EISDIR,
				    "container image %s: a directory, and this node has no OCI "
				    "runtime for it (no oci.conf beside slurm.conf): labrun runs "
				    "squashfs image files only",
				    image);
	if (!S_ISREG(st.st_mode))
		return lr_error_set(err, EINVAL,
				    "container image %s: not a squashfs image file (not a regular "
				    "file)",
				    image);
	return 0;
}

/* Started with --job-holder: no hand-over, no release pipe. */
static bool in_holder_mode;

/* The user (NULL with err set when unknown) and labrun.conf at path, with
 * "~", $HOME and $USER as ex expands them. */
static struct passwd *load_config(const char *path, struct lr_config *cfg, struct lr_expand *ex,
				  struct lr_error *err)
{
	struct passwd *pw = getpwuid(getuid());
	if (!pw) {
		lr_error_set(err, ENOENT, "cannot find your user in the password database");
		return NULL;
	}
	*ex = (struct lr_expand){.home = pw->pw_dir, .user = pw->pw_name};
	lr_config_init(cfg);
	if (lr_config_load(cfg, path, !strcmp(path, LR_DEFAULT_CONFIG_PATH), ex, err) < 0)
		return NULL;
	return pw;
}

/* --job-holder: the job's holder on this node, unless holders are off.
 * Returns 1 when done. */
static int job_holder(const struct step_options *o, struct lr_error *err)
{
	static struct lr_config cfg;
	struct lr_expand ex;
	if (!load_config(o->config, &cfg, &ex, err))
		return -1;
	if (!cfg.holder_idle)
		return 1;
	return lr_holder_serve_job(o->job_holder, o->remap_root, err) < 0 ? -1 : 1;
}

static int run(int argc, char **argv, struct lr_error *err)
{
	struct step_options o = {.config = LR_DEFAULT_CONFIG_PATH};
	if (parse(&o, argc, argv, err) < 0)
		return -1;
	if (o.job_holder) {
		in_holder_mode = true;
		return job_holder(&o, err);
	}
	if (check_image(o.image, o.node_oci, err) < 0)
		return -1;
	static struct lr_config cfg;
	struct lr_expand ex;
	struct passwd *pw = load_config(o.config, &cfg, &ex, err);
	if (!pw)
		return -1;
	struct group *gr = getgrgid(getgid());
	char gidname[16];
	snprintf(gidname, sizeof(gidname), "%u", (unsigned)getgid());
	static char *gpus[LR_DEVICES_MAX];
	size_t n_gpus = 0;
	if (step_gpus(o.gpus, &cfg, gpus, &n_gpus, err) < 0)
		return -1;
	/* The lab's quota first: a step over it is refused before anything
	 * is mounted. */
	struct lr_step_resources res;
	struct lr_step_quota quota;
	if (lr_step_resources_read(&res, n_gpus, err) < 0)
		return -1;
	/* Without Slurm's ConstrainCores the step's cpuset is the whole node:
	 * then the CPUs Slurm counted for the step are the bound. */
	if (o.cpus && o.cpus < res.cores)
		res.cores = o.cpus;
	if (lr_step_quota_check(cfg.policy_dir ? cfg.policy_dir : LR_POLICY_DIR, pw->pw_name, o.lab,
				&res, &quota, err) < 0)
		return -1;
	static struct lr_bind binds[LR_CONFIG_MAX_BINDS + LR_CONTAINER_MAX_BINDS];
	size_t n_binds = 0;
	if (add_binds(binds, LR_CONTAINER_MAX_BINDS, &n_binds, &cfg, &o, gpus, n_gpus, &ex, err) <
	    0)
		return -1;

	/* --container-writable=~/DIR, as the shell would have it. */
	static char writable[PATH_MAX];
	if (o.writable && o.writable[0] == '~' && (o.writable[1] == '/' || !o.writable[1])) {
		if ((size_t)snprintf(writable, sizeof(writable), "%s%s", pw->pw_dir,
				     o.writable + 1) >= sizeof(writable))
			return lr_error_set(err, ENAMETOOLONG, "--container-writable: too long");
		o.writable = writable;
	}
	/* The job's layer holder on this node, if the plugin started one:
	 * the job's later steps find the layers mounted and in the page
	 * cache (holder.h). */
	static struct lr_chain chain;
	static int held_trees[LR_MAX_LAYERS];
	if (lr_holder_launch_chain(&chain, o.image, &cfg, o.job, o.remap_root, o.job != 0,
				   o.remap_root ? 0 : getuid(), o.remap_root ? 0 : getgid(),
				   "--container-remap-root", held_trees, err) < 0)
		return -1;
	/* slurmstepd made the job's cwd ours before user_init. */
	char cwd[PATH_MAX];
	char *workdir = NULL;
	if (lr_job_workdir(o.workdir, getcwd(cwd, sizeof(cwd)), binds, n_binds,
			   chain.config.workdir, &workdir, err) < 0)
		return -1;
	static char *no_env[] = {NULL};
	/* The keeper runs no job, unless the image's entrypoint is asked for:
	 * then that, once, before the tasks join. */
	char **job = no_env;
	if (o.entrypoint && chain.config.has_entrypoint && chain.config.entrypoint.n)
		job = chain.config.entrypoint.v;
	struct lr_container_spec spec = {
		.chain = &chain,
		.argv = job,
		/* The tasks' environment is Slurm's; the image's is laid
		 * over it by each task (remote.c). */
		.envp = chain.config.env.v ? chain.config.env.v : no_env,
		.workdir = workdir,
		.workdir_explicit = o.workdir != NULL,
		.binds = binds,
		.n_binds = n_binds,
		.remap_root = o.remap_root,
		.tmpfs_size = o.has_tmpfs_size ? o.tmpfs_size : cfg.tmpfs_size,
		.writable_dir = o.writable,
		.user_name = pw->pw_name,
		.user_gecos = pw->pw_gecos,
		.user_home = pw->pw_dir,
		.group_name = gr ? gr->gr_name : gidname,
		.cgroup_fd = -1,
		.memcg_tasks_fd = -1,
		.step_fd = STEP_FD,
		.release_fd = RELEASE_FD,
		.cgroup_ns = true,
		.step_limits = {.memory = quota.memory_limit,
				.processes = quota.processes,
				.lab = quota.applies ? quota.lab : NULL},
		.console = o.console,
		.layer_trees = held_trees,
	};
	if (quota.has_tmpfs && quota.tmpfs_size < spec.tmpfs_size)
		spec.tmpfs_size = quota.tmpfs_size;
	int status = 0;
	if (lr_container_run(&spec, &status, err) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	prctl(PR_SET_NAME, "labrun-step");
	struct lr_error err = {0};
	int r = run(argc, argv, &err);
	if (r > 0)
		return 0; /* --job-holder: started */
	if (r < 0 && in_holder_mode) {
		fprintf(stderr, "labrun-step: %s\n", err.msg);
		return 125;
	}
	if (r < 0) {
		lr_step_send_failure(STEP_FD, &err);
		fprintf(stderr, "labrun-step: %s\n", err.msg);
	}
	/* Stay until slurmstepd lets go, whatever happened: it reaps us after
	 * its last task, and a helper exiting earlier would be reaped by its
	 * task wait loop, which then stalls (notes/slurm.md, edge 2). */
	for (;;) {
		char byte;
		ssize_t n = read(RELEASE_FD, &byte, 1);
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	return r < 0 ? 125 : 0;
}
