package ksefsim

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
)

func TestSpecViolationIsFlaggedAndCounted(t *testing.T) {
	s := startSim(t, Options{RateLimits: "off"})
	access, _ := login(t, s, testNIP)
	k := newSessionKey(t)
	tests := []struct {
		name, path string
		body       map[string]any
	}{
		{"wrong formCode shape", "/sessions/online", map[string]any{"formCode": map[string]any{"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": 7}, "encryption": k.encryption(t, s)}},
		{"missing invoiceHash", "/sessions/online/20260310-SO-0000000000-0000000000-00/invoices", func() map[string]any {
			m := sendRequest(t, k, []byte("<x/>"))
			delete(m, "invoiceHash")
			return m
		}()},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := must(t, call(t, "POST", s.URL()+tc.path, access, tc.body), 400)
			if got := r.exceptionCode(t); got != 21405 {
				t.Errorf("exceptionCode = %d, want 21405", got)
			}
			st := s.Stats()
			if st.SpecViolations != i+1 {
				t.Errorf("SpecViolations = %d, want %d", st.SpecViolations, i+1)
			}
			if last := st.SpecViolationDetails[len(st.SpecViolationDetails)-1]; !strings.Contains(last, tc.path) {
				t.Errorf("detail %q does not name the path", last)
			}
		})
	}
}

