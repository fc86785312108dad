/*
 * test_name.c - unit tests of the name and duration parsers, as TAP.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "spool.h"

static int ntest, nfail;

static void
ok(int cond, const char *what, const char *arg)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s: \"", cond ? "" : "not ", ntest, what);
	for (; *arg != '\0'; arg++)
		if (*arg >= 0x20 && *arg < 0x7f && *arg != '"')
			putchar(*arg);
		else
			printf("\\x%02x", (unsigned char)*arg);
	printf("\"\n");
}

static const char *const good[] = {
	"1764491333.123456.4242_0.web1",
	"1764491333.123456.4242_0.web1,a=2,d=1764491400",
	"1764491333.123456.4242_0.web1,a=3,l=1764491633,w=5120@worker2",
	"1764491333.123456.4242_0.web1,p=0",
	"1764491333.123456.4242_0.web1,p=9,a=1,d=1,l=2,w=1@h",
	"0000000000.000000.0_0.a",
	"9999999999.999999.2147483647_18446744073709551615.a-b.c",
	"1764491333.123456.1_1.web1,a=2147483647",
	"1764491333.123456.4242_0.web1,a=3,b=3",
	"1764491333.123456.4242_0.web1,p=1,a=4,b=3,l=2,w=1@h",
};

static const char *const bad[] = {
	"",
	"1764491333.123456.4242_0.web1,b=1",		/* b= past a= */
	"1764491333.123456.4242_0.web1,a=2,b=3",
	"1764491333.123456.4242_0.web1,b=1,a=2",	/* out of order */
	"1764491333.123456.4242_0.web1,a=2,d=5,b=1",
	".",
	"..",
	"../../etc/passwd",
	"/etc/passwd",
	"1764491333.123456.4242_0.web1/x",
	"1764491333.123456.4242_0.web/1",
	"176449133.123456.4242_0.web1",		/* 9-digit SEC */
	"17644913330.123456.4242_0.web1",	/* 11-digit SEC */
	"1764491333.12345.4242_0.web1",		/* 5-digit USEC */
	"1764491333.123456.04242_0.web1",	/* leading zero */
	"1764491333.123456.4242_00.web1",
	"1764491333.123456.4242_0.",		/* empty host */
	"1764491333.123456.4242_0.web_1",
	"1764491333.123456.4242_0.web 1",
	"1764491333.123456.4242_0.web1\n",
	"1764491333.123456.4242_0.web1\x1b[2J",
	"1764491333.123456.4242_0.web1:x",
	"1764491333.123456.-4242_0.web1",
	"1764491333.123456.+4242_0.web1",
	"1764491333.123456.2147483648_0.web1",	/* PID overflows */
	"1764491333.123456.1_18446744073709551616.a",	/* SEQ overflows */
	"1764491333.123456.1_99999999999999999999999.a",
	"1764491333.123456.4242_0.web1,",
	"1764491333.123456.4242_0.web1,p=",
	"1764491333.123456.4242_0.web1,p=10",
	"1764491333.123456.4242_0.web1,p=-1",
	"1764491333.123456.4242_0.web1,a=2,a=3",	/* repeated */
	"1764491333.123456.4242_0.web1,a=2,p=1",	/* out of order */
	"1764491333.123456.4242_0.web1,l=1,d=1",
	"1764491333.123456.4242_0.web1,x=1",
	"1764491333.123456.4242_0.web1,a=2147483648",
	"1764491333.123456.4242_0.web1,a=99999999999999999999",
	"1764491333.123456.4242_0.web1,a=01",
	"1764491333.123456.4242_0.web1,l=999999999999",
	"1764491333.123456.4242_0.web1,w=5120",
	"1764491333.123456.4242_0.web1,w=@h",
	"1764491333.123456.4242_0.web1,w=1@",
	"1764491333.123456.4242_0.web1,w=1@h/x",
	"1764491333.123456.4242_0.web1,a=1 ",
};

static void
test_names(void)
{
	struct spool_name n;
	char longname[301];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int r = spool_name_parse(good[i], &n);
		char canon[SPOOL_NAME_MAX + 1];

		ok(r == 0, "valid name parses", good[i]);
		if (r != 0)
			continue;
		/* formatting a parsed name gives it back */
		memcpy(canon, n.name, sizeof(canon));
		ok(spool_name_format(&n) == 0 &&
		    (strcmp(n.name, canon) == 0 ||
		    strstr(canon, ",p=5") != NULL), "name round-trips",
		    good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(spool_name_parse(bad[i], &n) == -1 && errno == EINVAL,
		    "malformed name rejected", bad[i]);

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname, "1764491333.123456.4242_0.", 25);
	ok(spool_name_parse(longname, &n) == -1 && errno == ENAMETOOLONG,
	    "300-byte name rejected", "1764491333.123456.4242_0.aaa...");

	spool_name_parse("1764491333.123456.4242_0.web1,p=1,a=3,d=17,l=42,"
	    "w=5120@worker2", &n);
	ok(n.prio == 1 && n.attempts == 3 && n.due == 17 && n.lease == 42 &&
	    n.wpid == 5120 && strcmp(n.whost, "worker2") == 0 &&
	    n.idlen == 29 && n.sec == 1764491333 && n.usec == 123456,
	    "fields of a full name", n.name);
	spool_name_parse("1764491333.123456.4242_0.web1", &n);
	ok(n.prio == SPOOL_PRIO_DEFAULT && n.attempts == 0 && n.attrs == 0,
	    "defaults of a bare ID", n.name);
	n.attrs |= SPOOL_ATTR_PRIO | SPOOL_ATTR_ATTEMPTS | SPOOL_ATTR_LEASE;
	n.prio = 5;
	n.attempts = 2;
	n.lease = 99;
	ok(spool_name_format(&n) == 0 &&
	    strcmp(n.name, "1764491333.123456.4242_0.web1,a=2,l=99") == 0,
	    "format omits p=5 and orders attributes", n.name);
}

