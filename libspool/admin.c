/*
 * admin.c - what operators do to queues: look, count, retry, replay,
 * purge, remove, pause.
 *
 * Scans stream (each.c): one directory entry at a time, never sorted,
 * never a file opened; counts pass each message once.  Sizes
 * and ages come from lstat of the entry (fstatat with AT_SYMLINK_NOFOLLOW),
 * which follows nothing.  Foreign entries are reported, never touched.
 *
 * retry and replay are single renames into new/ with the attempt count
 * dropped from the name, RENAME_NOREPLACE as always; a message that moved
 * meanwhile (ENOENT) is somebody else's business.  Deleting is unlinkat of
 * the exact name found, so a message that was claimed meanwhile is not
 * deleted: its name in new/ is gone (a purge of new/ relies on it).
 * Claimed messages are never deleted.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

const long long spool_age_limits[SPOOL_AGE_BUCKETS] = {
	60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400, -1
};

struct statctx {
	struct spool_stats *s;
	time_t		 now;
	long long	 skew;		/* for other hosts' clocks */
};

static int
count(void *arg, const struct spool_entry *e)
{
	struct statctx *c = arg;
	struct spool_stats *s = c->s;
	long long age;
	int b;

	if (e->foreign) {
		s->foreign++;
		return 0;
	}
	s->count[e->state]++;
	s->bytes[e->state] += (unsigned long long)e->sb.st_size;
	if (e->n.sec > c->now)	/* put by a host whose clock is ahead */
		s->skewed++;
	if (e->state == SPOOL_CUR && (e->n.lease + c->skew < c->now ||
	    e->n.lease > c->now + SPOOL_LEASE_MAX + c->skew))
		s->expired++;
	if (e->state != SPOOL_NEW)
		return 0;
	if ((e->n.attrs & SPOOL_ATTR_DUE) && e->n.due > c->now) {
		s->delayed++;
		return 0;
	}
	age = (long long)(c->now - e->n.sec);
	if (age < 0)
		age = 0;
	if (age > s->oldest)
		s->oldest = age;
	for (b = 0; b < SPOOL_AGE_BUCKETS - 1 && age > spool_age_limits[b]; b++)
		;
	s->ages[b]++;
	return 0;
}

