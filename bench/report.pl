#!/usr/bin/perl
# Turns bench/run.sh's raw results into the Markdown report: medians per
# workload and column (failed runs left out and listed), ratios to
# mod_proxy_http2 and to the ceiling, the slow-reader comparison, and the
# issue's targets (met / not met). Core Perl only.
#   report.pl META RUNS SWEEP SLOWCHECK STATUS_JSON [MEM]
use strict;
use warnings;

my ($meta_f, $runs_f, $sweep_f, $slow_f, $status_f, $mem_f) = @ARGV;
die "usage: report.pl META RUNS SWEEP SLOWCHECK STATUS_JSON\n" unless $runs_f;

my (%meta, @wl, %wl_desc, %errcount, %errlines);
open my $mf, '<', $meta_f or die "$meta_f: $!";
while (<$mf>) {
    chomp;
    my @f = split /\t/;
    if ($f[0] eq 'wl') { push @wl, $f[1]; $wl_desc{$f[1]} = $f[2]; }
    elsif ($f[0] eq 'errlog') { $errcount{$f[1]} = $f[2]; }
    elsif ($f[0] eq 'errline') { push @{ $errlines{$f[1]} }, $f[2]; }
    else { $meta{$f[0]} = $f[1]; }
}
close $mf;

my @cols = qw(gw mp ceil direct);
my %colname = (gw => 'mod_h2gw', mp => 'mod_proxy_http2', ceil => 'ceiling',
               nx => 'nghttpx', direct => 'direct');

