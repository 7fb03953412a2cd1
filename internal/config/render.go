package config

// Render configures the readable copies (PDF, HTML) of invoices and UPOs written next to the XML.
type Render struct {
	Formats  []string `toml:"formats"`  // pdf | html; empty turns rendering off
	Language string   `toml:"language"` // pl | en; empty: the top-level language
	Targets  []string `toml:"targets"`  // sent | inbox
}

// Enabled reports whether anything is rendered for target ("sent" or "inbox").
func (r Render) Enabled(target string) bool {
	if len(r.Formats) == 0 {
		return false
	}
	for _, t := range r.Targets {
		if t == target {
			return true
		}
	}
	return false
}

func (c *Config) validateRender(ps *Problems) {
	for _, f := range c.Render.Formats {
		oneOf(ps, "render.formats", f, "pdf", "html")
	}
	c.validateLanguage(ps) // language.go: the top-level key and its [render] override
	for _, t := range c.Render.Targets {
		oneOf(ps, "render.targets", t, "sent", "inbox")
	}
}
