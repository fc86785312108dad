/*
 * test_claim.c - unit tests of the claim candidates, as TAP.
 *
 * Built against libspool compiled with tiny limits (CAND_MAX 16, NAMES_MAX
 * 640 bytes; see the Makefile), so that a queue of a few hundred messages
 * overflows the candidates and the arena of their names many times over:
 * each scan replaces, drops and compacts.  Whatever the limits, claims
 * must come in (priority, enqueue time) order, every ready message must be
 * claimed exactly once, and delayed or foreign entries never.  A handle
 * that has scanned twice watches new/: what arrives ahead of its
 * remaining candidates is claimed next, without waiting for a rescan.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

#define NMSG	600

static int ntest, nfail;

static void
ok(int cond, const char *what)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntest, what);
}

static void
die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
byorder(const void *a, const void *b)
{
	const struct spool_name *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio - y->prio;
	return strcmp(x->name, y->name);
}

/* Create new/NAME, empty, as q put would have left it. */
static void
create(struct spool *sp, const char *name)
{
	int fd;

	fd = openat(spool_dirfd(sp, SPOOL_NEW), name,
	    O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd == -1)
		die(name);
	(void)close(fd);
}

/*
 * Fill new/ with NMSG ready messages of mixed priorities and name lengths
 * (host names of 1 to 60 bytes, some with p=, a= or a d= that is past),
 * in random order of
 * creation; return them in *want, sorted in claim order.
 */
static void
fill(struct spool *sp, struct spool_name *want, int nmsg)
{
	struct spool_name n;
	char host[64], id[SPOOL_NAME_MAX + 1];
	int i, hl;

	for (i = 0; i < nmsg; i++) {
		memset(&n, 0, sizeof(n));
		hl = 1 + (int)arc4random_uniform(60);
		memset(host, 'h', (size_t)hl);
		host[hl] = '\0';
		host[0] = (char)('a' + arc4random_uniform(26));
		snprintf(id, sizeof(id), "%010u.%06u.%d_%d.%s",
		    1700000000U + arc4random_uniform(1000),
		    arc4random_uniform(1000000), 100 + i, i, host);
		if (spool_name_parse(id, &n) == -1)
			die(id);
		if (arc4random_uniform(3) == 0) {
			n.prio = (int)arc4random_uniform(10);
			n.attrs |= SPOOL_ATTR_PRIO;
		}
		if (arc4random_uniform(4) == 0) {
			n.attempts = 1 + arc4random_uniform(3);
			n.attrs |= SPOOL_ATTR_ATTEMPTS;
		}
		if (arc4random_uniform(5) == 0) {	/* delayed, now due */
			n.due = 1000000000 + arc4random_uniform(1000);
			n.attrs |= SPOOL_ATTR_DUE;
		}
		if (spool_name_format(&n) == -1)
			die("format");
		create(sp, n.name);
		want[i] = n;
	}
	qsort(want, (size_t)nmsg, sizeof(*want), byorder);
}

/* Claim one message; its ID into id (and acknowledge it unless keep). */
static int
claim1(struct spool *sp, char *id, int ack, struct spool_msg *m)
{
	struct spool_claimopt opt = { 60, 0, 0 };
	int r;

	if ((r = spool_claim(sp, &opt, m)) != 1)
		return r;
	memcpy(id, m->n.name, m->n.idlen);
	id[m->n.idlen] = '\0';
	if (ack && spool_ack(sp, m->n.name) == -1)
		die("spool_ack");
	return 1;
}

