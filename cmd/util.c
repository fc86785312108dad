/*
 * util.c - what the q commands say and parse: usage, the one table of
 * failures and exit statuses, durations, leases and IDs from the command
 * line, safe display (vis, JSON, ages), and the final check of stdout.
 * Finding and opening queues is qdir.c's.
 */

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vis.h>

#include "cmd.h"
#include "banned.h"

int
q_usage(int help)
{
	fprintf(help ? stdout : stderr, "usage: %s\n", q_synopsis);
	return help ? q_finish(Q_OK) : Q_USAGE;
}

/* The one map from errno to the exit statuses of q(1). */
int
q_status(int errnum)
{
	switch (errnum) {
	case 0:
		return Q_OK;
	case EINVAL:
	case ERANGE:
	case ENAMETOOLONG:
	case EXDEV:
		return Q_DATAERR;
	case ENOENT:
	case ENOTDIR:
	case EBUSY:
		return Q_NOINPUT;
	case EAGAIN:
		return Q_TEMPFAIL;
	case EACCES:
	case EPERM:
		return Q_NOPERM;
	default:
		return Q_IOERR;
	}
}

/*
 * The one table of what went wrong in q's terms: for each reason the
 * library gives beside errno (spool_why()), the words said after the
 * subject and the exit status.  Any other failure is a system error:
 * strerror(3) and q_status().
 */
static const struct {
	enum spool_why	 why;
	int		 status;
	const char	*text;	/* NULL: the command's words for "not found" */
} reasons[] = {
	{ SPOOL_WHY_NOQUEUE, Q_NOINPUT, "no such queue" },
	{ SPOOL_WHY_NOTQUEUE, Q_NOINPUT, "not a queue" },
	{ SPOOL_WHY_SPLIT, Q_IOERR, "state directories on another file system" },
	{ SPOOL_WHY_CONFIG, Q_DATAERR, "malformed config" },
	{ SPOOL_WHY_KEY, Q_DATAERR, "unknown key" },
	{ SPOOL_WHY_VALUE, Q_DATAERR, "invalid value" },
	{ SPOOL_WHY_RANGE, Q_DATAERR, "invalid value" },
	{ SPOOL_WHY_BACKOFF, Q_DATAERR, "backoff above backoff-max" },
	{ SPOOL_WHY_BADID, Q_DATAERR, "malformed ID" },
	{ SPOOL_WHY_FOREIGN, Q_DATAERR, "not a message of this queue" },
	{ SPOOL_WHY_NOMSG, Q_NOINPUT, "no such message" },
	{ SPOOL_WHY_STATE, Q_NOINPUT, NULL },
	{ SPOOL_WHY_UNCLAIMED, Q_NOINPUT, "not claimed" },
	{ SPOOL_WHY_CLAIMED, Q_NOINPUT,
	    "claimed; ack, release or fail it first" },
	{ SPOOL_WHY_NOTSUB, Q_NOINPUT, "not subscribed" },
	{ SPOOL_WHY_NOTLINK, Q_DATAERR, "not a subscription" },
	{ SPOOL_WHY_OTHERSUB, Q_DATAERR, "leads to another queue" },
	{ SPOOL_WHY_HASCLAIMS, Q_TEMPFAIL, "has claimed messages" },
	{ SPOOL_WHY_HASSUBS, Q_TEMPFAIL, "has subscribers" },
	{ SPOOL_WHY_NOTOURS, Q_DATAERR, "not made by q, left alone" },
};

/*
 * Report a failure for the reason why (SPOOL_WHY_SYSTEM: errnum alone
 * says it) as one line: the subject (fmt), what went wrong, then after
 * (if not NULL).  notfound is what "not there" means to the command ("no
 * longer claimed", "not in failed/"), said for SPOOL_WHY_STATE and for a
 * bare ENOENT.  Returns the exit status.
 */
static int
vreport(enum spool_why why, int errnum, const char *notfound,
    const char *after, const char *fmt, va_list ap)
{
	const char *text = NULL;
	char subject[2 * PATH_MAX];
	int status = q_status(errnum);
	size_t i;

	(void)vsnprintf(subject, sizeof(subject), fmt, ap);
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].why == why) {
			status = reasons[i].status;
			text = reasons[i].text != NULL ? reasons[i].text :
			    notfound;
			break;
		}
	if (text == NULL && why == SPOOL_WHY_SYSTEM && errnum == ENOENT)
		text = notfound;
	if (text == NULL)
		text = strerror(errnum);
	warnx("%s: %s%s", subject, text, after != NULL ? after : "");
	return status;
}

