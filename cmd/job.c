/*
 * job.c - a job of q work, from start to end: CMD found before anything
 * is claimed, the environment of each job, a vfork and exec per job, the
 * watchdog, the renewals of its lease and its time limit, and its exit
 * status acted on.
 *
 * CMD is started with vfork and exec in a process group of its own, with
 * only stdin, stdout and stderr: every descriptor of the worker is
 * close-on-exec, and what the worker inherited is made so once at the
 * start.  A watchdog process kills the groups of running jobs if the
 * worker dies, even by SIGKILL; it holds the worker's liveness lock too,
 * so the lock is free, and the claims can be returned, only once no
 * process of the old jobs is still at work on them.
 *
 * At about 540 lines this file is longer than the others: a job's life is
 * one story, and its parts (spawn, watchdog, renewals, outcome) share the
 * struct job and the worker's timers; the --tag pipes are tag.c's.
 *
 * A job's lease is renewed at a third of it; a renewal that fails means
 * the message is somebody else's now, and the job is stopped (SIGTERM,
 * then SIGKILL after GRACE_MS), its exit acknowledging nothing.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "work.h"
#include "banned.h"

#define GRACE_MS	(5 * 1000)	/* SIGTERM to SIGKILL of a lost job */

/*
 * Find CMD as execvp(3) would, before anything is claimed: 127 if it is
 * nowhere, 126 if it cannot be run.
 */
int
spawn_resolve(const char *cmd, char **out)
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
watchdog(struct spawner *s, int rfd)
{
	char c;
	int i, r, l;

	(void)setpgid(0, 0);	/* no terminal signals */
	if ((r = fcntl(rfd, F_DUPFD, 10)) == -1 ||
	    (l = fcntl(s->lockfd, F_DUPFD, 10)) == -1 ||
	    dup2(r, 3) == -1 || dup2(l, 4) == -1)
		_exit(1);
	closefrom(5);
	setproctitle("%s: watchdog", s->queue);
	while (read(3, &c, 1) == -1 && errno == EINTR)
		;
	for (i = 0; i < s->nslots; i++)
		if (__atomic_load_n(&s->groups[i], __ATOMIC_SEQ_CST) > 0)
			(void)kill(-s->groups[i], SIGKILL);
	_exit(0);
}

static int
watchdog_start(struct spawner *s)
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
		(void)sigprocmask(SIG_SETMASK, &s->oldmask, NULL);
		watchdog(s, p[0]);
	}
	(void)close(p[0]);
	s->dog = pid;
	s->dogfd = p[1];
	return 0;
}

/* Job slot i runs process group pgid now (0: none). */
static void
spawn_tell(struct spawner *s, int slot, pid_t pgid)
{
	__atomic_store_n(&s->groups[slot], pgid, __ATOMIC_SEQ_CST);
}

/*
 * Start the watchdog, or another in place of one that died; the first
 * time, map the slots it shares.
 */
