/*
 * ls.c - q ls: list messages, one line (or record) each, streaming.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vis.h>

#include "cmd.h"
#include "banned.h"

enum format { TEXT, LONG, NUL, JSON };

struct ctx {
	enum format	 fmt;
	const char	*path;		/* the queue's path, for -l */
	time_t		 now;
};

static void
json(const struct ctx *c, const struct spool_entry *e)
{
	const struct spool_name *n = &e->n;

	printf("{\"name\":");
	q_json_string(e->name);
	printf(",\"state\":\"%s\",\"foreign\":%s", spool_state_name(e->state),
	    e->foreign ? "true" : "false");
	if (!e->foreign) {
		printf(",\"id\":\"%.*s\",\"priority\":%d,\"attempts\":%u,"
		    "\"enqueued\":%lld,\"age\":%lld", (int)n->idlen, n->name,
		    n->prio, n->attempts, (long long)n->sec,
		    (long long)(c->now - n->sec));
		if (n->attrs & SPOOL_ATTR_DUE)
			printf(",\"due\":%lld", (long long)n->due);
		if (n->attrs & SPOOL_ATTR_LEASE)
			printf(",\"lease\":%lld", (long long)n->lease);
		if (n->attrs & SPOOL_ATTR_WORKER)
			printf(",\"worker\":\"%ld@%s\"", (long)n->wpid,
			    n->whost);
	}
	printf(",\"size\":%lld}\n", (long long)e->sb.st_size);
}

static int
show(void *arg, const struct spool_entry *e)
{
	const struct ctx *c = arg;
	const struct spool_name *n = &e->n;
	char vname[4 * SPOOL_NAME_MAX + 1], id[SPOOL_NAME_MAX + 1];
	char age[32], when[32] = "-";
	int end = c->fmt == NUL ? '\0' : '\n';

	if (c->fmt == JSON) {
		json(c, e);
		return 0;
	}
	if (c->fmt == NUL)
		strlcpy(vname, e->name, sizeof(vname));
	else
		q_strnvis(vname, sizeof(vname), e->name,
		    VIS_WHITE | VIS_CSTYLE | VIS_GLOB);
	if (e->foreign) {
		printf("%-32s %-6s foreign %lld%c", vname,
		    spool_state_name(e->state), (long long)e->sb.st_size, end);
		return 0;
	}
	snprintf(id, sizeof(id), "%.*s", (int)n->idlen, n->name);
	q_human(c->now - n->sec, age, sizeof(age));
	if (e->state == SPOOL_NEW && (n->attrs & SPOOL_ATTR_DUE) &&
	    n->due > c->now) {
		when[0] = '+';
		q_human(n->due - c->now, when + 1, sizeof(when) - 1);
	} else if (e->state == SPOOL_CUR) {
		if (n->lease < c->now || n->lease > c->now + SPOOL_LEASE_MAX)
			strlcpy(when, "expired", sizeof(when));
		else
			q_human(n->lease - c->now, when, sizeof(when));
	}
	printf("%-32s %-6s p=%d a=%-2u %5s %7s %8lld", id,
	    spool_state_name(e->state), n->prio, n->attempts, age, when,
	    (long long)e->sb.st_size);
	if (c->fmt == LONG) {
		if (n->attrs & SPOOL_ATTR_WORKER)
			printf(" w=%ld@%s", (long)n->wpid, n->whost);
		printf(" %s/%s/%s", c->path, spool_state_name(e->state),
		    vname);
	}
	putchar(end);
	return 0;
}

int
cmd_ls(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "long", no_argument, NULL, 'l' },
		{ "null", no_argument, NULL, '0' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctx c = { TEXT, NULL, 0 };
	struct spool *sp;
	char *path, vpath[4 * PATH_MAX + 1];
	unsigned mask = ~0U;
	int ch, st, status, nfmt = 0;

	while ((ch = getopt_long(argc, argv, "+s:l0h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			if ((st = q_state(optarg)) == -1)
				return Q_USAGE;
			mask = 1U << st;
			break;
		case 'l':
			c.fmt = LONG, nfmt++;
			break;
		case '0':
			c.fmt = NUL, nfmt++;
			break;
		case 'J':
			c.fmt = JSON, nfmt++;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1 || nfmt > 1)
		return q_usage(0);
	if ((status = q_open(argv[0], SPOOL_OPEN_ANYCONFIG, &sp)) != Q_OK)
		return status;
	path = q_queuepath(argv[0]);
	q_strnvis(vpath, sizeof(vpath), path, VIS_WHITE | VIS_CSTYLE |
	    VIS_GLOB);
	c.path = c.fmt == NUL ? path : vpath;
	c.now = time(NULL);
	if (spool_each(sp, mask, SPOOL_EACH_STAT | SPOOL_EACH_ONCE, show,
	    &c) == -1) {
		warn("%s", argv[0]);
		status = q_status(errno);
	}
	spool_close(sp);
	free(path);
	return q_finish(status);
}
