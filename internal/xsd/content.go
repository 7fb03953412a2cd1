package xsd

import (
	"fmt"
	"sort"

	"github.com/ksef-sync/ksef-sync/internal/msg"
)

const unbounded = -1

type particleKind int

const (
	partElement particleKind = iota
	partSequence
	partChoice
	partAll
)

// modelGroups are the kinds of the model group elements, by their XSD names.
var modelGroups = map[string]particleKind{"sequence": partSequence, "choice": partChoice, "all": partAll}

// particle is a node of a content model as written in the schema.
type particle struct {
	kind     particleKind
	min, max int // max == unbounded for maxOccurs="unbounded"
	kids     []*particle
	elem     *elemDecl
}

// automaton is the Glushkov (position) automaton of a content model: one position per element
// particle. Repetition of an element (maxOccurs up to 50,000 in FA(3)) is a self-loop with a
// counter instead of copies of the position, so building it is linear in the size of the model.
// XSD's Unique Particle Attribution rule makes it deterministic: from any position an element
// name leads to at most one next position.
type automaton struct {
	pos        []*elemDecl
	posMin     []int
	posMax     []int
	start      map[qname]edge
	startFinal bool
	follow     []map[qname]edge
	final      []bool

	// all groups (xsd:all) are validated by the set of elements seen instead.
	all         bool
	allOptional bool
	allIndex    map[qname]int
}

type edge struct {
	to   int
	self bool // the counted self-loop of a repeated element
}

type glushkov struct{ a *automaton }

func buildAutomaton(root *particle) (*automaton, error) {
	a := &automaton{start: map[qname]edge{}}
	if root != nil && root.kind == partAll {
		return buildAll(root)
	}
	if root == nil {
		a.startFinal = true
		return a, nil
	}
	g := &glushkov{a: a}
	first, last, nullable, err := g.walk(root)
	if err != nil {
		return nil, err
	}
	for _, p := range first {
		if err := g.addEdge(a.start, p, false); err != nil {
			return nil, err
		}
	}
	a.startFinal = nullable
	for _, p := range last {
		a.final[p] = true
	}
	return a, nil
}

func buildAll(root *particle) (*automaton, error) {
	a := &automaton{all: true, allOptional: root.min == 0, allIndex: map[qname]int{}}
	for _, k := range root.kids {
		if k.kind != partElement || k.max > 1 || k.max == unbounded {
			return nil, fmt.Errorf("xsd:all may only hold elements with maxOccurs ≤ 1")
		}
		a.allIndex[k.elem.name] = len(a.pos)
		a.pos = append(a.pos, k.elem)
		a.posMin = append(a.posMin, k.min)
		a.posMax = append(a.posMax, 1)
	}
	return a, nil
}

func (g *glushkov) addEdge(m map[qname]edge, to int, self bool) error {
	name := g.a.pos[to].name
	if old, ok := m[name]; ok && old.to != to {
		return fmt.Errorf("content model is ambiguous for element %s (Unique Particle Attribution)", name.local)
	}
	if old, ok := m[name]; ok && !old.self {
		return nil // a plain edge (a repeated group) already resets the counter
	}
	m[name] = edge{to: to, self: self}
	return nil
}

