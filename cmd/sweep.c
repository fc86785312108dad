/*
 * sweep.c - q sweep: housekeeping of one queue, some, or all of $QDIR.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vis.h>

#include "cmd.h"
#include "banned.h"

struct opts {
	int		 dryrun;	/* -n */
	int		 verbose;	/* -v: foreign files too */
};

struct ctx {
	const char	*queue;
	struct opts	 o;
	int		 status;
};

static void
report(void *arg, enum spool_event ev, enum spool_state st, const char *name,
    int errnum)
{
	struct ctx *c = arg;
	char vname[4 * SPOOL_NAME_MAX + 1];
	const char *what = NULL;

	q_strnvis(vname, sizeof(vname), name, VIS_WHITE | VIS_CSTYLE |
	    VIS_GLOB);
	switch (ev) {
	case SPOOL_EV_EXPIRED:
		what = c->o.dryrun ? "lease expired, would return to new/" :
		    "lease expired, returned to new/";
		break;
	case SPOOL_EV_DEAD:
		what = c->o.dryrun ? "worker gone, would return to new/" :
		    "worker gone, returned to new/";
		break;
	case SPOOL_EV_EXHAUSTED:
		what = c->o.dryrun ? "out of attempts, would move to failed/" :
		    "out of attempts, moved to failed/";
		break;
	case SPOOL_EV_TMP:
		what = c->o.dryrun ? "stale, would remove" : "stale, removed";
		break;
	case SPOOL_EV_WRITER:
		what = c->o.dryrun ? "writer gone, would remove" :
		    "writer gone, removed";
		break;
	case SPOOL_EV_PURGED:
		what = c->o.dryrun ? "past retention, would remove" :
		    "past retention, removed";
		break;
	case SPOOL_EV_MENDED:
		what = "half-moved, the move finished";
		break;
	case SPOOL_EV_FOREIGN:
		/* there at every sweep: said when asked, not every hour */
		if (!c->o.verbose && !c->o.dryrun)
			return;
		what = "foreign file, left alone";
		break;
	case SPOOL_EV_KEY:
		printf("%s: %s: past the dedup window, %s\n", c->queue, name,
		    c->o.dryrun ? "would forget" : "forgotten");
		return;
	case SPOOL_EV_FANOUT:
		printf("%s: %s: writer gone, %s\n", c->queue, vname,
		    c->o.dryrun ? "would complete the delivery" :
		    "delivery completed");
		return;
	case SPOOL_EV_ERROR:
		if (strncmp(name, "keys/", 5) == 0 ||
		    strncmp(name, "fan/", 4) == 0)
			warnc(errnum, "%s: %s", c->queue, name);
		else
			warnc(errnum, "%s: %s/%s", c->queue,
			    spool_state_name(st), vname);
		c->status = q_first_failure(c->status, q_status(errnum));
		return;
	}
	printf("%s: %s/%s: %s\n", c->queue, spool_state_name(st), vname, what);
}

static int
sweep(const char *queue, struct spool *sp, void *arg)
{
	struct ctx c = { queue, *(struct opts *)arg, Q_OK };

	if (spool_sweep(sp, c.o.dryrun ? SPOOL_SWEEP_DRYRUN : 0, report,
	    &c) == -1) {
		warn("%s", queue);
		c.status = q_first_failure(c.status, q_status(errno));
	}
	return c.status;
}

int
cmd_sweep(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { 0, 0 };
	int ch;

	while ((ch = getopt_long(argc, argv, "nvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			o.dryrun = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	return q_finish(q_queues(argc, argv, 0, sweep, &o));
}
