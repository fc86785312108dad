/*
 * spool.h - libspool, the queue library behind q(1).
 *
 * A queue is a directory; a message is a file in one of its state
 * directories; every change of state is one atomic rename.  The format is
 * described in q(5) and the functions in libspool(3).
 *
 * Conventions: functions return -1 and set errno on failure; where q has
 * a reason of its own (no such queue, a malformed ID, ...) spool_why()
 * says which.  Functions that look for something return 1 (found), 0
 * (nothing) or -1 (error).  Losing a race (somebody else moved the message
 * first) is -1 with ENOENT.  The library never prints, never exits, never
 * reads the environment and keeps no global state but that reason, per
 * thread like errno: everything else lives in the struct spool handle.
 * A handle must not be used by two threads at once.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define SPOOL_VERSION		"0.2.0"
#define SPOOL_NAME_MAX		255	/* longest message file name */
#define SPOOL_HOST_MAX		64	/* longest HOST part of an ID */
#define SPOOL_LEASE_MAX		(12 * 3600)	/* longest lease, seconds */
#define SPOOL_PRIO_DEFAULT	5
#define SPOOL_TMP_MAXAGE	(36 * 3600)	/* stale tmp/ files */

enum spool_state {
	SPOOL_TMP,
	SPOOL_NEW,
	SPOOL_CUR,
	SPOOL_DONE,
	SPOOL_FAILED,
	SPOOL_NSTATES
};

/*
 * Why a call failed, in q's terms.  SPOOL_WHY_SYSTEM: a system call
 * failed, and errno alone says how.
 */
enum spool_why {
	SPOOL_WHY_SYSTEM,
	SPOOL_WHY_NOQUEUE,	/* no such queue (ENOENT) */
	SPOOL_WHY_NOTQUEUE,	/* a path that is not a queue (ENOTDIR) */
	SPOOL_WHY_SPLIT,	/* a state directory elsewhere (EXDEV) */
	SPOOL_WHY_CONFIG,	/* a malformed config file (EINVAL) */
	SPOOL_WHY_KEY,		/* no such config key (ENOENT) */
	SPOOL_WHY_VALUE,	/* a malformed value (EINVAL) */
	SPOOL_WHY_RANGE,	/* a value out of range (ERANGE) */
	SPOOL_WHY_BACKOFF,	/* backoff above backoff-max (ERANGE) */
	SPOOL_WHY_BADID,	/* bad ID or token (EINVAL, ENAMETOOLONG) */
	SPOOL_WHY_FOREIGN,	/* a path outside the queue (EXDEV) */
	SPOOL_WHY_NOMSG,	/* no message of that ID (ENOENT) */
	SPOOL_WHY_STATE,	/* not in the state asked for (ENOENT) */
	SPOOL_WHY_UNCLAIMED,	/* in new/, never claimed (ENOENT) */
	SPOOL_WHY_CLAIMED,	/* claimed, so not to be removed (EBUSY) */
	SPOOL_WHY_NOTSUB,	/* no such subscription (ENOENT) */
	SPOOL_WHY_NOTLINK,	/* subs/NAME is not a subscription (EINVAL) */
	SPOOL_WHY_OTHERSUB,	/* subs/NAME leads to another queue (EEXIST) */
	SPOOL_WHY_NOTMSG,	/* not a regular file: no message (EINVAL) */
	SPOOL_WHY_HASCLAIMS,	/* a queue with claims in cur/ (EBUSY) */
	SPOOL_WHY_HASSUBS,	/* a queue with subscribers (EBUSY) */
	SPOOL_WHY_NOTOURS,	/* holds what q did not make (ENOTEMPTY) */
	SPOOL_WHY_HOST,		/* not a valid node name (EINVAL) */
	SPOOL_WHY_UNMADE	/* a directory the first put makes a queue:
				   empty, or its making cut short (ENOENT) */
};

/*
 * Why the call that just failed with errnum failed: the reason it gave
 * beside errno, or SPOOL_WHY_SYSTEM.  Read it as errno is read, right
 * after the failure; reading it forgets it.
 */
enum spool_why spool_why(int errnum);

/* Which attributes a parsed name carries (struct spool_name.attrs). */
enum spool_attr {
	SPOOL_ATTR_PRIO = 1 << 0,	/* p= */
	SPOOL_ATTR_ATTEMPTS = 1 << 1,	/* a= */
	SPOOL_ATTR_BASE = 1 << 5,	/* b= */
	SPOOL_ATTR_DUE = 1 << 2,	/* d= */
	SPOOL_ATTR_LEASE = 1 << 3,	/* l= */
	SPOOL_ATTR_WORKER = 1 << 4	/* w= */
};

