/*
 * put.c - q put: enqueue messages.
 *
 * SIGINT, SIGTERM and SIGHUP (unless ignored when q put started, as under
 * nohup) stop the reading: a read in progress returns EINTR, the messages
 * written so far into tmp/ are removed, no ID is printed, and q put dies
 * of the signal.  Once the commit has begun the signals are held off: it
 * completes, the IDs are printed, and q put exits as usual.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "banned.h"

struct text {
	char		**v;
	size_t		  n;
};

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

/* From now on the signals wait until q put has exited. */
static void
holdsignals(void)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof(stopsigs) / sizeof(stopsigs[0]); i++)
		sigaddset(&set, stopsigs[i]);
	(void)sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Add the records of fd separated by sep to the batch. */
static int
records(struct spool_batch *b, FILE *f, int sep)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0;

	while (!signalled && (len = getdelim(&line, &cap, sep, f)) != -1) {
		if (sep == '\0' && len > 0 && line[len - 1] == '\0')
			len--;
		if ((r = spool_batch_add(b, line, (size_t)len)) == -1)
			break;
	}
	if (r == 0 && ferror(f))
		r = -1;
	free(line);
	return r;
}

/* Add the message(s) read from fd to the batch; print any error. */
static int
source(struct spool_batch *b, const char *queue, int fd, int sep)
{
	FILE *f = NULL;
	int r, saved;

	if (sep == -1)
		r = spool_batch_add_fd(b, fd);
	else if ((f = fdopen(fd, "r")) == NULL)
		r = -1;
	else
		r = records(b, f, sep);
	saved = errno;
	if (f != NULL && fd != STDIN_FILENO)
		(void)fclose(f);
	else if (f == NULL && fd != STDIN_FILENO)
		(void)close(fd);
	if (signalled)
		return Q_IOERR;		/* quietly: cmd_put dies of it */
	if (r == -1) {
		warnc(saved, "%s", queue);
		return q_status(saved);
	}
	return Q_OK;
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
addtexts(struct spool_batch *b, const char *queue, const struct text *msgs)
{
	char *buf;
	size_t i, n;
	int status = Q_OK;

	for (i = 0; i < msgs->n && status == Q_OK; i++) {
		n = strlen(msgs->v[i]);
		if ((buf = malloc(n + 1)) == NULL)
			err(Q_IOERR, NULL);
		memcpy(buf, msgs->v[i], n);
		buf[n] = '\n';
		if (spool_batch_add(b, buf, n + 1) == -1) {
			warn("%s", queue);
			status = q_status(errno);
		}
		free(buf);
	}
	return status;
}

/*
 * Commit the batch with the signals held off, say what went wrong
 * (subscribers included), and print the IDs of what was enqueued.
 */
static int
commit(struct spool_batch *b, const char *queue, const char *key)
{
	const char *sub;
	enum spool_why why;
	int e, status = Q_OK;
	size_t i, n;

	holdsignals();
	/* a reader that went away must give EPIPE, not kill us mid-way */
	(void)signal(SIGPIPE, SIG_IGN);
	n = spool_batch_count(b);
	if (spool_batch_commit(b) == -1) {
		if (spool_batch_count(b) == n)
			warn("%s: enqueued, but the key was not recorded",
			    queue);
		else
			warn("%s: %zu of %zu messages not enqueued", queue,
			    n - spool_batch_count(b), n);
		status = q_status(errno);
	} else if (spool_batch_deduped(b))
		warnx("%s: %s: a duplicate key, nothing enqueued", q_vis(queue),
		    q_vis(key));
	for (i = 0; (sub = spool_batch_suberror(b, i, &e)) != NULL; i++) {
		why = spool_why(e);
		status = q_first_failure(status, q_report(why, e, NULL,
		    why == SPOOL_WHY_NOTQUEUE ? ", skipped" : NULL,
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
	return status;
}

/*
 * Open every FILE, open or create the queue, write all messages, commit,
 * print the IDs.
 */
static int
enqueue(const char *queue, const struct spool_putopt *opt,
    const struct text *msgs, int nfiles, char *files[], int sep)
{
	struct spool_batch *b = NULL;
	struct spool *sp = NULL;
	int *fds = NULL, i, status;

	if ((status = openfiles(nfiles, files, &fds)) != Q_OK ||
	    (status = q_open(queue, SPOOL_OPEN_CREATE, &sp)) != Q_OK)
		goto out;
	if ((b = spool_batch_begin(sp, opt)) == NULL)
		err(Q_IOERR, NULL);
	status = addtexts(b, queue, msgs);
	for (i = 0; i < nfiles && status == Q_OK; i++)
		status = source(b, queue, fds[i], sep);
	if (msgs->n == 0 && nfiles == 0 && status == Q_OK)
		status = source(b, queue, STDIN_FILENO, sep);
	if (status == Q_OK && !signalled)	/* else nothing was enqueued */
		status = commit(b, queue, opt->key);
out:
	spool_batch_free(b);
	spool_close(sp);
	free(fds);
	return status;
}

/* What put was asked for on its command line. */
struct args {
	struct spool_putopt	 opt;
	struct text		 msgs;		/* each -m */
	int			 sep;		/* -l '\n', -0 '\0', or -1 */
	int			 lflag, zflag;
};

/* One option of put into a; Q_OK, or the exit status. */
static int
option(int ch, struct args *a)
{
	long long n;
	int status = Q_OK;

	switch (ch) {
	case 'd':
		return q_delay(optarg, &a->opt.delay);
	case 'p':
		if ((status = q_number("priority", optarg, 0, 9, &n)) == Q_OK)
			a->opt.prio = (int)n;
		return status;
	case 'k':
		a->opt.key = optarg;
		a->opt.keylen = strlen(optarg);
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
	return q_operands(argc, argv, 1, -1, "queue");
}

int
cmd_put(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "priority", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "lines", no_argument, NULL, 'l' },
		{ "null", no_argument, NULL, '0' },
		{ "message", required_argument, NULL, 'm' },
		{ "no-sync", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct args a = { { SPOOL_PRIO_DEFAULT, 0, 0, NULL, 0 }, { NULL, 0 },
	    -1, 0, 0 };
	int ch, status = Q_OK;

	while (status == Q_OK && (ch = getopt_long(argc, argv, "d:p:k:l0m:h",
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
	status = enqueue(argv[0], &a.opt, &a.msgs, argc - 1, argv + 1, a.sep);
	free(a.msgs.v);
	if (signalled) {
		/* everything it wrote is gone from tmp/: die of it */
		(void)signal(signalled, SIG_DFL);
		(void)raise(signalled);
		return Q_IOERR;
	}
	return status;
}
