/*
 * baseline.c - the physical limit for tests/bench: the system calls of each
 * queue operation with no queue logic around them.
 *
 * Linked statically, so that a start of this program costs what a start
 * of q costs at best.  Message names have the shape of q's IDs (so that a
 * queue filled here can be claimed by q), but nothing is parsed, sorted,
 * validated or checked beyond the return values.
 *
 *	baseline fill QUEUE N
 *		N empty messages created straight in new/ (open O_EXCL,
 *		close): the state N times q put --no-sync </dev/null leaves,
 *		at a fraction of the cost; for setting up queues, untimed
 *	baseline put1 [-n] QUEUE
 *		one message from stdin: open tmp/ID O_EXCL, write, fdatasync,
 *		close, rename into new/, fsync new/ (-n: neither sync)
 *	baseline batch [-n] QUEUE
 *		one message per line of stdin: open O_EXCL, write, fdatasync,
 *		close each into tmp/; rename each into new/; fsync new/ once
 *	baseline drain QUEUE TOTAL CHUNK MAXSEC
 *		readdir new/ and for each entry: rename into cur/, open, read,
 *		close, stamp its time (utimensat: the time it enters done/,
 *		which q's retention reads), rename into done/; TOTAL messages or until new/ is empty
 *		or MAXSEC seconds of draining passed.  With CHUNK > 0, after
 *		every CHUNK messages the clock stops and as many (empty)
 *		messages are put back through tmp/ (no sync), so the depth
 *		of new/ stays where it was.
 *	baseline first QUEUE
 *		as a first claim that honours priorities must: read all of
 *		new/, then claim, read and acknowledge one message (the first
 *		the directory listed: nothing is compared)
 *	baseline race QUEUE WORKERS
 *		WORKERS processes drain new/ at once (as drain, without the
 *		read); counts the renames that lost the race (ENOENT)
 *	baseline spawn N JOBS PROG
 *		posix_spawn PROG N times, at most JOBS running at once
 *	baseline measure PROG ARG...
 *		run PROG once, with this program's stdin, stdout and stderr,
 *		and say how long it took and its peak RSS; fails as it does
 *
 * drain, race, spawn and measure print one line of key=value pairs: n (messages),
 * sec (wall time, CLOCK_MONOTONIC), and where it applies first (drain:
 * from before opening the queue to the first message acknowledged), lost
 * and rss (ru_maxrss, KiB).  put1 and batch print nothing: they are timed
 * from outside, like q put.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define NAMELEN	256

extern char **environ;

static int tmpfd = -1, newfd = -1, curfd = -1, donefd = -1;
static unsigned long seq;

static long
maxrss(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int
opendirat(int qfd, const char *name)
{
	int fd;

	if ((fd = openat(qfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		die(name);
	return fd;
}

static void
openqueue(const char *path, int all)
{
	int qfd;

	if ((qfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		die(path);
	tmpfd = opendirat(qfd, "tmp");
	newfd = opendirat(qfd, "new");
	if (all) {
		curfd = opendirat(qfd, "cur");
		donefd = opendirat(qfd, "done");
	}
	close(qfd);
}

/* A name shaped like q's IDs: SEC.USEC.PID_SEQ.HOST. */
static void
mkname(char *buf)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, NAMELEN, "%010lld.%06ld.%ld_%lu.bench",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(), seq++);
}

static void
writeall(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += n;
		len -= (size_t)n;
	}
}

/* open O_EXCL, write, fdatasync (if sync), close: into tmp/name. */
static void
writemsg(const char *name, const char *buf, size_t len, int sync)
{
	int fd;

	fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0666);
	if (fd == -1)
		die("openat tmp");
	writeall(fd, buf, len);
	if (sync && fdatasync(fd) == -1)
		die("fdatasync");
	if (close(fd) == -1)
		die("close");
}

static void
deliver(const char *name)
{
	if (renameat2(tmpfd, name, newfd, name, RENAME_NOREPLACE) == -1)
		die("renameat2 new");
}

