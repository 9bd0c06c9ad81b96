// Package helm_test checks the Helm chart in usepod-agent/ by rendering it
// with the real helm (built by `make test-helm` into .cache/tools) and
// reading the objects it renders.
package helm_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"

	"usepod.ai/agent/core/config"
)

const chart = "usepod-agent"

type object map[string]any

// get walks a path of map keys and list indexes ("spec.template.spec.containers.0").
func (o object) get(path string) any {
	var cur any = map[string]any(o)
	for _, k := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case []any:
			i := 0
			for _, ch := range k {
				i = i*10 + int(ch-'0')
			}
			if i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func (o object) str(path string) string { s, _ := o.get(path).(string); return s }

func helmBin(t *testing.T) string {
	t.Helper()
	h := os.Getenv("USEPOD_HELM")
	if h == "" {
		t.Skip("USEPOD_HELM is not set: `make test-helm` builds helm and runs these tests with it")
	}
	return h
}

// render runs helm template and returns its objects by kind.
func render(t *testing.T, args ...string) (map[string][]object, string) {
	t.Helper()
	out, err := helm(t, append([]string{"template", "test", chart}, args...)...)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	objs := map[string][]object{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var m map[string]any // not object: nested maps would decode as object too
		err := dec.Decode(&m)
		o := object(m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v", err)
		}
		if o != nil {
			objs[o.str("kind")] = append(objs[o.str("kind")], o)
		}
	}
	return objs, out
}

func helm(t *testing.T, args ...string) (string, error) {
	cmd := exec.Command(helmBin(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func one(t *testing.T, objs map[string][]object, kind string) object {
	t.Helper()
	if len(objs[kind]) != 1 {
		t.Fatalf("%d %s objects, want 1", len(objs[kind]), kind)
	}
	return objs[kind][0]
}

func container(t *testing.T, sts object, name string) object {
	t.Helper()
	cs, _ := sts.get("spec.template.spec.containers").([]any)
	for _, c := range cs {
		if o := object(c.(map[string]any)); o.str("name") == name {
			return o
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

// agentConfig loads the rendered agent.toml as the agent would.
func agentConfig(t *testing.T, objs map[string][]object) config.Config {
	t.Helper()
	data, _ := one(t, objs, "ConfigMap").get("data").(map[string]any)
	text, _ := data["agent.toml"].(string) // a key with a dot: get cannot name it
	path := filepath.Join(t.TempDir(), "agent.toml")
	os.WriteFile(path, []byte(text), 0o600)
	f, err := config.LoadFile(path)
	if err != nil {
		t.Fatalf("the agent cannot read the rendered agent.toml: %v\n%s", err, text)
	}
	if len(f.Warnings) > 0 {
		t.Errorf("the agent warns about the rendered agent.toml: %v", f.Warnings)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("the rendered agent.toml is not valid: %v\n%s", err, text)
	}
	return f.Config
}

func TestLint(t *testing.T) {
	for _, values := range []string{"ci/standalone-values.yaml", "ci/sidecar-values.yaml"} {
		if out, err := helm(t, "lint", "--strict", chart, "-f", filepath.Join(chart, values)); err != nil {
			t.Errorf("helm lint with %s: %v\n%s", values, err, out)
		}
	}
}

func TestStandaloneStatefulSet(t *testing.T) {
	objs, out := render(t, "-f", filepath.Join(chart, "ci/standalone-values.yaml"))
	sts := one(t, objs, "StatefulSet")
	if n, _ := sts.get("spec.replicas").(int); n != 3 {
		t.Errorf("replicas = %v, want 3", sts.get("spec.replicas"))
	}
	// One volume per replica, mounted where the agent keeps its key.
	if name := sts.str("spec.volumeClaimTemplates.0.metadata.name"); name != "data" {
		t.Fatalf("volume claim template = %q, want data", name)
	}
	agent := container(t, sts, "agent")
	if len(sts.get("spec.template.spec.containers").([]any)) != 1 {
		t.Error("standalone pods run more than the agent")
	}
	mounts := map[string]string{}
	for _, m := range agent.get("volumeMounts").([]any) {
		mo := object(m.(map[string]any))
		mounts[mo.str("mountPath")] = mo.str("name")
	}
	if mounts["/data"] != "data" || mounts["/tmp"] == "" || mounts["/etc/usepod-agent"] == "" {
		t.Errorf("mounts = %v: want the replica's volume at /data, a scratch /tmp and the settings", mounts)
	}
	args := strings.Join(toStrings(agent.get("args")), " ")
	for _, want := range []string{"--data-dir=/data", "--keyring=file", "run --headless", "--config=/etc/usepod-agent/agent.toml"} {
		if !strings.Contains(args, want) {
			t.Errorf("agent args %q lack %q", args, want)
		}
	}

	// The code comes from a Secret; no ConfigMap holds it.
	env := object(agent.get("env.0").(map[string]any))
	secretName := env.str("valueFrom.secretKeyRef.name")
	if env.str("name") != "USEPOD_ENROLLMENT_CODE" || secretName == "" {
		t.Fatalf("env = %v, want USEPOD_ENROLLMENT_CODE from a Secret", env)
	}
	secret := one(t, objs, "Secret")
	if secret.str("metadata.name") != secretName {
		t.Errorf("the env reads Secret %q, the chart made %q", secretName, secret.str("metadata.name"))
	}
	code, _ := base64.StdEncoding.DecodeString(secret.str("data.enrollment-code"))
	if string(code) != "POD-ENROLL-CHARTTEST" {
		t.Errorf("Secret holds %q", code)
	}
	for _, cm := range objs["ConfigMap"] {
		if b, _ := yaml.Marshal(cm); bytes.Contains(b, []byte("POD-ENROLL-CHARTTEST")) {
			t.Error("a ConfigMap holds the enrollment code")
		}
	}
	if strings.Count(out, "POD-ENROLL-CHARTTEST") != 0 {
		t.Error("the code appears in clear in the rendered objects")
	}

	// Security: non-root, read-only root, no escalation, no capabilities.
	sc := object(agent.get("securityContext").(map[string]any))
	if sc.get("runAsNonRoot") != true || sc.get("readOnlyRootFilesystem") != true || sc.get("allowPrivilegeEscalation") != false ||
		strings.Join(toStrings(sc.get("capabilities.drop")), ",") != "ALL" {
		t.Errorf("securityContext = %v", sc)
	}
	if sts.get("spec.template.spec.automountServiceAccountToken") != false {
		t.Error("the pods get a service account token they do not need")
	}
	if agent.get("resources.requests.cpu") == nil || agent.get("resources.limits.memory") == nil {
		t.Errorf("resources = %v", agent.get("resources"))
	}
	if agent.str("livenessProbe.httpGet.path") != "/healthz" || agent.str("livenessProbe.httpGet.port") != "metrics" {
		t.Errorf("liveness probe = %v", agent.get("livenessProbe"))
	}
	if cmd := strings.Join(toStrings(agent.get("readinessProbe.exec.command")), " "); !strings.Contains(cmd, "status --api=/tmp/agent.sock") {
		t.Errorf("readiness probe = %q, want the local API's status", cmd)
	}

	cfg := agentConfig(t, objs)
	if len(cfg.Backends) != 1 || cfg.Backends[0].Kind != "llamacpp" || cfg.Backends[0].URL != "http://llama-server.inference.svc:8080" ||
		strings.Join(cfg.Backends[0].Models, ",") != "qwen2.5-7b" {
		t.Errorf("backends = %+v", cfg.Backends)
	}
	if cfg.Observability.PrometheusAddr != "0.0.0.0:9464" || cfg.Identity.Keyring != "file" || cfg.Coordinator.EnrollmentCode != "" {
		t.Errorf("config = %+v", cfg)
	}
	if port := agent.get("ports.0.containerPort"); port != 9464 {
		t.Errorf("metrics port = %v", port)
	}
	if len(objs["ServiceMonitor"]) != 0 {
		t.Error("a ServiceMonitor without being asked")
	}
}

func TestSidecarWithServiceMonitor(t *testing.T) {
	objs, _ := render(t, "-f", filepath.Join(chart, "ci/sidecar-values.yaml"))
	sts := one(t, objs, "StatefulSet")
	vllm := container(t, sts, "vllm")
	limits, _ := vllm.get("resources.limits").(map[string]any)
	if vllm.str("image") != "docker.io/vllm/vllm-openai:v0.11.0" || limits["nvidia.com/gpu"] != 1 {
		t.Errorf("the inference container changed: %v", vllm)
	}
	container(t, sts, "agent")
	if _, ok := secretOf(objs); ok {
		t.Error("a Secret was made although existingSecret names one")
	}
	cfg := agentConfig(t, objs)
	if len(cfg.Backends) != 1 || cfg.Backends[0].URL != "http://127.0.0.1:8000" || cfg.Backends[0].Kind != "vllm" {
		t.Errorf("sidecar backends = %+v, want the pod's own vLLM", cfg.Backends)
	}
	vols := map[string]bool{}
	for _, v := range sts.get("spec.template.spec.volumes").([]any) {
		vols[object(v.(map[string]any)).str("name")] = true
	}
	if !vols["hf-cache"] || !vols["config"] || !vols["tmp"] {
		t.Errorf("volumes = %v", vols)
	}

	sm := one(t, objs, "ServiceMonitor")
	svc := one(t, objs, "Service")
	if sm.str("spec.endpoints.0.port") != svc.str("spec.ports.0.name") || sm.str("spec.endpoints.0.path") != "/metrics" {
		t.Errorf("the ServiceMonitor scrapes port %q, the Service names %q", sm.str("spec.endpoints.0.port"), svc.str("spec.ports.0.name"))
	}
	if sm.str("metadata.labels.release") != "prometheus" {
		t.Errorf("ServiceMonitor labels = %v", sm.get("metadata.labels"))
	}
	// The Service and the ServiceMonitor find the pods.
	podLabels := sts.get("spec.template.metadata.labels").(map[string]any)
	for k, v := range svc.get("spec.selector").(map[string]any) {
		if podLabels[k] != v {
			t.Errorf("Service selector %s=%v does not match the pods", k, v)
		}
	}
	if svc.get("spec.clusterIP") != "None" || sts.str("spec.serviceName") != svc.str("metadata.name") {
		t.Error("the StatefulSet's Service is not its headless governing Service")
	}
}

func TestMetricsOff(t *testing.T) {
	objs, _ := render(t, "--set", "enrollment.existingSecret=s", "--set", "metrics.enabled=false")
	agent := container(t, one(t, objs, "StatefulSet"), "agent")
	if agent.get("ports") != nil || agent.get("livenessProbe.exec") == nil {
		t.Errorf("with metrics off: ports %v, liveness %v", agent.get("ports"), agent.get("livenessProbe"))
	}
	if cfg := agentConfig(t, objs); cfg.Observability.PrometheusAddr != "" {
		t.Errorf("prometheus_addr = %q with metrics off", cfg.Observability.PrometheusAddr)
	}
}

func TestBadValuesFailInWords(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "enrollment.existingSecret"},
		{[]string{"--set", "enrollment.code=x", "--set", "mode=daemonset"}, "mode must be standalone or sidecar"},
		{[]string{"--set", "enrollment.code=x", "--set", "mode=sidecar"}, "mode sidecar needs sidecar.inference"},
		{[]string{"--set", "enrollment.code=x", "--set", "backends=null"}, "needs at least one entry in backends"},
		{[]string{"--set", "enrollment.code=x", "--set", "metrics.enabled=false", "--set", "metrics.serviceMonitor.enabled=true"}, "needs metrics.enabled"},
	} {
		out, err := helm(t, append([]string{"template", "test", chart}, tc.args...)...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("helm template %v: %v, output %q; want a failure saying %q", tc.args, err, out, tc.want)
		}
	}
}

func secretOf(objs map[string][]object) (object, bool) {
	if len(objs["Secret"]) == 0 {
		return nil, false
	}
	return objs["Secret"][0], true
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	var s []string
	for _, x := range l {
		s = append(s, strings.TrimSpace(toString(x)))
	}
	return s
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := yaml.Marshal(v)
	return string(b)
}

// The chart's appVersion is the image tag it pulls by default: it must
// follow the agent's version, which FyneApp.toml sets.
func TestAppVersionFollowsTheAgent(t *testing.T) {
	var app struct{ Details struct{ Version string } }
	if _, err := toml.DecodeFile("../../FyneApp.toml", &app); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion string `yaml:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if app.Details.Version == "" || c.AppVersion != app.Details.Version {
		t.Fatalf("Chart.yaml appVersion %q, FyneApp.toml Version %q: set them equal", c.AppVersion, app.Details.Version)
	}
}
