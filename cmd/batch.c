/*
 * batch.c - q work -b: several messages to one run of CMD.
 *
 * A run gets its messages as open descriptors 3, 4, ... (the claim's own
 * opens of the files, so that a renewal of a lease, which renames the
 * file in cur/, cannot move a message from under it), named in its
 * arguments /dev/fd/3, /dev/fd/4, ... after CMD's own; Q_IDS and Q_TOKENS
 * list their IDs and claim tokens in the same order, separated by
 * spaces; its stdin is /dev/null.  The buffers are made once, for the
 * largest batch, and filled before each vfork (spawn.c).
 */
#define _GNU_SOURCE
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "work.h"
#include "banned.h"

#define FIRSTFD	3	/* the first message's descriptor in the run */

void
batch_init(struct spawner *s)
{
	size_t n, k, room;

	s->nullfd = -1;
	if (s->batch == 0)
		return;
	for (n = 0; s->argv[n] != NULL; n++)
		;
	s->nargs = n;
	room = (size_t)s->batch * (SPOOL_NAME_MAX + 1) + 16;
	if ((s->bargv = reallocarray(NULL, n + (size_t)s->batch + 1,
	    sizeof(*s->bargv))) == NULL ||
	    (s->fdpaths = reallocarray(NULL, (size_t)s->batch,
	    sizeof(*s->fdpaths))) == NULL ||
	    (s->fdtmp = reallocarray(NULL, (size_t)s->batch,
	    sizeof(*s->fdtmp))) == NULL ||
	    (s->ids = malloc(room)) == NULL ||
	    (s->tokens = malloc(room)) == NULL)
		err(Q_IOERR, NULL);
	memcpy(s->bargv, s->argv, n * sizeof(*s->bargv));
	for (k = 0; k < (size_t)s->batch; k++)
		snprintf(s->fdpaths[k], sizeof(s->fdpaths[k]), "/dev/fd/%zu",
		    FIRSTFD + k);
	if ((s->nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		err(Q_IOERR, "/dev/null");
}

/* CMD's arguments, then the path of each message of j. */
char **
batch_argv(struct spawner *s, const struct job *j)
{
	int k;

	for (k = 0; k < j->n; k++)
		s->bargv[s->nargs + (size_t)k] = s->fdpaths[k];
	s->bargv[s->nargs + (size_t)j->n] = NULL;
	return s->bargv;
}

/* Q_IDS and Q_TOKENS of j into the environment at s->env[at]. */
void
batch_environment(struct spawner *s, const struct job *j, size_t at)
{
	size_t room = (size_t)s->batch * (SPOOL_NAME_MAX + 1) + 16;
	size_t ni, nt;
	int k;

	ni = strlcpy(s->ids, "Q_IDS=", room);
	nt = strlcpy(s->tokens, "Q_TOKENS=", room);
	for (k = 0; k < j->n; k++) {
		if (k > 0) {
			s->ids[ni++] = ' ';
			s->tokens[nt++] = ' ';
		}
		memcpy(s->ids + ni, j->msg[k].m.n.name, j->msg[k].m.n.idlen);
		ni += j->msg[k].m.n.idlen;
		q_token(&j->msg[k].m.n, s->tokens + nt, room - nt);
		nt += strlen(s->tokens + nt);
	}
	s->ids[ni] = '\0';
	s->env[at++] = s->ids;
	s->env[at++] = s->tokens;
	s->env[at] = NULL;
}

/*
 * In the child, before exec: the messages of j onto descriptors 3 and
 * up, first moved out of the way where they are below the last of them.
 * Only system calls, and s->fdtmp, which the worker does not read.
 */
int
batch_fds(struct spawner *s, const struct job *j)
{
	int k, top = FIRSTFD + j->n;

	for (k = 0; k < j->n; k++) {
		s->fdtmp[k] = j->msg[k].m.fd;
		if (s->fdtmp[k] < top && (s->fdtmp[k] = fcntl(j->msg[k].m.fd,
		    F_DUPFD_CLOEXEC, top)) == -1)
			return -1;
	}
	for (k = 0; k < j->n; k++)
		if (dup2(s->fdtmp[k], FIRSTFD + k) == -1)
			return -1;
	return 0;
}

void
batch_end(struct spawner *s)
{
	if (s->nullfd != -1)
		(void)close(s->nullfd);
	free(s->bargv);
	free(s->fdpaths);
	free(s->fdtmp);
	free(s->ids);
	free(s->tokens);
}
