/*
 * drain.c - libspool in one process, for tests/bench: drains, depth runs,
 * peak memory and lost races.
 *
 *	drain drain QUEUE TOTAL CHUNK MAXSEC
 *		spool_open, then spool_claim, read the message (spool_open_msg,
 *		read, close) and spool_ack it, over and over.  The first
 *		message is timed on its own (first: from before spool_open to
 *		its ack), then the steady state (sec, n): at least TOTAL
 *		messages more and on to the end of the claim that next scans
 *		new/, so that the time holds whole cycles of claims from the
 *		candidates of one scan, each with its rescan, as a
 *		long-running worker pays them; or until nothing is ready, or
 *		MAXSEC seconds of draining passed.  With CHUNK > 0, after
 *		every CHUNK messages the clock stops and as many (empty)
 *		messages are put back with SPOOL_PUT_NOSYNC, as q put
 *		--no-sync would, so the depth of new/ stays where it was.
 *	drain race QUEUE WORKERS plain|lock
 *		WORKERS processes, released at once, each spool_claim +
 *		spool_ack until the queue is empty; plain claims as q take
 *		does, open as q work does (SPOOL_CLAIM_OPEN, w=).
 *
 * Lost races are counted where they happen, inside libspool's own calls:
 * the program is linked with -Wl,--wrap=renameat2,--wrap=openat,--wrap=flock
 * and the wrappers count, for the new/ directory only, renames that failed
 * with ENOENT (another claimant renamed the file first), opens that failed
 * with ENOENT (it was gone before the claim began) and flocks that failed
 * with EWOULDBLOCK (another claimant held it).  No other system call is
 * added and nothing is traced.  A wrapper of fdopendir counts the scans of
 * new/ the same way (one fstat per scan).
 *
 * Each prints one line of key=value pairs: n (messages), sec (wall time,
 * CLOCK_MONOTONIC), first, scans (drain: of new/ in the steady state),
 * rss (drain: ru_maxrss, KiB) and the counters.
 */
#define _GNU_SOURCE
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "bench.h"

static int watchfd = -1;	/* new/ of the queue being drained */
static long lost_rename, lost_open, busy_lock, scans;

int	__real_renameat2(int, const char *, int, const char *, unsigned);
int	__wrap_renameat2(int, const char *, int, const char *, unsigned);
int	__real_openat(int, const char *, int, ...);
int	__wrap_openat(int, const char *, int, ...);
int	__real_flock(int, int);
int	__wrap_flock(int, int);
DIR	*__real_fdopendir(int);
DIR	*__wrap_fdopendir(int);

