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
 * at most -j at a time.  The loop sleeps in poll() on a signalfd
 * (SIGCHLD, SIGTERM, SIGINT, SIGHUP), with -f on the queue's arrivals
 * (spool_watch(): inotify, or a timer where it cannot hear them), and
 * with --tag on the pipes of the jobs' output (tag.c); its timeout is the
 * nearest of: a lease to renew (a third of the lease after the last
 * renewal), a CMD to kill (-t, or a lost lease), the earliest delayed
 * message, and the next look at cur/ for the claims of dead workers and
 * expired leases (every Q_RECOVER_MS, busy or idle), when the worker also
 * checks that its queue is still there.
 *
 * Each CMD runs in a process group of its own (spawn.c), which -t, a lost
 * lease and a second signal kill whole; a watchdog kills the groups of
 * running jobs if the worker dies, even by SIGKILL.
 *
 * About 520 lines: the loop and its steps, the signals, and the options
 * of q work (a third of the file); a job's life is in job.c.
 */
#define _GNU_SOURCE
#include <sys/signalfd.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "work.h"
#include "banned.h"

#define SWEEP_MS	(60 * 1000)	/* all of the housekeeping, at least */
#define SWEEP_GAP_MS	(5 * 1000)	/* and when idle at most this often */
#define BATCH_MAX	1000		/* -b: messages (descriptors) per run */


