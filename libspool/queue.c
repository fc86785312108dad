/*
 * queue.c - opening and creating queues.
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
 * The config file is config.c's.
 */
#include <sys/stat.h>
#include <sys/vfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

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

/*
 * What other hosts mean for judging the claims of the queue, remote if it
 * is on a remote file system (spool_remote()): *blind if a free liveness
 * lock proves nothing (remote, unless locks = shared), and the seconds
 * *skew allowed for their clocks (skew, or when it is auto,
 * SPOOL_SKEW_REMOTE on a remote file system and 0 locally).
 */
void
spool__hosts(const struct spool *sp, int remote, int *blind,
    long long *skew)
{
	*blind = remote && sp->cfg.locks != SPOOL_LOCKS_SHARED;
	*skew = sp->cfg.skew >= 0 ? sp->cfg.skew :
	    remote ? SPOOL_SKEW_REMOTE : 0;
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
	for (i = 0; name[i] != '\0' && i < SPOOL_HOST_MAX; i++)
		buf[i] = spool__ishostc((unsigned char)name[i]) ? name[i] : '-';
	buf[i] = '\0';
}

int
spool_set_host(struct spool *sp, const char *name)
{
	if (spool__host_check(name) == -1)
		return spool__fail(SPOOL_WHY_HOST, EINVAL);
	strlcpy(sp->host, name, sizeof(sp->host));
	return 0;
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
		(void)spool__fail(SPOOL_WHY_SPLIT, EXDEV);
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

/*
 * Whether the open directory may become a queue: it holds nothing but what
 * a queue holds (empty, or a queue whose making was cut short).
 */
static int
adoptable(int qfd)
{
	struct dirent *de;
	DIR *d;
	int fd, ok = 1;

	if ((fd = openat(qfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while (ok == 1 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			ok = spool__known(qfd, de->d_name);
	(void)closedir(d);
	return ok;
}

/*
 * Open (or make) every state directory.  A directory that lacks one is
 * not a queue; it is made one only when asked to and when it holds
 * nothing else, so "q put /etc" changes nothing.
 */
static int
opendirs(struct spool *sp, int create, int *made)
{
	int i, ok, looked = 0;

	for (i = 0; i < SPOOL_NSTATES; i++) {
		if ((sp->dfd[i] = spool__subdir(sp, spool_state_name(i), 0,
		    made)) != -1)
			continue;
		if (errno != ENOENT)
			return -1;
		if (!create)	/* not yet one, or never to be one? */
			return spool__fail(adoptable(sp->qfd) == 1 ?
			    SPOOL_WHY_UNMADE : SPOOL_WHY_NOTQUEUE, ENOENT);
		/* one missing: may this directory become a queue at all? */
		if (!looked++ && (ok = adoptable(sp->qfd)) != 1)
			return ok == -1 ? -1 :
			    spool__fail(SPOOL_WHY_NOTQUEUE, ENOTEMPTY);
		if ((sp->dfd[i] = spool__subdir(sp, spool_state_name(i), 1,
		    made)) == -1)
			return -1;
	}
	return 0;
}

/* Open the queue path, relative to dfd, with every state directory. */
struct spool *
spool__openat(int dfd, const char *path, int flags)
{
	struct spool *sp;
	struct stat qst;
	enum spool_why why;
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
	if (opendirs(sp, flags & SPOOL_OPEN_CREATE, &made) == -1)
		goto fail;
	if (made && fsync(sp->qfd) == -1)
		goto fail;
	if (spool__config_read(sp) == -1) {
		/* the defaults, and the error kept for spool_config_error() */
		if (!(flags & SPOOL_OPEN_ANYCONFIG) ||
		    spool_why(errno) != SPOOL_WHY_CONFIG)
			goto fail;
		sp->cfg = *spool__config_defaults();
	}
	/* the node name: the config's, else the host name */
	if (sp->cfg.host[0] != '\0')
		strlcpy(sp->host, sp->cfg.host, sizeof(sp->host));
	else
		gethost(sp->host);
	return sp;
fail:
	saved = errno;
	/* the config's reason, or what a missing directory means here */
	if ((why = spool_why(saved)) == SPOOL_WHY_SYSTEM)
		why = saved == ENOENT ? SPOOL_WHY_NOQUEUE :
		    saved == ENOTDIR ? SPOOL_WHY_NOTQUEUE : SPOOL_WHY_SYSTEM;
	spool_close(sp);
	(void)spool__fail(why, saved);
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
