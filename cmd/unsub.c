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
	int status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	argc -= optind;
	argv += optind;
	if (argc != 2)
		return q_usage(0);
	if ((status = q_open(argv[0], 0, &topic)) != Q_OK)
		return status;
	if (spool_unsubscribe(topic, q_subname(argv[1])) == -1) {
		if (errno == ENOENT)
			warnx("%s: %s: not subscribed", argv[0], argv[1]);
		else if (errno == EINVAL)
			warnx("%s: subs/%s: not a subscription", argv[0],
			    q_subname(argv[1]));
		else
			warn("%s: subs/%s", argv[0], q_subname(argv[1]));
		status = q_status(errno);
	}
	spool_close(topic);
	return status;
}
