package ksef

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// UPONamespace is the namespace of KSeF's UPO (upo-v4-3.xsd). Later v4 minor versions share the prefix.
const UPONamespace = "http://upo.schematy.mf.gov.pl/KSeF/v4-3"

const upoNamespacePrefix = "http://upo.schematy.mf.gov.pl/KSeF/v4-"

// CheckUPO reports whether body is a UPO: well-formed XML whose root is the UPO namespace's
// Potwierdzenie and, when ksefNumber is given, which names that KSeF number. Storage sometimes answers
// with an HTML challenge page (CIRFMF/ksef-api #852): such a body must never be saved as a UPO. The
// error is an *UnavailableError, so callers treat it as transient and retry.
func CheckUPO(body []byte, ksefNumber string) error {
	notUPO := func(why string) error {
		return &UnavailableError{HTTPStatus: http.StatusOK, ContentType: "not a UPO: " + why, Excerpt: excerpt(body)}
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	rootSeen, named := false, ksefNumber == ""
	inNumber := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return notUPO("not well-formed XML")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !rootSeen {
				rootSeen = true
				if t.Name.Local != "Potwierdzenie" || !strings.HasPrefix(t.Name.Space, upoNamespacePrefix) {
					return notUPO("root is not {" + UPONamespace + "}Potwierdzenie")
				}
			}
			inNumber = t.Name.Local == "NumerKSeFDokumentu"
		case xml.CharData:
			if inNumber && strings.TrimSpace(string(t)) == ksefNumber {
				named = true
			}
		case xml.EndElement:
			inNumber = false
		}
	}
	switch {
	case !rootSeen:
		return notUPO("empty")
	case !named:
		return notUPO("does not name " + ksefNumber)
	}
	return nil
}

// upoCheck validates a downloaded UPO: the x-ms-meta-hash header when present, then its content.
func upoCheck(ksefNumber string) func(http.Header, []byte) error {
	return func(hdr http.Header, body []byte) error {
		if err := checkMetaHash(hdr, body); err != nil {
			return err
		}
		return CheckUPO(body, ksefNumber)
	}
}

// DownloadUPO fetches a UPO from a pre-signed storage URL (no token, no pacing), verifies the
// x-ms-meta-hash header when present and that the body is a UPO; anything else is retried and never
// returned. Prefer DownloadInvoiceUPO, which also checks the KSeF number.
func (c *Client) DownloadUPO(ctx context.Context, url string) ([]byte, error) {
	return c.DownloadInvoiceUPO(ctx, url, "")
}

// DownloadInvoiceUPO is DownloadUPO that also requires the UPO to name ksefNumber.
func (c *Client) DownloadInvoiceUPO(ctx context.Context, url, ksefNumber string) ([]byte, error) {
	var body []byte
	if err := c.do(ctx, call{method: http.MethodGet, rawURL: url, raw: &body, check: upoCheck(ksefNumber)}); err != nil {
		return nil, fmt.Errorf("download UPO: %w", err)
	}
	return body, nil
}

// InvoiceUPO fetches the UPO of one invoice by its reference number.
func (c *Client) InvoiceUPO(ctx context.Context, sessionRef, invoiceRef string) ([]byte, error) {
	return c.getUPO(ctx, "/sessions/"+pathEscape(sessionRef)+"/invoices/"+pathEscape(invoiceRef)+"/upo", "")
}

// InvoiceUPOByKsefNumber fetches the UPO of one invoice by its KSeF number.
func (c *Client) InvoiceUPOByKsefNumber(ctx context.Context, sessionRef, ksefNumber string) ([]byte, error) {
	return c.getUPO(ctx, "/sessions/"+pathEscape(sessionRef)+"/invoices/ksef/"+pathEscape(ksefNumber)+"/upo", ksefNumber)
}

// SessionUPO fetches one collective UPO page of a session.
func (c *Client) SessionUPO(ctx context.Context, sessionRef, upoRef string) ([]byte, error) {
	return c.getUPO(ctx, "/sessions/"+pathEscape(sessionRef)+"/upo/"+pathEscape(upoRef), "")
}

func (c *Client) getUPO(ctx context.Context, path, ksefNumber string) ([]byte, error) {
	var body []byte
	err := c.do(ctx, call{method: http.MethodGet, path: path, bearer: bearerAccess, raw: &body, check: upoCheck(ksefNumber),
		header: map[string]string{"Accept": acceptXML}})
	if err != nil {
		return nil, fmt.Errorf("get UPO: %w", err)
	}
	return body, nil
}

// checkMetaHash verifies x-ms-meta-hash (Base64 SHA-256 of the body) when the server sent it. A
// mismatch is weather (a truncated or substituted download): transient, retried, never returned.
func checkMetaHash(hdr http.Header, body []byte) error {
	want := hdr.Get("x-ms-meta-hash")
	if want == "" {
		return nil
	}
	if got := hashB64(body); got != want {
		return &UnavailableError{HTTPStatus: http.StatusOK, ContentType: "content hash mismatch", Excerpt: fmt.Sprintf("x-ms-meta-hash %s, got %s", want, got)}
	}
	return nil
}
