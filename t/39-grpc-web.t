# gRPC-Web end to end: clients nobody here wrote (connect-node's gRPC-Web
# transport, headless Chromium running a page's fetch) call a real grpcio
# server (t/grpc/grpc_server.py) through a grpc-web=on pass, over HTTP/1.1
# and HTTP/2: unary, a 10,000-message server stream that must arrive as it
# goes, errors with details, metadata both ways, -text, CORS, and every
# failure as a gRPC-Web error, never an HTML page. Plain gRPC keeps
# working on the same pass.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use H2GW::Test;
use JSON::PP qw(decode_json);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);

my $py = '/usr/bin/python3';
# Not skips: tools/deps.sh installs these, `make check` the npm packages.
system("$py -c 'import grpc' 2>/dev/null") == 0
    or die "python3-grpcio is not installed (tools/deps.sh installs it)\n";
system('node --version >/dev/null 2>&1') == 0
    or die "node is not installed (tools/deps.sh installs it)\n";
my $chromium = (grep { -x } qw(/usr/bin/chromium /usr/bin/chromium-browser))[0]
    or die "chromium is not installed (tools/deps.sh installs it)\n";
my $vars = Apache::Test::vars();
my $cdir = "$vars->{serverroot}/grpcweb";
-f "$cdir/node_modules/\@connectrpc/connect-node/package.json"
    or die "the gRPC-Web client's npm packages are missing: make check "
         . "installs them (npm ci in t/grpcweb)\n";

plan tests => 83;

my $dir = $vars->{t_logs};
my $bin = "$vars->{serverroot}/grpc";
my $events = "$dir/grpc-web-events";
unlink $events;

# The pipe is a global: closing it waits for the server, so it must
# outlive the END block that stops the server, even when the test dies.
our $sfh;
my ($spid, $runner) = (0, $$);
END { kill 'TERM', $spid if $spid && $$ == $runner }
$spid = open($sfh, '-|', $py, "$bin/grpc_server.py",
             '--port', $ENV{H2GW_GRPC_PORT}, '--events', $events)
    // die "cannot start the gRPC server: $!";
