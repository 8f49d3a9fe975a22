/* digest.c - sha256 of layer files with OpenSSL's libcrypto (see
 * digest.h); the one place that talks to libcrypto. */
#include "build-config.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "digest.h"

/* Read in chunks this large: big enough that the syscalls do not show
 * against hashing, small enough to stay in cache. */
#define CHUNK (1024 * 1024)

int lr_digest_fd(int fd, char hex[LR_DIGEST_HEX_LEN + 1], struct lr_error *err)
{
	unsigned char *buf = malloc(CHUNK);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = 0;
	if (!buf || !ctx) {
		r = lr_error_errno(err, ENOMEM, "sha256");
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = lr_error_set(err, EIO, "sha256: libcrypto cannot start a digest");
		goto out;
	}
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, CHUNK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = lr_error_errno(err, errno, "sha256: read");
			goto out;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			r = lr_error_set(err, EIO, "sha256: libcrypto failed");
			goto out;
		}
		off += n;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len * 2 != LR_DIGEST_HEX_LEN) {
		r = lr_error_set(err, EIO, "sha256: libcrypto failed");
		goto out;
	}
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return r;
}

struct lr_sha256 {
	EVP_MD_CTX *ctx;
};

struct lr_sha256 *lr_sha256_new(void)
{
	struct lr_sha256 *h = calloc(1, sizeof(*h));
	if (!h || !(h->ctx = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		lr_sha256_free(h);
		return NULL;
	}
	return h;
}

int lr_sha256_update(struct lr_sha256 *h, const void *buf, size_t len)
{
	return EVP_DigestUpdate(h->ctx, buf, len) == 1 ? 0 : -EIO;
}

int lr_sha256_final(struct lr_sha256 *h, char hex[LR_DIGEST_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1 || len * 2 != LR_DIGEST_HEX_LEN)
		return -EIO;
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

void lr_sha256_free(struct lr_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}
