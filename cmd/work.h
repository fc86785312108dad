/*
 * work.h - what the worker loop (work.c) and the starting of its jobs
 * (spawn.c) share.
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
	char		*qvar;		/* Q_QUEUE= */
	char		 vars[3][SPOOL_NAME_MAX + 16];	/* the job's */
	sigset_t	 oldmask;	/* the mask CMD gets */
	int		 nslots;
	pid_t		*groups;	/* shared with the watchdog */
	pid_t		 dog;		/* the watchdog */
	int		 dogfd;		/* its pipe */
	int		 lockfd;	/* the liveness lock it shares */
	const char	*queue;		/* for its title */
};

int	 spawn_resolve(const char *cmd, char **out);
void	 spawn_init(struct spawner *s, const char *qpath);
int	 spawn_watchdog(struct spawner *s);
void	 spawn_tell(struct spawner *s, int slot, pid_t pgid);
pid_t	 spawn_job(struct spawner *s, const struct spool_name *n, int fd);
void	 spawn_end(struct spawner *s);

#endif
