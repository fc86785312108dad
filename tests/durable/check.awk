#!/usr/bin/awk -f
# check.awk - check the trace of one q command against the durability
# rules of RELIABILITY.md.
#
#	strace -f -y -tt -o TRACE q put -m hello jobs
#	awk -f tests/durable/check.awk TRACE
#
# -y gives the path behind every descriptor, so that a directory's role is
# told by its path (QUEUE/new, QUEUE/keys, ...) and the rules hold whatever
# order the code does things in (strace prints path names whole whatever
# -s says); -f follows children.
#
# Each violation is printed as the rule and the trace line, and the exit
# status is 1.  A trace that cannot be checked (no -y paths, or no success
# reported: a command that failed silently promises nothing) gives 2.
# Otherwise the status is 0 and one line "ok rule N ROLE COUNT" per rule
# and role of directory says how much was checked, so that a test can tell
# a pass from a trace that held nothing to check.
#
# What is followed, by path: when each file was last written and last
# synced (a rename or link carries that to the new name), and each entry
# made in a directory whose entries are promised, until the directory is
# fsynced.  A write to standard output or an exit with status 0 reports
# success: then no promised entry may be waiting for its directory's fsync.
# As RELIABILITY.md words the rules, a syncfs (or sync) makes the data of
# the files written before it durable, but stands for no directory's own
# fsync; and the trace is taken to be of one file system.

BEGIN {
	# The one table: for each role of directory, the rules that apply.
	#   1: a file renamed or linked into it is synced first
	#   2: an entry made in it is fsynced before success
	#   3: the directory itself, when made, is fsynced into its parent
	#   4: an entry made in it is fsynced before it is linked or renamed
	#      out of it (a commit is durable before it is acted on)
	# A queue is a directory with a state directory in it; the roles
	# below a queue are told by name, "other" is any other directory.
	# live/ holds only lock files, made again whenever missing: nothing
	# in it or about it is promised.
	ntab = split("queue 123 new 123 cur 13 done 13 failed 13 keys 123 " \
	    "fan 1234 subs 23 tmp 3 live - other 3", tab, " ")
	for (i = 1; i < ntab; i += 2) {
		nrole++
		rolename[nrole] = tab[i]
		applies[tab[i]] = tab[i + 1]
		if (tab[i] != "queue" && tab[i] != "other")
			below[tab[i]] = 1
	}
	rule[1] = "a file is synced (fdatasync, fsync, or syncfs after its " \
	    "last write) before it is renamed or linked into " dirs(1)
	rule[2] = "a directory that gained an entry (" dirs(2) ") is " \
	    "fsynced before the command reports success"
	rule[3] = "a directory the command made (" dirs(3) ") is fsynced " \
	    "into its parent before the command reports success"
	rule[4] = "an entry made in " dirs(4) " is fsynced there before " \
	    "it is linked or renamed out of it"
	split("tmp new cur done failed", tab, " ")
	for (i in tab)
		statedir[tab[i]] = 1
	interest = " open openat creat mkdir mkdirat rename renameat " \
	    "renameat2 link linkat symlink symlinkat unlink unlinkat rmdir " \
	    "fsync fdatasync syncfs sync write pwrite64 writev pwritev " \
	    "pwritev2 ftruncate fallocate sendfile copy_file_range "
}

# The roles of directory to which rule n applies, for its text.
function dirs(n,    i, r, s, last) {
	for (i = 1; i <= nrole; i++) {
		r = rolename[i]
		if (r == "other" || !index(applies[r], n) == !index(applies["other"], n))
			continue
		if (last != "")
			s = s (s == "" ? "" : ", ") last
		last = r == "queue" ? "the queue" : r "/"
	}
	if (index(applies["other"], n))
		return "any but " (s == "" ? "" : s " or ") last
	return (s == "" ? "" : s " or ") last
}

function die(msg) {
	print "check.awk: " FILENAME ":" FNR ": " msg > "/dev/stderr"
	unusable = 1
	exit 2
}

function parent(p) {
	sub(/\/[^\/]*$/, "", p)
	return p == "" ? "/" : p
}

