# fish completion for q(1), the spool queue.
#
# Installed as share/fish/vendor_completions.d/q.fish.

# The commands of q, in the order `q -h` lists them: the name, what its
# operands after the queue are, and a description.  What follows the
# queue is one of
#
#   files       file names
#   command     a command line (after an optional --)
#   queue       one more queue
#   queues      more queues
#   subs        one subscriber of the topic (the names in its subs/)
#   keys        one config key
#   none        nothing
#   STATE,...   IDs of the messages in those states
#
# A new command is one more line here, its options that take an argument
# in __q_argopts, and a complete line for each of its options below.
function __q_commands
    printf '%s\t%s\t%s\n' \
        put files 'Enqueue stdin, files or texts as messages' \
        take none 'Claim the next ready message' \
        cat new,cur,done,failed 'Write message bodies to stdout' \
        ack cur 'Claimed messages were processed: to done/' \
        release cur 'Give claimed messages back for another try' \
        fail cur 'Claimed messages failed for good: to failed/' \
        touch cur 'Extend the lease of claimed messages' \
        work command 'Run a command for every message' \
        wait none 'Block until a message is ready' \
        sweep queues 'Expired leases back, stale files removed' \
        ls none 'List messages, or the queues' \
        stat queues 'Count messages and bytes per state' \
        retry failed 'Failed messages back to new/' \
        replay done 'Done messages back to new/' \
        purge none 'Delete messages from done/, failed/ or new/' \
        rm new,done,failed 'Delete messages that are not claimed' \
        drop none 'Delete a whole queue' \
        pause none 'Stop claiming from a queue' \
        resume none 'Claim from a queue again' \
        sub queue 'Subscribe a queue to a topic, or list its subscribers' \
        unsub subs 'End the subscription of a queue to a topic' \
        config keys 'Show or set per-queue settings'
end

# The options of command $argv[1] that take an argument.
function __q_argopts
    switch $argv[1]
        case put
            echo -d --delay -p --priority -k --key -m --message
        case take
            echo -l --lease -w --wait
        case release
            echo -d --delay
        case touch
            echo -l --lease
        case work
            echo -a --attempts -j --jobs -l --lease -n --max -t --timeout
        case wait
            echo -t --timeout
        case ls
            echo -s --state -S --sort
        case replay
            echo -s --since
        case purge
            echo -s --state -o --older
    end
end

# What follows the queue of command $argv[1]; false for no command.
function __q_kind
    for row in (__q_commands)
        set -l field (string split \t -- $row)
        if test "$field[1]" = "$argv[1]"
            echo $field[2]
            return 0
        end
    end
    return 1
end

# Where the cursor is on the command line, as five lines: the command, the
# number of operands before the cursor (the first is the queue), the
# queue, the option whose argument is wanted (or ""), and the index of the
# queue among the tokens (or 0).  Options come before the queue.
function __q_where
    set -l tokens (commandline -opc)
    set -l cmd $tokens[2]
    set -l argopts (string split ' ' -- (__q_argopts $cmd))
    set -l n 0
    set -l queue ''
    set -l qi 0
    set -l optarg ''
    set -l dashdash 0
    set -l i 3
    while test $i -le (count $tokens)
        set -l w $tokens[$i]
        set optarg ''
        if test $n -gt 0 -o $dashdash -eq 1
            if test $n -eq 0
                set queue $w
                set qi $i
            end
            set n (math $n + 1)
        else if test "$w" = --
            set dashdash 1
        else if string match -qr -- '^--[^=]+$' $w
            contains -- $w $argopts; and set optarg $w
        else if string match -qr -- '^-[^-]' $w
            # a cluster of short options: the first that takes an
            # argument ends it
            set -l chars (string split '' -- (string sub -s 2 -- $w))
            for j in (seq (count $chars))
                if contains -- -$chars[$j] $argopts
                    test $j -eq (count $chars); and set optarg -$chars[$j]
                    break
                end
            end
        else if not string match -q -- '--*' $w
            set queue $w
            set qi $i
            set n 1
        end
        if test -n "$optarg" -a $i -lt (count $tokens)
            # the option's argument is the next token
            set i (math $i + 1)
            set optarg ''
        end
        set i (math $i + 1)
    end
    printf '%s\n' "$cmd" $n "$queue" "$optarg" $qi
end

# True when the cursor is at the command.
function __q_needs_command
    test (count (commandline -opc)) -eq 1
end