int
spawn_watchdog(struct spawner *s)
{
	if (s->groups == NULL) {
		s->groups = mmap(NULL, (size_t)s->nslots * sizeof(*s->groups),
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (s->groups == MAP_FAILED) {
			s->groups = NULL;
			return -1;
		}
	}
	if (s->dogfd != -1) {
		(void)close(s->dogfd);
		s->dogfd = -1;
	}
	return watchdog_start(s);
}

/*
 * CMD's environment: ours without any Q_ variable of a job, then those of
 * the job at hand, formatted into vars before each start (vfork
 * returns once CMD runs, so the buffers serve every job in turn).
 */
static void
environment_init(struct spawner *s, const char *qpath)
{
	static const char *const names[] = { "Q_QUEUE=", "Q_ID=",
	    "Q_ATTEMPT=", "Q_ENQUEUED=", "Q_TOKEN=", "Q_IDS=", "Q_TOKENS=" };
	const size_t nnames = sizeof(names) / sizeof(names[0]);
	extern char **environ;
	size_t n, k = 0, v;

	for (n = 0; environ[n] != NULL; n++)
		;
	if ((s->env = reallocarray(NULL, n + nnames + 1,
	    sizeof(*s->env))) == NULL ||
	    asprintf(&s->qvar, "Q_QUEUE=%s", qpath) == -1)
		err(Q_IOERR, NULL);
	for (n = 0; environ[n] != NULL; n++) {
		for (v = 0; v < nnames; v++)
			if (strncmp(environ[n], names[v], strlen(names[v])) ==
			    0)
				break;
		if (v == nnames)
			s->env[k++] = environ[n];
	}
	s->env[k++] = s->qvar;
	s->envjob = k;
	s->env[k] = NULL;
}

/*
 * The variables of job j: Q_ID, Q_ATTEMPT, Q_ENQUEUED and Q_TOKEN of its
 * message when it has one; with -b, Q_IDS and Q_TOKENS too (batch.c).
 */
static void
environment(struct spawner *s, const struct job *j)
{
	const struct spool_name *n = &j->msg[0].m.n;
	size_t k = s->envjob, v;

	if (j->n == 1) {
		snprintf(s->vars[0], sizeof(s->vars[0]), "Q_ID=%.*s",
		    (int)n->idlen, n->name);
		snprintf(s->vars[1], sizeof(s->vars[1]), "Q_ATTEMPT=%u",
		    n->attempts - n->base);
		snprintf(s->vars[2], sizeof(s->vars[2]), "Q_ENQUEUED=%lld",
		    (long long)n->sec);
		v = strlcpy(s->vars[3], "Q_TOKEN=", sizeof(s->vars[3]));
		q_token(n, s->vars[3] + v, sizeof(s->vars[3]) - v);
		for (v = 0; v < 4; v++)
			s->env[k++] = s->vars[v];
	}
	s->env[k] = NULL;
	if (s->batch)
		batch_environment(s, j, k);
}

/*
 * Start CMD for job j: its message open on stdin, or with -b the
 * messages open as descriptors 3 and up, their paths /dev/fd/N in its
 * arguments, and /dev/null on stdin (batch.c).  vfork(2) rather
 * than posix_spawn(3): the child has only to join a process group of its
 * own, restore the signal mask and the two signals q ignores, take its
 * descriptors and exec (every other descriptor is close-on-exec: see
 * cloexec()); glibc's posix_spawn also maps a stack for each child and
 * resets the disposition of every signal one system call at a time, a
 * tenth of the cost of a job as short as true(1).  With out (--tag), the
 * two pipes of tag.c become its stdout and stderr.  Until it execs, the
 * child shares the worker's memory (the worker is suspended meanwhile)
 * and reports a failure there.  q work installs no signal handler (it
 * reads signals from a signalfd), so none can run in the child either.
 * Returns the pid, or -1 with errno.
 */
static pid_t
spawn_job(struct spawner *s, const struct job *j, const int *out)
{
	volatile int fail = 0;
	int fd = s->batch ? s->nullfd : j->msg[0].m.fd;
	char **argv = s->batch ? batch_argv(s, j) : s->argv;
	struct sigaction dfl;
	pid_t pid;

	environment(s, j);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	if ((pid = vfork()) == 0) {
		if (setpgid(0, 0) == -1 ||
		    sigaction(SIGPIPE, &dfl, NULL) == -1 ||
		    sigaction(SIGXFSZ, &dfl, NULL) == -1 ||
		    sigprocmask(SIG_SETMASK, &s->oldmask, NULL) == -1 ||
		    (fd == STDIN_FILENO ? fcntl(fd, F_SETFD, 0) :
		    dup2(fd, STDIN_FILENO)) == -1 ||
		    (out != NULL && (dup2(out[0], STDOUT_FILENO) == -1 ||
		    dup2(out[1], STDERR_FILENO) == -1)) ||
		    (s->batch && batch_fds(s, j) == -1) ||
		    execve(s->cmd, argv, s->env) == -1)
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

/*
 * Before the first job: what the worker inherited made close-on-exec, the
 * environment of the jobs, no watchdog yet.  s->cmd, s->argv, s->nslots,
 * s->lockfd, s->queue and s->oldmask are the caller's to set.
 */
void
spawn_init(struct spawner *s, const char *qpath)
{
	s->groups = NULL;
	s->dog = 0;
	s->dogfd = -1;
	cloexec();
	environment_init(s, qpath);
	batch_init(s);
}

/* After the last job: the watchdog sees the end of its pipe, and goes. */
void
spawn_end(struct spawner *s)
{
	if (s->dogfd != -1)
		(void)close(s->dogfd);
	if (s->dog > 0)
		(void)waitpid(s->dog, NULL, 0);
	free(s->env);
	free(s->qvar);
	batch_end(s);
}

/* How much a line of the log matters: -q keeps only what needs a person. */
enum { NOTE, ALERT };

static void
logmsg(struct worker *w, const struct spool_name *n, int level,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A line of the log about message n (its claim token). */
static void
logmsg(struct worker *w, const struct spool_name *n, int level,
    const char *fmt, ...)
{
	char buf[256], token[SPOOL_NAME_MAX + 1];
	va_list ap;

	if (w->quiet && level == NOTE)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	q_token(n, token, sizeof(token));
	warnx("%s: %s: %s", w->queue, token, buf);
}

void
job_title(struct worker *w)
{
	setproctitle("%s: %d running, %lld done%s", w->queue, w->running,
	    w->started - w->inflight, w->stopping ? ", stopping" : "");
}

int
job_start(struct worker *w, struct job *j)
{
	int wr[2] = { -1, -1 }, k;
	pid_t pid = -1;

	q_token(&j->msg[0].m.n, j->token, sizeof(j->token));
	/* stdin: the claim's own open of the message, the job's alone */
	if (!w->spawn.batch)
		(void)fcntl(j->msg[0].m.fd, F_SETFL, 0);  /* no O_NONBLOCK */
	if (!w->tag || tag_pipes(j, wr) == 0)
		pid = spawn_job(&w->spawn, j, w->tag ? wr : NULL);
	tag_spawned(j, wr, pid);
	for (k = 0; k < j->n; k++) {
		(void)close(j->msg[k].m.fd);
		j->msg[k].m.fd = -1;
		j->msg[k].lost = 0;
	}
	if (pid == -1) {
		warn("%s: %s: %s", w->queue, j->token, w->spawn.cmd);
		return -1;
	}
	spawn_tell(&w->spawn, (int)(j - w->jobs), pid);
	j->pid = pid;
	j->start = q_now_ms();
	j->renew = j->start + w->lease * 1000 / 3;
	j->deadline = w->timeout > 0 ? j->start + w->timeout * 1000 : 0;
	j->killat = 0;
	j->lost = j->timedout = 0;
	w->running++;
	w->inflight += j->n;
	w->started += j->n;
	job_title(w);
	return 0;
}

/* Give message n back for another try (spool_requeue), or to failed/. */
static void
requeue(struct worker *w, struct spool_name *n, const char *why,
    unsigned flags)
{
	long long delay;
	char d[32];

	switch (spool_requeue(w->sp, n->name, w->attempts, flags |
	    (w->killed_all ? SPOOL_REQUEUE_NOW : 0), &delay)) {
	case 0:
		logmsg(w, n, ALERT,
		    "%s, out of attempts (%lld), moved to failed/", why,
		    w->attempts);
		break;
	case 1:
		logmsg(w, n, NOTE, "%s, released, retry in %s", why,
		    spool_duration_format(delay, d, sizeof(d)));
		break;
	default:
		logmsg(w, n, ALERT, "%s, but %s", why, errno == ENOENT ?
		    "the lease was lost" : strerror(errno));
	}
}

/* Act on exit code (-1: killed) of the run that had message k of j. */
static void
outcome(struct worker *w, struct job *j, int k, int code, const char *why)
{
	struct jobmsg *m = &j->msg[k];

	if (m->lost)
		logmsg(w, &m->m.n, ALERT,
		    "%s, but the lease was lost: not acknowledged", why);
	else if (j->lost)	/* another of its batch was: it was stopped */
		requeue(w, &m->m.n, "stopped: the lease of another message "
		    "of its batch was lost", SPOOL_REQUEUE_NOW);
	else if (code == 0 && !j->timedout) {
		if (spool_ack(w->sp, m->m.n.name) == 0)
			logmsg(w, &m->m.n, NOTE, "done");
		else
			logmsg(w, &m->m.n, ALERT, "exit 0, but %s",
			    errno == ENOENT ? "the lease was lost: not "
			    "acknowledged" : strerror(errno));
	} else if (code == 100 && !j->timedout) {
		if (spool_fail(w->sp, m->m.n.name) == 0)
			logmsg(w, &m->m.n, ALERT, "exit 100, moved to failed/");
		else
			logmsg(w, &m->m.n, ALERT, "exit 100, but %s",
			    errno == ENOENT ? "the lease was lost" :
			    strerror(errno));
	} else
		requeue(w, &m->m.n, why, (code == 75 || code == 111) &&
		    !j->timedout ? SPOOL_REQUEUE_TEMPORARY : 0);
}

/* CMD of job j ended with wait status ws: act on it for each message. */
static void
finish(struct worker *w, struct job *j, int ws)
{
	char why[64];
	int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, k;

	if (j->timedout)
		snprintf(why, sizeof(why), "timed out after %llds",
		    w->timeout);
	else if (WIFSIGNALED(ws))
		snprintf(why, sizeof(why), "killed by signal %d",
		    WTERMSIG(ws));
	else
		snprintf(why, sizeof(why), "exit %d", code);
	for (k = 0; k < j->n; k++)
		outcome(w, j, k, code, why);
	j->pid = 0;
	w->running--;
	w->inflight -= j->n;
	job_title(w);
}

void
job_reap(struct worker *w)
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
				spawn_tell(&w->spawn, i, 0);
		if (waitpid(pid, &ws, 0) != pid)
			break;
		if (pid == w->spawn.dog) {
			warnx("%s: the watchdog died; starting another",
			    w->queue);
			w->spawn.dog = 0;
			if (spawn_watchdog(&w->spawn) == -1)
				warn("%s: watchdog", w->queue);
			continue;
		}
		for (i = 0; i < w->njobs; i++)
			if (w->jobs[i].pid == pid) {
				tag_end(&w->jobs[i]);
				finish(w, &w->jobs[i], ws);
				break;
			}
	}
}

/*
 * Renew the leases of job j's messages; returns how many it still holds.
 * A renewal that fails means the message is somebody else's now: the run
 * is stopped (its other messages are renewed until it has ended).
 */
static int
renew(struct worker *w, struct job *j, long long now)
{
	char name[SPOOL_NAME_MAX + 1];
	struct jobmsg *m;
	int k, held = 0;

	for (k = 0; k < j->n; k++) {
		m = &j->msg[k];
		if (m->lost)
			continue;
		if (spool_touch(w->sp, m->m.n.name, w->lease, name) == 0) {
			(void)spool_name_parse(name, &m->m.n);
			held++;
			continue;
		}
		m->lost = 1;
		logmsg(w, &m->m.n, ALERT, "lease lost while running: %s; "
		    "stopping it", errno == ENOENT ? "claimed elsewhere" :
		    strerror(errno));
		if (!j->lost) {
			(void)kill(-j->pid, SIGTERM);
			j->killat = now + GRACE_MS;
		}
		j->lost = 1;
	}
	return held;
}

/* Renew leases and enforce -t; returns ms until the next such event. */
long long
job_timers(struct worker *w)
{
	long long now = q_now_ms(), next = -1;
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
		if (j->renew != 0 && now >= j->renew)
			j->renew = renew(w, j, now) > 0 ?
			    now + w->lease * 1000 / 3 : 0;
		if (j->renew != 0 && (next < 0 || j->renew - now < next))
			next = j->renew - now;
		if (j->deadline != 0 && !j->timedout &&
		    (next < 0 || j->deadline - now < next))
			next = j->deadline - now;
		if (j->killat != 0 && (next < 0 || j->killat - now < next))
			next = j->killat - now;
	}
	return next;
}
