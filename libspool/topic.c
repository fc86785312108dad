/*
 * topic.c - fan-out: a queue with subscriptions delivers each message to
 * every subscribed queue.
 *
 * A subscription is a symlink TOPIC/subs/NAME to a queue directory; subs/
 * is the one place where q follows a symlink, and only after checking
 * that it is one and that it leads to a queue (its state directories,
 * opened with O_NOFOLLOW as always).  Nothing is created through a
 * subscription that does not lead to a queue: it is listed as failed and
 * the others still get the message.
 *
 * The message is written once, durably, in the topic's tmp/, then renamed
 * into the topic's fan/ under the name it will have in new/, and fan/ is
 * fsynced: that is the commit.  Before it, a crash leaves a dead writer's
 * tmp/ file, which the next sweep removes; after it, the delivery will be
 * completed.  Each subscriber gets the message by one linkat from fan/
 * into its new/ (the same inode: one copy on disk) when it is on the same
 * file system, else by a durable copy into its tmp/ and a rename into its
 * new/; then its new/ is fsynced.  Either way the message appears in new/
 * whole, in one step.  A subscriber whose delivery fails has what it got
 * removed again, so it gets all the batch or none of it.  Then fan/ is
 * emptied (and fsynced: an entry back after a power cut would be
 * delivered again).  If no subscriber got the batch, the messages go to
 * the topic's own new/: nothing is dropped.
 *
 * An entry of fan/ whose writer is gone (dead on this host, or 36 hours
 * old from another) is a fan-out cut short by a crash: a sweep of the
 * topic completes it.  Each subscriber that
 * holds no message of that ID in any state gets it; one that has it is
 * left alone.  (One that already worked it and kept nothing of it, with
 * keep-done 0, gets it again: at least once.)
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

static void
suberr(struct spool_batch *b, const char *name, int errnum)
{
	struct suberr *e;

	if (b->nsuberr == SUBERR_MAX)
		return;
	e = &b->suberr[b->nsuberr++];
	strlcpy(e->name, name, sizeof(e->name));
	e->errnum = errnum;
	e->why = spool_why(errnum);
}

/* The states a subscriber can hold a message in. */
#define HELD	(1U << SPOOL_NEW | 1U << SPOOL_CUR | 1U << SPOOL_DONE | \
	1U << SPOOL_FAILED)

/*
 * Open the subscriber at subs/name of sp, with sp's node name.  NULL with
 * ENOENT if it was unsubscribed (no error), ENOTDIR (SPOOL_WHY_NOTQUEUE)
 * if it is not a subscription leading to a queue, or another errno.
 */
