/*
 * drop.c - q drop: delete a whole queue, unless it is in use.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "banned.h"

/* Looking for the topics under $QDIR that the queue at path is in. */
struct look {
	const char	*queue;		/* as given */
	const char	*path;		/* absolute, as subscriptions hold it */
	int		 unsub;		/* remove those subscriptions */
	struct spool	*topic;
	const char	*tname;
	char		 found[PATH_MAX];	/* the first such topic */
	int		 status;
};

static int
leadshere(void *arg, const char *name, const char *target)
{
	struct look *l = arg;

	if (strcmp(target, l->path) != 0)
		return 0;
	if (!l->unsub) {
		if (l->found[0] == '\0')
			strlcpy(l->found, l->tname, sizeof(l->found));
		return 1;
	}
	if (spool_unsubscribe(l->topic, name) == -1)
		l->status = q_first_failure(l->status, q_fail(errno, NULL,
		    NULL, "%s: subs/%s", q_vis(l->tname), q_vis(name)));
	else
		warnx("%s: unsubscribed from %s", q_vis(l->queue),
		    q_vis(l->tname));
	return 0;
}

static int
topic(const char *name, struct spool *sp, void *arg)
{
	struct look *l = arg;

	l->topic = sp;
	l->tname = name;
	if (spool_subscribers(sp, leadshere, l) == -1 && l->unsub)
		l->status = q_first_failure(l->status, q_fail(errno, NULL,
		    NULL, "%s: subs", q_vis(name)));
	return Q_OK;
}

/* Say why the drop failed; what is from spool_drop(). */
static int
failed(const char *queue, const char *path, const char *what)
{
	enum spool_why why;
	char *dir, *slash;
	int errnum = errno, status;

	why = spool_why(errnum);
	if (strncmp(what, ".q-drop-", 8) == 0) {
		/* renamed away, not all deleted: say where the rest is */
		dir = q_join(path, NULL);	/* absolute: it has a '/' */
		if ((slash = strrchr(dir, '/')) != NULL)
			slash[1] = '\0';
		status = q_report(why, errnum, NULL, NULL, "%s: %s%s",
		    q_vis(queue), slash != NULL ? q_vis(dir) : "", q_vis(what));
		free(dir);
	} else if (why == SPOOL_WHY_NOTOURS)
		status = q_report(why, errnum, NULL, NULL, "%s: %s",
		    q_vis(queue), q_vis(what));
	else if (why == SPOOL_WHY_HASCLAIMS || why == SPOOL_WHY_HASSUBS)
		status = q_report(why, errnum, NULL, " (-f drops it anyway)",
		    "%s", q_vis(queue));
	else
		status = q_report(why, errnum, NULL, NULL, "%s", q_vis(queue));
	return status;
}

static int
drop(const char *queue, int force)
{
	struct look l;
	struct spool *sp;
	char *path, *given, what[PATH_MAX];
	long long n;
	int status;

	/* a missing queue or no queue is said as such, before anything */
	if ((status = q_open(queue, SPOOL_OPEN_ANYCONFIG, &sp)) != Q_OK)
		return status;
	spool_close(sp);
	memset(&l, 0, sizeof(l));
	l.queue = queue;
	l.path = path = q_queuepath(queue);
	if (!force) {
		(void)q_everyqueue(SPOOL_OPEN_ANYCONFIG, Q_QUIET, topic, &l);
		if (l.found[0] != '\0') {
			warnx("%s: subscribed to %s (-f drops it anyway)",
			    q_vis(queue), q_vis(l.found));
			free(path);
			return Q_TEMPFAIL;
		}
	}
	/* the path as given: a symbolic link is refused, not followed */
	if ((given = q_path(queue)) == NULL)
		err(Q_DATAERR, NULL);
	if ((n = spool_drop(given, force ? SPOOL_DROP_FORCE : 0, what,
	    sizeof(what))) == -1)
		status = failed(queue, path, what);
	else {
		q_moved(queue, n, "deleted with the queue");
		l.unsub = 1;
		(void)q_everyqueue(SPOOL_OPEN_ANYCONFIG, Q_QUIET, topic, &l);
		status = l.status;
	}
	free(given);
	free(path);
	return status;
}

int
cmd_drop(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, status, force = 0;

	while ((ch = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			force = 1;
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
	return q_finish(drop(argv[0], force));
}
