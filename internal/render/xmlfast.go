package render

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Why a second reader of the invoice model: encoding/xml spent about 30 % of a PDF's CPU on the
// model (a linear search of the struct's fields for every element, reflection for every value,
// namespace maps, a byte at a time through an interface). fastModel reads the same struct tags
// once into lookup tables and scans the bytes directly. It follows encoding/xml's rules for what
// the model gets (elements matched by local name, the last of repeated single elements wins,
// repeated structs merge, ",any", "a>b" paths, the chardata of an element without its children's)
// and it is at least as strict: anything it does not take for certain (another charset, a DOCTYPE,
// a name outside ASCII, any syntax error, an unknown entity) makes it give up, and encoding/xml
// reads the file instead, so odd and broken files get exactly the model or the error they got
// before. TestFastModelMatchesEncodingXML and FuzzFastModel hold it to that.

// xmlStruct is how the elements and attributes of one struct type of the model map onto its
// fields (field indexes for reflect.Value.Field).
type xmlStruct struct {
	children map[string]*xmlField // by local name: a field, or the first step of an "a>b" path
	attrs    []xmlAttrField
	any      *xmlField // the ",any" field, or nil
	chardata int       // the ",chardata" field, or -1
	xmlName  int       // the XMLName field, or -1
}

type xmlAttrField struct {
	name  string
	index int
}

type xmlFieldKind int

const (
	xmlString  xmlFieldKind = iota // string
	xmlStrings                     // []string: one per element
	xmlStruct1                     // struct: repeated elements merge into it
	xmlPtr                         // *struct: allocated by the first element
	xmlStructs                     // []struct: one per element
	xmlPath                        // a step of an "a>b" path: next holds the following steps
)

type xmlField struct {
	kind  xmlFieldKind
	index int
	elem  *xmlStruct   // for the struct kinds
	typ   reflect.Type // the pointed-to struct for xmlPtr
	next  map[string]*xmlField
}

var nameType = reflect.TypeFor[xml.Name]()

// newXMLStruct reads the xml tags of t the way encoding/xml does, for the tag forms the model
// uses; any other form panics (TestFastModelMatchesEncodingXML runs it).
func newXMLStruct(t reflect.Type) *xmlStruct {
	s := &xmlStruct{children: map[string]*xmlField{}, chardata: -1, xmlName: -1}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("xml")
		if !sf.IsExported() || tag == "-" {
			continue
		}
		if sf.Anonymous || strings.Contains(tag, " ") {
			panic(fmt.Sprintf("render: fastModel cannot read field %s of %s (%q)", sf.Name, t, tag))
		}
		if sf.Name == "XMLName" && sf.Type == nameType && tag == "" {
			s.xmlName = i
			continue
		}
		name, flag, _ := strings.Cut(tag, ",")
		switch {
		case flag == "attr" && name != "" && sf.Type.Kind() == reflect.String:
			s.attrs = append(s.attrs, xmlAttrField{name, i})
			continue
		case flag == "chardata" && name == "" && sf.Type.Kind() == reflect.String:
			s.chardata = i
			continue
		case flag == "any" && name == "":
			s.any = newXMLField(sf, i)
			continue
		case flag != "":
			panic(fmt.Sprintf("render: fastModel cannot read field %s of %s (%q)", sf.Name, t, tag))
		}
		if name == "" {
			name = sf.Name
		}
		steps := strings.Split(name, ">")
		m := s.children
		for _, step := range steps[:len(steps)-1] {
			f := m[step]
			if f == nil {
				f = &xmlField{kind: xmlPath, next: map[string]*xmlField{}}
				m[step] = f
			}
			if f.kind != xmlPath || step == "" {
				panic(fmt.Sprintf("render: fastModel: path %q of %s.%s", name, t, sf.Name))
			}
			m = f.next
		}
		last := steps[len(steps)-1]
		if m[last] != nil || last == "" {
			panic(fmt.Sprintf("render: fastModel: %q twice in %s", name, t))
		}
		m[last] = newXMLField(sf, i)
	}
	return s
}

