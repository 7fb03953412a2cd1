//go:build !windows

package main

// defaultConfigPath is where the service looks for its config on Linux.
func defaultConfigPath() string { return "/etc/ksef-sync/config.toml" }