func (g *glushkov) follows(from []int, to []int) error {
	for _, x := range from {
		for _, y := range to {
			if err := g.addEdge(g.a.follow[x], y, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// walk returns the first and last positions of p and whether p matches the empty sequence,
// adding follow edges along the way.
func (g *glushkov) walk(p *particle) (first, last []int, nullable bool, err error) {
	switch p.kind {
	case partElement:
		a := g.a
		i := len(a.pos)
		a.pos = append(a.pos, p.elem)
		a.posMin = append(a.posMin, p.min)
		a.posMax = append(a.posMax, p.max)
		a.follow = append(a.follow, map[qname]edge{})
		a.final = append(a.final, false)
		if p.max > 1 || p.max == unbounded {
			if err := g.addEdge(a.follow[i], i, true); err != nil {
				return nil, nil, false, err
			}
		}
		return []int{i}, []int{i}, p.min == 0, nil
	case partSequence:
		nullable = true
		for _, k := range p.kids {
			f, l, n, err := g.walk(k)
			if err != nil {
				return nil, nil, false, err
			}
			if err := g.follows(last, f); err != nil {
				return nil, nil, false, err
			}
			if nullable {
				first = append(first, f...)
			}
			if n {
				last = append(last, l...)
			} else {
				last = append([]int(nil), l...)
			}
			nullable = nullable && n
		}
	case partChoice:
		for _, k := range p.kids {
			f, l, n, err := g.walk(k)
			if err != nil {
				return nil, nil, false, err
			}
			first = append(first, f...)
			last = append(last, l...)
			nullable = nullable || n
		}
	case partAll:
		return nil, nil, false, fmt.Errorf("xsd:all must be the whole content model")
	}
	if p.max == unbounded {
		if err := g.follows(last, first); err != nil {
			return nil, nil, false, err
		}
	} else if p.max > 1 {
		return nil, nil, false, fmt.Errorf("maxOccurs > 1 on a group is not supported")
	}
	return first, last, nullable || p.min == 0, nil
}

// modelState is where an element's children have got to in its content model.
type modelState struct {
	pos   int // -1 before the first child
	count int // occurrences of pos so far
	seen  []bool
}

// step moves the state on child name. It returns a message when the child is not allowed, and the
// element that is missing before it when that explains the problem best.
func (a *automaton) step(st *modelState, name qname) (msg.Message, *elemDecl) {
	if a.all {
		i, ok := a.allIndex[name]
		if !ok {
			return a.unexpected(st, name), nil
		}
		if st.seen == nil {
			st.seen = make([]bool, len(a.pos))
		}
		if st.seen[i] {
			return msg.M(msg.XsdAppearsTwice, name.local), nil
		}
		st.seen[i] = true
		return msg.Message{}, nil
	}
	m := a.start
	if st.pos >= 0 {
		m = a.follow[st.pos]
	}
	e, ok := m[name]
	if !ok {
		if miss := a.missing(st.pos, func(p int) bool { return a.pos[p].name == name }); miss != nil {
			return msg.M(msg.XsdMissingBefore, orList(declNames(miss)), name.local), miss[0]
		}
		return a.unexpected(st, name), nil
	}
	if e.self && e.to == st.pos {
		if max := a.posMax[st.pos]; max != unbounded && st.count >= max {
			return msg.M(msg.XsdOccursTooOften, name.local, max), nil
		}
		st.count++
		return msg.Message{}, nil
	}
	if st.pos >= 0 && st.count < a.posMin[st.pos] {
		return a.tooRarely(st.pos), a.pos[st.pos]
	}
	st.pos, st.count = e.to, 1
	return msg.Message{}, nil
}

// missing finds what must come next on the shortest way from position from (-1: the start) to a
// position for which target holds: the candidates one step from from that are nearest to a
// target (for the end of content the target positions themselves are what is missing). Nil when
// no target can be reached (wrong order or a repetition instead of something missing).
func (a *automaton) missing(from int, target func(int) bool) []*elemDecl {
	rev := make([][]int, len(a.pos))
	for p, m := range a.follow {
		for _, e := range m {
			if e.to != p {
				rev[e.to] = append(rev[e.to], p)
			}
		}
	}
	dist := make([]int, len(a.pos))
	var queue []int
	for p := range a.pos {
		dist[p] = -1
		if target(p) {
			dist[p] = 0
			queue = append(queue, p)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range rev[p] {
			if dist[q] < 0 {
				dist[q] = dist[p] + 1
				queue = append(queue, q)
			}
		}
	}
	m := a.start
	if from >= 0 {
		m = a.follow[from]
	}
	best := -1
	var cands []int
	for _, e := range m {
		d := dist[e.to]
		if e.to == from || d < 0 {
			continue
		}
		switch {
		case best < 0 || d < best:
			best, cands = d, []int{e.to}
		case d == best:
			cands = append(cands, e.to)
		}
	}
	sort.Ints(cands)
	out := make([]*elemDecl, len(cands))
	for i, c := range cands {
		out[i] = a.pos[c]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func declNames(ds []*elemDecl) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.name.local
	}
	return out
}

// end checks that the content may stop here; it returns the message and the first missing element.
func (a *automaton) end(st *modelState) (msg.Message, *elemDecl) {
	if a.all {
		if st.seen == nil && a.allOptional {
			return msg.Message{}, nil
		}
		for i, d := range a.pos {
			if a.posMin[i] > 0 && (st.seen == nil || !st.seen[i]) {
				return msg.M(msg.XsdMissing, d.name.local), d
			}
		}
		return msg.Message{}, nil
	}
	isFinal := func(p int) bool { return a.final[p] }
	if st.pos < 0 {
		if a.startFinal {
			return msg.Message{}, nil
		}
		if miss := a.missing(-1, isFinal); miss != nil {
			return msg.M(msg.XsdMissing, orList(declNames(miss))), miss[0]
		}
		return msg.M(msg.XsdMissing, orList(a.expected(a.start))), firstDecl(a, a.start)
	}
	if st.count < a.posMin[st.pos] {
		return a.tooRarely(st.pos), a.pos[st.pos]
	}
	if a.final[st.pos] {
		return msg.Message{}, nil
	}
	after := a.pos[st.pos].name.local
	if miss := a.missing(st.pos, isFinal); miss != nil {
		return msg.M(msg.XsdMissingAfter, orList(declNames(miss)), after), miss[0]
	}
	m := a.follow[st.pos]
	return msg.M(msg.XsdMissingAfter, orList(a.expected(m)), after), firstDecl(a, m)
}

// tooRarely says the element at position pos has not occurred its minimum number of times.
func (a *automaton) tooRarely(pos int) msg.Message {
	return msg.M(msg.XsdOccursTooRarely, a.pos[pos].name.local, a.posMin[pos])
}

func (a *automaton) unexpected(st *modelState, name qname) msg.Message {
	var exp []string
	if a.all {
		for i, d := range a.pos {
			if st.seen == nil || !st.seen[i] {
				exp = append(exp, d.name.local)
			}
		}
	} else if st.pos < 0 {
		exp = a.expected(a.start)
	} else {
		exp = a.expected(a.follow[st.pos])
	}
	what := msg.M(msg.XsdElement, name.local)
	if !a.declares(name) {
		what = msg.M(msg.XsdUnknownElement, name.local)
		if name.ns != "" && a.declaresLocal(name.local) {
			what = msg.M(msg.XsdElementWrongNS, name.local, name.ns)
		} else if name.ns == "" && a.declaresLocal(name.local) {
			what = msg.M(msg.XsdElementNoNS, name.local)
		}
	}
	if len(exp) == 0 {
		return msg.M(msg.XsdNotAllowedNoMore, what)
	}
	return msg.M(msg.XsdNotAllowedExpect, what, orList(exp))
}

func (a *automaton) declares(name qname) bool {
	for _, d := range a.pos {
		if d.name == name {
			return true
		}
	}
	return false
}

func (a *automaton) declaresLocal(local string) bool {
	for _, d := range a.pos {
		if d.name.local == local {
			return true
		}
	}
	return false
}

// expected lists the element names m accepts, in schema order.
func (a *automaton) expected(m map[qname]edge) []string {
	idx := make([]int, 0, len(m))
	for _, e := range m {
		idx = append(idx, e.to)
	}
	sort.Ints(idx)
	out := make([]string, len(idx))
	for i, p := range idx {
		out[i] = a.pos[p].name.local
	}
	return out
}

func firstDecl(a *automaton, m map[qname]edge) *elemDecl {
	best := -1
	for _, e := range m {
		if best < 0 || e.to < best {
			best = e.to
		}
	}
	if best < 0 {
		return nil
	}
	return a.pos[best]
}

// orList names the alternatives, at most 8 of them (see orJoin).
func orList(names []string) any {
	if len(names) == 0 {
		return msg.M(msg.XsdNothing)
	}
	if len(names) > 8 {
		names = append(names[:8:8], "…")
	}
	return orJoin(names)
}
