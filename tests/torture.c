/*
 * torture.c - producers, killed workers and a sweeper on one queue; then
 * a count of what arrived.
 *
 *	torture [-P producers] [-N messages] [-W workers] [-K kill-ms]
 *	    [-T seconds] [-S] [-s seed] Q QUEUE DIR
 *	torture record LOG
 *
 * In a fresh QUEUE, P producer processes put N messages each through
 * libspool, each body a string unique to the message, and write "ID BODY"
 * for every ID they are given to DIR/put.P.  W worker processes run
 * "Q work -f -q -l 2 QUEUE -- torture record DIR/log"; "record" appends
 * "Q_ID BODY GEN" to the log and exits 0, GEN naming the worker process
 * that ran it.  Every 1 to 2*K ms (K 0: never) a random worker is killed
 * with SIGKILL and another started in its place; a sweeper runs "Q sweep
 * QUEUE" in a loop.  When the producers are done and new/ is empty (or T
 * seconds have passed) everything is stopped, and after the lease has
 * surely passed a last "Q sweep" and a draining "Q work" run.
 *
 * Then the checks: every ID put was processed (is in the log) with its
 * own body; a message processed k times has k - 1 of its runs by workers
 * that were killed (so duplicates come from kills only); tmp/, new/, cur/
 * and failed/ are empty and done/ holds every ID exactly once, and nothing
 * else.  Prints the figures; exits 0 if every check passed, 1 if not, 2 on
 * a usage or set-up error.  -S puts without fsync (faster; the test is not
 * about power cuts).
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

#define LEASE		"2"	/* seconds: short, so kills cost little */
#define MAXWORKERS	64
#define MAXPRODUCERS	64

struct worker {
	pid_t	 pid;
	long	 gen;		/* which start of a worker this is */
	double	 started;
	int	 killed;	/* sent SIGKILL, not yet reaped */
};

static const char *qbin, *queue, *dir;
static char self[PATH_MAX];
static char logpath[PATH_MAX];
static int failures;

