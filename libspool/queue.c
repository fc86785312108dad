/*
 * queue.c - opening and creating queues, and their config.
 *
 * A queue is opened once: its directory, then each state directory with
 * O_DIRECTORY|O_NOFOLLOW relative to it, so a state directory replaced by a
 * symlink is refused rather than followed, and all later work is done with
 * *at() calls on these descriptors.  The state directories must be on the
 * queue's file system, or renames between them would not be atomic.
 *
 * Creating a queue (put does it) is mkdir -p: each directory made is
 * fsynced together with its parent before the first message can be
 * acknowledged, so a power cut cannot lose the queue under a message.
 *
 * The config file is replaced, never edited in place: the new text is
 * written durably into tmp/ and renamed over it.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>

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
	.sync = 1
};

const char *const spool_config_keys[] = {
	"lease", "attempts", "backoff", "backoff-max", "keep-done",
	"keep-failed", "dedup", "sync", NULL
};

enum ktype { K_DURATION, K_COUNT, K_BOOL };

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

int
spool_config_parse(struct spool_config *cfg, const char *key,
    const char *value)
{
	const char *errstr;
	long long v;
	int i;

	if ((i = setting(key)) == -1) {
		errno = ENOENT;
		return -1;
	}
	if (settings[i].type == K_DURATION) {
		if (spool_duration_parse(value, &v) == -1)
			return -1;
	} else {
		v = strtonum(value, 0, LLONG_MAX, &errstr);
		if (errstr != NULL) {
			errno = EINVAL;
			return -1;
		}
	}
	if (v < settings[i].min || v > settings[i].max) {
		errno = ERANGE;
		return -1;
	}
	if (cfg != NULL)
		*(long long *)(void *)((char *)cfg + settings[i].off) = v;
	return 0;
}

int
spool_config_show(const struct spool_config *cfg, const char *key,
    char *buf, size_t len)
{
	long long v;
	int i;

	if ((i = setting(key)) == -1) {
		errno = ENOENT;
		return -1;
	}
	v = *(const long long *)(const void *)
	    ((const char *)cfg + settings[i].off);
	if (settings[i].type == K_DURATION)
		spool_duration_format(v, buf, len);
	else
		snprintf(buf, len, "%lld", v);
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
			errno = EINVAL;
		return errno == ENOENT ? 0 : -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	sp->cfgino = st.st_ino;		/* what spool_config_reload() sees */
	sp->cfgmtim = st.st_mtim;
	if (!S_ISREG(st.st_mode) || st.st_size >= CONFIG_MAX) {
		errno = EINVAL;
		goto fail;
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
		errno = EINVAL;
		return -1;
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
	char *text, *line, *next, *key, *value;
	int r = 0;

	sp->cfg = defaults;
	if (readconfig(sp, &text) == -1)
		return -1;
	if (text == NULL)
		return 0;
	for (line = text; line != NULL && r == 0; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		switch (splitline(line, &key, &value)) {
		case -1:
			r = -1;
			break;
		case 1:
			if (spool_config_parse(&sp->cfg, key, value) == -1)
				r = -1;
			break;
		}
	}
	free(text);
	if (r == -1)
		errno = EINVAL;
	return r;
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
int
spool_config_set(struct spool *sp, const char *key, const char *value)
{
	struct spool_config cfg;
	struct spool_name tmp;
	char *text = NULL, *out = NULL, *line, *next, *k, *v, *copy = NULL;
	size_t cap, len = 0;
	int done = 0, r = -1, saved, n;

	if (spool_config_parse(NULL, key, value) == -1)
		return -1;
	if (flock(sp->qfd, LOCK_EX) == -1)
		return -1;
	(void)spool__config_read(sp);	/* the latest, as the base */
	cfg = sp->cfg;
	(void)spool_config_parse(&cfg, key, value);
	if (readconfig(sp, &text) == -1)
		goto end;
	cap = (text != NULL ? strlen(text) : 0) + strlen(key) +
	    strlen(value) + 8;
	if ((out = malloc(cap)) == NULL)
		goto end;
	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		free(copy);
		if ((copy = strdup(line)) == NULL)
			goto end;
		n = splitline(copy, &k, &v);
		if (n == 1 && strcmp(k, key) == 0) {
			if (done)
				continue;	/* drop later duplicates */
			done = 1;
			len += (size_t)snprintf(out + len, cap - len,
			    "%s = %s\n", key, value);
		} else
			len += (size_t)snprintf(out + len, cap - len, "%s\n",
			    line);
	}
	if (!done)
		len += (size_t)snprintf(out + len, cap - len, "%s = %s\n",
		    key, value);
	if (spool__new_id(sp, &tmp) == -1)
		goto end;
	if (spool__write(sp, sp->dfd[SPOOL_TMP], tmp.name, out, len, -1, 0))
		goto end;
	if (renameat(sp->dfd[SPOOL_TMP], tmp.name, sp->qfd, "config") == -1) {
		saved = errno;
		(void)unlinkat(sp->dfd[SPOOL_TMP], tmp.name, 0);
		errno = saved;
		goto end;
	}
	sp->cfg = cfg;
	if (spool__fsync_dir(sp->qfd) == -1)
		goto end;
	r = 0;
end:
	saved = errno;
	(void)flock(sp->qfd, LOCK_UN);
	free(copy);
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

int
spool_dirfd(const struct spool *sp, enum spool_state st)
{
	return sp->dfd[st];
}

int
spool_remote(const struct spool *sp)
{
	struct statfs sf;

	if (fstatfs(sp->dfd[SPOOL_NEW], &sf) == -1)
		return 0;
	switch ((unsigned long)sf.f_type) {
	case 0x6969UL:		/* NFS */
	case 0x517BUL:		/* SMB */
	case 0xFF534D42UL:	/* CIFS */
	case 0xFE534D42UL:	/* SMB2 */
	case 0x65735546UL:	/* FUSE */
	case 0x00C36400UL:	/* Ceph */
	case 0x01021997UL:	/* 9P */
	case 0x47504653UL:	/* GPFS */
		return 1;
	default:
		return 0;
	}
}

static int
fsync_path(const char *path)
{
	int fd, r, saved;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	saved = errno;
	(void)close(fd);
	errno = saved;
	return r;
}

/*
 * mkdir -p path; every directory made is fsynced, then its parent.
 */
static int
mkpath(const char *path)
{
	char buf[PATH_MAX], *p, *slash, c;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (p[-1] != '/' && mkdir(buf, 0777) == 0) {
			if (fsync_path(buf) == -1)
				return -1;
			if ((slash = strrchr(buf, '/')) == NULL) {
				if (fsync_path(".") == -1)
					return -1;
			} else {
				*slash = '\0';
				if (fsync_path(slash == buf ? "/" : buf) == -1)
					return -1;
				*slash = '/';
			}
		} else if (p[-1] != '/' && errno != EEXIST)
			return -1;
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static void
gethost(char *buf)
{
	char name[256];
	size_t i;

	if (gethostname(name, sizeof(name)) == -1 || name[0] == '\0')
		strlcpy(name, "localhost", sizeof(name));
	name[sizeof(name) - 1] = '\0';
	for (i = 0; name[i] != '\0' && i < SPOOL_HOST_MAX; i++) {
		char c = name[i];

		buf[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-') ? c : '-';
	}
	buf[i] = '\0';
}

/*
 * Open (with create, make first) the directory name of the queue, refusing
 * a symlink and a directory on another file system.  A directory made in a
 * group-writable queue gets the queue's mode, and is fsynced; *made tells.
 */
int
spool__subdir(struct spool *sp, const char *name, int create, int *made)
{
	struct stat st;
	int fd, mk = 0, saved;

	/* open first: the directory is there but when a queue is new */
	fd = openat(sp->qfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && create) {
		mk = mkdirat(sp->qfd, name, 0777) == 0;
		if (!mk && errno != EEXIST)
			return -1;
		fd = openat(sp->qfd, name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd == -1) {
		if (errno == ELOOP)
			errno = ENOTDIR;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (st.st_dev != sp->dev) {
		errno = EXDEV;
		goto fail;
	}
	/* in a shared queue new directories are shared too */
	if (mk && sp->shared && fchmod(fd, sp->qmode) == -1)
		goto fail;
	if (mk && fsync(fd) == -1)
		goto fail;
	if (made != NULL)
		*made |= mk;
	return fd;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/* Open the queue path, relative to dfd, with every state directory. */
struct spool *
spool__openat(int dfd, const char *path, int flags)
{
	struct spool *sp;
	struct stat qst;
	int i, made = 0, saved;

	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		return NULL;
	sp->qfd = sp->kfd = sp->nfd = sp->livefd = sp->lockfd = -1;
	for (i = 0; i < SPOOL_NSTATES; i++)
		sp->dfd[i] = -1;
	sp->qfd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->qfd == -1 && errno == ENOENT && (flags & SPOOL_OPEN_CREATE)) {
		if (mkpath(path) == -1)
			goto fail;
		sp->qfd = openat(dfd, path, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	}
	if (sp->qfd == -1)
		goto fail;
	if (fstat(sp->qfd, &qst) == -1)
		goto fail;
	sp->dev = qst.st_dev;
	sp->qmode = qst.st_mode & 07777;
	sp->fmode = qst.st_mode & 0666;
	sp->shared = (qst.st_mode & S_IWGRP) != 0;
	for (i = 0; i < SPOOL_NSTATES; i++)
		if ((sp->dfd[i] = spool__subdir(sp, spool_state_name(i),
		    flags & SPOOL_OPEN_CREATE, &made)) == -1)
			goto fail;
	if (made && fsync(sp->qfd) == -1)
		goto fail;
	gethost(sp->host);
	if (spool__config_read(sp) == -1)
		goto fail;
	return sp;
fail:
	saved = errno;
	spool_close(sp);
	errno = saved;
	return NULL;
}

struct spool *
spool_open(const char *path, int flags)
{
	struct spool *sp;

	if ((sp = spool__openat(AT_FDCWD, path, flags)) == NULL)
		return NULL;
	if ((sp->path = strdup(path)) == NULL) {
		spool_close(sp);
		errno = ENOMEM;
		return NULL;
	}
	return sp;
}

void
spool_close(struct spool *sp)
{
	int i;

	if (sp == NULL)
		return;
	spool__live_close(sp);
	for (i = 0; i < SPOOL_NSTATES; i++)
		if (sp->dfd[i] != -1)
			(void)close(sp->dfd[i]);
	if (sp->kfd != -1)
		(void)close(sp->kfd);
	if (sp->qfd != -1)
		(void)close(sp->qfd);
	if (sp->nfd != -1)
		(void)close(sp->nfd);
	free(sp->cand);
	free(sp->names);
	free(sp->urgent);
	free(sp->path);
	free(sp);
}

/* A directory stream of its own over the directory dfd, from its start. */
DIR *
spool__fdopendir(int dfd)
{
	DIR *d;
	int fd, saved;

	if ((fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return NULL;
	}
	rewinddir(d);
	return d;
}

DIR *
spool__opendir(struct spool *sp, enum spool_state st)
{
	return spool__fdopendir(sp->dfd[st]);
}

int
spool__is_regular(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type == DT_REG)
		return 1;
	if (de->d_type != DT_UNKNOWN)
		return 0;
	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	return S_ISREG(st.st_mode);
}

int
spool__valid_in(enum spool_state st, const struct spool_name *n)
{
	switch (st) {
	case SPOOL_TMP:
		return n->attrs == 0;
	case SPOOL_NEW:
		return (n->attrs & (SPOOL_ATTR_LEASE | SPOOL_ATTR_WORKER)) == 0;
	case SPOOL_CUR:
		return (n->attrs & SPOOL_ATTR_LEASE) != 0;
	default:
		return (n->attrs & (SPOOL_ATTR_DUE | SPOOL_ATTR_LEASE |
		    SPOOL_ATTR_WORKER)) == 0;
	}
}