func TestTokenAuthFlow(t *testing.T) {
	c := newClock()
	s := startSim(t, Options{RateLimits: "off", Now: c.Now, ProcessingDelay: time.Second})
	ref, authTok := startAuth(t, s, testNIP, s.Token(testNIP))
	if got := statusCode(must(t, call(t, "GET", s.URL()+"/auth/"+ref, authTok, nil), 200).json(t)); got != 100 {
		t.Fatalf("auth status before delay = %d, want 100", got)
	}
	if code := must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 400).exceptionCode(t); code != 21301 {
		t.Fatalf("redeem while in progress: %d, want 21301", code)
	}
	c.Advance(time.Second)
	st := must(t, call(t, "GET", s.URL()+"/auth/"+ref, authTok, nil), 200).json(t)
	if statusCode(st) != 200 || st["authenticationMethodInfo"].(map[string]any)["category"] != "Token" {
		t.Fatalf("auth status = %v", st)
	}
	r := must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 200).json(t)
	access := r["accessToken"].(map[string]any)["token"].(string)
	refresh := r["refreshToken"].(map[string]any)["token"].(string)
	// Redeem is one-shot.
	if code := must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 400).exceptionCode(t); code != 21301 {
		t.Fatalf("second redeem: %d, want 21301", code)
	}
	if st := must(t, call(t, "GET", s.URL()+"/auth/"+ref, authTok, nil), 200).json(t); st["isTokenRedeemed"] != true {
		t.Errorf("isTokenRedeemed not reported: %v", st)
	}
	must(t, call(t, "GET", s.URL()+"/limits/context", access, nil), 200)
	c.Advance(16 * time.Minute)
	must(t, call(t, "GET", s.URL()+"/limits/context", access, nil), 401)
	r = must(t, call(t, "POST", s.URL()+"/auth/token/refresh", refresh, nil), 200).json(t)
	access2 := r["accessToken"].(map[string]any)["token"].(string)
	must(t, call(t, "GET", s.URL()+"/limits/context", access2, nil), 200)
	t.Run("revoke kills the refresh token, not the access token", func(t *testing.T) {
		authRef, authTok := startAuth(t, s, testNIP, s.Token(testNIP))
		c.Advance(time.Second)
		r := must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 200).json(t)
		acc, ref := r["accessToken"].(map[string]any)["token"].(string), r["refreshToken"].(map[string]any)["token"].(string)
		must(t, call(t, "DELETE", s.URL()+"/auth/sessions/current", acc, nil), 204)
		// CIRFMF/ksef-api #524: 400 21301, not 401; the login shows 425 "Uwierzytelnienie unieważnione".
		if code := must(t, call(t, "POST", s.URL()+"/auth/token/refresh", ref, nil), 400).exceptionCode(t); code != 21301 {
			t.Fatalf("refresh after revoke: code %d, want 21301", code)
		}
		must(t, call(t, "GET", s.URL()+"/limits/context", acc, nil), 200)
		if st := must(t, call(t, "GET", s.URL()+"/auth/"+authRef, acc, nil), 200).json(t); statusCode(st) != 425 {
			t.Fatalf("auth status after revoke = %v, want 425", st)
		}
	})

	t.Run("wrong timestamp gives 450", func(t *testing.T) {
		ch := must(t, call(t, "POST", s.URL()+"/auth/challenge", "", nil), 200).json(t)
		pub, id := publicKey(t, s, usageToken)
		body := map[string]any{"challenge": ch["challenge"], "contextIdentifier": map[string]string{"type": "Nip", "value": testNIP},
			"encryptedToken": oaep(t, pub, []byte(s.Token(testNIP)+"|123")), "publicKeyId": id}
		r := must(t, call(t, "POST", s.URL()+"/auth/ksef-token", "", body), 202).json(t)
		c.Advance(time.Second)
		st := must(t, call(t, "GET", s.URL()+"/auth/"+r["referenceNumber"].(string), r["authenticationToken"].(map[string]any)["token"].(string), nil), 200).json(t)
		if got := statusCode(st); got != 450 {
			t.Fatalf("status %d, want 450", got)
		}
	})
	t.Run("stale challenge gives 21111", func(t *testing.T) {
		ch := must(t, call(t, "POST", s.URL()+"/auth/challenge", "", nil), 200).json(t)
		c.Advance(11 * time.Minute)
		pub, id := publicKey(t, s, usageToken)
		body := map[string]any{"challenge": ch["challenge"], "contextIdentifier": map[string]string{"type": "Nip", "value": testNIP},
			"encryptedToken": oaep(t, pub, fmt.Appendf(nil, "%s|%d", s.Token(testNIP), int64(ch["timestampMs"].(float64)))), "publicKeyId": id}
		if code := must(t, call(t, "POST", s.URL()+"/auth/ksef-token", "", body), 400).exceptionCode(t); code != 21111 {
			t.Fatalf("code %d, want 21111", code)
		}
	})
	t.Run("emergency rotation gives 21470", func(t *testing.T) {
		_, oldID := publicKey(t, s, usageSymmetric)
		s.RotateKeys(true)
		k := newSessionKey(t)
		enc := k.encryption(t, s)
		enc["publicKeyId"] = oldID
		if code := must(t, call(t, "POST", s.URL()+"/sessions/online", access2, map[string]any{"formCode": fa3, "encryption": enc}), 400).exceptionCode(t); code != 21470 {
			t.Fatalf("code %d, want 21470", code)
		}
	})
}