/* A message file name taken apart by spool_name_parse(). */
struct spool_name {
	char		 name[SPOOL_NAME_MAX + 1];	/* the whole name */
	size_t		 idlen;		/* name[0..idlen) is the ID */
	time_t		 sec;		/* enqueue time */
	long		 usec;
	unsigned	 attrs;		/* enum spool_attr */
	int		 prio;		/* 0-9, SPOOL_PRIO_DEFAULT if absent */
	unsigned	 attempts;	/* claims so far, 0 if absent */
	unsigned	 base;		/* a= when the budget began (b=) */
	time_t		 due;		/* not before, 0 if absent */
	time_t		 lease;		/* lease expiry, 0 if absent */
	pid_t		 wpid;		/* w= process, 0 if absent */
	char		 whost[SPOOL_HOST_MAX + 1];	/* w= host */
};

/* Per-queue settings: the queue's config file over these defaults. */
struct spool_config {
	long long	 lease;		/* seconds, default 300 */
	long long	 attempts;	/* claims before failed/, default 5 */
	long long	 backoff;	/* first retry delay, default 10 */
	long long	 backoff_max;	/* default 3600 */
	long long	 keep_done;	/* default 7 days; 0 deletes on ack */
	long long	 keep_failed;	/* default 0, kept forever */
	long long	 dedup;		/* default 1 day */
	long long	 sync;		/* 1: fsync on put (default), 0: not */
	long long	 skew;		/* seconds leases allow for the clocks
					   of other hosts; -1: auto (30 on a
					   remote file system, else 0) */
	long long	 poll;		/* ms between looks where arrivals
					   cannot be heard, default 1000 */
	long long	 locks;		/* SPOOL_LOCKS_AUTO or _SHARED */
	char		 host[SPOOL_HOST_MAX + 1];	/* "": none set */
};

/* locks: are flock(2) locks seen by every host of the spool? */
#define SPOOL_LOCKS_AUTO	0	/* only on a local file system */
#define SPOOL_LOCKS_SHARED	1	/* on a remote one too (NFSv4) */

/* skew on a remote file system unless set */
#define SPOOL_SKEW_REMOTE	30

struct spool;
struct spool_batch;

/*
 * Names, durations and settings.  None of these make a system call.
 */

/*
 * Parse a message name (or an ID, or a claim token ID,a=N) strictly by the
 * grammar of q(5).  Returns 0, or -1 with EINVAL if s is not such a name
 * (ENAMETOOLONG if longer than SPOOL_NAME_MAX).  *out is undefined on error.
 */
int	 spool_name_parse(const char *s, struct spool_name *out);

/*
 * spool_name_parse() of the name in a reference as the commands take it:
 * an ID, a token, or a path whose last part is a message file name.
 */
int	 spool_ref_parse(const char *ref, struct spool_name *out);

/*
 * Rebuild n->name from the ID and the attributes set in n->attrs, in the
 * canonical order.  Returns 0, or -1 with ENAMETOOLONG.
 */
int	 spool_name_format(struct spool_name *n);

/* The longest duration q takes anywhere, in seconds: ten years. */
#define SPOOL_DURATION_MAX	(3650LL * 86400)

/*
 * Parse a duration: N or N followed by s, m, h, d or w (decimal digits,
 * leading zeros allowed: "05m" is 5 minutes).  Stores seconds in
 * *secs and returns 0, or returns -1 with EINVAL (malformed) or ERANGE
 * (above SPOOL_DURATION_MAX).
 */
int	 spool_duration_parse(const char *s, long long *secs);

/*
 * Format a duration in seconds as the largest unit that divides it
 * ("90" gives "90s", "7200" gives "2h") into buf.  Returns buf.
 */
char	*spool_duration_format(long long secs, char *buf, size_t len);

/*
 * Check a setting: key must be one of lease, attempts, backoff,
 * backoff-max, keep-done, keep-failed, dedup, sync, and value valid for it.
 * On success stores the value in *cfg (if not NULL) and returns 0;
 * otherwise -1 with ENOENT (unknown key) or EINVAL/ERANGE (bad value).
 */
int	 spool_config_parse(struct spool_config *cfg, const char *key,
	    const char *value);

/* The setting names in the order spool_config_show() lists them. */
extern const char *const spool_config_keys[];

/*
 * Format one setting of cfg as text into buf.  Returns 0, or -1 with
 * ENOENT for an unknown key.
 */
int	 spool_config_show(const struct spool_config *cfg, const char *key,
	    char *buf, size_t len);

