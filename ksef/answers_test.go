package ksef

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// specExample is the example open-api.json gives for the 2xx JSON answer of method path (the
// response's own example, or its schema's).
func specExample(t *testing.T, method, path string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("ksefsim", "open-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths      map[string]map[string]struct{ Responses map[string]specResponse }
		Components struct {
			Schemas map[string]struct{ Example json.RawMessage }
		}
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	for code, resp := range spec.Paths[path][strings.ToLower(method)].Responses {
		c, ok := resp.Content["application/json"]
		if !strings.HasPrefix(code, "2") || !ok {
			continue
		}
		if len(c.Example) > 0 {
			return string(c.Example)
		}
		if ex := spec.Components.Schemas[strings.TrimPrefix(c.Schema.Ref, "#/components/schemas/")].Example; len(ex) > 0 {
			return string(ex)
		}
	}
	t.Fatalf("open-api.json has no example answer for %s %s", method, path)
	return ""
}

type specResponse struct {
	Content map[string]struct {
		Example json.RawMessage
		Schema  struct {
			Ref string `json:"$ref"`
		}
	}
}

// TestReadsSpecExamples gives the client open-api.json's own example answers (7-digit fractions,
// +00:00 offsets, continuation tokens, optional fields left out) and checks what it reads from them.
func TestReadsSpecExamples(t *testing.T) {
	ctx := context.Background()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// serve answers each of the client's requests with the example of the spec's path; a request
	// carrying a continuation token gets the empty last page.
	serve := func(method, specPath, lastPage string) *Client {
		example := specExample(t, method, specPath)
		return answering(t, func(w http.ResponseWriter, r *http.Request) {
			body := example
			if r.Header.Get("x-continuation-token") != "" {
				body = lastPage
			}
			answerJSON(200, body)(w, r)
		})
	}
	t.Run("session status", func(t *testing.T) {
		st, err := serve("GET", "/sessions/{referenceNumber}", "").SessionStatus(ctx, "20250918-SO-3789A40000-20373E1269-A3")
		if err != nil {
			t.Fatal(err)
		}
		if st.Status.Code != 200 || st.UPO == nil || len(st.UPO.Pages) != 1 || st.UPO.Pages[0].ReferenceNumber != "20250918-EU-2EBD6FA000-242EB9B66D-43" ||
			!st.UPO.Pages[0].DownloadURLExpirationDate.Equal(at("2025-09-21T15:00:50Z")) || st.InvoiceCount != 10 || st.FailedInvoiceCount != 2 || st.ValidUntil != nil {
			t.Errorf("session status %+v", st)
		}
	})
	t.Run("session invoices", func(t *testing.T) {
		var got []SessionInvoice
		err := serve("GET", "/sessions/{referenceNumber}/invoices", `{"invoices": []}`).ListSessionInvoices(ctx, "20250918-SO-3789A40000-20373E1269-A3", false,
			func(si SessionInvoice) error { got = append(got, si); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].KsefNumber != "5265877635-20250626-010080DD2B5E-26" || got[0].PermanentStorageDate == nil ||
			!got[0].PermanentStorageDate.Equal(at("2025-09-18T12:24:01.015432Z")) || got[1].AcquisitionDate != nil || got[1].KsefNumber != "" {
			t.Fatalf("invoices %+v", got)
		}
		if n, s, ok := got[1].Status.Duplicate(); n != "5265877635-20250626-010080DD2B5E-26" || s != "20250626-SO-2F14610000-242991F8C9-B4" || !ok {
			t.Errorf("duplicate of %q in %q (%v)", n, s, ok)
		}
	})
	t.Run("sessions", func(t *testing.T) {
		var got []SessionListItem
		err := serve("GET", "/sessions", `{"sessions": []}`).ListSessions(ctx, SessionListFilter{SessionType: "Online"},
			func(s SessionListItem) error { got = append(got, s); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[1].ReferenceNumber != "20250928-SO-494B541000-3AD87C01BA-5D" || got[1].TotalInvoiceCount != 3 ||
			!got[1].DateCreated.Equal(at("2025-09-28T21:20:54.5936927Z")) {
			t.Errorf("sessions %+v", got)
		}
	})
	t.Run("metadata", func(t *testing.T) {
		page, err := serve("POST", "/invoices/query/metadata", "").QueryMetadata(ctx, QueryFilters{SubjectType: "Subject1",
			DateRange: DateRange{DateType: "PermanentStorage", From: at("2025-08-01T00:00:00Z")}}, 0, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if page.HasMore || len(page.Invoices) != 2 || page.PermanentStorageHwmDate == nil || !page.PermanentStorageHwmDate.Equal(at("2025-08-28T09:23:55.388Z")) {
			t.Fatalf("page %+v", page)
		}
		m := page.Invoices[1]
		if m.GrossAmount != 43370.57 || m.IssueDate != "2025-08-28" || len(m.ThirdSubjects) != 1 || m.ThirdSubjects[0].Role != 4 ||
			m.ThirdSubjects[0].Identifier.Type != "InternalId" || !m.PermanentStorageDate.Equal(at("2025-08-28T10:24:01.388123Z")) {
			t.Errorf("invoice %+v", m)
		}
	})
	t.Run("export status", func(t *testing.T) {
		st, err := serve("GET", "/invoices/exports/{referenceNumber}", "").ExportStatus(ctx, "20251010-EH-1B6C9EB000-4B15D3AEB9-89")
		if err != nil {
			t.Fatal(err)
		}
		p := st.Package
		if st.Status.Code != 200 || p == nil || !p.IsTruncated || p.InvoiceCount != 10000 || len(p.Parts) != 1 || p.Parts[0].EncryptedPartSize != 22425072 ||
			p.LastPermanentStorageDate == nil || !p.LastPermanentStorageDate.Equal(at("2025-09-11T11:40:40.266578Z")) || p.LastIssueDate != nil {
			t.Errorf("export status %+v, package %+v", st, p)
		}
	})
	t.Run("rate limits", func(t *testing.T) {
		c := serve("GET", "/rate-limits", "")
		if err := c.RefreshLimits(ctx); err != nil {
			t.Fatal(err)
		}
		if got := c.pacer.limitsCopy()["invoiceExport"]; got != (Limit{PerSecond: 8, PerMinute: 16, PerHour: 20}) {
			t.Errorf("invoiceExport limit %+v", got)
		}
	})
	t.Run("rate limits with a member added later", func(t *testing.T) {
		// JSON from KSeF may grow properties at any time; one that is not a group's limits is skipped
		example := specExample(t, "GET", "/rate-limits")
		c := answering(t, answerJSON(200, `{"nightLimitsFrom": "20:00", "nightLimitsApply": false, `+strings.TrimPrefix(strings.TrimSpace(example), "{")))
		if err := c.RefreshLimits(ctx); err != nil {
			t.Fatal(err)
		}
		if got := c.pacer.limitsCopy()["invoiceExport"]; got != (Limit{PerSecond: 8, PerMinute: 16, PerHour: 20}) {
			t.Errorf("invoiceExport limit %+v", got)
		}
	})
}

// TestWaitLimitReturnsALong503: a 503 whose Retry-After is longer than the caller's wait limit comes
// back at once with that Retry-After (the caller honours it), after one request; without a limit the
// client keeps trying by itself.
func TestWaitLimitReturnsALong503(t *testing.T) {
	var requests atomic.Int32
	c := answering(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html><body>Przerwa techniczna</body></html>"))
	})
	ctx := WithWaitLimit(context.Background(), 15*time.Second)
	_, err := c.SessionStatus(ctx, "20251120-SO-20F788B000-589949A428-22")
	var u *UnavailableError
	if !errors.As(err, &u) || u.RetryAfter != 2*time.Minute || RetryAfterHint(err) != 2*time.Minute {
		t.Fatalf("got %v, want the 503 with its Retry-After of 2 min", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests with a wait limit, want 1", n)
	}
	_, _ = c.SessionStatus(context.Background(), "20251120-SO-20F788B000-589949A428-22")
	if n := requests.Load(); n < 3 {
		t.Errorf("without a wait limit the client tried %d times in all, want its own retries", n)
	}
}

// TestErrorsReachAStrictNegotiator: open-api.json gives 401, 403 and 410 only as
// application/problem+json. A server that negotiates strictly answers 406 to a request whose Accept
// does not admit that type; the client's JSON calls and XML downloads both admit it, so KSeF's own
// answer (here a 403 with its reasonCode) reaches the caller.
func TestErrorsReachAStrictNegotiator(t *testing.T) {
	c := answering(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "application/problem+json") {
			w.WriteHeader(http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"title": "Forbidden", "status": 403, "detail": "Brak wymaganych uprawnień.",
			"reasonCode": "missing-permissions", "timestamp": "2026-12-05T10:00:00Z"}`))
	})
	const session = "20251120-SO-20F788B000-589949A428-22"
	calls := map[string]func() error{
		"session status (JSON)": func() error { _, err := c.SessionStatus(context.Background(), session); return err },
		"UPO (XML)": func() error {
			_, err := c.InvoiceUPO(context.Background(), session, "20251120-EE-20F788B000-589949A428-22")
			return err
		},
		"invoice (XML)": func() error {
			_, err := c.GetInvoice(context.Background(), "5265877635-20251120-0E00E071034B-CF")
			return err
		},
	}
	for name, call := range calls {
		var apiErr *APIError
		if err := call(); !errors.As(err, &apiErr) || apiErr.HTTPStatus != 403 || apiErr.ReasonCode != "missing-permissions" {
			t.Errorf("%s: got %v, want KSeF's 403 missing-permissions", name, err)
		}
	}
}

// TestPartUploadSkipsNullHeaders: open-api.json lets a header of a part's upload request be null
// (PartUploadRequest.headers.additionalProperties is a nullable string). Such a header is not
// sent, rather than sent empty; the others are sent exactly.
func TestPartUploadSkipsNullHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	var req PartUploadRequest
	answer := `{"ordinalNumber": 1, "method": "PUT", "url": "` + srv.URL + `/part1",
		"headers": {"x-ms-blob-type": "BlockBlob", "x-ms-meta-empty": null}}`
	if err := json.Unmarshal([]byte(answer), &req); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "part1.aes")
	if err := os.WriteFile(path, []byte("encrypted part"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := answering(t, answerJSON(500, `{}`))
	status, _, _, err := c.putFile(context.Background(), req, BatchPart{OrdinalNumber: 1, Path: path, FileSize: 14})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("upload: status %d, %v", status, err)
	}
	if v := got.Get("x-ms-blob-type"); v != "BlockBlob" {
		t.Errorf("x-ms-blob-type = %q, want BlockBlob", v)
	}
	if v, sent := got["X-Ms-Meta-Empty"]; sent {
		t.Errorf("the null header was sent as %q", v)
	}
}