func newXMLField(sf reflect.StructField, i int) *xmlField {
	t := sf.Type
	switch {
	case t.Kind() == reflect.String:
		return &xmlField{kind: xmlString, index: i}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return &xmlField{kind: xmlStrings, index: i}
	case t.Kind() == reflect.Struct && t != nameType:
		return &xmlField{kind: xmlStruct1, index: i, elem: newXMLStruct(t)}
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		return &xmlField{kind: xmlPtr, index: i, elem: newXMLStruct(t.Elem()), typ: t.Elem()}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return &xmlField{kind: xmlStructs, index: i, elem: newXMLStruct(t.Elem())}
	}
	panic(fmt.Sprintf("render: fastModel cannot read field %s (%s)", sf.Name, t))
}

var fakturaXML = newXMLStruct(reflect.TypeFor[faktura]())

// fastModel decodes an invoice into its model, or returns nil when encoding/xml must read it.
func fastModel(data []byte) *faktura {
	d := xdec{data: data}
	// Before the root: text, comments and processing instructions, as encoding/xml allows.
	for {
		k, ok := d.token()
		if !ok || k == tokEnd {
			return nil
		}
		if k == tokStart {
			break
		}
	}
	if !bytes.Equal(localName(d.name), []byte("Faktura")) {
		return nil // encoding/xml gives the error (or a syntax error further on)
	}
	f := new(faktura)
	if !d.decodeStruct(fakturaXML, reflect.ValueOf(f).Elem()) {
		return nil
	}
	return f
}

type tokKind int

const (
	tokText tokKind = iota
	tokStart
	tokEnd
	tokOther // a comment or processing instruction
)

// xdec scans XML for fastModel. Every method returns ok=false where encoding/xml would fail, and
// wherever it is not sure encoding/xml would read the same.
type xdec struct {
	data []byte
	pos  int
	open [][]byte // qualified names of the open elements, as written
	ns   []nsDecl // the namespace declarations in scope
	// the current token
	name       []byte  // of a start or end element, as written
	attrs      []xattr // of a start element
	text       []byte  // of text (valid until the next token)
	pendingEnd bool    // the start element was empty (<a/>): its end comes next
	buf        []byte  // text that entities or carriage returns changed
	attrBuf    []byte  // attribute values that entities or carriage returns changed
	acc        []byte  // an element's text across its pieces
	changed    bool    // the last text is in buf
}

type xattr struct{ name, value []byte }

type nsDecl struct {
	prefix, uri string
	depth       int
}

func (d *xdec) token() (tokKind, bool) {
	if d.pendingEnd {
		d.pendingEnd = false
		return d.end()
	}
	data, i := d.data, d.pos
	if i >= len(data) {
		return 0, false // the end of the input (inside the root, or before it: errors both)
	}
	if data[i] != '<' {
		t, ok := d.scanText(-1)
		d.text = t
		return tokText, ok
	}
	if i+1 >= len(data) {
		return 0, false
	}
	switch data[i+1] {
	case '/':
		d.pos = i + 2
		name, ok := d.qname()
		if !ok || !d.spaceThen('>') {
			return 0, false
		}
		d.name = name
		return d.end()
	case '?':
		d.pos = i + 2
		target, ok := d.nameBytes()
		if !ok {
			return 0, false
		}
		d.space()
		n := bytes.Index(data[d.pos:], []byte("?>"))
		if n < 0 {
			return 0, false
		}
		content := string(data[d.pos : d.pos+n])
		d.pos += n + 2
		if string(target) == "xml" {
			if v := procInst("version", content); v != "" && v != "1.0" {
				return 0, false
			}
			if e := procInst("encoding", content); e != "" && !strings.EqualFold(e, "utf-8") {
				return 0, false // another charset: encoding/xml converts it
			}
		}
		return tokOther, true
	case '!':
		rest := data[i+2:]
		switch {
		case bytes.HasPrefix(rest, []byte("--")):
			body := rest[2:]
			n := bytes.Index(body, []byte("--"))
			if n < 0 || n+2 >= len(body) || body[n+2] != '>' {
				return 0, false // "--" inside a comment, or no end
			}
			d.pos = i + 4 + n + 3
			return tokOther, true
		case bytes.HasPrefix(rest, []byte("[CDATA[")):
			d.pos = i + 9
			t, ok := d.scanCDATA()
			d.text = t
			return tokText, ok
		}
		return 0, false // a DOCTYPE or another directive
	}
	d.pos = i + 1
	return d.start()
}

