#!/bin/sh
# Replays the committed gRPC-Web codec corpus through the fuzz target (TAP).
exec ./fuzz/replay_grpcweb "${srcdir:-.}"/fuzz/corpus/grpcweb/*
