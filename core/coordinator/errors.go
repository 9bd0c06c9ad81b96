package coordinator

import (
	"net/http"
)

// UpgradeError is a coordinator that answered the WebSocket upgrade with an
// HTTP status instead of switching protocols (a 503 while it deploys, a 404
// at a wrong address). The message stays the WebSocket library's.
type UpgradeError struct {
	Status int // the HTTP status it answered
	Err    error
}

func (e *UpgradeError) Error() string { return e.Err.Error() }
func (e *UpgradeError) Unwrap() error { return e.Err }

// HandshakeError is a failure after the WebSocket opened and before auth_ok
// that is not an auth_failed answer: no challenge in time, a malformed one,
// a connection dropped mid-handshake.
type HandshakeError struct{ Err error }

func (e *HandshakeError) Error() string { return e.Err.Error() }
func (e *HandshakeError) Unwrap() error { return e.Err }

// upgradeFailed types a dial error that came with an HTTP answer.
func upgradeFailed(resp *http.Response, err error) error {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		return &UpgradeError{Status: resp.StatusCode, Err: err}
	}
	return err
}
