package config

import "testing"

func TestOverridesStayOutOfTheSavedFile(t *testing.T) {
	file := Default()
	file.Coordinator.URL = "wss://api.usepod.ai/provider/connect"
	o := Overrides{CoordinatorURL: "ws://127.0.0.1:9/x", EnrollmentCode: " POD-ENROLL-FLAG0001 ", AllowInsecure: true, Keyring: "file"}
	run := file.Clone()
	o.Apply(&run)
	if run.Coordinator.URL != o.CoordinatorURL || run.Coordinator.EnrollmentCode != "POD-ENROLL-FLAG0001" || !run.Coordinator.AllowInsecure || run.Identity.Keyring != "file" {
		t.Fatalf("overrides not applied: %+v %+v", run.Coordinator, run.Identity)
	}
	run.Limits.MaxConcurrent = 4 // a change the user made in the app

	saved := o.KeepOut(run, file)
	if saved.Coordinator != file.Coordinator || saved.Identity.Keyring != file.Identity.Keyring {
		t.Fatalf("overrides leaked into the file: %+v %+v", saved.Coordinator, saved.Identity)
	}
	if saved.Limits.MaxConcurrent != 4 {
		t.Fatal("the user's own change was lost")
	}
	// A code pasted in Settings during the run is the user's, not the flag's.
	run.Coordinator.EnrollmentCode = "POD-ENROLL-PASTED01"
	if got := o.KeepOut(run, file).Coordinator.EnrollmentCode; got != "POD-ENROLL-PASTED01" {
		t.Fatalf("pasted code = %q", got)
	}
}