func TestOnlineInvoiceAcceptedAndDuplicate(t *testing.T) {
	c, s, access, sess, k := startOnline(t)
	xmlData := sampleInvoice(t, testNIP, "0001")
	inv := sendInvoice(t, s, access, sess, k, xmlData)
	if got := statusCode(invoiceStatus(t, s, access, sess, inv)); got != 100 {
		t.Fatalf("fresh invoice status %d, want 100", got)
	}
	c.Advance(time.Second)
	if got := statusCode(invoiceStatus(t, s, access, sess, inv)); got != 150 {
		t.Fatalf("invoice status %d, want 150", got)
	}
	c.Advance(time.Second)
	st := invoiceStatus(t, s, access, sess, inv)
	if statusCode(st) != 200 {
		t.Fatalf("invoice status %v", st)
	}
	ksef := st["ksefNumber"].(string)
	if !validKsefNumber(ksef) || !strings.HasPrefix(ksef, testNIP+"-20260310-") {
		t.Fatalf("bad KSeF number %q", ksef)
	}
	if _, ok := st["permanentStorageDate"]; ok {
		t.Errorf("permanentStorageDate visible before it happened")
	}
	// numbered but not stored yet: not served by number (open-api.json, 21165 "Spróbuj ponownie później")
	byNumber := s.URL() + "/invoices/ksef/" + ksef
	if code := must(t, call(t, "GET", byNumber, access, nil), 400).exceptionCode(t); code != 21165 {
		t.Errorf("download before permanent storage: code %d, want 21165", code)
	}
	c.Advance(time.Second)
	st = invoiceStatus(t, s, access, sess, inv)
	if got := must(t, call(t, "GET", byNumber, access, nil), 200).body; !bytes.Equal(got, xmlData) {
		t.Errorf("download once stored: %d bytes, want the %d sent", len(got), len(xmlData))
	}
	acq, _ := time.Parse(time.RFC3339, st["acquisitionDate"].(string))
	ps, _ := time.Parse(time.RFC3339, st["permanentStorageDate"].(string))
	if !ps.After(acq) {
		t.Errorf("permanentStorageDate %v not after acquisitionDate %v", ps, acq)
	}
	upo := must(t, call(t, "GET", st["upoDownloadUrl"].(string), "", nil), 200)
	if upo.header.Get("x-ms-meta-hash") != sha256B64(upo.body) || !strings.Contains(string(upo.body), ksef) || !strings.Contains(string(upo.body), "http://upo.schematy.mf.gov.pl/KSeF/v4-3") {
		t.Errorf("bad UPO: %s", upo.body)
	}

	// Same (NIP, RodzajFaktury, P_2) again → 440 with the original's numbers.
	dup := sendInvoice(t, s, access, sess, k, xmlData)
	c.Advance(2 * time.Second)
	st = invoiceStatus(t, s, access, sess, dup)
	ext, _ := st["status"].(map[string]any)["extensions"].(map[string]any)
	if statusCode(st) != 440 || ext["originalKsefNumber"] != ksef || ext["originalSessionReferenceNumber"] != sess {
		t.Fatalf("duplicate status %v", st["status"])
	}
	// A seller NIP other than the context's → 410 with production's detail (CIRFMF/ksef-api #826).
	bad := sendInvoice(t, s, access, sess, k, sampleInvoice(t, "3861610227", "0002"))
	c.Advance(2 * time.Second)
	st = invoiceStatus(t, s, access, sess, bad)
	want := "Kontekst " + testNIP + " nie jest uprawniony do wystawienia faktury w imieniu sprzedawcy (NIP: 3861610227)"
	if details := fmt.Sprint(st["status"].(map[string]any)["details"]); statusCode(st) != 410 || details != "["+want+"]" {
		t.Fatalf("foreign seller: %v, want 410 with %q", st["status"], want)
	}
	stats := s.Stats()
	if stats.Duplicates440 != 1 || stats.DuplicateSubmissions != 1 || len(stats.Accepted) != 1 || stats.Accepted[0].KsefNumber != ksef {
		t.Errorf("stats = %+v", stats)
	}

	must(t, call(t, "POST", s.URL()+"/sessions/online/"+sess+"/close", access, nil), 204)
	if code := must(t, call(t, "POST", s.URL()+"/sessions/online/"+sess+"/invoices", access, sendRequest(t, k, xmlData)), 400).exceptionCode(t); code != 21180 {
		t.Fatalf("send to closed session: %d, want 21180", code)
	}
	ss := must(t, call(t, "GET", s.URL()+"/sessions/"+sess, access, nil), 200).json(t)
	if statusCode(ss) != 170 {
		t.Fatalf("closed session status %v", ss["status"])
	}
	c.Advance(time.Second)
	ss = must(t, call(t, "GET", s.URL()+"/sessions/"+sess, access, nil), 200).json(t)
	pages := ss["upo"].(map[string]any)["pages"].([]any)
	if statusCode(ss) != 200 || len(pages) != 1 {
		t.Fatalf("session status %v", ss)
	}
	page := must(t, call(t, "GET", pages[0].(map[string]any)["downloadUrl"].(string), "", nil), 200)
	if !strings.Contains(string(page.body), "<CalkowitaLiczbaDokumentow>1</CalkowitaLiczbaDokumentow>") {
		t.Errorf("session UPO: %s", page.body)
	}
	// Expired pre-signed URL → 403.
	c.Advance(73 * time.Hour)
	must(t, call(t, "GET", pages[0].(map[string]any)["downloadUrl"].(string), "", nil), 403)
}

