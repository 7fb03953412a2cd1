package xades

import (
	"bytes"
	"encoding/xml"
)

// Subject identifier types of the AuthTokenRequest.
const (
	SubjectCertificateSubject     = "certificateSubject"
	SubjectCertificateFingerprint = "certificateFingerprint"
)

// BuildAuthTokenRequest returns the unsigned AuthTokenRequest (namespace 2.0) for a challenge and
// context (ctxType Nip | InternalId | NipVatUe | PeppolId), with the elements in XSD order. An empty
// subjectIdentifierType means certificateSubject.
func BuildAuthTokenRequest(challenge, ctxType, ctxValue, subjectIdentifierType string) []byte {
	if subjectIdentifierType == "" {
		subjectIdentifierType = SubjectCertificateSubject
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<AuthTokenRequest xmlns="` + NamespaceAuth20 + `">`)
	writeElement(&b, "Challenge", challenge)
	b.WriteString("<ContextIdentifier>")
	writeElement(&b, ctxType, ctxValue)
	b.WriteString("</ContextIdentifier>")
	writeElement(&b, "SubjectIdentifierType", subjectIdentifierType)
	b.WriteString("</AuthTokenRequest>")
	return b.Bytes()
}

func writeElement(b *bytes.Buffer, name, text string) {
	b.WriteString("<" + name + ">")
	_ = xml.EscapeText(b, []byte(text)) // bytes.Buffer writes cannot fail
	b.WriteString("</" + name + ">")
}