/* Name of a state directory ("new", "cur", ...). */
const char *spool_state_name(enum spool_state st);

/*
 * Queues.
 */

enum spool_open_flags {
	SPOOL_OPEN_CREATE = 1 << 0,	/* create a missing queue (mkdir -p) */
	SPOOL_OPEN_ANYCONFIG = 1 << 1	/* open with a malformed config */
};

/*
 * Open the queue at path.  With SPOOL_OPEN_CREATE a missing queue and its
 * missing parents are created (modes from the umask) and every directory
 * created is fsynced together with its parent.  Reads the queue's config.
 * In a group-writable queue, state directories it creates get the
 * queue directory's mode.  Returns a handle, or NULL with errno: ENOENT (no
 * such queue), ENOTDIR (path or a state directory is not a directory, or is
 * a symlink), EXDEV (a state directory on another file system), EINVAL
 * (malformed config, or config not a regular file), EACCES, ENOMEM, or an
 * I/O error.  With SPOOL_OPEN_ANYCONFIG a malformed config is no error:
 * the defaults apply, and spool_config_error() says what is wrong.
 */
struct spool *spool_open(const char *path, int flags);

/*
 * What is wrong with the queue's config file, as the last read of it
 * found ("line 3: unknown key: colour"), or NULL if nothing is.
 */
const char *spool_config_error(const struct spool *sp);

/* Close the handle and everything it holds.  Never fails. */
void	 spool_close(struct spool *sp);

/* The queue's effective settings. */
const struct spool_config *spool_config(const struct spool *sp);

/*
 * Set key to value in the queue's config file, keeping its other lines and
 * comments; the file is replaced atomically and durably.  Writers are
 * serialised (flock(2) of the queue directory), so concurrent ones all
 * keep their change.  Returns 0, or -1
 * with ENOENT (unknown key), EINVAL/ERANGE (bad value) or an I/O error;
 * on error the file is unchanged, except when the final fsync of the queue
 * directory fails: then the new file is in place but may not survive a
 * crash.
 */
int	 spool_config_set(struct spool *sp, const char *key, const char *value);

/*
 * Read the queue's config again if the file changed since it was last read
 * (a stat of it otherwise): the handle then follows `q config` while it
 * runs.  Returns 1 (read again), 0 (unchanged), or -1 with errno (EINVAL:
 * the new file is malformed, and the settings stay as they were).
 */
int	 spool_config_reload(struct spool *sp);

/* The directory descriptor of a state directory of the queue. */
int	 spool_dirfd(const struct spool *sp, enum spool_state st);

/*
 * Set the node name that the IDs and the w= of claims made through sp
 * carry from now on, instead of the host setting of the queue's config or
 * the host name (q(5)): 1 to SPOOL_HOST_MAX of the characters
 * [A-Za-z0-9.-].  q(1) sets it from Q_HOST.  Returns 0, or -1 with EINVAL
 * (SPOOL_WHY_HOST) and the name unchanged.
 */
int	 spool_set_host(struct spool *sp, const char *name);

/*
 * Is the queue on a file system shared over a network or run in user
 * space (NFS, SMB, FUSE, Ceph, 9P, GPFS), where inotify sees only the
 * changes made on this host, and flock(2) locks are not known to be seen
 * by other hosts?  1 or 0.  Waits there look again every poll of the
 * config; liveness locks count only with locks = shared.
 */
int	 spool_remote(const struct spool *sp);

/*
 * Putting messages.
 */

enum spool_put_flags {
	SPOOL_PUT_NOSYNC = 1 << 0,	/* no fdatasync/fsync: not durable */
	SPOOL_PUT_AT = 1 << 1		/* delay is a Unix time, not seconds */
};

struct spool_putopt {
	int		 prio;		/* 0-9 */
	long long	 delay;		/* seconds; 0: ready at once */
	unsigned	 flags;		/* enum spool_put_flags */
	const void	*key;		/* dedup key (any bytes), or NULL */
	size_t		 keylen;
};

/*
 * Start a batch of messages.  opt may be NULL for defaults.  Nothing is
 * visible until spool_batch_commit().  Returns NULL with ENOMEM or EINVAL
 * (priority outside 0-9, negative delay).
 */
struct spool_batch *spool_batch_begin(struct spool *sp,
	    const struct spool_putopt *opt);

/*
 * Write one message into tmp/, from a buffer or from everything readable
 * on fd.  Returns 0, or -1 with errno (ENOSPC, EDQUOT, EIO, EFBIG, ...);
 * a failed message leaves nothing behind, and the batch can go on.
 */
