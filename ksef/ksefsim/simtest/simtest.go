// Package simtest gives the tests of the packages that talk to KSeF a real simulator to work
// against, the way net/http/httptest gives them a real server.
package simtest

import (
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

// Start runs the simulator with opts on a free loopback port and closes it when the test ends.
// The simulator checks its own answers against the specification (Options.CheckResponses), and
// the test fails if one was wrong: our client and our simulator must not share a misreading of
// what KSeF sends.
func Start(t testing.TB, opts ksefsim.Options) *ksefsim.Server {
	t.Helper()
	opts.CheckResponses = true
	sim, err := ksefsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	t.Cleanup(func() {
		if v := sim.Stats().AnswerViolations(); len(v) > 0 {
			t.Errorf("the simulator answered against the specification: %v", v)
		}
	})
	return sim
}

// CheckSpec fails the test at its end if the simulator saw a request against the specification
// (or gave an answer against it).
func CheckSpec(t testing.TB, sim *ksefsim.Server) {
	t.Cleanup(func() {
		if st := sim.Stats(); st.SpecViolations != 0 {
			t.Errorf("simulator counted %d spec violations: %v", st.SpecViolations, st.SpecViolationDetails)
		}
	})
}

// SeedSubject stores invoices between nip and other at the given PermanentStorage dates, as the
// pull's subjects see them: "cost" ones bought by nip, "sales" ones sold by it.
func SeedSubject(t testing.TB, sim *ksefsim.Server, subject, nip, other string, dates ...time.Time) []ksefsim.SeededInvoice {
	t.Helper()
	seller, buyer := other, nip
	if subject == "sales" {
		seller, buyer = buyer, seller
	}
	seeded, err := sim.Seed(ksefsim.SeedsBetween(seller, buyer, dates...)...)
	if err != nil {
		t.Fatal(err)
	}
	return seeded
}

// Certificate is a self-signed certificate carrying nip, valid from an hour ago for two days, with
// its key: the simulator trusts it by default (Options.TrustAnySelfSigned), in nip's context and in
// every context that granted nip permissions (an accounting office's certificate).
func Certificate(t testing.TB, nip string) *xades.Credentials {
	t.Helper()
	creds, err := xades.GenerateTestCredentials(xades.TestCertOptions{NIP: nip, KeyType: "ecdsa",
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return creds
}
