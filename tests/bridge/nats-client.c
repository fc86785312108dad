/*
 * nats-client - the NATS JetStream end of the q bridge (tests/bridge/,
 * recipe in q(1) EXAMPLES): publish the messages of a q work batch, or
 * print the messages of a stream as KEY<TAB>BODY records for q put -K.
 *
 *	nats-client pub [-d secs] [-w ms] URL STREAM SUBJECT FILE...
 *	nats-client sub [-0] [-e] [-n count] [-s seq] [-w ms] URL STREAM SUBJECT
 *
 * pub publishes each FILE (the message body is its content) to SUBJECT
 * with the header Nats-Msg-Id set to the matching word of $Q_IDS (same
 * order as the files; no header if Q_IDS is unset), waits for the
 * JetStream acknowledgment of every one, and exits 0 only if all were
 * acknowledged, 75 otherwise.  A stream STREAM is created first if there
 * is none: on disk, taking SUBJECT, deduplicating by Nats-Msg-Id within
 * -d seconds (default 120).  -w is how long to wait for the broker, in
 * milliseconds (default 5000).
 *
 * sub reads STREAM from its start (or from sequence -s) through an
 * ordered consumer filtered by SUBJECT, and prints one record per
 * message: its key (the Nats-Msg-Id header, else the stream sequence), a
 * tab, its body, and a newline unless the body already ends with one.  A
 * body with a newline before its end cannot be a line: sub stops with
 * status 65 (use -0).  With -0 each record ends with a NUL instead (a
 * body holding a NUL stops it).  It runs until killed, or with -e until
 * the end of the stream, or with -n until count messages; it exits 1 if
 * the broker fails it, or if with -e nothing comes for -w milliseconds
 * (default 30000).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>

#define EX_USAGE	64
#define EX_DATAERR	65
#define EX_TEMPFAIL	75

static const char *prog = "nats-client";

static void
usage(void)
{
	fprintf(stderr, "usage: %s pub [-d secs] [-w ms] url stream subject file...\n"
	    "       %s sub [-0] [-e] [-n count] [-s seq] [-w ms] url stream subject\n",
	    prog, prog);
	exit(EX_USAGE);
}

static long long
number(const char *s)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < 0)
		usage();
	return n;
}

static void
complain(const char *what, natsStatus s, jsErrCode jerr)
{
	if (jerr != 0)
		fprintf(stderr, "%s: %s: %s (JetStream error %d)\n", prog, what,
		    natsStatus_GetText(s), (int)jerr);
	else
		fprintf(stderr, "%s: %s: %s\n", prog, what,
		    natsStatus_GetText(s));
}

/* Connect to url, reconnecting or not; NULL (said) if it fails. */
static natsConnection *
dial(const char *url, int reconnect, int64_t wait)
{
	natsOptions *o = NULL;
	natsConnection *nc = NULL;
	natsStatus s;

	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetURL(o, url);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, wait);
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(o, reconnect);
	if (s == NATS_OK)
		s = natsConnection_Connect(&nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK) {
		complain(url, s, 0);
		return NULL;
	}
	return nc;
}