int	 spool_batch_add(struct spool_batch *b, const void *buf, size_t len);
int	 spool_batch_add_fd(struct spool_batch *b, int fd);

/*
 * Like spool_batch_add(), with a dedup key of the message's own (any
 * bytes), as put -K gives each record; not in a batch begun with
 * opt->key (EINVAL).  At commit, a message whose key was recorded within
 * the dedup window, or is that of an earlier message of the batch, is a
 * duplicate: nothing is enqueued for it, spool_batch_isdup() is 1 and
 * its spool_batch_id() is the ID recorded (or the earlier message's).
 * The commit holds a lock (a descriptor) per distinct key of the batch.
 */
int	 spool_batch_add_keyed(struct spool_batch *b, const void *key,
	    size_t keylen, const void *buf, size_t len);

/*
 * Make every message added so far visible in new/ and durable: a batch
 * of one is fdatasynced now (its file was kept open for that); a larger
 * one is made durable now by one syncfs(2) (on Linux before 5.8, whose
 * syncfs does not report write-back errors, each file was fdatasynced as
 * it was written instead); then each is renamed into new/ and new/ is
 * fsynced once.  A batch holds one descriptor open from its first
 * message until it is committed or freed.
 * Returns 0, or -1 with errno; then spool_batch_count() says how many of
 * the first messages are in new/ and durable (the others are removed).
 *
 * With a key (opt->key) the batch must hold exactly one message (EINVAL
 * otherwise).  If the key was recorded within the queue's dedup window,
 * nothing is enqueued, spool_batch_deduped() is 1 and spool_batch_id(b, 0)
 * is the ID recorded for the key; otherwise the message is delivered and
 * then the key recorded.  Producers with the same key are serialised.
 *
 * In a topic (a queue with subscriptions in subs/) every message goes to
 * each subscribed queue instead: hard-linked into its new/ where it is on
 * the same file system, copied otherwise, each subscriber's new/ fsynced.
 * A subscription that does not lead to a queue, or whose delivery fails,
 * is skipped and listed by spool_batch_suberror(); if no subscriber got
 * the messages they stay in the topic's own new/.
 */
int	 spool_batch_commit(struct spool_batch *b);

/* 1 if the commit found a key seen before and enqueued nothing, else 0. */
int	 spool_batch_deduped(const struct spool_batch *b);

/* 1 if message i of the committed batch was a duplicate, else 0. */
int	 spool_batch_isdup(const struct spool_batch *b, size_t i);

/*
 * The i-th subscription that failed in the last commit: its name in subs/,
 * with the reason in *errnum and spool_why(*errnum) (SPOOL_WHY_NOTQUEUE:
 * it does not lead to a queue).  NULL past the last.
 */
const char *spool_batch_suberror(const struct spool_batch *b, size_t i,
	    int *errnum);

/* Messages added (before commit) or delivered (after commit). */
size_t	 spool_batch_count(const struct spool_batch *b);

/* ID of message i of the batch. */
const char *spool_batch_id(const struct spool_batch *b, size_t i);

/* Free the batch, removing the tmp/ files of uncommitted messages. */
void	 spool_batch_free(struct spool_batch *b);

/*
 * Put one message: a batch of one.  Stores its ID in id (at least
 * SPOOL_NAME_MAX + 1 bytes).  Returns 0 or -1 with errno as above.
 */
int	 spool_put(struct spool *sp, const struct spool_putopt *opt,
	    const void *buf, size_t len, char *id);

/*
 * Make the queue a topic with the queue at target (an absolute path) among
 * its subscribers, as the symlink subs/name.  Returns 0 (also when that
 * subscription exists already), or -1 with EINVAL (name empty, starting
 * with a dot or holding a '/'; target not absolute), ENOENT or ENOTDIR
 * (target is not a queue), EEXIST (name leads elsewhere), or an I/O error.
 */
int	 spool_subscribe(struct spool *sp, const char *name,
	    const char *target);

/*
 * Look up the subscription subs/name: 1 with its target in target (len
 * bytes), 0 if there is none, -1 with EINVAL (bad name), EEXIST (subs/name
 * is there but no symlink) or an I/O error.
 */
int	 spool_subscription(struct spool *sp, const char *name, char *target,
	    size_t len);

/*
 * Call fn for every subscription of the queue, in the byte order of their
 * names, with its name in subs/ and the path it leads to; entries of subs/
 * that are no symbolic link are skipped.  fn returns 0 to go on, anything
 * else to stop, which is then returned.  Returns 0 (also when the queue
 * has no subs/), or -1 with errno (ENOMEM, an I/O error).
 */
