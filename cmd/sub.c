/*
 * sub.c - q sub: subscribe a queue to a topic.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "banned.h"

int
cmd_sub(int argc, char *argv[])
{
	struct spool *topic, *sub;
	char *target;
	int status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	argc -= optind;
	argv += optind;
	if (argc != 2)
		return q_usage(0);
	/* both are queues: created if missing, as put would */
	if ((status = q_open(argv[1], SPOOL_OPEN_CREATE, &sub)) != Q_OK)
		return status;
	spool_close(sub);
	if ((status = q_open(argv[0], SPOOL_OPEN_CREATE, &topic)) != Q_OK)
		return status;
	target = q_queuepath(argv[1]);
	if (spool_subscribe(topic, q_subname(argv[1]), target) == -1) {
		if (errno == EEXIST)
			warnx("%s: subs/%s: leads to another queue", argv[0],
			    q_subname(argv[1]));
		else
			warn("%s: subs/%s", argv[0], q_subname(argv[1]));
		status = errno == EEXIST ? Q_DATAERR : q_status(errno);
	}
	free(target);
	spool_close(topic);
	return status;
}
