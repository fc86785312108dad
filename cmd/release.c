/*
 * release.c - q release: give a claimed message back for another try.
 */
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

/* -d: seconds from now, or (at) a Unix time. */
struct when {
	long long	 v;
	int		 at;
};

static int
release(struct spool *sp, const char *ref, void *arg)
{
	const struct when *w = arg;

	return w->at ? spool_release_at(sp, ref, (time_t)w->v) :
	    spool_release(sp, ref, w->v);
}

int
cmd_release(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct when delay = { 0, 0 };
	int ch, status;

	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if ((status = q_moment("delay", optarg, &delay.v,
			    &delay.at)) != Q_OK)
				return status;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	return q_each(argc - optind, argv + optind, release, &delay,
	    "no longer claimed");
}
