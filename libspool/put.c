/*
 * put.c - enqueueing: tmp/ -> new/, durably.
 *
 * The delivery protocol of maildir: each message is written into tmp/
 * under a fresh ID by spool__write() (O_EXCL, every write checked,
 * fdatasync, checked close), and only then renamed into new/; new/ is
 * fsynced once for the whole batch before any ID is handed out.  A batch
 * of several messages is committed as a group: its files are written
 * without a sync each, then one syncfs(2) of the file system makes them
 * all durable (it reports any write-back error since the queue was
 * opened) before the first is renamed into new/.  The first file is kept
 * open until the commit, so that a batch that stays at one message is
 * fdatasynced alone rather than syncing the whole file system.  syncfs
 * reports write-back errors only from Linux 5.8 on: on an older kernel
 * each file of a batch is fdatasynced as it is written instead.  A crash
 * at any point leaves at most a file in tmp/, which nobody else looks at
 * and sweep removes after 36 hours; a reader of new/ never sees a partial
 * message.  If committing fails halfway the messages already renamed stay
 * (they are complete) and count as delivered only if new/ could be
 * fsynced; the rest are removed from tmp/.
 *
 * IDs are unique on a host: enqueue time to the microsecond, PID, and a
 * per-handle counter; O_EXCL in tmp/ and RENAME_NOREPLACE into new/ catch
 * the impossible collision, which just takes the next sequence number.
 */
#define _GNU_SOURCE	/* syncfs */
#include <sys/utsname.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

#define ID_TRIES	16


