/*
 * work.c - q work: the worker loop.
 *
 * The worker holds its liveness lock (spool_live(): flock of
 * live/PID@HOST in the queue) from before its first sweep to its end, and
 * marks its claims w=PID@HOST; a sweeper that can take that lock knows the
 * worker is gone and returns its claims at once.  Each renewal also writes
 * a heartbeat there, so a sweeper whose clock jumped ahead does not take
 * claims the worker is renewing (q(5)).  CMD runs once per message with
 * an open of the message file of its own on stdin (nothing of the lock),
 * at most -j at a time.  The loop sleeps in poll() on a signalfd (SIGCHLD,
 * SIGTERM, SIGINT, SIGHUP) and, with -f, on inotify of new/; its timeout
 * is the nearest of: a lease to renew (a third of the lease after the last
 * renewal), a CMD to kill (-t, or a lost lease), the earliest delayed
 * message, and the next look at cur/ for the claims of dead workers and
 * expired leases (every Q_RECOVER_MS, busy or idle), when the worker also
 * checks that its queue is still there.
 *
 * CMD is started with vfork and exec in a process group of its own, with
 * only stdin, stdout and stderr: every descriptor of the worker is
 * close-on-exec, and what the worker inherited is closed in the child.
 * -t, a lost lease and a second signal kill the whole group.  A watchdog
 * process (below) kills the groups of running jobs if the worker dies,
 * even by SIGKILL; it holds the worker's liveness lock too, so the lock is
 * free, and the claims can be returned, only once no process of the old
 * jobs is still at work on them.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "banned.h"

#define SWEEP_MS	(60 * 1000)	/* all of the housekeeping, at least */
#define SWEEP_GAP_MS	(5 * 1000)	/* and when idle at most this often */
#define GRACE_MS	(5 * 1000)	/* SIGTERM to SIGKILL of a lost job */

struct job {
	pid_t		 pid;		/* 0: slot free */
	struct spool_msg m;
	char		 token[SPOOL_NAME_MAX + 1];
	long long	 start, renew, deadline;	/* q_now_ms() */
	long long	 killat;	/* lease lost: SIGKILL then */
	int		 lost, timedout;
};

struct worker {
	struct spool	*sp;
	const char	*queue;
	char		*qpath;
	char		*cmd;		/* resolved CMD */
	char		**argv;
	long long	 lease, timeout, attempts, max;
	int		 lflag, aflag;	/* -l, -a given: config does not */
	int		 njobs, running, follow, quiet;
	long long	 started;
	int		 stopping;	/* signals received */
	int		 killed_all;	/* a second signal killed the jobs */
	long long	 lastsweep;	/* q_now_ms() */
	long long	 lastrecover;	/* of cur/ and tmp/ only */
	int		 lockfd;	/* our liveness lock */
	int		 status;
	struct job	*jobs;
	pid_t		 self;
	pid_t		 dog;		/* the watchdog */
	int		 dogfd;		/* its pipe */
	pid_t		*groups;	/* shared with it: job i's group */
	sigset_t	 oldmask;	/* the mask CMD gets */
	char		**env;		/* of every CMD: environ, */
	char		*qvar;		/* Q_QUEUE= */
	char		 vars[3][SPOOL_NAME_MAX + 16];	/* the job's */
};

