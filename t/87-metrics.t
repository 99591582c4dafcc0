# Counters of all children in one place: a second Apache, started here with
# two child processes (event MPM) and conf/h2gw-metrics.conf, proxies to
# the C test upstream until both children served requests. The status
# JSON's totals and the Prometheus metrics (h2gw-metrics) must equal the
# traffic sent exactly, and the sum of the children's own counts too; the
# metrics must pass `promtool check metrics` and a strict parser here.
# Totals survive a child killed with SIGKILL, a graceful restart, and a
# graceful restart that adds an upstream (counts carried over).
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use H2GW::Upstream;
use File::Path qw(make_path remove_tree);
use File::Spec;
use FindBin;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep);

plan tests => 70;

my $vars = Apache::Test::vars();
my $top = File::Spec->rel2abs("$FindBin::Bin/..");
my $httpd = $vars->{httpd};
my $mods = $ENV{H2GW_HTTPD_MODULES};
my $up = $ENV{H2GW_UP_PORT};
my $up2 = $ENV{H2GW_UP2_PORT};
my $dead = $ENV{H2GW_DEAD_PORT};
my $dir = "$vars->{t_logs}/metrics-$$";
my $port = H2GW::Upstream::free_port();
my $base = "http://127.0.0.1:$port";
my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};

# Upstream names as the module makes them: an H2GWPass with a server URL
# is named after it, and one with other pool values after its prefix too.
my $UP = "h2c://127.0.0.1:$up";
my $UPURL = "h2c://127.0.0.1:$up";
my $BS = "h2c://127.0.0.1:$up (H2GWPass /back\\slash/)";
my $QU = "h2c://127.0.0.1:$up (H2GWPass /q\"uote/)";
my $DEAD = "h2c://127.0.0.1:$dead";

remove_tree($dir);
make_path("$dir/run", "$dir/htdocs");
chmod 0755, $dir;

sub write_conf {
    my ($extra) = @_;
    my $user = $> == 0 ? "User nobody\nGroup nogroup" : '';
    open my $fh, '>', "$dir/httpd.conf" or die "$dir/httpd.conf: $!";
    print $fh <<"CONF";
ServerRoot "$dir"
DefaultRuntimeDir "$dir/run"
ServerName localhost
Listen 127.0.0.1:$port
PidFile "$dir/run/httpd.pid"
ErrorLog "$dir/error_log"
LogLevel warn h2gw:info
$user
LoadModule mpm_event_module "$mods/mod_mpm_event.so"
LoadModule authz_core_module "$mods/mod_authz_core.so"
LoadModule authz_host_module "$mods/mod_authz_host.so"
LoadModule h2gw_module "$top/.libs/mod_h2gw.so"
# Two children that stay: small ones, never reaped for idling, and as
# many spare threads wanted as both have (else a restart brings one).
StartServers 2
ServerLimit 2
ThreadLimit 4
ThreadsPerChild 4
MaxRequestWorkers 8
MinSpareThreads 8
MaxSpareThreads 16
MaxConnectionsPerChild 0
KeepAlive Off
DocumentRoot "$dir/htdocs"
<Directory />
    Require all granted
</Directory>
H2GWConnectTimeout 3
H2GWPass /up/ $UPURL/
H2GWUpstream pair h2c://127.0.0.1:$up h2c://127.0.0.1:$up2 lb=round-robin
H2GWPass /pair/ upstream://pair/
H2GWPass /dead/ h2c://127.0.0.1:$dead/ retry=30
# One stream at a time per child: the rest wait in its queue.
H2GWUpstream tiny h2c://127.0.0.1:$up max-conns=1 max-streams=1 queue-timeout=20
H2GWPass /tiny/ upstream://tiny/
# Label values to escape: a backslash, a double quote.
H2GWPass /back\\slash/ $UPURL/ window=100K
H2GWPass '/q"uote/' $UPURL/ window=120K
$extra
Include "$top/conf/h2gw-metrics.conf"
CONF
    close $fh;
}

sub apachectl {
    my @args = @_;
    system($httpd, '-f', "$dir/httpd.conf", @args) == 0
        or die "httpd -f $dir/httpd.conf @args failed: $?";
}

