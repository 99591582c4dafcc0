# An HTTP/1.1 client over TLS (mod_ssl) is waited for on its socket like
# any other (t/63-event-wait.t: an idle stream wakes its handler 0 times).
# That holds because the handler reads until the filters say EAGAIN,
# which mod_ssl answers only once OpenSSL wants bytes from the socket:
# body that mod_ssl or the core read ahead of the handler is never left
# waiting for an event that will not come. Here two pieces written back
# to back (two TLS records, usually one TCP segment) are both echoed, and
# a body with a Content-Length arrives intact.
#
# When the answer goes out complete before the client ended its body (as
# a gRPC-Web error answered as soon as the message was read, while the
# browser's last chunk is still in flight), the rest of the body is read
# over TLS too, so that the connection the answer kept open serves the
# next request (t/39-grpc-web.t has the gRPC-Web case over plain
# HTTP/1.1). Here the upstream answers on the request's headers
# (reject=1) while the client holds its last chunk back.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use IO::Socket::SSL;

plan tests => 6;

my $port = Apache::Test::config()->{vhosts}{h2gw_tls_frontend}{port};
my $base = "https://127.0.0.1:$port";

{
    my $tag = tag();
    my ($pid, $in_w, $out_r) = stream_client('h1tls', "$base/up/echo?tag=$tag");
    print $in_w "ping-one\nping-two\n";
    ok t_cmp(read_n($out_r, 16), 'ping-oneping-two',
             "h1 over TLS: two pieces sent back to back are both echoed (none left unread)");
    close $in_w;
    my $rest = do { local $/; <$out_r> } // '';
    waitpid $pid, 0;
    ok t_cmp($? >> 8, 0, "h1 over TLS: the stream ends cleanly when the client ends it");
}

# A 1 MiB body with a Content-Length, through the TLS frontend.
{
    my $file = make_file(1024 * 1024);
    my $digest = sha256_file($file);
    my $res = req(proto => 'h1', url => "$base/up/upload", method => 'POST',
                  upload => $file, args => ['-k'],
                  headers => ['Content-Type: application/octet-stream']);
    ok t_cmp($res->{code}, 200, "h1 over TLS: a 1 MiB upload is answered 200");
    ok t_cmp($res->{body}, "size=1048576\nsha256=$digest\n",
             "h1 over TLS: ... and arrives intact");
}

{
    my $sock = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                    SSL_verify_mode => SSL_VERIFY_NONE)
        or die "TLS connect: $SSL_ERROR";
    binmode $sock;
    print $sock "POST /up/upload?reject=1&tag=${\ tag()} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n" . sprintf("%x\r\n", 3000) . ('a' x 3000) . "\r\n";
    my ($h1) = read_h1_response($sock);
    ok t_cmp(($h1 =~ m{^HTTP/1.1 (\d+)} ? $1 : 'none')
             . ($h1 =~ /^Connection: close/mi ? ', close' : ', kept'),
             '200, kept', 'h1 over TLS: an answer before the body ended, the connection kept open');
    print $sock "0\r\n\r\nGET /up/data?size=10 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    my ($h2, $b2) = read_h1_response($sock);
    ok t_cmp(($h2 =~ m{^HTTP/1.1 (\d+)} ? $1 : 'none') . ' ' . length($b2), '200 10',
             'h1 over TLS: ... and the next request on it is answered (the rest was read)');
    close $sock;
}