static void
sweepreport(void *arg, enum spool_event ev, enum spool_state st,
    const char *name, int errnum)
{
	struct worker *w = arg;
	struct spool_name n;

	(void)st;
	if (ev == SPOOL_EV_TWIN && !w->twinned &&
	    spool_name_parse(name, &n) == 0) {
		w->twinned = 1;	/* once: it is so at every sweep */
		warnx("%s: node name %s is also used by another machine (its "
		    "claim %s); give each host its own (Q_HOST)", w->queue,
		    n.whost, name);
	} else if (ev == SPOOL_EV_ERROR)
		warnc(errnum, "%s: sweep: %s", w->queue, name);
	else if (ev == SPOOL_EV_EXPIRED || ev == SPOOL_EV_DEAD ||
	    ev == SPOOL_EV_EXHAUSTED)	/* a lost lease: kept under -q */
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
	job_title(w);
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

/* Nothing to claim: say once, while it lasts, that the queue is paused. */
static void
paused(struct worker *w)
{
	int on = spool_paused(w->sp);

	if (on && !w->paused)
		warnx("%s: paused: nothing is claimed until q resume",
		    w->queue);
	w->paused = on;
}

/*
 * With -b, more ready messages for job j, up to a batch (and -n): it does
 * not wait for them.  Returns how many.
 */
static int
more(struct worker *w, struct job *j)
{
	struct spool_claimopt opt = { w->lease, SPOOL_CLAIM_OPEN, w->self };
	int r, n = 0;

	while (j->n < w->spawn.batch &&
	    (w->max == 0 || w->started + j->n < w->max)) {
		if ((r = spool_claim(w->sp, &opt, &j->msg[j->n].m)) != 1) {
			if (r == -1)
				warn("%s: claim", w->queue);
			break;
		}
		j->n++;
		n++;
	}
	return n;
}

/* Claim and start jobs while there are free slots.  Returns claims. */
static int
fill(struct worker *w, int *idle)
{
	struct spool_claimopt opt = { w->lease, SPOOL_CLAIM_OPEN, w->self };
	struct job *j;
	int i, k, n = 0, r, swept = 0;

	*idle = 0;
	while (!w->stopping && w->running < w->njobs &&
	    (w->max == 0 || w->started < w->max) && w->status == Q_OK) {
		for (i = 0; w->jobs[i].pid != 0; i++)
			;
		j = &w->jobs[i];
		r = spool_claim(w->sp, &opt, &j->msg[0].m);
		if (r == 0 && !swept && (q_now_ms() - w->lastrecover >= 1000 ||
		    q_now_ms() - w->lastsweep >= SWEEP_GAP_MS)) {
			/* nothing ready: expired and dead claims may be */
			sweep(w, q_now_ms() - w->lastsweep >= SWEEP_GAP_MS);
			swept = 1;
			continue;
		}
		if (r == 0) {
			*idle = 1;
			paused(w);
			break;
		}
		if (r == -1) {
			warn("%s: claim", w->queue);
			w->status = q_status(errno);
			break;
		}
		j->n = 1;
		n += 1 + more(w, j);
		if (job_start(w, j) == -1) {
			for (k = 0; k < j->n; k++)
				(void)spool_release(w->sp, j->msg[k].m.n.name,
				    0);
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
		job_title(w);
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
 * Sleep in poll() for at most ms, on the signalfd, new/ (with -f) and the
 * jobs' pipes (--tag, pfd having room for them), and act on what woke it.
 */
static void
await(struct worker *w, int sfd, struct pollfd *pfd, long long ms)
{
	int nfd = 1, watch = -1, ntag;

	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	if (w->follow && (watch = spool_watch(w->sp)) != -1) {
		pfd[1].fd = watch;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		nfd = 2;
	}
	ntag = tag_pollfds(w, pfd + nfd);
	if (poll(pfd, (nfds_t)(nfd + ntag), ms > INT_MAX ? INT_MAX :
	    (int)ms) == -1 && errno != EINTR) {
		warn("poll");
		w->status = Q_IOERR;
	}
	tag_heard(w, pfd + nfd, ntag);
	signalled(w, sfd);
	job_reap(w);
	if (watch != -1 && pfd[1].revents != 0)
		spool_heard(w->sp);
}

/*
 * The worker's loop: sweep, claim up to -j, start, wait, and the ways it
 * ends (-n, drained, stopped, the queue gone).  Longer than most: each
 * step is a call, and what remains is the order of the steps, which reads
 * best in one place.
 */
static int
loop(struct worker *w)
{
	sigset_t mask;
	struct sigaction sa;
	struct pollfd *pfd;
	long long ms, t;
	int sfd, idle;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	/* a closed terminal stops it too, unless run under nohup(1) */
	if (sigaction(SIGHUP, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN)
		sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &w->spawn.oldmask) == -1 ||
	    (sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		warn("signals");
		return Q_IOERR;
	}
	w->spawn.nslots = w->njobs;
	w->spawn.queue = w->queue;
	spawn_init(&w->spawn, w->qpath);
	/* before the watchdog, which shares it, and before the first sweep */
	if ((w->spawn.lockfd = spool_live(w->sp)) == -1) {
		warn("%s: liveness lock", w->queue);
		return q_status(errno);
	}
	if (spawn_watchdog(&w->spawn) == -1) {
		warn("%s: watchdog", w->queue);
		return Q_IOERR;
	}
	if (w->follow)
		(void)spool_watch(w->sp);
	if ((pfd = reallocarray(NULL, 2 + 2 * (size_t)w->njobs,
	    sizeof(*pfd))) == NULL)
		err(Q_IOERR, NULL);
	sweep(w, 1);
	for (;;) {
		reconfig(w);
		t = housekeeping(w);
		(void)fill(w, &idle);
		if (w->running == 0 && (w->stopping || w->status != Q_OK ||
		    (w->max != 0 && w->started >= w->max) ||
		    (idle && !w->follow)))
			break;
		ms = job_timers(w);
		if (ms < 0 || t < ms)
			ms = t;
		if (w->follow && w->running < w->njobs && !w->stopping) {
			t = spool_wait_ms(w->sp, ms);
			if (t < 0)
				t = 0;
			if (ms < 0 || t < ms)
				ms = t;
		}
		await(w, sfd, pfd, ms);
		(void)job_timers(w);
	}
	free(pfd);
	(void)close(sfd);
	/* the watchdog sees the end of its pipe, and has nothing to kill */
	spawn_end(&w->spawn);
	return w->status;
}

/*
 * The options, into w: -1 to go on, or the exit status.  One case of the
 * switch per option, which is all of its length.
 */
static int
options(struct worker *w, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "lease", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max", required_argument, NULL, 'n' },
		{ "attempts", required_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "tag", no_argument, NULL, 'T' },
		{ "batch", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	long long n;
	int ch, status;

	while ((ch = getopt_long(argc, argv, "+j:l:t:n:a:b:fqTh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'j':
			if ((status = q_number("number of jobs", optarg, 1,
			    1024, &n)) != Q_OK)
				return status;
			w->njobs = (int)n;
			break;
		case 'l':
			if ((status = q_lease(optarg, &w->lease)))
				return status;
			w->lflag = 1;
			break;
		case 't':
			if ((status = q_duration("timeout", optarg,
			    &w->timeout)))
				return status;
			break;
		case 'n':
			if ((status = q_number("maximum", optarg, 1, LLONG_MAX,
			    &w->max)) != Q_OK)
				return status;
			break;
		case 'a':
			if ((status = q_number("attempts", optarg, 1, 1000000,
			    &w->attempts)) != Q_OK)
				return status;
			w->aflag = 1;
			break;
		case 'b':
			if ((status = q_number("batch", optarg, 1, BATCH_MAX,
			    &n)) != Q_OK)
				return status;
			w->spawn.batch = (int)n;
			break;
		case 'f':
			w->follow = 1;
			break;
		case 'q':
			w->quiet = 1;
			break;
		case 'T':
			w->tag = 1;
			break;
		case 'h':
			return q_usage(1);
		default:
			return q_usage(0);
		}
	}
	return -1;
}

/*
 * Descriptors 0, 1 and 2 open (on /dev/null where they were not), so that
 * no message is claimed onto one of them.
 */
static void
stdfds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1 && fd <= 2)
		(void)fcntl(fd, F_SETFD, 0);
	if (fd > 2)
		(void)close(fd);
}

int
cmd_work(int argc, char *argv[])
{
	struct worker w;
	int status, i;

	memset(&w, 0, sizeof(w));
	w.njobs = 1;
	if ((status = options(&w, argc, argv)) != -1)
		return status;
	argc -= optind;
	argv += optind;
	if (argc >= 2 && strcmp(argv[1], "--") == 0) {
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	if ((status = q_operands(argc, argv, 2, -1, "queue cmd")) != -1)
		return status;
	if (w.tag && w.spawn.batch > 0)
		return q_badusage("-T tags a job's output with its message: "
		    "not with -b");
	w.queue = argv[0];
	w.spawn.argv = argv + 1;
	if ((status = spawn_resolve(argv[1], &w.spawn.cmd)) != 0)
		return status;
	status = w.follow ? q_appear(w.queue, w.quiet, &w.sp) :
	    q_open(w.queue, 0, &w.sp);
	if (status != Q_OK) {
		free(w.spawn.cmd);
		return status == -1 ? Q_OK : status;
	}
	w.qpath = q_queuepath(w.queue);
	if (w.lease == 0)
		w.lease = spool_config(w.sp)->lease;
	if (w.attempts == 0)
		w.attempts = spool_config(w.sp)->attempts;
	if ((w.jobs = calloc((size_t)w.njobs, sizeof(*w.jobs))) == NULL ||
	    (w.msgs = calloc((size_t)w.njobs * (size_t)(w.spawn.batch > 0 ?
	    w.spawn.batch : 1), sizeof(*w.msgs))) == NULL)
		err(Q_IOERR, NULL);
	for (i = 0; i < w.njobs; i++)
		w.jobs[i].msg = w.msgs + (size_t)i *
		    (size_t)(w.spawn.batch > 0 ? w.spawn.batch : 1);
	stdfds();
	tag_init(&w);
	w.self = getpid();
	(void)signal(SIGPIPE, SIG_IGN);
	job_title(&w);
	status = loop(&w);
	spool_close(w.sp);
	free(w.jobs);
	free(w.msgs);
	free(w.tagbuf);
	free(w.qpath);
	free(w.spawn.cmd);
	return status;
}
