// Package xsd validates XML documents against the subset of XML Schema 1.0 that the KSeF FA(3)
// invoice schema and the base-type schemas it imports use, in pure Go.
//
// No pure-Go XSD library handles FA(3): github.com/jacoelho/xsd v0.0.27 refuses the restriction of
// TKodKrajuWydania (enumerated base values that do not all match the derived patterns, which XSD
// allows) and, with that worked around, does not finish building the content models in minutes
// because it unfolds the large maxOccurs values (FaWiersz 10,000, up to 50,000 elsewhere); libxml2
// needs cgo, which breaks the Windows build. This package compiles content models into Glushkov
// automata with occurrence counters (no unfolding), so compiling FA(3) takes milliseconds, and
// validates in one streaming pass.
//
// Supported: global and local elements (ref, type, anonymous types, fixed, default), sequence,
// choice and all with minOccurs/maxOccurs, complexContent extension and restriction,
// simpleContent extension, attributes (use, fixed), elementFormDefault/attributeFormDefault,
// include/import, simple type restriction and union, and the facets pattern (XSD regular
// expressions translated to RE2), enumeration, length, minLength, maxLength, totalDigits,
// fractionDigits, min/maxInclusive, min/maxExclusive and whiteSpace over the built-in types string,
// normalizedString, token, decimal, integer and its subtypes, boolean, date, dateTime and gYear.
// Anything else in a schema is refused at compile time rather than silently ignored.
//
// The schemas in schemas/ are the Ministry of Finance's (CIRFMF/ksef-docs, MIT licence: see
// schemas/LICENSE-ksef-docs.txt).
package xsd

import (
	"embed"
	"sync"
)

//go:embed schemas/*.xsd schemas/LICENSE-ksef-docs.txt
var schemaFS embed.FS

// FA3Namespace is the target namespace of the FA(3) invoice schema.
const FA3Namespace = "http://crd.gov.pl/wzor/2025/06/25/13775/"

var fa3 = sync.OnceValues(func() (*Schema, error) {
	return Compile(schemaFS, "schemas/schemat_FA(3)_v1-0E.xsd")
})

// FA3 returns the compiled FA(3) schema; it is compiled once, on first use.
func FA3() (*Schema, error) { return fa3() }
