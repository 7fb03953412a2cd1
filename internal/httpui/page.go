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

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	// The page is English throughout (an administrator's view); `status` speaks config language.
	"daemonLine": func(d status.Daemon) string { return status.DaemonLine(msg.EN, d) },
	"ksefLine":   func(k status.KSeF) string { return status.KSeFLine(msg.EN, k) },
	"oneLine":    status.OneLine,
	"states":     func() []string { return stateNames() },
	"sortedKeys": status.SortedKeys,
}).Parse(pageHTML))

func stateNames() []string {
	out := make([]string, len(status.States))
	for i, s := range status.States {
		out[i] = string(s)
	}
	return out
}

// refreshSeconds is how often the page reloads itself (a meta refresh, no script).
const refreshSeconds = 10

func renderPage(w io.Writer, rep *status.Report) error {
	return pageTmpl.Execute(w, struct {
		*status.Report
		Refresh int
	}{rep, refreshSeconds})
}
