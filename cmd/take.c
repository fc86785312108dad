/*
 * take.c - q take: claim the next ready message and print its token.
 *
 * With nothing ready, take returns expired claims and dead workers' claims
 * to new/ itself (a cur/ pass of spool_sweep()) and looks again, so that a
 * setup without any sweeper still redelivers.  A token that cannot be
 * printed was handed to nobody: the claim is released again.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "cmd.h"
#include "banned.h"

/* Claim; with nothing ready, recover what is claimable in cur/ first. */
static int
claim(struct spool *sp, const struct spool_claimopt *opt, struct spool_msg *m)
{
	int r;

	if ((r = spool_claim(sp, opt, m)) == 0 &&
	    spool_sweep(sp, SPOOL_SWEEP_CLAIMS, NULL, NULL) > 0)
		r = spool_claim(sp, opt, m);
	return r;
}

/*
 * Print the token of the claim m; if it cannot be written, the claim is
 * nobody's: give it back.
 */
static int
handout(struct spool *sp, const struct spool_msg *m)
{
	char token[SPOOL_NAME_MAX + 1];

	q_token(&m->n, token, sizeof(token));
	printf("%s\n", token);
	if (fflush(stdout) != EOF && !ferror(stdout))
		return Q_OK;
	if (spool_release(sp, m->n.name, 0) == 0)
		warn("stdout: %s not handed out, released", token);
	else
		warn("stdout: %s not handed out, and not released", token);
	return Q_IOERR;
}

int
cmd_take(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "lease", required_argument, NULL, 'l' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct spool_claimopt opt = { 0, 0, 0 };
	struct spool_msg m;
	struct spool *sp;
	long long wait = 0, deadline, left;
	int ch, r, status;

	while ((ch = getopt_long(argc, argv, "l:w:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'l':
			if ((status = q_lease(optarg, &opt.lease)))
				return status;
			break;
		case 'w':
			if ((status = q_duration("wait", optarg, &wait)))
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
	if (opt.lease == 0)
		opt.lease = spool_config(sp)->lease;
	(void)signal(SIGPIPE, SIG_IGN);
	deadline = q_now_ms() + wait * 1000;
	if (wait > 0)
		(void)spool_watch(sp);
	/* with -w: watch first, then look, so nothing slips in between */
	while ((r = claim(sp, &opt, &m)) == 0 &&
	    (left = deadline - q_now_ms()) > 0)
		q_wait(sp, left);
	if (r == -1) {
		warn("%s", argv[0]);
		status = q_status(errno);
	} else if (r == 0) {
		status = Q_TEMPFAIL;	/* nothing ready: quietly */
		if (spool_paused(sp))	/* unless nothing is ever to come */
			warnx("%s: paused", q_vis(argv[0]));
	} else
		status = handout(sp, &m);
	spool_close(sp);
	return status;
}
