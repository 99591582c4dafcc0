# Upstream pools: named upstreams with several servers (a down server is
# skipped, all down → one connect (a probe) then 503, round robin), the per-server
# connection limit with the peer's stream limit and a bounded wait queue,
# connection caps (max-requests, idle-timeout), liveness (PING before
# reuse, a silent or PING-deaf upstream, an idle connection the upstream
# dropped), read-timeout, and the status page that counts it all.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use Time::HiRes qw(sleep);

plan tests => 51;

my $up2 = $ENV{H2GW_UP2_PORT};

# ---- a down server in a two-server upstream --------------------------------
{
    my $tag = tag();
    my @codes = map { req(proto => 'h1', url => gw_url("/halfdown/data?size=100&tag=$tag"))->{code} } 1 .. 10;
    ok t_cmp(scalar(grep { $_ == 200 } @codes), 10, "halfdown: all 10 requests succeed on the live server");
    ok t_cmp(up_stats_at($up2, $tag)->{seen}, 10, "halfdown: the live server saw each once");
    my $st = gw_status('halfdown');
    ok t_cmp($st->{servers}[0]{health}, 'down', "halfdown: the status page shows the dead server down");
    ok t_cmp($st->{servers}[0]{last_error} =~ /Connection refused/ ? 1 : 0, 1,
             "halfdown: ... with its last error ($st->{servers}[0]{last_error})");
    ok t_cmp($st->{servers}[1]{health}, 'up', "halfdown: and the live one up");
}

# ---- all servers down ---------------------------------------------------------
{
    my $mark = error_log_mark();
    my $res = req(proto => 'h1', url => gw_url('/alldown/x'));
    ok t_cmp($res->{code}, 503, "alldown: both servers refuse → 503");
    my $before = gw_status('alldown');
    my $opened = $before->{servers}[0]{conns_opened} + $before->{servers}[1]{conns_opened};
    $res = req(proto => 'h2', url => gw_url('/alldown/y'));
    ok t_cmp($res->{code}, 503, "alldown: the next request → 503 as well");
    my $after = gw_status('alldown');
    ok t_cmp($after->{servers}[0]{conns_opened} + $after->{servers}[1]{conns_opened}, $opened + 1,
             "alldown: ... after one probe connect to one server, not one per server");
    ok t_cmp($after->{all_down} >= 1 ? 1 : 0, 1, "alldown: the status page counts it");
    my $log = error_log_since($mark);
    ok t_cmp($log =~ /H2GW00105: upstream alldown: server h2c:\/\/127\.0\.0\.1:\d+ is down/ ? 1 : 0, 1,
             "alldown: the error log says which server went down");
    ok t_cmp($log =~ /H2GW00203: upstream upstream:\/\/alldown\/: all servers down/ ? 1 : 0, 1,
             "alldown: the failed request's log line says all servers are down");
}

# ---- round robin --------------------------------------------------------------
{
    my $tag = tag();
    req(proto => 'h1', url => gw_url("/rr/data?size=10&tag=$tag")) for 1 .. 10;
    ok t_cmp(up_stats($tag)->{seen}, 5, "rr: the first server got 5 of 10");
    ok t_cmp(up_stats_at($up2, $tag)->{seen}, 5, "rr: the second server got the other 5");
}

