/*
 * touch.c - q touch: extend the lease of a claimed message.
 */
#include <err.h>
#include <getopt.h>

#include "cmd.h"
#include "banned.h"

static int
touch(struct spool *sp, const char *ref, void *arg)
{
	long long lease = *(long long *)arg;

	return spool_touch(sp, ref, lease > 0 ? lease :
	    spool_config(sp)->lease, NULL);
}

int
cmd_touch(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "lease", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	long long lease = 0;
	int ch, status;

	while ((ch = getopt_long(argc, argv, "l:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if ((status = q_lease(optarg, &lease)))
				return status;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	return q_each(argc - optind, argv + optind, touch, &lease,
	    "no longer claimed");
}
