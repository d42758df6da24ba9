#!/usr/bin/env bash
# Regenerate testdata/references.json and testdata/references-mutations.json by running the
# upstream Go parser (distribution/reference v0.6.0+ with go-digest v1.0.0) over the inputs.
#
# usage: crates/reference/oracle/gen.sh REFERENCE_GIT_DIR GO_DIGEST_GIT_DIR
#   (local clones of github.com/distribution/reference and github.com/opencontainers/go-digest;
#    needs a Go toolchain; nothing is downloaded)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
ref_git="$1"; dig_git="$2"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/reference" "$work/go-digest" "$work/oracle"
git --git-dir="$ref_git" archive HEAD | tar -x -C "$work/reference"
git --git-dir="$dig_git" archive v1.0.0 | tar -x -C "$work/go-digest"
cp "$here/main.go" "$here/go.mod" "$work/oracle/"
cd "$work/oracle"
go mod edit -replace "github.com/distribution/reference=$work/reference" \
  -replace "github.com/opencontainers/go-digest=$work/go-digest"
export GOFLAGS=-mod=mod GOPROXY=off GONOSUMDB=* GONOSUMCHECK=1 GOFLAGS=-mod=mod GOSUMDB=off
python3 "$here/gen_inputs.py" "$work/reference" "$work"
go build -o "$work/oracle-bin" .
"$work/oracle-bin" < "$work/upstream.json" > "$root/testdata/references.json"
"$work/oracle-bin" -min < "$work/mutations.json" > "$root/testdata/references-mutations.json"
echo "wrote $root/testdata/references.json and references-mutations.json"
