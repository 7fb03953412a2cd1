//go:build !windows

package main

// defaultConfigPath is where the service looks for its config on Linux.
func defaultConfigPath() string { return "/etc/ksef-sync/config.toml" }

// defaultServiceLogFile is empty on Linux: systemd puts standard error into the journal.
func defaultServiceLogFile() string { return "" }
