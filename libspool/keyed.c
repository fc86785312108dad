/*
 * keyed.c - committing a batch whose messages carry dedup keys: put -k
 * (one message, the key of the batch) and put -K (each record its own).
 *
 * The keys' locks are taken in the order of their hashes, so producers
 * whose batches share keys wait for each other and never deadlock; each
 * is held until its key is recorded.  A key recorded within the dedup
 * window, or already given to an earlier message of the same batch,
 * makes its message a duplicate: removed from tmp/, its ID the one
 * recorded.  The other messages are delivered together (one group
 * commit), and only then are their keys recorded: all written, then made
 * durable at once.  A crash leaves at worst a message whose key is not
 * recorded (put again, it is enqueued again: at least once), never a key
 * without its message.
 */
#define _GNU_SOURCE	/* syncfs */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

/* A message of the batch in the order of its key's hash. */
struct bykey {
	const char	*hash;
	size_t		 i;
};

static int
cmpkey(const void *a, const void *b)
{
	const struct bykey *x = a, *y = b;
	int c = strcmp(x->hash, y->hash);

	if (c != 0)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The keys' work in hand: the order, the locks held, the batch saved. */
struct keyed {
	struct spool_batch *b;
	struct bykey	*order;
	size_t		 nkeyed;
	int		*locks;
	size_t		 nlocks;
	size_t		*first;		/* duplicate in the batch: of which */
	struct spool_name *all;		/* the whole batch, in its order */
	size_t		*orig;		/* fresh message j is all[orig[j]] */
};

/*
 * Lock each distinct key, in hash order, and mark the duplicates: of a
 * record in keys/ (RECORDED, the recorded ID into all[i]) or of an
 * earlier message of the batch (EARLIER, which one into first[i]).
 */
static int
lockall(struct keyed *k)
{
	struct spool_batch *b = k->b;
	struct spool *sp = b->sp;
	char id[SPOOL_NAME_MAX + 1];
	size_t x, i, one = 0, n = b->n;
	const char *prev = NULL;
	int fd, r;

	for (i = 0, k->nkeyed = 0; i < n; i++)
		if (b->keys[i].hash[0] != '\0') {
			k->order[k->nkeyed].hash = b->keys[i].hash;
			k->order[k->nkeyed++].i = i;
		}
	qsort(k->order, k->nkeyed, sizeof(*k->order), cmpkey);
	for (x = 0; x < k->nkeyed; x++) {
		i = k->order[x].i;
		if (prev != NULL && strcmp(prev, k->order[x].hash) == 0) {
			b->keys[i].dup = EARLIER;
			k->first[i] = one;
			continue;
		}
		prev = k->order[x].hash;
		one = i;
		if ((fd = spool__key_lock(sp, prev)) == -1)
			return -1;
		k->locks[k->nlocks++] = fd;
		if ((r = spool__key_lookup(sp, prev, id)) == -1)
			return -1;
		if (r == 1) {
			b->keys[i].dup = RECORDED;
			memset(&k->all[i], 0, sizeof(k->all[i]));
			k->all[i].idlen = strlen(id);
			memcpy(k->all[i].name, id, k->all[i].idlen + 1);
		}
	}
	return 0;
}

/*
 * Deliver the fresh messages (those not duplicates) as a batch of their
 * own, then put the batch back in its order; a duplicate of an earlier
 * message of the batch gets its ID.  The messages committed are those
 * before the first fresh one that was not.
 */
static int
deliverfresh(struct keyed *k)
{
	struct spool_batch *b = k->b;
	size_t i, j, n = b->n, nfresh = 0;
	int r, saved;

	for (i = 0; i < n; i++)
		if (b->keys[i].dup)
			(void)unlinkat(b->sp->dfd[SPOOL_TMP],
			    b->msgs[i].name, 0);
		else {
			b->msgs[nfresh] = b->msgs[i];
			k->orig[nfresh++] = i;
		}
	b->n = nfresh;
	r = nfresh > 0 ? spool__deliverall(b) : 0;
	saved = errno;
	if (nfresh == 0)
		b->committed = 0;
	for (j = 0; j < nfresh; j++)
		k->all[k->orig[j]] = b->msgs[j];
	b->committed = b->committed == nfresh ? n : k->orig[b->committed];
	for (i = 0; i < n; i++)
		if (b->keys[i].dup == EARLIER)
			k->all[i] = k->all[k->first[i]];
	memcpy(b->msgs, k->all, n * sizeof(*b->msgs));
	b->n = n;
	errno = saved;
	return r;
}

/*
 * Record the key of each fresh message committed: each record written
 * into tmp/, all made durable by one syncfs (or each synced as it is
 * written, where syncfs does not report write-back errors), then renamed
 * into keys/, and keys/ fsynced once.
 */
static int
recordall(struct spool_batch *b)
{
	struct spool *sp = b->sp;
	struct spool_name *tmp;
	size_t i, nk = 0, done = 0, in = 0;
	int group, r = -1, saved;

	if ((tmp = reallocarray(NULL, b->committed + 1, sizeof(*tmp))) == NULL)
		return -1;
	for (i = 0; i < b->committed; i++)
		nk += b->keys[i].dup == FRESH && b->keys[i].hash[0] != '\0';
	group = nk > 1 && spool__groupsync();
	for (i = 0; i < b->committed; i++)
		if (b->keys[i].dup == FRESH && b->keys[i].hash[0] != '\0') {
			if (spool__key_write(sp, b->msgs[i].name,
			    b->nosync || group, &tmp[done]) == -1)
				goto out;
			done++;
		}
	if (group && !b->nosync && syncfs(sp->kfd) == -1)
		goto out;
	for (i = 0; i < b->committed; i++)
		if (b->keys[i].dup == FRESH && b->keys[i].hash[0] != '\0' &&
		    spool__key_install(sp, &tmp[in++], b->keys[i].hash) == -1)
			goto out;
	r = in > 0 && !b->nosync ? fsync(sp->kfd) : 0;
out:
	saved = errno;
	for (; in < done; in++)		/* written, never installed */
		(void)unlinkat(sp->dfd[SPOOL_TMP], tmp[in].name, 0);
	free(tmp);
	errno = saved;
	return r;
}

int
spool__commit_keyed(struct spool_batch *b)
{
	struct keyed k;
	size_t i, n = b->n;
	int r = -1, saved = 0;

	memset(&k, 0, sizeof(k));
	k.b = b;
	k.order = reallocarray(NULL, n, sizeof(*k.order));
	k.locks = reallocarray(NULL, n, sizeof(*k.locks));
	k.first = reallocarray(NULL, n, sizeof(*k.first));
	k.all = reallocarray(NULL, n, sizeof(*k.all));
	k.orig = reallocarray(NULL, n, sizeof(*k.orig));
	if (k.order == NULL || k.locks == NULL || k.first == NULL ||
	    k.all == NULL || k.orig == NULL) {
		saved = errno;
		goto out;
	}
	memcpy(k.all, b->msgs, n * sizeof(*b->msgs));
	if (lockall(&k) == -1) {
		saved = errno;
		for (i = 0; i < n; i++)
			b->keys[i].dup = 0;	/* all still in tmp/ */
		b->committed = 0;
		goto out;
	}
	r = deliverfresh(&k);
	saved = errno;
	for (i = 0; i < n; i++)
		b->deduped |= b->keys[i].dup && i < b->committed;
	/* the keys only once their messages are durable */
	if (recordall(b) == -1) {
		saved = errno;
		r = -1;
	}
out:
	for (i = 0; i < k.nlocks; i++)
		(void)close(k.locks[i]);
	free(k.order);
	free(k.locks);
	free(k.first);
	free(k.all);
	free(k.orig);
	errno = saved;
	return r;
}
