#!/bin/sh
# Replays the committed header corpus through the fuzz target (TAP).
exec ./fuzz/replay_headers "${srcdir:-.}"/fuzz/corpus/headers/*
