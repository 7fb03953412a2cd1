package ksefsim

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
)

// TestGrantsLetAnOfficeActForItsClient: an office's certificate logs in with a client's NIP as the
// context once the client has granted it permissions; without, the login ends with 415 "Brak
// przypisanych uprawnień". A token works only in the context it was generated in, grant or not
// (CIRFMF/ksef-api #741): the client refuses it before asking KSeF, and KSeF ends such a login
// with 450 when asked.
func TestGrantsLetAnOfficeActForItsClient(t *testing.T) {
	const office, client = "1111111111", "5265877635"
	s, err := New(Options{DefaultNIP: office, RateLimits: "off", TrustAnySelfSigned: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	login := func(auth ksef.Authenticator, ctxNIP string) error {
		c, err := ksef.New(ksef.Options{BaseURL: s.URL(), Context: ksef.ContextIdentifier{Type: "Nip", Value: ctxNIP},
			Auth: auth, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return c.Login(context.Background())
	}
	cert := ksef.XadesAuth{Credentials: testCreds(t, office, time.Now().Add(-time.Hour))}
	var ae *ksef.AuthError
	if err := login(cert, client); !errors.As(err, &ae) || ae.Code != 415 {
		t.Fatalf("office certificate in the client's context without a grant: %v, want status 415", err)
	}
	s.Grant(office, client)
	if err := login(cert, client); err != nil {
		t.Fatalf("office certificate in the client's context with a grant: %v", err)
	}
	if err := login(cert, "3861610227"); !errors.As(err, &ae) || ae.Code != 415 {
		t.Fatalf("office certificate in a context without a grant: %v, want status 415", err)
	}

	tok := s.Token(office)
	started := s.Stats().LoginsStarted
	if err := login(ksef.TokenAuth{Token: tok}, client); err == nil || !strings.Contains(err.Error(), "works only there") ||
		s.Stats().LoginsStarted != started {
		t.Fatalf("office token in the client's context: %v (%d logins started), want refused before asking KSeF",
			err, s.Stats().LoginsStarted-started)
	}
	s.AddToken(office, "office-token") // a shape the client cannot read the context from
	if err := login(ksef.TokenAuth{Token: "office-token"}, client); !errors.As(err, &ae) || ae.Code != 450 {
		t.Fatalf("office token of an unknown shape in the client's context: %v, want status 450", err)
	}
	if err := login(ksef.TokenAuth{Token: tok}, office); err != nil {
		t.Fatalf("office token in its own context: %v", err)
	}
	if !s.RevokeToken(tok) {
		t.Fatal("RevokeToken: token unknown")
	}
	if err := login(ksef.TokenAuth{Token: tok}, office); !errors.As(err, &ae) || ae.Code != 450 {
		t.Fatalf("revoked token: %v, want status 450", err)
	}
}

// TestGrantsFlag: `ksef-sync sim -grants OFFICE:CLIENT` lets the office's certificate log in in
// the client's context; a malformed entry is a usage error.
func TestGrantsFlag(t *testing.T) {
	var errb strings.Builder
	if code := RunCLI(context.Background(), []string{"-grants", "1111111111"}, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), "OWNER_NIP:CLIENT_NIP") {
		t.Errorf("malformed -grants: exit %d, %q", code, errb.String())
	}
	creds := testCreds(t, "1111111111", time.Now().Add(-time.Hour))
	certFile := filepath.Join(t.TempDir(), "office.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: creds.Certificate.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &testutil.LogBuffer{}
	done := make(chan int)
	go func() {
		done <- RunCLI(ctx, []string{"-addr", "127.0.0.1:0", "-nip", "1111111111", "-certs", "1111111111:" + certFile,
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
		Auth: ksef.XadesAuth{Credentials: creds}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(context.Background()); err != nil {
		t.Errorf("office certificate in a granted context: %v", err)
	}
}

// TestRevokedTokenEndsItsLogins: a KSeF token revoked after a login also stops that login's
// refreshes: KSeF answers 400 21301 "Token KSeF został unieważniony." (open-api.json, POST
// /auth/token/refresh), so a daemon finds out when its access token ends, not days later.
func TestRevokedTokenEndsItsLogins(t *testing.T) {
	s := startSim(t, Options{RateLimits: "off"})
	_, refresh := login(t, s, testNIP)
	must(t, call(t, "POST", s.URL()+"/auth/token/refresh", refresh, nil), 200)
	if !s.RevokeToken(s.Token(testNIP)) {
		t.Fatal("RevokeToken: token unknown")
	}
	if code := must(t, call(t, "POST", s.URL()+"/auth/token/refresh", refresh, nil), 400).exceptionCode(t); code != 21301 {
		t.Errorf("refresh after the token was revoked: code %d, want 21301", code)
	}
}
