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
 * The message is written once, durably, in the topic's tmp/.  Each
 * subscriber gets it by one linkat into its new/ (the same inode: one copy
 * on disk) when it is on the same file system, else by a durable copy
 * into its tmp/ and a rename into its new/; then its new/ is fsynced.
 * Either way the message appears in new/ whole, in one step.  A
 * subscriber whose delivery fails has what it got removed again, so it
 * gets all the batch or none of it.  If no subscriber got the batch, the
 * messages stay in the topic's own new/: nothing is dropped.
 *
 * Sharing the inode shares its flock too: while one subscriber's worker
 * holds a message, another subscriber's worker claiming the same message
 * skips it until the first is done, and a sweeper checking the second's
 * claim for a dead worker sees the lock taken and waits for the lease.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
}

/* Put message i of the batch into sub's new/. */
static int
give(struct spool_batch *b, struct spool *sub, size_t i,
    const struct spool_name *nn)
{
	struct spool *sp = b->sp;
	int src, r, saved;

	if (sub->dev == sp->dev)
		return linkat(sp->dfd[SPOOL_TMP], b->msgs[i].name,
		    sub->dfd[SPOOL_NEW], nn->name, 0);
	src = openat(sp->dfd[SPOOL_TMP], b->msgs[i].name, O_RDONLY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (src == -1)
		return -1;
	r = spool__write(sub, sub->dfd[SPOOL_TMP], b->msgs[i].name, NULL, 0,
	    src, b->nosync);
	saved = errno;
	(void)close(src);
	if (r == 0 && (r = spool__move(sub, sub->dfd[SPOOL_TMP],
	    b->msgs[i].name, sub->dfd[SPOOL_NEW], nn->name)) == -1) {
		saved = errno;
		(void)unlinkat(sub->dfd[SPOOL_TMP], b->msgs[i].name, 0);
	}
	errno = saved;
	return r;
}

/*
 * Deliver the whole batch to the subscriber at subs/name.  Returns 0, 1 if
 * the subscription is gone (unsubscribed since subs/ was read: no error),
 * or -1 with errno.
 */
static int
subscriber(struct spool_batch *b, int subsfd, const char *name)
{
	struct spool *sub;
	struct spool_name nn;
	struct stat st;
	size_t i, k;
	int saved;

	if (fstatat(subsfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 1 : -1;
	if (!S_ISLNK(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if ((sub = spool__openat(subsfd, name, 0)) == NULL) {
		/* unsubscribed between the look and the open: no error */
		if (errno == ENOENT && fstatat(subsfd, name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 && errno == ENOENT)
			return 1;
		if (errno == ENOENT || errno == ELOOP)
			errno = ENOTDIR;
		return -1;
	}
	for (k = 0; k < b->n; k++)
		if (spool__newname(b, &b->msgs[k], &nn) == -1 ||
		    give(b, sub, k, &nn) == -1)
			break;
	saved = errno;
	if (k == b->n && (b->nosync ||
	    spool__fsync_dir(sub->dfd[SPOOL_NEW]) == 0)) {
		spool_close(sub);
		return 0;
	}
	if (k == b->n)
		saved = errno;
	/* all or nothing for this subscriber */
	for (i = 0; i < k; i++)
		if (spool__newname(b, &b->msgs[i], &nn) == 0)
			(void)unlinkat(sub->dfd[SPOOL_NEW], nn.name, 0);
	spool_close(sub);
	errno = saved;
	return -1;
}

int
spool__fanout(struct spool_batch *b)
{
	struct spool *sp = b->sp;
	struct dirent *de;
	DIR *d;
	size_t i;
	int fd, got = 0;

	fd = openat(sp->qfd, "subs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		switch (subscriber(b, fd, de->d_name)) {
		case 0:
			got++;
			break;
		case -1:
			suberr(b, de->d_name, errno);
			break;
		}
	}
	(void)closedir(d);
	if (got == 0)
		return 0;	/* no subscriber: keep them here */
	for (i = 0; i < b->n; i++)
		(void)unlinkat(sp->dfd[SPOOL_TMP], b->msgs[i].name, 0);
	b->committed = b->n;
	return 1;
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
			errno = EEXIST;
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
		return -1;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		goto end;
	if (!S_ISLNK(st.st_mode)) {
		errno = EINVAL;	/* not a subscription: leave it */
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
