//go:build race

package ksefsim

const raceEnabled = true