int
q_report(enum spool_why why, int errnum, const char *notfound,
    const char *after, const char *fmt, ...)
{
	va_list ap;
	int status;

	va_start(ap, fmt);
	status = vreport(why, errnum, notfound, after, fmt, ap);
	va_end(ap);
	return status;
}

/* q_report() of the failure with errnum that just happened. */
int
q_fail(int errnum, const char *notfound, const char *after,
    const char *fmt, ...)
{
	va_list ap;
	int status;

	va_start(ap, fmt);
	status = vreport(spool_why(errnum), errnum, notfound, after, fmt, ap);
	va_end(ap);
	return status;
}

/* Of several failures of one command, the first decides the status. */
int
q_first_failure(int status, int other)
{
	return status != Q_OK ? status : other;
}

/*
 * Say on the standard error how many messages of queue a bulk command
 * moved or deleted: "jobs: 3 messages back in new/".
 */
void
q_moved(const char *queue, long long n, const char *what)
{
	warnx("%s: %lld message%s %s", q_vis(queue), n, n == 1 ? "" : "s",
	    what);
}

/* A number from the command line, from min to max (strtonum(3)). */
int
q_number(const char *what, const char *s, long long min, long long max,
    long long *v)
{
	const char *errstr;

	*v = strtonum(s, min, max, &errstr);
	if (errstr != NULL) {
		warnx("invalid %s: %s", what, s);
		return Q_DATAERR;
	}
	return Q_OK;
}

/* A duration from the command line (spool_duration_parse()). */
int
q_duration(const char *what, const char *s, long long *secs)
{
	if (spool_duration_parse(s, secs) == -1) {
		warnx("invalid %s: %s", what, s);
		return Q_DATAERR;
	}
	return Q_OK;
}

/* A lease from the command line: a duration from 1s to 12h. */
int
q_lease(const char *s, long long *secs)
{
	int status;

	if ((status = q_duration("lease", s, secs)) != Q_OK)
		return status;
	if (*secs < 1 || *secs > SPOOL_LEASE_MAX) {
		warnx("invalid lease: %s (1s to 12h)", s);
		return Q_DATAERR;
	}
	return Q_OK;
}

/*
 * s made safe for a one-line message: newlines, tabs and other control
 * characters escaped as vis(3) does.  The result lives until the fourth
 * call after.
 */
const char *
q_vis(const char *s)
{
	static char buf[4][4 * PATH_MAX + 1];
	static int k;

	k = (k + 1) % 4;
	strnvis(buf[k], s, sizeof(buf[k]), VIS_CSTYLE | VIS_NL | VIS_TAB);
	return buf[k];
}

/* The claim token of a claimed message: ID,a=N. */
void
q_token(const struct spool_name *n, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s,a=%u", (int)n->idlen, n->name, n->attempts);
}

/* Success only if everything written to stdout got out. */
int
q_finish(int status)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warn("stdout");
		return q_first_failure(status, Q_IOERR);
	}
	return status;
}

/*
 * Check the syntax of every reference before anything is touched: a
 * malformed one is exit 65 and nothing happens.
 */
int
q_checkrefs(const char *queue, int n, char *refs[])
{
	struct spool_name parsed;
	int i;

	for (i = 0; i < n; i++) {
		if (spool_ref_parse(refs[i], &parsed) == -1) {
			warnx("%s: %s: malformed ID", q_vis(queue),
			    q_vis(refs[i]));
			return Q_DATAERR;
		}
	}
	return Q_OK;
}

/* Options of commands that take none but -h. */
int
q_noopts(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1)
		return ch == 'h' ? q_usage(1) : q_usage(0);
	return -1;
}

/* s as a JSON string; bytes outside printable ASCII as \u00XX. */
void
q_json_string(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/*
 * An age or time left for people: the largest whole unit, rounded down
 * (spool_duration_format() of what is left of it).
 */
char *
q_human(long long secs, char *buf, size_t len)
{
	long long unit = secs >= 86400 ? 86400 : secs >= 3600 ? 3600 :
	    secs >= 60 ? 60 : 1;

	if (secs < 0)
		secs = 0;
	return spool_duration_format(secs - secs % unit, buf, len);
}

/* "new", "cur", "done" or "failed" to a state; -1 if none of them. */
int
q_state(const char *s)
{
	int st;

	for (st = SPOOL_NEW; st < SPOOL_NSTATES; st++)
		if (strcmp(s, spool_state_name((enum spool_state)st)) == 0)
			return st;
	warnx("invalid state: %s", s);
	return -1;
}
