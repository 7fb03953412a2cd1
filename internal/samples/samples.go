// Package samples embeds the official FA(3) sample invoices (from CIRFMF/ksef-client-java, MIT
// licence: see LICENSE-ksef-client-java.md beside this file) and fills their placeholders, for the
// demo, tests and benchmarks.
package samples

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed *.xml
var files embed.FS

// BuyerNIP is the checksum-valid buyer the templates use.
const BuyerNIP = "3861610227"

// Names lists the embedded templates for ordinary invoices in a stable order. The self-invoicing
// template is left out: it needs a buyer context with self-invoicing rights.
func Names() []string {
	entries, _ := files.ReadDir(".")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !strings.Contains(e.Name(), "self_invoicing") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// Template returns a template with its #nip#, #invoicing_date# and #invoice_number# placeholders.
func Template(name string) []byte {
	b, err := files.ReadFile(path.Clean(name))
	if err != nil {
		panic(fmt.Sprintf("samples: no template %q", name))
	}
	return b
}

// Invoice fills template i (modulo the number of templates) for seller nip, issue date and a
// number that makes P_2 unique.
func Invoice(i int, nip string, issue time.Time, number string) []byte {
	names := Names()
	t := string(Template(names[i%len(names)]))
	return []byte(strings.NewReplacer(
		"#nip#", nip,
		"#invoicing_date#", issue.Format("2006-01-02"),
		"#invoice_number#", number,
		"#subject2nip#", BuyerNIP,
		"#selfInvocingNip#", BuyerNIP,
		"#subject3IdentifierValue#", "<NIP>"+BuyerNIP+"</NIP>",
	).Replace(t))
}
