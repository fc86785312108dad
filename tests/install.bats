#!/usr/bin/env bats
# make install: a staged install works for the command and the library.

load helper

@test "make install into DESTDIR installs everything; pkg-config finds the library" {
	stage="$BATS_TEST_TMPDIR/stage"
	run -0 make -C "$ROOT" install DESTDIR="$stage" PREFIX=/opt/qtest
	for f in bin/q lib/libspool.a lib/libspool.so.2 lib/libspool.so \
	    include/spool.h lib/pkgconfig/libspool.pc share/man/man1/q.1 \
	    share/man/man5/q.5 share/man/man3/libspool.3 \
	    share/man/man7/q-bridges.7 \
	    share/bash-completion/completions/q share/zsh/site-functions/_q \
	    share/fish/vendor_completions.d/q.fish; do
		assert_exists "$stage/opt/qtest/$f"
	done
	assert_file_contains "$stage/opt/qtest/lib/pkgconfig/libspool.pc" '^prefix=/opt/qtest$'
	# man spool_claim finds libspool(3)
	assert_link_exists "$stage/opt/qtest/share/man/man3/spool_claim.3"
	assert_equal "$(readlink "$stage/opt/qtest/share/man/man3/spool_claim.3")" libspool.3
	run -0 "$stage/opt/qtest/bin/q" --version

	cat >"$BATS_TEST_TMPDIR/prog.c" <<'C'
#include <stdio.h>
#include <spool.h>

int
main(int argc, char *argv[])
{
	struct spool *sp;
	struct spool_msg m;
	struct spool_claimopt co = { 60, 0, 0 };
	char id[SPOOL_NAME_MAX + 1];

	if (argc != 2 || (sp = spool_open(argv[1], SPOOL_OPEN_CREATE)) == NULL)
		return 1;
	if (spool_put(sp, NULL, "hello\n", 6, id) == -1)
		return 2;
	if (spool_claim(sp, &co, &m) != 1 || spool_ack(sp, m.n.name) == -1)
		return 3;
	printf("%s\n", id);
	spool_close(sp);
	return 0;
}
C
	export PKG_CONFIG_SYSROOT_DIR="$stage"
	export PKG_CONFIG_PATH="$stage/opt/qtest/lib/pkgconfig"
	flags=$(pkg-config --cflags --libs --static libspool)
	# a library built with sanitizers (make check-asan) needs them too
	if nm "$ROOT/libspool.a" 2>/dev/null | grep -q __asan_report; then
		flags="-fsanitize=address,undefined $flags"
	fi
	# shellcheck disable=SC2086
	run -0 cc -o "$BATS_TEST_TMPDIR/prog" "$BATS_TEST_TMPDIR/prog.c" \
		$flags -Wl,-rpath,"$stage/opt/qtest/lib"
	run -0 "$BATS_TEST_TMPDIR/prog" "$BATS_TEST_TMPDIR/lq"
	assert_file_exists "$BATS_TEST_TMPDIR/lq/done/$output,a=1"

	run -0 make -C "$ROOT" uninstall DESTDIR="$stage" PREFIX=/opt/qtest
	run find "$stage" ! -type d
	assert_output ""
}
