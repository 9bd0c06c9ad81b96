package config

import (
	"os"
	"testing"
)

func TestIndexKeys(t *testing.T) {
	src := `top = 1
# [not.a.table]
[operator]
display_name = """
[fake]
key = "inside a string"
"""
wallet = '0xabc' # comment with = sign

[coordinator]
url = "wss://x"
enrollment_code = "POD-ENROLL-A\"B"

[[backends]]
kind = "vllm"
models = [
  "a", # one
  "b",
]
url = "http://a"

[[backends]]
kind = "ollama"
url = "http://b"
[backends.extra]
x = 1

[pricing.models]
"qwen2.5:7b" = { input_per_1m = 1, output_per_1m = 2 }
'lit key'.input_per_1m = 5
list = [{ a = 1 }, { a = 2 }]

[limits]
max_concurrent = 8
`
	kl := indexKeys(src)
	p := keyPath{}
	tests := []struct {
		path keyPath
		want string // the line holding this text
	}{
		{p.key("top"), "top = 1"},
		{p.key("operator"), "[operator]"},
		{p.key("operator").key("display_name"), "display_name"},
		{p.key("operator").key("wallet"), "wallet"},
		{p.key("coordinator").key("url"), `url = "wss://x"`},
		{p.key("coordinator").key("enrollment_code"), "enrollment_code"},
		{p.key("backends").at(0), "[[backends]]\nkind = \"vllm\""},
		{p.key("backends").at(0).key("models").at(1), `"b",`},
		{p.key("backends").at(0).key("url"), `url = "http://a"`},
		{p.key("backends").at(1).key("kind"), `kind = "ollama"`},
		{p.key("backends").at(1).key("extra").key("x"), "x = 1"},
		{p.key("backends").at(1).key("api_key"), "[[backends]]\nkind = \"ollama\""}, // missing: its table
		{p.key("pricing").key("models").key("qwen2.5:7b").key("output_per_1m"), "qwen2.5:7b"},
		{p.key("pricing").key("models").key("lit key").key("input_per_1m"), "'lit key'"},
		{p.key("pricing").key("models").key("list").at(1).key("a"), "list = "},
		{p.key("limits").key("max_concurrent"), "max_concurrent"},
		{p.key("fake"), ""}, // inside a string: not a table
	}
	for _, tt := range tests {
		want := 0
		if tt.want != "" {
			want = lineOf(t, src, tt.want)
		}
		if got := kl.lineOf(tt.path); got != want {
			t.Errorf("line of %s = %d, want %d", tt.path, got, want)
		}
	}
}

func TestIndexKeysCLIFile(t *testing.T) {
	data, err := os.ReadFile("testdata/cli-agent.toml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	kl := indexKeys(src)
	p := keyPath{}
	if got, want := kl.lineOf(p.key("backends").at(2).key("url")), lineOf(t, src, "http://10.0.0.5"); got != want {
		t.Errorf("backends[2].url at %d, want %d", got, want)
	}
	if got, want := kl.lineOf(p.key("pricing").key("models").key("qwen2.5:7b")), lineOf(t, src, `"qwen2.5:7b"`); got != want {
		t.Errorf("qwen price at %d, want %d", got, want)
	}
}

func TestKeyPathString(t *testing.T) {
	p := keyPath{}
	tests := []struct {
		path keyPath
		want string
	}{
		{p.key("limits").key("max_concurrent"), "limits.max_concurrent"},
		{p.key("backends").at(1).key("url"), "backends[1].url"},
		{p.key("backends").at(0).key("models").at(2), "backends[0].models[2]"},
		{p.key("pricing").key("models").key("llama3:8b"), `pricing.models."llama3:8b"`},
		{p.key("a b").key("é"), `"a b"."é"`},
		{p.key(""), `""`},
	}
	for _, tt := range tests {
		if got := tt.path.String(); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
	// key and at never share storage between siblings.
	base := p.key("a").key("b")
	x, y := base.key("x"), base.key("y")
	if x.String() != "a.b.x" || y.String() != "a.b.y" {
		t.Errorf("siblings clobbered: %s %s", x, y)
	}
}
