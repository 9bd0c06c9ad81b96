package metrics

import (
	"bytes"
	"net/http"
)

// recorder is a minimal http.ResponseWriter that keeps the body; unlike
// httptest.ResponseRecorder it can be reset between benchmark iterations.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

func (r *recorder) reset() {
	clear(r.header)
	r.status = 0
	r.body.Reset()
}
