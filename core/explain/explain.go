// Package explain turns the errors and states a user can meet into plain
// words: what it means and what to do, with the technical text kept aside
// for a Details control and the log. It never imports fyne.io; the engine
// computes one Problem per snapshot with it, and every surface shows that.
package explain

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/coordinator"
	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/internal/neterr"
	"usepod.ai/agent/core/ledger"
)

// Kind says where a problem comes from, so a surface can tell a problem that
// stops earning (the connection, the enrollment, the servers) from one that
// does not (the earnings file, the key store).
type Kind string

const (
	KindNone        Kind = ""
	KindNetwork     Kind = "network"     // this computer cannot reach Use Pod
	KindCoordinator Kind = "coordinator" // Use Pod answered, but not as it should
	KindEnrollment  Kind = "enrollment"  // not enrolled, or turned away
	KindBackend     Kind = "backend"     // the inference servers
	KindLedger      Kind = "ledger"      // the earnings file
	KindKeyStore    Kind = "keystore"    // the keychain or key file
	KindSettings    Kind = "settings"    // agent.toml or saved state
	KindOther       Kind = "other"
)

// Problem is one thing that is wrong, told for people.
type Problem struct {
	Kind    Kind      `json:"kind"`
	Summary string    `json:"summary"`  // what it means: "Can't reach Use Pod"
	Action  string    `json:"action"`   // what to do, a full sentence: "Check this computer's internet connection."
	Detail  string    `json:"detail"`   // the technical text, for Details and the log
	RetryAt time.Time `json:"retry_at"` // when the agent tries again by itself; zero when it does not
}

// IsZero reports whether there is no problem.
func (p Problem) IsZero() bool { return p.Summary == "" }

// Text is the problem as one line: summary, action and, while a retry is
// planned, the countdown to it. now drives the countdown.
func (p Problem) Text(now time.Time) string {
	if p.IsZero() {
		return ""
	}
	s := p.Summary
	if p.Action != "" {
		s += " — " + lowerFirst(p.Action)
	}
	if r := RetryIn(p.RetryAt, now); r != "" {
		s += " " + r + "."
	}
	return s
}

// RetryIn is "Retrying in 17 s" (rounded up, so it never says 0 s while time
// is left), "Retrying now" once the time has come, "" when no retry is set.
func RetryIn(at, now time.Time) string {
	if at.IsZero() {
		return ""
	}
	d := at.Sub(now)
	if d <= 0 {
		return "Retrying now"
	}
	secs := int64(math.Ceil(d.Seconds()))
	switch {
	case secs < 60:
		return fmt.Sprintf("Retrying in %d s", secs)
	case secs%60 == 0:
		return fmt.Sprintf("Retrying in %d min", secs/60)
	}
	return fmt.Sprintf("Retrying in %d min %d s", secs/60, secs%60)
}

