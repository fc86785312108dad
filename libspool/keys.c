/*
 * keys.c - dedup keys of put -k: keys/HASH holds the ID of the message
 * put with that key, and its mtime says when.
 *
 * Any byte string is a key: its SHA-256 in hex is the file name, so a key
 * can never name a path.  Producers with the same key serialise on an
 * flock of keys/HASH.lock (created, never written); the holder looks for
 * a record younger than the dedup window, and if there is none, puts the
 * message durably and only then records the key: written into tmp/,
 * fdatasynced, renamed over keys/HASH, keys/ fsynced.  So a crash leaves
 * at worst a message without its key (a later put with the key enqueues
 * again: at least once), never a key without its message.
 *
 * Sweep forgets records past the window.  It removes a lock file only
 * while holding its lock, and a producer that got a lock checks that the
 * file it locked is still the one under that name, or starts over: no two
 * producers can hold "the" lock of one key at once.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

static int
keysdir(struct spool *sp, int create)
{
	int made = 0;

	if (sp->kfd != -1)
		return 0;
	sp->kfd = spool__subdir(sp, "keys", create, &made);
	if (sp->kfd == -1)
		return -1;
	if (made && fsync(sp->qfd) == -1)
		return -1;
	return 0;
}

static int
same(int fd, int dfd, const char *name)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && fstatat(dfd, name, &b,
	    AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino;
}

/* Take the lock of hash; op is LOCK_EX or LOCK_EX|LOCK_NB.  fd or -1. */
static int
lockkey(struct spool *sp, const char *hash, int op)
{
	char name[SPOOL_KEY_HASHLEN + 8];
	int fd;

	snprintf(name, sizeof(name), "%s.lock", hash);
	for (;;) {
		fd = openat(sp->kfd, name, O_RDONLY | O_CREAT | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC, sp->fmode);
		if (fd == -1)
			return -1;
		if (flock(fd, op) == -1) {
			int saved = errno;

			(void)close(fd);
			errno = saved;
			return -1;
		}
		if (same(fd, sp->kfd, name))
			return fd;
		(void)close(fd);	/* removed meanwhile: again */
	}
}

void
spool__key_hash(const void *key, size_t len, char *hash)
{
	SHA256Data(key, len, hash);
}

int
spool__key_lock(struct spool *sp, const char *hash)
{
	if (keysdir(sp, 1) == -1)
		return -1;
	return lockkey(sp, hash, LOCK_EX);
}

int
spool__key_lookup(struct spool *sp, const char *hash, char *id)
{
	struct spool_name n;
	struct stat st;
	ssize_t r;
	int fd;

	if (sp->cfg.dedup == 0)
		return 0;
	fd = openat(sp->kfd, hash, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_mtime < spool__now() - (time_t)sp->cfg.dedup) {
		(void)close(fd);
		return 0;	/* forgotten, or not ours */
	}
	r = read(fd, id, SPOOL_NAME_MAX);
	(void)close(fd);
	if (r <= 0)
		return 0;
	id[r] = '\0';
	id[strcspn(id, "\n")] = '\0';
	return spool_name_parse(id, &n) == 0 && n.attrs == 0;
}

int
spool__key_write(struct spool *sp, const char *id, int nosync,
    struct spool_name *tmp)
{
	char line[SPOOL_NAME_MAX + 2];
	int len;

	len = snprintf(line, sizeof(line), "%s\n", id);
	if (spool__new_id(sp, tmp) == -1)
		return -1;
	return spool__write(sp, sp->dfd[SPOOL_TMP], tmp->name, line,
	    (size_t)len, -1, nosync);
}

int
spool__key_install(struct spool *sp, const struct spool_name *tmp,
    const char *hash)
{
	int saved;

	if (renameat(sp->dfd[SPOOL_TMP], tmp->name, sp->kfd, hash) == -1) {
		saved = errno;
		(void)unlinkat(sp->dfd[SPOOL_TMP], tmp->name, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * A lock file left without a record (lockname, of record hash): remove it
 * if nobody holds it and the record is still gone once it is held.
 */
static void
orphanlock(struct spool *sp, const char *hash, const char *lockname)
{
	int fd;

	if (faccessat(sp->kfd, hash, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    (fd = lockkey(sp, hash, LOCK_EX | LOCK_NB)) == -1)
		return;
	if (faccessat(sp->kfd, hash, F_OK, AT_SYMLINK_NOFOLLOW) == -1)
		(void)unlinkat(sp->kfd, lockname, 0);
	(void)close(fd);
}

/*
 * Sweep keys/: forget records past the dedup window, and remove lock files
 * nobody holds whose record is gone.  Calls report for each.
 */
int
spool__sweep_keys(struct spool *sp, int dryrun, time_t now,
    void (*report)(void *, const char *, int), void *arg)
{
	char hash[SPOOL_KEY_HASHLEN + 1];
	struct dirent *de;
	struct stat st;
	DIR *d;
	size_t len;
	int fd, fresh, n = 0;

	if (keysdir(sp, 0) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = spool__fdopendir(sp->kfd)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		len = strspn(de->d_name, "0123456789abcdef");
		if (len != SPOOL_KEY_HASHLEN || (de->d_name[len] != '\0' &&
		    strcmp(de->d_name + len, ".lock") != 0))
			continue;	/* not ours */
		memcpy(hash, de->d_name, len);
		hash[len] = '\0';
		if (de->d_name[len] == '.') {
			if (!dryrun)
				orphanlock(sp, hash, de->d_name);
			continue;
		}
		if (fstatat(sp->kfd, hash, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		fresh = st.st_mtime >= now - (time_t)sp->cfg.dedup &&
		    sp->cfg.dedup > 0;
		if (fresh)
			continue;
		n++;
		if (dryrun) {
			report(arg, hash, 0);
			continue;
		}
		/* a producer holding the lock is about to renew it */
		if ((fd = lockkey(sp, hash, LOCK_EX | LOCK_NB)) == -1)
			continue;
		if (unlinkat(sp->kfd, hash, 0) == -1) {
			report(arg, hash, errno);
		} else {
			char name[SPOOL_KEY_HASHLEN + 8];

			snprintf(name, sizeof(name), "%s.lock", hash);
			(void)unlinkat(sp->kfd, name, 0);
			report(arg, hash, 0);
		}
		(void)close(fd);
	}
	(void)closedir(d);
	return n;
}
