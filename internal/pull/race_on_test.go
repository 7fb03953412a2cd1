//go:build race

package pull

const raceEnabled = true
