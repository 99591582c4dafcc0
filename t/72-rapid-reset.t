# Rapid reset: HTTP/2 clients send requests and cancel each ~60 ms later
# while the upstream holds them. 10,000 such requests after a warm-up of
# 2,000: every request the upstream saw is cancelled there (RST_STREAM
# reaches it, none completes), the gateway is left with no active or
# queued stream and none of the module's streams or response chunks is
# still allocated, and the child's RSS stays flat.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use Time::HiRes qw(sleep);

plan tests => 8;

my $vars = Apache::Test::vars();
my $h2rr = "$vars->{top_dir}/t/h2up/h2rr";
$h2rr = "$vars->{serverroot}/h2up/h2rr" unless -x $h2rr;
my $name = "h2c://127.0.0.1:$ENV{H2GW_UP_PORT}";

sub rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}

sub run {
    my ($count, $tag) = @_;
    my $out = `'$h2rr' --port $vars->{port} --count $count --concurrency 100 --after 60 --path '/up/data?size=100&delay=3000&tag=$tag'`;
    print "# h2rr: $out";
    return $out;
}

sub settled {
    my $st;
    for (1 .. 100) {
        $st = gw_status($name);
        last if $st->{servers}[0]{streams_active} == 0 && $st->{queued} == 0;
        sleep 0.1;
    }
    return $st;
}

my $pid = gw_status()->{pid};
run(2000, tag());
settled();
my $rss0 = rss_kb($pid);
my $before = gw_status($name)->{servers}[0];

my $tag = tag();
my $out = run(10000, $tag);
# (The gateway's HTTP/2 layer closes a connection now and then under so
# many resets; what was in flight there is cancelled by the close, and a
# request sent after the layer chose its GOAWAY's last stream is refused
# by it: h2rr counts those as ended; under ASan some runs had a whole
# connection's 100 refused so. None may be answered: the upstream holds
# every request for 3 s.)
my ($sent, $reset, $answered, $closed, $ended) =
    $out =~ /^sent=(\d+) reset=(\d+) answered=(\d+) .* closed=(\d+) ended=(\d+)/;
my $all = ($sent // 0) == 10000 && ($answered // 1) == 0
          && ($reset // 0) + ($closed // 0) + ($ended // 0) == 10000;
print STDERR "# h2rr: $out" unless $all;
ok t_cmp($all ? 1 : 0, 1,
         "10,000 requests sent, none answered, each reset or closed by the client "
         . "or refused by the server first");
my $st = settled();
my $sv = $st->{servers}[0];
ok t_cmp($sv->{streams_active} + $st->{queued}, 0, "afterwards the gateway has no active or queued stream");

my $up;
for (1 .. 50) {
    $up = up_stats($tag);
    last if ($up->{seen} // 0) == ($up->{rst_recv} // -1);
    sleep 0.1;
}
print "# upstream: seen=$up->{seen} rst_recv=$up->{rst_recv} completed=", $up->{completed} // 0,
    "; gateway resets_sent +", $sv->{resets_sent} - $before->{resets_sent}, "\n";
ok t_cmp(($up->{seen} // 0) > 0 ? 1 : 0, 1, "requests reached the upstream before their cancel ($up->{seen})");
ok t_cmp($up->{rst_recv}, $up->{seen}, "the upstream got a RST_STREAM for every one it saw");
ok t_cmp($up->{completed} // 0, 0, "none of them completed upstream");
ok t_cmp($sv->{resets_sent} - $before->{resets_sent} >= $up->{seen} ? 1 : 0, 1,
         "the status page counts the resets sent");
ok t_cmp(alive_when_idle(), '0/0',
         "leak check: no stream or response chunk of the module is left alive (streams/chunks)");
my $rss1 = rss_kb($pid);
my $grow = $rss1 - $rss0;
print "# child RSS: $rss0 kB after warm-up, $rss1 kB after 10,000 more ($grow kB)\n";
if ($ENV{H2GW_SANITIZED}) {
    # ASan's quarantine keeps freed memory: RSS says nothing there (the
    # plain run asserts it; the leak check above holds in both).
    skip("RSS is not meaningful under ASan", 0);
}
else {
    ok t_cmp($grow < 16 * 1024 ? 1 : 0, 1, "the child's RSS stays flat (grew $grow kB, bound 16 MiB)");
}
