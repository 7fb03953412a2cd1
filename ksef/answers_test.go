package ksef

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The tests here read answers the simulator does not give, as KSeF documents them: a raw httptest
// server returns the documented bytes to the real client.

// answering is a client of a raw server that answers every request with handler, logged in already
// (the server need not know the login flow).
func answering(t *testing.T, handler http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	clk := newFakeClock()
	c, err := New(Options{BaseURL: srv.URL + "/v2", Context: ContextIdentifier{Type: "Nip", Value: testNIP}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	c.access = TokenInfo{Token: "access", ValidUntil: clk.Now().Add(time.Hour)}
	return c
}

// answerJSON answers every request with status and body as application/json.
func answerJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// TestDuplicateOriginalFromEitherPlace: a 440 names the original KSeF number and session in
// status.extensions, which open-api.json makes optional and nullable, and in the details text,
// which KSeF gave alone until late 2025. Either way the client finds the original.
func TestDuplicateOriginalFromEitherPlace(t *testing.T) {
	const (
		wantNumber  = "9999999999-20251120-0E00E071034B-CF"
		wantSession = "20251120-SO-20F788B000-589949A428-22"
		details     = `["Duplikat faktury. Faktura o numerze KSeF: 9999999999-20251120-0E00E071034B-CF została już prawidłowo przesłana do systemu w sesji: 20251120-SO-20F788B000-589949A428-22"]`
	)
	tests := []struct {
		name   string
		status string
	}{
		// CIRFMF/ksef-api #380, the answer before extensions existed
		{"details only", `{"code": 440, "description": "Duplikat faktury", "details": ` + details + `}`},
		{"extensions null", `{"code": 440, "description": "Duplikat faktury", "details": ` + details + `, "extensions": null}`},
		{"extensions with null values", `{"code": 440, "description": "Duplikat faktury", "details": ` + details + `, "extensions": {"originalSessionReferenceNumber": null, "originalKsefNumber": null}}`},
		// open-api.json, SessionInvoiceStatusResponse example
		{"extensions", `{"code": 440, "description": "Duplikat faktury", "details": ` + details + `, "extensions": {"originalSessionReferenceNumber": "20251120-SO-20F788B000-589949A428-22", "originalKsefNumber": "9999999999-20251120-0E00E071034B-CF"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := answering(t, answerJSON(200, `{"ordinalNumber": 2, "referenceNumber": "20251120-EE-2F20AD2000-242386DF86-52", "invoiceHash": "mkht+3m5trnfxlTYhq3QFn74LkEO69MFNlsMAkCDSPA=", "invoicingDate": "2025-11-20T12:23:56.0154302+00:00", "status": `+tt.status+`}`))
			si, err := c.SessionInvoice(context.Background(), "20251120-SO-3789A40000-20373E1269-A3", "20251120-EE-2F20AD2000-242386DF86-52")
			if err != nil {
				t.Fatal(err)
			}
			number, session, ok := si.Status.Duplicate()
			if diff := cmp.Diff([]any{wantNumber, wantSession, true}, []any{number, session, ok}); diff != "" {
				t.Errorf("Duplicate() (-want +got):\n%s", diff)
			}
		})
	}
}