typedef int spool_sub_fn(void *arg, const char *name, const char *target);
int	 spool_subscribers(struct spool *sp, spool_sub_fn *fn, void *arg);

/*
 * Remove the subscription subs/name.  Returns 0, or -1 with ENOENT (no
 * such subscription), EINVAL (bad name, or subs/name is not a symlink: it
 * is left alone), or an I/O error.
 */
int	 spool_unsubscribe(struct spool *sp, const char *name);

/*
 * Claiming and the claim's life cycle.
 */

enum spool_claim_flags {
	SPOOL_CLAIM_OPEN = 1 << 0	/* open the message for reading */
};

struct spool_claimopt {
	long long	 lease;		/* seconds, 1 to SPOOL_LEASE_MAX */
	unsigned	 flags;		/* enum spool_claim_flags */
	pid_t		 wpid;		/* getpid() to mark w=, or 0 */
};

struct spool_msg {
	struct spool_name n;		/* its name in cur/ */
	int		 fd;		/* with SPOOL_CLAIM_OPEN, or -1 */
};

/*
 * Claim the ready message with the lowest (priority, enqueue time): rename
 * it from new/ into cur/ with a= one higher and l= the lease expiry.
 * Delayed, foreign and non-regular entries are skipped.  Of several
 * claimants exactly one wins each message.  With opt->wpid (which must be
 * getpid()) the claim is marked w=PID@HOST and the process holds its
 * liveness lock (spool_live()) from before the claim exists, so that
 * spool_sweep() can tell a live worker from a dead one at every instant.
 * With SPOOL_CLAIM_OPEN the file is opened before the rename and m->fd
 * reads the message claimed (the caller closes it); nothing is locked on
 * the message, so hard-linked copies in other queues are claimed
 * independently.  A paused queue has nothing to claim.  Returns 1 with *m
 * filled, 0 when nothing is ready, -1 with errno (EINVAL for a bad lease
 * or wpid, I/O errors).
 */
int	 spool_claim(struct spool *sp, const struct spool_claimopt *opt,
	    struct spool_msg *m);

/*
 * Hold the calling process's liveness lock in the queue: flock(2) on
 * live/PID@HOST, which sweepers test to tell whether the process is alive,
 * and into which spool_claim() and spool_touch() write a heartbeat (see
 * q(5)).  spool_claim() with wpid and every write into tmp/ take it
 * anyway; a worker takes it before its first sweep, so that claims that a
 * dead process with the same PID left are returned by that sweep.  The
 * lock lasts until spool_close() or the process's end; a child that
 * inherits the descriptor keeps the process alive in the eyes of sweepers
 * until it exits.  Returns the descriptor (close-on-exec), or -1 with
 * errno (EACCES, an I/O error).
 */
int	 spool_live(struct spool *sp);

/*
 * Is the queue still where it was opened?  Returns 0, or -1 with ENOENT
 * (its directory was removed, or moved away from the path given to
 * spool_open()) or ESTALE (another directory took its place).
 */
int	 spool_check(struct spool *sp);

/* Is the queue paused (a file named paused in it)?  Returns 1 or 0. */
int	 spool_paused(const struct spool *sp);

/*
 * Earliest due time of a delayed message seen by the last claim scan, or
 * 0 if none was seen.
 */
time_t	 spool_next_due(const struct spool *sp);

/*
 * Waiting for arrivals: the handle's one watch on new/.
 *
 * spool_watch: start watching (if not yet) and return a descriptor for
 * poll(2) that becomes readable when something arrives in new/, or -1 if
 * arrivals cannot be heard (spool_remote(), or no inotify instance left):
 * then look again on a timer.  Start it before the look that found
 * nothing, so that nothing slips in between.  The handle owns it.
 * spool_heard: take in what the descriptor reported; call it when poll
 * says it is readable (claims do it themselves).
 * spool_wait_ms: how long to sleep at most before looking again, in ms:
 * until the earliest delayed message is due (spool_next_due()), at most
 * the poll interval (config poll, a second by default) without a watch or
 * while the queue is paused, never past limit
 * (ms; -1: none).  -1 means until something arrives.
 * spool_wait: sleep that long, or until something arrives.  Returns 1 if
 * something did, 0 otherwise (a signal included).
 */
int	 spool_watch(struct spool *sp);
void	 spool_heard(struct spool *sp);
long long spool_wait_ms(struct spool *sp, long long limit);
int	 spool_wait(struct spool *sp, long long limit);

