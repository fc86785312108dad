/*
 * internal.h - what the files of libspool share and nobody else sees.
 */
#ifndef SPOOL_INTERNAL_H
#define SPOOL_INTERNAL_H

#include <dirent.h>
#include <stdint.h>

#include "spool.h"

#ifndef CAND_MAX		/* (tests/unit/test_claim sets tiny ones) */
#define CAND_MAX	131072	/* claim candidates kept from one scan */
#define NAMES_MAX	(6 << 20)	/* bytes of their names */
#endif
#define SPREAD		8	/* claimants spread over the first few */
#define URGENT_MAX	1024	/* arrivals ahead of the candidates */

/* A message that arrived in new/ ahead of the remaining candidates. */
struct urgent {
	uint64_t key;
	char	 name[SPOOL_NAME_MAX + 1];
};

/* A claim candidate: its name is at names + off in struct spool. */
struct cand {
	uint64_t key;		/* priority, SEC, USEC (cand.c) */
	uint32_t off;
	uint16_t len;		/* of the name */
	uint16_t room;		/* bytes it may use at off */
};

struct spool {
	int		 qfd;			/* the queue directory */
	int		 dfd[SPOOL_NSTATES];	/* its state directories */
	int		 kfd;			/* keys/, once needed */
	dev_t		 dev;			/* the queue's file system */
	mode_t		 qmode;			/* the queue directory's mode */
	mode_t		 fmode;			/* mode of message files */
	int		 shared;		/* group-writable queue */
	int		 norename2;		/* renameat2 unsupported */
	struct spool_config cfg;
	char		 host[SPOOL_HOST_MAX + 1];
	unsigned long	 seq;			/* SEQ of the next ID */
	/* claim candidates from the last scan of new/ (a heap while
	   scanning, best first after), and the arena of their names */
	struct cand	*cand;
	int		 ncand, icand, candcap;
	int		 full;			/* the scan left some out */
	char		*names;
	size_t		 namesend, namescap;	/* used, allocated */
	size_t		 live;			/* used by kept names */
	int		 nscans;		/* of new/ so far */
	int		 nfd;			/* inotify of new/, or -1 */
	int		 nowatch;		/* it cannot be had */
	int		 lost;			/* it lost events */
	struct urgent	*urgent;		/* arrivals: a min-heap */
	int		 nurgent;
	long long	 scanned, scancost;	/* monotonic ms */
	time_t		 next_due;
	/* liveness (live.c) */
	int		 livefd;		/* live/, once needed */
	int		 lockfd;		/* our liveness lock, or -1 */
	pid_t		 lockpid;		/* whose it is */
	dev_t		 lockdev;
	ino_t		 lockino;
	int		 lockexcl;		/* alone, nothing claimed yet */
	int		 lockrw;		/* open for heartbeats */
	long long	 beatms;		/* last heartbeat, monotonic */
	char		*path;			/* as opened: spool_check() */
	ino_t		 cfgino;		/* config file read, 0: none */
	char		 cfgerr[160];		/* what is wrong in it, or "" */
	struct timespec	 cfgmtim;
};

/* A worker's last heartbeat, read from its lock file (live.c). */
#define SPOOL_BOOT_LEN	36	/* a boot ID: a UUID */
#define SPOOL_MACHINE_LEN 32	/* a machine ID: 32 hex digits */

struct spool_beat {
	time_t		 wall;		/* its wall clock */
	long long	 mono;		/* CLOCK_MONOTONIC ms; 0: none */
	long long	 lease;		/* its lease, seconds */
	char		 boot[SPOOL_BOOT_LEN + 1];	/* its boot ID, or "" */
	char		 machine[SPOOL_MACHINE_LEN + 1]; /* its machine ID */
};

#define LIVE_CACHE	32	/* processes judged once per sweep */
#define LIVE_DEAD	1	/* spool__claim_live: its worker is gone */
#define LIVE_TWIN	2	/* alive, on another machine of our name */

