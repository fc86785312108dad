/*
 * rm.c - q rm: delete messages that are not claimed.
 */
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

static int
rm(struct spool *sp, const char *ref, void *arg)
{
	(void)arg;
	return spool_remove(sp, ref);
}

int
cmd_rm(int argc, char *argv[])
{
	int status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	return q_each(argc - optind, argv + optind, rm, NULL,
	    "no such message");
}
