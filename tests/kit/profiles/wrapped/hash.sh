#!/bin/sh
# token_hash as the wrapped implementation computes it: the token on stdin, the hash on stdout.
set -eu
sha256sum | cut -d' ' -f1
