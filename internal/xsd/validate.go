package xsd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/ksef-sync/ksef-sync/internal/msg"
)

// XSINamespace is the XML Schema instance namespace (xsi:schemaLocation and friends).
const XSINamespace = "http://www.w3.org/2001/XMLSchema-instance"

// MaxErrors bounds the problems one validation collects; the rest of the document is not checked.
const MaxErrors = 100

// maxDepth bounds element nesting (FA(3) needs 9 levels), so hostile input cannot make the
// validator's stack grow with the file.
const maxDepth = 64

// Error is one problem found in a document.
type Error struct {
	Line    int    // 1-based line of the element's start tag (of its end tag for missing children)
	Path    string // element path below the root, e.g. "Fa/FaWiersz[3]/P_8B"; the root's own name for the root
	Element string // local name of the element the problem is about (a missing one, when something is missing)
	Label   string // that element's description in the schema (Polish), may be empty
	// Msg says what is wrong: a key of the catalogue in internal/msg with its arguments, so the
	// bookkeeper reads it in the configured language (Polish by default).
	Msg msg.Message
}

// Message is what is wrong, in l.
func (e Error) Message(l msg.Lang) string { return e.Msg.In(l) }

// In is the whole problem in l: "line N: path: message" ("wiersz N: …" in Polish).
func (e Error) In(l msg.Lang) string { return l.T(msg.XsdDetail, e.Line, e.Path, e.Msg) }

// String is the problem in English, for logs and tests.
func (e Error) String() string { return e.In(msg.EN) }

type sibCount struct {
	name qname
	n    int
}

type frame struct {
	decl     *elemDecl
	ct       *complexType
	st       *simpleType // type of the character content, when it is simple
	state    modelState
	failed   bool // the content model already reported an error
	skip     bool // unknown element: its content is not checked
	noted    bool // a "no child elements"/"no text" error was already reported
	text     []byte
	line     int
	local    string
	index    int // 0: no [n] in the path
	sibs     []sibCount
	hasChild bool
}

type validator struct {
	s       *Schema
	data    []byte
	line    int
	lineOff int
	stack   []frame
	errs    []Error
	rootEnd bool
	done    bool // a problem that ends validation (not well-formed, unknown root)
}

// Validate checks data against the schema and returns the problems found (at most MaxErrors), in
// document order; none means the document is valid.
func (s *Schema) Validate(data []byte) []Error {
	st := s.NewStream(data)
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	for !st.v.done {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := st.v.lineAt(int(dec.InputOffset()))
			if se, ok := errors.AsType[*xml.SyntaxError](err); ok {
				line = se.Line
			}
			st.v.fail(line, notWellFormed(syntaxMsg(err)))
			return st.v.errs
		}
		st.Token(tok, off)
	}
	return st.Errors()
}

// Stream validates a document token by token, for a caller that already reads it with an
// xml.Decoder (Strict, namespace-aware Token, not RawToken): one pass over the bytes serves both.
type Stream struct{ v validator }

// NewStream starts validating data; the tokens passed to Token must come from decoding data.
func (s *Schema) NewStream(data []byte) *Stream {
	return &Stream{v: validator{s: s, data: data, line: 1}}
}

// Token feeds the next token; off is the decoder's InputOffset before the token was read.
func (st *Stream) Token(tok xml.Token, off int64) {
	v := &st.v
	if v.done || len(v.errs) >= MaxErrors {
		v.done = true
		return
	}
	switch t := tok.(type) {
	case xml.StartElement:
		if !v.start(t, v.lineAt(int(off))) {
			v.done = true
		}
	case xml.EndElement:
		if len(v.stack) > 0 {
			v.end(v.lineAt(int(off)))
		}
	case xml.CharData:
		v.chars(t, int(off))
	}
}

// Errors ends the document and returns every problem found, in document order.
func (st *Stream) Errors() []Error {
	v := &st.v
	if !v.done && !v.rootEnd && len(v.errs) < MaxErrors {
		v.fail(v.lineAt(len(v.data)), notWellFormed(msg.M(msg.XsdNoRoot)))
	}
	v.done = true
	return v.errs
}

// notWellFormed says the document is not XML; what is a string (the XML decoder's own words,
// English) or a Message.
func notWellFormed(what any) msg.Message { return msg.M(msg.XsdNotWellFormed, what) }

func syntaxMsg(err error) string {
	if se, ok := errors.AsType[*xml.SyntaxError](err); ok {
		return se.Msg
	}
	return err.Error()
}

// lineAt returns the line of byte offset off; offsets only grow, so counting is incremental.
func (v *validator) lineAt(off int) int {
	off = min(off, len(v.data))
	if off > v.lineOff {
		v.line += bytes.Count(v.data[v.lineOff:off], []byte{'\n'})
		v.lineOff = off
	}
	return v.line
}