// startOnline starts a simulator on a manual clock that takes a second to process, logs the test
// NIP in and opens an online session: the start of the tests that follow one invoice's status.
func startOnline(t *testing.T) (c *clock, s *Server, access, sess string, k sessionKey) {
	t.Helper()
	c = newClock()
	s = startSim(t, Options{RateLimits: "off", Now: c.Now, ProcessingDelay: time.Second})
	c.Advance(time.Second) // let the auth op finish
	access, _ = login2(t, s, c)
	sess, k = openOnline(t, s, access)
	return c, s, access, sess, k
}

// login2 logs in when the server has a processing delay: the clock is advanced past it.
func login2(t *testing.T, s *Server, c *clock) (string, string) {
	t.Helper()
	ref, authTok := startAuth(t, s, testNIP, s.Token(testNIP))
	c.Advance(s.opts.ProcessingDelay)
	_ = ref
	r := must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 200).json(t)
	return r["accessToken"].(map[string]any)["token"].(string), r["refreshToken"].(map[string]any)["token"].(string)
}

func TestBatchThreePartsZipAndTarGz(t *testing.T) {
	for _, comp := range []string{"Zip", "TarGz"} {
		t.Run(comp, func(t *testing.T) {
			s := startSim(t, Options{RateLimits: "off"})
			access, _ := login(t, s, testNIP)
			files := map[string][]byte{}
			var order []string
			for i := range 30 {
				name := fmt.Sprintf("faktura_%d.xml", i+1)
				files[name] = sampleInvoice(t, testNIP, fmt.Sprintf("B%s%04d", comp, i))
				order = append(order, name)
			}
			files["faktura_bad.xml"] = []byte("<Faktura>not closed")
			order = append(order, "faktura_bad.xml")
			archive := zipArchive(t, files, order)
			if comp == "TarGz" {
				archive = tarGzArchive(t, files, order)
			}
			k := newSessionKey(t)
			third := len(archive)/3 + 1
			var parts [][]byte
			var decl []map[string]any
			for i := 0; i < 3; i++ {
				pt := archive[i*third : min((i+1)*third, len(archive))]
				ct, _ := aesCBCEncrypt(k.key, k.iv, pt)
				parts = append(parts, ct)
				decl = append(decl, map[string]any{"ordinalNumber": i + 1, "fileSize": len(ct), "fileHash": sha256B64(ct)})
			}
			body := map[string]any{"formCode": fa3, "encryption": k.encryption(t, s),
				"batchFile": map[string]any{"fileSize": len(archive), "fileHash": sha256B64(archive), "compressionType": comp, "fileParts": decl}}
			open := must(t, call(t, "POST", s.URL()+"/sessions/batch", access, body), 201).json(t)
			ref := open["referenceNumber"].(string)
			ups := open["partUploadRequests"].([]any)
			// Closing before all parts are uploaded → 21205.
			for i, u := range ups[:2] {
				um := u.(map[string]any)
				must(t, call(t, um["method"].(string), um["url"].(string), "", parts[i], "x-ms-blob-type", "BlockBlob"), 201)
			}
			if code := must(t, call(t, "POST", s.URL()+"/sessions/batch/"+ref+"/close", access, nil), 400).exceptionCode(t); code != 21205 {
				t.Fatalf("close with a missing part: %d, want 21205", code)
			}
			last := ups[2].(map[string]any)
			must(t, call(t, "PUT", last["url"].(string), access, parts[2], "x-ms-blob-type", "BlockBlob"), 400) // bearer must not go to storage
			must(t, call(t, "PUT", last["url"].(string), "", parts[2], "x-ms-blob-type", "BlockBlob"), 201)
			must(t, call(t, "POST", s.URL()+"/sessions/batch/"+ref+"/close", access, nil), 204)
			waitSession(t, s, access, ref)
			var got []map[string]any
			tok := ""
			for {
				var h []string
				if tok != "" {
					h = []string{"x-continuation-token", tok}
				}
				r := must(t, call(t, "GET", s.URL()+"/sessions/"+ref+"/invoices?pageSize=10", access, nil, h...), 200).json(t)
				for _, it := range r["invoices"].([]any) {
					got = append(got, it.(map[string]any))
				}
				next, _ := r["continuationToken"].(string)
				if next == "" {
					break
				}
				tok = next
			}
			if len(got) != 31 {
				t.Fatalf("listed %d invoices, want 31", len(got))
			}
			ok := 0
			for _, it := range got {
				if statusCode(it) == 200 && validKsefNumber(it["ksefNumber"].(string)) {
					ok++
				} else if it["invoiceFileName"] != "faktura_bad.xml" || statusCode(it) != 430 {
					t.Errorf("unexpected result %v", it)
				}
			}
			if ok != 30 {
				t.Errorf("accepted %d, want 30", ok)
			}
			failed := must(t, call(t, "GET", s.URL()+"/sessions/"+ref+"/invoices/failed?pageSize=10", access, nil), 200).json(t)
			if n := len(failed["invoices"].([]any)); n != 1 {
				t.Errorf("failed list has %d, want 1", n)
			}
			must(t, call(t, "GET", s.URL()+"/sessions/"+ref+"/invoices", access, nil, "x-continuation-token", "garbage"), 400)
			if s.Stats().SpecViolations != 1 {
				t.Errorf("upload with Authorization not counted as violation")
			}
		})
	}
}

