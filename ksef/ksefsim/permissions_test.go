package ksefsim

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

// TestPartialGrantAnswers403MissingPermissions: an office granted InvoiceRead only logs in with
// its certificate in the client's context (one active permission is enough), reads the client's
// invoices, and is refused sessions with 403 problem+json reasonCode missing-permissions naming the
// permissions the operation accepts and the one it holds (open-api.json ForbiddenProblemDetails,
// CIRFMF/ksef-api #833). A grant of InvoiceWrite only is the mirror image; the client's own login
// holds every permission.
func TestPartialGrantAnswers403MissingPermissions(t *testing.T) {
	const office, client = "1111111111", testNIP
	c := newClock()
	s := startSim(t, Options{RateLimits: "off", Now: c.Now})
	if err := s.GrantPermissions(office, client, PermissionInvoiceRead); err != nil {
		t.Fatal(err)
	}
	access := xadesAccess(t, s, testCreds(t, office, c.Now().Add(-time.Hour)), client, c.Now())
	openSession := func(access string) resp {
		body := map[string]any{"formCode": fa3, "encryption": newSessionKey(t).encryption(t, s)}
		return call(t, "POST", s.URL()+"/sessions/online", access, body)
	}
	query := func(access string) resp {
		filter := map[string]any{"subjectType": "Subject2", "dateRange": map[string]any{"dateType": "PermanentStorage",
			"from": c.Now().Add(-time.Hour).Format(time.RFC3339)}}
		return call(t, "POST", s.URL()+"/invoices/query/metadata?pageSize=10&pageOffset=0", access, filter)
	}

	missingPermissions(t, must(t, openSession(access), 403), []string{"InvoiceWrite", "PefInvoiceWrite", "EnforcementOperations"}, []string{"InvoiceRead"})
	must(t, query(access), 200)

	if err := s.GrantPermissions(office, client, PermissionInvoiceWrite); err != nil {
		t.Fatal(err)
	}
	must(t, openSession(access), 201)
	missingPermissions(t, must(t, query(access), 403), []string{"InvoiceRead"}, []string{"InvoiceWrite"})

	own, _ := login(t, s, client)
	must(t, openSession(own), 201)
	must(t, query(own), 200)
}

// missingPermissions checks a 403 against ForbiddenProblemDetails with reasonCode
// missing-permissions and the permissions named.
func missingPermissions(t *testing.T, r resp, required, present []string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var body struct {
		Title, Detail, ReasonCode string
		Status                    int
		Security                  struct{ RequiredAnyOfPermissions, PresentPermissions []string }
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Title != "Forbidden" || body.Status != 403 || body.ReasonCode != "missing-permissions" || body.Detail == "" {
		t.Errorf("403 body %s, want title Forbidden, status 403, reasonCode missing-permissions and a detail", r.body)
	}
	if !slices.Equal(body.Security.RequiredAnyOfPermissions, required) || !slices.Equal(body.Security.PresentPermissions, present) {
		t.Errorf("security %+v, want required %v and present %v", body.Security, required, present)
	}
	if !strings.Contains(string(r.body), `"presentPermissions":[`) {
		t.Errorf("presentPermissions is not a list: %s", r.body)
	}
}

// xadesAccess logs cert in with ctxNIP as the context and returns the access token.
func xadesAccess(t *testing.T, s *Server, creds *xades.Credentials, ctxNIP string, now time.Time) string {
	t.Helper()
	r := must(t, xadesLogin(t, s, creds, ctxNIP, "certificateSubject", now), 202).json(t)
	authTok := r["authenticationToken"].(map[string]any)["token"].(string)
	if st := must(t, call(t, "GET", s.URL()+"/auth/"+r["referenceNumber"].(string), authTok, nil), 200).json(t); statusCode(st) != 200 {
		t.Fatalf("login status %v, want 200", st["status"])
	}
	tokens := must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 200).json(t)
	return tokens["accessToken"].(map[string]any)["token"].(string)
}

// TestGrantSubsets: the -grants flag, Options.Grants and POST /admin/grants take a grant of some
// permissions as CLIENT_NIP:InvoiceRead (a plain CLIENT_NIP is InvoiceWrite and InvoiceRead), and
// refuse a permission a company cannot grant an entity.
func TestGrantSubsets(t *testing.T) {
	const office = "1111111111"
	s := startSim(t, Options{RateLimits: "off", Grants: map[string][]string{office: {"5265877635:InvoiceRead", "3861610227"}}})
	if got := s.Grants()[office]; !slices.Equal(got, []string{"3861610227", "5265877635:InvoiceRead"}) {
		t.Errorf("Options.Grants: %v", got)
	}
	post := func(body string) resp {
		return call(t, "POST", s.AdminURL()+"/grants", "", []byte(body))
	}
	must(t, post(`{"owner": "1111111111", "context": "3861610227", "permissions": ["InvoiceWrite"]}`), 200)
	must(t, post(`{"owner": "1111111111", "context": "5265877635"}`), 200)
	if got := s.Grants()[office]; !slices.Equal(got, []string{"3861610227:InvoiceWrite", "5265877635"}) {
		t.Errorf("after POST /admin/grants: %v", got)
	}
	must(t, post(`{"owner": "1111111111", "context": "5265877635", "permissions": ["CredentialsManage"]}`), 400)
	if _, err := New(Options{Grants: map[string][]string{office: {"5265877635:"}}}); err == nil {
		t.Error("Options.Grants with an empty permission list accepted")
	}
	stopped, stop := context.WithCancel(context.Background())
	stop() // a simulator that wrongly starts stops at once
	for _, bad := range []string{"1111111111:5265877635:Invoices", "1111111111:5265877635:"} {
		var errb strings.Builder
		args := []string{"-addr", "127.0.0.1:0", "-grants", bad}
		if code := RunCLI(stopped, args, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), "permission") {
			t.Errorf("-grants %s: exit %d, %q; want a usage error about the permission", bad, code, errb.String())
		}
	}
}
