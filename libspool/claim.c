/*
 * claim.c - claiming messages: new/ -> cur/ (finding them again: find.c).
 *
 * A claim is one rename of new/NAME to cur/NAME,a=N,l=EXPIRY: of several
 * claimants exactly one rename succeeds, the others get ENOENT and try the
 * next candidate.  The lease expiry is in the name, so a claim needs no
 * other record, and the exact name is the compare-and-swap token of every
 * later transition.
 *
 * A worker marks its claims w=PID@HOST: from before its first claim it
 * holds its liveness lock (live.c), so that a sweeper can tell a live
 * worker from a dead one at every instant.  Nothing is locked on the
 * message itself: a message fanned out by hard link to several queues is
 * one inode, and each queue claims it independently.  With
 * SPOOL_CLAIM_OPEN the file is opened before the rename, so the
 * descriptor reads what was claimed, whatever renames follow.
 *
 * One scan of new/ keeps the best CAND_MAX ready candidates by (priority,
 * enqueue time), with their names in an arena of at most NAMES_MAX bytes,
 * so memory stays bounded whatever the depth; later claims through the
 * same handle take from them, best first, and rescan when they run out.
 * From its second scan on a handle hears of arrivals in new/ (arrive.c):
 * one ahead of the remaining candidates (a message released or swept
 * back, a more urgent one) goes into a small heap of urgent arrivals that
 * claims take first, and later arrivals wait for the rescan.  Without a
 * watch the candidates are rescanned on a timer.  A claimant that loses a
 * race skips a random few candidates ahead, so workers that scanned alike
 * spread out instead of stampeding the same files.  Entries that do not
 * parse, are not regular files, or are delayed are never candidates.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

/* The name of candidate c. */
static const char *
cname(const struct spool *sp, const struct cand *c)
{
	return sp->names + c->off;
}

/* Order of candidates: priority, then name (enqueue time). */
static int
before(const struct spool *sp, const struct cand *x, const struct cand *y)
{
	if (x->key != y->key)
		return x->key < y->key;
	return strcmp(cname(sp, x), cname(sp, y)) < 0;
}

/*
 * The sort key of a name: priority, SEC and USEC in one number, so that
 * most comparisons need no strcmp.  SEC and USEC have fixed widths, so
 * the key orders names as strcmp does but for ties.
 */
static uint64_t
mkkey(int prio, time_t sec, long usec)
{
	return (uint64_t)prio << 60 | (uint64_t)sec << 20 | (uint64_t)usec;
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
	if (k != c->key)
		return k < c->key;
	return strcmp(s, cname(sp, c)) < 0;
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
static int
keep(struct spool *sp, const struct spool_name *n)
{
	struct cand c, old;
	size_t len = strlen(n->name);
	size_t need = (len + 8) & ~(size_t)7;	/* names of a queue vary a
						   little: most fit a place */
	void *p;
	int cap, r;

	c.key = mkkey(n->prio, n->sec, n->usec);
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
 * The key of an entry's name, read off its first bytes without parsing
 * all of it.  Returns 1, 0 if the name has d= (parse it: it may be
 * delayed), or -1 if it is not shaped like a message name at all.
 */
static int
quickkey(const char *name, uint64_t *key)
{
	const char *attrs;
	uint64_t sec = 0, usec = 0;
	int i, prio = SPOOL_PRIO_DEFAULT;

	for (i = 0; i < 17; i++) {
		if (i == 10) {
			if (name[i] != '.')
				return -1;
		} else if (name[i] < '0' || name[i] > '9')
			return -1;
		else if (i < 10)
			sec = sec * 10 + (uint64_t)(name[i] - '0');
		else
			usec = usec * 10 + (uint64_t)(name[i] - '0');
	}
	if ((attrs = strchr(name + 17, ',')) != NULL) {
		if (strstr(attrs, ",d=") != NULL)
			return 0;
		if (attrs[1] == 'p' && attrs[2] == '=') {
			if (attrs[3] < '0' || attrs[3] > '9')
				return -1;
			prio = attrs[3] - '0';
		}
	}
	*key = mkkey(prio, (time_t)sec, (long)usec);
	return 1;
}

/*
 * Can the entry name not make it among the candidates?  Once they are
 * full, a name that sorts after the worst of them loses without being
 * parsed: in a deep queue nearly all do, and the scan costs little more
 * than reading the directory.  A name with d= is always parsed, for the
 * time of the next due message, and a malformed one is left to the parser.
 */
static int
hopeless(const struct spool *sp, const char *name)
{
	uint64_t key;

	if (sp->ncand < CAND_MAX && !sp->full)
		return 0;
	if (quickkey(name, &key) != 1)
		return 0;
	return !better(sp, key, name, &sp->cand[0]);
}

/* Is n delayed past now?  Then it only brings the next due time forward. */
static int
delayed(struct spool *sp, const struct spool_name *n, time_t now)
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
	if (x->key != y->key)
		return x->key < y->key;
	return strcmp(x->name, y->name) < 0;
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
	    (r = quickkey(name, &key)) == -1 ||
	    (r == 1 && !better(sp, key, name, &sp->cand[sp->ncand - 1])) ||
	    spool_name_parse(name, &n) == -1 ||
	    !spool__valid_in(SPOOL_NEW, &n) || delayed(sp, &n, now))
		return;
	key = mkkey(n.prio, n.sec, n.usec);
	if (better(sp, key, n.name, &sp->cand[sp->ncand - 1]) &&
	    fstatat(sp->dfd[SPOOL_NEW], n.name, &st, AT_SYMLINK_NOFOLLOW) ==
	    0 && S_ISREG(st.st_mode))
		upush(sp, key, n.name);
}

