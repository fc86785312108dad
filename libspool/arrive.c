/*
 * arrive.c - hearing of arrivals in new/, and waiting for them: the one
 * watch of a queue handle.
 *
 * A handle watches its new/ with one inotify instance of its own, where
 * that sees the changes of every writer; on a file system shared over a
 * network or run in user space (spool_remote()) it would see only this
 * host's, so there is no watch and a waiter looks again on a timer.  The
 * handle reads the events itself, whoever waits: each name is handed to
 * the claim code (spool__arrived), which decides what it means for the
 * candidates, so a caller's poll(2) and the claims of the same handle
 * never compete for them.  An overflow of the event queue marks the
 * candidates for a rescan; the removal of new/ ends the watch.
 *
 * Claims that expire or whose worker dies make no event in new/: callers
 * that recover them cap their waits themselves.
 */
#include <sys/inotify.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

int
spool__watch(struct spool *sp)
{
	char path[64];
	int fd;

	if (sp->nfd != -1)
		return 0;
	if (sp->nowatch || spool_remote(sp) ||
	    (fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		goto none;
	/* the directory we hold open, whatever its path has become */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", sp->dfd[SPOOL_NEW]);
	if (inotify_add_watch(fd, path, IN_MOVED_TO | IN_CREATE |
	    IN_ONLYDIR) == -1) {
		(void)close(fd);
		goto none;
	}
	sp->nfd = fd;
	return 0;
none:
	sp->nowatch = 1;	/* not tried again */
	return -1;
}

void
spool__hear(struct spool *sp, time_t now)
{
	union {
		struct inotify_event ev;
		char	 buf[16384];
	} u;
	const struct inotify_event *ev;
	ssize_t len;
	size_t off;
	int gone = 0;

	if (sp->nfd == -1)
		return;
	while ((len = read(sp->nfd, u.buf, sizeof(u.buf))) > 0)
		for (off = 0; off < (size_t)len; off += sizeof(*ev) + ev->len) {
			ev = (const void *)(u.buf + off);
			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED))
				sp->lost = 1;
			if (ev->mask & IN_IGNORED)
				gone = 1;	/* new/ went away */
			if (ev->len != 0)
				spool__arrived(sp, ev->name, now);
		}
	if (len == -1 && errno != EAGAIN && errno != EINTR)
		sp->lost = 1;
	if (gone) {		/* look on a timer from now on */
		(void)close(sp->nfd);
		sp->nfd = -1;
		sp->nowatch = 1;
	}
}

int
spool_watch(struct spool *sp)
{
	(void)spool__watch(sp);
	return sp->nfd;
}

void
spool_heard(struct spool *sp)
{
	spool__hear(sp, spool__now());
}

long long
spool_wait_ms(struct spool *sp, long long limit)
{
	long long ms = limit, d;
	time_t due = spool_next_due(sp), now = spool__now();

	if (due != 0) {
		d = due > now ? (long long)(due - now) * 1000 : 0;
		if (ms < 0 || d < ms)
			ms = d;
	}
	/* a look every poll where arrivals cannot be heard, or paused */
	if ((sp->nfd == -1 || spool_paused(sp)) &&
	    (ms < 0 || ms > sp->cfg.poll))
		ms = sp->cfg.poll;
	return ms;
}

int
spool_wait(struct spool *sp, long long limit)
{
	struct pollfd pfd;
	struct timespec ts;
	long long ms = spool_wait_ms(sp, limit);

	if (sp->nfd == -1) {	/* ms is at most poll then */
		ts.tv_sec = (time_t)(ms / 1000);
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
		(void)nanosleep(&ts, NULL);
		return 0;
	}
	pfd.fd = sp->nfd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, ms < 0 ? -1 : ms > 2000000000 ? 2000000000 :
	    (int)ms) <= 0)
		return 0;
	spool_heard(sp);
	return 1;
}
