#!/usr/bin/env bats
# q stat --prom: the Prometheus text exposition format, exactly for a known
# queue, with hostile queue names, and read by a real node_exporter
# (Debian's prometheus-node-exporter) through its textfile collector.

load helper
load process

# A queue "jobs" in a known state, with nothing ready (so that the oldest
# ready age is 0 whatever the time), paused:
#   new     1 delayed message, 6 bytes, and a foreign file new/README
#   cur     2 claims, 8 bytes, one with a lease long past
#   done    1, 6 bytes          failed  1, 3 bytes
#   tmp     1 file, 5 bytes
known() {
	local dir t c
	dir=$(qpath jobs)
	q put -m abc jobs >/dev/null
	q take jobs >/dev/null
	q put -m def jobs >/dev/null
	t=$(q take jobs)
	c=$(ls "$dir/cur" | grep -F "${t%,a=*}")
	mv "$dir/cur/$c" "$dir/cur/${c%,l=*},l=1000000000"
	q put -m done1 jobs >/dev/null
	q ack jobs "$(q take jobs)"
	q put -m xy jobs >/dev/null
	q fail jobs "$(q take jobs)"
	q put -d 1h -m later jobs >/dev/null
	printf 'xxxx\n' >"$dir/tmp/1764491333.123456.1_9.h"
	printf 'hi\n' >"$dir/new/README"
	q pause jobs
}

@test "stat --prom writes the figures of a known queue, exactly" {
	known
	before=$(snapshot jobs)
	run --separate-stderr -0 q stat --prom jobs
	assert_equal "$stderr" ""
	assert_output - <<'EOF'
# HELP q_messages Messages in each state; tmp counts files being written or left by crashed writers.
# TYPE q_messages gauge
q_messages{queue="jobs",state="tmp"} 1
q_messages{queue="jobs",state="new"} 1
q_messages{queue="jobs",state="cur"} 2
q_messages{queue="jobs",state="done"} 1
q_messages{queue="jobs",state="failed"} 1
# HELP q_message_bytes Size of the messages in each state, in bytes.
# TYPE q_message_bytes gauge
q_message_bytes{queue="jobs",state="tmp"} 5
q_message_bytes{queue="jobs",state="new"} 6
q_message_bytes{queue="jobs",state="cur"} 8
q_message_bytes{queue="jobs",state="done"} 6
q_message_bytes{queue="jobs",state="failed"} 3
# HELP q_delayed_messages Messages in new/ that are not due yet.
# TYPE q_delayed_messages gauge
q_delayed_messages{queue="jobs"} 1
# HELP q_expired_leases Claims in cur/ whose lease has expired and that no sweep has returned yet.
# TYPE q_expired_leases gauge
q_expired_leases{queue="jobs"} 1
# HELP q_foreign_files Files in new/, cur/, done/ and failed/ that are not messages.
# TYPE q_foreign_files gauge
q_foreign_files{queue="jobs"} 1
# HELP q_oldest_ready_age_seconds Age of the oldest ready message, in seconds; 0 when none is ready.
# TYPE q_oldest_ready_age_seconds gauge
q_oldest_ready_age_seconds{queue="jobs"} 0
# HELP q_paused 1 if the queue is paused, else 0.
# TYPE q_paused gauge
q_paused{queue="jobs"} 1
EOF
	assert_equal "$(snapshot jobs)" "$before"
}

@test "stat --prom: the oldest ready age in seconds, and paused 0" {
	now=$(date +%s)
	q put -m x jobs >/dev/null
	printf 'ten\n' >"$(qpath jobs)/new/$((now - 600)).000000.1_1.h"
	run --separate-stderr -0 q stat --prom jobs
	age=$(sed -n 's/^q_oldest_ready_age_seconds{queue="jobs"} \([0-9]*\)$/\1/p' \
	    <<<"$output")
	[ -n "$age" ] && [ "$age" -ge 600 ] && [ "$age" -lt 4200 ] ||
		fail "oldest ready age: '$age'"$'\n'"$output"
	assert_line 'q_paused{queue="jobs"} 0'
	assert_line 'q_messages{queue="jobs",state="new"} 2'
}

@test "stat --prom: each metric's HELP and TYPE once, then a sample per queue" {
	q put -m a jobs >/dev/null
	q put -m bb mail >/dev/null
	run --separate-stderr -0 q stat --prom
	out=$output
	assert_equal "$(grep -c '^# HELP ' <<<"$out")" 7
	assert_equal "$(grep -c '^# TYPE .* gauge$' <<<"$out")" 7
	# every family is one block: HELP, TYPE, then only its own samples
	run -0 awk '/^# HELP / { if (seen[$3]++) bad = "HELP twice: " $3; m = $3; next }
	    /^# TYPE / { if ($3 != m) bad = "TYPE out of place: " $0; next }
	    { split($0, a, "{"); if (a[1] != m) bad = "sample out of place: " $0 }
	    END { print bad; exit bad != "" }' <<<"$out"
	run -0 cat <<<"$out"
	assert_equal "$(grep -c '^q_messages{' <<<"$output")" 10
	assert_equal "$(grep -c '^q_paused{' <<<"$output")" 2
	assert_line 'q_message_bytes{queue="jobs",state="new"} 2'
	assert_line 'q_message_bytes{queue="mail",state="new"} 3'
	# a queue named twice is written once, so the file stays valid
	run --separate-stderr -0 q stat --prom jobs jobs
	assert_equal "$(grep -c '^q_paused{' <<<"$output")" 1
}

