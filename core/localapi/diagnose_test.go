package localapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestDiagnoseRoute(t *testing.T) {
	bundle := bytes.Repeat([]byte("PK\x03\x04 zip bytes "), 5000) // larger than one write
	s := serve(t, ServerOptions{Engine: newFakeEngine(),
		Diagnose: func(ctx context.Context, w io.Writer) error { _, err := w.Write(bundle); return err },
	})
	got, err := s.client.Diagnose(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bundle) {
		t.Fatalf("got %d bytes, want the %d the agent wrote", len(got), len(bundle))
	}

	failing := serve(t, ServerOptions{Engine: newFakeEngine(),
		Diagnose: func(ctx context.Context, w io.Writer) error {
			w.Write([]byte("half a zip"))
			return errors.New("the ledger is locked")
		},
	})
	_, err = failing.client.Diagnose(ctxT(t))
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusInternalServerError || !strings.Contains(ae.Message, "the ledger is locked") {
		t.Fatalf("failed bundle: %#v", err)
	}

	none := serve(t, ServerOptions{Engine: newFakeEngine()})
	_, err = none.client.Diagnose(ctxT(t))
	if !errors.As(err, &ae) || ae.Status != http.StatusNotImplemented {
		t.Fatalf("no Diagnose: %#v, want 501", err)
	}
}
