/* chaininfo.c - a chain's launch info, written by a layer holder and read
 * by the launches it serves (chaininfo.h).
 *
 * The blob: a head, one record per layer (top first), then each layer's
 * layer.json and each file's bytes, in that order, their lengths in the
 * head and the records.  Native byte order: one build writes and reads it.
 */
#include "build-config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chaininfo.h"
#include "cleanup.h"
#include "imageconfig.h"
#include "io.h"
#include "squash.h"

#define INFO_MAGIC 0x31696c72u /* "rli1" */

static const char *const chain_files[LR_CHAIN_FILES] = {"/etc/passwd", "/etc/group"};

struct info_head {
	uint32_t magic;
	uint32_t n;			       /* layers */
	uint32_t file_len[LR_CHAIN_FILES];     /* bytes */
	uint32_t file_present[LR_CHAIN_FILES]; /* 0: the image has none */
};

struct info_layer {
	uint32_t mode, uid, gid; /* the root directory's */
	uint32_t json_len;	 /* 0: no layer.json */
	char name[80];
};

static int write_all(int fd, const void *buf, size_t len, struct lr_error *err)
{
	int r = lr_write_all(fd, buf, len);
	return r < 0 ? lr_error_errno(err, -r, "launch info") : 0;
}

int lr_chain_info_write(const struct lr_chain *chain, int fd, size_t etc_max, struct lr_error *err)
{
	if (chain->n == 0 || chain->n > LR_MAX_LAYERS)
		return lr_error_set(err, EINVAL, "launch info: %zu layers", chain->n);
	struct info_head head = {.magic = INFO_MAGIC, .n = (uint32_t)chain->n};
	static struct info_layer rec[LR_MAX_LAYERS];
	static char *json[LR_MAX_LAYERS];
	memset(json, 0, sizeof(json));
	memset(rec, 0, sizeof(rec));
	char *file[LR_CHAIN_FILES] = {NULL};
	int r = 0;
	for (size_t i = 0; i < chain->n; i++) {
		const struct lr_layer *l = &chain->layers[i];
		snprintf(rec[i].name, sizeof(rec[i].name), "%s", l->name);
		if (!l->sq || lr_squash_root(l->sq, &rec[i].mode, &rec[i].uid, &rec[i].gid) < 0) {
			r = lr_error_set(err, EIO, "launch info: layer %s: its root", l->name);
			break;
		}
		size_t len = 0;
		r = lr_squash_read_file(l->sq, LR_LAYER_JSON_PATH, LR_LAYERJSON_MAX_BYTES, &json[i],
					&len, err);
		if (r == -ENOENT)
			r = 0;
		if (r < 0)
			break;
		rec[i].json_len = (uint32_t)len;
	}
	for (size_t k = 0; r == 0 && k < LR_CHAIN_FILES; k++) {
		size_t len = 0;
		r = lr_chain_read_file(chain, chain_files[k], etc_max, &file[k], &len, err);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		head.file_present[k] = 1;
		head.file_len[k] = (uint32_t)len;
	}
	if (r == 0)
		r = write_all(fd, &head, sizeof(head), err);
	if (r == 0)
		r = write_all(fd, rec, chain->n * sizeof(rec[0]), err);
	for (size_t k = 0; r == 0 && k < chain->n; k++)
		r = write_all(fd, json[k] ? json[k] : "", rec[k].json_len, err);
	for (size_t k = 0; r == 0 && k < LR_CHAIN_FILES; k++)
		r = write_all(fd, file[k] ? file[k] : "", head.file_len[k], err);
	for (size_t k = 0; k < chain->n; k++)
		free(json[k]);
	for (size_t k = 0; k < LR_CHAIN_FILES; k++)
		free(file[k]);
	return r;
}

/* The next len bytes of the blob at *at, or NULL when it is shorter. */
static const char *take(const char *info, size_t total, size_t *at, size_t len)
{
	if (len > total - *at)
		return NULL;
	const char *p = info + *at;
	*at += len;
	return p;
}

