/*
 * q.c - the q front end: dispatch by exact command name.
 */
#include <err.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "banned.h"

/* TITLE: the command shows its state in its process title. */
#define TITLE	1

static const struct command {
	const char	*name;
	int		(*fn)(int, char *[]);
	const char	*synopsis;
	int		 flags;
} commands[] = {
	{ "put", cmd_put, "q put [-d delay] [-p prio] [-k key] [-l | -0 [-K]] "
	    "[-m text]... [--no-sync] [--group n] [--linger ms] queue "
	    "[file ...]", 0 },
	{ "take", cmd_take, "q take [-l lease] [-w wait] queue", 0 },
	{ "cat", cmd_cat, "q cat queue id ...", 0 },
	{ "ack", cmd_ack, "q ack queue id ...", 0 },
	{ "release", cmd_release, "q release [-d delay] queue id ...", 0 },
	{ "fail", cmd_fail, "q fail queue id ...", 0 },
	{ "touch", cmd_touch, "q touch [-l lease] queue id ...", 0 },
	{ "work", cmd_work, "q work [-fqT] [-a attempts] [-b batch] [-j jobs] "
	    "[-l lease] [-n max] [-t timeout] queue [--] cmd [arg ...]",
	    TITLE },
	{ "wait", cmd_wait, "q wait [-t timeout] queue", 0 },
	{ "sweep", cmd_sweep, "q sweep [-nv] [queue ...]", 0 },
	{ "ls", cmd_ls, "q ls [-r] [-S key] [-s state] [-l | -0 | --json] "
	    "[queue]", 0 },
	{ "stat", cmd_stat, "q stat [--json | --prom] [queue ...]", 0 },
	{ "retry", cmd_retry, "q retry queue [id ... | -a]", 0 },
	{ "replay", cmd_replay, "q replay [-s since] queue [id ...]", 0 },
	{ "purge", cmd_purge, "q purge [-s state] [-o age] queue", 0 },
	{ "rm", cmd_rm, "q rm queue id ...", 0 },
	{ "drop", cmd_drop, "q drop [-f] queue", 0 },
	{ "pause", cmd_pause, "q pause queue", 0 },
	{ "resume", cmd_resume, "q resume queue", 0 },
	{ "sub", cmd_sub, "q sub topic [queue]", 0 },
	{ "unsub", cmd_unsub, "q unsub topic queue", 0 },
	{ "config", cmd_config, "q config queue [key [value]]", 0 },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const char *q_synopsis;

static int
usage(int help)
{
	FILE *f = help ? stdout : stderr;
	size_t i;

	fprintf(f, "usage: q command [argument ...]\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "       %s\n", commands[i].synopsis);
	fprintf(f, "       q --version\n");
	return help ? q_finish(Q_OK) : Q_USAGE;
}

int
main(int argc, char *argv[])
{
	static char progname[32];
	extern char **environ;
	size_t i;

	if (argc < 2)
		return usage(0);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(1);
	if (strcmp(argv[1], "--version") == 0) {
		printf("q %s\n", SPOOL_VERSION);
		return q_finish(Q_OK);
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			break;
	if (i == NCOMMANDS) {
		warnx("%s: unknown command", argv[1]);
		return usage(0);
	}
	q_locale();
	snprintf(progname, sizeof(progname), "q %s", commands[i].name);
	setprogname(progname);
	q_synopsis = commands[i].synopsis;
	if (commands[i].flags & TITLE)	/* costs a copy of the environment */
		setproctitle_init(argc, argv, environ);
	/* a file size limit gives EFBIG, not a dead process */
	(void)signal(SIGXFSZ, SIG_IGN);
	optind = 0;
	argv[1] = progname;	/* getopt's messages say "q put: ..." */
	return commands[i].fn(argc - 1, argv + 1);
}
