// Package plzone holds the one time zone KSeF counts every date, deadline and folder name in.
//
// It embeds the tz database (time/tzdata) itself, so every binary and test binary that uses it gets
// Europe/Warsaw also on a Windows machine without Go or a zoneinfo file; without it LoadLocation fails
// there and a fallback fixed offset would be an hour off all summer.
package plzone

import (
	"time"
	_ "time/tzdata" // Europe/Warsaw on Windows, which has no tz database LoadLocation can read
)

// Warsaw is Europe/Warsaw (CET/CEST).
var Warsaw = mustLoad("Europe/Warsaw")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("plzone: embedded tz database lacks " + name + ": " + err.Error())
	}
	return loc
}
