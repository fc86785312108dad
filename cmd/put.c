/*
 * put.c - q put: enqueue messages.
 *
 * With -l or -0 the input is a stream of records, committed in groups as
 * it comes: a group is committed when it holds --group records or when
 * --linger milliseconds have passed since its first record, whichever
 * comes first, and at the end of the input; its IDs are printed as soon
 * as it is committed.  So an endless producer delivers continuously, and
 * memory is bounded by a group.  Otherwise (whole files, -m) everything
 * is one group, committed at the end.
 *
 * SIGINT, SIGTERM and SIGHUP (unless ignored when q put started, as under
 * nohup) stop the reading: a read in progress returns EINTR, the messages
 * of the group being read are removed from tmp/, their IDs never printed,
 * and q put dies of the signal; groups committed before stay.  While a
 * group is committed the signals are held off: it completes and its IDs
 * are printed first.  After the last group they stay held, and q put exits
 * as usual.
 * Longer than most: group, reader and signals are one mechanism.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "banned.h"

struct text {
	char		**v;
	size_t		  n;
};

/* A group of -l or -0 is committed at this many records or this many ms. */
#define GROUP_MAX	1000
#define GROUP_LINGER	100
/* With -K at most this many: its commit holds a lock (an fd) per key. */
#define KEYED_MAX	256

static volatile sig_atomic_t signalled;

static void
onsignal(int sig)
{
	signalled = sig;
}

static const int stopsigs[] = { SIGINT, SIGTERM, SIGHUP };

/* No SA_RESTART: a blocking read returns EINTR and the reading stops. */
static void
catchsignals(void)
{
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onsignal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(stopsigs) / sizeof(stopsigs[0]); i++)
		if (sigaction(stopsigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			(void)sigaction(stopsigs[i], &sa, NULL);
}

/* The signals wait (hold 1) or come through again (hold 0). */
static void
holdsignals(int hold)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof(stopsigs) / sizeof(stopsigs[0]); i++)
		sigaddset(&set, stopsigs[i]);
	(void)sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/*
 * The group being put: the batch (NULL until a message comes), and when
 * its first record came.
 */
struct group {
	struct spool		*sp;
	const struct spool_putopt *opt;
	const char		*queue;
	struct spool_batch	*b;
	size_t			 max;		/* records, 0: no limit */
	long long		 linger;	/* ms, -1: none */
	long long		 first;		/* q_now_ms() of the first */
	int			 keyed;		/* -K: KEY<TAB>BODY records */
	unsigned long long	 recno;		/* records read */
};

static int commit(struct spool_batch *, const char *, const char *, int);

/* The batch of the group, begun if need be. */
static struct spool_batch *
batch(struct group *g)
{
	if (g->b == NULL) {
		if ((g->b = spool_batch_begin(g->sp, g->opt)) == NULL)
			err(Q_IOERR, NULL);
		g->first = q_now_ms();
	}
	return g->b;
}

/* Commit the group if it has anything (last: the final one). */
static int
flush(struct group *g, int last)
{
	int status = Q_OK;

	if (g->b != NULL && (spool_batch_count(g->b) > 0 || last))
		status = commit(g->b, g->queue, g->opt->key, last);
	spool_batch_free(g->b);
	g->b = NULL;
	return status;
}

/*
 * Add one message to the group; commit it when it is full or due.  With
 * -K the record is its key, a tab and the message.
 */
static int
add(struct group *g, const void *buf, size_t len)
{
	struct spool_batch *b;
	const char *tab = NULL;
	size_t klen;
	int r;

	g->recno++;
	if (g->keyed && ((tab = memchr(buf, '\t', len)) == NULL ||
	    tab == buf)) {
		warnx("%s: record %llu: %s", q_vis(g->queue), g->recno,
		    tab == NULL ? "no tab after its key" : "an empty key");
		return Q_DATAERR;
	}
	b = batch(g);
	klen = tab != NULL ? (size_t)(tab - (const char *)buf) : 0;
	r = tab != NULL ? spool_batch_add_keyed(b, buf, klen, tab + 1,
	    len - klen - 1) : spool_batch_add(b, buf, len);
	if (r == -1) {
		warn("%s", g->queue);
		return q_status(errno);
	}
	if ((g->max > 0 && spool_batch_count(b) >= g->max) ||
	    (g->linger >= 0 && q_now_ms() - g->first >= g->linger))
		return flush(g, 0);
	return Q_OK;
}

