package xsd

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/ksef-sync/ksef-sync/internal/msg"
)

type qname struct{ ns, local string }

// elemDecl is an element declaration.
type elemDecl struct {
	name    qname
	label   string // the schema's documentation, for hints
	simple  *simpleType
	complex *complexType
	anyType bool // no type: anything goes
	fixed   *string
	deflt   *string
	max     int
}

// complexType is a compiled complex type.
type complexType struct {
	name     string
	attrs    []*attrDecl
	simple   *simpleType // simple content
	model    *automaton  // element-only content (nil with simple content)
	mixed    bool
	children map[qname]*elemDecl // every element the model declares, to keep validating after an error

	particle *particle // the model as written, for types that extend this one
	done     bool
}

type attrDecl struct {
	name     qname
	typ      *simpleType
	required bool
	fixed    *string
}

// Schema is a compiled schema set, safe for concurrent use.
type Schema struct {
	roots map[qname]*elemDecl
}

type compiler struct {
	docs     []*schemaDoc
	builtins map[string]*simpleType
	simpleN  map[qname]*node
	complexN map[qname]*node
	elemN    map[qname]*node
	simple   map[qname]*simpleType
	complex  map[qname]*complexType
	elems    map[qname]*elemDecl
}

// Compile loads the schema document main from fsys and every document it includes or imports
// (looked up by the base name of their schemaLocation, so remote locations resolve to the local
// copies beside main).
func Compile(fsys fs.FS, main string) (*Schema, error) {
	c := &compiler{
		builtins: builtinTypes(),
		simpleN:  map[qname]*node{}, complexN: map[qname]*node{}, elemN: map[qname]*node{},
		simple: map[qname]*simpleType{}, complex: map[qname]*complexType{}, elems: map[qname]*elemDecl{},
	}
	dir := path.Dir(main)
	loaded := map[string]bool{}
	queue := []string{path.Base(main)}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if loaded[name] {
			continue
		}
		loaded[name] = true
		data, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		doc, err := parseSchemaDoc(name, data)
		if err != nil {
			return nil, err
		}
		c.docs = append(c.docs, doc)
		for _, loc := range doc.includesImports {
			queue = append(queue, path.Base(loc))
		}
	}
	for _, d := range c.docs {
		c.index(d)
	}
	s := &Schema{roots: map[qname]*elemDecl{}}
	for q := range c.elemN {
		e, err := c.globalElement(q)
		if err != nil {
			return nil, err
		}
		s.roots[q] = e
	}
	// Compile every named type too, so a broken schema fails here and not on some invoice.
	for q := range c.simpleN {
		if _, err := c.namedSimple(q); err != nil {
			return nil, err
		}
	}
	for q := range c.complexN {
		if _, err := c.namedComplex(q); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (c *compiler) index(d *schemaDoc) {
	for _, n := range d.root.children {
		q := qname{d.targetNS, n.attrs["name"]}
		switch {
		case n.isXSD("simpleType"):
			c.simpleN[q] = n
		case n.isXSD("complexType"):
			c.complexN[q] = n
		case n.isXSD("element"):
			c.elemN[q] = n
		}
	}
}

func (c *compiler) errorf(n *node, format string, a ...any) error {
	return fmt.Errorf("%s: <%s name=%q>: %s", n.doc.file, n.name.Local, n.attrs["name"], fmt.Sprintf(format, a...))
}

// typeRef resolves a type QName to a simple or complex type.
func (c *compiler) typeRef(n *node, ref string) (*simpleType, *complexType, error) {
	q, err := n.resolveQName(ref)
	if err != nil {
		return nil, nil, err
	}
	if q.ns == XSDNamespace {
		if q.local == "anyType" {
			return nil, nil, nil
		}
		if t, ok := c.builtins[q.local]; ok {
			return t, nil, nil
		}
		return nil, nil, c.errorf(n, "built-in type xsd:%s is not supported", q.local)
	}
	if _, ok := c.simpleN[q]; ok {
		t, err := c.namedSimple(q)
		return t, nil, err
	}
	if _, ok := c.complexN[q]; ok {
		t, err := c.namedComplex(q)
		return nil, t, err
	}
	return nil, nil, c.errorf(n, "unknown type %s", ref)
}

func (c *compiler) simpleRef(n *node, ref string) (*simpleType, error) {
	st, ct, err := c.typeRef(n, ref)
	switch {
	case err != nil:
		return nil, err
	case ct != nil:
		if ct.simple == nil {
			return nil, c.errorf(n, "%s is not a simple type", ref)
		}
		return ct.simple, nil
	case st == nil:
		return c.builtins["anySimpleType"], nil
	}
	return st, nil
}

func (c *compiler) namedSimple(q qname) (*simpleType, error) {
	if t, ok := c.simple[q]; ok {
		if t == nil {
			return nil, fmt.Errorf("simple type %s derives from itself", q.local)
		}
		return t, nil
	}
	c.simple[q] = nil
	t, err := c.simpleType(c.simpleN[q], q.local)
	if err != nil {
		return nil, err
	}
	c.simple[q] = t
	return t, nil
}

// simpleType compiles an xsd:simpleType element.
func (c *compiler) simpleType(n *node, name string) (*simpleType, error) {
	if r := n.child("restriction"); r != nil {
		return c.restriction(r, name)
	}
	if u := n.child("union"); u != nil {
		t := &simpleType{name: name, f: noFacets()}
		for _, ref := range strings.Fields(u.attrs["memberTypes"]) {
			m, err := c.simpleRef(u, ref)
			if err != nil {
				return nil, err
			}
			t.union = append(t.union, m)
		}
		for _, k := range u.xsdChildren() {
			if k.isXSD("simpleType") {
				m, err := c.simpleType(k, "")
				if err != nil {
					return nil, err
				}
				t.union = append(t.union, m)
			}
		}
		return t, nil
	}
	return nil, c.errorf(n, "only restriction and union simple types are supported")
}

// restriction compiles xsd:restriction inside a simpleType (or simpleContent with a simple base).
func (c *compiler) restriction(r *node, name string) (*simpleType, error) {
	var base *simpleType
	var err error
	if b := r.attrs["base"]; b != "" {
		base, err = c.simpleRef(r, b)
	} else if st := r.child("simpleType"); st != nil {
		base, err = c.simpleType(st, "")
	} else {
		err = c.errorf(r, "restriction without a base")
	}
	if err != nil {
		return nil, err
	}
	if base.union != nil {
		return nil, c.errorf(r, "restricting a union is not supported")
	}
	t := &simpleType{name: name, base: base, prim: base.prim, ws: base.ws, integer: base.integer, f: noFacets()}
	if t.name == "" {
		t.name = base.name
	}
	for _, f := range r.xsdChildren() {
		if err := c.facet(t, f); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (c *compiler) facet(t *simpleType, f *node) error {
	v, hasValue := f.attrs["value"]
	if !hasValue {
		if f.isXSD("simpleType") {
			return nil
		}
		return c.errorf(f, "facet without a value")
	}
	intVal := func() (int, error) {
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || i < 0 {
			return 0, c.errorf(f, "bad %s value %q", f.name.Local, v)
		}
		return i, nil
	}
	bound := func() (*value, error) {
		val, prob := t.base.parseValue(normalize(v, wsCollapse))
		if !prob.IsZero() {
			return nil, c.errorf(f, "bad %s value: %s", f.name.Local, prob.In(msg.EN))
		}
		return &val, nil
	}
	var err error
	switch f.name.Local {
	case "pattern":
		re, perr := compilePattern(v)
		if perr != nil {
			return c.errorf(f, "%v", perr)
		}
		t.f.patterns = append(t.f.patterns, re)
		t.f.patternSrc = append(t.f.patternSrc, v)
	case "enumeration":
		val, prob := t.base.parseValue(normalize(v, t.ws))
		if !prob.IsZero() {
			return c.errorf(f, "bad enumeration value: %s", prob.In(msg.EN))
		}
		t.f.enum = append(t.f.enum, val)
		t.f.enumLex = append(t.f.enumLex, normalize(v, t.ws))
	case "length":
		t.f.length, err = intVal()
	case "minLength":
		t.f.minLen, err = intVal()
	case "maxLength":
		t.f.maxLen, err = intVal()
	case "totalDigits":
		t.f.totalDig, err = intVal()
	case "fractionDigits":
		t.f.fracDig, err = intVal()
	case "minInclusive", "maxInclusive", "minExclusive", "maxExclusive":
		lim := t.f.limit(f.name.Local)
		lim.v, err = bound()
		lim.lex = v
	case "whiteSpace":
		ws, ok := whiteSpaces[v]
		if !ok {
			return c.errorf(f, "bad whiteSpace %q", v)
		}
		t.ws = ws
		if t.prim != primString && t.ws != wsCollapse {
			t.ws = wsCollapse // fixed to collapse for every non-string primitive
		}
	default:
		return c.errorf(f, "facet %s is not supported", f.name.Local)
	}
	return err
}

func (c *compiler) namedComplex(q qname) (*complexType, error) {
	if t, ok := c.complex[q]; ok {
		return t, nil // possibly still being compiled: elements only keep the pointer
	}
	t := &complexType{name: q.local}
	c.complex[q] = t
	if err := c.complexType(c.complexN[q], t); err != nil {
		return nil, err
	}
	return t, nil
}

// complexType compiles an xsd:complexType element into t.
func (c *compiler) complexType(n *node, t *complexType) error {
	t.mixed = n.attrs["mixed"] == "true"
	var err error
	switch {
	case n.child("simpleContent") != nil:
		err = c.simpleContent(n.child("simpleContent"), t)
	case n.child("complexContent") != nil:
		err = c.complexContent(n.child("complexContent"), t)
	default:
		err = c.groupAndAttrs(n, t)
	}
	if err != nil {
		return err
	}
	return c.finish(n, t)
}

func (c *compiler) finish(n *node, t *complexType) error {
	t.done = true
	if t.simple != nil {
		return nil
	}
	a, err := buildAutomaton(t.particle)
	if err != nil {
		return c.errorf(n, "%v", err)
	}
	t.model = a
	t.children = map[qname]*elemDecl{}
	for _, d := range a.pos {
		t.children[d.name] = d
	}
	return nil
}

// groupAndAttrs reads the model group and attribute declarations directly inside n.
func (c *compiler) groupAndAttrs(n *node, t *complexType) error {
	for _, k := range n.xsdChildren() {
		switch {
		case k.isXSD("sequence") || k.isXSD("choice") || k.isXSD("all"):
			p, err := c.particle(k)
			if err != nil {
				return err
			}
			t.particle = p
		case k.isXSD("attribute"):
			a, err := c.attribute(k)
			if err != nil {
				return err
			}
			t.attrs = append(t.attrs, a)
		case k.isXSD("anyAttribute") || k.isXSD("group") || k.isXSD("attributeGroup"):
			return c.errorf(n, "%s is not supported", k.name.Local)
		}
	}
	return nil
}

func (c *compiler) complexContent(cc *node, t *complexType) error {
	if cc.attrs["mixed"] == "true" {
		t.mixed = true
	}
	d := cc.child("extension")
	restrict := d == nil
	if restrict {
		d = cc.child("restriction")
	}
	if d == nil {
		return c.errorf(cc, "complexContent needs an extension or a restriction")
	}
	_, base, err := c.typeRef(d, d.attrs["base"])
	if err != nil {
		return err
	}
	if base == nil || base.simple != nil {
		return c.errorf(d, "complexContent base %s must be a complex type with element content", d.attrs["base"])
	}
	if err := c.groupAndAttrs(d, t); err != nil {
		return err
	}
	t.attrs = mergeAttrs(base.attrs, t.attrs)
	if !restrict && base.particle != nil {
		if t.particle == nil {
			t.particle = base.particle
		} else {
			t.particle = &particle{kind: partSequence, min: 1, max: 1, kids: []*particle{base.particle, t.particle}}
		}
	}
	return nil
}

func mergeAttrs(base, own []*attrDecl) []*attrDecl {
	out := append([]*attrDecl(nil), own...)
	for _, b := range base {
		dup := false
		for _, o := range own {
			dup = dup || o.name == b.name
		}
		if !dup {
			out = append(out, b)
		}
	}
	return out
}

func (c *compiler) simpleContent(sc *node, t *complexType) error {
	d := sc.child("extension")
	if d == nil {
		return c.errorf(sc, "only simpleContent extension is supported")
	}
	st, base, err := c.typeRef(d, d.attrs["base"])
	if err != nil {
		return err
	}
	switch {
	case base != nil && base.simple != nil:
		t.simple = base.simple
		t.attrs = base.attrs
	case base != nil:
		return c.errorf(d, "simpleContent base %s has element content", d.attrs["base"])
	case st == nil:
		st = c.builtins["anySimpleType"]
		fallthrough
	default:
		t.simple = st
	}
	own := &complexType{}
	if err := c.groupAndAttrs(d, own); err != nil {
		return err
	}
	t.attrs = mergeAttrs(t.attrs, own.attrs)
	return nil
}

func occurs(n *node) (int, int, error) {
	min, max := 1, 1
	var err error
	if v, ok := n.attrs["minOccurs"]; ok {
		if min, err = strconv.Atoi(v); err != nil {
			return 0, 0, fmt.Errorf("bad minOccurs %q", v)
		}
	}
	if v, ok := n.attrs["maxOccurs"]; ok {
		if v == "unbounded" {
			max = unbounded
		} else if max, err = strconv.Atoi(v); err != nil {
			return 0, 0, fmt.Errorf("bad maxOccurs %q", v)
		}
	}
	return min, max, nil
}

func (c *compiler) particle(n *node) (*particle, error) {
	min, max, err := occurs(n)
	if err != nil {
		return nil, c.errorf(n, "%v", err)
	}
	p := &particle{min: min, max: max}
	if n.name.Local == "element" {
		p.kind = partElement
		if p.elem, err = c.localElement(n); err != nil {
			return nil, err
		}
		p.elem.max = max
		return p, nil
	}
	group, ok := modelGroups[n.name.Local]
	if !ok {
		return nil, c.errorf(n, "%s is not supported in a content model", n.name.Local)
	}
	p.kind = group
	for _, k := range n.xsdChildren() {
		kp, err := c.particle(k)
		if err != nil {
			return nil, err
		}
		p.kids = append(p.kids, kp)
	}
	return p, nil
}

func (c *compiler) globalElement(q qname) (*elemDecl, error) {
	if e, ok := c.elems[q]; ok {
		return e, nil
	}
	e := &elemDecl{name: q, max: 1}
	c.elems[q] = e
	return e, c.elementBody(c.elemN[q], e)
}

func (c *compiler) localElement(n *node) (*elemDecl, error) {
	if ref := n.attrs["ref"]; ref != "" {
		q, err := n.resolveQName(ref)
		if err != nil {
			return nil, err
		}
		if _, ok := c.elemN[q]; !ok {
			return nil, c.errorf(n, "unknown element %s", ref)
		}
		g, err := c.globalElement(q)
		if err != nil {
			return nil, err
		}
		cp := *g // the particle's maxOccurs must not leak into the global declaration
		return &cp, nil
	}
	ns := ""
	if form := n.attrs["form"]; form == "qualified" || (form == "" && n.doc.elemQualified) {
		ns = n.doc.targetNS
	}
	e := &elemDecl{name: qname{ns, n.attrs["name"]}}
	return e, c.elementBody(n, e)
}

func (c *compiler) elementBody(n *node, e *elemDecl) error {
	e.label = n.documentation()
	if v, ok := n.attrs["fixed"]; ok {
		e.fixed = &v
	}
	if v, ok := n.attrs["default"]; ok {
		e.deflt = &v
	}
	if n.attrs["nillable"] == "true" || n.attrs["abstract"] == "true" || n.attrs["substitutionGroup"] != "" {
		return c.errorf(n, "nillable, abstract and substitution groups are not supported")
	}
	var err error
	switch {
	case n.attrs["type"] != "":
		e.simple, e.complex, err = c.typeRef(n, n.attrs["type"])
	case n.child("simpleType") != nil:
		e.simple, err = c.simpleType(n.child("simpleType"), "")
	case n.child("complexType") != nil:
		e.complex = &complexType{}
		err = c.complexType(n.child("complexType"), e.complex)
	}
	if err != nil {
		return err
	}
	e.anyType = e.simple == nil && e.complex == nil
	if e.label == "" && e.complex != nil && e.complex.name != "" {
		e.label = c.complexN[qname{n.doc.targetNS, e.complex.name}].documentation()
	}
	return nil
}

func (c *compiler) attribute(n *node) (*attrDecl, error) {
	if n.attrs["ref"] != "" {
		return nil, c.errorf(n, "attribute references are not supported")
	}
	ns := ""
	if form := n.attrs["form"]; form == "qualified" || (form == "" && n.doc.attrQualified) {
		ns = n.doc.targetNS
	}
	a := &attrDecl{name: qname{ns, n.attrs["name"]}, required: n.attrs["use"] == "required"}
	if v, ok := n.attrs["fixed"]; ok {
		a.fixed = &v
	}
	var err error
	switch {
	case n.attrs["type"] != "":
		a.typ, err = c.simpleRef(n, n.attrs["type"])
	case n.child("simpleType") != nil:
		a.typ, err = c.simpleType(n.child("simpleType"), "")
	default:
		a.typ = c.builtins["anySimpleType"]
	}
	if n.attrs["use"] == "prohibited" {
		return nil, c.errorf(n, "prohibited attributes are not supported")
	}
	return a, err
}
