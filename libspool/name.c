/*
 * name.c - the one strict parser of message names, and durations.
 *
 * Every name read from a state directory and every ID given on a command
 * line goes through spool_name_parse().  What it rejects is foreign: never
 * claimed, moved, opened or deleted.  The grammar (q(5)):
 *
 *	ID   = SEC "." USEC "." PID "_" SEQ "." HOST
 *	NAME = ID *( "," KEY "=" VALUE )	(keys p, a, b, d, l, w, in
 *						that order)
 *
 * SEC has exactly 10 digits and USEC exactly 6, so that names sort by
 * enqueue time.  Numbers have no sign, no leading zeros (but SEC and USEC,
 * which are fixed width) and must fit their type; attributes appear at most
 * once and in order.  A name with '/', ':', white space or any byte outside
 * the grammar cannot parse, so no parsed name can leave its directory.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

static int
isdigitc(int c)
{
	return c >= '0' && c <= '9';
}

/* May c be in the HOST part of an ID (q(5))? */
int
spool__ishostc(int c)
{
	return isdigitc(c) || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '.' || c == '-';
}

/* Is s a valid node name: 1 to SPOOL_HOST_MAX characters of HOST? */
int
spool__host_check(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= SPOOL_HOST_MAX || !spool__ishostc((unsigned char)s[i]))
			return -1;
	return i > 0 ? 0 : -1;
}

/*
 * Read an unsigned decimal of at most maxdig digits and at most max from
 * *sp, advancing it.  Exactly width digits when width > 0; otherwise no
 * leading zero unless the number is 0.
 */