/*
 * Resolve a reference as given on a command line, a bare ID, a claim token
 * (ID,a=N), a message name, or a path to a message file of this queue, to
 * its current file in one of the states in mask (1 << SPOOL_NEW | ...).
 * A token or name with a= matches only that claim.  Returns 1 with *out
 * filled and *st set, 0 if there is no such message in those states, or -1
 * with EINVAL (malformed reference) or EXDEV (a path outside the queue).
 */
int	 spool_find(struct spool *sp, const char *ref, unsigned mask,
	    struct spool_name *out, enum spool_state *st);

/*
 * Open the message file named n in state st for reading (O_NOFOLLOW,
 * O_NONBLOCK, regular files only).  Returns a descriptor, or -1 with
 * ENOENT (moved meanwhile) or EINVAL (not a regular file).
 */
int	 spool_open_msg(struct spool *sp, enum spool_state st,
	    const struct spool_name *n);

/*
 * Transitions of a claimed message, addressed by reference as for
 * spool_find().  A token or name fences: the transition happens only while
 * that same claim holds.  Each is one rename (compare-and-swap on the exact
 * name, retried when a concurrent touch renamed it).  Return 0, or -1 with
 * ENOENT (not claimed, or the claim was lost: nothing changed), EINVAL
 * (malformed reference or argument), EXDEV, or an I/O error (nothing
 * changed).
 *
 * spool_ack: cur -> done (deleted when keep-done is 0).
 * spool_fail: cur -> failed.
 * spool_release: cur -> new, due after delay seconds (0: at once).
 * spool_release_at: cur -> new, due at the Unix time when (at once if it
 * has passed).
 * spool_touch: new lease of lease seconds; the new name goes to newname
 * (if not NULL, SPOOL_NAME_MAX + 1 bytes).
 */
int	 spool_ack(struct spool *sp, const char *ref);
int	 spool_fail(struct spool *sp, const char *ref);
int	 spool_release(struct spool *sp, const char *ref, long long delay);
int	 spool_release_at(struct spool *sp, const char *ref, time_t when);
int	 spool_touch(struct spool *sp, const char *ref, long long lease,
	    char *newname);

/*
 * Delay before the next try of a message that failed on its attempt-th
 * claim: the queue's backoff doubled for each earlier attempt, capped at
 * backoff-max, then jittered down by up to a half so that a burst of
 * failures does not come back all at once.  Never fails.
 */
long long spool_backoff(const struct spool *sp, unsigned attempt);

/*
 * Is a message ready to be claimed (not delayed, queue not paused)?
 * Returns 1, 0, or -1 with errno.  Also updates spool_next_due().
 */
int	 spool_ready(struct spool *sp);

enum spool_requeue_flags {
	SPOOL_REQUEUE_TEMPORARY = 1 << 0,	/* never to failed/ */
	SPOOL_REQUEUE_NOW = 1 << 1		/* no backoff, never failed/ */
};

/*
 * After a failed try of the claimed message ref: release it for another
 * try after spool_backoff(), or, once it has been claimed attempts times
 * (0: the queue's attempts setting), move it to failed/.  flags may keep it
 * from failed/ (SPOOL_REQUEUE_TEMPORARY) or release it at once
 * (SPOOL_REQUEUE_NOW).  Returns 1 (released, the delay in *delay), 0 (moved
 * to failed/), or -1 with errno as spool_release() and spool_fail().
 */
int	 spool_requeue(struct spool *sp, const char *ref, long long attempts,
	    unsigned flags, long long *delay);

/*
 * Housekeeping.
 */

enum spool_event {
	SPOOL_EV_EXPIRED,	/* lease expired: back to new/ */
	SPOOL_EV_DEAD,		/* worker died: back to new/ */
	SPOOL_EV_EXHAUSTED,	/* expired or dead, out of attempts: failed/ */
	SPOOL_EV_TMP,		/* stale tmp/ (or hidden .nfs) file removed */
	SPOOL_EV_WRITER,	/* tmp/ file of a dead writer removed */
	SPOOL_EV_PURGED,	/* done/ or failed/ message past retention */
	SPOOL_EV_FOREIGN,	/* foreign file, left alone */
	SPOOL_EV_KEY,		/* dedup key past the window, forgotten */
	SPOOL_EV_ERROR,		/* could not act on a file; errno says why */
	SPOOL_EV_FANOUT,	/* fan-out cut short by a crash, completed */
	SPOOL_EV_MENDED,	/* a move left half done, finished */
	SPOOL_EV_TWIN		/* claim of another machine of our name, kept */
};

typedef void spool_report_fn(void *arg, enum spool_event ev,
	    enum spool_state st, const char *name, int errnum);