static void
logmsg(struct worker *w, const struct job *j, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
logmsg(struct worker *w, const struct job *j, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (w->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	warnx("%s: %s: %s", w->queue, j->token, buf);
}

/*
 * Find CMD as execvp(3) would, before anything is claimed: 127 if it is
 * nowhere, 126 if it cannot be run.
 */
static int
resolve(const char *cmd, char **out)
{
	const char *path, *p, *e;
	struct stat st;
	char *cand;
	size_t len;
	int denied = 0;

	if (strchr(cmd, '/') != NULL) {
		if (stat(cmd, &st) == -1) {
			warn("%s", cmd);
			return 127;
		}
		if (S_ISDIR(st.st_mode) || access(cmd, X_OK) == -1) {
			warnx("%s: cannot execute", cmd);
			return 126;
		}
		*out = q_join(cmd, NULL);
		return 0;
	}
	if ((path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = e + 1) {
		e = strchr(p, ':');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if ((cand = malloc(len + strlen(cmd) + 3)) == NULL)
			err(Q_IOERR, NULL);
		snprintf(cand, len + strlen(cmd) + 3, "%.*s%s%s", (int)len,
		    len == 0 ? "." : p, "/", cmd);
		if (len == 0)
			snprintf(cand, strlen(cmd) + 3, "./%s", cmd);
		if (stat(cand, &st) == 0 && !S_ISDIR(st.st_mode)) {
			if (access(cand, X_OK) == 0) {
				*out = cand;
				return 0;
			}
			denied = 1;
		}
		free(cand);
		if (e == NULL)
			break;
	}
	if (denied) {
		warnx("%s: cannot execute", cmd);
		return 126;
	}
	warnx("%s: command not found", cmd);
	return 127;
}

static void
title(struct worker *w)
{
	setproctitle("%s: %d running, %lld done%s", w->queue, w->running,
	    w->started - w->running, w->stopping ? ", stopping" : "");
}

/*
 * The watchdog, forked once.  The worker keeps the process group of each
 * running job in a slot of a shared mapping, set when it starts the job
 * and cleared before it reaps it (until the reap the group's ID cannot be
 * reused); no system call, no wake-up.  The watchdog sleeps in read() on a
 * pipe whose only writer is the worker: end of file means the worker is
 * gone, however it died, and the watchdog kills the groups still listed.
 * It shares the worker's liveness lock (the same open file), which is
 * free only when both are gone: so no process of an old job is at work on
 * a message that a sweeper has returned.  Never returns.
 */
static void
watchdog(struct worker *w, int rfd)
{
	char c;
	int i, r, l;

	(void)setpgid(0, 0);	/* no terminal signals */
	if ((r = fcntl(rfd, F_DUPFD, 10)) == -1 ||
	    (l = fcntl(w->lockfd, F_DUPFD, 10)) == -1 ||
	    dup2(r, 3) == -1 || dup2(l, 4) == -1)
		_exit(1);
	closefrom(5);
	setproctitle("%s: watchdog", w->queue);
	while (read(3, &c, 1) == -1 && errno == EINTR)
		;
	for (i = 0; i < w->njobs; i++)
		if (__atomic_load_n(&w->groups[i], __ATOMIC_SEQ_CST) > 0)
			(void)kill(-w->groups[i], SIGKILL);
	_exit(0);
}

static int
watchdog_start(struct worker *w)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		(void)close(p[0]);
		(void)close(p[1]);
		return -1;
	}
	if (pid == 0) {
		(void)close(p[1]);
		(void)signal(SIGINT, SIG_IGN);
		(void)signal(SIGTERM, SIG_IGN);
		(void)signal(SIGHUP, SIG_IGN);
		(void)sigprocmask(SIG_SETMASK, &w->oldmask, NULL);
		watchdog(w, p[0]);
	}
	(void)close(p[0]);
	w->dog = pid;
	w->dogfd = p[1];
	return 0;
}

/* Job slot i runs process group pgid now (0: none). */
static void
tell(struct worker *w, struct job *j, pid_t pgid)
{
	__atomic_store_n(&w->groups[j - w->jobs], pgid, __ATOMIC_SEQ_CST);
}

/*
 * CMD's environment: ours without any Q_ variable of a job, then those of
 * the job at hand, formatted into w->vars before each start (vfork
 * returns once CMD runs, so the buffers serve every job in turn).
 */
static void
environment_init(struct worker *w)
{
	static const char *const names[] = { "Q_QUEUE=", "Q_ID=",
	    "Q_ATTEMPT=", "Q_ENQUEUED=" };
	extern char **environ;
	size_t n, k = 0, v;

	for (n = 0; environ[n] != NULL; n++)
		;
	if ((w->env = reallocarray(NULL, n + 5, sizeof(*w->env))) == NULL ||
	    asprintf(&w->qvar, "Q_QUEUE=%s", w->qpath) == -1)
		err(Q_IOERR, NULL);
	for (n = 0; environ[n] != NULL; n++) {
		for (v = 0; v < 4; v++)
			if (strncmp(environ[n], names[v], strlen(names[v])) ==
			    0)
				break;
		if (v == 4)
			w->env[k++] = environ[n];
	}
	w->env[k++] = w->qvar;
	w->env[k++] = w->vars[0];
	w->env[k++] = w->vars[1];
	w->env[k++] = w->vars[2];
	w->env[k] = NULL;
}

static void
environment(struct worker *w, const struct job *j)
{
	snprintf(w->vars[0], sizeof(w->vars[0]), "Q_ID=%.*s",
	    (int)j->m.n.idlen, j->m.n.name);
	snprintf(w->vars[1], sizeof(w->vars[1]), "Q_ATTEMPT=%u",
	    j->m.n.attempts - j->m.n.base);
	snprintf(w->vars[2], sizeof(w->vars[2]), "Q_ENQUEUED=%lld",
	    (long long)j->m.n.sec);
}

/*
 * Start CMD with the message open as fd for its stdin.  vfork(2) rather
 * than posix_spawn(3): the child has only to join a process group of its
 * own, restore the signal mask and the two signals q ignores, take fd as
 * stdin and exec (every other descriptor is close-on-exec: see
 * cloexec()); glibc's posix_spawn also maps a stack for each child and
 * resets the disposition of every signal one system call at a time, a
 * tenth of the cost of a job as short as true(1).  Until it execs, the
 * child shares the worker's memory (the worker is suspended meanwhile)
 * and reports a failure there.  q work installs no signal handler (it
 * reads signals from a signalfd), so none can run in the child either.
 * Returns the pid, or -1 with errno.
 */
static pid_t
spawn(struct worker *w, int fd)
{
	volatile int fail = 0;
	struct sigaction dfl;
	pid_t pid;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	if ((pid = vfork()) == 0) {
		if (setpgid(0, 0) == -1 ||
		    sigaction(SIGPIPE, &dfl, NULL) == -1 ||
		    sigaction(SIGXFSZ, &dfl, NULL) == -1 ||
		    sigprocmask(SIG_SETMASK, &w->oldmask, NULL) == -1 ||
		    (fd == STDIN_FILENO ? fcntl(fd, F_SETFD, 0) :
		    dup2(fd, STDIN_FILENO)) == -1 ||
		    execve(w->cmd, w->argv, w->env) == -1)
			fail = errno;
		_exit(127);
	}
	if (pid == -1)
		return -1;
	if (fail != 0) {
		(void)waitpid(pid, NULL, 0);
		errno = fail;
		return -1;
	}
	return pid;
}

static int
start(struct worker *w, struct job *j)
{
	pid_t pid;

	q_token(&j->m.n, j->token, sizeof(j->token));
	environment(w, j);
	/* stdin: the claim's own open of the message, the job's alone */
	(void)fcntl(j->m.fd, F_SETFL, 0);	/* drop O_NONBLOCK */
	pid = spawn(w, j->m.fd);
	(void)close(j->m.fd);
	j->m.fd = -1;
	if (pid == -1) {
		warn("%s: %s: %s", w->queue, j->token, w->cmd);
		return -1;
	}
	tell(w, j, pid);
	j->pid = pid;
	j->start = q_now_ms();
	j->renew = j->start + w->lease * 1000 / 3;
	j->deadline = w->timeout > 0 ? j->start + w->timeout * 1000 : 0;
	j->killat = 0;
	j->lost = j->timedout = 0;
	w->running++;
	w->started++;
	title(w);
	return 0;
}

/* Give a message back for another try, or to failed/ when out of tries. */
static void
retry(struct worker *w, struct job *j, const char *why, int temporary)
{
	long long delay;
	char d[32];

	switch (spool_requeue(w->sp, j->m.n.name, w->attempts,
	    (temporary ? SPOOL_REQUEUE_TEMPORARY : 0) |
	    (w->killed_all ? SPOOL_REQUEUE_NOW : 0), &delay)) {
	case 0:
		logmsg(w, j, "%s, out of attempts (%lld), moved to failed/",
		    why, w->attempts);
		break;
	case 1:
		logmsg(w, j, "%s, released, retry in %s", why,
		    spool_duration_format(delay, d, sizeof(d)));
		break;
	default:
		logmsg(w, j, "%s, but %s", why, errno == ENOENT ?
		    "the lease was lost" : strerror(errno));
	}
}

/* CMD of job j ended with wait status ws: act on it. */
static void
finish(struct worker *w, struct job *j, int ws)
{
	char why[64];
	int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;

	if (j->timedout)
		snprintf(why, sizeof(why), "timed out after %llds",
		    w->timeout);
	else if (WIFSIGNALED(ws))
		snprintf(why, sizeof(why), "killed by signal %d",
		    WTERMSIG(ws));
	else
		snprintf(why, sizeof(why), "exit %d", code);
	if (j->lost)
		logmsg(w, j, "%s, but the lease was lost: not acknowledged",
		    why);
	else if (code == 0 && !j->timedout) {
		if (spool_ack(w->sp, j->m.n.name) == 0)
			logmsg(w, j, "done");
		else
			logmsg(w, j, "exit 0, but %s", errno == ENOENT ?
			    "the lease was lost: not acknowledged" :
			    strerror(errno));
	} else if (code == 100 && !j->timedout) {
		if (spool_fail(w->sp, j->m.n.name) == 0)
			logmsg(w, j, "exit 100, moved to failed/");
		else
			logmsg(w, j, "exit 100, but %s", errno == ENOENT ?
			    "the lease was lost" : strerror(errno));
	} else
		retry(w, j, why, (code == 75 || code == 111) &&
		    !j->timedout);
	j->pid = 0;
	w->running--;
	title(w);
}

static void
reap(struct worker *w)
{
	siginfo_t si;
	pid_t pid;
	int ws, i;

	for (;;) {
		/* look first: the watchdog must hear of it before the reap */
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1 ||
		    si.si_pid == 0)
			break;
		pid = si.si_pid;
		for (i = 0; i < w->njobs; i++)
			if (w->jobs[i].pid == pid)
				tell(w, &w->jobs[i], 0);
		if (waitpid(pid, &ws, 0) != pid)
			break;
		if (pid == w->dog) {
			warnx("%s: the watchdog died; starting another",
			    w->queue);
			(void)close(w->dogfd);
			w->dog = 0;
			w->dogfd = -1;
			if (watchdog_start(w) == -1)
				warn("%s: watchdog", w->queue);
			continue;
		}
		for (i = 0; i < w->njobs; i++)
			if (w->jobs[i].pid == pid) {
				finish(w, &w->jobs[i], ws);
				break;
			}
	}
}

