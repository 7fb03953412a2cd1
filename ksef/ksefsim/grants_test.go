package ksefsim

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// TestGrantsLetAnOfficeActForItsClient: an office's token logs in with a client's NIP as the
// context only once the client has granted it permissions; without, KSeF answers 415.
func TestGrantsLetAnOfficeActForItsClient(t *testing.T) {
	const office, client = "1111111111", "5265877635"
	s, err := New(Options{DefaultNIP: office, RateLimits: "off"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	login := func(token, ctxNIP string) error {
		c, err := ksef.New(ksef.Options{BaseURL: s.URL(), Context: ksef.ContextIdentifier{Type: "Nip", Value: ctxNIP},
			Auth: ksef.TokenAuth{Token: token}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return c.Login(context.Background())
	}
	tok := s.Token(office)
	var ae *ksef.AuthError
	if err := login(tok, client); !errors.As(err, &ae) || ae.Code != 415 {
		t.Fatalf("office token in the client's context without a grant: %v, want status 415", err)
	}
	s.Grant(office, client)
	if err := login(tok, client); err != nil {
		t.Fatalf("office token in the client's context with a grant: %v", err)
	}
	if err := login(tok, "3861610227"); !errors.As(err, &ae) || ae.Code != 415 {
		t.Fatalf("office token in a context without a grant: %v, want status 415", err)
	}
	if !s.RevokeToken(tok) {
		t.Fatal("RevokeToken: token unknown")
	}
	if err := login(tok, office); !errors.As(err, &ae) || ae.Code != 450 {
		t.Fatalf("revoked token: %v, want status 450", err)
	}
}
