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
#include <strings.h>
#include <time.h>
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

/* What was wrong with the command line, then the usage: 64. */
int
q_badusage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	return q_usage(0);
}

/*
 * Check the count of operands: at least min, at most max (-1: no limit).
 * names lists what they are ("queue id"; the last word repeats), for
 * "missing id".  Returns -1 when they fit, else says what is wrong: 64.
 */
int
q_operands(int argc, char *argv[], int min, int max, const char *names)
{
	const char *p = names, *sp;
	int i;

	if (max != -1 && argc > max)
		return q_badusage("unexpected operand: %s", q_vis(argv[max]));
	if (argc >= min)
		return -1;
	for (i = 0; i < argc && (sp = strchr(p, ' ')) != NULL; i++)
		p = sp + 1;
	return q_badusage("missing %.*s", (int)strcspn(p, " "), p);
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
	{ SPOOL_WHY_UNMADE, Q_NOINPUT, "not a queue" },
	{ SPOOL_WHY_SPLIT, Q_IOERR,
	    "state directories on another file system" },
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
	{ SPOOL_WHY_HOST, Q_USAGE,
	    "not a node name (1 to 64 of A-Z a-z 0-9 . -)" },
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

/*
 * The decimal number s, digits only as in durations (no sign, no blank,
 * no 0x), from min to max, as a number of what; that is read at s + skip,
 * the whole of s is named if it is not.
 */
static int
decimal(const char *what, const char *s, size_t skip, long long min,
    long long max, long long *v)
{
	const char *errstr = "invalid", *d = s + skip;

	if (*d != '\0' && d[strspn(d, "0123456789")] == '\0')
		*v = strtonum(d, min, max, &errstr);
	if (errstr != NULL) {
		warnx("invalid %s: %s", what, s);
		return Q_DATAERR;
	}
	return Q_OK;
}

/* A number of the command line (-p, -j, -n, -a): digits only. */
int
q_number(const char *what, const char *s, long long min, long long max,
    long long *v)
{
	return decimal(what, s, 0, min, max, v);
}

/*
 * A moment from the command line: @UNIXTIME as in date(1) (*at is 1, *v
 * that time), or a duration from now (*at is 0, *v seconds).
 */
int
q_moment(const char *what, const char *s, long long *v, int *at)
{
	if ((*at = s[0] == '@'))
		return decimal(what, s, 1, 0, 99999999999LL, v);
	return q_duration(what, s, v);
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
 * Whether the user's locale is UTF-8: the first of LC_ALL, LC_CTYPE and
 * LANG that is set names a UTF-8 character set ("C.UTF-8", "de_DE.utf8").
 * Read from the environment, not by setlocale(3), which would load locale
 * files at every start; q itself runs in the C locale.
 */
int q_utf8;

void
q_locale(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };
	const char *v = NULL, *cs;
	size_t i, n;

	for (i = 0; i < 3 && (v == NULL || *v == '\0'); i++)
		v = getenv(vars[i]);
	if (v == NULL || (cs = strchr(v, '.')) == NULL)
		return;
	cs++;
	n = strncasecmp(cs, "utf-8", 5) == 0 ? 5 :
	    strncasecmp(cs, "utf8", 4) == 0 ? 4 : 0;
	q_utf8 = n > 0 && (cs[n] == '\0' || cs[n] == '@');
}

/*
 * The length of the well-formed UTF-8 sequence at s (no overlong form,
 * surrogate or code point past U+10FFFF), its code point in *cp; 0 if
 * there is none.
 */
static size_t
utf8dec(const unsigned char *s, unsigned long *cp)
{
	unsigned long c;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* As utf8dec, for a printable character only (no C1 control, no U+2028). */
static size_t
utf8print(const unsigned char *s)
{
	unsigned long c;
	size_t n;

	if ((n = utf8dec(s, &c)) == 0 || c < 0xa0 || c == 0x2028 ||
	    c == 0x2029 || c == 0xfeff)
		return 0;
	return n;
}

/*
 * strnvis(3) of src into dst (len bytes), except that in a UTF-8 locale
 * printable characters beyond ASCII read as themselves ("ünï", not
 * "\M-C\M-<n...").  Truncated to fit, as strnvis is.
 */
void
q_strnvis(char *dst, size_t len, const char *src, int flags)
{
	const unsigned char *s = (const unsigned char *)src;
	char one[2] = { 0, 0 }, esc[8];
	size_t n, o = 0, m;

	if (len == 0)
		return;
	for (; *s != '\0' && o + 1 < len; s += n) {
		if (q_utf8 && (n = utf8print(s)) > 0) {
			if (o + n >= len)
				break;
			memcpy(dst + o, s, n);
		} else {
			n = 1;
			one[0] = (char)*s;
			(void)strnvis(esc, one, sizeof(esc), flags);
			if (o + (m = strlen(esc)) >= len)
				break;
			memcpy(dst + o, esc, m);
			o += m;
			continue;
		}
		o += n;
	}
	dst[o] = '\0';
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
	q_strnvis(buf[k], sizeof(buf[k]), s, VIS_CSTYLE | VIS_NL | VIS_TAB);
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

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		return ch == 'h' ? q_usage(1) : q_usage(0);
	return -1;
}

/*
 * s as a JSON string, valid UTF-8: well-formed UTF-8 as itself, controls
 * as \\uXXXX, and a byte that is no UTF-8 as U+FFFD (such a name cannot
 * round-trip through JSON; -0 gives its bytes).
 */
void
q_json_string(const char *s)
{
	const unsigned char *p;
	unsigned long c;
	size_t n;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else if (*p < 0x80)
			putchar(*p);
		else if ((n = utf8dec(p, &c)) > 0) {
			fwrite(p, 1, n, stdout);
			p += n - 1;
		} else
			fputs("\\ufffd", stdout);
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
