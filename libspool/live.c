/*
 * live.c - liveness locks: which processes of this host are at work in a
 * queue, and whether they are still renewing what they hold.
 *
 * Every process that holds something in a queue beyond a moment holds a
 * liveness lock there: a worker (its claims are marked w=PID@HOST) and a
 * writer (its files in tmp/ are named with its PID and HOST).  The lock is
 * flock(2) on the file live/PID@HOST of the queue, taken before the first
 * claim or tmp/ file exists, and it dies with the process however it dies:
 * so a sweeper that gets the lock exclusively (LOCK_EX|LOCK_NB) knows that
 * no process of that name is alive, and returns its claims and removes its
 * tmp/ files at once.  Holders take it shared, so that several handles of
 * one process can each hold it.
 *
 * Why it cannot be fooled:
 *
 * - It is per process, never per message: a message fanned out by hard
 *   link to several queues is one inode, and a lock on it would be shared
 *   by every queue.  Nothing of the lock reaches a job: the descriptor is
 *   close-on-exec, and a job reads its message through an open of its own.
 *
 * - Removal and re-creation race.  A lock file is unlinked only by a
 *   process that holds it exclusively, and everybody who locks it checks
 *   afterwards that the name still leads to the inode locked (else starts
 *   again).  A sweeper that finds no file creates one and locks that, so
 *   that its verdict "dead" is covered by a lock like any other, and keeps
 *   every lock of a dead process until its pass is over: a new process
 *   that happens to get the same PID cannot make claims meanwhile, and is
 *   judged afresh in the next pass.
 *
 * - PID reuse.  A new worker with the PID of a dead one first tries the
 *   lock exclusively; if it gets it, nobody else uses that name, so claims
 *   with its own w= are the dead one's and its first sweep returns them.
 *   From the end of that look at cur/ (or its first claim) on it holds the
 *   lock shared.
 *
 * - Other PID namespaces with the same host name share file names.  A lock
 *   that two live processes hold shared proves both alive; the dead one's
 *   claims then wait for their lease, never the reverse.
 *
 * - A live but hung worker (SIGSTOP, stuck I/O) keeps its lock but stops
 *   renewing: so a worker also writes a heartbeat into its lock file at
 *   each renewal (its wall clock, CLOCK_MONOTONIC and its lease).  While
 *   the heartbeat is fresh by the monotonic clock, which no one can step,
 *   a sweeper judges the worker's leases by the worker's own wall clock at
 *   its last beat: a step of the sweeper's clock (or a faked one) returns
 *   nothing, and a claim the worker stopped renewing (a failed touch) is
 *   returned once its lease is older than the beat.  A heartbeat older
 *   than the lease plus BEAT_SLACK means a hung worker: its claims expire
 *   by the lease, as if it had no lock.  The heartbeat is beat.c's.
 *
 * - Another machine with our node name shares our file names but neither
 *   our locks nor our clocks.  Its heartbeat carries another boot ID: a
 *   free lock whose last beat is such and still fresh proves nothing, and
 *   the claims wait for their lease (LIVE_TWIN; q(5)).
 *
 * Where locks do not cross hosts or mounts (NFS, FUSE: spool_remote()) a
 * free lock proves nothing, and sweepers ignore liveness altogether,
 * unless the queue's config says locks = shared (NFSv4 with working
 * locks, and a node name of its own for each host).
 *
 * The file is one of the longer ones (about 500 lines) because the lock, its
 * heartbeat and the sweeper's verdict are one protocol whose races are
 * argued above; split, the argument would span files.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

#define LIVE_TRIES	16

static void
lockname(const struct spool *sp, pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "%ld@%s", (long)pid, sp->host);
}

/* Is name in live/ still the file dev, ino?  1, 0, or -1 with errno. */
static int
same(const struct spool *sp, const char *name, dev_t dev, ino_t ino)
{
	struct stat now;

	if (fstatat(sp->livefd, name, &now, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	return now.st_dev == dev && now.st_ino == ino;
}

static int
livedir(struct spool *sp, int create)
{
	if (sp->livefd == -1)
		sp->livefd = spool__subdir(sp, "live", create, NULL);
	return sp->livefd;
}

/*
 * Take our lock: exclusively if *excl and nobody else holds it (*excl
 * says which), shared otherwise.  Opened for writing heartbeats if rw.
 * Returns the descriptor, or -1 with errno.
 */
static int
acquire(struct spool *sp, int rw, int *excl, struct stat *sb)
{
	char name[32 + SPOOL_HOST_MAX];
	int fd, i, saved;

	if (livedir(sp, 1) == -1)
		return -1;
	lockname(sp, spool__pid(), name, sizeof(name));
	for (i = 0; i < LIVE_TRIES; i++) {
		fd = openat(sp->livefd, name, (rw ? O_RDWR : O_RDONLY) |
		    O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, sp->fmode);
		if (fd == -1)
			return -1;
		if (fstat(fd, sb) == -1)
			goto fail;
		if (!S_ISREG(sb->st_mode)) {
			errno = EINVAL;
			goto fail;
		}
		/* the group's sweepers and workers lock it too */
		if (sp->shared && sb->st_uid == geteuid())
			(void)fchmod(fd, sp->fmode);
		if (*excl && flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno != EWOULDBLOCK)
				goto fail;
			*excl = 0;
		}
		if (!*excl && flock(fd, LOCK_SH) == -1)
			goto fail;
		switch (same(sp, name, sb->st_dev, sb->st_ino)) {
		case 1:
			return fd;
		case -1:
			goto fail;
		}
		(void)close(fd);	/* removed as a dead one's: again */
	}
	errno = EAGAIN;
	return -1;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/* Forget a lock inherited across fork(2): it is the parent's. */
static void
inherited(struct spool *sp)
{
	if (sp->lockfd != -1 && sp->lockpid != spool__pid()) {
		(void)close(sp->lockfd);
		sp->lockfd = -1;
	}
}

static int
hold(struct spool *sp, int rw, int excl)
{
	struct stat sb;
	int fd;

	if ((fd = acquire(sp, rw, &excl, &sb)) == -1)
		return -1;
	if (sp->lockfd != -1)
		(void)close(sp->lockfd);	/* a read-only one */
	sp->lockfd = fd;
	sp->lockpid = spool__pid();
	sp->lockdev = sb.st_dev;
	sp->lockino = sb.st_ino;
	sp->lockexcl = excl;
	sp->lockrw = rw;
	sp->beatms = 0;
	return 0;
}

int
spool__live(struct spool *sp)
{
	inherited(sp);
	if (sp->lockfd != -1)
		return 0;
	return hold(sp, 0, 0);
}

int
spool_live(struct spool *sp)
{
	inherited(sp);
	if (sp->lockfd != -1 && sp->lockrw)
		return sp->lockfd;
	return hold(sp, 1, 1) == -1 ? -1 : sp->lockfd;
}

int
spool__live_share(struct spool *sp)
{
	char name[32 + SPOOL_HOST_MAX];

	if (spool_live(sp) == -1)
		return -1;
	if (!sp->lockexcl)
		return 0;
	/* from the first claim on, shared (the conversion is not atomic) */
	if (flock(sp->lockfd, LOCK_SH) == -1)
		return -1;
	sp->lockexcl = 0;
	lockname(sp, sp->lockpid, name, sizeof(name));
	switch (same(sp, name, sp->lockdev, sp->lockino)) {
	case 1:
		return 0;
	case -1:
		return -1;
	}
	return hold(sp, 1, 0);
}

void
spool__live_close(struct spool *sp)
{
	char name[32 + SPOOL_HOST_MAX];

	if (sp->lockfd != -1 && sp->lockpid == spool__pid()) {
		/* the last holder of the name takes the file away */
		lockname(sp, sp->lockpid, name, sizeof(name));
		if (flock(sp->lockfd, LOCK_EX | LOCK_NB) == 0 &&
		    same(sp, name, sp->lockdev, sp->lockino) == 1)
			(void)unlinkat(sp->livefd, name, 0);
	}
	if (sp->lockfd != -1)
		(void)close(sp->lockfd);
	if (sp->livefd != -1)
		(void)close(sp->livefd);
	sp->lockfd = sp->livefd = -1;
}

/*
 * The checking side.
 */

void
spool__check_init(struct livecheck *lc, struct spool *sp, int dryrun)
{
	memset(lc, 0, sizeof(*lc));
	lc->sp = sp;
	lc->dryrun = dryrun;
	spool__hosts(sp, spool_remote(sp), &lc->remote, &lc->skew);
}

/* Read the beat in lock file fd: LIVE_TWIN if of another machine, or 1. */
static int
heard(const struct livecheck *lc, int fd, struct verdict *v)
{
	spool__readbeat(fd, &v->beat);
	return spool__twin(lc->skew, &v->beat) ? LIVE_TWIN : 1;
}

/*
 * Judge the process pid of this host.  Returns 1 (alive: *b its heartbeat,
 * if any), LIVE_TWIN (alive on another machine of our node name:
 * spool__twin()) or 0 (dead: its lock is held until spool__check_done()).
 * When in doubt (a file that cannot be opened or locked), alive: its
 * claims then wait for their lease, which is always safe.  A little over
 * 60 lines: open, lock and check the name again are one try of the race
 * argued above, and read best as one loop.
 */
static int
judge(struct livecheck *lc, pid_t pid, struct verdict *v)
{
	struct spool *sp = lc->sp;
	char name[32 + SPOOL_HOST_MAX];
	struct stat sb;
	int fd, i;

	v->pid = pid;
	v->fd = -1;
	v->alive = 1;
	memset(&v->beat, 0, sizeof(v->beat));
	/* a new worker with a dead one's PID, before its first claim */
	if (pid == spool__pid() && sp->lockfd != -1 && sp->lockpid == pid &&
	    sp->lockexcl) {
		/* the beat in it is not ours yet */
		v->alive = heard(lc, sp->lockfd, v) == LIVE_TWIN ?
		    LIVE_TWIN : 0;
		return v->alive;
	}
	if (livedir(sp, !lc->dryrun) == -1) {
		v->alive = errno != ENOENT;
		return v->alive;
	}
	lockname(sp, pid, name, sizeof(name));
	for (i = 0; i < LIVE_TRIES; i++) {
		/* no file: make one to hold while we act on the verdict */
		fd = openat(sp->livefd, name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC | (lc->dryrun ? 0 : O_CREAT),
		    sp->fmode);
		if (fd == -1) {
			v->alive = errno != ENOENT;
			return v->alive;
		}
		if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode))
			break;
		if (sp->shared && sb.st_uid == geteuid())
			(void)fchmod(fd, sp->fmode);
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK)
				v->alive = heard(lc, fd, v);
			break;
		}
		switch (same(sp, name, sb.st_dev, sb.st_ino)) {
		case 1:
			/* free: dead, unless another machine holds it */
			if ((v->alive = heard(lc, fd, v)) == LIVE_TWIN)
				goto out;
			v->fd = fd;
			v->dev = sb.st_dev;
			v->ino = sb.st_ino;
			v->alive = 0;
			return 0;
		case -1:
			(void)close(fd);
			return 1;
		}
		(void)close(fd);
	}
