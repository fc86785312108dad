/*
 * config.c - q config: show or set per-queue settings.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "banned.h"

int
cmd_config(int argc, char *argv[])
{
	const struct spool_config *cfg;
	struct spool *sp;
	char buf[64];
	int i, status;

	if ((status = q_noopts(argc, argv)) != -1)
		return status;
	argc -= optind;
	argv += optind;
	if ((status = q_operands(argc, argv, 1, 3, "queue key value")) != -1)
		return status;
	if (argc >= 2 && spool_config_parse(NULL, argv[1], argc == 3 ?
	    argv[2] : "0") == -1 && spool_why(errno) == SPOOL_WHY_KEY)
		return q_report(SPOOL_WHY_KEY, ENOENT, NULL, NULL, "%s: %s",
		    q_vis(argv[0]), q_vis(argv[1]));
	if ((status = q_open(argv[0], SPOOL_OPEN_ANYCONFIG, &sp)) != Q_OK)
		return status;
	cfg = spool_config(sp);
	if (argc == 1) {
		for (i = 0; spool_config_keys[i] != NULL; i++) {
			spool_config_show(cfg, spool_config_keys[i], buf,
			    sizeof(buf));
			printf("%s = %s\n", spool_config_keys[i], buf);
		}
	} else if (argc == 2) {
		spool_config_show(cfg, argv[1], buf, sizeof(buf));
		printf("%s\n", buf);
	} else if (spool_config_set(sp, argv[1], argv[2]) == -1)
		status = q_fail(errno, NULL, NULL, "%s: %s: %s", q_vis(argv[0]),
		    q_vis(argv[1]), q_vis(argv[2]));
	spool_close(sp);
	return q_finish(status);
}