enum spool_sweep_flags {
	SPOOL_SWEEP_DRYRUN = 1 << 0,	/* report, change nothing */
	SPOOL_SWEEP_CLAIMS = 1 << 1	/* only cur/, tmp/, fan/: recovery */
};

/*
 * Return expired claims to new/ (failed/ once out of attempts), and the
 * claims of dead workers of this host at once (their liveness lock is
 * free; see spool_live()); remove the tmp/ files of dead writers of this
 * host at once and other tmp/ files older than 36 hours (never those of a
 * live writer of this host), and the hidden files (.nfs*, .fuse_hidden*)
 * that a crashed client of a remote file system left in any state, 36
 * hours after they were hidden (SPOOL_EV_TMP); complete the fan-outs of a
 * topic that a crash cut short (SPOOL_EV_FANOUT, naming fan/NAME with
 * state SPOOL_TMP);
 * finish a move that the link + unlink fallback left half done when it
 * returns a claim whose message has a second name in the queue
 * (SPOOL_EV_MENDED: the claim was the move's source and is removed);
 * remove done/ and failed/ messages past keep-done and keep-failed; forget
 * dedup keys past the dedup window (the report names keys/HASH with state
 * SPOOL_TMP); report foreign files.  A lease further than SPOOL_LEASE_MAX
 * in the future counts as expired; the leases of a live worker of this
 * host that is still renewing are judged by its own clock (q(5)).  A claim
 * whose worker's heartbeat says it runs on another machine (another boot
 * ID) that uses this node name is judged by its lease alone, and reported
 * (SPOOL_EV_TWIN, not an action) at each sweep.  On file
 * systems where locks do not cross hosts (spool_remote()) only leases and
 * ages count.  With SPOOL_SWEEP_CLAIMS only cur/, tmp/ and fan/ are looked
 * at: what recovery needs, cheap enough to do every few seconds.  Each
 * action and each foreign file is passed to report (may be NULL).  Returns
 * the number of actions taken (or that would be taken), or -1 with errno
 * when a state directory cannot be read; a failure on one file is
 * reported as SPOOL_EV_ERROR and the sweep goes on.
 */
int	 spool_sweep(struct spool *sp, unsigned flags, spool_report_fn *report,
	    void *arg);

/*
 * Inspection and administration.
 */

enum spool_each_flags {
	SPOOL_EACH_STAT = 1 << 0,	/* fill spool_entry.st (lstat) */
	SPOOL_EACH_ONCE = 1 << 1,	/* each message once, none missed */
	SPOOL_EACH_BYID = 1 << 2,	/* in ID order within each state */
	SPOOL_EACH_BYSIZE = 1 << 3,	/* by size, then ID, in each state */
	SPOOL_EACH_REVERSE = 1 << 4	/* the order reversed (each state) */
};

struct spool_entry {
	enum spool_state state;
	const char	*name;		/* file name as found */
	int		 foreign;	/* not a message: n is unset */
	struct spool_name n;		/* parsed name of a message */
	struct stat	 sb;		/* with SPOOL_EACH_STAT */
};

/*
 * Call fn for every entry of the state directories in mask (1 << st),
 * state by state in directory order, never sorting, never opening a file:
 * memory stays bounded whatever the queue's size.  With SPOOL_EACH_BYID or
 * SPOOL_EACH_BYSIZE every entry is read first and then passed on state by
 * state in that order (messages first, then foreign entries by name; with
 * SPOOL_EACH_REVERSE each of the two the other way round): that costs
 * about 64 bytes plus the name a listed entry, ENOMEM if it cannot be had,
 * and sb then holds only st_size, st_mode, st_mtim and st_ctim (lstat is
 * implied).  Dot files are skipped;
 * foreign entries are passed with foreign set.  fn returns 0 to go on, or
 * anything else to stop, which spool_each() then returns.  Returns 0, or
 * -1 with errno if a directory cannot be read.
 *
 * A message moved by another process during the walk can be passed twice
 * (in two states, or under two names) or not at all.  With
 * SPOOL_EACH_ONCE each message (by ID) is passed at most once, in the
 * first state it was found in, and a directory that changed while it was
 * read is read again (up to 4 looks, sleeping up to SPOOL_QUIET_MS ms
 * before each) for messages not yet passed, which come after the others;
 * foreign entries are passed from the first look only.  It costs up to 16
 * bytes a message.
 */
typedef int spool_each_fn(void *arg, const struct spool_entry *e);
int	 spool_each(struct spool *sp, unsigned mask, unsigned flags,
	    spool_each_fn *fn, void *arg);