/* Renew leases and enforce -t; returns ms until the next such event. */
static long long
timers(struct worker *w)
{
	long long now = q_now_ms(), next = -1;
	char name[SPOOL_NAME_MAX + 1];
	struct job *j;
	int i;

	for (i = 0; i < w->njobs; i++) {
		j = &w->jobs[i];
		if (j->pid == 0)
			continue;
		if (j->deadline != 0 && now >= j->deadline && !j->timedout) {
			j->timedout = 1;
			(void)kill(-j->pid, SIGKILL);
		}
		if (j->killat != 0 && now >= j->killat) {
			j->killat = 0;
			(void)kill(-j->pid, SIGKILL);
		}
		if (!j->lost && now >= j->renew) {
			if (spool_touch(w->sp, j->m.n.name, w->lease,
			    name) == 0)
				(void)spool_name_parse(name, &j->m.n);
			else {
				/* the message is somebody else's: stop */
				j->lost = 1;
				logmsg(w, j, "lease lost while running: %s; "
				    "stopping it", errno == ENOENT ?
				    "claimed elsewhere" : strerror(errno));
				(void)kill(-j->pid, SIGTERM);
				j->killat = now + GRACE_MS;
			}
			j->renew = now + w->lease * 1000 / 3;
		}
		if (!j->lost && (next < 0 || j->renew - now < next))
			next = j->renew - now;
		if (j->deadline != 0 && !j->timedout &&
		    (next < 0 || j->deadline - now < next))
			next = j->deadline - now;
		if (j->killat != 0 && (next < 0 || j->killat - now < next))
			next = j->killat - now;
	}
	return next;
}

