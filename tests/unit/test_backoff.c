/*
 * test_backoff.c - unit tests of spool_backoff() against its documented
 * bounds, as TAP.
 *
 * libspool(3) and q(1): the delay before the next try of a message that
 * failed on its attempt-th claim is the queue's backoff setting doubled
 * for each attempt before this one, capped at backoff-max, then reduced at
 * random by up to a half.  So for B = min(backoff * 2^(attempt - 1),
 * backoff-max) every delay lies in [B - B/2, B]; q(1)'s own example, with
 * the defaults, is 5 to 10 seconds after the first claim and 20 to 40
 * after the third.  Each case draws many delays, so that the jitter shows
 * its whole range, and a delay doubled once too often or too seldom falls
 * out of the bounds.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"

#define DRAWS	2000

static int ntest, nfail;
static char setting[64];	/* the settings under test, for the names */

static void
ok(int cond, const char *what)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s: %s\n", cond ? "" : "not ", ntest, setting, what);
}

static void
die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Set the queue's backoff and backoff-max (as q config would). */
static void
configure(struct spool *sp, const char *backoff, const char *max)
{
	if (spool_config_set(sp, "backoff", backoff) == -1)
		die(backoff);
	if (spool_config_set(sp, "backoff-max", max) == -1)
		die(max);
	snprintf(setting, sizeof(setting), "backoff %s, backoff-max %s",
	    backoff, max);
}

/*
 * Write the config file by hand, as a person may, with what q config
 * refuses (a backoff above backoff-max), and open the queue again.
 */
static void
handwrite(struct spool **spp, const char *path, const char *backoff,
    const char *max)
{
	char file[128];
	FILE *f;

	snprintf(file, sizeof(file), "%s/config", path);
	if ((f = fopen(file, "w")) == NULL)
		die(file);
	fprintf(f, "backoff = %s\nbackoff-max = %s\n", backoff, max);
	if (fclose(f) == EOF)
		die(file);
	spool_close(*spp);
	if ((*spp = spool_open(path, 0)) == NULL)
		die(path);
	snprintf(setting, sizeof(setting), "backoff %s, backoff-max %s",
	    backoff, max);
}

/*
 * Draw DRAWS delays for attempt and check each against [want - want/2,
 * want]; the smallest and the largest drawn go to *lo and *hi.
 */
static int
draws(const struct spool *sp, unsigned attempt, long long want,
    long long *lo, long long *hi)
{
	long long d;
	int i, inside = 1;

	*lo = LLONG_MAX;
	*hi = LLONG_MIN;
	for (i = 0; i < DRAWS; i++) {
		d = spool_backoff(sp, attempt);
		if (d < want - want / 2 || d > want) {
			if (inside)
				printf("# attempt %u: delay %lld outside "
				    "[%lld, %lld]\n", attempt, d,
				    want - want / 2, want);
			inside = 0;
		}
		if (d < *lo)
			*lo = d;
		if (d > *hi)
			*hi = d;
	}
	return inside;
}

/* Every delay of attempt lies in the bounds of want. */
static void
bounds(const struct spool *sp, unsigned attempt, long long want)
{
	long long lo, hi;
	char what[128];

	snprintf(what, sizeof(what), "attempt %u: every delay in "
	    "[%lld, %lld]", attempt, want - want / 2, want);
	ok(draws(sp, attempt, want, &lo, &hi), what);
}

/* As bounds(), and the jitter reaches both ends (for a small want). */
static void
bounds_reached(const struct spool *sp, unsigned attempt, long long want)
{
	long long lo, hi;
	char what[128];
	int inside;

	inside = draws(sp, attempt, want, &lo, &hi);
	snprintf(what, sizeof(what), "attempt %u: delays from %lld to %lld, "
	    "both reached", attempt, want - want / 2, want);
	if (lo != want - want / 2 || hi != want)
		printf("# attempt %u: drawn %lld to %lld\n", attempt, lo, hi);
	ok(inside && lo == want - want / 2 && hi == want, what);
}

/* Remove the directory path and everything in it. */
static void
rmtree(const char *path)
{
	char sub[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	if ((d = opendir(path)) == NULL)
		die(path);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (lstat(sub, &sb) == -1)
			die(sub);
		if (S_ISDIR(sb.st_mode))
			rmtree(sub);
		else if (unlink(sub) == -1)
			die(sub);
	}
	(void)closedir(d);
	if (rmdir(path) == -1)
		die(path);
}

int
main(void)
{
	struct spool *sp;
	char dir[] = "/tmp/test_backoff.XXXXXX", path[64];
	long long lo, hi, want;
	unsigned a;
	int inside;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(path, sizeof(path), "%s/q", dir);
	if ((sp = spool_open(path, SPOOL_OPEN_CREATE)) == NULL)
		die(path);

	/* the defaults, 10s doubling up to 1h: q(1)'s example */
	strlcpy(setting, "defaults", sizeof(setting));
	ok(spool_config(sp)->backoff == 10 &&
	    spool_config(sp)->backoff_max == 3600,
	    "backoff 10s, backoff-max 1h");
	bounds_reached(sp, 1, 10);
	bounds_reached(sp, 2, 20);
	bounds_reached(sp, 3, 40);
	for (a = 4, want = 80; a <= 40; a++, want *= 2) {
		if (want > 3600)
			want = 3600;
		bounds(sp, a, want);
	}
	/* a long delay is shortened over its whole half, not by a little */
	inside = draws(sp, 20, 3600, &lo, &hi);
	printf("# attempt 20: drawn %lld to %lld\n", lo, hi);
	ok(inside && lo < 2400 && hi > 3000,
	    "attempt 20: delays spread over [1800, 3600]");
	/* however many attempts: the cap holds, nothing overflows */
	bounds(sp, 1000, 3600);
	bounds(sp, UINT_MAX, 3600);

	/* a cap that falls between two doublings */
	configure(sp, "10s", "25s");
	bounds_reached(sp, 1, 10);
	bounds_reached(sp, 2, 20);
	bounds_reached(sp, 3, 25);
	bounds_reached(sp, 4, 25);

	/* a first delay above the cap (in a config written by hand) too */
	handwrite(&sp, path, "100s", "30s");
	bounds_reached(sp, 1, 30);
	bounds_reached(sp, 2, 30);

	/* one second is not shortened; two become one or two */
	configure(sp, "1s", "1h");	/* backoff first: max is 30s */
	bounds_reached(sp, 1, 1);
	bounds_reached(sp, 2, 2);
	bounds_reached(sp, 3, 4);

	/* an odd delay is shortened by at most its rounded-down half */
	configure(sp, "5s", "1h");
	bounds_reached(sp, 1, 5);
	bounds_reached(sp, 2, 10);

	/* no backoff at all */
	configure(sp, "0", "1h");
	bounds(sp, 1, 0);
	bounds(sp, 7, 0);
	handwrite(&sp, path, "10s", "0");
	bounds(sp, 1, 0);
	bounds(sp, 3, 0);

	spool_close(sp);
	rmtree(dir);
	printf("1..%d\n", ntest);
	return nfail != 0;
}
