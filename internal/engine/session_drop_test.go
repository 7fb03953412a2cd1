package engine

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
)

// TestUndecryptableSessionKeysPauseSending: KSeF may open an online session (201) whose key it then
// cannot decrypt, and refuse the first send with 21180 "Status sesji (415) uniemożliwia wysyłkę
// faktur." (CIRFMF/ksef-api #689, #653). The engine reads the session status, fetches KSeF's public
// keys again for the next session, and after two such sessions in a row opens none for a while and
// says what to do, instead of spending a session of the hourly budget on every step. Each refused
// session is closed in the journal (KSeF answers its close 21180 too). Once KSeF decrypts the keys
// again, the invoice goes.
func TestUndecryptableSessionKeysPauseSending(t *testing.T) {
	sim := simtest.Start(t, ksefsim.Options{DefaultNIP: nip})
	var keyFetches atomic.Int64
	h := newHarnessOn(t, sim, SendSettings{Mode: "online", SessionIdleClose: 24 * time.Hour}, func(o *ksef.Options) {
		o.HTTPClient = &http.Client{Transport: countKeyFetches(&keyFetches)}
	})
	sim.UndecryptableSessionKeys(1000) // every session from now on
	now := time.Now()
	h.eng.now = func() time.Time { return now }
	h.eng.intake(h.ctx, h.drop("FV_K.xml", inv(1, "KEY")))
	var paused error
	steps := func(minutes int) {
		for range minutes {
			if err := h.eng.Step(h.ctx, true); errors.Is(err, ErrSessionKeyRefused) {
				paused = err
			}
			now = now.Add(time.Minute)
		}
	}

	steps(10) // within the first pause (15 min)
	refs := h.onlineSessions()
	if len(refs) != 2 {
		t.Fatalf("%d online sessions opened in 10 minutes (%v); want 2, then a pause", len(refs), refs)
	}
	if paused == nil || !strings.Contains(paused.Error(), refs[0]) || !strings.Contains(paused.Error(), refs[1]) {
		t.Fatalf("step error %v; want the pause, naming both sessions", paused)
	}
	if n := keyFetches.Load(); n != 2 {
		t.Errorf("KSeF's public keys fetched %d times; want 2 (again after the first refused session)", n)
	}
	h.noOnlineSessionOpen()

	steps(10) // past the first pause: one more session, refused, and a longer pause
	if n := len(h.onlineSessions()); n != 3 {
		t.Fatalf("%d online sessions after the first pause; want 3", n)
	}
	sim.UndecryptableSessionKeys(0)
	done := h.settleSkipping() // a minute a step, past the second pause
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("done = %+v; want the invoice accepted once KSeF decrypts the keys", done)
	}
	if h.eng.keyRefusals.count != 0 {
		t.Errorf("refused sessions still counted after a send KSeF took: %+v", h.eng.keyRefusals)
	}
}

// TestSendIntoAnotherContextsSession: KSeF answers a send into a session of another context with 403
// insufficient-resource-access (CIRFMF/ksef-api #826). The engine leaves that session at once
// instead of sending into it again, and the invoice goes in a session of its own.
func TestSendIntoAnotherContextsSession(t *testing.T) {
	sim := simtest.Start(t, ksefsim.Options{DefaultNIP: nip})
	h := newHarnessOn(t, sim, SendSettings{Mode: "online", SessionIdleClose: 24 * time.Hour})
	const otherNIP = "3861610227"
	other, err := ksef.New(ksef.Options{BaseURL: sim.URL(), Context: ksef.ContextIdentifier{Type: "Nip", Value: otherNIP},
		Auth: ksef.TokenAuth{Token: sim.Token(otherNIP)}})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := other.OpenOnlineSession(h.ctx, ksef.FormFA3)
	if err != nil {
		t.Fatal(err)
	}
	h.eng.online = onlineState{session: theirs, lastUsed: time.Now()}
	h.eng.intake(h.ctx, h.drop("FV_X.xml", inv(1, "CTX")))
	if err := h.eng.Step(h.ctx, false); err != nil { // no flush: that would close the session anyway
		t.Logf("step: %v", err)
	}
	if s := h.eng.online.session; s != nil && s.ReferenceNumber == theirs.ReferenceNumber {
		t.Fatal("the engine keeps the session KSeF refused with 403 for the next send")
	}
	done := h.settleSkipping()
	if len(done) != 1 || done[0].Outcome != "accepted" || done[0].SessionRef == theirs.ReferenceNumber {
		t.Fatalf("done = %+v; want accepted in a session of our own", done)
	}
}

// TestAmbiguousSendClosesTheSession: a send whose outcome is unknown (an HTML 5xx from a gateway)
// leaves its session; the engine closes it at once, so KSeF makes its UPO now and the journal does
// not list it open until the next start. The invoice is reconciled and goes in a new session.
func TestAmbiguousSendClosesTheSession(t *testing.T) {
	sim := simtest.Start(t, ksefsim.Options{DefaultNIP: nip})
	h := newHarnessOn(t, sim, SendSettings{Mode: "online", SessionIdleClose: 24 * time.Hour})
	sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{{Kind: ksefsim.FaultHTML5xx, Rate: 1, Groups: []string{"invoiceSend"}, Count: 1}}})
	h.eng.intake(h.ctx, h.drop("FV_A.xml", inv(1, "AMB")))
	if err := h.eng.Step(h.ctx, true); err != nil {
		t.Logf("step: %v", err)
	}
	if n := len(h.onlineSessions()); n != 1 {
		t.Fatalf("%d online sessions after the first step; want 1", n)
	}
	h.noOnlineSessionOpen()
	done := h.settleSkipping()
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("done = %+v; want accepted", done)
	}
}

// onlineSessions are the references of the online sessions the journal knows, oldest first.
func (h *harness) onlineSessions() []string {
	h.t.Helper()
	ss, err := h.journal.Sessions(h.ctx, nip)
	if err != nil {
		h.t.Fatal(err)
	}
	var refs []string
	for _, s := range ss {
		if s.Kind == "online" {
			refs = append(refs, s.Ref)
		}
	}
	return refs
}

// noOnlineSessionOpen fails when the journal still lists an online session open although the engine
// holds none.
func (h *harness) noOnlineSessionOpen() {
	h.t.Helper()
	open, err := h.journal.Sessions(h.ctx, nip, "open")
	if err != nil {
		h.t.Fatal(err)
	}
	for _, s := range open {
		if s.Kind == "online" && (h.eng.online.session == nil || h.eng.online.session.ReferenceNumber != s.Ref) {
			h.t.Errorf("the journal lists dropped online session %s as open", s.Ref)
		}
	}
}

// countKeyFetches is the default transport, counting the requests for KSeF's public keys.
func countKeyFetches(n *atomic.Int64) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/security/public-key-certificates") {
			n.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