@test "stat --prom escapes backslash, double quote and newline in queue names, keeps UTF-8" {
	q put -m x 'we"ird\name' >/dev/null
	q put -m x "two"$'\n'"lines" >/dev/null
	q put -m x 'żółw' >/dev/null
	q put -m x $'bad\xffbyte' >/dev/null
	run --separate-stderr -0 q stat --prom
	assert_line 'q_paused{queue="we\"ird\\name"} 0'
	assert_line 'q_paused{queue="two\nlines"} 0'
	assert_line 'q_paused{queue="żółw"} 0'
	# no escape exists for a byte that is not UTF-8: U+FFFD stands in
	assert_line "q_paused{queue=\"bad"$'\xef\xbf\xbd'"byte\"} 0"
	assert_line 'q_messages{queue="we\"ird\\name",state="new"} 1'
	assert_equal "${#lines[@]}" $((14 + 4 * (2 * 5 + 5)))
}

@test "stat --prom and --json together: 64, naming both" {
	q put -m x jobs >/dev/null
	run --separate-stderr -64 q stat --prom --json jobs
	assert_output ""
	assert_equal "${stderr_lines[0]}" "q stat: --json and --prom cannot be used together"
	assert_equal "${stderr_lines[1]}" "usage: q stat [--json | --prom] [queue ...]"
	run --separate-stderr -64 q stat --json --prom
	assert_output ""
}

@test "stat --prom of a missing queue: the others written, 66" {
	q put -m x jobs >/dev/null
	run --separate-stderr -66 q stat --prom jobs nope
	assert_equal "$stderr" "q stat: nope: no such queue"
	assert_line 'q_paused{queue="jobs"} 0'
	refute_output --partial nope
}

# --- read by node_exporter's textfile collector ----------------------------

NODE_EXPORTER=prometheus-node-exporter

# Start node_exporter on 127.0.0.1 at a port found free, reading the
# textfile directory $TEXTFILE alone; its port in $port.  Another process
# may take the port between the look and the start: then try another.
start_exporter() {
	local try
	for ((try = 0; try < 5; try++)); do
		port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$port" \
			--collector.disable-defaults --collector.textfile \
			--collector.textfile.directory="$TEXTFILE" \
			--web.disable-exporter-metrics \
			>"$BATS_TEST_TMPDIR/exporter.log" 2>&1 &
		epid=$!
		track "$epid"
		waitfor serving "$epid" && alive "$epid" && return 0
		kill "$epid" 2>/dev/null || true
	done
	fail "node_exporter did not start: $(cat "$BATS_TEST_TMPDIR/exporter.log")"
}

# GET http://127.0.0.1:$port$1 to stdout (no curl needed).
fetch() {
	python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
		"http://127.0.0.1:$port$1"
}

# Does node_exporter $1 answer, or has it given up (exited)?
serving() {
	! alive "$1" || fetch / >/dev/null 2>&1
}

@test "node_exporter reads q stat --prom through its textfile collector" {
	command -v "$NODE_EXPORTER" >/dev/null ||
		skip "needs $NODE_EXPORTER (Debian package prometheus-node-exporter)"
	command -v python3 >/dev/null || skip "needs python3 to fetch /metrics"
	known
	q put -m x 'we"ird\name' >/dev/null
	q put -m x $'bad\xffbyte' >/dev/null
	q put -m x 'żółw' >/dev/null
	TEXTFILE=$BATS_TEST_TMPDIR/textfile
	mkdir "$TEXTFILE"
	# the idiom of q(1): written aside, renamed into place
	q stat --prom >"$TEXTFILE/q.prom.$$"
	mv "$TEXTFILE/q.prom.$$" "$TEXTFILE/q.prom"
	start_exporter
	fetch /metrics >"$BATS_TEST_TMPDIR/metrics"
	run -0 grep -v '^#' "$BATS_TEST_TMPDIR/metrics"
	assert_line 'node_textfile_scrape_error 0'
	assert_line 'q_messages{queue="jobs",state="cur"} 2'
	assert_line 'q_messages{queue="jobs",state="new"} 1'
	assert_line 'q_message_bytes{queue="jobs",state="tmp"} 5'
	assert_line 'q_message_bytes{queue="jobs",state="failed"} 3'
	assert_line 'q_delayed_messages{queue="jobs"} 1'
	assert_line 'q_expired_leases{queue="jobs"} 1'
	assert_line 'q_foreign_files{queue="jobs"} 1'
	assert_line 'q_oldest_ready_age_seconds{queue="jobs"} 0'
	assert_line 'q_paused{queue="jobs"} 1'
	assert_line 'q_paused{queue="we\"ird\\name"} 0'
	assert_line 'q_messages{queue="żółw",state="new"} 1'
	assert_line "q_paused{queue=\"bad"$'\xef\xbf\xbd'"byte\"} 0"
	assert_equal "$(grep -c '^q_' <<<"$output")" $((4 * (2 * 5 + 5)))
	# and it keeps the HELP and TYPE of q's metrics
	run -0 grep -Fx '# TYPE q_paused gauge' "$BATS_TEST_TMPDIR/metrics"
	run -0 grep -Fx '# HELP q_paused 1 if the queue is paused, else 0.' \
	    "$BATS_TEST_TMPDIR/metrics"
	kill "$epid"
	wait "$epid" || true
}