static void
sweepreport(void *arg, enum spool_event ev, enum spool_state st,
    const char *name, int errnum)
{
	struct worker *w = arg;

	(void)st;
	if (ev == SPOOL_EV_ERROR)
		warnc(errnum, "%s: sweep: %s", w->queue, name);
	else if (!w->quiet && (ev == SPOOL_EV_EXPIRED ||
	    ev == SPOOL_EV_DEAD || ev == SPOOL_EV_EXHAUSTED))
		warnx("%s: %s: %s", w->queue, name,
		    ev == SPOOL_EV_EXPIRED ? "lease expired, returned" :
		    ev == SPOOL_EV_DEAD ? "its worker is gone, returned" :
		    "out of attempts, moved to failed/");
}

/* The queue directory went away: stop, and stop the jobs too. */
static void
gone(struct worker *w, int errnum)
{
	int i;

	warnx("%s: %s", w->queue, errnum == ESTALE ?
	    "another directory took the queue's place; stopping" :
	    "the queue directory was removed; stopping");
	w->status = Q_IOERR;
	w->stopping++;
	for (i = 0; i < w->njobs; i++)
		if (w->jobs[i].pid != 0)
			(void)kill(-w->jobs[i].pid, SIGTERM);
	title(w);
}

/*
 * Housekeeping: every Q_RECOVER_MS a look at cur/ and tmp/ for the claims
 * of dead workers, expired leases and dead writers' files (cheap), and a
 * check that the queue is still there; with full, all of spool_sweep().
 */
