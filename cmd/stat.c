/*
 * stat.c - q stat: how a queue is doing, for people and for scripts, and
 * for Prometheus.  --prom gathers the figures of every queue before it
 * writes any: the text exposition format wants the HELP and TYPE lines of
 * a metric once, followed by the samples of every queue.
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

/*
 * How the queue's arrivals are waited for and its claims judged, which
 * differs on a file system shared by several hosts.
 */
static void
fsline(const struct spool_stats *s, struct spool *sp)
{
	char poll[32], skew[32];

	if (!s->remote) {
		printf("  file system: local; arrivals by inotify, "
		    "dead workers by their lock\n");
		return;
	}
	(void)spool_config_show(spool_config(sp), "poll", poll, sizeof(poll));
	spool_duration_format(s->skew, skew, sizeof(skew));
	printf("  file system: remote; arrivals by a look every %s, "
	    "claims by %s, clock skew %s\n", poll,
	    s->leaseonly ? "lease alone" : "lock and lease", skew);
}

static void
text(const char *queue, const struct spool_stats *s, struct spool *sp)
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
	fsline(s, sp);
}

static void
json(const char *queue, const char *path, const struct spool_stats *s,
    struct spool *sp)
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
	printf("},\"remote\":%s,\"wait\":\"%s\",\"poll_ms\":%lld,"
	    "\"liveness\":\"%s\",\"skew\":%lld}\n",
	    s->remote ? "true" : "false", s->remote ? "poll" : "inotify",
	    spool_config(sp)->poll, s->leaseonly ? "lease" : "lock", s->skew);
}

/* The metrics of --prom, in the order written; all of them gauges. */
enum metric {
	M_MESSAGES, M_BYTES, M_DELAYED, M_EXPIRED, M_FOREIGN, M_OLDEST,
	M_PAUSED, M_NMETRICS
};

static const struct {
	const char	*name;
	const char	*help;
	int		 bystate;	/* a sample per state */
} metrics[M_NMETRICS] = {
	{ "q_messages", "Messages in each state; tmp counts files "
	    "being written or left by crashed writers.", 1 },
	{ "q_message_bytes", "Size of the messages in each state, "
	    "in bytes.", 1 },
	{ "q_delayed_messages", "Messages in new/ that are not due yet.",
	    0 },
	{ "q_expired_leases", "Claims in cur/ whose lease has expired "
	    "and that no sweep has returned yet.", 0 },
	{ "q_foreign_files", "Files in new/, cur/, done/ and failed/ "
	    "that are not messages.", 0 },
	{ "q_oldest_ready_age_seconds", "Age of the oldest ready message, "
	    "in seconds; 0 when none is ready.", 0 },
	{ "q_paused", "1 if the queue is paused, else 0.", 0 },
};

enum format { TEXT, JSON, PROM };

/* What q stat is asked for, and for --prom the queues' figures so far. */
struct gathered {
	enum format	 fmt;
	size_t		 n;
	struct figures {
		char			*queue;
		struct spool_stats	 s;
	}		*q;
};

static unsigned long long
value(enum metric m, const struct spool_stats *s, int st)
{
	switch (m) {
	case M_MESSAGES:
		return s->count[st];
	case M_BYTES:
		return s->bytes[st];
	case M_DELAYED:
		return s->delayed;
	case M_EXPIRED:
		return s->expired;
	case M_FOREIGN:
		return s->foreign;
	case M_OLDEST:
		return s->count[SPOOL_NEW] > s->delayed && s->oldest > 0 ?
		    (unsigned long long)s->oldest : 0;
	default:
		return s->paused != 0;
	}
}

/* Bytes of the valid UTF-8 sequence at p, or 0 if there is none. */
static int
utf8len(const unsigned char *p)
{
	int n, i;

	if (*p < 0x80)
		return 1;
	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/*
 * A label value: backslash, double quote and line feed escaped as the
 * format requires, UTF-8 as it is.  The format allows nothing else, so a
 * byte that is not part of valid UTF-8 is written as U+FFFD, which keeps
 * the file readable for every queue.
 */
static void
label(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;

	while (*p != '\0') {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			printf("\\%c", *p == '\n' ? 'n' : *p);
			p++;
		} else if ((n = utf8len(p)) > 0) {
			fwrite(p, 1, (size_t)n, stdout);
			p += n;
		} else {
			fputs("\xef\xbf\xbd", stdout);
			p++;
		}
	}
}

/* Every metric, HELP and TYPE once, then a sample per queue (and state). */
static void
prom(const struct gathered *g)
{
	size_t i;
	int m, st;

	for (m = 0; m < M_NMETRICS && g->n > 0; m++) {
		printf("# HELP %s %s\n# TYPE %s gauge\n", metrics[m].name,
		    metrics[m].help, metrics[m].name);
		for (i = 0; i < g->n; i++)
			for (st = SPOOL_TMP; st < SPOOL_NSTATES; st++) {
				printf("%s{queue=\"", metrics[m].name);
				label(g->q[i].queue);
				if (metrics[m].bystate)
					printf("\",state=\"%s",
					    spool_state_name(st));
				printf("\"} %llu\n", value(m, &g->q[i].s, st));
				if (!metrics[m].bystate)
					break;
			}
	}
}

/*
 * Keep a queue's figures for prom().  A queue named twice is kept once:
 * two samples with the same labels would make the whole file invalid.
 */
static void
keep(struct gathered *g, const char *queue, const struct spool_stats *s)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (strcmp(g->q[i].queue, queue) == 0)
			return;
	if ((g->q = reallocarray(g->q, g->n + 1, sizeof(*g->q))) == NULL ||
	    (g->q[g->n].queue = strdup(queue)) == NULL)
		err(Q_IOERR, NULL);
	g->q[g->n++].s = *s;
}

static int
one(const char *queue, struct spool *sp, void *arg)
{
	struct gathered *g = arg;
	struct spool_stats s;
	char *path;

	if (spool_stats(sp, &s) == -1) {
		warn("%s", queue);
		return q_status(errno);
	}
	switch (g->fmt) {
	case PROM:
		keep(g, queue, &s);
		break;
	case JSON:
		path = q_queuepath(queue);
		json(queue, path, &s, sp);
		free(path);
		break;
	default:
		text(queue, &s, sp);
	}
	return Q_OK;
}

int
cmd_stat(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "prom", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct gathered g = { TEXT, 0, NULL };
	int ch, jflag = 0, pflag = 0, status;
	size_t i;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'J':
			jflag = 1;
			break;
		case 'P':
			pflag = 1;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	if (jflag && pflag) {
		warnx("--json and --prom cannot be used together");
		return q_usage(0);
	}
	g.fmt = jflag ? JSON : pflag ? PROM : TEXT;
	status = q_queues(argc - optind, argv + optind, SPOOL_OPEN_ANYCONFIG,
	    one, &g);
	prom(&g);
	for (i = 0; i < g.n; i++)
		free(g.q[i].queue);
	free(g.q);
	return q_finish(status);
}
