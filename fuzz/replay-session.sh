#!/bin/sh
# Replays the committed session corpus through the fuzz target (TAP).
exec ./fuzz/replay_session "${srcdir:-.}"/fuzz/corpus/session/*
