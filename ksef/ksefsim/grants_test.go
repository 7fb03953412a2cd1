package ksefsim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
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

// TestGrantsFlag: `ksef-sync sim -grants OFFICE:CLIENT` lets the office's token log in in the
// client's context; a malformed entry is a usage error.
func TestGrantsFlag(t *testing.T) {
	var errb strings.Builder
	if code := RunCLI(context.Background(), []string{"-grants", "1111111111"}, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), "OWNER_NIP:CLIENT_NIP") {
		t.Errorf("malformed -grants: exit %d, %q", code, errb.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &testutil.LogBuffer{}
	done := make(chan int)
	go func() {
		done <- RunCLI(ctx, []string{"-addr", "127.0.0.1:0", "-nip", "1111111111", "-tokens", "1111111111:office-token",
			"-grants", "1111111111:5265877635", "-rate-limits", "off"}, out, io.Discard)
	}()
	defer func() { cancel(); <-done }()
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("the simulator did not print its URL: %q", out.String())
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if u, ok := strings.CutPrefix(line, "url: "); ok {
				url = u
			}
		}
		time.Sleep(10 * time.Millisecond) // polling the simulator's start-up output
	}
	c, err := ksef.New(ksef.Options{BaseURL: url, Context: ksef.ContextIdentifier{Type: "Nip", Value: "5265877635"},
		Auth: ksef.TokenAuth{Token: "office-token"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(context.Background()); err != nil {
		t.Errorf("office token in a granted context: %v", err)
	}
}
