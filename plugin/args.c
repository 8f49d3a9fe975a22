/* args.c - the Slurm plugin's options and plugstack.conf arguments (args.h).
 *
 * Pure, and run on values the user controls (srun's command line, the job's
 * environment): bounded, checked, never interpreted beyond their shape.
 * Paths are resolved later, where the user and the node are known.
 */
#include "build-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

const struct lr_spank_option lr_spank_options[LR_OPT_COUNT] = {
	[LR_OPT_IMAGE] = {"container-image", "IMAGE", 1, "LABRUN_CONTAINER_IMAGE",
			  "run the tasks in the squashfs image IMAGE (as srun --container=IMAGE)"},
	[LR_OPT_MOUNTS] = {"container-mounts", "SRC[:DST[:ro|rw]][,...]", 1,
			   "LABRUN_CONTAINER_MOUNTS", "show host paths in the container"},
	[LR_OPT_WORKDIR] = {"container-workdir", "DIR", 1, "LABRUN_CONTAINER_WORKDIR",
			    "working directory inside the container"},
	[LR_OPT_WRITABLE] = {"container-writable", "DIR", 2, "LABRUN_CONTAINER_WRITABLE",
			     "keep changes to the container's files (in DIR/upper with =DIR)"},
	[LR_OPT_REMAP_ROOT] = {"container-remap-root", NULL, 0, "LABRUN_CONTAINER_REMAP_ROOT",
			       "run as root (uid 0) inside the container"},
	[LR_OPT_ENV] = {"container-env", "NAME[,NAME...]", 1, "LABRUN_CONTAINER_ENV",
			"these host variables override the image's"},
	[LR_OPT_ENTRYPOINT] = {"container-entrypoint", NULL, 0, "LABRUN_CONTAINER_ENTRYPOINT",
			       "run the image's entrypoint before the command"},
	[LR_OPT_LAB] = {"container-lab", "LAB", 1, "LABRUN_CONTAINER_LAB",
			"the lab whose quota the step counts against (a member of several)"},
};

const char lr_spank_env_too_long[] = "(too long)";

static int dup_value(char **out, const char *name, const char *value, struct lr_error *err)
{
	size_t n = strlen(value);
	if (n == 0)
		return lr_error_set(err, EINVAL, "--%s: empty value", name);
	if (n > LR_SPANK_VALUE_MAX)
		return lr_error_set(err, E2BIG, "--%s: longer than %d characters", name,
				    LR_SPANK_VALUE_MAX);
	char *copy = strdup(value);
	if (!copy)
		return lr_error_errno(err, ENOMEM, "--%s", name);
	free(*out);
	*out = copy;
	return 0;
}

/* SRC[:DST[:ro|rw]] items, comma-separated: at most 3 fields, SRC and DST
 * absolute or starting with ~ (SRC), the mode ro or rw. */
static int check_mounts(const char *s, size_t *count, struct lr_error *err)
{
	size_t n = 0;
	for (const char *item = s; *item;) {
		size_t len = strcspn(item, ",");
		if (len == 0)
			return lr_error_set(err, EINVAL, "--container-mounts: an empty entry");
		if (++n > LR_SPANK_MAX_MOUNTS)
			return lr_error_set(err, E2BIG, "--container-mounts: more than %d entries",
					    LR_SPANK_MAX_MOUNTS);
		const char *f[3] = {item, NULL, NULL};
		size_t flen[3] = {len, 0, 0}, nf = 1;
		for (size_t i = 0; i < len; i++)
			if (item[i] == ':') {
				if (nf == 3)
					return lr_error_set(err, EINVAL,
							    "--container-mounts '%.*s': expected "
							    "SRC[:DST[:ro|rw]]",
							    (int)len, item);
				flen[nf - 1] = (size_t)(item + i - f[nf - 1]);
				f[nf] = item + i + 1;
				flen[nf] = (size_t)(item + len - f[nf]);
				nf++;
			}
		if (!flen[0] || (f[0][0] != '/' && f[0][0] != '~'))
			return lr_error_set(err, EINVAL,
					    "--container-mounts '%.*s': the source must be an "
					    "absolute path",
					    (int)len, item);
		if (nf >= 2 && (!flen[1] || f[1][0] != '/'))
			return lr_error_set(err, EINVAL,
					    "--container-mounts '%.*s': the destination must be an "
					    "absolute path",
					    (int)len, item);
		if (nf == 3 && !((flen[2] == 2 && !strncmp(f[2], "ro", 2)) ||
				 (flen[2] == 2 && !strncmp(f[2], "rw", 2))))
			return lr_error_set(err, EINVAL,
					    "--container-mounts '%.*s': the mode must be ro or rw",
					    (int)len, item);
		item += len;
		if (*item == ',')
			item++;
	}
	*count = n;
	return 0;
}

