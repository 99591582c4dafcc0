# Bodies stream both ways over both frontends, compared by SHA-256:
# downloads and uploads of 0, 1, 16 KiB, 1 MiB and 64 MiB; uploads with
# Content-Length, chunked (HTTP/1.1) and length-less (HTTP/2); an echo
# that streams the request body back while it is still being sent;
# Apache (mod_http2) as the upstream for a 1 MiB file.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use File::Copy qw(copy);
use H2GW::Test;

my @sizes = (0, 1, 16 * 1024, 1024 * 1024, 64 * 1024 * 1024);
plan tests => 2 * (2 * @sizes + @sizes + 2 * 3 + 3);

my %file = map { $_ => make_file($_) } @sizes;
my %digest = map { $_ => sha256_file($file{$_}) } @sizes;

# Apache's own upstream serves a 1 MiB file.
my $big = Apache::Test::vars('documentroot') . '/upstream/1m.bin';
copy($file{1024 * 1024}, $big) or die "copy: $!";

for my $fe (frontends()) {
    for my $size (@sizes) {
        my $res = req(proto => $fe, url => gw_url("/up/data?size=$size&seed=$size"));
        ok t_cmp($res->{size}, $size, "$fe: download of $size bytes has every byte");
        ok t_cmp($res->{sha256}, $res->{hdr}{'x-h2up-sha256'},
                 "$fe: download of $size bytes is byte-identical");
    }
    for my $size (@sizes) {
        my $res = req(proto => $fe, url => gw_url('/up/upload'), method => 'POST',
                      upload => $file{$size}, headers => ['Content-Type: application/octet-stream']);
        ok t_cmp($res->{body}, "size=$size\nsha256=$digest{$size}\n",
                 "$fe: upload of $size bytes with Content-Length arrives intact");
    }
    for my $size (1, 1024 * 1024, 64 * 1024 * 1024) {
        my $res = req(proto => $fe, url => gw_url('/up/upload'), method => 'PUT',
                      upload => $file{$size}, chunked => 1);
        ok t_cmp($res->{body}, "size=$size\nsha256=$digest{$size}\n",
                 "$fe: " . ($fe eq 'h1' ? 'chunked' : 'length-less')
                 . " upload of $size bytes arrives intact");
        $res = req(proto => $fe, url => gw_url('/up/echo'), method => 'POST',
                   upload => $file{$size}, chunked => 1);
        ok t_cmp($res->{sha256}, $digest{$size},
                 "$fe: echo of $size bytes streams back intact");
    }
    my $res = req(proto => $fe, url => gw_url('/apache/1m.bin'));
    ok t_cmp($res->{code}, 200, "$fe: Apache upstream serves the 1 MiB file");
    ok t_cmp($res->{sha256}, $digest{1024 * 1024}, "$fe: the file arrives intact");
    $res = req(proto => $fe, url => gw_url('/up/upload'), method => 'POST',
               upload => $file{0}, headers => ['Content-Length: 0']);
    ok t_cmp($res->{body}, "size=0\nsha256=$digest{0}\n", "$fe: empty POST body");
}
unlink $big;
