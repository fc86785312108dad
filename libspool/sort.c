/*
 * sort.c - a walk of the state directories in order (spool_each() with
 * SPOOL_EACH_BYID or SPOOL_EACH_BYSIZE).
 *
 * An order needs every name before the first can be passed on, so this is
 * the one walk whose memory grows with the queue: the entries are read by
 * the streaming walk (each.c, SPOOL_EACH_ONCE as asked), their names packed
 * one after the other in an arena and a small record kept for each, about
 * 64 bytes besides the name; then the records are sorted and passed on.
 * State stays the first key (new/, cur/, done/, failed/, as the streaming
 * walk passes them), so an order is within each state; foreign entries
 * come after the messages of their state, by name.  Of an entry's lstat
 * only the size, mode and times are kept: that is what a listing shows.
 * Nothing is opened and nothing moved; an entry that moves while the
 * records are passed on is passed on as it was found.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

struct rec {
	union {
		size_t	 off;		/* in the arena, while reading */
		const char *name;	/* once it no longer moves */
	} u;
	uint64_t	 key;		/* the order asked for */
	uint64_t	 id;		/* SEC and USEC: ties, and BYID */
	off_t		 size;
	struct timespec	 mtim, ctim;
	mode_t		 mode;
	unsigned char	 state;
	unsigned char	 foreign;
};

struct sorted {
	struct rec	*r;
	size_t		 n, cap;
	char		*names;
	size_t		 used, room;
	unsigned	 flags;
};

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap == 0 ? 1024 : *cap;
	void *np;

	while (n < need)
		n *= 2;
	if (n == *cap)
		return 0;
	if ((np = reallocarray(*p, n, size)) == NULL)
		return -1;
	*p = np;
	*cap = n;
	return 0;
}

static int
keep(void *arg, const struct spool_entry *e)
{
	struct sorted *s = arg;
	size_t len = strlen(e->name) + 1;
	struct rec *r;

	if (grow((void **)&s->r, &s->cap, s->n + 1, sizeof(*s->r)) == -1 ||
	    grow((void **)&s->names, &s->room, s->used + len, 1) == -1)
		return 1;	/* out of memory: stops the walk */
	r = &s->r[s->n++];
	memset(r, 0, sizeof(*r));
	r->u.off = s->used;
	memcpy(s->names + s->used, e->name, len);
	s->used += len;
	r->state = (unsigned char)e->state;
	r->foreign = e->foreign != 0;
	if (!e->foreign)
		r->id = (uint64_t)e->n.sec << 20 | (uint64_t)e->n.usec;
	r->size = e->sb.st_size;
	r->mtim = e->sb.st_mtim;
	r->ctim = e->sb.st_ctim;
	r->mode = e->sb.st_mode;
	r->key = (s->flags & SPOOL_EACH_BYSIZE) ? (uint64_t)r->size : r->id;
	return 0;
}

/* State, then messages before foreign entries, the key, the ID, the name. */
static int
cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->state != y->state)
		return x->state < y->state ? -1 : 1;
	if (x->foreign != y->foreign)
		return x->foreign ? 1 : -1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return strcmp(x->u.name, y->u.name);
}

/*
 * Reverse the order of the messages, and of the foreign entries, within
 * each state: states stay in their order, foreign entries after messages.
 */
static void
reverse(struct rec *r, size_t n)
{
	struct rec t;
	size_t i, j, k;

	for (i = 0; i < n; i = j) {
		for (j = i; j < n && r[j].state == r[i].state &&
		    r[j].foreign == r[i].foreign; j++)
			;
		for (k = 0; k < (j - i) / 2; k++) {
			t = r[i + k];
			r[i + k] = r[j - 1 - k];
			r[j - 1 - k] = t;
		}
	}
}

static int
pass(const struct sorted *s, spool_each_fn *fn, void *arg)
{
	struct spool_entry e;
	const struct rec *r;
	size_t i;
	int ret;

	for (i = 0; i < s->n; i++) {
		r = &s->r[i];
		memset(&e, 0, sizeof(e));
		e.state = (enum spool_state)r->state;
		e.name = r->u.name;
		e.foreign = r->foreign;
		if (!e.foreign && spool_name_parse(e.name, &e.n) == -1)
			e.foreign = 1;	/* cannot be: it parsed before */
		e.sb.st_size = r->size;
		e.sb.st_mtim = r->mtim;
		e.sb.st_ctim = r->ctim;
		e.sb.st_mode = r->mode;
		if ((ret = fn(arg, &e)) != 0)
			return ret;
	}
	return 0;
}

int
spool__each_sorted(struct spool *sp, unsigned mask, unsigned flags,
    spool_each_fn *fn, void *arg)
{
	struct sorted s;
	size_t i;
	int r, saved;

	memset(&s, 0, sizeof(s));
	s.flags = flags;
	flags &= ~(unsigned)(SPOOL_EACH_BYID | SPOOL_EACH_BYSIZE |
	    SPOOL_EACH_REVERSE);
	r = spool_each(sp, mask, flags | SPOOL_EACH_STAT, keep, &s);
	if (r == 0) {
		for (i = 0; i < s.n; i++)
			s.r[i].u.name = s.names + s.r[i].u.off;
		if (s.n > 1)
			qsort(s.r, s.n, sizeof(*s.r), cmp);
		if (s.flags & SPOOL_EACH_REVERSE)
			reverse(s.r, s.n);
		r = pass(&s, fn, arg);
	} else if (r > 0) {
		r = -1;		/* keep() ran out of memory */
		errno = ENOMEM;
	}
	saved = errno;
	free(s.r);
	free(s.names);
	errno = saved;
	return r;
}
