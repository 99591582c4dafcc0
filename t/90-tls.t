# h2:// upstreams over TLS, against nghttpd and openssl s_server with a
# throw-away test CA: the certificate is verified (name or address), a
# wrong name or an unknown CA is a 502, verification can be turned off, a
# client certificate is sent when configured (and its absence costs a 502
# where the server asks for one), a server that does not agree to h2 by
# ALPN is a 502. Each failure names its cause in the error log. One
# upstream's failed handshakes never break another's healthy connection
# (OpenSSL's error queue is per thread, and one engine thread runs all).
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use POSIX ();
use H2GW::Test;

plan tests => 23;

sub get {
    my ($path, $fe) = @_;
    return req(proto => $fe // 'h1', url => gw_url($path), args => ['--max-time', '20']);
}

sub fails_with {
    my ($path, $re, $label) = @_;
    my $mark = error_log_mark();
    my $res = get($path);
    ok t_cmp($res->{code}, 502, "$label → 502");
    my $log = error_log_since($mark);
    my ($line) = $log =~ /^.*(H2GW00203.*)$/m;
    ok t_cmp($log =~ $re ? 1 : 0, 1, "$label: the log names the cause (" . ($line // 'no H2GW00203 line') . ")");
}

for my $fe ('h1', 'h2') {
    my $res = get('/tls/hello.txt', $fe);
    ok t_cmp($res->{code} . ' ' . $res->{body}, "200 hello from the Apache upstream\n",
             "$fe: certificate verified against the test CA (by address): 200");
}
# Request bodies over TLS: DATA frames are gathered into one buffer per
# connection and written with SSL_write; 4 MiB go through nghttpd's 64K
# windows (many writes, each of several frames) and the response follows.
my $upfile = Apache::Test::vars('t_logs') . '/tls-upload.bin';
{
    open my $fh, '>:raw', $upfile or die "$upfile: $!";
    print $fh pack('N', $_) x 256 for 1 .. 4096;
    close $fh;
}
my $tls_up = "h2://127.0.0.1:$ENV{H2GW_TLS_PORT}";
for my $fe ('h1', 'h2') {
    my $before = gw_status($tls_up)->{servers}[0]{bytes_out} // 0;
    my $res = req(proto => $fe, url => gw_url('/tls/hello.txt'), method => 'POST',
                  upload => $upfile, args => ['--max-time', '20']);
    my $sent = (gw_status($tls_up)->{servers}[0]{bytes_out} // 0) - $before;
    ok t_cmp($res->{code} . ' ' . $res->{body}, "200 hello from the Apache upstream\n",
             "$fe: a 4 MiB upload over TLS is answered");
    ok t_cmp($sent, 4 * 1024 * 1024, "$fe: ... after all 4 MiB went upstream in DATA frames");
}

my $res = get('/tls-name/hello.txt');
ok t_cmp($res->{code}, 200, "tls-name=localhost: verified by name: 200");
$res = get('/tls-noverify/hello.txt');
ok t_cmp($res->{code}, 200, "tls-verify=off: no CA needed: 200");

fails_with('/tls-wrongname/hello.txt', qr/certificate verification failed: .*hostname mismatch/i,
           'a certificate for another name');
fails_with('/tls-unknown-ca/hello.txt', qr/certificate verification failed: .*(unable to get local issuer|self.signed)/i,
           'a certificate from a CA the system does not know');

$res = get('/tls-cc/hello.txt');
ok t_cmp($res->{code}, 200, "client certificate sent (tls-cert, tls-key) to a server that asks for one: 200");
fails_with('/tls-nocc/hello.txt', qr/H2GW00203: .*TLS handshake failed/,
           'no client certificate for a server that asks for one');

fails_with('/tls-noalpn/x', qr/H2GW00203: .*did not agree to h2/, 'a server without h2 in ALPN');

# Resumption: max-requests=1 makes each request open a new connection.
my $before = gw_status("h2://127.0.0.1:$ENV{H2GW_TLS_PORT} (H2GWPass /tls-resume/)");
for (1 .. 3) { get('/tls-resume/hello.txt') }
my $after = gw_status("h2://127.0.0.1:$ENV{H2GW_TLS_PORT} (H2GWPass /tls-resume/)");
my $hs = $after->{servers}[0]{tls_handshakes} - ($before->{servers}[0]{tls_handshakes} // 0);
my $re = $after->{servers}[0]{tls_resumed} - ($before->{servers}[0]{tls_resumed} // 0);
ok t_cmp($hs >= 3 ? 1 : 0, 1, "three requests, three TLS connections ($hs handshakes)");
# The first handshake is a full one; each reconnect offers the ticket
# the server gave last, and the server takes it (the connection before
# ended with close_notify, without which servers drop the session).
ok t_cmp($re, $hs - 1, "every reconnect resumed the TLS session ($re of $hs handshakes)");

# The status page shows the peer's SETTINGS over TLS too.
ok t_cmp(gw_status("h2://127.0.0.1:$ENV{H2GW_TLS_PORT}")->{servers}[0]{peer_max_concurrent_streams} > 0 ? 1 : 0, 1,
         "the TLS connection's peer SETTINGS are on the status page");

# A large download over a good h2:// pass while another pass's handshake
# fails certificate verification over and over on the same engine
# thread: the download's reads must not report the other's error. The
# client reads slowly, so the good connection waits for the socket
# (SSL_read wants more) many times while the bad handshakes fail.
{
    my $docroot = Apache::Test::vars('t_dir') . '/htdocs/upstream';
    my $big = "$docroot/tls-big.bin";
    my $size = 24 * 1024 * 1024;
    {
        open my $fh, '>:raw', $big or die "$big: $!";
        my $block = join '', map { chr(($_ * 97 + 13) % 256) } 0 .. 65535;
        print $fh $block for 1 .. $size / 65536;
        close $fh;
    }
    my $want = sha256_file($big);
    my $mark = error_log_mark();
    my $resfile = Apache::Test::vars('t_logs') . '/tls-big.res';
    unlink $resfile;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = req(proto => 'h1', url => gw_url('/tls/tls-big.bin'),
                    args => ['--max-time', '60', '--limit-rate', '6M']);
        open my $out, '>', $resfile or die;
        print $out "$r->{code} $r->{size} $r->{sha256} $r->{curl_exit}\n";
        close $out;
        exit 0;
    }
    my $bad = 0;
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        get($bad % 2 ? '/tls-wrongname/hello.txt' : '/tls-unknown-ca/hello.txt');
        $bad++;
        select undef, undef, undef, 0.12;    # past retry=0.1: a new handshake
    }
    open my $in, '<', $resfile or die "$resfile: $!";
    my ($code, $got, $sha, $cexit) = split ' ', scalar <$in>;
    unlink $resfile, $big;
    my $log = error_log_since($mark);
    my $fails = () = $log =~ /H2GW00316: .*certificate verification failed/g;
    ok t_cmp($fails >= 5 ? 1 : 0, 1,
             "$bad requests to bad-certificate passes during the download: $fails failed handshakes");
    ok t_cmp("$code $got $cexit", "200 $size 0",
             "the 24 MiB download over the good h2:// pass arrived whole (status, size, curl exit)");
    ok t_cmp($sha, $want, "... with its digest");
}
