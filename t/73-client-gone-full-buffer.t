# An HTTP/2 client that goes away while its upload waits for room: the
# upstream holds the body unconsumed (hold=, its window stays shut), so
# the engine can send nothing more, the request buffer fills and the
# handler waits for room in it; then the client is killed. mod_http2
# sees its connection end and aborts the stream, but its input pipe
# cannot be polled during that wait (it is readable while input waits
# unread): the handler looks at the stream's aborted flag at intervals.
# The upstream stream is reset (CANCEL) while the upstream still holds
# it, not once the hold ends (10 s) or the pass's timeout (10 s) and the
# body moves again, and nothing is left behind.
# (Over HTTP/1.1 there is nothing to see in that state: a killed
# client's FIN waits in TCP behind the body the gateway has not read, so
# such a client is noticed when its upload moves again or at the
# timeout.)
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use POSIX ();
use Time::HiRes qw(sleep time);

plan tests => 4;

my $tag = tag();
my $expired0 = up_stats()->{hold_expired} // 0;
# curl uploads from a pipe we control, for as long as we write.
pipe(my $r, my $w) or die;
my $pid = fork // die;
if (!$pid) {
    close $w;
    open STDIN, '<&', $r or POSIX::_exit(126);
    open STDOUT, '>', '/dev/null';
    open STDERR, '>', '/dev/null';
    exec('curl', '-sS', '--http2-prior-knowledge', '-T', '-', '-X', 'POST',
         '--max-time', '30', gw_url("/up/upload?hold=$tag&tag=$tag"))
        or POSIX::_exit(127);
}
close $r;
# Write until nothing more is taken for 1 s: every buffer between here
# and the held upstream is full, the gateway's request buffer among them.
$w->blocking(0);
my $chunk = 'x' x 65536;
my ($sent, $t0) = (0, time);
my $moved = $t0;
while (time - $moved < 1 && time - $t0 < 8) {
    my $n = syswrite($w, $chunk);
    if ($n) {
        $sent += $n;
        $moved = time;
    }
    else {
        sleep 0.02;
    }
}
my $st = up_stats($tag);
ok t_cmp(time - $moved >= 1 && ($st->{body_bytes_recv} // 0) > 0 ? 1 : 0, 1,
         "the upload stalls behind the held upstream ($sent bytes written, "
         . ($st->{body_bytes_recv} // 0) . " received there)");

kill 'KILL', $pid;
waitpid $pid, 0;
close $w;
for (1 .. 40) {
    $st = up_stats($tag);
    last if $st->{rst_recv};
    sleep 0.1;
}
ok t_cmp($st->{rst_code}, 8, 'the upstream stream is reset (CANCEL) once the client is gone');
ok t_cmp((up_stats()->{hold_expired} // 0) - $expired0, 0,
         '... while the upstream still held it (no hold ran out)');
ok t_cmp(alive_when_idle(), '0/0', 'no stream or response chunk is left behind');
