package render

import (
	"bytes"
	"fmt"
	"html"
	"strings"
)

// writeHTML renders the document as one self-contained page (inline CSS, QR codes as inline SVG),
// readable in any browser and printable.
func writeHTML(d *doc) ([]byte, error) {
	var b bytes.Buffer
	e := html.EscapeString
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n",
		d.lang, e(d.docTitle), css)
	fmt.Fprintf(&b, "<header><p class=\"kicker\">%s</p><h1>%s</h1>\n<dl class=\"heading\">", e(d.kicker), e(d.title))
	for _, h := range d.heading {
		fmt.Fprintf(&b, "<dt>%s</dt><dd>%s</dd>", e(h[0]), e(h[1]))
	}
	b.WriteString("</dl></header>\n")
	for _, bl := range d.blocks {
		b.WriteString("<section>")
		if bl.title != "" {
			fmt.Fprintf(&b, "<h2>%s</h2>", e(bl.title))
		}
		switch bl.kind {
		case kvBlock:
			if bl.strong {
				b.WriteString("<dl class=\"strong\">")
			} else {
				b.WriteString("<dl>")
			}
			for _, p := range bl.pairs {
				fmt.Fprintf(&b, "<dt>%s</dt><dd>%s</dd>", e(p[0]), e(p[1]))
			}
			b.WriteString("</dl>")
		case textBlock:
			for _, l := range bl.lines {
				fmt.Fprintf(&b, "<p>%s</p>", e(l))
			}
		case columnsBlock:
			b.WriteString("<div class=\"parties\">")
			for _, c := range bl.columns {
				fmt.Fprintf(&b, "<div class=\"party\"><h3>%s</h3>", e(c.title))
				for i, l := range c.lines {
					if i == 0 {
						fmt.Fprintf(&b, "<p><strong>%s</strong></p>", e(l))
					} else {
						fmt.Fprintf(&b, "<p>%s</p>", e(l))
					}
				}
				b.WriteString("</div>")
			}
			b.WriteString("</div>")
		case tableBlock:
			writeHTMLTable(&b, bl.table)
		}
		b.WriteString("</section>\n")
	}
	for _, q := range d.qrs {
		svg, err := qrSVG(q.link)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "<section class=\"qr\"><h2>%s</h2><figure>%s<figcaption>%s</figcaption></figure><p>%s: <a href=\"%s\">%s</a></p></section>\n",
			e(q.title), svg, e(q.label), e(q.caption), e(q.link), e(q.link))
	}
	fmt.Fprintf(&b, "<footer>%s</footer>\n</body>\n</html>\n", e(d.lb.generated))
	return b.Bytes(), nil
}

func writeHTMLTable(b *bytes.Buffer, t *table) {
	e := html.EscapeString
	b.WriteString("<table><thead><tr>")
	for _, c := range t.cols {
		fmt.Fprintf(b, "<th>%s</th>", e(c.head))
	}
	b.WriteString("</tr></thead><tbody>")
	for _, r := range t.rows {
		if r.muted {
			b.WriteString("<tr class=\"muted\">")
		} else {
			b.WriteString("<tr>")
		}
		for i, c := range r.cells {
			if i < len(t.cols) && t.cols[i].right {
				fmt.Fprintf(b, "<td class=\"num\">%s</td>", e(c))
			} else {
				fmt.Fprintf(b, "<td>%s</td>", e(c))
			}
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
}

// qrSVG draws a QR code as one SVG path, one unit per module, with a four-module quiet zone.
func qrSVG(link string) (string, error) {
	bits, err := QRModules(link)
	if err != nil {
		return "", err
	}
	var p strings.Builder
	for y, row := range bits {
		for x := 0; x < len(row); x++ {
			if row[x] {
				fmt.Fprintf(&p, "M%d %dh1v1h-1z", x+4, y+4)
			}
		}
	}
	n := len(bits) + 8
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="160" height="160" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path d="%s" fill="#000"/></svg>`,
		n, n, n, n, p.String()), nil
}

const css = `body{font-family:system-ui,sans-serif;font-size:14px;max-width:60em;margin:2em auto;color:#111}
.kicker{color:#666;margin:0}h1{margin:.2em 0}h2{font-size:1.1em;border-bottom:1px solid #ccc;margin-top:1.5em}
dl{display:grid;grid-template-columns:18em 1fr;gap:.2em 1em}dt{color:#555}dd{margin:0}
.heading dd,.strong dd{font-weight:bold}.parties{display:flex;gap:1em}.party{flex:1;border:1px solid #bbb;padding:.5em}
.party h3{margin:0 0 .3em;font-size:1em}.party p{margin:.1em 0}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #bbb;padding:.2em .4em;text-align:left;vertical-align:top}th{background:#eee}
td.num{text-align:right;white-space:nowrap}tr.muted{color:#777}figure{margin:0;display:inline-block;text-align:center}
figcaption{font-weight:bold}footer{margin-top:2em;color:#777;font-size:.85em}
@media print{body{margin:0}}`
