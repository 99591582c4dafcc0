package H2GW::Test;
# Helpers for the mod_h2gw suite: requests through Apache over HTTP/1.1
# or HTTP/2 (curl), requests straight to the C test upstream, its
# counters, digests and the module's access-log notes.
use strict;
use warnings;
use Exporter 'import';
use Apache::Test ();
use Digest::SHA;
use File::Temp qw(tempfile);
use IO::Handle;
use IO::Select;
use POSIX ();
use Time::HiRes qw(sleep);

our @EXPORT = qw(gw_url up_url req up_stats up_reset sha256_file
                 make_file frontends access_log_line error_log_since
                 error_log_mark tag up_stats_at up_reset_at gw_status
                 parallel_get alive_when_idle handler_wakeups read_n
                 piped stream_client read_h1_response);

my $vars = Apache::Test::vars();

sub gw_url { "http://127.0.0.1:$vars->{port}$_[0]" }
sub up_url { "http://127.0.0.1:$ENV{H2GW_UP_PORT}$_[0]" }

# The two client-side protocols every proxying test runs over.
sub frontends { ('h1', 'h2') }

# req(proto => 'h1'|'h2', url => URL, method => M, headers => [..],
#     upload => FILE, chunked => 1, args => [...extra curl args])
# Returns { code, status, headers => [[name, value]...], hdr => {lc name
# => last value}, body_file, size, sha256, curl_exit }.
sub req {
    my %o = @_;
    my ($hfh, $hfile) = tempfile(DIR => $vars->{t_logs}, UNLINK => 1);
    my ($bfh, $bfile) = tempfile(DIR => $vars->{t_logs}, UNLINK => 1);
    my @cmd = ('curl', '-sS', '--path-as-is', '-o', $bfile, '-D', $hfile,
               '-w', '%{http_code} %{time_starttransfer} %{time_total}');
    push @cmd, $o{proto} eq 'h2' ? '--http2-prior-knowledge' : '--http1.1';
    push @cmd, '-X', $o{method} if $o{method} && $o{method} ne 'HEAD';
    push @cmd, '-I' if $o{method} && $o{method} eq 'HEAD';
    push @cmd, map { ('-H', $_) } @{ $o{headers} // [] };
    if ($o{upload}) {
        if ($o{chunked}) {
            # -T from stdin: HTTP/1.1 chunked, HTTP/2 without content-length
            push @cmd, '-T', '-';
        }
        else {
            push @cmd, '--data-binary', "\@$o{upload}";
        }
    }
    push @cmd, @{ $o{args} // [] }, $o{url};
    my $code;
    {
        my $pid = open(my $out, '-|') // die "fork: $!";
        if (!$pid) {
            if ($o{upload} && $o{chunked}) {
                open STDIN, '<', $o{upload} or die "$o{upload}: $!";
            }
            open STDERR, '>', '/dev/null' if $o{quiet};
            exec @cmd or die "exec curl: $!";
        }
        local $/;
        $code = <$out>;
        close $out;
    }
    my ($status, $ttfb, $total) = split ' ', $code // '';
    my %res = (curl_exit => $? >> 8, code => ($status // 0) + 0,
               ttfb => $ttfb, total => $total,
               body_file => $bfile, size => -s $bfile);
    open my $fh, '<', $hfile or die;
    my @lines = <$fh>;
    for (@lines) {
        s/\r?\n$//;
        if (/^HTTP\/\S+\s+(\d+)/) {
            # a new header block (1xx then final): keep the last
            $res{status} = $1;
            $res{headers} = [];
            $res{hdr} = {};
            next;
        }
        next unless /^([^:\s]+):\s*(.*)$/;
        push @{ $res{headers} }, [lc $1, $2];
        $res{hdr}{ lc $1 } = $2;
    }
    $res{sha256} = sha256_file($bfile);
    open my $bf, '<', $bfile or die;
    local $/;
    $res{body} = <$bf> if $res{size} < 1024 * 1024;
    $res{body} //= '';
    return \%res;
}

# A tag no other request of this run carries, for the upstream's per-tag
# records.
my $tags = 0;
sub tag { "t" . $$ . "x" . ++$tags }

sub sha256_file {
    my $d = Digest::SHA->new(256);
    $d->addfile($_[0]);
    return $d->hexdigest;
}

# make_file(SIZE): a file of SIZE pseudo-random bytes; returns its path.
sub make_file {
    my ($size) = @_;
    my ($fh, $file) = tempfile(DIR => $vars->{t_logs}, UNLINK => 1);
    binmode $fh;
    my $block = join '', map { chr(($_ * 131 + 7) % 251) } 0 .. 65520;
    my $left = $size;
    while ($left > 0) {
        my $n = $left < length $block ? $left : length $block;
        print $fh substr($block, 0, $n);
        $left -= $n;
        $block = reverse $block;    # vary the content between blocks
    }
    close $fh;
    return $file;
}

# Counters of the C test upstream (global, or one tag's).
sub up_stats { up_stats_at($ENV{H2GW_UP_PORT}, @_) }

# The same of the test upstream on another port.
sub up_stats_at {
    my ($port, $tag) = @_;
    my $url = "http://127.0.0.1:$port/_stats" . ($tag ? "?tag=$tag" : '');
    my $out = `curl -sS --http2-prior-knowledge '$url'`;
    my %s = map { /^([^=]+)=(.*)$/ ? ($1 => $2) : () } split /\n/, $out;
    return \%s;
}

sub up_reset { up_reset_at($ENV{H2GW_UP_PORT}) }

sub up_reset_at {
    my ($port) = @_;
    `curl -sS --http2-prior-knowledge 'http://127.0.0.1:$port/_reset'`;
}

# The module's status page as JSON (this server has one child process):
# { pid, upstreams => [ { name, ..., servers => [ {...} ] } ] }; with a
# name, that upstream's record.
sub gw_status {
    my ($name) = @_;
    require JSON::PP;
    my $out = `curl -sS '${\ gw_url('/h2gw-status?json')}'`;
    my $st = eval { JSON::PP::decode_json($out) } or return undef;
    return $st unless defined $name;
    my ($up) = grep { $_->{name} eq $name } @{ $st->{upstreams} };
    return $up;
}

# The module's live streams and response chunks, "streams/chunks", once
# both reached 0 or after 5 s: the leak check of a run that went idle.
sub alive_when_idle {
    my $st;
    for (1 .. 50) {
        $st = gw_status();
        last if $st->{streams_alive} == 0 && $st->{chunks_alive} == 0;
        sleep 0.1;
    }
    return "$st->{streams_alive}/$st->{chunks_alive}";
}

# parallel_get(N, URL-or-sub, proto => 'h1') runs N curl clients at once;
# returns a list of { code, hdr => {...} } in order. A sub gets the index.
sub parallel_get {
    my ($n, $url, %o) = @_;
    my $dir = $vars->{t_logs};
    my $me = $$;
    my @pids;
    for my $i (1 .. $n) {
        my $u = ref $url ? $url->($i) : $url;
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            open STDERR, '>', '/dev/null';
            exec 'curl', '-sS', ($o{proto} // 'h1') eq 'h2'
                ? '--http2-prior-knowledge' : '--http1.1',
                '-o', '/dev/null', '-D', "$dir/par-$me-$i.hdr",
                '-w', '%{http_code}', '--max-time', $o{max_time} // 60, $u;
            exit 127;
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    my @res;
    for my $i (1 .. $n) {
        my %r = (code => 0, hdr => {});
        my $f = "$dir/par-$me-$i.hdr";
        if (open my $fh, '<', $f) {
            while (<$fh>) {
                s/\r?\n$//;
                $r{code} = $1 if /^HTTP\/\S+ (\d+)/;
                $r{hdr}{ lc $1 } = $2 if /^([^:\s]+):\s*(.*)$/;
            }
        }
        unlink $f;
        push @res, \%r;
    }
    return @res;
}

# The line the h2gw access log wrote for the request carrying marker.
sub access_log_line {
    my ($marker) = @_;
    my $file = "$vars->{t_logs}/h2gw_access_log";
    for (1 .. 50) {
        if (open my $fh, '<', $file) {
            my @hits = grep { index($_, $marker) >= 0 } <$fh>;
            return $hits[-1] if @hits;
        }
        sleep 0.1;
    }
    return '';
}

# error_log_mark() then error_log_since($mark): the lines written between.
sub error_log_mark { -s "$vars->{t_logs}/error_log" // 0 }

sub error_log_since {
    my ($mark) = @_;
    sleep 0.2;
    open my $fh, '<', "$vars->{t_logs}/error_log" or return '';
    seek $fh, $mark, 0;
    local $/;
    return <$fh> // '';
}

# The module's handler wake-ups so far (the status page's counter).
sub handler_wakeups {
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

# piped(COMMAND...): runs COMMAND with its stdin and stdout on pipes
# (stderr to /dev/null). Returns (pid, writer to its stdin, autoflushed;
# reader of its stdout).
sub piped {
    my @cmd = @_;
    pipe(my $in_r, my $in_w) or die;
    pipe(my $out_r, my $out_w) or die;
    my $pid = fork // die;
    if (!$pid) {
        close $in_w;
        close $out_r;
        open STDIN, '<&', $in_r or POSIX::_exit(126);
        open STDOUT, '>&', $out_w or POSIX::_exit(126);
        open STDERR, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    close $in_r;
    close $out_w;
    $in_w->autoflush(1);
    return ($pid, $in_w, $out_r);
}

# stream_client(PROTO, URL): t/tools/stream-client.js (h1, h1tls or h2)
# posting to URL; each line printed to the writer is sent at once as one
# piece of the body (curl -T - would wait to fill its buffer), and closing
# it ends the body. Returns what piped() does.
sub stream_client {
    my ($proto, $url) = @_;
    return piped('node', "$vars->{serverroot}/tools/stream-client.js",
                 $proto, $url);
}

# One HTTP/1.1 response off a raw socket (plain, or IO::Socket::SSL),
# for tests that write the request bytes themselves: (head, body), the
# body once Content-Length bytes or the last chunk came; (what came, '')
# when the connection ends first or nothing comes for $timeout seconds
# (30 unless given).
sub read_h1_response {
    my ($sock, $timeout) = @_;
    my ($buf, $head) = ('', undef);
    my $sel = IO::Select->new($sock);
    while (($sock->can('pending') && $sock->pending)
           || $sel->can_read($timeout // 30)) {
        last unless sysread($sock, $buf, 65536, length $buf);
        if (!defined $head && $buf =~ /\r\n\r\n/) {
            ($head) = $buf =~ /^(.*?\r\n)\r\n/s;
        }
        if (defined $head) {
            my ($cl) = $head =~ /^Content-Length:\s*(\d+)/mi;
            my $body = substr($buf, length($head) + 2);
            return ($head, $body) if defined $cl && length $body >= $cl;
            return ($head, $body)
                if $head =~ /chunked/i && $body =~ /\r\n0\r\n\r\n$/;
        }
    }
    return ($head // $buf, '');
}

1;
