/*
 * each.c - walking the state directories: spool_each, and the stamps
 * that tell whether a directory changed while it was read.
 *
 * A walk streams: one directory entry at a time, never sorted, never a
 * file opened.  readdir(3) may return an entry renamed while it reads
 * twice or not at all, and a message that moves from a directory not yet
 * read to one already read is missed; one that moves the other way is
 * seen twice.  With SPOOL_EACH_ONCE a walk remembers the IDs it passed
 * on (a 64-bit hash each, 16 bytes a message at most) and passes each
 * message once; a directory that changed while it was read, or just
 * before, is read again for what the first look missed.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "banned.h"

long long
spool__mtime_ns(int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) == -1)
		return -1;
	return (long long)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

long long
spool__real_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The IDs passed on: open addressing over hashes, 0 a free slot. */
struct seen {
	uint64_t	*v;
	size_t		 cap, n;
};

static uint64_t
idhash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h == 0 ? 1 : h;
}

/* Add h: 1 if it is new, 0 if it was there, -1 with ENOMEM. */
static int
remember(struct seen *s, uint64_t h)
{
	uint64_t *v;
	size_t cap, i, j;

	if ((s->n + 1) * 2 > s->cap) {
		cap = s->cap == 0 ? 1024 : s->cap * 2;
		if ((v = calloc(cap, sizeof(*v))) == NULL)
			return -1;
		for (i = 0; i < s->cap; i++) {
			if (s->v[i] == 0)
				continue;
			for (j = s->v[i] & (cap - 1); v[j] != 0;
			    j = (j + 1) & (cap - 1))
				;
			v[j] = s->v[i];
		}
		free(s->v);
		s->v = v;
		s->cap = cap;
	}
	for (i = h & (s->cap - 1); s->v[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->v[i] == h)
			return 0;
	s->v[i] = h;
	s->n++;
	return 1;
}

/*
 * Read state st once.  With seen, pass on only messages not passed on
 * before, and on a second look (again) no foreign entries, which the
 * first look passed on.
 */
static int
walk(struct spool *sp, enum spool_state st, unsigned flags,
    spool_each_fn *fn, void *arg, struct seen *seen, int again)
{
	struct spool_entry e;
	struct dirent *de;
	DIR *d;
	int r = 0, saved;

	if ((d = spool__opendir(sp, st)) == NULL)
		return -1;
	errno = 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		memset(&e, 0, sizeof(e));
		e.state = st;
		e.name = de->d_name;
		e.foreign = spool_name_parse(de->d_name, &e.n) == -1 ||
		    !spool__valid_in(st, &e.n) ||
		    !spool__is_regular(sp->dfd[st], de);
		if (e.foreign && again)
			goto next;
		if ((flags & SPOOL_EACH_STAT) && fstatat(sp->dfd[st],
		    de->d_name, &e.sb, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)	/* moved meanwhile */
				goto next;
			break;
		}
		if (seen != NULL && !e.foreign) {
			if ((r = remember(seen, idhash(e.n.name,
			    e.n.idlen))) == -1)
				break;
			if (r == 0)
				goto next;
			r = 0;
		}
		r = fn(arg, &e);
next:
		errno = 0;
	}
	saved = errno;
	(void)closedir(d);
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	return r;
}

/* A directory changed in the last SPOOL_QUIET_MS may change again unseen. */
#define EACH_TRIES	4
#define QUIET_NS	(SPOOL_QUIET_MS * 1000000LL)

int
spool_each(struct spool *sp, unsigned mask, unsigned flags,
    spool_each_fn *fn, void *arg)
{
	struct seen seen = { NULL, 0, 0 };
	long long before[SPOOL_NSTATES], at[SPOOL_NSTATES], t, wait;
	struct timespec ts;
	unsigned todo = mask, again;
	int st, r = 0, tries;

	if (flags & (SPOOL_EACH_BYID | SPOOL_EACH_BYSIZE))
		return spool__each_sorted(sp, mask, flags, fn, arg);

	for (tries = 0; todo != 0 && r == 0; tries++) {
		for (st = SPOOL_NEW; st < SPOOL_NSTATES && r == 0; st++) {
			if (!(todo & (1U << st)))
				continue;
			before[st] = spool__mtime_ns(sp->dfd[st]);
			at[st] = spool__real_ns();
			r = walk(sp, (enum spool_state)st, flags, fn, arg,
			    (flags & SPOOL_EACH_ONCE) ? &seen : NULL,
			    tries > 0);
		}
		if (r != 0 || !(flags & SPOOL_EACH_ONCE) ||
		    tries + 1 == EACH_TRIES)
			break;
		/*
		 * Read again what changed since its look began, or had
		 * changed so shortly before that a change in the same tick
		 * of the file system's clock would not show; once it has
		 * been quiet for SPOOL_QUIET_MS, its stamp can be trusted.
		 */
		again = 0;
		wait = 0;
		for (st = SPOOL_NEW; st < SPOOL_NSTATES; st++) {
			if (!(todo & (1U << st)))
				continue;
			t = spool__mtime_ns(sp->dfd[st]);
			if (t == before[st] && at[st] - t >= QUIET_NS)
				continue;
			again |= 1U << st;
			/* until it has been quiet for QUIET_NS */
			if ((t += QUIET_NS - spool__real_ns()) > wait)
				wait = t;
		}
		if (again != 0 && wait > 0) {
			ts.tv_sec = wait / 1000000000;
			ts.tv_nsec = wait % 1000000000;
			(void)nanosleep(&ts, NULL);
		}
		todo = again;
	}
	free(seen.v);
	return r;
}
