/*
 * replay.c - q replay: processed messages back to new/ to do them again.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <time.h>

#include "cmd.h"
#include "banned.h"

static int
replay(struct spool *sp, const char *ref, void *arg)
{
	if (spool_replay(sp, ref) == -1)
		return -1;
	(*(long long *)arg)++;
	return 0;
}

static int
since(const char *queue, struct spool *sp, void *arg)
{
	long long n;

	if ((n = spool_replay_since(sp, *(time_t *)arg)) == -1) {
		warn("%s", queue);
		return q_status(errno);
	}
	q_moved(queue, n, "back in new/");
	return Q_OK;
}

int
cmd_replay(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	long long d, n = 0;
	time_t t = 0;
	int ch, status, at, sflag = 0;

	while ((ch = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			/* a duration ago, or @UNIXTIME as in date(1) */
			sflag = 1;
			if ((status = q_moment("time", optarg, &d, &at)) !=
			    Q_OK)
				return status;
			t = at ? (time_t)d : time(NULL) - (time_t)d;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (sflag && argc > 1)
		return q_badusage("-s and IDs exclude each other");
	if (sflag)
		return q_operands(argc, argv, 1, 1, "queue") != -1 ? Q_USAGE :
		    q_finish(q_onequeue(argv[0], 0, since, &t));
	if (argc == 1)
		return q_badusage("missing id, or -s for those acked since");
	status = q_each(argc, argv, replay, &n, "not in done/");
	if (n > 0 || status == Q_OK)
		q_moved(argv[0], n, "back in new/");
	return status;
}
