# Upstream failures become clear answers over both frontends: nothing
# listening → 503; reset before headers → 502; no headers within
# timeout= → 504 (and the upstream saw the request once); a reset after
# the headers aborts the response so the client cannot take it for
# complete; a client that goes away makes the upstream see
# RST_STREAM(CANCEL). Each failure logs one line naming upstream and cause.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(sleep time);
use H2GW::Test;

plan tests => 2 * 25;

for my $fe (frontends()) {
    my $mark = error_log_mark();
    my $res = req(proto => $fe, url => gw_url('/dead/x'));
    ok t_cmp($res->{code}, 503, "$fe: connection refused by the upstream → 503");
    my $log = error_log_since($mark);
    ok t_cmp($log =~ /H2GW00203: upstream h2c:\/\/127\.0\.0\.1:$ENV{H2GW_DEAD_PORT}\/: (connect failed \(|all servers down \(.*last error: connect: )Connection refused\)/ ? 1 : 0,
             1, "$fe: the 503 is logged with the upstream and the cause");

    my $tag = tag();
    $mark = error_log_mark();
    $res = req(proto => $fe, url => gw_url("/up/data?reset=before&code=2&tag=$tag"));
    ok t_cmp($res->{code}, 502, "$fe: stream reset before headers → 502");
    $log = error_log_since($mark);
    ok t_cmp($log =~ /H2GW00203: upstream h2c:\/\/127\.0\.0\.1:$ENV{H2GW_UP_PORT}\/: stream reset by upstream \(INTERNAL_ERROR\)/ ? 1 : 0,
             1, "$fe: the 502 is logged with the reset code");

    $tag = tag();
    my $t0 = time;
    $res = req(proto => $fe, url => gw_url("/slow/data?stall=1&tag=$tag"));
    ok t_cmp($res->{code}, 504, "$fe: no response headers within timeout=1 → 504");
    my $st = up_stats($tag);
    ok t_cmp($st->{seen}, 1, "$fe: the timed-out request reached the upstream exactly once");
    for (1 .. 20) { last if up_stats($tag)->{rst_recv}; sleep 0.1 }
    ok t_cmp(up_stats($tag)->{rst_code}, 8, "$fe: the timed-out stream is cancelled upstream (CANCEL)");

    # The upstream connection breaks under the request: 502; the next
    # request gets a new connection and succeeds.
    $mark = error_log_mark();
    $res = req(proto => $fe, url => gw_url('/up/data?drop=1'));
    ok t_cmp($res->{code}, 502, "$fe: upstream connection lost before headers → 502");
    $log = error_log_since($mark);
    ok t_cmp($log =~ /H2GW00203: upstream h2c:\/\/127\.0\.0\.1:$ENV{H2GW_UP_PORT}\/: upstream connection lost/ ? 1 : 0,
             1, "$fe: the lost connection is logged as the cause");
    $res = req(proto => $fe, url => gw_url('/up/data?size=10'));
    ok t_cmp($res->{code}, 200, "$fe: the next request succeeds on a new connection");

    # Reset after 100000 bytes of a 1 MiB body with Content-Length; the
    # drip makes sure the headers went out before the reset.
    $tag = tag();
    $mark = error_log_mark();
    my $broken = "size=1048576&drip=100&piece=50000&reset=after&after=100000";
    $res = req(proto => $fe, url => gw_url("/up/data?$broken&tag=$tag"), quiet => 1);
    if ($fe eq 'h1') {
        ok t_cmp($res->{code}, 200, "$fe: the aborted response had started (200)");
    }
    else {
        # mod_http2 may reset the stream before its HEADERS reach the client
        ok t_cmp($res->{code} == 200 || $res->{code} == 0 ? 1 : 0, 1,
                 "$fe: the aborted response is no error page (status $res->{code})");
    }
    ok t_cmp($res->{size} < 1048576 ? 1 : 0, 1, "$fe: the client did not get the whole body ($res->{size} bytes)");
    ok t_cmp($res->{curl_exit} != 0 ? 1 : 0, 1,
             "$fe: the client sees the response as incomplete (curl exit $res->{curl_exit})");
    $log = error_log_since($mark);
    ok t_cmp($log =~ /H2GW00203: .*stream reset by upstream.*response aborted/ ? 1 : 0, 1,
             "$fe: the abort is logged");

    # Same without Content-Length (HTTP/1.1: chunked, the last chunk must
    # never be sent).
    $res = req(proto => $fe, url => gw_url("/up/data?$broken&cl=0"), quiet => 1);
    ok t_cmp($res->{curl_exit} != 0 ? 1 : 0, 1,
             "$fe: a length-less aborted response is seen incomplete (curl exit $res->{curl_exit})");

    # A reset racing the headers: a clean 502, or an incomplete response;
    # never a complete-looking one.
    $res = req(proto => $fe, url => gw_url("/up/data?size=1048576&cl=0&reset=after&after=100000"),
               quiet => 1);
    ok t_cmp($res->{code} == 502 || $res->{curl_exit} != 0 ? 1 : 0, 1,
             "$fe: an immediate reset is a 502 or an incomplete response "
             . "(status $res->{code}, curl exit $res->{curl_exit})");

    # Stall mid-body then reset: the client waits, then sees the abort.
    $res = req(proto => $fe, url => gw_url("/up/data?size=300000&stop_after=50000&tag=" . tag()),
               args => ['--max-time', '1.5'], quiet => 1);
    ok t_cmp($res->{size} <= 50000 ? 1 : 0, 1, "$fe: a stalled body delivers only what the upstream sent");

    # Headers arrived, then the upstream goes silent: after timeout=1 of
    # no progress the response is aborted and the stream cancelled.
    $tag = tag();
    $mark = error_log_mark();
    $res = req(proto => $fe, url => gw_url("/slow/data?size=300000&stop_after=50000&tag=$tag"),
               quiet => 1, args => ['--max-time', '10']);
    ok t_cmp($res->{curl_exit} != 0 && $res->{curl_exit} != 28 ? 1 : 0, 1,
             "$fe: a stall mid-body is aborted by the gateway (curl exit $res->{curl_exit})");
    $log = error_log_since($mark);
    ok t_cmp($log =~ /H2GW00203: .*response timed out \(upstream stalled mid-response\), response aborted/ ? 1 : 0,
             1, "$fe: the mid-body stall is logged");

    # An upload slower than timeout=1 overall, but moving, is not cut.
    my $file = make_file(300 * 1024);
    $res = req(proto => $fe, url => gw_url('/slow/upload'), method => 'POST',
               upload => $file, args => ['--limit-rate', '150K']);
    ok t_cmp($res->{body}, "size=" . (300 * 1024) . "\nsha256=" . sha256_file($file) . "\n",
             "$fe: a 2 s upload through a timeout=1 pass completes (progress re-arms the timeout)");

    # A response header block over the limit is a 502.
    $res = req(proto => $fe, url => gw_url('/up/data?size=10&hdrsize=70000'));
    ok t_cmp($res->{code}, 502, "$fe: response headers over 64 KiB → 502");
    $res = req(proto => $fe, url => gw_url('/up/data?size=10&hdrsize=30000'));
    ok t_cmp($res->{code}, 200, "$fe: a 30 KB response header still passes");

    # Client goes away while the upstream drips: upstream sees CANCEL.
    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/data?size=100000&drip=100&piece=1000&tag=$tag"),
               args => ['--max-time', '1'], quiet => 1);
    my $seen;
    for (1 .. 30) { $seen = up_stats($tag); last if $seen->{rst_recv}; sleep 0.1 }
    ok t_cmp($seen->{rst_code}, 8, "$fe: client abort mid-body → upstream sees RST_STREAM(CANCEL)");
    ok t_cmp($seen->{completed}, 0, "$fe: the upstream did not complete the cancelled stream");

    # Client goes away while waiting for headers (upstream stalls).
    $tag = tag();
    $res = req(proto => $fe, url => gw_url("/up/data?stall=1&tag=$tag"),
               args => ['--max-time', '1'], quiet => 1);
    for (1 .. 30) { $seen = up_stats($tag); last if $seen->{rst_recv}; sleep 0.1 }
    ok t_cmp($seen->{rst_code}, 8, "$fe: client abort before headers → upstream sees CANCEL");
}
