# gRPC end to end: a real grpcio client speaks HTTP/2 to Apache
# (mod_http2), mod_h2gw proxies to a real grpcio server
# (t/grpc/grpc_server.py). The four call kinds, status and custom
# trailers, cancellation both ways, and calls that outlive the pass's
# timeouts because they keep moving (and one that does not).
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use JSON::PP qw(decode_json);
use POSIX ();
use Time::HiRes qw(sleep);

my $py = '/usr/bin/python3';
# Not a skip when grpcio is missing: tools/deps.sh installs it.
system("$py -c 'import grpc' 2>/dev/null") == 0
    or die "python3-grpcio is not installed (tools/deps.sh installs it)\n";
plan tests => 38;

my $vars = Apache::Test::vars();
my $dir = $vars->{t_logs};
my $bin = "$vars->{serverroot}/grpc";
my $events = "$dir/grpc-events";
unlink $events;
open my $touch, '>', $events or die;
close $touch;

# The server, started here and stopped at the end (or in END, by this
# process only: forked children leave it alone).
my ($spid, $runner) = (0, $$);
END { kill 'TERM', $spid if $spid && $$ == $runner }
$spid = open(my $sfh, '-|', $py, "$bin/grpc_server.py",
                '--port', $ENV{H2GW_GRPC_PORT}, '--events', $events)
    // die "cannot start the gRPC server: $!";
