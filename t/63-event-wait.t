# The handler sleeps in one wait on its client and its upstream stream:
# a stream whose client and upstream are both quiet costs no wake-up at
# all (no polling at intervals), a message after a pause goes through at
# once, and a handler waiting for a slow upstream, or relaying a large
# response, wakes at most once per event (a large response: once per
# batch of data). Counted with the status page's handler_wakeups, so
# nothing here depends on the machine's speed. Both frontends, and
# HTTP/1.1 over TLS (mod_ssl: see t/91-tls-frontend.t); HTTP/2 streams
# without a Content-Length use mod_http2's input pipe.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use Time::HiRes qw(sleep);

plan tests => 3 * 5 + 3;

my $tls_port = Apache::Test::config()->{vhosts}{h2gw_tls_frontend}{port};

for my $fe (frontends(), 'h1tls') {
    my $tag = tag();
    my $url = $fe eq 'h1tls' ? "https://127.0.0.1:$tls_port/up/echo?tag=$tag"
                             : gw_url("/up/echo?tag=$tag");
    my ($pid, $in_w, $out_r) = stream_client($fe, $url);
    print $in_w "ping-one\n";
    ok t_cmp(read_n($out_r, 8), 'ping-one', "$fe: the first message is echoed");
    # Both sides quiet now: the handler must sleep through it.
    sleep 0.2;
    my $w0 = handler_wakeups();
    sleep 1;
    my $w1 = handler_wakeups();
    ok t_cmp($w1 - $w0, 0, "$fe: an idle stream wakes its handler 0 times in 1 s");
    print $in_w "ping-two\n";
    ok t_cmp(read_n($out_r, 8), 'ping-two', "$fe: a message after the pause is echoed");
    my $w2 = handler_wakeups();
    ok t_cmp($w2 - $w1 >= 1 && $w2 - $w1 <= 4 ? 1 : 0, 1,
             "$fe: ... for a few wake-ups (client input, the echo: " . ($w2 - $w1) . ")");
    close $in_w;
    my $rest = do { local $/; <$out_r> } // '';
    waitpid $pid, 0;
    ok t_cmp($? >> 8, 0, "$fe: the stream ends cleanly when the client ends it");
}

# A GET whose upstream answers after 1.5 s: the HTTP/1.1 handler sleeps
# until the response comes (its socket tells it if the client leaves).
{
    my $w0 = handler_wakeups();
    my $res = req(proto => 'h1', url => gw_url('/up/data?size=10&delay=1500'));
    my $w = handler_wakeups() - $w0;
    ok t_cmp($res->{code} == 200 && $w <= 2 ? 1 : 0, 1,
             "h1: waiting 1.5 s for an upstream costs at most 2 wake-ups ($w)");
}

# 4 MiB with a Content-Length, in DATA frames of 16 KiB, to a client that
# reads at once: the handler waits for batches of half the stream window
# (128K by default), so it wakes once per batch (32), plus the headers,
# the end and the last bytes (the rest below 16K is waited for byte by
# byte, at most one wake-up per frame: 2 slack), plus two for each batch
# wait that timed out (the upstream or the engine paused: what came goes
# out, and the next wait takes any byte). The status page counts those
# timeouts, so the bound holds however the threads are scheduled; on a
# quiet machine there are none or few. (Before batches, the handler woke
# once per read of the engine's: about 60 times.)
{
    my $s0 = gw_status();
    my $res = req(proto => 'h1', url => gw_url('/up/data?size=4194304'));
    my $s1 = gw_status();
    my $w = $s1->{handler_wakeups} - $s0->{handler_wakeups};
    my $t = ($s1->{handler_batch_timeouts} // 0) - ($s0->{handler_batch_timeouts} // 0);
    my $max = 4194304 / (128 * 1024) + 5 + 2 * $t;
    ok t_cmp($res->{size} == 4194304 && $w <= $max ? 1 : 0, 1,
             "h1: a 4 MiB response wakes the handler once per 128K batch "
             . "($w wake-ups, at most $max with $t timed out)");
}

# An 8 MiB upload over HTTP/1.1: each side wakes the handler at most once
# per batch. The engine wakes a handler that waits for room in the request
# buffer (256K by default) only once half of it is free (at most 64
# times); client input wakes it once a batch of 64K is there
# (SO_RCVLOWAT; at most 128 times); plus the response's own wake-ups.
# (Over HTTP/2, mod_http2's input pipe wakes it whenever the client's DATA
# arrive: client-paced, not asserted.)
{
    my $up = make_file(8 * 1024 * 1024);
    my $w0 = handler_wakeups();
    my $res = req(proto => 'h1', method => 'POST', upload => $up,
                  url => gw_url('/up/upload'));
    my $w = handler_wakeups() - $w0;
    ok t_cmp($res->{code} == 200 && $w <= 64 + 128 + 4 ? 1 : 0, 1,
             "h1: an 8 MiB upload (status $res->{code}) wakes the handler $w times (at most 196)");
}
