package config

import _ "embed"

// The canonical copy lives here because go:embed cannot reach outside the package directory;
// /config.example.toml at the repository root is an identical copy (a test keeps them equal).
//
//go:embed config.example.toml
var example []byte

// Example returns the annotated example configuration file.
func Example() []byte {
	return append([]byte(nil), example...)
}