# True when the options of command $argv[1] (of any command, without
# arguments) can come at the cursor.
function __q_options
    set -l where (__q_where)
    test $where[2] -eq 0
    and __q_kind "$where[1]" >/dev/null
    and begin
        test (count $argv) -eq 0; or test "$where[1]" = $argv[1]
    end
end

# True right after the queue of retry, which takes -a there too.
function __q_retry_all
    set -l where (__q_where)
    test "$where[1]" = retry -a $where[2] -eq 1
end

# True when the cursor wants $argv[1]: "queue" (the first operand),
# "ids", or one of the kinds above that are not states.
function __q_wants
    set -l where (__q_where)
    test -z "$where[4]"; or return
    set -l kind (__q_kind "$where[1]"); or return
    if test $where[2] -eq 0
        test $argv[1] = queue
        return
    end
    switch $kind
        case queue keys subs
            test $where[2] -eq 1 -a $argv[1] = $kind
        case files command queues none
            test $kind = $argv[1]
        case '*'
            test $argv[1] = ids
    end
end

# The queue root: $QDIR, or ${XDG_STATE_HOME:-$HOME/.local/state}/q.
function __q_root
    if test -n "$QDIR"
        echo $QDIR
    else if test -n "$XDG_STATE_HOME"
        echo $XDG_STATE_HOME/q
    else
        echo $HOME/.local/state/q
    end
end

# The directory of queue $argv[1]: a path if it has a '/', otherwise a
# name under the root.
function __q_dir
    if string match -q -- '*/*' $argv[1]
        string replace -r -- '^~/' "$HOME/" $argv[1]
    else
        echo (__q_root)/$argv[1]
    end
end

# Queue names, or directories once the word looks like a path.
function __q_queues
    set -l cur (commandline -ct)
    if string match -q -- '*/*' $cur; or string match -q -- '~*' $cur
        __fish_complete_directories $cur
        return
    end
    set -l root (__q_root)
    set -l dirs $root/*/
    set -q dirs[1]; or return
    string replace -r -- '.*/([^/]+)/$' '$1' $dirs
end

# The subscribers of the topic on the line: the names in its subs/.
function __q_subs
    set -l where (__q_where)
    set -l dir (__q_dir $where[3])
    set -l subs $dir/subs/*
    set -q subs[1]; or return
    string replace -r -- '.*/' '' $subs
end

# The IDs of the messages of the queue on the line, in the states its
# command takes: each file name up to its first ',', with the state as
# description (names that are no message are left out).
function __q_ids
    set -l where (__q_where)
    set -l dir (__q_dir $where[3])
    for state in (string split , -- (__q_kind $where[1]))
        set -l files $dir/$state/*
        set -q files[1]; or continue
        string replace -r -- '.*/' '' $files |
            string replace -rf -- '^([0-9]+\.[0-9]+\.[0-9]+_[0-9]+\.[^,]+).*' "\$1\t$state"
    end
end

# The completions of the command line that work runs, which starts after
# the queue and an optional --.
function __q_command
    set -l where (__q_where)
    set -l tokens (commandline -opc)
    set -l line $tokens[(math $where[5] + 1)..-1]
    test "$line[1]" = --; and set -e line[1]
    complete -C (string join ' ' -- (string escape -- $line) (commandline -ct))
end

complete -c q -f

complete -c q -n __q_needs_command -s h -l help -d 'Show the usage'
complete -c q -n __q_needs_command -l version -d 'Show the version'
for row in (__q_commands)
    set -l field (string split \t -- $row)
    complete -c q -n __q_needs_command -a $field[1] -d $field[3]
end

complete -c q -n '__q_wants queue' -a '(__q_queues)' -d Queue
complete -c q -n '__q_wants queues' -a '(__q_queues)' -d Queue
complete -c q -n '__q_wants subs' -a '(__q_subs)' -d Subscriber
complete -c q -n '__q_wants ids' -a '(__q_ids)'
complete -c q -n '__q_wants files' -F
complete -c q -n '__q_wants command' -a '(__q_command)'
complete -c q -n '__q_wants keys' -a lease -d 'Lease on claim'
complete -c q -n '__q_wants keys' -a attempts -d 'Claims before a message goes to failed/'
complete -c q -n '__q_wants keys' -a backoff -d 'First retry delay'
complete -c q -n '__q_wants keys' -a backoff-max -d 'Longest retry delay'
complete -c q -n '__q_wants keys' -a keep-done -d 'How long done/ keeps messages'
complete -c q -n '__q_wants keys' -a keep-failed -d 'How long failed/ keeps messages'
complete -c q -n '__q_wants keys' -a dedup -d 'How long a put -k key is remembered'
complete -c q -n '__q_wants keys' -a sync -d 'Fsync on put (1 or 0)'
complete -c q -n '__q_wants keys' -a skew -d 'Clock skew allowed between hosts (or auto)'
complete -c q -n '__q_wants keys' -a poll -d 'Look at new/ this often where arrivals cannot be heard'
complete -c q -n '__q_wants keys' -a locks -d 'Trust liveness locks on a remote file system (auto or shared)'
complete -c q -n '__q_wants keys' -a host -d 'Node name of IDs and claims (or auto)'