// TestContinuationTokenOfAnotherListIsRefused: an x-continuation-token continues only the list
// that gave it; the session list and a session's invoice list refuse each other's with 21418.
func TestContinuationTokenOfAnotherListIsRefused(t *testing.T) {
	_, s, access, sess, _ := startOnline(t)
	for url, token := range map[string]string{
		s.URL() + "/sessions?sessionType=Online":    encodeContinuation(1, sess),
		s.URL() + "/sessions/" + sess + "/invoices": encodeContinuation(1, "sessions:Online"),
	} {
		r := must(t, call(t, "GET", url, access, nil, "x-continuation-token", token), 400)
		if code := r.exceptionCode(t); code != 21418 {
			t.Errorf("GET %s with another list's token: exception %d, want 21418", url, code)
		}
	}
}

// waitSession waits for the server's processing to finish and returns the final session status.
func waitSession(t *testing.T, s *Server, access, ref string) map[string]any {
	t.Helper()
	waitJobs(s)
	ss := must(t, call(t, "GET", s.URL()+"/sessions/"+ref, access, nil), 200).json(t)
	if c := statusCode(ss); c != 200 {
		t.Fatalf("session status %v, want 200", ss["status"])
	}
	return ss
}

func TestExportTruncation(t *testing.T) {
	c := newClock()
	s := startSim(t, Options{RateLimits: "off", Now: c.Now, ExportTruncateAt: 5, ExportPartSize: 700})
	access, _ := login(t, s, testNIP)
	base := c.Now().Add(-24 * time.Hour)
	var seeds []SeedInvoice
	for i := range 8 {
		seeds = append(seeds, SeedInvoice{SellerNIP: "1111111111", BuyerNIP: testNIP, PermanentStorageDate: base.Add(time.Duration(i) * time.Minute)})
	}
	seeded, err := s.Seed(seeds...)
	if err != nil {
		t.Fatal(err)
	}
	k := newSessionKey(t)
	body := map[string]any{"encryption": k.encryption(t, s), "filters": map[string]any{"subjectType": "Subject2",
		"dateRange": map[string]any{"dateType": "PermanentStorage", "from": base.Add(-time.Hour).Format(time.RFC3339), "restrictToPermanentStorageHwmDate": true}}}
	ref := must(t, call(t, "POST", s.URL()+"/invoices/exports", access, body), 201).json(t)["referenceNumber"].(string)
	waitJobs(s)
	st := must(t, call(t, "GET", s.URL()+"/invoices/exports/"+ref, access, nil), 200).json(t)
	if statusCode(st) != 200 {
		t.Fatalf("export status %v", st)
	}
	pkg := st["package"].(map[string]any)
	if pkg["invoiceCount"].(float64) != 5 || pkg["isTruncated"] != true {
		t.Fatalf("package %v", pkg)
	}
	wantLast := fmtTime(seeds[4].PermanentStorageDate)
	if pkg["lastPermanentStorageDate"] != wantLast {
		t.Errorf("lastPermanentStorageDate = %v, want %v", pkg["lastPermanentStorageDate"], wantLast)
	}
	parts := pkg["parts"].([]any)
	if len(parts) < 2 {
		t.Fatalf("expected several parts with ExportPartSize 700, got %d", len(parts))
	}
	var archive []byte
	for _, p := range parts {
		pm := p.(map[string]any)
		r := must(t, call(t, "GET", pm["url"].(string), "", nil), 200)
		if r.header.Get("x-ms-meta-hash") != pm["encryptedPartHash"] {
			t.Errorf("x-ms-meta-hash mismatch")
		}
		pt, err := aesCBCDecrypt(k.key, k.iv, r.body)
		if err != nil || sha256B64(pt) != pm["partHash"] {
			t.Fatalf("part %v: %v", pm["ordinalNumber"], err)
		}
		archive = append(archive, pt...)
	}
	entries, err := readArchive(archive, "Zip")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.name)
	}
	want := []string{}
	for _, si := range seeded[:5] {
		want = append(want, si.KsefNumber+".xml")
	}
	want = append(want, "_metadata.json")
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("entries %v, want %v", names, want)
	}

	// From beyond the HWM with the restrict flag → 420.
	body["filters"].(map[string]any)["dateRange"].(map[string]any)["from"] = c.Now().Add(-time.Minute).Format(time.RFC3339)
	ref = must(t, call(t, "POST", s.URL()+"/invoices/exports", access, body), 201).json(t)["referenceNumber"].(string)
	if got := statusCode(must(t, call(t, "GET", s.URL()+"/invoices/exports/"+ref, access, nil), 200).json(t)); got != 420 {
		t.Errorf("export beyond HWM: %d, want 420", got)
	}
	q := map[string]any{"subjectType": "Subject2", "dateRange": map[string]any{"dateType": "PermanentStorage", "from": c.Now().Add(-time.Minute).Format(time.RFC3339), "restrictToPermanentStorageHwmDate": true}}
	if code := must(t, call(t, "POST", s.URL()+"/invoices/query/metadata", access, q), 400).exceptionCode(t); code != 21183 {
		t.Errorf("query beyond HWM: %d, want 21183", code)
	}
}

