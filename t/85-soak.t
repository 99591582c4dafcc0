# Soak: mixed requests from parallel HTTP/1.1 and HTTP/2 clients while
# the upstream is restarted several times (a new instance takes over the
# port, the old one says GOAWAY and finishes what it has). Not one
# request may fail, none may reach an upstream twice, and afterwards the
# status page shows no stream or connection left behind. Then the same
# load while each old instance is killed with SIGKILL (a new one already
# listens): no POST may reach an upstream twice, and no GET may fail
# (one lost with its connection is resent: a server always answers).
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use H2GW::Upstream;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(sleep time);

plan tests => 12;

my $port = $ENV{H2GW_SOAK_PORT};
my $dir = Apache::Test::vars('t_logs');
my $reqlog = "$dir/soak-requests.log";
unlink $reqlog;
my @up_args = ('--request-log', $reqlog);

my $up = H2GW::Upstream::start(name => 'soak', port => $port, args => \@up_args);

my $workers = 6;
my $per_worker = 250;
my $file = make_file(1000);

# Runs the clients; every second a new upstream instance takes over the
# port and the old one is stopped with $stop. Returns the restarts.
sub run_load {
    my ($phase, $workers, $per_worker, $stop, $get_extra) = @_;
    $get_extra //= '';
    my @pids;
    for my $w (1 .. $workers) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            open my $out, '>', "$dir/soak-$w.res" or die;
            for my $i (1 .. $per_worker) {
                my $tag = "soak${phase}w${w}x$i";
                my $proto = ($i + $w) % 2 ? 'h1' : 'h2';
                my $res;
                if ($i % 5 == 0) {
                    $res = req(proto => $proto, method => 'POST', upload => $file, quiet => 1,
                               url => gw_url("/soak/upload?tag=$tag"));
                    my $ok = $res->{code} == 200
                        && $res->{body} eq "size=1000\nsha256=" . sha256_file($file) . "\n";
                    print $out "$tag $proto POST $res->{code} ", ($ok ? 'ok' : 'bad'), "\n";
                }
                else {
                    my $size = int(rand(200_000));
                    $res = req(proto => $proto, quiet => 1,
                               url => gw_url("/soak/data?size=$size&seed=$i$get_extra&tag=$tag"));
                    my $ok = $res->{code} == 200 && $res->{size} == $size
                        && $res->{sha256} eq ($res->{hdr}{'x-h2up-sha256'} // '');
                    # short: an answer cut off (its upstream died mid-body)
                    my $short = $res->{code} == 200 && $res->{size} < $size;
                    print $out "$tag $proto GET $res->{code} ",
                        ($ok ? 'ok' : $short ? 'short' : 'bad'), "\n";
                }
            }
            close $out;
            exit 0;
        }
        push @pids, $pid;
    }

    # Restart the upstream every second while the clients run.
    my $restarts = 0;
    while (grep { waitpid($_, 1) == 0 } @pids) {
        sleep 1;
        last unless grep { kill 0, $_ } @pids;
        my $new = H2GW::Upstream::start(name => "soak$phase$restarts", port => $port, args => \@up_args);
        $stop->($up->{pid});
        $up = $new;
        $restarts++;
    }
    waitpid($_, 0) for @pids;
    return $restarts;
}

# The clients' results: (total, failed, {proto method => n},
# {method => [failed tags]}).
sub results {
    my ($workers) = @_;
    my ($total, $failed, %by, %bad) = (0, 0);
    for my $w (1 .. $workers) {
        open my $fh, '<', "$dir/soak-$w.res" or die;
        while (<$fh>) {
            my ($tag, $proto, $method, $code, $ok) = split;
            $total++;
            $by{"$proto $method"}++;
            if ($ok ne 'ok') {
                $failed++;
                push @{ $bad{$method} }, "$tag:$code:$ok";
                print "# failed: $_";
            }
        }
        unlink "$dir/soak-$w.res";
    }
    return ($total, $failed, \%by, \%bad);
}

# How often the upstreams saw each tag of a phase.
sub seen {
    my ($phase) = @_;
    my %seen;
    open my $lf, '<', $reqlog or die "$reqlog: $!";
    while (<$lf>) {
        chomp;
        $seen{$_}++ if /^soak${phase}w/;
    }
    return \%seen;
}

