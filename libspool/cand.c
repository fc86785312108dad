/*
 * cand.c - the claim candidates of a queue handle: the best ready
 * messages of the last scan of new/, and the urgent arrivals since.
 *
 * A scan keeps the best CAND_MAX ready candidates by (priority, enqueue
 * time) in a heap whose top is the worst of them, so that a better name
 * replaces it at a cost of log CAND_MAX; their names live in an arena of
 * at most NAMES_MAX bytes, compacted when a replaced name leaves a hole,
 * so memory stays bounded whatever the depth.  Once the queue holds more
 * than the candidates, a name that sorts after the worst of them loses
 * without being parsed (spool__name_sortkey() reads the time and
 * priority off its first bytes): in a deep queue nearly all do, and a scan
 * costs little more than reading the directory.  After the scan the heap
 * is sorted, best first, and claims take from it in order.
 *
 * An arrival heard after the scan (arrive.c) that sorts ahead of the
 * remaining candidates (a message released or swept back, a more urgent
 * one) goes into a small heap of urgent arrivals that claims take first;
 * later ones wait for the rescan that comes when the candidates run out.
 * Too many urgent arrivals, or lost events, mark the candidates for a
 * rescan instead.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "banned.h"

/* The name of candidate c. */
static const char *
cname(const struct spool *sp, const struct cand *c)
{
	return sp->names + c->off;
}

/*
 * The one order of claims, of candidates and urgent arrivals alike: by
 * key (priority, then enqueue time: spool__name_sortkey()), then by name.
 * Does the name x with key kx come before y with key ky?
 */
static int
first(uint64_t kx, const char *x, uint64_t ky, const char *y)
{
	if (kx != ky)
		return kx < ky;
	return strcmp(x, y) < 0;
}

static int
before(const struct spool *sp, const struct cand *x, const struct cand *y)
{
	return first(x->key, cname(sp, x), y->key, cname(sp, y));
}

/* Restore the max-heap (worst candidate on top) below position i. */
static void
siftdown(struct spool *sp, int i, int n)
{
	struct cand *h = sp->cand, t;
	int c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && before(sp, &h[c], &h[c + 1]))
			c++;
		if (!before(sp, &h[i], &h[c]))
			break;
		t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

