/*
 * resume.c - q resume: claim from a paused queue again.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

static int
resume1(const char *queue, struct spool *sp, void *arg)
{
	(void)arg;
	if (spool_pause(sp, 0) == -1) {
		warn("%s", queue);
		return q_status(errno);
	}
	return Q_OK;
}

int
cmd_resume(int argc, char *argv[])
{
	int status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	if ((status = q_operands(argc - optind, argv + optind, 1, 1,
	    "queue")) != -1)
		return status;
	return q_finish(q_onequeue(argv[optind], 0, resume1, NULL));
}