func lowerFirst(s string) string {
	if s == "" || strings.HasPrefix(s, "Use Pod") || strings.HasPrefix(s, "Ollama") || strings.HasPrefix(s, "LM Studio") {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

const (
	checkInternet = "Check this computer's internet connection; the agent keeps trying by itself."
	checkAddress  = "Check the coordinator address in Settings (it starts with wss://)."
	keepsTrying   = "Nothing to do on this computer; the agent keeps trying by itself."
)

// Error explains any error the agent can meet: connecting to Use Pod, the
// session, the key store, the earnings file, the settings. The error's own
// text becomes the Detail.
func Error(err error) Problem {
	if err == nil {
		return Problem{}
	}
	p := classify(err)
	p.Detail = err.Error()
	return p
}

func classify(err error) Problem {
	var (
		ae  *coordinator.AuthError
		ue  *coordinator.UpgradeError
		he  *coordinator.HandshakeError
		dns *net.DNSError
		ve  *config.ValidationError
		se  *config.SyntaxError
	)
	switch {
	// Local failures first: their wrappers may carry network words.
	case errors.As(err, &ae):
		return Rejected(ae.Reason)
	case errors.Is(err, ledger.ErrDiskFull):
		return Problem{Kind: KindLedger, Summary: "Earnings can't be recorded: the disk is full",
			Action: "Free some space on this computer's disk. Jobs keep running, but their earnings are not written down."}
	case errors.Is(err, ledger.ErrCorrupt):
		return Problem{Kind: KindLedger, Summary: "The earnings file is damaged",
			Action: "Quit the agent, rename ledger.db in the data folder (it is kept as it is), and start the agent again."}
	case errors.Is(err, ledger.ErrNoAccess),
		isLedger(err) && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EROFS)):
		return Problem{Kind: KindLedger, Summary: "The agent can't write its earnings file",
			Action: "Check that the data folder exists and that this user may write to it."}
	case errors.Is(err, ledger.ErrNewerSchema):
		return Problem{Kind: KindLedger, Summary: "The earnings file was written by a newer version of the agent",
			Action: "Install the newest version of the agent."}
	case isLedger(err):
		return Problem{Kind: KindLedger, Summary: "Earnings can't be recorded",
			Action: "Jobs keep running; check the details, and that no second copy of the agent is running."}
	case errors.Is(err, identity.ErrKeychainUnavailable):
		return Problem{Kind: KindKeyStore, Summary: "The system keychain isn't answering",
			Action: "Unlock the keychain (log in again), or keep the key in a file: run the agent with --keyring file."}
	case errors.Is(err, identity.ErrNotFound):
		return Problem{Kind: KindKeyStore, Summary: "This computer's identity key is missing",
			Action: "If you moved the agent, import the key (usepod-agent import); otherwise a new one is made and you enroll again."}
	case errors.As(err, &ve), errors.As(err, &se):
		return Problem{Kind: KindSettings, Summary: "The settings file has a mistake",
			Action: "Fix the line named in the details, or remove the setting to use the default."}
	case strings.HasPrefix(err.Error(), "save settings"): // engine.UpdateConfig could not write agent.toml
		return Problem{Kind: KindSettings, Summary: "The settings could not be saved",
			Action: "Check that the settings folder exists and that this user may write to it."}
	case strings.HasPrefix(err.Error(), "coordinator URL "):
		return Problem{Kind: KindSettings, Summary: "The coordinator address is not valid", Action: checkAddress}
	case strings.Contains(err.Error(), "earning is"): // engine: saving the choice to earn failed
		return Problem{Kind: KindSettings, Summary: "The choice to earn or pause could not be saved",
			Action: "It applies now; after a restart, check it is still as you left it. See the details for why."}

	// Connecting to Use Pod.
	case errors.As(err, &ue):
		return upgradeStatus(ue.Status)
	case errors.As(err, &dns):
		return Problem{Kind: KindNetwork, Summary: "Can't reach Use Pod", Action: checkInternet}
	case neterr.Refused(err):
		return Problem{Kind: KindNetwork, Summary: "Use Pod refused the connection",
			Action: "It may be restarting; the agent keeps trying by itself. If it lasts, " + lowerFirst(checkAddress)}
	case isTLS(err):
		return Problem{Kind: KindNetwork, Summary: "Can't make a secure connection to Use Pod",
			Action: "Check this computer's date and time; a proxy, firewall or antivirus that inspects secure connections can also cause this."}
	case errors.As(err, &he):
		if isTimeout(he.Err) {
			return Problem{Kind: KindCoordinator, Summary: "Use Pod didn't finish signing this agent in",
				Action: "The connection may be slow or Use Pod busy; the agent keeps trying by itself."}
		}
		if st := websocket.CloseStatus(he.Err); st != -1 {
			return closed(st, he.Err)
		}
		if errors.Is(he.Err, coordinator.ErrMalformed) || strings.Contains(he.Err.Error(), "not auth_challenge") {
			return Problem{Kind: KindCoordinator, Summary: "Use Pod answered in a way this agent doesn't understand",
				Action: "Install the newest version of the agent. " + checkAddress}
		}
		return Problem{Kind: KindNetwork, Summary: "The connection to Use Pod dropped while signing in", Action: checkInternet}
	case websocket.CloseStatus(err) != -1:
		return closed(websocket.CloseStatus(err), err)
	case isTimeout(err):
		return Problem{Kind: KindNetwork, Summary: "Use Pod isn't answering", Action: checkInternet}
	case neterr.Dropped(err), strings.Contains(err.Error(), "EOF"):
		return Problem{Kind: KindNetwork, Summary: "The connection to Use Pod dropped", Action: checkInternet}
	}
	return Problem{Kind: KindOther, Summary: "Something went wrong", Action: "See the details; the agent keeps trying where it can."}
}