static struct spool *
opensub(const struct spool *sp, int subsfd, const char *name)
{
	struct spool *sub;
	struct stat st;

	if (fstatat(subsfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return NULL;
	if (!S_ISLNK(st.st_mode)) {
		(void)spool__fail(SPOOL_WHY_NOTQUEUE, ENOTDIR);
		return NULL;
	}
	if ((sub = spool__openat(subsfd, name, 0)) != NULL) {
		memcpy(sub->host, sp->host, sizeof(sub->host));
		return sub;
	}
	/* unsubscribed between the look and the open */
	if (errno == ENOENT && fstatat(subsfd, name, &st,
	    AT_SYMLINK_NOFOLLOW) == -1 && errno == ENOENT)
		return NULL;
	if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
		(void)spool__fail(SPOOL_WHY_NOTQUEUE, ENOTDIR);
	return NULL;
}

/* Give sub the message fan/name, under the same name in its new/. */
static int
give(struct spool *sp, int fanfd, const char *name, struct spool *sub,
    int nosync)
{
	struct spool_name tn;
	int src, r, saved;

	if (sub->dev == sp->dev)
		return linkat(fanfd, name, sub->dfd[SPOOL_NEW], name, 0);
	if ((src = openat(fanfd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	/* a tmp/ name of our own: the subscriber's sweep knows us alive */
	r = spool__new_id(sub, &tn);
	if (r == 0)
		r = spool__write(sub, sub->dfd[SPOOL_TMP], tn.name, NULL, 0,
		    src, nosync);
	saved = errno;
	(void)close(src);
	if (r == 0 && (r = spool__move(sub, sub->dfd[SPOOL_TMP], tn.name,
	    sub->dfd[SPOOL_NEW], name)) == -1) {
		saved = errno;
		(void)unlinkat(sub->dfd[SPOOL_TMP], tn.name, 0);
	}
	errno = saved;
	return r;
}

/* Give sub the whole batch, from fan/: all of it or none. */
static int
subscriber(struct spool_batch *b, int fanfd, struct spool *sub)
{
	struct spool_name nn;
	size_t i, k;
	int saved;

	for (k = 0; k < b->n; k++)
		if (spool__newname(b, &b->msgs[k], &nn) == -1 ||
		    give(b->sp, fanfd, nn.name, sub, b->nosync) == -1)
			break;
	if (k == b->n && (b->nosync ||
	    spool__fsync_dir(sub->dfd[SPOOL_NEW]) == 0))
		return 0;
	saved = errno;
	for (i = 0; i < k; i++)
		if (spool__newname(b, &b->msgs[i], &nn) == 0)
			(void)unlinkat(sub->dfd[SPOOL_NEW], nn.name, 0);
	errno = saved;
	return -1;
}

/* Does the directory d hold anything but dot files?  Rewound after. */
static int
any(DIR *d)
{
	struct dirent *de;

	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			break;
	rewinddir(d);
	return de != NULL;
}

/*
 * The commit of a topic's batch: its messages into fan/ under their names
 * in new/, durably.  On failure none of them is left there.
 */
static int
intofan(struct spool_batch *b, int fanfd)
{
	struct spool *sp = b->sp;
	struct spool_name nn;
	size_t i, k;
	int saved;

	for (k = 0; k < b->n; k++)
		if (spool__newname(b, &b->msgs[k], &nn) == -1 ||
		    spool__move(sp, sp->dfd[SPOOL_TMP], b->msgs[k].name, fanfd,
		    nn.name) == -1)
			break;
	if (k < b->n || (!b->nosync && spool__fsync_dir(fanfd) == -1)) {
		saved = errno;
		for (i = 0; i < k; i++)
			if (spool__newname(b, &b->msgs[i], &nn) == 0)
				(void)unlinkat(fanfd, nn.name, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * Deliver fan/'s batch to every subscriber listed in d (subs/), noting
 * each one that fails.  Returns how many got it.
 */
static int
deliver(struct spool_batch *b, DIR *d, int fanfd)
{
	struct spool *sub;
	struct dirent *de;
	int got = 0;

	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((sub = opensub(b->sp, dirfd(d), de->d_name)) == NULL) {
			if (errno != ENOENT)
				suberr(b, de->d_name, errno);
			continue;
		}
		if (subscriber(b, fanfd, sub) == 0)
			got++;
		else
			suberr(b, de->d_name, errno);
		spool_close(sub);
	}
	return got;
}

/*
 * Move fan/name into the topic's own new/.  The rename is atomic, so the
 * message is durable in one place or the other whatever the fsync says.
 */
static int
keep(struct spool *sp, int fanfd, const char *name, int nosync)
{
	if (spool__move(sp, fanfd, name, sp->dfd[SPOOL_NEW], name) == -1)
		return -1;
	if (!nosync)
		(void)spool__fsync_dir(sp->dfd[SPOOL_NEW]);
	return 0;
}

int
spool__fanout(struct spool_batch *b)
{
	struct spool *sp = b->sp;
	struct spool_name nn;
	DIR *d;
	size_t i;
	int subsfd, fanfd, got, made = 0, saved;

	if ((subsfd = openat(sp->qfd, "subs", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(subsfd)) == NULL) {
		(void)close(subsfd);
		return -1;
	}
	if (!any(d)) {
		(void)closedir(d);
		return 0;	/* nobody subscribed: a plain put */
	}
	if ((fanfd = spool__subdir(sp, "fan", 1, &made)) == -1 ||
	    (made && fsync(sp->qfd) == -1))
		goto fail;

	if (intofan(b, fanfd) == -1)
		goto fail;
	b->committed = b->n;
	got = deliver(b, d, fanfd);
	(void)closedir(d);
	/*
	 * Nobody got it: the topic keeps it.  What cannot be moved stays in
	 * fan/, and a sweep delivers it once we are gone.
	 */
	for (i = 0; i < b->n; i++)
		if (spool__newname(b, &b->msgs[i], &nn) == 0)
			(void)(got > 0 ? unlinkat(fanfd, nn.name, 0) :
			    keep(sp, fanfd, nn.name, b->nosync));
	if (!b->nosync)
		(void)spool__fsync_dir(fanfd);
	(void)close(fanfd);
	return 1;
fail:
	saved = errno;
	if (fanfd != -1)
		(void)close(fanfd);
	(void)closedir(d);
	errno = saved;
	return -1;
}

/*
 * Complete the fan-out of fan/n, whose writer is gone: every subscriber
 * that holds no message of its ID gets it.  The entry is removed once all
 * have it; a failure leaves it for the next sweep.
 */
static int
complete(struct spool *sp, int fanfd, const struct spool_name *n)
{
	char idbuf[SPOOL_NAME_MAX + 1];
	struct spool_name id, found;
	enum spool_state st;
	struct spool *sub;
	struct dirent *de;
	DIR *d = NULL;
	int subsfd, got = 0, r, failed = 0, saved = 0;

	memcpy(idbuf, n->name, n->idlen);
	idbuf[n->idlen] = '\0';
	if (spool_name_parse(idbuf, &id) == -1)
		return -1;
	subsfd = spool__subdir(sp, "subs", 0, NULL);
	if (subsfd == -1 && errno != ENOENT)
		return -1;
	if (subsfd != -1 && (d = fdopendir(subsfd)) == NULL) {
		saved = errno;
		(void)close(subsfd);
		errno = saved;
		return -1;
	}
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((sub = opensub(sp, subsfd, de->d_name)) == NULL)
			continue;	/* gone, or receives nothing */
		got++;
		r = spool__find(sub, &id, HELD, &found, &st, NULL);
		if (r == 0 && (r = give(sp, fanfd, n->name, sub,
		    sp->cfg.sync == 0)) == 0 && sp->cfg.sync != 0)
			r = spool__fsync_dir(sub->dfd[SPOOL_NEW]);
		if (r == -1 && errno != EEXIST) {
			failed = 1;
			saved = errno;
		}
		spool_close(sub);
	}
	if (d != NULL)
		(void)closedir(d);
	if (failed) {
		errno = saved;
		return -1;
	}
	if (got == 0)
		return keep(sp, fanfd, n->name, sp->cfg.sync == 0);
	if (unlinkat(fanfd, n->name, 0) == -1)
		return -1;
	return sp->cfg.sync == 0 ? 0 : spool__fsync_dir(fanfd);
}

int
spool__sweep_fan(struct livecheck *lc, time_t now, spool_report_fn *report,
    void *arg)
{
	struct spool *sp = lc->sp;
	char name[SPOOL_NAME_MAX + 5];
	struct spool_name n;
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fanfd, actions = 0;

	if ((fanfd = spool__subdir(sp, "fan", 0, NULL)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = spool__fdopendir(fanfd)) == NULL) {
		(void)close(fanfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    spool_name_parse(de->d_name, &n) == -1 ||
		    !spool__is_regular(fanfd, de))
			continue;
		switch (spool__tmp_live(lc, &n)) {
		case 1:		/* its writer is at it */
			continue;
		case -1:	/* another host's: by age, as in tmp/ */
			if (fstatat(fanfd, n.name, &sb,
			    AT_SYMLINK_NOFOLLOW) == -1 ||
			    sb.st_mtime > now - SPOOL_TMP_MAXAGE)
				continue;
			break;
		}
		actions++;
		(void)snprintf(name, sizeof(name), "fan/%s", n.name);
		if (!lc->dryrun && complete(sp, fanfd, &n) == -1) {
			if (report != NULL)
				report(arg, SPOOL_EV_ERROR, SPOOL_TMP, name,
				    errno);
		} else if (report != NULL)
			report(arg, SPOOL_EV_FANOUT, SPOOL_TMP, name, 0);
	}
	(void)closedir(d);
	(void)close(fanfd);
	return actions;
}

static int
validname(const char *name)
{
	return name[0] != '\0' && name[0] != '.' && strchr(name, '/') ==
	    NULL && strlen(name) <= SPOOL_NAME_MAX;
}

int
spool_subscribe(struct spool *sp, const char *name, const char *target)
{
	char old[4096];
	struct spool *sub;
	ssize_t n;
	int fd, made = 0, r = -1, saved;

	if (!validname(name) || target[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	if ((sub = spool_open(target, 0)) == NULL)
		return -1;
	spool_close(sub);
	if ((fd = spool__subdir(sp, "subs", 1, &made)) == -1)
		return -1;
	if (made && fsync(sp->qfd) == -1)
		goto end;
	if (symlinkat(target, fd, name) == -1) {
		if (errno != EEXIST)
			goto end;
		/* already there: fine if it leads to the same place */
		n = readlinkat(fd, name, old, sizeof(old) - 1);
		if (n == -1 || (old[n] = '\0', strcmp(old, target) != 0)) {
			(void)spool__fail(SPOOL_WHY_OTHERSUB, EEXIST);
			goto end;
		}
	}
	r = fsync(fd);
end:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return r;
}

int
spool_unsubscribe(struct spool *sp, const char *name)
{
	struct stat st;
	int fd, r = -1, saved;

	if (!validname(name)) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = spool__subdir(sp, "subs", 0, NULL)) == -1)
		return errno == ENOENT ? spool__fail(SPOOL_WHY_NOTSUB, ENOENT) :
		    -1;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			(void)spool__fail(SPOOL_WHY_NOTSUB, ENOENT);
		goto end;
	}
	if (!S_ISLNK(st.st_mode)) {	/* not a subscription: leave it */
		(void)spool__fail(SPOOL_WHY_NOTLINK, EINVAL);
		goto end;
	}
	if (unlinkat(fd, name, 0) == 0)
		r = fsync(fd);
end:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return r;
}

int
spool_subscription(struct spool *sp, const char *name, char *target,
    size_t len)
{
	ssize_t n;
	int fd, saved;

	if (!validname(name) || len == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = spool__subdir(sp, "subs", 0, NULL)) == -1)
		return errno == ENOENT ? 0 : -1;
	n = readlinkat(fd, name, target, len - 1);
	saved = errno;
	(void)close(fd);
	if (n == -1) {
		if (saved == ENOENT)
			return 0;
		errno = saved == EINVAL ? EEXIST : saved;	/* not a link */
		return -1;
	}
	target[n] = '\0';
	return 1;
}