func (v *validator) fail(line int, m msg.Message) {
	v.errs = append(v.errs, Error{Line: line, Path: v.path(), Msg: m})
}

func (v *validator) report(line int, d *elemDecl, local string, m msg.Message) {
	e := Error{Line: line, Path: v.path(), Element: local, Msg: m}
	if d != nil {
		e.Label = d.label
	}
	v.errs = append(v.errs, e)
}

// path is the element path of the top of the stack, below the root.
func (v *validator) path() string {
	switch len(v.stack) {
	case 0:
		return "/"
	case 1:
		return v.stack[0].local
	}
	var b strings.Builder
	for i := 1; i < len(v.stack); i++ {
		if i > 1 {
			b.WriteByte('/')
		}
		b.WriteString(v.stack[i].local)
		if n := v.stack[i].index; n > 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(n))
			b.WriteByte(']')
		}
	}
	return b.String()
}

func (v *validator) push(f frame) {
	if n := len(v.stack); n < cap(v.stack) {
		// Reuse the buffers of an earlier element at this depth.
		old := v.stack[:n+1][n]
		f.text, f.sibs = old.text[:0], old.sibs[:0]
	}
	v.stack = append(v.stack, f)
}

func (v *validator) start(t xml.StartElement, line int) bool {
	name := qname{t.Name.Space, t.Name.Local}
	for i, a := range t.Attr {
		for _, b := range t.Attr[:i] {
			if a.Name == b.Name {
				v.fail(line, notWellFormed(msg.M(msg.XsdDuplicateAttr, a.Name.Local, t.Name.Local)))
				return false
			}
		}
	}
	if len(v.stack) >= maxDepth {
		v.fail(line, msg.M(msg.XsdTooDeep, maxDepth))
		return false
	}
	if len(v.stack) == 0 {
		if v.rootEnd {
			v.fail(line, notWellFormed(msg.M(msg.XsdSecondRoot, t.Name.Local)))
			return false
		}
		d := v.s.roots[name]
		if d == nil {
			v.fail(line, msg.M(msg.XsdUnknownRoot, name.local, name.ns, v.s.expectedRoots()))
			return false
		}
		v.push(frame{line: line, local: name.local})
		v.enter(t, d, line)
		return true
	}
	p := &v.stack[len(v.stack)-1]
	idx := p.countSibling(name)
	switch {
	case p.skip || p.decl.anyType:
		v.push(frame{skip: true, line: line, local: name.local})
		return true
	case p.st != nil:
		v.push(frame{skip: true, line: line, local: name.local, index: idx})
		if !p.noted {
			p.noted = true
			v.report(line, p.decl, p.local, msg.M(msg.XsdNoChildElements, p.local, name.local))
		}
		return true
	}
	d := p.ct.children[name]
	if d != nil && (d.max > 1 || d.max == unbounded) || idx > 1 {
		// keep idx
	} else {
		idx = 0
	}
	var prob msg.Message
	var missing *elemDecl
	if !p.failed {
		prob, missing = p.ct.model.step(&p.state, name)
		p.failed = !prob.IsZero()
	} else if d == nil {
		prob = msg.M(msg.XsdNotAllowed, msg.M(msg.XsdUnknownElement, name.local))
	}
	v.push(frame{skip: d == nil, line: line, local: name.local, index: idx})
	if !prob.IsZero() {
		switch {
		case missing != nil:
			v.report(line, missing, missing.name.local, prob)
		default:
			v.report(line, d, name.local, prob)
		}
	}
	if d == nil {
		return true
	}
	v.enter(t, d, line)
	return true
}

func (p *frame) countSibling(name qname) int {
	for i := range p.sibs {
		if p.sibs[i].name == name {
			p.sibs[i].n++
			return p.sibs[i].n
		}
	}
	p.sibs = append(p.sibs, sibCount{name, 1})
	return 1
}

