/*
 * cmd.h - what the q commands share.  Commands include only this and
 * spool.h; queue logic belongs in libspool.
 */
#ifndef Q_CMD_H
#define Q_CMD_H

#include <stdio.h>

#include "spool.h"

/* sysexits(3) codes, the exit statuses of q(1) */
#define Q_OK		0
#define Q_USAGE		64
#define Q_DATAERR	65
#define Q_NOINPUT	66
#define Q_IOERR		74
#define Q_TEMPFAIL	75
#define Q_NOPERM	77

int	 cmd_ack(int, char *[]);
int	 cmd_cat(int, char *[]);
int	 cmd_config(int, char *[]);
int	 cmd_drop(int, char *[]);
int	 cmd_ls(int, char *[]);
int	 cmd_pause(int, char *[]);
int	 cmd_purge(int, char *[]);
int	 cmd_replay(int, char *[]);
int	 cmd_resume(int, char *[]);
int	 cmd_retry(int, char *[]);
int	 cmd_rm(int, char *[]);
int	 cmd_stat(int, char *[]);
int	 cmd_fail(int, char *[]);
int	 cmd_put(int, char *[]);
int	 cmd_release(int, char *[]);
int	 cmd_sweep(int, char *[]);
int	 cmd_take(int, char *[]);
int	 cmd_sub(int, char *[]);
int	 cmd_touch(int, char *[]);
int	 cmd_unsub(int, char *[]);
int	 cmd_wait(int, char *[]);
int	 cmd_work(int, char *[]);

/* util.c */
int	 q_usage(int help);
int	 q_badusage(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
int	 q_operands(int argc, char *argv[], int min, int max,
	    const char *names);
int	 q_status(int errnum);
int	 q_fail(int errnum, const char *notfound, const char *after,
	    const char *fmt, ...) __attribute__((__format__(__printf__, 4, 5)));
int	 q_report(enum spool_why why, int errnum, const char *notfound,
	    const char *after, const char *fmt, ...)
	    __attribute__((__format__(__printf__, 5, 6)));
int	 q_first_failure(int status, int other);
int	 q_finish(int status);
void	 q_moved(const char *queue, long long n, const char *what);
int	 q_noopts(int argc, char *argv[]);
int	 q_number(const char *what, const char *s, long long min,
	    long long max, long long *v);
int	 q_duration(const char *what, const char *s, long long *secs);
int	 q_moment(const char *what, const char *s, long long *v, int *at);
int	 q_lease(const char *s, long long *secs);
int	 q_checkrefs(const char *queue, int n, char *refs[]);
int	 q_state(const char *s);
void	 q_token(const struct spool_name *n, char *buf, size_t len);
extern int q_utf8;
void	 q_locale(void);
void	 q_strnvis(char *dst, size_t len, const char *src, int flags);
const char *q_vis(const char *s);
void	 q_json_string(const char *s);
char	*q_human(long long secs, char *buf, size_t len);

/* qdir.c */
char	*q_join(const char *dir, const char *name);
char	*q_qdir(void);
char	*q_path(const char *queue);
char	*q_queuepath(const char *queue);
int	 q_open(const char *queue, int flags, struct spool **spp);
int	 q_appear(const char *queue, int quiet, struct spool **spp);
struct spool *q_spool_open(const char *path, int flags);
const char *q_subname(const char *queue);

typedef int q_refop(struct spool *sp, const char *ref, void *arg);
int	 q_each(int argc, char *argv[], q_refop *fn, void *arg,
	    const char *notfound);

typedef int q_queueop(const char *queue, struct spool *sp, void *arg);
int	 q_allqueues(int flags, q_queueop *fn, void *arg);
#define Q_QUIET		(1 << 1)	/* skip what is no queue, say nothing */
int	 q_everyqueue(int flags, unsigned how, q_queueop *fn, void *arg);
int	 q_onequeue(const char *queue, int flags, q_queueop *fn, void *arg);
int	 q_queues(int argc, char *argv[], int flags, q_queueop *fn,
	    void *arg);

/* qdir.c: waiting for messages (the waiting itself: spool_wait()) */
#define Q_RECOVER_MS	2000	/* a look at cur/ at least this often */

long long q_now_ms(void);
void	 q_wait(struct spool *sp, long long limit);

/* q.c */
extern const char *q_synopsis;

#endif
