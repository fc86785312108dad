/*
 * purge.c - q purge: delete ready, processed or failed messages.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

struct purge {
	int		 state;
	long long	 age;
};

static int
purge(const char *queue, struct spool *sp, void *arg)
{
	const struct purge *p = arg;
	long long n;

	if ((n = spool_purge(sp, (enum spool_state)p->state, p->age)) == -1) {
		warn("%s", queue);
		return q_status(errno);
	}
	q_moved(queue, n, p->state == SPOOL_NEW ? "deleted from new/" :
	    p->state == SPOOL_DONE ? "deleted from done/" :
	    "deleted from failed/");
	return Q_OK;
}

int
cmd_purge(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "older", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct purge p = { SPOOL_DONE, 0 };
	int ch, status;

	while ((ch = getopt_long(argc, argv, "s:o:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			p.state = q_state(optarg);
			if (p.state == SPOOL_CUR) {
				warnx("invalid state: %s (new, done or "
				    "failed)", optarg);
				return Q_USAGE;
			}
			if (p.state == -1)
				return Q_USAGE;
			break;
		case 'o':
			if ((status = q_duration("age", optarg, &p.age)))
				return status;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if ((status = q_operands(argc, argv, 1, 1, "queue")) != -1)
		return status;
	return q_finish(q_onequeue(argv[0], 0, purge, &p));
}