static void
sweep(struct worker *w, int full)
{
	w->lastrecover = q_now_ms();
	if (full)
		w->lastsweep = w->lastrecover;
	if (spool_check(w->sp) == -1) {
		if (w->status == Q_OK)
			gone(w, errno);
		return;
	}
	if (spool_sweep(w->sp, full ? 0 : SPOOL_SWEEP_CLAIMS, sweepreport,
	    w) == -1)
		warn("%s: sweep", w->queue);
}

/*
 * Follow `q config` while running: a stat of the file each time round the
 * loop; lease and attempts follow unless given on the command line, and
 * the library's own settings (retention, backoff, ...) follow anyway.
 */
static void
reconfig(struct worker *w)
{
	const struct spool_config *c = spool_config(w->sp);

	switch (spool_config_reload(w->sp)) {
	case 1:
		if (!w->lflag)
			w->lease = c->lease;
		if (!w->aflag)
			w->attempts = c->attempts;
		break;
	case -1:
		warn("%s: config, keeping the settings", w->queue);
		break;
	}
}

/* Housekeeping that is due now; returns ms until the next is. */
static long long
housekeeping(struct worker *w)
{
	long long now = q_now_ms(), left;

	if (now - w->lastrecover >= Q_RECOVER_MS)
		sweep(w, w->follow && now - w->lastsweep >= SWEEP_MS);
	left = Q_RECOVER_MS - (q_now_ms() - w->lastrecover);
	return left < 0 ? 0 : left;
}

