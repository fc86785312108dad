/*
 * qdir.c - the queues of the command line: their paths under $QDIR (or
 * $XDG_STATE_HOME), opening them with the error said once, going through
 * every queue or the ones named, the reference commands' loop over their
 * IDs, and waiting for a queue's messages, or for the queue itself.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "banned.h"

/* dir/name (or a copy of dir when name is NULL), allocated.  Never NULL. */
char *
q_join(const char *dir, const char *name)
{
	size_t len = strlen(dir) + (name != NULL ? strlen(name) + 2 : 1);
	char *p;

	if ((p = malloc(len)) == NULL)
		err(Q_IOERR, NULL);
	if (name != NULL)
		snprintf(p, len, "%s/%s", dir, name);
	else
		memcpy(p, dir, len);
	return p;
}

/* $QDIR, or ${XDG_STATE_HOME:-$HOME/.local/state}/q.  Never NULL. */
char *
q_qdir(void)
{
	const char *s, *home;

	/* relative to what?  cron and the shell would disagree */
	if ((s = getenv("QDIR")) != NULL && *s != '\0') {
		if (*s != '/')
			errx(Q_USAGE, "QDIR: %s: not an absolute path",
			    q_vis(s));
		return q_join(s, NULL);
	}
	if ((s = getenv("XDG_STATE_HOME")) != NULL && *s != '\0') {
		if (*s != '/')
			errx(Q_USAGE, "XDG_STATE_HOME: %s: not an absolute "
			    "path", q_vis(s));
		return q_join(s, "q");
	}
	if ((home = getenv("HOME")) == NULL || *home == '\0')
		errx(Q_USAGE, "neither QDIR nor HOME is set");
	return q_join(home, ".local/state/q");
}

/*
 * The path of the queue named on the command line: itself if it has a
 * '/', otherwise a name under q_qdir().  NULL (and a message) for a name
 * that is no queue name.
 */
/* The length of s less trailing slashes ("photos/": 6; "/" stays). */
static size_t
trimmed(const char *s)
{
	size_t len = strlen(s);

	while (len > 1 && s[len - 1] == '/')
		len--;
	return len;
}

char *
q_path(const char *queue)
{
	char *dir, *path, *name;

	if ((name = strndup(queue, trimmed(queue))) == NULL)
		err(Q_IOERR, NULL);
	if (strchr(name, '/') != NULL)
		return name;
	if (name[0] == '\0' || name[0] == '.') {
		warnx("%s: invalid queue name", q_vis(queue));
		free(name);
		return NULL;
	}
	dir = q_qdir();
	path = q_join(dir, name);
	free(dir);
	free(name);
	return path;
}

/* The absolute path of an open queue, for CMD's environment. */
char *
q_queuepath(const char *queue)
{
	char *path, *abs, *cwd;

	if ((path = q_path(queue)) == NULL)
		err(Q_DATAERR, NULL);
	if ((abs = realpath(path, NULL)) != NULL) {
		free(path);
		return abs;
	}
	if (path[0] == '/' || (cwd = getcwd(NULL, 0)) == NULL)
		return path;	/* not there yet: as absolute as it gets */
	abs = q_join(cwd, path);
	free(cwd);
	free(path);
	return abs;
}

/*
 * spool_open(), with the node name of Q_HOST when that is set; a Q_HOST
 * that is no node name ends the command (64), as a bad option would.
 */
struct spool *
q_spool_open(const char *path, int flags)
{
	const char *host = getenv("Q_HOST");
	struct spool *sp;

	if ((sp = spool_open(path, flags)) != NULL && host != NULL &&
	    *host != '\0' && spool_set_host(sp, host) == -1)
		exit(q_report(spool_why(errno), errno, NULL, NULL, "Q_HOST"));
	return sp;
}

/*
 * Say what is wrong with the config file of the queue at path (opened as
 * sp, or to be opened again to find out), and return 65.
 */
static int
badconfig(struct spool *sp, const char *queue, const char *path)
{
	struct spool *again = NULL;
	const char *what = NULL;
	char *file;

	if (sp == NULL &&
	    (sp = again = q_spool_open(path, SPOOL_OPEN_ANYCONFIG)) == NULL)
		sp = NULL;
	if (sp != NULL)
		what = spool_config_error(sp);
	file = q_join(path, "config");
	if (what != NULL)
		warnx("%s: malformed config: %s: %s", q_vis(queue),
		    q_vis(file), what);
	else
		warnx("%s: malformed config", q_vis(queue));
	free(file);
	spool_close(again);
	return Q_DATAERR;
}