// start reads a start tag after its '<'.
func (d *xdec) start() (tokKind, bool) {
	name, ok := d.qname()
	if !ok {
		return 0, false
	}
	d.name = name
	d.attrs = d.attrs[:0]
	d.attrBuf = d.attrBuf[:0]
	data := d.data
	for {
		d.space()
		if d.pos >= len(data) {
			return 0, false
		}
		switch data[d.pos] {
		case '>':
			d.pos++
			return d.opened()
		case '/':
			if d.pos+1 >= len(data) || data[d.pos+1] != '>' {
				return 0, false
			}
			d.pos += 2
			d.pendingEnd = true
			return d.opened()
		}
		an, ok := d.qname()
		if !ok || !d.spaceThen('=') {
			return 0, false
		}
		d.space()
		if d.pos >= len(data) || data[d.pos] != '"' && data[d.pos] != '\'' {
			return 0, false
		}
		q := data[d.pos]
		d.pos++
		v, ok := d.scanText(int(q))
		if !ok {
			return 0, false
		}
		if d.changed { // in d.buf: keep it past the next value
			n := len(d.attrBuf)
			d.attrBuf = append(d.attrBuf, v...)
			v = d.attrBuf[n:]
		}
		d.attrs = append(d.attrs, xattr{an, v})
	}
}

// opened pushes the element just read and its namespace declarations.
func (d *xdec) opened() (tokKind, bool) {
	d.open = append(d.open, d.name)
	for _, a := range d.attrs {
		prefix, local := splitName(a.name)
		switch {
		case string(prefix) == "xmlns":
			d.ns = append(d.ns, nsDecl{string(local), string(a.value), len(d.open)})
		case len(prefix) == 0 && string(local) == "xmlns":
			d.ns = append(d.ns, nsDecl{"", string(a.value), len(d.open)})
		}
	}
	return tokStart, true
}

// end closes the innermost element, which must be d.name.
func (d *xdec) end() (tokKind, bool) {
	n := len(d.open)
	if n == 0 || !bytes.Equal(d.open[n-1], d.name) {
		return 0, false
	}
	d.open = d.open[:n-1]
	for len(d.ns) > 0 && d.ns[len(d.ns)-1].depth >= n {
		d.ns = d.ns[:len(d.ns)-1]
	}
	return tokEnd, true
}

func (d *xdec) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\r', '\n', '\t':
			d.pos++
		default:
			return
		}
	}
}

// spaceThen skips white space and then c, which must be there.
func (d *xdec) spaceThen(c byte) bool {
	d.space()
	if d.pos >= len(d.data) || d.data[d.pos] != c {
		return false
	}
	d.pos++
	return true
}

func isNameStart(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == ':'
}

func isNameByte(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '.' || c == '-'
}

// nameBytes reads an ASCII name; a name with other letters is left to encoding/xml.
func (d *xdec) nameBytes() ([]byte, bool) {
	data, s := d.data, d.pos
	if s >= len(data) || !isNameStart(data[s]) {
		return nil, false
	}
	i := s + 1
	for i < len(data) && isNameByte(data[i]) {
		i++
	}
	if i >= len(data) || data[i] >= utf8.RuneSelf {
		return nil, false
	}
	d.pos = i
	return data[s:i], true
}

// qname reads an element or attribute name: at most one colon, inside it.
func (d *xdec) qname() ([]byte, bool) {
	n, ok := d.nameBytes()
	if !ok {
		return nil, false
	}
	if c := bytes.IndexByte(n, ':'); c >= 0 && (c == 0 || c == len(n)-1 || bytes.IndexByte(n[c+1:], ':') >= 0) {
		return nil, false
	}
	return n, true
}

func splitName(q []byte) (prefix, local []byte) {
	if c := bytes.IndexByte(q, ':'); c >= 0 {
		return q[:c], q[c+1:]
	}
	return nil, q
}