# ---------------------------------------------------------------- runs
my (%runs, @hdr);
open my $rf, '<', $runs_f or die "$runs_f: $!";
while (<$rf>) {
    chomp;
    my @f = split /\t/, $_, -1;
    if (!@hdr) { @hdr = @f; next; }
    my %r;
    @r{@hdr} = @f;
    # derived per-run figures
    $r{cpu10k} = $r{ap_cpu_s} ne '' && $r{done} > 0
        ? $r{ap_cpu_s} / $r{done} * 10000 : undef;
    $r{cpugb} = $r{ap_cpu_s} ne '' && $r{bytes} > 0
        ? $r{ap_cpu_s} / ($r{bytes} / 1e9) : undef;
    $r{upus} = $r{up_cpu_s} ne '' && $r{done} > 0
        ? $r{up_cpu_s} / $r{done} * 1e6 : undef;
    # The CPU of the other two parties per GB, and the machine's idle time
    # (runs.tsv of older run.sh versions has no load_cpu_s, idle_s, busy_s).
    $r{upgb} = $r{up_cpu_s} ne '' && $r{bytes} > 0
        ? $r{up_cpu_s} / ($r{bytes} / 1e9) : undef;
    $r{loadgb} = ($r{load_cpu_s} // '') ne '' && $r{bytes} > 0
        ? $r{load_cpu_s} / ($r{bytes} / 1e9) : undef;
    $r{idle_pct} = ($r{idle_s} // '') ne '' && ($r{busy_s} // '') ne ''
                   && $r{idle_s} + $r{busy_s} > 0
        ? 100 * $r{idle_s} / ($r{idle_s} + $r{busy_s}) : undef;
    $r{rss_mib} = $r{rss_kb} ne '' ? $r{rss_kb} / 1024 : undef;
    $r{ctx} = undef if $r{ctx} eq '';
    $r{mean_ms} = $r{mean_us} / 1000;
    $r{p99_ms} = $r{p99_us} / 1000;
    push @{ $runs{ $r{workload} }{ $r{column} } }, \%r;
}
close $rf;
# run.sh --nghttpx: nghttpx as one more proxy, before direct.
my $has_nx = grep { $runs{$_}{nx} } keys %runs;
@cols = qw(gw mp ceil nx direct) if $has_nx;

sub median {
    my @v = sort { $a <=> $b } grep { defined } @_;
    return undef unless @v;
    my $n = @v;
    return $n % 2 ? $v[ $n / 2 ] : ($v[ $n / 2 - 1 ] + $v[ $n / 2 ]) / 2;
}
sub ok_runs { my ($w, $c) = @_; grep { $_->{ok} } @{ $runs{$w}{$c} // [] } }
sub med {
    my ($w, $c, $k) = @_;
    return median(map { $_->{$k} } ok_runs($w, $c));
}
sub maxv {
    my @v = grep { defined && $_ ne '' } @_;
    my $m;
    for (@v) { $m = $_ if !defined $m || $_ > $m }
    return $m;
}
sub fmt {
    my ($v) = @_;
    return 'n/a' unless defined $v;
    my $a = abs $v;
    return sprintf('%.0f', $v) if $a >= 1000;
    return sprintf('%.1f', $v) if $a >= 100;
    return sprintf('%.2f', $v) if $a >= 1;
    return sprintf('%.3f', $v) if $a >= 0.01;
    return $v == 0 ? '0' : sprintf('%.2g', $v);
}
sub ratio {
    my ($a, $b) = @_;
    return '' unless defined $a && defined $b && $b > 0;
    return sprintf('%.2f×', $a / $b);
}

my %is_bulk = ('100k' => 1, '20m' => 1, 'up1m' => 1, 'up1m-h2' => 1);
my @out;
sub emit { push @out, join('', @_) }

emit "# mod_h2gw side-by-side benchmark, $meta{date}";
emit '';
emit "- Mode: **$meta{mode}**, $meta{rounds} round(s), each h2load run $meta{duration} s "
  . "(after $meta{warmup_ms} ms warm-up), columns interleaved within each round "
  . "(order rotating), medians of the successful runs; took $meta{elapsed_s} s.";
emit "- Host: $meta{host}. $meta{httpd}; $meta{h2load}.";
emit "- Module: $meta{module}.";
{
    my @o = sort { $a <=> $b } map { $_->{other_cpu_s} } grep { $_->{other_cpu_s} ne '' }
            map { @$_ } map { values %$_ } values %runs;
    emit "- Load average at the start: $meta{load_start}. CPU used by other processes during "
      . "the measured periods (machine busy time minus this column's Apache, the upstream and "
      . "h2load): median " . fmt(median(@o)) . " CPU-s, max " . fmt($o[-1]) . " CPU-s per "
      . "$meta{duration} s run" . ((@o && $o[-1] / $meta{duration} > 0.15)
          ? ' — **the machine was not quiet; runs with more than 15% of a core are named under Failures and notes**'
          : '') . '.' if @o;
}
emit "- Apache, every Apache column alike: MPM event, **ServerLimit $meta{server_limit}** "
  . "(StartServers 1, so one child process per instance), ThreadsPerChild $meta{threads}, "
  . "KeepAlive with MaxKeepAliveRequests 0, Protocols h2c http/1.1, H2Direct on, no access log; "
  . "one instance per column, each in a session of its own as a daemon is (with autogroup "
  . "scheduling the kernel shares the CPU between it and the group of h2load and the upstream). mod_h2gw with its defaults; mod_proxy_http2 with "
  . "`ProxyPass /mp/ h2c://… enablereuse=on`; ceiling: bench/mod_bench_ceiling.c.";
if ($meta{sweep}) {
    my %sw;
    if (open my $sf, '<', $sweep_f) {
        while (<$sf>) { chomp; my @f = split /\t/; $sw{ $f[0] }{ $f[1] } = $f[2]; }
    }
    my @parts;
    for my $c (qw(gw mp ceil)) {
        my $s = join ', ', map { "$_: " . fmt($sw{$c}{$_}) } sort { $a <=> $b } keys %{ $sw{$c} };
        push @parts, "$colname{$c} ($s req/s) → **" . $meta{"workers_$c"} . "**";
    }
    emit "- H2MinWorkers = H2MaxWorkers swept over ($meta{workers_list}) with one 1 KiB HTTP/2 run "
      . "per setting; each column uses its best: " . join('; ', @parts) . '.';
} else {
    emit "- H2MinWorkers = H2MaxWorkers = $meta{workers_gw} for every Apache column "
      . "(no sweep" . ($meta{mode} eq 'quick' ? ' in --quick mode' : '') . ').';
}
if (($meta{upstream} // 'h2up') eq 'nghttpd') {
    emit "- Upstream: **nghttpd** (nghttp2's server, `-n 1`, h2c) serving files (sparse, "
      . "read as zeros) of each size; an upload is answered with a 1 KiB file after nghttpd "
      . "read the body; it keeps no counters, so the upstream request and connection figures "
      . "are blank. `direct` = h2load straight to it "
      . "(HTTP/2 only: the HTTP/1.1 workloads run there as h2c with -m 1 on as many connections).";
} else {
    emit "- Upstream: t/h2up --fixed-bodies (one process, single-threaded; /data bodies are "
      . "copies of one fixed 256 KiB random block, uploads are counted and dropped, nothing is "
      . "hashed). `direct` = h2load straight to it "
      . "(HTTP/2 only: the HTTP/1.1 workloads run there as h2c with -m 1 on as many connections).";
}
if ($has_nx) {
    emit "- nghttpx (`--nghttpx`): $meta{nghttpx}, `--frontend 127.0.0.1,PORT;no-tls` "
      . "(HTTP/1.1 and h2c), `--backend` to the same upstream with `proto=h2`, every other "
      . "option its default; an event-driven proxy that is not Apache, for reference. Its "
      . "\"Apache\" figures are its own: the master process and the worker process with its "
      . "threads.";
}
if ($meta{upstream_window}) {
    emit "- The upstream announces receive windows of **$meta{upstream_window} bytes** per stream "
      . "and per connection (`--upstream-window`; " . (($meta{upstream} // 'h2up') eq 'nghttpd'
      ? 'nghttpd -w/-W, 2^N - 1 bytes' : 'h2up --window/--conn-window')
      . "), not its default 64 KiB - 1: what any proxy or h2load can have of an upload in "
      . "flight to it.";
}
emit '';

# ---------------------------------------------------------------- main table
emit '## Results (medians)';
emit '';
emit '| workload | figure | ' . join(' | ', map { $colname{$_} } @cols)
  . ' | h2gw ÷ proxy_http2 | h2gw ÷ ceiling |' . ($has_nx ? ' nghttpx ÷ proxy_http2 |' : '');
emit '|---|---|' . ('--:|' x (@cols + 2 + ($has_nx ? 1 : 0)));
my @figs_small = (
    [ 'rps',     'req/s' ],
    [ 'mean_ms', 'mean latency, ms' ],
    [ 'p99_ms',  'p99 latency, ms' ],
    [ 'cpu10k',  'Apache CPU s / 10k req' ],
    [ 'upus',    'upstream CPU µs / req' ],
    [ 'rss_mib', 'Apache child peak RSS, MiB' ],
    [ 'ctx',     'Apache context switches / req' ],
);
my @figs_bulk = (
    [ 'mbps',    'MB/s' ],
    [ 'rps',     'req/s' ],
    [ 'mean_ms', 'mean latency, ms' ],
    [ 'p99_ms',  'p99 latency, ms' ],
    [ 'cpugb',   'Apache CPU s / GB' ],
    [ 'upus',    'upstream CPU µs / req' ],
    [ 'upgb',    'upstream CPU s / GB' ],
    [ 'loadgb',  'h2load CPU s / GB' ],
    [ 'idle_pct', 'machine idle, % of all CPUs' ],
    [ 'rss_mib', 'Apache child peak RSS, MiB' ],
    [ 'ctx',     'Apache context switches / req' ],
);
my @notes;
for my $w (@wl) {
    my $first = 1;
    my $figs = $is_bulk{$w} ? \@figs_bulk : \@figs_small;
    for my $f (@$figs) {
        my ($k, $label) = @$f;
        my %v;
        my @cells;
        for my $c (@cols) {
            my $all = $runs{$w}{$c} // [];
            my $nok = ok_runs($w, $c);
            if (!@$all) { push @cells, '–'; next; }
            if (!$nok) { push @cells, '**FAIL**'; next; }
            $v{$c} = med($w, $c, $k);
            my $cell = fmt($v{$c});
            $cell .= ' †' if $nok < @$all;
            push @cells, $cell;
        }
        my $name = $first ? "**$w**" : '';
        $first = 0;
        emit "| $name | $label | ", join(' | ', @cells), ' | ',
            ratio($v{gw}, $v{mp}), ' | ', ratio($v{gw}, $v{ceil}), ' |',
            ($has_nx ? ' ' . ratio($v{nx}, $v{mp}) . ' |' : '');
    }
    my @conn_cells;
    for my $c (@cols) {
        my @r = ok_runs($w, $c);
        if (!@r) { push @conn_cells, $c eq 'ceil' ? 'n/a' : '–'; next; }
        if ($c eq 'ceil') { push @conn_cells, 'n/a'; next; }
        push @conn_cells, fmt(maxv(map { $_->{up_conns} } @r)) . ' / '
                        . fmt(maxv(map { $_->{up_new} } @r));
    }
    emit "| | upstream conns used / opened (max of runs) | ", join(' | ', @conn_cells), ' | | |',
        ($has_nx ? ' |' : '');
    my @okc;
    for my $c (@cols) {
        my $all = $runs{$w}{$c} // [];
        my $nok = ok_runs($w, $c);
        push @okc, @$all ? ($nok == @$all ? "$nok/" . scalar(@$all) : "**$nok/" . scalar(@$all) . '**') : '–';
    }
    emit "| | runs ok | ", join(' | ', @okc), ' | | |', ($has_nx ? ' |' : '');
}
emit '';
emit 'Figures: MB/s = 10^6 bytes/s of response bodies received (uploads: request bodies sent '
  . 'by completed requests); latency from h2load --log-file (all requests of the main period; '
  . 'p99 = nearest rank); Apache CPU = utime+stime of the parent, its reaped and its live '
  . 'children (/proc/PID/stat) over h2load\'s main period, per 10,000 completed requests or '
  . 'per GB; upstream CPU = h2up utime+stime over the main period per completed request; RSS = VmHWM of the child (peak reset before each run '
  . 'through /proc/PID/clear_refs); upstream conns = h2up /_stats `conns` (connections that '
  . 'carried a request during the run) / `accepted` − 1 (new TCP connections; the /_stats '
  . 'request\'s own connection left out); context switches = voluntary + involuntary of '
  . 'all threads of the child, per completed request; h2load CPU = its utime+stime over the '
  . 'main period; machine idle = idle+iowait of /proc/stat over the main period, as a share of '
  . 'all CPU time (idle + busy) then. Apache figures are n/a for `direct`; upstream '
  . 'figures are n/a for the ceiling. † = some runs failed and are left out of the median '
  . '(see Failures).';
emit '';

# ---------------------------------------------------------------- A/B
# run.sh --ab-module: column gwb, another build of mod_h2gw, against gw
# round by round (within a round the columns run one after the other).
if (grep { $runs{$_}{gwb} } @wl) {
    emit '## A/B: mod_h2gw (A) against another build (B)';
    emit '';
    emit "- B: $meta{ab_module}"
      . ($meta{ab_params} ? "; H2GWPass parameters `$meta{ab_params}`" : '')
      . ($meta{ab_env} ? "; environment `$meta{ab_env}`" : '')
      . '. A: the module above.';
    emit '- B ÷ A for each round (both ran in it, one after the other), their median, '
      . 'and in how many rounds B did better (more throughput, less CPU, fewer switches).';
    emit '';
    emit '| workload | figure | A (median) | B (median) | B ÷ A per round | median B ÷ A | rounds B better |';
    emit '|---|---|--:|--:|---|--:|--:|';
    for my $w (@wl) {
        next unless $runs{$w}{gwb};
        my @figs = $is_bulk{$w}
            ? ([ 'mbps', 'MB/s', 1 ], [ 'cpugb', 'Apache CPU s / GB', -1 ],
               [ 'ctx', 'Apache context switches / req', -1 ])
            : ([ 'rps', 'req/s', 1 ], [ 'cpu10k', 'Apache CPU s / 10k req', -1 ],
               [ 'ctx', 'Apache context switches / req', -1 ]);
        my $first = 1;
        for my $f (@figs) {
            my ($k, $label, $dir) = @$f;
            my (%va, %vb);
            $va{ $_->{round} } = $_->{$k} for grep { defined $_->{$k} } ok_runs($w, 'gw');
            $vb{ $_->{round} } = $_->{$k} for grep { defined $_->{$k} } ok_runs($w, 'gwb');
            my @rounds = sort { $a <=> $b }
                         grep { defined $va{$_} && $va{$_} > 0 } keys %vb;
            my @r = map { $vb{$_} / $va{$_} } @rounds;
            my $better = grep { $dir > 0 ? $_ > 1 : $_ < 1 } @r;
            emit '| ', ($first ? "**$w**" : ''), " | $label | ", fmt(med($w, 'gw', $k)),
                ' | ', fmt(med($w, 'gwb', $k)), ' | ',
                join(', ', map { sprintf '%.2f', $_ } @r), ' | ',
                (@r ? sprintf('%.2f×', median(@r)) : 'n/a'), ' | ',
                (@r ? "$better of " . scalar(@r) : 'n/a'), ' |';
            $first = 0;
        }
    }
    emit '';
}

# ---------------------------------------------------------------- slow reader
emit '## One slow reader among fast ones';
emit '';
emit "Fast requests: $meta{slow}. The same fast load runs alone (`slow-off`), then while one "
  . 'client reads a large body slowly through the same column (`slow-on`; for mod_h2gw '
  . 'through the same shared upstream connection pool).';
emit '';
emit '| column | fast req/s alone | with slow | mean ms alone | with slow | p99 ms alone | with slow | p99 with ÷ alone | upstream conns (with slow) |';
emit '|---|--:|--:|--:|--:|--:|--:|--:|--:|';
my %slowv;
for my $c (@cols) {
    my @cells;
    for my $k (qw(rps mean_ms p99_ms)) {
        for my $w (qw(slow-off slow-on)) {
            my $all = $runs{$w}{$c} // [];
            my $nok = ok_runs($w, $c);
            my $v = med($w, $c, $k);
            $slowv{$c}{"$w.$k"} = $v;
            push @cells, !@$all ? '–' : !$nok ? '**FAIL**' : fmt($v) . ($nok < @$all ? ' †' : '');
        }
    }
    my $conns = $c eq 'ceil' ? 'n/a'
        : fmt(maxv(map { $_->{up_conns} } ok_runs('slow-on', $c)));
    emit "| $colname{$c} | ", join(' | ', @cells), ' | ',
        ratio($slowv{$c}{'slow-on.p99_ms'}, $slowv{$c}{'slow-off.p99_ms'}), " | $conns |";
}
my @slowprob;
if (open my $sf, '<', $slow_f) {
    while (<$sf>) {
        chomp;
        my (undef, $c, $round, $s0, $s1, $note) = split /\t/, $_, -1;
        push @slowprob, "$colname{$c} round $round: $note" if $note;
    }
}
emit '';
emit @slowprob ? 'Slow reader problems: ' . join('; ', @slowprob) . '.'
              : 'The slow reader stayed connected and kept receiving during every fast run.';
emit '';

# ---------------------------------------------------------------- memory
# mem.tsv: mem, column, clients, RSS before (kB), RSS after (kB), gateway
# streams active, clients connected
my %mem;
if ($mem_f && open my $memfh, '<', $mem_f) {
    while (<$memfh>) {
        chomp;
        my @f = split /\t/, $_, -1;
        next unless $f[0] eq 'mem';
        $mem{$f[1]} = { n => $f[2], before => $f[3], after => $f[4], streams => $f[5], ready => $f[6] };
    }
}
my $win = $meta{mem_window} || 262144;
my $mem_const = 32 * 1024 * 1024;
my $mem_net;
if ($mem{gw} && $mem{ceil}) {
    my ($g, $c) = @mem{qw(gw ceil)};
    my $gg = ($g->{after} - $g->{before}) * 1024;
    my $cg = ($c->{after} - $c->{before}) * 1024;
    $mem_net = $gg - $cg;
    emit "## Memory with $g->{n} clients that never read";
    emit '';
    emit "Each client asks for a body far larger than any buffer (bench/slowmany.pl, small receive "
      . "buffers) and reads nothing; RSS of the Apache child before and once all had stalled (RSS "
      . "steady for 1.5 s). Own instances: ThreadsPerChild clients + 64, SendBufferSize 16384 (the "
      . "kernel takes little of each response), mod_h2gw with max-conns for that many streams at the "
      . "upstream's 100 per connection.";
    emit '';
    emit '| column | clients connected | RSS before, MiB | RSS after, MiB | growth, MiB | growth per client, KiB |';
    emit '|---|--:|--:|--:|--:|--:|';
    for my $c (qw(gw ceil)) {
        my $m = $mem{$c};
        my $gr = $m->{after} - $m->{before};
        emit "| $colname{$c}" . ($c eq 'gw' && $m->{streams} ne '' ? " ($m->{streams} upstream streams active)" : '')
          . " | " . ($m->{ready} || 0) . ' | ' . fmt($m->{before} / 1024) . ' | ' . fmt($m->{after} / 1024)
          . ' | ' . fmt($gr / 1024) . ' | ' . fmt($m->{n} ? $gr / $m->{n} : undef) . ' |';
    }
    emit '';
    emit 'mod_h2gw beyond what the ceiling pays for as many connections: ' . fmt($mem_net / 1048576)
      . ' MiB, ' . fmt($mem_net / 1024 / $g->{n}) . " KiB per stream; the stream window is "
      . ($win / 1024) . ' KiB (a GET has no request buffer).';
    emit '';
}

# ---------------------------------------------------------------- targets
emit '## Targets of the issue (this run)';
emit '';
emit 'The event-driven request path issue (the interactive target is measured by bench/interactive.sh):';
emit '';
my @targets;
# checks: [label, value, op, limit, nghttpx's value or undef]; $any: met when
# one check is (else all).
sub target_of {
    my ($any, $text, @checks) = @_;
    my ($n_ok, $n_data) = (0, 0);
    my @parts;
    for my $ch (@checks) {
        my ($label, $v, $op, $lim) = @$ch;
        if (!defined $v) { push @parts, "$label n/a"; next; }
        my $ok = $op eq '>=' ? $v >= $lim : $v <= $lim;
        ++$n_data;
        ++$n_ok if $ok;
        # Three decimals below 10, so that a ratio just short of its
        # limit (1.495 against 1.5) does not print as the limit.
        push @parts, sprintf('%s %s (%s %s)', $label, tfmt($v), $op eq '>=' ? '≥' : '≤', $lim);
    }
    my $met = $any ? ($n_ok > 0 ? 1 : $n_data == @checks ? 0 : undef)
                   : ($n_data < @checks ? ($n_ok < $n_data ? 0 : undef) : $n_ok == @checks ? 1 : 0);
    my $verdict = !defined $met ? '**no data**' : $met ? '**met**' : '**not met**';
    emit "- $text: $verdict: " . join(', ', @parts) . '.';
    my @nx = grep { defined $_->[4] } @checks;
    if ($has_nx && @nx) {
        emit '  (nghttpx on the same checks: '
          . join(', ', map { "$_->[0] " . tfmt($_->[4]) } @nx) . '.)';
    }
}
sub tfmt { my ($v) = @_; defined $v && abs($v) < 10 ? sprintf('%.3f', $v) : fmt($v) }
sub target { target_of(0, @_) }
sub target_any { target_of(1, @_) }
sub rat { my ($a, $b) = @_; return defined $a && defined $b && $b > 0 ? $a / $b : undef }
# A check of workload $w's figure $k: mod_h2gw's against column $den's,
# with nghttpx's against the same beside it (undef without --nghttpx).
sub ratio_check {
    my ($label, $w, $k, $den, $op, $lim) = @_;
    return [ $label, rat(med($w, 'gw', $k), med($w, $den, $k)), $op, $lim,
             rat(med($w, 'nx', $k), med($w, $den, $k)) ];
}
# Uploads keep every CPU of this machine busy: h2load, Apache and the
# upstream share them. At 1.5x mod_proxy_http2's MB/s with no CPU idle,
# the three may spend at most ncpu / (1.5 * MB/s) CPU-s per GB together;
# with mod_h2gw's own h2load and upstream costs per GB, what is left is
# the Apache CPU per GB that 1.5x allows, set beside what mod_h2gw spent
# and what the ceiling (Apache only reading the body) spent.
sub upload_budget {
    my ($w) = @_;
    my ($mbps, $load, $up) = (med($w, 'mp', 'mbps'), med($w, 'gw', 'loadgb'), med($w, 'gw', 'upgb'));
    return unless defined $mbps && $mbps > 0 && defined $load && defined $up && $meta{ncpu};
    my $all = $meta{ncpu} / (1.5 * $mbps / 1000);
    emit "  (What 1.5× takes on this machine: at " . fmt(1.5 * $mbps) . " MB/s with no CPU idle, "
      . "h2load, Apache and the upstream may spend " . fmt($all) . " CPU-s per GB together; "
      . "mod_h2gw's h2load and upstream spent " . fmt($load) . ' and ' . fmt($up)
      . ", which leaves Apache " . fmt($all - $load - $up) . " s per GB. mod_h2gw's Apache spent "
      . fmt(med($w, 'gw', 'cpugb')) . ' with the machine ' . fmt(med($w, 'gw', 'idle_pct'))
      . "% idle; the ceiling, which only reads the body, " . fmt(med($w, 'ceil', 'cpugb')) . '.)';
}
my $sl = $meta{server_limit} || 1;
target('1 MiB uploads ≥ 1.5× mod_proxy_http2\'s MB/s, Apache CPU per GB ≤ 0.7× its',
       ratio_check('MB/s ratio', 'up1m', 'mbps', 'mp', '>=', 1.5),
       ratio_check('CPU/GB ratio', 'up1m', 'cpugb', 'mp', '<=', 0.7));
upload_budget('up1m');
target('The same over the HTTP/2 frontend (the issue measured its uploads over h2)',
       ratio_check('MB/s ratio', 'up1m-h2', 'mbps', 'mp', '>=', 1.5),
       ratio_check('CPU/GB ratio', 'up1m-h2', 'cpugb', 'mp', '<=', 0.7));
upload_budget('up1m-h2');
target_any('20 MiB downloads ≥ 2.4× mod_proxy_http2, or ≥ 0.85× the ceiling',
       ratio_check('MB/s ratio to proxy_http2', '20m', 'mbps', 'mp', '>=', 2.4),
       ratio_check('MB/s ratio to ceiling', '20m', 'mbps', 'ceil', '>=', 0.85));
emit '  (For scale: direct, h2load straight to the upstream, '
  . fmt(med('20m', 'direct', 'mbps')) . ' MB/s; mod_h2gw ÷ direct '
  . (ratio(med('20m', 'gw', 'mbps'), med('20m', 'direct', 'mbps')) || 'n/a')
  . ', mod_proxy_http2 ÷ direct '
  . (ratio(med('20m', 'mp', 'mbps'), med('20m', 'direct', 'mbps')) || 'n/a') . '.)';
target('1 KiB over HTTP/2: Apache CPU per request ≤ 0.6× mod_proxy_http2\'s',
       ratio_check('CPU/request ratio', '1k-h2', 'cpu10k', 'mp', '<=', 0.6));
target('1 KiB over HTTP/1.1 ≥ 1.3× mod_proxy_http2\'s req/s',
       ratio_check('req/s ratio', '1k-h1', 'rps', 'mp', '>=', 1.3));
if ($mem{gw}) {
    target("Memory: RSS growth with $mem{gw}{n} stalled streams within streams × (window + request buffer) "
           . "+ 32 MiB (growth net of the ceiling's, which is Apache's own per connection)",
           [ 'net growth, MiB', defined $mem_net ? $mem_net / 1048576 : undef, '<=',
             sprintf('%.0f', ($mem{gw}{n} * $win + $mem_const) / 1048576) ]);
}
emit '';
emit 'Kept from the earlier performance issue that brought this benchmark, so that they do not regress:';
emit '';
target('1 KiB over HTTP/1.1 with ≤ 2 upstream connections per child',
       [ 'upstream conns per child (max of runs)',
         do { my $m = maxv(map { $_->{up_conns} } ok_runs('1k-h1', 'gw')); defined $m ? $m / $sl : undef },
         '<=', 2 ]);
target('1 KiB over HTTP/2 ≥ 1.3× mod_proxy_http2\'s req/s',
       ratio_check('req/s ratio', '1k-h2', 'rps', 'mp', '>=', 1.3));
target('Apache CPU per GB ≤ 0.45× mod_proxy_http2 (20 MiB downloads)',
       ratio_check('CPU/GB ratio', '20m', 'cpugb', 'mp', '<=', 0.45));
for my $w (qw(1k-h2 1k-h1)) {
    target("Upstream CPU per request ≤ 0.3× mod_proxy_http2's ($w)",
           [ 'upstream CPU/request ratio', rat(med($w, 'gw', 'upus'), med($w, 'mp', 'upus')), '<=', 0.3 ]);
}
emit '';
emit 'For information: Apache CPU per GB, h2gw ÷ proxy_http2: 100 KiB '
  . (ratio(med('100k', 'gw', 'cpugb'), med('100k', 'mp', 'cpugb')) || 'n/a')
  . ', uploads ' . (ratio(med('up1m', 'gw', 'cpugb'), med('up1m', 'mp', 'cpugb')) || 'n/a')
  . '; slow reader, p99 of the fast requests with ÷ without: mod_h2gw '
  . (ratio($slowv{gw}{'slow-on.p99_ms'}, $slowv{gw}{'slow-off.p99_ms'}) || 'n/a')
  . ', mod_proxy_http2 '
  . (ratio($slowv{mp}{'slow-on.p99_ms'}, $slowv{mp}{'slow-off.p99_ms'}) || 'n/a') . '.';
emit '';

# ---------------------------------------------------------------- failures, notes
emit '## Failures and notes';
emit '';
my $nfail = 0;
for my $w (sort keys %runs) {
    for my $c (@cols) {
        for my $r (@{ $runs{$w}{$c} // [] }) {
            # routine notes, explained above, are not repeated here
            my $note = join '; ', grep { !/^direct: h2c -m 1$|^slow reader at / }
                       split /; /, $r->{note} // '';
            next unless !$r->{ok} || $note;
            $nfail++ unless $r->{ok};
            emit "- $w / $colname{$c} / round $r->{round}: "
              . ($r->{ok} ? 'ok' : '**FAILED** (left out of the medians)')
              . ($note ? " — $note" : '');
        }
    }
}
emit "- No failed run." unless $nfail;
emit '';
emit 'RST_STREAM seen by the upstream in a successful run are normally the requests still in '
  . 'flight when h2load stops at the end of its duration (the proxy cancels them upstream).';
emit '';
if ($status_f && open my $jf, '<', $status_f) {
    local $/;
    my $j = <$jf> // '';
    if ($j =~ /"servers":\[\{(.*?)\}\]/s) {
        my $s = $1;
        my @kv;
        for my $k (qw(conns_open conns_opened conns_failed requests retries resets_sent
                      resets_recv timeouts goaways_recv bytes_out bytes_in writes_blocked last_error)) {
            push @kv, "$k=$1" if $s =~ /"$k":("(?:[^"\\]|\\.)*"|[^,}]*)/;
        }
        emit "mod_h2gw status page at the end (its one child): " . join(', ', @kv) . '.';
        emit '';
    }
}
emit 'Apache error_log lines (LogLevel warn, start/stop notices left out of the excerpt):';
emit '';
for my $c (qw(gw mp ceil)) {
    emit "- $colname{$c}: " . ($errcount{$c} // 0) . ' lines'
      . ($errlines{$c} ? '; most frequent: ' . join(' | ', map { s/^\s+//r } @{ $errlines{$c} }) : '');
}
print join("\n", @out), "\n";
