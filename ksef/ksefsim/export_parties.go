package ksefsim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// parties are the subjects of an invoice besides seller and buyer, as Subject3 and
// SubjectAuthorized exports select them: a third subject (Podmiot3, up to 100) and the authorized
// subject (PodmiotUpowazniony).
type parties struct {
	third      []party
	authorized *party
}

type party struct {
	nip, name string
	role      int
}

// partiesLocked reads an invoice's Podmiot3 and PodmiotUpowazniony from its stored XML. Most
// invoices have neither, so the bytes are searched before anything is parsed.
func (s *Server) partiesLocked(inv *invoice) parties {
	data, ok := s.blobs.get(s.st, "inv/"+inv.KsefNumber)
	if !ok || (!bytes.Contains(data, []byte("Podmiot3")) && !bytes.Contains(data, []byte("PodmiotUpowazniony"))) {
		return parties{}
	}
	p, _ := parseParties(data)
	return p
}

// parseParties walks the XML once, collecting NIP, name and role of Faktura/Podmiot3 and
// Faktura/PodmiotUpowazniony.
func parseParties(data []byte) (parties, error) {
	var p parties
	var cur *party
	var stack []string
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		if err != nil {
			return p, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			if len(stack) == 2 && (t.Name.Local == "Podmiot3" || t.Name.Local == "PodmiotUpowazniony") {
				cur = &party{}
			}
		case xml.EndElement:
			if len(stack) == 2 && cur != nil {
				if stack[1] == "Podmiot3" {
					p.third = append(p.third, *cur)
				} else {
					p.authorized = cur
				}
				cur = nil
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if cur == nil {
				continue
			}
			v := strings.TrimSpace(string(t))
			switch strings.Join(stack[2:], "/") {
			case "DaneIdentyfikacyjne/NIP":
				cur.nip = v
			case "DaneIdentyfikacyjne/Nazwa":
				cur.name = v
			case "Rola", "RolaPU":
				_, _ = fmt.Sscan(v, &cur.role)
			}
		}
	}
}

// matches reports whether nip is the invoice's third subject (Subject3) or authorized subject
// (SubjectAuthorized).
func (p parties) matches(subjectType, nip string) bool {
	switch subjectType {
	case "Subject3":
		for _, t := range p.third {
			if t.nip == nip {
				return true
			}
		}
	case "SubjectAuthorized":
		return p.authorized != nil && p.authorized.nip == nip
	}
	return false
}

// addTo puts thirdSubjects and authorizedSubject into an InvoiceMetadata record, as KSeF does.
func (p parties) addTo(m map[string]any) {
	if len(p.third) > 0 {
		third := make([]map[string]any, 0, len(p.third))
		for _, t := range p.third {
			id := map[string]any{"type": "None"}
			if t.nip != "" {
				id = map[string]any{"type": "Nip", "value": t.nip}
			}
			rec := map[string]any{"identifier": id, "role": t.role}
			if t.name != "" {
				rec["name"] = t.name
			}
			third = append(third, rec)
		}
		m["thirdSubjects"] = third
	}
	if a := p.authorized; a != nil && a.nip != "" {
		rec := map[string]any{"nip": a.nip, "role": a.role}
		if a.name != "" {
			rec["name"] = a.name
		}
		m["authorizedSubject"] = rec
	}
}

// seedParties is the Podmiot3 and PodmiotUpowazniony XML of a seeded invoice (FA(3) order: after
// Podmiot2, before Fa).
func seedParties(si SeedInvoice) string {
	var b strings.Builder
	if si.Subject3NIP != "" {
		fmt.Fprintf(&b, `  <Podmiot3>
    <DaneIdentyfikacyjne><NIP>%s</NIP><Nazwa>Odbiorca %s</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Trzecia 3</AdresL1></Adres>
    <Rola>2</Rola>
  </Podmiot3>
`, si.Subject3NIP, si.Subject3NIP)
	}
	if si.AuthorizedNIP != "" {
		fmt.Fprintf(&b, `  <PodmiotUpowazniony>
    <DaneIdentyfikacyjne><NIP>%s</NIP><Nazwa>Przedstawiciel %s</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Upoważniona 4</AdresL1></Adres>
    <RolaPU>3</RolaPU>
  </PodmiotUpowazniony>
`, si.AuthorizedNIP, si.AuthorizedNIP)
	}
	return b.String()
}
