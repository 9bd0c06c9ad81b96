package service

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// Install registers the service to start automatically (delayed) at boot,
// to restart when it fails, and creates the data dir readable only by the
// service account and Administrators. It does not start it now: call Start.
// It needs an elevated (administrator) prompt.
func Install(o Options) error {
	o = o.withDefaults("windows")
	_, cmdline, err := Render("windows", o)
	if err != nil {
		return err
	}
	if err := makeDataDir(o.DataDir, o.User); err != nil {
		return err
	}
	m, err := connect("install")
	if err != nil {
		return err
	}
	defer m.Disconnect()

	cfg := mgr.Config{
		DisplayName:      display,
		Description:      summary,
		StartType:        mgr.StartAutomatic,
		DelayedAutoStart: true,
		ServiceStartName: o.User,
	}
	s, err := m.OpenService(WinName)
	if err == nil {
		// Installed before: point it at this binary and these options.
		cur, err := s.Config()
		if err != nil {
			s.Close()
			return fmt.Errorf("service: read config: %w", err)
		}
		cfg.ServiceType, cfg.ErrorControl = cur.ServiceType, cur.ErrorControl
		cfg.BinaryPathName = string(cmdline)
		if err := s.UpdateConfig(cfg); err != nil {
			s.Close()
			return fmt.Errorf("service: update: %w", err)
		}
	} else {
		args := o.Command()
		s, err = m.CreateService(WinName, args[0], cfg, args[1:]...)
		if err != nil {
			return fmt.Errorf("service: create: %w", err)
		}
	}
	defer s.Close()
	restart := mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: 5 * time.Second}
	if err := s.SetRecoveryActions([]mgr.RecoveryAction{restart, restart, restart}, 24*60*60); err != nil {
		return fmt.Errorf("service: set recovery: %w", err)
	}
	// Restart on an error exit too, not only on a crash.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("service: set recovery: %w", err)
	}
	return nil
}

// Uninstall stops the service and removes it. The data dir stays: the
// identity key in it must survive a reinstall. Not being installed is not
// an error.
func Uninstall() error {
	m, err := connect("uninstall")
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(WinName)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("service: open: %w", err)
	}
	defer s.Close()
	if err := stopAndWait(s); err != nil {
		return err
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("service: delete: %w", err)
	}
	return nil
}

// Start starts the installed service now.
func Start() error {
	return withService("start", func(s *mgr.Service) error {
		if err := s.Start(); err != nil {
			return fmt.Errorf("service: start: %w", err)
		}
		return nil
	})
}

// Stop stops the service and waits for it; it still starts at the next boot.
func Stop() error {
	return withService("stop", stopAndWait)
}

// Status describes the service in a word or two: "running", "stopped",
// "not installed", ...
func Status() (string, error) {
	// Ask only for what a query needs, so it works without elevation
	// (mgr.Connect and OpenService ask for full access).
	scm, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT)
	if err != nil {
		return "", fmt.Errorf("service: connect to the service manager: %w", err)
	}
	defer windows.CloseServiceHandle(scm)
	name, err := windows.UTF16PtrFromString(WinName)
	if err != nil {
		return "", err
	}
	h, err := windows.OpenService(scm, name, windows.SERVICE_QUERY_STATUS)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return "not installed", nil
	}
	if err != nil {
		return "", fmt.Errorf("service: open: %w", err)
	}
	s := &mgr.Service{Name: WinName, Handle: h}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return "", fmt.Errorf("service: query: %w", err)
	}
	return stateName(st.State), nil
}

func stateName(s svc.State) string {
	switch s {
	case svc.Stopped:
		return "stopped"
	case svc.StartPending:
		return "starting"
	case svc.StopPending:
		return "stopping"
	case svc.Running:
		return "running"
	case svc.ContinuePending:
		return "resuming"
	case svc.PausePending:
		return "pausing"
	case svc.Paused:
		return "paused"
	}
	return fmt.Sprintf("state %d", s)
}

func connect(what string) (*mgr.Mgr, error) {
	m, err := mgr.Connect()
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return nil, fmt.Errorf("service: %s needs an administrator: run it from an elevated prompt", what)
	}
	if err != nil {
		return nil, fmt.Errorf("service: connect to the service manager: %w", err)
	}
	return m, nil
}

func withService(what string, f func(*mgr.Service) error) error {
	m, err := connect(what)
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(WinName)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return fmt.Errorf("service: not installed: run usepod-agent service install first")
	}
	if err != nil {
		return fmt.Errorf("service: open: %w", err)
	}
	defer s.Close()
	return f(s)
}

// stopAndWait asks the service to stop and waits until it has, for up to
// the stop wait hint the service gives plus a margin.
func stopAndWait(s *mgr.Service) error {
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("service: query: %w", err)
	}
	if st.State == svc.Stopped {
		return nil
	}
	if st.State != svc.StopPending {
		if _, err := s.Control(svc.Stop); err != nil {
			return fmt.Errorf("service: stop: %w", err)
		}
	}
	deadline := time.Now().Add(stopWait + 10*time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		if st, err = s.Query(); err != nil {
			return fmt.Errorf("service: query: %w", err)
		}
		if st.State == svc.Stopped {
			return nil
		}
	}
	return fmt.Errorf("service: still %s after %v", stateName(st.State), stopWait+10*time.Second)
}

// makeDataDir creates the data dir with an ACL of its own (not inherited
// from ProgramData, where every user may read): full control for SYSTEM,
// Administrators and the service account.
func makeDataDir(dir, account string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	sddl := "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
	if account != "" {
		sid, _, _, err := windows.LookupSID("", account)
		if err != nil {
			return fmt.Errorf("service: look up account %s: %w", account, err)
		}
		sddl += "(A;OICI;FA;;;" + sid.String() + ")"
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	err = windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("service: set ACL on %s: %w", dir, err)
	}
	return nil
}
