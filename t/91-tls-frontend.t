# An HTTP/1.1 client over TLS (mod_ssl) is waited for on its socket like
# any other: a stream whose client and upstream are quiet wakes its
# handler 0 times (no look at intervals), and body that mod_ssl or the
# core read from the socket ahead of the handler is never left waiting:
# the handler reads until the filters say EAGAIN, after which the socket
# shows all that is still to come. Two pieces written back to back (two
# TLS records, usually one TCP segment) are echoed without a further
# event. Counted with the status page's handler_wakeups.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use IO::Handle;
use IO::Select;
use POSIX ();
use Time::HiRes qw(sleep);

plan tests => 7;

my $port = Apache::Test::config()->{vhosts}{h2gw_tls_frontend}{port};
my $base = "https://127.0.0.1:$port";

sub wakeups {
    my $w = gw_status()->{handler_wakeups};
    die "the status page has no handler_wakeups\n" unless defined $w;
    return $w;
}

# Reads exactly $n bytes from $fh within 10 s; returns what came.
sub read_n {
    my ($fh, $n) = @_;
    my $sel = IO::Select->new($fh);
    my $buf = '';
    while (length($buf) < $n && $sel->can_read(10)) {
        sysread($fh, $buf, $n - length($buf), length $buf) or last;
    }
    return $buf;
}

{
    my $tag = tag();
    pipe(my $in_r, my $in_w) or die;
    pipe(my $out_r, my $out_w) or die;
    my $pid = fork // die;
    if (!$pid) {
        close $in_w;
        close $out_r;
        open STDIN, '<&', $in_r or POSIX::_exit(126);
        open STDOUT, '>&', $out_w or POSIX::_exit(126);
        open STDERR, '>', '/dev/null';
        exec 'node', Apache::Test::vars('serverroot') . '/tools/stream-client.js',
            'h1tls', "$base/up/echo?tag=$tag" or POSIX::_exit(127);
    }
    close $in_r;
    close $out_w;
    $in_w->autoflush(1);
    print $in_w "ping-one\n";
    ok t_cmp(read_n($out_r, 8), 'ping-one', "h1 over TLS: the first message is echoed");
    sleep 0.2;
    my $w0 = wakeups();
    sleep 1;
    my $w1 = wakeups();
    ok t_cmp($w1 - $w0, 0, "h1 over TLS: an idle stream wakes its handler 0 times in 1 s");
    print $in_w "ping-two\nping-three\n";
    ok t_cmp(read_n($out_r, 18), 'ping-twoping-three',
             "h1 over TLS: two pieces sent back to back are both echoed at once");
    my $w2 = wakeups();
    ok t_cmp($w2 - $w1 >= 1 && $w2 - $w1 <= 6 ? 1 : 0, 1,
             "h1 over TLS: ... for a few wake-ups (" . ($w2 - $w1) . ")");
    close $in_w;
    my $rest = do { local $/; <$out_r> } // '';
    waitpid $pid, 0;
    ok t_cmp($? >> 8, 0, "h1 over TLS: the stream ends cleanly when the client ends it");
}

# A 1 MiB body with a Content-Length, through the TLS frontend.
{
    my $file = make_file(1024 * 1024);
    my $digest = sha256_file($file);
    my $res = req(proto => 'h1', url => "$base/up/upload", method => 'POST',
                  upload => $file, args => ['-k'],
                  headers => ['Content-Type: application/octet-stream']);
    ok t_cmp($res->{code}, 200, "h1 over TLS: a 1 MiB upload is answered 200");
    ok t_cmp($res->{body}, "size=1048576\nsha256=$digest\n",
             "h1 over TLS: ... and arrives intact");
}
