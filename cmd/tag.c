/*
 * tag.c - q work --tag: every line a job writes, on its stdout or its
 * stderr, goes to the worker's own with the message ID and a tab in
 * front, so that the output of jobs running side by side can be told
 * apart.
 *
 * Each job gets a pipe for its stdout and one for its stderr; the worker
 * keeps the read ends, non-blocking, and reads them from its poll() loop
 * as data comes, so a job never waits on a full pipe for longer than the
 * worker takes to go round its loop (and to write to its own stdout and
 * stderr), and its output flows while it runs.
 * Only whole lines are written, by the worker alone (batched into a
 * writev(2)): so no line of one job is ever cut by a line of another, or
 * by the worker's log.  A line longer than TAG_LINE_MAX is written in
 * pieces of that size, each tagged and ended with a newline; a last line
 * without a newline gets one.  When a job ends (also when it is killed),
 * its pipes are read to the end of what it wrote before the worker acts
 * on its exit status, and closed: processes it left behind that write
 * later meet a closed pipe, rather than holding up the job's end.  If
 * the worker's own stdout or stderr can no longer be written (a closed
 * pipe), the job's pipe is closed too, so the job meets the error
 * itself, as it would writing there directly.
 */
#define _GNU_SOURCE
#include <sys/uio.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "work.h"
#include "banned.h"

#define TAG_IOV		256	/* per writev(2): 3 or 4 a line */
#define TAG_DRAIN	1024	/* reads of a pipe at most, as its job ends */

/* The slots' buffers, if --tag; no pipe in any slot. */
void
tag_init(struct worker *w)
{
	int i, k;

	if (w->tag && (w->tagbuf = calloc((size_t)w->njobs * 2,
	    TAG_LINE_MAX)) == NULL)
		err(Q_IOERR, NULL);
	for (i = 0; i < w->njobs; i++)
		for (k = 0; k < 2; k++) {
			w->jobs[i].out[k].fd = -1;
			w->jobs[i].out[k].len = 0;
			w->jobs[i].out[k].buf = w->tag ? w->tagbuf +
			    ((size_t)i * 2 + (size_t)k) * TAG_LINE_MAX : NULL;
		}
}

/*
 * fd moved above 2, where it cannot stand for a standard stream (if the
 * worker was started with one closed), or -1 with errno and fd closed.
 */
static int
above2(int fd)
{
	int nfd, e;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	e = errno;
	(void)close(fd);
	errno = e;
	return nfd;
}

/* One pipe: the read end, non-blocking, in o; the write end in *wr. */
static int
tag_pipe(struct tagout *o, int *wr)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	o->len = 0;
	*wr = p[1];
	if ((o->fd = above2(p[0])) == -1 || (*wr = above2(p[1])) == -1)
		return -1;
	return fcntl(o->fd, F_SETFL, O_NONBLOCK);
}

/*
 * A pipe for the stdout and one for the stderr of job j: the read ends in
 * j->out; the write ends, for the child's 1 and 2, in wr (which holds -1
 * each).  All close-on-exec.  Returns 0, or -1 with errno and nothing
 * left open.
 */
int
tag_pipes(struct job *j, int wr[2])
{
	int k, e;

	for (k = 0; k < 2; k++)
		if (tag_pipe(&j->out[k], &wr[k]) == -1) {
			e = errno;
			tag_spawned(j, wr, -1);
			errno = e;
			return -1;
		}
	return 0;
}

/* After the start of job j (pid, or -1 if it failed): the write ends go. */
void
tag_spawned(struct job *j, int wr[2], pid_t pid)
{
	int k;

	for (k = 0; k < 2; k++) {
		if (wr[k] != -1)
			(void)close(wr[k]);
		wr[k] = -1;
		if (pid == -1 && j->out[k].fd != -1) {
			(void)close(j->out[k].fd);
			j->out[k].fd = -1;
		}
	}
}

/* The read ends of the running jobs' pipes, into pfd; returns how many. */
int
tag_pollfds(struct worker *w, struct pollfd *pfd)
{
	int i, k, n = 0;

	for (i = 0; i < w->njobs && w->tag; i++)
		for (k = 0; k < 2; k++)
			if (w->jobs[i].pid != 0 && w->jobs[i].out[k].fd != -1) {
				pfd[n].fd = w->jobs[i].out[k].fd;
				pfd[n].events = POLLIN;
				pfd[n++].revents = 0;
			}
	return n;
}

