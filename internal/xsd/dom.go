package xsd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// XSDNamespace is the namespace of XML Schema's own elements and built-in types.
const XSDNamespace = "http://www.w3.org/2001/XMLSchema"

// node is one element of a schema document, with the namespace bindings in scope so that QName
// attribute values (type="etd:TData") can be resolved.
type node struct {
	name     xml.Name
	attrs    map[string]string // unqualified attributes only: XSD's own are all unqualified
	children []*node
	text     string
	ns       map[string]string // prefix → namespace in scope ("" = default namespace)
	doc      *schemaDoc
}

// schemaDoc is one parsed schema file.
type schemaDoc struct {
	file            string
	targetNS        string
	elemQualified   bool
	attrQualified   bool
	root            *node
	includesImports []string // schemaLocation values
}

func parseSchemaDoc(file string, data []byte) (*schemaDoc, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	doc := &schemaDoc{file: file}
	var stack []*node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name, attrs: map[string]string{}, doc: doc}
			n.ns = map[string]string{}
			if len(stack) > 0 {
				for k, v := range stack[len(stack)-1].ns {
					n.ns[k] = v
				}
			}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					n.ns[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					n.ns[""] = a.Value
				case a.Name.Space == "":
					n.attrs[a.Name.Local] = a.Value
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				doc.root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if doc.root == nil || doc.root.name != (xml.Name{Space: XSDNamespace, Local: "schema"}) {
		return nil, fmt.Errorf("%s: not an XML Schema document", file)
	}
	doc.targetNS = doc.root.attrs["targetNamespace"]
	doc.elemQualified = doc.root.attrs["elementFormDefault"] == "qualified"
	doc.attrQualified = doc.root.attrs["attributeFormDefault"] == "qualified"
	for _, c := range doc.root.children {
		if c.isXSD("include") || c.isXSD("import") {
			if loc := c.attrs["schemaLocation"]; loc != "" {
				doc.includesImports = append(doc.includesImports, loc)
			}
		}
	}
	return doc, nil
}

func (n *node) isXSD(local string) bool {
	return n.name.Space == XSDNamespace && n.name.Local == local
}

// xsdChildren returns the XSD children of n other than annotations.
func (n *node) xsdChildren() []*node {
	out := make([]*node, 0, len(n.children))
	for _, c := range n.children {
		if c.name.Space == XSDNamespace && c.name.Local != "annotation" {
			out = append(out, c)
		}
	}
	return out
}

func (n *node) child(local string) *node {
	for _, c := range n.children {
		if c.isXSD(local) {
			return c
		}
	}
	return nil
}

// documentation is the text of n's first xsd:annotation/xsd:documentation, whitespace collapsed.
func (n *node) documentation() string {
	if n == nil {
		return ""
	}
	a := n.child("annotation")
	if a == nil {
		return ""
	}
	d := a.child("documentation")
	if d == nil {
		return ""
	}
	return strings.Join(strings.Fields(d.text), " ")
}

// resolveQName turns a QName attribute value into an expanded name using n's namespace bindings.
func (n *node) resolveQName(v string) (qname, error) {
	prefix, local, ok := strings.Cut(strings.TrimSpace(v), ":")
	if !ok {
		local, prefix = prefix, ""
	}
	ns, found := n.ns[prefix]
	if !found && prefix != "" {
		return qname{}, fmt.Errorf("%s: undeclared prefix %q in %q", n.doc.file, prefix, v)
	}
	return qname{ns, local}, nil
}
