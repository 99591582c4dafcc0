// A client with a request body that it writes as it is told to, for the
// tests of streams without Content-Length (HTTP/2: no content-length;
// HTTP/1.1: chunked): every line read on stdin is sent at once as one
// piece of the body (without its newline); end of stdin ends the body.
// Response body bytes go to stdout as they arrive; the exit status is 0
// when the response ended with status 200, 1 otherwise.
// h1tls: HTTP/1.1 over TLS (https URL; the test CA's certificate is not
// checked).
// Usage: node t/tools/stream-client.js h1|h1tls|h2 URL
'use strict';
const http = require('http');
const https = require('https');
const http2 = require('http2');
const readline = require('readline');

const [proto, url] = process.argv.slice(2);
const u = new URL(url);
let status = 0;
let body;

function done(ok) { process.exitCode = ok && status === 200 ? 0 : 1; }

if (proto === 'h2') {
    const session = http2.connect(u.origin);
    session.on('error', () => done(false));
    body = session.request({ ':method': 'POST', ':path': u.pathname + u.search });
    body.on('response', (h) => { status = h[':status']; });
    body.on('data', (d) => process.stdout.write(d));
    body.on('end', () => { done(true); session.close(); });
    body.on('error', () => { done(false); session.destroy(); });
} else {
    const mod = proto === 'h1tls' ? https : http;
    body = mod.request({ host: u.hostname, port: u.port, method: 'POST',
                         path: u.pathname + u.search,
                         rejectUnauthorized: false,
                         headers: { 'transfer-encoding': 'chunked' } });
    body.on('response', (res) => {
        status = res.statusCode;
        res.on('data', (d) => process.stdout.write(d));
        res.on('end', () => done(true));
        res.on('error', () => done(false));
    });
    body.on('error', () => done(false));
    body.flushHeaders();
}
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => body.write(line));
rl.on('close', () => body.end());