/* The whole content of path into *buf, its length into *len. */
static int
slurp(const char *path, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	ssize_t r;
	char *b, *nb;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	if ((b = malloc(cap)) == NULL)
		goto fail;
	for (;;) {
		if (n == cap) {
			if ((nb = realloc(b, cap *= 2)) == NULL)
				goto fail;
			b = nb;
		}
		if ((r = read(fd, b + n, cap - n)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;
fail:
	free(b);
	close(fd);
	return -1;
}

static atomic_int acked, refused;

static void
onack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	(void)js;
	(void)closure;
	if (pa != NULL && pae == NULL)
		atomic_fetch_add(&acked, 1);
	else {
		atomic_fetch_add(&refused, 1);
		if (pae != NULL)
			complain("publish", pae->Err, pae->ErrCode);
	}
	natsMsg_Destroy(msg);
}

/* Make sure the stream exists: on disk, deduplicating within dup ns. */
static int
ensure(jsCtx *js, const char *stream, const char *subject, int64_t dup)
{
	jsStreamInfo *si = NULL;
	jsStreamConfig cfg;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (s != NATS_NOT_FOUND) {
		complain(stream, s, jerr);
		return -1;
	}
	jsStreamConfig_Init(&cfg);
	cfg.Name = stream;
	cfg.Subjects = &subject;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Duplicates = dup;
	jerr = 0;
	s = js_AddStream(&si, js, &cfg, NULL, &jerr);
	if (s == NATS_OK || jerr == JSStreamNameExistErr) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	complain(stream, s, jerr);
	return -1;
}

static int
pub(int argc, char **argv)
{
	const char *url, *stream, *subject, *env;
	char *ids = NULL, *id, *save = NULL, *buf;
	int64_t dup = 120, wait = 5000;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	jsPubOptions po;
	natsStatus s;
	size_t len;
	int c, i, n, rc = EX_TEMPFAIL;

	while ((c = getopt(argc, argv, "d:w:")) != -1)
		switch (c) {
		case 'd':
			dup = number(optarg);
			break;
		case 'w':
			wait = number(optarg);
			break;
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc < 4)
		usage();
	url = argv[0];
	stream = argv[1];
	subject = argv[2];
	argv += 3;
	n = argc - 3;
	if ((env = getenv("Q_IDS")) != NULL && *env != '\0' &&
	    (ids = strdup(env)) == NULL) {
		perror(prog);
		return EX_TEMPFAIL;
	}

	if ((nc = dial(url, 0, wait)) == NULL)
		goto out;
	jsOptions_Init(&jo);
	jo.Wait = wait;
	jo.PublishAsync.MaxPending = 1000;
	jo.PublishAsync.AckHandler = onack;
	if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK) {
		complain("JetStream", s, 0);
		goto out;
	}
	if (ensure(js, stream, subject, dup * 1000000000) == -1)
		goto out;

	for (i = 0; i < n; i++) {
		id = NULL;
		if (ids != NULL &&
		    (id = strtok_r(i == 0 ? ids : NULL, " ", &save)) == NULL) {
			fprintf(stderr, "%s: fewer IDs in Q_IDS than files\n",
			    prog);
			goto out;
		}
		if (slurp(argv[i], &buf, &len) == -1) {
			fprintf(stderr, "%s: %s: %s\n", prog, argv[i],
			    strerror(errno));
			goto out;
		}
		jsPubOptions_Init(&po);
		po.MsgId = id;
		po.ExpectStream = stream;
		s = js_PublishAsync(js, subject, buf, (int)len, &po);
		free(buf);
		if (s != NATS_OK) {
			complain("publish", s, 0);
			goto out;
		}
	}
	jsPubOptions_Init(&po);
	po.MaxWait = wait;
	if ((s = js_PublishAsyncComplete(js, &po)) != NATS_OK) {
		complain("waiting for acknowledgments", s, 0);
		goto out;
	}
	if (atomic_load(&acked) == n && atomic_load(&refused) == 0)
		rc = 0;
	else
		fprintf(stderr, "%s: %d of %d acknowledged\n", prog,
		    atomic_load(&acked), n);
out:
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	free(ids);
	return rc;
}

/*
 * Records go out in writes of whole records of at most PIPE_BUF bytes,
 * which a pipe takes whole or not at all: killed, sub leaves no part of
 * a record in the pipe (for q put -l, a last line without its newline is
 * a message as it stands).  Only a record longer than PIPE_BUF is written
 * in more than one piece.
 */
static char out[PIPE_BUF];
static size_t outn;

static int
writeall(const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = write(STDOUT_FILENO, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
flushout(void)
{
	size_t n = outn;

	outn = 0;
	return writeall(out, n);
}

/* Add n bytes to the record being built in *rec (of *len, room *cap). */
static int
add(char **rec, size_t *len, size_t *cap, const void *p, size_t n)
{
	char *nr;

	if (*len + n > *cap) {
		while (*len + n > *cap)
			*cap = *cap > 0 ? *cap * 2 : 256;
		if ((nr = realloc(*rec, *cap)) == NULL)
			return -1;
		*rec = nr;
	}
	memcpy(*rec + *len, p, n);
	*len += n;
	return 0;
}

/* Write one record; -1 if it cannot be (said), -2 if stdout fails. */
static int
record(natsMsg *m, const jsMsgMetaData *meta, int nul)
{
	static char *rec;
	static size_t cap;
	const char *key = NULL, *body = natsMsg_GetData(m);
	int blen = natsMsg_GetDataLength(m);
	size_t len = 0, n = blen > 0 ? (size_t)blen : 0;
	char seq[32];

	if (natsMsgHeader_Get(m, "Nats-Msg-Id", &key) != NATS_OK ||
	    key[0] == '\0' || strpbrk(key, "\t\n") != NULL) {
		snprintf(seq, sizeof(seq), "%" PRIu64, meta->Sequence.Stream);
		key = seq;
	}
	if (n > 0 && memchr(body, nul ? '\0' : '\n', nul ? n : n - 1) !=
	    NULL) {
		fprintf(stderr, "%s: message %" PRIu64 " has a %s in its body\n",
		    prog, meta->Sequence.Stream, nul ? "NUL" : "newline");
		return -1;
	}
	if (add(&rec, &len, &cap, key, strlen(key)) == -1 ||
	    add(&rec, &len, &cap, "\t", 1) == -1 ||
	    add(&rec, &len, &cap, body, n) == -1 ||
	    ((nul || n == 0 || body[n - 1] != '\n') &&
	    add(&rec, &len, &cap, nul ? "" : "\n", 1) == -1))
		return -2;
	if (outn + len > sizeof(out) && flushout() == -1)
		return -2;
	if (len > sizeof(out)) {
		if (writeall(rec, len) == -1)
			return -2;
	} else {
		memcpy(out + outn, rec, len);
		outn += len;
	}
	if (meta->NumPending == 0 && flushout() == -1)
		return -2;
	return 0;
}

static int
sub(int argc, char **argv)
{
	const char *url, *stream, *subject;
	long long count = -1;
	uint64_t start = 0, got = 0;
	int64_t wait = 30000;
	int c, nul = 0, toend = 0, r, rc = 1;
	natsConnection *nc = NULL;
	natsSubscription *sb = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsMsgMetaData *meta = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsMsg *m = NULL;
	natsStatus s;

	while ((c = getopt(argc, argv, "0en:s:w:")) != -1)
		switch (c) {
		case '0':
			nul = 1;
			break;
		case 'e':
			toend = 1;
			break;
		case 'n':
			count = number(optarg);
			break;
		case 's':
			start = (uint64_t)number(optarg);
			break;
		case 'w':
			wait = number(optarg);
			break;
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc != 3)
		usage();
	url = argv[0];
	stream = argv[1];
	subject = argv[2];
	if (count == 0)
		return 0;

	if ((nc = dial(url, 1, 5000)) == NULL)
		goto out;
	if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK) {
		complain("JetStream", s, 0);
		goto out;
	}
	if (toend) {
		if ((s = js_GetStreamInfo(&si, js, stream, NULL, &jerr)) !=
		    NATS_OK) {
			complain(stream, s, jerr);
			goto out;
		}
		r = si->State.Msgs == 0 || si->State.LastSeq < start;
		jsStreamInfo_Destroy(si);
		if (r) {
			rc = 0;
			goto out;
		}
	}
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Ordered = true;
	if (start > 0) {
		so.Config.DeliverPolicy = js_DeliverByStartSequence;
		so.Config.OptStartSeq = start;
	} else
		so.Config.DeliverPolicy = js_DeliverAll;
	if ((s = js_SubscribeSync(&sb, js, subject, NULL, &so, &jerr)) !=
	    NATS_OK) {
		complain(subject, s, jerr);
		goto out;
	}
	/* the ordered consumer's flow control bounds what waits here */
	natsSubscription_SetPendingLimits(sb, -1, -1);

	for (;;) {
		s = natsSubscription_NextMsg(&m, sb, toend ? wait : 60000);
		if (s == NATS_TIMEOUT && !toend)
			continue;
		if (s != NATS_OK) {
			complain("next message", s, 0);
			goto out;
		}
		if ((s = natsMsg_GetMetaData(&meta, m)) != NATS_OK) {
			complain("message metadata", s, 0);
			goto out;
		}
		if ((r = record(m, meta, nul)) != 0) {
			if (r == -2)
				perror(prog);
			rc = r == -1 ? EX_DATAERR : 1;
			goto out;
		}
		got++;
		if ((count > 0 && got == (uint64_t)count) ||
		    (toend && meta->NumPending == 0))
			break;
		jsMsgMetaData_Destroy(meta);
		meta = NULL;
		natsMsg_Destroy(m);
		m = NULL;
	}
	rc = flushout() == 0 ? 0 : 1;
	if (rc != 0)
		perror(prog);
out:
	if (outn > 0)
		(void)flushout();	/* the whole records before a failure */
	jsMsgMetaData_Destroy(meta);
	natsMsg_Destroy(m);
	natsSubscription_Destroy(sb);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return rc;
}

int
main(int argc, char **argv)
{
	int rc;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "pub") == 0)
		rc = pub(argc - 1, argv + 1);
	else if (strcmp(argv[1], "sub") == 0)
		rc = sub(argc - 1, argv + 1);
	else
		usage();
	nats_Close();
	return rc;
}
