# An HTTP/1.1 client over TLS (mod_ssl) is waited for on its socket like
# any other (t/63-event-wait.t: an idle stream wakes its handler 0 times).
# That holds because the handler reads until the filters say EAGAIN,
# which mod_ssl answers only once OpenSSL wants bytes from the socket:
# body that mod_ssl or the core read ahead of the handler is never left
# waiting for an event that will not come. Here two pieces written back
# to back (two TLS records, usually one TCP segment) are both echoed, and
# a body with a Content-Length arrives intact.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;

plan tests => 4;

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
