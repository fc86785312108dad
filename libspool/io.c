/*
 * io.c - the one durable write and the one move of libspool.
 *
 * spool__write() creates a file that did not exist (O_CREAT|O_EXCL, so a
 * file planted by someone else is never written into), writes all of it
 * (short writes and EINTR handled), fdatasyncs it and closes it, checking
 * each step.  On any failure the file is unlinked and the first errno is
 * returned: a failed fdatasync is final, never retried, because the kernel
 * may have dropped the dirty pages and a second call would "succeed" over
 * lost data.  With nosync the fdatasync is skipped and nothing else changes.
 * spool__create() does the same up to the sync and hands back the open
 * descriptor instead, for a caller that syncs the file later or not at all.
 *
 * spool__move() is the only way a message changes state: renameat2 with
 * RENAME_NOREPLACE, so nothing is ever overwritten and the exact source
 * name is a compare-and-swap token (the loser of a race gets ENOENT).
 * Where the file system lacks renameat2 (EINVAL, ENOSYS: NFS, some FUSE)
 * it falls back to linkat + unlinkat, which never overwrites either.  If
 * the unlink of the source then finds it gone, what is on disk decides,
 * never the errno alone (an NFS client that retransmits a REMOVE can
 * report ENOENT for an unlink that it made): when no other name of the
 * same file stands beside our new one, no other mover linked it, and the
 * move is ours; else somebody else moved the message meanwhile, our link
 * is removed and ENOENT returned.  Names, not the link count, decide: a
 * client's attribute cache may show a count from before another mover's
 * link (seen on FUSE: two claimants then both kept the claim).
 * A mover killed between the two leaves the message under two names,
 * which mend.c sorts out.
 *
 * spool__now() and spool__pid() are the clock and the process ID of
 * libspool.  The PID is asked once and forgotten in the child of each
 * fork(2) (pthread_atfork): getpid(2) is a system call, made per message
 * it would cost as much as a rename on a virtual machine.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

/*
 * The test build tests/fallback/q (make check runs the protocol tests on it
 * too) is compiled with -DSPOOL_TEST_NORENAME2: there every renameat2 fails
 * with EINVAL, as on NFS, so spool__move() always takes the linkat +
 * unlinkat fallback.  Nothing else differs.
 */
#ifdef SPOOL_TEST_NORENAME2
#define renameat2(fd1, p1, fd2, p2, fl)	(errno = EINVAL, -1)
#endif

static int
writeall(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Copy what src gives into fd.  A read interrupted by a signal (EINTR) is
 * a failure, not retried: the caller asked to hear of the signal.
 */
static int
copyall(int fd, int src)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(src, buf, sizeof(buf));
		if (n == -1)
			return -1;
		if (n == 0)
			return 0;
		if (writeall(fd, buf, (size_t)n) == -1)
			return -1;
	}
}

/* Close fd (-1: closed) and remove the file it was writing; keep errno. */
static void
discard(int dfd, const char *name, int fd)
{
	int saved = errno;

	if (fd != -1)
		(void)close(fd);
	(void)unlinkat(dfd, name, 0);
	errno = saved;
}

int
spool__create(struct spool *sp, int dfd, const char *name, const void *buf,
    size_t len, int srcfd)
{
	int fd;

	/* a writer in tmp/ holds its liveness lock (live.c) */
	if (dfd == sp->dfd[SPOOL_TMP] && spool__live(sp) == -1)
		return -1;
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, sp->fmode);
	if (fd == -1)
		return -1;
	/* In a shared spool the group may work the file whatever our umask. */
	if ((sp->shared && fchmod(fd, sp->fmode) == -1) ||
	    (srcfd >= 0 ? copyall(fd, srcfd) : writeall(fd, buf, len))) {
		discard(dfd, name, fd);
		return -1;
	}
	return fd;
}

int
spool__write(struct spool *sp, int dfd, const char *name, const void *buf,
    size_t len, int srcfd, int nosync)
{
	int fd;

	if ((fd = spool__create(sp, dfd, name, buf, len, srcfd)) == -1)
		return -1;
	if (!nosync && fdatasync(fd) == -1) {
		discard(dfd, name, fd);
		return -1;
	}
	if (close(fd) == -1) {
		discard(dfd, name, -1);
		return -1;
	}
	return 0;
}

