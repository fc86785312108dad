/*
 * cat.c - q cat: write message bodies to stdout.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "cmd.h"
#include "banned.h"

#define CAT_TRIES	8

static int
copy(int fd)
{
	char buf[65536];
	ssize_t n, w, off;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (off = 0; off < n; off += w) {
			w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
			if (w == -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				warn("stdout");
				errno = 0;
				return -1;
			}
		}
	}
	return 0;
}

/* Find ref in any state and open it; it may move meanwhile. */
static int
openref(struct spool *sp, const char *ref)
{
	struct spool_name n;
	enum spool_state st;
	int i, r, fd;

	for (i = 0; i < CAT_TRIES; i++) {
		r = spool_find(sp, ref, ~0U, &n, &st);
		if (r != 1) {
			if (r == 0)
				errno = ENOENT;
			return -1;
		}
		if ((fd = spool_open_msg(sp, st, &n)) != -1 || errno != ENOENT)
			return fd;
	}
	return -1;
}

int
cmd_cat(int argc, char *argv[])
{
	struct spool *sp;
	int i, fd, status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	argc -= optind;
	argv += optind;
	if ((status = q_operands(argc, argv, 2, -1, "queue id")) != -1)
		return status;
	if ((status = q_checkrefs(argv[0], argc - 1, argv + 1)) != Q_OK)
		return status;
	if ((status = q_open(argv[0], 0, &sp)) != Q_OK)
		return status;
	for (i = 1; i < argc; i++) {
		if ((fd = openref(sp, argv[i])) == -1) {
			status = q_first_failure(status, q_fail(errno,
			    "no such message", NULL, "%s: %s", q_vis(argv[0]),
			    q_vis(argv[i])));
			continue;
		}
		if (copy(fd) == -1) {
			if (errno == 0) {	/* stdout is gone: stop */
				(void)close(fd);
				status = q_first_failure(status, Q_IOERR);
				break;
			}
			warn("%s: %s", argv[0], argv[i]);
			status = q_first_failure(status, q_status(errno));
		}
		(void)close(fd);
	}
	spool_close(sp);
	return status;
}
