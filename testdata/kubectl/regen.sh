#!/bin/sh
# Regenerate the golden files from kubectl: for each cases/NAME/args (one argument per line),
# run `kubectl create secret docker-registry ARGS` here (no cluster is contacted: every case
# uses --dry-run=client) and store stdout, stderr and the exit code.
set -eu
cd "$(dirname "$0")"
export KUBECONFIG=/nonexistent/pullsim-kubeconfig
for dir in cases/*/; do
    dir=${dir%/}
    set --
    while IFS= read -r line || [ -n "$line" ]; do
        set -- "$@" "$line"
    done < "$dir/args"
    code=0
    kubectl create secret docker-registry "$@" > "$dir/stdout" 2> "$dir/stderr" || code=$?
    echo "$code" > "$dir/code"
done