/* Claim and start jobs while there are free slots.  Returns claims. */
static int
fill(struct worker *w, int *idle)
{
	struct spool_claimopt opt = { w->lease, SPOOL_CLAIM_OPEN, w->self };
	int i, n = 0, r, swept = 0;

	*idle = 0;
	while (!w->stopping && w->running < w->njobs &&
	    (w->max == 0 || w->started < w->max) && w->status == Q_OK) {
		for (i = 0; w->jobs[i].pid != 0; i++)
			;
		r = spool_claim(w->sp, &opt, &w->jobs[i].m);
		if (r == 0 && !swept && (q_now_ms() - w->lastrecover >= 1000 ||
		    q_now_ms() - w->lastsweep >= SWEEP_GAP_MS)) {
			/* nothing ready: expired and dead claims may be */
			sweep(w, q_now_ms() - w->lastsweep >= SWEEP_GAP_MS);
			swept = 1;
			continue;
		}
		if (r == 0) {
			*idle = 1;
			break;
		}
		if (r == -1) {
			warn("%s: claim", w->queue);
			w->status = q_status(errno);
			break;
		}
		n++;
		if (start(w, &w->jobs[i]) == -1) {
			(void)spool_release(w->sp, w->jobs[i].m.n.name, 0);
			w->status = Q_IOERR;
			break;
		}
	}
	return n;
}

/*
 * Signal sig arrived: the first TERM, INT or HUP (a closed terminal or ssh
 * session) stops, the second kills.
 */
static void
stop(struct worker *w, unsigned sig)
{
	int i;

	if (sig == SIGCHLD)
		return;		/* reaped elsewhere */
	if (w->stopping++ == 0) {
		if (!w->quiet && w->running > 0)
			warnx("%s: stopping, waiting for %d job%s", w->queue,
			    w->running, w->running == 1 ? "" : "s");
		title(w);
		return;
	}
	/* a second signal: kill the jobs, release their messages */
	w->killed_all = 1;
	for (i = 0; i < w->njobs; i++)
		if (w->jobs[i].pid != 0)
			(void)kill(-w->jobs[i].pid, SIGKILL);
}

/* Read what the signalfd holds: one read, unless it filled the buffer. */
static void
signalled(struct worker *w, int sfd)
{
	struct signalfd_siginfo si[8];
	ssize_t n;
	int k;

	do {
		if ((n = read(sfd, si, sizeof(si))) <= 0)
			break;
		for (k = 0; k < n / (ssize_t)sizeof(si[0]); k++)
			stop(w, si[k].ssi_signo);
	} while (n == (ssize_t)sizeof(si));
}

/*
 * What the worker inherited, CMD does not: make every descriptor from 3 up
 * close-on-exec (the worker's own are already), once, rather than closing
 * them in each child.
 */
