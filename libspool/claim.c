/*
 * claim.c - claiming messages: new/ -> cur/ (finding them again: find.c).
 *
 * A claim is one rename of new/NAME to cur/NAME,a=N,l=EXPIRY: of several
 * claimants exactly one rename succeeds, the others get ENOENT and try the
 * next candidate.  The lease expiry is in the name, so a claim needs no
 * other record, and the exact name is the compare-and-swap token of every
 * later transition.
 *
 * A worker marks its claims w=PID@HOST: from before its first claim it
 * holds its liveness lock (live.c), so that a sweeper can tell a live
 * worker from a dead one at every instant.  Nothing is locked on the
 * message itself: a message fanned out by hard link to several queues is
 * one inode, and each queue claims it independently.  With
 * SPOOL_CLAIM_OPEN the file is opened before the rename, so the
 * descriptor reads what was claimed, whatever renames follow.
 *
 * One scan of new/ keeps the best ready candidates (cand.c); later claims
 * through the same handle take from them, best first, with the urgent
 * arrivals heard since (arrive.c) ahead of them, and rescan when they run
 * out, or on a timer where arrivals cannot be heard.  A claimant that
 * loses a race skips a random few candidates ahead, so workers that
 * scanned alike spread out instead of stampeding the same files.  Entries
 * that do not parse, are not regular files, or are delayed are never
 * candidates.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

static int
scan(struct spool *sp, time_t now)
{
	struct spool_name n;
	struct dirent *de;
	DIR *d;
	long long start = spool__mono_ms();
	int saved;

	/* from the second scan on: a long-lived claimant (arrive.c) */
	if (sp->nscans < 2 && ++sp->nscans == 2)
		(void)spool__watch(sp);
	spool__hear(sp, now);	/* what came before is in the scan */
	spool__cand_reset(sp);
	if ((d = spool__opendir(sp, SPOOL_NEW)) == NULL)
		return -1;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    spool__cand_hopeless(sp, de->d_name) ||
		    spool_name_parse(de->d_name, &n) == -1 ||
		    !spool__valid_in(SPOOL_NEW, &n) ||
		    spool__cand_delayed(sp, &n, now))
			goto next;
		if (spool__is_regular(sp->dfd[SPOOL_NEW], de) &&
		    spool__cand_add(sp, &n) == -1)
			break;
next:
		errno = 0;
	}
	saved = errno;
	(void)closedir(d);
	if (saved != 0) {
		sp->ncand = 0;
		errno = saved;
		return -1;
	}
	spool__cand_sort(sp);
	sp->scanned = spool__mono_ms();
	sp->scancost = sp->scanned - start;
	return 0;
}

/*
 * Is the candidate list stale?  Rescanning costs a read of all of new/,
 * so it is done at most once a second (once a poll without a watch on
 * new/), and never more than a twentieth of the time, however large new/
 * is.  Without a watch on new/ that is how often; with one, only when
 * events were lost, when a delayed message fell due, or after a minute.
 */
static int
stale(const struct spool *sp, long long mono)
{
	long long age = mono - sp->scanned;

	if (age < (sp->nfd == -1 ? sp->cfg.poll : 1000) ||
	    age < 20 * sp->scancost)
		return 0;
	if (sp->nfd == -1 || sp->lost || age >= 60000)
		return 1;
	return sp->next_due != 0 && spool__now() >= sp->next_due;
}

/*
 * The claim n, just made, was paused or outlived part of its lease before
 * it existed (the rename was slow): give it back to new/ as name, or
 * renew it so that its lease counts from now.  Returns 0, or 3 (given
 * back: the queue is paused).
 */
static int
settle(struct spool *sp, const char *name, const struct spool_claimopt *opt,
    struct spool_name *n)
{
	struct spool_name late = *n;
	time_t now;

	/* a pause that returned before the claim was made wins */
	if (spool_paused(sp)) {
		(void)spool__move(sp, sp->dfd[SPOOL_CUR], n->name,
		    sp->dfd[SPOOL_NEW], name);
		return 3;
	}
	if ((now = spool__now()) + (time_t)opt->lease > n->lease) {
		late.lease = now + (time_t)opt->lease;
		if (spool_name_format(&late) == 0 && spool__move(sp,
		    sp->dfd[SPOOL_CUR], n->name, sp->dfd[SPOOL_CUR],
		    late.name) == 0)
			*n = late;
	}
	return 0;
}

/*
 * Make name n a claim's: one more attempt, a lease, no delay, and the
 * worker's PID and node name if it gave one.  The lease's time is set
 * by the caller, right before the move.
 */