/*
 * Write iov[0..n) to fd whole, through short writes and EINTR, waiting
 * for a non-blocking fd to take more.  Returns 0, or -1 with errno.
 */
static int
writeall(int fd, struct iovec *iov, int n)
{
	struct pollfd p = { fd, POLLOUT, 0 };
	ssize_t r;

	while (n > 0) {
		if ((r = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n)) == -1) {
			if (errno == EAGAIN)
				(void)poll(&p, 1, -1);
			else if (errno != EINTR)
				return -1;
			continue;
		}
		for (; n > 0 && (size_t)r >= iov->iov_len; iov++, n--)
			r -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* Stop reading stream k of job j. */
static void
tag_close(struct job *j, int k)
{
	(void)close(j->out[k].fd);
	j->out[k].fd = -1;
	j->out[k].len = 0;
}

/*
 * Write the whole lines in the buffer of stream k of job j, tagged, and
 * keep the rest, unless it fills the buffer; with all, write the rest too,
 * as a line.  Returns -1 if the worker's stdout or stderr failed.
 */
static int
lines(struct job *j, int k, int all)
{
	struct iovec iov[TAG_IOV];
	struct tagout *o = &j->out[k];
	char *p = o->buf, *e = o->buf + o->len, *nl;
	size_t len;
	int n, more;

	do {
		for (n = 0; p < e && n + 4 <= TAG_IOV;) {
			nl = memchr(p, '\n', (size_t)(e - p));
			if (nl == NULL && !all && e - p < TAG_LINE_MAX)
				break;
			len = (size_t)((nl != NULL ? nl + 1 : e) - p);
			iov[n++] = (struct iovec){ j->msg[0].m.n.name,
			    j->msg[0].m.n.idlen };
			iov[n++] = (struct iovec){ "\t", 1 };
			iov[n++] = (struct iovec){ p, len };
			if (nl == NULL)	/* the rest, with a newline */
				iov[n++] = (struct iovec){ "\n", 1 };
			p += len;
		}
		more = p < e && n + 4 > TAG_IOV;
		if (n > 0 && writeall(k == 0 ? STDOUT_FILENO : STDERR_FILENO,
		    iov, n) == -1)
			return -1;
	} while (more);
	o->len = (size_t)(e - p);
	memmove(o->buf, p, o->len);
	return 0;
}

/*
 * Read stream k of job j: once, or with drain (its job has ended) until
 * nothing is left.  At the end of the pipe, or with drain, what is left
 * is written and the pipe closed; when the worker's own stream fails, the
 * pipe is closed at once.
 */
static void
tag_read(struct job *j, int k, int drain)
{
	struct tagout *o = &j->out[k];
	ssize_t r = 1;
	int i;

	for (i = 0; i < (drain ? TAG_DRAIN : 1) && r != 0; i++) {
		r = read(o->fd, o->buf + o->len, TAG_LINE_MAX - o->len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN)
			break;
		if (r == -1)
			r = 0;	/* as at the end */
		o->len += (size_t)r;
		if (lines(j, k, 0) == -1) {
			tag_close(j, k);
			return;
		}
	}
	if (drain || r == 0) {
		(void)lines(j, k, 1);
		tag_close(j, k);
	}
}

/* poll() found these of tag_pollfds() ready (or at their end): read. */
void
tag_heard(struct worker *w, const struct pollfd *pfd, int n)
{
	struct job *j;
	int i, k, m = 0;

	for (i = 0; i < w->njobs && m < n; i++)
		for (k = 0, j = &w->jobs[i]; k < 2 && m < n; k++)
			if (j->pid != 0 && j->out[k].fd == pfd[m].fd &&
			    pfd[m++].revents != 0)
				tag_read(j, k, 0);
}

/* Job j has ended: the rest of what it wrote, and its pipes closed. */
void
tag_end(struct job *j)
{
	int k;

	for (k = 0; k < 2; k++)
		if (j->out[k].fd != -1)
			tag_read(j, k, 1);
}
