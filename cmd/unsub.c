/*
 * unsub.c - q unsub: end a queue's subscription to a topic.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

int
cmd_unsub(int argc, char *argv[])
{
	struct spool *topic;
	enum spool_why why;
	int status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	argc -= optind;
	argv += optind;
	if (argc != 2)
		return q_usage(0);
	if ((status = q_open(argv[0], 0, &topic)) != Q_OK)
		return status;
	if (spool_unsubscribe(topic, q_subname(argv[1])) == -1)
		status = (why = spool_why(errno)) == SPOOL_WHY_NOTSUB ?
		    q_report(why, errno, NULL, NULL, "%s: %s", q_vis(argv[0]),
		    q_vis(argv[1])) :
		    q_report(why, errno, NULL, NULL, "%s: subs/%s",
		    q_vis(argv[0]), q_vis(q_subname(argv[1])));
	spool_close(topic);
	return status;
}
