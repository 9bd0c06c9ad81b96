package backend

import "usepod.ai/agent/core/config"

// Target is where jobs for one model go.
type Target struct {
	Server Server
	Model  Model
}

// kindPreference orders kinds for a model several servers serve
// (docs/protocol.md section 8): lower is preferred.
var kindPreference = map[string]int{
	config.KindVLLM:     0,
	config.KindLlamaCpp: 1,
	config.KindLMStudio: 2,
	config.KindOllama:   3,
}

func preference(kind string) int {
	if p, ok := kindPreference[kind]; ok {
		return p
	}
	return len(kindPreference) // unknown kinds last
}

// Route builds the routing table, model ID to target, from probe results.
// Only healthy servers take part. When several serve the same model ID the
// kind decides (vllm, then llamacpp, then lmstudio, then ollama); between
// servers of the same kind the earlier one in healths wins.
func Route(healths []Health) map[string]Target {
	table := make(map[string]Target)
	for _, h := range healths {
		if !h.Healthy {
			continue
		}
		for _, m := range h.Models {
			cur, ok := table[m.ID]
			if !ok || preference(h.Server.Kind) < preference(cur.Server.Kind) {
				table[m.ID] = Target{Server: h.Server, Model: m}
			}
		}
	}
	return table
}
