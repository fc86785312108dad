#!/usr/bin/env bats
# Torture: producers putting through libspool, workers killed with SIGKILL
# at random moments and started again, a sweeper in a loop, all on one
# queue; then nothing may be lost, nothing may be in two states, and every
# duplicate must come from a killed worker.  The driver is tests/torture.c,
# built here against libspool.a.

load helper

build_torture() {
	local flags=()
	command -v cc >/dev/null || skip "needs a C compiler"
	pkg-config --exists libbsd-overlay libmd 2>/dev/null ||
		skip "needs pkg-config and libbsd-dev"
	[ -f "$ROOT/libspool.a" ] || skip "libspool.a is not built"
	# a library built with sanitizers (make check-asan) needs them too
	# (and runs about five times slower: the torture makes a third as many
	# messages there, so that it ends within its time limit)
	SCALE=3
	if nm "$ROOT/libspool.a" 2>/dev/null | grep -q __asan_report; then
		flags=("-fsanitize=address,undefined")
		SCALE=1
	fi
	# on the fallback build the producers' puts take the fallback too:
	# its io.o, linked before libspool.a, replaces the library's
	if is_fallback; then
		flags+=("$ROOT/tests/fallback/io.o")
	fi
	# shellcheck disable=SC2046
	run cc -O2 -I"$ROOT/libspool" \
		-o "$BATS_TEST_TMPDIR/torture" "$ROOT/tests/torture.c" \
		"${flags[@]}" "$ROOT/libspool.a" \
		$(pkg-config --libs libbsd-overlay libmd)
	assert_success
	# the q under test (tests/run may run the fallback build), as it is now
	cp -- "$(command -v q)" "$BATS_TEST_TMPDIR/q"
}

# Run the driver with options "$@"; sets status and output, and the
# figures PUT PROCESSED RECORDS DUPS KILLED.
torture() {
	local dir="$BATS_TEST_TMPDIR/run" line
	mkdir -p "$dir"
	run "$BATS_TEST_TMPDIR/torture" "$@" "$BATS_TEST_TMPDIR/q" \
		"$QDIR/tortured" "$dir"
	echo "$output"
	if [ -s "$dir/work.err" ] || [ -s "$dir/sweep.err" ]; then
		echo "stderr of q work and q sweep:"
		head -20 "$dir/work.err" "$dir/sweep.err" 2>/dev/null
	fi
	line=$(grep '^put ' <<<"$output") || return 1
	# the figures, for the log
	echo "# $line" >&3
	[[ $line =~ ^put\ ([0-9]+),\ processed\ ([0-9]+),\ records\ ([0-9]+),\ duplicates\ ([0-9]+),\ workers\ killed\ ([0-9]+), ]] ||
		return 1
	PUT=${BASH_REMATCH[1]}
	PROCESSED=${BASH_REMATCH[2]}
	RECORDS=${BASH_REMATCH[3]}
	DUPS=${BASH_REMATCH[4]}
	KILLED=${BASH_REMATCH[5]}
}

@test "torture: 4 producers, 3 workers killed at random and restarted, a sweeper: nothing lost, nothing twice in a state" {
	build_torture
	torture -P 4 -N $((300 * SCALE)) -W 3 -K 150 -T 60
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = ok ]
	[ "$PUT" -eq $((1200 * SCALE)) ]
	[ "$PROCESSED" -eq $((1200 * SCALE)) ]
	[ "$RECORDS" -eq $((PROCESSED + DUPS)) ]
	# the kills did happen, and the queue ends with all of it in done/
	[ "$KILLED" -gt 0 ]
	[ "$(count tortured done)" -eq $((1200 * SCALE)) ]
	[ "$(count tortured new)" -eq 0 ]
	[ "$(count tortured cur)" -eq 0 ]
	[ "$(count tortured tmp)" -eq 0 ]
	[ "$(count tortured failed)" -eq 0 ]
}

@test "torture without kills: every message processed exactly once" {
	build_torture
	torture -P 3 -N 400 -W 3 -K 0 -T 60
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = ok ]
	[ "$PUT" -eq 1200 ]
	[ "$PROCESSED" -eq 1200 ]
	[ "$KILLED" -eq 0 ]
	[ "$DUPS" -eq 0 ]
	[ "$RECORDS" -eq 1200 ]
	[ "$(count tortured done)" -eq 1200 ]
}