struct verdict {
	pid_t		 pid;
	int		 alive;		/* 0, 1, or LIVE_TWIN */
	int		 fd;		/* dead: its lock, held */
	dev_t		 dev;
	ino_t		 ino;
	struct spool_beat beat;
};

struct livecheck {
	struct spool	*sp;
	int		 dryrun;	/* create and remove nothing */
	int		 remote;	/* locks prove nothing here */
	long long	 skew;		/* for other hosts' clocks */
	struct verdict	 v[LIVE_CACHE];
	int		 n;
};

#define SUBERR_MAX	16	/* failed subscriptions remembered */

struct suberr {
	char		 name[SPOOL_NAME_MAX + 1];
	int		 errnum;
	enum spool_why	 why;
};

#define SPOOL_KEY_HASHLEN	64	/* SHA-256 in hex */

/* A message's dedup key in a batch (keyed.c): its hash, "" if none. */
struct batchkey {
	char		 hash[SPOOL_KEY_HASHLEN + 1];
	enum { FRESH, RECORDED, EARLIER } dup;	/* found at commit */
};

struct spool_batch {
	struct spool	*sp;
	struct spool_putopt opt;
	int		 nosync;
	size_t		 n, cap, committed;
	int		 done;
	int		 deduped;
	struct spool_name *msgs;
	int		 held;		/* the first message, open, unsynced */
	char		 heldname[SPOOL_NAME_MAX + 1];
	struct batchkey	*keys;		/* beside msgs, once one has a key */
	size_t		 kcap;
	struct suberr	 suberr[SUBERR_MAX];
	size_t		 nsuberr;
};

/* name.c: the sort key of a message (the order of claims: cand.c), hosts */
uint64_t spool__sortkey(int prio, time_t sec, long usec);
int	 spool__name_sortkey(const char *name, uint64_t *key);
int	 spool__ishostc(int c);
int	 spool__host_check(const char *s);

/* why.c: fail for a reason of q's own (spool_why()); returns -1. */
int	 spool__fail(enum spool_why why, int errnum);

/* io.c: the one durable write and the one move. */
int	 spool__write(struct spool *sp, int dfd, const char *name,
	    const void *buf, size_t len, int srcfd, int nosync);
int	 spool__create(struct spool *sp, int dfd, const char *name,
	    const void *buf, size_t len, int srcfd);
int	 spool__move(struct spool *sp, int fromfd, const char *from, int tofd,
	    const char *to);
int	 spool__fsync_dir(int dfd);
void	 spool__stamp(int dfd, const char *name, nlink_t links);

/* mend.c: half-done moves of the link + unlink fallback. */
int	 spool__mend(struct spool *sp, enum spool_state st,
	    const struct spool_name *n, const struct stat *sb, unsigned mask,
	    int *mended);
int	 spool__mend_source(struct spool *sp, const char *name,
	    const struct stat *sb, int *mended);

/* drop.c: what a queue directory holds. */
int	 spool__known(int qfd, const char *name);
time_t	 spool__now(void);
pid_t	 spool__pid(void);

/*
 * each.c: a directory's mtime and the time now, in ns.  A directory whose
 * mtime is younger than SPOOL_QUIET_MS may change again in the same tick
 * of the file system's clock without its mtime showing it.
 */
#define SPOOL_QUIET_MS	50
long long spool__mtime_ns(int fd);
long long spool__real_ns(void);

/* sort.c: spool_each() in an order. */
int	 spool__each_sorted(struct spool *sp, unsigned mask, unsigned flags,
	    spool_each_fn *fn, void *arg);

/* arrive.c: the watch of new/. */
int	 spool__watch(struct spool *sp);
void	 spool__hear(struct spool *sp, time_t now);

