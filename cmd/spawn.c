/*
 * spawn.c - how q work runs CMD: found before anything is claimed, the
 * environment of each job, a vfork and exec per job, and the watchdog.
 *
 * CMD is started with vfork and exec in a process group of its own, with
 * only stdin, stdout and stderr: every descriptor of the worker is
 * close-on-exec, and what the worker inherited is made so once at the
 * start.  A watchdog process kills the groups of running jobs if the
 * worker dies, even by SIGKILL; it holds the worker's liveness lock too,
 * so the lock is free, and the claims can be returned, only once no
 * process of the old jobs is still at work on them.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "work.h"
#include "banned.h"

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
void
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
pid_t
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
