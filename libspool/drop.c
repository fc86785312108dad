/*
 * drop.c - deleting a whole queue (spool_drop).
 *
 * Only what q makes is ever deleted: the state directories with the
 * messages in them, tmp/, fan/, keys/, live/ and their files, subs/ and
 * its symbolic links, config and paused, and the queue directory itself.
 * Everything is looked at before anything changes; anything else in the
 * queue (a foreign file, a subdirectory, a symbolic link where a file
 * belongs) stops the drop with nothing changed, -f or not, and the
 * deletion looks again at each entry before it unlinks it.  A path that is
 * a symbolic link is refused rather than followed: a rename would move
 * the link and the deletion empty what it leads to.
 *
 * The queue disappears in one step: its directory is renamed to a hidden
 * name in the same parent (.q-drop-INODE: no other directory there can
 * have that inode, and q skips dot names) and the parent is fsynced, and
 * only then are its contents deleted.  A crash during the deletion leaves
 * that hidden directory, never a half-deleted queue under the queue's
 * name.  A put that opens the queue after the rename creates a new, empty
 * queue under the name; one that had it open before may still write into
 * the hidden directory, which is why a directory that is not empty when
 * its turn comes is emptied again, a few times, before the drop gives up.
 * Claims made between the look and the rename (without SPOOL_DROP_FORCE)
 * are found by a second look at cur/ after it: the queue is then renamed
 * back, and the drop refused.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

enum kind { K_MSG, K_FILE, K_LINK };

/* The directories of a queue, what they hold, and their order of removal. */
static const struct {
	const char	*name;
	int		 state;		/* for K_MSG */
	enum kind	 kind;
} dirs[] = {
	{ "subs", -1, K_LINK },
	{ "new", SPOOL_NEW, K_MSG },
	{ "done", SPOOL_DONE, K_MSG },
	{ "failed", SPOOL_FAILED, K_MSG },
	{ "cur", SPOOL_CUR, K_MSG },
	{ "fan", -1, K_FILE },
	{ "keys", -1, K_FILE },
	{ "live", -1, K_FILE },
	{ "tmp", SPOOL_TMP, K_FILE },
};
#define NDIRS	(sizeof(dirs) / sizeof(dirs[0]))
#define D_SUBS	0
#define D_CUR	4
#define EMPTY_TRIES	8

static const char *const files[] = { "config", "paused" };

/* Is the entry name of directory k (open as dfd) one q made? */
static int
ours(int dfd, size_t k, const char *name)
{
	struct spool_name n;
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 1 : -1;	/* gone: fine */
	switch (dirs[k].kind) {
	case K_LINK:
		return S_ISLNK(st.st_mode);
	case K_FILE:
		return S_ISREG(st.st_mode);
	default:
		return S_ISREG(st.st_mode) && name[0] != '.' &&
		    spool_name_parse(name, &n) == 0 &&
		    spool__valid_in((enum spool_state)dirs[k].state, &n);
	}
}

static int
notours(const char *dir, const char *name, char *what, size_t len)
{
	if (what != NULL)
		snprintf(what, len, "%s%s%s", dir != NULL ? dir : "",
		    dir != NULL ? "/" : "", name);
	return spool__fail(SPOOL_WHY_NOTOURS, ENOTEMPTY);
}

/*
 * Go through directory k of the queue: count its entries into *n, and
 * with del unlink them.  An entry that is not q's stops it (-1).  A
 * missing directory is empty, but for the state directories.
 */