func localName(q []byte) []byte {
	_, l := splitName(q)
	return l
}

// translate gives a name's namespace as encoding/xml's Decoder.Token does.
func (d *xdec) translate(q []byte) xml.Name {
	prefix, local := splitName(q)
	n := xml.Name{Space: string(prefix), Local: string(local)}
	switch {
	case n.Space == "xmlns", n.Space == "" && n.Local == "xmlns":
		return n
	case n.Space == "xml":
		n.Space = "http://www.w3.org/XML/1998/namespace"
		return n
	}
	for i := len(d.ns) - 1; i >= 0; i-- {
		if d.ns[i].prefix == n.Space {
			n.Space = d.ns[i].uri
			return n
		}
	}
	return n
}

// scanText reads character data up to '<' (quote < 0) or an attribute value up to its quote, with
// encoding/xml's entities, line ends and character checks.
func (d *xdec) scanText(quote int) ([]byte, bool) {
	data := d.data
	start := d.pos
	i := start
	var out []byte // nil while the text is data[start:i] unchanged
	changed := false
	for i < len(data) {
		c := data[i]
		switch {
		case int(c) == quote:
			d.pos = i + 1
			return d.textDone(data[start:i], out, changed)
		case c == '<':
			if quote >= 0 {
				return nil, false
			}
			d.pos = i
			return d.textDone(data[start:i], out, changed)
		case c == ']' && quote < 0 && bytes.HasPrefix(data[i:], []byte("]]>")):
			return nil, false
		case c == '&':
			if !changed {
				out, changed = append(d.buf[:0], data[start:i]...), true
			}
			var ok bool
			if out, i, ok = entity(out, data, i); !ok {
				return nil, false
			}
			continue
		case c == '\r':
			if !changed {
				out, changed = append(d.buf[:0], data[start:i]...), true
			}
			out = append(out, '\n')
			i++
			if i < len(data) && data[i] == '\n' {
				i++
			}
			continue
		}
		if changed {
			out = append(out, c)
		}
		i++
	}
	if quote >= 0 {
		return nil, false
	}
	d.pos = i
	return d.textDone(data[start:i], out, changed)
}

// scanCDATA reads a CDATA section's text after "<![CDATA[".
func (d *xdec) scanCDATA() ([]byte, bool) {
	rest := d.data[d.pos:]
	n := bytes.Index(rest, []byte("]]>"))
	if n < 0 {
		return nil, false
	}
	d.pos += n + 3
	raw := rest[:n]
	if bytes.IndexByte(raw, '\r') < 0 {
		return d.textDone(raw, nil, false)
	}
	out := d.buf[:0]
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\r' {
			out = append(out, raw[i])
			continue
		}
		out = append(out, '\n')
		if i+1 < len(raw) && raw[i+1] == '\n' {
			i++
		}
	}
	return d.textDone(nil, out, true)
}