/*
 * Open the queue named on the command line.  Prints the error and returns
 * the exit status, or returns 0 with *spp set.
 */
int
q_open(const char *queue, int flags, struct spool **spp)
{
	enum spool_why why;
	char *path;
	int saved, status = Q_OK;

	*spp = NULL;
	if ((path = q_path(queue)) == NULL)
		return Q_DATAERR;
	if ((*spp = q_spool_open(path, flags)) != NULL) {
		/* opened with SPOOL_OPEN_ANYCONFIG */
		if (spool_config_error(*spp) != NULL)
			(void)badconfig(*spp, queue, path);
	} else {
		saved = errno;
		why = spool_why(saved);
		status = why == SPOOL_WHY_CONFIG ?
		    badconfig(NULL, queue, path) :
		    q_report(why, saved, NULL, NULL, "%s", q_vis(queue));
	}
	free(path);
	return status;
}

/*
 * The shape of ack, fail, release and touch: open the queue argv[0] and
 * apply fn to every reference after it.  Every reference is tried; the
 * first failure decides the exit status.
 */
int
q_each(int argc, char *argv[], q_refop *fn, void *arg, const char *notfound)
{
	struct spool *sp;
	int i, status;

	if ((status = q_operands(argc, argv, 2, -1, "queue id")) != -1)
		return status;
	if ((status = q_checkrefs(argv[0], argc - 1, argv + 1)) != Q_OK)
		return status;
	if ((status = q_open(argv[0], 0, &sp)) != Q_OK)
		return status;
	for (i = 1; i < argc; i++)
		if (fn(sp, argv[i], arg) == -1)
			status = q_first_failure(status, q_fail(errno,
			    notfound, NULL, "%s: %s", q_vis(argv[0]),
			    q_vis(argv[i])));
	spool_close(sp);
	return q_finish(status);
}

/* A directory with a new/ entry of any kind: meant to be a queue. */
static int
q_isqueuedir(const char *path)
{
	struct stat st;
	char *p;
	int r;

	p = q_join(path, "new");
	r = lstat(p, &st) == 0;
	free(p);
	return r;
}

/*
 * Whether path is a symbolic link to a directory of realdir (a queue of
 * QDIR under a second name, which is listed under its own).
 */
static int
q_alias(const char *realdir, const char *path)
{
	struct stat st;
	char *real, *slash;
	int r;

	if (lstat(path, &st) == -1 || !S_ISLNK(st.st_mode) ||
	    (real = realpath(path, NULL)) == NULL)
		return 0;
	slash = strrchr(real, '/');
	slash[slash == real] = '\0';
	r = strcmp(real, realdir) == 0;
	free(real);
	return r;
}