static int
number(const char **sp, int width, int maxdig, unsigned long long max,
    unsigned long long *out)
{
	const char *s = *sp;
	unsigned long long v = 0;
	int n = 0;

	while (isdigitc(s[n])) {
		unsigned d = (unsigned)(s[n] - '0');

		if (n == maxdig || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
		n++;
	}
	if (n == 0 || (width > 0 && n != width) ||
	    (width == 0 && n > 1 && s[0] == '0') || v > max)
		return -1;
	*sp = s + n;
	*out = v;
	return 0;
}

static int
host(const char **sp, char *buf)
{
	const char *s = *sp;
	size_t n = 0;

	while (spool__ishostc(s[n]))
		n++;
	if (n == 0 || n > SPOOL_HOST_MAX)
		return -1;
	if (buf != NULL) {
		memcpy(buf, s, n);
		buf[n] = '\0';
	}
	*sp = s + n;
	return 0;
}

/* The ID: SEC.USEC.PID_SEQ.HOST, its fields into out. */
static int
parse_id(const char **sp, struct spool_name *out)
{
	unsigned long long v;

	if (number(sp, 10, 10, 9999999999ULL, &v) == -1 || *(*sp)++ != '.')
		return -1;
	out->sec = (time_t)v;
	if (number(sp, 6, 6, 999999, &v) == -1 || *(*sp)++ != '.')
		return -1;
	out->usec = (long)v;
	if (number(sp, 0, 10, INT_MAX, &v) == -1 || *(*sp)++ != '_')
		return -1;
	if (number(sp, 0, 20, ULLONG_MAX, &v) == -1 || *(*sp)++ != '.')
		return -1;
	return host(sp, NULL);
}

/* The value of attribute key, at *sp, into out. */
static int
parse_attr(const char **sp, int key, struct spool_name *out)
{
	unsigned long long v;

	switch (key) {
	case 'p':
		if (number(sp, 1, 1, 9, &v) == -1)
			return -1;
		out->prio = (int)v;
		out->attrs |= SPOOL_ATTR_PRIO;
		return 0;
	case 'a':
	case 'b':
		if (number(sp, 0, 10, INT_MAX, &v) == -1)
			return -1;
		if (key == 'a')
			out->attempts = (unsigned)v;
		else
			out->base = (unsigned)v;
		out->attrs |= key == 'a' ? SPOOL_ATTR_ATTEMPTS :
		    SPOOL_ATTR_BASE;
		return 0;
	case 'd':
	case 'l':
		if (number(sp, 0, 11, 99999999999ULL, &v) == -1)
			return -1;
		if (key == 'd')
			out->due = (time_t)v;
		else
			out->lease = (time_t)v;
		out->attrs |= key == 'd' ? SPOOL_ATTR_DUE : SPOOL_ATTR_LEASE;
		return 0;
	default:	/* 'w' */
		if (number(sp, 0, 10, INT_MAX, &v) == -1 ||
		    *(*sp)++ != '@' || host(sp, out->whost) == -1)
			return -1;
		out->wpid = (pid_t)v;
		out->attrs |= SPOOL_ATTR_WORKER;
		return 0;
	}
}

int
spool_name_parse(const char *str, struct spool_name *out)
{
	static const char keys[] = "pabdlw";
	const char *s = str, *kp;
	size_t len;
	int k, last = -1;

	len = strnlen(str, SPOOL_NAME_MAX + 1);
	if (len > SPOOL_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->prio = SPOOL_PRIO_DEFAULT;
	if (parse_id(&s, out) == -1)
		goto bad;
	out->idlen = (size_t)(s - str);
	/* ,KEY=VALUE each at most once, in the order of keys */
	while (*s++ == ',') {
		if (s[0] == '\0' || s[1] != '=' ||
		    (kp = strchr(keys, s[0])) == NULL ||
		    (k = (int)(kp - keys)) <= last)
			goto bad;
		last = k;
		s += 2;
		if (parse_attr(&s, s[-2], out) == -1)
			goto bad;
	}
	/* the budget cannot begin after the claims counted */
	if (s[-1] != '\0' || out->base > out->attempts)
		goto bad;
	memcpy(out->name, str, len + 1);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
spool_ref_parse(const char *ref, struct spool_name *out)
{
	const char *base = strrchr(ref, '/');

	return spool_name_parse(base != NULL ? base + 1 : ref, out);
}

/*
 * The sort key of a message: priority, SEC and USEC in one number, so
 * that most comparisons of names need no strcmp.  SEC and USEC have fixed
 * widths, so the key orders names as strcmp does but for ties.
 */
uint64_t
spool__sortkey(int prio, time_t sec, long usec)
{
	return (uint64_t)prio << 60 | (uint64_t)sec << 20 | (uint64_t)usec;
}

/*
 * The sort key of an entry's name read off its first bytes, by the same
 * grammar as spool_name_parse() but without parsing all of it: the fixed
 * widths of SEC and USEC, and p= as the first attribute when present.  A
 * claimant scanning a deep queue skips most names on this alone.
 * Returns 1, 0 if the name has d= (parse it: it may be delayed), or -1 if
 * it is not shaped like a message name (the parser decides what it is).
 */
int
spool__name_sortkey(const char *name, uint64_t *key)
{
	const char *attrs;
	uint64_t sec = 0, usec = 0;
	int i, prio = SPOOL_PRIO_DEFAULT;

	for (i = 0; i < 17; i++) {
		if (i == 10) {
			if (name[i] != '.')
				return -1;
		} else if (name[i] < '0' || name[i] > '9')
			return -1;
		else if (i < 10)
			sec = sec * 10 + (uint64_t)(name[i] - '0');
		else
			usec = usec * 10 + (uint64_t)(name[i] - '0');
	}
	if ((attrs = strchr(name + 17, ',')) != NULL) {
		if (strstr(attrs, ",d=") != NULL)
			return 0;
		if (attrs[1] == 'p' && attrs[2] == '=') {
			if (attrs[3] < '0' || attrs[3] > '9')
				return -1;
			prio = attrs[3] - '0';
		}
	}
	*key = spool__sortkey(prio, (time_t)sec, (long)usec);
	return 1;
}

int
spool_name_format(struct spool_name *n)
{
	char buf[SPOOL_NAME_MAX + 1];
	size_t off = n->idlen;
	int r = 0;

	if (n->idlen > SPOOL_NAME_MAX)
		goto toolong;
	memcpy(buf, n->name, n->idlen);
#define ADD(...) do {							\
	r = snprintf(buf + off, sizeof(buf) - off, __VA_ARGS__);	\
	if (r < 0 || (size_t)r >= sizeof(buf) - off)			\
		goto toolong;						\
	off += (size_t)r;						\
} while (0)
	if ((n->attrs & SPOOL_ATTR_PRIO) && n->prio != SPOOL_PRIO_DEFAULT)
		ADD(",p=%d", n->prio);
	if ((n->attrs & SPOOL_ATTR_ATTEMPTS) && n->attempts > 0)
		ADD(",a=%u", n->attempts);
	if ((n->attrs & SPOOL_ATTR_BASE) && n->base > 0)
		ADD(",b=%u", n->base);
	if (n->attrs & SPOOL_ATTR_DUE)
		ADD(",d=%lld", (long long)n->due);
	if (n->attrs & SPOOL_ATTR_LEASE)
		ADD(",l=%lld", (long long)n->lease);
	if (n->attrs & SPOOL_ATTR_WORKER)
		ADD(",w=%ld@%s", (long)n->wpid, n->whost);
#undef ADD
	buf[off] = '\0';
	memcpy(n->name, buf, off + 1);
	return 0;
toolong:
	errno = ENAMETOOLONG;
	return -1;
}

int
spool_duration_parse(const char *s, long long *secs)
{
	unsigned long long v;
	long long unit = 1;
	const char *p = s;

	while (p[0] == '0' && isdigitc(p[1]))	/* "05" is 5, as in -p 05 */
		p++;
	if (number(&p, 0, 12, 999999999999ULL, &v) == -1)
		goto bad;
	switch (*p) {
	case '\0':
		break;
	case 's':
		p++;
		break;
	case 'm':
		unit = 60, p++;
		break;
	case 'h':
		unit = 3600, p++;
		break;
	case 'd':
		unit = 86400, p++;
		break;
	case 'w':
		unit = 7 * 86400, p++;
		break;
	default:
		goto bad;
	}
	if (*p != '\0')
		goto bad;
	if (v > (unsigned long long)(SPOOL_DURATION_MAX / unit)) {
		errno = ERANGE;
		return -1;
	}
	*secs = (long long)v * unit;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

char *
spool_duration_format(long long secs, char *buf, size_t len)
{
	if (secs != 0 && secs % 86400 == 0)
		snprintf(buf, len, "%lldd", secs / 86400);
	else if (secs != 0 && secs % 3600 == 0)
		snprintf(buf, len, "%lldh", secs / 3600);
	else if (secs != 0 && secs % 60 == 0)
		snprintf(buf, len, "%lldm", secs / 60);
	else
		snprintf(buf, len, "%llds", secs);
	return buf;
}

const char *
spool_state_name(enum spool_state st)
{
	static const char *const names[SPOOL_NSTATES] = {
		"tmp", "new", "cur", "done", "failed"
	};

	return (unsigned)st < SPOOL_NSTATES ? names[st] : "?";
}
