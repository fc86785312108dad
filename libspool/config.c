/*
 * config.c - a queue's config file: its keys, their defaults and limits,
 * reading it (once per open, and again when it changed), and rewriting
 * one key.
 *
 * The file holds "key = value" lines; '#' starts a comment; an unknown key
 * or a malformed line makes the whole file an error (EINVAL).  It is
 * replaced, never edited in place: the new text is written durably into
 * tmp/ and renamed over the old, with the queue's flock held so that two
 * writers at once each keep their change.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

#define CONFIG_MAX	65536

static const struct spool_config defaults = {
	.lease = 300,
	.attempts = 5,
	.backoff = 10,
	.backoff_max = 3600,
	.keep_done = 7 * 86400,
	.keep_failed = 0,
	.dedup = 86400,
	.sync = 1,
	.skew = -1,
	.poll = 1000,
	.locks = SPOOL_LOCKS_AUTO,
	.host = ""
};

const char *const spool_config_keys[] = {
	"lease", "attempts", "backoff", "backoff-max", "keep-done",
	"keep-failed", "dedup", "sync", "skew", "poll", "locks", "host", NULL
};

/*
 * K_SKEW is a duration or "auto" (-1); K_MS a duration or N "ms", kept in
 * ms; K_LOCKS "auto" or "shared"; K_HOST a node name or "auto" ("").
 */
enum ktype { K_DURATION, K_COUNT, K_BOOL, K_SKEW, K_MS, K_LOCKS, K_HOST };

static const struct {
	const char	*key;
	size_t		 off;
	enum ktype	 type;
	long long	 min, max;
} settings[] = {
	{ "lease", offsetof(struct spool_config, lease), K_DURATION,
	    1, SPOOL_LEASE_MAX },
	{ "attempts", offsetof(struct spool_config, attempts), K_COUNT,
	    1, 1000000 },
	{ "backoff", offsetof(struct spool_config, backoff), K_DURATION,
	    0, SPOOL_DURATION_MAX },
	{ "backoff-max", offsetof(struct spool_config, backoff_max),
	    K_DURATION, 0, SPOOL_DURATION_MAX },
	{ "keep-done", offsetof(struct spool_config, keep_done), K_DURATION,
	    0, SPOOL_DURATION_MAX },
	{ "keep-failed", offsetof(struct spool_config, keep_failed),
	    K_DURATION, 0, SPOOL_DURATION_MAX },
	{ "dedup", offsetof(struct spool_config, dedup), K_DURATION,
	    0, SPOOL_DURATION_MAX },
	{ "sync", offsetof(struct spool_config, sync), K_BOOL, 0, 1 },
	{ "skew", offsetof(struct spool_config, skew), K_SKEW, -1, 3600 },
	{ "poll", offsetof(struct spool_config, poll), K_MS, 10, 3600000 },
	{ "locks", offsetof(struct spool_config, locks), K_LOCKS, 0, 1 },
	{ "host", offsetof(struct spool_config, host), K_HOST, 0, 0 },
};