DIR *
__wrap_fdopendir(int fd)
{
	struct stat a, b;

	if (watchfd != -1 && fstat(fd, &a) == 0 && fstat(watchfd, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		scans++;
	return __real_fdopendir(fd);
}

int
__wrap_renameat2(int ofd, const char *from, int nfd, const char *to,
    unsigned flags)
{
	int r = __real_renameat2(ofd, from, nfd, to, flags);

	if (r == -1 && errno == ENOENT && ofd == watchfd && watchfd != -1)
		lost_rename++;
	return r;
}

int
__wrap_openat(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;
	int r;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	r = __real_openat(dfd, path, flags, mode);
	if (r == -1 && errno == ENOENT && dfd == watchfd && watchfd != -1)
		lost_open++;
	return r;
}

int
__wrap_flock(int fd, int op)
{
	int r = __real_flock(fd, op);

	if (r == -1 && errno == EWOULDBLOCK)
		busy_lock++;
	return r;
}

static struct spool *
open_queue(const char *path)
{
	struct spool *sp;

	if ((sp = spool_open(path, 0)) == NULL)
		die(path);
	return sp;
}

/* Put k empty messages, no sync, through the library's batch. */
static void
put(struct spool *sp, long k)
{
	struct spool_putopt opt = { SPOOL_PRIO_DEFAULT, 0, SPOOL_PUT_NOSYNC,
	    NULL, 0 };
	struct spool_batch *b;
	long i;

	if ((b = spool_batch_begin(sp, &opt)) == NULL)
		die("spool_batch_begin");
	for (i = 0; i < k; i++)
		if (spool_batch_add(b, "", 0) == -1)
			die("spool_batch_add");
	if (spool_batch_commit(b) == -1)
		die("spool_batch_commit");
	spool_batch_free(b);
}

static void
readmsg(struct spool *sp, const struct spool_msg *m)
{
	char buf[65536];
	ssize_t n;
	int fd;

	if ((fd = spool_open_msg(sp, SPOOL_CUR, &m->n)) == -1)
		die("spool_open_msg");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n == -1)
		die("read");
	close(fd);
}

/* Claim, read and acknowledge one message: 1, or 0 if none is ready. */
static int
one(struct spool *sp)
{
	struct spool_claimopt opt = { 300, 0, 0 };
	struct spool_msg m;
	int r;

	if ((r = spool_claim(sp, &opt, &m)) == -1)
		die("spool_claim");
	if (r == 0)
		return 0;
	readmsg(sp, &m);
	if (spool_ack(sp, m.n.name) == -1)
		die("spool_ack");
	return 1;
}

static int
drain(int argc, char *argv[])
{
	struct spool *sp;
	struct rusage ru;
	long total, chunk, n = 0, inchunk = 0, before, steady;
	double maxsec, t0, spent = 0, first;
	int rescanned = 0;

	if (argc != 6)
		return 2;
	total = atol(argv[3]);
	chunk = atol(argv[4]);
	maxsec = atof(argv[5]);
	t0 = now();
	sp = open_queue(argv[2]);
	watchfd = spool_dirfd(sp, SPOOL_NEW);
	if (!one(sp))
		die("drain: nothing to claim");
	first = now() - t0;
	steady = scans;
	t0 = now();
	while (!(n >= total && rescanned) && spent + now() - t0 < maxsec) {
		before = scans;
		if (!one(sp))
			break;
		rescanned = scans > before;
		n++;
		if (chunk > 0 && ++inchunk == chunk) {
			spent += now() - t0;
			put(sp, inchunk);
			inchunk = 0;
			t0 = now();
		}
	}
	spent += now() - t0;
	if (chunk > 0)
		put(sp, inchunk + 1);	/* and the first one */
	getrusage(RUSAGE_SELF, &ru);
	printf("n=%ld sec=%.6f first=%.6f scans=%ld lost=%ld rss=%ld\n", n,
	    spent, first, scans - steady, lost_rename, ru.ru_maxrss);
	spool_close(sp);
	return 0;
}

/* One racing worker: claim and ack until the queue is empty. */
static void
worker(const char *path, int lock, int go, int out)
{
	struct spool_claimopt opt = { 300, 0, 0 };
	struct spool_msg m;
	struct spool *sp;
	long n = 0, empty = 0, zeros = 0;
	char c, line[256];
	int r, len;

	if (lock) {
		opt.flags = SPOOL_CLAIM_OPEN;
		opt.wpid = getpid();
	}
	sp = open_queue(path);
	watchfd = spool_dirfd(sp, SPOOL_NEW);
	if (read(go, &c, 1) == -1)
		die("read");
	for (;;) {
		if ((r = spool_claim(sp, &opt, &m)) == -1)
			die("spool_claim");
		if (r == 0) {
			/* nothing claimable now: done only if nothing is left */
			empty++;
			if (spool_ready(sp) != 1 || ++zeros > 1000)
				break;
			continue;
		}
		zeros = 0;
		if (spool_ack(sp, m.n.name) == -1)
			die("spool_ack");
		if (m.fd != -1)
			close(m.fd);
		n++;
	}
	len = snprintf(line, sizeof(line), "%ld %ld %ld %ld %ld\n", n,
	    lost_rename, lost_open, busy_lock, empty);
	if (write(out, line, (size_t)len) != len)
		die("write");
	spool_close(sp);
}

static int
race(int argc, char *argv[])
{
	long n, lr, lo, bl, em, sn = 0, slr = 0, slo = 0, sbl = 0, sem = 0;
	int go[2], res[2], w, nw, lock;
	double t0;
	FILE *f;

	if (argc != 5)
		return 2;
	nw = atoi(argv[3]);
	lock = strcmp(argv[4], "lock") == 0;
	if (pipe(go) == -1 || pipe(res) == -1)
		die("pipe");
	for (w = 0; w < nw; w++) {
		switch (fork()) {
		case -1:
			die("fork");
		case 0:
			close(go[1]);
			close(res[0]);
			worker(argv[2], lock, go[0], res[1]);
			_exit(0);
		}
	}
	close(go[0]);
	close(res[1]);
	usleep(100000);		/* let every worker open the queue */
	t0 = now();
	close(go[1]);		/* go */
	while (wait(NULL) > 0)
		;
	t0 = now() - t0;
	if ((f = fdopen(res[0], "r")) == NULL)
		die("fdopen");
	while (fscanf(f, "%ld %ld %ld %ld %ld", &n, &lr, &lo, &bl, &em) ==
	    5) {
		sn += n;
		slr += lr;
		slo += lo;
		sbl += bl;
		sem += em;
	}
	printf("n=%ld sec=%.6f lost=%ld gone=%ld busy=%ld empty=%ld\n", sn,
	    t0, slr, slo, sbl, sem);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc >= 3 && strcmp(argv[1], "drain") == 0)
		return drain(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "race") == 0)
		return race(argc, argv);
	fprintf(stderr, "usage: drain drain|race QUEUE ...\n");
	return 2;
}