int lr_chain_from_info(struct lr_chain *chain, const char *image, int top_fd, const char *info,
		       size_t len, struct lr_error *err)
{
	memset(chain, 0, sizeof(*chain));
	for (size_t i = 0; i < LR_MAX_LAYERS; i++)
		chain->layers[i].fd = -1;
	chain->layers[0].fd = top_fd;
	chain->from_info = true;
	size_t at = 0;
	struct info_head head;
	const char *p = take(info, len, &at, sizeof(head));
	int r = -EPROTO;
	if (!p)
		goto bad;
	memcpy(&head, p, sizeof(head));
	if (head.magic != INFO_MAGIC || head.n == 0 || head.n > LR_MAX_LAYERS)
		goto bad;
	static struct info_layer rec[LR_MAX_LAYERS];
	if (!(p = take(info, len, &at, head.n * sizeof(rec[0]))))
		goto bad;
	memcpy(rec, p, head.n * sizeof(rec[0]));
	chain->n = head.n;
	for (size_t i = 0; i < head.n; i++) {
		struct lr_layer *l = &chain->layers[i];
		rec[i].name[sizeof(rec[i].name) - 1] = '\0';
		l->path = strdup(i == 0 ? image : rec[i].name);
		if (!l->path) {
			r = lr_error_errno(err, ENOMEM, "launch info");
			goto fail;
		}
		lr_layer_set_name(l);
		l->root_known = true;
		l->root_mode = rec[i].mode;
		l->root_uid = rec[i].uid;
		l->root_gid = rec[i].gid;
		if (rec[i].json_len > LR_LAYERJSON_MAX_BYTES ||
		    !(p = take(info, len, &at, rec[i].json_len)))
			goto bad;
		if (rec[i].json_len &&
		    (r = lr_layer_meta_parse(&l->meta, p, rec[i].json_len, err)) < 0) {
			lr_error_prefix(err, "layer %s: %s", l->name, LR_LAYER_JSON_PATH);
			goto fail;
		}
	}
	for (size_t k = 0; k < LR_CHAIN_FILES; k++) {
		if (!(p = take(info, len, &at, head.file_len[k])))
			goto bad;
		if (!head.file_present[k])
			continue;
		chain->file_data[k] = malloc((size_t)head.file_len[k] + 1);
		if (!chain->file_data[k]) {
			r = lr_error_errno(err, ENOMEM, "launch info");
			goto fail;
		}
		memcpy(chain->file_data[k], p, head.file_len[k]);
		chain->file_data[k][head.file_len[k]] = '\0';
		chain->file_len[k] = head.file_len[k];
	}
	if (at != len)
		goto bad;
	if ((r = lr_chain_merge_config(chain, image, err)) < 0)
		goto fail;
	return 0;
bad:
	r = lr_error_set(err, EPROTO, "launch info: malformed (%zu bytes)", len);
fail:
	lr_chain_free(chain);
	return r;
}

int lr_chain_info_read(const struct lr_chain *chain, const char *path, size_t max, char **buf,
		       size_t *len, struct lr_error *err)
{
	for (size_t k = 0; k < LR_CHAIN_FILES; k++) {
		if (strcmp(path, chain_files[k]) != 0)
			continue;
		if (!chain->file_data[k])
			return -ENOENT;
		if (chain->file_len[k] > max)
			return lr_error_set(err, EFBIG, "%s: %zu bytes, more than the limit of %zu",
					    path, chain->file_len[k], max);
		*buf = malloc(chain->file_len[k] + 1);
		if (!*buf)
			return lr_error_errno(err, ENOMEM, "%s", path);
		memcpy(*buf, chain->file_data[k], chain->file_len[k] + 1);
		*len = chain->file_len[k];
		return 0;
	}
	return lr_error_set(err, EIO, "%s: not in the layer holder's launch info", path);
}
