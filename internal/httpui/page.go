package httpui

import (
	_ "embed"
	"html/template"
	"io"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/status"
)

// page.html is embedded: the page fetches nothing from the internet and needs no JavaScript.
//
//go:embed page.html
var pageHTML string

// pageTmpls holds the page in each language; a zero Lang is Polish.
var pageTmpls = map[msg.Lang]*template.Template{msg.PL: parsePage(msg.PL), msg.EN: parsePage(msg.EN)}

// parsePage binds the page's words to l: labels come from the catalogue in internal/msg
// ({{t "key" args…}}), the status lines are the ones `ksef-sync status` prints.
func parsePage(l msg.Lang) *template.Template {
	return template.Must(template.New("page").Funcs(template.FuncMap{
		"t":           func(key string, args ...any) string { return l.T(msg.Key(key), args...) },
		"lang":        func() string { return string(l) },
		"daemonLine":  func(d status.Daemon) string { return status.DaemonLine(l, d) },
		"ksefLine":    func(k status.KSeF) string { return status.KSeFLine(l, k) },
		"availLine":   func(a *status.Availability) string { return status.AvailabilityLine(l, a) },
		"serviceLine": func(s string) string { return status.ServiceLine(l, s) },
		"orNever":     func(s string) string { return status.OrNever(l, s) },
		"oneLine":     status.OneLine,
		"states":      func() []string { return stateNames() },
		"sortedKeys":  status.SortedKeys,
	}).Parse(pageHTML))
}

func stateNames() []string {
	out := make([]string, len(status.States))
	for i, s := range status.States {
		out[i] = string(s)
	}
	return out
}

// refreshSeconds is how often the page reloads itself (a meta refresh, no script).
const refreshSeconds = 10

func renderPage(w io.Writer, rep *status.Report, l msg.Lang) error {
	tmpl, ok := pageTmpls[l]
	if !ok {
		tmpl = pageTmpls[msg.PL]
	}
	return tmpl.Execute(w, struct {
		*status.Report
		Refresh int
	}{rep, refreshSeconds})
}
