// Package metrics serves the agent's Prometheus metrics: job outcomes,
// latencies, tokens and earnings (fed by the jobs manager's OnJobEnd hook),
// the engine's state, session and backends (read from its snapshot at
// scrape time), the GPUs (read from the telemetry sampler's latest sample)
// and Go's process and runtime collectors. It never imports fyne.io.
package metrics

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/jobs"
	"usepod.ai/agent/core/telemetry"
)

const namespace = "usepod_agent"

// Buckets of the latency histograms, in seconds. A job runs from well under
// a second (a short completion) to minutes (a long generation); the first
// chunk comes in milliseconds on a warm server and seconds on a cold one.
var (
	durationBuckets   = []float64{0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	firstChunkBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
)

// Options wire the metrics. Every field is optional: a nil source leaves
// its metrics out.
type Options struct {
	// Snapshot returns the engine's state now (engine.Engine.Snapshot); it is
	// called once per scrape.
	Snapshot func() engine.Snapshot
	// GPUs returns the telemetry sampler's latest sample; false when there
	// is none yet. Called once per scrape; it must not block on the driver.
	GPUs func() (telemetry.Sample, bool)
	// NoProcessMetrics leaves out Go's process and runtime collectors
	// (tests that count series).
	NoProcessMetrics bool
}

// Metrics is the agent's registry. Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	jobs       *prometheus.CounterVec // model, backend, outcome
	duration   *prometheus.HistogramVec
	firstChunk prometheus.Histogram
	tokens     *prometheus.CounterVec // model, direction
	earned     *prometheus.CounterVec // model
	relayed    prometheus.Counter
}

// New builds the registry; it does no I/O.
func New(o Options) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "jobs_total",
			Help: "Jobs ended, by model, backend kind and outcome (done, a job_error code, cancelled or aborted).",
		}, []string{"model", "backend", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "job_duration_seconds",
			Help:    "Time from a job's arrival to its end, for jobs that reached a backend.",
			Buckets: durationBuckets,
		}, []string{"model"}),
		firstChunk: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "time_to_first_chunk_seconds",
			Help:    "Time from a job's arrival to its first chunk relayed to the coordinator.",
			Buckets: firstChunkBuckets,
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tokens_total",
			Help: "Tokens of finished jobs, by model and direction (input or output).",
		}, []string{"model", "direction"}),
		earned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "earned_micro_usdc_total",
			Help: "Earnings of finished jobs at this agent's prices, in micro-USDC (an estimate; the coordinator settles).",
		}, []string{"model"}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "relayed_bytes_total",
			Help: "Backend bytes relayed to the coordinator as job chunks.",
		}),
	}
	m.reg.MustRegister(m.jobs, m.duration, m.firstChunk, m.tokens, m.earned, m.relayed)
	if o.Snapshot != nil {
		m.reg.MustRegister(snapshotCollector{o.Snapshot})
	}
	if o.GPUs != nil {
		m.reg.MustRegister(gpuCollector{o.GPUs})
	}
	if !o.NoProcessMetrics {
		m.reg.MustRegister(collectors.NewGoCollector(), newProcessCollector())
	}
	return m
}

// JobEnded counts one job; it is the jobs manager's OnJobEnd. It does not
// block.
func (m *Metrics) JobEnded(r jobs.Result) {
	m.jobs.WithLabelValues(r.Model, r.Backend, r.Outcome).Inc()
	if !r.Refused {
		m.duration.WithLabelValues(r.Model).Observe(r.Duration.Seconds())
	}
	if r.TimeToFirstChunk > 0 {
		m.firstChunk.Observe(r.TimeToFirstChunk.Seconds())
	}
	if r.RelayedBytes > 0 {
		m.relayed.Add(float64(r.RelayedBytes))
	}
	if r.Outcome == jobs.OutcomeDone {
		m.tokens.WithLabelValues(r.Model, "input").Add(float64(r.InputTokens))
		m.tokens.WithLabelValues(r.Model, "output").Add(float64(r.OutputTokens))
		// Exact 1e-12 USDC to micro-USDC without rounding each job.
		m.earned.WithLabelValues(r.Model).Add(float64(r.EarnedE12) / 1e6)
	}
}

// Handler serves the metrics in the Prometheus text format. It does not
// compress: a scrape is a few tens of kilobytes on a local or in-cluster
// network, and gzip would more than double its CPU cost (make bench).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, DisableCompression: true})
}

