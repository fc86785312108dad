/*
 * ack.c - q ack: a claimed message was processed.
 */
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

static int
ack(struct spool *sp, const char *ref, void *arg)
{
	(void)arg;
	return spool_ack(sp, ref);
}

int
cmd_ack(int argc, char *argv[])
{
	int status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	return q_each(argc - optind, argv + optind, ack, NULL,
	    "no longer claimed");
}
