/*
 * job.c - a job of q work, from start to end: started (spawn.c), its
 * lease and its time limit renewed, and its exit status acted on.
 *
 * A job's lease is renewed at a third of it; a renewal that fails means
 * the message is somebody else's now, and the job is stopped (SIGTERM,
 * then SIGKILL after GRACE_MS), its exit acknowledging nothing.  The
 * --tag pipes are tag.c's, the batches of -b batch.c's.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "work.h"
#include "banned.h"

#define GRACE_MS	(5 * 1000)	/* SIGTERM to SIGKILL of a lost job */

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
