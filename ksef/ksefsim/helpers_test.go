package ksefsim

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

const testNIP = "5265877635"

// clock is an injected, manually advanced time source.
type clock = testutil.Clock

func newClock() *clock { return newClockAt(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)) }

func newClockAt(start time.Time) *clock { return testutil.NewClock(start) }

func startSim(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.CheckResponses = true
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// Some tests send wrong requests on purpose; no test may get a wrong answer.
	t.Cleanup(func() {
		if v := s.Stats().AnswerViolations(); len(v) > 0 {
			t.Errorf("the simulator answered against the spec: %v", v)
		}
	})
	return s
}

type resp struct {
	code   int
	body   []byte
	header http.Header
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

// exceptionCode returns the first exceptionCode of a KSeF 400 body.
func (r resp) exceptionCode(t *testing.T) int {
	t.Helper()
	m := r.json(t)
	ex, _ := m["exception"].(map[string]any)
	list, _ := ex["exceptionDetailList"].([]any)
	if len(list) == 0 {
		t.Fatalf("no exception in %s", r.body)
	}
	return int(list[0].(map[string]any)["exceptionCode"].(float64))
}

func call(t *testing.T, method, url, bearer string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
		ctype = "application/json"
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{code: res.StatusCode, body: data, header: res.Header}
}

// waitJobs blocks until the server's background processing (batches, exports) is done.
func waitJobs(s *Server) { s.jobs.Wait() }

func must(t *testing.T, r resp, code int) resp {
	t.Helper()
	if r.code != code {
		t.Fatalf("HTTP %d, want %d: %s", r.code, code, r.body)
	}
	return r
}

// publicKey fetches the MF key for usage.
func publicKey(t *testing.T, s *Server, usage string) (*rsa.PublicKey, string) {
	t.Helper()
	var list []struct {
		Certificate string   `json:"certificate"`
		PublicKeyID string   `json:"publicKeyId"`
		Usage       []string `json:"usage"`
	}
	r := must(t, call(t, "GET", s.URL()+"/security/public-key-certificates", "", nil), 200)
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	for i := len(list) - 1; i >= 0; i-- {
		c := list[i]
		if c.Usage[0] != usage {
			continue
		}
		der, _ := base64.StdEncoding.DecodeString(c.Certificate)
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert.PublicKey.(*rsa.PublicKey), c.PublicKeyID
	}
	t.Fatalf("no key for %s", usage)
	return nil, ""
}

func oaep(t *testing.T, pub *rsa.PublicKey, msg []byte) string {
	t.Helper()
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

// startAuth runs challenge + ksef-token and returns the auth reference and authentication token.
func startAuth(t *testing.T, s *Server, nip, token string) (string, string) {
	t.Helper()
	ch := must(t, call(t, "POST", s.URL()+"/auth/challenge", "", nil), 200).json(t)
	pub, keyID := publicKey(t, s, usageToken)
	plain := fmt.Sprintf("%s|%d", token, int64(ch["timestampMs"].(float64)))
	body := map[string]any{"challenge": ch["challenge"], "contextIdentifier": map[string]string{"type": "Nip", "value": nip},
		"encryptedToken": oaep(t, pub, []byte(plain)), "publicKeyId": keyID}
	r := must(t, call(t, "POST", s.URL()+"/auth/ksef-token", "", body), 202).json(t)
	return r["referenceNumber"].(string), r["authenticationToken"].(map[string]any)["token"].(string)
}

func login(t *testing.T, s *Server, nip string) (access, refresh string) {
	t.Helper()
	ref, authTok := startAuth(t, s, nip, s.Token(nip))
	st := must(t, call(t, "GET", s.URL()+"/auth/"+ref, authTok, nil), 200).json(t)
	if code := st["status"].(map[string]any)["code"].(float64); code != 200 {
		t.Fatalf("auth status %v", st["status"])
	}
	r := must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 200).json(t)
	return r["accessToken"].(map[string]any)["token"].(string), r["refreshToken"].(map[string]any)["token"].(string)
}

type sessionKey struct{ key, iv []byte }

func newSessionKey(t *testing.T) sessionKey {
	k := sessionKey{key: make([]byte, 32), iv: make([]byte, 16)}
	rand.Read(k.key)
	rand.Read(k.iv)
	return k
}

func (k sessionKey) encryption(t *testing.T, s *Server) map[string]any {
	pub, id := publicKey(t, s, usageSymmetric)
	return map[string]any{"encryptedSymmetricKey": oaep(t, pub, k.key), "initializationVector": base64.StdEncoding.EncodeToString(k.iv), "publicKeyId": id}
}

var fa3 = map[string]string{"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"}

func openOnline(t *testing.T, s *Server, access string) (string, sessionKey) {
	t.Helper()
	k := newSessionKey(t)
	r := must(t, call(t, "POST", s.URL()+"/sessions/online", access, map[string]any{"formCode": fa3, "encryption": k.encryption(t, s)}), 201).json(t)
	return r["referenceNumber"].(string), k
}

func sampleInvoice(t *testing.T, nip, number string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/invoice-template_v3.xml")
	if err != nil {
		t.Fatal(err)
	}
	x := strings.ReplaceAll(string(data), "#nip#", nip)
	x = strings.ReplaceAll(x, "#invoicing_date#", "2026-03-10")
	x = strings.ReplaceAll(x, "#invoice_number#", number)
	return []byte(x)
}

func sendRequest(t *testing.T, k sessionKey, xmlData []byte) map[string]any {
	t.Helper()
	ct, err := aesCBCEncrypt(k.key, k.iv, xmlData)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"invoiceHash": sha256B64(xmlData), "invoiceSize": len(xmlData), "encryptedInvoiceHash": sha256B64(ct),
		"encryptedInvoiceSize": len(ct), "encryptedInvoiceContent": base64.StdEncoding.EncodeToString(ct)}
}

func sendInvoice(t *testing.T, s *Server, access, sess string, k sessionKey, xmlData []byte) string {
	t.Helper()
	r := must(t, call(t, "POST", s.URL()+"/sessions/online/"+sess+"/invoices", access, sendRequest(t, k, xmlData)), 202).json(t)
	return r["referenceNumber"].(string)
}

func invoiceStatus(t *testing.T, s *Server, access, sess, inv string) map[string]any {
	t.Helper()
	return must(t, call(t, "GET", s.URL()+"/sessions/"+sess+"/invoices/"+inv, access, nil), 200).json(t)
}

func statusCode(m map[string]any) int { return int(m["status"].(map[string]any)["code"].(float64)) }

func zipArchive(t *testing.T, files map[string][]byte, order []string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range order {
		f, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(files[name])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarGzArchive(t *testing.T, files map[string][]byte, order []string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range order {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg})
		tw.Write(files[name])
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}