static void
siftup(struct spool *sp, int i)
{
	struct cand *h = sp->cand, t;
	int p;

	while (i > 0 && before(sp, &h[p = (i - 1) / 2], &h[i])) {
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

struct at {
	uint32_t off;
	int	 i;
};

static int
byoff(const void *a, const void *b)
{
	const struct at *x = a, *y = b;

	return (x->off > y->off) - (x->off < y->off);
}

/*
 * Squeeze the names of the kept candidates together at the start of the
 * arena, dropping what replaced names left behind.
 */
static int
compact(struct spool *sp)
{
	struct at *order;
	struct cand *c;
	uint32_t end = 0;
	int i;

	if ((order = reallocarray(NULL, (size_t)sp->ncand + 1,
	    sizeof(*order))) == NULL)
		return -1;
	for (i = 0; i < sp->ncand; i++) {
		order[i].off = sp->cand[i].off;
		order[i].i = i;
	}
	qsort(order, (size_t)sp->ncand, sizeof(*order), byoff);
	for (i = 0; i < sp->ncand; i++) {
		c = &sp->cand[order[i].i];
		memmove(sp->names + end, sp->names + c->off, c->len + 1U);
		c->off = end;
		end += c->room;
	}
	free(order);
	sp->namesend = sp->live = end;
	return 0;
}

/*
 * Room for need bytes at the end of the arena, growing it up to NAMES_MAX,
 * then compacting it once a quarter of it is left over from replaced
 * names.  Returns 1, 0 (no room: drop a candidate), or -1.
 */
static int
room(struct spool *sp, size_t need)
{
	size_t cap;
	char *p;

	while (sp->namesend + need > sp->namescap) {
		if (sp->namescap < NAMES_MAX) {
			cap = sp->namescap ? sp->namescap * 4 : 4096;
			if (cap > NAMES_MAX)
				cap = NAMES_MAX;
			if ((p = realloc(sp->names, cap)) == NULL)
				return -1;
			sp->names = p;
			sp->namescap = cap;
		} else if (sp->namesend - sp->live >= NAMES_MAX / 4) {
			if (compact(sp) == -1)
				return -1;
		} else
			return 0;
	}
	return 1;
}

/* Does the name s with key k sort before candidate c? */
static int
better(const struct spool *sp, uint64_t k, const char *s,
    const struct cand *c)
{
	return first(k, s, c->key, cname(sp, c));
}

/* Drop the worst candidate; returns it. */
static struct cand
dropworst(struct spool *sp)
{
	struct cand worst = sp->cand[0];

	sp->cand[0] = sp->cand[--sp->ncand];
	siftdown(sp, 0, sp->ncand);
	return worst;
}

/*
 * Keep n if it is among the best candidates of this scan: at most
 * CAND_MAX of them, with at most NAMES_MAX bytes of names.  Once either
 * is full, n takes the place of the worst kept candidate if it is better
 * (sp->full says the scan left some behind).  Returns 0, or -1 if out of
 * memory.
 */
int
spool__cand_add(struct spool *sp, const struct spool_name *n)
{
	struct cand c, old;
	size_t len = strlen(n->name);
	size_t need = (len + 8) & ~(size_t)7;	/* names of a queue vary a
						   little: most fit a place */
	void *p;
	int cap, r;

	c.key = spool__sortkey(n->prio, n->sec, n->usec);
	c.len = (uint16_t)len;
	if (sp->ncand == CAND_MAX)
		sp->full = 1;
	/* once some were left out, only a name ahead of them all comes in */
	if (sp->full && sp->ncand > 0 &&
	    !better(sp, c.key, n->name, &sp->cand[0]))
		return 0;
	r = sp->ncand == CAND_MAX ? 0 : room(sp, need);
	while (r == 0) {
		/* no slot or no room for its name: drop the worst */
		sp->full = 1;
		if (sp->ncand == 0 ||
		    !better(sp, c.key, n->name, &sp->cand[0]))
			return 0;
		old = dropworst(sp);
		if (len + 1 <= old.room) {	/* its place fits n */
			c.off = old.off;
			c.room = old.room;
			goto store;
		}
		sp->live -= old.room;
		r = room(sp, need);
	}
	if (r == -1)
		return -1;
	c.off = (uint32_t)sp->namesend;
	c.room = (uint16_t)need;
	sp->namesend += c.room;
	sp->live += c.room;
	if (sp->ncand == sp->candcap) {
		cap = sp->candcap ? sp->candcap * 4 : 64;
		if (cap > CAND_MAX)
			cap = CAND_MAX;
		if ((p = reallocarray(sp->cand, (size_t)cap,
		    sizeof(*sp->cand))) == NULL)
			return -1;
		sp->cand = p;
		sp->candcap = cap;
	}
store:
	memcpy(sp->names + c.off, n->name, len + 1);
	sp->cand[sp->ncand] = c;
	siftup(sp, sp->ncand++);
	return 0;
}

/*
 * Can the entry name not make it among the candidates?  Once they are
 * full, a name that sorts after the worst of them loses without being
 * parsed: in a deep queue nearly all do, and the scan costs little more
 * than reading the directory.  A name with d= is always parsed, for the
 * time of the next due message, and a malformed one is left to the parser.
 */
int
spool__cand_hopeless(const struct spool *sp, const char *name)
{
	uint64_t key;

	if (sp->ncand < CAND_MAX && !sp->full)
		return 0;
	if (spool__name_sortkey(name, &key) != 1)
		return 0;
	return !better(sp, key, name, &sp->cand[0]);
}

/* Is n delayed past now?  Then it only brings the next due time forward. */
int
spool__cand_delayed(struct spool *sp, const struct spool_name *n,
    time_t now)
{
	if (!(n->attrs & SPOOL_ATTR_DUE) || n->due <= now)
		return 0;
	if (sp->next_due == 0 || n->due < sp->next_due)
		sp->next_due = n->due;
	return 1;
}

/* Order of urgent arrivals, best on top. */
static int
uless(const struct urgent *x, const struct urgent *y)
{
	return first(x->key, x->name, y->key, y->name);
}

static void
uswap(struct urgent *x, struct urgent *y)
{
	struct urgent t = *x;

	*x = *y;
	*y = t;
}

/* Add an urgent arrival; when they are too many, rescan instead. */
static void
upush(struct spool *sp, uint64_t key, const char *name)
{
	struct urgent *u;
	int i, p;

	if (sp->urgent == NULL && (sp->urgent = reallocarray(NULL,
	    URGENT_MAX, sizeof(*sp->urgent))) == NULL) {
		sp->lost = 1;
		return;
	}
	if (sp->nurgent == URGENT_MAX) {
		sp->lost = 1;
		return;
	}
	u = sp->urgent;
	i = sp->nurgent++;
	u[i].key = key;
	memcpy(u[i].name, name, strlen(name) + 1);
	while (i > 0 && uless(&u[i], &u[p = (i - 1) / 2])) {
		uswap(&u[i], &u[p]);
		i = p;
	}
}

/* Take the best urgent arrival off into name. */
static void
upop(struct spool *sp, char *name)
{
	struct urgent *u = sp->urgent;
	int i = 0, c, n;

	memcpy(name, u[0].name, strlen(u[0].name) + 1);
	n = --sp->nurgent;
	u[0] = u[n];
	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && uless(&u[c + 1], &u[c]))
			c++;
		if (!uless(&u[c], &u[i]))
			break;
		uswap(&u[i], &u[c]);
		i = c;
	}
}

