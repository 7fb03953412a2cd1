package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads, decodes, resolves and validates the configuration file at path. When anything is
// wrong it returns a *Problems listing every problem found; other errors (file unreadable) are
// returned wrapped.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	cfg, problems := parse(data)
	if cfg != nil {
		cfg.Path = abs
		dir := filepath.Dir(abs)
		cfg.resolvePaths(dir)
		problems = append(problems, cfg.loadCompaniesDir(dir)...)
		if cfg.MultiCompany() {
			cfg.buildFleet(dir)
		} else {
			expandFolders(&cfg.Folders, DefaultCompanyName, cfg.KSeF.NIP)
		}
		problems = append(problems, cfg.validate()...)
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, &problems
	}
	return cfg, nil
}

// maxDecodeRetries bounds the retry loop in parse; a config file has far fewer keys than this.
const maxDecodeRetries = 200

// parse decodes data over the defaults. The TOML decoder stops at the first value it cannot store
// (wrong type, bad duration), so parse records that key as a problem, drops it and decodes again:
// the administrator then sees every bad value at once, not one per restart.
func parse(data []byte) (*Config, Problems) {
	var problems Problems
	var raw map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		problems.add("", "the file is not valid TOML: %s", syntaxMessage(err))
		return nil, problems
	}
	for range maxDecodeRetries {
		cfg := Defaults()
		md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&cfg)
		if err == nil {
			problems = append(problems, unknownKeys(md.Undecoded(), raw)...)
			cfg.noteSetKeys(raw)
			return &cfg, problems
		}
		key, msg := valueError(err)
		if key == "" || !deleteKey(raw, strings.Split(key, ".")) {
			problems.add(key, "%s", msg)
			return nil, problems
		}
		problems.add(key, "%s", msg)
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(raw); err != nil {
			problems.add("", "cannot re-read the file after the errors above: %v", err)
			return nil, problems
		}
		data = buf.Bytes()
	}
	problems.add("", "too many invalid values")
	return nil, problems
}

func syntaxMessage(err error) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d column %d: %s", pe.Position.Line, pe.Position.Col, pe.Message)
	}
	return err.Error()
}

var lastKeyRE = regexp.MustCompile(`\(last key "([^"]+)"\): (.*)$`)

// valueError extracts the offending key and a readable message from a decoding error.
func valueError(err error) (key, msg string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.LastKey, pe.Message
	}
	if m := lastKeyRE.FindStringSubmatch(err.Error()); m != nil {
		return m[1], wrongType(m[2])
	}
	return "", err.Error()
}

var destTypeRE = regexp.MustCompile(`TOML value has type (\S+); destination has type (\w+)`)

// wrongType rewrites the decoder's Go-flavoured type message for an administrator.
func wrongType(msg string) string {
	m := destTypeRE.FindStringSubmatch(msg)
	if m == nil {
		return "wrong type: " + msg
	}
	switch {
	case m[1] == "time.Time":
		return "wrong type: a date must be written in quotes, e.g. \"2026-02-01\""
	case m[2] == "integer":
		return "wrong type: must be a whole number without quotes"
	case m[2] == "boolean" || m[2] == "bool":
		return "wrong type: must be true or false without quotes"
	case m[2] == "string":
		return "wrong type: must be text in quotes"
	case m[2] == "slice" || m[2] == "array":
		return "wrong type: must be a list such as [\"a\", \"b\"]"
	}
	return "wrong type: " + msg
}

func deleteKey(m map[string]any, path []string) bool {
	if tables, ok := m[path[0]].([]map[string]any); ok && len(path) > 1 {
		// An array of tables ([[company]]): the decoder does not say which one; drop it from each.
		found := false
		for _, t := range tables {
			found = deleteKey(t, path[1:]) || found
		}
		return found
	}
	if len(path) == 1 {
		if _, ok := m[path[0]]; !ok {
			return false
		}
		delete(m, path[0])
		return true
	}
	sub, ok := m[path[0]].(map[string]any)
	if !ok {
		return false
	}
	return deleteKey(sub, path[1:])
}

