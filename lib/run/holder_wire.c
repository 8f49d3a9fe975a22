/* holder_wire.c - what both ends of a layer holder's socket share
 * (holder_wire.h): one message with fds, and a file's identity.  Where the
 * socket is and who is at its other end: holder_path.c.
 *
 * Runs as the user, with no privilege.  Every message is one
 * SOCK_SEQPACKET datagram of a fixed size; one of another size, with
 * truncated control data, or with anything but SCM_RIGHTS is refused and
 * its fds closed.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "holder_wire.h"
#include "layers.h"

int lr_holder_send(int s, const void *buf, size_t len, const int *fds, size_t n)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * LR_MAX_LAYERS)];
		struct cmsghdr align;
	} c;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n > LR_MAX_LAYERS)
		return -E2BIG;
	if (n) {
		memset(&c, 0, sizeof(c));
		m.msg_control = c.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(h), fds, sizeof(int) * n);
	}
	ssize_t r;
	do
		r = sendmsg(s, &m, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)len ? 0 : r < 0 ? -errno : -EIO;
}

/* One message of exactly len bytes, and the fds with it (at most max; every
 * fd received is closed on any error).  Returns how many fds, -EPIPE at the
 * end of the connection, -EPROTO for anything malformed. */
int lr_holder_recv(int s, void *buf, size_t len, int *fds, size_t max)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * LR_MAX_LAYERS)];
		struct cmsghdr align;
	} c;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = c.buf,
			   .msg_controllen = sizeof(c.buf)};
	ssize_t r;
	do
		r = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -EPIPE;
	if (r < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	size_t n = 0;
	int bad = (size_t)r != len || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int got[LR_MAX_LAYERS];
		memcpy(got, CMSG_DATA(h), sizeof(int) * (k < LR_MAX_LAYERS ? k : LR_MAX_LAYERS));
		for (size_t i = 0; i < k && i < LR_MAX_LAYERS; i++) {
			if (n < max && !bad)
				fds[n++] = got[i];
			else
				close(got[i]);
		}
	}
	if (bad) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		return -EPROTO;
	}
	return (int)n;
}

bool lr_holder_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int lr_holder_await(int s, void *buf, size_t len, int *fds, size_t max)
{
	struct pollfd p = {.fd = s, .events = POLLIN};
	int r;
	do
		r = poll(&p, 1, HOLDER_REPLY_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	return lr_holder_recv(s, buf, len, fds, max);
}

double lr_holder_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}
