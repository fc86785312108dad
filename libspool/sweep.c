/*
 * sweep.c - housekeeping: expired leases, dead workers, old files.
 *
 * A claim whose lease has passed goes back to new/ (or to failed/ when it
 * has used up its attempts) by one rename of its exact name: if its worker
 * acks or touches it meanwhile, one of the two renames fails with ENOENT
 * and the other wins, so the message is never in two places.  A lease
 * further ahead than SPOOL_LEASE_MAX is forged and counts as expired.
 *
 * A claim marked w=PID@HOST with this host's name is checked at once,
 * whatever its lease: the sweeper opens it (O_NONBLOCK, regular files only)
 * and tries flock(LOCK_EX|LOCK_NB).  A live worker took that lock before
 * the claim existed in cur/ and holds it until the claim leaves cur/, so
 * getting it proves the worker is gone (killed, crashed, OOM); the lock is
 * kept while the claim is moved back.  Process IDs are never consulted:
 * they are reused, and a worker in a container has its own.
 *
 * tmp/ files older than 36 hours (by mtime) are remains of crashed writers
 * and are removed; done/ and failed/ messages are removed when they have
 * been there (by ctime, which the rename into the state set) longer than
 * keep-done and keep-failed.  Names that do not parse, and non-regular
 * files, are foreign: reported, never touched.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

struct sweep {
	struct spool	*sp;
	unsigned	 flags;
	spool_report_fn	*report;
	void		*arg;
	time_t		 now;
	int		 actions;
};

static void
report(struct sweep *w, enum spool_event ev, enum spool_state st,
    const char *name, int errnum)
{
	if (ev != SPOOL_EV_FOREIGN && ev != SPOOL_EV_ERROR)
		w->actions++;
	if (w->report != NULL)
		w->report(w->arg, ev, st, name, errnum);
}

/* Send the expired or orphaned claim n back to new/ or on to failed/. */
static void
expire(struct sweep *w, const struct spool_name *n, enum spool_event why)
{
	struct spool *sp = w->sp;
	struct spool_name dst = *n;
	enum spool_state to = SPOOL_NEW;

	dst.attrs &= ~(SPOOL_ATTR_LEASE | SPOOL_ATTR_WORKER);
	if ((long long)n->attempts >= sp->cfg.attempts) {
		to = SPOOL_FAILED;
		why = SPOOL_EV_EXHAUSTED;
	}
	if (spool_name_format(&dst) == -1) {
		report(w, SPOOL_EV_ERROR, SPOOL_CUR, n->name, errno);
		return;
	}
	if (!(w->flags & SPOOL_SWEEP_DRYRUN) &&
	    spool__move(sp, sp->dfd[SPOOL_CUR], n->name, sp->dfd[to],
	    dst.name) == -1) {
		if (errno != ENOENT)	/* ENOENT: its worker was quicker */
			report(w, SPOOL_EV_ERROR, SPOOL_CUR, n->name, errno);
		return;
	}
	report(w, why, SPOOL_CUR, n->name, 0);
}

/*
 * Is the worker that claimed n gone?  On success the lock is held on *fdp,
 * to be closed after the claim was moved.
 */
static int
orphaned(struct sweep *w, const struct spool_name *n, int *fdp)
{
	struct stat st;
	int fd;

	*fdp = -1;
	if (!(n->attrs & SPOOL_ATTR_WORKER) ||
	    strcmp(n->whost, w->sp->host) != 0)
		return 0;
	fd = openat(w->sp->dfd[SPOOL_CUR], n->name, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    flock(fd, LOCK_EX | LOCK_NB) == -1) {
		(void)close(fd);
		return 0;
	}
	*fdp = fd;
	return 1;
}

/* Remove st/name, which has outlived its time there. */
static void
discard(struct sweep *w, enum spool_state st, const char *name,
    enum spool_event ev)
{
	if (!(w->flags & SPOOL_SWEEP_DRYRUN) &&
	    unlinkat(w->sp->dfd[st], name, 0) == -1) {
		if (errno != ENOENT)	/* gone meanwhile: not ours to do */
			report(w, SPOOL_EV_ERROR, st, name, errno);
		return;
	}
	report(w, ev, st, name, 0);
}

static int
sweepdir(struct sweep *w, enum spool_state st)
{
	struct spool *sp = w->sp;
	struct spool_name n;
	struct dirent *de;
	struct stat sb;
	long long keep = 0;
	DIR *d;
	int fd, saved;

	if (st == SPOOL_DONE)
		keep = sp->cfg.keep_done;
	else if (st == SPOOL_FAILED)
		keep = sp->cfg.keep_failed;
	if ((d = spool__opendir(sp, st)) == NULL)
		return -1;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			goto next;
		if (spool_name_parse(de->d_name, &n) == -1 ||
		    !spool__valid_in(st, &n) ||
		    !spool__is_regular(sp->dfd[st], de)) {
			if (st != SPOOL_TMP)
				report(w, SPOOL_EV_FOREIGN, st, de->d_name, 0);
			goto next;
		}
		switch (st) {
		case SPOOL_TMP:
			/* by mtime: how long ago its writer last wrote */
			if (fstatat(sp->dfd[st], n.name, &sb,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
			    sb.st_mtime <= w->now - SPOOL_TMP_MAXAGE)
				discard(w, st, n.name, SPOOL_EV_TMP);
			break;
		case SPOOL_CUR:
			if (n.lease < w->now ||
			    n.lease > w->now + SPOOL_LEASE_MAX)
				expire(w, &n, SPOOL_EV_EXPIRED);
			else if (orphaned(w, &n, &fd)) {
				expire(w, &n, SPOOL_EV_DEAD);
				(void)close(fd);
			}
			break;
		case SPOOL_DONE:
		case SPOOL_FAILED:
			if (keep == 0 && st == SPOOL_FAILED)
				break;	/* keep-failed 0: forever */
			/* by ctime: since the rename into this state */
			if (fstatat(sp->dfd[st], n.name, &sb,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
			    sb.st_ctime <= w->now - keep)
				discard(w, st, n.name, SPOOL_EV_PURGED);
			break;
		default:
			break;
		}
next:
		errno = 0;
	}
	saved = errno;
	(void)closedir(d);
	errno = saved;
	return saved != 0 ? -1 : 0;
}

static void
keyreport(void *arg, const char *hash, int errnum)
{
	struct sweep *w = arg;
	char name[SPOOL_KEY_HASHLEN + 6];

	snprintf(name, sizeof(name), "keys/%s", hash);
	report(w, errnum ? SPOOL_EV_ERROR : SPOOL_EV_KEY, SPOOL_TMP, name,
	    errnum);
}

int
spool_sweep(struct spool *sp, unsigned flags, spool_report_fn *fn, void *arg)
{
	struct sweep w;
	int st;

	memset(&w, 0, sizeof(w));
	w.sp = sp;
	w.flags = flags;
	w.report = fn;
	w.arg = arg;
	w.now = spool__now();
	for (st = SPOOL_TMP; st < SPOOL_NSTATES; st++)
		if (sweepdir(&w, (enum spool_state)st) == -1)
			return -1;
	if (spool__sweep_keys(sp, flags & SPOOL_SWEEP_DRYRUN, w.now,
	    keyreport, &w) == -1)
		return -1;
	return w.actions;
}
