package ksefsim

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

func testCreds(t *testing.T, nip string, notBefore time.Time) *xades.Credentials {
	t.Helper()
	creds, err := xades.GenerateTestCredentials(xades.TestCertOptions{NIP: nip, KeyType: "ecdsa", CommonName: "Jan Testowy", NotBefore: notBefore, NotAfter: notBefore.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

func xadesLogin(t *testing.T, s *Server, creds *xades.Credentials, ctxNIP, subjectType string, now time.Time) resp {
	t.Helper()
	ch := must(t, call(t, "POST", s.URL()+"/auth/challenge", "", nil), 200).json(t)
	doc := xades.BuildAuthTokenRequest(ch["challenge"].(string), "Nip", ctxNIP, subjectType)
	signed, err := xades.Sign(doc, creds, now)
	if err != nil {
		t.Fatal(err)
	}
	return call(t, "POST", s.URL()+"/auth/xades-signature", "", signed, "Content-Type", "application/xml")
}

func TestXadesLogin(t *testing.T) {
	c := newClock()
	creds := testCreds(t, testNIP, c.Now().Add(-time.Hour))
	other := testCreds(t, "3861610227", c.Now().Add(-time.Hour))

	t.Run("self-signed accepted, session usable", func(t *testing.T) {
		s := startSim(t, Options{RateLimits: "off", Now: c.Now})
		r := must(t, xadesLogin(t, s, creds, testNIP, "certificateSubject", c.Now()), 202).json(t)
		authTok := r["authenticationToken"].(map[string]any)["token"].(string)
		st := must(t, call(t, "GET", s.URL()+"/auth/"+r["referenceNumber"].(string), authTok, nil), 200).json(t)
		if statusCode(st) != 200 || st["authenticationMethodInfo"].(map[string]any)["category"] != "XadesSignature" {
			t.Fatalf("status %v", st)
		}
		must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 200)
	})
	tests := []struct {
		name     string
		opts     Options
		creds    *xades.Credentials
		subject  string
		advance  time.Duration
		wantCode int
	}{
		{"self-signed not trusted", Options{}.WithoutSelfSigned(), creds, "certificateSubject", 0, 21115},
		{"fingerprint not registered", Options{}, creds, "certificateFingerprint", 0, 21115},
		{"certificate expired", Options{}, creds, "certificateSubject", 72 * time.Hour, 21115},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := newClock()
			cl.Advance(tc.advance)
			tc.opts.RateLimits, tc.opts.Now = "off", cl.Now
			s := startSim(t, tc.opts)
			r := must(t, xadesLogin(t, s, tc.creds, testNIP, tc.subject, cl.Now()), 400)
			if got := r.exceptionCode(t); got != tc.wantCode {
				t.Errorf("code %d, want %d (%s)", got, tc.wantCode, r.body)
			}
		})
	}
	t.Run("subject NIP without permissions in the context", func(t *testing.T) {
		// A trusted certificate of another NIP that holds no grant here: the login starts and ends
		// with 415 "Brak przypisanych uprawnień", as for any credential without permissions.
		s := startSim(t, Options{RateLimits: "off", Now: c.Now})
		r := must(t, xadesLogin(t, s, other, testNIP, "certificateSubject", c.Now()), 202).json(t)
		authTok := r["authenticationToken"].(map[string]any)["token"].(string)
		st := must(t, call(t, "GET", s.URL()+"/auth/"+r["referenceNumber"].(string), authTok, nil), 200).json(t)
		if statusCode(st) != 415 {
			t.Fatalf("status %v, want 415", st)
		}
		must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 400)
	})
	t.Run("registered fingerprint accepted", func(t *testing.T) {
		s := startSim(t, Options{RateLimits: "off", Now: c.Now, TrustedCerts: map[string][]*x509.Certificate{testNIP: {creds.Certificate}}}.WithoutSelfSigned())
		must(t, xadesLogin(t, s, creds, testNIP, "certificateFingerprint", c.Now()), 202)
	})
}