static int
put1(int argc, char *argv[])
{
	char name[NAMELEN], buf[65536];
	size_t len = 0;
	ssize_t n;
	int sync = strcmp(argv[2], "-n") != 0;

	openqueue(argv[argc - 1], 0);
	while ((n = read(STDIN_FILENO, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	mkname(name);
	writemsg(name, buf, len, sync);
	deliver(name);
	if (sync && fsync(newfd) == -1)
		die("fsync new");
	return 0;
}

static int
batch(int argc, char *argv[])
{
	char (*names)[NAMELEN] = NULL;
	char *line = NULL;
	size_t cap = 0, n = 0, ncap = 0, i;
	ssize_t len;
	int sync = strcmp(argv[2], "-n") != 0;

	openqueue(argv[argc - 1], 0);
	while ((len = getline(&line, &cap, stdin)) != -1) {
		if (n == ncap) {
			ncap = ncap ? ncap * 2 : 1024;
			if ((names = realloc(names, ncap * NAMELEN)) == NULL)
				die("realloc");
		}
		mkname(names[n]);
		writemsg(names[n], line, (size_t)len, sync);
		n++;
	}
	for (i = 0; i < n; i++)
		deliver(names[i]);
	if (sync && fsync(newfd) == -1)
		die("fsync new");
	free(names);
	free(line);
	return 0;
}

/* Put k empty messages back into new/, no sync (untimed by callers). */
static void
refill(long k)
{
	char name[NAMELEN];

	while (k-- > 0) {
		mkname(name);
		writemsg(name, "", 0, 0);
		deliver(name);
	}
}

static int
fill(int argc, char *argv[])
{
	char name[NAMELEN];
	long n;
	int fd;

	if (argc != 4)
		return 2;
	n = atol(argv[3]);
	openqueue(argv[2], 0);
	while (n-- > 0) {
		mkname(name);
		fd = openat(newfd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd == -1)
			die("openat new");
		if (close(fd) == -1)
			die("close");
	}
	return 0;
}

/*
 * Claim new/name (rename into cur/ with a= and l= appended), read it if
 * rd, acknowledge it (stamp the time it enters done/, rename into done/).
 * Returns 1, or 0 if the message was gone (another claimant won).
 */
static int
consume(const char *name, time_t lease, int rd)
{
	char cur[NAMELEN * 2], done[NAMELEN * 2], buf[65536];
	ssize_t n;
	int fd;

	snprintf(cur, sizeof(cur), "%s,a=1,l=%lld", name, (long long)lease);
	snprintf(done, sizeof(done), "%s,a=1", name);
	if (renameat2(newfd, name, curfd, cur, RENAME_NOREPLACE) == -1) {
		if (errno == ENOENT)
			return 0;
		die("renameat2 cur");
	}
	if (rd) {
		if ((fd = openat(curfd, cur, O_RDONLY | O_CLOEXEC)) == -1)
			die("openat cur");
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			;
		if (n == -1)
			die("read");
		close(fd);
	}
	if (utimensat(curfd, cur, NULL, AT_SYMLINK_NOFOLLOW) == -1)
		die("utimensat");
	if (renameat2(curfd, cur, donefd, done, RENAME_NOREPLACE) == -1)
		die("renameat2 done");
	return 1;
}

/* Next entry of new/ that is not a dot file; rewinds once at the end. */
static struct dirent *
next(DIR *d)
{
	struct dirent *de;
	int rewound = 0;

	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				die("readdir");
			if (rewound++)
				return NULL;
			rewinddir(d);
			continue;
		}
		if (de->d_name[0] != '.')
			return de;
	}
}

static int
drain(int argc, char *argv[])
{
	struct dirent *de;
	long total, chunk, n = 0, inchunk = 0, lost = 0;
	double maxsec, t0, spent = 0, first = 0;
	DIR *d;
	int dfd;

	if (argc != 6)
		return 2;
	total = atol(argv[3]);
	chunk = atol(argv[4]);
	maxsec = atof(argv[5]);
	t0 = now();
	openqueue(argv[2], 1);
	if ((dfd = dup(newfd)) == -1 || (d = fdopendir(dfd)) == NULL)
		die("fdopendir");
	while (n < total && spent + now() - t0 < maxsec) {
		if ((de = next(d)) == NULL)
			break;
		if (!consume(de->d_name, time(NULL) + 300, 1)) {
			lost++;
			continue;
		}
		if (n++ == 0)
			first = now() - t0;
		if (chunk > 0 && ++inchunk == chunk) {
			spent += now() - t0;
			refill(inchunk);
			inchunk = 0;
			t0 = now();
		}
	}
	spent += now() - t0;
	if (chunk > 0)
		refill(inchunk);
	closedir(d);
	printf("n=%ld sec=%.6f first=%.6f lost=%ld rss=%ld\n", n, spent, first,
	    lost, maxrss());
	return 0;
}

static int
first(int argc, char *argv[])
{
	struct dirent *de;
	char name[NAMELEN] = "";
	long entries = 0;
	double t0;
	DIR *d;

	if (argc != 3)
		return 2;
	t0 = now();
	openqueue(argv[2], 1);
	if ((d = fdopendir(dup(newfd))) == NULL)
		die("fdopendir");
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (entries++ == 0)
			snprintf(name, sizeof(name), "%s", de->d_name);
	}
	if (entries == 0 || !consume(name, time(NULL) + 300, 1))
		die("first: nothing to claim");
	t0 = now() - t0;
	closedir(d);
	refill(1);
	printf("n=1 first=%.6f entries=%ld\n", t0, entries);
	return 0;
}

