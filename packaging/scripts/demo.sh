#!/usr/bin/env bash
# make demo: the agent against a local coordinator that dispatches a job
# every few seconds. DEMO_REPLAY=1 also starts a replayed llama.cpp server.
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=$(mktemp -d -t usepod-demo.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
port=${DEMO_PORT:-8787}

go build -o "$dir/democoord" ./internal/testrig/localcoord/democoord
backend_args=()
if [ "${DEMO_REPLAY:-}" = 1 ]; then
  go build -o "$dir/replayserver" ./internal/testrig/replay/replayserver
  "$dir/replayserver" -pace 15ms > "$dir/replay.url" &
  for _ in $(seq 50); do [ -s "$dir/replay.url" ] && break; sleep 0.1; done
  replay_url=$(head -n1 "$dir/replay.url")
  echo "Replaying the recorded llama.cpp server at $replay_url"
  printf '[[backends]]\nkind = "llamacpp"\nurl = "%s"\n' "$replay_url" > "$dir/agent.toml"
else
  found=""
  for url in http://localhost:8000/health http://localhost:8080/health http://localhost:9931/health http://localhost:1234/v1/models http://localhost:11434/; do
    if curl -fsS -m 2 -o /dev/null "$url" 2>/dev/null; then found=$url; break; fi
  done
  if [ -z "$found" ]; then
    cat <<'MSG'
No inference server answers on the default ports (vLLM :8000, llama.cpp :8080/:9931,
LM Studio :1234, Ollama :11434). Start one, for example:
  ollama serve & ollama pull llama3.2:1b
  llama-server -m model.gguf --port 8080
  vllm serve Qwen/Qwen2.5-0.5B-Instruct
or run `make demo-replay` to watch the agent serve a recorded llama.cpp server.
MSG
    exit 1
  fi
  echo "Using the inference server at ${found%/*}"
  : > "$dir/agent.toml"
fi

"$dir/democoord" -addr "127.0.0.1:$port" &
sleep 0.5
echo "Starting the agent (Ctrl-C to stop). Its earnings: bin/usepod-agent-headless --data-dir $dir earnings"
./bin/usepod-agent-headless --config "$dir/agent.toml" --data-dir "$dir" run --headless \
  --coordinator "ws://127.0.0.1:$port/provider/connect" --allow-insecure \
  --enrollment-code POD-ENROLL-DEMO0001 --keyring file