static void
cloexec(void)
{
	struct dirent *de;
	long fd, max;
	DIR *d;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL)
			if ((fd = strtol(de->d_name, NULL, 10)) >= 3 &&
			    fd != dirfd(d))
				(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		(void)closedir(d);
		return;
	}
	if ((max = sysconf(_SC_OPEN_MAX)) == -1 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

static int
loop(struct worker *w)
{
	sigset_t mask;
	struct sigaction sa;
	struct pollfd pfd[2];
	long long ms, t;
	int sfd, idle, nfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	/* a closed terminal stops it too, unless run under nohup(1) */
	if (sigaction(SIGHUP, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN)
		sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &w->oldmask) == -1 ||
	    (sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		warn("signals");
		return Q_IOERR;
	}
	w->dogfd = -1;
	cloexec();
	environment_init(w);
	/* before the watchdog, which shares it, and before the first sweep */
	if ((w->lockfd = spool_live(w->sp)) == -1) {
		warn("%s: liveness lock", w->queue);
		return q_status(errno);
	}
	w->groups = mmap(NULL, (size_t)w->njobs * sizeof(*w->groups),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w->groups == MAP_FAILED || watchdog_start(w) == -1) {
		warn("%s: watchdog", w->queue);
		return Q_IOERR;
	}
	if (w->follow)
		(void)spool_watch(w->sp);
	sweep(w, 1);
	for (;;) {
		reconfig(w);
		t = housekeeping(w);
		(void)fill(w, &idle);
		if (w->running == 0 && (w->stopping || w->status != Q_OK ||
		    (w->max != 0 && w->started >= w->max) ||
		    (idle && !w->follow)))
			break;
		ms = timers(w);
		if (ms < 0 || t < ms)
			ms = t;
		if (w->follow && w->running < w->njobs && !w->stopping) {
			t = spool_wait_ms(w->sp, ms);
			if (t < 0)
				t = 0;
			if (ms < 0 || t < ms)
				ms = t;
		}
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		nfd = 1;
		if (w->follow && (pfd[1].fd = spool_watch(w->sp)) != -1) {
			pfd[1].events = POLLIN;
			nfd = 2;
		}
		if (poll(pfd, (nfds_t)nfd, ms > INT_MAX ? INT_MAX : (int)ms) ==
		    -1 && errno != EINTR) {
			warn("poll");
			w->status = Q_IOERR;
		}
		signalled(w, sfd);
		reap(w);
		if (nfd == 2 && pfd[1].revents != 0)
			spool_heard(w->sp);
		(void)timers(w);
	}
	(void)close(sfd);
	/* the watchdog sees the end of its pipe, and has nothing to kill */
	(void)close(w->dogfd);
	(void)waitpid(w->dog, NULL, 0);
	free(w->env);
	free(w->qvar);
	return w->status;
}

int
cmd_work(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "lease", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max", required_argument, NULL, 'n' },
		{ "attempts", required_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct worker w;
	const char *errstr;
	int ch, status;

	memset(&w, 0, sizeof(w));
	w.njobs = 1;
	while ((ch = getopt_long(argc, argv, "+j:l:t:n:a:fqh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'j':
			w.njobs = (int)strtonum(optarg, 1, 1024, &errstr);
			if (errstr != NULL) {
				warnx("invalid number of jobs: %s", optarg);
				return Q_DATAERR;
			}
			break;
		case 'l':
			if ((status = q_lease(optarg, &w.lease)))
				return status;
			w.lflag = 1;
			break;
		case 't':
			if ((status = q_duration("timeout", optarg,
			    &w.timeout)))
				return status;
			break;
		case 'n':
			w.max = strtonum(optarg, 1, LLONG_MAX, &errstr);
			if (errstr != NULL) {
				warnx("invalid maximum: %s", optarg);
				return Q_DATAERR;
			}
			break;
		case 'a':
			w.attempts = strtonum(optarg, 1, 1000000, &errstr);
			if (errstr != NULL) {
				warnx("invalid attempts: %s", optarg);
				return Q_DATAERR;
			}
			w.aflag = 1;
			break;
		case 'f':
			w.follow = 1;
			break;
		case 'q':
			w.quiet = 1;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc >= 2 && strcmp(argv[1], "--") == 0) {
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	if (argc < 2)
		return q_usage(0);
	w.queue = argv[0];
	w.argv = argv + 1;
	if ((status = resolve(argv[1], &w.cmd)) != 0)
		return status;
	if ((status = q_open(w.queue, 0, &w.sp)) != Q_OK) {
		free(w.cmd);
		return status;
	}
	w.qpath = q_queuepath(w.queue);
	if (w.lease == 0)
		w.lease = spool_config(w.sp)->lease;
	if (w.attempts == 0)
		w.attempts = spool_config(w.sp)->attempts;
	if ((w.jobs = calloc((size_t)w.njobs, sizeof(*w.jobs))) == NULL)
		err(Q_IOERR, NULL);
	w.self = getpid();
	(void)signal(SIGPIPE, SIG_IGN);
	title(&w);
	status = loop(&w);
	spool_close(w.sp);
	free(w.jobs);
	free(w.qpath);
	free(w.cmd);
	return status;
}
