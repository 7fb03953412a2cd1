//go:build windows

package main

import "os"

// Windows has no SIGHUP; the config file's modification time triggers reloads there.
func notifyHUP(chan<- os.Signal) {}