/*
 * Something named name arrived in new/ (arrive.c heard of it).  One that
 * sorts after the remaining candidates waits for the rescan that comes
 * when they run out; one ahead of them (a message released or swept back,
 * a more urgent priority) joins the urgent arrivals, which claims take
 * first; a delayed one only brings the next due time forward.
 */
void
spool__arrived(struct spool *sp, const char *name, time_t now)
{
	struct spool_name n;
	struct stat st;
	uint64_t key;
	int r;

	if (sp->icand >= sp->ncand || name[0] == '.' ||
	    (r = spool__name_sortkey(name, &key)) == -1 ||
	    (r == 1 && !better(sp, key, name, &sp->cand[sp->ncand - 1])) ||
	    spool_name_parse(name, &n) == -1 ||
	    !spool__valid_in(SPOOL_NEW, &n) ||
	    spool__cand_delayed(sp, &n, now))
		return;
	key = spool__sortkey(n.prio, n.sec, n.usec);
	if (better(sp, key, n.name, &sp->cand[sp->ncand - 1]) &&
	    fstatat(sp->dfd[SPOOL_NEW], n.name, &st, AT_SYMLINK_NOFOLLOW) ==
	    0 && S_ISREG(st.st_mode))
		upush(sp, key, n.name);
}


void
spool__cand_reset(struct spool *sp)
{
	sp->ncand = sp->icand = sp->full = 0;
	sp->namesend = sp->live = 0;
	sp->next_due = 0;
	sp->nurgent = sp->lost = 0;
}

/* After a scan: best first (a heapsort of the worst-first heap). */
void
spool__cand_sort(struct spool *sp)
{
	struct cand t;
	int i;

	for (i = sp->ncand - 1; i > 0; i--) {
		t = sp->cand[0];
		sp->cand[0] = sp->cand[i];
		sp->cand[i] = t;
		siftdown(sp, 0, i);
	}
}

int
spool__cand_left(const struct spool *sp)
{
	return sp->icand < sp->ncand || sp->nurgent > 0;
}

const char *
spool__cand_next(struct spool *sp, char *buf, int *urgent)
{
	*urgent = sp->nurgent > 0 && (sp->icand >= sp->ncand ||
	    better(sp, sp->urgent[0].key, sp->urgent[0].name,
	    &sp->cand[sp->icand]));
	if (*urgent) {
		upop(sp, buf);
		return buf;
	}
	if (sp->icand >= sp->ncand)
		return NULL;
	return cname(sp, &sp->cand[sp->icand++]);
}

void
spool__cand_spread(struct spool *sp)
{
	sp->icand += (int)arc4random_uniform(SPREAD);
}