my $ready = <$sfh>;
die "the gRPC server did not start\n" unless ($ready // '') =~ /ready/;

my $base = "http://127.0.0.1:$vars->{port}";
my $vport = Apache::Test::config()->{vhosts}{h2gw_grpcweb}{port};

sub node_json {
    my ($script, @args) = @_;
    my $out = `node $cdir/$script @args 2>&1`;
    my $res = eval { decode_json((split /\n/, $out)[-1]) };
    return $res // { code => "client failed: $out" };
}

# Msg { text } in a gRPC frame, as a file for curl.
my $nfile = 0;
sub frame_file {
    my ($text, $b64) = @_;
    my $m = length $text ? "\x0a" . chr(length $text) . $text : '';
    my $f = "\0" . pack('N', length $m) . $m;
    my $file = "$dir/grpcweb-req-" . $nfile++;
    open my $fh, '>:raw', $file or die;
    print $fh $b64 ? encode_base64($f, '') : $f;
    close $fh;
    return $file;
}

# ---- connect-node, binary gRPC-Web, both frontends ----
for my $v ('1.1', '2') {
    my $tag = tag();
    my $r = node_json('client.js', 'suite', $base, $v, $tag);
    my ($u, $e, $s, $f) = map { $_ // {} } @$r{qw(unary error stream streamFail)};
    ok t_cmp($u->{code}, 'OK', "HTTP/$v unary: OK") or t_debug(JSON::PP::encode_json($r));
    ok t_cmp($u->{text}, 'echo:hello', "HTTP/$v unary: the response");
    ok t_cmp($u->{header}, 'meta-in',
             "HTTP/$v metadata client -> server, and back as a response header");
    ok t_cmp($u->{trailer}, 'seen-meta-in',
             "HTTP/$v metadata server -> client in the trailer frame");
    ok t_cmp($e->{code}, 'InvalidArgument', "HTTP/$v error: the status");
    ok t_cmp($e->{message}, 'no such widget', "HTTP/$v error: grpc-message");
    ok t_cmp(join(',', @{ $e->{details} // [] }), 'detail:no such widget',
             "HTTP/$v error: its details (grpc-status-details-bin)");
    ok t_cmp($s->{count}, 10000, "HTTP/$v server stream: 10,000 messages");
    ok t_cmp(($s->{inOrder} && !$s->{expired}) ? 1 : 0, 1,
             "HTTP/$v server stream: in order, the server never gave up its hold");
    ok t_cmp(($s->{released} && ($s->{releasedAt} // 0) == 1) ? 1 : 0, 1,
             "HTTP/$v server stream: the first message arrived while the server "
             . "held the rest (released by the client after it)");
    ok t_cmp($s->{trailer}, '10000', "HTTP/$v server stream: its trailer");
    ok t_cmp(join(',', @{ $f->{texts} // [] }), 'a,b',
             "HTTP/$v stream then error: the messages before it");
    ok t_cmp(($f->{code} // '') . ': ' . ($f->{message} // ''), 'ResourceExhausted: quota: x',
             "HTTP/$v stream then error: status and message from the trailer frame");
    ok t_cmp($f->{meta}{'x-h2gw-trailer'}, 'after-b',
             "HTTP/$v stream then error: trailing metadata");
}

# ---- -text, a hand-written client (connect-node speaks binary only) ----
for my $v ('1.1', '2') {
    my $r = node_json('text-client.js', $base, $v, 'Say', 'hello');
    ok t_cmp("$r->{status} $r->{contentType}", '200 application/grpc-web-text+proto',
             "HTTP/$v -text unary: 200, the text content type") or t_debug(JSON::PP::encode_json($r));
    ok t_cmp(($r->{first} // '') . ' ' . ($r->{trailer}{'grpc-status'} // '-'),
             'echo:hello 0', "HTTP/$v -text unary: the message, grpc-status 0 in the trailer frame");
    $r = node_json('text-client.js', $base, $v, 'Count', 10000, tag());
    ok t_cmp("$r->{count} $r->{first}..$r->{last}", '10000 0..9999',
             "HTTP/$v -text server stream: every message") or t_debug(JSON::PP::encode_json($r));
    ok t_cmp(($r->{released} && !$r->{expired} && $r->{paddedAtFrameEnds}) ? 1 : 0, 1,
             "HTTP/$v -text server stream: the first frame decodable while the "
             . "server held the rest");
    $r = node_json('text-client.js', $base, $v, 'Say', 'fail:x');
    ok t_cmp(($r->{grpcStatus} // '') . " $r->{count} " . ($r->{trailer} ? 'frame' : 'none'),
             '3 0 none', "HTTP/$v -text trailers-only error: grpc-status in the headers, "
             . "no body");
}

# ---- -text with grpc-web, the gRPC project's own client (XHR, HTTP/1.1) ----
{
    my $r = node_json('grpc-web-text.js', $base, 'unary', 'hello');
    ok t_cmp(($r->{code} // 'none') . ' ' . join(',', @{ $r->{texts} // [] }) . ' '
             . ($r->{types}{sent} // 'none') . ' -> ' . ($r->{types}{received} // 'none'),
             '0 echo:hello application/grpc-web-text -> application/grpc-web-text',
             "grpc-web text unary: the message, -text both ways") or t_debug(JSON::PP::encode_json($r));
    ok t_cmp(($r->{headers}{'x-h2gw-echo'} // '') . ' ' . ($r->{trailers}{'x-h2gw-trailer'} // ''),
             'text-meta seen-text-meta',
             "grpc-web text unary: metadata to the server, back in the headers and the trailer frame");
    $r = node_json('grpc-web-text.js', $base, 'stream', 1000);
    my @t = @{ $r->{texts} // [] };
    ok t_cmp(($r->{code} // 'none') . ' ' . scalar(@t) . ' ' . ($t[0] // '') . '..' . ($t[-1] // '')
             . ' ' . ($r->{trailers}{'x-h2gw-count'} // ''), '0 1000 0..999 1000',
             "grpc-web text server stream: 1000 messages, status and trailer")
        or t_debug(JSON::PP::encode_json($r));
    $r = node_json('grpc-web-text.js', $base, 'unary', 'fail:x');
    ok t_cmp(($r->{code} // 'none') . ' ' . ($r->{message} // ''), '3 x',
             "grpc-web text trailers-only error: code and message")
        or t_debug(JSON::PP::encode_json($r));
}

# ---- the wire, with curl ----
my @gw = ('content-type: application/grpc-web+proto', 'x-grpc-web: 1');
{
    my $res = req(proto => 'h2', url => "$base/h2gw.test.Web/Say",
                  headers => [@gw, 'x-h2gw-in: wire'], upload => frame_file('wire'));
    my $block = "grpc-status: 0\r\nx-h2gw-trailer: seen-wire\r\n";
    my $want = "\0\0\0\0\x0b\x0a\x09echo:wire"
        . "\x80" . pack('N', length $block) . $block;
    ok t_cmp($res->{body}, $want, 'binary body: the message frame, then the trailer '
             . 'frame (0x80, length, lowercase lines)');
    ok t_cmp($res->{hdr}{'content-type'}, 'application/grpc-web+proto',
             'the response content type');
    $res = req(proto => 'h1', url => "$base/h2gw.test.Web/Say",
               headers => [@gw, 'x-h2gw-in: fields', 'x-user-agent: grpc-web-javascript/0.1'],
               upload => frame_file('fields'));
    ok t_cmp($res->{hdr}{'x-h2gw-saw'}, 'x-grpc-web=none x-user-agent=grpc-web-javascript/0.1',
             'upstream: x-grpc-web (the hop marker) dropped, x-user-agent passed on');

    $res = req(proto => 'h1', url => "$base/h2gw.test.Web/Say", headers => \@gw,
               upload => frame_file('fail:wire'));
    ok t_cmp("$res->{code} $res->{hdr}{'grpc-status'} $res->{size}", '200 3 0',
             'trailers-only: 200, grpc-status in the headers, no body');

    # A -text body split anywhere still decodes; chunked over HTTP/1.1.
    $res = req(proto => 'h1', url => "$base/h2gw.test.Web/Say", chunked => 1,
               method => 'POST',
               headers => ['content-type: application/grpc-web-text', 'x-grpc-web: 1'],
               upload => frame_file('chunked text', 1));
    my $dec = join '', map { MIME::Base64::decode_base64($_) }
        $res->{body} =~ /(.{4})/gs;
    ok t_cmp(substr($dec, 0, 24), "\0\0\0\0\x13\x0a\x11echo:chunked text",
             '-text request, chunked: decoded upstream, the answer in base64');
    $res = req(proto => 'h1', url => "$base/h2gw.test.Web/Say",
               headers => ['content-type: application/grpc-web-text'],
               upload => frame_file('no base64 here'));
    ok t_cmp("$res->{code} $res->{hdr}{'grpc-status'} $res->{hdr}{'content-type'} $res->{size}",
             '200 13 application/grpc-web-text 0',
             'a -text body that is no base64: INTERNAL, a gRPC-Web answer');
}

# ---- HTTP/1.1 keep-alive when the answer comes before the body's end ----
# A trailers-only error answers as soon as the server read the message:
# the client (holding back its last chunk, as a streaming client may
# still have it in flight) gets the whole answer first. The connection
# that answer kept open must then serve the next request.
{
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $vars->{port},
                                     Proto => 'tcp') or die "connect: $!";
    binmode $sock;
    my $m = "\x0a\x0bfail:early";
    my $f = "\0" . pack('N', length $m) . $m;
    print $sock "POST /h2gw.test.Web/Say HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "Content-Type: application/grpc-web+proto\r\nTransfer-Encoding: chunked\r\n\r\n"
        . sprintf("%x\r\n", length $f) . "$f\r\n";
    my ($h1) = read_h1_response($sock, 60);
    ok t_cmp(($h1 =~ /^grpc-status: 3\r?$/m ? 'status 3' : 'no status')
             . ($h1 =~ /^Connection: close/mi ? ', close' : ', kept'),
             'status 3, kept', 'HTTP/1.1: a trailers-only answer before the body ended, '
             . 'the connection kept open');
    $m = "\x0a\x05again";
    $f = "\0" . pack('N', length $m) . $m;
    print $sock "0\r\n\r\nPOST /h2gw.test.Web/Say HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "Content-Type: application/grpc-web+proto\r\nContent-Length: " . length($f)
        . "\r\n\r\n$f";
    my ($h2, $b2) = read_h1_response($sock, 60);
    ok t_cmp(($h2 =~ m{^HTTP/1.1 (\d+)} ? $1 : 'none') . ' '
             . (index($b2, 'echo:again') >= 0 ? 'echo' : 'no echo'), '200 echo',
             '... and the next request on it is answered');
    close $sock;
}

# ---- failures: gRPC-Web errors, never an HTML page ----
for my $v ('1.1', '2') {
    my $r = node_json('client.js', 'call', "$base/gwdead", $v, 'h2gw.test.Web', 'say', 'x');
    ok t_cmp($r->{code}, 'Unavailable', "HTTP/$v upstream down: UNAVAILABLE");
}
{
    my $res = req(proto => 'h1', url => "$base/gwdead/h2gw.test.Web/Say",
                  headers => \@gw, upload => frame_file('x'));
    ok t_cmp("$res->{code} $res->{hdr}{'grpc-status'} $res->{hdr}{'content-type'} $res->{size}",
             '200 14 application/grpc-web+proto 0',
             'upstream down: grpc-status 14 in the headers, no body (no HTML)');
    ok t_cmp(($res->{hdr}{'grpc-message'} // '') =~ /connect/ ? 1 : 0, 1,
             "... and grpc-message says why ($res->{hdr}{'grpc-message'})");

    my $r = node_json('client.js', 'call', "$base/gwany", '2', 'h2gw.test.Web', 'nap', 1500);
    ok t_cmp($r->{code}, 'DeadlineExceeded',
             'no answer within timeout=1: DEADLINE_EXCEEDED');
    $r = node_json('client.js', 'call', "$base/gwany", '1.1', 'h2gw.test.Web', 'nap', 1500, 20000);
    ok t_cmp("$r->{code} " . ($r->{text} // ''), 'OK awake',
             "the client's deadline (grpc-timeout 20 s) passed on: the 1.5 s call "
             . 'outlives timeout=1');

    $res = req(proto => 'h2', url => "$base/gwhtml/data?status=404&size=300&ctype=text/html",
               headers => \@gw, upload => frame_file('x'));
    ok t_cmp("$res->{code} $res->{hdr}{'grpc-status'} $res->{size}", '200 12 0',
             'an HTML 404 from the upstream: UNIMPLEMENTED, its page not passed on');
    $res = req(proto => 'h1', url => "$base/gwhtml/data?size=300",
               headers => \@gw, upload => frame_file('x'));
    ok t_cmp("$res->{code} $res->{hdr}{'grpc-status'} $res->{size}", '200 2 0',
             'a 200 that is not gRPC: UNKNOWN, no body');

    # Reset right after the headers: at a frame boundary, so a trailer
    # frame (or, when the reset came first, the headers) carries INTERNAL.
    for my $p ('h1', 'h2') {
        $res = req(proto => $p, url => "$base/gwhtml/data?ctype=application/grpc"
                   . "&size=1000&reset=after&after=0&code=2",
                   headers => \@gw, upload => frame_file('x'));
        my $st = $res->{hdr}{'grpc-status'}
            // ($res->{body} =~ /^\x80....grpc-status: (\d+)\r\n/s ? $1 : 'none');
        ok t_cmp("$res->{code} $st $res->{curl_exit}", '200 13 0',
                 "$p: upstream reset (INTERNAL_ERROR) before any message: "
                 . 'grpc-status 13, the response complete');
    }
    # Silent after the headers (read-timeout=1): the body stands at a
    # frame boundary, so a trailer frame carries DEADLINE_EXCEEDED.
    for my $p ('h1', 'h2') {
        $res = req(proto => $p, url => "$base/gwstall/data?ctype=application/grpc"
                   . "&size=1000&stop_after=0",
                   headers => \@gw, upload => frame_file('x'));
        ok t_cmp("$res->{code} " . ($res->{hdr}{'grpc-status'} // 'none') . ' '
                 . ($res->{body} =~ /^\x80....grpc-status: (\d+)\r\n/s ? $1 : 'none')
                 . " $res->{curl_exit}", '200 none 4 0',
                 "$p: upstream silent after its headers: a trailer frame with "
                 . 'DEADLINE_EXCEEDED ends the response');
    }
    # Silent inside a message: no frame can follow, the response is cut.
    for my $p ('h1', 'h2') {
        $res = req(proto => $p, url => "$base/gwstall/data?ctype=application/grpc"
                   . "&size=100000&stop_after=1000",
                   headers => \@gw, upload => frame_file('x'), quiet => 1);
        ok t_cmp(($res->{curl_exit} != 0 && $res->{size} == 1000) ? 1 : 0, 1,
                 "$p: upstream silent inside a message: the 1000 bytes, then the "
                 . "response is aborted (curl exit $res->{curl_exit})")
            or t_debug("code $res->{code} size $res->{size} grpc-status "
                       . ($res->{hdr}{'grpc-status'} // '-'));
    }
}

# ---- CORS ----
{
    my @pre = ('Access-Control-Request-Method: POST',
               'Access-Control-Request-Headers: content-type,x-grpc-web,x-h2gw-in');
    my $res = req(proto => 'h1', method => 'OPTIONS', url => "$base/h2gw.test.Web/Say",
                  headers => ['Origin: https://other.example:8443', @pre]);
    ok t_cmp("$res->{code} $res->{hdr}{'access-control-allow-origin'}",
             '204 https://other.example:8443', 'preflight from a listed origin: 204, allowed');
    ok t_cmp(join('|', map { $res->{hdr}{$_} // '' }
                  qw(access-control-allow-methods access-control-allow-headers
                     access-control-allow-credentials)),
             'POST, OPTIONS|content-type,x-grpc-web,x-h2gw-in|true',
             'preflight: methods, the asked-for headers, credentials');
    $res = req(proto => 'h2', method => 'OPTIONS', url => "$base/h2gw.test.Web/Say",
               headers => ['Origin: https://evil.example', @pre]);
    ok t_cmp("$res->{code} " . ($res->{hdr}{'access-control-allow-origin'} // 'none'),
             '403 none', 'preflight from another origin: 403, nothing allowed');
    $res = req(proto => 'h2', method => 'OPTIONS', url => "$base/gwany/h2gw.test.Web/Say",
               headers => ['Origin: https://anywhere.example', @pre]);
    ok t_cmp("$res->{code} $res->{hdr}{'access-control-allow-origin'} "
             . ($res->{hdr}{'access-control-allow-credentials'} // 'none'),
             '204 * none', 'grpc-web-origins=*: any origin, without credentials');

    $res = req(proto => 'h2', url => "$base/h2gw.test.Web/Say",
               headers => [@gw, 'Origin: http://app.example'], upload => frame_file('c'));
    ok t_cmp($res->{hdr}{'access-control-allow-origin'}, 'http://app.example',
             'a call from a listed origin: allowed');
    ok t_cmp($res->{hdr}{'access-control-expose-headers'},
             'grpc-status, grpc-message, grpc-status-details-bin, x-h2gw-echo, x-h2gw-trailer',
             "expose-headers: gRPC's own and grpc-web-expose=");
    $res = req(proto => 'h1', url => "$base/h2gw.test.Web/Say",
               headers => [@gw, 'Origin: http://evil.example'], upload => frame_file('c'));
    ok t_cmp($res->{hdr}{'access-control-allow-origin'} // 'none', 'none',
             'a call from another origin: no CORS fields');
    $res = req(proto => 'h1', url => "$base/gwdead/h2gw.test.Web/Say",
               headers => [@gw, 'Origin: http://app.example'], upload => frame_file('c'));
    ok t_cmp($res->{hdr}{'access-control-allow-origin'} // 'none', 'none',
             'an origin listed on another pass only: no CORS fields');
}

# ---- H2GWGrpcWeb On: a host whose every pass translates ----
{
    my $r = node_json('client.js', 'call', "http://127.0.0.1:$vport", '2',
                      'h2gw.test.Echo', 'say', 'vhost');
    ok t_cmp("$r->{code} " . ($r->{text} // ''), 'OK echo:vhost',
             'H2GWGrpcWeb On: the inherited gRPC pass translates gRPC-Web');
    $r = node_json('client.js', 'call', $base, '2', 'h2gw.test.Echo', 'say', 'main');
    ok t_cmp($r->{code} ne 'OK' && $r->{code} !~ /client failed/ ? 1 : 0, 1,
             "the same pass on the main server (default off): not translated ($r->{code})");
}

# ---- plain gRPC on the grpc-web pass, unchanged ----
{
    my $out = `$py $bin/grpc_client.py 127.0.0.1:$vars->{port} h2gw.test.Web unary plain 2>&1`;
    my $r = eval { decode_json((split /\n/, $out)[-1]) } // { code => $out };
    ok t_cmp("$r->{code} " . ($r->{response} // ''), 'OK echo:plain',
             'plain gRPC (grpcio) unary through the grpc-web pass');
    $out = `$py $bin/grpc_client.py 127.0.0.1:$vars->{port} h2gw.test.Web bidi 5 2>&1`;
    $r = eval { decode_json((split /\n/, $out)[-1]) } // { code => $out };
    ok t_cmp("$r->{code} " . scalar(@{ $r->{answers} // [] }), 'OK 5',
             'plain gRPC bidirectional call through the grpc-web pass');
}

# ---- a real browser ----
{
    my $preflights = sub {
        open my $fh, '<', "$dir/h2gw_access_log" or die;
        return scalar grep { m{^OPTIONS /gwany/h2gw\.test\.Web/Say 204 } } <$fh>;
    };
    my $pre0 = $preflights->();
    my $mark = tag();
    my $profile = "$dir/chromium-$mark";
    my $dom = `$chromium --headless --no-sandbox --disable-gpu --no-first-run \\
        --user-data-dir=$profile --virtual-time-budget=30000 \\
        --dump-dom '$base/grpcweb/index.html?$mark' 2>$dir/chromium-$mark.log`;
    my ($json) = $dom =~ /RESULT (\{.*?\})<\/pre>/s;
    my $r = eval { decode_json($json // '') };
    ok t_cmp(ref $r eq 'HASH' && !$r->{error} ? 1 : 0, 1,
             'Chromium ran the page to its end')
        or t_debug("page: " . substr($dom // '', 0, 500) . "\nlog: $dir/chromium-$mark.log");
    my ($s, $c) = ($r->{same} // {}, $r->{cross} // {});
    ok t_cmp(join('|', $s->{status} // '', @{ $s->{messages} // [] },
                  $s->{trailer}{'grpc-status'} // ''),
             '200|echo:same-origin|0', 'browser, same origin: message and status');
    ok t_cmp(($s->{echo} // '') . '|' . ($s->{trailer}{'x-h2gw-trailer'} // ''),
             'same-origin|seen-same-origin', 'browser: metadata both ways');
    ok t_cmp(join('|', @{ $c->{messages} // [] }, $c->{trailer}{'grpc-status'} // ''),
             'echo:cross-origin|0', 'browser, another origin (through CORS): the call works');
    ok t_cmp(($c->{echo} // 'hidden') . '|' . ($c->{acceptEncoding} // 'hidden'),
             'cross-origin|hidden',
             'browser, another origin: an exposed header readable, another not');
    ok t_cmp($preflights->() - $pre0, 1,
             'the browser sent a CORS preflight, answered 204 by the module');
}

ok t_cmp(alive_when_idle(), '0/0', 'no stream or chunk left behind');

kill 'TERM', $spid;
close $sfh;
$spid = 0;
