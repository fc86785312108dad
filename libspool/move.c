/*
 * move.c - the life of a claim: ack, fail, release, touch.
 *
 * Each transition is one rename of the claim's exact name in cur/, so it
 * is a compare-and-swap: if the lease expired and sweep (or another
 * claimant) moved the message first, the rename finds no source, the
 * caller learns it lost the message, and nothing changes.
 *
 * A reference with a= (a claim token, or a name) fences: it acts only on
 * the claim with that attempt count, so a worker whose message was swept
 * and claimed again cannot ack the new claim.  A bare ID acts on whatever
 * claim is current.  When the exact name is gone but a matching claim is
 * still there (a concurrent touch renamed it), the transition is retried
 * on the new name; it gives up when no matching claim is left.
 *
 * An ack with keep-done 0 unlinks the claim instead: unlinking the exact
 * name is the same compare-and-swap.  The backoff of a failed attempt,
 * which a release by q work uses, is here too.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

#define MOVE_TRIES	32

enum op { ACK, FAIL, RELEASE, RELEASE_AT, TOUCH };

/*
 * Where claim cur goes by op: its name in *dst, its state returned.
 */
static enum spool_state
target(const struct spool_name *cur, enum op op, long long arg,
    struct spool_name *dst)
{
	time_t now;

	*dst = *cur;
	switch (op) {
	case ACK:
	case FAIL:
		dst->attrs &= ~(SPOOL_ATTR_DUE | SPOOL_ATTR_LEASE |
		    SPOOL_ATTR_WORKER);
		return op == ACK ? SPOOL_DONE : SPOOL_FAILED;
	case RELEASE:
	case RELEASE_AT:
		dst->attrs &= ~(SPOOL_ATTR_DUE | SPOOL_ATTR_LEASE |
		    SPOOL_ATTR_WORKER);
		now = spool__now();
		dst->due = op == RELEASE_AT ? (time_t)arg : now + (time_t)arg;
		if (dst->due > now)
			dst->attrs |= SPOOL_ATTR_DUE;
		return SPOOL_NEW;
	case TOUCH:
		dst->lease = spool__now() + (time_t)arg;
		break;
	}
	return SPOOL_CUR;
}

static int
transition(struct spool *sp, const char *ref, enum op op, long long arg,
    char *newname)
{
	struct spool_name r, cur, dst;
	enum spool_state st, to;
	int tries, res;
	nlink_t links;

	if (spool__parse_ref(sp, ref, &r) == -1)
		return -1;
	for (tries = 0; tries < MOVE_TRIES; tries++) {
		res = spool__find(sp, &r, 1U << SPOOL_CUR, &cur, &st,
		    &links);
		if (res == -1)
			return -1;
		if (res == 0)
			break;
		to = target(&cur, op, arg, &dst);
		if (spool_name_format(&dst) == -1)
			return -1;
		if (op == ACK && sp->cfg.keep_done == 0)
			res = unlinkat(sp->dfd[SPOOL_CUR], cur.name, 0);
		else if (op == TOUCH && dst.lease == cur.lease)
			res = 0;	/* touched twice in one second */
		else {
			if (to == SPOOL_DONE || to == SPOOL_FAILED)
				spool__stamp(sp->dfd[SPOOL_CUR], cur.name,
				    links);
			res = spool__move(sp, sp->dfd[SPOOL_CUR], cur.name,
			    sp->dfd[to], dst.name);
		}
		if (res == 0) {
			if (op == TOUCH)	/* a worker renewing: live.c */
				spool__beat(sp, arg, 0);
			if (newname != NULL)
				memcpy(newname, dst.name, sizeof(dst.name));
			return 0;
		}
		if (errno != ENOENT)
			return -1;
	}
	return spool__missing(sp, &r, 1U << SPOOL_CUR);
}

int
spool_ack(struct spool *sp, const char *ref)
{
	return transition(sp, ref, ACK, 0, NULL);
}

int
spool_fail(struct spool *sp, const char *ref)
{
	return transition(sp, ref, FAIL, 0, NULL);
}

int
spool_release(struct spool *sp, const char *ref, long long delay)
{
	if (delay < 0 || delay > SPOOL_DURATION_MAX) {
		errno = EINVAL;
		return -1;
	}
	return transition(sp, ref, RELEASE, delay, NULL);
}

int
spool_release_at(struct spool *sp, const char *ref, time_t when)
{
	if (when < 0 || when > spool__now() + SPOOL_DURATION_MAX) {
		errno = EINVAL;
		return -1;
	}
	return transition(sp, ref, RELEASE_AT, (long long)when, NULL);
}

int
spool_touch(struct spool *sp, const char *ref, long long lease,
    char *newname)
{
	if (lease < 1 || lease > SPOOL_LEASE_MAX) {
		errno = EINVAL;
		return -1;
	}
	return transition(sp, ref, TOUCH, lease, newname);
}

int
spool_requeue(struct spool *sp, const char *ref, long long attempts,
    unsigned flags, long long *delay)
{
	struct spool_name r, cur;
	enum spool_state st;
	int res;

	if (spool__parse_ref(sp, ref, &r) == -1)
		return -1;
	/* the claim itself: its attempts and where its budget began */
	res = spool__find(sp, &r, 1U << SPOOL_CUR, &cur, &st, NULL);
	if (res != 1)
		return res == 0 ? spool__missing(sp, &r, 1U << SPOOL_CUR) : -1;
	r = cur;
	if (attempts <= 0)
		attempts = sp->cfg.attempts;
	if (!(flags & (SPOOL_REQUEUE_TEMPORARY | SPOOL_REQUEUE_NOW)) &&
	    (long long)(r.attempts - r.base) >= attempts)
		return spool_fail(sp, ref) == -1 ? -1 : 0;
	*delay = (flags & SPOOL_REQUEUE_NOW) ? 0 :
	    spool_backoff(sp, r.attempts - r.base);
	return spool_release(sp, ref, *delay) == -1 ? -1 : 1;
}

/*
 * The delay before attempt number attempt + 1 after a failed one: backoff
 * doubled per attempt up to backoff-max, less a random part of up to half
 * (so that messages failed together spread out).
 */
long long
spool_backoff(const struct spool *sp, unsigned attempt)
{
	long long d = sp->cfg.backoff;
	unsigned i;

	for (i = 1; i < attempt && d > 0 && d < sp->cfg.backoff_max; i++)
		d *= 2;
	if (d > sp->cfg.backoff_max)
		d = sp->cfg.backoff_max;
	if (d > 1)
		d -= (long long)arc4random_uniform((uint32_t)(d / 2 + 1));
	return d;
}
