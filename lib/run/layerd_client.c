/* layerd_client.c - asking the node's layer service for trusted layers
 * (layerd.h).  Runs as the user.  Apart from the service (layerd.c), so
 * that labrun does not load what only the service needs (libcrypto's
 * sha256: 2.7 ms of every exec, measured).
 *
 * The service must be root's (SO_PEERCRED): a socket at that path of
 * anyone else's is not used.  Its reply is checked: size, magic, the count
 * of mounts against the codes.
 */
#include "build-config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "holder_wire.h"
#include "layerd.h"
#include "layerd_wire.h"

int lr_layerd_hold(const char *socket_path, const struct lr_chain *chain, int *conn, int trees[],
		   char why[][LR_LAYERD_WHY_LEN], struct lr_error *err)
{
	static struct layerd_request req;
	static struct layerd_reply rep;
	memset(&req, 0, sizeof(req));
	req.magic = LAYERD_MAGIC;
	req.n = (uint32_t)chain->n;
	size_t asked = 0;
	for (size_t i = 0; i < chain->n; i++) {
		trees[i] = -1;
		if (why)
			why[i][0] = '\0';
		char hex[LR_DIGEST_HEX_LEN + 1];
		if (i == 0 && lr_layer_name_hex(chain->layers[0].name, hex))
			memcpy(req.hex[0], hex, sizeof(hex));
		else if (i > 0 && chain->layers[i - 1].meta.has_parent)
			memcpy(req.hex[i], chain->layers[i - 1].meta.parent_hex, LR_DIGEST_HEX_LEN);
		asked += req.hex[i][0] != '\0';
	}
	*conn = -1;
	if (!asked)
		return 0;
	_cleanup_close_ int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", socket_path);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		return lr_error_errno(err, errno, "the node's layer service (%s)", socket_path);
	/* Root's, or it is not the service. */
	if (!lr_holder_peer_is(s, 0))
		return lr_error_set(err, EPERM, "%s is not root's: not used", socket_path);
	int fds[LR_MAX_LAYERS];
	int r = lr_holder_send(s, &req, sizeof(req), NULL, 0);
	if (r == 0)
		r = lr_holder_await(s, &rep, sizeof(rep), fds, LR_MAX_LAYERS);
	if (r < 0)
		return lr_error_errno(err, -r, "the node's layer service");
	size_t got = (size_t)r, k = 0;
	bool bad = rep.magic != LAYERD_MAGIC || rep.n != chain->n;
	for (size_t i = 0; i < chain->n && !bad; i++) {
		if (rep.code[i] == 0) {
			if (k == got)
				bad = true;
			else
				trees[i] = fds[k++];
		} else if (why && rep.code[i] != ENOENT) {
			/* Not in the store is no news; anything else is. */
			rep.why[i][LR_LAYERD_WHY_LEN - 1] = '\0';
			snprintf(why[i], LR_LAYERD_WHY_LEN, "%s", rep.why[i]);
		}
	}
	if (bad || k != got) {
		for (size_t i = 0; i < got; i++)
			close(fds[i]);
		for (size_t i = 0; i < chain->n; i++)
			trees[i] = -1;
		return lr_error_set(err, EPROTO, "the node's layer service: a malformed reply");
	}
	if (k) {
		*conn = s;
		s = -1;
	}
	return (int)k;
}