static int
setting(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (strcmp(settings[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* Parse value as a setting of type t into *v (or host). */
static int
parsevalue(enum ktype t, const char *value, long long *v, char *host)
{
	const char *errstr;
	size_t len;

	switch (t) {
	case K_DURATION:
	case K_SKEW:
	case K_MS:
		if (t == K_SKEW && strcmp(value, "auto") == 0) {
			*v = -1;
			return 0;
		}
		len = strlen(value);
		if (t == K_MS && len > 2 &&
		    strcmp(value + len - 2, "ms") == 0) {
			char num[24];

			if (len - 2 >= sizeof(num))
				return spool__fail(SPOOL_WHY_RANGE, ERANGE);
			memcpy(num, value, len - 2);
			num[len - 2] = '\0';
			*v = strtonum(num, 0, LLONG_MAX, &errstr);
			if (errstr != NULL || num[0] < '0' || num[0] > '9')
				return spool__fail(SPOOL_WHY_VALUE, EINVAL);
			return 0;
		}
		if (spool_duration_parse(value, v) == -1)
			return spool__fail(errno == ERANGE ? SPOOL_WHY_RANGE :
			    SPOOL_WHY_VALUE, errno);
		if (t == K_MS)
			*v *= 1000;
		return 0;
	case K_LOCKS:
		if (strcmp(value, "auto") == 0)
			*v = SPOOL_LOCKS_AUTO;
		else if (strcmp(value, "shared") == 0)
			*v = SPOOL_LOCKS_SHARED;
		else
			return spool__fail(SPOOL_WHY_VALUE, EINVAL);
		return 0;
	case K_HOST:
		*v = 0;
		if (strcmp(value, "auto") == 0)
			value = "";
		else if (spool__host_check(value) == -1)
			return spool__fail(SPOOL_WHY_VALUE, EINVAL);
		if (host != NULL)
			strlcpy(host, value, SPOOL_HOST_MAX + 1);
		return 0;
	default:
		*v = strtonum(value, 0, LLONG_MAX, &errstr);
		if (errstr != NULL)
			return spool__fail(SPOOL_WHY_VALUE, EINVAL);
		return 0;
	}
}

int
spool_config_parse(struct spool_config *cfg, const char *key,
    const char *value)
{
	long long v;
	char *host = NULL;
	int i;

	if ((i = setting(key)) == -1)
		return spool__fail(SPOOL_WHY_KEY, ENOENT);
	if (cfg != NULL && settings[i].type == K_HOST)
		host = (char *)cfg + settings[i].off;
	if (parsevalue(settings[i].type, value, &v, host) == -1)
		return -1;
	if (settings[i].type == K_HOST)
		return 0;
	if (v < settings[i].min || v > settings[i].max)
		return spool__fail(SPOOL_WHY_RANGE, ERANGE);
	if (cfg != NULL)
		*(long long *)(void *)((char *)cfg + settings[i].off) = v;
	return 0;
}

int
spool_config_show(const struct spool_config *cfg, const char *key,
    char *buf, size_t len)
{
	const char *p;
	long long v;
	int i;

	if ((i = setting(key)) == -1)
		return spool__fail(SPOOL_WHY_KEY, ENOENT);
	p = (const char *)cfg + settings[i].off;
	if (settings[i].type == K_HOST) {
		strlcpy(buf, *p != '\0' ? p : "auto", len);
		return 0;
	}
	v = *(const long long *)(const void *)p;
	switch (settings[i].type) {
	case K_SKEW:
		if (v == -1) {
			strlcpy(buf, "auto", len);
			break;
		}
		/* FALLTHROUGH */
	case K_DURATION:
		spool_duration_format(v, buf, len);
		break;
	case K_MS:
		if (v % 1000 == 0)
			spool_duration_format(v / 1000, buf, len);
		else
			snprintf(buf, len, "%lldms", v);
		break;
	case K_LOCKS:
		strlcpy(buf, v == SPOOL_LOCKS_SHARED ? "shared" : "auto", len);
		break;
	default:
		snprintf(buf, len, "%lld", v);
	}
	return 0;
}

/* Strip white space at both ends of s in place. */
static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/*
 * Split one config line into key and value.  Returns 1 for a setting,
 * 0 for a blank or comment line, -1 for a malformed one.
 */
static int
splitline(char *line, char **key, char **value)
{
	char *eq, *hash;

	if ((hash = strchr(line, '#')) != NULL)
		*hash = '\0';
	line = trim(line);
	if (*line == '\0')
		return 0;
	if ((eq = strchr(line, '=')) == NULL)
		return -1;
	*eq = '\0';
	*key = trim(line);
	*value = trim(eq + 1);
	return 1;
}

/* The config file is malformed, as what says: fail, and keep what. */
static int
bad(struct spool *sp, const char *what)
{
	size_t i;

	strlcpy(sp->cfgerr, what, sizeof(sp->cfgerr));
	for (i = 0; sp->cfgerr[i] != '\0'; i++)	/* one printable line */
		if ((unsigned char)sp->cfgerr[i] < ' ' ||
		    sp->cfgerr[i] == 0x7f)
			sp->cfgerr[i] = '?';
	return spool__fail(SPOOL_WHY_CONFIG, EINVAL);
}

const struct spool_config *
spool__config_defaults(void)
{
	return &defaults;
}

const char *
spool_config_error(const struct spool *sp)
{
	return sp->cfgerr[0] != '\0' ? sp->cfgerr : NULL;
}

/* Read the whole config file into a NUL-terminated buffer (NULL: none). */
static int
readconfig(struct spool *sp, char **text)
{
	struct stat st;
	ssize_t n;
	size_t len = 0;
	char *buf;
	int fd, saved;

	*text = NULL;
	sp->cfgino = 0;
	fd = openat(sp->qfd, "config", O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP)	/* a symlink is no config file */
			return bad(sp, "a symbolic link");
		return errno == ENOENT ? 0 : -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	sp->cfgino = st.st_ino;		/* what spool_config_reload() sees */
	sp->cfgmtim = st.st_mtim;
	if (!S_ISREG(st.st_mode) || st.st_size >= CONFIG_MAX) {
		(void)close(fd);
		return bad(sp, S_ISREG(st.st_mode) ? "too large" :
		    "not a regular file");
	}
	if ((buf = malloc(CONFIG_MAX)) == NULL)
		goto fail;
	while ((n = read(fd, buf + len, CONFIG_MAX - 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			free(buf);
			errno = saved;
			goto fail;
		}
		len += (size_t)n;
		if (len == CONFIG_MAX - 1)
			break;
	}
	buf[len] = '\0';
	(void)close(fd);
	if (strlen(buf) != len) {	/* a NUL byte: not a config file */
		free(buf);
		return bad(sp, "a NUL byte");
	}
	*text = buf;
	return 0;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

int
spool__config_read(struct spool *sp)
{
	char *text, *line, *next, *key, *value, what[128];
	int n, lineno = 0, r = 0;

	sp->cfg = defaults;
	sp->cfgerr[0] = '\0';
	if (readconfig(sp, &text) == -1)
		return -1;
	if (text == NULL)
		return 0;
	for (line = text; line != NULL && r == 0; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		if ((n = splitline(line, &key, &value)) == -1) {
			snprintf(what, sizeof(what), "line %d: no '='", lineno);
			r = -1;
		} else if (n == 1 &&
		    spool_config_parse(&sp->cfg, key, value) == -1) {
			snprintf(what, sizeof(what), "line %d: %s: %s", lineno,
			    key, spool_why(errno) == SPOOL_WHY_KEY ?
			    "unknown key" : "invalid value");
			r = -1;
		}
	}
	free(text);
	return r == -1 ? bad(sp, what) : 0;
}

int
spool_config_reload(struct spool *sp)
{
	struct spool_config old = sp->cfg;
	struct stat st;
	int saved;

	if (fstatat(sp->qfd, "config", &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			return -1;
		st.st_ino = 0;
	}
	if (st.st_ino == sp->cfgino && (st.st_ino == 0 ||
	    (st.st_mtim.tv_sec == sp->cfgmtim.tv_sec &&
	    st.st_mtim.tv_nsec == sp->cfgmtim.tv_nsec)))
		return 0;
	if (spool__config_read(sp) == -1) {
		saved = errno;
		sp->cfg = old;		/* a broken file changes nothing */
		errno = saved;
		return -1;
	}
	return 1;
}

/*
 * Writers of the config file are serialised by flock(2) on the queue
 * directory, each reading the file afresh under the lock, so that two
 * of them both keep their change; readers need no lock, as the file is
 * replaced by one rename.
 */
/*
 * The config text with key set to value: its line rewritten in place (a
 * comment on it kept, later duplicates dropped), or added at the end.
 * Allocated, its length in *lenp; NULL on error.
 */
static char *
rewrite(char *text, const char *key, const char *value, size_t *lenp)
{
	char *out, *line, *next, *k, *v, *copy;
	const char *hash;
	size_t cap, len = 0;
	int done = 0;

	cap = (text != NULL ? strlen(text) : 0) + strlen(key) +
	    strlen(value) + 8;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((copy = strdup(line)) == NULL) {
			free(out);
			return NULL;
		}
		if (splitline(copy, &k, &v) != 1 || strcmp(k, key) != 0)
			len += (size_t)snprintf(out + len, cap - len, "%s\n",
			    line);
		else if (!done++) {
			hash = strchr(line, '#');	/* its comment stays */
			len += (size_t)snprintf(out + len, cap - len,
			    "%s = %s%s%s\n", key, value,
			    hash != NULL ? " " : "", hash != NULL ? hash : "");
		}
		free(copy);
	}
	if (!done)
		len += (size_t)snprintf(out + len, cap - len, "%s = %s\n",
		    key, value);
	*lenp = len;
	return out;
}

/* Replace the config file with text, durably: tmp/, rename, fsync. */
static int
install(struct spool *sp, const char *text, size_t len)
{
	struct spool_name tmp;
	int saved;

	if (spool__new_id(sp, &tmp) == -1)
		return -1;
	if (spool__write(sp, sp->dfd[SPOOL_TMP], tmp.name, text, len, -1, 0))
		return -1;
	if (renameat(sp->dfd[SPOOL_TMP], tmp.name, sp->qfd, "config") == -1) {
		saved = errno;
		(void)unlinkat(sp->dfd[SPOOL_TMP], tmp.name, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

int
spool_config_set(struct spool *sp, const char *key, const char *value)
{
	struct spool_config cfg;
	char *text = NULL, *out = NULL;
	size_t len;
	int r = -1, saved;

	if (spool_config_parse(NULL, key, value) == -1)
		return -1;
	if (flock(sp->qfd, LOCK_EX) == -1)
		return -1;
	(void)spool__config_read(sp);	/* the latest, as the base */
	cfg = sp->cfg;
	(void)spool_config_parse(&cfg, key, value);
	/* the first delay would be the longest */
	if (cfg.backoff > cfg.backoff_max) {
		(void)spool__fail(SPOOL_WHY_BACKOFF, ERANGE);
		goto end;
	}
	if (readconfig(sp, &text) == -1 ||
	    (out = rewrite(text, key, value, &len)) == NULL ||
	    install(sp, out, len) == -1)
		goto end;
	sp->cfg = cfg;
	if (spool__fsync_dir(sp->qfd) == -1)
		goto end;
	r = 0;
end:
	saved = errno;
	(void)flock(sp->qfd, LOCK_UN);
	free(out);
	free(text);
	errno = saved;
	return r;
}

const struct spool_config *
spool_config(const struct spool *sp)
{
	return &sp->cfg;
}
