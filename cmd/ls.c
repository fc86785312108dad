/*
 * ls.c - q ls: list a queue's messages, one line (or record) each, in ID
 * order or another, or streaming as the directories yield them; or,
 * without a queue, the queues under $QDIR with their counts.
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
	int		 n;		/* queues listed, for --json */
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
		    n->sec > c->now ? 0LL : (long long)(c->now - n->sec));
		/* put by a host whose clock is ahead: by how much */
		if (n->sec > c->now)
			printf(",\"skew\":%lld", (long long)(n->sec - c->now));
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

/* -0: tab-separated fields, the raw name last, a NUL at the end. */
static void
nul(const struct spool_entry *e)
{
	const struct spool_name *n = &e->n;

	printf("%s\t", spool_state_name(e->state));
	if (e->foreign)
		printf("-\t-\t-\t-\t");
	else {
		printf("%d\t%u\t%lld\t", n->prio, n->attempts,
		    (long long)n->sec);
		if (e->state == SPOOL_CUR)
			printf("%lld\t", (long long)n->lease);
		else if (n->attrs & SPOOL_ATTR_DUE)
			printf("%lld\t", (long long)n->due);
		else
			printf("-\t");
	}
	printf("%lld\t%s%c", (long long)e->sb.st_size, e->name, '\0');
}

static int
show(void *arg, const struct spool_entry *e)
{
	const struct ctx *c = arg;
	const struct spool_name *n = &e->n;
	char vname[4 * SPOOL_NAME_MAX + 1], id[SPOOL_NAME_MAX + 1];
	char age[32], when[32] = "-";

	if (c->fmt == JSON || c->fmt == NUL) {
		c->fmt == JSON ? json(c, e) : nul(e);
		return 0;
	}
	q_strnvis(vname, sizeof(vname), e->name, VIS_WHITE | VIS_CSTYLE |
	    VIS_GLOB);
	if (e->foreign) {
		printf("%-32s %-6s foreign %lld\n", vname,
		    spool_state_name(e->state), (long long)e->sb.st_size);
		return 0;
	}
	snprintf(id, sizeof(id), "%.*s", (int)n->idlen, n->name);
	q_human(c->now - n->sec, age, sizeof(age));	/* 0 if ahead, */
	if (n->sec > c->now)				/* flagged */
		strlcat(age, "!", sizeof(age));
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
	putchar('\n');
	return 0;
}

/* One queue of the list of queues. */
static int
queue(const char *name, struct spool *sp, void *arg)
{
	struct ctx *c = arg;
	struct spool_stats s;
	unsigned long long ready;
	char vname[4 * PATH_MAX + 1], age[32] = "-", *path;

	if (spool_stats(sp, &s) == -1) {
		warn("%s", q_vis(name));
		return q_status(errno);
	}
	ready = s.count[SPOOL_NEW] - s.delayed;
	path = q_queuepath(name);
	if (c->fmt == JSON) {
		printf("%s{\"queue\":", c->n++ ? ",\n" : "[");
		q_json_string(name);
		printf(",\"path\":");
		q_json_string(path);
		printf(",\"ready\":%llu,\"delayed\":%llu,\"claimed\":%llu,"
		    "\"expired\":%llu,\"done\":%llu,\"failed\":%llu,"
		    "\"paused\":%s,\"oldest_ready\":", ready, s.delayed,
		    s.count[SPOOL_CUR], s.expired, s.count[SPOOL_DONE],
		    s.count[SPOOL_FAILED], s.paused ? "true" : "false");
		ready ? printf("%lld}", s.oldest) : printf("null}");
	} else if (c->fmt == NUL) {
		printf("%llu\t%llu\t%llu\t", ready, s.count[SPOOL_CUR],
		    s.count[SPOOL_FAILED]);
		ready ? printf("%lld\t", s.oldest) : printf("-\t");
		printf("%s%c", name, '\0');
	} else {
		q_strnvis(vname, sizeof(vname), name, VIS_WHITE | VIS_CSTYLE |
		    VIS_GLOB);
		if (ready)
			q_human(s.oldest, age, sizeof(age));
		printf("%-16s %7llu %7llu %7llu %6s", vname, ready,
		    s.count[SPOOL_CUR], s.count[SPOOL_FAILED], age);
		if (c->fmt == LONG) {
			q_strnvis(vname, sizeof(vname), path, VIS_WHITE |
			    VIS_CSTYLE | VIS_GLOB);
			printf(" %s", vname);
		}
		printf("%s\n", s.paused ? " paused" : "");
	}
	free(path);
	return Q_OK;
}