sub parent_pid {
    open my $fh, '<', "$dir/run/httpd.pid" or return 0;
    chomp(my $pid = <$fh> // '');
    return $pid || 0;
}

# The status page's JSON, decoded.
sub status {
    my $out = `curl -sS --max-time 10 '$base/h2gw-status?json'`;
    return eval { decode_json($out) };
}

# Live children that counted requests for the /up/ upstream: pid => n.
sub per_child {
    my ($st) = @_;
    my %n;
    for my $c (@{ $st->{children} // [] }) {
        my ($u) = grep { $_->{name} eq $UP } @{ $c->{upstreams} };
        $n{ $c->{pid} } = $u->{servers}[0]{requests};
    }
    return \%n;
}

# parallel_get() with its curls' status codes kept out of the TAP stream
# (they print them on stdout without a newline).
sub quiet_get {
    my @args = @_;
    open my $saved, '>&', \*STDOUT or die "dup: $!";
    open STDOUT, '>', '/dev/null' or die "/dev/null: $!";
    my @res = parallel_get(@args);
    open STDOUT, '>&', $saved or die "dup: $!";
    return @res;
}

# GETs to /up/ in parallel; each must answer 200. Returns how many.
my $sent = 0;
sub burst {
    my ($n) = @_;
    my @res = quiet_get($n, sub { "$base/up/data?size=1000&delay=30" });
    my $ok = grep { $_->{code} == 200 } @res;
    die "burst: only $ok of $n answered 200\n" unless $ok == $n;
    $sent += $n;
    return $n;
}

# The metrics, read strictly: every line is a comment (HELP, TYPE) or a
# sample; each family has HELP and TYPE once, before its samples; names
# and labels are well formed, values numbers; no series twice; counters
# end in _total, histograms' buckets grow and end in +Inf = _count.
# Returns ({ "name{sorted labels}" => value }, [problems]).
sub parse_metrics {
    my ($text) = @_;
    my (%help, %type, %val, @bad, %seen_family);
    my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
    my $n = 0;
    for my $line (split /\n/, $text, -1) {
        ++$n;
        next if $line eq '' && $n == scalar(split /\n/, $text, -1);
        if ($line =~ /^# HELP ($name_re) (.*)$/) {
            push @bad, "line $n: HELP of $1 twice" if $help{$1}++;
            next;
        }
        if ($line =~ /^# TYPE ($name_re) (counter|gauge|histogram|summary|untyped)$/) {
            push @bad, "line $n: TYPE of $1 twice" if $type{$1};
            push @bad, "line $n: TYPE of $1 after its samples" if $seen_family{$1};
            $type{$1} = $2;
            next;
        }
        if ($line !~ /^($name_re)(?:\{(.*)\})? (\S+)$/) {
            push @bad, "line $n: not a sample: $line";
            next;
        }
        my ($name, $lab, $value) = ($1, $2 // '', $3);
        my %l;
        my $rest = $lab;
        while (length $rest) {
            if ($rest =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)//) {
                my ($k, $v) = ($1, $2);
                push @bad, "line $n: label $k twice" if exists $l{$k};
                $v =~ s/\\(["\\n])/$1 eq 'n' ? "\n" : $1/ge;
                $l{$k} = $v;
            }
            else {
                push @bad, "line $n: bad labels: {$lab}";
                last;
            }
        }
        push @bad, "line $n: value '$value' is not a number"
            unless $value =~ /^(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)$/;
        my $family = $name;
        $family =~ s/_(bucket|sum|count)$// unless $type{$name};
        push @bad, "line $n: $name has no TYPE before it" unless $type{$family};
        push @bad, "line $n: $name has no HELP" unless $help{$family};
        $seen_family{$family} = 1;
        push @bad, "line $n: counter $name does not end in _total"
            if ($type{$family} // '') eq 'counter' && $name !~ /_total$/;
        my $key = $name . '{' . join(',', map { "$_=$l{$_}" } sort keys %l) . '}';
        push @bad, "line $n: $key twice" if exists $val{$key};
        $val{$key} = $value;
    }
    # Histograms: cumulative buckets ending in +Inf, equal to _count.
    for my $h (grep { $type{$_} eq 'histogram' } keys %type) {
        my %series;
        for my $k (keys %val) {
            next unless $k =~ /^\Q$h\E_bucket\{(.*)\}$/;
            my $labels = $1;
            my ($le) = $labels =~ /(?:^|,)le=([^,]*)/;
            (my $rest = $labels) =~ s/(?:^|,)le=[^,]*//;
            $rest =~ s/^,//;
            push @{ $series{$rest} }, [$le eq '+Inf' ? 9**9**9 : $le, $val{$k}];
        }
        for my $s (keys %series) {
            my @b = sort { $a->[0] <=> $b->[0] } @{ $series{$s} };
            for my $i (1 .. $#b) {
                push @bad, "$h\{$s}: bucket le=$b[$i][0] below the one before"
                    if $b[$i][1] < $b[$i - 1][1];
            }
            push @bad, "$h\{$s}: no +Inf bucket" unless $b[-1][0] == 9**9**9;
            my $count = $val{"${h}_count{$s}"};
            push @bad, "$h\{$s}: +Inf bucket $b[-1][1] != _count " . ($count // 'none')
                unless defined $count && $count == $b[-1][1];
            push @bad, "$h\{$s}: no _sum" unless defined $val{"${h}_sum{$s}"};
        }
    }
    return (\%val, \@bad);
}

# Fetches /h2gw-metrics; returns (values, problems, content type, text).
sub scrape {
    my $hfile = "$dir/metrics.hdr";
    my $text = `curl -sS --max-time 10 -D '$hfile' '$base/h2gw-metrics'`;
    my $ctype = '';
    if (open my $fh, '<', $hfile) {
        while (<$fh>) {
            $ctype = $1 if /^content-type:\s*(.*?)\r?$/i;
        }
    }
    my ($val, $bad) = parse_metrics($text);
    return ($val, $bad, $ctype, $text);
}

sub m_key {
    my ($name, %l) = @_;
    return $name . '{' . join(',', map { "$_=$l{$_}" } sort keys %l) . '}';
}

# Sum of a family's samples whose labels include %l.
sub m_sum {
    my ($val, $name, %l) = @_;
    my $sum = 0;
    KEY: for my $k (keys %$val) {
        next unless $k =~ /^\Q$name\E\{(.*)\}$/;
        my $labels = ",$1,";
        for (keys %l) {
            next KEY unless index($labels, ",$_=$l{$_},") >= 0;
        }
        $sum += $val->{$k};
    }
    return $sum;
}

sub promtool_check {
    my ($text, $label) = @_;
    my $file = "$dir/scrape.txt";
    open my $fh, '>', $file or die;
    print $fh $text;
    close $fh;
    my $out = `'$promtool' check metrics < '$file' 2>&1`;
    my $rc = $? >> 8;
    ok t_cmp("rc=$rc $out", "rc=0 ", "$label: promtool check metrics finds nothing");
}

write_conf('');
apachectl('-k', 'start');
END {
    local $?;
    if (-e "$dir/httpd.conf" && parent_pid()) {
        system($httpd, '-f', "$dir/httpd.conf", '-k', 'stop');
        for (1 .. 100) { last unless kill 0, parent_pid(); sleep 0.1 }
    }
}
my $st;
for (1 .. 100) {
    $st = status();
    last if $st && ($st->{totals}{children} // 0) == 2;
    sleep 0.1;
}
ok t_cmp($st->{totals}{children}, 2, "the second Apache runs two children with counter slots");
ok t_cmp($st->{totals}{shared} ? 1 : 0, 1, "its counters are in shared memory");

# Traffic until both children served some.
my $children;
for my $round (1 .. 40) {
    burst(8);
    $children = per_child(status());
    last if (grep { $_ > 0 } values %$children) >= 2;
}
my @busy = grep { $children->{$_} > 0 } keys %$children;
ok t_cmp(scalar(@busy), 2, "both children served requests ("
         . join(', ', map { "$_: $children->{$_}" } sort keys %$children) . ")");

# Uploads, round robin over two servers, and an upstream that is down.
my $body = make_file(5000);
my ($uploads, $upload_resp) = (0, 0);
for (1 .. 6) {
    my $res = req(proto => 'h1', url => "$base/up/upload", method => 'POST',
                  upload => $body);
    ++$uploads if $res->{code} == 200;
    $upload_resp += $res->{size};
}
ok t_cmp($uploads, 6, "six uploads of 5000 bytes answered 200");
my @pair = quiet_get(10, "$base/pair/data?size=10");
ok t_cmp(scalar(grep { $_->{code} == 200 } @pair), 10, "ten requests to the two-server upstream answered 200");
my @dead = quiet_get(5, "$base/dead/data?size=10");
ok t_cmp(join(',', map { $_->{code} } @dead), '503,503,503,503,503', "five requests to a dead server answered 503");
ok t_cmp(req(proto => 'h1', url => "$base/back\\slash/data?size=7")->{code}, 200, "a request through the pass named with a backslash");
ok t_cmp(req(proto => 'h1', url => "$base/q%22uote/data?size=7")->{code}, 200, "a request through the pass named with a double quote");

# The status JSON: totals and the children's own counts agree with it.
$st = status();
my ($tu) = grep { $_->{name} eq $UP } @{ $st->{totals}{upstreams} };
my $tsv = $tu->{servers}[0];
my $gets = $sent;
ok t_cmp($tsv->{requests}, $gets + 6, "status totals: requests of /up/ = GETs + uploads sent ($gets + 6)");
ok t_cmp($tsv->{bytes_in}, $gets * 1000 + $upload_resp, "status totals: response bytes = 1000 per GET and the uploads' answers");
ok t_cmp($tsv->{bytes_out}, 6 * 5000, "status totals: request bytes = 5000 per upload");
ok t_cmp($tsv->{header_time}{count}, $gets + 6, "status totals: one header time per request");
my $sum = 0;
$sum += $_ for values %{ per_child($st) };
ok t_cmp($sum, $gets + 6, "the children's own counts add up to the totals");
ok t_cmp($st->{totals}{children}, 2, "two live children in the totals");
my ($td) = grep { $_->{name} eq $DEAD } @{ $st->{totals}{upstreams} };
my $fails = 0;
$fails += $_ for values %{ $td->{failures} };
ok t_cmp($fails, 5, "status totals: five failures of the dead upstream, by cause ("
         . join(' ', map { "$_=$td->{failures}{$_}" } grep { $td->{failures}{$_} } sort keys %{ $td->{failures} }) . ")");
ok t_cmp($td->{servers}[0]{health}, 'down', "status totals: the dead server is down");
my $html = `curl -sS --max-time 10 '$base/h2gw-status'`;
ok t_cmp($html =~ /mod_h2gw: all processes/ && $html =~ /Child processes/ ? 1 : 0, 1,
         "the HTML status page shows the totals and the children");

# The metrics.
my ($m, $bad, $ctype, $text) = scrape();
ok t_cmp($ctype, 'text/plain; version=0.0.4; charset=utf-8', "metrics: text format 0.0.4");
ok t_cmp(req(proto => 'h1', url => "$base/h2gw-metrics", method => 'POST')->{code}, 405, "metrics: POST is refused (405)");
my $head = req(proto => 'h1', url => "$base/h2gw-metrics", method => 'HEAD');
# (curl -I writes the headers where the body would go.)
ok t_cmp($head->{code} == 200 && $head->{body} !~ /h2gw_/ ? 1 : 0, 1, "metrics: HEAD answers without a body");
ok t_cmp(join("\n", @$bad), '', "metrics: the strict parser finds no problem");
promtool_check($text, 'the second Apache');
my %sv = (upstream => $UP, server => "$UPURL/");
ok t_cmp($m->{ m_key('h2gw_requests_total', %sv) }, $gets + 6, "metrics: h2gw_requests_total of /up/");
ok t_cmp($m->{ m_key('h2gw_received_bytes_total', %sv) }, $gets * 1000 + $upload_resp, "metrics: h2gw_received_bytes_total");
ok t_cmp($m->{ m_key('h2gw_sent_bytes_total', %sv) }, 30000, "metrics: h2gw_sent_bytes_total");
ok t_cmp($m->{ m_key('h2gw_response_header_seconds_count', %sv) }, $gets + 6, "metrics: header-time histogram count");
ok t_cmp($m->{ m_key('h2gw_response_header_seconds_sum', %sv) } >= $gets * 0.03 ? 1 : 0, 1,
         "metrics: header-time sum is at least the upstream's delays (30 ms each)");
ok t_cmp($m->{ m_key('h2gw_response_header_seconds_bucket', %sv, le => '0.025') } <= 6 ? 1 : 0, 1,
         "metrics: within 25 ms at most the six undelayed uploads, none of the delayed GETs");
ok t_cmp(m_sum($m, 'h2gw_requests_total', upstream => 'pair'), 10, "metrics: ten requests over both servers of pair");
ok t_cmp($m->{ m_key('h2gw_requests_total', upstream => 'pair', server => "h2c://127.0.0.1:$up2") } > 0 ? 1 : 0, 1,
         "metrics: the second server of pair took some");
ok t_cmp(m_sum($m, 'h2gw_failures_total', upstream => $DEAD), 5, "metrics: five failures of the dead upstream");
ok t_cmp($m->{ m_key('h2gw_connections_failed_total', upstream => $DEAD, server => "h2c://127.0.0.1:$dead/") } >= 1 ? 1 : 0, 1,
         "metrics: its failed connects are counted");
ok t_cmp($m->{ m_key('h2gw_server_up', upstream => $DEAD, server => "h2c://127.0.0.1:$dead/") }, 0, "metrics: the dead server is down");
ok t_cmp($m->{ m_key('h2gw_upstream_up', upstream => $DEAD) }, 0, "metrics: the dead upstream is down");
ok t_cmp($m->{ m_key('h2gw_server_up', %sv) }, 1, "metrics: the live server is up");
ok t_cmp($m->{ m_key('h2gw_requests_total', upstream => $BS, server => "$UPURL/") }, 1, "metrics: a backslash in a label value, escaped and read back");
ok t_cmp($m->{ m_key('h2gw_requests_total', upstream => $QU, server => "$UPURL/") }, 1, "metrics: a double quote in a label value, escaped and read back");
ok t_cmp(index($text, 'upstream="h2c://127.0.0.1:' . $up . ' (H2GWPass /back\\\\slash/)"') >= 0
         && index($text, 'upstream="h2c://127.0.0.1:' . $up . ' (H2GWPass /q\\"uote/)"') >= 0 ? 1 : 0, 1,
         "metrics: both written escaped (\\\\ and \\\")");
ok t_cmp($m->{'h2gw_child_processes{}'}, 2, "metrics: two child processes");
ok t_cmp($m->{ m_key('h2gw_connections_opened_total', %sv) } >= 2 ? 1 : 0, 1,
         "metrics: each child opened its own connection");

# Requests queued: six at once, each held 1.5 s, one at a time per child.
my $qpid = fork // die "fork: $!";
if (!$qpid) {
    my @r = quiet_get(6, "$base/tiny/data?size=10&delay=1500");
    POSIX::_exit((grep { $_->{code} == 200 } @r) == 6 ? 0 : 1);
}
my $queued = 0;
for (1 .. 100) {
    my ($q) = scrape();
    $queued = $q->{ m_key('h2gw_queued', upstream => 'tiny') } // 0;
    last if $queued >= 1;
    sleep 0.05;
}
ok t_cmp($queued >= 1 ? 1 : 0, 1, "metrics: h2gw_queued shows requests waiting ($queued)");
waitpid $qpid, 0;
ok t_cmp($?, 0, "all six queued requests answered 200");
($m) = scrape();
ok t_cmp($m->{ m_key('h2gw_queued', upstream => 'tiny') }, 0, "metrics: nothing queued afterwards");
ok t_cmp($m->{ m_key('h2gw_queue_waits_total', upstream => 'tiny') } >= 2 ? 1 : 0, 1,
         "metrics: h2gw_queue_waits_total counts them ("
         . $m->{ m_key('h2gw_queue_waits_total', upstream => 'tiny') } . ")");
ok t_cmp(m_sum($m, 'h2gw_requests_total', upstream => 'tiny'), 6, "metrics: six requests to tiny");

# A child killed outright: its counts stay in the totals.
my @pids = sort keys %{ per_child(status()) };
kill 'KILL', $pids[0];
my $back = 0;
for (1 .. 100) {
    my $c = per_child(status());
    $back = (keys %$c) == 2 && !exists $c->{ $pids[0] };
    last if $back;
    sleep 0.2;
}
ok t_cmp($back ? 1 : 0, 1, "a new child replaces the one killed (SIGKILL)");
($m) = scrape();
ok t_cmp($m->{ m_key('h2gw_requests_total', %sv) }, $gets + 6, "metrics: the killed child's requests still count");
burst(4);
($m) = scrape();
ok t_cmp($m->{ m_key('h2gw_requests_total', %sv) }, $sent + 6, "metrics: and the new child's add to them");

# Graceful restart, the same upstreams: the segment is reused.
my $before = per_child(status());
apachectl('-k', 'graceful');
my $renewed = 0;
for (1 .. 150) {
    my $c = per_child(status());
    $renewed = (keys %$c) == 2 && !grep { exists $before->{$_} } keys %$c;
    last if $renewed;
    sleep 0.2;
}
ok t_cmp($renewed ? 1 : 0, 1, "graceful restart: two new children");
($m, $bad, undef, $text) = scrape();
ok t_cmp($m->{ m_key('h2gw_requests_total', %sv) }, $sent + 6, "graceful restart: totals kept");
ok t_cmp($m->{ m_key('h2gw_received_bytes_total', %sv) }, $sent * 1000 + $upload_resp, "graceful restart: bytes kept");
ok t_cmp(m_sum($m, 'h2gw_failures_total', upstream => $DEAD), 5, "graceful restart: failures kept");
my $new_sum = 0;
$new_sum += $_ for values %{ per_child(status()) };
ok t_cmp($new_sum, 0, "graceful restart: the new children's own counts start at 0");
my $n0 = $sent;
for my $round (1 .. 40) {
    burst(8);
    my $c = per_child(status());
    last if (grep { $_ > 0 } values %$c) >= 2;
}
($m) = scrape();
ok t_cmp($m->{ m_key('h2gw_requests_total', %sv) }, $sent + 6, "graceful restart: new requests add to the totals");
$new_sum = 0;
$new_sum += $_ for values %{ per_child(status()) };
ok t_cmp($new_sum, $sent - $n0, "graceful restart: the new children's own counts are the requests since");
ok t_cmp(join("\n", @$bad), '', "graceful restart: the metrics still parse");

# Graceful restart with another upstream: what remains is carried over.
write_conf("H2GWPass /extra/ h2c://127.0.0.1:$up2/ window=80K");
$before = per_child(status());
apachectl('-k', 'graceful');
$renewed = 0;
for (1 .. 150) {
    my $c = per_child(status());
    $renewed = (keys %$c) == 2 && !grep { exists $before->{$_} } keys %$c;
    last if $renewed;
    sleep 0.2;
}
ok t_cmp($renewed ? 1 : 0, 1, "restart with a new upstream: two new children");
ok t_cmp(req(proto => 'h1', url => "$base/extra/data?size=3")->{code}, 200, "the new upstream answers");
($m, $bad, undef, $text) = scrape();
ok t_cmp(join("\n", @$bad), '', "restart with a new upstream: the metrics parse");
promtool_check($text, 'after a change of upstreams');
ok t_cmp($m->{ m_key('h2gw_requests_total', %sv) }, $sent + 6, "restart with a new upstream: the totals of /up/ carried over");
ok t_cmp(m_sum($m, 'h2gw_failures_total', upstream => $DEAD), 5, "restart with a new upstream: the failures carried over");
ok t_cmp(m_sum($m, 'h2gw_requests_total', upstream => 'pair'), 10, "restart with a new upstream: pair carried over");
ok t_cmp($m->{ m_key('h2gw_requests_total', upstream => "h2c://127.0.0.1:$up2", server => "h2c://127.0.0.1:$up2/") }, 1,
         "restart with a new upstream: it counts from 0");
my $log = '';
if (open my $fh, '<', "$dir/error_log") { local $/; $log = <$fh> }
ok t_cmp($log =~ /H2GW00004: upstreams changed/ ? 1 : 0, 1, "the error log says the counters were carried over");
my @stuck = $log =~ /(AH0004[56]:[^\n]*)/g;
ok t_cmp(scalar(@stuck), 0, "no child had to be killed (@stuck)");

# The suite's own server: many upstreams, one child; its metrics parse.
my $main = `curl -sS --max-time 10 '${\ gw_url('/h2gw-metrics')}'`;
my ($mv, $mbad) = parse_metrics($main);
ok t_cmp(join("\n", @$mbad), '', "the test server's metrics: the strict parser finds no problem");
promtool_check($main, "the test server");
ok t_cmp($mv->{'h2gw_child_processes{}'}, 1, "the test server: one child process");
ok t_cmp(defined $promtool ? 1 : 0, 1, "promtool is installed (tools/deps.sh: prometheus)");
