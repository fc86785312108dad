/*
 * retry.c - q retry: failed messages back to new/, attempts reset.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "cmd.h"
#include "banned.h"

static int
retry(struct spool *sp, const char *ref, void *arg)
{
	if (spool_retry(sp, ref) == -1)
		return -1;
	(*(long long *)arg)++;
	return 0;
}

static int
all(const char *queue, struct spool *sp, void *arg)
{
	long long n;

	(void)arg;
	if ((n = spool_retry_all(sp)) == -1) {
		warn("%s", queue);
		return q_status(errno);
	}
	q_moved(queue, n, "back in new/");
	return Q_OK;
}

int
cmd_retry(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	long long n = 0;
	int ch, aflag = 0, status;

	while ((ch = getopt_long(argc, argv, "ah", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			aflag = 1;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (aflag && argc > 1)
		return q_badusage("-a and IDs exclude each other");
	if (aflag)
		return q_operands(argc, argv, 1, 1, "queue") != -1 ? Q_USAGE :
		    q_finish(q_onequeue(argv[0], 0, all, NULL));
	if (argc == 1)
		return q_badusage("missing id, or -a for every message");
	status = q_each(argc, argv, retry, &n, "not in failed/");
	if (n > 0 || status == Q_OK)
		q_moved(argv[0], n, "back in new/");
	return status;
}
