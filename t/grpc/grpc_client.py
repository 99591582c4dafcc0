#!/usr/bin/python3
"""A real gRPC client (grpcio) for the mod_h2gw suite: t/38-grpc.t.

grpc_client.py TARGET SERVICE CASE [ARG]
TARGET is host:port (cleartext HTTP/2 with prior knowledge), SERVICE the
service name (h2gw.test.Echo or h2gw.test.Slow). Prints one JSON object
with what the call returned: "code" (the gRPC status name), "details",
and per case the messages or trailers seen.
"""
import json
import sys
import threading
import time

import grpc


def status_of(err):
    return {"code": err.code().name, "details": err.details()}


def main():
    target, service, case = sys.argv[1:4]
    arg = sys.argv[4] if len(sys.argv) > 4 else ""
    tag = sys.argv[5] if len(sys.argv) > 5 else ""
    md = (("x-tag", tag),)
    out = {"case": case}
    with grpc.insecure_channel(target) as ch:
        path = "/%s/" % service
        try:
            if case == "unary":
                call = ch.unary_unary(path + "Unary")
                resp, c = call.with_call(arg.encode(), metadata=md, timeout=20)
                out["response"] = resp.decode()
                out["trailers"] = dict(c.trailing_metadata())
                out["code"] = c.code().name
            elif case == "server-stream":
                call = ch.unary_stream(path + "ServerStream")
                it = call(arg.encode(), metadata=md, timeout=30)
                sizes = [len(m) for m in it]
                out["count"] = len(sizes)
                out["bytes"] = sum(sizes)
                out["code"] = it.code().name
            elif case == "client-stream":
                # ARG "<n>:<size>[:<gap ms>]"
                parts = [int(x) for x in arg.split(":")]
                n, size = parts[0], parts[1]
                gap = parts[2] / 1000.0 if len(parts) > 2 else 0

                def gen():
                    for i in range(n):
                        if gap:
                            time.sleep(gap)
                        yield b"m" * size
                call = ch.stream_unary(path + "ClientStream")
                resp, c = call.with_call(gen(), metadata=md, timeout=30)
                out["response"] = resp.decode()
                out["code"] = c.code().name
            elif case == "bidi":
                # ARG "<n>[:<gap ms>]": ping-pong; each message is sent only
                # after the answer to the previous one arrived, so a proxy
                # that holds either direction deadlocks the call.
                parts = [int(x) for x in arg.split(":")]
                n = parts[0]
                gap = parts[1] / 1000.0 if len(parts) > 1 else 0
                got = threading.Semaphore(0)

                def gen():
                    for i in range(n):
                        if i:
                            if not got.acquire(timeout=10):
                                return
                            if gap:
                                time.sleep(gap)
                        yield ("ping%d" % i).encode()
                call = ch.stream_stream(path + "Bidi")
                it = call(gen(), metadata=md, timeout=30)
                answers = []
                for m in it:
                    answers.append(m.decode())
                    got.release()
                out["answers"] = answers
                out["code"] = it.code().name
            elif case == "cancel":
                # The first message arrives, then the client cancels.
                call = ch.unary_stream(path + "Hold")
                it = call(b"", metadata=md, timeout=30)
                first = next(it)
                out["first"] = first.decode()
                it.cancel()
                try:
                    for _ in it:
                        pass
                except grpc.RpcError as e:
                    out.update(status_of(e))
            elif case == "server-cancel":
                call = ch.unary_stream(path + "ServerCancel")
                it = call(b"", metadata=md, timeout=30)
                got = []
                try:
                    for m in it:
                        got.append(m.decode())
                    out["code"] = it.code().name
                except grpc.RpcError as e:
                    out.update(status_of(e))
                out["messages"] = got
            else:
                sys.exit("unknown case " + case)
        except grpc.RpcError as e:
            out.update(status_of(e))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