static int
queues(struct ctx *c)
{
	int status;

	c->now = time(NULL);
	if (c->fmt == LONG)
		printf("%-16s %7s %7s %7s %6s %s\n", "QUEUE", "READY",
		    "CLAIMED", "FAILED", "OLDEST", "PATH");
	status = q_everyqueue(SPOOL_OPEN_ANYCONFIG, 0, queue, c);
	/* an array however many, but none at all when nothing could be read */
	if (c->fmt == JSON && (c->n > 0 || status == Q_OK))
		printf("%s]\n", c->n > 0 ? "\n" : "[");
	return q_finish(status);
}

static int
messages(struct ctx *c, const char *name, unsigned mask, unsigned order)
{
	struct spool *sp;
	char *path, vpath[4 * PATH_MAX + 1];
	int status;

	if ((status = q_open(name, SPOOL_OPEN_ANYCONFIG, &sp)) != Q_OK)
		return status;
	path = q_queuepath(name);
	q_strnvis(vpath, sizeof(vpath), path, VIS_WHITE | VIS_CSTYLE |
	    VIS_GLOB);
	c->path = vpath;
	c->now = time(NULL);
	if (c->fmt == LONG)
		printf("%-32s %-6s %-3s %-4s %5s %7s %8s %s\n", "ID", "STATE",
		    "PRI", "ATT", "AGE", "WHEN", "SIZE", "PATH");
	if (spool_each(sp, mask, SPOOL_EACH_STAT | SPOOL_EACH_ONCE | order,
	    show, c) == -1) {
		warn("%s", q_vis(name));
		status = q_status(errno);
	}
	spool_close(sp);
	free(path);
	return q_finish(status);
}

/* --sort=KEY: the flags of spool_each() for it, or -1. */
static int
sortkey(const char *s, unsigned *order)
{
	if (strcmp(s, "id") == 0)
		*order = SPOOL_EACH_BYID;
	else if (strcmp(s, "age") == 0)	/* youngest first */
		*order = SPOOL_EACH_BYID | SPOOL_EACH_REVERSE;
	else if (strcmp(s, "size") == 0)
		*order = SPOOL_EACH_BYSIZE;
	else if (strcmp(s, "none") == 0)
		*order = 0;
	else {
		warnx("invalid sort key: %s (id, age, size or none)", s);
		return -1;
	}
	return 0;
}

/* Options, then what may go with what: one case per option makes it long. */
int
cmd_ls(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "sort", required_argument, NULL, 'S' },
		{ "reverse", no_argument, NULL, 'r' },
		{ "long", no_argument, NULL, 'l' },
		{ "null", no_argument, NULL, '0' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctx c = { TEXT, NULL, 0, 0 };
	unsigned mask = ~0U, order = SPOOL_EACH_BYID, rev = 0;
	int ch, st, status, nfmt = 0, nsel = 0;

	while ((ch = getopt_long(argc, argv, "s:S:rl0h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			if ((st = q_state(optarg)) == -1)
				return Q_USAGE;
			mask = 1U << st, nsel++;
			break;
		case 'S':
			if (sortkey(optarg, &order) == -1)
				return Q_USAGE;
			nsel++;
			break;
		case 'r':
			rev = SPOOL_EACH_REVERSE, nsel++;
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
	if ((status = q_operands(argc, argv, 0, 1, "queue")) != -1)
		return status;
	if (nfmt > 1)
		return q_badusage("-l, -0 and --json exclude each other");
	if (argc == 0 && nsel > 0)
		return q_badusage("-s, -S and -r need a queue");
	if (argc == 0)
		return queues(&c);
	if (order != 0)
		order ^= rev;
	else if (rev)
		return q_badusage("-r with -S none: no order to reverse");
	return messages(&c, argv[0], mask, order);
}