static int
walkdir(int qfd, size_t k, int del, size_t *n, char *what, size_t len)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0, ok;

	*n = 0;
	if ((fd = openat(qfd, dirs[k].name, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT && dirs[k].state < SPOOL_NEW ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while (r == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((ok = ours(fd, k, de->d_name)) != 1)
			r = ok == -1 ? -1 : notours(dirs[k].name, de->d_name,
			    what, len);
		else if (del && unlinkat(fd, de->d_name, 0) == -1 &&
		    errno != ENOENT)
			r = -1;
		else
			(*n)++;
	}
	if (r == 0 && errno != 0)
		r = -1;
	ok = errno;
	(void)closedir(d);
	errno = ok;
	return r;
}

/*
 * Is name, at the top of the queue, a directory or file q makes there
 * (or gone meanwhile)?  1, 0, or -1 with errno.  The one list of what a
 * queue holds: drop and the adoption of a directory by put use it.
 */
int
spool__known(int qfd, const char *name)
{
	struct stat st;
	size_t i;

	if (fstatat(qfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 1 : -1;
	for (i = 0; i < NDIRS; i++)
		if (strcmp(name, dirs[i].name) == 0)
			return S_ISDIR(st.st_mode);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (strcmp(name, files[i]) == 0)
			return S_ISREG(st.st_mode);
	return 0;
}

/* Look at everything in the queue; nothing is changed. */
static int
check(int qfd, unsigned flags, char *what, size_t len)
{
	struct dirent *de;
	size_t k, n[NDIRS];
	DIR *d;
	int r = 0, ok;

	if ((d = spool__fdopendir(qfd)) == NULL)
		return -1;
	while (r == 0 && (errno = 0, de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    (ok = spool__known(qfd, de->d_name)) != 1)
			r = ok == -1 ? -1 : notours(NULL, de->d_name, what,
			    len);
	ok = r == 0 && errno != 0;
	(void)closedir(d);
	if (ok || r != 0)
		return -1;
	for (k = 0; k < NDIRS; k++)
		if (walkdir(qfd, k, 0, &n[k], what, len) == -1)
			return -1;
	if (flags & SPOOL_DROP_FORCE)
		return 0;
	if (n[D_CUR] > 0)
		return spool__fail(SPOOL_WHY_HASCLAIMS, EBUSY);
	if (n[D_SUBS] > 0)
		return spool__fail(SPOOL_WHY_HASSUBS, EBUSY);
	return 0;
}

/*
 * Delete the contents of the queue (at qfd), then its directories.
 * Returns the number of messages deleted, or -1.
 */
static long long
empty(int qfd, char *what, size_t len)
{
	long long msgs = 0;
	size_t k, i, n;
	int tries;

	for (k = 0; k < NDIRS; k++) {
		for (tries = 0;; tries++) {
			if (walkdir(qfd, k, 1, &n, what, len) == -1)
				return -1;
			if (dirs[k].kind == K_MSG)
				msgs += (long long)n;
			if (unlinkat(qfd, dirs[k].name, AT_REMOVEDIR) == 0 ||
			    errno == ENOENT)
				break;
			/* a writer that had the queue open: once more */
			if ((errno != ENOTEMPTY && errno != EEXIST) ||
			    tries + 1 == EMPTY_TRIES)
				return -1;
		}
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (unlinkat(qfd, files[i], 0) == -1 && errno != ENOENT)
			return -1;
	return msgs;
}

/*
 * Open the directory holding the queue at path, and put the queue's name
 * in it into name.  A path whose last part is "." or ".." is no queue.
 */
static int
parent(const char *path, char *name, size_t len)
{
	char dir[PATH_MAX], *slash;
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	if ((slash = strrchr(dir, '/')) == NULL) {
		if (strlcpy(name, dir, len) >= len)
			return spool__fail(SPOOL_WHY_NOTQUEUE, ENAMETOOLONG);
		strlcpy(dir, ".", sizeof(dir));
	} else {
		if (strlcpy(name, slash + 1, len) >= len)
			return spool__fail(SPOOL_WHY_NOTQUEUE, ENAMETOOLONG);
		slash[slash == dir] = '\0';	/* "/q": the parent is "/" */
	}
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return spool__fail(SPOOL_WHY_NOTQUEUE, ENOTDIR);
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Open the queue name in pfd, a directory and no symbolic link. */
static struct spool *
openqueue(int pfd, const char *name)
{
	struct stat ls, qs;
	struct spool *sp;

	if (fstatat(pfd, name, &ls, AT_SYMLINK_NOFOLLOW) == -1) {
		(void)spool__fail(errno == ENOENT ? SPOOL_WHY_NOQUEUE :
		    SPOOL_WHY_SYSTEM, errno);
		return NULL;
	}
	if (!S_ISDIR(ls.st_mode)) {
		(void)spool__fail(SPOOL_WHY_NOTQUEUE, ENOTDIR);
		return NULL;
	}
	if ((sp = spool__openat(pfd, name, SPOOL_OPEN_ANYCONFIG)) == NULL)
		return NULL;
	/* swapped for a symbolic link between the look and the open */
	if (fstat(sp->qfd, &qs) == -1 || qs.st_dev != ls.st_dev ||
	    qs.st_ino != ls.st_ino) {
		spool_close(sp);
		(void)spool__fail(SPOOL_WHY_NOTQUEUE, ENOTDIR);
		return NULL;
	}
	return sp;
}

/*
 * After the rename: claims made since the look mean the drop is refused,
 * and the queue goes back under its name.
 */
static int
claimed(struct spool *sp, int pfd, const char *hidden, const char *name,
    char *what, size_t len)
{
	size_t n;

	if (walkdir(sp->qfd, D_CUR, 0, &n, what, len) == -1)
		return -1;
	if (n == 0)
		return 0;
	if (renameat(pfd, hidden, pfd, name) == -1) {
		if (what != NULL)
			strlcpy(what, hidden, len);
		return -1;
	}
	(void)fsync(pfd);
	return spool__fail(SPOOL_WHY_HASCLAIMS, EBUSY);
}

long long
spool_drop(const char *path, unsigned flags, char *what, size_t len)
{
	char name[SPOOL_NAME_MAX + 1], hidden[64];
	struct spool *sp = NULL;
	struct stat st;
	long long r = -1, n;
	int pfd, saved;

	if (what != NULL && len > 0)
		what[0] = '\0';
	if ((pfd = parent(path, name, sizeof(name))) == -1)
		return -1;
	if ((sp = openqueue(pfd, name)) == NULL ||
	    check(sp->qfd, flags, what, len) == -1 ||
	    fstat(sp->qfd, &st) == -1)
		goto out;
	snprintf(hidden, sizeof(hidden), ".q-drop-%ju", (uintmax_t)st.st_ino);
	if (renameat(pfd, name, pfd, hidden) == -1)
		goto out;
	if (!(flags & SPOOL_DROP_FORCE) &&
	    claimed(sp, pfd, hidden, name, what, len) == -1)
		goto out;
	/* from here on a failure leaves the hidden directory: say so */
	if (fsync(pfd) == -1 || (n = empty(sp->qfd, what, len)) == -1 ||
	    unlinkat(pfd, hidden, AT_REMOVEDIR) == -1) {
		if (what != NULL)
			strlcpy(what, hidden, len);
		goto out;
	}
	if (fsync(pfd) == 0)
		r = n;
out:
	saved = errno;
	spool_close(sp);
	(void)close(pfd);
	errno = saved;
	return r;
}
