#!/bin/sh
# Replays the committed map corpus through the fuzz target (TAP).
exec ./fuzz/replay_map "${srcdir:-.}"/fuzz/corpus/map/*
