/*
 * claim.c - claiming messages: new/ -> cur/, and finding them again.
 *
 * A claim is one rename of new/NAME to cur/NAME,a=N,l=EXPIRY: of several
 * claimants exactly one rename succeeds, the others get ENOENT and try the
 * next candidate.  The lease expiry is in the name, so a claim needs no
 * other record, and the exact name is the compare-and-swap token of every
 * later transition.
 *
 * A worker (SPOOL_CLAIM_LOCK) opens the message and takes its flock
 * *before* the rename: from the instant the message appears in cur/ it is
 * locked, so a sweeper that can take the lock knows the worker is dead.
 * The lock belongs to the open file, so it survives the renames of touch.
 * A file another claimant holds locked is skipped, not waited for.
 *
 * One scan of new/ keeps the best CAND_MAX ready candidates by (priority,
 * enqueue time) in a bounded heap; later claims through the same handle
 * take from them, best first, and rescan only when they run out or are
 * stale, so a worker reads the whole directory once per CAND_MAX claims
 * at most, and memory stays bounded whatever the depth.  A claimant that
 * loses a race skips a random few candidates ahead, so workers that
 * scanned alike spread out instead of stampeding the same files.  Entries that do not
 * parse, are not regular files, or are delayed are never candidates.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Order of candidates: priority, then name (enqueue time). */
static int
before(const struct spool *sp, int a, int b)
{
	const struct cand *x = &sp->cand[a], *y = &sp->cand[b];

	if (x->prio != y->prio)
		return x->prio < y->prio;
	return strcmp(x->name, y->name) < 0;
}

/* Restore the max-heap (worst candidate on top) below position i. */
static void
siftdown(struct spool *sp, int i, int n)
{
	int c, t;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && before(sp, sp->heap[c], sp->heap[c + 1]))
			c++;
		if (!before(sp, sp->heap[i], sp->heap[c]))
			break;
		t = sp->heap[i];
		sp->heap[i] = sp->heap[c];
		sp->heap[c] = t;
		i = c;
	}
}

static void
siftup(struct spool *sp, int i)
{
	int p, t;

	while (i > 0 && before(sp, sp->heap[p = (i - 1) / 2], sp->heap[i])) {
		t = sp->heap[i];
		sp->heap[i] = sp->heap[p];
		sp->heap[p] = t;
		i = p;
	}
}

/* Keep n among the best CAND_MAX candidates of this scan. */
static int
keep(struct spool *sp, const struct spool_name *n)
{
	struct cand *c;
	void *p;
	int slot, cap;

	if (sp->ncand == CAND_MAX) {
		/* better than the worst kept?  then it takes its slot */
		slot = sp->heap[0];
		c = &sp->cand[slot];
		if (n->prio > c->prio || (n->prio == c->prio &&
		    strcmp(n->name, c->name) >= 0))
			return 0;
		memcpy(c->name, n->name, strlen(n->name) + 1);
		c->prio = n->prio;
		siftdown(sp, 0, sp->ncand);
		return 0;
	}
	if (sp->ncand == sp->candcap) {
		cap = sp->candcap ? sp->candcap * 4 : 64;
		if (cap > CAND_MAX)
			cap = CAND_MAX;
		if ((p = reallocarray(sp->cand, (size_t)cap,
		    sizeof(*sp->cand))) == NULL)
			return -1;
		sp->cand = p;
		if ((p = reallocarray(sp->heap, (size_t)cap,
		    sizeof(*sp->heap))) == NULL)
			return -1;
		sp->heap = p;
		sp->candcap = cap;
	}
	slot = sp->ncand++;
	memcpy(sp->cand[slot].name, n->name, strlen(n->name) + 1);
	sp->cand[slot].prio = n->prio;
	sp->heap[slot] = slot;
	siftup(sp, slot);
	return 0;
}

/*
 * Can the entry name not make it among the candidates?  Once they are
 * CAND_MAX, a name that sorts after the worst of them loses without being
 * parsed: in a deep queue nearly all do, and the scan costs little more
 * than reading the directory.  A name with d= is always parsed, for the
 * time of the next due message.
 */
static int
hopeless(const struct spool *sp, const char *name)
{
	const struct cand *worst;
	const char *p;
	int prio = SPOOL_PRIO_DEFAULT;

	if (sp->ncand < CAND_MAX || strstr(name, ",d=") != NULL)
		return 0;
	if ((p = strstr(name, ",p=")) != NULL) {
		if (p[3] < '0' || p[3] > '9')
			return 0;
		prio = p[3] - '0';
	}
	worst = &sp->cand[sp->heap[0]];
	if (prio != worst->prio)
		return prio > worst->prio;
	return strcmp(name, worst->name) >= 0;
}

static int
scan(struct spool *sp, time_t now)
{
	struct spool_name n;
	struct dirent *de;
	DIR *d;
	long long start = now_ms();
	int i, t, saved;

	sp->ncand = sp->icand = 0;
	sp->next_due = 0;
	if ((d = spool__opendir(sp, SPOOL_NEW)) == NULL)
		return -1;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || hopeless(sp, de->d_name) ||
		    spool_name_parse(de->d_name, &n) == -1 ||
		    !spool__valid_in(SPOOL_NEW, &n))
			goto next;
		if ((n.attrs & SPOOL_ATTR_DUE) && n.due > now) {
			if (sp->next_due == 0 || n.due < sp->next_due)
				sp->next_due = n.due;
			goto next;
		}
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
		t = sp->heap[0];
		sp->heap[0] = sp->heap[i];
		sp->heap[i] = t;
		siftdown(sp, 0, i);
	}
	sp->scanned = now_ms();
	sp->scancost = sp->scanned - start;
	return 0;
}

