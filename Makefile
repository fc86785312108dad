# q - a command-line spool queue.  See README.md.

VERSION = 0.4.0

PREFIX = /usr/local
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib
INCDIR = $(PREFIX)/include
MANDIR = $(PREFIX)/share/man
PKGCONFIGDIR = $(LIBDIR)/pkgconfig
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(PREFIX)/share/fish/vendor_completions.d

CC = cc
CFLAGS = -O2 -g
LDFLAGS =
STATIC = -static
BSD_CFLAGS = `pkg-config --cflags libbsd-overlay`
BSD_LIBS = `pkg-config --libs libbsd-overlay libmd`
WARN = -std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wmissing-prototypes
QCPPFLAGS = -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-DLIBBSD_OPENBSD_VIS -Ilibspool
QCFLAGS = $(WARN) $(QCPPFLAGS) $(BSD_CFLAGS) $(CFLAGS)

HDR = libspool/spool.h libspool/internal.h libspool/banned.h cmd/cmd.h \
	cmd/work.h

LIBOBJ = libspool/name.o libspool/io.o libspool/queue.o libspool/put.o \
	libspool/claim.o libspool/move.o libspool/sweep.o libspool/admin.o \
	libspool/keys.o libspool/keyed.o libspool/topic.o libspool/live.o libspool/find.o \
	libspool/each.o libspool/arrive.o libspool/cand.o \
	libspool/config.o libspool/why.o libspool/sort.o libspool/drop.o \
	libspool/subs.o libspool/mend.o libspool/beat.o
LIBPIC = $(LIBOBJ:.o=.pic.o)

CMDOBJ = cmd/q.o cmd/util.o cmd/put.o cmd/take.o cmd/cat.o cmd/ack.o \
	cmd/release.o cmd/fail.o cmd/touch.o cmd/sweep.o cmd/config.o \
	cmd/work.o cmd/wait.o cmd/ls.o cmd/stat.o cmd/retry.o \
	cmd/replay.o cmd/purge.o cmd/rm.o cmd/pause.o \
	cmd/sub.o cmd/unsub.o cmd/job.o cmd/spawn.o cmd/batch.o cmd/tag.o cmd/qdir.o \
	cmd/drop.o

UNIT = tests/unit/test_name tests/unit/test_claim tests/unit/test_backoff

# every name libspool(3) documents gets a link to it: man spool_claim
MANLINKS = `sed -n 's/^\.Nm \(spool_[a-z_]*\).*/\1/p' man/libspool.3`

all: q libspool.a libspool.so.2

.SUFFIXES: .c .o .pic.o

.c.o:
	$(CC) $(QCFLAGS) -c -o $@ $<

.c.pic.o:
	$(CC) $(QCFLAGS) -fPIC -c -o $@ $<

$(LIBOBJ) $(LIBPIC) $(CMDOBJ): $(HDR) Makefile

libspool.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $(LIBOBJ)

libspool.so.2: $(LIBPIC)
	$(CC) -shared -Wl,-soname,libspool.so.2 $(CFLAGS) $(LDFLAGS) \
		-o $@ $(LIBPIC) $(BSD_LIBS)
	ln -sf libspool.so.2 libspool.so

# q is linked statically: it runs once per message, and every dynamic
# library costs start-up time (STATIC= links libbsd and libc dynamically;
# the sanitizers need that).
q: $(CMDOBJ) libspool.a
	$(CC) $(CFLAGS) $(LDFLAGS) $(STATIC) -o $@ $(CMDOBJ) libspool.a \
		`pkg-config $(STATIC:-static=--static) --libs libbsd-overlay libmd`

# q as on NFS or FUSE, where renameat2 gives EINVAL: every move takes the
# linkat + unlinkat fallback (see io.c).  tests/run runs the protocol tests
# on it too.  Only io.c is compiled again, into tests/fallback/.
FALLBACKOBJ = $(LIBOBJ:libspool/io.o=tests/fallback/io.o)

tests/fallback/io.o: libspool/io.c $(HDR) Makefile
	mkdir -p tests/fallback
	$(CC) $(QCFLAGS) -DSPOOL_TEST_NORENAME2 -c -o $@ libspool/io.c

