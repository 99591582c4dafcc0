# Multiplexing: 50 concurrent requests from 50 separate HTTP/1.1 client
# connections share one upstream connection of the (single) child
# process, all 50 streams open on it at once; the same holds for 50
# concurrent streams of one HTTP/2 client connection.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 8;

# The upstream holds every answer (wait=) until it has seen all 50
# requests, so they overlap however slowly the clients start.
my $hold = tag();
my $path = "/reuse/data?size=2048&wait=$hold";

# Releases the answers held by wait=$hold once the upstream saw $n
# requests of $tag.
sub release_when_seen {
    my ($tag, $n, $hold) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    for (1 .. 600) {
        last if (up_stats($tag)->{seen} // 0) >= $n;
        select undef, undef, undef, 0.1;
    }
    `curl -sS --http2-prior-knowledge '${\ up_url("/_release?tag=$hold")}'`;
    exit 0;
}

up_reset();
my $releaser = release_when_seen('reuse1', 50, $hold);
my @pids;
my $dir = Apache::Test::vars('t_logs');
for my $i (1 .. 50) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        exec 'curl', '-sS', '--http1.1', '-o', "$dir/reuse-$i.body",
            '-D', "$dir/reuse-$i.hdr", gw_url("$path&tag=reuse1");
        exit 127;
    }
    push @pids, $pid;
}
my $failed = 0;
for (@pids) { waitpid($_, 0); $failed++ if $? }
waitpid $releaser, 0;
ok t_cmp($failed, 0, "50 concurrent HTTP/1.1 clients all completed");

my (%status, %conn);
for my $i (1 .. 50) {
    open my $fh, '<', "$dir/reuse-$i.hdr" or next;
    while (<$fh>) {
        $status{$1}++ if /^HTTP\/1\.1 (\d+)/;
        $conn{$1}++ if /^x-h2up-conn: (\d+)/i;
    }
    unlink "$dir/reuse-$i.hdr", "$dir/reuse-$i.body";
}
ok t_cmp($status{200} // 0, 50, "all 50 answered 200");
ok t_cmp(scalar(keys %conn), 1, "all 50 were carried by one upstream connection");
my $st = up_stats();
ok t_cmp($st->{conns}, 1, "the upstream accepted one connection for them");
ok t_cmp($st->{max_conc}, 50, "all 50 streams were open on it at once");

# One HTTP/2 client connection with 50 concurrent streams.
# (mod_http2 works on only a few streams of a connection at first, so the
# upstream cannot be made to hold all 50 here: each is held 0.5 s.)
up_reset();
$path = '/reuse/data?size=2048&delay=500';
my $out = `h2load -n 50 -c 1 -m 50 '${\ gw_url("$path&tag=reuse2")}' 2>&1`;
ok t_cmp($out =~ /50 succeeded, 0 failed/ ? 1 : 0, 1, "50 streams over one HTTP/2 client connection succeed") or print map { "# $_\n" } grep { /requests:|status codes|finished/ } split /\n/, $out;
$st = up_stats();
ok t_cmp($st->{conns}, 1, "the upstream still saw one connection");
ok t_cmp(up_stats('reuse2')->{seen}, 50, "the upstream saw each request once");
