/*
 * stat.c - q stat: how a queue is doing, for people and for scripts.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <libutil.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vis.h>

#include "cmd.h"
#include "banned.h"

static const char *const buckets[SPOOL_AGE_BUCKETS] = {
	"1m", "5m", "15m", "1h", "4h", "1d", "7d", "older"
};

static char *
bytes(unsigned long long n, char *buf, size_t len)
{
	/* at most 4 characters: "999B", "4.9K", "12M" */
	if (humanize_number(buf, len < 5 ? len : 5, (int64_t)n, "",
	    HN_AUTOSCALE, HN_DECIMAL | HN_NOSPACE | HN_B) == -1)
		snprintf(buf, len, "%lluB", n);
	return buf;
}

static void
text(const char *queue, const struct spool_stats *s)
{
	char b[16], age[32], vq[4 * PATH_MAX + 1];
	int i, st;

	q_strnvis(vq, sizeof(vq), queue, VIS_WHITE | VIS_CSTYLE |
	    VIS_GLOB);
	printf("%s%s\n", vq, s->paused ? " (paused)" : "");
	for (st = SPOOL_NEW; st <= SPOOL_FAILED + 1; st++) {
		int k = st > SPOOL_FAILED ? SPOOL_TMP : st;

		printf("  %-8s %10llu %8s", spool_state_name(k), s->count[k],
		    bytes(s->bytes[k], b, sizeof(b)));
		if (k == SPOOL_NEW)
			printf("  %llu delayed", s->delayed);
		else if (k == SPOOL_CUR)
			printf("  %llu expired", s->expired);
		putchar('\n');
	}
	printf("  %-8s %10llu\n", "foreign", s->foreign);
	if (s->skewed > 0)	/* ages of these read 0: say why */
		printf("  %-8s %10llu  enqueued ahead of this clock\n",
		    "skewed", s->skewed);
	printf("  oldest ready: %s\n", s->count[SPOOL_NEW] > s->delayed ?
	    q_human(s->oldest, age, sizeof(age)) : "-");
	printf("  ready by age:");
	for (i = 0; i < SPOOL_AGE_BUCKETS; i++)
		printf(" %s%s %llu", i == SPOOL_AGE_BUCKETS - 1 ? "" : "<",
		    buckets[i], s->ages[i]);
	putchar('\n');
}

static void
json(const char *queue, const char *path, const struct spool_stats *s)
{
	int i, st;

	printf("{\"queue\":");
	q_json_string(queue);
	printf(",\"path\":");
	q_json_string(path);
	for (st = SPOOL_TMP; st < SPOOL_NSTATES; st++) {
		printf(",\"%s\":{\"count\":%llu,\"bytes\":%llu",
		    spool_state_name(st), s->count[st], s->bytes[st]);
		if (st == SPOOL_NEW)
			printf(",\"delayed\":%llu", s->delayed);
		if (st == SPOOL_CUR)
			printf(",\"expired\":%llu", s->expired);
		putchar('}');
	}
	printf(",\"foreign\":%llu,\"skewed\":%llu,\"paused\":%s,"
	    "\"oldest_ready\":", s->foreign, s->skewed,
	    s->paused ? "true" : "false");
	if (s->count[SPOOL_NEW] > s->delayed)
		printf("%lld", s->oldest);
	else
		printf("null");
	printf(",\"ready_by_age\":{");
	for (i = 0; i < SPOOL_AGE_BUCKETS; i++)
		printf("%s\"%s\":%llu", i ? "," : "", buckets[i], s->ages[i]);
	printf("}}\n");
}

static int
one(const char *queue, struct spool *sp, void *arg)
{
	struct spool_stats s;
	char *path;

	if (spool_stats(sp, &s) == -1) {
		warn("%s", queue);
		return q_status(errno);
	}
	if (*(int *)arg) {
		path = q_queuepath(queue);
		json(queue, path, &s);
		free(path);
	} else
		text(queue, &s);
	return Q_OK;
}

int
cmd_stat(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, jflag = 0;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'J':
			jflag = 1;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	return q_finish(q_queues(argc, argv, SPOOL_OPEN_ANYCONFIG, one, &jflag));
}
