/*
 * beat.c - heartbeats: what a worker writes into its liveness lock file
 * (live.c) at each claim and renewal, and how a sweeper reads it.
 *
 * A beat is one line, rewritten in place:
 *
 *	WALL MONO LEASE BOOT MACHINE
 *
 * the worker's wall clock (seconds), its CLOCK_MONOTONIC (ms) and its
 * lease (seconds), zero-padded to fixed widths, then the kernel's boot ID
 * and the machine ID ("-" padded when there is none).  A q before 0.4
 * wrote the first three only; such a beat is read without the IDs.  A
 * sweeper reads it twice and trusts it only when both reads agree, since
 * the worker may be rewriting it.
 *
 * The clocks let a sweeper judge a renewing worker's leases by the
 * worker's own wall clock (its monotonic clock cannot be stepped).  The
 * IDs tell this machine from another that uses the same node name: two
 * machines share neither locks nor monotonic clocks, so a beat of another
 * boot that is still fresh makes a free lock prove nothing (spool__twin).
 * A machine that rebooted keeps its machine ID, and its beats from before
 * the boot are older than the boot.
 */
#include <sys/syscall.h>

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

#define BEAT_LEN	53	/* "%020lld %020lld %010lld\n" */
#define BEAT_IDS	(BEAT_LEN + 1 + SPOOL_BOOT_LEN + 1 + SPOOL_MACHINE_LEN)
				/* the same, " BOOT MACHINE" before the \n */
#define BEAT_SLACK	2	/* seconds a heartbeat may be late */

/*
 * CLOCK_MONOTONIC straight from the kernel: a preloaded library that fakes
 * the time of day (faketime) fakes the libc call, never this.
 */
long long
spool__mono_ms(void)
{
	struct timespec ts;

	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) == -1)
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Read an ID of len characters (hex digits and dashes) and a newline from
 * path into id; leave it "" if there is none.
 */
static void
readid(const char *path, char *id, size_t len)
{
	char buf[64];
	ssize_t n;
	size_t i;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf));
	(void)close(fd);
	if (n != (ssize_t)len + 1 || buf[len] != '\n')
		return;
	for (i = 0; i < len; i++)
		if (buf[i] != '-' && !isxdigit((unsigned char)buf[i]))
			return;
	memcpy(id, buf, len);
	id[len] = '\0';
}

/*
 * The kernel's boot ID (a UUID, new at each boot, another on each
 * machine) and the machine ID (systemd's, the same at each boot), read
 * once; "" where there is none.
 */
const char *
spool__boot(void)
{
	static char boot[SPOOL_BOOT_LEN + 1];
	static int asked;

	if (!asked)
		readid("/proc/sys/kernel/random/boot_id", boot, SPOOL_BOOT_LEN);
	asked = 1;
	return boot;
}

const char *
spool__machine(void)
{
	static char machine[SPOOL_MACHINE_LEN + 1];
	static int asked;

	if (!asked)
		readid("/etc/machine-id", machine, SPOOL_MACHINE_LEN);
	asked = 1;
	return machine;
}

void
spool__beat(struct spool *sp, long long lease, long long mono)
{
	char buf[BEAT_IDS + 1];
	const char *boot, *machine;
	long long now = mono != 0 ? mono : spool__mono_ms();
	int n;

	if (sp->lockfd == -1 || !sp->lockrw || sp->lockpid != spool__pid() ||
	    (sp->beatms != 0 && now - sp->beatms < 1000))
		return;
	boot = spool__boot();
	machine = spool__machine();
	if (boot[0] == '\0')	/* nothing to tell machines apart by */
		n = snprintf(buf, sizeof(buf), "%020lld %020lld %010lld\n",
		    (long long)spool__now(), now, lease);
	else
		n = snprintf(buf, sizeof(buf), "%020lld %020lld %010lld %s "
		    "%-*s\n", (long long)spool__now(), now, lease, boot,
		    SPOOL_MACHINE_LEN, machine[0] != '\0' ? machine : "-");
	if (pwrite(sp->lockfd, buf, (size_t)n, 0) == n)
		sp->beatms = now;
}

/*
 * Read a heartbeat; b->mono is 0 when there is none (or a torn one), and
 * b->boot "" when it does not say its machine (a q before 0.4).
 */
void
spool__readbeat(int fd, struct spool_beat *b)
{
	char x[BEAT_IDS + 1], y[BEAT_IDS + 1];
	const char *errstr;
	long long v[3];
	ssize_t n;
	int i;

	memset(b, 0, sizeof(*b));
	if ((n = pread(fd, x, BEAT_IDS, 0)) < BEAT_LEN ||
	    pread(fd, y, (size_t)n, 0) != n || memcmp(x, y, (size_t)n) != 0 ||
	    x[20] != ' ' || x[41] != ' ')
		return;
	if (x[52] == ' ' && n == BEAT_IDS && x[BEAT_IDS - 1] == '\n' &&
	    x[53 + SPOOL_BOOT_LEN] == ' ') {
		memcpy(b->boot, x + 53, SPOOL_BOOT_LEN);
		if (x[54 + SPOOL_BOOT_LEN] != '-')
			memcpy(b->machine, x + 54 + SPOOL_BOOT_LEN,
			    SPOOL_MACHINE_LEN);
	} else if (x[52] != '\n')
		return;
	x[20] = x[41] = x[52] = '\0';
	for (i = 0; i < 3; i++) {
		v[i] = strtonum(x + 21 * i, 0, LLONG_MAX, &errstr);
		if (errstr != NULL)
			return;
	}
	b->wall = (time_t)v[0];
	b->mono = v[1];
	b->lease = v[2];
}

/*
 * Is the beat b of a live process on another machine that uses our node
 * name?  Its boot ID is another, and it was renewing a lease that still
 * runs (so a lock we could take proves nothing: ours are not its locks),
 * unless its machine ID is ours and it beat before this boot: then it is
 * this machine before a reboot, and dead.
 */
int
spool__twin(long long skew, const struct spool_beat *b)
{
	struct timespec up;
	time_t now = spool__now();

	if (b->boot[0] == '\0' || spool__boot()[0] == '\0' ||
	    strcmp(b->boot, spool__boot()) == 0 ||
	    b->wall + b->lease + BEAT_SLACK + skew < now)
		return 0;
	if (b->machine[0] != '\0' &&
	    strcmp(b->machine, spool__machine()) == 0 &&
	    syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &up) == 0 &&
	    b->wall + skew < now - up.tv_sec)
		return 0;
	return 1;
}

/*
 * Is the worker of beat b still renewing, by the monotonic clock?  Then
 * its leases are judged by its own wall clock at the beat.
 */
int
spool__renewing(const struct spool_beat *b)
{
	return b->mono != 0 &&
	    spool__mono_ms() <= b->mono + (b->lease + BEAT_SLACK) * 1000;
}