static void
fail(const char *fmt, ...)
{
	va_list ap;

	if (++failures > 20)
		return;		/* enough said */
	va_start(ap, fmt);
	fputs("torture: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
die(const char *what)
{
	fprintf(stderr, "torture: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* "record LOG": append "Q_ID BODY GEN" to LOG in one write, exit 0. */
static int
record(const char *log)
{
	char body[256], line[1024];
	const char *id = getenv("Q_ID"), *gen = getenv("TORTURE_GEN");
	size_t len = 0;
	ssize_t n;
	int fd, r;

	while (len < sizeof(body) - 1 &&
	    (n = read(STDIN_FILENO, body + len, sizeof(body) - 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return 111;
		}
		len += (size_t)n;
	}
	r = snprintf(line, sizeof(line), "%s %.*s %s\n", id ? id : "?",
	    (int)len, body, gen ? gen : "?");
	if (r < 0 || (size_t)r >= sizeof(line))
		return 111;
	if ((fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) == -1)
		return 111;
	if (write(fd, line, (size_t)r) != r) {
		close(fd);
		return 111;
	}
	return close(fd) == 0 ? 0 : 111;
}

/* Run "qbin args..." with stdout to /dev/null, stderr appended to errf. */
static pid_t
spawn(const char *errf, const char *gen, char *const argv[])
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		die("fork");
	if (pid > 0)
		return pid;
	if (gen != NULL)
		setenv("TORTURE_GEN", gen, 1);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	if ((fd = open(errf, O_WRONLY | O_APPEND | O_CREAT, 0644)) != -1) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	execv(qbin, argv);
	_exit(127);
}

static char *
path(const char *name)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

/* Run qbin with argv to its end; its exit status, or -1. */
static int
runq(const char *errf, const char *gen, char *const argv[])
{
	pid_t pid = spawn(errf, gen, argv);
	int ws;

	while (waitpid(pid, &ws, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static pid_t
start_worker(struct worker *w, long gen)
{
	char g[32];
	char *argv[] = { "q", "work", "-f", "-q", "-l", LEASE, (char *)queue,
	    "--", self, "record", logpath, NULL };

	snprintf(g, sizeof(g), "%ld", gen);
	w->gen = gen;
	w->killed = 0;
	w->started = now();
	w->pid = spawn(path("work.err"), g, argv);
	return w->pid;
}

static volatile sig_atomic_t sweeper_stop;

static void
on_term(int sig)
{
	(void)sig;
	sweeper_stop = 1;
}

/* The sweeper: q sweep QUEUE in a loop until SIGTERM. */
static pid_t
start_sweeper(void)
{
	char *argv[] = { "q", "sweep", (char *)queue, NULL };
	pid_t pid;
	int st;

	if ((pid = fork()) == -1)
		die("fork");
	if (pid > 0)
		return pid;
	signal(SIGTERM, on_term);
	while (!sweeper_stop) {
		st = runq(path("sweep.err"), NULL, argv);
		if (st != 0 && !sweeper_stop) {
			fprintf(stderr, "torture: sweep exited %d\n", st);
			_exit(1);
		}
		sleep_ms(50);
	}
	_exit(0);
}

/* A producer: n messages, each body unique, "ID BODY" to put.P. */
static pid_t
start_producer(int p, int n, int nosync)
{
	struct spool_putopt opt = { SPOOL_PRIO_DEFAULT, 0, 0, NULL, 0 };
	char id[SPOOL_NAME_MAX + 1], body[64], name[32];
	struct spool *sp;
	FILE *f;
	pid_t pid;
	int k, len;

	if ((pid = fork()) == -1)
		die("fork");
	if (pid > 0)
		return pid;
	if (nosync)
		opt.flags |= SPOOL_PUT_NOSYNC;
	snprintf(name, sizeof(name), "put.%d", p);
	if ((f = fopen(path(name), "w")) == NULL ||
	    (sp = spool_open(queue, 0)) == NULL) {
		perror("torture: producer");
		_exit(1);
	}
	srandom((unsigned)getpid());
	for (k = 0; k < n; k++) {
		len = snprintf(body, sizeof(body), "p%d-m%d-%ld", p, k,
		    random());
		if (spool_put(sp, &opt, body, (size_t)len, id) == -1) {
			fprintf(stderr, "torture: producer %d: put %d: %s\n",
			    p, k, strerror(errno));
			_exit(1);
		}
		fprintf(f, "%s %s\n", id, body);
		if (k % 64 == 63)
			sleep_ms(random() % 20);	/* spread them out */
	}
	if (fclose(f) == EOF)
		_exit(1);
	spool_close(sp);
	_exit(0);
}

/* Entries of QUEUE/st, or -1. */
static long
entries(const char *st)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d;
	long n = 0;

	snprintf(p, sizeof(p), "%s/%s", queue, st);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A set of strings: a sorted array, searched by bsearch. */
struct msg {
	char	*id;
	char	*body;
	int	 runs;		/* records in the log */
	int	 killedruns;	/* of them by workers that were killed */
	int	 done;		/* names in done/ */
};

static int
msgcmp(const void *a, const void *b)
{
	return strcmp(((const struct msg *)a)->id,
	    ((const struct msg *)b)->id);
}

static struct msg *
lookup(struct msg *m, size_t n, const char *id)
{
	struct msg key = { (char *)id, NULL, 0, 0, 0 };

	return bsearch(&key, m, n, sizeof(*m), msgcmp);
}

static int
lcmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	struct worker workers[MAXWORKERS];
	pid_t producers[MAXPRODUCERS], sweeper, pid;
	int nprod = 4, per = 250, nwork = 3, killms = 150, nosync = 0;
	int ch, k, ws, running, prodfail = 0, st;
	long gen = 0, nkilled = 0, *killed = NULL, total, dups = 0;
	long records = 0, processed = 0, tmax = 60;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	double t0, deadline;
	struct msg *msgs = NULL;
	size_t nmsgs = 0, cap = 0;
	char line[1024], id[SPOOL_NAME_MAX + 1], body[256], name[64];
	struct spool_name sn;
	struct spool *sp;
	struct dirent *de;
	struct msg *m;
	ssize_t len;
	FILE *f;
	DIR *d;

	/*
	 * _exit: a job that runs thousands of times allocates nothing, and a
	 * sanitizer build's leak check at each exit would be most of its cost.
	 */
	if (argc == 3 && strcmp(argv[1], "record") == 0)
		_exit(record(argv[2]));
	while ((ch = getopt(argc, argv, "P:N:W:K:T:Ss:")) != -1) {
		switch (ch) {
		case 'P':
			nprod = atoi(optarg);
			break;
		case 'N':
			per = atoi(optarg);
			break;
		case 'W':
			nwork = atoi(optarg);
			break;
		case 'K':
			killms = atoi(optarg);
			break;
		case 'T':
			tmax = atol(optarg);
			break;
		case 'S':
			nosync = 1;
			break;
		case 's':
			seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3 || nprod < 1 || nprod > MAXPRODUCERS || per < 1 ||
	    nwork < 1 || nwork > MAXWORKERS || killms < 0 || tmax < 1)
		goto usage;
	qbin = argv[0];
	queue = argv[1];
	dir = argv[2];
	if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		die("/proc/self/exe");
	self[len] = '\0';
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	srandom(seed);
	printf("seed %u: %d producers x %d messages, %d workers, a kill "
	    "every %s%d ms\n", seed, nprod, per, nwork, killms ? "~" : "",
	    killms);
	fflush(stdout);

	/* a fresh queue that never gives up on a message */
	if ((sp = spool_open(queue, SPOOL_OPEN_CREATE)) == NULL)
		die(queue);
	if (spool_config_set(sp, "attempts", "1000000") == -1)
		die("config attempts");
	spool_close(sp);
	if (entries("new") != 0 || entries("cur") != 0 ||
	    entries("done") != 0) {
		fprintf(stderr, "torture: %s is not a fresh queue\n", queue);
		return 2;
	}
	/* orphans (watchdogs, jobs of killed workers) come to us */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		die("PR_SET_CHILD_SUBREAPER");
	signal(SIGPIPE, SIG_IGN);

	t0 = now();
	deadline = t0 + (double)tmax;
	sweeper = start_sweeper();
	for (k = 0; k < nwork; k++)
		start_worker(&workers[k], ++gen);
	for (k = 0; k < nprod; k++)
		producers[k] = start_producer(k, per, nosync);
	running = nprod;

	/* chaos until the producers are done and new/ is empty */
	while (now() < deadline) {
		if (running == 0 && entries("new") == 0 &&
		    entries("cur") == 0)
			break;
		sleep_ms(killms > 0 ? 1 + random() % (2 * killms) : 50);
		if (killms > 0) {
			k = (int)(random() % nwork);
			if (!workers[k].killed &&
			    kill(workers[k].pid, SIGKILL) == 0) {
				workers[k].killed = 1;
				killed = reallocarray(killed,
				    (size_t)nkilled + 1, sizeof(*killed));
				if (killed == NULL)
					die("memory");
				killed[nkilled++] = workers[k].gen;
			}
		}
		/* reap: killed workers start again, producers report */
		while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
			for (k = 0; k < nprod; k++)
				if (producers[k] == pid) {
					producers[k] = 0;
					running--;
					if (!WIFEXITED(ws) || WEXITSTATUS(ws))
						prodfail++;
				}
			for (k = 0; k < nwork; k++)
				if (workers[k].pid == pid) {
					if (!WIFSIGNALED(ws) ||
					    WTERMSIG(ws) != SIGKILL)
						fail("worker %ld ended on its "
						    "own (status %d)",
						    workers[k].gen, ws);
					start_worker(&workers[k], ++gen);
				}
			if (pid == sweeper)
				fail("the sweeper ended (status %d)", ws);
		}
	}
	if (running > 0)
		fail("%d producers still running after %ld s", running, tmax);

	/*
	 * Stop: the workers finish what they run, then the sweeper.  A
	 * worker killed last is started again first, and each gets a
	 * moment to set up its signal handling: SIGTERM is a request to
	 * stop, not a kill.
	 */
	for (k = 0; k < nwork; k++)
		if (workers[k].killed) {
			waitpid(workers[k].pid, &ws, 0);
			start_worker(&workers[k], ++gen);
		}
	for (k = 0; k < nwork; k++)
		while (now() - workers[k].started < 1.0)
			sleep_ms(50);
	for (k = 0; k < nwork; k++)
		kill(workers[k].pid, SIGTERM);
	kill(sweeper, SIGTERM);
	for (k = 0; k < nwork; k++) {
		for (st = 0; st < 100; st++) {
			if ((pid = waitpid(workers[k].pid, &ws, WNOHANG)) ==
			    workers[k].pid || (pid == -1 && errno == ECHILD))
				break;
			sleep_ms(50);
		}
		if (st == 100) {
			kill(workers[k].pid, SIGKILL);
			waitpid(workers[k].pid, &ws, 0);
			fail("worker %ld did not stop on SIGTERM",
			    workers[k].gen);
		} else if (pid > 0 && (!WIFEXITED(ws) || WEXITSTATUS(ws)))
			fail("worker %ld exited with status %d on SIGTERM",
			    workers[k].gen, ws);
	}
	alarm(60);	/* nothing below may hang */
	while ((pid = wait(&ws)) > 0 || (pid == -1 && errno == EINTR)) {
		if (pid == sweeper && (!WIFEXITED(ws) || WEXITSTATUS(ws)))
			fail("the sweeper failed (status %d)", ws);
		for (k = 0; k < nprod; k++)
			if (producers[k] == pid) {
				producers[k] = 0;
				if (!WIFEXITED(ws) || WEXITSTATUS(ws))
					prodfail++;
			}
	}
	if (prodfail > 0)
		fail("%d producers failed", prodfail);

	/* past every lease, a last sweep and a worker that drains */
	sleep_ms(3500);
	{
		char *sw[] = { "q", "sweep", (char *)queue, NULL };
		char *wk[] = { "q", "work", "-q", "-l", LEASE, (char *)queue,
		    "--", self, "record", logpath, NULL };

		if ((st = runq(path("sweep.err"), NULL, sw)) != 0)
			fail("final sweep exited %d", st);
		if ((st = runq(path("work.err"), "0", wk)) != 0)
			fail("draining work exited %d", st);
	}

	/* what was put */
	for (k = 0; k < nprod; k++) {
		snprintf(name, sizeof(name), "put.%d", k);
		if ((f = fopen(path(name), "r")) == NULL)
			die(name);
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "%255s %255s", id, body) != 2) {
				fail("put.%d: bad line %s", k, line);
				continue;
			}
			if (nmsgs == cap) {
				cap = cap ? cap * 2 : 1024;
				if ((msgs = reallocarray(msgs, cap,
				    sizeof(*msgs))) == NULL)
					die("memory");
			}
			msgs[nmsgs].id = strdup(id);
			msgs[nmsgs].body = strdup(body);
			msgs[nmsgs].runs = msgs[nmsgs].killedruns = 0;
			msgs[nmsgs].done = 0;
			nmsgs++;
		}
		fclose(f);
	}
	qsort(msgs, nmsgs, sizeof(*msgs), msgcmp);
	for (k = 1; k < (int)nmsgs; k++)
		if (strcmp(msgs[k - 1].id, msgs[k].id) == 0)
			fail("ID %s given to two messages", msgs[k].id);
	total = (long)nprod * per;
	if ((long)nmsgs != total)
		fail("%zu IDs recorded by the producers, not %ld", nmsgs,
		    total);

	/* what was processed, and by whom */
	qsort(killed, (size_t)nkilled, sizeof(*killed), lcmp);
	if ((f = fopen(logpath, "r")) == NULL)
		die(logpath);
	while (fgets(line, sizeof(line), f) != NULL) {
		long g;

		records++;
		if (sscanf(line, "%255s %255s %ld", id, body, &g) != 3) {
			fail("log: bad line %s", line);
			continue;
		}
		if ((m = lookup(msgs, nmsgs, id)) == NULL) {
			fail("log: %s was never put", id);
			continue;
		}
		if (strcmp(m->body, body) != 0)
			fail("log: %s has body %s, not %s", id, body, m->body);
		m->runs++;
		if (bsearch(&g, killed, (size_t)nkilled, sizeof(*killed),
		    lcmp) != NULL)
			m->killedruns++;
	}
	fclose(f);
	for (k = 0; k < (int)nmsgs; k++) {
		m = &msgs[k];
		if (m->runs == 0)
			fail("%s was never processed: lost", m->id);
		else
			processed++;
		if (m->runs > 1) {
			dups += m->runs - 1;
			if (m->killedruns < m->runs - 1)
				fail("%s processed %d times, only %d of them "
				    "by killed workers", m->id, m->runs,
				    m->killedruns);
		}
	}

	/* where everything is now */
	if (entries("tmp") != 0)
		fail("tmp/ holds %ld files", entries("tmp"));
	if (entries("new") != 0)
		fail("new/ holds %ld files", entries("new"));
	if (entries("cur") != 0)
		fail("cur/ holds %ld files", entries("cur"));
	if (entries("failed") != 0)
		fail("failed/ holds %ld files", entries("failed"));
	snprintf(line, sizeof(line), "%s/done", queue);
	if ((d = opendir(line)) == NULL)
		die(line);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (spool_name_parse(de->d_name, &sn) == -1) {
			fail("done/%s: not a message name", de->d_name);
			continue;
		}
		sn.name[sn.idlen] = '\0';
		if ((m = lookup(msgs, nmsgs, sn.name)) == NULL)
			fail("done/%s was never put", de->d_name);
		else if (++m->done > 1)
			fail("%s is in done/ %d times", sn.name, m->done);
	}
	closedir(d);
	for (k = 0; k < (int)nmsgs; k++)
		if (msgs[k].done == 0)
			fail("%s is not in done/", msgs[k].id);

	printf("put %zu, processed %ld, records %ld, duplicates %ld, "
	    "workers killed %ld, seconds %.1f\n", nmsgs, processed, records,
	    dups, nkilled, now() - t0);
	if (nkilled == 0 && dups != 0)
		fail("duplicates without a kill");
	for (k = 0; k < (int)nmsgs; k++) {
		free(msgs[k].id);
		free(msgs[k].body);
	}
	free(msgs);
	free(killed);
	if (failures > 0) {
		printf("FAILED: %d problems\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
usage:
	fprintf(stderr, "usage: torture [-P producers] [-N messages] "
	    "[-W workers] [-K kill-ms] [-T seconds] [-S] [-s seed] "
	    "Q QUEUE DIR\n       torture record LOG\n");
	return 2;
}