tests/fallback/q: $(CMDOBJ) $(FALLBACKOBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $(STATIC) -o $@ $(CMDOBJ) $(FALLBACKOBJ) \
		`pkg-config $(STATIC:-static=--static) --libs libbsd-overlay libmd`

tests/unit/test_name: tests/unit/test_name.c libspool.a $(HDR)
	$(CC) $(QCFLAGS) $(LDFLAGS) -o $@ tests/unit/test_name.c \
		libspool.a $(BSD_LIBS)

tests/unit/test_backoff: tests/unit/test_backoff.c libspool.a $(HDR)
	$(CC) $(QCFLAGS) $(LDFLAGS) -o $@ tests/unit/test_backoff.c \
		libspool.a $(BSD_LIBS)

# the claim code with limits small enough for a test to overflow them
tests/unit/test_claim: tests/unit/test_claim.c $(LIBOBJ:.o=.c) $(HDR)
	$(CC) $(QCFLAGS) -DCAND_MAX=16 -DNAMES_MAX=800 $(LDFLAGS) -o $@ \
		tests/unit/test_claim.c $(LIBOBJ:.o=.c) $(BSD_LIBS)

libspool.pc: Makefile
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' \
		'includedir=$(INCDIR)' '' 'Name: libspool' \
		'Description: spool queue library behind q(1)' \
		'Version: $(VERSION)' 'Requires.private: libbsd libmd' \
		'Libs: -L$${libdir} -lspool' 'Cflags: -I$${includedir}' > $@

test check: all $(UNIT) tests/fallback/q
	tests/run

demo: all
	tests/demo

# messages per second and per-message costs against a plain C baseline
bench: all
	tests/bench/run

# Plants each fault of tests/mutate/mutants in a scratch copy and runs the
# tests against it; not part of check (about 15 minutes).
mutate:
	tests/mutate/run -j 2

check-asan:
	$(MAKE) clean
	ASAN_OPTIONS=verify_asan_link_order=0 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	$(MAKE) CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
		LDFLAGS='-fsanitize=address,undefined' STATIC= check

lint:
	mandoc -Tlint -Wwarning man/q.1 man/q.5 man/libspool.3 man/q-bridges.7
	shellcheck -s bash completions/q.bash tests/run .ci/run
	shellcheck -s sh tests/deps tests/demo
	bash -n completions/q.bash
	zsh -n completions/_q
	fish --no-execute completions/q.fish

install: all libspool.pc
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
		$(DESTDIR)$(FISHCOMPDIR)
	install -m 755 q $(DESTDIR)$(BINDIR)/q
	install -m 644 libspool.a $(DESTDIR)$(LIBDIR)/libspool.a
	install -m 755 libspool.so.2 $(DESTDIR)$(LIBDIR)/libspool.so.2
	ln -sf libspool.so.2 $(DESTDIR)$(LIBDIR)/libspool.so
	install -m 644 libspool/spool.h $(DESTDIR)$(INCDIR)/spool.h
	install -m 644 libspool.pc $(DESTDIR)$(PKGCONFIGDIR)/libspool.pc
	install -m 644 man/q.1 $(DESTDIR)$(MANDIR)/man1/q.1
	install -m 644 man/libspool.3 $(DESTDIR)$(MANDIR)/man3/libspool.3
	for f in $(MANLINKS); do \
		ln -sf libspool.3 $(DESTDIR)$(MANDIR)/man3/$$f.3; \
	done
	install -m 644 man/q.5 $(DESTDIR)$(MANDIR)/man5/q.5
	install -m 644 man/q-bridges.7 $(DESTDIR)$(MANDIR)/man7/q-bridges.7
	install -m 644 completions/q.bash $(DESTDIR)$(BASHCOMPDIR)/q
	install -m 644 completions/_q $(DESTDIR)$(ZSHCOMPDIR)/_q
	install -m 644 completions/q.fish $(DESTDIR)$(FISHCOMPDIR)/q.fish
	rm -f libspool.pc

uninstall:
	for f in $(MANLINKS); do rm -f $(DESTDIR)$(MANDIR)/man3/$$f.3; done
	rm -f $(DESTDIR)$(BINDIR)/q $(DESTDIR)$(LIBDIR)/libspool.a \
		$(DESTDIR)$(LIBDIR)/libspool.so.2 $(DESTDIR)$(LIBDIR)/libspool.so \
		$(DESTDIR)$(INCDIR)/spool.h $(DESTDIR)$(PKGCONFIGDIR)/libspool.pc \
		$(DESTDIR)$(MANDIR)/man1/q.1 $(DESTDIR)$(MANDIR)/man3/libspool.3 \
		$(DESTDIR)$(MANDIR)/man5/q.5 $(DESTDIR)$(MANDIR)/man7/q-bridges.7 \
		$(DESTDIR)$(BASHCOMPDIR)/q \
		$(DESTDIR)$(ZSHCOMPDIR)/_q $(DESTDIR)$(FISHCOMPDIR)/q.fish

clean:
	rm -f q libspool.a libspool.so libspool.so.2 libspool.pc \
		$(LIBOBJ) $(LIBPIC) $(CMDOBJ) $(UNIT) \
		tests/fallback/q tests/fallback/io.o

.PHONY: all demo bench mutate test check check-asan lint install uninstall clean