out:
	if (i < LIVE_TRIES)
		(void)close(fd);
	return v->alive;
}

int
spool__alive(struct livecheck *lc, pid_t pid, struct spool_beat *b)
{
	struct verdict one, *v = &one;
	int i;

	for (i = 0; i < lc->n; i++)
		if (lc->v[i].pid == pid) {
			*b = lc->v[i].beat;
			return lc->v[i].alive;
		}
	/*
	 * Remember the verdict for the pass; a dead one's lock is kept
	 * meanwhile.  Past LIVE_CACHE, judge each time and let go at once.
	 */
	if (lc->n < LIVE_CACHE)
		v = &lc->v[lc->n++];
	(void)judge(lc, pid, v);
	*b = v->beat;
	if (v == &one && v->fd != -1)
		(void)close(v->fd);
	return v->alive;
}

/*
 * Is the claim n of a worker of this host held by a live worker that is
 * still renewing it?  Returns 1 (keep it), 0 (return it: dead worker,
 * *how LIVE_DEAD, or lease expired).  Claims without w=, of other hosts,
 * of another machine of our node name (*how LIVE_TWIN), or on a remote
 * file system (unless locks = shared): by the lease alone, which is given
 * the skew allowed for the clocks of other hosts on both ends.
 */
int
spool__claim_live(struct livecheck *lc, const struct spool_name *n,
    time_t now, int *how)
{
	struct spool_beat b;
	time_t ref = now;

	*how = 0;
	if ((n->attrs & SPOOL_ATTR_WORKER) && !lc->remote &&
	    strcmp(n->whost, lc->sp->host) == 0) {
		switch (spool__alive(lc, n->wpid, &b)) {
		case 0:
			*how = LIVE_DEAD;
			return 0;
		case LIVE_TWIN:	/* its monotonic clock is not ours */
			*how = LIVE_TWIN;
			break;
		default:
			/* renewing: its leases by its clock at its beat */
			if (spool__renewing(&b))
				ref = b.wall;
		}
	}
	return n->lease + lc->skew >= ref &&
	    n->lease <= ref + SPOOL_LEASE_MAX + lc->skew;
}

