/*
 * wait.c - q wait: block until a message can be claimed.
 *
 * Claimable is what q take would get: a ready message in new/ (not
 * delayed, not foreign, queue not paused), or a claim in cur/ whose lease
 * expired or whose worker is dead, which take returns to new/ first.  The
 * look at cur/ changes nothing (a dry run of the recovery pass).
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

static void
count(void *arg, enum spool_event ev, enum spool_state st, const char *name,
    int errnum)
{
	(void)st;
	(void)name;
	(void)errnum;
	if (ev == SPOOL_EV_EXPIRED || ev == SPOOL_EV_DEAD)
		(*(int *)arg)++;
}

/* 1 if something can be claimed, 0 if not, -1 with errno. */
static int
claimable(struct spool *sp)
{
	int r, n = 0;

	if ((r = spool_ready(sp)) != 0 || spool_paused(sp))
		return r;
	if (spool_sweep(sp, SPOOL_SWEEP_CLAIMS | SPOOL_SWEEP_DRYRUN, count,
	    &n) == -1)
		return -1;
	return n > 0;
}

int
cmd_wait(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct spool *sp;
	long long timeout = -1, deadline = 0, left = -1;
	int ch, r, status;

	while ((ch = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
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
	if ((status = q_operands(argc, argv, 1, 1, "queue")) != -1)
		return status;
	if ((status = q_open(argv[0], 0, &sp)) != Q_OK)
		return status;
	if (timeout >= 0)
		deadline = q_now_ms() + timeout * 1000;
	(void)spool_watch(sp);
	for (;;) {
		/* watch first, then look: nothing can slip in between */
		if ((r = claimable(sp)) != 0)
			break;
		if (timeout >= 0 && (left = deadline - q_now_ms()) <= 0)
			break;
		q_wait(sp, left);
	}
	if (r == -1) {
		warn("%s", argv[0]);
		status = q_status(errno);
	} else if (r == 1)
		status = Q_OK;
	else {
		status = Q_TEMPFAIL;
		if (spool_paused(sp))
			warnx("%s: paused", q_vis(argv[0]));
	}
	spool_close(sp);
	return status;
}
