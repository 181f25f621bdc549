#!/usr/bin/env bash
# The release tarball on a machine that has nothing of ours: unpacks it into an empty folder and runs
# `tritonllm --version`, `tokenize`, `render`, the `--demo` chat and `serve --demo` (loaded by `bench --serve`) from
# there. Where bubblewrap can make a
# namespace, the runs happen in a root holding only the unpacked tree and glibc (the libraries any Linux has),
# so a library missing from the bundle fails here as it would on the user's machine.
#   tests/package/tarball_test.sh TARBALL [EXPECTED_GIT_COMMIT]
set -euo pipefail
tarball=$(realpath "$1")
expected_commit=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
fail() {
  echo "tarball_test: FAIL: $*" >&2
  exit 1
}

work=$(mktemp -d)
serve_pid=""
trap '[[ -n $serve_pid ]] && kill -9 "$serve_pid" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/empty"
tar -xzf "$tarball" -C "$work/empty"
roots=("$work"/empty/*)
((${#roots[@]} == 1)) && [[ -d ${roots[0]} ]] || fail "the tarball should hold one top-level folder, not: ${roots[*]}"
root=${roots[0]}
binary=$root/bin/tritonllm
[[ -x $binary ]] || fail "no bin/tritonllm in $(basename "$tarball")"
notices=$root/share/doc/tritonllm/THIRD_PARTY_NOTICES.md
[[ -s $notices ]] || fail "no share/doc/tritonllm/THIRD_PARTY_NOTICES.md"

# Every shared library resolves, to the bundle or to glibc, and every bundled one has its license listed.
ldd_output=$(ldd "$binary")
grep -q "not found" <<<"$ldd_output" && fail "unresolved libraries:"$'\n'"$ldd_output"
glibc_pattern='^(ld-linux.*|linux-vdso.*|lib(c|m|dl|pthread|rt|resolv|util|anl|mvec|gcc_s)\.so.*)$'
system_files=()
while read -r name _ path _; do
  [[ $name == /* ]] && { system_files+=("$name"); continue; } # the loader, named by its path
  [[ $path == /* ]] && path=$(realpath "$path")
  [[ $path == "$root/lib/"* ]] && continue
  [[ $name =~ $glibc_pattern ]] || fail "$name comes from the build machine ($path), not the bundle"
  [[ $path == /* ]] && system_files+=("$path")
done <<<"$ldd_output"
bundled=0
for library in "$root"/lib/*.so*; do
  [[ -e $library ]] || continue
  bundled=$((bundled + 1))
  grep -qF "| $(basename "$library") |" "$notices" || fail "$(basename "$library") has no row in THIRD_PARTY_NOTICES.md"
done
while read -r license; do
  [[ -s $root/share/doc/tritonllm/$license ]] || fail "THIRD_PARTY_NOTICES.md names $license, which is missing"
done < <(grep -o '(licenses/[^)]*)' "$notices" | tr -d '()')
echo "tarball_test: $bundled bundled libraries, each with its license; from the system: ${system_files[*]}" >&2

# The oldest glibc the tree runs on: the newest symbol version anything in it asks for. 2.34 takes in Ubuntu 22.04,
# Debian 12 and RHEL 9 (docs/install.md); a change that needs a newer glibc must change the docs too.
glibc_floor=2.34
needed=$(for file in "$binary" "$root"/lib/*.so*; do objdump -T "$file"; done | grep -o 'GLIBC_2\.[0-9]*' |
  sed 's/GLIBC_//' | sort -V | tail -1)
[[ $(printf '%s\n%s\n' "$needed" "$glibc_floor" | sort -V | tail -1) == "$glibc_floor" ]] ||
  fail "the tree needs glibc $needed, newer than the documented $glibc_floor: $(for file in "$binary" "$root"/lib/*.so*; do
    objdump -T "$file" | grep -q "GLIBC_$needed" && echo "$(basename "$file")"; done | tr '\n' ' ')"
echo "tarball_test: needs glibc $needed or newer" >&2

# A root with the tree (at /opt/tritonllm), glibc, /proc, /dev and an empty /tmp; nothing else.
run_isolated=()
if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
  run_isolated=(bwrap --unshare-all --die-with-parent --ro-bind "$root" /opt/tritonllm --proc /proc --dev /dev
    --tmpfs /tmp --bind "$work/empty" /tmp/work --chdir /tmp/work --setenv HOME /tmp/home --setenv PATH /opt/tritonllm/bin
)
  for file in "${system_files[@]}"; do
    run_isolated+=(--ro-bind "$(realpath "$file")" "$file")
  done
  binary_in_run=/opt/tritonllm/bin/tritonllm
  data=/tmp/work
  echo "tarball_test: running in a bubblewrap root with only the tree and glibc" >&2
else
  binary_in_run=$binary
  data=$work/empty
  echo "tarball_test: bubblewrap cannot make a namespace here; running on this machine's root" >&2
fi
run() { env -i HOME="$work/home" "${run_isolated[@]}" "$binary_in_run" "$@"; }
# The same with the machine's network (loopback), for the server and its client, which run apart.
share_net=()
((${#run_isolated[@]})) && share_net=(--share-net)
run_net() { env -i HOME="$work/home" "${run_isolated[@]}" "${share_net[@]}" "$binary_in_run" "$@"; }

# --version: this commit, and a CUBIN for every shipped arch.
version=$(run --version) || fail "--version exited with $?"
echo "$version" >&2
head -1 <<<"$version" | grep -qE '^tritonllm [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version's first line: $version"
if [[ -n $expected_commit ]]; then
  grep -q "^commit: *$expected_commit" <<<"$version" || fail "--version does not name commit $expected_commit"
fi
grep -q "^CUBINs for: *sm_80 sm_86 sm_89 sm_90 sm_100 sm_120$" <<<"$version" || fail "--version's CUBIN archs"

# tokenize: OpenAI's Harmony fixtures, encoded with special tokens, give the ids that tiktoken gave.
python3 - "$source_dir/tests/data/harmony/harmony-official.json" "$work/empty" <<'PY'
import json, sys
fixtures = json.load(open(sys.argv[1]))["fixtures"]
chosen = [f for f in fixtures if "note" not in f][:3]
for i, fixture in enumerate(chosen):
    open(f"{sys.argv[2]}/fixture{i}.txt", "w").write(fixture["text"])
    open(f"{sys.argv[2]}/fixture{i}.ids", "w").write(json.dumps(fixture["ids"]))
PY
for i in 0 1 2; do
  ids=$(run tokenize --allow-special --text-file "$data/fixture$i.txt") || fail "tokenize exited with $?"
  python3 -c 'import json,sys; sys.exit(json.loads(sys.argv[1]) != json.load(open(sys.argv[2])))' \
    "$ids" "$work/empty/fixture$i.ids" || fail "tokenize of fixture $i differs from tiktoken's ids"
done

# render: a Chat Completions request becomes a Harmony prompt whose ids are the encoding of its text.
cat >"$work/empty/request.json" <<'JSON'
{"model": "gpt-oss-20b", "reasoning_effort": "low", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}
JSON
rendered=$(run render --request "$data/request.json" --date 2026-12-06) || fail "render exited with $?"
python3 - "$rendered" <<'PY' || fail "render's prompt: $rendered"
import json, sys
out = json.loads(sys.argv[1])
assert "Reasoning: low" in out["text"], out["text"]
assert out["text"].endswith("<|start|>user<|message|>What is 2 + 2?<|end|><|start|>assistant"), out["text"]
assert out["ids"][-3:] == [200007, 200006, 173781], out["ids"][-3:]  # <|end|><|start|>assistant
PY
printf '%s' "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["text"], end="")' "$rendered")" \
  >"$work/empty/rendered.txt"
reencoded=$(run tokenize --allow-special --text-file "$data/rendered.txt")
python3 -c 'import json,sys; sys.exit(json.loads(sys.argv[1])["ids"] != json.loads(sys.argv[2]))' \
  "$rendered" "$reencoded" || fail "render's ids are not the encoding of its text"

# The --demo chat: writes its small model into the (empty) cache, answers two scripted messages.
chat=$(printf 'Hello there\nAnd again\n' | run --demo --max-tokens 12 2>"$work/chat.err") ||
  fail "the --demo chat exited with $?: $(cat "$work/chat.err")"
[[ -n $chat ]] || fail "the --demo chat printed no reply"
(($(grep -c "Decode TPS" "$work/chat.err") == 2)) || fail "the --demo chat's stderr lacks a speed line per reply: $(cat "$work/chat.err")"

# serve --demo (cpp-httplib compiled in): the tree's own HTTP client, bench --serve, loads it with streaming chat
# completions, and this machine's python asks for a whole one and the web chat's page.
run_net serve --demo --host 127.0.0.1 --port 0 2>"$work/serve.err" &
serve_pid=$!
port=""
for _ in $(seq 600); do
  port=$(grep -oE 'on http://127\.0\.0\.1:[0-9]+' "$work/serve.err" | grep -oE '[0-9]+$' || true)
  [[ -n $port ]] && break
  kill -0 "$serve_pid" 2>/dev/null || fail "serve --demo exited: $(cat "$work/serve.err")"
  sleep 0.1
done
[[ -n $port ]] || fail "serve --demo did not start within a minute: $(cat "$work/serve.err")"
bench=$(run_net bench --serve "http://127.0.0.1:$port" --concurrency 1,4 --prompt-tokens 16 --gen-tokens 8 --json \
  2>"$work/bench.err") || fail "bench --serve exited with $?: $(cat "$work/bench.err")"
python3 - "$bench" "$port" <<'PY' || fail "serve --demo: $bench"
import json, sys, urllib.request
rows = [json.loads(line) for line in sys.argv[1].splitlines() if line.startswith("{")]
assert [row["streams"] for row in rows] == [1, 4], rows
assert all(row["errors"] == 0 and row["output_tokens_total"] > 0 for row in rows), rows
base = f"http://127.0.0.1:{sys.argv[2]}"
body = json.dumps({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}).encode()
request = urllib.request.Request(base + "/v1/chat/completions", body, {"Content-Type": "application/json"})
reply = json.load(urllib.request.urlopen(request, timeout=60))
assert reply["object"] == "chat.completion" and reply["usage"]["completion_tokens"] >= 1, reply
page = urllib.request.urlopen(base + "/", timeout=60)
assert page.headers["Content-Type"].startswith("text/html"), page.headers
PY
kill -TERM "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true
serve_pid=""
echo "tarball_test: serve --demo answered bench --serve and a chat completion" >&2
echo "tarball_test: PASS ($(basename "$tarball"))" >&2