static int
scan(struct spool *sp, time_t now)
{
	struct spool_name n;
	struct dirent *de;
	DIR *d;
	struct cand t;
	long long start = spool__mono_ms();
	int i, saved;

	/* from the second scan on: a long-lived claimant (arrive.c) */
	if (sp->nscans < 2 && ++sp->nscans == 2)
		(void)spool__watch(sp);
	spool__hear(sp, now);	/* what came before is in the scan */
	sp->ncand = sp->icand = sp->full = 0;
	sp->namesend = sp->live = 0;
	sp->next_due = 0;
	sp->nurgent = sp->lost = 0;
	if ((d = spool__opendir(sp, SPOOL_NEW)) == NULL)
		return -1;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || hopeless(sp, de->d_name) ||
		    spool_name_parse(de->d_name, &n) == -1 ||
		    !spool__valid_in(SPOOL_NEW, &n) || delayed(sp, &n, now))
			goto next;
		if (spool__is_regular(sp->dfd[SPOOL_NEW], de) &&
		    keep(sp, &n) == -1)
			break;
next:
		errno = 0;
	}
	saved = errno;
	(void)closedir(d);
	if (saved != 0) {
		sp->ncand = 0;
		errno = saved;
		return -1;
	}
	/* heapsort: best first */
	for (i = sp->ncand - 1; i > 0; i--) {
		t = sp->cand[0];
		sp->cand[0] = sp->cand[i];
		sp->cand[i] = t;
		siftdown(sp, 0, i);
	}
	sp->scanned = spool__mono_ms();
	sp->scancost = sp->scanned - start;
	return 0;
}

/*
 * Is the candidate list stale?  Rescanning costs a read of all of new/,
 * so it is done at most once a second, and never more than a twentieth
 * of the time, however large new/ is.  Without a watch on new/ that is
 * how often; with one, only when events were lost, when a delayed
 * message fell due, or after a minute.
 */
static int
stale(const struct spool *sp)
{
	long long age = spool__mono_ms() - sp->scanned;

	if (age < 1000 || age < 20 * sp->scancost)
		return 0;
	if (sp->nfd == -1 || sp->lost || age >= 60000)
		return 1;
	return sp->next_due != 0 && spool__now() >= sp->next_due;
}

/*
 * The claim n, just made, was paused or outlived part of its lease before
 * it existed (the rename was slow): give it back to new/ as name, or
 * renew it so that its lease counts from now.  Returns 0, or 3 (given
 * back: the queue is paused).
 */
static int
settle(struct spool *sp, const char *name, const struct spool_claimopt *opt,
    struct spool_name *n)
{
	struct spool_name late = *n;
	time_t now;

	/* a pause that returned before the claim was made wins */
	if (spool_paused(sp)) {
		(void)spool__move(sp, sp->dfd[SPOOL_CUR], n->name,
		    sp->dfd[SPOOL_NEW], name);
		return 3;
	}
	if ((now = spool__now()) + (time_t)opt->lease > n->lease) {
		late.lease = now + (time_t)opt->lease;
		if (spool_name_format(&late) == 0 && spool__move(sp,
		    sp->dfd[SPOOL_CUR], n->name, sp->dfd[SPOOL_CUR],
		    late.name) == 0)
			*n = late;
	}
	return 0;
}

/*
 * Try to claim new/name.  Returns 1 (ours), 0 (somebody else claimed it),
 * 2 (not claimable: not a regular file), 3 (the queue was paused), -1.
 * The lease counts from the moment the claim is made: its time is taken
 * just before the rename, and the claim renewed if the rename took long.
 */
