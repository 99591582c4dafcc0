# Configuration errors stop httpd's config test with a message naming the
# directive (and, from httpd, the file and line): bad URLs, unknown
# schemes and parameters, impossible values, misplaced directives. A
# correct configuration passes.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use File::Temp qw(tempdir);

# 63 server URLs: with a name, the 64 words httpd's TAKE_ARGV would take.
my $many = join ' ', map { "h2c://127.0.0.1:" . (1000 + $_) } 1 .. 63;
my $many64 = join ' ', map { "h2c://127.0.0.1:" . (2000 + $_) } 1 .. 64;

my @bad = (
    ['H2GWPass /a/ http://127.0.0.1:1/', qr/H2GWPass: 'http:\/\/127\.0\.0\.1:1\/': unknown scheme 'http'/, 'unknown scheme'],
    ['H2GWPass /a/ h2://127.0.0.1:1/ tls-ca=/nonexistent/ca.pem', qr/H2GWPass: cannot load CA certificates from \/nonexistent\/ca\.pem/, 'a CA file that cannot be read'],
    ['H2GWPass /a/ h2://127.0.0.1:1/ tls-cert=/nonexistent/c.pem', qr/a client certificate needs both tls-cert= and tls-key=/, 'a client certificate without its key'],
    ['H2GWPass /a/ h2://127.0.0.1:1/ tls-verify=maybe', qr/H2GWPass tls-verify: 'maybe' must be on or off/, 'tls-verify not on/off'],
    ['H2GWPass /a/ not-a-url', qr/is not an upstream URL/, 'not a URL'],
    ['H2GWPass a/ h2c://127.0.0.1:1/', qr/path prefix 'a\/' must start with '\/'/, 'relative prefix'],
    ['H2GWPass /a/', qr/needs a path prefix and an upstream URL/, 'missing URL'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ timeout=abc', qr/H2GWPass timeout: 'abc' is not a number of seconds/, 'bad timeout'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ timeout=0', qr/H2GWPass timeout: '0' is not a number of seconds/, 'zero timeout'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ window=10', qr/H2GWPass window: 10 is out of range/, 'window too small'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ window=4G', qr/H2GWPass window: 4G is out of range/, 'window too large'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ request-buffer=1x', qr/H2GWPass request-buffer: '1x' is not a byte count/, 'bad size suffix'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ retries=11', qr/H2GWPass retries: '11' is not a count from 0 to 10/, 'too many retries'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ bogus=1', qr/H2GWPass: unknown parameter 'bogus'/, 'unknown parameter'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ novalue', qr/parameter 'novalue' is not key=value/, 'parameter without value'],
    ['H2GWPass /a/ h2c://127.0.0.1:99999/', qr/bad port/, 'port out of range'],
    ['H2GWTimeout -1', qr/H2GWTimeout: '-1' is not a number of seconds/, 'negative H2GWTimeout'],
    ['H2GWStreamWindow 1', qr/H2GWStreamWindow: 1 is out of range/, 'H2GWStreamWindow too small'],
    ['H2GWRequestBuffer 1G', qr/H2GWRequestBuffer: 1G is out of range/, 'H2GWRequestBuffer too large'],
    ['H2GWRequestBuffer 99999999999G', qr/H2GWRequestBuffer: 99999999999G is out of range/, 'a size that would overflow'],
    ['H2GWStreamWindow 9223372036854775807K', qr/H2GWStreamWindow: 9223372036854775807K is out of range/, 'a window that would overflow'],
    # Every directive that sets a parameter for a server parses it as the
    # parameter does, its message named after the directive.
    ['H2GWConnWindow 10', qr/H2GWConnWindow: 10 is out of range \(1024 to 2147483647 bytes\)/, 'H2GWConnWindow too small'],
    ['H2GWConnectTimeout 0', qr/H2GWConnectTimeout: '0' is not a number of seconds \(from 0\.1 to 31536000\)/, 'H2GWConnectTimeout 0'],
    ['H2GWForwarded maybe', qr/H2GWForwarded must be On or Off/, 'H2GWForwarded needs on/off'],
    ["<Directory /tmp>\nH2GWPass h2c://127.0.0.1:1/\n</Directory>", qr/only allowed at server level or in <Location>/, 'not in <Directory>'],
    ["<Location /x/>\nH2GWPass h2c://127.0.0.1:1/\nH2GWPass h2c://127.0.0.1:2/\n</Location>", qr/given twice in one <Location>/, 'twice in a <Location>'],
    ['H2GWPreserveHost maybe', qr/H2GWPreserveHost must be On or Off/, 'flag needs on/off'],
    ['H2GWPass /a/ upstream://nosuch/', qr/H2GWPass: unknown upstream 'nosuch' in 'upstream:\/\/nosuch\/' \(no H2GWUpstream of that name\)/, 'unknown upstream name'],
    ["H2GWUpstream u h2c://127.0.0.1:1\nH2GWUpstream u h2c://127.0.0.1:2", qr/H2GWUpstream: 'u' is already defined/, 'upstream defined twice'],
    ['H2GWUpstream u', qr/H2GWUpstream: needs a name and at least one server URL/, 'upstream without servers'],
    ['H2GWUpstream u max-conns=2', qr/H2GWUpstream: needs at least one server URL/, 'upstream with only parameters'],
    ['H2GWUpstream u h2c://127.0.0.1:1/v1/', qr/a server URL has no path/, 'server URL with a path'],
    ['H2GWUpstream u h2c://127.0.0.1:1 lb=random', qr/H2GWUpstream lb: 'random' is not least-streams or round-robin/, 'unknown lb'],
    ['H2GWUpstream u h2c://127.0.0.1:1 max-conns=0', qr/H2GWUpstream max-conns: '0' is not a count from 1 to 1000/, 'max-conns 0'],
    ['H2GWUpstream u h2c://127.0.0.1:1 max-streams=x', qr/H2GWUpstream max-streams: 'x' is not a count/, 'bad max-streams'],
    ['H2GWUpstream u h2c://127.0.0.1:1 queue-timeout=-1', qr/H2GWUpstream queue-timeout: '-1' is not a number of seconds/, 'negative queue-timeout'],
    ['H2GWUpstream bad/name h2c://127.0.0.1:1', qr/H2GWUpstream: name 'bad\/name' may only hold/, 'bad upstream name'],
    ["H2GWUpstream u h2c://127.0.0.1:1\nH2GWPass /a/ upstream://u/ max-conns=2", qr/H2GWPass: 'max-conns' belongs to the connections of upstream 'u'/, 'pool parameter on an upstream:// pass'],
    ["<Location /x/>\nH2GWUpstream u h2c://127.0.0.1:1\n</Location>", qr/H2GWUpstream not allowed in <Location> context/, 'H2GWUpstream in <Location>'],
    # Patterns have no prefix to cut off the path: refused, never guessed.
    ["<Location ~ \"^/(alpha|beta)/\">\nH2GWPass h2c://127.0.0.1:1/\n</Location>", qr/H2GWPass: not allowed in a regular expression <Location>/, 'regex <Location ~>'],
    ["<LocationMatch \"^/x/\">\nH2GWPass h2c://127.0.0.1:1/\n</LocationMatch>", qr/H2GWPass: not allowed in a regular expression <Location>/, '<LocationMatch>'],
    ["<Location /api*>\nH2GWPass h2c://127.0.0.1:1/\n</Location>", qr/H2GWPass: not allowed in a wildcard <Location \/api\*>/, 'wildcard <Location>'],
    # Every word is read, however many (httpd's TAKE_ARGV stops at 64).
    ["H2GWUpstream u $many bogus=1 max-conns=0", qr/H2GWUpstream: unknown parameter 'bogus'/, 'a bad word past the 64th'],
    ["H2GWUpstream u $many max-conns=0", qr/H2GWUpstream max-conns: '0' is not a count/, 'a bad value past the 64th word'],
    ["H2GWUpstream u $many h2c://127.0.0.1:2 h2c://127.0.0.1:3", qr/H2GWUpstream: more than 64 servers/, 'more than 64 servers'],
    # Values that would break every request.
    ['H2GWPass /a/ h2c://127.0.0.1:1/ timeout=0.0000001', qr/H2GWPass timeout: '0\.0000001' is not a number of seconds \(from 0\.1 to 31536000\)/, 'a timeout below the minimum names it'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ settings-timeout=0.01', qr/H2GWPass settings-timeout: '0\.01' is not a number of seconds \(from 0\.1 to/, 'a tiny settings-timeout'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ ping=0.001', qr/H2GWPass ping: '0\.001' is not a number of seconds \(0, or from 0\.1 to/, 'a tiny ping'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ read-timeout=0.05', qr/H2GWPass read-timeout: '0\.05' is not a number of seconds \(from 0\.1/, 'a tiny read-timeout'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ queue-timeout=0.0000001', qr/H2GWPass queue-timeout: '0\.0000001' is not a number of seconds \(from 0\.001/, 'a queue-timeout that rounds to nothing'],
    ['H2GWTimeout 99999999', qr/H2GWTimeout: '99999999' is not a number of seconds \(from 0\.1 to 31536000\)/, 'over the one-year cap: the message names the range'],
    ['H2GWConnectTimeout 0.01', qr/H2GWConnectTimeout: '0\.01' is not a number of seconds \(from 0\.1/, 'a tiny H2GWConnectTimeout'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ grpc-timeout-max=x', qr/H2GWPass grpc-timeout-max: 'x' is not a number of seconds \(0, or from 0\.1/, 'a bad grpc-timeout-max'],
    # gRPC-Web (t/39-grpc-web.t).
    ['H2GWPass /a/ h2c://127.0.0.1:1/ grpc-web=yes', qr/H2GWPass grpc-web: 'yes' must be on or off/, 'grpc-web not on/off'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ grpc-web=on grpc-web-origins=app.example', qr/H2GWPass grpc-web-origins: 'app\.example' is not an origin \(http\[s\]:\/\/host\[:port\], or \*\)/, 'an origin without its scheme'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ grpc-web-origins=https://app.example/', qr/H2GWPass grpc-web-origins: 'https:\/\/app\.example\/' is not an origin/, 'an origin with a path'],
    ['H2GWUpstream u h2c://127.0.0.1:1 grpc-web-origins=,', qr/H2GWUpstream grpc-web-origins: ',' names no origin/, 'an empty origin list'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ grpc-web-expose=x-ok,bad(name)', qr/H2GWPass grpc-web-expose: 'bad\(name\)' is not a header field name/, 'a bad field name to expose'],
    ['H2GWGrpcWeb maybe', qr/H2GWGrpcWeb must be On or Off/, 'H2GWGrpcWeb needs on/off'],
    # TLS parameters on a cleartext server are a mistake.
    ['H2GWPass /a/ h2c://127.0.0.1:1/ tls-verify=off', qr/H2GWPass: 'tls-verify' is a TLS parameter, but no server is h2:\/\//, 'tls-* on an h2c:// pass'],
    ['H2GWUpstream u h2c://127.0.0.1:1 tls-ca=/etc/ssl/ca.pem', qr/H2GWUpstream: 'tls-ca' is a TLS parameter, but no server is h2:\/\//, 'tls-* on an h2c:// upstream'],
    # Quoting as elsewhere in httpd: the quotes go, the value stays.
    ['H2GWPass /a/ h2://127.0.0.1:1/ tls-ca="/nonexistent/ca.pem"', qr/cannot load CA certificates from \/nonexistent\/ca\.pem\b(?!")/, 'a quoted value loses its quotes'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ timeout="5', qr/H2GWPass: unbalanced " quote/, 'an unbalanced quote'],
    # Active health checks.
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=hz', qr/H2GWUpstream health-check: 'hz' is not a path starting with '\/', grpc or grpc:SERVICE/, 'a health-check path without a leading /'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=grpc:', qr/H2GWUpstream health-check: 'grpc:' names no gRPC service/, 'health-check=grpc: without a service'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=grpcx', qr/H2GWUpstream health-check: 'grpcx' is not a path starting with '\/'/, 'a health-check that is neither a path nor grpc'],
    ['H2GWUpstream u h2c://127.0.0.1:1 "health-check=/a b"', qr/H2GWUpstream health-check: '\/a b' holds a space/, 'a health-check path with a space'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=/hz health-interval=abc', qr/H2GWUpstream health-interval: 'abc' is not a number of seconds \(from 0\.1/, 'a bad health-interval'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=/hz health-interval=0.01', qr/H2GWUpstream health-interval: '0\.01' is not a number of seconds \(from 0\.1/, 'a health-interval below the minimum'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=/hz health-timeout=0', qr/H2GWUpstream health-timeout: '0' is not a number of seconds/, 'health-timeout=0'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=/hz health-fails=0', qr/H2GWUpstream health-fails: '0' is not a count from 1 to 100/, 'health-fails=0'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=/hz health-passes=101', qr/H2GWUpstream health-passes: '101' is not a count from 1 to 100/, 'health-passes=101'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=/hz health-status=2xx,abc', qr/H2GWUpstream health-status: '2xx,abc' is not a list of statuses from 100 to 599/, 'a bad health-status'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=/hz health-status=600', qr/H2GWUpstream health-status: '600' is not a list of statuses/, 'a health-status out of range'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-interval=1', qr/H2GWUpstream: 'health-interval' needs health-check= /, 'health-interval without health-check'],
    ['H2GWPass /a/ h2c://127.0.0.1:1/ health-fails=3', qr/H2GWPass: 'health-fails' needs health-check= /, 'health-fails without health-check on a pass'],
    ['H2GWUpstream u h2c://127.0.0.1:1 health-check=grpc health-status=200', qr/H2GWUpstream: health-status= is for health-check=\/path; a gRPC check passes on SERVING/, 'health-status on a gRPC check'],
    ["H2GWUpstream u h2c://127.0.0.1:1\nH2GWPass /a/ upstream://u/ health-check=/hz", qr/H2GWPass: 'health-check' belongs to the connections of upstream 'u'/, 'health-check on an upstream:// pass'],
);

# Passes that can work, but not as meant: a warning naming file and line,
# and the configuration still loads.
my @warn = (
    ["H2GWPass /api/ h2c://127.0.0.1:1/\nH2GWPass /api/v2/ h2c://127.0.0.1:2/",
     qr/H2GWPass \/api\/v2\/ on line \d+ of \S+ never matches: H2GWPass \/api\/ on line \d+ of /, 'a pass shadowed by an earlier one'],
    ["H2GWPass /api/ h2c://127.0.0.1:1/\n<Location /api/x/>\nH2GWPass h2c://127.0.0.1:2/\n</Location>",
     qr/H2GWPass \/api\/x\/ on line \d+ of \S+ never matches: H2GWPass \/api\/ on line/, 'a <Location> pass shadowed by a server-level one'],
    ["<Location /api>\nH2GWPass h2c://127.0.0.1:1/\n</Location>",
     qr/H2GWPass \/api on line \d+ of \S+: the prefix ends without '\/' and the upstream path \/ does so, so \/api\/x goes upstream as \/\/x/, '<Location /api> to a URL with a trailing slash'],
    ["H2GWPass /api/ h2c://127.0.0.1:1/v1",
     qr/H2GWPass \/api\/ on line \d+ of \S+: the prefix ends with '\/' and the upstream path \/v1 does not, so \/api\/x goes upstream as \/v1x/, 'a prefix with a slash to a path without'],
    ["LoadModule proxy_module \"$ENV{H2GW_HTTPD_MODULES}/mod_proxy.so\"\nProxyPass /api/ http://127.0.0.1:1/\nH2GWPass /api/ h2c://127.0.0.1:1/",
     qr/H2GWPass \/api\/ on line \d+ of \S+ and ProxyPass on line \d+ of \S+ claim the same path/, 'the same prefix in ProxyPass and H2GWPass'],
    ["LoadModule proxy_module \"$ENV{H2GW_HTTPD_MODULES}/mod_proxy.so\"\n<Location /p/>\nProxyPass http://127.0.0.1:1/\n</Location>\nH2GWPass /p/ h2c://127.0.0.1:1/",
     qr/H2GWPass \/p\/ on line \d+ of \S+ and ProxyPass on line \d+ of \S+ claim the same path/, 'a <Location> ProxyPass with the same prefix'],
    ["H2GWUpstream u h2c://127.0.0.1:1 window=1M conn-window=8M",
     qr/H2GWUpstream u on line \d+ of \S+: window \(1048576\) x max-streams \(100\) is more than half of conn-window \(8388608\)/, 'window x max-streams over conn-window'],
    # 100 streams x 1M = 100M is more than 128M / 2 (nghttp2 gives the
    # connection window back once half of it was read).
    ["H2GWPass /d/ h2c://127.0.0.1:1/ window=1M conn-window=128M",
     qr/H2GWPass h2c:\/\/127\.0\.0\.1:1 on line \d+ of \S+: window \(1048576\) x max-streams \(100\) is more than half of conn-window \(134217728\)/, 'window x max-streams over half the conn-window'],
);

plan tests => 2 * @bad + 2 * @warn + 13;

my $vars = Apache::Test::vars();
my $httpd = $vars->{httpd};
my $module = "$vars->{serverroot}/../.libs/mod_h2gw.so";
my $mods = $ENV{H2GW_HTTPD_MODULES};
my $dir = tempdir(CLEANUP => 1);

sub config_test {
    my ($body) = @_;
    my $conf = "$dir/httpd.conf";
    open my $fh, '>', $conf or die;
    print $fh <<"EOC";
ServerRoot "$dir"
ServerName localhost
Listen 127.0.0.1:1
PidFile "$dir/pid"
ErrorLog "$dir/error_log"
LoadModule mpm_event_module "$mods/mod_mpm_event.so"
LoadModule authz_core_module "$mods/mod_authz_core.so"
LoadModule h2gw_module "$module"
$body
EOC
    close $fh;
    my $out = `'$httpd' -t -f '$conf' 2>&1`;
    return ($? >> 8, $out);
}

for my $case (@bad) {
    my ($body, $re, $label) = @$case;
    my ($rc, $out) = config_test($body);
    ok t_cmp($rc != 0 ? 1 : 0, 1, "config test fails: $label");
    ok t_cmp($out =~ $re && $out =~ /line \d+ of .*httpd\.conf/ ? 1 : 0, 1,
             "the error names the directive, the problem and the line: $label");
}

for my $case (@warn) {
    my ($body, $re, $label) = @$case;
    my ($rc, $out) = config_test($body);
    ok t_cmp($rc, 0, "config test passes: $label");
    ok t_cmp($out =~ $re ? 1 : 0, 1, "a warning names both places: $label")
        or print "# output: $out\n";
}

my ($rc, $out) = config_test(<<'EOC');
H2GWTimeout 30
H2GWConnectTimeout 2.5
H2GWStreamWindow 1M
H2GWConnWindow 256M
H2GWRequestBuffer 128K
H2GWPreserveHost off
H2GWAddHeaders on
H2GWPass /api/ h2c://127.0.0.1:8080/v1/ timeout=5 connect-timeout=1 window=256K conn-window=60M request-buffer=64K preserve-host=on
H2GWPass /v6/ h2c://[::1]:8080/
<Location /grpc/>
    H2GWPass h2c://10.0.0.5:50051/
</Location>
H2GWPass /app/ upstream://app/v2/ timeout=5 retries=2
H2GWUpstream app h2c://10.0.0.1:8080 h2c://10.0.0.2:8080 lb=round-robin max-conns=2 max-streams=50 queue-timeout=2.5 retry=10 ping=30 idle-timeout=120 max-requests=10000 max-lifetime=3600 settings-timeout=3 read-timeout=60 connect-timeout=1
H2GWUpstream checked h2c://10.0.0.3:8080 health-check=/healthz?full=1 health-interval=2.5 health-timeout=1 health-fails=3 health-passes=1 health-status=200,204,3xx
H2GWUpstream grpcsvc h2c://10.0.0.4:50051 health-check=grpc:my.pkg.Service
H2GWPass /hz/ h2c://10.0.0.6:8080/ health-check=GRPC
EOC
ok t_cmp($rc, 0, "a correct configuration passes the config test");
ok t_cmp($out =~ /Syntax OK/ ? 1 : 0, 1, "httpd says Syntax OK");
ok t_cmp($out =~ /\bH2GW/ ? 1 : 0, 0, "and no warning about it");

# Quoted words, and more than 64 of them, are read as httpd reads its own.
($rc, $out) = config_test(join "\n",
    'H2GWPass "/q/" "h2c://127.0.0.1:1/" timeout="5" \'retries=2\'',
    "H2GWUpstream big $many64 max-conns=2 retry=1");
ok t_cmp($rc, 0, "quoted words and a 64-server upstream with parameters pass") or print "# $out\n";
ok t_cmp($out =~ /\bH2GW/ ? 1 : 0, 0, "... without a warning");

($rc, $out) = config_test("Include \"$vars->{serverroot}/../conf/h2gw.conf\"");
ok t_cmp($rc, 0, "the example conf/h2gw.conf passes the config test");
ok t_cmp($out =~ /\bH2GW/ ? 1 : 0, 0, "... without a warning") or print "# $out\n";
($rc, $out) = config_test("Include \"$vars->{serverroot}/../conf/h2gw-grpc-web.conf\"\n"
    . "H2GWGrpcWeb On\n"
    . "H2GWPass /w/ h2c://127.0.0.1:1/ grpc-web=off grpc-web-origins=*,http://a.example:8080 "
    . "grpc-web-expose=X-A,x-b");
ok t_cmp($rc, 0, "the gRPC-Web example conf/h2gw-grpc-web.conf, H2GWGrpcWeb and "
                 . "every grpc-web parameter pass the config test") or print "# $out\n";
ok t_cmp($out =~ /\bH2GW/ ? 1 : 0, 0, "... without a warning") or print "# $out\n";
($rc, $out) = config_test("Include \"$vars->{serverroot}/../conf/h2gw-tls.conf\"");
ok t_cmp($rc, 0, "the TLS example conf/h2gw-tls.conf passes the config test");
ok t_cmp($out =~ /\bH2GW/ ? 1 : 0, 0, "... without a warning") or print "# $out\n";
($rc, $out) = config_test("Include \"$vars->{serverroot}/../conf/h2gw-grpc.conf\"");
ok t_cmp($rc, 0, "the gRPC example conf/h2gw-grpc.conf passes the config test "
                 . "with its own defaults (t/38-grpc.t runs calls through it)");
ok t_cmp($out =~ /\bH2GW/ ? 1 : 0, 0, "... without a warning") or print "# $out\n";