/* Milliseconds until the open group is due, or -1 (none, or no limit). */
static int
due(const struct group *g)
{
	long long left;

	if (g->b == NULL || g->linger < 0)
		return -1;
	left = g->first + g->linger - q_now_ms();
	return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* Records read from fd, as they come. */
struct reader {
	int		 fd;
	char		*buf;
	size_t		 off, len, cap;
	int		 eof;
};

/*
 * The next record of r, separated by sep (a newline stays with its line,
 * a NUL does not), in *rec and *reclen: 1; 3 if it is the last and has
 * no sep after it; 0 at the end of the input; 2 if none came within ms
 * milliseconds (-1: wait); -1 with errno.
 */
static int
next(struct reader *r, int sep, int ms, char **rec, size_t *reclen)
{
	struct pollfd pfd = { r->fd, POLLIN, 0 };
	char *p, *np;
	ssize_t n;

	for (;;) {
		p = r->len > r->off ? memchr(r->buf + r->off, sep,
		    r->len - r->off) : NULL;
		if (p != NULL || (r->eof && r->len > r->off)) {
			*rec = r->buf + r->off;
			*reclen = p != NULL ? (size_t)(p - *rec) +
			    (sep == '\n') : r->len - r->off;
			r->off = p != NULL ? (size_t)(p - r->buf) + 1 : r->len;
			return p != NULL ? 1 : 3;
		}
		if (r->eof)
			return 0;
		if (r->off > 0) {	/* the rest to the buffer's start */
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		if (r->len == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 65536;
			if ((np = realloc(r->buf, r->cap)) == NULL)
				err(Q_IOERR, NULL);
			r->buf = np;
		}
		if (ms >= 0 && (n = poll(&pfd, 1, ms)) <= 0)
			return n == 0 ? 2 : -1;
		if ((n = read(r->fd, r->buf + r->len, r->cap - r->len)) == -1)
			return -1;
		r->len += (size_t)n;
		r->eof = n == 0;
	}
}

/* The records of fd separated by sep into the group, as they come. */
static int
records(struct group *g, int fd, int sep)
{
	struct reader r = { fd, NULL, 0, 0, 0, 0 };
	char *rec;
	size_t len;
	int got, status = Q_OK;

	while (status == Q_OK && !signalled &&
	    (got = next(&r, sep, due(g), &rec, &len)) != 0) {
		if (got == -1) {
			if (errno != EINTR) {
				warn("%s", g->queue);
				status = q_status(errno);
			}
			break;
		}
		if (got == 3 && g->keyed) {
			/* a producer that died mid-record: never key half */
			warnx("%s: record %llu: no %s at its end: input cut "
			    "short?", q_vis(g->queue), g->recno + 1,
			    sep == '\n' ? "newline" : "NUL");
			status = Q_DATAERR;
		} else
			status = got == 2 ? flush(g, 0) : add(g, rec, len);
	}
	free(r.buf);
	return status;
}

/* Put what fd holds into the group: one message, or records by sep. */
static int
source(struct group *g, int fd, int sep)
{
	int status = Q_OK, saved;

	if (sep != -1)
		status = records(g, fd, sep);
	else if (spool_batch_add_fd(batch(g), fd) == -1) {
		saved = errno;
		if (!signalled)
			warnc(saved, "%s", g->queue);
		status = q_status(saved);
	}
	if (fd != STDIN_FILENO)
		(void)close(fd);
	if (signalled)
		return Q_IOERR;		/* quietly: cmd_put dies of it */
	return status;
}

/*
 * Open every FILE (before the queue is touched, so that a bad one creates
 * nothing) into (*fdsp)[], which has room for one more.
 */
static int
openfiles(int nfiles, char *files[], int **fdsp)
{
	struct stat st;
	int *fds, i;

	if ((fds = *fdsp = reallocarray(NULL, (size_t)nfiles + 1,
	    sizeof(*fds))) == NULL)
		err(Q_IOERR, NULL);
	for (i = 0; i < nfiles; i++) {
		fds[i] = STDIN_FILENO;
		if (strcmp(files[i], "-") != 0 &&
		    (fds[i] = open(files[i], O_RDONLY | O_CLOEXEC)) == -1) {
			warn("%s", files[i]);
			return q_status(errno);
		}
		if (fstat(fds[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			warnx("%s: a directory, not a file", q_vis(files[i]));
			return Q_NOINPUT;
		}
	}
	return Q_OK;
}

/* Each -m TEXT is the message "TEXT\n", as echo TEXT | q put. */
static int
addtexts(struct group *g, const struct text *msgs)
{
	char *buf;
	size_t i;
	int n, status = Q_OK;

	for (i = 0; i < msgs->n && status == Q_OK; i++) {
		if ((n = asprintf(&buf, "%s\n", msgs->v[i])) == -1)
			err(Q_IOERR, NULL);
		status = add(g, buf, (size_t)n);
		free(buf);
	}
	return status;
}

/*
 * Commit the batch with the signals held off, say what went wrong
 * (subscribers included), and print the IDs of what was enqueued.  After
 * the last batch the signals stay held.
 */
static int
commit(struct spool_batch *b, const char *queue, const char *key, int last)
{
	const char *sub;
	enum spool_why why;
	int e, status = Q_OK;
	size_t i, n, dups;

	holdsignals(1);
	/* a reader that went away must give EPIPE, not kill us mid-way */
	(void)signal(SIGPIPE, SIG_IGN);
	n = spool_batch_count(b);
	if (spool_batch_commit(b) == -1) {
		if (spool_batch_count(b) == n)
			warn("%s: enqueued, but the key was not recorded",
			    queue);
		else if (n == 1)
			warn("%s", queue);
		else
			warn("%s: %zu of %zu messages not enqueued", queue,
			    n - spool_batch_count(b), n);
		status = q_status(errno);
	} else if (spool_batch_deduped(b) && key != NULL)
		warnx("%s: %s: a duplicate key, nothing enqueued", q_vis(queue),
		    q_vis(key));
	for (i = dups = 0; i < spool_batch_count(b); i++)
		dups += spool_batch_isdup(b, i) && key == NULL;
	if (dups > 0)
		warnx("%s: %zu of %zu records had a key seen before: "
		    "nothing enqueued for them", q_vis(queue), dups,
		    spool_batch_count(b));
	for (i = 0; (sub = spool_batch_suberror(b, i, &e)) != NULL; i++) {
		why = spool_why(e);
		status = q_first_failure(status, q_report(why, e, NULL,
		    why == SPOOL_WHY_NOTQUEUE || why == SPOOL_WHY_UNMADE ?
		    ", skipped" : NULL,
		    "%s: subs/%s", q_vis(queue), q_vis(sub)));
	}
	for (i = 0; i < spool_batch_count(b); i++)
		printf("%s\n", spool_batch_id(b, i));
	if (fflush(stdout) == EOF || ferror(stdout)) {
		n = spool_batch_count(b);
		warn("%s: stdout: enqueued all the same: %s%s", queue,
		    n > 0 ? spool_batch_id(b, 0) : "nothing",
		    n > 1 ? " and the messages after it" : "");
		status = q_first_failure(status, Q_IOERR);
	}
	if (!last)
		holdsignals(0);
	return status;
}

/*
 * Open every FILE, open or create the queue, write all messages in
 * groups, commit each, print the IDs.
 */
static int
enqueue(const char *queue, const struct spool_putopt *opt,
    const struct text *msgs, int nfiles, char *files[], int sep,
    const struct group *shape)
{
	struct group g = *shape;
	int *fds = NULL, i, status;

	g.sp = NULL;
	g.opt = opt;
	g.queue = queue;
	if ((status = openfiles(nfiles, files, &fds)) != Q_OK ||
	    (status = q_open(queue, SPOOL_OPEN_CREATE, &g.sp)) != Q_OK)
		goto out;
	status = addtexts(&g, msgs);
	for (i = 0; i < nfiles && status == Q_OK; i++)
		status = source(&g, fds[i], sep);
	if (msgs->n == 0 && nfiles == 0 && status == Q_OK)
		status = source(&g, STDIN_FILENO, sep);
	/* the last group, even an empty one: a deduplicated -k says so */
	if (status == Q_OK && !signalled)
		status = flush(&g, 1);
out:
	spool_batch_free(g.b);	/* what was not committed leaves tmp/ */
	spool_close(g.sp);
	free(fds);
	return status;
}

/* What put was asked for on its command line. */
struct args {
	struct spool_putopt	 opt;
	struct text		 msgs;		/* each -m */
	int			 sep;		/* -l '\n', -0 '\0', or -1 */
	int			 lflag, zflag, Kflag;
	struct group		 shape;		/* --group, --linger */
};

/* One option of put into a; Q_OK, or the exit status. */
static int
option(int ch, struct args *a)
{
	long long n;
	int status = Q_OK, at;

	switch (ch) {
	case 'd':
		if ((status = q_moment("delay", optarg, &a->opt.delay, &at)) ==
		    Q_OK && at)
			a->opt.flags |= SPOOL_PUT_AT;
		return status;
	case 'p':
		if ((status = q_number("priority", optarg, 0, 9, &n)) == Q_OK)
			a->opt.prio = (int)n;
		return status;
	case 'k':
		a->opt.key = optarg;
		a->opt.keylen = strlen(optarg);
		return Q_OK;
	case 'K':
		a->Kflag = 1;
		return Q_OK;
	case 'l':
	case '0':
		*(ch == 'l' ? &a->lflag : &a->zflag) = 1;
		a->sep = ch == 'l' ? '\n' : '\0';
		return Q_OK;
	case 'm':
		a->msgs.v = reallocarray(a->msgs.v, a->msgs.n + 1,
		    sizeof(*a->msgs.v));
		if (a->msgs.v == NULL)
			err(Q_IOERR, NULL);
		a->msgs.v[a->msgs.n++] = optarg;
		return Q_OK;
	case 'S':
		a->opt.flags |= SPOOL_PUT_NOSYNC;
		return Q_OK;
	case 'G':
		if ((status = q_number("group", optarg, 1, 1000000, &n)) ==
		    Q_OK)
			a->shape.max = (size_t)n;
		return status;
	case 'L':
		return q_number("linger", optarg, 0, 3600000, &a->shape.linger);
	case 'h':
		return q_usage(1) == Q_OK ? -1 : Q_IOERR;
	default:
		return q_usage(0);
	}
}

/* What is wrong with the operands and options, said: 64; or -1. */
static int
usage(const struct args *a, int argc, char *argv[])
{
	if (a->lflag && a->zflag)
		return q_badusage("-l and -0 exclude each other");
	/* a key names one message */
	if (a->opt.key != NULL && (a->lflag || a->zflag))
		return q_badusage("-k names one message: not with -%c",
		    a->lflag ? 'l' : '0');
	if (a->opt.key != NULL && a->msgs.n + (argc > 1 ?
	    (size_t)argc - 1 : 0) > 1)
		return q_badusage("-k names one message, not several");
	if (a->Kflag && !a->lflag && !a->zflag)
		return q_badusage("-K keys the records of -l or -0");
	if (a->Kflag && a->msgs.n > 0)
		return q_badusage("-K keys records, not -m texts");
	return q_operands(argc, argv, 1, -1, "queue");
}

int
cmd_put(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "priority", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "keyed", no_argument, NULL, 'K' },
		{ "lines", no_argument, NULL, 'l' },
		{ "null", no_argument, NULL, '0' },
		{ "message", required_argument, NULL, 'm' },
		{ "no-sync", no_argument, NULL, 'S' },
		{ "group", required_argument, NULL, 'G' },
		{ "linger", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct args a = { { SPOOL_PRIO_DEFAULT, 0, 0, NULL, 0 }, { NULL, 0 },
	    -1, 0, 0, 0, { NULL, NULL, NULL, NULL, GROUP_MAX, GROUP_LINGER, 0,
	    0, 0 } };
	int ch, status = Q_OK;

	while (status == Q_OK && (ch = getopt_long(argc, argv, "d:p:k:Kl0m:h",
	    longopts, NULL)) != -1)
		status = option(ch, &a);
	argc -= optind;
	argv += optind;
	if (status != Q_OK ||
	    (status = usage(&a, argc, argv)) != -1) {
		free(a.msgs.v);
		return status == -1 ? Q_OK : status;	/* -1: after -h */
	}
	catchsignals();
	a.shape.keyed = a.Kflag;
	if (a.Kflag && a.shape.max > KEYED_MAX)
		a.shape.max = KEYED_MAX;
	if (a.sep == -1) {	/* whole messages: one group, all or nothing */
		a.shape.max = 0;
		a.shape.linger = -1;
	}
	status = enqueue(argv[0], &a.opt, &a.msgs, argc - 1, argv + 1, a.sep,
	    &a.shape);
	free(a.msgs.v);
	if (signalled) {
		/* everything it wrote is gone from tmp/: die of it */
		(void)signal(signalled, SIG_DFL);
		(void)raise(signalled);
		return Q_IOERR;
	}
	return status;
}