int
spool__new_id(struct spool *sp, struct spool_name *n)
{
	struct timespec ts;
	int r;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	memset(n, 0, sizeof(*n));
	n->sec = ts.tv_sec;
	n->usec = ts.tv_nsec / 1000;
	n->prio = SPOOL_PRIO_DEFAULT;
	r = snprintf(n->name, sizeof(n->name), "%010lld.%06ld.%ld_%lu.%s",
	    (long long)n->sec, n->usec, (long)spool__pid(), sp->seq++,
	    sp->host);
	if (r < 0 || (size_t)r >= sizeof(n->name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	n->idlen = (size_t)r;
	return 0;
}

struct spool_batch *
spool_batch_begin(struct spool *sp, const struct spool_putopt *opt)
{
	struct spool_batch *b;

	if (opt != NULL && (opt->prio < 0 || opt->prio > 9 ||
	    opt->delay < 0)) {
		errno = EINVAL;
		return NULL;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->sp = sp;
	b->held = -1;
	if (opt != NULL)
		b->opt = *opt;
	else
		b->opt.prio = SPOOL_PRIO_DEFAULT;
	b->nosync = (b->opt.flags & SPOOL_PUT_NOSYNC) || sp->cfg.sync == 0;
	return b;
}

/*
 * Does syncfs(2) report write-back errors (Linux 5.8 and later)?  Else
 * a batch cannot be committed by one, and each file is synced instead.
 */
int
spool__groupsync(void)
{
	static int known = -1;
	struct utsname u;
	int major = 0, minor = 0;

	if (known == -1)
		known = uname(&u) == 0 &&
		    sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
		    (major > 5 || (major == 5 && minor >= 8));
	return known;
}

/* Room for the key of message b->n; the keys begin when the first does. */
static int
keyroom(struct spool_batch *b)
{
	struct batchkey *k;
	size_t cap;

	if (b->n < b->kcap)
		return 0;
	cap = b->kcap > 2 ? b->kcap * 2 : 4;
	if (cap <= b->n)
		cap = b->n + 1;
	if ((k = reallocarray(b->keys, cap, sizeof(*k))) == NULL)
		return -1;
	memset(k + b->kcap, 0, (cap - b->kcap) * sizeof(*k));
	b->keys = k;
	b->kcap = cap;
	return 0;
}

static int
add(struct spool_batch *b, const void *buf, size_t len, int fd)
{
	struct spool *sp = b->sp;
	struct spool_name *n;
	int i;

	if (b->done) {
		errno = EINVAL;
		return -1;
	}
	if (b->keys != NULL && keyroom(b) == -1)
		return -1;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		void *p = reallocarray(b->msgs, cap, sizeof(*b->msgs));

		if (p == NULL)
			return -1;
		b->msgs = p;
		b->cap = cap;
	}
	n = &b->msgs[b->n];
	for (i = 0; i < ID_TRIES; i++) {
		if (spool__new_id(sp, n) == -1)
			return -1;
		/*
		 * Group commit: no message is synced as it is written; the
		 * first stays open until the commit syncs it alone, or the
		 * file system once for all of them (syncall()).
		 */
		if (b->n == 0 && !b->nosync && spool__groupsync()) {
			if ((b->held = spool__create(sp, sp->dfd[SPOOL_TMP],
			    n->name, buf, len, fd)) != -1) {
				memcpy(b->heldname, n->name, sizeof(n->name));
				break;
			}
		} else if (spool__write(sp, sp->dfd[SPOOL_TMP], n->name, buf,
		    len, fd, b->nosync || spool__groupsync()) == 0)
			break;
		if (errno != EEXIST)
			return -1;
	}
	if (i == ID_TRIES)
		return -1;
	b->n++;
	return 0;
}

int
spool_batch_add(struct spool_batch *b, const void *buf, size_t len)
{
	return add(b, buf, len, -1);
}

int
spool_batch_add_fd(struct spool_batch *b, int fd)
{
	return add(b, NULL, 0, fd);
}

/* The name of message n in new/: its ID with p= and d= as asked. */
int
spool__newname(const struct spool_batch *b, const struct spool_name *n,
    struct spool_name *out)
{
	*out = *n;
	if (b->opt.prio != SPOOL_PRIO_DEFAULT) {
		out->prio = b->opt.prio;
		out->attrs |= SPOOL_ATTR_PRIO;
	}
	/* a time to come, or one given as a Unix time that is still ahead */
	if (b->opt.delay > 0 && (!(b->opt.flags & SPOOL_PUT_AT) ||
	    (time_t)b->opt.delay > n->sec)) {
		out->due = (b->opt.flags & SPOOL_PUT_AT) ?
		    (time_t)b->opt.delay : n->sec + (time_t)b->opt.delay;
		out->attrs |= SPOOL_ATTR_DUE;
	}
	return spool_name_format(out);
}

/* Rename message i from tmp/ into new/. */
static int
deliver(struct spool_batch *b, size_t i)
{
	struct spool *sp = b->sp;
	struct spool_name nn, id;
	int tries;

	for (tries = 0;; tries++) {
		if (spool__newname(b, &b->msgs[i], &nn) == -1)
			return -1;
		if (spool__move(sp, sp->dfd[SPOOL_TMP], b->msgs[i].name,
		    sp->dfd[SPOOL_NEW], nn.name) == 0)
			return 0;
		if (errno != EEXIST || tries == ID_TRIES)
			return -1;
		/* the ID is taken in new/: give ours the next one */
		if (spool__new_id(sp, &id) == -1 ||
		    spool__move(sp, sp->dfd[SPOOL_TMP], b->msgs[i].name,
		    sp->dfd[SPOOL_TMP], id.name) == -1)
			return -1;
		b->msgs[i] = id;
	}
}

/* Deliver every message into new/ of the queue itself. */
static int
plain(struct spool_batch *b)
{
	struct spool *sp = b->sp;
	struct spool_name nn;
	size_t i, k;
	int saved = 0;

	for (i = 0; i < b->n; i++)
		if (deliver(b, i) == -1) {
			saved = errno;
			break;
		}
	k = i;
	for (; i < b->n; i++)
		(void)unlinkat(sp->dfd[SPOOL_TMP], b->msgs[i].name, 0);
	if (k > 0 && !b->nosync && spool__fsync_dir(sp->dfd[SPOOL_NEW]) == -1) {
		if (saved == 0)
			saved = errno;
		/* not durable: take back what nobody has claimed yet */
		for (i = 0; i < k; i++)
			if (spool__newname(b, &b->msgs[i], &nn) == 0)
				(void)unlinkat(sp->dfd[SPOOL_NEW], nn.name, 0);
		k = 0;
	}
	b->committed = k;
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * Make the files of the batch durable: the first message alone if it is
 * all there is (-K may have dropped the others), else the file system.
 */
static int
syncall(struct spool_batch *b)
{
	int r, saved;

	if (b->n == 1 && b->held != -1 &&
	    strcmp(b->msgs[0].name, b->heldname) == 0)
		r = fdatasync(b->held);
	else
		r = syncfs(b->sp->dfd[SPOOL_TMP]);
	saved = errno;
	if (b->held != -1 && close(b->held) == -1 && r == 0) {
		r = -1;
		saved = errno;
	}
	b->held = -1;
	errno = saved;
	return r;
}

int
spool__deliverall(struct spool_batch *b)
{
	int r;

	/* a batch is made durable at once, before anything is visible */
	if (!b->nosync && spool__groupsync() && syncall(b) == -1)
		return -1;

	if ((r = spool__fanout(b)) != 0)
		return r == 1 ? 0 : -1;
	return plain(b);
}

int
spool_batch_add_keyed(struct spool_batch *b, const void *key, size_t keylen,
    const void *buf, size_t len)
{
	if (b->opt.key != NULL || b->done) {
		errno = EINVAL;
		return -1;
	}
	if (keyroom(b) == -1 || add(b, buf, len, -1) == -1)
		return -1;
	spool__key_hash(key, keylen, b->keys[b->n - 1].hash);
	return 0;
}

int
spool_batch_commit(struct spool_batch *b)
{
	if (b->done || (b->opt.key != NULL && b->n != 1)) {
		errno = EINVAL;
		return -1;
	}
	if (b->opt.key != NULL) {
		if (keyroom(b) == -1)
			return -1;
		spool__key_hash(b->opt.key, b->opt.keylen, b->keys[0].hash);
	}
	b->done = 1;
	return b->keys != NULL ? spool__commit_keyed(b) : spool__deliverall(b);
}

int
spool_batch_deduped(const struct spool_batch *b)
{
	return b->deduped;
}

int
spool_batch_isdup(const struct spool_batch *b, size_t i)
{
	return b->done && b->keys != NULL && i < b->committed &&
	    b->keys[i].dup != FRESH;
}

const char *
spool_batch_suberror(const struct spool_batch *b, size_t i, int *errnum)
{
	if (i >= b->nsuberr)
		return NULL;
	*errnum = b->suberr[i].errnum;
	(void)spool__fail(b->suberr[i].why, *errnum);	/* for spool_why() */
	return b->suberr[i].name;
}

size_t
spool_batch_count(const struct spool_batch *b)
{
	return b->done ? b->committed : b->n;
}

const char *
spool_batch_id(const struct spool_batch *b, size_t i)
{
	return i < b->n ? b->msgs[i].name : NULL;
}

void
spool_batch_free(struct spool_batch *b)
{
	size_t i;
	int saved = errno;

	if (b == NULL)
		return;
	if (b->held != -1)
		(void)close(b->held);
	/* whatever was not delivered leaves no trace in tmp/ */
	for (i = b->done ? b->committed : 0; i < b->n; i++)
		if (b->keys == NULL || b->keys[i].dup == FRESH)
			(void)unlinkat(b->sp->dfd[SPOOL_TMP], b->msgs[i].name,
			    0);
	free(b->keys);
	free(b->msgs);
	free(b);
	errno = saved;
}

int
spool_put(struct spool *sp, const struct spool_putopt *opt, const void *buf,
    size_t len, char *id)
{
	struct spool_batch *b;
	int r = -1;

	if ((b = spool_batch_begin(sp, opt)) == NULL)
		return -1;
	if (spool_batch_add(b, buf, len) == 0 &&
	    spool_batch_commit(b) == 0) {
		memcpy(id, b->msgs[0].name, b->msgs[0].idlen + 1);
		r = 0;
	}
	spool_batch_free(b);
	return r;
}
