package render

// doc is a rendered document before it becomes PDF or HTML: the invoice and UPO builders fill it
// once, and each output format only lays it out. That keeps the PDF and the HTML saying the same.
type doc struct {
	lang     Lang
	lb       *labels
	kicker   string      // small line above the title (the system's name)
	title    string      // e.g. "Faktura podstawowa"
	heading  [][2]string // label/value pairs under the title: invoice and KSeF number
	blocks   []block
	qrs      []qrBlock
	created  string // document date for the PDF metadata (RFC 3339), "" = none
	docTitle string // PDF /Title
}

type blockKind int

const (
	kvBlock      blockKind = iota // label: value lines
	columnsBlock                  // side-by-side boxes (seller | buyer)
	tableBlock                    // a table whose header repeats on every page
	textBlock                     // free paragraphs
)

type block struct {
	kind    blockKind
	title   string
	pairs   [][2]string
	columns []column
	table   *table
	lines   []string
	strong  bool // label/value lines whose values are shown bold (the totals)
}

type column struct {
	title string
	lines []string // the first line is shown in bold (the name)
}

type table struct {
	cols []col
	rows []row
}

type col struct {
	head  string
	width float64 // relative
	right bool
}

type row struct {
	cells []string
	muted bool // a "state before" row of a correction, or a totals row shown lighter
	bold  bool
}

type qrBlock struct {
	title   string // what the code is for
	link    string // encoded in the code, printed under it
	label   string // the caption under the code: the KSeF number, OFFLINE or CERTYFIKAT
	caption string // the "link" label
}

func (d *doc) kv(title string, pairs ...[2]string) {
	var keep [][2]string
	for _, p := range pairs {
		if p[1] != "" {
			keep = append(keep, p)
		}
	}
	if len(keep) > 0 {
		d.blocks = append(d.blocks, block{kind: kvBlock, title: title, pairs: keep})
	}
}

func (d *doc) text(title string, lines ...string) {
	var keep []string
	for _, l := range lines {
		if l != "" {
			keep = append(keep, l)
		}
	}
	if len(keep) > 0 {
		d.blocks = append(d.blocks, block{kind: textBlock, title: title, lines: keep})
	}
}

func (d *doc) tableBlock(title string, t *table) {
	if len(t.rows) > 0 {
		d.blocks = append(d.blocks, block{kind: tableBlock, title: title, table: t})
	}
}

func pair(label, value string) [2]string { return [2]string{label, value} }