static void
arrivals(const char *path)
{
	struct spool_msg m;
	struct spool *sp;
	char id[SPOOL_NAME_MAX + 1], name[64], held[SPOOL_NAME_MAX + 1];
	int i, r, sorted = 1;

	if ((sp = spool_open(path, 0)) == NULL)
		die(path);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "1800000000.%06d.1_%d.h", i, i);
		create(sp, name);
	}
	/* the 17th claim rescans (CAND_MAX is 16): from then on, a watch */
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "1800000000.%06d.1_%d.h", i, i);
		if (claim1(sp, id, 1, &m) != 1 || strcmp(id, name) != 0)
			sorted = 0;
	}
	ok(sorted, "arrivals: the first 20 of 100 in order");

	create(sp, "1800000001.000000.2_1.h,p=0");
	r = claim1(sp, id, 1, &m);
	ok(r == 1 && strcmp(id, "1800000001.000000.2_1.h") == 0,
	    "a p=0 message put after the scan is claimed next");

	create(sp, "1800000001.000000.2_2.h,p=0,d=4000000000");
	if (symlinkat("/etc/passwd", spool_dirfd(sp, SPOOL_NEW),
	    "1800000001.000000.2_3.h,p=0") == -1)
		die("symlinkat");
	r = claim1(sp, id, 0, &m);
	ok(r == 1 && strcmp(id, "1800000000.000020.1_20.h") == 0,
	    "a delayed or symlinked arrival is not claimed");

	memcpy(held, m.n.name, sizeof(held));
	if (spool_release(sp, held, 0) == -1)
		die("spool_release");
	r = claim1(sp, id, 1, &m);
	ok(r == 1 && strcmp(id, "1800000000.000020.1_20.h") == 0 &&
	    m.n.attempts == 2, "a released message is claimed again first");
	r = claim1(sp, id, 1, &m);
	ok(r == 1 && strcmp(id, "1800000000.000021.1_21.h") == 0 &&
	    m.n.attempts == 1, "then the next in order");
	spool_close(sp);
}

int
main(void)
{
	static struct spool_name want[NMSG];
	struct spool_claimopt opt = { 60, 0, 0 };
	struct spool_msg m;
	struct spool *sp;
	char dir[] = "/tmp/test_claim.XXXXXX", path[64];
	int i, r, inorder = 1, got = 0, foreign, extra;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(path, sizeof(path), "%s/q", dir);
	if ((sp = spool_open(path, SPOOL_OPEN_CREATE)) == NULL)
		die(path);
	fill(sp, want, NMSG);
	/* never candidates: delayed, foreign, a directory with a good name */
	create(sp, "1600000000.000000.1_1.delayed,d=4000000000");
	create(sp, "1600000000.000000.1_2.x,p=0,d=4000000000");
	create(sp, "0000000000.000000.junk name");
	create(sp, "00.bad");
	if (mkdirat(spool_dirfd(sp, SPOOL_NEW), "1500000000.000000.1_3.dir",
	    0755) == -1)
		die("mkdirat");

	for (i = 0; i < NMSG; i++) {
		if ((r = spool_claim(sp, &opt, &m)) != 1)
			break;
		if (m.n.idlen != want[i].idlen ||
		    memcmp(m.n.name, want[i].name, m.n.idlen) != 0) {
			if (inorder)
				printf("# claim %d: got %s, want %s\n", i,
				    m.n.name, want[i].name);
			inorder = 0;
		}
		if (spool_ack(sp, m.n.name) == -1)
			die("spool_ack");
		got++;
	}
	ok(got == NMSG, "every ready message claimed, past the candidate limits");
	ok(inorder, "claims in (priority, enqueue time) order throughout");
	extra = spool_claim(sp, &opt, &m);
	ok(extra == 0, "then nothing: delayed and foreign entries stay");
	foreign = faccessat(spool_dirfd(sp, SPOOL_NEW), "00.bad", F_OK, 0) ==
	    0 && faccessat(spool_dirfd(sp, SPOOL_NEW),
	    "1600000000.000000.1_1.delayed,d=4000000000", F_OK, 0) == 0;
	ok(foreign, "they are still in new/");

	/* a second round while others arrive between claims */
	fill(sp, want, NMSG / 2);
	for (i = 0, got = 0, inorder = 1; i < NMSG / 2; i++) {
		if (spool_claim(sp, &opt, &m) != 1)
			break;
		if (memcmp(m.n.name, want[i].name, m.n.idlen) != 0)
			inorder = 0;
		if (spool_ack(sp, m.n.name) == -1)
			die("spool_ack");
		got++;
	}
	ok(got == NMSG / 2 && inorder,
	    "a refilled queue drains in order through the same handle");
	spool_close(sp);
	arrivals(path);
	printf("1..%d\n", ntest);
	return nfail != 0;
}