#define SPOOL_AGE_BUCKETS	8

/* Ready-message age buckets: up to 1m, 5m, 15m, 1h, 4h, 1d, 7d, older. */
extern const long long spool_age_limits[SPOOL_AGE_BUCKETS];

struct spool_stats {
	unsigned long long count[SPOOL_NSTATES];	/* messages */
	unsigned long long bytes[SPOOL_NSTATES];
	unsigned long long delayed;	/* of new/: not yet due */
	unsigned long long expired;	/* of cur/: lease passed or forged */
	unsigned long long foreign;	/* in new/ cur/ done/ failed/ */
	long long	 oldest;	/* age of the oldest ready message, s */
	unsigned long long ages[SPOOL_AGE_BUCKETS];	/* ready, by age */
	int		 paused;
	unsigned long long skewed;	/* enqueued in the future: clock skew */
	int		 remote;	/* spool_remote() */
	int		 leaseonly;	/* claims by lease alone: a free
					   liveness lock proves nothing here */
	long long	 skew;		/* seconds allowed for other hosts'
					   clocks (config skew, resolved) */
};

/*
 * Count messages and bytes per state, delayed and expired ones, foreign
 * files, and the ages of ready messages (an age is never negative: a
 * message whose ID time is ahead of this host's clock counts as 0 seconds
 * old, and in skewed), and how claims are judged there: by lease alone
 * on a remote file system unless locks = shared, with skew seconds given
 * to each lease (q(5)).  Returns 0, or -1 with errno.
 */
int	 spool_stats(struct spool *sp, struct spool_stats *out);

/*
 * spool_retry: a failed/ message back to new/, attempts reset.
 * spool_replay: a done/ message back to new/, attempts reset.
 * spool_remove: delete a message from new/, done/ or failed/.
 * ref as for spool_find().  Return 0, or -1 with ENOENT (no such message
 * in that state), EBUSY (spool_remove: it is claimed), EINVAL, EXDEV, or
 * an I/O error (nothing changed).
 */
int	 spool_retry(struct spool *sp, const char *ref);
int	 spool_replay(struct spool *sp, const char *ref);
int	 spool_remove(struct spool *sp, const char *ref);

/*
 * spool_retry_all: every failed/ message back to new/.
 * spool_replay_since: every done/ message acknowledged at or after since
 * (Unix time, by the mtime q set as it moved them there) back to new/.
 * spool_purge: delete every message of st (SPOOL_NEW, SPOOL_DONE or
 * SPOOL_FAILED, never SPOOL_CUR) that has been there at least age seconds
 * (by its mtime); a message claimed meanwhile is not deleted (its name in
 * new/ is gone).
 * Each returns the number of messages acted on, or -1 with errno (EINVAL
 * for another state); a message moved by somebody else meanwhile is
 * skipped, not an error.
 */
long long spool_retry_all(struct spool *sp);
long long spool_replay_since(struct spool *sp, time_t since);
long long spool_purge(struct spool *sp, enum spool_state st, long long age);

enum spool_drop_flags {
	SPOOL_DROP_FORCE = 1 << 0	/* even with claims or subscribers */
};

/*
 * Delete the queue at path and every message in it, and return how many
 * messages it deleted (or -1 with errno): the queue directory
 * is renamed to .q-drop-INODE in its parent (fsynced), so that it is gone
 * from path in one step, then emptied and removed, the parent fsynced.
 * Refused, with nothing changed, while cur/ holds claims (EBUSY,
 * SPOOL_WHY_HASCLAIMS; also when one is made before the rename: the queue
 * is then renamed back) or subs/ subscriptions (EBUSY, SPOOL_WHY_HASSUBS),
 * unless SPOOL_DROP_FORCE; always refused when the queue holds anything
 * q does not make there (ENOTEMPTY, SPOOL_WHY_NOTOURS: its path in the
 * queue goes to what, len bytes, if what is not NULL).  Also -1 with
 * ENOENT (SPOOL_WHY_NOQUEUE), ENOTDIR (SPOOL_WHY_NOTQUEUE: not a queue,
 * or a symbolic link, which is never followed), or an I/O error.  A
 * failure after the rename leaves the hidden directory, whose name then
 * goes to what.
 */
long long spool_drop(const char *path, unsigned flags, char *what,
	    size_t len);

/*
 * Pause (on) or resume (!on) claiming: a file named paused in the queue,
 * made durable.  put still works; spool_claim() finds nothing.  Returns 0
 * (also when already in that state), or -1 with errno.
 */
int	 spool_pause(struct spool *sp, int on);

#endif /* SPOOL_H */
