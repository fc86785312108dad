#!/usr/bin/env bats
# The integration examples of q(1): systemd units and crontab lines, taken
# from the page itself so that the page cannot drift from what works.

load helper

# Write each unit file that q.1 shows (the literal block after its path).
units() {
	awk '
	/^\.Pa \/etc\/systemd\/system\// { n = $2; sub(".*/", "", n); want = 1; next }
	want && /^\.Bd -literal/ { out = dir "/" n; want = 0; printf "" > out; next }
	out != "" && /^\.Ed/ { close(out); out = ""; next }
	out != "" { gsub(/\\e/, "\\"); print >> out }
	' dir="$1" "$ROOT/man/q.1"
}

@test "the systemd units in q(1) pass systemd-analyze verify" {
	command -v systemd-analyze >/dev/null || skip "needs systemd-analyze"
	dir="$BATS_TEST_TMPDIR/units"
	mkdir -p "$dir"
	units "$dir"
	assert_file_exists "$dir/q-work@.service"
	assert_file_exists "$dir/q-sweep.service"
	assert_file_exists "$dir/q-sweep.timer"
	# the paths of this machine; the user must exist for verify
	sed -i -e "s|/usr/local/bin/q |$ROOT/q |" \
		-e 's|/usr/local/bin/process-job|/bin/cat|' \
		-e "s/^User=q\$/User=$(id -un)/" "$dir"/*
	cp "$dir/q-work@.service" "$dir/q-work@jobs.service"
	run systemd-analyze verify --man=no "$dir/q-work@jobs.service" \
		"$dir/q-sweep.service" "$dir/q-sweep.timer"
	assert_success
	assert_output ""
}

@test "the crontab lines in q(1) run" {
	mapfile -t lines < <(grep -E '^\*/[0-9]+ ' "$ROOT/man/q.1")
	[ "${#lines[@]}" -ge 2 ]
	putn jobs 3
	for line in "${lines[@]}"; do
		cmd=$(cut -d' ' -f6- <<<"$line")
		cmd=${cmd//\/usr\/local\/bin\/process-job/cat}
		run -0 sh -c "$cmd"
	done
	assert_equal "$(count jobs done)" 3
	assert_equal "$(count jobs new)" 0
}
