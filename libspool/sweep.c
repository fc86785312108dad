/*
 * sweep.c - housekeeping: expired leases, dead workers, old files.
 *
 * A claim whose lease has passed goes back to new/ (or to failed/ when it
 * has used up its attempts) by one rename of its exact name: if its worker
 * acks or touches it meanwhile, one of the two renames fails with ENOENT
 * and the other wins, so the message is never in two places.  A lease
 * further ahead than SPOOL_LEASE_MAX is forged and counts as expired.
 *
 * A claim marked w=PID@HOST with this host's name is judged by its
 * worker's liveness lock (live.c), whatever its lease: a dead worker's
 * claims go back at once, and the lock is held until the pass is over, so
 * no new process of that name can claim meanwhile.  A live worker that is
 * still renewing has its leases judged by its own clock, so a step of ours
 * returns nothing of it.  Process IDs alone are never trusted: they are
 * reused, and a worker in a container has its own.
 *
 * fan/ holds a topic's messages between their commit and their delivery
 * to the subscribers (topic.c): a dead writer's are delivered.
 *
 * tmp/ files are the work of writers: one of this host that is dead has
 * its files removed at once, one that is alive never, however old; files
 * of other hosts (or on a file system where locks prove nothing) are
 * removed once their mtime is 36 hours old.  done/ and failed/ messages
 * are removed when they have been there (by the mtime set as they moved
 * there: spool__stamp()) longer than keep-done and keep-failed.  Names
 * that do not parse, and non-regular files, are foreign: reported, never
 * touched.
 */
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
	struct livecheck lc;
};

static void
report(struct sweep *w, enum spool_event ev, enum spool_state st,
    const char *name, int errnum)
{
	if (ev != SPOOL_EV_FOREIGN && ev != SPOOL_EV_ERROR &&
	    ev != SPOOL_EV_TWIN)
		w->actions++;
	if (w->report != NULL)
		w->report(w->arg, ev, st, name, errnum);
}

/*
 * Is the claim n one name of a message that a mover of the link + unlink
 * fallback left under two (mend.c)?  Then its move is finished instead:
 * 1 if n was its source and is gone, 0 if n stays, 2 if its worker moved
 * it meanwhile, -1.
 */