/* Entries of $QDIR that may be queues: no dot files. */
static int
visible(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

static int
byname(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/*
 * Call fn for the queue at qdir/name, or report why it is none (with
 * Q_QUIET, say nothing and skip it).  A link to a queue of QDIR (realdir)
 * is skipped: it is listed under its own name.
 */
static int
oneunder(const char *qdir, const char *realdir, const char *name, int flags,
    unsigned how, q_queueop *fn, void *arg)
{
	struct spool *sp;
	char *path;
	int status = Q_OK;

	path = q_join(qdir, name);
	if (q_alias(realdir, path))
		;
	else if ((sp = q_spool_open(path, flags)) != NULL) {
		if (spool_config_error(sp) != NULL && !(how & Q_QUIET))
			(void)badconfig(sp, name, path);
		status = fn(name, sp, arg);
		spool_close(sp);
	} else if (!(how & Q_QUIET) && ((errno != ENOENT && errno != ENOTDIR) ||
	    (errno == ENOTDIR && q_isqueuedir(path))))
		status = q_open(path, flags, &sp);
	free(path);
	return status;
}

/*
 * Call fn for every queue under $QDIR, in the byte order of their names,
 * with its name and its open handle.  Entries that are not queues, and
 * links to queues listed under their own name, are skipped silently; a
 * queue that cannot be opened is reported (with Q_QUIET skipped too).  A
 * QDIR that is not there is reported (a typo in a crontab must not pass
 * for an empty spool), except with Q_QUIET.  Returns the first failure.
 */
int
q_everyqueue(int flags, unsigned how, q_queueop *fn, void *arg)
{
	struct dirent **de;
	char *qdir, *realdir;
	int i, n, status = Q_OK;

	qdir = q_qdir();
	if ((n = scandir(qdir, &de, visible, byname)) == -1 ||
	    (realdir = realpath(qdir, NULL)) == NULL) {
		if (!(how & Q_QUIET))
			status = q_report(SPOOL_WHY_SYSTEM, errno,
			    "no queue directory", NULL, "%s", q_vis(qdir));
		for (i = 0; i < n; i++)
			free(de[i]);
		if (n != -1)
			free(de);
		free(qdir);
		return status;
	}
	for (i = 0; i < n; i++) {
		status = q_first_failure(status, oneunder(qdir, realdir,
		    de[i]->d_name, flags, how, fn, arg));
		free(de[i]);
	}
	free(de);
	free(realdir);
	free(qdir);
	return status;
}

int
q_allqueues(int flags, q_queueop *fn, void *arg)
{
	return q_everyqueue(flags, 0, fn, arg);
}

/* Call fn for each queue named, or for every queue if none is. */
int
q_queues(int argc, char *argv[], int flags, q_queueop *fn, void *arg)
{
	int i, status = Q_OK;

	if (argc == 0)
		return q_allqueues(flags, fn, arg);
	for (i = 0; i < argc; i++)
		status = q_first_failure(status, q_onequeue(argv[i], flags, fn,
		    arg));
	return status;
}

/* Call fn for the queue named queue. */
int
q_onequeue(const char *queue, int flags, q_queueop *fn, void *arg)
{
	struct spool *sp;
	int status;

	if ((status = q_open(queue, flags, &sp)) != Q_OK)
		return status;
	status = fn(queue, sp, arg);
	spool_close(sp);
	return status;
}

/*
 * The name of queue's subscription: the queue's name, or its last part
 * ("/a/billing/" is "billing").  Static; too long a name is cut, and the
 * library refuses it.
 */
const char *
q_subname(const char *queue)
{
	static char name[NAME_MAX + 2];
	const char *p;
	size_t n = trimmed(queue);

	for (p = queue + n; p > queue && p[-1] != '/'; p--)
		;
	n -= (size_t)(p - queue);
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, p, n);
	name[n] = '\0';
	return name;
}

/* Milliseconds on the monotonic clock, for deadlines. */
long long
q_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waiting for messages: the queue handle hears of arrivals and knows when
 * delayed ones fall due (spool_wait()); claims that expire or whose worker
 * dies make no event in new/, so a waiter looks at cur/ every
 * Q_RECOVER_MS.  Sleep until something arrives, or limit ms (-1: no
 * limit) pass.
 */
void
q_wait(struct spool *sp, long long limit)
{
	if (limit < 0 || limit > Q_RECOVER_MS)
		limit = Q_RECOVER_MS;
	(void)spool_wait(sp, limit);
}

/*
 * Open queue into *spp as q_open() does, and if it is not there yet (a
 * unit started before the first put) or not yet one (an empty directory,
 * a mount point say, which the first put makes a queue), say so once
 * unless quiet, and look for it every second until it appears (q work
 * -f).  Returns what q_open does, or -1 when a stop signal came first.
 */
int
q_appear(const char *queue, int quiet, struct spool **spp)
{
	struct timespec tick = { 1, 0 };
	enum spool_why why;
	sigset_t mask, old;
	char *path;
	int status = -1, said = 0;

	if ((path = q_path(queue)) == NULL)
		return Q_DATAERR;
	(void)sigemptyset(&mask);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGINT);
	(void)sigaddset(&mask, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &mask, &old);
	while ((*spp = q_spool_open(path, 0)) == NULL) {
		why = spool_why(errno);
		if (why != SPOOL_WHY_NOQUEUE && why != SPOOL_WHY_UNMADE) {
			status = q_open(queue, 0, spp);
			break;
		}
		if (!said++ && !quiet)
			warnx("%s: %s, waiting for it", q_vis(queue),
			    why == SPOOL_WHY_NOQUEUE ? "no such queue yet" :
			    "not a queue yet");
		if (sigtimedwait(&mask, NULL, &tick) > 0)
			break;
	}
	if (*spp != NULL)
		status = Q_OK;
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	free(path);
	return status;
}