# The options of each command, which come before the queue.
complete -c q -n __q_options -s h -l help -d 'Show the usage'

complete -c q -n '__q_options put' -s d -l delay -x -d 'Make the messages ready only after a delay'
complete -c q -n '__q_options put' -s p -l priority -x -a '0 1 2 3 4 5 6 7 8 9' -d 'Priority, 0 most urgent'
complete -c q -n '__q_options put' -s k -l key -x -d 'Enqueue nothing if this key was seen lately'
complete -c q -n '__q_options put' -s K -l keyed -d 'Each record begins with its key and a tab (-l, -0)'
complete -c q -n '__q_options put' -s l -l lines -d 'One message per line'
complete -c q -n '__q_options put' -s 0 -l null -d 'One message per NUL-terminated record'
complete -c q -n '__q_options put' -s m -l message -x -d 'Enqueue a text as a message'
complete -c q -n '__q_options put' -l no-sync -d 'Do not wait for stable storage'
complete -c q -n '__q_options put' -l group -x -d 'Records committed together (-l, -0)'
complete -c q -n '__q_options put' -l linger -x -d 'Milliseconds a group may wait (-l, -0)'

complete -c q -n '__q_options take' -s l -l lease -x -d 'Lease of the claim'
complete -c q -n '__q_options take' -s w -l wait -x -d 'Wait this long for a message'

complete -c q -n '__q_options release' -s d -l delay -x -d 'Make the messages ready only after a delay'

complete -c q -n '__q_options touch' -s l -l lease -x -d 'New lease from now'

complete -c q -n '__q_options work' -s f -l follow -d 'Keep running and wait for messages'
complete -c q -n '__q_options work' -s q -l quiet -d 'No log line per message'
complete -c q -n '__q_options work' -s T -l tag -d 'Prefix each output line with its message ID'
complete -c q -n '__q_options work' -s b -l batch -x -d 'Messages given to each run of the command'
complete -c q -n '__q_options work' -s a -l attempts -x -d 'Claims before a message goes to failed/'
complete -c q -n '__q_options work' -s j -l jobs -x -d 'Run up to this many commands at once'
complete -c q -n '__q_options work' -s l -l lease -x -d 'Lease of each claim'
complete -c q -n '__q_options work' -s n -l max -x -d 'Stop after this many messages'
complete -c q -n '__q_options work' -s t -l timeout -x -d 'Kill a command that runs longer'

complete -c q -n '__q_options wait' -s t -l timeout -x -d 'Give up after this long'

complete -c q -n '__q_options sweep' -s n -l dry-run -d 'Only report what would be done'
complete -c q -n '__q_options sweep' -s v -l verbose -d 'Also report foreign files'

complete -c q -n '__q_options ls' -s r -l reverse -d 'Reverse the order'
complete -c q -n '__q_options ls' -s S -l sort -x -a 'id age size none' -d 'Order of each state'
complete -c q -n '__q_options ls' -s s -l state -x -a 'new cur done failed' -d 'Only messages in this state'
complete -c q -n '__q_options ls' -s l -l long -d 'Long listing, with a header'
complete -c q -n '__q_options ls' -s 0 -l null -d 'Tab-separated fields, NUL-terminated records'
complete -c q -n '__q_options ls' -l json -d 'List as JSON'

complete -c q -n '__q_options stat' -l json -d 'Report as JSON'
complete -c q -n '__q_options stat' -l prom -d 'Report in the Prometheus text format'

complete -c q -n '__q_options retry' -s a -l all -d 'Every failed message'
complete -c q -n __q_retry_all -s a -l all -d 'Every failed message'

complete -c q -n '__q_options replay' -s s -l since -x -d 'Only messages done within this long'

complete -c q -n '__q_options purge' -s s -l state -x -a 'new done failed' -d 'The state to purge'
complete -c q -n '__q_options purge' -s o -l older -x -d 'Only messages older than this'

complete -c q -n '__q_options drop' -s f -l force -d 'Even with claims or subscriptions'
