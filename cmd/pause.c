/*
 * pause.c - q pause: stop claiming from a queue (put still works), and
 * q resume: claim from it again.  One flag file, set or removed.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

static int
setpaused(const char *queue, struct spool *sp, void *arg)
{
	if (spool_pause(sp, *(int *)arg) == -1) {
		warn("%s", queue);
		return q_status(errno);
	}
	return Q_OK;
}

static int
pause_or_resume(int argc, char *argv[], int on)
{
	int status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	if ((status = q_operands(argc - optind, argv + optind, 1, 1,
	    "queue")) != -1)
		return status;
	return q_finish(q_onequeue(argv[optind], 0, setpaused, &on));
}

int
cmd_pause(int argc, char *argv[])
{
	return pause_or_resume(argc, argv, 1);
}

int
cmd_resume(int argc, char *argv[])
{
	return pause_or_resume(argc, argv, 0);
}
