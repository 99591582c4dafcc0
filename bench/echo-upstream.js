// An h2c (HTTP/2 prior knowledge) echo server on Node's own http2 module,
// for bench/interactive.sh: every request's body comes back as it arrives,
// with a 200 sent before the first byte; an upstream nobody in this
// project wrote. Usage: node bench/echo-upstream.js PORTFILE
'use strict';
const http2 = require('http2');
const fs = require('fs');

const server = http2.createServer();
server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
    stream.on('data', (d) => stream.write(d));
    stream.on('end', () => stream.end());
    stream.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => {
    fs.writeFileSync(process.argv[2], String(server.address().port) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
