package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/core/identity"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/internal/testrig/keystore"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// An auth_ok without provider_id (docs/protocol.md section 2 stores the id
// only "once auth_ok carries" one) is a session: capabilities follow, and
// the code is sent on every handshake until an auth_ok brings an id
// (section 10.2).
func TestAuthOKWithoutProviderIDKeepsSendingTheCode(t *testing.T) {
	h := newHarness(t, localcoord.Options{OmitProviderID: true}, withBackends(replay.LlamaCpp(t)))
	p := h.provider()
	capabilities(t, p, 0) // the session is up
	s := h.waitState(stateIs(StateWaiting), "waiting for jobs")
	if s.ProviderID != "" {
		t.Fatalf("provider id %q out of an auth_ok that carried none", s.ProviderID)
	}
	p.Drop()
	p2 := h.provider()
	if p2.EnrollmentCode != testCode {
		t.Fatalf("second handshake sent code %q, want the code again: no id is known yet", p2.EnrollmentCode)
	}
	capabilities(t, p2, 0)

	h.coord.SetOmitProviderID(false)
	p2.Drop()
	p3 := h.provider()
	capabilities(t, p3, 0)
	h.waitState(func(s Snapshot) bool { return s.ProviderID == p3.ID }, "the provider id in the snapshot")
	if id, err := h.store.Load(ctxT(t)); err != nil || id.ProviderID != p3.ID {
		t.Fatalf("stored identity %v, %v; want provider id %q", id, err, p3.ID)
	}

	// Once known, an auth_ok without an id does not forget it.
	h.coord.SetOmitProviderID(true)
	p3.Drop()
	p4 := h.provider()
	capabilities(t, p4, 0)
	if p4.EnrollmentCode != "" {
		t.Fatal("code sent again once a provider id was known")
	}
	p4.Drop()
	p5 := h.provider()
	if p5.EnrollmentCode != "" {
		t.Fatal("an auth_ok without id made the agent forget its provider id")
	}
}

// failingStore is a MemStore whose Save fails while failing is set.
type failingStore struct {
	keystore.MemStore
	mu      sync.Mutex // guards failing and saves
	failing bool
	saves   int
}

var errSaveBroken = errors.New("the disk is read-only")

func (s *failingStore) Save(ctx context.Context, id *identity.Identity) error {
	s.mu.Lock()
	s.saves++
	failing := s.failing
	s.mu.Unlock()
	if failing {
		return errSaveBroken
	}
	return s.MemStore.Save(ctx, id)
}

func (s *failingStore) setFailing(f bool) {
	s.mu.Lock()
	s.failing = f
	s.mu.Unlock()
}

// A provider id whose save failed is kept in memory and used (the code is
// never sent again because of it), the user is told in plain words, and the
// save is retried during the session until it works.
func TestProviderIDSaveFailureIsRetriedAndShown(t *testing.T) {
	store := &failingStore{}
	// The identity exists before the run; only saving the provider id fails.
	id, err := identity.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	store.MemStore.Save(t.Context(), id)
	store.setFailing(true)
	h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)), withOptions(func(o *Options) {
		o.KeyStore = store
		o.HeartbeatInterval = 20 * time.Millisecond
	}))
	p := h.provider()
	capabilities(t, p, 0)
	want := "Could not save this computer's provider id to memory (not saved): the disk is read-only. Will retry."
	s := h.waitState(func(s Snapshot) bool { return slices.Contains(s.Problems, want) }, "the save problem in the snapshot")
	if s.ProviderID != p.ID {
		t.Fatalf("snapshot provider id %q, want %q kept in memory", s.ProviderID, p.ID)
	}

	p.Drop()
	p2 := h.provider()
	if p2.EnrollmentCode != "" {
		t.Fatal("the enrollment code was sent again because the provider id could not be saved")
	}
	capabilities(t, p2, 0)

	store.setFailing(false)
	h.waitState(func(s Snapshot) bool { return len(s.Problems) == 0 }, "the problem to clear once saved")
	got, err := store.Load(ctxT(t))
	if err != nil || got.ProviderID != p.ID {
		t.Fatalf("stored identity %v, %v; want provider id %q saved by a retry", got, err, p.ID)
	}
	// Each heartbeat goes out after its round's retry (if one is due), so
	// once the coordinator has three more, at least two whole rounds have
	// run since n was read.
	store.mu.Lock()
	n := store.saves
	store.mu.Unlock()
	from := len(p2.Frames())
	for range 3 {
		_, i, err := p2.WaitFrame(ctxT(t), from, localcoord.OfType("heartbeat"))
		if err != nil {
			t.Fatalf("waiting for a heartbeat: %v", err)
		}
		from = i + 1
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.saves != n {
		t.Fatalf("saved %d more times after it worked", store.saves-n)
	}
}

// A ledger that cannot be opened does not stop the engine: the job is
// served, the problem is shown, and the job lands in the ledger (once) when
// it can be opened.
func TestLedgerThatCannotOpenKeepsTheJob(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "data")
	os.WriteFile(blocker, []byte("a file where the data folder should be"), 0o600)
	keeper := ledger.OpenKeeper(filepath.Join(blocker, "ledger.db"), nil)
	defer keeper.Close()
	h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)), withOptions(func(o *Options) { o.Ledger = keeper }))
	p := h.provider()
	capabilities(t, p, 0)
	res, err := p.Dispatch(ctxT(t), localcoord.JobRequest{JobID: "kept-1", ModelID: "tiny", Request: chatRequest()})
	if err != nil || res.Done == nil {
		t.Fatalf("job without a ledger: %v %s", err, res.Terminal.Raw)
	}
	h.waitState(func(s Snapshot) bool {
		return len(s.Problems) == 1 && strings.Contains(s.Problems[0], "earnings ledger is not working") && strings.Contains(s.Problems[0], "1 finished job is kept")
	}, "the ledger problem in the snapshot")

	os.Remove(blocker)
	s := h.waitState(func(s Snapshot) bool { return s.Earnings.Jobs == 1 && len(s.Problems) == 0 }, "the kept job in the earnings")
	if s.Earnings.TotalMicro != 4 {
		t.Fatalf("earnings %+v", s.Earnings)
	}
}
