/*
 * unsub.c - q unsub: end a queue's subscription to a topic.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "banned.h"

/*
 * Whether subs/NAME of the topic leads to the queue named on the command
 * line: "q unsub ev /other/billing" must not end the subscription of
 * $QDIR/billing, which has the same link name.  1, 0, or -1 and errno.
 */
static int
leadsto(struct spool *topic, const char *queue)
{
	struct stat a, b;
	char old[PATH_MAX], *target;
	int r, same;

	/* none, or no symlink: spool_unsubscribe() says so */
	if ((r = spool_subscription(topic, q_subname(queue), old,
	    sizeof(old))) == 0 || (r == -1 && errno == EEXIST))
		return 1;
	if (r == -1)
		return -1;
	target = q_queuepath(queue);
	same = strcmp(old, target) == 0 || (stat(old, &a) == 0 &&
	    stat(target, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino);
	free(target);
	return same;
}

int
cmd_unsub(int argc, char *argv[])
{
	struct spool *topic;
	enum spool_why why;
	int status, r;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	argc -= optind;
	argv += optind;
	if (argc != 2)
		return q_usage(0);
	if ((status = q_open(argv[0], 0, &topic)) != Q_OK)
		return status;
	if ((r = leadsto(topic, argv[1])) == 1 &&
	    spool_unsubscribe(topic, q_subname(argv[1])) == 0) {
		spool_close(topic);
		return Q_OK;
	}
	why = r == 0 ? SPOOL_WHY_NOTSUB : spool_why(errno);
	if (why == SPOOL_WHY_NOTSUB)
		status = q_report(why, r == 0 ? ENOENT : errno, NULL, NULL,
		    "%s: %s", q_vis(argv[0]), q_vis(argv[1]));
	else
		status = q_report(why, errno, NULL, NULL, "%s: subs/%s",
		    q_vis(argv[0]), q_vis(q_subname(argv[1])));
	spool_close(topic);
	return status;
}