// enter sets up the top frame for declaration d and checks the attributes.
func (v *validator) enter(t xml.StartElement, d *elemDecl, line int) {
	f := &v.stack[len(v.stack)-1]
	f.decl = d
	f.state.pos = -1
	switch {
	case d.simple != nil:
		f.st = d.simple
	case d.complex != nil:
		f.ct = d.complex
		f.st = d.complex.simple
	}
	var attrs []*attrDecl
	if f.ct != nil {
		attrs = f.ct.attrs
	}
	var seen uint64
	for _, a := range t.Attr {
		if isNamespaceDecl(a.Name) {
			continue
		}
		if a.Name.Space == XSINamespace {
			if a.Name.Local != "schemaLocation" && a.Name.Local != "noNamespaceSchemaLocation" {
				v.report(line, d, t.Name.Local, msg.M(msg.XsdXsiAttr, a.Name.Local))
			}
			continue
		}
		i := findAttr(attrs, qname{a.Name.Space, a.Name.Local})
		if i < 0 || d.anyType {
			if !d.anyType {
				v.report(line, d, t.Name.Local, msg.M(msg.XsdAttrNotAllowed, a.Name.Local, t.Name.Local))
			}
			continue
		}
		seen |= 1 << uint(i%64)
		if prob := checkAttr(attrs[i], a.Value); !prob.IsZero() {
			v.report(line, d, t.Name.Local, prob)
		}
	}
	for i, a := range attrs {
		if a.required && seen&(1<<uint(i%64)) == 0 {
			v.report(line, d, t.Name.Local, msg.M(msg.XsdAttrRequired, a.name.local))
		}
	}
}

func isNamespaceDecl(n xml.Name) bool {
	return n.Space == "xmlns" || (n.Space == "" && n.Local == "xmlns")
}

func findAttr(attrs []*attrDecl, q qname) int {
	for i, a := range attrs {
		if a.name == q {
			return i
		}
	}
	return -1
}

func checkAttr(a *attrDecl, val string) msg.Message {
	if prob := a.typ.validate(val); !prob.IsZero() {
		return msg.M(msg.XsdAttrValue, a.name.local, prob)
	}
	if a.fixed != nil && !sameValue(a.typ, val, *a.fixed) {
		return msg.M(msg.XsdAttrFixed, a.name.local, *a.fixed, clip(val))
	}
	return msg.Message{}
}

// sameValue compares two literals of t in its value space.
func sameValue(t *simpleType, a, b string) bool {
	for t.union != nil { // compare as the first member; fixed values on unions do not occur in FA(3)
		t = t.union[0]
	}
	va, m1 := t.parseValue(normalize(a, t.ws))
	vb, m2 := t.parseValue(normalize(b, t.ws))
	return m1.IsZero() && m2.IsZero() && t.prim.cmp(va, vb) == 0
}

func (v *validator) chars(t xml.CharData, off int) {
	if len(v.stack) == 0 {
		if trimmed := bytes.TrimLeft(t, " \t\r\n"); len(trimmed) > 0 {
			v.fail(v.lineAt(off+len(t)-len(trimmed)), notWellFormed(msg.M(msg.XsdTextOutsideRoot)))
		}
		return
	}
	f := &v.stack[len(v.stack)-1]
	switch {
	case f.skip:
	case f.st != nil:
		f.text = append(f.text, t...)
	case f.decl.anyType || (f.ct != nil && f.ct.mixed):
	default:
		trimmed := bytes.TrimLeft(t, " \t\r\n")
		if len(trimmed) > 0 && !f.noted {
			f.noted = true
			line := v.lineAt(off + len(t) - len(trimmed))
			v.report(line, f.decl, f.local, msg.M(msg.XsdTextNotAllowed, clip(strings.TrimSpace(string(trimmed))), f.local))
		}
	}
}

func (v *validator) end(line int) {
	f := &v.stack[len(v.stack)-1]
	switch {
	case f.skip:
	case f.st != nil:
		v.endSimple(f)
	case f.ct != nil && !f.failed:
		if prob, missing := f.ct.model.end(&f.state); !prob.IsZero() {
			e := Error{Line: line, Path: v.path(), Element: f.local, Label: f.decl.label, Msg: prob}
			if missing != nil {
				e.Element, e.Label = missing.name.local, missing.label
			}
			v.errs = append(v.errs, e)
		}
	}
	v.stack = v.stack[:len(v.stack)-1]
	if len(v.stack) == 0 {
		v.rootEnd = true
	}
}

func (v *validator) endSimple(f *frame) {
	if f.noted { // child elements already reported
		return
	}
	d := f.decl
	val := string(f.text)
	if val == "" && d.fixed != nil {
		return // an empty element takes the fixed value
	}
	if val == "" && d.deflt != nil {
		val = *d.deflt
	}
	if prob := f.st.validate(val); !prob.IsZero() {
		v.report(f.line, d, f.local, prob)
		return
	}
	if d.fixed != nil && !sameValue(f.st, val, *d.fixed) {
		v.report(f.line, d, f.local, msg.M(msg.XsdFixedValue, *d.fixed, clip(val)))
	}
}

// expectedRoots names the one root the schema declares (a Message), or is "" when there are more.
func (s *Schema) expectedRoots() any {
	if len(s.roots) != 1 {
		return ""
	}
	for q := range s.roots {
		return msg.M(msg.XsdExpectedRoot, q.local, q.ns)
	}
	return ""
}
