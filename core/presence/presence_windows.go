package presence

import (
	"context"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	kernel32             = windows.NewLazySystemDLL("kernel32.dll")
	procGetLastInputInfo = user32.NewProc("GetLastInputInfo")
	procGetTickCount     = kernel32.NewProc("GetTickCount")
	procGetPowerStatus   = kernel32.NewProc("GetSystemPowerStatus")
)

type lastInputInfo struct {
	cbSize uint32
	dwTime uint32
}

// idle uses GetLastInputInfo (the session's last input, in ticks).
func idle(context.Context) (time.Duration, bool) {
	info := lastInputInfo{cbSize: uint32(unsafe.Sizeof(lastInputInfo{}))}
	if r, _, _ := procGetLastInputInfo.Call(uintptr(unsafe.Pointer(&info))); r == 0 {
		return 0, false
	}
	now, _, _ := procGetTickCount.Call()
	return time.Duration(uint32(now)-info.dwTime) * time.Millisecond, true // wraps like the ticks do
}

type systemPowerStatus struct {
	ACLineStatus        byte
	BatteryFlag         byte
	BatteryLifePercent  byte
	SystemStatusFlag    byte
	BatteryLifeTime     uint32
	BatteryFullLifeTime uint32
}

// onBattery uses GetSystemPowerStatus: AC line status 0 is on battery.
func onBattery(context.Context) (bool, bool) {
	var s systemPowerStatus
	if r, _, _ := procGetPowerStatus.Call(uintptr(unsafe.Pointer(&s))); r == 0 {
		return false, false
	}
	switch s.ACLineStatus {
	case 0:
		return true, true
	case 1:
		return false, true
	}
	return false, false // 255: unknown
}