/* Is from gone, or the same file as to? */
static int
moved(int fromfd, const char *from, int tofd, const char *to)
{
	struct stat a, b;

	if (fstatat(fromfd, from, &a, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT;
	return fstatat(tofd, to, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * Has the message of ID n another name in directory fd than to, made by
 * another mover of the same message?  1 or 0.
 */
static int
othername(int fd, const char *to, const struct spool_name *n,
    const struct stat *sb)
{
	struct dirent *de;
	struct stat ob;
	DIR *d;
	int found = 0;

	if ((d = spool__fdopendir(fd)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL)
		found = strncmp(de->d_name, n->name, n->idlen) == 0 &&
		    (de->d_name[n->idlen] == ',' ||
		    de->d_name[n->idlen] == '\0') &&
		    strcmp(de->d_name, to) != 0 &&
		    fstatat(fd, de->d_name, &ob, AT_SYMLINK_NOFOLLOW) == 0 &&
		    ob.st_dev == sb->st_dev && ob.st_ino == sb->st_ino;
	(void)closedir(d);
	return found;
}

/*
 * Has the message tofd/to (sb) another name, made by another mover of
 * the same message?  1 or 0.  Names, not the link count: a remote
 * client's attribute cache may show a count from before the other
 * mover's link, and links in other queues (a fan-out) count there too.
 * The winner may have moved on already (a fast job acknowledged, a
 * release), so the other state directories are looked at too, in the
 * order a message moves through them.
 */
static int
rival(struct spool *sp, int tofd, const char *to, const struct stat *sb)
{
	static const int order[] = { SPOOL_CUR, SPOOL_DONE, SPOOL_FAILED,
	    SPOOL_NEW };
	struct spool_name n;
	size_t i;

	if (spool_name_parse(to, &n) == -1)
		return 0;
	if (othername(tofd, to, &n, sb))
		return 1;
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (sp->dfd[order[i]] != tofd &&
		    othername(sp->dfd[order[i]], "", &n, sb))
			return 1;
	return 0;
}

int
spool__move(struct spool *sp, int fromfd, const char *from, int tofd,
    const char *to)
{
	struct stat sb;
	int r, mended, saved;

	if (!sp->norename2) {
		if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EINVAL && errno != ENOSYS)
			return -1;
		sp->norename2 = 1;
	}
	if (fstatat(fromfd, from, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;	/* ENOENT: moved by somebody else */
	/* a claim of a message that another claim left half done */
	if (sb.st_nlink > 1 && fromfd == sp->dfd[SPOOL_NEW] &&
	    tofd == sp->dfd[SPOOL_CUR]) {
		mended = 0;
		if ((r = spool__mend_source(sp, from, &sb, &mended)) != 0) {
			if (r == 1)
				errno = ENOENT;
			return -1;
		}
	}
	if (linkat(fromfd, from, tofd, to, 0) == -1) {
		/* another mover made this very move first: we lost a race */
		if (errno == EEXIST && moved(fromfd, from, tofd, to))
			errno = ENOENT;
		return -1;
	}
	if (unlinkat(fromfd, from, 0) == 0)
		return 0;
	saved = errno;
	/*
	 * Whatever the error, if the source is gone, ours is either the only
	 * new name of the message (an unlink that reported a failure it had
	 * not had, or a mender finished our move) or another mover's name is
	 * there too, and that mover won.
	 */
	if (fstatat(fromfd, from, &sb, AT_SYMLINK_NOFOLLOW) == -1 &&
	    errno == ENOENT) {
		if (fstatat(tofd, to, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !rival(sp, tofd, to, &sb))
			return 0;
		saved = ENOENT;
	}
	(void)unlinkat(tofd, to, 0);
	errno = saved;
	return -1;
}

/*
 * Record now as the time the message dfd/name enters done/ or failed/:
 * its mtime, which retention and replay -s read (the ctime would move
 * with any chmod or restore).  Only a file with one link: q never changes
 * a file that is also elsewhere (a hard link planted from outside, or a
 * message fanned out to other queues, which keeps its write time).
 * links is the link count if the caller has just seen it, else 0 (then
 * it is looked up).  Done before the move; a move that then loses its
 * race has only touched a time nobody reads in cur/.
 */
void
spool__stamp(int dfd, const char *name, nlink_t links)
{
	struct stat st;

	if (links == 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode))
		links = st.st_nlink;
	if (links == 1)
		(void)utimensat(dfd, name, NULL, AT_SYMLINK_NOFOLLOW);
}

int
spool__fsync_dir(int dfd)
{
	return fsync(dfd);
}

time_t
spool__now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static pid_t	mypid;

static void
forked(void)
{
	mypid = 0;
}

pid_t
spool__pid(void)
{
	static int watched;

	if (mypid != 0)
		return mypid;
	if (!watched && pthread_atfork(NULL, NULL, forked) == 0)
		watched = 1;
	/* without the handler a fork would go unnoticed: ask each time */
	return watched ? (mypid = getpid()) : getpid();
}
