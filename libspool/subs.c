/*
 * subs.c - the subscriptions of a topic, listed (spool_subscribers).
 *
 * subs/ of a topic holds one symbolic link per subscriber (topic.c makes,
 * follows and removes them).  A listing reads the links, never follows
 * one, and gives them in the byte order of their names: a topic has a few
 * subscribers, so their names are held and sorted.  An entry that is not
 * a symbolic link is no subscription and is left out; one removed while
 * the listing runs is left out too.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

static int
bystr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
freenames(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* The names in the directory fd but dot files, sorted: *n of them. */
static char **
names(int fd, size_t *n)
{
	struct dirent *de;
	char **v = NULL, **nv;
	size_t cap = 0;
	DIR *d;

	*n = 0;
	if ((d = spool__fdopendir(fd)) == NULL)
		return NULL;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			if ((nv = reallocarray(v, cap * 2 + 8,
			    sizeof(*v))) == NULL)
				break;
			v = nv;
			cap = cap * 2 + 8;
		}
		if ((v[*n] = strdup(de->d_name)) == NULL)
			break;
		(*n)++;
	}
	if (de != NULL || errno != 0) {	/* out of memory, or readdir */
		freenames(v, *n);
		(void)closedir(d);
		return NULL;
	}
	(void)closedir(d);
	if (v == NULL && (v = malloc(sizeof(*v))) == NULL)
		return NULL;
	qsort(v, *n, sizeof(*v), bystr);
	return v;
}

int
spool_subscribers(struct spool *sp, spool_sub_fn *fn, void *arg)
{
	char target[PATH_MAX], **v;
	size_t i, n;
	ssize_t len;
	int fd, r = 0, saved;

	if ((fd = spool__subdir(sp, "subs", 0, NULL)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((v = names(fd, &n)) == NULL)
		r = -1;
	for (i = 0; r == 0 && i < n; i++) {
		/* not a symlink (EINVAL), or unsubscribed meanwhile */
		if ((len = readlinkat(fd, v[i], target,
		    sizeof(target) - 1)) == -1) {
			if (errno != EINVAL && errno != ENOENT)
				r = -1;
			continue;
		}
		target[len] = '\0';
		r = fn(arg, v[i], target);
	}
	saved = errno;
	if (v != NULL)
		freenames(v, n);
	(void)close(fd);
	errno = saved;
	return r;
}
