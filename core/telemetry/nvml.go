package telemetry

// NVMLReading is one device's raw readings in NVML's own units, as the
// go-nvml calls return them. OK marks the readings NVML returned SUCCESS for;
// the others are ignored.
type NVMLReading struct {
	Index        int
	Name         string
	UtilGPU      uint32 // percent (nvmlDeviceGetUtilizationRates .Gpu)
	MemUsed      uint64 // bytes (nvmlDeviceGetMemoryInfo)
	MemTotal     uint64 // bytes
	TempC        uint32 // degrees Celsius (nvmlDeviceGetTemperature, GPU sensor)
	PowerMW      uint32 // milliwatts (nvmlDeviceGetPowerUsage)
	PowerLimitMW uint32 // milliwatts (nvmlDeviceGetEnforcedPowerLimit)
	OK           Field
}

// GPUFromNVML converts NVML readings to a GPU: milliwatts to watts, memory
// stays in bytes. Readings not marked OK are left out (zero, not Valid).
func GPUFromNVML(r NVMLReading) GPU {
	g := GPU{Index: r.Index, Name: r.Name, Valid: r.OK & FieldAll}
	if g.Valid.Has(FieldUtil) {
		g.UtilPercent = float64(r.UtilGPU)
	}
	if g.Valid.Has(FieldMemUsed) {
		g.MemUsed = r.MemUsed
	}
	if g.Valid.Has(FieldMemTotal) {
		g.MemTotal = r.MemTotal
	}
	if g.Valid.Has(FieldTemp) {
		g.TempC = float64(r.TempC)
	}
	if g.Valid.Has(FieldPower) {
		g.PowerW = float64(r.PowerMW) / 1000
	}
	if g.Valid.Has(FieldPowerLimit) {
		g.PowerLimitW = float64(r.PowerLimitMW) / 1000
	}
	return g
}
