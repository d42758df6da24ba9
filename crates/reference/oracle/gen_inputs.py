#!/usr/bin/env python3
"""Write the oracle's input lists.

usage: gen_inputs.py REFERENCE_SRC_DIR OUT_DIR

OUT_DIR/upstream.json: every string literal of distribution/reference normalize_test.go,
reference_test.go and regexp_test.go, the inputs of kubernetes pkg/util/parsers/parsers_test.go
TestParseImageName, the strings.Repeat inputs of those tables, and hand-picked edge cases.
OUT_DIR/mutations.json: deterministic single-edit mutations of valid references (a differential
fuzz corpus).
"""
import json
import random
import re
import sys

src_dir, out_dir = sys.argv[1], sys.argv[2]
src = ""
for f in ["normalize_test.go", "reference_test.go", "regexp_test.go"]:
    src += open(f"{src_dir}/{f}").read()

HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# kubernetes pkg/util/parsers/parsers_test.go TestParseImageName inputs.
K8S = [
    "root", "root:tag", f"root@sha256:{HEX}", "user/repo", "user/repo:tag",
    f"user/repo@sha256:{HEX}", "url:5000/repo", "url:5000/repo:tag",
    f"url:5000/repo@sha256:{HEX}", f"url:5000/repo:latest@sha256:{HEX}",
    "ROOT", "http://root", HEX,
]
CONSTRUCTED = [
    "domain/" + "a" * 256 + ":tag",
    "a/" * 127 + "a:tag-puts-this-over-max",
    "example.com/" + "a" * 255 + ":tag",
    "example.com/" + "a" * 256,
    "a/" * 128 + "a",
]
S512 = "f" * 128
EXTRA = [
    "nginx", "nginx:1.25", "nginx:latest", "nginx:Latest", "nginx:LATEST", f"nginx@sha256:{HEX}",
    f"nginx:latest@sha256:{HEX}", f"nginx:1.25@sha256:{HEX}",
    "registry.example.com:5000/team/app:v1.2.3", "localhost:5000/app", "localhost/app:1",
    "localhost", "localhost:5000", "127.0.0.1:5000/a/b/c:d", "[::1]:5000/x", "[::1]/x:y",
    f"app@sha384:{'a' * 96}", f"app@sha512:{'b' * 128}", f"app@sha512:{S512[:-2]}",
    f"app@sha256:{HEX.upper()}", f"app@SHA256:{HEX}", f"app@md5:{HEX}", f"app@sha256:{HEX}0",
    f"app@sha256+b64:{HEX}", f"app@sha256:{HEX}@sha256:{HEX}", "app@", "app:", "app:@", "@", ":",
    "/", "//", "a//b", "a/", "/a", "a b", " nginx", "nginx ", "nginx\t", "nginx\n",
    "a:" + "t" * 128, "a:" + "t" * 129, "a:_x", "a:.x", "a:-x", "a:x~y",
    "a" * 255, "a" * 256, "x.io/" + "a" * 255, "x.io/" + "a" * 256, "docker.io/" + "a" * 248,
    "docker.io/" + "a" * 247, "a" * 247, "a" * 248,
    "\u212aubernetes", "\u0130mage", "caf\u00e9", "\u00c9cole/x", "ÄÖ/x", "x/Ä",
    "Nginx", "NGINX:latest", "nginx:Tag", "Foo/Bar", "foo/Bar:tag", "FOO.io/bar",
    "index.docker.io/nginx", "index.docker.io/library/nginx:1", "docker.io/nginx",
    "docker.io/library/nginx", "docker.io/library/a/b", "library/nginx", "library/a/b",
    "registry-1.docker.io/library/nginx", "quay.io/coreos/etcd:v3.5.0", "gcr.io/pause",
    "k8s.gcr.io/pause:3.9", "registry.k8s.io/pause:3.9", "mcr.microsoft.com/dotnet/sdk:8.0",
    "host:port/x", "host:80/x", "host:/x", "host:80:90/x", "[::1", "[::1]x/y", "[]/x",
    "[g::1]/x", "a..b/c", "a.-b/c", "-a.b/c", "a-.b/c", "a_b.com/c", "UPPER/lower",
    "foo:bar/baz", "foo@bar/baz", "foo/bar:tag/baz", "a:b:c", "a:b@c", "a@b:c",
    "0" * 64, "A" * 64, "0" * 63, "0" * 65, f"sha256:{HEX}", f"sha512:{S512}",
    "nginx:1.25\u0000", "\u00a0nginx", "\ufeffnginx", "ngi\u200bnx", "\"quoted\"", "back\\slash",
]

lits = []
for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', src):
    lits.append(json.loads('"' + m.group(1) + '"'))
seen, upstream = set(), []
for s in lits + K8S + CONSTRUCTED + EXTRA:
    if s in seen:
        continue
    seen.add(s)
    upstream.append(s)
json.dump(upstream, open(f"{out_dir}/upstream.json", "w"), ensure_ascii=False, indent=0)

# Mutations: delete, insert, replace or duplicate at one position of a valid seed.
SEEDS = [
    "nginx", "nginx:1.25", "library/nginx:latest", "docker.io/library/nginx:1.25",
    "registry.example.com:5000/team/app:v1.2.3", "localhost:5000/a_b/c--d.e:t-1",
    "[2001:db8::1]:5000/repo:tag", f"redis@sha256:{HEX}", f"quay.io/x/y:z@sha256:{HEX}",
    "index.docker.io/user/app", "a/b/c/d", "foo__bar/baz", "Foo/bar",
]
ALPHABET = "aZ09._-:/@[]%$ A\u212a\u00e9"
rng = random.Random(20261128)
mut = []
for _ in range(1200):
    s = rng.choice(SEEDS)
    i = rng.randrange(len(s) + 1)
    op = rng.randrange(4)
    if op == 0 and s:
        i = min(i, len(s) - 1)
        t = s[:i] + s[i + 1:]
    elif op == 1:
        t = s[:i] + rng.choice(ALPHABET) + s[i:]
    elif op == 2 and s:
        i = min(i, len(s) - 1)
        t = s[:i] + rng.choice(ALPHABET) + s[i + 1:]
    else:
        j = rng.randrange(i, len(s) + 1)
        t = s[:j] + s[i:j] + s[j:]
    if t not in seen:
        seen.add(t)
        mut.append(t)
json.dump(mut, open(f"{out_dir}/mutations.json", "w"), ensure_ascii=False, indent=0)
print(f"{len(upstream)} upstream inputs, {len(mut)} mutations")