static bool is_env_name(const char *s, size_t n)
{
	if (n == 0 || n > 255 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int set_env(struct lr_spank_args *a, const char *s, struct lr_error *err)
{
	for (size_t i = 0; i < a->n_env; i++)
		free(a->env[i]);
	a->n_env = 0;
	for (const char *item = s; *item;) {
		size_t len = strcspn(item, ",");
		if (!is_env_name(item, len))
			return lr_error_set(err, EINVAL,
					    "--container-env '%.*s': not a variable name", (int)len,
					    item);
		if (a->n_env == LR_SPANK_MAX_ENV)
			return lr_error_set(err, E2BIG, "--container-env: more than %d names",
					    LR_SPANK_MAX_ENV);
		if (!(a->env[a->n_env] = strndup(item, len)))
			return lr_error_errno(err, ENOMEM, "--container-env");
		a->n_env++;
		item += len;
		if (*item == ',')
			item++;
	}
	return a->n_env ? 0 : lr_error_set(err, EINVAL, "--container-env: no name given");
}

int lr_spank_args_set(struct lr_spank_args *a, enum lr_spank_opt opt, const char *value,
		      struct lr_error *err)
{
	const char *name = lr_spank_options[opt].name;
	if (value && strlen(value) > LR_SPANK_VALUE_MAX)
		return lr_error_set(err, E2BIG, "--%s: longer than %d characters", name,
				    LR_SPANK_VALUE_MAX);
	int r = 0;
	switch (opt) {
	case LR_OPT_IMAGE: r = dup_value(&a->image, name, value ? value : "", err); break;
	case LR_OPT_MOUNTS:
		r = check_mounts(value ? value : "", &a->n_mounts, err);
		if (r == 0 && !a->n_mounts)
			r = lr_error_set(err, EINVAL, "--%s: empty value", name);
		if (r == 0)
			r = dup_value(&a->mounts, name, value, err);
		break;
	case LR_OPT_WORKDIR:
		if (!value || value[0] != '/')
			return lr_error_set(err, EINVAL,
					    "--%s '%.128s': must be an absolute path in the "
					    "container",
					    name, value ? value : "");
		r = dup_value(&a->workdir, name, value, err);
		break;
	case LR_OPT_WRITABLE:
		a->writable = true;
		if (value && *value) {
			if (value[0] != '/' && value[0] != '~')
				return lr_error_set(err, EINVAL,
						    "--%s=%.128s: DIR must be an absolute path",
						    name, value);
			r = dup_value(&a->writable_dir, name, value, err);
		}
		break;
	case LR_OPT_REMAP_ROOT: a->remap_root = true; break;
	case LR_OPT_ENV: r = set_env(a, value ? value : "", err); break;
	case LR_OPT_ENTRYPOINT: a->entrypoint = true; break;
	case LR_OPT_LAB:
		/* A lab is a file name in the policy directory. */
		if (!value || !*value || strlen(value) > 63 || strchr(value, '/') ||
		    value[0] == '.')
			return lr_error_set(err, EINVAL, "--%s '%.64s': not a lab name", name,
					    value ? value : "");
		r = dup_value(&a->lab, name, value, err);
		break;
	default: return lr_error_set(err, EINVAL, "unknown option %d", (int)opt);
	}
	if (r == 0)
		a->given[opt] = true;
	return r;
}

/* A flag's variable: 1 set, 0 unset, negative an error. */
static int flag_value(const char *var, const char *v, struct lr_error *err)
{
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true"))
		return 1;
	if (!*v || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false"))
		return 0;
	return lr_error_set(err, EINVAL, "%s='%.32s': expected 1 or 0", var, v);
}

int lr_spank_args_from_env(struct lr_spank_args *a,
			   const char *(*getenv_fn)(const char *name, void *ctx), void *ctx,
			   struct lr_error *err)
{
	for (int i = 0; i < LR_OPT_COUNT; i++) {
		const struct lr_spank_option *o = &lr_spank_options[i];
		const char *v = a->given[i] ? NULL : getenv_fn(o->env, ctx);
		if (!v)
			continue;
		if (v == lr_spank_env_too_long)
			return lr_error_set(err, E2BIG, "%s: longer than %d characters", o->env,
					    LR_SPANK_VALUE_MAX);
		int r;
		if (o->has_arg == 0) {
			r = flag_value(o->env, v, err);
			if (r <= 0) {
				if (r < 0)
					return r;
				continue;
			}
			r = lr_spank_args_set(a, (enum lr_spank_opt)i, NULL, err);
		} else if (o->has_arg == 2 && flag_value(o->env, v, NULL) >= 0) {
			/* --container-writable without DIR: "1"; "0" leaves it off */
			if (flag_value(o->env, v, NULL) == 0)
				continue;
			r = lr_spank_args_set(a, (enum lr_spank_opt)i, NULL, err);
		} else {
			r = lr_spank_args_set(a, (enum lr_spank_opt)i, v, err);
		}
		if (r < 0)
			return lr_error_prefix(err, "%s", o->env);
	}
	return 0;
}

void lr_spank_args_free(struct lr_spank_args *a)
{
	if (!a)
		return;
	free(a->image);
	free(a->mounts);
	free(a->workdir);
	free(a->writable_dir);
	free(a->lab);
	for (size_t i = 0; i < a->n_env; i++)
		free(a->env[i]);
	memset(a, 0, sizeof(*a));
}

int lr_spank_conf_parse(struct lr_spank_conf *c, int argc, char *const *argv, struct lr_error *err)
{
	struct lr_spank_conf conf = {.config = NULL,
				     .helper = LR_STEP_HELPER,
				     .signals = LR_SIGNALS_FORWARD,
				     .timeout = LR_HELPER_START_TIMEOUT};
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (!strncmp(arg, "config=", 7) && arg[7] == '/') {
			conf.config = arg + 7;
		} else if (!strncmp(arg, "helper=", 7) && arg[7] == '/') {
			conf.helper = arg + 7;
		} else if (!strcmp(arg, "signals=forward")) {
			conf.signals = LR_SIGNALS_FORWARD;
		} else if (!strcmp(arg, "signals=slurm")) {
			conf.signals = LR_SIGNALS_SLURM;
		} else if (!strncmp(arg, "timeout=", 8)) {
			char *end;
			errno = 0;
			unsigned long t = strtoul(arg + 8, &end, 10);
			if (errno || end == arg + 8 || *end || arg[8] == '-' || t == 0 ||
			    t > LR_HELPER_START_TIMEOUT_MAX)
				return lr_error_set(err, EINVAL,
						    "plugstack.conf: '%.64s': the seconds must be "
						    "from 1 to %d",
						    arg, LR_HELPER_START_TIMEOUT_MAX);
			conf.timeout = (unsigned)t;
		} else {
			return lr_error_set(
				err, EINVAL,
				"plugstack.conf: unknown argument '%.128s' (known: "
				"config=/ABSOLUTE/labrun.conf, helper=/ABSOLUTE/labrun-step, "
				"signals=forward|slurm, timeout=SECONDS)",
				arg);
		}
	}
	*c = conf;
	return 0;
}
