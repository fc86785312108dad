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

/* What was done to a file, and what would be with -n, by event. */
static const char *const said[][2] = {
	[SPOOL_EV_EXPIRED] = { "lease expired, returned to new/",
	    "lease expired, would return to new/" },
	[SPOOL_EV_DEAD] = { "worker gone, returned to new/",
	    "worker gone, would return to new/" },
	[SPOOL_EV_EXHAUSTED] = { "out of attempts, moved to failed/",
	    "out of attempts, would move to failed/" },
	[SPOOL_EV_TMP] = { "stale, removed", "stale, would remove" },
	[SPOOL_EV_WRITER] = { "writer gone, removed",
	    "writer gone, would remove" },
	[SPOOL_EV_PURGED] = { "past retention, removed",
	    "past retention, would remove" },
	[SPOOL_EV_MENDED] = { "half-moved, the move finished",
	    "half-moved, the move finished" },
	[SPOOL_EV_FOREIGN] = { "foreign file, left alone",
	    "foreign file, left alone" },
};

/* Claim name (vname, made visible) is of a machine that uses our name. */
static void
twin(const char *queue, const char *vname, const char *name)
{
	struct spool_name n;

	if (spool_name_parse(name, &n) == -1)
		return;
	printf("%s: cur/%s: worker %ld@%s runs on another machine with this "
	    "node name, left to its lease\n", queue, vname, (long)n.wpid,
	    n.whost);
}

static void
report(void *arg, enum spool_event ev, enum spool_state st, const char *name,
    int errnum)
{
	struct ctx *c = arg;
	char vname[4 * SPOOL_NAME_MAX + 1];

	q_strnvis(vname, sizeof(vname), name, VIS_WHITE | VIS_CSTYLE |
	    VIS_GLOB);
	switch (ev) {
	case SPOOL_EV_FOREIGN:
		/* there at every sweep: said when asked, not every hour */
		if (!c->o.verbose && !c->o.dryrun)
			return;
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
	case SPOOL_EV_TWIN:
		twin(c->queue, vname, name);
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
	default:
		break;
	}
	if ((size_t)ev >= sizeof(said) / sizeof(said[0]) || said[ev][0] == NULL)
		return;
	printf("%s: %s/%s: %s\n", c->queue, spool_state_name(st), vname,
	    said[ev][c->o.dryrun != 0]);
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
