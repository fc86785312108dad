/*
 * sub.c - q sub: subscribe a queue to a topic, or list its subscribers.
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

/*
 * A subscriber as q sub takes it: its name where the subscription leads
 * to the queue of that name under $QDIR, otherwise the path it leads to.
 */
static int
subscriber(void *arg, const char *name, const char *target)
{
	char *path;
	int same;

	(void)arg;
	path = q_queuepath(name);
	same = strcmp(path, target) == 0;
	free(path);
	printf("%s\n", q_vis(same ? name : target));
	return 0;
}

static int
list(const char *topic)
{
	struct spool *sp;
	int status;

	if ((status = q_open(topic, 0, &sp)) != Q_OK)
		return status;
	if (spool_subscribers(sp, subscriber, NULL) == -1)
		status = q_fail(errno, NULL, NULL, "%s: subs", q_vis(topic));
	spool_close(sp);
	return q_finish(status);
}

int
cmd_sub(int argc, char *argv[])
{
	struct spool *topic, *sub;
	char *path, *target, old[PATH_MAX];
	int r, status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	argc -= optind;
	argv += optind;
	if (argc == 1)
		return list(argv[0]);
	if ((status = q_operands(argc, argv, 1, 2, "topic queue")) != -1)
		return status;
	/* nothing is created before both names and the link check out */
	if ((path = q_path(argv[0])) == NULL)
		return Q_DATAERR;
	topic = spool_open(path, 0);
	free(path);
	if ((path = q_path(argv[1])) == NULL) {
		spool_close(topic);
		return Q_DATAERR;
	}
	free(path);
	target = q_queuepath(argv[1]);
	if (topic != NULL) {
		r = spool_subscription(topic, q_subname(argv[1]), old,
		    sizeof(old));
		spool_close(topic);
		if (r == -1 && errno != EEXIST) {
			warn("%s: subs/%s", argv[0], q_subname(argv[1]));
			free(target);
			return q_status(errno);
		}
		if (r == -1 || (r == 1 && strcmp(old, target) != 0)) {
			warnx("%s: subs/%s: leads to another queue", argv[0],
			    q_subname(argv[1]));
			free(target);
			return Q_DATAERR;
		}
	}
	/* both are queues: created if missing, as put would */
	if ((status = q_open(argv[1], SPOOL_OPEN_CREATE, &sub)) != Q_OK ||
	    (spool_close(sub), status = q_open(argv[0], SPOOL_OPEN_CREATE,
	    &topic)) != Q_OK) {
		free(target);
		return status;
	}
	free(target);
	target = q_queuepath(argv[1]);
	if (spool_subscribe(topic, q_subname(argv[1]), target) == -1)
		status = q_fail(errno, NULL, NULL, "%s: subs/%s",
		    q_vis(argv[0]), q_vis(q_subname(argv[1])));
	free(target);
	spool_close(topic);
	return status;
}
