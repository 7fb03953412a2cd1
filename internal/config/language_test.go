package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/internal/msg"
)

// TestLanguage: the top-level language is Polish by default, "en" switches error-file text and
// status to English, and [render] language overrides it for the readable copies only (issue 11
// item 4).
func TestLanguage(t *testing.T) {
	tests := []struct {
		name       string
		top        string // prepended before the first table
		render     string // appended as [render] language
		wantLang   msg.Lang
		wantRender string
	}{
		{"default", "", "", msg.PL, "pl"},
		{"english", `language = "en"`, "", msg.EN, "en"},
		{"english, Polish labels", `language = "en"`, "pl", msg.EN, "pl"},
		{"Polish, English labels", "", "en", msg.PL, "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.top + "\n" + baseConfig
			if tt.render != "" {
				text += "[render]\nlanguage = \"" + tt.render + "\"\n"
			}
			cfg := mustLoad(t, writeConfig(t, text))
			if got := [2]string{string(cfg.Lang()), cfg.RenderLanguage()}; got != [2]string{string(tt.wantLang), tt.wantRender} {
				t.Errorf("Lang, RenderLanguage = %q, want %q, %q", got, tt.wantLang, tt.wantRender)
			}
		})
	}
	var keys []string
	for _, p := range loadProblems(t, "language = \"de\"\n"+baseConfig+"[render]\nlanguage = \"fr\"\n") {
		keys = append(keys, p.Key)
	}
	if diff := cmp.Diff([]string{"language", "render.language"}, keys); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
