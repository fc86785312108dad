/*
 * put.c - q put: enqueue messages.
 */
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

/* Add the records of fd separated by sep to the batch. */
static int
records(struct spool_batch *b, FILE *f, int sep)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0;

	while ((len = getdelim(&line, &cap, sep, f)) != -1) {
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
	if (r == -1) {
		warnc(saved, "%s", queue);
		return q_status(saved);
	}
	return Q_OK;
}

int
cmd_put(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "priority", required_argument, NULL, 'p' },
		{ "lines", no_argument, NULL, 'l' },
		{ "null", no_argument, NULL, '0' },
		{ "message", required_argument, NULL, 'm' },
		{ "no-sync", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct spool_putopt opt = { SPOOL_PRIO_DEFAULT, 0, 0 };
	struct spool_batch *b;
	struct spool *sp;
	struct text msgs = { NULL, 0 };
	const char *queue, *errstr;
	char *buf;
	int *fds;
	size_t i, n;
	int ch, sep = -1, status, lflag = 0, zflag = 0;

	while ((ch = getopt_long(argc, argv, "+d:p:l0m:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			if ((status = q_duration("delay", optarg,
			    &opt.delay)) != Q_OK)
				return status;
			break;
		case 'p':
			opt.prio = (int)strtonum(optarg, 0, 9, &errstr);
			if (errstr != NULL) {
				warnx("invalid priority: %s", optarg);
				return Q_DATAERR;
			}
			break;
		case 'l':
			lflag = 1;
			sep = '\n';
			break;
		case '0':
			zflag = 1;
			sep = '\0';
			break;
		case 'm':
			msgs.v = reallocarray(msgs.v, msgs.n + 1,
			    sizeof(*msgs.v));
			if (msgs.v == NULL)
				err(Q_IOERR, NULL);
			msgs.v[msgs.n++] = optarg;
			break;
		case 'S':
			opt.flags |= SPOOL_PUT_NOSYNC;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (lflag && zflag))
		return q_usage(0);
	queue = argv[0];
	/* every FILE must open before the queue is touched */
	if ((fds = reallocarray(NULL, (size_t)argc, sizeof(*fds))) == NULL)
		err(Q_IOERR, NULL);
	for (i = 1; i < (size_t)argc; i++) {
		fds[i] = STDIN_FILENO;
		if (strcmp(argv[i], "-") != 0 &&
		    (fds[i] = open(argv[i], O_RDONLY | O_CLOEXEC)) == -1) {
			warn("%s", argv[i]);
			return q_status(errno);
		}
	}
	if ((status = q_open(queue, SPOOL_OPEN_CREATE, &sp)) != Q_OK)
		return status;
	if ((b = spool_batch_begin(sp, &opt)) == NULL)
		err(Q_IOERR, NULL);
	for (i = 0; i < msgs.n && status == Q_OK; i++) {
		/* -m TEXT is the message "TEXT\n", as echo TEXT | q put */
		n = strlen(msgs.v[i]);
		if ((buf = malloc(n + 1)) == NULL)
			err(Q_IOERR, NULL);
		memcpy(buf, msgs.v[i], n);
		buf[n] = '\n';
		if (spool_batch_add(b, buf, n + 1) == -1) {
			warn("%s", queue);
			status = q_status(errno);
		}
		free(buf);
	}
	for (i = 1; i < (size_t)argc && status == Q_OK; i++)
		status = source(b, queue, fds[i], sep);
	if (msgs.n == 0 && argc == 1 && status == Q_OK)
		status = source(b, queue, STDIN_FILENO, sep);
	if (status != Q_OK) {
		spool_batch_free(b);	/* nothing was enqueued */
		spool_close(sp);
		return status;
	}
	/* a reader that went away must give EPIPE, not kill us mid-way */
	(void)signal(SIGPIPE, SIG_IGN);
	n = spool_batch_count(b);
	if (spool_batch_commit(b) == -1) {
		warn("%s: %zu of %zu messages not enqueued", queue,
		    n - spool_batch_count(b), n);
		status = q_status(errno);
	}
	for (i = 0; i < spool_batch_count(b); i++)
		printf("%s\n", spool_batch_id(b, i));
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warn("stdout: %zu message%s enqueued all the same",
		    spool_batch_count(b), spool_batch_count(b) == 1 ? " was" :
		    "s were");
		status = q_worse(status, Q_IOERR);
	}
	spool_batch_free(b);
	spool_close(sp);
	free(msgs.v);
	free(fds);
	return status;
}