function base(p) {
	sub(/.*\//, "", p)
	return p
}

# p without empty, "." and ".." components.
function clean(p,    n, i, k, part, keep, out) {
	n = split(p, part, "/")
	for (i = 1; i <= n; i++) {
		if (part[i] == "" || part[i] == ".")
			continue
		if (part[i] == "..") {
			if (k > 0)
				k--
		} else
			keep[++k] = part[i]
	}
	for (i = 1; i <= k; i++)
		out = out "/" keep[i]
	return out == "" ? "/" : out
}

function role(d,    b) {
	if (d in queue)
		return "queue"
	b = base(d)
	return (b in below) && (parent(d) in queue) ? b : "other"
}

# Note a path: a state directory in it makes its parent a queue.
function seen(p) {
	if (base(p) in statedir)
		queue[parent(p)] = 1
	return p
}

# The path of a descriptor argument or return value, 12</a/b>.
function fdpath(a) {
	if (a !~ /^(-?[0-9]+|AT_FDCWD)</)
		die("a descriptor without its path: trace with strace -y")
	a = substr(a, index(a, "<") + 1)
	sub(/>$/, "", a)
	sub(/ \(deleted\)$/, "", a)
	return a
}

# The text of a string argument.
function str(a) {
	if (a !~ /^".*"$/)
		die("not a name: " a)
	a = substr(a, 2, length(a) - 2)
	gsub(/\\"/, "\"", a)
	gsub(/\\\\/, "\\", a)
	return a
}

# The path named by directory argument d (empty: the working directory)
# and name argument n.
function path(d, n) {
	n = str(n)
	if (substr(n, 1, 1) == "/")
		return seen(clean(n))
	if (d == "" && cwd == "")
		die("a relative name before the working directory is known")
	return seen(clean((d == "" ? cwd : fdpath(d)) "/" n))
}

# Split the arguments of a call, s from after its "(", into arg[1..nargs]
# and its result into ret (the text after " = ").
function split_args(s,    i, c, len, depth, quoted, cur) {
	nargs = 0
	len = length(s)
	for (i = 1; i <= len; i++) {
		c = substr(s, i, 1)
		if (quoted) {
			if (c == "\\") {
				cur = cur c
				c = substr(s, ++i, 1)
			} else if (c == "\"")
				quoted = 0
		} else if (c == "\"")
			quoted = 1
		else if (c == "(" || c == "[" || c == "{" || c == "<")
			depth++
		else if (c == ")" || c == "]" || c == "}" || c == ">") {
			if (depth == 0)
				break
			depth--
		} else if (c == "," && depth == 0) {
			arg[++nargs] = cur
			cur = ""
			i++		# the space after the comma
			continue
		}
		cur = cur c
	}
	if (cur != "" || nargs > 0)
		arg[++nargs] = cur
	ret = substr(s, i + 1)
	sub(/^ *= /, "", ret)
}

function dirty(p) {
	wrote[p] = ++seq
}

function synced(p,    e) {
	sync[p] = ++seq
	for (e in pend)
		if (parent(e) == p) {
			checked[prule[e], role(p)]++
			delete pend[e]
		}
}

function forget(p) {
	delete wrote[p]
	delete sync[p]
	delete pend[p]
}

# Entry p appeared; rule n asks for its directory's fsync if it applies
# to role r.
function gain(p, n, r) {
	if (index(applies[r], n)) {
		pend[p] = $0
		prule[p] = n
	}
}

function violate(n, at, when) {
	print "rule " n ": " rule[n]
	print "  " at
	if (when != "")
		print "  reported success at: " when
	bad = 1
}

# from was renamed (or linked, if keep) to to.
function move(from, to, keep,    r, r0) {
	r0 = role(parent(from))
	if (index(applies[r0], 4)) {
		if (from in pend)
			violate(4, $0)
		else
			checked[4, r0]++
	}
	r = role(parent(to))
	if ((from in wrote) && index(applies[r], 1)) {
		if (wrote[from] < sync[from] || wrote[from] < syncall)
			checked[1, r]++
		else
			violate(1, $0)
	}
	if (from in wrote) {
		wrote[to] = wrote[from]
		sync[to] = sync[from]
	} else {
		delete wrote[to]
		delete sync[to]
	}
	if (!keep)
		forget(from)
	gain(to, 2, r)
}

function success(    e) {
	reported = 1
	for (e in pend) {
		violate(prule[e], pend[e], $0)
		delete pend[e]
	}
}

{
	s = $0
	if (match(s, /^\[pid +[0-9]+\] /) || match(s, /^[0-9]+ +/)) {
		pid = substr(s, 1, RLENGTH)
		gsub(/[^0-9]/, "", pid)
		s = substr(s, RLENGTH + 1)
	} else
		pid = ""
	if (match(s, /^[0-9]+(:[0-9]+:[0-9]+)?(\.[0-9]+)? +/))
		s = substr(s, RLENGTH + 1)
	if (s ~ / <unfinished \.\.\.>$/) {
		held[pid] = substr(s, 1, length(s) - 17)
		next
	}
	if (match(s, /^<\.\.\. [a-z0-9_]+ resumed>/)) {
		s = held[pid] substr(s, RLENGTH + 1)
		delete held[pid]
	}
	if (s ~ /^\+\+\+ exited with 0 \+\+\+/) {
		success()
		next
	}
	if (!match(s, /^[a-z0-9_]+\(/))
		next
	call = substr(s, 1, RLENGTH - 1)
	if (!index(interest, " " call " "))
		next
	if (match(s, /AT_FDCWD<[^>]*>/))
		cwd = substr(s, RSTART + 9, RLENGTH - 10)
	split_args(substr(s, length(call) + 2))
	if (ret !~ /^[0-9]/)
		next		# failed, or never returned
}

call ~ /^(write|pwrite64|writev|pwritev2?|ftruncate|fallocate|sendfile)$/ {
	if (arg[1] ~ /^1(<|$)/ && call ~ /^(write|writev|pwritev2?)$/)
		success()
	dirty(fdpath(arg[1]))
}
call == "copy_file_range" {
	dirty(fdpath(arg[3]))
}
call == "fsync" || call == "fdatasync" {
	synced(fdpath(arg[1]))
}
call == "syncfs" || call == "sync" {
	syncall = ++seq
}
call ~ /^(open|openat|creat)$/ {
	p = seen(fdpath(ret))
	flags = call == "openat" ? arg[3] : call == "open" ? arg[2] : \
	    "O_CREAT|O_TRUNC"
	if (flags ~ /O_CREAT|O_TRUNC/)
		dirty(p)
	# O_EXCL: a new entry; a lock file (O_CREAT alone) holds nothing
	if (flags ~ /O_CREAT/ && flags ~ /O_EXCL/)
		gain(p, 2, role(parent(p)))
	if (call == "openat")
		seen(fdpath(arg[1]))
}
call == "mkdir" || call == "mkdirat" {
	p = call == "mkdir" ? path("", arg[1]) : path(arg[1], arg[2])
	gain(p, 3, role(p))
}
call == "rename" || call == "link" {
	move(path("", arg[1]), path("", arg[2]), call == "link")
}
call == "renameat" || call == "renameat2" || call == "linkat" {
	move(path(arg[1], arg[2]), path(arg[3], arg[4]), call == "linkat")
}
call == "symlink" {
	p = path("", arg[2])
	gain(p, 2, role(parent(p)))
}
call == "symlinkat" {
	p = path(arg[2], arg[3])
	gain(p, 2, role(parent(p)))
}
call == "unlink" || call == "rmdir" {
	forget(path("", arg[1]))
}
call == "unlinkat" {
	forget(path(arg[1], arg[2]))
}

END {
	if (unusable)
		exit 2
	if (!reported) {
		print "check.awk: " FILENAME ": no success reported (no " \
		    "output, no exit with status 0): nothing is promised" \
		    > "/dev/stderr"
		exit 2
	}
	for (n = 1; n <= 4; n++)
		for (i = 1; i <= nrole; i++)
			if ((n, rolename[i]) in checked)
				print "ok rule " n " " rolename[i] " " \
				    checked[n, rolename[i]]
	exit bad
}