func TestRateLimit429WithRetryAfter(t *testing.T) {
	f := newListingSim(t, Options{}) // ratelimit_block_test.go
	s, c, list := f.s, f.c, func() resp { return f.list(t) }
	for i := range 5 { // sessionList: 5/s, 10/min
		must(t, list(), 200)
		_ = i
	}
	r := must(t, list(), 429)
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	c.Advance(time.Second)
	for range 5 {
		must(t, list(), 200)
	}
	c.Advance(10 * time.Second)
	r = must(t, list(), 429)
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	// The oldest of the 10 requests in the minute window was made 11 s ago.
	if err != nil || secs != 49 {
		t.Errorf("Retry-After = %q, want 49", r.header.Get("Retry-After"))
	}
	if s.Stats().RateLimited != 2 {
		t.Errorf("RateLimited = %d, want 2", s.Stats().RateLimited)
	}
	c.Advance(49 * time.Second)
	must(t, list(), 200)
}

// TestSpecStatesEveryGroupsLimits: the simulator takes §9 from the spec alone, so the spec must
// state the limits of every group GET /rate-limits reports and of the per-IP auth group, the same
// on every operation of a group, and they must be the client's production table.
func TestSpecStatesEveryGroupsLimits(t *testing.T) {
	sb, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	limits := specLimits()
	for _, g := range append([]string{"auth"}, apiGroups...) {
		if l, ok := limits[g]; !ok || l.PerSecond <= 0 {
			t.Errorf("the spec states no limits for group %s", g)
		}
	}
	client := ksef.ProductionLimits()
	if len(limits) != len(client) {
		t.Errorf("the spec has %d groups, the client's table %d", len(limits), len(client))
	}
	for g, want := range client {
		if got := limits[g]; got != rateLimit(want) {
			t.Errorf("group %s: spec %+v, client %+v", g, got, want)
		}
	}
	for tmpl, item := range sb.doc.Paths.Map() {
		for method, op := range item.Operations() {
			raw, ok := op.Extensions["x-rate-limits"].(map[string]any)
			if g := rateGroup(method, tmpl); ok && g != "other" && limitOf(raw) != limits[g] {
				t.Errorf("%s %s states %+v, its group %s %+v", method, tmpl, limitOf(raw), g, limits[g])
			}
		}
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	opts := Options{RateLimits: "off", StateDir: dir}
	s1, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	token := s1.Token(testNIP)
	access, _ := login(t, s1, testNIP)
	sess, k := openOnline(t, s1, access)
	xmlData := sampleInvoice(t, testNIP, "P1")
	inv := sendInvoice(t, s1, access, sess, k, xmlData)
	ksef := invoiceStatus(t, s1, access, sess, inv)["ksefNumber"].(string)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := startSim(t, opts)
	if got := s2.Token(testNIP); got != token {
		t.Fatalf("token not persisted")
	}
	access2, _ := login(t, s2, testNIP)
	got := must(t, call(t, "GET", s2.URL()+"/invoices/ksef/"+ksef, access2, nil), 200)
	if string(got.body) != string(xmlData) {
		t.Errorf("invoice content changed across restart")
	}
	st := invoiceStatus(t, s2, access2, sess, inv)
	if st["ksefNumber"] != ksef {
		t.Errorf("invoice status after restart: %v", st)
	}
	// The duplicate index survives too.
	sess2, k2 := openOnline(t, s2, access2)
	dup := sendInvoice(t, s2, access2, sess2, k2, xmlData)
	if got := statusCode(invoiceStatus(t, s2, access2, sess2, dup)); got != 440 {
		t.Errorf("duplicate after restart: %d, want 440", got)
	}
	if n := len(s2.Stats().Accepted); n != 1 {
		t.Errorf("Accepted after restart = %d, want 1", n)
	}
}

func TestFaultOutage(t *testing.T) {
	s := startSim(t, Options{RateLimits: "off"})
	s.SetFaults(Faults{Outage: true})
	must(t, call(t, "POST", s.URL()+"/auth/challenge", "", nil), 503)
	must(t, call(t, "GET", s.AdminURL()+"/stats", "", nil), 200)
	must(t, call(t, "POST", s.AdminURL()+"/faults", "", map[string]any{}), 204)
	must(t, call(t, "POST", s.URL()+"/auth/challenge", "", nil), 200)
	s.SetFaults(Faults{ErrorRate: 1, OnlyPaths: []string{"/auth/challenge"}})
	if r := call(t, "POST", s.URL()+"/auth/challenge", "", nil); r.code < 500 {
		t.Errorf("error fault: HTTP %d", r.code)
	}
	must(t, call(t, "GET", s.URL()+"/security/public-key-certificates", "", nil), 200)
}

// TestKsefNumberCRC checks the simulator's checksum against the KSeF numbers the spec and the
// protocol notes quote, and against the client's own (ksef.KsefNumberCRC), written the other way.
func TestKsefNumberCRC(t *testing.T) {
	quoted := regexp.MustCompile(`\b\d{10}-\d{8}-[0-9A-F]{12}-[0-9A-F]{2}\b`).FindAllString(string(specJSON), -1)
	if len(quoted) == 0 {
		t.Fatal("open-api.json quotes no KSeF number")
	}
	for _, n := range append(quoted, "5265877635-20250826-0100001AF629-AF", "5265877635-20250626-010080DD2B5E-26", "5555555555-20250828-010080615740-E4") {
		if !validKsefNumber(n) {
			t.Errorf("%s should be valid", n)
		}
	}
	n := newKsefNumber(testNIP, time.Now())
	if !validKsefNumber(n) {
		t.Errorf("generated %s invalid", n)
	}
	for _, s := range []string{"", n[:32], "5265877635-20250826-0100001AF629"} {
		if got, client := checksum(s), ksef.KsefNumberCRC(s); got != client {
			t.Errorf("checksum(%q) = %s, the client's = %s", s, got, client)
		}
	}
	for b := range 256 {
		s := string([]byte{byte(b)})
		if got, client := checksum(s), ksef.KsefNumberCRC(s); got != client {
			t.Errorf("checksum(%q) = %s, the client's = %s", s, got, client)
		}
	}
	_ = base64.StdEncoding
}

// TestSendInvoiceChecksDeclaredSizesAndHashes: an online invoice whose encrypted size or SHA-256
// is not what the request declares is refused with 21402 (size) or 21403 (hash), as open-api.json
// says of the content sent.
func TestSendInvoiceChecksDeclaredSizesAndHashes(t *testing.T) {
	_, s, access, sess, k := startOnline(t)
	for field, want := range map[string]int{"encryptedInvoiceSize": 21402, "encryptedInvoiceHash": 21403} {
		body := sendRequest(t, k, sampleInvoice(t, testNIP, "DECL-"+field))
		if strings.HasSuffix(field, "Size") {
			body[field] = body[field].(int) + 1
		} else {
			body[field] = sha256B64([]byte("something else"))
		}
		r := call(t, "POST", s.URL()+"/sessions/online/"+sess+"/invoices", access, body)
		if code := must(t, r, 400).exceptionCode(t); code != want {
			t.Errorf("wrong %s: exception %d, want %d", field, code, want)
		}
	}
}

// TestWrongPlainSizeOrHashIsInvoiceStatus430: the invoiceSize or invoiceHash of the invoice before
// encryption is checked after the send is taken (202): the invoice ends with 430 "Błąd weryfikacji
// pliku faktury" and production's detail naming the declared size (CIRFMF/ksef-api #128).
func TestWrongPlainSizeOrHashIsInvoiceStatus430(t *testing.T) {
	c, s, access, sess, k := startOnline(t)
	for field, detail := range map[string]string{
		"invoiceSize": "Rozmiar przesłanego pliku faktury nie zgadza się z zadeklarowaną wartością: %d.",
		"invoiceHash": "Skrót przesłanego pliku faktury nie zgadza się z zadeklarowaną wartością: %s.",
	} {
		body := sendRequest(t, k, sampleInvoice(t, testNIP, "PLAIN-"+field))
		if field == "invoiceSize" {
			body[field] = body[field].(int) + 1
		} else {
			body[field] = sha256B64([]byte("something else"))
		}
		r := must(t, call(t, "POST", s.URL()+"/sessions/online/"+sess+"/invoices", access, body), 202).json(t)
		c.Advance(time.Minute)
		st := invoiceStatus(t, s, access, sess, r["referenceNumber"].(string))["status"].(map[string]any)
		want := fmt.Sprintf(detail, body[field])
		if st["code"] != float64(430) || st["description"] != "Błąd weryfikacji pliku faktury" || fmt.Sprint(st["details"]) != "["+want+"]" {
			t.Errorf("wrong %s: status %v, want 430 with %q", field, st, want)
		}
	}
	if n := len(s.Stats().Accepted); n != 0 {
		t.Errorf("%d invoices accepted, want none", n)
	}
}