// Registry is the underlying registry, for tests that gather directly.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// The gauges read from the engine's snapshot at scrape time: always
// current, and nothing to keep in step between scrapes.
var (
	sessionUpDesc = prometheus.NewDesc(namespace+"_session_up",
		"1 while a coordinator session is up (past auth_ok), else 0.", nil, nil)
	reconnectsDesc = prometheus.NewDesc(namespace+"_reconnects_total",
		"Coordinator sessions opened after the first since the agent started.", nil, nil)
	stateDesc = prometheus.NewDesc(namespace+"_state",
		"1 for the agent's current state, 0 for the others.", []string{"state"}, nil)
	backendUpDesc = prometheus.NewDesc(namespace+"_backend_up",
		"1 when the inference server answered its last probe, else 0.", []string{"backend", "url"}, nil)
	modelsOfferedDesc = prometheus.NewDesc(namespace+"_models_offered",
		"Models offered to the coordinator now.", nil, nil)
	inFlightDesc = prometheus.NewDesc(namespace+"_jobs_in_flight",
		"Jobs running now.", nil, nil)
)

// states lists every state once, so each has a series (0 or 1).
var states = func() []string {
	var s []string
	for st := engine.StatePaused; ; st++ {
		word := st.String()
		if word == "unknown" {
			return s
		}
		s = append(s, word)
	}
}()

type snapshotCollector struct{ snapshot func() engine.Snapshot }

func (c snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sessionUpDesc, reconnectsDesc, stateDesc, backendUpDesc, modelsOfferedDesc, inFlightDesc} {
		ch <- d
	}
}

func (c snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	ch <- prometheus.MustNewConstMetric(sessionUpDesc, prometheus.GaugeValue, bool01(s.Connected))
	ch <- prometheus.MustNewConstMetric(reconnectsDesc, prometheus.CounterValue, float64(max(s.Sessions-1, 0)))
	current := s.State.String()
	for _, st := range states {
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, bool01(st == current), st)
	}
	seen := map[[2]string]bool{} // two probes of one server would be a duplicate series
	for _, b := range s.Backends {
		key := [2]string{b.Kind, RedactURL(b.URL)}
		if seen[key] {
			continue
		}
		seen[key] = true
		ch <- prometheus.MustNewConstMetric(backendUpDesc, prometheus.GaugeValue, bool01(b.Healthy), key[0], key[1])
	}
	offered := 0
	for _, m := range s.Models {
		if m.Offered {
			offered++
		}
	}
	ch <- prometheus.MustNewConstMetric(modelsOfferedDesc, prometheus.GaugeValue, float64(offered))
	ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(s.JobsInFlight))
}

// The GPU gauges, from the sampler's latest sample. The sampler reads the
// GPUs every 30 s while no dashboard looks (every second while one does),
// so these are up to 30 s old: fine for dashboards and alerts.
var (
	gpuLabels   = []string{"gpu", "name"}
	gpuUtilDesc = prometheus.NewDesc(namespace+"_gpu_utilization_ratio",
		"GPU utilisation, 0 to 1, at the telemetry sampler's last reading.", gpuLabels, nil)
	gpuMemUsedDesc = prometheus.NewDesc(namespace+"_gpu_memory_used_bytes",
		"GPU memory in use.", gpuLabels, nil)
	gpuMemTotalDesc = prometheus.NewDesc(namespace+"_gpu_memory_total_bytes",
		"GPU memory in all.", gpuLabels, nil)
	gpuTempDesc = prometheus.NewDesc(namespace+"_gpu_temperature_celsius",
		"GPU temperature.", gpuLabels, nil)
	gpuPowerDesc = prometheus.NewDesc(namespace+"_gpu_power_watts",
		"GPU power draw.", gpuLabels, nil)
)

type gpuCollector struct {
	latest func() (telemetry.Sample, bool)
}

func (c gpuCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{gpuUtilDesc, gpuMemUsedDesc, gpuMemTotalDesc, gpuTempDesc, gpuPowerDesc} {
		ch <- d
	}
}

func (c gpuCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := c.latest()
	if !ok {
		return
	}
	for _, g := range s.GPUs {
		labels := []string{strconv.Itoa(g.Index), g.Name}
		// A metric the source could not read is left out, not shown as 0.
		gauge := func(d *prometheus.Desc, f telemetry.Field, v float64) {
			if g.Valid.Has(f) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
			}
		}
		gauge(gpuUtilDesc, telemetry.FieldUtil, g.UtilPercent/100)
		gauge(gpuMemUsedDesc, telemetry.FieldMemUsed, float64(g.MemUsed))
		gauge(gpuMemTotalDesc, telemetry.FieldMemTotal, float64(g.MemTotal))
		gauge(gpuTempDesc, telemetry.FieldTemp, g.TempC)
		gauge(gpuPowerDesc, telemetry.FieldPower, g.PowerW)
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// RedactURL returns u without any password (user:pass@ keeps the user name)
// and without its query string, which may carry a token. A URL that does
// not parse is replaced whole: it may be a password typed in the wrong box.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unreadable address)"
	}
	if p.User != nil {
		p.User = url.User(p.User.Username())
	}
	if p.RawQuery != "" {
		p.RawQuery = "redacted"
	}
	return p.String()
}
