package metrics

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// processCollector serves the standard process_* metrics on Linux from one
// read of /proc/self/stat and a count of /proc/self/fd. client_golang's own
// collector also reads /proc/stat (for the boot time), /proc/self/limits
// and the network namespace's netstat on every scrape, which costs a third
// of a scrape's CPU; the boot time is read here once, the limits with
// getrlimit, and the namespace-wide network counters are left out.
type processCollector struct {
	bootTime float64 // seconds since the epoch, from /proc/stat btime
}

// userHZ is the unit of the times in /proc/<pid>/stat. Linux fixes it at
// 100 for user space (procfs and client_golang assume the same).
const userHZ = 100

var (
	procCPUDesc       = prometheus.NewDesc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", nil, nil)
	procOpenFDsDesc   = prometheus.NewDesc("process_open_fds", "Number of open file descriptors.", nil, nil)
	procMaxFDsDesc    = prometheus.NewDesc("process_max_fds", "Maximum number of open file descriptors.", nil, nil)
	procVSizeDesc     = prometheus.NewDesc("process_virtual_memory_bytes", "Virtual memory size in bytes.", nil, nil)
	procMaxVSizeDesc  = prometheus.NewDesc("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", nil, nil)
	procRSSDesc       = prometheus.NewDesc("process_resident_memory_bytes", "Resident memory size in bytes.", nil, nil)
	procStartTimeDesc = prometheus.NewDesc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", nil, nil)
)

func newProcessCollector() prometheus.Collector {
	return &processCollector{bootTime: readBootTime()}
}

func (c *processCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{procCPUDesc, procOpenFDsDesc, procMaxFDsDesc, procVSizeDesc, procMaxVSizeDesc, procRSSDesc, procStartTimeDesc} {
		ch <- d
	}
}

func (c *processCollector) Collect(ch chan<- prometheus.Metric) {
	if st, err := readSelfStat(); err == nil {
		ch <- prometheus.MustNewConstMetric(procCPUDesc, prometheus.CounterValue, float64(st.utime+st.stime)/userHZ)
		ch <- prometheus.MustNewConstMetric(procVSizeDesc, prometheus.GaugeValue, float64(st.vsize))
		ch <- prometheus.MustNewConstMetric(procRSSDesc, prometheus.GaugeValue, float64(st.rss*int64(os.Getpagesize())))
		if c.bootTime > 0 {
			ch <- prometheus.MustNewConstMetric(procStartTimeDesc, prometheus.GaugeValue, c.bootTime+float64(st.starttime)/userHZ)
		}
	}
	if n, err := countOpenFDs(); err == nil {
		ch <- prometheus.MustNewConstMetric(procOpenFDsDesc, prometheus.GaugeValue, float64(n))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		ch <- prometheus.MustNewConstMetric(procMaxFDsDesc, prometheus.GaugeValue, rlimitValue(lim.Cur))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		ch <- prometheus.MustNewConstMetric(procMaxVSizeDesc, prometheus.GaugeValue, rlimitValue(lim.Cur))
	}
}

// rlimitValue is a limit as client_golang reports it: unlimited
// (RLIM_INFINITY) is 2^64-1, as the kernel says.
func rlimitValue(v uint64) float64 { return float64(v) }

type selfStat struct {
	utime, stime, starttime uint64 // clock ticks
	vsize                   uint64 // bytes
	rss                     int64  // pages
}

func readSelfStat() (selfStat, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return selfStat{}, err
	}
	return parseStat(b)
}

// parseStat reads proc(5)'s /proc/<pid>/stat. The command name (field 2)
// may hold spaces and parentheses, so fields are counted after its last ')'.
func parseStat(b []byte) (selfStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return selfStat{}, errors.New("no command name in /proc/self/stat")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	const first = 3
	field := func(n int) []byte {
		if n-first < len(f) {
			return f[n-first]
		}
		return nil
	}
	var st selfStat
	var errs []error
	u := func(n int) uint64 {
		v, err := strconv.ParseUint(string(field(n)), 10, 64)
		errs = append(errs, err)
		return v
	}
	st.utime, st.stime, st.starttime, st.vsize = u(14), u(15), u(22), u(23)
	rss, err := strconv.ParseInt(string(field(24)), 10, 64)
	st.rss = rss
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return selfStat{}, err
	}
	return st, nil
}

func countOpenFDs() (int, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	return len(names), err
}

// readBootTime reads the btime line of /proc/stat; 0 when it cannot.
func readBootTime() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			n, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}