my $ready = <$sfh>;
die "the gRPC server did not start\n" unless ($ready // '') =~ /ready/;

my $target = "127.0.0.1:$vars->{port}";

sub call {
    my ($service, $case, $arg, $tag) = @_;
    my $out = `$py $bin/grpc_client.py $target h2gw.test.$service $case '${\ ($arg // '')}' '${\ ($tag // '')}' 2>&1`;
    my $res = eval { decode_json((split /\n/, $out)[-1]) };
    return $res // { code => "client failed: $out" };
}

sub event_seen {
    my ($re) = @_;
    for (1 .. 100) {
        open my $fh, '<', $events or die;
        return 1 if grep { /$re/ } <$fh>;
        sleep 0.1;
    }
    return 0;
}

# Unary, with a custom trailer from the server.
my $r = call('Echo', 'unary', 'hello');
ok t_cmp($r->{code}, 'OK', 'unary: status OK');
ok t_cmp($r->{response}, 'echo:hello', 'unary: the response message');
ok t_cmp($r->{trailers}{'x-h2gw-seen'}, '5',
         'unary: a custom trailer from the server reaches the client');

# An error status: a trailers-only response with grpc-status and
# grpc-message.
$r = call('Echo', 'unary', 'fail:no such widget');
ok t_cmp($r->{code}, 'INVALID_ARGUMENT', 'error status: the code');
ok t_cmp($r->{details}, 'no such widget', 'error status: grpc-message');

# Server streaming: 50 messages of 10000 bytes.
$r = call('Echo', 'server-stream', '50:10000');
ok t_cmp($r->{code}, 'OK', 'server streaming: status OK');
ok t_cmp($r->{count}, 50, 'server streaming: every message');
ok t_cmp($r->{bytes}, 500000, 'server streaming: every byte');

# Client streaming: 200 messages of 1000 bytes.
$r = call('Echo', 'client-stream', '200:1000');
ok t_cmp($r->{code}, 'OK', 'client streaming: status OK');
ok t_cmp($r->{response}, '200:200000',
         'client streaming: the server counted every message and byte');

# Bidirectional ping-pong: each message leaves the client only after the
# answer to the one before arrived; holding either direction deadlocks.
my $tag = tag();
$r = call('Echo', 'bidi', '20', $tag);
ok t_cmp($r->{code}, 'OK', 'bidi ping-pong: status OK');
ok t_cmp(scalar @{ $r->{answers} // [] }, 20, 'bidi: 20 answers');
ok t_cmp(join(',', @{ $r->{answers} // [] }),
         join(',', map { "re:ping$_" } 0 .. 19), 'bidi: in order');
ok t_cmp(event_seen(qr/^bidi-done \Q$tag\E 20$/), 1,
         'bidi: the server saw all 20 and the end of the stream');

# The client cancels: the server sees its call cancelled.
my $before = gw_status('grpc');
$tag = tag();
$r = call('Echo', 'cancel', '', $tag);
ok t_cmp($r->{first}, 'first', 'client cancel: the first message came');
ok t_cmp($r->{code}, 'CANCELLED', 'client cancel: the client cancelled');
ok t_cmp(event_seen(qr/^cancelled \Q$tag\E$/), 1,
         'client cancel: the server saw the cancellation');
my $after = gw_status('grpc');
ok t_cmp($after->{servers}[0]{resets_sent} - $before->{servers}[0]{resets_sent},
         1, 'client cancel: the gateway reset the upstream stream once');

# The server cancels: the client sees the call end in error, after the
# messages that came before.
$r = call('Echo', 'server-cancel');
ok t_cmp(join(',', @{ $r->{messages} // [] }), 'one,two',
         'server cancel: the messages before it arrived');
ok t_cmp($r->{code} ne 'OK' && $r->{code} !~ /client failed/ ? 1 : 0, 1,
         "server cancel: the client sees the call fail ($r->{code})");

# Calls that take 3.2 s through a pass with timeout=1 read-timeout=1:
# they keep moving, so no timeout cuts them.
$r = call('Slow', 'client-stream', '8:100:400');
ok t_cmp($r->{code}, 'OK',
         'long client stream (8 messages, 0.4 s apart, timeout=1): OK');
ok t_cmp($r->{response}, '8:800', 'long client stream: every message');
$r = call('Slow', 'server-stream', '8:100:400');
ok t_cmp($r->{code}, 'OK',
         'long server stream (8 messages, 0.4 s apart, read-timeout=1): OK');
ok t_cmp($r->{count}, 8, 'long server stream: every message');
$tag = tag();
$r = call('Slow', 'bidi', '8:400', $tag);
ok t_cmp($r->{code}, 'OK', 'long bidi (8 turns, 0.4 s apart): OK');
ok t_cmp(scalar @{ $r->{answers} // [] }, 8, 'long bidi: 8 answers');

# A unary call whose server answers after 1.5 s, through the pass with
# timeout=1: the client's deadline (20 s) is the wait, so it succeeds.
$r = call('Slow', 'unary', 'sleep:1500');
ok t_cmp($r->{code}, 'OK',
         "a unary call longer than timeout=1 within its deadline: OK ($r->{code})");
ok t_cmp($r->{response}, 'echo:sleep:1500', '... with its answer');
# The same with the C upstream and curl: grpc-timeout is the header wait
# in place of timeout=, bounded by grpc-timeout-max=.
{
    my $res = req(proto => 'h2', url => gw_url('/slow/data?size=10&delay=1500'),
                  headers => ['grpc-timeout: 5S']);
    ok t_cmp($res->{code}, 200, 'grpc-timeout 5S on a timeout=1 pass: the 1.5 s answer arrives');
    $res = req(proto => 'h2', url => gw_url('/gcap/data?size=10&delay=1500'),
               headers => ['grpc-timeout: 5S']);
    ok t_cmp($res->{code}, 504, 'grpc-timeout 5S capped by grpc-timeout-max=1: 504');
    $res = req(proto => 'h2', url => gw_url('/slow/data?size=10&delay=1500'),
               headers => ['grpc-timeout: 5X']);
    ok t_cmp($res->{code}, 504, 'a malformed grpc-timeout is ignored: timeout=1 applies');
}

# A call that stops moving for longer than read-timeout is cut, and the
# client can tell: not OK, and only the message before the gap.
my $mark = error_log_mark();
$r = call('Slow', 'server-stream', '2:10:1600');
ok t_cmp($r->{code} ne 'OK' && $r->{code} !~ /client failed/ ? 1 : 0, 1,
         "a 1.6 s gap with read-timeout=1 ends the call in error ($r->{code})");
ok t_cmp(error_log_since($mark), qr/H2GW00203.*timed out/,
     'the cut call is logged as a timeout');

# Many calls at once share the upstream connection.
my $opened0 = gw_status('grpc')->{servers}[0]{conns_opened};
my @pids;
my $n = 8;
for my $i (1 .. $n) {
    my $pid = fork // die;
    if (!$pid) {
        my $x = call('Echo', 'bidi', '10');
        # _exit: the END block that stops the server is the parent's.
        POSIX::_exit(0) if $x->{code} eq 'OK' && @{ $x->{answers} } == 10;
        print STDERR "# concurrent bidi $i: ", JSON::PP::encode_json($x), "\n";
        POSIX::_exit(1);
    }
    push @pids, $pid;
}
my $okn = 0;
for (@pids) { waitpid($_, 0); $okn++ if $? == 0 }
ok t_cmp($okn, $n, "$n concurrent bidi calls all complete");
my $st = gw_status('grpc');
my $opened = $st->{servers}[0]{conns_opened} - $opened0;
ok t_cmp($st->{servers}[0]{conns_open} == 1 && $opened <= 1 ? 1 : 0, 1,
         "they share one upstream connection (open: $st->{servers}[0]{conns_open}, "
         . "opened for them: $opened)");

ok t_cmp(alive_when_idle(), '0/0', 'no stream or chunk left behind');
my $ev = do { open my $fh, '<', $events; local $/; <$fh> };
ok t_cmp(($ev =~ tr/\n//) > 0 ? 1 : 0, 1, 'the server logged its events');
ok t_cmp(kill(0, $spid), 1, 'the gRPC server is still up');

# Stopped here, not left to END: the pipe's implicit close waits for it.
kill 'TERM', $spid;
close $sfh;
$spid = 0;
