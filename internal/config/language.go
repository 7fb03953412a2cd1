package config

import "github.com/ksef-sync/ksef-sync/internal/msg"

// Lang is the language of the text ksef-sync writes for people: the hints and descriptions in
// error files and the `status` text (top-level key language; Polish by default). Log lines stay
// English for support whatever it says.
func (c *Config) Lang() msg.Lang {
	l, _ := msg.Parse(c.Language)
	return l
}

// RenderLanguage is the label language of the readable copies: [render] language when set,
// otherwise the top-level language.
func (c *Config) RenderLanguage() string {
	if c.Render.Language != "" {
		return c.Render.Language
	}
	return string(c.Lang())
}

func (c *Config) validateLanguage(ps *Problems) {
	oneOf(ps, "language", c.Language, "pl", "en")
	if c.Render.Language != "" {
		oneOf(ps, "render.language", c.Render.Language, "pl", "en")
	}
}
