/*
 * mend.c - finishing the moves that the link + unlink fallback left half
 * done.
 *
 * Where renameat2 is missing (NFS, FUSE) spool__move() links the new name
 * and then unlinks the old one.  A mover killed between the two leaves one
 * message under two names on one inode: new/ and cur/ after a claim, cur/
 * and new/ after a release, two names in cur/ after a renewal, cur/ and
 * done/ or failed/ after an ack or a fail, done/ or failed/ and new/ after
 * a retry or a replay.  Left alone, a taker would claim the new/ name
 * again with the same token, and a sweep would put a second copy into
 * new/ when the orphaned claim expired.
 *
 * The two names tell which was the source, and the move is finished the
 * way its mover meant it: the source name is removed.  A claim raised the
 * attempt count, a release kept it; of two claims the older lease is the
 * renewed one.  A mover still alive and between its link and its unlink
 * then finds its source gone, sees that its new name is the only one
 * (spool__move()), and counts the move as its own.
 *
 * Mending looks for the other names of a message with more than one link:
 * claims do it on the fallback path for what they are about to claim
 * (looking in cur/ only, which holds one entry per claim), and a sweep for
 * each claim it returns (looking everywhere).  A message fanned out to
 * several queues has one link per queue and is looked at for nothing.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

/*
 * Of two names of one message, was a (in sa) the source of a move to b
 * (in sb)?  1 yes, 0 b was a's source, -1 no one move joins them.
 */
static int
source(enum spool_state sa, const struct spool_name *a, enum spool_state sb,
    const struct spool_name *b)
{
	if (sa == sb) {
		if (sa != SPOOL_CUR)
			return -1;
		if (a->lease != b->lease)
			return a->lease < b->lease;
		return strcmp(a->name, b->name) < 0;
	}
	if (sa == SPOOL_NEW && sb == SPOOL_CUR)
		return b->attempts > a->attempts;	/* a claim */
	if (sa == SPOOL_CUR && sb == SPOOL_NEW)
		return a->attempts <= b->attempts;	/* a release */
	if (sa == SPOOL_CUR)
		return 1;				/* ack, fail */
	if (sb == SPOOL_CUR)
		return 0;
	if (sb == SPOOL_NEW)
		return 1;				/* retry, replay */
	if (sa == SPOOL_NEW)
		return 0;
	return -1;					/* done, failed */
}

struct mending {
	struct spool		*sp;
	enum spool_state	 st;
	const struct spool_name	*n;
	const struct stat	*sb;
	int			*mended;
};

/* One entry of the queue: another name of m->n?  Then finish the move. */
static int
mendone(void *arg, const struct spool_entry *e)
{
	struct mending *m = arg;
	const struct spool_name *n = m->n;
	struct stat ob;
	int r;

	if (e->foreign || e->n.idlen != n->idlen ||
	    memcmp(e->name, n->name, n->idlen) != 0 ||
	    (e->state == m->st && strcmp(e->name, n->name) == 0) ||
	    fstatat(m->sp->dfd[e->state], e->name, &ob,
	    AT_SYMLINK_NOFOLLOW) == -1 ||
	    ob.st_dev != m->sb->st_dev || ob.st_ino != m->sb->st_ino)
		return 0;
	r = source(m->st, n, e->state, &e->n);
	if (r == -1)
		return 0;
	/* the source goes: n itself (then stop), or the other name */
	if (unlinkat(m->sp->dfd[r ? m->st : e->state], r ? n->name : e->name,
	    0) == 0)
		++*m->mended;
	else if (errno != ENOENT)
		return -1;
	return r;
}

/*
 * Finish the half-done moves of the message n in st, whose inode is sb:
 * look in the states of mask for other names of it on the same inode.
 * Returns 1 if n itself was the source (and is removed now), 0 if it
 * stays, -1 on error.  *mended counts the names removed.
 */
int
spool__mend(struct spool *sp, enum spool_state st, const struct spool_name *n,
    const struct stat *sb, unsigned mask, int *mended)
{
	struct mending m = { sp, st, n, sb, mended };

	return spool_each(sp, mask, 0, mendone, &m);
}

/*
 * Is new/name, which is about to be claimed by link and unlink, what is
 * left of a claim that was not finished?  Only cur/ is looked into: such
 * a claim would be there, and cur/ holds one entry per claim.  Returns 1
 * (it was, and is gone now), 0, -1.
 */
int
spool__mend_source(struct spool *sp, const char *name, const struct stat *sb,
    int *mended)
{
	struct spool_name n;

	if (spool_name_parse(name, &n) == -1)
		return 0;
	return spool__mend(sp, SPOOL_NEW, &n, sb, 1U << SPOOL_CUR, mended);
}
