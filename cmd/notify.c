/*
 * notify.c - waiting for messages without polling: inotify on new/, a
 * timer for the earliest delayed message, and polling once a second only
 * on file systems that do not report changes made by other hosts (NFS,
 * SMB, FUSE, ...).
 */
#include <sys/inotify.h>
#include <sys/vfs.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "banned.h"

#define POLL_MS		1000
#define PAUSED_MS	1000

/* Remote and user-space file systems: inotify sees local changes only. */
static int
remote(long type)
{
	switch ((unsigned long)type) {
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

long long
q_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
q_notify_open(struct q_notify *n, struct spool *sp)
{
	struct statfs sf;
	char path[64];
	int dfd = spool_dirfd(sp, SPOOL_NEW);

	n->poll = 0;
	if (fstatfs(dfd, &sf) == 0 && remote((long)sf.f_type))
		n->poll = 1;
	if ((n->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		n->poll = 1;
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dfd);
	if (inotify_add_watch(n->fd, path, IN_MOVED_TO | IN_CREATE |
	    IN_ATTRIB) == -1) {
		(void)close(n->fd);
		n->fd = -1;
		n->poll = 1;
	}
	return 0;
}

void
q_notify_close(struct q_notify *n)
{
	if (n->fd != -1)
		(void)close(n->fd);
	n->fd = -1;
}

void
q_notify_drain(struct q_notify *n)
{
	char buf[4096];

	if (n->fd == -1)
		return;
	while (read(n->fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * How long to sleep at most before looking at the queue again: until the
 * earliest delayed message is due, once a second where changes cannot be
 * seen or while the queue is paused, and never past limit (ms; -1: none).
 */
long long
q_notify_timeout(const struct q_notify *n, struct spool *sp, long long limit)
{
	long long ms = limit;
	time_t due = spool_next_due(sp), now = time(NULL);

	if (due != 0) {
		long long d = due > now ? (long long)(due - now) * 1000 : 0;

		if (ms < 0 || d < ms)
			ms = d;
	}
	if ((n->poll || spool_paused(sp)) && (ms < 0 || ms > POLL_MS))
		ms = POLL_MS;
	return ms;
}

/* Sleep until new/ changes or ms (-1: no limit) pass.  EINTR is 0. */
void
q_notify_wait(struct q_notify *n, struct spool *sp, long long limit)
{
	struct pollfd pfd = { n->fd, POLLIN, 0 };
	long long ms = q_notify_timeout(n, sp, limit);

	if (n->fd == -1) {
		struct timespec ts = { (time_t)(ms / 1000),
		    (long)(ms % 1000) * 1000000 };

		(void)nanosleep(&ts, NULL);
		return;
	}
	if (poll(&pfd, 1, ms > 2000000000 ? 2000000000 : (int)ms) > 0)
		q_notify_drain(n);
}
