package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	sectionRE = regexp.MustCompile(`^\[([a-z_]+)\]\s*$`)
	// A key line, also when commented out: the example documents optional keys that way.
	keyRE = regexp.MustCompile(`^#?\s*([a-z][a-z0-9_]*)\s*=`)
)

// exampleKeys lists "section.key" for every key of config.example.toml, commented-out ones included,
// and "key" for the top-level keys before the first table.
func exampleKeys(t *testing.T, example string) []string {
	t.Helper()
	var keys []string
	section := ""
	for line := range strings.Lines(example) {
		line = strings.TrimSpace(line)
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			section = m[1]
			continue
		}
		if m := keyRE.FindStringSubmatch(line); m != nil {
			keys = append(keys, strings.TrimPrefix(section+"."+m[1], "."))
		}
	}
	// Cross-check the line scan against a real TOML decode of the active keys.
	var decoded map[string]any
	if _, err := toml.Decode(example, &decoded); err != nil {
		t.Fatal(err)
	}
	for sec, v := range decoded {
		kv, ok := v.(map[string]any)
		if !ok { // a top-level key
			if !hasString(keys, sec) {
				t.Errorf("the scan missed the top-level key %s", sec)
			}
			continue
		}
		for k := range kv {
			if !hasString(keys, sec+"."+k) {
				t.Errorf("the scan missed %s.%s", sec, k)
			}
		}
	}
	return keys
}

func hasString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestReadmeConfigTable(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	keys := exampleKeys(t, readRepoFile(t, "config.example.toml"))
	if len(keys) < 40 {
		t.Fatalf("only %d keys found in config.example.toml: the scan is broken", len(keys))
	}
	for _, k := range keys {
		if !strings.Contains(readme, "| `"+k+"` |") {
			t.Errorf("README's configuration table has no row for `%s`", k)
		}
	}
	// And the other way: no row for a key the example (and so the program) does not know.
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z_]+)` \\|").FindAllStringSubmatch(readme, -1) {
		if !hasString(keys, m[1]) {
			t.Errorf("README documents `%s`, which config.example.toml does not have", m[1])
		}
	}
}

func TestReadmeCommands(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	var rows []string
	for line := range strings.Lines(readme) {
		if strings.HasPrefix(line, "| `ksef-sync ") {
			rows = append(rows, line)
		}
	}
	if len(rows) == 0 {
		t.Fatal("README has no command table")
	}
	for _, c := range commands() {
		word := regexp.MustCompile(`(ksef-sync |\\\|)` + regexp.QuoteMeta(c.name) + `[ |\x60\\]`)
		found := false
		for _, r := range rows {
			if word.MatchString(r) {
				found = true
			}
		}
		if !found {
			t.Errorf("README's command table does not mention `ksef-sync %s`", c.name)
		}
	}
}