static int
race(int argc, char *argv[])
{
	struct dirent *de;
	int go[2], res[2], w, i, nw;
	long n, lost, sum_n = 0, sum_lost = 0;
	double t0;
	char c, line[128];
	DIR *d;
	FILE *f;

	if (argc != 4)
		return 2;
	nw = atoi(argv[3]);
	if (pipe(go) == -1 || pipe(res) == -1)
		die("pipe");
	for (w = 0; w < nw; w++) {
		switch (fork()) {
		case -1:
			die("fork");
		case 0:
			close(go[1]);
			openqueue(argv[2], 1);
			if ((d = fdopendir(dup(newfd))) == NULL)
				die("fdopendir");
			if (read(go[0], &c, 1) == -1)
				die("read");
			n = lost = 0;
			while ((de = next(d)) != NULL) {
				if (consume(de->d_name, time(NULL) + 300, 0))
					n++;
				else
					lost++;
			}
			i = snprintf(line, sizeof(line), "%ld %ld\n", n, lost);
			writeall(res[1], line, (size_t)i);
			_exit(0);
		}
	}
	close(go[0]);
	close(res[1]);
	usleep(100000);		/* let every worker get to its read */
	t0 = now();
	close(go[1]);		/* go */
	while (wait(NULL) > 0)
		;
	t0 = now() - t0;
	if ((f = fdopen(res[0], "r")) == NULL)
		die("fdopen");
	while (fscanf(f, "%ld %ld", &n, &lost) == 2) {
		sum_n += n;
		sum_lost += lost;
	}
	printf("n=%ld sec=%.6f lost=%ld\n", sum_n, t0, sum_lost);
	return 0;
}

static int
spawn(int argc, char *argv[])
{
	char *args[2];
	long n, started = 0, running = 0;
	int jobs;
	double t0;
	pid_t pid;

	if (argc != 5)
		return 2;
	n = atol(argv[2]);
	jobs = atoi(argv[3]);
	args[0] = argv[4];
	args[1] = NULL;
	t0 = now();
	while (started < n || running > 0) {
		while (started < n && running < jobs) {
			if ((errno = posix_spawn(&pid, argv[4], NULL, NULL, args,
			    environ)) != 0)
				die("posix_spawn");
			started++;
			running++;
		}
		if (wait(NULL) == -1)
			die("wait");
		running--;
	}
	printf("n=%ld sec=%.6f\n", n, now() - t0);
	return 0;
}

static int
measure(int argc, char *argv[])
{
	struct rusage ru;
	double t0;
	pid_t pid;
	int ws;

	if (argc < 3)
		return 2;
	t0 = now();
	if ((errno = posix_spawn(&pid, argv[2], NULL, NULL, argv + 2,
	    environ)) != 0)
		die("posix_spawn");
	if (wait4(pid, &ws, 0, &ru) == -1)
		die("wait4");
	t0 = now() - t0;
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		return 1;
	fprintf(stderr, "sec=%.6f rss=%ld\n", t0, ru.ru_maxrss);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc >= 3 && strcmp(argv[1], "fill") == 0)
		return fill(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "put1") == 0)
		return put1(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "batch") == 0)
		return batch(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "drain") == 0)
		return drain(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "race") == 0)
		return race(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "first") == 0)
		return first(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "spawn") == 0)
		return spawn(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "measure") == 0)
		return measure(argc, argv);
	fprintf(stderr, "usage: baseline fill|put1|batch|drain|first|race|"
	    "spawn|measure ...\n");
	return 2;
}
