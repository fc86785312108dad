/*
 * find.c - finding a message again from a reference: an ID, a claim
 * token, a name or a path, as given on a command line.
 *
 * A reference is parsed by the one strict parser before any system call;
 * a path must lead into a state directory of this queue.  The exact name
 * is tried first (one fstatat); otherwise the state directories are read.
 * readdir(3) may skip an entry renamed while it reads, so a look that
 * found nothing is repeated while the directories were changing.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

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

	if (spool_ref_parse(ref, r) == -1)
		return spool__fail(SPOOL_WHY_BADID, errno);
	if ((base = strrchr(ref, '/')) == NULL)
		return 0;
	if ((size_t)(base - ref) >= sizeof(dir))
		return spool__fail(SPOOL_WHY_BADID, ENAMETOOLONG);
	memcpy(dir, ref, (size_t)(base - ref));
	dir[base - ref] = '\0';
	if (stat(base == ref ? "/" : dir, &ds) == 0)
		for (i = SPOOL_NEW; i < SPOOL_NSTATES; i++)
			if (fstat(sp->dfd[i], &st) == 0 &&
			    st.st_dev == ds.st_dev && st.st_ino == ds.st_ino)
				return 0;
	return spool__fail(SPOOL_WHY_FOREIGN, EXDEV);
}

static int
matches(const struct spool_name *r, const struct spool_name *n)
{
	return n->idlen == r->idlen && memcmp(n->name, r->name, r->idlen) == 0
	    && (!(r->attrs & SPOOL_ATTR_ATTEMPTS) ||
	    n->attempts == r->attempts);
}

/*
 * Is dfd/name a regular file with a name valid in st?  Its link count
 * into *links.
 */
static int
exact(struct spool *sp, enum spool_state st, const struct spool_name *n,
    nlink_t *links)
{
	struct stat sb;

	if (!spool__valid_in(st, n) || fstatat(sp->dfd[st], n->name, &sb,
	    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
		return 0;
	*links = sb.st_nlink;
	return 1;
}

/* The exact name r in a state of mask: 1 (*out, *stp, *links), or 0. */
static int
findexact(struct spool *sp, const struct spool_name *r, unsigned mask,
    struct spool_name *out, enum spool_state *stp, nlink_t *links)
{
	int st;

	for (st = SPOOL_NEW; st < SPOOL_NSTATES; st++)
		if ((mask & (1U << st)) &&
		    exact(sp, (enum spool_state)st, r, links)) {
			/* all of the name's attributes, whatever r asked */
			if (spool_name_parse(r->name, out) == -1)
				*out = *r;
			*stp = (enum spool_state)st;
			return 1;
		}
	return 0;
}

/* One look through the directories of each state of mask. */
static int
findonce(struct spool *sp, const struct spool_name *r, unsigned mask,
    struct spool_name *out, enum spool_state *stp)
{
	struct spool_name n;
	struct dirent *de;
	nlink_t links;
	DIR *d;
	int st, saved;

	for (st = SPOOL_NEW; st < SPOOL_NSTATES; st++) {
		if (!(mask & (1U << st)))
			continue;
		if (findexact(sp, r, 1U << st, out, stp, &links))
			return 1;
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

/*
 * When did the directories of mask last change?  Their mtimes, summed to
 * one number of nanoseconds; with the age in ms of the most recent.
 */
static long long
stamp(struct spool *sp, unsigned mask, long long *age)
{
	long long sum = 0, t, last = 0;
	int st;

	for (st = SPOOL_NEW; st < SPOOL_NSTATES; st++)
		if ((mask & (1U << st)) &&
		    (t = spool__mtime_ns(sp->dfd[st])) != -1) {
			sum += t;
			if (t > last)
				last = t;
		}
	*age = (spool__real_ns() - last) / 1000000;
	return sum;
}

/*
 * readdir(3) may skip an entry renamed while it reads (a claim whose lease
 * is being renewed, a message being claimed): so "not there" is believed
 * only from a look during which no directory of mask changed.  A change
 * in the same tick of the file system's clock as an earlier one leaves
 * the mtime as it was, so a directory changed in the last SPOOL_QUIET_MS is
 * looked at again too.  At most FIND_TRIES looks.
 */
#define FIND_TRIES	8

int
spool__find(struct spool *sp, const struct spool_name *r, unsigned mask,
    struct spool_name *out, enum spool_state *stp, nlink_t *links)
{
	long long before, after, age;
	nlink_t any;
	int tries, res;

	if (links == NULL)
		links = &any;
	*links = 0;		/* unknown, unless found by its exact name */
	/* the exact name needs no watching of the directories */
	if (findexact(sp, r, mask, out, stp, links))
		return 1;
	*links = 0;
	for (tries = 0; tries < FIND_TRIES; tries++) {
		before = stamp(sp, mask, &age);
		if ((res = findonce(sp, r, mask, out, stp)) != 0)
			return res;
		after = stamp(sp, mask, &age);
		if (after == before && age >= SPOOL_QUIET_MS)
			break;
	}
	return 0;
}

/*
 * The reference r was not found in the states of mask: fail with ENOENT
 * and the reason.  SPOOL_WHY_NOMSG if its ID is nowhere in the queue;
 * SPOOL_WHY_UNCLAIMED if a claim was looked for and the message is in
 * new/, never claimed; SPOOL_WHY_NOMSG too if r has an attempt count that
 * the message does not have, unless a claim was looked for (a stale
 * token: its claim is over); else SPOOL_WHY_STATE.
 */
int
spool__missing(struct spool *sp, const struct spool_name *r, unsigned mask)
{
	struct spool_name id = *r, n;
	enum spool_state st;
	unsigned all = 1U << SPOOL_NEW | 1U << SPOOL_CUR | 1U << SPOOL_DONE |
	    1U << SPOOL_FAILED;
	int res;

	id.attrs &= ~SPOOL_ATTR_ATTEMPTS;
	if ((res = spool__find(sp, &id, all, &n, &st, NULL)) == -1)
		return -1;
	if (res == 0)
		return spool__fail(SPOOL_WHY_NOMSG, ENOENT);
	if (mask == 1U << SPOOL_CUR && st == SPOOL_NEW && n.attempts == 0)
		return spool__fail(SPOOL_WHY_UNCLAIMED, ENOENT);
	if (mask != 1U << SPOOL_CUR && (r->attrs & SPOOL_ATTR_ATTEMPTS) &&
	    n.attempts != r->attempts)
		return spool__fail(SPOOL_WHY_NOMSG, ENOENT);
	return spool__fail(SPOOL_WHY_STATE, ENOENT);
}

int
spool_find(struct spool *sp, const char *ref, unsigned mask,
    struct spool_name *out, enum spool_state *st)
{
	struct spool_name r;

	if (spool__parse_ref(sp, ref, &r) == -1)
		return -1;
	return spool__find(sp, &r, mask, out, st, NULL);
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
