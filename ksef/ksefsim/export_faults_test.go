package ksefsim

import (
	"testing"
	"time"
)

// exportFaultsEnv is a simulator with 8 received invoices, packages cut at 5, and an export body.
type exportFaultsEnv struct {
	t      *testing.T
	s      *Server
	access string
	body   map[string]any
}

func newExportFaultsEnv(t *testing.T) *exportFaultsEnv {
	c := newClock()
	s := startSim(t, Options{RateLimits: "off", Now: c.Now, ExportTruncateAt: 5})
	access, _ := login(t, s, testNIP)
	base := c.Now().Add(-24 * time.Hour)
	var seeds []SeedInvoice
	for i := range 8 {
		seeds = append(seeds, SeedInvoice{SellerNIP: "1111111111", BuyerNIP: testNIP, PermanentStorageDate: base.Add(time.Duration(i) * time.Minute)})
	}
	if _, err := s.Seed(seeds...); err != nil {
		t.Fatal(err)
	}
	k := newSessionKey(t)
	body := map[string]any{"encryption": k.encryption(t, s), "filters": map[string]any{"subjectType": "Subject2",
		"dateRange": map[string]any{"dateType": "PermanentStorage", "from": base.Add(-time.Hour).Format(time.RFC3339), "restrictToPermanentStorageHwmDate": true}}}
	return &exportFaultsEnv{t: t, s: s, access: access, body: body}
}

func (e *exportFaultsEnv) admin(path string, want int) {
	e.t.Helper()
	must(e.t, call(e.t, "POST", e.s.AdminURL()+path, "", nil), want)
}

// export starts an export for subjectType and returns its final status body.
func (e *exportFaultsEnv) export(subjectType string) map[string]any {
	e.t.Helper()
	e.body["filters"].(map[string]any)["subjectType"] = subjectType
	ref := must(e.t, call(e.t, "POST", e.s.URL()+"/invoices/exports", e.access, e.body), 201).json(e.t)["referenceNumber"].(string)
	waitJobs(e.s)
	return must(e.t, call(e.t, "GET", e.s.URL()+"/invoices/exports/"+ref, e.access, nil), 200).json(e.t)
}

// TestExportLieUntruncated: POST /admin/exports/lie-untruncated?n=1 makes the next package cut at
// the limit say it is complete (isTruncated false, no lastPermanentStorageDate), as production KSeF
// did (CIRFMF/ksef-api #821); the one after is honest again.
func TestExportLieUntruncated(t *testing.T) {
	e := newExportFaultsEnv(t)
	e.admin("/exports/lie-untruncated?n=1", 204)
	st := e.export("Subject2")
	pkg := st["package"].(map[string]any)
	if pkg["invoiceCount"].(float64) != 5 || pkg["isTruncated"] != false || pkg["lastPermanentStorageDate"] != nil {
		t.Errorf("package with the fault: %v; want 5 invoices claiming to be complete", pkg)
	}
	if pkg := e.export("Subject2")["package"].(map[string]any); pkg["isTruncated"] != true || pkg["lastPermanentStorageDate"] == nil {
		t.Errorf("package after the fault: %v; want truncated", pkg)
	}
	e.admin("/exports/lie-untruncated?n=x", 400)
}

// TestExportRefusedSubject: POST /admin/exports/refuse-subject?type=... makes POST /invoices/exports
// answer 400 21181 for those subject types (open-api.json's table for that endpoint), and no type
// allows them again.
func TestExportRefusedSubject(t *testing.T) {
	e := newExportFaultsEnv(t)
	e.admin("/exports/refuse-subject?type=SubjectAuthorized,Subject3", 204)
	for _, st := range []string{"SubjectAuthorized", "Subject3"} {
		e.body["filters"].(map[string]any)["subjectType"] = st
		if code := must(t, call(t, "POST", e.s.URL()+"/invoices/exports", e.access, e.body), 400).exceptionCode(t); code != 21181 {
			t.Errorf("%s: exception %d, want 21181", st, code)
		}
	}
	if c := statusCode(e.export("Subject2")); c != 200 {
		t.Errorf("Subject2 while others are refused: status %d", c)
	}
	e.admin("/exports/refuse-subject", 204)
	if c := statusCode(e.export("SubjectAuthorized")); c != 200 {
		t.Errorf("SubjectAuthorized after the refusal was lifted: status %d", c)
	}
	e.admin("/exports/refuse-subject?type=Subject9", 400)
}

// TestExportFails410: POST /admin/exports/fail?status=410 ends the next export with 410 "Błąd
// walidacji danych wejściowych", a code KSeF sent though its spec does not list it (#245).
func TestExportFails410(t *testing.T) {
	e := newExportFaultsEnv(t)
	e.admin("/exports/fail?status=410&n=1", 204)
	st := e.export("Subject2")
	if s := st["status"].(map[string]any); s["code"].(float64) != 410 || s["description"] != "Błąd walidacji danych wejściowych" {
		t.Errorf("status %v, want 410", s)
	}
	e.admin("/exports/fail?status=411&n=1", 400)
}
