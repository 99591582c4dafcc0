// gRPC-Web *text* calls with grpc-web (the gRPC project's own JavaScript
// client, format "text": application/grpc-web-text) for t/39-grpc-web.t,
// run in Node through the xhr2 XMLHttpRequest. No generated code: the
// method descriptors are built here and the one-string messages
// (field 1) encoded by hand.
//
//   node grpc-web-text.js BASEURL unary TEXT
//   node grpc-web-text.js BASEURL stream N
// Prints one JSON object: code, message, the response texts, the
// response metadata (headers), the status metadata (trailers) and the
// content types sent and received.
"use strict";
// The content types that went each way, as the XHR saw them (grpc-web
// keeps content-type out of the metadata it reports).
const XHR = require("xhr2");
const types = { sent: null, received: null };
global.XMLHttpRequest = class extends XHR {
    setRequestHeader(name, value) {
        if (name.toLowerCase() === "content-type") {
            types.sent = value;
        }
        return super.setRequestHeader(name, value);
    }
    send(body) {
        this.addEventListener("readystatechange", () => {
            if (this.readyState >= 2 && !types.received) {
                types.received = this.getResponseHeader("content-type");
            }
        });
        return super.send(body);
    }
};
const { GrpcWebClientBase, MethodDescriptor, MethodType } =
    require("grpc-web");

function encode(msg) {
    const t = Buffer.from(msg.text);
    return new Uint8Array(Buffer.concat([Buffer.from([0x0a, t.length]), t]));
}

function decode(bytes) {
    const b = Buffer.from(bytes);
    return { text: b.length ? b.subarray(2, 2 + b[1]).toString() : "" };
}

class Msg {}

function descriptor(name, type) {
    return new MethodDescriptor("/h2gw.test.Web/" + name, type, Msg, Msg,
                                encode, decode);
}

const [base, kind, arg] = process.argv.slice(2);
const client = new GrpcWebClientBase({ format: "text" });
const out = { code: null, message: null, texts: [], headers: null,
              trailers: null, types };
const done = () => { console.log(JSON.stringify(out)); process.exit(0); };
setTimeout(() => { out.code = "client timeout"; done(); }, 30000);

if (kind === "unary") {
    const call = client.rpcCall(base + "/h2gw.test.Web/Say", { text: arg },
                                { "x-h2gw-in": "text-meta" },
                                descriptor("Say", MethodType.UNARY),
                                (err, res) => {
        if (err) {
            out.code = err.code;
            out.message = err.message;
            out.trailers = err.metadata || null;
        } else {
            out.code = 0;
            out.texts.push(res.text);
        }
        setImmediate(done);
    });
    call.on("metadata", (m) => { out.headers = m; });
    call.on("status", (s) => { out.trailers = s.metadata || null; });
} else {
    const stream = client.serverStreaming(base + "/h2gw.test.Web/Count",
                                          { text: arg }, {},
                                          descriptor("Count",
                                                     MethodType.SERVER_STREAMING));
    stream.on("data", (m) => { out.texts.push(m.text); });
    stream.on("metadata", (m) => { out.headers = m; });
    stream.on("status", (s) => {
        out.code = s.code;
        out.message = s.details;
        out.trailers = s.metadata || null;
    });
    stream.on("error", (e) => {
        out.code = e.code;
        out.message = e.message;
        done();
    });
    stream.on("end", done);
}