/* The PID of the writer of a tmp/ file, if it is of this host. */
static int
writer(const struct spool *sp, const struct spool_name *n, pid_t *pid)
{
	const char *p = n->name + 18, *host;	/* past SEC.USEC. */
	long long v = 0;

	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	if (*p != '_' || v <= 0 || v > INT_MAX ||
	    (host = strchr(p, '.')) == NULL)
		return 0;
	host++;
	if ((size_t)(n->name + n->idlen - host) != strlen(sp->host) ||
	    memcmp(host, sp->host, strlen(sp->host)) != 0)
		return 0;
	*pid = (pid_t)v;
	return 1;
}

int
spool__tmp_live(struct livecheck *lc, const struct spool_name *n)
{
	struct spool_beat b;
	pid_t pid;

	if (lc->remote || !writer(lc->sp, n, &pid))
		return -1;
	return spool__alive(lc, pid, &b) != 0;
}

/* Remove the lock files of the dead of this host that nobody judged. */
int
spool__sweep_live(struct livecheck *lc)
{
	struct spool *sp = lc->sp;
	struct spool_beat b;
	struct dirent *de;
	const char *errstr, *at;
	char num[16];
	long long pid;
	DIR *d;

	if (lc->remote || lc->dryrun || livedir(sp, 0) == -1)
		return 0;
	if ((d = spool__fdopendir(sp->livefd)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if ((at = strchr(de->d_name, '@')) == NULL ||
		    strcmp(at + 1, sp->host) != 0 ||
		    (size_t)(at - de->d_name) >= sizeof(num))
			continue;
		memcpy(num, de->d_name, (size_t)(at - de->d_name));
		num[at - de->d_name] = '\0';
		pid = strtonum(num, 1, INT_MAX, &errstr);
		if (errstr == NULL)
			(void)spool__alive(lc, (pid_t)pid, &b);
	}
	(void)closedir(d);
	return 0;
}

void
spool__check_done(struct livecheck *lc)
{
	struct spool *sp = lc->sp;
	char name[32 + SPOOL_HOST_MAX];
	int i;

	for (i = 0; i < lc->n; i++) {
		if (lc->v[i].fd == -1)
			continue;
		lockname(sp, lc->v[i].pid, name, sizeof(name));
		if (!lc->dryrun &&
		    same(sp, name, lc->v[i].dev, lc->v[i].ino) == 1)
			(void)unlinkat(sp->livefd, name, 0);
		(void)close(lc->v[i].fd);
	}
	lc->n = 0;
}

int
spool_check(struct spool *sp)
{
	struct stat q, p;

	if (fstat(sp->qfd, &q) == -1)
		return -1;
	if (q.st_nlink == 0) {
		errno = ENOENT;
		return -1;
	}
	if (sp->path == NULL)
		return 0;
	if (stat(sp->path, &p) == -1) {
		if (errno != ENOENT && errno != ENOTDIR)
			return 0;	/* cannot tell */
		errno = ENOENT;
		return -1;
	}
	if (p.st_dev != q.st_dev || p.st_ino != q.st_ino) {
		errno = ESTALE;
		return -1;
	}
	return 0;
}