static void
test_durations(void)
{
	static const struct {
		const char	*s;
		long long	 secs;
	} good_d[] = {
		{ "0", 0 }, { "1", 1 }, { "90", 90 }, { "5s", 5 },
		{ "5m", 300 }, { "2h", 7200 }, { "7d", 604800 },
		{ "3650d", 3650LL * 86400 }, { "2w", 1209600 }, { "05", 5 },
		{ "01m", 60 }, { "00", 0 }, { "000007d", 604800 },
	};
	static const char *const bad_d[] = {
		"", "-1", "+1", "1e3", "1 ", " 1", "1x", "1ms", "1.5h", "h",
		"1hh", "0x10", "1W", "w", "1wk", "99999999999999999999",
		"18446744073709551617", "\n",
	};
	static const char *const range_d[] = {
		"3651d", "87601h", "315360001",
	};
	char buf[32];
	long long v;
	size_t i;

	for (i = 0; i < sizeof(good_d) / sizeof(good_d[0]); i++)
		ok(spool_duration_parse(good_d[i].s, &v) == 0 &&
		    v == good_d[i].secs, "duration parses", good_d[i].s);
	for (i = 0; i < sizeof(bad_d) / sizeof(bad_d[0]); i++)
		ok(spool_duration_parse(bad_d[i], &v) == -1 && errno == EINVAL,
		    "malformed duration rejected", bad_d[i]);
	for (i = 0; i < sizeof(range_d) / sizeof(range_d[0]); i++)
		ok(spool_duration_parse(range_d[i], &v) == -1 &&
		    errno == ERANGE, "duration out of range", range_d[i]);
	ok(strcmp(spool_duration_format(300, buf, sizeof(buf)), "5m") == 0,
	    "300 formats as 5m", buf);
	ok(strcmp(spool_duration_format(90, buf, sizeof(buf)), "90s") == 0,
	    "90 formats as 90s", buf);
	ok(strcmp(spool_duration_format(0, buf, sizeof(buf)), "0s") == 0,
	    "0 formats as 0s", buf);
}

static void
test_config(void)
{
	struct spool_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	ok(spool_config_parse(&cfg, "lease", "10m") == 0 && cfg.lease == 600,
	    "config lease", "10m");
	ok(spool_config_parse(&cfg, "lease", "13h") == -1 && errno == ERANGE,
	    "lease above 12h rejected", "13h");
	ok(spool_config_parse(&cfg, "lease", "0") == -1 && errno == ERANGE,
	    "lease 0 rejected", "0");
	ok(spool_config_parse(&cfg, "attempts", "3") == 0 && cfg.attempts == 3,
	    "config attempts", "3");
	ok(spool_config_parse(&cfg, "attempts", "3m") == -1 &&
	    errno == EINVAL, "attempts is a count", "3m");
	ok(spool_config_parse(&cfg, "sync", "2") == -1, "sync is 0 or 1",
	    "2");
	ok(spool_config_parse(&cfg, "colour", "1") == -1 && errno == ENOENT,
	    "unknown key", "colour");
}

/* The reason beside errno: given with the failure, read once. */
static void
test_why(void)
{
	struct spool_config cfg;
	struct spool_name n;
	int e;

	memset(&cfg, 0, sizeof(cfg));
	e = spool_config_parse(&cfg, "colour", "1") == -1 ? errno : 0;
	ok(spool_why(e) == SPOOL_WHY_KEY, "an unknown key says so", "colour");
	ok(spool_why(e) == SPOOL_WHY_SYSTEM, "read once", "colour");
	e = spool_config_parse(&cfg, "attempts", "3m") == -1 ? errno : 0;
	ok(spool_why(e) == SPOOL_WHY_VALUE, "a malformed value", "3m");
	e = spool_config_parse(&cfg, "lease", "13h") == -1 ? errno : 0;
	ok(spool_why(e) == SPOOL_WHY_RANGE, "out of range", "13h");
	(void)spool_config_parse(&cfg, "colour", "1");
	ok(spool_why(EIO) == SPOOL_WHY_SYSTEM,
	    "another errno is not mistaken for it", "EIO");
	ok(spool_ref_parse("/x/y/new/1764491333.123456.42_0.h,a=2", &n) ==
	    0 && n.attempts == 2 && n.idlen == 24, "a path's last part",
	    "/x/y/new/ID,a=2");
	ok(spool_ref_parse("1764491333.123456.42_0.h", &n) == 0,
	    "an ID alone", "ID");
	ok(spool_ref_parse("new/x", &n) == -1 && errno == EINVAL,
	    "a path to no message name", "new/x");
}

int
main(void)
{
	test_names();
	test_durations();
	test_config();
	test_why();
	printf("1..%d\n", ntest);
	return nfail != 0;
}
