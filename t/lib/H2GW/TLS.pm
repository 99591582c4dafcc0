package H2GW::TLS;
# TLS upstreams for the suite: a throw-away test CA with a server
# certificate (localhost and 127.0.0.1) and a client certificate, made
# with the openssl command, and three TLS servers: nghttpd (h2 by ALPN),
# nghttpd asking for a client certificate (-V), and openssl s_server
# offering only http/1.1 by ALPN. Ports, the certificate directory and the
# pids go into the environment (H2GW_TLS_*).
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Spec;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use H2GW::Upstream;

my $top = File::Spec->rel2abs(dirname(__FILE__) . '/../../..');

sub run {
    my @cmd = @_;
    system(@cmd) == 0 or die "@cmd: failed\n";
}

sub make_certs {
    my ($dir) = @_;
    make_path($dir);
    my @ec = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes');
    my $q = ">/dev/null 2>&1";
    system("openssl req -x509 @ec -keyout $dir/ca.key -out $dir/ca.crt -days 3 -subj '/CN=mod_h2gw test CA' $q") == 0
        or die "openssl req (CA) failed: is the openssl package installed?\n";
    for my $who (['server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
                 ['client', 'mod_h2gw test client', 'extendedKeyUsage=clientAuth']) {
        my ($name, $cn, $ext) = @$who;
        open my $fh, '>', "$dir/$name.ext" or die;
        print $fh "$ext\n";
        close $fh;
        system("openssl req @ec -keyout $dir/$name.key -out $dir/$name.csr -subj '/CN=$cn' $q") == 0
            or die "openssl req ($name) failed\n";
        system("openssl x509 -req -in $dir/$name.csr -CA $dir/ca.crt -CAkey $dir/ca.key "
               . "-CAcreateserial -out $dir/$name.crt -days 3 -extfile $dir/$name.ext $q") == 0
            or die "openssl x509 ($name) failed\n";
    }
    chmod 0644, glob("$dir/*");    # Apache's children (nobody) read them
    chmod 0755, $dir;
}

sub wait_port {
    my ($port) = @_;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
        return 1 if $s;
        sleep 0.05;
    }
    die "TLS test server on port $port did not start\n";
}

sub spawn {
    my @cmd = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec @cmd or exit 127;
    }
    return $pid;
}

sub start_all {
    my $dir = "$top/t/logs/tls";
    make_certs($dir);
    $ENV{H2GW_TLS_DIR} = $dir;
    my @pids;
    my $docroot = "$top/t/htdocs/upstream";
    for my $s (['H2GW_TLS_PORT', 'nghttpd', '-d', $docroot],
               ['H2GW_TLS_CC_PORT', 'nghttpd', '-V', '-d', $docroot],
               ['H2GW_TLS_NOALPN_PORT', 'openssl-s_server']) {
        my ($var, $what, @args) = @$s;
        my $port = H2GW::Upstream::free_port();
        my @cmd = $what eq 'nghttpd'
            ? ('nghttpd', @args, $port, "$dir/server.key", "$dir/server.crt")
            : ('openssl', 's_server', '-accept', "127.0.0.1:$port", '-key', "$dir/server.key",
               '-cert', "$dir/server.crt", '-alpn', 'http/1.1', '-www', '-quiet');
        push @pids, spawn(@cmd);
        wait_port($port);
        $ENV{$var} = $port;
    }
    $ENV{H2GW_TLS_PIDS} = join ',', @pids;
}

sub stop_all {
    my @pids = split /,/, $ENV{H2GW_TLS_PIDS} // '';
    kill 'TERM', @pids;
    waitpid($_, 0) for @pids;
}

1;
