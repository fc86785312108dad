/*
 * wait.c - q wait: block until a message is ready.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

int
cmd_wait(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct q_notify n;
	struct spool *sp;
	long long timeout = -1, deadline = 0, left = -1;
	int ch, r, status;

	while ((ch = getopt_long(argc, argv, "+t:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if ((status = q_duration("timeout", optarg, &timeout)))
				return status;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		return q_usage(0);
	if ((status = q_open(argv[0], 0, &sp)) != Q_OK)
		return status;
	if (timeout >= 0)
		deadline = q_now_ms() + timeout * 1000;
	(void)q_notify_open(&n, sp);
	for (;;) {
		/* watch first, then look: nothing can slip in between */
		if ((r = spool_ready(sp)) != 0)
			break;
		if (timeout >= 0 && (left = deadline - q_now_ms()) <= 0)
			break;
		q_notify_wait(&n, sp, left);
	}
	if (r == -1) {
		warn("%s", argv[0]);
		status = q_status(errno);
	} else
		status = r == 1 ? Q_OK : Q_TEMPFAIL;
	q_notify_close(&n);
	spool_close(sp);
	return status;
}
