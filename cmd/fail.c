/*
 * fail.c - q fail: a claimed message failed for good.
 */
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

static int
fail(struct spool *sp, const char *ref, void *arg)
{
	(void)arg;
	return spool_fail(sp, ref);
}

int
cmd_fail(int argc, char *argv[])
{
	int status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	return q_each(argc - optind, argv + optind, fail, NULL,
	    "no longer claimed");
}