# ---- the peer's stream limit: MAX_CONCURRENT_STREAMS 1 and 20 clients ---------
{
    my $port = $ENV{H2GW_UP_MCS1_PORT};
    up_reset_at($port);
    my $tag = tag();
    my @res = parallel_get(20, gw_url("/one/data?size=1000&delay=300&tag=$tag"));
    ok t_cmp(scalar(grep { $_->{code} == 200 } @res), 20, "mcs1: all 20 concurrent requests succeed");
    my $s = up_stats_at($port);
    ok t_cmp($s->{max_conns_open} <= 4 ? 1 : 0, 1, "mcs1: within max-conns=4 ($s->{max_conns_open} connections at most)");
    ok t_cmp($s->{conns} <= 4 ? 1 : 0, 1, "mcs1: no connection opened beyond them ($s->{conns} in all)");
    my $t = up_stats_at($port, $tag);
    ok t_cmp($t->{seen}, 20, "mcs1: each request reached the upstream once");
    ok t_cmp($t->{rst_recv} // 0, 0, "mcs1: no stream was refused or reset (none sent over the limit)");
}

# ---- 200 HTTP/1.1 clients, max-conns=2 ------------------------------------------
{
    up_reset_at($up2);
    my $tag = tag();
    my $before = gw_status('two');
    # The upstream holds every answer (wait=) until requests wait in the
    # gateway's queue: the 2 x 50 streams are all taken. Then it answers.
    # (The status page it polls needs a worker thread while 200 clients
    # hold theirs: t/conf/extra.conf.in gives the test Apache 256.)
    my $releaser = fork // die "fork: $!";
    if (!$releaser) {
        for (1 .. 1200) {
            my $st = gw_status('two');
            last if $st && $st->{queued} > 0;
            sleep 0.1;
        }
        `curl -sS --http2-prior-knowledge 'http://127.0.0.1:$up2/_release?tag=$tag'`;
        exit 0;
    }
    # (timeout=120 on this upstream: however slowly 200 clients start, the
    # first ones wait for the release, not for a timeout.)
    my @res = parallel_get(200, gw_url("/two/data?size=1000&wait=$tag&tag=$tag"),
                           max_time => 150);
    waitpid $releaser, 0;
    ok t_cmp(scalar(grep { $_->{code} == 200 } @res), 200, "two: all 200 parallel clients succeed");
    my $s = up_stats_at($up2);
    ok t_cmp($s->{max_conns_open} <= 2 ? 1 : 0, 1, "two: the upstream never saw more than 2 connections ($s->{max_conns_open})");
    ok t_cmp(up_stats_at($up2, $tag)->{seen}, 200, "two: each request was seen once");
    my $after = gw_status('two');
    ok t_cmp($after->{queued_total} > $before->{queued_total} ? 1 : 0, 1,
             "two: requests waited in the queue (" . ($after->{queued_total} - $before->{queued_total}) . ")");
    ok t_cmp($after->{servers}[0]{streams_active} + $after->{queued}, 0, "two: afterwards no stream is active or queued");
    print "# two: upstream conns=$s->{conns} max_conns_open=$s->{max_conns_open} max_conc=$s->{max_conc} queued=",
        $after->{queued_total} - $before->{queued_total}, " retries=", $after->{servers}[0]{retries}, "\n";
}

# ---- queue-timeout ------------------------------------------------------------------
{
    my $mark = error_log_mark();
    my $pid = fork // die;
    if (!$pid) {
        exec 'curl', '-sS', '-o', '/dev/null', gw_url('/tiny/data?size=10&delay=2500');
        exit 127;
    }
    sleep 0.3;
    my $res = req(proto => 'h1', url => gw_url('/tiny/data?size=10'));
    ok t_cmp($res->{code}, 503, "tiny: no free stream within queue-timeout → 503");
    waitpid $pid, 0;
    ok t_cmp($? >> 8, 0, "tiny: the request holding the only stream completed");
    my $log = error_log_since($mark);
    ok t_cmp($log =~ /H2GW00106: upstream tiny: no free stream within queue-timeout/ ? 1 : 0, 1,
             "tiny: the queue timeout is logged");
    ok t_cmp(gw_status('tiny')->{queue_timeouts} >= 1 ? 1 : 0, 1, "tiny: the status page counts it");
}

# ---- max-requests and idle-timeout ---------------------------------------------------
{
    up_reset_at($up2);
    my %conn;
    for (1 .. 7) {
        my $res = req(proto => 'h1', url => gw_url('/maxreq/data?size=10'));
        $conn{ $res->{hdr}{'x-h2up-conn'} }++;
    }
    ok t_cmp(scalar(keys %conn), 3, "max-requests=3: 7 requests used 3 connections");
    ok t_cmp(join(',', sort { $a <=> $b } values %conn), '1,3,3', "max-requests=3: 3, 3 and 1 requests on them");

    my $a = req(proto => 'h1', url => gw_url('/idle/data?size=10'));
    sleep 1.2;
    my $st = gw_status("h2c://127.0.0.1:$up2 (H2GWPass /idle/)");
    my $b = req(proto => 'h1', url => gw_url('/idle/data?size=10'));
    ok t_cmp($st->{servers}[0]{conns_open}, 0, "idle-timeout=0.5: the idle connection was closed");
    ok t_cmp($b->{code} == 200 && $a->{hdr}{'x-h2up-conn'} ne $b->{hdr}{'x-h2up-conn'} ? 1 : 0, 1,
             "idle-timeout: the next request succeeds on a new connection");

    $a = req(proto => 'h1', url => gw_url('/maxlife/data?size=10'));
    $b = req(proto => 'h1', url => gw_url('/maxlife/data?size=10'));
    sleep 0.8;
    my $c = req(proto => 'h1', url => gw_url('/maxlife/data?size=10'));
    ok t_cmp($a->{hdr}{'x-h2up-conn'}, $b->{hdr}{'x-h2up-conn'}, "max-lifetime=0.5: a young connection is reused");
    ok t_cmp($c->{code} == 200 && $c->{hdr}{'x-h2up-conn'} ne $b->{hdr}{'x-h2up-conn'} ? 1 : 0, 1,
             "max-lifetime: past it, the next request goes to a new connection");
    ok t_cmp(access_log_line("/rr/data") =~ / server=h2c:\/\/127\.0\.0\.1:\d+$/ ? 1 : 0, 1,
             "the access log names the server a request went to (%{h2gw-server}n)");
}

# ---- liveness ----------------------------------------------------------------------------
{
    up_reset_at($up2);
    my $a = req(proto => 'h1', url => gw_url('/ping/data?size=10'));
    sleep 0.6;
    my $b = req(proto => 'h1', url => gw_url('/ping/data?size=10'));
    ok t_cmp($b->{code}, 200, "ping=0.3: a request after 0.6 s idle succeeds");
    ok t_cmp($a->{hdr}{'x-h2up-conn'}, $b->{hdr}{'x-h2up-conn'}, "ping: ... on the same connection, checked first");
    ok t_cmp(up_stats_at($up2)->{pings} >= 1 ? 1 : 0, 1, "ping: the upstream got a PING");

    my $port = $ENV{H2GW_UP_NOPING_PORT};
    up_reset_at($port);
    my $mark = error_log_mark();
    $a = req(proto => 'h1', url => gw_url('/noping/data?size=10'));
    sleep 0.6;
    $b = req(proto => 'h1', url => gw_url('/noping/data?size=10'));
    ok t_cmp($b->{code}, 200, "noping: an upstream that stops answering PINGs costs no request");
    ok t_cmp($a->{hdr}{'x-h2up-conn'} ne $b->{hdr}{'x-h2up-conn'} ? 1 : 0, 1, "noping: ... it went to a new connection");
    ok t_cmp(error_log_since($mark) =~ /H2GW00313: no PING ACK/ ? 1 : 0, 1, "noping: the dropped connection is logged");

    # The upstream drops an idle connection without a word (no GOAWAY).
    my $tag = tag();
    $a = req(proto => 'h1', url => gw_url("/up/data?size=10&close_after=1&tag=$tag"));
    sleep 0.3;
    $b = req(proto => 'h2', url => gw_url("/up/data?size=10&tag=$tag"));
    ok t_cmp($a->{code} . ' ' . $b->{code}, '200 200', "silently closed idle connection: the next request succeeds");
    ok t_cmp($a->{hdr}{'x-h2up-conn'} ne $b->{hdr}{'x-h2up-conn'} ? 1 : 0, 1, "... on a new connection");

    $mark = error_log_mark();
    my $res = req(proto => 'h1', url => gw_url('/silent/x'), args => ['--max-time', '20']);
    ok t_cmp($res->{code}, 503, "silent upstream (no SETTINGS) → 503 after settings-timeout");
    ok t_cmp(error_log_since($mark) =~ /no SETTINGS \(or ACK\) from the upstream within settings-timeout/ ? 1 : 0, 1,
             "silent upstream: the cause is logged");
}

# ---- read-timeout ------------------------------------------------------------------------
{
    my $res = req(proto => 'h2', url => gw_url('/rt/data?size=6000&piece=1000&drip=300'));
    ok t_cmp($res->{code} == 200 && $res->{size} == 6000 ? 1 : 0, 1,
             "read-timeout=1: a body that keeps moving for 1.8 s completes");
    $res = req(proto => 'h2', url => gw_url('/rt/data?size=2000&piece=1000&drip=1600'), quiet => 1);
    ok t_cmp($res->{curl_exit} != 0 ? 1 : 0, 1, "read-timeout=1: a 1.6 s gap aborts the response (curl exit $res->{curl_exit})");
}

# ---- the status page ---------------------------------------------------------------------
{
    my $before = gw_status("h2c://127.0.0.1:$ENV{H2GW_UP_PORT}");
    req(proto => 'h1', url => gw_url('/up/data?size=5000')) for 1 .. 3;
    my $after = gw_status("h2c://127.0.0.1:$ENV{H2GW_UP_PORT}");
    ok t_cmp($after->{servers}[0]{requests} - $before->{servers}[0]{requests}, 3, "status: requests count up with traffic");
    ok t_cmp($after->{servers}[0]{bytes_in} - $before->{servers}[0]{bytes_in}, 15000, "status: response bytes count up");
    my $html = `curl -sS '${\ gw_url('/h2gw-status')}'`;
    ok t_cmp($html =~ /<h2>mod_h2gw upstreams \(process \d+\)<\/h2>.*<h3>halfdown<\/h3>/s ? 1 : 0, 1,
             "status: the HTML page lists the upstreams");
    # mod_status (loaded by the test server) shows the same section.
    my $ms = `curl -sS '${\ gw_url('/server-status')}'`;
    ok t_cmp($ms =~ /<h2>mod_h2gw upstreams \(process \d+\)<\/h2>.*<h3>halfdown<\/h3>/s ? 1 : 0, 1,
             "status: mod_status's page carries the mod_h2gw section");
    my $auto = `curl -sS '${\ gw_url('/server-status?auto')}'`;
    ok t_cmp(($auto =~ /Total Accesses/ && $auto !~ /mod_h2gw/) ? 1 : 0, 1,
             "status: mod_status's short form (?auto) stays plain");
}