int
spool_stats(struct spool *sp, struct spool_stats *out)
{
	struct statctx c = { out, spool__now(), 0 };
	struct dirent *de;
	struct stat sb;
	DIR *d;

	memset(out, 0, sizeof(*out));
	out->paused = spool_paused(sp);
	out->remote = spool_remote(sp);
	spool__hosts(sp, out->remote, &out->leaseonly, &out->skew);
	c.skew = out->skew;
	if (spool_each(sp, ~0U, SPOOL_EACH_STAT | SPOOL_EACH_ONCE, count,
	    &c) == -1)
		return -1;
	/* tmp/: files being written, or left by crashed writers */
	if ((d = spool__opendir(sp, SPOOL_TMP)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(sp->dfd[SPOOL_TMP],
		    de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		out->count[SPOOL_TMP]++;
		out->bytes[SPOOL_TMP] += (unsigned long long)sb.st_size;
	}
	(void)closedir(d);
	return 0;
}

/*
 * Move message n from st to new/ with a fresh attempt budget (retry and
 * replay; not a requeue, which spends one).  a= stays:
 * the budget begins again at b=, so that the next claim's token, ID,a=N,
 * is one no earlier claim of the message ever had (q(5)).
 */
static int
fresh(struct spool *sp, enum spool_state st, const struct spool_name *n)
{
	struct spool_name dst = *n;

	dst.attrs &= ~(SPOOL_ATTR_DUE | SPOOL_ATTR_LEASE | SPOOL_ATTR_WORKER);
	dst.attrs |= SPOOL_ATTR_BASE;
	dst.base = dst.attempts;
	if (spool_name_format(&dst) == -1)
		return -1;
	return spool__move(sp, sp->dfd[st], n->name, sp->dfd[SPOOL_NEW],
	    dst.name);
}

static int
back(struct spool *sp, const char *ref, enum spool_state st)
{
	struct spool_name r, n;
	enum spool_state found;
	int res;

	/* with a=, only that claim count: as every command reads an ID */
	if (spool__parse_ref(sp, ref, &r) == -1)
		return -1;
	if ((res = spool__find(sp, &r, 1U << st, &n, &found, NULL)) == -1)
		return -1;
	if (res == 0)
		return spool__missing(sp, &r, 1U << st);
	return fresh(sp, st, &n);
}

int
spool_retry(struct spool *sp, const char *ref)
{
	return back(sp, ref, SPOOL_FAILED);
}

int
spool_replay(struct spool *sp, const char *ref)
{
	return back(sp, ref, SPOOL_DONE);
}

#define RM_TRIES	16

int
spool_remove(struct spool *sp, const char *ref)
{
	struct spool_name r, n;
	enum spool_state st;
	int res;

	int tries;

	if (spool__parse_ref(sp, ref, &r) == -1)
		return -1;
	/* moved meanwhile (claimed, acked, retried): look again */
	for (tries = 0; tries < RM_TRIES; tries++) {
		res = spool__find(sp, &r, 1U << SPOOL_NEW | 1U << SPOOL_CUR |
		    1U << SPOOL_DONE | 1U << SPOOL_FAILED, &n, &st, NULL);
		if (res == -1)
			return -1;
		if (res == 0)
			break;
		if (st == SPOOL_CUR)
			return spool__fail(SPOOL_WHY_CLAIMED, EBUSY);
		if (unlinkat(sp->dfd[st], n.name, 0) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
	}
	return spool__fail(SPOOL_WHY_NOMSG, ENOENT);
}

struct bulk {
	struct spool	*sp;
	enum spool_state st;
	int		 del;		/* delete rather than move to new/ */
	time_t		 before;	/* only messages with mtime <= this */
	time_t		 since;		/* only messages with mtime >= this */
	long long	 n;
	int		 err;
};

static int
bulk1(void *arg, const struct spool_entry *e)
{
	struct bulk *b = arg;
	int r;

	/* the mtime is when it entered the state (spool__stamp()) */
	if (e->foreign || e->sb.st_mtime > b->before ||
	    e->sb.st_mtime < b->since)
		return 0;
	if (b->del)
		r = unlinkat(b->sp->dfd[b->st], e->n.name, 0);
	else
		r = fresh(b->sp, b->st, &e->n);
	if (r == 0)
		b->n++;
	else if (errno != ENOENT) {
		b->err = errno;
		return 1;
	}
	return 0;
}

static long long
bulk(struct spool *sp, enum spool_state st, int del, time_t since,
    time_t before)
{
	struct bulk b = { sp, st, del, before, since, 0, 0 };

	if (spool_each(sp, 1U << st, SPOOL_EACH_STAT, bulk1, &b) == -1)
		return -1;
	if (b.err != 0) {
		errno = b.err;
		return -1;
	}
	return b.n;
}

long long
spool_retry_all(struct spool *sp)
{
	return bulk(sp, SPOOL_FAILED, 0, 0, spool__now() + 86400);
}

long long
spool_replay_since(struct spool *sp, time_t since)
{
	return bulk(sp, SPOOL_DONE, 0, since, spool__now() + 86400);
}

long long
spool_purge(struct spool *sp, enum spool_state st, long long age)
{
	/* never cur/: a claim is somebody's work in progress */
	if (st != SPOOL_NEW && st != SPOOL_DONE && st != SPOOL_FAILED) {
		errno = EINVAL;
		return -1;
	}
	return bulk(sp, st, 1, 0, spool__now() - (time_t)age);
}

int
spool_pause(struct spool *sp, int on)
{
	int fd;

	if (on) {
		fd = openat(sp->qfd, "paused", O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, sp->fmode);
		if (fd == -1)
			return errno == EEXIST ? 0 : -1;
		if (close(fd) == -1)
			return -1;
	} else if (unlinkat(sp->qfd, "paused", 0) == -1)
		return errno == ENOENT ? 0 : -1;
	return spool__fsync_dir(sp->qfd);
}