// upgradeStatus explains an HTTP status answered to the WebSocket upgrade.
func upgradeStatus(status int) Problem {
	code := fmt.Sprintf(" (HTTP %d)", status)
	switch {
	case status == 401 || status == 403:
		return Problem{Kind: KindCoordinator, Summary: "Use Pod refused this agent's connection" + code,
			Action: "Install the newest version of the agent. " + checkAddress}
	case status == 404 || status == 400 || status == 405:
		return Problem{Kind: KindCoordinator, Summary: "There is no Use Pod service at this address" + code, Action: checkAddress}
	case status == 426:
		return Problem{Kind: KindCoordinator, Summary: "This version of the agent is too old for Use Pod" + code,
			Action: "Install the newest version of the agent."}
	case status == 429:
		return Problem{Kind: KindCoordinator, Summary: "Use Pod is busy" + code, Action: keepsTrying}
	case status >= 500:
		return Problem{Kind: KindCoordinator, Summary: "Use Pod is having trouble" + code, Action: keepsTrying}
	}
	return Problem{Kind: KindCoordinator, Summary: "Use Pod turned the connection down" + code, Action: checkAddress}
}

// closed explains the coordinator (or the network) ending the session.
func closed(st websocket.StatusCode, err error) Problem {
	reason := ""
	var ce websocket.CloseError
	if errors.As(err, &ce) && strings.TrimSpace(ce.Reason) != "" {
		reason = ": " + strings.TrimSpace(ce.Reason)
	}
	switch st {
	case websocket.StatusAbnormalClosure:
		return Problem{Kind: KindNetwork, Summary: "The connection to Use Pod dropped", Action: checkInternet}
	case websocket.StatusServiceRestart, websocket.StatusTryAgainLater, websocket.StatusGoingAway:
		return Problem{Kind: KindCoordinator, Summary: "Use Pod is restarting", Action: keepsTrying}
	case websocket.StatusInternalError:
		return Problem{Kind: KindCoordinator, Summary: "Use Pod had a problem and ended the session" + reason, Action: keepsTrying}
	case websocket.StatusPolicyViolation, websocket.StatusProtocolError, websocket.StatusUnsupportedData,
		websocket.StatusInvalidFramePayloadData, websocket.StatusMessageTooBig:
		return Problem{Kind: KindCoordinator, Summary: "Use Pod ended the session" + reason,
			Action: "The agent reconnects by itself; if this keeps happening, install the newest version of the agent."}
	}
	return Problem{Kind: KindCoordinator, Summary: fmt.Sprintf("Use Pod ended the session (code %d)%s", int(st), reason),
		Action: "The agent reconnects by itself."}
}

// isLedger tells the ledger's errors ("could not save the earnings
// record: ...", the engine's "earnings record: ...") by their words.
func isLedger(err error) bool {
	return strings.Contains(err.Error(), "earnings ledger") || strings.HasPrefix(err.Error(), "earnings record")
}

func isTLS(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		cv  *tls.CertificateVerificationError
		rh  tls.RecordHeaderError
		alt tls.AlertError
	)
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &cv) ||
		errors.As(err, &rh) || errors.As(err, &alt) || strings.Contains(err.Error(), "tls: ")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// Rejected explains auth_failed: the coordinator's reason is the only
// explanation the user gets (docs/protocol.md section 2), so it is shown as
// is.
func Rejected(reason string) Problem {
	reason = strings.TrimSpace(reason)
	s := "Use Pod turned this agent away"
	if reason != "" {
		s += ": " + reason
	}
	return Problem{Kind: KindEnrollment, Summary: s,
		Action: "Paste a new enrollment code from your Use Pod dashboard in Settings.",
		Detail: "auth_failed: " + reason}
}

// NeedsEnrollment is a computer with no provider id and no code to send.
func NeedsEnrollment() Problem {
	return Problem{Kind: KindEnrollment, Summary: "This computer isn't linked to your Use Pod account yet",
		Action: "Open Settings and paste the enrollment code from your Use Pod dashboard (POD-ENROLL-…)."}
}