static void
claimant(const struct spool *sp, const struct spool_claimopt *opt,
    struct spool_name *n)
{
	if (n->attempts < INT_MAX)
		n->attempts++;
	n->attrs |= SPOOL_ATTR_ATTEMPTS | SPOOL_ATTR_LEASE;
	n->attrs &= ~SPOOL_ATTR_DUE;
	if (opt->wpid > 0) {
		n->attrs |= SPOOL_ATTR_WORKER;
		n->wpid = opt->wpid;
		memcpy(n->whost, sp->host, sizeof(n->whost));
	}
}

/*
 * Try to claim new/name.  Returns 1 (ours), 0 (somebody else claimed it),
 * 2 (not claimable: not a regular file), 3 (the queue was paused), -1.
 * The lease counts from the moment the claim is made: its time is taken
 * just before the rename, and the claim renewed if the rename took long.
 * mono is spool__mono_ms() at the start of the claim, for the heartbeat.
 */
static int
take(struct spool *sp, const char *name, const struct spool_claimopt *opt,
    struct spool_msg *m, long long mono)
{
	struct spool_name n;
	struct stat st;
	int fd = -1, saved;

	if (spool_name_parse(name, &n) == -1)
		return 0;
	claimant(sp, opt, &n);
	if (opt->flags & SPOOL_CLAIM_OPEN) {
		fd = openat(sp->dfd[SPOOL_NEW], name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC);
		if (fd == -1)
			return errno == ENOENT || errno == ELOOP ? 0 : -1;
		if (fstat(fd, &st) == -1)
			goto fail;
		if (!S_ISREG(st.st_mode))
			goto busy;
	}
	n.lease = spool__now() + (time_t)opt->lease;
	if (spool_name_format(&n) == -1)
		goto lost;
	if (spool__move(sp, sp->dfd[SPOOL_NEW], name, sp->dfd[SPOOL_CUR],
	    n.name) == -1) {
		if (errno == ENOENT)
			goto lost;
		goto fail;
	}
	if (settle(sp, name, opt, &n) == 3) {
		if (fd != -1)
			(void)close(fd);
		return 3;
	}
	m->n = n;
	m->fd = fd;
	if (opt->wpid != 0)
		spool__beat(sp, opt->lease, mono);
	return 1;
lost:
	if (fd != -1)
		(void)close(fd);
	return 0;
busy:
	(void)close(fd);
	return 2;
fail:
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	errno = saved;
	return -1;
}

int
spool_claim(struct spool *sp, const struct spool_claimopt *opt,
    struct spool_msg *m)
{
	char name[SPOOL_NAME_MAX + 1];
	const char *next;
	time_t now;
	long long mono;
	int r, urgent, fresh = 0, progress = 0;

	if (opt->lease < 1 || opt->lease > SPOOL_LEASE_MAX ||
	    (opt->wpid != 0 && opt->wpid != spool__pid())) {
		errno = EINVAL;
		return -1;
	}
	if (spool_paused(sp))
		return 0;
	/* a worker's claims exist only while its liveness lock does */
	if (opt->wpid != 0 && spool__live_share(sp) == -1)
		return -1;
	now = spool__now();
	mono = spool__mono_ms();	/* a system call: once per claim */
	spool__hear(sp, now);
	for (;;) {
		if (!spool__cand_left(sp) || stale(sp, mono)) {
			/*
			 * Scan again only if others made progress since our
			 * own last scan: candidates that were merely busy
			 * would be found busy again.
			 */
			if (fresh && !progress)
				return 0;
			if (scan(sp, now) == -1)
				return -1;
			if (sp->ncand == 0)
				return 0;
			fresh = 1;
			progress = 0;
		}
		while ((next = spool__cand_next(sp, name, &urgent)) != NULL) {
			r = take(sp, next, opt, m, mono);
			if (r == 0) {
				progress = 1;
				/* lost a race: skip past the others */
				if (!urgent)
					spool__cand_spread(sp);
			}
			if (r == 3)
				return 0;	/* paused meanwhile */
			if (r != 0 && r != 2)
				return r;
		}
	}
}

int
spool_paused(const struct spool *sp)
{
	return faccessat(sp->qfd, "paused", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int
spool_ready(struct spool *sp)
{
	if (spool_paused(sp))
		return 0;
	if (scan(sp, spool__now()) == -1)
		return -1;
	return sp->ncand > 0;
}

time_t
spool_next_due(const struct spool *sp)
{
	return sp->next_due;
}