my $restarts = run_load('g', $workers, $per_worker, sub { H2GW::Upstream::stop($_[0]) });
my ($total, $failed, $by) = results($workers);
my %by = %$by;
my %seen = %{ seen('g') };
my $twice = grep { $_ > 1 } values %seen;
my $st = gw_status('soak');
my $sv = $st->{servers}[0];
print "# soak: $total requests (", join(', ', map { "$_: $by{$_}" } sort keys %by),
    "), $restarts upstream restarts, $failed failed, ", scalar(keys %seen),
    " seen by the upstreams, $twice seen twice; gateway: conns_opened=$sv->{conns_opened}",
    " goaways_recv=$sv->{goaways_recv} retries=$sv->{retries} requests=$sv->{requests}\n";

ok t_cmp($restarts >= 4 ? 1 : 0, 1, "the upstream was restarted $restarts times under load");
ok t_cmp($total, $workers * $per_worker, "every client request ran");
ok t_cmp($failed, 0, "no request failed across the restarts");
ok t_cmp($twice, 0, "no request reached an upstream twice");
ok t_cmp(scalar(keys %seen), $total, "every request reached an upstream exactly once");

# Idle now: nothing may be left active, and the open connections are
# the ones the current upstream instance has.
sleep 0.5;
$st = gw_status('soak');
$sv = $st->{servers}[0];
ok t_cmp($sv->{streams_active} + $st->{queued}, 0, "status: no stream active or queued afterwards");
# (the upstream does not count the connection that asks for its stats)
my $upconns = up_stats_at($port)->{conns_open};
ok t_cmp($sv->{conns_open} + $sv->{conns_draining} + $sv->{conns_starting}, $upconns,
         "status: the gateway holds exactly the connections the live upstream has ($upconns)");

# The same load while each old instance dies with SIGKILL: no GOAWAY,
# the requests on its connections are lost with them. GETs wait 0.2 s
# for their answer, so that each kill finds some in flight.
my $kmark = error_log_mark();
my $killed = run_load('k', 4, 100, sub { kill 'KILL', $_[0]; waitpid($_[0], 0) }, '&delay=200');
my ($ktotal, $kfailed, $kby, $kbad) = results(4);
my $kseen = seen('k');
my @posts_twice = grep { /x(\d+)$/ && $1 % 5 == 0 && $kseen->{$_} > 1 } keys %$kseen;
my $gets_twice = grep { /x(\d+)$/ && $1 % 5 != 0 && $kseen->{$_} > 1 } keys %$kseen;
$st = gw_status('soak');
$sv = $st->{servers}[0];
print "# SIGKILL soak: $ktotal requests (", join(', ', map { "$_: $kby->{$_}" } sort keys %$kby),
    "), $killed upstreams killed, $kfailed failed (GET ", scalar(@{ $kbad->{GET} // [] }), ", POST ",
    scalar(@{ $kbad->{POST} // [] }), "), $gets_twice GETs resent; gateway: retries=$sv->{retries}\n";
ok t_cmp($killed >= 3 ? 1 : 0, 1, "SIGKILL: $killed upstream instances were killed under load");
ok t_cmp($ktotal, 4 * 100, "SIGKILL: every client request ran");
ok t_cmp(scalar(@posts_twice), 0, "SIGKILL: no POST reached an upstream twice");
# A GET whose answer had begun when its upstream died cannot be resent:
# the client sees it cut short (200 and fewer bytes: counted as failed
# above, never as complete), or, when the answer's headers had reached
# the gateway but not yet the client, a 502 whose log line says so (the
# kill can land between the two). Every other lost GET is resent.
my $begun = () = error_log_since($kmark)
    =~ /H2GW00203: .*after the upstream's response had begun \(GET not sent again\)/g;
my @get_lost = grep { !/:200:short$/ } @{ $kbad->{GET} // [] };
my @get_502 = grep { /:502:/ } @get_lost;
ok t_cmp(scalar(@get_lost) == scalar(@get_502) && scalar(@get_502) <= $begun ? 1 : 0, 1,
         "SIGKILL: no GET failed before its answer began (a server always listened; lost ones "
         . "were resent): " . scalar(@get_lost) . " lost, $begun logged as begun at the gateway");
H2GW::Upstream::stop($up->{pid});
ok t_cmp(alive_when_idle(), '0/0',
         "leak check: no stream or response chunk of the module is left alive (streams/chunks)");