/*
 * Is the candidate list stale?  Rescanning costs a read of all of new/,
 * so it is done at most once a second, and never more than a twentieth
 * of the time, however large new/ is.
 */
static int
stale(const struct spool *sp)
{
	long long age = now_ms() - sp->scanned;

	return age >= 1000 && age >= 20 * sp->scancost;
}

/*
 * Try to claim new/name.  Returns 1 (ours), 0 (somebody else claimed it),
 * 2 (not claimable now: locked by a process of another subscriber's job,
 * or not a regular file), -1.
 */
static int
take(struct spool *sp, const char *name, const struct spool_claimopt *opt,
    time_t now, struct spool_msg *m)
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
	n.lease = now + (time_t)opt->lease;
	if (opt->wpid > 0) {
		n.attrs |= SPOOL_ATTR_WORKER;
		n.wpid = opt->wpid;
		memcpy(n.whost, sp->host, sizeof(n.whost));
	}
	if (spool_name_format(&n) == -1)
		return 0;
	if (opt->flags & SPOOL_CLAIM_LOCK) {
		fd = openat(sp->dfd[SPOOL_NEW], name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC);
		if (fd == -1)
			return errno == ENOENT || errno == ELOOP ? 0 : -1;
		if (fstat(fd, &st) == -1)
			goto fail;
		if (!S_ISREG(st.st_mode))
			goto busy;
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK)
				goto busy;	/* held elsewhere: skip it */
			goto fail;
		}
	}
	if (spool__move(sp, sp->dfd[SPOOL_NEW], name, sp->dfd[SPOOL_CUR],
	    n.name) == -1) {
		if (errno == ENOENT)
			goto lost;
		goto fail;
	}
	m->n = n;
	m->fd = fd;
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
	time_t now;
	int r, fresh = 0, progress = 0;

	if (opt->lease < 1 || opt->lease > SPOOL_LEASE_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (spool_paused(sp))
		return 0;
	now = spool__now();
	for (;;) {
		if (sp->icand >= sp->ncand || stale(sp)) {
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
		while (sp->icand < sp->ncand) {
			r = take(sp, sp->cand[sp->heap[sp->icand++]].name, opt,
			    now, m);
			if (r == 0) {
				/* lost a race: skip ahead past the others */
				progress = 1;
				sp->icand += (int)arc4random_uniform(SPREAD);
			} else if (r != 2)
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

/*
 * Parse a reference from a command line.  A path must name a file in a
 * state directory of this queue (compared by device and inode, so any
 * spelling of the path works and nothing outside the queue does).
 */
int
spool__parse_ref(struct spool *sp, const char *ref, struct spool_name *r)
{
	char dir[PATH_MAX];
	const char *base;
	struct stat ds, st;
	int i;

	if ((base = strrchr(ref, '/')) == NULL)
		return spool_name_parse(ref, r);
	if (spool_name_parse(base + 1, r) == -1)
		return -1;
	if ((size_t)(base - ref) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, ref, (size_t)(base - ref));
	dir[base - ref] = '\0';
	if (stat(base == ref ? "/" : dir, &ds) == -1)
		goto outside;
	for (i = SPOOL_NEW; i < SPOOL_NSTATES; i++)
		if (fstat(sp->dfd[i], &st) == 0 && st.st_dev == ds.st_dev &&
		    st.st_ino == ds.st_ino)
			return 0;
outside:
	errno = EXDEV;
	return -1;
}

static int
matches(const struct spool_name *r, const struct spool_name *n)
{
	return n->idlen == r->idlen && memcmp(n->name, r->name, r->idlen) == 0
	    && (!(r->attrs & SPOOL_ATTR_ATTEMPTS) ||
	    n->attempts == r->attempts);
}

/* Is dfd/name a regular file with a name valid in st? */
static int
exact(struct spool *sp, enum spool_state st, const struct spool_name *n)
{
	struct stat sb;

	return spool__valid_in(st, n) && fstatat(sp->dfd[st], n->name, &sb,
	    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
}

int
spool__find(struct spool *sp, const struct spool_name *r, unsigned mask,
    struct spool_name *out, enum spool_state *stp)
{
	struct spool_name n;
	struct dirent *de;
	DIR *d;
	int st, saved;

	for (st = SPOOL_NEW; st < SPOOL_NSTATES; st++) {
		if (!(mask & (1U << st)))
			continue;
		if (exact(sp, (enum spool_state)st, r)) {
			*out = *r;
			*stp = (enum spool_state)st;
			return 1;
		}
		if ((d = spool__opendir(sp, (enum spool_state)st)) == NULL)
			return -1;
		errno = 0;
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, r->name, r->idlen) != 0 ||
			    spool_name_parse(de->d_name, &n) == -1 ||
			    !matches(r, &n) ||
			    !spool__valid_in((enum spool_state)st, &n) ||
			    !spool__is_regular(sp->dfd[st], de)) {
				errno = 0;
				continue;
			}
			(void)closedir(d);
			*out = n;
			*stp = (enum spool_state)st;
			return 1;
		}
		saved = errno;
		(void)closedir(d);
		if (saved != 0) {
			errno = saved;
			return -1;
		}
	}
	return 0;
}

int
spool_find(struct spool *sp, const char *ref, unsigned mask,
    struct spool_name *out, enum spool_state *st)
{
	struct spool_name r;

	if (spool__parse_ref(sp, ref, &r) == -1)
		return -1;
	return spool__find(sp, &r, mask, out, st);
}

int
spool_open_msg(struct spool *sp, enum spool_state st,
    const struct spool_name *n)
{
	struct stat sb;
	int fd;

	fd = openat(sp->dfd[st], n->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP)
			errno = EINVAL;
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		(void)close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}