static int
take(struct spool *sp, const char *name, const struct spool_claimopt *opt,
    struct spool_msg *m)
{
	struct spool_name n;
	struct stat st;
	int fd = -1, saved;

	if (spool_name_parse(name, &n) == -1)
		return 0;
	if (n.attempts < INT_MAX)
		n.attempts++;
	n.attrs |= SPOOL_ATTR_ATTEMPTS | SPOOL_ATTR_LEASE;
	n.attrs &= ~SPOOL_ATTR_DUE;
	if (opt->wpid > 0) {
		n.attrs |= SPOOL_ATTR_WORKER;
		n.wpid = opt->wpid;
		memcpy(n.whost, sp->host, sizeof(n.whost));
	}
	if (opt->flags & SPOOL_CLAIM_OPEN) {
		fd = openat(sp->dfd[SPOOL_NEW], name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC);
		if (fd == -1)
			return errno == ENOENT || errno == ELOOP ? 0 : -1;
		if (fstat(fd, &st) == -1)
			goto fail;
		if (!S_ISREG(st.st_mode))
			goto busy;
	}
	n.lease = spool__now() + (time_t)opt->lease;
	if (spool_name_format(&n) == -1)
		goto lost;
	if (spool__move(sp, sp->dfd[SPOOL_NEW], name, sp->dfd[SPOOL_CUR],
	    n.name) == -1) {
		if (errno == ENOENT)
			goto lost;
		goto fail;
	}
	if (settle(sp, name, opt, &n) == 3) {
		if (fd != -1)
			(void)close(fd);
		return 3;
	}
	m->n = n;
	m->fd = fd;
	if (opt->wpid != 0)
		spool__beat(sp, opt->lease);
	return 1;
lost:
	if (fd != -1)
		(void)close(fd);
	return 0;
busy:
	(void)close(fd);
	return 2;
fail:
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	errno = saved;
	return -1;
}

int
spool_claim(struct spool *sp, const struct spool_claimopt *opt,
    struct spool_msg *m)
{
	char name[SPOOL_NAME_MAX + 1];
	time_t now;
	int r, fresh = 0, progress = 0;

	if (opt->lease < 1 || opt->lease > SPOOL_LEASE_MAX ||
	    (opt->wpid != 0 && opt->wpid != getpid())) {
		errno = EINVAL;
		return -1;
	}
	if (spool_paused(sp))
		return 0;
	/* a worker's claims exist only while its liveness lock does */
	if (opt->wpid != 0 && spool__live_share(sp) == -1)
		return -1;
	now = spool__now();
	spool__hear(sp, now);
	for (;;) {
		if ((sp->icand >= sp->ncand && sp->nurgent == 0) ||
		    stale(sp)) {
			/*
			 * Scan again only if others made progress since our
			 * own last scan: candidates that were merely busy
			 * would be found busy again.
			 */
			if (fresh && !progress)
				return 0;
			if (scan(sp, now) == -1)
				return -1;
			if (sp->ncand == 0)
				return 0;
			fresh = 1;
			progress = 0;
		}
		while (sp->icand < sp->ncand || sp->nurgent > 0) {
			if (sp->nurgent > 0 && (sp->icand >= sp->ncand ||
			    better(sp, sp->urgent[0].key, sp->urgent[0].name,
			    &sp->cand[sp->icand]))) {
				upop(sp, name);
				r = take(sp, name, opt, m);
				if (r == 0)
					progress = 1;
			} else {
				r = take(sp, cname(sp, &sp->cand[sp->icand++]),
				    opt, m);
				if (r == 0) {
					/* lost a race: skip past the others */
					progress = 1;
					sp->icand +=
					    (int)arc4random_uniform(SPREAD);
				}
			}
			if (r == 3)
				return 0;	/* paused meanwhile */
			if (r != 0 && r != 2)
				return r;
		}
	}
}

int
spool_paused(const struct spool *sp)
{
	return faccessat(sp->qfd, "paused", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int
spool_ready(struct spool *sp)
{
	if (spool_paused(sp))
		return 0;
	if (scan(sp, spool__now()) == -1)
		return -1;
	return sp->ncand > 0;
}

long long
spool_backoff(const struct spool *sp, unsigned attempt)
{
	long long d = sp->cfg.backoff;
	unsigned i;

	for (i = 1; i < attempt && d < sp->cfg.backoff_max; i++)
		d *= 2;
	if (d > sp->cfg.backoff_max)
		d = sp->cfg.backoff_max;
	if (d > 1)
		d -= (long long)arc4random_uniform((uint32_t)(d / 2 + 1));
	return d;
}

time_t
spool_next_due(const struct spool *sp)
{
	return sp->next_due;
}