// unknownKeys turns undecoded keys into problems, reporting only the outermost unknown key of a
// misspelt table and suggesting the closest known key.
func unknownKeys(keys []toml.Key, raw map[string]any) Problems {
	var problems Problems
	known := knownKeys()
	reported := map[string]bool{}
	for _, k := range keys {
		name := k.String()
		if len(k) > 1 && reported[toml.Key(k[:len(k)-1]).String()] {
			reported[name] = true
			continue
		}
		reported[name] = true
		if msg := inlineSecret(k[len(k)-1]); msg != "" {
			problems.add(name, "%s", msg)
			continue
		}
		if len(k) > 1 && k[0] == "company" {
			problems = append(problems, unknownCompanyKey(k[1:], raw)...)
			continue
		}
		problems.add(name, "%s", unknownKey(name, closestKey(name, known)))
	}
	return problems
}

// unknownKey is the problem text for the unknown key name, suggesting the known key meant ("" for
// none).
func unknownKey(name, meant string) string {
	if meant == "" {
		return "unknown key " + name
	}
	return "unknown key " + name + "; did you mean " + meant + "?"
}

// closestKey is closest, except that a key inside a named table ([credentials.office]) is
// compared with the table's keys whatever its name.
func closestKey(name string, known []string) string {
	parts := strings.SplitN(name, ".", 3)
	if len(parts) == 3 && parts[0] == "credentials" {
		if s := closest("credentials.*."+parts[2], known); s != "" {
			return strings.Replace(s, "*", parts[1], 1)
		}
		return ""
	}
	return closest(name, known)
}

// unknownCompanyKey reports an unknown key inside [[company]] tables once per company that has it,
// as `company "beta": folders.outbx`.
func unknownCompanyKey(k toml.Key, raw map[string]any) Problems {
	var problems Problems
	name := k.String()
	msg := unknownKey(name, closest(name, companyKeys()))
	tables, _ := raw["company"].([]map[string]any)
	for i, t := range tables {
		if !hasPath(t, k) {
			continue
		}
		who, _ := t["name"].(string)
		if who == "" {
			who = fmt.Sprintf("#%d", i+1)
		}
		problems.add(fmt.Sprintf("company %q: %s", who, name), "%s", msg)
	}
	return problems
}

func hasPath(m map[string]any, k toml.Key) bool {
	v, ok := m[k[0]]
	if !ok || len(k) == 1 {
		return ok
	}
	sub, ok := v.(map[string]any)
	return ok && hasPath(sub, k[1:])
}

// inlineSecret explains why a secret-looking unknown key is refused instead of merely calling it unknown.
func inlineSecret(leaf string) string {
	leaf = strings.ToLower(leaf)
	if strings.HasSuffix(leaf, "_env") || strings.HasSuffix(leaf, "_file") {
		return ""
	}
	switch {
	case strings.Contains(leaf, "password"):
		return "passwords are never inline: use key_password_env or key_password_file"
	case leaf == "token" || leaf == "ksef_token":
		return "tokens are never inline: use token_file or token_env"
	}
	return ""
}

// knownKeys lists every dotted key and table name the Config struct accepts.
func knownKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			tag := strings.Split(f.Tag.Get("toml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			keys = append(keys, prefix+tag)
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[Duration]() && f.Type != reflect.TypeFor[OfflineMode]():
				walk(f.Type, prefix+tag+".")
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct: // [[company]]
				walk(f.Type.Elem(), prefix+tag+".")
			case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct: // [credentials.NAME]
				walk(f.Type.Elem(), prefix+tag+".*.")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return keys
}

// closest returns the known key nearest to name, or "" when nothing is plausibly meant.
func closest(name string, known []string) string {
	best, bestDist := "", len(name)/2+1
	for _, k := range known {
		if d := levenshtein(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		// A right key in the wrong table ("send.patterns") is a common slip.
		leaf := name[strings.LastIndex(name, ".")+1:]
		for _, k := range known {
			if strings.HasSuffix(k, "."+leaf) {
				return k
			}
		}
	}
	return best
}

// sortProblems orders problems as the keys appear in the example file, unknown keys last in their
// table, so the report reads top to bottom and does not depend on decoding order.
func sortProblems(ps Problems) {
	known := knownKeys()
	rank := func(key string) int {
		if i := slices.Index(known, key); i >= 0 {
			return 2 * i
		}
		for k := key; strings.Contains(k, "."); {
			k = k[:strings.LastIndex(k, ".")]
			if slices.Contains(known, k) {
				last := 0
				for j, kk := range known {
					if strings.HasPrefix(kk, k+".") {
						last = j
					}
				}
				return 2*last + 1
			}
		}
		return 2 * len(known)
	}
	slices.SortStableFunc(ps, func(a, b Problem) int { return rank(a.Key) - rank(b.Key) })
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
