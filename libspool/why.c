/*
 * why.c - the reason of the last failure, in q's terms (spool_why()).
 *
 * errno tells what a system call found; it cannot tell "no such queue"
 * from "no such message" or "lost the race", which are all ENOENT.  So a
 * call that fails for a reason of q's own records that reason beside the
 * errno it sets, per thread as errno is.  The record is kept with the
 * errno it came with: a later failure with another errno is not mistaken
 * for it, and reading it forgets it.
 */
#include <errno.h>

#include "internal.h"
#include "banned.h"

static __thread struct {
	enum spool_why	why;
	int		errnum;
} last;

int
spool__fail(enum spool_why why, int errnum)
{
	last.why = why;
	last.errnum = errnum;
	errno = errnum;
	return -1;
}

enum spool_why
spool_why(int errnum)
{
	enum spool_why why = SPOOL_WHY_SYSTEM;

	if (last.why != SPOOL_WHY_SYSTEM && last.errnum == errnum)
		why = last.why;
	last.why = SPOOL_WHY_SYSTEM;
	return why;
}
