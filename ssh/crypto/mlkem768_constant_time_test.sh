#!/bin/sh
# Runs the ctgrind-style check of ML-KEM-768 Decaps under valgrind memcheck:
# any branch or index on the secret key makes valgrind exit 9.
set -eu
exec valgrind -q --error-exitcode=9 "$1"
