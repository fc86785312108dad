/*
 * work.h - what the worker loop (work.c), its jobs (job.c) and their
 * spawning (spawn.c) share.
 */
#ifndef Q_WORK_H
#define Q_WORK_H

#include <signal.h>
#include <sys/types.h>

#include "spool.h"

/*
 * How jobs are started, and killed with the worker: CMD resolved, the
 * environment every job gets, and the watchdog with the process groups of
 * the running jobs, one slot each.
 */
struct spawner {
	char		*cmd;		/* CMD, resolved */
	char		**argv;
	char		**env;		/* environ less Q_ variables, then: */
	size_t		 envjob;	/* where the job's variables go */
	char		*qvar;		/* Q_QUEUE= */
	char		 vars[4][SPOOL_NAME_MAX + 16];	/* the job's */
	int		 batch;		/* -b: messages per run, 0 without */
	char		**bargv;	/* -b: CMD's argv, then the paths */
	char		(*fdpaths)[16];	/* -b: /dev/fd/3, /dev/fd/4, ... */
	size_t		 nargs;		/* of CMD's own */
	char		*ids, *tokens;	/* -b: Q_IDS=, Q_TOKENS= */
	int		*fdtmp;		/* -b: the child's scratch */
	int		 nullfd;	/* -b: /dev/null, the jobs' stdin */
	sigset_t	 oldmask;	/* the mask CMD gets */
	int		 nslots;
	pid_t		*groups;	/* shared with the watchdog */
	pid_t		 dog;		/* the watchdog */
	int		 dogfd;		/* its pipe */
	int		 lockfd;	/* the liveness lock it shares */
	const char	*queue;		/* for its title */
};

#define TAG_LINE_MAX	16384	/* --tag: longer lines are cut (tag.c) */

/* With --tag, the stdout or stderr of a job: its pipe, a line so far. */
struct tagout {
	int		 fd;		/* read end; -1: none, or at its end */
	size_t		 len;		/* bytes in buf */
	char		*buf;		/* TAG_LINE_MAX bytes */
};

/* A claimed message of a job, and whether its lease was lost. */
struct jobmsg {
	struct spool_msg m;
	int		 lost;
};

/* Claimed messages (one, or with -b up to a batch) and the run of CMD. */
struct job {
	pid_t		 pid;		/* 0: slot free */
	struct jobmsg	*msg;		/* w->batch of them, or one */
	int		 n;		/* claimed */
	char		 token[SPOOL_NAME_MAX + 1];	/* of the first */
	long long	 start, renew, deadline;	/* q_now_ms() */
	long long	 killat;	/* lease lost: SIGKILL then */
	int		 lost, timedout;	/* lost: any of its messages */
	struct tagout	 out[2];	/* --tag: stdout, stderr */
};

/* q work: its settings, its state, its jobs. */
struct worker {
	struct spool	*sp;
	const char	*queue;
	char		*qpath;
	long long	 lease, timeout, attempts, max;
	int		 lflag, aflag;	/* -l, -a given: config does not */
	int		 njobs, running, follow, quiet;
	int		 tag;		/* --tag */
	long long	 started;	/* messages whose run started */
	long long	 inflight;	/* messages of the running jobs */
	int		 stopping;	/* signals received */
	int		 killed_all;	/* a second signal killed the jobs */
	int		 paused;	/* the queue was paused when seen */
	int		 twinned;	/* said that our node name is shared */
	long long	 lastsweep;	/* q_now_ms() */
	long long	 lastrecover;	/* of cur/ and tmp/ only */
	int		 status;
	struct job	*jobs;
	struct jobmsg	*msgs;		/* the jobs' messages, in one block */
	char		*tagbuf;	/* --tag: the buffers of every slot */
	pid_t		 self;
	struct spawner	 spawn;		/* CMD, its environment, the watchdog */
};

int	 spawn_resolve(const char *cmd, char **out);
void	 spawn_init(struct spawner *s, const char *qpath);
void	 batch_init(struct spawner *s);
char	**batch_argv(struct spawner *s, const struct job *j);
void	 batch_environment(struct spawner *s, const struct job *j,
	    size_t at);
int	 batch_fds(struct spawner *s, const struct job *j);
void	 batch_end(struct spawner *s);
int	 spawn_watchdog(struct spawner *s);
pid_t	 spawn_job(struct spawner *s, const struct job *j, const int *out);
void	 spawn_tell(struct spawner *s, int slot, pid_t pgid);
void	 spawn_end(struct spawner *s);

int	 job_start(struct worker *w, struct job *j);
void	 job_reap(struct worker *w);
long long job_timers(struct worker *w);
void	 job_title(struct worker *w);

struct pollfd;
void	 tag_init(struct worker *w);
int	 tag_pipes(struct job *j, int wr[2]);
void	 tag_spawned(struct job *j, int wr[2], pid_t pid);
int	 tag_pollfds(struct worker *w, struct pollfd *pfd);
void	 tag_heard(struct worker *w, const struct pollfd *pfd, int n);
void	 tag_end(struct job *j);

#endif
