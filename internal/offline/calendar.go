// Package offline holds the legal arithmetic of KSeF's offline modes: which days are business days
// in Poland, and by when an invoice issued offline must reach KSeF.
//
// Sources: CIRFMF/ksef-docs tryby-offline.md ("Tryby offline", 10.07.2025) and the VAT act it
// summarises (art. 106nda, 106nf, 106nh); Polish public holidays from the act on days free from work
// (ustawa o dniach wolnych od pracy), with 24 December free from 2025 on.
package offline

import (
	"time"

	"github.com/ksef-sync/ksef-sync/internal/plzone"
)

// Warsaw is the time zone every KSeF date and deadline is counted in.
var Warsaw = plzone.Warsaw

// day is a calendar date without a time.
type day struct {
	y int
	m time.Month
	d int
}

func dayOf(t time.Time) day {
	y, m, d := t.In(Warsaw).Date()
	return day{y, m, d}
}

func (d day) time() time.Time { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, Warsaw) }

func (d day) add(n int) day { return dayOf(d.time().AddDate(0, 0, n)) }

// easter returns Easter Sunday of year y (the Gregorian computus, Meeus/Jones/Butcher).
func easter(y int) day {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	dd := (h+l-7*m+114)%31 + 1
	return day{y, time.Month(month), dd}
}

// Holiday reports whether t's date (in Warsaw) is a Polish public holiday, and its name.
func Holiday(t time.Time) (string, bool) {
	d := dayOf(t)
	fixed := map[[2]int]string{
		{1, 1}: "Nowy Rok", {1, 6}: "Trzech Króli", {5, 1}: "Święto Pracy",
		{5, 3}: "Święto Konstytucji 3 Maja", {8, 15}: "Wniebowzięcie NMP", {11, 1}: "Wszystkich Świętych",
		{11, 11}: "Narodowe Święto Niepodległości", {12, 25}: "Boże Narodzenie (1. dzień)",
		{12, 26}: "Boże Narodzenie (2. dzień)",
	}
	if name, ok := fixed[[2]int{int(d.m), d.d}]; ok {
		return name, true
	}
	if d.m == time.December && d.d == 24 && d.y >= 2025 {
		return "Wigilia Bożego Narodzenia", true // free from work since 2025
	}
	e := easter(d.y)
	movable := map[day]string{
		e:         "Wielkanoc",
		e.add(1):  "Poniedziałek Wielkanocny",
		e.add(49): "Zielone Świątki",
		e.add(60): "Boże Ciało",
	}
	name, ok := movable[d]
	return name, ok
}

// BusinessDay reports whether t's date is a business day: Monday to Friday and not a public
// holiday. Saturdays do not count: a deadline that falls on one moves on (Ordynacja podatkowa
// art. 12 §5).
func BusinessDay(t time.Time) bool {
	switch t.In(Warsaw).Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	_, holiday := Holiday(t)
	return !holiday
}

// AddBusinessDays returns the date n business days after t's date (n ≥ 1), at midnight in Warsaw.
func AddBusinessDays(t time.Time, n int) time.Time {
	d := dayOf(t)
	for n > 0 {
		d = d.add(1)
		if BusinessDay(d.time()) {
			n--
		}
	}
	return d.time()
}