/* cand.c: the claim candidates, and what an arrival means for them. */
void	 spool__cand_reset(struct spool *sp);
int	 spool__cand_hopeless(const struct spool *sp, const char *name);
int	 spool__cand_delayed(struct spool *sp, const struct spool_name *n,
	    time_t now);
int	 spool__cand_add(struct spool *sp, const struct spool_name *n);
void	 spool__cand_sort(struct spool *sp);
int	 spool__cand_left(const struct spool *sp);
const char *spool__cand_next(struct spool *sp, char *buf, int *urgent);
void	 spool__cand_spread(struct spool *sp);
void	 spool__arrived(struct spool *sp, const char *name, time_t now);

/* beat.c: the heartbeat in a liveness lock file. */
long long spool__mono_ms(void);
const char *spool__boot(void);
const char *spool__machine(void);
void	 spool__beat(struct spool *sp, long long lease, long long mono);
void	 spool__readbeat(int fd, struct spool_beat *b);
int	 spool__twin(long long skew, const struct spool_beat *b);
int	 spool__renewing(const struct spool_beat *b);

/* live.c */
int	 spool__live(struct spool *sp);
int	 spool__live_share(struct spool *sp);
void	 spool__live_close(struct spool *sp);
void	 spool__check_init(struct livecheck *lc, struct spool *sp,
	    int dryrun);
int	 spool__alive(struct livecheck *lc, pid_t pid, struct spool_beat *b);
int	 spool__claim_live(struct livecheck *lc, const struct spool_name *n,
	    time_t now, int *how);
int	 spool__tmp_live(struct livecheck *lc, const struct spool_name *n);
int	 spool__sweep_live(struct livecheck *lc);
void	 spool__check_done(struct livecheck *lc);

/* find.c */
int	 spool__parse_ref(struct spool *sp, const char *ref,
	    struct spool_name *r);
int	 spool__find(struct spool *sp, const struct spool_name *r,
	    unsigned mask, struct spool_name *out, enum spool_state *st,
	    nlink_t *links);
int	 spool__missing(struct spool *sp, const struct spool_name *r,
	    unsigned mask);

/* put.c: a fresh ID (a name in tmp/), and a message's name in new/ */
int	 spool__new_id(struct spool *sp, struct spool_name *n);
int	 spool__newname(const struct spool_batch *b, const struct spool_name *n,
	    struct spool_name *out);
int	 spool__groupsync(void);
int	 spool__deliverall(struct spool_batch *b);

/* keyed.c */
int	 spool__commit_keyed(struct spool_batch *b);

/* topic.c */
int	 spool__fanout(struct spool_batch *b);
int	 spool__sweep_fan(struct livecheck *lc, time_t now,
	    spool_report_fn *report, void *arg);

/* keys.c */
void	 spool__key_hash(const void *key, size_t len, char *hash);
int	 spool__key_lock(struct spool *sp, const char *hash);
int	 spool__key_lookup(struct spool *sp, const char *hash, char *id);
int	 spool__key_write(struct spool *sp, const char *id, int nosync,
	    struct spool_name *tmp);
int	 spool__key_install(struct spool *sp, const struct spool_name *tmp,
	    const char *hash);
int	 spool__sweep_keys(struct spool *sp, int dryrun, time_t now,
	    void (*report)(void *, const char *, int), void *arg);

/* queue.c */
struct spool *spool__openat(int dfd, const char *path, int flags);
int	 spool__subdir(struct spool *sp, const char *name, int create,
	    int *made);
DIR	*spool__fdopendir(int dfd);
DIR	*spool__opendir(struct spool *sp, enum spool_state st);
int	 spool__is_regular(int dfd, const struct dirent *de);
int	 spool__valid_in(enum spool_state st, const struct spool_name *n);
void	 spool__hosts(const struct spool *sp, int remote, int *blind,
	    long long *skew);

/* config.c */
int	 spool__config_read(struct spool *sp);
const struct spool_config *spool__config_defaults(void);

#endif