static int
mend(struct sweep *w, const struct spool_name *n)
{
	struct stat sb;
	int mended = 0;
	unsigned all = 1U << SPOOL_NEW | 1U << SPOOL_CUR | 1U << SPOOL_DONE |
	    1U << SPOOL_FAILED;

	if (fstatat(w->sp->dfd[SPOOL_CUR], n->name, &sb,
	    AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 2 : -1;
	if (sb.st_nlink < 2)
		return 0;
	return spool__mend(w->sp, SPOOL_CUR, n, &sb, all, &mended);
}

/* Send the expired or orphaned claim n back to new/ or on to failed/. */
static void
expire(struct sweep *w, const struct spool_name *n, enum spool_event why)
{
	struct spool *sp = w->sp;
	struct spool_name dst = *n;
	enum spool_state to = SPOOL_NEW;

	dst.attrs &= ~(SPOOL_ATTR_LEASE | SPOOL_ATTR_WORKER);
	if ((long long)(n->attempts - n->base) >= sp->cfg.attempts) {
		to = SPOOL_FAILED;
		why = SPOOL_EV_EXHAUSTED;
	}
	if (spool_name_format(&dst) == -1) {
		report(w, SPOOL_EV_ERROR, SPOOL_CUR, n->name, errno);
		return;
	}
	switch (w->flags & SPOOL_SWEEP_DRYRUN ? 0 : mend(w, n)) {
	case 1:		/* the end of a move left half done */
		report(w, SPOOL_EV_MENDED, SPOOL_CUR, n->name, 0);
		return;
	case 2:		/* its worker was quicker */
		return;
	case -1:
		report(w, SPOOL_EV_ERROR, SPOOL_CUR, n->name, errno);
		return;
	}
	if (!(w->flags & SPOOL_SWEEP_DRYRUN) && to == SPOOL_FAILED)
		spool__stamp(sp->dfd[SPOOL_CUR], n->name, 0);
	if (!(w->flags & SPOOL_SWEEP_DRYRUN) &&
	    spool__move(sp, sp->dfd[SPOOL_CUR], n->name, sp->dfd[to],
	    dst.name) == -1) {
		if (errno != ENOENT)	/* ENOENT: its worker was quicker */
			report(w, SPOOL_EV_ERROR, SPOOL_CUR, n->name, errno);
		return;
	}
	report(w, why, SPOOL_CUR, n->name, 0);
}

/* Remove st/name, which has outlived its time there. */
static void
discard(struct sweep *w, enum spool_state st, const char *name,
    enum spool_event ev)
{
	if (!(w->flags & SPOOL_SWEEP_DRYRUN) &&
	    unlinkat(w->sp->dfd[st], name, 0) == -1) {
		/* gone meanwhile, or held open (EBUSY: an NFS client's
		 * hidden file): not ours to do now */
		if (errno != ENOENT && errno != EBUSY)
			report(w, SPOOL_EV_ERROR, st, name, errno);
		return;
	}
	report(w, ev, st, name, 0);
}

/* Whether dfd/name has not changed for age seconds (by its mtime). */
static int
older(const struct sweep *w, int dfd, const char *name, long long age)
{
	struct stat sb;

	return fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    sb.st_mtime <= w->now - age;
}

/*
 * A name that a remote file system gives a file removed while a client
 * has it open (NFS .nfsXXXX, FUSE .fuse_hiddenXXXX) goes when the client
 * closes the file, and stays if the client crashed.  Remove it once
 * nothing changed it (its ctime: the hiding rename) for SPOOL_TMP_MAXAGE;
 * an NFS client refuses (EBUSY) while it still has the file open itself.
 */
static void
hidden(struct sweep *w, enum spool_state st, const char *name)
{
	struct stat sb;

	if ((strncmp(name, ".nfs", 4) != 0 &&
	    strncmp(name, ".fuse_hidden", 12) != 0) ||
	    fstatat(w->sp->dfd[st], name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(sb.st_mode) || sb.st_ctime > w->now - SPOOL_TMP_MAXAGE)
		return;
	discard(w, st, name, SPOOL_EV_TMP);
}

/* What a sweep does to the message n of state st, keep the retention. */
static void
sweepone(struct sweep *w, enum spool_state st, const struct spool_name *n,
    long long keep)
{
	int how, dfd = w->sp->dfd[st];

	switch (st) {
	case SPOOL_TMP:
		switch (spool__tmp_live(&w->lc, n)) {
		case 0:		/* its writer of this host is gone */
			discard(w, st, n->name, SPOOL_EV_WRITER);
			break;
		case -1:	/* another host's: by age */
			if (older(w, dfd, n->name, SPOOL_TMP_MAXAGE))
				discard(w, st, n->name, SPOOL_EV_TMP);
			break;
		}
		break;
	case SPOOL_CUR:
		if (!spool__claim_live(&w->lc, n, w->now, &how))
			expire(w, n, how == LIVE_DEAD ? SPOOL_EV_DEAD :
			    SPOOL_EV_EXPIRED);
		else if (how == LIVE_TWIN)
			report(w, SPOOL_EV_TWIN, st, n->name, 0);
		break;
	case SPOOL_DONE:
	case SPOOL_FAILED:
		/* keep-failed 0 is forever; the mtime is the move's time */
		if ((keep > 0 || st == SPOOL_DONE) &&
		    older(w, dfd, n->name, keep))
			discard(w, st, n->name, SPOOL_EV_PURGED);
		break;
	default:
		break;
	}
}

static int
sweepdir(struct sweep *w, enum spool_state st)
{
	struct spool *sp = w->sp;
	struct spool_name n;
	struct dirent *de;
	long long keep = 0;
	DIR *d;
	int saved;

	if (st == SPOOL_DONE)
		keep = sp->cfg.keep_done;
	else if (st == SPOOL_FAILED)
		keep = sp->cfg.keep_failed;
	if ((d = spool__opendir(sp, st)) == NULL)
		return -1;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			hidden(w, st, de->d_name);
		else if (spool_name_parse(de->d_name, &n) == -1 ||
		    !spool__valid_in(st, &n) ||
		    !spool__is_regular(sp->dfd[st], de)) {
			if (st != SPOOL_TMP)
				report(w, SPOOL_EV_FOREIGN, st, de->d_name, 0);
		} else
			sweepone(w, st, &n, keep);
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
	int st, r, n = 0, saved;

	memset(&w, 0, sizeof(w));
	w.sp = sp;
	w.flags = flags;
	w.report = fn;
	w.arg = arg;
	w.now = spool__now();
	spool__check_init(&w.lc, sp, flags & SPOOL_SWEEP_DRYRUN);
	/*
	 * First what liveness decides: the locks of the dead are held from
	 * their verdict until their claims and files are dealt with, and
	 * not a moment longer (a new process with such a PID waits for them).
	 */
	r = sweepdir(&w, SPOOL_TMP);
	if (r == 0 && (n = spool__sweep_fan(&w.lc, w.now, fn, arg)) == -1)
		r = -1;
	if (n > 0)
		w.actions += n;
	if (r == 0)
		r = sweepdir(&w, SPOOL_CUR);
	spool__check_done(&w.lc);
	/* a new worker's own predecessor is dealt with: share the lock */
	if (sp->lockexcl && spool__live_share(sp) == -1)
		r = -1;
	if (flags & SPOOL_SWEEP_CLAIMS)
		return r == -1 ? -1 : w.actions;
	for (st = SPOOL_NEW; st < SPOOL_NSTATES && r == 0; st++)
		if (st != SPOOL_CUR)
			r = sweepdir(&w, (enum spool_state)st);
	if (r == 0 && (spool__sweep_live(&w.lc) == -1 ||
	    spool__sweep_keys(sp, flags & SPOOL_SWEEP_DRYRUN, w.now,
	    keyreport, &w) == -1))
		r = -1;
	saved = errno;
	spool__check_done(&w.lc);
	errno = saved;
	return r == -1 ? -1 : w.actions;
}
