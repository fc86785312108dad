/*
 * release.c - q release: give a claimed message back for another try.
 */
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

static int
release(struct spool *sp, const char *ref, void *arg)
{
	return spool_release(sp, ref, *(long long *)arg);
}

int
cmd_release(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	long long delay = 0;
	int ch, status;

	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if ((status = q_delay(optarg, &delay)) != Q_OK)
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
