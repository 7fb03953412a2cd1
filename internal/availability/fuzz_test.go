package availability

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
)

type bodyTransport struct{ body []byte }

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b.body)), Request: r}, nil
}

// FuzzStatusAnswer: whatever the status service sends, the client returns a valid status or an
// error, never a panic.
func FuzzStatusAnswer(f *testing.F) {
	for _, s := range []string{
		`{"status":"AVAILABLE","messages":[]}`,
		`{"status":"FAILURE","messages":[{"id":1,"eventId":"2","title":"t","text":"x","start":"2026-12-02T10:00:00Z","end":null,"version":3,"published":"bad"}]}`,
		`<html>`, `[]`, `{"status":null}`, `{"messages":[{"id":{}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c := NewClient("http://latarnia", &http.Client{Transport: bodyTransport{body}})
		r, err := c.Status(context.Background())
		if err == nil && !r.Status.Valid() {
			t.Fatalf("accepted status %q", r.Status)
		}
		_, _ = c.Messages(context.Background())
	})
}