// textDone checks the characters of a text as encoding/xml does.
func (d *xdec) textDone(raw, out []byte, changed bool) ([]byte, bool) {
	t := raw
	d.changed = changed
	if changed {
		d.buf = out
		t = out
	}
	for i := 0; i < len(t); {
		c := t[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return nil, false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(t[i:])
		if r == utf8.RuneError && size == 1 || !xmlChar(r) {
			return nil, false
		}
		i += size
	}
	return t, true
}

// xmlChar is the Char production of XML 1.0 (encoding/xml's isInCharacterRange).
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// entity appends the character of the reference at data[i] ('&'): one of XML's five names, or a
// decimal or hexadecimal character reference.
func entity(out, data []byte, i int) ([]byte, int, bool) {
	rest := data[i+1:]
	for _, e := range [...]struct {
		name string
		c    byte
	}{{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"apos;", '\''}, {"quot;", '"'}} {
		if bytes.HasPrefix(rest, []byte(e.name)) {
			return append(out, e.c), i + 1 + len(e.name), true
		}
	}
	if len(rest) == 0 || rest[0] != '#' {
		return nil, 0, false
	}
	j, base := 1, rune(10)
	if j < len(rest) && rest[j] == 'x' {
		j, base = 2, 16
	}
	var r rune
	digits := 0
	for ; j < len(rest); j++ {
		c := rest[j]
		var v rune
		switch {
		case '0' <= c && c <= '9':
			v = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			v = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			v = rune(c-'A') + 10
		default:
			v = -1
		}
		if v < 0 {
			break
		}
		if r = r*base + v; r > unicode.MaxRune {
			return nil, 0, false
		}
		digits++
	}
	// encoding/xml turns a surrogate into U+FFFD; left to it, as are the characters XML forbids
	if digits == 0 || j >= len(rest) || rest[j] != ';' || !xmlChar(r) || 0xD800 <= r && r <= 0xDFFF {
		return nil, 0, false
	}
	return utf8.AppendRune(out, r), i + 1 + j + 1, true
}

// procInst is encoding/xml's reading of a parameter of <?xml ...?>.
func procInst(param, s string) string {
	param = param + "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}

// skip reads up to the end of the element just started.
func (d *xdec) skip() bool {
	depth := 0
	for {
		k, ok := d.token()
		if !ok {
			return false
		}
		switch k {
		case tokStart:
			depth++
		case tokEnd:
			if depth == 0 {
				return true
			}
			depth--
		}
	}
}

// content reads the element just started up to its end, handing fn each child's start and each
// piece of text.
func (d *xdec) content(fn func(tokKind) bool) bool {
	for {
		k, ok := d.token()
		switch {
		case !ok:
			return false
		case k == tokEnd:
			return true
		case k != tokOther && !fn(k):
			return false
		}
	}
}

// elemText reads the element just started as a string: its own text, without its children's.
func (d *xdec) elemText() (string, bool) {
	acc := d.acc[:0]
	ok := d.content(func(k tokKind) bool {
		if k == tokText {
			acc = append(acc, d.text...)
			return true
		}
		return d.skip()
	})
	d.acc = acc
	return string(acc), ok
}

// decodeStruct reads the element just started into v.
func (d *xdec) decodeStruct(s *xmlStruct, v reflect.Value) bool {
	for _, a := range d.attrs {
		local := localName(a.name)
		for _, f := range s.attrs {
			if string(local) == f.name {
				v.Field(f.index).SetString(string(a.value))
			}
		}
	}
	if s.xmlName >= 0 {
		v.Field(s.xmlName).Set(reflect.ValueOf(d.translate(d.name)))
	}
	var chardata []byte
	ok := d.content(func(k tokKind) bool {
		if k == tokText {
			if s.chardata >= 0 {
				chardata = append(chardata, d.text...)
			}
			return true
		}
		f := s.children[string(localName(d.name))]
		if f == nil {
			f = s.any
		}
		if f == nil {
			return d.skip()
		}
		return d.decodeField(f, v)
	})
	if ok && s.chardata >= 0 {
		v.Field(s.chardata).SetString(string(chardata))
	}
	return ok
}

// decodeField reads the element just started into field f of v.
func (d *xdec) decodeField(f *xmlField, v reflect.Value) bool {
	switch f.kind {
	case xmlPath:
		return d.content(func(k tokKind) bool {
			if k == tokText {
				return true
			}
			if g := f.next[string(localName(d.name))]; g != nil {
				return d.decodeField(g, v)
			}
			return d.skip()
		})
	case xmlString:
		s, ok := d.elemText()
		if ok {
			v.Field(f.index).SetString(s)
		}
		return ok
	case xmlStrings:
		s, ok := d.elemText()
		if ok {
			fv := v.Field(f.index)
			n := fv.Len()
			fv.Grow(1)
			fv.SetLen(n + 1)
			fv.Index(n).SetString(s)
		}
		return ok
	case xmlStruct1:
		return d.decodeStruct(f.elem, v.Field(f.index))
	case xmlPtr:
		fv := v.Field(f.index)
		if fv.IsNil() {
			fv.Set(reflect.New(f.typ))
		}
		return d.decodeStruct(f.elem, fv.Elem())
	default: // xmlStructs
		fv := v.Field(f.index)
		n := fv.Len()
		fv.Grow(1)
		fv.SetLen(n + 1)
		return d.decodeStruct(f.elem, fv.Index(n))
	}
}
